#!/usr/bin/env python3
"""Client-compatibility driver for the Python clients (tests/clients/README.md).

    driver.py --bootstrap HOST:PORT --client confluent-kafka|kafka-python|librdkafka-0.9-fallback [--only CAP[,CAP...]]

librdkafka-0.9-fallback is the same confluent-kafka with
api.version.request=false and broker.version.fallback=0.9.0: librdkafka
then sends no ApiVersions and speaks as to Kafka 0.9.0 (Metadata v0,
Produce v1 with message format v0, Fetch v1, ListOffsets v0, the group
APIs v0, OffsetCommit v2, OffsetFetch v1), the old versions that Kafka 4
removed.

Run it with the interpreter of the virtualenv that requirements.txt was
installed into (made from Debian's /usr/bin/python3, outside the repo):

    /usr/bin/python3 -m venv /tmp/gregor-clients/venv
    /tmp/gregor-clients/venv/bin/pip install -r tests/clients/python/requirements.txt
    /tmp/gregor-clients/venv/bin/python tests/clients/python/driver.py \
        --bootstrap 127.0.0.1:9092 --client confluent-kafka

Every capability runs in a forked child process (the parent never creates a
client, so it has no threads to lose in the fork). The child reports its
stages and its result through a pipe; when it passes the capability's
deadline the parent kills it and prints "timed out ... (during <stage>)", so a
hung librdkafka call or a blocking kafka-python wait can never stall the run.
Only the parent writes to stdout: one JSON line per capability.
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
import uuid

PINNED = {
    "confluent-kafka": "2.16.1",
    "kafka-python": "3.0.12",
    "librdkafka-0.9-fallback": "2.16.1",  # confluent-kafka, old versions
}

CAPABILITIES = [
    "metadata",
    "produce-consume-none",
    "produce-consume-gzip",
    "produce-consume-snappy",
    "produce-consume-lz4",
    "produce-consume-zstd",
    "group-eager",
    "group-cooperative",
    "committed-offsets",
    "idempotence",
    "admin-topics",
    "admin-partitions",
    "admin-describe-configs",
    "list-offsets-time",
    "transactions",
    "txn-abort-visibility",
    "txn-consume-transform-produce",
    "txn-fencing",
]

# Outer deadline per capability, seconds (the README allows at most 60).
# The steps inside use shorter waits of their own, so a slow or missing
# answer is normally reported precisely before this one fires.
DEADLINES = {
    "metadata": 20,
    "group-eager": 50,
    "group-cooperative": 50,
    "committed-offsets": 45,
    "idempotence": 30,
    "admin-topics": 30,
    "admin-partitions": 25,
    "admin-describe-configs": 25,
    "list-offsets-time": 25,
    "transactions": 45,
    "txn-abort-visibility": 50,
    "txn-consume-transform-produce": 55,
    "txn-fencing": 50,
}
for _c in ("none", "gzip", "snappy", "lz4", "zstd"):
    DEADLINES["produce-consume-" + _c] = 30

N_RECORDS = 100
CLIENT = None  # set in main(), used by log()


def log(msg):
    sys.stderr.write("[%s] %s\n" % (CLIENT, msg))
    sys.stderr.flush()


class Fail(Exception):
    """A check did not hold; the message is the capability's detail."""


class Skip(Exception):
    """The client itself does not have the capability."""


