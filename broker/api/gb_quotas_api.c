/*
 * DescribeClientQuotas (48) and AlterClientQuotas (49), v0-v1, as a
 * single-node Kafka 4.4 answers them (its ClientQuotasImage.describe and
 * the controller's ClientQuotaControlManager), asked over the wire:
 *
 *  - Describe: each filter component names a type once (user, client-id,
 *    ip), with match_type 0 (this name), 1 (the default entity) or 2 (any
 *    name of the type, the default included); an entity matches when it
 *    has every component's type with a matching name and, with strict,
 *    no other type. No components: every entity, or none when strict.
 *    A bad filter is a top-level error with Kafka's message and null
 *    entries; success carries the message "" as Kafka's does.
 *  - Alter: per entry, in Kafka's order: a repeated type in the entity
 *    keeps its last name; an entity already altered earlier in the request
 *    turns that earlier result into "Ignoring duplicate entity" (what it
 *    applied stays applied) and gets no result of its own; a key named
 *    twice is that same error; then the entity (types, empty names, ip
 *    with nothing else) and each set key (known for the entity's kind,
 *    finite, positive, integral and in range for the integer keys).
 *    Removals are not checked. Nothing of an entry with an error is
 *    applied; validate_only applies nothing. The answer leaves once the
 *    quota file holds what was applied.
 *
 * Differences: an ip entity must be a literal IPv4 or IPv6 address (Kafka
 * also accepts a host name it can resolve, which would block the loop
 * thread here). Kafka lists entities, and the types of an entity, in
 * hash order; Gregor lists entities in the order they were first set and
 * types as Kafka happens to for these three (client-id, user, ip).
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "broker/api/gb_handlers.h"
#include "broker/core/gb_quotas.h"
#include "protocol/gp_errors.h"

#define GB__MATCH_EXACT 0
#define GB__MATCH_DEFAULT 1
#define GB__MATCH_SPECIFIED 2

/* The order Kafka's hash map lists the three types in. */
static const int gb__type_order[GS_QUOTA_NTYPES] = {GS_QUOTA_CLIENT_ID, GS_QUOTA_USER, GS_QUOTA_IP};

static int gb__type_find(gp_str s)
{
    for (int t = 0; t < GS_QUOTA_NTYPES; t++)
        if (gp_str_eq_c(s, gs_quota_type_names[t]))
            return t;
    return -1;
}

/* ---- DescribeClientQuotas ------------------------------------------------------ */

/* Set *message and return code: the filter's error. */
static int16_t gb__describe_error(const char **message, int16_t code, const char *text)
{
    *message = text;
    return code;
}

/* A filter: per type, whether it is asked for, and the name (NULL:
 * default) for an exact or default match. */
typedef struct gb__quota_filter {
    bool exact[GS_QUOTA_NTYPES], any[GS_QUOTA_NTYPES];
    const char *name[GS_QUOTA_NTYPES];
    int count;
} gb__quota_filter;

static bool gb__describe_matches(const gb__quota_filter *f, const gb_quota_entry *e, bool strict)
{
    int types = 0;
    for (int t = 0; t < GS_QUOTA_NTYPES; t++) {
        types += e->has[t];
        if ((f->exact[t] || f->any[t]) && !e->has[t])
            return false;
        if (f->exact[t] && !(f->name[t] ? e->name[t] && strcmp(f->name[t], e->name[t]) == 0 : !e->name[t]))
            return false;
    }
    return !strict || types == f->count;
}

/* Read the filter's components into f; GP_E_NONE, or an error and its
 * message, checked in Kafka's order. */
