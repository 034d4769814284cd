/*
 * Listeners and connections.
 *
 * Sockets are plain non-blocking fds watched with uv_poll, so that the
 * broker controls its own writes: memory parts of responses go out with
 * writev (several queued responses per call), file-backed record bytes
 * (gp_splice) with sendfile, from the page cache to the socket without a
 * copy through user space. Write readiness is watched only while a write
 * would block.
 *
 * A connection reads (one read per wake-up) into a fixed buffer and cuts it
 * into frames. A frame that does not fit there gets a buffer of its own
 * (after its size has been checked against socket.request.max.bytes) and
 * later reads go straight into it, so a large Produce is not copied. Each
 * frame becomes a request, queued on the connection in arrival order;
 * responses go to the write queue from the head of that queue only, so they
 * leave in request order however the handlers finish.
 *
 * Fairness and flow control (memcached's habit): at most GB_CONN_BURST frames
 * are handled per connection per wake-up; leftovers wait on the backlog list,
 * served by an idle handle after every other connection had its turn. A
 * connection whose unsent responses exceed GB_CONN_MAX_UNSENT bytes or
 * GB_CONN_MAX_INFLIGHT requests stops being read until its writes drain.
 *
 * Limits, with Kafka's keys and meaning (SocketServer's Acceptor and
 * ConnectionQuotas, Selector):
 *  - max.connections: at the limit the listening sockets are no longer
 *    polled (Kafka's acceptor waits for a slot); new connections wait in
 *    the kernel's backlog until one closes.
 *  - max.connections.per.ip(.overrides): a connection over its address's
 *    limit is closed as soon as it is accepted.
 *  - the admit callback (core/gb_conn_quotas): over the broker-wide
 *    creation rate accepting pauses; over an IP's rate the connection is
 *    held unserved and closed after the throttle time.
 *  - connections.max.idle.ms: a connection with nothing in flight that has
 *    read and written nothing for that long is closed.
 *  - queued.max.request.bytes: while the requests read and not yet freed
 *    hold that many bytes, no connection is read (Kafka's memory pool).
 * Descriptors running out (accept fails with EMFILE, ENFILE, ENOBUFS or
 * ENOMEM) pauses accepting too, until a connection closes or a backoff of
 * 100 ms to 1 s passes; otherwise the level-triggered listening socket
 * would wake the loop again at once, for ever. The warning is
 * rate-limited (GB_LOG_RATELIMITED). Connections that end with a network
 * error (reset, broken pipe) are logged at debug, as Kafka does; only a
 * client breaking the protocol is a warning.
 */
#include "broker/net/gb_server.h"
#include "broker/net/gb_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"

#define GB_CONN_RBUF (64 * 1024)
#define GB_CONN_BURST 16
#define GB_CONN_MAX_UNSENT (16u * 1024 * 1024)
#define GB_CONN_MAX_INFLIGHT 256
#define GB_CONN_IOV 64
#define GB_MAX_LISTENERS 8
#define GB_MAX_BINDS 4
#define GB_ACCEPT_BURST 64
#define GB_STOP_GRACE_MS 500
#define GB_IP_BUCKETS 1024
#define GB_ACCEPT_BACKOFF_MIN_MS 100
#define GB_ACCEPT_BACKOFF_MAX_MS 1000
#define GB_LOG_EVERY_MS 10000 /* rate-limited warnings: one line per 10 s at most */
#define GB_IP_TEXT 48         /* INET6_ADDRSTRLEN and a little */

/* Open connections from one IP address (max.connections.per.ip). */
typedef struct gb_ip_count {
    struct gb_ip_count *next;
    int64_t count;
    char ip[GB_IP_TEXT];
} gb_ip_count;

/* One address of max.connections.per.ip.overrides. */
typedef struct gb_ip_limit {
    char ip[GB_IP_TEXT];
    int32_t max;
} gb_ip_limit;

/* A connection held unserved until its close (an IP over its rate). */
typedef struct gb_delayed_close {
    struct gb_delayed_close *next;
    int fd;
    uint64_t at; /* uv_now ms */
} gb_delayed_close;

typedef struct gb_listener {
    gb_server *srv;
    char name[64];
    char host[256];     /* as configured; "" = every interface */
    int port;           /* as configured; 0 = any free port */
    char adv_host[256]; /* advertised in Metadata */
    int adv_port;       /* 0 = the bound port */
    int fd[GB_MAX_BINDS];
    uv_poll_t poll[GB_MAX_BINDS];
    int nfd;
    int bound_port;
} gb_listener;

struct gb_conn {
    int fd;
    uv_poll_t poll;
    int poll_events; /* what the poll handle watches now */
    bool poll_open;  /* the handle exists (closed in gb__conn_close) */
    gb_server *srv;
    gb_listener *listener;
    gb_conn *prev, *next;  /* all connections */
    gb_conn *backlog_next; /* on srv->backlog when in_backlog */
    char addr[64];         /* peer ip:port */
    char ip[GB_IP_TEXT];   /* peer address, the key of srv->ip_counts */
    uint64_t last_active;  /* uv_now of the last read or write (connections.max.idle.ms) */
    char peer[200];        /* "client 'x' at ip:port" */
    uint8_t *rbuf;         /* GB_CONN_RBUF bytes */
    size_t rpos, rlen;     /* unparsed bytes are rbuf[rpos..rlen) */
    uint8_t *frame;        /* a large frame being read into its own buffer */
    size_t frame_len, frame_have;
    gb_request *head, *tail;       /* requests not yet on the write queue */
    gb_request *wq_head, *wq_tail; /* responses being written, in order */
    size_t nrequests;              /* every live request */
    size_t unsent;                 /* bytes on the write queue not yet written */
    int held;                      /* gb__conn_hold without gb__conn_resume yet */
    uv_timer_t mute_timer;         /* ends a quota mute; initialised at the first one */
    bool mute_open;                /* mute_timer exists (closed in gb__conn_close) */
    bool muted;                    /* a client quota's throttle time is running */
    bool reading, write_blocked, closing, in_backlog, client_id_set;
};

