"""A full disk under log.dirs (issue 18): the broker neither crashes nor
goes offline for good.

Each test mounts a 64 MiB tmpfs as the broker's log.dirs (we run as root;
the test is skipped with the reason where mount fails) and fills it.

Before the fix the index files (.index, .timeindex), extended sparse with
ftruncate and mapped shared, took a SIGBUS when an entry went into a page
that had no block: the broker died with exit status 135 at run time, and on
every restart (the recovery rebuilds indexes) until space was freed, with
no log line. Now:

- a full disk is an append error: the producer is answered
  KAFKA_STORAGE_ERROR (56), at once, never a hang or a dead connection;
- what was acknowledged stays readable, during and after, restarts too
  (a SIGKILL while the disk is full, and a start whose recovery must
  rebuild a deleted .index without space for it);
- once space is freed (here: topic B deleted, a filler file removed) the
  same partitions take appends again, with no restart;
- the log says so in a few lines, not one per failed append.

A file-size limit (ulimit -f) reached is the same kind of error
(test_file_size_limit), not a SIGXFSZ death.

Gregor-only: it mounts a file system for the broker's data directory and
reads Gregor's log and files. (Kafka marks the log directory offline on
an append's IOException; with its only log directory gone the broker
stops: docs/compatibility.md, "A full disk".)
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from broker import Broker, gregor_only, wait_until
from test_admin import delete_topics_v1
from test_data import RawClient, build_batch, parse_records

NONE = 0
KAFKA_STORAGE_ERROR = 56
TMPFS_SIZE = "64m"
DEADLINE = 15.0
SIGBUS_EXIT = 128 + signal.SIGBUS  # what a shell reports for a SIGBUS death

A, B = "disk-a", "disk-b"


def mount_tmpfs(path, size=TMPFS_SIZE):
    """Mount a tmpfs at path; None, or why it cannot be done."""
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "mount: %s" % e
    return None if p.returncode == 0 else "mount -t tmpfs failed (%d): %s" % (p.returncode, p.stderr.strip())


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_file(path):
    """Append to path until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


