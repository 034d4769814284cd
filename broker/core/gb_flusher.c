#include "broker/core/gb_flusher.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"

/* Sync threads, started as they are needed: each runs one partition's
 * fdatasync at a time. The journal commits concurrent syncs together, so
 * several partitions take about as long as one. */
#define GB_FLUSH_THREADS 8
#define GB_FLUSH_STACK (256 * 1024)

typedef struct gb_flush_wait {
    int64_t offset;
    void (*cb)(void *arg, int status);
    void *arg;
    struct gb_flush_wait *next;
} gb_flush_wait;

/* One partition's flush state, alive while it has waits or a sync out.
 * The loop owns everything but `refs`, `nrefs` and `rc` while `busy`. */
struct gb_flush_part {
    gb_partition *p; /* NULL once the partition is gone */
    gb_flush_wait *waits;
    bool busy;        /* a sync is queued or running for it */
    int64_t upto;     /* that sync's target: the log end offset when it was queued */
    gs_log_slice *refs; /* the segments it syncs */
    size_t nrefs, refs_cap;
    int rc;
    struct gb_flush_part *next;              /* in the work or done queue */
    struct gb_flush_part *all_next, **all_prev; /* every live one */
};

struct gb_flusher {
    gb_broker *b;
    uv_async_t async;
    gb_flush_part *all;
    /* under mu: */
    uv_mutex_t mu;
    uv_cond_t cv;
    gb_flush_part *queue, **queue_tail;
    gb_flush_part *done;
    bool stop;
    size_t nthreads, nidle;
    uv_thread_t threads[GB_FLUSH_THREADS];
};

static void gb__flusher_thread(void *arg)
{
    gb_flusher *f = arg;
    uv_mutex_lock(&f->mu);
    for (;;) {
        while (!f->queue && !f->stop)
            uv_cond_wait(&f->cv, &f->mu);
        if (!f->queue)
            break; /* stopping, and nothing left to sync */
        gb_flush_part *fp = f->queue;
        f->queue = fp->next;
        if (!f->queue)
            f->queue_tail = &f->queue;
        f->nidle--;
        uv_mutex_unlock(&f->mu);
        int rc = 0;
        for (size_t i = 0; i < fp->nrefs; i++)
            if (fdatasync(fp->refs[i].fd) < 0 && rc == 0)
                rc = -errno;
        uv_mutex_lock(&f->mu);
        fp->rc = rc;
        fp->next = f->done;
        f->done = fp;
        f->nidle++;
        uv_async_send(&f->async);
    }
    f->nidle--;
    uv_mutex_unlock(&f->mu);
}

/* Hand fp to the sync threads, with everything appended so far. */
static void gb__flush_queue(gb_flusher *f, gb_flush_part *fp)
{
    gs_log *log = fp->p->log;
    size_t need = gs_log_segments_from(log, fp->p->flush.flushed_offset);
    if (need > fp->refs_cap) {
        fp->refs_cap = need;
        fp->refs = gu_realloc(fp->refs, fp->refs_cap * sizeof *fp->refs);
    }
    fp->nrefs = gs_log_sync_refs(log, fp->p->flush.flushed_offset, fp->refs, fp->refs_cap);
    fp->upto = gs_log_end_offset(log);
    fp->busy = true;
    fp->next = NULL;
    uv_mutex_lock(&f->mu);
    *f->queue_tail = fp;
    f->queue_tail = &fp->next;
    if (f->nidle == 0 && f->nthreads < GB_FLUSH_THREADS) {
        uv_thread_options_t opt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = GB_FLUSH_STACK};
        if (uv_thread_create_ex(&f->threads[f->nthreads], &opt, gb__flusher_thread, f) == 0) {
            f->nthreads++;
            f->nidle++;
        } else if (f->nthreads == 0) {
            abort(); /* no thread to sync anything: acks=all would hang */
        }
    }
    uv_cond_signal(&f->cv);
    uv_mutex_unlock(&f->mu);
}

static void gb__flush_part_free(gb_flush_part *fp)
{
    if (fp->p)
        fp->p->flush.part = NULL;
    *fp->all_prev = fp->all_next;
    if (fp->all_next)
        fp->all_next->all_prev = fp->all_prev;
    free(fp->refs);
    free(fp);
}

/* Call back every wait the partition's durable offset covers, all of them
 * with the error if the sync failed or the partition is gone. */
static void gb__flush_answer(gb_flush_part *fp, int rc)
{
    gb_flush_wait **link = &fp->waits;
    while (*link) {
        gb_flush_wait *w = *link;
        if (rc < 0 || fp->p->flush.flushed_offset > w->offset) {
            *link = w->next;
            w->cb(w->arg, rc);
            free(w);
        } else {
            link = &w->next;
        }
    }
}

/* A sync came back (or a gone partition's waits are to be answered). */
static void gb__flush_finish(gb_flusher *f, gb_flush_part *fp, bool restart)
{
    for (size_t i = 0; i < fp->nrefs; i++)
        gs_log_slice_release(&fp->refs[i]);
    fp->nrefs = 0;
    bool synced = fp->busy;
    fp->busy = false;
    if (!fp->p) {
        gb__flush_answer(fp, -ENOENT);
        gb__flush_part_free(fp);
        return;
    }
    if (synced && fp->rc < 0)
        gb_logger_error("fdatasync of partition %s-%d failed: %s", fp->p->topic->name, fp->p->index, strerror(-fp->rc));
    else if (synced && fp->upto > fp->p->flush.flushed_offset)
        fp->p->flush.flushed_offset = fp->upto;
    if (synced && fp->rc == 0) {
        fp->p->flush.last_flush_ms = (int64_t)uv_now(f->b->loop);
        gb_logger_debug("partition %s-%d is on disk below offset %" PRId64, fp->p->topic->name, fp->p->index, fp->upto);
    }
    gb__flush_answer(fp, synced ? fp->rc : 0);
    if (!fp->waits)
        gb__flush_part_free(fp);
    else if (restart)
        gb__flush_queue(f, fp); /* appended while the last sync ran */
}

