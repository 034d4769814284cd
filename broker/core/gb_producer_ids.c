/*
 * The producer-id allocator (core/gb_producer_ids.h): blocks of ids
 * reserved in <log.dirs>/gregor-producer-ids.properties off the loop
 * thread, handed out in order.
 */
#include "broker/core/gb_producer_ids.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_errors.h"
#include "storage/gs_meta.h"

#define GB_PRODUCER_IDS_FILE "gregor-producer-ids.properties"
#define GB_PRODUCER_ID_BLOCK 1000
#define GB_PRODUCER_ID_PREFETCH 100 /* reserve the next block when this few are left */

/* A caller waiting for a block to be on disk. */
typedef struct gb_pid_wait {
    void (*done)(void *arg, int16_t error, int64_t id);
    void *arg;
    struct gb_pid_wait *next;
} gb_pid_wait;

struct gb_producer_ids {
    int64_t next;     /* the next id to hand out */
    int64_t reserved; /* ids below are reserved on disk */
    bool writing;     /* a reservation is being written */
    gb_pid_wait *head, *tail;
    char path[PATH_MAX];
};

typedef struct gb_pid_job {
    gb_job work;
    gb_broker *b;
    int64_t target;
    int rc;
} gb_pid_job;

int gb_producer_ids_open(gb_broker *b, char *err, size_t errlen)
{
    gb_producer_ids *ids = gu_calloc(1, sizeof *ids);
    snprintf(ids->path, sizeof ids->path, "%s/%s", b->data_dir, GB_PRODUCER_IDS_FILE);
    FILE *f = fopen(ids->path, "r");
    if (f) {
        char line[256];
        bool found = false;
        while (fgets(line, sizeof line, f)) {
            long long v;
            char extra;
            if (line[0] == '#' || line[0] == '\n')
                continue;
            if (sscanf(line, "next_producer_id_block=%lld %c", &v, &extra) == 1 && v >= 0) {
                ids->reserved = v;
                found = true;
            }
        }
        fclose(f);
        if (!found) {
            snprintf(err, errlen, "%s: no next_producer_id_block line; producer ids could be given twice", ids->path);
            free(ids);
            return -1;
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "cannot read %s: %s", ids->path, strerror(errno));
        free(ids);
        return -1;
    }
    ids->next = ids->reserved; /* nothing below is safe to give again */
    b->producer_ids = ids;
    return 0;
}

void gb_producer_ids_close(gb_broker *b)
{
    gb_producer_ids *ids = b->producer_ids;
    if (!ids)
        return;
    while (ids->head) {
        gb_pid_wait *w = ids->head;
        ids->head = w->next;
        free(w);
    }
    free(ids);
    b->producer_ids = NULL;
}

static void gb__pid_reserve(gb_broker *b);

/* Hand out ids to the waiting requests while the reservation lasts; start
 * the next reservation when it runs low. */
static void gb__pid_serve(gb_broker *b)
{
    gb_producer_ids *ids = b->producer_ids;
    while (ids->head && ids->next < ids->reserved) {
        gb_pid_wait *w = ids->head;
        if (!(ids->head = w->next))
            ids->tail = NULL;
        int64_t id = ids->next++;
        w->done(w->arg, 0, id);
        free(w);
    }
    if (!ids->writing && (ids->head || ids->reserved - ids->next <= GB_PRODUCER_ID_PREFETCH))
        gb__pid_reserve(b);
}

static void gb__pid_work(void *arg)
{
    gb_pid_job *job = arg;
    gb_producer_ids *ids = job->b->producer_ids;
    char text[160];
    int n = snprintf(text, sizeof text,
                     "# Gregor's producer id reservations: every id below this may have been handed out.\n"
                     "next_producer_id_block=%" PRId64 "\n",
                     job->target);
    job->rc = gs_write_file_atomic(ids->path, text, (size_t)n);
}

static void gb__pid_after(void *arg)
{
    gb_pid_job *job = arg;
    gb_broker *b = job->b;
    gb_producer_ids *ids = b->producer_ids;
    ids->writing = false;
    if (job->rc == 0) {
        ids->reserved = job->target;
        gb__pid_serve(b);
    } else {
        /* Kafka answers a producer id it cannot allocate with a retriable
         * error (no block from the controller yet): the client retries. */
        gb_logger_error("cannot write %s: %s; InitProducerId answered COORDINATOR_LOAD_IN_PROGRESS", ids->path,
                        strerror(-job->rc));
        while (ids->head) {
            gb_pid_wait *wt = ids->head;
            ids->head = wt->next;
            wt->done(wt->arg, GP_E_COORDINATOR_LOAD_IN_PROGRESS, -1);
            free(wt);
        }
        ids->tail = NULL;
    }
    free(job);
}

static void gb__pid_reserve(gb_broker *b)
{
    gb_producer_ids *ids = b->producer_ids;
    gb_pid_job *job = gu_calloc(1, sizeof *job);
    job->b = b;
    job->target = ids->reserved + GB_PRODUCER_ID_BLOCK;
    ids->writing = true;
    gb_job_queue(b->loop, &job->work, gb__pid_work, gb__pid_after, job);
}

void gb_producer_ids_get(gb_broker *b, void (*done)(void *arg, int16_t error, int64_t id), void *arg)
{
    gb_producer_ids *ids = b->producer_ids;
    gb_pid_wait *w = gu_malloc(sizeof *w);
    *w = (gb_pid_wait){done, arg, NULL};
    if (ids->tail)
        ids->tail->next = w;
    else
        ids->head = w;
    ids->tail = w;
    gb__pid_serve(b);
}
