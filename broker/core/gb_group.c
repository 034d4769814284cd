/*
 * The classic group protocol's state machine (see gb_group.h): groups,
 * membership and rebalances. The committed offsets are in
 * gb_group_offsets.c, the replay of __consumer_offsets in gb_group_load.c;
 * what the three share is gb_group_internal.h. It follows Kafka's
 * GroupCoordinator and GroupMetadata; the comments name Kafka's behaviour
 * where it is not obvious.
 *
 * Timers are deadlines kept in the groups and members, checked by
 * gb_groups_tick():
 *   member->deadline     the session (heartbeat) expiry; for a member that
 *                        joined but was never part of a generation, the new
 *                        member join timeout (5 minutes, Kafka's
 *                        NewMemberJoinTimeoutMs). A member waiting for its
 *                        JoinGroup or SyncGroup answer does not expire.
 *   pending->deadline    a member id handed out with MEMBER_ID_REQUIRED that
 *                        has not joined within its session timeout
 *   group->join_deadline PreparingRebalance: the rebalance timeout, or the
 *                        initial rebalance delay of a new group
 *   group->sync_deadline CompletingRebalance: members that got their
 *                        JoinGroup answer must send SyncGroup by then
 *   gs->next_cleanup     offsets retention and dead empty groups
 * gs->wake_at is a lower bound of them all: it only moves earlier between
 * ticks, and the tick recomputes it exactly.
 */
#include "broker/core/gb_group_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/core/gb_group_records.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_errors.h"

const char *gb_group_state_name(gb_group_state s)
{
    switch (s) {
    case GB_GROUP_EMPTY:
        return "Empty";
    case GB_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GB_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GB_GROUP_STABLE:
        return "Stable";
    case GB_GROUP_DEAD:
        return "Dead";
    }
    return "Unknown";
}

/* ---- small helpers ------------------------------------------------------- */

