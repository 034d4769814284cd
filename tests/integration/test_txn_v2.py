"""Transaction version 2 (KIP-890 part 2) with raw requests: ApiVersions
finalizes transaction.version 2; a transactional Produce v12 adds its
partition to the transaction by itself; EndTxn v5 bumps the epoch and
answers the producer id and epoch to go on with; a retried EndTxn (the
epoch before) gets the same answer; an abort with no transaction open bumps
the epoch, a commit is INVALID_TXN_STATE; the errors a producer gets for an
old epoch, a wrong sequence or a partition not added; a fence by a new
producer or a timeout; TxnOffsetCommit v5 without AddOffsetsToTxn;
WriteTxnMarkers v2 refusing a version 2 marker that is not newer than the
producer's epoch.

They run against Kafka 4.4 too (GREGOR_TEST_TARGET=kafka), which is where
the expected answers come from (each was first asked of Kafka 4.4.0).
"""

import struct
import time

import kwire
from broker import BrokerTestCase, gregor_only, wait_until
from test_groups import create_topic, wait_group_coordinator
from test_idempotence import (decode_init_producer_id_response, find_transaction_coordinator, header,
                              idempotent_batch, init_pid, init_producer_id_request)
from test_txn_markers import (READ_COMMITTED, decode_list_offsets_response, decode_write_txn_markers_response,
                              list_offsets_request)
from test_txn_offsets import decode_offset_fetch, decode_txn_offset_commit, offset_fetch, txn_offset_commit

NONE = 0
NOT_ENOUGH_REPLICAS = 19
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
CONCURRENT_TRANSACTIONS = 51
PRODUCER_FENCED = 90
TRANSACTION_ABORTABLE = 120

API_PRODUCE = 0
API_END_TXN = 26
API_WRITE_TXN_MARKERS = 27
TOPIC = "tv2"
DEADLINE = 30.0


# ---- wire helpers (Kafka's protocol documentation) ---------------------------

def produce_request(correlation_id, txn_id, topic, partition, batch, version=12):
    """Produce v9+ (flexible), one partition, acks=-1."""
    tags = kwire.uvarint(0)
    part = struct.pack(">i", partition) + kwire.uvarint(len(batch) + 1) + batch + tags
    topic_data = kwire.compact_string(topic) + kwire.array([part], lambda x: x, True) + tags
    body = kwire.compact_string(txn_id) + struct.pack(">hi", -1, 10000)
    body += kwire.array([topic_data], lambda x: x, True) + tags
    return kwire.frame(header(API_PRODUCE, version, correlation_id, True) + body)


def decode_produce_response(payload):
    """(error code, base offset) of the one partition."""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    out = []

    def record_error():
        r.int32()
        r.string(True)
        r.tagged_fields()

    def partition():
        idx, err, base = r.int32(), r.int16(), r.int64()
        r.int64()  # log append time
        r.int64()  # log start offset
        r.array(True, record_error)
        r.string(True)  # error message
        r.tagged_fields()
        out.append((err, base))

    def topic():
        r.string(True)
        r.array(True, partition)
        r.tagged_fields()
    r.array(True, topic)
    r.int32()
    r.tagged_fields()
    r.done()
    return out[0]


def end_txn_request(correlation_id, txn_id, pid, epoch, commit, version=5):
    body = kwire.compact_string(txn_id) + struct.pack(">qh?", pid, epoch, commit) + kwire.uvarint(0)
    return kwire.frame(header(API_END_TXN, version, correlation_id, True) + body)


def decode_end_txn_response(payload, version=5):
    """(error, producer id, epoch); v3-v4: (error,)"""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()
    out = (r.int16(),)
    if version >= 5:
        out += (r.int64(), r.int16())
    r.tagged_fields()
    r.done()
    return out


