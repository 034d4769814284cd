"""Kafka reads Gregor's data directory: Apache Kafka 4.4.0's own
DumpLogSegments (org.apache.kafka.tools.DumpLogSegments, the class behind
kafka-dump-log.sh) run over every file Gregor wrote.

Gregor runs with small segments and a small index interval, and is loaded
with every codec (gzip, snappy, lz4, zstd and none), idempotent producers
(one producer id each), a LogAppendTime topic (whose batches Gregor
rewrites and re-checksums), a topic whose compression.type makes Gregor
recompress, and a consumer group that commits. After a clean stop, and
after a kill -9 (then once more after the restart that recovers from it),
DumpLogSegments reads:

- every .log with --deep-iteration --print-data-log: each batch's CRC
  (isvalid), each record, and the content compared with what was
  produced: offsets, keys, values, header keys, timestamps, producer id and
  sequence numbers, codec;
- every .index and .timeindex with --index-sanity-check (the check Kafka
  runs at startup) and in its dump mode, which looks every entry up in the
  log and reports entries that point at the wrong batch or timestamp;
- every .snapshot (producer state), compared with the batches in the log;
- every __consumer_offsets segment with --offsets-decoder, compared with the
  commits made and the group's subscription.

What DumpLogSegments 4.4 prints when something is wrong (read from its
source): an exception (corrupt index, unreadable batch) ends the run with
"Exception in thread ..." and exit code 1; a bad batch CRC is
"isvalid: false" and bytes after the last whole batch "Found N invalid bytes
at the end of" on stdout; index entries that do not match the log are
"Mismatches in :", "Found timestamp mismatch in :", "Found out of order
timestamp in :" and "The following indexed offsets are not found in :" on
stderr; a corrupt producer snapshot is only its exception's message on
stderr, with exit code 0; a record the offsets decoder cannot read is
"Error at offset N, skipping." or "Unknown record type" in its output.
Every line of output is parsed here, and a line that fits no expected
form fails the test, so these and any message not foreseen are caught.
KafkaFormatTest.test_corruption_is_caught flips bytes in a copy of the
data to show that the checks fail.

Kafka's jars come from scripts/kafka-ref fetch (Maven Central, cached
outside the repository); the tests skip only when there is no java.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

from broker import Broker, gregor_only

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
KAFKA_REF = os.path.normpath(os.path.join(HERE, "..", "..", "scripts", "kafka-ref"))
DUMP = "org.apache.kafka.tools.DumpLogSegments"

FETCH_DEADLINE = 900.0  # seconds for a cold scripts/kafka-ref fetch
DUMP_DEADLINE = 300.0   # seconds for one DumpLogSegments run
DEADLINE = 30.0         # seconds for produce and group rounds

OVERRIDES = {
    "log.segment.bytes": "4000",         # several segments per partition
    "log.index.interval.bytes": "700",   # several index entries per segment
}
GROUP = "kf-group"
PER_PARTITION = 200
PARTITIONS = 2
OFFSETS_PARTITIONS = 50  # offsets.topic.num.partitions, the default


def java_binary():
    """The java that scripts/kafka-ref uses: $JAVA, $JAVA_HOME/bin/java or
    java on the PATH; None if there is none."""
    if os.environ.get("JAVA"):
        return shutil.which(os.environ["JAVA"])
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


JAVA = java_binary()
SKIP_REASON = "no java: Kafka's DumpLogSegments needs Java 17+ (Debian: openjdk-17-jdk-headless)"

_fetched = False


def fetch_kafka():
    """scripts/kafka-ref fetch: returns at once when the jars are cached."""
    global _fetched
    if _fetched:
        return
    try:
        p = subprocess.run([KAFKA_REF, "fetch"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=FETCH_DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError("scripts/kafka-ref fetch took more than %.0f s" % FETCH_DEADLINE)
    if p.returncode != 0:
        raise AssertionError("scripts/kafka-ref fetch failed (%d):\n%s"
                             % (p.returncode, p.stdout.decode(errors="replace")))
    _fetched = True


def java_string_hash(s):
    """Java's String.hashCode (UTF-16 code units, int32 arithmetic)."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + struct.unpack(">H", data[i:i + 2])[0]) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition(group):
    """Kafka's GroupCoordinator.partitionFor: Utils.abs(hashCode) % 50."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % OFFSETS_PARTITIONS


# ---- the load -------------------------------------------------------------------

# topic, producer codec, codec stored (the topic's compression.type may
# differ), idempotent, topic configs
TOPICS = [
    ("kf-none", "none", "none", True, {}),
    ("kf-gzip", "gzip", "gzip", True, {}),
    ("kf-snappy", "snappy", "snappy", True, {}),
    ("kf-lz4", "lz4", "lz4", True, {}),
    ("kf-zstd", "zstd", "zstd", True, {}),
    ("kf-recompress", "lz4", "zstd", True, {"compression.type": "zstd"}),
    ("kf-logappend", "gzip", "gzip", False, {"message.timestamp.type": "LogAppendTime"}),
    ("kf-disorder", "snappy", "snappy", True, {}),
]
# Topics whose timestamps go back now and then: a time index entry is the
# largest timestamp so far and the batch that holds it, not the last batch.
DISORDERED = {"kf-disorder"}


def create_topics(bootstrap, topics):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(t[0], PARTITIONS, 1, config=dict(t[4])) for t in topics]
    for _, f in admin.create_topics(new).items():
        f.result(timeout=DEADLINE)


def produce(bootstrap, topic, codec, idempotent, n=PER_PARTITION * PARTITIONS):
    """n records over the partitions in small batches; returns
    {partition: [record]} in offset order, each record a dict with the
    offset the broker gave it and what was sent."""
    p = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": idempotent,
        "acks": "all" if idempotent else "1",
        "compression.type": codec,
        "linger.ms": 2,
        "batch.num.messages": 8,
    })
    t0 = int(time.time() * 1000) - 600000
    sent = {}
    for i in range(n):
        part = i % PARTITIONS
        rec = {
            "partition": part,
            "key": None if i % 5 == 0 else ("k%d" % (i % 7)).encode(),
            # half random hex (compresses to about half), half repetition
            "value": None if i % 50 == 49 else
            ("%s-%05d-%s-" % (topic, i, os.urandom(24).hex())).encode() + b"y" * 60,
            "headers": [("h", b"1"), ("g", b"")] if i % 3 == 0 else [],
            # DISORDERED: every third run of 8 records per partition (one
            # batch, or parts of two) lies 5 s back
            "timestamp": t0 + 3 * i - (5000 if topic in DISORDERED and (i // 16) % 3 == 2 else 0),
            "offset": None,
        }
        sent.setdefault(part, []).append(rec)

        def report(err, msg, rec=rec):
            rec["offset"] = -1 if err else msg.offset()

        p.produce(topic, value=rec["value"], key=rec["key"], partition=part,
                  headers=rec["headers"] or None, timestamp=rec["timestamp"], on_delivery=report)
        p.poll(0)
    left = p.flush(DEADLINE)
    assert left == 0, "%d records of %s not delivered" % (left, topic)
    for part, recs in sent.items():
        assert [r["offset"] for r in recs] == list(range(len(recs))), \
            "%s-%d: offsets %s" % (topic, part, [r["offset"] for r in recs])
    return sent


def consume_and_commit(bootstrap, topics, total, extra_commits):
    """A group member reads everything and commits; then the commits in
    extra_commits ((topic, partition, offset)) are made. Returns the
    expected committed offsets {(topic, partition): offset}."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": GROUP,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
    })
    try:
        c.subscribe(topics)
        got = {}
        end = time.monotonic() + DEADLINE
        while sum(got.values()) < total:
            if time.monotonic() > end:
                raise AssertionError("consumed %d of %d records: %s" % (sum(got.values()), total, got))
            m = c.poll(0.2)
            if m is not None and not m.error():
                got[(m.topic(), m.partition())] = got.get((m.topic(), m.partition()), 0) + 1
        c.commit(asynchronous=False)
        expected = dict(got)
        for topic, part, off in extra_commits:
            c.commit(offsets=[TopicPartition(topic, part, off)], asynchronous=False)
            expected[(topic, part)] = off
        return expected
    finally:
        c.close()


