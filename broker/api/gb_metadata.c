/*
 * Metadata: this broker (the only one, and the controller, since admin
 * clients send their requests to the controller id), the cluster id from
 * meta.properties, and the topics asked for, each partition led by this
 * broker at leader epoch 0 with itself as the only replica.
 *
 * Which topics: a null list (v1+) means all; in v0, where the list cannot
 * be null, an empty list means all; otherwise exactly those named (by id
 * from v10). A named topic that does not exist is created when
 * auto.create.topics.enable and the request allows it (always before v4;
 * consumers send false, producers true); otherwise it gets
 * UNKNOWN_TOPIC_OR_PARTITION, a name that breaks Kafka's rules
 * INVALID_TOPIC_EXCEPTION.
 *
 * By id (v12): as Kafka's KafkaApis.handleTopicMetadataRequest, once any
 * entry has a non-zero topic id the topics are looked up by id only: each
 * id is answered once, an unknown one with UNKNOWN_TOPIC_ID and a null
 * name (these come first), and an entry with the zero id is not answered.
 *
 * v10-11 carry topic ids in the request, but their response has no null
 * name to answer an unknown id with: as Kafka, a null name or a non-zero id
 * there refuses the whole request (InvalidRequestException), answered as
 * MetadataRequest.getErrorResponse answers: every entry INVALID_REQUEST with
 * its name ("" for a null one) and its id, and no brokers. From v12 a null
 * name with the zero id (and no entry with an id) is refused the same way
 * with UNKNOWN_SERVER_ERROR, as Kafka 4.4 answers it (its lookup of the null
 * name fails).
 *
 * v13's top-level error code is what getErrorResponse puts there: the
 * refusal's error, 0 otherwise (Kafka 4.4 sets nothing else there).
 *
 * topic_authorized_operations (v8+, when asked for): with no authorizer,
 * Kafka answers every operation a topic supports, for each topic answered
 * by name, found or not; an unknown id and a refusal keep the default.
 * cluster_authorized_operations (v8-v10, when asked for): every operation
 * on the cluster, as DescribeCluster answers it; a refusal keeps the default.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_group_coordinator.h"
#include "broker/core/gb_group_records.h"
#include "broker/core/gb_topics.h"
#include "broker/core/gb_txn_coordinator.h"
#include "protocol/gp_errors.h"
#include "storage/gs_names.h"

/* Every operation on a topic (AclOperation codes READ 3, WRITE 4, CREATE 5,
 * DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11), as
 * Kafka answers topic_authorized_operations without an authorizer: 3576. */
#define GB_TOPIC_AUTHORIZED_OPERATIONS                                                                                 \
    ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))

static void gb__fill_topic(gb_broker *b, gb_request *req, gb_topic *t, gp_metadata_response_topic *out)
{
    out->error_code = 0;
    out->name = (gp_str){t->name, (int32_t)t->name_len};
    out->topic_id = t->id;
    out->is_internal = t->internal;
    if (((const gp_metadata_request *)req->body)->include_topic_authorized_operations)
        out->topic_authorized_operations = GB_TOPIC_AUTHORIZED_OPERATIONS;
    int32_t np = gb_topic_visible(t);
    if (np == 0) /* being created: the store is written before clients use it */
        out->error_code = GP_E_LEADER_NOT_AVAILABLE;
    out->partitions_count = np;
    out->partitions = gp_arena_alloc(&req->arena, (size_t)(np ? np : 1) * sizeof *out->partitions);
    int32_t *self = gp_arena_alloc(&req->arena, sizeof *self);
    *self = b->meta.node_id;
    for (int32_t p = 0; p < np; p++) {
        gp_metadata_response_partition *mp = &out->partitions[p];
        gp_metadata_response_partition_init(mp);
        mp->partition_index = p;
        mp->leader_id = b->meta.node_id;
        mp->leader_epoch = 0;
        mp->replica_nodes = self;
        mp->replica_nodes_count = 1;
        mp->isr_nodes = self;
        mp->isr_nodes_count = 1;
        mp->offline_replicas_count = 0;
    }
}

