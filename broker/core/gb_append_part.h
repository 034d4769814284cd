/*
 * The append path's state of one partition (gb_partition.append), apart
 * from core/gb_append.h so that core/gb_topics.h can hold it without the
 * two headers including each other.
 *
 * A failed append is logged once per partition per
 * GB_APPEND_FAIL_LOG_INTERVAL_MS with the count of those not logged: a
 * full disk fails every produce of every client, and one line each would
 * bury the rest of the log (and fill it, where the log shares the disk).
 */
#ifndef GB_APPEND_PART_H
#define GB_APPEND_PART_H

#include <stdint.h>

#define GB_APPEND_FAIL_LOG_INTERVAL_MS 10000

typedef struct gb_append_part {
    int64_t fail_logged_ms; /* wall clock of the last line about a failure; 0 none */
    int fail_errno;         /* the negative errno that line named */
    int64_t fails_unlogged; /* failures since that line, not logged */
    int64_t fails;          /* failures since the last successful append */
} gb_append_part;

#endif
