/*
 * Offset and time indexes: Kafka's byte layout, appends that must increase,
 * floor lookups at and between entries, full index, truncation, trim to
 * size and reopen, reset before a rebuild; disk blocks reserved before an
 * entry is stored (a full disk is an error, not a SIGBUS), and the
 * write-back used where the filesystem has no fallocate.
 *
 * The file includes gs_index.c (H2O's way) with fallocate and pwrite
 * replaced by tu_fallocate and tu_pwrite, which can fail as a full disk or a
 * filesystem without fallocate does.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h> /* the real fallocate, declared before the #define below */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h> /* the real pwrite too */

/* 0: the real call; otherwise fail with this errno. */
static int tu_fallocate_errno, tu_pwrite_errno;
static int tu_fallocate_calls;
static int tu_fallocate(int fd, int mode, off_t offset, off_t len);
static ssize_t tu_pwrite(int fd, const void *buf, size_t len, off_t offset);
#define fallocate tu_fallocate
#define pwrite tu_pwrite
#include "../../storage/gs_index.c"
#undef fallocate
#undef pwrite

static ssize_t tu_pwrite(int fd, const void *buf, size_t len, off_t offset)
{
    if (tu_pwrite_errno) {
        errno = tu_pwrite_errno;
        return -1;
    }
    return pwrite(fd, buf, len, offset);
}

static int tu_fallocate(int fd, int mode, off_t offset, off_t len)
{
    tu_fallocate_calls++;
    if (tu_fallocate_errno) {
        errno = tu_fallocate_errno;
        return -1;
    }
    return fallocate(fd, mode, offset, len);
}

#include "tu_tmpdir.h"

static char dir[64];

static void setup(void)
{
    tu_tmpdir_make(dir, sizeof dir, "index");
}

static void teardown(void)
{
    tu_tmpdir_remove(dir);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

START_TEST(test_offset_index)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000100.index", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 100, 1000, true), 0);
    ck_assert_int_eq(file_size(path), 1000 - 1000 % 8); /* preallocated */
    ck_assert_uint_eq(ix.entries, 0);
    int64_t off;
    uint32_t pos;
    gs_offset_index_lookup(&ix, 150, &off, &pos);
    ck_assert(off == 100 && pos == 0); /* empty: segment start */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(gs_offset_index_append(&ix, 110 + i * 10, (uint32_t)(4096 * (i + 1))), 0);
    /* keys and positions must increase */
    ck_assert_int_eq(gs_offset_index_append(&ix, 200, 100), -EINVAL);
    ck_assert_int_eq(gs_offset_index_append(&ix, 99, 1 << 20), -EINVAL);
    /* Kafka's layout: relative offset, position, big-endian */
    ck_assert_uint_eq(ix.map[3], 10);
    ck_assert_uint_eq(ix.map[6], 0x10);
    gs_offset_index_lookup(&ix, 105, &off, &pos);
    ck_assert(off == 100 && pos == 0);
    gs_offset_index_lookup(&ix, 110, &off, &pos);
    ck_assert(off == 110 && pos == 4096);
    gs_offset_index_lookup(&ix, 139, &off, &pos);
    ck_assert(off == 130 && pos == 3 * 4096);
    gs_offset_index_lookup(&ix, 1000000, &off, &pos);
    ck_assert(off == 200 && pos == 10 * 4096);

    gs_index_truncate_offset(&ix, 150); /* drops 150.. */
    ck_assert_uint_eq(ix.entries, 4);
    gs_offset_index_lookup(&ix, 175, &off, &pos);
    ck_assert(off == 140);

    ck_assert_int_eq(gs_index_trim(&ix), 0);
    ck_assert_int_eq(file_size(path), 4 * 8);
    gs_index_close(&ix);
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 100, 1000, false), 0);
    ck_assert_uint_eq(ix.entries, 4);
    gs_offset_index_lookup(&ix, 135, &off, &pos);
    ck_assert(off == 130 && pos == 3 * 4096);
    ck_assert_int_eq(gs_offset_index_append(&ix, 500, 1 << 24), -EFBIG); /* read-only */
    gs_index_close(&ix);
}
END_TEST

START_TEST(test_offset_index_full)
{
    char path[128];
    snprintf(path, sizeof path, "%s/0.index", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 24, true), 0);
    ck_assert(!gs_index_full(&ix));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gs_offset_index_append(&ix, i + 1, (uint32_t)(i + 1) * 100), 0);
    ck_assert(gs_index_full(&ix));
    ck_assert_int_eq(gs_offset_index_append(&ix, 10, 1000), -EFBIG);
    /* a relative offset beyond int32 cannot be stored */
    gs_index_reset(&ix);
    ck_assert_uint_eq(ix.entries, 0);
    ck_assert_int_eq(gs_offset_index_append(&ix, (int64_t)INT32_MAX + 1, 1), -EINVAL);
    gs_index_close(&ix);
}
END_TEST

