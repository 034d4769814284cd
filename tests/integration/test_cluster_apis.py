"""DescribeCluster (API key 60, v0-v2), OffsetForLeaderEpoch (API key 23,
v0-v4), ElectLeaders (43, v0-v2), AlterPartitionReassignments (45, v0-v1)
and ListPartitionReassignments (46, v0) over raw sockets, with the answers
a single-node Kafka 4.4 gave (v0-v1 of OffsetForLeaderEpoch, which Kafka 4
removed: Kafka 3.9.1's).

The fixture: topic "ofle" with two partitions, three records in partition
0 (one batch), partition 1 empty; topic "ofle-empty" with one empty
partition. Every partition of a single-node Kafka is at leader epoch 0,
which starts at offset 0.
"""

import struct
import time
import unittest

import kwire
from broker import BrokerTestCase, old_versions
from test_describe_topic_partitions import create_topics
from test_list_offsets import decode_produce_v3_response, produce_v3_request, record_batch

NODE_ID = 4

API_OFFSET_FOR_LEADER_EPOCH = 23
API_ELECT_LEADERS = 43
API_ALTER_PARTITION_REASSIGNMENTS = 45
API_LIST_PARTITION_REASSIGNMENTS = 46
API_DESCRIBE_CLUSTER = 60

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_REQUEST = 42
ELECTION_NOT_NEEDED = 84
NO_REASSIGNMENT_IN_PROGRESS = 85
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
MISMATCHED_ENDPOINT_TYPE = 114
UNSUPPORTED_ENDPOINT_TYPE = 115

# Every operation on the cluster (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
# DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE), as Kafka answers
# without an authorizer.
ALL_CLUSTER_OPERATIONS = 8096
DEFAULT_OPERATIONS = -2**31

TOPICS = {"ofle": 2, "ofle-empty": 1, "ofle-grow": 1}
RECORDS = 3  # in ofle-0


# ---- DescribeCluster on the wire, from the protocol documentation ----------

def describe_cluster_request(version, correlation_id, include_ops, endpoint_type=1, include_fenced=False):
    body = struct.pack(">?", include_ops)
    if version >= 1:
        body += struct.pack(">b", endpoint_type)
    if version >= 2:
        body += struct.pack(">?", include_fenced)
    body += kwire.uvarint(0)
    header = struct.pack(">hhi", API_DESCRIBE_CLUSTER, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + kwire.uvarint(0) + body)


def decode_describe_cluster_response(version, payload):
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()
    resp["error_code"] = r.int16()
    resp["error_message"] = r.string(True)
    if version >= 1:
        resp["endpoint_type"] = r.int8()
    resp["cluster_id"] = r.string(True)
    resp["controller_id"] = r.int32()

    def broker():
        b = (r.int32(), r.string(True), r.int32(), r.string(True))
        if version >= 2:
            b += (r.bool(),)
        r.tagged_fields()
        return b

    resp["brokers"] = r.array(True, broker)
    resp["cluster_authorized_operations"] = r.int32()
    r.tagged_fields()
    r.done()
    return resp


# ---- OffsetForLeaderEpoch on the wire --------------------------------------

def offset_for_leader_epoch_request(version, correlation_id, topics, replica_id=-1):
    """topics: [(name, [(partition, current_leader_epoch, leader_epoch)])]."""
    flex = version >= 4
    tagged = kwire.uvarint(0) if flex else b""

    def partition(p):
        index, current, epoch = p
        out = struct.pack(">i", index)
        if version >= 2:
            out += struct.pack(">i", current)
        return out + struct.pack(">i", epoch) + tagged

    def topic(t):
        name = kwire.compact_string(t[0]) if flex else kwire.string(t[0])
        return name + kwire.array(t[1], partition, flex) + tagged

    body = struct.pack(">i", replica_id) if version >= 3 else b""
    body += kwire.array(topics, topic, flex) + tagged
    header = struct.pack(">hhi", API_OFFSET_FOR_LEADER_EPOCH, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + tagged + body)


