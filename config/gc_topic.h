/*
 * Topic-level configuration: Kafka's topic config keys (retention.ms,
 * segment.bytes, cleanup.policy, ...), each with the broker key that gives
 * its default (log.retention.ms, log.segment.bytes, log.cleanup.policy, ...)
 * as Kafka's LogConfig does. Declared once in config/gc_topic_keys.def;
 * CreateTopics validation, the effective values the log uses and
 * DescribeConfigs all read that table.
 */
#ifndef GC_TOPIC_H
#define GC_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/gc_config.h"

/* Topic key flags. */
#define GC_TF_IGNORED 1 /* accepted (Kafka has it) but no effect in Gregor */

/* Topic key ids, in table order: GC_T_cleanup_policy, ... */
enum gc_topic_key_id {
#define GC_TOPIC_KEY(field, ...) GC_T_##field,
#include "config/gc_topic_keys.def"
#undef GC_TOPIC_KEY
    GC_TOPIC_KEY_COUNT
};

/* The effective configuration of one topic: one field per key (same C
 * types as gc_config: int32_t, int64_t, bool, owned char *). */
typedef struct gc_topic_config {
#define GC_TOPIC_KEY(field, name, type, ...) GC_CTYPE_##type field;
#include "config/gc_topic_keys.def"
#undef GC_TOPIC_KEY
    bool overridden[GC_TOPIC_KEY_COUNT]; /* set by the topic itself */
    bool isnull[GC_TOPIC_KEY_COUNT];
} gc_topic_config;

/* One override, as CreateTopics/AlterConfigs or the topic store carry it. */
typedef struct gc_kv {
    const char *key;
    const char *value; /* NULL: Kafka's null (use the default) */
} gc_kv;

/* Fill cfg with the broker's defaults, then apply and validate the
 * overrides. Returns 0, or -1 with a message in err that names the key
 * (Kafka's words where it has them: "Unknown topic config name: x",
 * "Invalid value y for configuration x: ..."); cfg then owns nothing. */
int gc_topic_config_resolve(gc_topic_config *cfg, const gc_config *broker, const gc_kv *overrides, size_t n,
                            char *err, size_t errlen);
void gc_topic_config_free(gc_topic_config *cfg);

/* Introspection for DescribeConfigs. */
typedef struct gc_topic_key_info {
    const char *name;        /* retention.ms */
    const char *type;        /* Kafka's type name: int, long, boolean, string, list, double, class, password */
    const char *broker_key;  /* the broker key that gives the default (log.retention.ms), or NULL */
    const char *doc;
    int flags;
} gc_topic_key_info;

size_t gc_topic_key_count(void);
const gc_topic_key_info *gc_topic_key(size_t i);
/* -1 when name is not a topic config key. */
int gc_topic_key_find(const char *name, size_t len);
/* The value of key i in cfg as Kafka shows it, in buf; NULL when null. */
const char *gc_topic_value_text(const gc_topic_config *cfg, size_t i, char *buf, size_t len);

/* Helpers for the log and the handlers. */
bool gc_topic_compacted(const gc_topic_config *cfg);   /* cleanup.policy has compact */
bool gc_topic_deletes(const gc_topic_config *cfg);     /* cleanup.policy has delete */
bool gc_topic_log_append_time(const gc_topic_config *cfg);
/* compression.type as a GP_CODEC_* value, or -1 for "producer". */
int gc_topic_codec(const gc_topic_config *cfg);

#endif
