/*
 * Listeners and connections.
 *
 * A connection reads into a fixed buffer and cuts it into frames. A frame
 * that does not fit there gets a buffer of its own (after its size has been
 * checked against socket.request.max.bytes) and later reads go straight into
 * it, so a large Produce is not copied. Each frame becomes a request, queued
 * on the connection in arrival order; responses are written from the head of
 * that queue only, so they leave in request order however the handlers
 * finish.
 *
 * Fairness and flow control (memcached's habit): at most GB_CONN_BURST frames
 * are handled per connection per wake-up; leftovers wait on the backlog list,
 * served by an idle handle after every other connection had its turn. A
 * connection whose unsent responses exceed GB_CONN_MAX_UNSENT bytes or
 * GB_CONN_MAX_INFLIGHT requests stops being read until its writes drain.
 */
#include "broker/gb_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/gb_log.h"

#define GB_CONN_RBUF (64 * 1024)
#define GB_CONN_BURST 16
#define GB_CONN_MAX_UNSENT (16u * 1024 * 1024)
#define GB_CONN_MAX_INFLIGHT 256
#define GB_MAX_LISTENERS 8
#define GB_MAX_BINDS 4
#define GB_STOP_GRACE_MS 500

typedef struct gb_listener {
    gb_server *srv;
    char name[64];
    char host[256];     /* as configured; "" = every interface */
    int port;           /* as configured; 0 = any free port */
    char adv_host[256]; /* advertised in Metadata */
    int adv_port;       /* 0 = the bound port */
    uv_tcp_t tcp[GB_MAX_BINDS];
    int ntcp;
    int bound_port;
} gb_listener;

struct gb_conn {
    uv_tcp_t tcp;
    gb_server *srv;
    gb_listener *listener;
    gb_conn *prev, *next;  /* all connections */
    gb_conn *backlog_next; /* on srv->backlog when in_backlog */
    char addr[64];         /* peer ip:port */
    char peer[200];        /* "client 'x' at ip:port" */
    uint8_t *rbuf;         /* GB_CONN_RBUF bytes */
    size_t rpos, rlen;     /* unparsed bytes are rbuf[rpos..rlen) */
    uint8_t *frame;        /* a large frame being read into its own buffer */
    size_t frame_len, frame_have;
    gb_request *head, *tail; /* requests not yet handed to the socket */
    size_t nrequests;        /* every live request, incl. writing */
    size_t unsent;           /* bytes handed to the socket, not yet written */
    bool reading, closing, in_backlog, client_id_set;
};

struct gb_server {
    gb_broker *broker;
    uv_loop_t *loop;
    gb_listener listeners[GB_MAX_LISTENERS];
    int nlisteners;
    gb_conn *conns;
    gb_conn *backlog;
    uv_idle_t backlog_idle;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    uint32_t max_request;
    bool stopping;
    char described[1024];
};

static void gb__conn_close(gb_conn *c, const char *why);
static void gb__conn_pump(gb_conn *c);
static void gb__on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void gb__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void gb__on_backlog(uv_idle_t *idle);

/* ---- connection lifetime --------------------------------------------------- */

/* A connection is freed once it is closing, its handle's close callback
 * has run (tcp.data cleared) and no request refers to it any more. */
static void gb__conn_free_if_done(gb_conn *c)
{
    if (!c->closing || c->nrequests > 0 || c->tcp.data != NULL)
        return;
    free(c->rbuf);
    free(c->frame);
    free(c);
}

static void gb__conn_on_close(uv_handle_t *h)
{
    gb_conn *c = h->data;
    c->tcp.data = NULL; /* the handle is gone */
    gb__conn_free_if_done(c);
}

static void gb__request_free(gb_request *req)
{
    gb_conn *c = req->conn;
    gp_arena_reset(&req->arena, NULL, 0);
    free(req->frame);
    free(req);
    c->nrequests--;
    gb__conn_free_if_done(c);
}