# ---- running DumpLogSegments and reading what it prints ------------------------------------

def base_offset(path):
    return int(os.path.basename(path).split(".")[0])


def run_dump(args, files):
    """Run DumpLogSegments over files (absolute paths); returns
    {path: [stdout lines]}. Fails on a non-zero exit, on anything on
    stderr but the non-consecutive offset it always reports for a segment
    that does not start at 0 (its check starts every file at offset -1),
    and when a file has no section."""
    cmd = [KAFKA_REF, "run", DUMP] + list(args) + ["--files", ",".join(files)]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=DUMP_DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError("DumpLogSegments %s did not finish within %.0f s" % (" ".join(args), DUMP_DEADLINE))
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    what = "DumpLogSegments %s over %d files" % (" ".join(args) or "(dump mode)", len(files))
    if p.returncode != 0:
        raise AssertionError("%s exited with %d; stderr:\n%s\nstdout (last lines):\n%s"
                             % (what, p.returncode, err[-6000:], "\n".join(out.splitlines()[-20:])))
    bad = []
    lines = err.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^Non-consecutive offsets in (.+)$", lines[i])
        if m and i + 1 < len(lines):
            pair = re.match(r"^  (-?\d+) is followed by (-?\d+)$", lines[i + 1])
            if (pair and int(pair.group(1)) == -1 and int(pair.group(2)) == base_offset(m.group(1))
                    and (i + 2 == len(lines) or not lines[i + 2].startswith("  "))):
                i += 2
                continue
        bad.append(lines[i])
        i += 1
    if bad:
        raise AssertionError("%s reported on stderr:\n%s" % (what, err[-6000:]))

    sections = {}
    current = None
    for line in out.splitlines():
        if line.startswith("Dumping "):
            current = line[len("Dumping "):]
            if current in sections:
                raise AssertionError("%s dumped %s twice" % (what, current))
            sections[current] = []
        elif current is None:
            raise AssertionError("%s printed before the first file: %r" % (what, line))
        else:
            sections[current].append(line)
    missing = sorted(set(files) - set(sections))
    extra = sorted(set(sections) - set(files))
    if missing or extra:
        raise AssertionError("%s: no section for %s; unexpected sections %s" % (what, missing, extra))
    return sections


