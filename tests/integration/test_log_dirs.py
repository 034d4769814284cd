"""DescribeLogDirs (api key 35) over raw sockets, v0-v5, and through
kafka-python 3.0's KafkaAdminClient.describe_log_dirs: what a single-node
Kafka 4.4 answers (v0: Kafka 3.9.1).

Asked of Kafka 4.4: one result, the log directory's absolute path, error
NONE; every partition of every topic for a null list, __consumer_offsets
and __transaction_state included (not __cluster_metadata, which is not a
partition log); for a list, only the partitions named that exist, each
once, and no topic with none of them (unknown topics, unknown or negative
partitions and invalid names are left out, with no error); offset_lag 0,
is_future_key false; v3+ top-level error NONE; v4+ the file system's total
and usable bytes; v5 is_cordoned false. Kafka lists topics and partitions
in hash order, so the tests compare them as sets. Sizes and free space
differ between brokers: partition_size is checked against the partition's
.log files in the data directory (Kafka sums its segments' log files, not
the indexes), the file system's figures against each other.
"""

import glob
import json
import os
import struct
import subprocess

import kwire
from broker import BrokerTestCase, old_versions, wait_until

API_DESCRIBE_LOG_DIRS = 35
NONE = 0

TOPICS = {"ld-a": 2, "ld-b": 1}
SEGMENTED = "ld-seg"  # several segments: Kafka 4's smallest segment.bytes
SEGMENT_BYTES = 1048576
DEADLINE = 15.0


# ---- DescribeLogDirs on the wire (written from Kafka's message JSON) --------

def describe_log_dirs_request(version, correlation_id, topics):
    """topics: None (every partition) or [(name, [partition, ...])]."""
    flex = version >= 2
    hdr = struct.pack(">hhi", API_DESCRIBE_LOG_DIRS, version, correlation_id) + kwire.string("gregor-it")
    if flex:
        hdr += kwire.uvarint(0)

    def topic(item):
        name, parts = item
        b = kwire.compact_string(name) if flex else kwire.string(name)
        b += kwire.array(parts, lambda p: struct.pack(">i", p), flex)
        return b + (kwire.uvarint(0) if flex else b"")

    body = kwire.array(topics, topic, flex) + (kwire.uvarint(0) if flex else b"")
    return kwire.frame(hdr + body)


def decode_describe_log_dirs_response(version, payload):
    flex = version >= 2
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()
    if version >= 3:
        resp["error_code"] = r.int16()

    def partition():
        p = {"partition_index": r.int32(), "partition_size": r.int64(), "offset_lag": r.int64(),
             "is_future_key": r.bool()}
        if flex:
            r.tagged_fields()
        return p

    def topic():
        t = {"name": r.string(flex), "partitions": r.array(flex, partition)}
        if flex:
            r.tagged_fields()
        return t

    def result():
        x = {"error_code": r.int16(), "log_dir": r.string(flex), "topics": r.array(flex, topic)}
        if version >= 4:
            x["total_bytes"] = r.int64()
            x["usable_bytes"] = r.int64()
        if version >= 5:
            x["is_cordoned"] = r.bool()
        if flex:
            r.tagged_fields()
        return x

    resp["results"] = r.array(flex, result)
    if flex:
        r.tagged_fields()
    r.done()
    return resp


def partitions_of(result):
    """{(topic, partition): partition_size}, checking each entry's other
    fields and that no (topic, partition) comes twice."""
    out = {}
    for t in result["topics"]:
        for p in t["partitions"]:
            key = (t["name"], p["partition_index"])
            assert key not in out, "%s listed twice" % (key,)
            assert p["offset_lag"] == 0 and p["is_future_key"] is False, p
            out[key] = p["partition_size"]
    return out


def confluent_admin(broker):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": broker.bootstrap})


