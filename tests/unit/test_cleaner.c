/*
 * The log cleaner on its own (storage/gs_cleaner): the latest record of
 * each key survives at its offset, the active segment is untouched,
 * tombstones get a delete horizon (KIP-534) and stay until it passes,
 * transaction markers stay while their transaction has records and go
 * after their horizon, small segments are grouped into one, an idempotent
 * producer's last batch stays (empty), aborted transactions' records go,
 * compressed batches are rebuilt with their codec, a full offset map
 * cleans part of the dirty section, and each step of a cleaning a crash
 * interrupts (.cleaned, .swap, .deleted) is finished or undone by
 * gs_log_open.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gu_common.h"
#include "protocol/gp_batch.h"
#include "storage/gs_cleaner.h"
#include "storage/gs_log.h"
#include "tu_tmpdir.h"

static char root[64], dir[128];
static gp_arena arena;
/* The cleaning's clock (0: the wall clock) and group bounds (0: no grouping). */
static int64_t clean_now, clean_segment_bytes, clean_max_index = 1 << 20;

static const gs_log_config cfg = {
    .segment_bytes = 1 << 20, .segment_ms = 1, .segment_index_bytes = 4096, .index_interval_bytes = 100};

static void setup(void)
{
    tu_tmpdir_make(root, sizeof root, "cleaner");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    gp_arena_init(&arena, NULL, 0);
    clean_now = 0;
    clean_segment_bytes = 0;
    clean_max_index = 1 << 20;
}

static void teardown(void)
{
    tu_tmpdir_remove(root);
    gp_arena_reset(&arena, NULL, 0);
}

static gs_log *open_log(gs_log_recovery *rec)
{
    gs_log *log;
    gs_log_recovery r;
    char err[256];
    int rc = gs_log_open(dir, &cfg, 0, 0, false, &log, rec ? rec : &r, err, sizeof err);
    ck_assert_msg(rc == 0, "open: %s", err);
    return log;
}

/* One batch of "key=value" items ("key" alone: a tombstone); returns its
 * base offset. */
typedef struct batch_opts {
    int64_t producer_id;
    int32_t base_sequence;
    bool transactional;
    int codec;
} batch_opts;

static int64_t append_opts(gs_log *log, const char *const *items, int n, const batch_opts *o)
{
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(items[i], '=');
        size_t klen = eq ? (size_t)(eq - items[i]) : strlen(items[i]);
        recs[i].timestamp_delta = i;
        recs[i].key = (gp_bytes){(const uint8_t *)items[i], (int32_t)klen};
        recs[i].value = eq ? (gp_bytes){(const uint8_t *)eq + 1, (int32_t)strlen(eq + 1)} : (gp_bytes){NULL, -1};
    }
    gp_batch_params p = {.base_timestamp = gu_wall_ms(),
                         .producer_id = o ? o->producer_id : -1,
                         .producer_epoch = o ? 0 : -1,
                         .base_sequence = o ? o->base_sequence : -1,
                         .transactional = o && o->transactional,
                         .codec = o ? o->codec : GP_CODEC_NONE,
                         .level = GP_COMPRESS_LEVEL_DEFAULT};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(&arena, &p, recs, n, &out), 0);
    uint8_t *buf = malloc((size_t)out.len);
    memcpy(buf, out.p, (size_t)out.len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, buf, (size_t)out.len, gu_wall_ms(), false, 0, &base, &last), 0);
    free(buf);
    return base;
}

static int64_t append(gs_log *log, const char *const *items, int n)
{
    return append_opts(log, items, n, NULL);
}

static void roll(gs_log *log)
{
    size_t before = gs_log_segment_count(log);
    ck_assert_int_eq(gs_log_maybe_roll(log, gu_wall_ms() + 1000), 0);
    ck_assert_uint_eq(gs_log_segment_count(log), before + 1);
}

static int64_t active_base(const gs_log *log)
{
    int64_t base, size;
    gs_log_tail(log, &base, &size);
    return base;
}

/* Clean [first_dirty, end) as the broker does; returns cleaned_to. */
/* Prepare and run a cleaning of [first_dirty, end) with the test's
 * settings; the caller swaps it in (or not) and frees it. */
static void plan_run(gs_log *log, gs_clean_plan *pl, int64_t first_dirty, int64_t end, int64_t delete_retention_ms,
                     const gs_clean_producer *producers, size_t nproducers, const gs_aborted_txn *aborted,
                     size_t naborted, int64_t map_bytes)
{
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, first_dirty, end, &plan), 0);
    plan.delete_retention_ms = delete_retention_ms;
    plan.map_bytes = map_bytes;
    plan.load_factor = 0.9;
    plan.io_buffer = 4096;
    plan.producers = gu_malloc((nproducers + 1) * sizeof *producers);
    if (nproducers)
        memcpy(plan.producers, producers, nproducers * sizeof *producers);
    plan.nproducers = nproducers;
    plan.aborted = gu_malloc((naborted + 1) * sizeof *aborted);
    if (naborted)
        memcpy(plan.aborted, aborted, naborted * sizeof *aborted);
    plan.naborted = naborted;
    plan.now_ms = clean_now;
    plan.segment_bytes = clean_segment_bytes;
    plan.max_index_bytes = clean_max_index;
    gs_clean_run(&plan);
    ck_assert_msg(plan.rc == 0, "clean: %s", plan.err);
    *pl = plan;
}

static int64_t clean(gs_log *log, int64_t first_dirty, int64_t end, int64_t delete_retention_ms,
                     const gs_clean_producer *producers, size_t nproducers, const gs_aborted_txn *aborted,
                     size_t naborted, int64_t map_bytes, gs_clean_stats *stats)
{
    gs_clean_plan plan;
    plan_run(log, &plan, first_dirty, end, delete_retention_ms, producers, nproducers, aborted, naborted, map_bytes);
    ck_assert_int_ge(gs_log_clean_swap(log, &plan), 0);
    int64_t to = plan.cleaned_to;
    if (stats)
        *stats = plan.stats;
    gs_clean_plan_free(&plan);
    return to;
}

/* What the log holds, record by record (batch headers too). */
typedef struct rec {
    int64_t offset;
    int64_t timestamp;
    char key[16], value[32]; /* value "" with tombstone set */
    bool tombstone;
} rec;