BATCH_RE = re.compile(
    r"^baseOffset: (?P<base>\d+) lastOffset: (?P<last>\d+) count: (?P<count>\d+)"
    r" baseSequence: (?P<base_seq>-?\d+) lastSequence: (?P<last_seq>-?\d+)"
    r" producerId: (?P<pid>-?\d+) producerEpoch: (?P<epoch>-?\d+) partitionLeaderEpoch: (?P<leader_epoch>-?\d+)"
    r" isTransactional: (?P<txn>true|false) isControl: (?P<control>true|false)"
    r" deleteHorizonMs: (?P<horizon>\S+) position: (?P<position>\d+)"
    r" (?P<ts_type>CreateTime|LogAppendTime): (?P<max_ts>-?\d+) size: (?P<size>\d+) magic: (?P<magic>\d+)"
    r" compresscodec: (?P<codec>\w+) crc: (?P<crc>\d+) isvalid: (?P<valid>true|false)$")
RECORD_RE = re.compile(
    r"^\| offset: (?P<offset>\d+) (?P<ts_type>CreateTime|LogAppendTime): (?P<ts>-?\d+)"
    r" keySize: (?P<key_size>-?\d+) valueSize: (?P<value_size>-?\d+)"
    r" sequence: (?P<seq>-?\d+) headerKeys: \[(?P<headers>[^\]]*)\](?P<rest>.*)$")
SNAPSHOT_RE = re.compile(
    r"^producerId: (?P<pid>-?\d+) producerEpoch: (?P<epoch>-?\d+) coordinatorEpoch: (?P<coord_epoch>-?\d+)"
    r" currentTxnFirstOffset: (?P<txn_first>\S+) lastTimestamp: (?P<last_ts>-?\d+)"
    r"(?: firstSequence: (?P<first_seq>-?\d+) lastSequence: (?P<last_seq>-?\d+)"
    r" lastOffset: (?P<last_offset>-?\d+) offsetDelta: (?P<offset_delta>-?\d+) timestamp: (?P<ts>-?\d+))?$")
INDEX_ENTRY_RE = re.compile(r"^offset: (?P<offset>\d+) position: (?P<position>\d+)$")
TIME_ENTRY_RE = re.compile(r"^timestamp: (?P<ts>-?\d+) offset: (?P<offset>\d+)$")

INTS = ("base", "last", "count", "base_seq", "last_seq", "pid", "epoch", "leader_epoch", "position", "max_ts",
        "size", "magic", "offset", "ts", "key_size", "value_size", "seq", "coord_epoch", "last_ts", "first_seq",
        "last_offset", "offset_delta")


def ints(m):
    return {k: (int(v) if k in INTS and v is not None else v) for k, v in m.groupdict().items()}


def parse_log(path, lines, decoder=None):
    """A .log section: {"batches": [...], "records": [...]}; each record
    has its batch. decoder "string" (print-data-log) or "offsets" also
    reads the key and payload."""
    if not lines or lines[0] != "Log starting offset: %d" % base_offset(path):
        raise AssertionError("%s: expected 'Log starting offset: %d', got %r"
                             % (path, base_offset(path), lines[:1]))
    batches, records = [], []
    for line in lines[1:]:
        m = BATCH_RE.match(line)
        if m:
            batches.append(ints(m))
            continue
        m = RECORD_RE.match(line)
        if m and batches:
            rec = ints(m)
            rec["batch"] = batches[-1]
            rec["header_keys"] = rec.pop("headers").split(",") if rec["headers"] else []
            rest = rec.pop("rest")
            if decoder == "offsets":
                km = re.match(r"^ key: ", rest)
                if not km:
                    raise AssertionError("%s: offsets record without a key: %r" % (path, line))
                dec = json.JSONDecoder()
                rec["key"], end = dec.raw_decode(rest, km.end())
                pm = re.compile(r" payload: ").match(rest, end)
                if not pm:
                    raise AssertionError("%s: offsets record without a payload: %r" % (path, line))
                rec["payload"] = rest[pm.end():]
                rec["value"] = None if rec["payload"] == "<DELETE>" else json.loads(rec["payload"])
            elif decoder == "string":
                dm = re.match(r"^(?: key: (?P<key>.*?))?(?: payload: (?P<value>.*))?$", rest)
                rec["key"], rec["value"] = dm.group("key"), dm.group("value")
            elif rest:
                raise AssertionError("%s: unexpected text after a record: %r" % (path, line))
            records.append(rec)
            continue
        raise AssertionError("%s: unexpected line from DumpLogSegments: %r" % (path, line))
    return {"batches": batches, "records": records}


def parse_lines(path, lines, rx):
    out = []
    for line in lines:
        m = rx.match(line)
        if not m:
            raise AssertionError("%s: unexpected line from DumpLogSegments: %r" % (path, line))
        out.append(ints(m))
    return out


# ---- the checks ---------------------------------------------------------------

def partition_dirs(data_dir):
    """{(topic, partition): directory} of the data directory."""
    out = {}
    for name in os.listdir(data_dir):
        m = re.match(r"^(.+)-(\d+)$", name)
        if m and os.path.isdir(os.path.join(data_dir, name)):
            out[(m.group(1), int(m.group(2)))] = os.path.join(data_dir, name)
    return out


def files_with(directory, ext):
    return sorted((os.path.join(directory, f) for f in os.listdir(directory) if f.endswith("." + ext)),
                  key=base_offset)


