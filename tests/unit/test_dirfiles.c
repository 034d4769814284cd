/*
 * Kafka's small files of a log directory (storage/gs_dirfiles.h): the offset
 * checkpoint files byte for byte as Kafka writes them, their reading
 * (missing or foreign files read as empty), the clean-shutdown marker,
 * partition.metadata, Kafka's Uuid text parsed back to its bytes, and the
 * log directory as DescribeLogDirs reports it (path, file-system space).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/gs_dirfiles.h"
#include "storage/gs_meta.h"
#include "tu_tmpdir.h"

static char dir[64];

static void setup(void)
{
    tu_tmpdir_make(dir, sizeof dir, "dirfiles");
}

static void teardown(void)
{
    tu_tmpdir_remove(dir);
}

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void spit(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_checkpoint_round_trip)
{
    gs_checkpoint_text t;
    gs_checkpoint_text_begin(&t, 3);
    gs_checkpoint_text_add(&t, "orders", 0, 42);
    gs_checkpoint_text_add(&t, "orders", 1, 0);
    char longname[250];
    memset(longname, 'x', 249);
    longname[249] = 0;
    gs_checkpoint_text_add(&t, longname, 7, 9000000000LL);
    ck_assert_int_eq(gs_checkpoint_write(dir, GS_RECOVERY_CHECKPOINT, &t), 0);
    gs_checkpoint_text_free(&t);
    char want[512];
    snprintf(want, sizeof want, "0\n3\norders 0 42\norders 1 0\n%s 7 9000000000\n", longname);
    ck_assert_str_eq(slurp(GS_RECOVERY_CHECKPOINT), want);

    gs_checkpoint cp;
    gs_checkpoint_read(dir, GS_RECOVERY_CHECKPOINT, &cp);
    ck_assert_uint_eq(cp.n, 3);
    ck_assert_int_eq(gs_checkpoint_get(&cp, "orders", 0), 42);
    ck_assert_int_eq(gs_checkpoint_get(&cp, "orders", 1), 0);
    ck_assert_int_eq(gs_checkpoint_get(&cp, longname, 7), 9000000000LL);
    ck_assert_int_eq(gs_checkpoint_get(&cp, "orders", 2), -1);
    ck_assert_int_eq(gs_checkpoint_get(&cp, "other", 0), -1);
    gs_checkpoint_free(&cp);
}
END_TEST

/* gregor-broker-configs.properties: written atomically, read back in
 * order; comments, blank and '='-less lines skipped; '=' in a value kept. */
START_TEST(test_props_round_trip)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/props", dir);
    gs_props p;
    ck_assert_int_eq(gs_props_read(path, &p), 0); /* missing: empty */
    ck_assert_uint_eq(p.n, 0);
    static const char text[] = "# comment\ndefault/log.retention.ms=5\n\nnonsense\n5/sasl.jaas.config=a=b\r\n";
    ck_assert_int_eq(gs_write_file_atomic(path, text, sizeof text - 1), 0);
    ck_assert_int_eq(gs_props_read(path, &p), 0);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_str_eq(p.keys[0], "default/log.retention.ms");
    ck_assert_str_eq(p.values[0], "5");
    ck_assert_str_eq(p.keys[1], "5/sasl.jaas.config");
    ck_assert_str_eq(p.values[1], "a=b");
    gs_props_free(&p);
    ck_assert_uint_eq(p.n, 0);
}
END_TEST

START_TEST(test_checkpoint_unreadable)
{
    gs_checkpoint cp;
    gs_checkpoint_read(dir, GS_START_CHECKPOINT, &cp); /* missing */
    ck_assert_uint_eq(cp.n, 0);
    spit(GS_START_CHECKPOINT, "1\n1\nt 0 5\n"); /* a version Kafka does not write */
    gs_checkpoint_read(dir, GS_START_CHECKPOINT, &cp);
    ck_assert_uint_eq(cp.n, 0);
    spit(GS_START_CHECKPOINT, "0\n2\nt 0 5\n"); /* fewer entries than it says */
    gs_checkpoint_read(dir, GS_START_CHECKPOINT, &cp);
    ck_assert_uint_eq(cp.n, 1);
    ck_assert_int_eq(gs_checkpoint_get(&cp, "t", 0), 5);
    gs_checkpoint_free(&cp);
}
END_TEST

START_TEST(test_clean_shutdown_marker)
{
    ck_assert(!gs_clean_shutdown_marked(dir));
    ck_assert_int_eq(gs_clean_shutdown_mark(dir), 0);
    ck_assert(gs_clean_shutdown_marked(dir));
    ck_assert_str_eq(slurp(GS_CLEAN_SHUTDOWN), "");
    gs_clean_shutdown_clear(dir);
    ck_assert(!gs_clean_shutdown_marked(dir));
}
END_TEST

