/*
 * The group coordinator's life in the broker (see gb_group_coordinator.h): its
 * clock and timer, the __consumer_offsets topic, record batches appended
 * for the state machine, and the replay at startup.
 */
#include "broker/core/gb_group_coordinator.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "broker/core/gb_group_records.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_append.h"
#include "storage/gs_batches.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"

#define GB_LOAD_SLICE_BYTES (1 << 20) /* read per loop iteration while loading */

struct gb_group_coordinator {
    gb_broker *b;
    gb_groups *groups;
    uv_timer_t timer;
    int64_t armed_at; /* loop time the timer fires at; INT64_MAX: stopped */
    uv_idle_t loader;
    bool loading;
    int32_t load_partition; /* being replayed */
    int64_t load_offset;    /* next offset to read in it */
    uint8_t *load_buf;
    size_t load_cap;
    uint64_t load_started;
    int64_t load_records;
    gp_arena scratch;
    gb_partition *last_partition; /* the last append */
    int64_t last_offset;
    bool stopped;
};

gb_groups *gb_group_coordinator_groups(gb_broker *b, int64_t *now)
{
    gb_group_coordinator *c = b->group_coordinator;
    *now = (int64_t)uv_now(b->loop);
    gb_groups_set_wall_offset(c->groups, gu_wall_ms() - *now);
    return c->groups;
}

static void gb__on_timer(uv_timer_t *t)
{
    gb_group_coordinator *c = t->data;
    c->armed_at = INT64_MAX;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(c->b, &now);
    gb_groups_tick(gs, now);
    gb_group_coordinator_rearm(c->b);
}

void gb_group_coordinator_rearm(gb_broker *b)
{
    gb_group_coordinator *c = b->group_coordinator;
    if (c->stopped)
        return;
    int64_t d = gb_groups_next_deadline(c->groups);
    if (d == GB_NO_DEADLINE || d >= c->armed_at)
        return;
    int64_t now = (int64_t)uv_now(b->loop);
    c->armed_at = d;
    uv_timer_start(&c->timer, gb__on_timer, (uint64_t)(d > now ? d - now : 0), 0);
}

/* ---- __consumer_offsets ------------------------------------------------------ */

/* The topic's configuration as Kafka creates it: compacted,
 * offsets.topic.segment.bytes (100 MiB) segments, the producer's compression.
 * segment_bytes holds the number's text. */
#define GB_OFFSETS_NOVERRIDES 3
static void gb__offsets_overrides(const gb_broker *b, char segment_bytes[24], gc_kv out[GB_OFFSETS_NOVERRIDES])
{
    snprintf(segment_bytes, 24, "%d", (int)b->cfg->offsets_topic_segment_bytes);
    out[0] = (gc_kv){"cleanup.policy", "compact"};
    out[1] = (gc_kv){"segment.bytes", segment_bytes};
    out[2] = (gc_kv){"compression.type", "producer"};
}

gb_topic *gb_group_coordinator_offsets_topic(gb_broker *b, bool create)
{
    gb_topic *t = gb_topic_find(b, GB_OFFSETS_TOPIC, strlen(GB_OFFSETS_TOPIC));
    if (t || !create)
        return t;
    char segment_bytes[24];
    gc_kv overrides[GB_OFFSETS_NOVERRIDES];
    gb__offsets_overrides(b, segment_bytes, overrides);
    int16_t kerr;
    char msg[256];
    if (gb_topic_create(b, GB_OFFSETS_TOPIC, strlen(GB_OFFSETS_TOPIC), b->cfg->offsets_topic_num_partitions, overrides,
                        GB_OFFSETS_NOVERRIDES, false, &t, &kerr, msg, sizeof msg) < 0) {
        gb_logger_error("cannot create %s: %s", GB_OFFSETS_TOPIC, msg);
        return NULL;
    }
    gb_topics_persist(b, NULL, NULL);
    gb_groups_set_num_partitions(b->group_coordinator->groups, t->npartitions);
    return t;
}

gb_partition *gb_group_coordinator_last_append(gb_broker *b, int64_t *offset)
{
    gb_group_coordinator *c = b->group_coordinator;
    *offset = c->last_offset;
    return c->last_partition;
}