class FormatChecker:
    """Runs DumpLogSegments over a Gregor data directory and checks what it
    reads against what was produced and committed. Every method raises
    AssertionError with DumpLogSegments' words on a problem."""

    def __init__(self, data_dir, sent, commits, subscribed, after_kill=False):
        self.data_dir = data_dir
        self.sent = sent                  # {(topic, partition): [record]}
        self.commits = commits            # {(topic, partition): offset}
        self.subscribed = subscribed      # topics the group subscribed to
        self.after_kill = after_kill      # the active segments' indexes are left preallocated
        self.parts = partition_dirs(data_dir)
        self.codec = {t[0]: t[2] for t in TOPICS}
        self.idempotent = {t[0]: t[3] for t in TOPICS}
        self.log_append = {t[0] for t in TOPICS if t[4].get("message.timestamp.type") == "LogAppendTime"}
        self.logs = {}  # (topic, partition) -> {path: parsed log}
        self.pid = {}   # (topic, partition) -> the producer id of its batches

    def data_parts(self, only=None):
        return sorted(k for k in self.parts if k[0] != "__consumer_offsets" and (only is None or k in only))

    def check_all(self):
        self.check_layout()
        self.check_logs_and_snapshots()
        self.check_indexes()
        self.check_offsets()

    def check_layout(self):
        want = set(self.sent) | {("__consumer_offsets", p) for p in range(OFFSETS_PARTITIONS)}
        assert set(self.parts) == want, "partition directories %s, expected %s" % (
            sorted(self.parts), sorted(want))
        for key, d in self.parts.items():
            logs = files_with(d, "log")
            assert logs, "%s has no .log" % d
            for log in logs:
                for ext in ("index", "timeindex"):
                    other = log[:-len("log")] + ext
                    assert os.path.exists(other), "%s has no .%s beside it" % (log, ext)
        for key in self.sent:
            n = len(files_with(self.parts[key], "log"))
            assert n >= 3, "%s-%d has %d segments: the load should roll several" % (key + (n,))

    # -- .log and .snapshot ----------------------------------------------------

    def check_logs_and_snapshots(self, only=None):
        parts = self.data_parts(only)
        files = []
        for key in parts:
            d = self.parts[key]
            files += files_with(d, "log") + files_with(d, "snapshot") + files_with(d, "txnindex")
        sections = run_dump(["--deep-iteration", "--print-data-log"], files)
        for key in parts:
            d = self.parts[key]
            logs = {p: parse_log(p, sections[p], "string") for p in files_with(d, "log")}
            self.logs[key] = logs
            self.check_partition_log(key, logs)
            for snap in files_with(d, "snapshot"):
                self.check_snapshot(key, snap, parse_lines(snap, sections[snap], SNAPSHOT_RE), logs)
            for txn in files_with(d, "txnindex"):
                assert sections[txn] == [], "%s: aborted transactions %s" % (txn, sections[txn])

    def check_partition_log(self, key, logs):
        topic, part = key
        name = "%s-%d" % key
        sent = self.sent[key]
        batches, records = [], []
        for path, parsed in logs.items():
            if parsed["batches"]:
                assert parsed["batches"][0]["base"] == base_offset(path), \
                    "%s starts at offset %d" % (path, parsed["batches"][0]["base"])
            pos = 0
            for b in parsed["batches"]:
                assert b["position"] == pos, "%s: batch at %d, expected %d" % (path, b["position"], pos)
                pos += b["size"]
            assert pos == os.path.getsize(path), "%s: batches end at %d of %d bytes" % (
                path, pos, os.path.getsize(path))
            batches += parsed["batches"]
            records += parsed["records"]
        assert [r["offset"] for r in records] == list(range(len(sent))), \
            "%s: offsets read %s, expected 0..%d" % (name, [r["offset"] for r in records], len(sent) - 1)

        pids = set()
        next_seq = 0
        for b in batches:
            where = "%s batch at offset %d" % (name, b["base"])
            assert b["valid"] == "true", "%s: isvalid: %s" % (where, b["valid"])
            assert b["magic"] == 2, "%s: magic %d" % (where, b["magic"])
            assert b["codec"] == self.codec[topic], "%s: compresscodec %s, expected %s" % (
                where, b["codec"], self.codec[topic])
            assert b["count"] == b["last"] - b["base"] + 1, "%s: count %d" % (where, b["count"])
            assert (b["txn"], b["control"]) == ("false", "false"), where
            if self.idempotent[topic]:
                assert b["pid"] >= 0 and b["epoch"] == 0, "%s: producer %d epoch %d" % (where, b["pid"], b["epoch"])
                assert b["base_seq"] == next_seq, "%s: baseSequence %d, expected %d" % (
                    where, b["base_seq"], next_seq)
                assert b["last_seq"] - b["base_seq"] == b["last"] - b["base"], where
                next_seq = b["last_seq"] + 1
                pids.add(b["pid"])
            else:
                assert (b["pid"], b["base_seq"]) == (-1, -1), "%s: producer %d" % (where, b["pid"])
            if topic in self.log_append:
                assert b["ts_type"] == "LogAppendTime", where
            else:
                assert b["ts_type"] == "CreateTime", where
                recs = [r for r in records if b["base"] <= r["offset"] <= b["last"]]
                assert b["max_ts"] == max(r["ts"] for r in recs), "%s: max timestamp" % where
        if self.idempotent[topic]:
            assert len(pids) == 1, "%s: producer ids %s" % (name, pids)
        if topic in DISORDERED:
            backwards = [b["base"] for i, b in enumerate(batches) if i and b["max_ts"] < batches[i - 1]["max_ts"]]
            assert backwards, "%s: no batch with older timestamps than the one before" % name
        self.pid[key] = pids.pop() if pids else None

        for r, s in zip(records, sent):
            where = "%s offset %d" % (name, r["offset"])
            want_value = None if s["value"] is None else s["value"].decode()
            want_key = None if s["key"] is None else s["key"].decode()
            assert r["value"] == want_value, "%s: payload %r, sent %r" % (where, r["value"], want_value)
            assert r["key"] == want_key, "%s: key %r, sent %r" % (where, r["key"], want_key)
            assert r["header_keys"] == [h[0] for h in s["headers"]], "%s: header keys %s" % (where, r["header_keys"])
            if topic in self.log_append:
                assert r["ts"] == r["batch"]["max_ts"], "%s: LogAppendTime %d" % (where, r["ts"])
            else:
                assert r["ts"] == s["timestamp"], "%s: timestamp %d, sent %d" % (where, r["ts"], s["timestamp"])
            if self.idempotent[topic]:
                assert r["seq"] == r["batch"]["base_seq"] + r["offset"] - r["batch"]["base"], where

    def check_snapshot(self, key, path, entries, logs):
        """A producer snapshot at offset X holds the state after the batches
        below X: each entry one of them, with the log's producer id."""
        at = base_offset(path)
        by_last = {b["last"]: b for parsed in logs.values() for b in parsed["batches"]}
        for e in entries:
            where = "%s: entry %s" % (path, e)
            assert e["pid"] == self.pid[key], "%s: producer %d, the log has %s" % (where, e["pid"], self.pid[key])
            assert e["epoch"] == 0 and e["coord_epoch"] == -1 and e["txn_first"] == "OptionalLong.empty", where
            assert e["last_offset"] is not None, "%s: no batch" % where
            assert e["last_offset"] < at, "%s: batch beyond the snapshot offset" % where
            b = by_last.get(e["last_offset"])
            assert b is not None, "%s: no batch in the log ends at %d" % (where, e["last_offset"])
            assert (e["first_seq"], e["last_seq"], e["offset_delta"]) == (
                b["base_seq"], b["last_seq"], b["last"] - b["base"]), "%s: log batch %s" % (where, b)
            assert e["ts"] == b["max_ts"], "%s: timestamp, log batch %s" % (where, b)
        n = len(self.sent[key])
        if self.idempotent[key[0]] and at == n:
            assert any(e["last_offset"] == n - 1 for e in entries), \
                "%s: the snapshot at the log end has no entry for the last batch" % path

    def check_final_snapshots(self):
        """After a clean stop each idempotent partition has a snapshot at
        its log end offset (Kafka writes one when it closes a log)."""
        for key in self.data_parts():
            if self.idempotent[key[0]]:
                snaps = [base_offset(p) for p in files_with(self.parts[key], "snapshot")]
                assert len(self.sent[key]) in snaps, "%s-%d: snapshots %s, none at the log end %d" % (
                    key + (snaps, len(self.sent[key])))

    def check_closed_time_indexes_end_at_max(self):
        """Kafka ends a segment's time index with the segment's largest
        timestamp and the batch that first reached it when the segment
        stops being the active one (LogSegment.onBecomeInactiveSegment).
        Needs check_logs_and_snapshots first."""
        wrong = []
        for key in self.data_parts():
            logs = list(self.logs[key].items())
            for path, parsed in logs[:-1]:
                best = None
                for b in parsed["batches"]:
                    if best is None or b["max_ts"] > best[0]:
                        best = (b["max_ts"], b["last"])
                with open(path[:-len("log")] + "timeindex", "rb") as f:
                    data = f.read()
                last = None
                if data:
                    ts, rel = struct.unpack(">qi", data[-12:])
                    last = (ts, base_offset(path) + rel)
                if last != best:
                    wrong.append("%s: last entry %s, the segment's largest timestamp and offset %s"
                                 % (path, last, best))
        assert not wrong, "%d closed segments:\n%s" % (len(wrong), "\n".join(wrong))

    # -- .index and .timeindex -------------------------------------------------

    def index_files(self, only=None):
        files = []
        for key in sorted(self.parts):
            if only is not None and key not in only:
                continue
            d = self.parts[key]
            logs = files_with(d, "log")
            for log in logs:
                pair = [log[:-len("log")] + "index", log[:-len("log")] + "timeindex"]
                if self.after_kill and log == logs[-1]:
                    # Left preallocated and zero-filled by the kill, as Kafka
                    # leaves its own: Kafka rebuilds them at startup, and
                    # DumpLogSegments misreads them (Kafka 4.4's own files
                    # after a kill -9 give "Mismatches in" too).
                    continue
                files += pair
        return files

    def check_indexes(self, only=None):
        files = self.index_files(only)
        sections = run_dump(["--index-sanity-check"], files)
        for path in files:
            ok = ["%s passed sanity check." % path]
            if path.endswith(".index"):
                ok.append("%s is empty." % path)
            assert len(sections[path]) == 1 and sections[path][0] in ok, "%s: %s" % (path, sections[path])

        # The dump mode looks every entry up in the log: mismatches go to
        # stderr, which run_dump checks.
        sections = run_dump([], files)
        entries = {"index": 0, "timeindex": 0}
        segments = 0
        for path in files:
            ext = path.rsplit(".", 1)[1]
            size = os.path.getsize(path)
            lines = sections[path]
            if ext == "index" and lines == ["%s is empty." % path]:
                assert size == 0, "%s: empty, but %d bytes" % (path, size)
                continue
            got = parse_lines(path, lines, INDEX_ENTRY_RE if ext == "index" else TIME_ENTRY_RE)
            width = 8 if ext == "index" else 12
            assert len(got) * width == size, "%s: %d entries read from %d bytes" % (path, len(got), size)
            offs = [e["offset"] for e in got]
            assert offs == sorted(set(offs)), "%s: offsets %s" % (path, offs)
            if ext == "timeindex":
                ts = [e["ts"] for e in got]
                assert ts == sorted(set(ts)), "%s: timestamps %s" % (path, ts)
            if not os.path.basename(os.path.dirname(path)).startswith("__consumer_offsets-"):
                entries[ext] += len(got)
                segments += ext == "index"
        if only is None:
            # not vacuous: the load makes more index entries than segments
            assert entries["index"] >= segments and entries["timeindex"] >= segments, \
                "index entries %s in %d data segments" % (entries, segments)

    # -- __consumer_offsets ------------------------------------------------------

    def check_offsets(self):
        logs = []
        for p in range(OFFSETS_PARTITIONS):
            logs += files_with(self.parts[("__consumer_offsets", p)], "log")
        sections = run_dump(["--offsets-decoder"], logs)
        home = offsets_partition(GROUP)
        commits, groups = {}, []
        for path in logs:
            parsed = parse_log(path, sections[path], "offsets")
            part = int(os.path.basename(os.path.dirname(path)).rsplit("-", 1)[1])
            for b in parsed["batches"]:
                assert b["valid"] == "true" and b["magic"] == 2, "%s: batch %s" % (path, b)
            for r in parsed["records"]:
                where = "%s offset %d" % (path, r["offset"])
                k, v = r["key"], r["value"]
                assert isinstance(k, dict) and k.get("type") in ("0", "1", "2"), "%s: key %r" % (where, k)
                assert k["data"]["group"] == GROUP, "%s: group %r" % (where, k)
                assert part == home, "%s: group %s belongs in partition %d" % (where, GROUP, home)
                if k["type"] in ("0", "1"):
                    assert v is not None and isinstance(v["data"].get("offset"), int), "%s: %r" % (where, v)
                    commits[(k["data"]["topic"], k["data"]["partition"])] = v["data"]["offset"]
                else:
                    groups.append(v)
        assert commits == self.commits, "committed offsets read by Kafka %s, expected %s" % (
            sorted(commits.items()), sorted(self.commits.items()))
        assert groups, "no GroupMetadata record for %s" % GROUP
        assert all(g is not None and g["data"]["protocolType"] == "consumer" for g in groups), groups
        # a member's subscription and assignment decoded by Kafka
        members = [m for g in groups for m in g["data"]["members"]]
        assert members, "no GroupMetadata record with members: %s" % groups
        for m in members:
            assert isinstance(m["subscription"], dict), "subscription not decoded: %r" % m
            assert sorted(m["subscription"]["topics"]) == sorted(self.subscribed), m["subscription"]
            assert isinstance(m["assignment"], dict), "assignment not decoded: %r" % m
        assigned = {(a["topic"], p) for a in members[-1]["assignment"]["assignedPartitions"] for p in a["partitions"]}
        assert assigned == set(self.sent), "assignment %s" % sorted(assigned)