@gregor_only("mounts a tmpfs as the broker's log.dirs and reads Gregor's log and data files")
class DiskFullTest(unittest.TestCase):
    OVERRIDES = {
        "log.index.interval.bytes": "0",  # an index entry for every batch: the pages fill fast
        "num.partitions": "1",
    }

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gregor-diskfull-")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        why = mount_tmpfs(self.data)
        if why:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.skipTest("cannot mount a tmpfs for log.dirs (%s)" % why)
        self.broker = None
        self.client = None
        self.logs = []  # every start's log, for the line counts

    def tearDown(self):
        if self.client:
            self.client.close()
        if self.broker:
            self.broker.cleanup()
        subprocess.run(["umount", self.data], capture_output=True, timeout=60)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- broker and client ------------------------------------------------

    def start(self, overrides=None):
        conf = dict(self.OVERRIDES)
        conf.update(overrides or {})
        self.broker = Broker(data_dir=self.tmp, overrides=conf)
        self.broker.start()
        self.client = RawClient(self.broker.host, self.broker.port)
        return self.broker

    def stop(self, kill=False):
        self.client.close()
        self.client = None
        if kill:
            self.broker.proc.send_signal(signal.SIGKILL)
            self.broker.proc.wait(10)
        else:
            self.broker.stop()  # asserts a clean exit (0)
        self.logs.append(self.broker.log())
        self.broker.cleanup()
        self.broker = None

    def assert_alive(self, when):
        rc = self.broker.proc.poll()
        if rc is not None:
            self.fail("gregor exited with %d %s (%s); log:\n%s"
                      % (rc, when, "SIGBUS" if rc in (SIGBUS_EXIT, -signal.SIGBUS) else "", self.broker.log()[-4000:]))

    def produce(self, topic, values, acks=-1):
        """One batch of `values`; the partition response. A hang would
        time out the socket (5 s): that fails the test too."""
        try:
            return self.client.produce(topic, 0, build_batch(values), acks=acks)
        except ConnectionError:
            self.broker.proc.wait(5)
            self.assert_alive("during a produce to %s" % topic)
            raise

    def fill(self, topic, sizes=(512 << 10, 64 << 10, 4 << 10, 256)):
        """Produce to topic until even small batches fail: the disk is full.
        Every refusal must be KAFKA_STORAGE_ERROR. Returns the offset after
        the last acknowledged record."""
        refused, end = 0, 0
        for size in sizes:
            for i in range(100000):
                r = self.produce(topic, [b"f" * size])
                if r["error_code"] == NONE:
                    end = r["base_offset"] + 1
                else:
                    self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)
                    refused += 1
                    break
        self.assertEqual(refused, len(sizes))
        self.assert_alive("while the disk filled")
        return end

    def read_all(self, topic, end):
        """[(offset, value)] of topic partition 0 from 0 to end."""
        got, offset = [], 0
        while offset < end:
            r = self.client.fetch(topic, 0, offset)
            self.assertEqual(r["error_code"], NONE, r)
            recs = parse_records(r["records"] or b"")
            recs = [(o, v) for o, _, v in recs if o >= offset]
            self.assertTrue(recs, "no records from offset %d (end %d)" % (offset, end))
            got += recs
            offset = recs[-1][0] + 1
        return got

    def assert_acked_readable(self, topic, acked):
        """Every acknowledged record is there, at its offset, with its value."""
        end = max(acked) + 1
        got = dict(self.read_all(topic, end))
        missing = [o for o in acked if got.get(o) != acked[o]]
        self.assertEqual(missing, [], "acknowledged records missing or changed")

    def delete_topic_b(self):
        """Free the space: DeleteTopics B; its files go off the loop."""
        before = free_bytes(self.data)
        res = delete_topics_v1(self.broker, [B])
        self.assertEqual(res, [{"name": B, "error": NONE}])
        wait_until(lambda: free_bytes(self.data) > before + (32 << 20), DEADLINE, "topic B's files to be removed")

    def produce_until_ok(self, topic, value):
        """Once space is back, an append works again: the first that does
        (without a restart)."""
        def ok():
            r = self.produce(topic, [value])
            if r["error_code"] == NONE:
                return r
            self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)
            return None
        return wait_until(ok, DEADLINE, "an append to %s to succeed after space was freed" % topic, interval=0.1)

    def failure_lines(self, log, topic):
        return re.findall(r"ERROR +partition %s-0: append failed" % re.escape(topic), log)

    # ---- the recipes --------------------------------------------------------

    def test_full_disk_at_run_time(self):
        """511 single-record batches to A, B fills the disk, more batches to
        A: before the fix exit 135 (the offset index's next page), and 135
        again on every restart."""
        self.start()
        acked = {}
        for i in range(511):
            v = b"a-%d" % i
            r = self.produce(A, [v])
            self.assertEqual(r["error_code"], NONE, r)
            acked[r["base_offset"]] = v
        b_end = self.fill(B)

        # A's next batches: some may still fit in the pages A already has;
        # the rest are refused with KAFKA_STORAGE_ERROR, none kills the broker.
        refused = 0
        for i in range(300):
            v = b"a-more-%d" % i
            r = self.produce(A, [v])
            self.assert_alive("after a produce to %s on a full disk" % A)
            if r["error_code"] == NONE:
                acked[r["base_offset"]] = v
                continue
            self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)
            refused += 1
            if refused == 50:
                break
        self.assertEqual(refused, 50, "the disk never refused A's appends")
        self.assert_acked_readable(A, acked)
        # A few lines for all those failures (one per partition per 10 s).
        log = self.broker.log()
        self.assertLessEqual(len(self.failure_lines(log, A)), 3, log[-4000:])
        self.assertGreaterEqual(len(self.failure_lines(log, A)), 1, log[-4000:])

        # An unclean restart on the full disk: recovery rebuilds the active
        # segments' indexes (SIGBUS on every restart before the fix).
        self.stop(kill=True)
        self.start()
        self.assert_alive("after a restart on the full disk")
        self.assert_acked_readable(A, acked)
        # The refused 512 KiB batches were written in part before ENOSPC:
        # each was cut off again, so recovery's check of B finds nothing to
        # cut and B ends after its last acknowledged record.
        self.assertNotIn("recovery cut", self.broker.log())
        r = self.client.fetch(B, 0, b_end)
        self.assertEqual((r["error_code"], r["high_watermark"]), (NONE, b_end), r)
        r = self.produce(A, [b"still-full"])
        if r["error_code"] == NONE:
            acked[r["base_offset"]] = b"still-full"
        else:
            self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)

        # Space freed: the same partition takes appends again, no restart.
        self.delete_topic_b()
        # The deletion came while the topic store could not be written:
        # it is written again once B's files are gone, so that B does not
        # come back after a restart (even a kill -9).
        store = os.path.join(self.data, "gregor-topics.properties")

        def store_without_b():
            with open(store) as f:
                return (B + "/") not in f.read()
        wait_until(store_without_b, DEADLINE, "the topic store to be written without %s" % B)
        r = self.produce_until_ok(A, b"after-free")
        acked[r["base_offset"]] = b"after-free"
        for i in range(20):
            v = b"after-free-%d" % i
            r = self.produce(A, [v])
            self.assertEqual(r["error_code"], NONE, r)
            acked[r["base_offset"]] = v
        self.broker.wait_for_log(r"INFO +partition %s-0: appends work again, after \d+ failed append" % A)
        self.assert_acked_readable(A, acked)

        # A clean restart: every acknowledged record comes back; B does not.
        self.stop()
        self.start()
        self.assert_acked_readable(A, acked)
        self.assertTrue(store_without_b())
        self.stop()
        for log in self.logs:
            self.assertNotIn("Bus error", log)
        total = sum(len(self.failure_lines(log, A)) + len(self.failure_lines(log, B)) for log in self.logs)
        self.assertLessEqual(total, 8, "\n".join(self.logs)[-4000:])

    def test_index_rebuild_on_a_full_disk(self):
        """Fill the disk, stop, delete a closed segment's .index (recovery
        rebuilds it), start: before the fix "Bus error" at start-up. Now the
        broker starts (the index is rebuilt as far as the space allows, with
        a warning), reads work, and appends work once space is freed."""
        self.start({"log.segment.bytes": "1048576"})
        acked = {}
        for i in range(1500):  # ~1.5 MiB: two segments of A
            v = b"%06d-" % i + b"x" * 1000
            r = self.produce(A, [v], acks=1)
            self.assertEqual(r["error_code"], NONE, r)
            acked[r["base_offset"]] = v
        adir = os.path.join(self.data, "%s-0" % A)
        logs = sorted(f for f in os.listdir(adir) if f.endswith(".log"))
        self.assertGreaterEqual(len(logs), 2, logs)
        filler = os.path.join(self.data, "filler")
        open(filler, "wb").close()  # a full tmpfs has no room for a new inode either
        self.fill(B)
        self.stop()

        # The clean stop trimmed the active indexes (freeing their blocks):
        # fill what that freed, then delete the first segment's offset index.
        fill_file(filler)
        first_index = os.path.join(adir, logs[0][:-4] + ".index")
        os.unlink(first_index)
        fill_file(filler)  # and what the unlink freed

        self.start({"log.segment.bytes": "1048576"})
        self.assert_alive("after a start that rebuilt an index on a full disk")
        self.assertTrue(os.path.exists(first_index))
        self.assert_acked_readable(A, acked)
        # A read from the middle of the rebuilt segment (by its index, or a
        # scan from the start where the disk had no room for the index).
        mid = len(acked) // 4
        r = self.client.fetch(A, 0, mid, partition_max_bytes=4096)
        self.assertEqual(r["error_code"], NONE, r)
        recs = parse_records(r["records"])
        self.assertIn((mid, acked[mid]), [(o, v) for o, _, v in recs])
        r = self.produce(A, [b"still-full"])
        if r["error_code"] == NONE:
            acked[r["base_offset"]] = b"still-full"
        else:
            self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)

        os.unlink(filler)
        self.delete_topic_b()
        r = self.produce_until_ok(A, b"after-free")
        acked[r["base_offset"]] = b"after-free"
        self.stop()
        self.start({"log.segment.bytes": "1048576"})
        self.assert_acked_readable(A, acked)
        self.stop()
        for log in self.logs:
            self.assertNotIn("Bus error", log)

    def test_roll_on_a_full_disk(self):
        """Small segments: A must roll while the disk is full. A roll that
        cannot create the new segment's files is an append error (no
        half-made segment left behind, the old one stays active), and
        rolls work again once space is freed."""
        seg = {"log.segment.bytes": "16384"}
        self.start(seg)
        acked = {}
        for i in range(40):  # ~10 segments
            v = b"%04d-" % i + b"r" * 4000
            r = self.produce(A, [v])
            self.assertEqual(r["error_code"], NONE, r)
            acked[r["base_offset"]] = v
        self.fill(B)
        refused = 0
        for i in range(40):
            v = b"%04d-full-" % i + b"r" * 4000
            r = self.produce(A, [v])
            self.assert_alive("after a produce that needed a roll on a full disk")
            if r["error_code"] == NONE:
                acked[r["base_offset"]] = v
            else:
                self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)
                refused += 1
        self.assertGreater(refused, 30)
        self.assert_acked_readable(A, acked)
        adir = os.path.join(self.data, "%s-0" % A)
        names = os.listdir(adir)
        bases = sorted(f[:-4] for f in names if f.endswith(".log"))
        for base in bases[:-1]:
            # every closed segment has its indexes and batches: no half-made one
            self.assertIn(base + ".index", names)
            self.assertIn(base + ".timeindex", names)
            self.assertGreater(os.path.getsize(os.path.join(adir, base + ".log")), 0, base)

        self.delete_topic_b()
        r = self.produce_until_ok(A, b"after-free")
        acked[r["base_offset"]] = b"after-free"
        for i in range(20):  # several rolls
            v = b"%04d-after-" % i + b"r" * 4000
            r = self.produce(A, [v])
            self.assertEqual(r["error_code"], NONE, r)
            acked[r["base_offset"]] = v
        self.assertGreater(len([f for f in os.listdir(adir) if f.endswith(".log")]), len(bases) + 3)
        self.assert_acked_readable(A, acked)
        self.stop()
        self.start(seg)
        self.assert_acked_readable(A, acked)
        self.stop()
        log = "\n".join(self.logs)
        self.assertNotIn("Bus error", log)
        self.assertLessEqual(len(self.failure_lines(log, A)), 3, log[-4000:])

    def test_file_size_limit(self):
        """A file-size limit (RLIMIT_FSIZE, ulimit -f) reached: SIGXFSZ
        killed the broker (exit -25, no log line); now the write fails with
        EFBIG and the append with KAFKA_STORAGE_ERROR, and appends work
        again once the limit is raised."""
        import resource
        self.start()
        acked = {}
        r = self.produce(A, [b"first"])
        self.assertEqual(r["error_code"], NONE, r)
        acked[r["base_offset"]] = b"first"
        soft, hard = resource.prlimit(self.broker.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.broker.proc.pid, resource.RLIMIT_FSIZE, (1 << 20, hard))  # the soft limit signals
        refused = 0
        for i in range(40):
            v = b"%04d-" % i + b"l" * 100000
            r = self.produce(A, [v])
            self.assert_alive("after a produce past the file-size limit")
            if r["error_code"] == NONE:
                acked[r["base_offset"]] = v
            else:
                self.assertEqual(r["error_code"], KAFKA_STORAGE_ERROR, r)
                refused += 1
        self.assertGreater(refused, 20)
        self.assert_acked_readable(A, acked)
        self.assertIn("File too large", self.broker.log())
        resource.prlimit(self.broker.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
        r = self.produce(A, [b"after"])
        self.assertEqual(r["error_code"], NONE, r)
        acked[r["base_offset"]] = b"after"
        self.stop()
        self.start()
        self.assert_acked_readable(A, acked)
        self.stop()


if __name__ == "__main__":
    unittest.main()
