/*
 * Record batch v2 and the compression codecs: batches built by gp_batch_build
 * and by hand, round trips through every codec, every validation error with
 * the Kafka error code it must give, CRC coverage byte by byte, truncation at
 * every byte, decompression bombs, control batches, header rewriting, and
 * reference batches written by a real client library (kafka-python, see
 * tests/golden/batches/make.py).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/gp_batch.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_crc32c.h"
#include "protocol/gp_errors.h"
#include "tu_hex.h"

#define BASE_TS INT64_C(1700000000000)
#define PID 4242
#define PEPOCH 3
#define BASESEQ 17

static const char small_filler[] = "abcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefgh";

static gp_arena arena;

static void setup(void)
{
    gp_arena_init(&arena, NULL, 0);
}

static void teardown(void)
{
    gp_arena_reset(&arena, NULL, 0);
    gp_compress_thread_free();
}

static const gp_batch_limits client_limits = {.max_uncompressed = 1 << 20, .from_client = true};
static const gp_batch_limits broker_limits = {.max_uncompressed = 1 << 20, .from_client = false};

/* ---- helpers ------------------------------------------------------------- */

/* The records of tests/golden/batches/make.py: see its records(). */
static int64_t golden_ts(int i)
{
    return i == 4 ? BASE_TS - 5 : BASE_TS + 7 * i;
}

static gp_bytes str_bytes(gp_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *p = gp_arena_strndup(a, s, n);
    return (gp_bytes){(const uint8_t *)p, (int32_t)n};
}

static gp_record *golden_records(gp_arena *a, int n, const char *filler)
{
    gp_record *recs = gp_arena_calloc(a, (size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++) {
        gp_record *r = &recs[i];
        r->timestamp_delta = golden_ts(i) - BASE_TS;
        r->key = i % 7 == 3 ? (gp_bytes){NULL, -1} : str_bytes(a, gp_arena_printf(a, "key-%d", i));
        r->value = i % 7 == 5 ? (gp_bytes){NULL, -1} : str_bytes(a, gp_arena_printf(a, "value-%d-%s", i, filler));
        if (i % 2 == 0) {
            gp_record_header h[2] = {
                {str_bytes(a, "h1"), str_bytes(a, gp_arena_printf(a, "v1-%d", i))},
                {str_bytes(a, "h2"), {NULL, -1}},
            };
            r->headers = gp_record_headers_encode(a, h, 2);
            r->header_count = 2;
        }
    }
    return recs;
}

static bool bytes_eq_str(gp_bytes b, const char *s)
{
    return b.len >= 0 && (size_t)b.len == strlen(s) && memcmp(b.p, s, (size_t)b.len) == 0;
}

/* Check the records of a validated batch against golden_records(n, filler). */
static void check_golden_records(const gp_batch_summary *s, int n, const char *filler)
{
    char buf[256];
    gp_record_iter it;
    gp_record_iter_init(&it, s->records, s->records_len, s->h.records_count);
    gp_record rec;
    int i = 0, rc;
    while ((rc = gp_record_next(&it, &rec)) == 1) {
        ck_assert_int_eq(rec.offset_delta, i);
        ck_assert(s->h.base_timestamp + rec.timestamp_delta == golden_ts(i));
        if (i % 7 == 3) {
            ck_assert_int_eq(rec.key.len, -1);
        } else {
            snprintf(buf, sizeof buf, "key-%d", i);
            ck_assert(bytes_eq_str(rec.key, buf));
        }
        if (i % 7 == 5) {
            ck_assert_int_eq(rec.value.len, -1);
        } else {
            snprintf(buf, sizeof buf, "value-%d-%s", i, filler);
            ck_assert(bytes_eq_str(rec.value, buf));
        }
        gp_header_iter hi;
        gp_header_iter_init(&hi, &rec);
        gp_record_header h;
        if (i % 2 == 0) {
            ck_assert_int_eq(rec.header_count, 2);
            ck_assert_int_eq(gp_header_next(&hi, &h), 1);
            ck_assert(bytes_eq_str(h.key, "h1"));
            snprintf(buf, sizeof buf, "v1-%d", i);
            ck_assert(bytes_eq_str(h.value, buf));
            ck_assert_int_eq(gp_header_next(&hi, &h), 1);
            ck_assert(bytes_eq_str(h.key, "h2"));
            ck_assert_int_eq(h.value.len, -1);
        } else {
            ck_assert_int_eq(rec.header_count, 0);
        }
        ck_assert_int_eq(gp_header_next(&hi, &h), 0);
        i++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(i, n);
}

static gp_bytes build_golden(gp_arena *a, int codec, int n, const char *filler)
{
    gp_batch_params p = {
        .base_timestamp = BASE_TS,
        .producer_id = PID,
        .producer_epoch = PEPOCH,
        .base_sequence = BASESEQ,
        .codec = codec,
        .level = GP_COMPRESS_LEVEL_DEFAULT,
    };
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(a, &p, golden_records(a, n, filler), n, &out), 0);
    return out;
}

static int validate(const void *p, size_t len, const gp_batch_limits *lim, gp_batch_info *info, int16_t *err,
                    const char **msg)
{
    return gp_batches_validate(p, len, lim, &arena, info, err, msg);
}

/* Validation must fail with Kafka error `code`. */
static void expect_error_lim(const void *p, size_t len, const gp_batch_limits *lim, int16_t code, const char *what)
{
    gp_batch_info info;
    int16_t err;
    const char *msg;
    int rc = validate(p, len, lim, &info, &err, &msg);
    ck_assert_msg(rc == GP_BATCH_ERR_INVALID && err == code, "%s: rc %d, error %s (%d), wanted %s (%d): %s", what, rc,
                  gp_error_name(err), err, gp_error_name(code), code, msg ? msg : "-");
    ck_assert_ptr_nonnull(msg);
}

static void expect_error(const void *p, size_t len, int16_t code, const char *what)
{
    expect_error_lim(p, len, &client_limits, code, what);
}

static void expect_ok_lim(const void *p, size_t len, const gp_batch_limits *lim, gp_batch_info *info)
{
    int16_t err;
    const char *msg;
    int rc = validate(p, len, lim, info, &err, &msg);
    ck_assert_msg(rc == 0, "validation failed: rc %d, %s: %s", rc, gp_error_name(err), msg ? msg : "-");
    ck_assert_int_eq(err, GP_E_NONE);
}

static void expect_ok(const void *p, size_t len, gp_batch_info *info)
{
    expect_ok_lim(p, len, &client_limits, info);
}

static uint8_t *copy(gp_bytes b)
{
    uint8_t *p = gp_arena_alloc(&arena, (size_t)b.len);
    memcpy(p, b.p, (size_t)b.len);
    return p;
}

static void put_be(uint8_t *p, int n, uint64_t v)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/*
 * Hand-written batches: a header around raw record bytes, with a good CRC.
 * Records are written with explicit fields, so that each can be made wrong.
 */
typedef struct raw_rec {
    int32_t len_adjust; /* added to the true body length */
    int32_t offset_delta;
    int64_t ts_delta;
    int32_t key_len; /* written as is; key bytes written only for len > 0 */
    const char *key;
    int32_t value_len;
    const char *value;
    int32_t header_count;
    const uint8_t *headers; /* raw */
    size_t headers_len;
} raw_rec;

static raw_rec rr(int32_t offset_delta, const char *key, const char *value)
{
    return (raw_rec){
        .offset_delta = offset_delta,
        .key_len = key ? (int32_t)strlen(key) : -1,
        .key = key,
        .value_len = value ? (int32_t)strlen(value) : -1,
        .value = value,
    };
}

static size_t write_raw_record(uint8_t *out, const raw_rec *r)
{
    uint8_t body[1024];
    gp_writer w;
    gp_writer_init(&w, body, sizeof body);
    gp_write_int8(&w, 0);
    gp_write_varlong(&w, r->ts_delta);
    gp_write_varint(&w, r->offset_delta);
    gp_write_varint(&w, r->key_len);
    if (r->key_len > 0 && r->key)
        gp_write_bytes_raw(&w, r->key, strlen(r->key));
    gp_write_varint(&w, r->value_len);
    if (r->value_len > 0 && r->value)
        gp_write_bytes_raw(&w, r->value, strlen(r->value));
    gp_write_varint(&w, r->header_count);
    gp_write_bytes_raw(&w, r->headers, r->headers_len);
    size_t body_len = (size_t)(w.p - body);
    gp_writer_init(&w, out, 1100);
    gp_write_varint(&w, (int32_t)body_len + r->len_adjust);
    gp_write_bytes_raw(&w, body, body_len);
    return (size_t)(w.p - out);
}

typedef struct hand {
    int16_t attributes;
    int32_t count;       /* INT32_MIN: the number of records given */
    int32_t last_delta;  /* INT32_MIN: count - 1 */
    int64_t producer_id; /* 0 in tests means -1 */
    int16_t producer_epoch;
    int32_t base_sequence;
} hand;

static size_t hand_batch_raw(uint8_t *out, const hand *hb, const uint8_t *records, size_t records_len, int32_t n)
{
    int32_t count = hb->count == INT32_MIN ? n : hb->count;
    int32_t last = hb->last_delta == INT32_MIN ? count - 1 : hb->last_delta;
    size_t size = GP_BATCH_HEADER_SIZE + records_len;
    gp_writer w;
    gp_writer_init(&w, out, size);
    gp_write_int64(&w, 0);
    gp_write_int32(&w, (int32_t)(size - 12));
    gp_write_int32(&w, -1);
    gp_write_int8(&w, 2);
    gp_write_uint32(&w, 0);
    gp_write_int16(&w, hb->attributes);
    gp_write_int32(&w, last);
    gp_write_int64(&w, BASE_TS);
    gp_write_int64(&w, BASE_TS);
    gp_write_int64(&w, hb->producer_id ? hb->producer_id : -1);
    gp_write_int16(&w, hb->producer_id ? hb->producer_epoch : -1);
    gp_write_int32(&w, hb->producer_id ? hb->base_sequence : -1);
    gp_write_int32(&w, count);
    gp_write_bytes_raw(&w, records, records_len);
    gp_batch_update_crc(out, size);
    return size;
}

static size_t hand_batch(uint8_t *out, const hand *hb, const raw_rec *recs, int32_t n)
{
    uint8_t records[8192];
    size_t len = 0;
    for (int32_t i = 0; i < n; i++)
        len += write_raw_record(records + len, &recs[i]);
    return hand_batch_raw(out, hb, records, len, n);
}

static const hand H = {.count = INT32_MIN, .last_delta = INT32_MIN};

/* Three good records; tests change one thing. */
static size_t three(uint8_t *out, const hand *hb, raw_rec *recs)
{
    return hand_batch(out, hb, recs, 3);
}

static void three_good(raw_rec *recs)
{
    recs[0] = rr(0, "k0", "v0");
    recs[1] = rr(1, "k1", "v1");
    recs[2] = rr(2, "k2", "v2");
}

/* ---- header -------------------------------------------------------------- */

START_TEST(test_header_fields)
{
    gp_batch_params p = {
        .base_offset = 1234567890123,
        .partition_leader_epoch = 77,
        .base_timestamp = BASE_TS,
        .producer_id = 99,
        .producer_epoch = 5,
        .base_sequence = 1000,
        .transactional = true,
        .codec = GP_CODEC_NONE,
    };
    gp_record recs[3] = {
        {.timestamp_delta = 0, .key = {(const uint8_t *)"a", 1}, .value = {(const uint8_t *)"x", 1}},
        {.timestamp_delta = 30, .key = {(const uint8_t *)"b", 1}, .value = {NULL, -1}},
        {.timestamp_delta = 10, .key = {NULL, -1}, .value = {(const uint8_t *)"z", 1}},
    };
    gp_bytes b;
    ck_assert_int_eq(gp_batch_build(&arena, &p, recs, 3, &b), 0);
    gp_batch_header h;
    ck_assert_int_eq(gp_batch_header_parse(b.p, (size_t)b.len, &h), 0);
    ck_assert(h.base_offset == 1234567890123);
    ck_assert_int_eq(h.batch_length, b.len - 12);
    ck_assert_int_eq(h.partition_leader_epoch, 77);
    ck_assert_int_eq(h.magic, 2);
    ck_assert_uint_eq(h.crc, gp_batch_crc(b.p, (size_t)b.len));
    ck_assert_uint_eq(h.crc, gp_crc32c(0, b.p + 21, (size_t)b.len - 21));
    ck_assert_int_eq(h.attributes, GP_BATCH_ATTR_TRANSACTIONAL);
    ck_assert_int_eq(h.last_offset_delta, 2);
    ck_assert(h.base_timestamp == BASE_TS);
    ck_assert(h.max_timestamp == BASE_TS + 30);
    ck_assert(h.producer_id == 99);
    ck_assert_int_eq(h.producer_epoch, 5);
    ck_assert_int_eq(h.base_sequence, 1000);
    ck_assert_int_eq(h.records_count, 3);
    ck_assert_int_eq(gp_batch_header_parse(b.p, 60, &h), GP_ERR_TRUNCATED);

    /* The offsets name the bytes Kafka's DefaultRecordBatch names. */
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_MAGIC], 2);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_RECORDS_COUNT + 3], 3);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_LAST_OFFSET_DELTA + 3], 2);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_PRODUCER_EPOCH + 1], 5);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_BASE_SEQUENCE + 2], 1000 >> 8);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_PRODUCER_ID + 7], 99);
    ck_assert_uint_eq(b.p[GP_BATCH_OFF_PARTITION_LEADER_EPOCH + 3], 77);

    gp_batch_info info;
    gp_batch_limits lim = client_limits;
    expect_ok_lim(b.p, (size_t)b.len, &lim, &info);
    ck_assert_int_eq(info.num_batches, 1);
    ck_assert(info.num_records == 3);
    ck_assert(info.last_offset_delta == 2);
    ck_assert(info.max_timestamp == BASE_TS + 30);
    ck_assert(info.max_timestamp_delta == 1);
    ck_assert(info.min_timestamp == BASE_TS);
    ck_assert(info.transactional);
    ck_assert(!info.control);
    ck_assert(!info.all_keys);
    ck_assert(info.producer_id == 99);
    ck_assert_int_eq(info.codec, GP_CODEC_NONE);
    ck_assert_int_eq(info.codecs, 1);
    /* uncompressed records are read in place */
    ck_assert_ptr_eq(info.first.records, b.p + 61);
}
END_TEST

