/*
 * Topic administration: CreateTopics, DeleteTopics, CreatePartitions and
 * DescribeConfigs, answered as Apache Kafka's KRaft controller answers them
 * (ControllerApis, ReplicationControlManager, ConfigHelper): the same checks
 * in the same order, the same error codes and, where Kafka has them, the
 * same messages.
 *
 * A request that changed topics is answered only when the topic store is
 * durable (gb_topics_persist's callback), so a client that saw success and
 * then a broker restart still finds its topics. CreateTopics and
 * CreatePartitions are all or nothing: partition directories are created
 * while the handler runs, before the store is written; a topic (or a
 * CreatePartitions' set of new partitions) that fails half-way is removed
 * at once, and if the store cannot be written (disk full) every topic and
 * partition the request created is removed again and answered
 * KAFKA_STORAGE_ERROR (gb__created_stored). A crash before the store is
 * written leaves directories it does not list: set aside at startup, never
 * adopted (gb_topics.h).
 *
 * Requests are bounded as Kafka's controller bounds one operation: more than
 * GB_ADMIN_MAX_RECORDS metadata records (a topic, each of its config
 * overrides, each new partition) fail the whole request with
 * POLICY_VIOLATION, so one request cannot keep the loop thread creating
 * partition directories for minutes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_dynconf.h"
#include "broker/core/gb_quotas.h"
#include "broker/core/gb_topics.h"
#include "config/gc_group.h"
#include "config/gc_topic.h"
#include "protocol/gp_errors.h"
#include "storage/gs_meta.h"
#include "storage/gs_names.h"

#define GB_ADMIN_MAX_RECORDS 10000 /* Kafka's MAX_RECORDS_PER_USER_OP */

/* Kafka's ConfigSource ids, as DescribeConfigs and CreateTopics v5+ send them. */
enum {
    GB_SRC_TOPIC = 1,          /* DYNAMIC_TOPIC_CONFIG: set on the topic */
    GB_SRC_DYNAMIC_BROKER = 2, /* DYNAMIC_BROKER_CONFIG: AlterConfigs on this node */
    GB_SRC_DYNAMIC_DEFAULT = 3, /* DYNAMIC_DEFAULT_BROKER_CONFIG: AlterConfigs on "" */
    GB_SRC_STATIC_BROKER = 4,  /* STATIC_BROKER_CONFIG: file, environment, --override */
    GB_SRC_DEFAULT_CONFIG = 5, /* DEFAULT_CONFIG */
    GB_SRC_BROKER_LOGGER = 6,  /* DYNAMIC_BROKER_LOGGER_CONFIG */
    GB_SRC_GROUP = 8,          /* DYNAMIC_GROUP_CONFIG: set on the group */
};

/* Kafka's ConfigResource.Type ids. */
enum {
    GB_RES_TOPIC = 2,
    GB_RES_BROKER = 4,
    GB_RES_BROKER_LOGGER = 8,
    GB_RES_GROUP = 32,
};

/* At most this many synonyms per config: the topic's own value, then a
 * broker chain's dynamic, static and default values (3 keys at most). */
#define GB_MAX_SYNONYMS 16

static void gb__respond_cb(void *arg)
{
    gb_request_respond(arg);
}

/* Answer once the topic store is durable when the request changed it (the
 * change must survive a crash before the client hears of it), else now. */
static void gb__answer_when_stored(gb_broker *b, gb_request *req, bool changed)
{
    if (changed)
        gb_topics_persist(b, gb__respond_cb, req);
    else
        gb_request_respond(req);
}

/* controller_mutation_rate (KIP-599): may the request create or delete
 * this many partitions? Refused (false) only from strict_since on; older
 * versions are counted and throttled instead. */
static bool gb__mutation_ok(gb_broker *b, gb_request *req, int32_t partitions, int16_t strict_since,
                            int32_t *throttle_ms)
{
    return gb_quotas_mutate(b, req->hdr.client_id.p, req->hdr.client_id.len > 0 ? (size_t)req->hdr.client_id.len : 0,
                            partitions, req->version >= strict_since, throttle_ms);
}

/* Set an error code and a formatted message (in the request's arena). */
static void gb__fail(gp_arena *a, int16_t *code, gp_str *msg, int16_t err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* What a CreateTopics or CreatePartitions created, undone if the topic
 * store cannot record it. Topics are found again by id: one may have been
 * deleted while the store was written. */
typedef struct gb_created {
    gp_uuid id;
    int32_t from;   /* first new partition: 0 for a new topic */
    int32_t to;     /* the partition count it made */
    int16_t *error; /* its answer's error code and message */
    gp_str *message;
    void *out; /* its answer */
} gb_created;

typedef struct gb_created_list {
    gb_broker *b;
    gb_request *req;
    gb_created *c;
    size_t n;
    void (*reset)(void *out); /* clear what an answer says of a success */
} gb_created_list;

/* The topic store's write ended: answer, after undoing every creation of
 * the request if it failed (nothing the client is told failed may come
 * back after a restart, nor anything half-made stay). Until then clients
 * did not see what the request made (gb_topic_hide_from), so nothing was
 * produced to what is undone. */
static void gb__created_stored(void *arg, int rc)
{
    gb_created_list *l = arg;
    if (rc == 0)
        for (size_t i = 0; i < l->n; i++) {
            gb_topic *t = gb_topic_find_id(l->b, &l->c[i].id);
            if (t)
                gb_topic_reveal(t, l->c[i].to);
        }
    if (rc < 0) {
        bool undone = false;
        for (size_t i = 0; i < l->n; i++) {
            gb_created *c = &l->c[i];
            gb_topic *t = gb_topic_find_id(l->b, &c->id);
            if (t)
                gb_topic_reveal(t, c->from);
            if (t && t->npartitions == c->to) {
                gb_topic_undo_create(l->b, t, c->from);
                undone = true;
            }
            if (l->reset)
                l->reset(c->out);
            gb__fail(&l->req->arena, c->error, c->message, GP_E_KAFKA_STORAGE_ERROR,
                     "Cannot record the change in the topic store: %s", strerror(-rc));
        }
        if (undone) /* the file on disk is the new one if only the directory's sync failed */
            gb_topics_persist(l->b, NULL, NULL);
    }
    gb_request_respond(l->req);
}

/* Answer once what the request created is in the durable topic store
 * (n > 0), else now. */
static void gb__answer_created(gb_broker *b, gb_request *req, gb_created_list *l)
{
    if (l->n == 0) {
        gb_request_respond(req);
        return;
    }
    l->b = b;
    l->req = req;
    gb_topics_persist_result(b, gb__created_stored, l);
}
static void gb__fail(gp_arena *a, int16_t *code, gp_str *msg, int16_t err, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *code = err;
    *msg = gp_str_c(gp_arena_strndup(a, buf, strlen(buf)));
}

static gp_str gb__copy_str(gp_arena *a, const char *s)
{
    return s ? gp_str_c(gp_arena_strndup(a, s, strlen(s))) : GP_STR_NULL;
}

/* ---- duplicates ------------------------------------------------------------ */

typedef struct gb_dup_key {
    const char *p;
    int32_t len;
    int32_t idx;
} gb_dup_key;

static int gb__dup_cmp(const void *x, const void *y)
{
    const gb_dup_key *a = x, *b = y;
    int32_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->p, b->p, (size_t)n) : 0;
    if (c == 0 && a->len != b->len)
        c = a->len < b->len ? -1 : 1;
    if (c == 0)
        c = a->idx < b->idx ? -1 : a->idx > b->idx;
    return c;
}

