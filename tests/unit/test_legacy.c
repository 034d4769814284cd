/*
 * Message formats v0/v1 (gp_legacy): message sets written by a real client
 * (kafka-python, tests/golden/legacy/gen.py) up-converted record by record
 * and down-converted back; every refusal with the Kafka error it must give;
 * down-conversion of control, header, zstd, partial, LogAppendTime and
 * compressed batches.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "protocol/gp_batch.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_errors.h"
#include "protocol/gp_legacy.h"
#include "tu_hex.h"

#define BASE_TS INT64_C(1700000000000)

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

static const gp_batch_limits lim = {.max_uncompressed = 1 << 20, .from_client = true};

/* ---- helpers ------------------------------------------------------------- */

/* The records of tests/golden/legacy/gen.py: see its records(). */
static int64_t golden_ts(int i)
{
    return i == 4 ? BASE_TS - 9 : BASE_TS + 3 * i;
}

static void golden_key(int i, char *buf, size_t n, int32_t *len)
{
    *len = i % 4 == 1 ? -1 : snprintf(buf, n, "k-%d", i);
}

static void golden_value(int i, char *buf, size_t n, int32_t *len)
{
    if (i % 5 == 3) {
        *len = -1;
        return;
    }
    int k = snprintf(buf, n, "value-%d-", i);
    for (int j = 0; j < i; j++)
        buf[k++] = 'x';
    *len = k;
}

static uint8_t *read_hex(const char *name, size_t *len)
{
    return tu_read_hex(&arena, "legacy", name, len);
}

static void be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Write one entry (offset, size, message with its CRC) at p; key/value NULL
 * with len -1 are null. Returns its size. */
static size_t put_msg(uint8_t *p, int64_t offset, int8_t magic, int8_t attr, int64_t ts, const void *key, int32_t klen,
                      const void *value, int32_t vlen)
{
    size_t n = 12 + 4 + 2 + (magic ? 8 : 0);
    uint8_t *m = p + 12;
    m[4] = (uint8_t)magic;
    m[5] = (uint8_t)attr;
    if (magic)
        be(m + 6, (uint64_t)ts, 8);
    be(p + n, (uint32_t)klen, 4);
    n += 4;
    if (klen > 0)
        memcpy(p + n, key, (size_t)klen);
    n += klen > 0 ? (size_t)klen : 0;
    be(p + n, (uint32_t)vlen, 4);
    n += 4;
    if (vlen > 0)
        memcpy(p + n, value, (size_t)vlen);
    n += vlen > 0 ? (size_t)vlen : 0;
    be(p, (uint64_t)offset, 8);
    be(p + 8, n - 12, 4);
    be(m, crc32(0, m + 4, (uInt)(n - 16)), 4);
    return n;
}

/* A parsed entry, CRC checked. */
typedef struct ent {
    int64_t offset;
    int8_t magic, attr;
    int64_t ts;
    gp_bytes key, value;
} ent;

static int parse_set(const uint8_t *p, size_t len, ent *e, int max)
{
    int n = 0;
    size_t pos = 0;
    while (pos < len) {
        ck_assert_uint_ge(len - pos, 12 + 14);
        ck_assert_int_lt(n, max);
        size_t size = get_be(p + pos + 8, 4);
        ck_assert_uint_le(size, len - pos - 12);
        const uint8_t *m = p + pos + 12;
        ck_assert_uint_eq(get_be(m, 4), crc32(0, m + 4, (uInt)(size - 4)));
        e[n].offset = (int64_t)get_be(p + pos, 8);
        e[n].magic = (int8_t)m[4];
        e[n].attr = (int8_t)m[5];
        size_t q = 6;
        e[n].ts = -1;
        if (e[n].magic == 1) {
            e[n].ts = (int64_t)get_be(m + 6, 8);
            q += 8;
        }
        int32_t kl = (int32_t)get_be(m + q, 4);
        e[n].key = (gp_bytes){m + q + 4, kl};
        q += 4 + (kl > 0 ? (size_t)kl : 0);
        int32_t vl = (int32_t)get_be(m + q, 4);
        e[n].value = (gp_bytes){m + q + 4, vl};
        q += 4 + (vl > 0 ? (size_t)vl : 0);
        ck_assert_uint_eq(q, size);
        pos += 12 + size;
        n++;
    }
    return n;
}

static gp_bytes zip(int codec, const uint8_t *p, size_t n)
{
    size_t bound = gp_compress_bound(codec, n), zlen;
    uint8_t *z = gp_arena_alloc(&arena, bound);
    ck_assert_int_eq(gp_compress(codec, GP_COMPRESS_LEVEL_DEFAULT, p, n, z, bound, &zlen), 0);
    return (gp_bytes){z, (int32_t)zlen};
}

