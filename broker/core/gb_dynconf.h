/*
 * Dynamic broker configuration: the broker keys that Kafka lets an admin
 * change at run time (GC_F_DYNAMIC in config/gc_keys.def), set through
 * AlterConfigs / IncrementalAlterConfigs on the BROKER resource, either for
 * this node (resource name = node.id) or as the cluster-wide default
 * (resource name ""). Precedence, as Kafka's DynamicBrokerConfig: this
 * node's value > the cluster default > the static configuration (file,
 * environment, --override) > the built-in default.
 *
 * The broker's effective configuration (b->cfg) is owned here once
 * gb_dynconf_open ran: the static one with both dynamic levels applied on
 * top; b->static_cfg keeps what the broker started with. A change updates
 * b->cfg in place (only the changed keys' fields), re-resolves every
 * topic's effective configuration (a topic without an override follows the
 * new default at once) and is written to
 *
 *   <log.dirs>/gregor-broker-configs.properties
 *       default/<key>=<value>     the cluster-wide defaults
 *       <node.id>/<key>=<value>   this node's values
 *
 * atomically, off the loop thread. Keys Gregor does not know are kept as
 * given (Kafka accepts them) and have no effect.
 */
#ifndef GB_DYNCONF_H
#define GB_DYNCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/core/gb_broker.h"
#include "config/gc_topic.h"

/* The two levels. */
enum { GB_DYN_DEFAULT, GB_DYN_NODE };

/* Load the file and build the effective configuration (b->cfg). A stored
 * value that no longer parses is dropped with a warning. Returns 0 or -1
 * with err. */
int gb_dynconf_open(gb_broker *b, char *err, size_t errlen);
void gb_dynconf_close(gb_broker *b);

/* The entries set at a level, in the order they were set. */
size_t gb_dynconf_count(gb_broker *b, int level);
const gc_kv *gb_dynconf_entry(gb_broker *b, int level, size_t i);
/* The value of key at a level, or NULL when not set there. */
const char *gb_dynconf_get(gb_broker *b, int level, const char *key);

/* Check that kv (n entries, every value non-NULL) can replace the whole set
 * of `level`: every known key parses. Returns 0, or -1 with Kafka's
 * message ("Invalid value x for configuration k: ...") in msg. */
int gb_dynconf_check(gb_broker *b, int level, const gc_kv *kv, size_t n, char *msg, size_t msglen);

/* Replace the set of `level` with kv (checked first by the caller), apply
 * it (b->cfg, then every topic) and persist it; done(arg) runs on the loop
 * once the file is durable. */
void gb_dynconf_replace(gb_broker *b, int level, const gc_kv *kv, size_t n, void (*done)(void *arg), void *arg);

/*
 * Group configs (AlterConfigs on a GROUP resource, config/gc_group): each
 * group's overrides, kept in <log.dirs>/gregor-group-configs.properties
 * (written the same way) whether or not the group exists, as Kafka keeps
 * them. They change nothing in Gregor's classic groups.
 */
/* The overrides of group name (len bytes), n of them; NULL when none. */
const gc_kv *gb_dynconf_group_get(gb_broker *b, const char *name, size_t len, size_t *n);
/* Replace the group's overrides with kv (checked by the caller; n == 0
 * removes them all) and persist them; done(arg) once durable. */
void gb_dynconf_group_replace(gb_broker *b, const char *name, size_t len, const gc_kv *kv, size_t n,
                              void (*done)(void *arg), void *arg);

#endif