# ---- the tests ----------------------------------------------------------------

def load(bootstrap, topics):
    create_topics(bootstrap, topics)
    sent = {}
    for topic, codec, _, idempotent, _ in topics:
        for part, recs in produce(bootstrap, topic, codec, idempotent).items():
            sent[(topic, part)] = recs
    names = [t[0] for t in topics]
    commits = consume_and_commit(bootstrap, names, sum(len(r) for r in sent.values()),
                                 [(names[1], 1, 123), (names[0], 0, 7)])
    return sent, commits, names


@unittest.skipIf(JAVA is None, SKIP_REASON)
@gregor_only("it checks the files Gregor writes, with Kafka's tools")
class KafkaFormatTest(unittest.TestCase):
    """Gregor stopped cleanly: Kafka reads every file, and its reading
    matches what was produced and committed."""

    @classmethod
    def setUpClass(cls):
        fetch_kafka()
        cls.dir = tempfile.mkdtemp(prefix="gregor-it-kf-")
        b = Broker(data_dir=cls.dir, overrides=OVERRIDES)
        try:
            b.start()
            cls.sent, cls.commits, cls.topics = load(b.bootstrap, TOPICS)
            b.stop()
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        finally:
            b.cleanup()
        cls.data = os.path.join(cls.dir, "data")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def checker(self, data=None):
        return FormatChecker(data or self.data, self.sent, self.commits, self.topics)

    def test_kafka_reads_every_file(self):
        c = self.checker()
        c.check_all()
        c.check_final_snapshots()

    def test_closed_time_indexes_end_at_max(self):
        """A Kafka that takes over the directory reads a closed segment's
        largest timestamp from the last time index entry
        (LogSegment.readMaxTimestampAndOffsetSoFar; it scans the log only
        when it recovers the segment), for time retention and for
        ListOffsets by timestamp, which skips the segments whose largest
        timestamp lies below the one asked for. Kafka appends that entry
        when a segment rolls, closes or is recovered, and so does Gregor
        (gs_time_index_close); DumpLogSegments does not check this."""
        c = self.checker()
        c.check_logs_and_snapshots()
        c.check_closed_time_indexes_end_at_max()

    def test_corruption_is_caught(self):
        """The checks fail on broken files (a copy of the data)."""
        copy = tempfile.mkdtemp(prefix="gregor-it-kf-bad-")
        try:
            data = os.path.join(copy, "data")
            shutil.copytree(self.data, data)
            c = self.checker(data)

            def segment(topic, part, i, ext):
                return files_with(c.parts[(topic, part)], ext)[i]

            def flip(path, pos, mask=0x01):
                with open(path, "r+b") as f:
                    f.seek(pos)
                    b = f.read(1)
                    f.seek(pos)
                    f.write(bytes([b[0] ^ mask]))

            def caught(what, check, only, *words):
                with self.assertRaises(AssertionError, msg=what) as cm:
                    check(only)
                msg = str(cm.exception)
                self.assertTrue(any(w in msg for w in words), "%s: %s" % (what, msg[:2000]))

            # a value byte of an uncompressed record: the batch CRC
            log = segment("kf-none", 0, 0, "log")
            flip(log, 61 + 40)
            caught("flipped record byte", c.check_logs_and_snapshots, {("kf-none", 0)}, "isvalid: false")
            flip(log, 61 + 40)
            # a torn last batch
            log = segment("kf-gzip", 1, -1, "log")
            with open(log, "r+b") as f:
                f.truncate(os.path.getsize(log) - 3)
            caught("truncated .log", c.check_logs_and_snapshots, {("kf-gzip", 1)}, "invalid bytes at the end of")
            # an offset index entry one off
            idx = segment("kf-lz4", 0, 0, "index")
            flip(idx, 3)
            caught("offset index entry", c.check_indexes, {("kf-lz4", 0)}, "Mismatches in :")
            flip(idx, 3)
            # a time index timestamp
            tidx = segment("kf-zstd", 1, 1, "timeindex")
            flip(tidx, 7)
            caught("time index timestamp", c.check_indexes, {("kf-zstd", 1)}, "Found timestamp mismatch in :")
            # a producer snapshot: DumpLogSegments exits 0 and prints the CRC error
            snap = segment("kf-snappy", 0, -1, "snapshot")
            flip(snap, os.path.getsize(snap) - 5)
            caught("producer snapshot", c.check_logs_and_snapshots, {("kf-snappy", 0)}, "reported on stderr")
        finally:
            shutil.rmtree(copy, ignore_errors=True)


