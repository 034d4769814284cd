/*
 * The request lifecycle: a request's memory (one arena, the frame it was
 * read from, work deferred to its end), its answer (encoded into the arena
 * as memory parts and file splices) and what a handler may ask of it. The
 * connection decides when the answer goes out (gb_server.c: in request
 * order); this file only hands it over.
 */
#include "broker/net/gb_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/net/gb_conn.h"
#include "broker/net/gb_server.h"

gb_request *gb__request_new(gb_conn *c)
{
    gb_request *req = gu_malloc(sizeof *req);
    memset(req, 0, offsetof(gb_request, arena));
    gp_arena_init(&req->arena, req->block, sizeof req->block);
    req->conn = c;
    req->state = GB_REQ_PENDING;
    return req;
}

void gb__request_free(gb_request *req)
{
    for (gb_cleanup *k = req->cleanups; k; k = k->next)
        k->fn(k->arg);
    gp_arena_reset(&req->arena, NULL, 0);
    free(req->frame);
    free(req);
}

void gb_request_respond(gb_request *req)
{
    int hv = gp_response_header_version(req->api, req->version);
    size_t body = req->api->response.size(req->version, req->resp);
    size_t total = gp_response_header_size(hv) + body;
    if (total > INT32_MAX || (int64_t)total < req->file_bytes)
        abort(); /* a handler bug */
    size_t mem = 4 + total - (size_t)req->file_bytes;
    uint8_t *buf = gp_arena_alloc(&req->arena, mem);
    gp_writer w;
    gp_writer_init(&w, buf, mem);
    w.arena = &req->arena;
    gp_write_int32(&w, (int32_t)total);
    gp_response_header_write(&w, hv, req->hdr.correlation_id);
    req->api->response.encode(&w, req->version, req->resp);
    if (w.p != w.end)
        abort(); /* size and encode disagree: a generator or handler bug */
    req->out = buf;
    req->out_len = mem;
    req->splices = w.splices;
    req->nsplices = w.nsplices;
    req->wire_left = (int64_t)(4 + total);
    req->state = GB_REQ_READY;
    gb__conn_flush(req->conn);
}

void gb_request_respond_none(gb_request *req)
{
    req->state = GB_REQ_SILENT;
    gb__conn_flush(req->conn);
}

void gb_request_defer(gb_request *req, void (*fn)(void *arg), void *arg)
{
    gb_cleanup *k = gp_arena_alloc(&req->arena, sizeof *k);
    k->fn = fn;
    k->arg = arg;
    k->next = req->cleanups;
    req->cleanups = k;
}

void gb_request_hold(gb_request *req)
{
    gb__conn_hold(req->conn);
}

void gb_request_resume(gb_request *req)
{
    gb__conn_resume(req->conn);
}

void gb_request_throttle(gb_request *req, int32_t ms)
{
    if (ms > 0)
        gb__conn_mute(req->conn, (uint64_t)ms);
}

bool gb_request_orphaned(const gb_request *req)
{
    return gb__conn_closing(req->conn);
}

const char *gb_request_peer(const gb_request *req)
{
    return gb_conn_peer(req->conn);
}

const char *gb_request_advertised_host(const gb_request *req)
{
    const char *host;
    int port;
    gb__conn_advertised(req->conn, &host, &port);
    return host;
}

int gb_request_advertised_port(const gb_request *req)
{
    const char *host;
    int port;
    gb__conn_advertised(req->conn, &host, &port);
    return port;
}
