#include "broker/core/gb_dynconf.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "config/gc_group.h"
#include "storage/gs_dirfiles.h"
#include "storage/gs_meta.h"

#define GB_DYNCONF_FILE "gregor-broker-configs.properties"
#define GB_GROUPCONF_FILE "gregor-group-configs.properties"

typedef struct gb_dynconf_wait {
    void (*done)(void *arg);
    void *arg;
    struct gb_dynconf_wait *next;
} gb_dynconf_wait;

/* One of the two files: writes one in flight, the next one coalesced (as
 * the topic store's); text() renders the whole file from memory. */
typedef struct gb_dynconf_file {
    const char *name;
    char *(*text)(gb_broker *b, size_t *len);
    bool writing, dirty;
    gb_dynconf_wait *waiting, *in_flight;
} gb_dynconf_file;

/* One group's overrides. */
typedef struct gb_dynconf_group {
    char *name;
    size_t len;
    gc_kv *kv;
    size_t n;
} gb_dynconf_group;

enum { GB_FILE_BROKER, GB_FILE_GROUPS };

struct gb_dynconf {
    gc_config effective;
    gc_kv *kv[2]; /* owned keys and values, per level */
    size_t n[2];
    gb_dynconf_group *groups; /* the groups with overrides, unordered */
    size_t ngroups;
    gb_dynconf_file files[2];
};

static void gb__kv_free(gc_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

static gc_kv *gb__kv_copy(const gc_kv *kv, size_t n)
{
    gc_kv *out = gu_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].key = strdup(kv[i].key);
        out[i].value = strdup(kv[i].value);
    }
    return out;
}

/* Apply one level's known keys to cfg. Returns 0, or -1 with Kafka's
 * message for the first value that does not parse. */
static int gb__apply(gc_config *cfg, const gc_kv *kv, size_t n, int src, char *msg, size_t msglen)
{
    char why[512];
    for (size_t i = 0; i < n; i++) {
        int k = gc_config_key_find(kv[i].key);
        if (k < 0)
            continue;
        if (gc_config_set_dynamic(cfg, (size_t)k, kv[i].value, src, why, sizeof why) < 0) {
            snprintf(msg, msglen, "Invalid value %s for configuration %s: %s", kv[i].value, kv[i].key, why);
            return -1;
        }
    }
    return 0;
}

/* The effective configuration with `level` replaced by kv. */
static int gb__build(gb_broker *b, int level, const gc_kv *kv, size_t n, gc_config *out, char *msg, size_t msglen)
{
    gb_dynconf *dc = b->dynconf;
    gc_config_copy(out, b->static_cfg);
    const gc_kv *lv[2] = {dc->kv[0], dc->kv[1]};
    size_t ln[2] = {dc->n[0], dc->n[1]};
    lv[level] = kv;
    ln[level] = n;
    if (gb__apply(out, lv[GB_DYN_DEFAULT], ln[GB_DYN_DEFAULT], GC_SRC_DYNAMIC_DEFAULT, msg, msglen) < 0 ||
        gb__apply(out, lv[GB_DYN_NODE], ln[GB_DYN_NODE], GC_SRC_DYNAMIC_BROKER, msg, msglen) < 0) {
        gc_config_free(out);
        return -1;
    }
    return 0;
}

static void gb__path(gb_broker *b, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", b->data_dir, name);
}

static char *gb__text(gb_broker *b, size_t *len);
static char *gb__groups_text(gb_broker *b, size_t *len);
static int gb__groups_load(gb_broker *b, char *err, size_t errlen);

