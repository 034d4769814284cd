"""ListOffsets (API key 2, v0-v8): offsets by timestamp, earliest, latest and
max timestamp, through confluent_kafka, kafka-python, kcat and raw requests.

Records are produced with chosen timestamps (relative to BASE, ten minutes
ago) so that every answer is known in advance:

    offset  batch                      timestamp (BASE +)
    0       1 (uncompressed)           100
    1       2 (uncompressed)           200
    2-6     3 (gzip, one batch)        500, 300, 900, 400, 700
    7       4 (uncompressed)           800

Batch 3's max timestamp (900) is its third record, and its first record's
timestamp (500) is not the batch's: a lookup must look inside the batch.
"""

import os
import struct
import subprocess
import time
import unittest

import kwire
from broker import BrokerTestCase, gregor_only, on_kafka
from kwire import Conn

API_LIST_OFFSETS = 2
# ListOffsets v0 (old_style_offsets): Gregor keeps it, for Burrow; Kafka 4
# removed it (KIP-896) and closes the connection on it.
OLDEST_VERSION = 1 if on_kafka() else 0
V0_GREGOR_ONLY = "ListOffsets v0, which Gregor keeps for Burrow and Kafka 4 removed (KIP-896)"

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED = -1, -2, -3, -4, -5

BASE = int(time.time() * 1000) - 10 * 60 * 1000
LAYOUT = [(100,), (200,), (500, 300, 900, 400, 700), (800,)]  # per batch, in offset order
TIMESTAMPS = [ts for batch in LAYOUT for ts in batch]          # by offset
END = len(TIMESTAMPS)


def expected_for(ts):
    """(offset, timestamp) of the first record at or after ts; (-1, -1)."""
    for off, t in enumerate(TIMESTAMPS):
        if BASE + t >= ts:
            return off, BASE + t
    return -1, -1


# ---- ListOffsets on the wire, from the protocol documentation ---------------

def list_offsets_request(version, correlation_id, topics, replica_id=-1, isolation_level=0):
    """topics: [(name, [(partition, timestamp, current_leader_epoch, max_num_offsets)])]."""
    flex = version >= 6

    def tagged():
        return kwire.uvarint(0) if flex else b""

    def name(s):
        return kwire.compact_string(s) if flex else kwire.string(s)

    def partition(p):
        index, timestamp, epoch, max_num = p
        out = struct.pack(">i", index)
        if version >= 4:
            out += struct.pack(">i", epoch)
        out += struct.pack(">q", timestamp)
        if version == 0:
            out += struct.pack(">i", max_num)
        return out + tagged()

    def topic(t):
        return name(t[0]) + kwire.array(t[1], partition, flex) + tagged()

    body = struct.pack(">i", replica_id)
    if version >= 2:
        body += struct.pack(">b", isolation_level)
    body += kwire.array(topics, topic, flex) + tagged()
    header = struct.pack(">hhi", API_LIST_OFFSETS, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + tagged() + body)


def decode_list_offsets_response(version, payload):
    """{"correlation_id", "topics": {name: {partition: {...}}}, "order": [...]}"""
    r = kwire.Reader(payload)
    flex = version >= 6
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    if version >= 2:
        resp["throttle_time_ms"] = r.int32()

    def partition():
        p = {"partition_index": r.int32(), "error_code": r.int16()}
        if version == 0:
            p["old_style_offsets"] = r.array(flex, r.int64)
        else:
            p["timestamp"] = r.int64()
            p["offset"] = r.int64()
        if version >= 4:
            p["leader_epoch"] = r.int32()
        if flex:
            r.tagged_fields()
        return p

    def topic():
        name = r.string(flex)
        parts = r.array(flex, partition)
        if flex:
            r.tagged_fields()
        return name, parts

    topics = r.array(flex, topic)
    if flex:
        r.tagged_fields()
    r.done()
    resp["order"] = [(name, [p["partition_index"] for p in parts]) for name, parts in topics]
    resp["list"] = topics
    return resp


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def zigzag(n):
    return kwire.uvarint((n << 1) ^ (n >> 63))


