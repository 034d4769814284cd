#include "broker/core/gb_topics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_partition_events.h"
#include "protocol/gp_errors.h"
#include "storage/gs_dirfiles.h"
#include "storage/gs_meta.h"
#include "storage/gs_names.h"

#define GB_TOPICS_FILE "gregor-topics.properties"

struct gb_topics {
    gb_topic **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    /* topic store writes: one in flight, the next one coalesced */
    bool writing, dirty;
    bool store_failed; /* the last write failed: retried with each checkpoint and at close */
    struct gb_persist_wait *waiting, *in_flight;
    /* deleted topics whose store write failed: their renamed directories
     * keep partition.metadata (the mark a restart finishes the deletion
     * by) until a store write without them succeeds */
    struct gb_removal *unstored;
    bool checkpointing[2]; /* [recovery]: a checkpoint job of that kind runs */
    /* callers of gb_topics_checkpoint_start_offsets waiting for a job that
     * starts after their call (one running now may have missed their change) */
    struct gb_checkpoint_wait *start_waiting;
};

typedef struct gb_checkpoint_wait {
    void (*done)(void *arg, int rc);
    void *arg;
    struct gb_checkpoint_wait *next;
} gb_checkpoint_wait;

typedef struct gb_persist_wait {
    void (*done)(void *arg);
    void (*done_rc)(void *arg, int rc); /* instead of done: told the write's result */
    void *arg;
    struct gb_persist_wait *next;
} gb_persist_wait;

static uint64_t gb__hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static void gb__insert(gb_topics *ts, gb_topic *t)
{
    if (ts->count + 1 > ts->nbuckets) {
        size_t nb = ts->nbuckets ? ts->nbuckets * 2 : 64;
        gb_topic **b = gu_calloc(nb, sizeof *b);
        for (size_t i = 0; i < ts->nbuckets; i++)
            for (gb_topic *x = ts->buckets[i], *next; x; x = next) {
                next = x->hash_next;
                size_t k = gb__hash(x->name, x->name_len) & (nb - 1);
                x->hash_next = b[k];
                b[k] = x;
            }
        free(ts->buckets);
        ts->buckets = b;
        ts->nbuckets = nb;
    }
    size_t k = gb__hash(t->name, t->name_len) & (ts->nbuckets - 1);
    t->hash_next = ts->buckets[k];
    ts->buckets[k] = t;
    ts->count++;
}

static void gb__remove(gb_topics *ts, gb_topic *t)
{
    size_t k = gb__hash(t->name, t->name_len) & (ts->nbuckets - 1);
    for (gb_topic **pp = &ts->buckets[k]; *pp; pp = &(*pp)->hash_next)
        if (*pp == t) {
            *pp = t->hash_next;
            ts->count--;
            return;
        }
}