struct gb_server {
    const gc_config *cfg;
    gb_frame_fn on_frame;
    void *on_frame_arg;
    uv_loop_t *loop;
    gb_listener listeners[GB_MAX_LISTENERS];
    int nlisteners;
    gb_conn *conns;
    gb_conn *backlog;
    uv_idle_t backlog_idle;
    uv_timer_t stop_timer;
    uint32_t max_request;
    bool stopping;
    char described[1024];
    /* accepting */
    size_t nconns;                          /* connections not closing (max.connections) */
    gb_ip_count *ip_counts[GB_IP_BUCKETS];  /* per address (max.connections.per.ip) */
    char *overrides_text;                   /* max.connections.per.ip.overrides, as parsed */
    gb_ip_limit *overrides;
    size_t noverrides;
    gb_admit_fn admit;
    void *admit_arg;
    bool accepting;          /* the listening sockets are polled */
    bool fd_exhausted;       /* accept ran out of descriptors or memory */
    uint64_t fd_retry_at;    /* uv_now when to try again anyway */
    uint64_t fd_backoff_ms;  /* doubles while accept keeps failing */
    uint64_t throttle_until; /* max.connection.creation.rate: no accept before */
    uv_timer_t accept_timer; /* ends a pause */
    gb_delayed_close *delayed;
    uv_timer_t delayed_timer;
    uv_timer_t idle_timer; /* connections.max.idle.ms, and a periodic look at the accept pause */
    int64_t idle_ms;
    /* queued.max.request.bytes */
    int64_t queued_max; /* <= 0: no limit */
    size_t queued;      /* bytes of live requests */
    bool queued_full;   /* queued reached queued_max: nothing is read */
    size_t dispatch_len; /* the frame being dispatched, for gb_conn_new_request */
};

static void gb__conn_close(gb_conn *c, const char *why);
static void gb__conn_pump(gb_conn *c);
static void gb__conn_write(gb_conn *c);
static void gb__on_backlog(uv_idle_t *idle);
static void gb__on_poll(uv_poll_t *p, int status, int events);
static void gb__accept_update(gb_server *srv);
static void gb__on_accept(uv_poll_t *p, int status, int events);
static void gb__ip_release(gb_server *srv, const char *ip);

/* ---- connection lifetime --------------------------------------------------- */

/* A connection is freed once it is closing, its poll handle's close
 * callback has run, no request refers to it any more and it is not on the
 * backlog list (gb__on_backlog takes it off, then frees it). */
static void gb__conn_free_if_done(gb_conn *c)
{
    if (!c->closing || c->nrequests > 0 || c->poll_open || c->mute_open || c->in_backlog)
        return;
    free(c->rbuf);
    free(c->frame);
    free(c);
}

static void gb__conn_on_close(uv_handle_t *h)
{
    gb_conn *c = h->data;
    gb_server *srv = c->srv;
    close(c->fd);
    c->fd = -1;
    c->poll_open = false;
    gb__conn_free_if_done(c);
    /* A descriptor is free: accept again if that was what stopped it. */
    srv->fd_exhausted = false;
    gb__accept_update(srv);
}

static void gb__conn_on_mute_close(uv_handle_t *h)
{
    gb_conn *c = h->data;
    c->mute_open = false;
    gb__conn_free_if_done(c);
}

static bool gb__conn_paused(const gb_conn *c);
static void gb__backlog_add(gb_conn *c);

/* queued.max.request.bytes: the requests in memory fell under the limit;
 * every connection that was stopped for it reads again (from the loop). */
static void gb__queued_release(gb_server *srv, size_t bytes)
{
    srv->queued -= bytes;
    if (!srv->queued_full || (int64_t)srv->queued >= srv->queued_max)
        return;
    srv->queued_full = false;
    for (gb_conn *c = srv->conns; c; c = c->next)
        if (!c->closing && !gb__conn_paused(c))
            gb__backlog_add(c);
}

/* Free a request (gb_request.c runs its cleanups) and maybe its connection. */
static void gb__conn_request_free(gb_request *req)
{
    gb_conn *c = req->conn;
    gb_server *srv = c->srv;
    size_t queued = req->queued;
    gb__request_free(req);
    c->nrequests--;
    gb__conn_free_if_done(c);
    if (queued)
        gb__queued_release(srv, queued);
}

/* Watch for what the connection wants now: data to read, room to write. */
static void gb__conn_poll_update(gb_conn *c)
{
    if (c->closing)
        return;
    int ev = (c->reading ? UV_READABLE : 0) | (c->write_blocked ? UV_WRITABLE : 0);
    if (ev == c->poll_events)
        return;
    c->poll_events = ev;
    if (ev)
        uv_poll_start(&c->poll, ev, gb__on_poll);
    else
        uv_poll_stop(&c->poll);
}

/* Close a connection: log why at level (why NULL: an orderly end, logged
 * at debug), drop what was not answered yet. Requests whose handler has
 * not answered stay until it does (gb_request_orphaned tells it). */
