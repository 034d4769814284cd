/*
 * Group configs: the keys Kafka 4.4 lets AlterConfigs set on a GROUP
 * resource (its GroupConfig: consumer.session.timeout.ms, share.*,
 * streams.*, errors.deadletterqueue.*), each with the broker key that gives
 * its default (group.consumer.session.timeout.ms, ...) and the broker keys
 * that bound it (group.consumer.min/max.session.timeout.ms, ...), checked
 * with Kafka's messages and in Kafka's order.
 *
 * Gregor has only classic groups, which take their session timeout from
 * JoinGroup, as in Kafka: these values are kept and described, and change
 * nothing else.
 */
#ifndef GC_GROUP_H
#define GC_GROUP_H

#include <stddef.h>

#include "config/gc_config.h"
#include "config/gc_topic.h"

typedef struct gc_group_key_info {
    const char *name;
    const char *type;         /* Kafka's type name: int, boolean, string, list */
    const char *broker_key;   /* the broker key that gives the default, or NULL */
    const char *default_text; /* the default when broker_key is NULL */
    const char *doc;
} gc_group_key_info;

size_t gc_group_key_count(void);
const gc_group_key_info *gc_group_key(size_t i); /* NULL when out of range */
int gc_group_key_find(const char *name);         /* index, or -1 */

/* Check a group's whole set of overrides (n entries, values non-NULL)
 * against the broker configuration cfg (the bounds): unknown keys, then
 * every value's type and lower limit, then the bounds. Returns 0, or -1
 * with Kafka's message in msg (all INVALID_CONFIG). */
int gc_group_config_check(const gc_config *cfg, const gc_kv *kv, size_t n, char *msg, size_t len);

/* The text Kafka keeps and describes for a value that passed the check:
 * numbers and booleans normalised, strings and list items trimmed. */
const char *gc_group_value_canonical(size_t i, const char *value, char *buf, size_t len);

/* Key i's default under cfg: the broker key's value, else the table's. */
const char *gc_group_default_text(const gc_config *cfg, size_t i, char *buf, size_t len);

#endif
