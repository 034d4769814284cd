/*
 * Client quotas: the table, its file, and the measured byte rates (see
 * gb_quotas.h). Everything runs on the loop thread but the file write.
 */
#include "broker/core/gb_quotas.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_quota_rate.h"
#include "storage/gs_meta.h"

const gb_quota_key_info gb_quota_keys[GB_QK_COUNT] = {
    [GB_QK_PRODUCER_BYTE_RATE] = {"producer_byte_rate", GB_QV_LONG, false},
    [GB_QK_CONSUMER_BYTE_RATE] = {"consumer_byte_rate", GB_QV_LONG, false},
    [GB_QK_REQUEST_PERCENTAGE] = {"request_percentage", GB_QV_DOUBLE, false},
    [GB_QK_CONTROLLER_MUTATION_RATE] = {"controller_mutation_rate", GB_QV_DOUBLE, false},
    [GB_QK_CONNECTION_CREATION_RATE] = {"connection_creation_rate", GB_QV_INT, true},
};

/* One measured rate: a key's bytes for one set of Kafka's metric tags. */
typedef struct gb_quota_sensor {
    struct gb_quota_sensor *next;
    int key;
    char *user;   /* "" when the quota is not per user */
    char *client; /* "" when it is not per client id */
    int64_t last_ms;
    double quota, burst; /* at the last use */
    gb_quota_bucket bucket;
} gb_quota_sensor;

typedef struct gb_quota_wait {
    void (*done)(void *arg);
    void *arg;
    struct gb_quota_wait *next;
} gb_quota_wait;

typedef struct gb_quotas {
    gb_quota_entry **entries;
    size_t count, cap;
    size_t with_key[GB_QK_COUNT]; /* entities that set each key */
    gb_quota_sensor *sensors;
    /* the file: one write at a time, another after it if anything changed */
    bool writing, dirty;
    gb_quota_wait *waiting, *in_flight;
} gb_quotas;

static gb_quotas *gb__quotas(const gb_broker *b)
{
    return (gb_quotas *)b->quotas;
}

int gb_quota_key_find(const char *name, size_t len)
{
    for (int k = 0; k < GB_QK_COUNT; k++)
        if (strlen(gb_quota_keys[k].name) == len && memcmp(gb_quota_keys[k].name, name, len) == 0)
            return k;
    return -1;
}

size_t gb_quotas_count(const gb_broker *b)
{
    return gb__quotas(b)->count;
}

const gb_quota_entry *gb_quotas_entry(const gb_broker *b, size_t i)
{
    return gb__quotas(b)->entries[i];
}

static bool gb__name_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static gb_quota_entry *gb__find(gb_quotas *q, const bool has[], const char *const name[], size_t *at)
{
    for (size_t i = 0; i < q->count; i++) {
        gb_quota_entry *e = q->entries[i];
        int t = 0;
        while (t < GS_QUOTA_NTYPES && e->has[t] == has[t] && (!has[t] || gb__name_eq(e->name[t], name[t])))
            t++;
        if (t == GS_QUOTA_NTYPES) {
            if (at)
                *at = i;
            return e;
        }
    }
    return NULL;
}

void gb_quotas_apply(gb_broker *b, const bool has[GS_QUOTA_NTYPES], const char *const name[GS_QUOTA_NTYPES],
                     int key, bool remove, double value)
{
    gb_quotas *q = gb__quotas(b);
    size_t at;
    gb_quota_entry *e = gb__find(q, has, name, &at);
    if (remove) {
        if (!e || !(e->present & (1u << key)))
            return;
        e->present &= ~(1u << key);
        q->with_key[key]--;
        if (e->present)
            return;
        for (int t = 0; t < GS_QUOTA_NTYPES; t++)
            free(e->name[t]);
        free(e);
        q->entries[at] = q->entries[--q->count];
        return;
    }
    if (!e) {
        e = gu_calloc(1, sizeof *e);
        for (int t = 0; t < GS_QUOTA_NTYPES; t++) {
            e->has[t] = has[t];
            e->name[t] = has[t] && name[t] ? gu_strdup(name[t]) : NULL;
        }
        if (q->count == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 8;
            q->entries = gu_realloc(q->entries, q->cap * sizeof *q->entries);
        }
        q->entries[q->count++] = e;
    }
    if (!(e->present & (1u << key)))
        q->with_key[key]++;
    e->present |= 1u << key;
    e->value[key] = value;
}

/* ---- the file ---------------------------------------------------------------- */

