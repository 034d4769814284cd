"""Many partitions and segments against the open-files limit, and
all-or-nothing topic creation (issue 18, items 3 and 4).

Gregor-only throughout: the tests run the gregor process under a lowered
RLIMIT_NOFILE (soft and hard, set in the child), count its descriptors in
/proc, and read or break its data directory (its topic store,
gregor-topics.properties). What they check of the wire is what Kafka
answers too: a CreateTopics or CreatePartitions that fails leaves nothing
that comes back later (Kafka's controller writes the topic's records to its
metadata log first; an unwritten topic does not exist).

- 3,000 partitions (600 topics x 5) under `ulimit -n 4096`: created,
  one record produced to each, the broker restarted, every record fetched
  back. Before, each partition held three descriptors (.log, .index,
  .timeindex) and this failed at about 1,330.
- segment.bytes=14 (every batch rolls a segment): hundreds of segments, and
  the broker's descriptors stay at one per partition plus
  gregor.log.open.segments.max.
- A creation that fails (too few descriptors; the topic store unwritable)
  answers KAFKA_STORAGE_ERROR, leaves no directory, and the topic does not
  come back after a restart; a failed CreatePartitions leaves the old
  partitions only.
- A partition directory the store does not list is set aside at start-up
  (renamed -stray, as Kafka renames a stray log), not adopted.
"""

import os
import resource
import shutil
import subprocess
import tempfile
import time
import unittest

import broker as broker_mod
from broker import Broker, gregor_only, wait_until

NODE_ID = 1
KAFKA_STORAGE_ERROR = 56
DEADLINE = 60.0


class LimitedBroker(Broker):
    """A gregor whose open-files limit (soft and hard) is `nofile`."""

    def __init__(self, nofile, **kw):
        super().__init__(node_id=NODE_ID, **kw)
        self.nofile = nofile

    def start(self):
        real = subprocess.Popen
        n = self.nofile

        def popen(*a, **kw):
            kw["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return real(*a, **kw)

        broker_mod.subprocess.Popen = popen
        try:
            return super().start()
        finally:
            broker_mod.subprocess.Popen = real

    def fds(self):
        """(all descriptors, those on .log files, those on index files)."""
        total = logs = idx = 0
        for fd in os.listdir("/proc/%d/fd" % self.proc.pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (self.proc.pid, fd))
            except OSError:
                continue
            total += 1
            logs += t.endswith(".log")
            idx += t.endswith("index")
        return total, logs, idx


def admin_of(b):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": b.bootstrap})


def create_topics(admin, names, parts, config=None):
    """{name: None or KafkaError}, in requests of 100 topics."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic
    out = {}
    for i in range(0, len(names), 100):
        fs = admin.create_topics([NewTopic(n, parts, 1, config=config or {}) for n in names[i:i + 100]],
                                 operation_timeout=60, request_timeout=120)
        for n, f in fs.items():
            try:
                f.result(timeout=120)
                out[n] = None
            except KafkaException as e:
                out[n] = e.args[0]
    return out


def produce(b, records):
    """records: [(topic, partition, value)], each its own flush when
    `one_batch_each`, else all at once."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "acks": "all",
                  "queue.buffering.max.messages": 100000})
    errors = []

    def cb(err, _msg):
        if err is not None:
            errors.append(err)

    for t, k, v in records:
        p.produce(t, value=v, partition=k, on_delivery=cb)
        p.poll(0)
    remaining = p.flush(DEADLINE)
    return remaining, errors


