/*
 * Fetch v4+: record bytes go from the partition logs' files to the socket
 * (gp_records with a file span), never through a user-space buffer. v0-v3
 * read the same slices and answer them down-converted to the old message
 * formats, from memory (api/gb_fetch_old.c).
 *
 * Sessions: Gregor keeps no fetch sessions and answers as Kafka does when
 * its session cache has no room: session id 0, every fetch a full one. An
 * incremental fetch (epoch > 0) gets FETCH_SESSION_ID_NOT_FOUND, after which
 * clients fall back to full fetches.
 *
 * Transactions: last_stable_offset is the partition's LSO (storage's
 * gs_pstate_lso); read_committed (isolation_level 1) reads only batches
 * below it and lists the aborted transactions of the range from the
 * segments' .txnindex entries, so that clients drop aborted records.
 *
 * Long polling: a fetch that finds fewer than min_bytes parks on its
 * partitions (core/gb_fetch_waiters: links, the max_wait_ms timer, wake-ups
 * on appends) and looks again when woken; when it has min_bytes, or the
 * deadline passed, it answers.
 */
#include "broker/api/gb_handlers.h"
#include "broker/api/gb_fetch_old.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/core/gb_cache.h"
#include "broker/core/gb_fetch_waiters.h"
#include "broker/core/gb_quotas.h"
#include "broker/core/gb_topics.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_errors.h"

/* A fetch between its arrival and its answer. */
typedef struct gb_fetch {
    gb_broker *b;
    gb_request *req;
    gs_log_slice *slices;              /* what the last look read (arena) */
    bool *maybe_cold;                  /* per slice: not known to be in the page cache */
    gp_fetch_response_partition **ops; /* per slice: its partition's answer (v0-v3) */
    int64_t *from;                     /* per slice: the fetch offset (v0-v3) */
    size_t nslices;
} gb_fetch;

/* What a response's slices need at free time. */
typedef struct gb_fetch_slices {
    gs_log_slice *s;
    size_t n;
} gb_fetch_slices;

static void gb__release_slices(void *arg)
{
    gb_fetch_slices *fs = arg;
    for (size_t i = 0; i < fs->n; i++)
        gs_log_slice_release(&fs->s[i]);
}

#define GB_FETCH_READ_COMMITTED 1

/* read_committed: the aborted transactions overlapping what the slice
 * returns, [fetch_offset, the end of its segment or upto), as Kafka's
 * collectAbortedTxns lists them (its bound is the batch after the data;
 * the segment's end lists at most a few more, which clients ignore: no
 * batch of theirs is in the response). */
static void gb__aborted_txns(gb_request *req, gb_partition *p, int64_t fetch_offset, const gs_log_slice *s,
                             int64_t upto, gp_fetch_response_partition *op)
{
    int64_t upper = s->seg->next_offset < upto ? s->seg->next_offset : upto;
    size_t n = gs_log_aborted_txns(p->log, fetch_offset, upper, NULL, 0);
    if (n == 0 || n > INT32_MAX)
        return;
    gs_aborted_txn *e = gp_arena_alloc(&req->arena, n * sizeof *e);
    n = gs_log_aborted_txns(p->log, fetch_offset, upper, e, n);
    op->aborted_transactions = gp_arena_calloc(&req->arena, n, sizeof *op->aborted_transactions);
    for (size_t i = 0; i < n; i++) {
        gp_fetch_response_aborted_transaction_init(&op->aborted_transactions[i]);
        op->aborted_transactions[i].producer_id = e[i].producer_id;
        op->aborted_transactions[i].first_offset = e[i].first_offset;
    }
    op->aborted_transactions_count = (int32_t)n;
}

/* Fill the response from the logs as they are now. Returns the record
 * bytes; *answer_now is set when something (an error) must be answered at
 * once. */
