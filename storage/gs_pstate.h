/*
 * Producer state: one table per partition, keyed by producer id, that lets
 * the broker write each batch of an idempotent producer exactly once and in
 * order (Kafka's ProducerStateManager).
 *
 * An entry holds the producer's epoch and the metadata of its last five
 * appended batches (Kafka's NUM_BATCHES_TO_RETAIN: a producer has at most
 * five requests in flight per partition, so a retry is always one of them).
 * gs_pstate_check() runs before anything is written and says whether a
 * batch is new, a duplicate (answered with the original offsets), or
 * refused; gs_pstate_update() records a batch after it was appended.
 *
 * Durability, in Kafka's files and format:
 *
 *   <partition dir>/<offset, 20 digits>.snapshot   the table as of that offset
 *
 *   int16  version              1
 *   uint32 crc                  CRC-32C of everything after this field
 *   int32  count                entries, then per entry (46 bytes):
 *     int64 producer_id, int16 epoch, int32 last_sequence, int64 last_offset,
 *     int32 offset_delta, int64 timestamp, int32 coordinator_epoch,
 *     int64 current_txn_first_offset
 *
 * A snapshot is written when the log rolls (at the new segment's base
 * offset) and at a clean stop (at the log end offset). Kafka writes one
 * entry per producer, for its last batch; Gregor writes one entry per cached
 * batch, oldest first, so that duplicates of any of the five are still
 * recognised after a restart. Kafka reads such a file as it reads its own:
 * the last entry of a producer id wins, and that is the newest batch.
 *
 * On open, snapshots above the log end offset (the log was cut by recovery)
 * or below the log start offset are deleted, the newest valid one is
 * loaded (a corrupt one is deleted and the next older one tried), and the
 * batches after it are replayed from the log's batch headers, without
 * checks, as Kafka's recovery does; the ABORT markers replayed go back into
 * the txnindex files (their entries from the replay's start on are dropped
 * first). So the table survives kill -9: whatever
 * the log holds after recovery, the table describes.
 *
 * Called from the loop thread only. Storage does not log: what loading
 * found is returned for the broker to log.
 */
#ifndef GS_PSTATE_H
#define GS_PSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/gp_batch.h"
#include "storage/gs_log.h"

#define GS_PSTATE_BATCHES 5 /* Kafka's NUM_BATCHES_TO_RETAIN */

/* One appended batch, as Kafka's BatchMetadata keeps it: the first sequence
 * and first offset follow from the last ones and the delta. */
typedef struct gs_pstate_batch {
    int32_t last_seq;
    int32_t offset_delta; /* last offset - first offset (= last seq - first seq, mod 2^31) */
    int64_t last_offset;
    int64_t timestamp; /* the batch's max timestamp */
} gs_pstate_batch;

/* A producer's entry. */
typedef struct gs_producer {
    int64_t producer_id;
    int16_t epoch;             /* -1 (RecordBatch.NO_PRODUCER_EPOCH) when unknown */
    int32_t coordinator_epoch; /* of the last transaction marker; -1 none */
    int64_t last_timestamp;    /* Kafka's lastTimestamp: the last batch's max timestamp */
    int64_t last_append_ms;    /* wall clock of the last append, or of loading (expiration) */
    int64_t txn_first_offset;  /* first offset of the ongoing transaction; -1 none */
    int nbatches;
    gs_pstate_batch batches[GS_PSTATE_BATCHES]; /* oldest first */
} gs_producer;

/* Sequence arithmetic with Kafka's wrap-around: after INT32_MAX comes 0. */
int32_t gs_pstate_seq_add(int32_t seq, int32_t n);
int32_t gs_pstate_seq_sub(int32_t seq, int32_t n);

static inline int32_t gs_producer_last_seq(const gs_producer *p)
{
    return p->nbatches ? p->batches[p->nbatches - 1].last_seq : -1;
}
static inline int64_t gs_producer_last_offset(const gs_producer *p)
{
    return p->nbatches ? p->batches[p->nbatches - 1].last_offset : -1;
}

typedef struct gs_pstate gs_pstate;

/* What gs_pstate_open found and did, for the broker to log. */
typedef struct gs_pstate_load {
    int64_t snapshot_offset;  /* the snapshot loaded, or -1 */
    int snapshots_corrupt;    /* unreadable snapshots deleted */
    int snapshots_removed;    /* above the log end, below the log start, or stray */
    int64_t replay_from;      /* first offset replayed, or -1 (nothing to replay) */
    int64_t batches_replayed; /* batches of producers read from the log */
    size_t producers;         /* entries after loading */
    bool snapshot_written;    /* a snapshot at the log end offset after replaying */
} gs_pstate_load;

