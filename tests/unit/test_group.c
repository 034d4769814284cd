/*
 * The group coordinator's state machine with a fake clock: join, sync and
 * heartbeat timing, MEMBER_ID_REQUIRED, two members rebalancing, session and
 * rebalance timeouts, the initial rebalance delay, leaving, static
 * membership and fencing, Kafka's error codes, offset commits and their
 * rules, deletion, expiry; transactional offsets (pending per producer,
 * COMMIT and ABORT markers, the most recent record winning, replay, deletion
 * and expiry with pending ones); and __consumer_offsets records: Kafka's byte
 * layout, Java's String.hashCode partitioning, and replay of the records
 * the coordinator wrote into a fresh coordinator (a restart).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/gb_group.h"
#include "broker/core/gb_group_records.h"
#include "protocol/gp_errors.h"

/* ---- harness -------------------------------------------------------------- */

typedef struct result {
    bool join_done;
    int16_t error;
    char member_id[160];
    int32_t generation;
    char leader[160];
    char protocol[64];
    int nmembers;
    bool skip;
    bool sync_done;
    int16_t sync_error;
    char assignment[64];
} result;

typedef struct rec {
    int32_t partition;
    uint8_t *key;
    int32_t klen;
    uint8_t *value;
    int32_t vlen;        /* -1: tombstone */
    int64_t producer_id; /* a transactional batch's; -1: none */
    int marker;          /* a control batch of producer_id: 1 COMMIT, 2 ABORT; 0: a record */
} rec;

static gb_groups *gs;
static int64_t now;
static rec recs[4096];
static int nrecs;
static int16_t append_error;

static void on_join(void *ctx, void *waiter, const gb_join_result *r)
{
    (void)ctx;
    result *res = waiter;
    ck_assert_msg(!res->join_done, "a JoinGroup answered twice");
    res->join_done = true;
    res->error = r->error;
    snprintf(res->member_id, sizeof res->member_id, "%s", r->member_id);
    res->generation = r->generation_id;
    snprintf(res->leader, sizeof res->leader, "%s", r->leader ? r->leader : "");
    snprintf(res->protocol, sizeof res->protocol, "%s", r->protocol_name ? r->protocol_name : "");
    res->nmembers = r->nmembers;
    res->skip = r->skip_assignment;
}

static void on_sync(void *ctx, void *waiter, const gb_sync_result *r)
{
    (void)ctx;
    result *res = waiter;
    ck_assert_msg(!res->sync_done, "a SyncGroup answered twice");
    res->sync_done = true;
    res->sync_error = r->error;
    snprintf(res->assignment, sizeof res->assignment, "%.*s", r->assignment.len > 0 ? (int)r->assignment.len : 0,
             r->assignment.len > 0 ? (const char *)r->assignment.p : "");
}

static int16_t on_append_txn(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                             const gb_kv *kv, size_t n, int64_t wall)
{
    (void)ctx;
    (void)wall;
    (void)producer_epoch;
    if (append_error)
        return append_error;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(nrecs, 4096);
        rec *r = &recs[nrecs++];
        r->partition = partition;
        r->producer_id = producer_id;
        r->marker = 0;
        r->klen = kv[i].key.len;
        r->key = malloc((size_t)r->klen);
        memcpy(r->key, kv[i].key.p, (size_t)r->klen);
        r->vlen = kv[i].value.len;
        r->value = malloc(r->vlen > 0 ? (size_t)r->vlen : 1);
        if (r->vlen > 0)
            memcpy(r->value, kv[i].value.p, (size_t)r->vlen);
    }
    return 0;
}

static int16_t on_append(void *ctx, int32_t partition, const gb_kv *kv, size_t n, int64_t wall)
{
    return on_append_txn(ctx, partition, -1, -1, kv, n, wall);
}

static gb_groups_config config(void)
{
    gb_groups_config c = {
        .num_partitions = 50,
        .min_session_timeout_ms = 6000,
        .max_session_timeout_ms = 1800000,
        .max_size = 1000,
        .initial_rebalance_delay_ms = 0,
        .offsets_retention_ms = 7LL * 24 * 3600 * 1000,
        .retention_check_interval_ms = 600000,
        .offset_metadata_max_bytes = 4096,
        .seed = 42,
    };
    return c;
}

static gb_groups *make(const gb_groups_config *c)
{
    gb_groups_hooks h = {
        .ctx = NULL, .join_done = on_join, .sync_done = on_sync, .append = on_append, .append_txn = on_append_txn};
    gb_groups *g = gb_groups_new(c, &h, now);
    gb_groups_set_wall_offset(g, 1700000000000LL);
    return g;
}

static void setup(void)
{
    now = 1000;
    nrecs = 0;
    append_error = 0;
    gb_groups_config c = config();
    gs = make(&c);
}

static void teardown(void)
{
    gb_groups_shutdown(gs);
    gb_groups_free(gs);
    for (int i = 0; i < nrecs; i++) {
        free(recs[i].key);
        free(recs[i].value);
    }
}

static gp_str S(const char *s)
{
    return s ? gp_str_c(s) : GP_STR_NULL;
}

/* A ConsumerProtocolSubscription v0 for one topic. */
static uint8_t subscription[32];
static int32_t subscription_len;

static void make_subscription(const char *topic)
{
    size_t tl = strlen(topic);
    uint8_t *p = subscription;
    *p++ = 0, *p++ = 0;                     /* version 0 */
    *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 1; /* one topic */
    *p++ = 0, *p++ = (uint8_t)tl;           /* its name */
    memcpy(p, topic, tl);
    p += tl;
    *p++ = 0xff, *p++ = 0xff, *p++ = 0xff, *p++ = 0xff; /* user data null */
    subscription_len = (int32_t)(p - subscription);
}

/* JoinGroup with protocol type "consumer" and one protocol `proto` whose
 * metadata is the subscription (or `md`). */
static void join_full(result *r, const char *group, const char *member, const char *instance, const char *proto,
                      const char *md, int32_t session, int32_t rebalance, bool require_id, bool skip)
{
    memset(r, 0, sizeof *r);
    gb_join_protocol p = {
        .name = S(proto),
        .metadata =
            md ? (gp_bytes){(const uint8_t *)md, (int32_t)strlen(md)} : (gp_bytes){subscription, subscription_len},
    };
    gb_join_params jp = {
        .group_id = S(group),
        .member_id = S(member ? member : ""),
        .group_instance_id = S(instance),
        .client_id = S("client"),
        .client_host = S("/127.0.0.1"),
        .protocol_type = S("consumer"),
        .session_timeout_ms = session,
        .rebalance_timeout_ms = rebalance,
        .protocols = &p,
        .nprotocols = 1,
        .require_known_member_id = require_id,
        .support_skip_assignment = skip,
    };
    gb_group_join(gs, &jp, r, now);
}

static void join(result *r, const char *group, const char *member)
{
    join_full(r, group, member, NULL, "range", NULL, 10000, 30000, false, false);
}

static void sync_(result *r, const char *group, const char *member, int32_t gen, int nassign, const char **members,
                  const char **assigns)
{
    r->sync_done = false;
    gb_sync_assignment a[8];
    for (int i = 0; i < nassign; i++) {
        a[i].member_id = S(members[i]);
        a[i].assignment = (gp_bytes){(const uint8_t *)assigns[i], (int32_t)strlen(assigns[i])};
    }
    gb_sync_params sp = {
        .group_id = S(group),
        .generation_id = gen,
        .member_id = S(member),
        .group_instance_id = GP_STR_NULL,
        .protocol_type = GP_STR_NULL,
        .protocol_name = GP_STR_NULL,
        .assignments = a,
        .nassignments = nassign,
    };
    gb_group_sync(gs, &sp, r, now);
}

static int16_t heartbeat(const char *group, const char *member, int32_t gen)
{
    return gb_group_heartbeat(gs, S(group), gen, S(member), GP_STR_NULL, now);
}

static gb_group_state state_of(const char *group)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gb_group_summary s;
    ck_assert_int_eq(gb_group_describe(gs, S(group), &a, &s), 0);
    gb_group_state st = s.state;
    gp_arena_reset(&a, NULL, 0);
    return st;
}

static int members_of(const char *group)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gb_group_summary s;
    ck_assert_int_eq(gb_group_describe(gs, S(group), &a, &s), 0);
    int n = s.nmembers;
    gp_arena_reset(&a, NULL, 0);
    return n;
}

/* Advance the fake clock, running the timer whenever it is due. */
static void advance(int64_t ms)
{
    int64_t end = now + ms;
    while (gb_groups_next_deadline(gs) <= end) {
        int64_t d = gb_groups_next_deadline(gs);
        if (d > now)
            now = d;
        gb_groups_tick(gs, now);
    }
    now = end;
}

/* One member, joined and synced: generation 1, Stable. */
static void stable_one(const char *group, result *a)
{
    join(a, group, NULL);
    ck_assert(a->join_done);
    ck_assert_int_eq(a->error, 0);
    ck_assert_int_eq(a->generation, 1);
    ck_assert_str_eq(a->leader, a->member_id);
    const char *m[] = {a->member_id};
    const char *as[] = {"A"};
    sync_(a, group, a->member_id, 1, 1, m, as);
    ck_assert(a->sync_done);
    ck_assert_int_eq(a->sync_error, 0);
    ck_assert_str_eq(a->assignment, "A");
    ck_assert_int_eq(state_of(group), GB_GROUP_STABLE);
}

