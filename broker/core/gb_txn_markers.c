/*
 * Transaction markers (core/gb_txn_markers.h).
 *
 * A marker is a control batch built here (gp_batch_build_control) and
 * written through the one append path with a->marker set: the producer
 * state checks it and ends the transaction, the .txnindex gets an ABORT's
 * entry (core/gb_append.c, storage/gs_pstate.c). The caller hears back
 * once the marker is durable: the flusher's wait, as for acks=all (with
 * gregor.acks.all.fsync=false, once it is in the page cache, as acks=all
 * Produce requests are then answered).
 */
#include "broker/core/gb_txn_markers.h"

#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_append.h"
#include "broker/core/gb_group_coordinator.h"
#include "broker/core/gb_group_records.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"

/* A marker waiting for the flusher. */
typedef struct gb_txn_marker_wait {
    gb_txn_marker_done done;
    void *arg;
} gb_txn_marker_wait;

static void gb__marker_flushed(void *arg, int status)
{
    gb_txn_marker_wait *w = arg;
    gb_txn_marker_done done = w->done;
    void *done_arg = w->arg;
    free(w);
    done(done_arg, status == 0 ? 0 : GP_E_KAFKA_STORAGE_ERROR);
}

static int16_t gb__pstate_error(int pstate_error)
{
    switch (pstate_error) {
    case GS_PSTATE_ERR_EPOCH:
        return GP_E_INVALID_PRODUCER_EPOCH;
    case GS_PSTATE_ERR_COORDINATOR:
        return GP_E_TRANSACTION_COORDINATOR_FENCED;
    default:
        return GP_E_UNKNOWN_SERVER_ERROR;
    }
}

void gb_txn_write_marker(gb_broker *b, gb_partition *p, const gb_txn_marker_req *m, gb_txn_marker_done done,
                         void *arg)
{
    int64_t now = gu_wall_ms();
    bool append_time = gc_topic_log_append_time(&p->topic->cfg);
    if (m->transaction_version >= 2) {
        const gs_producer *known = gs_pstate_find(p->pstate, m->producer_id);
        if (known && m->producer_epoch <= known->epoch) {
            gb_logger_debug("partition %s-%d: transaction version 2 marker of producer %lld epoch %d refused: "
                            "not newer than the producer's epoch %d",
                            p->topic->name, p->index, (long long)m->producer_id, m->producer_epoch, known->epoch);
            done(arg, GP_E_INVALID_PRODUCER_EPOCH);
            return;
        }
    }
    gp_txn_marker marker = {
        .type = m->commit ? GP_CONTROL_COMMIT : GP_CONTROL_ABORT,
        .coordinator_epoch = m->coordinator_epoch,
        .producer_id = m->producer_id,
        .producer_epoch = m->producer_epoch,
        .timestamp = now,
    };
    uint8_t first[512];
    gp_arena arena;
    gp_arena_init(&arena, first, sizeof first);
    gp_bytes batch;
    if (gp_batch_build_control(&arena, 0, 0, &marker, &batch) < 0) {
        gp_arena_reset(&arena, NULL, 0);
        done(arg, GP_E_UNKNOWN_SERVER_ERROR);
        return;
    }
    bool durable = b->cfg->gregor_acks_all_fsync;
    gb_txn_marker_wait *w = durable ? gu_malloc(sizeof *w) : NULL;
    if (w)
        *w = (gb_txn_marker_wait){done, arg};
    gb_append a = {
        .data = (uint8_t *)batch.p,
        .len = (size_t)batch.len,
        .now = now,
        .log_append_time = append_time,
        .pa = {.producer_id = -1},
        .marker = &marker,
        .flush = durable ? GB_FLUSH_WAIT : GB_FLUSH_MESSAGES,
        .on_flushed = gb__marker_flushed,
        .on_flushed_arg = w,
    };
    gb_append_result r;
    int rc = gb_partition_append(b, p, &a, &r);
    gp_arena_reset(&arena, NULL, 0);
    if (rc != GB_APPEND_OK) {
        free(w);
        if (rc == GB_APPEND_PRODUCER)
            gb_logger_debug("partition %s-%d: %s marker of producer %lld epoch %d refused (producer epoch %d)",
                            p->topic->name, p->index, m->commit ? "COMMIT" : "ABORT", (long long)m->producer_id,
                            m->producer_epoch, r.verdict.epoch);
        done(arg, rc == GB_APPEND_PRODUCER ? gb__pstate_error(r.pstate_error) : GP_E_KAFKA_STORAGE_ERROR);
        return;
    }
    if (strcmp(p->topic->name, GB_OFFSETS_TOPIC) == 0)
        gb_group_coordinator_txn_marker(b, p->index, m->producer_id, m->commit);
    if (!durable)
        done(arg, 0);
    /* else gb__marker_flushed answers (maybe already has). */
}
