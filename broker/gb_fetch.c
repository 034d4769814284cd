/*
 * Fetch v4+: record bytes go from the partition logs' files to the socket
 * (gp_records with a file span), never through a user-space buffer.
 *
 * Sessions: Gregor keeps no fetch sessions and answers as Kafka does when
 * its session cache has no room: session id 0, every fetch a full one. An
 * incremental fetch (epoch > 0) gets FETCH_SESSION_ID_NOT_FOUND, after which
 * clients fall back to full fetches.
 *
 * Long polling: a fetch that finds fewer than min_bytes parks: it links
 * itself to each of its partitions and starts a timer for max_wait_ms. An
 * append restarts that timer at 0 so the fetch looks again on the next loop
 * iteration; when it has min_bytes, or the deadline passed, it answers.
 */
#include "broker/gb_fetch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker/gb_cache.h"
#include "broker/gb_log.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_errors.h"

typedef struct gb_fetch gb_fetch;

struct gb_waiter_link {
    gb_fetch *f;
    gb_partition *p;
    gb_waiter_link *prev, *next;
};

struct gb_fetch {
    gb_broker *b;
    gb_request *req;
    uv_timer_t timer;
    uint64_t deadline;     /* loop time (ms) after which the fetch answers */
    gb_waiter_link *links; /* one per partition it waits on */
    size_t nlinks, links_cap;
    gs_log_slice *slices; /* what the last look read (arena) */
    bool *maybe_cold;     /* per slice: not known to be in the page cache */
    size_t nslices;
    gb_fetch *prev, *next; /* parked fetches */
};

struct gb_fetches {
    gb_fetch *head;
    bool stopping;
};

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

static void gb__unlink_all(gb_fetch *f)
{
    for (size_t i = 0; i < f->nlinks; i++) {
        gb_waiter_link *l = &f->links[i];
        if (!l->p)
            continue;
        if (l->prev)
            l->prev->next = l->next;
        else
            l->p->waiters = l->next;
        if (l->next)
            l->next->prev = l->prev;
        l->p = NULL;
    }
    f->nlinks = 0;
}

/* Room for n links, while none is linked: links live in partition lists,
 * so the array must not move once linking started. */
static void gb__reserve_links(gb_fetch *f, size_t n)
{
    if (f->nlinks != 0)
        abort();
    if (n <= f->links_cap)
        return;
    f->links_cap = n;
    free(f->links);
    f->links = malloc(f->links_cap * sizeof *f->links);
    if (!f->links)
        abort();
}

static void gb__link(gb_fetch *f, gb_partition *p)
{
    if (f->nlinks == f->links_cap)
        abort(); /* gb__reserve_links first */
    gb_waiter_link *l = &f->links[f->nlinks++];
    l->f = f;
    l->p = p;
    l->prev = NULL;
    l->next = p->waiters;
    if (p->waiters)
        p->waiters->prev = l;
    p->waiters = l;
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
    resp->throttle_time_ms = 0;
    resp->error_code = 0;
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
    int64_t left = v >= 3 ? body->max_bytes : INT32_MAX, bytes = 0;
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
                *answer_now = true;
                continue;
            }
            /* A zstd topic is served at every version, as Kafka 4 serves it
             * (Kafka 3 refused Fetch below v10 there, KIP-110). */
            int64_t hw = gs_log_end_offset(p->log), start = gs_log_start_offset(p->log);
            op->high_watermark = hw;
            op->last_stable_offset = hw; /* no transactions yet: stable up to the high watermark */
            op->log_start_offset = start;
            if (body->isolation_level == 1)
                op->aborted_transactions_count = 0;
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
            if (ip->fetch_offset == hw || limit <= 0)
                continue;
            gs_log_slice *s = &f->slices[f->nslices];
            int rc = gs_log_read(p->log, ip->fetch_offset, limit, first_data, s);
            if (rc < 0) {
                op->error_code = GP_E_KAFKA_STORAGE_ERROR;
                *answer_now = true;
                continue;
            }
            if (s->len == 0)
                continue;
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

static void gb__fetch_free(uv_handle_t *h)
{
    gb_fetch *f = h->data;
    free(f->links);
    free(f);
}

