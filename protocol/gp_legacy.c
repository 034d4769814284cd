/*
 * Message formats v0 and v1: up-conversion of a Produce message set to one
 * v2 batch, down-conversion of stored v2 batches to a message set. See
 * gp_legacy.h for the format and the rules.
 */
#include "protocol/gp_legacy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "common/gu_common.h"

#include "protocol/gp_errors.h"

#define GP__LZ4_MAGIC 0x184D2204u
#define GP__LZ4_FLG_CONTENT_SIZE 0x08
#define GP__LZ4_FLG_DICT_ID 0x01

/* ---- xxHash32 (for the LZ4 frame header checksum) ------------------------ */

/* XXH32 with seed 0, from its published specification; the LZ4 frame header
 * checksum is its second byte. liblz4 keeps its own copy private. */
static uint32_t gp__rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t gp__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t gp__xxh32(const uint8_t *p, size_t len)
{
    static const uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u, p5 = 374761393u;
    const uint8_t *end = p + len;
    uint32_t h;
    if (len >= 16) {
        uint32_t v[4] = {p1 + p2, p2, 0, 0u - p1};
        while ((size_t)(end - p) >= 16) {
            for (int i = 0; i < 4; i++, p += 4)
                v[i] = gp__rotl32(v[i] + gp__le32(p) * p2, 13) * p1;
        }
        h = gp__rotl32(v[0], 1) + gp__rotl32(v[1], 7) + gp__rotl32(v[2], 12) + gp__rotl32(v[3], 18);
    } else {
        h = p5;
    }
    h += (uint32_t)len;
    for (; end - p >= 4; p += 4)
        h = gp__rotl32(h + gp__le32(p) * p3, 17) * p4;
    for (; p < end; p++)
        h = gp__rotl32(h + *p * p5, 11) * p1;
    h ^= h >> 15;
    h *= p2;
    h ^= h >> 13;
    h *= p3;
    h ^= h >> 16;
    return h;
}

/* The size of an LZ4 frame header (magic to header checksum), or 0 when p
 * does not start with one. */
static size_t gp__lz4_header_size(const uint8_t *p, size_t len)
{
    if (len < 7 || gp__le32(p) != GP__LZ4_MAGIC)
        return 0;
    size_t n = 7;
    if (p[4] & GP__LZ4_FLG_CONTENT_SIZE)
        n += 8;
    if (p[4] & GP__LZ4_FLG_DICT_ID)
        n += 4;
    return n <= len ? n : 0;
}

/* Kafka's magic 0 header checksum covers the 4 magic bytes; the real one
 * starts at the flags byte. */
static uint8_t gp__lz4_hc(const uint8_t *hdr, size_t hsize, bool broken)
{
    size_t from = broken ? 0 : 4;
    return (uint8_t)(gp__xxh32(hdr + from, hsize - 1 - from) >> 8);
}

/* ---- one message --------------------------------------------------------- */

typedef struct gp__msg {
    int64_t offset;
    int8_t magic;
    int8_t attributes;
    int64_t timestamp; /* -1 for magic 0 */
    gp_bytes key;      /* len -1: null */
    gp_bytes value;
} gp__msg;

static size_t gp__overhead(int8_t magic)
{
    return magic == 0 ? GP_LEGACY_RECORD_OVERHEAD_V0 : GP_LEGACY_RECORD_OVERHEAD_V1;
}