/*
 * Kafka answers a name given twice in one request once, with INVALID_REQUEST,
 * and acts on neither. Mark in dup[] every key that occurs more than once and
 * in first[] the first occurrence of each key (the one that gets the answer).
 * Keys with a negative length take no part. Sorting keeps this O(n log n) for
 * requests with many topics.
 */
static void gb__find_duplicates(gp_arena *a, const gp_str *keys, int32_t n, bool *dup, bool *first)
{
    gb_dup_key *k = gp_arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof *k);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        dup[i] = false;
        first[i] = true;
        if (keys[i].len >= 0)
            k[m++] = (gb_dup_key){keys[i].p, keys[i].len, i};
    }
    if (m > 1)
        qsort(k, (size_t)m, sizeof *k, gb__dup_cmp);
    for (int32_t s = 0; s < m;) {
        int32_t e = s + 1;
        while (e < m && k[e].len == k[s].len && (k[s].len == 0 || memcmp(k[e].p, k[s].p, (size_t)k[s].len) == 0))
            e++;
        if (e - s > 1)
            for (int32_t j = s; j < e; j++) {
                dup[k[j].idx] = true;
                first[k[j].idx] = j == s;
            }
        s = e;
    }
}

/* ---- config entries ---------------------------------------------------------- */

/* Broker keys that give one setting in different units, most precise first:
 * Kafka's DynamicBrokerConfig.brokerConfigSynonyms for the keys Gregor has. */
static const char *const gb__chains[][4] = {
    {"log.retention.ms", "log.retention.minutes", "log.retention.hours", NULL},
    {"log.roll.ms", "log.roll.hours", NULL, NULL},
};

static int gb__broker_key_find(const char *name)
{
    for (size_t i = 0; i < gc_config_key_count(); i++)
        if (strcmp(gc_config_key(i)->name, name) == 0)
            return (int)i;
    return -1;
}

static int8_t gb__config_type(const char *type)
{
    static const char *const names[] = {"boolean", "string", "int",   "short",   "long",
                                        "double",  "list",   "class", "password"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i]) == 0)
            return (int8_t)(i + 1); /* Kafka's ConfigType: BOOLEAN 1 ... PASSWORD 9 */
    return 0;
}

/*
 * The synonyms Kafka lists for broker key `name` (ConfigHelper.configSynonyms):
 * every key of its chain that was set statically (file, environment,
 * --override), then every key of the chain that has a default, the whole
 * list starting at `name` itself. So log.retention.ms, unset, has none even
 * when log.retention.hours was set: Kafka answers so too. Before those, as
 * Kafka, the values set at run time: this node's, then the cluster
 * default's (core/gb_dynconf). Writes to out (room for 12) and returns the
 * count.
 */
static int32_t gb__broker_synonyms(gb_broker *b, gp_arena *a, const char *name,
                                   gp_describe_configs_response_synonym *out)
{
    const char *const *chain = NULL;
    const char *self[2] = {name, NULL};
    for (size_t c = 0; c < sizeof gb__chains / sizeof gb__chains[0] && !chain; c++)
        for (size_t k = 0; gb__chains[c][k]; k++)
            if (strcmp(gb__chains[c][k], name) == 0)
                chain = gb__chains[c];
    if (!chain)
        chain = self;
    int32_t n = 0;
    char buf[8192];
    static const int8_t sources[] = {GB_SRC_DYNAMIC_BROKER, GB_SRC_DYNAMIC_DEFAULT, GB_SRC_STATIC_BROKER,
                                     GB_SRC_DEFAULT_CONFIG};
    for (int pass = 0; pass < 4; pass++)
        for (size_t k = 0; chain[k]; k++) {
            int i = gb__broker_key_find(chain[k]);
            if (i < 0)
                continue;
            const gc_key_info *info = gc_config_key((size_t)i);
            const char *value;
            if (pass < 2) {
                value = gb_dynconf_get(b, pass == 0 ? GB_DYN_NODE : GB_DYN_DEFAULT, info->name);
                if (!value)
                    continue;
            } else if (pass == 2) {
                if (gc_config_value_source(b->static_cfg, (size_t)i) == GC_SRC_DEFAULT)
                    continue;
                value = gc_config_value_text(b->static_cfg, (size_t)i, buf, sizeof buf);
            } else {
                if (!info->default_text)
                    continue;
                value = info->default_text;
            }
            if (n == 0 && strcmp(info->name, name) != 0)
                continue; /* the list starts at `name` */
            gp_describe_configs_response_synonym *s = &out[n++];
            s->name = gp_str_c(info->name);
            s->value = pass < 3 ? gb__copy_str(a, value) : gp_str_c(value);
            s->source = sources[pass];
        }
    return n;
}

/* Finish an entry from its synonyms: the source is the first synonym's,
 * DEFAULT_CONFIG when there is none; the list goes out only when asked for. */
static void gb__entry_synonyms(gp_arena *a, gp_describe_configs_response_config *out,
                               const gp_describe_configs_response_synonym *syn, int32_t n, bool include)
{
    out->config_source = n > 0 ? syn[0].source : GB_SRC_DEFAULT_CONFIG;
    /* v0's is_default: Kafka 3.9 never sets it (its answer says false even
     * for a default), and clients of v0 see the same here. */
    out->is_default = false;
    out->synonyms_count = include ? n : 0;
    if (include && n > 0) {
        out->synonyms = gp_arena_alloc(a, (size_t)n * sizeof *out->synonyms);
        memcpy(out->synonyms, syn, (size_t)n * sizeof *syn);
    }
}

