"""Static membership (KIP-345, group.instance.id) in the classic protocol,
offset metadata as committed, and authorized operations, with raw requests
(groupwire.py), against Gregor and Kafka 4.4 alike (GREGOR_TEST_TARGET=kafka
is where every expected value comes from):

- a static member that restarts (a JoinGroup with its instance id and no
  member id, no LeaveGroup before) gets a new member id, the current
  generation and its previous assignment from SyncGroup; the group stays
  Stable and the other members are not rebalanced. Its old member id is
  FENCED_INSTANCE_ID for Heartbeat, SyncGroup, OffsetCommit, LeaveGroup and
  JoinGroup (UNKNOWN_MEMBER_ID without the instance id). A restarted leader
  is told the old leader id (v5), or that it leads and may skip the
  assignment (v9);
- LeaveGroup v3 by instance id removes the member and rebalances; an
  unknown instance id is UNKNOWN_MEMBER_ID for that member alone;
- a static member that does not come back is removed when its session
  times out, and the group rebalances without it;
- OffsetCommit outside any generation (generation -1, member "") and
  OffsetFetch v1-v9 right after: the same offset and the same metadata
  bytes (leading spaces and a NUL included; null metadata reads as "");
  after a restart too (Gregor only: the data directory is Gregor's);
- authorized operations without an authorizer: Metadata v8-v13 topics
  (3576), Metadata v8-v10 cluster (8096), DescribeGroups v4 (3400);
  -2147483648 when not asked for.
"""

import time

import groupwire as gw
from broker import BrokerTestCase, wait_until
from kwire import Conn
from test_groups import create_topic, wait_group_coordinator

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
FENCED_INSTANCE_ID = 82

NOT_REQUESTED = -2**31
TOPIC_OPERATIONS = 3576     # READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
CLUSTER_OPERATIONS = 8096   # CREATE ALTER DESCRIBE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE
GROUP_OPERATIONS = 3400     # READ DELETE DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS

SESSION_MS = 6000  # group.min.session.timeout.ms, Kafka's default
TOPIC = "static-t"


def roundtrip(c, req, decode):
    c.send(req)
    return decode(c.recv_frame())