int gb_dynconf_open(gb_broker *b, char *err, size_t errlen)
{
    gb_dynconf *dc = gu_calloc(1, sizeof *dc);
    b->dynconf = dc;
    b->static_cfg = b->cfg;
    dc->files[GB_FILE_BROKER] = (gb_dynconf_file){.name = GB_DYNCONF_FILE, .text = gb__text};
    dc->files[GB_FILE_GROUPS] = (gb_dynconf_file){.name = GB_GROUPCONF_FILE, .text = gb__groups_text};
    char path[PATH_MAX], node[32];
    gb__path(b, GB_DYNCONF_FILE, path, sizeof path);
    snprintf(node, sizeof node, "%" PRId32 "/", b->meta.node_id);
    gs_props p;
    int rc = gs_props_read(path, &p);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return -1;
    }
    for (size_t i = 0; i < p.n; i++) {
        int level = strncmp(p.keys[i], "default/", 8) == 0 ? GB_DYN_DEFAULT
                    : strncmp(p.keys[i], node, strlen(node)) == 0 ? GB_DYN_NODE
                                                                  : -1;
        if (level < 0)
            continue; /* another node id's values: not this node's */
        const char *key = strchr(p.keys[i], '/') + 1;
        char why[512];
        int k = gc_config_key_find(key);
        gc_config probe;
        gc_config_copy(&probe, b->static_cfg);
        bool ok = k < 0 || gc_config_set_dynamic(&probe, (size_t)k, p.values[i], GC_SRC_DYNAMIC_BROKER, why,
                                                 sizeof why) == 0;
        gc_config_free(&probe);
        if (!ok) {
            gb_logger_warn("%s: dropping %s=%s: %s", path, p.keys[i], p.values[i], why);
            continue;
        }
        dc->kv[level] = gu_realloc(dc->kv[level], (dc->n[level] + 1) * sizeof *dc->kv[level]);
        dc->kv[level][dc->n[level]].key = strdup(key);
        dc->kv[level][dc->n[level]].value = strdup(p.values[i]);
        dc->n[level]++;
    }
    gs_props_free(&p);
    char msg[1024];
    if (gb__build(b, GB_DYN_NODE, dc->kv[GB_DYN_NODE], dc->n[GB_DYN_NODE], &dc->effective, msg, sizeof msg) < 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    b->cfg = &dc->effective;
    if (dc->n[0] + dc->n[1] > 0)
        gb_logger_info("loaded %zu dynamic broker config(s) from %s", dc->n[0] + dc->n[1], path);
    return gb__groups_load(b, err, errlen);
}

void gb_dynconf_close(gb_broker *b)
{
    gb_dynconf *dc = b->dynconf;
    if (!dc)
        return;
    b->cfg = b->static_cfg;
    gc_config_free(&dc->effective);
    for (int l = 0; l < 2; l++)
        gb__kv_free(dc->kv[l], dc->n[l]);
    for (size_t i = 0; i < dc->ngroups; i++) {
        free(dc->groups[i].name);
        gb__kv_free(dc->groups[i].kv, dc->groups[i].n);
    }
    free(dc->groups);
    for (int f = 0; f < 2; f++)
        for (gb_dynconf_wait *w = dc->files[f].waiting, *next; w; w = next) {
            next = w->next;
            free(w);
        }
    free(dc);
    b->dynconf = NULL;
}

size_t gb_dynconf_count(gb_broker *b, int level)
{
    return b->dynconf->n[level];
}

const gc_kv *gb_dynconf_entry(gb_broker *b, int level, size_t i)
{
    return &b->dynconf->kv[level][i];
}

const char *gb_dynconf_get(gb_broker *b, int level, const char *key)
{
    gb_dynconf *dc = b->dynconf;
    for (size_t i = 0; dc && i < dc->n[level]; i++)
        if (strcmp(dc->kv[level][i].key, key) == 0)
            return dc->kv[level][i].value;
    return NULL;
}

int gb_dynconf_check(gb_broker *b, int level, const gc_kv *kv, size_t n, char *msg, size_t msglen)
{
    gc_config cfg;
    if (gb__build(b, level, kv, n, &cfg, msg, msglen) < 0)
        return -1;
    gc_config_free(&cfg);
    return 0;
}

/* ---- the file ---------------------------------------------------------------- */

static char *gb__text(gb_broker *b, size_t *len)
{
    gb_dynconf *dc = b->dynconf;
    size_t cap = 128;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < dc->n[l]; i++)
            cap += strlen(dc->kv[l][i].key) + strlen(dc->kv[l][i].value) + 24;
    char *text = gu_malloc(cap);
    size_t used = (size_t)snprintf(text, cap, "# Gregor's dynamic broker configs (AlterConfigs on BROKER).\n");
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < dc->n[l]; i++) {
            if (l == GB_DYN_DEFAULT)
                used += (size_t)snprintf(text + used, cap - used, "default/");
            else
                used += (size_t)snprintf(text + used, cap - used, "%" PRId32 "/", b->meta.node_id);
            used += (size_t)snprintf(text + used, cap - used, "%s=%s\n", dc->kv[l][i].key, dc->kv[l][i].value);
        }
    *len = used;
    return text;
}