class Ctx:
    """What a capability function gets: names, the bootstrap, stage reports."""

    def __init__(self, client, cap, bootstrap, wfd):
        self.client = client
        self.cap = cap
        self.bootstrap = bootstrap
        self._wfd = wfd
        self.errors = []     # asynchronous client errors (librdkafka error_cb)
        self.fatal = None    # a fatal one, if any

    def name(self):
        return "mc-%s-%s-%s" % (self.client, self.cap, uuid.uuid4().hex[:10])

    def _send(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        try:
            os.write(self._wfd, data)
        except OSError:
            pass

    def stage(self, text):
        self._send({"stage": text})

    # librdkafka error callback (not called for per-message errors).
    def ck_error_cb(self, err):
        try:
            fatal = err.fatal()
        except Exception:
            fatal = False
        if fatal and self.fatal is None:
            self.fatal = err
        if len(self.errors) < 20:
            self.errors.append(str(err))
            if len(self.errors) <= 3 or fatal:
                log("%s: client error: %s" % (self.cap, err))


def short(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def until(secs):
    return time.monotonic() + secs


def expired(deadline):
    return time.monotonic() >= deadline


def record_kv(i, tag):
    """The key, value and header of record i (value repetitive: compressible)."""
    key = b"k%03d" % i
    value = (b"v%03d-%s-" % (i, tag.encode())) + b"abcdefgh" * 16
    header = ("h", b"hdr-%03d" % i)
    return key, value, header


def check_records(tag, nparts, consumed, headers=True):
    """consumed: list of (partition, offset, key, value, headers) in the
    order the consumer returned them. Records i went to partition i % nparts.
    headers=False: produced without (message formats v0 and v1 have none)."""
    want_headers = headers
    seen = {}
    per_part = {p: [] for p in range(nparts)}
    for (p, off, key, value, headers) in consumed:
        if key is None or not key.startswith(b"k"):
            raise Fail("unexpected record key %r at %d/%d" % (key, p, off))
        i = int(key[1:])
        if i in seen:
            raise Fail("record %d came back twice (offsets %s and %d/%d)"
                       % (i, seen[i], p, off))
        seen[i] = "%d/%d" % (p, off)
        ekey, evalue, eheader = record_kv(i, tag)
        if value != evalue:
            raise Fail("record %d: value %r, want %r" % (i, value[:40], evalue[:40]))
        if p != i % nparts:
            raise Fail("record %d produced to partition %d came back from %d"
                       % (i, i % nparts, p))
        hs = [(k, bytes(v) if v is not None else None) for (k, v) in (headers or [])]
        if hs != ([eheader] if want_headers else []):
            raise Fail("record %d: headers %r, want %r" % (i, hs, [eheader] if want_headers else []))
        per_part[p].append((i, off))
    missing = sorted(set(range(N_RECORDS)) - set(seen))
    if missing:
        raise Fail("%d of %d records came back; missing %s"
                   % (len(seen), N_RECORDS, missing[:10]))
    for p, lst in per_part.items():
        idx = [i for (i, _) in lst]
        if idx != sorted(idx):
            raise Fail("partition %d: records out of produce order: %s" % (p, idx[:20]))
        offs = [o for (_, o) in lst]
        if offs != sorted(offs) or len(set(offs)) != len(offs):
            raise Fail("partition %d: offsets not increasing: %s" % (p, offs[:20]))
    return "%d records in order (%s, %d partitions, key+value%s)" % (
        N_RECORDS, tag, nparts, "+header" if want_headers else ", no headers")


def first_diffs(got, want, n=5):
    """[(index, got value)] where got differs from want, the first n."""
    diffs = [(i, v) for i, v in enumerate(got) if i >= len(want) or v != want[i]]
    if len(got) < len(want):
        diffs.append((len(got), "missing %d" % (len(want) - len(got))))
    return diffs[:n]


# txn-abort-visibility: who writes what, in this order, to one partition (each
# record delivered before the next step). "A"/"B" are two transactional
# producers, "P" a plain one; A commits, B aborts.
INTERLEAVE = [
    ("P", "plain-0"), ("A", "a-0"), ("A", "a-1"), ("P", "plain-1"),
    ("B", "b-0"), ("B", "b-1"), ("P", "plain-2"), ("A", "a-2"), ("B", "b-2"),
    ("A", "commit"), ("P", "plain-3"), ("B", "abort"), ("P", "plain-4"),
]
INTERLEAVE_ALL = [v for (w, v) in INTERLEAVE if v not in ("commit", "abort")]
INTERLEAVE_COMMITTED = [v for v in INTERLEAVE_ALL if not v.startswith("b-")]


def check_interleave(committed, uncommitted):
    """committed/uncommitted: [(offset, value str)] read with each isolation
    level, in the order read."""
    for label, got, want in (("read_committed", committed, INTERLEAVE_COMMITTED),
                             ("read_uncommitted", uncommitted, INTERLEAVE_ALL)):
        offs = [o for (o, _) in got]
        if offs != sorted(set(offs)):
            raise Fail("%s: offsets not increasing: %s" % (label, offs))
        vals = [v for (_, v) in got]
        if vals != want:
            raise Fail("%s saw %s, want %s" % (label, vals, want))
    return ("read_committed saw the %d committed+plain records in offset order, none of B's "
            "aborted 3; read_uncommitted saw all %d"
            % (len(INTERLEAVE_COMMITTED), len(INTERLEAVE_ALL)))


def is_fenced_name(text):
    """The client's fenced error, by name: ProducerFenced, _FENCED,
    INVALID_PRODUCER_EPOCH (what a produce with the old epoch answers)."""
    t = str(text).upper().replace("_", "").replace(" ", "")
    return "FENCED" in t or "INVALIDPRODUCEREPOCH" in t


def check_split(label, a, b, allp):
    """Both members own something, nothing twice, everything once."""
    if a & b:
        raise Fail("%s: partitions %s assigned to both consumers at once (A=%s B=%s)"
                   % (label, sorted(a & b), sorted(a), sorted(b)))
    return bool(a) and bool(b) and (a | b) == allp


# ----------------------------------------------------------------------------
# confluent-kafka (librdkafka)
# ----------------------------------------------------------------------------

class ConfluentKafka:
    def __init__(self, ctx):
        import confluent_kafka as ck
        from confluent_kafka import admin as cka
        self.ck = ck
        self.cka = cka
        self.ctx = ctx

    # -- helpers --------------------------------------------------------------

    def conf(self, extra=None):
        c = {"bootstrap.servers": self.ctx.bootstrap,
             "error_cb": self.ctx.ck_error_cb,
             "client.id": "mc-%s" % self.ctx.cap}
        if extra:
            c.update(extra)
        return c

    def check_fatal(self):
        if self.ctx.fatal is not None:
            raise Fail("fatal client error: %s" % self.ctx.fatal)

    def admin(self):
        # Each AdminClient is kept referenced by its caller until all of its
        # futures have resolved (librdkafka fails the requests of a destroyed
        # client with _DESTROY).
        return self.cka.AdminClient(self.conf())

    def result(self, fut, what, secs=15):
        import concurrent.futures
        try:
            return fut.result(timeout=secs)
        except concurrent.futures.TimeoutError:
            raise Fail("timed out after %ds waiting for %s" % (secs, what))
        except self.ck.KafkaException as e:
            raise Fail("%s failed: %s" % (what, e.args[0] if e.args else e))

    def create_topic(self, admin, name, parts, config=None):
        self.ctx.stage("create topic %s (%d partitions)" % (name, parts))
        nt = self.cka.NewTopic(name, num_partitions=parts, replication_factor=1,
                               config=config or {})
        fs = admin.create_topics([nt], operation_timeout=10, request_timeout=15)
        self.result(fs[name], "CreateTopics %s" % name)
        return self.wait_topic(admin, name, parts)

    def wait_topic(self, admin, name, parts, secs=10):
        self.ctx.stage("wait for %s with %d partitions in metadata" % (name, parts))
        end = until(secs)
        last = "absent"
        while True:
            md = admin.list_topics(timeout=5)
            t = md.topics.get(name)
            if t is not None:
                if t.error is not None:
                    last = "error %s" % t.error
                else:
                    leaders = [p.leader for p in t.partitions.values()]
                    if len(leaders) == parts and all(l >= 0 for l in leaders):
                        return md
                    last = "%d partitions, leaders %s" % (len(leaders), leaders)
            if expired(end):
                raise Fail("topic %s not in metadata with %d partitions after %ds (%s)"
                           % (name, parts, secs, last))
            time.sleep(0.1)

    def produce(self, producer, items, secs=15):
        """items: dicts of produce() keyword arguments. Returns [(partition,
        offset)] in items order; fails on any delivery error."""
        results = [None] * len(items)

        def cb_for(i):
            def cb(err, msg):
                results[i] = (err, msg.partition(), msg.offset())
            return cb

        end = until(secs)
        for i, it in enumerate(items):
            while True:
                try:
                    producer.produce(on_delivery=cb_for(i), **it)
                    break
                except BufferError:
                    if expired(end):
                        raise Fail("producer queue full for %ds" % secs)
                    producer.poll(0.1)
            producer.poll(0)
        left = producer.flush(max(0.1, end - time.monotonic()))
        self.check_fatal()
        if left:
            raise Fail("%d of %d records still undelivered after %ds (client errors: %s)"
                       % (left, len(items), secs, self.ctx.errors[:3]))
        for r in results:
            if r is None:
                raise Fail("flush returned but a delivery report is missing")
            if r[0] is not None:
                raise Fail("delivery failed: %s" % r[0])
        return [(p, o) for (_, p, o) in results]

    def read(self, tps, want, secs=15, extra=None):
        """Assign tps [(topic, partition)] from the beginning (no group
        membership), read until every partition reported EOF after at least
        `want` records. Returns the messages."""
        ck = self.ck
        c = ck.Consumer(self.conf(dict({
            "group.id": self.ctx.name(),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest"}, **(extra or {}))))
        try:
            c.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for (t, p) in tps])
            msgs, eof, errs = [], set(), []
            end = until(secs)
            while True:
                if expired(end):
                    raise Fail("read %d of %d records in %ds (EOF on %s; errors %s)"
                               % (len(msgs), want, secs, sorted(eof), errs[:3]))
                m = c.poll(0.2)
                self.check_fatal()
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof.add((m.topic(), m.partition()))
                        if len(eof) == len(tps) and len(msgs) >= want:
                            return msgs
                    else:
                        errs.append(str(m.error()))
                    continue
                eof.discard((m.topic(), m.partition()))
                msgs.append(m)
        finally:
            c.close()

    # -- capabilities ---------------------------------------------------------

    def metadata(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 3)
        self.ctx.stage("metadata request")
        md = admin.list_topics(timeout=10)
        brokers = ["%s:%d" % (b.host, b.port) for b in md.brokers.values()]
        if len(brokers) != 1:
            raise Fail("metadata lists %d brokers: %s" % (len(brokers), brokers))
        if brokers[0] != self.ctx.bootstrap:
            raise Fail("broker is %s, bootstrap is %s" % (brokers[0], self.ctx.bootstrap))
        n = len(md.topics[topic].partitions)
        if n != 3:
            raise Fail("topic shows %d partitions, want 3" % n)
        return "1 broker %s (id %d, controller %d); topic has 3 partitions" % (
            brokers[0], list(md.brokers)[0], md.controller_id)

    def produce_consume(self, codec):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 3)
        self.ctx.stage("produce %d records (%s)" % (N_RECORDS, codec))
        p = self.ck.Producer(self.conf({"compression.type": codec, "linger.ms": 20,
                                        "acks": "all"}))
        items = []
        for i in range(N_RECORDS):
            k, v, h = record_kv(i, codec)
            items.append(dict(topic=topic, key=k, value=v, headers=[h], partition=i % 3))
        self.produce(p, items)
        self.ctx.stage("consume from earliest")
        msgs = self.read([(topic, q) for q in range(3)], N_RECORDS)
        consumed = [(m.partition(), m.offset(), m.key(), m.value(), m.headers())
                    for m in msgs]
        return check_records(codec, 3, consumed)

    def group(self, strategy, cooperative):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        group = self.ctx.name()
        self.create_topic(admin, topic, 4)
        allp = set(range(4))
        events = {"A": [], "B": []}

        def consumer(label):
            def on_assign(c, parts):
                events[label].append(("assign", sorted(p.partition for p in parts)))
                if cooperative:
                    c.incremental_assign(parts)
                else:
                    c.assign(parts)

            def on_revoke(c, parts):
                events[label].append(("revoke", sorted(p.partition for p in parts)))
                if cooperative:
                    c.incremental_unassign(parts)
                else:
                    c.unassign()

            def on_lost(c, parts):
                events[label].append(("lost", sorted(p.partition for p in parts)))
                if cooperative:
                    c.incremental_unassign(parts)
                else:
                    c.unassign()

            c = ck.Consumer(self.conf({
                "group.id": group,
                "client.id": "mc-%s-%s" % (self.ctx.cap, label),
                "partition.assignment.strategy": strategy,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest"}))
            c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
            return c

        def owned(c):
            return set(tp.partition for tp in c.assignment())

        def poll(c):
            m = c.poll(0.1)
            self.check_fatal()
            if m is not None and m.error() and m.error().code() != ck.KafkaError._PARTITION_EOF:
                log("%s: consumer error: %s" % (self.ctx.cap, m.error()))

        self.ctx.stage("consumer A joins alone")
        a = consumer("A")
        b = None
        try:
            end = until(15)
            while owned(a) != allp:
                if expired(end):
                    raise Fail("A alone did not get all 4 partitions in 15s (has %s; events %s)"
                               % (sorted(owned(a)), events["A"]))
                poll(a)
            n_a_before = len(events["A"])
            self.ctx.stage("consumer B joins; waiting for the split")
            b = consumer("B")
            end = until(20)
            while True:
                poll(a)
                poll(b)
                oa, ob = owned(a), owned(b)
                if check_split("after B joined", oa, ob, allp):
                    break
                if expired(end):
                    raise Fail("no split 20s after B joined: A=%s B=%s (events A=%s B=%s)"
                               % (sorted(oa), sorted(ob), events["A"], events["B"]))
            split = "A=%s B=%s" % (sorted(oa), sorted(ob))
            lost = [(who, ps) for who in ("A", "B") for (kind, ps) in events[who]
                    if kind == "lost" and ps]
            if lost:
                raise Fail("partitions lost (member fenced) during the rebalance: %s; events %s"
                           % (lost, events))
            a_events = events["A"][n_a_before:]
            if cooperative:
                # Incremental: A gave up only what moved to B, never all it had.
                revoked = [set(ps) for (kind, ps) in a_events if kind == "revoke" and ps]
                if any(r == allp for r in revoked) or not revoked:
                    raise Fail("not an incremental rebalance: A's callbacks while B joined: %s"
                               % a_events)
                how = "A revoked only %s and kept %s" % (
                    sorted(set().union(*revoked)), sorted(oa))
            else:
                how = "A's callbacks %s" % a_events
            self.ctx.stage("consumer B closes; waiting for A to own all 4")
            b.close()
            b = None
            end = until(20)
            while owned(a) != allp:
                if expired(end):
                    raise Fail("20s after B left A has %s, not all 4 (events %s)"
                               % (sorted(owned(a)), events["A"]))
                poll(a)
            return "%s split %s (%s); after B left A=[0, 1, 2, 3]" % (strategy, split, how)
        finally:
            if b is not None:
                b.close()
            a.close()

    def committed_offsets(self):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        group = self.ctx.name()
        self.create_topic(admin, topic, 1)
        self.ctx.stage("produce 20 records")
        p = self.ck.Producer(self.conf({"linger.ms": 5}))
        self.produce(p, [dict(topic=topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
                         for i in range(20)])

        def member():
            c = ck.Consumer(self.conf({
                "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
            c.subscribe([topic])
            return c

        self.ctx.stage("first consumer reads 10 and commits")
        c1 = member()
        try:
            got = []
            end = until(20)
            while len(got) < 10:
                if expired(end):
                    raise Fail("first consumer read %d records in 20s" % len(got))
                m = c1.poll(0.2)
                self.check_fatal()
                if m is None or m.error():
                    continue
                got.append(m)
            offs = [m.offset() for m in got]
            if offs != list(range(10)):
                raise Fail("first consumer read offsets %s, want 0..9" % offs)
            res = c1.commit(message=got[-1], asynchronous=False)
            if not res or res[0].error or res[0].offset != 10:
                raise Fail("commit answered %s" % res)
        finally:
            c1.close()
        self.ctx.stage("second consumer of the group starts")
        c2 = member()
        try:
            end = until(20)
            first = None
            while first is None:
                if expired(end):
                    raise Fail("second consumer got no record in 20s")
                m = c2.poll(0.2)
                self.check_fatal()
                if m is None or m.error():
                    continue
                first = m
            if first.offset() != 10:
                raise Fail("second consumer started at offset %d, want 10" % first.offset())
        finally:
            c2.close()
        self.ctx.stage("ListConsumerGroupOffsets")
        req = self.ck.ConsumerGroupTopicPartitions(group, [ck.TopicPartition(topic, 0)])
        fs = admin.list_consumer_group_offsets([req], request_timeout=10)
        r = self.result(fs[group], "ListConsumerGroupOffsets")
        offs = [(tp.partition, tp.offset, str(tp.error) if tp.error else None)
                for tp in r.topic_partitions]
        if offs != [(0, 10, None)]:
            raise Fail("admin reads back committed %s, want [(0, 10, None)]" % offs)
        return "read 0-9 and committed 10; new member started at 10; admin reads back 10"

    def idempotence(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        self.ctx.stage("idempotent producer sends 100")
        p = self.ck.Producer(self.conf({"enable.idempotence": True, "linger.ms": 5}))
        res = self.produce(p, [dict(topic=topic, key=b"k%d" % i, value=b"v%03d" % i, partition=0)
                               for i in range(N_RECORDS)])
        if [o for (_, o) in res] != list(range(N_RECORDS)):
            raise Fail("delivery offsets %s..., want 0..99" % [o for (_, o) in res][:10])
        self.ctx.stage("consume")
        msgs = self.read([(topic, 0)], N_RECORDS)
        vals = [m.value() for m in msgs]
        want = [b"v%03d" % i for i in range(N_RECORDS)]
        if vals != want:
            raise Fail("read %d records; first differences %s"
                       % (len(vals), first_diffs(vals, want)))
        return "100 records exactly once, in order, offsets 0-99"

    def admin_topics(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 2, {"retention.ms": "123456"})
        self.ctx.stage("delete topic")
        fs = admin.delete_topics([topic], operation_timeout=10, request_timeout=15)
        self.result(fs[topic], "DeleteTopics %s" % topic)
        self.ctx.stage("wait for the topic to be gone")
        end = until(10)
        while topic in admin.list_topics(timeout=5).topics:
            if expired(end):
                raise Fail("topic still listed 10s after delete")
            time.sleep(0.1)
        return "created (2 partitions, retention.ms=123456), listed, deleted, gone"

    def admin_partitions(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        self.ctx.stage("CreatePartitions to 3")
        fs = admin.create_partitions([self.cka.NewPartitions(topic, 3)],
                                     operation_timeout=10, request_timeout=15)
        self.result(fs[topic], "CreatePartitions %s" % topic)
        self.wait_topic(admin, topic, 3)
        return "grew from 1 to 3 partitions; metadata shows 3"

    def admin_describe_configs(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1, {"retention.ms": "123456"})
        self.ctx.stage("DescribeConfigs")
        res = self.cka.ConfigResource(self.cka.ResourceType.TOPIC, topic)
        fs = admin.describe_configs([res], request_timeout=10)
        entries = self.result(fs[res], "DescribeConfigs %s" % topic)
        got = {}
        for key in ("retention.ms", "cleanup.policy"):
            e = entries.get(key)
            got[key] = None if e is None else e.value
        if got != {"retention.ms": "123456", "cleanup.policy": "delete"}:
            raise Fail("DescribeConfigs answered %s (of %d entries)" % (got, len(entries)))
        cp = entries["cleanup.policy"]
        def source(e):
            try:
                return self.cka.ConfigSource(e.source).name
            except Exception:
                return str(e.source)

        return "retention.ms=123456 (%s), cleanup.policy=delete (%s, is_default=%s)" % (
            source(entries["retention.ms"]), source(cp), cp.is_default)

    def list_offsets_time(self):
        ck, cka = self.ck, self.cka
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        t0 = int(time.time() * 1000) - 60000
        self.ctx.stage("produce 3 records with timestamps")
        p = self.ck.Producer(self.conf({"linger.ms": 0}))
        offs = []
        for i in range(3):
            offs += self.produce(p, [dict(topic=topic, value=b"v%d" % i, partition=0,
                                          timestamp=t0 + 1000 * i)])
        if [o for (_, o) in offs] != [0, 1, 2]:
            raise Fail("records landed at offsets %s, want 0,1,2" % offs)
        tp = ck.TopicPartition(topic, 0)
        got = {}
        for label, spec in (("T+500", cka.OffsetSpec.for_timestamp(t0 + 500)),
                            ("T+5000", cka.OffsetSpec.for_timestamp(t0 + 5000)),
                            ("earliest", cka.OffsetSpec.earliest()),
                            ("latest", cka.OffsetSpec.latest())):
            self.ctx.stage("ListOffsets %s" % label)
            fs = admin.list_offsets({tp: spec}, request_timeout=10)
            got[label] = self.result(fs[tp], "ListOffsets %s" % label).offset
        want = {"T+500": 1, "T+5000": -1, "earliest": 0, "latest": 3}
        if got != want:
            raise Fail("ListOffsets answered %s, want %s" % (got, want))
        return "T+500 -> 1, T+5000 -> -1, earliest 0, latest 3"

    def transactions(self):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        p = ck.Producer(self.conf({"transactional.id": self.ctx.name(), "linger.ms": 5,
                                   "transaction.timeout.ms": 30000}))

        def step(what, fn):
            self.ctx.stage(what)
            try:
                fn()
            except ck.KafkaException as e:
                err = e.args[0] if e.args else e
                raise Fail("%s failed: %s" % (what, err))

        step("init_transactions", lambda: p.init_transactions(15))
        step("begin_transaction 1", p.begin_transaction)
        for i in range(10):
            p.produce(topic, key=b"c%d" % i, value=b"committed-%d" % i, partition=0)
        step("commit_transaction", lambda: p.commit_transaction(15))
        step("begin_transaction 2", p.begin_transaction)
        for i in range(10):
            p.produce(topic, key=b"a%d" % i, value=b"aborted-%d" % i, partition=0)
        self.ctx.stage("flush the records to abort")
        if p.flush(10):
            raise Fail("aborted batch not delivered before abort in 10s")
        step("abort_transaction", lambda: p.abort_transaction(15))
        self.check_fatal()
        self.ctx.stage("read_committed consumer")
        rc = [m.value() for m in self.read([(topic, 0)], 10,
                                           extra={"isolation.level": "read_committed"})]
        want = [b"committed-%d" % i for i in range(10)]
        if rc != want:
            raise Fail("read_committed saw %d records %s, want committed-0..9 only"
                       % (len(rc), [v.decode() for v in rc][:12]))
        self.ctx.stage("read_uncommitted consumer")
        ru = self.read([(topic, 0)], 20, extra={"isolation.level": "read_uncommitted"})
        return ("committed 10, aborted 10; read_committed saw the 10 committed only "
                "(read_uncommitted sees %d)" % len(ru))

    # -- transactions beyond the basic one -----------------------------------

    def txn_step(self, what, fn):
        self.ctx.stage(what)
        try:
            return fn()
        except self.ck.KafkaException as e:
            err = e.args[0] if e.args else e
            raise Fail("%s failed: %s" % (what, err))

    def txn_producer(self, txn_id, tag, to_be_fenced=False):
        extra = {"transactional.id": txn_id, "linger.ms": 0, "transaction.timeout.ms": 30000,
                 "client.id": "mc-%s-%s" % (self.ctx.cap, tag)}
        if to_be_fenced:
            # Its fatal error is expected: keep it out of ctx.fatal.
            extra["error_cb"] = lambda err: log("%s: %s: %s" % (self.ctx.cap, tag, err))
        p = self.ck.Producer(self.conf(extra))
        self.txn_step("init_transactions (%s)" % tag, lambda: p.init_transactions(15))
        return p

    def values(self, topic, want, isolation):
        msgs = self.read([(topic, 0)], want, extra={"isolation.level": isolation})
        return [(m.offset(), m.value().decode()) for m in msgs]

    def txn_abort_visibility(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        prods = {"P": self.ck.Producer(self.conf({"linger.ms": 0, "acks": "all"})),
                 "A": self.txn_producer(self.ctx.name(), "A"),
                 "B": self.txn_producer(self.ctx.name(), "B")}
        self.txn_step("begin A", prods["A"].begin_transaction)
        self.txn_step("begin B", prods["B"].begin_transaction)
        for who, v in INTERLEAVE:
            p = prods[who]
            if v == "commit":
                self.txn_step("commit A", lambda: p.commit_transaction(15))
            elif v == "abort":
                self.txn_step("abort B", lambda: p.abort_transaction(15))
            else:
                self.ctx.stage("%s produces %s" % (who, v))
                self.produce(p, [dict(topic=topic, value=v.encode(), partition=0)])
        self.check_fatal()
        self.ctx.stage("read_committed consumer")
        rc = self.values(topic, len(INTERLEAVE_COMMITTED), "read_committed")
        self.ctx.stage("read_uncommitted consumer")
        ru = self.values(topic, len(INTERLEAVE_ALL), "read_uncommitted")
        return check_interleave(rc, ru)

    def group_committed(self, consumer, topic):
        tp = self.ck.TopicPartition(topic, 0)
        r = self.txn_step("committed offset", lambda: consumer.committed([tp], timeout=10))
        return r[0].offset

    def txn_consume_transform_produce(self):
        ck = self.ck
        admin = self.admin()
        src, dst, group = self.ctx.name(), self.ctx.name(), self.ctx.name()
        self.create_topic(admin, src, 1)
        self.create_topic(admin, dst, 1)
        self.ctx.stage("produce 30 input records")
        self.produce(ck.Producer(self.conf({"linger.ms": 5})),
                     [dict(topic=src, value=b"in-%d" % i, partition=0) for i in range(30)])
        c = ck.Consumer(self.conf({"group.id": group, "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest",
                                   "isolation.level": "read_committed",
                                   "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
        try:
            c.subscribe([src])
            p = self.txn_producer(self.ctx.name(), "ctp")

            def consume(n):
                got, end = [], until(20)
                while len(got) < n:
                    if expired(end):
                        raise Fail("group consumer read %d of %d input records in 20s" % (len(got), n))
                    m = c.poll(0.2)
                    self.check_fatal()
                    if m is not None and not m.error():
                        got.append(m)
                return got

            for rnd, (n, end_off, finish) in enumerate(((20, 20, "commit"), (10, 30, "abort")), 1):
                self.ctx.stage("round %d: consume %d" % (rnd, n))
                got = consume(n)
                offs = [m.offset() for m in got]
                if offs != list(range(end_off - n, end_off)):
                    raise Fail("round %d: consumer read offsets %s" % (rnd, offs))
                self.txn_step("round %d: begin" % rnd, p.begin_transaction)
                for m in got:
                    p.produce(dst, value=b"OUT-" + m.value(), partition=0)
                self.txn_step("round %d: send_offsets_to_transaction" % rnd,
                              lambda: p.send_offsets_to_transaction(
                                  [ck.TopicPartition(src, 0, end_off)],
                                  c.consumer_group_metadata(), 15))
                if finish == "commit":
                    self.txn_step("round 1: commit", lambda: p.commit_transaction(15))
                else:
                    if p.flush(10):
                        raise Fail("round 2: records not delivered before abort in 10s")
                    self.txn_step("round 2: abort", lambda: p.abort_transaction(15))
                self.check_fatal()
                self.ctx.stage("round %d: read_committed output" % rnd)
                out = [v for (_, v) in self.values(dst, 20, "read_committed")]
                want = ["OUT-in-%d" % i for i in range(20)]
                if out != want:
                    raise Fail("round %d (%s): read_committed output has %d records %s, want OUT-in-0..19"
                               % (rnd, finish, len(out), out[:25]))
                self.ctx.stage("round %d: the group's committed offset" % rnd)
                end, off = until(10), None
                while off != 20:
                    off = self.group_committed(c, src)
                    if off != 20 and expired(end):
                        raise Fail("round %d (%s): the group's committed offset on the input is %s, want 20"
                                   % (rnd, finish, off))
                    time.sleep(0.1)
            self.ctx.stage("read_uncommitted output")
            ru = self.values(dst, 30, "read_uncommitted")
            if len(ru) != 30:
                raise Fail("read_uncommitted output has %d records, want 30 (20 committed, 10 aborted)" % len(ru))
        finally:
            c.close()
        return ("round 1 committed 20 transformed records with the group's offset 20; round 2 aborted "
                "10: read_committed output still 20, committed offset still 20")

    def txn_fencing(self):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        txn_id = self.ctx.name()
        self.create_topic(admin, topic, 1)
        p1 = self.txn_producer(txn_id, "p1", to_be_fenced=True)
        self.txn_step("p1 begin", p1.begin_transaction)
        self.ctx.stage("p1 produces 5")
        self.produce(p1, [dict(topic=topic, value=b"p1-%d" % i, partition=0) for i in range(5)])
        p2 = self.txn_producer(txn_id, "p2")
        self.ctx.stage("p1 produces after p2's init")
        fenced = None
        reports = []
        try:
            p1.produce(topic, value=b"p1-late", partition=0,
                       on_delivery=lambda err, msg: reports.append(err))
            p1.flush(10)
        except Exception as e:  # librdkafka raises the fatal error from flush
            fenced = "send: %s" % (e.__cause__ or e)
        if fenced is None and reports and reports[0] is not None:
            fenced = "send: %s" % reports[0]
        if fenced is not None and not is_fenced_name(fenced):
            raise Fail("p1's send failed, but not as fenced: %s" % fenced)
        # Once the send failed as fenced, the commit only has to fail;
        # otherwise it must fail as fenced.
        self.ctx.stage("p1 commits after p2's init")
        try:
            p1.commit_transaction(10)
            raise Fail("p1's commit succeeded after p2 took its transactional id (%s)" % fenced)
        except ck.KafkaException as e:
            err = e.args[0] if e.args else e
            if fenced is None and not is_fenced_name(err):
                raise Fail("p1's commit failed, but not as fenced: %s" % err)
            fenced = "%s; commit: %s" % (fenced, err) if fenced else "commit: %s" % err
        self.txn_step("p2 begin", p2.begin_transaction)
        self.ctx.stage("p2 produces 5")
        self.produce(p2, [dict(topic=topic, value=b"p2-%d" % i, partition=0) for i in range(5)])
        self.txn_step("p2 commit", lambda: p2.commit_transaction(15))
        self.ctx.stage("read_committed consumer")
        rc = [v for (_, v) in self.values(topic, 5, "read_committed")]
        want = ["p2-%d" % i for i in range(5)]
        if rc != want:
            raise Fail("read_committed saw %s, want %s only" % (rc, want))
        return "p1 fenced (%s); p2 committed; read_committed sees p2's 5 only" % short(fenced, 150)


# ----------------------------------------------------------------------------
# kafka-python
# ----------------------------------------------------------------------------

class KafkaPython:
    def __init__(self, ctx):
        import kafka
        self.kafka = kafka
        self.ctx = ctx
        self._admin = None

    def admin(self):
        if self._admin is None:
            from kafka.admin import KafkaAdminClient
            self.ctx.stage("connect admin client")
            self._admin = KafkaAdminClient(bootstrap_servers=self.ctx.bootstrap,
                                           client_id="mc-%s" % self.ctx.cap,
                                           request_timeout_ms=10000)
        return self._admin

    def topic_state(self, name):
        for t in self.admin().describe_topics([name]):
            if t.get("name") == name:
                return t
        return None

    def wait_topic(self, name, parts, secs=10):
        self.ctx.stage("wait for %s with %d partitions in metadata" % (name, parts))
        end = until(secs)
        last = "absent"
        while True:
            t = self.topic_state(name)
            if t is not None:
                if t.get("error_code"):
                    last = "error_code %s" % t["error_code"]
                else:
                    leaders = [p.get("leader_id", -1) for p in t.get("partitions", [])]
                    if len(leaders) == parts and all(l >= 0 for l in leaders):
                        return t
                    last = "%d partitions, leaders %s" % (len(leaders), leaders)
            if expired(end):
                raise Fail("topic %s not in metadata with %d partitions after %ds (%s)"
                           % (name, parts, secs, last))
            time.sleep(0.1)

    def create_topic(self, name, parts, config=None):
        self.ctx.stage("create topic %s (%d partitions)" % (name, parts))
        spec = {"num_partitions": parts, "replication_factor": 1}
        if config:
            spec["configs"] = dict(config)
        try:
            self.admin().create_topics({name: spec}, timeout_ms=10000)
        except self.kafka.errors.KafkaError as e:
            raise Fail("CreateTopics %s failed: %r" % (name, e))
        return self.wait_topic(name, parts)

    def producer(self, **kw):
        from kafka import KafkaProducer
        conf = dict(bootstrap_servers=self.ctx.bootstrap, client_id="mc-%s" % self.ctx.cap,
                    max_block_ms=15000, request_timeout_ms=10000)
        conf.update(kw)
        return KafkaProducer(**conf)

    def produce(self, p, items, secs=15):
        """items: dicts of send() keyword arguments. Returns [(partition, offset)]."""
        futs = [p.send(**it) for it in items]
        try:
            p.flush(timeout=secs)
        except self.kafka.errors.KafkaTimeoutError:
            left = sum(1 for f in futs if not f.is_done)
            raise Fail("%d of %d records still undelivered after %ds" % (left, len(items), secs))
        out = []
        for f in futs:
            try:
                md = f.get(timeout=1)
            except self.kafka.errors.KafkaError as e:
                raise Fail("delivery failed: %r" % e)
            out.append((md.partition, md.offset))
        return out

    def read(self, tps, want, secs=15, **kw):
        """Assign [(topic, partition)] from the beginning, no group; read until
        the position of every partition reaches its end offset (the LSO for
        read_committed) and at least `want` records came."""
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=self.ctx.bootstrap, group_id=None,
                          client_id="mc-%s-reader" % self.ctx.cap,
                          enable_auto_commit=False, auto_offset_reset="earliest",
                          request_timeout_ms=10000, **kw)
        try:
            parts = [TopicPartition(t, p) for (t, p) in tps]
            c.assign(parts)
            c.seek_to_beginning(*parts)
            ends = c.end_offsets(parts, timeout_ms=10000)
            recs = []
            end = until(secs)
            while True:
                batch = c.poll(timeout_ms=200)
                for tp in parts:
                    recs.extend(batch.get(tp, []))
                if len(recs) >= want and all(c.position(tp, timeout_ms=5000) >= ends[tp]
                                             for tp in parts):
                    return recs
                if expired(end):
                    raise Fail("read %d of %d records in %ds (positions %s, end offsets %s)"
                               % (len(recs), want, secs,
                                  [c.position(tp, timeout_ms=1000) for tp in parts],
                                  [ends[tp] for tp in parts]))
        finally:
            c.close(autocommit=False, timeout_ms=5000)

    # -- capabilities ---------------------------------------------------------

    def metadata(self):
        topic = self.ctx.name()
        self.create_topic(topic, 3)
        self.ctx.stage("describe cluster")
        cl = self.admin().describe_cluster()
        brokers = ["%s:%d" % (b["host"], b["port"]) for b in cl["brokers"]]
        if len(brokers) != 1:
            raise Fail("cluster lists %d brokers: %s" % (len(brokers), brokers))
        if brokers[0] != self.ctx.bootstrap:
            raise Fail("broker is %s, bootstrap is %s" % (brokers[0], self.ctx.bootstrap))
        self.ctx.stage("describe topic")
        t = self.topic_state(topic)
        n = len(t["partitions"]) if t else 0
        if n != 3:
            raise Fail("topic shows %d partitions, want 3" % n)
        return "1 broker %s (id %s, controller %s); topic has 3 partitions" % (
            brokers[0], cl["brokers"][0].get("broker_id"), cl.get("controller_id"))

    def produce_consume(self, codec):
        topic = self.ctx.name()
        self.create_topic(topic, 3)
        self.ctx.stage("produce %d records (%s)" % (N_RECORDS, codec))
        # Idempotence (kafka-python 3's default) off: this capability tests
        # the codec; `idempotence` tests that.
        p = self.producer(compression_type=None if codec == "none" else codec,
                          linger_ms=20, acks="all", enable_idempotence=False)
        try:
            items = []
            for i in range(N_RECORDS):
                k, v, h = record_kv(i, codec)
                items.append(dict(topic=topic, key=k, value=v, headers=[h], partition=i % 3))
            self.produce(p, items)
        finally:
            p.close(timeout=5)
        self.ctx.stage("consume from earliest")
        recs = self.read([(topic, q) for q in range(3)], N_RECORDS)
        consumed = [(r.partition, r.offset, r.key, r.value, r.headers) for r in recs]
        return check_records(codec, 3, consumed)

    def group(self, strategy, cooperative):
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
        assignor = CooperativeStickyAssignor if cooperative else RangePartitionAssignor
        topic = self.ctx.name()
        group = self.ctx.name()
        self.create_topic(topic, 4)
        allp = set(range(4))
        events = {"A": [], "B": []}
        # kafka-python keeps revoked partitions in assignment() until the
        # rebalance completes (the revoke callback is a notification); a
        # member owns them only until its revoke callback.
        revoked_since_assign = {"A": set(), "B": set()}

        class Listener(ConsumerRebalanceListener):
            def __init__(self, label):
                self.label = label

            def on_partitions_revoked(self, revoked):
                ps = sorted(tp.partition for tp in revoked)
                revoked_since_assign[self.label].update(ps)
                events[self.label].append(("revoke", ps))

            def on_partitions_assigned(self, assigned):
                revoked_since_assign[self.label].clear()
                events[self.label].append(("assign", sorted(tp.partition for tp in assigned)))

            def on_partitions_lost(self, lost):
                ps = sorted(tp.partition for tp in lost)
                revoked_since_assign[self.label].update(ps)
                events[self.label].append(("lost", ps))

        def consumer(label):
            c = KafkaConsumer(bootstrap_servers=self.ctx.bootstrap, group_id=group,
                              client_id="mc-%s-%s" % (self.ctx.cap, label),
                              partition_assignment_strategy=[assignor],
                              session_timeout_ms=6000, heartbeat_interval_ms=500,
                              enable_auto_commit=False, auto_offset_reset="earliest",
                              request_timeout_ms=10000)
            c.subscribe([topic], listener=Listener(label))
            c.label = label
            return c

        def owned(c):
            return set(tp.partition for tp in c.assignment()) - revoked_since_assign[c.label]

        def poll(c):
            c.poll(timeout_ms=300)

        self.ctx.stage("consumer A joins alone")
        a = consumer("A")
        b = None
        try:
            end = until(15)
            while owned(a) != allp:
                if expired(end):
                    raise Fail("A alone did not get all 4 partitions in 15s (has %s; events %s)"
                               % (sorted(owned(a)), events["A"]))
                poll(a)
            n_a_before = len(events["A"])
            self.ctx.stage("consumer B joins; waiting for the split")
            b = consumer("B")
            end = until(20)
            while True:
                poll(a)
                poll(b)
                oa, ob = owned(a), owned(b)
                if check_split("after B joined", oa, ob, allp):
                    break
                if expired(end):
                    raise Fail("no split 20s after B joined: A=%s B=%s (events A=%s B=%s)"
                               % (sorted(oa), sorted(ob), events["A"], events["B"]))
            split = "A=%s B=%s" % (sorted(oa), sorted(ob))
            lost = [(who, ps) for who in ("A", "B") for (kind, ps) in events[who]
                    if kind == "lost" and ps]
            if lost:
                raise Fail("partitions lost (member fenced) during the rebalance: %s; events %s"
                           % (lost, events))
            a_events = events["A"][n_a_before:]
            if cooperative:
                revoked = [set(ps) for (kind, ps) in a_events if kind == "revoke" and ps]
                if any(r == allp for r in revoked) or not revoked:
                    raise Fail("not an incremental rebalance: A's callbacks while B joined: %s"
                               % a_events)
                how = "A revoked only %s and kept %s" % (
                    sorted(set().union(*revoked)), sorted(oa))
            else:
                how = "A's callbacks %s" % a_events
            self.ctx.stage("consumer B closes; waiting for A to own all 4")
            b.close(autocommit=False, timeout_ms=5000)
            b = None
            end = until(20)
            while owned(a) != allp:
                if expired(end):
                    raise Fail("20s after B left A has %s, not all 4 (events %s)"
                               % (sorted(owned(a)), events["A"]))
                poll(a)
            return "%s split %s (%s); after B left A=[0, 1, 2, 3]" % (
                assignor.name, split, how)
        finally:
            if b is not None:
                b.close(autocommit=False, timeout_ms=5000)
            a.close(autocommit=False, timeout_ms=5000)

    def committed_offsets(self):
        from kafka import KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata
        topic = self.ctx.name()
        group = self.ctx.name()
        self.create_topic(topic, 1)
        tp = TopicPartition(topic, 0)
        self.ctx.stage("produce 20 records")
        p = self.producer(linger_ms=5)
        try:
            self.produce(p, [dict(topic=topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
                             for i in range(20)])
        finally:
            p.close(timeout=5)

        def member():
            c = KafkaConsumer(bootstrap_servers=self.ctx.bootstrap, group_id=group,
                              client_id="mc-%s" % self.ctx.cap,
                              enable_auto_commit=False, auto_offset_reset="earliest",
                              session_timeout_ms=6000, heartbeat_interval_ms=500,
                              request_timeout_ms=10000)
            c.subscribe([topic])
            return c

        self.ctx.stage("first consumer reads 10 and commits")
        c1 = member()
        try:
            got = []
            end = until(20)
            while len(got) < 10:
                if expired(end):
                    raise Fail("first consumer read %d records in 20s" % len(got))
                got.extend(c1.poll(timeout_ms=200, max_records=1).get(tp, []))
            offs = [r.offset for r in got]
            if offs != list(range(10)):
                raise Fail("first consumer read offsets %s, want 0..9" % offs)
            try:
                c1.commit({tp: OffsetAndMetadata(10, "", -1)}, timeout_ms=10000)
            except self.kafka.errors.KafkaError as e:
                raise Fail("commit failed: %r" % e)
        finally:
            c1.close(autocommit=False, timeout_ms=5000)
        self.ctx.stage("second consumer of the group starts")
        c2 = member()
        try:
            end = until(20)
            recs = []
            while not recs:
                if expired(end):
                    raise Fail("second consumer got no record in 20s")
                recs = c2.poll(timeout_ms=200, max_records=1).get(tp, [])
            if recs[0].offset != 10:
                raise Fail("second consumer started at offset %d, want 10" % recs[0].offset)
            via_consumer = c2.committed(tp, timeout_ms=10000)
        finally:
            c2.close(autocommit=False, timeout_ms=5000)
        self.ctx.stage("admin list_group_offsets")
        try:
            r = self.admin().list_group_offsets({group: [tp]})
        except self.kafka.errors.KafkaError as e:
            raise Fail("OffsetFetch (admin) failed: %r" % e)
        om = r.get(group, {}).get(tp)
        if om is None or om.offset != 10:
            raise Fail("admin reads back committed %s, want 10" % (r,))
        if via_consumer != 10:
            raise Fail("consumer.committed() answers %r, want 10" % (via_consumer,))
        return ("read 0-9 and committed 10; new member started at 10; "
                "admin and consumer.committed() read back 10")

    def idempotence(self):
        topic = self.ctx.name()
        self.create_topic(topic, 1)
        self.ctx.stage("idempotent producer sends 100")
        p = self.producer(enable_idempotence=True, acks="all", linger_ms=5)
        try:
            if p.config.get("enable_idempotence") is not True:
                raise Fail("kafka-python turned idempotence off (see its log)")
            res = self.produce(p, [dict(topic=topic, key=b"k%d" % i, value=b"v%03d" % i,
                                        partition=0) for i in range(N_RECORDS)])
            pid = p._transaction_manager.producer_id_and_epoch
        finally:
            p.close(timeout=5)
        if [o for (_, o) in res] != list(range(N_RECORDS)):
            raise Fail("delivery offsets %s..., want 0..99" % [o for (_, o) in res][:10])
        if pid.producer_id < 0:
            raise Fail("no producer id after producing (%s)" % (pid,))
        self.ctx.stage("consume")
        recs = self.read([(topic, 0)], N_RECORDS)
        vals = [r.value for r in recs]
        want = [b"v%03d" % i for i in range(N_RECORDS)]
        if vals != want:
            raise Fail("read %d records; first differences %s"
                       % (len(vals), first_diffs(vals, want)))
        return "100 records exactly once, in order, offsets 0-99 (producer id %d epoch %d)" % (
            pid.producer_id, pid.epoch)

    def admin_topics(self):
        topic = self.ctx.name()
        self.create_topic(topic, 2, {"retention.ms": "123456"})
        self.ctx.stage("list topics")
        if topic not in self.admin().list_topics():
            raise Fail("created topic is not in list_topics()")
        self.ctx.stage("delete topic")
        try:
            self.admin().delete_topics([topic], timeout_ms=10000)
        except self.kafka.errors.KafkaError as e:
            raise Fail("DeleteTopics failed: %r" % e)
        self.ctx.stage("wait for the topic to be gone")
        end = until(10)
        while topic in self.admin().list_topics():
            if expired(end):
                raise Fail("topic still listed 10s after delete")
            time.sleep(0.1)
        return "created (2 partitions, retention.ms=123456), listed, deleted, gone"

    def admin_partitions(self):
        topic = self.ctx.name()
        self.create_topic(topic, 1)
        self.ctx.stage("CreatePartitions to 3")
        try:
            self.admin().create_partitions({topic: 3}, timeout_ms=10000)
        except self.kafka.errors.KafkaError as e:
            raise Fail("CreatePartitions failed: %r" % e)
        self.wait_topic(topic, 3)
        return "grew from 1 to 3 partitions; metadata shows 3"

    def admin_describe_configs(self):
        from kafka.admin import ConfigResource, ConfigResourceType
        topic = self.ctx.name()
        self.create_topic(topic, 1, {"retention.ms": "123456"})
        self.ctx.stage("DescribeConfigs")
        try:
            r = self.admin().describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
        except self.kafka.errors.KafkaError as e:
            raise Fail("DescribeConfigs failed: %r" % e)
        entries = r.get("topic", {}).get(topic, {})

        def val(key):
            e = entries.get(key)
            return e.get("value") if isinstance(e, dict) else e

        got = {k: val(k) for k in ("retention.ms", "cleanup.policy")}
        if got != {"retention.ms": "123456", "cleanup.policy": "delete"}:
            raise Fail("DescribeConfigs answered %s (of %d entries)" % (got, len(entries)))

        def source(key):
            e = entries.get(key)
            return e.get("config_source") if isinstance(e, dict) else "?"

        return "retention.ms=123456 (%s), cleanup.policy=delete (%s)" % (
            source("retention.ms"), source("cleanup.policy"))

    def list_offsets_time(self):
        from kafka import KafkaConsumer, TopicPartition
        topic = self.ctx.name()
        self.create_topic(topic, 1)
        t0 = int(time.time() * 1000) - 60000
        self.ctx.stage("produce 3 records with timestamps")
        p = self.producer(linger_ms=0)
        try:
            offs = []
            for i in range(3):
                offs += self.produce(p, [dict(topic=topic, value=b"v%d" % i, partition=0,
                                              timestamp_ms=t0 + 1000 * i)])
        finally:
            p.close(timeout=5)
        if [o for (_, o) in offs] != [0, 1, 2]:
            raise Fail("records landed at offsets %s, want 0,1,2" % offs)
        tp = TopicPartition(topic, 0)
        c = KafkaConsumer(bootstrap_servers=self.ctx.bootstrap, group_id=None,
                          client_id="mc-%s" % self.ctx.cap, request_timeout_ms=10000)
        try:
            got = {}
            for label, ts in (("T+500", t0 + 500), ("T+5000", t0 + 5000)):
                self.ctx.stage("offsets_for_times %s" % label)
                r = c.offsets_for_times({tp: ts}, timeout_ms=10000).get(tp)
                got[label] = None if r is None else r.offset
            self.ctx.stage("beginning_offsets / end_offsets")
            got["earliest"] = c.beginning_offsets([tp], timeout_ms=10000)[tp]
            got["latest"] = c.end_offsets([tp], timeout_ms=10000)[tp]
        finally:
            c.close(autocommit=False, timeout_ms=5000)
        want = {"T+500": 1, "T+5000": None, "earliest": 0, "latest": 3}
        if got != want:
            raise Fail("offsets_for_times/beginning/end answered %s, want %s" % (got, want))
        return "T+500 -> 1, T+5000 -> None, earliest 0, latest 3"

    def transactions(self):
        topic = self.ctx.name()
        self.create_topic(topic, 1)
        p = self.producer(transactional_id=self.ctx.name(), linger_ms=5,
                          transaction_timeout_ms=30000)

        def step(what, fn):
            self.ctx.stage(what)
            try:
                fn()
            except self.kafka.errors.KafkaError as e:
                raise Fail("%s failed: %r" % (what, e))

        try:
            step("init_transactions", p.init_transactions)
            step("begin_transaction 1", p.begin_transaction)
            for i in range(10):
                p.send(topic, key=b"c%d" % i, value=b"committed-%d" % i, partition=0)
            step("commit_transaction", p.commit_transaction)
            step("begin_transaction 2", p.begin_transaction)
            for i in range(10):
                p.send(topic, key=b"a%d" % i, value=b"aborted-%d" % i, partition=0)
            step("flush the records to abort", lambda: p.flush(timeout=10))
            step("abort_transaction", p.abort_transaction)
        finally:
            p.close(timeout=5)
        self.ctx.stage("read_committed consumer")
        rc = [r.value for r in self.read([(topic, 0)], 10, isolation_level="read_committed")]
        want = [b"committed-%d" % i for i in range(10)]
        if rc != want:
            raise Fail("read_committed saw %d records %s, want committed-0..9 only"
                       % (len(rc), [v.decode() for v in rc][:12]))
        self.ctx.stage("read_uncommitted consumer")
        ru = self.read([(topic, 0)], 20, isolation_level="read_uncommitted")
        return ("committed 10, aborted 10; read_committed saw the 10 committed only "
                "(read_uncommitted sees %d)" % len(ru))

    # -- transactions beyond the basic one -----------------------------------

    def txn_step(self, what, fn):
        self.ctx.stage(what)
        try:
            return fn()
        except self.kafka.errors.KafkaError as e:
            raise Fail("%s failed: %r" % (what, e))

    def txn_producer(self, txn_id, tag):
        p = self.producer(transactional_id=txn_id, linger_ms=0, transaction_timeout_ms=30000,
                          client_id="mc-%s-%s" % (self.ctx.cap, tag))
        self.txn_step("init_transactions (%s)" % tag, p.init_transactions)
        return p

    def values(self, topic, want, isolation):
        return [(r.offset, r.value.decode())
                for r in self.read([(topic, 0)], want, isolation_level=isolation)]

    def txn_abort_visibility(self):
        topic = self.ctx.name()
        self.create_topic(topic, 1)
        prods = {}
        try:
            prods["P"] = self.producer(linger_ms=0, acks="all")
            prods["A"] = self.txn_producer(self.ctx.name(), "A")
            prods["B"] = self.txn_producer(self.ctx.name(), "B")
            self.txn_step("begin A", prods["A"].begin_transaction)
            self.txn_step("begin B", prods["B"].begin_transaction)
            for who, v in INTERLEAVE:
                p = prods[who]
                if v == "commit":
                    self.txn_step("commit A", p.commit_transaction)
                elif v == "abort":
                    self.txn_step("abort B", p.abort_transaction)
                else:
                    self.ctx.stage("%s produces %s" % (who, v))
                    self.produce(p, [dict(topic=topic, value=v.encode(), partition=0)])
        finally:
            for p in prods.values():
                p.close(timeout=5)
        self.ctx.stage("read_committed consumer")
        rc = self.values(topic, len(INTERLEAVE_COMMITTED), "read_committed")
        self.ctx.stage("read_uncommitted consumer")
        ru = self.values(topic, len(INTERLEAVE_ALL), "read_uncommitted")
        return check_interleave(rc, ru)

    def txn_consume_transform_produce(self):
        from kafka import KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata
        src, dst, group = self.ctx.name(), self.ctx.name(), self.ctx.name()
        self.create_topic(src, 1)
        self.create_topic(dst, 1)
        self.ctx.stage("produce 30 input records")
        pp = self.producer(linger_ms=5)
        try:
            self.produce(pp, [dict(topic=src, value=b"in-%d" % i, partition=0) for i in range(30)])
        finally:
            pp.close(timeout=5)
        tp = TopicPartition(src, 0)
        c = KafkaConsumer(src, bootstrap_servers=self.ctx.bootstrap, group_id=group,
                          client_id="mc-%s-group" % self.ctx.cap, enable_auto_commit=False,
                          auto_offset_reset="earliest", isolation_level="read_committed",
                          session_timeout_ms=6000, heartbeat_interval_ms=500,
                          request_timeout_ms=10000, max_poll_records=10)
        p = None
        try:
            p = self.txn_producer(self.ctx.name(), "ctp")
            pending = []

            def consume(n):
                got, end = [], until(20)
                while len(got) < n:
                    if pending:
                        got.append(pending.pop(0))
                        continue
                    if expired(end):
                        raise Fail("group consumer read %d of %d input records in 20s" % (len(got), n))
                    for recs in c.poll(timeout_ms=200, max_records=n - len(got)).values():
                        pending.extend(recs)
                return got

            for rnd, (n, end_off, finish) in enumerate(((20, 20, "commit"), (10, 30, "abort")), 1):
                self.ctx.stage("round %d: consume %d" % (rnd, n))
                got = consume(n)
                offs = [r.offset for r in got]
                if offs != list(range(end_off - n, end_off)):
                    raise Fail("round %d: consumer read offsets %s" % (rnd, offs))
                self.txn_step("round %d: begin" % rnd, p.begin_transaction)
                for r in got:
                    p.send(dst, value=b"OUT-" + r.value, partition=0)
                self.txn_step("round %d: send_offsets_to_transaction" % rnd,
                              lambda: p.send_offsets_to_transaction(
                                  {tp: OffsetAndMetadata(end_off, "", -1)}, c.group_metadata()))
                if finish == "commit":
                    self.txn_step("round 1: commit", p.commit_transaction)
                else:
                    self.txn_step("round 2: flush", lambda: p.flush(timeout=10))
                    self.txn_step("round 2: abort", p.abort_transaction)
                self.ctx.stage("round %d: read_committed output" % rnd)
                out = [v for (_, v) in self.values(dst, 20, "read_committed")]
                want = ["OUT-in-%d" % i for i in range(20)]
                if out != want:
                    raise Fail("round %d (%s): read_committed output has %d records %s, want OUT-in-0..19"
                               % (rnd, finish, len(out), out[:25]))
                self.ctx.stage("round %d: the group's committed offset" % rnd)
                end, off = until(10), None
                while off != 20:
                    off = self.txn_step("committed offset", lambda: c.committed(tp, timeout_ms=10000))
                    if off != 20 and expired(end):
                        raise Fail("round %d (%s): the group's committed offset on the input is %s, want 20"
                                   % (rnd, finish, off))
                    time.sleep(0.1)
            self.ctx.stage("read_uncommitted output")
            ru = self.values(dst, 30, "read_uncommitted")
            if len(ru) != 30:
                raise Fail("read_uncommitted output has %d records, want 30 (20 committed, 10 aborted)" % len(ru))
        finally:
            if p is not None:
                p.close(timeout=5)
            c.close(autocommit=False, timeout_ms=5000)
        return ("round 1 committed 20 transformed records with the group's offset 20; round 2 aborted "
                "10: read_committed output still 20, committed offset still 20")

    def txn_fencing(self):
        errors = self.kafka.errors
        topic = self.ctx.name()
        txn_id = self.ctx.name()
        self.create_topic(topic, 1)
        p1 = p2 = None
        try:
            p1 = self.txn_producer(txn_id, "p1")
            self.txn_step("p1 begin", p1.begin_transaction)
            self.ctx.stage("p1 produces 5")
            self.produce(p1, [dict(topic=topic, value=b"p1-%d" % i, partition=0) for i in range(5)])
            p2 = self.txn_producer(txn_id, "p2")
            self.ctx.stage("p1 produces after p2's init")
            fenced = None
            try:
                p1.send(topic, value=b"p1-late", partition=0).get(timeout=10)
            except errors.KafkaError as e:
                fenced = "send: %r" % e
            if fenced is not None and not is_fenced_name(fenced):
                raise Fail("p1's send failed, but not as fenced: %s" % fenced)
            # Once the send failed as fenced, the commit only has to fail;
            # otherwise it must fail as fenced.
            self.ctx.stage("p1 commits after p2's init")
            try:
                p1.commit_transaction()
                raise Fail("p1's commit succeeded after p2 took its transactional id (%s)" % fenced)
            except errors.KafkaError as e:
                if fenced is None and not is_fenced_name(repr(e)):
                    raise Fail("p1's commit failed, but not as fenced: %r" % e)
                fenced = "%s; commit: %r" % (fenced, e) if fenced else "commit: %r" % e
            self.txn_step("p2 begin", p2.begin_transaction)
            self.ctx.stage("p2 produces 5")
            self.produce(p2, [dict(topic=topic, value=b"p2-%d" % i, partition=0) for i in range(5)])
            self.txn_step("p2 commit", p2.commit_transaction)
        finally:
            for p in (p1, p2):
                if p is not None:
                    try:
                        p.close(timeout=5)
                    except Exception as e:
                        log("%s: close: %r" % (self.ctx.cap, e))
        self.ctx.stage("read_committed consumer")
        rc = [v for (_, v) in self.values(topic, 5, "read_committed")]
        want = ["p2-%d" % i for i in range(5)]
        if rc != want:
            raise Fail("read_committed saw %s, want %s only" % (rc, want))
        return "p1 fenced (%s); p2 committed; read_committed sees p2's 5 only" % short(fenced, 150)


# ----------------------------------------------------------------------------
# librdkafka speaking as to Kafka 0.9.0
# ----------------------------------------------------------------------------

class ConfluentFallback(ConfluentKafka):
    """confluent-kafka with api.version.request=false and
    broker.version.fallback=0.9.0 for every client of a check. Topics are
    created (setup, not the check) by an AdminClient that negotiates as
    usual: librdkafka has no CreateTopics for a 0.9.0 broker."""

    # log_level 3: not the deprecation warnings of both keys on every client
    FALLBACK = {"api.version.request": False, "broker.version.fallback": "0.9.0", "log_level": 3}

    def conf(self, extra=None):
        c = super().conf(extra)
        c.update(self.FALLBACK)
        return c

    def admin(self):
        return self.cka.AdminClient(ConfluentKafka.conf(self))

    def metadata(self):
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 3)
        self.ctx.stage("metadata request (v0)")
        p = self.ck.Producer(self.conf())
        md = p.list_topics(timeout=10)
        brokers = ["%s:%d" % (b.host, b.port) for b in md.brokers.values()]
        if len(brokers) != 1:
            raise Fail("metadata lists %d brokers: %s" % (len(brokers), brokers))
        if brokers[0] != self.ctx.bootstrap:
            raise Fail("broker is %s, bootstrap is %s" % (brokers[0], self.ctx.bootstrap))
        t = md.topics.get(topic)
        if t is None or len(t.partitions) != 3:
            raise Fail("topic shows %s partitions, want 3" % (None if t is None else len(t.partitions)))
        return "1 broker %s (id %d); topic has 3 partitions" % (brokers[0], list(md.brokers)[0])

    def produce_consume(self, codec):
        if codec == "zstd":
            raise Skip("librdkafka sends zstd only to brokers of 2.1.0 or newer (Produce v7, "
                       "record batches); at broker.version.fallback=0.9.0 it writes message format v0")
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 3)
        self.ctx.stage("produce %d records (%s, message format v0)" % (N_RECORDS, codec))
        p = self.ck.Producer(self.conf({"compression.type": codec, "linger.ms": 20, "acks": "all"}))
        items = []
        for i in range(N_RECORDS):
            k, v, _ = record_kv(i, codec)
            items.append(dict(topic=topic, key=k, value=v, partition=i % 3))
        self.produce(p, items)
        self.ctx.stage("consume from earliest")
        msgs = self.read([(topic, q) for q in range(3)], N_RECORDS)
        consumed = [(m.partition(), m.offset(), m.key(), m.value(), m.headers()) for m in msgs]
        return check_records(codec, 3, consumed, headers=False)

    def committed_offsets(self):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        group = self.ctx.name()
        self.create_topic(admin, topic, 1)
        self.ctx.stage("produce 20 records")
        p = self.ck.Producer(self.conf({"linger.ms": 5}))
        self.produce(p, [dict(topic=topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
                         for i in range(20)])

        def member():
            c = ck.Consumer(self.conf({
                "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
            c.subscribe([topic])
            return c

        def first_n(c, n, what):
            got, end = [], until(20)
            while len(got) < n:
                if expired(end):
                    raise Fail("%s read %d records in 20s (client errors %s)"
                               % (what, len(got), self.ctx.errors[:3]))
                m = c.poll(0.2)
                self.check_fatal()
                if m is None or m.error():
                    continue
                got.append(m)
            return got

        self.ctx.stage("first consumer reads 10 and commits")
        c1 = member()
        try:
            got = first_n(c1, 10, "first consumer")
            offs = [m.offset() for m in got]
            if offs != list(range(10)):
                raise Fail("first consumer read offsets %s, want 0..9" % offs)
            res = c1.commit(message=got[-1], asynchronous=False)
            if not res or res[0].error or res[0].offset != 10:
                raise Fail("commit answered %s" % res)
        finally:
            c1.close()
        self.ctx.stage("second consumer of the group starts")
        c2 = member()
        try:
            first = first_n(c2, 1, "second consumer")[0]
            if first.offset() != 10:
                raise Fail("second consumer started at offset %d, want 10" % first.offset())
            self.ctx.stage("committed() (OffsetFetch v1)")
            back = c2.committed([ck.TopicPartition(topic, 0)], timeout=10)
        finally:
            c2.close()
        offs = [(tp.partition, tp.offset, str(tp.error) if tp.error else None) for tp in back]
        if offs != [(0, 10, None)]:
            raise Fail("the consumer reads back committed %s, want [(0, 10, None)]" % offs)
        return "read 0-9 and committed 10; new member started at 10; committed() reads back 10"

    def list_offsets_time(self):
        ck = self.ck
        admin = self.admin()
        topic = self.ctx.name()
        self.create_topic(admin, topic, 1)
        t0 = int(time.time() * 1000) - 60000
        self.ctx.stage("produce 3 records")
        p = self.ck.Producer(self.conf({"linger.ms": 0}))
        for i in range(3):
            self.produce(p, [dict(topic=topic, value=b"v%d" % i, partition=0, timestamp=t0 + 1000 * i)])
        # At 0.9.0 librdkafka sends ListOffsets v0 for a time too: its answer
        # is the base offsets of the segments last modified at or before
        # that time (v0 has no timestamp index; format v0 no timestamps).
        # The check is then what v0 defines, as Kafka 3.9 answers it.
        c = ck.Consumer(self.conf({"group.id": self.ctx.name(), "enable.auto.commit": False}))
        try:
            got = {}
            for label, ts in (("a minute ago", t0 + 500),
                              ("an hour ahead", int(time.time() * 1000) + 3600000)):
                self.ctx.stage("offsets_for_times %s (ListOffsets v0)" % label)
                r = c.offsets_for_times([ck.TopicPartition(topic, 0, ts)], timeout=10)[0]
                if r.error is not None:
                    raise Fail("offsets_for_times %s: %s" % (label, r.error))
                got[label] = r.offset
            self.ctx.stage("watermarks (ListOffsets v0, earliest and latest)")
            got["earliest"], got["latest"] = c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)
        finally:
            c.close()
        want = {"a minute ago": -1, "an hour ahead": 3, "earliest": 0, "latest": 3}
        if got != want:
            raise Fail("ListOffsets v0 answered %s, want %s (v0: the log end for a time after the "
                       "last write, none for one before the only segment's last modification)" % (got, want))
        return ("ListOffsets v0 (no timestamp index at this version): earliest 0, latest 3, "
                "a minute ago none (-1), an hour ahead 3 (the log end)")

    def _lacks(self, why):
        raise Skip(why)

    def idempotence(self):
        self._lacks("librdkafka's idempotent producer needs a broker of 0.11.0 or newer "
                    "(InitProducerId, record batches); broker.version.fallback=0.9.0 has neither")

    def admin_topics(self):
        self._lacks("librdkafka's CreateTopics/DeleteTopics need a broker of 0.10.1/0.10.2 or newer; "
                    "not at broker.version.fallback=0.9.0")

    def admin_partitions(self):
        self._lacks("librdkafka's CreatePartitions needs a broker of 1.0.0 or newer; "
                    "not at broker.version.fallback=0.9.0")

    def admin_describe_configs(self):
        self._lacks("librdkafka's DescribeConfigs needs a broker of 0.11.0 or newer; "
                    "not at broker.version.fallback=0.9.0")

    def transactions(self):
        self._lacks("librdkafka's transactional producer needs a broker of 0.11.0 or newer; "
                    "not at broker.version.fallback=0.9.0")

    txn_abort_visibility = txn_consume_transform_produce = txn_fencing = transactions


IMPLS = {"confluent-kafka": ConfluentKafka, "kafka-python": KafkaPython,
         "librdkafka-0.9-fallback": ConfluentFallback}


def dispatch(impl, cap):
    if cap.startswith("produce-consume-"):
        return impl.produce_consume(cap[len("produce-consume-"):])
    if cap == "group-eager":
        return impl.group("range", False)
    if cap == "group-cooperative":
        return impl.group("cooperative-sticky", True)
    return getattr(impl, cap.replace("-", "_"))()


# ----------------------------------------------------------------------------
# running one capability in a child process
# ----------------------------------------------------------------------------

def child(client, cap, bootstrap, wfd):
    ctx = Ctx(client, cap, bootstrap, wfd)
    try:
        impl = IMPLS[client](ctx)
        detail = dispatch(impl, cap)
        status = "pass"
    except Fail as e:
        status, detail = "fail", str(e)
    except Skip as e:
        status, detail = "skip", str(e)
    except Exception as e:  # a client exception we did not map: still a failure
        status, detail = "fail", "%s: %s" % (type(e).__name__, e)
        log("%s: %s" % (cap, traceback.format_exc(limit=4).strip()))
    ctx._send({"status": status, "detail": short(detail, 600)})


def die_with_parent(ppid):
    """SIGKILL this child when the driver dies (e.g. killed by the harness),
    so a hung capability never outlives the run."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != ppid:
        os._exit(1)


def run_capability(client, cap, bootstrap):
    deadline = DEADLINES[cap]
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    ppid = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            die_with_parent(ppid)
            child(client, cap, bootstrap, w)
        except BaseException:
            code = 1
        finally:
            # Skip interpreter teardown: client threads and atexit hooks of
            # this child must not hold the run up.
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(w)
    end = until(deadline)
    buf = b""
    stage = "starting"
    result = None
    eof = False
    while result is None and not eof:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            continue
        data = os.read(r, 65536)
        if not data:
            eof = True
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "stage" in msg:
                stage = msg["stage"]
            elif "status" in msg:
                result = (msg["status"], msg["detail"])
    os.close(r)
    if result is None and not eof:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "fail", "timed out after %ds (during: %s)" % (deadline, stage)
    _, wstatus = os.waitpid(pid, 0)
    if result is None:
        if os.WIFSIGNALED(wstatus):
            how = "killed by signal %d" % os.WTERMSIG(wstatus)
        else:
            how = "exit code %d" % os.WEXITSTATUS(wstatus)
        return "fail", "driver child died (%s) during: %s" % (how, stage)
    return result


def check_versions(client):
    """Import the client, print what is used, die unless it is the pinned one."""
    if client in ("confluent-kafka", "librdkafka-0.9-fallback"):
        import confluent_kafka
        # version() is a (str, int) tuple in older releases, a str in 2.16.
        ver, lib = confluent_kafka.version(), confluent_kafka.libversion()
        ver = ver[0] if isinstance(ver, tuple) else ver
        lib = lib[0] if isinstance(lib, tuple) else lib
        log("confluent-kafka %s (librdkafka %s) from %s; python %s at %s"
            % (ver, lib, os.path.dirname(confluent_kafka.__file__),
               sys.version.split()[0], sys.executable))
        ok = ver == PINNED[client]
    else:
        import kafka
        from kafka import codec
        ver = kafka.__version__
        codecs = {n: bool(getattr(codec, "has_" + n)()) for n in ("gzip", "snappy", "lz4", "zstd")}
        log("kafka-python %s from %s; codecs %s; python %s at %s"
            % (ver, os.path.dirname(kafka.__file__), codecs,
               sys.version.split()[0], sys.executable))
        ok = ver == PINNED[client]
        if not all(codecs.values()):
            log("FATAL: kafka-python is missing codec modules: %s (install requirements.txt)"
                % [n for n, v in codecs.items() if not v])
            return False
    if not ok:
        log("FATAL: %s %s is not the pinned %s: run this driver with the virtualenv's "
            "python (pip install -r tests/clients/python/requirements.txt)"
            % (client, ver, PINNED[client]))
    return ok


def main():
    global CLIENT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True, help="HOST:PORT")
    ap.add_argument("--client", required=True, choices=sorted(PINNED))
    ap.add_argument("--only", help="CAP[,CAP...]")
    args = ap.parse_args()
    CLIENT = args.client

    caps = CAPABILITIES
    if args.only:
        caps = [c.strip() for c in args.only.split(",") if c.strip()]
        unknown = [c for c in caps if c not in CAPABILITIES]
        if unknown:
            log("unknown capabilities %s (known: %s)" % (unknown, ", ".join(CAPABILITIES)))
            return 2
    try:
        if not check_versions(args.client):
            return 2
    except ImportError as e:
        log("FATAL: cannot import %s: %s" % (args.client, e))
        return 2

    host, _, port = args.bootstrap.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        log("FATAL: no broker at %s: %s" % (args.bootstrap, e))
        return 2

    t_all = time.monotonic()
    for cap in caps:
        t0 = time.monotonic()
        status, detail = run_capability(args.client, cap, args.bootstrap)
        print(json.dumps({"client": args.client, "capability": cap,
                          "status": status, "detail": detail}), flush=True)
        log("%s: %s in %.1fs" % (cap, status, time.monotonic() - t0))
    log("done in %.1fs" % (time.monotonic() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
