"""
Log compaction (cleanup.policy=compact): Kafka's log cleaner keeps the
latest record of each key, leaves offsets where they were, keeps
tombstones for delete.retention.ms and then drops them.

Segments roll by segment.ms when a record arrives after it (Kafka rolls on
append; Gregor also on its retention timer), so every round below writes,
waits past segment.ms and writes one more record: the data before it is
then in a closed segment, which the cleaner (log.cleaner.backoff.ms small)
may clean. The Gregor-only tests kill the broker while it cleans and read
the cleaned segments with Kafka's DumpLogSegments.
"""

import glob
import os
import random
import re
import signal
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from broker import Broker, BrokerTestCase, gregor_only, wait_until

DEADLINE = 60.0
SEGMENT_MS = 400

OVERRIDES = {
    "log.cleaner.backoff.ms": "100",
    "log.retention.check.interval.ms": "100",
}


def create_topic(bootstrap, topic, delete_retention_ms=86400000):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    cfg = {
        "cleanup.policy": "compact",
        "segment.ms": str(SEGMENT_MS),
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": str(delete_retention_ms),
    }
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=cfg)])
    for f in fs.values():
        f.result(30)


def produce(bootstrap, topic, records):
    """records: [(key, value or None)]; returns {key: last offset} in order
    of delivery, all acknowledged (acks=all)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "queue.buffering.max.messages": 1000000})
    offsets, errors = [], []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            offsets.append((msg.key().decode(), msg.offset(), msg.value()))

    for k, v in records:
        p.produce(topic, key=k.encode(), value=None if v is None else v.encode(), on_delivery=report)
    left = p.flush(30)
    assert left == 0 and not errors, (left, errors)
    return offsets


def read_all(bootstrap, topic, isolation="read_uncommitted"):
    """Every record from the log start: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cmp-%d" % random.randrange(1 << 30),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "isolation.level": isolation})
    c.assign([TopicPartition(topic, 0, -2)])
    out = []
    end = time.monotonic() + 30
    try:
        while time.monotonic() < end:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    break
                raise AssertionError(m.error())
            out.append((m.offset(), m.key().decode(), None if m.value() is None else m.value().decode()))
    finally:
        c.close()
    return out


def roll(bootstrap, topic, tag):
    """Past segment.ms, one more record: what came before is in a closed segment."""
    time.sleep(SEGMENT_MS / 1000.0 + 0.2)
    return produce(bootstrap, topic, [("roll", tag)])


def latest(delivered):
    """{key: (offset, value)} of the last write of each key."""
    last = {}
    for k, off, v in delivered:
        last[k] = (off, None if v is None else v.decode())
    return last


class CompactionTest(BrokerTestCase):
    OVERRIDES = OVERRIDES

    def test_latest_value_per_key(self):
        b = self.broker.bootstrap
        topic = "cmp-latest"
        create_topic(b, topic)
        records = [("k%02d" % k, "v%02d-%d" % (k, i)) for i in range(10) for k in range(30)]
        records += [("k%02d" % k, None) for k in range(0, 30, 6)]  # tombstones
        delivered = produce(b, topic, records)
        delivered += roll(b, topic, "r1")
        want = latest(delivered)

        def compacted():
            got = read_all(b, topic)
            return len(got) == len(want) and got
        got = wait_until(compacted, DEADLINE, "only the latest record of each key", interval=0.5)
        seen = {k: (off, v) for off, k, v in got}
        self.assertEqual(seen, want)  # same offsets, latest values, tombstones kept
        offs = [off for off, _, _ in got]
        self.assertEqual(offs, sorted(offs))

    def test_tombstones_go_after_delete_retention(self):
        b = self.broker.bootstrap
        topic = "cmp-tombstones"
        create_topic(b, topic, delete_retention_ms=1000)
        records = [("t%d" % k, "x%d-%d" % (k, i)) for i in range(5) for k in range(10)]
        records += [("t%d" % k, None) for k in range(0, 10, 2)]
        delivered = produce(b, topic, records)
        delivered += roll(b, topic, "a")
        want = latest(delivered)

        def cleaned():
            keys = [k for _, k, _ in read_all(b, topic) if k.startswith("t")]
            return len(keys) == len(set(keys))
        wait_until(cleaned, DEADLINE, "the first cleaning", interval=0.5)
        # The first cleaning keeps the tombstones until their horizon
        # (tests/unit/test_cleaner.c checks that to the millisecond); a
        # slow read can come after a later cleaning has removed them.
        self.assertIn(sum(1 for _, _, v in read_all(b, topic) if v is None), (0, 5))
        # Later rounds: once delete.retention.ms has passed, the tombstones go.
        deadline = time.monotonic() + DEADLINE
        n = 0
        while True:
            got = read_all(b, topic)
            if not any(v is None for _, _, v in got):
                break
            self.assertLess(time.monotonic(), deadline, "tombstones still there: %r" % got)
            n += 1
            produce(b, topic, [("other", str(n))])
            roll(b, topic, "r%d" % n)
            time.sleep(0.5)
        got = read_all(b, topic)
        live = {k: v for k, (off, v) in want.items() if v is not None and k.startswith("t")}
        self.assertEqual({k: v for _, k, v in got if k.startswith("t")}, live)
        for off, k, v in got:
            if k in live:
                self.assertEqual(off, want[k][0])