static void expect_up_error(const uint8_t *p, size_t len, const gp_batch_limits *l, int16_t code, const char *what)
{
    gp_bytes out;
    int16_t err = -1;
    const char *msg = NULL;
    int rc = gp_legacy_upconvert(p, len, l, &arena, &out, &err, &msg);
    ck_assert_msg(rc == GP_BATCH_ERR_INVALID, "%s: rc %d", what, rc);
    ck_assert_msg(err == code, "%s: Kafka error %d, expected %d (%s)", what, err, code, msg ? msg : "");
    ck_assert_msg(msg && msg[0], "%s: no message", what);
}

static gp_bytes up_ok(const uint8_t *p, size_t len, gp_batch_info *info)
{
    gp_bytes out;
    int16_t err;
    const char *msg = NULL;
    int rc = gp_legacy_upconvert(p, len, &lim, &arena, &out, &err, &msg);
    ck_assert_msg(rc == 0, "upconvert: rc %d: %s", rc, msg ? msg : "");
    ck_assert_int_eq(err, GP_E_NONE);
    rc = gp_batches_validate(out.p, (size_t)out.len, &lim, &arena, info, &err, &msg);
    ck_assert_msg(rc == 0, "validate: rc %d: %s", rc, msg ? msg : "");
    ck_assert_int_eq(info->num_batches, 1);
    ck_assert(info->producer_id == -1);
    ck_assert_int_eq(info->producer_epoch, -1);
    ck_assert_int_eq(info->base_sequence, -1);
    ck_assert(!info->transactional && !info->control);
    ck_assert(info->first.h.base_offset == 0);
    return out;
}

/* The records of a validated single batch, in order. */
static int batch_records(const gp_batch_info *info, gp_record *recs, int max)
{
    gp_record_iter it;
    gp_record_iter_init(&it, info->first.records, info->first.records_len, info->first.h.records_count);
    int n = 0, rc;
    while (n < max && (rc = gp_record_next(&it, &recs[n])) == 1)
        n++;
    return n;
}

static bool bytes_eq(gp_bytes a, gp_bytes b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* ---- golden message sets --------------------------------------------------- */

static const struct {
    const char *name;
    int8_t magic;
    int codec;
    int n;
} golden[] = {
    {"v0-none", 0, GP_CODEC_NONE, 10},          {"v0-gzip", 0, GP_CODEC_GZIP, 10},
    {"v0-snappy", 0, GP_CODEC_SNAPPY, 10},      {"v0-lz4", 0, GP_CODEC_LZ4, 10},
    {"v1-none", 1, GP_CODEC_NONE, 10},          {"v1-gzip", 1, GP_CODEC_GZIP, 10},
    {"v1-snappy", 1, GP_CODEC_SNAPPY, 10},      {"v1-lz4", 1, GP_CODEC_LZ4, 10},
    {"v0-gzip-big", 0, GP_CODEC_GZIP, 300},     {"v1-gzip-big", 1, GP_CODEC_GZIP, 300},
    {"v0-snappy-big", 0, GP_CODEC_SNAPPY, 300}, {"v1-snappy-big", 1, GP_CODEC_SNAPPY, 300},
    {"v0-lz4-big", 0, GP_CODEC_LZ4, 300},       {"v1-lz4-big", 1, GP_CODEC_LZ4, 300},
};
#define NGOLDEN ((int)(sizeof golden / sizeof golden[0]))

START_TEST(test_golden_upconvert)
{
    const int k = _i;
    size_t len;
    uint8_t *p = read_hex(golden[k].name, &len);
    gp_batch_info info;
    up_ok(p, len, &info);
    int n = golden[k].n;
    ck_assert(info.num_records == n);
    ck_assert_int_eq(info.codec, golden[k].codec);
    ck_assert(!info.log_append_time);
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n + 1, sizeof *recs);
    ck_assert_int_eq(batch_records(&info, recs, n + 1), n);
    for (int i = 0; i < n; i++) {
        char kb[32], vb[512];
        int32_t kl, vl;
        golden_key(i, kb, sizeof kb, &kl);
        golden_value(i, vb, sizeof vb, &vl);
        ck_assert_int_eq(recs[i].offset_delta, i);
        int64_t ts = info.first.h.base_timestamp + recs[i].timestamp_delta;
        ck_assert_msg(ts == (golden[k].magic ? golden_ts(i) : -1), "%s record %d: timestamp %lld", golden[k].name, i,
                      (long long)ts);
        ck_assert_int_eq(recs[i].key.len, kl);
        ck_assert_int_eq(recs[i].value.len, vl);
        if (kl > 0)
            ck_assert(memcmp(recs[i].key.p, kb, (size_t)kl) == 0);
        if (vl > 0)
            ck_assert(memcmp(recs[i].value.p, vb, (size_t)vl) == 0);
        ck_assert_int_eq(recs[i].header_count, 0);
    }
    if (golden[k].magic) {
        ck_assert(info.min_timestamp == BASE_TS - 9);
        ck_assert(info.max_timestamp == golden_ts(n - 1));
    } else {
        ck_assert(info.min_timestamp == -1 && info.max_timestamp == -1);
    }
}
END_TEST