@unittest.skipIf(JAVA is None, SKIP_REASON)
@gregor_only("it checks the files Gregor writes, with Kafka's tools")
class KafkaFormatAfterKillTest(unittest.TestCase):
    """Gregor killed with SIGKILL: the files as left are Kafka's format
    (the active segments' indexes stay preallocated, as Kafka's do); after
    the restart that recovers them and a clean stop, every file is."""

    def test_kill9_then_restart(self):
        fetch_kafka()
        topics = [t for t in TOPICS if t[0] in ("kf-zstd", "kf-snappy", "kf-logappend")]
        tmp = tempfile.mkdtemp(prefix="gregor-it-kf-kill-")
        try:
            b = Broker(data_dir=tmp, overrides=OVERRIDES)
            try:
                b.start()
                sent, commits, names = load(b.bootstrap, topics)
                b.kill()
            finally:
                b.cleanup()
            data = os.path.join(tmp, "data")
            FormatChecker(data, sent, commits, names, after_kill=True).check_all()

            b = Broker(data_dir=tmp, overrides=OVERRIDES)
            try:
                b.start()
                b.stop()
            finally:
                b.cleanup()
            c = FormatChecker(data, sent, commits, names)
            c.check_all()
            c.check_final_snapshots()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


TXNINDEX_RE = re.compile(
    r"^version: (?P<version>\d+) producerId: (?P<pid>-?\d+) firstOffset: (?P<first>-?\d+)"
    r" lastOffset: (?P<last>-?\d+) lastStableOffset: (?P<lso>-?\d+)$")


