#!/usr/bin/python3
"""How long a rebalance of two members takes, with
group.initial.rebalance.delay.ms=0. Not a timed test: it prints figures.

    GREGOR_BIN=build/broker/gregor /usr/bin/python3 tests/bench/rebalance.py [rounds]

1. The coordinator alone, on raw sockets: member A is Stable; B sends
   JoinGroup, A rejoins (as its heartbeat's REBALANCE_IN_PROGRESS tells it),
   both get their JoinGroup answer, the leader and the follower send
   SyncGroup, both get their assignment. Timed from B's JoinGroup to the
   last SyncGroup answer, over `rounds` rebalances of fresh groups.
2. The same with two librdkafka consumers (confluent_kafka): from the second
   consumer's subscribe() until both hold two of the four partitions. This
   includes the clients' own timers (the first member learns of the
   rebalance from a heartbeat, every heartbeat.interval.ms=100 here).
"""

import os
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kwire  # noqa: E402
from broker import Broker  # noqa: E402
from kwire import Conn  # noqa: E402


def header(api, version, cid):
    return struct.pack(">hhi", api, version, cid) + kwire.string("bench")


def join_v2(group, member_id):
    """JoinGroup v2 (non-flexible, no MEMBER_ID_REQUIRED round trip)."""
    body = (kwire.string(group) + struct.pack(">ii", 10000, 10000) + kwire.string(member_id)
            + kwire.string("consumer") + struct.pack(">i", 1) + kwire.string("range") + struct.pack(">i", 4) + b"meta")
    return kwire.frame(header(11, 2, 1) + body)


def read_join_v2(conn):
    r = kwire.Reader(conn.recv_frame())
    r.int32()
    r.int32()
    err = r.int16()
    gen = r.int32()
    r.string(False)
    leader = r.string(False)
    member = r.string(False)
    n = r.int32()
    for _ in range(n):
        r.string(False)
        r.take(r.int32())
    assert err == 0, "JoinGroup error %d" % err
    return gen, leader, member


def heartbeat_v1(group, gen, member_id):
    return kwire.frame(header(12, 1, 3) + kwire.string(group) + struct.pack(">i", gen) + kwire.string(member_id))


def read_heartbeat_v1(conn):
    r = kwire.Reader(conn.recv_frame())
    r.int32()
    r.int32()
    return r.int16()


def sync_v1(group, gen, member_id, assignments):
    def a(x):
        return kwire.string(x[0]) + struct.pack(">i", len(x[1])) + x[1]
    body = kwire.string(group) + struct.pack(">i", gen) + kwire.string(member_id) + kwire.array(assignments, a, False)
    return kwire.frame(header(14, 1, 2) + body)


def read_sync_v1(conn):
    r = kwire.Reader(conn.recv_frame())
    r.int32()
    r.int32()
    err = r.int16()
    r.take(r.int32())
    assert err == 0, "SyncGroup error %d" % err


def raw_round(host, port, group):
    with Conn(host, port) as a, Conn(host, port) as b:
        a.send(join_v2(group, ""))
        gen, _, ida = read_join_v2(a)
        a.send(sync_v1(group, gen, ida, [(ida, b"all")]))
        read_sync_v1(a)
        t0 = time.perf_counter()
        b.send(join_v2(group, ""))
        # A learns of the rebalance from its heartbeat, as a client does
        # (B's JoinGroup travels on another connection: it may arrive after
        # the first heartbeat)
        while True:
            a.send(heartbeat_v1(group, gen, ida))
            if read_heartbeat_v1(a) == 27:  # REBALANCE_IN_PROGRESS
                break
        a.send(join_v2(group, ida))
        gen, leader, ida2 = read_join_v2(a)
        gen_b, _, idb = read_join_v2(b)
        assert leader == ida and gen == gen_b == 2
        b.send(sync_v1(group, gen, idb, []))
        a.send(sync_v1(group, gen, ida, [(ida, b"half-a"), (idb, b"half-b")]))
        read_sync_v1(a)
        read_sync_v1(b)
        return time.perf_counter() - t0


def client_round(bootstrap, topic, group):
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 100, "enable.auto.commit": False}
    c1, c2 = Consumer(conf), Consumer(conf)
    try:
        c1.subscribe([topic])
        end = time.monotonic() + 30
        while len(c1.assignment()) != 4:
            c1.poll(0.01)
            assert time.monotonic() < end, "first consumer not assigned"
        t0 = time.perf_counter()
        c2.subscribe([topic])
        while not (len(c1.assignment()) == 2 and len(c2.assignment()) == 2):
            c1.poll(0.001)
            c2.poll(0.001)
            assert time.monotonic() < end + 30, "no split"
        return time.perf_counter() - t0
    finally:
        c1.close()
        c2.close()


def report(name, times):
    times = sorted(times)
    p = times[min(len(times) - 1, int(len(times) * 0.99))]
    print("%-44s median %8.3f ms  p99 %8.3f ms  max %8.3f ms  (%d rounds)"
          % (name, statistics.median(times) * 1e3, p * 1e3, times[-1] * 1e3, len(times)))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with Broker(overrides={"group.initial.rebalance.delay.ms": "0"}) as broker:
        raw = [raw_round(broker.host, broker.port, "bench-raw-%d" % i) for i in range(rounds)]
        report("coordinator, 2 members (raw sockets)", raw)
        try:
            from confluent_kafka.admin import AdminClient, NewTopic
        except ImportError:
            print("confluent_kafka not installed: client figure skipped")
            return 0
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for _, f in admin.create_topics([NewTopic("bench-rebalance", 4, 1)]).items():
            f.result(10)
        clients = [client_round(broker.bootstrap, "bench-rebalance", "bench-ck-%d" % i)
                   for i in range(max(3, rounds // 20))]
        report("librdkafka, 2nd consumer joins until split", clients)
    return 0


if __name__ == "__main__":
    sys.exit(main())