def record_batch(base_timestamp, deltas, max_timestamp):
    """An uncompressed v2 batch, one record per timestamp delta, with the
    header's maxTimestamp as given (whatever the records say)."""
    recs = b""
    for i, d in enumerate(deltas):
        value = b"v%d" % i
        body = b"\x00" + zigzag(d) + zigzag(i) + zigzag(-1) + zigzag(len(value)) + value + zigzag(0)
        recs += zigzag(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(deltas) - 1, base_timestamp, max_timestamp, -1, -1, -1,
                            len(deltas)) + recs
    head = struct.pack(">ib", -1, 2)  # partitionLeaderEpoch, magic
    length = len(head) + 4 + len(after_crc)
    return struct.pack(">qi", 0, length) + head + struct.pack(">I", crc32c(after_crc)) + after_crc


def produce_v3_request(correlation_id, topic, batch):
    body = kwire.string(None) + struct.pack(">hi", 1, 10000)  # transactional id, acks, timeout
    body += struct.pack(">i", 1) + kwire.string(topic) + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(batch)) + batch
    return kwire.frame(struct.pack(">hhi", 0, 3, correlation_id) + kwire.string("gregor-it") + body)


def decode_produce_v3_response(payload):
    """[(partition, error code, base offset)] of the one topic."""
    r = kwire.Reader(payload)
    r.int32()  # correlation id

    def partition():
        out = (r.int32(), r.int16(), r.int64())
        r.int64()  # log append time
        return out

    (_, parts), = r.array(False, lambda: (r.string(False), r.array(False, partition)))
    r.int32()  # throttle time
    r.done()
    return parts


