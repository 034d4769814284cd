#include "broker/core/gb_cache.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "storage/gs_pagecache.h"

#define GB_CACHE_STEP ((int64_t)1 << 20) /* the smallest piece queued, and dropped */
#define GB_CACHE_JOB_MAX 64              /* steps per eviction job */

/* Bytes [pos, pos + len) of one segment of p, in the cache as far as the
 * broker knows. p is NULL once the partition is gone. */
typedef struct gb_cache_step {
    gb_partition *p;
    int64_t seg_base, pos, len;
    struct gb_cache_step *next;
} gb_cache_step;

typedef struct gb_cache_job {
    gb_job work;
    gb_cache *c;
    size_t n;
    gb_cache_step *steps[GB_CACHE_JOB_MAX];
    gs_log_slice slices[GB_CACHE_JOB_MAX];
    int rc[GB_CACHE_JOB_MAX];
} gb_cache_job;

struct gb_cache {
    gb_broker *b;
    int64_t budget; /* < 0: no budget, the kernel decides */
    int64_t queued; /* bytes in the queue */
    gb_cache_step *head, *tail;
    gb_cache_job *job; /* the eviction running, if any */
    bool stopping;
};

void gb_cache_start(gb_broker *b)
{
    gb_cache *c = gu_calloc(1, sizeof *c);
    c->b = b;
    c->budget = b->cfg->gregor_log_cache_bytes;
    b->cache = c;
}

void gb_cache_stop(gb_broker *b)
{
    if (b->cache)
        b->cache->stopping = true;
}

void gb_cache_free(gb_broker *b)
{
    gb_cache *c = b->cache;
    if (!c)
        return;
    while (c->head) {
        gb_cache_step *s = c->head;
        c->head = s->next;
        free(s);
    }
    free(c);
    b->cache = NULL;
}

static void gb__partition_opened(gb_partition *p)
{
    gs_log_tail(p->log, &p->cache.base, &p->cache.pos);
    p->cache.hot_base = p->cache.base;
    p->cache.hot_pos = p->cache.pos;
}

/* Is byte pos of the segment at seg_base at or after p's hot mark? */
static bool gb__at_or_after_hot(const gb_partition *p, int64_t seg_base, int64_t pos)
{
    return seg_base > p->cache.hot_base || (seg_base == p->cache.hot_base && pos >= p->cache.hot_pos);
}

bool gb_cache_known_hot(const gb_partition *p, const gs_log_slice *s)
{
    return gb__at_or_after_hot(p, s->seg->base_offset, s->pos);
}

static void gb__evict_work(void *arg)
{
    gb_cache_job *job = arg;
    for (size_t i = 0; i < job->n; i++)
        job->rc[i] = gs_file_evict(job->slices[i].fd, job->slices[i].pos, job->slices[i].len);
}

static void gb__evict_start(gb_cache *c);

static void gb__evict_after(void *arg)
{
    gb_cache_job *job = arg;
    gb_cache *c = job->c;
    int64_t dropped = 0;
    for (size_t i = 0; i < job->n; i++) {
        gb_cache_step *s = job->steps[i];
        gb_partition *p = s->p;
        if (p && job->rc[i] < 0) {
            gb_logger_warn("partition %s-%d: cannot drop written data from the page cache: %s", p->topic->name,
                           p->index, strerror(-job->rc[i]));
        } else if (p) {
            /* Reads before this point may have to wait for the disk now. */
            int64_t end = job->slices[i].pos + job->slices[i].len;
            if (gb__at_or_after_hot(p, s->seg_base, end)) {
                p->cache.hot_base = s->seg_base;
                p->cache.hot_pos = end;
            }
            dropped += job->slices[i].len;
        }
        gs_log_slice_release(&job->slices[i]);
        free(s);
    }
    gb_logger_debug("page cache: wrote back and dropped %" PRId64 " bytes of log data, %" PRId64 " still queued",
                    dropped, c->queued);
    free(job);
    c->job = NULL;
    gb__evict_start(c);
}

