/*
 * The broker's connection path end to end: a real broker listening on
 * 127.0.0.1 with an ephemeral port, started once per process, and per input
 * one TCP connection that carries the input as a byte stream (any number of
 * frames, well-formed or not).
 *
 * Why TCP and not a socketpair: the server accepts through its listener and
 * needs no hook, so what is fuzzed is exactly what runs in production (accept,
 * peer name, framing, dispatch, handlers, ordered writes, flow control,
 * close). A client socket costs a connect and an accept per input; closing it
 * with SO_LINGER 0 leaves no TIME_WAIT behind, so ports are not exhausted.
 *
 * How an input is delivered, decided by a hash of its bytes so that a crash
 * reproduces from the file alone:
 *  - in one write, or in chunks (sizes 1..4096, at most 64 chunks) with the
 *    loop run between them, so frames arrive split at arbitrary points;
 *  - an orderly client (3 inputs in 4): writes everything, shuts its write
 *    side, reads every response until the broker closes;
 *  - a vanishing client (1 in 4): never reads, and after a number of loop
 *    turns (0..63) resets the connection, wherever the broker is.
 * Either way the loop then runs until the broker's connection handle is gone
 * and no deferred work is left (the loop's handles, and its active ones, are
 * back to the idle server's), with a 10 s deadline: a broker that neither
 * answers nor closes is a hang and aborts. What the orderly client received
 * is then checked against what it sent (fz_check_responses).
 *
 * The broker starts as main.c starts it (gb_broker_start: topics, flusher,
 * listeners) on a temporary data directory, gregor-fuzz-<pid>-* in $TMPDIR,
 * else /dev/shm when there is one, else /tmp (removed at exit, or after a
 * crash by the next fuzz_frames), with one topic "fuzz" of 2 partitions for
 * Produce and Fetch to reach a real log. Its state carries over from input
 * to input, so it is kept small and bounded: after each input the topics
 * are put back as they were (fz_reset_topics); no auto-created topics,
 * 1 MiB segments, 8 MiB retained per partition, checked every second;
 * acks=all does not wait for fsync; socket.request.max.bytes is 1 MiB (the
 * default 100 MiB makes every "huge frame" input a 100 MiB allocation). A
 * Fetch parked for max_wait_ms may outlive its connection, as in Kafka:
 * timers an input started get up to 300 ms to fire, then the next input
 * runs. The broker logs only errors (GREGOR_LOG_LEVEL=debug shows its log
 * when reproducing a crash).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "broker/core/gb_broker.h"
#include "broker/gb_lifecycle.h"
#include "broker/base/gb_logger.h"
#include "broker/net/gb_server.h"
#include "broker/core/gb_dynconf.h"
#include "broker/core/gb_topics.h"
#include "fuzz_common.h"
#include "protocol/gp_header.h"

#define FZ_DEADLINE_NS (10ull * 1000 * 1000 * 1000)
#define FZ_MAX_CHUNKS 64
#define FZ_TIMER_GRACE_NS (300ull * 1000 * 1000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_handles {
    unsigned all, active; /* handles other than timers */
    unsigned timers;      /* timers, active or not */
} fz_handles;

static uv_loop_t fz_loop;
static gc_config fz_cfg;
static gb_broker fz_broker;
static char fz_dir[256];
static int fz_port;
static fz_handles fz_baseline; /* the idle broker's own (timers aside) */

/* The loop's handles: when the non-timer ones (and how many are active)
 * are back to what the idle broker has, the connection is gone and no
 * deferred work for it (the backlog idle handle) is pending. Timers are
 * counted apart: a parked Fetch holds one until its max_wait_ms, which the
 * input chooses. */
static void fz_walk_count(uv_handle_t *h, void *arg)
{
    fz_handles *n = arg;
    if (uv_handle_get_type(h) == UV_TIMER) {
        n->timers++;
        return;
    }
    n->all++;
    if (uv_is_active(h))
        n->active++;
}

static fz_handles fz_handle_count(void)
{
    fz_handles n = {0, 0, 0};
    uv_walk(&fz_loop, fz_walk_count, &n);
    return n;
}