/*
 * One topic config as Kafka describes it (ConfigHelper.createTopicConfigEntry):
 * the effective value, the topic's own value as the first synonym when the
 * topic sets it (DYNAMIC_TOPIC_CONFIG), then the synonyms of the broker key
 * that gives its default. Read-only never: AlterConfigs may change any topic
 * config.
 */
static void gb__topic_entry(gb_broker *b, gp_arena *a, const gc_topic_config *cfg, size_t i, bool synonyms,
                            bool documentation, gp_describe_configs_response_config *out)
{
    const gc_topic_key_info *k = gc_topic_key(i);
    char buf[8192];
    gp_describe_configs_response_config_init(out);
    out->name = gp_str_c(k->name);
    out->value = gb__copy_str(a, gc_topic_value_text(cfg, i, buf, sizeof buf));
    out->read_only = false;
    out->is_sensitive = false;
    gp_describe_configs_response_synonym syn[GB_MAX_SYNONYMS];
    int32_t n = 0;
    if (cfg->overridden[i])
        syn[n++] = (gp_describe_configs_response_synonym){out->name, out->value, GB_SRC_TOPIC};
    if (k->broker_key)
        n += gb__broker_synonyms(b, a, k->broker_key, syn + n);
    gb__entry_synonyms(a, out, syn, n, synonyms);
    out->config_type = gb__config_type(k->type);
    out->documentation = documentation ? gp_str_c(k->doc) : GP_STR_NULL;
}

/* One broker config (ConfigHelper.createBrokerConfigEntry): read-only
 * unless Kafka can change it at run time (GC_F_DYNAMIC). */
static void gb__broker_entry(gb_broker *b, gp_arena *a, size_t i, bool synonyms, bool documentation,
                             gp_describe_configs_response_config *out)
{
    const gc_key_info *k = gc_config_key(i);
    char buf[8192];
    gp_describe_configs_response_config_init(out);
    out->name = gp_str_c(k->name);
    out->value = gb__copy_str(a, gc_config_value_text(b->cfg, i, buf, sizeof buf));
    out->read_only = !(k->flags & GC_F_DYNAMIC);
    out->is_sensitive = false;
    gp_describe_configs_response_synonym syn[GB_MAX_SYNONYMS];
    int32_t n = gb__broker_synonyms(b, a, k->name, syn);
    gb__entry_synonyms(a, out, syn, n, synonyms);
    out->config_type = gb__config_type(k->type);
    out->documentation = documentation ? gp_str_c(k->doc) : GP_STR_NULL;
}

/* ---- replica assignments ---------------------------------------------------- */

static int gb__cmp_int32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/*
 * A manual replica list (ReplicationControlManager's
 * validateManualPartitionAssignment): not empty, every broker registered,
 * none twice. On one node the only list that passes is [node.id]. Returns 0
 * or -1 with Kafka's message.
 */
