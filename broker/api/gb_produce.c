/*
 * Produce v0-v13. v0-v2 carry message sets of the old formats (magic 0 and
 * 1): they are up-converted to one record batch (protocol/gp_legacy) and
 * then take the same path, as Kafka 3.x did (Kafka 4 refuses them). v13
 * names topics by id (an unknown one is UNKNOWN_TOPIC_ID, and is never
 * auto-created). From v12 (KIP-890 part 2, transaction version 2) a
 * transactional batch's partition joins the producer's transaction with
 * the write itself: the request waits for the coordinator to record it
 * (and holds the connection's next requests back meanwhile, so that they
 * do not append before it); older versions must have added it with
 * AddPartitionsToTxn (verified when transaction.partition.verification
 * .enable, KIP-890 part 1). The coordinator's refusals are answered as
 * Kafka translates them for producers: PRODUCER_FENCED as
 * INVALID_PRODUCER_EPOCH, a busy or unavailable coordinator as the
 * retriable NOT_ENOUGH_REPLICAS, a partition not in the transaction as
 * TRANSACTION_ABORTABLE from v11 (INVALID_TXN_STATE before).
 *
 * Per partition, before anything is written: the topic exists (or is
 * auto-created), the blob is one valid v2 batch (gp_batches_validate:
 * sizes, CRC-32C, codec, records, offsets), timestamps lie within the
 * topic's bounds, a compacted topic's records have keys. Then the batch is
 * recompressed if the topic's compression.type asks for another codec, and
 * appended with one write (all or nothing). A batch with a producer id is
 * first checked against the partition's producer state (storage/gs_pstate):
 * a duplicate of one of the producer's last five batches is not written
 * again but answered with its original offsets, as Kafka does; an older
 * epoch or a sequence that does not follow is refused. acks=0 gets no answer (as in
 * Kafka: a client that gets one resends); acks=1 is answered once the batch
 * is in the page cache; acks=-1 once the flusher has made it durable, unless
 * gregor.acks.all.fsync=false.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/gu_common.h"

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_cache.h"
#include "broker/core/gb_append.h"
#include "broker/core/gb_quotas.h"
#include "broker/core/gb_txn_coordinator.h"
#include "broker/core/gb_txn_state.h"
#include "broker/base/gb_job.h"
#include "broker/base/gb_logger.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_errors.h"
#include "protocol/gp_legacy.h"

/*
 * Decompression bombs. A compressed batch is first validated on the loop
 * with its records allowed to expand to GB_PRODUCE_LOOP_UNCOMPRESSED bytes:
 * every batch a client builds with default settings fits (the Java
 * producer's batch.size is 16 KiB, librdkafka's message set at most 1 MB),
 * and decompressing that much costs well under a millisecond. A batch that
 * expands further is validated again on the threadpool, up to
 * GP_BATCH_DEFAULT_MAX_UNCOMPRESSED (64 MiB, about 50 ms of zstd), while
 * the request is held (the connection's next requests wait, as for the
 * implicit add of transaction version 2): one client's bombs then cost a
 * pool thread, not every other client's turn on the loop.
 */
#define GB_PRODUCE_LOOP_UNCOMPRESSED ((size_t)1 << 20)

/* A partition's records validated on the threadpool. */
typedef struct gb_produce_checked {
    gp_records records; /* the batch (an old message set up-converted) */
    gp_batch_info info;
    int rc;
    int16_t kerr;
    const char *msg;
} gb_produce_checked;

typedef struct gb_produce gb_produce;

/* The threadpool's validation of one partition; its arena (the
 * decompressed records, messages) lives as long as the request. */
typedef struct gb_produce_job {
    gb_job job;
    gb_produce *pp;
    gp_records in;
    gp_batch_limits lim;
    int16_t version;
    gb_produce_checked out;
    gp_arena arena;
} gb_produce_job;

