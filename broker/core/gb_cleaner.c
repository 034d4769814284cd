#include "broker/core/gb_cleaner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "storage/gs_cleaner.h"
#include "storage/gs_dirfiles.h"

#define GB_CLEANER_CHECKPOINT "cleaner-offset-checkpoint"

struct gb_cleaner {
    gb_broker *b;
    gs_checkpoint cp; /* read at open, freed at start */
    bool cp_loaded;
    uv_timer_t timer;
    bool timer_started;
    struct gb_clean_job *job;  /* the one cleaning in flight */
    bool writing, write_again; /* the checkpoint job */
};

typedef struct gb_clean_job {
    gb_job work;
    gb_cleaner *c;
    gp_uuid topic;
    int32_t index;
    gs_clean_plan plan;
} gb_clean_job;

typedef struct gb_cleaner_cp_job {
    gb_job work;
    gb_cleaner *c;
    gs_checkpoint_text text;
    int rc;
} gb_cleaner_cp_job;

static void gb__cleaner_tick(gb_cleaner *c);

void gb_cleaner_open(gb_broker *b)
{
    gb_cleaner *c = gu_calloc(1, sizeof *c);
    c->b = b;
    gs_checkpoint_read(b->data_dir, GB_CLEANER_CHECKPOINT, &c->cp);
    c->cp_loaded = true;
    b->cleaner = c;
}

void gb_cleaner_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    gb_cleaner *c = b->cleaner;
    if (ev != GB_PARTITION_OPENED)
        return;
    p->cleaner.cleaning = false;
    int64_t off = c && c->cp_loaded ? gs_checkpoint_get(&c->cp, p->topic->name, p->index) : -1;
    p->cleaner.first_dirty = off > 0 ? off : 0;
}

/* ---- cleaner-offset-checkpoint ---------------------------------------------- */

static void gb__cp_work(void *arg)
{
    gb_cleaner_cp_job *job = arg;
    job->rc = gs_checkpoint_write(job->c->b->data_dir, GB_CLEANER_CHECKPOINT, &job->text);
}

static void gb__cleaner_checkpoint(gb_cleaner *c);

static void gb__cp_done(void *arg)
{
    gb_cleaner_cp_job *job = arg;
    gb_cleaner *c = job->c;
    if (job->rc < 0)
        gb_logger_warn("cannot write %s: %s", GB_CLEANER_CHECKPOINT, strerror(-job->rc));
    gs_checkpoint_text_free(&job->text);
    free(job);
    c->writing = false;
    if (c->write_again) {
        c->write_again = false;
        gb__cleaner_checkpoint(c);
    }
}

/* Every compacted partition's first dirty offset, written off the loop;
 * one write at a time, a call meanwhile asks for another after it. */
static void gb__cleaner_checkpoint(gb_cleaner *c)
{
    if (c->writing) {
        c->write_again = true;
        return;
    }
    gb_broker *b = c->b;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t nt, n = 0;
    gb_topic **ts = gb_topics_list(b, &a, &nt);
    for (size_t i = 0; i < nt; i++)
        if (gc_topic_compacted(&ts[i]->cfg))
            n += (size_t)ts[i]->npartitions;
    gb_cleaner_cp_job *job = gu_calloc(1, sizeof *job);
    job->c = c;
    gs_checkpoint_text_begin(&job->text, n);
    for (size_t i = 0; i < nt; i++)
        if (gc_topic_compacted(&ts[i]->cfg))
            for (int32_t p = 0; p < ts[i]->npartitions; p++)
                gs_checkpoint_text_add(&job->text, ts[i]->name, p, ts[i]->partitions[p]->cleaner.first_dirty);
    gp_arena_reset(&a, NULL, 0);
    c->writing = true;
    gb_job_queue(b->loop, &job->work, gb__cp_work, gb__cp_done, job);
}

/* ---- cleaning ---------------------------------------------------------------- */

static void gb__clean_work(void *arg)
{
    gb_clean_job *job = arg;
    gs_clean_run(&job->plan);
}