/*
 * Up, then down to the same magic. Uncompressed: Kafka's encoding is
 * deterministic and the bytes must come back exactly. Compressed: the
 * wrapper differs by design (kafka-python writes offset 0 and timestamp 0,
 * Kafka's down-conversion the last offset and the largest timestamp) and
 * the compressed bytes by library and level, so the inner message sets are
 * compared after decompression, and up-converting the result again must give
 * the same v2 batch. Magic 0 lz4: the frame header, broken checksum byte
 * included, must equal kafka-python's.
 */
START_TEST(test_golden_roundtrip)
{
    const int k = _i;
    size_t len;
    uint8_t *p = read_hex(golden[k].name, &len);
    gp_batch_info info;
    gp_bytes up = up_ok(p, len, &info);
    int8_t magic = golden[k].magic;
    int n = golden[k].n;
    gp_bytes down;
    gp_legacy_down d;
    ck_assert_int_eq(gp_legacy_downconvert(up.p, (size_t)up.len, magic, 0, &arena, &down, &d), 0);
    ck_assert_int_eq(d.batches, 1);
    ck_assert(d.next_offset == n);
    ck_assert_uint_eq(d.consumed, (size_t)up.len);
    if (golden[k].codec == GP_CODEC_NONE) {
        ck_assert_int_eq(d.messages, n);
        ck_assert_msg(down.len == (int32_t)len && memcmp(down.p, p, len) == 0, "%s: bytes differ", golden[k].name);
        return;
    }
    ck_assert_int_eq(d.messages, 1);
    ent ours, theirs;
    ck_assert_int_eq(parse_set(down.p, (size_t)down.len, &ours, 1), 1);
    ck_assert_int_eq(parse_set(p, len, &theirs, 1), 1);
    ck_assert(ours.offset == n - 1);
    ck_assert_int_eq(ours.magic, magic);
    ck_assert_int_eq(ours.attr, golden[k].codec);
    ck_assert_int_eq(ours.key.len, -1);
    ck_assert(ours.ts == (magic ? golden_ts(n - 1) : -1));
    if (magic == 0 && golden[k].codec == GP_CODEC_LZ4) {
        ck_assert_int_ge(ours.value.len, 7);
        ck_assert_msg(memcmp(ours.value.p, theirs.value.p, 7) == 0, "magic 0 lz4 frame header differs");
    } else {
        const uint8_t *a, *b;
        size_t alen, blen;
        ck_assert_int_eq(
            gp_decompress(golden[k].codec, ours.value.p, (size_t)ours.value.len, &arena, 1 << 20, &a, &alen), 0);
        ck_assert_int_eq(
            gp_decompress(golden[k].codec, theirs.value.p, (size_t)theirs.value.len, &arena, 1 << 20, &b, &blen), 0);
        ck_assert_msg(alen == blen && memcmp(a, b, alen) == 0, "%s: inner message sets differ", golden[k].name);
    }
    gp_batch_info info2;
    gp_bytes up2 = up_ok(down.p, (size_t)down.len, &info2);
    ck_assert_msg(bytes_eq(up, up2), "%s: up-converting the down-converted set gives another batch", golden[k].name);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------- */

START_TEST(test_err_crc)
{
    size_t len;
    uint8_t *p = read_hex("v1-none", &len);
    for (size_t i = 12; i < len; i++) {
        size_t size = get_be(p, 0) + get_be(p + 8, 4);
        if (i < 12 + 4 || i >= 12 + size) /* the first message, after its CRC */
            continue;
        p[i] ^= 0x40;
        expect_up_error(p, len, &lim, GP_E_CORRUPT_MESSAGE, "flipped bit");
        p[i] ^= 0x40;
    }
    /* an inner message's CRC */
    uint8_t inner[256], outer[512];
    size_t n = put_msg(inner, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    n += put_msg(inner + n, 1, 1, 0, BASE_TS, "k", 1, "v", 1);
    inner[n - 1] ^= 1;
    gp_bytes z = zip(GP_CODEC_GZIP, inner, n);
    size_t m = put_msg(outer, 1, 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z.p, z.len);
    expect_up_error(outer, m, &lim, GP_E_CORRUPT_MESSAGE, "inner CRC");
}
END_TEST

START_TEST(test_err_truncated)
{
    size_t len;
    uint8_t *p = read_hex("v1-none", &len);
    size_t first = 12 + get_be(p + 8, 4);
    for (size_t cut = 1; cut < len; cut++) {
        gp_bytes out;
        int16_t err;
        const char *msg;
        int rc = gp_legacy_upconvert(p, cut, &lim, &arena, &out, &err, &msg);
        /* A partial entry at the end is trimmed, as Kafka does: the whole
         * entries before it are converted, nothing when there is none. */
        ck_assert_int_eq(rc, 0);
        if (cut < first) {
            ck_assert_int_eq(out.len, 0);
        } else {
            gp_batch_info info;
            int16_t kerr;
            const char *why;
            ck_assert_int_eq(gp_batches_validate(out.p, (size_t)out.len, &lim, &arena, &info, &kerr, &why), 0);
            int32_t complete = 0;
            for (size_t pos = 0; pos + 12 <= cut && pos + 12 + get_be(p + pos + 8, 4) <= cut;
                 pos += 12 + get_be(p + pos + 8, 4))
                complete++;
            ck_assert_int_eq(info.num_records, complete);
        }
    }
    /* a compressed set cut inside its inner messages */
    uint8_t inner[256], outer[512];
    size_t n = put_msg(inner, 0, 0, 0, -1, "k", 1, "v", 1);
    n += put_msg(inner + n, 1, 0, 0, -1, "k", 1, "v", 1);
    gp_bytes z = zip(GP_CODEC_GZIP, inner, n - 3);
    size_t m = put_msg(outer, 1, 0, GP_CODEC_GZIP, -1, NULL, -1, z.p, z.len);
    expect_up_error(outer, m, &lim, GP_E_CORRUPT_MESSAGE, "partial inner message");
}
END_TEST

START_TEST(test_err_structure)
{
    uint8_t buf[1024] = {0};
    {
        /* an empty set: nothing to append, no error (Kafka 3.9.1 answers 0) */
        gp_bytes out;
        int16_t err;
        const char *msg;
        ck_assert_int_eq(gp_legacy_upconvert(buf, 0, &lim, &arena, &out, &err, &msg), 0);
        ck_assert_int_eq(out.len, 0);
    }
    /* key length beyond the message, CRC right */
    size_t n = put_msg(buf, 0, 1, 0, BASE_TS, "key", 3, "value", 5);
    be(buf + 12 + 14, 100, 4);
    be(buf + 12, crc32(0, buf + 16, (uInt)(n - 16)), 4);
    expect_up_error(buf, n, &lim, GP_E_CORRUPT_MESSAGE, "key length");
    /* message longer than its fields */
    n = put_msg(buf, 0, 0, 0, -1, "key", 3, "value", 5);
    be(buf + 12 + 6 + 4 + 3, 4, 4);
    be(buf + 12, crc32(0, buf + 16, (uInt)(n - 16)), 4);
    expect_up_error(buf, n, &lim, GP_E_CORRUPT_MESSAGE, "trailing bytes in a message");
    /* size below the minimum, magic 3 */
    n = put_msg(buf, 0, 0, 0, -1, NULL, -1, NULL, -1);
    be(buf + 8, 13, 4);
    expect_up_error(buf, n, &lim, GP_E_CORRUPT_MESSAGE, "size 13");
    n = put_msg(buf, 0, 0, 0, -1, NULL, -1, NULL, -1);
    buf[16] = 3;
    expect_up_error(buf, n, &lim, GP_E_CORRUPT_MESSAGE, "magic 3");
    /* magic 1 message too short for its timestamp */
    n = put_msg(buf, 0, 0, 0, -1, NULL, -1, NULL, -1);
    buf[16] = 1;
    be(buf + 12, crc32(0, buf + 16, (uInt)(n - 16)), 4);
    expect_up_error(buf, n, &lim, GP_E_CORRUPT_MESSAGE, "magic 1 in 14 bytes");
    /* max.message.bytes */
    n = put_msg(buf, 0, 1, 0, BASE_TS, "k", 1, "0123456789", 10);
    gp_batch_limits small = lim;
    small.max_batch_bytes = n - 1;
    expect_up_error(buf, n, &small, GP_E_MESSAGE_TOO_LARGE, "max.message.bytes");
    small.max_batch_bytes = n;
    gp_bytes out;
    int16_t err;
    const char *msg;
    ck_assert_int_eq(gp_legacy_upconvert(buf, n, &small, &arena, &out, &err, &msg), 0);
}
END_TEST

START_TEST(test_err_magic)
{
    uint8_t buf[1024];
    size_t n = put_msg(buf, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    n += put_msg(buf + n, 1, 0, 0, -1, "k", 1, "v", 1);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "magic 1 then 0");
    /* a v2 batch after a v1 message */
    n = put_msg(buf, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    gp_record rec = {.key = {(const uint8_t *)"k", 1}, .value = {(const uint8_t *)"v", 1}};
    gp_batch_params bp = {.producer_id = -1, .producer_epoch = -1, .base_sequence = -1, .codec = GP_CODEC_NONE};
    gp_bytes v2;
    ck_assert_int_eq(gp_batch_build(&arena, &bp, &rec, 1, &v2), 0);
    memcpy(buf + n, v2.p, (size_t)v2.len);
    expect_up_error(buf, n + (size_t)v2.len, &lim, GP_E_INVALID_RECORD, "magic 2 batch inside");
    expect_up_error(v2.p, (size_t)v2.len, &lim, GP_E_INVALID_RECORD, "a v2 batch alone");
    /* an inner message of another magic */
    uint8_t inner[256];
    size_t m = put_msg(inner, 0, 0, 0, -1, "k", 1, "v", 1);
    gp_bytes z = zip(GP_CODEC_SNAPPY, inner, m);
    n = put_msg(buf, 0, 1, GP_CODEC_SNAPPY, BASE_TS, NULL, -1, z.p, z.len);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "inner magic 0 in a magic 1 wrapper");
}
END_TEST

START_TEST(test_err_wrappers)
{
    uint8_t inner[4096], buf[8192];
    gp_bytes out;
    int16_t err;
    const char *msg;
    /* nested */
    size_t m = put_msg(inner, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    gp_bytes z = zip(GP_CODEC_GZIP, inner, m);
    size_t m2 = put_msg(inner, 0, 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z.p, z.len);
    gp_bytes z2 = zip(GP_CODEC_GZIP, inner, m2);
    size_t n = put_msg(buf, 0, 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z2.p, z2.len);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "nested wrapper");
    /* zstd below magic 2, codec 5 */
    m = put_msg(inner, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    z = zip(GP_CODEC_ZSTD, inner, m);
    n = put_msg(buf, 0, 1, GP_CODEC_ZSTD, BASE_TS, NULL, -1, z.p, z.len);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "zstd on magic 1");
    n = put_msg(buf, 0, 1, 5, BASE_TS, NULL, -1, z.p, z.len);
    expect_up_error(buf, n, &lim, GP_E_UNSUPPORTED_COMPRESSION_TYPE, "codec 5");
    /* null value, empty inner set, garbage */
    n = put_msg(buf, 0, 0, GP_CODEC_GZIP, -1, NULL, -1, NULL, -1);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "null wrapper value");
    z = zip(GP_CODEC_LZ4, inner, 0);
    n = put_msg(buf, 0, 1, GP_CODEC_LZ4, BASE_TS, NULL, -1, z.p, z.len);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "no inner message");
    n = put_msg(buf, 0, 1, GP_CODEC_LZ4, BASE_TS, NULL, -1, "garbage", 7);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "not lz4");
    /* a compressed message must be alone */
    m = put_msg(inner, 0, 1, 0, BASE_TS, "k", 1, "v", 1);
    z = zip(GP_CODEC_GZIP, inner, m);
    n = put_msg(buf, 0, 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z.p, z.len);
    n += put_msg(buf + n, 1, 1, 0, BASE_TS, "k", 1, "v", 1);
    expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "wrapper and a plain message");
    /* magic 1 wrapper offsets: 0 and >= the last inner offset are fine */
    m = 0;
    for (int i = 0; i < 6; i++)
        m += put_msg(inner + m, i, 1, 0, BASE_TS + i, "k", 1, "v", 1);
    z = zip(GP_CODEC_GZIP, inner, m);
    static const int64_t wrapper_off[] = {0, 5, 1000, 4};
    for (int i = 0; i < 4; i++) {
        n = put_msg(buf, wrapper_off[i], 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z.p, z.len);
        if (i < 3)
            ck_assert_int_eq(gp_legacy_upconvert(buf, n, &lim, &arena, &out, &err, &msg), 0);
        else
            expect_up_error(buf, n, &lim, GP_E_INVALID_RECORD, "wrapper offset below the last inner");
    }
    /* inner offsets other than 0..n-1 are rewritten, as Kafka does */
    m = 0;
    for (int i = 0; i < 3; i++)
        m += put_msg(inner + m, 7 - i, 1, 0, BASE_TS + i, "k", 1, "v", 1);
    z = zip(GP_CODEC_GZIP, inner, m);
    n = put_msg(buf, 0, 1, GP_CODEC_GZIP, BASE_TS, NULL, -1, z.p, z.len);
    gp_batch_info info;
    up_ok(buf, n, &info);
    ck_assert(info.num_records == 3);
}
END_TEST