static void gb__park_remove(gb_fetch *f)
{
    gb_fetches *fs = f->b->fetches;
    if (f->prev)
        f->prev->next = f->next;
    else if (fs->head == f)
        fs->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
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
    int64_t cold = gb_cache_warm(f->b, f->slices, f->maybe_cold, f->nslices, gb__respond, req);
    if (cold == 0)
        gb_request_respond(req);
    else
        gb_log_debug("fetch from %s waits for %" PRId64 " bytes to be read from disk", gb_request_peer(req), cold);
}

/* Look at the logs; answer or (re)park. */
static void gb__look(gb_fetch *f)
{
    bool now = false;
    int64_t bytes = gb__fill(f, &now);
    const gp_fetch_request *body = f->req->body;
    uint64_t t = uv_now(f->b->loop);
    if (now || bytes >= body->min_bytes || body->max_wait_ms <= 0 || t >= f->deadline || gb_request_orphaned(f->req) ||
        f->b->fetches->stopping) {
        gb__unlink_all(f);
        gb__park_remove(f);
        gb__answer(f);
        uv_close((uv_handle_t *)&f->timer, gb__fetch_free);
        return;
    }
    /* Not enough yet: let go of what was read, wait for appends. */
    for (size_t i = 0; i < f->nslices; i++)
        gs_log_slice_release(&f->slices[i]);
    f->nslices = 0;
    gb__unlink_all(f);
    size_t want = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        want += body->topics[i].partitions_count > 0 ? (size_t)body->topics[i].partitions_count : 0;
    gb__reserve_links(f, want);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_fetch_request_topic *it = &body->topics[i];
        gb_topic *tp = f->req->version >= 13 ? gb_topic_find_id(f->b, &it->topic_id)
                                             : gb_topic_find(f->b, it->topic.p, (size_t)it->topic.len);
        for (int32_t j = 0; tp && j < it->partitions_count; j++) {
            gb_partition *p = gb_topic_partition(tp, it->partitions[j].partition);
            if (p)
                gb__link(f, p);
        }
    }
    if (!f->prev && f->b->fetches->head != f) {
        f->next = f->b->fetches->head;
        if (f->next)
            f->next->prev = f;
        f->b->fetches->head = f;
    }
}

static void gb__on_timer(uv_timer_t *timer)
{
    gb_fetch *f = timer->data;
    gb__look(f);
    if (!uv_is_closing((uv_handle_t *)&f->timer)) {
        uint64_t t = uv_now(f->b->loop);
        uv_timer_start(&f->timer, gb__on_timer, f->deadline > t ? f->deadline - t : 0, 0);
    }
}

void gb_handle_fetch(gb_broker *b, gb_request *req)
{
    if (!b->fetches) {
        b->fetches = calloc(1, sizeof *b->fetches);
        if (!b->fetches)
            abort();
    }
    const gp_fetch_request *body = req->body;
    gb_fetch *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->b = b;
    f->req = req;
    uv_timer_init(b->loop, &f->timer);
    f->timer.data = f;
    f->deadline = uv_now(b->loop) + (uint64_t)(body->max_wait_ms > 0 ? body->max_wait_ms : 0);
    gb__on_timer(&f->timer);
}

void gb_fetch_wake(gb_broker *b, gb_partition *p)
{
    (void)b;
    for (gb_waiter_link *l = p->waiters; l; l = l->next)
        uv_timer_start(&l->f->timer, gb__on_timer, 0, 0);
}

void gb_fetch_partition_gone(gb_broker *b, gb_partition *p)
{
    /* Unlink every fetch from p now; they look again (and miss it) soon. */
    while (p->waiters) {
        gb_waiter_link *l = p->waiters;
        p->waiters = l->next;
        if (l->next)
            l->next->prev = NULL;
        l->p = NULL;
        uv_timer_start(&l->f->timer, gb__on_timer, 0, 0);
    }
    (void)b;
}

void gb_fetch_stop_all(gb_broker *b)
{
    if (!b->fetches)
        return;
    b->fetches->stopping = true;
    while (b->fetches->head)
        gb__look(b->fetches->head);
}