gb_topic *gb_topic_find(gb_broker *b, const char *name, size_t len)
{
    gb_topics *ts = b->topics;
    if (!ts->nbuckets)
        return NULL;
    for (gb_topic *t = ts->buckets[gb__hash(name, len) & (ts->nbuckets - 1)]; t; t = t->hash_next)
        if (t->name_len == len && memcmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

gb_topic *gb_topic_find_id(gb_broker *b, const gp_uuid *id)
{
    gb_topics *ts = b->topics;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            if (memcmp(t->id.b, id->b, 16) == 0)
                return t;
    return NULL;
}

bool gb_topic_name_is_internal(const char *name, size_t len)
{
    static const char *const internal[] = {"__consumer_offsets", "__transaction_state", "__share_group_state"};
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
        if (len == strlen(internal[i]) && memcmp(name, internal[i], len) == 0)
            return true;
    return false;
}

gb_partition *gb_topic_partition(gb_topic *t, int32_t index)
{
    return index >= 0 && index < gb_topic_visible(t) ? t->partitions[index] : NULL;
}

gb_partition *gb_topic_partition_opened(gb_topic *t, int32_t index)
{
    return index >= 0 && index < t->npartitions ? t->partitions[index] : NULL;
}

gb_topic *gb_topic_find_visible(gb_broker *b, const char *name, size_t len)
{
    gb_topic *t = gb_topic_find(b, name, len);
    return t && gb_topic_visible(t) > 0 ? t : NULL;
}

int32_t gb_topic_visible(const gb_topic *t)
{
    return t->hiding > 0 && t->visible < t->npartitions ? t->visible : t->npartitions;
}

void gb_topic_hide_from(gb_topic *t, int32_t from)
{
    if (t->hiding++ == 0 || from < t->visible)
        t->visible = from;
}

void gb_topic_reveal(gb_topic *t, int32_t upto)
{
    if (t->hiding > 0 && --t->hiding > 0 && upto > t->visible)
        t->visible = upto;
}

static int gb__cmp_topic(const void *a, const void *b)
{
    const gb_topic *x = *(gb_topic *const *)a, *y = *(gb_topic *const *)b;
    return strcmp(x->name, y->name);
}

gb_topic **gb_topics_list(gb_broker *b, gp_arena *a, size_t *n)
{
    gb_topics *ts = b->topics;
    gb_topic **list = gp_arena_alloc(a, (ts->count ? ts->count : 1) * sizeof *list);
    size_t k = 0;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            list[k++] = t;
    if (k > 1)
        qsort(list, k, sizeof *list, gb__cmp_topic);
    *n = k;
    return list;
}

void gb_topic_log_config(const gb_topic *t, gs_log_config *out)
{
    out->segment_bytes = t->cfg.segment_bytes;
    out->segment_ms = t->cfg.segment_ms;
    out->segment_index_bytes = t->cfg.segment_index_bytes;
    out->index_interval_bytes = t->cfg.index_interval_bytes;
}

/* ---- uuids ------------------------------------------------------------------ */

/* A new topic id, avoiding the ids Kafka reserves or avoids (zero, one,
 * and ids whose text starts with '-', which look like command-line flags). */
static void gb__new_topic_id(gp_uuid *u, char text[23])
{
    for (;;) {
        if (gs_uuid_random(u->b) < 0)
            abort();
        gs_uuid_text(u->b, text);
        if (text[0] != '-')
            return;
    }
}

/* ---- files ------------------------------------------------------------------ */

static void gb__partition_dir(gb_broker *b, const gb_topic *t, int32_t p, char *out, size_t len)
{
    snprintf(out, len, "%s/%s-%d", b->data_dir, t->name, p);
}

/* The text of a checkpoint file: every partition's recovery point, or its
 * log start offset. */
static void gb__checkpoint_text(gb_broker *b, bool recovery, gs_checkpoint_text *out)
{
    gb_topics *ts = b->topics;
    size_t n = 0;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            n += (size_t)t->npartitions;
    gs_checkpoint_text_begin(out, n);
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            for (int32_t p = 0; p < t->npartitions; p++) {
                gb_partition *part = t->partitions[p];
                int64_t v = recovery ? part->recovery_point : gs_log_start_offset(part->log);
                gs_checkpoint_text_add(out, t->name, p, v);
            }
}

static int gb__write_checkpoint(gb_broker *b, bool recovery, const gs_checkpoint_text *text)
{
    return gs_checkpoint_write(b->data_dir, recovery ? GS_RECOVERY_CHECKPOINT : GS_START_CHECKPOINT, text);
}

/* A periodic checkpoint, as Kafka's log manager writes them: for the
 * recovery points, the closed segments above each partition's recovery
 * point are synced first (log and both indexes), then the recovery point
 * becomes the active segment's base offset. The new values are taken on
 * the loop when the job starts and put back if a sync or the write fails;
 * nothing else reads them before the job ends (a stop lets it finish). */
typedef struct gb_checkpoint_part {
    gp_uuid topic;
    int32_t index;
    int64_t before, after;
} gb_checkpoint_part;

typedef struct gb_checkpoint_job {
    gb_job work;
    gb_broker *b;
    bool recovery;
    gs_log_slice *refs;
    size_t nrefs, refs_cap;
    gb_checkpoint_part *parts;
    size_t nparts, parts_cap;
    gs_checkpoint_text text;
    gb_checkpoint_wait *waits; /* answered when this job ends */
    int rc;
    bool synced;
} gb_checkpoint_job;

static void gb__checkpoint_work(void *arg)
{
    gb_checkpoint_job *job = arg;
    for (size_t i = 0; i < job->nrefs && job->rc == 0; i++)
        job->rc = gs_log_slice_sync_closed(&job->refs[i]);
    job->synced = job->rc == 0;
    if (job->synced)
        job->rc = gb__write_checkpoint(job->b, job->recovery, &job->text);
}

static void gb__checkpoint_after(void *arg)
{
    gb_checkpoint_job *job = arg;
    gb_broker *b = job->b;
    for (size_t i = 0; i < job->nrefs; i++)
        gs_log_slice_release(&job->refs[i]);
    if (job->rc < 0)
        gb_logger_error("cannot %s %s: %s", job->synced ? "write" : "sync the segments for",
                        job->recovery ? GS_RECOVERY_CHECKPOINT : GS_START_CHECKPOINT, strerror(-job->rc));
    for (size_t i = 0; job->rc < 0 && i < job->nparts; i++) {
        gb_topic *t = gb_topic_find_id(b, &job->parts[i].topic);
        gb_partition *p = t ? gb_topic_partition_opened(t, job->parts[i].index) : NULL;
        if (p && p->recovery_point == job->parts[i].after)
            p->recovery_point = job->parts[i].before;
    }
    b->topics->checkpointing[job->recovery] = false;
    gb_checkpoint_wait *w = job->waits;
    int rc = job->rc;
    free(job->refs);
    free(job->parts);
    gs_checkpoint_text_free(&job->text);
    free(job);
    /* Changes made while this job ran need the next one. */
    if (b->topics->start_waiting)
        gb_topics_checkpoint(b, false);
    while (w) {
        gb_checkpoint_wait *next = w->next;
        w->done(w->arg, rc);
        free(w);
        w = next;
    }
}

/* Take references to p's closed segments above its recovery point. */
static void gb__checkpoint_collect(gb_checkpoint_job *job, gb_partition *p)
{
    int64_t upto;
    size_t need = job->nrefs + gs_log_segments_from(p->log, p->recovery_point);
    if (need > job->refs_cap) {
        job->refs_cap = need > 2 * job->refs_cap ? need : 2 * job->refs_cap;
        job->refs = gu_realloc(job->refs, job->refs_cap * sizeof *job->refs);
    }
    job->nrefs += gs_log_closed_refs(p->log, p->recovery_point, job->refs + job->nrefs, job->refs_cap - job->nrefs,
                                     &upto);
    if (upto <= p->recovery_point)
        return;
    if (job->nparts == job->parts_cap) {
        job->parts_cap = job->parts_cap ? job->parts_cap * 2 : 16;
        job->parts = gu_realloc(job->parts, job->parts_cap * sizeof *job->parts);
    }
    job->parts[job->nparts++] = (gb_checkpoint_part){p->topic->id, p->index, p->recovery_point, upto};
    p->recovery_point = upto;
}

static void gb__persist_wait(gb_broker *b, void (*done)(void *arg), void (*done_rc)(void *arg, int rc), void *arg);

void gb_topics_checkpoint(gb_broker *b, bool recovery)
{
    gb_topics *ts = b->topics;
    /* A topic store that could not be written (a full disk) still holds
     * what the broker answered (a deletion, say): try again. */
    if (ts->store_failed && !ts->writing)
        gb__persist_wait(b, NULL, NULL, NULL);
    if (ts->checkpointing[recovery])
        return;
    gb_checkpoint_job *job = gu_calloc(1, sizeof *job);
    job->b = b;
    job->recovery = recovery;
    job->refs_cap = 16;
    job->refs = gu_malloc(job->refs_cap * sizeof *job->refs);
    for (size_t i = 0; recovery && i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            for (int32_t p = 0; p < t->npartitions; p++)
                gb__checkpoint_collect(job, t->partitions[p]);
    gb__checkpoint_text(b, recovery, &job->text);
    if (!recovery) {
        job->waits = ts->start_waiting;
        ts->start_waiting = NULL;
    }
    ts->checkpointing[recovery] = true;
    gb_job_queue(b->loop, &job->work, gb__checkpoint_work, gb__checkpoint_after, job);
}

void gb_topics_checkpoint_start_offsets(gb_broker *b, void (*done)(void *arg, int rc), void *arg)
{
    gb_checkpoint_wait *w = gu_malloc(sizeof *w);
    w->done = done;
    w->arg = arg;
    w->next = b->topics->start_waiting;
    b->topics->start_waiting = w;
    gb_topics_checkpoint(b, false); /* skipped while one runs: its end starts the next */
}

/* ---- topic objects --------------------------------------------------------------- */

static void gb__free_overrides(gc_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

static gc_kv *gb__copy_overrides(const gc_kv *kv, size_t n)
{
    gc_kv *c = gu_calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i].key = strdup(kv[i].key);
        c[i].value = kv[i].value ? strdup(kv[i].value) : NULL;
    }
    return c;
}

static void gb__topic_free(gb_topic *t)
{
    for (int32_t p = 0; p < t->npartitions; p++)
        free(t->partitions[p]);
    free(t->partitions);
    gc_topic_config_free(&t->cfg);
    gb__free_overrides(t->overrides, t->noverrides);
    free(t->name);
    free(t);
}

static gb_topic *gb__topic_new(const char *name, size_t len)
{
    gb_topic *t = gu_calloc(1, sizeof *t);
    t->name = gu_malloc(len + 1);
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->name_len = len;
    t->internal = gb_topic_name_is_internal(name, len);
    return t;
}

/* What rebuilding a partition's producer state took, when it took work. */
static void gb__log_pstate_load(const gb_topic *t, int32_t p, const gs_pstate_load *pl)
{
    if (pl->snapshots_corrupt > 0)
        gb_logger_warn("partition %s-%d: %d unreadable producer snapshot(s) deleted", t->name, p,
                       pl->snapshots_corrupt);
    if (pl->replay_from < 0)
        return;
    if (pl->snapshot_offset >= 0)
        gb_logger_info("partition %s-%d: producer state from the snapshot at offset %" PRId64 " and %" PRId64
                       " producer batch(es) replayed from offset %" PRId64 ": %zu producer(s)",
                       t->name, p, pl->snapshot_offset, pl->batches_replayed, pl->replay_from, pl->producers);
    else
        gb_logger_info("partition %s-%d: producer state rebuilt from the log (%" PRId64
                       " producer batch(es) from offset "
                       "%" PRId64 "): %zu producer(s)",
                       t->name, p, pl->batches_replayed, pl->replay_from, pl->producers);
}

/* Open (creating or recovering) partitions [from, to) of t. */
static int gb__open_partitions(gb_broker *b, gb_topic *t, int32_t from, int32_t to, bool creating,
                               const gs_checkpoint *rp, const gs_checkpoint *ls, bool clean,
                               char *err, size_t errlen)
{
    gb_partition **parts = gu_realloc(t->partitions, (size_t)to * sizeof *parts);
    t->partitions = parts;
    gs_log_config lc;
    gb_topic_log_config(t, &lc);
    for (int32_t p = from; p < to; p++) {
        char dir[PATH_MAX];
        gb__partition_dir(b, t, p, dir, sizeof dir);
        int64_t recovery = creating ? 0 : gs_checkpoint_get(rp, t->name, p);
        int64_t start = creating ? 0 : gs_checkpoint_get(ls, t->name, p);
        gs_log_recovery rec;
        gs_log *log;
        char e[512];
        if (gs_log_open(dir, &lc, recovery < 0 ? 0 : recovery, start < 0 ? 0 : start, clean || creating, &log, &rec, e,
                        sizeof e) < 0) {
            snprintf(err, errlen, "partition %s-%d: %s", t->name, p, e);
            if (creating)
                (void)gs_dir_remove(dir); /* the directory gs_log_open made, and what it put there */
            t->npartitions = p;
            return -1;
        }
        if (rec.cleanings_completed > 0)
            gb_logger_info("partition %s-%d: completed the swap of %d cleaned segment(s) an interrupted cleaning had "
                           "committed",
                           t->name, p, rec.cleanings_completed);
        if (rec.indexes_corrupt > 0)
            gb_logger_warn("partition %s-%d: %d segment(s) had indexes that failed the sanity check; rebuilt them from "
                           "the log",
                           t->name, p, rec.indexes_corrupt);
        if (rec.indexes_partial > 0)
            gb_logger_warn("partition %s-%d: no disk space for some index entries of %d rebuilt segment(s): they work "
                           "with sparser indexes (lookups scan further)",
                           t->name, p, rec.indexes_partial);
        if (rec.truncated_bytes > 0)
            gb_logger_warn("partition %s-%d: recovery cut %" PRId64 " bytes of a torn or corrupt tail (%d segment(s) "
                           "removed); log end offset now %" PRId64,
                           t->name, p, rec.truncated_bytes, rec.segments_removed, gs_log_end_offset(log));
        else if (!clean && !creating && rec.indexes_rebuilt > 0)
            gb_logger_info("partition %s-%d: recovered %d segment(s), nothing cut; log end offset %" PRId64, t->name, p,
                           rec.indexes_rebuilt, gs_log_end_offset(log));
        gs_pstate *ps;
        gs_pstate_load pl;
        if (gs_pstate_open(log, clean || creating, gu_wall_ms(), &ps, &pl, e, sizeof e) < 0) {
            snprintf(err, errlen, "partition %s-%d: %s", t->name, p, e);
            if (creating)
                (void)gs_log_delete(log);
            else
                gs_log_close(log);
            t->npartitions = p;
            return -1;
        }
        gb__log_pstate_load(t, p, &pl);
        char id[23];
        if (creating || !gs_partition_metadata_read(dir, id) || strcmp(id, t->id_text) != 0) {
            int r = gs_partition_metadata_write(dir, t->id_text);
            if (r < 0 && creating) {
                /* Without it the directory's topic is unknown after a restart. */
                snprintf(err, errlen, "partition %s-%d: cannot write partition.metadata: %s", t->name, p,
                         strerror(-r));
                (void)gs_log_delete(log);
                gs_pstate_free(ps);
                t->npartitions = p;
                return -1;
            }
        }
        gb_partition *part = gu_calloc(1, sizeof *part);
        part->topic = t;
        part->index = p;
        part->log = log;
        part->pstate = ps;
        int64_t flushed = clean || creating ? gs_log_end_offset(log) : (recovery < 0 ? 0 : recovery);
        if (flushed > gs_log_end_offset(log))
            flushed = gs_log_end_offset(log);
        part->recovery_point = flushed;
        gb_partition_publish(b, part, GB_PARTITION_OPENED);
        t->partitions[p] = part;
        t->npartitions = p + 1;
    }
    return 0;
}

/* Close and delete partitions [from, npartitions) of t, just created: their
 * listeners hear GONE first, as for a deletion. The files go at once: a
 * new partition has next to nothing in them. */
static void gb__drop_new_partitions(gb_broker *b, gb_topic *t, int32_t from)
{
    for (int32_t p = t->npartitions - 1; p >= from; p--) {
        gb_partition *part = t->partitions[p];
        gb_partition_publish(b, part, GB_PARTITION_GONE);
        int rc = gs_log_delete(part->log);
        if (rc < 0)
            gb_logger_warn("partition %s-%d: cannot remove its directory: %s", t->name, p, strerror(-rc));
        gs_pstate_free(part->pstate);
        free(part);
        t->partitions[p] = NULL;
    }
    t->npartitions = from < t->npartitions ? from : t->npartitions;
}

/* ---- the store file ------------------------------------------------------------- */

/* name/id=..., name/partitions=N, name/config/<key>=<value>, one topic
 * after the other. Topic names cannot contain '/'. */
static char *gb__store_text(gb_broker *b, size_t *len)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t n;
    gb_topic **list = gb_topics_list(b, &a, &n);
    size_t cap = 256, used = 0;
    for (size_t i = 0; i < n; i++) {
        cap += 2 * list[i]->name_len + 96;
        for (size_t k = 0; k < list[i]->noverrides; k++)
            cap += list[i]->name_len + strlen(list[i]->overrides[k].key) +
                   (list[i]->overrides[k].value ? strlen(list[i]->overrides[k].value) : 0) + 16;
    }
    char *text = gu_malloc(cap);
    used += (size_t)snprintf(text, cap, "# Gregor's topic store: ids, partition counts, config overrides.\n");
    for (size_t i = 0; i < n; i++) {
        gb_topic *t = list[i];
        used += (size_t)snprintf(text + used, cap - used, "%s/id=%s\n%s/partitions=%d\n", t->name, t->id_text, t->name,
                                 t->npartitions);
        for (size_t k = 0; k < t->noverrides; k++)
            if (t->overrides[k].value)
                used += (size_t)snprintf(text + used, cap - used, "%s/config/%s=%s\n", t->name, t->overrides[k].key,
                                         t->overrides[k].value);
    }
    gp_arena_reset(&a, NULL, 0);
    *len = used;
    return text;
}

typedef struct gb_persist_job {
    gb_job work;
    gb_broker *b;
    char *path;
    char *text;
    size_t len;
    int rc;
    bool slow;
} gb_persist_job;

/* Test-only fault points (GREGOR_TEST_FAULT): topic-store makes every
 * write of the store fail, as on a full disk; topic-store-slow makes each
 * take a second longer (a slow disk), for as long as the broker runs. */
static bool gb__store_fault(const char *which)
{
    const char *f = getenv("GREGOR_TEST_FAULT");
    return f && strcmp(f, which) == 0;
}

static void gb__persist_work(void *arg)
{
    gb_persist_job *job = arg;
    if (job->slow)
        uv_sleep(1000);
    job->rc = job->rc < 0 ? job->rc : gs_write_file_atomic(job->path, job->text, job->len);
}

static void gb__persist_start(gb_broker *b);
static void gb__removals_finish(gb_broker *b);
static void gb__removals_drop(gb_topics *ts);
static void gb__removal_add_mark(gb_broker *b, const char *dir);
static bool gb__dir_has_records(const char *path);

static void gb__persist_after(void *arg)
{
    gb_persist_job *job = arg;
    gb_broker *b = job->b;
    gb_topics *ts = b->topics;
    if (job->rc < 0 && !ts->store_failed)
        gb_logger_error("cannot write %s: %s (retried every checkpoint interval until it can be)", job->path,
                        strerror(-job->rc));
    else if (job->rc == 0 && ts->store_failed)
        gb_logger_info("wrote %s again", job->path);
    ts->store_failed = job->rc < 0;
    gb_persist_wait *done = ts->in_flight;
    int rc = job->rc;
    ts->in_flight = NULL;
    ts->writing = false;
    free(job->path);
    free(job->text);
    free(job);
    if (rc == 0)
        gb__removals_finish(b);
    if (ts->dirty)
        gb__persist_start(b);
    while (done) {
        gb_persist_wait *next = done->next;
        if (done->done_rc)
            done->done_rc(done->arg, rc);
        else
            done->done(done->arg);
        free(done);
        done = next;
    }
}

static void gb__persist_start(gb_broker *b)
{
    gb_topics *ts = b->topics;
    gb_persist_job *job = gu_calloc(1, sizeof *job);
    job->b = b;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", b->data_dir, GB_TOPICS_FILE);
    job->path = strdup(path);
    job->text = gb__store_text(b, &job->len);
    job->rc = gb__store_fault("topic-store") ? -ENOSPC : 0;
    job->slow = gb__store_fault("topic-store-slow");
    ts->writing = true;
    ts->dirty = false;
    ts->in_flight = ts->waiting;
    ts->waiting = NULL;
    gb_job_queue(b->loop, &job->work, gb__persist_work, gb__persist_after, job);
}

static void gb__persist_wait(gb_broker *b, void (*done)(void *arg), void (*done_rc)(void *arg, int rc), void *arg)
{
    gb_topics *ts = b->topics;
    if (done || done_rc) {
        gb_persist_wait *w = gu_malloc(sizeof *w);
        w->done = done;
        w->done_rc = done_rc;
        w->arg = arg;
        w->next = ts->waiting;
        ts->waiting = w;
    }
    ts->dirty = true;
    if (!ts->writing)
        gb__persist_start(b);
}

void gb_topics_persist(gb_broker *b, void (*done)(void *arg), void *arg)
{
    gb__persist_wait(b, done, NULL, arg);
}

void gb_topics_persist_result(gb_broker *b, void (*done)(void *arg, int rc), void *arg)
{
    gb__persist_wait(b, NULL, done, arg);
}

static int gb__persist_now(gb_broker *b)
{
    size_t len;
    char *text = gb__store_text(b, &len);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", b->data_dir, GB_TOPICS_FILE);
    int rc = gb__store_fault("topic-store") ? -ENOSPC : gs_write_file_atomic(path, text, len);
    free(text);
    return rc;
}

/* Parse the store into topics (without opening partitions); *found says
 * whether there was a store at all. */
static int gb__load_store(gb_broker *b, bool *found, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", b->data_dir, GB_TOPICS_FILE);
    *found = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    *found = true;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char *slash = strchr(line, '/'), *eq = strchr(line, '=');
        if (!slash || !eq || eq < slash) {
            snprintf(err, errlen, "%s:%d: cannot read '%s'", path, lineno, line);
            free(line);
            fclose(f);
            return -1;
        }
        *slash = '\0';
        *eq = '\0';
        const char *name = line, *what = slash + 1, *value = eq + 1;
        gb_topic *t = gb_topic_find(b, name, strlen(name));
        if (!t) {
            t = gb__topic_new(name, strlen(name));
            gb__insert(b->topics, t);
        }
        if (strcmp(what, "id") == 0) {
            snprintf(t->id_text, sizeof t->id_text, "%s", value);
            if (gs_uuid_parse(value, t->id.b) < 0) {
                snprintf(err, errlen, "%s:%d: bad topic id '%s'", path, lineno, value);
                free(line);
                fclose(f);
                return -1;
            }
        } else if (strcmp(what, "partitions") == 0) {
            t->npartitions = atoi(value); /* opened later */
        } else if (strncmp(what, "config/", 7) == 0) {
            t->overrides = gu_realloc(t->overrides, (t->noverrides + 1) * sizeof *t->overrides);
            t->overrides[t->noverrides].key = strdup(what + 7);
            t->overrides[t->noverrides].value = strdup(value);
            t->noverrides++;
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* Directories renamed for deletion (`<topic>-<p>.<hex>-delete`, Kafka's
 * names) outlived a crash. Removed now; and if the store still lists their
 * topic (same topic id: the crash came before the store was rewritten), the
 * deletion is finished: the topic and any partition directory of that id
 * still under its own name go too (one of the same name but another id, a
 * topic auto-created since, stays), and the renamed directory keeps its
 * partition.metadata until the store is written without the topic. */
static bool gb__finish_deletions(gb_broker *b)
{
    DIR *d = opendir(b->data_dir);
    if (!d)
        return false;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 8 || strcmp(de->d_name + l - 7, "-delete") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            names = gu_realloc(names, cap * sizeof *names);
        }
        names[n++] = gu_strdup(de->d_name);
    }
    closedir(d);
    bool changed = false;
    /* First the topics (a topic's partitions may each have a renamed
     * directory), then the directories: a mark stays while it names a
     * topic finished here, until the store is written without it. */
    char (*ids)[23] = gu_calloc(n ? n : 1, sizeof *ids);
    bool *finished = gu_calloc(n ? n : 1, sizeof *finished);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", b->data_dir, names[i]);
        gp_uuid u;
        if (!gs_partition_metadata_read(path, ids[i]) || gs_uuid_parse(ids[i], u.b) < 0) {
            ids[i][0] = '\0';
            continue;
        }
        gb_topic *t = gb_topic_find_id(b, &u);
        if (!t)
            continue;
        gb_logger_warn("finishing the deletion of topic %s, interrupted by a crash", t->name);
        for (int32_t p = 0; p < t->npartitions; p++) {
            char dir[PATH_MAX], other[23];
            gb__partition_dir(b, t, p, dir, sizeof dir);
            bool has_id = gs_partition_metadata_read(dir, other);
            if (has_id ? strcmp(other, ids[i]) == 0 : !gb__dir_has_records(dir))
                (void)gs_dir_remove(dir);
        }
        gb__remove(b->topics, t);
        t->npartitions = 0; /* none opened yet */
        gb__topic_free(t);
        changed = true;
        finished[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", b->data_dir, names[i]);
        bool mark = false;
        for (size_t k = 0; k < n && !mark && ids[i][0]; k++)
            mark = finished[k] && strcmp(ids[k], ids[i]) == 0;
        int rc = mark ? gs_dir_remove_except(path, "partition.metadata") : gs_dir_remove(path);
        if (rc < 0)
            gb_logger_warn("cannot remove %s: %s", path, strerror(-rc));
        if (mark)
            gb__removal_add_mark(b, path); /* removed once the store is written */
        free(names[i]);
    }
    free(ids);
    free(finished);
    free(names);
    return changed;
}

/* Set a partition directory aside as Kafka does with a stray log (one its
 * metadata does not list): renamed to <topic>-<p>.<32 hex>-stray, kept,
 * never loaded. */
static void gb__set_aside(gb_broker *b, const char *name)
{
    uint8_t u[16];
    if (gs_uuid_random(u) < 0)
        abort();
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/%s", b->data_dir, name);
    int l = snprintf(to, sizeof to, "%s/%s.", b->data_dir, name);
    for (int i = 0; i < 16; i++)
        l += snprintf(to + l, sizeof to - (size_t)l, "%02x", u[i]);
    snprintf(to + l, sizeof to - (size_t)l, "-stray");
    if (rename(from, to) < 0)
        gb_logger_warn("cannot set aside partition directory %s: %s", name, strerror(errno));
    else
        gb_logger_warn("partition directory %s is not in %s (a creation that never completed): set aside as %s, "
                       "not loaded",
                       name, GB_TOPICS_FILE, strrchr(to, '/') + 1);
}

/* Whether a partition directory holds any record: a .log file that is not
 * empty. */
static bool gb__dir_has_records(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        struct stat st;
        if (n > 4 && strcmp(de->d_name + n - 4, ".log") == 0 && fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
            st.st_size > 0)
            found = true;
    }
    closedir(d);
    return found;
}