START_TEST(test_err_bomb)
{
    size_t big = (1 << 20) + 1000;
    uint8_t *value = gp_arena_calloc(&arena, big, 1);
    uint8_t *inner = gp_arena_alloc(&arena, big + 64);
    size_t m = put_msg(inner, 0, 1, 0, BASE_TS, NULL, -1, value, (int32_t)big);
    static const int codecs[] = {GP_CODEC_GZIP, GP_CODEC_SNAPPY, GP_CODEC_LZ4};
    for (int c = 0; c < 3; c++) {
        gp_bytes z = zip(codecs[c], inner, m);
        uint8_t *buf = gp_arena_alloc(&arena, (size_t)z.len + 64);
        size_t n = put_msg(buf, 0, 1, (int8_t)codecs[c], BASE_TS, NULL, -1, z.p, z.len);
        expect_up_error(buf, n, &lim, GP_E_MESSAGE_TOO_LARGE, "decompression bomb");
    }
}
END_TEST

START_TEST(test_up_log_append_time)
{
    uint8_t inner[512], buf[1024];
    size_t m = 0;
    for (int i = 0; i < 3; i++)
        m += put_msg(inner + m, i, 1, 0, BASE_TS + 100 * i, "k", 1, "v", 1);
    gp_bytes z = zip(GP_CODEC_SNAPPY, inner, m);
    int64_t wts = BASE_TS + 5000;
    size_t n = put_msg(buf, 2, 1, GP_CODEC_SNAPPY | GP_LEGACY_ATTR_LOG_APPEND_TIME, wts, NULL, -1, z.p, z.len);
    gp_batch_info info;
    up_ok(buf, n, &info);
    ck_assert(info.log_append_time);
    ck_assert(info.min_timestamp == wts && info.max_timestamp == wts);
    ck_assert(info.first.h.max_timestamp == wts);
    /* CreateTime wrapper: the inner timestamps */
    n = put_msg(buf, 2, 1, GP_CODEC_SNAPPY, wts, NULL, -1, z.p, z.len);
    up_ok(buf, n, &info);
    ck_assert(!info.log_append_time);
    ck_assert(info.min_timestamp == BASE_TS && info.max_timestamp == BASE_TS + 200);
    /* plain messages, one with the bit; magic 0 ignores the bit */
    n = put_msg(buf, 0, 1, 0, BASE_TS, "a", 1, "b", 1);
    n += put_msg(buf + n, 1, 1, GP_LEGACY_ATTR_LOG_APPEND_TIME, BASE_TS + 1, "a", 1, "b", 1);
    up_ok(buf, n, &info);
    ck_assert(info.log_append_time);
    n = put_msg(buf, 0, 0, GP_LEGACY_ATTR_LOG_APPEND_TIME, -1, "a", 1, "b", 1);
    up_ok(buf, n, &info);
    ck_assert(!info.log_append_time);
}
END_TEST