static void gb__conn_close_at(gb_conn *c, int level, const char *why)
{
    if (c->closing)
        return;
    if (why && level <= GB_LOGGER_INFO)
        gb_logger(level, "closing connection from %s: %s", c->peer, why);
    else if (why)
        gb_logger_debug("closing connection from %s: %s", c->peer, why);
    else
        gb_logger_debug("connection from %s closed", c->peer);
    c->closing = true;
    c->srv->nconns--;
    gb__ip_release(c->srv, c->ip);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    while (c->wq_head) {
        gb_request *req = c->wq_head;
        c->wq_head = req->next;
        gb__conn_request_free(req);
    }
    c->wq_tail = NULL;
    gb_request **pp = &c->head;
    while (*pp) {
        gb_request *req = *pp;
        if (req->state == GB_REQ_PENDING) {
            pp = &req->next;
            continue;
        }
        *pp = req->next;
        gb__conn_request_free(req);
    }
    c->tail = NULL;
    for (gb_request *r = c->head; r; r = r->next)
        c->tail = r;
    c->reading = c->write_blocked = false;
    uv_poll_stop(&c->poll);
    if (c->mute_open)
        uv_close((uv_handle_t *)&c->mute_timer, gb__conn_on_mute_close);
    uv_close((uv_handle_t *)&c->poll, gb__conn_on_close);
    gb_server *srv = c->srv;
    if (srv->stopping && !srv->conns && !uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, NULL);
}

/* A client broke the protocol, or the broker gave up on it: a warning. */
static void gb__conn_close(gb_conn *c, const char *why)
{
    gb__conn_close_at(c, GB_LOGGER_WARN, why);
}

/* The network failed under the connection (reset, broken pipe, timeout):
 * routine for a server, logged at debug as Kafka does. */
static void gb__conn_drop(gb_conn *c, const char *why)
{
    gb__conn_close_at(c, GB_LOGGER_DEBUG, why);
}

/* ---- writing ------------------------------------------------------------------- */

static bool gb__conn_paused(const gb_conn *c)
{
    return c->unsent > GB_CONN_MAX_UNSENT || c->nrequests >= GB_CONN_MAX_INFLIGHT || c->held > 0 || c->muted ||
           c->srv->queued_full;
}

static void gb__backlog_add(gb_conn *c)
{
    /* Stopping: nothing more is dispatched, and the idle handle is closed. */
    if (c->in_backlog || c->closing || c->srv->stopping)
        return;
    c->in_backlog = true;
    c->backlog_next = c->srv->backlog;
    c->srv->backlog = c;
    /* The idle handle keeps the loop from blocking while work is queued. */
    uv_idle_start(&c->srv->backlog_idle, gb__on_backlog);
}

static bool gb__request_written(const gb_request *req)
{
    return req->sent_mem == req->out_len && req->splice_idx == req->nsplices;
}

/* Where the memory bytes of req stop before its next splice. */
static size_t gb__request_cut(const gb_request *req)
{
    return req->splice_idx < req->nsplices ? req->splices[req->splice_idx].at : req->out_len;
}

/* Pop and free written responses at the head of the write queue. */
static void gb__conn_reap(gb_conn *c)
{
    while (c->wq_head && gb__request_written(c->wq_head)) {
        gb_request *req = c->wq_head;
        c->wq_head = req->next;
        if (!c->wq_head)
            c->wq_tail = NULL;
        gb__conn_request_free(req);
    }
}

/* Write as much of the write queue as the socket takes. */
static void gb__conn_write(gb_conn *c)
{
    bool was_paused = gb__conn_paused(c);
    while (c->wq_head && !c->closing) {
        struct iovec iov[GB_CONN_IOV];
        int n = 0;
        for (gb_request *req = c->wq_head; req && n < GB_CONN_IOV; req = req->next) {
            size_t cut = gb__request_cut(req);
            if (req->sent_mem < cut)
                iov[n++] = (struct iovec){req->out + req->sent_mem, cut - req->sent_mem};
            if (!(cut == req->out_len && req->splice_idx == req->nsplices))
                break; /* a splice comes next */
        }
        ssize_t w;
        if (n > 0) {
            w = writev(c->fd, iov, n);
            if (w > 0) {
                c->last_active = uv_now(c->srv->loop);
                size_t left = (size_t)w;
                for (gb_request *req = c->wq_head; req && left > 0; req = req->next) {
                    size_t cut = gb__request_cut(req);
                    size_t take = cut - req->sent_mem < left ? cut - req->sent_mem : left;
                    req->sent_mem += take;
                    req->wire_left -= (int64_t)take;
                    left -= take;
                }
            }
        } else {
            gb_request *req = c->wq_head;
            const gp_splice *s = &req->splices[req->splice_idx];
            off_t pos = (off_t)(s->pos + req->splice_sent);
            w = sendfile(c->fd, s->fd, &pos, (size_t)(s->len - req->splice_sent));
            if (w == 0) {
                gb__conn_close(c, "a log segment was shorter than its index said (response cut)");
                return;
            }
            if (w > 0) {
                c->last_active = uv_now(c->srv->loop);
                req->splice_sent += w;
                req->wire_left -= w;
                if (req->splice_sent == s->len) {
                    req->splice_idx++;
                    req->splice_sent = 0;
                }
            }
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->write_blocked = true;
                gb__conn_poll_update(c);
                return;
            }
            char why[128];
            snprintf(why, sizeof why, "write failed: %s", strerror(errno));
            gb__conn_drop(c, why);
            return;
        }
        c->unsent -= (size_t)w;
        gb__conn_reap(c);
    }
    if (c->closing)
        return;
    c->write_blocked = false;
    if (c->srv->stopping && c->nrequests == 0) {
        gb__conn_close(c, NULL);
        return;
    }
    gb__conn_poll_update(c);
    if (was_paused && !gb__conn_paused(c))
        gb__backlog_add(c);
}

