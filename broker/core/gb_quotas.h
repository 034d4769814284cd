/*
 * Client quotas (KIP-13, KIP-55, KIP-546): the table AlterClientQuotas
 * writes and DescribeClientQuotas reads, kept in
 * <log.dirs>/gregor-client-quotas.properties (storage/gs_quotas), and the
 * byte rates Produce and Fetch are measured against.
 *
 * An entity is a set of (type, name) pairs, types user, client-id and ip; a
 * NULL name is the type's default entity. Without authentication every
 * client is Kafka's principal User:ANONYMOUS, so quotas of user
 * "ANONYMOUS" and of the default user apply to all of them.
 *
 * Which quota applies to a (user, client-id) is Kafka's order, most
 * specific first, for each key on its own: user+client-id, user+default
 * client, user, default user+client-id, default user+default client,
 * default user, client-id, default client. The entity found also says who
 * shares one measured rate (Kafka's metric tags): a quota on a user alone
 * is shared by all its clients, one on user+client-id (or any default
 * client) is counted per client id.
 */
#ifndef GB_QUOTAS_H
#define GB_QUOTAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_broker.h"
#include "storage/gs_quotas.h"

#define GB_QUOTA_ANONYMOUS "ANONYMOUS" /* the user of an unauthenticated client */

/* The keys, as Kafka's QuotaConfig defines them. */
enum gb_quota_key {
    GB_QK_PRODUCER_BYTE_RATE,
    GB_QK_CONSUMER_BYTE_RATE,
    GB_QK_REQUEST_PERCENTAGE,
    GB_QK_CONTROLLER_MUTATION_RATE,
    GB_QK_CONNECTION_CREATION_RATE,
    GB_QK_COUNT
};

enum gb_quota_value_type { GB_QV_LONG, GB_QV_INT, GB_QV_DOUBLE };

typedef struct gb_quota_key_info {
    const char *name;
    enum gb_quota_value_type type;
    bool ip; /* a key of ip entities (the others are user/client-id keys) */
} gb_quota_key_info;

extern const gb_quota_key_info gb_quota_keys[GB_QK_COUNT];

/* The key named name[0..len), or -1. */
int gb_quota_key_find(const char *name, size_t len);

/* One entity and the values set on it (an entity with none is dropped). */
typedef struct gb_quota_entry {
    bool has[GS_QUOTA_NTYPES];
    char *name[GS_QUOTA_NTYPES]; /* NULL: the default entity */
    double value[GB_QK_COUNT];
    unsigned present; /* bit k: value[k] is set */
} gb_quota_entry;

/* Read the quota file: a malformed one stops startup. */
int gb_quotas_open(gb_broker *b, char *err, size_t errlen);
void gb_quotas_close(gb_broker *b);

/* The entities, in no particular order; i < gb_quotas_count. */
size_t gb_quotas_count(const gb_broker *b);
const gb_quota_entry *gb_quotas_entry(const gb_broker *b, size_t i);

/* Set (or, with remove, drop) one key of an entity (names NUL-terminated,
 * NULL for a default). Nothing is written until gb_quotas_persist. */
void gb_quotas_apply(gb_broker *b, const bool has[GS_QUOTA_NTYPES], const char *const name[GS_QUOTA_NTYPES],
                     int key, bool remove, double value);

/* Write the table (off the loop thread); done(arg) runs once what was
 * applied before this call is on disk, or failed to be (logged). */
void gb_quotas_persist(gb_broker *b, void (*done)(void *arg), void *arg);

/* Record a value against key (bytes for GB_QK_PRODUCER_BYTE_RATE and
 * GB_QK_CONSUMER_BYTE_RATE, percent-seconds of handler time for
 * GB_QK_REQUEST_PERCENTAGE) for the client (client_id NULL-able, not
 * NUL-terminated) and return the throttle time in ms: 0 when no quota
 * applies or the client is within it. A request-time throttle is at most
 * one window (quota.window.size.seconds), as Kafka bounds it. */
int32_t gb_quotas_record(gb_broker *b, int key, const char *client_id, size_t client_len, double bytes);
/* The throttle time the client is in for key now, recording nothing. */
int32_t gb_quotas_throttle(gb_broker *b, int key, const char *client_id, size_t client_len);
/* controller_mutation_rate (KIP-599): may the client create or delete
 * `partitions` partitions now? strict (CreateTopics v6+, CreatePartitions
 * v3+, DeleteTopics v5+): refused, false, while the client's bucket is
 * below zero; else they count, even past zero. Not strict: always true,
 * they count. *throttle_ms is raised to the throttle time of a refusal or
 * of a non-strict count that leaves the bucket below zero, as Kafka sets
 * it. */
bool gb_quotas_mutate(gb_broker *b, const char *client_id, size_t client_len, double partitions, bool strict,
                      int32_t *throttle_ms);

/* The most bytes a Fetch may answer with under the client's
 * consumer_byte_rate, as Kafka caps it: quota * (quota.window.num - 1) *
 * quota.window.size.seconds (the first batch still goes out whole);
 * INT64_MAX without a quota. */
int64_t gb_quotas_fetch_cap(gb_broker *b, const char *client_id, size_t client_len);
/* Is any quota of this key set? The hot paths ask first, so that a broker
 * without quotas pays nothing for them. */
bool gb_quotas_any(const gb_broker *b, int key);
/* Take back bytes recorded (a throttled Fetch answers without its data). */
void gb_quotas_unrecord(gb_broker *b, int key, const char *client_id, size_t client_len, double bytes);

/* KIP-612: the connection_creation_rate quota of the IP address ip (text,
 * as inet_ntop writes it): the ip entity of that address, else the default
 * ip entity; -1 when neither sets it. Connections per second. */
int64_t gb_quotas_ip_connection_rate(const gb_broker *b, const char *ip);

#endif
