/*
 * AlterConfigs (v0-2) and IncrementalAlterConfigs (v0-1), answered as
 * Kafka 4.4 answers them (ConfigAdminManager's checks on the broker, then
 * the controller's ConfigurationControlManager and
 * ControllerConfigurationValidator): the same checks in the same order,
 * the same error codes and, where Kafka has them, the same messages.
 *
 * Both requests become one list of resources, each with a list of
 * operations (AlterConfigs: SET of every key, replacing the whole set).
 *
 *   TOPIC          the topic's overrides (core/gb_topics), answered once
 *                  the topic store is durable
 *   BROKER         this node ("<node.id>") or the cluster default (""):
 *                  the keys flagged GC_F_DYNAMIC (core/gb_dynconf), answered
 *                  once gregor-broker-configs.properties is durable
 *   BROKER_LOGGER  IncrementalAlterConfigs only: Gregor has one logger,
 *                  "root" (base/gb_logger); not persisted, as in Kafka
 *   GROUP          a group's overrides (config/gc_group, kept by
 *                  core/gb_dynconf), answered once
 *                  gregor-group-configs.properties is durable; they do not
 *                  change Gregor's classic groups, as in Kafka
 *   anything else  INVALID_REQUEST "Unknown resource type N" (client
 *                  metrics are not supported)
 *
 * Nothing is changed for a resource whose check fails, and nothing at all
 * with validate_only.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/api/gb_handlers.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_dynconf.h"
#include "broker/core/gb_topics.h"
#include "broker/net/gb_request.h"
#include "config/gc_group.h"
#include "config/gc_topic.h"
#include "protocol/gp_errors.h"
#include "storage/gs_names.h"

enum { GB_OP_SET, GB_OP_DELETE, GB_OP_APPEND, GB_OP_SUBTRACT };
enum { GB_RES_TOPIC = 2, GB_RES_BROKER = 4, GB_RES_BROKER_LOGGER = 8, GB_RES_GROUP = 32 };

static const char *const gb__op_names[] = {"SET", "DELETE", "APPEND", "SUBTRACT"};

typedef struct gb_cfg_op {
    const char *key;
    const char *value; /* NULL: Kafka's null */
    int8_t op;
} gb_cfg_op;

typedef struct gb_cfg_res {
    int8_t type;
    gp_str name;
    gb_cfg_op *ops;
    int32_t nops;
    int16_t *error;
    gp_str *message;
} gb_cfg_res;

/* What a request asks, whichever API it came in. */
typedef struct gb_cfg_call {
    gb_broker *b;
    gb_request *req;
    bool incremental, validate_only;
    int pending; /* durable writes still to come, plus one while handling */
} gb_cfg_call;