@unittest.skipIf(JAVA is None, SKIP_REASON)
@gregor_only("it writes transactional batches into the data directory")
class TxnIndexFormatTest(unittest.TestCase):
    """Kafka reads Gregor's .txnindex: two aborted transactions (the
    second ending while none is open, so its LSO is the offset after its
    marker), the transactional batches written into the log while the
    broker was killed (Produce cannot write them without a transaction
    coordinator yet) and ended by WriteTxnMarkers; DumpLogSegments prints
    the entries Gregor meant, after a clean stop."""

    def test_kafka_reads_txnindex(self):
        import glob
        import signal

        import kwire
        from test_idempotence import decode_produce_response, idempotent_batch, init_pid, produce_request
        from test_txn_markers import batch_at, decode_write_txn_markers_response, write_txn_markers_request

        fetch_kafka()
        topic = "kf-txn"
        b = Broker()
        try:
            b.start()
            with kwire.Conn(b.host, b.port) as c:
                c.wait_topic(topic)
                _, p0, _ = init_pid(c, 0)
                _, pa, _ = init_pid(c, 0)
                _, pb, _ = init_pid(c, 0)
                c.send(produce_request(2, topic, 0, idempotent_batch(p0, 0, 0, [b"a", b"b"])))
                assert decode_produce_response(c.recv_frame())[:2] == (0, 0)
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            part = os.path.join(b.data_dir, "data", topic + "-0")
            with open(sorted(glob.glob(os.path.join(part, "*.log")))[-1], "ab") as f:
                f.write(batch_at(2, idempotent_batch(pa, 0, 0, [b"x1", b"x2"], transactional=True)))
                f.write(batch_at(4, idempotent_batch(pb, 0, 0, [b"y1"], transactional=True)))
            b.start()
            with kwire.Conn(b.host, b.port) as c:
                c.wait_topic(topic, create=False)
                for corr, pid in ((3, pa), (4, pb)):
                    c.send(write_txn_markers_request(corr, [(pid, 0, False, 0, [(topic, [0])])]))
                    self.assertEqual(decode_write_txn_markers_response(c.recv_frame()), {(pid, topic, 0): 0})
            b.stop()
            path = os.path.join(part, "%020d.txnindex" % 0)
            sections = run_dump([], [path])
            got = [{k: int(v) for k, v in m.groupdict().items()}
                   for m in (TXNINDEX_RE.match(line) for line in sections[path]) if m]
            self.assertEqual(len(got), len(sections[path]), "unexpected lines: %r" % sections[path])
            self.assertEqual([(e["version"], e["pid"], e["first"], e["last"], e["lso"]) for e in got],
                             [(0, pa, 2, 5, 4), (0, pb, 4, 6, 7)])
        finally:
            b.cleanup()