static bool gb__first_of_id(const gp_metadata_request *body, int32_t i)
{
    for (int32_t j = 0; j < i; j++)
        if (memcmp(body->topics[j].topic_id.b, body->topics[i].topic_id.b, 16) == 0)
            return false;
    return true;
}

static void gb__metadata_by_id(gb_broker *b, gb_request *req)
{
    const gp_metadata_request *body = req->body;
    gp_metadata_response *resp = req->resp;
    resp->topics = gp_arena_alloc(&req->arena, (size_t)body->topics_count * sizeof *resp->topics);
    int32_t n = 0;
    for (int pass = 0; pass < 2; pass++) { /* unknown ids first, as Kafka */
        for (int32_t i = 0; i < body->topics_count; i++) {
            const gp_metadata_request_topic *in = &body->topics[i];
            if (gp_uuid_is_zero(&in->topic_id) || !gb__first_of_id(body, i))
                continue;
            gb_topic *t = gb_topic_find_id(b, &in->topic_id);
            if ((pass == 0) != (t == NULL))
                continue;
            gp_metadata_response_topic *out = &resp->topics[n++];
            gp_metadata_response_topic_init(out);
            if (!t) {
                out->error_code = GP_E_UNKNOWN_TOPIC_ID;
                out->name = GP_STR_NULL;
                out->topic_id = in->topic_id;
            } else {
                gb__fill_topic(b, req, t, out);
            }
        }
    }
    resp->topics_count = n;
    gb_request_respond(req);
}

/* v10-11: whether an entry has what only v12 answers (a null name, an id). */
static bool gb__needs_v12(const gp_metadata_request *body, int16_t version)
{
    if (version < 10 || version >= 12)
        return false;
    for (int32_t i = 0; i < body->topics_count; i++)
        if (body->topics[i].name.len < 0 || !gp_uuid_is_zero(&body->topics[i].topic_id))
            return true;
    return false;
}

/*
 * The whole request refused, as MetadataRequest.getErrorResponse answers:
 * no brokers, no cluster id, controller -1, every entry with the error, its
 * name ("" for a null one: the name is not nullable before v12, and Kafka
 * answers "" in v12+ too) and its id, and the error at the top level (v13).
 */
static void gb__metadata_refuse(gb_request *req, int16_t error)
{
    const gp_metadata_request *body = req->body;
    gp_metadata_response *resp = req->resp;
    int32_t n = body->topics_count > 0 ? body->topics_count : 0;
    resp->brokers = NULL;
    resp->brokers_count = 0;
    resp->cluster_id = GP_STR_NULL;
    resp->controller_id = -1;
    resp->topics_count = n;
    resp->topics = gp_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->topics);
    for (int32_t i = 0; i < n; i++) {
        const gp_metadata_request_topic *in = &body->topics[i];
        gp_metadata_response_topic *out = &resp->topics[i];
        gp_metadata_response_topic_init(out);
        out->error_code = error;
        out->name = in->name.len < 0 ? GP_STR_LIT("") : in->name;
        out->topic_id = in->topic_id;
    }
    resp->error_code = error;
    gb_request_respond(req);
}

/* v12+ by name: a null name with the zero id is what Kafka cannot look up. */
static bool gb__has_null_name(const gp_metadata_request *body)
{
    for (int32_t i = 0; i < body->topics_count; i++)
        if (body->topics[i].name.len < 0)
            return true;
    return false;
}

