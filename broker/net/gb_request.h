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
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/gp_header.h"

typedef struct gb_conn gb_conn;
typedef struct gb_request gb_request;

enum gb_request_state {
    GB_REQ_PENDING, /* handler has not answered yet */
    GB_REQ_READY,   /* response encoded, waiting for earlier responses */
    GB_REQ_SILENT,  /* answered without a response (acks=0 produce) */
    GB_REQ_WRITING, /* on the connection's write queue */
};

#define GB_REQUEST_BLOCK 3072 /* first arena block, inside the request */

/* Work to do when a request is freed (release file slices, ...). */
typedef struct gb_cleanup {
    void (*fn)(void *arg);
    void *arg;
    struct gb_cleanup *next;
} gb_cleanup;

struct gb_request {
    gb_conn *conn;
    gb_request *next; /* next request on the connection, in order */
    enum gb_request_state state;
    gp_request_header hdr;
    const gp_api *api;
    int16_t version;
    void *body;         /* decoded request struct */
    void *resp;         /* response struct, initialised */
    void *frame;        /* malloc'd frame bytes the body points into, or NULL */
    size_t size;        /* the request's bytes, less the size prefix (Kafka's sizeInBytes) */
    size_t queued;      /* bytes counted against queued.max.request.bytes until freed */
    int64_t file_bytes; /* response bytes the handler left in files (gp_records.file) */
    uint8_t *out;       /* size prefix + response header + body, less the file bytes */
    size_t out_len;
    gp_splice *splices; /* where the file bytes go on the wire */
    size_t nsplices;
    size_t sent_mem;     /* write cursor: bytes of out sent, */
    size_t splice_idx;   /* splices done, */
    int64_t splice_sent; /* bytes of the current splice sent */
    int64_t wire_left;   /* bytes of this response not yet on the wire */
    gb_cleanup *cleanups;
    gp_arena arena;
    _Alignas(16) uint8_t block[GB_REQUEST_BLOCK];
};

/* Encode req->resp and queue it for writing (in request order). */
void gb_request_respond(gb_request *req);

/* Finish a request that gets no response (acks=0 produce). */
void gb_request_respond_none(gb_request *req);

/* Run fn(arg) when the request is freed (after its response is written or
 * its connection closed). */
void gb_request_defer(gb_request *req, void (*fn)(void *arg), void *arg);

/* Stop reading the connection's next requests until gb_request_resume: a
 * handler that must wait before it acts (a Produce whose partitions first
 * join a transaction) keeps the requests behind it from acting before it,
 * as Kafka, which handles one request per connection at a time. The held
 * requests are dispatched from the loop later, never inside
 * gb_request_resume, so a handler resumes before it answers (the answer may
 * free the request). */
void gb_request_hold(gb_request *req);
void gb_request_resume(gb_request *req);

/* KIP-219: read nothing more from the request's connection for ms (a
 * client quota's throttle time, also sent in the response). */
void gb_request_throttle(gb_request *req, int32_t ms);

/* Has the client gone away? A handler that answers later can stop early. */
bool gb_request_orphaned(const gb_request *req);

/* "client 'id' at host:port", for log lines about this request. */
const char *gb_request_peer(const gb_request *req);

/* The listener the request's connection arrived on: its advertised address. */
const char *gb_request_advertised_host(const gb_request *req);
int gb_request_advertised_port(const gb_request *req);

#endif
