#include "broker/gb_flusher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/gb_log.h"

#define GB_FLUSH_MAX_SEGMENTS 4096
/* fdatasyncs running at once in one group commit: the journal commits
 * concurrent ones together, so a commit of many partitions takes about as
 * long as one. The helpers start with the first commit of two files. */
#define GB_FLUSH_THREADS 8
#define GB_FLUSH_STACK (256 * 1024)

typedef struct gb_flush_wait {
    gb_partition *p; /* NULL once the partition is gone */
    int64_t offset;
    void (*cb)(void *arg, int status);
    void *arg;
    struct gb_flush_wait *next;
} gb_flush_wait;

typedef struct gb_flush_target {
    gb_partition *p;
    int64_t upto; /* the log end offset when the job started */
} gb_flush_target;

struct gb_flusher {
    gb_broker *b;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t async;
    bool job_ready, job_done, stop, running;
    /* the job: fds to sync (owned by the loop until job_done) */
    gs_log_slice *refs;
    size_t nrefs;
    int rc;
    gb_flush_target *targets;
    size_t ntargets, targets_cap;
    gb_flush_wait *pending;   /* not covered by the running job */
    gb_flush_wait *in_flight; /* covered by it */
    /* The fds of the running job, shared out under mu: the flusher thread
     * and its helpers each take the next one until none is left. */
    uv_thread_t helpers[GB_FLUSH_THREADS - 1];
    size_t nhelpers;
    uv_cond_t work_cv, done_cv;
    const gs_log_slice *sync_refs;
    size_t sync_n, sync_next, sync_left;
    int sync_rc;
};

/* Take fds of the running job and fdatasync them until none is left.
 * Called with mu held; returns with it held. */
static void gb__sync_some(gb_flusher *f)
{
    while (f->sync_next < f->sync_n) {
        int fd = f->sync_refs[f->sync_next++].fd;
        uv_mutex_unlock(&f->mu);
        int rc = fdatasync(fd) < 0 ? -errno : 0;
        uv_mutex_lock(&f->mu);
        if (rc < 0 && f->sync_rc == 0)
            f->sync_rc = rc;
        if (--f->sync_left == 0)
            uv_cond_signal(&f->done_cv);
    }
}

static void gb__flusher_helper(void *arg)
{
    gb_flusher *f = arg;
    uv_mutex_lock(&f->mu);
    for (;;) {
        while (f->sync_next >= f->sync_n && !f->stop)
            uv_cond_wait(&f->work_cv, &f->mu);
        if (f->sync_next >= f->sync_n)
            break; /* stopping, nothing left */
        gb__sync_some(f);
    }
    uv_mutex_unlock(&f->mu);
}

/* fdatasync the job's n fds, several at once. Called with mu held. */
static int gb__sync_all(gb_flusher *f, const gs_log_slice *refs, size_t n)
{
    if (n > 1 && f->nhelpers == 0) {
        uv_thread_options_t opt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = GB_FLUSH_STACK};
        while (f->nhelpers < GB_FLUSH_THREADS - 1 &&
               uv_thread_create_ex(&f->helpers[f->nhelpers], &opt, gb__flusher_helper, f) == 0)
            f->nhelpers++;
    }
    f->sync_refs = refs;
    f->sync_n = n;
    f->sync_next = 0;
    f->sync_left = n;
    f->sync_rc = 0;
    if (n > 1)
        uv_cond_broadcast(&f->work_cv);
    gb__sync_some(f);
    while (f->sync_left > 0)
        uv_cond_wait(&f->done_cv, &f->mu);
    f->sync_n = f->sync_next = 0;
    return f->sync_rc;
}

static void gb__flusher_thread(void *arg)
{
    gb_flusher *f = arg;
    uv_mutex_lock(&f->mu);
    for (;;) {
        while (!f->job_ready && !f->stop)
            uv_cond_wait(&f->cv, &f->mu);
        if (f->stop && !f->job_ready)
            break;
        f->rc = gb__sync_all(f, f->refs, f->nrefs);
        f->job_ready = false;
        f->job_done = true;
        uv_async_send(&f->async);
    }
    uv_mutex_unlock(&f->mu);
}

static void gb__flusher_kick(gb_flusher *f)
{
    if (f->running || !f->pending || f->stop)
        return;
    /* Every partition with a pending wait, once. */
    f->ntargets = 0;
    f->nrefs = 0;
    for (gb_flush_wait *w = f->pending; w; w = w->next) {
        if (!w->p)
            continue;
        bool seen = false;
        for (size_t i = 0; i < f->ntargets; i++)
            seen |= f->targets[i].p == w->p;
        if (seen)
            continue;
        if (f->ntargets == f->targets_cap) {
            f->targets_cap = f->targets_cap ? f->targets_cap * 2 : 64;
            f->targets = realloc(f->targets, f->targets_cap * sizeof *f->targets);
            if (!f->targets)
                abort();
        }
        f->targets[f->ntargets++] = (gb_flush_target){w->p, gs_log_end_offset(w->p->log)};
        f->nrefs +=
            gs_log_sync_refs(w->p->log, w->p->flushed_offset, f->refs + f->nrefs, GB_FLUSH_MAX_SEGMENTS - f->nrefs);
    }
    f->in_flight = f->pending;
    f->pending = NULL;
    f->running = true;
    uv_mutex_lock(&f->mu);
    f->job_ready = true;
    f->job_done = false;
    uv_cond_signal(&f->cv);
    uv_mutex_unlock(&f->mu);
}

