"""The newest versions of the group APIs, as Kafka 4.4 answers them, with
raw requests: OffsetCommit v10 and OffsetFetch v10 name topics by id
(KIP-848), FindCoordinator v6 knows share-group keys (key type 2),
DescribeGroups v6 answers GROUP_ID_NOT_FOUND for a group that does not
exist (KIP-1043) and DeleteGroups v3 carries an error message per group.

The encoders are written from the protocol's message definitions, as in
test_groups.py; the expected answers are Kafka 4.4's
(GREGOR_TEST_TARGET=kafka).
"""

import struct
import time
import uuid

import kwire
from broker import BrokerTestCase, on_kafka, wait_until
from kwire import Conn
from test_groups import (API_DESCRIBE_GROUPS, API_FIND_COORDINATOR, API_OFFSET_COMMIT, API_OFFSET_FETCH,
                         GROUP_DEADLINE, GROUP_ID_NOT_FOUND, INVALID_REQUEST, NON_EMPTY_GROUP, NONE, NODE_ID,
                         create_topic, decode_find_coordinator, decode_join_group, decode_offset_fetch_v8,
                         find_coordinator_ready, find_coordinator_request, join_group_v0, offset_fetch_v8,
                         wait_group_coordinator)

API_DELETE_GROUPS = 42
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
UNKNOWN_TOPIC_ID = 100


def header(api, version, cid):
    """Request header v2: every version tested here is flexible."""
    return struct.pack(">hhi", api, version, cid) + kwire.string("raw") + kwire.uvarint(0)


def response_reader(payload):
    """A reader past the response header v1 (correlation id, tags)."""
    r = kwire.Reader(payload)
    r.int32()
    r.tagged_fields()
    return r


def topic_id_of(c, name):
    """The topic's id from Metadata v12, or None while it is not there."""
    c.send(kwire.metadata_request(12, 5, topics=[name]))
    (t,) = kwire.decode_metadata_response(12, c.recv_frame())["topics"]
    return t["topic_id"] if t["error_code"] == NONE else None


# ---- OffsetCommit v10 ------------------------------------------------------------

def offset_commit_v10(group, commits, generation=-1, member_id=""):
    """commits: [(topic_id, [(partition, offset, metadata)])]."""
    def part(p):
        return struct.pack(">iqi", p[0], p[1], -1) + kwire.compact_string(p[2]) + kwire.uvarint(0)

    def topic(t):
        return t[0] + kwire.array(t[1], part, True) + kwire.uvarint(0)
    body = (kwire.compact_string(group) + struct.pack(">i", generation) + kwire.compact_string(member_id)
            + kwire.compact_string(None) + kwire.array(commits, topic, True) + kwire.uvarint(0))
    return kwire.frame(header(API_OFFSET_COMMIT, 10, 21) + body)


def decode_offset_commit_v10(payload):
    """[(topic_id, [(partition, error)])]"""
    r = response_reader(payload)
    r.int32()  # throttle

    def part():
        p = (r.int32(), r.int16())
        r.tagged_fields()
        return p

    def topic():
        t = (r.uuid(), r.array(True, part))
        r.tagged_fields()
        return t
    out = r.array(True, topic)
    r.tagged_fields()
    r.done()
    return out


# ---- OffsetFetch v10 --------------------------------------------------------------

def offset_fetch_v10(groups, require_stable=False):
    """groups: [(group, None for every partition | [(topic_id, [partitions])])]."""
    def topic(t):
        return t[0] + kwire.array(t[1], lambda p: struct.pack(">i", p), True) + kwire.uvarint(0)

    def group(g):
        return (kwire.compact_string(g[0]) + kwire.compact_string(None) + struct.pack(">i", -1)
                + kwire.array(g[1], topic, True) + kwire.uvarint(0))
    body = kwire.array(groups, group, True) + struct.pack(">?", require_stable) + kwire.uvarint(0)
    return kwire.frame(header(API_OFFSET_FETCH, 10, 22) + body)


def decode_offset_fetch_v10(payload):
    """{group: (error, [(topic_id, [(partition, offset, metadata, error)])])}, in the answer's order."""
    r = response_reader(payload)
    r.int32()  # throttle
    out = {}

    def part():
        p = (r.int32(), r.int64())
        r.int32()  # leader epoch
        p += (r.string(True), r.int16())
        r.tagged_fields()
        return p

    def topic():
        t = (r.uuid(), r.array(True, part))
        r.tagged_fields()
        return t

    def group():
        gid = r.string(True)
        topics = r.array(True, topic)
        err = r.int16()
        r.tagged_fields()
        out[gid] = (err, topics)
    r.array(True, group)
    r.tagged_fields()
    r.done()
    return out


# ---- DescribeGroups v6 and DeleteGroups v3 ---------------------------------------------

