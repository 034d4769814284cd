"""DescribeTopicPartitions v0 (api key 75) over raw sockets: what Kafka 4.4
answers, page by page, for three topics of 2, 3 and 1 partitions."""

import struct
import unittest

import kwire
from broker import BrokerTestCase

NODE_ID = 2

NONE = 0
UNKNOWN_SERVER_ERROR = -1
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUEST = 42

# Every operation on a topic, as Kafka answers without an authorizer.
ALL_TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))
DEFAULT_OPERATIONS = -2**31

TOPICS = {"dtp-a": 2, "dtp-b": 3, "dtp-c": 1}


def create_topics(conn, topics):
    """CreateTopics v7 (the partition counts given, replication factor 1)."""
    def topic(item):
        name, partitions = item
        return (kwire.compact_string(name) + struct.pack(">ih", partitions, 1)
                + kwire.uvarint(1) + kwire.uvarint(1) + kwire.uvarint(0))

    body = kwire.array(sorted(topics.items()), topic, True) + struct.pack(">i?", 10000, False) + kwire.uvarint(0)
    hdr = struct.pack(">hhi", 19, 7, 77) + kwire.string("gregor-it") + kwire.uvarint(0)
    conn.send(kwire.frame(hdr + body))
    r = kwire.Reader(conn.recv_frame())
    assert r.int32() == 77
    r.tagged_fields()
    r.int32()
    for _ in range(r.uvarint() - 1):
        name = r.string(True)
        r.uuid()
        error = r.int16()
        assert error == NONE, "CreateTopics %s: error %d" % (name, error)
        r.string(True)
        r.int32()
        r.int16()
        for _ in range(r.uvarint() - 1):  # configs
            r.string(True), r.string(True), r.bool(), r.int8(), r.bool()
            r.tagged_fields()
        r.tagged_fields()
    for name in topics:
        conn.wait_topic(name, create=False)


class DescribeTopicPartitionsTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    @classmethod
    def after_start(cls):
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            create_topics(c, TOPICS)
            md = c.metadata(12, topics=sorted(TOPICS))
        cls.ids = {t["name"]: t["topic_id"] for t in md["topics"]}

    def describe(self, topics, **kw):
        with self.conn() as c:
            resp = c.describe_topic_partitions(topics, correlation_id=75, **kw)
        self.assertEqual(resp["correlation_id"], 75)
        self.assertEqual(resp["throttle_time_ms"], 0)
        return resp

    @staticmethod
    def page(resp):
        """[(name, error, [partition indexes])], next cursor."""
        return ([(t["name"], t["error_code"], [p["partition_index"] for p in t["partitions"]])
                 for t in resp["topics"]], resp["next_cursor"])

    def test_all_topics(self):
        # An empty list means every topic, in name order.
        resp = self.describe([])
        self.assertEqual(self.page(resp), ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]),
                                            ("dtp-c", NONE, [0])], None))
        for t in resp["topics"]:
            self.assertEqual(t["topic_id"], self.ids[t["name"]])
            self.assertFalse(t["is_internal"])
            self.assertEqual(t["topic_authorized_operations"], ALL_TOPIC_OPERATIONS)
            for p in t["partitions"]:
                # Led by this node at epoch 0, its only replica; ELR off:
                # empty lists, not null.
                self.assertEqual(p, {"error_code": NONE, "partition_index": p["partition_index"],
                                     "leader_id": NODE_ID, "leader_epoch": 0, "replica_nodes": [NODE_ID],
                                     "isr_nodes": [NODE_ID], "eligible_leader_replicas": [],
                                     "last_known_elr": [], "offline_replicas": []})

    def test_named_topics(self):
        # Sorted by name, each once; an unknown name in its place, with the
        # zero id and the operations too.
        resp = self.describe(["dtp-c", "no-such-topic", "dtp-a", "bad/name", "dtp-c", "__consumer_offsets"])
        self.assertEqual(self.page(resp), ([("__consumer_offsets", UNKNOWN_TOPIC_OR_PARTITION, []),
                                            ("bad/name", INVALID_TOPIC_EXCEPTION, []),
                                            ("dtp-a", NONE, [0, 1]), ("dtp-c", NONE, [0]),
                                            ("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, [])], None))
        got = [(t["topic_id"], t["is_internal"], t["topic_authorized_operations"]) for t in resp["topics"]]
        self.assertEqual(got, [(bytes(16), True, ALL_TOPIC_OPERATIONS), (bytes(16), False, ALL_TOPIC_OPERATIONS),
                               (self.ids["dtp-a"], False, ALL_TOPIC_OPERATIONS),
                               (self.ids["dtp-c"], False, ALL_TOPIC_OPERATIONS),
                               (bytes(16), False, ALL_TOPIC_OPERATIONS)])

    def test_partition_limit(self):
        # The limit cuts a topic: the cursor is its first partition left
        # out; a page that ends with a topic points at the next name,
        # partition 0. Below 1 the limit is 1.
        pages = {
            -1: ([("dtp-a", NONE, [0])], ("dtp-a", 1)),
            0: ([("dtp-a", NONE, [0])], ("dtp-a", 1)),
            1: ([("dtp-a", NONE, [0])], ("dtp-a", 1)),
            2: ([("dtp-a", NONE, [0, 1])], ("dtp-b", 0)),
            3: ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0])], ("dtp-b", 1)),
            5: ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2])], ("dtp-c", 0)),
            6: ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]), ("dtp-c", NONE, [0])], None),
            1 << 30: ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]), ("dtp-c", NONE, [0])], None),
        }
        for limit, want in pages.items():
            with self.subTest(limit=limit):
                self.assertEqual(self.page(self.describe([], response_partition_limit=limit)), want)

    def test_named_topics_partition_limit(self):
        # Unknown names take no room but are not answered on a full page:
        # the cursor names them, whether they exist or not.
        names = ["dtp-c", "nope", "dtp-a", "dtp-b"]
        self.assertEqual(self.page(self.describe(names, response_partition_limit=4)),
                         ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1])], ("dtp-b", 2)))
        self.assertEqual(self.page(self.describe(names, response_partition_limit=6)),
                         ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]), ("dtp-c", NONE, [0])], ("nope", 0)))
        self.assertEqual(self.page(self.describe(names, response_partition_limit=7)),
                         ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]), ("dtp-c", NONE, [0]),
                           ("nope", UNKNOWN_TOPIC_OR_PARTITION, [])], None))

    def test_cursor(self):
        # From the cursor's topic (which need not exist when all topics are
        # asked for) and partition; past its last partition the topic comes
        # with none.
        cases = [
            (("dtp-b", 1), 2000, ([("dtp-b", NONE, [1, 2]), ("dtp-c", NONE, [0])], None)),
            (("dtp-b", 1), 2, ([("dtp-b", NONE, [1, 2])], ("dtp-c", 0))),
            (("dtp-b", 3), 2000, ([("dtp-b", NONE, []), ("dtp-c", NONE, [0])], None)),
            (("dtp-b", 99), 2000, ([("dtp-b", NONE, []), ("dtp-c", NONE, [0])], None)),
            (("dtp-bb", 2), 2000, ([("dtp-c", NONE, [0])], None)),
            (("zzz", 0), 2000, ([], None)),
            (("", 1), 2000, ([("dtp-a", NONE, [0, 1]), ("dtp-b", NONE, [0, 1, 2]), ("dtp-c", NONE, [0])], None)),
        ]
        for cursor, limit, want in cases:
            with self.subTest(cursor=cursor, limit=limit):
                self.assertEqual(self.page(self.describe([], cursor=cursor, response_partition_limit=limit)), want)
        # Named topics: only those from the cursor's on.
        self.assertEqual(self.page(self.describe(["dtp-c", "dtp-a", "x"], cursor=("dtp-c", 0))),
                         ([("dtp-c", NONE, [0]), ("x", UNKNOWN_TOPIC_OR_PARTITION, [])], None))
        self.assertEqual(self.page(self.describe(["", "dtp-a"], cursor=("", 1))),
                         ([("", INVALID_TOPIC_EXCEPTION, []), ("dtp-a", NONE, [0, 1])], None))

    def assert_refused(self, resp, names, error):
        # getErrorResponse: every entry of the request, in its order, with
        # the error, its name, the zero id and nothing else.
        got = [(t["name"], t["error_code"], t["topic_id"], t["is_internal"], t["partitions"],
                t["topic_authorized_operations"]) for t in resp["topics"]]
        self.assertEqual(got, [(n, error, bytes(16), False, [], DEFAULT_OPERATIONS) for n in names])
        self.assertIsNone(resp["next_cursor"])

    def test_refused(self):
        # A cursor whose topic is not among the names, or whose partition is
        # negative: INVALID_REQUEST.
        names = ["__consumer_offsets", "dtp-c", "dtp-c"]
        self.assert_refused(self.describe(names, cursor=("dtp-b", 0)), names, INVALID_REQUEST)
        self.assert_refused(self.describe(["dtp-c"], cursor=("dtp-c", -1)), ["dtp-c"], INVALID_REQUEST)
        self.assert_refused(self.describe([], cursor=("dtp-b", -1)), [], INVALID_REQUEST)
        # A name "" without a cursor: Kafka 4.4 compares it with the
        # cursor's and fails on the null cursor.
        self.assert_refused(self.describe(["", "dtp-a"]), ["", "dtp-a"], UNKNOWN_SERVER_ERROR)

    def test_null_topics_closes(self):
        # The topic list is not nullable: the request does not parse and the
        # connection is closed without an answer.
        with self.conn() as c:
            c.send(kwire.describe_topic_partitions_request(9, None))
            self.assertEqual(c.wait_closed(), b"")
        with self.conn() as c:
            self.assertEqual(c.api_versions(3, correlation_id=10)["api_keys"].get(75), (0, 0))


if __name__ == "__main__":
    unittest.main()
