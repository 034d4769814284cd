/*
 * The consumer group APIs: FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete,
 * ListGroups, DescribeGroups and DeleteGroups. Each decodes its request
 * into the state machine's terms (gb_group.h), calls it, and fills the
 * response; JoinGroup and SyncGroup are answered when the state machine
 * says so (gb_group_api_join_done / _sync_done, which the lifecycle passes
 * to gb_group_coordinator_open), possibly from the coordinator's timer.
 *
 * Version rules that are Kafka's and not the codec's are kept here:
 * JoinGroup v0 has no rebalance timeout (the session timeout stands in),
 * v4+ dynamic members get MEMBER_ID_REQUIRED, v9 static leaders may skip
 * the assignment; SyncGroup v5+ must carry the protocol type and name;
 * LeaveGroup v0-v2 report the member's error at the top level; OffsetFetch
 * v1 reports a group error on each partition (it has no top-level one);
 * OffsetCommit and OffsetFetch v10+ name topics by id; DescribeGroups v6+
 * answers a group that does not exist GROUP_ID_NOT_FOUND.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/gu_common.h"

#include "broker/api/gb_group_api.h"
#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_group_coordinator.h"
#include "broker/core/gb_group_records.h"
#include "broker/core/gb_flusher.h"
#include "broker/core/gb_txn_coordinator.h"
#include "broker/core/gb_txn_state.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_errors.h"

/* Kafka's operation bits for a group when there is no authorizer: READ (3),
 * DELETE (6), DESCRIBE (8), DESCRIBE_CONFIGS (10) and ALTER_CONFIGS (11)
 * (groups have configs since KIP-848): 3400, as Kafka 4.4 answers. */
#define GB_GROUP_AUTHORIZED_OPERATIONS ((1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11))

/* The client's address as Kafka shows it (InetAddress.toString of an
 * address without a host name): "/127.0.0.1". */
static gp_str gb__client_host(gb_request *req)
{
    const char *peer = gb_request_peer(req); /* "[client 'id' at ]ip:port" */
    const char *sp = strrchr(peer, ' ');
    const char *addr = sp ? sp + 1 : peer;
    const char *colon = strrchr(addr, ':');
    size_t len = colon ? (size_t)(colon - addr) : strlen(addr);
    if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
        addr++;
        len -= 2;
    }
    char *s = gp_arena_alloc(&req->arena, len + 2);
    s[0] = '/';
    memcpy(s + 1, addr, len);
    s[len + 1] = 0;
    return (gp_str){s, (int32_t)(len + 1)};
}

static gp_str gb__str_or_empty(const char *s)
{
    return s ? gp_str_c(s) : GP_STR_LIT("");
}

/* ---- FindCoordinator ---------------------------------------------------------- */

/* Kafka's message for INVALID_REQUEST (the exception's default). */
#define GB_INVALID_REQUEST_MESSAGE                                                                                  \
    "This most likely occurs because of a request being malformed by the client library or the message was sent " \
    "to an incompatible broker. See the broker logs for more details."

/* FindCoordinator's key types (Kafka's CoordinatorType). */
enum { GB_COORDINATOR_GROUP = 0, GB_COORDINATOR_TRANSACTION = 1, GB_COORDINATOR_SHARE = 2 };

/*
 * This broker coordinates every group and transactional id. Looking up a
 * group creates __consumer_offsets, a transactional id __transaction_state,
 * as in Kafka. v0-v3 ask for one key, v4+ for several (coordinator_keys),
 * each answered in its own entry.
 *
 * Share groups (key type 2, "group:topic-id:partition" keys, v6) do not
 * exist here: each key gets INVALID_REQUEST with an empty message, which
 * is what Kafka 4.4 answers while share groups are not enabled (its
 * default), at any version; other unknown key types get INVALID_REQUEST
 * with Kafka's message. The messages are Kafka 4.4's: the top-level one
 * (v1-v3) is the error's message ("NONE" for none), an entry's (v4+) is
 * empty except for an unknown key type.
 */
void gb_handle_find_coordinator(gb_broker *b, gb_request *req)
{
    const gp_find_coordinator_request *body = req->body;
    gp_find_coordinator_response *resp = req->resp;
    int16_t err = 0;
    const char *msg = "NONE";   /* v1-v3 */
    const char *entry_msg = ""; /* v4+ */
    if (body->key_type == GB_COORDINATOR_SHARE) {
        err = GP_E_INVALID_REQUEST;
        msg = GB_INVALID_REQUEST_MESSAGE;
    } else if (body->key_type != GB_COORDINATOR_GROUP && body->key_type != GB_COORDINATOR_TRANSACTION) {
        err = GP_E_INVALID_REQUEST;
        msg = entry_msg = GB_INVALID_REQUEST_MESSAGE;
    } else if (body->key_type == GB_COORDINATOR_GROUP && !gb_group_coordinator_offsets_topic(b, true)) {
        err = GP_E_COORDINATOR_NOT_AVAILABLE;
        msg = "The coordinator is not available.";
    } else if (body->key_type == GB_COORDINATOR_TRANSACTION && !gb_txn_coordinator_topic(b, true)) {
        err = GP_E_COORDINATOR_NOT_AVAILABLE;
        msg = "The coordinator is not available.";
    }
    gp_str host = gp_str_c(gb_request_advertised_host(req));
    int32_t port = gb_request_advertised_port(req);
    resp->error_code = err;
    resp->error_message = gp_str_c(msg);
    resp->node_id = err ? -1 : b->meta.node_id;
    resp->host = err ? GP_STR_LIT("") : host;
    resp->port = err ? -1 : port;
    int32_t n = body->coordinator_keys_count > 0 ? body->coordinator_keys_count : 0;
    resp->coordinators_count = n;
    resp->coordinators = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *resp->coordinators);
    for (int32_t i = 0; i < n; i++) {
        gp_find_coordinator_response_coordinator *co = &resp->coordinators[i];
        gp_find_coordinator_response_coordinator_init(co);
        co->key = body->coordinator_keys[i];
        co->error_code = err;
        co->error_message = gp_str_c(entry_msg);
        co->node_id = resp->node_id;
        co->host = resp->host;
        co->port = resp->port;
    }
    gb_request_respond(req);
}