def describe_groups_v5(groups, version=6):
    """DescribeGroups v5 or v6 (the same request)."""
    body = kwire.array(groups, kwire.compact_string, True) + struct.pack(">?", False) + kwire.uvarint(0)
    return kwire.frame(header(API_DESCRIBE_GROUPS, version, 23) + body)


def decode_describe_groups_v5(payload, version=6):
    """{group_id: {...}}; error_message only from v6 on."""
    r = response_reader(payload)
    r.int32()  # throttle

    def member():
        m = {"member_id": r.string(True), "group_instance_id": r.string(True), "client_id": r.string(True),
             "client_host": r.string(True), "metadata": r.take(r.uvarint() - 1),
             "assignment": r.take(r.uvarint() - 1)}
        r.tagged_fields()
        return m

    def group():
        g = {"error_code": r.int16()}
        if version >= 6:
            g["error_message"] = r.string(True)
        g.update({"group_id": r.string(True), "state": r.string(True), "protocol_type": r.string(True),
                  "protocol": r.string(True), "members": r.array(True, member),
                  "authorized_operations": r.int32()})
        r.tagged_fields()
        return g
    out = r.array(True, group)
    r.tagged_fields()
    r.done()
    return {g["group_id"]: g for g in out}


def delete_groups_v3(groups):
    body = kwire.array(groups, kwire.compact_string, True) + kwire.uvarint(0)
    return kwire.frame(header(API_DELETE_GROUPS, 3, 24) + body)


def decode_delete_groups_v3(payload):
    """[(group, error, message)]"""
    r = response_reader(payload)
    r.int32()  # throttle

    def result():
        x = (r.string(True), r.int16(), r.string(True))
        r.tagged_fields()
        return x
    out = r.array(True, result)
    r.tagged_fields()
    r.done()
    return out


# Kafka's message for INVALID_REQUEST, as Kafka 4.4 answers it.
INVALID_REQUEST_MESSAGE = ("This most likely occurs because of a request being malformed by the client library or"
                           " the message was sent to an incompatible broker. See the broker logs for more details.")

SHARE = 2  # FindCoordinator key type of share groups (KIP-932)