static int16_t gb__describe_filter(gp_arena *a, const gp_describe_client_quotas_request *body, gb__quota_filter *f,
                                   const char **message)
{
    for (int32_t i = 0; i < body->components_count; i++) {
        const gp_describe_client_quotas_request_component *c = &body->components[i];
        if (c->entity_type.len <= 0)
            return gb__describe_error(message, GP_E_INVALID_REQUEST, "Invalid empty entity type.");
        int t = gb__type_find(c->entity_type);
        if (t >= 0 && (f->exact[t] || f->any[t]))
            return gb__describe_error(message, GP_E_INVALID_REQUEST,
                                     gp_arena_printf(a, "Entity type %.*s cannot appear more than once in the filter.",
                                                     (int)c->entity_type.len, c->entity_type.p));
        if (t < 0)
            return gb__describe_error(message, GP_E_UNSUPPORTED_VERSION,
                                     gp_arena_printf(a, "Unsupported entity type %.*s", (int)c->entity_type.len,
                                                     c->entity_type.p));
        bool null = c->match.len < 0;
        switch (c->match_type) {
        case GB__MATCH_EXACT:
            if (null)
                return gb__describe_error(message, GP_E_INVALID_REQUEST,
                                         "Request specified MATCH_TYPE_EXACT, but set match string to null.");
            f->exact[t] = true;
            f->name[t] = gp_arena_strndup(a, c->match.p, (size_t)c->match.len);
            break;
        case GB__MATCH_DEFAULT:
            if (!null)
                return gb__describe_error(message, GP_E_INVALID_REQUEST,
                                         "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.");
            f->exact[t] = true;
            f->name[t] = NULL;
            break;
        case GB__MATCH_SPECIFIED:
            if (!null)
                return gb__describe_error(
                    message, GP_E_INVALID_REQUEST,
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.");
            f->any[t] = true;
            break;
        default:
            return gb__describe_error(message, GP_E_INVALID_REQUEST,
                                     gp_arena_printf(a, "Unknown match type %d", c->match_type));
        }
        f->count++;
    }
    bool ip = f->exact[GS_QUOTA_IP] || f->any[GS_QUOTA_IP];
    if (ip && f->count > 1)
        return gb__describe_error(message, GP_E_INVALID_REQUEST,
                                 "Invalid entity filter component combination. IP filter component should not be "
                                 "used with user or clientId filter component.");
    return GP_E_NONE;
}

void gb_handle_describe_client_quotas(gb_broker *b, gb_request *req)
{
    const gp_describe_client_quotas_request *body = req->body;
    gp_describe_client_quotas_response *resp = req->resp;
    gp_arena *a = &req->arena;
    gb__quota_filter f = {0};
    const char *message = NULL;
    int16_t code = gb__describe_filter(a, body, &f, &message);
    if (code != GP_E_NONE) {
        resp->error_code = code;
        resp->error_message = gp_str_c(message);
        resp->entries = NULL;
        resp->entries_count = -1;
        gb_request_respond(req);
        return;
    }
    size_t n = gb_quotas_count(b);
    resp->error_code = GP_E_NONE;
    resp->entries = gp_arena_calloc(a, n ? n : 1, sizeof *resp->entries);
    resp->entries_count = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_quota_entry *e = gb_quotas_entry(b, i);
        if (!gb__describe_matches(&f, e, body->strict))
            continue;
        gp_describe_client_quotas_response_entry *out = &resp->entries[resp->entries_count++];
        gp_describe_client_quotas_response_entry_init(out);
        out->entity = gp_arena_calloc(a, GS_QUOTA_NTYPES, sizeof *out->entity);
        out->entity_count = 0;
        for (int k = 0; k < GS_QUOTA_NTYPES; k++) {
            int t = gb__type_order[k];
            if (!e->has[t])
                continue;
            gp_describe_client_quotas_response_entity *ent = &out->entity[out->entity_count++];
            gp_describe_client_quotas_response_entity_init(ent);
            ent->entity_type = gp_str_c(gs_quota_type_names[t]);
            ent->entity_name = gp_str_c(e->name[t] ? gp_arena_strndup(a, e->name[t], strlen(e->name[t])) : NULL);
        }
        out->values = gp_arena_calloc(a, GB_QK_COUNT, sizeof *out->values);
        out->values_count = 0;
        for (int k = 0; k < GB_QK_COUNT; k++) {
            if (!(e->present & (1u << k)))
                continue;
            gp_describe_client_quotas_response_value *v = &out->values[out->values_count++];
            gp_describe_client_quotas_response_value_init(v);
            v->key = gp_str_c(gb_quota_keys[k].name);
            v->value = e->value[k];
        }
    }
    gb_request_respond(req);
}

