/*
 * DescribeLogDirs (api key 35): the log directory and the size of every
 * partition in it, as a single-node Kafka 4.4 answers it (KafkaApis and
 * ReplicaManager.describeLogDirs), asked over the wire:
 *
 *  - one result: Gregor's only log directory, its path as Java's
 *    File.getAbsolutePath writes it (storage/gs_dirfiles), error NONE;
 *  - per partition: partition_size, the bytes of its segments' .log files
 *    (Kafka's UnifiedLog.size; the index files do not count), offset_lag 0
 *    (the high watermark is the log end offset: no replica is behind) and
 *    is_future_key false (no log moves between directories on one dir);
 *  - topics null: every partition of every topic, the internal ones
 *    (__consumer_offsets, __transaction_state) included, as Kafka lists
 *    them; a list: only the partitions named that exist, each once,
 *    unknown topics and partitions left out without an error, and no topic
 *    whose partitions are all left out;
 *  - v4+: total_bytes and usable_bytes of the directory's file system
 *    (statvfs, asked per request: one metadata syscall, as Kafka asks its
 *    FileStore per request); v5+ is_cordoned false, since Gregor has no
 *    cordoned.log.dirs.
 *
 * Kafka lists topics and partitions in hash order; Gregor lists them by
 * name and index. A directory whose file system cannot be asked gets
 * KAFKA_STORAGE_ERROR and no topics, as Kafka answers for a directory it
 * cannot use.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "broker/api/gb_handlers.h"
#include "broker/base/gb_logger.h"
#include "broker/core/gb_topics.h"
#include "protocol/gp_errors.h"
#include "storage/gs_dirfiles.h"
#include "storage/gs_log.h"

/* A partition the answer describes. */
typedef struct gb__log_dirs_pick {
    gb_topic *topic;
    int32_t partition;
} gb__log_dirs_pick;

static int gb__log_dirs_cmp(const void *a, const void *b)
{
    const gb__log_dirs_pick *x = a, *y = b;
    if (x->topic != y->topic)
        return strcmp(x->topic->name, y->topic->name);
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* The partitions the request asks for, sorted by topic name and index,
 * each once; *n is their count. */
static gb__log_dirs_pick *gb__log_dirs_picks(gb_broker *b, gb_request *req, size_t *n)
{
    const gp_describe_log_dirs_request *body = req->body;
    gb__log_dirs_pick *picks;
    size_t k = 0;
    if (body->topics_count < 0) {
        size_t nt, total = 0;
        gb_topic **list = gb_topics_list(b, &req->arena, &nt);
        for (size_t i = 0; i < nt; i++)
            total += (size_t)gb_topic_visible(list[i]);
        picks = gp_arena_calloc(&req->arena, total ? total : 1, sizeof *picks);
        for (size_t i = 0; i < nt; i++)
            for (int32_t p = 0; p < gb_topic_visible(list[i]); p++)
                picks[k++] = (gb__log_dirs_pick){list[i], p};
        *n = k;
        return picks; /* already in order */
    }
    size_t asked = 0;
    for (int32_t i = 0; i < body->topics_count; i++)
        asked += body->topics[i].partitions_count > 0 ? (size_t)body->topics[i].partitions_count : 0;
    picks = gp_arena_calloc(&req->arena, asked ? asked : 1, sizeof *picks);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_describe_log_dirs_request_topic *in = &body->topics[i];
        gb_topic *t = in->topic.len > 0 ? gb_topic_find(b, in->topic.p, (size_t)in->topic.len) : NULL;
        if (!t)
            continue;
        for (int32_t j = 0; j < in->partitions_count; j++)
            if (in->partitions[j] >= 0 && in->partitions[j] < gb_topic_visible(t))
                picks[k++] = (gb__log_dirs_pick){t, in->partitions[j]};
    }
    if (k > 1)
        qsort(picks, k, sizeof *picks, gb__log_dirs_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || gb__log_dirs_cmp(&picks[u - 1], &picks[i]) != 0)
            picks[u++] = picks[i];
    *n = u;
    return picks;
}

/* The result's topics from the sorted picks: one per run of a topic. */
static void gb__log_dirs_fill(gb_request *req, const gb__log_dirs_pick *picks, size_t n,
                              gp_describe_log_dirs_response_result *res)
{
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || picks[i].topic != picks[i - 1].topic)
            nt++;
    res->topics_count = (int32_t)nt;
    res->topics = gp_arena_calloc(&req->arena, nt ? nt : 1, sizeof *res->topics);
    gp_describe_log_dirs_response_topic *out = NULL;
    for (size_t i = 0; i < n; i++) {
        gb_topic *t = picks[i].topic;
        if (i == 0 || t != picks[i - 1].topic) {
            size_t run = 1;
            while (i + run < n && picks[i + run].topic == t)
                run++;
            out = out ? out + 1 : res->topics;
            gp_describe_log_dirs_response_topic_init(out);
            out->name = (gp_str){t->name, (int32_t)t->name_len};
            out->partitions = gp_arena_calloc(&req->arena, run, sizeof *out->partitions);
            out->partitions_count = 0;
        }
        gp_describe_log_dirs_response_partition *pp = &out->partitions[out->partitions_count++];
        gp_describe_log_dirs_response_partition_init(pp);
        pp->partition_index = picks[i].partition;
        pp->partition_size = gs_log_size(gb_topic_partition(t, picks[i].partition)->log);
        pp->offset_lag = 0;
        pp->is_future_key = false;
    }
}

void gb_handle_describe_log_dirs(gb_broker *b, gb_request *req)
{
    gp_describe_log_dirs_response *resp = req->resp;
    resp->error_code = GP_E_NONE;
    resp->results_count = 1;
    resp->results = gp_arena_calloc(&req->arena, 1, sizeof *resp->results);
    gp_describe_log_dirs_response_result *res = &resp->results[0];
    gp_describe_log_dirs_response_result_init(res);

    char path[PATH_MAX + 1];
    if (gs_dir_absolute(b->data_dir, path, sizeof path) < 0)
        snprintf(path, sizeof path, "%s", b->data_dir);
    res->log_dir = gp_str_c(gp_arena_strndup(&req->arena, path, strlen(path)));
    res->is_cordoned = false;

    int rc = gs_dir_space(b->data_dir, &res->total_bytes, &res->usable_bytes);
    if (rc < 0) {
        gb_logger_warn("DescribeLogDirs: cannot read the file system of %s: %s", path, strerror(-rc));
        res->error_code = GP_E_KAFKA_STORAGE_ERROR;
        res->total_bytes = res->usable_bytes = -1;
        res->topics_count = 0;
        res->topics = gp_arena_calloc(&req->arena, 1, sizeof *res->topics);
        gb_request_respond(req);
        return;
    }
    res->error_code = GP_E_NONE;
    size_t n;
    gb__log_dirs_pick *picks = gb__log_dirs_picks(b, req, &n);
    gb__log_dirs_fill(req, picks, n, res);
    gb_request_respond(req);
}