static void gb__flusher_done(uv_async_t *a)
{
    gb_flusher *f = a->data;
    uv_mutex_lock(&f->mu);
    gb_flush_part *list = f->done;
    f->done = NULL;
    uv_mutex_unlock(&f->mu);
    while (list) {
        gb_flush_part *next = list->next;
        gb__flush_finish(f, list, !f->stop);
        list = next;
    }
}

int gb_flusher_start(gb_broker *b)
{
    gb_flusher *f = gu_calloc(1, sizeof *f);
    f->b = b;
    f->queue_tail = &f->queue;
    uv_mutex_init(&f->mu);
    uv_cond_init(&f->cv);
    uv_async_init(b->loop, &f->async, gb__flusher_done);
    f->async.data = f;
    b->flusher = f;
    return 0;
}

static void gb__flusher_free(uv_handle_t *h)
{
    free(h->data);
}

void gb_flusher_stop(gb_broker *b)
{
    gb_flusher *f = b->flusher;
    if (!f)
        return;
    /* The threads sync what is queued, then leave. */
    uv_mutex_lock(&f->mu);
    f->stop = true;
    uv_cond_broadcast(&f->cv);
    uv_mutex_unlock(&f->mu);
    for (size_t i = 0; i < f->nthreads; i++)
        uv_thread_join(&f->threads[i]);
    gb__flusher_done(&f->async);
    /* What is still waiting is synced here, on the way out. */
    while (f->all) {
        gb_flush_part *fp = f->all;
        int64_t flushed;
        int rc = 0;
        if (fp->p && (rc = gs_log_flush(fp->p->log, &flushed)) == 0)
            fp->p->flush.flushed_offset = flushed;
        gb__flush_answer(fp, fp->p ? rc : -ENOENT);
        /* anything left asked for more than the log holds: refuse it */
        gb__flush_answer(fp, -EIO);
        gb__flush_part_free(fp);
    }
    uv_mutex_destroy(&f->mu);
    uv_cond_destroy(&f->cv);
    uv_close((uv_handle_t *)&f->async, gb__flusher_free);
    b->flusher = NULL;
}

void gb_flusher_wait(gb_broker *b, gb_partition *p, int64_t offset, void (*cb)(void *arg, int status), void *arg)
{
    gb_flusher *f = b->flusher;
    if (p->flush.flushed_offset > offset) {
        cb(arg, 0);
        return;
    }
    gb_flush_part *fp = p->flush.part;
    if (!fp) {
        fp = gu_calloc(1, sizeof *fp);
        fp->p = p;
        p->flush.part = fp;
        fp->all_next = f->all;
        if (f->all)
            f->all->all_prev = &fp->all_next;
        fp->all_prev = &f->all;
        f->all = fp;
    }
    gb_flush_wait *w = gu_malloc(sizeof *w);
    *w = (gb_flush_wait){offset, cb, arg, fp->waits};
    fp->waits = w;
    if (!fp->busy)
        gb__flush_queue(f, fp);
}

static void gb__flush_nobody(void *arg, int status)
{
    (void)arg;
    (void)status; /* a failure was logged by gb__flush_finish */
}

void gb_flusher_maybe_flush(gb_broker *b, gb_partition *p, int64_t last)
{
    if (!b->flusher || p->flush.part || last + 1 - p->flush.flushed_offset < p->topic->cfg.flush_messages)
        return;
    gb_flusher_wait(b, p, last, gb__flush_nobody, NULL);
}

void gb_flusher_flush_old(gb_broker *b, int64_t now_ms)
{
    if (!b->flusher)
        return;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t n;
    gb_topic **ts = gb_topics_list(b, &a, &n);
    for (size_t i = 0; i < n; i++)
        for (int32_t j = 0; j < ts[i]->npartitions; j++) {
            gb_partition *p = ts[i]->partitions[j];
            int64_t end = gs_log_end_offset(p->log);
            const gb_flush_state *fs = &p->flush;
            if (!fs->part && end > fs->flushed_offset && now_ms - fs->last_flush_ms >= ts[i]->cfg.flush_ms)
                gb_flusher_wait(b, p, end - 1, gb__flush_nobody, NULL);
        }
    gp_arena_reset(&a, NULL, 0);
}

static void gb__partition_gone(gb_broker *b, gb_partition *p)
{
    gb_flusher *f = b->flusher;
    gb_flush_part *fp = p->flush.part;
    if (!f || !fp)
        return;
    fp->p = NULL;
    p->flush.part = NULL;
    if (fp->busy)
        return; /* its sync comes back to a gone partition */
    /* Answer its waits from the loop, not from inside the deletion. */
    uv_mutex_lock(&f->mu);
    fp->next = f->done;
    f->done = fp;
    uv_mutex_unlock(&f->mu);
    uv_async_send(&f->async);
}

void gb_flusher_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    if (ev == GB_PARTITION_OPENED) {
        /* On disk up to the recovery point topics found (the log end after a
         * clean stop or for a new partition). */
        p->flush.flushed_offset = p->recovery_point;
        p->flush.last_flush_ms = (int64_t)uv_now(b->loop);
        p->flush.part = NULL;
    } else if (ev == GB_PARTITION_GONE) {
        gb__partition_gone(b, p);
    }
}