/* ---- AlterClientQuotas ------------------------------------------------------------ */

/* An entry's entity as Kafka reads it into a map: one name per type, the
 * last given; types Gregor does not know kept for the answer. */
typedef struct gb__alter_entity {
    gp_str type[8], name[8]; /* distinct types; beyond 8 the rest is dropped */
    int n;
} gb__alter_entity;

static void gb__alter_entity_read(const gp_alter_client_quotas_request_entry *in, gb__alter_entity *e)
{
    e->n = 0;
    for (int32_t i = 0; i < in->entity_count; i++) {
        const gp_alter_client_quotas_request_entity *c = &in->entity[i];
        int j = 0;
        while (j < e->n && !gp_str_eq(e->type[j], c->entity_type))
            j++;
        if (j == e->n) {
            if (e->n == 8)
                continue;
            e->type[e->n++] = c->entity_type;
        }
        e->name[j] = c->entity_name;
    }
    /* Kafka's order: the three known types first, as its map lists them. */
    gb__alter_entity sorted = {.n = 0};
    for (int k = 0; k < GS_QUOTA_NTYPES; k++)
        for (int j = 0; j < e->n; j++)
            if (gb__type_find(e->type[j]) == gb__type_order[k]) {
                sorted.type[sorted.n] = e->type[j];
                sorted.name[sorted.n++] = e->name[j];
            }
    for (int j = 0; j < e->n; j++)
        if (gb__type_find(e->type[j]) < 0) {
            sorted.type[sorted.n] = e->type[j];
            sorted.name[sorted.n++] = e->name[j];
        }
    *e = sorted;
}

static bool gb__alter_entity_eq(const gb__alter_entity *x, const gb__alter_entity *y)
{
    if (x->n != y->n)
        return false;
    for (int i = 0; i < x->n; i++) {
        int j = 0;
        while (j < y->n && !gp_str_eq(x->type[i], y->type[j]))
            j++;
        if (j == y->n || x->name[i].len != y->name[j].len || !gp_str_eq(x->name[i], y->name[j]))
            return false;
    }
    return true;
}

/* "Ignoring duplicate entity ClientQuotaEntity(entries={client-id=c, user=u})" */
static char *gb__alter_duplicate(gp_arena *a, const gb__alter_entity *e)
{
    char *s = gp_arena_printf(a, "Ignoring duplicate entity ClientQuotaEntity(entries={");
    for (int i = 0; i < e->n; i++)
        s = gp_arena_printf(a, "%s%s%.*s=%.*s", s, i ? ", " : "", (int)e->type[i].len, e->type[i].p,
                            e->name[i].len < 0 ? 4 : (int)e->name[i].len, e->name[i].len < 0 ? "null" : e->name[i].p);
    return gp_arena_printf(a, "%s})", s);
}