class GroupNewestVersionsTest(BrokerTestCase):
    BROKER_ARGS = dict(node_id=NODE_ID, overrides={"group.initial.rebalance.delay.ms": "0"})

    def topic_id(self, c, name):
        ids = []
        wait_until(lambda: ids.append(topic_id_of(c, name)) or ids[-1] is not None, GROUP_DEADLINE,
                   "topic %s in Metadata" % name, interval=0.1)
        return ids[-1]

    def test_api_versions_advertise_newest(self):
        with self.conn() as c:
            keys = c.api_versions(3)["api_keys"]
        self.assertEqual({k: keys[k][1] for k in (API_OFFSET_COMMIT, API_OFFSET_FETCH, API_FIND_COORDINATOR,
                                                  API_DESCRIBE_GROUPS, API_DELETE_GROUPS)},
                         {API_OFFSET_COMMIT: 10, API_OFFSET_FETCH: 10, API_FIND_COORDINATOR: 6,
                          API_DESCRIBE_GROUPS: 6, API_DELETE_GROUPS: 3})

    def test_find_coordinator_v6(self):
        """Groups and transactions as at v4-v5, with an empty message on
        each entry; share-group keys (type 2) INVALID_REQUEST with an empty
        message, as Kafka 4.4 answers them without share groups enabled;
        an unknown key type INVALID_REQUEST with Kafka's message."""
        me = (NODE_ID, self.broker.host, self.broker.port)
        with self.conn() as c:
            for key_type in (0, 1):
                r = find_coordinator_ready(c, 6, None, key_type=key_type, keys=["fc6-a", "fc6-b"])
                self.assertEqual([(x["key"], x["error_code"], x["error_message"], (x["node_id"], x["host"], x["port"]))
                                  for x in r["coordinators"]],
                                 [("fc6-a", NONE, "", me), ("fc6-b", NONE, "", me)], "key type %d" % key_type)
            share_key = "fc6-share:%s:0" % uuid.UUID(int=1)
            for v in (4, 5, 6):
                c.send(find_coordinator_request(v, None, key_type=SHARE, keys=[share_key, "bad"]))
                r = decode_find_coordinator(v, c.recv_frame())
                self.assertEqual([(x["key"], x["error_code"], x["error_message"], x["node_id"], x["host"], x["port"])
                                  for x in r["coordinators"]],
                                 [(share_key, INVALID_REQUEST, "", -1, "", -1), ("bad", INVALID_REQUEST, "", -1, "", -1)],
                                 "v%d" % v)
                c.send(find_coordinator_request(v, None, key_type=7, keys=["x"]))
                (x,) = decode_find_coordinator(v, c.recv_frame())["coordinators"]
                self.assertEqual((x["error_code"], x["error_message"], x["node_id"]),
                                 (INVALID_REQUEST, INVALID_REQUEST_MESSAGE, -1), "v%d" % v)
            # one key (v1-v3): the top-level message is the error's, "NONE" for none
            for v in (1, 2, 3):
                r = find_coordinator_ready(c, v, "fc6-a")
                self.assertEqual((r["error_code"], r["error_message"], r["node_id"]), (NONE, "NONE", NODE_ID))
                c.send(find_coordinator_request(v, "fc6-a", key_type=SHARE))
                r = decode_find_coordinator(v, c.recv_frame())
                self.assertEqual((r["error_code"], r["error_message"], r["node_id"], r["host"], r["port"]),
                                 (INVALID_REQUEST, INVALID_REQUEST_MESSAGE, -1, "", -1), "v%d" % v)

    def test_offset_commit_and_fetch_v10_by_topic_id(self):
        """OffsetCommit v10 names topics by id: a known id commits (kept by
        name: OffsetFetch v8 reads them), a partition it lacks is
        UNKNOWN_TOPIC_OR_PARTITION, an unknown or zero id UNKNOWN_TOPIC_ID
        on every partition, and each topic entry echoes its id. OffsetFetch
        v10 answers by id the same way."""
        bs = self.broker.bootstrap
        create_topic(bs, "v10-t", 2)
        wait_group_coordinator(self.broker.host, self.broker.port, "v10-g")
        unknown, zero = uuid.uuid4().bytes, bytes(16)
        with self.conn() as c:
            tid = self.topic_id(c, "v10-t")
            c.send(offset_commit_v10("v10-g", [(tid, [(0, 5, "m0"), (1, 6, None), (7, 1, "x")]),
                                               (unknown, [(0, 1, ""), (1, 2, "")]), (zero, [(0, 1, "")])]))
            got = decode_offset_commit_v10(c.recv_frame())
            # Kafka's order within a topic is not the request's: compare sorted
            self.assertEqual([(t, sorted(ps)) for t, ps in got],
                             [(tid, [(0, NONE), (1, NONE), (7, UNKNOWN_TOPIC_OR_PARTITION)]),
                              (unknown, [(0, UNKNOWN_TOPIC_ID), (1, UNKNOWN_TOPIC_ID)]),
                              (zero, [(0, UNKNOWN_TOPIC_ID)])])

            # kept by name; a null metadata is kept as ""
            c.send(offset_fetch_v8([("v10-g", [("v10-t", [0, 1])])]))
            self.assertEqual(decode_offset_fetch_v8(c.recv_frame()),
                             {"v10-g": (NONE, {("v10-t", 0): (5, "m0", NONE), ("v10-t", 1): (6, "", NONE)})})

            # the topics resolved first, then the unknown ids, as Kafka answers
            c.send(offset_fetch_v10([("v10-g", [(unknown, [0]), (tid, [0, 1, 7]), (zero, [0])]),
                                     ("v10-none", [(unknown, [3]), (tid, [0])])]))
            got = decode_offset_fetch_v10(c.recv_frame())
            self.assertEqual(got, {
                "v10-g": (NONE, [(tid, [(0, 5, "m0", NONE), (1, 6, "", NONE), (7, -1, "", NONE)]),
                                 (unknown, [(0, -1, "", UNKNOWN_TOPIC_ID)]), (zero, [(0, -1, "", UNKNOWN_TOPIC_ID)])]),
                "v10-none": (NONE, [(tid, [(0, -1, "", NONE)]), (unknown, [(3, -1, "", UNKNOWN_TOPIC_ID)])])})

            # every committed partition, named by id
            c.send(offset_fetch_v10([("v10-g", None), ("v10-none", None)]))
            got = decode_offset_fetch_v10(c.recv_frame())
            self.assertEqual({g: (e, [(t, sorted(ps)) for t, ps in ts]) for g, (e, ts) in got.items()},
                             {"v10-g": (NONE, [(tid, [(0, 5, "m0", NONE), (1, 6, "", NONE)])]),
                              "v10-none": (NONE, [])})

    def test_offset_fetch_v10_deleted_topic(self):
        """A topic deleted after its offsets were committed: asked by its
        old id, UNKNOWN_TOPIC_ID; a fetch of every partition leaves it out
        (Kafka drops a deleted topic's offsets)."""
        from confluent_kafka.admin import AdminClient
        bs = self.broker.bootstrap
        create_topic(bs, "v10-keep", 1)
        create_topic(bs, "v10-gone", 1)
        wait_group_coordinator(self.broker.host, self.broker.port, "v10-del-g")
        with self.conn() as c:
            keep, gone = self.topic_id(c, "v10-keep"), self.topic_id(c, "v10-gone")
            c.send(offset_commit_v10("v10-del-g", [(keep, [(0, 4, "k")]), (gone, [(0, 3, "g")])]))
            self.assertEqual(decode_offset_commit_v10(c.recv_frame()), [(keep, [(0, NONE)]), (gone, [(0, NONE)])])
            admin = AdminClient({"bootstrap.servers": bs})
            for _, f in admin.delete_topics(["v10-gone"], operation_timeout=10).items():
                f.result()
            wait_until(lambda: topic_id_of(c, "v10-gone") is None, GROUP_DEADLINE, "v10-gone deleted", interval=0.1)

            def answered():
                c.send(offset_fetch_v10([("v10-del-g", None)]))
                return decode_offset_fetch_v10(c.recv_frame())
            # Kafka drops the offsets after the deletion reaches its coordinator
            wait_until(lambda: answered() == {"v10-del-g": (NONE, [(keep, [(0, 4, "k", NONE)])])}, GROUP_DEADLINE,
                       "the deleted topic left out of the group's offsets", interval=0.1)
            c.send(offset_fetch_v10([("v10-del-g", [(gone, [0]), (keep, [0])])]))
            self.assertEqual(decode_offset_fetch_v10(c.recv_frame()),
                             {"v10-del-g": (NONE, [(keep, [(0, 4, "k", NONE)]),
                                                   (gone, [(0, -1, "", UNKNOWN_TOPIC_ID)])])})

    def test_describe_groups_v6_not_found(self):
        """v6: a group that does not exist is GROUP_ID_NOT_FOUND with
        Kafka's message (still Dead, no members); v5 answers it without an
        error. A group with only committed offsets is Empty."""
        bs = self.broker.bootstrap
        create_topic(bs, "v10-dg", 1)
        wait_group_coordinator(self.broker.host, self.broker.port, "v10-dg-g")
        with self.conn() as c:
            tid = self.topic_id(c, "v10-dg")
            c.send(offset_commit_v10("v10-dg-g", [(tid, [(0, 1, "")])]))
            self.assertEqual(decode_offset_commit_v10(c.recv_frame()), [(tid, [(0, NONE)])])
            c.send(describe_groups_v5(["v10-dg-none", "v10-dg-g", ""], 6))
            got = decode_describe_groups_v5(c.recv_frame(), 6)
            missing = {"state": "Dead", "protocol_type": "", "protocol": "", "members": [],
                       "authorized_operations": -2147483648}
            self.assertEqual(got, {
                "v10-dg-none": dict(missing, error_code=GROUP_ID_NOT_FOUND, group_id="v10-dg-none",
                                    error_message="Group v10-dg-none not found."),
                "": dict(missing, error_code=GROUP_ID_NOT_FOUND, group_id="", error_message="Group  not found."),
                "v10-dg-g": dict(missing, error_code=NONE, group_id="v10-dg-g", error_message=None, state="Empty")})
            c.send(describe_groups_v5(["v10-dg-none"], 5))
            self.assertEqual(decode_describe_groups_v5(c.recv_frame(), 5),
                             {"v10-dg-none": dict(missing, error_code=NONE, group_id="v10-dg-none")})

    def test_delete_groups_v3(self):
        """v3 adds a message per result, which Kafka 4.4 leaves null, for
        errors too: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP; an empty group is
        deleted with its offsets."""
        bs = self.broker.bootstrap
        create_topic(bs, "v10-del", 1)
        for g in ("v10-del-empty", "v10-del-busy"):
            wait_group_coordinator(self.broker.host, self.broker.port, g)
        with self.conn() as c:
            tid = self.topic_id(c, "v10-del")
            c.send(offset_commit_v10("v10-del-empty", [(tid, [(0, 2, "")])]))
            self.assertEqual(decode_offset_commit_v10(c.recv_frame()), [(tid, [(0, NONE)])])
            c.send(join_group_v0("v10-del-busy", ""))
            self.assertEqual(decode_join_group(0, c.recv_frame())["error_code"], NONE)
            c.send(delete_groups_v3(["v10-del-missing", "v10-del-busy", "v10-del-empty"]))
            self.assertEqual(sorted(decode_delete_groups_v3(c.recv_frame())),
                             [("v10-del-busy", NON_EMPTY_GROUP, None), ("v10-del-empty", NONE, None),
                              ("v10-del-missing", GROUP_ID_NOT_FOUND, None)])
            c.send(describe_groups_v5(["v10-del-empty"], 6))
            self.assertEqual(decode_describe_groups_v5(c.recv_frame(), 6)["v10-del-empty"]["error_code"],
                             GROUP_ID_NOT_FOUND)
            c.send(offset_fetch_v10([("v10-del-empty", [(tid, [0])])]))
            self.assertEqual(decode_offset_fetch_v10(c.recv_frame()),
                             {"v10-del-empty": (NONE, [(tid, [(0, -1, "", NONE)])])})