class StaticMembershipTest(BrokerTestCase):
    BROKER_ARGS = dict(overrides={"group.initial.rebalance.delay.ms": "0"})

    @classmethod
    def after_start(cls):
        create_topic(cls.broker.bootstrap, TOPIC, 4)

    def setUp(self):
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()

    def conn(self):
        c = Conn(self.broker.host, self.broker.port, timeout=30)
        self.conns.append(c)
        return c

    def join(self, c, group, member_id, instance, metadata, version=5, session_ms=10000):
        return roundtrip(c, gw.join_group(group, member_id, instance, session_ms=session_ms, metadata=metadata,
                                          version=version), lambda p: gw.decode_join_group(p, version))

    def describe(self, group, include=False):
        with Conn(self.broker.host, self.broker.port) as c:
            (g,) = roundtrip(c, gw.describe_groups([group], include), gw.decode_describe_groups)
        g["members"] = sorted((m["group_instance_id"], m["member_id"], m["metadata"], m["assignment"])
                              for m in g["members"])
        return g

    def stable_two(self, group, version=5, session_ms=10000):
        """Static members a (i-a, the leader) and b (i-b) in generation 2,
        Stable, with assignments A2 and B2. Returns (conn a, id a, conn b, id b)."""
        wait_group_coordinator(self.broker.host, self.broker.port, group)
        a, b = self.conn(), self.conn()
        ra = self.join(a, group, "", "i-a", b"sub-a", version, session_ms)
        self.assertEqual((ra["error_code"], ra["generation_id"]), (NONE, 1))
        aid = ra["member_id"]
        self.assertTrue(aid.startswith("i-a-"), aid)
        self.assertEqual(ra["leader"], aid)
        self.assertEqual(ra["members"], [(aid, "i-a", b"sub-a")])
        self.assertEqual(roundtrip(a, gw.sync_group(group, 1, aid, "i-a", [(aid, b"A1")]), gw.decode_sync_group),
                         (NONE, b"A1"))
        b.send(gw.join_group(group, "", "i-b", session_ms=session_ms, metadata=b"sub-b", version=version))
        wait_until(lambda: self.describe(group)["state"] == "PreparingRebalance", 10, "b's join to start a rebalance")
        self.assertEqual(roundtrip(a, gw.heartbeat(group, 1, aid, "i-a"), gw.decode_error), REBALANCE_IN_PROGRESS)
        ra = self.join(a, group, aid, "i-a", b"sub-a", version, session_ms)
        rb = gw.decode_join_group(b.recv_frame(), version)
        bid = rb["member_id"]
        self.assertTrue(bid.startswith("i-b-"), bid)
        self.assertEqual((ra["error_code"], ra["generation_id"], ra["leader"]), (NONE, 2, aid))
        self.assertEqual(sorted(ra["members"]), [(aid, "i-a", b"sub-a"), (bid, "i-b", b"sub-b")])
        self.assertEqual((rb["error_code"], rb["generation_id"], rb["leader"], rb["members"]), (NONE, 2, aid, []))
        a.send(gw.sync_group(group, 2, aid, "i-a", [(aid, b"A2"), (bid, b"B2")]))
        self.assertEqual(roundtrip(b, gw.sync_group(group, 2, bid, "i-b"), gw.decode_sync_group), (NONE, b"B2"))
        self.assertEqual(gw.decode_sync_group(a.recv_frame()), (NONE, b"A2"))
        g = self.describe(group)
        self.assertEqual(g["state"], "Stable")
        self.assertEqual(g["members"], [("i-a", aid, b"sub-a", b"A2"), ("i-b", bid, b"sub-b", b"B2")])
        return a, aid, b, bid

    # ---- a restarted static member ------------------------------------------------------

    def test_restarted_member_gets_its_assignment_back(self):
        group = "static-restart"
        a, aid, b, bid = self.stable_two(group)
        # b's process restarts: no LeaveGroup; it rejoins with its instance
        # id (and a subscription that changed: no rebalance either).
        b.close()
        b2 = self.conn()
        r = self.join(b2, group, "", "i-b", b"sub-b-new")
        bid2 = r["member_id"]
        self.assertTrue(bid2.startswith("i-b-") and bid2 != bid, bid2)
        self.assertEqual((r["error_code"], r["generation_id"], r["protocol_name"], r["leader"], r["members"]),
                         (NONE, 2, "range", aid, []))
        self.assertEqual(roundtrip(a, gw.heartbeat(group, 2, aid, "i-a"), gw.decode_error), NONE)
        self.assertEqual(roundtrip(b2, gw.sync_group(group, 2, bid2, "i-b"), gw.decode_sync_group), (NONE, b"B2"))
        g = self.describe(group)
        self.assertEqual(g["state"], "Stable")
        self.assertEqual(g["members"], [("i-a", aid, b"sub-a", b"A2"), ("i-b", bid2, b"sub-b-new", b"B2")])

        # The old member id is fenced.
        x = self.conn()
        self.assertEqual(roundtrip(x, gw.heartbeat(group, 2, bid, "i-b"), gw.decode_error), FENCED_INSTANCE_ID)
        self.assertEqual(roundtrip(x, gw.heartbeat(group, 2, bid, None), gw.decode_error), UNKNOWN_MEMBER_ID)
        self.assertEqual(roundtrip(x, gw.sync_group(group, 2, bid, "i-b"), gw.decode_sync_group),
                         (FENCED_INSTANCE_ID, b""))
        commit = [(TOPIC, [(0, 5, "m")])]
        self.assertEqual(roundtrip(x, gw.offset_commit(group, 2, bid, "i-b", commit), gw.decode_offset_commit),
                         {(TOPIC, 0): FENCED_INSTANCE_ID})
        self.assertEqual(roundtrip(x, gw.offset_commit(group, 2, bid, None, commit), gw.decode_offset_commit),
                         {(TOPIC, 0): UNKNOWN_MEMBER_ID})
        self.assertEqual(roundtrip(x, gw.offset_commit(group, 7, bid2, "i-b", commit), gw.decode_offset_commit),
                         {(TOPIC, 0): ILLEGAL_GENERATION})
        self.assertEqual(roundtrip(x, gw.offset_commit(group, 2, bid2, "i-b", commit), gw.decode_offset_commit),
                         {(TOPIC, 0): NONE})
        r = self.join(x, group, bid, "i-b", b"sub-b")
        self.assertEqual((r["error_code"], r["generation_id"], r["leader"], r["member_id"]),
                         (FENCED_INSTANCE_ID, -1, "", bid))
        self.assertEqual(roundtrip(x, gw.leave_group(group, [(bid, "i-b")]), gw.decode_leave_group),
                         (NONE, [(bid, "i-b", FENCED_INSTANCE_ID)]))
        self.assertEqual(self.describe(group)["state"], "Stable")

        # The leader restarts: v5 is told the old leader id and gets its
        # assignment back; nobody rebalances.
        a.close()
        a2 = self.conn()
        r = self.join(a2, group, "", "i-a", b"sub-a")
        aid2 = r["member_id"]
        self.assertNotEqual(aid2, aid)
        self.assertEqual((r["error_code"], r["generation_id"], r["leader"], r["members"]), (NONE, 2, aid, []))
        self.assertEqual(roundtrip(a2, gw.sync_group(group, 2, aid2, "i-a"), gw.decode_sync_group), (NONE, b"A2"))
        self.assertEqual(roundtrip(b2, gw.heartbeat(group, 2, bid2, "i-b"), gw.decode_error), NONE)
        self.assertEqual(self.describe(group)["state"], "Stable")

    def test_restarted_leader_v9_skips_assignment(self):
        group = "static-v9"
        a, aid, b, bid = self.stable_two(group, version=9)
        a.close()
        a2 = self.conn()
        r = self.join(a2, group, "", "i-a", b"sub-a", version=9)
        aid2 = r["member_id"]
        self.assertEqual((r["error_code"], r["generation_id"], r["protocol_type"], r["leader"], r["skip_assignment"]),
                         (NONE, 2, "consumer", aid2, True))
        self.assertEqual(sorted(r["members"]), [(aid2, "i-a", b"sub-a"), (bid, "i-b", b"sub-b")])
        self.assertEqual(roundtrip(a2, gw.sync_group(group, 2, aid2, "i-a"), gw.decode_sync_group), (NONE, b"A2"))
        self.assertEqual(roundtrip(b, gw.heartbeat(group, 2, bid, "i-b"), gw.decode_error), NONE)
        # a follower restarting with v9 is not the leader: no members, no skip
        b.close()
        b2 = self.conn()
        r = self.join(b2, group, "", "i-b", b"sub-b", version=9)
        self.assertEqual((r["error_code"], r["generation_id"], r["leader"], r["skip_assignment"], r["members"]),
                         (NONE, 2, aid2, False, []))
        self.assertEqual(roundtrip(b2, gw.sync_group(group, 2, r["member_id"], "i-b"), gw.decode_sync_group),
                         (NONE, b"B2"))

    # ---- LeaveGroup by instance id ------------------------------------------------------

    def test_leave_by_instance_id(self):
        group = "static-leave"
        a, aid, b, bid = self.stable_two(group)
        x = self.conn()
        self.assertEqual(roundtrip(x, gw.leave_group(group, [("", "i-x"), ("", "i-b")]), gw.decode_leave_group),
                         (NONE, [("", "i-x", UNKNOWN_MEMBER_ID), ("", "i-b", NONE)]))
        self.assertEqual(roundtrip(a, gw.heartbeat(group, 2, aid, "i-a"), gw.decode_error), REBALANCE_IN_PROGRESS)
        self.assertEqual(roundtrip(b, gw.heartbeat(group, 2, bid, "i-b"), gw.decode_error), UNKNOWN_MEMBER_ID)
        g = self.describe(group)
        self.assertEqual(g["state"], "PreparingRebalance")
        self.assertEqual(g["members"], [("i-a", aid, b"", b"A2")])  # Kafka shows the last assignment
        r = self.join(a, group, aid, "i-a", b"sub-a")
        self.assertEqual((r["error_code"], r["generation_id"], r["leader"], r["members"]),
                         (NONE, 3, aid, [(aid, "i-a", b"sub-a")]))

    # ---- a static member that does not come back ----------------------------------------

    def test_session_timeout_removes_static_member(self):
        group = "static-expire"
        a, aid, b, bid = self.stable_two(group, session_ms=SESSION_MS)
        b.close()  # and never comes back
        start = time.monotonic()

        def rebalancing():
            err = roundtrip(a, gw.heartbeat(group, 2, aid, "i-a"), gw.decode_error)
            self.assertIn(err, (NONE, REBALANCE_IN_PROGRESS))
            return err == REBALANCE_IN_PROGRESS
        wait_until(rebalancing, SESSION_MS / 1000 + 10, "b's session to expire", interval=0.5)
        # not before b's session (started by its SyncGroup) ran out
        self.assertGreater(time.monotonic() - start, SESSION_MS / 1000 - 1.5)
        r = self.join(a, group, aid, "i-a", b"sub-a", session_ms=SESSION_MS)
        self.assertEqual((r["error_code"], r["generation_id"], r["leader"], r["members"]),
                         (NONE, 3, aid, [(aid, "i-a", b"sub-a")]))
        g = self.describe(group)
        self.assertEqual(g["state"], "CompletingRebalance")
        self.assertEqual(g["members"], [("i-a", aid, b"", b"A2")])
        self.assertEqual(roundtrip(a, gw.sync_group(group, 3, aid, "i-a", [(aid, b"A3")]), gw.decode_sync_group),
                         (NONE, b"A3"))
        # b comes back too late: a new member, and a rebalance
        b2 = self.conn()
        b2.send(gw.join_group(group, "", "i-b", session_ms=SESSION_MS, metadata=b"sub-b"))
        wait_until(lambda: self.describe(group)["state"] == "PreparingRebalance", 10, "b's join to rebalance")
        self.assertEqual(roundtrip(a, gw.heartbeat(group, 3, aid, "i-a"), gw.decode_error), REBALANCE_IN_PROGRESS)

    # ---- offset metadata ------------------------------------------------------------------

    def test_simple_consumer_metadata_round_trip(self):
        group = "simple-md"
        wait_group_coordinator(self.broker.host, self.broker.port, group)
        c, d = self.conn(), self.conn()
        commits = [(TOPIC, [(0, 42, "  hello "), (1, 7, None), (2, 9, "a\x00b "), (3, 3, "")])]
        self.assertEqual(roundtrip(c, gw.offset_commit(group, -1, "", None, commits), gw.decode_offset_commit),
                         {(TOPIC, p): NONE for p in range(4)})
        want = {(TOPIC, 0): (42, -1, b"  hello ", NONE), (TOPIC, 1): (7, -1, b"", NONE),
                (TOPIC, 2): (9, -1, b"a\x00b ", NONE), (TOPIC, 3): (3, -1, b"", NONE)}
        for v in range(1, 8):
            with self.subTest(version=v):
                got = roundtrip(d, gw.offset_fetch(group, [(TOPIC, [0, 1, 2, 3])], v),
                                lambda p: gw.decode_offset_fetch(p, v))
                self.assertEqual(got, (NONE, want))
                if v >= 2:
                    got = roundtrip(d, gw.offset_fetch(group, None, v), lambda p: gw.decode_offset_fetch(p, v))
                    self.assertEqual(got, (NONE, want))
        for v in (8, 9):
            with self.subTest(version=v):
                got = roundtrip(d, gw.offset_fetch_groups([(group, [(TOPIC, [0, 1, 2, 3])]), (group, None)], v),
                                gw.decode_offset_fetch_groups)
                self.assertEqual(got, {group: (NONE, want)})

    # ---- authorized operations ------------------------------------------------------------

    def test_metadata_authorized_operations(self):
        with Conn(self.broker.host, self.broker.port) as c:
            for v in range(8, 14):
                for include in (False, True):
                    with self.subTest(version=v, include=include):
                        r = c.metadata(v, topics=[TOPIC, "no-such-static-topic"],
                                       include_topic_authorized_operations=include,
                                       include_cluster_authorized_operations=include)
                        ops = TOPIC_OPERATIONS if include else NOT_REQUESTED
                        self.assertEqual(sorted((t["name"], t["error_code"], t["topic_authorized_operations"])
                                                for t in r["topics"]),
                                         [("no-such-static-topic", UNKNOWN_TOPIC_OR_PARTITION, ops),
                                          (TOPIC, NONE, ops)])
                        if v <= 10:
                            self.assertEqual(r["cluster_authorized_operations"],
                                             CLUSTER_OPERATIONS if include else NOT_REQUESTED)
            # one without the other (v8-v10 ask for them apart)
            r = c.metadata(8, topics=[TOPIC], include_cluster_authorized_operations=True)
            self.assertEqual(([t["topic_authorized_operations"] for t in r["topics"]],
                              r["cluster_authorized_operations"]), ([NOT_REQUESTED], CLUSTER_OPERATIONS))
            r = c.metadata(10, topics=None, include_topic_authorized_operations=True)
            self.assertEqual({t["name"]: t["topic_authorized_operations"] for t in r["topics"]}[TOPIC],
                             TOPIC_OPERATIONS)
            self.assertEqual(r["cluster_authorized_operations"], NOT_REQUESTED)

    def test_describe_groups_authorized_operations(self):
        group = "static-ops"
        wait_group_coordinator(self.broker.host, self.broker.port, group)
        with Conn(self.broker.host, self.broker.port) as c:
            self.assertEqual(roundtrip(c, gw.offset_commit(group, -1, "", None, [(TOPIC, [(0, 1, "")])]),
                                       gw.decode_offset_commit), {(TOPIC, 0): NONE})
            for include in (False, True):
                got = roundtrip(c, gw.describe_groups([group, "no-such-static-group"], include),
                                gw.decode_describe_groups)
                ops = GROUP_OPERATIONS if include else NOT_REQUESTED
                self.assertEqual([(g["group_id"], g["error_code"], g["state"], g["authorized_operations"])
                                  for g in got],
                                 [(group, NONE, "Empty", ops), ("no-such-static-group", NONE, "Dead", ops)])