/* Partition directories the store does not list. The store is the
 * broker's metadata, as Kafka's metadata log is Kafka's: a directory it
 * does not list was never answered as created (a crash between making the
 * directory and writing the store), so it is set aside like Kafka's stray
 * logs, not adopted. Except when it holds records: a topic auto-created by
 * Metadata or Produce is served before its store write completes, so a
 * crash in that window can leave acknowledged records in a directory the
 * store does not list; such a directory is adopted, with the broker's
 * default configs (an auto-created topic's own). A data directory without
 * any store (one from Kafka, or from a Gregor that never stored a topic)
 * has all its directories adopted. */
static bool gb__scan_dirs(gb_broker *b, bool store_found)
{
    bool adopted = false;
    DIR *d = opendir(b->data_dir);
    if (!d)
        return false;
    char **stray = NULL;
    size_t nstray = 0, cstray = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dash = strrchr(de->d_name, '-');
        if (!dash || dash == de->d_name || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
            continue;
        size_t len = (size_t)(dash - de->d_name);
        const char *why;
        if (gs_topic_name_check(de->d_name, len, &why) < 0)
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", b->data_dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        int32_t p = atoi(dash + 1);
        gb_topic *t = gb_topic_find(b, de->d_name, len);
        if (store_found && (!t || p >= t->npartitions) && !gb__dir_has_records(path)) {
            if (nstray == cstray) {
                cstray = cstray ? cstray * 2 : 8;
                stray = gu_realloc(stray, cstray * sizeof *stray);
            }
            stray[nstray++] = gu_strdup(de->d_name);
            continue;
        }
        if (!t) {
            t = gb__topic_new(de->d_name, len);
            gb__insert(b->topics, t);
            char id[23];
            if (gs_partition_metadata_read(path, id) && gs_uuid_parse(id, t->id.b) == 0)
                snprintf(t->id_text, sizeof t->id_text, "%s", id);
            gb_logger_warn("adopting partition directory %s: topic %s was not in %s (created with default configs)",
                           de->d_name, t->name, GB_TOPICS_FILE);
            adopted = true;
        }
        if (p + 1 > t->npartitions) {
            t->npartitions = p + 1;
            adopted = true;
        }
    }
    closedir(d);
    for (size_t i = 0; i < nstray; i++) {
        gb__set_aside(b, stray[i]);
        free(stray[i]);
    }
    free(stray);
    return adopted;
}