typedef struct contents {
    rec r[512];
    int n;
    gp_batch_header b[256];
    int nb;
} contents;

static void read_all(gs_log *log, contents *c)
{
    memset(c, 0, sizeof *c);
    int64_t off = gs_log_start_offset(log);
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    while (off < gs_log_end_offset(log)) {
        gs_log_slice s;
        ck_assert_int_eq(gs_log_read(log, off, 1 << 20, true, &s), 0);
        if (s.len == 0) {
            gs_log_slice_release(&s);
            break;
        }
        uint8_t *buf = malloc((size_t)s.len);
        ck_assert_int_eq(gs_log_slice_copy(&s, buf), 0);
        for (int64_t pos = 0; pos + GP_BATCH_HEADER_SIZE <= s.len;) {
            gp_batch_header h;
            gp_batch_header_parse(buf + pos, (size_t)(s.len - pos), &h);
            size_t bytes = GP_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
            ck_assert_uint_eq(gp_batch_crc(buf + pos, bytes), h.crc);
            ck_assert_int_lt(c->nb, 256);
            c->b[c->nb++] = h;
            const uint8_t *recs = buf + pos + GP_BATCH_HEADER_SIZE;
            size_t len = bytes - GP_BATCH_HEADER_SIZE;
            if (gp_batch_codec(&h) != GP_CODEC_NONE)
                ck_assert_int_eq(gp_decompress(gp_batch_codec(&h), recs, len, &a, 1 << 20, &recs, &len), 0);
            gp_record_iter it;
            gp_record r;
            gp_record_iter_init(&it, recs, len, h.records_count);
            while (gp_record_next(&it, &r) > 0) {
                rec *o = &c->r[c->n++];
                o->offset = h.base_offset + r.offset_delta;
                o->timestamp = h.base_timestamp + r.timestamp_delta;
                snprintf(o->key, sizeof o->key, "%.*s", r.key.len, (const char *)r.key.p);
                o->tombstone = r.value.len < 0;
                if (!o->tombstone)
                    snprintf(o->value, sizeof o->value, "%.*s", r.value.len, (const char *)r.value.p);
            }
            off = h.base_offset + h.last_offset_delta + 1;
            pos += (int64_t)bytes;
        }
        gs_log_slice_release(&s);
        free(buf);
    }
    gp_arena_reset(&a, NULL, 0);
}

static const rec *find(const contents *c, int64_t offset)
{
    for (int i = 0; i < c->n; i++)
        if (c->r[i].offset == offset)
            return &c->r[i];
    return NULL;
}

START_TEST(test_latest_per_key)
{
    gs_log *log = open_log(NULL);
    static const char *const b1[] = {"a=1", "b=1", "c=1"};
    static const char *const b2[] = {"a=2", "b=2"};
    static const char *const b3[] = {"a=3"};
    append(log, b1, 3); /* 0-2 */
    append(log, b2, 2); /* 3-4 */
    roll(log);
    append(log, b3, 1); /* 5: a second closed segment */
    roll(log);
    static const char *const act[] = {"c=9", "a=9"};
    append(log, act, 2); /* 6-7: the active segment, never cleaned */
    int64_t end = active_base(log);
    ck_assert_int_eq(end, 6);
    gs_clean_stats st;
    ck_assert_int_eq(clean(log, 0, end, 86400000, NULL, 0, NULL, 0, 1 << 20, &st), end);
    ck_assert_int_eq(st.records_read, 6);
    ck_assert_int_eq(st.records_kept, 3);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 5); /* c=1 (2), b=2 (4), a=3 (5), c=9, a=9 */
    ck_assert_str_eq(find(&c, 2)->value, "1");
    ck_assert_str_eq(find(&c, 2)->key, "c");
    ck_assert_str_eq(find(&c, 4)->value, "2");
    ck_assert_str_eq(find(&c, 5)->value, "3");
    ck_assert_str_eq(find(&c, 6)->value, "9");
    ck_assert_str_eq(find(&c, 7)->value, "9");
    /* Batches keep their offsets: the first still spans 0-2. */
    ck_assert_int_eq(c.b[0].base_offset, 0);
    ck_assert_int_eq(c.b[0].last_offset_delta, 2);
    ck_assert_int_eq(c.b[1].base_offset, 3);
    ck_assert_int_eq(c.b[1].last_offset_delta, 1);
    ck_assert_int_eq(gs_log_end_offset(log), 8);
    /* Reads from an offset in a gap go to the next record. */
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, 3, 1 << 20, true, &s), 0);
    ck_assert_int_gt(s.len, 0);
    gs_log_slice_release(&s);
    /* And after a restart (indexes rebuilt or trusted) the same. */
    gs_log_close(log);
    log = open_log(NULL);
    contents c2;
    read_all(log, &c2);
    ck_assert_int_eq(c2.n, 5);
    ck_assert_int_eq(memcmp(c.r, c2.r, sizeof c.r), 0);
    gs_log_close(log);
    /* Nothing left behind. */
    char path[256];
    snprintf(path, sizeof path, "%s/00000000000000000000.log.swap", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/00000000000000000000.log.deleted", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

static void set_mtime(int64_t base, int64_t ms)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".log", dir, base);
    struct timespec ts[2] = {{ms / 1000, (ms % 1000) * 1000000}, {ms / 1000, (ms % 1000) * 1000000}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(test_tombstones_kept_then_removed)
{
    gs_log *log = open_log(NULL);
    static const char *const b1[] = {"a=1", "b=1", "a"};
    static const char *const b2[] = {"c=1"};
    static const char *const b3[] = {"d=1"};
    append(log, b1, 3); /* a's tombstone at 2 */
    roll(log);
    append(log, b2, 1); /* 3 */
    roll(log);
    contents before;
    read_all(log, &before);
    int64_t ts_b = find(&before, 1)->timestamp, ts_a = find(&before, 2)->timestamp;
    /* First cleaning: the tombstone's batch gets its delete horizon, now
     * + delete.retention.ms, as its base timestamp and bit 6; every
     * record keeps its timestamp. */
    int64_t t0 = gu_wall_ms();
    clean_now = t0;
    gs_clean_stats st;
    int64_t to = clean(log, 0, active_base(log), 1000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.horizons_set, 1);
    ck_assert_int_eq(st.tombstones_dropped, 0);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert(find(&c, 2)->tombstone);
    ck_assert_ptr_null(find(&c, 0));
    ck_assert_int_eq(c.b[0].attributes & GP_BATCH_ATTR_DELETE_HORIZON, GP_BATCH_ATTR_DELETE_HORIZON);
    ck_assert_int_eq(c.b[0].base_timestamp, t0 + 1000);
    ck_assert_int_eq(c.b[0].max_timestamp, ts_a);
    ck_assert_int_eq(find(&c, 1)->timestamp, ts_b);
    ck_assert_int_eq(find(&c, 2)->timestamp, ts_a);
    ck_assert_int_eq(c.b[1].attributes & GP_BATCH_ATTR_DELETE_HORIZON, 0); /* no tombstone: untouched */
    /* Before the horizon: it stays, and the horizon is not moved. */
    append(log, b3, 1);
    roll(log);
    clean_now = t0 + 999;
    to = clean(log, to, active_base(log), 1000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.horizons_set, 0);
    read_all(log, &c);
    ck_assert(find(&c, 2)->tombstone);
    ck_assert_int_eq(c.b[0].base_timestamp, t0 + 1000);
    /* At the horizon it goes; the batch keeps its horizon. */
    append(log, b3, 1);
    roll(log);
    clean_now = t0 + 1000;
    clean(log, to, active_base(log), 1000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.tombstones_dropped, 1);
    read_all(log, &c);
    ck_assert_ptr_null(find(&c, 2));
    ck_assert_str_eq(find(&c, 1)->key, "b");
    ck_assert_int_eq(find(&c, 1)->timestamp, ts_b);
    ck_assert_int_eq(c.b[0].base_timestamp, t0 + 1000);
    /* And the same after a restart (the horizon batch read by recovery). */
    gs_log_close(log);
    log = open_log(NULL);
    contents c2;
    read_all(log, &c2);
    ck_assert_int_eq(c2.n, c.n);
    ck_assert_int_eq(memcmp(c.r, c2.r, sizeof c.r), 0);
    /* The cleaned copy kept its source's modification time. */
    gs_log_close(log);
}
END_TEST

/* Append a transaction marker for producer pid; returns its offset. */
static int64_t append_marker(gs_log *log, int64_t pid, int16_t type)
{
    gp_txn_marker m = {.type = type, .coordinator_epoch = 0, .producer_id = pid, .producer_epoch = 0,
                       .timestamp = gu_wall_ms()};
    gp_bytes mb;
    ck_assert_int_eq(gp_batch_build_control(&arena, 0, 0, &m, &mb), 0);
    uint8_t *buf = malloc((size_t)mb.len);
    memcpy(buf, mb.p, (size_t)mb.len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, buf, (size_t)mb.len, gu_wall_ms(), false, 0, &base, &last), 0);
    free(buf);
    return base;
}

