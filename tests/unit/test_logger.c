/*
 * The rate limiter of repeated log lines (broker/base/gb_logger): the
 * decision on a clock the test drives, and the lines gb_logger_limited
 * writes, read back from stderr redirected to a file.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/base/gb_logger.h"

/* The first line passes; then one per interval, telling how many were dropped. */
START_TEST(test_pass_once_per_interval)
{
    gb_logger_limit lim = {0};
    uint64_t n = 99;
    ck_assert(gb_logger_limit_pass(&lim, 1000, 100, &n));
    ck_assert_uint_eq(n, 0);
    for (uint64_t t = 1000; t < 1100; t += 10)
        ck_assert(!gb_logger_limit_pass(&lim, t, 100, &n));
    ck_assert_uint_eq(lim.suppressed, 10);
    ck_assert(gb_logger_limit_pass(&lim, 1100, 100, &n));
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(lim.suppressed, 0);
    /* A quiet spell: the next line passes at once, with nothing dropped. */
    ck_assert(gb_logger_limit_pass(&lim, 5000, 100, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert(!gb_logger_limit_pass(&lim, 5099, 100, &n));
}
END_TEST

/* Each call site has its own budget. */
START_TEST(test_limiters_are_independent)
{
    gb_logger_limit a = {0}, b = {0};
    uint64_t n;
    ck_assert(gb_logger_limit_pass(&a, 10, 1000, &n));
    ck_assert(gb_logger_limit_pass(&b, 20, 1000, &n));
    ck_assert(!gb_logger_limit_pass(&a, 30, 1000, &n));
    ck_assert_uint_eq(a.suppressed, 1);
    ck_assert_uint_eq(b.suppressed, 0);
}
END_TEST

static void emit(int i)
{
    GB_LOG_RATELIMITED(GB_LOGGER_WARN, 200, "accept failed %d", i);
}

/* 1000 calls of one line in a burst write one line; after the interval the
 * next carries the count of the 999 dropped. */
START_TEST(test_macro_writes_and_counts)
{
    char path[] = "/tmp/gregor-test-logger-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    for (int i = 0; i < 1000; i++)
        emit(i);
    usleep(250 * 1000);
    emit(1000);
    gb_logger_level = GB_LOGGER_ERROR; /* a line the level drops is not counted */
    emit(1001);
    gb_logger_level = GB_LOGGER_INFO;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[4096] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 2);
    ck_assert_ptr_nonnull(strstr(buf, "WARN  accept failed 0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "WARN  accept failed 1000 (999 similar lines suppressed)\n"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("logger");
    TCase *tc = tcase_create("limit");
    tcase_add_test(tc, test_pass_once_per_interval);
    tcase_add_test(tc, test_limiters_are_independent);
    tcase_add_test(tc, test_macro_writes_and_counts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