/* Each partition maps its active segment's two indexes, and each cached
 * closed segment up to two more: Linux refuses mappings beyond
 * vm.max_map_count (65530 by default), and a topic created past it fails
 * (KAFKA_STORAGE_ERROR). Say so at start-up when the broker is near. */
static void gb__check_map_count(gb_broker *b)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long max = 0;
    if (!f)
        return;
    if (fscanf(f, "%ld", &max) != 1)
        max = 0;
    fclose(f);
    int64_t parts = 0;
    gb_topics *ts = b->topics;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            parts += t->npartitions;
    int64_t need = 2 * parts + 2 * (int64_t)b->cfg->gregor_log_open_segments_max;
    if (max > 0 && need > max * 3 / 4)
        gb_logger_warn("%" PRId64 " partitions map up to %" PRId64 " index files, near vm.max_map_count (%ld): raise it "
                       "(sysctl vm.max_map_count) before creating many more partitions",
                       parts, need, max);
}

int gb_topics_open(gb_broker *b, char *err, size_t errlen)
{
    b->topics = gu_calloc(1, sizeof *b->topics);
    gs_log_set_open_files_max((size_t)b->cfg->gregor_log_open_segments_max);
    bool clean = gs_clean_shutdown_marked(b->data_dir);
    bool store_found;
    if (gb__load_store(b, &store_found, err, errlen) < 0)
        return -1;
    bool changed = gb__finish_deletions(b);
    changed = gb__scan_dirs(b, store_found) || changed;
    gs_checkpoint rp, ls;
    gs_checkpoint_read(b->data_dir, GS_RECOVERY_CHECKPOINT, &rp);
    gs_checkpoint_read(b->data_dir, GS_START_CHECKPOINT, &ls);
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t n;
    gb_topic **list = gb_topics_list(b, &a, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        gb_topic *t = list[i];
        if (gp_uuid_is_zero(&t->id)) {
            gb__new_topic_id(&t->id, t->id_text);
            changed = true;
        }
        char e[512];
        if (gc_topic_config_resolve(&t->cfg, b->cfg, t->overrides, t->noverrides, e, sizeof e) < 0) {
            gb_logger_warn("topic %s: stored configs no longer valid (%s); using the defaults", t->name, e);
            gb__free_overrides(t->overrides, t->noverrides);
            t->overrides = NULL;
            t->noverrides = 0;
            (void)gc_topic_config_resolve(&t->cfg, b->cfg, NULL, 0, e, sizeof e);
            changed = true;
        }
        int32_t np = t->npartitions;
        t->npartitions = 0;
        rc = gb__open_partitions(b, t, 0, np, false, &rp, &ls, clean, err, errlen);
    }
    gp_arena_reset(&a, NULL, 0);
    gs_checkpoint_free(&rp);
    gs_checkpoint_free(&ls);
    if (rc < 0)
        return -1;
    if (changed && gb__persist_now(b) < 0) {
        gb_logger_error("cannot write %s/%s (retried every checkpoint interval until it can be)", b->data_dir,
                        GB_TOPICS_FILE);
        b->topics->store_failed = true;
    } else {
        gb__removals_finish(b); /* the deletions finished above are on disk */
    }
    /* From now on a crash is an unclean stop. */
    gs_clean_shutdown_clear(b->data_dir);
    gb__check_map_count(b);
    if (b->topics->count > 0)
        gb_logger_info("loaded %zu topic(s) after a%s shutdown", b->topics->count, clean ? " clean" : "n unclean");
    return 0;
}

