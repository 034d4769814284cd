"""
The idempotent producer: InitProducerId, the producer-state checks on
Produce, DescribeProducers, and exactly-once delivery when responses are
lost or late and when the broker is killed.

The retry tests put a small TCP proxy (RetryProxy, below) between
confluent_kafka and the broker. The proxy gives the client its own port as
the broker's in Metadata answers, so every client connection goes through
it (the broker's advertised listener cannot be set on the Kafka node,
whose ports scripts/kafka-ref picks). The proxy reads the Kafka frames
both ways, pairs each response with its request by correlation id, and for
chosen Produce responses either drops them (and cuts the connection, so the
client resends the batches it had in flight) or holds them back (so they
arrive after the client's request timeout). The broker has written those
batches already: their resends must be answered from the producer state,
with the original offsets, and not written again.
"""

import random
import signal
import socket
import struct
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

import kwire
from broker import Broker, BrokerTestCase, on_kafka, wait_until

API_PRODUCE = 0
API_METADATA = 3
API_FIND_COORDINATOR = 10
API_INIT_PRODUCER_ID = 22
API_DESCRIBE_PRODUCERS = 61

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REQUEST = 42
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53

INT32_MAX = 2 ** 31 - 1


# ---- wire helpers (Kafka's protocol documentation, not Gregor's schemas) ------

def header(api_key, version, correlation_id, flexible):
    h = struct.pack(">hhi", api_key, version, correlation_id) + kwire.string("gregor-it")
    return h + (kwire.uvarint(0) if flexible else b"")


def init_producer_id_request(version, correlation_id, transactional_id=None, producer_id=-1, epoch=-1,
                             timeout_ms=60000):
    flex = version >= 2
    body = (kwire.compact_string(transactional_id) if flex else kwire.string(transactional_id))
    body += struct.pack(">i", timeout_ms)
    if version >= 3:
        body += struct.pack(">qh", producer_id, epoch)
    if flex:
        body += kwire.uvarint(0)
    return kwire.frame(header(API_INIT_PRODUCER_ID, version, correlation_id, flex) + body)


def decode_init_producer_id_response(version, payload):
    """(error code, producer id, epoch)"""
    r = kwire.Reader(payload)
    r.int32()  # correlation id
    if version >= 2:
        r.tagged_fields()  # response header v1
    r.int32()  # throttle
    out = (r.int16(), r.int64(), r.int16())
    if version >= 2:
        r.tagged_fields()
    r.done()
    return out


def describe_producers_request(correlation_id, topics):
    """topics: [(name, [partition, ...])]"""
    def topic(t):
        name, parts = t
        return (kwire.compact_string(name) + kwire.array(parts, lambda p: struct.pack(">i", p), True)
                + kwire.uvarint(0))
    body = kwire.array(topics, topic, True) + kwire.uvarint(0)
    return kwire.frame(header(API_DESCRIBE_PRODUCERS, 0, correlation_id, True) + body)


def decode_describe_producers_response(payload):
    """{(topic, partition): (error code, [(pid, epoch, last seq, last ts, coord epoch, txn start)])}"""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()  # throttle

    def producer():
        p = (r.int64(), r.int32(), r.int32(), r.int64(), r.int32(), r.int64())
        r.tagged_fields()
        return p

    def partition():
        idx, err, _msg = r.int32(), r.int16(), r.string(True)
        prods = r.array(True, producer)
        r.tagged_fields()
        return idx, err, prods

    def topic():
        name = r.string(True)
        parts = r.array(True, partition)
        r.tagged_fields()
        return name, parts

    out = {}
    for name, parts in r.array(True, topic):
        for idx, err, prods in parts:
            out[(name, idx)] = (err, sorted(prods))
    r.tagged_fields()
    r.done()
    return out


_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def zigzag(n):
    return kwire.uvarint((n << 1) ^ (n >> 63))


