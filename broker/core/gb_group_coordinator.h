/*
 * The group coordinator in the broker: the state machine (gb_group.h) on
 * the loop, with one libuv timer for its deadlines, its records appended to
 * the internal topic __consumer_offsets, and those records replayed at
 * startup, a slice per loop iteration, while requests for the groups of a
 * partition not yet loaded get COORDINATOR_LOAD_IN_PROGRESS.
 *
 * __consumer_offsets is created as Kafka creates it: when a client first
 * looks for a group coordinator (or commits), with
 * offsets.topic.num.partitions partitions, cleanup.policy=compact and
 * segment.bytes=104857600. If it exists with another partition count, that
 * count is used (Kafka requires the setting never to change).
 */
#ifndef GB_GROUP_COORDINATOR_H
#define GB_GROUP_COORDINATOR_H

#include "broker/core/gb_group.h"
#include "broker/core/gb_partition_events.h"
#include "broker/core/gb_topics.h"

typedef struct gb_group_coordinator gb_group_coordinator;

/* How a parked JoinGroup or SyncGroup is answered: the API layer's
 * functions, passed in at start-up (the coordinator never calls up). */
typedef void (*gb_join_done_fn)(void *ctx, void *waiter, const gb_join_result *r);
typedef void (*gb_sync_done_fn)(void *ctx, void *waiter, const gb_sync_result *r);

/* After gb_topics_open: the state machine, its timer, and the replay of
 * __consumer_offsets if it exists. JoinGroup and SyncGroup waiters are
 * answered through join_done and sync_done. */
int gb_group_coordinator_open(gb_broker *b, gb_join_done_fn join_done, gb_sync_done_fn sync_done, char *err,
                              size_t errlen);
/* Stopping: parked JoinGroup/SyncGroup requests are answered
 * NOT_COORDINATOR; the handles close. */
void gb_group_coordinator_stop(gb_broker *b);
/* After the loop: free everything. */
void gb_group_coordinator_close(gb_broker *b);

/* The state machine, for a handler; *now is the time to pass it. */
gb_groups *gb_group_coordinator_groups(gb_broker *b, int64_t *now);
/* After a call into the state machine: run the timer for its next deadline. */
void gb_group_coordinator_rearm(gb_broker *b);

/* __consumer_offsets, created first when create is set (NULL if it does
 * not exist or cannot be created). */
gb_topic *gb_group_coordinator_offsets_topic(gb_broker *b, bool create);

/* The partition and offset of the last record appended by the state
 * machine (for a commit that waits until it is durable). */
gb_partition *gb_group_coordinator_last_append(gb_broker *b, int64_t *offset);

/* A transaction marker of producer_id was appended to partition `partition`
 * of __consumer_offsets (core/gb_txn_markers): its pending transactional
 * offset commits there become committed offsets (commit) or vanish. */
void gb_group_coordinator_txn_marker(gb_broker *b, int32_t partition, int64_t producer_id, bool commit);

/* A partition listener (gb_partition_events.h): when a topic's partition
 * goes (DeleteTopics), every group's offsets for it are removed with
 * tombstones, so a topic created again under the name starts with none
 * (Kafka's onPartitionsDeleted). Internal topics are left alone. */
void gb_group_coordinator_on_partition(gb_broker *b, gb_partition *p, gb_partition_event ev);

#endif
