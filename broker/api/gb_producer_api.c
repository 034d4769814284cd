/*
 * InitProducerId v0-v5 and DescribeProducers v0.
 *
 * InitProducerId without a transactional id is Kafka's
 * TransactionCoordinator.handleInitProducerId for idempotent producers: a
 * new producer id with epoch 0, always. A producer id and epoch in the
 * request (v3+, KIP-360) are ignored there too: Kafka "blindly accepts" and
 * returns a fresh id, and a client that wanted an epoch bump takes it
 * (@platformatic/kafka sends 0/0 from a new producer; that is accepted the
 * same way). Only a half-given pair (one of them -1) is INVALID_REQUEST, as
 * in KafkaApis.
 *
 * A transactional id goes to the transaction coordinator
 * (api/gb_txn_api.c); an empty one is INVALID_REQUEST, as in Kafka.
 *
 * DescribeProducers lists a partition's producer-state entries as Kafka's
 * Partition.activeProducerState does.
 */
#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_producer_ids.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "protocol/gp_errors.h"
#include "storage/gs_meta.h"
#include "storage/gs_names.h"

static void gb__pid_answer(gb_request *req, int16_t error, int64_t id)
{
    gp_init_producer_id_response *resp = req->resp;
    resp->error_code = error;
    resp->producer_id = error ? -1 : id;
    resp->producer_epoch = error ? -1 : 0;
    gb_request_respond(req);
}

/* The allocator's answer for an InitProducerId. */
static void gb__pid_done(void *arg, int16_t error, int64_t id)
{
    gb_request *req = arg;
    if (!error)
        gb_logger_debug("%s: producer id %" PRId64 " epoch 0", gb_request_peer(req), id);
    gb__pid_answer(req, error, id);
}

void gb_handle_init_producer_id(gb_broker *b, gb_request *req)
{
    const gp_init_producer_id_request *body = req->body;
    /* v0-v2 have no producer id and epoch: the codec leaves them -1. */
    if ((body->producer_id == -1) != (body->producer_epoch == -1)) {
        gb__pid_answer(req, GP_E_INVALID_REQUEST, -1);
        return;
    }
    if (body->transactional_id.len == 0) {
        gb__pid_answer(req, GP_E_INVALID_REQUEST, -1);
        return;
    }
    if (body->transactional_id.len > 0) {
        gb_txn_api_init_producer_id(b, req);
        return;
    }
    gb_producer_ids_get(b, gb__pid_done, req);
}

/* ---- DescribeProducers --------------------------------------------------------- */

static void gb__describe_partition(gb_request *req, gb_topic *t, gp_describe_producers_response_partition *out)
{
    gb_partition *p = t ? gb_topic_partition(t, out->partition_index) : NULL;
    if (!p) {
        out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = gp_str_c("This server does not host this topic-partition.");
        return;
    }
    size_t n = gs_pstate_count(p->pstate), cursor = 0, k = 0;
    out->active_producers = gp_arena_calloc(&req->arena, n ? n : 1, sizeof *out->active_producers);
    const gs_producer *e;
    while ((e = gs_pstate_next(p->pstate, &cursor)) && k < n) {
        gp_describe_producers_response_active_producer *ap = &out->active_producers[k++];
        gp_describe_producers_response_active_producer_init(ap);
        ap->producer_id = e->producer_id;
        ap->producer_epoch = e->epoch;
        ap->last_sequence = gs_producer_last_seq(e);
        ap->last_timestamp = e->last_timestamp;
        ap->coordinator_epoch = e->coordinator_epoch;
        ap->current_txn_start_offset = e->txn_first_offset;
    }
    out->active_producers_count = (int32_t)k;
}

void gb_handle_describe_producers(gb_broker *b, gb_request *req)
{
    const gp_describe_producers_request *body = req->body;
    gp_describe_producers_response *resp = req->resp;
    int32_t nt = body->topics_count > 0 ? body->topics_count : 0;
    resp->topics_count = nt;
    resp->topics = gp_arena_calloc(&req->arena, nt ? (size_t)nt : 1, sizeof *resp->topics);
    for (int32_t i = 0; i < nt; i++) {
        const gp_describe_producers_request_topic *in = &body->topics[i];
        gp_describe_producers_response_topic *out = &resp->topics[i];
        gp_describe_producers_response_topic_init(out);
        out->name = in->name;
        const char *why = NULL;
        int16_t topic_error = 0;
        gb_topic *t = NULL;
        if (in->name.len < 0 || gs_topic_name_check(in->name.p, (size_t)in->name.len, &why) < 0)
            topic_error = GP_E_INVALID_TOPIC_EXCEPTION;
        else if (!(t = gb_topic_find(b, in->name.p, (size_t)in->name.len)))
            topic_error = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        int32_t np = in->partition_indexes_count > 0 ? in->partition_indexes_count : 0;
        out->partitions_count = np;
        out->partitions = gp_arena_calloc(&req->arena, np ? (size_t)np : 1, sizeof *out->partitions);
        for (int32_t j = 0; j < np; j++) {
            gp_describe_producers_response_partition *pp = &out->partitions[j];
            gp_describe_producers_response_partition_init(pp);
            pp->partition_index = in->partition_indexes[j];
            pp->active_producers_count = 0;
            if (topic_error) {
                pp->error_code = topic_error;
                pp->error_message = gp_str_c(why ? why : "This server does not host this topic-partition.");
                continue;
            }
            gb__describe_partition(req, t, pp);
        }
    }
    gb_request_respond(req);
}
