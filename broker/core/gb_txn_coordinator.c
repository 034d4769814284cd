/*
 * The transaction coordinator (core/gb_txn_coordinator.h).
 */
#include "broker/core/gb_txn_coordinator.h"

#include "protocol/gp_errors.h"

int16_t gb_txn_coordinator_verify(gb_broker *b, gp_str transactional_id, int64_t producer_id, int16_t producer_epoch,
                                  const char *topic, size_t topic_len, int32_t partition)
{
    /* Not built yet: no transaction is ongoing. */
    (void)b;
    (void)transactional_id;
    (void)producer_id;
    (void)producer_epoch;
    (void)topic;
    (void)topic_len;
    (void)partition;
    return GP_E_INVALID_TXN_STATE;
}