/* Move every answered request at the head of the queue to the write queue. */
void gb__conn_flush(gb_conn *c)
{
    bool queued = false;
    while (c->head && c->head->state != GB_REQ_PENDING) {
        gb_request *req = c->head;
        c->head = req->next;
        if (!c->head)
            c->tail = NULL;
        req->next = NULL;
        if (req->state == GB_REQ_SILENT || c->closing) {
            /* A closed connection goes with its last request (an acks=all
             * produce answered after the client left): stop touching it. */
            bool last = c->closing && c->nrequests == 1 && !c->poll_open && !c->mute_open && !c->in_backlog;
            gb__conn_request_free(req);
            if (last)
                return;
            continue;
        }
        req->state = GB_REQ_WRITING;
        if (c->wq_tail)
            c->wq_tail->next = req;
        else
            c->wq_head = req;
        c->wq_tail = req;
        c->unsent += (size_t)req->wire_left;
        queued = true;
    }
    if (queued && !c->write_blocked)
        gb__conn_write(c);
}

gb_request *gb_conn_new_request(gb_conn *c)
{
    gb_request *req = gb__request_new(c);
    gb_server *srv = c->srv;
    /* queued.max.request.bytes counts the frame once, against its first request. */
    req->queued = srv->dispatch_len;
    srv->dispatch_len = 0;
    srv->queued += req->queued;
    if (srv->queued_max > 0 && (int64_t)srv->queued >= srv->queued_max)
        srv->queued_full = true;
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

void gb__conn_hold(gb_conn *c)
{
    c->held++;
}

void gb__conn_resume(gb_conn *c)
{
    if (--c->held == 0 && !gb__conn_paused(c))
        gb__backlog_add(c); /* what was read meanwhile is dispatched from the loop */
}

static void gb__conn_on_unmute(uv_timer_t *t)
{
    gb_conn *c = t->data;
    c->muted = false;
    if (!gb__conn_paused(c))
        gb__backlog_add(c); /* what was read meanwhile is dispatched from the loop */
}

/* KIP-219: a client over its quota is answered at once, with the throttle
 * time in the response, and then not read from for that long (Kafka mutes
 * the channel). Responses still go out. A second mute while one runs
 * keeps the later end. */
void gb__conn_mute(gb_conn *c, uint64_t ms)
{
    if (c->closing || ms == 0)
        return;
    if (!c->mute_open) {
        uv_timer_init(c->srv->loop, &c->mute_timer);
        c->mute_timer.data = c;
        c->mute_open = true;
    }
    if (c->muted && uv_timer_get_due_in(&c->mute_timer) >= ms)
        return;
    c->muted = true;
    uv_timer_start(&c->mute_timer, gb__conn_on_unmute, ms, 0);
}

bool gb__conn_closing(const gb_conn *c)
{
    return c->closing;
}

void gb__conn_advertised(const gb_conn *c, const char **host, int *port)
{
    const gb_listener *l = c->listener;
    *host = l->adv_host;
    *port = l->adv_port ? l->adv_port : l->bound_port;
}

/* ---- reading -------------------------------------------------------------------- */

static void gb__conn_update_reading(gb_conn *c)
{
    c->reading = !c->closing && !c->srv->stopping && !gb__conn_paused(c) && !c->in_backlog;
    gb__conn_poll_update(c);
}

/* Check a frame's size field before anything is reserved for it. */
static int gb__frame_size(gb_conn *c, const uint8_t *p, size_t *size)
{
    int32_t n = (int32_t)gu_be32(p);
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
    c->srv->dispatch_len = len;
    int rc = c->srv->on_frame(c->srv->on_frame_arg, c, data, len, frame, &why);
    c->srv->dispatch_len = 0;
    if (rc < 0)
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
                c->frame = gu_malloc(size);
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

/* Linux counts a connection that answers soon after it receives as
 * interactive and holds its ACKs back to ride on the answers; it also holds
 * them while unread bytes keep the window from moving. While the loop handles
 * one large Produce, the next one's bytes arrive unread, and the client's
 * socket keeps megabytes of sent but unacknowledged bytes: memory the client
 * holds per message in flight, which made a client-bound producer measurably
 * slower (ARCHITECTURE.md, section 10). Leaving that mode after each read of
 * a large frame lets the kernel acknowledge at once. Small requests keep
 * delayed ACKs riding on their answers. */
static void gb__conn_ack_now(gb_conn *c)
{
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

/* One read per wake-up: level-triggered polling brings us back for more,
 * after the other connections had their turn. */
static void gb__conn_read(gb_conn *c)
{
    uint8_t *buf;
    size_t room;
    if (c->frame) {
        buf = c->frame + c->frame_have;
        room = c->frame_len - c->frame_have;
    } else {
        buf = c->rbuf + c->rlen;
        room = GB_CONN_RBUF - c->rlen;
    }
    ssize_t n = read(c->fd, buf, room);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char why[128];
        snprintf(why, sizeof why, "read failed: %s", strerror(errno));
        gb__conn_drop(c, why);
        return;
    }
    c->last_active = uv_now(c->srv->loop);
    if (n == 0) {
        if (c->frame || c->rlen > c->rpos)
            gb__conn_close(c, "connection closed by the client in the middle of a request");
        else
            gb__conn_close(c, NULL);
        return;
    }
    if (c->frame) {
        gb__conn_ack_now(c);
        c->frame_have += (size_t)n;
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
    c->rlen += (size_t)n;
    gb__conn_pump(c);
}

static void gb__on_poll(uv_poll_t *p, int status, int events)
{
    gb_conn *c = p->data;
    if (status < 0) {
        /* uv_poll reports any POLLERR as EBADF: the socket knows better. */
        int soerr = 0;
        socklen_t len = sizeof soerr;
        char why[128];
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0)
            snprintf(why, sizeof why, "socket error: %s", strerror(soerr));
        else
            snprintf(why, sizeof why, "socket error: %s", uv_strerror(status));
        gb__conn_drop(c, why);
        return;
    }
    if ((events & UV_WRITABLE) && c->write_blocked) {
        c->write_blocked = false;
        gb__conn_write(c);
    }
    if ((events & UV_READABLE) && c->reading && !c->closing)
        gb__conn_read(c);
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

/* ---- new connections -------------------------------------------------------------- */

static void gb__format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, len, "%s:%d", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, len, "[%s]:%d", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "?");
    }
}

