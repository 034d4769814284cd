/*
 * Partition log: offsets assigned by rewriting base offsets, reads as file
 * slices from any offset (index and scan), KIP-74's first batch, segment
 * roll by size and index, reopen after a clean stop without a scan,
 * recovery after a crash cutting a torn last batch at every byte, a flipped
 * byte (CRC), missing index files, lookup by timestamp, LogAppendTime,
 * retention by size and time, log start offset, delete.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "protocol/gp_batch.h"
#include "storage/gs_log.h"
#include "storage/gs_pagecache.h"
#include "tu_tmpdir.h"

static char root[64], dir[128];
static gp_arena arena;

static const gs_log_config small_cfg = {
    .segment_bytes = 4096, .segment_ms = 0, .segment_index_bytes = 1024, .index_interval_bytes = 256};

static void setup(void)
{
    tu_tmpdir_make(root, sizeof root, "log");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    gp_arena_init(&arena, NULL, 0);
}

static void teardown(void)
{
    tu_tmpdir_remove(root);
    gp_arena_reset(&arena, NULL, 0);
}

static void setup_one_open(void)
{
    setup();
    gs_log_set_open_files_max(1);
}

static void teardown_one_open(void)
{
    gs_log_set_open_files_max(1024);
    teardown();
}

/* A batch of n records "v<first+i>" with timestamps ts + i, in a fresh
 * malloc'd buffer (the log rewrites it in place). */
static uint8_t *make_batch(int first, int n, int64_t ts, size_t *len)
{
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++) {
        char *v = gp_arena_printf(&arena, "v%d-padding-padding-padding", first + i);
        recs[i].timestamp_delta = i;
        recs[i].key = (gp_bytes){NULL, -1};
        recs[i].value = (gp_bytes){(const uint8_t *)v, (int32_t)strlen(v)};
    }
    gp_batch_params p = {.base_timestamp = ts, .producer_id = -1, .base_sequence = -1, .codec = GP_CODEC_NONE};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(&arena, &p, recs, n, &out), 0);
    uint8_t *buf = malloc((size_t)out.len);
    memcpy(buf, out.p, (size_t)out.len);
    *len = (size_t)out.len;
    return buf;
}

static int64_t append(gs_log *log, int first, int n, int64_t ts)
{
    size_t len;
    uint8_t *b = make_batch(first, n, ts, &len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, b, len, ts, false, 0, &base, &last), 0);
    ck_assert_int_eq(last - base + 1, n);
    free(b);
    return base;
}

/* Read the batch containing offset and return its base offset and first
 * record value. */
static int64_t read_at(gs_log *log, int64_t offset, char *value, size_t vlen)
{
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, offset, 1 << 20, true, &s), 0);
    ck_assert_int_gt(s.len, 0);
    uint8_t *buf = malloc((size_t)s.len);
    ck_assert_int_eq(pread(s.fd, buf, (size_t)s.len, s.pos), s.len);
    gp_batch_header h;
    ck_assert_int_eq(gp_batch_header_parse(buf, (size_t)s.len, &h), 0);
    ck_assert_uint_eq(gp_batch_crc(buf, GP_BATCH_LOG_OVERHEAD + (size_t)h.batch_length), h.crc);
    gp_record_iter it;
    gp_record_iter_init(&it, buf + GP_BATCH_HEADER_SIZE,
                        (size_t)h.batch_length + GP_BATCH_LOG_OVERHEAD - GP_BATCH_HEADER_SIZE, h.records_count);
    gp_record r;
    ck_assert_int_eq(gp_record_next(&it, &r), 1);
    snprintf(value, vlen, "%.*s", r.value.len, (const char *)r.value.p);
    gs_log_slice_release(&s);
    free(buf);
    return h.base_offset;
}