/* The entity's error, or NULL; fills has/name for a valid one. */
static const char *gb__alter_entity_check(gp_arena *a, const gb__alter_entity *e, bool has[], const char *name[])
{
    if (e->n == 0)
        return "Invalid empty client quota entity";
    for (int i = 0; i < e->n; i++) {
        int t = gb__type_find(e->type[i]);
        if (t < 0)
            return gp_arena_printf(a, "Unhandled client quota entity type: %.*s", (int)e->type[i].len,
                                   e->type[i].p);
        if (e->name[i].len == 0)
            return gp_arena_printf(a, "Empty %s not supported", gs_quota_type_names[t]);
        has[t] = true;
        name[t] = e->name[i].len < 0 ? NULL : gp_arena_strndup(a, e->name[i].p, (size_t)e->name[i].len);
        if (t == GS_QUOTA_IP && name[t]) {
            unsigned char addr[16];
            if (inet_pton(AF_INET, name[t], addr) != 1 && inet_pton(AF_INET6, name[t], addr) != 1)
                return gp_arena_printf(a, "%s is not a valid IP or resolvable host.", name[t]);
        }
    }
    if (has[GS_QUOTA_IP] && (has[GS_QUOTA_USER] || has[GS_QUOTA_CLIENT_ID]))
        return "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId";
    return NULL;
}

/* A value's error for the key, or NULL. */
static const char *gb__alter_value_check(gp_arena *a, bool ip, gp_str key_name, int key, double value)
{
    if (key < 0 || gb_quota_keys[key].ip != ip)
        return gp_arena_printf(a, "Invalid configuration key %.*s", (int)key_name.len, key_name.p);
    const char *k = gb_quota_keys[key].name;
    if (!isfinite(value))
        return gp_arena_printf(a, "Quota %s must be a finite number", k);
    if (value <= 0)
        return gp_arena_printf(a, "Quota %s must be greater than 0", k);
    switch (gb_quota_keys[key].type) {
    case GB_QV_LONG:
        if (value >= 9223372036854775808.0)
            return gp_arena_printf(a, "Proposed value for %s is too large for a LONG.", k);
        break;
    case GB_QV_INT:
        if (value > 2147483647.0)
            return gp_arena_printf(a, "Proposed value for %s is too large for an INT.", k);
        break;
    case GB_QV_DOUBLE:
        return NULL;
    }
    if (value - (double)(int64_t)value > 1e-6)
        return gp_arena_printf(a, "%s cannot be a fractional value.", k);
    return NULL;
}

static void gb__alter_respond(void *arg)
{
    gb_request_respond(arg);
}

void gb_handle_alter_client_quotas(gb_broker *b, gb_request *req)
{
    const gp_alter_client_quotas_request *body = req->body;
    gp_alter_client_quotas_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->entries_count > 0 ? body->entries_count : 0;
    gb__alter_entity *ents = gp_arena_calloc(a, n ? (size_t)n : 1, sizeof *ents);
    int32_t *result_of = gp_arena_calloc(a, n ? (size_t)n : 1, sizeof *result_of);
    resp->entries = gp_arena_calloc(a, n ? (size_t)n : 1, sizeof *resp->entries);
    resp->entries_count = 0;
    bool changed = false;
    for (int32_t i = 0; i < n; i++) {
        const gp_alter_client_quotas_request_entry *in = &body->entries[i];
        gb__alter_entity *e = &ents[i];
        gb__alter_entity_read(in, e);
        int32_t earlier = 0;
        while (earlier < i && !gb__alter_entity_eq(&ents[earlier], e))
            earlier++;
        if (earlier < i) {
            gp_alter_client_quotas_response_entry *prev = &resp->entries[result_of[earlier]];
            prev->error_code = GP_E_INVALID_REQUEST;
            prev->error_message = gp_str_c(gb__alter_duplicate(a, e));
            result_of[i] = result_of[earlier];
            continue;
        }
        result_of[i] = resp->entries_count;
        gp_alter_client_quotas_response_entry *out = &resp->entries[resp->entries_count++];
        gp_alter_client_quotas_response_entry_init(out);
        out->error_code = GP_E_NONE;
        out->error_message = GP_STR_NULL;
        out->entity = gp_arena_calloc(a, e->n ? (size_t)e->n : 1, sizeof *out->entity);
        out->entity_count = e->n;
        for (int j = 0; j < e->n; j++) {
            gp_alter_client_quotas_response_entity_init(&out->entity[j]);
            out->entity[j].entity_type = e->type[j];
            out->entity[j].entity_name = e->name[j];
        }

        const char *err = NULL;
        for (int32_t j = 0; j < in->ops_count && !err; j++)
            for (int32_t k = 0; k < j && !err; k++)
                if (gp_str_eq(in->ops[j].key, in->ops[k].key))
                    err = gb__alter_duplicate(a, e);
        bool has[GS_QUOTA_NTYPES] = {false};
        const char *name[GS_QUOTA_NTYPES] = {NULL};
        if (!err)
            err = gb__alter_entity_check(a, e, has, name);
        int32_t nops = in->ops_count > 0 ? in->ops_count : 0;
        int *keys = gp_arena_calloc(a, nops ? (size_t)nops : 1, sizeof *keys);
        for (int32_t j = 0; j < nops && !err; j++) {
            const gp_alter_client_quotas_request_op *op = &in->ops[j];
            keys[j] = op->key.len > 0 ? gb_quota_key_find(op->key.p, (size_t)op->key.len) : -1;
            if (!op->remove)
                err = gb__alter_value_check(a, has[GS_QUOTA_IP], op->key, keys[j], op->value);
        }
        if (err) {
            out->error_code = GP_E_INVALID_REQUEST;
            out->error_message = gp_str_c(err);
            continue;
        }
        if (body->validate_only)
            continue;
        for (int32_t j = 0; j < nops; j++) {
            if (keys[j] < 0)
                continue; /* removing a key nobody can set: nothing to do */
            gb_quotas_apply(b, has, name, keys[j], in->ops[j].remove, in->ops[j].value);
            changed = true;
        }
    }
    if (changed)
        gb_quotas_persist(b, gb__alter_respond, req);
    else
        gb_request_respond(req);
}

