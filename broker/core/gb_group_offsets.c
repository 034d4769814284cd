/*
 * Committed offsets: commit, fetch, expiry, deleting offsets and groups
 * (gb_group.h).
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

/* ---- offsets ------------------------------------------------------------------------ */

static size_t gb__offset_slot(const gb_group *g, gp_str topic, int32_t partition)
{
    return (gb__hash(topic.p, (size_t)topic.len) ^ ((uint64_t)(uint32_t)partition * 0x9e3779b97f4a7c15ULL)) &
           (g->onbuckets - 1);
}

gb_offset *gb__offset_find(const gb_group *g, gp_str topic, int32_t partition)
{
    if (!g->onbuckets || topic.len < 0)
        return NULL;
    for (gb_offset *o = g->obuckets[gb__offset_slot(g, topic, partition)]; o; o = o->next)
        if (o->partition == partition && o->topic_len == topic.len &&
            (topic.len == 0 || memcmp(o->topic, topic.p, (size_t)topic.len) == 0))
            return o;
    return NULL;
}

gb_offset *gb__offset_put(gb_group *g, gp_str topic, int32_t partition, int64_t offset, int32_t leader_epoch,
                          gp_str metadata, int64_t commit_ts, int64_t expire_ts)
{
    gb_offset *o = gb__offset_find(g, topic, partition);
    if (!o) {
        if (g->noffsets + 1 > g->onbuckets) {
            size_t nb = g->onbuckets ? g->onbuckets * 2 : 8;
            gb_offset **b = gu_calloc(nb, sizeof *b);
            size_t old = g->onbuckets;
            g->onbuckets = nb;
            for (size_t i = 0; i < old; i++)
                for (gb_offset *x = g->obuckets[i], *next; x; x = next) {
                    next = x->next;
                    size_t k = gb__offset_slot(g, (gp_str){x->topic, x->topic_len}, x->partition);
                    x->next = b[k];
                    b[k] = x;
                }
            free(g->obuckets);
            g->obuckets = b;
        }
        o = gu_calloc(1, sizeof *o);
        o->topic = gb__dup(topic);
        o->topic_len = topic.len;
        o->partition = partition;
        o->producer_id = -1;
        size_t k = gb__offset_slot(g, topic, partition);
        o->next = g->obuckets[k];
        g->obuckets[k] = o;
        g->noffsets++;
    }
    free(o->metadata);
    o->metadata = gb__dup(metadata.len >= 0 ? metadata : GP_STR_LIT(""));
    o->metadata_len = metadata.len > 0 ? metadata.len : 0;
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->commit_timestamp = commit_ts;
    o->expire_timestamp = expire_ts;
    return o;
}

void gb__offset_remove(gb_group *g, gb_offset *o)
{
    size_t k = gb__offset_slot(g, (gp_str){o->topic, o->topic_len}, o->partition);
    for (gb_offset **pp = &g->obuckets[k]; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            g->noffsets--;
            gb__offset_free(o);
            return;
        }
}

/* ---- pending transactional offsets ---------------------------------------------------- */

/*
 * Kafka keeps a TxnOffsetCommit's offsets apart, per producer, until the
 * producer's transaction ends in the group's partition. A group holds few
 * of them (one transaction's partitions per producer), so they are a list.
 */
static bool gb__same_tp(const gb_offset *o, gp_str topic, int32_t partition)
{
    return o->partition == partition && o->topic_len == topic.len &&
           (topic.len == 0 || memcmp(o->topic, topic.p, (size_t)topic.len) == 0);
}

void gb__txn_offset_put(gb_groups *gs, gb_group *g, int64_t producer_id, gp_str topic, int32_t partition,
                        int64_t offset, int32_t leader_epoch, gp_str metadata, int64_t commit_ts, int64_t expire_ts)
{
    gb_offset *o = NULL;
    for (gb_offset *x = g->txn_offsets; x && !o; x = x->next)
        if (x->producer_id == producer_id && gb__same_tp(x, topic, partition))
            o = x;
    if (!o) {
        o = gu_calloc(1, sizeof *o);
        o->topic = gb__dup(topic);
        o->topic_len = topic.len;
        o->partition = partition;
        o->producer_id = producer_id;
        o->next = g->txn_offsets;
        g->txn_offsets = o;
        gs->ntxn_offsets++;
    }
    free(o->metadata);
    o->metadata = gb__dup(metadata.len >= 0 ? metadata : GP_STR_LIT(""));
    o->metadata_len = metadata.len > 0 ? metadata.len : 0;
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->commit_timestamp = commit_ts;
    o->expire_timestamp = expire_ts;
    o->seq = ++gs->seq;
}