/* ---- JoinGroup -------------------------------------------------------------------- */

void gb_group_api_join_done(void *ctx, void *waiter, const gb_join_result *r)
{
    (void)ctx;
    gb_request *req = waiter;
    gp_join_group_response *resp = req->resp;
    resp->error_code = r->error;
    resp->generation_id = r->generation_id;
    resp->protocol_type = gp_str_c(r->protocol_type);
    /* Nullable from v7; before, Kafka answers "" for no protocol. */
    resp->protocol_name = r->protocol_name    ? gp_str_c(r->protocol_name)
                          : req->version >= 7 ? GP_STR_NULL
                                              : GP_STR_LIT("");
    resp->leader = gb__str_or_empty(r->leader);
    resp->skip_assignment = r->skip_assignment;
    resp->member_id = gb__str_or_empty(r->member_id);
    resp->members_count = r->nmembers;
    resp->members = gp_arena_calloc(&req->arena, (size_t)(r->nmembers ? r->nmembers : 1), sizeof *resp->members);
    for (int32_t i = 0; i < r->nmembers; i++) {
        gp_join_group_response_member *m = &resp->members[i];
        gp_join_group_response_member_init(m);
        /* Copies: the group may change before the response is written. */
        m->member_id =
            gp_str_c(gp_arena_strndup(&req->arena, r->members[i].member_id, strlen(r->members[i].member_id)));
        m->group_instance_id = r->members[i].group_instance_id
                                   ? gp_str_c(gp_arena_strndup(&req->arena, r->members[i].group_instance_id,
                                                               strlen(r->members[i].group_instance_id)))
                                   : GP_STR_NULL;
        m->metadata = r->members[i].metadata;
    }
    gb_request_respond(req);
}

void gb_handle_join_group(gb_broker *b, gb_request *req)
{
    const gp_join_group_request *body = req->body;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = body->protocols_count > 0 ? body->protocols_count : 0;
    gb_join_params p = {
        .group_id = body->group_id,
        .member_id = body->member_id,
        .group_instance_id = body->group_instance_id,
        .client_id = req->hdr.client_id.len >= 0 ? req->hdr.client_id : GP_STR_LIT(""),
        .client_host = gb__client_host(req),
        .protocol_type = body->protocol_type,
        .session_timeout_ms = body->session_timeout_ms,
        /* v0 has none (the codec's default is -1): the session timeout */
        .rebalance_timeout_ms =
            body->rebalance_timeout_ms == -1 ? body->session_timeout_ms : body->rebalance_timeout_ms,
        .protocols = body->protocols,
        .nprotocols = n,
        .require_known_member_id = req->version >= 4 && body->group_instance_id.len < 0,
        .support_skip_assignment = req->version >= 9,
    };
    gb_group_join(gs, &p, req, now);
    gb_group_coordinator_rearm(b);
}

/* ---- SyncGroup ---------------------------------------------------------------------- */

void gb_group_api_sync_done(void *ctx, void *waiter, const gb_sync_result *r)
{
    (void)ctx;
    gb_request *req = waiter;
    gp_sync_group_response *resp = req->resp;
    resp->error_code = r->error;
    resp->protocol_type = gp_str_c(r->protocol_type);
    resp->protocol_name = gp_str_c(r->protocol_name);
    resp->assignment = r->assignment.len > 0 ? r->assignment : (gp_bytes){NULL, 0};
    if (resp->assignment.len > 0) {
        uint8_t *copy = gp_arena_alloc(&req->arena, (size_t)resp->assignment.len);
        memcpy(copy, resp->assignment.p, (size_t)resp->assignment.len);
        resp->assignment.p = copy;
    }
    gb_request_respond(req);
}

void gb_handle_sync_group(gb_broker *b, gb_request *req)
{
    const gp_sync_group_request *body = req->body;
    if (req->version >= 5 && (body->protocol_type.len < 0 || body->protocol_name.len < 0)) {
        /* Mandatory from v5 on (Kafka's areMandatoryProtocolTypeAndNamePresent). */
        gp_sync_group_response *resp = req->resp;
        resp->error_code = GP_E_INCONSISTENT_GROUP_PROTOCOL;
        gb_request_respond(req);
        return;
    }
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = body->assignments_count > 0 ? body->assignments_count : 0;
    gb_sync_params p = {
        .group_id = body->group_id,
        .generation_id = body->generation_id,
        .member_id = body->member_id,
        .group_instance_id = body->group_instance_id,
        .protocol_type = body->protocol_type,
        .protocol_name = body->protocol_name,
        .assignments = body->assignments,
        .nassignments = n,
    };
    gb_group_sync(gs, &p, req, now);
    gb_group_coordinator_rearm(b);
}

