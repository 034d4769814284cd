/*
 * Loading: the replay of __consumer_offsets at startup (gb_group.h).
 */
#include "broker/core/gb_group_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_group_records.h"
#include "protocol/gp_errors.h"

/* ---- loading ---------------------------------------------------------------------- */

void gb_groups_set_loading(gb_groups *gs, int32_t partition, bool loading)
{
    if (partition < 0 || partition >= gs->loading_len || gs->loading[partition] == loading)
        return;
    gs->loading[partition] = loading;
    gs->nloading += loading ? 1 : -1;
}

bool gb_groups_loading(const gb_groups *gs, int32_t partition)
{
    return partition >= 0 && partition < gs->loading_len && gs->loading[partition];
}

/* Forget the group's membership (a GroupMetadata tombstone, or before a
 * newer GroupMetadata record is applied). Offsets stay. */
static void gb__clear_metadata(gb_group *g)
{
    for (gb_member *m = g->members, *next; m; m = next) {
        next = m->next;
        gb__member_free(m);
    }
    g->members = g->members_tail = g->leader = NULL;
    g->nmembers = g->num_awaiting_join = 0;
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->loaded_leader);
    g->protocol_type = g->protocol_name = g->loaded_leader = NULL;
    g->generation = 0;
    g->state = GB_GROUP_EMPTY;
    g->loaded_metadata = false;
    gb__clear_subscribed(g);
}

/*
 * One record of a partition being loaded (Kafka's doLoadGroupsAndOffsets,
 * applied as it reads): the last offset record of a group's partition and
 * the last GroupMetadata record of a group win; tombstones remove them,
 * and an offset tombstone also every pending transactional offset of that
 * partition (Kafka's OffsetMetadataManager.replay). An offset record of a
 * transactional batch (producer_id >= 0) is pending for its producer until
 * the producer's marker. Groups are completed by gb_groups_load_done().
 */
static int gb__replay(gb_groups *gs, int64_t producer_id, gp_bytes key, gp_bytes value, int64_t now)
{
    gb_group_key k;
    int rc = gb_group_key_decode(key, &k);
    if (rc < 0)
        return rc;
    if (k.type == GB_KEY_UNKNOWN)
        return 1;
    gb_group *g = gb__find(gs, k.group);
    if (k.type == GB_KEY_OFFSET) {
        if (value.len < 0) {
            gb_offset *o = g ? gb__offset_find(g, k.topic, k.partition) : NULL;
            if (o)
                gb__offset_remove(g, o);
            if (g && g->txn_offsets)
                gb__txn_offsets_drop(gs, g, k.topic, k.partition, NULL);
            return 0;
        }
        gb_offset_value v;
        rc = gb_offset_value_decode(value, &v);
        if (rc < 0)
            return rc;
        if (!g)
            g = gb__group_new(gs, k.group, now);
        g->replayed = true;
        if (producer_id >= 0) {
            gb__txn_offset_put(gs, g, producer_id, k.topic, k.partition, v.offset, v.leader_epoch, v.metadata,
                               v.commit_timestamp, v.expire_timestamp);
            return 0;
        }
        gb_offset *o = gb__offset_put(g, k.topic, k.partition, v.offset, v.leader_epoch, v.metadata,
                                      v.commit_timestamp, v.expire_timestamp);
        o->seq = ++gs->seq;
        return 0;
    }
    if (value.len < 0) {
        if (g) {
            gb__clear_metadata(g);
            g->replayed = true;
        }
        return 0;
    }
    gp_arena *a = &gs->scratch;
    gb_group_value v;
    rc = gb_group_value_decode(a, value, &v);
    if (rc < 0) {
        gp_arena_reset(a, NULL, 0);
        return rc;
    }
    if (!g)
        g = gb__group_new(gs, k.group, now);
    gb__clear_metadata(g);
    g->replayed = true;
    g->loaded_metadata = true;
    g->protocol_type = v.protocol_type.len > 0 ? gb__dup(v.protocol_type) : NULL;
    g->protocol_name = gb__dup(v.protocol);
    g->loaded_leader = gb__dup(v.leader);
    g->generation = v.generation;
    g->state_timestamp = v.current_state_timestamp;
    for (int32_t i = 0; i < v.nmembers; i++) {
        const gb_group_value_member *vm = &v.members[i];
        gb_member *m = gu_calloc(1, sizeof *m);
        m->member_id = gb__dup(vm->member_id);
        m->group_instance_id = gb__dup(vm->group_instance_id);
        m->client_id = gb__dup(vm->client_id);
        m->client_host = gb__dup(vm->client_host);
        m->rebalance_timeout_ms = vm->rebalance_timeout;
        m->session_timeout_ms = vm->session_timeout;
        gb_join_protocol jp = {.name = v.protocol.len >= 0 ? v.protocol : GP_STR_LIT(""), .metadata = vm->subscription};
        gb__set_protocols(m, &jp, 1);
        m->assignment = NULL;
        gb__set_assignment(m, vm->assignment);
        m->deadline = GB_NO_DEADLINE;
        gb__link_member(g, m);
    }
    gp_arena_reset(a, NULL, 0);
    return 0;
}

int gb_groups_replay(gb_groups *gs, int32_t partition, gp_bytes key, gp_bytes value, int64_t now)
{
    (void)partition;
    return gb__replay(gs, -1, key, value, now);
}

int gb_groups_replay_txn(gb_groups *gs, int32_t partition, int64_t producer_id, gp_bytes key, gp_bytes value,
                         int64_t now)
{
    (void)partition;
    return gb__replay(gs, producer_id < 0 ? -1 : producer_id, key, value, now);
}

/* Kafka's loadGroup and onGroupLoaded for the partition's groups. */
void gb_groups_load_done(gb_groups *gs, int32_t partition, int64_t now)
{
    int32_t groups = 0;
    for (size_t i = 0; i < gs->nbuckets; i++) {
        gb_group *g = gs->buckets[i];
        while (g) {
            gb_group *next = g->hash_next;
            if (!g->replayed || g->partition != partition) {
                g = next;
                continue;
            }
            g->replayed = false;
            if (!g->loaded_metadata) {
                /* Offsets only (or a deleted group's offsets): a group used
                 * for offset storage, Empty in generation 0. */
                if (g->noffsets == 0 && !g->txn_offsets) {
                    gb__group_free(gs, g);
                    g = next;
                    continue;
                }
                g->state = GB_GROUP_EMPTY;
            } else {
                g->loaded_metadata = false;
                g->leader = g->members;
                for (gb_member *m = g->members; m; m = m->next)
                    if (gb__streq(m->member_id, g->loaded_leader))
                        g->leader = m;
                free(g->loaded_leader);
                g->loaded_leader = NULL;
                g->state = g->nmembers ? GB_GROUP_STABLE : GB_GROUP_EMPTY;
                gb__compute_subscribed(g);
                for (gb_member *m = g->members; m; m = m->next)
                    gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
                if (g->nmembers > gs->cfg.max_size)
                    gb__prepare_rebalance(gs, g, now, "the loaded group is over group.max.size");
            }
            groups++;
            g = next;
        }
    }
    gb_groups_set_loading(gs, partition, false);
    if (gs->ndeleted)
        gb__deleted_apply(gs, partition, now);
    if (groups)
        gb_logger_debug("loaded %d group(s) of %s-%d", groups, GB_OFFSETS_TOPIC, partition);
}
