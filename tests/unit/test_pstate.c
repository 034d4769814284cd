/*
 * Producer state: Kafka's rules for idempotent appends (a duplicate of each
 * of the five cached batches, a sixth-older batch, gaps, sequence
 * wrap-around, epoch bumps and older epochs, unknown producers, an open
 * transaction), the hash table under many producers and removals, expiry,
 * the log start offset, snapshot files in Kafka's format (round trip, bytes,
 * a Kafka-written file, corruption), and the table rebuilt from snapshot and
 * log after a clean stop and after a crash (with a torn tail cut by
 * recovery and a snapshot beyond it).
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
#include "protocol/gp_crc32c.h"
#include "storage/gs_log.h"
#include "storage/gs_pstate.h"
#include "tu_tmpdir.h"

static char root[64], dir[128];
static gp_arena arena;

static const gs_log_config small_cfg = {
    .segment_bytes = 2048, .segment_ms = 0, .segment_index_bytes = 1024, .index_interval_bytes = 256};

static void setup(void)
{
    tu_tmpdir_make(root, sizeof root, "pstate");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    gp_arena_init(&arena, NULL, 0);
}

static void teardown(void)
{
    tu_tmpdir_remove(root);
    gp_arena_reset(&arena, NULL, 0);
}

/* An empty table: a log with no segments of interest. */
static gs_log *open_log(bool clean)
{
    gs_log *log;
    gs_log_recovery rec;
    char err[256];
    ck_assert_int_eq(gs_log_open(dir, &small_cfg, 0, 0, clean, &log, &rec, err, sizeof err), 0);
    return log;
}

static gs_pstate *open_pstate(gs_log *log, bool clean, gs_pstate_load *info)
{
    gs_pstate *ps;
    char err[256];
    ck_assert_int_eq(gs_pstate_open(log, clean, 1000, &ps, info, err, sizeof err), 0);
    return ps;
}

static gs_pstate_append batch(int64_t pid, int16_t epoch, int32_t first_seq, int32_t n)
{
    return (gs_pstate_append){
        .producer_id = pid,
        .epoch = epoch,
        .first_seq = first_seq,
        .last_seq = gs_pstate_seq_add(first_seq, n - 1),
    };
}

/* Check a batch and, if appendable, "append" it at *next. Returns the
 * check's answer. */
static int append(gs_pstate *ps, int64_t *next, int64_t pid, int16_t epoch, int32_t first_seq, int32_t n,
                  gs_pstate_verdict *v)
{
    gs_pstate_append a = batch(pid, epoch, first_seq, n);
    gs_pstate_verdict dummy;
    int rc = gs_pstate_check(ps, &a, v ? v : &dummy);
    if (rc == GS_PSTATE_APPEND) {
        a.first_offset = *next;
        a.last_offset = *next + n - 1;
        a.timestamp = 500 + *next;
        gs_pstate_update(ps, &a, 900);
        *next += n;
    }
    return rc;
}

START_TEST(test_sequence_helpers)
{
    ck_assert_int_eq(gs_pstate_seq_add(5, 3), 8);
    ck_assert_int_eq(gs_pstate_seq_add(INT32_MAX, 1), 0);
    ck_assert_int_eq(gs_pstate_seq_add(INT32_MAX - 1, 3), 1);
    ck_assert_int_eq(gs_pstate_seq_sub(8, 3), 5);
    ck_assert_int_eq(gs_pstate_seq_sub(0, 1), INT32_MAX);
    ck_assert_int_eq(gs_pstate_seq_sub(1, 3), INT32_MAX - 1);
}
END_TEST