static int gb__check_replicas(gb_broker *b, gp_arena *a, const int32_t *ids, int32_t n, char *msg, size_t len)
{
    if (n <= 0) {
        snprintf(msg, len, "The manual partition assignment includes an empty replica list.");
        return -1;
    }
    int32_t *sorted = gp_arena_alloc(a, (size_t)n * sizeof *sorted);
    memcpy(sorted, ids, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, gb__cmp_int32);
    for (int32_t i = 0; i < n; i++) {
        if (sorted[i] != b->meta.node_id) {
            snprintf(msg, len,
                     "The manual partition assignment includes broker %" PRId32 ", but no such broker is "
                     "registered.",
                     sorted[i]);
            return -1;
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            snprintf(msg, len, "The manual partition assignment includes the broker %" PRId32 " more than once.",
                     sorted[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- CreateTopics ----------------------------------------------------------- */

/* What the first pass of CreateTopics decided for one topic. */
typedef struct gb_create_plan {
    gp_create_topics_response_topic *out; /* NULL: a later duplicate, no answer of its own */
    int32_t partitions;
    gc_kv *kv;
    size_t nkv;
    gc_topic_config cfg; /* effective configs, when resolved */
    bool resolved;
} gb_create_plan;

/*
 * Every check of one topic, in Kafka's order: the name, existence, the
 * configs (null values, then gc_topic's validation), then either a manual
 * assignment or the partition count and replication factor, and last what
 * gb_topic_create checks itself (names that collide in '.' versus '_').
 * Returns 0, or -1 with the error in p->out.
 */
static int gb__create_check(gb_broker *b, gp_arena *a, const gp_create_topics_request_topic *in, gb_create_plan *p)
{
    gp_create_topics_response_topic *out = p->out;
    const char *why;
    char msg[1024];
    size_t len = (size_t)in->name.len;
    if (gs_topic_name_check(in->name.p, len, &why) < 0) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_TOPIC_EXCEPTION, "%s", why);
        return -1;
    }
    if (gp_str_eq_c(in->name, "__cluster_metadata")) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Creation of internal topic __cluster_metadata is prohibited.");
        return -1;
    }
    if (gb_topic_find(b, in->name.p, len)) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.",
                 (int)len, in->name.p);
        return -1;
    }
    if (gb_topic_name_is_internal(in->name.p, len)) {
        /* Kafka 4.4 creates it as asked (1 partition, say), and its group
         * or transaction coordinator, which hashes over the configured
         * count, then finds no coordinator for most ids until a restart.
         * Gregor's coordinators create these topics when first needed. */
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Creation of internal topic %.*s is prohibited: the broker creates it when it is first needed.",
                 (int)len, in->name.p);
        return -1;
    }

    int32_t nc = in->configs_count > 0 ? in->configs_count : 0;
    p->kv = gp_arena_alloc(a, (size_t)(nc ? nc : 1) * sizeof *p->kv);
    p->nkv = (size_t)nc;
    size_t nulls = 0; /* bytes of "key," for every key whose value is null */
    for (int32_t i = 0; i < nc; i++) {
        const gp_create_topics_request_config *c = &in->configs[i];
        p->kv[i].key = gp_arena_strndup(a, c->name.p, (size_t)c->name.len);
        p->kv[i].value = c->value.len < 0 ? NULL : gp_arena_strndup(a, c->value.p, (size_t)c->value.len);
        if (!p->kv[i].value)
            nulls += (size_t)c->name.len + 1;
    }
    if (nulls) {
        char *list = gp_arena_alloc(a, nulls), *w = list;
        for (int32_t i = 0; i < nc; i++)
            if (!p->kv[i].value) {
                size_t kl = strlen(p->kv[i].key);
                memcpy(w, p->kv[i].key, kl);
                w += kl;
                *w++ = ',';
            }
        w[-1] = '\0';
        out->error_code = GP_E_INVALID_CONFIG;
        out->error_message = gp_str_c(gp_arena_printf(a, "Null value not supported for topic configs: %s", list));
        return -1;
    }
    if (gc_topic_config_resolve(&p->cfg, b->cfg, p->kv, p->nkv, msg, sizeof msg) < 0) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_CONFIG, "%s", msg);
        return -1;
    }
    p->resolved = true;

    if (in->assignments_count > 0) {
        if (in->replication_factor != -1) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                     "A manual partition assignment was specified, but replication factor was not set to -1.");
            return -1;
        }
        if (in->num_partitions != -1) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                     "A manual partition assignment was specified, but numPartitions was not set to -1.");
            return -1;
        }
        int32_t n = in->assignments_count;
        bool *seen = gp_arena_calloc(a, (size_t)n, sizeof *seen);
        for (int32_t i = 0; i < n; i++) {
            const gp_create_topics_request_assignment *as = &in->assignments[i];
            int32_t pi = as->partition_index;
            if (pi >= 0 && pi < n && seen[pi]) {
                gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICA_ASSIGNMENT,
                         "Found multiple manual partition assignments for partition %" PRId32, pi);
                return -1;
            }
            if (pi >= 0 && pi < n)
                seen[pi] = true;
            if (gb__check_replicas(b, a, as->broker_ids, as->broker_ids_count, msg, sizeof msg) < 0) {
                gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICA_ASSIGNMENT, "%s", msg);
                return -1;
            }
        }
        for (int32_t i = 0; i < n; i++)
            if (!seen[i]) {
                gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICA_ASSIGNMENT,
                         "partitions should be a consecutive 0-based integer sequence");
                return -1;
            }
        p->partitions = n;
    } else {
        if (in->replication_factor < -1 || in->replication_factor == 0) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICATION_FACTOR,
                     "Replication factor must be larger than 0, or -1 to use the default value.");
            return -1;
        }
        if (in->num_partitions < -1 || in->num_partitions == 0) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_PARTITIONS,
                     "Number of partitions was set to an invalid non-positive value.");
            return -1;
        }
        int rf = in->replication_factor == -1 ? b->cfg->default_replication_factor : in->replication_factor;
        if (rf != 1) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICATION_FACTOR,
                     "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be "
                     "reached because only 1 broker(s) are registered.",
                     rf, rf);
            return -1;
        }
        p->partitions = in->num_partitions == -1 ? b->cfg->num_partitions : in->num_partitions;
    }

    gb_topic *t;
    int16_t err;
    if (gb_topic_create(b, in->name.p, len, p->partitions, p->kv, p->nkv, true, &t, &err, msg, sizeof msg) < 0) {
        gb__fail(a, &out->error_code, &out->error_message, err, "%s", msg);
        return -1;
    }
    return 0;
}

/* CreateTopics v5+ tells what a created topic looks like: partitions,
 * replication factor and every config with its source (ignored before v5). */
static void gb__create_fill(gb_broker *b, gp_arena *a, gb_create_plan *p)
{
    gp_create_topics_response_topic *out = p->out;
    out->num_partitions = p->partitions;
    out->replication_factor = 1;
    out->topic_config_error_code = GP_E_NONE;
    out->configs_count = (int32_t)gc_topic_key_count();
    out->configs = gp_arena_alloc(a, gc_topic_key_count() * sizeof *out->configs);
    for (size_t i = 0; i < gc_topic_key_count(); i++) {
        gp_describe_configs_response_config e;
        gb__topic_entry(b, a, &p->cfg, i, false, false, &e);
        gp_create_topics_response_config *c = &out->configs[i];
        gp_create_topics_response_config_init(c);
        c->name = e.name;
        c->value = e.value;
        c->read_only = e.read_only;
        c->config_source = e.config_source;
        c->is_sensitive = e.is_sensitive;
    }
}

/* A created topic's answer back to what an error answer says: no id,
 * partitions, replication factor or configs. */
static void gb__create_reset(void *arg)
{
    gp_create_topics_response_topic *out = arg;
    gp_str name = out->name;
    gp_create_topics_response_topic_init(out);
    out->name = name;
    out->error_message = GP_STR_NULL;
}

/*
 * CreateTopics v0-7. Two passes: every topic is checked first (duplicates,
 * then gb__create_check), the request's size is checked against Kafka's
 * bound, and only then are the valid topics created (none with
 * validate_only). The answer waits for the topic store when something was
 * created.
 */
