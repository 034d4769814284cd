/*
 * The group coordinator's state machine: Kafka's classic group protocol
 * (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the committed offsets of
 * every group, without sockets, timers or files, so that unit tests drive it
 * with a fake clock.
 *
 * Time comes from the caller: every call takes `now`, a monotonic clock in
 * milliseconds. gb_groups_next_deadline() says when something may expire
 * (a session, a rebalance timeout, the initial rebalance delay, the offsets
 * retention check); the caller runs gb_groups_tick() then. Wall-clock times
 * (commit timestamps, the state timestamp Kafka stores) are now + the offset
 * set by gb_groups_set_wall_offset().
 *
 * Group states, as Kafka names them:
 *
 *   Empty ──join──> PreparingRebalance ──all joined or rebalance timeout──>
 *   CompletingRebalance ──leader's SyncGroup──> Stable
 *   (a join, a leave or an expired session sends CompletingRebalance and
 *   Stable back to PreparingRebalance; a rebalance that ends with no
 *   members leads to Empty; a deleted or expired group is Dead and gone)
 *
 * A JoinGroup or SyncGroup that must wait is parked with an opaque `waiter`
 * (the broker's request) and answered later through the hooks, possibly
 * before the call that parks it returns. Every waiter is answered exactly
 * once; gb_groups_shutdown() answers those still parked.
 *
 * Persistence goes through the append hook, as __consumer_offsets records
 * (gb_group_records.h): group metadata when a generation's assignment is
 * stored and when a group becomes empty, offsets on commit, tombstones on
 * deletion and expiry. At startup the caller replays each partition's
 * records (gb_groups_replay) between gb_groups_set_loading(true) and
 * gb_groups_load_done(); groups of a partition still loading get
 * COORDINATOR_LOAD_IN_PROGRESS.
 */
#ifndef GB_GROUP_H
#define GB_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/gp_arena.h"
#include "protocol/gp_codec.h"
#include "protocol/gp_messages.h"

typedef struct gb_groups gb_groups;
typedef struct gb_group gb_group;

typedef enum gb_group_state {
    GB_GROUP_EMPTY,
    GB_GROUP_PREPARING_REBALANCE,
    GB_GROUP_COMPLETING_REBALANCE,
    GB_GROUP_STABLE,
    GB_GROUP_DEAD,
} gb_group_state;

/* Kafka's names: "Empty", "PreparingRebalance", ... */
const char *gb_group_state_name(gb_group_state s);

#define GB_NO_DEADLINE INT64_MAX

typedef struct gb_groups_config {
    int32_t num_partitions; /* of __consumer_offsets */
    int32_t min_session_timeout_ms;
    int32_t max_session_timeout_ms;
    int32_t max_size; /* group.max.size */
    int32_t initial_rebalance_delay_ms;
    int64_t offsets_retention_ms;
    int64_t retention_check_interval_ms; /* Kafka's offsets.retention.check.interval.ms */
    int32_t offset_metadata_max_bytes;
    uint64_t seed; /* for member ids */
} gb_groups_config;

/* A member as the leader's JoinGroup response lists it. */
typedef struct gb_join_member {
    const char *member_id;
    const char *group_instance_id; /* NULL: dynamic */
    gp_bytes metadata;             /* for the selected protocol */
} gb_join_member;

/* A JoinGroup answer. Strings point into the group and are valid only
 * during the callback. */
typedef struct gb_join_result {
    int16_t error;
    const char *member_id;
    int32_t generation_id;         /* -1 with an error */
    const char *protocol_type;     /* NULL: none */
    const char *protocol_name;     /* NULL: none */
    const char *leader;            /* "" with an error */
    bool skip_assignment;          /* v9: a static leader rejoining a stable group */
    const gb_join_member *members; /* the leader's answer only */
    int32_t nmembers;
} gb_join_result;

typedef struct gb_sync_result {
    int16_t error;
    const char *protocol_type; /* NULL with an error */
    const char *protocol_name;
    gp_bytes assignment;
} gb_sync_result;

/* One record for __consumer_offsets; value.len -1 is a tombstone. */
typedef struct gb_kv {
    gp_bytes key;
    gp_bytes value;
} gb_kv;

typedef struct gb_groups_hooks {
    void *ctx;
    void (*join_done)(void *ctx, void *waiter, const gb_join_result *r);
    void (*sync_done)(void *ctx, void *waiter, const gb_sync_result *r);
    /* Append records, in one batch, to partition `partition` of
     * __consumer_offsets, timestamped wall_ms. Returns 0 or the Kafka
     * error to give the client (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
     * ...). The bytes are valid only during the call. */
    int16_t (*append)(void *ctx, int32_t partition, const gb_kv *recs, size_t n, int64_t wall_ms);
    /* The same for a TxnOffsetCommit: one transactional batch of
     * producer_id and producer_epoch. */
    int16_t (*append_txn)(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                          const gb_kv *recs, size_t n, int64_t wall_ms);
} gb_groups_hooks;