static uint32_t gp__crc32(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes a uInt length */
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

enum { GP__MSG_OK, GP__MSG_CRC, GP__MSG_SHAPE };

/* The message of `size` bytes at m (size >= 14, from the framing). Checks the
 * CRC first, as Kafka's isValid, then the fields. *why says what is wrong. */
static int gp__parse_msg(const uint8_t *m, size_t size, gp__msg *out, const char **why, uint32_t *stored,
                         uint32_t *computed)
{
    gp_reader r;
    gp_reader_init(&r, m, size);
    *stored = gp_read_uint32(&r);
    *computed = gp__crc32(m + 4, size - 4);
    if (*stored != *computed) {
        *why = "CRC mismatch";
        return GP__MSG_CRC;
    }
    out->magic = gp_read_int8(&r);
    out->attributes = gp_read_int8(&r);
    if (out->magic != 0 && out->magic != 1) {
        *why = "magic is neither 0 nor 1";
        return GP__MSG_SHAPE;
    }
    if (size < gp__overhead(out->magic)) {
        *why = "message smaller than its format's overhead";
        return GP__MSG_SHAPE;
    }
    out->timestamp = out->magic == 1 ? gp_read_int64(&r) : -1;
    out->key = gp_read_bytes(&r, false, true); /* int32 length, -1 null */
    if (r.err) {
        *why = "key length inconsistent with the message size";
        return GP__MSG_SHAPE;
    }
    out->value = gp_read_bytes(&r, false, true); /* int32 length, -1 null */
    if (r.err) {
        *why = "value length inconsistent with the message size";
        return GP__MSG_SHAPE;
    }
    if (gp_reader_left(&r) != 0) {
        *why = "message size larger than its key and value";
        return GP__MSG_SHAPE;
    }
    return GP__MSG_OK;
}

/* ---- up-conversion ------------------------------------------------------- */

typedef struct gp__up {
    const gp_batch_limits *lim;
    gp_arena *a;
    int16_t *kafka_error;
    const char **msg;
} gp__up;

static int gp__fail(gp__up *u, int16_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gp__fail(gp__up *u, int16_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *u->msg = gp_arena_vprintf(u->a, fmt, ap);
    va_end(ap);
    *u->kafka_error = code;
    return GP_BATCH_ERR_INVALID;
}

/* The inner message set of a wrapper, decompressed. */
typedef struct gp__inner {
    const uint8_t *p;
    size_t len;
    int32_t count;
} gp__inner;

/*
 * Decompress wrapper w (top-level entry k) and check its inner messages:
 * framing, CRC, magic, no compression, at least one, and the magic 1 wrapper
 * offset rule. Fills *in with the inner set and its count.
 */
static int gp__open_wrapper(gp__up *u, int32_t k, const gp__msg *w, gp__inner *in)
{
    int codec = w->attributes & GP_LEGACY_ATTR_CODEC_MASK;
    if (codec == GP_CODEC_ZSTD)
        return gp__fail(u, GP_E_INVALID_RECORD, "message %d: zstd compression needs message format v2 (magic %d)", k,
                        w->magic);
    if (codec > GP_CODEC_ZSTD)
        return gp__fail(u, GP_E_UNSUPPORTED_COMPRESSION_TYPE, "message %d: unknown compression codec %d", k, codec);
    if (w->value.len < 0)
        return gp__fail(u, GP_E_INVALID_RECORD, "message %d: compressed message set with a null value (magic %d)", k,
                        w->magic);
    const uint8_t *src = w->value.p;
    size_t slen = (size_t)w->value.len;
    size_t hs;
    if (codec == GP_CODEC_LZ4 && w->magic == 0 && (hs = gp__lz4_header_size(src, slen)) != 0) {
        /* liblz4 checks the header checksum: give a copy the real one */
        uint8_t *fixed = gp_arena_alloc(u->a, slen);
        memcpy(fixed, src, slen);
        fixed[hs - 1] = gp__lz4_hc(fixed, hs, false);
        src = fixed;
    }
    size_t cap = u->lim->max_uncompressed ? u->lim->max_uncompressed : GP_BATCH_DEFAULT_MAX_UNCOMPRESSED;
    int rc = gp_decompress(codec, src, slen, u->a, cap, &in->p, &in->len);
    if (rc == GP_COMPRESS_ERR_TOO_LARGE)
        return gp__fail(u, GP_E_MESSAGE_TOO_LARGE, "message %d: %s message set exceeds %zu bytes uncompressed", k,
                        gp_codec_name(codec), cap);
    if (rc)
        return gp__fail(u, GP_E_INVALID_RECORD, "message %d: %s: %s", k, gp_codec_name(codec),
                        gp_compress_strerror(rc));

    size_t pos = 0;
    int32_t n = 0;
    int64_t last_offset = 0;
    while (pos < in->len) {
        size_t left = in->len - pos;
        if (left < GP_LEGACY_LOG_OVERHEAD)
            return gp__fail(u, GP_E_CORRUPT_MESSAGE, "message %d: inner message %d is partial (%zu bytes)", k, n, left);
        gp_reader r;
        gp_reader_init(&r, in->p + pos, GP_LEGACY_LOG_OVERHEAD);
        int64_t off = gp_read_int64(&r);
        int32_t size = gp_read_int32(&r);
        if (size < GP_LEGACY_RECORD_OVERHEAD_V0)
            return gp__fail(u, GP_E_CORRUPT_MESSAGE, "message %d: inner message %d has size %d, below the minimum %d",
                            k, n, size, GP_LEGACY_RECORD_OVERHEAD_V0);
        if ((size_t)size > left - GP_LEGACY_LOG_OVERHEAD)
            return gp__fail(u, GP_E_CORRUPT_MESSAGE, "message %d: inner message %d is partial (size %d, %zu bytes)", k,
                            n, size, left - GP_LEGACY_LOG_OVERHEAD);
        gp__msg m;
        const char *why;
        uint32_t stored, computed;
        int prc = gp__parse_msg(in->p + pos + GP_LEGACY_LOG_OVERHEAD, (size_t)size, &m, &why, &stored, &computed);
        if (prc == GP__MSG_CRC)
            return gp__fail(u, GP_E_CORRUPT_MESSAGE,
                            "message %d: inner message %d is corrupt (stored crc %u, computed crc %u)", k, n, stored,
                            computed);
        int8_t im = (int8_t)in->p[pos + GP_LEGACY_LOG_OVERHEAD + 4];
        if (im != w->magic)
            return gp__fail(u, GP_E_INVALID_RECORD, "message %d: inner message %d has magic %d, the wrapper %d", k, n,
                            im, w->magic);
        if (prc != GP__MSG_OK)
            return gp__fail(u, GP_E_CORRUPT_MESSAGE, "message %d: inner message %d: %s", k, n, why);
        if (m.attributes & GP_LEGACY_ATTR_CODEC_MASK)
            return gp__fail(u, GP_E_INVALID_RECORD,
                            "message %d: inner message %d is compressed (nested compression is not allowed)", k, n);
        last_offset = off;
        pos += GP_LEGACY_LOG_OVERHEAD + (size_t)size;
        if (++n == INT32_MAX)
            return gp__fail(u, GP_E_INVALID_RECORD, "message %d: too many inner messages", k);
    }
    if (n == 0)
        return gp__fail(u, GP_E_INVALID_RECORD, "message %d: compressed message set with no inner messages", k);
    if (w->magic == 1 && w->offset != 0 && w->offset < last_offset)
        return gp__fail(u, GP_E_INVALID_RECORD,
                        "message %d: wrapper offset %lld is less than the last inner offset %lld and not 0", k,
                        (long long)w->offset, (long long)last_offset);
    in->count = n;
    return 0;
}

/* Fill recs[0..in->count) from a checked inner set. */
static void gp__inner_records(const gp__inner *in, const gp__msg *w, gp_record *recs, int64_t *ts)
{
    size_t pos = 0;
    for (int32_t i = 0; i < in->count; i++) {
        size_t size = gu_be32(in->p + pos + 8);
        gp__msg m;
        const char *why;
        uint32_t s, c;
        (void)gp__parse_msg(in->p + pos + GP_LEGACY_LOG_OVERHEAD, size, &m, &why, &s, &c);
        recs[i] = (gp_record){.key = m.key, .value = m.value, .headers = {NULL, 0}};
        if (w->magic == 0)
            ts[i] = -1;
        else if (w->attributes & GP_LEGACY_ATTR_LOG_APPEND_TIME)
            ts[i] = w->timestamp;
        else
            ts[i] = m.timestamp;
        pos += GP_LEGACY_LOG_OVERHEAD + size;
    }
}

static int64_t gp__add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b); /* wraps like Java's long */
}