/* Close a connection: log why (NULL for an orderly end), drop what was not
 * answered yet. Requests being written finish through their callbacks. */
static void gb__conn_close(gb_conn *c, const char *why)
{
    if (c->closing)
        return;
    if (why)
        gb_log_warn("closing connection from %s: %s", c->peer, why);
    else
        gb_log_debug("connection from %s closed", c->peer);
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    /* Requests still queued: their handlers have answered (all handlers are
     * synchronous so far) or will see conn->closing; drop the answered ones. */
    gb_request **pp = &c->head;
    while (*pp) {
        gb_request *req = *pp;
        if (req->state == GB_REQ_PENDING) {
            pp = &req->next;
            continue;
        }
        *pp = req->next;
        gb__request_free(req);
    }
    c->tail = NULL;
    for (gb_request *r = c->head; r; r = r->next)
        c->tail = r;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, gb__conn_on_close);
    gb_server *srv = c->srv;
    if (srv->stopping && !srv->conns && !uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, NULL);
}

/* ---- writing ------------------------------------------------------------------- */

static bool gb__conn_paused(const gb_conn *c)
{
    return c->unsent > GB_CONN_MAX_UNSENT || c->nrequests >= GB_CONN_MAX_INFLIGHT;
}

static void gb__backlog_add(gb_conn *c)
{
    if (c->in_backlog || c->closing)
        return;
    c->in_backlog = true;
    c->backlog_next = c->srv->backlog;
    c->srv->backlog = c;
    /* The idle handle keeps the loop from blocking while work is queued. */
    uv_idle_start(&c->srv->backlog_idle, gb__on_backlog);
}

/* A response is written (or cancelled by a close: libuv runs these
 * callbacks before the handle's close callback, so `c` is alive here). */
static void gb__on_write(uv_write_t *w, int status)
{
    gb_request *req = w->data;
    gb_conn *c = req->conn;
    bool was_paused = gb__conn_paused(c);
    c->unsent -= req->out.len;
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        char why[128];
        snprintf(why, sizeof why, "write failed: %s", uv_strerror(status));
        gb__conn_close(c, why);
    }
    bool closing = c->closing;
    gb__request_free(req);
    if (closing)
        return;
    if (c->srv->stopping && c->nrequests == 0)
        gb__conn_close(c, NULL);
    else if (was_paused && !gb__conn_paused(c))
        gb__backlog_add(c);
}

/* Hand every answered request at the head of the queue to the socket. */
static void gb__conn_flush(gb_conn *c)
{
    while (c->head && c->head->state != GB_REQ_PENDING) {
        gb_request *req = c->head;
        c->head = req->next;
        if (!c->head)
            c->tail = NULL;
        if (req->state == GB_REQ_SILENT || c->closing) {
            gb__request_free(req);
            continue;
        }
        req->state = GB_REQ_WRITING;
        req->write_req.data = req;
        c->unsent += req->out.len;
        int rc = uv_write(&req->write_req, (uv_stream_t *)&c->tcp, &req->out, 1, gb__on_write);
        if (rc < 0) {
            c->unsent -= req->out.len;
            gb__request_free(req);
            char why[128];
            snprintf(why, sizeof why, "write failed: %s", uv_strerror(rc));
            gb__conn_close(c, why);
            return;
        }
    }
}

void gb_request_respond(gb_request *req)
{
    int hv = gp_response_header_version(req->api, req->version);
    size_t body = req->api->response.size(req->version, req->resp);
    size_t total = gp_response_header_size(hv) + body;
    if (total > INT32_MAX)
        abort(); /* a response that large is a handler bug */
    uint8_t *buf = gp_arena_alloc(&req->arena, 4 + total);
    gp_writer w;
    gp_writer_init(&w, buf, 4 + total);
    gp_write_int32(&w, (int32_t)total);
    gp_response_header_write(&w, hv, req->hdr.correlation_id);
    req->api->response.encode(&w, req->version, req->resp);
    if (w.p != w.end)
        abort(); /* size and encode disagree: a generator bug */
    req->out = uv_buf_init((char *)buf, (unsigned)(4 + total));
    req->state = GB_REQ_READY;
    gb__conn_flush(req->conn);
}

