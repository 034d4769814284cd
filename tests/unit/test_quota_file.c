/*
 * gregor-client-quotas.properties (storage/gs_quotas): lines written by
 * gs_quotas_format read back equal, names with any byte included; a
 * malformed line is an error naming it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/gs_meta.h"
#include "storage/gs_quotas.h"
#include "tu_tmpdir.h"

typedef struct got {
    int n;
    char text[8][200];
} got;

static int collect(void *arg, const gs_quota_line *l)
{
    got *g = arg;
    char *t = g->text[g->n++];
    size_t len = 0;
    for (int i = 0; i < GS_QUOTA_NTYPES; i++)
        if (l->has[i])
            len += (size_t)snprintf(t + len, 200 - len, "%s=%s;", gs_quota_type_names[i],
                                    l->name[i] ? l->name[i] : "<default>");
    snprintf(t + len, 200 - len, "%s=%.17g", l->key, l->value);
    return 0;
}

START_TEST(test_round_trip)
{
    char dir[64], path[128];
    tu_tmpdir_make(dir, sizeof dir, "quota_file");
    gs_quota_line a = {.has = {true, true, false}, .name = {"al ice/=,%\xc3\xa9", NULL, NULL},
                       .key = "producer_byte_rate", .value = 1048576};
    gs_quota_line b = {.has = {false, false, true}, .name = {NULL, NULL, "::1"},
                       .key = "connection_creation_rate", .value = 10};
    gs_quota_line c = {.has = {true, false, false}, .key = "request_percentage", .value = 0.1 + 0.2};
    char *text = NULL;
    size_t len = 0;
    gs_quotas_format(&text, &len, &a);
    gs_quotas_format(&text, &len, &b);
    gs_quotas_format(&text, &len, &c);
    ck_assert_str_eq(text, "user:al%20ice%2F%3D%2C%25%C3%A9,client-id/producer_byte_rate=1048576\n"
                           "ip:%3A%3A1/connection_creation_rate=10\n"
                           "user/request_percentage=0.30000000000000004\n");
    snprintf(path, sizeof path, "%s/%s", dir, GS_QUOTAS_FILE);
    ck_assert_int_eq(gs_write_file_atomic(path, text, len), 0);
    free(text);
    got g = {0};
    char err[512];
    ck_assert_int_eq(gs_quotas_read(dir, collect, &g, err, sizeof err), 0);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.text[0], "user=al ice/=,%\xc3\xa9;client-id=<default>;producer_byte_rate=1048576");
    ck_assert_str_eq(g.text[1], "ip=::1;connection_creation_rate=10");
    ck_assert_str_eq(g.text[2], "user=<default>;request_percentage=0.30000000000000004");

    static const char *const bad[] = {"user:x", "user:x/=1", "group:x/k=1", "user:x,user:y/k=1", "user:%00/k=1",
                                      "user:/k=1", "user:x/k=abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(gs_write_file_atomic(path, bad[i], strlen(bad[i])), 0);
        g.n = 0;
        ck_assert_int_eq(gs_quotas_read(dir, collect, &g, err, sizeof err), -1);
        ck_assert_ptr_nonnull(strstr(err, ":1: cannot read"));
    }
    tu_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_missing_file)
{
    char dir[64], err[64];
    tu_tmpdir_make(dir, sizeof dir, "quota_file");
    got g = {0};
    ck_assert_int_eq(gs_quotas_read(dir, collect, &g, err, sizeof err), 0);
    ck_assert_int_eq(g.n, 0);
    tu_tmpdir_remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quota_file");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
