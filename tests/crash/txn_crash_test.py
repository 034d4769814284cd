#!/usr/bin/python3
"""
Transactional kill -9 test: committed transactions survive the broker's
death whole and in order; aborted and unfinished ones never show.

One data directory for the whole test. Each cycle starts the broker on it,
starts the workers (separate processes, confluent-kafka), lets them run a
random 2-4 s, then SIGKILLs the broker in the middle of their traffic and
SIGKILLs the workers right after. Workers:

  - 3 transactional producers (ids txn-crash-0..2, the same ids in every
    cycle). Transaction n of producer i writes 4 records to each of the 3
    partitions of topic `txn-data`, values "i:n:partition:j:D", where D is
    C or A: whether the transaction is to commit or to abort (decided from
    i and n; about 1 in 3 aborts). The worker journals "begin n", then
    "end n D" before commit_transaction / abort_transaction and "done n D"
    once it returned.
  - 1 consume-transform-produce worker (transactional id txn-crash-ctp,
    group txn-crash-group): it reads the 2 partitions of `txn-in`
    (prefilled with 10000 records "in-P-K") from the group's committed
    offsets, and per transaction writes up to 5 records "out-P-K" to the
    same partition of `txn-out` with send_offsets_to_transaction, commits.

After the last cycle the broker is started once more and every
transactional id is initialised again (init_transactions aborts what a
killed producer left open). Then a read_committed consumer reads
everything, and the test fails when:

  - a record of a transaction that was to abort is visible;
  - a transaction whose commit returned ("done n C") is not complete (all
    12 records);
  - a transaction whose commit was sent but did not return ("end n C"
    only) is partly visible (it may be whole or absent);
  - a record of a transaction never ended ("begin n" only) is visible;
  - per partition, a producer's records are not in (n, j) order, or one is
    there twice;
  - `txn-out` partition P is not exactly out-P-0 .. out-P-(X-1), in order,
    once each, where X is the group's committed offset on `txn-in` P
    (offsets committed in transactions survive, exactly once);
  - no transaction committed at all (the broker never let one through);
  - read_uncommitted shows no record of an aborted transaction (then the
    aborts were never written, and nothing was tested);
  - a partition's last stable offset (ListOffsets read_committed) is not
    its high watermark once every transactional id was initialised again.

    build/clients/python tests/crash/txn_crash_test.py [CYCLES] [--seed S] [-v] [--keep]
    /usr/bin/python3 tests/crash/txn_crash_test.py --venv [CYCLES] ...   (as meson runs it)
    GREGOR_TEST_TARGET=kafka build/clients/python tests/crash/txn_crash_test.py

CYCLES defaults to 6. GREGOR_TEST_TARGET=kafka runs it against Apache Kafka
4.4 (scripts/kafka-ref; the node is killed -9 the same way). GREGOR_BIN
selects the gregor binary. Exit status 0 when the check passes.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from broker import Broker, kafka_only, on_kafka  # noqa: E402

DATA, IN, OUT = "txn-data", "txn-in", "txn-out"
DATA_PARTS, IO_PARTS = 3, 2
RECORDS_PER_PART = 4
PRODUCERS = 3
INPUT_PER_PART = 10000
GROUP = "txn-crash-group"
CTP_ID = "txn-crash-ctp"
CTP_BATCH = 5


def txn_id(i):
    return "txn-crash-%d" % i


def decision(i, n):
    """C (commit) or A (abort) for transaction n of producer i."""
    return "A" if (n * 7 + i * 3) % 3 == 0 else "C"


def conf(bootstrap, **kw):
    c = {"bootstrap.servers": bootstrap, "log_level": 0, "socket.connection.setup.timeout.ms": 3000}
    c.update(kw)
    return c


# ---------------------------------------------------------------- workers

def worker_txn(bootstrap, i, first_n, journal):
    from confluent_kafka import Producer
    j = open(journal, "a", buffering=1)

    def note(s):
        j.write(s + "\n")

    p = Producer(conf(bootstrap, **{"transactional.id": txn_id(i), "transaction.timeout.ms": 10000,
                                     "linger.ms": 2, "message.timeout.ms": 8000}))
    try:
        p.init_transactions(20)
    except Exception as e:
        note("error init %s" % e)
        return 3
    note("init")
    n = first_n
    while True:
        d = decision(i, n)
        try:
            p.begin_transaction()
            note("begin %d" % n)
            for part in range(DATA_PARTS):
                for k in range(RECORDS_PER_PART):
                    p.produce(DATA, value=("%d:%d:%d:%d:%s" % (i, n, part, k, d)).encode(), partition=part)
            if p.flush(10):
                raise RuntimeError("records not delivered in 10 s")
            note("end %d %s" % (n, d))
            if d == "C":
                p.commit_transaction(10)
            else:
                p.abort_transaction(10)
            note("done %d %s" % (n, d))
        except Exception as e:
            note("error %d %s" % (n, " ".join(str(e).split())[:200]))
            return 3
        n += 1


def worker_ctp(bootstrap, journal):
    from confluent_kafka import Consumer, Producer, TopicPartition
    j = open(journal, "a", buffering=1)

    def note(s):
        j.write(s + "\n")

    # retry.backoff.ms: the AddOffsetsToTxn sent right after a commit is
    # answered CONCURRENT_TRANSACTIONS while the coordinator still writes the
    # markers (as on Kafka); librdkafka's default 100 ms backoff would hold
    # the worker to about 10 transactions a second.
    p = Producer(conf(bootstrap, **{"transactional.id": CTP_ID, "transaction.timeout.ms": 10000,
                                     "linger.ms": 2, "message.timeout.ms": 8000, "retry.backoff.ms": 5}))
    try:
        p.init_transactions(20)
    except Exception as e:
        note("error init %s" % e)
        return 3
    # assign(), not subscribe(): no group membership to wait out after a
    # kill; the offsets still go to the group in the transaction.
    c = Consumer(conf(bootstrap, **{"group.id": GROUP, "enable.auto.commit": False,
                                     "isolation.level": "read_committed",
                                     "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50,
                                     "max.partition.fetch.bytes": 1}))
    tps = [TopicPartition(IN, q) for q in range(IO_PARTS)]
    end = time.monotonic() + 30
    while True:
        try:
            start = c.committed(tps, timeout=10)
            break
        except Exception as e:  # NOT_COORDINATOR while __consumer_offsets is being made, ...
            if time.monotonic() > end:
                note("error committed %s" % " ".join(str(e).split())[:200])
                return 3
            time.sleep(0.2)
    pos = {tp.partition: max(tp.offset, 0) for tp in start}
    note("start %s" % json.dumps(pos))
    c.assign([TopicPartition(IN, q, pos[q]) for q in range(IO_PARTS)])
    while True:
        msgs = [m for m in c.consume(CTP_BATCH, 0.5) if not m.error()]
        if not msgs:
            continue
        try:
            p.begin_transaction()
            ends = {}
            for m in msgs:
                p.produce(OUT, value=b"out" + m.value()[2:], partition=m.partition())
                ends[m.partition()] = m.offset() + 1
            p.send_offsets_to_transaction([TopicPartition(IN, q, o) for q, o in ends.items()],
                                          c.consumer_group_metadata(), 10)
            note("end %s" % json.dumps(ends))
            p.commit_transaction(10)
            note("committed %s" % json.dumps(ends))
        except Exception as e:
            note("error %s" % " ".join(str(e).split())[:200])
            return 3


# ---------------------------------------------------------------- the test

class Journal:
    """What a producer worker noted, over all cycles."""

    def __init__(self):
        self.begun, self.ended, self.done = set(), {}, {}
        self.next_n = 0
        self.errors = []

    def read(self, path):
        if not os.path.exists(path):
            return
        for line in open(path):
            w = line.split()
            if not w:
                continue
            if w[0] == "begin":
                self.begun.add(int(w[1]))
                self.next_n = max(self.next_n, int(w[1]) + 1)
            elif w[0] == "end":
                self.ended[int(w[1])] = w[2]
            elif w[0] == "done":
                self.done[int(w[1])] = w[2]
            elif w[0] == "error":
                self.errors.append(line.strip())


def admin_setup(bootstrap):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient(conf(bootstrap))
    fs = a.create_topics([NewTopic(DATA, DATA_PARTS, 1), NewTopic(IN, IO_PARTS, 1), NewTopic(OUT, IO_PARTS, 1)],
                         operation_timeout=20)
    for t, f in fs.items():
        f.result(30)
    end = time.monotonic() + 30
    while True:
        md = a.list_topics(timeout=10).topics
        if all(t in md and len(md[t].partitions) > 0 and not md[t].error for t in (DATA, IN, OUT)):
            break
        if time.monotonic() > end:
            raise RuntimeError("topics not in metadata after 30 s")
        time.sleep(0.2)
    # Small batches, and (worker_ctp) small fetches: the worker's queue then
    # holds both input partitions interleaved, so both are transformed.
    # With one batch per partition it took every record of partition 0
    # before the first of partition 1, and partition 1 was never reached.
    p = Producer(conf(bootstrap, **{"linger.ms": 20, "acks": "all", "batch.num.messages": 20}))
    for q in range(IO_PARTS):
        for k in range(INPUT_PER_PART):
            p.produce(IN, value=b"in-%d-%d" % (q, k), partition=q)
            if k % 500 == 0:
                p.poll(0)
    if p.flush(60):
        raise RuntimeError("input records not delivered")


def wait_metadata(bootstrap):
    """Until the broker's metadata lists a leader for every partition of the
    three topics. A Kafka 4.4 node just restarted skips the transaction
    markers of a partition its metadata cache does not list yet ("Couldn't
    find leader endpoint ... likely deleted already"): a transaction then
    aborted by InitProducerId keeps its records without an ABORT marker, and
    the producer's next commit makes them visible. So no producer starts
    before the metadata is there."""
    from confluent_kafka.admin import AdminClient
    a = AdminClient(conf(bootstrap))
    want = {DATA: DATA_PARTS, IN: IO_PARTS, OUT: IO_PARTS}
    end = time.monotonic() + 60
    while True:
        try:
            md = a.list_topics(timeout=5).topics
            if all(t in md and not md[t].error and len(md[t].partitions) == n
                   and all(p.leader >= 0 for p in md[t].partitions.values()) for t, n in want.items()):
                return
        except Exception:
            pass
        if time.monotonic() > end:
            raise RuntimeError("the topics' metadata did not show every partition with a leader in 60 s")
        time.sleep(0.2)


def finish(bootstrap):
    """Initialise every transactional id once more: aborts what a killed
    producer left open (or completes a commit the coordinator had taken)."""
    from confluent_kafka import Producer
    for tid in [txn_id(i) for i in range(PRODUCERS)] + [CTP_ID]:
        p = Producer(conf(bootstrap, **{"transactional.id": tid}))
        p.init_transactions(60)
        p.flush(5)


def read_committed(bootstrap, topic, parts, isolation="read_committed"):
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer(conf(bootstrap, **{"group.id": "txn-crash-reader-%d" % random.randrange(1 << 30),
                                     "enable.auto.commit": False, "enable.partition.eof": True,
                                     "isolation.level": isolation, "fetch.wait.max.ms": 50}))
    out = {q: [] for q in range(parts)}
    try:
        c.assign([TopicPartition(topic, q, 0) for q in range(parts)])
        eof, end = set(), time.monotonic() + 120
        while len(eof) < parts:
            if time.monotonic() > end:
                raise RuntimeError("reading %s timed out; at end: %s" % (topic, sorted(eof)))
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise RuntimeError("consumer error: %s" % m.error())
            eof.discard(m.partition())
            out[m.partition()].append((m.offset(), m.value().decode()))
    finally:
        c.close()
    return out


def end_offsets(bootstrap, topic, parts):
    """ListOffsets latest per partition, read_uncommitted (high watermark)
    and read_committed (last stable offset); None with a client too old for
    AdminClient.list_offsets (Debian's confluent-kafka)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient
    try:
        from confluent_kafka import IsolationLevel
        from confluent_kafka.admin import OffsetSpec
    except ImportError:
        return None
    a = AdminClient(conf(bootstrap))
    got = {}
    for iso in (IsolationLevel.READ_UNCOMMITTED, IsolationLevel.READ_COMMITTED):
        fs = a.list_offsets({TopicPartition(topic, q): OffsetSpec.latest() for q in range(parts)},
                            isolation_level=iso, request_timeout=10)
        got[iso] = {tp.partition: f.result(15).offset for tp, f in fs.items()}
    return {q: (got[IsolationLevel.READ_UNCOMMITTED][q], got[IsolationLevel.READ_COMMITTED][q])
            for q in range(parts)}


def group_offsets(bootstrap):
    """The group's committed offsets on the input (stable: no transaction
    pending), through the admin API."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient
    a = AdminClient(conf(bootstrap))
    req = ConsumerGroupTopicPartitions(GROUP, [TopicPartition(IN, q) for q in range(IO_PARTS)])
    end = time.monotonic() + 60
    while True:
        try:
            r = a.list_consumer_group_offsets([req], require_stable=True, request_timeout=10)[GROUP].result(15)
            errs = [str(tp.error) for tp in r.topic_partitions if tp.error]
            if not errs:
                return {tp.partition: max(tp.offset, 0) for tp in r.topic_partitions}
            last = "; ".join(errs)
        except Exception as e:
            last = str(e)
        if time.monotonic() > end:
            raise RuntimeError("the group's committed offsets: %s" % last)
        time.sleep(0.5)


def check(journals, data, out, offsets, raw, ends):
    """raw: txn-data read read_uncommitted; ends: {topic: end_offsets()}."""
    v = []
    seen = {}  # (i, n) -> set of (partition, j)
    for part, rows in data.items():
        last = {}
        for off, val in rows:
            try:
                i, n, p, k, d = val.split(":")
                i, n, p, k = int(i), int(n), int(p), int(k)
            except ValueError:
                v.append("%s[%d]@%d: a value that was never sent: %r" % (DATA, part, off, val))
                continue
            if p != part:
                v.append("%s[%d]@%d: %r was sent to partition %d" % (DATA, part, off, val, p))
            if d == "A":
                v.append("%s[%d]@%d: %r belongs to a transaction that aborted" % (DATA, part, off, val))
            if n not in journals[i].begun:
                v.append("%s[%d]@%d: %r: transaction %d of producer %d never began" % (DATA, part, off, val, n, i))
            elif n not in journals[i].ended:
                v.append("%s[%d]@%d: %r: transaction %d of producer %d never ended, yet it is visible"
                         % (DATA, part, off, val, n, i))
            s = seen.setdefault((i, n), set())
            if (p, k) in s:
                v.append("%s[%d]@%d: %r is there twice" % (DATA, part, off, val))
            s.add((p, k))
            if i in last and last[i] >= (n, k):
                v.append("%s[%d]@%d: %r after %r: out of order" % (DATA, part, off, val, last[i]))
            last[i] = (n, k)
    full = DATA_PARTS * RECORDS_PER_PART
    committed = unknown_kept = unknown_gone = 0
    for i, jn in journals.items():
        for n in sorted(jn.begun):
            got = len(seen.get((i, n), ()))
            if jn.done.get(n) == "C":
                committed += 1
                if got != full:
                    v.append("producer %d transaction %d: commit returned, but %d of %d records are visible"
                             % (i, n, got, full))
            elif jn.ended.get(n) == "C" and n not in jn.done:
                if got not in (0, full):
                    v.append("producer %d transaction %d: commit sent when the broker died: %d of %d records "
                             "visible (want all or none)" % (i, n, got, full))
                if got == full:
                    unknown_kept += 1
                else:
                    unknown_gone += 1
    for q in range(IO_PARTS):
        x = offsets.get(q, 0)
        want = ["out-%d-%d" % (q, k) for k in range(x)]
        got = [val for _, val in out[q]]
        if got != want:
            first = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
            v.append("%s[%d]: committed offset on %s is %d, so want out-%d-0..%d once each; got %d records, "
                     "first difference at #%d: %r" % (OUT, q, IN, x, q, x - 1, len(got), first,
                                                       got[first] if first < len(got) else None))
    if committed == 0:
        v.append("no transaction was committed at all")
    # The aborted records are in the log (read_uncommitted sees them): what
    # hid them from read_committed was the broker's abort markers and
    # aborted-transaction list, not a write that never happened.
    raw_aborted = sum(1 for rows in raw.values() for _, val in rows if val.endswith(":A"))
    if raw_aborted == 0:
        v.append("%s read_uncommitted holds no record of an aborted transaction: nothing was tested" % DATA)
    # Every transactional id was initialised again: no transaction is open,
    # so the last stable offset is the high watermark.
    for topic, e in ends.items():
        for q, (hw, lso) in sorted((e or {}).items()):
            if hw != lso:
                v.append("%s[%d]: last stable offset %d, high watermark %d, with no transaction open"
                         % (topic, q, lso, hw))
    return v, {"committed": committed, "commit in flight, kept": unknown_kept,
               "commit in flight, gone": unknown_gone,
               "aborted (intended)": sum(sum(1 for d in jn.ended.values() if d == "A") for jn in journals.values()),
               "open at a kill": sum(len(jn.begun - set(jn.ended)) for jn in journals.values()),
               "ctp offsets": offsets,
               "records read": {"%s committed" % DATA: sum(len(r) for r in data.values()),
                                "%s uncommitted" % DATA: sum(len(r) for r in raw.values()),
                                "%s aborted in log" % DATA: raw_aborted,
                                OUT: sum(len(r) for r in out.values())},
               "LSO = HW checked on": sum(len(e) for e in ends.values() if e) if all(ends.values())
               else "not checked (no AdminClient.list_offsets in this confluent-kafka)"}


def clients_python():
    """build/clients/python (scripts/install-clients): the clients'
    virtualenv with the pinned confluent-kafka. GREGOR_CLIENTS overrides
    build/clients, as for tests/integration/test_modern_clients.py."""
    top = os.path.normpath(os.path.join(HERE, "..", ".."))
    return os.path.join(os.environ.get("GREGOR_CLIENTS") or os.path.join(top, "build", "clients"), "python")


def main(argv):
    if argv[:1] == ["--venv"]:
        # meson runs the test with the system python3 and --venv: run again
        # under the clients' virtualenv (the workers follow: sys.executable).
        py = clients_python()
        if not os.access(py, os.X_OK):
            print("no %s: run scripts/install-clients (scripts/test does)" % py)
            return 1
        os.execv(py, [py, os.path.abspath(__file__)] + argv[1:])
    if argv[:1] == ["--worker"]:
        kind, bootstrap = argv[1], argv[2]
        if kind == "txn":
            return worker_txn(bootstrap, int(argv[3]), int(argv[4]), argv[5])
        return worker_ctp(bootstrap, argv[3])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cycles", nargs="?", type=int, default=6, help="kill -9 cycles (default 6)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="print the workers' journals' errors")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    target = "kafka" if on_kafka() else "gregor"
    print("txn crash test against %s: %d cycle(s), seed %d" % (target, args.cycles, seed), flush=True)
    tmp = tempfile.mkdtemp(prefix="gregor-txn-crash-")
    jdir = os.path.join(tmp, "journals")
    os.makedirs(jdir)
    overrides = kafka_only({"transaction.state.log.num.partitions": "1", "offsets.topic.num.partitions": "1"})
    journals = {i: Journal() for i in range(PRODUCERS)}
    violations = []
    try:
        for cycle in range(1, args.cycles + 1):
            b = Broker(data_dir=tmp, overrides=overrides)
            t0 = time.monotonic()
            b.start()
            up = time.monotonic() - t0
            workers = []
            try:
                if cycle == 1:
                    admin_setup(b.bootstrap)
                wait_metadata(b.bootstrap)
                for i in range(PRODUCERS):
                    journals[i] = Journal()
                    journals[i].read(os.path.join(jdir, "p%d" % i))
                    workers.append(subprocess.Popen(
                        [sys.executable, os.path.abspath(__file__), "--worker", "txn", b.bootstrap, str(i),
                         str(journals[i].next_n), os.path.join(jdir, "p%d" % i)], stdin=subprocess.DEVNULL))
                workers.append(subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "--worker", "ctp", b.bootstrap,
                     os.path.join(jdir, "ctp")], stdin=subprocess.DEVNULL))
                run_for = rng.uniform(2.0, 4.0)
                end = time.monotonic() + run_for
                while time.monotonic() < end and all(w.poll() is None for w in workers):
                    time.sleep(0.05)
            finally:
                b.kill()  # SIGKILL, mid-traffic
                for w in workers:
                    if w.poll() is None:
                        w.send_signal(signal.SIGKILL)
                    w.wait()
                b.cleanup()
            exits = [w.returncode for w in workers]
            before = sum(len(j.done) for j in journals.values())
            for i in range(PRODUCERS):
                journals[i] = Journal()
                journals[i].read(os.path.join(jdir, "p%d" % i))
            ended = sum(len(j.done) for j in journals.values())
            print("cycle %d: broker up in %.1f s, killed after %.1f s; transactions ended this cycle: %d%s"
                  % (cycle, up, run_for, ended - before,
                     "" if all(e == -signal.SIGKILL for e in exits) else "; a worker exited by itself: %s" % exits),
                  flush=True)
            errs = [e for j in journals.values() for e in j.errors]
            if cycle == 1 and any(e.startswith("error init") for e in errs):
                violations.append("a transactional producer could not initialise: %s"
                                  % next(e for e in errs if e.startswith("error init")))
                break
        if not violations:
            b = Broker(data_dir=tmp, overrides=overrides)
            b.start()
            try:
                wait_metadata(b.bootstrap)
                finish(b.bootstrap)
                data = read_committed(b.bootstrap, DATA, DATA_PARTS)
                out = read_committed(b.bootstrap, OUT, IO_PARTS)
                raw = read_committed(b.bootstrap, DATA, DATA_PARTS, "read_uncommitted")
                offsets = group_offsets(b.bootstrap)
                ends = {DATA: end_offsets(b.bootstrap, DATA, DATA_PARTS),
                        OUT: end_offsets(b.bootstrap, OUT, IO_PARTS)}
                b.stop()
            finally:
                b.cleanup()
            v, stats = check(journals, data, out, offsets, raw, ends)
            violations += v
            print("after %d cycles: %s" % (args.cycles, json.dumps(stats)))
        if args.verbose:
            for i, j in journals.items():
                for e in j.errors:
                    print("    producer %d: %s" % (i, e))
    except Exception as e:
        violations.append("the test could not run: %s" % e)
    finally:
        if args.keep:
            print("data directory and journals kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for line in violations[:40]:
        print("    violation: " + line)
    if len(violations) > 40:
        print("    ... and %d more" % (len(violations) - 40))
    print("%d passed, %d failed" % (0 if violations else 1, 1 if violations else 0))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
