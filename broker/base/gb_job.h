/*
 * A job for libuv's threadpool, the one shape every blocking piece of work
 * takes (fsync of a file, checkpoints, directory removal, page-cache
 * write-back, warming cold reads): run(arg) on a pool thread, then
 * done(arg) on the loop thread. The caller embeds a gb_job in its own job
 * struct and owns that struct: done frees it or keeps it.
 */
#ifndef GB_JOB_H
#define GB_JOB_H

#include <uv.h>

typedef struct gb_job {
    uv_work_t req;
    void (*run)(void *arg);
    void (*done)(void *arg);
    void *arg;
} gb_job;

void gb_job_queue(uv_loop_t *loop, gb_job *job, void (*run)(void *arg), void (*done)(void *arg), void *arg);

#endif