/*
 * One batch of the state machine's records, as Kafka's coordinator writes
 * it (magic 2, CreateTime, uncompressed), appended to the group's
 * partition: without a producer for commits and group changes; for a
 * TxnOffsetCommit transactional, with the producer's id and epoch and base
 * sequence 0, as Kafka's coordinator runtime builds it. Readers of the topic
 * (Burrow) are woken as for any append. Failures map as Kafka maps them for
 * the client: a missing partition is COORDINATOR_NOT_AVAILABLE, a storage
 * error NOT_COORDINATOR.
 */
static int16_t gb__append_batch(gb_group_coordinator *c, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                                const gb_kv *recs, size_t n, int64_t wall_ms)
{
    gb_broker *b = c->b;
    c->last_partition = NULL;
    gb_topic *t = gb_group_coordinator_offsets_topic(b, true);
    gb_partition *p = t ? gb_topic_partition(t, partition) : NULL;
    if (!p)
        return GP_E_COORDINATOR_NOT_AVAILABLE;
    if (n == 0)
        return 0;
    gp_arena *a = &c->scratch;
    gp_record *rs = gp_arena_calloc(a, n, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        rs[i].key = recs[i].key;
        rs[i].value = recs[i].value;
        rs[i].headers = (gp_bytes){NULL, 0};
    }
    bool txn = producer_id >= 0;
    gp_batch_params bp = {
        .base_offset = 0,
        .base_timestamp = wall_ms,
        .log_append_time = gc_topic_log_append_time(&t->cfg),
        .log_append_time_ms = wall_ms,
        .producer_id = txn ? producer_id : -1,
        .producer_epoch = txn ? producer_epoch : -1,
        .base_sequence = txn ? 0 : -1,
        .transactional = txn,
        .codec = GP_CODEC_NONE,
        .level = GP_COMPRESS_LEVEL_DEFAULT,
    };
    gp_bytes batch;
    int16_t err = 0;
    if (gp_batch_build(a, &bp, rs, (int32_t)n, &batch) < 0) {
        err = GP_E_UNKNOWN_SERVER_ERROR;
    } else {
        /* No producer state, even for a transactional batch: the
         * transaction coordinator has verified the producer
         * (gb_txn_coordinator_verify) and Kafka's coordinator appends
         * skip the sequence check; the commit decides about the flusher
         * (gb_group_coordinator_last_append). */
        gb_append ap = {
            .data = (uint8_t *)batch.p,
            .len = (size_t)batch.len,
            .now = wall_ms,
            .log_append_time = bp.log_append_time,
            .pa = {.producer_id = -1},
            .flush = GB_FLUSH_NONE,
        };
        gb_append_result r;
        if (gb_partition_append(b, p, &ap, &r) < 0) {
            err = GP_E_NOT_COORDINATOR;
        } else {
            c->last_partition = p;
            c->last_offset = r.last;
        }
    }
    gp_arena_reset(a, NULL, 0);
    return err;
}

/* The state machine's append hooks. */
static int16_t gb__append(void *ctx, int32_t partition, const gb_kv *recs, size_t n, int64_t wall_ms)
{
    return gb__append_batch(ctx, partition, -1, -1, recs, n, wall_ms);
}

static int16_t gb__append_txn(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                              const gb_kv *recs, size_t n, int64_t wall_ms)
{
    return gb__append_batch(ctx, partition, producer_id, producer_epoch, recs, n, wall_ms);
}

/* ---- loading ---------------------------------------------------------------------- */

/*
 * Replay the records of one batch. A transactional batch's offsets become
 * pending for its producer; a control batch is that producer's COMMIT or
 * ABORT marker, which applies or drops them (an ABORT of a producer with
 * nothing pending here changes nothing). A transaction still open at the
 * end of the log stays pending until its marker is written.
 */