class DescribeLogDirsTest(BrokerTestCase):

    @classmethod
    def after_start(cls):
        from confluent_kafka import Consumer, Producer, TopicPartition
        from confluent_kafka.admin import NewTopic
        admin = confluent_admin(cls.broker)
        new = [NewTopic(n, p, 1) for n, p in sorted(TOPICS.items())]
        new.append(NewTopic(SEGMENTED, 1, 1, config={"segment.bytes": str(SEGMENT_BYTES)}))
        for f in admin.create_topics(new, operation_timeout=10).values():
            f.result(DEADLINE)
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            for name in list(TOPICS) + [SEGMENTED]:
                c.wait_topic(name, create=False)

        p = Producer({"bootstrap.servers": cls.broker.bootstrap, "linger.ms": 0})
        for i in range(10):
            p.produce("ld-a", value=b"a" * 100, partition=0)
        p.produce("ld-b", value=b"b" * 10, partition=0)
        for i in range(14):  # 1.4 MB: a second segment
            p.produce(SEGMENTED, value=bytes([i]) * 100000, partition=0)
        assert p.flush(DEADLINE) == 0

        # __consumer_offsets, through a commit; __transaction_state, through a
        # transaction.
        c = Consumer({"bootstrap.servers": cls.broker.bootstrap, "group.id": "ld-group",
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition("ld-a", 0, 3)], asynchronous=False)
        finally:
            c.close()
        tp = Producer({"bootstrap.servers": cls.broker.bootstrap, "transactional.id": "ld-txn"})
        tp.init_transactions(DEADLINE)
        tp.begin_transaction()
        tp.produce("ld-b", value=b"t", partition=0)
        tp.commit_transaction(DEADLINE)

        md = admin.list_topics(timeout=10)
        cls.partition_counts = {name: len(md.topics[name].partitions)
                                for name in list(TOPICS) + [SEGMENTED, "__consumer_offsets", "__transaction_state"]}

    def log_dir(self):
        return os.path.join(self.broker.data_dir, "data")

    def files_size(self, topic, partition):
        """The bytes of the partition's .log files, as found on disk."""
        d = os.path.join(self.log_dir(), "%s-%d" % (topic, partition))
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "*.log")))

    def describe(self, version, topics):
        with self.conn() as c:
            c.send(describe_log_dirs_request(version, 35, topics))
            resp = decode_describe_log_dirs_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 35)
        self.assertEqual(resp["throttle_time_ms"], 0)
        self.assertEqual(len(resp["results"]), 1)
        result = resp["results"][0]
        self.assertEqual(result["error_code"], NONE)
        self.assertEqual(result["log_dir"], self.log_dir())
        return resp

    def assert_sizes_on_disk(self, version, topics):
        """Ask until every partition_size equals its .log files' bytes (a
        coordinator may still be appending when the test begins); return
        the last answer's partitions."""
        got = {}

        def sizes_match():
            got.clear()
            got.update(partitions_of(self.describe(version, topics)["results"][0]))
            return all(size == self.files_size(t, p) for (t, p), size in got.items())

        wait_until(sizes_match, DEADLINE, "partition sizes equal to the .log files")
        return got

    def test_every_partition(self):
        # A null list: every partition of every topic, internal ones too.
        got = self.assert_sizes_on_disk(4, None)
        want = {(name, p) for name, n in self.partition_counts.items() for p in range(n)}
        self.assertEqual(set(got), want)
        # Data where it was written, none where it was not.
        self.assertGreater(got[("ld-a", 0)], 0)
        self.assertEqual(got[("ld-a", 1)], 0)
        self.assertGreater(got[("ld-b", 0)], 0)
        self.assertGreater(sum(size for (t, _), size in got.items() if t == "__consumer_offsets"), 0)
        self.assertGreater(sum(size for (t, _), size in got.items() if t == "__transaction_state"), 0)

    def test_segments_summed(self):
        # Every segment's log counts, the indexes do not.
        d = os.path.join(self.log_dir(), "%s-0" % SEGMENTED)
        self.assertGreaterEqual(len(glob.glob(os.path.join(d, "*.log"))), 2)
        got = self.assert_sizes_on_disk(4, [(SEGMENTED, [0])])
        self.assertEqual(set(got), {(SEGMENTED, 0)})
        self.assertGreater(got[(SEGMENTED, 0)], SEGMENT_BYTES)

    def test_named_partitions(self):
        # Only what was asked for and exists; unknown topics, partitions out
        # of range, invalid names: left out, without an error.
        resp = self.describe(4, [("ld-a", [1, 0, 7, -1]), ("no-such-topic", [0]), ("bad/name", [0]), ("", [0])])
        self.assertEqual(resp["error_code"], NONE)
        self.assertEqual(set(partitions_of(resp["results"][0])), {("ld-a", 0), ("ld-a", 1)})
        # A partition named twice, in two entries of one topic: once.
        resp = self.describe(4, [("ld-a", [0]), ("ld-a", [1, 1]), ("__consumer_offsets", [0, 1])])
        self.assertEqual(set(partitions_of(resp["results"][0])),
                         {("ld-a", 0), ("ld-a", 1), ("__consumer_offsets", 0), ("__consumer_offsets", 1)})

    def test_nothing_asked(self):
        # An empty list, or a topic with no partitions: no topics at all.
        for topics in ([], [("ld-b", [])], [("no-such-topic", [0])]):
            resp = self.describe(4, topics)
            self.assertEqual(resp["results"][0]["topics"], [], topics)

    def test_versions(self):
        # v1-v5 (v0: below): the same partitions; v3+ a top-level error,
        # v4+ the file system's space, v5 is_cordoned.
        ask = [("ld-a", [0, 1]), ("ld-b", [0])]
        for version in range(1, 6):
            resp = self.describe(version, ask)
            result = resp["results"][0]
            self.assertEqual(set(partitions_of(result)), {("ld-a", 0), ("ld-a", 1), ("ld-b", 0)}, version)
            if version >= 3:
                self.assertEqual(resp["error_code"], NONE)
            if version >= 4:
                st = os.statvfs(self.log_dir())
                self.assertEqual(result["total_bytes"], st.f_blocks * st.f_frsize)
                self.assertGreater(result["usable_bytes"], 0)
                self.assertLessEqual(result["usable_bytes"], result["total_bytes"])
            if version >= 5:
                self.assertIs(result["is_cordoned"], False)

    @old_versions("DescribeLogDirs v0")
    def test_v0(self):
        resp = self.describe(0, [("ld-a", [0, 1]), ("no-such-topic", [0])])
        self.assertEqual(set(partitions_of(resp["results"][0])), {("ld-a", 0), ("ld-a", 1)})
        self.assertLessEqual({("ld-a", 0), ("ld-a", 1), ("ld-b", 0)},
                             set(partitions_of(self.describe(0, None)["results"][0])))

    def test_kafka_python_admin(self):
        # kafka-python 3.0's KafkaAdminClient (the pinned one, in the
        # clients' virtualenv: Debian's 2.0 has no describe_log_dirs).
        from test_modern_clients import clients_dir
        py = os.path.join(clients_dir(), "python")
        if not os.access(py, os.X_OK):
            raise AssertionError("no %s: run scripts/install-clients (scripts/test does)" % py)
        code = ("import json, sys\n"
                "from kafka import KafkaAdminClient\n"
                "a = KafkaAdminClient(bootstrap_servers=sys.argv[1])\n"
                "print(json.dumps(a.describe_log_dirs({'ld-a': [0, 1], 'ld-b': [0]})))\n"
                "a.close()\n")
        p = subprocess.run([py, "-c", code, self.broker.bootstrap], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        answers = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual([a["broker"] for a in answers], [self.broker.node_id])
        dirs = answers[0]["log_dirs"]
        self.assertEqual(len(dirs), 1)
        self.assertEqual(dirs[0]["error_code"], NONE)
        self.assertEqual(dirs[0]["log_dir"], self.log_dir())
        sizes = {(t["name"], p["partition_index"]): p["partition_size"] for t in dirs[0]["topics"]
                 for p in t["partitions"]}
        self.assertEqual(set(sizes), {("ld-a", 0), ("ld-a", 1), ("ld-b", 0)})
        self.assertEqual(sizes[("ld-a", 0)], self.files_size("ld-a", 0))


if __name__ == "__main__":
    import unittest
    unittest.main()
