/*
 * The records of Kafka's __transaction_state topic
 * (../shared/kafka-reference/records/TransactionLog*.json): a key and a
 * value, each prefixed by an int16 version.
 *
 *   TransactionLogKey   v0: transactionalId
 *   TransactionLogValue v0: producerId, producerEpoch, transactionTimeoutMs,
 *                       transactionStatus, transactionPartitions (nullable:
 *                       null in Empty), lastUpdateTimestampMs, startTimestampMs
 *                       v1 (flexible): the same, compact, plus tagged fields
 *                       previousProducerId (0), nextProducerId (1),
 *                       clientTransactionVersion (2)
 *
 * Written as Kafka writes them: key v0; value v0 when the finalized
 * transaction.version is 0, v1 from 1 (Kafka 4's default is 2), with the
 * tagged fields that differ from their defaults. Read: both value versions
 * (and tag 3, NextProducerEpoch, skipped). A null value is a tombstone (an
 * expired transactional id).
 */
#ifndef GB_TXN_RECORDS_H
#define GB_TXN_RECORDS_H

#include <stdint.h>

#include "protocol/gp_arena.h"
#include "protocol/gp_codec.h"

/* TransactionStatus, Kafka's TransactionState ids. */
typedef enum gb_txn_status {
    GB_TXN_EMPTY = 0,
    GB_TXN_ONGOING = 1,
    GB_TXN_PREPARE_COMMIT = 2,
    GB_TXN_PREPARE_ABORT = 3,
    GB_TXN_COMPLETE_COMMIT = 4,
    GB_TXN_COMPLETE_ABORT = 5,
    GB_TXN_DEAD = 6,
    GB_TXN_PREPARE_EPOCH_FENCE = 7,
} gb_txn_status;

#define GB_TXN_STATUS_MAX GB_TXN_PREPARE_EPOCH_FENCE

/* Kafka's names, as DescribeTransactions and ListTransactions answer them. */
const char *gb_txn_status_name(int status);

/* One topic of the transaction: its partitions. */
typedef struct gb_txn_topic_parts {
    gp_str topic;
    int32_t npartitions;
    int32_t *partitions;
} gb_txn_topic_parts;

typedef struct gb_txn_value {
    int16_t version; /* written: 0 or 1 */
    int64_t producer_id;
    int64_t previous_producer_id; /* v1 tag 0; -1 */
    int64_t next_producer_id;     /* v1 tag 1; -1 */
    int16_t producer_epoch;
    int32_t timeout_ms;
    int8_t status;
    int32_t ntopics; /* -1: null (Empty) */
    gb_txn_topic_parts *topics;
    int64_t last_update_ms;
    int64_t start_ms;
    int16_t client_txn_version; /* v1 tag 2; 0 */
} gb_txn_value;

gp_bytes gb_txn_key_encode(gp_arena *a, gp_str transactional_id);
gp_bytes gb_txn_value_encode(gp_arena *a, const gb_txn_value *v);

/* Views into the bytes (topics in the arena). 0, or a negative GP_ERR_*:
 * malformed, an unknown version (GP_ERR_VERSION), GP_ERR_NULL for a null
 * value (a tombstone). */
int gb_txn_key_decode(gp_bytes key, gp_str *transactional_id);
int gb_txn_value_decode(gp_arena *a, gp_bytes value, gb_txn_value *out);

#endif
