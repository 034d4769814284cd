/*
 * The one way records reach a partition log, for Produce, the
 * coordinators and transaction markers:
 *
 *   producer-state check -> prepare -> append -> producer-state update
 *     -> GB_PARTITION_APPENDED -> flush policy
 *
 * A transaction marker (a->marker: data is its control batch) is checked
 * as Kafka checks one (gs_pstate_check_marker: an older producer epoch is
 * INVALID_PRODUCER_EPOCH, a written marker of a newer coordinator epoch
 * TRANSACTION_COORDINATOR_FENCED) and ends the producer's transaction
 * after the append (gs_pstate_end_txn: the LSO moves; an ABORT of an open
 * transaction goes to the segment's .txnindex).
 *
 * The caller has validated the batch (a client's batch against the topic's
 * limits, gp_batches_validate; a coordinator builds its own) and says what
 * the producer state and the flush policy are. A duplicate of one of the
 * producer's last five batches is not written: the call answers with the
 * first write's offsets, and the flush policy still applies to them (an
 * acks=all duplicate is answered once the first write is on disk).
 */
#ifndef GB_APPEND_H
#define GB_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_topics.h"
#include "storage/gs_pstate.h"

typedef enum gb_flush_policy {
    GB_FLUSH_NONE,     /* the caller decides (a coordinator's commit) */
    GB_FLUSH_MESSAGES, /* flush.messages: maybe start a sync */
    GB_FLUSH_WAIT,     /* acks=all: on_flushed(arg, status) once on disk */
} gb_flush_policy;

typedef struct gb_append {
    uint8_t *data; /* one or more record batches, validated */
    size_t len;
    int64_t now;          /* wall clock (ms): LogAppendTime, producer state */
    bool log_append_time; /* the topic's message.timestamp.type */
    /* producer_id -1: no producer state. Otherwise checked before anything
     * is written and updated after (first_offset, last_offset, timestamp
     * are filled in here). */
    gs_pstate_append pa;
    int64_t create_time; /* with pa, CreateTime topics: the batch's max timestamp */
    /* A transaction marker (pa.producer_id must be -1): its producer,
     * epochs, type and timestamp. NULL: records. */
    const gp_txn_marker *marker;
    /* Called after the producer-state check, before the write: may replace
     * data/len (recompression, a corrected max timestamp). Returns 0 or <0
     * (the append fails with GB_APPEND_PREPARE). NULL: none. */
    int (*prepare)(void *arg, uint8_t **data, size_t *len);
    void *prepare_arg;
    gb_flush_policy flush;
    void (*on_flushed)(void *arg, int status); /* GB_FLUSH_WAIT */
    void *on_flushed_arg;
} gb_append;

enum {
    GB_APPEND_OK = 0,        /* written: base, last */
    GB_APPEND_DUPLICATE = 1, /* not written: base, last, verdict.timestamp are the first write's */
    GB_APPEND_PRODUCER = -1, /* refused by the producer state: verdict, pstate_error */
    GB_APPEND_PREPARE = -2,  /* prepare failed */
    GB_APPEND_STORAGE = -3,  /* the log write failed: errno_ (logged, at most one line per
                                partition per GB_APPEND_FAIL_LOG_INTERVAL_MS: gb_append_part.h);
                                for a marker, also its .txnindex entry (the marker is in the log then) */
};

typedef struct gb_append_result {
    int64_t base, last;
    int pstate_error;          /* GS_PSTATE_ERR_* with GB_APPEND_PRODUCER */
    gs_pstate_verdict verdict; /* with a producer id or a marker: what the state said */
    bool aborted_txn;          /* a marker ended an open transaction with ABORT (txnindex entry) */
    int errno_;                /* with GB_APPEND_STORAGE: the negative errno */
} gb_append_result;

/* Append to p as described; returns GB_APPEND_*. */
int gb_partition_append(gb_broker *b, gb_partition *p, gb_append *a, gb_append_result *r);

#endif
