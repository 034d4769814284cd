/*
 * The page-cache budget (gregor.log.cache.bytes) and cold reads.
 *
 * Appended log data enters a queue in steps of at least 1 MiB per
 * partition, oldest first. While the queue holds more than the budget, a
 * worker thread writes its oldest steps back to disk and drops them from
 * the page cache (gs_file_evict). The broker's cache footprint then stays
 * bounded, and new appends reuse the pages just freed instead of claiming
 * memory the system had not used yet (which on a VM with free page
 * reporting costs a host fault per page: several times the copy itself).
 *
 * Each partition remembers from where on its bytes were appended by this
 * process and not dropped ("hot"). A fetch whose slices start before that
 * mark checks the page cache (gs_file_resident); what is not there is read
 * in by a worker thread before the response is sent, so that sendfile on
 * the loop thread never waits for the disk (cold data after a restart,
 * dropped data, data the kernel evicted).
 *
 * Loop thread only.
 */
#ifndef GB_CACHE_H
#define GB_CACHE_H

#include <stdbool.h>

#include "broker/core/gb_broker.h"
#include "broker/core/gb_partition_events.h"
#include "storage/gs_log.h"

/* The page cache's state of one partition (gb_partition.cache): appended
 * bytes from (base segment, pos) on are not queued for the budget yet;
 * bytes from (hot_base segment, hot_pos) on were appended by this process
 * and not dropped from the cache. */
typedef struct gb_cache_part {
    int64_t base, pos;
    int64_t hot_base, hot_pos;
} gb_cache_part;

void gb_cache_start(gb_broker *b);
/* No new eviction after this; a running one finishes while the loop runs dry. */
void gb_cache_stop(gb_broker *b);
/* After the loop: free what is left. */
void gb_cache_free(gb_broker *b);

/* The partition listener (registered by the lifecycle): a partition log
 * opened or created has everything before its end taken as possibly cold;
 * appended bytes are queued against the budget; a partition going away has
 * its queued steps forgotten. */
void gb_cache_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev);

/* Was every byte of the slice appended by this process and not dropped? */
bool gb_cache_known_hot(const gb_partition *p, const gs_log_slice *s);

/* Of the n slices, those with maybe_cold[i] set and not in the page cache
 * are read in by a worker; done(arg) is called on the loop once they are.
 * Returns the bytes being read, or 0 when everything is in the cache
 * already (done is then not called). The slices must stay referenced
 * until done. */
int64_t gb_cache_warm(gb_broker *b, const gs_log_slice *s, const bool *maybe_cold, size_t n, void (*done)(void *arg),
                      void *arg);

#endif
