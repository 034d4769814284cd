/*
 * Transactions in storage: the .txnindex file in Kafka's format (bytes,
 * torn tail, truncation), the last stable offset with interleaved
 * transactions of several producers, COMMIT and ABORT markers (the
 * aborted-transaction entries and their LSO), the markers' checks, Kafka's
 * collectAbortedTxns over segments, reads bounded by the LSO, recovery
 * rebuilding the txnindex and the LSO after a crash, and retention
 * deleting txnindex files.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/gp_batch.h"
#include "storage/gs_log.h"
#include "storage/gs_pstate.h"
#include "storage/gs_txnindex.h"
#include "tu_tmpdir.h"

static char root[64], dir[128];
static gp_arena arena;

static const gs_log_config small_cfg = {
    .segment_bytes = 2048, .segment_ms = 0, .segment_index_bytes = 1024, .index_interval_bytes = 256};

static void setup(void)
{
    tu_tmpdir_make(root, sizeof root, "txnindex");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    gp_arena_init(&arena, NULL, 0);
}

static void teardown(void)
{
    tu_tmpdir_remove(root);
    gp_arena_reset(&arena, NULL, 0);
}

static gs_log *open_log(bool clean, int64_t recovery_point)
{
    gs_log *log;
    gs_log_recovery rec;
    char err[256];
    ck_assert_int_eq(gs_log_open(dir, &small_cfg, recovery_point, 0, clean, &log, &rec, err, sizeof err), 0);
    return log;
}

static gs_pstate *open_pstate(gs_log *log, bool clean, gs_pstate_load *info)
{
    gs_pstate *ps;
    char err[256];
    ck_assert_int_eq(gs_pstate_open(log, clean, 1000, &ps, info, err, sizeof err), 0);
    return ps;
}

/* Append a batch of n records of producer pid (transactional or not) to
 * the log and the table, as the append path does; returns its base offset. */
static int64_t append(gs_log *log, gs_pstate *ps, int64_t pid, int16_t epoch, int32_t seq, int n, bool txn)
{
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++) {
        char *v = gp_arena_printf(&arena, "p%" PRId64 "-s%d-padding-padding-padding", pid, seq + i);
        recs[i].key = (gp_bytes){NULL, -1};
        recs[i].value = (gp_bytes){(const uint8_t *)v, (int32_t)strlen(v)};
    }
    gp_batch_params p = {.base_timestamp = 1000,
                         .producer_id = pid,
                         .producer_epoch = epoch,
                         .base_sequence = seq,
                         .transactional = txn,
                         .codec = GP_CODEC_NONE};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(&arena, &p, recs, n, &out), 0);
    uint8_t *b = malloc((size_t)out.len);
    memcpy(b, out.p, (size_t)out.len);
    gs_pstate_append a = {.producer_id = pid,
                          .epoch = epoch,
                          .first_seq = seq,
                          .last_seq = seq + n - 1,
                          .transactional = txn};
    gs_pstate_verdict v;
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    ck_assert_int_eq(gs_log_append(log, b, (size_t)out.len, 2000, false, 0, &a.first_offset, &a.last_offset), 0);
    a.timestamp = 1000;
    gs_pstate_update(ps, &a, 2000);
    free(b);
    return a.first_offset;
}

/* Write a marker as the append path does: check, append, end the
 * transaction. Returns the check's answer; the marker's offset in *off and
 * gs_pstate_end_txn's answer in *ended. */
static int marker(gs_log *log, gs_pstate *ps, int64_t pid, int16_t epoch, int32_t coord_epoch, bool commit,
                  int64_t *off, int *ended)
{
    gp_txn_marker m = {.type = commit ? GP_CONTROL_COMMIT : GP_CONTROL_ABORT,
                       .coordinator_epoch = coord_epoch,
                       .producer_id = pid,
                       .producer_epoch = epoch,
                       .timestamp = 3000};
    gs_pstate_verdict v;
    int rc = gs_pstate_check_marker(ps, &m, &v);
    if (rc != GS_PSTATE_APPEND)
        return rc;
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build_control(&arena, 0, 0, &m, &out), 0);
    uint8_t *b = malloc((size_t)out.len);
    memcpy(b, out.p, (size_t)out.len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, b, (size_t)out.len, 3000, false, 0, &base, &last), 0);
    free(b);
    *ended = gs_pstate_end_txn(ps, &m, base, 3000, NULL);
    *off = base;
    return rc;
}

