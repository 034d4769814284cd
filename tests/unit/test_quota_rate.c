/*
 * The sampled rate and throttle time of client quotas
 * (broker/core/gb_quota_rate), against figures worked out by hand from
 * Kafka's SampledStat, Rate and QuotaUtils.throttleTime.
 */
#include <check.h>
#include <stdlib.h>

#include "broker/core/gb_quota_rate.h"

/* One sample of 11 windows of 1 s: the rate counts 10 windows at least. */
START_TEST(test_floor_of_windows)
{
    gb_quota_rate r;
    gb_quota_rate_init(&r, 11, 1000);
    gb_quota_rate_record(&r, 5000, 0);
    ck_assert_int_eq(gb_quota_rate_window_ms(&r, 0), 10000);
    ck_assert(gb_quota_rate_measure(&r, 0) == 500.0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 500, 0), 0);
    /* 20 000 bytes at once against 1000/s: (2000 - 1000) / 1000 * 10 s. */
    gb_quota_rate_record(&r, 15000, 0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 0), 10000);
}
END_TEST

/* After 12.5 s of samples the window is the time since the oldest sample. */
START_TEST(test_window_grows_then_slides)
{
    gb_quota_rate r;
    gb_quota_rate_init(&r, 11, 1000);
    for (int64_t t = 0; t <= 10000; t += 1000)
        gb_quota_rate_record(&r, 1000, t); /* 11 samples, one per window */
    ck_assert_int_eq(r.used, 11);
    ck_assert_int_eq(gb_quota_rate_window_ms(&r, 10500), 10500);
    ck_assert(gb_quota_rate_measure(&r, 10500) == 11000.0 / 10.5);
    /* The 12th window reuses the oldest sample. */
    gb_quota_rate_record(&r, 1000, 11000);
    ck_assert_int_eq(r.current, 0);
    ck_assert_int_eq(gb_quota_rate_window_ms(&r, 11000), 10000);
    ck_assert(gb_quota_rate_measure(&r, 11000) == 1100.0);
    /* (1100 - 1000) / 1000 * 10000 ms */
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 11000), 1000);
}
END_TEST

/* Samples older than num * size are emptied before measuring. */
START_TEST(test_old_samples_expire)
{
    gb_quota_rate r;
    gb_quota_rate_init(&r, 2, 1000);
    gb_quota_rate_record(&r, 4000, 0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 0), 3000);
    ck_assert(gb_quota_rate_measure(&r, 1999) == 4000.0 / 1.999);
    ck_assert(gb_quota_rate_measure(&r, 2000) == 0.0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 2000), 0);
}
END_TEST

/* A throttled fetch takes back what it recorded; rounding is half up. */
START_TEST(test_unrecord_and_rounding)
{
    gb_quota_rate r;
    gb_quota_rate_init(&r, 2, 1000);
    gb_quota_rate_record(&r, 1000, 0);
    gb_quota_rate_record(&r, 2500, 0);
    /* (3500 - 1000) / 1000 * 1000 ms */
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 0), 2500);
    gb_quota_rate_record(&r, -2500, 0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 0), 0);
    /* 1000.5 bytes over 1 s against 1000: 0.5 ms rounds up to 1. */
    gb_quota_rate_record(&r, 0.5, 0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1000, 0), 1);
    /* Huge excess is capped at INT32_MAX. */
    gb_quota_rate_record(&r, 1e300, 0);
    ck_assert_int_eq(gb_quota_rate_throttle_ms(&r, 1, 0), INT32_MAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quota_rate");
    TCase *tc = tcase_create("rate");
    tcase_add_test(tc, test_floor_of_windows);
    tcase_add_test(tc, test_window_grows_then_slides);
    tcase_add_test(tc, test_old_samples_expire);
    tcase_add_test(tc, test_unrecord_and_rounding);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
