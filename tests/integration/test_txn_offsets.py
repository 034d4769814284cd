"""Transactional offset commits (TxnOffsetCommit, issue 14) with raw
requests: a transactional producer (InitProducerId with a transactional
id, AddOffsetsToTxn) commits a group's offsets in its transaction; they are
pending until EndTxn (OffsetFetch with require_stable answers
UNSTABLE_OFFSET_COMMIT for those partitions, without it the committed
offset), visible after a commit, gone after an abort; the group's member
and generation are checked as Kafka checks them; committed transactional
offsets survive a restart, aborted ones never appear.

They run against Kafka too (GREGOR_TEST_TARGET=kafka), which is where the
expected answers come from.
"""

import struct
import time
import unittest

import kwire
from broker import Broker, BrokerTestCase, on_kafka, wait_until
from kwire import Conn
from test_groups import (API_OFFSET_FETCH, FLEX, create_topic, decode_join_group, decode_offset_commit_v8,
                         decode_sync_group_v0, offset_commit_v8, find_coordinator_ready, join_group_v0, sync_group_v0,
                         wait_group_coordinator)

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_TXN_STATE = 48
CONCURRENT_TRANSACTIONS = 51
FENCED_INSTANCE_ID = 82
UNSTABLE_OFFSET_COMMIT = 88
RETRIABLE = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS)

API_INIT_PRODUCER_ID = 22
API_ADD_OFFSETS_TO_TXN = 25
API_END_TXN = 26
API_TXN_OFFSET_COMMIT = 28

TOPIC = "txo"
DEADLINE = 30.0

FLEX_TXN = dict(FLEX)
FLEX_TXN.update({API_INIT_PRODUCER_ID: 2, API_ADD_OFFSETS_TO_TXN: 3, API_END_TXN: 3, API_TXN_OFFSET_COMMIT: 3})


def header(api, version, cid=1):
    h = struct.pack(">hhi", api, version, cid) + kwire.string("raw")
    return h + (kwire.uvarint(0) if version >= FLEX_TXN[api] else b"")


# ---- requests (flexible versions: InitProducerId v4, AddOffsetsToTxn v3, EndTxn v3) ----

def init_producer_id_v4(txn_id, timeout_ms=60000):
    body = kwire.compact_string(txn_id) + struct.pack(">iqh", timeout_ms, -1, -1) + kwire.uvarint(0)
    return kwire.frame(header(API_INIT_PRODUCER_ID, 4) + body)


def decode_init_producer_id_v4(payload):
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()
    err, pid, epoch = r.int16(), r.int64(), r.int16()
    r.tagged_fields()
    r.done()
    return err, pid, epoch


def add_offsets_to_txn_v3(txn_id, pid, epoch, group):
    body = (kwire.compact_string(txn_id) + struct.pack(">qh", pid, epoch) + kwire.compact_string(group)
            + kwire.uvarint(0))
    return kwire.frame(header(API_ADD_OFFSETS_TO_TXN, 3) + body)


def end_txn_v3(txn_id, pid, epoch, commit):
    body = kwire.compact_string(txn_id) + struct.pack(">qh?", pid, epoch, commit) + kwire.uvarint(0)
    return kwire.frame(header(API_END_TXN, 3) + body)


def decode_throttle_error(payload):
    """AddOffsetsToTxn v3, EndTxn v3: throttle, error."""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()
    err = r.int16()
    r.tagged_fields()
    r.done()
    return err


def txn_offset_commit(version, txn_id, group, pid, epoch, commits, generation=-1, member="", instance=None):
    """commits: [(topic, [(partition, offset, metadata)])]."""
    flex = version >= 3

    def s(x):
        return kwire.compact_string(x) if flex else kwire.string(x)

    def part(p):
        b = struct.pack(">iq", p[0], p[1])
        if version >= 2:
            b += struct.pack(">i", -1)
        return b + s(p[2]) + (kwire.uvarint(0) if flex else b"")

    def topic(t):
        return s(t[0]) + kwire.array(t[1], part, flex) + (kwire.uvarint(0) if flex else b"")
    body = s(txn_id) + s(group) + struct.pack(">qh", pid, epoch)
    if version >= 3:
        body += struct.pack(">i", generation) + s(member) + s(instance)
    body += kwire.array(commits, topic, flex) + (kwire.uvarint(0) if flex else b"")
    return kwire.frame(header(API_TXN_OFFSET_COMMIT, version) + body)


