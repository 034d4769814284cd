/*
 * The token bucket of client quotas (see gb_quota_rate.h).
 */
#include "broker/core/gb_quota_rate.h"

void gb_quota_bucket_init(gb_quota_bucket *k)
{
    *k = (gb_quota_bucket){0};
}

double gb_quota_bucket_burst(double quota, int nsamples, int64_t window_ms)
{
    return quota * (double)nsamples * ((double)window_ms / 1000.0);
}

double gb_quota_bucket_tokens(gb_quota_bucket *k, double quota, double burst, int64_t now_ms)
{
    if (!k->started) {
        k->started = true;
        k->tokens = burst;
        k->last_ms = now_ms;
    } else if (now_ms > k->last_ms) {
        k->tokens += quota * ((double)(now_ms - k->last_ms) / 1000.0);
        k->last_ms = now_ms;
    }
    if (k->tokens > burst) /* also when the quota was lowered */
        k->tokens = burst;
    return k->tokens;
}

void gb_quota_bucket_record(gb_quota_bucket *k, double quota, double burst, double value, int64_t now_ms)
{
    gb_quota_bucket_tokens(k, quota, burst, now_ms);
    k->tokens -= value;
    if (k->tokens > burst)
        k->tokens = burst;
}

int32_t gb_quota_bucket_throttle_ms(gb_quota_bucket *k, double quota, double burst, int64_t now_ms)
{
    double tokens = gb_quota_bucket_tokens(k, quota, burst, now_ms);
    if (!(quota > 0) || tokens >= 0)
        return 0;
    double ms = -tokens / quota * 1000.0 + 0.5; /* half up: positive here */
    return ms >= (double)INT32_MAX ? INT32_MAX : (int32_t)ms;
}
