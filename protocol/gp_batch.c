/*
 * Record batch v2: header, validation, record iteration, building. See
 * gp_batch.h for the layout. The rules follow Kafka's DefaultRecordBatch,
 * DefaultRecord and LogValidator, and are stricter where noted.
 */
#include "protocol/gp_batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "protocol/gp_crc32c.h"
#include "protocol/gp_errors.h"

/* Kafka's smallest batch length of any magic (LegacyRecord.RECORD_OVERHEAD_V0),
 * checked before the magic is looked at. */
#define GX_MIN_ANY_LENGTH 14
#define GX_CONTROL_KEY_SIZE 4
#define GX_TXN_MARKER_VALUE_SIZE 6

/* ---- header -------------------------------------------------------------- */

int gp_batch_header_parse(const uint8_t *p, size_t len, gp_batch_header *h)
{
    if (len < GP_BATCH_HEADER_SIZE)
        return GP_ERR_TRUNCATED;
    gp_reader r;
    gp_reader_init(&r, p, GP_BATCH_HEADER_SIZE);
    h->base_offset = gp_read_int64(&r);
    h->batch_length = gp_read_int32(&r);
    h->partition_leader_epoch = gp_read_int32(&r);
    h->magic = gp_read_int8(&r);
    h->crc = gp_read_uint32(&r);
    h->attributes = gp_read_int16(&r);
    h->last_offset_delta = gp_read_int32(&r);
    h->base_timestamp = gp_read_int64(&r);
    h->max_timestamp = gp_read_int64(&r);
    h->producer_id = gp_read_int64(&r);
    h->producer_epoch = gp_read_int16(&r);
    h->base_sequence = gp_read_int32(&r);
    h->records_count = gp_read_int32(&r);
    return r.err;
}