/* Build the table of the partition whose log is `log` (already opened and
 * recovered): load the newest usable snapshot, replay the log after it,
 * and register a roll hook on the log that writes a snapshot at each new
 * segment. Every entry loaded counts as active at now_ms: Kafka drops
 * entries whose last batch timestamp is older than producer.id.expiration.ms
 * when it loads a snapshot, which loses the state of a producer that
 * writes old CreateTime timestamps at every restart; Gregor keeps it for
 * one more expiration period instead (more state, never less). After a clean stop with no snapshot at all
 * (a data directory from before producer state existed), nothing is
 * replayed, as Kafka does. Returns 0 or a negative errno with a message in
 * err. Free with gs_pstate_free after the log is closed or deleted. */
int gs_pstate_open(gs_log *log, bool clean, int64_t now_ms, gs_pstate **out, gs_pstate_load *info, char *err,
                   size_t errlen);
void gs_pstate_free(gs_pstate *ps);

/* A batch of one producer, as the check and the update see it. */
typedef struct gs_pstate_append {
    int64_t producer_id;
    int16_t epoch;
    int32_t first_seq;
    int32_t last_seq; /* gs_pstate_seq_add(first_seq, last offset delta) */
    bool transactional;
    /* A producer unknown here must start at sequence 0 (Kafka 4's rule
     * for a transaction version 2 batch, whose epoch is new with every
     * transaction); otherwise an unknown producer may start anywhere. */
    bool new_starts_at_zero;
    /* For gs_pstate_update: where the batch was written. */
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp; /* the batch's max timestamp (the append time for LogAppendTime) */
} gs_pstate_append;

/* gs_pstate_check's answers. */
enum {
    GS_PSTATE_APPEND = 0,         /* write it, then gs_pstate_update */
    GS_PSTATE_DUPLICATE = 1,      /* already written: answer with the original offsets */
    GS_PSTATE_ERR_EPOCH = -70,    /* an older epoch: INVALID_PRODUCER_EPOCH */
    GS_PSTATE_ERR_SEQUENCE = -71, /* not the next sequence: OUT_OF_ORDER_SEQUENCE_NUMBER */
    GS_PSTATE_ERR_TXN = -72,      /* a plain batch while the producer's transaction is open: INVALID_TXN_STATE */
    GS_PSTATE_ERR_COORDINATOR = -74, /* a marker of an older coordinator epoch: TRANSACTION_COORDINATOR_FENCED */
};

/* What the check knew, for the response and its message. */
typedef struct gs_pstate_verdict {
    int64_t first_offset; /* a duplicate's original offsets and max timestamp */
    int64_t last_offset;
    int64_t timestamp;
    int16_t epoch;    /* the producer's current epoch, -1 if unknown */
    int32_t last_seq; /* its current last sequence, -1 if none */
} gs_pstate_verdict;

/*
 * Kafka's rules (UnifiedLog.analyzeAndValidateProducerState and
 * ProducerAppendInfo), in their order:
 *  1. same epoch and the same first and last sequence as one of the cached
 *     batches: a duplicate;
 *  2. an epoch older than the producer's: GS_PSTATE_ERR_EPOCH;
 *  3. a newer epoch must start at sequence 0; the same epoch must continue
 *     at last sequence + 1 (0 after INT32_MAX): else GS_PSTATE_ERR_SEQUENCE;
 *  4. an unknown producer (no entry, or all its batches removed by
 *     retention or expiry) is accepted at any sequence (Kafka 2.5+, KIP-360:
 *     the broker no longer answers UNKNOWN_PRODUCER_ID), unless the batch
 *     asks for 0 (new_starts_at_zero);
 *  5. a non-transactional batch while the producer's transaction is open:
 *     GS_PSTATE_ERR_TXN.
 * O(1): one hash lookup and at most five comparisons.
 */
int gs_pstate_check(const gs_pstate *ps, const gs_pstate_append *a, gs_pstate_verdict *v);

/* Record a batch that was appended (or replayed): a new epoch drops the
 * cached batches, the oldest of five is dropped. */
void gs_pstate_update(gs_pstate *ps, const gs_pstate_append *a, int64_t now_ms);

/* Record a transaction marker (COMMIT or ABORT) of the producer: the
 * transaction is over (Kafka's appendEndTxnMarker, without its checks),
 * without a txnindex entry: gs_pstate_end_txn is the whole of it. */