class TxnStateFormatTest(unittest.TestCase):
    """Kafka reads Gregor's __transaction_state: a transactional producer
    commits one transaction and aborts another on two partitions; after a
    clean stop, DumpLogSegments --transaction-log-decoder decodes every
    record of the id's partition, and they tell the story in order (Empty
    epoch 0, Ongoing with both partitions, PrepareCommit, CompleteCommit,
    Ongoing, PrepareAbort, CompleteAbort). The data partitions hold a COMMIT
    and an ABORT marker of that producer."""

    def test_kafka_reads_transaction_state(self):
        import glob

        fetch_kafka()
        topic, tid = "kf-txn-state", "kf-tid-1"
        b = Broker()
        try:
            b.start()
            bootstrap = "%s:%d" % (b.host, b.port)
            admin = AdminClient({"bootstrap.servers": bootstrap})
            for f in admin.create_topics([NewTopic(topic, 2, 1)]).values():
                f.result(timeout=DEADLINE)
            p = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid,
                          "transaction.timeout.ms": 60000})
            p.init_transactions(DEADLINE)
            for commit in (True, False):
                p.begin_transaction()
                for i in range(4):
                    p.produce(topic, value=b"v%d" % i, partition=i % 2)
                p.flush(DEADLINE)
                if commit:
                    p.commit_transaction(DEADLINE)
                else:
                    p.abort_transaction(DEADLINE)
            b.stop()
            data = os.path.join(b.data_dir, "data")
            logs = sorted(glob.glob(os.path.join(data, "__transaction_state-*", "*.log")))
            self.assertTrue(logs, "no __transaction_state segments")
            sections = run_dump(["--transaction-log-decoder"], logs)
            states, pids = [], set()
            for path in logs:
                for rec in parse_log(path, sections[path], decoder="offsets")["records"]:
                    self.assertEqual(rec["key"], {"type": "0", "data": {"transactionalId": tid}})
                    v = rec["value"]["data"]
                    pids.add(v["producerId"])
                    parts = sorted((t["topic"], pi) for t in v["transactionPartitions"] or []
                                   for pi in t["partitionIds"])
                    entry = (v["transactionStatus"], v["producerEpoch"], parts)
                    if states and entry[0] == "Ongoing" and states[-1][0] == "Ongoing":
                        # librdkafka may add the two partitions in one
                        # AddPartitionsToTxn or in two: each Ongoing record
                        # holds every partition added so far.
                        self.assertLess(set(states[-1][2]), set(parts), "Ongoing records only grow")
                        states[-1] = entry
                    else:
                        states.append(entry)
            both = [(topic, 0), (topic, 1)]
            self.assertEqual(states, [("Empty", 0, []), ("Ongoing", 0, both), ("PrepareCommit", 0, both),
                                      ("CompleteCommit", 0, []), ("Ongoing", 0, both), ("PrepareAbort", 0, both),
                                      ("CompleteAbort", 0, [])])
            self.assertEqual(len(pids), 1)
            pid = pids.pop()
            for part in (0, 1):
                path = sorted(glob.glob(os.path.join(data, "%s-%d" % (topic, part), "*.log")))[0]
                out = run_dump([], [path])[path]
                ctl = [int(m.group("pid")) for m in (BATCH_RE.match(line) for line in out)
                       if m and m.group("control") == "true"]
                self.assertEqual(ctl, [pid, pid], "markers in %s: %r" % (path, out))
        finally:
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
