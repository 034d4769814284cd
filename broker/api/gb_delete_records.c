/*
 * DeleteRecords v0-v2: move partitions' log start offsets up, as a
 * single-node Apache Kafka 4.4 answers it (KafkaApis.handleDeleteRecordsRequest,
 * ReplicaManager.deleteRecordsOnLocalLog, Partition.deleteRecordsOnLeader).
 *
 * Each partition, in Kafka's order of checks:
 *
 *   no such topic or partition    UNKNOWN_TOPIC_OR_PARTITION, low watermark -1
 *   an internal topic             INVALID_TOPIC_EXCEPTION, -1
 *   cleanup.policy compact only   POLICY_VIOLATION, -1
 *   offset -1                     the high watermark (the log end offset)
 *   offset < 0 or > high watermark  OFFSET_OUT_OF_RANGE, -1
 *   otherwise                     the log start offset moves up to the
 *                                 offset (never down), NONE and the log
 *                                 start offset after it
 *
 * As Kafka's request map, a partition named twice is answered once, with
 * the offset named last; topics and partitions come back in the order the
 * request first named them (Kafka's is its hash map's).
 *
 * The segments entirely below the new log start offset are deleted on the
 * loop thread, as retention deletes them (gb_partition_delete_records).
 * Durability is stronger than Kafka's: Kafka answers once the offset moved
 * in memory and writes log-start-offset-checkpoint on its next periodic
 * run, so a crash before it brings deleted records back. Gregor answers a
 * request with any successful partition only once a
 * log-start-offset-checkpoint written after it is durable (threadpool); if
 * that write fails, those partitions answer KAFKA_STORAGE_ERROR. timeout_ms
 * is not used: there are no replicas to wait for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_topics.h"
#include "config/gc_topic.h"
#include "protocol/gp_errors.h"

/* One partition of the request; after merging, one of the response. */
typedef struct gb_dr_key {
    gp_str topic;
    int32_t partition;
    int64_t offset;
    size_t order;      /* position in the request (the first one, once merged) */
    size_t topic_rank; /* the order of its topic's first partition */
} gb_dr_key;

static int gb__name_cmp(gp_str a, gp_str b)
{
    int32_t la = a.len > 0 ? a.len : 0, lb = b.len > 0 ? b.len : 0;
    int c = memcmp(a.p ? a.p : "", b.p ? b.p : "", (size_t)(la < lb ? la : lb));
    if (c != 0)
        return c;
    return la == lb ? 0 : la < lb ? -1 : 1;
}

