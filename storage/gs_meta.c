#include "storage/gs_meta.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int gs_uuid_random(uint8_t uuid[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(uuid + got, 16 - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    /* Version 4, variant 2, as Java's UUID.randomUUID (Kafka's Uuid.randomUuid). */
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    return 0;
}

void gs_uuid_text(const uint8_t uuid[16], char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)uuid[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)uuid[i + 1] << 8;
        if (i + 2 < 16)
            v |= uuid[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

int gs_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(buf, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int gs__fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path == 0 ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int gs_write_file(const char *path, const void *data, size_t len, bool durable)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += n;
        len -= (size_t)n;
    }
    if ((durable && fsync(fd) < 0) || close(fd) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    if (rename(tmp, path) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return durable ? gs__fsync_dir_of(path) : 0;
}

int gs_write_file_atomic(const char *path, const void *data, size_t len)
{
    return gs_write_file(path, data, len, true);
}

/* Read key=value lines; only the keys Gregor needs are kept. */
static int gs__meta_read(FILE *f, gs_meta *meta, int *version, char *err, size_t errlen, const char *path)
{
    char line[512];
    int lineno = 0;
    *version = -1;
    meta->cluster_id[0] = meta->directory_id[0] = '\0';
    meta->node_id = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '!' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: not a key=value line", path, lineno);
            return -EINVAL;
        }
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "version") == 0) {
            *version = atoi(v);
        } else if (strcmp(k, "cluster.id") == 0) {
            snprintf(meta->cluster_id, sizeof meta->cluster_id, "%s", v);
        } else if (strcmp(k, "directory.id") == 0) {
            snprintf(meta->directory_id, sizeof meta->directory_id, "%s", v);
        } else if (strcmp(k, "node.id") == 0 || strcmp(k, "broker.id") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 0 || n > INT32_MAX) {
                snprintf(err, errlen, "%s:%d: bad %s '%s'", path, lineno, k, v);
                return -EINVAL;
            }
            meta->node_id = (int32_t)n;
        }
    }
    if (meta->cluster_id[0] == '\0') {
        snprintf(err, errlen, "%s: no cluster.id", path);
        return -EINVAL;
    }
    return 0;
}

int gs_meta_load_or_create(const char *dir, int32_t node_id, gs_meta *meta, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc = gs_mkdirs(dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    meta->unsynced = meta->was_empty = false;
    FILE *f = fopen(path, "r");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && st.st_size == 0) {
        fclose(f);
        f = NULL;
        errno = ENOENT;
        meta->was_empty = true;
    }
    if (f) {
        int version;
        rc = gs__meta_read(f, meta, &version, err, errlen, path);
        fclose(f);
        if (rc < 0)
            return rc;
        if (meta->node_id >= 0 && meta->node_id != node_id) {
            snprintf(err, errlen,
                     "%s: stored node.id %d does not match the configured node.id %d (a data directory "
                     "belongs to one node)",
                     path, meta->node_id, node_id);
            return -EINVAL;
        }
        meta->node_id = node_id;
        return 0;
    }
    if (errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return rc;
    }
    uint8_t u[16];
    if ((rc = gs_uuid_random(u)) < 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-rc));
        return rc;
    }
    gs_uuid_text(u, meta->cluster_id);
    if ((rc = gs_uuid_random(u)) < 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-rc));
        return rc;
    }
    gs_uuid_text(u, meta->directory_id);
    meta->node_id = node_id;
    char text[256];
    int n = snprintf(text, sizeof text,
                     "#\n#Written by Gregor, in Apache Kafka's KRaft format\nversion=1\n"
                     "cluster.id=%s\nnode.id=%d\ndirectory.id=%s\n",
                     meta->cluster_id, node_id, meta->directory_id);
    rc = gs_write_file(path, text, (size_t)n, false);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    meta->unsynced = rc == 0;
    return rc;
}

int gs_meta_sync(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc < 0 ? rc : gs__fsync_dir_of(path);
}
