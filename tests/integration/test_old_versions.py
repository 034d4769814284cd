"""The protocol versions and message formats Kafka 4 removed (KIP-896), as
Apache Kafka 3.9.1 served them: Produce v0-v2 with message sets of magic 0/1
(up-converted to record batch v2 on append), Fetch v0-v3 (down-converted to
magic 0 for v0-v1, magic 1 for v2-v3), CreateTopics v0-1, DeleteTopics v0,
DescribeConfigs v0, OffsetCommit/OffsetFetch v0, JoinGroup v0-1, ListOffsets
v0 and Metadata v0.

Every expectation here was checked against Kafka 3.9.1
(GREGOR_TEST_TARGET=kafka39); comments say what it answered where that was
not obvious. Against Kafka 4.4 every class is skipped (@old_versions).

Requests are encoded with kafka-python's protocol classes (a codec only: no
client) over a raw socket; message sets (magic 0/1) and record batches
(magic 2) are built and parsed by hand below, so that the bytes are the
test's own.
"""

import struct
import time
import zlib

import lz4.frame
import zstandard
from kafka import codec as kcodec
from kafka.protocol.admin import (CreateTopicsRequest, DeleteTopicsRequest,
                                  DescribeConfigsRequest)
from kafka.protocol.commit import GroupCoordinatorRequest, OffsetCommitRequest, OffsetFetchRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.group import JoinGroupRequest, SyncGroupRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest

import kwire
from broker import BrokerTestCase, old_versions, wait_until
from test_list_offsets import crc32c

NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_FETCH_SIZE = 4
INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUIRED_ACKS = 21
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_CONFIG = 40
INVALID_REQUEST = 42
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
UNSUPPORTED_COMPRESSION_TYPE = 76
INVALID_RECORD = 87

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
CODEC_NAMES = {v: k for k, v in CODECS.items()}
LOG_APPEND_TIME_BIT = 0x08  # attributes bit 3, magic 1 messages and v2 batches
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20

NOW = int(time.time() * 1000)
T0 = NOW - 60 * 60 * 1000  # CreateTime timestamps the tests send: an hour ago


# ---- requests over a raw socket ------------------------------------------------

_corr = [100]


def send_request(conn, req, client_id="gregor-it"):
    _corr[0] += 1
    corr = _corr[0]
    hdr = struct.pack(">hhi", req.API_KEY, req.API_VERSION, corr) + kwire.string(client_id)
    conn.send(kwire.frame(hdr + req.encode()))
    return corr


def recv_response(conn, req, corr):
    payload = conn.recv_frame()
    (got,) = struct.unpack(">i", payload[:4])
    if got != corr:
        raise AssertionError("correlation id %d, expected %d" % (got, corr))
    return req.RESPONSE_TYPE.decode(payload[4:])


def rpc(conn, req):
    return recv_response(conn, req, send_request(conn, req))


# ---- compression -------------------------------------------------------------------

def compress(name, data, magic):
    if name == "gzip":
        return kcodec.gzip_encode(data)
    if name == "snappy":
        return kcodec.snappy_encode(data)  # xerial framing, as the Java producer
    if name == "lz4":
        # Kafka 3.9 ignores the frame header checksum when it reads magic 0
        # (it writes magic 0 with its old, wrong one: see decompress)
        return lz4.frame.compress(data)
    if name == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(name)


def xxh32(data, seed=0):
    """XXH32 of a short input (an LZ4 frame header)."""
    p1, p2, p3, p4, p5, m = 2654435761, 2246822519, 3266489917, 668265263, 374761393, 0xFFFFFFFF
    assert len(data) < 16

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    h, i = (seed + p5 + len(data)) & m, 0
    while i + 4 <= len(data):
        h = rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4 & m
        i += 4
    for b in data[i:]:
        h = rotl((h + b * p5) & m, 11) * p1 & m
    h ^= h >> 15
    h = h * p2 & m
    h ^= h >> 13
    h = h * p3 & m
    return h ^ (h >> 16)


def fix_lz4_header_checksum(data):
    """Kafka writes LZ4 in magic 0 messages with its old frame header
    checksum, taken over the frame magic too (KAFKA-3160): check that one
    and put the standard one in its place."""
    flg = data[4]
    end = 7 + (8 if flg & 0x08 else 0)  # magic, FLG, BD, [content size], HC
    hc = data[end - 1]
    assert hc == (xxh32(data[:end - 1]) >> 8) & 0xFF, "not Kafka's old LZ4 header checksum"
    return data[:end - 1] + bytes([(xxh32(data[4:end - 1]) >> 8) & 0xFF]) + data[end:]


def decompress(name, data, magic):
    if name == "gzip":
        return kcodec.gzip_decode(data)
    if name == "snappy":
        return kcodec.snappy_decode(data)
    if name == "lz4":
        return lz4.frame.decompress(fix_lz4_header_checksum(data) if magic == 0 else data)
    if name == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise ValueError(name)


# ---- message sets: magic 0 and 1 --------------------------------------------------

def kbytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def legacy_message(magic, key, value, attributes=0, timestamp=-1, bad_crc=False):
    body = struct.pack(">bb", magic, attributes)
    if magic == 1:
        body += struct.pack(">q", timestamp)
    body += kbytes(key) + kbytes(value)
    crc = zlib.crc32(body) ^ (0xFFFF if bad_crc else 0)
    return struct.pack(">I", crc) + body


def legacy_entry(offset, message):
    return struct.pack(">qi", offset, len(message)) + message


def message_set(magic, records, codec="none", bad_crc_at=None):
    """records: [(key, value, timestamp)]; one wrapper message for a codec,
    with inner offsets 0..n-1 and the wrapper's offset n-1 (what producers
    send; the broker assigns the real ones)."""
    entries = b"".join(legacy_entry(i, legacy_message(magic, k, v, 0, ts if magic else -1, bad_crc=(i == bad_crc_at)))
                       for i, (k, v, ts) in enumerate(records))
    if codec == "none":
        return entries
    wrapper_ts = max(ts for _, _, ts in records) if magic else -1
    return legacy_entry(len(records) - 1, legacy_message(magic, None, compress(codec, entries, magic),
                                                          CODECS[codec], wrapper_ts))