static gs_log *open_log(bool clean, int64_t rp, gs_log_recovery *rec)
{
    gs_log *log;
    gs_log_recovery r;
    char err[256];
    int rc = gs_log_open(dir, &small_cfg, rp, 0, clean, &log, rec ? rec : &r, err, sizeof err);
    ck_assert_msg(rc == 0, "open: %s", err);
    return log;
}

/* Append 5-record batches until the log has nsegs segments; returns the
 * log end offset. */
static int fill_segments(gs_log *log, size_t nsegs)
{
    int next = 0;
    while (gs_log_segment_count(log) < nsegs) {
        append(log, next, 5, 1000 + next);
        next += 5;
    }
    return next;
}

START_TEST(test_append_read)
{
    gs_log *log = open_log(true, 0, NULL);
    ck_assert_int_eq(gs_log_end_offset(log), 0);
    int next = 0;
    for (int b = 0; b < 50; b++) {
        int n = 1 + b % 5;
        ck_assert_int_eq(append(log, next, n, 1000 + next), next);
        next += n;
    }
    ck_assert_int_eq(gs_log_end_offset(log), next);
    ck_assert_uint_gt(gs_log_segment_count(log), 2); /* rolled by size */
    char v[64];
    for (int o = 0; o < next; o++) {
        int64_t base = read_at(log, o, v, sizeof v);
        ck_assert_int_le(base, o);
        /* the batch holding o starts at base: its first value is v<base> */
        char want[32];
        snprintf(want, sizeof want, "v%" PRId64 "-", base);
        ck_assert_msg(strncmp(v, want, strlen(want)) == 0, "offset %d: %s", o, v);
    }
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, next, 1000, true, &s), 0);
    ck_assert_int_eq(s.len, 0);
    ck_assert_int_eq(gs_log_read(log, next + 1, 1000, true, &s), -ERANGE);
    ck_assert_int_eq(gs_log_read(log, -1, 1000, true, &s), -ERANGE);
    /* KIP-74: max_bytes smaller than the first batch still returns it */
    ck_assert_int_eq(gs_log_read(log, 0, 10, true, &s), 0);
    ck_assert_int_gt(s.len, 10);
    gs_log_slice_release(&s);
    ck_assert_int_eq(gs_log_read(log, 0, 10, false, &s), 0);
    ck_assert_int_eq(s.len, 10);
    gs_log_slice_release(&s);
    gs_log_close(log);

    /* Clean reopen: same end offset, every offset still readable. */
    log = open_log(true, -1, NULL);
    ck_assert_int_eq(gs_log_end_offset(log), next);
    for (int o = 0; o < next; o += 7)
        read_at(log, o, v, sizeof v);
    ck_assert_int_eq(append(log, next, 2, 5000), next);
    gs_log_close(log);
}
END_TEST

static char *seg_path(int64_t base, const char *ext)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%020" PRId64 ".%s", dir, base, ext);
    return p;
}

START_TEST(test_kafka_layout)
{
    gs_log *log = open_log(true, 0, NULL);
    append(log, 0, 3, 1000);
    struct stat st;
    ck_assert_int_eq(stat(seg_path(0, "log"), &st), 0);
    ck_assert_int_eq(stat(seg_path(0, "index"), &st), 0);
    ck_assert_int_eq(st.st_size, 1024); /* preallocated while active */
    ck_assert_int_eq(stat(seg_path(0, "timeindex"), &st), 0);
    gs_log_close(log);
    ck_assert_int_eq(stat(seg_path(0, "index"), &st), 0);
    ck_assert_int_eq(st.st_size, 0); /* trimmed at close: no entry yet */
}
END_TEST

/* A torn last batch: cut at every byte, recovery keeps exactly the
 * complete batches. */