def decode_offset_for_leader_epoch_response(version, payload):
    """{"correlation_id", "topics": [(name, [(error, partition, leader epoch, end offset)])]};
    v0 has no leader epoch: None there."""
    flex = version >= 4
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    if version >= 2:
        resp["throttle_time_ms"] = r.int32()

    def partition():
        error, index = r.int16(), r.int32()
        epoch = r.int32() if version >= 1 else None
        out = (error, index, epoch, r.int64())
        if flex:
            r.tagged_fields()
        return out

    resp["topics"] = r.topics(flex, partition)
    if flex:
        r.tagged_fields()
    r.done()
    return resp


# ---- ElectLeaders and the reassignment APIs on the wire --------------------

def int32_array(values, flex):
    return kwire.array(values, lambda v: struct.pack(">i", v), flex)


def elect_leaders_request(version, correlation_id, topics, election_type=0, timeout_ms=5000):
    """topics: None (every partition) or [(name, [partition])]."""
    flex = version >= 2
    tagged = kwire.uvarint(0) if flex else b""

    def topic(t):
        name = kwire.compact_string(t[0]) if flex else kwire.string(t[0])
        return name + int32_array(t[1], flex) + tagged

    body = struct.pack(">b", election_type) if version >= 1 else b""
    body += kwire.array(topics, topic, flex) + struct.pack(">i", timeout_ms) + tagged
    header = struct.pack(">hhi", API_ELECT_LEADERS, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + tagged + body)


def decode_elect_leaders_response(version, payload):
    """{"correlation_id", "error_code" (None before v1), "results": [(topic, [(partition, error, message)])]}"""
    flex = version >= 2
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()
    resp["error_code"] = r.int16() if version >= 1 else None

    def partition():
        out = (r.int32(), r.int16(), r.string(flex))
        if flex:
            r.tagged_fields()
        return out

    resp["results"] = r.topics(flex, partition)
    if flex:
        r.tagged_fields()
    r.done()
    return resp


def alter_partition_reassignments_request(version, correlation_id, topics, allow_rf_change=True, timeout_ms=5000):
    """topics: [(name, [(partition, replicas or None)])]."""
    def partition(p):
        return struct.pack(">i", p[0]) + int32_array(p[1], True) + kwire.uvarint(0)

    def topic(t):
        return kwire.compact_string(t[0]) + kwire.array(t[1], partition, True) + kwire.uvarint(0)

    body = struct.pack(">i", timeout_ms)
    if version >= 1:
        body += struct.pack(">?", allow_rf_change)
    body += kwire.array(topics, topic, True) + kwire.uvarint(0)
    header = struct.pack(">hhi", API_ALTER_PARTITION_REASSIGNMENTS, version, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + kwire.uvarint(0) + body)


def decode_alter_partition_reassignments_response(version, payload):
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()
    resp["allow_replication_factor_change"] = r.bool() if version >= 1 else None
    resp["error_code"] = r.int16()
    resp["error_message"] = r.string(True)

    def partition():
        out = (r.int32(), r.int16(), r.string(True))
        r.tagged_fields()
        return out

    resp["responses"] = r.topics(True, partition)
    r.tagged_fields()
    r.done()
    return resp


def list_partition_reassignments_request(correlation_id, topics, timeout_ms=5000):
    """v0. topics: None (all) or [(name, [partition])]."""
    def topic(t):
        return kwire.compact_string(t[0]) + int32_array(t[1], True) + kwire.uvarint(0)

    body = struct.pack(">i", timeout_ms) + kwire.array(topics, topic, True) + kwire.uvarint(0)
    header = struct.pack(">hhi", API_LIST_PARTITION_REASSIGNMENTS, 0, correlation_id) + kwire.string("gregor-it")
    return kwire.frame(header + kwire.uvarint(0) + body)


def decode_list_partition_reassignments_response(payload):
    r = kwire.Reader(payload)
    resp = {"correlation_id": r.int32()}
    r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()
    resp["error_code"] = r.int16()
    resp["error_message"] = r.string(True)

    def partition():
        out = (r.int32(), r.array(True, r.int32), r.array(True, r.int32), r.array(True, r.int32))
        r.tagged_fields()
        return out

    resp["topics"] = r.topics(True, partition)
    r.tagged_fields()
    r.done()
    return resp