static void gb__replay_batch(gb_group_coordinator *c, const uint8_t *p, size_t len, int64_t now)
{
    gp_batch_header h;
    if (gp_batch_header_parse(p, len, &h) < 0)
        return;
    bool txn = gp_batch_is_transactional(&h) && h.producer_id >= 0;
    gp_batch_limits lim = {.max_uncompressed = 0, .max_batch_bytes = 0, .max_batches = 1, .from_client = false};
    gp_batch_info info;
    int16_t kerr;
    const char *why;
    gp_arena *a = &c->scratch;
    int rc = gp_batches_validate(p, len, &lim, a, &info, &kerr, &why);
    if (rc < 0) {
        gb_logger_warn("%s-%d: skipping a batch at offset %" PRId64 ": %s", GB_OFFSETS_TOPIC, c->load_partition,
                       h.base_offset, rc == GP_BATCH_OLD_MAGIC ? "old message format" : why);
        gp_arena_reset(a, NULL, 0);
        return;
    }
    gp_record_iter it;
    gp_record_iter_init(&it, info.first.records, info.first.records_len, info.first.h.records_count);
    gp_record rec;
    if (info.control) {
        /* validated: one marker record, already parsed */
        if (txn)
            gb_groups_txn_marker(c->groups, c->load_partition, h.producer_id,
                                 info.first.marker.type == GP_CONTROL_COMMIT);
        gp_arena_reset(a, NULL, 0);
        return;
    }
    while (gp_record_next(&it, &rec) == 1) {
        int rrc = txn ? gb_groups_replay_txn(c->groups, c->load_partition, h.producer_id, rec.key, rec.value, now)
                      : gb_groups_replay(c->groups, c->load_partition, rec.key, rec.value, now);
        if (rrc < 0)
            gb_logger_warn("%s-%d: skipping a malformed record in the batch at offset %" PRId64, GB_OFFSETS_TOPIC,
                           c->load_partition, h.base_offset);
        c->load_records++;
    }
    gp_arena_reset(a, NULL, 0);
}

/* gs_log_batches' callback during the replay. */
typedef struct gb_load_ctx {
    gb_group_coordinator *c;
    int64_t now;
} gb_load_ctx;

static void gb__replay_one(void *arg, const uint8_t *batch, size_t size)
{
    gb_load_ctx *ctx = arg;
    gb__replay_batch(ctx->c, batch, size, ctx->now);
}

static void gb__load_next_partition(gb_group_coordinator *c, int64_t now)
{
    gb_topic *t = gb_group_coordinator_offsets_topic(c->b, false);
    gb_groups_load_done(c->groups, c->load_partition, now);
    c->load_partition++;
    if (t && c->load_partition < t->npartitions) {
        c->load_offset = gs_log_start_offset(t->partitions[c->load_partition]->log);
        return;
    }
    c->loading = false;
    uv_idle_stop(&c->loader);
    free(c->load_buf);
    c->load_buf = NULL;
    c->load_cap = 0;
    gb_logger_info("loaded %s: %" PRId64 " record(s) in %.1f ms", GB_OFFSETS_TOPIC, c->load_records,
                   (double)(uv_hrtime() - c->load_started) / 1e6);
}

/* One slice of the replay: at most GB_LOAD_SLICE_BYTES (or one batch if
 * larger) of the partition being loaded. */