static char *gb__quotas_text(gb_quotas *q, size_t *len)
{
    char *text = gu_strdup("# Client quotas (AlterClientQuotas), written by Gregor.\n");
    *len = strlen(text);
    for (size_t i = 0; i < q->count; i++) {
        const gb_quota_entry *e = q->entries[i];
        for (int k = 0; k < GB_QK_COUNT; k++) {
            if (!(e->present & (1u << k)))
                continue;
            gs_quota_line line = {.key = gb_quota_keys[k].name, .value = e->value[k]};
            for (int t = 0; t < GS_QUOTA_NTYPES; t++) {
                line.has[t] = e->has[t];
                line.name[t] = e->name[t];
            }
            gs_quotas_format(&text, len, &line);
        }
    }
    return text;
}

typedef struct gb_quotas_job {
    gb_job work;
    gb_broker *b;
    char path[PATH_MAX];
    char *text;
    size_t len;
    int rc;
} gb_quotas_job;

static void gb__quotas_write(void *arg)
{
    gb_quotas_job *job = arg;
    job->rc = gs_write_file_atomic(job->path, job->text, job->len);
}

static void gb__quotas_write_start(gb_broker *b);

static void gb__quotas_written(void *arg)
{
    gb_quotas_job *job = arg;
    gb_quotas *q = gb__quotas(job->b);
    if (job->rc < 0)
        gb_logger_error("cannot write %s: %s", job->path, strerror(-job->rc));
    if (!q) { /* closed meanwhile */
        free(job->text);
        free(job);
        return;
    }
    gb_quota_wait *done = q->in_flight;
    q->in_flight = NULL;
    q->writing = false;
    gb_broker *b = job->b;
    free(job->text);
    free(job);
    if (q->dirty)
        gb__quotas_write_start(b);
    while (done) {
        gb_quota_wait *next = done->next;
        done->done(done->arg);
        free(done);
        done = next;
    }
}

static void gb__quotas_write_start(gb_broker *b)
{
    gb_quotas *q = gb__quotas(b);
    gb_quotas_job *job = gu_calloc(1, sizeof *job);
    job->b = b;
    snprintf(job->path, sizeof job->path, "%s/%s", b->data_dir, GS_QUOTAS_FILE);
    job->text = gb__quotas_text(q, &job->len);
    q->writing = true;
    q->dirty = false;
    q->in_flight = q->waiting;
    q->waiting = NULL;
    gb_job_queue(b->loop, &job->work, gb__quotas_write, gb__quotas_written, job);
}

void gb_quotas_persist(gb_broker *b, void (*done)(void *arg), void *arg)
{
    gb_quotas *q = gb__quotas(b);
    if (done) {
        gb_quota_wait *w = gu_malloc(sizeof *w);
        w->done = done;
        w->arg = arg;
        w->next = q->waiting;
        q->waiting = w;
    }
    q->dirty = true;
    if (!q->writing)
        gb__quotas_write_start(b);
}

static int gb__quotas_load_line(void *arg, const gs_quota_line *line)
{
    gb_broker *b = arg;
    int key = gb_quota_key_find(line->key, strlen(line->key));
    if (key < 0 || !(line->value > 0))
        return -1;
    gb_quotas_apply(b, line->has, line->name, key, false, line->value);
    return 0;
}

int gb_quotas_open(gb_broker *b, char *err, size_t errlen)
{
    b->quotas = gu_calloc(1, sizeof(gb_quotas));
    return gs_quotas_read(b->data_dir, gb__quotas_load_line, b, err, errlen);
}

void gb_quotas_close(gb_broker *b)
{
    gb_quotas *q = gb__quotas(b);
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++) {
        for (int t = 0; t < GS_QUOTA_NTYPES; t++)
            free(q->entries[i]->name[t]);
        free(q->entries[i]);
    }
    free(q->entries);
    while (q->sensors) {
        gb_quota_sensor *s = q->sensors;
        q->sensors = s->next;
        free(s->user);
        free(s->client);
        free(s);
    }
    /* A write still queued finishes with the loop; its waiters are dropped. */
    for (gb_quota_wait *w = q->waiting, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    free(q);
    b->quotas = NULL;
}

/* ---- enforcement ----------------------------------------------------------------- */

enum { GB__NONE, GB__NAMED, GB__DEFAULT };

/* Kafka's order of entities for a (user, client-id), with the metric tags
 * each one gives: whether the rate is counted per user, per client id. */
static const struct {
    int user, client;
    bool tag_user, tag_client;
} gb__quota_order[] = {
    {GB__NAMED, GB__NAMED, true, true},     {GB__NAMED, GB__DEFAULT, true, true},
    {GB__NAMED, GB__NONE, true, false},     {GB__DEFAULT, GB__NAMED, true, true},
    {GB__DEFAULT, GB__DEFAULT, true, true}, {GB__DEFAULT, GB__NONE, true, false},
    {GB__NONE, GB__NAMED, false, true},     {GB__NONE, GB__DEFAULT, false, true},
};