static void gb__fail(gp_arena *a, gb_cfg_res *r, int16_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void gb__fail(gp_arena *a, gb_cfg_res *r, int16_t err, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *r->error = err;
    *r->message = gp_str_c(gp_arena_strndup(a, buf, strlen(buf)));
}

static void gb__call_done(void *arg)
{
    gb_cfg_call *call = arg;
    if (--call->pending == 0)
        gb_request_respond(call->req);
}

/* ---- lists (APPEND, SUBTRACT) ------------------------------------------------- */

static bool gb__list_has(const char *list, const char *w, size_t wl)
{
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == wl && memcmp(p, w, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* cur with the items of arg added (APPEND, those not in it yet) or removed
 * (SUBTRACT); items are trimmed, empty ones skipped. In the arena. */
static char *gb__list_op(gp_arena *a, const char *cur, const char *arg, bool append)
{
    size_t cap = strlen(cur ? cur : "") + strlen(arg) + 2;
    char *out = gp_arena_alloc(a, cap);
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *src = pass == 0 ? cur : arg;
        if (pass == 1 && !append)
            break;
        for (const char *p = src; p && *p;) {
            size_t l = strcspn(p, ",");
            const char *b = p, *e = p + l;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            size_t wl = (size_t)(e - b);
            bool keep = wl > 0;
            if (keep && pass == 0 && !append && gb__list_has(arg, b, wl))
                keep = false;
            if (keep && pass == 1) {
                out[n] = '\0';
                keep = !gb__list_has(out, b, wl);
            }
            if (keep) {
                if (n)
                    out[n++] = ',';
                memcpy(out + n, b, wl);
                n += wl;
            }
            p += l + (p[l] == ',');
        }
    }
    out[n] = '\0';
    return out;
}

/* ---- checks every resource type shares ------------------------------------------ */

/* Kafka's ConfigAdminManager.preprocess: a key given twice, a null value
 * where one is needed, an operation id it does not know. */
static int gb__check_ops(gp_arena *a, gb_cfg_res *r)
{
    for (int32_t i = 0; i < r->nops; i++)
        for (int32_t j = i + 1; j < r->nops; j++)
            if (strcmp(r->ops[i].key, r->ops[j].key) == 0) {
                gb__fail(a, r, GP_E_INVALID_REQUEST, "Error due to duplicate config keys");
                return -1;
            }
    for (int32_t i = 0; i < r->nops; i++) {
        if (r->ops[i].op < GB_OP_SET || r->ops[i].op > GB_OP_SUBTRACT) {
            *r->error = GP_E_UNKNOWN_SERVER_ERROR;
            *r->message = GP_STR_NULL;
            return -1;
        }
        if (r->ops[i].op != GB_OP_DELETE && !r->ops[i].value) {
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Null value not supported for : %s", r->ops[i].key);
            return -1;
        }
    }
    return 0;
}

/* ---- TOPIC ------------------------------------------------------------------------ */

static void gb__alter_topic(gb_cfg_call *call, gb_cfg_res *r)
{
    gb_broker *b = call->b;
    gp_arena *a = &call->req->arena;
    const char *why;
    if (r->name.len <= 0) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "Default topic resources are not allowed.");
        return;
    }
    if (gs_topic_name_check(r->name.p, (size_t)r->name.len, &why) < 0) {
        gb__fail(a, r, GP_E_INVALID_TOPIC_EXCEPTION, "%s", why);
        return;
    }
    if (gb__check_ops(a, r) < 0)
        return;
    gb_topic *t = gb_topic_find_visible(b, r->name.p, (size_t)r->name.len);
    if (!t) {
        gb__fail(a, r, GP_E_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%.*s' does not exist.", (int)r->name.len,
                 r->name.p);
        return;
    }
    /* The new override set: AlterConfigs' keys alone, or the current one
     * with the operations applied. */
    size_t cap = t->noverrides + (size_t)r->nops + 1, n = 0;
    gc_kv *kv = gp_arena_alloc(a, cap * sizeof *kv);
    if (call->incremental) /* copies: gb_topic_set_overrides frees the topic's own */
        for (size_t i = 0; i < t->noverrides; i++)
            if (t->overrides[i].value)
                kv[n++] = (gc_kv){gp_arena_strndup(a, t->overrides[i].key, strlen(t->overrides[i].key)),
                                  gp_arena_strndup(a, t->overrides[i].value, strlen(t->overrides[i].value))};
    for (int32_t i = 0; i < r->nops; i++) {
        const gb_cfg_op *op = &r->ops[i];
        size_t at = n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(kv[j].key, op->key) == 0)
                at = j;
        if (op->op == GB_OP_DELETE) {
            if (at < n)
                kv[at] = kv[--n];
            continue;
        }
        const char *value = op->value;
        if (op->op == GB_OP_APPEND || op->op == GB_OP_SUBTRACT) {
            int k = gc_topic_key_find(op->key, strlen(op->key));
            if (k < 0) {
                gb__fail(a, r, GP_E_INVALID_CONFIG, "Unknown topic config name: %s", op->key);
                return;
            }
            if (strcmp(gc_topic_key((size_t)k)->type, "list") != 0) {
                gb__fail(a, r, GP_E_INVALID_CONFIG, "Can't %s to key %s because its type is not LIST.",
                         gb__op_names[op->op], op->key);
                return;
            }
            /* The items given are checked on their own first, as Kafka
             * does: its message names them, not the merged list. */
            gc_topic_config probe;
            char why[1024];
            const gc_kv alone = {op->key, op->value};
            if (gc_topic_config_resolve(&probe, b->cfg, &alone, 1, why, sizeof why) < 0) {
                gb__fail(a, r, GP_E_INVALID_CONFIG, "%s", why);
                return;
            }
            gc_topic_config_free(&probe);
            char buf[8192];
            const char *cur = at < n ? kv[at].value : gc_topic_value_text(&t->cfg, (size_t)k, buf, sizeof buf);
            value = gb__list_op(a, cur, op->value, op->op == GB_OP_APPEND);
        }
        kv[at] = (gc_kv){op->key, value};
        if (at == n)
            n++;
    }
    gc_topic_config cfg;
    char msg[1024];
    if (gc_topic_config_resolve(&cfg, b->cfg, kv, n, msg, sizeof msg) < 0) {
        gb__fail(a, r, GP_E_INVALID_CONFIG, "%s", msg);
        return;
    }
    gc_topic_config_free(&cfg);
    if (call->validate_only)
        return;
    int16_t err;
    if (gb_topic_set_overrides(b, t, kv, n, &err, msg, sizeof msg) < 0) {
        gb__fail(a, r, err, "%s", msg);
        return;
    }
    gb_logger_info("topic %s: configs altered (%zu override(s))", t->name, n);
    call->pending++;
    gb_topics_persist(b, gb__call_done, call);
}