static void gp__put(uint8_t *batch, size_t off, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        batch[off + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t gp__get(const uint8_t *batch, size_t off, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | batch[off + i];
    return v;
}

void gp_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    gp__put(batch, GP_BATCH_OFF_BASE_OFFSET, 8, (uint64_t)base_offset);
}

void gp_batch_set_partition_leader_epoch(uint8_t *batch, int32_t epoch)
{
    gp__put(batch, GP_BATCH_OFF_PARTITION_LEADER_EPOCH, 4, (uint32_t)epoch);
}

bool gp_batch_set_max_timestamp(uint8_t *batch, int64_t max_timestamp, bool log_append_time)
{
    uint16_t attr = (uint16_t)gp__get(batch, GP_BATCH_OFF_ATTRIBUTES, 2);
    uint16_t nattr =
        log_append_time ? attr | GP_BATCH_ATTR_LOG_APPEND_TIME : attr & (uint16_t)~GP_BATCH_ATTR_LOG_APPEND_TIME;
    if (nattr == attr && gp__get(batch, GP_BATCH_OFF_MAX_TIMESTAMP, 8) == (uint64_t)max_timestamp)
        return false;
    gp__put(batch, GP_BATCH_OFF_ATTRIBUTES, 2, nattr);
    gp__put(batch, GP_BATCH_OFF_MAX_TIMESTAMP, 8, (uint64_t)max_timestamp);
    return true;
}

uint32_t gp_batch_crc(const uint8_t *batch, size_t size)
{
    return gp_crc32c(0, batch + GP_BATCH_OFF_ATTRIBUTES, size - GP_BATCH_OFF_ATTRIBUTES);
}

void gp_batch_update_crc(uint8_t *batch, size_t size)
{
    gp__put(batch, GP_BATCH_OFF_CRC, 4, gp_batch_crc(batch, size));
}

/* ---- records ------------------------------------------------------------- */

/*
 * gp_read_varint and gp_read_varlong with their one- and two-byte cases
 * inline: nearly every record field is that small, and validation reads six
 * or more per record. Longer ones, the end of input and a reader already
 * failed go to the codec's readers (a failed reader has p == end).
 */
static inline bool gp__short_uvarint(gp_reader *r, uint32_t *u)
{
    const uint8_t *p = r->p;
    size_t left = (size_t)(r->end - p);
    if (left >= 1 && !(p[0] & 0x80)) {
        *u = p[0];
        r->p = p + 1;
        return true;
    }
    if (left >= 2 && !(p[1] & 0x80)) {
        *u = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
        r->p = p + 2;
        return true;
    }
    return false;
}

static inline int32_t gp__varint(gp_reader *r)
{
    uint32_t u;
    if (gp__short_uvarint(r, &u))
        return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return gp_read_varint(r);
}

static inline int64_t gp__varlong(gp_reader *r)
{
    uint32_t u;
    if (gp__short_uvarint(r, &u))
        return (int64_t)(int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return gp_read_varlong(r);
}

static const char *const gp__past_end = "record fields run past the record's length";

/* A length-prefixed byte string inside a record; -1 is null. */
static const char *gp__read_blob(gp_reader *b, gp_bytes *out, const char *negative, const char *too_long)
{
    int32_t n = gp__varint(b);
    if (b->err)
        return gp__past_end;
    if (n < -1)
        return negative;
    if (n == -1) {
        *out = (gp_bytes){NULL, -1};
        return NULL;
    }
    if ((size_t)n > gp_reader_left(b))
        return too_long;
    out->p = b->p;
    out->len = n;
    b->p += n;
    return NULL;
}

/* One header; the reader is bounded by the record (or the headers view). */
static const char *gp__read_header(gp_reader *b, gp_record_header *h)
{
    int32_t kl = gp__varint(b);
    if (b->err)
        return gp__past_end;
    if (kl < 0)
        return "header key is null or has a negative length";
    if ((size_t)kl > gp_reader_left(b))
        return "header key runs past the record's length";
    h->key = (gp_bytes){b->p, kl};
    b->p += kl;
    return gp__read_blob(b, &h->value, "header value has a negative length",
                         "header value runs past the record's length");
}

/*
 * Read one record at r. Its length varint bounds a reader of its own, so no
 * field can reach into the next record, and every byte it declares must be
 * used by its fields (DefaultRecord.readFrom's rule). NULL, or what is wrong.
 */
static const char *gp__read_record(gp_reader *r, gp_record *rec)
{
    int32_t len = gp__varint(r);
    if (r->err)
        return r->err == GP_ERR_VARINT ? "record length is not a valid varint" : "record length is truncated";
    if (len < 0)
        return "negative record length";
    if ((size_t)len > gp_reader_left(r))
        return "record length runs past the end of the batch";
    gp_reader b;
    gp_reader_init(&b, r->p, (size_t)len);
    r->p += len;

    rec->attributes = gp_read_int8(&b);
    rec->timestamp_delta = gp__varlong(&b);
    rec->offset_delta = gp__varint(&b);
    if (b.err)
        return gp__past_end;
    const char *why = gp__read_blob(&b, &rec->key, "negative key length", "key runs past the record's length");
    if (why)
        return why;
    why = gp__read_blob(&b, &rec->value, "negative value length", "value runs past the record's length");
    if (why)
        return why;
    int32_t hc = gp__varint(&b);
    if (b.err)
        return gp__past_end;
    if (hc < 0)
        return "negative header count";
    if ((size_t)hc > gp_reader_left(&b))
        return "header count exceeds the record's remaining bytes";
    const uint8_t *hs = b.p;
    for (int32_t i = 0; i < hc; i++) {
        gp_record_header h;
        if ((why = gp__read_header(&b, &h)) != NULL)
            return why;
    }
    rec->header_count = hc;
    rec->headers = (gp_bytes){hs, (int32_t)(b.p - hs)};
    if (gp_reader_left(&b) != 0)
        return "record length is larger than its fields";
    return NULL;
}

void gp_record_iter_init(gp_record_iter *it, const uint8_t *records, size_t len, int32_t count)
{
    gp_reader_init(&it->r, records, len);
    it->left = count > 0 ? count : 0;
    it->why = NULL;
}

int gp_record_next(gp_record_iter *it, gp_record *rec)
{
    if (it->why)
        return GP_BATCH_ERR_INVALID;
    if (it->left == 0)
        return 0;
    if ((it->why = gp__read_record(&it->r, rec)) != NULL)
        return GP_BATCH_ERR_INVALID;
    it->left--;
    return 1;
}

void gp_header_iter_init(gp_header_iter *it, const gp_record *rec)
{
    gp_reader_init(&it->r, rec->headers.p, rec->headers.len > 0 ? (size_t)rec->headers.len : 0);
    it->left = rec->header_count > 0 ? rec->header_count : 0;
}

int gp_header_next(gp_header_iter *it, gp_record_header *h)
{
    if (it->left == 0)
        return 0;
    if (gp__read_header(&it->r, h) != NULL) {
        it->left = 0;
        return GP_BATCH_ERR_INVALID;
    }
    it->left--;
    return 1;
}

static size_t gp__blob_size(gp_bytes b)
{
    return b.len < 0 ? 1 : gp_size_varint(b.len) + (size_t)b.len;
}

static void gp__write_blob(gp_writer *w, gp_bytes b)
{
    if (b.len < 0) {
        gp_write_varint(w, -1);
        return;
    }
    gp_write_varint(w, b.len);
    gp_write_bytes_raw(w, b.p, (size_t)b.len);
}

gp_bytes gp_record_headers_encode(gp_arena *a, const gp_record_header *h, int32_t n)
{
    size_t size = 0;
    for (int32_t i = 0; i < n; i++)
        size += gp__blob_size(h[i].key) + gp__blob_size(h[i].value);
    if (size > INT32_MAX)
        abort();
    uint8_t *buf = gp_arena_alloc(a, size);
    gp_writer w;
    gp_writer_init(&w, buf, size);
    for (int32_t i = 0; i < n; i++) {
        gp__write_blob(&w, h[i].key);
        gp__write_blob(&w, h[i].value);
    }
    return (gp_bytes){buf, (int32_t)size};
}

/* ---- control records ----------------------------------------------------- */

int gp_control_record_parse(const gp_record *rec, gp_txn_marker *m, const char **why)
{
    if (rec->key.len < GX_CONTROL_KEY_SIZE) {
        *why = "control record key is shorter than 4 bytes";
        return GP_BATCH_ERR_INVALID;
    }
    gp_reader r;
    gp_reader_init(&r, rec->key.p, (size_t)rec->key.len);
    int16_t version = gp_read_int16(&r);
    int16_t type = gp_read_int16(&r);
    if (version < 0) {
        *why = "control record key has a negative version";
        return GP_BATCH_ERR_INVALID;
    }
    if (type != GP_CONTROL_ABORT && type != GP_CONTROL_COMMIT) {
        *why = "control record type is neither ABORT nor COMMIT";
        return GP_BATCH_ERR_INVALID;
    }
    if (rec->value.len < GX_TXN_MARKER_VALUE_SIZE) {
        *why = "transaction marker value is shorter than 6 bytes";
        return GP_BATCH_ERR_INVALID;
    }
    gp_reader_init(&r, rec->value.p, (size_t)rec->value.len);
    if (gp_read_int16(&r) < 0) {
        *why = "transaction marker value has a negative version";
        return GP_BATCH_ERR_INVALID;
    }
    m->type = type;
    m->coordinator_epoch = gp_read_int32(&r);
    return 0;
}

/* ---- validation ---------------------------------------------------------- */

typedef struct gp__val {
    const gp_batch_limits *lim;
    gp_arena *scratch;
    gp_batch_info *out;
    int16_t *kafka_error;
    const char **msg;
} gp__val;

static int gp__fail(gp__val *v, int16_t code, int32_t batch, int32_t record, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int gp__fail(gp__val *v, int16_t code, int32_t batch, int32_t record, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *v->msg = gp_arena_vprintf(v->scratch, fmt, ap);
    va_end(ap);
    *v->kafka_error = code;
    v->out->error_batch = batch;
    v->out->error_record = record;
    return GP_BATCH_ERR_INVALID;
}

static int64_t gp__add_ts(int64_t base, int64_t delta)
{
    return (int64_t)((uint64_t)base + (uint64_t)delta); /* wraps like Java's long */
}

/*
 * The records of batch k, in one pass: count, structure, offset deltas,
 * timestamps, keys, and the control record.
 */
static int gp__walk_records(gp__val *v, int32_t k, gp_batch_summary *s)
{
    gp_reader r;
    gp_reader_init(&r, s->records, s->records_len);
    int32_t count = s->h.records_count;
    bool control = gp_batch_is_control(&s->h);
    size_t max_record = gp_batch_codec(&s->h) != GP_CODEC_NONE ? v->lim->max_record_bytes : 0;
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    int32_t max_delta = -1;
    bool all_keys = true;
    for (int32_t i = 0; i < count; i++) {
        if (gp_reader_left(&r) == 0)
            return gp__fail(v, GP_E_INVALID_RECORD, k, i,
                            "batch %d declares %d records but holds %d (premature end of batch)", k, count, i);
        gp_record rec;
        gp_reader peek = r;
        int32_t body = gp_read_varint(&peek);
        const char *why = gp__read_record(&r, &rec);
        if (why)
            return gp__fail(v, GP_E_INVALID_RECORD, k, i, "batch %d record %d: %s", k, i, why);
        if (max_record && (size_t)body > max_record)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1,
                            "batch %d record %d: %d bytes decompressed exceed max.decompressed.message.bytes %zu", k,
                            i, body, max_record);
        if (rec.offset_delta != i)
            return gp__fail(v, GP_E_INVALID_RECORD, k, i, "batch %d record %d: offset delta %d, expected %d", k, i,
                            rec.offset_delta, i);
        int64_t ts = gp__add_ts(s->h.base_timestamp, rec.timestamp_delta);
        if (ts < min_ts)
            min_ts = ts;
        if (ts > max_ts || max_delta < 0) {
            max_ts = ts;
            max_delta = i;
        }
        if (rec.key.len < 0)
            all_keys = false;
        if (control) {
            if (gp_control_record_parse(&rec, &s->marker, &why) != 0)
                return gp__fail(v, GP_E_INVALID_RECORD, k, i, "batch %d: %s", k, why);
            s->marker.producer_id = s->h.producer_id;
            s->marker.producer_epoch = s->h.producer_epoch;
            s->marker.timestamp = ts;
        }
    }
    if (gp_reader_left(&r) != 0)
        return gp__fail(v, GP_E_INVALID_RECORD, k, -1,
                        "batch %d declares %d records but %zu bytes follow them (records still remaining)", k, count,
                        gp_reader_left(&r));
    s->min_timestamp = count ? min_ts : -1;
    s->max_timestamp = count ? max_ts : -1;
    s->max_timestamp_delta = max_delta;
    s->all_keys = all_keys;
    return 0;
}

/* Batch k, framed already: its CRC, header fields, and records. */
static int gp__validate_batch(gp__val *v, int32_t k, const uint8_t *bp, gp_batch_summary *s)
{
    const gp_batch_limits *lim = v->lim;
    gp_batch_header *h = &s->h;
    (void)gp_batch_header_parse(bp, s->size, h); /* framing made sure of its 61 bytes */

    uint32_t crc = gp_batch_crc(bp, s->size);
    if (crc != h->crc)
        return gp__fail(v, GP_E_CORRUPT_MESSAGE, k, -1, "batch %d: CRC-32C mismatch (stored %08x, computed %08x)", k,
                        h->crc, crc);
    int codec = gp_batch_codec(h);
    if (codec >= GP_CODEC_COUNT)
        return gp__fail(v, GP_E_UNSUPPORTED_COMPRESSION_TYPE, k, -1, "batch %d: unknown compression codec %d", k,
                        codec);
    if (h->records_count < 0)
        return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: negative records count %d", k, h->records_count);
    if (h->records_count == 0 && lim->from_client)
        return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: a producer's batch holds no records", k);
    if (h->records_count > 0 && h->last_offset_delta != h->records_count - 1)
        return gp__fail(v, GP_E_INVALID_RECORD, k, -1,
                        "batch %d: lastOffsetDelta %d inconsistent with records count %d", k, h->last_offset_delta,
                        h->records_count);
    if (gp_batch_is_control(h)) {
        if (lim->from_client)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: clients may not write control batches", k);
        if (h->records_count != 1)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: a control batch holds %d records, not 1", k,
                            h->records_count);
    }
    if (lim->from_client && h->producer_id >= 0 && h->base_sequence < 0)
        return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: invalid base sequence %d with producer id %lld", k,
                        h->base_sequence, (long long)h->producer_id);
    if (k > 0) {
        const gp_batch_header *h0 = &v->out->first.h;
        if (h->producer_id != h0->producer_id || h->producer_epoch != h0->producer_epoch)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1,
                            "batch %d: producer %lld epoch %d differs from batch 0's producer %lld epoch %d", k,
                            (long long)h->producer_id, h->producer_epoch, (long long)h0->producer_id,
                            h0->producer_epoch);
        if (gp_batch_is_transactional(h) != gp_batch_is_transactional(h0))
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: transactional flag differs from batch 0's", k);
    }

    s->records = bp + GP_BATCH_HEADER_SIZE;
    s->records_len = s->size - GP_BATCH_HEADER_SIZE;
    if (codec != GP_CODEC_NONE) {
        size_t cap = lim->max_uncompressed ? lim->max_uncompressed : GP_BATCH_DEFAULT_MAX_UNCOMPRESSED;
        /* Every record within max_record_bytes (and its length varint, at
         * most 5 bytes): the records cannot take more. */
        bool by_record = false;
        if (lim->max_record_bytes && h->records_count > 0 &&
            (uint64_t)h->records_count * ((uint64_t)lim->max_record_bytes + 5) < (uint64_t)cap) {
            cap = (size_t)((uint64_t)h->records_count * ((uint64_t)lim->max_record_bytes + 5));
            by_record = true;
        }
        int rc = gp_decompress(codec, s->records, s->records_len, v->scratch, cap, &s->records, &s->records_len);
        if (rc == GP_COMPRESS_ERR_TOO_LARGE && by_record)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1,
                            "batch %d: %s records of %d exceed max.decompressed.message.bytes %zu each", k,
                            gp_codec_name(codec), h->records_count, lim->max_record_bytes);
        if (rc == GP_COMPRESS_ERR_TOO_LARGE) {
            v->out->over_uncompressed = true;
            return gp__fail(v, GP_E_MESSAGE_TOO_LARGE, k, -1, "batch %d: %s records exceed %zu bytes uncompressed", k,
                            gp_codec_name(codec), cap);
        }
        if (rc)
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: %s: %s", k, gp_codec_name(codec),
                            gp_compress_strerror(rc));
    }
    return gp__walk_records(v, k, s);
}