def produce(conn, topic, count, deadline=15.0):
    """count records in one batch to partition 0, retried while the new
    topic's leader is not ready (Kafka answers NOT_LEADER_OR_FOLLOWER for a
    moment after creating it)."""
    batch = record_batch(int(time.time() * 1000), list(range(count)), int(time.time() * 1000) + count)
    end = time.monotonic() + deadline
    while True:
        conn.send(produce_v3_request(5, topic, batch))
        (_, error, base), = decode_produce_v3_response(conn.recv_frame())
        if error == NONE:
            assert base == 0, base
            return
        if time.monotonic() > end:
            raise AssertionError("produce to %s: error %d" % (topic, error))
        time.sleep(0.1)


class ClusterApisBase(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID)

    @classmethod
    def after_start(cls):
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            create_topics(c, TOPICS)
            produce(c, "ofle", RECORDS)

    def ofle(self, version, topics, **kw):
        with self.conn() as c:
            c.send(offset_for_leader_epoch_request(version, 23, topics, **kw))
            resp = decode_offset_for_leader_epoch_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 23)
        if version >= 2:
            self.assertEqual(resp["throttle_time_ms"], 0)
        return resp["topics"]

    def ofle_answers(self, version):
        """The request and Kafka's answer, at a version: every case in one
        request, in order, a partition named twice and a topic twice."""
        topics = [
            ("ofle", [(0, -1, 0), (1, -1, 0), (2, -1, 0), (0, -1, 1), (0, -1, -1), (0, -1, -2),
                      (0, -1, -100), (0, 0, 0), (0, 1, 0), (0, -2, 0), (0, 5, 7), (0, 0, 5)]),
            ("nope", [(0, -1, 0)]),
            ("ofle-empty", [(0, -1, 0), (0, -1, -3), (0, -1, 1)]),
            ("ofle", [(1, -1, 0)]),
            ("", [(0, -1, 0)]),
            ("bad/name", [(0, -1, 0)]),
        ]
        # Before v2 there is no current_leader_epoch: those entries are
        # plain lookups of their leader_epoch.
        checked = version >= 2
        first = [
            (NONE, 0, 0, RECORDS),                     # epoch 0: the log end offset
            (NONE, 1, 0, 0),                           # an empty partition
            (UNKNOWN_TOPIC_OR_PARTITION, 2, -1, -1),   # no such partition
            (NONE, 0, -1, -1),                         # a future epoch: undefined
            (NONE, 0, -1, -1),                         # -1: undefined
            (NONE, 0, -2, 0),                          # older than the first epoch:
            (NONE, 0, -100, 0),                        # that epoch, the first's start
            (NONE, 0, 0, RECORDS),                     # current epoch 0 matches
            (UNKNOWN_LEADER_EPOCH, 0, -1, -1) if checked else (NONE, 0, 0, RECORDS),
            (FENCED_LEADER_EPOCH, 0, -1, -1) if checked else (NONE, 0, 0, RECORDS),
            (UNKNOWN_LEADER_EPOCH, 0, -1, -1) if checked else (NONE, 0, -1, -1),
            (NONE, 0, -1, -1),                         # current 0, epoch 5
        ]
        expected = [
            ("ofle", first),
            ("nope", [(UNKNOWN_TOPIC_OR_PARTITION, 0, -1, -1)]),
            ("ofle-empty", [(NONE, 0, 0, 0), (NONE, 0, -3, 0), (NONE, 0, -1, -1)]),
            ("ofle", [(NONE, 1, 0, 0)]),
            ("", [(UNKNOWN_TOPIC_OR_PARTITION, 0, -1, -1)]),
            ("bad/name", [(UNKNOWN_TOPIC_OR_PARTITION, 0, -1, -1)]),
        ]
        if version == 0:
            expected = [(n, [(e, p, None, off) for e, p, _, off in parts]) for n, parts in expected]
        return topics, expected


