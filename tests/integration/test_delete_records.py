"""DeleteRecords (API key 21, v0-v2): partitions' log start offsets move up,
through raw requests and confluent_kafka's AdminClient.delete_records.

Every expected answer is one Apache Kafka 4.4.0 gave (GREGOR_TEST_TARGET=kafka):

    offset -1                        the high watermark
    offset above it, or negative     OFFSET_OUT_OF_RANGE (1), low watermark -1
    offset below the log start       NONE, the log start unchanged
    unknown topic or partition       UNKNOWN_TOPIC_OR_PARTITION (3), -1
    __consumer_offsets               INVALID_TOPIC_EXCEPTION (17), -1
    cleanup.policy=compact           POLICY_VIOLATION (44), -1 (compact,delete: allowed)
    a partition named twice          one answer, the offset named last

After it, ListOffsets earliest answers the new log start offset, Fetch
answers it as log_start_offset and a fetch below it gets
OFFSET_OUT_OF_RANGE; the offset survives a restart.
"""

import os
import struct
import subprocess
import unittest

import kwire
from broker import Broker, BrokerTestCase, gregor_only, on_kafka, wait_until
from kwire import Conn
from test_data import decode_fetch_response, fetch_request
from test_idempotence import decode_describe_producers_response, describe_producers_request
from test_list_offsets import decode_list_offsets_response, list_offsets_request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

API_DELETE_RECORDS = 21
NODE_ID = 1

NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
POLICY_VIOLATION = 44

EARLIEST, LATEST = -2, -1


# ---- DeleteRecords on the wire, from the protocol documentation ------------

def delete_records_request(version, correlation_id, topics, timeout_ms=30000):
    """topics: [(name, [(partition, offset)])]."""
    flex = version >= 2

    def tagged():
        return kwire.uvarint(0) if flex else b""

    def name(s):
        return kwire.compact_string(s) if flex else kwire.string(s)

    def partition(p):
        return struct.pack(">iq", p[0], p[1]) + tagged()

    def topic(t):
        return name(t[0]) + kwire.array(t[1], partition, flex) + tagged()

    body = kwire.array(topics, topic, flex) + struct.pack(">i", timeout_ms) + tagged()
    header = struct.pack(">hhi", API_DELETE_RECORDS, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + tagged() + body)


def decode_delete_records_response(version, payload):
    """{"correlation_id", "throttle_time_ms", "topics": [(name, [(partition, low watermark, error)])]}"""
    r = kwire.Reader(payload)
    flex = version >= 2
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()

    def partition():
        p = (r.int32(), r.int64(), r.int16())
        if flex:
            r.tagged_fields()
        return p

    resp["topics"] = r.topics(flex, partition)
    if flex:
        r.tagged_fields()
    r.done()
    return resp


def confluent_admin(broker):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create_topics(broker, topics):
    """topics: [(name, partitions, config)]; waits until each serves."""
    from confluent_kafka.admin import NewTopic
    admin = confluent_admin(broker)  # alive until the futures are done
    fs = admin.create_topics([NewTopic(n, p, 1, config=c) for n, p, c in topics])
    for f in fs.values():
        f.result(timeout=15)
    del admin
    with Conn(broker.host, broker.port) as c:
        for n, _, _ in topics:
            c.wait_topic(n, create=False)