/*
 * Frame the blob: find each batch by its length prefix, without reading
 * further, so that the number of batches is known before any is validated
 * and old-format or partial data is told apart first, as Kafka's
 * ByteBufferLogInputStream.nextBatchSize orders its checks.
 */
static int gp__frame(gp__val *v, const uint8_t *p, size_t len, int32_t *nbatches)
{
    const gp_batch_limits *lim = v->lim;
    size_t pos = 0;
    int32_t k = 0;
    while (pos < len) {
        size_t left = len - pos;
        /* A partial batch: Kafka's iterator stops there (nextBatch is null).
         * From a client, a first batch that is partial leaves the request
         * without any batch, which Kafka refuses as INVALID_RECORD; a partial
         * batch after complete ones is refused here as corrupt. */
        int16_t partial = k == 0 && lim->from_client ? GP_E_INVALID_RECORD : GP_E_CORRUPT_MESSAGE;
        if (left < GP_BATCH_LOG_OVERHEAD)
            return gp__fail(v, partial, k, -1, "batch %d: only %zu bytes, a partial batch", k, left);
        int32_t bl = (int32_t)gu_be32(p + pos + GP_BATCH_OFF_LENGTH);
        if (bl < GX_MIN_ANY_LENGTH)
            return gp__fail(v, GP_E_CORRUPT_MESSAGE, k, -1, "batch %d: length %d is below the minimum %d", k, bl,
                            GX_MIN_ANY_LENGTH);
        if (left > GP_BATCH_OFF_MAGIC) { /* as Kafka: the magic is checked before the length */
            int8_t m = (int8_t)p[pos + GP_BATCH_OFF_MAGIC];
            if (m < 0 || m > GP_BATCH_MAGIC)
                return gp__fail(v, GP_E_CORRUPT_MESSAGE, k, -1, "batch %d: invalid magic %d", k, m);
        }
        if ((size_t)bl > left - GP_BATCH_LOG_OVERHEAD)
            return gp__fail(v, partial, k, -1, "batch %d: length %d but only %zu bytes follow", k, bl,
                            left - GP_BATCH_LOG_OVERHEAD);
        int8_t magic = (int8_t)p[pos + GP_BATCH_OFF_MAGIC];
        if (magic != GP_BATCH_MAGIC) {
            if (k == 0) {
                v->out->magic = magic;
                *v->kafka_error = GP_E_INVALID_RECORD;
                *v->msg = magic == 0 ? "record batches with magic v0 are not supported"
                                     : "record batches with magic v1 are not supported";
                return GP_BATCH_OLD_MAGIC;
            }
            return gp__fail(v, GP_E_INVALID_RECORD, k, -1, "batch %d: magic %d differs from batch 0's magic 2", k,
                            magic);
        }
        if ((size_t)bl + GP_BATCH_LOG_OVERHEAD < GP_BATCH_HEADER_SIZE)
            return gp__fail(v, GP_E_CORRUPT_MESSAGE, k, -1,
                            "batch %d: size %d is smaller than the minimum batch overhead %d", k,
                            bl + GP_BATCH_LOG_OVERHEAD, GP_BATCH_HEADER_SIZE);
        if (lim->max_batch_bytes && (size_t)bl + GP_BATCH_LOG_OVERHEAD > lim->max_batch_bytes)
            return gp__fail(v, GP_E_MESSAGE_TOO_LARGE, k, -1, "batch %d: %d bytes exceed max.message.bytes %zu", k,
                            bl + GP_BATCH_LOG_OVERHEAD, lim->max_batch_bytes);
        pos += (size_t)bl + GP_BATCH_LOG_OVERHEAD;
        k++;
        if (lim->max_batches && k > lim->max_batches)
            return gp__fail(v, GP_E_INVALID_RECORD, -1, -1, "more than %d record batches", lim->max_batches);
    }
    *nbatches = k;
    return 0;
}