static int fz_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Remove the temporary data directory and everything the broker put there. */
static void fz_cleanup(void)
{
    nftw(fz_dir, fz_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fuzzer that crashed or was killed ran no atexit handler: remove the data
 * directories (gregor-fuzz-<pid>-*) of processes that no longer exist. */
static void fz_remove_stale(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid;
        if (sscanf(e->d_name, "gregor-fuzz-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        nftw(path, fz_remove, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static void fz_create_topic(void)
{
    gb_topic *topic;
    int16_t kafka_error;
    char err[512];
    if (gb_topic_create(&fz_broker, "fuzz", 4, 2, NULL, 0, false, &topic, &kafka_error, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_frames: creating topic 'fuzz': %s\n", err);
        abort();
    }
}

/* Put the topics back as the input found them: "fuzz" with 2 partitions and
 * no overrides, nothing else (internal topics aside). Inputs create, delete,
 * grow and reconfigure topics; without this the data directory and the
 * broker's memory would grow with every input, and inputs would see each
 * other's topics. */
static void fz_reset_topics(void)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    size_t n;
    gb_topic **all = gb_topics_list(&fz_broker, &a, &n);
    bool keep = false;
    for (size_t i = 0; i < n; i++) {
        gb_topic *t = all[i];
        if (t->internal)
            continue;
        if (t->name_len == 4 && memcmp(t->name, "fuzz", 4) == 0 && t->npartitions == 2 && t->noverrides == 0) {
            keep = true;
            continue;
        }
        gb_topic_delete(&fz_broker, t);
    }
    gp_arena_reset(&a, NULL, 0);
    if (!keep)
        fz_create_topic();
}

static int fz_log_level; /* as set at the start */

static void fz_nothing(void *arg)
{
    (void)arg;
}

/* AlterConfigs may have changed the broker's dynamic configs or its log
 * level: back to the start's, so that inputs do not see each other's. */
static void fz_reset_configs(void)
{
    for (int level = GB_DYN_DEFAULT; level <= GB_DYN_NODE; level++)
        if (gb_dynconf_count(&fz_broker, level) > 0)
            gb_dynconf_replace(&fz_broker, level, NULL, 0, fz_nothing, NULL);
    gb_logger_level = fz_log_level;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gb_logger_level = GB_LOGGER_ERROR;
    gb_logger_init_from_env();
    fz_log_level = gb_logger_level;

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    fz_remove_stale(tmp);
    snprintf(fz_dir, sizeof fz_dir, "%s/gregor-fuzz-%d-XXXXXX", tmp, (int)getpid());
    if (!mkdtemp(fz_dir)) {
        perror("fuzz_frames: mkdtemp");
        abort();
    }
    atexit(fz_cleanup);

    char log_dirs[300];
    snprintf(log_dirs, sizeof log_dirs, "log.dirs=%s", fz_dir);
    char *overrides[] = {
        "listeners=PLAINTEXT://127.0.0.1:0",
        log_dirs,
        "socket.request.max.bytes=1048576",
        "auto.create.topics.enable=false",
        "log.segment.bytes=1048576",
        "log.retention.bytes=8388608",
        "log.retention.check.interval.ms=1000",
        "gregor.acks.all.fsync=false",
    };
    char err[1024];
    int noverrides = (int)(sizeof overrides / sizeof overrides[0]);
    if (gc_config_load(&fz_cfg, NULL, NULL, noverrides, overrides, NULL, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_frames: configuration: %s\n", err);
        abort();
    }
    if (uv_loop_init(&fz_loop) != 0)
        abort();
    fz_broker.loop = &fz_loop;
    fz_broker.cfg = &fz_cfg;
    fz_broker.data_dir = gc_config_log_dir(&fz_cfg);
    if (gs_meta_load_or_create(fz_broker.data_dir, fz_cfg.node_id, &fz_broker.meta, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_frames: data directory: %s\n", err);
        abort();
    }
    if (gb_broker_start(&fz_broker, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_frames: %s\n", err);
        abort();
    }
    fz_create_topic();
    const char *desc = gb_server_describe(fz_broker.server);
    const char *p = strstr(desc, "127.0.0.1:");
    fz_port = p ? atoi(p + strlen("127.0.0.1:")) : 0;
    if (fz_port <= 0) {
        fprintf(stderr, "fuzz_frames: no port in '%s'\n", desc);
        abort();
    }
    uv_run(&fz_loop, UV_RUN_NOWAIT);
    fz_baseline = fz_handle_count();
    return 0;
}

static uint64_t fz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int fz_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("fuzz_frames: socket");
        abort();
    }
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)fz_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* On loopback the kernel completes the handshake through the listen
     * backlog; the broker accepts on a later loop turn. Non-blocking, and
     * waited for with poll, so that libFuzzer's SIGALRM (its -timeout
     * watchdog) cannot interrupt it halfway. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS && errno != EINTR) {
        perror("fuzz_frames: connect");
        abort();
    }
    struct pollfd pfd = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t errlen = sizeof err;
    while (poll(&pfd, 1, 5000) < 0)
        if (errno != EINTR) {
            perror("fuzz_frames: poll");
            abort();
        }
    if (!(pfd.revents & POLLOUT) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err) {
        fprintf(stderr, "fuzz_frames: connect to 127.0.0.1:%d: %s\n", fz_port, err ? strerror(err) : "timed out");
        abort();
    }
    struct linger lg = {1, 0}; /* close sends RST: no TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return fd;
}

/* What the orderly client received; reused from input to input. */
static uint8_t *fz_rx;
static size_t fz_rx_len, fz_rx_cap;

/* Read what the broker sent into fz_rx; true once it has closed. */
static bool fz_drain(int fd)
{
    for (;;) {
        if (fz_rx_cap - fz_rx_len < 64 * 1024) {
            fz_rx_cap = fz_rx_cap ? fz_rx_cap * 2 : 256 * 1024;
            fz_rx = realloc(fz_rx, fz_rx_cap);
            if (!fz_rx)
                abort();
        }
        ssize_t k = recv(fd, fz_rx + fz_rx_len, fz_rx_cap - fz_rx_len, 0);
        if (k > 0) {
            fz_rx_len += (size_t)k;
            continue;
        }
        if (k == 0)
            return true;
        if (errno == EINTR)
            continue;
        return errno != EAGAIN && errno != EWOULDBLOCK; /* reset: closed too */
    }
}

static uint32_t fz_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/*
 * The responses an orderly client received, against the frames it sent:
 * each complete response answers the next request frame in order (only a
 * Produce may go unanswered, for acks=0), carries its correlation id, and
 * decodes, header and body, as the response of that request's API and
 * version (ApiVersions at an unknown version: v0) with no byte left.
 * A last response may be cut short: the broker closed with it in flight.
 */
static void fz_check_responses(const uint8_t *data, size_t size)
{
    size_t in = 0, out = 0;
    unsigned nresp = 0;
    while (fz_rx_len - out >= 4) {
        uint32_t n = fz_be32(fz_rx + out);
        if (n < 4 || n > INT32_MAX)
            fz_fail("response %u: size %u", nresp, n);
        if (n > fz_rx_len - out - 4)
            break;
        const uint8_t *resp = fz_rx + out + 4;
        int32_t corr = (int32_t)fz_be32(resp);
        const uint8_t *req;
        for (;;) {
            if (size - in < 4 || fz_be32(data + in) > size - in - 4)
                fz_fail("response %u (correlation id %d) answers no request frame", nresp, corr);
            uint32_t fn = fz_be32(data + in);
            if (fn < GP_REQUEST_HEADER_MIN || fn > (uint32_t)fz_cfg.socket_request_max_bytes)
                fz_fail("response %u answers a frame of size %u, which the broker must refuse", nresp, fn);
            req = data + in + 4;
            in += 4 + fn;
            if ((int32_t)fz_be32(req + 4) == corr)
                break;
            if (((req[0] << 8) | req[1]) != GP_API_PRODUCE)
                fz_fail("response %u has correlation id %d, but the request it should answer has %d", nresp, corr,
                        (int32_t)fz_be32(req + 4));
        }
        int16_t key = (int16_t)((req[0] << 8) | req[1]);
        int16_t version = (int16_t)((req[2] << 8) | req[3]);
        const gp_api *api = gp_api_get(key);
        if (!api)
            fz_fail("response %u answers a request with unknown API key %d", nresp, key);
        if (key == GP_API_API_VERSIONS && (version < api->min_version || version > api->max_version))
            version = 0; /* answered with v0 and the supported table */
        if (version < api->min_version || version > api->max_version)
            fz_fail("response %u answers %s v%d, a version the schema lacks", nresp, api->name, version);

        gp_reader r;
        gp_reader_init(&r, resp + 4, n - 4);
        if (gp_response_header_version(api, version) >= 1) {
            uint32_t ntags = gp_read_uvarint(&r);
            for (uint32_t t = 0; t < ntags && !r.err; t++) {
                (void)gp_read_uvarint(&r);
                gp_read_skip(&r, gp_read_uvarint(&r));
            }
        }
        gp_arena a;
        gp_arena_init(&a, NULL, 0);
        void *msg = gp_arena_alloc(&a, api->response.size_of);
        int rc = api->response.decode(&r, &a, version, msg);
        if (rc < 0 || gp_reader_left(&r) != 0)
            fz_fail("response %u (%s v%d, %u bytes) does not decode: %s, %zu bytes left", nresp, api->name, version, n,
                    gp_strerror(rc), gp_reader_left(&r));
        gp_arena_reset(&a, NULL, 0);
        out += 4 + n;
        nresp++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = fz_hash(data, size);
    size_t chunk = size ? size : 1;
    if (h & 1) {
        chunk = 1 + (size_t)((h >> 1) % 4096);
        if (chunk < size / FZ_MAX_CHUNKS + 1)
            chunk = size / FZ_MAX_CHUNKS + 1;
    }
    bool vanish = ((h >> 16) & 3) == 0;
    unsigned vanish_after = (unsigned)((h >> 20) % 64);

    unsigned timers_at_start = fz_handle_count().timers;
    int fd = fz_connect();
    fz_rx_len = 0;
    size_t off = 0;
    bool shut = false, accepted = false;
    unsigned turns = 0;
    uint64_t deadline = uv_hrtime() + FZ_DEADLINE_NS, grace_end = 0;
    for (;;) {
        uv_run(&fz_loop, UV_RUN_NOWAIT);
        if (fz_broker.stopping) {
            /* The broker's SIGINT/SIGTERM handler ran (it replaced
             * libFuzzer's): stop here rather than report a hang. */
            fprintf(stderr, "fuzz_frames: the broker was stopped by a signal\n");
            exit(1);
        }
        fz_handles handles = fz_handle_count();
        /* The broker's connection shows as one more handle from its accept
         * to its close callback, which are never in the same loop turn. */
        if (handles.all > fz_baseline.all)
            accepted = true;
        if (fd >= 0) {
            if (off < size) {
                size_t n = size - off < chunk ? size - off : chunk;
                ssize_t k = send(fd, data + off, n, MSG_NOSIGNAL);
                if (k > 0)
                    off += (size_t)k;
                else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    off = size; /* the broker closed on us: stop writing */
            }
            bool closed = false;
            if (vanish) {
                closed = accepted && turns++ >= vanish_after;
            } else {
                if (off == size && !shut) {
                    shutdown(fd, SHUT_WR);
                    shut = true;
                }
                closed = fz_drain(fd);
            }
            if (closed) {
                close(fd);
                fd = -1;
            }
        }
        if (fd < 0 && accepted && handles.all == fz_baseline.all && handles.active == fz_baseline.active) {
            /* Connection gone. Give timers this input started (a Fetch
             * parked with a short max_wait_ms) a moment to fire, so that
             * what they do still belongs to this input: sleep in the loop
             * until the next timer, if it is due within the grace. */
            uint64_t now = uv_hrtime();
            if (!grace_end)
                grace_end = now + FZ_TIMER_GRACE_NS;
            int next_ms = uv_backend_timeout(&fz_loop);
            if (handles.timers <= timers_at_start || now >= grace_end || next_ms < 0 ||
                (uint64_t)next_ms * 1000000 > grace_end - now)
                break;
            uv_run(&fz_loop, UV_RUN_ONCE);
        }
        if (uv_hrtime() > deadline) {
            const char *client = fd < 0 ? "gone" : vanish ? "vanishing" : "waiting for EOF";
            fprintf(stderr,
                    "FUZZ CHECK FAILED: the broker neither answered nor closed within 10 s "
                    "(%zu of %zu bytes written, client %s, %u handles (%u active), %u (%u) when idle)\n",
                    off, size, client, handles.all, handles.active, fz_baseline.all, fz_baseline.active);
            abort();
        }
    }
    if (!vanish)
        fz_check_responses(data, size);
    fz_reset_topics();
    fz_reset_configs();
    return 0;
}