START_TEST(test_recovery_torn_tail)
{
    gs_log *log = open_log(true, 0, NULL);
    append(log, 0, 4, 1000);
    append(log, 4, 3, 2000);
    int64_t good = gs_log_size(log);
    append(log, 7, 5, 3000);
    int64_t full = gs_log_size(log);
    gs_log_close(log);
    uint8_t *copy = malloc((size_t)full);
    int fd = open(seg_path(0, "log"), O_RDONLY);
    ck_assert_int_eq(read(fd, copy, (size_t)full), full);
    close(fd);
    for (int64_t cut = good; cut < full; cut++) {
        fd = open(seg_path(0, "log"), O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, copy, (size_t)cut), cut);
        close(fd);
        gs_log_recovery rec;
        log = open_log(false, 0, &rec);
        ck_assert_int_eq(gs_log_end_offset(log), 7);
        ck_assert_int_eq(gs_log_size(log), good);
        ck_assert_int_eq(rec.truncated_bytes, cut - good);
        if (cut > good)
            ck_assert_int_eq(rec.truncated_at_offset, 7);
        /* appending after recovery continues at 7 */
        ck_assert_int_eq(append(log, 7, 1, 4000), 7);
        gs_log_close(log);
    }
    free(copy);
}
END_TEST

START_TEST(test_recovery_corrupt_byte)
{
    gs_log *log = open_log(true, 0, NULL);
    append(log, 0, 4, 1000);
    int64_t first = gs_log_size(log);
    append(log, 4, 4, 2000);
    append(log, 8, 4, 3000);
    gs_log_close(log);
    /* flip a byte in the second batch's records: CRC fails there */
    int fd = open(seg_path(0, "log"), O_RDWR);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, first + 70), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, first + 70), 1);
    close(fd);
    gs_log_recovery rec;
    log = open_log(false, 0, &rec);
    ck_assert_int_eq(gs_log_end_offset(log), 4);
    ck_assert_int_eq(gs_log_size(log), first);
    gs_log_close(log);
}
END_TEST

START_TEST(test_recovery_across_segments)
{
    gs_log *log = open_log(true, 0, NULL);
    int next = fill_segments(log, 4);
    size_t nsegs = gs_log_segment_count(log);
    gs_log_close(log);
    /* remove a closed segment's index files: rebuilt */
    ck_assert_int_eq(unlink(seg_path(0, "index")), 0);
    ck_assert_int_eq(unlink(seg_path(0, "timeindex")), 0);
    gs_log_recovery rec;
    log = open_log(false, 0, &rec);
    ck_assert_uint_eq(gs_log_segment_count(log), nsegs);
    ck_assert_int_eq(gs_log_end_offset(log), next);
    ck_assert_int_eq(rec.truncated_bytes, 0);
    char v[64];
    for (int o = 0; o < next; o += 3)
        read_at(log, o, v, sizeof v);
    gs_log_close(log);
    struct stat st;
    ck_assert_int_eq(stat(seg_path(0, "index"), &st), 0);
}
END_TEST

/* Kafka's index sanity check on a clean start: a closed segment whose
 * index is broken in one of these ways is recovered from its log, and the
 * data reads back right. */