/* The quota of key for (user, client), and its metric tags; false if none. */
static bool gb__quota_resolve(gb_quotas *q, int key, const char *user, const char *client, double *quota,
                              bool *tag_user, bool *tag_client)
{
    for (size_t i = 0; i < sizeof gb__quota_order / sizeof gb__quota_order[0]; i++) {
        bool has[GS_QUOTA_NTYPES] = {gb__quota_order[i].user != GB__NONE, gb__quota_order[i].client != GB__NONE,
                                     false};
        const char *name[GS_QUOTA_NTYPES] = {gb__quota_order[i].user == GB__NAMED ? user : NULL,
                                             gb__quota_order[i].client == GB__NAMED ? client : NULL, NULL};
        gb_quota_entry *e = gb__find(q, has, name, NULL);
        if (e && (e->present & (1u << key))) {
            *quota = e->value[key];
            *tag_user = gb__quota_order[i].tag_user;
            *tag_client = gb__quota_order[i].tag_client;
            return true;
        }
    }
    return false;
}

/* The sensor for key and the tags, created if new. Sensors idle for longer
 * than the whole sample span whose bucket has refilled measure nothing a
 * new one would not: they go. */
static gb_quota_sensor *gb__sensor(gb_broker *b, int key, const char *user, const char *client, int64_t now)
{
    gb_quotas *q = gb__quotas(b);
    double span = (double)b->cfg->quota_window_num * (double)b->cfg->quota_window_size_seconds * 1000; /* no overflow */
    gb_quota_sensor *found = NULL;
    for (gb_quota_sensor **pp = &q->sensors; *pp;) {
        gb_quota_sensor *s = *pp;
        if (s->key == key && strcmp(s->user, user) == 0 && strcmp(s->client, client) == 0) {
            found = s;
        } else if ((double)(now - s->last_ms) > span &&
                   gb_quota_bucket_tokens(&s->bucket, s->quota, s->burst, now) >= s->burst) {
            *pp = s->next;
            free(s->user);
            free(s->client);
            free(s);
            continue;
        }
        pp = &s->next;
    }
    if (!found) {
        found = gu_calloc(1, sizeof *found);
        found->key = key;
        found->user = gu_strdup(user);
        found->client = gu_strdup(client);
        gb_quota_bucket_init(&found->bucket);
        found->next = q->sensors;
        q->sensors = found;
    }
    found->last_ms = now;
    return found;
}

/* The sensor measuring key for the client, and its quota and bucket size;
 * NULL when no quota of key applies to it. */
static gb_quota_sensor *gb__quota_sensor(gb_broker *b, int key, const char *client_id, size_t client_len, double *quota,
                                         double *burst, int64_t *now)
{
    gb_quotas *q = gb__quotas(b);
    if (!q || q->with_key[key] == 0)
        return NULL;
    char client[256];
    snprintf(client, sizeof client, "%.*s", client_id ? (int)(client_len < 255 ? client_len : 255) : 0,
             client_id ? client_id : "");
    bool tag_user, tag_client;
    if (!gb__quota_resolve(q, key, GB_QUOTA_ANONYMOUS, client, quota, &tag_user, &tag_client))
        return NULL;
    *now = (int64_t)uv_now(b->loop);
    /* Kafka's controller mutation quota has keys of its own. */
    bool mutation = key == GB_QK_CONTROLLER_MUTATION_RATE;
    int num = mutation ? b->cfg->controller_quota_window_num : b->cfg->quota_window_num;
    int64_t size = mutation ? b->cfg->controller_quota_window_size_seconds : b->cfg->quota_window_size_seconds;
    *burst = gb_quota_bucket_burst(*quota, num, size * 1000);
    gb_quota_sensor *s = gb__sensor(b, key, tag_user ? GB_QUOTA_ANONYMOUS : "", tag_client ? client : "", *now);
    s->quota = *quota;
    s->burst = *burst;
    return s;
}

/* Kafka bounds a request-time throttle to one window (ClientRequestQuotaManager). */
static int32_t gb__bound(gb_broker *b, int key, int32_t ms)
{
    int64_t max = (int64_t)b->cfg->quota_window_size_seconds * 1000;
    return key == GB_QK_REQUEST_PERCENTAGE && ms > max ? (int32_t)max : ms;
}

/* Record value (negative: take back) and return the throttle time. */
static int32_t gb__quotas_record(gb_broker *b, int key, const char *client_id, size_t client_len, double value,
                                 bool check)
{
    double quota, burst;
    int64_t now;
    gb_quota_sensor *s = gb__quota_sensor(b, key, client_id, client_len, &quota, &burst, &now);
    if (!s)
        return 0;
    gb_quota_bucket_record(&s->bucket, quota, burst, value, now);
    return check ? gb__bound(b, key, gb_quota_bucket_throttle_ms(&s->bucket, quota, burst, now)) : 0;
}