def decode_txn_offset_commit(version, payload):
    """{(topic, partition): error}"""
    flex = version >= 3
    r = kwire.Reader(payload)
    r.int32()
    if flex:
        r.tagged_fields()
    r.int32()
    out = {}

    def topic():
        name = r.string(flex)

        def part():
            p, e = r.int32(), r.int16()
            if flex:
                r.tagged_fields()
            out[(name, p)] = e
        r.array(flex, part)
        if flex:
            r.tagged_fields()
    r.array(flex, topic)
    if flex:
        r.tagged_fields()
    r.done()
    return out


def offset_fetch(version, group, topics, require_stable):
    """OffsetFetch v7 (one group) or v8 (groups); topics: [(topic, [partitions])] or None."""
    def topic(t):
        return kwire.compact_string(t[0]) + kwire.array(t[1], lambda p: struct.pack(">i", p), True) + kwire.uvarint(0)
    if version >= 8:
        g = kwire.compact_string(group) + kwire.array(topics, topic, True) + kwire.uvarint(0)
        body = kwire.array([g], lambda x: x, True)
    else:
        body = kwire.compact_string(group) + kwire.array(topics, topic, True)
    body += struct.pack(">?", require_stable) + kwire.uvarint(0)
    return kwire.frame(header(API_OFFSET_FETCH, version) + body)


def decode_offset_fetch(version, payload):
    """(group error, {(topic, partition): (offset, metadata, error)})"""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()
    offs = {}

    def topic():
        name = r.string(True)

        def part():
            p, off, _epoch, md, err = r.int32(), r.int64(), r.int32(), r.string(True), r.int16()
            r.tagged_fields()
            offs[(name, p)] = (off, md, err)
        r.array(True, part)
        r.tagged_fields()
    if version >= 8:
        errs = []

        def group():
            r.string(True)
            r.array(True, topic)
            errs.append(r.int16())
            r.tagged_fields()
        r.array(True, group)
        err = errs[0]
    else:
        r.array(True, topic)
        err = r.int16()
    r.tagged_fields()
    r.done()
    return err, offs


