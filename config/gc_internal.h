/*
 * Internals shared by the files of config/: the value types of the key
 * tables (gc_keys.def, gc_topic_keys.def) and the one parser every value of
 * either table goes through, so that a broker key and its topic synonym
 * accept exactly the same text. Not for other modules.
 */
#ifndef GC_INTERNAL_H
#define GC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The type column of the key tables. */
enum { GC_T_INT, GC_T_LONG, GC_T_SHORT, GC_T_BOOL, GC_T_STRING, GC_T_LIST, GC_T_DOUBLE };

/* Kafka's name of each type, as DescribeConfigs and --help show it. */
#define GC__TNAME_INT "int"
#define GC__TNAME_LONG "long"
#define GC__TNAME_SHORT "short"
#define GC__TNAME_BOOL "boolean"
#define GC__TNAME_STRING "string"
#define GC__TNAME_LIST "list"
#define GC__TNAME_DOUBLE "double"

/* No bound beyond the type's own range (the min/max columns). */
#define GC_NOMIN INT64_MIN
#define GC_NOMAX INT64_MAX

/* What a value of one key must be: a GC_T_* type, bounds for numbers
 * (doubles compare against them too), and the ", "-separated values a
 * STRING, or each item of a LIST, may take (or NULL for any). */
typedef struct gc__spec {
    int type;
    int64_t min, max;
    const char *choices;
} gc__spec;

/* A parsed value: n for the integer types, d, b, or an owned s for STRING
 * and LIST (a list as its trimmed, non-empty items joined by ','). */
typedef union gc__val {
    int64_t n;
    double d;
    bool b;
    char *s;
} gc__val;

char *gc__strndup(const char *s, size_t n);

/* Java's String.trim() of [*b, *e). */
void gc__trim(const char **b, const char **e);

/* Parse an already trimmed value as Kafka's ConfigDef would. Returns 0, or
 * a negative error code with the reason ("must be at least 1") in why. */
int gc__parse(const gc__spec *spec, const char *s, gc__val *v, char *why, size_t wlen);

/* A double as Java's Double.toString() writes it: 0.5, 1.0, 1.0E-4. */
const char *gc__double_text(double d, char *buf, size_t len);

/* The fields of the broker's and the topics' config structs, by GC_T_*
 * type: does the type own a string, free one, store a value, write it as Kafka
 * prints it (into buf, which is returned). */
bool gc__type_owns(int type);
void gc__field_free(int type, void *field);
/* Store *v (owned by the field from now on, a string replacing and freeing
 * the old one); NULL v stores zero or a null string. */
void gc__field_store(int type, void *field, const gc__val *v);
const char *gc__field_text(int type, const void *field, char *buf, size_t len);

/* A key table as the generic code sees it: count entries of size bytes
 * from first, each starting with its public info (whose first member is
 * the key's name) and holding its GC_T_* type (an int at type_at) and the
 * offset of its field in the config struct (a size_t at offset_at). The
 * broker's table (gc_config.c) and the topics' (gc_topic.c) are both read
 * through it. */
typedef struct gc__table {
    const void *first;
    size_t size, count;
    size_t type_at, offset_at;
} gc__table;

/* Entry i's public info, or NULL when i is out of range. */
const void *gc__table_info(const gc__table *t, size_t i);
/* The index of the key named name[0..len), or -1 (also for a NULL name). */
int gc__table_find(const gc__table *t, const char *name, size_t len);
/* Free the owned fields of cfg (a config struct of the table, cfg_size
 * bytes) and zero it. */
void gc__table_free(const gc__table *t, void *cfg, size_t cfg_size);

/* The public accessors every key table has, defined once for both:
 * free_fn(cfg) frees and zeroes a config struct, count_fn() is the number
 * of keys, key_fn(i) key i's public info (NULL when out of range). */
#define GC__TABLE_ACCESSORS(table, cfg_type, info_type, free_fn, count_fn, key_fn)                                     \
    void free_fn(cfg_type *cfg)                                                                                        \
    {                                                                                                                  \
        gc__table_free(&(table), cfg, sizeof *cfg);                                                                    \
    }                                                                                                                  \
    size_t count_fn(void)                                                                                              \
    {                                                                                                                  \
        return (table).count;                                                                                          \
    }                                                                                                                  \
    const info_type *key_fn(size_t i)                                                                                  \
    {                                                                                                                  \
        return gc__table_info(&(table), i);                                                                            \
    }

#endif