static int64_t gp__sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

/*
 * Pass 1 frames and checks every top-level entry, in the order Kafka's
 * ByteBufferLogInputStream and analyzeAndValidateRecords do (size, magic,
 * partial, size limit, CRC); the rules of LogValidator come after. Pass 2
 * collects the records, from the entries or from the one wrapper.
 */
int gp_legacy_upconvert(const uint8_t *p, size_t len, const gp_batch_limits *lim, gp_arena *a, gp_bytes *out_batch,
                        int16_t *kafka_error, const char **msg)
{
    *kafka_error = GP_E_NONE;
    *msg = NULL;
    *out_batch = (gp_bytes){NULL, 0};
    gp__up u = {lim, a, kafka_error, msg};

    size_t pos = 0;
    int32_t k = 0, ncompressed = 0;
    int8_t magic = -1;
    gp__msg first = {0};
    while (pos < len) {
        size_t left = len - pos;
        if (left < GP_LEGACY_LOG_OVERHEAD)
            break; /* a partial entry at the end: trimmed, as Kafka does */
        int32_t size = (int32_t)gu_be32(p + pos + 8);
        if (size < GP_LEGACY_RECORD_OVERHEAD_V0)
            return gp__fail(&u, GP_E_CORRUPT_MESSAGE, "message %d: size %d is below the minimum %d", k, size,
                            GP_LEGACY_RECORD_OVERHEAD_V0);
        if (left > GP_LEGACY_LOG_OVERHEAD + 4) {
            int8_t m = (int8_t)p[pos + GP_LEGACY_LOG_OVERHEAD + 4];
            if (m < 0 || m > GP_BATCH_MAGIC)
                return gp__fail(&u, GP_E_CORRUPT_MESSAGE, "message %d: invalid magic %d", k, m);
        }
        if ((size_t)size > left - GP_LEGACY_LOG_OVERHEAD)
            break; /* likewise */
        if (lim->max_batch_bytes && (size_t)size + GP_LEGACY_LOG_OVERHEAD > lim->max_batch_bytes)
            return gp__fail(&u, GP_E_MESSAGE_TOO_LARGE, "message %d: %d bytes exceed max.message.bytes %zu", k,
                            size + GP_LEGACY_LOG_OVERHEAD, lim->max_batch_bytes);
        int8_t m = (int8_t)p[pos + GP_LEGACY_LOG_OVERHEAD + 4];
        if (m == GP_BATCH_MAGIC || (k > 0 && m != magic))
            return gp__fail(&u, GP_E_INVALID_RECORD, "message %d: magic %d is not the same as the first message's %d",
                            k, m, k > 0 ? magic : -1);
        gp__msg cur;
        const char *why;
        uint32_t stored, computed;
        int rc = gp__parse_msg(p + pos + GP_LEGACY_LOG_OVERHEAD, (size_t)size, &cur, &why, &stored, &computed);
        if (rc == GP__MSG_CRC)
            return gp__fail(&u, GP_E_CORRUPT_MESSAGE, "message %d is corrupt (stored crc %u, computed crc %u)", k,
                            stored, computed);
        if (rc != GP__MSG_OK)
            return gp__fail(&u, GP_E_CORRUPT_MESSAGE, "message %d: %s", k, why);
        cur.offset = (int64_t)gu_be64(p + pos);
        if (k == 0) {
            magic = m;
            first = cur;
        }
        if (cur.attributes & GP_LEGACY_ATTR_CODEC_MASK)
            ncompressed++;
        pos += GP_LEGACY_LOG_OVERHEAD + (size_t)size;
        k++;
    }
    if (k == 0)
        return 0; /* nothing whole: nothing to append, no error (Kafka 3.9's answer) */
    if (ncompressed > 0 && k > 1)
        return gp__fail(&u, GP_E_INVALID_RECORD, "a compressed message must be the only one in its message set (%d)",
                        k);

    gp_record *recs;
    int64_t *ts;
    int32_t n;
    bool log_append_time = magic == 1 && (first.attributes & GP_LEGACY_ATTR_LOG_APPEND_TIME);
    int codec = first.attributes & GP_LEGACY_ATTR_CODEC_MASK;
    if (ncompressed) {
        gp__inner in;
        int rc = gp__open_wrapper(&u, 0, &first, &in);
        if (rc)
            return rc;
        n = in.count;
        recs = gp_arena_calloc(a, (size_t)n, sizeof *recs);
        ts = gp_arena_calloc(a, (size_t)n, sizeof *ts);
        gp__inner_records(&in, &first, recs, ts);
    } else {
        n = k;
        recs = gp_arena_calloc(a, (size_t)n, sizeof *recs);
        ts = gp_arena_calloc(a, (size_t)n, sizeof *ts);
        pos = 0;
        for (int32_t i = 0; i < n; i++) {
            size_t size = gu_be32(p + pos + 8);
            gp__msg m;
            const char *why;
            uint32_t s, c;
            (void)gp__parse_msg(p + pos + GP_LEGACY_LOG_OVERHEAD, size, &m, &why, &s, &c);
            recs[i] = (gp_record){.key = m.key, .value = m.value, .headers = {NULL, 0}};
            ts[i] = m.timestamp;
            if (magic == 1 && (m.attributes & GP_LEGACY_ATTR_LOG_APPEND_TIME))
                log_append_time = true;
            pos += GP_LEGACY_LOG_OVERHEAD + size;
        }
    }
    int64_t max_ts = ts[0];
    for (int32_t i = 0; i < n; i++) {
        recs[i].timestamp_delta = gp__sub(ts[i], ts[0]);
        recs[i].offset_delta = i;
        if (ts[i] > max_ts)
            max_ts = ts[i];
    }
    gp_batch_params bp = {
        .base_offset = 0,
        .partition_leader_epoch = -1,
        .base_timestamp = ts[0],
        .log_append_time = log_append_time,
        .log_append_time_ms = max_ts,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .codec = codec,
        .level = GP_COMPRESS_LEVEL_DEFAULT,
    };
    int rc = gp_batch_build(a, &bp, recs, n, out_batch);
    if (rc)
        return gp__fail(&u, GP_E_INVALID_RECORD, "cannot build a record batch of %d records: %s", n,
                        rc == GP_BATCH_ERR_INVALID ? "too large" : gp_compress_strerror(rc));
    return 0;
}