static int64_t gb__fill(gb_fetch *f, bool *answer_now)
{
    gb_broker *b = f->b;
    gb_request *req = f->req;
    const gp_fetch_request *body = req->body;
    gp_fetch_response *resp = req->resp;
    int16_t v = req->version;
    resp->error_code = 0; /* throttle_time_ms stays: a request_percentage throttle may be set */
    resp->session_id = 0;
    req->file_bytes = 0;
    f->nslices = 0;
    if (v >= 7 && body->session_epoch > 0) {
        resp->error_code = GP_E_FETCH_SESSION_ID_NOT_FOUND;
        resp->responses_count = 0;
        *answer_now = true;
        return 0;
    }
    size_t nparts = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        nparts += (size_t)(body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0);
    f->slices = gp_arena_alloc(&req->arena, (nparts ? nparts : 1) * sizeof *f->slices);
    f->maybe_cold = gp_arena_alloc(&req->arena, (nparts ? nparts : 1) * sizeof *f->maybe_cold);
    f->ops = gp_arena_alloc(&req->arena, (nparts ? nparts : 1) * sizeof *f->ops);
    f->from = gp_arena_alloc(&req->arena, (nparts ? nparts : 1) * sizeof *f->from);
    int64_t left = v >= 3 ? body->max_bytes : INT32_MAX, bytes = 0;
    int64_t cap =
        gb_quotas_fetch_cap(b, req->hdr.client_id.p, (size_t)(req->hdr.client_id.len > 0 ? req->hdr.client_id.len : 0));
    if (left > cap)
        left = cap; /* consumer_byte_rate: at most a quota window's worth, as Kafka */
    bool first_data = true;
    resp->responses_count = body->topics_count;
    resp->responses = gp_arena_calloc(&req->arena, (size_t)(body->topics_count > 0 ? body->topics_count : 1),
                                      sizeof *resp->responses);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_fetch_request_topic *it = &body->topics[i];
        gp_fetch_response_topic_response *ot = &resp->responses[i];
        gb_topic *t =
            v >= 13 ? gb_topic_find_id(b, &it->topic_id) : gb_topic_find(b, it->topic.p, (size_t)it->topic.len);
        ot->topic = it->topic;
        ot->topic_id = it->topic_id;
        ot->partitions_count = it->partitions_count > 0 ? it->partitions_count : 0;
        ot->partitions = gp_arena_calloc(&req->arena, (size_t)(ot->partitions_count ? ot->partitions_count : 1),
                                         sizeof *ot->partitions);
        for (int32_t j = 0; j < ot->partitions_count; j++) {
            const gp_fetch_request_partition *ip = &it->partitions[j];
            gp_fetch_response_partition *op = &ot->partitions[j];
            gp_fetch_response_partition_init(op);
            op->partition_index = ip->partition;
            op->records = (gp_records){NULL, 0, NULL};
            gb_partition *p = t ? gb_topic_partition(t, ip->partition) : NULL;
            if (!p) {
                op->error_code = !t && v >= 13 ? GP_E_UNKNOWN_TOPIC_ID : GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                op->high_watermark = op->last_stable_offset = op->log_start_offset = -1; /* as Kafka */
                *answer_now = true;
                continue;
            }
            /* A zstd topic is served at every version, as Kafka 4 serves it
             * (Kafka 3 refused Fetch below v10 there, KIP-110). */
            int64_t hw = gs_log_end_offset(p->log), start = gs_log_start_offset(p->log);
            int64_t lso = gs_pstate_lso(p->pstate, hw);
            bool committed = body->isolation_level == GB_FETCH_READ_COMMITTED;
            op->high_watermark = hw;
            op->last_stable_offset = lso;
            op->log_start_offset = start;
            /* As Kafka: a list for read_committed (maybe empty), null otherwise. */
            op->aborted_transactions_count = committed ? 0 : -1;
            if (v >= 9 && ip->current_leader_epoch > 0) {
                /* Gregor's leader epoch is always 0 (Metadata says so). */
                op->error_code = GP_E_UNKNOWN_LEADER_EPOCH;
                *answer_now = true;
                continue;
            }
            if (ip->fetch_offset < start || ip->fetch_offset > hw) {
                /* As Kafka's error answer for a partition: no offsets. */
                op->error_code = GP_E_OFFSET_OUT_OF_RANGE;
                op->high_watermark = op->last_stable_offset = op->log_start_offset = -1;
                *answer_now = true;
                continue;
            }
            int64_t limit = ip->partition_max_bytes < left ? ip->partition_max_bytes : left;
            int64_t upto = committed ? lso : hw; /* read_committed stops at the LSO */
            if (ip->fetch_offset >= upto || limit <= 0)
                continue;
            gs_log_slice *s = &f->slices[f->nslices];
            /* v0-v2 cut even the first batch at the limit (Kafka's
             * hardMaxBytesLimit); v3 brought KIP-74's "at least one". */
            bool min_one = first_data && v >= 3;
            int rc = gs_log_read_bounded(p->log, ip->fetch_offset, upto, limit, min_one, s);
            if (rc < 0) {
                op->error_code = GP_E_KAFKA_STORAGE_ERROR;
                *answer_now = true;
                continue;
            }
            if (s->len == 0) {
                gs_log_slice_release(s);
                continue;
            }
            if (committed)
                gb__aborted_txns(req, p, ip->fetch_offset, s, upto, op);
            f->ops[f->nslices] = op;
            f->from[f->nslices] = ip->fetch_offset;
            f->maybe_cold[f->nslices++] = !gb_cache_known_hot(p, s);
            gp_file_span *span = gp_arena_alloc(&req->arena, sizeof *span);
            span->fd = s->fd;
            span->pos = s->pos;
            op->records = (gp_records){NULL, (int32_t)s->len, span};
            req->file_bytes += s->len;
            bytes += s->len;
            left -= s->len;
            first_data = false;
        }
    }
    return bytes;
}