/* ---- Heartbeat and LeaveGroup ----------------------------------------------------------- */

void gb_handle_heartbeat(gb_broker *b, gb_request *req)
{
    const gp_heartbeat_request *body = req->body;
    gp_heartbeat_response *resp = req->resp;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    resp->error_code =
        gb_group_heartbeat(gs, body->group_id, body->generation_id, body->member_id, body->group_instance_id, now);
    gb_group_coordinator_rearm(b);
    gb_request_respond(req);
}

void gb_handle_leave_group(gb_broker *b, gb_request *req)
{
    const gp_leave_group_request *body = req->body;
    gp_leave_group_response *resp = req->resp;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    bool single = req->version <= 2; /* v0-v2: one member, by member_id */
    int32_t n = single ? 1 : (body->members_count > 0 ? body->members_count : 0);
    gb_leave_member *lm = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *lm);
    for (int32_t i = 0; i < n; i++) {
        lm[i].member_id = single ? body->member_id : body->members[i].member_id;
        lm[i].group_instance_id = single ? GP_STR_NULL : body->members[i].group_instance_id;
    }
    int16_t err = gb_group_leave(gs, body->group_id, lm, n, now);
    gb_group_coordinator_rearm(b);
    resp->error_code = err;
    if (err) {
        resp->members_count = 0;
        gb_request_respond(req);
        return;
    }
    if (single)
        resp->error_code = lm[0].error;
    resp->members_count = single ? 0 : n;
    resp->members = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *resp->members);
    for (int32_t i = 0; !single && i < n; i++) {
        gp_leave_group_response_member_init(&resp->members[i]);
        resp->members[i].member_id = lm[i].member_id;
        resp->members[i].group_instance_id = lm[i].group_instance_id;
        resp->members[i].error_code = lm[i].error;
    }
    gb_request_respond(req);
}

/* ---- OffsetCommit ------------------------------------------------------------------------- */

typedef struct gb_commit_wait {
    gb_request *req;
    gb_commit *commits;
    int32_t n;
    void (*fill)(gb_request *req, const gb_commit *c); /* the response of OffsetCommit or TxnOffsetCommit */
} gb_commit_wait;

static void gb__fill_commit_response(gb_request *req, const gb_commit *c)
{
    const gp_offset_commit_request *body = req->body;
    gp_offset_commit_response *resp = req->resp;
    int32_t k = 0;
    resp->topics_count = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics =
        gp_arena_calloc(&req->arena, (size_t)(resp->topics_count ? resp->topics_count : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < resp->topics_count; i++) {
        const gp_offset_commit_request_topic *t = &body->topics[i];
        gp_offset_commit_response_topic *rt = &resp->topics[i];
        rt->name = t->name;
        rt->topic_id = t->topic_id;
        rt->partitions_count = t->partitions_count > 0 ? t->partitions_count : 0;
        rt->partitions = gp_arena_calloc(&req->arena, (size_t)(rt->partitions_count ? rt->partitions_count : 1),
                                         sizeof *rt->partitions);
        for (int32_t j = 0; j < rt->partitions_count; j++, k++) {
            rt->partitions[j].partition_index = t->partitions[j].partition_index;
            rt->partitions[j].error_code = c[k].error;
        }
    }
}

/* The commit is on disk (or the sync failed): answer. */
static void gb__commit_flushed(void *arg, int status)
{
    gb_commit_wait *w = arg;
    if (status < 0)
        for (int32_t i = 0; i < w->n; i++)
            if (!w->commits[i].error)
                w->commits[i].error = GP_E_NOT_COORDINATOR;
    w->fill(w->req, w->commits);
    gb_request_respond(w->req);
}

/* After a commit: err on every partition without one of its own, then the
 * answer, once the commit is on disk when it wrote (written >= 0) and
 * gregor.acks.all.fsync asks for that. */
static void gb__commit_answer(gb_broker *b, gb_request *req, gb_commit *c, int32_t n, int16_t err, int32_t written,
                              void (*fill)(gb_request *req, const gb_commit *c))
{
    if (err)
        for (int32_t i = 0; i < n; i++)
            if (!c[i].error)
                c[i].error = err;
    int64_t last;
    gb_partition *p = written >= 0 ? gb_group_coordinator_last_append(b, &last) : NULL;
    if (p && b->cfg->gregor_acks_all_fsync) {
        gb_commit_wait *w = gp_arena_alloc(&req->arena, sizeof *w);
        *w = (gb_commit_wait){req, c, n, fill};
        gb_flusher_wait(b, p, last, gb__commit_flushed, w);
        return;
    }
    fill(req, c);
    gb_request_respond(req);
}

/* OffsetCommit and OffsetFetch name topics by id from v10 on (KIP-848). */
#define GB_OFFSETS_BY_ID_FROM 10

/* The topic a request names, by id or by name; NULL when there is none. */
static gb_topic *gb__named_topic(gb_broker *b, bool by_id, gp_str name, const gp_uuid *id)
{
    if (by_id)
        return gp_uuid_is_zero(id) ? NULL : gb_topic_find_id(b, id);
    return name.len > 0 ? gb_topic_find(b, name.p, (size_t)name.len) : NULL;
}

/* The name of a topic, copied into the request's arena: the request may
 * outlive the topic (a commit waits for its flush). */
static gp_str gb__topic_name(gb_request *req, const gb_topic *t)
{
    return (gp_str){gp_arena_strndup(&req->arena, t->name, t->name_len), (int32_t)t->name_len};
}

/*
 * OffsetCommit: partitions of topics that do not exist get
 * UNKNOWN_TOPIC_OR_PARTITION (v10+, which names topics by id: every
 * partition of an unknown id gets UNKNOWN_TOPIC_ID, and the topic entry
 * echoes the id, as Kafka 4.4 answers); the others go to the state
 * machine, by name, which checks the generation and member and appends
 * one batch. Kafka writes commits with acks=all: with
 * gregor.acks.all.fsync (the default) the answer waits until the batch is
 * on disk.
 *
 * v0 stored offsets in ZooKeeper; a Kafka 3.9 KRaft broker advertises it
 * and answers every partition UNSUPPORTED_VERSION, and so does Gregor.
 */
void gb_handle_offset_commit(gb_broker *b, gb_request *req)
{
    const gp_offset_commit_request *body = req->body;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int64_t wall = gu_wall_ms(); /* for retention_time_ms (v2-v4) */
    int32_t n = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        n += body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0;
    gb_commit *c = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *c);
    int32_t k = 0, valid = 0;
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_offset_commit_request_topic *t = &body->topics[i];
        bool by_id = req->version >= GB_OFFSETS_BY_ID_FROM;
        gb_topic *topic = gb__named_topic(b, by_id, t->name, &t->topic_id);
        gp_str name = topic ? gb__topic_name(req, topic) : t->name;
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            const gp_offset_commit_request_partition *p = &t->partitions[j];
            c[k].topic = name.len >= 0 ? name : GP_STR_LIT("");
            c[k].partition = p->partition_index;
            c[k].offset = p->committed_offset;
            c[k].leader_epoch = p->committed_leader_epoch;
            c[k].metadata = p->committed_metadata;
            c[k].commit_timestamp = p->commit_timestamp;
            c[k].expire_timestamp = body->retention_time_ms == -1 ? -1 : wall + body->retention_time_ms;
            if (req->version == 0)
                c[k].error = GP_E_UNSUPPORTED_VERSION; /* see above */
            else if (!topic && by_id)
                c[k].error = GP_E_UNKNOWN_TOPIC_ID;
            else if (!topic || !gb_topic_partition(topic, p->partition_index))
                c[k].error = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            else
                valid++;
        }
    }
    int32_t written = -1;
    int16_t err = 0;
    if (valid > 0) {
        err = gb_group_commit(gs, body->group_id, body->generation_id_or_member_epoch, body->member_id,
                              body->group_instance_id, c, n, now, &written);
        gb_group_coordinator_rearm(b);
    }
    gb__commit_answer(b, req, c, n, err, written, gb__fill_commit_response);
}