void gb_handle_metadata(gb_broker *b, gb_request *req)
{
    const gp_metadata_request *body = req->body;
    gp_metadata_response *resp = req->resp;

    if (gb__needs_v12(body, req->version)) {
        gb__metadata_refuse(req, GP_E_INVALID_REQUEST);
        return;
    }

    resp->brokers_count = 1;
    resp->brokers = gp_arena_calloc(&req->arena, 1, sizeof resp->brokers[0]);
    resp->brokers[0].node_id = b->meta.node_id;
    resp->brokers[0].host = gp_str_c(gb_request_advertised_host(req));
    resp->brokers[0].port = gb_request_advertised_port(req);
    resp->brokers[0].rack = GP_STR_NULL;
    resp->cluster_id = gp_str_c(b->meta.cluster_id);
    resp->controller_id = b->meta.node_id;
    if (body->include_cluster_authorized_operations)
        resp->cluster_authorized_operations = GB_CLUSTER_AUTHORIZED_OPERATIONS;

    bool all = body->topics_count < 0 || (req->version == 0 && body->topics_count == 0);
    if (all) {
        size_t n;
        gb_topic **list = gb_topics_list(b, &req->arena, &n);
        resp->topics_count = 0;
        resp->topics = gp_arena_alloc(&req->arena, (n ? n : 1) * sizeof *resp->topics);
        for (size_t i = 0; i < n; i++) {
            if (gb_topic_visible(list[i]) == 0)
                continue; /* being created */
            gp_metadata_response_topic *out = &resp->topics[resp->topics_count++];
            gp_metadata_response_topic_init(out);
            gb__fill_topic(b, req, list[i], out);
        }
        gb_request_respond(req);
        return;
    }
    for (int32_t i = 0; i < body->topics_count; i++) {
        if (!gp_uuid_is_zero(&body->topics[i].topic_id)) {
            gb__metadata_by_id(b, req);
            return;
        }
    }
    if (gb__has_null_name(body)) {
        gb__metadata_refuse(req, GP_E_UNKNOWN_SERVER_ERROR);
        return;
    }
    bool auto_create = req->version < 4 || body->allow_auto_topic_creation;
    resp->topics_count = body->topics_count;
    resp->topics =
        gp_arena_alloc(&req->arena, (size_t)(body->topics_count ? body->topics_count : 1) * sizeof *resp->topics);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_metadata_request_topic *in = &body->topics[i];
        gp_metadata_response_topic *out = &resp->topics[i];
        gp_metadata_response_topic_init(out);
        out->name = in->name;
        out->is_internal = gb_topic_name_is_internal(in->name.p, (size_t)in->name.len);
        if (body->include_topic_authorized_operations)
            out->topic_authorized_operations = GB_TOPIC_AUTHORIZED_OPERATIONS;
        const char *why;
        if (gs_topic_name_check(in->name.p, (size_t)in->name.len, &why) < 0) {
            out->error_code = GP_E_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        gb_topic *t = gb_topic_find(b, in->name.p, (size_t)in->name.len);
        if (!t && auto_create && out->is_internal) {
            /* As Kafka 4.4's AutoTopicCreationManager: created as its
             * coordinator creates it (offsets.topic.num.partitions, ...,
             * not num.partitions), and unknown in this answer. */
            if (gp_str_eq_c(in->name, GB_OFFSETS_TOPIC))
                (void)gb_group_coordinator_offsets_topic(b, true);
            else if (gp_str_eq_c(in->name, GB_TXN_TOPIC))
                (void)gb_txn_coordinator_topic(b, true);
            out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (!t && auto_create)
            t = gb_topic_auto_create(b, in->name.p, (size_t)in->name.len);
        if (!t) {
            out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        gb__fill_topic(b, req, t, out);
    }
    gb_request_respond(req);
}

/*
 * DescribeTopicPartitions: the admin client's describeTopics since Kafka
 * 3.8, Metadata's topics page by page, as Kafka 4.4's
 * DescribeTopicPartitionsRequestHandler answers:
 *
 *  - which topics: an empty list means all; otherwise those named, each
 *    once. Either way only names from the cursor's topic on (by Java's
 *    String.compareTo, which for names of Kafka's characters is byte
 *    order), answered in name order;
 *  - a page holds at most response_partition_limit partitions, taken as 1
 *    when below 1 and as max.request.partition.size.limit (2000) above it;
 *    the cursor's topic starts at the cursor's partition (past its last
 *    one: the topic with no partitions), the others at 0;
 *  - where the limit cuts a topic, next_cursor is that topic and its first
 *    partition left out; where the page is full at the end of a topic and
 *    more names follow, it is the next name and partition 0, whether that
 *    topic exists or not;
 *  - a named topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION (or
 *    INVALID_TOPIC_EXCEPTION for a name that breaks Kafka's rules), the
 *    zero id, no partitions, in its place in the order (not counted against
 *    the limit, but not answered once the page is full);
 *  - topic_authorized_operations is always answered: every operation, as
 *    Kafka without an authorizer;
 *  - eligible_leader_replicas and last_known_elr are empty lists (not null),
 *    as Kafka answers with ELR off.
 *
 * Refused as a whole (getErrorResponse: every entry of the request, in its
 * order, with the error, its name, the zero id and nothing else): a cursor
 * whose topic is not among the named ones or whose partition is negative
 * (INVALID_REQUEST); a named "" with no cursor (UNKNOWN_SERVER_ERROR: Kafka
 * compares the names with the cursor's and finds the null cursor).
 */
#define GB_MAX_REQUEST_PARTITION_SIZE_LIMIT 2000

static int gb__cmp_str(const void *a, const void *b)
{
    const gp_str *x = a, *y = b;
    size_t n = (size_t)(x->len < y->len ? x->len : y->len);
    int c = n ? memcmp(x->p, y->p, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void gb__dtp_refuse(gb_request *req, int16_t error)
{
    const gp_describe_topic_partitions_request *body = req->body;
    gp_describe_topic_partitions_response *resp = req->resp;
    int32_t n = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics_count = n;
    resp->topics = gp_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->topics);
    for (int32_t i = 0; i < n; i++) {
        gp_describe_topic_partitions_response_topic_init(&resp->topics[i]);
        resp->topics[i].error_code = error;
        resp->topics[i].name = body->topics[i].name;
    }
    gb_request_respond(req);
}

/* The names to answer, sorted, each once, from `from` on. */
static gp_str *gb__dtp_names(gb_broker *b, gb_request *req, gp_str from, int32_t *count)
{
    const gp_describe_topic_partitions_request *body = req->body;
    int32_t n = 0;
    gp_str *names;
    if (body->topics_count <= 0) {
        size_t nt;
        gb_topic **list = gb_topics_list(b, &req->arena, &nt);
        names = gp_arena_alloc(&req->arena, (nt ? nt : 1) * sizeof *names);
        for (size_t i = 0; i < nt; i++) {
            gp_str name = {list[i]->name, (int32_t)list[i]->name_len};
            if (gb__cmp_str(&name, &from) >= 0)
                names[n++] = name;
        }
    } else {
        names = gp_arena_alloc(&req->arena, (size_t)body->topics_count * sizeof *names);
        for (int32_t i = 0; i < body->topics_count; i++)
            if (gb__cmp_str(&body->topics[i].name, &from) >= 0)
                names[n++] = body->topics[i].name;
        qsort(names, (size_t)n, sizeof *names, gb__cmp_str);
        int32_t k = 0;
        for (int32_t i = 0; i < n; i++)
            if (k == 0 || gb__cmp_str(&names[k - 1], &names[i]) != 0)
                names[k++] = names[i];
        n = k;
    }
    *count = n;
    return names;
}

static void gb__dtp_fill_partitions(gb_broker *b, gb_request *req, int32_t first, int32_t end,
                                    gp_describe_topic_partitions_response_topic *out)
{
    int32_t *self = gp_arena_alloc(&req->arena, sizeof *self);
    *self = b->meta.node_id;
    int32_t n = end > first ? end - first : 0;
    out->partitions_count = n;
    out->partitions = gp_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *out->partitions);
    for (int32_t i = 0; i < n; i++) {
        gp_describe_topic_partitions_response_partition *p = &out->partitions[i];
        gp_describe_topic_partitions_response_partition_init(p);
        p->partition_index = first + i;
        p->leader_id = b->meta.node_id;
        p->leader_epoch = 0;
        p->replica_nodes = self;
        p->replica_nodes_count = 1;
        p->isr_nodes = self;
        p->isr_nodes_count = 1;
        p->eligible_leader_replicas_count = 0;
        p->last_known_elr_count = 0;
        p->offline_replicas_count = 0;
    }
}

void gb_handle_describe_topic_partitions(gb_broker *b, gb_request *req)
{
    const gp_describe_topic_partitions_request *body = req->body;
    gp_describe_topic_partitions_response *resp = req->resp;
    const gp_describe_topic_partitions_request_cursor *cursor = body->cursor;
    bool all = body->topics_count <= 0;
    gp_str from = cursor ? cursor->topic_name : GP_STR_LIT("");

    int32_t count;
    gp_str *names = gb__dtp_names(b, req, from, &count);
    if (cursor && !all) {
        bool listed = false;
        for (int32_t i = 0; i < count && !listed; i++)
            listed = gb__cmp_str(&names[i], &cursor->topic_name) == 0;
        if (!listed) {
            gb__dtp_refuse(req, GP_E_INVALID_REQUEST);
            return;
        }
    }
    if (cursor && cursor->partition_index < 0) {
        gb__dtp_refuse(req, GP_E_INVALID_REQUEST);
        return;
    }
    if (!cursor && !all && count > 0 && names[0].len == 0) {
        gb__dtp_refuse(req, GP_E_UNKNOWN_SERVER_ERROR);
        return;
    }

    int32_t limit = body->response_partition_limit;
    if (limit > GB_MAX_REQUEST_PARTITION_SIZE_LIMIT)
        limit = GB_MAX_REQUEST_PARTITION_SIZE_LIMIT;
    if (limit < 1)
        limit = 1;

    resp->topics = gp_arena_alloc(&req->arena, (size_t)(count ? count : 1) * sizeof *resp->topics);
    resp->topics_count = 0;
    int32_t left = limit;
    for (int32_t i = 0; i < count; i++) {
        if (left == 0) {
            resp->next_cursor = gp_arena_calloc(&req->arena, 1, sizeof *resp->next_cursor);
            resp->next_cursor->topic_name = names[i];
            resp->next_cursor->partition_index = 0;
            break;
        }
        gb_topic *t = gb_topic_find_visible(b, names[i].p, (size_t)names[i].len);
        if (!t && all)
            continue;
        gp_describe_topic_partitions_response_topic *out = &resp->topics[resp->topics_count++];
        gp_describe_topic_partitions_response_topic_init(out);
        out->name = names[i];
        out->is_internal = gb_topic_name_is_internal(names[i].p, (size_t)names[i].len);
        out->topic_authorized_operations = GB_TOPIC_AUTHORIZED_OPERATIONS;
        if (!t) {
            const char *why;
            out->error_code = gs_topic_name_check(names[i].p, (size_t)names[i].len, &why) < 0
                                  ? GP_E_INVALID_TOPIC_EXCEPTION
                                  : GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        out->topic_id = t->id;
        int32_t first = cursor && gb__cmp_str(&names[i], &cursor->topic_name) == 0 ? cursor->partition_index : 0;
        int64_t end = (int64_t)first + left;
        int32_t np = gb_topic_visible(t);
        if (end > np)
            end = np;
        gb__dtp_fill_partitions(b, req, first, (int32_t)end, out);
        if (end < np) {
            resp->next_cursor = gp_arena_calloc(&req->arena, 1, sizeof *resp->next_cursor);
            resp->next_cursor->topic_name = out->name;
            resp->next_cursor->partition_index = (int32_t)end;
            break;
        }
        left -= out->partitions_count;
    }
    gb_request_respond(req);
}