/* ---- down-conversion ----------------------------------------------------- */

static size_t gp__blob_size(gp_bytes b)
{
    return 4 + (b.len > 0 ? (size_t)b.len : 0);
}

/* Bytes of a message (without its 12-byte offset and size). */
static size_t gp__msg_size(int8_t magic, gp_bytes key, gp_bytes value)
{
    return gp__overhead(magic) - 8 + gp__blob_size(key) + gp__blob_size(value);
}

static void gp__write_blob(gp_writer *w, gp_bytes b)
{
    gp_write_int32(w, b.len < 0 ? -1 : b.len);
    if (b.len > 0)
        gp_write_bytes_raw(w, b.p, (size_t)b.len);
}

/* One entry: offset, size, and the message with its CRC. */
static void gp__write_msg(gp_writer *w, int64_t offset, int8_t magic, int8_t attributes, int64_t timestamp,
                          gp_bytes key, gp_bytes value)
{
    gp_write_int64(w, offset);
    gp_write_int32(w, (int32_t)gp__msg_size(magic, key, value));
    uint8_t *crc = gp_write_raw(w, 4);
    const uint8_t *from = w->p;
    gp_write_int8(w, magic);
    gp_write_int8(w, attributes);
    if (magic == 1)
        gp_write_int64(w, timestamp);
    gp__write_blob(w, key);
    gp__write_blob(w, value);
    uint32_t c = gp__crc32(from, (size_t)(w->p - from));
    crc[0] = (uint8_t)(c >> 24);
    crc[1] = (uint8_t)(c >> 16);
    crc[2] = (uint8_t)(c >> 8);
    crc[3] = (uint8_t)c;
}