START_TEST(test_no_allocation_uncompressed)
{
    gp_bytes b = build_golden(&arena, GP_CODEC_NONE, 50, small_filler);
    gp_arena scratch;
    gp_arena_init(&scratch, NULL, 0);
    gp_batch_info info;
    int16_t err;
    const char *msg;
    ck_assert_int_eq(gp_batches_validate(b.p, (size_t)b.len, &client_limits, &scratch, &info, &err, &msg), 0);
    ck_assert_ptr_null(scratch.blocks);
    ck_assert_ptr_null(scratch.cur);
    ck_assert_uint_eq(scratch.allocated, 0);
    gp_arena_reset(&scratch, NULL, 0);
}
END_TEST

START_TEST(test_rewrite_in_place)
{
    gp_bytes b = build_golden(&arena, GP_CODEC_LZ4, 10, small_filler);
    uint8_t *p = copy(b);
    size_t n = (size_t)b.len;
    gp_batch_info info;

    /* Outside the CRC: still valid without a CRC pass. */
    gp_batch_set_base_offset(p, 987654321);
    gp_batch_set_partition_leader_epoch(p, 12);
    expect_ok(p, n, &info);
    ck_assert(info.first.h.base_offset == 987654321);
    ck_assert_int_eq(info.first.h.partition_leader_epoch, 12);

    /* Setting the max timestamp it already has changes nothing. */
    ck_assert(!gp_batch_set_max_timestamp(p, info.first.h.max_timestamp, false));
    /* LogAppendTime: the bit and the timestamp change, the CRC must follow. */
    ck_assert(gp_batch_set_max_timestamp(p, BASE_TS + 100000, true));
    expect_error(p, n, GP_E_CORRUPT_MESSAGE, "stale CRC");
    gp_batch_update_crc(p, n);
    expect_ok(p, n, &info);
    ck_assert(info.first.h.max_timestamp == BASE_TS + 100000);
    ck_assert(gp_batch_is_log_append_time(&info.first.h));
    ck_assert(info.log_append_time);
    ck_assert_int_eq(gp_batch_codec(&info.first.h), GP_CODEC_LZ4);
    /* and back */
    ck_assert(gp_batch_set_max_timestamp(p, BASE_TS + 63, false));
    gp_batch_update_crc(p, n);
    expect_ok(p, n, &info);
    ck_assert(!info.log_append_time);
}
END_TEST

/* ---- codecs -------------------------------------------------------------- */

