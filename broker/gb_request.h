/*
 * One request, from its decoded header to its written response. It owns an
 * arena holding the decoded body, the handler's data and the encoded
 * response; all of it is freed in one go after the write completes.
 *
 * Handlers are called with the body decoded and an initialised response
 * struct of the same version. They fill the response and call
 * gb_request_respond(), now or later (a long-polling Fetch answers from a
 * timer); responses still leave the connection in request order.
 */
#ifndef GB_REQUEST_H
#define GB_REQUEST_H

#include <stdbool.h>
#include <uv.h>

#include "broker/gb_broker.h"
#include "protocol/gp_header.h"

typedef struct gb_conn gb_conn;
typedef struct gb_request gb_request;

enum gb_request_state {
    GB_REQ_PENDING, /* handler has not answered yet */
    GB_REQ_READY,   /* response encoded, waiting for earlier responses */
    GB_REQ_SILENT,  /* answered without a response (acks=0 produce) */
    GB_REQ_WRITING, /* handed to the socket */
};

#define GB_REQUEST_BLOCK 3072 /* first arena block, inside the request */

struct gb_request {
    gb_conn *conn;
    gb_request *next; /* next request on the connection, in order */
    enum gb_request_state state;
    gp_request_header hdr;
    const gp_api *api;
    int16_t version;
    void *body;   /* decoded request struct */
    void *resp;   /* response struct, initialised */
    void *frame;  /* malloc'd frame bytes the body points into, or NULL */
    uv_buf_t out; /* size prefix + response header + body */
    uv_write_t write_req;
    gp_arena arena;
    _Alignas(16) uint8_t block[GB_REQUEST_BLOCK];
};

/* Encode req->resp and queue it for writing (in request order). */
void gb_request_respond(gb_request *req);

/* Finish a request that gets no response (acks=0 produce). */
void gb_request_respond_none(gb_request *req);

/* "client 'id' at host:port", for log lines about this request. */
const char *gb_request_peer(const gb_request *req);

/* The listener the request's connection arrived on: its advertised address. */
const char *gb_request_advertised_host(const gb_request *req);
int gb_request_advertised_port(const gb_request *req);

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

/* Called by the server for every complete frame; takes ownership of
 * `frame` if non-NULL (else the bytes are copied). Returns 0, or a negative
 * value after which the connection must be closed; *why says why. */
int gb_dispatch_frame(gb_broker *b, gb_conn *conn, const uint8_t *data, size_t len, void *frame, const char **why);

/* Handlers. */
void gb_handle_api_versions(gb_broker *b, gb_request *req);
void gb_handle_metadata(gb_broker *b, gb_request *req);

/* Answer an ApiVersions request whose version the broker does not know:
 * a v0 response with UNSUPPORTED_VERSION and the supported table. */
void gb_api_versions_unsupported(gb_broker *b, gb_request *req);

#endif