def read_batches(path):
    """[(base offset, last offset delta, codec, max timestamp)] of a segment file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        attrs, last_delta, _first_ts, max_ts = struct.unpack_from(">hiqq", data, pos + 21)
        out.append((base, last_delta, attrs & 7, max_ts))
        pos += 12 + length
    return out


class ListOffsetsBase(BrokerTestCase):
    OVERRIDES = {}

    @classmethod
    def after_start(cls):
        cls.produce_all()

    @classmethod
    def produce_all(cls):
        pass

    @classmethod
    def produce(cls, topic, timestamps, compression="none", batch_bytes=None):
        """One batch (when it fits) of records with these timestamps (ms,
        absolute) to partition 0; with batch_bytes, their values are random
        bytes (incompressible) adding up to that."""
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": cls.broker.bootstrap, "linger.ms": 5000,
                      "compression.type": compression})
        # Metadata first (auto-creating the topic): records produced while
        # the producer looks the topic up may leave in more than one batch.
        # Kafka creates the topic a moment after it first answers.
        with Conn(cls.broker.host, cls.broker.port) as c:
            c.wait_topic(topic)
        md = p.list_topics(topic, timeout=10)
        if md.topics[topic].error or 0 not in md.topics[topic].partitions:
            raise AssertionError("topic %s: %s" % (topic, md.topics[topic].error))
        errors = []

        def cb(err, _msg):
            if err:
                errors.append(err)

        for i, ts in enumerate(timestamps):
            value = os.urandom(batch_bytes // len(timestamps)) if batch_bytes else b"value-%d" % i
            p.produce(topic, value=value, key=b"k", partition=0, timestamp=ts, on_delivery=cb)
        left = p.flush(15)
        if left or errors:
            raise AssertionError("produce to %s: %d undelivered, errors %s" % (topic, left, errors))

    def conn(self):
        return Conn(self.broker.host, self.broker.port)

    def raw(self, version, topics, **kw):
        with self.conn() as c:
            c.send(list_offsets_request(version, 11, topics, **kw))
            resp = decode_list_offsets_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 11)
        return resp

    def raw_one(self, version, topic, timestamp, epoch=-1, max_num=1, **kw):
        resp = self.raw(version, [(topic, [(0, timestamp, epoch, max_num)])], **kw)
        (name, parts), = resp["list"]
        self.assertEqual(name, topic)
        self.assertEqual(len(parts), 1)
        return parts[0]

    def segment_path(self, topic, base=0):
        return os.path.join(self.broker.data_dir, "data", "%s-0" % topic, "%020d.log" % base)


class ListOffsetsTest(ListOffsetsBase):
    TOPIC = "lo-main"
    EMPTY = "lo-empty"

    @classmethod
    def produce_all(cls):
        for batch, codec in zip(LAYOUT, ["none", "none", "gzip", "none"]):
            cls.produce(cls.TOPIC, [BASE + t for t in batch], codec)
        from confluent_kafka.admin import AdminClient
        # Auto-create the empty topic through Metadata.
        AdminClient({"bootstrap.servers": cls.broker.bootstrap}).list_topics(cls.EMPTY, timeout=10)
        with Conn(cls.broker.host, cls.broker.port) as c:
            c.wait_topic(cls.EMPTY)

    def test_layout(self):
        """The batches are what the other tests assume."""
        batches = read_batches(self.segment_path(self.TOPIC))
        self.assertEqual([(b, d, c) for b, d, c, _ in batches], [(0, 0, 0), (1, 0, 0), (2, 4, 1), (7, 0, 0)])
        self.assertEqual([m for _, _, _, m in batches], [BASE + max(b) for b in LAYOUT])

    def targets(self):
        ts = {BASE + t + d for t in TIMESTAMPS for d in (-1, 0, 1)}
        return sorted(ts | {0, BASE, BASE + 10 ** 6})

    def test_confluent_kafka_offsets_for_times(self):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "lo-ck"})
        try:
            for ts in self.targets():
                with self.subTest(ts=ts):
                    r, = c.offsets_for_times([TopicPartition(self.TOPIC, 0, ts)], timeout=10)
                    self.assertIsNone(r.error)
                    self.assertEqual(r.offset, expected_for(ts)[0])
        finally:
            c.close()

    def test_confluent_kafka_watermarks(self):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "lo-wm"})
        try:
            self.assertEqual(c.get_watermark_offsets(TopicPartition(self.TOPIC, 0), timeout=10, cached=False),
                             (0, END))
            self.assertEqual(c.get_watermark_offsets(TopicPartition(self.EMPTY, 0), timeout=10, cached=False),
                             (0, 0))
        finally:
            c.close()

    def test_kafka_python(self):
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition
        kc = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, api_version_auto_timeout_ms=10000)
        try:
            tp, empty = TopicPartition(self.TOPIC, 0), TopicPartition(self.EMPTY, 0)
            self.assertEqual(kc.beginning_offsets([tp, empty]), {tp: 0, empty: 0})
            self.assertEqual(kc.end_offsets([tp, empty]), {tp: END, empty: 0})
            for ts in self.targets():
                with self.subTest(ts=ts):
                    got = kc.offsets_for_times({tp: ts})[tp]
                    off, t = expected_for(ts)
                    if off < 0:
                        self.assertIsNone(got)
                    else:
                        self.assertEqual((got.offset, got.timestamp), (off, t))
        finally:
            kc.close()

    def test_kcat_query(self):
        for ts in (BASE + 50, BASE + 250, BASE + 600, BASE + 850, BASE + 901):
            with self.subTest(ts=ts):
                p = subprocess.run(["kcat", "-b", self.broker.bootstrap, "-m", "10", "-Q", "-t",
                                    "%s:0:%d" % (self.TOPIC, ts)], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.strip(), "%s [0] offset %d" % (self.TOPIC, expected_for(ts)[0]))

    def test_every_version(self):
        """Earliest, latest and a timestamp at v1-v8, with leader_epoch from v4."""
        for v in range(1, 9):
            for target, want in ((EARLIEST, (0, -1)), (LATEST, (END, -1)),
                                 (BASE + 600, expected_for(BASE + 600)), (BASE + 901, (-1, -1))):
                with self.subTest(version=v, target=target):
                    p = self.raw_one(v, self.TOPIC, target)
                    self.assertEqual(p["error_code"], NONE)
                    self.assertEqual((p["offset"], p["timestamp"]), want)
                    if v >= 4:
                        self.assertEqual(p["leader_epoch"], 0 if want[0] >= 0 else -1)
                    if v >= 2:
                        p = self.raw_one(v, self.TOPIC, target, isolation_level=1)
                        self.assertEqual((p["offset"], p["timestamp"]), want, "read_committed")

    def test_max_timestamp(self):
        """-3 (v7+): the record with the largest timestamp, inside its batch
        (offset 4, not the batch's last offset 6)."""
        for v in (7, 8):
            p = self.raw_one(v, self.TOPIC, MAX_TIMESTAMP)
            self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]),
                             (NONE, 4, BASE + 900, 0))
            p = self.raw_one(v, self.EMPTY, MAX_TIMESTAMP)
            self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]), (NONE, -1, -1, -1))

    def test_earliest_local_and_latest_tiered(self):
        p = self.raw_one(8, self.TOPIC, EARLIEST_LOCAL)
        self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]), (NONE, 0, -1, 0))
        # LATEST_TIERED came with v9, EARLIEST_LOCAL with v8, MAX_TIMESTAMP
        # with v7: below, Kafka answers UNSUPPORTED_VERSION for the partition
        # (before it even looks the topic up).
        for v, target in ((8, LATEST_TIERED), (7, EARLIEST_LOCAL), (6, MAX_TIMESTAMP), (1, MAX_TIMESTAMP)):
            for topic in (self.TOPIC, "lo-no-such-topic"):
                with self.subTest(version=v, target=target, topic=topic):
                    p = self.raw_one(v, topic, target)
                    self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p.get("leader_epoch", -1)),
                                     (UNSUPPORTED_VERSION, -1, -1, -1))

    def test_empty_topic(self):
        for target in (EARLIEST, LATEST):
            p = self.raw_one(5, self.EMPTY, target)
            self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]), (NONE, 0, -1, 0))
        p = self.raw_one(5, self.EMPTY, 0)
        self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]), (NONE, -1, -1, -1))

    @gregor_only(V0_GREGOR_ONLY)
    def test_v0_old_style_offsets(self):
        cases = [
            (LATEST, 1, [END]),              # what Burrow asks
            (LATEST, 10, [END, 0]),
            (EARLIEST, 1, [0]),
            (EARLIEST, 5, [0]),
            (LATEST, 0, []),
            # Kafka 3.9 (legacyFetchOffsetsBefore) goes by the segment file's
            # modification time, not the records' timestamps: the one segment
            # was written just now.
            (BASE + 10 ** 9, 5, [END, 0]),   # after now: as latest
            (int(time.time() * 1000) - 60000, 5, []),  # a minute ago: before the segment's last write
            (BASE + 900, 5, []),
            (MAX_TIMESTAMP, 5, []),
        ]
        for target, max_num, want in cases:
            with self.subTest(target=target, max_num=max_num):
                p = self.raw_one(0, self.TOPIC, target, max_num=max_num)
                self.assertEqual((p["error_code"], p["old_style_offsets"]), (NONE, want))
        p = self.raw_one(0, self.EMPTY, LATEST, max_num=10)
        self.assertEqual((p["error_code"], p["old_style_offsets"]), (NONE, [0]))
        p = self.raw_one(0, "lo-no-such-topic", LATEST)
        self.assertEqual((p["error_code"], p["old_style_offsets"]), (UNKNOWN_TOPIC_OR_PARTITION, []))

    def test_unknown_topic_or_partition(self):
        resp = self.raw(5, [("lo-no-such-topic", [(0, LATEST, -1, 1)]), (self.TOPIC, [(1, LATEST, -1, 1)])])
        for name, parts in resp["list"]:
            with self.subTest(topic=name):
                p, = parts
                self.assertEqual((p["error_code"], p["offset"], p["timestamp"], p["leader_epoch"]),
                                 (UNKNOWN_TOPIC_OR_PARTITION, -1, -1, -1))

    def test_current_leader_epoch(self):
        for epoch, err in ((-1, NONE), (0, NONE), (1, UNKNOWN_LEADER_EPOCH), (-2, FENCED_LEADER_EPOCH)):
            with self.subTest(epoch=epoch):
                p = self.raw_one(4, self.TOPIC, LATEST, epoch=epoch)
                self.assertEqual(p["error_code"], err)
                self.assertEqual(p["offset"], END if err == NONE else -1)

    def test_duplicate_partitions(self):
        """v1+: one answer per topic and partition, however often the request
        names them (Kafka merges the entries of a topic, in no particular
        order); a repeated partition gets INVALID_REQUEST, whichever topic
        entry it is in; the others are answered."""
        topics = [(self.TOPIC, [(0, LATEST, -1, 1)]),
                  (self.EMPTY, [(0, LATEST, -1, 1)]),
                  (self.TOPIC, [(0, EARLIEST, -1, 1), (1, LATEST, -1, 1)])]
        resp = self.raw(6, topics)
        self.assertEqual(sorted(name for name, _ in resp["list"]), sorted([self.TOPIC, self.EMPTY]))
        got = {(name, p["partition_index"]): p for name, parts in resp["list"] for p in parts}
        self.assertEqual(len(got), sum(len(parts) for _, parts in resp["list"]))
        self.assertEqual({k: p["error_code"] for k, p in got.items()},
                         {(self.TOPIC, 0): INVALID_REQUEST, (self.EMPTY, 0): NONE,
                          (self.TOPIC, 1): UNKNOWN_TOPIC_OR_PARTITION})
        dup = got[(self.TOPIC, 0)]
        self.assertEqual((dup["offset"], dup["timestamp"], dup["leader_epoch"]), (-1, -1, -1))
        for v in (1, 8):
            resp = self.raw(v, [(self.TOPIC, [(0, LATEST, -1, 1), (0, EARLIEST, -1, 1)])])
            self.assertEqual([(name, [(p["partition_index"], p["error_code"]) for p in parts])
                              for name, parts in resp["list"]], [(self.TOPIC, [(0, INVALID_REQUEST)])])

    @gregor_only(V0_GREGOR_ONLY)
    def test_duplicate_partitions_v0(self):
        # v0 has no such check.
        resp = self.raw(0, [(self.TOPIC, [(0, LATEST, -1, 1), (0, EARLIEST, -1, 1)])])
        self.assertEqual([(p["error_code"], p["old_style_offsets"]) for p in resp["list"][0][1]],
                         [(NONE, [END]), (NONE, [0])])

    def test_follower_replica_id(self):
        p = self.raw_one(3, self.TOPIC, LATEST, replica_id=1)
        self.assertEqual((p["error_code"], p["offset"]), (NONE, END))

    def test_producer_max_timestamp_rewritten(self):
        """A producer that leaves maxTimestamp at -1 (Sarama 1.22 does): the
        broker stores the largest record timestamp, as Kafka does, so that
        lookups by timestamp find the batch."""
        topic = "lo-no-max-timestamp"
        with self.conn() as c:
            c.wait_topic(topic)
            c.send(produce_v3_request(5, topic, record_batch(BASE, [10, 30, 20], -1)))
            self.assertEqual(decode_produce_v3_response(c.recv_frame()), [(0, NONE, 0)])
        (_, _, _, max_ts), = read_batches(self.segment_path(topic))
        self.assertEqual(max_ts, BASE + 30)
        for target, want in ((BASE, (0, BASE + 10)), (BASE + 11, (1, BASE + 30)), (BASE + 30, (1, BASE + 30)),
                             (BASE + 31, (-1, -1)), (MAX_TIMESTAMP, (1, BASE + 30))):
            with self.subTest(target=target):
                p = self.raw_one(7, topic, target)
                self.assertEqual((p["error_code"], p["offset"], p["timestamp"]), (NONE,) + want)

    def test_pipelined_requests(self):
        with self.conn() as c:
            for cid, v in enumerate(range(OLDEST_VERSION, 9)):
                c.send(list_offsets_request(v, cid, [(self.TOPIC, [(0, EARLIEST, -1, 1)])]))
            for cid, v in enumerate(range(OLDEST_VERSION, 9)):
                resp = decode_list_offsets_response(v, c.recv_frame())
                self.assertEqual(resp["correlation_id"], cid)