static const gp_batch_header *batch_at(const contents *c, int64_t base)
{
    for (int i = 0; i < c->nb; i++)
        if (c->b[i].base_offset == base)
            return &c->b[i];
    return NULL;
}

START_TEST(test_commit_marker_kept_while_data_then_removed)
{
    gs_log *log = open_log(NULL);
    static const char *const t1[] = {"k=1", "j=1"};
    static const char *const t2[] = {"m=1"};
    static const char *const over[] = {"k=2", "j=2"};
    batch_opts tx = {.producer_id = 9, .base_sequence = 0, .transactional = true};
    append_opts(log, t1, 2, &tx);                    /* 0-1 */
    int64_t c1 = append_marker(log, 9, GP_CONTROL_COMMIT); /* 2 */
    tx.base_sequence = 2;
    append_opts(log, t2, 1, &tx);                    /* 3 */
    int64_t c2 = append_marker(log, 9, GP_CONTROL_COMMIT); /* 4 */
    append(log, over, 2);                            /* 5-6: k and j again */
    roll(log);
    int64_t t0 = gu_wall_ms();
    clean_now = t0;
    gs_clean_stats st;
    /* Pass 1: k=1 and j=1 go, but the pass met them: both markers stay,
     * without a horizon. */
    int64_t to = clean(log, 0, active_base(log), 500, NULL, 0, NULL, 0, 1 << 20, &st);
    contents c;
    read_all(log, &c);
    ck_assert_ptr_null(find(&c, 0));
    ck_assert_ptr_nonnull(batch_at(&c, c1));
    ck_assert_ptr_nonnull(batch_at(&c, c2));
    ck_assert_int_eq(batch_at(&c, c1)->attributes & GP_BATCH_ATTR_DELETE_HORIZON, 0);
    ck_assert_int_eq(st.horizons_set, 0);
    /* Pass 2: the first transaction has no batch left: its marker gets a
     * horizon; the second one's record m=1 is still there: its marker
     * stays as it is. */
    static const char *const d[] = {"z=1"};
    append(log, d, 1);
    roll(log);
    to = clean(log, to, active_base(log), 500, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.horizons_set, 1);
    read_all(log, &c);
    const gp_batch_header *m1 = batch_at(&c, c1);
    ck_assert_ptr_nonnull(m1);
    ck_assert(gp_batch_is_control(m1));
    ck_assert_int_eq(m1->attributes & GP_BATCH_ATTR_DELETE_HORIZON, GP_BATCH_ATTR_DELETE_HORIZON);
    ck_assert_int_eq(m1->base_timestamp, t0 + 500);
    ck_assert_int_eq(m1->records_count, 1);
    ck_assert_int_eq(batch_at(&c, c2)->attributes & GP_BATCH_ATTR_DELETE_HORIZON, 0);
    /* Pass 3, before the horizon: it stays. Pass 4, after: it goes. */
    append(log, d, 1);
    roll(log);
    clean_now = t0 + 499;
    to = clean(log, to, active_base(log), 500, NULL, 0, NULL, 0, 1 << 20, &st);
    read_all(log, &c);
    ck_assert_ptr_nonnull(batch_at(&c, c1));
    append(log, d, 1);
    roll(log);
    clean_now = t0 + 500;
    clean(log, to, active_base(log), 500, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.markers_dropped, 1);
    read_all(log, &c);
    ck_assert_ptr_null(batch_at(&c, c1));
    ck_assert_ptr_nonnull(batch_at(&c, c2));
    ck_assert_str_eq(find(&c, 3)->value, "1");
    gs_log_close(log);
}
END_TEST

