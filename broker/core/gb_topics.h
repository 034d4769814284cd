/*
 * Topics and partitions: the registry the handlers use, kept on disk in
 * Kafka's layout plus one file of Gregor's own.
 *
 *   <log.dirs>/<topic>-<n>/                   a partition log (storage/gs_log)
 *   <log.dirs>/<topic>-<n>/partition.metadata the topic id, in Kafka's format
 *   <log.dirs>/gregor-topics.properties       topic ids, partition counts and
 *                                             config overrides (Kafka keeps these
 *                                             in its metadata log)
 *   <log.dirs>/recovery-point-offset-checkpoint, log-start-offset-checkpoint
 *   <log.dirs>/.kafka_cleanshutdown           present after a clean stop
 *
 * The store is the broker's metadata, as Kafka's metadata log is Kafka's:
 * a topic exists once the store lists it durably, and CreateTopics and
 * CreatePartitions answer only then (gb_topics_persist_result). A partition
 * directory that the store does not list (a crash between creating it and
 * writing the store: never answered as created) is set aside at startup as
 * Kafka sets aside a stray log, renamed <topic>-<p>.<hex>-stray, and not
 * loaded. Only a data directory with no store at all (one from Kafka) has
 * its partition directories adopted, with the broker's default configs.
 *
 * Descriptors: each partition holds one (its active segment's .log); its
 * closed segments hold none outside storage's bounded cache of open
 * segments (gregor.log.open.segments.max).
 */
#ifndef GB_TOPICS_H
#define GB_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/core/gb_append_part.h"
#include "broker/core/gb_broker.h"
#include "broker/core/gb_cache.h"
#include "broker/core/gb_cleaner.h"
#include "broker/core/gb_fetch_waiters.h"
#include "broker/core/gb_flusher.h"
#include "config/gc_topic.h"
#include "protocol/gp_codec.h"
#include "storage/gs_log.h"
#include "storage/gs_pstate.h"

typedef struct gb_topic gb_topic;

typedef struct gb_partition {
    gb_topic *topic;
    int32_t index;
    gs_log *log;
    gs_pstate *pstate;      /* idempotent producers' state (snapshots at each roll) */
    int64_t recovery_point; /* the segments below, indexes too, are on disk:
                             * what recovery-point-offset-checkpoint says */
    /* The state of the services that keep some per partition, each owned
     * by its module (topics does not look inside). */
    gb_flush_state flush;          /* core/gb_flusher */
    gb_fetch_waiters_part waiters; /* core/gb_fetch_waiters */
    gb_cache_part cache;           /* core/gb_cache */
    gb_cleaner_part cleaner;       /* core/gb_cleaner */
    gb_append_part append;         /* core/gb_append */
} gb_partition;

struct gb_topic {
    char *name;
    size_t name_len;
    gp_uuid id;
    char id_text[23];
    int32_t npartitions;
    gb_partition **partitions;
    /* CreateTopics and CreatePartitions that wait for the topic store:
     * while hiding > 0, clients see only the first `visible` partitions
     * (none: the topic is being created). So nothing is produced to what a
     * failed store write undoes. gb_topic_visible() says how many. */
    int hiding;
    int32_t visible;
    gc_topic_config cfg; /* effective values */
    gc_kv *overrides;    /* as given, owned */
    size_t noverrides;
    bool internal; /* gb_topic_name_is_internal() */
    gb_topic *hash_next;
};

/* Load the topic store and every partition log (recovering them after an
 * unclean stop, and logging what recovery did). Returns 0 or -1 with err. */
int gb_topics_open(gb_broker *b, char *err, size_t errlen);

/* Clean stop: close every log (trimming indexes), write the checkpoints and
 * the clean-shutdown marker. */
void gb_topics_close(gb_broker *b);

gb_topic *gb_topic_find(gb_broker *b, const char *name, size_t len);
gb_topic *gb_topic_find_id(gb_broker *b, const gp_uuid *id);

/* A partition as clients see it: NULL past gb_topic_visible(). */
gb_partition *gb_topic_partition(gb_topic *t, int32_t index);

/* Every opened partition, visible to clients or not (the broker's own
 * services: checkpoints, the cleaner). */
gb_partition *gb_topic_partition_opened(gb_topic *t, int32_t index);

/* The partitions clients see: all but those a creation still waiting for
 * the topic store made. */
int32_t gb_topic_visible(const gb_topic *t);

/* A topic as admin requests see it: NULL while it is being created (no
 * partition visible yet), as if it did not exist. */
gb_topic *gb_topic_find_visible(gb_broker *b, const char *name, size_t len);

/* A creation from partition `from` on waits for the topic store: hide it. */
void gb_topic_hide_from(gb_topic *t, int32_t from);

