/*
 * The group state machine's internals, shared by its three files and by
 * nothing else: gb_group.c (groups, membership and rebalances, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, describing, time), gb_group_offsets.c
 * (committed offsets, their expiry, deleting groups and offsets) and
 * gb_group_load.c (replaying __consumer_offsets at startup).
 */
#ifndef GB_GROUP_INTERNAL_H
#define GB_GROUP_INTERNAL_H

#include "broker/core/gb_group.h"

#define GB_NEW_MEMBER_JOIN_TIMEOUT_MS 300000
#define GB_CONSUMER_PROTOCOL "consumer"

typedef struct gb_member_protocol {
    char *name;
    uint8_t *metadata;
    int32_t len;
} gb_member_protocol;

typedef struct gb_member {
    char *member_id;
    char *group_instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t rebalance_timeout_ms;
    int32_t session_timeout_ms;
    gb_member_protocol *protocols; /* in the member's order of preference */
    int32_t nprotocols;
    uint8_t *assignment;
    int32_t assignment_len;
    void *join_waiter; /* awaiting its JoinGroup answer */
    void *sync_waiter; /* awaiting its SyncGroup answer */
    bool is_new;       /* joined, not yet part of a generation */
    bool pending_sync; /* got the JoinGroup answer, no SyncGroup yet */
    int64_t deadline;
    struct gb_member *next;
} gb_member;

typedef struct gb_pending {
    char *member_id;
    int64_t deadline;
    struct gb_pending *next;
} gb_pending;

typedef struct gb_offset {
    char *topic;
    int32_t topic_len;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int32_t metadata_len;
    int64_t commit_timestamp;
    int64_t expire_timestamp;
    /* Where its record lies in the partition's log, as a count of offset
     * records appended or replayed (gb_groups.seq): which of a committed
     * and a pending transactional offset is more recent. */
    int64_t seq;
    int64_t producer_id; /* a pending transactional offset's producer; -1: committed */
    struct gb_offset *next;
} gb_offset;

struct gb_group {
    char *group_id;
    int32_t id_len;
    int32_t partition;
    gb_group_state state;
    int64_t state_timestamp; /* wall clock of the last transition; -1 unknown */
    int32_t generation;
    char *protocol_type; /* NULL: none (a group used only for offsets) */
    char *protocol_name; /* the selected protocol; NULL when none */
    gb_member *members, *members_tail;
    int32_t nmembers;
    int32_t num_awaiting_join;
    gb_member *leader;
    gb_pending *pending;
    /* PreparingRebalance */
    int64_t join_deadline;
    bool join_initial; /* the initial rebalance delay (Kafka's InitialDelayedJoin) */
    int32_t join_delay_ms;
    int32_t join_remaining_ms;
    bool new_member_added;
    /* CompletingRebalance */
    int64_t sync_deadline;
    int32_t sync_generation;
    /* the consumer protocol's subscribed topics (Kafka's subscribedTopics) */
    bool subscribed_known;
    char **subscribed;
    int32_t nsubscribed;
    /* committed offsets: a hash by topic and partition */
    gb_offset **obuckets;
    size_t onbuckets; /* a power of two, or 0 */
    size_t noffsets;
    /* pending transactional offsets (TxnOffsetCommit before its marker):
     * a list, at most one entry per producer and partition */
    gb_offset *txn_offsets;
    /* replay */
    bool replayed;        /* a record of the partition being loaded named it */
    bool loaded_metadata; /* its last GroupMetadata record was not a tombstone */
    char *loaded_leader;
    gb_group *hash_next;
};

typedef struct gb_deleted_tp {
    char *topic;
    int32_t topic_len;
    int32_t partition;
} gb_deleted_tp;

struct gb_groups {
    gb_groups_config cfg;
    gb_groups_hooks hooks;
    gb_group **buckets;
    size_t nbuckets; /* a power of two, or 0 */
    size_t count;
    bool *loading; /* per partition */
    int32_t loading_len;
    int32_t nloading;
    int64_t wall_offset;
    int64_t wake_at;
    int64_t next_cleanup;
    int64_t seq;         /* offset records appended or replayed so far (gb_offset.seq) */
    size_t ntxn_offsets; /* pending transactional offsets of every group */
    /* Partitions of deleted topics whose offsets could not be removed from
     * the groups of __consumer_offsets partitions still loading: applied as
     * each finishes loading (gb_groups_load_done), dropped after the last. */
    gb_deleted_tp *deleted;
    size_t ndeleted;
    uint64_t rng;
    gp_arena scratch;
};

/* Shared helpers (defined where their section is). */
bool gb__cleanup(gb_groups *gs, gb_group *g, gb_offset **remove, size_t nremove, int64_t now, bool reap);
/* Apply the partition deletions noted while the partition was loading to its groups. */
void gb__deleted_apply(gb_groups *gs, int32_t partition, int64_t now);
void gb__clear_subscribed(gb_group *g);
void gb__compute_subscribed(gb_group *g);
char *gb__dup(gp_str s);
gb_group *gb__find(const gb_groups *gs, gp_str id);
void gb__group_free(gb_groups *gs, gb_group *g);
gb_group *gb__group_new(gb_groups *gs, gp_str id, int64_t now);
bool gb__group_unused(const gb_group *g);
uint64_t gb__hash(const char *s, size_t n);
gb_member *gb__member(const gb_group *g, gp_str id);
void gb__member_free(gb_member *m);
gb_offset *gb__offset_find(const gb_group *g, gp_str topic, int32_t partition);
void gb__offset_free(gb_offset *o);
gb_offset *gb__offset_put(gb_group *g, gp_str topic, int32_t partition, int64_t offset, int32_t leader_epoch,
                          gp_str metadata, int64_t commit_ts, int64_t expire_ts);
/* A pending transactional offset of producer_id (replacing the producer's
 * earlier one for the partition). */
void gb__txn_offset_put(gb_groups *gs, gb_group *g, int64_t producer_id, gp_str topic, int32_t partition,
                        int64_t offset, int32_t leader_epoch, gp_str metadata, int64_t commit_ts, int64_t expire_ts);
/* Drop every pending transactional offset of the group (freeing it). */
void gb__txn_offsets_free(gb_groups *gs, gb_group *g);
bool gb__txn_pending(const gb_group *g, gp_str topic, int32_t partition);
/* Drop every producer's pending offset for the partition, except `keep`
 * (NULL: none). */
void gb__txn_offsets_drop(gb_groups *gs, gb_group *g, gp_str topic, int32_t partition, const gb_offset *keep);
void gb__offset_remove(gb_group *g, gb_offset *o);
void gb__prepare_rebalance(gb_groups *gs, gb_group *g, int64_t now, const char *reason);
void gb__schedule_heartbeat(gb_groups *gs, gb_member *m, int64_t now, int64_t timeout);
void gb__set_assignment(gb_member *m, gp_bytes a);
void gb__set_protocols(gb_member *m, const gb_join_protocol *protos, int32_t n);
/* Append m to g's members (last in join order) and count it. */
void gb__link_member(gb_group *g, gb_member *m);
gb_member *gb__static_member(const gb_group *g, gp_str instance_id);
int16_t gb__status(const gb_groups *gs, gp_str group_id, bool allow_empty);
bool gb__streq(const char *a, const char *b);
bool gb__subscribed_to(const gb_group *g, gp_str topic);
int16_t gb__validate_member(const gb_group *g, gp_str member_id, gp_str instance_id);
int64_t gb__wall(const gb_groups *gs, int64_t now);

#endif