/* ---- TxnOffsetCommit ------------------------------------------------------------------------ */

static void gb__fill_txn_commit_response(gb_request *req, const gb_commit *c)
{
    const gp_txn_offset_commit_request *body = req->body;
    gp_txn_offset_commit_response *resp = req->resp;
    int32_t k = 0;
    resp->topics_count = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics =
        gp_arena_calloc(&req->arena, (size_t)(resp->topics_count ? resp->topics_count : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < resp->topics_count; i++) {
        const gp_txn_offset_commit_request_topic *t = &body->topics[i];
        gp_txn_offset_commit_response_topic *rt = &resp->topics[i];
        rt->name = t->name;
        rt->topic_id = t->topic_id; /* v6+ */
        rt->partitions_count = t->partitions_count > 0 ? t->partitions_count : 0;
        rt->partitions = gp_arena_calloc(&req->arena, (size_t)(rt->partitions_count ? rt->partitions_count : 1),
                                         sizeof *rt->partitions);
        for (int32_t j = 0; j < rt->partitions_count; j++, k++) {
            rt->partitions[j].partition_index = t->partitions[j].partition_index;
            rt->partitions[j].error_code = c[k].error;
        }
    }
}

/*
 * TxnOffsetCommit: a transactional producer commits a group's offsets as
 * part of its transaction (sendOffsetsToTransaction). Checks in Kafka's
 * order: the group id (INVALID_GROUP_ID when empty), topics that do not
 * exist (UNKNOWN_TOPIC_OR_PARTITION), the transaction, then the group
 * (loading, member and generation from v3). The transaction: before v5 the
 * producer must have added the group's __consumer_offsets partition with
 * AddOffsetsToTxn (the coordinator's verification, its error on every
 * partition); from v5 (transaction version 2) this request adds it, and
 * waits for that. The offsets are appended as one transactional batch and
 * stay pending until the producer's COMMIT marker reaches that partition
 * (gb_group_coordinator_txn_marker). Answered once durable, as
 * OffsetCommit.
 */
typedef struct gb_txn_commit {
    gb_broker *b;
    gb_request *req;
    gb_commit *c;
    int32_t n;
} gb_txn_commit;

/* The transaction's answer (0: the partition is in it): commit, answer. */
static void gb__txn_commit_go(gb_txn_commit *tc, int16_t err)
{
    gb_broker *b = tc->b;
    gb_request *req = tc->req;
    const gp_txn_offset_commit_request *body = req->body;
    gb_commit *c = tc->c;
    int32_t n = tc->n, written = -1;
    if (!err) {
        int64_t now; /* the transaction's answer may have taken time: the state machine's clock */
        gb_groups *gs = gb_group_coordinator_groups(b, &now);
        err = gb_group_txn_commit(gs, body->group_id, body->producer_id, body->producer_epoch,
                                  body->generation_id_or_member_epoch, body->member_id, body->group_instance_id, c, n,
                                  now, &written);
        gb_group_coordinator_rearm(b);
    }
    gb__commit_answer(b, req, c, n, err, written, gb__fill_txn_commit_response);
}

/* The implicit add's answer (v5+), as Kafka's group coordinator gives a
 * transaction coordinator's refusal: a busy or unavailable one as
 * COORDINATOR_NOT_AVAILABLE (the client retries), PRODUCER_FENCED as
 * INVALID_PRODUCER_EPOCH, a partition not in the transaction as
 * TRANSACTION_ABORTABLE. */
static void gb__txn_commit_added(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    (void)pid;
    (void)epoch;
    switch (error) {
    case GP_E_CONCURRENT_TRANSACTIONS:
    case GP_E_COORDINATOR_LOAD_IN_PROGRESS:
    case GP_E_NOT_COORDINATOR:
        error = GP_E_COORDINATOR_NOT_AVAILABLE;
        break;
    case GP_E_PRODUCER_FENCED:
        error = GP_E_INVALID_PRODUCER_EPOCH;
        break;
    case GP_E_INVALID_TXN_STATE:
        error = GP_E_TRANSACTION_ABORTABLE;
        break;
    default:
        break;
    }
    gb__txn_commit_go(arg, error);
}

void gb_handle_txn_offset_commit(gb_broker *b, gb_request *req)
{
    const gp_txn_offset_commit_request *body = req->body;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        n += body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0;
    gb_txn_commit *tc = gp_arena_calloc(&req->arena, 1, sizeof *tc);
    gb_commit *c = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *c);
    *tc = (gb_txn_commit){b, req, c, n};
    int32_t k = 0, valid = 0;
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_txn_offset_commit_request_topic *t = &body->topics[i];
        gb_topic *topic = req->version >= 6 ? gb_topic_find_id(b, &t->topic_id)
                          : t->name.len > 0 ? gb_topic_find(b, t->name.p, (size_t)t->name.len)
                                            : NULL;
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            const gp_txn_offset_commit_request_partition *p = &t->partitions[j];
            c[k].topic = topic ? (gp_str){topic->name, (int32_t)topic->name_len} : t->name;
            c[k].partition = p->partition_index;
            c[k].offset = p->committed_offset;
            c[k].leader_epoch = p->committed_leader_epoch;
            c[k].metadata = p->committed_metadata;
            c[k].commit_timestamp = -1;
            c[k].expire_timestamp = -1;
            if (!topic || !gb_topic_partition(topic, p->partition_index))
                c[k].error = req->version >= 6 && !topic ? GP_E_UNKNOWN_TOPIC_ID : GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            else
                valid++;
        }
    }
    if (body->group_id.len <= 0) {
        gb__txn_commit_go(tc, GP_E_INVALID_GROUP_ID);
        return;
    }
    if (valid == 0) {
        gb__txn_commit_go(tc, 0); /* every partition has its error; nothing to commit */
        return;
    }
    int32_t part = gb_groups_partition_for(gs, body->group_id);
    gb_txns *txns = req->version >= 5 ? gb_txn_coordinator_txns(b) : NULL;
    if (txns) {
        gb_txn_tp tp = {(char *)GB_OFFSETS_TOPIC, strlen(GB_OFFSETS_TOPIC), part};
        gb_txns_add_partitions(txns, body->transactional_id, body->producer_id, body->producer_epoch, &tp, 1, 2,
                               gb__txn_commit_added, tc);
        return;
    }
    gb__txn_commit_go(tc, gb_txn_coordinator_verify(b, body->transactional_id, body->producer_id,
                                                    body->producer_epoch, GB_OFFSETS_TOPIC, strlen(GB_OFFSETS_TOPIC),
                                                    part));
}

