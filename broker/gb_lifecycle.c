/*
 * The broker's lifecycle around the loop: what starts before it runs, and
 * the order things stop in on SIGINT/SIGTERM.
 */
#include "broker/gb_lifecycle.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "common/gu_common.h"

#include "broker/core/gb_cache.h"
#include "broker/core/gb_cleaner.h"
#include "broker/core/gb_conn_quotas.h"
#include "broker/core/gb_fetch_waiters.h"
#include "broker/core/gb_group_coordinator.h"
#include "broker/api/gb_dispatch.h"
#include "broker/api/gb_group_api.h"
#include "broker/core/gb_flusher.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_producer_ids.h"
#include "broker/core/gb_quotas.h"
#include "broker/core/gb_txn_coordinator.h"
#include "broker/net/gb_server.h"
#include "broker/core/gb_dynconf.h"
#include "broker/core/gb_topics.h"

static void gb__on_retention(uv_timer_t *t)
{
    gb_broker *b = t->data;
    gb_topics_retain(b, gu_wall_ms());
}

static void gb__on_flush_timer(uv_timer_t *t)
{
    gb_broker *b = t->data;
    gb_flusher_flush_old(b, (int64_t)uv_now(b->loop));
}

static void gb__on_checkpoint(uv_timer_t *t)
{
    gb_broker *b = t->data;
    gb_topics_checkpoint(b, t == &b->checkpoint_timers[1]);
}

/* As Kafka's log manager schedules them: every interval, or once after 30
 * seconds when the interval is 0. */
static void gb__start_checkpoints(gb_broker *b)
{
    const int32_t every[2] = {b->cfg->log_flush_start_offset_checkpoint_interval_ms,
                              b->cfg->log_flush_offset_checkpoint_interval_ms};
    for (int i = 0; i < 2; i++) {
        uv_timer_init(b->loop, &b->checkpoint_timers[i]);
        b->checkpoint_timers[i].data = b;
        uint64_t first = every[i] > 0 ? (uint64_t)every[i] : 30000;
        uv_timer_start(&b->checkpoint_timers[i], gb__on_checkpoint, first, (uint64_t)every[i]);
    }
}

static void gb__on_signal(uv_signal_t *s, int signum)
{
    gb_broker *b = s->data;
    gb_logger_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    gb_broker_stop(b);
}

int gb_broker_start(gb_broker *b, char *err, size_t errlen)
{
    /* Who hears of partitions opened, appended to, gone: registered before
     * the topics open (in this order: a deletion wakes the fetches first). */
    gb_partition_listen(b, gb_fetch_waiters_on_partition);
    gb_partition_listen(b, gb_flusher_on_partition);
    gb_partition_listen(b, gb_cache_on_partition);
    if (gb_dynconf_open(b, err, errlen) < 0)
        return -1;
    gb_partition_listen(b, gb_cleaner_on_partition);
    gb_partition_listen(b, gb_group_coordinator_on_partition);
    gb_cleaner_open(b);
    if (gb_topics_open(b, err, errlen) < 0)
        return -1;
    if (gb_producer_ids_open(b, err, errlen) < 0)
        return -1;
    if (gb_quotas_open(b, err, errlen) < 0)
        return -1;
    if (gb_group_coordinator_open(b, gb_group_api_join_done, gb_group_api_sync_done, err, errlen) < 0)
        return -1;
    gb_cache_start(b);
    if (gb_flusher_start(b) < 0) {
        snprintf(err, errlen, "cannot start the flusher thread");
        return -1;
    }
    /* After the flusher: loading may write the markers of transactions a
     * stop left between prepare and complete. */
    if (gb_txn_coordinator_open(b, err, errlen) < 0)
        return -1;
    uv_timer_init(b->loop, &b->retention_timer);
    b->retention_timer.data = b;
    uint64_t every = (uint64_t)b->cfg->log_retention_check_interval_ms;
    uv_timer_start(&b->retention_timer, gb__on_retention, every, every);
    gb__start_checkpoints(b);
    gb_cleaner_start(b);
    uv_timer_init(b->loop, &b->flush_timer);
    b->flush_timer.data = b;
    if (b->cfg->log_flush_scheduler_interval_ms < INT64_MAX) {
        every = (uint64_t)b->cfg->log_flush_scheduler_interval_ms;
        uv_timer_start(&b->flush_timer, gb__on_flush_timer, every, every);
    }
    uv_signal_init(b->loop, &b->sigint);
    uv_signal_init(b->loop, &b->sigterm);
    b->sigint.data = b->sigterm.data = b;
    uv_signal_start(&b->sigint, gb__on_signal, SIGINT);
    uv_signal_start(&b->sigterm, gb__on_signal, SIGTERM);
    if (gb_server_start(&b->server, b->loop, b->cfg, gb_dispatch_frame, b, err, errlen) < 0)
        return -1;
    /* Connection creation rates: the listeners ask before serving a connection. */
    b->conn_quotas = gb_conn_quotas_new(b);
    gb_server_set_admit(b->server, gb_conn_quotas_admit, b->conn_quotas);
    return 0;
}

/* Stop accepting and reading, answer parked fetches and acks=all waits,
 * then let the loop run dry: gb_broker_close() finishes after uv_run. */
void gb_broker_stop(gb_broker *b)
{
    if (b->stopping)
        return;
    b->stopping = true;
    gb_server_stop(b->server);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    gb_fetch_waiters_stop_all(b);
    gb_group_coordinator_stop(b);
    gb_txn_coordinator_stop(b);
    gb_flusher_stop(b);
    gb_cache_stop(b);
    gb_cleaner_stop(b);
    uv_close((uv_handle_t *)&b->retention_timer, NULL);
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&b->checkpoint_timers[i], NULL);
    uv_close((uv_handle_t *)&b->flush_timer, NULL);
}

/* After the loop: make every log durable, write the checkpoints and the
 * clean-shutdown marker. */
void gb_broker_close(gb_broker *b)
{
    gb_group_coordinator_close(b);
    gb_txn_coordinator_close(b);
    gb_topics_close(b);
    gb_cleaner_close(b);
    gb_dynconf_close(b);
    gb_cache_free(b);
    gb_producer_ids_close(b);
    gb_quotas_close(b);
    gb_conn_quotas_free(b->conn_quotas);
    b->conn_quotas = NULL;
    free(b->fetches); /* every parked fetch was answered at the stop */
    b->fetches = NULL;
    gb_server_free(b->server);
    b->server = NULL;
}