/* What a batch's records come to. */
typedef struct gp__down_sizes {
    size_t bytes; /* of the entries (inner ones for a compressed batch) */
    int32_t count;
    int64_t first_offset, last_offset;
    int64_t max_timestamp; /* -1 if none larger, as MemoryRecordsBuilder */
} gp__down_sizes;

/* Walk the records once to size them, once more (w set) to write them. */
static int gp__down_records(const gp_batch_header *h, const uint8_t *records, size_t rlen, int8_t to_magic,
                            int64_t first_offset, bool compressed, gp_writer *w, gp__down_sizes *s)
{
    bool lat = to_magic == 1 && gp_batch_is_log_append_time(h);
    int8_t attr = lat ? GP_LEGACY_ATTR_LOG_APPEND_TIME : 0;
    memset(s, 0, sizeof *s);
    s->max_timestamp = -1;
    gp_record_iter it;
    gp_record_iter_init(&it, records, rlen, h->records_count);
    gp_record rec;
    int rc;
    while ((rc = gp_record_next(&it, &rec)) == 1) {
        int64_t off = gp__add(h->base_offset, rec.offset_delta);
        if (!compressed && off < first_offset)
            continue;
        int64_t ts = to_magic == 0 ? -1 : lat ? h->max_timestamp : gp__add(h->base_timestamp, rec.timestamp_delta);
        if (s->count == 0)
            s->first_offset = off;
        s->last_offset = off;
        if (ts > s->max_timestamp)
            s->max_timestamp = ts;
        if (w) {
            int64_t at = compressed && to_magic == 1 ? gp__sub(off, s->first_offset) : off;
            gp__write_msg(w, at, to_magic, attr, ts, rec.key, rec.value);
        } else {
            s->bytes += GP_LEGACY_LOG_OVERHEAD + gp__msg_size(to_magic, rec.key, rec.value);
            if (s->bytes > INT32_MAX)
                return GP_LEGACY_ERR_CORRUPT;
        }
        s->count++;
    }
    return rc == 0 ? 0 : GP_LEGACY_ERR_CORRUPT;
}