typedef struct gb_dynconf_job {
    gb_job work;
    gb_broker *b;
    gb_dynconf_file *file;
    char *path, *text;
    size_t len;
    int rc;
} gb_dynconf_job;

static void gb__write_work(void *arg)
{
    gb_dynconf_job *job = arg;
    job->rc = gs_write_file_atomic(job->path, job->text, job->len);
}

static void gb__write_start(gb_broker *b, gb_dynconf_file *file);

static void gb__write_after(void *arg)
{
    gb_dynconf_job *job = arg;
    gb_broker *b = job->b;
    gb_dynconf_file *file = job->file;
    if (job->rc < 0)
        gb_logger_error("cannot write %s: %s", job->path, strerror(-job->rc));
    gb_dynconf_wait *done = file->in_flight;
    file->in_flight = NULL;
    file->writing = false;
    free(job->path);
    free(job->text);
    free(job);
    if (file->dirty)
        gb__write_start(b, file);
    while (done) {
        gb_dynconf_wait *next = done->next;
        done->done(done->arg);
        free(done);
        done = next;
    }
}

static void gb__write_start(gb_broker *b, gb_dynconf_file *file)
{
    gb_dynconf_job *job = gu_calloc(1, sizeof *job);
    char path[PATH_MAX];
    gb__path(b, file->name, path, sizeof path);
    job->b = b;
    job->file = file;
    job->path = strdup(path);
    job->text = file->text(b, &job->len);
    file->writing = true;
    file->dirty = false;
    file->in_flight = file->waiting;
    file->waiting = NULL;
    gb_job_queue(b->loop, &job->work, gb__write_work, gb__write_after, job);
}

/* Write file again (coalesced with a write to come) and call done(arg) once
 * what is in memory now is durable. */
static void gb__persist(gb_broker *b, gb_dynconf_file *file, void (*done)(void *arg), void *arg)
{
    gb_dynconf_wait *w = gu_malloc(sizeof *w);
    w->done = done;
    w->arg = arg;
    w->next = file->waiting;
    file->waiting = w;
    file->dirty = true;
    if (!file->writing)
        gb__write_start(b, file);
}

void gb_dynconf_replace(gb_broker *b, int level, const gc_kv *kv, size_t n, void (*done)(void *arg), void *arg)
{
    gb_dynconf *dc = b->dynconf;
    gc_config next;
    char msg[1024];
    if (gb__build(b, level, kv, n, &next, msg, sizeof msg) < 0) {
        /* the caller checked; a value that fails now changes nothing */
        gb_logger_warn("dynamic broker config not applied: %s", msg);
        done(arg);
        return;
    }
    gc_kv *copy = gb__kv_copy(kv, n);
    gb__kv_free(dc->kv[level], dc->n[level]);
    dc->kv[level] = copy;
    dc->n[level] = n;
    gc_config_take_changes(&dc->effective, &next);
    gb_topics_reconfigure(b);
    gb_logger_info("dynamic broker configs (%s) now: %zu key(s)", level == GB_DYN_DEFAULT ? "cluster default" : "node",
                   n);
    gb__persist(b, &dc->files[GB_FILE_BROKER], done, arg);
}

/* ---- group configs ------------------------------------------------------------ */

/*
 * <log.dirs>/gregor-group-configs.properties holds one line per override,
 * <group>/<key>=<value>, the group name percent-encoded (every byte but
 * A-Z a-z 0-9 . _ -) since a group name may hold any character, '=' and
 * '/' and line breaks among them.
 */
static bool gb__plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

static int gb__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static gb_dynconf_group *gb__group_find(gb_dynconf *dc, const char *name, size_t len)
{
    for (size_t i = 0; i < dc->ngroups; i++)
        if (dc->groups[i].len == len && memcmp(dc->groups[i].name, name, len) == 0)
            return &dc->groups[i];
    return NULL;
}

static gb_dynconf_group *gb__group_add(gb_dynconf *dc, const char *name, size_t len)
{
    dc->groups = gu_realloc(dc->groups, (dc->ngroups + 1) * sizeof *dc->groups);
    gb_dynconf_group *g = &dc->groups[dc->ngroups++];
    g->name = gu_malloc(len + 1);
    memcpy(g->name, name, len);
    g->name[len] = '\0';
    g->len = len;
    g->kv = NULL;
    g->n = 0;
    return g;
}

