"""Client quotas: DescribeClientQuotas (48) and AlterClientQuotas (49)
v0-v1 over raw sockets, persistence across a restart, and enforcement of
producer_byte_rate, consumer_byte_rate, request_percentage (KIP-219:
throttle_time_ms in the answer, then the connection is not read for that
long) and controller_mutation_rate (KIP-599: THROTTLING_QUOTA_EXCEEDED for
the topics that do not fit, from CreateTopics v6, CreatePartitions v3 and
DeleteTopics v5 on; older versions are counted and throttled).

Every expected answer is what a single-node Kafka 4.4 gave to the same
request (entities and their types compared as sets: Kafka lists them in
hash order). Kafka applies an alteration through its metadata log, so
describes poll until the answer settles.
"""

import os
import struct
import time

import kwire
import quotawire as qw
from broker import Broker, BrokerTestCase, gregor_only, wait_until
from test_admin import TAGS, carray, cstr
from test_data import (build_batch, decode_fetch_response, decode_produce_response, fetch_request,
                       produce_request)

INVALID_REQUEST = 42
THROTTLING_QUOTA_EXCEEDED = 89
UNSUPPORTED_VERSION = 35
DEADLINE = 15.0
EXACT, DEFAULT, SPECIFIED = 0, 1, 2


def norm(entries):
    """Entries as a comparable set: ((entity pairs), (values))."""
    if entries is None:
        return None
    return sorted(((tuple(sorted(map(tuple, e["entity"]), key=repr)), tuple(sorted(map(tuple, e["values"]))))
                   for e in entries), key=repr)


def E(*pairs, values=()):
    return (tuple(sorted(pairs, key=repr)), tuple(sorted(values)))


ALL_SET = [
    ([("user", "alice")], [("producer_byte_rate", 1000.0, False), ("consumer_byte_rate", 2000.0, False)]),
    ([("user", None)], [("request_percentage", 12.5, False)]),
    ([("user", "alice"), ("client-id", "c1")], [("producer_byte_rate", 3000.0, False)]),
    ([("client-id", None)], [("controller_mutation_rate", 5.5, False)]),
    ([("user", None), ("client-id", None)], [("producer_byte_rate", 77.0, False)]),
    ([("ip", "1.2.3.4")], [("connection_creation_rate", 10.0, False)]),
    ([("ip", None)], [("connection_creation_rate", 20.0, False)]),
]
ALICE = E(("user", "alice"), values=[("consumer_byte_rate", 2000.0), ("producer_byte_rate", 1000.0)])
DEF_USER = E(("user", None), values=[("request_percentage", 12.5)])
ALICE_C1 = E(("client-id", "c1"), ("user", "alice"), values=[("producer_byte_rate", 3000.0)])
DEF_CLIENT = E(("client-id", None), values=[("controller_mutation_rate", 5.5)])
DEF_BOTH = E(("client-id", None), ("user", None), values=[("producer_byte_rate", 77.0)])
IP = E(("ip", "1.2.3.4"), values=[("connection_creation_rate", 10.0)])
DEF_IP = E(("ip", None), values=[("connection_creation_rate", 20.0)])


