"""Transactions in a partition, on the wire: the last stable offset,
read_committed reads, aborted transactions, WriteTxnMarkers, and the
.txnindex file across kill -9.

No transaction coordinator is needed: Produce refuses transactional
batches until the coordinator verifies them, so the transactional batches
are written into the partition's active segment while the broker is
killed (as a crash would leave them), and the recovery that follows
replays them into the producer state (open transactions). Markers come
from WriteTxnMarkers v1, as Kafka's admin sends them
(kafka-transactions.sh abort).

Gregor only: the test writes into the data directory.
"""

import glob
import os
import signal
import struct
import unittest

import kwire
from broker import Broker, gregor_only
from test_idempotence import (crc32c, decode_produce_response, header, idempotent_batch, init_pid,
                              produce_request)

API_FETCH = 1
API_LIST_OFFSETS = 2
API_WRITE_TXN_MARKERS = 27

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_PRODUCER_EPOCH = 47

READ_UNCOMMITTED = 0
READ_COMMITTED = 1


# ---- wire helpers (Kafka's protocol documentation) -----------------------------

def write_txn_markers_request(correlation_id, markers, version=1):
    """v0 or v1 (flexible). markers: [(pid, epoch, commit, coordinator_epoch, [(topic, [partition])])]"""
    flex = version >= 1
    tags = kwire.uvarint(0) if flex else b""

    def topic(t):
        name, parts = t
        return ((kwire.compact_string(name) if flex else kwire.string(name))
                + kwire.array(parts, lambda p: struct.pack(">i", p), flex) + tags)

    def marker(m):
        pid, epoch, commit, coord_epoch, topics = m
        return (struct.pack(">qh?", pid, epoch, commit) + kwire.array(topics, topic, flex)
                + struct.pack(">i", coord_epoch) + tags)
    body = kwire.array(markers, marker, flex) + tags
    return kwire.frame(header(API_WRITE_TXN_MARKERS, version, correlation_id, flex) + body)


def decode_write_txn_markers_response(payload, version=1):
    """{(pid, topic, partition): error}"""
    flex = version >= 1
    r = kwire.Reader(payload)
    r.int32()

    def tags():
        if flex:
            r.tagged_fields()
    tags()
    out = {}

    def partition():
        p = (r.int32(), r.int16())
        tags()
        return p

    def topic():
        name = r.string(flex)
        parts = r.array(flex, partition)
        tags()
        return name, parts

    def marker():
        pid = r.int64()
        for name, parts in r.array(flex, topic):
            for idx, err in parts:
                out[(pid, name, idx)] = err
        tags()
    r.array(flex, marker)
    tags()
    r.done()
    return out


def list_offsets_request(correlation_id, topic, partition, timestamp, isolation):
    """v2."""
    body = struct.pack(">ib", -1, isolation) + struct.pack(">i", 1) + kwire.string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", partition, timestamp)
    return kwire.frame(header(API_LIST_OFFSETS, 2, correlation_id, False) + body)


def decode_list_offsets_response(payload):
    """(error, offset) of the one partition."""
    r = kwire.Reader(payload)
    r.int32()
    r.int32()  # throttle
    (_, parts), = r.array(False, lambda: (r.string(False), r.array(False, lambda: (
        r.int32(), r.int16(), r.int64(), r.int64()))))
    r.done()
    (_, err, _ts, offset), = parts
    return err, offset


def fetch_request(correlation_id, topic, partition, offset, isolation, max_bytes=1 << 20):
    """v4: the first version with isolation_level and aborted transactions."""
    body = struct.pack(">iiiib", -1, 0, 0, max_bytes, isolation)
    body += struct.pack(">i", 1) + kwire.string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", partition, offset, max_bytes)
    return kwire.frame(header(API_FETCH, 4, correlation_id, False) + body)


