#include "broker/base/gb_job.h"

static void gb__job_run(uv_work_t *w)
{
    gb_job *job = w->data;
    job->run(job->arg);
}

/* libuv's status is UV_ECANCELED only for uv_cancel, which Gregor never
 * calls: done always runs after run. */
static void gb__job_done(uv_work_t *w, int status)
{
    (void)status;
    gb_job *job = w->data;
    job->done(job->arg);
}

void gb_job_queue(uv_loop_t *loop, gb_job *job, void (*run)(void *arg), void (*done)(void *arg), void *arg)
{
    job->run = run;
    job->done = done;
    job->arg = arg;
    job->req.data = job;
    uv_queue_work(loop, &job->req, gb__job_run, gb__job_done);
}
