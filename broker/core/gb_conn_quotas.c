/*
 * Connection creation rates (see gb_conn_quotas.h): one token bucket
 * (core/gb_quota_rate.h, the measure of every client quota) for the broker
 * and one per IP address that has a connection_creation_rate quota. An
 * IP's bucket is dropped once it has had quota.window.num windows without
 * a connection (it is full again by then), so the list holds only the
 * addresses that connected within that span.
 */
#include "broker/core/gb_conn_quotas.h"

#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_quota_rate.h"
#include "broker/core/gb_quotas.h"

typedef struct gb_ip_rate {
    struct gb_ip_rate *next;
    char ip[64];
    int64_t last_ms; /* the last connection recorded */
    gb_quota_bucket rate;
} gb_ip_rate;

struct gb_conn_quotas {
    gb_broker *b;
    gb_quota_bucket broker_rate; /* every accepted connection */
    gb_ip_rate *ips;
};

static double gb__burst(gb_conn_quotas *q, int64_t quota)
{
    return gb_quota_bucket_burst((double)quota, (int)q->b->cfg->quota_window_num,
                                 (int64_t)q->b->cfg->quota_window_size_seconds * 1000);
}

gb_conn_quotas *gb_conn_quotas_new(gb_broker *b)
{
    gb_conn_quotas *q = gu_calloc(1, sizeof *q);
    q->b = b;
    gb_quota_bucket_init(&q->broker_rate);
    return q;
}

void gb_conn_quotas_free(gb_conn_quotas *q)
{
    if (!q)
        return;
    while (q->ips) {
        gb_ip_rate *r = q->ips;
        q->ips = r->next;
        free(r);
    }
    free(q);
}

/* Take one connection from a bucket and return the throttle time if it is
 * now below zero, bounded by one window as Kafka bounds it
 * (QuotaUtils.boundedThrottleTime). A quota of 0 allows nothing: the
 * throttle is the whole window. */
static int32_t gb__record(gb_conn_quotas *q, gb_quota_bucket *r, int64_t quota, int64_t now_ms)
{
    int32_t max = q->b->cfg->quota_window_size_seconds * 1000;
    if (quota <= 0)
        return max;
    double burst = gb__burst(q, quota);
    gb_quota_bucket_record(r, (double)quota, burst, 1.0, now_ms);
    int32_t ms = gb_quota_bucket_throttle_ms(r, (double)quota, burst, now_ms);
    return ms > max ? max : ms;
}

/* The bucket of ip, created if needed; idle ones are dropped on the way. */
static gb_ip_rate *gb__ip_rate(gb_conn_quotas *q, const char *ip, int64_t now_ms)
{
    int64_t span = (int64_t)q->b->cfg->quota_window_num * q->b->cfg->quota_window_size_seconds * 1000;
    gb_ip_rate *found = NULL;
    for (gb_ip_rate **pp = &q->ips; *pp;) {
        gb_ip_rate *r = *pp;
        if (strcmp(r->ip, ip) == 0) {
            found = r;
        } else if (now_ms - r->last_ms > span) {
            *pp = r->next;
            free(r);
            continue;
        }
        pp = &r->next;
    }
    if (!found) {
        found = gu_calloc(1, sizeof *found);
        snprintf(found->ip, sizeof found->ip, "%s", ip);
        gb_quota_bucket_init(&found->rate);
        found->next = q->ips;
        q->ips = found;
    }
    found->last_ms = now_ms;
    return found;
}

int32_t gb_conn_quotas_admit(void *arg, const char *ip, int64_t now_ms, int32_t *accept_delay_ms)
{
    gb_conn_quotas *q = arg;
    /* Kafka's order: the broker-wide rate (the acceptor waits), then the
     * IP's rate (a throttled connection is taken back from both). */
    *accept_delay_ms = gb__record(q, &q->broker_rate, q->b->cfg->max_connection_creation_rate, now_ms);
    int64_t quota = gb_quotas_ip_connection_rate(q->b, ip);
    if (quota < 0 || quota >= INT32_MAX)
        return 0;
    gb_ip_rate *r = gb__ip_rate(q, ip, now_ms);
    int32_t ms = gb__record(q, &r->rate, quota, now_ms);
    if (ms > 0) {
        int64_t bq = q->b->cfg->max_connection_creation_rate;
        gb_quota_bucket_record(&r->rate, (double)quota, gb__burst(q, quota), -1.0, now_ms);
        if (bq > 0)
            gb_quota_bucket_record(&q->broker_rate, (double)bq, gb__burst(q, bq), -1.0, now_ms);
        gb_logger_debug("connection from %s over its connection_creation_rate quota (%lld/s): closing it in %d ms",
                        ip, (long long)quota, (int)ms);
    }
    return ms;
}