static void gb__flusher_done(uv_async_t *a)
{
    gb_flusher *f = a->data;
    uv_mutex_lock(&f->mu);
    bool done = f->job_done;
    int rc = f->rc;
    f->job_done = false;
    uv_mutex_unlock(&f->mu);
    if (!done)
        return;
    for (size_t i = 0; i < f->nrefs; i++)
        gs_log_slice_release(&f->refs[i]);
    if (rc == 0)
        for (size_t i = 0; i < f->ntargets; i++) {
            gb_partition *p = f->targets[i].p;
            if (p && f->targets[i].upto > p->flushed_offset)
                p->flushed_offset = f->targets[i].upto;
        }
    else
        gb_log_error("fdatasync of a partition log failed: %s", strerror(-rc));
    gb_flush_wait *w = f->in_flight;
    f->in_flight = NULL;
    f->running = false;
    /* Waits the job did not cover (appended after it started) go back. */
    while (w) {
        gb_flush_wait *next = w->next;
        if (!w->p) {
            w->cb(w->arg, -ENOENT);
            free(w);
        } else if (rc < 0) {
            w->cb(w->arg, rc);
            free(w);
        } else if (w->p->flushed_offset > w->offset) {
            w->cb(w->arg, 0);
            free(w);
        } else {
            w->next = f->pending;
            f->pending = w;
        }
        w = next;
    }
    gb__flusher_kick(f);
}

int gb_flusher_start(gb_broker *b)
{
    gb_flusher *f = calloc(1, sizeof *f);
    if (!f || !(f->refs = calloc(GB_FLUSH_MAX_SEGMENTS, sizeof *f->refs)))
        abort();
    f->b = b;
    uv_mutex_init(&f->mu);
    uv_cond_init(&f->cv);
    uv_cond_init(&f->work_cv);
    uv_cond_init(&f->done_cv);
    uv_async_init(b->loop, &f->async, gb__flusher_done);
    f->async.data = f;
    if (uv_thread_create(&f->thread, gb__flusher_thread, f) != 0)
        return -1;
    b->flusher = f;
    return 0;
}

static void gb__flusher_free(uv_handle_t *h)
{
    gb_flusher *f = h->data;
    free(f->refs);
    free(f->targets);
    free(f);
}

void gb_flusher_stop(gb_broker *b)
{
    gb_flusher *f = b->flusher;
    if (!f)
        return;
    uv_mutex_lock(&f->mu);
    f->stop = true;
    uv_cond_signal(&f->cv);
    uv_cond_broadcast(&f->work_cv);
    uv_mutex_unlock(&f->mu);
    uv_thread_join(&f->thread);
    for (size_t i = 0; i < f->nhelpers; i++)
        uv_thread_join(&f->helpers[i]);
    f->running = false; /* the thread is gone: no new job */
    uv_mutex_lock(&f->mu);
    bool done = f->job_done;
    uv_mutex_unlock(&f->mu);
    if (done) {
        f->running = true;
        gb__flusher_done(&f->async); /* the last job's results */
    }
    /* What is still waiting is synced here, on the way out. */
    for (gb_flush_wait *w = f->pending, *next; w; w = next) {
        next = w->next;
        int64_t flushed;
        int rc = w->p ? gs_log_flush(w->p->log, &flushed) : -ENOENT;
        if (rc == 0)
            w->p->flushed_offset = flushed;
        w->cb(w->arg, rc);
        free(w);
    }
    f->pending = NULL;
    uv_mutex_destroy(&f->mu);
    uv_cond_destroy(&f->cv);
    uv_cond_destroy(&f->work_cv);
    uv_cond_destroy(&f->done_cv);
    uv_close((uv_handle_t *)&f->async, gb__flusher_free);
    b->flusher = NULL;
}

void gb_flusher_wait(gb_broker *b, gb_partition *p, int64_t offset, void (*cb)(void *arg, int status), void *arg)
{
    gb_flusher *f = b->flusher;
    if (p->flushed_offset > offset) {
        cb(arg, 0);
        return;
    }
    gb_flush_wait *w = malloc(sizeof *w);
    if (!w)
        abort();
    *w = (gb_flush_wait){p, offset, cb, arg, f->pending};
    f->pending = w;
    gb__flusher_kick(f);
}

void gb_flusher_partition_gone(gb_broker *b, gb_partition *p)
{
    gb_flusher *f = b->flusher;
    if (!f)
        return;
    for (gb_flush_wait *w = f->pending; w; w = w->next)
        if (w->p == p)
            w->p = NULL;
    for (gb_flush_wait *w = f->in_flight; w; w = w->next)
        if (w->p == p)
            w->p = NULL;
    for (size_t i = 0; i < f->ntargets; i++)
        if (f->targets[i].p == p)
            f->targets[i].p = NULL;
}
