/*
 * The transaction coordinator in the broker (core/gb_txn_coordinator.h):
 * the hooks of the state machine (core/gb_txn_state.h) on the loop.
 */
#include "broker/core/gb_txn_coordinator.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_append.h"
#include "broker/core/gb_flusher.h"
#include "broker/core/gb_producer_ids.h"
#include "broker/core/gb_topics.h"
#include "broker/core/gb_txn_markers.h"
#include "broker/core/gb_txn_state.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_errors.h"
#include "storage/gs_batches.h"

#define GB_MARKER_RETRY_MS 1000

/* One round of markers for a transaction: the partitions still to write. */
typedef struct gb_marker_job {
    struct gb_txn_coordinator *c;
    gb_txn *x;
    gb_txn_marker_req m;
    gb_txn_tp *todo; /* copies of the names */
    size_t ntodo;
    size_t outstanding;
    gb_txn_tp *failed;
    size_t nfailed;
    bool starting;
    struct gb_marker_job *next; /* waiting for the retry timer */
} gb_marker_job;

struct gb_txn_coordinator {
    gb_broker *b;
    gb_txns *txns;
    uv_timer_t abort_timer;  /* transaction.abort.timed.out.transaction.cleanup.interval.ms */
    uv_timer_t expire_timer; /* transaction.remove.expired.transaction.cleanup.interval.ms */
    uv_timer_t retry_timer;  /* markers that failed */
    gb_marker_job *retry;    /* jobs for the retry timer */
    /* Test-only fault point (GREGOR_TEST_FAULT=txn-before-markers): the
     * process kills itself 200 ms after the first Prepare* is durable and
     * answered, before any marker is written, so that a test can check that
     * the restart completes the transaction. */
    bool fault_before_markers;
    uv_timer_t fault_timer;
    gp_arena scratch;
    bool stopped;
};

static gb_txn_coordinator *gb__c(gb_broker *b)
{
    return b->txn_coordinator;
}

gb_txns *gb_txn_coordinator_txns(gb_broker *b)
{
    return b->txn_coordinator ? b->txn_coordinator->txns : NULL;
}

/* ---- __transaction_state ------------------------------------------------------- */

gb_topic *gb_txn_coordinator_topic(gb_broker *b, bool create)
{
    gb_topic *t = gb_topic_find(b, GB_TXN_TOPIC, strlen(GB_TXN_TOPIC));
    if (t || !create)
        return t;
    char segment_bytes[24];
    snprintf(segment_bytes, sizeof segment_bytes, "%d", (int)b->cfg->transaction_state_log_segment_bytes);
    const gc_kv overrides[] = {
        {"cleanup.policy", "compact"},
        {"segment.bytes", segment_bytes},
        {"compression.type", "uncompressed"},
    };
    int16_t kerr;
    char msg[256];
    if (gb_topic_create(b, GB_TXN_TOPIC, strlen(GB_TXN_TOPIC), b->cfg->transaction_state_log_num_partitions, overrides,
                        sizeof overrides / sizeof overrides[0], false, &t, &kerr, msg, sizeof msg) < 0) {
        gb_logger_error("cannot create %s: %s", GB_TXN_TOPIC, msg);
        return NULL;
    }
    gb_topics_persist(b, NULL, NULL);
    return t;
}

/* ---- the hooks ------------------------------------------------------------------ */

static int64_t gb__now(void *ctx)
{
    (void)ctx;
    return gu_wall_ms();
}

typedef struct gb_write_wait {
    gb_txn_coordinator *c;
    gb_txn *x;
} gb_write_wait;

static void gb__write_flushed(void *arg, int status)
{
    gb_write_wait *w = arg;
    gb_txn_coordinator *c = w->c;
    gb_txn *x = w->x;
    free(w);
    if (status < 0)
        gb_logger_error("%s: a sync failed: %s", GB_TXN_TOPIC, strerror(-status));
    gb_txns_written(c->txns, x, status < 0 ? GP_E_COORDINATOR_NOT_AVAILABLE : 0);
}

