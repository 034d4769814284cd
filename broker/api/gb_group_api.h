/*
 * The group APIs' answers to JoinGroup and SyncGroup waiters, which the
 * lifecycle hands to the group coordinator when it opens it.
 */
#ifndef GB_GROUP_API_H
#define GB_GROUP_API_H

#include "broker/core/gb_group.h"

/* waiter is the gb_request of the JoinGroup (SyncGroup); ctx is unused. */
void gb_group_api_join_done(void *ctx, void *waiter, const gb_join_result *r);
void gb_group_api_sync_done(void *ctx, void *waiter, const gb_sync_result *r);

#endif