def write_txn_markers_v2(correlation_id, pid, epoch, commit, topic, partition, transaction_version):
    tags = kwire.uvarint(0)
    t = kwire.compact_string(topic) + kwire.array([partition], lambda p: struct.pack(">i", p), True) + tags
    marker = (struct.pack(">qh?", pid, epoch, commit) + kwire.array([t], lambda x: x, True)
              + struct.pack(">ib", 0, transaction_version) + tags)
    body = kwire.array([marker], lambda x: x, True) + tags
    return kwire.frame(header(API_WRITE_TXN_MARKERS, 2, correlation_id, True) + body)


class Producer:
    """A transactional producer of transaction version 2, spoken to with raw requests."""

    def __init__(self, conn, txn_id, timeout_ms=60000):
        self.c, self.txn_id = conn, txn_id
        assert find_transaction_coordinator(conn, txn_id) == NONE
        err, self.pid, self.epoch = init_pid(conn, 5, transactional_id=txn_id, timeout_ms=timeout_ms)
        assert err == NONE, "InitProducerId: %d" % err
        self.seq = {}  # partition -> next sequence

    def produce(self, epoch=None, seq=None, version=12, partition=0, pid=None):
        batch = idempotent_batch(self.pid if pid is None else pid, self.epoch if epoch is None else epoch,
                                 self.seq.get(partition, 0) if seq is None else seq, [b"v"], transactional=True)
        self.c.send(produce_request(2, self.txn_id, TOPIC, partition, batch, version))
        out = decode_produce_response(self.c.recv_frame())
        if out[0] == NONE and seq is None:
            self.seq[partition] = self.seq.get(partition, 0) + 1
        return out

    def end(self, commit, epoch=None, version=5):
        self.c.send(end_txn_request(3, self.txn_id, self.pid, self.epoch if epoch is None else epoch, commit, version))
        return decode_end_txn_response(self.c.recv_frame(), version)

    def end_done(self, commit, epoch=None):
        """EndTxn v5 that succeeds: the producer goes on with the epoch it answers."""
        out = self.end(commit, epoch)
        assert out[0] == NONE, "EndTxn: %s" % (out,)
        self.pid, self.epoch, self.seq = out[1], out[2], {}  # a new epoch starts at sequence 0
        return out

    def init(self, keep=False):
        kw = dict(producer_id=self.pid, epoch=self.epoch) if keep else {}
        self.c.send(init_producer_id_request(5, 7, transactional_id=self.txn_id, **kw))
        return decode_init_producer_id_response(5, self.c.recv_frame())

    def init_until_done(self, keep=False):
        end = time.monotonic() + DEADLINE
        while True:
            out = self.init(keep)
            if out[0] != CONCURRENT_TRANSACTIONS or time.monotonic() > end:
                return out
            time.sleep(0.1)

    def end_until_settled(self, commit, epoch=None):
        """EndTxn v5 until it is no longer CONCURRENT_TRANSACTIONS (markers being written)."""
        end = time.monotonic() + DEADLINE
        while True:
            out = self.end(commit, epoch)
            if out[0] != CONCURRENT_TRANSACTIONS or time.monotonic() > end:
                return out
            time.sleep(0.05)


