/*
 * ListOffsets v0-v11: a partition's offsets by timestamp, as Kafka's
 * KafkaApis.handleListOffsetRequest and UnifiedLog.fetchOffsetByTimestamp
 * answer them.
 *
 *   timestamp           answer (v1+: offset, timestamp)
 *   -2 EARLIEST         the log start offset, timestamp -1
 *   -4 EARLIEST_LOCAL   the same (no tiered storage: everything is local)
 *   -1 LATEST           the high watermark (the log end offset), or the
 *                       last stable offset for read_committed. Timestamp -1
 *   -3 MAX_TIMESTAMP    the record with the largest timestamp, found inside
 *                       its batch as Kafka 3.7+ does; the first such record
 *   -5 LATEST_TIERED    offset -1, timestamp -1, leader epoch -1 (no tiered
 *                       storage); v9+
 *   -6 EARLIEST_PENDING_UPLOAD  the same (nothing waits for an upload); v11+
 *   other               the first record (offset order) whose timestamp is
 *                       >= the target, with its timestamp; -1/-1 if none.
 *                       Negative targets other than the above are searched
 *                       like timestamps too, as Kafka does.
 *
 * The record is found by storage (storage/gs_batches.h,
 * gs_log_offset_for_timestamp and gs_log_offset_for_max_timestamp, as
 * Kafka's LogSegment finds it). The reads are synchronous on the loop
 * thread, as Kafka reads them on its request threads: one batch per
 * partition, usually from the page cache.
 *
 * leader_epoch (v4+) is the partition's epoch, always 0 on Gregor, when an
 * offset is returned, and -1 when none is. current_leader_epoch -1 means
 * "do not check"; a larger one is UNKNOWN_LEADER_EPOCH, a smaller one
 * FENCED_LEADER_EPOCH. replica_id is not checked: a follower's request is
 * answered like a consumer's.
 *
 * v1+: as Kafka, one answer per topic and partition, however often the
 * request names them; a partition named more than once gets INVALID_REQUEST
 * (Kafka's duplicatePartitions). v0 has no such check in Kafka. -3, -4, -5
 * and -6 before the version that introduced them (v7, v8, v9, v11):
 * UNSUPPORTED_VERSION. v10 (KIP-1075: asynchronous remote reads) changes
 * nothing here.
 *
 * v0 (old_style_offsets, max_num_offsets), as Kafka 3.9's
 * legacyFetchOffsetsBefore: a list of (offset, time) pairs, one per segment
 * (its base offset, at least the log start offset, and its .log file's
 * modification time), plus (log end offset, now) when the last segment is
 * not empty. -1 starts at the last pair, -2 at the first, a timestamp at
 * the last pair whose time is <= it (none: []); the answer is that pair's
 * offset and the ones before it, newest first, at most max_num_offsets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "storage/gs_batches.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"

enum {
    GB_LO_LATEST = -1,
    GB_LO_EARLIEST = -2,
    GB_LO_MAX_TIMESTAMP = -3,
    GB_LO_EARLIEST_LOCAL = -4,
    GB_LO_LATEST_TIERED = -5,
    GB_LO_EARLIEST_PENDING_UPLOAD = -6,
};

#define GB_LO_ISOLATION_READ_COMMITTED 1
#define GB_LO_LEADER_EPOCH 0 /* Gregor's partitions never change leader */

/* The offset below which a consumer may read: the high watermark (the log
 * end offset: one replica), or for read_committed the last stable offset. */
static int64_t gb__last_fetchable(const gb_partition *p, int8_t isolation_level)
{
    int64_t hw = gs_log_end_offset(p->log);
    return isolation_level == GB_LO_ISOLATION_READ_COMMITTED ? gs_pstate_lso(p->pstate, hw) : hw;
}

/* Answer one partition at v1+ (pr has its index and no error yet). */
static void gb__list_partition(gb_partition *p, int8_t isolation_level, int64_t target, gp_arena *scratch,
                               gp_list_offsets_response_partition *pr)
{
    gs_log *log = p->log;
    int64_t offset = -1, timestamp = -1;
    int rc = 1;
    switch (target) {
    case GB_LO_EARLIEST:
    case GB_LO_EARLIEST_LOCAL:
        offset = gs_log_start_offset(log);
        break;
    case GB_LO_LATEST:
        offset = gb__last_fetchable(p, isolation_level);
        break;
    case GB_LO_LATEST_TIERED:
    case GB_LO_EARLIEST_PENDING_UPLOAD:
        rc = 0;
        break;
    case GB_LO_MAX_TIMESTAMP:
        rc = gs_log_offset_for_max_timestamp(log, scratch, &offset, &timestamp);
        break;
    default:
        rc = gs_log_offset_for_timestamp(log, target, scratch, &offset, &timestamp);
        break;
    }
    gp_arena_reset(scratch, NULL, 0);
    if (rc < 0) {
        gb_logger_warn("partition %s-%d: ListOffsets for timestamp %lld failed: %s", p->topic->name, p->index,
                       (long long)target, strerror(-rc));
        pr->error_code = GP_E_KAFKA_STORAGE_ERROR;
        return;
    }
    /* Kafka answers a search only below the last fetchable offset. */
    if (rc == 0 || (target != GB_LO_LATEST && target != GB_LO_EARLIEST && target != GB_LO_EARLIEST_LOCAL &&
                    offset >= gb__last_fetchable(p, isolation_level)))
        return; /* offset -1, timestamp -1, leader epoch -1 */
    pr->offset = offset;
    pr->timestamp = timestamp;
    pr->leader_epoch = GB_LO_LEADER_EPOCH;
}