START_TEST(test_duplicates_in_each_slot)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 100;
    /* Five batches of 1..5 records: sequences 0, 1-2, 3-5, 6-9, 10-14. */
    int32_t seq = 0;
    int64_t base[5];
    for (int i = 0; i < 5; i++) {
        base[i] = next;
        ck_assert_int_eq(append(ps, &next, 7, 0, seq, i + 1, NULL), GS_PSTATE_APPEND);
        seq += i + 1;
    }
    seq = 0;
    for (int i = 0; i < 5; i++) {
        gs_pstate_verdict v;
        ck_assert_int_eq(append(ps, &next, 7, 0, seq, i + 1, &v), GS_PSTATE_DUPLICATE);
        ck_assert_int_eq(v.first_offset, base[i]);
        ck_assert_int_eq(v.last_offset, base[i] + i);
        ck_assert_int_eq(v.timestamp, 500 + base[i]);
        seq += i + 1;
    }
    /* Same first sequence, other last sequence: not a duplicate, out of order. */
    ck_assert_int_eq(append(ps, &next, 7, 0, 3, 2, NULL), GS_PSTATE_ERR_SEQUENCE);
    /* Same sequences, another epoch: not a duplicate either (a new epoch
     * must start at 0). */
    ck_assert_int_eq(append(ps, &next, 7, 1, 3, 3, NULL), GS_PSTATE_ERR_SEQUENCE);
    ck_assert_int_eq(next, 115);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_sixth_older_batch)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(append(ps, &next, 1, 0, i * 10, 10, NULL), GS_PSTATE_APPEND);
    /* The first batch fell out of the cache: its retry is out of order. */
    gs_pstate_verdict v;
    ck_assert_int_eq(append(ps, &next, 1, 0, 0, 10, &v), GS_PSTATE_ERR_SEQUENCE);
    ck_assert_int_eq(v.last_seq, 59);
    ck_assert_int_eq(v.epoch, 0);
    /* The second one is still there. */
    ck_assert_int_eq(append(ps, &next, 1, 0, 10, 10, &v), GS_PSTATE_DUPLICATE);
    ck_assert_int_eq(v.first_offset, 10);
    ck_assert_int_eq(gs_pstate_find(ps, 1)->nbatches, GS_PSTATE_BATCHES);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_gaps)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    ck_assert_int_eq(append(ps, &next, 3, 0, 0, 5, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(append(ps, &next, 3, 0, 6, 1, NULL), GS_PSTATE_ERR_SEQUENCE); /* a gap of one */
    ck_assert_int_eq(append(ps, &next, 3, 0, 4, 2, NULL), GS_PSTATE_ERR_SEQUENCE); /* overlapping */
    ck_assert_int_eq(append(ps, &next, 3, 0, 100, 1, NULL), GS_PSTATE_ERR_SEQUENCE);
    ck_assert_int_eq(append(ps, &next, 3, 0, 5, 1, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(gs_producer_last_seq(gs_pstate_find(ps, 3)), 5);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* Transaction version 2: a producer new to the partition starts at 0. */
START_TEST(test_new_starts_at_zero)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    gs_pstate_verdict v;
    gs_pstate_append a = batch(7, 2, 3, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND); /* rule 4 */
    a.new_starts_at_zero = true;
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_ERR_SEQUENCE);
    a = batch(7, 2, 0, 1);
    a.new_starts_at_zero = true;
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_wrap_around)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    /* An unknown producer may start anywhere. */
    ck_assert_int_eq(append(ps, &next, 9, 2, INT32_MAX - 4, 3, NULL), GS_PSTATE_APPEND);
    /* INT32_MAX-1 .. 0: a batch across the wrap. */
    ck_assert_int_eq(append(ps, &next, 9, 2, INT32_MAX - 1, 3, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(gs_producer_last_seq(gs_pstate_find(ps, 9)), 0);
    gs_pstate_verdict v;
    ck_assert_int_eq(append(ps, &next, 9, 2, INT32_MAX - 1, 3, &v), GS_PSTATE_DUPLICATE);
    ck_assert_int_eq(v.first_offset, 3);
    ck_assert_int_eq(append(ps, &next, 9, 2, 1, 1, NULL), GS_PSTATE_APPEND);
    /* Ending exactly at INT32_MAX: 0 comes next. */
    ck_assert_int_eq(append(ps, &next, 10, 0, INT32_MAX - 1, 2, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(append(ps, &next, 10, 0, INT32_MAX, 1, NULL), GS_PSTATE_ERR_SEQUENCE);
    ck_assert_int_eq(append(ps, &next, 10, 0, 0, 1, NULL), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_epochs)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    ck_assert_int_eq(append(ps, &next, 4, 3, 0, 2, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(append(ps, &next, 4, 3, 2, 2, NULL), GS_PSTATE_APPEND);
    gs_pstate_verdict v;
    ck_assert_int_eq(append(ps, &next, 4, 2, 4, 1, &v), GS_PSTATE_ERR_EPOCH);
    ck_assert_int_eq(v.epoch, 3);
    /* Even a batch the older epoch did write is refused, not a duplicate. */
    ck_assert_int_eq(append(ps, &next, 4, 2, 0, 2, NULL), GS_PSTATE_ERR_EPOCH);
    /* A bump must start at 0. */
    ck_assert_int_eq(append(ps, &next, 4, 4, 4, 1, NULL), GS_PSTATE_ERR_SEQUENCE);
    ck_assert_int_eq(append(ps, &next, 4, 4, 0, 1, NULL), GS_PSTATE_APPEND);
    const gs_producer *p = gs_pstate_find(ps, 4);
    ck_assert_int_eq(p->epoch, 4);
    ck_assert_int_eq(p->nbatches, 1); /* the old epoch's batches are gone */
    /* Now epoch 3 is fenced. */
    ck_assert_int_eq(append(ps, &next, 4, 3, 4, 1, NULL), GS_PSTATE_ERR_EPOCH);
    /* The epoch may jump by more than one (a bump the partition missed). */
    ck_assert_int_eq(append(ps, &next, 4, 9, 0, 1, NULL), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_unknown_producer)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    gs_pstate_verdict v;
    /* Kafka 2.5+: no state, any sequence, any epoch. */
    ck_assert_int_eq(append(ps, &next, 11, 0, 42, 3, &v), GS_PSTATE_APPEND);
    ck_assert_int_eq(v.epoch, -1);
    ck_assert_int_eq(v.last_seq, -1);
    ck_assert_int_eq(append(ps, &next, 11, 0, 45, 1, NULL), GS_PSTATE_APPEND);
    ck_assert_int_eq(append(ps, &next, 12, 5, 0, 1, NULL), GS_PSTATE_APPEND);
    /* A transaction open: a plain batch is refused. */
    gs_pstate_append a = batch(13, 0, 0, 2);
    a.transactional = true;
    a.first_offset = next;
    a.last_offset = next + 1;
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    gs_pstate_update(ps, &a, 900);
    next += 2;
    ck_assert_int_eq(gs_pstate_find(ps, 13)->txn_first_offset, a.first_offset);
    ck_assert_int_eq(append(ps, &next, 13, 0, 2, 1, NULL), GS_PSTATE_ERR_TXN);
    gs_pstate_apply_marker(ps, 13, 0, 7, 950, 950);
    ck_assert_int_eq(gs_pstate_find(ps, 13)->txn_first_offset, -1);
    ck_assert_int_eq(gs_pstate_find(ps, 13)->coordinator_epoch, 7);
    ck_assert_int_eq(append(ps, &next, 13, 0, 2, 1, NULL), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_many_producers_expiry_and_log_start)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    int64_t next = 0;
    enum { N = 5000 };
    for (int64_t id = 0; id < N; id++)
        ck_assert_int_eq(append(ps, &next, id * 1000003, 0, 0, 1, NULL), GS_PSTATE_APPEND);
    ck_assert_uint_eq(gs_pstate_count(ps), N);
    /* Producers [0, N/2) wrote offsets below N/2: the log start moves past them. */
    ck_assert_uint_eq(gs_pstate_truncate_head(ps, N / 2), N / 2);
    ck_assert_uint_eq(gs_pstate_count(ps), N - N / 2);
    for (int64_t id = 0; id < N; id++) {
        const gs_producer *p = gs_pstate_find(ps, id * 1000003);
        if (id < N / 2)
            ck_assert_ptr_null(p);
        else
            ck_assert_int_eq(p->producer_id, id * 1000003);
    }
    size_t cursor = 0, seen = 0;
    while (gs_pstate_next(ps, &cursor))
        seen++;
    ck_assert_uint_eq(seen, N - N / 2);
    /* A producer that appends again stays; the rest expire. */
    /* (Idle time counts from the later of the batch timestamp, here 10,
     * and the append's wall clock, 20000.) */
    gs_pstate_append a = batch((int64_t)(N - 1) * 1000003, 0, 1, 1);
    a.first_offset = a.last_offset = next++;
    a.timestamp = 10;
    gs_pstate_update(ps, &a, 20000);
    ck_assert_uint_eq(gs_pstate_expire(ps, 20500, 1000), N - N / 2 - 1);
    ck_assert_uint_eq(gs_pstate_count(ps), 1);
    ck_assert_ptr_nonnull(gs_pstate_find(ps, (int64_t)(N - 1) * 1000003));
    ck_assert_uint_eq(gs_pstate_expire(ps, 21000, 1000), 1);
    ck_assert_uint_eq(gs_pstate_count(ps), 0);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* ---- snapshot files --------------------------------------------------------- */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    ck_assert_int_ge(n, 0);
    return (size_t)n;
}

START_TEST(test_snapshot_round_trip)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    gs_producer a = {.producer_id = 1000,
                     .epoch = 3,
                     .coordinator_epoch = -1,
                     .last_timestamp = 777,
                     .txn_first_offset = -1,
                     .nbatches = 2};
    a.batches[0] = (gs_pstate_batch){.last_seq = 9, .offset_delta = 9, .last_offset = 109, .timestamp = 700};
    a.batches[1] = (gs_pstate_batch){.last_seq = 14, .offset_delta = 4, .last_offset = 120, .timestamp = 777};
    gs_producer b = {.producer_id = 5,
                     .epoch = 0,
                     .coordinator_epoch = 2,
                     .last_timestamp = 42,
                     .txn_first_offset = 99,
                     .nbatches = 0};
    gs_producer *list[] = {&b, &a};
    char path[256];
    snprintf(path, sizeof path, "%s/00000000000000000121.snapshot", dir);
    ck_assert_int_eq(gs_pstate_write_snapshot_file(path, list, 2, true), 0);

    /* The bytes, field by field, as Kafka's PID_SNAPSHOT_MAP_SCHEMA. */
    uint8_t buf[512];
    size_t n = read_file(path, buf, sizeof buf);
    ck_assert_uint_eq(n, 10 + 3 * 46);
    ck_assert_uint_eq(be(buf, 2), 1);
    ck_assert_uint_eq(be(buf + 2, 4), gp_crc32c(0, buf + 6, n - 6));
    ck_assert_uint_eq(be(buf + 6, 4), 3);
    const uint8_t *e = buf + 10; /* producer 5: no batch */
    ck_assert_uint_eq(be(e, 8), 5);
    ck_assert_uint_eq(be(e + 8, 2), 0);
    ck_assert_uint_eq((uint32_t)be(e + 10, 4), UINT32_MAX); /* last sequence -1 */
    ck_assert_uint_eq(be(e + 14, 8), UINT64_MAX);           /* last offset -1 */
    ck_assert_uint_eq(be(e + 22, 4), 0);
    ck_assert_uint_eq(be(e + 26, 8), 42);
    ck_assert_uint_eq(be(e + 34, 4), 2);
    ck_assert_uint_eq(be(e + 38, 8), 99);
    e += 46; /* producer 1000, older batch, then the newest */
    ck_assert_uint_eq(be(e, 8), 1000);
    ck_assert_uint_eq(be(e + 10, 4), 9);
    ck_assert_uint_eq(be(e + 14, 8), 109);
    ck_assert_uint_eq(be(e + 26, 8), 700);
    e += 46;
    ck_assert_uint_eq(be(e, 8), 1000);
    ck_assert_uint_eq(be(e + 8, 2), 3);
    ck_assert_uint_eq(be(e + 10, 4), 14);
    ck_assert_uint_eq(be(e + 14, 8), 120);
    ck_assert_uint_eq(be(e + 22, 4), 4);
    ck_assert_uint_eq(be(e + 26, 8), 777);
    ck_assert_uint_eq((uint32_t)be(e + 34, 4), UINT32_MAX);
    ck_assert_uint_eq(be(e + 38, 8), UINT64_MAX);

    gs_producer *got;
    size_t ngot;
    ck_assert_int_eq(gs_pstate_read_snapshot_file(path, &got, &ngot), 0);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_int_eq(got[0].producer_id, 5);
    ck_assert_int_eq(got[0].nbatches, 0);
    ck_assert_int_eq(got[0].txn_first_offset, 99);
    ck_assert_int_eq(got[0].coordinator_epoch, 2);
    ck_assert_int_eq(got[1].producer_id, 1000);
    ck_assert_int_eq(got[1].epoch, 3);
    ck_assert_int_eq(got[1].nbatches, 2);
    ck_assert_int_eq(got[1].batches[0].last_seq, 9);
    ck_assert_int_eq(got[1].batches[0].last_offset, 109);
    ck_assert_int_eq(got[1].batches[1].last_seq, 14);
    ck_assert_int_eq(got[1].batches[1].offset_delta, 4);
    ck_assert_int_eq(got[1].last_timestamp, 777);
    free(got);

    /* Every flipped byte is caught (version, CRC or entries). */
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x40;
        int fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
        close(fd);
        ck_assert_int_eq(gs_pstate_read_snapshot_file(path, &got, &ngot), GS_PSTATE_ERR_CORRUPT);
        buf[i] ^= 0x40;
    }
    /* A cut file too. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, buf, n - 1), (ssize_t)(n - 1));
    close(fd);
    ck_assert_int_eq(gs_pstate_read_snapshot_file(path, &got, &ngot), GS_PSTATE_ERR_CORRUPT);
}
END_TEST

/* A snapshot as Kafka writes it (one entry per producer), loaded by
 * gs_pstate_open: the producer's last batch is recognised. */
START_TEST(test_kafka_snapshot_loaded)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    uint8_t buf[10 + 46] = {0, 1};
    buf[9] = 1; /* one entry */
    uint8_t *e = buf + 10;
    e[7] = 77;                  /* producer 77 */
    e[9] = 2;                   /* epoch 2 */
    e[13] = 19;                 /* last sequence 19 */
    memset(e + 14, 0, 8);       /* last offset 0 (a batch of one record) */
    e[25] = 0;                  /* offset delta 0 */
    e[32] = 0x03, e[33] = 0xe8; /* timestamp 1000 */
    memset(e + 34, 0xff, 4);    /* coordinator epoch -1 */
    memset(e + 38, 0xff, 8);    /* no transaction */
    uint32_t crc = gp_crc32c(0, buf + 6, sizeof buf - 6);
    buf[2] = (uint8_t)(crc >> 24), buf[3] = (uint8_t)(crc >> 16), buf[4] = (uint8_t)(crc >> 8), buf[5] = (uint8_t)crc;
    char path[256];
    snprintf(path, sizeof path, "%s/00000000000000000000.snapshot", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_eq(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    gs_log *log = open_log(true);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, true, &info);
    ck_assert_int_eq(info.snapshot_offset, 0);
    ck_assert_uint_eq(info.producers, 1);
    gs_pstate_verdict v;
    gs_pstate_append a = batch(77, 2, 19, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_DUPLICATE);
    ck_assert_int_eq(v.first_offset, 0);
    a = batch(77, 2, 20, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* ---- rebuilding from the log ----------------------------------------------------- */

/* Append an idempotent batch of n records to the log and the table, as the
 * broker does. */
static void log_append(gs_log *log, gs_pstate *ps, int64_t pid, int16_t epoch, int32_t seq, int n)
{
    gp_record *recs = gp_arena_calloc(&arena, (size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++) {
        char *v = gp_arena_printf(&arena, "p%" PRId64 "-s%d-padding-padding-padding-padding", pid, seq + i);
        recs[i].timestamp_delta = i;
        recs[i].key = (gp_bytes){NULL, -1};
        recs[i].value = (gp_bytes){(const uint8_t *)v, (int32_t)strlen(v)};
    }
    gp_batch_params p = {.base_timestamp = 1000 + seq,
                         .producer_id = pid,
                         .producer_epoch = epoch,
                         .base_sequence = seq,
                         .codec = GP_CODEC_NONE};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build(&arena, &p, recs, n, &out), 0);
    uint8_t *b = malloc((size_t)out.len);
    memcpy(b, out.p, (size_t)out.len);
    gs_pstate_append a = batch(pid, epoch, seq, n);
    gs_pstate_verdict v;
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    ck_assert_int_eq(gs_log_append(log, b, (size_t)out.len, 2000, false, 0, &a.first_offset, &a.last_offset), 0);
    a.timestamp = 1000 + seq + n - 1;
    gs_pstate_update(ps, &a, 2000);
    free(b);
}

static void append_marker(gs_log *log, gs_pstate *ps, int64_t pid, int16_t epoch, int32_t coordinator_epoch)
{
    gp_txn_marker m = {.type = GP_CONTROL_COMMIT,
                       .coordinator_epoch = coordinator_epoch,
                       .producer_id = pid,
                       .producer_epoch = epoch,
                       .timestamp = 3000};
    gp_bytes out;
    ck_assert_int_eq(gp_batch_build_control(&arena, 0, 0, &m, &out), 0);
    uint8_t *b = malloc((size_t)out.len);
    memcpy(b, out.p, (size_t)out.len);
    int64_t base, last;
    ck_assert_int_eq(gs_log_append(log, b, (size_t)out.len, 3000, false, 0, &base, &last), 0);
    gs_pstate_apply_marker(ps, pid, epoch, coordinator_epoch, 3000, 3000);
    free(b);
}

static void expect_marker(gs_pstate *ps)
{
    const gs_producer *m = gs_pstate_find(ps, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->epoch, 4);
    ck_assert_int_eq(m->coordinator_epoch, 9);
    ck_assert_int_eq(m->last_timestamp, 3000);
}

static int count_snapshots(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "exit $(ls %s | grep -c '\\.snapshot$')", dir);
    int rc = system(cmd);
    return WEXITSTATUS(rc);
}

static bool snapshot_exists(int64_t off)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%020" PRId64 ".snapshot", dir, off);
    return stat(path, &st) == 0;
}

/* The rules must give the same answers before and after. */
static void expect_state(gs_pstate *ps, int64_t pid, int16_t epoch, int32_t next_seq, int32_t last_batch_n)
{
    gs_pstate_verdict v;
    /* The last five batches (each last_batch_n records) are duplicates. */
    for (int k = 1; k <= 5; k++) {
        gs_pstate_append a = batch(pid, epoch, next_seq - k * last_batch_n, last_batch_n);
        ck_assert_msg(gs_pstate_check(ps, &a, &v) == GS_PSTATE_DUPLICATE, "producer %" PRId64 " batch -%d", pid, k);
    }
    gs_pstate_append a = batch(pid, epoch, next_seq - 6 * last_batch_n, last_batch_n);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_ERR_SEQUENCE);
    a = batch(pid, epoch, next_seq, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    a = batch(pid, epoch, next_seq + 1, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_ERR_SEQUENCE);
}

START_TEST(test_rebuild_after_clean_stop)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    for (int i = 0; i < 40; i++) {
        log_append(log, ps, 1, 0, i * 2, 2);
        log_append(log, ps, 2, 5, i * 3, 3);
    }
    ck_assert_uint_gt(gs_log_segment_count(log), 3); /* rolls wrote snapshots */
    ck_assert_int_gt(count_snapshots(), 2);
    int64_t end = gs_log_end_offset(log);
    ck_assert_int_eq(gs_pstate_snapshot(ps, end, true), 0);
    gs_log_close(log);
    gs_pstate_free(ps);

    log = open_log(true);
    ps = open_pstate(log, true, &info);
    ck_assert_int_eq(info.snapshot_offset, end);
    ck_assert_int_eq(info.replay_from, -1);
    ck_assert_uint_eq(info.producers, 2);
    expect_state(ps, 1, 0, 80, 2);
    expect_state(ps, 2, 5, 120, 3);
    /* The stop's snapshot (not a segment base) is kept as the newest. */
    ck_assert(snapshot_exists(end));
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

START_TEST(test_rebuild_after_crash)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    for (int i = 0; i < 30; i++) {
        log_append(log, ps, 1, 0, i, 1);
        log_append(log, ps, 2, 1, i * 2, 2);
    }
    append_marker(log, ps, 3, 4, 9); /* a transaction marker of another producer */
    for (int i = 30; i < 36; i++)
        log_append(log, ps, 1, 0, i, 1);
    ck_assert_int_gt(count_snapshots(), 0);
    int64_t end = gs_log_end_offset(log);
    /* kill -9: no stop snapshot; and a stale snapshot beyond the log end
     * (written before a power cut took the log's tail). */
    char path[256];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".snapshot", dir, end + 100);
    gs_producer bogus = {.producer_id = 1, .epoch = 0, .nbatches = 1, .txn_first_offset = -1};
    bogus.batches[0] = (gs_pstate_batch){.last_seq = 1000, .last_offset = end + 99};
    gs_producer *lp = &bogus;
    ck_assert_int_eq(gs_pstate_write_snapshot_file(path, &lp, 1, false), 0);
    gs_pstate_free(ps);
    gs_log_close(log);

    log = open_log(false);
    ps = open_pstate(log, false, &info);
    ck_assert(!snapshot_exists(end + 100));
    ck_assert_int_ge(info.snapshot_offset, 0);
    ck_assert_int_lt(info.snapshot_offset, end);
    ck_assert_int_eq(info.replay_from, info.snapshot_offset);
    ck_assert_int_gt(info.batches_replayed, 0);
    ck_assert(info.snapshot_written);
    ck_assert(snapshot_exists(end));
    expect_state(ps, 1, 0, 36, 1);
    expect_state(ps, 2, 1, 60, 2);
    expect_marker(ps);
    gs_pstate_free(ps);
    gs_log_close(log);

    /* Every snapshot gone (or all corrupt): the whole log is replayed. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "for f in %s/*.snapshot; do echo garbage > $f; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    log = open_log(false);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(info.snapshot_offset, -1);
    ck_assert_int_gt(info.snapshots_corrupt, 0);
    ck_assert_int_eq(info.replay_from, 0);
    expect_state(ps, 1, 0, 36, 1);
    expect_state(ps, 2, 1, 60, 2);
    expect_marker(ps); /* replayed from the control batch */
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* A torn last batch: recovery cuts it, and the table forgets it too, so
 * the producer's retry is written again, not answered as a duplicate. */
START_TEST(test_rebuild_after_torn_tail)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    for (int i = 0; i < 8; i++)
        log_append(log, ps, 5, 0, i * 4, 4);
    gs_pstate_free(ps);
    gs_log_close(log);
    /* Cut the active segment's last byte. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "f=$(ls %s/*.log | tail -1); truncate -s -1 $f", dir);
    ck_assert_int_eq(system(cmd), 0);
    log = open_log(false);
    ps = open_pstate(log, false, &info);
    ck_assert_int_eq(gs_log_end_offset(log), 28);
    gs_pstate_verdict v;
    gs_pstate_append a = batch(5, 0, 28, 4);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    a = batch(5, 0, 24, 4);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_DUPLICATE);
    ck_assert_int_eq(v.first_offset, 24);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* Retention deletes segments: the producers and snapshots below go. */
START_TEST(test_retention_removes_state)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    for (int i = 0; i < 10; i++)
        log_append(log, ps, 100, 0, i * 3, 3); /* an early producer */
    for (int i = 0; i < 30; i++)
        log_append(log, ps, 200, 0, i * 3, 3);
    int before = count_snapshots();
    ck_assert_int_gt(gs_log_retain(log, 0, -1, 2048), 0);
    int64_t start = gs_log_start_offset(log);
    ck_assert_int_gt(start, 30);
    ck_assert_uint_eq(gs_pstate_truncate_head(ps, start), 1);
    ck_assert_ptr_null(gs_pstate_find(ps, 100));
    ck_assert_ptr_nonnull(gs_pstate_find(ps, 200));
    ck_assert_int_lt(count_snapshots(), before);
    for (int64_t o = 0; o < start; o++)
        ck_assert(!snapshot_exists(o));
    /* Producer 100 is unknown now: any sequence goes. */
    gs_pstate_verdict v;
    gs_pstate_append a = batch(100, 0, 999, 1);
    ck_assert_int_eq(gs_pstate_check(ps, &a, &v), GS_PSTATE_APPEND);
    gs_pstate_free(ps);
    gs_log_close(log);

    /* And after a restart it stays gone. */
    log = open_log(false);
    ps = open_pstate(log, false, &info);
    ck_assert_ptr_null(gs_pstate_find(ps, 100));
    expect_state(ps, 200, 0, 90, 3);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* A clean stop from a time before producer state: nothing is replayed. */
START_TEST(test_no_snapshot_after_clean_stop)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    log_append(log, ps, 1, 0, 0, 1);
    gs_pstate_free(ps);
    gs_log_close(log);
    log = open_log(true);
    ps = open_pstate(log, true, &info);
    ck_assert_int_eq(info.replay_from, -1);
    ck_assert_uint_eq(gs_pstate_count(ps), 0);
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

/* Snapshots that would repeat what is on disk are not written. */
START_TEST(test_snapshot_skips)
{
    gs_log *log = open_log(false);
    gs_pstate_load info;
    gs_pstate *ps = open_pstate(log, false, &info);
    /* No producer ever, no snapshot: a stop writes nothing. */
    ck_assert_int_eq(gs_pstate_snapshot(ps, 0, true), 0);
    ck_assert_int_eq(count_snapshots(), 0);
    log_append(log, ps, 1, 0, 0, 1);
    ck_assert_int_eq(gs_pstate_snapshot(ps, 1, true), 0);
    ck_assert(snapshot_exists(1));
    /* Unchanged since: not written again. */
    char path[256];
    snprintf(path, sizeof path, "%s/%020d.snapshot", dir, 1);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(gs_pstate_snapshot(ps, 1, true), 0);
    ck_assert(!snapshot_exists(1));
    /* A change (expiry) is written. */
    ck_assert_uint_eq(gs_pstate_expire(ps, INT64_MAX / 2, 1), 1);
    ck_assert_int_eq(gs_pstate_snapshot(ps, 1, true), 0);
    ck_assert(snapshot_exists(1));
    gs_pstate_free(ps);
    gs_log_close(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pstate");
    TCase *tc = tcase_create("pstate");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sequence_helpers);
    tcase_add_test(tc, test_duplicates_in_each_slot);
    tcase_add_test(tc, test_sixth_older_batch);
    tcase_add_test(tc, test_gaps);
    tcase_add_test(tc, test_new_starts_at_zero);
    tcase_add_test(tc, test_wrap_around);
    tcase_add_test(tc, test_epochs);
    tcase_add_test(tc, test_unknown_producer);
    tcase_add_test(tc, test_many_producers_expiry_and_log_start);
    tcase_add_test(tc, test_snapshot_round_trip);
    tcase_add_test(tc, test_kafka_snapshot_loaded);
    tcase_add_test(tc, test_rebuild_after_clean_stop);
    tcase_add_test(tc, test_rebuild_after_crash);
    tcase_add_test(tc, test_rebuild_after_torn_tail);
    tcase_add_test(tc, test_retention_removes_state);
    tcase_add_test(tc, test_no_snapshot_after_clean_stop);
    tcase_add_test(tc, test_snapshot_skips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