static int gb__by_name(const void *va, const void *vb)
{
    const gb_dr_key *a = va, *b = vb;
    int c = gb__name_cmp(a->topic, b->topic);
    if (c != 0)
        return c;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int gb__by_rank(const void *va, const void *vb)
{
    const gb_dr_key *a = va, *b = vb;
    if (a->topic_rank != b->topic_rank)
        return a->topic_rank < b->topic_rank ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The request's partitions, one per (topic, partition) with the offset
 * named last, grouped by topic in request order; returns how many. */
static size_t gb__merge(gb_request *req, gb_dr_key **out)
{
    const gp_delete_records_request *body = req->body;
    size_t n = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        n += (size_t)(body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0);
    gb_dr_key *keys = gp_arena_alloc(&req->arena, (n ? n : 1) * sizeof *keys);
    size_t k = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        for (int32_t j = 0; j < body->topics[i].partitions_count; j++, k++)
            keys[k] = (gb_dr_key){body->topics[i].name, body->topics[i].partitions[j].partition_index,
                                  body->topics[i].partitions[j].offset, k, 0};
    qsort(keys, n, sizeof *keys, gb__by_name);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool same_topic = m > 0 && gb__name_cmp(keys[m - 1].topic, keys[i].topic) == 0;
        if (same_topic && keys[m - 1].partition == keys[i].partition) {
            keys[m - 1].offset = keys[i].offset; /* the last one named wins */
            continue;
        }
        keys[m] = keys[i];
        keys[m].topic_rank = same_topic ? keys[m - 1].topic_rank : keys[i].order;
        m++;
    }
    qsort(keys, m, sizeof *keys, gb__by_rank);
    *out = keys;
    return m;
}

/* Act on one partition and fill its answer. */
static void gb__delete_partition(gb_broker *b, const gb_dr_key *key, gp_delete_records_response_partition *out)
{
    out->partition_index = key->partition;
    out->low_watermark = -1;
    gb_topic *t = key->topic.len > 0 ? gb_topic_find(b, key->topic.p, (size_t)key->topic.len) : NULL;
    gb_partition *p = t ? gb_topic_partition(t, key->partition) : NULL;
    if (!p) {
        out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (t->internal) {
        out->error_code = GP_E_INVALID_TOPIC_EXCEPTION;
        return;
    }
    if (!gc_topic_deletes(&t->cfg) && gc_topic_compacted(&t->cfg)) {
        out->error_code = GP_E_POLICY_VIOLATION;
        return;
    }
    int64_t offset = key->offset == -1 ? gs_log_end_offset(p->log) : key->offset;
    if (offset < 0) {
        out->error_code = GP_E_OFFSET_OUT_OF_RANGE;
        return;
    }
    int rc = gb_partition_delete_records(p, offset);
    if (rc == -ERANGE) {
        out->error_code = GP_E_OFFSET_OUT_OF_RANGE;
        return;
    }
    out->error_code = rc < 0 ? GP_E_KAFKA_STORAGE_ERROR : GP_E_NONE;
    if (rc == 0)
        out->low_watermark = gs_log_start_offset(p->log);
}

/* The answer waits for log-start-offset-checkpoint; a failed write turns
 * every successful partition into KAFKA_STORAGE_ERROR. */
static void gb__checkpointed(void *arg, int rc)
{
    gb_request *req = arg;
    gp_delete_records_response *resp = req->resp;
    for (int32_t i = 0; rc < 0 && i < resp->topics_count; i++)
        for (int32_t j = 0; j < resp->topics[i].partitions_count; j++) {
            gp_delete_records_response_partition *out = &resp->topics[i].partitions[j];
            if (out->error_code == GP_E_NONE) {
                out->error_code = GP_E_KAFKA_STORAGE_ERROR;
                out->low_watermark = -1;
            }
        }
    gb_request_respond(req);
}

void gb_handle_delete_records(gb_broker *b, gb_request *req)
{
    gp_delete_records_response *resp = req->resp;
    gb_dr_key *keys;
    size_t n = gb__merge(req, &keys);

    int32_t ntopics = 0;
    for (size_t i = 0; i < n; i++)
        ntopics += i == 0 || keys[i].topic_rank != keys[i - 1].topic_rank;
    resp->topics_count = ntopics;
    resp->topics = gp_arena_calloc(&req->arena, (size_t)(ntopics ? ntopics : 1), sizeof *resp->topics);
    gp_delete_records_response_partition *parts = gp_arena_calloc(&req->arena, n ? n : 1, sizeof *parts);
    bool answered = false; /* a partition answers NONE: wait for the checkpoint */
    int32_t ti = -1;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || keys[i].topic_rank != keys[i - 1].topic_rank) {
            gp_delete_records_response_topic *out = &resp->topics[++ti];
            gp_delete_records_response_topic_init(out);
            out->name = keys[i].topic;
            out->partitions = &parts[i];
            out->partitions_count = 0;
        }
        gp_delete_records_response_partition_init(&parts[i]);
        gb__delete_partition(b, &keys[i], &parts[i]);
        resp->topics[ti].partitions_count++;
        answered |= parts[i].error_code == GP_E_NONE;
    }
    if (answered)
        gb_topics_checkpoint_start_offsets(b, gb__checkpointed, req);
    else
        gb_request_respond(req);
}