static int64_t do_marker(gs_log *log, gs_pstate *ps, int64_t pid, bool commit)
{
    int64_t off;
    int ended;
    ck_assert_int_eq(marker(log, ps, pid, 0, 0, commit, &off, &ended), GS_PSTATE_APPEND);
    ck_assert_int_ge(ended, 0);
    return off;
}

static size_t file_size(int64_t base, const char *ext)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%020" PRId64 ".%s", dir, base, ext);
    return stat(path, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* All aborted transactions of the log, from offset 0. */
static size_t all_aborted(const gs_log *log, gs_aborted_txn *out, size_t max)
{
    return gs_log_aborted_txns(log, gs_log_start_offset(log), INT64_MAX, out, max);
}

/* ---- the file --------------------------------------------------------------------- */

START_TEST(test_file_bytes)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/%020d.txnindex", dir, 0);
    gs_txnindex ti;
    ck_assert_int_eq(gs_txnindex_open(&ti, path), 0);
    ck_assert_uint_eq(ti.n, 0);
    ck_assert_int_eq(access(path, F_OK), -1); /* created lazily */
    gs_aborted_txn a = {0x0102030405060708LL, 5, 9, 6}, b = {7, 10, 12, 13};
    ck_assert_int_eq(gs_txnindex_append(&ti, &a), 0);
    ck_assert_int_eq(gs_txnindex_append(&ti, &b), 0);
    gs_txnindex_close(&ti);

    static const uint8_t want[68] = {
        0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 6,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 13,
    };
    uint8_t got[128];
    ck_assert_uint_eq(read_file(path, got, sizeof got), 68);
    ck_assert_mem_eq(got, want, 68);

    /* A torn tail entry is cut off; the whole ones are read back. */
    FILE *f = fopen(path, "ab");
    fwrite(want, 1, 20, f);
    fclose(f);
    ck_assert_int_eq(gs_txnindex_open(&ti, path), 0);
    ck_assert_uint_eq(ti.n, 2);
    ck_assert_int_eq(ti.e[0].producer_id, 0x0102030405060708LL);
    ck_assert_int_eq(ti.e[1].last_stable_offset, 13);
    ck_assert_uint_eq(read_file(path, got, sizeof got), 68);

    /* Truncation drops entries whose marker is at or after the offset. */
    ck_assert_int_eq(gs_txnindex_truncate(&ti, 12), 0);
    ck_assert_uint_eq(ti.n, 1);
    ck_assert_uint_eq(read_file(path, got, sizeof got), 34);
    ck_assert_int_eq(gs_txnindex_truncate(&ti, 9), 0);
    ck_assert_uint_eq(ti.n, 0);
    ck_assert_int_eq(access(path, F_OK), -1); /* an empty index has no file */
    gs_txnindex_close(&ti);

    /* The same with the descriptor closed (its segment left the cache of
     * open segments): the file is rewritten all the same, so a restart
     * does not read the dropped entries back. */
    f = fopen(path, "wb");
    fwrite(want, 1, 68, f);
    fclose(f);
    ck_assert_int_eq(gs_txnindex_open(&ti, path), 0);
    ck_assert_uint_eq(ti.n, 2);
    close(ti.fd);
    ti.fd = -1;
    ck_assert_int_eq(gs_txnindex_truncate(&ti, 12), 0);
    ck_assert_int_eq(ti.fd, -1);
    ck_assert_uint_eq(read_file(path, got, sizeof got), 34);
    ck_assert_mem_eq(got, want, 34);
    ck_assert_int_eq(gs_txnindex_truncate(&ti, 9), 0);
    ck_assert_int_eq(access(path, F_OK), -1);
    gs_txnindex_close(&ti);
}
END_TEST

/* ---- LSO and markers ---------------------------------------------------------------- */