START_TEST(test_marker_last_of_producer_kept_empty)
{
    /* A producer's last batch is its marker: once eligible and past its
     * horizon it stays as an empty batch (its epoch fences). */
    gs_log *log = open_log(NULL);
    static const char *const t1[] = {"k=1"};
    static const char *const over[] = {"k=2"};
    batch_opts tx = {.producer_id = 4, .base_sequence = 0, .transactional = true};
    append_opts(log, t1, 1, &tx);                          /* 0 */
    int64_t c1 = append_marker(log, 4, GP_CONTROL_COMMIT); /* 1 */
    append(log, over, 1);                                  /* 2 */
    roll(log);
    gs_clean_producer keep = {4, c1};
    int64_t t0 = gu_wall_ms();
    clean_now = t0;
    int64_t to = clean(log, 0, active_base(log), 100, &keep, 1, NULL, 0, 1 << 20, NULL);
    append(log, over, 1);
    roll(log);
    to = clean(log, to, active_base(log), 100, &keep, 1, NULL, 0, 1 << 20, NULL); /* horizon set */
    append(log, over, 1);
    roll(log);
    clean_now = t0 + 100;
    gs_clean_stats st;
    clean(log, to, active_base(log), 100, &keep, 1, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.batches_emptied, 1);
    contents c;
    read_all(log, &c);
    const gp_batch_header *m = batch_at(&c, c1);
    ck_assert_ptr_nonnull(m);
    ck_assert(gp_batch_is_control(m));
    ck_assert_int_eq(m->records_count, 0);
    ck_assert_int_eq(m->producer_id, 4);
    gs_log_close(log);
}
END_TEST

START_TEST(test_idempotent_last_batch_kept)
{
    gs_log *log = open_log(NULL);
    static const char *const x1[] = {"x=1"};
    static const char *const x2[] = {"x=2", "y=2"};
    static const char *const x3[] = {"x=3", "y=3"};
    batch_opts p7 = {.producer_id = 7, .base_sequence = 0};
    append_opts(log, x1, 1, &p7); /* 0 */
    p7.base_sequence = 1;
    append_opts(log, x2, 2, &p7); /* 1-2: producer 7's last batch */
    append(log, x3, 2);           /* 3-4: not idempotent, newer x and y */
    roll(log);
    gs_clean_producer keep = {7, 2};
    gs_clean_stats st;
    clean(log, 0, active_base(log), 86400000, &keep, 1, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.batches_emptied, 1);
    ck_assert_int_eq(st.batches_dropped, 1);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.nb, 2);
    /* The empty batch: producer 7's sequence and offsets survive. */
    ck_assert_int_eq(c.b[0].base_offset, 1);
    ck_assert_int_eq(c.b[0].last_offset_delta, 1);
    ck_assert_int_eq(c.b[0].records_count, 0);
    ck_assert_int_eq(c.b[0].producer_id, 7);
    ck_assert_int_eq(c.b[0].base_sequence, 1);
    ck_assert_int_eq(c.b[1].base_offset, 3);
    gs_log_close(log);
}
END_TEST

START_TEST(test_aborted_and_markers)
{
    gs_log *log = open_log(NULL);
    static const char *const t1[] = {"k=aborted", "j=aborted"};
    static const char *const t2[] = {"m=1"};
    batch_opts tx = {.producer_id = 9, .base_sequence = 0, .transactional = true};
    append_opts(log, t1, 2, &tx);                          /* 0-1, aborted below */
    int64_t a1 = append_marker(log, 9, GP_CONTROL_ABORT); /* 2 */
    gs_aborted_txn ab = {9, 0, 2, 3};
    ck_assert_int_eq(gs_log_add_aborted_txn(log, &ab), 0);
    append(log, t2, 1); /* 3 */
    roll(log);
    gs_aborted_txn got[2];
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, INT64_MAX, got, 2), 1);
    int64_t t0 = gu_wall_ms();
    clean_now = t0;
    int64_t to = clean(log, 0, active_base(log), 1000, NULL, 0, &ab, 1, 1 << 20, NULL);
    contents c;
    read_all(log, &c);
    /* Pass 1: the aborted records are gone; the pass met them, so the
     * marker stays, with its txnindex entry. */
    ck_assert_ptr_null(find(&c, 0));
    ck_assert_ptr_null(find(&c, 1));
    ck_assert_int_eq(c.nb, 2);
    ck_assert(gp_batch_is_control(&c.b[0]));
    ck_assert_int_eq(c.b[0].base_offset, a1);
    ck_assert_int_eq(c.b[0].attributes & GP_BATCH_ATTR_DELETE_HORIZON, 0);
    ck_assert_str_eq(find(&c, 3)->value, "1");
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, INT64_MAX, got, 2), 1);
    ck_assert_int_eq(got[0].first_offset, 0);
    ck_assert_int_eq(got[0].last_offset, 2);
    /* Pass 2: nothing of the transaction is left: the marker gets its
     * horizon and its txnindex entry goes (on disk too). */
    static const char *const d[] = {"z=1"};
    append(log, d, 1);
    roll(log);
    gs_clean_stats st;
    to = clean(log, to, active_base(log), 1000, NULL, 0, &ab, 1, 1 << 20, &st);
    ck_assert_int_eq(st.horizons_set, 1);
    read_all(log, &c);
    ck_assert_int_eq(c.b[0].base_offset, a1);
    ck_assert_int_eq(c.b[0].attributes & GP_BATCH_ATTR_DELETE_HORIZON, GP_BATCH_ATTR_DELETE_HORIZON);
    ck_assert_int_eq(c.b[0].base_timestamp, t0 + 1000);
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, INT64_MAX, got, 2), 0);
    gs_log_close(log);
    log = open_log(NULL);
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, INT64_MAX, got, 2), 0);
    /* Pass 3, past the horizon: the marker goes. */
    append(log, d, 1);
    roll(log);
    clean_now = t0 + 1000;
    clean(log, to, active_base(log), 1000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.markers_dropped, 1);
    read_all(log, &c);
    ck_assert_ptr_null(batch_at(&c, a1));
    for (int i = 0; i < c.nb; i++)
        ck_assert(!gp_batch_is_control(&c.b[i]));
    gs_log_close(log);
}
END_TEST