static void gb__on_load(uv_idle_t *idle)
{
    gb_group_coordinator *c = idle->data;
    int64_t now;
    (void)gb_group_coordinator_groups(c->b, &now);
    gb_topic *t = gb_group_coordinator_offsets_topic(c->b, false);
    if (!t) {
        /* Deleted while loading: nothing left to load. */
        while (c->loading)
            gb__load_next_partition(c, now);
        return;
    }
    gs_log *log = t->partitions[c->load_partition]->log;
    if (c->load_offset >= gs_log_end_offset(log)) {
        gb__load_next_partition(c, now);
        gb_group_coordinator_rearm(c->b);
        return;
    }
    gb_load_ctx ctx = {c, now};
    int64_t next;
    int rc = gs_log_batches(log, c->load_offset, GB_LOAD_SLICE_BYTES, &c->load_buf, &c->load_cap, gb__replay_one, &ctx,
                            &next);
    if (rc <= 0) {
        if (rc < 0)
            gb_logger_error("%s-%d: cannot read at offset %" PRId64 ": %s", GB_OFFSETS_TOPIC, c->load_partition,
                            c->load_offset, strerror(-rc));
        c->load_offset = gs_log_end_offset(log); /* give up on the rest */
        return;
    }
    if (next <= c->load_offset) {
        gb_logger_error("%s-%d: unreadable data at offset %" PRId64 "; the rest of the partition is skipped",
                        GB_OFFSETS_TOPIC, c->load_partition, c->load_offset);
        next = gs_log_end_offset(log);
    }
    c->load_offset = next;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int gb_group_coordinator_open(gb_broker *b, gb_join_done_fn join_done, gb_sync_done_fn sync_done, char *err,
                              size_t errlen)
{
    (void)err;
    (void)errlen;
    gb_group_coordinator *c = gu_calloc(1, sizeof *c);
    c->b = b;
    b->group_coordinator = c;
    const gc_config *cfg = b->cfg;
    uint64_t seed = 0;
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) < 0)
        seed = uv_hrtime() ^ (uint64_t)getpid();
    gb_groups_config gc = {
        .num_partitions = cfg->offsets_topic_num_partitions,
        .min_session_timeout_ms = cfg->group_min_session_timeout_ms,
        .max_session_timeout_ms = cfg->group_max_session_timeout_ms,
        .max_size = cfg->group_max_size,
        .initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms,
        .offsets_retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000,
        .retention_check_interval_ms = cfg->offsets_retention_check_interval_ms,
        .offset_metadata_max_bytes = cfg->offset_metadata_max_bytes,
        .seed = seed,
    };
    gb_groups_hooks hooks = {
        .ctx = c,
        .join_done = join_done,
        .sync_done = sync_done,
        .append = gb__append,
        .append_txn = gb__append_txn,
    };
    c->groups = gb_groups_new(&gc, &hooks, (int64_t)uv_now(b->loop));
    gp_arena_init(&c->scratch, NULL, 0);
    uv_timer_init(b->loop, &c->timer);
    c->timer.data = c;
    c->armed_at = INT64_MAX;
    uv_idle_init(b->loop, &c->loader);
    c->loader.data = c;

    gb_topic *t = gb_group_coordinator_offsets_topic(b, false);
    if (t) {
        gb_groups_set_num_partitions(c->groups, t->npartitions);
        if (t->npartitions != cfg->offsets_topic_num_partitions)
            gb_logger_warn("%s has %d partitions, offsets.topic.num.partitions says %d: using %d", GB_OFFSETS_TOPIC,
                           t->npartitions, cfg->offsets_topic_num_partitions, t->npartitions);
        if (!gc_topic_compacted(&t->cfg) && t->noverrides == 0) {
            /* Adopted from its directories (a crash before the topic store
             * listed it): give it its configuration back, or retention would
             * delete committed offsets. */
            int16_t kerr;
            char msg[256];
            char segment_bytes[24];
            gc_kv overrides[GB_OFFSETS_NOVERRIDES];
            gb__offsets_overrides(b, segment_bytes, overrides);
            if (gb_topic_set_overrides(b, t, overrides, GB_OFFSETS_NOVERRIDES, &kerr, msg, sizeof msg) < 0)
                gb_logger_warn("%s: cannot set its configuration: %s", GB_OFFSETS_TOPIC, msg);
            else
                gb_topics_persist(b, NULL, NULL);
        }
        for (int32_t p = 0; p < t->npartitions; p++)
            gb_groups_set_loading(c->groups, p, true);
        c->loading = true;
        c->load_partition = 0;
        c->load_offset = gs_log_start_offset(t->partitions[0]->log);
        c->load_started = uv_hrtime();
        uv_idle_start(&c->loader, gb__on_load);
    }
    gb_group_coordinator_rearm(b);
    return 0;
}

void gb_group_coordinator_stop(gb_broker *b)
{
    gb_group_coordinator *c = b->group_coordinator;
    if (!c || c->stopped)
        return;
    c->stopped = true;
    gb_groups_shutdown(c->groups);
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_close((uv_handle_t *)&c->loader, NULL);
}

void gb_group_coordinator_close(gb_broker *b)
{
    gb_group_coordinator *c = b->group_coordinator;
    if (!c)
        return;
    gb_groups_free(c->groups);
    gp_arena_reset(&c->scratch, NULL, 0);
    free(c->load_buf);
    free(c);
    b->group_coordinator = NULL;
}

void gb_group_coordinator_txn_marker(gb_broker *b, int32_t partition, int64_t producer_id, bool commit)
{
    gb_group_coordinator *c = b->group_coordinator;
    if (!c || c->stopped)
        return;
    /* A marker for a partition still loading is not lost: it lies in the
     * log after the producer's offsets and the replay reaches it. Applying
     * it now would complete offsets not yet read; leave it to the replay. */
    if (gb_groups_loading(c->groups, partition))
        return;
    gb_groups_txn_marker(c->groups, partition, producer_id, commit);
}

void gb_group_coordinator_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    gb_group_coordinator *c = b->group_coordinator;
    if (ev != GB_PARTITION_GONE || !c || c->stopped || p->topic->internal)
        return;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    gb_groups_partition_deleted(gs, (gp_str){p->topic->name, (int32_t)p->topic->name_len}, p->index, now);
    gb_group_coordinator_rearm(b);
}
