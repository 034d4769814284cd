/*
 * The flusher: threads that make partition logs durable (fdatasync) off
 * the loop thread, with group commit per partition: a partition has at most
 * one sync out, up to its log end offset when the sync started; every wait
 * that arrives meanwhile is covered by the next one. Partitions do not wait
 * for each other. acks=all produce requests and offset commits wait here.
 */
#ifndef GB_FLUSHER_H
#define GB_FLUSHER_H

#include <stdint.h>

#include "broker/core/gb_partition_events.h"

typedef struct gb_flush_part gb_flush_part;

/* The flusher's state of one partition (gb_partition.flush). */
typedef struct gb_flush_state {
    int64_t flushed_offset; /* every offset below is on disk (fdatasync) */
    int64_t last_flush_ms;  /* uv_now of the last completed sync (flush.ms) */
    gb_flush_part *part;    /* while a sync or acks=all waits are out on this partition */
} gb_flush_state;


int gb_flusher_start(gb_broker *b);
/* Finish the flush in progress, stop the thread. */
void gb_flusher_stop(gb_broker *b);

/* Call cb(arg, status) on the loop once p's log is durable up to offset
 * (status 0) or a sync failed (negative errno). */
void gb_flusher_wait(gb_broker *b, gb_partition *p, int64_t offset, void (*cb)(void *arg, int status), void *arg);

/* After an append that nobody waits on: start a sync if the partition
 * holds flush.messages unsynced messages (Kafka's count: log end offset
 * minus what is on disk) and none is out. */
void gb_flusher_maybe_flush(gb_broker *b, gb_partition *p, int64_t last);

/* log.flush.scheduler.interval.ms: start a sync of every partition whose
 * oldest unsynced append is flush.ms old. */
void gb_flusher_flush_old(gb_broker *b, int64_t now_ms);

/* The partition listener (registered by the lifecycle): a partition going
 * away is forgotten (its waits complete with -ENOENT). */
void gb_flusher_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev);

#endif