START_TEST(test_time_index)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000050.timeindex", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_TIME, 50, 120, true), 0);
    /* (timestamp, offset): max timestamp so far and its offset */
    ck_assert_int_eq(gs_time_index_append(&ix, 1000, 55), 0);
    ck_assert_int_eq(gs_time_index_append(&ix, 2000, 60), 0);
    ck_assert_int_eq(gs_time_index_append(&ix, 3000, 70), 0);
    ck_assert_int_eq(gs_time_index_append(&ix, 3000, 80), -EINVAL); /* timestamps increase */
    ck_assert_uint_eq(ix.map[7], 1000 & 0xff);
    ck_assert_uint_eq(ix.map[11], 5);
    int64_t ts, off;
    ck_assert(!gs_time_index_lookup(&ix, 999, &ts, &off));
    ck_assert(gs_time_index_lookup(&ix, 1000, &ts, &off) && ts == 1000 && off == 55);
    ck_assert(gs_time_index_lookup(&ix, 2999, &ts, &off) && ts == 2000 && off == 60);
    ck_assert(gs_time_index_lookup(&ix, 99999, &ts, &off) && ts == 3000 && off == 70);
    int64_t k, v;
    ck_assert(gs_index_last(&ix, &k, &v) && k == 3000 && v == 70);
    gs_index_truncate_offset(&ix, 60);
    ck_assert_uint_eq(ix.entries, 1);
    ck_assert_int_eq(gs_index_trim(&ix), 0);
    ck_assert_int_eq(file_size(path), 12);
    gs_index_close(&ix);
}
END_TEST

/* The closing entry: the time index keeps one slot for it (Kafka's
 * TimeIndex.isFull), and it is written only when it adds a newer timestamp. */
START_TEST(test_time_index_close)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000010.timeindex", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_TIME, 10, 36, true), 0); /* 3 slots */
    ck_assert_int_eq(gs_time_index_close(&ix, -1, 10), 0); /* no timestamp yet: nothing */
    ck_assert_uint_eq(ix.entries, 0);
    ck_assert_int_eq(gs_time_index_append(&ix, 100, 11), 0);
    ck_assert(!gs_index_full(&ix));
    ck_assert_int_eq(gs_time_index_append(&ix, 200, 12), 0);
    ck_assert(gs_index_full(&ix)); /* the last slot is kept */
    ck_assert_int_eq(gs_time_index_append(&ix, 300, 13), -EFBIG);
    ck_assert_int_eq(gs_time_index_close(&ix, 200, 12), 0); /* not newer: nothing */
    ck_assert_uint_eq(ix.entries, 2);
    ck_assert_int_eq(gs_time_index_close(&ix, 350, 14), 0);
    int64_t k, v;
    ck_assert(gs_index_last(&ix, &k, &v) && k == 350 && v == 14);
    ck_assert_int_eq(gs_time_index_close(&ix, 400, 15), -EFBIG); /* truly full */
    gs_index_close(&ix);
}
END_TEST

static int64_t disk_bytes(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (int64_t)st.st_blocks * 512;
}

/* The file is extended sparse (as Kafka's); an append reserves the blocks
 * of a chunk ahead of its entry, not the whole file. */
START_TEST(test_blocks_reserved)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000000.index", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 1 << 20, true), 0);
    ck_assert_int_eq(file_size(path), 1 << 20);
    ck_assert_int_lt(disk_bytes(path), 1 << 20);
    ck_assert_uint_eq(ix.alloc_len, 0);
    ck_assert_int_eq(gs_offset_index_append(&ix, 1, 100), 0);
    ck_assert_uint_eq(ix.alloc_len, GS_INDEX_ALLOC_CHUNK);
    ck_assert_int_ge(disk_bytes(path), (int64_t)GS_INDEX_ALLOC_CHUNK);
    ck_assert_int_lt(disk_bytes(path), 1 << 20);
    /* The rest of the chunk needs no more calls. */
    int calls = tu_fallocate_calls;
    for (int i = 2; i <= (int)(GS_INDEX_ALLOC_CHUNK / 8); i++)
        ck_assert_int_eq(gs_offset_index_append(&ix, i, (uint32_t)i * 100), 0);
    ck_assert_int_eq(tu_fallocate_calls, calls);
    ck_assert_int_eq(gs_offset_index_append(&ix, 100000, 100000000), 0); /* the next chunk */
    ck_assert_int_eq(tu_fallocate_calls, calls + 1);
    ck_assert_uint_eq(ix.alloc_len, 2 * GS_INDEX_ALLOC_CHUNK);
    /* Reserving is capped at the capacity. */
    ck_assert_int_eq(gs_index_reserve(&ix, 1 << 30), 0);
    ck_assert_uint_eq(ix.alloc_len, ix.map_len);
    gs_index_close(&ix);
}
END_TEST

/* A full disk: the append fails with ENOSPC and stores nothing (before the
 * fix the store into a hole of the shared map was a SIGBUS); the index is
 * as it was and takes entries again once there is space. */