class QuotasTest(BrokerTestCase):

    def describe(self, components, strict=False, version=1):
        with self.conn() as c:
            return qw.describe(c, version, components, strict)

    def alter(self, entries, validate_only=False, version=1):
        with self.conn() as c:
            return qw.alter(c, version, entries, validate_only)

    def settle(self, components, expected, strict=False):
        """Describe (both versions) until the entries are expected."""
        for v in (0, 1):
            got = []

            def ok():
                got[:] = [self.describe(components, strict, v)]
                return got[0]["error_code"] == 0 and norm(got[0]["entries"]) == sorted(expected, key=repr)
            try:
                wait_until(ok, DEADLINE, "describe %r strict=%r" % (components, strict))
            except AssertionError:
                self.assertEqual(norm(got[0]["entries"]), sorted(expected, key=repr))
            self.assertEqual(got[0]["error_message"], "")  # Kafka's answer on success

    def alter_ok(self, entries, version=1):
        r = self.alter(entries, version=version)
        self.assertEqual([(e["error_code"], e["error_message"]) for e in r["entries"]], [(0, None)] * len(entries))

    def alter_error(self, entry, message, validate_only=False):
        r = self.alter([entry], validate_only)
        self.assertEqual(len(r["entries"]), 1)
        self.assertEqual((r["entries"][0]["error_code"], r["entries"][0]["error_message"]),
                         (INVALID_REQUEST, message))
        return r["entries"][0]

    def describe_error(self, components, code, message):
        for v in (0, 1):
            r = self.describe(components, version=v)
            self.assertEqual((r["error_code"], r["error_message"], r["entries"]), (code, message, None))

    def test_1_every_entity_and_filter(self):
        self.settle([], [])
        r = self.alter([ALL_SET[0]], validate_only=True)
        self.assertEqual(r["entries"], [{"error_code": 0, "error_message": None, "entity": [("user", "alice")]}])
        self.settle([], [])  # validate_only applies nothing
        for i, entry in enumerate(ALL_SET):
            self.alter_ok([entry], version=i % 2)
        everything = [ALICE, DEF_USER, ALICE_C1, DEF_CLIENT, DEF_BOTH, IP, DEF_IP]
        self.settle([], everything)
        self.settle([], [], strict=True)
        self.settle([("user", EXACT, "alice")], [ALICE, ALICE_C1])
        self.settle([("user", EXACT, "alice")], [ALICE], strict=True)
        self.settle([("user", DEFAULT, None)], [DEF_USER, DEF_BOTH])
        self.settle([("user", SPECIFIED, None)], [DEF_USER, ALICE, ALICE_C1, DEF_BOTH])
        self.settle([("user", SPECIFIED, None)], [DEF_USER, ALICE], strict=True)
        self.settle([("user", SPECIFIED, None), ("client-id", SPECIFIED, None)], [ALICE_C1, DEF_BOTH], strict=True)
        self.settle([("client-id", DEFAULT, None)], [DEF_CLIENT, DEF_BOTH])
        self.settle([("ip", SPECIFIED, None)], [IP, DEF_IP])
        self.settle([("ip", EXACT, "1.2.3.4")], [IP])
        self.settle([("ip", DEFAULT, None)], [DEF_IP], strict=True)
        self.settle([("ip", EXACT, "9.9.9.9")], [])
        self.settle([("user", EXACT, "nobody")], [])

        # Removing keys; an entity without any is gone.
        self.alter_ok([([("user", "alice")], [("producer_byte_rate", 0, True)])])
        self.settle([("user", EXACT, "alice")], [
            E(("user", "alice"), values=[("consumer_byte_rate", 2000.0)]), ALICE_C1])
        self.alter_ok([([("user", "alice")], [("consumer_byte_rate", 0, True)])])
        self.settle([("user", EXACT, "alice")], [ALICE_C1])
        # Removing what is not there, and a key nobody can set, is no error.
        self.alter_ok([([("user", "bob")], [("bogus", 1.0, True)])])
        self.alter_ok([([("user", "bob")], [("producer_byte_rate", 1.0, True)])])
        self.alter_ok([([("user", "bob")], [])])
        self.settle([("user", EXACT, "bob")], [])

    def test_2_describe_errors(self):
        self.describe_error([("user", EXACT, None)], INVALID_REQUEST,
                            "Request specified MATCH_TYPE_EXACT, but set match string to null.")
        self.describe_error([("user", DEFAULT, "x")], INVALID_REQUEST,
                            "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
        self.describe_error([("user", SPECIFIED, "x")], INVALID_REQUEST,
                            "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
        self.describe_error([("user", 3, None)], INVALID_REQUEST, "Unknown match type 3")
        self.describe_error([("foo", SPECIFIED, None)], UNSUPPORTED_VERSION, "Unsupported entity type foo")
        self.describe_error([("", SPECIFIED, None)], INVALID_REQUEST, "Invalid empty entity type.")
        self.describe_error([("user", SPECIFIED, None), ("user", DEFAULT, None)], INVALID_REQUEST,
                            "Entity type user cannot appear more than once in the filter.")
        self.describe_error([("ip", SPECIFIED, None), ("user", SPECIFIED, None)], INVALID_REQUEST,
                            "Invalid entity filter component combination. IP filter component should not be used "
                            "with user or clientId filter component.")

    def test_3_alter_errors(self):
        bob = [("user", "bob")]
        ip = [("ip", "5.6.7.8")]
        self.alter_error((bob, [("bogus_key", 1.0, False)]), "Invalid configuration key bogus_key")
        self.alter_error((bob, [("bogus_key", 1.0, False)]), "Invalid configuration key bogus_key",
                         validate_only=True)
        self.alter_error((bob, [("producer_byte_rate", 1.5, False)]),
                         "producer_byte_rate cannot be a fractional value.")
        self.alter_error((bob, [("producer_byte_rate", 0.0, False)]), "Quota producer_byte_rate must be greater than 0")
        self.alter_error((bob, [("producer_byte_rate", -1.0, False)]),
                         "Quota producer_byte_rate must be greater than 0")
        self.alter_error((bob, [("producer_byte_rate", 9.3e18, False)]),
                         "Proposed value for producer_byte_rate is too large for a LONG.")
        self.alter_error((bob, [("request_percentage", float("nan"), False)]),
                         "Quota request_percentage must be a finite number")
        self.alter_error((bob, [("request_percentage", float("inf"), False)]),
                         "Quota request_percentage must be a finite number")
        self.alter_error((bob, [("connection_creation_rate", 5.0, False)]),
                         "Invalid configuration key connection_creation_rate")
        self.alter_error((ip, [("producer_byte_rate", 5.0, False)]), "Invalid configuration key producer_byte_rate")
        self.alter_error((ip, [("connection_creation_rate", 5.5, False)]),
                         "connection_creation_rate cannot be a fractional value.")
        self.alter_error((ip, [("connection_creation_rate", 3e9, False)]),
                         "Proposed value for connection_creation_rate is too large for an INT.")
        self.alter_error(([("ip", "not an ip")], [("connection_creation_rate", 5.0, False)]),
                         "not an ip is not a valid IP or resolvable host.")
        e = self.alter_error(([("ip", "1.2.3.4"), ("user", "x")], [("connection_creation_rate", 5.0, False)]),
                             "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
        self.assertEqual(sorted(e["entity"]), [("ip", "1.2.3.4"), ("user", "x")])
        self.alter_error(([], [("producer_byte_rate", 5.0, False)]), "Invalid empty client quota entity")
        self.alter_error(([("user", "")], [("producer_byte_rate", 5.0, False)]), "Empty user not supported")
        self.alter_error(([("client-id", "")], [("producer_byte_rate", 5.0, False)]), "Empty client-id not supported")
        self.alter_error(([("ip", "")], [("connection_creation_rate", 3, False)]), "Empty ip not supported")
        self.alter_error(([("group", "g")], [("producer_byte_rate", 5.0, False)]),
                         "Unhandled client quota entity type: group")
        self.alter_error((bob, [("nope", 1.0, False), ("producer_byte_rate", -1.0, False)]),
                         "Invalid configuration key nope")
        self.alter_error(([("user", "u"), ("client-id", "c")],
                          [("producer_byte_rate", 1.0, False), ("producer_byte_rate", 2.0, True)]),
                         "Ignoring duplicate entity ClientQuotaEntity(entries={client-id=c, user=u})")
        self.settle([("user", EXACT, "bob")], [])
        self.settle([("user", EXACT, "u")], [])

        # One good entry and one bad: the good one applies.
        r = self.alter([(bob, [("producer_byte_rate", 5.0, False)]), ([("user", "bad")], [("nope", 5.0, False)])])
        self.assertEqual([(e["error_code"], e["error_message"], e["entity"]) for e in r["entries"]],
                         [(0, None, [("user", "bob")]), (INVALID_REQUEST, "Invalid configuration key nope",
                                                          [("user", "bad")])])
        self.settle([("user", EXACT, "bob")], [E(("user", "bob"), values=[("producer_byte_rate", 5.0)])])
        # The same entity twice: the first applies, its result becomes the error.
        r = self.alter([([("user", "w")], [("producer_byte_rate", 1.0, False)]),
                        ([("user", "w")], [("consumer_byte_rate", 1.0, False)])])
        self.assertEqual([(e["error_code"], e["error_message"], e["entity"]) for e in r["entries"]],
                         [(INVALID_REQUEST, "Ignoring duplicate entity ClientQuotaEntity(entries={user=w})",
                           [("user", "w")])])
        self.settle([("user", EXACT, "w")], [E(("user", "w"), values=[("producer_byte_rate", 1.0)])])
        # A type named twice in one entity keeps its last name, no error.
        r = self.alter([([("user", "a"), ("user", "b2")], [("producer_byte_rate", 5.0, False)])])
        self.assertEqual([(e["error_code"], e["entity"]) for e in r["entries"]], [(0, [("user", "b2")])])
        # Values within a hair of an integer pass as integers, kept as given.
        self.alter_ok([([("user", "z")], [("producer_byte_rate", 1.0000001, False)])])
        self.settle([("user", EXACT, "z")], [E(("user", "z"), values=[("producer_byte_rate", 1.0000001)])])
        self.alter_ok([([("ip", "::1")], [("connection_creation_rate", 3, False)])])
        self.alter_ok([([("user", "v")], [("controller_mutation_rate", 0.5, False),
                                          ("consumer_byte_rate", 4e18, False)])])
        self.settle([("user", EXACT, "v")], [
            E(("user", "v"), values=[("consumer_byte_rate", 4e18), ("controller_mutation_rate", 0.5)])])


@gregor_only("starts Gregor twice on one data directory and reads gregor-client-quotas.properties")
class QuotasRestartTest(BrokerTestCase):

    def test_persisted_across_restart(self):
        with self.conn() as c:
            for entry in ALL_SET:
                r = qw.alter(c, 1, [entry], False)
                self.assertEqual(r["entries"][0]["error_code"], 0)
            r = qw.alter(c, 1, [([("user", "odd name/=,%\u00e9")], [("producer_byte_rate", 42.0, False)])], False)
            self.assertEqual(r["entries"][0]["error_code"], 0)
            before = norm(qw.describe(c, 1, [], False)["entries"])
        path = os.path.join(self.broker.data_dir, "data", "gregor-client-quotas.properties")
        self.assertTrue(os.path.exists(path))  # answered after the write
        data_dir = self.broker.data_dir
        self.broker.stop()
        b = Broker(data_dir=data_dir)
        b.start()
        try:
            with kwire.Conn(b.host, b.port) as c:
                self.assertEqual(norm(qw.describe(c, 1, [], False)["entries"]), before)
        finally:
            b.stop()
        type(self).broker = Broker(data_dir=data_dir)  # tearDownClass stops this one (the class attribute)
        self.broker.start()


def produce_raw(c, cid, topic, value):
    c.send(produce_request(8, cid, topic, 0, build_batch([value]), acks=1))
    return decode_produce_response(8, c.recv_frame())


def with_client_id(frame, client_id):
    """A request frame of test_data's (client id "gregor-data") with another client id."""
    old, new = kwire.string("gregor-data"), kwire.string(client_id)
    at = 4 + 8  # size, api key, version, correlation id
    assert frame[at:at + len(old)] == old
    payload = frame[4:at] + new + frame[at + len(old):]
    return struct.pack(">i", len(payload)) + payload


def admin_raw(c, api, version, flex, body, client_id):
    """One admin request on c; the Reader after the response header."""
    hdr = struct.pack(">hhi", api, version, 7) + kwire.string(client_id) + (TAGS if flex else b"")
    c.send(kwire.frame(hdr + body))
    r = kwire.Reader(c.recv_frame())
    assert r.int32() == 7
    if flex:
        r.tagged_fields()
    return r


def create_topics(c, client_id, version, topics):
    """CreateTopics v4 or v7: topics [(name, partitions)]; returns
    (throttle_time_ms, [(name, error, partitions or None)])."""
    flex = version >= 5
    if flex:
        body = carray(topics, lambda t: cstr(t[0]) + struct.pack(">ih", t[1], 1) + carray([], None)
                      + carray([], None) + TAGS) + struct.pack(">i?", 10000, False) + TAGS
    else:
        body = (struct.pack(">i", len(topics))
                + b"".join(kwire.string(t[0]) + struct.pack(">ihii", t[1], 1, 0, 0) for t in topics)
                + struct.pack(">i?", 10000, False))
    r = admin_raw(c, 19, version, flex, body, client_id)
    throttle = r.int32()

    def result():
        name = r.string(flex)
        if version >= 7:
            r.uuid()
        error = r.int16()
        r.string(flex)
        parts = None
        if version >= 5:
            parts = r.int32()
            r.int16()
            r.array(True, lambda: (r.string(True), r.string(True), r.bool(), r.int8(), r.bool(), r.tagged_fields()))
            r.tagged_fields()
        return (name, error, parts)
    return throttle, r.array(flex, result)


def delete_topics(c, client_id, names):
    """DeleteTopics v6 by name: (throttle_time_ms, {name: error})."""
    body = carray(names, lambda n: cstr(n) + bytes(16) + TAGS) + struct.pack(">i", 10000) + TAGS
    r = admin_raw(c, 20, 6, True, body, client_id)
    throttle = r.int32()

    def result():
        name = r.string(True)
        r.uuid()
        error = r.int16()
        r.string(True)
        r.tagged_fields()
        return (name, error)
    return throttle, dict(r.array(True, result))


def create_partitions(c, client_id, topics):
    """CreatePartitions v3: topics [(name, count)]; (throttle_time_ms, {name: error})."""
    body = carray(topics, lambda t: cstr(t[0]) + struct.pack(">i", t[1]) + carray(None, None) + TAGS)
    body += struct.pack(">i?", 10000, False) + TAGS
    r = admin_raw(c, 37, 3, True, body, client_id)
    throttle = r.int32()

    def result():
        t = (r.string(True), r.int16())
        r.string(True)
        r.tagged_fields()
        return t
    return throttle, dict(r.array(True, result))


class QuotaEnforcementTest(BrokerTestCase):
    # Two windows of one second: a client's bucket holds two seconds of its
    # quota, so a small quota bites soon (Kafka's keys).
    OVERRIDES = {"quota.window.num": "2", "quota.window.size.seconds": "1", "controller.quota.window.num": "2",
                 "controller.quota.window.size.seconds": "1", "auto.create.topics.enable": "true"}
    QUOTA = 100000.0

    def wait_quota(self, entity, key):
        def ok():
            with self.conn() as c:
                r = qw.describe(c, 1, [(t, EXACT if n else DEFAULT, n) for t, n in entity], True)
            return any(key in dict(e["values"]) for e in r["entries"] or [])
        wait_until(ok, DEADLINE, "the quota to apply")

    def test_produce_throttled(self):
        # The default client id: every client id gets its own rate.
        with self.conn() as c:
            r = qw.alter(c, 1, [([("client-id", None)], [("producer_byte_rate", self.QUOTA, False)])], False)
            self.assertEqual(r["entries"][0]["error_code"], 0)
        self.wait_quota([("client-id", None)], "producer_byte_rate")
        with self.conn() as c:
            c.wait_topic("quota-p")
            value = b"x" * 20000
            start = time.monotonic()
            sent = 0
            throttles = []
            gaps = []
            last_throttle = None
            i = 0
            while time.monotonic() - start < 3.0:
                i += 1
                r = produce_raw(c, i, "quota-p", value)
                now = time.monotonic()
                self.assertEqual(r["topics"][0]["partitions"][0]["error_code"], 0)
                if last_throttle:
                    gaps.append((now - last_throttle[0], last_throttle[1]))
                    last_throttle = None
                sent += len(value)
                if r["throttle_time_ms"] > 0:
                    throttles.append(r["throttle_time_ms"])
                    last_throttle = (now, r["throttle_time_ms"])
            elapsed = time.monotonic() - start
        self.assertTrue(throttles, "no Produce answer carried a throttle time")
        # Muted: the next answer came no sooner than most of the throttle time.
        for gap, ms in gaps:
            self.assertGreaterEqual(gap * 1000, ms * 0.5)
        # Loosely bounded: the first window's bytes pass at once.
        self.assertLess(sent / elapsed, 3 * self.QUOTA)

    def test_fetch_throttled(self):
        with self.conn() as c:
            c.wait_topic("quota-f")
            for i in range(10):
                produce_raw(c, i, "quota-f", b"y" * 50000)
            r = qw.alter(c, 1, [([("user", None)], [("consumer_byte_rate", 50000.0, False)])], False)
            self.assertEqual(r["entries"][0]["error_code"], 0)
        self.wait_quota([("user", None)], "consumer_byte_rate")
        with self.conn() as c:
            throttled = None
            for i in range(20):
                c.send(fetch_request(100 + i, "quota-f", 0, 0))
                r = decode_fetch_response(c.recv_frame())
                if r["throttle_time_ms"] > 0:
                    throttled = r
                    break
        self.assertIsNotNone(throttled, "no Fetch answer carried a throttle time")
        self.assertEqual(throttled["topics"], [])  # Kafka answers a throttled fetch empty

    def test_request_percentage_throttled(self):
        # 0.01% of one thread: a bucket of 0.02 percent-seconds (0.2 ms of
        # handler time) that refills at 0.1 ms a second. Kafka throttles
        # the first request already; Gregor's handlers are quicker.
        with self.conn() as c:
            r = qw.alter(c, 1, [([("client-id", "rq")], [("request_percentage", 0.01, False)])], False)
            self.assertEqual(r["entries"][0]["error_code"], 0)
        self.wait_quota([("client-id", "rq")], "request_percentage")
        with self.conn() as c:
            c.wait_topic("quota-rq")
            produce_raw(c, 1, "quota-rq", b"r" * 1000)
            throttled = []  # [api, throttle_time_ms, seconds until the next answer]
            end = time.monotonic() + DEADLINE
            for i in range(4000):
                if time.monotonic() > end:
                    break
                start = time.monotonic()
                if i % 2:
                    c.send(with_client_id(fetch_request(i, "quota-rq", 0, 0), "rq"))
                    r = decode_fetch_response(c.recv_frame())
                else:
                    c.send(kwire.metadata_request(9, i, topics=None, client_id="rq"))
                    r = kwire.decode_metadata_response(9, c.recv_frame())
                if throttled and len(throttled[-1]) == 2:
                    throttled[-1].append(time.monotonic() - start)
                if r["throttle_time_ms"] > 0:
                    throttled.append(["fetch" if i % 2 else "metadata", r["throttle_time_ms"]])
                    if len(throttled) >= 4 and {t[0] for t in throttled} == {"fetch", "metadata"}:
                        break
            # Both APIs count, and carry the throttle time.
            self.assertEqual({t[0] for t in throttled}, {"fetch", "metadata"}, throttled)
            for t in throttled:
                # Kafka bounds a request-time throttle to one window (1 s here).
                self.assertTrue(0 < t[1] <= 1000, throttled)
            for t in throttled[:-1]:
                # Muted: the next answer came no sooner than most of the throttle time.
                self.assertGreaterEqual(t[2] * 1000, t[1] * 0.5, throttled)
        # Another client id has no quota.
        with self.conn() as c:
            c.send(kwire.metadata_request(9, 1, topics=None, client_id="other"))
            self.assertEqual(kwire.decode_metadata_response(9, c.recv_frame())["throttle_time_ms"], 0)

    def set_mutation_quota(self, clients, rate):
        with self.conn() as c:
            r = qw.alter(c, 1, [([("client-id", n)], [("controller_mutation_rate", rate, False)]) for n in clients],
                         False)
            self.assertEqual([e["error_code"] for e in r["entries"]], [0] * len(clients))
        for n in clients:
            self.wait_quota([("client-id", n)], "controller_mutation_rate")

    def test_mutation_rate_strict(self):
        # 1 partition a second: a bucket of 2 (controller.quota.window.num 2
        # of 1 s).
        # Strict (CreateTopics v6+, DeleteTopics v5+): a topic is refused
        # while the bucket is below zero, admitted otherwise, even past zero.
        self.set_mutation_quota(["cm7"], 1.0)
        tag = "%x" % int(time.time() * 1000)
        a, b_, d = "cm-a-" + tag, "cm-b-" + tag, "cm-d-" + tag
        with self.conn() as c:
            throttle, res = create_topics(c, "cm7", 7, [(a, 3), (b_, 3), (d, 1)])
        self.assertEqual(res, [(a, 0, 3), (b_, THROTTLING_QUOTA_EXCEEDED, -1), (d, THROTTLING_QUOTA_EXCEEDED, -1)])
        # -1 token at 1 a second.
        self.assertTrue(500 < throttle <= 1000, throttle)
        with self.conn() as c:
            throttle, res = delete_topics(c, "cm7", [a])
        self.assertEqual(res, {a: THROTTLING_QUOTA_EXCEEDED})
        self.assertTrue(0 < throttle <= 1000, throttle)
        with self.conn() as c:
            wait_until(lambda: create_topics(c, "cm7", 7, [(b_, 1)])[1] == [(b_, 0, 1)], DEADLINE,
                       "the bucket to refill")
        with self.conn() as c:
            throttle, res = create_topics(c, "other", 7, [(d, 5)])  # no quota for this client id
        self.assertEqual((throttle, res), (0, [(d, 0, 5)]))

    def test_mutation_rate_permissive(self):
        # CreateTopics v4 predates THROTTLING_QUOTA_EXCEEDED: everything is
        # created and counted, and the answer is throttled: (6 - 2) / 1 s.
        self.set_mutation_quota(["cm4"], 1.0)
        tag = "%x" % int(time.time() * 1000)
        names = ["cm4-%s-%d" % (tag, i) for i in range(2)]
        with self.conn() as c:
            throttle, res = create_topics(c, "cm4", 4, [(n, 3) for n in names])
            self.assertEqual(res, [(n, 0, None) for n in names])
            self.assertTrue(3000 < throttle <= 4000, throttle)
            start = time.monotonic()
            throttle2, res = create_topics(c, "cm4", 4, [("cm4-%s-x" % tag, 1)])
            # Muted: the same connection is not read for the throttle time.
            self.assertGreaterEqual(time.monotonic() - start, throttle * 0.5 / 1000)
        self.assertEqual(res[0][1], 0)
        self.assertGreater(throttle2, 0)

    def test_mutation_rate_create_partitions(self):
        # CreatePartitions v3 is strict: +3 fits a full bucket of 2 (it goes
        # to -1, with no throttle time: Kafka sets one only on a refusal),
        # then +1 is refused.
        self.set_mutation_quota(["cp3"], 1.0)
        topic = "cp-%x" % int(time.time() * 1000)
        with self.conn() as c:
            self.assertEqual(create_topics(c, "gregor-it", 7, [(topic, 1)])[1], [(topic, 0, 1)])
            self.assertEqual(create_partitions(c, "cp3", [(topic, 4)]), (0, {topic: 0}))
            throttle, res = create_partitions(c, "cp3", [(topic, 5)])
        self.assertEqual(res, {topic: THROTTLING_QUOTA_EXCEEDED})
        self.assertTrue(500 < throttle <= 1000, throttle)

    def test_fetch_capped_to_quota_window(self):
        # Kafka caps a quota'd client's Fetch at the quota's worth of
        # quota.window.num - 1 windows (50 000 bytes here), so a backlog
        # larger than the bucket is read piece by piece, never answered
        # whole and then refused (throttled, empty) again and again.
        with self.conn() as c:
            c.wait_topic("quota-cap")
            for i in range(10):
                produce_raw(c, i, "quota-cap", b"z" * 20000)
            r = qw.alter(c, 1, [([("client-id", "fc")], [("consumer_byte_rate", 50000.0, False)])], False)
            self.assertEqual(r["entries"][0]["error_code"], 0)
        self.wait_quota([("client-id", "fc")], "consumer_byte_rate")
        with self.conn() as c:
            # Kafka throttles the first answer already (its response's own
            # bytes take it just past the quota): the next one has data.
            answers = []
            for i in range(5):
                c.send(with_client_id(fetch_request(1 + i, "quota-cap", 0, 0), "fc"))
                r = decode_fetch_response(c.recv_frame())
                answers.append((r["throttle_time_ms"], [len(p["records"] or b"") for t in r["topics"]
                                                        for p in t["partitions"]]))
                if answers[-1][1]:
                    break
            # Gregor: two of the 20 kB batches; Kafka: 50 000 bytes, the
            # last batch cut short.
            self.assertTrue(answers[-1][1] and 40000 < answers[-1][1][0] <= 50000, answers)
            # Another client id reads the whole backlog at once.
            c.send(fetch_request(2, "quota-cap", 0, 0))
            r = decode_fetch_response(c.recv_frame())
            self.assertGreater(len(r["topics"][0]["partitions"][0]["records"]), 200000)