def idempotent_batch(pid, epoch, seq, values, ts=1700000000000, transactional=False):
    """An uncompressed v2 batch of one producer, one record per value."""
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + zigzag(0) + zigzag(i) + zigzag(-1) + zigzag(len(v)) + v + zigzag(0)
        recs += zigzag(len(body)) + body
    attrs = 0x10 if transactional else 0
    after_crc = struct.pack(">hiqqqhii", attrs, len(values) - 1, ts, ts, pid, epoch, seq, len(values)) + recs
    head = struct.pack(">ib", -1, 2)
    length = len(head) + 4 + len(after_crc)
    return struct.pack(">qi", 0, length) + head + struct.pack(">I", crc32c(after_crc)) + after_crc


def produce_request(correlation_id, topic, partition, batch, acks=-1):
    """Produce v7 (classic encoding)."""
    body = kwire.string(None) + struct.pack(">hi", acks, 10000)
    body += struct.pack(">i", 1) + kwire.string(topic) + struct.pack(">ii", 1, partition)
    body += struct.pack(">i", len(batch)) + batch
    return kwire.frame(header(API_PRODUCE, 7, correlation_id, False) + body)


def decode_produce_response(payload):
    """(error code, base offset, log start offset) of the one partition."""
    r = kwire.Reader(payload)
    r.int32()

    def partition():
        out = (r.int32(), r.int16(), r.int64())
        r.int64()  # log append time
        return out + (r.int64(),)

    (_, parts), = r.array(False, lambda: (r.string(False), r.array(False, partition)))
    r.int32()
    r.done()
    (_, err, base, start), = parts
    return err, base, start


def init_pid(c, version, deadline=30.0, **kw):
    """InitProducerId, again while the broker answers that its producer id
    manager is not ready (Kafka's asks the controller for a block of ids
    first: COORDINATOR_LOAD_IN_PROGRESS) or, for a transactional id, that it
    is not the coordinator yet (Kafka creates __transaction_state first)."""
    end = time.monotonic() + deadline
    while True:
        c.send(init_producer_id_request(version, 7, **kw))
        out = decode_init_producer_id_response(version, c.recv_frame())
        if out[0] not in (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR) \
                or time.monotonic() >= end:
            return out
        time.sleep(0.1)


def find_transaction_coordinator(c, txn, deadline=30.0):
    """FindCoordinator v1 (transaction) until it answers NONE (Kafka creates
    __transaction_state on the first request)."""
    body = kwire.string(txn) + struct.pack(">b", 1)
    end = time.monotonic() + deadline
    while True:
        c.send(kwire.frame(header(API_FIND_COORDINATOR, 1, 8, False) + body))
        r = kwire.Reader(c.recv_frame())
        r.int32()
        r.int32()
        err = r.int16()
        if err == NONE or time.monotonic() >= end:
            return err
        time.sleep(0.1)


# ---- the proxy -------------------------------------------------------------------