/* One whole v2 batch to zero or more entries (*piece; len 0 for none). */
static int gp__down_batch(const uint8_t *bp, size_t size, int8_t to_magic, int64_t first_offset, gp_arena *a,
                          gp_bytes *piece, int32_t *messages)
{
    gp_batch_header h;
    (void)gp_batch_header_parse(bp, size, &h);
    *piece = (gp_bytes){NULL, 0};
    if (gp_batch_is_control(&h))
        return 0;
    int codec = gp_batch_codec(&h);
    if (codec == GP_CODEC_ZSTD)
        return GP_LEGACY_ERR_ZSTD;
    if (codec > GP_CODEC_ZSTD || h.records_count < 0)
        return GP_LEGACY_ERR_CORRUPT;
    const uint8_t *records = bp + GP_BATCH_HEADER_SIZE;
    size_t rlen = size - GP_BATCH_HEADER_SIZE;
    if (codec != GP_CODEC_NONE &&
        gp_decompress(codec, records, rlen, a, GP_BATCH_DEFAULT_MAX_UNCOMPRESSED, &records, &rlen) != 0)
        return GP_LEGACY_ERR_CORRUPT;

    bool compressed = codec != GP_CODEC_NONE;
    gp__down_sizes s;
    int rc = gp__down_records(&h, records, rlen, to_magic, first_offset, compressed, NULL, &s);
    if (rc)
        return rc;
    if (s.count == 0)
        return 0;
    uint8_t *buf = gp_arena_alloc(a, s.bytes);
    gp_writer w;
    gp_writer_init(&w, buf, s.bytes);
    gp__down_sizes again;
    (void)gp__down_records(&h, records, rlen, to_magic, first_offset, compressed, &w, &again);
    if (!compressed) {
        *piece = (gp_bytes){buf, (int32_t)s.bytes};
        *messages += s.count;
        return 0;
    }

    size_t bound = gp_compress_bound(codec, s.bytes);
    uint8_t *z = gp_arena_alloc(a, bound);
    size_t zlen;
    if (gp_compress(codec, GP_COMPRESS_LEVEL_DEFAULT, buf, s.bytes, z, bound, &zlen) != 0 || zlen > INT32_MAX / 2)
        return GP_LEGACY_ERR_CORRUPT;
    size_t hs;
    if (codec == GP_CODEC_LZ4 && to_magic == 0 && (hs = gp__lz4_header_size(z, zlen)) != 0)
        z[hs - 1] = gp__lz4_hc(z, hs, true); /* what Kafka's magic 0 readers check */
    bool lat = to_magic == 1 && gp_batch_is_log_append_time(&h);
    gp_bytes key = {NULL, -1}, value = {z, (int32_t)zlen};
    size_t wsize = GP_LEGACY_LOG_OVERHEAD + gp__msg_size(to_magic, key, value);
    uint8_t *wrapper = gp_arena_alloc(a, wsize);
    gp_writer_init(&w, wrapper, wsize);
    int8_t attr = (int8_t)(codec | (lat ? GP_LEGACY_ATTR_LOG_APPEND_TIME : 0));
    gp__write_msg(&w, s.last_offset, to_magic, attr, lat ? h.max_timestamp : s.max_timestamp, key, value);
    *piece = (gp_bytes){wrapper, (int32_t)wsize};
    *messages += 1;
    return 0;
}