/* ---- request_percentage ------------------------------------------------------- */

/* The response's throttle_time_ms: every API Gregor serves has one at the
 * top level, but WriteTxnMarkers (exempt, as Kafka's cluster actions). */
static int32_t *gb__throttle_field(int16_t key, void *resp)
{
#define GB__T(api, type)                                                                                               \
    case GP_API_##api:                                                                                                 \
        return &((type *)resp)->throttle_time_ms
    switch (key) {
        GB__T(PRODUCE, gp_produce_response);
        GB__T(FETCH, gp_fetch_response);
        GB__T(LIST_OFFSETS, gp_list_offsets_response);
        GB__T(METADATA, gp_metadata_response);
        GB__T(OFFSET_COMMIT, gp_offset_commit_response);
        GB__T(OFFSET_FETCH, gp_offset_fetch_response);
        GB__T(FIND_COORDINATOR, gp_find_coordinator_response);
        GB__T(JOIN_GROUP, gp_join_group_response);
        GB__T(HEARTBEAT, gp_heartbeat_response);
        GB__T(LEAVE_GROUP, gp_leave_group_response);
        GB__T(SYNC_GROUP, gp_sync_group_response);
        GB__T(DESCRIBE_GROUPS, gp_describe_groups_response);
        GB__T(LIST_GROUPS, gp_list_groups_response);
        GB__T(API_VERSIONS, gp_api_versions_response);
        GB__T(CREATE_TOPICS, gp_create_topics_response);
        GB__T(DELETE_TOPICS, gp_delete_topics_response);
        GB__T(DELETE_RECORDS, gp_delete_records_response);
        GB__T(INIT_PRODUCER_ID, gp_init_producer_id_response);
        GB__T(OFFSET_FOR_LEADER_EPOCH, gp_offset_for_leader_epoch_response);
        GB__T(ADD_PARTITIONS_TO_TXN, gp_add_partitions_to_txn_response);
        GB__T(ADD_OFFSETS_TO_TXN, gp_add_offsets_to_txn_response);
        GB__T(END_TXN, gp_end_txn_response);
        GB__T(TXN_OFFSET_COMMIT, gp_txn_offset_commit_response);
        GB__T(DESCRIBE_CONFIGS, gp_describe_configs_response);
        GB__T(ALTER_CONFIGS, gp_alter_configs_response);
        GB__T(DESCRIBE_LOG_DIRS, gp_describe_log_dirs_response);
        GB__T(CREATE_PARTITIONS, gp_create_partitions_response);
        GB__T(DELETE_GROUPS, gp_delete_groups_response);
        GB__T(ELECT_LEADERS, gp_elect_leaders_response);
        GB__T(INCREMENTAL_ALTER_CONFIGS, gp_incremental_alter_configs_response);
        GB__T(ALTER_PARTITION_REASSIGNMENTS, gp_alter_partition_reassignments_response);
        GB__T(LIST_PARTITION_REASSIGNMENTS, gp_list_partition_reassignments_response);
        GB__T(OFFSET_DELETE, gp_offset_delete_response);
        GB__T(DESCRIBE_CLIENT_QUOTAS, gp_describe_client_quotas_response);
        GB__T(ALTER_CLIENT_QUOTAS, gp_alter_client_quotas_response);
        GB__T(DESCRIBE_CLUSTER, gp_describe_cluster_response);
        GB__T(DESCRIBE_PRODUCERS, gp_describe_producers_response);
        GB__T(DESCRIBE_TRANSACTIONS, gp_describe_transactions_response);
        GB__T(LIST_TRANSACTIONS, gp_list_transactions_response);
        GB__T(CONSUMER_GROUP_HEARTBEAT, gp_consumer_group_heartbeat_response);
        GB__T(CONSUMER_GROUP_DESCRIBE, gp_consumer_group_describe_response);
        GB__T(DESCRIBE_TOPIC_PARTITIONS, gp_describe_topic_partitions_response);
    default:
        return NULL;
    }
#undef GB__T
}