static uint8_t *test_data(size_t n, int kind)
{
    static const char fox[] = "the quick brown fox jumps over the lazy dog ";
    uint8_t *d = gp_arena_alloc(&arena, n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245 + 12345;
        switch (kind) {
        case 0:
            d[i] = (uint8_t)fox[i % 44];
            break;
        case 1:
            d[i] = (uint8_t)(x >> 16); /* incompressible */
            break;
        default:
            d[i] = (uint8_t)((x >> 16) % 4 + 'a'); /* some redundancy */
            break;
        }
    }
    return d;
}

START_TEST(test_codec_roundtrip)
{
    static const size_t sizes[] = {0, 1, 17, 1000, 32767, 32768, 32769, 65536, 65537, 300000};
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int kind = 0; kind < 3; kind++) {
                size_t n = sizes[si];
                uint8_t *src = test_data(n, kind);
                size_t bound = gp_compress_bound(codec, n);
                uint8_t *c = gp_arena_alloc(&arena, bound);
                size_t clen;
                ck_assert_int_eq(gp_compress(codec, GP_COMPRESS_LEVEL_DEFAULT, src, n, c, bound, &clen), 0);
                ck_assert_uint_le(clen, bound);

                const uint8_t *out;
                size_t olen;
                ck_assert_msg(gp_decompress(codec, c, clen, &arena, n, &out, &olen) == 0, "%s %zu",
                              gp_codec_name(codec), n);
                ck_assert_uint_eq(olen, n);
                ck_assert(n == 0 || memcmp(out, src, n) == 0);

                /* Into a buffer of exactly the size, and one byte short. */
                uint8_t *dst = gp_arena_alloc(&arena, n + 1);
                ck_assert_int_eq(gp_decompress_into(codec, c, clen, dst, n, &olen), 0);
                ck_assert_uint_eq(olen, n);
                ck_assert(n == 0 || memcmp(dst, src, n) == 0);
                if (n > 0) {
                    ck_assert_msg(gp_decompress_into(codec, c, clen, dst, n - 1, &olen) == GP_COMPRESS_ERR_TOO_LARGE,
                                  "%s %zu", gp_codec_name(codec), n);
                    ck_assert_int_eq(gp_decompress(codec, c, clen, &arena, n - 1, &out, &olen),
                                     GP_COMPRESS_ERR_TOO_LARGE);
                }
                /* Truncated compressed data is an error. */
                if (clen > 1)
                    ck_assert_int_ne(gp_decompress(codec, c, clen / 2, &arena, n, &out, &olen), 0);
            }
        }
        gp_arena_reset(&arena, NULL, 0);
    }
}
END_TEST

START_TEST(test_codec_levels_and_names)
{
    uint8_t *src = test_data(100000, 2);
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++) {
        static const int levels[] = {1, 9, -1};
        for (int li = 0; li < 3; li++) {
            size_t bound = gp_compress_bound(codec, 100000);
            uint8_t *c = gp_arena_alloc(&arena, bound);
            size_t clen, olen;
            const uint8_t *out;
            ck_assert_int_eq(gp_compress(codec, levels[li], src, 100000, c, bound, &clen), 0);
            ck_assert_int_eq(gp_decompress(codec, c, clen, &arena, 100000, &out, &olen), 0);
            ck_assert_uint_eq(olen, 100000);
            ck_assert(memcmp(out, src, olen) == 0);
        }
    }
    ck_assert_int_eq(gp_compress(7, 0, src, 10, src, 10, &(size_t){0}), GP_COMPRESS_ERR_CODEC);
    ck_assert_int_eq(gp_decompress(GP_CODEC_NONE, src, 10, &arena, 10, &(const uint8_t *){0}, &(size_t){0}),
                     GP_COMPRESS_ERR_CODEC);
    ck_assert_uint_eq(gp_compress_bound(5, 10), 0);
    ck_assert_str_eq(gp_codec_name(GP_CODEC_ZSTD), "zstd");
    ck_assert_ptr_null(gp_codec_name(5));
    ck_assert_int_eq(gp_codec_from_name("snappy", 6), GP_CODEC_SNAPPY);
    ck_assert_int_eq(gp_codec_from_name("producer", 8), -1);
    ck_assert_str_eq(gp_compress_strerror(GP_COMPRESS_ERR_TOO_LARGE), "decompressed data exceeds the limit");
}
END_TEST

