/*
 * A rate over sample windows, as Kafka measures client quotas (its
 * SampledStat and Rate): quota.window.num samples of
 * quota.window.size.seconds each. Pure arithmetic on times the caller
 * passes in, so that unit tests can drive it.
 *
 *  - record: the value goes into the current sample; a sample whose window
 *    has passed is replaced by a new one starting now (the oldest is
 *    reused once all exist);
 *  - samples older than num * size are emptied before each measurement;
 *  - the rate is the sum of the samples over the time since the oldest
 *    sample started, counted as at least num - 1 whole windows, so a new
 *    client is not throttled for one early burst.
 *
 * The throttle time (KIP-219) is how long the client must send nothing
 * for the rate to fall back to the quota: (rate - quota) / quota * the
 * window the rate was measured over.
 */
#ifndef GB_QUOTA_RATE_H
#define GB_QUOTA_RATE_H

#include <stdint.h>

#define GB_QUOTA_MAX_SAMPLES 64 /* quota.window.num's upper bound */

typedef struct gb_quota_sample {
    int64_t start_ms; /* when the sample's window began */
    double value;
} gb_quota_sample;

typedef struct gb_quota_rate {
    int nsamples;      /* quota.window.num */
    int64_t window_ms; /* quota.window.size.seconds, in ms */
    int current;       /* the sample being added to */
    int used;          /* samples created so far (at most nsamples) */
    gb_quota_sample samples[GB_QUOTA_MAX_SAMPLES];
} gb_quota_rate;

void gb_quota_rate_init(gb_quota_rate *r, int nsamples, int64_t window_ms);
/* Add value (bytes; negative takes back what was recorded) at now_ms. */
void gb_quota_rate_record(gb_quota_rate *r, double value, int64_t now_ms);
/* The window the rate is measured over at now_ms, in ms. */
int64_t gb_quota_rate_window_ms(gb_quota_rate *r, int64_t now_ms);
/* The rate at now_ms, per second. */
double gb_quota_rate_measure(gb_quota_rate *r, int64_t now_ms);
/* 0 when the rate at now_ms is within quota; otherwise the time in ms the
 * client must wait, rounded as Kafka rounds it, at most INT32_MAX. */
int32_t gb_quota_rate_throttle_ms(gb_quota_rate *r, double quota, int64_t now_ms);

#endif
