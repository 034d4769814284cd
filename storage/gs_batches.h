/*
 * Reading a partition log's batches back, as Kafka's LogSegment does, for
 * the broker's readers that need records and not bytes for the wire:
 *
 *  - gs_log_batches: whole batches from an offset (the group coordinator's
 *    replay of __consumer_offsets);
 *  - gs_log_offset_for_timestamp / _for_max_timestamp: ListOffsets by time.
 *    The batch gs_log_batch_for_timestamp picks (the first whose max
 *    timestamp reaches the target) says only that some record in it does,
 *    so it is read with pread, decompressed into a scratch arena and walked.
 *    A record below the log start offset (DeleteRecords cut into the batch)
 *    does not count and the search goes on to later batches.
 *
 * The reads are synchronous pread calls: run them where blocking is fine.
 */
#ifndef GS_BATCHES_H
#define GS_BATCHES_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/gp_arena.h"
#include "storage/gs_log.h"

/* Read at most max_bytes of whole batches (or the first batch alone when
 * larger) from the batch holding `from` into *buf (grown as needed; the
 * caller frees it), and call fn(arg, batch, size) for each whole batch in
 * order. *next is the offset after the last batch given (from if none was).
 * Returns 1 when bytes were read, 0 when there were none (the end), or a
 * negative error from gs_log_read. A short read gives the batches read. */
int gs_log_batches(gs_log *log, int64_t from, int64_t max_bytes, uint8_t **buf, size_t *cap,
                   void (*fn)(void *arg, const uint8_t *batch, size_t size), void *arg, int64_t *next);

/* The first record (offset order, from the log start offset) whose
 * timestamp is >= target: 1 with *offset and *timestamp, 0 if none, or a
 * negative error. scratch is reset between batches. */
int gs_log_offset_for_timestamp(gs_log *log, int64_t target, gp_arena *scratch, int64_t *offset, int64_t *timestamp);

/* The first record with the log's largest timestamp. The log's bookkeeping
 * knows the timestamp and the last offset of a batch holding it; the record
 * is found inside that batch. Should the batch not be readable there (its
 * start cut off by DeleteRecords), the bookkeeping's answer is returned as
 * it is, as Kafka's older brokers did. 1, 0 (empty log) or an error. */
int gs_log_offset_for_max_timestamp(gs_log *log, gp_arena *scratch, int64_t *offset, int64_t *timestamp);

#endif
