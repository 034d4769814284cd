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
#include "storage/gs_dirfiles.h"
#include "storage/gs_meta.h"

#define GB_DYNCONF_FILE "gregor-broker-configs.properties"

typedef struct gb_dynconf_wait {
    void (*done)(void *arg);
    void *arg;
    struct gb_dynconf_wait *next;
} gb_dynconf_wait;

struct gb_dynconf {
    gc_config effective;
    gc_kv *kv[2]; /* owned keys and values, per level */
    size_t n[2];
    /* file writes: one in flight, the next one coalesced (as the topic store's) */
    bool writing, dirty;
    gb_dynconf_wait *waiting, *in_flight;
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

static void gb__path(gb_broker *b, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", b->data_dir, GB_DYNCONF_FILE);
}

int gb_dynconf_open(gb_broker *b, char *err, size_t errlen)
{
    gb_dynconf *dc = gu_calloc(1, sizeof *dc);
    b->dynconf = dc;
    b->static_cfg = b->cfg;
    char path[PATH_MAX], node[32];
    gb__path(b, path, sizeof path);
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
    return 0;
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
    for (gb_dynconf_wait *w = dc->waiting, *next; w; w = next) {
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
    char *path, *text;
    size_t len;
    int rc;
} gb_dynconf_job;

static void gb__write_work(void *arg)
{
    gb_dynconf_job *job = arg;
    job->rc = gs_write_file_atomic(job->path, job->text, job->len);
}

static void gb__write_start(gb_broker *b);

static void gb__write_after(void *arg)
{
    gb_dynconf_job *job = arg;
    gb_broker *b = job->b;
    gb_dynconf *dc = b->dynconf;
    if (job->rc < 0)
        gb_logger_error("cannot write %s: %s", job->path, strerror(-job->rc));
    gb_dynconf_wait *done = dc->in_flight;
    dc->in_flight = NULL;
    dc->writing = false;
    free(job->path);
    free(job->text);
    free(job);
    if (dc->dirty)
        gb__write_start(b);
    while (done) {
        gb_dynconf_wait *next = done->next;
        done->done(done->arg);
        free(done);
        done = next;
    }
}

static void gb__write_start(gb_broker *b)
{
    gb_dynconf *dc = b->dynconf;
    gb_dynconf_job *job = gu_calloc(1, sizeof *job);
    char path[PATH_MAX];
    gb__path(b, path, sizeof path);
    job->b = b;
    job->path = strdup(path);
    job->text = gb__text(b, &job->len);
    dc->writing = true;
    dc->dirty = false;
    dc->in_flight = dc->waiting;
    dc->waiting = NULL;
    gb_job_queue(b->loop, &job->work, gb__write_work, gb__write_after, job);
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
    gb_dynconf_wait *w = gu_malloc(sizeof *w);
    w->done = done;
    w->arg = arg;
    w->next = dc->waiting;
    dc->waiting = w;
    dc->dirty = true;
    if (!dc->writing)
        gb__write_start(b);
}
