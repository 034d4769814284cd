"""Raw classic-group requests at the versions that carry group.instance.id
(KIP-345), non-flexible so that they stay short: JoinGroup v5, SyncGroup v3,
Heartbeat v3, LeaveGroup v3, OffsetCommit v7, OffsetFetch v5, DescribeGroups
v4, and JoinGroup v9 (flexible, with skip_assignment). Written from the
Kafka protocol documentation, like kwire.py, not from Gregor's schemas.
Each encoder returns a frame; each decoder takes the response payload.
"""

import struct

import kwire
from kwire import Reader, array, compact_string, string, uvarint

API_OFFSET_COMMIT = 8
API_OFFSET_FETCH = 9
API_JOIN_GROUP = 11
API_HEARTBEAT = 12
API_LEAVE_GROUP = 13
API_SYNC_GROUP = 14
API_DESCRIBE_GROUPS = 15


def _header(api, version, flex=False, client_id="static-it"):
    h = struct.pack(">hhi", api, version, 7) + string(client_id)
    return h + (uvarint(0) if flex else b"")


def _bytes(b):
    return struct.pack(">i", len(b)) + b


def _compact_bytes(b):
    return uvarint(len(b) + 1) + b


def join_group(group, member_id, instance_id, session_ms=10000, rebalance_ms=10000, metadata=b"sub",
               version=5, protocol="range"):
    """v5 or v9; one protocol."""
    if version >= 6:
        body = (compact_string(group) + struct.pack(">ii", session_ms, rebalance_ms) + compact_string(member_id)
                + compact_string(instance_id) + compact_string("consumer")
                + array([(protocol, metadata)], lambda p: compact_string(p[0]) + _compact_bytes(p[1]) + uvarint(0),
                        True)
                + compact_string("") + uvarint(0))  # v8+ reason
        return kwire.frame(_header(API_JOIN_GROUP, version, True) + body)
    body = (string(group) + struct.pack(">ii", session_ms, rebalance_ms) + string(member_id) + string(instance_id)
            + string("consumer") + array([(protocol, metadata)], lambda p: string(p[0]) + _bytes(p[1]), False))
    return kwire.frame(_header(API_JOIN_GROUP, version) + body)


def decode_join_group(payload, version=5):
    r = Reader(payload)
    r.int32()
    flex = version >= 6
    if flex:
        r.tagged_fields()
    out = {"throttle": r.int32(), "error_code": r.int16(), "generation_id": r.int32()}
    if version >= 7:
        out["protocol_type"] = r.string(True)
    out["protocol_name"] = r.string(flex)
    out["leader"] = r.string(flex)
    if version >= 9:
        out["skip_assignment"] = r.bool()
    out["member_id"] = r.string(flex)

    def member():
        m = (r.string(flex), r.string(flex), r.take(r.uvarint() - 1 if flex else r.int32()))
        if flex:
            r.tagged_fields()
        return m
    out["members"] = r.array(flex, member)
    if flex:
        r.tagged_fields()
    r.done()
    return out


def sync_group(group, generation, member_id, instance_id, assignments=()):
    """v3. assignments: [(member_id, bytes)]."""
    body = (string(group) + struct.pack(">i", generation) + string(member_id) + string(instance_id)
            + array(list(assignments), lambda a: string(a[0]) + _bytes(a[1]), False))
    return kwire.frame(_header(API_SYNC_GROUP, 3) + body)


def decode_sync_group(payload):
    """(error, assignment)"""
    r = Reader(payload)
    r.int32()
    r.int32()
    err = r.int16()
    assignment = r.take(r.int32())
    r.done()
    return err, assignment


def heartbeat(group, generation, member_id, instance_id):
    """v3"""
    body = string(group) + struct.pack(">i", generation) + string(member_id) + string(instance_id)
    return kwire.frame(_header(API_HEARTBEAT, 3) + body)


def decode_error(payload):
    """Heartbeat v1+: throttle, error."""
    r = Reader(payload)
    r.int32()
    r.int32()
    err = r.int16()
    r.done()
    return err


def leave_group(group, members):
    """v3. members: [(member_id, instance_id)]."""
    body = string(group) + array(members, lambda m: string(m[0]) + string(m[1]), False)
    return kwire.frame(_header(API_LEAVE_GROUP, 3) + body)


def decode_leave_group(payload):
    """(error, [(member_id, instance_id, error)])"""
    r = Reader(payload)
    r.int32()
    r.int32()
    err = r.int16()
    members = r.array(False, lambda: (r.string(False), r.string(False), r.int16()))
    r.done()
    return err, members


