/*
 * Message formats v0/v1 (gp_legacy) on arbitrary bytes, both directions.
 *
 * Input: byte 0 holds options, the rest is the data.
 *   bit 0  0: up-convert the data as a Produce message set;
 *          1: down-convert it as stored v2 batches
 *   bit 1  down-convert to magic 1 (else 0)
 *   bit 2  (up) recompute the CRC of every complete top-level message first,
 *          so that the fuzzer reaches the fields and the codecs
 * The data is copied into a buffer of exactly its size, so ASan sees any
 * read past its end.
 *
 * Checked: no out-of-bounds access or undefined behaviour; results are the
 * documented codes, with a Kafka error and a message for a refusal; an
 * up-converted batch passes gp_batches_validate with offset deltas 0..n-1,
 * down-converts to the requested magic, and that up-converts again to the
 * same number of records; a down-conversion reads no more than its input.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"
#include "protocol/gp_legacy.h"

#define FZ_MAX_UNCOMPRESSED (64 * 1024)

static void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ CHECK FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fz_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Give every complete top-level message a correct CRC. */
static void fz_fix_crcs(uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (len - pos >= GP_LEGACY_LOG_OVERHEAD) {
        uint32_t size = fz_be32(p + pos + 8);
        if (size < GP_LEGACY_RECORD_OVERHEAD_V0 || size > len - pos - GP_LEGACY_LOG_OVERHEAD)
            return;
        uint8_t *m = p + pos + GP_LEGACY_LOG_OVERHEAD;
        uint32_t c = (uint32_t)crc32(0, m + 4, (uInt)(size - 4));
        m[0] = (uint8_t)(c >> 24);
        m[1] = (uint8_t)(c >> 16);
        m[2] = (uint8_t)(c >> 8);
        m[3] = (uint8_t)c;
        pos += GP_LEGACY_LOG_OVERHEAD + size;
    }
}

static void fz_up(uint8_t *blob, size_t len, int8_t to_magic, gp_arena *a)
{
    gp_batch_limits lim = {.max_uncompressed = FZ_MAX_UNCOMPRESSED, .from_client = true};
    gp_bytes batch;
    int16_t err = -1;
    const char *msg = NULL;
    int rc = gp_legacy_upconvert(blob, len, &lim, a, &batch, &err, &msg);
    if (rc == GP_BATCH_ERR_INVALID) {
        if (err != GP_E_CORRUPT_MESSAGE && err != GP_E_INVALID_RECORD && err != GP_E_UNSUPPORTED_COMPRESSION_TYPE &&
            err != GP_E_MESSAGE_TOO_LARGE)
            fz_fail("unexpected Kafka error %d (%s)", err, gp_error_name(err));
        if (!msg || !msg[0])
            fz_fail("an error without a message");
        return;
    }
    if (rc != 0 || err != GP_E_NONE)
        fz_fail("upconvert returned %d, error %d", rc, err);
    if (batch.len == 0)
        return; /* no whole message (a trailing partial one is trimmed, as Kafka does): nothing to append */

    gp_batch_info info;
    lim.max_uncompressed = 4 * FZ_MAX_UNCOMPRESSED; /* v2 records are at most a little larger */
    rc = gp_batches_validate(batch.p, (size_t)batch.len, &lim, a, &info, &err, &msg);
    if (rc != 0 || info.num_batches != 1 || info.num_records < 1)
        fz_fail("the up-converted batch does not validate: %d %s", rc, msg ? msg : "");
    gp_record_iter it;
    gp_record_iter_init(&it, info.first.records, info.first.records_len, info.first.h.records_count);
    gp_record rec;
    int32_t i = 0;
    while ((rc = gp_record_next(&it, &rec)) == 1) {
        if (rec.offset_delta != i || rec.header_count != 0)
            fz_fail("record %d: offset delta %d, %d headers", i, rec.offset_delta, rec.header_count);
        i++;
    }
    if (rc != 0 || i != info.num_records)
        fz_fail("%d of %lld records iterate", i, (long long)info.num_records);

    gp_bytes set;
    gp_legacy_down d;
    rc = gp_legacy_downconvert(batch.p, (size_t)batch.len, to_magic, 0, a, &set, &d);
    if (rc != 0 || d.batches != 1 || d.next_offset != info.num_records || set.len <= 0)
        fz_fail("down-converting the up-converted batch: %d", rc);
    lim.max_uncompressed = FZ_MAX_UNCOMPRESSED * 4;
    gp_bytes again;
    rc = gp_legacy_upconvert(set.p, (size_t)set.len, &lim, a, &again, &err, &msg);
    if (rc != 0)
        fz_fail("up-converting the down-converted set: %s", msg ? msg : "");
    rc = gp_batches_validate(again.p, (size_t)again.len, &lim, a, &info, &err, &msg);
    if (rc != 0 || info.num_records != i)
        fz_fail("the round trip gives %lld records, not %d", (long long)info.num_records, i);
}

static void fz_down(const uint8_t *blob, size_t len, int8_t to_magic, gp_arena *a)
{
    gp_bytes out;
    gp_legacy_down d;
    int rc = gp_legacy_downconvert(blob, len, to_magic, 0, a, &out, &d);
    if (rc == GP_LEGACY_ERR_ZSTD || rc == GP_LEGACY_ERR_CORRUPT)
        return;
    if (rc != 0)
        fz_fail("downconvert returned %d", rc);
    if (d.consumed > len || out.len < 0 || (out.len > 0 && d.messages < 1))
        fz_fail("consumed %zu of %zu bytes, %d bytes out, %d messages", d.consumed, len, out.len, d.messages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opts = data[0];
    size_t len = size - 1;
    uint8_t *blob = malloc(len ? len : 1);
    if (!blob)
        abort();
    if (len)
        memcpy(blob, data + 1, len);
    int8_t to_magic = (opts & 2) ? 1 : 0;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    if (opts & 1) {
        fz_down(blob, len, to_magic, &a);
    } else {
        if (opts & 4)
            fz_fix_crcs(blob, len);
        fz_up(blob, len, to_magic, &a);
    }
    gp_arena_reset(&a, NULL, 0);
    free(blob);
    return 0;
}