/* The peer's address as the key of its counts and quotas: IPv4 in dotted
 * form also when it arrived on a dual-stack socket (::ffff:a.b.c.d), as
 * Java's InetAddress presents it to Kafka. */
static void gb__ip_key(const struct sockaddr *sa, char *out, size_t len)
{
    snprintf(out, len, "?");
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)len);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)len);
    }
}

/* An address written by a person (an override's host) in the same form as
 * gb__ip_key, or false if it is not an IP address. */
static bool gb__ip_normalize(const char *text, char *out, size_t len)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        return false;
    gb__ip_key((struct sockaddr *)&ss, out, len);
    return true;
}

static gb_ip_count **gb__ip_slot(gb_server *srv, const char *ip)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = ip; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    gb_ip_count **pp = &srv->ip_counts[h % GB_IP_BUCKETS];
    while (*pp && strcmp((*pp)->ip, ip) != 0)
        pp = &(*pp)->next;
    return pp;
}

static int64_t gb__ip_open(gb_server *srv, const char *ip)
{
    gb_ip_count *e = *gb__ip_slot(srv, ip);
    return e ? e->count : 0;
}

static void gb__ip_hold(gb_server *srv, const char *ip)
{
    gb_ip_count **pp = gb__ip_slot(srv, ip);
    if (!*pp) {
        *pp = gu_calloc(1, sizeof **pp);
        snprintf((*pp)->ip, sizeof (*pp)->ip, "%s", ip);
    }
    (*pp)->count++;
}

static void gb__ip_release(gb_server *srv, const char *ip)
{
    gb_ip_count **pp = gb__ip_slot(srv, ip);
    gb_ip_count *e = *pp;
    if (!e)
        return;
    if (--e->count <= 0) {
        *pp = e->next;
        free(e);
    }
}

typedef struct gb__overrides_ctx {
    gb_server *srv;
    bool resolve; /* host names too (startup only: getaddrinfo blocks) */
    char *err;
    size_t errlen;
} gb__overrides_ctx;

static void gb__override_add(gb_server *srv, const char *ip, int32_t max)
{
    srv->overrides = gu_realloc(srv->overrides, (srv->noverrides + 1) * sizeof *srv->overrides);
    gb_ip_limit *o = &srv->overrides[srv->noverrides++];
    snprintf(o->ip, sizeof o->ip, "%s", ip);
    o->max = max;
}