class Producer:
    """A transactional producer spoken to with raw requests."""

    def __init__(self, conn, txn_id, timeout_ms=60000):
        self.c, self.txn_id = conn, txn_id
        find_coordinator_ready(conn, 1, txn_id, key_type=1)
        err, self.pid, self.epoch = self.retry(lambda: init_producer_id_v4(txn_id, timeout_ms),
                                               decode_init_producer_id_v4)
        assert err == NONE, "InitProducerId: %d" % err

    def retry(self, req, decode, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while True:
            self.c.send(req())
            out = decode(self.c.recv_frame())
            err = out[0] if isinstance(out, tuple) else out
            if err not in RETRIABLE or time.monotonic() >= end:
                return out
            time.sleep(0.1)

    def add_offsets(self, group):
        return self.retry(lambda: add_offsets_to_txn_v3(self.txn_id, self.pid, self.epoch, group),
                          decode_throttle_error)

    def end(self, commit):
        return self.retry(lambda: end_txn_v3(self.txn_id, self.pid, self.epoch, commit), decode_throttle_error)

    def commit_offsets(self, group, commits, version=3, **kw):
        self.c.send(txn_offset_commit(version, self.txn_id, group, self.pid, self.epoch, commits, **kw))
        return decode_txn_offset_commit(version, self.c.recv_frame())


def fetch(c, group, partitions, require_stable, version=8):
    c.send(offset_fetch(version, group, [(TOPIC, partitions)] if partitions is not None else None, require_stable))
    return decode_offset_fetch(version, c.recv_frame())


class TxnOffsetsTest(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"group.initial.rebalance.delay.ms": "0"})

    @classmethod
    def after_start(cls):
        create_topic(cls.broker.bootstrap, TOPIC, 2)

    def group_ready(self, *groups):
        for g in groups:
            wait_group_coordinator(self.broker.host, self.broker.port, g)

    def wait_committed(self, c, group, partition, offset):
        def done():
            err, offs = fetch(c, group, [partition], True)
            return err == NONE and offs[(TOPIC, partition)][2] == NONE and offs[(TOPIC, partition)][0] == offset
        wait_until(done, DEADLINE, "offset %d of %s committed" % (offset, group), interval=0.1)

    def test_pending_until_commit_dropped_on_abort(self):
        with self.conn() as c:
            p = Producer(c, "txo-commit")
            group = "txo-g1"
            self.group_ready(group)
            # not in the transaction yet: the transaction coordinator refuses
            errs = p.commit_offsets(group, [(TOPIC, [(0, 5, "m")])])
            self.assertEqual(errs, {(TOPIC, 0): INVALID_TXN_STATE})
            self.assertEqual(p.add_offsets(group), NONE)
            errs = p.commit_offsets(group, [(TOPIC, [(0, 5, "m"), (1, 7, None)])])
            self.assertEqual(errs, {(TOPIC, 0): NONE, (TOPIC, 1): NONE})
            # pending: unstable with require_stable, invisible without
            for version in (7, 8):
                err, offs = fetch(c, group, [0, 1], True, version)
                self.assertEqual(err, NONE)
                self.assertEqual(offs[(TOPIC, 0)], (-1, "", UNSTABLE_OFFSET_COMMIT))
                self.assertEqual(offs[(TOPIC, 1)], (-1, "", UNSTABLE_OFFSET_COMMIT))
                err, offs = fetch(c, group, [0, 1], False, version)
                self.assertEqual(offs[(TOPIC, 0)], (-1, "", NONE))
            self.assertEqual(p.end(True), NONE)
            self.wait_committed(c, group, 0, 5)
            err, offs = fetch(c, group, [0, 1], True)
            self.assertEqual(offs[(TOPIC, 0)], (5, "m", NONE))
            self.assertEqual(offs[(TOPIC, 1)], (7, "", NONE))

            # the next transaction aborts: the committed offsets stay
            self.assertEqual(p.add_offsets(group), NONE)
            errs = p.commit_offsets(group, [(TOPIC, [(0, 50, "x")])])
            self.assertEqual(errs, {(TOPIC, 0): NONE})
            err, offs = fetch(c, group, None, True)
            self.assertEqual(offs[(TOPIC, 0)], (-1, "", UNSTABLE_OFFSET_COMMIT))
            self.assertEqual(offs[(TOPIC, 1)], (7, "", NONE))
            self.assertEqual(p.end(False), NONE)
            self.wait_committed(c, group, 0, 5)

    def test_most_recent_record_wins(self):
        """At the commit marker a transactional offset replaces the committed
        one only if its record is the more recent (Kafka's
        replayEndTransactionMarker)."""
        with self.conn() as c:
            group = "txo-mix"
            self.group_ready(group)
            p = Producer(c, "txo-mix")
            self.assertEqual(p.add_offsets(group), NONE)
            c.send(offset_commit_v8(group, [(TOPIC, [(1, 80, "plain")])]))
            self.assertEqual(decode_offset_commit_v8(c.recv_frame()), [(TOPIC, [(1, NONE)])])
            errs = p.commit_offsets(group, [(TOPIC, [(0, 60, "txn"), (1, 90, "txn")])])
            self.assertEqual(errs, {(TOPIC, 0): NONE, (TOPIC, 1): NONE})
            c.send(offset_commit_v8(group, [(TOPIC, [(0, 70, "plain")])]))
            self.assertEqual(decode_offset_commit_v8(c.recv_frame()), [(TOPIC, [(0, NONE)])])
            # without require_stable: the committed offsets, pending ones ignored
            err, offs = fetch(c, group, [0, 1], False)
            self.assertEqual(offs[(TOPIC, 0)], (70, "plain", NONE))
            self.assertEqual(offs[(TOPIC, 1)], (80, "plain", NONE))
            self.assertEqual(p.end(True), NONE)
            self.wait_committed(c, group, 1, 90)
            err, offs = fetch(c, group, [0, 1], True)
            self.assertEqual(offs[(TOPIC, 0)], (70, "plain", NONE))
            self.assertEqual(offs[(TOPIC, 1)], (90, "txn", NONE))

    def test_group_checks(self):
        with self.conn() as c:
            p = Producer(c, "txo-checks")
            self.group_ready("txo-new", "txo-members", "")
            # a group that does not exist: generation -1 creates it, another is ILLEGAL_GENERATION
            self.assertEqual(p.add_offsets("txo-new"), NONE)
            self.assertEqual(p.commit_offsets("txo-new", [(TOPIC, [(0, 1, "")])], generation=3),
                             {(TOPIC, 0): ILLEGAL_GENERATION})
            # a group with a member
            group = "txo-members"
            c.send(join_group_v0(group, ""))
            j = decode_join_group(0, c.recv_frame())
            self.assertEqual(j["error_code"], NONE)
            member, gen = j["member_id"], j["generation_id"]
            c.send(sync_group_v0(group, gen, member, [(member, b"")]))
            self.assertEqual(decode_sync_group_v0(c.recv_frame())[0], NONE)
            self.assertEqual(p.add_offsets(group), NONE)
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(0, 1, "")])], generation=gen, member="stranger"),
                             {(TOPIC, 0): UNKNOWN_MEMBER_ID})
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(0, 1, "")])], generation=gen + 1, member=member),
                             {(TOPIC, 0): ILLEGAL_GENERATION})
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(0, 1, "")])], generation=gen, member=member,
                                              instance="nobody"),
                             {(TOPIC, 0): UNKNOWN_MEMBER_ID})
            # without member and generation (v0-v2, or v3 with -1 and ""): accepted, unlike OffsetCommit
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(0, 2, "")])], version=0), {(TOPIC, 0): NONE})
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(1, 2, "")])], generation=gen, member=member),
                             {(TOPIC, 1): NONE})
            # the empty group id
            self.assertEqual(p.commit_offsets("", [(TOPIC, [(0, 1, "")])]), {(TOPIC, 0): INVALID_GROUP_ID})
            # a topic that does not exist
            self.assertEqual(p.commit_offsets(group, [("txo-nope", [(0, 1, "")])]),
                             {("txo-nope", 0): 3})
            self.assertEqual(p.end(True), NONE)
            self.wait_committed(c, group, 0, 2)