static char *gb__dupn(const char *s, size_t len)
{
    char *p = gu_malloc(len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = 0;
    return p;
}

/* A NUL-terminated copy of a wire string; NULL for a null one. */
char *gb__dup(gp_str s)
{
    return s.len < 0 ? NULL : gb__dupn(s.p, (size_t)s.len);
}

static bool gb__eq(gp_str a, const char *b)
{
    return b && a.len >= 0 && strlen(b) == (size_t)a.len && (a.len == 0 || memcmp(a.p, b, (size_t)a.len) == 0);
}

bool gb__streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static gp_str gb__str(const char *s)
{
    return gp_str_c(s);
}

int64_t gb__wall(const gb_groups *gs, int64_t now)
{
    return now + gs->wall_offset;
}

static void gb__wake(gb_groups *gs, int64_t t)
{
    if (t < gs->wake_at)
        gs->wake_at = t;
}

uint64_t gb__hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t gb__rand(gb_groups *gs)
{
    /* splitmix64 */
    uint64_t z = (gs->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Kafka's member id: "<client id or group instance id>-<random UUID>". */
static char *gb__new_member_id(gb_groups *gs, gp_str prefix)
{
    uint64_t hi = gb__rand(gs), lo = gb__rand(gs);
    hi = (hi & 0xffffffffffff0fffULL) | 0x4000ULL;             /* version 4 */
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* IETF variant */
    size_t plen = prefix.len > 0 ? (size_t)prefix.len : 0;
    char *id = gu_malloc(plen + 1 + 36 + 1);
    if (plen)
        memcpy(id, prefix.p, plen);
    snprintf(id + plen, 38, "-%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(hi >> 32), (uint32_t)(hi >> 16) & 0xffff, (uint32_t)hi & 0xffff, (uint32_t)(lo >> 48),
             (uint64_t)(lo & 0xffffffffffffULL));
    return id;
}

/* ---- groups ------------------------------------------------------------------ */

gb_group *gb__find(const gb_groups *gs, gp_str id)
{
    if (!gs->nbuckets || id.len < 0)
        return NULL;
    for (gb_group *g = gs->buckets[gb__hash(id.p, (size_t)id.len) & (gs->nbuckets - 1)]; g; g = g->hash_next)
        if (g->id_len == id.len && (id.len == 0 || memcmp(g->group_id, id.p, (size_t)id.len) == 0))
            return g;
    return NULL;
}

static void gb__insert(gb_groups *gs, gb_group *g)
{
    if (gs->count + 1 > gs->nbuckets) {
        size_t nb = gs->nbuckets ? gs->nbuckets * 2 : 64;
        gb_group **b = gu_calloc(nb, sizeof *b);
        for (size_t i = 0; i < gs->nbuckets; i++)
            for (gb_group *x = gs->buckets[i], *next; x; x = next) {
                next = x->hash_next;
                size_t k = gb__hash(x->group_id, (size_t)x->id_len) & (nb - 1);
                x->hash_next = b[k];
                b[k] = x;
            }
        free(gs->buckets);
        gs->buckets = b;
        gs->nbuckets = nb;
    }
    size_t k = gb__hash(g->group_id, (size_t)g->id_len) & (gs->nbuckets - 1);
    g->hash_next = gs->buckets[k];
    gs->buckets[k] = g;
    gs->count++;
}

gb_group *gb__group_new(gb_groups *gs, gp_str id, int64_t now)
{
    gb_group *g = gu_calloc(1, sizeof *g);
    g->group_id = gb__dup(id);
    g->id_len = id.len;
    g->partition = gb_groups_partition_for(gs, id);
    g->state = GB_GROUP_EMPTY;
    g->state_timestamp = gb__wall(gs, now);
    g->join_deadline = GB_NO_DEADLINE;
    g->sync_deadline = GB_NO_DEADLINE;
    gb__insert(gs, g);
    return g;
}

void gb__member_free(gb_member *m)
{
    if (m->join_waiter || m->sync_waiter)
        abort(); /* a parked request would never be answered */
    free(m->member_id);
    free(m->group_instance_id);
    free(m->client_id);
    free(m->client_host);
    for (int32_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    free(m->assignment);
    free(m);
}

void gb__offset_free(gb_offset *o)
{
    free(o->topic);
    free(o->metadata);
    free(o);
}

void gb__clear_subscribed(gb_group *g)
{
    for (int32_t i = 0; i < g->nsubscribed; i++)
        free(g->subscribed[i]);
    free(g->subscribed);
    g->subscribed = NULL;
    g->nsubscribed = 0;
    g->subscribed_known = false;
}

/* Unlink from the registry and free. The group must have no member with a
 * parked request. */
void gb__group_free(gb_groups *gs, gb_group *g)
{
    size_t k = gb__hash(g->group_id, (size_t)g->id_len) & (gs->nbuckets - 1);
    for (gb_group **pp = &gs->buckets[k]; *pp; pp = &(*pp)->hash_next)
        if (*pp == g) {
            *pp = g->hash_next;
            gs->count--;
            break;
        }
    for (gb_member *m = g->members, *next; m; m = next) {
        next = m->next;
        gb__member_free(m);
    }
    for (gb_pending *p = g->pending, *next; p; p = next) {
        next = p->next;
        free(p->member_id);
        free(p);
    }
    for (size_t i = 0; i < g->onbuckets; i++)
        for (gb_offset *o = g->obuckets[i], *next; o; o = next) {
            next = o->next;
            gb__offset_free(o);
        }
    free(g->obuckets);
    gb__txn_offsets_free(gs, g);
    gb__clear_subscribed(g);
    free(g->group_id);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->loaded_leader);
    free(g);
}

/* A group that holds nothing: created by a request that then failed. */
bool gb__group_unused(const gb_group *g)
{
    return g->state == GB_GROUP_EMPTY && g->nmembers == 0 && !g->pending && g->noffsets == 0 && !g->txn_offsets &&
           g->generation == 0 && !g->protocol_type;
}

static void gb__transition(gb_groups *gs, gb_group *g, gb_group_state s, int64_t now)
{
    g->state = s;
    g->state_timestamp = gb__wall(gs, now);
}

gb_member *gb__member(const gb_group *g, gp_str id)
{
    for (gb_member *m = g->members; m; m = m->next)
        if (gb__eq(id, m->member_id))
            return m;
    return NULL;
}

gb_member *gb__static_member(const gb_group *g, gp_str instance_id)
{
    if (instance_id.len < 0)
        return NULL;
    for (gb_member *m = g->members; m; m = m->next)
        if (gb__eq(instance_id, m->group_instance_id))
            return m;
    return NULL;
}

static gb_pending *gb__pending(const gb_group *g, gp_str id)
{
    for (gb_pending *p = g->pending; p; p = p->next)
        if (gb__eq(id, p->member_id))
            return p;
    return NULL;
}

static void gb__pending_remove(gb_group *g, gp_str id)
{
    for (gb_pending **pp = &g->pending; *pp; pp = &(*pp)->next)
        if (gb__eq(id, (*pp)->member_id)) {
            gb_pending *p = *pp;
            *pp = p->next;
            free(p->member_id);
            free(p);
            return;
        }
}

/* The largest rebalance timeout of the members (Kafka's rebalanceTimeoutMs). */
static int32_t gb__rebalance_timeout(const gb_group *g)
{
    int32_t t = 0;
    for (gb_member *m = g->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t)
            t = m->rebalance_timeout_ms;
    return t;
}

static const gb_member_protocol *gb__protocol(const gb_member *m, const char *name)
{
    for (int32_t i = 0; name && i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

/* How many members support the protocol. */
static int32_t gb__protocol_votes(const gb_group *g, gp_str name)
{
    int32_t n = 0;
    for (gb_member *m = g->members; m; m = m->next)
        for (int32_t i = 0; i < m->nprotocols; i++)
            if (gb__eq(name, m->protocols[i].name)) {
                n++;
                break;
            }
    return n;
}

/* Kafka's supportsProtocols: an empty group takes any non-empty protocol
 * type with at least one protocol; otherwise the type must match and one of
 * the protocols must be supported by every member. */
static bool gb__supports(const gb_group *g, gp_str type, const gb_join_protocol *protos, int32_t n)
{
    if (g->state == GB_GROUP_EMPTY)
        return type.len > 0 && n > 0;
    if (!gb__eq(type, g->protocol_type))
        return false;
    for (int32_t i = 0; i < n; i++)
        if (gb__protocol_votes(g, protos[i].name) == g->nmembers)
            return true;
    return false;
}

/* The member's protocols equal these, names and metadata, in order. */
static bool gb__matches(const gb_member *m, const gb_join_protocol *protos, int32_t n)
{
    if (m->nprotocols != n)
        return false;
    for (int32_t i = 0; i < n; i++) {
        const gb_member_protocol *mp = &m->protocols[i];
        int32_t len = protos[i].metadata.len > 0 ? protos[i].metadata.len : 0;
        if (!gb__eq(protos[i].name, mp->name) || mp->len != len ||
            (len && memcmp(mp->metadata, protos[i].metadata.p, (size_t)len) != 0))
            return false;
    }
    return true;
}

void gb__set_protocols(gb_member *m, const gb_join_protocol *protos, int32_t n)
{
    for (int32_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->nprotocols = n > 0 ? n : 0;
    m->protocols = gu_calloc((size_t)m->nprotocols, sizeof *m->protocols);
    for (int32_t i = 0; i < m->nprotocols; i++) {
        m->protocols[i].name = gb__dupn(protos[i].name.p, (size_t)(protos[i].name.len > 0 ? protos[i].name.len : 0));
        m->protocols[i].len = protos[i].metadata.len > 0 ? protos[i].metadata.len : 0;
        m->protocols[i].metadata = gu_malloc((size_t)m->protocols[i].len);
        if (m->protocols[i].len)
            memcpy(m->protocols[i].metadata, protos[i].metadata.p, (size_t)m->protocols[i].len);
    }
}

void gb__set_assignment(gb_member *m, gp_bytes a)
{
    free(m->assignment);
    m->assignment_len = a.len > 0 ? a.len : 0;
    m->assignment = gu_malloc((size_t)m->assignment_len);
    if (m->assignment_len)
        memcpy(m->assignment, a.p, (size_t)m->assignment_len);
}

/*
 * Kafka's selectProtocol: the candidates are the protocols every member
 * supports; each member votes for its most preferred candidate and the
 * protocol with the most votes wins. Ties go to the protocol the earliest
 * member voted for (Kafka's choice among ties is a hash map's order).
 */
static const char *gb__select_protocol(const gb_group *g)
{
    const char *best = NULL;
    int32_t best_votes = 0;
    for (gb_member *m = g->members; m; m = m->next) {
        const char *vote = NULL;
        for (int32_t i = 0; i < m->nprotocols && !vote; i++)
            if (gb__protocol_votes(g, gb__str(m->protocols[i].name)) == g->nmembers)
                vote = m->protocols[i].name;
        if (!vote)
            continue;
        int32_t votes = 0;
        for (gb_member *x = g->members; x; x = x->next) {
            const char *xv = NULL;
            for (int32_t i = 0; i < x->nprotocols && !xv; i++)
                if (gb__protocol_votes(g, gb__str(x->protocols[i].name)) == g->nmembers)
                    xv = x->protocols[i].name;
            if (xv && strcmp(xv, vote) == 0)
                votes++;
        }
        if (votes > best_votes) {
            best = vote;
            best_votes = votes;
        }
    }
    return best;
}

/* The topics in a ConsumerProtocolSubscription (its v0 prefix, which every
 * version shares: version int16, topics [string]). */
static bool gb__parse_subscription(const uint8_t *p, int32_t len, char ***topics, int32_t *n)
{
    gp_reader r;
    gp_reader_init(&r, p, (size_t)(len > 0 ? len : 0));
    (void)gp_read_int16(&r);
    int32_t count = gp_read_array_len(&r, false, false);
    if (r.err || count < 0)
        return false;
    for (int32_t i = 0; i < count; i++) {
        gp_str t = gp_read_string(&r, false, false);
        if (r.err)
            return false;
        bool dup = false;
        for (int32_t j = 0; j < *n && !dup; j++)
            dup = gb__eq(t, (*topics)[j]);
        if (dup)
            continue;
        *topics = gu_realloc(*topics, (size_t)(*n + 1) * sizeof **topics);
        (*topics)[(*n)++] = gb__dup(t);
    }
    return true;
}

/* Kafka's computeSubscribedTopics: known only for the consumer protocol. */
void gb__compute_subscribed(gb_group *g)
{
    gb__clear_subscribed(g);
    if (!gb__streq(g->protocol_type, GB_CONSUMER_PROTOCOL))
        return;
    if (g->nmembers == 0) {
        g->subscribed_known = true;
        return;
    }
    if (!g->protocol_name)
        return;
    for (gb_member *m = g->members; m; m = m->next) {
        const gb_member_protocol *mp = gb__protocol(m, g->protocol_name);
        if (!mp || !gb__parse_subscription(mp->metadata, mp->len, &g->subscribed, &g->nsubscribed)) {
            gb__clear_subscribed(g);
            return;
        }
    }
    g->subscribed_known = true;
}

/* Kafka's isSubscribedToTopic: true when unknown, to be safe. */
bool gb__subscribed_to(const gb_group *g, gp_str topic)
{
    if (!g->subscribed_known)
        return true;
    for (int32_t i = 0; i < g->nsubscribed; i++)
        if (gb__eq(topic, g->subscribed[i]))
            return true;
    return false;
}

/* ---- answering parked requests ---------------------------------------------- */

static void gb__join_reply(gb_groups *gs, void *waiter, const gb_join_result *r)
{
    gs->hooks.join_done(gs->hooks.ctx, waiter, r);
}

static void gb__join_error(gb_groups *gs, void *waiter, const char *member_id, int16_t err)
{
    gb_join_result r = {
        .error = err,
        .member_id = member_id ? member_id : "",
        .generation_id = -1,
        .leader = "",
    };
    gb__join_reply(gs, waiter, &r);
}

/* Answer the member's parked JoinGroup, if any (Kafka's maybeInvokeJoinCallback). */
static void gb__member_join_answer(gb_groups *gs, gb_group *g, gb_member *m, const gb_join_result *r)
{
    if (!m->join_waiter)
        return;
    void *w = m->join_waiter;
    m->join_waiter = NULL;
    g->num_awaiting_join--;
    gb__join_reply(gs, w, r);
}

static void gb__member_join_error(gb_groups *gs, gb_group *g, gb_member *m, const char *member_id, int16_t err)
{
    gb_join_result r = {
        .error = err,
        .member_id = member_id,
        .generation_id = -1,
        .leader = "",
    };
    gb__member_join_answer(gs, g, m, &r);
}

/* The current generation as a JoinGroup answer; the leader gets the
 * members and their metadata for the selected protocol. */
static void gb__member_join_generation(gb_groups *gs, gb_group *g, gb_member *m, const char *leader, bool with_members,
                                       bool skip_assignment)
{
    gb_join_member *list = NULL;
    int32_t n = 0;
    if (with_members) {
        list = gu_calloc((size_t)g->nmembers, sizeof *list);
        for (gb_member *x = g->members; x; x = x->next) {
            const gb_member_protocol *mp = gb__protocol(x, g->protocol_name);
            list[n].member_id = x->member_id;
            list[n].group_instance_id = x->group_instance_id;
            list[n].metadata = mp ? (gp_bytes){mp->metadata, mp->len} : (gp_bytes){NULL, 0};
            n++;
        }
    }
    gb_join_result r = {
        .error = 0,
        .member_id = m->member_id,
        .generation_id = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .leader = leader ? leader : "",
        .skip_assignment = skip_assignment,
        .members = list,
        .nmembers = n,
    };
    gb__member_join_answer(gs, g, m, &r);
    free(list);
}

static void gb__member_sync_answer(gb_groups *gs, gb_member *m, const gb_sync_result *r)
{
    if (!m->sync_waiter)
        return;
    void *w = m->sync_waiter;
    m->sync_waiter = NULL;
    gs->hooks.sync_done(gs->hooks.ctx, w, r);
}

static void gb__sync_error(gb_groups *gs, void *waiter, int16_t err)
{
    gb_sync_result r = {.error = err, .assignment = {NULL, 0}};
    gs->hooks.sync_done(gs->hooks.ctx, waiter, &r);
}

void gb__schedule_heartbeat(gb_groups *gs, gb_member *m, int64_t now, int64_t timeout)
{
    m->deadline = now + timeout;
    gb__wake(gs, m->deadline);
}

/* ---- membership ---------------------------------------------------------------- */

void gb__link_member(gb_group *g, gb_member *m)
{
    if (g->members_tail)
        g->members_tail->next = m;
    else
        g->members = m;
    g->members_tail = m;
    g->nmembers++;
}

static void gb__add_member(gb_group *g, gb_member *m, gb_join_params const *p, void *waiter)
{
    if (g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = gb__dup(p->protocol_type);
    }
    if (!g->leader)
        g->leader = m;
    gb__link_member(g, m);
    m->join_waiter = waiter;
    if (waiter)
        g->num_awaiting_join++;
    gb__pending_remove(g, gb__str(m->member_id));
}

/* Unlink a member (Kafka's GroupMetadata.remove); the caller answers its
 * parked requests first and frees it. A leaving leader is replaced by the
 * first remaining member. */
static void gb__unlink_member(gb_group *g, gb_member *m)
{
    gb_member *prev = NULL;
    for (gb_member *x = g->members; x; prev = x, x = x->next)
        if (x == m) {
            if (prev)
                prev->next = m->next;
            else
                g->members = m->next;
            if (g->members_tail == m)
                g->members_tail = prev;
            break;
        }
    m->next = NULL;
    g->nmembers--;
    if (m->join_waiter)
        g->num_awaiting_join--;
    if (g->leader == m)
        g->leader = g->members;
}

/* Remove a member that has no parked request left, and free it. */
static void gb__drop_member(gb_groups *gs, gb_group *g, gb_member *m)
{
    gb__member_join_error(gs, g, m, "", GP_E_UNKNOWN_MEMBER_ID);
    gb_sync_result r = {.error = GP_E_UNKNOWN_MEMBER_ID};
    gb__member_sync_answer(gs, m, &r);
    gb__unlink_member(g, m);
    gb__member_free(m);
}

static bool gb__all_joined(const gb_group *g)
{
    return g->nmembers == g->num_awaiting_join && !g->pending;
}

static void gb__complete_join(gb_groups *gs, gb_group *g, int64_t now);
static void gb__check_join(gb_groups *gs, gb_group *g, int64_t now);

/* Write the group's metadata record (Kafka's storeGroup). assignments[i] is
 * the i-th member's, or NULL for the members' current ones. */
static int16_t gb__store_group(gb_groups *gs, gb_group *g, const gp_bytes *assignments, int64_t now)
{
    gp_arena *a = &gs->scratch;
    gb_group_value v = {
        .protocol_type = gb__str(g->protocol_type ? g->protocol_type : ""),
        .generation = g->generation,
        .protocol = gb__str(g->protocol_name),
        .leader = gb__str(g->leader ? g->leader->member_id : NULL),
        .current_state_timestamp = g->state_timestamp,
        .nmembers = g->nmembers,
    };
    v.members = gp_arena_calloc(a, (size_t)(g->nmembers ? g->nmembers : 1), sizeof *v.members);
    int32_t i = 0;
    for (gb_member *m = g->members; m; m = m->next, i++) {
        const gb_member_protocol *mp = gb__protocol(m, g->protocol_name);
        gb_group_value_member *vm = &v.members[i];
        vm->member_id = gb__str(m->member_id);
        vm->group_instance_id = gb__str(m->group_instance_id);
        vm->client_id = gb__str(m->client_id);
        vm->client_host = gb__str(m->client_host);
        vm->rebalance_timeout = m->rebalance_timeout_ms;
        vm->session_timeout = m->session_timeout_ms;
        vm->subscription = mp ? (gp_bytes){mp->metadata, mp->len} : (gp_bytes){NULL, 0};
        vm->assignment = assignments ? assignments[i] : (gp_bytes){m->assignment, m->assignment_len};
    }
    gb_kv rec = {
        .key = gb_group_key_encode(a, (gp_str){g->group_id, g->id_len}),
        .value = gb_group_value_encode(a, &v),
    };
    int16_t err = gs->hooks.append(gs->hooks.ctx, g->partition, &rec, 1, gb__wall(gs, now));
    gp_arena_reset(a, NULL, 0);
    if (err)
        gb_logger_warn("group %s: storing generation %d failed: %s", g->group_id, g->generation, gp_error_name(err));
    return err;
}

/* Kafka's propagateAssignment: every member waiting in SyncGroup gets its
 * assignment (or the error), and its session restarts. */
static void gb__propagate(gb_groups *gs, gb_group *g, int16_t err, int64_t now)
{
    for (gb_member *m = g->members; m; m = m->next) {
        if (!m->sync_waiter)
            continue;
        gb_sync_result r = {
            .error = err,
            .protocol_type = err ? NULL : g->protocol_type,
            .protocol_name = err ? NULL : g->protocol_name,
            .assignment = {m->assignment, m->assignment_len},
        };
        gb__member_sync_answer(gs, m, &r);
        gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
    }
}

static void gb__reset_and_propagate_error(gb_groups *gs, gb_group *g, int16_t err, int64_t now)
{
    for (gb_member *m = g->members; m; m = m->next)
        gb__set_assignment(m, (gp_bytes){NULL, 0});
    gb__propagate(gs, g, err, now);
}

static void gb__clear_pending_sync(gb_group *g)
{
    for (gb_member *m = g->members; m; m = m->next)
        m->pending_sync = false;
    g->sync_deadline = GB_NO_DEADLINE;
}

/*
 * Kafka's prepareRebalance: members waiting in SyncGroup are told
 * REBALANCE_IN_PROGRESS, and the join phase starts. A group that was Empty
 * waits group.initial.rebalance.delay.ms first (and again, up to the
 * rebalance timeout, while new members keep arriving); any other waits
 * until every member rejoined or the rebalance timeout passed.
 */
void gb__prepare_rebalance(gb_groups *gs, gb_group *g, int64_t now, const char *reason)
{
    if (g->state == GB_GROUP_COMPLETING_REBALANCE)
        gb__reset_and_propagate_error(gs, g, GP_E_REBALANCE_IN_PROGRESS, now);
    gb__clear_pending_sync(g);
    if (g->state == GB_GROUP_EMPTY) {
        int32_t delay = gs->cfg.initial_rebalance_delay_ms > 0 ? gs->cfg.initial_rebalance_delay_ms : 0;
        int32_t rt = gb__rebalance_timeout(g);
        g->join_initial = true;
        g->join_delay_ms = delay;
        g->join_remaining_ms = rt - delay > 0 ? rt - delay : 0;
        g->new_member_added = false;
        g->join_deadline = now + delay;
    } else {
        g->join_initial = false;
        g->join_deadline = now + gb__rebalance_timeout(g);
    }
    gb__wake(gs, g->join_deadline);
    gb_logger_info("group %s: preparing to rebalance in state %s with old generation %d (%s)", g->group_id,
                   gb_group_state_name(g->state), g->generation, reason);
    gb__transition(gs, g, GB_GROUP_PREPARING_REBALANCE, now);
    gb__check_join(gs, g, now);
}

static void gb__maybe_prepare_rebalance(gb_groups *gs, gb_group *g, int64_t now, const char *reason)
{
    if (g->state == GB_GROUP_STABLE || g->state == GB_GROUP_COMPLETING_REBALANCE || g->state == GB_GROUP_EMPTY)
        gb__prepare_rebalance(gs, g, now, reason);
}

/* Can the join phase end now? (Kafka's DelayedJoin and InitialDelayedJoin.) */
static void gb__check_join(gb_groups *gs, gb_group *g, int64_t now)
{
    if (g->state != GB_GROUP_PREPARING_REBALANCE)
        return;
    if (g->join_initial) {
        while (now >= g->join_deadline) {
            if (g->new_member_added && g->join_remaining_ms != 0) {
                /* New members keep arriving: wait again, within the rebalance timeout. */
                int32_t cfgd = gs->cfg.initial_rebalance_delay_ms > 0 ? gs->cfg.initial_rebalance_delay_ms : 0;
                int32_t delay = cfgd < g->join_remaining_ms ? cfgd : g->join_remaining_ms;
                int32_t rem = g->join_remaining_ms - g->join_delay_ms;
                g->new_member_added = false;
                g->join_delay_ms = delay;
                g->join_remaining_ms = rem > 0 ? rem : 0;
                g->join_deadline = now + delay;
                gb__wake(gs, g->join_deadline);
                continue;
            }
            gb__complete_join(gs, g, now);
            return;
        }
        return;
    }
    if (gb__all_joined(g) || now >= g->join_deadline)
        gb__complete_join(gs, g, now);
}

/* Kafka's maybeElectNewJoinedLeader. */
static bool gb__elect_joined_leader(gb_group *g)
{
    if (!g->leader)
        return false;
    if (g->leader->join_waiter)
        return true;
    for (gb_member *m = g->members; m; m = m->next)
        if (m->join_waiter) {
            g->leader = m;
            return true;
        }
    return false;
}

/*
 * Kafka's onCompleteJoin: dynamic members that did not rejoin are removed
 * (static ones stay: they may come back within their session), a leader
 * that did not rejoin is replaced by one that did, the generation advances
 * and every member that joined gets its answer; the leader gets the member
 * list. Then each member has the rebalance timeout to send SyncGroup.
 */
static void gb__complete_join(gb_groups *gs, gb_group *g, int64_t now)
{
    for (gb_member *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_waiter && !m->group_instance_id) {
            gb_logger_info("group %s: removing member %s, which did not rejoin", g->group_id, m->member_id);
            gb__drop_member(gs, g, m);
        }
    }
    if (!gb__elect_joined_leader(g) && g->nmembers > 0) {
        /* Only static members that have not rejoined: wait for them to
         * rejoin or for their sessions to expire. */
        g->join_initial = false;
        g->join_deadline = now + gb__rebalance_timeout(g);
        gb__wake(gs, g->join_deadline);
        return;
    }
    g->generation++;
    g->join_deadline = GB_NO_DEADLINE;
    free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers > 0) {
        const char *selected = gb__select_protocol(g);
        g->protocol_name = gb__dupn(selected, strlen(selected));
        gb__transition(gs, g, GB_GROUP_COMPLETING_REBALANCE, now);
    } else {
        gb__transition(gs, g, GB_GROUP_EMPTY, now);
    }
    gb__compute_subscribed(g);
    gb__clear_pending_sync(g);
    if (g->state == GB_GROUP_EMPTY) {
        gb_logger_info("group %s with generation %d is now empty", g->group_id, g->generation);
        (void)gb__store_group(gs, g, NULL, now);
        return;
    }
    gb_logger_info("group %s: stabilized generation %d with %d member(s), protocol %s, leader %s", g->group_id,
                   g->generation, g->nmembers, g->protocol_name, g->leader->member_id);
    for (gb_member *m = g->members; m; m = m->next) {
        gb__member_join_generation(gs, g, m, g->leader->member_id, m == g->leader, false);
        gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
        m->is_new = false;
        m->pending_sync = true;
    }
    g->sync_deadline = now + gb__rebalance_timeout(g);
    g->sync_generation = g->generation;
    gb__wake(gs, g->sync_deadline);
}

/* Kafka's removeMemberAndUpdateGroup. */
static void gb__remove_member_and_update(gb_groups *gs, gb_group *g, gb_member *m, int64_t now, const char *reason)
{
    gb__drop_member(gs, g, m);
    switch (g->state) {
    case GB_GROUP_STABLE:
    case GB_GROUP_COMPLETING_REBALANCE:
        gb__maybe_prepare_rebalance(gs, g, now, reason);
        break;
    case GB_GROUP_PREPARING_REBALANCE:
        gb__check_join(gs, g, now);
        break;
    default:
        break;
    }
}

static void gb__sync_check(gb_group *g)
{
    for (gb_member *m = g->members; m; m = m->next)
        if (m->pending_sync)
            return;
    g->sync_deadline = GB_NO_DEADLINE;
}

/* ---- validation ---------------------------------------------------------------- */

/* Kafka's validateGroupStatus: the group id, and whether its partition is
 * loading. Offset and admin APIs accept the empty group id. */
int16_t gb__status(const gb_groups *gs, gp_str group_id, bool allow_empty)
{
    if (group_id.len < 0 || (!allow_empty && group_id.len == 0))
        return GP_E_INVALID_GROUP_ID;
    if (gs->nloading && gb_groups_loading(gs, gb_groups_partition_for(gs, group_id)))
        return GP_E_COORDINATOR_LOAD_IN_PROGRESS;
    return 0;
}

/* Kafka's validateCurrentMember: a static member's instance id must map to
 * this member id (FENCED_INSTANCE_ID if it maps to another), and the member
 * must exist. */
int16_t gb__validate_member(const gb_group *g, gp_str member_id, gp_str instance_id)
{
    if (instance_id.len >= 0) {
        gb_member *s = gb__static_member(g, instance_id);
        if (!s)
            return GP_E_UNKNOWN_MEMBER_ID;
        if (!gb__eq(member_id, s->member_id))
            return GP_E_FENCED_INSTANCE_ID;
        return 0;
    }
    return gb__member(g, member_id) ? 0 : GP_E_UNKNOWN_MEMBER_ID;
}

/* ---- gb_groups ------------------------------------------------------------------- */

gb_groups *gb_groups_new(const gb_groups_config *cfg, const gb_groups_hooks *hooks, int64_t now)
{
    gb_groups *gs = gu_calloc(1, sizeof *gs);
    gs->cfg = *cfg;
    if (gs->cfg.num_partitions <= 0)
        gs->cfg.num_partitions = 1;
    if (gs->cfg.retention_check_interval_ms <= 0)
        gs->cfg.retention_check_interval_ms = 600000;
    gs->hooks = *hooks;
    gs->rng = cfg->seed;
    gs->wake_at = GB_NO_DEADLINE;
    gs->next_cleanup = now + gs->cfg.retention_check_interval_ms;
    gb__wake(gs, gs->next_cleanup);
    gp_arena_init(&gs->scratch, NULL, 0);
    gb_groups_set_num_partitions(gs, gs->cfg.num_partitions);
    return gs;
}

void gb_groups_shutdown(gb_groups *gs)
{
    for (size_t i = 0; i < gs->nbuckets; i++)
        for (gb_group *g = gs->buckets[i]; g; g = g->hash_next)
            for (gb_member *m = g->members; m; m = m->next) {
                gb__member_join_error(gs, g, m, m->member_id, GP_E_NOT_COORDINATOR);
                gb_sync_result r = {.error = GP_E_NOT_COORDINATOR};
                gb__member_sync_answer(gs, m, &r);
            }
}

void gb_groups_free(gb_groups *gs)
{
    if (!gs)
        return;
    for (size_t i = 0; i < gs->nbuckets; i++)
        while (gs->buckets[i])
            gb__group_free(gs, gs->buckets[i]);
    free(gs->buckets);
    free(gs->loading);
    for (size_t k = 0; k < gs->ndeleted; k++)
        free(gs->deleted[k].topic);
    free(gs->deleted);
    gp_arena_reset(&gs->scratch, NULL, 0);
    free(gs);
}

void gb_groups_set_wall_offset(gb_groups *gs, int64_t wall_minus_now)
{
    gs->wall_offset = wall_minus_now;
}

void gb_groups_set_num_partitions(gb_groups *gs, int32_t n)
{
    if (n <= 0)
        n = 1;
    gs->cfg.num_partitions = n;
    if (n > gs->loading_len) {
        gs->loading = gu_realloc(gs->loading, (size_t)n * sizeof *gs->loading);
        memset(gs->loading + gs->loading_len, 0, (size_t)(n - gs->loading_len) * sizeof *gs->loading);
        gs->loading_len = n;
    }
    for (size_t i = 0; i < gs->nbuckets; i++)
        for (gb_group *g = gs->buckets[i]; g; g = g->hash_next)
            g->partition = gb_groups_partition_for(gs, (gp_str){g->group_id, g->id_len});
}

int32_t gb_groups_partition_for(const gb_groups *gs, gp_str group_id)
{
    return gb_group_partition_for(group_id.p, (size_t)(group_id.len > 0 ? group_id.len : 0), gs->cfg.num_partitions);
}

/* ---- JoinGroup ------------------------------------------------------------------- */

/* Kafka's acceptJoiningMember: group.max.size, counted over the members
 * that rejoined while a rebalance is being prepared. */
static bool gb__accept_joining(const gb_groups *gs, const gb_group *g, gp_str member_id)
{
    gb_member *m;
    switch (g->state) {
    case GB_GROUP_EMPTY:
    case GB_GROUP_DEAD:
        return true;
    case GB_GROUP_PREPARING_REBALANCE:
        m = gb__member(g, member_id);
        return (m && m->join_waiter) || g->num_awaiting_join < gs->cfg.max_size;
    case GB_GROUP_COMPLETING_REBALANCE:
    case GB_GROUP_STABLE:
        return gb__member(g, member_id) || g->nmembers < gs->cfg.max_size;
    }
    return false;
}

/* Replace the member's parked JoinGroup: the one it replaces (a retry
 * after the client gave up on it) is told to rejoin. Kafka drops it. */
static void gb__update_member(gb_groups *gs, gb_group *g, gb_member *m, const gb_join_params *p, void *waiter)
{
    if (m->join_waiter && waiter) {
        void *old = m->join_waiter;
        m->join_waiter = NULL;
        g->num_awaiting_join--;
        gb__join_error(gs, old, m->member_id, GP_E_REBALANCE_IN_PROGRESS);
    }
    gb__set_protocols(m, p->protocols, p->nprotocols);
    m->rebalance_timeout_ms = p->rebalance_timeout_ms;
    m->session_timeout_ms = p->session_timeout_ms;
    if (waiter && !m->join_waiter)
        g->num_awaiting_join++;
    else if (!waiter && m->join_waiter)
        g->num_awaiting_join--;
    m->join_waiter = waiter;
}

static void gb__add_member_and_rebalance(gb_groups *gs, gb_group *g, char *member_id, const gb_join_params *p,
                                         void *waiter, int64_t now)
{
    gb_member *m = gu_calloc(1, sizeof *m);
    m->member_id = member_id;
    m->group_instance_id = gb__dup(p->group_instance_id);
    m->client_id = gb__dup(p->client_id.len >= 0 ? p->client_id : GP_STR_LIT(""));
    m->client_host = gb__dup(p->client_host.len >= 0 ? p->client_host : GP_STR_LIT(""));
    m->rebalance_timeout_ms = p->rebalance_timeout_ms;
    m->session_timeout_ms = p->session_timeout_ms;
    gb__set_protocols(m, p->protocols, p->nprotocols);
    m->assignment = gu_malloc(0);
    m->is_new = true;
    if (g->state == GB_GROUP_PREPARING_REBALANCE && g->generation == 0)
        g->new_member_added = true;
    gb__add_member(g, m, p, waiter);
    /* A new member cannot heartbeat before it has a generation, and its
     * connection may be gone: Kafka gives it 5 minutes to complete the join. */
    gb__schedule_heartbeat(gs, m, now, GB_NEW_MEMBER_JOIN_TIMEOUT_MS);
    char reason[160];
    snprintf(reason, sizeof reason, "adding new member %s", m->member_id);
    gb__maybe_prepare_rebalance(gs, g, now, reason);
}

/*
 * A static member (known group instance id) joins with no member id: a
 * restarted client. Its old member id is fenced (a request still parked
 * under it gets FENCED_INSTANCE_ID) and replaced by a new one. In a Stable
 * group whose protocol would not change, no rebalance happens: the group
 * metadata is stored and the member gets the current generation back; the
 * leader id in that answer is the old leader's, so that a rejoining leader
 * does not compute an assignment the stable group would ignore (v9:
 * skip_assignment tells it instead).
 */
static void gb__static_member_rejoin(gb_groups *gs, gb_group *g, gb_member *m, char *new_id, const gb_join_params *p,
                                     void *waiter, int64_t now)
{
    char *old_leader = g->leader ? gb__dupn(g->leader->member_id, strlen(g->leader->member_id)) : NULL;
    char *old_id = m->member_id;
    gb__member_join_error(gs, g, m, old_id, GP_E_FENCED_INSTANCE_ID);
    gb_sync_result fenced = {.error = GP_E_FENCED_INSTANCE_ID};
    gb__member_sync_answer(gs, m, &fenced);
    m->member_id = new_id;
    gb_logger_info("group %s: static member %s rejoined; member id %s replaces %s", g->group_id, m->group_instance_id,
                   new_id, old_id);
    gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);

    /* Kept to undo the update if the group cannot be stored. */
    gb_member saved = *m;
    m->protocols = NULL;
    m->nprotocols = 0;
    gb__set_protocols(m, p->protocols, p->nprotocols);
    m->rebalance_timeout_ms = p->rebalance_timeout_ms;
    m->session_timeout_ms = p->session_timeout_ms;
    m->join_waiter = waiter;
    g->num_awaiting_join++;

    switch (g->state) {
    case GB_GROUP_STABLE: {
        const char *next = gb__select_protocol(g);
        if (next && gb__streq(next, g->protocol_name)) {
            int16_t err = gb__store_group(gs, g, NULL, now);
            if (err) {
                for (int32_t i = 0; i < m->nprotocols; i++) {
                    free(m->protocols[i].name);
                    free(m->protocols[i].metadata);
                }
                free(m->protocols);
                m->protocols = saved.protocols;
                m->nprotocols = saved.nprotocols;
                m->rebalance_timeout_ms = saved.rebalance_timeout_ms;
                m->session_timeout_ms = saved.session_timeout_ms;
                m->join_waiter = NULL;
                g->num_awaiting_join--;
                m->member_id = old_id;
                old_id = new_id;
                gb_join_result r = {
                    .error = err,
                    .member_id = "",
                    .generation_id = g->generation,
                    .protocol_type = g->protocol_type,
                    .protocol_name = g->protocol_name,
                    .leader = old_leader ? old_leader : "",
                };
                gb__join_reply(gs, waiter, &r);
            } else if (p->support_skip_assignment) {
                bool leader = g->leader == m;
                gb__member_join_generation(gs, g, m, g->leader ? g->leader->member_id : "", leader, leader);
            } else {
                gb__member_join_generation(gs, g, m, old_leader, false, false);
            }
        } else {
            gb__maybe_prepare_rebalance(gs, g, now, "a static member rejoined with other protocols");
        }
        break;
    }
    case GB_GROUP_COMPLETING_REBALANCE:
        /* The leader may have computed its assignment with the old member
         * id: start over. */
        gb__prepare_rebalance(gs, g, now, "a static member rejoined during the sync phase");
        break;
    default:
        break;
    }
    if (saved.protocols != m->protocols) {
        for (int32_t i = 0; i < saved.nprotocols; i++) {
            free(saved.protocols[i].name);
            free(saved.protocols[i].metadata);
        }
        free(saved.protocols);
    }
    free(old_id);
    free(old_leader);
}

static void gb__new_member_join(gb_groups *gs, gb_group *g, const gb_join_params *p, void *waiter, int64_t now)
{
    if (!gb__supports(g, p->protocol_type, p->protocols, p->nprotocols)) {
        gb__join_error(gs, waiter, "", GP_E_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    char *id = gb__new_member_id(gs, p->group_instance_id.len >= 0 ? p->group_instance_id : p->client_id);
    if (p->group_instance_id.len >= 0) {
        gb_member *old = gb__static_member(g, p->group_instance_id);
        if (old)
            gb__static_member_rejoin(gs, g, old, id, p, waiter, now);
        else
            gb__add_member_and_rebalance(gs, g, id, p, waiter, now);
    } else if (p->require_known_member_id) {
        /* KIP-394: the member must come back with this id, so that a
         * client whose first JoinGroup timed out does not leave a ghost. */
        gb_pending *pm = gu_calloc(1, sizeof *pm);
        pm->member_id = id;
        pm->deadline = now + p->session_timeout_ms;
        pm->next = g->pending;
        g->pending = pm;
        gb__wake(gs, pm->deadline);
        gb__join_error(gs, waiter, id, GP_E_MEMBER_ID_REQUIRED);
    } else {
        gb__add_member_and_rebalance(gs, g, id, p, waiter, now);
    }
}

static void gb__current_member_join(gb_groups *gs, gb_group *g, const gb_join_params *p, void *waiter, int64_t now)
{
    char member_id[256];
    snprintf(member_id, sizeof member_id, "%.*s", p->member_id.len > 255 ? 255 : (int)p->member_id.len, p->member_id.p);
    if (!gb__supports(g, p->protocol_type, p->protocols, p->nprotocols)) {
        gb__join_error(gs, waiter, member_id, GP_E_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    if (gb__pending(g, p->member_id)) {
        if (p->group_instance_id.len >= 0) {
            /* Pending ids are handed out to dynamic members only. */
            gb__join_error(gs, waiter, member_id, GP_E_UNKNOWN_SERVER_ERROR);
            return;
        }
        gb__add_member_and_rebalance(gs, g, gb__dup(p->member_id), p, waiter, now);
        return;
    }
    int16_t err = gb__validate_member(g, p->member_id, p->group_instance_id);
    if (err) {
        gb__join_error(gs, waiter, member_id, err);
        return;
    }
    gb_member *m = gb__member(g, p->member_id);
    char reason[160];
    snprintf(reason, sizeof reason, "member %s rejoined in state %s", m->member_id, gb_group_state_name(g->state));
    switch (g->state) {
    case GB_GROUP_PREPARING_REBALANCE:
        gb__update_member(gs, g, m, p, waiter);
        break;
    case GB_GROUP_COMPLETING_REBALANCE:
        if (gb__matches(m, p->protocols, p->nprotocols)) {
            /* Lost its JoinGroup answer: the same answer again. */
            m->join_waiter = waiter;
            g->num_awaiting_join++;
            gb__member_join_generation(gs, g, m, g->leader ? g->leader->member_id : "", m == g->leader, false);
        } else {
            gb__update_member(gs, g, m, p, waiter);
            gb__maybe_prepare_rebalance(gs, g, now, reason);
        }
        break;
    case GB_GROUP_STABLE:
        if (m == g->leader || !gb__matches(m, p->protocols, p->nprotocols)) {
            /* A leader's JoinGroup forces a rebalance: it may have seen
             * metadata change that the members' subscriptions do not show. */
            gb__update_member(gs, g, m, p, waiter);
            gb__maybe_prepare_rebalance(gs, g, now, reason);
        } else {
            m->join_waiter = waiter;
            g->num_awaiting_join++;
            gb__member_join_generation(gs, g, m, g->leader ? g->leader->member_id : "", false, false);
        }
        break;
    default:
        gb__join_error(gs, waiter, member_id, GP_E_UNKNOWN_MEMBER_ID);
        break;
    }
}

void gb_group_join(gb_groups *gs, const gb_join_params *p, void *waiter, int64_t now)
{
    char member_id[256];
    snprintf(member_id, sizeof member_id, "%.*s",
             p->member_id.len > 255 ? 255 : (int)(p->member_id.len > 0 ? p->member_id.len : 0),
             p->member_id.p ? p->member_id.p : "");
    int16_t err = gb__status(gs, p->group_id, false);
    if (err) {
        gb__join_error(gs, waiter, member_id, err);
        return;
    }
    if (p->session_timeout_ms < gs->cfg.min_session_timeout_ms ||
        p->session_timeout_ms > gs->cfg.max_session_timeout_ms) {
        gb__join_error(gs, waiter, member_id, GP_E_INVALID_SESSION_TIMEOUT);
        return;
    }
    bool unknown = p->member_id.len <= 0;
    gb_group *g = gb__find(gs, p->group_id);
    if (!g) {
        if (!unknown) {
            gb__join_error(gs, waiter, member_id, GP_E_UNKNOWN_MEMBER_ID);
            return;
        }
        g = gb__group_new(gs, p->group_id, now);
    }
    if (!gb__accept_joining(gs, g, p->member_id)) {
        gb_member *m = gb__member(g, p->member_id);
        if (m)
            gb__drop_member(gs, g, m);
        else
            gb__pending_remove(g, p->member_id);
        gb__join_error(gs, waiter, "", GP_E_GROUP_MAX_SIZE_REACHED);
    } else if (unknown) {
        gb__new_member_join(gs, g, p, waiter, now);
    } else {
        gb__current_member_join(gs, g, p, waiter, now);
    }
    gb__check_join(gs, g, now);
    if (gb__group_unused(g))
        gb__group_free(gs, g);
}

/* ---- SyncGroup ----------------------------------------------------------------- */

void gb_group_sync(gb_groups *gs, const gb_sync_params *p, void *waiter, int64_t now)
{
    int16_t err = gb__status(gs, p->group_id, false);
    if (err == GP_E_COORDINATOR_LOAD_IN_PROGRESS) {
        /* The rebalance was lost with the load: rejoin (older clients do
         * not expect COORDINATOR_LOAD_IN_PROGRESS here). */
        gb__sync_error(gs, waiter, GP_E_REBALANCE_IN_PROGRESS);
        return;
    }
    gb_group *g = err ? NULL : gb__find(gs, p->group_id);
    if (!err && !g)
        err = GP_E_UNKNOWN_MEMBER_ID;
    if (!err)
        err = gb__validate_member(g, p->member_id, p->group_instance_id);
    if (!err && p->generation_id != g->generation)
        err = GP_E_ILLEGAL_GENERATION;
    if (!err && p->protocol_type.len >= 0 && !gb__eq(p->protocol_type, g->protocol_type))
        err = GP_E_INCONSISTENT_GROUP_PROTOCOL;
    if (!err && p->protocol_name.len >= 0 && !gb__eq(p->protocol_name, g->protocol_name))
        err = GP_E_INCONSISTENT_GROUP_PROTOCOL;
    if (err) {
        gb__sync_error(gs, waiter, err);
        return;
    }
    gb_member *m = gb__member(g, p->member_id);
    switch (g->state) {
    case GB_GROUP_EMPTY:
        gb__sync_error(gs, waiter, GP_E_UNKNOWN_MEMBER_ID);
        return;
    case GB_GROUP_PREPARING_REBALANCE:
        gb__sync_error(gs, waiter, GP_E_REBALANCE_IN_PROGRESS);
        return;
    case GB_GROUP_STABLE: {
        /* The round is over (the leader's SyncGroup completed it): this
         * member gets its assignment all the same. */
        m->pending_sync = false;
        gb__sync_check(g);
        gb_sync_result r = {
            .error = 0,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .assignment = {m->assignment, m->assignment_len},
        };
        gs->hooks.sync_done(gs->hooks.ctx, waiter, &r);
        gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
        return;
    }
    case GB_GROUP_COMPLETING_REBALANCE:
        break;
    default:
        gb__sync_error(gs, waiter, GP_E_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (m->sync_waiter) {
        void *old = m->sync_waiter;
        m->sync_waiter = NULL;
        gb__sync_error(gs, old, GP_E_REBALANCE_IN_PROGRESS);
    }
    m->sync_waiter = waiter;
    m->pending_sync = false;
    gb__sync_check(g);
    if (m != g->leader)
        return;

    /* The leader's assignment: members it left out get an empty one. */
    gp_bytes *assign = gu_calloc((size_t)g->nmembers, sizeof *assign);
    int32_t i = 0;
    for (gb_member *x = g->members; x; x = x->next, i++) {
        assign[i] = (gp_bytes){NULL, 0};
        for (int32_t j = 0; j < p->nassignments; j++)
            if (gb__eq(p->assignments[j].member_id, x->member_id)) {
                assign[i] = p->assignments[j].assignment;
                if (assign[i].len < 0)
                    assign[i] = (gp_bytes){NULL, 0};
                break;
            }
    }
    gb_logger_info("group %s: assignment received from leader %s for generation %d", g->group_id, m->member_id,
                   g->generation);
    err = gb__store_group(gs, g, assign, now);
    if (err) {
        free(assign);
        gb__reset_and_propagate_error(gs, g, err, now);
        gb__maybe_prepare_rebalance(gs, g, now, "storing the group's assignment failed");
        return;
    }
    i = 0;
    for (gb_member *x = g->members; x; x = x->next, i++)
        gb__set_assignment(x, assign[i]);
    free(assign);
    gb__transition(gs, g, GB_GROUP_STABLE, now);
    gb__propagate(gs, g, 0, now);
}

/* ---- Heartbeat and LeaveGroup ----------------------------------------------------- */

int16_t gb_group_heartbeat(gb_groups *gs, gp_str group_id, int32_t generation_id, gp_str member_id,
                           gp_str group_instance_id, int64_t now)
{
    int16_t err = gb__status(gs, group_id, false);
    if (err == GP_E_COORDINATOR_LOAD_IN_PROGRESS)
        return 0; /* Kafka answers blindly while loading */
    if (err)
        return err;
    gb_group *g = gb__find(gs, group_id);
    if (!g)
        return GP_E_UNKNOWN_MEMBER_ID;
    err = gb__validate_member(g, member_id, group_instance_id);
    if (err)
        return err;
    if (generation_id != g->generation)
        return GP_E_ILLEGAL_GENERATION;
    gb_member *m = gb__member(g, member_id);
    switch (g->state) {
    case GB_GROUP_EMPTY:
        return GP_E_UNKNOWN_MEMBER_ID;
    case GB_GROUP_PREPARING_REBALANCE:
        gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
        return GP_E_REBALANCE_IN_PROGRESS;
    case GB_GROUP_COMPLETING_REBALANCE:
    case GB_GROUP_STABLE:
        gb__schedule_heartbeat(gs, m, now, m->session_timeout_ms);
        return 0;
    default:
        return GP_E_COORDINATOR_NOT_AVAILABLE;
    }
}

int16_t gb_group_leave(gb_groups *gs, gp_str group_id, gb_leave_member *members, int32_t n, int64_t now)
{
    int16_t err = gb__status(gs, group_id, false);
    if (err)
        return err;
    gb_group *g = gb__find(gs, group_id);
    for (int32_t i = 0; i < n; i++) {
        gb_leave_member *lm = &members[i];
        if (!g) {
            lm->error = GP_E_UNKNOWN_MEMBER_ID;
            continue;
        }
        gb_member *m = NULL;
        if (lm->member_id.len <= 0) {
            /* Administrative removal of a static member by instance id. */
            m = gb__static_member(g, lm->group_instance_id);
            lm->error = m ? 0 : GP_E_UNKNOWN_MEMBER_ID;
        } else if (gb__pending(g, lm->member_id)) {
            gb__pending_remove(g, lm->member_id);
            lm->error = 0;
            gb__check_join(gs, g, now);
            continue;
        } else {
            lm->error = gb__validate_member(g, lm->member_id, lm->group_instance_id);
            if (!lm->error)
                m = gb__member(g, lm->member_id);
        }
        if (m) {
            gb_logger_info("group %s: member %s left", g->group_id, m->member_id);
            gb__remove_member_and_update(gs, g, m, now, "a member left the group");
        }
    }
    return 0;
}

/* ---- describing ---------------------------------------------------------------------- */

static void gb__summary(const gb_group *g, gb_group_summary *out)
{
    out->group_id = g->group_id;
    out->state = g->state;
    out->generation_id = g->generation;
    out->protocol_type = g->protocol_type ? g->protocol_type : "";
    out->protocol = g->state == GB_GROUP_STABLE && g->protocol_name ? g->protocol_name : "";
    out->leader = g->leader ? g->leader->member_id : NULL;
    out->nmembers = g->nmembers;
    out->members = NULL;
}

int16_t gb_group_describe(const gb_groups *gs, gp_str group_id, gp_arena *a, gb_group_summary *out)
{
    memset(out, 0, sizeof *out);
    int16_t err = gb__status(gs, group_id, true);
    if (err) {
        out->state = GB_GROUP_DEAD;
        out->protocol_type = out->protocol = "";
        return err;
    }
    gb_group *g = gb__find(gs, group_id);
    if (!g) {
        out->state = GB_GROUP_DEAD;
        out->protocol_type = out->protocol = "";
        return 0;
    }
    gb__summary(g, out);
    out->members = gp_arena_calloc(a, (size_t)(g->nmembers ? g->nmembers : 1), sizeof *out->members);
    int32_t i = 0;
    for (gb_member *m = g->members; m; m = m->next, i++) {
        gb_member_summary *ms = &out->members[i];
        ms->member_id = m->member_id;
        ms->group_instance_id = m->group_instance_id;
        ms->client_id = m->client_id;
        ms->client_host = m->client_host;
        /* Kafka 4.4 shows the subscription only in a Stable group, but a
         * member's last assignment in every state (it is empty once a
         * rebalance started from CompletingRebalance reset it). */
        ms->metadata = (gp_bytes){NULL, 0};
        ms->assignment = (gp_bytes){m->assignment, m->assignment_len};
        if (g->state == GB_GROUP_STABLE) {
            const gb_member_protocol *mp = gb__protocol(m, g->protocol_name);
            if (mp)
                ms->metadata = (gp_bytes){mp->metadata, mp->len};
        }
    }
    return 0;
}

static int gb__cmp_summary(const void *a, const void *b)
{
    return strcmp(((const gb_group_summary *)a)->group_id, ((const gb_group_summary *)b)->group_id);
}

int32_t gb_groups_list(const gb_groups *gs, gp_arena *a, gb_group_summary **out)
{
    *out = gp_arena_calloc(a, gs->count ? gs->count : 1, sizeof **out);
    size_t k = 0;
    for (size_t i = 0; i < gs->nbuckets; i++)
        for (gb_group *g = gs->buckets[i]; g; g = g->hash_next) {
            if (gs->nloading && gb_groups_loading(gs, g->partition))
                continue;
            gb__summary(g, &(*out)[k++]);
        }
    if (k > 1)
        qsort(*out, k, sizeof **out, gb__cmp_summary);
    return (int32_t)k;
}

bool gb_groups_any_loading(const gb_groups *gs)
{
    return gs->nloading > 0;
}

/* ---- time ------------------------------------------------------------------------------ */

int64_t gb_groups_next_deadline(const gb_groups *gs)
{
    return gs->wake_at;
}

/* Kafka's removeExpiredOffsets and cleanupGroupMetadata for one group; see
 * gb_groups_tick. Returns true when the group was Dead and freed. */
static bool gb__expire_offsets(gb_groups *gs, gb_group *g, int64_t now)
{
    int64_t wall = gb__wall(gs, now);
    bool empty_typed = g->protocol_type && g->state == GB_GROUP_EMPTY;
    bool stable_consumer =
        gb__streq(g->protocol_type, GB_CONSUMER_PROTOCOL) && g->state == GB_GROUP_STABLE && g->subscribed_known;
    bool simple = !g->protocol_type;
    if (!empty_typed && !stable_consumer && !simple)
        return false;
    gb_offset **remove = gu_calloc(g->noffsets, sizeof *remove);
    size_t n = 0;
    for (size_t i = 0; i < g->onbuckets; i++)
        for (gb_offset *o = g->obuckets[i]; o; o = o->next) {
            if (stable_consumer && gb__subscribed_to(g, (gp_str){o->topic, o->topic_len}))
                continue;
            if (g->txn_offsets && gb__txn_pending(g, (gp_str){o->topic, o->topic_len}, o->partition))
                continue; /* Kafka keeps an offset an open transaction may replace */
            bool expired;
            if (o->expire_timestamp >= 0) {
                expired = wall >= o->expire_timestamp;
            } else {
                int64_t base = empty_typed && g->state_timestamp >= 0 ? g->state_timestamp : o->commit_timestamp;
                expired = wall - base >= gs->cfg.offsets_retention_ms;
            }
            if (expired)
                remove[n++] = o;
        }
    bool freed = false;
    if (n || (g->state == GB_GROUP_EMPTY && g->noffsets == 0)) {
        if (n)
            gb_logger_info("group %s: %zu offset(s) expired", g->group_id, n);
        freed = gb__cleanup(gs, g, remove, n, now, true);
    }
    free(remove);
    return freed;
}

/*
 * Everything due at `now`, group by group: pending member ids and member
 * sessions that expired (a member waiting for its JoinGroup or SyncGroup
 * answer does not expire, except a new one past its join timeout), the end
 * of the join phase (rebalance timeout or initial delay), members that did
 * not send SyncGroup within the rebalance timeout (removed, and the group
 * rebalances), and every offsets.retention.check.interval.ms the offsets
 * retention. Then the next deadline is recomputed.
 */
void gb_groups_tick(gb_groups *gs, int64_t now)
{
    bool cleanup = now >= gs->next_cleanup;
    if (cleanup)
        gs->next_cleanup = now + gs->cfg.retention_check_interval_ms;
    int64_t wake = gs->next_cleanup;
    for (size_t i = 0; i < gs->nbuckets; i++) {
        gb_group *g = gs->buckets[i];
        while (g) {
            gb_group *next = g->hash_next;
            if (gs->nloading && gb_groups_loading(gs, g->partition)) {
                g = next;
                continue;
            }
            for (gb_pending **pp = &g->pending; *pp;) {
                gb_pending *p = *pp;
                if (now >= p->deadline) {
                    gb_logger_info("group %s: pending member %s expired", g->group_id, p->member_id);
                    *pp = p->next;
                    free(p->member_id);
                    free(p);
                    gb__check_join(gs, g, now);
                } else {
                    pp = &p->next;
                }
            }
            /* One expiry may rebalance the group and answer others: restart
             * the scan after each. */
            bool again = true;
            while (again) {
                again = false;
                for (gb_member *m = g->members; m; m = m->next) {
                    if (now < m->deadline)
                        continue;
                    if (m->is_new || (!m->join_waiter && !m->sync_waiter)) {
                        gb_logger_info("group %s: member %s has failed (session expired), removing it", g->group_id,
                                       m->member_id);
                        gb__remove_member_and_update(gs, g, m, now, "a member's session expired");
                        again = true;
                        break;
                    }
                    m->deadline = GB_NO_DEADLINE; /* waiting: its session restarts with the answer */
                }
            }
            gb__check_join(gs, g, now);
            if ((g->state == GB_GROUP_COMPLETING_REBALANCE || g->state == GB_GROUP_STABLE) && now >= g->sync_deadline &&
                g->sync_generation == g->generation) {
                g->sync_deadline = GB_NO_DEADLINE;
                bool removed = false;
                for (gb_member *m = g->members, *mn; m; m = mn) {
                    mn = m->next;
                    if (m->pending_sync) {
                        gb_logger_info("group %s: removing member %s, which did not send SyncGroup", g->group_id,
                                       m->member_id);
                        gb__drop_member(gs, g, m);
                        removed = true;
                    }
                }
                if (removed)
                    gb__prepare_rebalance(gs, g, now, "members did not send SyncGroup in time");
            }
            bool freed = false;
            if (cleanup)
                freed = gb__expire_offsets(gs, g, now);
            if (!freed) {
                for (gb_pending *p = g->pending; p; p = p->next)
                    if (p->deadline < wake)
                        wake = p->deadline;
                for (gb_member *m = g->members; m; m = m->next)
                    if (m->deadline < wake)
                        wake = m->deadline;
                if (g->state == GB_GROUP_PREPARING_REBALANCE && g->join_deadline < wake)
                    wake = g->join_deadline;
                if (g->sync_deadline < wake)
                    wake = g->sync_deadline;
            }
            g = next;
        }
    }
    gs->wake_at = wake;
}