void gb_topics_close(gb_broker *b)
{
    gb_topics *ts = b->topics;
    if (!ts)
        return;
    if ((ts->store_failed || ts->dirty) && gb__persist_now(b) < 0)
        gb_logger_error("cannot write %s/%s at shutdown", b->data_dir, GB_TOPICS_FILE);
    bool ok = true;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            for (int32_t p = 0; p < t->npartitions; p++) {
                gb_partition *part = t->partitions[p];
                /* A snapshot at the log end: no replay at the next start. */
                int rc = gs_pstate_snapshot(part->pstate, gs_log_end_offset(part->log), true);
                if (rc < 0)
                    gb_logger_warn("partition %s-%d: cannot write the producer snapshot: %s", t->name, p,
                                   strerror(-rc));
                part->recovery_point = gs_log_end_offset(part->log); /* once the syncfs below is done */
            }
    gs_checkpoint_text rtext, stext;
    gb__checkpoint_text(b, true, &rtext);
    gb__checkpoint_text(b, false, &stext);
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i], *next; t; t = next) {
            next = t->hash_next;
            for (int32_t p = 0; p < t->npartitions; p++) {
                gs_log_close(t->partitions[p]->log); /* trims the active indexes */
                gs_pstate_free(t->partitions[p]->pstate);
            }
            gb__topic_free(t);
        }
    gb__removals_drop(ts);
    free(ts->buckets);
    free(ts);
    b->topics = NULL;
    /* Every log and index, synced at once (one syncfs rather than three
     * fdatasyncs per partition), before the checkpoints say so. */
    int dfd = open(b->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || syncfs(dfd) < 0) {
        gb_logger_error("cannot sync %s: %s", b->data_dir, strerror(errno));
        ok = false;
    }
    if (dfd >= 0)
        close(dfd);
    if (ok && gb__write_checkpoint(b, true, &rtext) < 0) {
        gb_logger_error("cannot write %s/%s", b->data_dir, GS_RECOVERY_CHECKPOINT);
        ok = false;
    }
    if (ok && gb__write_checkpoint(b, false, &stext) < 0) {
        gb_logger_error("cannot write %s/%s", b->data_dir, GS_START_CHECKPOINT);
        ok = false;
    }
    gs_checkpoint_text_free(&rtext);
    gs_checkpoint_text_free(&stext);
    if (ok)
        (void)gs_clean_shutdown_mark(b->data_dir);
}

