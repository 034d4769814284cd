/*
 * Connection creation rates, as Kafka's ConnectionQuotas measures them
 * (KIP-402 for the broker-wide rate, KIP-612 for the rate of one IP
 * address): the broker-wide max.connection.creation.rate and the
 * connection_creation_rate client quota of ip entities (core/gb_quotas).
 * Both are measured as every client quota is, with a token bucket of
 * quota.window.num windows of quota.window.size.seconds (core/gb_quota_rate:
 * Kafka uses a sampled rate here), and a violation costs at most one window:
 *
 *  - over the broker-wide rate, the acceptor waits the throttle time
 *    before it accepts more (Kafka blocks its acceptor thread; Gregor stops
 *    polling its listening sockets);
 *  - over an IP's rate, the new connection is not served: it is closed
 *    after the throttle time (Kafka's delayed close, so that a client that
 *    reconnects at once is slowed down), and taken back from both rates.
 *
 * The network layer asks through a callback (gb_server_set_admit), so
 * that net/ knows nothing of quotas.
 */
#ifndef GB_CONN_QUOTAS_H
#define GB_CONN_QUOTAS_H

#include <stdint.h>

#include "broker/core/gb_broker.h"

typedef struct gb_conn_quotas gb_conn_quotas;

gb_conn_quotas *gb_conn_quotas_new(gb_broker *b);
void gb_conn_quotas_free(gb_conn_quotas *q);

/* A connection from ip (text) accepted at now_ms (a monotonic clock).
 * Returns 0 to serve it, or the IP throttle time in ms: close it after
 * that long. *accept_delay_ms is how long to accept nothing more (the
 * broker-wide rate), 0 if none. arg is the gb_conn_quotas. */
int32_t gb_conn_quotas_admit(void *arg, const char *ip, int64_t now_ms, int32_t *accept_delay_ms);

#endif
