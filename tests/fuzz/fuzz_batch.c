/*
 * Record batch validation (gp_batches_validate) on arbitrary bytes, with the
 * decompressors behind it.
 *
 * Input: byte 0 holds options, the rest is a Produce `records` blob.
 *   bit 0  recompute the CRC of every complete v2 batch first, so that the
 *          fuzzer reaches the records and codecs instead of stopping at the
 *          checksum (it cannot compute CRC-32C itself)
 *   bit 1  validate as from a client (Kafka's AppendOrigin.CLIENT)
 *   bit 2  allow at most one batch
 *   bit 3  records of compressed batches at most FZ_MAX_RECORD bytes
 *          (max.decompressed.message.bytes)
 * The blob is copied into a buffer of exactly its size, so ASan sees any
 * read past its end.
 *
 * Checked: no out-of-bounds access or undefined behaviour; the result is one
 * of the documented codes with a Kafka error and message; scratch memory
 * stays within a few times the uncompressed limit per batch; and for a blob
 * that validates, every record iterates with offset deltas 0, 1, 2..., the
 * counts, keys and timestamps agree with what validation reported, and each
 * batch rebuilt from its records (uncompressed) validates again with the
 * same records.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"

#define FZ_MAX_UNCOMPRESSED (64 * 1024)
#define FZ_MAX_RECORD 1000

/* (fuzz_common.h's helpers, without its generated-codec dependency) */
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