/* Two members in generation 2, Stable: a leader and b. */
static void stable_two(const char *group, result *a, result *b)
{
    stable_one(group, a);
    join(b, group, NULL);
    ck_assert(!b->join_done); /* waits for a to rejoin */
    ck_assert_int_eq(state_of(group), GB_GROUP_PREPARING_REBALANCE);
    ck_assert_int_eq(heartbeat(group, a->member_id, 1), GP_E_REBALANCE_IN_PROGRESS);
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a->member_id);
    join(a, group, aid);
    ck_assert(a->join_done && b->join_done);
    ck_assert_int_eq(a->generation, 2);
    ck_assert_int_eq(b->generation, 2);
    ck_assert_str_eq(a->leader, aid);
    ck_assert_str_eq(b->leader, aid);
    ck_assert_int_eq(a->nmembers, 2); /* the leader gets the members */
    ck_assert_int_eq(b->nmembers, 0);
    ck_assert_int_eq(state_of(group), GB_GROUP_COMPLETING_REBALANCE);
    sync_(b, group, b->member_id, 2, 0, NULL, NULL);
    ck_assert(!b->sync_done); /* waits for the leader */
    const char *m[] = {a->member_id, b->member_id};
    const char *as[] = {"A2", "B2"};
    sync_(a, group, a->member_id, 2, 2, m, as);
    ck_assert(a->sync_done && b->sync_done);
    ck_assert_str_eq(a->assignment, "A2");
    ck_assert_str_eq(b->assignment, "B2");
    ck_assert_int_eq(state_of(group), GB_GROUP_STABLE);
}

/* ---- records -------------------------------------------------------------------- */

