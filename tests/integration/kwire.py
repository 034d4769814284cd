"""
A tiny, independent Kafka wire codec for the raw-socket tests: request
headers v1/v2, ApiVersions, Metadata and DescribeTopicPartitions requests
(encode) and responses (decode). It is written from the Kafka protocol documentation, not from
Gregor's schema files, so that the tests do not share the broker's mistakes.

Decoders are strict: a response must be consumed exactly (trailing bytes
are an error), which is what catches a stray tagged-field byte.
"""

import socket
import struct
import time

API_METADATA = 3
API_API_VERSIONS = 18
API_DESCRIBE_TOPIC_PARTITIONS = 75

# First flexible version of each API the tests send (request header v2,
# response header v1, except ApiVersions whose response header is always
# v0); None: never flexible.
FLEXIBLE_MIN = {
    0: 9,                  # Produce
    API_METADATA: 9,
    8: 8,                  # OffsetCommit
    10: 3,                 # FindCoordinator
    16: 3,                 # ListGroups
    17: None,              # SaslHandshake
    API_API_VERSIONS: 3,
    API_DESCRIBE_TOPIC_PARTITIONS: 0,
}


# ---- encoding ---------------------------------------------------------------

def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(s):
    """Classic (int16 length) nullable string."""
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def array(items, enc, compact):
    """items None = null array."""
    if items is None:
        return uvarint(0) if compact else struct.pack(">i", -1)
    head = uvarint(len(items) + 1) if compact else struct.pack(">i", len(items))
    return head + b"".join(enc(x) for x in items)


def is_flexible(api_key, version):
    first = FLEXIBLE_MIN[api_key]
    return first is not None and version >= first


def request_header(api_key, version, correlation_id, client_id="gregor-it"):
    h = struct.pack(">hhi", api_key, version, correlation_id) + string(client_id)
    if is_flexible(api_key, version):
        h += uvarint(0)  # no tagged fields
    return h


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def api_versions_request(version, correlation_id, client_id="gregor-it",
                         software_name="gregor-it", software_version="1.0"):
    body = b""
    if version >= 3:
        body = compact_string(software_name) + compact_string(software_version) + uvarint(0)
    return frame(request_header(API_API_VERSIONS, version, correlation_id, client_id) + body)


def padded_api_versions_request(correlation_id, size, client_id="pad"):
    """An ApiVersions v3 frame whose payload (after the size) is exactly
    `size` bytes, padded with an unknown tagged field the broker must skip."""
    hdr = request_header(API_API_VERSIONS, 3, correlation_id, client_id)
    body = compact_string("x") + compact_string("1")
    value_len = size - len(hdr + body) - 2  # tagged-field count and tag: 1 byte each
    value_len -= len(uvarint(value_len))
    payload = hdr + body + uvarint(1) + uvarint(9) + uvarint(value_len) + b"\x00" * value_len
    assert len(payload) == size, (len(payload), size)
    return frame(payload)


def metadata_request(version, correlation_id, topics=None, allow_auto_topic_creation=False,
                     client_id="gregor-it", topic_ids=None, include_topic_authorized_operations=False,
                     include_cluster_authorized_operations=False):
    """topics: None (null: all topics, v1+) or a list of names (a name may
    be None from v10 on, with the matching topic_ids entry set)."""
    flex = version >= 9

    def topic(i_name):
        i, name = i_name
        out = b""
        if version >= 10:
            out += (topic_ids[i] if topic_ids else bytes(16))
        out += compact_string(name) if flex else string(name)
        if flex:
            out += uvarint(0)
        return out

    items = None if topics is None else list(enumerate(topics))
    body = array(items, topic, flex)
    if version >= 4:
        body += struct.pack(">?", allow_auto_topic_creation)
    if 8 <= version <= 10:
        body += struct.pack(">?", include_cluster_authorized_operations)
    if version >= 8:
        body += struct.pack(">?", include_topic_authorized_operations)
    if flex:
        body += uvarint(0)
    return frame(request_header(API_METADATA, version, correlation_id, client_id) + body)


def describe_topic_partitions_request(correlation_id, topics, response_partition_limit=2000, cursor=None,
                                      client_id="gregor-it"):
    """v0. topics: a list of names (None: a null array, which the schema
    does not allow); cursor: None or (topic name, partition index)."""
    body = array(topics, lambda name: compact_string(name) + uvarint(0), True)
    body += struct.pack(">i", response_partition_limit)
    if cursor is None:
        body += struct.pack(">b", -1)
    else:
        body += struct.pack(">b", 1) + compact_string(cursor[0]) + struct.pack(">i", cursor[1]) + uvarint(0)
    body += uvarint(0)
    return frame(request_header(API_DESCRIBE_TOPIC_PARTITIONS, 0, correlation_id, client_id) + body)