int gp_batches_validate(const uint8_t *p, size_t len, const gp_batch_limits *lim, gp_arena *scratch, gp_batch_info *out,
                        int16_t *kafka_error, const char **msg)
{
    memset(out, 0, sizeof *out);
    out->magic = GP_BATCH_MAGIC;
    out->error_batch = -1;
    out->error_record = -1;
    out->min_timestamp = out->max_timestamp = -1;
    out->max_timestamp_delta = -1;
    out->last_offset_delta = -1;
    out->producer_id = -1;
    out->producer_epoch = -1;
    out->base_sequence = -1;
    out->all_keys = true;
    *kafka_error = GP_E_NONE;
    *msg = NULL;
    gp__val v = {lim, scratch, out, kafka_error, msg};

    int32_t nb = 0;
    int rc = gp__frame(&v, p, len, &nb);
    if (rc)
        return rc;
    if (nb == 0) {
        if (lim->from_client)
            return gp__fail(&v, GP_E_INVALID_RECORD, -1, -1, "no record batch");
        return 0;
    }
    if (nb > 1)
        out->rest = gp_arena_calloc(scratch, (size_t)nb - 1, sizeof *out->rest);

    size_t pos = 0;
    int64_t records = 0;
    int64_t max_ts = INT64_MIN, min_ts = INT64_MAX;
    for (int32_t k = 0; k < nb; k++) {
        gp_batch_summary *s = k == 0 ? &out->first : &out->rest[k - 1];
        s->pos = pos;
        s->size = GP_BATCH_LOG_OVERHEAD + gu_be32(p + pos + GP_BATCH_OFF_LENGTH);
        if ((rc = gp__validate_batch(&v, k, p + pos, s)) != 0)
            return rc;
        pos += s->size;
        const gp_batch_header *h = &s->h;
        out->codecs |= (uint8_t)(1u << gp_batch_codec(h));
        if (gp_batch_is_log_append_time(h))
            out->log_append_time = true;
        if (!s->all_keys)
            out->all_keys = false;
        if (h->records_count > 0) {
            if (s->min_timestamp < min_ts)
                min_ts = s->min_timestamp;
            if (s->max_timestamp > max_ts || out->max_timestamp_delta < 0) {
                max_ts = s->max_timestamp;
                out->max_timestamp_delta = records + s->max_timestamp_delta;
            }
        }
        records += h->records_count;
    }
    const gp_batch_header *h0 = &out->first.h;
    out->num_batches = nb;
    out->num_records = records;
    out->last_offset_delta = records - 1;
    if (records > 0) {
        out->min_timestamp = min_ts;
        out->max_timestamp = max_ts;
    }
    out->codec = (uint8_t)gp_batch_codec(h0);
    out->producer_id = h0->producer_id;
    out->producer_epoch = h0->producer_epoch;
    out->base_sequence = h0->base_sequence;
    out->transactional = gp_batch_is_transactional(h0);
    out->control = gp_batch_is_control(h0);
    return 0;
}