struct gb_produce {
    gb_broker *b;
    gb_request *req;
    int waiting;      /* flushes not done yet, + 1 while the handler runs */
    gb_topic **topics; /* per topic_data: found (or auto-created), or NULL */
    int64_t now;
    bool durable, bad_acks, txn_refused;
    int16_t added; /* v12+: the implicit add's answer; -1 when there was none */
    int32_t ti, pj; /* the partition gb__produce_all is at (it stops there for a pool job) */
    gb_produce_job *job; /* the current or last pool validation; NULL before the first */
    bool checked;        /* job->out is the validation of partition (ti, pj) */
    bool on_pool;        /* partition (ti, pj) is being validated on the threadpool */
};

/* One partition of an acks=all request waiting for the flusher. */
typedef struct gb_produce_wait {
    gb_produce *pp;
    gp_produce_response_partition_response *pr;
} gb_produce_wait;

static void gb__flushed(void *arg, int status)
{
    gb_produce_wait *w = arg;
    gb_produce *pp = w->pp;
    gp_produce_response_partition_response *pr = w->pr;
    if (status < 0) {
        pr->error_code = GP_E_KAFKA_STORAGE_ERROR;
        pr->base_offset = -1;
        pr->error_message = gp_str_c(status == -ENOENT ? "the partition was deleted" : "the log could not be synced");
    }
    if (--pp->waiting == 0)
        gb_request_respond(pp->req);
}

/* Record-level error for Produce v8+: which record of the batch. */
static void gb__record_error(gb_request *req, gp_produce_response_partition_response *pr, int32_t record,
                             const char *msg)
{
    if (record < 0)
        return;
    pr->record_errors_count = 1;
    pr->record_errors = gp_arena_calloc(&req->arena, 1, sizeof *pr->record_errors);
    pr->record_errors[0].batch_index = record;
    pr->record_errors[0].batch_index_error_message = gp_str_c(msg);
}

/* A refused idempotent batch: Kafka's error code and message. `offset` is
 * where it would have gone. */
static void gb__producer_error(gb_request *req, const gb_topic *t, const gb_partition *p,
                               gp_produce_response_partition_response *pr, int verdict, const gs_pstate_append *a,
                               const gs_pstate_verdict *v, int64_t offset)
{
    const char *msg;
    if (verdict == GS_PSTATE_ERR_EPOCH) {
        pr->error_code = GP_E_INVALID_PRODUCER_EPOCH;
        msg = gp_arena_printf(&req->arena,
                              "Epoch of producer %" PRId64 " at offset %" PRId64 " in %s-%d is %d, which is smaller "
                              "than the last seen epoch %d",
                              a->producer_id, offset, t->name, p->index, a->epoch, v->epoch);
    } else if (verdict == GS_PSTATE_ERR_TXN) {
        pr->error_code = GP_E_INVALID_TXN_STATE;
        msg = gp_arena_printf(&req->arena,
                              "Expected transactional write from producer %" PRId64 " at offset %" PRId64
                              " in partition %s-%d",
                              a->producer_id, offset, t->name, p->index);
    } else if (a->epoch != v->epoch) {
        pr->error_code = GP_E_OUT_OF_ORDER_SEQUENCE_NUMBER;
        msg = gp_arena_printf(&req->arena,
                              "Invalid sequence number for new epoch of producer %" PRId64 " at offset %" PRId64
                              " in partition %s-%d: %d (request epoch), %d (seq. number), %d (current producer epoch)",
                              a->producer_id, offset, t->name, p->index, a->epoch, a->first_seq, v->epoch);
    } else {
        pr->error_code = GP_E_OUT_OF_ORDER_SEQUENCE_NUMBER;
        msg = gp_arena_printf(&req->arena,
                              "Out of order sequence number for producer %" PRId64 " at offset %" PRId64
                              " in partition %s-%d: %d (incoming seq. number), %d (current end sequence number)",
                              a->producer_id, offset, t->name, p->index, a->first_seq, v->last_seq);
    }
    pr->error_message = gp_str_c(msg);
    gb_logger_debug("%s: %s", gb_request_peer(req), msg);
}