/* ---- changes ---------------------------------------------------------------------- */

/* Kafka refuses names that differ only in '.' versus '_' (they collide in
 * metric names). */
static gb_topic *gb__colliding(gb_broker *b, const char *name, size_t len)
{
    gb_topics *ts = b->topics;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next) {
            if (t->name_len != len)
                continue;
            size_t k = 0;
            for (; k < len; k++) {
                char x = t->name[k] == '.' ? '_' : t->name[k], y = name[k] == '.' ? '_' : name[k];
                if (x != y)
                    break;
            }
            if (k == len)
                return t;
        }
    return NULL;
}

int gb_topic_create(gb_broker *b, const char *name, size_t len, int32_t partitions, const gc_kv *overrides, size_t n,
                    bool validate_only, gb_topic **out, int16_t *kafka_error, char *msg, size_t msglen)
{
    const char *why;
    *out = NULL;
    if (gs_topic_name_check(name, len, &why) < 0) {
        *kafka_error = GP_E_INVALID_TOPIC_EXCEPTION;
        snprintf(msg, msglen, "%s", why);
        return -1;
    }
    if (gb_topic_find(b, name, len)) {
        *kafka_error = GP_E_TOPIC_ALREADY_EXISTS;
        snprintf(msg, msglen, "Topic '%.*s' already exists.", (int)len, name);
        return -1;
    }
    gb_topic *other = gb__colliding(b, name, len);
    if (other) {
        *kafka_error = GP_E_INVALID_TOPIC_EXCEPTION;
        snprintf(msg, msglen, "Topic '%.*s' collides with existing topic: %s", (int)len, name, other->name);
        return -1;
    }
    if (partitions == -1)
        partitions = b->cfg->num_partitions;
    if (partitions <= 0) {
        *kafka_error = GP_E_INVALID_PARTITIONS;
        snprintf(msg, msglen, "Number of partitions was set to an invalid non-positive value.");
        return -1;
    }
    gb_topic *t = gb__topic_new(name, len);
    if (gc_topic_config_resolve(&t->cfg, b->cfg, overrides, n, msg, msglen) < 0) {
        *kafka_error = GP_E_INVALID_CONFIG;
        gb__topic_free(t);
        return -1;
    }
    if (validate_only) {
        gb__topic_free(t);
        return 0;
    }
    t->overrides = gb__copy_overrides(overrides, n);
    t->noverrides = n;
    gb__new_topic_id(&t->id, t->id_text);
    char err[512];
    if (gb__open_partitions(b, t, 0, partitions, true, NULL, NULL, true, err, sizeof err) < 0) {
        gb_logger_error("creating topic %s: %s; nothing of it is left", t->name, err);
        gb__drop_new_partitions(b, t, 0);
        gb__topic_free(t);
        *kafka_error = GP_E_KAFKA_STORAGE_ERROR;
        snprintf(msg, msglen, "%s", err);
        return -1;
    }
    gb__insert(b->topics, t);
    gb_logger_info("created topic %s with %d partition(s), id %s", t->name, t->npartitions, t->id_text);
    *out = t;
    return 0;
}