START_TEST(test_record_layout)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gp_bytes k = gb_offset_key_encode(&a, S("g"), S("t"), 3);
    const uint8_t want_k[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3};
    ck_assert_int_eq(k.len, sizeof want_k);
    ck_assert_mem_eq(k.p, want_k, sizeof want_k);

    gb_offset_value v = {
        .offset = 0x0102, .leader_epoch = 5, .metadata = S("md"), .commit_timestamp = 7, .expire_timestamp = -1};
    gp_bytes val = gb_offset_value_encode(&a, &v);
    const uint8_t want_v3[] = {0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 5, 0, 2, 'm', 'd', 0, 0, 0, 0, 0, 0, 0, 7};
    ck_assert_int_eq(val.len, sizeof want_v3);
    ck_assert_mem_eq(val.p, want_v3, sizeof want_v3);
    v.expire_timestamp = 9; /* v1: no leader epoch, an expire timestamp */
    val = gb_offset_value_encode(&a, &v);
    const uint8_t want_v1[] = {0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 'm', 'd', 0,
                               0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0,   0,   9};
    ck_assert_int_eq(val.len, sizeof want_v1);
    ck_assert_mem_eq(val.p, want_v1, sizeof want_v1);
    gb_offset_value d;
    ck_assert_int_eq(gb_offset_value_decode(val, &d), 0);
    ck_assert(d.offset == 0x0102 && d.leader_epoch == -1 && d.commit_timestamp == 7 && d.expire_timestamp == 9);
    ck_assert(gp_str_eq_c(d.metadata, "md"));

    /* v0 and the flexible v4 read back too */
    const uint8_t v0[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq(gb_offset_value_decode((gp_bytes){v0, sizeof v0}, &d), 0);
    ck_assert(d.offset == 42 && d.commit_timestamp == 1 && d.metadata.len == 0 && d.leader_epoch == -1);
    const uint8_t v4[] = {0,   4,   0, 0, 0, 0, 0, 0, 0, 43, 0, 0, 0, 2,   3,
                          'h', 'i', 0, 0, 0, 0, 0, 0, 0, 8,  1, 0, 1, 0xaa}; /* one unknown tagged field */
    ck_assert_int_eq(gb_offset_value_decode((gp_bytes){v4, sizeof v4}, &d), 0);
    ck_assert(d.offset == 43 && d.leader_epoch == 2 && d.commit_timestamp == 8 && gp_str_eq_c(d.metadata, "hi"));
    const uint8_t v9[] = {0, 9, 0, 0};
    ck_assert_int_lt(gb_offset_value_decode((gp_bytes){v9, sizeof v9}, &d), 0);

    gp_bytes gk = gb_group_key_encode(&a, S("grp"));
    const uint8_t want_gk[] = {0, 2, 0, 3, 'g', 'r', 'p'};
    ck_assert_int_eq(gk.len, sizeof want_gk);
    ck_assert_mem_eq(gk.p, want_gk, sizeof want_gk);
    gb_group_key key;
    ck_assert_int_eq(gb_group_key_decode(gk, &key), 0);
    ck_assert(key.type == GB_KEY_GROUP && gp_str_eq_c(key.group, "grp"));
    ck_assert_int_eq(gb_group_key_decode(k, &key), 0);
    ck_assert(key.type == GB_KEY_OFFSET && gp_str_eq_c(key.topic, "t") && key.partition == 3);
    const uint8_t unknown[] = {0, 7, 1};
    ck_assert_int_eq(gb_group_key_decode((gp_bytes){unknown, sizeof unknown}, &key), 0);
    ck_assert_int_eq(key.type, GB_KEY_UNKNOWN);

    gb_group_value_member m = {
        .member_id = S("m"),
        .group_instance_id = GP_STR_NULL,
        .client_id = S("c"),
        .client_host = S("/h"),
        .rebalance_timeout = 300,
        .session_timeout = 100,
        .subscription = {(const uint8_t *)"S", 1},
        .assignment = {(const uint8_t *)"A", 1},
    };
    gb_group_value gv = {.protocol_type = S("consumer"),
                         .generation = 4,
                         .protocol = S("range"),
                         .leader = S("m"),
                         .current_state_timestamp = 11,
                         .nmembers = 1,
                         .members = &m};
    gp_bytes gval = gb_group_value_encode(&a, &gv);
    const uint8_t want_gv[] = {
        0,    3,                                            /* version 3 */
        0,    8,    'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', /* protocolType */
        0,    0,    0,   4,                                 /* generation */
        0,    5,    'r', 'a', 'n', 'g', 'e',                /* protocol */
        0,    1,    'm',                                    /* leader */
        0,    0,    0,   0,   0,   0,   0,   11,            /* currentStateTimestamp */
        0,    0,    0,   1,                                 /* members */
        0,    1,    'm',                                    /* memberId */
        0xff, 0xff,                                         /* groupInstanceId null */
        0,    1,    'c', 0,   2,   '/', 'h',                /* clientId, clientHost */
        0,    0,    1,   44,                                /* rebalanceTimeout 300 */
        0,    0,    0,   100,                               /* sessionTimeout */
        0,    0,    0,   1,   'S', 0,   0,   0,   1,   'A', /* subscription, assignment */
    };
    ck_assert_int_eq(gval.len, sizeof want_gv);
    ck_assert_mem_eq(gval.p, want_gv, sizeof want_gv);
    gb_group_value gd;
    ck_assert_int_eq(gb_group_value_decode(&a, gval, &gd), 0);
    ck_assert(gd.generation == 4 && gd.nmembers == 1 && gp_str_eq_c(gd.members[0].member_id, "m"));
    ck_assert(gd.members[0].group_instance_id.len == -1 && gd.members[0].rebalance_timeout == 300);
    ck_assert(gd.members[0].assignment.len == 1 && gd.current_state_timestamp == 11);

    /* v0: no rebalance timeout (the session timeout stands in), no state timestamp */
    const uint8_t gv0[] = {0,   0, 0, 1,   'c', 0, 0,   0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1,
                           'm', 0, 1, 'c', 0,   1, 'h', 0, 0, 0,    50,   0,    0,    0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(gb_group_value_decode(&a, (gp_bytes){gv0, sizeof gv0}, &gd), 0);
    ck_assert(gd.generation == 2 && gd.protocol.len == -1 && gd.leader.len == -1 && gd.nmembers == 1);
    ck_assert(gd.members[0].rebalance_timeout == 50 && gd.members[0].session_timeout == 50);
    ck_assert(gd.current_state_timestamp == -1);
    gp_arena_reset(&a, NULL, 0);
}
END_TEST

START_TEST(test_partition_for)
{
    /* Java's "hello".hashCode() == 99162322; Utils.abs(h) % 50 */
    ck_assert_int_eq(gb_java_string_hash("hello", 5), 99162322);
    ck_assert_int_eq(gb_group_partition_for("hello", 5, 50), 22);
    ck_assert_int_eq(gb_java_string_hash("my-group", 8), -1906497762);
    ck_assert_int_eq(gb_group_partition_for("my-group", 8, 50), 12);
    ck_assert_int_eq(gb_group_partition_for("console-consumer-12345", 22, 50), 6);
    /* UTF-16 code units: U+00E9, and U+1F600 as a surrogate pair */
    ck_assert_int_eq(gb_java_string_hash("\xc3\xa9", 2), 233);
    ck_assert_int_eq(gb_java_string_hash("\xf0\x9f\x98\x80", 4), 1772899);
    ck_assert_int_eq(gb_utf16_length("\xf0\x9f\x98\x80"
                                     "a",
                                     5),
                     3);
    /* hashCode Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0 */
    ck_assert_int_eq(gb_java_string_hash("polygenelubricants", 18), INT32_MIN);
    ck_assert_int_eq(gb_group_partition_for("polygenelubricants", 18, 50), 0);
    ck_assert_int_eq(gb_group_partition_for("", 0, 50), 0);
}
END_TEST

/* ---- membership ------------------------------------------------------------------- */

START_TEST(test_join_sync_heartbeat)
{
    result a;
    stable_one("g", &a);
    ck_assert_str_eq(a.protocol, "range");
    ck_assert_int_eq(heartbeat("g", a.member_id, 1), 0);
    /* the session is kept alive by heartbeats, whatever the time */
    for (int i = 0; i < 10; i++) {
        advance(5000);
        ck_assert_int_eq(heartbeat("g", a.member_id, 1), 0);
    }
    ck_assert_int_eq(members_of("g"), 1);
    ck_assert_int_eq(heartbeat("g", a.member_id, 7), GP_E_ILLEGAL_GENERATION);
    ck_assert_int_eq(heartbeat("g", "nobody", 1), GP_E_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(heartbeat("other", a.member_id, 1), GP_E_UNKNOWN_MEMBER_ID);
    /* a member id carries the client id */
    ck_assert(strncmp(a.member_id, "client-", 7) == 0);
    ck_assert_int_eq(strlen(a.member_id), 7 + 36);
    /* the group's metadata was stored: generation 0 -> 1 assignment */
    ck_assert_int_gt(nrecs, 0);
}
END_TEST

START_TEST(test_member_id_required)
{
    result a;
    join_full(&a, "g", NULL, NULL, "range", NULL, 10000, 30000, true, false);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.error, GP_E_MEMBER_ID_REQUIRED);
    ck_assert(strncmp(a.member_id, "client-", 7) == 0);
    char id[160];
    snprintf(id, sizeof id, "%s", a.member_id);
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
    join_full(&a, "g", id, NULL, "range", NULL, 10000, 30000, true, false);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.error, 0);
    ck_assert_str_eq(a.member_id, id);
    ck_assert_int_eq(a.generation, 1);

    /* a pending id not used within the session timeout expires */
    join_full(&a, "g2", NULL, NULL, "range", NULL, 10000, 30000, true, false);
    ck_assert_int_eq(a.error, GP_E_MEMBER_ID_REQUIRED);
    snprintf(id, sizeof id, "%s", a.member_id);
    advance(10001);
    join_full(&a, "g2", id, NULL, "range", NULL, 10000, 30000, true, false);
    ck_assert_int_eq(a.error, GP_E_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(test_two_members_rebalance)
{
    result a, b;
    stable_two("g", &a, &b);
    ck_assert_int_eq(heartbeat("g", a.member_id, 2), 0);
    ck_assert_int_eq(heartbeat("g", b.member_id, 2), 0);
    /* a follower rejoining with the same metadata gets the generation back */
    char bid[160];
    snprintf(bid, sizeof bid, "%s", b.member_id);
    join(&b, "g", bid);
    ck_assert(b.join_done);
    ck_assert_int_eq(b.generation, 2);
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
    /* the leader rejoining forces a rebalance */
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    join(&a, "g", aid);
    ck_assert(!a.join_done);
    ck_assert_int_eq(heartbeat("g", bid, 2), GP_E_REBALANCE_IN_PROGRESS);
    join(&b, "g", bid);
    ck_assert(a.join_done && b.join_done);
    ck_assert_int_eq(a.generation, 3);
}
END_TEST

START_TEST(test_follower_sync_after_leader)
{
    result a, b;
    stable_one("g", &a);
    join(&b, "g", NULL);
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    join(&a, "g", aid);
    ck_assert(b.join_done);
    const char *m[] = {a.member_id, b.member_id};
    const char *as[] = {"A", "B"};
    sync_(&a, "g", a.member_id, 2, 2, m, as);
    ck_assert(a.sync_done);
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
    /* the leader completed the round; the follower still gets its assignment */
    sync_(&b, "g", b.member_id, 2, 0, NULL, NULL);
    ck_assert(b.sync_done);
    ck_assert_int_eq(b.sync_error, 0);
    ck_assert_str_eq(b.assignment, "B");
    /* a SyncGroup from another generation */
    sync_(&b, "g", b.member_id, 1, 0, NULL, NULL);
    ck_assert_int_eq(b.sync_error, GP_E_ILLEGAL_GENERATION);
}
END_TEST

START_TEST(test_session_expiry)
{
    result a, b;
    stable_two("g", &a, &b);
    /* a heartbeats, b goes silent: b's 10 s session expires */
    for (int i = 0; i < 3; i++) {
        advance(4000);
        int16_t e = heartbeat("g", a.member_id, 2);
        if (i < 2)
            ck_assert_int_eq(e, 0);
        else
            ck_assert_int_eq(e, GP_E_REBALANCE_IN_PROGRESS);
    }
    ck_assert_int_eq(state_of("g"), GB_GROUP_PREPARING_REBALANCE);
    ck_assert_int_eq(members_of("g"), 1);
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    join(&a, "g", aid);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.generation, 3);
    ck_assert_int_eq(a.nmembers, 1);
    /* and if a goes silent too, the group ends up Empty */
    const char *m[] = {aid};
    const char *as[] = {"A"};
    sync_(&a, "g", aid, 3, 1, m, as);
    advance(10001);
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
    ck_assert_int_eq(members_of("g"), 0);
    ck_assert_int_eq(heartbeat("g", aid, 3), GP_E_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(test_rebalance_timeout)
{
    result a, b, c;
    stable_two("g", &a, &b);
    /* c joins; b rejoins; the leader a keeps heartbeating but does not
     * rejoin within the 30 s rebalance timeout */
    join(&c, "g", NULL);
    char bid[160];
    snprintf(bid, sizeof bid, "%s", b.member_id);
    join(&b, "g", bid);
    ck_assert(!b.join_done && !c.join_done);
    for (int i = 0; i < 5; i++) {
        advance(5000);
        ck_assert_int_eq(heartbeat("g", a.member_id, 2), GP_E_REBALANCE_IN_PROGRESS);
    }
    advance(4000);
    ck_assert(!b.join_done);
    advance(1000);
    ck_assert(b.join_done && c.join_done);
    ck_assert_int_eq(b.generation, 3);
    ck_assert_int_eq(members_of("g"), 2);
    /* the old leader is gone: a member that rejoined leads */
    ck_assert_str_ne(b.leader, a.member_id);
    ck_assert(strcmp(b.leader, bid) == 0 || strcmp(b.leader, c.member_id) == 0);
    ck_assert_int_eq(heartbeat("g", a.member_id, 2), GP_E_UNKNOWN_MEMBER_ID);
    /* neither syncs nor heartbeats: both are removed */
    advance(30000);
    ck_assert_int_eq(members_of("g"), 0);
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
}
END_TEST

START_TEST(test_initial_rebalance_delay)
{
    teardown();
    now = 1000;
    nrecs = 0;
    gb_groups_config cfg = config();
    cfg.initial_rebalance_delay_ms = 3000;
    gs = make(&cfg);
    result a, b;
    join(&a, "g", NULL);
    ck_assert(!a.join_done);
    advance(1000);
    join(&b, "g", NULL); /* a new member within the delay: wait another delay */
    advance(2000);
    ck_assert(!a.join_done);
    advance(2999);
    ck_assert(!a.join_done);
    advance(1);
    ck_assert(a.join_done && b.join_done);
    ck_assert_int_eq(a.generation, 1);
    ck_assert_int_eq(a.nmembers + b.nmembers, 2);
}
END_TEST

START_TEST(test_leave)
{
    result a, b;
    stable_two("g", &a, &b);
    gb_leave_member lm[2] = {{.member_id = S(b.member_id), .group_instance_id = GP_STR_NULL},
                             {.member_id = S("ghost"), .group_instance_id = GP_STR_NULL}};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), lm, 2, now), 0);
    ck_assert_int_eq(lm[0].error, 0);
    ck_assert_int_eq(lm[1].error, GP_E_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(state_of("g"), GB_GROUP_PREPARING_REBALANCE);
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    join(&a, "g", aid);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.nmembers, 1);
    ck_assert_int_eq(a.generation, 3);
    const char *m[] = {aid};
    const char *as[] = {"all"};
    sync_(&a, "g", aid, 3, 1, m, as);
    ck_assert_str_eq(a.assignment, "all");
    gb_leave_member last = {.member_id = S(aid), .group_instance_id = GP_STR_NULL};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &last, 1, now), 0);
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
    gb_leave_member none = {.member_id = S("x"), .group_instance_id = GP_STR_NULL};
    ck_assert_int_eq(gb_group_leave(gs, S("nogroup"), &none, 1, now), 0);
    ck_assert_int_eq(none.error, GP_E_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(test_static_membership)
{
    result a, b;
    join_full(&a, "g", NULL, "inst-1", "range", NULL, 60000, 30000, true, false);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.error, 0); /* static members never get MEMBER_ID_REQUIRED */
    ck_assert(strncmp(a.member_id, "inst-1-", 7) == 0);
    char old[160];
    snprintf(old, sizeof old, "%s", a.member_id);
    const char *m[] = {old};
    const char *as[] = {"A"};
    sync_(&a, "g", old, 1, 1, m, as);
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);

    /* the same instance restarts: a new member id, no rebalance, the
     * current generation; the old leader id, so it does not reassign */
    join_full(&b, "g", NULL, "inst-1", "range", NULL, 60000, 30000, false, false);
    ck_assert(b.join_done);
    ck_assert_int_eq(b.error, 0);
    ck_assert_str_ne(b.member_id, old);
    ck_assert_int_eq(b.generation, 1);
    ck_assert_str_eq(b.leader, old);
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
    ck_assert_int_eq(members_of("g"), 1);
    /* the old id is fenced */
    ck_assert_int_eq(gb_group_heartbeat(gs, S("g"), 1, S(old), S("inst-1"), now), GP_E_FENCED_INSTANCE_ID);
    ck_assert_int_eq(heartbeat("g", old, 1), GP_E_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(gb_group_heartbeat(gs, S("g"), 1, S(b.member_id), S("inst-1"), now), 0);
    /* the sync gets the assignment the member had */
    char bid[160];
    snprintf(bid, sizeof bid, "%s", b.member_id);
    gb_sync_params sp = {.group_id = S("g"),
                         .generation_id = 1,
                         .member_id = S(bid),
                         .group_instance_id = S("inst-1"),
                         .protocol_type = S("consumer"),
                         .protocol_name = S("range")};
    b.sync_done = false;
    gb_group_sync(gs, &sp, &b, now);
    ck_assert(b.sync_done);
    ck_assert_int_eq(b.sync_error, 0);
    ck_assert_str_eq(b.assignment, "A");
    sp.protocol_name = S("roundrobin");
    b.sync_done = false;
    gb_group_sync(gs, &sp, &b, now);
    ck_assert_int_eq(b.sync_error, GP_E_INCONSISTENT_GROUP_PROTOCOL);

    /* v9: a static leader that rejoins a stable group is told to skip the assignment */
    join_full(&b, "g", NULL, "inst-1", "range", NULL, 60000, 30000, false, true);
    ck_assert_int_eq(b.error, 0);
    ck_assert(b.skip);
    ck_assert_str_eq(b.leader, b.member_id);
    ck_assert_int_eq(b.nmembers, 1);
    snprintf(bid, sizeof bid, "%s", b.member_id);

    /* a dynamic member joins; the static one does not rejoin within the
     * rebalance timeout but stays in the group (its 60 s session still
     * runs); the member that joined leads */
    result c;
    join(&c, "g", NULL);
    advance(29999);
    ck_assert(!c.join_done);
    advance(1);
    ck_assert(c.join_done);
    ck_assert_int_eq(c.generation, 2);
    ck_assert_str_eq(c.leader, c.member_id);
    ck_assert_int_eq(c.nmembers, 2);
    ck_assert_int_eq(members_of("g"), 2);
    ck_assert_int_eq(gb_group_heartbeat(gs, S("g"), 2, S(bid), S("inst-1"), now), 0);
    /* administrative removal by instance id */
    gb_leave_member lm = {.member_id = S(""), .group_instance_id = S("inst-1")};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &lm, 1, now), 0);
    ck_assert_int_eq(lm.error, 0);
    ck_assert_int_eq(members_of("g"), 1);
}
END_TEST