/* ---- down-conversion --------------------------------------------------------- */

/* A v2 batch of n records "k<i>"/"v<i>" (record 1 null key, record 2 null
 * value), timestamps BASE_TS + 10 * i, each with one header. */
static gp_bytes v2_batch(int64_t base_offset, int n, int codec, bool log_append_time)
{
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n, sizeof *recs);
    gp_record_header h = {{(const uint8_t *)"hk", 2}, {(const uint8_t *)"hv", 2}};
    gp_bytes hdr = gp_record_headers_encode(&arena, &h, 1);
    for (int i = 0; i < n; i++) {
        char *k = gp_arena_printf(&arena, "k%d", i), *v = gp_arena_printf(&arena, "v%d", i);
        recs[i].key = i == 1 ? (gp_bytes){NULL, -1} : (gp_bytes){(const uint8_t *)k, (int32_t)strlen(k)};
        recs[i].value = i == 2 ? (gp_bytes){NULL, -1} : (gp_bytes){(const uint8_t *)v, (int32_t)strlen(v)};
        recs[i].timestamp_delta = 10 * i;
        recs[i].header_count = 1;
        recs[i].headers = hdr;
    }
    gp_batch_params bp = {.base_offset = base_offset,
                          .base_timestamp = BASE_TS,
                          .log_append_time = log_append_time,
                          .log_append_time_ms = BASE_TS + 99999,
                          .producer_id = -1,
                          .producer_epoch = -1,
                          .base_sequence = -1,
                          .codec = codec,
                          .level = GP_COMPRESS_LEVEL_DEFAULT};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(&arena, &bp, recs, n, &out), 0);
    return out;
}

