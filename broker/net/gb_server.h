/*
 * The network side: listeners from `listeners`, connections, Kafka framing
 * (4-byte big-endian size, bounded by socket.request.max.bytes), responses
 * in request order, flow control, and a clean stop when told to (the
 * lifecycle handles the signals), and Kafka's connection limits
 * (max.connections, max.connections.per.ip[.overrides],
 * connections.max.idle.ms, queued.max.request.bytes; rates through the
 * admit callback). It knows nothing of APIs: each frame goes to the
 * callback given at start-up.
 */
#ifndef GB_SERVER_H
#define GB_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/net/gb_request.h"
#include "config/gc_config.h"

typedef struct gb_server gb_server;

/* Called for every complete frame (its size prefix cut off). Takes
 * ownership of `frame` if non-NULL (else `data` is in the connection's
 * read buffer and must be copied). Returns 0, or a negative value after
 * which the connection is closed; *why says why. */
typedef int (*gb_frame_fn)(void *arg, gb_conn *conn, const uint8_t *data, size_t len, void *frame,
                           const char **why);

/* Parse listeners/advertised.listeners, bind every listener and start
 * accepting; frames go to on_frame(arg, ...). *out is set first, so that a
 * failed start can still be stopped and freed. Returns 0 or -1 with a
 * message in err (address and reason). */
int gb_server_start(gb_server **out, uv_loop_t *loop, const gc_config *cfg, gb_frame_fn on_frame, void *arg,
                    char *err, size_t errlen);

/* Asked for every accepted connection before it is served, with the peer's
 * IP address as text (IPv4-mapped IPv6 addresses as IPv4) and a monotonic
 * clock in ms: returns 0 to serve it, or a time in ms after which to close
 * it unserved (an IP over its connection creation rate); sets
 * *accept_delay_ms to stop accepting for that long (0: no pause). */
typedef int32_t (*gb_admit_fn)(void *arg, const char *ip, int64_t now_ms, int32_t *accept_delay_ms);
void gb_server_set_admit(gb_server *srv, gb_admit_fn fn, void *arg);

/* "PLAINTEXT://host:port,..." of the bound listeners (actual ports). */
const char *gb_server_describe(const gb_server *srv);

/* Stop accepting, let in-flight responses drain (at most ~0.5 s), close
 * everything; uv_run returns once all handles are closed. */
void gb_server_stop(gb_server *srv);

void gb_server_free(gb_server *srv);

/* For the frame callback: a new request queued on the connection, the
 * client id for log lines, "client 'id' at host:port". */
gb_request *gb_conn_new_request(gb_conn *c);
void gb_conn_set_client_id(gb_conn *c, gp_str client_id);
const char *gb_conn_peer(const gb_conn *c);

#endif