START_TEST(test_static_member_fenced_while_waiting)
{
    result a, b, c;
    join_full(&a, "g", NULL, "inst-1", "range", NULL, 10000, 30000, false, false);
    char aid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    const char *m[] = {aid};
    const char *as[] = {"A"};
    sync_(&a, "g", aid, 1, 1, m, as);
    join(&c, "g", NULL); /* rebalance */
    join_full(&a, "g", aid, "inst-1", "range", NULL, 10000, 30000, false, false);
    ck_assert(a.join_done); /* both joined */
    join(&c, "g", NULL);    /* another one, now a waits in its JoinGroup */
    join_full(&a, "g", aid, "inst-1", "range", NULL, 10000, 30000, false, false);
    ck_assert(!a.join_done);
    /* the instance restarts elsewhere: the parked request is fenced */
    join_full(&b, "g", NULL, "inst-1", "range", NULL, 10000, 30000, false, false);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.error, GP_E_FENCED_INSTANCE_ID);
    gb_groups_shutdown(gs); /* b and c still wait, in this frame */
    ck_assert(b.join_done && c.join_done);
}
END_TEST

START_TEST(test_errors)
{
    result a, b;
    join_full(&a, "g", NULL, NULL, "range", NULL, 1000, 30000, false, false);
    ck_assert_int_eq(a.error, GP_E_INVALID_SESSION_TIMEOUT);
    join_full(&a, "g", NULL, NULL, "range", NULL, 2000000, 30000, false, false);
    ck_assert_int_eq(a.error, GP_E_INVALID_SESSION_TIMEOUT);
    join(&a, "", NULL);
    ck_assert_int_eq(a.error, GP_E_INVALID_GROUP_ID);
    join(&a, "g", "someone");
    ck_assert_int_eq(a.error, GP_E_UNKNOWN_MEMBER_ID);
    /* failed joins leave no group behind */
    gp_arena ar;
    gp_arena_init(&ar, NULL, 0);
    gb_group_summary *list;
    ck_assert_int_eq(gb_groups_list(gs, &ar, &list), 0);

    stable_one("g", &a);
    join_full(&b, "g", NULL, NULL, "roundrobin", "x", 10000, 30000, false, false);
    ck_assert_int_eq(b.error, GP_E_INCONSISTENT_GROUP_PROTOCOL);
    ck_assert_int_eq(gb_groups_list(gs, &ar, &list), 1);
    ck_assert_str_eq(list[0].group_id, "g");
    ck_assert_int_eq(list[0].state, GB_GROUP_STABLE);
    ck_assert_str_eq(list[0].protocol_type, "consumer");
    gp_arena_reset(&ar, NULL, 0);

    /* SyncGroup: unknown member, unknown group */
    sync_(&b, "g", "nobody", 1, 0, NULL, NULL);
    ck_assert_int_eq(b.sync_error, GP_E_UNKNOWN_MEMBER_ID);
    sync_(&b, "nogroup", "nobody", 1, 0, NULL, NULL);
    ck_assert_int_eq(b.sync_error, GP_E_UNKNOWN_MEMBER_ID);

    /* loading: JoinGroup waits for it, Heartbeat is answered blindly,
     * SyncGroup asks for a rejoin */
    int32_t p = gb_groups_partition_for(gs, S("g"));
    gb_groups_set_loading(gs, p, true);
    join(&b, "g", NULL);
    ck_assert_int_eq(b.error, GP_E_COORDINATOR_LOAD_IN_PROGRESS);
    ck_assert_int_eq(heartbeat("g", "whoever", 99), 0);
    sync_(&b, "g", a.member_id, 1, 0, NULL, NULL);
    ck_assert_int_eq(b.sync_error, GP_E_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(gb_group_fetch_check(gs, S("g")), GP_E_COORDINATOR_LOAD_IN_PROGRESS);
    gb_groups_load_done(gs, p, now);
    ck_assert_int_eq(gb_group_fetch_check(gs, S("g")), 0);
}
END_TEST

START_TEST(test_max_size)
{
    teardown();
    now = 1000;
    nrecs = 0;
    gb_groups_config cfg = config();
    cfg.max_size = 1;
    gs = make(&cfg);
    result a, b;
    stable_one("g", &a);
    join(&b, "g", NULL);
    ck_assert(b.join_done);
    ck_assert_int_eq(b.error, GP_E_GROUP_MAX_SIZE_REACHED);
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
}
END_TEST

/* ---- offsets --------------------------------------------------------------------------- */

static int16_t commit(const char *group, int32_t gen, const char *member, const char *topic, int32_t part, int64_t off,
                      const char *md, int16_t *perr)
{
    gb_commit c = {.topic = S(topic),
                   .partition = part,
                   .offset = off,
                   .leader_epoch = -1,
                   .metadata = S(md),
                   .commit_timestamp = -1,
                   .expire_timestamp = -1};
    int32_t wp;
    int16_t e = gb_group_commit(gs, S(group), gen, S(member), GP_STR_NULL, &c, 1, now, &wp);
    if (perr)
        *perr = c.error;
    return e;
}

static int64_t fetched(const char *group, const char *topic, int32_t part)
{
    gb_offset_info o;
    return gb_group_offset(gs, S(group), S(topic), part, &o) ? o.offset : -1;
}

START_TEST(test_commit_rules)
{
    int16_t pe;
    /* a consumer without group management: generation -1, no member id */
    ck_assert_int_eq(commit("simple", -1, "", "t", 0, 5, NULL, &pe), 0);
    ck_assert_int_eq(pe, 0);
    ck_assert_int_eq(fetched("simple", "t", 0), 5);
    ck_assert_int_eq(state_of("simple"), GB_GROUP_EMPTY);
    ck_assert_int_eq(commit("gone", 3, "m", "t", 0, 5, NULL, &pe), GP_E_ILLEGAL_GENERATION);
    /* the empty group id is allowed for offsets */
    ck_assert_int_eq(commit("", -1, "", "t", 0, 1, NULL, &pe), 0);
    /* metadata too large */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(commit("simple", -1, "", "t", 1, 5, big, &pe), 0);
    ck_assert_int_eq(pe, GP_E_OFFSET_METADATA_TOO_LARGE);
    ck_assert_int_eq(fetched("simple", "t", 1), -1);

    result a, b;
    stable_two("g", &a, &b);
    ck_assert_int_eq(commit("g", 2, a.member_id, "t", 0, 10, "meta", &pe), 0);
    ck_assert_int_eq(fetched("g", "t", 0), 10);
    gb_offset_info info;
    ck_assert(gb_group_offset(gs, S("g"), S("t"), 0, &info));
    ck_assert(gp_str_eq_c(info.metadata, "meta"));
    ck_assert_int_eq(commit("g", 1, a.member_id, "t", 0, 11, NULL, NULL), GP_E_ILLEGAL_GENERATION);
    ck_assert_int_eq(commit("g", 2, "stranger", "t", 0, 11, NULL, NULL), GP_E_UNKNOWN_MEMBER_ID);
    /* a non-member cannot commit to a group with members */
    ck_assert_int_eq(commit("g", -1, "", "t", 0, 11, NULL, NULL), GP_E_UNKNOWN_MEMBER_ID);
    /* while a rebalance is being prepared, the current generation still commits */
    result c;
    join(&c, "g", NULL);
    ck_assert_int_eq(state_of("g"), GB_GROUP_PREPARING_REBALANCE);
    ck_assert_int_eq(commit("g", 2, b.member_id, "t", 1, 20, NULL, &pe), 0);
    ck_assert_int_eq(fetched("g", "t", 1), 20);
    /* ... but not between JoinGroup and SyncGroup */
    char aid[160], bid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    snprintf(bid, sizeof bid, "%s", b.member_id);
    join(&a, "g", aid);
    join(&b, "g", bid);
    ck_assert(c.join_done);
    ck_assert_int_eq(state_of("g"), GB_GROUP_COMPLETING_REBALANCE);
    ck_assert_int_eq(commit("g", 3, bid, "t", 1, 21, NULL, NULL), GP_E_REBALANCE_IN_PROGRESS);

    /* every offset of the group, by topic and partition */
    gp_arena ar;
    gp_arena_init(&ar, NULL, 0);
    gb_offset_info *all;
    ck_assert_int_eq(gb_group_offsets(gs, S("g"), &ar, &all), 2);
    ck_assert(all[0].partition == 0 && all[1].partition == 1);
    gp_arena_reset(&ar, NULL, 0);

    /* a failed append: the error, nothing stored */
    append_error = GP_E_NOT_COORDINATOR;
    ck_assert_int_eq(commit("simple", -1, "", "t", 2, 5, NULL, &pe), 0);
    ck_assert_int_eq(pe, GP_E_NOT_COORDINATOR);
    ck_assert_int_eq(fetched("simple", "t", 2), -1);
}
END_TEST

START_TEST(test_delete)
{
    int16_t pe;
    ck_assert_int_eq(gb_group_delete(gs, S("nope"), now), GP_E_GROUP_ID_NOT_FOUND);
    ck_assert_int_eq(commit("simple", -1, "", "t", 0, 5, NULL, &pe), 0);
    ck_assert_int_eq(commit("simple", -1, "", "t", 1, 6, NULL, &pe), 0);
    result a;
    make_subscription("t");
    stable_one("g", &a);
    ck_assert_int_eq(gb_group_delete(gs, S("g"), now), GP_E_NON_EMPTY_GROUP);
    ck_assert_int_eq(commit("g", 1, a.member_id, "t", 0, 1, NULL, &pe), 0);
    ck_assert_int_eq(commit("g", 1, a.member_id, "u", 0, 1, NULL, &pe), 0);
    /* OffsetDelete: a topic the group consumes cannot lose its offsets */
    gb_tp tps[2] = {{.topic = S("t"), .partition = 0}, {.topic = S("u"), .partition = 0}};
    ck_assert_int_eq(gb_group_delete_offsets(gs, S("g"), tps, 2, now), 0);
    ck_assert_int_eq(tps[0].error, GP_E_GROUP_SUBSCRIBED_TO_TOPIC);
    ck_assert_int_eq(tps[1].error, 0);
    ck_assert_int_eq(fetched("g", "t", 0), 1);
    ck_assert_int_eq(fetched("g", "u", 0), -1);
    ck_assert_int_eq(gb_group_delete_offsets(gs, S("nope"), tps, 2, now), GP_E_GROUP_ID_NOT_FOUND);

    int before = nrecs;
    ck_assert_int_eq(gb_group_delete(gs, S("simple"), now), 0);
    ck_assert_int_eq(nrecs - before, 2); /* two offset tombstones, no group record (generation 0) */
    ck_assert_int_eq(recs[nrecs - 1].vlen, -1);
    ck_assert_int_eq(fetched("simple", "t", 0), -1);
    ck_assert_int_eq(gb_group_delete(gs, S("simple"), now), GP_E_GROUP_ID_NOT_FOUND);
    gp_arena ar;
    gp_arena_init(&ar, NULL, 0);
    gb_group_summary s;
    ck_assert_int_eq(gb_group_describe(gs, S("simple"), &ar, &s), 0);
    ck_assert_int_eq(s.state, GB_GROUP_DEAD);
    gp_arena_reset(&ar, NULL, 0);
}
END_TEST

START_TEST(test_offsets_expire)
{
    int16_t pe;
    ck_assert_int_eq(commit("simple", -1, "", "t", 0, 5, NULL, &pe), 0);
    result a;
    join_full(&a, "g", NULL, NULL, "range", NULL, 1200000, 30000, false, false);
    ck_assert_int_eq(a.generation, 1);
    const char *m[] = {a.member_id};
    const char *as[] = {"A"};
    sync_(&a, "g", a.member_id, 1, 1, m, as);
    ck_assert_int_eq(commit("g", 1, a.member_id, "t", 0, 7, NULL, &pe), 0);
    /* a member keeps heartbeating for 8 days: the active group keeps its offsets */
    for (int i = 0; i < 8 * 24 * 6; i++) {
        advance(600000);
        ck_assert_int_eq(heartbeat("g", a.member_id, 1), 0);
    }
    ck_assert_int_eq(fetched("g", "t", 0), 7);
    ck_assert_int_eq(fetched("simple", "t", 0), -1); /* retention passed: gone, and the group too */
    ck_assert_int_eq(state_of("simple"), GB_GROUP_DEAD);
    /* the member leaves: the empty group's offsets expire a retention period later */
    gb_leave_member lm = {.member_id = S(a.member_id), .group_instance_id = GP_STR_NULL};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &lm, 1, now), 0);
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
    advance(6LL * 24 * 3600 * 1000);
    ck_assert_int_eq(fetched("g", "t", 0), 7);
    advance(2LL * 24 * 3600 * 1000);
    ck_assert_int_eq(fetched("g", "t", 0), -1);
    ck_assert_int_eq(state_of("g"), GB_GROUP_DEAD);
    /* the last records: an offset tombstone, then the group's */
    ck_assert_int_eq(recs[nrecs - 1].vlen, -1);
    gb_group_key k;
    ck_assert_int_eq(gb_group_key_decode((gp_bytes){recs[nrecs - 1].key, recs[nrecs - 1].klen}, &k), 0);
    ck_assert_int_eq(k.type, GB_KEY_GROUP);
}
END_TEST