void gb_request_respond_none(gb_request *req)
{
    req->state = GB_REQ_SILENT;
    gb__conn_flush(req->conn);
}

gb_request *gb_conn_new_request(gb_conn *c)
{
    gb_request *req = malloc(sizeof *req);
    if (!req)
        abort();
    memset(req, 0, offsetof(gb_request, arena));
    gp_arena_init(&req->arena, req->block, sizeof req->block);
    req->conn = c;
    req->state = GB_REQ_PENDING;
    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    c->nrequests++;
    return req;
}

void gb_conn_set_client_id(gb_conn *c, gp_str client_id)
{
    if (c->client_id_set)
        return;
    c->client_id_set = true;
    if (client_id.len > 0)
        snprintf(c->peer, sizeof c->peer, "client '%.*s' at %s", client_id.len > 100 ? 100 : (int)client_id.len,
                 client_id.p, c->addr);
}

const char *gb_conn_peer(const gb_conn *c)
{
    return c->peer;
}

const char *gb_request_peer(const gb_request *req)
{
    return req->conn->peer;
}

const char *gb_request_advertised_host(const gb_request *req)
{
    return req->conn->listener->adv_host;
}

int gb_request_advertised_port(const gb_request *req)
{
    const gb_listener *l = req->conn->listener;
    return l->adv_port ? l->adv_port : l->bound_port;
}

/* ---- reading -------------------------------------------------------------------- */

static void gb__conn_update_reading(gb_conn *c)
{
    bool want = !c->closing && !c->srv->stopping && !gb__conn_paused(c) && !c->in_backlog;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, gb__on_alloc, gb__on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Check a frame's size field before anything is reserved for it. */
static int gb__frame_size(gb_conn *c, const uint8_t *p, size_t *size)
{
    int32_t n = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
    char why[160];
    if (n < GP_REQUEST_HEADER_MIN) {
        snprintf(why, sizeof why, "invalid frame size %d (smaller than a request header)", n);
        gb__conn_close(c, why);
        return -1;
    }
    if ((uint32_t)n > c->srv->max_request) {
        snprintf(why, sizeof why, "frame size %d exceeds socket.request.max.bytes (%u)", n, c->srv->max_request);
        gb__conn_close(c, why);
        return -1;
    }
    *size = (size_t)n;
    return 0;
}

static void gb__conn_dispatch(gb_conn *c, const uint8_t *data, size_t len, void *frame)
{
    const char *why = NULL;
    if (gb_dispatch_frame(c->srv->broker, c, data, len, frame, &why) < 0)
        gb__conn_close(c, why);
}

/* Handle the complete frames in the read buffer, at most GB_CONN_BURST of
 * them; queue the connection on the backlog if more are left. */
static void gb__conn_pump(gb_conn *c)
{
    int handled = 0;
    while (!c->closing && c->rlen - c->rpos >= 4) {
        size_t size;
        if (gb__frame_size(c, c->rbuf + c->rpos, &size) < 0)
            return;
        size_t avail = c->rlen - c->rpos - 4;
        if (avail < size) {
            if (size > GB_CONN_RBUF - 4) {
                /* Too large for the read buffer: give it a buffer of its own. */
                c->frame = malloc(size);
                if (!c->frame)
                    abort();
                memcpy(c->frame, c->rbuf + c->rpos + 4, avail);
                c->frame_len = size;
                c->frame_have = avail;
                c->rpos = c->rlen = 0;
            }
            break;
        }
        if (handled == GB_CONN_BURST || gb__conn_paused(c)) {
            if (!gb__conn_paused(c))
                gb__backlog_add(c);
            break;
        }
        const uint8_t *data = c->rbuf + c->rpos + 4;
        c->rpos += 4 + size;
        handled++;
        gb__conn_dispatch(c, data, size, NULL);
    }
    if (c->closing)
        return;
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    gb__conn_update_reading(c);
}

static void gb__on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    gb_conn *c = h->data;
    if (c->frame) {
        buf->base = (char *)c->frame + c->frame_have;
        buf->len = c->frame_len - c->frame_have;
    } else {
        if (c->rpos > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        }
        buf->base = (char *)c->rbuf + c->rlen;
        buf->len = GB_CONN_RBUF - c->rlen;
    }
}