static void fz_hexdump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 256; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", p[i]);
    fprintf(stderr, "%s\n", n > 256 ? "\n  ..." : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fz_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Give every complete v2 batch a correct CRC, following the length prefixes. */
static void fz_fix_crcs(uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (len - pos >= GP_BATCH_HEADER_SIZE) {
        uint32_t bl = fz_be32(p + pos + GP_BATCH_OFF_LENGTH);
        if (bl > INT32_MAX || bl + (size_t)GP_BATCH_LOG_OVERHEAD < GP_BATCH_HEADER_SIZE ||
            bl > len - pos - GP_BATCH_LOG_OVERHEAD)
            return;
        if (p[pos + GP_BATCH_OFF_MAGIC] == GP_BATCH_MAGIC)
            gp_batch_update_crc(p + pos, bl + (size_t)GP_BATCH_LOG_OVERHEAD);
        pos += bl + (size_t)GP_BATCH_LOG_OVERHEAD;
    }
}

static bool fz_bytes_eq(gp_bytes a, gp_bytes b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Iterate batch k's records, check them against the summary, and rebuild the
 * batch uncompressed from them. Returns the number of records. */
static int64_t fz_check_batch(const gp_batch_info *info, int32_t k, gp_arena *a)
{
    const gp_batch_summary *s = gp_batch_info_at(info, k);
    int32_t count = s->h.records_count;
    gp_record *recs = gp_arena_calloc(a, count ? (size_t)count : 1, sizeof *recs);
    gp_record_iter it;
    gp_record_iter_init(&it, s->records, s->records_len, count);
    int32_t i = 0;
    int rc;
    bool all_keys = true;
    int64_t max_ts = INT64_MIN;
    while ((rc = gp_record_next(&it, &recs[i < count ? i : 0])) == 1) {
        if (i >= count)
            fz_fail("batch %d: more records than its count %d", k, count);
        gp_record *rec = &recs[i];
        if (rec->offset_delta != i)
            fz_fail("batch %d record %d: offset delta %d after validation", k, i, rec->offset_delta);
        if (rec->key.len < 0)
            all_keys = false;
        int64_t ts = (int64_t)((uint64_t)s->h.base_timestamp + (uint64_t)rec->timestamp_delta);
        if (ts > max_ts)
            max_ts = ts;
        if (ts < s->min_timestamp || ts > s->max_timestamp)
            fz_fail("batch %d record %d: timestamp outside the reported range", k, i);
        gp_header_iter hi;
        gp_header_iter_init(&hi, rec);
        gp_record_header h;
        int32_t nh = 0;
        while ((rc = gp_header_next(&hi, &h)) == 1) {
            if (h.key.len < 0)
                fz_fail("batch %d record %d: null header key after validation", k, i);
            nh++;
        }
        if (rc != 0 || nh != rec->header_count)
            fz_fail("batch %d record %d: %d of %d headers iterate (rc %d)", k, i, nh, rec->header_count, rc);
        i++;
    }
    if (rc != 0)
        fz_fail("batch %d: iteration failed after validation: %s", k, it.why ? it.why : "?");
    if (i != count)
        fz_fail("batch %d: %d records iterate, count says %d", k, i, count);
    if (all_keys != s->all_keys)
        fz_fail("batch %d: all_keys disagrees", k);
    if (count > 0 && max_ts != s->max_timestamp)
        fz_fail("batch %d: max timestamp disagrees", k);
    if (count == 0)
        return 0;

    /* Rebuilt from its records, the batch validates with the same records. */
    const gp_batch_header *h = &s->h;
    gp_batch_params p = {
        .base_offset = h->base_offset,
        .partition_leader_epoch = h->partition_leader_epoch,
        .base_timestamp = h->base_timestamp,
        .producer_id = h->producer_id,
        .producer_epoch = h->producer_epoch,
        .base_sequence = h->base_sequence,
        .transactional = gp_batch_is_transactional(h),
        .control = gp_batch_is_control(h),
        .codec = GP_CODEC_NONE,
    };
    gp_bytes nb;
    if ((rc = gp_batch_build(a, &p, recs, count, &nb)) != 0)
        fz_fail("batch %d: rebuilding failed: %d", k, rc);
    gp_batch_limits lim = {.max_uncompressed = FZ_MAX_UNCOMPRESSED};
    gp_batch_info ni;
    int16_t err;
    const char *msg;
    if ((rc = gp_batches_validate(nb.p, (size_t)nb.len, &lim, a, &ni, &err, &msg)) != 0) {
        fz_hexdump("rebuilt batch", nb.p, (size_t)nb.len);
        fz_fail("batch %d: rebuilt batch does not validate: %s", k, msg ? msg : "?");
    }
    if (ni.num_records != count || ni.max_timestamp != s->max_timestamp || ni.min_timestamp != s->min_timestamp ||
        ni.all_keys != s->all_keys)
        fz_fail("batch %d: rebuilt batch reports differently", k);
    gp_record_iter_init(&it, ni.first.records, ni.first.records_len, count);
    gp_record r2;
    for (int32_t j = 0; j < count; j++) {
        if (gp_record_next(&it, &r2) != 1)
            fz_fail("batch %d: rebuilt record %d missing", k, j);
        if (r2.timestamp_delta != recs[j].timestamp_delta || !fz_bytes_eq(r2.key, recs[j].key) ||
            !fz_bytes_eq(r2.value, recs[j].value) || r2.header_count != recs[j].header_count ||
            !fz_bytes_eq(r2.headers, recs[j].headers) || r2.attributes != recs[j].attributes)
            fz_fail("batch %d: rebuilt record %d differs", k, j);
    }
    return count;
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
    if (opts & 1)
        fz_fix_crcs(blob, len);

    gp_batch_limits lim = {
        .max_uncompressed = FZ_MAX_UNCOMPRESSED,
        .from_client = (opts & 2) != 0,
        .max_batches = (opts & 4) ? 1 : 0,
        .max_record_bytes = (opts & 8) ? FZ_MAX_RECORD : 0,
    };
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gp_batch_info info;
    int16_t err = -1;
    const char *msg = NULL;
    int rc = gp_batches_validate(blob, len, &lim, &a, &info, &err, &msg);

    if (rc == GP_BATCH_ERR_INVALID) {
        if (err != GP_E_CORRUPT_MESSAGE && err != GP_E_INVALID_RECORD && err != GP_E_UNSUPPORTED_COMPRESSION_TYPE &&
            err != GP_E_MESSAGE_TOO_LARGE)
            fz_fail("unexpected Kafka error %d (%s)", err, gp_error_name(err));
        if (!msg)
            fz_fail("an error without a message");
    } else if (rc == GP_BATCH_OLD_MAGIC) {
        if (info.magic != 0 && info.magic != 1)
            fz_fail("old magic reported as %d", info.magic);
    } else if (rc != 0) {
        fz_fail("validate returned %d", rc);
    } else if (err != GP_E_NONE || msg) {
        fz_fail("success with an error set");
    }
    if (info.over_uncompressed && (rc != GP_BATCH_ERR_INVALID || err != GP_E_MESSAGE_TOO_LARGE))
        fz_fail("over_uncompressed with result %d, error %d", rc, err);
    if (rc == 0 && lim.max_record_bytes) {
        /* every record of a compressed batch within the bound: its key,
         * value and headers at least */
        for (int32_t k = 0; k < info.num_batches; k++) {
            const gp_batch_summary *s = gp_batch_info_at(&info, k);
            if (gp_batch_codec(&s->h) == GP_CODEC_NONE)
                continue;
            gp_record_iter it;
            gp_record rec;
            gp_record_iter_init(&it, s->records, s->records_len, s->h.records_count);
            while (gp_record_next(&it, &rec) == 1) {
                size_t n = (size_t)(rec.key.len > 0 ? rec.key.len : 0) +
                           (size_t)(rec.value.len > 0 ? rec.value.len : 0) +
                           (size_t)(rec.headers.len > 0 ? rec.headers.len : 0);
                if (n > FZ_MAX_RECORD)
                    fz_fail("batch %d holds a record of %zu bytes past the bound %d", k, n, FZ_MAX_RECORD);
            }
        }
    }
    /* Each batch may hold a decompressed copy (at most about twice the cap,
     * while the buffer grows) and the summaries are small. */
    size_t bound = 64 * 1024 + (len / GP_BATCH_HEADER_SIZE + 1) * (3 * FZ_MAX_UNCOMPRESSED + 256);
    if (a.allocated > bound)
        fz_fail("%zu input bytes took %zu bytes of scratch", len, a.allocated);

    if (rc == 0) {
        int64_t total = 0;
        for (int32_t k = 0; k < info.num_batches; k++)
            total += fz_check_batch(&info, k, &a);
        if (total != info.num_records)
            fz_fail("%lld records iterate, validation counted %lld", (long long)total, (long long)info.num_records);
    }
    gp_arena_reset(&a, NULL, 0);
    free(blob);
    return 0;
}
