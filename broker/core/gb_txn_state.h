/*
 * The transaction coordinator's state machine (Kafka's TransactionCoordinator
 * and TransactionMetadata), without a loop, a log or a clock of its own: the
 * broker glue (core/gb_txn_coordinator.c) gives it hooks to write a record
 * to __transaction_state, to write transaction markers, to get a new
 * producer id and to read the time, and reports back when each is done. So
 * unit tests drive it with a fake clock and fake hooks.
 *
 * One entry per transactional id: producer id and epoch (and the previous
 * epoch, for a retried InitProducerId), the transaction timeout, the state,
 * the partitions of the ongoing transaction and its start time. States as
 * Kafka's:
 *
 *   Empty --AddPartitions--> Ongoing --EndTxn--> PrepareCommit/PrepareAbort
 *     --markers written--> CompleteCommit/CompleteAbort --AddPartitions--> Ongoing
 *   Ongoing --InitProducerId or timeout--> (PrepareEpochFence: epoch bumped,
 *     in memory only) --> PrepareAbort --> CompleteAbort
 *   Empty/Complete* idle for transactional.id.expiration.ms --> Dead (tombstone)
 *
 * Every transition is first written (the record is the state after it) and
 * applied once the record is durable; meanwhile the entry is "pending" and
 * other requests for it get CONCURRENT_TRANSACTIONS, as in Kafka. A client
 * is answered after the write (EndTxn after Prepare*, before the markers).
 *
 * Transaction version 2 (KIP-890 part 2: EndTxn v5, Produce v12,
 * TxnOffsetCommit v5) changes three things, as Kafka 4 does:
 *   - every EndTxn bumps the epoch (the markers carry the new one, and the
 *     client continues with it); at epoch 32766 the producer moves to a
 *     new producer id once the markers are written;
 *   - partitions join the transaction implicitly, with the producer's first
 *     write to them (an add that arrives while the previous transaction is
 *     still completing waits for it instead of failing);
 *   - an abort is accepted with no transaction open (it bumps the epoch),
 *     a retried EndTxn is recognised by its epoch being the one before.
 * Which rules apply is decided per request (its version) and per entry
 * (the version of the request that made its last transition), as Kafka's
 * clientTransactionVersion.
 */
#ifndef GB_TXN_STATE_H
#define GB_TXN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_txn_records.h"
#include "protocol/gp_codec.h"

typedef struct gb_txns gb_txns;
typedef struct gb_txn gb_txn;

/* A partition of a transaction. */
typedef struct gb_txn_tp {
    char *topic; /* owned (NUL-terminated) */
    size_t topic_len;
    int32_t partition;
} gb_txn_tp;

typedef struct gb_txn_hooks {
    void *ctx;
    int64_t (*now)(void *ctx);
    /* Append (key, value) to partition log_partition of __transaction_state
     * (value.len -1: a tombstone) and call gb_txns_written(t, x, error)
     * once it is durable, or failed (may be before returning). */
    void (*write)(void *ctx, gb_txn *x, int32_t log_partition, gp_bytes key, gp_bytes value);
    /* Write a COMMIT or ABORT marker (gb_txn_markers_commit) with the
     * entry's producer id and epoch to each of its partitions and call
     * gb_txns_markers_done(t, x) once all are durable; retrying failed
     * ones is the hook's business. */
    void (*markers)(void *ctx, gb_txn *x);
    /* A new producer id: gb_txns_pid(x, error, id), maybe later. */
    void (*new_pid)(void *ctx, gb_txn *x);
} gb_txn_hooks;

typedef struct gb_txn_limits {
    int32_t max_timeout_ms;     /* transaction.max.timeout.ms */
    int64_t id_expiration_ms;   /* transactional.id.expiration.ms */
    int32_t log_num_partitions; /* of __transaction_state */
    /* the finalized transaction.version: 1 and 2 write values v1 (flexible,
     * as Kafka 4), 0 writes v0 */
    int16_t transaction_version;
} gb_txn_limits;

/* A client's answer: a Kafka error code, and for InitProducerId the
 * producer id and epoch. */