static void gb__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    gb_conn *c = s->data;
    if (nread < 0) {
        if (nread == UV_EOF) {
            if (c->frame || c->rlen > c->rpos)
                gb__conn_close(c, "connection closed by the client in the middle of a request");
            else
                gb__conn_close(c, NULL);
        } else {
            char why[128];
            snprintf(why, sizeof why, "read failed: %s", uv_strerror((int)nread));
            gb__conn_close(c, why);
        }
        return;
    }
    if (nread == 0)
        return;
    if (c->frame) {
        c->frame_have += (size_t)nread;
        if (c->frame_have < c->frame_len)
            return;
        void *frame = c->frame;
        size_t len = c->frame_len;
        c->frame = NULL;
        c->frame_len = c->frame_have = 0;
        gb__conn_dispatch(c, frame, len, frame);
        if (!c->closing)
            gb__conn_pump(c);
        return;
    }
    c->rlen += (size_t)nread;
    gb__conn_pump(c);
}

/* Serve connections that had more frames than one wake-up allows, or that
 * were paused and have drained. One round each, then back to the loop. */
static void gb__on_backlog(uv_idle_t *idle)
{
    gb_server *srv = idle->data;
    gb_conn *list = srv->backlog;
    srv->backlog = NULL;
    while (list) {
        gb_conn *c = list;
        list = c->backlog_next;
        c->in_backlog = false;
        if (!c->closing)
            gb__conn_pump(c);
        else
            gb__conn_free_if_done(c);
    }
    if (!srv->backlog)
        uv_idle_stop(idle);
}

/* ---- accepting -------------------------------------------------------------------- */

static void gb__format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, len, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%d", ip, port);
    } else {
        snprintf(out, len, "?");
    }
}

static void gb__on_connection(uv_stream_t *server, int status)
{
    gb_listener *l = server->data;
    gb_server *srv = l->srv;
    if (status < 0) {
        gb_log_warn("accept on %s failed: %s", l->name, uv_strerror(status));
        return;
    }
    gb_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->rbuf = malloc(GB_CONN_RBUF)))
        abort();
    c->srv = srv;
    c->listener = l;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, gb__conn_on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
        gb__format_addr((struct sockaddr *)&ss, c->addr, sizeof c->addr);
    else
        snprintf(c->addr, sizeof c->addr, "unknown peer");
    snprintf(c->peer, sizeof c->peer, "%s", c->addr);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    gb_log_debug("connection from %s on %s", c->addr, l->name);
    gb__conn_update_reading(c);
}

/* ---- listeners ---------------------------------------------------------------------- */

