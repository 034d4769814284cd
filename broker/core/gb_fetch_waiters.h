/*
 * Fetch waiters: long polling without blocking the loop. A fetch that finds
 * fewer than min_bytes parks: it links itself to each of its partitions and
 * a timer runs to its deadline (max_wait_ms). An append to one of them (the
 * GB_PARTITION_APPENDED event) restarts that timer at 0, so the fetch looks
 * again on the next loop iteration (several appends cost one look); a
 * partition going away unlinks it and wakes it the same way.
 *
 * The Fetch handler (api/gb_fetch.c) owns what a look does; this service
 * owns the parking, the links and the timer, and never calls up: it calls
 * the look function the handler gave.
 */
#ifndef GB_FETCH_WAITERS_H
#define GB_FETCH_WAITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_partition_events.h"

typedef struct gb_fetch_waiter gb_fetch_waiter;
typedef struct gb_waiter_link gb_waiter_link;

/* The fetch waiters' state of one partition (gb_partition.waiters). */
typedef struct gb_fetch_waiters_part {
    gb_waiter_link *head; /* parked fetches to wake on append */
} gb_fetch_waiters_part;

/* A look: the waiter's owner reads the logs and then either answers
 * (gb_fetch_waiter_done) or parks again (unlink, link, park). */
typedef void (*gb_fetch_look_fn)(gb_fetch_waiter *w, void *arg);

/* A waiter with a deadline max_wait_ms from now; its first look runs at
 * once, inside this call. */
void gb_fetch_waiter_start(gb_broker *b, int32_t max_wait_ms, gb_fetch_look_fn look, void *arg);

/* Has the deadline passed? Is the broker stopping (every waiter answers)? */
bool gb_fetch_waiter_expired(const gb_fetch_waiter *w);
bool gb_fetch_waiters_stopping(const gb_broker *b);

/* Parking again: drop every link, make room for n (before linking), link
 * to p, and keep the waiter on the parked list (until done). */
void gb_fetch_waiter_unlink_all(gb_fetch_waiter *w);
void gb_fetch_waiter_reserve(gb_fetch_waiter *w, size_t n);
void gb_fetch_waiter_link(gb_fetch_waiter *w, gb_partition *p);
void gb_fetch_waiter_park(gb_fetch_waiter *w);

/* Answered: unlinked, unparked, freed after its timer closes. The look
 * function is not called again. */
void gb_fetch_waiter_done(gb_fetch_waiter *w);

/* The partition listener (registered by the lifecycle): appended wakes
 * the waiters on p, gone unlinks and wakes them. */
void gb_fetch_waiters_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev);

/* Shutting down: every parked waiter looks now (and answers). */
void gb_fetch_waiters_stop_all(gb_broker *b);

#endif
