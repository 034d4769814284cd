"""The newest request versions Kafka 4.4 defines, with raw requests, against
Gregor and Kafka 4.4 alike (GREGOR_TEST_TARGET=kafka is where the expected
answers come from):

- ApiVersions v5 (KIP-1242): the cluster and node id the client means to
  reach, both or neither (INVALID_REQUEST), another cluster or node
  REBOOTSTRAP_REQUIRED, each with an empty table;
- ListOffsets v9-v11: LATEST_TIERED (-5, v9+) and EARLIEST_PENDING_UPLOAD
  (-6, v11+) answer "no offset" without tiered storage, UNSUPPORTED_VERSION
  below the version that brought them;
- Produce v13 (KIP-516): topics named by id; an unknown id is
  UNKNOWN_TOPIC_ID; v12 as v11;
- ListTransactions v2 (KIP-1152): the transactional id pattern, matched
  against the whole id; an invalid one is INVALID_REGULAR_EXPRESSION.
"""

import struct
import uuid

import kwire
from broker import BrokerTestCase, wait_until
from kwire import Conn, compact_string, uvarint
from test_data import build_batch, produce_confluent

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
UNKNOWN_TOPIC_ID = 100
INVALID_REGULAR_EXPRESSION = 128
REBOOTSTRAP_REQUIRED = 129

API_PRODUCE = 0
API_LIST_OFFSETS = 2
API_METADATA = 3
API_API_VERSIONS = 18
API_LIST_TRANSACTIONS = 66

LATEST_TIERED = -5
EARLIEST_PENDING_UPLOAD = -6

NODE_ID = 4
DEADLINE = 30.0


def header(api, version, cid, flexible=True):
    h = struct.pack(">hhi", api, version, cid) + kwire.string("gregor-new")
    return h + (uvarint(0) if flexible else b"")


def compact_nullable(s):
    return uvarint(0) if s is None else compact_string(s)


def compact_array(items):
    return uvarint(len(items) + 1) + b"".join(items)


class NewVersionsTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)
    TOPIC = "nv-topic"

    @classmethod
    def after_start(cls):
        produce_confluent(cls.broker.bootstrap, cls.TOPIC, [{"partition": 0, "value": b"v%d" % i} for i in range(3)])

    def roundtrip(self, payload, flexible_header=True):
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(kwire.frame(payload))
            raw = c.recv_frame()
        r = kwire.Reader(raw)
        self.assertEqual(r.int32(), 7, "correlation id")
        if flexible_header:
            r.tagged_fields()
        return r

    def metadata_v12(self, topic):
        """(cluster id, topic id) from Metadata v12."""
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(kwire.metadata_request(12, 3, topics=[topic]))
            resp = kwire.decode_metadata_response(12, c.recv_frame())
        t, = resp["topics"]
        self.assertEqual(t["error_code"], NONE)
        return resp["cluster_id"], t["topic_id"]

    # ---- ApiVersions v5 ---------------------------------------------------

    def api_versions_v5(self, cluster_id, node_id):
        body = compact_string("gregor-it") + compact_string("1.0") + compact_nullable(cluster_id)
        body += struct.pack(">i", node_id) + uvarint(0)
        r = self.roundtrip(header(API_API_VERSIONS, 5, 7) + body, flexible_header=False)
        err = r.int16()
        keys = r.array(True, lambda: (r.int16(), r.int16(), r.int16(), r.tagged_fields()))
        return err, {k: (lo, hi) for k, lo, hi, _ in keys}

    def test_api_versions_v5(self):
        cluster, _ = self.metadata_v12(self.TOPIC)
        other = "AAAAAAAAAAAAAAAAAAAAAA"
        cases = [
            (None, -1, NONE),                      # neither: the table
            (cluster, NODE_ID, NONE),              # this cluster and node
            (None, NODE_ID, INVALID_REQUEST),      # one without the other
            (cluster, -1, INVALID_REQUEST),
            (other, NODE_ID, REBOOTSTRAP_REQUIRED),
            (cluster, NODE_ID + 1, REBOOTSTRAP_REQUIRED),
        ]
        for cid, nid, want in cases:
            with self.subTest(cluster_id=cid, node_id=nid):
                err, table = self.api_versions_v5(cid, nid)
                self.assertEqual(err, want)
                if want == NONE:
                    self.assertEqual(table[API_API_VERSIONS][1], 5)
                else:
                    self.assertEqual(table, {}, "an error answer carries an empty table")

    # ---- ListOffsets v9-v11 -----------------------------------------------

    def list_offsets(self, version, timestamp, topic=None):
        part = struct.pack(">iiq", 0, -1, timestamp) + uvarint(0)
        t = compact_string(topic or self.TOPIC) + compact_array([part]) + uvarint(0)
        body = struct.pack(">ib", -1, 0) + compact_array([t])
        if version >= 10:
            body += struct.pack(">i", 5000)  # timeout_ms
        body += uvarint(0)
        r = self.roundtrip(header(API_LIST_OFFSETS, version, 7) + body)
        r.int32()  # throttle

        def partition():
            p = (r.int32(), r.int16(), r.int64(), r.int64(), r.int32())
            r.tagged_fields()
            return p

        def topic_():
            name = r.string(True)
            parts = r.array(True, partition)
            r.tagged_fields()
            return name, parts

        (_, (p,)), = r.array(True, topic_)
        r.tagged_fields()
        r.done()
        return p[1:]  # error, timestamp, offset, leader epoch

    def test_list_offsets_tiered_timestamps(self):
        none = (NONE, -1, -1, -1)
        unsupported = (UNSUPPORTED_VERSION, -1, -1, -1)
        cases = [
            (8, LATEST_TIERED, unsupported),
            (9, LATEST_TIERED, none),
            (11, LATEST_TIERED, none),
            (9, EARLIEST_PENDING_UPLOAD, unsupported),
            (10, EARLIEST_PENDING_UPLOAD, unsupported),
            (11, EARLIEST_PENDING_UPLOAD, none),
            (11, -1, (NONE, -1, 3, 0)),  # latest, as before
            (10, -2, (NONE, -1, 0, 0)),
        ]
        for version, ts, want in cases:
            with self.subTest(version=version, timestamp=ts):
                self.assertEqual(self.list_offsets(version, ts), want)

    # ---- Produce v12-v13 --------------------------------------------------

    def produce(self, version, topic_or_id, value):
        records = build_batch([value])
        part = struct.pack(">i", 0) + uvarint(len(records) + 1) + records + uvarint(0)
        name = topic_or_id if version >= 13 else compact_string(topic_or_id)
        t = name + compact_array([part]) + uvarint(0)
        body = uvarint(0) + struct.pack(">hi", -1, 5000) + compact_array([t]) + uvarint(0)
        r = self.roundtrip(header(API_PRODUCE, version, 7) + body)

        def partition():
            p = (r.int32(), r.int16(), r.int64())
            r.int64(), r.int64()  # log append time, log start offset
            r.array(True, lambda: (r.int32(), r.string(True), r.tagged_fields()))
            r.string(True)
            r.tagged_fields()
            return p

        def topic_():
            key = r.uuid() if version >= 13 else r.string(True)
            parts = r.array(True, partition)
            r.tagged_fields()
            return key, parts

        (key, (p,)), = r.array(True, topic_)
        r.int32()  # throttle
        r.tagged_fields()
        r.done()
        return key, p[1], p[2]

    def test_produce_v13_by_topic_id(self):
        _, tid = self.metadata_v12(self.TOPIC)
        before = self.list_offsets(11, -1)[2]
        key, err, base = self.produce(13, tid, b"by-id")
        self.assertEqual((key, err, base), (tid, NONE, before))
        key, err, base = self.produce(12, self.TOPIC, b"v12")
        self.assertEqual((key, err, base), (self.TOPIC, NONE, before + 1))
        self.assertEqual(self.list_offsets(11, -1)[2], before + 2)

    def test_produce_v13_unknown_topic_id(self):
        unknown = uuid.uuid4().bytes
        key, err, base = self.produce(13, unknown, b"nowhere")
        self.assertEqual((key, err, base), (unknown, UNKNOWN_TOPIC_ID, -1))

    # ---- ListTransactions v2 ----------------------------------------------

    def list_transactions(self, pattern):
        body = compact_array([]) + compact_array([]) + struct.pack(">q", -1) + compact_nullable(pattern)
        r = self.roundtrip(header(API_LIST_TRANSACTIONS, 2, 7) + body + uvarint(0))
        r.int32()  # throttle
        err = r.int16()
        r.array(True, lambda: r.string(True))  # unknown state filters

        def state():
            tid = r.string(True)
            r.int64(), r.string(True)
            r.tagged_fields()
            return tid

        ids = r.array(True, state)
        r.tagged_fields()
        r.done()
        return err, sorted(i for i in ids if i.startswith("nv-"))

    def test_list_transactions_pattern(self):
        from confluent_kafka import Producer
        for tid in ("nv-abc-1", "nv-xyz-2"):
            p = Producer({"bootstrap.servers": self.broker.bootstrap, "transactional.id": tid})
            p.init_transactions(DEADLINE)
            p.begin_transaction()
            p.produce(self.TOPIC, b"x", partition=0)
            p.commit_transaction(DEADLINE)
        both = ["nv-abc-1", "nv-xyz-2"]
        wait_until(lambda: self.list_transactions(None)[1] == both, DEADLINE, "both transactions listed")
        cases = [
            (None, NONE, both),
            ("", NONE, both),
            ("nv-abc.*", NONE, ["nv-abc-1"]),
            ("nv-abc", NONE, []),        # the whole id must match
            ("abc", NONE, []),
            ("nv-.*-[12]", NONE, both),
            ("[", INVALID_REGULAR_EXPRESSION, []),
        ]
        for pattern, err, ids in cases:
            with self.subTest(pattern=pattern):
                self.assertEqual(self.list_transactions(pattern), (err, ids))
