/*
 * Parked fetches (core/gb_fetch_waiters.h): links in each partition's
 * waiter list, a timer per waiter, the list of parked waiters.
 */
#include "broker/core/gb_fetch_waiters.h"

#include <stdlib.h>

#include "common/gu_common.h"

#include "broker/core/gb_topics.h"

struct gb_waiter_link {
    gb_fetch_waiter *w;
    gb_partition *p;
    gb_waiter_link *prev, *next;
};

struct gb_fetch_waiter {
    gb_broker *b;
    gb_fetch_look_fn look;
    void *arg;
    uv_timer_t timer;
    uint64_t deadline;     /* loop time (ms) after which the fetch answers */
    gb_waiter_link *links; /* one per partition it waits on */
    size_t nlinks, links_cap;
    gb_fetch_waiter *prev, *next; /* parked waiters */
};

struct gb_fetches {
    gb_fetch_waiter *head;
    bool stopping;
};

void gb_fetch_waiter_unlink_all(gb_fetch_waiter *w)
{
    for (size_t i = 0; i < w->nlinks; i++) {
        gb_waiter_link *l = &w->links[i];
        if (!l->p)
            continue;
        if (l->prev)
            l->prev->next = l->next;
        else
            l->p->waiters.head = l->next;
        if (l->next)
            l->next->prev = l->prev;
        l->p = NULL;
    }
    w->nlinks = 0;
}

/* Room for n links, while none is linked: links live in partition lists,
 * so the array must not move once linking started. */
void gb_fetch_waiter_reserve(gb_fetch_waiter *w, size_t n)
{
    if (w->nlinks != 0)
        abort();
    if (n <= w->links_cap)
        return;
    w->links_cap = n;
    free(w->links);
    w->links = gu_malloc(w->links_cap * sizeof *w->links);
}

void gb_fetch_waiter_link(gb_fetch_waiter *w, gb_partition *p)
{
    if (w->nlinks == w->links_cap)
        abort(); /* gb_fetch_waiter_reserve first */
    gb_waiter_link *l = &w->links[w->nlinks++];
    l->w = w;
    l->p = p;
    l->prev = NULL;
    l->next = p->waiters.head;
    if (p->waiters.head)
        p->waiters.head->prev = l;
    p->waiters.head = l;
}

void gb_fetch_waiter_park(gb_fetch_waiter *w)
{
    gb_fetches *fs = w->b->fetches;
    if (!w->prev && fs->head != w) {
        w->next = fs->head;
        if (w->next)
            w->next->prev = w;
        fs->head = w;
    }
}

static void gb__park_remove(gb_fetch_waiter *w)
{
    gb_fetches *fs = w->b->fetches;
    if (w->prev)
        w->prev->next = w->next;
    else if (fs->head == w)
        fs->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void gb__waiter_free(uv_handle_t *h)
{
    gb_fetch_waiter *w = h->data;
    free(w->links);
    free(w);
}

void gb_fetch_waiter_done(gb_fetch_waiter *w)
{
    gb_fetch_waiter_unlink_all(w);
    gb__park_remove(w);
    uv_close((uv_handle_t *)&w->timer, gb__waiter_free);
}

bool gb_fetch_waiter_expired(const gb_fetch_waiter *w)
{
    return uv_now(w->b->loop) >= w->deadline;
}

bool gb_fetch_waiters_stopping(const gb_broker *b)
{
    return b->fetches->stopping;
}

static void gb__on_timer(uv_timer_t *timer)
{
    gb_fetch_waiter *w = timer->data;
    w->look(w, w->arg);
    if (!uv_is_closing((uv_handle_t *)&w->timer)) {
        uint64_t t = uv_now(w->b->loop);
        uv_timer_start(&w->timer, gb__on_timer, w->deadline > t ? w->deadline - t : 0, 0);
    }
}

void gb_fetch_waiter_start(gb_broker *b, int32_t max_wait_ms, gb_fetch_look_fn look, void *arg)
{
    if (!b->fetches)
        b->fetches = gu_calloc(1, sizeof *b->fetches);
    gb_fetch_waiter *w = gu_calloc(1, sizeof *w);
    w->b = b;
    w->look = look;
    w->arg = arg;
    uv_timer_init(b->loop, &w->timer);
    w->timer.data = w;
    w->deadline = uv_now(b->loop) + (uint64_t)(max_wait_ms > 0 ? max_wait_ms : 0);
    gb__on_timer(&w->timer);
}

/* Records were appended to p: parked fetches on it look again (on the next
 * loop iteration, so that several appends cost one look). */
static void gb__wake(gb_partition *p)
{
    for (gb_waiter_link *l = p->waiters.head; l; l = l->next)
        uv_timer_start(&l->w->timer, gb__on_timer, 0, 0);
}

/* p is being deleted: unlink every fetch from p now; they look again (and
 * miss it) soon. */
static void gb__gone(gb_partition *p)
{
    while (p->waiters.head) {
        gb_waiter_link *l = p->waiters.head;
        p->waiters.head = l->next;
        if (l->next)
            l->next->prev = NULL;
        l->p = NULL;
        uv_timer_start(&l->w->timer, gb__on_timer, 0, 0);
    }
}

void gb_fetch_waiters_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    (void)b;
    if (ev == GB_PARTITION_APPENDED)
        gb__wake(p);
    else if (ev == GB_PARTITION_GONE)
        gb__gone(p);
}

void gb_fetch_waiters_stop_all(gb_broker *b)
{
    if (!b->fetches)
        return;
    b->fetches->stopping = true;
    while (b->fetches->head) {
        gb_fetch_waiter *w = b->fetches->head;
        w->look(w, w->arg);
    }
}
