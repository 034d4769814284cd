/*
 * gregor [server.properties] [--override key=value]...
 *
 * The kafka-server-start convention: an optional properties file, then
 * overrides. Configuration precedence: defaults < file < KAFKA_* environment
 * < --override.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common/gu_common.h"

#include "broker/api/gb_dispatch.h"
#include "broker/core/gb_broker.h"
#include "broker/gb_lifecycle.h"
#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "broker/net/gb_server.h"
#include "protocol/gp_compress.h"
#include "protocol/gp_messages.h"

#ifndef GREGOR_VERSION
#define GREGOR_VERSION "unknown"
#endif

extern char **environ;

static void gb__usage(FILE *out)
{
    fprintf(out, "usage: gregor [server.properties] [--override key=value]...\n"
                 "       gregor --help | --version | --print-api-table | --print-config-docs\n\n"
                 "A single-node broker that speaks the Apache Kafka protocol.\n"
                 "Configuration: defaults < properties file < KAFKA_* environment variables\n"
                 "(KAFKA_LOG_DIRS -> log.dirs) < --override. Keys:\n\n");
    gc_config_print_help(out);
}

/* The API tables of docs/compatibility.md, from the handler table (what
 * is implemented) and the schema table (what is planned). */
static void gb__print_api_table(FILE *out)
{
    fprintf(out, "| key | API | versions Gregor implements | versions Kafka defines | flexible from |\n"
                 "|---:|---|---|---|---|\n");
    for (size_t i = 0; i < gp_api_count; i++) {
        const gp_api *api = &gp_apis[i];
        const gb_handler *h = gb_handler_get(api->key);
        if (!h)
            continue;
        fprintf(out, "| %d | %s | %d-%d | %d-%d | ", api->key, api->name, h->min_version, h->max_version,
                api->min_version, api->max_version);
        if (api->flexible_min >= 0)
            fprintf(out, "v%d |\n", api->flexible_min);
        else
            fprintf(out, "never |\n");
    }
    fprintf(out, "\nPlanned (schema and codec exist, no handler yet; not advertised):\n\n"
                 "| key | API | versions Kafka defines |\n|---:|---|---|\n");
    for (size_t i = 0; i < gp_api_count; i++) {
        const gp_api *api = &gp_apis[i];
        if (!gb_handler_get(api->key))
            fprintf(out, "| %d | %s | %d-%d |\n", api->key, api->name, api->min_version, api->max_version);
    }
}

static void gb__warn(void *ud, const char *msg)
{
    (void)ud;
    gb_logger_warn("%s", msg);
}

/* Large requests (a produce request is up to a megabyte per partition) are
 * read into heap buffers that live until the answer is sent. glibc's
 * defaults hand such memory back to the kernel after almost every request
 * (mmap/munmap, or brk down and up again), and the next request pays for
 * faulting fresh, zeroed pages in, which measured more than the copy of the
 * data itself. Keep up to 64 MiB of freed heap instead, and serve every
 * allocation below 32 MiB from the heap. */
static void gb__tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}

/* A new meta.properties reaches the disk after the listeners are up: a first
 * start does not wait for an fsync before it serves. */
static struct {
    gb_job job;
    int rc;
} gb__meta_sync;

static void gb__meta_sync_run(void *arg)
{
    gb_broker *b = arg;
    gb__meta_sync.rc = gs_meta_sync(b->data_dir);
}

static void gb__meta_sync_done(void *arg)
{
    gb_broker *b = arg;
    if (gb__meta_sync.rc < 0)
        gb_logger_error("data directory: cannot sync %s/meta.properties: %s", b->data_dir,
                        strerror(-gb__meta_sync.rc));
}

/* Kafka's scripts leave the open-files limit to the operator; a broker
 * whose soft limit is lower than its hard one can only lose by it (each
 * partition holds a descriptor, each connection one more). So the soft
 * limit goes up to the hard one at start-up, and the result is logged. */