/* Split "NAME://host:port" (host may be empty or [v6]). */
static int gb__parse_endpoint(const char *text, size_t len, char *name, size_t nlen, char *host, size_t hlen, int *port,
                              char *err, size_t errlen)
{
    char buf[512];
    if (len >= sizeof buf) {
        snprintf(err, errlen, "listener '%.*s' is too long", (int)len, text);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *sep = strstr(buf, "://");
    char *colon = sep ? strrchr(sep + 3, ':') : NULL;
    if (!sep || sep == buf || !colon) {
        snprintf(err, errlen, "listener '%s' is not of the form NAME://host:port", buf);
        return -1;
    }
    *sep = '\0';
    *colon = '\0';
    const char *h = sep + 3;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535) {
        snprintf(err, errlen, "listener '%.*s': bad port '%s'", (int)len, text, colon + 1);
        return -1;
    }
    if (strlen(buf) >= nlen || hl >= hlen) {
        snprintf(err, errlen, "listener '%.*s': name or host too long", (int)len, text);
        return -1;
    }
    memcpy(name, buf, strlen(buf) + 1);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

/* Iterate a comma-separated list: calls fn on each trimmed, non-empty item. */
static int gb__each_item(const char *list, int (*fn)(void *, const char *, size_t), void *ud)
{
    const char *p = list ? list : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            int rc = fn(ud, s, n);
            if (rc)
                return rc;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return 0;
}

/* Does `name` appear in the comma-separated list? */
static bool gb__list_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list ? list : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n == nl && strncmp(p, name, n) == 0)
            return true;
        p = comma ? comma + 1 : p + strlen(p);
    }
    return false;
}

/* The security protocol of a listener name, from
 * listener.security.protocol.map (or the name itself, as Kafka does for
 * the four protocol names). */
static bool gb__listener_protocol(const char *map, const char *name, char *proto, size_t plen)
{
    size_t nl = strlen(name);
    for (const char *p = map ? map : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        const char *colon = memchr(p, ':', n);
        if (colon && (size_t)(colon - p) == nl && strncmp(p, name, nl) == 0) {
            size_t vl = n - nl - 1;
            while (vl && colon[vl] == ' ')
                vl--;
            snprintf(proto, plen, "%.*s", (int)vl, colon + 1);
            return true;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    static const char *const builtin[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(name, builtin[i]) == 0) {
            snprintf(proto, plen, "%s", name);
            return true;
        }
    return false;
}

typedef struct gb__parse_ctx {
    gb_server *srv;
    char *err;
    size_t errlen;
} gb__parse_ctx;

static int gb__add_listener(void *ud, const char *item, size_t len)
{
    gb__parse_ctx *ctx = ud;
    gb_server *srv = ctx->srv;
    const gc_config *cfg = srv->broker->cfg;
    char name[64], host[256], proto[64];
    int port;
    if (gb__parse_endpoint(item, len, name, sizeof name, host, sizeof host, &port, ctx->err, ctx->errlen) < 0)
        return -1;
    if (gb__list_has(cfg->controller_listener_names, name)) {
        gb_log_info("ignoring controller listener %s: a single Gregor node has no controller quorum", name);
        return 0;
    }
    if (!gb__listener_protocol(cfg->listener_security_protocol_map, name, proto, sizeof proto)) {
        snprintf(ctx->err, ctx->errlen,
                 "listeners: no security protocol for listener name %s (add it to "
                 "listener.security.protocol.map)",
                 name);
        return -1;
    }
    if (strcmp(proto, "PLAINTEXT") != 0) {
        snprintf(ctx->err, ctx->errlen, "listeners: %s uses %s, which Gregor does not support yet (PLAINTEXT only)",
                 name, proto);
        return -1;
    }
    for (int i = 0; i < srv->nlisteners; i++)
        if (strcmp(srv->listeners[i].name, name) == 0) {
            snprintf(ctx->err, ctx->errlen, "listeners: listener name %s appears twice", name);
            return -1;
        }
    if (srv->nlisteners == GB_MAX_LISTENERS) {
        snprintf(ctx->err, ctx->errlen, "listeners: at most %d listeners", GB_MAX_LISTENERS);
        return -1;
    }
    gb_listener *l = &srv->listeners[srv->nlisteners++];
    l->srv = srv;
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->host, sizeof l->host, "%s", host);
    l->port = port;
    return 0;
}

static int gb__add_advertised(void *ud, const char *item, size_t len)
{
    gb__parse_ctx *ctx = ud;
    gb_server *srv = ctx->srv;
    char name[64], host[256];
    int port;
    if (gb__parse_endpoint(item, len, name, sizeof name, host, sizeof host, &port, ctx->err, ctx->errlen) < 0)
        return -1;
    for (int i = 0; i < srv->nlisteners; i++) {
        gb_listener *l = &srv->listeners[i];
        if (strcmp(l->name, name) != 0)
            continue;
        if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
            snprintf(ctx->err, ctx->errlen, "advertised.listeners: %s must name a host clients can reach, not '%s'",
                     name, host);
            return -1;
        }
        snprintf(l->adv_host, sizeof l->adv_host, "%s", host);
        l->adv_port = port;
        return 0;
    }
    if (gb__list_has(srv->broker->cfg->controller_listener_names, name))
        return 0;
    snprintf(ctx->err, ctx->errlen, "advertised.listeners: %s is not one of the listeners", name);
    return -1;
}