void gb_response_throttle(gb_request *req, int32_t ms)
{
    if (ms <= 0)
        return;
    int32_t *field = gb__throttle_field(req->hdr.api_key, req->resp);
    if (field && *field < ms)
        *field = ms;
    gb_request_throttle(req, ms);
}

/*
 * request_percentage (KIP-124): the time the loop thread spends in a
 * client's handlers, in percent of one thread (1 s of handler time is
 * 100), against the client's quota, measured as the other quotas are.
 * Kafka records a request's handler time when it answers and puts the
 * throttle in that answer; Gregor learns the time once the handler has
 * returned, when its answer may be written already, so the time counts
 * then and a client over its quota hears of it in the answer to its next
 * request (throttle_time_ms, and the connection muted for that long).
 * Work a handler leaves to completion callbacks (appends, the topic
 * store's write) is not counted. Kafka's exempt requests are its cluster
 * actions; of those Gregor serves WriteTxnMarkers, which is not counted.
 */
void gb_request_quota_call(gb_broker *b, void (*fn)(gb_broker *, gb_request *), gb_request *req)
{
    if (req->hdr.api_key == GP_API_WRITE_TXN_MARKERS || !gb_quotas_any(b, GB_QK_REQUEST_PERCENTAGE)) {
        fn(b, req);
        return;
    }
    /* The handler may free the request: the client id is copied first. */
    char client[256];
    size_t len = req->hdr.client_id.p && req->hdr.client_id.len > 0 ? (size_t)req->hdr.client_id.len : 0;
    if (len > sizeof client)
        len = sizeof client;
    memcpy(client, req->hdr.client_id.p ? req->hdr.client_id.p : "", len);
    gb_response_throttle(req, gb_quotas_throttle(b, GB_QK_REQUEST_PERCENTAGE, client, len));
    uint64_t start = uv_hrtime();
    fn(b, req);
    double percent = (double)(uv_hrtime() - start) * (100.0 / 1e9);
    gb_quotas_record(b, GB_QK_REQUEST_PERCENTAGE, client, len, percent);
}