static gp_bytes concat(gp_bytes a, gp_bytes b)
{
    uint8_t *p = gp_arena_alloc(&arena, (size_t)a.len + (size_t)b.len);
    memcpy(p, a.p, (size_t)a.len);
    memcpy(p + a.len, b.p, (size_t)b.len);
    return (gp_bytes){p, a.len + b.len};
}

static void check_plain(const ent *e, int i, int64_t offset, int8_t magic, int64_t ts, int8_t attr)
{
    ck_assert(e->offset == offset);
    ck_assert_int_eq(e->magic, magic);
    ck_assert_int_eq(e->attr, attr);
    ck_assert(e->ts == ts);
    char k[16], v[16];
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    ck_assert(i == 1 ? e->key.len == -1 : (e->key.len == (int32_t)strlen(k) && !memcmp(e->key.p, k, strlen(k))));
    ck_assert(i == 2 ? e->value.len == -1 : (e->value.len == (int32_t)strlen(v) && !memcmp(e->value.p, v, strlen(v))));
}

START_TEST(test_down_plain_control_headers)
{
    gp_txn_marker mk = {.type = GP_CONTROL_COMMIT, .producer_id = 7, .producer_epoch = 1, .timestamp = BASE_TS};
    gp_bytes ctl;
    ck_assert_int_eq(gp_batch_build_control(&arena, 103, 0, &mk, &ctl), 0);
    gp_bytes in = concat(concat(v2_batch(100, 3, GP_CODEC_NONE, false), ctl), v2_batch(104, 4, GP_CODEC_NONE, false));
    for (int8_t magic = 0; magic <= 1; magic++) {
        gp_bytes out;
        gp_legacy_down d;
        ck_assert_int_eq(gp_legacy_downconvert(in.p, (size_t)in.len, magic, 0, &arena, &out, &d), 0);
        ck_assert_int_eq(d.batches, 3);
        ck_assert(d.next_offset == 108);
        ck_assert_int_eq(d.messages, 7);
        ent e[8];
        ck_assert_int_eq(parse_set(out.p, (size_t)out.len, e, 8), 7);
        for (int i = 0; i < 7; i++) {
            int r = i < 3 ? i : i - 3;
            int64_t off = i < 3 ? 100 + i : 104 + r;
            check_plain(&e[i], r, off, magic, magic ? BASE_TS + 10 * r : -1, 0);
        }
        /* the header is gone: the entry is exactly a put_msg of key and value */
        uint8_t exp[64];
        size_t n = put_msg(exp, 100, magic, 0, BASE_TS, "k0", 2, "v0", 2);
        ck_assert_int_ge(out.len, (int32_t)n);
        ck_assert(memcmp(out.p, exp, n) == 0);
        /* a fetch from offset 105 drops the records before it */
        ck_assert_int_eq(gp_legacy_downconvert(in.p, (size_t)in.len, magic, 105, &arena, &out, &d), 0);
        ck_assert_int_eq(parse_set(out.p, (size_t)out.len, e, 8), 3);
        ck_assert(e[0].offset == 105);
    }
    /* only a control batch: nothing */
    gp_bytes out;
    gp_legacy_down d;
    ck_assert_int_eq(gp_legacy_downconvert(ctl.p, (size_t)ctl.len, 1, 0, &arena, &out, &d), 0);
    ck_assert_int_eq(out.len, 0);
    ck_assert(d.next_offset == 104);
}
END_TEST

