"""Raw-socket protocol tests: ApiVersions and Metadata at every version the
broker advertises, error codes, header versions and pipelining."""

import struct
import unittest

import kwire
from broker import BrokerTestCase, on_kafka

NODE_ID = 3

# The exact ApiVersions table: {api key: (min version, max version)}.
# UPDATE THIS as APIs are implemented: it must list everything the broker
# advertises and nothing else.
EXPECTED_API_TABLE = {
    0: (0, 13),   # Produce (v0-2: message formats v0/v1, up-converted as Kafka 3.9 did)
    1: (0, 18),   # Fetch (v0-3: down-converted, as Kafka 3.9 did)
    2: (0, 11),   # ListOffsets
    3: (0, 13),   # Metadata
    8: (0, 10),   # OffsetCommit (v0 answered UNSUPPORTED_VERSION per partition, as Kafka 3.9 in KRaft mode)
    9: (0, 10),   # OffsetFetch (v0 likewise)
    10: (0, 6),   # FindCoordinator
    11: (0, 9),   # JoinGroup
    12: (0, 4),   # Heartbeat
    13: (0, 5),   # LeaveGroup
    14: (0, 5),   # SyncGroup
    15: (0, 6),   # DescribeGroups
    16: (0, 5),   # ListGroups
    18: (0, 5),   # ApiVersions
    19: (0, 7),   # CreateTopics (v0-1 removed in Kafka 4, served as Kafka 3.9)
    20: (0, 6),   # DeleteTopics (v0 likewise)
    21: (0, 2),   # DeleteRecords
    22: (0, 5),   # InitProducerId
    23: (0, 4),   # OffsetForLeaderEpoch (v0-1 removed in Kafka 4, served as Kafka 3.9)
    24: (0, 5),   # AddPartitionsToTxn
    25: (0, 4),   # AddOffsetsToTxn
    26: (0, 5),   # EndTxn (v5: transaction version 2, KIP-890 part 2)
    27: (0, 2),   # WriteTxnMarkers
    28: (0, 6),   # TxnOffsetCommit (v5+: transaction version 2; v6: topic ids)
    32: (0, 4),   # DescribeConfigs (v0 likewise)
    33: (0, 2),   # AlterConfigs (v0 likewise)
    35: (0, 5),   # DescribeLogDirs (v0 likewise)
    37: (0, 3),   # CreatePartitions
    42: (0, 3),   # DeleteGroups
    43: (0, 2),   # ElectLeaders
    44: (0, 1),   # IncrementalAlterConfigs
    45: (0, 1),   # AlterPartitionReassignments
    46: (0, 0),   # ListPartitionReassignments
    47: (0, 0),   # OffsetDelete
    48: (0, 1),   # DescribeClientQuotas
    49: (0, 1),   # AlterClientQuotas
    60: (0, 2),   # DescribeCluster
    61: (0, 0),   # DescribeProducers
    65: (0, 0),   # DescribeTransactions
    66: (0, 2),   # ListTransactions
    75: (0, 0),   # DescribeTopicPartitions
}

# Kafka 4.4's oldest version where Gregor advertises older ones (Kafka 3.9's
# oldest, which KIP-896 removed from Kafka 4).
KAFKA_44_OLDEST = {1: 4, 2: 1, 8: 2, 9: 1, 19: 2, 20: 1, 23: 2, 27: 1, 32: 1, 35: 1}

# Kafka error codes used below.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
UNKNOWN_SERVER_ERROR = -1
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
UNKNOWN_TOPIC_ID = 100


class ProtocolTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    def assert_table(self, resp):
        """Gregor advertises exactly EXPECTED_API_TABLE. Kafka advertises
        more APIs, and newer versions of some: every API of the table, from
        the same oldest version (but KAFKA_44_OLDEST) up to at least the
        newest Gregor implements."""
        if on_kafka():
            kafka = resp["api_keys"]
            for key, (lo, hi) in EXPECTED_API_TABLE.items():
                self.assertIn(key, kafka)
                self.assertEqual(kafka[key][0], KAFKA_44_OLDEST.get(key, lo), "api key %d" % key)
                self.assertGreaterEqual(kafka[key][1], hi, "api key %d" % key)
        else:
            self.assertEqual(resp["api_keys"], EXPECTED_API_TABLE)
        keys = [k for k, _, _ in resp["api_keys_list"]]
        self.assertEqual(keys, sorted(keys), "api keys are listed in key order")

    def own_api_versions_range(self):
        """The broker's (min, max) of ApiVersions itself."""
        with self.conn() as c:
            return c.api_versions(3)["api_keys"][18]

    def assert_this_broker(self, resp, version):
        b = {"node_id": NODE_ID, "host": self.broker.host, "port": self.broker.port}
        if version >= 1:
            b["rack"] = None
        self.assertEqual(resp["brokers"], [b])
        if version >= 1:
            self.assertEqual(resp["controller_id"], NODE_ID)
        if version >= 2:
            self.assertEqual(resp["cluster_id"], self.broker.cluster_id())

    # ---- ApiVersions ----------------------------------------------------------

    def test_api_versions_every_version(self):
        with self.conn() as c:
            for v in range(0, 5):
                with self.subTest(version=v):
                    resp = c.api_versions(v, correlation_id=100 + v)
                    self.assertEqual(resp["correlation_id"], 100 + v)
                    self.assertEqual(resp["error_code"], NONE)
                    self.assert_table(resp)
                    if v >= 1:
                        self.assertEqual(resp["throttle_time_ms"], 0)

    def test_api_versions_v3_response_header_is_v0(self):
        # ApiVersions responses always use header v0 (no tagged-field byte
        # after the correlation id), even for flexible versions.
        with self.conn() as c:
            c.send(kwire.api_versions_request(3, 0x01020304))
            raw = c.recv_frame()
        self.assertEqual(raw[:4], b"\x01\x02\x03\x04")
        self.assertEqual(raw[4:6], b"\x00\x00", "error_code must follow the correlation id directly")
        resp = kwire.decode_api_versions_response(3, raw)  # strict: no byte left over
        self.assert_table(resp)
        n = kwire.uvarint(len(resp["api_keys_list"]) + 1)
        self.assertEqual(raw[6:6 + len(n)], n, "compact array length of the API table")

    def test_api_versions_unknown_version(self):
        # A version newer than the broker knows: a v0-format answer with
        # UNSUPPORTED_VERSION and, as the table, only ApiVersions' own
        # versions (Kafka's ApiVersionsRequest.getErrorResponse), so the
        # client can retry with one the broker knows.
        own = self.own_api_versions_range()
        with self.conn() as c:
            c.send(kwire.api_versions_request(127, 55))
            resp = kwire.decode_api_versions_response(0, c.recv_frame())
            self.assertEqual(resp["correlation_id"], 55)
            self.assertEqual(resp["error_code"], UNSUPPORTED_VERSION)
            self.assertEqual(resp["api_keys"], {18: own})
            # The connection stays usable.
            self.assertEqual(c.api_versions(3, correlation_id=56)["error_code"], NONE)

    def test_api_versions_negative_version(self):
        # Kafka answers any ApiVersions version it does not support, negative
        # ones included (RequestContext.isUnsupportedApiVersionsRequest is
        # !isVersionSupported), with a v0 response carrying error 35 and
        # ApiVersions' own versions.
        own = self.own_api_versions_range()
        with self.conn() as c:
            c.send(kwire.frame(struct.pack(">hhi", 18, -1, 66) + kwire.string("x")))
            resp = kwire.decode_api_versions_response(0, c.recv_frame())
        self.assertEqual((resp["correlation_id"], resp["error_code"]), (66, UNSUPPORTED_VERSION))
        self.assertEqual(resp["api_keys"], {18: own})

    def test_api_versions_null_client_id(self):
        with self.conn() as c:
            for v in (0, 3):
                resp = c.api_versions(v, correlation_id=v, client_id=None)
                self.assertEqual((resp["correlation_id"], resp["error_code"]), (v, NONE))

    def test_api_versions_invalid_software_name(self):
        with self.conn() as c:
            resp = c.api_versions(3, software_name="-bad")
            self.assertEqual((resp["error_code"], resp["api_keys"]), (INVALID_REQUEST, {}))
            resp = c.api_versions(3, software_version="1.0-")
            self.assertEqual((resp["error_code"], resp["api_keys"]), (INVALID_REQUEST, {}))
            resp = c.api_versions(3, software_name="ok-name.2", software_version="2.0.2")
            self.assertEqual(resp["error_code"], NONE)
            self.assert_table(resp)

    # ---- Metadata -------------------------------------------------------------

    def test_metadata_every_version_all_topics(self):
        # v0 cannot send null: an empty list means all topics there.
        with self.conn() as c:
            for v in range(0, 14):
                with self.subTest(version=v):
                    resp = c.metadata(v, correlation_id=v, topics=[] if v == 0 else None)
                    self.assertEqual(resp["correlation_id"], v)
                    self.assert_this_broker(resp, v)
                    self.assertEqual(resp["topics"], [])

    # No topic exists yet, so "all topics" and "no topics" both answer an
    # empty list; these become distinguishable once topics can be created.
    def test_metadata_v0_empty_list_is_all(self):
        with self.conn() as c:
            resp = c.metadata(0, topics=[])
        self.assert_this_broker(resp, 0)
        self.assertEqual(resp["topics"], [])

    def test_metadata_v1_null_is_all(self):
        with self.conn() as c:
            resp = c.metadata(1, topics=None)
        self.assert_this_broker(resp, 1)
        self.assertEqual(resp["topics"], [])

    def test_metadata_v1_empty_is_none(self):
        with self.conn() as c:
            resp = c.metadata(1, topics=[])
        self.assert_this_broker(resp, 1)
        self.assertEqual(resp["topics"], [])

    def test_metadata_v4_topic_errors(self):
        with self.conn() as c:
            resp = c.metadata(4, topics=["no-such-topic", "bad/name"], allow_auto_topic_creation=False)
        self.assert_this_broker(resp, 4)
        # In no particular order: Kafka answers in the order of a hash set.
        got = sorted((t["name"], t["error_code"], t["partitions"]) for t in resp["topics"])
        self.assertEqual(got, [("bad/name", INVALID_TOPIC_EXCEPTION, []),
                               ("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, [])])

    def test_metadata_v9_flexible(self):
        with self.conn() as c:
            resp = c.metadata(9, correlation_id=909, topics=None)
            self.assertEqual(resp["correlation_id"], 909)
            self.assert_this_broker(resp, 9)
            self.assertEqual(resp["topics"], [])
            resp = c.metadata(9, topics=["no-such-topic"])
            self.assertEqual([(t["name"], t["error_code"]) for t in resp["topics"]],
                             [("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION)])

    def test_metadata_v12(self):
        tid = bytes(range(1, 17))
        with self.conn() as c:
            resp = c.metadata(12, correlation_id=1212, topics=None)
            self.assertEqual(resp["correlation_id"], 1212)
            self.assert_this_broker(resp, 12)
            self.assertEqual(resp["topics"], [])
            resp = c.metadata(12, topics=["no-such-topic"], topic_ids=[bytes(16)])
            got = [(t["name"], t["error_code"], t["topic_id"]) for t in resp["topics"]]
            self.assertEqual(got, [("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, bytes(16))])
            # Once any entry has a topic id, Kafka looks topics up by id
            # only: an entry with a name and the zero id is not answered.
            resp = c.metadata(12, topics=["no-such-topic", None], topic_ids=[bytes(16), tid])
        got = [(t["name"], t["error_code"], t["topic_id"]) for t in resp["topics"]]
        self.assertEqual(got, [(None, UNKNOWN_TOPIC_ID, tid)])

    def test_metadata_v13(self):
        # v13 adds a top-level error code: 0, but where Kafka refuses the
        # whole request (MetadataRequest.getErrorResponse puts the error
        # there too).
        tid = bytes(range(1, 17))
        with self.conn() as c:
            resp = c.metadata(13, correlation_id=1313, topics=None)
            self.assertEqual(resp["correlation_id"], 1313)
            self.assert_this_broker(resp, 13)
            self.assertEqual((resp["topics"], resp["error_code"]), ([], NONE))
            # Authorized operations, when asked for: with no authorizer
            # every operation on a topic (READ, WRITE, CREATE, DELETE,
            # ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS) for a topic
            # answered by name, known or not; the default for an unknown id.
            resp = c.metadata(13, topics=["no-such-topic", "bad/name"], include_topic_authorized_operations=True)
            self.assertEqual(resp["error_code"], NONE)
            got = sorted((t["name"], t["error_code"], t["topic_authorized_operations"]) for t in resp["topics"])
            self.assertEqual(got, [("bad/name", INVALID_TOPIC_EXCEPTION, 3576),
                                   ("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, 3576)])
            resp = c.metadata(13, topics=["no-such-topic"])
            self.assertEqual([t["topic_authorized_operations"] for t in resp["topics"]], [-2**31])
            resp = c.metadata(13, topics=[None], topic_ids=[tid], include_topic_authorized_operations=True)
            self.assertEqual(resp["error_code"], NONE)
            self.assertEqual([(t["name"], t["error_code"], t["topic_authorized_operations"]) for t in resp["topics"]],
                             [(None, UNKNOWN_TOPIC_ID, -2**31)])
            # is_internal by name, for a topic that does not exist too.
            resp = c.metadata(13, topics=["__transaction_state", "__foo"])
            self.assertEqual(sorted((t["name"], t["is_internal"]) for t in resp["topics"]),
                             [("__foo", False), ("__transaction_state", True)])

    def test_metadata_null_name_refused(self):
        # v12+: an entry with neither a name nor an id (and no entry with an
        # id) is more than Kafka 4.4 can look up: the whole request answers
        # UNKNOWN_SERVER_ERROR as getErrorResponse builds it (every entry,
        # a null name as "", no brokers, no cluster id, controller -1), and
        # in v13 at the top level too.
        for v in (12, 13):
            with self.conn() as c:
                resp = c.metadata(v, topics=["no-such-topic", None], include_topic_authorized_operations=True)
            got = [(t["name"], t["error_code"], t["topic_id"], t["partitions"], t["topic_authorized_operations"])
                   for t in resp["topics"]]
            self.assertEqual(got, [("no-such-topic", UNKNOWN_SERVER_ERROR, bytes(16), [], -2**31),
                                   ("", UNKNOWN_SERVER_ERROR, bytes(16), [], -2**31)], "v%d" % v)
            self.assertEqual((resp["brokers"], resp["cluster_id"], resp["controller_id"]), ([], None, -1), "v%d" % v)
            if v >= 13:
                self.assertEqual(resp["error_code"], UNKNOWN_SERVER_ERROR)

    def test_metadata_v10_ids_refused(self):
        # v10-11 requests carry topic ids, but their response cannot name an
        # unknown id (no null name before v12): Kafka refuses the request,
        # every entry INVALID_REQUEST with its name ("" for null) and id.
        tid = bytes(range(1, 17))
        for v in (10, 11):
            with self.conn() as c:
                resp = c.metadata(v, topics=["no-such-topic", None], topic_ids=[bytes(16), tid])
            got = [(t["name"], t["error_code"], t["topic_id"], t["partitions"]) for t in resp["topics"]]
            self.assertEqual(got, [("no-such-topic", INVALID_REQUEST, bytes(16), []), ("", INVALID_REQUEST, tid, [])],
                             "v%d" % v)
            self.assertEqual(resp["brokers"], [], "v%d" % v)

    def test_metadata_topic_name_rules(self):
        # Kafka's rules: 1-249 characters from [a-zA-Z0-9._-], not "." or "..".
        names = ["", ".", "..", "a" * 249, "a" * 250, "a b", "ok_name-1.x", "\u00e9", "_-."]
        with self.conn() as c:
            resp = c.metadata(4, topics=names)
        got = {t["name"]: t["error_code"] for t in resp["topics"]}  # Kafka's order is a hash set's
        self.assertEqual(len(resp["topics"]), len(names))
        E, U = INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION
        self.assertEqual(got, dict(zip(names, [E, E, E, U, E, E, U, E, U])))

    # ---- APIs not advertised ---------------------------------------------------

    def unadvertised(self, candidates):
        """The first (key, version, body, flexible) whose API the broker does not
        advertise in ApiVersions."""
        with self.conn() as c:
            table = c.api_versions(3)["api_keys"]
        for cand in candidates:
            if cand[0] not in table:
                return cand
        self.skipTest("the broker advertises every candidate API: pick others")

    def assert_closed_without_answer(self, key, version, body, flexible):
        # Kafka closes the connection on a request for an API it does not
        # enable (SocketServer: "Received request api key ... which is not
        # enabled").
        with self.conn() as c:
            port = c.local_port
            hdr = struct.pack(">hhi", key, version, 808) + kwire.string("gregor-it")
            c.send(kwire.frame(hdr + (kwire.uvarint(0) if flexible else b"") + body))
            self.assertEqual(c.wait_closed(), b"", "the broker answered api key %d v%d" % (key, version))
        if not on_kafka():  # Gregor logs why
            self.assertRegex(self.broker.closing_reason(port), r"not advertised in ApiVersions|unknown API key")
        with self.conn() as c:
            self.assertEqual(c.api_versions(3, correlation_id=809)["correlation_id"], 809)

    def test_unadvertised_api_with_error_code(self):
        # An API the broker does not advertise whose response begins with an
        # error code: SaslHandshake v0 (Gregor has its schema but no
        # handler), Vote v0 (Kafka enables it on its controller listener
        # only). Kafka closes the connection. Gregor answers
        # UNSUPPORTED_VERSION there instead: its documented choice
        # (docs/compatibility.md, "APIs"), a known difference from Kafka.
        key, version, body, flexible = self.unadvertised([
            (17, 0, kwire.string("PLAIN"), False),
            (52, 0, kwire.compact_string("cluster") + kwire.uvarint(1) + kwire.uvarint(0), True),
        ])
        if on_kafka():
            self.assert_closed_without_answer(key, version, body, flexible)
            return
        with self.conn() as c:
            c.send(kwire.frame(kwire.request_header(key, version, 808) + body))
            raw = c.recv_frame()
            self.assertEqual(struct.unpack(">ih", raw[:6]), (808, UNSUPPORTED_VERSION))
            self.assertEqual(c.api_versions(3, correlation_id=809)["correlation_id"], 809)

    def test_unadvertised_api_without_error_code(self):
        # DeleteRecords v0 (not in Gregor); Envelope v0 (Kafka: controller only).
        self.assert_closed_without_answer(*self.unadvertised([
            (21, 0, struct.pack(">ii", 0, 1000), False),
            (58, 0, kwire.uvarint(1) + kwire.uvarint(1) + kwire.uvarint(5) + b"\x7f\x00\x00\x01" + kwire.uvarint(0),
             True),
        ]))

    # ---- pipelining and load --------------------------------------------------

    def test_pipelined_responses_in_order(self):
        # 50 mixed requests in one write (more than the broker serves per
        # wake-up): every answer arrives, in request order.
        reqs, decoders = [], []
        for i in range(50):
            corr = 1000 + i
            if i % 3 == 0:
                v = i % 5
                reqs.append(kwire.api_versions_request(v, corr))
                decoders.append((corr, lambda raw, v=v: kwire.decode_api_versions_response(v, raw)))
            else:
                v = i % 13
                topics = [] if v == 0 else (None if i % 2 else ["no-such-topic"])
                reqs.append(kwire.metadata_request(v, corr, topics=topics))
                decoders.append((corr, lambda raw, v=v: kwire.decode_metadata_response(v, raw)))
        with self.conn() as c:
            c.send(b"".join(reqs))
            got = []
            for corr, dec in decoders:
                raw = c.recv_frame()
                got.append(struct.unpack(">i", raw[:4])[0])
                self.assertEqual(got[-1], corr, "responses out of order: %s" % got)
                dec(raw)
        self.assertEqual(got, [corr for corr, _ in decoders])

    def test_pipelined_beyond_inflight_limit(self):
        # 2000 requests in one write: far beyond what the broker keeps in
        # flight per connection, so it must pause reading and resume as
        # responses drain, losing and reordering nothing.
        n = 2000
        with self.conn() as c:
            c.send(b"".join(kwire.metadata_request(i % 13, i, topics=[] if i % 13 == 0 else None)
                            for i in range(n)))
            for i in range(n):
                raw = c.recv_frame()
                self.assertEqual(struct.unpack(">i", raw[:4])[0], i)
                kwire.decode_metadata_response(i % 13, raw)

    def test_frames_larger_than_read_buffer(self):
        # Frames over 64 KiB take another path (a buffer of their own); two
        # of them and a small one, in one write and then in 3000-byte pieces.
        data = kwire.padded_api_versions_request(1, 200000) + kwire.padded_api_versions_request(2, 70000) + \
            kwire.api_versions_request(0, 3)
        for chunk in (len(data), 3000):
            with self.subTest(chunk=chunk), self.conn() as c:
                for i in range(0, len(data), chunk):
                    c.send(data[i:i + chunk])
                got = []
                for v in (3, 3, 0):
                    resp = kwire.decode_api_versions_response(v, c.recv_frame())
                    got.append((resp["correlation_id"], resp["error_code"]))
                self.assertEqual(got, [(1, NONE), (2, NONE), (3, NONE)])

    def test_many_connections(self):
        conns = []
        try:
            for i in range(200):
                conns.append(self.conn())
            for i, c in enumerate(conns):
                c.send(kwire.api_versions_request(3, i))
            for i, c in enumerate(conns):
                resp = kwire.decode_api_versions_response(3, c.recv_frame())
                self.assertEqual((resp["correlation_id"], resp["error_code"]), (i, NONE))
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    unittest.main()
