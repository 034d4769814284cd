"""Raw-socket protocol tests: ApiVersions and Metadata at every version the
broker advertises, error codes, header versions and pipelining."""

import struct
import unittest

import kwire
from broker import Broker
from kwire import Conn

NODE_ID = 3

# The exact ApiVersions table: {api key: (min version, max version)}.
# UPDATE THIS as APIs are implemented: it must list everything the broker
# advertises and nothing else.
EXPECTED_API_TABLE = {
    3: (0, 12),   # Metadata
    18: (0, 4),   # ApiVersions
}

# Kafka error codes used below.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
UNKNOWN_TOPIC_ID = 100


class ProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(node_id=NODE_ID)
        try:
            cls.broker.start()
        except BaseException:
            cls.broker.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.broker.stop()
        finally:
            cls.broker.cleanup()

    def conn(self):
        return Conn(self.broker.host, self.broker.port)

    def assert_table(self, resp):
        self.assertEqual(resp["api_keys"], EXPECTED_API_TABLE)
        keys = [k for k, _, _ in resp["api_keys_list"]]
        self.assertEqual(keys, sorted(keys), "api keys are listed in key order")

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
        self.assertEqual(raw[6], len(EXPECTED_API_TABLE) + 1, "compact array length of the API table")
        resp = kwire.decode_api_versions_response(3, raw)  # strict: no byte left over
        self.assert_table(resp)

    def test_api_versions_unknown_version(self):
        # A version newer than the broker knows: a v0-format answer with
        # UNSUPPORTED_VERSION and the table, so the client can retry.
        with self.conn() as c:
            c.send(kwire.api_versions_request(127, 55))
            resp = kwire.decode_api_versions_response(0, c.recv_frame())
            self.assertEqual(resp["correlation_id"], 55)
            self.assertEqual(resp["error_code"], UNSUPPORTED_VERSION)
            self.assert_table(resp)
            # The connection stays usable.
            self.assertEqual(c.api_versions(3, correlation_id=56)["error_code"], NONE)

    def test_api_versions_invalid_software_name(self):
        with self.conn() as c:
            resp = c.api_versions(3, software_name="-bad")
            self.assertEqual(resp["error_code"], INVALID_REQUEST)
            resp = c.api_versions(3, software_version="1.0-")
            self.assertEqual(resp["error_code"], INVALID_REQUEST)
            resp = c.api_versions(3, software_name="ok-name.2", software_version="2.0.2")
            self.assertEqual(resp["error_code"], NONE)
            self.assert_table(resp)

    # ---- Metadata -------------------------------------------------------------

    def test_metadata_every_version_all_topics(self):
        # v0 cannot send null: an empty list means all topics there.
        with self.conn() as c:
            for v in range(0, 13):
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
        got = [(t["name"], t["error_code"], t["partitions"]) for t in resp["topics"]]
        self.assertEqual(got, [("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, []),
                               ("bad/name", INVALID_TOPIC_EXCEPTION, [])])

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
            resp = c.metadata(12, topics=["no-such-topic", None], topic_ids=[bytes(16), tid])
        got = [(t["name"], t["error_code"], t["topic_id"]) for t in resp["topics"]]
        self.assertEqual(got, [("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, bytes(16)),
                               (None, UNKNOWN_TOPIC_ID, tid)])

    # ---- pipelining -----------------------------------------------------------

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


if __name__ == "__main__":
    unittest.main()