/* Framings the Java client could send other than what gp_compress writes. */
START_TEST(test_codec_other_framings)
{
    size_t n = 100000, olen;
    const uint8_t *out;
    uint8_t *src = test_data(n, 2);
    uint8_t *c = gp_arena_alloc(&arena, 2 * n + 1000);

    /* gzip: zlib-wrapped and raw deflate; two gzip members in a row; trailing junk after a member. */
    for (int wbits = 15; wbits >= -15; wbits -= 30) {
        z_stream zs = {0};
        ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = src;
        zs.avail_in = (uInt)n;
        zs.next_out = c;
        zs.avail_out = (uInt)(2 * n);
        ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
        size_t clen = zs.total_out;
        deflateEnd(&zs);
        ck_assert_int_eq(gp_decompress(GP_CODEC_GZIP, c, clen, &arena, n, &out, &olen), 0);
        ck_assert_uint_eq(olen, n);
        ck_assert(memcmp(out, src, n) == 0);
    }
    size_t b = gp_compress_bound(GP_CODEC_GZIP, n / 2), l1, l2;
    ck_assert_int_eq(gp_compress(GP_CODEC_GZIP, 6, src, n / 2, c, b, &l1), 0);
    ck_assert_int_eq(gp_compress(GP_CODEC_GZIP, 6, src + n / 2, n / 2, c + l1, b, &l2), 0);
    memcpy(c + l1 + l2, "junk", 4);
    ck_assert_int_eq(gp_decompress(GP_CODEC_GZIP, c, l1 + l2 + 4, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);

    /* snappy: a bare raw block; two xerial streams concatenated. */
    size_t sl = snappy_max_compressed_length(n);
    ck_assert_int_eq(snappy_compress((const char *)src, n, (char *)c, &sl), SNAPPY_OK);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, sl, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, sl, &arena, n - 1, &out, &olen), GP_COMPRESS_ERR_TOO_LARGE);
    b = gp_compress_bound(GP_CODEC_SNAPPY, n / 2);
    ck_assert_int_eq(gp_compress(GP_CODEC_SNAPPY, 0, src, n / 2, c, b, &l1), 0);
    ck_assert_int_eq(gp_compress(GP_CODEC_SNAPPY, 0, src + n / 2, n / 2, c + l1, b, &l2), 0);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, l1 + l2, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);
    /* xerial framing details: header, then 32 KiB blocks */
    ck_assert(memcmp(c, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16) == 0);
    size_t first_block = ((size_t)c[16] << 24) | ((size_t)c[17] << 16) | ((size_t)c[18] << 8) | c[19];
    size_t u;
    ck_assert_int_eq(snappy_uncompressed_length((const char *)c + 20, first_block, &u), SNAPPY_OK);
    ck_assert_uint_eq(u, 32768);
    /* a block length past the end, a zero-length block, a truncated length */
    c[16] = 0x7f;
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, l1, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    memset(c + 16, 0, 4);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, l1, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, c, 18, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);

    /* lz4: linked blocks, content size and checksums (lz4frame's defaults and extras). */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentSize = n;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    size_t ll = LZ4F_compressFrame(c, 2 * n + 1000, src, n, &prefs);
    ck_assert(!LZ4F_isError(ll));
    ck_assert_int_eq(gp_decompress(GP_CODEC_LZ4, c, ll, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);
    ck_assert_int_eq(gp_decompress(GP_CODEC_LZ4, c, ll, &arena, n - 1, &out, &olen), GP_COMPRESS_ERR_TOO_LARGE);
    c[ll - 1] ^= 1; /* content checksum */
    ck_assert_int_eq(gp_decompress(GP_CODEC_LZ4, c, ll, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    /* KAFKA-3160: the old clients' header checksum (over the magic too) is refused. */
    ll = LZ4F_compressFrame(c, 2 * n + 1000, src, 1000, NULL);
    c[6] ^= 0x55;
    ck_assert_int_eq(gp_decompress(GP_CODEC_LZ4, c, ll, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);

    /* zstd without a content size (as the Java client streams it), and two frames. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    size_t zl = ZSTD_compress2(cc, c, 2 * n + 1000, src, n);
    ck_assert(!ZSTD_isError(zl));
    ck_assert(ZSTD_getFrameContentSize(c, zl) == ZSTD_CONTENTSIZE_UNKNOWN);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, zl, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, zl, &arena, n - 1, &out, &olen), GP_COMPRESS_ERR_TOO_LARGE);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, zl - 3, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    size_t z1 = ZSTD_compress2(cc, c, 2 * n, src, n / 2);
    size_t z2 = ZSTD_compress2(cc, c + z1, 2 * n, src + n / 2, n / 2);
    ZSTD_freeCCtx(cc);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, z1 + z2, &arena, n, &out, &olen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, src, n) == 0);
    ck_assert_int_eq(gp_decompress_into(GP_CODEC_ZSTD, c, z1 + z2, (uint8_t *)out, n, &olen), 0);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, z1 + z2, &arena, n - 1, &out, &olen), GP_COMPRESS_ERR_TOO_LARGE);
    ck_assert_int_eq(gp_decompress(GP_CODEC_ZSTD, c, 0, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);

    /* garbage */
    memset(c, 0xa5, 64);
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++)
        ck_assert_int_eq(gp_decompress(codec, c, 64, &arena, n, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
}
END_TEST

/* Size fields that claim more than the input could hold size no buffer. */
START_TEST(test_codec_lying_sizes)
{
    const size_t cap = (size_t)1 << 30;
    const uint8_t *out;
    size_t olen;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);

    /* a raw snappy block claiming 100 MB in a few bytes */
    uint8_t sn[16] = {0x80, 0x84, 0xaf, 0x5f, 0x00, 0x61};
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, sn, sizeof sn, &a, cap, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    /* the same as a xerial block */
    uint8_t xs[40] = "\x82SNAPPY\0\0\0\0\1\0\0\0\1\0\0\0\x10";
    memcpy(xs + 20, sn, sizeof sn);
    ck_assert_int_eq(gp_decompress(GP_CODEC_SNAPPY, xs, 36, &a, cap, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    ck_assert_uint_lt(a.allocated, 64 * 1024);

    /* a gzip trailer claiming 2 GB */
    uint8_t *src = test_data(1000, 2);
    size_t b = gp_compress_bound(GP_CODEC_GZIP, 1000), clen;
    uint8_t *c = gp_arena_alloc(&arena, b);
    ck_assert_int_eq(gp_compress(GP_CODEC_GZIP, 6, src, 1000, c, b, &clen), 0);
    put_be(c + clen - 4, 4, 0xffffff7f);
    ck_assert_int_eq(gp_decompress(GP_CODEC_GZIP, c, clen, &a, cap, &out, &olen), GP_COMPRESS_ERR_CORRUPT);
    ck_assert_uint_lt(a.allocated, 64 * 1024);

    /* an lz4 frame of many small blocks (many blocks, little output each): the estimate stays within lz4's ratio */
    gp_arena_reset(&a, NULL, 0);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.autoFlush = 1;
    LZ4F_cctx *cctx;
    ck_assert(!LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)));
    uint8_t lz[1024];
    size_t ln = LZ4F_compressBegin(cctx, lz, sizeof lz, &prefs);
    for (int i = 0; i < 10; i++) /* one block per byte */
        ln += LZ4F_compressUpdate(cctx, lz + ln, sizeof lz - ln, "x", 1, NULL);
    ln += LZ4F_compressEnd(cctx, lz + ln, sizeof lz - ln, NULL);
    LZ4F_freeCompressionContext(cctx);
    ck_assert_int_eq(gp_decompress(GP_CODEC_LZ4, lz, ln, &a, cap, &out, &olen), 0);
    ck_assert_uint_eq(olen, 10);
    ck_assert(memcmp(out, "xxxxxxxxxx", 10) == 0);
    ck_assert_uint_lt(a.allocated, 64 * 1024);
    gp_arena_reset(&a, NULL, 0);
}
END_TEST

START_TEST(test_decompression_bomb)
{
    const size_t n = 16u << 20, cap = 1u << 20;
    uint8_t *zeros = gp_arena_alloc(&arena, n);
    memset(zeros, 0, n);
    gp_record rec = {.key = {(const uint8_t *)"k", 1}, .value = {zeros, (int32_t)n}};
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++) {
        gp_batch_params p = {.producer_id = -1, .base_sequence = -1, .codec = codec, .level = 1};
        gp_bytes b;
        ck_assert_int_eq(gp_batch_build(&arena, &p, &rec, 1, &b), 0);
        ck_assert_int_lt(b.len, (int32_t)(n / 16));

        gp_arena scratch;
        gp_arena_init(&scratch, NULL, 0);
        gp_batch_limits lim = client_limits;
        lim.max_uncompressed = cap;
        gp_batch_info info;
        int16_t err;
        const char *msg;
        ck_assert_int_eq(gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg),
                         GP_BATCH_ERR_INVALID);
        ck_assert_int_eq(err, GP_E_MESSAGE_TOO_LARGE);
        ck_assert(info.over_uncompressed); /* a caller may try again with a larger cap */
        ck_assert_msg(scratch.allocated <= 3 * cap, "%s: %zu bytes of scratch for a %zu cap", gp_codec_name(codec),
                      scratch.allocated, cap);
        /* With room enough it passes. */
        lim.max_uncompressed = n + 100;
        ck_assert_int_eq(gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg), 0);
        ck_assert(!info.over_uncompressed);
        ck_assert_uint_eq(info.first.records_len, n + 14);
        /* Too large before decompression (max.message.bytes): not a
         * refusal a larger cap would change. */
        lim.max_batch_bytes = (size_t)b.len - 1;
        ck_assert_int_eq(gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg),
                         GP_BATCH_ERR_INVALID);
        ck_assert_int_eq(err, GP_E_MESSAGE_TOO_LARGE);
        ck_assert(!info.over_uncompressed);
        gp_arena_reset(&scratch, NULL, 0);
    }
}
END_TEST

/* Kafka 4.4's max.decompressed.message.bytes: a compressed batch's records
 * each within the bound; decompression stops at count x (bound + 5). */
START_TEST(test_max_record_bytes)
{
    const size_t big = 16u << 20;
    uint8_t *zeros = gp_arena_alloc(&arena, big);
    memset(zeros, 0, big);
    for (int codec = GP_CODEC_NONE; codec <= GP_CODEC_ZSTD; codec++) {
        gp_batch_params p = {.producer_id = -1, .base_sequence = -1, .codec = codec, .level = 1};
        gp_arena scratch;
        gp_arena_init(&scratch, NULL, 0);
        gp_batch_limits lim = client_limits;
        lim.max_uncompressed = 64u << 20;
        lim.max_record_bytes = 1u << 20;
        gp_batch_info info;
        int16_t err;
        const char *msg;

        /* One 16 MiB record: refused once 1 MiB + 5 bytes are out. */
        gp_record one = {.key = {NULL, -1}, .value = {zeros, (int32_t)big}};
        gp_bytes b;
        ck_assert_int_eq(gp_batch_build(&arena, &p, &one, 1, &b), 0);
        int rc = gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg);
        if (codec == GP_CODEC_NONE) {
            ck_assert_int_eq(rc, 0); /* uncompressed: max.message.bytes alone, as in Kafka */
        } else {
            ck_assert_int_eq(rc, GP_BATCH_ERR_INVALID);
            ck_assert_int_eq(err, GP_E_INVALID_RECORD);
            ck_assert(!info.over_uncompressed);
            ck_assert_msg(strstr(msg, "max.decompressed.message.bytes") != NULL, "%s", msg);
            ck_assert_msg(scratch.allocated <= 3 * (lim.max_record_bytes + 5), "%s: %zu bytes of scratch",
                          gp_codec_name(codec), scratch.allocated);
        }
        gp_arena_reset(&scratch, NULL, 0);

        /* Three records within the cap together, the first over the bound:
         * found by the walk. The bound is the record's length varint. */
        gp_record three[3] = {
            {.key = {NULL, -1}, .value = {zeros, 500000}},
            {.key = {NULL, -1}, .value = {zeros, 10}},
            {.key = {NULL, -1}, .value = {zeros, 10}},
        };
        ck_assert_int_eq(gp_batch_build(&arena, &p, three, 3, &b), 0);
        /* record 0's body: attributes, timestamp and offset deltas, key -1,
         * value length (3 bytes), value, header count */
        const size_t body0 = 1 + 1 + 1 + 1 + 3 + 500000 + 1;
        lim.max_record_bytes = body0 - 1;
        rc = gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg);
        if (codec == GP_CODEC_NONE) {
            ck_assert_int_eq(rc, 0);
        } else {
            ck_assert_int_eq(rc, GP_BATCH_ERR_INVALID);
            ck_assert_int_eq(err, GP_E_INVALID_RECORD);
            ck_assert_msg(strstr(msg, "record 0: 500008 bytes") != NULL, "%s", msg);
        }
        lim.max_record_bytes = body0;
        ck_assert_int_eq(gp_batches_validate(b.p, (size_t)b.len, &lim, &scratch, &info, &err, &msg), 0);
        gp_arena_reset(&scratch, NULL, 0);
    }
}
END_TEST

