#!/usr/bin/python3
"""
kill -9 test: no acknowledged message is lost when the broker process dies.

Each run: start gregor on a fresh data directory; an acks=all producer
(confluent_kafka, linger.ms=5, enable.idempotence=false) sends
sequence-numbered messages to every partition of one topic as fast as it
can and records each message whose delivery report succeeded; after a
random 1-3 s the broker gets SIGKILL in the middle of that traffic; it is
restarted on the same data directory and every partition is read from
offset 0. Per partition the log must hold:

  - every acknowledged message (none lost);
  - every message sent before the last acknowledged one (no gap in the
    acknowledged prefix);
  - messages in the order they were sent, each once, at offsets 0, 1, 2, ...;
  - only messages that were sent, with the bytes that were sent.

Messages sent but never acknowledged may be present or not ("extra"; a
batch can reach the page cache and the kill come before the answer).

The producer runs with retries=0: no message is ever sent twice, so a
duplicate can only be the broker's doing, and order is the send order.

After the acks=all runs (gregor's default: the answer waits for
fdatasync), contrast runs use gregor.acks.all.fsync=false, with acks=1 and
with acks=all. They lose nothing either: kill -9 keeps the page cache; what
fsync buys is survival of a power cut, which this test cannot simulate.

    /usr/bin/python3 tests/crash/crash_test.py [N] [--seed S] [--partitions P]

N (default 5) is the number of acks=all runs. Segments are 1 MiB by
default (--segment-bytes), so that logs roll during a run and recovery
has several segments to walk. GREGOR_BIN selects the
binary (default build/broker/gregor). Exit status 0 when every run passes.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from broker import Broker, wait_until  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TOPIC = "crash"
READ_DEADLINE = 60.0   # seconds to read a partition back after the restart
DRAIN_DEADLINE = 10.0  # seconds for the producer to give up its messages after the kill


def payload(seq):
    """The value of message `seq`: its number and filler derived from it,
    so that a message can be recognised and its bytes checked."""
    head = b"seq=%010d;" % seq
    return head + bytes((seq * 31 + i) & 0xFF for i in range(64 + seq % 97))


def parse_seq(value):
    if value is None or not value.startswith(b"seq=") or len(value) < 15:
        return None
    try:
        return int(value[4:14])
    except ValueError:
        return None


class Run:
    def __init__(self, number, mode, acks, fsync, partitions, kill_after):
        self.number = number
        self.mode = mode
        self.acks = acks
        self.fsync = fsync
        self.partitions = partitions
        self.kill_after = kill_after
        self.sent = {p: [] for p in range(partitions)}  # seqs in send order
        self.acked = set()
        self.failed_before_kill = 0
        self.failure_names = set()
        self.found = {p: [] for p in range(partitions)}  # (offset, seq or None, value ok)
        self.recovery_log = []
        self.violations = []

    # -- the producing side --------------------------------------------------

    def produce_until_kill(self, broker):
        killed = [False]
        conf = {
            "bootstrap.servers": broker.bootstrap,
            "acks": self.acks,
            "linger.ms": 5,
            "enable.idempotence": False,
            "retries": 0,
            "queue.buffering.max.messages": 200000,
            "message.timeout.ms": 30000,
            "log_level": 0,  # the kill makes librdkafka complain; that is expected
        }
        p = Producer(conf)

        def report(err, msg):
            if err is None:
                self.acked.add(parse_seq(msg.value()))
            elif not killed[0]:
                self.failed_before_kill += 1
                self.failure_names.add(err.name())

        # Warm up: the topic exists (auto-created) and the producer knows
        # its partitions before the clock starts.
        p.produce(TOPIC, value=b"warm-up", partition=0, on_delivery=lambda e, m: None)
        if p.flush(10) != 0:
            raise RuntimeError("warm-up message not delivered")
        self.sent[0].append(None)  # offset 0 of partition 0 is the warm-up message
        seq = 0
        t0 = time.monotonic()
        kill_at = t0 + self.kill_after
        while True:
            now = time.monotonic()
            if now >= kill_at:
                break
            part = seq % self.partitions
            try:
                p.produce(TOPIC, value=payload(seq), partition=part, on_delivery=report)
            except BufferError:
                p.poll(0.005)
                continue
            self.sent[part].append(seq)
            seq += 1
            if seq % 64 == 0:
                p.poll(0)
        # Kill in the middle of whatever is in flight. From here on a
        # failed delivery is expected; a success is an answer that reached
        # the producer before the kill, reported late: still acknowledged.
        killed[0] = True
        broker.proc.kill()  # SIGKILL
        broker.proc.wait()
        self.sent_count = seq
        self.produce_seconds = time.monotonic() - t0
        p.poll(0)
        p.purge(in_queue=True, in_flight=True)
        left = p.flush(DRAIN_DEADLINE)
        if left:
            raise RuntimeError("%d message(s) still in the producer after the kill" % left)
        self.acked.discard(None)

    # -- the reading side ----------------------------------------------------

    def read_back(self, broker):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "crash-check",
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "fetch.wait.max.ms": 50, "isolation.level": "read_uncommitted",
                      "log_level": 3})
        try:
            c.assign([TopicPartition(TOPIC, p, 0) for p in range(self.partitions)])
            at_end = set()
            end = time.monotonic() + READ_DEADLINE
            while len(at_end) < self.partitions:
                if time.monotonic() >= end:
                    raise RuntimeError("reading back timed out; at end: %s" % sorted(at_end))
                m = c.poll(0.2)
                if m is None:
                    continue
                err = m.error()
                if isinstance(err, KafkaError):
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(m.partition())
                        continue
                    raise RuntimeError("consumer error: %s" % err.str())
                at_end.discard(m.partition())
                value = m.value()
                seq = parse_seq(value)
                ok = seq is not None and value == payload(seq)
                if m.partition() == 0 and m.offset() == 0 and value == b"warm-up":
                    seq, ok = None, True
                self.found[m.partition()].append((m.offset(), seq, ok))
        finally:
            c.close()

    # -- the verdict -----------------------------------------------------------

    def check(self):
        v = self.violations
        self.extra = 0
        self.found_count = 0
        self.lost_count = 0
        for p in range(self.partitions):
            sent = [s for s in self.sent[p] if s is not None]
            sent_set = set(sent)
            rows = self.found[p]
            offsets = [o for o, _, _ in rows]
            if offsets != list(range(len(rows))):
                v.append("partition %d: offsets not 0..%d contiguous (first bad at index %d)"
                         % (p, len(rows) - 1, next(i for i, o in enumerate(offsets) if o != i)))
            seqs = []
            for offset, seq, ok in rows:
                if offset == 0 and p == 0 and seq is None and ok:
                    continue  # the warm-up message
                if not ok:
                    v.append("partition %d offset %d: bytes that were never sent" % (p, offset))
                    continue
                if seq not in sent_set:
                    v.append("partition %d offset %d: seq %d was never sent to this partition" % (p, offset, seq))
                    continue
                seqs.append(seq)
            self.found_count += len(seqs)
            dups = len(seqs) - len(set(seqs))
            if dups:
                v.append("partition %d: %d duplicate message(s)" % (p, dups))
            if seqs != sorted(seqs):
                v.append("partition %d: messages out of send order" % p)
            present = set(seqs)
            acked = [s for s in sent if s in self.acked]
            lost = [s for s in acked if s not in present]
            self.lost_count += len(lost)
            if lost:
                v.append("partition %d: %d acknowledged message(s) lost, first seq %d" % (p, len(lost), lost[0]))
            if acked:
                prefix = sent[:sent.index(acked[-1]) + 1]
                gaps = [s for s in prefix if s not in present and s not in self.acked]
                if gaps:
                    v.append("partition %d: %d unacknowledged gap(s) before the last acknowledged message, "
                             "first seq %d" % (p, len(gaps), gaps[0]))
            self.extra += len([s for s in present if s not in self.acked])
        if self.failed_before_kill:
            v.append("%d message(s) failed before the kill (%s)"
                     % (self.failed_before_kill, ", ".join(sorted(self.failure_names))))
        return not v


def one_run(number, mode, acks, fsync, partitions, kill_after, segment_bytes):
    run = Run(number, mode, acks, fsync, partitions, kill_after)
    tmp = tempfile.mkdtemp(prefix="gregor-crash-")
    overrides = {"num.partitions": str(partitions), "log.segment.bytes": str(segment_bytes)}
    if not fsync:
        overrides["gregor.acks.all.fsync"] = "false"
    try:
        b = Broker(data_dir=tmp, overrides=overrides)
        b.start()
        try:
            run.produce_until_kill(b)
        finally:
            b.cleanup()
        b = Broker(data_dir=tmp, overrides=overrides)
        b.start()
        try:
            wait_until(lambda: "loaded" in b.log(), 5.0, "the startup log")
            run.recovery_log = [line for line in b.log().splitlines()
                                if "recover" in line or "unclean" in line or "cut" in line]
            run.read_back(b)
            b.stop()
        finally:
            b.cleanup()
        run.check()
    except Exception as e:  # a run that cannot complete is a failed run
        run.violations.append("run aborted: %s" % e)
        run.found_count = getattr(run, "found_count", 0)
        run.extra = getattr(run, "extra", 0)
        run.lost_count = getattr(run, "lost_count", 0)
        run.sent_count = getattr(run, "sent_count", 0)
        run.produce_seconds = getattr(run, "produce_seconds", 0.0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return run


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("iterations", nargs="?", type=int, default=5, help="acks=all runs (default 5)")
    ap.add_argument("--seed", type=int, default=None, help="random seed for the kill times")
    ap.add_argument("--partitions", type=int, default=2, help="partitions of the topic (default 2)")
    ap.add_argument("--segment-bytes", type=int, default=1 << 20,
                    help="log.segment.bytes (default 1 MiB: segments roll during the run)")
    ap.add_argument("--no-contrast", action="store_true", help="skip the gregor.acks.all.fsync=false runs")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the broker's recovery log lines")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("crash test: %d acks=all run(s), %d partition(s), log.segment.bytes=%d, seed %d"
          % (args.iterations, args.partitions, args.segment_bytes, seed))

    plan = [("acks=all fsync", "all", True)] * args.iterations
    if not args.no_contrast:
        plan += [("acks=1 no-fsync", "1", False), ("acks=all no-fsync", "all", False)]
    runs = []
    for i, (mode, acks, fsync) in enumerate(plan, 1):
        run = one_run(i, mode, acks, fsync, args.partitions, rng.uniform(1.0, 3.0), args.segment_bytes)
        runs.append(run)
        print("run %d (%s): killed after %.2f s, %d sent, %d acked, %d found, %s"
              % (i, mode, run.kill_after, run.sent_count, len(run.acked), run.found_count,
                 "ok" if not run.violations else "FAILED"))
        for line in run.recovery_log if args.verbose else []:
            print("    " + line)
        for line in run.violations:
            print("    violation: " + line)
        sys.stdout.flush()

    header = ("run", "mode", "kill s", "sent", "acked", "acked/s", "found", "extra", "lost", "result")
    rows = [(str(r.number), r.mode, "%.2f" % r.kill_after, str(r.sent_count), str(len(r.acked)),
             "%.0f" % (len(r.acked) / r.produce_seconds if r.produce_seconds else 0), str(r.found_count),
             str(r.extra), str(r.lost_count),
             "ok" if not r.violations else "FAIL") for r in runs]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    bad = [r for r in runs if r.violations]
    print()
    print("%d run(s), %d failed" % (len(runs), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