static void gb__clean_done(void *arg)
{
    gb_clean_job *job = arg;
    gb_cleaner *c = job->c;
    gb_broker *b = c->b;
    c->job = NULL;
    gb_topic *t = gb_topic_find_id(b, &job->topic);
    gb_partition *p = t ? gb_topic_partition_opened(t, job->index) : NULL;
    gs_clean_plan *plan = &job->plan;
    bool progress = false;
    if (p) {
        p->cleaner.cleaning = false;
        int n = gs_log_clean_swap(p->log, plan); /* a failed plan too: it ends its hold on retention */
        if (plan->rc < 0) {
            gb_logger_warn("partition %s-%d: cleaning failed: %s", t->name, p->index, plan->err);
        } else {
            if (n < 0) {
                gb_logger_warn("partition %s-%d: cannot swap in the cleaned segments: %s", t->name, p->index,
                               strerror(-n));
            } else {
                const gs_clean_stats *s = &plan->stats;
                gb_logger_info("partition %s-%d: cleaned offsets [%" PRId64 ", %" PRId64 "): %" PRId64
                               " segment(s) into %d, %" PRId64 " of %" PRId64 " records kept, %" PRId64 " -> %" PRId64
                               " bytes, %" PRId64 " keys, %" PRId64 " tombstones and %" PRId64
                               " transaction markers removed, %" PRId64 " delete horizons set, %.1f ms",
                               t->name, p->index, plan->first_dirty, plan->cleaned_to, s->segments_in, n,
                               s->records_kept, s->records_read, s->bytes_read, s->bytes_written, s->map_keys,
                               s->tombstones_dropped, s->markers_dropped, s->horizons_set,
                               (double)s->elapsed_us / 1000.0);
                progress = plan->cleaned_to > p->cleaner.first_dirty;
                if (plan->cleaned_to > p->cleaner.first_dirty)
                    p->cleaner.first_dirty = plan->cleaned_to;
                gb__cleaner_checkpoint(c);
            }
        }
    }
    gs_clean_plan_free(plan);
    free(job);
    /* Kafka's cleaner goes on at once after work done, backs off otherwise. */
    if (progress && c->timer_started && !b->stopping)
        gb__cleaner_tick(c);
}

static int gb__cmp_producer(const void *x, const void *y)
{
    const gs_clean_producer *a = x, *b = y;
    return a->producer_id < b->producer_id ? -1 : a->producer_id > b->producer_id;
}

static void gb__clean_start(gb_cleaner *c, gb_partition *p, const gs_log_dirt *d)
{
    gb_broker *b = c->b;
    gb_topic *t = p->topic;
    gb_clean_job *job = gu_calloc(1, sizeof *job);
    job->c = c;
    job->topic = t->id;
    job->index = p->index;
    gs_clean_plan *plan = &job->plan;
    int rc = gs_log_clean_prepare(p->log, d->first_dirty, d->end, plan);
    if (rc < 0) {
        if (rc != -ENOENT)
            gb_logger_warn("partition %s-%d: cannot start cleaning: %s", t->name, p->index, strerror(-rc));
        gs_clean_plan_free(plan);
        free(job);
        return;
    }
    plan->delete_retention_ms = t->cfg.delete_retention_ms;
    plan->now_ms = gu_wall_ms();
    plan->segment_bytes = t->cfg.segment_bytes; /* groups of small segments become one */
    plan->max_index_bytes = t->cfg.segment_index_bytes;
    plan->map_bytes = b->cfg->log_cleaner_dedupe_buffer_size;
    plan->load_factor = b->cfg->log_cleaner_io_buffer_load_factor;
    plan->io_buffer = (size_t)b->cfg->log_cleaner_io_buffer_size;
    /* The producers' last batches, kept even when emptied. */
    size_t n = gs_pstate_last_offsets(p->pstate, NULL, NULL, 0);
    int64_t *ids = gu_malloc((n ? n : 1) * sizeof *ids), *lasts = gu_malloc((n ? n : 1) * sizeof *lasts);
    n = gs_pstate_last_offsets(p->pstate, ids, lasts, n);
    plan->producers = gu_malloc((n ? n : 1) * sizeof *plan->producers);
    for (size_t i = 0; i < n; i++)
        plan->producers[i] = (gs_clean_producer){ids[i], lasts[i]};
    plan->nproducers = n;
    qsort(plan->producers, n, sizeof *plan->producers, gb__cmp_producer);
    free(ids);
    free(lasts);
    /* The aborted transactions: those below the end lose their records
     * and, once emptied, their markers; every entry of the segments
     * cleaned is needed to rewrite their txnindex. */
    int64_t start = gs_log_start_offset(p->log);
    size_t na = gs_log_aborted_txns(p->log, start, INT64_MAX, NULL, 0);
    plan->aborted = gu_malloc((na ? na : 1) * sizeof *plan->aborted);
    plan->naborted = gs_log_aborted_txns(p->log, start, INT64_MAX, plan->aborted, na);
    if (plan->naborted > na)
        plan->naborted = na;
    p->cleaner.cleaning = true;
    c->job = job;
    gb_logger_info("partition %s-%d: cleaning [%" PRId64 ", %" PRId64 ") over %zu segment(s)", t->name, p->index,
                   d->first_dirty, d->end, plan->nsegs);
    gb_job_queue(b->loop, &job->work, gb__clean_work, gb__clean_done, job);
}