START_TEST(test_compressed_rebuilt)
{
    static const int codecs[] = {GP_CODEC_GZIP, GP_CODEC_SNAPPY, GP_CODEC_LZ4, GP_CODEC_ZSTD};
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        tu_tmpdir_remove(root);
        tu_tmpdir_make(root, sizeof root, "cleaner");
        snprintf(dir, sizeof dir, "%s/topic-0", root);
        gs_log *log = open_log(NULL);
        static const char *const b[] = {"a=1", "b=1", "a=2", "c=1", "b=2"};
        batch_opts o = {.producer_id = -1, .base_sequence = -1, .codec = codecs[k]};
        append_opts(log, b, 5, &o);
        roll(log);
        clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, NULL);
        contents c;
        read_all(log, &c);
        ck_assert_int_eq(c.nb, 1);
        ck_assert_int_eq(gp_batch_codec(&c.b[0]), codecs[k]);
        ck_assert_int_eq(c.b[0].last_offset_delta, 4);
        ck_assert_int_eq(c.b[0].records_count, 3);
        ck_assert_int_eq(c.n, 3);
        ck_assert_str_eq(find(&c, 2)->key, "a");
        ck_assert_str_eq(find(&c, 3)->key, "c");
        ck_assert_str_eq(find(&c, 4)->value, "2");
        gs_log_close(log);
    }
}
END_TEST

START_TEST(test_map_full_cleans_part)
{
    gs_log *log = open_log(NULL);
    /* 2000 distinct keys, then each once more: a map of 1024 slots (the
     * least) holds 921, so a pass cleans part of the dirty section. */
    char items[2000][16];
    const char *ptrs[2000];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2000; i++) {
            snprintf(items[i], sizeof items[i], "k%d=%d", i, round);
            ptrs[i] = items[i];
        }
        for (int i = 0; i < 2000; i += 100)
            append(log, ptrs + i, 100);
        roll(log);
    }
    int64_t end = active_base(log);
    int64_t first = 0;
    int passes = 0;
    while (first < end) {
        int64_t to = clean(log, first, end, 86400000, NULL, 0, NULL, 0, 1, NULL);
        ck_assert_int_gt(to, first);
        first = to;
        passes++;
    }
    ck_assert_int_gt(passes, 1);
    contents *c = malloc(sizeof *c);
    /* Only the second round left: every key once, at offsets 2000-3999. */
    int64_t off = gs_log_start_offset(log);
    int n = 0;
    while (off < gs_log_end_offset(log)) {
        gs_log_slice s;
        ck_assert_int_eq(gs_log_read(log, off, 1 << 20, true, &s), 0);
        if (s.len == 0) {
            gs_log_slice_release(&s);
            break;
        }
        uint8_t *buf = malloc((size_t)s.len);
        ck_assert_int_eq(gs_log_slice_copy(&s, buf), 0);
        for (int64_t pos = 0; pos + GP_BATCH_HEADER_SIZE <= s.len;) {
            gp_batch_header h;
            gp_batch_header_parse(buf + pos, (size_t)(s.len - pos), &h);
            if (h.records_count > 0)
                ck_assert_int_ge(h.base_offset, 2000);
            n += h.records_count;
            off = h.base_offset + h.last_offset_delta + 1;
            pos += GP_BATCH_LOG_OVERHEAD + h.batch_length;
        }
        gs_log_slice_release(&s);
        free(buf);
    }
    ck_assert_int_eq(n, 2000);
    free(c);
    gs_log_close(log);
}
END_TEST

/* A cleaning run and committed (.swap files) but not swapped in: what a
 * kill -9 right after the commit leaves. */
static void run_unswapped(gs_log *log)
{
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, 0, active_base(log), &plan), 0);
    plan.delete_retention_ms = 86400000;
    plan.map_bytes = 1 << 20;
    plan.load_factor = 0.9;
    plan.io_buffer = 4096;
    plan.segment_bytes = clean_segment_bytes;
    plan.max_index_bytes = clean_max_index;
    gs_clean_run(&plan);
    ck_assert_int_eq(plan.rc, 0);
    for (size_t i = 0; i < plan.nout; i++)
        plan.out[i].written = false; /* keep the .swap files */
    gs_clean_plan_free(&plan);
}

static bool exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void do_rename(const char *from, const char *to)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    ck_assert_int_eq(rename(a, b), 0);
}

static gs_log *fill(void)
{
    gs_log *log = open_log(NULL);
    static const char *const b1[] = {"a=1", "b=1", "a=2"};
    static const char *const b2[] = {"z=1"};
    append(log, b1, 3);
    roll(log);
    append(log, b2, 1);
    return log;
}

/* After reopening: cleaned (2 records in segment 0) or not (3). */
static int records_in_first_segment(gs_log *log)
{
    contents c;
    read_all(log, &c);
    int n = 0;
    for (int i = 0; i < c.n; i++)
        n += c.r[i].offset < 3;
    return n;
}

START_TEST(test_recovery_cleaned_files_removed)
{
    gs_log *log = fill();
    run_unswapped(log);
    gs_log_close(log);
    /* A crash before the commit: the .log is still .cleaned. */
    do_rename("00000000000000000000.log.swap", "00000000000000000000.log.cleaned");
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 0);
    ck_assert(!exists("00000000000000000000.log.cleaned"));
    ck_assert(!exists("00000000000000000000.index.swap"));
    ck_assert(!exists("00000000000000000000.timeindex.swap"));
    ck_assert_int_eq(records_in_first_segment(log), 3);
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_swap_completed)
{
    gs_log *log = fill();
    run_unswapped(log);
    gs_log_close(log);
    /* A crash after the commit, before the swap: it is completed. */
    ck_assert(exists("00000000000000000000.log.swap"));
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 1);
    ck_assert(!exists("00000000000000000000.log.swap"));
    ck_assert(!exists("00000000000000000000.index.swap"));
    ck_assert_int_eq(records_in_first_segment(log), 2);
    ck_assert_int_eq(gs_log_end_offset(log), 4);
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_half_swapped)
{
    gs_log *log = fill();
    run_unswapped(log);
    gs_log_close(log);
    /* A crash in the middle of the swap: the old .index and .log are
     * .deleted already, the new .index in place, the .log still .swap. */
    do_rename("00000000000000000000.index", "00000000000000000000.index.deleted");
    do_rename("00000000000000000000.log", "00000000000000000000.log.deleted");
    do_rename("00000000000000000000.index.swap", "00000000000000000000.index");
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 1);
    ck_assert(!exists("00000000000000000000.log.deleted"));
    ck_assert(!exists("00000000000000000000.index.deleted"));
    ck_assert(!exists("00000000000000000000.timeindex.swap"));
    ck_assert_int_eq(records_in_first_segment(log), 2);
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_deleted_left)
{
    gs_log *log = fill();
    contents before;
    read_all(log, &before);
    gs_log_close(log);
    log = open_log(NULL);
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, NULL);
    gs_log_close(log);
    /* A crash before the .deleted files were unlinked. */
    char path[256];
    snprintf(path, sizeof path, "%s/00000000000000000000.log.deleted", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    log = open_log(NULL);
    ck_assert(!exists("00000000000000000000.log.deleted"));
    ck_assert_int_eq(records_in_first_segment(log), 2);
    gs_log_close(log);
}
END_TEST

