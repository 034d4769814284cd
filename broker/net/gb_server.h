/*
 * The network side: listeners from `listeners`, connections, Kafka framing
 * (4-byte big-endian size, bounded by socket.request.max.bytes), responses
 * in request order, flow control, and a clean stop on SIGINT/SIGTERM.
 */
#ifndef GB_SERVER_H
#define GB_SERVER_H

#include "broker/net/gb_request.h"

/* Parse listeners/advertised.listeners, bind every listener and start
 * accepting. Returns 0 or -1 with a message in err (address and reason). */
int gb_server_start(gb_broker *b, char *err, size_t errlen);

/* "PLAINTEXT://host:port,..." of the bound listeners (actual ports). */
const char *gb_server_describe(const gb_server *srv);

/* Stop accepting, let in-flight responses drain (at most ~0.5 s), close
 * everything; uv_run returns once all handles are closed. */
void gb_server_stop(gb_server *srv);

void gb_server_free(gb_server *srv);

/* Connection internals used by gb_dispatch.c and gb_request.c. */
gb_request *gb_conn_new_request(gb_conn *c);
void gb_conn_set_client_id(gb_conn *c, gp_str client_id);
const char *gb_conn_peer(const gb_conn *c);

#endif