class ListOffsetsSegmentsTest(ListOffsetsBase):
    """Small segments: every batch is a segment of its own, so that searches
    cross segments and the max timestamp lies in a middle one. Segments are
    1 MiB (the least Kafka 4 accepts), each batch over half of that."""
    OVERRIDES = {"log.segment.bytes": str(1 << 20)}
    TOPIC = "lo-segments"
    # per batch; the largest timestamp is in the second batch
    BATCHES = [(100, 200), (300, 950, 400), (500,), (600, 700)]

    @classmethod
    def produce_all(cls):
        for i, batch in enumerate(cls.BATCHES):
            cls.produce(cls.TOPIC, [BASE + t for t in batch], "lz4" if i % 2 else "none", batch_bytes=600000)

    def test_segments(self):
        d = os.path.dirname(self.segment_path(self.TOPIC))
        logs = sorted(f for f in os.listdir(d) if f.endswith(".log"))
        self.assertEqual(logs, ["%020d.log" % o for o in (0, 2, 5, 6)])

    def test_by_timestamp(self):
        stamps = [t for b in self.BATCHES for t in b]
        for t in sorted(set(stamps)) + [350, 450, 951]:
            with self.subTest(t=t):
                want = next(((o, BASE + s) for o, s in enumerate(stamps) if s >= t), (-1, -1))
                p = self.raw_one(8, self.TOPIC, BASE + t)
                self.assertEqual((p["offset"], p["timestamp"]), want)

    def test_max_timestamp(self):
        p = self.raw_one(7, self.TOPIC, MAX_TIMESTAMP)
        self.assertEqual((p["offset"], p["timestamp"]), (3, BASE + 950))

    def test_latest_earliest(self):
        self.assertEqual(self.raw_one(8, self.TOPIC, LATEST)["offset"], 8)
        self.assertEqual(self.raw_one(8, self.TOPIC, EARLIEST)["offset"], 0)
        if not on_kafka():  # ListOffsets v0: Gregor only (see V0_GREGOR_ONLY)
            # Kafka 3.9's legacyFetchOffsetsBefore: the log end offset, then
            # the segments' base offsets (0, 2, 5, 6), newest first.
            self.assertEqual(self.raw_one(0, self.TOPIC, LATEST, max_num=3)["old_style_offsets"], [8, 6, 5])
            self.assertEqual(self.raw_one(0, self.TOPIC, EARLIEST, max_num=3)["old_style_offsets"], [0])


