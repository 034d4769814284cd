/*
 * Fetch v0-v3: the answer down-converted to the message format the version
 * reads (v0-v1: magic 0, v2-v3: magic 1), as Kafka 3.x did with
 * log.message.downconversion.enable (its default). Gregor's logs hold
 * record batches (magic 2) only, so these answers cannot go out with
 * sendfile: the slices gb_fetch.c read are copied into memory and
 * converted on a threadpool thread (protocol/gp_legacy), then answered on
 * the loop. Current clients (v4+) never come here.
 *
 * Sizes, as Kafka's LazyDownConversionRecords: a partition's answer is as
 * long as the data read for it, or as its first converted batch when that
 * is longer (so a consumer always gets one whole batch: converted messages
 * are larger than the records they came from). Converted bytes beyond that
 * are cut (the client drops the partial message at the end and fetches it
 * next time); when the converted data is shorter, the rest is filled with
 * the start of an "overflow" entry (offset -1, a length past the end),
 * which clients ignore as a partial message.
 *
 * Control batches (transaction markers) are skipped and record headers
 * dropped; a zstd batch cannot be down-converted: the partition gets
 * UNSUPPORTED_COMPRESSION_TYPE, as Kafka answered Fetch below v10 there.
 */
#include "broker/api/gb_fetch_old.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"
#include "protocol/gp_legacy.h"

/* The smallest length an overflow entry claims (Kafka: a batch header). */
#define GB_OVERFLOW_MIN_LENGTH GP_BATCH_HEADER_SIZE

typedef struct gb_fetch_old_job {
    gb_job job;
    gb_request *req;
    gs_log_slice *slices;
    gp_fetch_response_partition **ops;
    const int64_t *from; /* per slice: the fetch offset */
    size_t n;
    int8_t magic;
    gp_arena arena; /* the converted answers, freed with the request */
} gb_fetch_old_job;

/* A partition that gets an error: as Kafka's error answer, no high
 * watermark and null records. */
static void gb__partition_error(gp_fetch_response_partition *op, int16_t err)
{
    op->error_code = err;
    op->high_watermark = -1;
    op->records = (gp_records){NULL, -1, NULL};
}

/* One partition: read its slice, convert batch by batch, size the answer. */
static void gb__convert_one(gb_fetch_old_job *j, const gs_log_slice *s, int64_t from, gp_fetch_response_partition *op)
{
    op->records = (gp_records){NULL, 0, NULL};
    if (s->len <= 0)
        return;
    uint8_t *in = gu_malloc((size_t)s->len);
    int rc = gs_log_slice_copy(s, in);
    if (rc < 0) {
        free(in);
        gb__partition_error(op, GP_E_KAFKA_STORAGE_ERROR);
        return;
    }
    size_t len = (size_t)s->len;
    /* Converted batches, in order, then the answer assembled from them. */
    size_t cap = 8, nout = 0, first = 0, total = 0;
    gp_bytes *outs = gu_malloc(cap * sizeof *outs);
    for (size_t pos = 0; pos + GP_BATCH_LOG_OVERHEAD <= len;) {
        size_t size = GP_BATCH_LOG_OVERHEAD + gu_be32(in + pos + GP_BATCH_OFF_LENGTH);
        if (size < GP_BATCH_LOG_OVERHEAD || size > len - pos)
            break; /* the read cut the last batch */
        gp_bytes out;
        rc = gp_legacy_downconvert(in + pos, size, j->magic, from, &j->arena, &out, NULL);
        if (rc < 0) {
            /* zstd cannot be written in the old formats; anything else is
             * stored data that does not parse */
            gb__partition_error(op,
                                rc == GP_LEGACY_ERR_ZSTD ? GP_E_UNSUPPORTED_COMPRESSION_TYPE : GP_E_CORRUPT_MESSAGE);
            break;
        }
        pos += size;
        if (out.len <= 0)
            continue; /* a control batch */
        if (nout == cap)
            outs = gu_realloc(outs, (cap *= 2) * sizeof *outs);
        outs[nout++] = out;
        if (!first)
            first = (size_t)out.len;
        total += (size_t)out.len;
        if (total >= len)
            break; /* the answer is full: the rest would be cut anyway */
    }
    free(in);
    if (op->error_code || nout == 0) {
        /* An error, or nothing converted (only control batches, or records
         * before the fetch offset): Kafka's LazyDownConversionRecords is then
         * empty. */
        free(outs);
        return;
    }
    size_t want = len > first ? len : first;
    if (want > INT32_MAX)
        want = INT32_MAX;
    uint8_t *ans = gp_arena_alloc(&j->arena, want);
    size_t at = 0;
    for (size_t i = 0; i < nout && at < want; i++) {
        size_t k = (size_t)outs[i].len < want - at ? (size_t)outs[i].len : want - at;
        memcpy(ans + at, outs[i].p, k);
        at += k;
    }
    free(outs);
    if (at < want) {
        /* The overflow entry: offset -1, a length one past what is left. */
        uint8_t head[GP_BATCH_LOG_OVERHEAD];
        size_t left = want - at;
        uint32_t claim = left + 1 > GB_OVERFLOW_MIN_LENGTH ? (uint32_t)(left + 1) : GB_OVERFLOW_MIN_LENGTH;
        gu_put_be64(head, UINT64_MAX);
        gu_put_be32(head + 8, claim);
        size_t k = left < sizeof head ? left : sizeof head;
        memcpy(ans + at, head, k);
        memset(ans + at + k, 0, left - k);
    }
    op->records = (gp_records){ans, (int32_t)want, NULL};
}

static void gb__run(void *arg)
{
    gb_fetch_old_job *j = arg;
    for (size_t i = 0; i < j->n; i++)
        gb__convert_one(j, &j->slices[i], j->from[i], j->ops[i]);
}

static void gb__free_job(void *arg)
{
    gb_fetch_old_job *j = arg;
    gp_arena_reset(&j->arena, NULL, 0);
    free(j);
}

static void gb__done(void *arg)
{
    gb_fetch_old_job *j = arg;
    gb_request_respond(j->req);
}

void gb_fetch_old_answer(gb_broker *b, gb_request *req, gs_log_slice *slices, gp_fetch_response_partition **ops,
                         const int64_t *from, size_t n)
{
    req->file_bytes = 0; /* everything goes from memory */
    gb_fetch_old_job *j = gu_calloc(1, sizeof *j);
    j->req = req;
    j->slices = slices;
    j->ops = ops;
    j->from = from;
    j->n = n;
    j->magic = req->version >= 2 ? 1 : 0;
    gp_arena_init(&j->arena, NULL, 0);
    gb_request_defer(req, gb__free_job, j);
    gb_job_queue(b->loop, &j->job, gb__run, gb__done, j);
}