/* ---- BROKER and BROKER_LOGGER: which node ------------------------------------------ */

/* The node a resource name names: 1 this node, 0 the cluster default (""
 * when allowed), -1 after failing r. */
static int gb__node(gb_cfg_call *call, gb_cfg_res *r, bool logger)
{
    gp_arena *a = &call->req->arena;
    int32_t self = call->b->meta.node_id;
    if (r->name.len <= 0 && !logger)
        return 0;
    char name[32];
    bool numeric = r->name.len > 0 && r->name.len < (int32_t)sizeof name;
    long long id = 0;
    if (numeric) {
        memcpy(name, r->name.p, (size_t)r->name.len);
        name[r->name.len] = '\0';
        char *end;
        id = strtoll(name, &end, 10);
        numeric = *end == '\0' && (name[0] == '-' || name[0] == '+' || (name[0] >= '0' && name[0] <= '9')) &&
                  id >= INT32_MIN && id <= INT32_MAX;
    }
    int len = r->name.len > 0 ? (int)r->name.len : 0;
    if (!numeric) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "Node id must be an integer, but it is: %.*s", len, r->name.p);
        return -1;
    }
    if (id != self) {
        if (logger)
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Unexpected node id. Expected %" PRId32 ", but received %.*s", self,
                     len, r->name.p);
        else
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Unexpected broker id, expected %" PRId32 ", but received %.*s", self,
                     len, r->name.p);
        return -1;
    }
    return 1;
}

/* ---- BROKER ------------------------------------------------------------------------ */