/* Drop the oldest steps while the queue holds more than the budget. */
static void gb__evict_start(gb_cache *c)
{
    if (c->job || c->stopping || c->budget < 0 || c->queued <= c->budget)
        return;
    gb_cache_job *job = gu_calloc(1, sizeof *job);
    job->c = c;
    while (c->head && c->queued > c->budget && job->n < GB_CACHE_JOB_MAX) {
        gb_cache_step *s = c->head;
        c->head = s->next;
        if (!c->head)
            c->tail = NULL;
        c->queued -= s->len;
        if (!s->p || gs_log_segment_slice(s->p->log, s->seg_base, s->pos, s->len, &job->slices[job->n]) < 0) {
            free(s); /* its partition or segment is gone, and its pages with it */
            continue;
        }
        job->steps[job->n++] = s;
    }
    if (job->n == 0) {
        free(job);
        return;
    }
    c->job = job;
    gb_job_queue(c->b->loop, &job->work, gb__evict_work, gb__evict_after, job);
}

static void gb__queue(gb_cache *c, gb_partition *p, int64_t seg_base, int64_t pos, int64_t len)
{
    if (len <= 0)
        return;
    gb_cache_step *s = gu_malloc(sizeof *s);
    *s = (gb_cache_step){p, seg_base, pos, len, NULL};
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->queued += len;
}

static void gb__appended(gb_broker *b, gb_partition *p)
{
    gb_cache *c = b->cache;
    if (!c || c->budget < 0)
        return;
    int64_t base, size;
    gs_log_tail(p->log, &base, &size);
    if (base != p->cache.base) {
        /* The log rolled: what is left of the closed segment goes in whole. */
        int64_t old = gs_log_segment_size(p->log, p->cache.base);
        if (old > p->cache.pos)
            gb__queue(c, p, p->cache.base, p->cache.pos, old - p->cache.pos);
        p->cache.base = base;
        p->cache.pos = 0;
    }
    if (size - p->cache.pos >= GB_CACHE_STEP) {
        gb__queue(c, p, base, p->cache.pos, size - p->cache.pos);
        p->cache.pos = size;
    }
    gb__evict_start(c);
}

static void gb__partition_gone(gb_broker *b, gb_partition *p)
{
    gb_cache *c = b->cache;
    if (!c)
        return;
    gb_cache_step **link = &c->head;
    c->tail = NULL;
    while (*link) {
        gb_cache_step *s = *link;
        if (s->p == p) {
            *link = s->next;
            c->queued -= s->len;
            free(s);
        } else {
            c->tail = s;
            link = &s->next;
        }
    }
    if (c->job)
        for (size_t i = 0; i < c->job->n; i++)
            if (c->job->steps[i]->p == p)
                c->job->steps[i]->p = NULL;
}

/* ---- cold reads ---------------------------------------------------------- */

typedef struct gb_warm_job {
    gb_job work;
    const gs_log_slice *s;
    bool *need;
    size_t n;
    void (*done)(void *arg);
    void *arg;
} gb_warm_job;

static void gb__warm_work(void *arg)
{
    gb_warm_job *job = arg;
    for (size_t i = 0; i < job->n; i++)
        if (job->need[i])
            (void)gs_file_warm(job->s[i].fd, job->s[i].pos, job->s[i].len); /* on failure sendfile tells */
}

static void gb__warm_after(void *arg)
{
    gb_warm_job *job = arg;
    job->done(job->arg);
    free(job);
}

int64_t gb_cache_warm(gb_broker *b, const gs_log_slice *s, const bool *maybe_cold, size_t n, void (*done)(void *arg),
                      void *arg)
{
    gb_warm_job *job = NULL;
    int64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!maybe_cold[i] || gs_file_resident(s[i].fd, s[i].pos, s[i].len) == 1)
            continue;
        if (!job) {
            job = gu_malloc(sizeof *job + n * sizeof *job->need);
            *job = (gb_warm_job){.s = s, .need = (bool *)(job + 1), .n = n, .done = done, .arg = arg};
            memset(job->need, 0, n * sizeof *job->need);
        }
        job->need[i] = true;
        bytes += s[i].len;
    }
    if (!job)
        return 0;
    gb_job_queue(b->loop, &job->work, gb__warm_work, gb__warm_after, job);
    return bytes;
}

void gb_cache_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    if (ev == GB_PARTITION_OPENED)
        gb__partition_opened(p);
    else if (ev == GB_PARTITION_APPENDED)
        gb__appended(b, p);
    else if (ev == GB_PARTITION_GONE)
        gb__partition_gone(b, p);
}
