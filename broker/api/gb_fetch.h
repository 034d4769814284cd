/*
 * Fetch, with long polling: a fetch that finds fewer than min_bytes parks
 * until an append to one of its partitions (gb_fetch_wake) or max_wait_ms,
 * whichever comes first, without blocking the loop.
 */
#ifndef GB_FETCH_H
#define GB_FETCH_H

#include "broker/core/gb_topics.h"

/* Records were appended to p: parked fetches on it look again (on the next
 * loop iteration, so that several appends cost one look). */
void gb_fetch_wake(gb_broker *b, gb_partition *p);

/* p is being deleted: its parked fetches answer without it. */
void gb_fetch_partition_gone(gb_broker *b, gb_partition *p);

/* Shutting down: every parked fetch answers now. */
void gb_fetch_stop_all(gb_broker *b);

#endif