/* ---- building ------------------------------------------------------------ */

/* Bytes of a record's body (what its length varint counts). */
static size_t gp__record_body_size(const gp_record *r, int32_t offset_delta)
{
    return 1 + gp_size_varlong(r->timestamp_delta) + gp_size_varint(offset_delta) + gp__blob_size(r->key) +
           gp__blob_size(r->value) + gp_size_varint(r->header_count) +
           (r->headers.len > 0 ? (size_t)r->headers.len : 0);
}

static void gp__write_record(gp_writer *w, const gp_record *r, int32_t offset_delta, size_t body)
{
    gp_write_varint(w, (int32_t)body);
    gp_write_int8(w, r->attributes);
    gp_write_varlong(w, r->timestamp_delta);
    gp_write_varint(w, offset_delta);
    gp__write_blob(w, r->key);
    gp__write_blob(w, r->value);
    gp_write_varint(w, r->header_count);
    if (r->headers.len > 0)
        gp_write_bytes_raw(w, r->headers.p, (size_t)r->headers.len);
}

int gp_batch_build(gp_arena *a, const gp_batch_params *p, const gp_record *recs, int32_t n, gp_bytes *out)
{
    if (n < 1 || (p->codec != GP_CODEC_NONE && !gp_codec_name(p->codec)))
        return GP_BATCH_ERR_INVALID;
    const size_t limit = INT32_MAX - GP_BATCH_HEADER_SIZE;
    size_t records_len = 0;
    int64_t max_ts = INT64_MIN;
    for (int32_t i = 0; i < n; i++) {
        size_t body = gp__record_body_size(&recs[i], p->keep_offset_deltas ? recs[i].offset_delta : i);
        if (body > limit)
            return GP_BATCH_ERR_INVALID;
        records_len += gp_size_varint((int32_t)body) + body;
        if (records_len > limit)
            return GP_BATCH_ERR_INVALID;
        int64_t ts = gp__add_ts(p->base_timestamp, recs[i].timestamp_delta);
        if (ts > max_ts)
            max_ts = ts;
    }

    /* The records, written where they end up when not compressed. */
    uint8_t *buf = NULL, *records;
    size_t size = 0;
    if (p->codec == GP_CODEC_NONE) {
        size = GP_BATCH_HEADER_SIZE + records_len;
        buf = gp_arena_alloc(a, size);
        records = buf + GP_BATCH_HEADER_SIZE;
    } else {
        records = gp_arena_alloc(a, records_len);
    }
    gp_writer w;
    gp_writer_init(&w, records, records_len);
    for (int32_t i = 0; i < n; i++) {
        int32_t delta = p->keep_offset_deltas ? recs[i].offset_delta : i;
        gp__write_record(&w, &recs[i], delta, gp__record_body_size(&recs[i], delta));
    }
    if (p->codec != GP_CODEC_NONE) {
        size_t bound = gp_compress_bound(p->codec, records_len);
        buf = gp_arena_alloc(a, GP_BATCH_HEADER_SIZE + bound);
        size_t clen;
        int rc = gp_compress(p->codec, p->level, records, records_len, buf + GP_BATCH_HEADER_SIZE, bound, &clen);
        if (rc)
            return rc;
        if (clen > limit)
            return GP_BATCH_ERR_INVALID;
        size = GP_BATCH_HEADER_SIZE + clen;
    }

    int16_t attr = (int16_t)p->codec;
    if (p->log_append_time)
        attr |= GP_BATCH_ATTR_LOG_APPEND_TIME;
    if (p->transactional)
        attr |= GP_BATCH_ATTR_TRANSACTIONAL;
    if (p->control)
        attr |= GP_BATCH_ATTR_CONTROL;
    gp_writer_init(&w, buf, GP_BATCH_HEADER_SIZE);
    gp_write_int64(&w, p->base_offset);
    gp_write_int32(&w, (int32_t)(size - GP_BATCH_LOG_OVERHEAD));
    gp_write_int32(&w, p->partition_leader_epoch);
    gp_write_int8(&w, GP_BATCH_MAGIC);
    gp_write_uint32(&w, 0); /* the CRC, below */
    gp_write_int16(&w, attr);
    gp_write_int32(&w, p->keep_offset_deltas ? p->last_offset_delta : n - 1);
    gp_write_int64(&w, p->base_timestamp);
    gp_write_int64(&w, p->log_append_time ? p->log_append_time_ms : max_ts);
    gp_write_int64(&w, p->producer_id);
    gp_write_int16(&w, p->producer_epoch);
    gp_write_int32(&w, p->base_sequence);
    gp_write_int32(&w, n);
    gp_batch_update_crc(buf, size);
    *out = (gp_bytes){buf, (int32_t)size};
    return 0;
}