/* Rebuild the batch with the topic's codec. */
static int gb__recompress(gb_request *req, const gp_batch_summary *s, int codec, gp_bytes *out)
{
    gp_record *recs =
        gp_arena_alloc(&req->arena, (size_t)(s->h.records_count > 0 ? s->h.records_count : 1) * sizeof *recs);
    gp_record_iter it;
    gp_record_iter_init(&it, s->records, s->records_len, s->h.records_count);
    int32_t n = 0;
    while (n < s->h.records_count && gp_record_next(&it, &recs[n]) == 1)
        n++;
    gp_batch_params p = {
        .base_offset = 0,
        .base_timestamp = s->h.base_timestamp,
        .log_append_time = gp_batch_is_log_append_time(&s->h),
        .log_append_time_ms = s->h.max_timestamp,
        .producer_id = s->h.producer_id,
        .producer_epoch = s->h.producer_epoch,
        .base_sequence = s->h.base_sequence,
        .transactional = gp_batch_is_transactional(&s->h),
        .codec = codec,
        .level = GP_COMPRESS_LEVEL_DEFAULT,
    };
    return gp_batch_build(&req->arena, &p, recs, n, out);
}

/* What the append path's prepare step needs: the topic's codec. */
typedef struct gb_produce_prepare {
    gb_request *req;
    const gp_batch_info *info;
    int codec;
    bool append_time;
    gp_produce_response_partition_response *pr;
} gb_produce_prepare;

/* After the producer-state check, before the write: recompress to the
 * topic's codec, or correct a CreateTime batch's max timestamp. */
static int gb__prepare(void *arg, uint8_t **data, size_t *len)
{
    gb_produce_prepare *pp = arg;
    if (pp->codec >= 0 && pp->codec != pp->info->codec) {
        gp_bytes rebuilt;
        if (gb__recompress(pp->req, &pp->info->first, pp->codec, &rebuilt) < 0) {
            pp->pr->error_code = GP_E_UNKNOWN_SERVER_ERROR;
            pp->pr->error_message = gp_str_c("recompression failed");
            return -1;
        }
        *data = (uint8_t *)rebuilt.p;
        *len = (size_t)rebuilt.len;
    } else if (!pp->append_time && gp_batch_set_max_timestamp(*data, pp->info->first.max_timestamp, false)) {
        /* As Kafka's LogValidator: a CreateTime batch's maxTimestamp is the
         * largest record timestamp, whatever the producer wrote there (Sarama
         * 1.22 writes -1). The time index and ListOffsets rely on it. */
        gp_batch_update_crc(*data, *len);
    }
    return 0;
}

/* Validate one partition's records and append them through the partition
 * append path (core/gb_append.h), with acks=all waiting for the flusher
 * (pp->waiting counts it) or flush.messages otherwise; fill pr. */
/* A transaction coordinator's refusal as Kafka's ReplicaManager answers
 * it to a producer. */
static void gb__txn_refused(gb_request *req, gp_produce_response_partition_response *pr, int16_t err)
{
    switch (err) {
    case GP_E_PRODUCER_FENCED:
        pr->error_code = GP_E_INVALID_PRODUCER_EPOCH;
        break;
    case GP_E_CONCURRENT_TRANSACTIONS:
    case GP_E_COORDINATOR_LOAD_IN_PROGRESS:
    case GP_E_COORDINATOR_NOT_AVAILABLE:
    case GP_E_NOT_COORDINATOR:
        /* retriable for every producer, without a metadata refresh */
        pr->error_code = GP_E_NOT_ENOUGH_REPLICAS;
        pr->error_message = gp_str_c(gp_arena_printf(
            &req->arena, "Unable to verify the partition has been added to the transaction. Underlying error: %s",
            gp_error_name(err)));
        break;
    case GP_E_INVALID_TXN_STATE:
        pr->error_code = req->version >= 11 ? GP_E_TRANSACTION_ABORTABLE : GP_E_INVALID_TXN_STATE;
        pr->error_message = gp_str_c("Record was not part of an ongoing transaction");
        break;
    default:
        pr->error_code = err;
    }
}

