#!/usr/bin/python3
"""How long the group coordinator's replay of __consumer_offsets takes at
start-up, before and after the log cleaner compacted it. Not a timed test:
it prints figures.

    GREGOR_BIN=build/broker/gregor /usr/bin/python3 tests/bench/offsets_replay.py \\
        [--commits 1000000] [--partitions 100] [--per-request 20]

1. A Gregor on a temporary data dir, with the cleaner off; `commits` offset
   commits to ONE group ("bench-replay") on one raw socket: OffsetCommit v8,
   generation -1 and member "" (a simple group, as a consumer with assign()
   commits), `per-request` partitions of a `partitions`-partition topic per
   request, up to 200 requests in flight. Each partition commit is one
   record of __consumer_offsets; the live keys are the `partitions` keys.
2. SIGTERM, restart with log.cleaner.enable=false: the replay of every
   record ("loaded __consumer_offsets: N record(s) in X ms").
3. SIGTERM, restart with the cleaner on; wait for its "cleaned" line for the
   group's partition; SIGTERM, restart (cleaner off, so nothing moves while
   it loads): the replay of the compacted log.
After each restart OffsetFetch (v1) must return the last committed offset of
every partition.

Settings, and why:
- offsets.topic.segment.bytes=1048576 (1 MiB; Kafka's default is 100 MiB):
  the cleaner never touches the active segment, and 1,000,000 commits are
  about 70 MB of records, so with 100 MiB segments nothing would ever be
  closed and compaction could not shorten the replay. 1 MiB is Kafka 4's
  smallest segment.bytes. After compaction the replay still reads the
  whole active segment (up to 1 MiB, some 15,000 records) besides the
  live keys of the cleaned part.
- log.cleaner.backoff.ms=1000 (15000): the cleaner looks for work every
  second, so step 3 waits about a second, not 15.
- log.cleaner.min.cleanable.ratio: the default (0.5); the log is almost all
  dirty.
- log.cleaner.enable=false for steps 1 and 2 (and the last restart), so the
  first figure is the uncompacted log.
"""

import argparse
import glob
import os
import re
import shutil
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kwire  # noqa: E402
from broker import Broker  # noqa: E402
from kwire import Conn  # noqa: E402

GROUP = "bench-replay"
TOPIC = "bench-replay-data"
OFFSETS_PARTITIONS = 50  # offsets.topic.num.partitions, the default
WINDOW = 200  # requests in flight (Gregor reads up to 256 per connection)

OVERRIDES = {
    "offsets.topic.segment.bytes": "1048576",
    "log.cleaner.backoff.ms": "1000",
    "log.cleaner.enable": "false",
}


def java_hash(s):
    """Java's String.hashCode (ASCII: one UTF-16 unit per character)."""
    h = 0
    for c in s:
        h = (31 * h + ord(c)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group):
    return abs(java_hash(group)) % OFFSETS_PARTITIONS


def commit_v8(cid, offsets):
    """OffsetCommit v8 (flexible): `offsets` is [(partition, offset)]."""
    parts = b"".join(struct.pack(">iqi", p, o, -1) + b"\x00" + b"\x00" for p, o in offsets)  # null metadata, no tags
    body = (kwire.compact_string(GROUP) + struct.pack(">i", -1) + kwire.compact_string("") + b"\x00"  # null instance
            + kwire.uvarint(2) + kwire.compact_string(TOPIC) + kwire.uvarint(len(offsets) + 1) + parts + b"\x00"
            + b"\x00")
    return kwire.frame(kwire.request_header(8, 8, cid, "bench") + body)


def check_commit_v8(payload, n):
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()  # throttle
    for _ in range(r.uvarint() - 1):
        r.string(True)
        for _ in range(r.uvarint() - 1):
            p = r.int32()
            err = r.int16()
            r.tagged_fields()
            if err:
                raise AssertionError("OffsetCommit: partition %d error %d" % (p, err))
            n -= 1
        r.tagged_fields()
    if n:
        raise AssertionError("OffsetCommit: %d partition(s) missing from the response" % n)


def commit_all(host, port, commits, partitions, per_request):
    """`commits` partition commits; returns ({partition: last offset}, seconds)."""
    nreq = (commits + per_request - 1) // per_request
    last = {}
    plan = []
    k = 0
    for i in range(nreq):
        offs = []
        for _ in range(min(per_request, commits - k)):
            offs.append((k % partitions, k + 1))
            last[k % partitions] = k + 1
            k += 1
        plan.append(offs)
    conn = Conn(host, port, timeout=60)
    slots = threading.Semaphore(WINDOW)
    failed = []

    def sender():
        try:
            for i, offs in enumerate(plan):
                slots.acquire()
                conn.send(commit_v8(i, offs))
        except Exception as e:  # reported by the reader's side
            failed.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    good = None  # a response is the same bytes but the correlation id, once checked
    for i, offs in enumerate(plan):
        payload = conn.recv_frame()
        slots.release()
        (cid,) = struct.unpack(">i", payload[:4])
        if cid != i:
            raise AssertionError("response %d has correlation id %d" % (i, cid))
        if len(offs) != per_request or payload[4:] != good:
            check_commit_v8(payload, len(offs))
            if len(offs) == per_request:
                good = payload[4:]
    elapsed = time.monotonic() - t0
    th.join()
    conn.close()
    if failed:
        raise failed[0]
    return last, elapsed