# ---- decoding ---------------------------------------------------------------

class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("truncated at %d (need %d of %d)" % (self.pos, n, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def int8(self): return self.unpack(">b")
    def bool(self): return self.unpack(">?")
    def int16(self): return self.unpack(">h")
    def int32(self): return self.unpack(">i")
    def int64(self): return self.unpack(">q")
    def uuid(self): return self.take(16)

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 28:
                raise DecodeError("varint too long")

    def string(self, compact):
        n = self.uvarint() - 1 if compact else self.int16()
        return None if n < 0 else self.take(n).decode()

    def array(self, compact, elem):
        n = self.uvarint() - 1 if compact else self.int32()
        return None if n < 0 else [elem() for _ in range(n)]

    def topics(self, compact, partition):
        """The usual [(topic name, [partition()])] of a response, with each
        topic's tagged fields when compact (flexible versions)."""
        def topic():
            out = (self.string(compact), self.array(compact, partition))
            if compact:
                self.tagged_fields()
            return out
        return self.array(compact, topic)

    def tagged_fields(self):
        """Returns {tag: raw bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def done(self):
        if self.pos != len(self.data):
            raise DecodeError("%d trailing bytes after the message" % (len(self.data) - self.pos))


def decode_api_versions_response(version, payload):
    """payload = response frame without the size. Header is always v0."""
    r = Reader(payload)
    flex = version >= 3
    resp = {"correlation_id": r.int32(), "error_code": r.int16()}

    def key():
        k = (r.int16(), r.int16(), r.int16())
        if flex:
            r.tagged_fields()
        return k

    keys = r.array(flex, key)
    resp["api_keys"] = None if keys is None else {k: (lo, hi) for k, lo, hi in keys}
    resp["api_keys_list"] = keys
    if version >= 1:
        resp["throttle_time_ms"] = r.int32()
    if flex:
        resp["tagged_fields"] = r.tagged_fields()
    r.done()
    return resp


def finalized_features(resp):
    """ApiVersions v3+: {feature name: (min level, max level)} from the
    finalized_features tagged field (tag 2) of a decoded response."""
    raw = (resp.get("tagged_fields") or {}).get(2)
    if raw is None:
        return {}
    r = Reader(raw)

    def feature():
        name = r.string(True)
        hi, lo = r.int16(), r.int16()
        r.tagged_fields()
        return name, (lo, hi)
    out = dict(r.array(True, feature))
    r.done()
    return out


def decode_metadata_response(version, payload):
    r = Reader(payload)
    flex = version >= 9
    resp = {"correlation_id": r.int32()}
    if flex:
        r.tagged_fields()  # response header v1
    if version >= 3:
        resp["throttle_time_ms"] = r.int32()

    def broker():
        b = {"node_id": r.int32(), "host": r.string(flex), "port": r.int32()}
        if version >= 1:
            b["rack"] = r.string(flex)
        if flex:
            r.tagged_fields()
        return b

    def int32s():
        return r.array(flex, r.int32)

    def partition():
        p = {"error_code": r.int16(), "partition_index": r.int32(), "leader_id": r.int32()}
        if version >= 7:
            p["leader_epoch"] = r.int32()
        p["replica_nodes"] = int32s()
        p["isr_nodes"] = int32s()
        if version >= 5:
            p["offline_replicas"] = int32s()
        if flex:
            r.tagged_fields()
        return p

    def topic():
        t = {"error_code": r.int16(), "name": r.string(flex)}
        if version >= 10:
            t["topic_id"] = r.uuid()
        if version >= 1:
            t["is_internal"] = r.bool()
        t["partitions"] = r.array(flex, partition)
        if version >= 8:
            t["topic_authorized_operations"] = r.int32()
        if flex:
            r.tagged_fields()
        return t

    resp["brokers"] = r.array(flex, broker)
    if version >= 2:
        resp["cluster_id"] = r.string(flex)
    if version >= 1:
        resp["controller_id"] = r.int32()
    resp["topics"] = r.array(flex, topic)
    if 8 <= version <= 10:
        resp["cluster_authorized_operations"] = r.int32()
    if version >= 13:
        resp["error_code"] = r.int16()
    if flex:
        r.tagged_fields()
    r.done()
    return resp


def decode_describe_topic_partitions_response(payload):
    """v0 (response header v1)."""
    r = Reader(payload)
    resp = {"correlation_id": r.int32()}
    r.tagged_fields()
    resp["throttle_time_ms"] = r.int32()

    def int32s():
        return r.array(True, r.int32)

    def partition():
        p = {"error_code": r.int16(), "partition_index": r.int32(), "leader_id": r.int32(),
             "leader_epoch": r.int32(), "replica_nodes": int32s(), "isr_nodes": int32s(),
             "eligible_leader_replicas": int32s(), "last_known_elr": int32s(), "offline_replicas": int32s()}
        r.tagged_fields()
        return p

    def topic():
        t = {"error_code": r.int16(), "name": r.string(True), "topic_id": r.uuid(), "is_internal": r.bool(),
             "partitions": r.array(True, partition), "topic_authorized_operations": r.int32()}
        r.tagged_fields()
        return t

    resp["topics"] = r.array(True, topic)
    if r.int8() < 0:
        resp["next_cursor"] = None
    else:
        resp["next_cursor"] = (r.string(True), r.int32())
        r.tagged_fields()
    r.tagged_fields()
    r.done()
    return resp


# ---- a connection -------------------------------------------------------------

class Conn:
    """A blocking socket with a deadline on every read."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        """One response frame, without the size prefix."""
        (size,) = struct.unpack(">i", self.recv_exact(4))
        if size < 4 or size > 64 * 1024 * 1024:
            raise DecodeError("bad response size %d" % size)
        return self.recv_exact(size)

    def wait_closed(self, deadline=5.0):
        """Wait until the broker closes the connection; returns any bytes it
        sent before closing. Raises AssertionError if it stays open."""
        got = bytearray()
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("the broker did not close the connection within %.1f s" % deadline)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return bytes(got)
            if not chunk:
                return bytes(got)
            got += chunk

    def api_versions(self, version=3, correlation_id=1, **kw):
        self.send(api_versions_request(version, correlation_id, **kw))
        return decode_api_versions_response(version, self.recv_frame())

    def metadata(self, version, correlation_id=1, **kw):
        self.send(metadata_request(version, correlation_id, **kw))
        return decode_metadata_response(version, self.recv_frame())

    def describe_topic_partitions(self, topics, correlation_id=1, **kw):
        self.send(describe_topic_partitions_request(correlation_id, topics, **kw))
        return decode_describe_topic_partitions_response(self.recv_frame())

    def wait_topic(self, topic, deadline=15.0, create=True):
        """Ask for the topic's metadata (v4; with create, allowing it to be
        auto-created) until it and each of its partitions answer without
        error, and each partition answers ListOffsets (v1, latest) too;
        returns the partition count. Gregor has a topic once it answers;
        Kafka's controller creates it and its broker serves it a moment
        later (the metadata cache first, the partitions after)."""
        end = time.monotonic() + deadline
        last = None
        while True:
            md = self.metadata(4, topics=[topic], allow_auto_topic_creation=create)
            (t,) = md["topics"]
            last = t
            if t["error_code"] == 0 and t["partitions"] and all(
                    p["error_code"] == 0 and p["leader_id"] >= 0 for p in t["partitions"]):
                parts = sorted(p["partition_index"] for p in t["partitions"])
                if all(e == 0 for e in self.list_offsets_errors(topic, parts)):
                    return len(parts)
            if time.monotonic() >= end:
                raise AssertionError("topic %s not ready after %.0f s: %s" % (topic, deadline, last))
            time.sleep(0.05)

    def list_offsets_errors(self, topic, partitions):
        """ListOffsets v1 (latest) for the partitions: their error codes."""
        body = struct.pack(">i", -1) + struct.pack(">i", 1) + string(topic)
        body += struct.pack(">i", len(partitions)) + b"".join(struct.pack(">iq", p, -1) for p in partitions)
        self.send(frame(struct.pack(">hhi", 2, 1, 4242) + string("gregor-it") + body))
        r = Reader(self.recv_frame())
        r.int32()
        errors = []
        for _ in range(r.int32()):
            r.string(False)
            for _ in range(r.int32()):
                r.int32()
                errors.append(r.int16())
                r.int64()
                r.int64()
        r.done()
        return errors

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