class ListOffsetsLogAppendTimeTest(ListOffsetsBase):
    """LogAppendTime: every record of a batch has the batch's max timestamp
    (the time of the append), whatever the producer set."""
    OVERRIDES = {"log.message.timestamp.type": "LogAppendTime"}
    TOPIC = "lo-append-time"

    @classmethod
    def produce_all(cls):
        cls.produce(cls.TOPIC, [BASE + 5, BASE + 1, BASE + 3], "gzip")
        cls.t1 = int(time.time() * 1000) + 5  # strictly after the first append
        while int(time.time() * 1000) <= cls.t1:
            time.sleep(0.001)
        cls.produce(cls.TOPIC, [BASE + 1, BASE + 2])

    def test_append_times(self):
        (b0, _, _, ts0), (b1, _, _, ts1) = read_batches(self.segment_path(self.TOPIC))
        self.assertEqual((b0, b1), (0, 3))
        self.assertLess(ts0, ts1)
        for target, want in ((0, (0, ts0)), (BASE + 5, (0, ts0)), (ts0, (0, ts0)), (ts0 + 1, (3, ts1)),
                             (ts1, (3, ts1)), (ts1 + 1, (-1, -1)), (MAX_TIMESTAMP, (3, ts1))):
            with self.subTest(target=target):
                p = self.raw_one(7, self.TOPIC, target)
                self.assertEqual((p["error_code"], p["offset"], p["timestamp"]), (NONE,) + want)


if __name__ == "__main__":
    unittest.main()