typedef void (*gb_txn_cb)(void *arg, int16_t error, int64_t producer_id, int16_t epoch);

gb_txns *gb_txns_new(const gb_txn_limits *lim, const gb_txn_hooks *hooks);
/* Waiting clients are dropped without an answer (the loop is gone). */
void gb_txns_free(gb_txns *t);

/* The partition of __transaction_state that holds an id (Kafka's
 * partitionFor, as for groups). */
int32_t gb_txns_partition_for(const gb_txns *t, gp_str transactional_id);

/* InitProducerId with a transactional id (non-empty). producer_id/epoch:
 * -1/-1, or the client's current ones (v3+, KIP-360). */
void gb_txns_init_pid(gb_txns *t, gp_str id, int32_t timeout_ms, int64_t producer_id, int16_t epoch, gb_txn_cb done,
                      void *arg);
/* AddPartitionsToTxn (and AddOffsetsToTxn with the group's partition of
 * __consumer_offsets): tv 0. One error for all the partitions. tv 2: the
 * implicit add of transaction version 2 (a Produce v12+ or TxnOffsetCommit
 * v5+ writing there), which waits while the entry is pending or its last
 * transaction is still completing, rather than answering
 * CONCURRENT_TRANSACTIONS. */
void gb_txns_add_partitions(gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, const gb_txn_tp *tps, size_t n,
                            int16_t tv, gb_txn_cb done, void *arg);
/* EndTxn (tv 2 from v5): answered once Prepare* is durable; the markers
 * follow. The answer's producer id and epoch are those the client goes on
 * with (tv 2: the bumped epoch, or a new producer id and epoch 0). */
void gb_txns_end(gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, bool commit, int16_t tv, gb_txn_cb done,
                 void *arg);
/* Is the partition in the producer's ongoing transaction? 0, or
 * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS
 * (the transaction is completing), INVALID_TXN_STATE (not added). */
int16_t gb_txns_verify(const gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, gp_str topic, int32_t partition);

/* Abort transactions older than their timeout (with an epoch bump, as
 * Kafka: the producer is fenced). Returns how many were started. */
size_t gb_txns_abort_timed_out(gb_txns *t);
/* Remove ids idle in Empty/Complete* for transactional.id.expiration.ms
 * (a tombstone each). Returns how many were started. */
size_t gb_txns_expire(gb_txns *t);

/* Start-up: apply one record of __transaction_state (in log order). 0, or
 * a negative GP_ERR_* for a malformed record (skipped). */
int gb_txns_replay(gb_txns *t, gp_bytes key, gp_bytes value);
/* After the replay: transactions caught in Prepare* get their markers
 * written and are completed. Returns how many. */
size_t gb_txns_load_done(gb_txns *t);

/* The hooks' answers. */
void gb_txns_written(gb_txns *t, gb_txn *x, int16_t error);
void gb_txns_markers_done(gb_txns *t, gb_txn *x);
void gb_txns_pid(gb_txn *x, int16_t error, int64_t id); /* x knows its gb_txns */

/* Reading an entry (the markers hook, DescribeTransactions). */
typedef struct gb_txn_view {
    gp_str id;
    int64_t producer_id;
    int16_t epoch;
    int32_t timeout_ms;
    int status;       /* gb_txn_status */
    int64_t start_ms; /* -1 when no transaction */
    int64_t last_update_ms;
    const gb_txn_tp *parts;
    size_t nparts;
    bool pending;
} gb_txn_view;
void gb_txn_get(const gb_txn *x, gb_txn_view *v);
/* Must the record being written be durable before it applies? Not a
 * Complete*: lost by a power cut, the Prepare* before it is replayed and
 * the markers, already durable, are written once more (harmless). */
bool gb_txn_write_needs_sync(const gb_txn *x);
/* The markers the entry is writing: true for COMMIT. */
bool gb_txn_markers_commit(const gb_txn *x);
const gb_txn *gb_txns_find(const gb_txns *t, gp_str id);
/* Every entry, in no order: *cursor = 0 first; NULL at the end. */
const gb_txn *gb_txns_next(const gb_txns *t, size_t *cursor);
size_t gb_txns_count(const gb_txns *t);

#endif