/* A simple group's offsets expire each a retention after its own commit,
 * not before; an explicit expire timestamp (OffsetCommit v2-v4's retention
 * time, or v1's record) wins over the retention. */
START_TEST(test_offsets_expire_per_commit)
{
    int16_t pe;
    ck_assert_int_eq(commit("simple", -1, "", "t", 0, 5, NULL, &pe), 0);
    advance(3LL * 24 * 3600 * 1000);
    ck_assert_int_eq(commit("simple", -1, "", "t", 1, 6, NULL, &pe), 0);
    gb_commit c = {.topic = S("u"),
                   .partition = 0,
                   .offset = 9,
                   .leader_epoch = -1,
                   .metadata = S(""),
                   .commit_timestamp = -1,
                   .expire_timestamp = 1700000000000LL + now + 3600000};
    int32_t wp;
    ck_assert_int_eq(gb_group_commit(gs, S("simple"), -1, S(""), GP_STR_NULL, &c, 1, now, &wp), 0);
    advance(30LL * 60 * 1000);
    ck_assert_int_eq(fetched("simple", "u", 0), 9); /* its hour has not passed */
    advance(40LL * 60 * 1000);
    ck_assert_int_eq(fetched("simple", "u", 0), -1);
    ck_assert_int_eq(fetched("simple", "t", 0), 5);
    /* just short of a week after the first commit: both there */
    advance(4LL * 24 * 3600 * 1000 - 2LL * 3600 * 1000);
    ck_assert_int_eq(fetched("simple", "t", 0), 5);
    ck_assert_int_eq(fetched("simple", "t", 1), 6);
    /* a week after it: the first gone, the second (3 days younger) kept */
    advance(3LL * 3600 * 1000);
    ck_assert_int_eq(fetched("simple", "t", 0), -1);
    ck_assert_int_eq(fetched("simple", "t", 1), 6);
    ck_assert_int_eq(state_of("simple"), GB_GROUP_EMPTY);
    advance(3LL * 24 * 3600 * 1000);
    ck_assert_int_eq(fetched("simple", "t", 1), -1);
    ck_assert_int_eq(state_of("simple"), GB_GROUP_DEAD);
}
END_TEST