static void corrupt(int how)
{
    int fd = open(seg_path(0, how == 4 ? "timeindex" : "index"), O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_ge(st.st_size, 24); /* a few entries to break */
    uint8_t b[32] = {0};
    switch (how) {
    case 0: /* a preallocated tail left behind: zero entries at the end */
        ck_assert_int_eq(pwrite(fd, b, 8 * 4, st.st_size), 8 * 4);
        break;
    case 1: /* not a whole number of entries */
        ck_assert_int_eq(pwrite(fd, b, 3, st.st_size), 3);
        break;
    case 2: /* the last position past the end of the log */
        b[0] = 0x7f;
        ck_assert_int_eq(pwrite(fd, b, 4, st.st_size - 4), 4);
        break;
    case 3: { /* the last position one byte into its batch */
        uint8_t pos[4];
        ck_assert_int_eq(pread(fd, pos, 4, st.st_size - 4), 4);
        pos[3]++;
        ck_assert_int_eq(pwrite(fd, pos, 4, st.st_size - 4), 4);
        break;
    }
    case 4: /* a time index whose last timestamp lies before its first */
        ck_assert_int_eq(pwrite(fd, b, 8, st.st_size - 12), 8);
        break;
    }
    close(fd);
}

START_TEST(test_corrupt_index_rebuilt)
{
    gs_log *log = open_log(true, 0, NULL);
    int next = fill_segments(log, 3);
    gs_log_close(log);
    for (int how = 0; how <= 4; how++) {
        corrupt(how);
        gs_log_recovery rec;
        log = open_log(true, 0, &rec);
        ck_assert_msg(rec.indexes_corrupt == 1, "corruption %d: %d corrupt", how, rec.indexes_corrupt);
        ck_assert_int_eq(rec.truncated_bytes, 0);
        ck_assert_int_eq(gs_log_end_offset(log), next);
        for (int o = 0; o < next; o++) {
            char v[64], want[64];
            int64_t base = read_at(log, o, v, sizeof v);
            ck_assert_int_le(base, o);
            ck_assert_int_gt(base + 5, o);
            snprintf(want, sizeof want, "v%d-padding-padding-padding", (int)base);
            ck_assert_str_eq(v, want);
        }
        gs_log_close(log);
        log = open_log(true, 0, &rec); /* rebuilt and trimmed: sane now */
        ck_assert_int_eq(rec.indexes_corrupt, 0);
        gs_log_close(log);
    }
}
END_TEST

/* The closed segments above a recovery point, and what recovery then
 * checks: only the segments at or after it. */
START_TEST(test_closed_refs_and_recovery_point)
{
    gs_log *log = open_log(true, 0, NULL);
    int next = fill_segments(log, 4);
    size_t nsegs = gs_log_segment_count(log);
    gs_log_slice refs[8];
    int64_t upto;
    ck_assert_uint_eq(gs_log_segments_from(log, 0), nsegs);
    size_t n = gs_log_closed_refs(log, 0, refs, 8, &upto);
    ck_assert_uint_eq(n, nsegs - 1); /* not the active segment */
    ck_assert_uint_eq(gs_log_segments_from(log, upto), 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(gs_log_slice_sync_closed(&refs[i]), 0);
        gs_log_slice_release(&refs[i]);
    }
    ck_assert(gs_log_is_segment_base(log, upto));
    ck_assert_int_lt(upto, next);
    /* from inside the second segment: it and the ones after it */
    int64_t second = -1;
    for (int64_t o = 1; o < upto && second < 0; o++)
        if (gs_log_is_segment_base(log, o))
            second = o;
    int64_t u2;
    ck_assert_uint_eq(gs_log_segments_from(log, second + 1), nsegs - 1);
    n = gs_log_closed_refs(log, second + 1, refs, 8, &u2);
    ck_assert_uint_eq(n, nsegs - 2);
    ck_assert_int_eq(u2, upto);
    for (size_t i = 0; i < n; i++)
        gs_log_slice_release(&refs[i]);
    /* from the active segment: nothing; a full array stops at max */
    ck_assert_uint_eq(gs_log_closed_refs(log, upto, refs, 8, &u2), 0);
    ck_assert_uint_eq(gs_log_closed_refs(log, 0, refs, 1, &u2), 1);
    gs_log_slice_release(&refs[0]);
    gs_log_close(log);
    /* an unclean open with the recovery point at the active segment checks
     * that segment only */
    gs_log_recovery rec;
    log = open_log(false, upto, &rec);
    ck_assert_int_eq(rec.indexes_rebuilt, 1);
    ck_assert_int_eq(gs_log_end_offset(log), next);
    gs_log_close(log);
    log = open_log(false, 0, &rec);
    ck_assert_int_eq(rec.indexes_rebuilt, (int)nsegs);
    gs_log_close(log);
}
END_TEST

START_TEST(test_timestamps)
{
    gs_log *log = open_log(true, 0, NULL);
    for (int b = 0; b < 20; b++)
        append(log, b * 3, 3, 10000 + b * 100); /* batch b: ts 10000+100b .. +2 */
    int64_t off, ts;
    gs_log_slice s;
    ck_assert(gs_log_batch_for_timestamp(log, 10550, &off, &ts, &s));
    ck_assert_int_eq(off, 18); /* batch 6 starts at 10600 */
    ck_assert_int_eq(ts, 10602);
    gs_log_slice_release(&s);
    ck_assert(gs_log_batch_for_timestamp(log, 0, &off, &ts, &s));
    ck_assert_int_eq(off, 0);
    gs_log_slice_release(&s);
    ck_assert(!gs_log_batch_for_timestamp(log, 99999, &off, &ts, &s));
    ck_assert(gs_log_max_timestamp(log, &off, &ts));
    ck_assert_int_eq(ts, 10000 + 19 * 100 + 2);
    ck_assert_int_eq(off, 59);

    /* LogAppendTime: max timestamp becomes the append time, CRC still valid */
    size_t len;
    uint8_t *b = make_batch(60, 2, 5, &len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, b, len, 777777, true, 0, &base, &last), 0);
    free(b);
    char v[64];
    read_at(log, 60, v, sizeof v); /* checks the CRC */
    ck_assert(gs_log_max_timestamp(log, &off, &ts));
    ck_assert_int_eq(ts, 777777);
    gs_log_close(log);
}
END_TEST

