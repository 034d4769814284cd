#include "config/gc_topic.h"
#include "config/gc_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The topic key table, expanded from gc_topic_keys.def. As in gc_config.c,
 * the public part comes first so that gc_topic_key() can hand out a pointer
 * into it; the rest is what the generic code needs to place and check a
 * value.
 */
typedef struct gc__tkey {
    gc_topic_key_info info;
    int type;            /* GC_T_INT, ... */
    size_t offset;       /* of the field in gc_topic_config */
    const char *def;     /* Kafka's default, when no broker key gives one */
    int64_t min, max;    /* numbers only */
    const char *choices; /* ", "-separated allowed values, or NULL */
} gc__tkey;

static const gc__tkey gc__tkeys[GC_TOPIC_KEY_COUNT] = {
#define GC_TOPIC_KEY(field, name, type, def, lo, hi, choices, broker, flags, doc)                                      \
    {{name, GC__TNAME_##type, broker, doc, flags}, GC_T_##type, offsetof(gc_topic_config, field), def, lo, hi, choices},
#include "config/gc_topic_keys.def"
#undef GC_TOPIC_KEY
};

static const gc__table gc__ttable = {
    gc__tkeys, sizeof gc__tkeys[0], GC_TOPIC_KEY_COUNT, offsetof(gc__tkey, type), offsetof(gc__tkey, offset),
};

/* compression.type's values and Kafka's codec ids for them (bits 0-2 of a
 * batch's attributes, which protocol/gp_compress.h calls GP_CODEC_*). */
static const struct {
    const char *name;
    int codec;
} gc__codecs[] = {
    {"producer", -1}, {"uncompressed", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4},
};

static int gc__tfail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gc__tfail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void *gc__tfield(const gc_topic_config *cfg, size_t i)
{
    return (char *)cfg + gc__tkeys[i].offset;
}

static bool gc__towns(size_t i)
{
    return gc__type_owns(gc__tkeys[i].type);
}

/* Store v (owned by cfg from now on) in key i's field. */
static void gc__tstore(gc_topic_config *cfg, size_t i, const gc__val *v)
{
    gc__field_store(gc__tkeys[i].type, gc__tfield(cfg, i), v);
    cfg->isnull[i] = false;
}

/* Whether a comma-joined list has the item word. */
static bool gc__list_has(const char *list, const char *word)
{
    size_t wlen = strlen(word);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == wlen && memcmp(p, word, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* A throttled-replicas list as Kafka's ThrottledReplicaListValidator takes
 * it: "*" alone, or partitionId:brokerId items. */
static bool gc__throttled_ok(const char *list)
{
    if (strcmp(list, "*") == 0)
        return true;
    for (const char *p = list; *p;) {
        size_t a = strspn(p, "0123456789");
        if (a == 0 || p[a] != ':')
            return false;
        p += a + 1;
        size_t b = strspn(p, "0123456789");
        if (b == 0 || (p[b] != ',' && p[b] != '\0'))
            return false;
        p += b + (p[b] == ',');
    }
    return true;
}

/* What Kafka checks beyond a key's type and range, and what Gregor refuses
 * on its own. Returns 0, or -1 with the reason in why. */
static int gc__tcheck(size_t i, const gc__val *v, char *why, size_t wlen)
{
    switch (i) {
    case GC_T_compression_gzip_level:
        if (v->n == 0) {
            snprintf(why, wlen, "must be between 1 and 9, or -1");
            return -1;
        }
        return 0;
    case GC_T_leader_replication_throttled_replicas:
    case GC_T_follower_replication_throttled_replicas:
        if (!gc__throttled_ok(v->s)) {
            snprintf(why, wlen,
                     "%s must be the literal '*' or a list of replicas in the following format: "
                     "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
                     gc__tkeys[i].info.name);
            return -1;
        }
        return 0;
    case GC_T_remote_storage_enable:
        if (v->b) {
            snprintf(why, wlen, "Gregor has no tiered storage");
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* Parse text as a value of key i (trimmed first, as Kafka's ConfigDef
 * does) into v, or explain in why what is wrong with it. */
static int gc__tparse(size_t i, const char *text, gc__val *v, char *why, size_t wlen)
{
    const gc__tkey *k = &gc__tkeys[i];
    const gc__spec spec = {k->type, k->min, k->max, k->choices};
    const char *b = text, *e = text + strlen(text);
    gc__trim(&b, &e);
    char *s = gc__strndup(b, (size_t)(e - b));
    int rc = gc__parse(&spec, s, v, why, wlen) < 0 ? -1 : 0;
    free(s);
    if (rc == 0 && gc__tcheck(i, v, why, wlen) < 0) {
        if (gc__towns(i))
            free(v->s);
        rc = -1;
    }
    return rc;
}

static int gc__broker_find(const char *name)
{
    for (size_t i = 0; i < gc_config_key_count(); i++)
        if (strcmp(gc_config_key(i)->name, name) == 0)
            return (int)i;
    return -1;
}

/*
 * The value key i takes when the topic does not set it. As Kafka's
 * LogConfig takes its defaults from KafkaConfig, that is the broker key's
 * value; the broker's retention and roll times come from the helpers that
 * weigh log.retention.{ms,minutes,hours} and log.roll.{ms,hours}. The
 * table's own default serves when the broker has no such key, the broker
 * value is null (log.flush.interval.ms), or it does not pass the topic
 * key's checks: min.insync.replicas and unclean.leader.election.enable are
 * broker keys Gregor accepts with any value.
 */
static void gc__tdefault(gc_topic_config *cfg, const gc_config *broker, size_t i)
{
    const gc__tkey *k = &gc__tkeys[i];
    char buf[1024], why[256];
    const char *text = NULL;
    gc__val v;
    if (i == GC_T_retention_ms) {
        snprintf(buf, sizeof buf, "%" PRId64, gc_config_retention_ms(broker));
        text = buf;
    } else if (i == GC_T_segment_ms) {
        snprintf(buf, sizeof buf, "%" PRId64, gc_config_roll_ms(broker));
        text = buf;
    } else if (k->info.broker_key) {
        int b = gc__broker_find(k->info.broker_key);
        text = b < 0 ? NULL : gc_config_value_text(broker, (size_t)b, buf, sizeof buf);
    }
    if (!text || gc__tparse(i, text, &v, why, sizeof why) < 0) {
        int rc = gc__tparse(i, k->def, &v, why, sizeof why);
        assert(rc == 0 && "a default in gc_topic_keys.def does not pass its own checks");
        (void)rc;
    }
    gc__tstore(cfg, i, &v);
}

/* Apply the overrides to a cfg that holds the defaults. Names are checked
 * first, as Kafka's validateNames does, then the value each key ends with
 * (the last of duplicates: the others are never looked at, as in Kafka's
 * map of them); then the checks between keys. */
static int gc__tapply(gc_topic_config *cfg, const gc_kv *overrides, size_t n, char *err, size_t errlen)
{
    size_t last[GC_TOPIC_KEY_COUNT];
    char why[512];
    for (size_t j = 0; j < n; j++) {
        const char *key = overrides[j].key;
        int i = key ? gc_topic_key_find(key, strlen(key)) : -1;
        if (i < 0)
            return gc__tfail(err, errlen, "Unknown topic config name: %s", key ? key : "null");
        last[i] = j;
    }
    for (size_t j = 0; j < n; j++) {
        const gc_kv *kv = &overrides[j];
        size_t i = (size_t)gc_topic_key_find(kv->key, strlen(kv->key));
        if (last[i] != j || !kv->value)
            continue;
        gc__val v;
        if (gc__tparse(i, kv->value, &v, why, sizeof why) < 0)
            return gc__tfail(err, errlen, "Invalid value %s for configuration %s: %s", kv->value,
                             gc__tkeys[i].info.name, why);
        gc__tstore(cfg, i, &v);
        cfg->overridden[i] = true;
    }
    if (cfg->min_compaction_lag_ms > cfg->max_compaction_lag_ms)
        return gc__tfail(err, errlen,
                         "conflict topic config setting min.compaction.lag.ms (%" PRId64
                         ") > max.compaction.lag.ms (%" PRId64 ")",
                         cfg->min_compaction_lag_ms, cfg->max_compaction_lag_ms);
    return 0;
}

int gc_topic_config_resolve(gc_topic_config *cfg, const gc_config *broker, const gc_kv *overrides, size_t n, char *err,
                            size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < GC_TOPIC_KEY_COUNT; i++)
        gc__tdefault(cfg, broker, i);
    if (gc__tapply(cfg, overrides, n, err, errlen) < 0) {
        gc_topic_config_free(cfg);
        return -1;
    }
    return 0;
}

/* gc_topic_config_free(), gc_topic_key_count(), gc_topic_key() */
GC__TABLE_ACCESSORS(gc__ttable, gc_topic_config, gc_topic_key_info, gc_topic_config_free, gc_topic_key_count,
                    gc_topic_key)

int gc_topic_key_find(const char *name, size_t len)
{
    return gc__table_find(&gc__ttable, name, len);
}

const char *gc_topic_value_text(const gc_topic_config *cfg, size_t i, char *buf, size_t len)
{
    if (i >= GC_TOPIC_KEY_COUNT || cfg->isnull[i])
        return NULL;
    return gc__field_text(gc__tkeys[i].type, gc__tfield(cfg, i), buf, len);
}

bool gc_topic_compacted(const gc_topic_config *cfg)
{
    return gc__list_has(cfg->cleanup_policy, "compact");
}

bool gc_topic_deletes(const gc_topic_config *cfg)
{
    return gc__list_has(cfg->cleanup_policy, "delete");
}

bool gc_topic_log_append_time(const gc_topic_config *cfg)
{
    return cfg->message_timestamp_type && strcmp(cfg->message_timestamp_type, "LogAppendTime") == 0;
}

int gc_topic_codec(const gc_topic_config *cfg)
{
    for (size_t i = 0; cfg->compression_type && i < sizeof gc__codecs / sizeof gc__codecs[0]; i++)
        if (strcmp(gc__codecs[i].name, cfg->compression_type) == 0)
            return gc__codecs[i].codec;
    return -1;
}
