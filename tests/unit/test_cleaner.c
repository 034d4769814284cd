/*
 * The log cleaner on its own (storage/gs_cleaner): the latest record of
 * each key survives at its offset, the active segment is untouched,
 * tombstones stay until the delete horizon passes, an idempotent
 * producer's last batch stays (empty), aborted transactions' records go,
 * compressed batches are rebuilt with their codec, a full offset map
 * cleans part of the dirty section, and each step of a cleaning a crash
 * interrupts (.cleaned, .swap, .deleted) is finished or undone by
 * gs_log_open.
 */
#include <check.h>
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

static const gs_log_config cfg = {
    .segment_bytes = 1 << 20, .segment_ms = 1, .segment_index_bytes = 4096, .index_interval_bytes = 100};

static void setup(void)
{
    tu_tmpdir_make(root, sizeof root, "cleaner");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    gp_arena_init(&arena, NULL, 0);
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
static int64_t clean(gs_log *log, int64_t first_dirty, int64_t end, int64_t delete_retention_ms,
                     const gs_clean_producer *producers, size_t nproducers, const gs_aborted_txn *aborted,
                     size_t naborted, int64_t map_bytes, gs_clean_stats *stats)
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
    gs_clean_run(&plan);
    ck_assert_msg(plan.rc == 0, "clean: %s", plan.err);
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
    int64_t end = active_base(log);
    /* First cleaning: nothing below the first dirty offset, so the delete
     * horizon is 0 and every tombstone stays. */
    int64_t to = clean(log, 0, end, 1000, NULL, 0, NULL, 0, 1 << 20, NULL);
    contents c;
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert(find(&c, 2)->tombstone);
    ck_assert_ptr_null(find(&c, 0));
    /* A second one, once the segment of the tombstone is older than
     * delete.retention.ms before the last clean segment: it goes. */
    append(log, b3, 1);
    roll(log);
    int64_t now = gu_wall_ms();
    set_mtime(0, now - 60000);
    set_mtime(3, now - 1000);
    gs_log_close(log);
    log = open_log(NULL);
    gs_clean_stats st;
    clean(log, to, active_base(log), 1000, NULL, 0, NULL, 0, 1 << 20, &st);
    ck_assert_int_eq(st.tombstones_dropped, 1);
    read_all(log, &c);
    ck_assert_int_eq(c.n, 3); /* b, c, d */
    ck_assert_ptr_null(find(&c, 2));
    ck_assert_str_eq(find(&c, 1)->key, "b");
    /* The cleaned copy kept its source's modification time. */
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%020d.log", dir, 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_le((int64_t)sb.st_mtim.tv_sec, (now - 60000) / 1000 + 1);
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
    append_opts(log, t1, 2, &tx); /* 0-1, aborted below */
    gp_txn_marker m = {.type = GP_CONTROL_ABORT,
                       .coordinator_epoch = 0,
                       .producer_id = 9,
                       .producer_epoch = 0,
                       .timestamp = gu_wall_ms()};
    gp_bytes mb;
    ck_assert_int_eq(gp_batch_build_control(&arena, 0, 0, &m, &mb), 0);
    uint8_t *buf = malloc((size_t)mb.len);
    memcpy(buf, mb.p, (size_t)mb.len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, buf, (size_t)mb.len, gu_wall_ms(), false, 0, &base, &last), 0); /* 2 */
    free(buf);
    append(log, t2, 1); /* 3 */
    roll(log);
    gs_aborted_txn ab = {9, 0, 2, 3};
    clean(log, 0, active_base(log), 86400000, NULL, 0, &ab, 1, 1 << 20, NULL);
    contents c;
    read_all(log, &c);
    /* The aborted records are gone, the marker stays (and its txnindex). */
    ck_assert_ptr_null(find(&c, 0));
    ck_assert_ptr_null(find(&c, 1));
    ck_assert_int_eq(c.nb, 2);
    ck_assert(gp_batch_is_control(&c.b[0]));
    ck_assert_int_eq(c.b[0].base_offset, 2);
    ck_assert_str_eq(find(&c, 3)->value, "1");
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
    gs_clean_run(&plan);
    ck_assert_int_eq(plan.rc, 0);
    for (size_t i = 0; i < plan.nsegs; i++)
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

int main(void)
{
    Suite *s = suite_create("cleaner");
    TCase *tc = tcase_create("cleaner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_latest_per_key);
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
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
