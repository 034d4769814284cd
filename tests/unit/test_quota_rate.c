/*
 * The token bucket of client quotas (broker/core/gb_quota_rate), against
 * figures worked out by hand from Kafka's TokenBucket and
 * ControllerMutationQuotaManager.throttleTimeMs, and the long-run rate of
 * a client that waits out every throttle time.
 */
#include <check.h>
#include <stdlib.h>

#include "broker/core/gb_quota_rate.h"

/* Full at the first look: quota * 11 windows of 1 s, then the excess. */
START_TEST(test_starts_full)
{
    gb_quota_bucket k;
    gb_quota_bucket_init(&k);
    double burst = gb_quota_bucket_burst(1000, 11, 1000);
    ck_assert(burst == 11000.0);
    ck_assert(gb_quota_bucket_tokens(&k, 1000, burst, 5000) == 11000.0);
    gb_quota_bucket_record(&k, 1000, burst, 11000, 5000);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, burst, 5000), 0); /* at zero: not over */
    gb_quota_bucket_record(&k, 1000, burst, 500, 5000);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, burst, 5000), 500);
    /* The refill brings it back: 250 ms later, 250 ms are left. */
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, burst, 5250), 250);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, burst, 5500), 0);
    /* Time going backwards refills nothing and takes nothing. */
    ck_assert(gb_quota_bucket_tokens(&k, 1000, burst, 5400) == 0.0);
}
END_TEST

/* The refill stops at the burst; a lower quota lowers the bucket's size. */
START_TEST(test_refill_capped)
{
    gb_quota_bucket k;
    gb_quota_bucket_init(&k);
    double burst = gb_quota_bucket_burst(100, 2, 1000);
    gb_quota_bucket_record(&k, 100, burst, 200, 0);
    ck_assert(gb_quota_bucket_tokens(&k, 100, burst, 1000) == 100.0);
    ck_assert(gb_quota_bucket_tokens(&k, 100, burst, 60000) == 200.0);
    double lower = gb_quota_bucket_burst(10, 2, 1000);
    ck_assert(gb_quota_bucket_tokens(&k, 10, lower, 60000) == 20.0);
    /* Given back (a throttled Fetch's bytes): never above the burst. */
    gb_quota_bucket_record(&k, 10, lower, -1000, 60000);
    ck_assert(gb_quota_bucket_tokens(&k, 10, lower, 60000) == 20.0);
}
END_TEST

/* Kafka 4.4, controller_mutation_rate=2: CreateTopics of 15, 15 and 1
 * partitions admits the first two (the bucket was not below zero before
 * each) and answers 89 for the third, with -(22 - 30) / 2 s = 4000 ms. */
START_TEST(test_mutation_example)
{
    gb_quota_bucket k;
    gb_quota_bucket_init(&k);
    double burst = gb_quota_bucket_burst(2, 11, 1000);
    ck_assert(gb_quota_bucket_tokens(&k, 2, burst, 0) >= 0);
    gb_quota_bucket_record(&k, 2, burst, 15, 0);
    ck_assert(gb_quota_bucket_tokens(&k, 2, burst, 0) >= 0);
    gb_quota_bucket_record(&k, 2, burst, 15, 0);
    ck_assert(gb_quota_bucket_tokens(&k, 2, burst, 0) < 0);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 2, burst, 0), 4000);
}
END_TEST

/* Half up; a huge excess is capped at INT32_MAX. */
START_TEST(test_rounding)
{
    gb_quota_bucket k;
    gb_quota_bucket_init(&k);
    gb_quota_bucket_record(&k, 1000, 0, 0.4, 0);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, 0, 0), 0);
    gb_quota_bucket_record(&k, 1000, 0, 0.1, 0);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1000, 0, 0), 1);
    gb_quota_bucket_record(&k, 1, 0, 1e300, 0);
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 1, 0, 0), INT32_MAX);
    /* No quota: never throttled. */
    ck_assert_int_eq(gb_quota_bucket_throttle_ms(&k, 0, 0, 0), 0);
}
END_TEST

/* A client that sends requests of `size` as fast as it may and waits out
 * each throttle time: after the first burst it gets the quota over every
 * 10 s, within 1% and one request (Kafka's sampled Rate lets a whole window through again
 * each time its oldest sample expires: 0.9x-1.3x over such spans). */
static void gb__steady(double size)
{
    const double quota = 1048576;
    gb_quota_bucket k;
    gb_quota_bucket_init(&k);
    double burst = gb_quota_bucket_burst(quota, 11, 1000);
    double sent[61] = {0}; /* bytes sent in each second */
    int64_t now = 0;
    while (now < 61000) {
        gb_quota_bucket_record(&k, quota, burst, size, now);
        sent[now / 1000] += size;
        int32_t wait = gb_quota_bucket_throttle_ms(&k, quota, burst, now);
        now += wait > 0 ? wait : 1;
    }
    for (int from = 15; from + 10 <= 61; from += 5) {
        double bytes = 0;
        for (int s = from; s < from + 10; s++)
            bytes += sent[s];
        double ratio = bytes / 10 / quota, slack = 0.01 + size / 10 / quota; /* one request either way */
        ck_assert_msg(ratio > 1 - slack && ratio < 1 + slack, "size %.0f, %d-%d s: %.3f of the quota", size, from,
                      from + 10, ratio);
    }
}

START_TEST(test_long_run_rate)
{
    gb__steady(16384);
    gb__steady(100000);
    gb__steady(1000000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quota_rate");
    TCase *tc = tcase_create("bucket");
    tcase_add_test(tc, test_starts_full);
    tcase_add_test(tc, test_refill_capped);
    tcase_add_test(tc, test_mutation_example);
    tcase_add_test(tc, test_rounding);
    tcase_add_test(tc, test_long_run_rate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