def offset_commit(group, generation, member_id, instance_id, commits):
    """v7. commits: [(topic, [(partition, offset, metadata)])]."""
    def part(p):
        return struct.pack(">iqi", p[0], p[1], -1) + string(p[2])

    def topic(t):
        return string(t[0]) + array(t[1], part, False)
    body = (string(group) + struct.pack(">i", generation) + string(member_id) + string(instance_id)
            + array(commits, topic, False))
    return kwire.frame(_header(API_OFFSET_COMMIT, 7) + body)


def decode_offset_commit(payload):
    """{(topic, partition): error}"""
    r = Reader(payload)
    r.int32()
    r.int32()
    out = {}

    def topic():
        name = r.string(False)
        for _ in range(r.int32()):
            p = r.int32()
            out[(name, p)] = r.int16()
    r.array(False, topic)
    r.done()
    return out


def offset_fetch(group, topics, version=5):
    """v1-v7, one group. topics: [(topic, [partitions])], or None for every
    partition (v2+)."""
    flex = version >= 6
    s = compact_string if flex else string

    def topic(t):
        return s(t[0]) + array(t[1], lambda p: struct.pack(">i", p), flex) + (uvarint(0) if flex else b"")
    body = s(group) + array(topics, topic, flex)
    if version >= 7:
        body += struct.pack(">?", False)  # require_stable
    if flex:
        body += uvarint(0)
    return kwire.frame(_header(API_OFFSET_FETCH, version, flex) + body)


def offset_fetch_groups(groups, version=9):
    """v8-v9. groups: [(group, [(topic, [partitions])] or None)]; v9 asks
    as no member (member_id null, member_epoch -1)."""
    def topic(t):
        return compact_string(t[0]) + array(t[1], lambda p: struct.pack(">i", p), True) + uvarint(0)

    def group(g):
        out = compact_string(g[0])
        if version >= 9:
            out += compact_string(None) + struct.pack(">i", -1)
        return out + array(g[1], topic, True) + uvarint(0)
    body = array(groups, group, True) + struct.pack(">?", False) + uvarint(0)
    return kwire.frame(_header(API_OFFSET_FETCH, version, True) + body)


def _fetch_partitions(r, flex, name, out, with_epoch):
    def part():
        p = r.int32()
        off = r.int64()
        epoch = r.int32() if with_epoch else -1
        n = r.uvarint() - 1 if flex else r.int16()
        md = None if n < 0 else r.take(n)
        out[(name, p)] = (off, epoch, md, r.int16())
        if flex:
            r.tagged_fields()
    r.array(flex, part)


def decode_offset_fetch(payload, version=5):
    """v1-v7: (error, {(topic, partition): (offset, leader_epoch, metadata
    bytes, error)}); leader_epoch is -1 before v5, error NONE before v2."""
    r = Reader(payload)
    r.int32()
    flex = version >= 6
    if flex:
        r.tagged_fields()
    if version >= 3:
        r.int32()
    out = {}

    def topic():
        _fetch_partitions(r, flex, r.string(flex), out, version >= 5)
        if flex:
            r.tagged_fields()
    r.array(flex, topic)
    err = r.int16() if version >= 2 else 0
    if flex:
        r.tagged_fields()
    r.done()
    return err, out


def decode_offset_fetch_groups(payload):
    """v8-v9: {group: (error, {(topic, partition): (offset, leader_epoch,
    metadata bytes, error)})}"""
    r = Reader(payload)
    r.int32()
    r.tagged_fields()
    r.int32()
    groups = {}

    def group():
        name = r.string(True)
        out = {}

        def topic():
            _fetch_partitions(r, True, r.string(True), out, True)
            r.tagged_fields()
        r.array(True, topic)
        groups[name] = (r.int16(), out)
        r.tagged_fields()
    r.array(True, group)
    r.tagged_fields()
    r.done()
    return groups


def describe_groups(groups, include_authorized_operations):
    """v4"""
    body = array(groups, string, False) + struct.pack(">?", include_authorized_operations)
    return kwire.frame(_header(API_DESCRIBE_GROUPS, 4) + body)


def decode_describe_groups(payload):
    r = Reader(payload)
    r.int32()
    r.int32()

    def member():
        return {"member_id": r.string(False), "group_instance_id": r.string(False), "client_id": r.string(False),
                "client_host": r.string(False), "metadata": r.take(r.int32()), "assignment": r.take(r.int32())}

    def group():
        return {"error_code": r.int16(), "group_id": r.string(False), "state": r.string(False),
                "protocol_type": r.string(False), "protocol": r.string(False),
                "members": r.array(False, member), "authorized_operations": r.int32()}
    out = r.array(False, group)
    r.done()
    return out