START_TEST(test_retention)
{
    gs_log *log = open_log(true, 0, NULL);
    int next = 0;
    while (gs_log_segment_count(log) < 5) {
        append(log, next, 5, 1000);
        next += 5;
    }
    int64_t size = gs_log_size(log);
    /* by size: keep at most half */
    int deleted = gs_log_retain(log, 2000, -1, size / 2);
    ck_assert_int_gt(deleted, 0);
    ck_assert_int_le(gs_log_size(log), size / 2 + 4096);
    int64_t start = gs_log_start_offset(log);
    ck_assert_int_gt(start, 0);
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, start - 1, 100, true, &s), -ERANGE);
    char v[64];
    read_at(log, start, v, sizeof v);
    struct stat st;
    ck_assert_int_ne(stat(seg_path(0, "log"), &st), 0);
    /* by time: everything is older than 500 ms at t=10000 */
    deleted = gs_log_retain(log, 10000, 500, -1);
    ck_assert_int_gt(deleted, 0);
    ck_assert_int_eq(gs_log_start_offset(log), next);
    ck_assert_int_eq(gs_log_end_offset(log), next);
    ck_assert_int_eq(append(log, next, 1, 20000), next);
    gs_log_close(log);
}
END_TEST

START_TEST(test_slice_outlives_deleted_segment)
{
    gs_log *log = open_log(true, 0, NULL);
    int next = 0;
    while (gs_log_segment_count(log) < 3) {
        append(log, next, 5, 1000);
        next += 5;
    }
    gs_log_slice s;
    ck_assert_int_eq(gs_log_read(log, 0, 100000, true, &s), 0);
    ck_assert_int_eq(gs_log_advance_start(log, next - 1), 0);
    /* the segment is unlinked but the slice still reads it */
    uint8_t buf[GP_BATCH_HEADER_SIZE];
    ck_assert_int_eq(pread(s.fd, buf, sizeof buf, s.pos), (ssize_t)sizeof buf);
    gs_log_slice_release(&s);
    ck_assert_int_eq(gs_log_start_offset(log), next - 1);
    gs_log_close(log);
}
END_TEST

/* The page-cache budget's view of a log: the tail, and slices of a segment
 * by base offset that vanish with it. */