/* An old message set's (v0-v2) up-conversion, then the batch's
 * validation, in arena a: on the loop or on the threadpool. Returns 1 when
 * there is nothing to append (an old set without a whole message). */
static int gb__check(int16_t version, gp_records in, const gp_batch_limits *lim, gp_arena *a, gb_produce_checked *c)
{
    c->records = in;
    c->kerr = 0;
    c->msg = NULL;
    memset(&c->info, 0, sizeof c->info);
    if (version < 3 && in.len > GP_BATCH_OFF_MAGIC && in.p[GP_BATCH_OFF_MAGIC] < GP_BATCH_MAGIC) {
        /* An old message set: one record batch from it, then as any other. */
        gp_bytes batch;
        c->rc = gp_legacy_upconvert(in.p, (size_t)in.len, lim, a, &batch, &c->kerr, &c->msg);
        if (c->rc < 0) {
            /* gp_legacy names no cause: a refusal for size after
             * decompression is worth a second try with the larger cap */
            c->info.over_uncompressed = c->kerr == GP_E_MESSAGE_TOO_LARGE;
            return c->rc;
        }
        if (batch.len == 0)
            return c->rc = 1; /* no whole message in it: as for an empty set */
        c->records = (gp_records){batch.p, batch.len, NULL};
    }
    c->rc = gp_batches_validate(c->records.p, (size_t)c->records.len, lim, a, &c->info, &c->kerr, &c->msg);
    return c->rc;
}

static void gb__check_run(void *arg)
{
    gb_produce_job *j = arg;
    (void)gb__check(j->version, j->in, &j->lim, &j->arena, &j->out);
    /* the codec contexts of a pool thread are not kept: the next job may
     * run on another thread, and a bomb's zstd window is large */
    gp_compress_thread_free();
}

static void gb__produce_all(gb_broker *b, gb_produce *pp);

static void gb__check_done(void *arg)
{
    gb_produce_job *j = arg;
    gb_produce *pp = j->pp;
    gb_request *req = pp->req;
    const gp_produce_request *body = req->body;
    /* Topics may have gone meanwhile: look up those still to append to
     * again (never creating one: any auto-creation happened before). */
    for (int32_t i = pp->ti; i < body->topic_data_count; i++) {
        const gp_produce_request_topic_data *td = &body->topic_data[i];
        if (!pp->topics[i])
            continue;
        pp->topics[i] = req->version >= 13 ? gb_topic_find_id(pp->b, &td->topic_id)
                                           : gb_topic_find(pp->b, td->name.p, (size_t)td->name.len);
    }
    pp->on_pool = false;
    pp->checked = true;
    /* First: the answer may free the request. */
    gb_request_resume(req);
    gb__produce_all(pp->b, pp);
}

static void gb__job_free(void *arg)
{
    gb_produce_job *j = arg;
    gp_arena_reset(&j->arena, NULL, 0);
    free(j);
}

/* Validate partition (pp->ti, pp->pj) on the threadpool, holding the
 * request's connection meanwhile; gb__produce_all carries on from it. */
static void gb__check_on_pool(gb_produce *pp, gp_records in, const gp_batch_limits *lim)
{
    gb_request *req = pp->req;
    gb_produce_job *j = pp->job;
    if (!j) {
        j = gu_calloc(1, sizeof *j);
        j->pp = pp;
        gp_arena_init(&j->arena, NULL, 0);
        gb_request_defer(req, gb__job_free, j);
        pp->job = j;
    }
    /* a job's records stay in its arena until the request is freed: a
     * request with several such partitions keeps each one's */
    j->in = in;
    j->lim = *lim;
    j->lim.max_uncompressed = GP_BATCH_DEFAULT_MAX_UNCOMPRESSED;
    j->version = req->version;
    pp->on_pool = true;
    gb_request_hold(req);
    gb_job_queue(pp->b->loop, &j->job, gb__check_run, gb__check_done, j);
}

