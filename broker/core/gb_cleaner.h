/*
 * The log cleaner's scheduling (Kafka's LogCleaner and LogCleanerManager;
 * the cleaning itself is storage/gs_cleaner).
 *
 * Every log.cleaner.backoff.ms, and at once after a cleaning that did
 * something, the loop looks at every partition of a topic whose
 * cleanup.policy has compact: its first dirty offset (where the last
 * cleaning ended, kept in <log.dirs>/cleaner-offset-checkpoint), its first
 * uncleanable offset (the active segment, the last stable offset,
 * min.compaction.lag.ms) and the dirty ratio (dirty bytes / all bytes of
 * the cleanable segments). The partition past max.compaction.lag.ms, else
 * the dirtiest at or above its min.cleanable.dirty.ratio, is cleaned by
 * one job on libuv's thread pool (log.cleaner.threads: one at a time);
 * the loop swaps the result in, moves the partition's first dirty offset
 * and rewrites the checkpoint on the thread pool.
 */
#ifndef GB_CLEANER_H
#define GB_CLEANER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/core/gb_partition_events.h"

typedef struct gb_cleaner gb_cleaner;

/* Per partition. */
typedef struct gb_cleaner_part {
    int64_t first_dirty; /* offsets below were cleaned (0: from the log start) */
    bool cleaning;       /* a job holds a plan of it */
} gb_cleaner_part;

/* Before the topics open: read cleaner-offset-checkpoint. */
void gb_cleaner_open(gb_broker *b);

/* Partition listener: a partition's first dirty offset from the checkpoint. */
void gb_cleaner_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev);

/* After the topics open: the timer, when log.cleaner.enable. */
void gb_cleaner_start(gb_broker *b);

/* Stop looking (a job running finishes and is swapped in while the loop
 * drains). */
void gb_cleaner_stop(gb_broker *b);

/* After the loop: free. */
void gb_cleaner_close(gb_broker *b);

#endif