START_TEST(test_lso_interleaved)
{
    gs_log *log = open_log(false, 0);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), 0);
    append(log, ps, 9, 0, 0, 2, false); /* idempotent, not transactional: 0-1 */
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), 2);
    int64_t a1 = append(log, ps, 1, 0, 0, 3, true); /* 2-4 */
    int64_t b1 = append(log, ps, 2, 0, 0, 2, true); /* 5-6 */
    append(log, ps, 1, 0, 3, 1, true);              /* 7 */
    int64_t c1 = append(log, ps, 3, 0, 0, 1, true); /* 8 */
    ck_assert_int_eq(a1, 2);
    ck_assert_uint_eq(gs_pstate_open_txns(ps), 3);
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), a1);

    /* B commits: A is still first. */
    int64_t mb = do_marker(log, ps, 2, true); /* 9 */
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), a1);
    /* A aborts: C's first offset is the LSO, and the entry says so. */
    int64_t ma = do_marker(log, ps, 1, false); /* 10 */
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), c1);
    gs_aborted_txn e[4];
    ck_assert_uint_eq(all_aborted(log, e, 4), 1);
    ck_assert_int_eq(e[0].producer_id, 1);
    ck_assert_int_eq(e[0].first_offset, a1);
    ck_assert_int_eq(e[0].last_offset, ma);
    ck_assert_int_eq(e[0].last_stable_offset, c1);
    /* A begins again after C; C aborts: the LSO is A's new first offset,
     * and C's entry has LSO = A's first offset. */
    int64_t a2 = append(log, ps, 1, 0, 4, 1, true); /* 11 */
    int64_t mc = do_marker(log, ps, 3, false);       /* 12 */
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), a2);
    ck_assert_uint_eq(all_aborted(log, e, 4), 2);
    ck_assert_int_eq(e[1].first_offset, c1);
    ck_assert_int_eq(e[1].last_offset, mc);
    ck_assert_int_eq(e[1].last_stable_offset, a2);
    /* A aborts last: the LSO is the log end, the entry's LSO the offset
     * after the marker. */
    int64_t ma2 = do_marker(log, ps, 1, false);
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), gs_log_end_offset(log));
    ck_assert_uint_eq(all_aborted(log, e, 4), 3);
    ck_assert_int_eq(e[2].last_stable_offset, ma2 + 1);
    ck_assert_uint_eq(gs_pstate_open_txns(ps), 0);
    (void)b1;
    (void)mb;

    /* A marker of a producer with nothing open: written, no entry. */
    int64_t off;
    int ended;
    ck_assert_int_eq(marker(log, ps, 42, 0, 0, false, &off, &ended), GS_PSTATE_APPEND);
    ck_assert_int_eq(ended, 0);
    ck_assert_uint_eq(all_aborted(log, e, 4), 3);
    /* An older epoch is refused, as is an older coordinator epoch. */
    append(log, ps, 5, 3, 0, 1, true);
    ck_assert_int_eq(marker(log, ps, 5, 2, 0, false, &off, &ended), GS_PSTATE_ERR_EPOCH);
    ck_assert_int_eq(marker(log, ps, 5, 3, 4, true, &off, &ended), GS_PSTATE_APPEND);
    ck_assert_int_eq(marker(log, ps, 5, 3, 3, true, &off, &ended), GS_PSTATE_ERR_COORDINATOR);
    /* A newer epoch is written (a fenced producer's transaction aborted). */
    append(log, ps, 5, 3, 1, 1, true);
    ck_assert_int_eq(marker(log, ps, 5, 4, 4, false, &off, &ended), GS_PSTATE_APPEND);
    ck_assert_int_eq(ended, 1);
    ck_assert_uint_eq(gs_pstate_open_txns(ps), 0);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* ---- reads ---------------------------------------------------------------------------- */