/* Pick the partition to clean, as LogCleanerManager.grabFilthiestCompactedLog:
 * one past max.compaction.lag.ms first, else the dirtiest at or above its
 * min.cleanable.dirty.ratio. */
static void gb__cleaner_tick(gb_cleaner *c)
{
    gb_broker *b = c->b;
    if (c->job || b->stopping)
        return;
    int64_t now = gu_wall_ms();
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t nt;
    gb_topic **ts = gb_topics_list(b, &a, &nt);
    gb_partition *best = NULL;
    gs_log_dirt best_d = {0};
    double best_score = -1;
    for (size_t i = 0; i < nt; i++) {
        gb_topic *t = ts[i];
        if (!gc_topic_compacted(&t->cfg))
            continue;
        for (int32_t k = 0; k < t->npartitions; k++) {
            gb_partition *p = t->partitions[k];
            gs_log_dirt d;
            int64_t lso = gs_pstate_lso(p->pstate, gs_log_end_offset(p->log));
            gs_log_clean_bounds(p->log, p->cleaner.first_dirty, lso, now, t->cfg.min_compaction_lag_ms, &d);
            if (d.dirty_bytes <= 0)
                continue;
            double ratio = (double)d.dirty_bytes / (double)(d.clean_bytes + d.dirty_bytes);
            bool forced = d.first_dirty_time >= 0 && now - d.first_dirty_time > t->cfg.max_compaction_lag_ms;
            if (!forced && ratio < t->cfg.min_cleanable_dirty_ratio)
                continue;
            double score = forced ? 2 + ratio : ratio;
            if (score > best_score) {
                best_score = score;
                best = p;
                best_d = d;
            }
        }
    }
    gp_arena_reset(&a, NULL, 0);
    if (best)
        gb__clean_start(c, best, &best_d);
}

static void gb__on_cleaner_timer(uv_timer_t *timer)
{
    gb__cleaner_tick(timer->data);
}

void gb_cleaner_start(gb_broker *b)
{
    gb_cleaner *c = b->cleaner;
    gs_checkpoint_free(&c->cp);
    c->cp_loaded = false;
    if (!b->cfg->log_cleaner_enable)
        return;
    uv_timer_init(b->loop, &c->timer);
    c->timer.data = c;
    uint64_t every = b->cfg->log_cleaner_backoff_ms > 0 ? (uint64_t)b->cfg->log_cleaner_backoff_ms : 1;
    uv_timer_start(&c->timer, gb__on_cleaner_timer, every, every);
    c->timer_started = true;
}

void gb_cleaner_stop(gb_broker *b)
{
    gb_cleaner *c = b->cleaner;
    if (c && c->timer_started) {
        uv_close((uv_handle_t *)&c->timer, NULL);
        c->timer_started = false;
    }
}

void gb_cleaner_close(gb_broker *b)
{
    gb_cleaner *c = b->cleaner;
    if (!c)
        return;
    if (c->cp_loaded)
        gs_checkpoint_free(&c->cp);
    free(c);
    b->cleaner = NULL;
}