START_TEST(test_retention_during_cleaning)
{
    gs_log *log = fill();
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, 0, active_base(log), &plan), 0);
    plan.delete_retention_ms = 86400000;
    plan.map_bytes = 1 << 20;
    plan.load_factor = 0.9;
    plan.io_buffer = 4096;
    gs_clean_run(&plan);
    ck_assert_int_eq(plan.rc, 0);
    /* Retention waits while a plan is out. */
    ck_assert_int_eq(gs_log_retain(log, gu_wall_ms() + 100000, 1, -1), 0);
    ck_assert_int_eq(gs_log_start_offset(log), 0);
    /* DeleteRecords removed the segment meanwhile: nothing is swapped
     * and the .swap files go. */
    ck_assert_int_eq(gs_log_advance_start(log, 3), 0);
    ck_assert_int_eq(gs_log_clean_swap(log, &plan), 0);
    gs_clean_plan_free(&plan);
    ck_assert(!exists("00000000000000000000.log.swap"));
    ck_assert(!exists("00000000000000000000.log"));
    gs_log_close(log);
}
END_TEST

START_TEST(test_emptied_segment_retained)
{
    /* compact,delete: a segment the cleaner emptied does not stop
     * retention behind it. */
    gs_log *log = open_log(NULL);
    static const char *const b1[] = {"a=1"};
    static const char *const b2[] = {"a=2"};
    append(log, b1, 1);
    roll(log);
    append(log, b2, 1);
    roll(log);
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, NULL);
    ck_assert_int_eq(gs_log_segment_count(log), 3);
    ck_assert_int_eq(gs_log_retain(log, gu_wall_ms(), 86400000, -1), 1);
    ck_assert_int_eq(gs_log_start_offset(log), 1);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(find(&c, 1)->value, "2");
    gs_log_close(log);
}
END_TEST

/* Group fake segments (base offsets, .log sizes, index entries) below cleaned_to. */
static size_t group(const int64_t *bases, const int64_t *sizes, const size_t *entries, size_t n, int64_t cleaned_to,
                    int64_t seg_bytes, int64_t max_index, size_t *counts)
{
    gs_clean_plan plan;
    memset(&plan, 0, sizeof plan);
    gs_segment *segs = calloc(n, sizeof *segs);
    plan.segs = calloc(n, sizeof *plan.segs);
    plan.nsegs = n;
    for (size_t i = 0; i < n; i++) {
        segs[i].base_offset = bases[i];
        segs[i].next_offset = i + 1 < n ? bases[i + 1] : cleaned_to;
        segs[i].index.entries = entries ? entries[i] : 0;
        segs[i].timeindex.entries = entries ? entries[i] : 0;
        plan.segs[i] = (gs_log_slice){&segs[i], -1, 0, sizes[i]};
    }
    plan.cleaned_to = cleaned_to;
    plan.segment_bytes = seg_bytes;
    plan.max_index_bytes = max_index;
    gs_clean_group(&plan);
    size_t first = 0;
    for (size_t g = 0; g < plan.nout; g++) {
        ck_assert_uint_eq(plan.out[g].first, first);
        ck_assert_int_eq(plan.out[g].base_offset, bases[first]);
        counts[g] = plan.out[g].count;
        first += plan.out[g].count;
    }
    size_t nout = plan.nout;
    free(plan.out);
    free(plan.segs);
    free(segs);
    return nout;
}

START_TEST(test_group_bounds)
{
    size_t counts[8];
    /* segment.bytes: 100 + 100 <= 250 < 300; an empty segment adds nothing. */
    int64_t b1[] = {0, 10, 20, 30, 40, 50};
    int64_t s1[] = {100, 100, 100, 0, 100, 100};
    ck_assert_uint_eq(group(b1, s1, NULL, 6, 60, 250, 1 << 20, counts), 3);
    ck_assert_uint_eq(counts[0], 2);
    ck_assert_uint_eq(counts[1], 3); /* 100 + 0 + 100 */
    ck_assert_uint_eq(counts[2], 1);
    /* Only the segments below cleaned_to. */
    ck_assert_uint_eq(group(b1, s1, NULL, 6, 25, 1 << 20, 1 << 20, counts), 1);
    ck_assert_uint_eq(counts[0], 3);
    /* No grouping without segment.bytes. */
    ck_assert_uint_eq(group(b1, s1, NULL, 6, 60, 0, 1 << 20, counts), 6);
    /* The index bound: 3 entries (24 bytes, 36 of time index) a segment,
     * 80 bytes at most: two segments' time indexes (72) fit, three not. */
    size_t e1[] = {3, 3, 3, 3, 3, 3};
    ck_assert_uint_eq(group(b1, s1, e1, 6, 60, 1 << 20, 80, counts), 3);
    ck_assert_uint_eq(counts[0], 2);
    /* The offset range: a segment whose last offset is more than
     * 2^31 - 1 past the group's base starts a new group, unless it is empty. */
    int64_t big = (int64_t)INT32_MAX;
    int64_t b2[] = {0, 100, big - 10, big + 100};
    int64_t s2[] = {10, 10, 10, 10};
    ck_assert_uint_eq(group(b2, s2, NULL, 4, big + 200, 1 << 20, 1 << 20, counts), 2);
    ck_assert_uint_eq(counts[0], 2); /* 0-99, 100-(big-11) */
    ck_assert_uint_eq(counts[1], 2); /* (big-10)-..., up to big + 199 */
    int64_t b3[] = {0, 100, 200};
    int64_t s3[] = {10, 10, 10};
    ck_assert_uint_eq(group(b3, s3, NULL, 3, big + 1, 1 << 20, 1 << 20, counts), 1); /* last offset big: fits */
    ck_assert_uint_eq(group(b3, s3, NULL, 3, big + 2, 1 << 20, 1 << 20, counts), 2);
    ck_assert_uint_eq(counts[0], 2);
    int64_t s4[] = {10, 10, 0};
    ck_assert_uint_eq(group(b3, s4, NULL, 3, big + 5, 1 << 20, 1 << 20, counts), 1);
}
END_TEST