void gb__txn_offsets_free(gb_groups *gs, gb_group *g)
{
    for (gb_offset *o = g->txn_offsets, *next; o; o = next) {
        next = o->next;
        gb__offset_free(o);
        gs->ntxn_offsets--;
    }
    g->txn_offsets = NULL;
}

bool gb__txn_pending(const gb_group *g, gp_str topic, int32_t partition)
{
    for (const gb_offset *o = g->txn_offsets; o; o = o->next)
        if (gb__same_tp(o, topic, partition))
            return true;
    return false;
}

void gb__txn_offsets_drop(gb_groups *gs, gb_group *g, gp_str topic, int32_t partition, const gb_offset *keep)
{
    for (gb_offset **pp = &g->txn_offsets; *pp;) {
        gb_offset *x = *pp;
        if (x != keep && gb__same_tp(x, topic, partition)) {
            *pp = x->next;
            gs->ntxn_offsets--;
            gb__offset_free(x);
        } else {
            pp = &x->next;
        }
    }
}

bool gb_group_offset_pending(const gb_groups *gs, gp_str group_id, gp_str topic, int32_t partition)
{
    if (!gs->ntxn_offsets)
        return false;
    gb_group *g = gb__find(gs, group_id);
    return g && gb__txn_pending(g, topic, partition);
}