def produce(broker, topic, partition, values, batch_each=False):
    """Produce values (bytes) to one partition, one batch each if asked."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0 if batch_each else 50,
                  "message.max.bytes": 4 << 20})
    errors = []
    for i, v in enumerate(values):
        p.produce(topic, key=b"k%d" % i, value=v, partition=partition,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
        if batch_each:
            p.flush(15)
    left = p.flush(15)
    if left or errors:
        raise AssertionError("produce to %s: %d undelivered, errors %s" % (topic, left, errors))


class DeleteRecordsBase(BrokerTestCase):
    def delete(self, topics, version=2, broker=None):
        """The answer as {(topic, partition): (low watermark, error)}, checking
        that each partition comes back once."""
        broker = broker or self.broker
        with Conn(broker.host, broker.port) as c:
            c.send(delete_records_request(version, 21, topics))
            resp = decode_delete_records_response(version, c.recv_frame())
        self.assertEqual((resp["correlation_id"], resp["throttle_time_ms"]), (21, 0))
        out = {}
        names = [name for name, _ in resp["topics"]]
        self.assertEqual(len(names), len(set(names)), "a topic answered twice: %s" % resp)
        for name, parts in resp["topics"]:
            for index, low, error in parts:
                self.assertNotIn((name, index), out, "answered twice: %s" % resp)
                out[(name, index)] = (low, error)
        return out

    def list_offset(self, topic, partition, timestamp, broker=None):
        broker = broker or self.broker
        with Conn(broker.host, broker.port) as c:
            c.send(list_offsets_request(1, 11, [(topic, [(partition, timestamp, -1, 1)])]))
            resp = decode_list_offsets_response(1, c.recv_frame())
        (_, (p,)), = resp["list"]
        self.assertEqual(p["error_code"], NONE)
        return p["offset"]

    def fetch(self, topic, partition, offset):
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(fetch_request(5, topic, partition, offset))
            resp = decode_fetch_response(c.recv_frame())
        (t,) = resp["topics"]
        (p,) = t["partitions"]
        return p


class DeleteRecordsTest(DeleteRecordsBase):
    @classmethod
    def after_start(cls):
        create_topics(cls.broker, [("dr-errors", 2, {}), ("dr-fetch", 1, {}), ("dr-compact", 1,
                                   {"cleanup.policy": "compact"}), ("dr-compact-delete", 1,
                                   {"cleanup.policy": "compact,delete"}), ("dr-twice", 2, {}),
                                   ("dr-admin", 1, {})])
        for t in ("dr-errors", "dr-fetch", "dr-compact", "dr-compact-delete", "dr-twice", "dr-admin"):
            produce(cls.broker, t, 0, [b"v%d" % i for i in range(10)])

    def test_offsets_and_errors_every_version(self):
        """Each version the same request: v0 moves partition 0 to 3, v1 and v2
        find it there and answer the same."""
        for version in (0, 1, 2):
            with self.subTest(version=version):
                got = self.delete([("dr-errors", [(0, 3), (1, 0), (5, 1)]), ("dr-no-such-topic", [(0, 1)])],
                                  version=version)
                self.assertEqual(got, {("dr-errors", 0): (3, NONE),
                                       ("dr-errors", 1): (0, NONE),  # empty: its high watermark is 0
                                       ("dr-errors", 5): (-1, UNKNOWN_TOPIC_OR_PARTITION),
                                       ("dr-no-such-topic", 0): (-1, UNKNOWN_TOPIC_OR_PARTITION)})

    def test_out_of_range_and_never_down(self):
        self.assertEqual(self.delete([("dr-fetch", [(0, 4)])]), {("dr-fetch", 0): (4, NONE)})
        # smaller than the log start: no change, the current low watermark
        self.assertEqual(self.delete([("dr-fetch", [(0, 2)])]), {("dr-fetch", 0): (4, NONE)})
        self.assertEqual(self.delete([("dr-fetch", [(0, 11)])]), {("dr-fetch", 0): (-1, OFFSET_OUT_OF_RANGE)})
        self.assertEqual(self.delete([("dr-fetch", [(0, -2)])]), {("dr-fetch", 0): (-1, OFFSET_OUT_OF_RANGE)})
        self.assertEqual(self.list_offset("dr-fetch", 0, EARLIEST), 4)
        self.assertEqual(self.list_offset("dr-fetch", 0, LATEST), 10)

        below = self.fetch("dr-fetch", 0, 3)
        self.assertEqual((below["error_code"], below["high_watermark"], below["log_start_offset"]),
                         (OFFSET_OUT_OF_RANGE, -1, -1))
        at = self.fetch("dr-fetch", 0, 4)
        self.assertEqual((at["error_code"], at["high_watermark"], at["log_start_offset"]), (NONE, 10, 4))
        self.assertTrue(at["records"])

        # -1: the high watermark; everything goes
        self.assertEqual(self.delete([("dr-fetch", [(0, -1)])]), {("dr-fetch", 0): (10, NONE)})
        self.assertEqual(self.list_offset("dr-fetch", 0, EARLIEST), 10)
        end = self.fetch("dr-fetch", 0, 10)
        self.assertEqual((end["error_code"], end["high_watermark"], end["log_start_offset"]), (NONE, 10, 10))
        self.assertFalse(end["records"])
        # the log goes on from there
        produce(self.broker, "dr-fetch", 0, [b"after"])
        self.assertEqual(self.list_offset("dr-fetch", 0, LATEST), 11)
        self.assertEqual(self.list_offset("dr-fetch", 0, EARLIEST), 10)

    def test_cleanup_policy(self):
        self.assertEqual(self.delete([("dr-compact", [(0, 2)]), ("dr-compact-delete", [(0, 2)])]),
                         {("dr-compact", 0): (-1, POLICY_VIOLATION), ("dr-compact-delete", 0): (2, NONE)})
        # the policy is checked before the offset
        self.assertEqual(self.delete([("dr-compact", [(0, 20)])]), {("dr-compact", 0): (-1, POLICY_VIOLATION)})

    def test_partition_named_twice(self):
        """One answer per partition, the offset named last (Kafka's request map)."""
        got = self.delete([("dr-twice", [(0, 5), (0, 4)]), ("dr-twice", [(1, 0)])])
        self.assertEqual(got, {("dr-twice", 0): (4, NONE), ("dr-twice", 1): (0, NONE)})
        self.assertEqual(self.delete([("dr-twice", [(0, 4), (0, 6)])]), {("dr-twice", 0): (6, NONE)})

    def test_internal_topic(self):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "dr-group",
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition("dr-errors", 0, 5)], asynchronous=False)
        finally:
            c.close()
        got = self.delete([("__consumer_offsets", [(0, 0), (49, -1), (50, 0)])])
        self.assertEqual(got, {("__consumer_offsets", 0): (-1, INVALID_TOPIC_EXCEPTION),
                               ("__consumer_offsets", 49): (-1, INVALID_TOPIC_EXCEPTION),
                               ("__consumer_offsets", 50): (-1, UNKNOWN_TOPIC_OR_PARTITION)})

    def test_admin_client(self):
        """confluent-kafka 2.16's AdminClient.delete_records (Debian's 1.7 has
        none), run under the clients' virtualenv (scripts/install-clients)."""
        py = os.path.join(os.environ.get("GREGOR_CLIENTS") or os.path.join(TOP, "build", "clients"), "python")
        if not os.access(py, os.X_OK):
            raise AssertionError("no %s: run scripts/install-clients (scripts/test does)" % py)
        p = subprocess.run([py, "-c", ADMIN_SCRIPT, self.broker.bootstrap, "dr-admin", "7"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["dr-admin", "0", "7"])
        self.assertEqual(self.list_offset("dr-admin", 0, EARLIEST), 7)


# What test_admin_client runs: delete records below argv[3] in partition 0
# of topic argv[2]; prints the topic, partition and low watermark.
ADMIN_SCRIPT = """
import sys
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
tp = TopicPartition(sys.argv[2], 0, int(sys.argv[3]))
res = admin.delete_records([tp], request_timeout=15)[TopicPartition(sys.argv[2], 0)].result(timeout=15)
print(tp.topic, tp.partition, res.low_watermark)
"""


class DeleteRecordsProducerStateTest(DeleteRecordsBase):
    def describe_producers(self, topic):
        with Conn(self.broker.host, self.broker.port) as c:
            c.send(describe_producers_request(61, [(topic, [0])]))
            return decode_describe_producers_response(c.recv_frame())[(topic, 0)]

    def test_producer_state_below(self):
        """An idempotent producer whose batches are all below the new log
        start offset: Kafka 4.4 still describes it (its entry stays until
        producer.id.expiration.ms); Gregor drops it as its retention does
        (a documented difference: a later batch of that producer is accepted
        either way, since an unknown producer is accepted at any sequence)."""
        from confluent_kafka import Producer
        create_topics(self.broker, [("dr-pstate", 1, {})])
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True})
        for i in range(5):
            p.produce("dr-pstate", key=b"k", value=b"v%d" % i, partition=0)
        self.assertEqual(p.flush(15), 0)
        err, producers = self.describe_producers("dr-pstate")
        self.assertEqual((err, len(producers)), (NONE, 1))
        self.assertEqual(self.delete([("dr-pstate", [(0, -1)])]), {("dr-pstate", 0): (5, NONE)})
        err, after = self.describe_producers("dr-pstate")
        self.assertEqual((err, after), (NONE, producers if on_kafka() else []))