/* One "host:count" of max.connections.per.ip.overrides. */
static int gb__override_item(void *ud, const char *item, size_t len)
{
    gb__overrides_ctx *ctx = ud;
    char buf[300], ip[GB_IP_TEXT];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), item);
    char *colon = strrchr(buf, ':');
    char *end = NULL;
    long n = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == buf || colon[1] == '\0' || *end != '\0' || n < 0 || n > INT32_MAX) {
        snprintf(ctx->err, ctx->errlen,
                 "Invalid value %s for configuration max.connections.per.ip.overrides: '%s' is not host:count",
                 ctx->srv->cfg->max_connections_per_ip_overrides, buf);
        return -1;
    }
    *colon = '\0';
    char *host = buf;
    while (*host == ' ')
        host++;
    for (char *t = host + strlen(host); t > host && t[-1] == ' ';)
        *--t = '\0';
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        host++;
    }
    if (gb__ip_normalize(host, ip, sizeof ip)) {
        gb__override_add(ctx->srv, ip, (int32_t)n);
        return 0;
    }
    if (strcasecmp(host, "localhost") == 0) {
        gb__override_add(ctx->srv, "127.0.0.1", (int32_t)n);
        gb__override_add(ctx->srv, "::1", (int32_t)n);
        return 0;
    }
    if (!ctx->resolve) {
        GB_LOG_RATELIMITED(GB_LOGGER_WARN, GB_LOG_EVERY_MS,
                           "max.connections.per.ip.overrides: host name '%s' ignored (a value set at run time "
                           "takes IP addresses and localhost; names are resolved at startup only)",
                           host);
        return 0;
    }
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    int grc = getaddrinfo(host, NULL, &hints, &res);
    if (grc != 0) {
        snprintf(ctx->err, ctx->errlen, "max.connections.per.ip.overrides: cannot resolve '%s': %s", host,
                 gai_strerror(grc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        gb__ip_key(ai->ai_addr, ip, sizeof ip);
        gb__override_add(ctx->srv, ip, (int32_t)n);
    }
    freeaddrinfo(res);
    return 0;
}

static int gb__each_item(const char *list, int (*fn)(void *, const char *, size_t), void *ud);

/* Parse max.connections.per.ip.overrides into srv->overrides. At startup
 * an error stops the broker (Kafka's validation); a value set at run time
 * keeps the items that parse, with a warning. */
static int gb__overrides_load(gb_server *srv, bool resolve, char *err, size_t errlen)
{
    const char *text = srv->cfg->max_connections_per_ip_overrides ? srv->cfg->max_connections_per_ip_overrides : "";
    free(srv->overrides_text);
    srv->overrides_text = gu_strdup(text);
    free(srv->overrides);
    srv->overrides = NULL;
    srv->noverrides = 0;
    char e[512];
    gb__overrides_ctx ctx = {srv, resolve, err ? err : e, err ? errlen : sizeof e};
    if (gb__each_item(text, gb__override_item, &ctx) < 0) {
        if (err)
            return -1;
        GB_LOG_RATELIMITED(GB_LOGGER_WARN, GB_LOG_EVERY_MS, "%s", e);
    }
    return 0;
}

/* max.connections.per.ip for ip: its override, else the default. Both
 * keys may change at run time (dynamic broker configs). */
static int64_t gb__ip_max(gb_server *srv, const char *ip)
{
    const char *text = srv->cfg->max_connections_per_ip_overrides ? srv->cfg->max_connections_per_ip_overrides : "";
    if (!srv->overrides_text || strcmp(srv->overrides_text, text) != 0)
        gb__overrides_load(srv, false, NULL, 0);
    for (size_t i = 0; i < srv->noverrides; i++)
        if (strcmp(srv->overrides[i].ip, ip) == 0)
            return srv->overrides[i].max;
    return srv->cfg->max_connections_per_ip;
}

static void gb__conn_start(gb_listener *l, int fd, const struct sockaddr *sa, const char *ip)
{
    gb_server *srv = l->srv;
    gb_conn *c = gu_calloc(1, sizeof *c);
    c->rbuf = gu_malloc(GB_CONN_RBUF);
    c->fd = fd;
    c->srv = srv;
    c->listener = l;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    gb__format_addr(sa, c->addr, sizeof c->addr);
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    snprintf(c->peer, sizeof c->peer, "%s", c->addr);
    if (uv_poll_init_socket(srv->loop, &c->poll, fd) < 0) {
        GB_LOG_RATELIMITED(GB_LOGGER_WARN, GB_LOG_EVERY_MS, "cannot watch connection from %s", c->addr);
        close(fd);
        free(c->rbuf);
        free(c);
        return;
    }
    c->poll.data = c;
    c->poll_open = true;
    c->last_active = uv_now(srv->loop);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    gb__ip_hold(srv, c->ip);
    gb_logger_debug("connection from %s on %s", c->addr, l->name);
    gb__conn_update_reading(c);
}

/* ---- pausing the listeners ------------------------------------------------------ */

static void gb__listeners_poll(gb_server *srv, bool on)
{
    if (srv->accepting == on)
        return;
    srv->accepting = on;
    for (int i = 0; i < srv->nlisteners; i++)
        for (int k = 0; k < srv->listeners[i].nfd; k++) {
            if (on)
                uv_poll_start(&srv->listeners[i].poll[k], UV_READABLE, gb__on_accept);
            else
                uv_poll_stop(&srv->listeners[i].poll[k]);
        }
}

static void gb__on_accept_timer(uv_timer_t *t)
{
    gb__accept_update(t->data);
}

/* May a connection be accepted now? Not while descriptors are exhausted
 * (until one is freed or the backoff passes), the broker-wide creation
 * rate is throttled, or max.connections are open. */
static bool gb__accept_open(gb_server *srv, uint64_t *wake)
{
    uint64_t now = uv_now(srv->loop);
    bool open = !srv->stopping;
    *wake = 0;
    if (srv->fd_exhausted) {
        if (now >= srv->fd_retry_at) {
            srv->fd_exhausted = false;
        } else {
            open = false;
            *wake = srv->fd_retry_at;
        }
    }
    if (srv->throttle_until > now) {
        open = false;
        if (srv->throttle_until > *wake)
            *wake = srv->throttle_until;
    }
    if ((int64_t)srv->nconns >= (int64_t)srv->cfg->max_connections)
        open = false; /* a close, or the idle timer after a raise, looks again */
    return open;
}

/* Poll the listening sockets or not, as gb__accept_open says; arm the
 * timer that ends a timed pause. */
static void gb__accept_update(gb_server *srv)
{
    if (srv->stopping)
        return;
    uint64_t wake;
    bool open = gb__accept_open(srv, &wake);
    gb__listeners_poll(srv, open);
    if (wake) {
        uint64_t now = uv_now(srv->loop);
        uv_timer_start(&srv->accept_timer, gb__on_accept_timer, wake > now ? wake - now : 0, 0);
    }
}

/* accept failed for want of descriptors or memory: the pending connection
 * stays queued and the listening socket stays readable, so polling it
 * would spin. Stop until a connection closes or the backoff passes. */
static void gb__accept_exhausted(gb_listener *l, int err)
{
    gb_server *srv = l->srv;
    uint64_t b = srv->fd_backoff_ms * 2;
    srv->fd_backoff_ms = b < GB_ACCEPT_BACKOFF_MIN_MS   ? GB_ACCEPT_BACKOFF_MIN_MS
                         : b > GB_ACCEPT_BACKOFF_MAX_MS ? GB_ACCEPT_BACKOFF_MAX_MS
                                                        : b;
    srv->fd_exhausted = true;
    srv->fd_retry_at = uv_now(srv->loop) + srv->fd_backoff_ms;
    GB_LOG_RATELIMITED(GB_LOGGER_WARN, GB_LOG_EVERY_MS,
                       "accept on %s failed: %s; not accepting until a connection closes or %llu ms pass "
                       "(%zu connections open)",
                       l->name, strerror(err), (unsigned long long)srv->fd_backoff_ms, srv->nconns);
    gb__accept_update(srv);
}

/* ---- delayed closes (an IP over its connection creation rate) -------------------- */

static void gb__on_delayed_close(uv_timer_t *t)
{
    gb_server *srv = t->data;
    uint64_t now = uv_now(srv->loop), next = 0;
    bool freed = false;
    for (gb_delayed_close **pp = &srv->delayed; *pp;) {
        gb_delayed_close *d = *pp;
        if (d->at <= now) {
            close(d->fd);
            *pp = d->next;
            free(d);
            freed = true;
            continue;
        }
        if (!next || d->at < next)
            next = d->at;
        pp = &d->next;
    }
    if (next)
        uv_timer_start(&srv->delayed_timer, gb__on_delayed_close, next - now, 0);
    if (freed) {
        srv->fd_exhausted = false;
        gb__accept_update(srv);
    }
}

static void gb__delay_close(gb_server *srv, int fd, int32_t ms)
{
    gb_delayed_close *d = gu_malloc(sizeof *d);
    d->fd = fd;
    d->at = uv_now(srv->loop) + (uint64_t)ms;
    d->next = srv->delayed;
    srv->delayed = d;
    uint64_t due = uv_timer_get_due_in(&srv->delayed_timer);
    if (!uv_is_active((uv_handle_t *)&srv->delayed_timer) || due > (uint64_t)ms)
        uv_timer_start(&srv->delayed_timer, gb__on_delayed_close, (uint64_t)ms, 0);
}

/* ---- idle connections -------------------------------------------------------------- */

/* Every tick: close connections idle for connections.max.idle.ms (Kafka's
 * Selector closes them the same way, at debug), and look again whether
 * accepting may resume (max.connections may have been raised). */
static void gb__on_idle_timer(uv_timer_t *t)
{
    gb_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    if (srv->idle_ms >= 0) {
        gb_conn *c = srv->conns;
        while (c) {
            gb_conn *next = c->next;
            if (!c->closing && c->nrequests == 0 && now - c->last_active >= (uint64_t)srv->idle_ms) {
                char why[96];
                snprintf(why, sizeof why, "idle for %llu ms (connections.max.idle.ms)",
                         (unsigned long long)(now - c->last_active));
                gb__conn_drop(c, why);
            }
            c = next;
        }
    }
    gb__accept_update(srv);
}

/* ---- accepting ------------------------------------------------------------------- */

/* A connection accept4 returned: the rates (admit callback), the per-IP
 * limit, then served. */
static void gb__accept_one(gb_listener *l, int fd, const struct sockaddr *sa)
{
    gb_server *srv = l->srv;
    char ip[GB_IP_TEXT];
    gb__ip_key(sa, ip, sizeof ip);
    if (srv->admit) {
        int32_t delay = 0;
        int32_t ms = srv->admit(srv->admit_arg, ip, (int64_t)uv_now(srv->loop), &delay);
        if (delay > 0) {
            gb_logger_debug("max.connection.creation.rate reached: accepting nothing for %d ms", (int)delay);
            srv->throttle_until = uv_now(srv->loop) + (uint64_t)delay;
        }
        if (ms > 0) {
            gb_logger_debug("delaying the close of the connection from %s by %d ms (connection_creation_rate)", ip,
                            (int)ms);
            gb__delay_close(srv, fd, ms);
            return;
        }
    }
    int64_t max = gb__ip_max(srv, ip);
    if (gb__ip_open(srv, ip) >= max) {
        GB_LOG_RATELIMITED(GB_LOGGER_INFO, GB_LOG_EVERY_MS,
                           "rejected connection from %s: the address already has the configured maximum of %lld "
                           "connections (max.connections.per.ip)",
                           ip, (long long)max);
        close(fd);
        return;
    }
    gb__conn_start(l, fd, sa, ip);
}

static void gb__on_accept(uv_poll_t *p, int status, int events)
{
    (void)events;
    gb_listener *l = p->data;
    gb_server *srv = l->srv;
    int lfd = -1;
    for (int i = 0; i < l->nfd; i++)
        if (&l->poll[i] == p)
            lfd = l->fd[i];
    if (status < 0 || lfd < 0)
        return;
    for (int k = 0; k < GB_ACCEPT_BURST; k++) {
        uint64_t wake;
        if (!gb__accept_open(srv, &wake))
            break;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED)
                continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                gb__accept_exhausted(l, err);
                return;
            }
            if (err != EAGAIN && err != EWOULDBLOCK)
                GB_LOG_RATELIMITED(GB_LOGGER_WARN, GB_LOG_EVERY_MS, "accept on %s failed: %s", l->name,
                                   strerror(err));
            break;
        }
        srv->fd_backoff_ms = 0;
        gb__accept_one(l, fd, (struct sockaddr *)&ss);
    }
    gb__accept_update(srv);
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
    const gc_config *cfg = srv->cfg;
    char name[64], host[256], proto[64];
    int port;
    if (gb__parse_endpoint(item, len, name, sizeof name, host, sizeof host, &port, ctx->err, ctx->errlen) < 0)
        return -1;
    if (gb__list_has(cfg->controller_listener_names, name)) {
        gb_logger_info("ignoring controller listener %s: a single Gregor node has no controller quorum", name);
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
    if (gb__list_has(srv->cfg->controller_listener_names, name))
        return 0;
    snprintf(ctx->err, ctx->errlen, "advertised.listeners: %s is not one of the listeners", name);
    return -1;
}