START_TEST(test_disk_full)
{
    char path[128], tpath[128];
    snprintf(path, sizeof path, "%s/00000000000000000000.index", dir);
    snprintf(tpath, sizeof tpath, "%s/00000000000000000000.timeindex", dir);
    gs_index ix, tix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 1 << 20, true), 0);
    ck_assert_int_eq(gs_index_open(&tix, tpath, GS_INDEX_TIME, 0, 1 << 20, true), 0);
    tu_fallocate_errno = ENOSPC;
    ck_assert_int_eq(gs_index_reserve(&ix, 1), -ENOSPC);
    ck_assert_int_eq(gs_offset_index_append(&ix, 5, 100), -ENOSPC);
    ck_assert_int_eq(gs_time_index_append(&tix, 1000, 5), -ENOSPC);
    ck_assert_int_eq(gs_time_index_close(&tix, 1000, 5), -ENOSPC); /* no slot reserved yet */
    ck_assert_uint_eq(ix.entries, 0);
    ck_assert_uint_eq(tix.entries, 0);
    ck_assert_uint_eq(ix.alloc_len, 0);
    tu_fallocate_errno = 0; /* space freed */
    ck_assert_int_eq(gs_offset_index_append(&ix, 5, 100), 0);
    ck_assert_int_eq(gs_time_index_append(&tix, 1000, 5), 0);
    /* Once an entry is in, the closing entry's slot has its blocks: a full
     * disk cannot keep the closing entry out. */
    tu_fallocate_errno = ENOSPC;
    ck_assert_int_eq(gs_time_index_close(&tix, 2000, 9), 0);
    int64_t k, v;
    ck_assert(gs_index_last(&tix, &k, &v) && k == 2000 && v == 9);
    /* Past the reserved chunk the disk is full again. */
    size_t n = ix.alloc_len / 8;
    while (ix.entries < n)
        ck_assert_int_eq(gs_offset_index_append(&ix, 10 + (int64_t)ix.entries, 200 + (uint32_t)ix.entries), 0);
    ck_assert_int_eq(gs_offset_index_append(&ix, 1000000, 1000000), -ENOSPC);
    ck_assert_uint_eq(ix.entries, n);
    gs_index_close(&ix);
    gs_index_close(&tix);
}
END_TEST

/* A copy-on-write filesystem: entries go in with pwrite, since a reserved
 * block does not save an overwrite from ENOSPC there. A failed write is an
 * error, the entry not counted. */
START_TEST(test_write_fails)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000000.timeindex", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_TIME, 0, 1 << 20, true), 0);
    ix.store_in_map = false; /* as gs__copy_on_write decides on btrfs */
    ck_assert_int_eq(gs_time_index_append(&ix, 1000, 1), 0);
    tu_pwrite_errno = ENOSPC;
    ck_assert_int_eq(gs_index_reserve(&ix, 2), 0);
    ck_assert_int_eq(gs_time_index_append(&ix, 2000, 2), -ENOSPC);
    ck_assert_int_eq(gs_time_index_close(&ix, 3000, 3), -ENOSPC);
    ck_assert_uint_eq(ix.entries, 1);
    tu_pwrite_errno = 0;
    ck_assert_int_eq(gs_time_index_append(&ix, 2000, 2), 0);
    int64_t k, v;
    ck_assert(gs_index_last(&ix, &k, &v) && k == 2000 && v == 2);
    ck_assert_uint_eq(ix.map[12 + 7], 2000 & 0xff); /* the map sees what pwrite wrote */
    gs_index_close(&ix);
}
END_TEST

/* A filesystem without fallocate: the range is written back with what it
 * holds, which allocates its blocks and keeps the entries already there (an
 * index reopened writable after a clean stop). */
START_TEST(test_no_fallocate)
{
    char path[128];
    snprintf(path, sizeof path, "%s/00000000000000000000.index", dir);
    gs_index ix;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 1 << 20, true), 0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(gs_offset_index_append(&ix, i, (uint32_t)i * 100), 0);
    ck_assert_int_eq(gs_index_trim(&ix), 0);
    gs_index_close(&ix);

    tu_fallocate_errno = EOPNOTSUPP;
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 1 << 20, true), 0);
    ck_assert_uint_eq(ix.entries, 3);
    ck_assert_int_eq(gs_offset_index_append(&ix, 4, 400), 0);
    ck_assert_uint_eq(ix.alloc_len, GS_INDEX_ALLOC_CHUNK);
    ck_assert_int_ge(disk_bytes(path), (int64_t)GS_INDEX_ALLOC_CHUNK);
    ck_assert_int_eq(gs_index_trim(&ix), 0);
    gs_index_close(&ix);
    ck_assert_int_eq(gs_index_open(&ix, path, GS_INDEX_OFFSET, 0, 0, false), 0);
    ck_assert_uint_eq(ix.entries, 4);
    for (int i = 1; i <= 4; i++) {
        int64_t off;
        uint32_t pos;
        gs_offset_index_lookup(&ix, i, &off, &pos);
        ck_assert(off == i && pos == (uint32_t)i * 100);
    }
    gs_index_close(&ix);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_offset_index);
    tcase_add_test(tc, test_offset_index_full);
    tcase_add_test(tc, test_time_index);
    tcase_add_test(tc, test_time_index_close);
    tcase_add_test(tc, test_blocks_reserved);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_no_fallocate);
    tcase_add_test(tc, test_write_fails);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