class OffsetMetadataRestartTest(BrokerTestCase):
    """The metadata bytes after a restart: the __consumer_offsets record and
    its replay. On Kafka the same steps run on a broker restarted as well."""

    BROKER_ARGS = dict(overrides={"group.initial.rebalance.delay.ms": "0"})

    def test_metadata_survives_restart(self):
        group = "simple-md-restart"
        host, port = self.broker.host, self.broker.port
        create_topic(self.broker.bootstrap, "md-restart", 2)
        wait_group_coordinator(host, port, group)
        with Conn(host, port) as c:
            self.assertEqual(roundtrip(c, gw.offset_commit(group, -1, "", None,
                                                           [("md-restart", [(0, 11, "  hello "), (1, 12, "x\x00 ")])]),
                                       gw.decode_offset_commit), {("md-restart", 0): NONE, ("md-restart", 1): NONE})
        self.broker.stop()
        self.broker.start()
        host, port = self.broker.host, self.broker.port
        wait_group_coordinator(host, port, group)
        with Conn(host, port) as c:
            got = roundtrip(c, gw.offset_fetch(group, None, 5), gw.decode_offset_fetch)
        self.assertEqual(got, (NONE, {("md-restart", 0): (11, -1, b"  hello ", NONE),
                                      ("md-restart", 1): (12, -1, b"x\x00 ", NONE)}))