int gp_batch_build_control(gp_arena *a, int64_t base_offset, int32_t partition_leader_epoch, const gp_txn_marker *m,
                           gp_bytes *out)
{
    if (m->type != GP_CONTROL_ABORT && m->type != GP_CONTROL_COMMIT)
        return GP_BATCH_ERR_INVALID;
    uint8_t key[GX_CONTROL_KEY_SIZE], value[GX_TXN_MARKER_VALUE_SIZE];
    gp_writer w;
    gp_writer_init(&w, key, sizeof key);
    gp_write_int16(&w, 0);
    gp_write_int16(&w, m->type);
    gp_writer_init(&w, value, sizeof value);
    gp_write_int16(&w, 0);
    gp_write_int32(&w, m->coordinator_epoch);
    gp_record rec = {
        .key = {key, sizeof key},
        .value = {value, sizeof value},
        .headers = {NULL, 0},
    };
    gp_batch_params p = {
        .base_offset = base_offset,
        .partition_leader_epoch = partition_leader_epoch,
        .base_timestamp = m->timestamp,
        .producer_id = m->producer_id,
        .producer_epoch = m->producer_epoch,
        .base_sequence = -1,
        .transactional = true,
        .control = true,
        .codec = GP_CODEC_NONE,
    };
    return gp_batch_build(a, &p, &rec, 1, out);
}
