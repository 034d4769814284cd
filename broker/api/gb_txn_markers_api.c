/*
 * WriteTxnMarkers v0-v2 (API 27; v2 says the transaction version, and a
 * version 2 marker must be newer than the producer's epoch): write COMMIT or ABORT markers to
 * partitions, as Kafka's KafkaApis.handleWriteTxnMarkersRequest. A
 * transaction coordinator sends it to partition leaders; on Gregor the
 * coordinator calls core/gb_txn_markers directly, and this API serves
 * Kafka's admin (`kafka-transactions.sh abort`, Admin.abortTransaction),
 * which writes an ABORT for a hanging transaction.
 *
 * Each partition is answered on its own: UNKNOWN_TOPIC_OR_PARTITION when
 * the broker does not host it, else the marker append's answer
 * (INVALID_PRODUCER_EPOCH for an older producer epoch,
 * TRANSACTION_COORDINATOR_FENCED, KAFKA_STORAGE_ERROR). The response goes
 * once every marker of the request is durable.
 */
#include "broker/api/gb_handlers.h"

#include "common/gu_common.h"

#include "broker/core/gb_topics.h"
#include "broker/core/gb_txn_markers.h"
#include "protocol/gp_errors.h"

/* The request while its markers are written. */
typedef struct gb_wtm {
    gb_request *req;
    int waiting; /* markers not done yet, + 1 while the handler runs */
} gb_wtm;

/* One partition's marker. */
typedef struct gb_wtm_part {
    gb_wtm *w;
    gp_write_txn_markers_response_writable_txn_marker_partition_result *out;
} gb_wtm_part;

static void gb__wtm_release(gb_wtm *w)
{
    if (--w->waiting == 0)
        gb_request_respond(w->req);
}

static void gb__wtm_done(void *arg, int16_t error)
{
    gb_wtm_part *wp = arg;
    wp->out->error_code = error;
    gb__wtm_release(wp->w);
}

void gb_handle_write_txn_markers(gb_broker *b, gb_request *req)
{
    const gp_write_txn_markers_request *body = req->body;
    gp_write_txn_markers_response *resp = req->resp;
    gb_wtm *w = gp_arena_calloc(&req->arena, 1, sizeof *w);
    w->req = req;
    w->waiting = 1;
    int32_t nm = body->markers_count > 0 ? body->markers_count : 0;
    resp->markers_count = nm;
    resp->markers = gp_arena_calloc(&req->arena, nm ? (size_t)nm : 1, sizeof *resp->markers);
    for (int32_t i = 0; i < nm; i++) {
        const gp_write_txn_markers_request_writable_txn_marker *im = &body->markers[i];
        gp_write_txn_markers_response_writable_txn_marker_result *om = &resp->markers[i];
        gp_write_txn_markers_response_writable_txn_marker_result_init(om);
        om->producer_id = im->producer_id;
        int32_t nt = im->topics_count > 0 ? im->topics_count : 0;
        om->topics_count = nt;
        om->topics = gp_arena_calloc(&req->arena, nt ? (size_t)nt : 1, sizeof *om->topics);
        gb_txn_marker_req m = {
            .producer_id = im->producer_id,
            .producer_epoch = im->producer_epoch,
            .coordinator_epoch = im->coordinator_epoch,
            .commit = im->transaction_result,
            .transaction_version = im->transaction_version, /* v2+; 0 before */
        };
        for (int32_t j = 0; j < nt; j++) {
            const gp_write_txn_markers_request_writable_txn_marker_topic *it = &im->topics[j];
            gp_write_txn_markers_response_writable_txn_marker_topic_result *ot = &om->topics[j];
            gp_write_txn_markers_response_writable_txn_marker_topic_result_init(ot);
            ot->name = it->name;
            int32_t np = it->partition_indexes_count > 0 ? it->partition_indexes_count : 0;
            ot->partitions_count = np;
            ot->partitions = gp_arena_calloc(&req->arena, np ? (size_t)np : 1, sizeof *ot->partitions);
            gb_topic *t = it->name.len > 0 ? gb_topic_find(b, it->name.p, (size_t)it->name.len) : NULL;
            for (int32_t k = 0; k < np; k++) {
                gp_write_txn_markers_response_writable_txn_marker_partition_result *op = &ot->partitions[k];
                gp_write_txn_markers_response_writable_txn_marker_partition_result_init(op);
                op->partition_index = it->partition_indexes[k];
                gb_partition *p = t ? gb_topic_partition(t, op->partition_index) : NULL;
                if (!p) {
                    op->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                    continue;
                }
                gb_wtm_part *wp = gp_arena_alloc(&req->arena, sizeof *wp);
                *wp = (gb_wtm_part){w, op};
                w->waiting++;
                gb_txn_write_marker(b, p, &m, gb__wtm_done, wp);
            }
        }
    }
    gb__wtm_release(w);
}