void gb_handle_create_topics(gb_broker *b, gb_request *req)
{
    const gp_create_topics_request *body = req->body;
    gp_create_topics_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->topics_count > 0 ? body->topics_count : 0;

    gp_str *names = gp_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *names);
    bool *dup = gp_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *dup);
    bool *first = gp_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *first);
    for (int32_t i = 0; i < n; i++)
        names[i] = body->topics[i].name;
    gb__find_duplicates(a, names, n, dup, first);

    gb_create_plan *plans = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *plans);
    gb_created_list *created = gp_arena_calloc(a, 1, sizeof *created);
    created->c = gp_arena_calloc(a, (size_t)(n ? n : 1), sizeof *created->c);
    created->reset = gb__create_reset;
    resp->topics = gp_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *resp->topics);
    resp->topics_count = 0;
    int64_t records = 0;
    int32_t throttle = 0;
    for (int32_t i = 0; i < n; i++) {
        const gp_create_topics_request_topic *in = &body->topics[i];
        gb_create_plan *p = &plans[i];
        if (!first[i])
            continue;
        p->out = &resp->topics[resp->topics_count++];
        gp_create_topics_response_topic_init(p->out);
        p->out->name = in->name;
        p->out->error_message = GP_STR_NULL;
        if (dup[i])
            gb__fail(a, &p->out->error_code, &p->out->error_message, GP_E_INVALID_REQUEST, "Duplicate topic name.");
        else if (gb__create_check(b, a, in, p) == 0 && !gb__mutation_ok(b, req, p->partitions, 6, &throttle))
            p->out->error_code = GP_E_THROTTLING_QUOTA_EXCEEDED; /* no message, as Kafka */
        else if (p->out->error_code == GP_E_NONE)
            records += 1 + (int64_t)p->nkv + p->partitions;
    }

    if (records > GB_ADMIN_MAX_RECORDS) {
        for (int32_t i = 0; i < resp->topics_count; i++)
            gb__fail(a, &resp->topics[i].error_code, &resp->topics[i].error_message, GP_E_POLICY_VIOLATION,
                     "Unable to perform excessively large batch operation.");
    } else {
        for (int32_t i = 0; i < n; i++) {
            gb_create_plan *p = &plans[i];
            if (!p->out || p->out->error_code != GP_E_NONE)
                continue;
            const gp_create_topics_request_topic *in = &body->topics[i];
            gb_topic *t = NULL;
            int16_t err;
            char msg[1024];
            if (gb_topic_create(b, in->name.p, (size_t)in->name.len, p->partitions, p->kv, p->nkv, body->validate_only,
                                &t, &err, msg, sizeof msg) < 0) {
                gb__fail(a, &p->out->error_code, &p->out->error_message, err, "%s", msg);
                continue;
            }
            if (t) {
                p->out->topic_id = t->id;
                gb_topic_hide_from(t, 0);
                created->c[created->n++] = (gb_created){t->id, 0, t->npartitions, &p->out->error_code,
                                                        &p->out->error_message, p->out};
            } else if (body->validate_only) {
                /* Kafka's controller draws the id before it looks at
                 * validate_only, and answers with it. */
                gs_uuid_random(p->out->topic_id.b);
            }
            gb__create_fill(b, a, p);
        }
    }
    for (int32_t i = 0; i < n; i++)
        if (plans[i].resolved)
            gc_topic_config_free(&plans[i].cfg);

    gb_response_throttle(req, throttle);
    gb__answer_created(b, req, created);
}

/* ---- DeleteTopics ------------------------------------------------------------ */

/*
 * DeleteTopics v0-6: by name (topic_names, v0-5; topics[].name, v6) or by
 * id (topics[].topic_id, v6). As Kafka's controller: delete.topic.enable
 * false refuses everything (INVALID_REQUEST before v3, which lacks
 * TOPIC_DELETION_DISABLED); an entry with both a name and an id, or
 * neither, is INVALID_REQUEST; a name or id given twice is answered once,
 * INVALID_REQUEST; unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown ids
 * UNKNOWN_TOPIC_ID. Internal topics are not protected: Kafka's controller
 * deletes them too (only its command-line tool refuses). Answers follow the
 * request's order (Kafka shuffles them; clients match them by name or id).
 */
void gb_handle_delete_topics(gb_broker *b, gb_request *req)
{
    const gp_delete_topics_request *body = req->body;
    gp_delete_topics_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t nn = body->topic_names_count > 0 ? body->topic_names_count : 0;
    int32_t nt = body->topics_count > 0 ? body->topics_count : 0;
    int32_t n = nn + nt;
    size_t cap = (size_t)(n ? n : 1);

    gp_str *names = gp_arena_alloc(a, cap * sizeof *names);
    gp_uuid *ids = gp_arena_alloc(a, cap * sizeof *ids);
    for (int32_t i = 0; i < n; i++) {
        names[i] = i < nn ? body->topic_names[i] : body->topics[i - nn].name;
        ids[i] = i < nn ? (gp_uuid){{0}} : body->topics[i - nn].topic_id;
    }
    resp->responses = gp_arena_alloc(a, cap * sizeof *resp->responses);
    resp->responses_count = 0;

    if (!b->cfg->delete_topic_enable) {
        int16_t err = req->version < 3 ? GP_E_INVALID_REQUEST : GP_E_TOPIC_DELETION_DISABLED;
        for (int32_t i = 0; i < n; i++) {
            gp_delete_topics_response_topic_result *out = &resp->responses[resp->responses_count++];
            gp_delete_topics_response_topic_result_init(out);
            out->name = names[i];
            out->topic_id = ids[i];
            out->error_code = err; /* no message: Kafka answers with the exception's code alone */
            out->error_message = GP_STR_NULL;
        }
        gb_request_respond(req);
        return;
    }

    /* Duplicates among the names given alone, and among the ids given alone. */
    gp_str *keys = gp_arena_alloc(a, cap * sizeof *keys);
    bool *ndup = gp_arena_alloc(a, cap * sizeof *ndup), *nfirst = gp_arena_alloc(a, cap * sizeof *nfirst);
    bool *idup = gp_arena_alloc(a, cap * sizeof *idup), *ifirst = gp_arena_alloc(a, cap * sizeof *ifirst);
    for (int32_t i = 0; i < n; i++)
        keys[i] = names[i].len >= 0 && gp_uuid_is_zero(&ids[i]) ? names[i] : GP_STR_NULL;
    gb__find_duplicates(a, keys, n, ndup, nfirst);
    for (int32_t i = 0; i < n; i++)
        keys[i] = names[i].len < 0 && !gp_uuid_is_zero(&ids[i]) ? (gp_str){(const char *)ids[i].b, 16} : GP_STR_NULL;
    gb__find_duplicates(a, keys, n, idup, ifirst);

    gb_topic **target = gp_arena_calloc(a, cap, sizeof *target);
    gp_delete_topics_response_topic_result **outs = gp_arena_calloc(a, cap, sizeof *outs);
    for (int32_t i = 0; i < n; i++) {
        if (!nfirst[i] || !ifirst[i])
            continue;
        gp_delete_topics_response_topic_result *out = &resp->responses[resp->responses_count++];
        outs[i] = out;
        gp_delete_topics_response_topic_result_init(out);
        out->name = names[i];
        out->topic_id = ids[i];
        out->error_message = GP_STR_NULL;
        bool by_name = names[i].len >= 0, by_id = !gp_uuid_is_zero(&ids[i]);
        if (by_name && by_id) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                     "You may not specify both topic name and topic id.");
        } else if (!by_name && !by_id) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                     "Neither topic name nor id were specified.");
        } else if (ndup[i]) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST, "Duplicate topic name.");
        } else if (idup[i]) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST, "Duplicate topic id.");
        } else if (by_name) {
            /* Unknown: Kafka's ApiError without a message of its own
             * answers with the error's default message. */
            target[i] = gb_topic_find_visible(b, names[i].p, (size_t)names[i].len);
            if (target[i])
                out->topic_id = target[i]->id;
            else
                gb__fail(a, &out->error_code, &out->error_message, GP_E_UNKNOWN_TOPIC_OR_PARTITION,
                         "This server does not host this topic-partition.");
        } else {
            target[i] = gb_topic_find_id(b, &ids[i]);
            if (target[i] && gb_topic_visible(target[i]) == 0)
                target[i] = NULL; /* being created */
            if (target[i])
                out->name = gb__copy_str(a, target[i]->name);
            else
                gb__fail(a, &out->error_code, &out->error_message, GP_E_UNKNOWN_TOPIC_ID,
                         "This server does not host this topic ID.");
        }
    }

    /* A name and an id that find the same topic: Kafka deletes neither, and
     * answers for the name only (the id's entry gets no result). */
    for (int32_t i = 0; i < n; i++)
        keys[i] = target[i] ? (gp_str){(const char *)target[i]->id.b, 16} : GP_STR_NULL;
    gb__find_duplicates(a, keys, n, ndup, nfirst);
    bool deleted = false, dropped = false;
    int32_t throttle = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!target[i])
            continue;
        if (ndup[i]) {
            if (names[i].len >= 0) {
                gb__fail(a, &outs[i]->error_code, &outs[i]->error_message, GP_E_INVALID_REQUEST,
                         "The provided topic name maps to an ID that was already supplied.");
            } else {
                outs[i]->error_code = -32768; /* marks the entry to drop */
                dropped = true;
            }
            continue;
        }
        if (!gb__mutation_ok(b, req, target[i]->npartitions, 5, &throttle)) {
            outs[i]->error_code = GP_E_THROTTLING_QUOTA_EXCEEDED; /* no message, as Kafka */
            target[i] = NULL;
            continue;
        }
        if (gb_topic_delete(b, target[i]) < 0)
            gb__fail(a, &outs[i]->error_code, &outs[i]->error_message, GP_E_KAFKA_STORAGE_ERROR,
                     "The topic was deleted, but some of its files could not be removed.");
        target[i] = NULL;
        deleted = true;
    }

    if (dropped) {
        int32_t kept = 0;
        for (int32_t j = 0; j < resp->responses_count; j++)
            if (resp->responses[j].error_code != -32768)
                resp->responses[kept++] = resp->responses[j];
        resp->responses_count = kept;
    }

    gb_response_throttle(req, throttle);
    gb__answer_when_stored(b, req, deleted);
}