def read_bytes(buf, pos):
    (n,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    if n < 0:
        return None, pos
    return bytes(buf[pos:pos + n]), pos + n


def parse_message_set(data):
    """([message dicts], number of bytes of a partial entry at the end).
    A message: offset, magic, attributes, codec, timestamp (None for magic 0),
    key, value, and inner (the parsed wrapped set) for a compressed one."""
    out, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 12:
            return out, len(data) - pos
        offset, size = struct.unpack_from(">qi", data, pos)
        if pos + 12 + size > len(data):
            return out, len(data) - pos
        m = data[pos + 12:pos + 12 + size]
        pos += 12 + size
        crc, magic, attributes = struct.unpack_from(">Ibb", m)
        assert crc == zlib.crc32(m[4:]), "bad crc at offset %d" % offset
        p, ts = 6, None
        if magic == 1:
            (ts,) = struct.unpack_from(">q", m, p)
            p += 8
        key, p = read_bytes(m, p)
        value, p = read_bytes(m, p)
        assert p == len(m), "message at offset %d: %d bytes left over" % (offset, len(m) - p)
        msg = {"offset": offset, "magic": magic, "attributes": attributes, "codec": CODEC_NAMES[attributes & 7],
               "timestamp": ts, "key": key, "value": value}
        if attributes & 7:
            inner, partial = parse_message_set(decompress(msg["codec"], value, magic))
            assert partial == 0
            msg["inner"] = inner
        out.append(msg)
    return out, 0


def legacy_records(messages):
    """The (offset, key, value, timestamp) of every record, wrappers opened
    (magic 1 inner offsets are relative to the wrapper's, which is the last
    one's absolute offset)."""
    out = []
    for m in messages:
        if "inner" not in m:
            out.append((m["offset"], m["key"], m["value"], m["timestamp"]))
            continue
        last = m["inner"][-1]["offset"]
        for i in m["inner"]:
            off = m["offset"] - last + i["offset"] if m["magic"] == 1 else i["offset"]
            out.append((off, i["key"], i["value"], i["timestamp"]))
    return out


# ---- record batches: magic 2 ------------------------------------------------------

def varint(n):
    return kwire.uvarint((n << 1) ^ (n >> 63))


def varbytes(b):
    return varint(-1) if b is None else varint(len(b)) + b


def record_batch(records, codec="none", base_offset=0, producer_id=-1, epoch=-1, base_seq=-1,
                 transactional=False):
    """records: [(key, value, timestamp, [(header key, header value)])]."""
    base_ts = min(r[2] for r in records)
    body = b""
    for i, (key, value, ts, headers) in enumerate(records):
        rec = struct.pack(">b", 0) + varint(ts - base_ts) + varint(i) + varbytes(key) + varbytes(value)
        rec += varint(len(headers)) + b"".join(varbytes(hk.encode()) + varbytes(hv) for hk, hv in headers)
        body += varint(len(rec)) + rec
    if codec != "none":
        body = compress(codec, body, 2)
    attributes = CODECS[codec] | (TRANSACTIONAL_BIT if transactional else 0)
    after_crc = struct.pack(">hiqqqhii", attributes, len(records) - 1, base_ts, max(r[2] for r in records),
                            producer_id, epoch, base_seq, len(records)) + body
    after_len = struct.pack(">ib", 0, 2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return struct.pack(">qi", base_offset, len(after_len)) + after_len


class Reader:
    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def unpack(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def varint(self):
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return (n >> 1) ^ -(n & 1)
            shift += 7

    def varbytes(self):
        n = self.varint()
        if n < 0:
            return None
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return b


def parse_batches(data):
    """Record batches (magic 2) as dicts; records with absolute offsets and
    the timestamps a consumer sees (LogAppendTime: the batch's max)."""
    out, pos = [], 0
    while pos + 17 <= len(data):
        base_offset, length, _epoch, magic = struct.unpack_from(">qiib", data, pos)
        if pos + 12 + length > len(data):
            break
        assert magic == 2, "magic %d at offset %d" % (magic, base_offset)
        r = Reader(data, pos + 21)
        (attributes, last_delta, base_ts, max_ts, pid, pepoch, base_seq, count) = r.unpack(">hiqqqhii")
        body = data[r.pos:pos + 12 + length]
        codec = CODEC_NAMES[attributes & 7]
        if codec != "none":
            body = decompress(codec, bytes(body), 2)
        rr = Reader(body)
        records = []
        for _ in range(count):
            rr.varint()
            rr.unpack(">b")
            ts_delta, off_delta = rr.varint(), rr.varint()
            key, value = rr.varbytes(), rr.varbytes()
            headers = []
            for _ in range(rr.varint()):
                hk = rr.varbytes()
                headers.append((hk.decode(), rr.varbytes()))
            ts = max_ts if attributes & LOG_APPEND_TIME_BIT else base_ts + ts_delta
            records.append({"offset": base_offset + off_delta, "key": key, "value": value,
                            "timestamp": ts, "headers": headers})
        out.append({"base_offset": base_offset, "last_offset": base_offset + last_delta, "codec": codec,
                    "attributes": attributes, "log_append_time": bool(attributes & LOG_APPEND_TIME_BIT),
                    "control": bool(attributes & CONTROL_BIT), "base_timestamp": base_ts,
                    "max_timestamp": max_ts, "producer_id": pid, "producer_epoch": pepoch,
                    "base_sequence": base_seq, "records": records})
        pos += 12 + length
    return out


# ---- shared helpers ------------------------------------------------------------------

def produce(conn, version, topic, data, acks=-1, partition=0):
    """(error code, base offset, log append time or None) of one partition."""
    if version >= 3:
        req = ProduceRequest[version](transactional_id=None, required_acks=acks, timeout=10000,
                                      topics=[(topic, [(partition, data)])])
    else:
        req = ProduceRequest[version](required_acks=acks, timeout=10000, topics=[(topic, [(partition, data)])])
    if acks == 0:
        send_request(conn, req)
        return None
    resp = rpc(conn, req)
    ((name, parts),) = resp.topics
    ((_, error, offset, *rest),) = parts
    return error, offset, (rest[0] if rest else None)


def fetch_current(conn, topic, offset=0, max_bytes=1 << 20, partition=0):
    """Fetch v11 (READ_UNCOMMITTED): (error, high watermark, batches)."""
    req = FetchRequest[11](replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=max_bytes, isolation_level=0,
                           session_id=0, session_epoch=-1,
                           topics=[(topic, [(partition, -1, offset, -1, max_bytes)])],
                           forgotten_topics_data=[], rack_id="")
    resp = rpc(conn, req)
    ((_, parts),) = resp.topics
    ((_, error, hw, _lso, _lstart, _aborted, _replica, data),) = parts
    return error, hw, parse_batches(data)


def fetch_old(conn, version, topic, offset=0, partition_max=1 << 20, response_max=1 << 20, partition=0):
    """Fetch v0-v3: (error, high watermark, raw message set bytes)."""
    if version == 3:
        req = FetchRequest[3](replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=response_max,
                              topics=[(topic, [(partition, offset, partition_max)])])
    else:
        req = FetchRequest[version](replica_id=-1, max_wait_time=0, min_bytes=0,
                                    topics=[(topic, [(partition, offset, partition_max)])])
    resp = rpc(conn, req)
    ((_, parts),) = resp.topics
    ((_, error, hw, data),) = parts
    return error, hw, data


def fetch_old_all(conn, version, topic, offset=0, end=None, **kw):
    """Fetch v0-v3 from `offset` until `end` as an old consumer does: the
    complete messages of each answer, the next fetch from after the last
    one (a partial message at the end of an answer is skipped). Returns
    (the messages, [(data length, partial bytes) per answer])."""
    messages, answers = [], []
    while True:
        error, hw, data = fetch_old(conn, version, topic, offset, **kw)
        assert error == NONE, "Fetch v%d %s at %d: error %d" % (version, topic, offset, error)
        got, partial = parse_message_set(data)
        answers.append((len(data), partial))
        messages += got
        if not got:
            return messages, answers
        offset = got[-1]["offset"] + 1
        if offset >= (hw if end is None else end):
            return messages, answers


def create_topic(conn, name, configs=(), partitions=1):
    req = CreateTopicsRequest[0](create_topic_requests=[(name, partitions, 1, [], list(configs))], timeout=10000)
    resp = rpc(conn, req)
    ((_, error),) = resp.topic_errors
    assert error == NONE, "CreateTopics %s: error %d" % (name, error)
    conn.wait_topic(name, create=False)


class OldVersionsCase(BrokerTestCase):
    def new_topic(self, name, **configs):
        with self.conn() as c:
            create_topic(c, name, [(k.replace("_", "."), v) for k, v in configs.items()])
        return name


# ---- 1. Produce v0-v2 with message sets -------------------------------------------

@old_versions("Produce v0-v2 and message formats v0/v1")
class OldProduceTest(OldVersionsCase):

    RECORDS = [(b"k0", b"v0", T0), (None, b"v1", T0 + 5), (b"k2", None, T0 + 2)]

    def assert_stored(self, batch, records, magic, log_append_time=None):
        """One stored v2 batch holding `records`, up-converted from `magic`."""
        self.assertEqual(batch["producer_id"], -1)
        self.assertEqual(batch["producer_epoch"], -1)
        self.assertEqual(batch["base_sequence"], -1)
        self.assertFalse(batch["control"])
        self.assertEqual(batch["attributes"] & TRANSACTIONAL_BIT, 0)
        self.assertEqual(batch["log_append_time"], log_append_time is not None)
        self.assertEqual(batch["last_offset"] - batch["base_offset"] + 1, len(records))
        got = [(r["key"], r["value"], r["timestamp"], r["headers"]) for r in batch["records"]]
        if log_append_time is not None:
            want = [(k, v, log_append_time, []) for k, v, _ in records]
        else:
            want = [(k, v, ts if magic == 1 else -1, []) for k, v, ts in records]
        self.assertEqual(got, want)
        self.assertEqual([r["offset"] for r in batch["records"]],
                         list(range(batch["base_offset"], batch["last_offset"] + 1)))

    def test_uncompressed_sets(self):
        # One uncompressed set of N messages is stored as one v2 batch of N
        # records (Kafka 3.9), whatever the Produce version.
        topic = self.new_topic("plain")
        cases = [(0, 0), (1, 0), (2, 1), (2, 0)]
        with self.conn() as c:
            end = 0
            for version, magic in cases:
                with self.subTest(version=version, magic=magic):
                    error, base, lat = produce(c, version, topic, message_set(magic, self.RECORDS))
                    self.assertEqual((error, base), (NONE, end))
                    self.assertEqual(lat, -1 if version == 2 else None)  # CreateTime topic: -1
                    end += len(self.RECORDS)
            error, hw, batches = fetch_current(c, topic)
        self.assertEqual((error, hw), (NONE, end))
        self.assertEqual([(b["base_offset"], b["codec"]) for b in batches], [(0, "none"), (3, "none"), (6, "none"), (9, "none")])
        for batch, (version, magic) in zip(batches, cases):
            with self.subTest(version=version, magic=magic):
                self.assert_stored(batch, self.RECORDS, magic)

    def test_compressed_wrappers(self):
        # One compressed wrapper of N messages is stored as one v2 batch of
        # N records with the wrapper's codec (compression.type=producer).
        topic = self.new_topic("wrapped")
        cases = [(v, m, codec) for v, m in ((0, 0), (1, 0), (2, 1), (2, 0)) for codec in ("gzip", "snappy", "lz4")]
        with self.conn() as c:
            end = 0
            for version, magic, codec in cases:
                with self.subTest(version=version, magic=magic, codec=codec):
                    error, base, lat = produce(c, version, topic, message_set(magic, self.RECORDS, codec))
                    self.assertEqual((error, base), (NONE, end))
                    end += len(self.RECORDS)
            error, hw, batches = fetch_current(c, topic)
        self.assertEqual((error, hw), (NONE, end))
        self.assertEqual([(b["base_offset"], b["codec"]) for b in batches],
                         [(3 * i, codec) for i, (_, _, codec) in enumerate(cases)])
        for batch, (version, magic, codec) in zip(batches, cases):
            with self.subTest(version=version, magic=magic, codec=codec):
                self.assert_stored(batch, self.RECORDS, magic)

    def test_two_wrappers_in_one_set(self):
        # Two compressed wrappers in one message set: Kafka 3.9 refuses the
        # set with INVALID_RECORD (87) ("Compressed outer record has more
        # than one batch" or so), whatever the magic, and stores nothing.
        topic = self.new_topic("two-wrappers")
        with self.conn() as c:
            for version, magic in ((2, 1), (0, 0)):
                with self.subTest(version=version, magic=magic):
                    data = message_set(magic, self.RECORDS[:2], "gzip") + message_set(magic, self.RECORDS[2:], "gzip")
                    self.assertEqual(produce(c, version, topic, data)[:2], (INVALID_RECORD, -1))
            self.assertEqual(fetch_current(c, topic)[:2], (NONE, 0))

    def test_log_append_time_topic(self):
        topic = self.new_topic("lat", message_timestamp_type="LogAppendTime")
        cases = [(2, 1, "none"), (2, 1, "gzip"), (2, 0, "none"), (0, 0, "none"), (1, 0, "snappy")]
        stamps = []
        with self.conn() as c:
            for i, (version, magic, codec) in enumerate(cases):
                with self.subTest(version=version, magic=magic, codec=codec):
                    before = int(time.time() * 1000)
                    error, base, lat = produce(c, version, topic, message_set(magic, self.RECORDS, codec))
                    after = int(time.time() * 1000)
                    self.assertEqual((error, base), (NONE, 3 * i))
                    if version == 2:
                        self.assertTrue(before - 1000 <= lat <= after + 1000, (before, lat, after))
                    else:
                        self.assertIsNone(lat)
                    stamps.append(lat)
            error, hw, batches = fetch_current(c, topic)
        self.assertEqual((error, hw), (NONE, 3 * len(cases)))
        self.assertEqual(len(batches), len(cases))
        for batch, lat, (version, magic, codec) in zip(batches, stamps, cases):
            with self.subTest(version=version, magic=magic, codec=codec):
                self.assertEqual(batch["codec"], codec)
                if lat is not None:
                    self.assertEqual(batch["max_timestamp"], lat)
                else:
                    self.assertTrue(NOW - 60000 <= batch["max_timestamp"] <= time.time() * 1000 + 1000)
                self.assert_stored(batch, self.RECORDS, magic, log_append_time=batch["max_timestamp"])

    def test_acks_0(self):
        # Produce v0 with acks=0: no answer; the next request on the
        # connection is answered and the messages are stored.
        topic = self.new_topic("acks0")
        with self.conn() as c:
            self.assertIsNone(produce(c, 0, topic, message_set(0, self.RECORDS), acks=0))
            md = c.metadata(1, topics=[topic])
            self.assertEqual(md["topics"][0]["error_code"], NONE)
            wait_until(lambda: fetch_current(c, topic)[1] == 3, 10, "the acks=0 messages")
            error, hw, batches = fetch_current(c, topic)
        self.assert_stored(batches[0], self.RECORDS, 0)


@old_versions("Produce v0-v2 and message formats v0/v1")
class OldProduceErrorsTest(OldVersionsCase):

    RECORDS = [(b"k0", b"v0", T0), (b"k1", b"v1", T0 + 1), (b"k2", b"v2", T0 + 2)]

    def produce_and_end(self, topic, version, data):
        with self.conn() as c:
            result = produce(c, version, topic, data)
            error, hw, batches = fetch_current(c, topic)
            self.assertEqual(error, NONE)
        return result, hw, batches

    def test_bad_crc(self):
        topic = self.new_topic("bad-crc")
        for version, magic in ((0, 0), (2, 1)):
            with self.subTest(version=version, magic=magic):
                (error, base, _), hw, _ = self.produce_and_end(topic, version, message_set(magic, self.RECORDS, bad_crc_at=1))
                self.assertEqual((error, base, hw), (CORRUPT_MESSAGE, -1, 0))
        with self.subTest("bad crc inside a gzip wrapper"):
            inner = b"".join(legacy_entry(i, legacy_message(1, k, v, 0, ts, bad_crc=(i == 1)))
                             for i, (k, v, ts) in enumerate(self.RECORDS))
            data = legacy_entry(2, legacy_message(1, None, compress("gzip", inner, 1), CODECS["gzip"], T0))
            (error, base, _), hw, _ = self.produce_and_end(topic, 2, data)
            self.assertEqual((error, base, hw), (CORRUPT_MESSAGE, -1, 0))

    def test_truncated_trailing_message(self):
        topic = self.new_topic("truncated")
        data = message_set(0, self.RECORDS)
        (error, base, _), hw, batches = self.produce_and_end(topic, 0, data[:-5])
        self.assertEqual((error, base, hw), (NONE, 0, 2))
        self.assertEqual([r["value"] for b in batches for r in b["records"]], [b"v0", b"v1"])

    def test_zstd_wrapper(self):
        topic = self.new_topic("zstd-wrapper")
        for version, magic in ((2, 1), (0, 0)):
            with self.subTest(version=version, magic=magic):
                (error, base, _), hw, _ = self.produce_and_end(topic, version, message_set(magic, self.RECORDS, "zstd"))
                # Kafka 3.9: INVALID_RECORD (87), not UNSUPPORTED_COMPRESSION_TYPE
                self.assertEqual((error, base, hw), (INVALID_RECORD, -1, 0))

    def test_magic2_batch_in_produce_v2(self):
        topic = self.new_topic("magic2-v2")
        batch = record_batch([(b"k", b"v", T0, [])])
        (error, base, lat), hw, batches = self.produce_and_end(topic, 2, batch)
        self.assertEqual((error, base, lat, hw), (NONE, 0, -1, 1))

    def test_magic1_in_produce_v0(self):
        topic = self.new_topic("magic1-v0")
        (error, base, _), hw, batches = self.produce_and_end(topic, 0, message_set(1, self.RECORDS))
        self.assertEqual((error, base, hw), (NONE, 0, 3))
        self.assertEqual([r["timestamp"] for r in batches[0]["records"]], [ts for _, _, ts in self.RECORDS])

    def test_mixed_magic_in_one_set(self):
        # A magic 0 message then magic 1 ones, uncompressed: INVALID_RECORD
        # (87), nothing stored.
        topic = self.new_topic("mixed-magic")
        data = message_set(0, self.RECORDS[:1]) + message_set(1, self.RECORDS[1:])
        (error, base, _), hw, batches = self.produce_and_end(topic, 2, data)
        self.assertEqual((error, base, hw), (INVALID_RECORD, -1, 0))

    def test_empty_set(self):
        topic = self.new_topic("empty-set")
        # An empty message set: no error, base offset -1, nothing stored.
        (error, base, _), hw, _ = self.produce_and_end(topic, 0, b"")
        self.assertEqual((error, base, hw), (NONE, -1, 0))


# ---- 3. Fetch v0-v3 of record batches --------------------------------------------

OFFSET_OUT_OF_RANGE = 1


def current_batches(conn, topic, batches):
    """Produce each batch (records as for record_batch, and a codec) with
    Produce v7, one request each; returns their base offsets."""
    bases = []
    for records, codec in batches:
        error, base, _ = produce(conn, 7, topic, record_batch(records, codec))
        assert error == NONE, "Produce v7 to %s: error %d" % (topic, error)
        bases.append(base)
    return bases


@old_versions("Fetch v0-v3 and message formats v0/v1")
class OldFetchTest(OldVersionsCase):

    # offsets 0-1 uncompressed (a header on the first: dropped), 2-4 gzip,
    # 5-7 snappy, 8-10 lz4, 11 uncompressed.
    LAYOUT = [
        ([(b"a0", b"x0", T0, [("h", b"1")]), (None, b"x1", T0 + 1, [])], "none"),
        ([(b"g%d" % i, b"gz%d" % i, T0 + 10 + i, []) for i in range(3)], "gzip"),
        ([(b"s%d" % i, None if i == 1 else b"sn%d" % i, T0 + 20 - i, []) for i in range(3)], "snappy"),
        ([(None, b"lz%d" % i, T0 + 30 + i, []) for i in range(3)], "lz4"),
        ([(b"last", b"x11", T0 + 40, [])], "none"),
    ]
    END = 12
    TOPIC = "current"

    @classmethod
    def after_start(cls):
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            create_topic(c, cls.TOPIC)
            assert current_batches(c, cls.TOPIC, cls.LAYOUT) == [0, 2, 5, 8, 11]

    def expected(self, magic, start=0):
        """The message set Fetch v0-v1 (magic 0) or v2-v3 (magic 1) should
        give from `start`: (offset, codec, [(offset as sent, key, value, timestamp)])
        per message."""
        out, base = [], 0
        for records, codec in self.LAYOUT:
            n = len(records)
            if codec == "none":
                for i, (k, v, ts, _) in enumerate(records):
                    if base + i >= start:
                        out.append((base + i, "none", k, v, ts if magic else None))
            elif base + n - 1 >= start:
                # the whole wrapper, even from an offset inside it
                inner = [((base + i) if magic == 0 else i, "none", k, v, ts if magic else None)
                         for i, (k, v, ts, _) in enumerate(records)]
                out.append((base + n - 1, codec, None, None, max(r[2] for r in records) if magic else None, inner))
            base += n
        return out

    def shape(self, messages):
        out = []
        for m in messages:
            t = (m["offset"], m["codec"], m["key"] if "inner" not in m else None,
                 m["value"] if "inner" not in m else None, m["timestamp"])
            if "inner" in m:
                t += ([(i["offset"], i["codec"], i["key"], i["value"], i["timestamp"]) for i in m["inner"]],)
            out.append(t)
        return out

    # Kafka 3.9 answers Fetch v0-v3 with as many bytes as the v2 batches it
    # read from the log (what Fetch v4+ from that offset would give): the
    # down-converted messages are cut at that length (magic 1 messages of
    # small records are longer than their v2 records: the last one is cut)
    # or, when shorter, padded with an "overflow" entry: offset -1 and a
    # size larger than what is left (max(left + 1, 61)). Either way the
    # answer ends in a partial message, which old consumers skip. So the
    # tests check the complete messages of each answer, fetch on from after
    # the last, as an old consumer does, and allow a partial message at the
    # end of an answer.

    def test_fetch_down_converts(self):
        with self.conn() as c:
            for version in (0, 1, 2, 3):
                magic = 0 if version < 2 else 1
                with self.subTest(version=version):
                    error, hw, data = fetch_old(c, version, self.TOPIC)
                    self.assertEqual((error, hw), (NONE, self.END))
                    self.assertLessEqual(len(data), 1 << 20)
                    first, _ = parse_message_set(data)
                    self.assertGreater(len(first), 0)
                    messages, _ = fetch_old_all(c, version, self.TOPIC)
                    self.assertEqual(self.shape(first), self.expected(magic)[:len(first)])
                    self.assertEqual({m["magic"] for m in messages}, {magic})
                    self.assertEqual({i["magic"] for m in messages for i in m.get("inner", [])}, {magic})
                    self.assertEqual(self.shape(messages), self.expected(magic))
                    # CreateTime: no timestamp-type bit anywhere
                    self.assertEqual({m["attributes"] & ~7 for m in messages}, {0})

    def test_fetch_from_inside_a_batch(self):
        # From offset 3 (inside the gzip batch 2-4): the whole wrapper,
        # offsets 2-4 (wrapper offset 4). From offset 1 (inside the
        # uncompressed batch 0-1): offset 1 only.
        with self.conn() as c:
            for version in (0, 2):
                magic = 0 if version < 2 else 1
                for start in (1, 3, 4, 6, 11):
                    with self.subTest(version=version, start=start):
                        error, hw, data = fetch_old(c, version, self.TOPIC, offset=start)
                        self.assertEqual((error, hw), (NONE, self.END))
                        first, _ = parse_message_set(data)
                        self.assertEqual(self.shape(first[:1]), self.expected(magic, start)[:1])
                        messages, _ = fetch_old_all(c, version, self.TOPIC, offset=start)
                        self.assertEqual(self.shape(messages), self.expected(magic, start))

    def test_fetch_at_end_and_beyond(self):
        with self.conn() as c:
            for version in (0, 1, 2, 3):
                with self.subTest(version=version):
                    self.assertEqual(fetch_old(c, version, self.TOPIC, offset=self.END), (NONE, self.END, b""))
                    error, hw, data = fetch_old(c, version, self.TOPIC, offset=self.END + 1)
                    self.assertEqual((error, hw, data), (OFFSET_OUT_OF_RANGE, -1, b""))
                    error, hw, data = fetch_old(c, version, "no-such-topic")
                    self.assertEqual((error, hw, data), (UNKNOWN_TOPIC_OR_PARTITION, -1, b""))

    def test_transactions(self):
        # A transactional producer's data: Fetch v0-v3 are READ_UNCOMMITTED
        # and have no aborted-transactions list, so Kafka 3.9 gives every
        # data record, the aborted one too, and skips the control batches.
        from confluent_kafka import Producer
        topic = self.new_topic("txn")
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "transactional.id": "old-fetch-txn",
                      "linger.ms": 0, "enable.idempotence": True})
        p.init_transactions(30)
        p.begin_transaction()
        p.produce(topic, b"c0", key=b"k0", timestamp=T0)
        p.produce(topic, b"c1", timestamp=T0 + 1)
        p.flush(30)
        p.commit_transaction(30)
        p.begin_transaction()
        p.produce(topic, b"aborted", timestamp=T0 + 2)
        p.flush(30)
        p.abort_transaction(30)
        p.begin_transaction()
        p.produce(topic, b"c2", timestamp=T0 + 3)
        p.flush(30)
        p.commit_transaction(30)
        with self.conn() as c:
            wait_until(lambda: fetch_current(c, topic)[1] >= 7, 10, "the transactions' markers")
            error, hw, batches = fetch_current(c, topic)
            self.assertEqual(sum(b["control"] for b in batches), 3)
            data = [(r["offset"], r["key"], r["value"], r["timestamp"]) for b in batches if not b["control"]
                    for r in b["records"]]
            self.assertEqual([d[2] for d in data], [b"c0", b"c1", b"aborted", b"c2"])
            for version in (0, 1, 2, 3):
                magic = 0 if version < 2 else 1
                with self.subTest(version=version):
                    error, fhw, raw = fetch_old(c, version, topic)
                    self.assertEqual((error, fhw), (NONE, hw))
                    messages, _ = fetch_old_all(c, version, topic, end=data[-1][0] + 1)
                    self.assertEqual(legacy_records(messages),
                                     [(o, k, v, ts if magic else None) for o, k, v, ts in data])

    def test_log_append_time(self):
        # Magic 1 from a LogAppendTime topic: the timestamp-type bit (0x08)
        # and the append time, on the wrapper and on its inner messages.
        topic = self.new_topic("fetch-lat", message_timestamp_type="LogAppendTime")
        with self.conn() as c:
            current_batches(c, topic, [([(b"k", b"v", T0, [])], "none"),
                                       ([(b"k%d" % i, b"v%d" % i, T0 + i, []) for i in range(2)], "gzip")])
            _, _, batches = fetch_current(c, topic)
            lat = [b["max_timestamp"] for b in batches]
            self.assertTrue(all(b["log_append_time"] for b in batches))
            for version in (2, 3):
                with self.subTest(version=version):
                    error, hw, data = fetch_old(c, version, topic)
                    messages, _ = parse_message_set(data)
                    self.assertEqual([(m["offset"], m["attributes"], m["timestamp"]) for m in messages],
                                     [(0, LOG_APPEND_TIME_BIT, lat[0]), (2, LOG_APPEND_TIME_BIT | 1, lat[1])])
                    self.assertEqual([(i["offset"], i["attributes"], i["timestamp"]) for i in messages[1]["inner"]],
                                     [(0, LOG_APPEND_TIME_BIT, lat[1]), (1, LOG_APPEND_TIME_BIT, lat[1])])
            for version in (0, 1):
                with self.subTest(version=version):
                    error, hw, data = fetch_old(c, version, topic)
                    messages, _ = parse_message_set(data)
                    self.assertEqual([(m["offset"], m["attributes"], m["timestamp"]) for m in messages],
                                     [(0, 0, None), (2, 1, None)])

    def test_zstd(self):
        # A topic with compression.type=zstd: Fetch < v10 gets
        # UNSUPPORTED_COMPRESSION_TYPE (76), the high watermark -1 and null
        # records (length -1; an empty fetch or an error such as
        # OFFSET_OUT_OF_RANGE has empty ones).
        topic = self.new_topic("fetch-zstd", compression_type="zstd")
        with self.conn() as c:
            current_batches(c, topic, [([(b"k", b"v", T0, [])], "none")])
            error, hw, batches = fetch_current(c, topic)
            self.assertEqual((error, hw, [b["codec"] for b in batches]), (NONE, 1, ["zstd"]))
            for version in (0, 1, 2, 3):
                with self.subTest(version=version):
                    self.assertEqual(fetch_old(c, version, topic), (UNSUPPORTED_COMPRESSION_TYPE, -1, None))

    def test_zstd_batch_in_producer_topic(self):
        # A zstd batch in a compression.type=producer topic, fetched with
        # v0-v3: the same as for a zstd topic (Kafka 3.9 looks at the batches).
        topic = self.new_topic("fetch-zstd-batch")
        with self.conn() as c:
            current_batches(c, topic, [([(b"k", b"v", T0, [])], "zstd")])
            for version in (0, 1, 2, 3):
                with self.subTest(version=version):
                    self.assertEqual(fetch_old(c, version, topic), (UNSUPPORTED_COMPRESSION_TYPE, -1, None))


@old_versions("Fetch v0-v3 and message formats v0/v1")
class OldFetchMaxBytesTest(OldVersionsCase):

    TOPIC = "big"
    VALUE = b"x" * 1000
    SIZE = {0: 12 + 14 + 1000, 1: 12 + 22 + 1000}  # one message of VALUE, by magic

    @classmethod
    def after_start(cls):
        with kwire.Conn(cls.broker.host, cls.broker.port) as c:
            create_topic(c, cls.TOPIC)
            current_batches(c, cls.TOPIC, [([(None, cls.VALUE, T0 + i, [])], "none") for i in range(3)])

    def fetch(self, version, **kw):
        with self.conn() as c:
            error, hw, data = fetch_old(c, version, self.TOPIC, **kw)
        messages, partial = parse_message_set(data)
        return error, hw, len(data), [m["offset"] for m in messages], partial, data

    def test_partition_max_below_first_message(self):
        # Fetch v0-v2 (a hard limit): a first message larger than the
        # partition's max_bytes gives no error and an empty message set
        # (not the first max_bytes bytes of it), the high watermark as usual.
        for version in (0, 1, 2):
            with self.subTest(version=version):
                error, hw, size, offsets, partial, data = self.fetch(version, partition_max=500)
                self.assertEqual((error, hw, size), (NONE, 3, 0))
        with self.subTest(version=3):
            # v3: the first message whole, whatever the limits (KIP-74); a
            # partial message may follow.
            for kw in ({"partition_max": 500}, {"response_max": 500}, {"partition_max": 500, "response_max": 500}):
                error, hw, size, offsets, partial, _ = self.fetch(3, **kw)
                self.assertEqual((error, hw, offsets), (NONE, 3, [0]))
                self.assertLess(size, 2 * self.SIZE[1])

    def test_cut_at_the_limit(self):
        # A limit between one message and two: the first message, then at
        # most the limit in all (a partial message at the end).
        for version in (0, 1, 2, 3):
            magic = 0 if version < 2 else 1
            limit = self.SIZE[magic] + 300
            with self.subTest(version=version, limit="partition"):
                error, hw, size, offsets, partial, _ = self.fetch(version, partition_max=limit)
                self.assertEqual((error, hw, offsets), (NONE, 3, [0]))
                self.assertLessEqual(size, limit)
            if version == 3:
                with self.subTest(version=version, limit="response"):
                    error, hw, size, offsets, partial, _ = self.fetch(version, response_max=limit)
                    self.assertEqual((error, hw, offsets), (NONE, 3, [0]))
                    self.assertLessEqual(size, limit)

    def test_all_three(self):
        with self.conn() as c:
            for version in (0, 1, 2, 3):
                with self.subTest(version=version):
                    messages, _ = fetch_old_all(c, version, self.TOPIC)
                    self.assertEqual([(m["offset"], m["value"]) for m in messages],
                                     [(i, self.VALUE) for i in range(3)])


# ---- 4. Admin, group and offset APIs -------------------------------------------------

COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
COORDINATOR_LOAD_IN_PROGRESS = 14
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
INCONSISTENT_GROUP_PROTOCOL = 23


@old_versions("CreateTopics v0-1, DeleteTopics v0, DescribeConfigs v0, OffsetCommit/OffsetFetch v0, "
              "JoinGroup v0-1, ListOffsets v0 and Metadata v0")
class OldAdminTest(OldVersionsCase):

    BROKER_ARGS = {"node_id": 1}

    def test_create_topics_v0(self):
        with self.conn() as c:
            def create(*topics):
                resp = rpc(c, CreateTopicsRequest[0](create_topic_requests=list(topics), timeout=10000))
                return [tuple(t) for t in resp.topic_errors]
            self.assertEqual(create(("ct0", 3, 1, [], [("retention.ms", "3600000")])), [("ct0", NONE)])
            self.assertEqual(c.wait_topic("ct0", create=False), 3)
            self.assertEqual(create(("ct0", 1, 1, [], [])), [("ct0", TOPIC_ALREADY_EXISTS)])
            self.assertEqual(create(("ct-zero", 0, 1, [], [])), [("ct-zero", INVALID_PARTITIONS)])
            self.assertEqual(create(("ct-rf", 1, 3, [], [])), [("ct-rf", INVALID_REPLICATION_FACTOR)])
            self.assertEqual(create(("bad name!", 1, 1, [], [])), [("bad name!", INVALID_TOPIC_EXCEPTION)])
            self.assertEqual(create(("ct-conf", 1, 1, [], [("cleanup.policy", "nope")])), [("ct-conf", INVALID_CONFIG)])
            self.assertEqual(create(("ct-a", 1, 1, [], []), ("ct-b", 2, 1, [], [])), [("ct-a", NONE), ("ct-b", NONE)])

    def test_create_topics_v1(self):
        with self.conn() as c:
            def create(validate_only, *topics):
                resp = rpc(c, CreateTopicsRequest[1](create_topic_requests=list(topics), timeout=10000,
                                                     validate_only=validate_only))
                return [(t, e, m is not None) for t, e, m in resp.topic_errors]
            # validate_only: no error, a null message, and no topic (the
            # real create that follows succeeds)
            self.assertEqual(create(True, ("ct1", 2, 1, [], [])), [("ct1", NONE, False)])
            self.assertEqual(create(False, ("ct1", 2, 1, [], [])), [("ct1", NONE, False)])
            self.assertEqual(c.wait_topic("ct1", create=False), 2)
            # errors carry a message
            self.assertEqual(create(True, ("ct1", 1, 1, [], [])), [("ct1", TOPIC_ALREADY_EXISTS, True)])
            self.assertEqual(create(False, ("ct1-zero", 0, 1, [], [])), [("ct1-zero", INVALID_PARTITIONS, True)])
            self.assertEqual(create(True, ("ct1-rf", 1, 3, [], [])), [("ct1-rf", INVALID_REPLICATION_FACTOR, True)])

    def test_delete_topics_v0(self):
        with self.conn() as c:
            create_topic(c, "dt0")
            resp = rpc(c, DeleteTopicsRequest[0](topics=["dt0", "dt-unknown"], timeout=10000))
            self.assertEqual(sorted(tuple(t) for t in resp.topic_error_codes),
                             [("dt-unknown", UNKNOWN_TOPIC_OR_PARTITION), ("dt0", NONE)])

            def gone():  # (Metadata v4 without auto-creation: v1-v3 would create it again)
                return c.metadata(4, topics=["dt0"])["topics"][0]["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
            wait_until(gone, 10, "dt0 to go")

    def test_describe_configs_v0(self):
        with self.conn() as c:
            create_topic(c, "dc0", [("retention.ms", "3600000")])
            resp = rpc(c, DescribeConfigsRequest[0](resources=[(2, "dc0", None), (2, "dc0", ["cleanup.policy", "retention.ms"]),
                                                                 (4, "1", ["num.partitions"]), (2, "dc-unknown", None)]))
            (all_, some, brk, unknown) = resp.resources
            self.assertEqual((all_[0], all_[2], all_[3]), (NONE, 2, "dc0"))
            entries = {e[0]: e[1:] for e in all_[4]}
            # (value, read_only, is_default, is_sensitive). Kafka 3.9 says
            # is_default false in v0 for every entry, defaults too
            # (v0's is_default is not derived from the source in KRaft mode).
            self.assertEqual(entries["retention.ms"], ("3600000", False, False, False))
            self.assertEqual(entries["cleanup.policy"], ("delete", False, False, False))
            self.assertEqual(sorted(tuple(e) for e in some[4]),
                             [("cleanup.policy", "delete", False, False, False),
                              ("retention.ms", "3600000", False, False, False)])
            self.assertEqual((brk[0], brk[2], brk[3]), (NONE, 4, "1"))
            # a broker key that is not dynamic: read_only true
            self.assertEqual([(e[0], e[2], e[4]) for e in brk[4]], [("num.partitions", True, False)])
            self.assertEqual((unknown[0], unknown[2], unknown[3], list(unknown[4])),
                             (UNKNOWN_TOPIC_OR_PARTITION, 2, "dc-unknown", []))

    def test_offset_commit_fetch_v0(self):
        # v0 kept offsets in ZooKeeper: Kafka 3.9 in KRaft mode answers
        # UNSUPPORTED_VERSION (35) for each partition.
        with self.conn() as c:
            create_topic(c, "oc0", partitions=2)
            resp = rpc(c, OffsetCommitRequest[0](consumer_group="g-oc0", topics=[("oc0", [(0, 5, ""), (1, 7, "m")])]))
            self.assertEqual([(t, [tuple(p) for p in ps]) for t, ps in resp.topics],
                             [("oc0", [(0, UNSUPPORTED_VERSION), (1, UNSUPPORTED_VERSION)])])
            resp = rpc(c, OffsetFetchRequest[0](consumer_group="g-oc0", topics=[("oc0", [0, 1])]))
            self.assertEqual([(t, [(p, e) for p, _, _, e in ps]) for t, ps in resp.topics],
                             [("oc0", [(0, UNSUPPORTED_VERSION), (1, UNSUPPORTED_VERSION)])])

    def join(self, c, version, group, member_id="", session=10000, rebalance=10000, protocols=(("range", b"meta"),)):
        if version == 0:
            req = JoinGroupRequest[0](group=group, session_timeout=session, member_id=member_id,
                                      protocol_type="consumer", group_protocols=list(protocols))
        else:
            req = JoinGroupRequest[1](group=group, session_timeout=session, rebalance_timeout=rebalance,
                                      member_id=member_id, protocol_type="consumer", group_protocols=list(protocols))

        def attempt():
            # FindCoordinator first: on Kafka it creates __consumer_offsets
            # (JoinGroup alone answers COORDINATOR_NOT_AVAILABLE until then)
            rpc(c, GroupCoordinatorRequest[0](consumer_group=group))
            resp = rpc(c, req)
            return None if resp.error_code in (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
                                               COORDINATOR_LOAD_IN_PROGRESS) else resp
        return wait_until(attempt, 30, "the group coordinator", interval=0.1)

    def test_join_sync_v0(self):
        # One member, v0 (no member id needed first: that is v4's KIP-394),
        # generation 1, then SyncGroup v0 gives back its assignment.
        with self.conn() as c:
            resp = self.join(c, 0, "jg0")
            self.assertEqual(resp.error_code, NONE)
            self.assertEqual((resp.generation_id, resp.group_protocol), (1, "range"))
            self.assertTrue(resp.member_id)
            self.assertEqual(resp.leader_id, resp.member_id)
            self.assertEqual([tuple(m) for m in resp.members], [(resp.member_id, b"meta")])
            sync = rpc(c, SyncGroupRequest[0](group="jg0", generation_id=1, member_id=resp.member_id,
                                              group_assignment=[(resp.member_id, b"assignment")]))
            self.assertEqual((sync.error_code, sync.member_assignment), (NONE, b"assignment"))
            # the same member joins again: same member id, generation 2
            again = self.join(c, 0, "jg0", member_id=resp.member_id)
            self.assertEqual((again.error_code, again.generation_id, again.member_id), (NONE, 2, resp.member_id))

    def test_join_v0_v1_errors(self):
        with self.conn() as c:
            # a member id the group does not know
            self.assertEqual(self.join(c, 0, "jg-unknown", member_id="nope").error_code, UNKNOWN_MEMBER_ID)
            # session timeouts outside group.min/max.session.timeout.ms (6 s, 30 min)
            for version in (0, 1):
                with self.subTest(version=version):
                    self.assertEqual(self.join(c, version, "jg-s%d" % version, session=1000).error_code,
                                     INVALID_SESSION_TIMEOUT)
                    self.assertEqual(self.join(c, version, "jg-s%d" % version, session=3600000).error_code,
                                     INVALID_SESSION_TIMEOUT)
            # v1: the rebalance timeout is its own (here shorter than the session's)
            resp = self.join(c, 1, "jg1", session=30000, rebalance=7000)
            self.assertEqual((resp.error_code, resp.generation_id), (NONE, 1))
            # a protocol the group does not have
            other = self.join(c, 1, "jg1", protocols=(("roundrobin", b""),))
            self.assertEqual(other.error_code, INCONSISTENT_GROUP_PROTOCOL)

    def test_list_offsets_v0(self):
        with self.conn() as c:
            create_topic(c, "lo0")
            create_topic(c, "lo0-empty")
            current_batches(c, "lo0", [([(None, b"a", T0, []), (None, b"b", T0, []), (None, b"c", T0, [])], "none")])

            def offsets(topic, ts, max_num):
                resp = rpc(c, OffsetRequest[0](replica_id=-1, topics=[(topic, [(0, ts, max_num)])]))
                ((_, ((_, error, offs),)),) = resp.topics
                return error, list(offs)
            # latest: the log end offset, then the segments' base offsets
            self.assertEqual(offsets("lo0", -1, 10), (NONE, [3, 0]))
            self.assertEqual(offsets("lo0", -1, 1), (NONE, [3]))
            self.assertEqual(offsets("lo0", -2, 10), (NONE, [0]))
            self.assertEqual(offsets("lo0", -1, 0), (NONE, []))
            self.assertEqual(offsets("lo0-empty", -1, 10), (NONE, [0]))
            self.assertEqual(offsets("lo0-empty", -2, 10), (NONE, [0]))
            # a timestamp before the segment was last modified: nothing
            self.assertEqual(offsets("lo0", T0 - 3600000, 10), (NONE, []))
            self.assertEqual(offsets("lo0-unknown", -1, 10), (UNKNOWN_TOPIC_OR_PARTITION, []))

    def test_metadata_v0(self):
        with self.conn() as c:
            create_topic(c, "md0", partitions=2)
            resp = rpc(c, MetadataRequest[0](topics=["md0"]))
            self.assertEqual([(b[0], b[1], b[2]) for b in resp.brokers], [(1, self.broker.host, self.broker.port)])
            ((error, name, parts),) = resp.topics
            self.assertEqual((error, name), (NONE, "md0"))
            self.assertEqual(sorted((p[0], p[1], p[2], list(p[3]), list(p[4])) for p in parts),
                             [(NONE, 0, 1, [1], [1]), (NONE, 1, 1, [1], [1])])
            # v0: an empty list is every topic
            resp = rpc(c, MetadataRequest[0](topics=[]))
            self.assertIn("md0", [t[1] for t in resp.topics])