static int gb__bind_one(gb_listener *l, const struct sockaddr *sa, unsigned flags, char *err, size_t errlen)
{
    uv_tcp_t *t = &l->tcp[l->ntcp];
    uv_tcp_init(l->srv->loop, t);
    t->data = l;
    char addr[80];
    gb__format_addr(sa, addr, sizeof addr);
    int rc = uv_tcp_bind(t, sa, flags);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, 511, gb__on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s (listener %s): %s", addr, l->name, uv_strerror(rc));
        uv_close((uv_handle_t *)t, NULL);
        return rc;
    }
    l->ntcp++;
    if (!l->bound_port) {
        struct sockaddr_storage ss;
        int n = sizeof ss;
        uv_tcp_getsockname(t, (struct sockaddr *)&ss, &n);
        l->bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

/* Bind a listener: every address its host resolves to (so "localhost"
 * serves both 127.0.0.1 and ::1), or every interface when the host is
 * empty. With port 0 the first bind picks the port and the rest reuse it. */
static int gb__bind_listener(gb_listener *l, char *err, size_t errlen)
{
    if (l->host[0] == '\0') {
        struct sockaddr_in6 any6;
        uv_ip6_addr("::", l->port, &any6);
        if (gb__bind_one(l, (struct sockaddr *)&any6, 0, err, errlen) == 0)
            return 0; /* dual-stack */
        struct sockaddr_in any4;
        uv_ip4_addr("0.0.0.0", l->port, &any4);
        return gb__bind_one(l, (struct sockaddr *)&any4, 0, err, errlen);
    }
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", l->port);
    int grc = getaddrinfo(l->host, port, &hints, &res);
    if (grc != 0) {
        snprintf(err, errlen, "cannot resolve listener host '%s' (%s): %s", l->host, l->name, gai_strerror(grc));
        return -1;
    }
    int rc = 0;
    for (struct addrinfo *ai = res; ai && l->ntcp < GB_MAX_BINDS; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        bool dup = false;
        for (struct addrinfo *p = res; p != ai; p = p->ai_next)
            if (p->ai_addrlen == ai->ai_addrlen && memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
                dup = true;
        if (dup)
            continue;
        if (l->bound_port) { /* port 0: bind the others to the same port */
            if (ai->ai_family == AF_INET)
                ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)l->bound_port);
            else
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)l->bound_port);
        }
        char e2[256];
        int r = gb__bind_one(l, ai->ai_addr, ai->ai_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0, e2, sizeof e2);
        if (r < 0) {
            /* A second address family the machine lacks is not an error. */
            if (l->ntcp > 0 && (r == UV_EADDRNOTAVAIL || r == UV_EAFNOSUPPORT))
                continue;
            snprintf(err, errlen, "%s", e2);
            rc = -1;
            break;
        }
    }
    freeaddrinfo(res);
    if (rc == 0 && l->ntcp == 0) {
        snprintf(err, errlen, "listener host '%s' (%s) has no IPv4 or IPv6 address", l->host, l->name);
        rc = -1;
    }
    return rc;
}