static void gb__raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t before = rl.rlim_cur, want = rl.rlim_max;
    if (want == RLIM_INFINITY)
        want = 1048576; /* Linux's default fs.nr_open: infinity is refused */
    if (before != RLIM_INFINITY && before < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            gb_logger_warn("cannot raise the open-files limit (RLIMIT_NOFILE) from %llu to %llu: %s",
                           (unsigned long long)before, (unsigned long long)want, strerror(errno));
            return;
        }
        gb_logger_info("raised the open-files limit (RLIMIT_NOFILE) from %llu to the hard limit %llu",
                       (unsigned long long)before, (unsigned long long)want);
    } else {
        gb_logger_info("open-files limit (RLIMIT_NOFILE): %llu", (unsigned long long)before);
    }
}

/* libsnappy is loaded off the loop thread once the listeners are up
 * (protocol/gp_compress.c loads it at first use otherwise). */
static gb_job gb__snappy_job;
static bool gb__snappy_ok;

static void gb__snappy_run(void *arg)
{
    (void)arg;
    gb__snappy_ok = gp_snappy_load();
}

static void gb__snappy_done(void *arg)
{
    (void)arg;
    if (!gb__snappy_ok)
        gb_logger_error("cannot load libsnappy (%s): snappy-compressed batches will be refused",
                        gp_snappy_error());
}

int main(int argc, char **argv)
{
    gb__tune_malloc();
    /* A file-size limit (ulimit -f) reached is an error the write returns
     * (EFBIG: the append fails with KAFKA_STORAGE_ERROR), not a signal that
     * kills the broker. */
    signal(SIGXFSZ, SIG_IGN);
    const char *path = NULL;
    /* At most argc overrides, pointing into argv: nothing to free on the
     * early returns below. */
    char *overrides[argc > 0 ? argc : 1];
    int noverrides = 0;
    gb_logger_init_from_env();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            gb__usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--print-config-docs") == 0) {
            gc_config_print_markdown(stdout); /* docs/configuration.md */
            return 0;
        } else if (strcmp(argv[i], "--print-api-table") == 0) {
            gb__print_api_table(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("gregor %s\n", GREGOR_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--override") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "gregor: --override needs key=value\n");
                return 2;
            }
            overrides[noverrides++] = argv[++i];
        } else if (strncmp(argv[i], "--override=", 11) == 0) {
            overrides[noverrides++] = argv[i] + 11;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "gregor: unexpected argument '%s' (see gregor --help)\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }

    uint64_t t0 = uv_hrtime();
    gc_config cfg;
    char err[1024];
    if (gc_config_load(&cfg, path, environ, noverrides, overrides, gb__warn, NULL, err, sizeof err) < 0) {
        gb_logger_error("configuration: %s", err);
        return 1;
    }

    gb__raise_nofile();
    gb_broker broker = {0};
    broker.loop = uv_default_loop();
    broker.cfg = &cfg;
    broker.data_dir = gc_config_log_dir(&cfg);
    broker.started_ms = gu_wall_ms();
    if (gs_meta_load_or_create(broker.data_dir, cfg.node_id, &broker.meta, err, sizeof err) < 0) {
        gb_logger_error("data directory: %s", err);
        return 1;
    }
    if (gb_broker_start(&broker, err, sizeof err) < 0) {
        gb_logger_error("%s", err);
        return 1;
    }
    if (broker.meta.was_empty)
        gb_logger_warn("data directory: meta.properties was empty (the machine stopped before it reached the "
                       "disk); wrote a new one, cluster %s",
                       broker.meta.cluster_id);
    if (broker.meta.unsynced)
        gb_job_queue(broker.loop, &gb__meta_sync.job, gb__meta_sync_run, gb__meta_sync_done, &broker);
    gb_job_queue(broker.loop, &gb__snappy_job, gb__snappy_run, gb__snappy_done, NULL);
    gb_logger_info("Gregor %s started in %.1f ms: node %d, cluster %s, listeners %s, data dir %s", GREGOR_VERSION,
                   (double)(uv_hrtime() - t0) / 1e6, broker.meta.node_id, broker.meta.cluster_id,
                   gb_server_describe(broker.server), broker.data_dir);

    uv_run(broker.loop, UV_RUN_DEFAULT);

    gb_broker_close(&broker);
    gb_logger_info("stopped");
    if (uv_loop_close(broker.loop) != 0)
        gb_logger_warn("event loop closed with handles still open");
    gc_config_free(&cfg);
    return 0;
}
