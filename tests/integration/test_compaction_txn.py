"""
Log compaction of a transactional, compacted topic (Kafka's LogCleaner
with CleanedTransactionMetadata and KIP-534's delete horizon):

- the records of an aborted transaction are removed by the first cleaning;
- a transaction marker (COMMIT or ABORT) stays while its transaction still
  has batches in the log below it; once a cleaning finds none, it gets a
  delete horizon (now + delete.retention.ms), and a cleaning after the
  horizon removes it;
- read_committed and read_uncommitted consumers see the right records
  before and after;
- Gregor only: Kafka's DumpLogSegments reads the cleaned segments, with
  their delete horizons, and the many small segments were merged.

Segments roll by segment.ms when a record arrives after it (compaction's
test_compaction.roll), and every round writes, waits and writes one more
record so that the cleaner has dirty data to clean again.
"""

import os
import re
import struct
import time

from confluent_kafka import Consumer, Producer, TopicPartition

import kwire
from broker import BrokerTestCase, gregor_only, wait_until
from test_compaction import DEADLINE, OVERRIDES, create_topic, dump, produce, read_all, roll, topic_logs
from test_txn_markers import READ_UNCOMMITTED, decode_fetch_response, fetch_request

DELETE_RETENTION_MS = 2000


def batches(broker, topic):
    """Every batch of the partition, fetched raw (read_uncommitted, Fetch
    v4): [(base offset, last offset, control, attributes, base timestamp)]."""
    out = []
    with kwire.Conn(broker.host, broker.port) as c:
        offset, hw = 0, None
        while hw is None or offset < hw:
            c.send(fetch_request(1, topic, 0, offset, READ_UNCOMMITTED, max_bytes=1 << 20))
            payload = c.recv_frame()
            err, hw, _lso, _aborted, got = decode_fetch_response(payload)
            assert err == 0, err
            if not got:
                break
            out += got
            offset = got[-1][1] + 1
    return out


def raw_batches(broker, topic):
    """Every batch of the partition's first fetch (read_uncommitted, Fetch
    v4): [(base offset, attributes, base timestamp, max timestamp)]."""
    with kwire.Conn(broker.host, broker.port) as c:
        c.send(fetch_request(2, topic, 0, 0, READ_UNCOMMITTED, max_bytes=1 << 20))
        r = kwire.Reader(c.recv_frame())
    r.int32()
    r.int32()  # throttle
    r.int32()  # one topic
    r.string(False)
    r.int32()  # one partition
    r.int32()
    assert r.int16() == 0
    r.int64()
    r.int64()
    n = r.int32()
    for _ in range(max(n, 0)):
        r.int64()
        r.int64()
    records = r.take(r.int32())
    out, pos = [], 0
    while pos + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        if pos + 12 + length > len(records):
            break
        attrs, _delta, base_ts, max_ts = struct.unpack_from(">hiqq", records, pos + 21)
        out.append((base, attrs, base_ts, max_ts))
        pos += 12 + length
    return out


def control_batches(broker, topic):
    return [b for b in batches(broker, topic) if b[2]]