gb_groups *gb_groups_new(const gb_groups_config *cfg, const gb_groups_hooks *hooks, int64_t now);
/* Frees everything; call gb_groups_shutdown first if waiters may be parked. */
void gb_groups_free(gb_groups *gs);
/* Answer every parked JoinGroup and SyncGroup with NOT_COORDINATOR, as
 * Kafka does when it unloads a group. */
void gb_groups_shutdown(gb_groups *gs);

void gb_groups_set_wall_offset(gb_groups *gs, int64_t wall_minus_now);
/* The number of __consumer_offsets partitions (when the topic exists with
 * another count than configured, its count wins). */
void gb_groups_set_num_partitions(gb_groups *gs, int32_t n);
int32_t gb_groups_partition_for(const gb_groups *gs, gp_str group_id);

/* ---- time ---------------------------------------------------------------- */

/* No expiry happens before this time (GB_NO_DEADLINE: nothing pending);
 * may be earlier than needed, never later. */
int64_t gb_groups_next_deadline(const gb_groups *gs);
/* Expire what is due: sessions, pending member ids, rebalance and sync
 * timeouts, the initial rebalance delay, offsets past their retention. */
void gb_groups_tick(gb_groups *gs, int64_t now);

/* ---- loading ------------------------------------------------------------- */

void gb_groups_set_loading(gb_groups *gs, int32_t partition, bool loading);
bool gb_groups_loading(const gb_groups *gs, int32_t partition);
/* Apply one record of partition's log, in log order. Returns 0, 1 for a
 * record that was ignored (unknown key version), or a negative GP_ERR_*
 * for a malformed one (also ignored). */
int gb_groups_replay(gb_groups *gs, int32_t partition, gp_bytes key, gp_bytes value, int64_t now);
/* The same for a record of a transactional batch of producer_id: an offset
 * becomes pending for that producer until its marker (gb_groups_txn_marker)
 * is replayed; a group metadata record is applied as usual. */
int gb_groups_replay_txn(gb_groups *gs, int32_t partition, int64_t producer_id, gp_bytes key, gp_bytes value,
                         int64_t now);
/* The partition's records are all applied: groups become Stable (with
 * members) or Empty, sessions start, and the partition serves requests. */
void gb_groups_load_done(gb_groups *gs, int32_t partition, int64_t now);

/* ---- the group membership APIs --------------------------------------------- */

/* A JoinGroup protocol (name, metadata) and a SyncGroup assignment
 * (member_id, assignment) are the decoded request's own entries: the
 * handlers pass the request's arrays through without copying them. */
typedef gp_join_group_request_protocol gb_join_protocol;

typedef struct gb_join_params {
    gp_str group_id;
    gp_str member_id;         /* "" for a new member */
    gp_str group_instance_id; /* len -1: dynamic member */
    gp_str client_id;
    gp_str client_host;
    gp_str protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    const gb_join_protocol *protocols;
    int32_t nprotocols;
    bool require_known_member_id; /* JoinGroup v4+ without an instance id */
    bool support_skip_assignment; /* JoinGroup v9+ */
} gb_join_params;

/* JoinGroup: answered through hooks->join_done(waiter), now or later. */
void gb_group_join(gb_groups *gs, const gb_join_params *p, void *waiter, int64_t now);

typedef gp_sync_group_request_assignment gb_sync_assignment;

typedef struct gb_sync_params {
    gp_str group_id;
    int32_t generation_id;
    gp_str member_id;
    gp_str group_instance_id; /* len -1: none */
    gp_str protocol_type;     /* len -1: not checked */
    gp_str protocol_name;     /* len -1: not checked */
    const gb_sync_assignment *assignments;
    int32_t nassignments;
} gb_sync_params;

/* SyncGroup: answered through hooks->sync_done(waiter), now or later. */
void gb_group_sync(gb_groups *gs, const gb_sync_params *p, void *waiter, int64_t now);

/* Heartbeat: the error code to answer. */
int16_t gb_group_heartbeat(gb_groups *gs, gp_str group_id, int32_t generation_id, gp_str member_id,
                           gp_str group_instance_id, int64_t now);

typedef struct gb_leave_member {
    gp_str member_id; /* "" with an instance id: remove that static member */
    gp_str group_instance_id;
    int16_t error; /* out */
} gb_leave_member;

/* LeaveGroup: the top-level error; each member's error in its entry. */
int16_t gb_group_leave(gb_groups *gs, gp_str group_id, gb_leave_member *members, int32_t n, int64_t now);

/* ---- offsets ----------------------------------------------------------------- */

typedef struct gb_commit {
    gp_str topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;     /* -1: none */
    gp_str metadata;          /* null is stored as "" */
    int64_t commit_timestamp; /* -1: now */
    int64_t expire_timestamp; /* -1: none (OffsetCommit v2-v4 retention) */
    int16_t error;            /* in: set by the caller to skip (unknown topic); out: the result */
} gb_commit;