def fetch_v1(host, port, partitions):
    """OffsetFetch v1: {partition: committed offset}."""
    body = (kwire.string(GROUP) + struct.pack(">i", 1) + kwire.string(TOPIC) + struct.pack(">i", partitions)
            + b"".join(struct.pack(">i", p) for p in range(partitions)))
    with Conn(host, port, timeout=30) as conn:
        conn.send(kwire.frame(struct.pack(">hhi", 9, 1, 1) + kwire.string("bench") + body))
        r = kwire.Reader(conn.recv_frame())
    r.int32()
    got = {}
    for _ in range(r.int32()):
        r.string(False)
        for _ in range(r.int32()):
            p = r.int32()
            off = r.int64()
            r.string(False)
            err = r.int16()
            if err:
                raise AssertionError("OffsetFetch: partition %d error %d" % (p, err))
            got[p] = off
    return got


def log_sizes(data_dir, partition):
    """(bytes of the group's partition's .log files, its segment count, bytes of all __consumer_offsets logs)."""
    mine = glob.glob(os.path.join(data_dir, "data", "__consumer_offsets-%d" % partition, "*.log"))
    every = glob.glob(os.path.join(data_dir, "data", "__consumer_offsets-*", "*.log"))
    return sum(os.path.getsize(f) for f in mine), len(mine), sum(os.path.getsize(f) for f in every)


LOADED = re.compile(r"loaded __consumer_offsets: (\d+) record\(s\) in ([0-9.]+) ms")


def restart(data_dir, overrides, want, partitions, what):
    """Start, wait for the replay's log line, check OffsetFetch; returns the
    running broker, the records replayed and the replay's milliseconds."""
    b = Broker(data_dir=data_dir, overrides=overrides)
    b.start()
    m = b.wait_for_log(LOADED.pattern, deadline=300)
    got = fetch_v1(b.host, b.port, partitions)
    if got != want:
        bad = sorted(p for p in want if got.get(p) != want[p])
        raise AssertionError("%s: OffsetFetch differs at %d partition(s), e.g. %d: %s, want %s"
                             % (what, len(bad), bad[0], got.get(bad[0]), want[bad[0]]))
    return b, int(m.group(1)), float(m.group(2))


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", type=int, default=1000000)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--per-request", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the data dir and print its path")
    args = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="gregor-bench-replay-")
    op = offsets_partition(GROUP)
    brokers = []
    try:
        # 1. commits
        b = Broker(data_dir=data_dir, overrides=OVERRIDES)
        brokers.append(b)
        b.start()
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic(TOPIC, num_partitions=args.partitions,
                                               replication_factor=1)]).values():
            f.result(30)
        del admin
        want, secs = commit_all(b.host, b.port, args.commits, args.partitions, args.per_request)
        print("%d offset commits to one group (%d partitions, %d per request): %.1f s, %.0f commits/s"
              % (args.commits, args.partitions, args.per_request, secs, args.commits / secs))
        got = fetch_v1(b.host, b.port, args.partitions)
        assert got == want, "OffsetFetch before the first restart differs"
        b.stop()
        size0, segs0, all0 = log_sizes(data_dir, op)

        # 2. replay of the uncompacted log
        b, n_before, ms_before = restart(data_dir, OVERRIDES, want, args.partitions, "uncompacted")
        brokers.append(b)
        b.stop()

        # 3. compaction, then the replay of the compacted log
        b = Broker(data_dir=data_dir, overrides=dict(OVERRIDES, **{"log.cleaner.enable": "true"}))
        brokers.append(b)
        b.start()
        cleaned = b.wait_for_log(r"partition __consumer_offsets-%d: cleaned [^\n]*" % op, deadline=600)
        print("cleaner: %s" % cleaned.group(0))
        b.stop()
        size1, segs1, all1 = log_sizes(data_dir, op)
        b, n_after, ms_after = restart(data_dir, OVERRIDES, want, args.partitions, "compacted")
        brokers.append(b)
        b.stop()

        print("__consumer_offsets-%d before compaction: %s in %d segment(s) (all partitions: %s)"
              % (op, mib(size0), segs0, mib(all0)))
        print("__consumer_offsets-%d after compaction:  %s in %d segment(s) (all partitions: %s)"
              % (op, mib(size1), segs1, mib(all1)))
        print("replay before compaction: %d records in %.1f ms" % (n_before, ms_before))
        print("replay after compaction:  %d records in %.1f ms" % (n_after, ms_after))
        print("OffsetFetch returned the last commit of all %d partitions after each restart" % args.partitions)
    finally:
        for b in brokers:
            b.cleanup()
        if args.keep:
            print("data dir: %s" % data_dir)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