static void gb__alter_broker(gb_cfg_call *call, gb_cfg_res *r)
{
    gb_broker *b = call->b;
    gp_arena *a = &call->req->arena;
    int node = gb__node(call, r, false);
    if (node < 0 || gb__check_ops(a, r) < 0)
        return;
    int level = node ? GB_DYN_NODE : GB_DYN_DEFAULT;

    /* Keys Gregor knows that cannot change at run time, all named at once. */
    char ro[2048];
    size_t rl = 0;
    for (int32_t i = 0; i < r->nops; i++) {
        int k = gc_config_key_find(r->ops[i].key);
        if (k >= 0 && !(gc_config_key((size_t)k)->flags & GC_F_DYNAMIC) && rl + strlen(r->ops[i].key) + 3 < sizeof ro)
            rl += (size_t)snprintf(ro + rl, sizeof ro - rl, "%s%s", rl ? ", " : "", r->ops[i].key);
    }
    if (rl) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "Cannot update these configs dynamically: [%s]", ro);
        return;
    }

    size_t have = gb_dynconf_count(b, level), cap = have + (size_t)r->nops + 1, n = 0;
    gc_kv *kv = gp_arena_alloc(a, cap * sizeof *kv);
    if (call->incremental)
        for (size_t i = 0; i < have; i++)
            kv[n++] = *gb_dynconf_entry(b, level, i);
    for (int32_t i = 0; i < r->nops; i++) {
        const gb_cfg_op *op = &r->ops[i];
        size_t at = n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(kv[j].key, op->key) == 0)
                at = j;
        if (op->op == GB_OP_DELETE) {
            if (at < n)
                memmove(&kv[at], &kv[at + 1], (n - at - 1) * sizeof *kv), n--;
            continue;
        }
        const char *value = op->value;
        if (strpbrk(value, "\r\n")) { /* one line per value in gregor-broker-configs.properties */
            gb__fail(a, r, GP_E_INVALID_CONFIG, "Invalid value for configuration %s: Gregor stores no line breaks",
                     op->key);
            return;
        }
        if (op->op == GB_OP_APPEND || op->op == GB_OP_SUBTRACT) {
            int k = gc_config_key_find(op->key);
            if (k < 0 || strcmp(gc_config_key((size_t)k)->type, "list") != 0) {
                gb__fail(a, r, GP_E_INVALID_CONFIG, "Config value %s is not allowed for config key: %s",
                         op->op == GB_OP_APPEND ? "append" : "subtract", op->key);
                return;
            }
            char buf[8192];
            const char *cur = at < n ? kv[at].value : gc_config_value_text(b->cfg, (size_t)k, buf, sizeof buf);
            value = gb__list_op(a, cur, op->value, op->op == GB_OP_APPEND);
        }
        kv[at] = (gc_kv){op->key, value};
        if (at == n)
            n++;
    }
    char msg[1024];
    if (gb_dynconf_check(b, level, kv, n, msg, sizeof msg) < 0) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "%s", msg);
        return;
    }
    if (call->validate_only)
        return;
    call->pending++;
    gb_dynconf_replace(b, level, kv, n, gb__call_done, call);
}

/* ---- BROKER_LOGGER ------------------------------------------------------------------- */

static void gb__alter_logger(gb_cfg_call *call, gb_cfg_res *r)
{
    gp_arena *a = &call->req->arena;
    if (!call->incremental) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "Unknown resource type %d", r->type);
        return;
    }
    if (gb__node(call, r, true) < 0 || gb__check_ops(a, r) < 0)
        return;
    int level = -1;
    for (int32_t i = 0; i < r->nops; i++) {
        const gb_cfg_op *op = &r->ops[i];
        if (op->op == GB_OP_APPEND || op->op == GB_OP_SUBTRACT) {
            gb__fail(a, r, GP_E_INVALID_REQUEST, "%s operation is not allowed for the BROKER_LOGGER resource",
                     gb__op_names[op->op]);
            return;
        }
        if (strcmp(op->key, "root") != 0) {
            gb__fail(a, r, GP_E_INVALID_CONFIG, "Logger %s does not exist!", op->key);
            return;
        }
        if (op->op == GB_OP_DELETE) {
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Removing the log level of the root logger is not allowed");
            return;
        }
        level = gb_logger_level_find(op->value);
        if (level < 0) {
            gb__fail(a, r, GP_E_INVALID_CONFIG,
                     "Cannot set the log level of %s to %s as it is not a supported log level. Valid log levels are "
                     "DEBUG, ERROR, FATAL, INFO, TRACE, WARN",
                     op->key, op->value);
            return;
        }
    }
    if (call->validate_only || level < 0)
        return;
    if (level != gb_logger_level)
        gb_logger(GB_LOGGER_INFO, "log level %s -> %s", gb_logger_level_name(gb_logger_level),
                  gb_logger_level_name(level));
    gb_logger_level = level;
}