/* ---- replay ----------------------------------------------------------------------------- */

/* A fresh coordinator loading every record written so far (a restart). */
static void restart(void)
{
    gb_groups_shutdown(gs);
    gb_groups_free(gs);
    now += 5000;
    gb_groups_config c = config();
    gs = make(&c);
    for (int p = 0; p < 50; p++)
        gb_groups_set_loading(gs, p, true);
    for (int i = 0; i < nrecs; i++) {
        if (recs[i].marker) {
            gb_groups_txn_marker(gs, recs[i].partition, recs[i].producer_id, recs[i].marker == 1);
            continue;
        }
        gp_bytes k = {recs[i].key, recs[i].klen};
        gp_bytes v = {recs[i].value, recs[i].vlen};
        if (recs[i].producer_id >= 0)
            ck_assert_int_ge(gb_groups_replay_txn(gs, recs[i].partition, recs[i].producer_id, k, v, now), 0);
        else
            ck_assert_int_ge(gb_groups_replay(gs, recs[i].partition, k, v, now), 0);
    }
    for (int p = 0; p < 50; p++)
        gb_groups_load_done(gs, p, now);
}

/* Offset metadata is any string: what a consumer outside any generation
 * commits (leading and trailing spaces, a NUL character) is what OffsetFetch
 * reads back, before and after a restart, byte for byte (Kafka 4.4 does). */
START_TEST(test_offset_metadata_bytes)
{
    static const char md[] = "  hello \0 x ";
    gb_commit c = {.topic = S("t"),
                   .partition = 0,
                   .offset = 42,
                   .leader_epoch = -1,
                   .metadata = {md, (int32_t)sizeof md - 1},
                   .commit_timestamp = -1,
                   .expire_timestamp = -1};
    int32_t wp;
    ck_assert_int_eq(gb_group_commit(gs, S("simple"), -1, S(""), GP_STR_NULL, &c, 1, now, &wp), 0);
    ck_assert_int_eq(c.error, 0);
    int16_t pe;
    ck_assert_int_eq(commit("simple", -1, "", "t", 1, 7, NULL, &pe), 0); /* null metadata: "" */
    for (int round = 0; round < 2; round++) {
        gb_offset_info o;
        ck_assert(gb_group_offset(gs, S("simple"), S("t"), 0, &o));
        ck_assert_int_eq(o.offset, 42);
        ck_assert_int_eq(o.metadata.len, (int32_t)sizeof md - 1);
        ck_assert(memcmp(o.metadata.p, md, sizeof md - 1) == 0);
        ck_assert(gb_group_offset(gs, S("simple"), S("t"), 1, &o));
        ck_assert_int_eq(o.offset, 7);
        ck_assert_int_eq(o.metadata.len, 0);
        restart();
    }
}
END_TEST

/* DescribeGroups shows a member's last assignment in every state, its
 * subscription only in a Stable group (Kafka 4.4: after a static member
 * left by LeaveGroup, the one left in PreparingRebalance still shows its
 * assignment). */
START_TEST(test_describe_assignment_outside_stable)
{
    result a, b;
    stable_two("g", &a, &b);
    gb_leave_member lm = {.member_id = S(""), .group_instance_id = S("nobody")};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &lm, 1, now), 0);
    ck_assert_int_eq(lm.error, GP_E_UNKNOWN_MEMBER_ID);
    gb_leave_member lb = {.member_id = S(b.member_id), .group_instance_id = GP_STR_NULL};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &lb, 1, now), 0);
    ck_assert_int_eq(lb.error, 0);
    gp_arena ar;
    gp_arena_init(&ar, NULL, 0);
    gb_group_summary s;
    ck_assert_int_eq(gb_group_describe(gs, S("g"), &ar, &s), 0);
    ck_assert_int_eq(s.state, GB_GROUP_PREPARING_REBALANCE);
    ck_assert_int_eq(s.nmembers, 1);
    ck_assert_int_eq(s.members[0].metadata.len, 0);
    ck_assert_int_eq(s.members[0].assignment.len, 2);
    ck_assert(memcmp(s.members[0].assignment.p, "A2", 2) == 0);
    gp_arena_reset(&ar, NULL, 0);
}
END_TEST

START_TEST(test_replay)
{
    int16_t pe;
    result a, b;
    stable_two("g", &a, &b);
    char aid[160], bid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    snprintf(bid, sizeof bid, "%s", b.member_id);
    ck_assert_int_eq(commit("g", 2, aid, "t", 0, 100, "x", &pe), 0);
    ck_assert_int_eq(commit("g", 2, bid, "t", 1, 200, NULL, &pe), 0);
    ck_assert_int_eq(commit("g", 2, bid, "t", 1, 201, NULL, &pe), 0);
    ck_assert_int_eq(commit("simple", -1, "", "u", 3, 9, NULL, &pe), 0);
    ck_assert_int_eq(commit("deleted", -1, "", "u", 3, 9, NULL, &pe), 0);
    ck_assert_int_eq(gb_group_delete(gs, S("deleted"), now), 0);
    for (int i = 0; i < nrecs; i++)
        ck_assert_int_eq(recs[i].partition,
                         gb_group_partition_for((const char *)recs[i].key + 4,
                                                (size_t)((recs[i].key[2] << 8) | recs[i].key[3]), 50));
    restart();
    ck_assert_int_eq(fetched("g", "t", 0), 100);
    ck_assert_int_eq(fetched("g", "t", 1), 201);
    ck_assert_int_eq(fetched("simple", "u", 3), 9);
    ck_assert_int_eq(fetched("deleted", "u", 3), -1);
    ck_assert_int_eq(state_of("deleted"), GB_GROUP_DEAD);
    ck_assert_int_eq(state_of("simple"), GB_GROUP_EMPTY);
    /* the group comes back Stable with its members, generation and assignments */
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
    ck_assert_int_eq(members_of("g"), 2);
    ck_assert_int_eq(heartbeat("g", aid, 2), 0);
    sync_(&b, "g", bid, 2, 0, NULL, NULL);
    ck_assert_int_eq(b.sync_error, 0);
    ck_assert_str_eq(b.assignment, "B2");
    /* b does not come back: its session expires and a rebalances alone */
    advance(9000);
    ck_assert_int_eq(heartbeat("g", aid, 2), 0);
    advance(9000);
    ck_assert_int_eq(heartbeat("g", aid, 2), GP_E_REBALANCE_IN_PROGRESS);
    join(&a, "g", aid);
    ck_assert(a.join_done);
    ck_assert_int_eq(a.generation, 3);
    ck_assert_int_eq(a.nmembers, 1);
    /* an Empty group's record after that: replayed as Empty */
    gb_leave_member lm = {.member_id = S(aid), .group_instance_id = GP_STR_NULL};
    ck_assert_int_eq(gb_group_leave(gs, S("g"), &lm, 1, now), 0);
    restart();
    ck_assert_int_eq(state_of("g"), GB_GROUP_EMPTY);
    ck_assert_int_eq(fetched("g", "t", 1), 201);
    join(&a, "g", NULL);
    ck_assert_int_eq(a.generation, 5); /* continues from the stored generation (4, empty) */
}
END_TEST

/* ---- transactional offsets ------------------------------------------------------------------ */

static int16_t txn_commit_full(const char *group, int64_t pid, int32_t gen, const char *member, const char *instance,
                               const char *topic, int32_t part, int64_t off, const char *md, int16_t *perr)
{
    gb_commit c = {.topic = S(topic),
                   .partition = part,
                   .offset = off,
                   .leader_epoch = -1,
                   .metadata = S(md),
                   .commit_timestamp = -1,
                   .expire_timestamp = -1};
    int32_t wp;
    int16_t e = gb_group_txn_commit(gs, S(group), pid, 0, gen, S(member), S(instance), &c, 1, now, &wp);
    if (perr)
        *perr = c.error;
    return e;
}