class RetryProxy:
    """A TCP proxy on loopback that forwards Kafka frames between clients
    and the broker at upstream_port, and consults policy(n) for the n-th
    Produce response (from 0): "pass", "drop" (the
    response is not forwarded and both connections are cut) or a number
    (seconds to hold it, and every response after it on that connection,
    back). The upstream port may change (a restarted broker)."""

    def __init__(self, upstream_port, policy=lambda n: "pass"):
        self.upstream_port = upstream_port
        self.policy = policy
        self.lock = threading.Lock()
        self.produce_responses = 0
        self.dropped = 0
        self.delayed = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            conns, self.conns = self.conns, []
        for pair in conns:
            self._cut(pair)

    @staticmethod
    def _cut(pair):
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def cut_all(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for pair in conns:
            self._cut(pair)

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the broker is down: the client retries
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self.lock:
                self.conns.append(pair)
            apis = {}  # correlation id -> api key, for this connection
            threading.Thread(target=self._requests, args=(pair, apis), daemon=True).start()
            threading.Thread(target=self._responses, args=(pair, apis), daemon=True).start()

    @staticmethod
    def _read_frame(sock):
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (size,) = struct.unpack(">i", head)
        body = bytearray()
        while len(body) < size:
            chunk = sock.recv(min(size - len(body), 1 << 20))
            if not chunk:
                return None
            body += chunk
        return head + bytes(body)

    def _requests(self, pair, apis):
        client, upstream = pair
        try:
            while True:
                f = self._read_frame(client)
                if f is None:
                    break
                api_key, version, corr = struct.unpack_from(">hhi", f, 4)
                apis[corr] = (api_key, version)
                upstream.sendall(f)
        except OSError:
            pass
        self._cut(pair)

    def _own_port_in_metadata(self, f, version):
        """The Metadata response frame f with the proxy's port for every
        broker's (the host stays: 127.0.0.1 for both)."""
        b = bytearray(f)
        r = kwire.Reader(bytes(f[4:]))
        flex = version >= 9
        r.int32()  # correlation id
        if flex:
            r.tagged_fields()
        if version >= 3:
            r.int32()  # throttle
        n = r.uvarint() - 1 if flex else r.int32()
        for _ in range(max(n, 0)):
            r.int32()  # node id
            r.string(flex)  # host
            struct.pack_into(">i", b, 4 + r.pos, self.port)
            r.int32()
            if version >= 1:
                r.string(flex)  # rack
            if flex:
                r.tagged_fields()
        return bytes(b)

    def _responses(self, pair, apis):
        client, upstream = pair
        try:
            while True:
                f = self._read_frame(upstream)
                if f is None:
                    break
                (corr,) = struct.unpack_from(">i", f, 4)
                api, version = apis.pop(corr, (None, None))
                if api == API_METADATA:
                    f = self._own_port_in_metadata(f, version)
                if api == API_PRODUCE:
                    with self.lock:
                        n = self.produce_responses
                        self.produce_responses += 1
                    action = self.policy(n)
                    if action == "drop":
                        with self.lock:
                            self.dropped += 1
                        break
                    if action != "pass":
                        with self.lock:
                            self.delayed += 1
                        time.sleep(action)
                client.sendall(f)
        except OSError:
            pass
        self._cut(pair)


# ---- tests -------------------------------------------------------------------------

class WireTest(BrokerTestCase):
    """InitProducerId, Produce and DescribeProducers on raw sockets."""

    BROKER_ARGS = dict(env={"GREGOR_LOG_LEVEL": "debug"})

    def conn(self):
        return kwire.Conn(self.broker.host, self.broker.port)

    def init_pid(self, c, version, **kw):
        return init_pid(c, version, **kw)

    def produce(self, c, topic, batch, partition=0):
        c.send(produce_request(9, topic, partition, batch))
        return decode_produce_response(c.recv_frame())

    def test_init_producer_id_every_version(self):
        with self.conn() as c:
            seen = []
            for v in range(6):
                err, pid, epoch = self.init_pid(c, v)
                self.assertEqual((err, epoch), (NONE, 0), "v%d" % v)
                seen.append(pid)
            # v3+ with a producer id and epoch (KIP-360): Kafka hands out a new id.
            err, pid, epoch = self.init_pid(c, 4, producer_id=seen[-1], epoch=0)
            self.assertEqual((err, epoch), (NONE, 0))
            seen.append(pid)
            # @platformatic/kafka's first request: 0/0.
            err, pid, epoch = self.init_pid(c, 5, producer_id=0, epoch=0)
            self.assertEqual((err, epoch), (NONE, 0))
            seen.append(pid)
            self.assertEqual(len(set(seen)), len(seen), "producer ids given twice: %s" % seen)
            self.assertEqual(seen, sorted(seen))

    def test_init_producer_id_errors(self):
        with self.conn() as c:
            self.assertEqual(self.init_pid(c, 3, producer_id=-1, epoch=4), (INVALID_REQUEST, -1, -1))
            self.assertEqual(self.init_pid(c, 3, producer_id=12, epoch=-1), (INVALID_REQUEST, -1, -1))
            self.assertEqual(self.init_pid(c, 1, transactional_id=""), (INVALID_REQUEST, -1, -1))

    def test_init_producer_id_transactional(self):
        with self.conn() as c:
            # The transaction coordinator hands out an id, and bumps the
            # epoch at each new InitProducerId (as Kafka does).
            self.assertEqual(find_transaction_coordinator(c, "txn-1"), NONE)
            got = [self.init_pid(c, v, transactional_id="txn-1") for v in (0, 2, 4)]
            self.assertEqual([(err, epoch) for err, _, epoch in got], [(NONE, 0), (NONE, 1), (NONE, 2)])
            self.assertEqual(len({pid for _, pid, _ in got}), 1)

    def test_produce_rules(self):
        topic = "idem-rules"
        with self.conn() as c:
            c.wait_topic(topic)  # auto-created
            _, pid, epoch = self.init_pid(c, 1)
            b0 = idempotent_batch(pid, epoch, 0, [b"a", b"b"])
            self.assertEqual(self.produce(c, topic, b0), (NONE, 0, 0))
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 2, [b"c"])), (NONE, 2, 0))
            # A resend of either: the original offsets, nothing written.
            self.assertEqual(self.produce(c, topic, b0), (NONE, 0, 0))
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 2, [b"c"]))[:2], (NONE, 2))
            # A gap, an overlap.
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 5, [b"x"]))[0],
                             OUT_OF_ORDER_SEQUENCE_NUMBER)
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 2, [b"c", b"d"]))[0],
                             OUT_OF_ORDER_SEQUENCE_NUMBER)
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 3, [b"d"]))[:2], (NONE, 3))
            # A bumped epoch starts at 0; the old one is fenced.
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch + 1, 4, [b"e"]))[0],
                             OUT_OF_ORDER_SEQUENCE_NUMBER)
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch + 1, 0, [b"e"]))[:2], (NONE, 4))
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch, 4, [b"f"]))[0],
                             INVALID_PRODUCER_EPOCH)
            # An unknown producer may start at any sequence (Kafka 2.5+).
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid + 1000, 0, 77, [b"g"]))[:2], (NONE, 5))
            # A transactional batch needs the request's transactional id:
            # Kafka refuses the request first (KafkaApis.handleProduceRequest).
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid, epoch + 1, 1, [b"h"], transactional=True)),
                             (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1))
            # Sequences wrap around after INT32_MAX.
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid + 2000, 0, INT32_MAX - 1,
                                                                     [b"i", b"j", b"k"]))[:2], (NONE, 6))
            self.assertEqual(self.produce(c, topic, idempotent_batch(pid + 2000, 0, 1, [b"l"]))[:2], (NONE, 9))

            c.send(describe_producers_request(3, [(topic, [0, 5]), ("no-such-topic", [0])]))
            d = decode_describe_producers_response(c.recv_frame())
            err, prods = d[(topic, 0)]
            self.assertEqual(err, NONE)
            got = {p[0]: p[1:3] for p in prods}
            self.assertEqual(got, {pid: (epoch + 1, 0), pid + 1000: (0, 77), pid + 2000: (0, 1)})
            self.assertTrue(all(p[3] == 1700000000000 and p[4] == -1 and p[5] == -1 for p in prods), prods)
            self.assertEqual(d[(topic, 5)], (UNKNOWN_TOPIC_OR_PARTITION, []))
            self.assertEqual(d[("no-such-topic", 0)], (UNKNOWN_TOPIC_OR_PARTITION, []))

            # The log holds every record once.
            c.metadata(4, topics=[topic])
        if not on_kafka():  # Gregor's debug log tells of the duplicates
            self.assertIn("duplicate batch of producer %d" % pid, self.broker.log())