/* Fill pr, or (pp->on_pool) leave the partition to the threadpool's
 * validation, after which gb__check_done carries on. */
static void gb__produce_partition(gb_broker *b, gb_request *req, gb_topic *t, gb_partition *p, gp_records records,
                                  gp_produce_response_partition_response *pr, int64_t now, gb_produce *pp, bool durable)
{
    const gc_topic_config *cfg = &t->cfg;
    if (records.len <= 0 && req->version < 3)
        return; /* nothing to append: error 0, base offset -1 (Kafka 3.9.1's answer) */
    if (records.len <= 0) {
        pr->error_code = GP_E_INVALID_RECORD;
        pr->error_message = gp_str_c("Produce request has no records");
        return;
    }
    gp_batch_limits lim = {
        .max_uncompressed = GB_PRODUCE_LOOP_UNCOMPRESSED,
        .max_batch_bytes = (size_t)(cfg->max_message_bytes > 0 ? cfg->max_message_bytes : 0),
        .max_record_bytes =
            (size_t)(cfg->max_decompressed_message_bytes > 0 ? cfg->max_decompressed_message_bytes : 0),
        .max_batches = 1,
        .from_client = true,
    };
    gb_produce_checked local, *c = &local;
    int rc;
    if (pp->checked) {
        c = &pp->job->out; /* done on the threadpool */
        pp->checked = false;
        rc = c->rc;
    } else {
        rc = gb__check(req->version, records, &lim, &req->arena, c);
        if (rc < 0 && c->info.over_uncompressed) {
            gb__check_on_pool(pp, records, &lim);
            return;
        }
    }
    if (rc == 1)
        return;
    gp_batch_info info = c->info;
    int16_t kerr = c->kerr;
    const char *msg = c->msg;
    records = c->records;
    if (rc < 0) {
        pr->error_code = kerr ? kerr : GP_E_CORRUPT_MESSAGE;
        if (rc == GP_BATCH_OLD_MAGIC)
            msg = "Produce v3 and later need record batches of magic 2";
        pr->error_message = gp_str_c(msg);
        if (rc == GP_BATCH_ERR_INVALID)
            gb__record_error(req, pr, info.error_record, msg);
        return;
    }
    if ((info.codecs & (1u << GP_CODEC_ZSTD)) && req->version < 7) {
        /* zstd needs Produce v7 (KIP-110): older clients could not read it back. */
        pr->error_code = GP_E_UNSUPPORTED_COMPRESSION_TYPE;
        pr->error_message = gp_str_c("zstd compression needs Produce v7 or later");
        return;
    }
    if (info.transactional && (pp->added >= 0 || b->cfg->transaction_partition_verification_enable)) {
        /* The partition must be in the producer's ongoing transaction:
         * added by this request (v12+), or before with AddPartitionsToTxn
         * (KIP-890 part 1; the coordinator is in this process: no round
         * trip). A batch of another producer than the one the request
         * added for is checked as in v11. */
        const gp_produce_request *body = req->body;
        int16_t verr = pp->added > 0 ? pp->added
                                     : gb_txn_coordinator_verify(b, body->transactional_id, info.producer_id,
                                                                 info.producer_epoch, t->name, t->name_len, p->index);
        if (verr) {
            gb__txn_refused(req, pr, verr);
            return;
        }
    }
    if (gc_topic_compacted(cfg) && !info.all_keys) {
        pr->error_code = GP_E_INVALID_RECORD;
        pr->error_message = gp_str_c("Compacted topic cannot accept message without key in topic partition");
        return;
    }
    bool append_time = gc_topic_log_append_time(cfg);
    if (!append_time && info.min_timestamp >= 0) {
        int64_t lo = cfg->message_timestamp_before_max_ms, hi = cfg->message_timestamp_after_max_ms;
        bool early = lo < now && info.min_timestamp < now - lo;
        bool late = hi < INT64_MAX - now && info.max_timestamp > now + hi;
        if (early || late) {
            pr->error_code = GP_E_INVALID_TIMESTAMP;
            pr->error_message = gp_str_c(gp_arena_printf(
                &req->arena,
                "Timestamp %" PRId64 " of a record is out of range. The timestamp should be within [%" PRId64
                ", %" PRId64 "]",
                early ? info.min_timestamp : info.max_timestamp, lo < now ? now - lo : INT64_MIN,
                hi < INT64_MAX - now ? now + hi : INT64_MAX));
            return;
        }
    }
    gb_produce_prepare prep = {req, &info, gc_topic_codec(cfg), append_time, pr};
    gb_append a = {
        .data = (uint8_t *)records.p, /* the request owns its frame */
        .len = (size_t)records.len,
        .now = now,
        .log_append_time = append_time,
        .pa = {.producer_id = -1},
        .create_time = info.first.max_timestamp,
        .prepare = gb__prepare,
        .prepare_arg = &prep,
        .flush = durable ? GB_FLUSH_WAIT : GB_FLUSH_MESSAGES,
    };
    if (info.producer_id >= 0)
        a.pa = (gs_pstate_append){
            .producer_id = info.producer_id,
            .epoch = info.producer_epoch,
            .first_seq = info.base_sequence,
            .last_seq = gs_pstate_seq_add(info.base_sequence, (int32_t)info.last_offset_delta),
            .transactional = info.transactional,
            /* transaction version 2: a producer new to the partition starts at 0 (Kafka 4.4) */
            .new_starts_at_zero = info.transactional && pp->added == 0,
        };
    if (durable) {
        gb_produce_wait *w = gp_arena_alloc(&req->arena, sizeof *w);
        w->pp = pp;
        w->pr = pr;
        a.on_flushed = gb__flushed;
        a.on_flushed_arg = w;
        pp->waiting++; /* before the append: the flusher may answer at once */
    }
    gb_append_result r;
    rc = gb_partition_append(b, p, &a, &r);
    if (rc < 0 && durable)
        pp->waiting--; /* the handler still holds one: never 0 here */
    switch (rc) {
    case GB_APPEND_DUPLICATE:
        /* Kafka answers NONE with the first write's offsets; its log
         * append time only where the topic uses LogAppendTime. */
        pr->base_offset = r.base;
        pr->log_append_time_ms = append_time ? r.verdict.timestamp : -1;
        pr->log_start_offset = gs_log_start_offset(p->log);
        gb_logger_debug("%s: duplicate batch of producer %" PRId64 " epoch %d sequences %d-%d in %s-%d, first "
                        "written at offset %" PRId64,
                        gb_request_peer(req), a.pa.producer_id, a.pa.epoch, a.pa.first_seq, a.pa.last_seq, t->name,
                        p->index, r.base);
        return;
    case GB_APPEND_PRODUCER:
        gb__producer_error(req, t, p, pr, r.pstate_error, &a.pa, &r.verdict, gs_log_end_offset(p->log));
        return;
    case GB_APPEND_PREPARE:
        return; /* gb__prepare filled pr */
    case GB_APPEND_STORAGE:
        pr->error_code = GP_E_KAFKA_STORAGE_ERROR;
        pr->error_message = gp_str_c(strerror(-r.errno_));
        return;
    default:
        pr->base_offset = r.base;
        pr->log_append_time_ms = append_time ? now : -1;
        pr->log_start_offset = gs_log_start_offset(p->log);
    }
}