/*
 * OffsetCommit. Returns an error for the whole request (every partition),
 * or 0 with each entry's error set. *partition is the __consumer_offsets
 * partition written (-1 if nothing was), for a caller that waits for it to
 * be durable.
 */
int16_t gb_group_commit(gb_groups *gs, gp_str group_id, int32_t generation_id, gp_str member_id,
                        gp_str group_instance_id, gb_commit *c, int32_t n, int64_t now, int32_t *partition);

typedef struct gb_offset_info {
    gp_str topic; /* points into the group */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    gp_str metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp;
} gb_offset_info;

/*
 * TxnOffsetCommit, once the transaction coordinator has verified that the
 * producer may write to the group's partition: Kafka's checks for a
 * transactional commit (a group that does not exist is created for
 * generation -1, else ILLEGAL_GENERATION; from v3 the member and
 * generation are checked as for OffsetCommit, but a commit without them is
 * accepted by a group with members and none is refused while a rebalance
 * completes), then one transactional batch of producer_id. The offsets
 * become pending for (group, producer_id): not visible to OffsetFetch
 * until the producer's COMMIT marker (gb_groups_txn_marker). Returns and
 * sets errors as gb_group_commit.
 */
int16_t gb_group_txn_commit(gb_groups *gs, gp_str group_id, int64_t producer_id, int16_t producer_epoch,
                            int32_t generation_id, gp_str member_id, gp_str group_instance_id, gb_commit *c, int32_t n,
                            int64_t now, int32_t *partition);

/*
 * A transaction marker of producer_id in partition `partition` of
 * __consumer_offsets (appended, or read during the replay): on COMMIT the
 * producer's pending offsets of the partition's groups become committed
 * offsets, unless the partition's committed offset was written after them
 * (the most recent record wins, as in Kafka's replayEndTransactionMarker);
 * on ABORT they are dropped.
 */
void gb_groups_txn_marker(gb_groups *gs, int32_t partition, int64_t producer_id, bool commit);

/* Has any producer a pending transactional offset for the partition
 * (OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT)? */
bool gb_group_offset_pending(const gb_groups *gs, gp_str group_id, gp_str topic, int32_t partition);

/* OffsetFetch: 0 or the group's error (INVALID_GROUP_ID, loading). */
int16_t gb_group_fetch_check(const gb_groups *gs, gp_str group_id);
/* One committed offset; false if none (the answer is then -1). */
bool gb_group_offset(const gb_groups *gs, gp_str group_id, gp_str topic, int32_t partition, gb_offset_info *out);
/* Every committed offset of the group, by topic then partition (arena). */
int32_t gb_group_offsets(const gb_groups *gs, gp_str group_id, gp_arena *a, gb_offset_info **out);

typedef struct gb_tp {
    gp_str topic;
    int32_t partition;
    int16_t error; /* in: set by the caller to skip; out: the result */
} gb_tp;

/* OffsetDelete: the group's error, or 0 with each entry's error set. */
int16_t gb_group_delete_offsets(gb_groups *gs, gp_str group_id, gb_tp *tps, int32_t n, int64_t now);

/* DeleteGroups, one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ... or 0. */
int16_t gb_group_delete(gb_groups *gs, gp_str group_id, int64_t now);

/* A partition of a deleted topic: every group's offsets for it (committed
 * or pending) are removed, with tombstones (Kafka's onPartitionsDeleted). */
void gb_groups_partition_deleted(gb_groups *gs, gp_str topic, int32_t partition, int64_t now);

/* ---- describing ---------------------------------------------------------------- */

typedef struct gb_member_summary {
    const char *member_id;
    const char *group_instance_id; /* NULL: dynamic */
    const char *client_id;
    const char *client_host;
    gp_bytes metadata;   /* empty unless the group is Stable */
    gp_bytes assignment; /* the last one, in every state */
} gb_member_summary;

typedef struct gb_group_summary {
    const char *group_id;
    gb_group_state state;
    int32_t generation_id;
    const char *protocol_type; /* "" when none */
    const char *protocol;      /* "" unless Stable */
    const char *leader;        /* NULL when none */
    int32_t nmembers;
    gb_member_summary *members; /* only from gb_group_describe */
} gb_group_summary;

/* DescribeGroups, one group: 0 and the summary (an unknown group is Dead
 * with no members, as Kafka answers v0-v5), or the group's error. The
 * strings are valid until the next call that changes the groups. */
int16_t gb_group_describe(const gb_groups *gs, gp_str group_id, gp_arena *a, gb_group_summary *out);

/* ListGroups: every group (members not filled), in group id order. */
int32_t gb_groups_list(const gb_groups *gs, gp_arena *a, gb_group_summary **out);
/* Is any partition still loading (ListGroups answers
 * COORDINATOR_LOAD_IN_PROGRESS with what it has)? */
bool gb_groups_any_loading(const gb_groups *gs);

#endif