START_TEST(test_segment_slices)
{
    gs_log *log = open_log(true, 0, NULL);
    ck_assert_int_gt(fill_segments(log, 3), 0);
    int64_t base, size;
    gs_log_tail(log, &base, &size);
    ck_assert(gs_log_is_segment_base(log, base));
    ck_assert_int_gt(base, gs_log_start_offset(log)); /* the active one: the last of three */
    ck_assert_int_le(base, gs_log_end_offset(log));
    ck_assert_int_eq(gs_log_segment_size(log, base), size);
    ck_assert_int_eq(gs_log_segment_size(log, base + 1), -1);
    int64_t first = gs_log_start_offset(log);
    int64_t first_size = gs_log_segment_size(log, first);
    ck_assert_int_gt(first_size, 0);
    gs_log_slice s;
    ck_assert_int_eq(gs_log_segment_slice(log, first, 10, 1 << 20, &s), 0);
    ck_assert_int_eq(s.pos, 10);
    ck_assert_int_eq(s.len, first_size - 10); /* cut to the segment */
    gs_log_slice none;
    ck_assert_int_eq(gs_log_segment_slice(log, base + 1, 0, 1, &none), -ENOENT);
    ck_assert_int_eq(gs_log_advance_start(log, base), 0); /* deletes the first segments */
    ck_assert_int_eq(gs_log_segment_size(log, first), -1);
    gs_log_slice gone;
    ck_assert_int_eq(gs_log_segment_slice(log, first, 0, 1, &gone), -ENOENT);
    uint8_t buf[8]; /* the earlier slice still reads its unlinked segment */
    ck_assert_int_eq(pread(s.fd, buf, sizeof buf, s.pos), (ssize_t)sizeof buf);
    gs_log_slice_release(&s);
    gs_log_close(log);
}
END_TEST

/* Residency, write-back-and-drop, and reading back in, on a 4 MiB file. */
START_TEST(test_pagecache)
{
    char path[160];
    snprintf(path, sizeof path, "%s/data", root);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    const int64_t mib = 1 << 20, len = 4 * mib;
    char *buf = malloc((size_t)len);
    for (int64_t i = 0; i < len; i++)
        buf[i] = (char)('a' + i % 26);
    ck_assert_int_eq(write(fd, buf, (size_t)len), (ssize_t)len);
    ck_assert_int_eq(gs_file_resident(fd, 0, len), 1); /* just written */
    ck_assert_int_eq(gs_file_resident(fd, 5, 0), 1);
    /* from 2 MiB + 100 to 4 MiB, and the start of that 2 MiB with it */
    ck_assert_int_eq(gs_file_evict(fd, 2 * mib + 100, 2 * mib - 100), 0);
    struct statfs sf;
    ck_assert_int_eq(fstatfs(fd, &sf), 0);
    if (sf.f_type != TMPFS_MAGIC) { /* tmpfs keeps its pages: they are the file */
        ck_assert_int_eq(gs_file_resident(fd, 2 * mib, 4096), 0);
        ck_assert_int_eq(gs_file_resident(fd, 2 * mib + 500000, 4096), 0);
        ck_assert_int_eq(gs_file_resident(fd, 2 * mib - 4096, 4096), 1); /* the 2 MiB before */
    }
    ck_assert_int_eq(gs_file_warm(fd, 100, len - 100), 0);
    ck_assert_int_eq(gs_file_resident(fd, 0, len), 1);
    ck_assert_int_eq(gs_file_warm(fd, len - 10, mib), 0); /* past the end: what is there */
    ck_assert_int_lt(gs_file_resident(-1, 0, 10), 0);
    /* the bytes are the ones written */
    char back[64];
    ck_assert_int_eq(pread(fd, back, sizeof back, 2 * mib + 300000), (ssize_t)sizeof back);
    ck_assert_int_eq(memcmp(back, buf + 2 * mib + 300000, sizeof back), 0);
    free(buf);
    close(fd);
}
END_TEST

/* Descriptors and mappings this process holds on files of the log dir. */
static int count_fds(void)
{
    int n = 0;
    char link[300], target[512];
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        n += strstr(target, dir) != NULL;
    }
    closedir(d);
    return n;
}

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, dir) != NULL;
    fclose(f);
    return n;
}