/* v0: old_style_offsets, as the comment at the top describes. */
static void gb__list_partition_v0(gb_partition *p, int64_t target, int32_t max_num_offsets, gp_arena *a,
                                  gp_list_offsets_response_partition *pr)
{
    size_t nseg = gs_log_segment_count(p->log);
    gs_segment_time *pairs = gp_arena_alloc(a, (nseg + 1) * sizeof *pairs);
    nseg = gs_log_segment_times(p->log, pairs, nseg);
    size_t n = nseg;
    if (nseg > 0 && pairs[nseg - 1].size > 0)
        pairs[n++] = (gs_segment_time){gs_log_end_offset(p->log), 0, gu_wall_ms()};
    int64_t start; /* index of the newest pair answered; -1: none */
    if (target == GB_LO_LATEST)
        start = (int64_t)n - 1;
    else if (target == GB_LO_EARLIEST)
        start = n > 0 ? 0 : -1;
    else
        for (start = (int64_t)n - 1; start >= 0 && pairs[start].modified_ms > target; start--)
            ;
    int64_t count = start + 1 < max_num_offsets ? start + 1 : max_num_offsets;
    if (count < 0)
        count = 0;
    pr->old_style_offsets = gp_arena_alloc(a, (size_t)(count ? count : 1) * sizeof *pr->old_style_offsets);
    for (int64_t i = 0; i < count; i++)
        pr->old_style_offsets[i] = pairs[start - i].base_offset;
    pr->old_style_offsets_count = (int32_t)count;
}

/* A partition of the request, for finding duplicates. */
typedef struct gb_lo_key {
    gp_str topic;
    int32_t partition;
    size_t order; /* its place in the request */
    const gp_list_offsets_request_partition *ip;
} gb_lo_key;

static int gb__topic_cmp(gp_str a, gp_str b)
{
    int32_t la = a.len > 0 ? a.len : 0, lb = b.len > 0 ? b.len : 0;
    int c = memcmp(a.p ? a.p : "", b.p ? b.p : "", (size_t)(la < lb ? la : lb));
    if (c != 0)
        return c;
    return la == lb ? 0 : la < lb ? -1 : 1;
}

static int gb__key_cmp(const void *va, const void *vb)
{
    const gb_lo_key *a = va, *b = vb;
    int c = gb__topic_cmp(a->topic, b->topic);
    if (c != 0)
        return c;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/*
 * v1+: the response as Kafka builds it, one entry per topic name and one
 * per partition of it, however often the request names them (the topics
 * sorted by name and their partitions by index; Kafka's order is that of
 * its hash maps); a partition named more than once gets INVALID_REQUEST
 * (Kafka's duplicatePartitions). ips[k] is the request's partition for the
 * k-th partition of the response, in topic order.
 */
static const gp_list_offsets_request_partition **gb__merge_topics(gb_request *req, size_t n)
{
    const gp_list_offsets_request *body = req->body;
    gp_list_offsets_response *resp = req->resp;
    gb_lo_key *keys = gp_arena_alloc(&req->arena, (n ? n : 1) * sizeof *keys);
    size_t k = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        for (int32_t j = 0; j < body->topics[i].partitions_count; j++, k++)
            keys[k] = (gb_lo_key){body->topics[i].name, body->topics[i].partitions[j].partition_index, k,
                                  &body->topics[i].partitions[j]};
    qsort(keys, n, sizeof *keys, gb__key_cmp);
    size_t ntopics = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || gb__topic_cmp(keys[i - 1].topic, keys[i].topic) != 0)
            ntopics++;
    resp->topics_count = (int32_t)ntopics;
    resp->topics = gp_arena_calloc(&req->arena, ntopics ? ntopics : 1, sizeof *resp->topics);
    const gp_list_offsets_request_partition **ips = gp_arena_alloc(&req->arena, (n ? n : 1) * sizeof *ips);
    gp_list_offsets_response_topic *out = NULL;
    size_t np = 0;
    for (size_t i = 0; i < n;) {
        size_t run = i + 1;
        while (run < n && gb__topic_cmp(keys[i].topic, keys[run].topic) == 0 && keys[i].partition == keys[run].partition)
            run++;
        if (!out || gb__topic_cmp(out->name, keys[i].topic) != 0) {
            out = out ? out + 1 : resp->topics;
            out->name = keys[i].topic;
            size_t cap = 0; /* at most the rest of the keys */
            for (size_t r = i; r < n && gb__topic_cmp(keys[r].topic, keys[i].topic) == 0; r++)
                cap++;
            out->partitions = gp_arena_alloc(&req->arena, cap * sizeof *out->partitions);
            out->partitions_count = 0;
        }
        gp_list_offsets_response_partition *pr = &out->partitions[out->partitions_count++];
        gp_list_offsets_response_partition_init(pr);
        pr->partition_index = keys[i].partition;
        if (run - i > 1)
            pr->error_code = GP_E_INVALID_REQUEST;
        ips[np++] = keys[i].ip;
        i = run;
    }
    return ips;
}

