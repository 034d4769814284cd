#include "storage/gs_dirfiles.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "storage/gs_meta.h"

/* ---- offset checkpoint files ---- */

void gs_checkpoint_read(const char *dir, const char *name, gs_checkpoint *cp)
{
    char path[PATH_MAX], topic[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cp->e = NULL;
    cp->n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int version, count;
    if (fscanf(f, "%d %d", &version, &count) == 2 && version == 0 && count > 0 && count < 10000000) {
        cp->e = gu_calloc((size_t)count, sizeof *cp->e);
        int32_t p;
        int64_t off;
        while (cp->n < (size_t)count && fscanf(f, "%255s %" SCNd32 " %" SCNd64, topic, &p, &off) == 3) {
            cp->e[cp->n].topic = gu_strdup(topic);
            cp->e[cp->n].partition = p;
            cp->e[cp->n].offset = off;
            cp->n++;
        }
    }
    fclose(f);
}

int64_t gs_checkpoint_get(const gs_checkpoint *cp, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < cp->n; i++)
        if (cp->e[i].partition == partition && strcmp(cp->e[i].topic, topic) == 0)
            return cp->e[i].offset;
    return -1;
}

void gs_checkpoint_free(gs_checkpoint *cp)
{
    for (size_t i = 0; i < cp->n; i++)
        free(cp->e[i].topic);
    free(cp->e);
    cp->e = NULL;
    cp->n = 0;
}

void gs_checkpoint_text_begin(gs_checkpoint_text *t, size_t count)
{
    t->cap = 64 + count * 300; /* a topic name is at most 249 bytes */
    t->text = gu_malloc(t->cap);
    t->len = (size_t)snprintf(t->text, t->cap, "0\n%zu\n", count);
}

void gs_checkpoint_text_add(gs_checkpoint_text *t, const char *topic, int32_t partition, int64_t offset)
{
    size_t need = strlen(topic) + 48;
    if (t->len + need > t->cap) {
        t->cap = (t->len + need) * 2;
        t->text = gu_realloc(t->text, t->cap);
    }
    t->len += (size_t)snprintf(t->text + t->len, t->cap - t->len, "%s %" PRId32 " %" PRId64 "\n", topic, partition,
                               offset);
}

int gs_checkpoint_write(const char *dir, const char *name, const gs_checkpoint_text *t)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return gs_write_file_atomic(path, t->text, t->len);
}

void gs_checkpoint_text_free(gs_checkpoint_text *t)
{
    free(t->text);
    t->text = NULL;
    t->len = t->cap = 0;
}

/* ---- the clean-shutdown marker ---- */

bool gs_clean_shutdown_marked(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, GS_CLEAN_SHUTDOWN);
    struct stat st;
    return stat(path, &st) == 0;
}

int gs_clean_shutdown_mark(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, GS_CLEAN_SHUTDOWN);
    return gs_write_file_atomic(path, "", 0);
}

void gs_clean_shutdown_clear(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, GS_CLEAN_SHUTDOWN);
    unlink(path);
}

/* ---- partition.metadata ---- */

int gs_partition_metadata_write(const char *partition_dir, const char *topic_id_text)
{
    char path[PATH_MAX + 32], text[128];
    snprintf(path, sizeof path, "%s/partition.metadata", partition_dir);
    int n = snprintf(text, sizeof text, "version: 0\ntopic_id: %s\n", topic_id_text);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int rc = fwrite(text, 1, (size_t)n, f) == (size_t)n ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

bool gs_partition_metadata_read(const char *partition_dir, char topic_id_text[23])
{
    char path[PATH_MAX + 32], line[128];
    snprintf(path, sizeof path, "%s/partition.metadata", partition_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "topic_id: %22s", topic_id_text) == 1)
            found = true;
    fclose(f);
    return found;
}

static int gs__b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int gs_uuid_parse(const char *s, uint8_t uuid[16])
{
    if (strlen(s) != 22)
        return -1;
    uint8_t out[18] = {0};
    size_t o = 0;
    for (size_t i = 0; i < 22; i += 4) {
        uint32_t v = 0;
        size_t n = i + 4 <= 22 ? 4 : 22 - i;
        for (size_t k = 0; k < 4; k++) {
            int d = k < n ? gs__b64_val(s[i + k]) : 0;
            if (d < 0)
                return -1;
            v = (v << 6) | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    memcpy(uuid, out, 16);
    return 0;
}

/* ---- the log directory itself ---- */

/* Append src[0..n) to out at *at, dropping a '/' that would follow
 * another one; false when it does not fit. */
static bool gs__path_put(char *out, size_t len, size_t *at, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '/' && *at > 0 && out[*at - 1] == '/')
            continue;
        if (*at + 1 >= len)
            return false;
        out[(*at)++] = src[i];
    }
    return true;
}

int gs_dir_absolute(const char *dir, char *out, size_t len)
{
    size_t at = 0;
    if (dir[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return -errno;
        if (!gs__path_put(out, len, &at, cwd, strlen(cwd)) || !gs__path_put(out, len, &at, "/", 1))
            return -ERANGE;
    }
    if (!gs__path_put(out, len, &at, dir, strlen(dir)))
        return -ERANGE;
    if (at > 1 && out[at - 1] == '/')
        at--;
    out[at] = '\0';
    return (int)at;
}

/* blocks * unit, or INT64_MAX when that does not fit. */
static int64_t gs__fs_bytes(uint64_t blocks, uint64_t unit)
{
    if (unit && blocks > (uint64_t)INT64_MAX / unit)
        return INT64_MAX;
    return (int64_t)(blocks * unit);
}

int gs_dir_space(const char *dir, int64_t *total_bytes, int64_t *usable_bytes)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0)
        return -errno;
    uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    *total_bytes = gs__fs_bytes(sv.f_blocks, unit);
    *usable_bytes = gs__fs_bytes(sv.f_bavail, unit);
    return 0;
}

int gs_props_read(const char *path, gs_props *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *eq = strchr(line, '=');
        if (n == 0 || line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        out->keys = gu_realloc(out->keys, (out->n + 1) * sizeof *out->keys);
        out->values = gu_realloc(out->values, (out->n + 1) * sizeof *out->values);
        out->keys[out->n] = strdup(line);
        out->values[out->n] = strdup(eq + 1);
        out->n++;
    }
    free(line);
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc < 0)
        gs_props_free(out);
    return rc;
}

void gs_props_free(gs_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->keys);
    free(p->values);
    memset(p, 0, sizeof *p);
}