gb_topic *gb_topic_auto_create(gb_broker *b, const char *name, size_t len)
{
    if (!b->cfg->auto_create_topics_enable)
        return NULL;
    gb_topic *t;
    int16_t e;
    char msg[256];
    if (gb_topic_create(b, name, len, -1, NULL, 0, false, &t, &e, msg, sizeof msg) < 0)
        return NULL;
    gb_topics_persist(b, NULL, NULL);
    return t;
}

/* The renamed directories of a deleted topic, removed on the threadpool
 * once the store no longer lists the topic. If the store cannot be written
 * (a full disk), the files go anyway, to give the space back, but each
 * directory keeps its partition.metadata, which names the topic id: a
 * restart before a store write succeeds then finishes the deletion
 * (gb__finish_deletions) instead of bringing the topic back empty. */
typedef struct gb_removal {
    gb_job work;
    uv_loop_t *loop;
    gb_broker *b;
    bool keep_marks;
    size_t n;
    char **dirs;
    int *rc;
    struct gb_removal *next; /* in gb_topics.unstored */
} gb_removal;

static void gb__removal_work(void *arg)
{
    gb_removal *r = arg;
    for (size_t i = 0; i < r->n; i++)
        r->rc[i] = r->keep_marks ? gs_dir_remove_except(r->dirs[i], "partition.metadata") : gs_dir_remove(r->dirs[i]);
}

static void gb__removal_free(gb_removal *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->dirs[i]);
    free(r->dirs);
    free(r->rc);
    free(r);
}

static void gb__removal_after(void *arg)
{
    gb_removal *r = arg;
    for (size_t i = 0; i < r->n; i++)
        if (r->rc[i] < 0)
            gb_logger_warn("cannot remove %s: %s", r->dirs[i], strerror(-r->rc[i]));
    gb_topics *ts = r->b->topics;
    if (!r->keep_marks || !ts) {
        gb__removal_free(r); /* at close, the next start finishes it */
        return;
    }
    r->next = ts->unstored;
    ts->unstored = r;
    if (!ts->writing) {
        if (ts->store_failed)
            gb__persist_wait(r->b, NULL, NULL, NULL); /* may work now that these files are gone */
        else
            gb__removals_finish(r->b); /* a write after the deletion succeeded meanwhile */
    }
}

static void gb__removal_start(gb_removal *r, bool keep_marks)
{
    r->keep_marks = keep_marks;
    gb_job_queue(r->loop, &r->work, gb__removal_work, gb__removal_after, r);
}

static void gb__removal_stored(void *arg, int rc)
{
    gb__removal_start(arg, rc < 0);
}

/* A renamed directory stripped to its mark at start-up (a deletion
 * finished there): removed with the next store write that succeeds. */
static void gb__removal_add_mark(gb_broker *b, const char *dir)
{
    gb_removal *r = gu_calloc(1, sizeof *r);
    r->loop = b->loop;
    r->b = b;
    r->keep_marks = true;
    r->dirs = gu_calloc(1, sizeof *r->dirs);
    r->rc = gu_calloc(1, sizeof *r->rc);
    r->dirs[r->n++] = gu_strdup(dir);
    r->next = b->topics->unstored;
    b->topics->unstored = r;
}

/* At close: the marks stay, and the next start finishes these deletions. */
static void gb__removals_drop(gb_topics *ts)
{
    for (gb_removal *r = ts->unstored, *next; r; r = next) {
        next = r->next;
        gb__removal_free(r);
    }
    ts->unstored = NULL;
}

/* A store write succeeded: every deletion it follows is on disk. */
static void gb__removals_finish(gb_broker *b)
{
    gb_removal *r = b->topics->unstored;
    b->topics->unstored = NULL;
    while (r) {
        gb_removal *next = r->next;
        gb__removal_start(r, false);
        r = next;
    }
}