/* A closed segment holds no descriptor and no mapping once it leaves the
 * cache of open segments; the active one holds its .log only (its indexes
 * are mapped, their fds closed). Every record stays readable, before and
 * after a reopen, clean or not. */
START_TEST(test_descriptors_bounded)
{
    gs_log_set_open_files_max(2);
    gs_log *log = open_log(true, 0, NULL);
    ck_assert_int_eq(count_fds(), 1); /* the active .log */
    int next = fill_segments(log, 40);
    ck_assert_int_le(count_fds(), 1 + 2);
    ck_assert_int_le(count_maps(), 2 + 2 * 2);
    ck_assert_uint_le(gs_log_open_files(), 2);
    char v[64], want[32];
    for (int o = 0; o < next; o += 3) {
        int64_t base = read_at(log, o, v, sizeof v);
        snprintf(want, sizeof want, "v%" PRId64 "-", base);
        ck_assert_msg(strncmp(v, want, strlen(want)) == 0, "offset %d: %s", o, v);
        ck_assert_int_le(count_fds(), 1 + 2);
    }
    int64_t ts, off;
    gs_log_slice b;
    ck_assert(gs_log_batch_for_timestamp(log, 1000 + 7, &off, &ts, &b));
    ck_assert_int_le(off, 7);
    gs_log_slice_release(&b);
    gs_log_close(log);
    ck_assert_int_eq(count_fds(), 0);
    ck_assert_int_eq(count_maps(), 0);
    for (int clean = 1; clean >= 0; clean--) {
        gs_log_recovery rec;
        log = open_log(clean, 0, &rec);
        ck_assert_int_eq(rec.segments, 40);
        ck_assert_int_eq(gs_log_end_offset(log), next);
        ck_assert_int_le(count_fds(), 1 + 2);
        ck_assert_int_le(count_maps(), 2 + 2 * 2);
        for (int o = 0; o < next; o += 7) {
            int64_t base = read_at(log, o, v, sizeof v);
            snprintf(want, sizeof want, "v%" PRId64 "-", base);
            ck_assert_msg(strncmp(v, want, strlen(want)) == 0, "offset %d: %s", o, v);
        }
        gs_log_close(log);
    }
    gs_log_set_open_files_max(1024);
}
END_TEST

/* A slice pins its segment's descriptor: the cache goes over its bound
 * rather than close it, and comes back to it once the slice is released.
 * Flush references of evicted segments reopen them. */
