/*
 * The measure behind every client quota: a token bucket, as Kafka's
 * TokenBucket (KIP-599). Pure arithmetic on times the caller passes in,
 * so that unit tests can drive it.
 *
 *  - the bucket holds at most burst = quota * quota.window.num *
 *    quota.window.size.seconds tokens, and starts full;
 *  - it refills at quota tokens per second;
 *  - a recorded value (bytes, handler time, partitions) takes that many
 *    tokens, and may take the bucket below zero;
 *  - below zero, the client is over its quota: its throttle time is how
 *    long the refill takes to bring the bucket back to zero,
 *    -tokens / quota seconds.
 *
 * Kafka measures byte rates and request time with a sampled Rate instead
 * (quota.window.num samples of quota.window.size.seconds): when the oldest
 * sample expires, a whole window's worth of bytes leaves the measure at
 * once and the client may send that much again in one burst, so a client
 * kept at its quota alternates ~10 s of trickle with one ~10 s burst, and
 * what it achieves over any half minute depends on where the bursts fall
 * (Kafka 4.4 and a Gregor that copied the Rate reached 1.12-1.26x of a
 * 1 MiB/s quota in tests/bench/quota.py). The bucket lets the same first
 * burst through and then exactly the quota, evenly.
 */
#ifndef GB_QUOTA_RATE_H
#define GB_QUOTA_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gb_quota_bucket {
    double tokens;
    int64_t last_ms; /* when tokens was last brought up to date */
    bool started;    /* false: full at the first look */
} gb_quota_bucket;

void gb_quota_bucket_init(gb_quota_bucket *k);
/* The bucket's size for a quota: quota * nsamples * window_ms / 1000. */
double gb_quota_bucket_burst(double quota, int nsamples, int64_t window_ms);
/* The tokens at now_ms, after the refill. */
double gb_quota_bucket_tokens(gb_quota_bucket *k, double quota, double burst, int64_t now_ms);
/* Take value tokens at now_ms (a negative value gives them back). */
void gb_quota_bucket_record(gb_quota_bucket *k, double quota, double burst, double value, int64_t now_ms);
/* 0 while the bucket is not below zero; otherwise the ms until it is back
 * at zero, rounded as Kafka rounds it (Math.round), at most INT32_MAX. */
int32_t gb_quota_bucket_throttle_ms(gb_quota_bucket *k, double quota, double burst, int64_t now_ms);

#endif