/* Kafka answers the special timestamps only from the version that
 * introduced them: UNSUPPORTED_VERSION below it. */
static bool gb__timestamp_too_new(int64_t target, int16_t version)
{
    switch (target) {
    case GB_LO_MAX_TIMESTAMP:
        return version < 7;
    case GB_LO_EARLIEST_LOCAL:
        return version < 8;
    case GB_LO_LATEST_TIERED:
        return version < 9;
    case GB_LO_EARLIEST_PENDING_UPLOAD:
        return version < 11;
    default:
        return false;
    }
}

/* The error for a request's current_leader_epoch (-1: no check). */
static int16_t gb__check_epoch(int32_t current_leader_epoch)
{
    if (current_leader_epoch == -1 || current_leader_epoch == GB_LO_LEADER_EPOCH)
        return GP_E_NONE;
    return current_leader_epoch > GB_LO_LEADER_EPOCH ? GP_E_UNKNOWN_LEADER_EPOCH : GP_E_FENCED_LEADER_EPOCH;
}

/* One partition: unknown, a leader epoch that does not match, or answered. */
static void gb__answer(gb_broker *b, gb_request *req, gb_topic *t, const gp_list_offsets_request_partition *ip,
                       gp_arena *scratch, gp_list_offsets_response_partition *pr)
{
    const gp_list_offsets_request *body = req->body;
    if (pr->error_code != GP_E_NONE)
        return; /* a duplicate */
    (void)b;
    if (req->version >= 1 && gb__timestamp_too_new(ip->timestamp, req->version)) {
        pr->error_code = GP_E_UNSUPPORTED_VERSION;
        return;
    }
    gb_partition *p = t ? gb_topic_partition(t, ip->partition_index) : NULL;
    if (!p) {
        pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if ((pr->error_code = gb__check_epoch(ip->current_leader_epoch)) != GP_E_NONE)
        return;
    if (req->version == 0)
        gb__list_partition_v0(p, ip->timestamp, ip->max_num_offsets, &req->arena, pr);
    else
        gb__list_partition(p, body->isolation_level, ip->timestamp, scratch, pr);
}

void gb_handle_list_offsets(gb_broker *b, gb_request *req)
{
    const gp_list_offsets_request *body = req->body;
    gp_list_offsets_response *resp = req->resp;
    gp_arena scratch; /* batches read for one partition, reset after each */
    gp_arena_init(&scratch, NULL, 0);

    int32_t ntopics = body->topics_count > 0 ? body->topics_count : 0;
    size_t total = 0;
    for (int32_t i = 0; i < ntopics; i++)
        total += (size_t)(body->topics[i].partitions_count > 0 ? body->topics[i].partitions_count : 0);

    if (req->version >= 1) {
        const gp_list_offsets_request_partition **ips = gb__merge_topics(req, total);
        size_t k = 0;
        for (int32_t i = 0; i < resp->topics_count; i++) {
            gp_list_offsets_response_topic *out = &resp->topics[i];
            gb_topic *t = out->name.len > 0 ? gb_topic_find(b, out->name.p, (size_t)out->name.len) : NULL;
            for (int32_t j = 0; j < out->partitions_count; j++, k++)
                gb__answer(b, req, t, ips[k], &scratch, &out->partitions[j]);
        }
        gp_arena_reset(&scratch, NULL, 0);
        gb_request_respond(req);
        return;
    }

    /* v0: each entry of the request answered in its place (Kafka had no
     * duplicate check there). */
    resp->topics_count = ntopics;
    resp->topics = gp_arena_calloc(&req->arena, (size_t)(ntopics ? ntopics : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < ntopics; i++) {
        const gp_list_offsets_request_topic *in = &body->topics[i];
        gp_list_offsets_response_topic *out = &resp->topics[i];
        out->name = in->name;
        out->partitions_count = in->partitions_count > 0 ? in->partitions_count : 0;
        out->partitions = gp_arena_alloc(&req->arena, (size_t)(out->partitions_count ? out->partitions_count : 1) *
                                                          sizeof *out->partitions);
        gb_topic *t = in->name.len > 0 ? gb_topic_find(b, in->name.p, (size_t)in->name.len) : NULL;
        for (int32_t j = 0; j < out->partitions_count; j++) {
            gp_list_offsets_response_partition_init(&out->partitions[j]);
            out->partitions[j].partition_index = in->partitions[j].partition_index;
            gb__answer(b, req, t, &in->partitions[j], &scratch, &out->partitions[j]);
        }
    }
    gp_arena_reset(&scratch, NULL, 0);
    gb_request_respond(req);
}
