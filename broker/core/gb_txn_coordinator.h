/*
 * The transaction coordinator (docs/ARCHITECTURE.md §5): transactional id
 * -> producer id, epoch, state and partitions, kept as records of Kafka's
 * internal topic __transaction_state and replayed at start-up.
 *
 * This header is what the rest of the broker needs from it; the state
 * machine and the handlers' entry points are declared further down as they
 * land.
 */
#ifndef GB_TXN_COORDINATOR_H
#define GB_TXN_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_broker.h"
#include "protocol/gp_codec.h"

#define GB_TXN_TOPIC "__transaction_state"

typedef struct gb_txns gb_txns;
typedef struct gb_topic gb_topic;

/* After gb_topics_open and the group coordinator: replay
 * __transaction_state if it exists (synchronously: it holds a few records
 * per transactional id), finish the transactions a stop caught between
 * Prepare* and Complete*, start the timers (timed-out transactions,
 * expired ids). Returns 0 or -1 with err. */
int gb_txn_coordinator_open(gb_broker *b, char *err, size_t errlen);
/* Stopping: the timers close; writes in flight finish or are dropped. */
void gb_txn_coordinator_stop(gb_broker *b);
/* After the loop: free everything. */
void gb_txn_coordinator_close(gb_broker *b);

/* __transaction_state, created first when create is set, as Kafka creates
 * it (transaction.state.log.num.partitions, compacted,
 * transaction.state.log.segment.bytes). NULL if it cannot be. */
gb_topic *gb_txn_coordinator_topic(gb_broker *b, bool create);

/* The state machine (core/gb_txn_state.h), for the handlers. */
gb_txns *gb_txn_coordinator_txns(gb_broker *b);

/*
 * May the producer (producer_id, producer_epoch) of transactional_id write
 * transactional data to topic-partition now? 0 when the partition was added
 * to its ongoing transaction (AddPartitionsToTxn, or AddOffsetsToTxn for a
 * group's __consumer_offsets partition); otherwise the error Kafka answers
 * a transactional Produce or TxnOffsetCommit with (KIP-890 part 1
 * verification): INVALID_PRODUCER_EPOCH for an older epoch,
 * PRODUCER_FENCED when the id is held by a newer producer id or epoch...,
 * INVALID_TXN_STATE when the partition is not in the transaction,
 * COORDINATOR_LOAD_IN_PROGRESS while the state is being replayed.
 */
int16_t gb_txn_coordinator_verify(gb_broker *b, gp_str transactional_id, int64_t producer_id, int16_t producer_epoch,
                                  const char *topic, size_t topic_len, int32_t partition);

#endif
