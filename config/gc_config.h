/*
 * Gregor's configuration: Kafka's broker keys, read from defaults, a Java
 * properties file, KAFKA_* environment variables (as the apache/kafka image
 * reads them) and --override key=value, in increasing precedence. Every key
 * is declared once in config/gc_keys.def; the struct fields, the parser,
 * --help, docs/configuration.md and introspection are all driven by it.
 * Nothing here logs: failures come back as a one-line message.
 */
#ifndef GC_CONFIG_H
#define GC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Key flags. */
#define GC_F_IGNORED 1 /* accepted for compatibility, no effect on a single node */
#define GC_F_DYNAMIC 2 /* Kafka lets IncrementalAlterConfigs change it at run time */

/* The C type of each key type. Strings and lists are owned, NUL-terminated
 * and NULL when the value is Kafka's null; a list is kept as its trimmed
 * items joined by ','. */
#define GC_CTYPE_INT int32_t
#define GC_CTYPE_LONG int64_t
#define GC_CTYPE_SHORT int16_t
#define GC_CTYPE_BOOL bool
#define GC_CTYPE_STRING char *
#define GC_CTYPE_LIST char *
#define GC_CTYPE_DOUBLE double

/* Key ids, in table order: GC_K_node_id, GC_K_listeners, ... */
enum gc_key_id {
#define GC_KEY(field, ...) GC_K_##field,
#include "config/gc_keys.def"
#undef GC_KEY
    GC_KEY_COUNT
};

/* Where a value came from, lowest precedence first. The dynamic ones are
 * set at run time through the admin API (gc_config_set_dynamic): the
 * cluster-wide default, then this node's own value. */
enum { GC_SRC_DEFAULT, GC_SRC_FILE, GC_SRC_ENV, GC_SRC_OVERRIDE, GC_SRC_DYNAMIC_DEFAULT, GC_SRC_DYNAMIC_BROKER };

/* One field per key. A number whose value is null (log.retention.ms unset,
 * say) has isnull set and its field 0; use the helpers below for keys whose
 * meaning depends on others. */
typedef struct gc_config {
#define GC_KEY(field, name, type, ...) GC_CTYPE_##type field;
#include "config/gc_keys.def"
#undef GC_KEY
    uint8_t source[GC_KEY_COUNT]; /* GC_SRC_* */
    bool isnull[GC_KEY_COUNT];
} gc_config;

typedef void (*gc_warn_fn)(void *ud, const char *msg);

/* Fill cfg from defaults < properties file (path may be NULL) < environment
 * (envp, a NULL-terminated "K=V" array, may be NULL) < overrides ("key=value").
 * Returns 0, or -1 with a one-line message in err naming the key and, for
 * the file, "path:line"; cfg then owns nothing. Environment variables naming
 * unknown keys are skipped with a message to warn, if non-NULL. */
int gc_config_load(gc_config *cfg, const char *path, char *const *envp, int noverrides, char *const *overrides,
                   gc_warn_fn warn, void *ud, char *err, size_t errlen);

/* Free the owned strings; cfg may be loaded, failed or zeroed. */
void gc_config_free(gc_config *cfg);

/* For `gregor --help`: key, type, default, valid values, then the doc. */
void gc_config_print_help(FILE *out);

/* The content of docs/configuration.md. */
void gc_config_print_markdown(FILE *out);

/* Introspection, for DescribeConfigs. type is Kafka's name: int, long,
 * short, boolean, string, list, double. default_text is NULL for a null
 * default. */
typedef struct gc_key_info {
    const char *name;
    const char *type;
    const char *default_text;
    const char *doc;
    int flags;
} gc_key_info;

size_t gc_config_key_count(void);
const gc_key_info *gc_config_key(size_t i); /* NULL when i is out of range */

/* Value of key i as Kafka shows it, in buf; returns buf, or NULL when the
 * value is null (or i is out of range). */
const char *gc_config_value_text(const gc_config *cfg, size_t i, char *buf, size_t len);
int gc_config_value_source(const gc_config *cfg, size_t i);

/* The index of key name, or -1. */
int gc_config_key_find(const char *name);

/* A deep copy of src into dst (which owns nothing before). */
void gc_config_copy(gc_config *dst, const gc_config *src);

/* Set key i from text at run time, as source src (GC_SRC_DYNAMIC_*).
 * Returns 0, or -1 with the reason ("not an integer") in why; cfg is then
 * unchanged. */
int gc_config_set_dynamic(gc_config *cfg, size_t i, const char *text, int src, char *why, size_t wlen);

/* Make dst equal to src, replacing only the fields whose value, nullness or
 * source differ (a string another module holds a pointer to stays valid
 * unless its key changed); then free src. */
void gc_config_take_changes(gc_config *dst, gc_config *src);

/* The one data directory: log.dirs when set, else log.dir. */
const char *gc_config_log_dir(const gc_config *cfg);

/* Retention and roll time in ms, with Kafka's precedence: log.retention.ms >
 * log.retention.minutes > log.retention.hours, and log.roll.ms >
 * log.roll.hours. Retention is -1 (unlimited) when negative. */
int64_t gc_config_retention_ms(const gc_config *cfg);
int64_t gc_config_roll_ms(const gc_config *cfg);

#endif
