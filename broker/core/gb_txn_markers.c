/*
 * Transaction markers (core/gb_txn_markers.h).
 */
#include "broker/core/gb_txn_markers.h"

#include "protocol/gp_errors.h"

void gb_txn_write_marker(gb_broker *b, gb_partition *p, const gb_txn_marker_req *m, gb_txn_marker_done done,
                         void *arg)
{
    /* Not built yet. */
    (void)b;
    (void)p;
    (void)m;
    done(arg, GP_E_UNKNOWN_SERVER_ERROR);
}
