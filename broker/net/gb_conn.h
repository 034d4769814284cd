/*
 * Connection internals shared inside net/ only: what the request
 * lifecycle (gb_request.c) needs of the connection a request arrived on,
 * and what the server needs of a request's memory.
 */
#ifndef GB_CONN_H
#define GB_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/net/gb_request.h"

/* gb_server.c: move answered requests at the head of the connection's
 * queue to its write queue, and write. */
void gb__conn_flush(gb_conn *c);
/* gb_server.c: is the connection closed or closing? */
bool gb__conn_closing(const gb_conn *c);
/* gb_server.c: stop and resume dispatching the connection's requests. */
void gb__conn_hold(gb_conn *c);
void gb__conn_resume(gb_conn *c);
/* gb_server.c: read nothing more from the connection for ms (a quota). */
void gb__conn_mute(gb_conn *c, uint64_t ms);
/* gb_server.c: the advertised address of the connection's listener. */
void gb__conn_advertised(const gb_conn *c, const char **host, int *port);

/* gb_request.c: a request with its arena, not yet queued anywhere. */
gb_request *gb__request_new(gb_conn *c);
/* gb_request.c: run the cleanups, free the arena, the frame and req. */
void gb__request_free(gb_request *req);

#endif