START_TEST(test_partition_metadata_and_uuid)
{
    uint8_t id[16], back[16];
    char text[23], read[23];
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(gs_uuid_random(id), 0);
        gs_uuid_text(id, text);
        ck_assert_int_eq(gs_uuid_parse(text, back), 0);
        ck_assert_mem_eq(id, back, 16);
    }
    ck_assert_int_eq(gs_partition_metadata_write(dir, text), 0);
    char want[64];
    snprintf(want, sizeof want, "version: 0\ntopic_id: %s\n", text);
    ck_assert_str_eq(slurp("partition.metadata"), want);
    ck_assert(gs_partition_metadata_read(dir, read));
    ck_assert_str_eq(read, text);
    ck_assert_int_eq(gs_uuid_parse("short", back), -1);
    ck_assert_int_eq(gs_uuid_parse("AAAAAAAAAAAAAAAAAAAA!A", back), -1);
    /* Kafka's Uuid.ONE_UUID is "AAAAAAAAAAAAAAAAAAAAAQ". */
    ck_assert_int_eq(gs_uuid_parse("AAAAAAAAAAAAAAAAAAAAAQ", back), 0);
    for (int i = 0; i < 15; i++)
        ck_assert_uint_eq(back[i], 0);
    ck_assert_uint_eq(back[15], 1);
    spit("partition.metadata", "version: 0\n");
    ck_assert(!gs_partition_metadata_read(dir, read));
}
END_TEST

/* Java's File.getAbsolutePath, which Kafka's DescribeLogDirs reports:
 * slashes collapsed, no trailing one, "." and ".." kept, a relative path
 * put under the working directory (jshell: new File("./data//x/") from
 * /tmp/hc is "/tmp/hc/./data/x"). */
START_TEST(test_dir_absolute)
{
    char out[PATH_MAX + 64], cwd[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_int_eq(gs_dir_absolute("/a//b/./c/", out, sizeof out), 8);
    ck_assert_str_eq(out, "/a/b/./c");
    ck_assert_int_eq(gs_dir_absolute("/", out, sizeof out), 1);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(gs_dir_absolute("//", out, sizeof out), 1);
    ck_assert_str_eq(out, "/");
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/./data/x", strcmp(cwd, "/") ? cwd : "");
    ck_assert_int_eq(gs_dir_absolute("./data//x/", out, sizeof out), (int)strlen(want));
    ck_assert_str_eq(out, want);
    snprintf(want, sizeof want, "%s/../d", strcmp(cwd, "/") ? cwd : "");
    gs_dir_absolute("../d", out, sizeof out);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(gs_dir_absolute("/a/b", out, 4), -ERANGE);
    ck_assert_int_eq(gs_dir_absolute("/a/b", out, 5), 4);
}
END_TEST

START_TEST(test_dir_space)
{
    int64_t total = -1, usable = -1;
    ck_assert_int_eq(gs_dir_space(dir, &total, &usable), 0);
    ck_assert_int_gt(total, 0);
    ck_assert_int_ge(usable, 0);
    ck_assert_int_le(usable, total);
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/none", dir);
    ck_assert_int_eq(gs_dir_space(missing, &total, &usable), -ENOENT);
}
END_TEST

/* meta.properties: written on a first start without waiting for the disk
 * (unsynced until gs_meta_sync), read back with the same ids, and an empty
 * one (a machine crash before the sync) replaced by a new one. */
START_TEST(test_meta_properties)
{
    gs_meta m, again;
    char err[256];
    ck_assert_int_eq(gs_meta_load_or_create(dir, 3, &m, err, sizeof err), 0);
    ck_assert(m.unsynced);
    ck_assert(!m.was_empty);
    ck_assert_int_eq((int)strlen(m.cluster_id), 22);
    ck_assert_int_eq(gs_meta_sync(dir), 0);
    char *text = slurp("meta.properties");
    ck_assert_ptr_nonnull(strstr(text, "version=1\n"));
    ck_assert_ptr_nonnull(strstr(text, "node.id=3\n"));
    ck_assert_ptr_nonnull(strstr(text, m.cluster_id));

    ck_assert_int_eq(gs_meta_load_or_create(dir, 3, &again, err, sizeof err), 0);
    ck_assert(!again.unsynced);
    ck_assert(!again.was_empty);
    ck_assert_str_eq(again.cluster_id, m.cluster_id);
    ck_assert_str_eq(again.directory_id, m.directory_id);
    ck_assert_int_eq(gs_meta_load_or_create(dir, 4, &again, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not match"));

    char path[128];
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(gs_meta_load_or_create(dir, 3, &again, err, sizeof err), 0);
    ck_assert(again.was_empty);
    ck_assert(again.unsynced);
    ck_assert_str_ne(again.cluster_id, m.cluster_id);
    ck_assert_ptr_nonnull(strstr(slurp("meta.properties"), again.cluster_id));

    /* A file with content but no cluster id is still refused. */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("version=1\n", f);
    fclose(f);
    ck_assert_int_eq(gs_meta_load_or_create(dir, 3, &again, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no cluster.id"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dirfiles");
    TCase *tc = tcase_create("dirfiles");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_checkpoint_unreadable);
    tcase_add_test(tc, test_props_round_trip);
    tcase_add_test(tc, test_clean_shutdown_marker);
    tcase_add_test(tc, test_partition_metadata_and_uuid);
    tcase_add_test(tc, test_dir_absolute);
    tcase_add_test(tc, test_dir_space);
    tcase_add_test(tc, test_meta_properties);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