/* A v2 record batch's transactional bit. */
static bool gb__batch_transactional(gp_records r)
{
    return r.p && r.len >= GP_BATCH_HEADER_SIZE && r.p[GP_BATCH_OFF_MAGIC] == GP_BATCH_MAGIC &&
           (r.p[GP_BATCH_OFF_ATTRIBUTES + 1] & 0x10);
}

/* Whether any partition's first batch is transactional (Kafka's
 * RequestUtils.hasTransactionalRecords). */
static bool gb__has_transactional_records(const gp_produce_request *body)
{
    for (int32_t i = 0; i < body->topic_data_count; i++) {
        const gp_produce_request_topic_data *td = &body->topic_data[i];
        for (int32_t j = 0; j < td->partition_data_count; j++) {
            if (gb__batch_transactional(td->partition_data[j].records))
                return true;
        }
    }
    return false;
}

/* Append every partition and answer (or wait for the flusher). */
static void gb__produce_all(gb_broker *b, gb_produce *pp)
{
    gb_request *req = pp->req;
    const gp_produce_request *body = req->body;
    gp_produce_response *resp = req->resp;
    /* From where a threadpool validation stopped it, if one did. */
    for (int32_t i = pp->ti; i < resp->responses_count; i++, pp->pj = 0) {
        const gp_produce_request_topic_data *td = &body->topic_data[i];
        gp_produce_response_topic_response *tr = &resp->responses[i];
        gb_topic *t = pp->topics[i];
        for (int32_t j = pp->pj; j < tr->partition_responses_count; j++) {
            const gp_produce_request_partition_data *in = &td->partition_data[j];
            gp_produce_response_partition_response *pr = &tr->partition_responses[j];
            /* a threadpool validation is for this partition alone, even
             * when the partition went meanwhile */
            bool checked = pp->checked;
            pp->checked = false;
            if (pp->txn_refused) {
                pr->error_code = GP_E_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
                continue;
            }
            if (pp->bad_acks) {
                pr->error_code = GP_E_INVALID_REQUIRED_ACKS;
                continue;
            }
            gb_partition *p = t ? gb_topic_partition(t, in->index) : NULL;
            if (!p) {
                pr->error_code = !t && req->version >= 13 ? GP_E_UNKNOWN_TOPIC_ID : GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (t->internal) {
                /* As Kafka's ReplicaManager: clients never append to
                 * __consumer_offsets or __transaction_state (a forged
                 * commit would be replayed at the next start); the
                 * coordinators write there through the append path. */
                pr->error_code = GP_E_INVALID_TOPIC_EXCEPTION;
                continue;
            }
            pp->ti = i;
            pp->pj = j;
            pp->checked = checked;
            gb__produce_partition(b, req, t, p, in->records, pr, pp->now, pp, pp->durable);
            if (pp->on_pool)
                return; /* gb__check_done carries on from this partition */
        }
    }
    /* producer_byte_rate: the whole request counts, as Kafka counts it. */
    gb_response_throttle(req, gb_quotas_record(b, GB_QK_PRODUCER_BYTE_RATE, req->hdr.client_id.p,
                                               req->hdr.client_id.len > 0 ? (size_t)req->hdr.client_id.len : 0,
                                               (double)req->size));
    if (body->acks == 0 && !pp->bad_acks) {
        gb_request_respond_none(req); /* Kafka never answers acks=0 */
        return;
    }
    if (--pp->waiting == 0)
        gb_request_respond(req);
}

static void gb__produce_added(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    (void)pid;
    (void)epoch;
    gb_produce *pp = arg;
    pp->added = error;
    /* First: the answer may free the request. The requests held back are
     * dispatched from the loop, after these appends. */
    gb_request_resume(pp->req);
    gb__produce_all(pp->b, pp);
}

/* v12+ (transaction version 2): the partitions of the request's
 * transactional batches join the producer's transaction before anything
 * is appended. Returns false when there is nothing to add. */
static bool gb__produce_add(gb_broker *b, gb_produce *pp)
{
    gb_request *req = pp->req;
    const gp_produce_request *body = req->body;
    if (req->version < 12 || pp->bad_acks || pp->txn_refused || body->transactional_id.len <= 0)
        return false;
    size_t n = 0, cap = 0;
    for (int32_t i = 0; i < body->topic_data_count; i++)
        cap += body->topic_data[i].partition_data_count > 0 ? (size_t)body->topic_data[i].partition_data_count : 0;
    gb_txn_tp *tps = gp_arena_calloc(&req->arena, cap ? cap : 1, sizeof *tps);
    int64_t pid = -1;
    int16_t epoch = -1;
    for (int32_t i = 0; i < body->topic_data_count; i++) {
        gb_topic *t = pp->topics[i];
        const gp_produce_request_topic_data *td = &body->topic_data[i];
        for (int32_t j = 0; t && j < td->partition_data_count; j++) {
            gp_records r = td->partition_data[j].records;
            if (!gb__batch_transactional(r) || !gb_topic_partition(t, td->partition_data[j].index))
                continue;
            if (pid < 0) {
                /* the request's producer: Kafka allows one per request */
                pid = (int64_t)gu_be64(r.p + GP_BATCH_OFF_PRODUCER_ID);
                epoch = (int16_t)gu_be16(r.p + GP_BATCH_OFF_PRODUCER_EPOCH);
            }
            tps[n++] = (gb_txn_tp){t->name, t->name_len, td->partition_data[j].index};
        }
    }
    if (n == 0)
        return false;
    gb_txns *txns = gb_txn_coordinator_topic(b, true) ? gb_txn_coordinator_txns(b) : NULL;
    gb_request_hold(req);
    if (!txns) {
        gb__produce_added(pp, GP_E_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return true;
    }
    gb_txns_add_partitions(txns, body->transactional_id, pid, epoch, tps, n, 2, gb__produce_added, pp);
    return true;
}

void gb_handle_produce(gb_broker *b, gb_request *req)
{
    const gp_produce_request *body = req->body;
    gp_produce_response *resp = req->resp;
    gb_produce *pp = gp_arena_calloc(&req->arena, 1, sizeof *pp);
    pp->b = b;
    pp->req = req;
    pp->waiting = 1; /* released at the end of gb__produce_all */
    pp->now = gu_wall_ms();
    pp->added = -1;
    /* As Kafka's KafkaApis.handleProduceRequest, before anything else:
     * transactional records need the request's transactional id. */
    pp->txn_refused = req->version >= 3 && body->transactional_id.len < 0 && gb__has_transactional_records(body);
    pp->bad_acks = body->acks != 0 && body->acks != 1 && body->acks != -1;
    pp->durable = body->acks == -1 && b->cfg->gregor_acks_all_fsync;

    resp->responses_count = body->topic_data_count > 0 ? body->topic_data_count : 0;
    resp->responses = gp_arena_calloc(&req->arena, (size_t)(resp->responses_count ? resp->responses_count : 1),
                                      sizeof *resp->responses);
    pp->topics = gp_arena_calloc(&req->arena, (size_t)(resp->responses_count ? resp->responses_count : 1),
                                 sizeof *pp->topics);
    for (int32_t i = 0; i < resp->responses_count; i++) {
        const gp_produce_request_topic_data *td = &body->topic_data[i];
        gp_produce_response_topic_response *tr = &resp->responses[i];
        tr->name = td->name;
        tr->topic_id = td->topic_id;
        tr->partition_responses_count = td->partition_data_count > 0 ? td->partition_data_count : 0;
        tr->partition_responses =
            gp_arena_alloc(&req->arena, (size_t)(tr->partition_responses_count ? tr->partition_responses_count : 1) *
                                            sizeof *tr->partition_responses);
        for (int32_t j = 0; j < tr->partition_responses_count; j++) {
            gp_produce_response_partition_response *pr = &tr->partition_responses[j];
            gp_produce_response_partition_response_init(pr);
            pr->index = td->partition_data[j].index;
            pr->base_offset = -1;
        }
        if (pp->bad_acks || pp->txn_refused)
            continue;
        if (req->version >= 13) {
            pp->topics[i] = gb_topic_find_id(b, &td->topic_id);
        } else {
            pp->topics[i] = gb_topic_find(b, td->name.p, (size_t)td->name.len);
            /* never an internal topic: its coordinator creates it */
            if (!pp->topics[i] && td->name.len > 0 && !gb_topic_name_is_internal(td->name.p, (size_t)td->name.len))
                pp->topics[i] = gb_topic_auto_create(b, td->name.p, (size_t)td->name.len);
        }
    }
    if (!gb__produce_add(b, pp))
        gb__produce_all(b, pp);
}