int gb_topic_delete(gb_broker *b, gb_topic *t)
{
    for (int32_t p = 0; p < t->npartitions; p++) {
        gb_partition_publish(b, t->partitions[p], GB_PARTITION_GONE);
    }
    gb__remove(b->topics, t);
    gb_removal *r = gu_calloc(1, sizeof *r);
    size_t np = (size_t)(t->npartitions > 0 ? t->npartitions : 1);
    r->dirs = gu_calloc(np, sizeof *r->dirs);
    r->rc = gu_calloc(np, sizeof *r->rc);
    r->loop = b->loop;
    r->b = b;
    int rc = 0;
    for (int32_t p = 0; p < t->npartitions; p++) {
        uint8_t u[16];
        char del[PATH_MAX];
        if (gs_uuid_random(u) < 0)
            abort();
        int l = snprintf(del, sizeof del, "%s/%s-%d.", b->data_dir, t->name, p);
        for (int i = 0; i < 16; i++)
            l += snprintf(del + l, sizeof del - (size_t)l, "%02x", u[i]);
        snprintf(del + l, sizeof del - (size_t)l, "-delete");
        int e = gs_log_detach(t->partitions[p]->log, del);
        if (e < 0) {
            gb_logger_warn("topic %s: cannot rename partition %d's directory for deletion: %s", t->name, p,
                           strerror(-e));
            rc = -1;
        } else {
            r->dirs[r->n++] = gu_strdup(del);
        }
        gs_pstate_free(t->partitions[p]->pstate);
    }
    gb_logger_info("deleted topic %s", t->name);
    gb__topic_free(t);
    /* The files go once the store no longer lists the topic: a crash before
     * that finds the renamed directories and finishes the deletion. */
    gb_topics_persist_result(b, gb__removal_stored, r);
    return rc;
}

int gb_topic_add_partitions(gb_broker *b, gb_topic *t, int32_t total, bool validate_only, int16_t *kafka_error,
                            char *msg, size_t msglen)
{
    if (total <= t->npartitions) {
        *kafka_error = GP_E_INVALID_PARTITIONS;
        if (total == t->npartitions)
            snprintf(msg, msglen, "Topic already has %d partitions.", total);
        else
            snprintf(msg, msglen, "Topic currently has %d partitions, which is higher than the requested %d.",
                     t->npartitions, total);
        return -1;
    }
    if (validate_only)
        return 0;
    char err[512];
    int32_t before = t->npartitions;
    if (gb__open_partitions(b, t, t->npartitions, total, true, NULL, NULL, true, err, sizeof err) < 0) {
        gb_logger_error("adding partitions to topic %s: %s; none added", t->name, err);
        gb__drop_new_partitions(b, t, before);
        *kafka_error = GP_E_KAFKA_STORAGE_ERROR;
        snprintf(msg, msglen, "%s", err);
        return -1;
    }
    gb_logger_info("topic %s now has %d partitions", t->name, t->npartitions);
    return 0;
}

void gb_topic_undo_create(gb_broker *b, gb_topic *t, int32_t from)
{
    gb_logger_warn("topic %s: %s undone: the topic store could not be written", t->name,
                   from == 0 ? "creation" : "new partitions");
    gb__drop_new_partitions(b, t, from);
    if (from == 0) {
        gb__remove(b->topics, t);
        gb__topic_free(t);
    }
}

int gb_topic_set_overrides(gb_broker *b, gb_topic *t, const gc_kv *overrides, size_t n, int16_t *kafka_error, char *msg,
                           size_t msglen)
{
    gc_topic_config cfg;
    if (gc_topic_config_resolve(&cfg, b->cfg, overrides, n, msg, msglen) < 0) {
        *kafka_error = GP_E_INVALID_CONFIG;
        return -1;
    }
    gc_topic_config_free(&t->cfg);
    t->cfg = cfg;
    gb__free_overrides(t->overrides, t->noverrides);
    t->overrides = gb__copy_overrides(overrides, n);
    t->noverrides = n;
    gs_log_config lc;
    gb_topic_log_config(t, &lc);
    for (int32_t p = 0; p < t->npartitions; p++)
        gs_log_set_config(t->partitions[p]->log, &lc);
    return 0;
}

void gb_topics_reconfigure(gb_broker *b)
{
    gb_topics *ts = b->topics;
    for (size_t i = 0; ts && i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next) {
            gc_topic_config cfg;
            char e[512];
            if (gc_topic_config_resolve(&cfg, b->cfg, t->overrides, t->noverrides, e, sizeof e) < 0) {
                gb_logger_warn("topic %s: keeps its configs: %s", t->name, e);
                continue;
            }
            gc_topic_config_free(&t->cfg);
            t->cfg = cfg;
            gs_log_config lc;
            gb_topic_log_config(t, &lc);
            for (int32_t p = 0; p < t->npartitions; p++)
                gs_log_set_config(t->partitions[p]->log, &lc);
        }
}

/* After p's log start offset moved up from `before` (retention,
 * DeleteRecords): the producer state of batches below it goes, as Kafka's
 * ProducerStateManager drops it when the log start offset is incremented. */
static void gb__log_start_moved(gb_partition *p, int64_t before)
{
    int64_t start = gs_log_start_offset(p->log);
    if (start > before)
        (void)gs_pstate_truncate_head(p->pstate, start);
}

int gb_partition_delete_records(gb_partition *p, int64_t offset)
{
    int64_t before = gs_log_start_offset(p->log);
    int rc = gs_log_advance_start(p->log, offset);
    gb__log_start_moved(p, before);
    int64_t start = gs_log_start_offset(p->log);
    if (start > before)
        gb_logger_info("partition %s-%d: DeleteRecords moved the log start offset %" PRId64 " -> %" PRId64
                       " (%zu segment(s) left)",
                       p->topic->name, p->index, before, start, gs_log_segment_count(p->log));
    return rc;
}

void gb_topics_retain(gb_broker *b, int64_t now_ms)
{
    gb_topics *ts = b->topics;
    for (size_t i = 0; i < ts->nbuckets; i++)
        for (gb_topic *t = ts->buckets[i]; t; t = t->hash_next)
            for (int32_t p = 0; p < t->npartitions; p++) {
                gs_log *log = t->partitions[p]->log;
                gs_pstate *ps = t->partitions[p]->pstate;
                size_t expired = gs_pstate_expire(ps, now_ms, b->cfg->producer_id_expiration_ms);
                if (expired > 0)
                    gb_logger_debug("partition %s-%d: %zu idle producer id(s) expired", t->name, p, expired);
                if (gs_log_maybe_roll(log, now_ms) < 0)
                    gb_logger_warn("partition %s-%d: cannot roll its segment", t->name, p);
                if (!gc_topic_deletes(&t->cfg))
                    continue;
                int64_t before = gs_log_start_offset(log);
                int n = gs_log_retain(log, now_ms, t->cfg.retention_ms, t->cfg.retention_bytes);
                gb__log_start_moved(t->partitions[p], before);
                if (n > 0)
                    gb_logger_info("partition %s-%d: retention deleted %d segment(s); log start offset %" PRId64
                                   " -> %" PRId64,
                                   t->name, p, n, before, gs_log_start_offset(log));
                else if (n < 0)
                    gb_logger_warn("partition %s-%d: retention failed: %s", t->name, p, strerror(-n));
            }
}
