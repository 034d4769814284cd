/*
 * meta.properties at the root of the data directory, in Kafka's KRaft format
 * (version=1, cluster.id, node.id, directory.id), so that Kafka's tools read
 * a Gregor data directory. The cluster id is generated once, on first start,
 * and never changes.
 */
#ifndef GS_META_H
#define GS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gs_meta {
    char cluster_id[23]; /* Kafka Uuid text: 22 chars of unpadded base64url */
    char directory_id[23];
    int32_t node_id;
    bool unsynced;      /* written by this start, not yet fsynced: call gs_meta_sync */
    bool was_empty;     /* an empty meta.properties (a crash before its fsync) was replaced */
} gs_meta;

/* Create the directory if needed, then read meta.properties, or write a new
 * one (new cluster and directory ids) if there is none, or an empty one. A
 * stored node id that differs from node_id is an error, as in Kafka. Returns
 * 0 or a negative errno-style code with a message in err.
 *
 * A new file is written and renamed into place but not fsynced, so that a
 * first start does not wait for the disk before it listens: meta->unsynced
 * says so, and gs_meta_sync (a blocking call, for a job) makes it durable. A
 * machine crash before that can leave the file empty; the next start then
 * replaces it (meta->was_empty). */
int gs_meta_load_or_create(const char *dir, int32_t node_id, gs_meta *meta, char *err, size_t errlen);

/* fsync meta.properties in dir, then dir itself. 0 or a negative errno. */
int gs_meta_sync(const char *dir);

/* A new random Kafka Uuid in its text form (22 chars + NUL). */
void gs_uuid_text(const uint8_t uuid[16], char out[23]);
int gs_uuid_random(uint8_t uuid[16]);

/* Create a directory and its parents (mkdir -p). */
int gs_mkdirs(const char *path);

/* Replace a whole file atomically: a temp file renamed over it. With
 * durable, the temp file is fsynced before the rename and the directory
 * after it. */
int gs_write_file(const char *path, const void *data, size_t len, bool durable);
/* gs_write_file(path, data, len, true). */
int gs_write_file_atomic(const char *path, const void *data, size_t len);

#endif