static int16_t txn_commit(const char *group, int64_t pid, const char *topic, int32_t part, int64_t off, int16_t *perr)
{
    return txn_commit_full(group, pid, -1, "", NULL, topic, part, off, "tx", perr);
}

static int32_t part_of(const char *group)
{
    return gb_group_partition_for(group, strlen(group), 50);
}

/* The transaction coordinator's marker in the group's partition: logged
 * (for restart()) and applied, as gb_group_coordinator_txn_marker does. */
static void marker(const char *group, int64_t pid, bool commit)
{
    ck_assert_int_lt(nrecs, 4096);
    rec *r = &recs[nrecs++];
    memset(r, 0, sizeof *r);
    r->partition = part_of(group);
    r->producer_id = pid;
    r->marker = commit ? 1 : 2;
    gb_groups_txn_marker(gs, r->partition, pid, commit);
}

static bool pending(const char *group, const char *topic, int32_t part)
{
    return gb_group_offset_pending(gs, S(group), S(topic), part);
}

START_TEST(test_txn_pending_commit_abort)
{
    int16_t pe;
    ck_assert_int_eq(txn_commit("tg", 7, "t", 0, 5, &pe), 0);
    ck_assert_int_eq(pe, 0);
    /* one transactional record of producer 7 in the group's partition */
    ck_assert_int_eq(nrecs, 1);
    ck_assert_int_eq(recs[0].producer_id, 7);
    ck_assert_int_eq(recs[0].partition, part_of("tg"));
    /* pending: not visible, but the group exists (a simple group) */
    ck_assert_int_eq(fetched("tg", "t", 0), -1);
    ck_assert(pending("tg", "t", 0));
    ck_assert(!pending("tg", "t", 1));
    ck_assert_int_eq(state_of("tg"), GB_GROUP_EMPTY);
    ck_assert_int_eq(txn_commit("tg", 8, "t", 1, 6, &pe), 0);
    /* the same producer again: its later offset replaces the earlier */
    ck_assert_int_eq(txn_commit("tg", 7, "t", 0, 15, &pe), 0);
    /* a marker of another producer, or in another partition, changes nothing */
    marker("tg", 99, true);
    gb_groups_txn_marker(gs, (part_of("tg") + 1) % 50, 7, true);
    ck_assert(pending("tg", "t", 0));
    marker("tg", 7, true);
    ck_assert_int_eq(fetched("tg", "t", 0), 15);
    ck_assert(!pending("tg", "t", 0));
    ck_assert(pending("tg", "t", 1));
    marker("tg", 8, false);
    ck_assert_int_eq(fetched("tg", "t", 1), -1);
    ck_assert(!pending("tg", "t", 1));
    gb_offset_info o;
    ck_assert(gb_group_offset(gs, S("tg"), S("t"), 0, &o));
    ck_assert(gp_str_eq_c(o.metadata, "tx"));
    /* two producers on one partition: each completes its own */
    ck_assert_int_eq(txn_commit("tg", 10, "t", 2, 100, &pe), 0);
    ck_assert_int_eq(txn_commit("tg", 11, "t", 2, 200, &pe), 0);
    marker("tg", 10, false);
    ck_assert(pending("tg", "t", 2));
    marker("tg", 11, true);
    ck_assert_int_eq(fetched("tg", "t", 2), 200);
    ck_assert(!pending("tg", "t", 2));
}
END_TEST

/* Kafka's rule at the COMMIT marker: the more recent record wins. */
START_TEST(test_txn_most_recent_wins)
{
    int16_t pe;
    ck_assert_int_eq(commit("mix", -1, "", "t", 1, 80, NULL, &pe), 0);
    ck_assert_int_eq(txn_commit("mix", 9, "t", 0, 60, &pe), 0);
    ck_assert_int_eq(txn_commit("mix", 9, "t", 1, 90, &pe), 0);
    ck_assert_int_eq(commit("mix", -1, "", "t", 0, 70, NULL, &pe), 0);
    ck_assert_int_eq(fetched("mix", "t", 0), 70);
    ck_assert_int_eq(fetched("mix", "t", 1), 80);
    marker("mix", 9, true);
    ck_assert_int_eq(fetched("mix", "t", 0), 70); /* the plain commit came after */
    ck_assert_int_eq(fetched("mix", "t", 1), 90);
    /* and the same after a restart */
    restart();
    ck_assert_int_eq(fetched("mix", "t", 0), 70);
    ck_assert_int_eq(fetched("mix", "t", 1), 90);
}
END_TEST

