/*
 * Rates over sample windows (see gb_quota_rate.h).
 */
#include "broker/core/gb_quota_rate.h"


void gb_quota_rate_init(gb_quota_rate *r, int nsamples, int64_t window_ms)
{
    if (nsamples < 1)
        nsamples = 1;
    if (nsamples > GB_QUOTA_MAX_SAMPLES)
        nsamples = GB_QUOTA_MAX_SAMPLES;
    r->nsamples = nsamples;
    r->window_ms = window_ms > 0 ? window_ms : 1;
    r->current = 0;
    r->used = 0;
}

/* Empty the samples that started num * size ago or earlier. */
static void gb__quota_rate_purge(gb_quota_rate *r, int64_t now_ms)
{
    int64_t expire = (int64_t)r->nsamples * r->window_ms;
    for (int i = 0; i < r->used; i++)
        if (now_ms - r->samples[i].start_ms >= expire)
            r->samples[i] = (gb_quota_sample){now_ms, 0};
}

void gb_quota_rate_record(gb_quota_rate *r, double value, int64_t now_ms)
{
    if (r->used == 0) {
        r->samples[0] = (gb_quota_sample){now_ms, 0};
        r->used = 1;
        r->current = 0;
    }
    gb_quota_sample *s = &r->samples[r->current];
    if (now_ms >= s->start_ms + r->window_ms) {
        r->current = (r->current + 1) % r->nsamples;
        if (r->current >= r->used)
            r->used = r->current + 1;
        s = &r->samples[r->current];
        *s = (gb_quota_sample){now_ms, 0};
    }
    s->value += value;
}

int64_t gb_quota_rate_window_ms(gb_quota_rate *r, int64_t now_ms)
{
    gb__quota_rate_purge(r, now_ms);
    int64_t oldest = now_ms;
    for (int i = 0; i < r->used; i++)
        if (r->samples[i].start_ms < oldest)
            oldest = r->samples[i].start_ms;
    int64_t elapsed = now_ms - oldest;
    int64_t full = elapsed / r->window_ms;
    if (full < r->nsamples - 1)
        elapsed += (r->nsamples - 1 - full) * r->window_ms;
    return elapsed;
}

double gb_quota_rate_measure(gb_quota_rate *r, int64_t now_ms)
{
    int64_t window = gb_quota_rate_window_ms(r, now_ms);
    double total = 0;
    for (int i = 0; i < r->used; i++)
        total += r->samples[i].value;
    /* With one sample of one window the elapsed time can be 0 ms. */
    return window > 0 ? total / ((double)window / 1000.0) : 0;
}

int32_t gb_quota_rate_throttle_ms(gb_quota_rate *r, double quota, int64_t now_ms)
{
    double rate = gb_quota_rate_measure(r, now_ms);
    if (!(quota > 0) || rate <= quota)
        return 0;
    /* Kafka's Math.round: half up (ms is positive here). */
    double ms = (rate - quota) / quota * (double)gb_quota_rate_window_ms(r, now_ms) + 0.5;
    return ms >= (double)INT32_MAX ? INT32_MAX : (int32_t)ms;
}