class DeleteRecordsSegmentsTest(DeleteRecordsBase):
    """Whole segments below the new log start offset go (at once on Gregor;
    at Kafka's next retention check). One batch of 700 KB per segment with
    segment.bytes 1 MiB (Kafka 4's minimum): segments at 0, 1, 2, 3."""

    @classmethod
    def after_start(cls):
        create_topics(cls.broker, [("dr-seg", 1, {"segment.bytes": "1048576"})])
        produce(cls.broker, "dr-seg", 0, [os.urandom(700 << 10) for _ in range(4)], batch_each=True)

    def segment_bases(self):
        d = os.path.join(self.broker.data_dir, "data", "dr-seg-0")
        return sorted(int(n[:-4]) for n in os.listdir(d) if n.endswith(".log"))

    def test_segments(self):
        self.assertEqual(self.delete([("dr-seg", [(0, 2)])]), {("dr-seg", 0): (2, NONE)})
        self.assertEqual(self.list_offset("dr-seg", 0, EARLIEST), 2)
        p = self.fetch("dr-seg", 0, 2)
        self.assertEqual((p["error_code"], p["log_start_offset"]), (NONE, 2))
        self.assertTrue(p["records"])
        if not on_kafka():
            self.assertEqual(self.segment_bases(), [2, 3])
            # segment 2 holds offset 2 alone: now entirely below, it goes
            self.assertEqual(self.delete([("dr-seg", [(0, 3)])]), {("dr-seg", 0): (3, NONE)})
            self.assertEqual(self.segment_bases(), [3])
            with open(os.path.join(self.broker.data_dir, "data", "log-start-offset-checkpoint")) as f:
                self.assertIn("dr-seg 0 3\n", f.read())