/* Small closed segments, each with one record of a key overwritten later. */
static gs_log *fill_small(int nsegs)
{
    gs_log *log = open_log(NULL);
    char item[32];
    for (int i = 0; i < nsegs; i++) {
        snprintf(item, sizeof item, "k%d=%d", i % 3, i);
        const char *p = item;
        append(log, &p, 1);
        roll(log);
    }
    return log;
}

START_TEST(test_small_segments_merged)
{
    gs_log *log = fill_small(7); /* offsets 0-6, 8 segments with the active one */
    int64_t old = gu_wall_ms() - 60000;
    set_mtime(6, old); /* the group's last source: the merged segment keeps its time */
    clean_segment_bytes = 1 << 20;
    gs_clean_stats st;
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.segments_in, 7);
    ck_assert_int_eq(st.segments_out, 1);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3); /* k1=4, k2=5, k0=6 */
    ck_assert_str_eq(find(&c, 4)->value, "4");
    ck_assert_str_eq(find(&c, 5)->value, "5");
    ck_assert_str_eq(find(&c, 6)->value, "6");
    /* A read from an offset in the merged segment's gaps finds the next record. */
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, 2, 1 << 20, true, &s), 0);
    ck_assert_int_gt(s.len, 0);
    gs_log_slice_release(&s);
    ck_assert(!exists("00000000000000000001.log"));
    ck_assert(!exists("00000000000000000006.log"));
    ck_assert(!exists("00000000000000000006.log.deleted"));
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%020d.log", dir, 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq((int64_t)sb.st_mtim.tv_sec, old / 1000);
    gs_log_close(log);
    log = open_log(NULL);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    contents c2;
    read_all(log, &c2);
    ck_assert_int_eq(memcmp(c.r, c2.r, sizeof c.r), 0);
    gs_log_close(log);
}
END_TEST

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A cleaning of many segments holds no descriptor for them: the cleaner
 * opens each .log when it reads it. (Before, the plan pinned every one,
 * so a partition of thousands of small segments took as many descriptors
 * past the open-segment bound.) */
START_TEST(test_plan_holds_no_descriptors)
{
    gs_log_set_open_files_max(4);
    gs_log *log = fill_small(200);
    int before = open_fds();
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, 0, active_base(log), &plan), 0);
    ck_assert_uint_eq(plan.nsegs, 200);
    ck_assert_int_le(open_fds(), before + 1); /* the directory */
    gs_clean_plan_free(&plan);
    clean_segment_bytes = 1 << 20;
    gs_clean_stats st;
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.segments_in, 200);
    ck_assert_int_le(open_fds(), before + 4);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3); /* k2=197, k0=198, k1=199 */
    ck_assert_str_eq(find(&c, 199)->value, "199");
    gs_log_close(log);
    gs_log_set_open_files_max(1024);
}
END_TEST

/* A cleaning whose .log.swap cannot be renamed into place (a full disk)
 * puts the old segments back: nothing read changes, before or after a
 * restart, and a later cleaning works. */
START_TEST(test_swap_rename_fails_nothing_lost)
{
    gs_log *log = fill_small(7);
    clean_segment_bytes = 1 << 20;
    contents before;
    read_all(log, &before);
    ck_assert_int_eq(before.n, 7);
    gs_clean_plan plan;
    plan_run(log, &plan, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20);
    setenv("GREGOR_TEST_FAULT", "swap-rename", 1);
    ck_assert_int_eq(gs_log_clean_swap(log, &plan), -ENOSPC);
    unsetenv("GREGOR_TEST_FAULT");
    gs_clean_plan_free(&plan);
    ck_assert(!exists("00000000000000000000.log.swap"));
    ck_assert(!exists("00000000000000000003.log.deleted"));
    ck_assert_uint_eq(gs_log_segment_count(log), 8);
    gs_log_set_open_files_max(1); /* the old segments are read again from their files */
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 7);
    ck_assert_int_eq(memcmp(c.r, before.r, sizeof c.r), 0);
    gs_log_close(log);
    log = open_log(NULL);
    ck_assert_uint_eq(gs_log_segment_count(log), 8);
    read_all(log, &c);
    ck_assert_int_eq(memcmp(c.r, before.r, sizeof c.r), 0);
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, NULL);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    gs_log_close(log);
    gs_log_set_open_files_max(1024);
}
END_TEST

/* The segment swapped in cannot be opened at once (out of descriptors): it
 * replaces the old ones anyway, closed, and the next read opens it. */
START_TEST(test_swap_open_fails_segment_opened_later)
{
    gs_log *log = fill_small(7);
    clean_segment_bytes = 1 << 20;
    setenv("GREGOR_TEST_FAULT", "swap-open", 1);
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, NULL);
    unsetenv("GREGOR_TEST_FAULT");
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    gs_log_set_open_files_max(1);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(find(&c, 4)->value, "4");
    ck_assert_str_eq(find(&c, 6)->value, "6");
    gs_log_close(log);
    log = open_log(NULL);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    gs_log_close(log);
    gs_log_set_open_files_max(1024);
}
END_TEST