START_TEST(test_down_compressed)
{
    static const int codecs[] = {GP_CODEC_GZIP, GP_CODEC_SNAPPY, GP_CODEC_LZ4};
    for (int c = 0; c < 3; c++)
        for (int8_t magic = 0; magic <= 1; magic++) {
            gp_bytes in = v2_batch(100, 5, codecs[c], false);
            gp_bytes out;
            gp_legacy_down d;
            ck_assert_int_eq(gp_legacy_downconvert(in.p, (size_t)in.len, magic, 102, &arena, &out, &d), 0);
            ent w;
            ck_assert_int_eq(parse_set(out.p, (size_t)out.len, &w, 1), 1);
            ck_assert(w.offset == 104);
            ck_assert_int_eq(w.attr, codecs[c]);
            ck_assert_int_eq(w.key.len, -1);
            ck_assert(w.ts == (magic ? BASE_TS + 40 : -1));
            /* the whole wrapper up-converts to the same records */
            gp_batch_info info;
            up_ok(out.p, (size_t)out.len, &info);
            ck_assert(info.num_records == 5);
            ck_assert_int_eq(info.codec, codecs[c]);
            if (codecs[c] == GP_CODEC_LZ4 && magic == 0)
                continue; /* liblz4 refuses Kafka's broken header checksum */
            const uint8_t *p;
            size_t plen;
            ck_assert_int_eq(gp_decompress(codecs[c], w.value.p, (size_t)w.value.len, &arena, 1 << 20, &p, &plen), 0);
            ent e[5];
            ck_assert_int_eq(parse_set(p, plen, e, 5), 5);
            for (int i = 0; i < 5; i++)
                check_plain(&e[i], i, magic ? i : 100 + i, magic, magic ? BASE_TS + 10 * i : -1, 0);
        }
}
END_TEST