/* ---- GROUP ------------------------------------------------------------------------- */

/*
 * A group's overrides (Kafka 4.4's GroupConfig keys, config/gc_group),
 * whether or not the group exists, as Kafka keeps them. Kafka refuses
 * APPEND and SUBTRACT on every group key, its list key too ("its type is
 * not LIST"), before it looks at the key; the whole resulting set is then
 * checked: unknown keys, each value's type, then the broker's bounds.
 */
static void gb__alter_group(gb_cfg_call *call, gb_cfg_res *r)
{
    gb_broker *b = call->b;
    gp_arena *a = &call->req->arena;
    if (r->name.len <= 0) {
        gb__fail(a, r, GP_E_INVALID_REQUEST, "Default group resources are not allowed.");
        return;
    }
    if (gb__check_ops(a, r) < 0)
        return;
    size_t have = 0;
    const gc_kv *cur = gb_dynconf_group_get(b, r->name.p, (size_t)r->name.len, &have);
    size_t cap = have + (size_t)r->nops + 1, n = 0;
    gc_kv *kv = gp_arena_alloc(a, cap * sizeof *kv);
    if (call->incremental)
        for (size_t i = 0; i < have; i++)
            kv[n++] = cur[i];
    for (int32_t i = 0; i < r->nops; i++) {
        const gb_cfg_op *op = &r->ops[i];
        if (op->op == GB_OP_APPEND || op->op == GB_OP_SUBTRACT) {
            gb__fail(a, r, GP_E_INVALID_CONFIG, "Can't %s to key %s because its type is not LIST.",
                     gb__op_names[op->op], op->key);
            return;
        }
        size_t at = n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(kv[j].key, op->key) == 0)
                at = j;
        if (op->op == GB_OP_DELETE) {
            if (at < n)
                memmove(&kv[at], &kv[at + 1], (n - at - 1) * sizeof *kv), n--;
            continue;
        }
        kv[at] = (gc_kv){op->key, op->value};
        if (at == n)
            n++;
    }
    char msg[2048];
    if (gc_group_config_check(b->cfg, kv, n, msg, sizeof msg) < 0) {
        gb__fail(a, r, GP_E_INVALID_CONFIG, "%s", msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char buf[4096];
        const char *v = gc_group_value_canonical((size_t)gc_group_key_find(kv[i].key), kv[i].value, buf, sizeof buf);
        if (strpbrk(v, "\r\n")) { /* one line per value in gregor-group-configs.properties */
            gb__fail(a, r, GP_E_INVALID_CONFIG, "Invalid value for configuration %s: Gregor stores no line breaks",
                     kv[i].key);
            return;
        }
        kv[i].value = gp_arena_strndup(a, v, strlen(v));
    }
    if (call->validate_only)
        return;
    call->pending++;
    gb_dynconf_group_replace(b, r->name.p, (size_t)r->name.len, kv, n, gb__call_done, call);
}

/* ---- both requests ----------------------------------------------------------------- */

/* Kafka answers every copy of a resource named twice (same type and name)
 * with INVALID_REQUEST and acts on none. */
static bool gb__duplicate(const gb_cfg_res *res, int32_t n, int32_t i)
{
    for (int32_t j = 0; j < n; j++)
        if (j != i && res[j].type == res[i].type && res[j].name.len == res[i].name.len &&
            (res[i].name.len <= 0 || memcmp(res[j].name.p, res[i].name.p, (size_t)res[i].name.len) == 0))
            return true;
    return false;
}