START_TEST(test_group_bounded_by_segment_bytes)
{
    gs_log *log = fill_small(6);
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, 0, active_base(log), &plan), 0);
    int64_t one = plan.segs[0].len;
    gs_clean_plan_free(&plan);
    clean_segment_bytes = 2 * one; /* two source segments a group */
    gs_clean_stats st;
    clean(log, 0, active_base(log), 86400000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.segments_out, 3);
    ck_assert_uint_eq(gs_log_segment_count(log), 4);
    ck_assert(exists("00000000000000000000.log"));
    ck_assert(exists("00000000000000000002.log"));
    ck_assert(exists("00000000000000000004.log"));
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3); /* k0=3, k1=4, k2=5 */
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_group_swap_completed)
{
    gs_log *log = fill_small(4); /* 0-3 */
    contents before;
    read_all(log, &before);
    clean_segment_bytes = 1 << 20;
    run_unswapped(log);
    gs_log_close(log);
    /* A crash after the commit: the group's .log.swap at 0 covers 0-3. */
    ck_assert(exists("00000000000000000000.log.swap"));
    ck_assert(exists("00000000000000000002.log"));
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 1);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    ck_assert(!exists("00000000000000000001.log"));
    ck_assert(!exists("00000000000000000002.log"));
    ck_assert(!exists("00000000000000000003.log"));
    ck_assert(!exists("00000000000000000003.index"));
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3); /* k0=3, k1=1, k2=2 */
    ck_assert_str_eq(find(&c, 3)->value, "3");
    ck_assert_str_eq(find(&c, 1)->value, "1");
    ck_assert_int_eq(gs_log_end_offset(log), 4);
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_group_half_swapped)
{
    gs_log *log = fill_small(4);
    clean_segment_bytes = 1 << 20;
    run_unswapped(log);
    gs_log_close(log);
    /* A crash in the middle of the swap: segment 1 is .deleted, 2 half
     * (its indexes renamed, its .log not), 3 untouched, 0 still old. */
    do_rename("00000000000000000001.index", "00000000000000000001.index.deleted");
    do_rename("00000000000000000001.timeindex", "00000000000000000001.timeindex.deleted");
    do_rename("00000000000000000001.log", "00000000000000000001.log.deleted");
    do_rename("00000000000000000002.index", "00000000000000000002.index.deleted");
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 1);
    ck_assert_uint_eq(gs_log_segment_count(log), 2);
    ck_assert(!exists("00000000000000000002.log"));
    ck_assert(!exists("00000000000000000001.log.deleted"));
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(find(&c, 2)->value, "2");
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_group_swap_short_of_last_segment)
{
    /* The group's last segment loses all its records (an aborted
     * transaction whose marker is in the active segment): the cleaned
     * segment ends before that segment's base, so after a crash right
     * after the commit that segment is not covered and stays as it was. */
    gs_log *log = open_log(NULL);
    static const char *const a1[] = {"a=1"};
    static const char *const b1[] = {"b=1"};
    static const char *const t1[] = {"t=aborted"};
    append(log, a1, 1); /* 0 */
    roll(log);
    append(log, b1, 1); /* 1 */
    roll(log);
    batch_opts tx = {.producer_id = 9, .base_sequence = 0, .transactional = true};
    append_opts(log, t1, 1, &tx); /* 2 */
    roll(log);
    append_marker(log, 9, GP_CONTROL_ABORT); /* 3, in the active segment */
    gs_aborted_txn ab = {9, 2, 3, 4};
    ck_assert_int_eq(gs_log_add_aborted_txn(log, &ab), 0);
    gs_clean_plan plan;
    ck_assert_int_eq(gs_log_clean_prepare(log, 0, active_base(log), &plan), 0);
    plan.delete_retention_ms = 86400000;
    plan.map_bytes = 1 << 20;
    plan.load_factor = 0.9;
    plan.io_buffer = 4096;
    plan.segment_bytes = 1 << 20;
    plan.max_index_bytes = 1 << 20;
    plan.aborted = gu_malloc(sizeof ab);
    plan.aborted[0] = ab;
    plan.naborted = 1;
    gs_clean_run(&plan);
    ck_assert_int_eq(plan.rc, 0);
    ck_assert_uint_eq(plan.nout, 1);
    ck_assert_uint_eq(plan.out[0].count, 3);
    ck_assert_int_eq(plan.out[0].next_offset, 2);
    plan.out[0].written = false; /* the crash: the .swap files stay */
    gs_clean_plan_free(&plan);
    gs_log_close(log);
    gs_log_recovery rec;
    log = open_log(&rec);
    ck_assert_int_eq(rec.cleanings_completed, 1);
    ck_assert_uint_eq(gs_log_segment_count(log), 3); /* 0 (cleaned, 0-1), 2 (as it was), 3 */
    ck_assert(!exists("00000000000000000001.log"));
    ck_assert(exists("00000000000000000002.log"));
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 4); /* a, b, the aborted t (its marker and entry are still there), the marker */
    ck_assert_str_eq(find(&c, 2)->value, "aborted");
    gs_aborted_txn got[2];
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, INT64_MAX, got, 2), 1);
    gs_log_close(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cleaner");
    TCase *tc = tcase_create("cleaner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_latest_per_key);
    tcase_add_test(tc, test_plan_holds_no_descriptors);
    tcase_add_test(tc, test_tombstones_kept_then_removed);
    tcase_add_test(tc, test_idempotent_last_batch_kept);
    tcase_add_test(tc, test_aborted_and_markers);
    tcase_add_test(tc, test_compressed_rebuilt);
    tcase_add_test(tc, test_map_full_cleans_part);
    tcase_add_test(tc, test_recovery_cleaned_files_removed);
    tcase_add_test(tc, test_recovery_swap_completed);
    tcase_add_test(tc, test_recovery_half_swapped);
    tcase_add_test(tc, test_recovery_deleted_left);
    tcase_add_test(tc, test_retention_during_cleaning);
    tcase_add_test(tc, test_emptied_segment_retained);
    tcase_add_test(tc, test_commit_marker_kept_while_data_then_removed);
    tcase_add_test(tc, test_marker_last_of_producer_kept_empty);
    tcase_add_test(tc, test_group_bounds);
    tcase_add_test(tc, test_small_segments_merged);
    tcase_add_test(tc, test_swap_rename_fails_nothing_lost);
    tcase_add_test(tc, test_swap_open_fails_segment_opened_later);
    tcase_add_test(tc, test_group_bounded_by_segment_bytes);
    tcase_add_test(tc, test_recovery_group_swap_completed);
    tcase_add_test(tc, test_recovery_group_half_swapped);
    tcase_add_test(tc, test_recovery_group_swap_short_of_last_segment);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