START_TEST(test_txn_commit_rules)
{
    int16_t pe;
    /* as Kafka 4.4 answers (tests/integration/test_txn_offsets.py) */
    ck_assert_int_eq(txn_commit_full("gone", 7, 3, "m", NULL, "t", 0, 1, NULL, &pe), GP_E_ILLEGAL_GENERATION);
    ck_assert_int_eq(state_of("gone"), GB_GROUP_DEAD);
    ck_assert_int_eq(txn_commit("", 7, "t", 0, 1, &pe), GP_E_INVALID_GROUP_ID);
    result a, b;
    stable_two("g", &a, &b);
    char aid[160], bid[160];
    snprintf(aid, sizeof aid, "%s", a.member_id);
    snprintf(bid, sizeof bid, "%s", b.member_id);
    ck_assert_int_eq(txn_commit_full("g", 7, 2, "stranger", NULL, "t", 0, 1, NULL, &pe), GP_E_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(txn_commit_full("g", 7, 3, aid, NULL, "t", 0, 1, NULL, &pe), GP_E_ILLEGAL_GENERATION);
    ck_assert_int_eq(txn_commit_full("g", 7, 2, aid, "nobody", "t", 0, 1, NULL, &pe), GP_E_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(txn_commit_full("g", 7, 2, aid, NULL, "t", 0, 1, NULL, &pe), 0);
    /* no member and generation (v0-v2): accepted by a group with members */
    ck_assert_int_eq(txn_commit("g", 7, "t", 1, 1, &pe), 0);
    ck_assert_int_eq(pe, 0);
    /* ... and while a rebalance completes, unlike OffsetCommit */
    result c;
    join(&c, "g", NULL);
    join(&a, "g", aid);
    join(&b, "g", bid);
    ck_assert_int_eq(state_of("g"), GB_GROUP_COMPLETING_REBALANCE);
    ck_assert_int_eq(txn_commit_full("g", 7, 3, bid, NULL, "t", 2, 1, NULL, &pe), 0);
    ck_assert_int_eq(pe, 0);
    /* metadata too large */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(txn_commit_full("g", 7, -1, "", NULL, "t", 3, 1, big, &pe), 0);
    ck_assert_int_eq(pe, GP_E_OFFSET_METADATA_TOO_LARGE);
    ck_assert(!pending("g", "t", 3));
    /* a failed append: the error, nothing pending, no group left behind */
    append_error = GP_E_NOT_COORDINATOR;
    ck_assert_int_eq(txn_commit("failed", 7, "t", 0, 1, &pe), 0);
    ck_assert_int_eq(pe, GP_E_NOT_COORDINATOR);
    ck_assert(!pending("failed", "t", 0));
    ck_assert_int_eq(state_of("failed"), GB_GROUP_DEAD);
    append_error = 0;
    /* a partition still loading */
    gb_groups_set_loading(gs, part_of("g"), true);
    ck_assert_int_eq(txn_commit("g", 7, "t", 0, 1, &pe), GP_E_COORDINATOR_LOAD_IN_PROGRESS);
    gb_groups_set_loading(gs, part_of("g"), false);
}
END_TEST

START_TEST(test_txn_replay)
{
    int16_t pe;
    ck_assert_int_eq(commit("rg", -1, "", "t", 0, 1, NULL, &pe), 0);
    ck_assert_int_eq(txn_commit("rg", 7, "t", 0, 10, &pe), 0);
    marker("rg", 7, true);
    ck_assert_int_eq(txn_commit("rg", 8, "t", 0, 99, &pe), 0);
    ck_assert_int_eq(txn_commit("rg", 8, "t", 1, 99, &pe), 0);
    marker("rg", 8, false);
    ck_assert_int_eq(txn_commit("rg", 9, "t", 1, 5, &pe), 0); /* still open */
    ck_assert_int_eq(txn_commit("only-pending", 10, "t", 0, 3, &pe), 0);
    restart();
    ck_assert_int_eq(fetched("rg", "t", 0), 10);
    ck_assert(!pending("rg", "t", 0));
    ck_assert_int_eq(fetched("rg", "t", 1), -1); /* aborted: never seen */
    ck_assert(pending("rg", "t", 1));            /* producer 9's */
    /* a group holding only pending offsets is loaded */
    ck_assert_int_eq(state_of("only-pending"), GB_GROUP_EMPTY);
    ck_assert(pending("only-pending", "t", 0));
    /* the open transaction commits after the restart */
    marker("rg", 9, true);
    ck_assert_int_eq(fetched("rg", "t", 1), 5);
    marker("only-pending", 10, false);
    ck_assert(!pending("only-pending", "t", 0));
    /* a tombstone replayed drops the partition's pending offsets too */
    ck_assert_int_eq(txn_commit("rg", 12, "t", 0, 77, &pe), 0);
    gb_tp tp = {.topic = S("t"), .partition = 0};
    ck_assert_int_eq(gb_group_delete_offsets(gs, S("rg"), &tp, 1, now), 0);
    ck_assert(!pending("rg", "t", 0));
    ck_assert_int_eq(txn_commit("rg", 12, "t", 0, 78, &pe), 0);
    /* re-added after the tombstone: the replay has it pending again */
    restart();
    ck_assert(pending("rg", "t", 0));
    ck_assert_int_eq(fetched("rg", "t", 0), -1);
}
END_TEST

/* DeleteGroups, OffsetDelete and expiry with pending transactional offsets,
 * as Kafka's OffsetMetadataManager: tombstones drop them; expiry keeps an
 * offset an open transaction may replace, and a group with one. */
START_TEST(test_txn_delete_and_expiry)
{
    int16_t pe;
    ck_assert_int_eq(commit("dg", -1, "", "t", 0, 1, NULL, &pe), 0);
    ck_assert_int_eq(txn_commit("dg", 7, "t", 0, 2, &pe), 0);
    ck_assert_int_eq(txn_commit("dg", 7, "t", 1, 2, &pe), 0);
    ck_assert_int_eq(txn_commit("dg", 8, "t", 1, 3, &pe), 0);
    int before = nrecs;
    ck_assert_int_eq(gb_group_delete(gs, S("dg"), now), 0);
    ck_assert_int_eq(nrecs - before, 2); /* t-0 and t-1, once each */
    ck_assert_int_eq(state_of("dg"), GB_GROUP_DEAD);
    marker("dg", 7, true); /* nothing left to commit */
    ck_assert_int_eq(fetched("dg", "t", 0), -1);
    ck_assert_int_eq(state_of("dg"), GB_GROUP_DEAD);

    /* OffsetDelete of a partition with only a pending offset */
    ck_assert_int_eq(txn_commit("od", 7, "t", 0, 2, &pe), 0);
    gb_tp tp = {.topic = S("t"), .partition = 0};
    before = nrecs;
    ck_assert_int_eq(gb_group_delete_offsets(gs, S("od"), &tp, 1, now), 0);
    ck_assert_int_eq(tp.error, 0);
    ck_assert_int_eq(nrecs - before, 1);
    ck_assert_int_eq(recs[nrecs - 1].vlen, -1);
    ck_assert(!pending("od", "t", 0));
    marker("od", 7, true);
    ck_assert_int_eq(fetched("od", "t", 0), -1);

    /* expiry */
    ck_assert_int_eq(commit("ex", -1, "", "t", 0, 1, NULL, &pe), 0);
    ck_assert_int_eq(commit("ex", -1, "", "t", 1, 1, NULL, &pe), 0);
    ck_assert_int_eq(txn_commit("ex", 7, "t", 0, 2, &pe), 0);
    ck_assert_int_eq(txn_commit("ex-pending", 7, "t", 0, 2, &pe), 0);
    advance(8LL * 24 * 3600 * 1000);
    ck_assert_int_eq(fetched("ex", "t", 0), 1); /* kept: a transaction may replace it */
    ck_assert_int_eq(fetched("ex", "t", 1), -1);
    ck_assert_int_eq(state_of("ex-pending"), GB_GROUP_EMPTY);
    marker("ex", 7, true);
    ck_assert_int_eq(fetched("ex", "t", 0), 2);
    marker("ex-pending", 7, false);
    advance(8LL * 24 * 3600 * 1000);
    ck_assert_int_eq(state_of("ex-pending"), GB_GROUP_DEAD);
    ck_assert_int_eq(state_of("ex"), GB_GROUP_DEAD);
}
END_TEST

/* A deleted topic's partition: every group forgets its offsets (committed
 * and pending) with a tombstone, a group with members too; the group stays
 * until the retention check finds it Empty with nothing; a restart does
 * not bring them back; a deletion while the partition of a group is still
 * loading reaches the group once it has loaded. */
START_TEST(test_partition_deleted)
{
    int16_t pe;
    result a;
    stable_one("g", &a);
    ck_assert_int_eq(commit("g", 1, a.member_id, "t", 0, 7, NULL, &pe), 0);
    ck_assert_int_eq(commit("g", 1, a.member_id, "t", 1, 8, NULL, &pe), 0);
    ck_assert_int_eq(commit("simple", -1, "", "t", 0, 5, NULL, &pe), 0);
    ck_assert_int_eq(commit("simple", -1, "", "tt", 0, 6, NULL, &pe), 0);
    ck_assert_int_eq(commit("only", -1, "", "t", 0, 1, NULL, &pe), 0);
    ck_assert_int_eq(txn_commit("tx", 7, "t", 0, 2, &pe), 0);
    int before = nrecs;
    gb_groups_partition_deleted(gs, S("t"), 0, now);
    ck_assert_int_eq(nrecs - before, 4); /* g, simple, only, tx: one tombstone each */
    for (int i = before; i < nrecs; i++)
        ck_assert_int_eq(recs[i].vlen, -1);
    ck_assert_int_eq(fetched("g", "t", 0), -1);
    ck_assert_int_eq(fetched("g", "t", 1), 8);
    ck_assert_int_eq(fetched("simple", "t", 0), -1);
    ck_assert_int_eq(fetched("simple", "tt", 0), 6);
    ck_assert(!pending("tx", "t", 0));
    ck_assert_int_eq(state_of("g"), GB_GROUP_STABLE);
    ck_assert_int_eq(state_of("only"), GB_GROUP_EMPTY); /* until the retention check */
    for (int i = 0; i < 120; i++) {
        advance(5000);
        ck_assert_int_eq(heartbeat("g", a.member_id, 1), 0);
    }
    ck_assert_int_eq(state_of("only"), GB_GROUP_DEAD);
    gb_groups_partition_deleted(gs, S("t"), 1, now);
    restart();
    ck_assert_int_eq(fetched("g", "t", 0), -1);
    ck_assert_int_eq(fetched("g", "t", 1), -1);
    ck_assert_int_eq(fetched("simple", "t", 0), -1);
    ck_assert_int_eq(fetched("simple", "tt", 0), 6);

    /* deleted while loading: the records replayed after it do not bring it back */
    ck_assert_int_eq(commit("simple", -1, "", "tt", 1, 9, NULL, &pe), 0);
    gb_groups_shutdown(gs);
    gb_groups_free(gs);
    gb_groups_config c = config();
    gs = make(&c);
    for (int p = 0; p < 50; p++)
        gb_groups_set_loading(gs, p, true);
    gb_groups_partition_deleted(gs, S("tt"), 0, now);
    before = nrecs;
    for (int i = 0; i < before; i++)
        if (!recs[i].marker && recs[i].producer_id < 0)
            ck_assert_int_ge(gb_groups_replay(gs, recs[i].partition, (gp_bytes){recs[i].key, recs[i].klen},
                                              (gp_bytes){recs[i].value, recs[i].vlen}, now),
                             0);
    for (int p = 0; p < 50; p++)
        gb_groups_load_done(gs, p, now);
    ck_assert_int_eq(fetched("simple", "tt", 0), -1);
    ck_assert_int_eq(fetched("simple", "tt", 1), 9);
    ck_assert_int_eq(nrecs - before, 1);
    ck_assert_int_eq(recs[nrecs - 1].vlen, -1);
}
END_TEST

START_TEST(test_shutdown_answers_waiters)
{
    result a, b;
    stable_one("g", &a);
    join(&b, "g", NULL); /* parked until a rejoins */
    ck_assert(!b.join_done);
    gb_groups_shutdown(gs);
    ck_assert(b.join_done);
    ck_assert_int_eq(b.error, GP_E_NOT_COORDINATOR);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("group");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_record_layout);
    tcase_add_test(tc, test_partition_for);
    tcase_add_test(tc, test_join_sync_heartbeat);
    tcase_add_test(tc, test_member_id_required);
    tcase_add_test(tc, test_two_members_rebalance);
    tcase_add_test(tc, test_follower_sync_after_leader);
    tcase_add_test(tc, test_session_expiry);
    tcase_add_test(tc, test_rebalance_timeout);
    tcase_add_test(tc, test_initial_rebalance_delay);
    tcase_add_test(tc, test_leave);
    tcase_add_test(tc, test_static_membership);
    tcase_add_test(tc, test_static_member_fenced_while_waiting);
    tcase_add_test(tc, test_offset_metadata_bytes);
    tcase_add_test(tc, test_describe_assignment_outside_stable);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_max_size);
    tcase_add_test(tc, test_commit_rules);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_offsets_expire);
    tcase_add_test(tc, test_offsets_expire_per_commit);
    tcase_add_test(tc, test_replay);
    tcase_add_test(tc, test_txn_pending_commit_abort);
    tcase_add_test(tc, test_txn_most_recent_wins);
    tcase_add_test(tc, test_txn_commit_rules);
    tcase_add_test(tc, test_txn_replay);
    tcase_add_test(tc, test_txn_delete_and_expiry);
    tcase_add_test(tc, test_partition_deleted);
    tcase_add_test(tc, test_shutdown_answers_waiters);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