/* ---- round trips through the writer --------------------------------------- */

START_TEST(test_build_each_codec)
{
    for (int codec = GP_CODEC_NONE; codec <= GP_CODEC_ZSTD; codec++) {
        for (int n = 1; n <= 300; n += 299) {
            gp_bytes b = build_golden(&arena, codec, n, small_filler);
            gp_batch_info info;
            expect_ok(b.p, (size_t)b.len, &info);
            ck_assert_int_eq(info.num_batches, 1);
            ck_assert(info.num_records == n);
            ck_assert_int_eq(info.codec, codec);
            ck_assert_int_eq(gp_batch_codec(&info.first.h), codec);
            ck_assert(info.producer_id == PID);
            ck_assert_int_eq(info.producer_epoch, PEPOCH);
            ck_assert_int_eq(info.base_sequence, BASESEQ);
            ck_assert(info.all_keys == (n <= 3));
            ck_assert(info.max_timestamp == golden_ts(n - 1));
            ck_assert(info.max_timestamp_delta == n - 1);
            ck_assert(info.min_timestamp == (n > 4 ? BASE_TS - 5 : BASE_TS));
            ck_assert(info.first.h.max_timestamp == info.max_timestamp);
            check_golden_records(&info.first, n, small_filler);
            if (codec != GP_CODEC_NONE)
                ck_assert_int_lt(b.len, (int32_t)(61 + info.first.records_len));
        }
    }
}
END_TEST

/* Records read from one batch go straight into another (recompression). */
START_TEST(test_recompress)
{
    gp_bytes b = build_golden(&arena, GP_CODEC_GZIP, 100, small_filler);
    gp_batch_info info;
    expect_ok(b.p, (size_t)b.len, &info);
    gp_record *recs = gp_arena_calloc(&arena, 100, sizeof *recs);
    gp_record_iter it;
    gp_record_iter_init(&it, info.first.records, info.first.records_len, info.first.h.records_count);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(gp_record_next(&it, &recs[i]), 1);
    ck_assert_int_eq(gp_record_next(&it, &recs[0]), 0);
    for (int codec = GP_CODEC_NONE; codec <= GP_CODEC_ZSTD; codec++) {
        gp_batch_params p = {
            .base_timestamp = info.first.h.base_timestamp,
            .producer_id = info.producer_id,
            .producer_epoch = info.producer_epoch,
            .base_sequence = info.base_sequence,
            .codec = codec,
            .level = GP_COMPRESS_LEVEL_DEFAULT,
        };
        gp_bytes nb;
        ck_assert_int_eq(gp_batch_build(&arena, &p, recs, 100, &nb), 0);
        gp_batch_info i2;
        expect_ok(nb.p, (size_t)nb.len, &i2);
        ck_assert_int_eq(i2.codec, codec);
        ck_assert_uint_eq(i2.first.records_len, info.first.records_len);
        ck_assert(memcmp(i2.first.records, info.first.records, info.first.records_len) == 0);
        check_golden_records(&i2.first, 100, small_filler);
    }
}
END_TEST

START_TEST(test_build_refuses)
{
    gp_batch_params p = {.codec = GP_CODEC_NONE};
    gp_record rec = {.key = {NULL, -1}, .value = {NULL, -1}};
    gp_bytes b;
    ck_assert_int_eq(gp_batch_build(&arena, &p, &rec, 0, &b), GP_BATCH_ERR_INVALID);
    p.codec = 6;
    ck_assert_int_eq(gp_batch_build(&arena, &p, &rec, 1, &b), GP_BATCH_ERR_INVALID);
    gp_txn_marker m = {.type = 2};
    ck_assert_int_eq(gp_batch_build_control(&arena, 0, 0, &m, &b), GP_BATCH_ERR_INVALID);
}
END_TEST

START_TEST(test_multiple_batches)
{
    gp_bytes b1 = build_golden(&arena, GP_CODEC_NONE, 10, small_filler);
    gp_bytes b2 = build_golden(&arena, GP_CODEC_ZSTD, 10, small_filler);
    gp_bytes b3 = build_golden(&arena, GP_CODEC_SNAPPY, 5, small_filler);
    size_t n = (size_t)(b1.len + b2.len + b3.len);
    uint8_t *p = gp_arena_alloc(&arena, n);
    memcpy(p, b1.p, (size_t)b1.len);
    memcpy(p + b1.len, b2.p, (size_t)b2.len);
    memcpy(p + b1.len + b2.len, b3.p, (size_t)b3.len);
    gp_batch_info info;
    expect_ok(p, n, &info);
    ck_assert_int_eq(info.num_batches, 3);
    ck_assert(info.num_records == 25);
    ck_assert(info.last_offset_delta == 24);
    ck_assert_int_eq(info.codecs, (1 << GP_CODEC_NONE) | (1 << GP_CODEC_ZSTD) | (1 << GP_CODEC_SNAPPY));
    ck_assert_int_eq(info.codec, GP_CODEC_NONE);
    /* The max timestamp is record 9 of batch 0 (batch 1 ties; the first wins). */
    ck_assert(info.max_timestamp == golden_ts(9));
    ck_assert(info.max_timestamp_delta == 9);
    ck_assert(info.min_timestamp == BASE_TS - 5);
    ck_assert(!info.all_keys);
    ck_assert_uint_eq(gp_batch_info_at(&info, 1)->pos, (size_t)b1.len);
    ck_assert_uint_eq(gp_batch_info_at(&info, 2)->size, (size_t)b3.len);
    ck_assert_int_eq(gp_batch_info_at(&info, 2)->h.records_count, 5);
    check_golden_records(gp_batch_info_at(&info, 1), 10, small_filler);
    check_golden_records(gp_batch_info_at(&info, 2), 5, small_filler);

    /* Kafka's Produce v3+ allows one batch per partition. */
    gp_batch_limits lim = client_limits;
    lim.max_batches = 1;
    expect_error_lim(p, n, &lim, GP_E_INVALID_RECORD, "max_batches");
    lim.max_batches = 3;
    expect_ok_lim(p, n, &lim, &info);

    /* A later batch that is broken is reported as that batch. */
    p[b1.len + 70] ^= 1;
    int16_t err;
    const char *msg;
    ck_assert_int_eq(validate(p, n, &client_limits, &info, &err, &msg), GP_BATCH_ERR_INVALID);
    ck_assert_int_eq(err, GP_E_CORRUPT_MESSAGE);
    ck_assert_int_eq(info.error_batch, 1);
}
END_TEST

/* ---- validation errors, one by one --------------------------------------- */

START_TEST(test_err_empty_and_partial)
{
    uint8_t buf[512] = {0};
    gp_batch_info info;
    expect_error(buf, 0, GP_E_INVALID_RECORD, "empty blob from a client");
    expect_ok_lim(buf, 0, &broker_limits, &info);
    ck_assert_int_eq(info.num_batches, 0);
    ck_assert(info.num_records == 0);

    raw_rec recs[3];
    three_good(recs);
    size_t n = three(buf, &H, recs);
    expect_ok(buf, n, &info);
    /* trailing bytes: fewer than the 12-byte prefix, and a prefix promising more */
    memset(buf + n, 0, 20);
    expect_error(buf, n + 5, GP_E_CORRUPT_MESSAGE, "5 trailing bytes");
    put_be(buf + n + 8, 4, 100);
    expect_error(buf, n + 20, GP_E_CORRUPT_MESSAGE, "partial second batch");
    /* batch length below Kafka's minimum of any format */
    put_be(buf + 8, 4, 10);
    expect_error(buf, n, GP_E_CORRUPT_MESSAGE, "length 10");
    put_be(buf + 8, 4, (uint64_t)-5);
    expect_error(buf, n, GP_E_CORRUPT_MESSAGE, "negative length");
    /* magic 2 but shorter than a v2 header */
    put_be(buf + 8, 4, 40);
    expect_error(buf, 52, GP_E_CORRUPT_MESSAGE, "length 40");
    /* longer than the blob: a client's request without a whole batch,
     * INVALID_RECORD as in Kafka; corrupt where it is not a client's */
    put_be(buf + 8, 4, n - 12 + 1);
    expect_error(buf, n, GP_E_INVALID_RECORD, "length past the end");
    expect_error_lim(buf, n, &broker_limits, GP_E_CORRUPT_MESSAGE, "length past the end");
}
END_TEST