class TransactionV2Test(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"group.initial.rebalance.delay.ms": "0"})

    @classmethod
    def after_start(cls):
        create_topic(cls.broker.bootstrap, TOPIC, 2)

    def producer(self, c, name, **kw):
        return Producer(c, "%s-%f" % (name, time.time()), **kw)

    def lso(self, c, partition=0):
        c.send(list_offsets_request(9, TOPIC, partition, -1, READ_COMMITTED))
        return decode_list_offsets_response(c.recv_frame())

    def test_api_versions_finalizes_transaction_version_2(self):
        with self.conn() as c:
            c.send(kwire.api_versions_request(3, 1))
            resp = kwire.decode_api_versions_response(3, c.recv_frame())
        self.assertEqual(kwire.finalized_features(resp).get("transaction.version"), (2, 2))
        self.assertEqual(resp["api_keys"][API_END_TXN][1], 5)

    def test_produce_adds_the_partition_and_commit_bumps_the_epoch(self):
        with self.conn() as c:
            p = self.producer(c, "v2-commit")
            pid, epoch = p.pid, p.epoch
            # no AddPartitionsToTxn: the write itself adds the partition
            self.assertEqual(p.produce()[0], NONE)
            err, last = p.produce()
            self.assertEqual(err, NONE)
            self.assertLessEqual(self.lso(c)[1], last, "open: the records are not stable")
            self.assertEqual(p.end(True), (NONE, pid, epoch + 1))
            # the COMMIT marker (at last + 1) makes both records stable
            wait_until(lambda: self.lso(c) == (NONE, last + 2), DEADLINE, "the COMMIT marker")
            # a retry (the epoch before) gets the same answer; the other result does not
            self.assertEqual(p.end_until_settled(True), (NONE, pid, epoch + 1))
            self.assertEqual(p.end(False), (INVALID_TXN_STATE, -1, -1))
            # with the new epoch: no transaction to commit, an abort bumps once more
            p.epoch = epoch + 1
            self.assertEqual(p.end(True), (INVALID_TXN_STATE, -1, -1))
            self.assertEqual(p.end(False), (NONE, pid, epoch + 2))

    def test_next_transaction_continues_at_sequence_zero(self):
        with self.conn() as c:
            p = self.producer(c, "v2-next")
            self.assertEqual(p.produce()[0], NONE)
            p.end_done(True)
            # the marker carried the new epoch: the next batch starts over at 0,
            # while the previous transaction may still be completing
            self.assertEqual(p.produce(seq=5)[0], OUT_OF_ORDER_SEQUENCE_NUMBER)
            self.assertEqual(p.produce()[0], NONE)
            self.assertEqual(p.produce(partition=1, seq=3)[0], OUT_OF_ORDER_SEQUENCE_NUMBER)  # new here: from 0
            self.assertEqual(p.produce(partition=1)[0], NONE)
            p.end_done(False)
            self.assertEqual(p.produce()[0], NONE)
            p.end_done(True)

    def test_empty_transactions(self):
        with self.conn() as c:
            p = self.producer(c, "v2-empty")
            pid, epoch = p.pid, p.epoch
            self.assertEqual(p.end(True), (INVALID_TXN_STATE, -1, -1))
            self.assertEqual(p.end(False), (NONE, pid, epoch + 1))
            self.assertEqual(p.end_until_settled(False, epoch), (NONE, pid, epoch + 1))
            self.assertEqual(p.end(True, epoch), (INVALID_TXN_STATE, -1, -1))

    def test_producer_errors(self):
        with self.conn() as c:
            p = self.producer(c, "v2-errors")
            # Produce v11 needs AddPartitionsToTxn first (KIP-890 part 1)
            self.assertEqual(p.produce(version=11)[0], TRANSACTION_ABORTABLE)
            self.assertEqual(p.produce()[0], NONE)
            # an epoch other than the transaction's
            self.assertEqual(p.end(True, p.epoch + 1), (PRODUCER_FENCED, -1, -1))
            old = p.epoch
            p.end_done(False)
            # once the abort is complete (Kafka's partition may take the old
            # epoch's batch while its marker is on the way)
            self.assertEqual(p.end_until_settled(False, old), (NONE, p.pid, old + 1))
            self.assertEqual(p.produce(epoch=old, seq=1)[0], INVALID_PRODUCER_EPOCH)

    def test_fenced_by_a_new_producer(self):
        with self.conn() as c:
            p = self.producer(c, "v2-fence")
            pid, epoch = p.pid, p.epoch
            self.assertEqual(p.produce()[0], NONE)
            # a new producer with the same id: the open transaction is aborted first
            self.assertEqual(p.init(), (CONCURRENT_TRANSACTIONS, -1, -1))
            self.assertEqual(p.init_until_done(), (NONE, pid, epoch + 2))
            # the old producer's epoch is fenced
            self.assertEqual(p.end(True, epoch), (PRODUCER_FENCED, -1, -1))
            self.assertEqual(p.end(False, epoch + 1), (PRODUCER_FENCED, -1, -1))

    def test_kip360_after_the_abort_gets_the_abort_epoch(self):
        with self.conn() as c:
            p = self.producer(c, "v2-kip360")
            pid, epoch = p.pid, p.epoch
            self.assertEqual(p.produce()[0], NONE)
            # the same producer re-initialising (KIP-360) after an error
            self.assertEqual(p.init(keep=True), (CONCURRENT_TRANSACTIONS, -1, -1))
            self.assertEqual(p.init_until_done(keep=True), (NONE, pid, epoch + 1))

    def test_txn_offset_commit_v5_adds_the_group(self):
        group = "tv2-group-%f" % time.time()
        with self.conn() as c:
            wait_group_coordinator(self.broker.host, self.broker.port, group)
            p = self.producer(c, "v2-offsets")
            self.assertEqual(p.produce()[0], NONE)
            # no AddOffsetsToTxn
            c.send(txn_offset_commit(5, p.txn_id, group, p.pid, p.epoch, [(TOPIC, [(0, 42, "md")])]))
            self.assertEqual(decode_txn_offset_commit(5, c.recv_frame()), {(TOPIC, 0): NONE})
            p.end_done(True)

            def committed():
                c.send(offset_fetch(8, group, [(TOPIC, [0])], True))
                err, offs = decode_offset_fetch(8, c.recv_frame())
                return err == NONE and offs.get((TOPIC, 0), (None,))[0] == 42
            wait_until(committed, DEADLINE, "the transactional offset committed")
            # an older epoch is refused
            c.send(txn_offset_commit(5, p.txn_id, group, p.pid, p.epoch - 1, [(TOPIC, [(0, 43, "md")])]))
            self.assertEqual(decode_txn_offset_commit(5, c.recv_frame()), {(TOPIC, 0): INVALID_PRODUCER_EPOCH})

    def test_write_txn_markers_v2_needs_a_newer_epoch(self):
        with self.conn() as c:
            p = self.producer(c, "v2-markers")
            self.assertEqual(p.produce(partition=1)[0], NONE)
            c.send(write_txn_markers_v2(4, p.pid, p.epoch, False, TOPIC, 1, 2))
            self.assertEqual(decode_write_txn_markers_response(c.recv_frame()), {(p.pid, TOPIC, 1): INVALID_PRODUCER_EPOCH})
            c.send(write_txn_markers_v2(5, p.pid, p.epoch + 1, False, TOPIC, 1, 2))
            self.assertEqual(decode_write_txn_markers_response(c.recv_frame()), {(p.pid, TOPIC, 1): NONE})