/* ---- CreatePartitions -------------------------------------------------------- */

/*
 * CreatePartitions v0-3: grow topics to `count` partitions. Checked as
 * Kafka's controller checks (duplicates, unknown topic, a count that is no
 * increase, assignments: one replica list per new partition, each valid),
 * all before anything is created; validate_only creates nothing.
 */
void gb_handle_create_partitions(gb_broker *b, gb_request *req)
{
    const gp_create_partitions_request *body = req->body;
    gp_create_partitions_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->topics_count > 0 ? body->topics_count : 0;
    size_t cap = (size_t)(n ? n : 1);

    gp_str *names = gp_arena_alloc(a, cap * sizeof *names);
    bool *dup = gp_arena_alloc(a, cap * sizeof *dup), *first = gp_arena_alloc(a, cap * sizeof *first);
    for (int32_t i = 0; i < n; i++)
        names[i] = body->topics[i].name;
    gb__find_duplicates(a, names, n, dup, first);

    gb_topic **target = gp_arena_calloc(a, cap, sizeof *target);
    gb_created_list *created = gp_arena_calloc(a, 1, sizeof *created);
    created->c = gp_arena_calloc(a, cap, sizeof *created->c);
    gp_create_partitions_response_result **outs = gp_arena_calloc(a, cap, sizeof *outs);
    resp->results = gp_arena_alloc(a, cap * sizeof *resp->results);
    resp->results_count = 0;
    int64_t records = 0;
    int32_t throttle = 0;
    char msg[1024];
    for (int32_t i = 0; i < n; i++) {
        const gp_create_partitions_request_topic *in = &body->topics[i];
        if (!first[i])
            continue;
        gp_create_partitions_response_result *out = &resp->results[resp->results_count++];
        outs[i] = out;
        gp_create_partitions_response_result_init(out);
        out->name = in->name;
        out->error_message = GP_STR_NULL;
        if (dup[i]) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST, "Duplicate topic name.");
            continue;
        }
        gb_topic *t = gb_topic_find_visible(b, in->name.p, (size_t)in->name.len);
        if (!t) {
            out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (t->hiding > 0) {
            /* Another CreatePartitions waits for the topic store: this one
             * would build on partitions that may yet be undone. Kafka's
             * controller would queue it; the client retries. */
            gb__fail(a, &out->error_code, &out->error_message, GP_E_REQUEST_TIMED_OUT,
                     "A partition change of topic '%.*s' is still being recorded; retry.", (int)in->name.len,
                     in->name.p);
            continue;
        }
        if (in->count == t->npartitions) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_PARTITIONS,
                     "Topic already has %" PRId32 " partition(s).", t->npartitions);
            continue;
        }
        if (in->count < t->npartitions) {
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_PARTITIONS,
                     "The topic %s currently has %" PRId32 " partition(s); %" PRId32 " would not be an increase.",
                     t->name, t->npartitions, in->count);
            continue;
        }
        if (t->internal) {
            /* Kafka 4.4 adds them; at the next start its coordinator hashes
             * group and transactional ids over the new count, and finds
             * none of what it wrote before in the partition it now looks. */
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                     "Cannot add partitions to internal topic %s: the ids it holds would move to other partitions.",
                     t->name);
            continue;
        }
        int32_t additional = in->count - t->npartitions;
        if (in->assignments_count >= 0) {
            if (in->assignments_count != additional) {
                gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICA_ASSIGNMENT,
                         "Attempted to add %" PRId32 " additional partition(s), but only %" PRId32
                         " assignment(s) were specified.",
                         additional, in->assignments_count);
                continue;
            }
            int rc = 0;
            for (int32_t k = 0; k < in->assignments_count && rc == 0; k++)
                rc = gb__check_replicas(b, a, in->assignments[k].broker_ids, in->assignments[k].broker_ids_count, msg,
                                        sizeof msg);
            if (rc < 0) {
                gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REPLICA_ASSIGNMENT, "%s", msg);
                continue;
            }
        }
        if (!gb__mutation_ok(b, req, additional, 3, &throttle)) {
            out->error_code = GP_E_THROTTLING_QUOTA_EXCEEDED; /* no message, as Kafka */
            continue;
        }
        target[i] = t;
        records += additional;
    }

    if (records > GB_ADMIN_MAX_RECORDS) {
        for (int32_t i = 0; i < resp->results_count; i++)
            gb__fail(a, &resp->results[i].error_code, &resp->results[i].error_message, GP_E_POLICY_VIOLATION,
                     "Unable to perform excessively large batch operation.");
    } else {
        for (int32_t i = 0; i < n; i++) {
            if (!target[i])
                continue;
            int16_t err;
            int32_t before = target[i]->npartitions;
            if (gb_topic_add_partitions(b, target[i], body->topics[i].count, body->validate_only, &err, msg,
                                        sizeof msg) < 0)
                gb__fail(a, &outs[i]->error_code, &outs[i]->error_message, err, "%s", msg);
            else if (!body->validate_only) {
                gb_topic_hide_from(target[i], before);
                created->c[created->n++] = (gb_created){target[i]->id, before, target[i]->npartitions,
                                                        &outs[i]->error_code, &outs[i]->error_message, outs[i]};
            }
        }
    }

    gb_response_throttle(req, throttle);
    gb__answer_created(b, req, created);
}