static void gb__on_signal(uv_signal_t *s, int signum)
{
    gb_server *srv = s->data;
    gb_log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    gb_server_stop(srv);
}

int gb_server_start(gb_broker *b, char *err, size_t errlen)
{
    gb_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        abort();
    b->server = srv;
    srv->broker = b;
    srv->loop = b->loop;
    srv->max_request = (uint32_t)b->cfg->socket_request_max_bytes;
    uv_idle_init(srv->loop, &srv->backlog_idle);
    srv->backlog_idle.data = srv;
    uv_timer_init(srv->loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    uv_signal_init(srv->loop, &srv->sigint);
    uv_signal_init(srv->loop, &srv->sigterm);
    srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, gb__on_signal, SIGINT);
    uv_signal_start(&srv->sigterm, gb__on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    gb__parse_ctx ctx = {srv, err, errlen};
    if (gb__each_item(b->cfg->listeners, gb__add_listener, &ctx))
        return -1;
    if (srv->nlisteners == 0) {
        snprintf(err, errlen, "listeners: no listener configured");
        return -1;
    }
    if (b->cfg->advertised_listeners && gb__each_item(b->cfg->advertised_listeners, gb__add_advertised, &ctx))
        return -1;
    for (int i = 0; i < srv->nlisteners; i++) {
        gb_listener *l = &srv->listeners[i];
        if (gb__bind_listener(l, err, errlen) < 0)
            return -1;
        if (l->adv_host[0] == '\0') {
            /* Kafka advertises the listener's host, or this machine's name
             * for a wildcard listener. */
            if (l->host[0] && strcmp(l->host, "0.0.0.0") != 0 && strcmp(l->host, "::") != 0)
                snprintf(l->adv_host, sizeof l->adv_host, "%s", l->host);
            else if (gethostname(l->adv_host, sizeof l->adv_host - 1) < 0 || l->adv_host[0] == '\0')
                snprintf(l->adv_host, sizeof l->adv_host, "localhost");
        }
    }
    size_t n = 0;
    for (int i = 0; i < srv->nlisteners && n < sizeof srv->described; i++) {
        gb_listener *l = &srv->listeners[i];
        n += (size_t)snprintf(srv->described + n, sizeof srv->described - n, "%s%s://%s:%d (advertised %s:%d)",
                              i ? ", " : "", l->name, l->host[0] ? l->host : "*", l->bound_port, l->adv_host,
                              l->adv_port ? l->adv_port : l->bound_port);
    }
    return 0;
}

const char *gb_server_describe(const gb_server *srv)
{
    return srv->described;
}

static void gb__on_stop_timer(uv_timer_t *t)
{
    gb_server *srv = t->data;
    /* Grace period over: close what is still open. */
    while (srv->conns)
        gb__conn_close(srv->conns, "broker shutting down");
    if (!uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, NULL);
}

void gb_server_stop(gb_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    for (int i = 0; i < srv->nlisteners; i++)
        for (int k = 0; k < srv->listeners[i].ntcp; k++)
            uv_close((uv_handle_t *)&srv->listeners[i].tcp[k], NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->backlog_idle, NULL);
    srv->backlog = NULL;
    /* Stop reading; connections with nothing in flight close now, the rest
     * when their responses are written or the grace period ends. */
    gb_conn *c = srv->conns;
    while (c) {
        gb_conn *next = c->next;
        c->in_backlog = false;
        if (c->nrequests == 0)
            gb__conn_close(c, NULL);
        else
            gb__conn_update_reading(c);
        c = next;
    }
    if (srv->conns)
        uv_timer_start(&srv->stop_timer, gb__on_stop_timer, GB_STOP_GRACE_MS, 0);
    else if (!uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, NULL);
}

void gb_server_free(gb_server *srv)
{
    free(srv);
}
