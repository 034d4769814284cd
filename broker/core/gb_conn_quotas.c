/*
 * Connection creation rates (see gb_conn_quotas.h): one measured rate for
 * the broker and one per IP address that has a connection_creation_rate
 * quota. An IP's rate is dropped once every sample of it has expired
 * (it would measure 0 anyway), so the list holds only the addresses that
 * connected within the last quota.window.num windows.
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
    gb_quota_rate rate;
} gb_ip_rate;

struct gb_conn_quotas {
    gb_broker *b;
    gb_quota_rate broker_rate; /* every accepted connection */
    gb_ip_rate *ips;
};

static void gb__rate_init(gb_conn_quotas *q, gb_quota_rate *r)
{
    gb_quota_rate_init(r, (int)q->b->cfg->quota_window_num, (int64_t)q->b->cfg->quota_window_size_seconds * 1000);
}

gb_conn_quotas *gb_conn_quotas_new(gb_broker *b)
{
    gb_conn_quotas *q = gu_calloc(1, sizeof *q);
    q->b = b;
    gb__rate_init(q, &q->broker_rate);
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

/* Record one connection and return the throttle time if the rate is now
 * over quota, bounded by one window as Kafka bounds it
 * (QuotaUtils.boundedThrottleTime). A quota of 0 allows nothing: the
 * throttle is the whole window. */
static int32_t gb__record(gb_conn_quotas *q, gb_quota_rate *r, int64_t quota, int64_t now_ms)
{
    int32_t max = q->b->cfg->quota_window_size_seconds * 1000;
    gb_quota_rate_record(r, 1.0, now_ms);
    int32_t ms = quota > 0 ? gb_quota_rate_throttle_ms(r, (double)quota, now_ms)
                           : (gb_quota_rate_measure(r, now_ms) > 0 ? max : 0);
    return ms > max ? max : ms;
}

/* The measured rate of ip, created if needed; expired ones are dropped on the way. */
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
        gb__rate_init(q, &found->rate);
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
        gb_quota_rate_record(&r->rate, -1.0, now_ms);
        gb_quota_rate_record(&q->broker_rate, -1.0, now_ms);
        gb_logger_debug("connection from %s over its connection_creation_rate quota (%lld/s): closing it in %d ms",
                        ip, (long long)quota, (int)ms);
    }
    return ms;
}
