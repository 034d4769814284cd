/*
 * Transaction markers: the COMMIT or ABORT control batch that ends a
 * producer's transaction in one partition, written through the append
 * path (core/gb_append.h) by the transaction coordinator at EndTxn, and by
 * the WriteTxnMarkers handler.
 *
 * Writing a marker ends the producer's open transaction in the partition's
 * producer state, moves the last stable offset, and for an ABORT adds the
 * aborted transaction to the segment's .txnindex. A marker on a partition of
 * __consumer_offsets also makes the group coordinator apply (COMMIT) or
 * drop (ABORT) the producer's pending transactional offset commits.
 */
#ifndef GB_TXN_MARKERS_H
#define GB_TXN_MARKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/core/gb_topics.h"

typedef struct gb_txn_marker_req {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t coordinator_epoch;
    bool commit; /* COMMIT, else ABORT */
    /* 2: the transaction ended under transaction version 2, whose markers
     * carry an epoch newer than the producer's writes (refused otherwise,
     * INVALID_PRODUCER_EPOCH, as Kafka 4) */
    int16_t transaction_version;
} gb_txn_marker_req;

/* done(arg, 0) once the marker is appended and on disk (the coordinator
 * writes CompleteCommit/CompleteAbort only after every marker is durable),
 * done(arg, kafka_error) if it could not be written (KAFKA_STORAGE_ERROR,
 * or the producer-state's answer). done may run before this returns. */
typedef void (*gb_txn_marker_done)(void *arg, int16_t error);
void gb_txn_write_marker(gb_broker *b, gb_partition *p, const gb_txn_marker_req *m, gb_txn_marker_done done,
                         void *arg);

#endif