def dump(kf, args, files):
    """DumpLogSegments over files: its stdout. A compacted log has gaps, so
    unlike test_kafka_format.run_dump, "Non-consecutive offsets" reports are
    expected; anything else on stderr, or a non-zero exit, fails."""
    cmd = [kf.KAFKA_REF, "run", kf.DUMP] + list(args) + ["--files", ",".join(files)]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=kf.DUMP_DEADLINE)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    assert p.returncode == 0, (p.returncode, err[-4000:])
    bad = [line for line in err.splitlines()
           if not re.match(r"^(Non-consecutive offsets in .+|  -?\d+ is followed by -?\d+)$", line)]
    assert not bad, "DumpLogSegments %s reported:\n%s" % (" ".join(args), "\n".join(bad[:40]))
    for bad_out in ("Mismatches in", "Found timestamp mismatch", "Found out of order", "not found in"):
        assert bad_out not in out + err, out[-4000:]
    return out


def topic_logs(broker, topic):
    return sorted(glob.glob(os.path.join(broker.data_dir, "data", "%s-0" % topic, "*.log")))


@gregor_only("kills Gregor while it cleans and reads its files")
class CompactionCrashTest(unittest.TestCase):
    KEYS = 20000
    RECORDS = 100000
    ROUNDS = 4

    def test_kill_9_while_cleaning(self):
        """Rounds of updates, each followed by a kill -9 a few milliseconds
        after a cleaning starts (a cleaning of a round takes tens of
        milliseconds: most kills land inside it, before or after its
        commit); after each restart every acknowledged latest value is
        read back at its offset, and in the end the log is clean."""
        broker = Broker(overrides=OVERRIDES)
        try:
            broker.start()
            topic = "cmp-kill"
            create_topic(broker.bootstrap, topic)
            delivered = []
            rng = random.Random(7)
            kills = interrupted = 0
            for r in range(self.ROUNDS):
                records = [("k%05d" % rng.randrange(self.KEYS), "r%d-%d" % (r, i)) for i in range(self.RECORDS)]
                records += [("k%05d" % k, None) for k in range(r, self.KEYS, 97)]
                with open(broker.log_path, "rb") as log:
                    log.seek(0, os.SEEK_END)
                    delivered += produce(broker.bootstrap, topic, records)
                    # Gregor rolls by segment.ms on its retention timer too:
                    # the cleaning starts without another record. The log's
                    # new lines, read as they come (a cleaning lasts only
                    # tens of milliseconds).
                    seen_log, end = b"", time.monotonic() + DEADLINE
                    while b"cleaning [" not in seen_log:
                        self.assertLess(time.monotonic(), end, "no cleaning started")
                        seen_log += log.read()
                time.sleep(0.002 * (r % 4))
                broker.proc.send_signal(signal.SIGKILL)
                broker.proc.wait()
                kills += 1
                lines = [line for line in broker.log().splitlines() if "cleaning [" in line or "cleaned" in line]
                if lines and "cleaning [" in lines[-1]:
                    interrupted += 1
                if os.environ.get("CMP_DEBUG"):
                    print("\n".join(lines))
                broker.start()
                want = latest(delivered)
                got = read_all(broker.bootstrap, topic)
                seen = {}
                for off, k, v in got:
                    seen[k] = (off, v)
                self.assertEqual(seen, want, "after kill %d" % kills)
            self.assertGreater(interrupted, 0, "no kill landed inside a cleaning")
            # and it is cleaned in the end ("roll" records stay: the last is
            # in the active segment, so the older ones are not dirty any more)
            want = {k: v for k, v in latest(delivered).items() if k != "roll"}

            def cleaned():
                got = [(off, k, v) for off, k, v in read_all(broker.bootstrap, topic) if k != "roll"]
                return len(got) == len(want) and {k: (off, v) for off, k, v in got} == want
            wait_until(cleaned, DEADLINE, "the cleaning to finish after the restarts", interval=0.5)
            leftovers = [f for f in os.listdir(os.path.join(broker.data_dir, "data", "%s-0" % topic))
                         if f.endswith((".cleaned", ".swap", ".deleted"))]
            self.assertEqual(leftovers, [])
            broker.stop()
        finally:
            broker.cleanup()

    def test_dump_log_segments_reads_cleaned_log(self):
        import test_kafka_format as kf
        if kf.JAVA is None:
            self.skipTest(kf.SKIP_REASON)
        kf.fetch_kafka()
        broker = Broker(overrides=OVERRIDES)
        try:
            broker.start()
            topic = "cmp-dump"
            create_topic(broker.bootstrap, topic)
            records = [("d%03d" % (i % 50), "v%d" % i) for i in range(3000)]
            records += [("d%03d" % k, None) for k in range(0, 50, 7)]
            delivered = produce(broker.bootstrap, topic, records)
            delivered += roll(broker.bootstrap, topic, "r")
            want = latest(delivered)
            wait_until(lambda: len(read_all(broker.bootstrap, topic)) == len(want), DEADLINE, "the cleaning",
                       interval=0.5)
            broker.stop()
            logs = topic_logs(broker, topic)
            text = dump(kf, ["--deep-iteration"], logs)
            self.assertNotIn("isvalid: false", text)
            self.assertNotIn("invalid bytes", text)
            offsets = [int(x) for x in re.findall(r"^\| offset: (\d+) ", text, re.M)]
            self.assertEqual(sorted(offsets), sorted(o for o, _ in want.values()))
            indexes = [f[:-4] + ".index" for f in logs] + [f[:-4] + ".timeindex" for f in logs]
            dump(kf, ["--index-sanity-check"], [f for f in indexes if os.path.exists(f)])
            dump(kf, [], [f for f in indexes if os.path.exists(f)])
        finally:
            broker.cleanup()