START_TEST(test_err_magic)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    gp_batch_info info;
    int16_t err;
    const char *msg;
    for (int magic = -1; magic <= 3; magic++) {
        if (magic == 2)
            continue;
        size_t n = three(buf, &H, recs);
        buf[GP_BATCH_OFF_MAGIC] = (uint8_t)magic; /* outside the CRC */
        if (magic == 0 || magic == 1) {
            ck_assert_int_eq(validate(buf, n, &client_limits, &info, &err, &msg), GP_BATCH_OLD_MAGIC);
            ck_assert_int_eq(info.magic, magic);
            ck_assert_int_eq(err, GP_E_INVALID_RECORD);
            ck_assert_ptr_nonnull(msg);
        } else {
            expect_error(buf, n, GP_E_CORRUPT_MESSAGE, "bad magic");
        }
    }
    /* an old batch after a v2 one */
    size_t n1 = three(buf, &H, recs);
    size_t n2 = three(buf + n1, &H, recs);
    buf[n1 + GP_BATCH_OFF_MAGIC] = 1;
    expect_error(buf, n1 + n2, GP_E_INVALID_RECORD, "mixed magic");
}
END_TEST

START_TEST(test_err_crc_every_byte)
{
    for (int codec = GP_CODEC_NONE; codec <= GP_CODEC_ZSTD; codec++) {
        gp_bytes b = build_golden(&arena, codec, 10, small_filler);
        uint8_t *p = copy(b);
        for (size_t i = GP_BATCH_OFF_ATTRIBUTES; i < (size_t)b.len; i++) {
            for (int bit = 0; bit < 8; bit += 7) {
                p[i] ^= (uint8_t)(1u << bit);
                expect_error(p, (size_t)b.len, GP_E_CORRUPT_MESSAGE, "flipped byte");
                p[i] ^= (uint8_t)(1u << bit);
            }
        }
        /* the CRC field itself */
        for (size_t i = GP_BATCH_OFF_CRC; i < GP_BATCH_OFF_ATTRIBUTES; i++) {
            p[i] ^= 0x10;
            expect_error(p, (size_t)b.len, GP_E_CORRUPT_MESSAGE, "flipped CRC byte");
            p[i] ^= 0x10;
        }
        gp_batch_info info;
        expect_ok(p, (size_t)b.len, &info);
        gp_arena_reset(&arena, NULL, 0);
    }
}
END_TEST

START_TEST(test_err_codec)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    for (int codec = 5; codec <= 7; codec++) {
        hand hb = H;
        hb.attributes = (int16_t)codec;
        size_t n = three(buf, &hb, recs);
        expect_error(buf, n, GP_E_UNSUPPORTED_COMPRESSION_TYPE, "codec 5-7");
    }
    /* a known codec whose data is not of that codec (CRC good) */
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++) {
        hand hb = H;
        hb.attributes = (int16_t)codec;
        size_t n = three(buf, &hb, recs);
        expect_error(buf, n, GP_E_INVALID_RECORD, "uncompressed records under a codec");
    }
}
END_TEST

START_TEST(test_err_counts)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    hand hb = H;
    gp_batch_info info;

    hb.count = -1;
    hb.last_delta = 2;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "negative count");
    hb.count = 0;
    hb.last_delta = 0;
    size_t n = hand_batch(buf, &hb, recs, 0);
    expect_error(buf, n, GP_E_INVALID_RECORD, "no records from a client");
    expect_ok_lim(buf, n, &broker_limits, &info); /* the cleaner may leave empty batches */
    ck_assert(info.num_records == 0);
    ck_assert(info.max_timestamp == -1);
    hb.count = 4;
    hb.last_delta = 3;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "count above the records");
    hb.count = 2;
    hb.last_delta = 1;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "count below the records");
    hb = H;
    hb.last_delta = 3;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "lastOffsetDelta past count - 1");
    hb.last_delta = 1;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "lastOffsetDelta before count - 1");
    /* a huge count with few bytes: no allocation, just an error */
    hb = H;
    hb.count = INT32_MAX;
    hb.last_delta = INT32_MAX - 1;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "huge count");
}
END_TEST

START_TEST(test_err_record_length)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    recs[1].len_adjust = 1;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "record length one more than its fields");
    recs[1].len_adjust = -1;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "record length one less than its fields");
    three_good(recs);
    recs[2].len_adjust = 1000;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "record length past the batch");
    recs[2].len_adjust = -100;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "negative record length");
    /* a record length varint longer than 5 bytes */
    uint8_t records[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 1, 1, 0};
    size_t n = hand_batch_raw(buf, &H, records, sizeof records, 1);
    expect_error(buf, n, GP_E_INVALID_RECORD, "overlong varint");
}
END_TEST

START_TEST(test_err_offset_delta)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    recs[1].offset_delta = 2;
    recs[2].offset_delta = 1;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "offsets out of order");
    three_good(recs);
    recs[0].offset_delta = 1;
    recs[1].offset_delta = 2;
    recs[2].offset_delta = 3;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "offsets not starting at 0");
    three_good(recs);
    recs[2].offset_delta = 1;
    int16_t err;
    const char *msg;
    gp_batch_info info;
    ck_assert_int_eq(validate(buf, three(buf, &H, recs), &client_limits, &info, &err, &msg), GP_BATCH_ERR_INVALID);
    ck_assert_int_eq(err, GP_E_INVALID_RECORD);
    ck_assert_int_eq(info.error_batch, 0);
    ck_assert_int_eq(info.error_record, 2);
}
END_TEST

START_TEST(test_err_key_value_lengths)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    three_good(recs);
    recs[1].key_len = -2;
    recs[1].key = NULL;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "key length -2");
    three_good(recs);
    recs[1].key_len = 50;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "key past the record");
    three_good(recs);
    recs[1].value_len = -7;
    recs[1].value = NULL;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "value length -7");
    three_good(recs);
    recs[1].value_len = 3;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "value past the record");
    three_good(recs);
    recs[1].value_len = INT32_MAX;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "value length INT32_MAX");
    /* null key and value are fine */
    three_good(recs);
    recs[1] = rr(1, NULL, NULL);
    gp_batch_info info;
    expect_ok(buf, three(buf, &H, recs), &info);
    ck_assert(!info.all_keys);
    three_good(recs);
    expect_ok(buf, three(buf, &H, recs), &info);
    ck_assert(info.all_keys);
}
END_TEST

START_TEST(test_err_headers)
{
    uint8_t buf[1024];
    raw_rec recs[3];
    gp_batch_info info;
    /* good: key "a" value "b"; key "c" value null */
    static const uint8_t good[] = {2, 'a', 2, 'b', 2, 'c', 1};
    three_good(recs);
    recs[1].header_count = 2;
    recs[1].headers = good;
    recs[1].headers_len = sizeof good;
    expect_ok(buf, three(buf, &H, recs), &info);

    recs[1].header_count = -1;
    recs[1].headers_len = 0;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "negative header count");
    recs[1].header_count = 3;
    recs[1].headers_len = sizeof good;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "header count above the headers");
    recs[1].header_count = 1000;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "header count above the bytes");
    recs[1].header_count = 1;
    expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "header count below the headers");

    static const uint8_t null_key[] = {1, 2, 'b'};
    static const uint8_t neg_value[] = {2, 'a', 3};
    static const uint8_t long_key[] = {40, 'a', 2, 'b'};
    static const uint8_t long_value[] = {2, 'a', 40, 'b'};
    static const uint8_t *const bad[] = {null_key, neg_value, long_key, long_value};
    static const size_t bad_len[] = {sizeof null_key, sizeof neg_value, sizeof long_key, sizeof long_value};
    for (int i = 0; i < 4; i++) {
        recs[1].header_count = 1;
        recs[1].headers = bad[i];
        recs[1].headers_len = bad_len[i];
        expect_error(buf, three(buf, &H, recs), GP_E_INVALID_RECORD, "bad header");
    }
}
END_TEST