/* ---- OffsetFetch ---------------------------------------------------------------------------- */

/* A copy of an offset's metadata in the request's arena, every byte of it:
 * Kafka's metadata is any string, NUL characters included. */
static gp_str gb__arena_str(gp_arena *a, gp_str s)
{
    if (s.len <= 0)
        return GP_STR_LIT("");
    return (gp_str){gp_arena_strndup(a, s.p, (size_t)s.len), s.len};
}

/* A partition with a pending transactional offset, asked with
 * require_stable: Kafka's answer for it. */
static void gb__fetch_unstable(gp_offset_fetch_response_group_partition *p)
{
    p->committed_offset = -1;
    p->committed_leader_epoch = -1;
    p->metadata = GP_STR_LIT("");
    p->error_code = GP_E_UNSTABLE_OFFSET_COMMIT;
}

/* One group's answer, in the shape of the v8+ response; v0-v7 copy it. */
static int16_t gb__fetch_group(gb_broker *b, gb_request *req, gp_str group_id,
                               const gp_offset_fetch_request_group_topic *topics, int32_t ntopics, bool require_stable,
                               bool by_id, gp_offset_fetch_response_group *out)
{
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    gp_arena *a = &req->arena;
    out->group_id = group_id;
    out->error_code = gb_group_fetch_check(gs, group_id);
    if (ntopics < 0) {
        /* every partition with a committed offset */
        out->topics_count = 0;
        out->topics = NULL;
        if (out->error_code)
            return out->error_code;
        gb_offset_info *all;
        int32_t n = gb_group_offsets(gs, group_id, a, &all);
        out->topics = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *out->topics);
        for (int32_t i = 0; i < n;) {
            int32_t j = i;
            while (j < n && gp_str_eq(all[j].topic, all[i].topic))
                j++;
            gb_topic *topic = by_id ? gb_topic_find(b, all[i].topic.p, (size_t)all[i].topic.len) : NULL;
            if (by_id && !topic) { /* gone: no id to name it by */
                i = j;
                continue;
            }
            gp_offset_fetch_response_group_topic *t = &out->topics[out->topics_count++];
            t->name = gp_str_c(gp_arena_strndup(a, all[i].topic.p, (size_t)all[i].topic.len));
            if (topic)
                t->topic_id = topic->id;
            t->partitions_count = j - i;
            t->partitions = gp_arena_calloc(a, (size_t)(j - i), sizeof *t->partitions);
            for (int32_t k = i; k < j; k++) {
                gp_offset_fetch_response_group_partition *p = &t->partitions[k - i];
                p->partition_index = all[k].partition;
                p->committed_offset = all[k].offset;
                p->committed_leader_epoch = all[k].leader_epoch;
                p->metadata = gb__arena_str(a, all[k].metadata);
                p->error_code = 0;
                if (require_stable && gb_group_offset_pending(gs, group_id, all[k].topic, all[k].partition))
                    gb__fetch_unstable(p);
            }
            i = j;
        }
        return out->error_code;
    }
    /* v10+: ids to names; Kafka 4.4 answers the topics it resolved first
     * (in the request's order), then the unknown ids. */
    gp_str *names = gp_arena_calloc(a, (size_t)(ntopics ? ntopics : 1), sizeof *names);
    int16_t *topic_errs = gp_arena_calloc(a, (size_t)(ntopics ? ntopics : 1), sizeof *topic_errs);
    for (int32_t i = 0; i < ntopics; i++) {
        names[i] = topics[i].name;
        if (by_id) {
            gb_topic *topic = gb__named_topic(b, true, topics[i].name, &topics[i].topic_id);
            names[i] = topic ? gb__topic_name(req, topic) : GP_STR_NULL;
            topic_errs[i] = topic ? 0 : GP_E_UNKNOWN_TOPIC_ID;
        }
    }
    out->topics_count = 0;
    out->topics = gp_arena_calloc(a, (size_t)(ntopics ? ntopics : 1), sizeof *out->topics);
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t i = 0; i < ntopics; i++) {
            if ((topic_errs[i] != 0) != (pass == 1))
                continue;
            gp_offset_fetch_response_group_topic *t = &out->topics[out->topics_count++];
            t->name = topics[i].name;
            t->topic_id = topics[i].topic_id;
            int32_t np = topics[i].partition_indexes_count > 0 ? topics[i].partition_indexes_count : 0;
            t->partitions_count = np;
            t->partitions = gp_arena_calloc(a, (size_t)(np ? np : 1), sizeof *t->partitions);
            for (int32_t j = 0; j < np; j++) {
                gp_offset_fetch_response_group_partition *p = &t->partitions[j];
                p->partition_index = topics[i].partition_indexes[j];
                p->committed_offset = -1;
                p->committed_leader_epoch = -1;
                p->metadata = GP_STR_LIT("");
                p->error_code = out->error_code ? out->error_code : topic_errs[i];
                gb_offset_info o;
                if (p->error_code)
                    continue;
                if (require_stable && gb_group_offset_pending(gs, group_id, names[i], p->partition_index)) {
                    gb__fetch_unstable(p);
                } else if (gb_group_offset(gs, group_id, names[i], p->partition_index, &o)) {
                    p->committed_offset = o.offset;
                    p->committed_leader_epoch = o.leader_epoch;
                    p->metadata = gb__arena_str(a, o.metadata);
                }
            }
        }
    }
    return out->error_code;
}