class OffsetsTopicSegmentBytesTest(unittest.TestCase):
    """offsets.topic.segment.bytes is the segment.bytes __consumer_offsets is
    created with (Kafka's key; 100 MiB by default): small, its segments roll
    and the cleaner can compact the closed ones."""

    def test_created_with_offsets_topic_segment_bytes(self):
        broker = Broker(overrides={"offsets.topic.segment.bytes": "1048576", "offsets.topic.num.partitions": "1"})
        try:
            broker.start()
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            for f in admin.create_topics([NewTopic("cmp-seg-data", num_partitions=1, replication_factor=1)]).values():
                f.result(30)
            c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "cmp-seg", "enable.auto.commit": False})
            c.commit(offsets=[TopicPartition("cmp-seg-data", 0, 1)], asynchronous=False)
            c.close()
            res = ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")
            cfg = admin.describe_configs([res])[res].result(30)
            self.assertEqual(cfg["segment.bytes"].value, "1048576")
            self.assertEqual(cfg["cleanup.policy"].value, "compact")
        finally:
            broker.cleanup()


@gregor_only("waits for Gregor's log line of the cleaning of __consumer_offsets")
class OffsetsTopicCompactionTest(unittest.TestCase):
    """__consumer_offsets is compacted (cleanup.policy=compact, as Kafka
    creates it): after many commits of one group and a cleaning, the group
    coordinator's replay at start-up still finds the last commit."""

    OVERRIDES = dict(OVERRIDES, **{
        "log.roll.ms": "500",
        "log.cleaner.min.cleanable.ratio": "0.01",
        "offsets.topic.num.partitions": "1",
    })

    def test_replay_after_cleaning(self):
        broker = Broker(overrides=self.OVERRIDES)
        try:
            broker.start()
            topic = "cmp-group-data"
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            for f in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
                f.result(30)
            produce(broker.bootstrap, topic, [("x", "y")])

            def commit_all(first, last):
                c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "cmp-g",
                              "enable.auto.commit": False})
                for i in range(first, last + 1):
                    c.commit(offsets=[TopicPartition(topic, 0, i), TopicPartition(topic, 1, 2 * i)],
                             asynchronous=False)
                c.close()
            commit_all(1, 300)
            mark = broker.log().count("partition __consumer_offsets-0: cleaned")
            wait_until(lambda: broker.log().count("partition __consumer_offsets-0: cleaned") > mark, DEADLINE,
                       "a cleaning of __consumer_offsets-0", interval=0.05)
            commit_all(301, 310)
            for how in ("stop", "kill"):
                if how == "stop":
                    broker.stop()
                else:
                    broker.proc.send_signal(signal.SIGKILL)
                    broker.proc.wait()
                broker.start()
                c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "cmp-g"})
                got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=30)
                c.close()
                self.assertEqual([(tp.partition, tp.offset) for tp in got], [(0, 310), (1, 620)], how)
            if os.environ.get("CMP_DEBUG"):
                print(broker.log())
            broker.stop()
        finally:
            broker.cleanup()


if __name__ == "__main__":
    unittest.main()