/* ---- DescribeConfigs ------------------------------------------------------------ */

/* configuration_keys: null or empty asks for every key (as in Kafka). */
static bool gb__wanted(const gp_describe_configs_request_resource *in, const char *name)
{
    if (in->configuration_keys_count <= 0)
        return true;
    for (int32_t i = 0; i < in->configuration_keys_count; i++)
        if (gp_str_eq_c(in->configuration_keys[i], name))
            return true;
    return false;
}

static void gb__describe_topic(gb_broker *b, gb_request *req, const gp_describe_configs_request_resource *in,
                               gp_describe_configs_response_result *out)
{
    const gp_describe_configs_request *body = req->body;
    gp_arena *a = &req->arena;
    const char *why;
    if (gs_topic_name_check(in->resource_name.p, (size_t)in->resource_name.len, &why) < 0) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_TOPIC_EXCEPTION, "%s", why);
        return;
    }
    gb_topic *t = gb_topic_find_visible(b, in->resource_name.p, (size_t)in->resource_name.len);
    if (!t) {
        out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    size_t nk = gc_topic_key_count();
    out->configs = gp_arena_alloc(a, nk * sizeof *out->configs);
    for (size_t i = 0; i < nk; i++)
        if (gb__wanted(in, gc_topic_key(i)->name))
            gb__topic_entry(b, a, &t->cfg, i, body->include_synonyms, body->include_documentation,
                            &out->configs[out->configs_count++]);
}

/*
 * The cluster-wide dynamic defaults (the empty broker name): only the keys
 * set there, each its own one synonym, as Kafka lists them.
 */
static void gb__describe_broker_default(gb_broker *b, gb_request *req, const gp_describe_configs_request_resource *in,
                                        gp_describe_configs_response_result *out)
{
    const gp_describe_configs_request *body = req->body;
    gp_arena *a = &req->arena;
    size_t n = gb_dynconf_count(b, GB_DYN_DEFAULT);
    out->configs = gp_arena_alloc(a, (n ? n : 1) * sizeof *out->configs);
    for (size_t i = 0; i < n; i++) {
        const gc_kv *kv = gb_dynconf_entry(b, GB_DYN_DEFAULT, i);
        int k = gb__broker_key_find(kv->key);
        if (k < 0 || !gb__wanted(in, kv->key))
            continue;
        const gc_key_info *info = gc_config_key((size_t)k);
        gp_describe_configs_response_config *c = &out->configs[out->configs_count++];
        gp_describe_configs_response_config_init(c);
        c->name = gp_str_c(info->name);
        c->value = gb__copy_str(a, kv->value);
        c->read_only = false;
        c->is_sensitive = false;
        gp_describe_configs_response_synonym syn = {c->name, c->value, GB_SRC_DYNAMIC_DEFAULT};
        gb__entry_synonyms(a, c, &syn, 1, body->include_synonyms);
        c->config_type = gb__config_type(info->type);
        c->documentation = body->include_documentation ? gp_str_c(info->doc) : GP_STR_NULL;
    }
}

/*
 * BROKER_LOGGER: Gregor has one logger, which it calls "root" as log4j
 * does (base/gb_logger); Kafka lists each of its log4j loggers the same
 * way: source DYNAMIC_BROKER_LOGGER_CONFIG, no synonyms, type UNKNOWN, an
 * empty documentation.
 */
static void gb__describe_logger(gb_broker *b, gb_request *req, const gp_describe_configs_request_resource *in,
                                gp_describe_configs_response_result *out)
{
    gp_arena *a = &req->arena;
    char name[32];
    bool numeric = in->resource_name.len > 0 && in->resource_name.len < (int32_t)sizeof name;
    long long id = 0;
    if (numeric) {
        memcpy(name, in->resource_name.p, (size_t)in->resource_name.len);
        name[in->resource_name.len] = '\0';
        char *end;
        id = strtoll(name, &end, 10);
        numeric = *end == '\0' && (name[0] == '-' || name[0] == '+' || (name[0] >= '0' && name[0] <= '9')) &&
                  id >= INT32_MIN && id <= INT32_MAX;
    }
    int len = in->resource_name.len > 0 ? (int)in->resource_name.len : 0;
    if (!numeric) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Broker id must be an integer, but it is: %.*s", len, in->resource_name.p);
        return;
    }
    if (id != b->meta.node_id) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Unexpected broker id, expected %" PRId32 " but received %.*s", b->meta.node_id, len,
                 in->resource_name.p);
        return;
    }
    out->configs = gp_arena_alloc(a, sizeof *out->configs);
    if (!gb__wanted(in, "root"))
        return;
    gp_describe_configs_response_config *c = &out->configs[out->configs_count++];
    gp_describe_configs_response_config_init(c);
    c->name = GP_STR_LIT("root");
    c->value = gp_str_c(gb_logger_level_name(gb_logger_level));
    c->read_only = false;
    c->is_sensitive = false;
    c->config_source = GB_SRC_BROKER_LOGGER;
    c->is_default = false;
    c->synonyms_count = 0;
    c->config_type = 0;
    c->documentation = GP_STR_LIT("");
}