static void gb__offset_fetch_v0(gb_request *req)
{
    const gp_offset_fetch_request *body = req->body;
    gp_offset_fetch_response *resp = req->resp;
    int32_t nt = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics_count = nt;
    resp->topics = gp_arena_calloc(&req->arena, (size_t)(nt ? nt : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < nt; i++) {
        const gp_offset_fetch_request_topic *rt = &body->topics[i];
        gp_offset_fetch_response_topic *t = &resp->topics[i];
        int32_t np = rt->partition_indexes_count > 0 ? rt->partition_indexes_count : 0;
        t->name = rt->name;
        t->partitions_count = np;
        t->partitions = gp_arena_calloc(&req->arena, (size_t)(np ? np : 1), sizeof *t->partitions);
        for (int32_t j = 0; j < np; j++) {
            gp_offset_fetch_response_partition_init(&t->partitions[j]);
            t->partitions[j].partition_index = rt->partition_indexes[j];
            t->partitions[j].committed_offset = -1;
            t->partitions[j].metadata = (gp_str){"", 0};
            t->partitions[j].error_code = GP_E_UNSUPPORTED_VERSION;
        }
    }
    gb_request_respond(req);
}

/*
 * OffsetFetch: the committed offset of each partition asked for (-1 and
 * no error when there is none, as Kafka answers), or of every partition
 * the group has committed when the topic list is null. v8+ asks for
 * several groups. With require_stable (v7+), a partition with a pending
 * transactional offset (TxnOffsetCommit before its marker) gets
 * UNSTABLE_OFFSET_COMMIT, which the consumer retries; without it, the
 * committed offset, ignoring pending ones.
 *
 * v10+ names topics by id (KIP-848) while offsets are kept by name: an
 * id is mapped to its topic's name on the way in (an unknown id: -1 and
 * UNKNOWN_TOPIC_ID on each partition asked for, the topic entry echoing
 * the id, as Kafka 4.4 answers) and a name to its id on the way out. A
 * fetch of every partition leaves out the topics that no longer exist:
 * they have no id, and Kafka, which drops a deleted topic's offsets, never
 * answers them either.
 */
void gb_handle_offset_fetch(gb_broker *b, gb_request *req)
{
    const gp_offset_fetch_request *body = req->body;
    gp_offset_fetch_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t ng = body->groups_count > 0 ? body->groups_count : 0;
    resp->groups_count = ng;
    resp->groups = gp_arena_calloc(a, (size_t)(ng ? ng : 1), sizeof *resp->groups);
    for (int32_t i = 0; i < ng; i++) {
        const gp_offset_fetch_request_group *g = &body->groups[i];
        gp_offset_fetch_response_group_init(&resp->groups[i]);
        (void)gb__fetch_group(b, req, g->group_id, g->topics, g->topics_count, body->require_stable,
                              req->version >= GB_OFFSETS_BY_ID_FROM, &resp->groups[i]);
    }
    if (ng > 0) {
        gb_request_respond(req);
        return;
    }

    /* v0 read ZooKeeper's offsets: as Kafka 3.9 in KRaft mode, each
     * partition asked for gets UNSUPPORTED_VERSION. */
    if (req->version == 0) {
        gb__offset_fetch_v0(req);
        return;
    }

    /* v1-v7: one group; the same answer, reshaped. */
    gp_offset_fetch_request_group_topic *topics = NULL;
    int32_t nt = body->topics_count;
    if (nt > 0) {
        topics = gp_arena_calloc(a, (size_t)nt, sizeof *topics);
        for (int32_t i = 0; i < nt; i++) {
            topics[i].name = body->topics[i].name;
            topics[i].partition_indexes = body->topics[i].partition_indexes;
            topics[i].partition_indexes_count = body->topics[i].partition_indexes_count;
        }
    }
    gp_offset_fetch_response_group g;
    gp_offset_fetch_response_group_init(&g);
    int16_t err = gb__fetch_group(b, req, body->group_id, topics, nt, body->require_stable, false, &g);
    /* v2+ report a group error at the top level, with no partitions; v1
     * has no top-level error: each partition carries it. */
    bool per_partition = req->version < 2;
    resp->error_code = err;
    resp->topics_count = err && !per_partition ? 0 : g.topics_count;
    resp->topics = gp_arena_calloc(a, (size_t)(g.topics_count ? g.topics_count : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < resp->topics_count; i++) {
        gp_offset_fetch_response_topic *t = &resp->topics[i];
        t->name = g.topics[i].name;
        t->partitions_count = g.topics[i].partitions_count;
        t->partitions =
            gp_arena_calloc(a, (size_t)(t->partitions_count ? t->partitions_count : 1), sizeof *t->partitions);
        for (int32_t j = 0; j < t->partitions_count; j++) {
            const gp_offset_fetch_response_group_partition *src = &g.topics[i].partitions[j];
            gp_offset_fetch_response_partition *dst = &t->partitions[j];
            dst->partition_index = src->partition_index;
            dst->committed_offset = src->committed_offset;
            dst->committed_leader_epoch = src->committed_leader_epoch;
            dst->metadata = src->metadata;
            dst->error_code = src->error_code;
        }
    }
    gb_request_respond(req);
}

/* ---- OffsetDelete --------------------------------------------------------------------------- */

void gb_handle_offset_delete(gb_broker *b, gb_request *req)
{
    const gp_offset_delete_request *body = req->body;
    gp_offset_delete_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        n += body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0;
    gb_tp *tps = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *tps);
    int32_t k = 0;
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_offset_delete_request_topic *t = &body->topics[i];
        gb_topic *topic = t->name.len > 0 ? gb_topic_find(b, t->name.p, (size_t)t->name.len) : NULL;
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            tps[k].topic = t->name;
            tps[k].partition = t->partitions[j].partition_index;
            if (!topic || !gb_topic_partition(topic, tps[k].partition))
                tps[k].error = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    resp->error_code = gb_group_delete_offsets(gs, body->group_id, tps, n, now);
    gb_group_coordinator_rearm(b);
    if (resp->error_code) {
        resp->topics_count = 0;
        gb_request_respond(req);
        return;
    }
    resp->topics_count = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics = gp_arena_calloc(a, (size_t)(resp->topics_count ? resp->topics_count : 1), sizeof *resp->topics);
    k = 0;
    for (int32_t i = 0; i < resp->topics_count; i++) {
        const gp_offset_delete_request_topic *t = &body->topics[i];
        gp_offset_delete_response_topic *rt = &resp->topics[i];
        rt->name = t->name;
        rt->partitions_count = t->partitions_count > 0 ? t->partitions_count : 0;
        rt->partitions =
            gp_arena_calloc(a, (size_t)(rt->partitions_count ? rt->partitions_count : 1), sizeof *rt->partitions);
        for (int32_t j = 0; j < rt->partitions_count; j++, k++) {
            rt->partitions[j].partition_index = tps[k].partition;
            rt->partitions[j].error_code = tps[k].error;
        }
    }
    gb_request_respond(req);
}

/* ---- ListGroups, DescribeGroups, DeleteGroups -------------------------------------------------- */

/* Kafka's GroupIdNotFoundException message: "Group <id> not found." */
static gp_str gb__group_not_found(gp_arena *a, gp_str group_id)
{
    return gp_str_c(gp_arena_printf(a, "Group %.*s not found.", group_id.len > 0 ? (int)group_id.len : 0,
                                    group_id.len > 0 ? group_id.p : ""));
}

static bool gb__in_filter(const gp_str *filter, int32_t n, const char *value)
{
    if (n <= 0)
        return true;
    size_t len = strlen(value);
    for (int32_t i = 0; i < n; i++)
        if (filter[i].len >= 0 && (size_t)filter[i].len == len && strncasecmp(filter[i].p, value, len) == 0)
            return true;
    return false;
}

/* ListGroups: every group (all are "classic"), filtered by state (v4+) and
 * type (v5+), case-insensitively; while a partition still loads, the error
 * is COORDINATOR_LOAD_IN_PROGRESS with the groups loaded so far. */
void gb_handle_list_groups(gb_broker *b, gb_request *req)
{
    const gp_list_groups_request *body = req->body;
    gp_list_groups_response *resp = req->resp;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    gb_group_summary *list;
    int32_t n = gb_groups_list(gs, &req->arena, &list);
    resp->error_code = gb_groups_any_loading(gs) ? GP_E_COORDINATOR_LOAD_IN_PROGRESS : 0;
    resp->groups = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *resp->groups);
    resp->groups_count = 0;
    bool classic = gb__in_filter(body->types_filter, body->types_filter_count, "classic");
    for (int32_t i = 0; classic && i < n; i++) {
        const char *state = gb_group_state_name(list[i].state);
        if (!gb__in_filter(body->states_filter, body->states_filter_count, state))
            continue;
        gp_list_groups_response_group *g = &resp->groups[resp->groups_count++];
        gp_list_groups_response_group_init(g);
        g->group_id = gp_str_c(list[i].group_id);
        g->protocol_type = gp_str_c(list[i].protocol_type);
        g->group_state = gp_str_c(state);
        g->group_type = GP_STR_LIT("classic");
    }
    gb_request_respond(req);
}

