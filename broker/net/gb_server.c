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
};

static void gb__conn_close(gb_conn *c, const char *why);
static void gb__conn_pump(gb_conn *c);
static void gb__conn_write(gb_conn *c);
static void gb__on_backlog(uv_idle_t *idle);
static void gb__on_poll(uv_poll_t *p, int status, int events);

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
    close(c->fd);
    c->fd = -1;
    c->poll_open = false;
    gb__conn_free_if_done(c);
}

static void gb__conn_on_mute_close(uv_handle_t *h)
{
    gb_conn *c = h->data;
    c->mute_open = false;
    gb__conn_free_if_done(c);
}

/* Free a request (gb_request.c runs its cleanups) and maybe its connection. */
static void gb__conn_request_free(gb_request *req)
{
    gb_conn *c = req->conn;
    gb__request_free(req);
    c->nrequests--;
    gb__conn_free_if_done(c);
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

/* Close a connection: log why (NULL for an orderly end), drop what was not
 * answered yet. Requests whose handler has not answered stay until it does
 * (gb_request_orphaned tells it). */
static void gb__conn_close(gb_conn *c, const char *why)
{
    if (c->closing)
        return;
    if (why)
        gb_logger_warn("closing connection from %s: %s", c->peer, why);
    else
        gb_logger_debug("connection from %s closed", c->peer);
    c->closing = true;
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

/* ---- writing ------------------------------------------------------------------- */

static bool gb__conn_paused(const gb_conn *c)
{
    return c->unsent > GB_CONN_MAX_UNSENT || c->nrequests >= GB_CONN_MAX_INFLIGHT || c->held > 0 || c->muted;
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
            gb__conn_close(c, why);
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
    if (c->srv->on_frame(c->srv->on_frame_arg, c, data, len, frame, &why) < 0)
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
        gb__conn_close(c, why);
        return;
    }
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
        gb__conn_close(c, why);
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

/* ---- accepting -------------------------------------------------------------------- */

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

static void gb__conn_start(gb_listener *l, int fd, const struct sockaddr *sa)
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
    snprintf(c->peer, sizeof c->peer, "%s", c->addr);
    if (uv_poll_init_socket(srv->loop, &c->poll, fd) < 0) {
        gb_logger_warn("cannot watch connection from %s", c->addr);
        close(fd);
        free(c->rbuf);
        free(c);
        return;
    }
    c->poll.data = c;
    c->poll_open = true;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    gb_logger_debug("connection from %s on %s", c->addr, l->name);
    gb__conn_update_reading(c);
}

static void gb__on_accept(uv_poll_t *p, int status, int events)
{
    (void)events;
    gb_listener *l = p->data;
    int lfd = -1;
    for (int i = 0; i < l->nfd; i++)
        if (&l->poll[i] == p)
            lfd = l->fd[i];
    if (status < 0 || lfd < 0)
        return;
    for (int k = 0; k < GB_ACCEPT_BURST; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                gb_logger_warn("accept on %s failed: %s", l->name, strerror(errno));
            return;
        }
        gb__conn_start(l, fd, (struct sockaddr *)&ss);
    }
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
    signal(SIGPIPE, SIG_IGN);

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
    free(srv);
}