START_TEST(test_err_producer)
{
    uint8_t buf[2048];
    raw_rec recs[3];
    three_good(recs);
    gp_batch_info info;
    hand hb = H;
    hb.producer_id = 7;
    hb.producer_epoch = 1;
    hb.base_sequence = -1;
    expect_error(buf, three(buf, &hb, recs), GP_E_INVALID_RECORD, "idempotent batch without a sequence");
    hb.base_sequence = 0;
    size_t n1 = three(buf, &hb, recs);
    expect_ok(buf, n1, &info);
    ck_assert(info.producer_id == 7);

    /* two batches, two producers */
    hand hb2 = hb;
    hb2.producer_id = 8;
    size_t n2 = three(buf + n1, &hb2, recs);
    expect_error(buf, n1 + n2, GP_E_INVALID_RECORD, "mixed producer ids");
    hb2.producer_id = 7;
    hb2.producer_epoch = 2;
    n2 = three(buf + n1, &hb2, recs);
    expect_error(buf, n1 + n2, GP_E_INVALID_RECORD, "mixed producer epochs");
    hb2.producer_epoch = 1;
    hb2.attributes = GP_BATCH_ATTR_TRANSACTIONAL;
    n2 = three(buf + n1, &hb2, recs);
    expect_error(buf, n1 + n2, GP_E_INVALID_RECORD, "mixed transactional flag");
    hb2.attributes = 0;
    hb2.base_sequence = 3;
    n2 = three(buf + n1, &hb2, recs);
    expect_ok(buf, n1 + n2, &info);
    ck_assert_int_eq(info.num_batches, 2);
    ck_assert_int_eq(info.base_sequence, 0);
}
END_TEST

START_TEST(test_err_size_limit)
{
    gp_bytes b = build_golden(&arena, GP_CODEC_NONE, 10, small_filler);
    gp_batch_limits lim = client_limits;
    lim.max_batch_bytes = (size_t)b.len - 1;
    expect_error_lim(b.p, (size_t)b.len, &lim, GP_E_MESSAGE_TOO_LARGE, "max.message.bytes");
    lim.max_batch_bytes = (size_t)b.len;
    gp_batch_info info;
    expect_ok_lim(b.p, (size_t)b.len, &lim, &info);
}
END_TEST

START_TEST(test_err_compressed_inner)
{
    /* Compressed records whose count or structure is wrong inside. */
    uint8_t raw[1024], buf[2048];
    raw_rec recs[3];
    three_good(recs);
    size_t rlen = 0;
    for (int i = 0; i < 3; i++)
        rlen += write_raw_record(raw + rlen, &recs[i]);
    for (int codec = GP_CODEC_GZIP; codec <= GP_CODEC_ZSTD; codec++) {
        uint8_t c[2048];
        size_t clen;
        ck_assert_int_eq(gp_compress(codec, GP_COMPRESS_LEVEL_DEFAULT, raw, rlen, c, sizeof c, &clen), 0);
        hand hb = H;
        hb.attributes = (int16_t)codec;
        gp_batch_info info;
        expect_ok(buf, hand_batch_raw(buf, &hb, c, clen, 3), &info);
        ck_assert_uint_eq(info.first.records_len, rlen);
        hb.count = 2;
        hb.last_delta = 1;
        expect_error(buf, hand_batch_raw(buf, &hb, c, clen, 3), GP_E_INVALID_RECORD, "records remaining");
        hb.count = 4;
        hb.last_delta = 3;
        expect_error(buf, hand_batch_raw(buf, &hb, c, clen, 3), GP_E_INVALID_RECORD, "premature end");
        /* decompresses fine but the records are cut short */
        ck_assert_int_eq(gp_compress(codec, GP_COMPRESS_LEVEL_DEFAULT, raw, rlen - 2, c, sizeof c, &clen), 0);
        hb = H;
        hb.attributes = (int16_t)codec;
        expect_error(buf, hand_batch_raw(buf, &hb, c, clen, 3), GP_E_INVALID_RECORD, "cut records");
    }
}
END_TEST

/* ---- truncation ---------------------------------------------------------- */

START_TEST(test_truncation_every_byte)
{
    for (int codec = GP_CODEC_NONE; codec <= GP_CODEC_ZSTD; codec++) {
        gp_bytes b = build_golden(&arena, codec, 10, small_filler);
        size_t n = (size_t)b.len;
        /* The blob cut short: every prefix fails (the length no longer fits);
         * from a client INVALID_RECORD, as in Kafka (no whole batch). */
        for (size_t cut = 1; cut < n; cut++) {
            uint8_t *p = malloc(cut); /* exact size, so ASan sees any overread */
            memcpy(p, b.p, cut);
            expect_error(p, cut, GP_E_INVALID_RECORD, "cut blob");
            expect_error_lim(p, cut, &broker_limits, GP_E_CORRUPT_MESSAGE, "cut blob");
            free(p);
        }
        /* The batch cut short with its length and CRC made consistent: the
         * records run out, which must fail without reading past the end. */
        for (size_t cut = GP_BATCH_HEADER_SIZE; cut < n; cut++) {
            uint8_t *p = malloc(cut);
            memcpy(p, b.p, cut);
            put_be(p + GP_BATCH_OFF_LENGTH, 4, cut - 12);
            gp_batch_update_crc(p, cut);
            gp_batch_info info;
            int16_t err;
            const char *msg;
            int rc = validate(p, cut, &client_limits, &info, &err, &msg);
            ck_assert_msg(rc == GP_BATCH_ERR_INVALID, "%s cut at %zu of %zu accepted", gp_codec_name(codec), cut, n);
            ck_assert(err == GP_E_INVALID_RECORD || err == GP_E_CORRUPT_MESSAGE);
            free(p);
        }
        gp_arena_reset(&arena, NULL, 0);
    }
}
END_TEST

START_TEST(test_iterator_malformed)
{
    uint8_t records[] = {10, 0, 0, 0, 1}; /* length 5 (zigzag 10), only 4 bytes follow */
    gp_record_iter it;
    gp_record rec;
    gp_record_iter_init(&it, records, sizeof records, 1);
    ck_assert_int_eq(gp_record_next(&it, &rec), GP_BATCH_ERR_INVALID);
    ck_assert_ptr_nonnull(it.why);
    ck_assert_int_eq(gp_record_next(&it, &rec), GP_BATCH_ERR_INVALID);
    gp_record_iter_init(&it, records, 0, 0);
    ck_assert_int_eq(gp_record_next(&it, &rec), 0);

    static const uint8_t hdrs[] = {2, 'a', 1}; /* one header: "a" = null; a second is missing */
    gp_record r = {.header_count = 2, .headers = {hdrs, 3}};
    gp_header_iter hi;
    gp_record_header h;
    gp_header_iter_init(&hi, &r);
    ck_assert_int_eq(gp_header_next(&hi, &h), 1);
    ck_assert_int_eq(gp_header_next(&hi, &h), GP_BATCH_ERR_INVALID);
    ck_assert_int_eq(gp_header_next(&hi, &h), 0);
}
END_TEST

/* ---- control batches ----------------------------------------------------- */

