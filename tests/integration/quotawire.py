"""DescribeClientQuotas (48) and AlterClientQuotas (49) v0-v1 on the wire,
written from Kafka's message JSON, for test_quotas.py and
tests/bench/quota.py."""

import struct

import kwire

API_DESCRIBE_CLIENT_QUOTAS = 48
API_ALTER_CLIENT_QUOTAS = 49


def _hdr(api, version, cid, flex):
    h = struct.pack(">hhi", api, version, cid) + kwire.string("gregor-it")
    return h + (kwire.uvarint(0) if flex else b"")


def _s(s, flex):
    return kwire.compact_string(s) if flex else kwire.string(s)


def _tags(flex):
    return kwire.uvarint(0) if flex else b""


def describe_request(version, cid, components, strict):
    """components: [(entity_type, match_type, match)]; match_type 0 exact,
    1 default, 2 any specified name."""
    flex = version >= 1

    def comp(c):
        t, mt, m = c
        return _s(t, flex) + struct.pack(">b", mt) + _s(m, flex) + _tags(flex)

    body = kwire.array(components, comp, flex) + struct.pack(">?", strict) + _tags(flex)
    return kwire.frame(_hdr(API_DESCRIBE_CLIENT_QUOTAS, version, cid, flex) + body)


def alter_request(version, cid, entries, validate_only):
    """entries: [([(type, name)], [(key, value, remove)])]"""
    flex = version >= 1

    def ent(e):
        return _s(e[0], flex) + _s(e[1], flex) + _tags(flex)

    def op(o):
        return _s(o[0], flex) + struct.pack(">d?", o[1], o[2]) + _tags(flex)

    def entry(x):
        return kwire.array(x[0], ent, flex) + kwire.array(x[1], op, flex) + _tags(flex)

    body = kwire.array(entries, entry, flex) + struct.pack(">?", validate_only) + _tags(flex)
    return kwire.frame(_hdr(API_ALTER_CLIENT_QUOTAS, version, cid, flex) + body)


def _entity(r, flex):
    def one():
        e = (r.string(flex), r.string(flex))
        if flex:
            r.tagged_fields()
        return e
    return r.array(flex, one)


def decode_describe(version, payload):
    flex = version >= 1
    r = kwire.Reader(payload)
    out = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    out["throttle_time_ms"] = r.int32()
    out["error_code"] = r.int16()
    out["error_message"] = r.string(flex)

    def value():
        v = (r.string(flex), r.unpack(">d"))
        if flex:
            r.tagged_fields()
        return v

    def entry():
        e = {"entity": _entity(r, flex), "values": r.array(flex, value)}
        if flex:
            r.tagged_fields()
        return e

    out["entries"] = r.array(flex, entry)
    if flex:
        r.tagged_fields()
    r.done()
    return out


def decode_alter(version, payload):
    flex = version >= 1
    r = kwire.Reader(payload)
    out = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()
    out["throttle_time_ms"] = r.int32()

    def entry():
        e = {"error_code": r.int16(), "error_message": r.string(flex), "entity": _entity(r, flex)}
        if flex:
            r.tagged_fields()
        return e

    out["entries"] = r.array(flex, entry)
    if flex:
        r.tagged_fields()
    r.done()
    return out


def describe(conn, version, components, strict=False):
    conn.send(describe_request(version, 7, components, strict))
    return decode_describe(version, conn.recv_frame())


def alter(conn, version, entries, validate_only=False):
    conn.send(alter_request(version, 8, entries, validate_only))
    return decode_alter(version, conn.recv_frame())