/* That wait ended: partitions below `upto` may be seen (the creation's
 * count if the store was written, its `from` if it was undone). */
void gb_topic_reveal(gb_topic *t, int32_t upto);

/* Whether Kafka calls a topic of this name internal (Topic.isInternal: its
 * own topics, by name; "__foo" made by a user is not), which is what
 * is_internal answers in Metadata, for unknown topics too. */
bool gb_topic_name_is_internal(const char *name, size_t len);

/* Every topic, in name order (an arena array). */
gb_topic **gb_topics_list(gb_broker *b, gp_arena *a, size_t *n);

/* Create a topic: checks the name (INVALID_TOPIC_EXCEPTION), existence
 * (TOPIC_ALREADY_EXISTS), partitions (INVALID_PARTITIONS) and configs
 * (INVALID_CONFIG); with validate_only nothing is created. On failure
 * *kafka_error is the error and msg says why. partitions -1 means
 * num.partitions. */
int gb_topic_create(gb_broker *b, const char *name, size_t len, int32_t partitions, const gc_kv *overrides, size_t n,
                    bool validate_only, gb_topic **out, int16_t *kafka_error, char *msg, size_t msglen);

/* Auto-creation (Metadata, Produce): when auto.create.topics.enable, the
 * name is valid and the topic does not exist, create it with the defaults.
 * Returns the topic or NULL. */
gb_topic *gb_topic_auto_create(gb_broker *b, const char *name, size_t len);

/* Delete a topic: parked fetches on it are woken, its directories renamed
 * for deletion (Kafka's `-delete` names) and removed on the threadpool once
 * the store no longer lists it. */
int gb_topic_delete(gb_broker *b, gb_topic *t);

/* Grow a topic to `total` partitions (CreatePartitions). */
int gb_topic_add_partitions(gb_broker *b, gb_topic *t, int32_t total, bool validate_only, int16_t *kafka_error,
                            char *msg, size_t msglen);

/* Undo a creation that the topic store could not record (see
 * gb_topics_persist_result): partitions [from, npartitions) are closed and
 * their directories removed; from 0 removes the topic (t is freed). */
void gb_topic_undo_create(gb_broker *b, gb_topic *t, int32_t from);

/* Replace a topic's config overrides (AlterConfigs) after validation. */
int gb_topic_set_overrides(gb_broker *b, gb_topic *t, const gc_kv *overrides, size_t n, int16_t *kafka_error, char *msg,
                           size_t msglen);

/* After the broker's configuration changed (dynamic broker configs):
 * every topic's effective configuration again, from its overrides and the
 * new defaults, applied to its partition logs at once. A topic whose
 * overrides do not resolve against the new defaults keeps its old values. */
void gb_topics_reconfigure(gb_broker *b);

/* Rewrite the topic store (after a change). The write and its fsync run
 * off the loop thread; done(arg) runs on the loop when it is durable. */
void gb_topics_persist(gb_broker *b, void (*done)(void *arg), void *arg);

/* gb_topics_persist telling done the result: 0 once the store holds every
 * change made before this call and is durable, or the write's negative
 * errno (the file on disk is then the one before: it is replaced by a
 * rename only once written and synced). */
void gb_topics_persist_result(gb_broker *b, void (*done)(void *arg, int rc), void *arg);

/* The log configuration a topic's config implies. */
void gb_topic_log_config(const gb_topic *t, gs_log_config *out);

/* Write recovery-point-offset-checkpoint (recovery: after making the
 * segments rolled since the last time durable, indexes included) or
 * log-start-offset-checkpoint, off the loop thread; a call while the last
 * one of its kind is still running is skipped (the broker's timers). */
void gb_topics_checkpoint(gb_broker *b, bool recovery);

/* Write log-start-offset-checkpoint as gb_topics_checkpoint does, from a
 * job that starts after this call (a job already running may have taken
 * its values before the caller's change, so another follows it); then
 * done(arg, rc) on the loop thread, rc 0 once the file is durable or the
 * write's negative errno. */
void gb_topics_checkpoint_start_offsets(gb_broker *b, void (*done)(void *arg, int rc), void *arg);

/* DeleteRecords: raise p's log start offset to `offset` (never down),
 * deleting the whole segments below it on the loop thread as retention
 * does (gs_log_advance_start) and dropping the producer state below it.
 * -ERANGE if offset is above the log end offset; a negative errno if a
 * roll failed (the log start offset has moved even then). The caller makes
 * the new offset durable with gb_topics_checkpoint_start_offsets. */
int gb_partition_delete_records(gb_partition *p, int64_t offset);

/* Retention and segment.ms rolls for every partition (the broker's timer);
 * producer state below the new log start offsets goes, and producers idle
 * for producer.id.expiration.ms are forgotten. */
void gb_topics_retain(gb_broker *b, int64_t now_ms);

#endif