START_TEST(test_bounded_read_and_collect)
{
    gs_log *log = open_log(false, 0);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    /* Enough to roll several segments of 2 KiB, with an abort spanning a roll. */
    int64_t first = append(log, ps, 1, 0, 0, 2, true);
    for (int i = 0; i < 40; i++)
        append(log, ps, 2, 0, i * 2, 2, false);
    ck_assert_uint_gt(gs_log_segment_count(log), 2);
    int64_t m1 = do_marker(log, ps, 1, false);
    int64_t second = append(log, ps, 1, 0, 2, 2, true);
    int64_t open3 = append(log, ps, 3, 0, 0, 1, true);
    int64_t m2 = do_marker(log, ps, 1, false);
    int64_t end = gs_log_end_offset(log);
    int64_t lso = gs_pstate_lso(ps, end);
    ck_assert_int_eq(lso, open3);
    append(log, ps, 3, 0, 1, 1, true);

    /* The entries are in the txnindex of the marker's segment. */
    int64_t base = -1, size;
    gs_log_tail(log, &base, &size);
    ck_assert_uint_eq(file_size(base, "txnindex"), 2 * GS_TXNINDEX_ENTRY);
    ck_assert_uint_eq(file_size(0, "txnindex"), (size_t)-1);

    /* From offset 0 up to everything: both; from after the first marker:
     * the second; up to below the second's first offset: only the first. */
    gs_aborted_txn e[4];
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, end, e, 4), 2);
    ck_assert_int_eq(e[0].first_offset, first);
    ck_assert_int_eq(e[1].first_offset, second);
    ck_assert_uint_eq(gs_log_aborted_txns(log, m1 + 1, end, e, 4), 1);
    ck_assert_int_eq(e[0].last_offset, m2);
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, second, e, 4), 1);
    ck_assert_int_eq(e[0].last_offset, m1);
    ck_assert_uint_eq(gs_log_aborted_txns(log, 0, end, NULL, 0), 2);

    /* A read bounded by the LSO stops before the batch at the LSO. */
    gs_log_slice s, u;
    ck_assert_int_eq(gs_log_read_bounded(log, second, lso, INT64_MAX, true, &s), 0);
    ck_assert_int_eq(gs_log_read(log, second, INT64_MAX, true, &u), 0);
    ck_assert_int_gt(s.len, 0);
    ck_assert_int_lt(s.len, u.len);
    uint8_t hdr[GP_BATCH_HEADER_SIZE];
    int64_t pos = s.pos, last_base = -1;
    while (pos < s.pos + s.len) {
        gp_batch_header h;
        ck_assert_int_eq(pread(s.fd, hdr, sizeof hdr, pos), (ssize_t)sizeof hdr);
        gp_batch_header_parse(hdr, sizeof hdr, &h);
        last_base = h.base_offset;
        pos += GP_BATCH_LOG_OVERHEAD + h.batch_length;
    }
    ck_assert_int_eq(pos, s.pos + s.len);
    ck_assert_int_lt(last_base, lso);
    ck_assert_int_eq(last_base, second); /* second's batch only: then B3 begins at the LSO */
    gs_log_slice_release(&s);
    gs_log_slice_release(&u);
    ck_assert_int_eq(gs_log_read_bounded(log, lso, lso, INT64_MAX, true, &s), 0);
    ck_assert_int_eq(s.len, 0);
    gs_log_slice_release(&s);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* ---- recovery and retention ---------------------------------------------------------------- */

static void build_aborts(gs_log *log, gs_pstate *ps, int64_t *open_first)
{
    for (int round = 0; round < 6; round++) {
        append(log, ps, 1, 0, round * 2, 2, true);
        for (int i = 0; i < 5; i++)
            append(log, ps, 2, 0, round * 10 + i * 2, 2, false);
        do_marker(log, ps, 1, round % 2 == 1); /* odd rounds commit */
    }
    *open_first = append(log, ps, 7, 0, 0, 1, true);
}

static void expect_aborts(gs_log *log, gs_pstate *ps, const gs_aborted_txn *want, size_t n, int64_t open_first)
{
    gs_aborted_txn got[8];
    ck_assert_uint_eq(all_aborted(log, got, 8), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(got[i].producer_id, want[i].producer_id);
        ck_assert_int_eq(got[i].first_offset, want[i].first_offset);
        ck_assert_int_eq(got[i].last_offset, want[i].last_offset);
        ck_assert_int_eq(got[i].last_stable_offset, want[i].last_stable_offset);
    }
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), open_first);
}