START_TEST(test_control_batch)
{
    for (int type = GP_CONTROL_ABORT; type <= GP_CONTROL_COMMIT; type++) {
        gp_txn_marker m = {.type = (int16_t)type,
                           .coordinator_epoch = 31,
                           .producer_id = 555,
                           .producer_epoch = 9,
                           .timestamp = BASE_TS};
        gp_bytes b;
        ck_assert_int_eq(gp_batch_build_control(&arena, 1000, 4, &m, &b), 0);
        gp_batch_info info;
        expect_ok_lim(b.p, (size_t)b.len, &broker_limits, &info);
        expect_error(b.p, (size_t)b.len, GP_E_INVALID_RECORD, "control batch from a client");
        const gp_batch_header *h = &info.first.h;
        ck_assert(h->base_offset == 1000);
        ck_assert_int_eq(h->partition_leader_epoch, 4);
        ck_assert_int_eq(h->attributes, GP_BATCH_ATTR_TRANSACTIONAL | GP_BATCH_ATTR_CONTROL);
        ck_assert(h->producer_id == 555);
        ck_assert_int_eq(h->producer_epoch, 9);
        ck_assert_int_eq(h->base_sequence, -1);
        ck_assert_int_eq(h->records_count, 1);
        ck_assert_int_eq(h->last_offset_delta, 0);
        ck_assert(h->base_timestamp == BASE_TS && h->max_timestamp == BASE_TS);
        ck_assert(info.control && info.transactional);
        ck_assert_int_eq(info.first.marker.type, type);
        ck_assert_int_eq(info.first.marker.coordinator_epoch, 31);
        ck_assert(info.first.marker.producer_id == 555);
        ck_assert_int_eq(info.first.marker.producer_epoch, 9);
        ck_assert(info.first.marker.timestamp == BASE_TS);
        /* Kafka's bytes: a 78-byte batch (its CURRENT_END_TXN_SCHEMA_RECORD_SIZE is 17),
         * key 00 00 00 type, value 00 00 + epoch. */
        ck_assert_int_eq(b.len, 61 + 17);
        gp_record_iter it;
        gp_record rec;
        gp_record_iter_init(&it, info.first.records, info.first.records_len, 1);
        ck_assert_int_eq(gp_record_next(&it, &rec), 1);
        ck_assert_int_eq(rec.key.len, 4);
        ck_assert(memcmp(rec.key.p, type ? "\0\0\0\1" : "\0\0\0\0", 4) == 0);
        ck_assert_int_eq(rec.value.len, 6);
        ck_assert(memcmp(rec.value.p, "\0\0\0\0\0\x1f", 6) == 0);
        gp_txn_marker m2;
        const char *why;
        ck_assert_int_eq(gp_control_record_parse(&rec, &m2, &why), 0);
        ck_assert_int_eq(m2.type, type);
        ck_assert_int_eq(m2.coordinator_epoch, 31);
    }

    /* Hand-made control batches that are wrong. */
    static const struct {
        const char *key;
        int key_len;
        const char *value;
        int value_len;
        const char *what;
    } bad[] = {
        {"\0\0\0\2", 4, "\0\0\0\0\0\1", 6, "type 2 (LEADER_CHANGE) in a data partition"},
        {"\xff\xff\0\0", 4, "\0\0\0\0\0\1", 6, "negative key version"},
        {"\0\0\0", 3, "\0\0\0\0\0\1", 6, "3-byte key"},
        {"\0\0\0\1", 4, "\0\0\0\0\0", 5, "5-byte value"},
        {"\0\0\0\1", 4, "\xff\xff\0\0\0\1", 6, "negative value version"},
        {"\0\0\0\1", 4, NULL, -1, "null value"},
    };
    uint8_t buf[1024];
    hand hb = H;
    hb.attributes = GP_BATCH_ATTR_CONTROL | GP_BATCH_ATTR_TRANSACTIONAL;
    hb.producer_id = 5;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* keys hold NUL bytes: write the record by hand */
        uint8_t rb[64];
        gp_writer w;
        gp_writer_init(&w, rb, sizeof rb);
        size_t vsize = bad[i].value_len < 0 ? 1 : 1 + (size_t)bad[i].value_len;
        size_t body = 1 + 1 + 1 + 1 + (size_t)bad[i].key_len + vsize + 1;
        gp_write_varint(&w, (int32_t)body);
        gp_write_int8(&w, 0);
        gp_write_varlong(&w, 0);
        gp_write_varint(&w, 0);
        gp_write_varint(&w, bad[i].key_len);
        gp_write_bytes_raw(&w, bad[i].key, (size_t)bad[i].key_len);
        gp_write_varint(&w, bad[i].value_len);
        if (bad[i].value_len > 0)
            gp_write_bytes_raw(&w, bad[i].value, (size_t)bad[i].value_len);
        gp_write_varint(&w, 0);
        size_t n = hand_batch_raw(buf, &hb, rb, (size_t)(w.p - rb), 1);
        expect_error_lim(buf, n, &broker_limits, GP_E_INVALID_RECORD, bad[i].what);
    }
    /* a newer key or value version is read as version 0, as Kafka does */
    {
        uint8_t rb[64];
        gp_writer w;
        gp_writer_init(&w, rb, sizeof rb);
        gp_write_varint(&w, 16);
        gp_write_int8(&w, 0);
        gp_write_varlong(&w, 0);
        gp_write_varint(&w, 0);
        gp_write_varint(&w, 4);
        gp_write_bytes_raw(&w, "\0\3\0\1", 4);
        gp_write_varint(&w, 6);
        gp_write_bytes_raw(&w, "\0\2\0\0\0\7", 6);
        gp_write_varint(&w, 0);
        gp_batch_info info;
        expect_ok_lim(buf, hand_batch_raw(buf, &hb, rb, (size_t)(w.p - rb), 1), &broker_limits, &info);
        ck_assert_int_eq(info.first.marker.type, GP_CONTROL_COMMIT);
        ck_assert_int_eq(info.first.marker.coordinator_epoch, 7);
    }
    /* two records in a control batch */
    raw_rec recs[2] = {rr(0, "ab", "cd"), rr(1, "ab", "cd")};
    expect_error_lim(buf, hand_batch(buf, &hb, recs, 2), &broker_limits, GP_E_INVALID_RECORD, "two control records");
}
END_TEST

/* ---- reference batches from a real client library ------------------------ */

static uint8_t *read_hex(const char *name, size_t *len)
{
    return tu_read_hex(&arena, "batches", name, len);
}

START_TEST(test_golden_kafka_python)
{
    static const struct {
        const char *name;
        int codec;
        int n;
    } fixtures[] = {
        {"none", GP_CODEC_NONE, 10},          {"gzip", GP_CODEC_GZIP, 10},
        {"snappy", GP_CODEC_SNAPPY, 10},      {"lz4", GP_CODEC_LZ4, 10},
        {"zstd", GP_CODEC_ZSTD, 10},          {"gzip-big", GP_CODEC_GZIP, 800},
        {"snappy-big", GP_CODEC_SNAPPY, 800}, {"lz4-big", GP_CODEC_LZ4, 800},
        {"zstd-big", GP_CODEC_ZSTD, 800},
    };
    char big_filler[128];
    int k = 0;
    for (int c = 32; c < 127; c++)
        big_filler[k++] = (char)c;
    for (int r = 0; r < 3; r++)
        for (int d = 0; d < 10; d++)
            big_filler[k++] = (char)('0' + d);
    big_filler[k] = 0;

    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        size_t len;
        uint8_t *p = read_hex(fixtures[i].name, &len);
        gp_batch_info info;
        expect_ok(p, len, &info);
        int n = fixtures[i].n;
        ck_assert_int_eq(info.num_batches, 1);
        ck_assert(info.num_records == n);
        ck_assert_int_eq(info.codec, fixtures[i].codec);
        ck_assert(info.producer_id == PID);
        ck_assert_int_eq(info.producer_epoch, PEPOCH);
        ck_assert_int_eq(info.base_sequence, BASESEQ);
        ck_assert(!info.transactional && !info.control && !info.log_append_time);
        ck_assert(!info.all_keys);
        ck_assert(info.min_timestamp == BASE_TS - 5);
        ck_assert(info.max_timestamp == golden_ts(n - 1));
        ck_assert(info.first.h.max_timestamp == info.max_timestamp);
        ck_assert(info.max_timestamp_delta == n - 1);
        ck_assert(info.first.h.base_offset == 0);
        check_golden_records(&info.first, n, n == 10 ? small_filler : big_filler);

        /* The same records through our writer give the same uncompressed bytes. */
        gp_bytes mine = build_golden(&arena, fixtures[i].codec, n, n == 10 ? small_filler : big_filler);
        gp_batch_info mi;
        expect_ok(mine.p, (size_t)mine.len, &mi);
        ck_assert_uint_eq(mi.first.records_len, info.first.records_len);
        ck_assert(memcmp(mi.first.records, info.first.records, info.first.records_len) == 0);
        if (fixtures[i].codec == GP_CODEC_NONE) {
            ck_assert_int_eq(mine.len, (int32_t)len);
            ck_assert(memcmp(mine.p, p, len) == 0);
        }
        gp_arena_reset(&arena, NULL, 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_header_fields);
    tcase_add_test(tc, test_no_allocation_uncompressed);
    tcase_add_test(tc, test_rewrite_in_place);
    tcase_add_test(tc, test_codec_roundtrip);
    tcase_add_test(tc, test_codec_levels_and_names);
    tcase_add_test(tc, test_codec_other_framings);
    tcase_add_test(tc, test_codec_lying_sizes);
    tcase_add_test(tc, test_decompression_bomb);
    tcase_add_test(tc, test_max_record_bytes);
    tcase_add_test(tc, test_build_each_codec);
    tcase_add_test(tc, test_recompress);
    tcase_add_test(tc, test_build_refuses);
    tcase_add_test(tc, test_multiple_batches);
    tcase_add_test(tc, test_err_empty_and_partial);
    tcase_add_test(tc, test_err_magic);
    tcase_add_test(tc, test_err_crc_every_byte);
    tcase_add_test(tc, test_err_codec);
    tcase_add_test(tc, test_err_counts);
    tcase_add_test(tc, test_err_record_length);
    tcase_add_test(tc, test_err_offset_delta);
    tcase_add_test(tc, test_err_key_value_lengths);
    tcase_add_test(tc, test_err_headers);
    tcase_add_test(tc, test_err_producer);
    tcase_add_test(tc, test_err_size_limit);
    tcase_add_test(tc, test_err_compressed_inner);
    tcase_add_test(tc, test_truncation_every_byte);
    tcase_add_test(tc, test_iterator_malformed);
    tcase_add_test(tc, test_control_batch);
    tcase_add_test(tc, test_golden_kafka_python);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