class ClusterApisTest(ClusterApisBase):

    # ---- DescribeCluster ----------------------------------------------------

    def describe_cluster(self, version, include_ops, **kw):
        with self.conn() as c:
            c.send(describe_cluster_request(version, 60, include_ops, **kw))
            resp = decode_describe_cluster_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 60)
        self.assertEqual(resp["throttle_time_ms"], 0)
        return resp

    def test_describe_cluster_every_version(self):
        cluster_id = self.broker.cluster_id()
        self.assertTrue(cluster_id)
        for version in range(3):
            for include_ops in (False, True):
                with self.subTest(version=version, include_ops=include_ops):
                    resp = self.describe_cluster(version, include_ops)
                    self.assertEqual(resp["error_code"], NONE)
                    self.assertIsNone(resp["error_message"])
                    if version >= 1:
                        self.assertEqual(resp["endpoint_type"], 1)
                    self.assertEqual(resp["cluster_id"], cluster_id)
                    self.assertEqual(resp["controller_id"], NODE_ID)
                    broker = (NODE_ID, self.broker.host, self.broker.port, None)
                    if version >= 2:
                        broker += (False,)
                    self.assertEqual(resp["brokers"], [broker])
                    self.assertEqual(resp["cluster_authorized_operations"],
                                     ALL_CLUSTER_OPERATIONS if include_ops else DEFAULT_OPERATIONS)

    def test_describe_cluster_include_fenced_brokers(self):
        # The one broker is never fenced: the same list.
        resp = self.describe_cluster(2, False, include_fenced=True)
        self.assertEqual(resp["error_code"], NONE)
        self.assertEqual(resp["brokers"], [(NODE_ID, self.broker.host, self.broker.port, None, False)])

    def test_describe_cluster_controllers_from_a_broker_listener(self):
        for version in (1, 2):
            for include_ops in (False, True):
                with self.subTest(version=version, include_ops=include_ops):
                    resp = self.describe_cluster(version, include_ops, endpoint_type=2)
                    self.assertEqual(resp["error_code"], MISMATCHED_ENDPOINT_TYPE)
                    self.assertEqual(resp["error_message"], "The request was sent to an endpoint of type BROKER, "
                                                            "but we wanted an endpoint of type CONTROLLER")
                    self.assertEqual(resp["endpoint_type"], 1)
                    self.assertEqual(resp["cluster_id"], "")
                    self.assertEqual(resp["controller_id"], -1)
                    self.assertEqual(resp["brokers"], [])
                    self.assertEqual(resp["cluster_authorized_operations"], DEFAULT_OPERATIONS)

    def test_describe_cluster_unsupported_endpoint_type(self):
        for endpoint_type in (0, 3, -1, 127):
            with self.subTest(endpoint_type=endpoint_type):
                resp = self.describe_cluster(2, True, endpoint_type=endpoint_type)
                self.assertEqual(resp["error_code"], UNSUPPORTED_ENDPOINT_TYPE)
                self.assertEqual(resp["error_message"], "Unsupported endpoint type %d" % endpoint_type)
                self.assertEqual(resp["endpoint_type"], 1)
                self.assertEqual(resp["cluster_id"], "")
                self.assertEqual(resp["controller_id"], -1)
                self.assertEqual(resp["brokers"], [])
                self.assertEqual(resp["cluster_authorized_operations"], DEFAULT_OPERATIONS)

    # ---- OffsetForLeaderEpoch ---------------------------------------------

    def test_offset_for_leader_epoch(self):
        for version in (2, 3, 4):
            with self.subTest(version=version):
                topics, expected = self.ofle_answers(version)
                self.assertEqual(self.ofle(version, topics), expected)

    def test_offset_for_leader_epoch_replica_id(self):
        # A follower's id (or any other) is answered like a consumer's.
        for replica_id in (-1, -2, NODE_ID, 5):
            for version in (3, 4):
                with self.subTest(replica_id=replica_id, version=version):
                    self.assertEqual(self.ofle(version, [("ofle", [(0, -1, 0)])], replica_id=replica_id),
                                     [("ofle", [(NONE, 0, 0, RECORDS)])])

    def test_offset_for_leader_epoch_empty_request(self):
        for version in (2, 3, 4):
            with self.subTest(version=version):
                self.assertEqual(self.ofle(version, []), [])

    def test_offset_for_leader_epoch_follows_appends(self):
        with self.conn() as c:
            produce(c, "ofle-grow", 2)
            self.assertEqual(self.ofle(4, [("ofle-grow", [(0, 0, 0)])]), [("ofle-grow", [(NONE, 0, 0, 2)])])
            batch = record_batch(int(time.time() * 1000), [0, 1, 2], int(time.time() * 1000) + 2)
            c.send(produce_v3_request(6, "ofle-grow", batch))
            self.assertEqual(decode_produce_v3_response(c.recv_frame()), [(0, NONE, 2)])
        self.assertEqual(self.ofle(4, [("ofle-grow", [(0, 0, 0), (0, -1, -7)])]),
                         [("ofle-grow", [(NONE, 0, 0, 5), (NONE, 0, -7, 0)])])


    # ---- ElectLeaders -------------------------------------------------------

    def elect(self, version, topics, **kw):
        with self.conn() as c:
            c.send(elect_leaders_request(version, 43, topics, **kw))
            resp = decode_elect_leaders_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 43)
        self.assertEqual(resp["throttle_time_ms"], 0)
        return resp

    def test_elect_leaders_named(self):
        # A single replica is its own preferred leader: nothing to elect,
        # for either election type. Answered in order, duplicates too.
        not_needed = (ELECTION_NOT_NEEDED, "Leader election not needed for topic partition.")
        expected = [
            ("ofle", [(0,) + not_needed, (1,) + not_needed,
                      (2, UNKNOWN_TOPIC_OR_PARTITION, "No such partition as ofle-2"), (0,) + not_needed]),
            ("nope", [(0, UNKNOWN_TOPIC_OR_PARTITION, "No such topic as nope")]),
            ("", [(0, UNKNOWN_TOPIC_OR_PARTITION, "No such topic as ")]),
            ("ofle-empty", []),
            ("ofle-empty", [(5, UNKNOWN_TOPIC_OR_PARTITION, "No such partition as ofle-empty-5"),
                            (-1, UNKNOWN_TOPIC_OR_PARTITION, "No such partition as ofle-empty--1"),
                            (0,) + not_needed]),
        ]
        topics = [("ofle", [0, 1, 2, 0]), ("nope", [0]), ("", [0]), ("ofle-empty", []), ("ofle-empty", [5, -1, 0])]
        for version in range(3):
            for election_type in ((0, 1) if version >= 1 else (0,)):
                with self.subTest(version=version, election_type=election_type):
                    resp = self.elect(version, topics, election_type=election_type)
                    self.assertEqual(resp["error_code"], NONE if version >= 1 else None)
                    self.assertEqual(resp["results"], expected)

    def test_elect_leaders_all(self):
        # null: every topic, each with no partition (those whose election
        # is not needed are left out). Kafka's topic order is a hash map's.
        for version in range(3):
            for election_type in ((0, 1) if version >= 1 else (0,)):
                with self.subTest(version=version, election_type=election_type):
                    resp = self.elect(version, None, election_type=election_type)
                    self.assertEqual(resp["error_code"], NONE if version >= 1 else None)
                    self.assertEqual(sorted(resp["results"]), [(name, []) for name in sorted(TOPICS)])

    def test_elect_leaders_empty(self):
        for version in range(3):
            with self.subTest(version=version):
                resp = self.elect(version, [])
                self.assertEqual(resp["error_code"], NONE if version >= 1 else None)
                self.assertEqual(resp["results"], [])
        # An empty list is answered before the election type is looked at.
        self.assertEqual(self.elect(2, [], election_type=2)["error_code"], NONE)

    def test_elect_leaders_unknown_election_type(self):
        for version in (1, 2):
            for election_type in (2, -1):
                with self.subTest(version=version, election_type=election_type):
                    msg = "Unknown election type %d" % election_type
                    resp = self.elect(version, [("ofle", [0, 7]), ("nope", [1])], election_type=election_type)
                    self.assertEqual(resp["error_code"], INVALID_REQUEST)
                    self.assertEqual(resp["results"], [("ofle", [(0, INVALID_REQUEST, msg), (7, INVALID_REQUEST, msg)]),
                                                       ("nope", [(1, INVALID_REQUEST, msg)])])
                    resp = self.elect(version, None, election_type=election_type)
                    self.assertEqual(resp["error_code"], INVALID_REQUEST)
                    self.assertEqual(resp["results"], [])

    # ---- ListPartitionReassignments and AlterPartitionReassignments ---------

    def test_list_partition_reassignments(self):
        # Nothing is ever being moved, whatever is named.
        for topics in (None, [], [("ofle", [0, 1, 5]), ("nope", [0]), ("", [])]):
            with self.subTest(topics=topics):
                with self.conn() as c:
                    c.send(list_partition_reassignments_request(46, topics))
                    resp = decode_list_partition_reassignments_response(c.recv_frame())
                self.assertEqual(resp, {"correlation_id": 46, "throttle_time_ms": 0, "error_code": NONE,
                                        "error_message": None, "topics": []})

    def alter(self, version, topics, **kw):
        with self.conn() as c:
            c.send(alter_partition_reassignments_request(version, 45, topics, **kw))
            resp = decode_alter_partition_reassignments_response(version, c.recv_frame())
        self.assertEqual(resp["correlation_id"], 45)
        self.assertEqual(resp["throttle_time_ms"], 0)
        self.assertEqual(resp["error_code"], NONE)
        return resp

    def test_alter_partition_reassignments(self):
        me = NODE_ID

        def unregistered(broker):
            return (INVALID_REPLICA_ASSIGNMENT,
                    "The manual partition assignment includes broker %d, but no such broker is registered." % broker)

        twice = (INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes the broker %d more than once." % me)
        topics = [
            ("ofle", [(0, [me]), (1, None), (2, [me]), (2, None), (0, [me, 9]), (1, [9]), (0, []), (1, [me, me]),
                      (0, [-1]), (1, [9, 9]), (0, [me, me, 9]), (1, [9, me, me]), (0, [0, me]), (1, [me, 0, me])]),
            ("nope", [(0, [me]), (0, None)]),
            ("", [(0, [me])]),
            ("ofle-empty", []),
        ]
        expected = [
            ("ofle", [(0, NONE, None), (1, NO_REASSIGNMENT_IN_PROGRESS, None),
                      (2, UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition ofle:2."),
                      (2, UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition ofle:2."),
                      (0,) + unregistered(9), (1,) + unregistered(9),
                      (0, INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes an empty replica list."),
                      (1,) + twice, (0,) + unregistered(-1), (1,) + unregistered(9), (0,) + twice, (1,) + twice,
                      (0,) + unregistered(0), (1,) + unregistered(0)]),
            ("nope", [(0, UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named nope."),
                      (0, UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named nope.")]),
            ("", [(0, UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named .")]),
            ("ofle-empty", []),
        ]
        for version in (0, 1):
            for allow in ((True, False) if version >= 1 else (True,)):
                with self.subTest(version=version, allow=allow):
                    resp = self.alter(version, topics, allow_rf_change=allow)
                    self.assertEqual(resp["allow_replication_factor_change"], allow if version >= 1 else None)
                    self.assertIsNone(resp["error_message"])
                    self.assertEqual(resp["responses"], expected)

    def test_alter_partition_reassignments_empty(self):
        # Kafka answers an empty request with a fresh response: the flag
        # true whatever was asked, and "" rather than a null message.
        for version in (0, 1):
            with self.subTest(version=version):
                resp = self.alter(version, [], allow_rf_change=False)
                self.assertEqual(resp["allow_replication_factor_change"], True if version >= 1 else None)
                self.assertEqual(resp["error_message"], "")
                self.assertEqual(resp["responses"], [])


@old_versions("OffsetForLeaderEpoch v0-v1")
class OffsetForLeaderEpochOldVersionsTest(ClusterApisBase):

    def test_offset_for_leader_epoch_v0_v1(self):
        for version in (0, 1):
            with self.subTest(version=version):
                topics, expected = self.ofle_answers(version)
                self.assertEqual(self.ofle(version, topics), expected)


if __name__ == "__main__":
    unittest.main()