/*
 * Frame the whole batches first (a partial one at the end ends the input),
 * convert each into a piece of its own, then join the pieces: the output is
 * sized before it is written, at the price of one copy.
 */
int gp_legacy_downconvert(const uint8_t *batches, size_t len, int8_t to_magic, int64_t first_offset, gp_arena *a,
                          gp_bytes *out, gp_legacy_down *info)
{
    gp_legacy_down d = {0, 0, -1, 0};
    *out = (gp_bytes){NULL, 0};
    if (info)
        *info = d;
    if (to_magic != 0 && to_magic != 1)
        return GP_LEGACY_ERR_MAGIC;

    size_t pos = 0;
    int32_t nb = 0;
    while (len - pos >= GP_BATCH_HEADER_SIZE) {
        uint32_t bl = gu_be32(batches + pos + GP_BATCH_OFF_LENGTH);
        if (bl > INT32_MAX || bl + (size_t)GP_BATCH_LOG_OVERHEAD < GP_BATCH_HEADER_SIZE ||
            batches[pos + GP_BATCH_OFF_MAGIC] != GP_BATCH_MAGIC)
            return GP_LEGACY_ERR_CORRUPT;
        if (bl > len - pos - GP_BATCH_LOG_OVERHEAD)
            break;
        pos += GP_BATCH_LOG_OVERHEAD + (size_t)bl;
        nb++;
    }
    gp_bytes *pieces = gp_arena_calloc(a, nb ? (size_t)nb : 1, sizeof *pieces);
    size_t total = 0;
    pos = 0;
    for (int32_t k = 0; k < nb; k++) {
        size_t size = GP_BATCH_LOG_OVERHEAD + gu_be32(batches + pos + GP_BATCH_OFF_LENGTH);
        int rc = gp__down_batch(batches + pos, size, to_magic, first_offset, a, &pieces[k], &d.messages);
        if (rc)
            return rc;
        total += (size_t)pieces[k].len;
        if (total > INT32_MAX)
            return GP_LEGACY_ERR_CORRUPT;
        int64_t base = (int64_t)gu_be64(batches + pos);
        int32_t lod = (int32_t)gu_be32(batches + pos + GP_BATCH_OFF_LAST_OFFSET_DELTA);
        d.next_offset = gp__add(gp__add(base, lod), 1);
        pos += size;
    }
    d.consumed = pos;
    d.batches = nb;
    uint8_t *buf = gp_arena_alloc(a, total);
    size_t at = 0;
    for (int32_t k = 0; k < nb; k++) {
        if (pieces[k].len > 0)
            memcpy(buf + at, pieces[k].p, (size_t)pieces[k].len);
        at += (size_t)pieces[k].len;
    }
    *out = (gp_bytes){buf, (int32_t)total};
    if (info)
        *info = d;
    return 0;
}