def consume(b, tps, want):
    """The values read from offset 0 of every (topic, partition)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "mp-check", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    c.assign([TopicPartition(t, k, 0) for t, k in tps])
    got = set()
    end = time.monotonic() + DEADLINE
    while len(got) < want and time.monotonic() < end:
        for m in c.consume(5000, timeout=0.5):
            if m.error() is None:
                got.add((m.topic(), m.partition(), m.value()))
    c.close()
    return got


def data_dir(b):
    return os.path.join(b.data_dir, "data")


def dirs_of(b, topic):
    return sorted(n for n in os.listdir(data_dir(b)) if n.rsplit("-", 1)[0] == topic or
                  n.startswith(topic + "-") and (n.endswith("-delete") or n.endswith("-stray")))


class Tmp(unittest.TestCase):
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="gregor-mp-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def broker(self, tmp, nofile=4096, overrides=None):
        b = LimitedBroker(nofile, data_dir=tmp, overrides=overrides)
        self.addCleanup(b.cleanup)
        return b


@gregor_only("runs gregor under a lowered open-files limit and counts its descriptors in /proc")
class ManyPartitionsTest(Tmp):
    def test_3000_partitions_under_4096_descriptors(self):
        tmp = self.tmpdir()
        names = ["mp-%03d" % i for i in range(600)]
        values = [(n, k, ("%s/%d" % (n, k)).encode()) for n in names for k in range(5)]
        b = self.broker(tmp)
        with b:
            b.wait_for_log(r"open-files limit \(RLIMIT_NOFILE\): 4096")
            res = create_topics(admin_of(b), names, 5)
            self.assertEqual({n: e for n, e in res.items() if e is not None}, {})
            self.assertEqual(produce(b, values), (0, []))
            total, logs, idx = b.fds()
            self.assertLess(total, 4096)
            self.assertEqual(idx, 0)  # index files are mapped, their descriptors closed
            self.assertLessEqual(logs, 3000 + 50 + 8)  # one per partition (and __consumer_offsets)
        b2 = self.broker(tmp)
        with b2:
            got = consume(b2, [(n, k) for n, k, _ in values], len(values))
            self.assertEqual(len(got), len(values))
            self.assertEqual(got, set(values))
            self.assertNotIn("Too many open files", b2.log())

    def test_tiny_segments_keep_descriptors_bounded(self):
        """segment.bytes=14: every batch rolls a segment; 400 segments in
        4 partitions, and the broker holds at most one descriptor per
        partition plus gregor.log.open.segments.max on them."""
        tmp = self.tmpdir()
        b = self.broker(tmp, nofile=1024, overrides={"gregor.log.open.segments.max": "16"})
        values = [("tiny", i % 4, b"v%04d" % i) for i in range(400)]
        with b:
            res = create_topics(admin_of(b), ["tiny"], 4, {"segment.bytes": "14"})
            self.assertEqual(res, {"tiny": None})
            from confluent_kafka import Producer
            p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": 1})
            for t, k, v in values:  # one batch per record: one segment each
                p.produce(t, value=v, partition=k)
                p.flush(10)
            self.assertEqual(p.flush(10), 0)
            p = None
            segs = [n for k in range(4) for n in os.listdir(os.path.join(data_dir(b), "tiny-%d" % k))
                    if n.endswith(".log")]
            self.assertGreaterEqual(len(segs), 400)
            got = consume(b, [("tiny", k) for k in range(4)], len(values))
            self.assertEqual(got, set(values))
            total, logs, idx = b.fds()
            self.assertEqual(idx, 0)
            self.assertLessEqual(logs, 4 + 16 + 50 + 4)  # actives, cache, __consumer_offsets, pinned
        b2 = self.broker(tmp, nofile=1024, overrides={"gregor.log.open.segments.max": "16"})
        with b2:
            got = consume(b2, [("tiny", k) for k in range(4)], len(values))
            self.assertEqual(got, set(values))
            total, logs, idx = b2.fds()
            self.assertLessEqual(logs, 4 + 16 + 50 + 4)


@gregor_only("provokes a failed creation with gregor's open-files limit or by breaking its topic store file")
class AllOrNothingCreateTest(Tmp):
    def test_create_failing_for_descriptors_leaves_nothing(self):
        tmp = self.tmpdir()
        b = self.broker(tmp, nofile=200)
        with b:
            admin = admin_of(b)
            self.assertEqual(create_topics(admin, ["fits"], 3), {"fits": None})
            res = create_topics(admin, ["huge"], 400)
            self.assertIsNotNone(res["huge"])
            self.assertEqual(res["huge"].code(), KAFKA_STORAGE_ERROR)
            self.assertEqual(dirs_of(b, "huge"), [])
            self.assertNotIn("huge", admin.list_topics(timeout=10).topics)
            # CreatePartitions: all or nothing too
            from confluent_kafka.admin import NewPartitions
            fs = admin.create_partitions([NewPartitions("fits", 400)], operation_timeout=30, request_timeout=60)
            from confluent_kafka import KafkaException
            with self.assertRaises(KafkaException) as cm:
                fs["fits"].result(timeout=60)
            self.assertEqual(cm.exception.args[0].code(), KAFKA_STORAGE_ERROR)
            self.assertEqual(dirs_of(b, "fits"), ["fits-0", "fits-1", "fits-2"])
            self.assertEqual(len(admin.list_topics(timeout=10).topics["fits"].partitions), 3)
            admin = None
        b2 = self.broker(tmp, nofile=200)
        with b2:
            admin = admin_of(b2)
            topics = admin.list_topics(timeout=10).topics
            self.assertNotIn("huge", topics)
            self.assertEqual(len(topics["fits"].partitions), 3)
            self.assertEqual(dirs_of(b2, "huge"), [])
            self.assertEqual(create_topics(admin, ["after"], 2), {"after": None})
            admin = None

    def test_store_write_failure_undoes_the_creation(self):
        """Item 4: the topic store cannot be written (here its temporary
        file's name is taken by a directory: the write fails as on a full
        disk): the topic is answered KAFKA_STORAGE_ERROR, its directories
        go, and after a restart it is not there (with default configs or
        any)."""
        tmp = self.tmpdir()
        b = self.broker(tmp)
        with b:
            admin = admin_of(b)
            self.assertEqual(create_topics(admin, ["before"], 1), {"before": None})
            blocker = os.path.join(data_dir(b), "gregor-topics.properties.tmp")
            os.mkdir(blocker)
            res = create_topics(admin, ["compacted"], 2, {"cleanup.policy": "compact", "retention.ms": "-1"})
            self.assertIsNotNone(res["compacted"])
            self.assertEqual(res["compacted"].code(), KAFKA_STORAGE_ERROR)
            wait_until(lambda: dirs_of(b, "compacted") == [], 10, "the failed topic's directories to go")
            self.assertNotIn("compacted", admin.list_topics(timeout=10).topics)
            from confluent_kafka.admin import NewPartitions
            from confluent_kafka import KafkaException
            fs = admin.create_partitions([NewPartitions("before", 3)], operation_timeout=30, request_timeout=60)
            with self.assertRaises(KafkaException) as cm:
                fs["before"].result(timeout=60)
            self.assertEqual(cm.exception.args[0].code(), KAFKA_STORAGE_ERROR)
            self.assertEqual(dirs_of(b, "before"), ["before-0"])
            os.rmdir(blocker)
            admin = None
        b2 = self.broker(tmp)
        with b2:
            admin = admin_of(b2)
            topics = admin.list_topics(timeout=10).topics
            self.assertNotIn("compacted", topics)
            self.assertEqual(len(topics["before"].partitions), 1)
            self.assertEqual(dirs_of(b2, "compacted"), [])
            self.assertEqual(create_topics(admin, ["compacted"], 2, {"cleanup.policy": "compact"}),
                             {"compacted": None})
            admin = None

    def test_unlisted_directory_is_set_aside_not_adopted(self):
        tmp = self.tmpdir()
        b = self.broker(tmp)
        with b:
            self.assertEqual(create_topics(admin_of(b), ["listed", "held"], 1), {"listed": None, "held": None})
            self.assertEqual(produce(b, [("held", 0, b"acknowledged")]), (0, []))
        # a crash between making a partition directory and writing the store
        shutil.copytree(os.path.join(data_dir(b), "listed-0"), os.path.join(data_dir(b), "ghost-0"))
        shutil.copytree(os.path.join(data_dir(b), "listed-0"), os.path.join(data_dir(b), "listed-1"))
        # ... of a topic auto-created and produced to before its store write:
        # its records were acknowledged, so the directory is adopted
        shutil.copytree(os.path.join(data_dir(b), "held-0"), os.path.join(data_dir(b), "auto-0"))
        os.unlink(os.path.join(data_dir(b), "auto-0", "partition.metadata"))
        b2 = self.broker(tmp)
        with b2:
            b2.wait_for_log(r"partition directory ghost-0 is not in gregor-topics.properties")
            topics = admin_of(b2).list_topics(timeout=10).topics
            self.assertNotIn("ghost", topics)
            self.assertEqual(len(topics["listed"].partitions), 1)
            self.assertEqual(len(topics["auto"].partitions), 1)
            self.assertEqual(consume(b2, [("auto", 0)], 1), {("auto", 0, b"acknowledged")})
            left = sorted(os.listdir(data_dir(b2)))
            self.assertNotIn("ghost-0", left)
            self.assertNotIn("listed-1", left)
            self.assertTrue(any(n.startswith("ghost-0.") and n.endswith("-stray") for n in left), left)
            self.assertTrue(any(n.startswith("listed-1.") and n.endswith("-stray") for n in left), left)


if __name__ == "__main__":
    unittest.main()