class CompactionTxnTest(BrokerTestCase):
    OVERRIDES = OVERRIDES

    def txn_producer(self, tid):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "transactional.id": tid,
                      "transaction.timeout.ms": 60000, "linger.ms": 5})
        p.init_transactions(DEADLINE)
        return p

    def txn(self, p, topic, records, commit):
        p.begin_transaction()
        for k, v in records:
            p.produce(topic, key=k.encode(), value=v.encode(), partition=0)
        p.flush(DEADLINE)
        if commit:
            p.commit_transaction(DEADLINE)
        else:
            p.abort_transaction(DEADLINE)

    def test_aborted_records_and_markers_removed(self):
        b = self.broker.bootstrap
        topic = "cmt-markers"
        create_topic(b, topic, delete_retention_ms=DELETE_RETENTION_MS)
        p = self.txn_producer("cmt-markers-tx")
        self.txn(p, topic, [("x1", "A"), ("x2", "A")], True)   # A: superseded below
        self.txn(p, topic, [("x1", "B"), ("y", "B")], False)   # B: aborted
        self.txn(p, topic, [("z", "C")], True)                 # C: stays
        produce(b, topic, [("x1", "N"), ("x2", "N")])
        roll(b, topic, "r0")
        # (The cleaner runs every 100 ms: it may have cleaned already.)
        want = {"x1": "N", "x2": "N", "z": "C"}

        def view(isolation):
            return {k: v for _, k, v in read_all(b, topic, isolation) if k != "roll"}

        # The first cleaning removes the aborted and the superseded records.
        wait_until(lambda: view("read_uncommitted") == want, DEADLINE, "the aborted records to go", interval=0.5)
        self.assertEqual(view("read_committed"), want)
        # C's marker stays for good (z is C's); A's and B's go once a
        # cleaning found their transactions empty and a later one is past
        # their delete horizon (delete.retention.ms).
        deadline = time.monotonic() + DEADLINE
        n = 0
        while True:
            markers = control_batches(self.broker, topic)
            if len(markers) == 1:
                break
            self.assertLess(time.monotonic(), deadline, "markers still there: %r" % markers)
            n += 1
            produce(b, topic, [("other", str(n))])
            roll(b, topic, "r%d" % n)
            time.sleep(0.5)
        self.assertGreaterEqual(n, 1)
        want["other"] = str(n)
        for isolation in ("read_committed", "read_uncommitted"):
            self.assertEqual(view(isolation), want, isolation)
        # The marker left is C's: right after z.
        z_offset = [off for off, k, _ in read_all(b, topic, "read_committed") if k == "z"][0]
        self.assertEqual(markers[0][0], z_offset + 1)
        p.flush(1)

    def test_committed_marker_kept_while_records_remain(self):
        b = self.broker.bootstrap
        topic = "cmt-kept"
        create_topic(b, topic, delete_retention_ms=500)
        p = self.txn_producer("cmt-kept-tx")
        self.txn(p, topic, [("k%d" % i, "v%d" % i) for i in range(5)], True)
        roll(b, topic, "r0")
        for n in range(1, 4):
            produce(b, topic, [("other", str(n))])
            roll(b, topic, "r%d" % n)
            time.sleep(0.6)
        # Every record of the transaction is the latest of its key: its
        # marker stays however many cleanings pass.
        self.assertEqual(len(control_batches(self.broker, topic)), 1)
        got = {k: v for _, k, v in read_all(b, topic, "read_committed") if k.startswith("k")}
        self.assertEqual(got, {"k%d" % i: "v%d" % i for i in range(5)})


class CompactionHorizonTest(BrokerTestCase):
    OVERRIDES = OVERRIDES

    def test_delete_horizon_batch_keeps_record_timestamps(self):
        """KIP-534: the batch that keeps a tombstone is rewritten with the
        delete-horizon attribute and baseTimestamp = now +
        delete.retention.ms; consumers and ListOffsets by timestamp still
        see every record's own CreateTime."""
        b = self.broker.bootstrap
        topic = "cmt-horizon"
        create_topic(b, topic, delete_retention_ms=86400000)
        t0 = int(time.time() * 1000) - 60000
        p = Producer({"bootstrap.servers": b, "acks": "all", "linger.ms": 50})
        items = [("h1", "a"), ("h2", "b"), ("h1", "c"), ("h3", None), ("h4", "d")]
        for i, (k, v) in enumerate(items):
            p.produce(topic, key=k.encode(), value=None if v is None else v.encode(), partition=0,
                      timestamp=t0 + 1000 * i)
        self.assertEqual(p.flush(30), 0)
        roll(b, topic, "r0")

        def horizon():
            hs = [x for x in raw_batches(self.broker, topic) if x[1] & 0x40]
            return hs and hs[0]
        base, attrs, base_ts, max_ts = wait_until(horizon, DEADLINE, "a batch with a delete horizon", interval=0.5)
        now = int(time.time() * 1000)
        self.assertGreater(base_ts, now + 86400000 - 60000 - 1)
        self.assertLessEqual(base_ts, now + 86400000)
        self.assertEqual(max_ts, t0 + 4000)
        c = Consumer({"bootstrap.servers": b, "group.id": "cmt-h", "enable.auto.commit": False,
                      "enable.partition.eof": True})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            got, end = [], time.monotonic() + 30
            while time.monotonic() < end:
                m = c.poll(1.0)
                if m is None:
                    continue
                if m.error():
                    break
                got.append((m.offset(), m.key().decode(), m.timestamp()[1]))
            self.assertEqual([g for g in got if g[1] != "roll"],
                             [(1, "h2", t0 + 1000), (2, "h1", t0 + 2000), (3, "h3", t0 + 3000),
                              (4, "h4", t0 + 4000)])
            # ListOffsets by timestamp: the first record at or after it.
            for ts, want in ((t0 + 2000, 2), (t0 + 2500, 3), (t0 + 500, 1), (t0 + 4000, 4)):
                tp, = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=30)
                self.assertEqual(tp.offset, want, ts)
        finally:
            c.close()