void gs_pstate_apply_marker(gs_pstate *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                            int64_t timestamp, int64_t now_ms);

/*
 * Transactions (Kafka's ProducerStateManager ongoingTxns and
 * ProducerAppendInfo.appendEndTxnMarker).
 *
 * A producer's transaction opens with its first transactional batch
 * (gs_pstate_update: txn_first_offset) and ends with a COMMIT or ABORT
 * marker. The open ones are kept ordered by first offset, so the last
 * stable offset is one look.
 */

/* May this marker (producer_id, producer_epoch, coordinator_epoch) be
 * written? GS_PSTATE_APPEND; GS_PSTATE_ERR_EPOCH for an epoch older than
 * the producer's (INVALID_PRODUCER_EPOCH); GS_PSTATE_ERR_COORDINATOR when
 * the producer's last marker came from a newer coordinator epoch. A
 * producer without an open transaction here, or unknown, still gets its
 * marker written, as in Kafka. v says the producer's epoch. O(1). */
int gs_pstate_check_marker(const gs_pstate *ps, const gp_txn_marker *m, gs_pstate_verdict *v);

/* The marker m (type, producer, epochs, timestamp) was appended at offset
 * (or is replayed by gs_pstate_open): the producer's transaction ends. For
 * an ABORT of an open transaction, the aborted transaction {producer,
 * first offset, marker offset, LSO after it} is added to the txnindex of
 * the segment holding the marker (gs_log_add_aborted_txn) and copied to
 * *out if out is not NULL. Returns 1 when an aborted transaction was
 * recorded, 0 when none was (a COMMIT, or nothing open), or the negative
 * errno of the txnindex write (the state and the in-memory entry are
 * updated anyway). */
int gs_pstate_end_txn(gs_pstate *ps, const gp_txn_marker *m, int64_t offset, int64_t now_ms, gs_aborted_txn *out);

/* The last stable offset: the first offset of the earliest open
 * transaction (not below the log start offset), else log_end_offset. O(1). */
int64_t gs_pstate_lso(const gs_pstate *ps, int64_t log_end_offset);

/* How many transactions are open. */
size_t gs_pstate_open_txns(const gs_pstate *ps);

/* Every producer that has batches: its id and its last batch's last
 * offset, at most max of them (the log cleaner keeps those batches).
 * Returns how many there are. */
size_t gs_pstate_last_offsets(const gs_pstate *ps, int64_t *ids, int64_t *last_offsets, size_t max);

/* Write <offset>.snapshot (normally the log end offset). Nothing is
 * written if the table did not change since the newest snapshot and that
 * one is at offset, nor with sync if there never was a snapshot nor a
 * producer (a start after a clean stop without snapshots replays nothing:
 * see gs_pstate_open). With sync, the file
 * and its directory are fsynced (a clean stop); at a roll they are not: a
 * snapshot lost or torn by a power cut is found by its CRC and an older one
 * is used, with more of the log replayed. Returns 0 or a negative errno. */
int gs_pstate_snapshot(gs_pstate *ps, int64_t offset, bool sync);

/* Remove producers idle for expiration_ms or longer without an open
 * transaction (Kafka's removeExpiredProducers). Returns how many. */
size_t gs_pstate_expire(gs_pstate *ps, int64_t now_ms, int64_t expiration_ms);

/* The log start offset moved up (retention, DeleteRecords): drop cached
 * batches below it, producers left without any (and no open transaction),
 * and snapshot files below it. Returns how many producers went. */
size_t gs_pstate_truncate_head(gs_pstate *ps, int64_t log_start_offset);

size_t gs_pstate_count(const gs_pstate *ps);
const gs_producer *gs_pstate_find(const gs_pstate *ps, int64_t producer_id);

/* Every entry, in no particular order: start with *cursor = 0; NULL at
 * the end. The table must not change meanwhile. */
const gs_producer *gs_pstate_next(const gs_pstate *ps, size_t *cursor);

/* Snapshot files, for tests and tools. */
int gs_pstate_write_snapshot_file(const char *path, gs_producer *const *producers, size_t n, bool sync);
/* Reads a snapshot into a new array of entries (merging a producer's
 * entries as gs_pstate writes them). GS_PSTATE_ERR_CORRUPT when the file
 * is not a valid version-1 snapshot. Free *out with free(). */
#define GS_PSTATE_ERR_CORRUPT (-73)
int gs_pstate_read_snapshot_file(const char *path, gs_producer **out, size_t *n);

#endif