static char *gb__groups_text(gb_broker *b, size_t *len)
{
    gb_dynconf *dc = b->dynconf;
    size_t cap = 128;
    for (size_t i = 0; i < dc->ngroups; i++)
        for (size_t j = 0; j < dc->groups[i].n; j++)
            cap += 3 * dc->groups[i].len + strlen(dc->groups[i].kv[j].key) + strlen(dc->groups[i].kv[j].value) + 4;
    char *text = gu_malloc(cap);
    size_t used = (size_t)snprintf(text, cap, "# Gregor's group configs (AlterConfigs on GROUP).\n");
    for (size_t i = 0; i < dc->ngroups; i++)
        for (size_t j = 0; j < dc->groups[i].n; j++) {
            const gb_dynconf_group *g = &dc->groups[i];
            for (size_t k = 0; k < g->len; k++) {
                unsigned char c = (unsigned char)g->name[k];
                if (gb__plain(c))
                    text[used++] = (char)c;
                else
                    used += (size_t)snprintf(text + used, cap - used, "%%%02X", c);
            }
            used += (size_t)snprintf(text + used, cap - used, "/%s=%s\n", g->kv[j].key, g->kv[j].value);
        }
    *len = used;
    return text;
}

static int gb__groups_load(gb_broker *b, char *err, size_t errlen)
{
    gb_dynconf *dc = b->dynconf;
    char path[PATH_MAX];
    gb__path(b, GB_GROUPCONF_FILE, path, sizeof path);
    gs_props p;
    int rc = gs_props_read(path, &p);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return -1;
    }
    size_t loaded = 0;
    for (size_t i = 0; i < p.n; i++) {
        const char *slash = strchr(p.keys[i], '/');
        size_t elen = slash ? (size_t)(slash - p.keys[i]) : 0;
        char *name = gu_malloc(elen + 1);
        size_t len = 0;
        bool ok = slash != NULL && gc_group_key_find(slash + 1) >= 0;
        for (size_t k = 0; ok && k < elen; k++) {
            char c = p.keys[i][k];
            if (c != '%') {
                name[len++] = c;
                continue;
            }
            int hi = k + 2 < elen ? gb__hex(p.keys[i][k + 1]) : -1, lo = hi >= 0 ? gb__hex(p.keys[i][k + 2]) : -1;
            ok = lo >= 0;
            name[len++] = (char)(hi * 16 + lo);
            k += 2;
        }
        if (!ok) {
            gb_logger_warn("%s: dropping %s=%s: not a group config", path, p.keys[i], p.values[i]);
            free(name);
            continue;
        }
        gb_dynconf_group *g = gb__group_find(dc, name, len);
        if (!g)
            g = gb__group_add(dc, name, len);
        free(name);
        g->kv = gu_realloc(g->kv, (g->n + 1) * sizeof *g->kv);
        g->kv[g->n].key = strdup(slash + 1);
        g->kv[g->n].value = strdup(p.values[i]);
        g->n++;
        loaded++;
    }
    gs_props_free(&p);
    if (loaded)
        gb_logger_info("loaded %zu group config(s) of %zu group(s) from %s", loaded, dc->ngroups, path);
    return 0;
}

const gc_kv *gb_dynconf_group_get(gb_broker *b, const char *name, size_t len, size_t *n)
{
    gb_dynconf_group *g = gb__group_find(b->dynconf, name, len);
    *n = g ? g->n : 0;
    return g ? g->kv : NULL;
}

void gb_dynconf_group_replace(gb_broker *b, const char *name, size_t len, const gc_kv *kv, size_t n,
                              void (*done)(void *arg), void *arg)
{
    gb_dynconf *dc = b->dynconf;
    gb_dynconf_group *g = gb__group_find(dc, name, len);
    if (!g)
        g = gb__group_add(dc, name, len);
    gc_kv *copy = gb__kv_copy(kv, n);
    gb__kv_free(g->kv, g->n);
    g->kv = copy;
    g->n = n;
    if (n == 0) { /* no overrides left: the group is no longer listed */
        free(g->name);
        gb__kv_free(g->kv, 0);
        *g = dc->groups[--dc->ngroups];
    }
    gb_logger_info("group configs of %.*s now: %zu key(s)", (int)len, name, n);
    gb__persist(b, &dc->files[GB_FILE_GROUPS], done, arg);
}