@gregor_only("reads Gregor's segment files with Kafka's DumpLogSegments")
class CompactionTxnDumpTest(BrokerTestCase):
    OVERRIDES = OVERRIDES

    def test_dump_log_segments_reads_horizons_and_merged_segments(self):
        import test_kafka_format as kf
        if kf.JAVA is None:
            self.skipTest(kf.SKIP_REASON)
        kf.fetch_kafka()
        b = self.broker.bootstrap
        topic = "cmt-dump"
        create_topic(b, topic, delete_retention_ms=86400000)
        p = Producer({"bootstrap.servers": b, "transactional.id": "cmt-dump-tx", "linger.ms": 5})
        p.init_transactions(DEADLINE)
        for i, commit in enumerate((True, False, True)):
            p.begin_transaction()
            p.produce(topic, key=b"t%d" % i, value=b"v", partition=0)
            p.produce(topic, key=b"gone", value=b"v%d" % i, partition=0)
            p.flush(DEADLINE)
            if commit:
                p.commit_transaction(DEADLINE)
            else:
                p.abort_transaction(DEADLINE)
        # Many small segments, each with a tombstone of a key written before.
        for r in range(6):
            produce(b, topic, [("gone", "n%d" % r), ("d%d" % r, "x"), ("d%d" % r, None)])
            roll(b, topic, "r%d" % r)
        part = os.path.join(self.broker.data_dir, "data", "%s-0" % topic)
        # 7 rolls made 8 segments; only grouping makes them fewer (nothing
        # is retained away here).
        wait_until(lambda: len(topic_logs(self.broker, topic)) <= 3, DEADLINE,
                   "the small cleaned segments to be merged", interval=0.5)
        del p
        self.broker.stop()
        try:
            logs = topic_logs(self.broker, topic)
            text = dump(kf, ["--deep-iteration"], logs)
            self.assertNotIn("isvalid: false", text)
            # Tombstone batches carry a delete horizon a day ahead.
            horizons = [int(x) for x in re.findall(r"deleteHorizonMs: OptionalLong\[(\d+)\]", text)]
            self.assertTrue(horizons, text[-3000:])
            now = int(time.time() * 1000)
            for h in horizons:
                self.assertGreater(h, now + 86400000 - 600000)
                self.assertLess(h, now + 86400000 + 1000)
            # Every tombstone still there (a day of retention), each record's
            # CreateTime a moment ago, not the horizon.
            self.assertEqual(len(re.findall(r"keySize: 2 valueSize: -1", text)), 6)
            stamps = [int(x) for x in re.findall(r"^\| offset: \d+ CreateTime: (\d+)", text, re.M)]
            self.assertTrue(stamps)
            for ts in stamps:
                self.assertLess(abs(ts - now), 600000)
            # Markers: A's and C's (their t0 and t2 remain) and B's abort,
            # kept with its horizon until a day has passed.
            self.assertEqual(len(re.findall(r"isControl: true", text)), 3)
            indexes = [f[:-4] + ".index" for f in logs] + [f[:-4] + ".timeindex" for f in logs]
            dump(kf, ["--index-sanity-check"], [f for f in indexes if os.path.exists(f)])
            txnindexes = [f[:-4] + ".txnindex" for f in logs if os.path.exists(f[:-4] + ".txnindex")]
            if txnindexes:
                dump(kf, [], txnindexes)
            leftovers = [f for f in os.listdir(part) if f.endswith((".cleaned", ".swap", ".deleted"))]
            self.assertEqual(leftovers, [])
        finally:
            self.broker.start()