class DeleteRecordsRestartTest(DeleteRecordsBase):
    """The log start offset survives a clean restart (both), and a kill -9
    right after the answer (Gregor: it answers once
    log-start-offset-checkpoint is on disk; Kafka writes that file every
    60 s and may bring the records back)."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def start(self, data_dir=None):
        b = Broker(node_id=NODE_ID, data_dir=data_dir)
        self.addCleanup(b.cleanup)
        b.start()
        self.broker = b
        return b

    def test_clean_restart(self):
        first = self.start()
        create_topics(first, [("dr-restart", 1, {})])
        produce(first, "dr-restart", 0, [b"v%d" % i for i in range(10)])
        self.assertEqual(self.delete([("dr-restart", [(0, 6)])]), {("dr-restart", 0): (6, NONE)})
        first.stop()
        second = self.start(first.data_dir)
        with Conn(second.host, second.port) as c:
            c.wait_topic("dr-restart", create=False)
        self.assertEqual(self.list_offset("dr-restart", 0, EARLIEST), 6)
        self.assertEqual(self.list_offset("dr-restart", 0, LATEST), 10)
        second.stop()

    @gregor_only("Gregor answers DeleteRecords once log-start-offset-checkpoint is durable; Kafka writes it "
                 "every log.flush.start.offset.checkpoint.interval.ms (60 s), so a kill -9 before that loses it")
    def test_kill_after_answer(self):
        first = self.start()
        create_topics(first, [("dr-kill", 1, {})])
        produce(first, "dr-kill", 0, [b"v%d" % i for i in range(10)])
        self.assertEqual(self.delete([("dr-kill", [(0, 7)])]), {("dr-kill", 0): (7, NONE)})
        first.kill()
        second = self.start(first.data_dir)
        self.assertEqual(self.list_offset("dr-kill", 0, EARLIEST), 7)
        self.assertEqual(self.list_offset("dr-kill", 0, LATEST), 10)
        second.stop()


if __name__ == "__main__":
    unittest.main()