/* One record in one batch, as Kafka's coordinator writes it (magic 2, no
 * producer id, uncompressed); the transition applies once it is durable. */
static void gb__write(void *ctx, gb_txn *x, int32_t log_partition, gp_bytes key, gp_bytes value)
{
    gb_txn_coordinator *c = ctx;
    gb_broker *b = c->b;
    gb_topic *t = gb_txn_coordinator_topic(b, true);
    gb_partition *p = t ? gb_topic_partition(t, log_partition % t->npartitions) : NULL;
    if (!p) {
        gb_txns_written(c->txns, x, GP_E_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    int64_t now = gu_wall_ms();
    gp_arena *a = &c->scratch;
    gp_record rec = {.key = key, .value = value, .headers = {NULL, 0}};
    gp_batch_params bp = {
        .base_offset = 0,
        .base_timestamp = now,
        .log_append_time = gc_topic_log_append_time(&t->cfg),
        .log_append_time_ms = now,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .codec = GP_CODEC_NONE,
        .level = GP_COMPRESS_LEVEL_DEFAULT,
    };
    gp_bytes batch;
    if (gp_batch_build(a, &bp, &rec, 1, &batch) < 0) {
        gp_arena_reset(a, NULL, 0);
        gb_txns_written(c->txns, x, GP_E_UNKNOWN_SERVER_ERROR);
        return;
    }
    gb_append ap = {
        .data = (uint8_t *)batch.p,
        .len = (size_t)batch.len,
        .now = now,
        .log_append_time = bp.log_append_time,
        .pa = {.producer_id = -1},
        .flush = GB_FLUSH_NONE,
    };
    gb_append_result r;
    int rc = gb_partition_append(b, p, &ap, &r);
    gp_arena_reset(a, NULL, 0);
    if (rc < 0) {
        /* Kafka answers a failed write of its transaction log with
         * NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE: the client retries. */
        gb_txns_written(c->txns, x, GP_E_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (!b->cfg->gregor_acks_all_fsync || !gb_txn_write_needs_sync(x)) {
        gb_txns_written(c->txns, x, 0);
        return;
    }
    gs_log_start_writeback(p->log);
    gb_write_wait *w = gu_malloc(sizeof *w);
    *w = (gb_write_wait){c, x};
    gb_flusher_wait(b, p, r.last, gb__write_flushed, w);
}

static void gb__copy_tp(gb_txn_tp *dst, const gb_txn_tp *src)
{
    dst->topic = gu_malloc(src->topic_len + 1);
    memcpy(dst->topic, src->topic, src->topic_len + 1);
    dst->topic_len = src->topic_len;
    dst->partition = src->partition;
}

static void gb__free_tps(gb_txn_tp *tps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tps[i].topic);
    free(tps);
}

static void gb__job_round(gb_marker_job *j);
static void gb__on_retry(uv_timer_t *h);

/* A round is over: the transaction completes, or the failed ones wait for
 * the retry timer. */
static void gb__job_end_round(gb_marker_job *j)
{
    gb_txn_coordinator *c = j->c;
    gb__free_tps(j->todo, j->ntodo);
    j->todo = j->failed;
    j->ntodo = j->nfailed;
    j->failed = NULL;
    j->nfailed = 0;
    if (j->ntodo == 0) {
        gb_txn *x = j->x;
        free(j->todo);
        free(j);
        gb_txns_markers_done(c->txns, x);
        return;
    }
    if (c->stopped) {
        gb__free_tps(j->todo, j->ntodo);
        free(j);
        return;
    }
    j->next = c->retry;
    c->retry = j;
    if (!uv_is_active((uv_handle_t *)&c->retry_timer))
        uv_timer_start(&c->retry_timer, gb__on_retry, GB_MARKER_RETRY_MS, 0);
}

typedef struct gb_marker_wait {
    gb_marker_job *j;
    size_t index;
} gb_marker_wait;

static void gb__marker_done(void *arg, int16_t error)
{
    gb_marker_wait *w = arg;
    gb_marker_job *j = w->j;
    const gb_txn_tp *tp = &j->todo[w->index];
    free(w);
    if (error == GP_E_INVALID_PRODUCER_EPOCH || error == GP_E_TRANSACTION_COORDINATOR_FENCED) {
        /* The partition has seen a newer epoch of the producer (or a newer
         * coordinator): this marker is stale there, as Kafka's coordinator
         * concludes; retrying would never succeed. */
        gb_logger_warn("transaction marker for producer %" PRId64 " epoch %d on %s-%d refused (error %d): skipped",
                       j->m.producer_id, j->m.producer_epoch, tp->topic, tp->partition, error);
    } else if (error) {
        gb_logger_warn("transaction marker for producer %" PRId64 " on %s-%d failed (error %d): retrying",
                       j->m.producer_id, tp->topic, tp->partition, error);
        j->failed = gu_realloc(j->failed, (j->nfailed + 1) * sizeof *j->failed);
        gb__copy_tp(&j->failed[j->nfailed++], tp);
    }
    j->outstanding--;
    if (j->outstanding == 0 && !j->starting)
        gb__job_end_round(j);
}

static void gb__job_round(gb_marker_job *j)
{
    gb_broker *b = j->c->b;
    j->starting = true;
    j->outstanding = 0;
    for (size_t i = 0; i < j->ntodo; i++) {
        const gb_txn_tp *tp = &j->todo[i];
        gb_topic *t = gb_topic_find(b, tp->topic, tp->topic_len);
        gb_partition *p = t ? gb_topic_partition(t, tp->partition) : NULL;
        if (!p)
            continue; /* deleted since: nothing to mark, as Kafka skips it */
        gb_marker_wait *w = gu_malloc(sizeof *w);
        *w = (gb_marker_wait){j, i};
        j->outstanding++;
        gb_txn_write_marker(b, p, &j->m, gb__marker_done, w);
    }
    j->starting = false;
    if (j->outstanding == 0)
        gb__job_end_round(j);
}

static void gb__on_retry(uv_timer_t *h)
{
    gb_txn_coordinator *c = h->data;
    gb_marker_job *j = c->retry;
    c->retry = NULL;
    while (j) {
        gb_marker_job *next = j->next;
        gb__job_round(j);
        j = next;
    }
}

static void gb__on_fault(uv_timer_t *h)
{
    (void)h;
    gb_logger_warn("GREGOR_TEST_FAULT=txn-before-markers: killing the broker (SIGKILL) before the markers");
    raise(SIGKILL);
}

static void gb__markers(void *ctx, gb_txn *x)
{
    gb_txn_coordinator *c = ctx;
    if (c->fault_before_markers) {
        uv_timer_start(&c->fault_timer, gb__on_fault, 200, 0);
        return; /* never written: the restart must */
    }
    gb_txn_view v;
    gb_txn_get(x, &v);
    gb_marker_job *j = gu_calloc(1, sizeof *j);
    j->c = c;
    j->x = x;
    j->m = (gb_txn_marker_req){
        .producer_id = v.producer_id,
        .producer_epoch = v.epoch,
        .coordinator_epoch = 0, /* the leader epoch of __transaction_state's partitions: always 0 here */
        .commit = gb_txn_markers_commit(x),
        /* not 2, even for a version 2 transaction: a marker written again
         * after a restart (Prepare* replayed) must not be refused */
        .transaction_version = 0,
    };
    j->ntodo = v.nparts;
    j->todo = gu_calloc(v.nparts ? v.nparts : 1, sizeof *j->todo);
    for (size_t i = 0; i < v.nparts; i++)
        gb__copy_tp(&j->todo[i], &v.parts[i]);
    gb_logger_debug("transaction '%.*s': writing %s markers to %zu partitions", (int)v.id.len, v.id.p,
                    j->m.commit ? "COMMIT" : "ABORT", v.nparts);
    gb__job_round(j);
}

static void gb__pid_ready(void *arg, int16_t error, int64_t id)
{
    gb_txns_pid(arg, error, id);
}

static void gb__new_pid(void *ctx, gb_txn *x)
{
    gb_txn_coordinator *c = ctx;
    gb_producer_ids_get(c->b, gb__pid_ready, x);
}

/* ---- timers ------------------------------------------------------------------------ */

static void gb__on_abort_timer(uv_timer_t *h)
{
    gb_txn_coordinator *c = h->data;
    size_t n = gb_txns_abort_timed_out(c->txns);
    if (n)
        gb_logger_info("aborting %zu transaction(s) older than their timeout", n);
}

static void gb__on_expire_timer(uv_timer_t *h)
{
    gb_txn_coordinator *c = h->data;
    size_t n = gb_txns_expire(c->txns);
    if (n)
        gb_logger_info("removing %zu transactional id(s) idle for transactional.id.expiration.ms", n);
}

/* ---- loading ----------------------------------------------------------------------- */

typedef struct gb_load_ctx {
    gb_txn_coordinator *c;
    int32_t partition;
    int64_t records, skipped;
} gb_load_ctx;

static void gb__replay_batch(void *arg, const uint8_t *p, size_t len)
{
    gb_load_ctx *ctx = arg;
    gb_txn_coordinator *c = ctx->c;
    gp_batch_header h;
    if (gp_batch_header_parse(p, len, &h) < 0 || gp_batch_is_control(&h))
        return;
    gp_batch_limits lim = {.max_batches = 1};
    gp_batch_info info;
    int16_t kerr;
    const char *why;
    gp_arena *a = &c->scratch;
    if (gp_batches_validate(p, len, &lim, a, &info, &kerr, &why) < 0) {
        gb_logger_warn("%s-%d: skipping a batch at offset %" PRId64, GB_TXN_TOPIC, ctx->partition, h.base_offset);
        gp_arena_reset(a, NULL, 0);
        return;
    }
    gp_record_iter it;
    gp_record_iter_init(&it, info.first.records, info.first.records_len, info.first.h.records_count);
    gp_record rec;
    while (gp_record_next(&it, &rec) == 1) {
        if (gb_txns_replay(c->txns, rec.key, rec.value) < 0)
            ctx->skipped++;
        ctx->records++;
    }
    gp_arena_reset(a, NULL, 0);
}

static int gb__load(gb_txn_coordinator *c, gb_topic *t, char *err, size_t errlen)
{
    uint64_t start = uv_hrtime();
    gb_load_ctx ctx = {.c = c};
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int32_t i = 0; i < t->npartitions; i++) {
        gs_log *log = t->partitions[i]->log;
        int64_t at = gs_log_start_offset(log), next;
        ctx.partition = i;
        for (;;) {
            int rc = gs_log_batches(log, at, 1 << 20, &buf, &cap, gb__replay_batch, &ctx, &next);
            if (rc < 0) {
                snprintf(err, errlen, "%s-%d: cannot read: %s", GB_TXN_TOPIC, i, strerror(-rc));
                free(buf);
                return -1;
            }
            if (rc == 0 || next == at)
                break;
            at = next;
        }
    }
    free(buf);
    size_t finishing = gb_txns_load_done(c->txns);
    gb_logger_info("%s: loaded %zu transactional id(s) from %" PRId64 " record(s) in %.1f ms%s", GB_TXN_TOPIC,
                   gb_txns_count(c->txns), ctx.records, (double)(uv_hrtime() - start) / 1e6,
                   finishing ? "; completing the transactions a stop left between prepare and complete" : "");
    if (ctx.skipped)
        gb_logger_warn("%s: skipped %" PRId64 " malformed record(s)", GB_TXN_TOPIC, ctx.skipped);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------- */

int gb_txn_coordinator_open(gb_broker *b, char *err, size_t errlen)
{
    const gc_config *cfg = b->cfg;
    gb_txn_coordinator *c = gu_calloc(1, sizeof *c);
    c->b = b;
    b->txn_coordinator = c;
    gp_arena_init(&c->scratch, NULL, 0);
    gb_topic *t = gb_txn_coordinator_topic(b, false);
    gb_txn_limits lim = {
        .max_timeout_ms = cfg->transaction_max_timeout_ms,
        .id_expiration_ms = cfg->transactional_id_expiration_ms,
        .log_num_partitions = t ? t->npartitions : cfg->transaction_state_log_num_partitions,
        .transaction_version = cfg->gregor_transaction_version,
    };
    gb_txn_hooks hooks = {
        .ctx = c,
        .now = gb__now,
        .write = gb__write,
        .markers = gb__markers,
        .new_pid = gb__new_pid,
    };
    c->txns = gb_txns_new(&lim, &hooks);
    uv_timer_init(b->loop, &c->abort_timer);
    uv_timer_init(b->loop, &c->expire_timer);
    uv_timer_init(b->loop, &c->retry_timer);
    c->abort_timer.data = c->expire_timer.data = c->retry_timer.data = c;
    uv_timer_init(b->loop, &c->fault_timer);
    const char *fault = getenv("GREGOR_TEST_FAULT");
    if (fault && strcmp(fault, "txn-before-markers") == 0) {
        gb_logger_warn("GREGOR_TEST_FAULT=txn-before-markers: the broker will kill itself at its first EndTxn");
        c->fault_before_markers = true;
    }
    if (t) {
        if (t->npartitions != cfg->transaction_state_log_num_partitions)
            gb_logger_warn("%s has %d partitions, transaction.state.log.num.partitions says %d: using %d",
                           GB_TXN_TOPIC, t->npartitions, cfg->transaction_state_log_num_partitions, t->npartitions);
        if (gb__load(c, t, err, errlen) < 0)
            return -1;
    }
    uint64_t ai = (uint64_t)cfg->transaction_abort_timed_out_transaction_cleanup_interval_ms;
    uint64_t ei = (uint64_t)cfg->transaction_remove_expired_transaction_cleanup_interval_ms;
    uv_timer_start(&c->abort_timer, gb__on_abort_timer, ai, ai);
    uv_timer_start(&c->expire_timer, gb__on_expire_timer, ei, ei);
    return 0;
}

void gb_txn_coordinator_stop(gb_broker *b)
{
    gb_txn_coordinator *c = gb__c(b);
    if (!c || c->stopped)
        return;
    c->stopped = true;
    uv_close((uv_handle_t *)&c->abort_timer, NULL);
    uv_close((uv_handle_t *)&c->expire_timer, NULL);
    uv_close((uv_handle_t *)&c->retry_timer, NULL);
    uv_close((uv_handle_t *)&c->fault_timer, NULL);
}

void gb_txn_coordinator_close(gb_broker *b)
{
    gb_txn_coordinator *c = gb__c(b);
    if (!c)
        return;
    for (gb_marker_job *j = c->retry, *next; j; j = next) {
        next = j->next;
        gb__free_tps(j->todo, j->ntodo);
        free(j);
    }
    gb_txns_free(c->txns);
    gp_arena_reset(&c->scratch, NULL, 0);
    free(c);
    b->txn_coordinator = NULL;
}

/* ---- verification -------------------------------------------------------------- */

int16_t gb_txn_coordinator_verify(gb_broker *b, gp_str transactional_id, int64_t producer_id, int16_t producer_epoch,
                                  const char *topic, size_t topic_len, int32_t partition)
{
    gb_txn_coordinator *c = gb__c(b);
    if (!c)
        return GP_E_COORDINATOR_NOT_AVAILABLE;
    return gb_txns_verify(c->txns, transactional_id, producer_id, producer_epoch,
                          (gp_str){topic, (int32_t)topic_len}, partition);
}
