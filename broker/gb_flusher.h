/*
 * The flusher: a thread that makes partition logs durable (fdatasync) off
 * the loop thread, with group commit: every wait that arrives while a flush
 * runs is covered by the next one, which syncs each partition once, up to
 * its log end offset at that moment. acks=all produce requests wait here.
 */
#ifndef GB_FLUSHER_H
#define GB_FLUSHER_H

#include "broker/gb_topics.h"

int gb_flusher_start(gb_broker *b);
/* Finish the flush in progress, stop the thread. */
void gb_flusher_stop(gb_broker *b);

/* Call cb(arg, status) on the loop once p's log is durable up to offset
 * (status 0) or a sync failed (negative errno). */
void gb_flusher_wait(gb_broker *b, gb_partition *p, int64_t offset, void (*cb)(void *arg, int status), void *arg);

/* The partition is going away: forget it (its waits complete with -ENOENT). */
void gb_flusher_partition_gone(gb_broker *b, gb_partition *p);

#endif