/*
 * DescribeGroups: each group's state and members. A group that does not
 * exist is Dead with no members and no error up to v5; v6 (KIP-1043)
 * answers it GROUP_ID_NOT_FOUND with Kafka's message, still Dead.
 */
void gb_handle_describe_groups(gb_broker *b, gb_request *req)
{
    const gp_describe_groups_request *body = req->body;
    gp_describe_groups_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = body->groups_count > 0 ? body->groups_count : 0;
    resp->groups_count = n;
    resp->groups = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *resp->groups);
    for (int32_t i = 0; i < n; i++) {
        gp_describe_groups_response_group *g = &resp->groups[i];
        gp_describe_groups_response_group_init(g);
        gb_group_summary s;
        g->group_id = body->groups[i];
        g->error_code = gb_group_describe(gs, body->groups[i], a, &s);
        if (g->error_code) {
            /* Kafka's EmptyGroup: no state, no protocol, no members */
            g->group_state = g->protocol_type = g->protocol_data = GP_STR_LIT("");
            g->members_count = 0;
            continue;
        }
        if (s.state == GB_GROUP_DEAD && req->version >= 6) {
            g->error_code = GP_E_GROUP_ID_NOT_FOUND;
            g->error_message = gb__group_not_found(a, body->groups[i]);
        }
        g->group_state = gp_str_c(gb_group_state_name(s.state));
        g->protocol_type = gp_str_c(s.protocol_type);
        g->protocol_data = gp_str_c(s.protocol);
        g->members_count = s.nmembers;
        g->members = gp_arena_calloc(a, (size_t)(s.nmembers ? s.nmembers : 1), sizeof *g->members);
        for (int32_t j = 0; j < s.nmembers; j++) {
            gp_describe_groups_response_member *m = &g->members[j];
            gp_describe_groups_response_member_init(m);
            m->member_id = gp_str_c(s.members[j].member_id);
            m->group_instance_id = gp_str_c(s.members[j].group_instance_id);
            m->client_id = gp_str_c(s.members[j].client_id);
            m->client_host = gp_str_c(s.members[j].client_host);
            m->member_metadata = s.members[j].metadata;
            m->member_assignment = s.members[j].assignment;
        }
        if (body->include_authorized_operations)
            g->authorized_operations = GB_GROUP_AUTHORIZED_OPERATIONS;
    }
    gb_request_respond(req);
}

/*
 * DeleteGroups: each group, if empty, with its offsets. v3 adds a message
 * to each result, which Kafka 4.4 leaves null, errors included
 * (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP): so does Gregor.
 */
void gb_handle_delete_groups(gb_broker *b, gb_request *req)
{
    const gp_delete_groups_request *body = req->body;
    gp_delete_groups_response *resp = req->resp;
    int64_t now;
    gb_groups *gs = gb_group_coordinator_groups(b, &now);
    int32_t n = body->groups_names_count > 0 ? body->groups_names_count : 0;
    resp->results_count = n;
    resp->results = gp_arena_calloc(&req->arena, (size_t)(n ? n : 1), sizeof *resp->results);
    for (int32_t i = 0; i < n; i++) {
        gp_delete_groups_response_result_init(&resp->results[i]);
        resp->results[i].group_id = body->groups_names[i];
        resp->results[i].error_code = gb_group_delete(gs, body->groups_names[i], now);
    }
    gb_group_coordinator_rearm(b);
    gb_request_respond(req);
}
