/*
 * <log.dirs>/gregor-client-quotas.properties: the client quotas that
 * AlterClientQuotas set (Kafka keeps them in its metadata log). One line
 * per entity and key:
 *
 *     user:alice,client-id:app-1/producer_byte_rate=1048576
 *     user/request_percentage=25        (the default user: no name)
 *     ip:10.0.0.1/connection_creation_rate=10
 *
 * Entity names are percent-encoded (every byte outside [A-Za-z0-9._-]),
 * values printed with 17 significant digits so that they read back equal.
 * The broker formats the text and has it written with gs_write_file_atomic
 * (temp file, fsync, rename, fsync of the directory), off the loop thread.
 */
#ifndef GS_QUOTAS_H
#define GS_QUOTAS_H

#include <stdbool.h>
#include <stddef.h>

#define GS_QUOTAS_FILE "gregor-client-quotas.properties"

/* The entity types, in the order a line lists them. */
enum { GS_QUOTA_USER, GS_QUOTA_CLIENT_ID, GS_QUOTA_IP, GS_QUOTA_NTYPES };
extern const char *const gs_quota_type_names[GS_QUOTA_NTYPES]; /* "user", "client-id", "ip" */

typedef struct gs_quota_line {
    bool has[GS_QUOTA_NTYPES];           /* the entity has this type */
    const char *name[GS_QUOTA_NTYPES];   /* its name; NULL: the default entity */
    const char *key;
    double value;
} gs_quota_line;

/* Append one line (with its newline) to the malloc'd *text of *len bytes. */
void gs_quotas_format(char **text, size_t *len, const gs_quota_line *line);

/* Call fn for each line of the file in dir (none if it does not exist);
 * fn's strings live until it returns. Returns 0, or -1 with err set (a
 * line that cannot be read, or fn's own -1). */
int gs_quotas_read(const char *dir, int (*fn)(void *arg, const gs_quota_line *line), void *arg, char *err,
                   size_t errlen);

#endif