static void gb__run(gb_cfg_call *call, gb_cfg_res *res, int32_t n)
{
    gp_arena *a = &call->req->arena;
    call->pending = 1;
    for (int32_t i = 0; i < n; i++) {
        gb_cfg_res *r = &res[i];
        *r->error = GP_E_NONE;
        *r->message = GP_STR_NULL;
        if (gb__duplicate(res, n, i)) {
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Each resource must appear at most once.");
            continue;
        }
        switch (r->type) {
        case GB_RES_TOPIC:
            gb__alter_topic(call, r);
            break;
        case GB_RES_BROKER:
            gb__alter_broker(call, r);
            break;
        case GB_RES_BROKER_LOGGER:
            gb__alter_logger(call, r);
            break;
        case GB_RES_GROUP:
            gb__alter_group(call, r);
            break;
        default:
            gb__fail(a, r, GP_E_INVALID_REQUEST, "Unknown resource type %d", r->type);
            break;
        }
    }
    gb__call_done(call);
}

static const char *gb__dup(gp_arena *a, gp_str s)
{
    return s.len < 0 ? NULL : gp_arena_strndup(a, s.p, (size_t)s.len);
}

void gb_handle_alter_configs(gb_broker *b, gb_request *req)
{
    const gp_alter_configs_request *body = req->body;
    gp_alter_configs_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->resources_count > 0 ? body->resources_count : 0;
    gb_cfg_call *call = gp_arena_calloc(a, 1, sizeof *call);
    *call = (gb_cfg_call){b, req, false, body->validate_only, 0};
    gb_cfg_res *res = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *res);
    resp->responses = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *resp->responses);
    resp->responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        const gp_alter_configs_request_resource *in = &body->resources[i];
        gp_alter_configs_response_resource_response *out = &resp->responses[i];
        gp_alter_configs_response_resource_response_init(out);
        out->resource_type = in->resource_type;
        out->resource_name = in->resource_name;
        int32_t nc = in->configs_count > 0 ? in->configs_count : 0;
        res[i] = (gb_cfg_res){in->resource_type, in->resource_name, gp_arena_calloc(a, (size_t)(nc ? nc : 1),
                                                                                  sizeof(gb_cfg_op)),
                              nc, &out->error_code, &out->error_message};
        for (int32_t k = 0; k < nc; k++)
            res[i].ops[k] = (gb_cfg_op){gb__dup(a, in->configs[k].name), gb__dup(a, in->configs[k].value), GB_OP_SET};
        for (int32_t k = 0; k < nc; k++)
            if (!res[i].ops[k].key)
                res[i].ops[k].key = "";
    }
    gb__run(call, res, n);
}

void gb_handle_incremental_alter_configs(gb_broker *b, gb_request *req)
{
    const gp_incremental_alter_configs_request *body = req->body;
    gp_incremental_alter_configs_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->resources_count > 0 ? body->resources_count : 0;
    gb_cfg_call *call = gp_arena_calloc(a, 1, sizeof *call);
    *call = (gb_cfg_call){b, req, true, body->validate_only, 0};
    gb_cfg_res *res = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *res);
    resp->responses = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *resp->responses);
    resp->responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        const gp_incremental_alter_configs_request_resource *in = &body->resources[i];
        gp_incremental_alter_configs_response_resource_response *out = &resp->responses[i];
        gp_incremental_alter_configs_response_resource_response_init(out);
        out->resource_type = in->resource_type;
        out->resource_name = in->resource_name;
        int32_t nc = in->configs_count > 0 ? in->configs_count : 0;
        res[i] = (gb_cfg_res){in->resource_type, in->resource_name, gp_arena_calloc(a, (size_t)(nc ? nc : 1),
                                                                                  sizeof(gb_cfg_op)),
                              nc, &out->error_code, &out->error_message};
        for (int32_t k = 0; k < nc; k++) {
            const char *key = gb__dup(a, in->configs[k].name);
            res[i].ops[k] = (gb_cfg_op){key ? key : "", gb__dup(a, in->configs[k].value),
                                        in->configs[k].config_operation};
        }
    }
    gb__run(call, res, n);
}