START_TEST(test_pinned_segment_not_evicted)
{
    gs_log_set_open_files_max(1);
    gs_log *log = open_log(true, 0, NULL);
    int next = fill_segments(log, 6);
    gs_log_slice pinned[3];
    gs_segment_time segs[8];
    ck_assert_uint_eq(gs_log_segment_times(log, segs, 8), 6);
    for (int i = 0; i < 3; i++) /* the first three segments */
        ck_assert_int_eq(gs_log_read(log, segs[i].base_offset, 1 << 20, true, &pinned[i]), 0);
    ck_assert_uint_eq(gs_log_open_files(), 3);
    ck_assert_int_le(count_fds(), 1 + 3);
    char v[64];
    (void)read_at(log, next - 1, v, sizeof v); /* the active one: no eviction of a pinned fd */
    for (int i = 0; i < 3; i++) {
        uint8_t buf[GP_BATCH_HEADER_SIZE];
        ck_assert_int_eq(pread(pinned[i].fd, buf, sizeof buf, pinned[i].pos), (ssize_t)sizeof buf);
        gs_log_slice_release(&pinned[i]);
    }
    ck_assert_uint_le(gs_log_open_files(), 1);
    /* sync references of every segment reopen the evicted ones */
    gs_log_slice refs[16];
    size_t n = gs_log_sync_refs(log, 0, refs, 16);
    ck_assert_uint_eq(n, gs_log_segment_count(log));
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(refs[i].fd, 0);
        if (i + 1 < n)
            ck_assert_int_eq(gs_log_slice_sync_closed(&refs[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        gs_log_slice_release(&refs[i]);
    ck_assert_uint_le(gs_log_open_files(), 1);
    /* retention deletes segments: a deleted one holds nothing */
    ck_assert_int_gt(gs_log_retain(log, 0, -1, 1), 0);
    ck_assert_uint_le(gs_log_open_files(), 1);
    ck_assert_int_le(count_fds(), 2);
    gs_log_close(log);
    gs_log_set_open_files_max(1024);
}
END_TEST

/* Out of descriptors (EMFILE), a read of a segment that is not open first
 * closes the cached ones no slice pins, then opens it. */
START_TEST(test_out_of_descriptors_gives_back_the_cache)
{
    gs_log_set_open_files_max(30);
    gs_log *log = open_log(true, 0, NULL);
    (void)fill_segments(log, 40); /* the oldest segments left the cache */
    ck_assert_uint_eq(gs_log_open_files(), 30);
    /* Every descriptor number below the limit in use: the next open fails. */
    int top = -1, fill[4096], nfill = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while ((de = readdir(d)))
        if (atoi(de->d_name) > top)
            top = atoi(de->d_name);
    closedir(d);
    for (int fd; nfill < 4096 && (fd = dup(0)) >= 0;) {
        if (fd > top) {
            close(fd);
            break;
        }
        fill[nfill++] = fd;
    }
    struct rlimit old, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = (rlim_t)top + 1;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_lt(dup(0), 0); /* really out */
    char v[64];
    ck_assert_int_eq(read_at(log, 0, v, sizeof v), 0);
    ck_assert_msg(strncmp(v, "v0-", 3) == 0, "%s", v);
    ck_assert_uint_le(gs_log_open_files(), 1); /* the cache gave its descriptors back */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    gs_log_close(log);
    gs_log_set_open_files_max(1024);
}
END_TEST

START_TEST(test_delete)
{
    gs_log *log = open_log(true, 0, NULL);
    append(log, 0, 3, 1000);
    ck_assert_int_eq(gs_log_delete(log), 0);
    struct stat st;
    ck_assert_int_ne(stat(dir, &st), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_append_read);
    tcase_add_test(tc, test_kafka_layout);
    tcase_add_test(tc, test_recovery_torn_tail);
    tcase_add_test(tc, test_recovery_corrupt_byte);
    tcase_add_test(tc, test_recovery_across_segments);
    tcase_add_test(tc, test_corrupt_index_rebuilt);
    tcase_add_test(tc, test_closed_refs_and_recovery_point);
    tcase_add_test(tc, test_timestamps);
    tcase_add_test(tc, test_retention);
    tcase_add_test(tc, test_slice_outlives_deleted_segment);
    tcase_add_test(tc, test_segment_slices);
    tcase_add_test(tc, test_pagecache);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_descriptors_bounded);
    tcase_add_test(tc, test_pinned_segment_not_evicted);
    tcase_add_test(tc, test_out_of_descriptors_gives_back_the_cache);
    suite_add_tcase(s, tc);
    /* Every test again with a cache of one open segment: every read of a
     * closed segment reopens it. */
    TCase *tiny = tcase_create("log-one-open-segment");
    tcase_add_checked_fixture(tiny, setup_one_open, teardown_one_open);
    tcase_set_timeout(tiny, 120);
    tcase_add_test(tiny, test_append_read);
    tcase_add_test(tiny, test_recovery_torn_tail);
    tcase_add_test(tiny, test_recovery_across_segments);
    tcase_add_test(tiny, test_corrupt_index_rebuilt);
    tcase_add_test(tiny, test_closed_refs_and_recovery_point);
    tcase_add_test(tiny, test_timestamps);
    tcase_add_test(tiny, test_retention);
    tcase_add_test(tiny, test_slice_outlives_deleted_segment);
    tcase_add_test(tiny, test_segment_slices);
    suite_add_tcase(s, tiny);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