int32_t gb_quotas_throttle(gb_broker *b, int key, const char *client_id, size_t client_len)
{
    double quota, burst;
    int64_t now;
    gb_quota_sensor *s = gb__quota_sensor(b, key, client_id, client_len, &quota, &burst, &now);
    return s ? gb__bound(b, key, gb_quota_bucket_throttle_ms(&s->bucket, quota, burst, now)) : 0;
}

bool gb_quotas_mutate(gb_broker *b, const char *client_id, size_t client_len, double partitions, bool strict,
                      int32_t *throttle_ms)
{
    double quota, burst;
    int64_t now;
    int key = GB_QK_CONTROLLER_MUTATION_RATE;
    gb_quota_sensor *s = gb__quota_sensor(b, key, client_id, client_len, &quota, &burst, &now);
    if (!s)
        return true;
    if (strict) {
        /* Kafka's StrictControllerMutationQuota: refused while the bucket
         * is below zero; admitted otherwise, even past zero. */
        int32_t ms = gb_quota_bucket_throttle_ms(&s->bucket, quota, burst, now);
        if (ms > 0) {
            if (ms > *throttle_ms)
                *throttle_ms = ms;
            return false;
        }
        gb_quota_bucket_record(&s->bucket, quota, burst, partitions, now);
        return true;
    }
    /* Permissive (older versions): always admitted, throttled after. */
    gb_quota_bucket_record(&s->bucket, quota, burst, partitions, now);
    int32_t ms = gb_quota_bucket_throttle_ms(&s->bucket, quota, burst, now);
    if (ms > *throttle_ms)
        *throttle_ms = ms;
    return true;
}

int64_t gb_quotas_fetch_cap(gb_broker *b, const char *client_id, size_t client_len)
{
    gb_quotas *q = gb__quotas(b);
    if (!q || q->with_key[GB_QK_CONSUMER_BYTE_RATE] == 0)
        return INT64_MAX;
    char client[256];
    snprintf(client, sizeof client, "%.*s", client_id ? (int)(client_len < 255 ? client_len : 255) : 0,
             client_id ? client_id : "");
    double quota;
    bool tag_user, tag_client;
    if (!gb__quota_resolve(q, GB_QK_CONSUMER_BYTE_RATE, GB_QUOTA_ANONYMOUS, client, &quota, &tag_user, &tag_client))
        return INT64_MAX;
    double cap = quota * (double)(b->cfg->quota_window_num - 1) * (double)b->cfg->quota_window_size_seconds;
    return cap >= (double)INT32_MAX ? INT32_MAX : (int64_t)cap;
}

bool gb_quotas_any(const gb_broker *b, int key)
{
    const gb_quotas *q = b->quotas;
    return q && q->with_key[key] != 0;
}

int32_t gb_quotas_record(gb_broker *b, int key, const char *client_id, size_t client_len, double bytes)
{
    return gb__quotas_record(b, key, client_id, client_len, bytes, true);
}

void gb_quotas_unrecord(gb_broker *b, int key, const char *client_id, size_t client_len, double bytes)
{
    gb__quotas_record(b, key, client_id, client_len, -bytes, false);
}

#include <arpa/inet.h> /* inet_pton, for the lookup below */

/* Two IP addresses as text are the same address (so "::1" and
 * "0:0:0:0:0:0:0:1" match, as Kafka compares InetAddress objects). */
static bool gb__ip_same(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1)
        return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1)
        return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
    return strcmp(a, b) == 0;
}

int64_t gb_quotas_ip_connection_rate(const gb_broker *b, const char *ip)
{
    gb_quotas *q = gb__quotas(b);
    if (!q || q->with_key[GB_QK_CONNECTION_CREATION_RATE] == 0)
        return -1;
    const gb_quota_entry *dflt = NULL;
    for (size_t i = 0; i < q->count; i++) {
        const gb_quota_entry *e = q->entries[i];
        if (!e->has[GS_QUOTA_IP] || !(e->present & (1u << GB_QK_CONNECTION_CREATION_RATE)))
            continue;
        if (!e->name[GS_QUOTA_IP])
            dflt = e;
        else if (gb__ip_same(e->name[GS_QUOTA_IP], ip))
            return (int64_t)e->value[GB_QK_CONNECTION_CREATION_RATE];
    }
    return dflt ? (int64_t)dflt->value[GB_QK_CONNECTION_CREATION_RATE] : -1;
}