class TransactionV2TimeoutTest(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"})

    @classmethod
    def after_start(cls):
        create_topic(cls.broker.bootstrap, TOPIC, 1)

    def test_timed_out_transaction(self):
        with self.conn() as c:
            p = Producer(c, "v2-timeout-%f" % time.time(), timeout_ms=1000)
            pid, epoch = p.pid, p.epoch
            self.assertEqual(p.produce()[0], NONE)

            def aborted():
                out = p.produce(seq=1)
                return out[0] == INVALID_PRODUCER_EPOCH
            wait_until(aborted, DEADLINE, "the transaction aborted on its timeout", interval=0.2)
            # (Kafka refuses the produce as soon as it bumped the epoch, and
            # answers EndTxn CONCURRENT_TRANSACTIONS until its markers are written)
            # the producer learns of it at its EndTxn: a commit is refused,
            # an abort is answered as if it had bumped the epoch itself
            self.assertEqual(p.end_until_settled(True), (INVALID_TXN_STATE, -1, -1))
            self.assertEqual(p.end_until_settled(False), (NONE, pid, epoch + 1))


@gregor_only("gregor.transaction.version is Gregor's key (Kafka sets the feature with kafka-features.sh)")
class TransactionVersionOneTest(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"gregor.transaction.version": "1"})

    def test_finalized_level_follows_the_key(self):
        with self.conn() as c:
            c.send(kwire.api_versions_request(3, 1))
            resp = kwire.decode_api_versions_response(3, c.recv_frame())
        self.assertEqual(kwire.finalized_features(resp).get("transaction.version"), (1, 1))
