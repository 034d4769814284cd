/*
 * Kafka's small files of a log directory, besides the logs themselves and
 * meta.properties (gs_meta.h), in Kafka's formats so that Kafka reads them:
 *
 *   recovery-point-offset-checkpoint, log-start-offset-checkpoint
 *       "0\n<count>\n" then "<topic> <partition> <offset>\n" per partition
 *   .kafka_cleanshutdown
 *       present after a clean stop; removed once the logs are loaded
 *   <topic>-<partition>/partition.metadata
 *       "version: 0\ntopic_id: <Kafka Uuid text>\n"
 *
 * and what DescribeLogDirs tells of the directory itself: its path as Kafka
 * reports it and the space of its file system.
 */
#ifndef GS_DIRFILES_H
#define GS_DIRFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GS_RECOVERY_CHECKPOINT "recovery-point-offset-checkpoint"
#define GS_START_CHECKPOINT "log-start-offset-checkpoint"
#define GS_CLEAN_SHUTDOWN ".kafka_cleanshutdown"

/* ---- offset checkpoint files ---- */

typedef struct gs_checkpoint_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
} gs_checkpoint_entry;

typedef struct gs_checkpoint {
    gs_checkpoint_entry *e;
    size_t n;
} gs_checkpoint;

/* Read dir/name. A missing or unreadable file reads as no entries (every
 * partition is then recovered from its start, as Kafka does). */
void gs_checkpoint_read(const char *dir, const char *name, gs_checkpoint *cp);
/* The offset for (topic, partition), or -1. */
int64_t gs_checkpoint_get(const gs_checkpoint *cp, const char *topic, int32_t partition);
void gs_checkpoint_free(gs_checkpoint *cp);

/* Building a checkpoint file's text: begin with the entry count, add each
 * entry, then write it (atomically and durably) with gs_checkpoint_write. */
typedef struct gs_checkpoint_text {
    char *text;
    size_t len, cap;
} gs_checkpoint_text;

void gs_checkpoint_text_begin(gs_checkpoint_text *t, size_t count);
void gs_checkpoint_text_add(gs_checkpoint_text *t, const char *topic, int32_t partition, int64_t offset);
int gs_checkpoint_write(const char *dir, const char *name, const gs_checkpoint_text *t);
void gs_checkpoint_text_free(gs_checkpoint_text *t);

/* ---- the clean-shutdown marker ---- */

bool gs_clean_shutdown_marked(const char *dir);
/* Written last by a clean stop (atomic, durable); returns 0 or -errno. */
int gs_clean_shutdown_mark(const char *dir);
/* From then on a crash is an unclean stop. */
void gs_clean_shutdown_clear(const char *dir);

/* ---- partition.metadata ---- */

/* Write partition_dir/partition.metadata with the topic id's text. */
int gs_partition_metadata_write(const char *partition_dir, const char *topic_id_text);
/* The topic id's text (22 chars + NUL) from partition_dir/partition.metadata;
 * false when there is none. */
bool gs_partition_metadata_read(const char *partition_dir, char topic_id_text[23]);

/* Kafka's Uuid text (22 chars of unpadded base64url) to its 16 bytes;
 * 0, or -1 when it is not one. */
int gs_uuid_parse(const char *text, uint8_t uuid[16]);

/* ---- the log directory itself ---- */

/* The directory's path as Kafka reports it (java.io.File's
 * getAbsolutePath): a relative one resolved against the working directory,
 * repeated and trailing slashes dropped, "." and ".." left as they are.
 * Writes it, NUL-terminated, into out; returns its length, -ERANGE when
 * len is too small, or getcwd's negative errno. */
int gs_dir_absolute(const char *dir, char *out, size_t len);

/* The size of the file system holding dir and the bytes an unprivileged
 * writer may still use there (statvfs: f_blocks and f_bavail, in f_frsize
 * units, as Java's FileStore getTotalSpace and getUsableSpace; a product
 * beyond int64 reads as INT64_MAX, as Kafka's adjustForLargeFileSystems).
 * One metadata syscall, no I/O on the data. 0 or a negative errno. */
int gs_dir_space(const char *dir, int64_t *total_bytes, int64_t *usable_bytes);

/* A small properties file of Gregor's own (key=value lines, '#' comments,
 * no escapes): gregor-broker-configs.properties. Missing is empty. Returns
 * 0 with the entries (owned; gs_props_free), or a negative errno. */
typedef struct gs_props {
    char **keys, **values;
    size_t n;
} gs_props;
int gs_props_read(const char *path, gs_props *out);
void gs_props_free(gs_props *p);

#endif