static int gb__bind_one(gb_listener *l, const struct sockaddr *sa, socklen_t salen, bool v6only, char *err,
                        size_t errlen)
{
    char addr[80];
    gb__format_addr(sa, addr, sizeof addr);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, v6 = v6only ? 1 : 0, rc = 0;
    if (fd < 0) {
        rc = -errno;
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (sa->sa_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
        if (bind(fd, sa, salen) < 0 || listen(fd, 511) < 0)
            rc = -errno;
    }
    if (rc == 0 && uv_poll_init_socket(l->srv->loop, &l->poll[l->nfd], fd) < 0)
        rc = -EINVAL;
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s (listener %s): %s", addr, l->name, strerror(-rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    l->poll[l->nfd].data = l;
    uv_poll_start(&l->poll[l->nfd], UV_READABLE, gb__on_accept);
    l->fd[l->nfd++] = fd;
    if (!l->bound_port) {
        struct sockaddr_storage ss;
        socklen_t n = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &n);
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
        if (gb__bind_one(l, (struct sockaddr *)&any6, sizeof any6, false, err, errlen) == 0)
            return 0; /* dual-stack */
        struct sockaddr_in any4;
        uv_ip4_addr("0.0.0.0", l->port, &any4);
        return gb__bind_one(l, (struct sockaddr *)&any4, sizeof any4, false, err, errlen);
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
    for (struct addrinfo *ai = res; ai && l->nfd < GB_MAX_BINDS; ai = ai->ai_next) {
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
        int r = gb__bind_one(l, ai->ai_addr, ai->ai_addrlen, ai->ai_family == AF_INET6, e2, sizeof e2);
        if (r < 0) {
            /* A second address family the machine lacks is not an error. */
            if (l->nfd > 0 && (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT))
                continue;
            snprintf(err, errlen, "%s", e2);
            rc = -1;
            break;
        }
    }
    freeaddrinfo(res);
    if (rc == 0 && l->nfd == 0) {
        snprintf(err, errlen, "listener host '%s' (%s) has no IPv4 or IPv6 address", l->host, l->name);
        rc = -1;
    }
    return rc;
}

int gb_server_start(gb_server **out, uv_loop_t *loop, const gc_config *cfg, gb_frame_fn on_frame, void *arg,
                    char *err, size_t errlen)
{
    gb_server *srv = gu_calloc(1, sizeof *srv);
    *out = srv;
    srv->cfg = cfg;
    srv->on_frame = on_frame;
    srv->on_frame_arg = arg;
    srv->loop = loop;
    srv->max_request = (uint32_t)cfg->socket_request_max_bytes;
    uv_idle_init(srv->loop, &srv->backlog_idle);
    srv->backlog_idle.data = srv;
    uv_timer_init(srv->loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    uv_timer_init(srv->loop, &srv->accept_timer);
    srv->accept_timer.data = srv;
    uv_timer_init(srv->loop, &srv->delayed_timer);
    srv->delayed_timer.data = srv;
    uv_timer_init(srv->loop, &srv->idle_timer);
    srv->idle_timer.data = srv;
    srv->accepting = true; /* gb__bind_one polls each listening socket */
    signal(SIGPIPE, SIG_IGN);

    /* Kafka's checks of the connection keys (KafkaConfig.validateValues). */
    srv->queued_max = cfg->queued_max_request_bytes;
    if (srv->queued_max > 0 && srv->queued_max < cfg->socket_request_max_bytes) {
        snprintf(err, errlen, "queued.max.request.bytes must be larger or equal to socket.request.max.bytes");
        return -1;
    }
    if (gb__overrides_load(srv, true, err, errlen) < 0)
        return -1;
    if (cfg->max_connections_per_ip == 0 && srv->noverrides == 0) {
        snprintf(err, errlen,
                 "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set.");
        return -1;
    }
    srv->idle_ms = cfg->connections_max_idle_ms;
    uint64_t tick = srv->idle_ms < 0 ? 1000 : (uint64_t)srv->idle_ms / 4;
    tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    uv_timer_start(&srv->idle_timer, gb__on_idle_timer, tick, tick);

    gb__parse_ctx ctx = {srv, err, errlen};
    if (gb__each_item(cfg->listeners, gb__add_listener, &ctx))
        return -1;
    if (srv->nlisteners == 0) {
        snprintf(err, errlen, "listeners: no listener configured");
        return -1;
    }
    if (cfg->advertised_listeners && gb__each_item(cfg->advertised_listeners, gb__add_advertised, &ctx))
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

void gb_server_set_admit(gb_server *srv, gb_admit_fn fn, void *arg)
{
    srv->admit = fn;
    srv->admit_arg = arg;
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
        for (int k = 0; k < srv->listeners[i].nfd; k++) {
            uv_close((uv_handle_t *)&srv->listeners[i].poll[k], NULL);
            close(srv->listeners[i].fd[k]);
        }
    uv_close((uv_handle_t *)&srv->backlog_idle, NULL);
    uv_close((uv_handle_t *)&srv->accept_timer, NULL);
    uv_close((uv_handle_t *)&srv->delayed_timer, NULL);
    uv_close((uv_handle_t *)&srv->idle_timer, NULL);
    while (srv->delayed) {
        gb_delayed_close *d = srv->delayed;
        srv->delayed = d->next;
        close(d->fd);
        free(d);
    }
    /* Empty the backlog; closed connections on it are freed here. */
    gb_conn *bl = srv->backlog;
    srv->backlog = NULL;
    while (bl) {
        gb_conn *next = bl->backlog_next;
        bl->in_backlog = false;
        gb__conn_free_if_done(bl);
        bl = next;
    }
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
    if (!srv)
        return;
    for (size_t i = 0; i < GB_IP_BUCKETS; i++)
        while (srv->ip_counts[i]) {
            gb_ip_count *e = srv->ip_counts[i];
            srv->ip_counts[i] = e->next;
            free(e);
        }
    free(srv->overrides);
    free(srv->overrides_text);
    free(srv);
}