/* Move (commit) or drop the producer's pending offsets of one group. */
static void gb__txn_complete(gb_groups *gs, gb_group *g, int64_t producer_id, bool commit)
{
    for (gb_offset **pp = &g->txn_offsets; *pp;) {
        gb_offset *o = *pp;
        if (o->producer_id != producer_id) {
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        gs->ntxn_offsets--;
        gp_str topic = {o->topic, o->topic_len};
        gb_offset *c = gb__offset_find(g, topic, o->partition);
        if (commit && (!c || c->seq < o->seq)) {
            c = gb__offset_put(g, topic, o->partition, o->offset, o->leader_epoch,
                               (gp_str){o->metadata, o->metadata_len}, o->commit_timestamp, o->expire_timestamp);
            c->seq = o->seq;
        }
        gb__offset_free(o);
    }
}

void gb_groups_txn_marker(gb_groups *gs, int32_t partition, int64_t producer_id, bool commit)
{
    if (!gs->ntxn_offsets)
        return;
    /* Kafka indexes pending offsets by producer; a marker is rare enough
     * (one per transaction that touched a group) to look at every group. */
    for (size_t i = 0; i < gs->nbuckets && gs->ntxn_offsets; i++)
        for (gb_group *g = gs->buckets[i]; g; g = g->hash_next)
            if (g->partition == partition && g->txn_offsets)
                gb__txn_complete(gs, g, producer_id, commit);
}

/* The records of a commit (OffsetCommit or TxnOffsetCommit) in gs->scratch:
 * one per partition not already refused, after Kafka's metadata size check
 * (OFFSET_METADATA_TOO_LARGE) and with the commit timestamp defaulted to
 * now. Returns how many. */
static size_t gb__commit_records(gb_groups *gs, gp_str group_id, gb_commit *c, int32_t n, int64_t wall, gb_kv **out)
{
    gp_arena *a = &gs->scratch;
    gb_kv *recs = gp_arena_calloc(a, (size_t)(n > 0 ? n : 1), sizeof *recs);
    size_t nrecs = 0;
    for (int32_t i = 0; i < n; i++) {
        if (c[i].error)
            continue;
        if (c[i].metadata.len > 0 &&
            gb_utf16_length(c[i].metadata.p, (size_t)c[i].metadata.len) > (size_t)gs->cfg.offset_metadata_max_bytes) {
            c[i].error = GP_E_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        if (c[i].commit_timestamp < 0)
            c[i].commit_timestamp = wall;
        gb_offset_value v = {
            .offset = c[i].offset,
            .leader_epoch = c[i].leader_epoch,
            .metadata = c[i].metadata,
            .commit_timestamp = c[i].commit_timestamp,
            .expire_timestamp = c[i].expire_timestamp,
        };
        recs[nrecs].key = gb_offset_key_encode(a, group_id, c[i].topic, c[i].partition);
        recs[nrecs].value = gb_offset_value_encode(a, &v);
        nrecs++;
    }
    *out = recs;
    return nrecs;
}

/* Kafka's validateOffsetCommit. */
static int16_t gb__validate_commit(const gb_group *g, int32_t generation_id, gp_str member_id, gp_str instance_id)
{
    if (generation_id < 0 && g->state == GB_GROUP_EMPTY)
        return 0; /* a consumer that does not use group management */
    if (generation_id >= 0 || member_id.len > 0 || instance_id.len >= 0) {
        int16_t err = gb__validate_member(g, member_id, instance_id);
        if (err)
            return err;
        return generation_id != g->generation ? GP_E_ILLEGAL_GENERATION : 0;
    }
    return g->state != GB_GROUP_EMPTY ? GP_E_UNKNOWN_MEMBER_ID : 0;
}

int16_t gb_group_commit(gb_groups *gs, gp_str group_id, int32_t generation_id, gp_str member_id,
                        gp_str group_instance_id, gb_commit *c, int32_t n, int64_t now, int32_t *partition)
{
    *partition = -1;
    int16_t err = gb__status(gs, group_id, true);
    if (err)
        return err;
    gb_group *g = gb__find(gs, group_id);
    if (!g) {
        if (generation_id >= 0)
            return GP_E_ILLEGAL_GENERATION; /* from an older generation of a group that is gone */
        g = gb__group_new(gs, group_id, now);
    }
    err = gb__validate_commit(g, generation_id, member_id, group_instance_id);
    if (!err && g->state == GB_GROUP_COMPLETING_REBALANCE)
        err = GP_E_REBALANCE_IN_PROGRESS;
    if (err) {
        if (gb__group_unused(g))
            gb__group_free(gs, g);
        return err;
    }
    if (g->state == GB_GROUP_STABLE || g->state == GB_GROUP_PREPARING_REBALANCE) {
        /* A commit counts as a heartbeat; it is accepted while a rebalance
         * is being prepared (consumers commit when their partitions are
         * revoked) and the next heartbeat tells them to rejoin. */
        gb_member *m = gb__member(g, member_id);
        if (!m)
            m = gb__static_member(g, group_instance_id);
        if (m)
            gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
    }
    int64_t wall = gb__wall(gs, now);
    gp_arena *a = &gs->scratch;
    gb_kv *recs;
    size_t nrecs = gb__commit_records(gs, group_id, c, n, wall, &recs);
    if (nrecs)
        err = gs->hooks.append(gs->hooks.ctx, g->partition, recs, nrecs, wall);
    gp_arena_reset(a, NULL, 0);
    for (int32_t i = 0; i < n && nrecs; i++) {
        if (c[i].error)
            continue;
        if (err) {
            c[i].error = err;
            continue;
        }
        gb_offset *o = gb__offset_put(g, c[i].topic, c[i].partition, c[i].offset, c[i].leader_epoch,
                                      c[i].metadata, c[i].commit_timestamp, c[i].expire_timestamp);
        o->seq = ++gs->seq;
    }
    if (nrecs && !err)
        *partition = g->partition;
    if (gb__group_unused(g))
        gb__group_free(gs, g);
    return 0;
}

/* Kafka's validateOffsetCommit for a transactional commit (isTransactional):
 * no member is needed to commit to a group with members (TxnOffsetCommit
 * v0-v2 carry none), and a completing rebalance does not matter. */
static int16_t gb__validate_txn_commit(const gb_group *g, int32_t generation_id, gp_str member_id, gp_str instance_id)
{
    if (generation_id < 0 && g->state == GB_GROUP_EMPTY)
        return 0;
    if (generation_id >= 0 || member_id.len > 0 || instance_id.len >= 0) {
        int16_t err = gb__validate_member(g, member_id, instance_id);
        if (err)
            return err;
        return generation_id != g->generation ? GP_E_ILLEGAL_GENERATION : 0;
    }
    return 0;
}

int16_t gb_group_txn_commit(gb_groups *gs, gp_str group_id, int64_t producer_id, int16_t producer_epoch,
                            int32_t generation_id, gp_str member_id, gp_str group_instance_id, gb_commit *c, int32_t n,
                            int64_t now, int32_t *partition)
{
    *partition = -1;
    int16_t err = gb__status(gs, group_id, false);
    if (err)
        return err;
    if (!gs->hooks.append_txn)
        return GP_E_UNKNOWN_SERVER_ERROR;
    gb_group *g = gb__find(gs, group_id);
    if (!g) {
        if (generation_id >= 0)
            return GP_E_ILLEGAL_GENERATION;
        g = gb__group_new(gs, group_id, now); /* a "simple" group, as Kafka creates it */
    }
    err = gb__validate_txn_commit(g, generation_id, member_id, group_instance_id);
    if (err) {
        if (gb__group_unused(g))
            gb__group_free(gs, g);
        return err;
    }
    int64_t wall = gb__wall(gs, now);
    gp_arena *a = &gs->scratch;
    gb_kv *recs;
    size_t nrecs = gb__commit_records(gs, group_id, c, n, wall, &recs);
    if (nrecs)
        err = gs->hooks.append_txn(gs->hooks.ctx, g->partition, producer_id, producer_epoch, recs, nrecs, wall);
    gp_arena_reset(a, NULL, 0);
    for (int32_t i = 0; i < n && nrecs; i++) {
        if (c[i].error)
            continue;
        if (err) {
            c[i].error = err;
            continue;
        }
        gb__txn_offset_put(gs, g, producer_id, c[i].topic, c[i].partition, c[i].offset, c[i].leader_epoch,
                           c[i].metadata, c[i].commit_timestamp, c[i].expire_timestamp);
    }
    if (nrecs && !err)
        *partition = g->partition;
    if (gb__group_unused(g))
        gb__group_free(gs, g);
    return 0;
}

int16_t gb_group_fetch_check(const gb_groups *gs, gp_str group_id)
{
    return gb__status(gs, group_id, true);
}

static void gb__offset_info(const gb_offset *o, gb_offset_info *out)
{
    out->topic = (gp_str){o->topic, o->topic_len};
    out->partition = o->partition;
    out->offset = o->offset;
    out->leader_epoch = o->leader_epoch;
    out->metadata = (gp_str){o->metadata, o->metadata_len};
    out->commit_timestamp = o->commit_timestamp;
    out->expire_timestamp = o->expire_timestamp;
}

bool gb_group_offset(const gb_groups *gs, gp_str group_id, gp_str topic, int32_t partition, gb_offset_info *out)
{
    gb_group *g = gb__find(gs, group_id);
    gb_offset *o = g ? gb__offset_find(g, topic, partition) : NULL;
    if (!o)
        return false;
    gb__offset_info(o, out);
    return true;
}

static int gb__cmp_offset(const void *a, const void *b)
{
    const gb_offset_info *x = a, *y = b;
    int32_t n = x->topic.len < y->topic.len ? x->topic.len : y->topic.len;
    int c = n > 0 ? memcmp(x->topic.p, y->topic.p, (size_t)n) : 0;
    if (c)
        return c;
    if (x->topic.len != y->topic.len)
        return x->topic.len < y->topic.len ? -1 : 1;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

int32_t gb_group_offsets(const gb_groups *gs, gp_str group_id, gp_arena *a, gb_offset_info **out)
{
    gb_group *g = gb__find(gs, group_id);
    size_t n = g ? g->noffsets : 0;
    *out = gp_arena_calloc(a, n ? n : 1, sizeof **out);
    size_t k = 0;
    for (size_t i = 0; g && i < g->onbuckets; i++)
        for (gb_offset *o = g->obuckets[i]; o; o = o->next)
            gb__offset_info(o, &(*out)[k++]);
    if (k > 1)
        qsort(*out, k, sizeof **out, gb__cmp_offset);
    return (int32_t)k;
}

/* Remove o and everything else the group holds for o's partition: the
 * committed offset and every producer's pending transactional one (what a
 * tombstone does when Kafka replays it). */
static void gb__drop_partition(gb_groups *gs, gb_group *g, gb_offset *o)
{
    gp_str topic = {o->topic, o->topic_len};
    gb__txn_offsets_drop(gs, g, topic, o->partition, o);
    gb_offset *c = gb__offset_find(g, topic, o->partition);
    if (c && c != o)
        gb__offset_remove(g, c);
    if (o->producer_id < 0) {
        gb__offset_remove(g, o);
        return;
    }
    for (gb_offset **pp = &g->txn_offsets; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            gs->ntxn_offsets--;
            gb__offset_free(o);
            return;
        }
}

/* Tombstones for the partitions of the given offsets (committed or pending
 * transactional ones, one entry per partition), removing what the group
 * holds for them, and, when reap is set, for the group itself if it is
 * Empty with no offsets left, committed or pending: it is then Dead and
 * freed (Kafka's
 * cleanupGroupMetadata, which also keeps a group with open transactions).
 * A group only ever used for offsets (generation 0) has no metadata record
 * to delete. Returns true when the group was freed. */
bool gb__cleanup(gb_groups *gs, gb_group *g, gb_offset **remove, size_t nremove, int64_t now, bool reap)
{
    gp_arena *a = &gs->scratch;
    gb_kv *recs = gp_arena_calloc(a, nremove + 1, sizeof *recs);
    size_t n = 0;
    gp_str gid = {g->group_id, g->id_len};
    for (size_t i = 0; i < nremove; i++) {
        recs[n].key =
            gb_offset_key_encode(a, gid, (gp_str){remove[i]->topic, remove[i]->topic_len}, remove[i]->partition);
        recs[n].value = (gp_bytes){NULL, -1};
        n++;
        gb__drop_partition(gs, g, remove[i]);
    }
    bool dead = reap && g->state == GB_GROUP_EMPTY && g->noffsets == 0 && !g->txn_offsets;
    if (dead && g->generation > 0) {
        recs[n].key = gb_group_key_encode(a, gid);
        recs[n].value = (gp_bytes){NULL, -1};
        n++;
    }
    if (n) {
        int16_t err = gs->hooks.append(gs->hooks.ctx, g->partition, recs, n, gb__wall(gs, now));
        if (err)
            gb_logger_warn("group %s: writing %zu tombstone(s) failed: %s", g->group_id, n, gp_error_name(err));
    }
    gp_arena_reset(a, NULL, 0);
    if (dead) {
        gb_logger_info("group %s transitioned to Dead in generation %d", g->group_id, g->generation);
        g->state = GB_GROUP_DEAD;
        for (gb_pending *p = g->pending, *next; p; p = next) {
            next = p->next;
            free(p->member_id);
            free(p);
        }
        g->pending = NULL;
        gb__group_free(gs, g);
    }
    return dead;
}

int16_t gb_group_delete_offsets(gb_groups *gs, gp_str group_id, gb_tp *tps, int32_t n, int64_t now)
{
    int16_t err = gb__status(gs, group_id, false);
    if (err)
        return err;
    gb_group *g = gb__find(gs, group_id);
    if (!g)
        return GP_E_GROUP_ID_NOT_FOUND;
    bool consumer = gb__streq(g->protocol_type, GB_CONSUMER_PROTOCOL);
    if (g->state != GB_GROUP_EMPTY && !consumer)
        return GP_E_NON_EMPTY_GROUP;
    gb_offset **remove = gu_calloc((size_t)(n > 0 ? n : 1), sizeof *remove);
    size_t nremove = 0;
    for (int32_t i = 0; i < n; i++) {
        if (tps[i].error)
            continue;
        if (g->state != GB_GROUP_EMPTY && gb__subscribed_to(g, tps[i].topic)) {
            tps[i].error = GP_E_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        tps[i].error = 0;
        gb_offset *o = gb__offset_find(g, tps[i].topic, tps[i].partition);
        for (gb_offset *x = g->txn_offsets; x && !o; x = x->next)
            if (gb__same_tp(x, tps[i].topic, tps[i].partition))
                o = x; /* pending only: Kafka writes the tombstone as well */
        bool dup = false;
        for (size_t j = 0; j < nremove && !dup; j++)
            dup = remove[j] == o;
        if (o && !dup)
            remove[nremove++] = o;
    }
    if (nremove)
        (void)gb__cleanup(gs, g, remove, nremove, now, true);
    free(remove);
    return 0;
}

int16_t gb_group_delete(gb_groups *gs, gp_str group_id, int64_t now)
{
    int16_t err = gb__status(gs, group_id, true);
    if (err)
        return err;
    gb_group *g = gb__find(gs, group_id);
    if (!g)
        return GP_E_GROUP_ID_NOT_FOUND;
    if (g->state != GB_GROUP_EMPTY)
        return GP_E_NON_EMPTY_GROUP;
    size_t npending = 0;
    for (gb_offset *o = g->txn_offsets; o; o = o->next)
        npending++;
    gb_offset **remove = gu_calloc(g->noffsets + npending + 1, sizeof *remove);
    size_t k = 0;
    for (size_t i = 0; i < g->onbuckets; i++)
        for (gb_offset *o = g->obuckets[i]; o; o = o->next)
            remove[k++] = o;
    /* Kafka's deleteAllOffsets: a tombstone too for each partition that
     * has only pending transactional offsets (once per partition). */
    size_t ncommitted = k;
    for (gb_offset *o = g->txn_offsets; o; o = o->next) {
        gp_str topic = {o->topic, o->topic_len};
        bool seen = gb__offset_find(g, topic, o->partition) != NULL;
        for (size_t j = ncommitted; j < k && !seen; j++)
            seen = gb__same_tp(remove[j], topic, o->partition);
        if (!seen)
            remove[k++] = o;
    }
    gb_logger_info("group %s deleted with %zu offset(s)", g->group_id, k);
    (void)gb__cleanup(gs, g, remove, k, now, true);
    free(remove);
    return 0;
}

/* Remove what the group holds for the partition, with a tombstone (the
 * group stays, even Empty with nothing left: the next retention check
 * deletes it, as Kafka's does). */
static void gb__forget_partition(gb_groups *gs, gb_group *g, gp_str topic, int32_t partition, int64_t now)
{
    gb_offset *o = gb__offset_find(g, topic, partition);
    for (gb_offset *x = g->txn_offsets; x && !o; x = x->next)
        if (gb__same_tp(x, topic, partition))
            o = x;
    if (!o)
        return;
    gb_logger_info("group %s: offsets of deleted partition %.*s-%d removed", g->group_id, (int)topic.len, topic.p,
                   partition);
    (void)gb__cleanup(gs, g, &o, 1, now, false);
}

/*
 * Kafka's onPartitionsDeleted: every group forgets the partition of a
 * deleted topic, committed and pending transactional offsets alike, with a
 * tombstone, so that a topic created again under the same name starts with
 * no committed offsets, and a restart does not bring them back. Groups of a
 * __consumer_offsets partition still loading are not all known yet: the
 * partition is noted and forgotten by them once it has loaded.
 */
void gb_groups_partition_deleted(gb_groups *gs, gp_str topic, int32_t partition, int64_t now)
{
    if (gs->nloading) {
        gs->deleted = gu_realloc(gs->deleted, (gs->ndeleted + 1) * sizeof *gs->deleted);
        gs->deleted[gs->ndeleted++] = (gb_deleted_tp){gb__dup(topic), topic.len, partition};
    }
    for (size_t i = 0; i < gs->nbuckets; i++)
        for (gb_group *g = gs->buckets[i]; g; g = g->hash_next)
            if (!gs->nloading || !gb_groups_loading(gs, g->partition))
                gb__forget_partition(gs, g, topic, partition, now);
}

void gb__deleted_apply(gb_groups *gs, int32_t partition, int64_t now)
{
    for (size_t k = 0; k < gs->ndeleted; k++) {
        gp_str topic = {gs->deleted[k].topic, gs->deleted[k].topic_len};
        for (size_t i = 0; i < gs->nbuckets; i++)
            for (gb_group *g = gs->buckets[i]; g; g = g->hash_next)
                if (g->partition == partition)
                    gb__forget_partition(gs, g, topic, gs->deleted[k].partition, now);
    }
    if (gs->nloading == 0) {
        for (size_t k = 0; k < gs->ndeleted; k++)
            free(gs->deleted[k].topic);
        free(gs->deleted);
        gs->deleted = NULL;
        gs->ndeleted = 0;
    }
}