class TxnOffsetsRestartTest(unittest.TestCase):
    """After a restart (and a kill -9) the replay of __consumer_offsets
    gives back committed transactional offsets, never aborted ones, and
    keeps a transaction without a marker pending."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="gregor-it-txo-")
        self.broker = None

    def tearDown(self):
        import shutil
        if self.broker:
            self.broker.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, first=False):
        self.broker = Broker(data_dir=self.dir)
        self.broker.start()
        if first:
            create_topic(self.broker.bootstrap, TOPIC, 2)
        wait_group_coordinator(self.broker.host, self.broker.port, "txo-r")
        return Conn(self.broker.host, self.broker.port)

    def test_replay(self):
        group = "txo-r"
        with self.start(first=True) as c:
            p = Producer(c, "txo-r-commit")
            self.assertEqual(p.add_offsets(group), NONE)
            self.assertEqual(p.commit_offsets(group, [(TOPIC, [(0, 10, "c")])]), {(TOPIC, 0): NONE})
            self.assertEqual(p.end(True), NONE)
            q = Producer(c, "txo-r-abort")
            self.assertEqual(q.add_offsets(group), NONE)
            self.assertEqual(q.commit_offsets(group, [(TOPIC, [(0, 99, "a")])]), {(TOPIC, 0): NONE})
            self.assertEqual(q.end(False), NONE)
            o = Producer(c, "txo-r-open", timeout_ms=600000)  # not aborted by the coordinator meanwhile
            self.assertEqual(o.add_offsets(group), NONE)
            self.assertEqual(o.commit_offsets(group, [(TOPIC, [(1, 5, "o")])]), {(TOPIC, 1): NONE})
        self.broker.stop()

        with self.start() as c:
            def settled():
                err, offs = fetch(c, group, [0], True)
                return err == NONE and offs[(TOPIC, 0)][2] == NONE
            wait_until(settled, DEADLINE, "the committed offsets of %s" % group, interval=0.1)
            err, offs = fetch(c, group, [0, 1], True)
            self.assertEqual(offs[(TOPIC, 0)], (10, "c", NONE))
            self.assertEqual(offs[(TOPIC, 1)], (-1, "", UNSTABLE_OFFSET_COMMIT))
            err, offs = fetch(c, group, [0, 1], False)
            self.assertEqual(offs[(TOPIC, 1)], (-1, "", NONE))
        self.broker.kill()

        with self.start() as c:
            wait_until(lambda: fetch(c, group, [0], True)[1][(TOPIC, 0)] == (10, "c", NONE), DEADLINE,
                       "the committed offsets of %s after kill -9" % group, interval=0.1)
            err, offs = fetch(c, group, [1], True)
            self.assertEqual(offs[(TOPIC, 1)], (-1, "", UNSTABLE_OFFSET_COMMIT))


if __name__ == "__main__":
    unittest.main()