class RestartTest(unittest.TestCase):
    """Producer ids and producer state across a clean stop and kill -9.

    Kafka's producer snapshots keep each producer's last batch only, so
    after a restart it recognises a resend of that batch and refuses older
    ones as OUT_OF_ORDER_SEQUENCE_NUMBER. Gregor writes all five cached
    batches into its snapshots (storage/gs_pstate.h) and recognises a resend
    of any of them: a known difference, in Gregor's favour."""

    def assert_resends(self, c, topic, batches, known, refused):
        for i in refused:
            c.send(produce_request(3, topic, 0, batches[i]))
            self.assertEqual(decode_produce_response(c.recv_frame())[0], OUT_OF_ORDER_SEQUENCE_NUMBER, "batch %d" % i)
        for i in known:  # resent, not rewritten
            c.send(produce_request(3, topic, 0, batches[i]))
            self.assertEqual(decode_produce_response(c.recv_frame())[:2], (NONE, i), "batch %d" % i)

    def test_ids_and_state_survive_kill(self):
        b = Broker()
        try:
            b.start()
            topic = "idem-restart"
            # Record timestamps of now: Kafka drops, when it loads a log, the
            # state of producers whose last batch is older than
            # producer.id.expiration.ms (a day) by its timestamp.
            now = int(time.time() * 1000)
            with kwire.Conn(b.host, b.port) as c:
                c.wait_topic(topic)  # auto-created
                _, pid1, _ = init_pid(c, 0)
                batches = [idempotent_batch(pid1, 0, i, [b"r%d" % i], ts=now) for i in range(8)]
                for i, bt in enumerate(batches):
                    c.send(produce_request(2, topic, 0, bt))
                    self.assertEqual(decode_produce_response(c.recv_frame())[:2], (NONE, i))
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            b.start()
            with kwire.Conn(b.host, b.port) as c:
                c.wait_topic(topic, create=False)  # Kafka: once it has loaded the log
                _, pid2, _ = init_pid(c, 0)
                self.assertGreater(pid2, pid1, "a producer id was handed out again after kill -9")
                # Kafka knows the last batch; Gregor the last five.
                if on_kafka():
                    self.assert_resends(c, topic, batches, known=[7], refused=range(2, 7))
                else:
                    self.assert_resends(c, topic, batches, known=range(3, 8), refused=[2])
                batches.append(idempotent_batch(pid1, 0, 8, [b"r8"], ts=now))
                c.send(produce_request(3, topic, 0, batches[8]))
                self.assertEqual(decode_produce_response(c.recv_frame())[:2], (NONE, 8))
            b.stop()
            b.start()  # after a clean stop: from the snapshot alone
            with kwire.Conn(b.host, b.port) as c:
                c.wait_topic(topic, create=False)
                if on_kafka():
                    self.assert_resends(c, topic, batches, known=[8], refused=range(4, 8))
                else:
                    self.assert_resends(c, topic, batches, known=range(4, 9), refused=[3])
                _, pid3, _ = init_pid(c, 0)
                self.assertGreater(pid3, pid2)
            b.stop()
        finally:
            b.cleanup()