START_TEST(test_recovery_rebuilds)
{
    gs_log *log = open_log(false, 0);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t open_first;
    build_aborts(log, ps, &open_first);
    gs_aborted_txn want[8];
    size_t n = all_aborted(log, want, 8);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_gt(gs_log_segment_count(log), 2);
    /* kill -9: no stop snapshot. */
    gs_pstate_free(ps);
    gs_log_close(log);

    /* Every txnindex file lost or emptied, every snapshot gone: the
     * replay from the log start writes them again. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && rm -f *.snapshot && for f in *.txnindex; do : > $f; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(info.replay_from, 0);
    expect_aborts(log, ps, want, n, open_first);
    gs_pstate_free(ps);
    gs_log_close(log);

    /* Garbage entries beyond the replay's start (a txnindex ahead of a
     * snapshot) are dropped and written again, not doubled. */
    snprintf(cmd, sizeof cmd, "cd %s && rm -f *.snapshot && for f in *.txnindex; do cat $f $f > $f.x && mv $f.x $f; done",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(info.replay_from, 0);
    expect_aborts(log, ps, want, n, open_first);
    gs_pstate_free(ps);
    gs_log_close(log);

    /* Open again, from the snapshot at the log end (no replay): the
     * files are trusted and give the same answers. */
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(info.replay_from, -1);
    expect_aborts(log, ps, want, n, open_first);
    gs_pstate_free(ps);
    gs_log_close(log);

    /* A torn tail cuts the last marker away: its entry goes, and the
     * producer's transaction is open again. */
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    int64_t mlast = -1;
    append(log, ps, 8, 0, 0, 1, true);
    mlast = do_marker(log, ps, 8, false);
    ck_assert_uint_eq(all_aborted(log, NULL, 0), n + 1);
    gs_pstate_free(ps);
    gs_log_close(log);
    snprintf(cmd, sizeof cmd, "f=$(ls %s/*.log | tail -1); truncate -s -1 $f; rm -f %s/*.snapshot", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(gs_log_end_offset(log), mlast);
    ck_assert_uint_eq(all_aborted(log, NULL, 0), n);
    ck_assert_int_eq(gs_pstate_lso(ps, gs_log_end_offset(log)), open_first);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* A replay from a roll's snapshot: entries below it are trusted, those
 * after it are dropped and written again (not doubled). */
START_TEST(test_replay_from_snapshot)
{
    gs_log *log = open_log(false, 0);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t open_first;
    build_aborts(log, ps, &open_first);
    append(log, ps, 9, 0, 0, 1, true);
    do_marker(log, ps, 9, false); /* an abort in the active segment */
    int64_t base, size;
    gs_log_tail(log, &base, &size);
    ck_assert_int_gt(base, 0);
    gs_aborted_txn want[8];
    size_t n = all_aborted(log, want, 8);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_ge(want[3].last_offset, base);
    ck_assert_int_lt(want[0].last_offset, base);
    size_t active_size = file_size(base, "txnindex");
    ck_assert_uint_ge(active_size, GS_TXNINDEX_ENTRY);
    gs_pstate_free(ps);
    gs_log_close(log); /* no stop snapshot: as after kill -9 */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && f=%020" PRId64 ".txnindex && cat $f $f > $f.x && mv $f.x $f", dir, base);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_uint_eq(file_size(base, "txnindex"), 2 * active_size);
    log = open_log(false, 0);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(info.snapshot_offset, base);
    ck_assert_int_eq(info.replay_from, base);
    expect_aborts(log, ps, want, n, open_first);
    ck_assert_uint_eq(file_size(base, "txnindex"), active_size);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_retention_deletes_txnindex)
{
    gs_log *log = open_log(false, 0);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t open_first;
    build_aborts(log, ps, &open_first);
    do_marker(log, ps, 7, true);
    /* Which segments have a txnindex. */
    int64_t bases[64];
    size_t nb = 0;
    for (int64_t o = 0; o < gs_log_end_offset(log) && nb < 64; o++)
        if (gs_log_is_segment_base(log, o))
            bases[nb++] = o;
    int with = 0;
    for (size_t i = 0; i < nb; i++)
        with += file_size(bases[i], "txnindex") != (size_t)-1;
    ck_assert_int_eq(with, 3);
    for (int i = 0; i < 40; i++)
        append(log, ps, 2, 0, 60 + i * 2, 2, false);
    ck_assert_int_gt(gs_log_retain(log, 0, -1, 2048), 0);
    for (size_t i = 0; i < nb; i++)
        ck_assert_uint_eq(file_size(bases[i], "txnindex"), (size_t)-1);
    ck_assert_uint_eq(all_aborted(log, NULL, 0), 0);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("txnindex");
    TCase *tc = tcase_create("txnindex");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_file_bytes);
    tcase_add_test(tc, test_lso_interleaved);
    tcase_add_test(tc, test_bounded_read_and_collect);
    tcase_add_test(tc, test_recovery_rebuilds);
    tcase_add_test(tc, test_replay_from_snapshot);
    tcase_add_test(tc, test_retention_deletes_txnindex);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