/* consumer_byte_rate, as Kafka: the response's size is recorded; over
 * the quota, it is taken back and the answer is empty (no partitions),
 * with the throttle time, and the connection is muted for that long. */
static bool gb__throttled(gb_fetch *f)
{
    if (!gb_quotas_any(f->b, GB_QK_CONSUMER_BYTE_RATE))
        return false; /* no response sizing without a quota */
    gb_request *req = f->req;
    gp_fetch_response *resp = req->resp;
    const char *client = req->hdr.client_id.p;
    size_t client_len = req->hdr.client_id.len > 0 ? (size_t)req->hdr.client_id.len : 0;
    double size = (double)req->api->response.size(req->version, resp);
    int32_t ms = gb_quotas_record(f->b, GB_QK_CONSUMER_BYTE_RATE, client, client_len, size);
    if (ms == 0)
        return false;
    gb_quotas_unrecord(f->b, GB_QK_CONSUMER_BYTE_RATE, client, client_len, size);
    resp->throttle_time_ms = ms;
    resp->error_code = GP_E_NONE;
    resp->responses_count = 0;
    req->file_bytes = 0;
    f->nslices = 0;
    gb_request_throttle(req, ms);
    return true;
}

static void gb__respond(void *arg)
{
    gb_request_respond(arg);
}

/* Answer, once what the response sends from the logs is in the page cache:
 * sendfile on the loop thread must not wait for the disk. */
static void gb__answer(gb_fetch *f)
{
    gb_request *req = f->req;
    gb_fetch_slices *keep = gp_arena_alloc(&req->arena, sizeof *keep);
    keep->s = f->slices;
    keep->n = f->nslices;
    gb_request_defer(req, gb__release_slices, keep);
    if (gb__throttled(f)) {
        gb_request_respond(req);
        return;
    }
    if (req->version < 4) {
        gb_fetch_old_answer(f->b, req, f->slices, f->ops, f->from, f->nslices);
        return;
    }
    int64_t cold = gb_cache_warm(f->b, f->slices, f->maybe_cold, f->nslices, gb__respond, req);
    if (cold == 0)
        gb_request_respond(req);
    else
        gb_logger_debug("fetch from %s waits for %" PRId64 " bytes to be read from disk", gb_request_peer(req), cold);
}

/* Look at the logs; answer or (re)park (the waiter's look function). */
static void gb__look(gb_fetch_waiter *w, void *arg)
{
    gb_fetch *f = arg;
    bool now = false;
    int64_t bytes = gb__fill(f, &now);
    const gp_fetch_request *body = f->req->body;
    const gp_str *client = &f->req->hdr.client_id;
    int64_t min_bytes = body->min_bytes,
            cap = gb_quotas_fetch_cap(f->b, client->p, (size_t)(client->len > 0 ? client->len : 0));
    if (min_bytes > cap)
        min_bytes = cap; /* as Kafka: min_bytes no more than the quota lets a fetch have */
    if (now || bytes >= min_bytes || body->max_wait_ms <= 0 || gb_fetch_waiter_expired(w) ||
        gb_request_orphaned(f->req) || gb_fetch_waiters_stopping(f->b)) {
        gb_fetch_waiter_done(w);
        gb__answer(f);
        free(f);
        return;
    }
    /* Not enough yet: let go of what was read, wait for appends. */
    for (size_t i = 0; i < f->nslices; i++)
        gs_log_slice_release(&f->slices[i]);
    f->nslices = 0;
    gb_fetch_waiter_unlink_all(w);
    size_t want = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        want += body->topics[i].partitions_count > 0 ? (size_t)body->topics[i].partitions_count : 0;
    gb_fetch_waiter_reserve(w, want);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_fetch_request_topic *it = &body->topics[i];
        gb_topic *tp = f->req->version >= 13 ? gb_topic_find_id(f->b, &it->topic_id)
                                             : gb_topic_find(f->b, it->topic.p, (size_t)it->topic.len);
        for (int32_t j = 0; tp && j < it->partitions_count; j++) {
            gb_partition *p = gb_topic_partition(tp, it->partitions[j].partition);
            if (p)
                gb_fetch_waiter_link(w, p);
        }
    }
    gb_fetch_waiter_park(w);
}

void gb_handle_fetch(gb_broker *b, gb_request *req)
{
    const gp_fetch_request *body = req->body;
    gb_fetch *f = gu_calloc(1, sizeof *f);
    f->b = b;
    f->req = req;
    gb_fetch_waiter_start(b, body->max_wait_ms, gb__look, f);
}