def decode_fetch_response(payload):
    """(error, high watermark, last stable offset, aborted [(pid, first)] or
    None, [(base offset, last offset, control)])"""
    r = kwire.Reader(payload)
    r.int32()
    r.int32()  # throttle

    def partition():
        idx, err, hw, lso = r.int32(), r.int16(), r.int64(), r.int64()
        n = r.int32()
        aborted = None if n < 0 else [(r.int64(), r.int64()) for _ in range(n)]
        size = r.int32()
        records = r.take(size) if size > 0 else b""
        return idx, err, hw, lso, aborted, records
    (_, parts), = r.array(False, lambda: (r.string(False), r.array(False, partition)))
    r.done()
    (_, err, hw, lso, aborted, records), = parts
    batches = []
    pos = 0
    while pos + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        if pos + 12 + length > len(records):
            break  # a partial batch at the end
        attrs, delta = struct.unpack_from(">hi", records, pos + 21)
        batches.append((base, base + delta, bool(attrs & 0x20)))
        pos += 12 + length
    return err, hw, lso, aborted, batches


def batch_at(offset, batch):
    """The batch with its base offset set (outside the CRC)."""
    return struct.pack(">q", offset) + batch[8:]


@gregor_only("it writes transactional batches into the data directory")
class TxnStorageTest(unittest.TestCase):
    TOPIC = "txn-storage"

    def setUp(self):
        self.b = Broker(overrides={"log.segment.bytes": "100000"})
        self.b.start()

    def tearDown(self):
        self.b.cleanup()

    def part_dir(self):
        return os.path.join(self.b.data_dir, "data", "%s-0" % self.TOPIC)

    def call(self, c, frame, decode):
        c.send(frame)
        return decode(c.recv_frame())

    def lso(self, c):
        return self.call(c, list_offsets_request(5, self.TOPIC, 0, -1, READ_COMMITTED),
                         decode_list_offsets_response)

    def fetch(self, c, offset, isolation, **kw):
        return self.call(c, fetch_request(6, self.TOPIC, 0, offset, isolation, **kw), decode_fetch_response)

    def markers(self, c, *markers):
        return self.call(c, write_txn_markers_request(8, list(markers)), decode_write_txn_markers_response)

    def kill_and_start(self):
        self.b.proc.send_signal(signal.SIGKILL)
        self.b.proc.wait()
        self.b.start()

    def txnindex_bytes(self):
        files = sorted(glob.glob(os.path.join(self.part_dir(), "*.txnindex")))
        return {os.path.basename(f): open(f, "rb").read() for f in files}

    def check_after_abort(self, c, pids):
        """The state once pid A's transaction (offsets 2-3) was aborted by
        the marker at 5 while pid B's (4) is open."""
        a, b = pids
        self.assertEqual(self.lso(c), (NONE, 4))
        err, hw, lso, aborted, batches = self.fetch(c, 0, READ_COMMITTED)
        self.assertEqual((err, hw, lso), (NONE, 6, 4))
        self.assertEqual(aborted, [(a, 2)])
        self.assertEqual([x[0] for x in batches], [0, 2])  # nothing at or after the LSO
        err, hw, lso, aborted, batches = self.fetch(c, 0, READ_UNCOMMITTED)
        self.assertEqual((err, hw, lso), (NONE, 6, 4))
        self.assertIsNone(aborted)
        self.assertEqual([x[0] for x in batches], [0, 2, 4, 5])
        self.assertEqual(batches[-1][2], True)  # the marker is a control batch
        # The same read from the LSO: nothing yet, no error.
        err, hw, lso, aborted, batches = self.fetch(c, 4, READ_COMMITTED)
        self.assertEqual((err, lso, batches), (NONE, 4, []))

    def test_lso_read_committed_and_markers(self):
        t = self.TOPIC
        with kwire.Conn(self.b.host, self.b.port) as c:
            c.wait_topic(t)
            _, p0, _ = init_pid(c, 0)
            _, pa, _ = init_pid(c, 0)
            _, pb, _ = init_pid(c, 0)
            c.send(produce_request(2, t, 0, idempotent_batch(p0, 0, 0, [b"a", b"b"])))
            self.assertEqual(decode_produce_response(c.recv_frame())[:2], (NONE, 0))
            self.assertEqual(self.lso(c), (NONE, 2))
        # A crash leaves two open transactions in the log: A at 2-3, B at 4.
        self.b.proc.send_signal(signal.SIGKILL)
        self.b.proc.wait()
        log = sorted(glob.glob(os.path.join(self.part_dir(), "*.log")))[-1]
        with open(log, "ab") as f:
            f.write(batch_at(2, idempotent_batch(pa, 0, 0, [b"x1", b"x2"], transactional=True)))
            f.write(batch_at(4, idempotent_batch(pb, 0, 0, [b"y1"], transactional=True)))
        self.b.start()
        with kwire.Conn(self.b.host, self.b.port) as c:
            c.wait_topic(t, create=False)
            self.assertEqual(self.lso(c), (NONE, 2))
            self.assertEqual(self.call(c, list_offsets_request(5, t, 0, -1, READ_UNCOMMITTED),
                                       decode_list_offsets_response), (NONE, 5))
            err, hw, lso, aborted, batches = self.fetch(c, 0, READ_COMMITTED)
            self.assertEqual((err, hw, lso, aborted), (NONE, 5, 2, []))
            self.assertEqual([x[0] for x in batches], [0])
            self.assertEqual(self.txnindex_bytes(), {})

            # ABORT A: the LSO moves to B's first offset; A is listed.
            self.assertEqual(self.markers(c, (pa, 0, False, 0, [(t, [0]), ("no-such-topic", [0])])),
                             {(pa, t, 0): NONE, (pa, "no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION})
            self.check_after_abort(c, (pa, pb))
            # Kafka's .txnindex entry: version 0, pid, first 2, last 5 (the
            # marker), LSO after it 4 (B still open).
            entry = struct.pack(">hqqqq", 0, pa, 2, 5, 4)
            self.assertEqual(self.txnindex_bytes(), {"%020d.txnindex" % 0: entry})

        # kill -9 with the txnindex lost: recovery writes it again.
        self.b.proc.send_signal(signal.SIGKILL)
        self.b.proc.wait()
        for f in glob.glob(os.path.join(self.part_dir(), "*.txnindex")):
            os.unlink(f)
        self.b.start()
        with kwire.Conn(self.b.host, self.b.port) as c:
            c.wait_topic(t, create=False)
            self.check_after_abort(c, (pa, pb))
            self.assertEqual(self.txnindex_bytes(), {"%020d.txnindex" % 0: entry})

            # COMMIT B: everything is stable; A stays aborted for readers
            # from before its marker, not after it.
            self.assertEqual(self.markers(c, (pb, 0, True, 0, [(t, [0])])), {(pb, t, 0): NONE})
            self.assertEqual(self.lso(c), (NONE, 7))
            err, hw, lso, aborted, batches = self.fetch(c, 0, READ_COMMITTED)
            self.assertEqual((err, hw, lso, aborted), (NONE, 7, 7, [(pa, 2)]))
            self.assertEqual([x[0] for x in batches], [0, 2, 4, 5, 6])
            self.assertEqual(self.fetch(c, 6, READ_COMMITTED)[3], [])
            # A marker with an older producer epoch is refused; a newer one
            # is written though nothing is open.
            self.assertEqual(self.markers(c, (pb, 3, False, 0, [(t, [0])])), {(pb, t, 0): NONE})
            self.assertEqual(self.markers(c, (pb, 2, False, 0, [(t, [0])])), {(pb, t, 0): INVALID_PRODUCER_EPOCH})
            self.assertEqual(self.lso(c), (NONE, 8))
            self.assertEqual(self.txnindex_bytes(), {"%020d.txnindex" % 0: entry})
        # A clean stop: the files are trusted, nothing is replayed.
        self.b.stop()
        self.b.start()
        with kwire.Conn(self.b.host, self.b.port) as c:
            c.wait_topic(t, create=False)
            self.assertEqual(self.lso(c), (NONE, 8))
            self.assertEqual(self.fetch(c, 0, READ_COMMITTED)[3], [(pa, 2)])
            # v0 (Kafka 3.9's oldest, which Kafka 4 removed) is served too.
            c.send(write_txn_markers_request(9, [(pb, 3, True, 0, [(t, [0]), ("no-such-topic", [1])])], version=0))
            self.assertEqual(decode_write_txn_markers_response(c.recv_frame(), version=0),
                             {(pb, t, 0): NONE, (pb, "no-such-topic", 1): UNKNOWN_TOPIC_OR_PARTITION})
            self.assertEqual(self.lso(c), (NONE, 9))
        self.b.stop()


if __name__ == "__main__":
    unittest.main()
