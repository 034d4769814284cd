/*
 * The dispatch table: which APIs and versions are implemented, and the
 * server's frame callback that turns a frame into a handler call.
 */
#ifndef GB_DISPATCH_H
#define GB_DISPATCH_H

#include "broker/core/gb_broker.h"
#include "broker/net/gb_server.h"

typedef void (*gb_handler_fn)(gb_broker *b, gb_request *req);

/* The handler table (gb_dispatch.c): which APIs and versions are
 * implemented. ApiVersions advertises exactly this table. */
typedef struct gb_handler {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
    gb_handler_fn fn;
} gb_handler;

extern const gb_handler gb_handlers[];
extern const size_t gb_handler_count;
const gb_handler *gb_handler_get(int16_t api_key);

/* The server's frame callback (gb_server_start), with the broker as its
 * argument: called for every complete frame; takes ownership of
 * `frame` if non-NULL (else the bytes are copied). Returns 0, or a negative
 * value after which the connection must be closed; *why says why. */
int gb_dispatch_frame(void *broker, gb_conn *conn, const uint8_t *data, size_t len, void *frame, const char **why);

#endif