/*
 * The broker resource: this node's id, or the empty name for the
 * cluster-wide dynamic defaults. Keys Gregor accepts but ignores are listed
 * only when asked for by name.
 */
static void gb__describe_broker(gb_broker *b, gb_request *req, const gp_describe_configs_request_resource *in,
                                gp_describe_configs_response_result *out)
{
    const gp_describe_configs_request *body = req->body;
    gp_arena *a = &req->arena;
    if (in->resource_name.len <= 0) {
        gb__describe_broker_default(b, req, in, out);
        return;
    }
    char name[64];
    bool numeric = in->resource_name.len < (int32_t)sizeof name;
    long long id = 0;
    if (numeric) {
        memcpy(name, in->resource_name.p, (size_t)in->resource_name.len);
        name[in->resource_name.len] = '\0';
        char *end;
        id = strtoll(name, &end, 10);
        numeric = *end == '\0' && (name[0] == '-' || name[0] == '+' || (name[0] >= '0' && name[0] <= '9')) &&
                  id >= INT32_MIN && id <= INT32_MAX;
    }
    if (!numeric) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Broker id must be an integer, but it is: %.*s", (int)in->resource_name.len, in->resource_name.p);
        return;
    }
    if (id != b->meta.node_id) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST,
                 "Unexpected broker id, expected %" PRId32 " or empty string, but received %.*s", b->meta.node_id,
                 (int)in->resource_name.len, in->resource_name.p);
        return;
    }
    size_t nk = gc_config_key_count();
    out->configs = gp_arena_alloc(a, nk * sizeof *out->configs);
    for (size_t i = 0; i < nk; i++) {
        const gc_key_info *k = gc_config_key(i);
        bool named = in->configuration_keys_count > 0 && gb__wanted(in, k->name);
        if (named || (in->configuration_keys_count <= 0 && !(k->flags & GC_F_IGNORED)))
            gb__broker_entry(b, a, i, body->include_synonyms, body->include_documentation,
                             &out->configs[out->configs_count++]);
    }
}

/*
 * A group's configs, as Kafka 4.4 lists them whether or not the group
 * exists: every group key, the group's own value first (source
 * DYNAMIC_GROUP_CONFIG) then the synonyms of the broker key that gives its
 * default (a key without one: its own name and default, DEFAULT_CONFIG).
 */
static void gb__describe_group(gb_broker *b, gb_request *req, const gp_describe_configs_request_resource *in,
                               gp_describe_configs_response_result *out)
{
    const gp_describe_configs_request *body = req->body;
    gp_arena *a = &req->arena;
    if (in->resource_name.len <= 0) {
        gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST, "Group name must not be empty");
        return;
    }
    size_t have = 0;
    const gc_kv *own = gb_dynconf_group_get(b, in->resource_name.p, (size_t)in->resource_name.len, &have);
    size_t nk = gc_group_key_count();
    out->configs = gp_arena_alloc(a, nk * sizeof *out->configs);
    for (size_t i = 0; i < nk; i++) {
        const gc_group_key_info *k = gc_group_key(i);
        if (!gb__wanted(in, k->name))
            continue;
        const char *value = NULL;
        for (size_t j = 0; j < have; j++)
            if (strcmp(own[j].key, k->name) == 0)
                value = own[j].value;
        gp_describe_configs_response_config *c = &out->configs[out->configs_count++];
        gp_describe_configs_response_config_init(c);
        char buf[8192];
        c->name = gp_str_c(k->name);
        c->value = gb__copy_str(a, value ? value : gc_group_default_text(b->cfg, i, buf, sizeof buf));
        c->read_only = false;
        c->is_sensitive = false;
        gp_describe_configs_response_synonym syn[GB_MAX_SYNONYMS];
        int32_t n = 0;
        if (value)
            syn[n++] = (gp_describe_configs_response_synonym){c->name, c->value, GB_SRC_GROUP};
        if (k->broker_key)
            n += gb__broker_synonyms(b, a, k->broker_key, syn + n);
        else
            syn[n++] = (gp_describe_configs_response_synonym){c->name, gp_str_c(k->default_text),
                                                              GB_SRC_DEFAULT_CONFIG};
        gb__entry_synonyms(a, c, syn, n, body->include_synonyms);
        c->config_type = gb__config_type(k->type);
        c->documentation = body->include_documentation ? gp_str_c(k->doc) : GP_STR_NULL;
    }
}

/*
 * DescribeConfigs v0-4: topics (every topic config of gc_topic's table,
 * with its source and synonyms), this broker (every broker key Gregor
 * uses; read-only unless Kafka can change it at run time), the cluster
 * defaults (broker "") and BROKER_LOGGER, groups (their group configs).
 * Client metrics are INVALID_REQUEST for that resource.
 */
void gb_handle_describe_configs(gb_broker *b, gb_request *req)
{
    const gp_describe_configs_request *body = req->body;
    gp_describe_configs_response *resp = req->resp;
    gp_arena *a = &req->arena;
    int32_t n = body->resources_count > 0 ? body->resources_count : 0;
    resp->results = gp_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *resp->results);
    resp->results_count = n;
    for (int32_t i = 0; i < n; i++) {
        const gp_describe_configs_request_resource *in = &body->resources[i];
        gp_describe_configs_response_result *out = &resp->results[i];
        gp_describe_configs_response_result_init(out);
        out->resource_type = in->resource_type;
        out->resource_name = in->resource_name;
        /* Kafka sets a message only for the errors it throws; else the
         * field keeps its schema default, the empty string. */
        out->error_message = GP_STR_LIT("");
        out->configs_count = 0;
        switch (in->resource_type) {
        case GB_RES_TOPIC:
            gb__describe_topic(b, req, in, out);
            break;
        case GB_RES_BROKER:
            gb__describe_broker(b, req, in, out);
            break;
        case GB_RES_BROKER_LOGGER:
            gb__describe_logger(b, req, in, out);
            break;
        case GB_RES_GROUP:
            gb__describe_group(b, req, in, out);
            break;
        default:
            gb__fail(a, &out->error_code, &out->error_message, GP_E_INVALID_REQUEST, "Unsupported resource type: %d",
                     in->resource_type);
            break;
        }
    }
    gb_request_respond(req);
}