def produce_all(p, n, topic, npart, errors, delivered):
    """Produce n messages round-robin over npart partitions; the delivery
    reports go to `delivered` [(partition, offset, value)] (and errors to
    `errors`) as the client calls back."""
    def cb(err, msg):
        if err:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset(), msg.value()))

    for i in range(n):
        while True:
            try:
                p.produce(topic, value=b"m-%06d" % i, partition=i % npart, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        if i % 200 == 0:
            p.poll(0)


def read_back(bootstrap, topic, npart, expected, deadline=60):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, q, 0) for q in range(npart)])
    got = {q: [] for q in range(npart)}
    eof = set()
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    eof.add(m.partition())
                    if len(eof) == npart and sum(len(v) for v in got.values()) >= expected:
                        break
                    continue
                raise KafkaException(m.error())
            eof.discard(m.partition())
            got[m.partition()].append((m.offset(), m.value()))
    finally:
        c.close()
    return got


class RetryTest(unittest.TestCase):
    """confluent_kafka with enable.idempotence=true through RetryProxy."""

    N = 6000
    NPART = 3

    def setUp(self):
        self.proxy = None
        self.broker = None

    def tearDown(self):
        if self.proxy:
            self.proxy.close()
        if self.broker:
            try:
                self.broker.stop()
            finally:
                self.broker.cleanup()

    def start(self, policy, env=None):
        self.broker = Broker(env=env)
        self.broker.start()
        self.proxy = RetryProxy(self.broker.port, policy)
        return "127.0.0.1:%d" % self.proxy.port

    def producer(self, bootstrap, **extra):
        conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                "max.in.flight.requests.per.connection": 5, "linger.ms": 5, "batch.num.messages": 100,
                "retry.backoff.ms": 20, "message.timeout.ms": 120000,
                "log_level": 2}  # the cut connections are expected: no warnings
        conf.update(extra)
        return Producer(conf)

    def check_exactly_once(self, bootstrap, topic, delivered, errors):
        self.assertEqual(errors, [], "delivery errors")
        self.assertEqual(len(delivered), self.N)
        got = read_back(bootstrap, topic, self.NPART, self.N)
        for q in range(self.NPART):
            want = [b"m-%06d" % i for i in range(q, self.N, self.NPART)]
            values = [v for _, v in got[q]]
            offsets = [o for o, _ in got[q]]
            self.assertEqual(offsets, list(range(len(offsets))), "partition %d: offsets not contiguous" % q)
            if values != want:
                k = next((k for k in range(min(len(values), len(want))) if values[k] != want[k]),
                         min(len(values), len(want)))
                self.fail("partition %d: %d records, want %d; first difference at %d: got %r want %r"
                          % (q, len(values), len(want), k, values[k] if k < len(values) else None,
                             want[k] if k < len(want) else None))
            # The delivery reports carry the offsets the records have.
            reported = sorted((o, v) for p, o, v in delivered if p == q)
            self.assertEqual(reported, got[q], "partition %d: delivery report offsets" % q)

    def create_topic(self, bootstrap, topic):
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": bootstrap})
        a.create_topics([NewTopic(topic, self.NPART, 1)])[topic].result(10)

    def test_dropped_responses(self):
        rnd = random.Random(5)
        bootstrap = self.start(lambda n: "drop" if n >= 3 and rnd.random() < 0.06 else "pass",
                               env={"GREGOR_LOG_LEVEL": "debug"})
        topic = "idem-drop"
        self.create_topic(bootstrap, topic)
        errors, delivered = [], []
        p = self.producer(bootstrap)
        produce_all(p, self.N, topic, self.NPART, errors, delivered)
        self.assertEqual(p.flush(90), 0, "undelivered messages")
        self.assertGreater(self.proxy.dropped, 0)
        if not on_kafka():  # Gregor's debug log tells of the resends
            self.assertIn("duplicate batch of producer", self.broker.log(), "no resend reached the broker")
        self.check_exactly_once(bootstrap, topic, delivered, errors)

    def test_late_responses(self):
        # Held past request.timeout.ms: the client gives up on the
        # connection and resends on a new one.
        bootstrap = self.start(lambda n: 1.5 if n in (4, 15, 31) else "pass", env={"GREGOR_LOG_LEVEL": "debug"})
        topic = "idem-late"
        self.create_topic(bootstrap, topic)
        errors, delivered = [], []
        p = self.producer(bootstrap, **{"request.timeout.ms": 1000, "socket.timeout.ms": 1000})
        produce_all(p, self.N, topic, self.NPART, errors, delivered)
        self.assertEqual(p.flush(90), 0, "undelivered messages")
        self.assertGreater(self.proxy.delayed, 0)
        if not on_kafka():  # Gregor's debug log tells of the resends
            self.assertIn("duplicate batch of producer", self.broker.log(), "no resend reached the broker")
        self.check_exactly_once(bootstrap, topic, delivered, errors)

    def test_kill_9_while_producing(self):
        bootstrap = self.start(lambda n: "pass")
        topic = "idem-kill"
        self.create_topic(bootstrap, topic)
        errors, delivered = [], []
        p = self.producer(bootstrap)
        done = threading.Event()

        def run():
            produce_all(p, self.N, topic, self.NPART, errors, delivered)
            end = time.monotonic() + 100
            while p.flush(1) > 0 and time.monotonic() < end:
                pass
            done.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        kills = 0
        for frac in (0.25, 0.6):
            wait_until(lambda: len(delivered) >= frac * self.N or done.is_set(), 60, "produce progress",
                       interval=0.001)
            if done.is_set():
                break
            self.broker.proc.send_signal(signal.SIGKILL)
            self.broker.proc.wait()
            self.proxy.cut_all()
            kills += 1
            self.broker.start()  # on another port: the proxy follows
            self.proxy.upstream_port = self.broker.port
        t.join(120)
        self.assertTrue(done.is_set(), "the producer did not finish")
        self.assertGreater(kills, 0)
        self.check_exactly_once(bootstrap, topic, delivered, errors)


if __name__ == "__main__":
    unittest.main()
