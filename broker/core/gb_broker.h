/*
 * The broker: everything the loop thread owns. One instance per process,
 * passed explicitly (no global state reached from everywhere). Its
 * lifecycle (start, stop, close) is broker/gb_lifecycle.h, on top.
 */
#ifndef GB_BROKER_H
#define GB_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "broker/core/gb_partition_events.h"
#include "config/gc_config.h"
#include "storage/gs_meta.h"

typedef struct gb_server gb_server;
typedef struct gb_topics gb_topics;
typedef struct gb_flusher gb_flusher;
typedef struct gb_fetches gb_fetches;
typedef struct gb_cache gb_cache;
typedef struct gb_group_coordinator gb_group_coordinator;
typedef struct gb_producer_ids gb_producer_ids;
typedef struct gb_txn_coordinator gb_txn_coordinator;
typedef struct gb_quotas gb_quotas;
typedef struct gb_conn_quotas gb_conn_quotas;
typedef struct gb_dynconf gb_dynconf;
typedef struct gb_cleaner gb_cleaner;

typedef struct gb_broker {
    uv_loop_t *loop;
    const gc_config *cfg;        /* effective: static, then dynamic (core/gb_dynconf) */
    const gc_config *static_cfg; /* as started: defaults, file, environment, --override */
    gb_dynconf *dynconf;         /* AlterConfigs on BROKER: core/gb_dynconf */
    const char *data_dir; /* the effective log directory */
    gs_meta meta;         /* cluster id and node id */
    gb_server *server;
    gb_topics *topics;   /* topics and partitions */
    gb_flusher *flusher; /* fdatasync off the loop thread */
    gb_fetches *fetches; /* parked (long-polling) fetches: core/gb_fetch_waiters */
    gb_cache *cache;     /* the page-cache budget, cold reads */
    /* the group coordinator: consumer groups and committed offsets */
    gb_group_coordinator *group_coordinator;
    /* InitProducerId's blocks of producer ids reserved on disk */
    gb_producer_ids *producer_ids;
    /* the transaction coordinator: transactional ids, __transaction_state */
    gb_txn_coordinator *txn_coordinator;
    gb_quotas *quotas; /* client quotas and their measured rates: core/gb_quotas */
    gb_conn_quotas *conn_quotas; /* connection creation rates: core/gb_conn_quotas */
    /* the log cleaner's scheduling: core/gb_cleaner */
    gb_cleaner *cleaner;
    uv_timer_t retention_timer;
    uv_timer_t flush_timer; /* flush.ms, every log.flush.scheduler.interval.ms */
    uv_timer_t checkpoint_timers[2]; /* [1]: recovery points, [0]: log start offsets */
    uv_signal_t sigint, sigterm;     /* an orderly stop (gb_lifecycle.c) */
    gb_partition_events partition_events; /* listeners, registered at start-up */
    int64_t started_ms; /* wall clock at start: the epoch of ApiVersions' finalized features */
    bool stopping;
} gb_broker;

#endif