START_TEST(test_down_log_append_time)
{
    const int64_t lat = BASE_TS + 99999;
    for (int c = 0; c < 2; c++) {
        int codec = c ? GP_CODEC_GZIP : GP_CODEC_NONE;
        gp_bytes in = v2_batch(0, 3, codec, true);
        gp_bytes out;
        ck_assert_int_eq(gp_legacy_downconvert(in.p, (size_t)in.len, 1, 0, &arena, &out, NULL), 0);
        ent e[3];
        if (!c) {
            ck_assert_int_eq(parse_set(out.p, (size_t)out.len, e, 3), 3);
            for (int i = 0; i < 3; i++)
                check_plain(&e[i], i, i, 1, lat, GP_LEGACY_ATTR_LOG_APPEND_TIME);
        } else {
            ck_assert_int_eq(parse_set(out.p, (size_t)out.len, e, 1), 1);
            ck_assert(e[0].ts == lat);
            ck_assert_int_eq(e[0].attr, GP_CODEC_GZIP | GP_LEGACY_ATTR_LOG_APPEND_TIME);
            const uint8_t *p;
            size_t plen;
            ck_assert_int_eq(gp_decompress(codec, e[0].value.p, (size_t)e[0].value.len, &arena, 1 << 20, &p, &plen), 0);
            ck_assert_int_eq(parse_set(p, plen, e, 3), 3);
            for (int i = 0; i < 3; i++)
                check_plain(&e[i], i, i, 1, lat, GP_LEGACY_ATTR_LOG_APPEND_TIME);
        }
        /* magic 0: no timestamp, no bit */
        ck_assert_int_eq(gp_legacy_downconvert(in.p, (size_t)in.len, 0, 0, &arena, &out, NULL), 0);
        ck_assert_int_eq(parse_set(out.p, (size_t)out.len, e, 3), c ? 1 : 3);
        ck_assert_int_eq(e[0].attr, codec);
    }
}
END_TEST

START_TEST(test_down_refusals_and_partial)
{
    gp_bytes out;
    gp_legacy_down d;
    gp_bytes z = v2_batch(0, 2, GP_CODEC_ZSTD, false);
    gp_bytes a = v2_batch(0, 2, GP_CODEC_NONE, false);
    ck_assert_int_eq(gp_legacy_downconvert(z.p, (size_t)z.len, 1, 0, &arena, &out, &d), GP_LEGACY_ERR_ZSTD);
    gp_bytes az = concat(a, z);
    ck_assert_int_eq(gp_legacy_downconvert(az.p, (size_t)az.len, 0, 0, &arena, &out, &d), GP_LEGACY_ERR_ZSTD);
    ck_assert_int_eq(gp_legacy_downconvert(a.p, (size_t)a.len, 2, 0, &arena, &out, &d), GP_LEGACY_ERR_MAGIC);
    /* a partial batch at the end, cut anywhere, is left */
    gp_bytes whole;
    ck_assert_int_eq(gp_legacy_downconvert(a.p, (size_t)a.len, 1, 0, &arena, &whole, NULL), 0);
    gp_bytes two = concat(a, v2_batch(2, 3, GP_CODEC_GZIP, false));
    for (int32_t cut = a.len; cut < two.len; cut++) {
        ck_assert_int_eq(gp_legacy_downconvert(two.p, (size_t)cut, 1, 0, &arena, &out, &d), 0);
        ck_assert_msg(bytes_eq(out, whole), "cut at %d", cut);
        ck_assert_uint_eq(d.consumed, (size_t)a.len);
        ck_assert(d.next_offset == 2);
    }
    ck_assert_int_eq(gp_legacy_downconvert(two.p, (size_t)two.len, 1, 0, &arena, &out, &d), 0);
    ck_assert_int_eq(d.messages, 3);
    ck_assert(d.next_offset == 5);
    /* a stored batch that is not v2 */
    uint8_t *bad = gp_arena_alloc(&arena, (size_t)a.len);
    memcpy(bad, a.p, (size_t)a.len);
    bad[GP_BATCH_OFF_MAGIC] = 1;
    ck_assert_int_eq(gp_legacy_downconvert(bad, (size_t)a.len, 1, 0, &arena, &out, &d), GP_LEGACY_ERR_CORRUPT);
    bad[GP_BATCH_OFF_MAGIC] = 2;
    be(bad + GP_BATCH_OFF_RECORDS_COUNT, 3, 4);
    ck_assert_int_eq(gp_legacy_downconvert(bad, (size_t)a.len, 1, 0, &arena, &out, &d), GP_LEGACY_ERR_CORRUPT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("legacy");
    TCase *tc = tcase_create("legacy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_golden_upconvert, 0, NGOLDEN);
    tcase_add_loop_test(tc, test_golden_roundtrip, 0, NGOLDEN);
    tcase_add_test(tc, test_err_crc);
    tcase_add_test(tc, test_err_truncated);
    tcase_add_test(tc, test_err_structure);
    tcase_add_test(tc, test_err_magic);
    tcase_add_test(tc, test_err_wrappers);
    tcase_add_test(tc, test_err_bomb);
    tcase_add_test(tc, test_up_log_append_time);
    tcase_add_test(tc, test_down_plain_control_headers);
    tcase_add_test(tc, test_down_compressed);
    tcase_add_test(tc, test_down_log_append_time);
    tcase_add_test(tc, test_down_refusals_and_partial);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
