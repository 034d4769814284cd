/*
 * The transaction coordinator's APIs: InitProducerId with a transactional
 * id, AddPartitionsToTxn v0-v5, AddOffsetsToTxn v0-v4, EndTxn v0-v5,
 * DescribeTransactions v0, ListTransactions v0-v1 (Kafka's KafkaApis and
 * TransactionCoordinator are the reference). The rules are in
 * core/gb_txn_state; here are the wire shapes, the topic checks, and the
 * version mapping of KIP-588: a request version older than PRODUCER_FENCED
 * gets INVALID_PRODUCER_EPOCH instead (InitProducerId < 4, AddPartitionsToTxn,
 * AddOffsetsToTxn and EndTxn < 2), as Kafka answers.
 */
#include "broker/api/gb_handlers.h"

#include <inttypes.h>
#include <regex.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/base/gb_logger.h"
#include "broker/core/gb_group_coordinator.h"
#include "broker/core/gb_group_records.h"
#include "broker/core/gb_topics.h"
#include "broker/core/gb_txn_coordinator.h"
#include "broker/core/gb_txn_state.h"
#include "broker/net/gb_request.h"
#include "protocol/gp_errors.h"

static int16_t gb__fenced_for(int16_t error, int16_t version, int16_t first_fenced_version)
{
    return error == GP_E_PRODUCER_FENCED && version < first_fenced_version ? GP_E_INVALID_PRODUCER_EPOCH : error;
}

/* The coordinator's state, creating __transaction_state first (Kafka
 * creates it at the first transactional lookup): NULL if it cannot be. */
static gb_txns *gb__txns(gb_broker *b)
{
    return gb_txn_coordinator_topic(b, true) ? gb_txn_coordinator_txns(b) : NULL;
}

/* ---- InitProducerId ------------------------------------------------------------ */

static void gb__init_done(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    gb_request *req = arg;
    gp_init_producer_id_response *resp = req->resp;
    const gp_init_producer_id_request *body = req->body;
    resp->error_code = gb__fenced_for(error, req->version, 4);
    resp->producer_id = error ? -1 : pid;
    resp->producer_epoch = error ? -1 : epoch;
    if (!error)
        gb_logger_debug("%s: transactional id '%.*s' -> producer id %" PRId64 " epoch %d", gb_request_peer(req),
                        (int)body->transactional_id.len, body->transactional_id.p, pid, epoch);
    gb_request_respond(req);
}

void gb_txn_api_init_producer_id(gb_broker *b, gb_request *req)
{
    const gp_init_producer_id_request *body = req->body;
    gb_txns *txns = gb__txns(b);
    if (!txns) {
        gb__init_done(req, GP_E_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    gb_txns_init_pid(txns, body->transactional_id, body->transaction_timeout_ms, body->producer_id,
                     body->producer_epoch, gb__init_done, req);
}

/* ---- AddPartitionsToTxn ------------------------------------------------------------ */

/* One transaction of the request, in the v4+ shape (v0-v3 are mapped to it). */
typedef struct gb_add_txn {
    gb_request *req;
    struct gb_add_ctx *ctx;
    gp_str id;
    int64_t pid;
    int16_t epoch;
    bool verify_only;
    int32_t ntopics;
    const gp_str *topic_names;
    const int32_t *const *partitions;
    const int32_t *npartitions;
    int16_t **errors; /* [topic][partition] */
} gb_add_txn;

typedef struct gb_add_ctx {
    gb_request *req;
    gb_add_txn *txns;
    int32_t ntxns;
    int32_t outstanding;
    bool starting;
} gb_add_ctx;

static void gb__add_respond(gb_add_ctx *ctx)
{
    gb_request *req = ctx->req;
    gp_add_partitions_to_txn_response *resp = req->resp;
    gp_arena *a = &req->arena;
    if (req->version <= 3) {
        gb_add_txn *x = &ctx->txns[0];
        resp->results_by_topic_v3_and_below_count = x->ntopics;
        resp->results_by_topic_v3_and_below =
            gp_arena_calloc(a, x->ntopics ? (size_t)x->ntopics : 1, sizeof *resp->results_by_topic_v3_and_below);
        for (int32_t i = 0; i < x->ntopics; i++) {
            gp_add_partitions_to_txn_response_topic_result_v3 *tr = &resp->results_by_topic_v3_and_below[i];
            tr->name = x->topic_names[i];
            tr->results_by_partition_count = x->npartitions[i];
            tr->results_by_partition =
                gp_arena_calloc(a, x->npartitions[i] ? (size_t)x->npartitions[i] : 1, sizeof *tr->results_by_partition);
            for (int32_t j = 0; j < x->npartitions[i]; j++) {
                tr->results_by_partition[j].partition_index = x->partitions[i][j];
                tr->results_by_partition[j].partition_error_code = x->errors[i][j];
            }
        }
    } else {
        resp->error_code = 0;
        resp->results_by_transaction_count = ctx->ntxns;
        resp->results_by_transaction =
            gp_arena_calloc(a, ctx->ntxns ? (size_t)ctx->ntxns : 1, sizeof *resp->results_by_transaction);
        for (int32_t k = 0; k < ctx->ntxns; k++) {
            gb_add_txn *x = &ctx->txns[k];
            gp_add_partitions_to_txn_response_transaction_result *xr = &resp->results_by_transaction[k];
            xr->transactional_id = x->id;
            xr->topic_results_count = x->ntopics;
            xr->topic_results = gp_arena_calloc(a, x->ntopics ? (size_t)x->ntopics : 1, sizeof *xr->topic_results);
            for (int32_t i = 0; i < x->ntopics; i++) {
                gp_add_partitions_to_txn_response_topic_result *tr = &xr->topic_results[i];
                tr->name = x->topic_names[i];
                tr->results_by_partition_count = x->npartitions[i];
                tr->results_by_partition = gp_arena_calloc(a, x->npartitions[i] ? (size_t)x->npartitions[i] : 1,
                                                           sizeof *tr->results_by_partition);
                for (int32_t j = 0; j < x->npartitions[i]; j++) {
                    tr->results_by_partition[j].partition_index = x->partitions[i][j];
                    tr->results_by_partition[j].partition_error_code = x->errors[i][j];
                }
            }
        }
    }
    gb_request_respond(req);
}

static void gb__add_done(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    (void)pid;
    (void)epoch;
    gb_add_txn *x = arg;
    error = gb__fenced_for(error, x->req->version, 2);
    for (int32_t i = 0; i < x->ntopics; i++)
        for (int32_t j = 0; j < x->npartitions[i]; j++)
            x->errors[i][j] = error;
    gb_add_ctx *ctx = x->ctx;
    if (--ctx->outstanding == 0 && !ctx->starting)
        gb__add_respond(ctx);
}

/* Check the topics, then add (or verify) the partitions of one transaction. */
static void gb__add_one(gb_broker *b, gb_txns *txns, gb_add_txn *x)
{
    gp_arena *a = &x->req->arena;
    x->errors = gp_arena_calloc(a, x->ntopics ? (size_t)x->ntopics : 1, sizeof *x->errors);
    size_t total = 0;
    bool bad = false;
    for (int32_t i = 0; i < x->ntopics; i++) {
        x->errors[i] = gp_arena_calloc(a, x->npartitions[i] ? (size_t)x->npartitions[i] : 1, sizeof **x->errors);
        gb_topic *t = x->topic_names[i].len > 0
                          ? gb_topic_find(b, x->topic_names[i].p, (size_t)x->topic_names[i].len)
                          : NULL;
        for (int32_t j = 0; j < x->npartitions[i]; j++) {
            if (!t || !gb_topic_partition(t, x->partitions[i][j])) {
                x->errors[i][j] = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                bad = true;
            }
            total++;
        }
    }
    if (!txns) {
        x->ctx->outstanding++;
        gb__add_done(x, GP_E_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    if (x->verify_only) {
        for (int32_t i = 0; i < x->ntopics; i++)
            for (int32_t j = 0; j < x->npartitions[i]; j++)
                if (!x->errors[i][j])
                    x->errors[i][j] = gb_txns_verify(txns, x->id, x->pid, x->epoch, x->topic_names[i],
                                                     x->partitions[i][j]);
        return;
    }
    if (bad) {
        /* As Kafka: the unknown ones say so, the others were not tried. */
        for (int32_t i = 0; i < x->ntopics; i++)
            for (int32_t j = 0; j < x->npartitions[i]; j++)
                if (!x->errors[i][j])
                    x->errors[i][j] = GP_E_OPERATION_NOT_ATTEMPTED;
        return;
    }
    gb_txn_tp *tps = gp_arena_calloc(a, total ? total : 1, sizeof *tps);
    size_t k = 0;
    for (int32_t i = 0; i < x->ntopics; i++)
        for (int32_t j = 0; j < x->npartitions[i]; j++)
            tps[k++] = (gb_txn_tp){(char *)x->topic_names[i].p, (size_t)x->topic_names[i].len, x->partitions[i][j]};
    x->ctx->outstanding++;
    /* v5 comes from a partition leader adding implicitly for a version 2 client */
    gb_txns_add_partitions(txns, x->id, x->pid, x->epoch, tps, total, x->req->version >= 5 ? 2 : 0, gb__add_done, x);
}

void gb_handle_add_partitions_to_txn(gb_broker *b, gb_request *req)
{
    const gp_add_partitions_to_txn_request *body = req->body;
    gp_arena *a = &req->arena;
    gb_add_ctx *ctx = gp_arena_calloc(a, 1, sizeof *ctx);
    ctx->req = req;
    if (req->version <= 3) {
        ctx->ntxns = 1;
        ctx->txns = gp_arena_calloc(a, 1, sizeof *ctx->txns);
        gb_add_txn *x = &ctx->txns[0];
        x->id = body->v3_and_below_transactional_id;
        x->pid = body->v3_and_below_producer_id;
        x->epoch = body->v3_and_below_producer_epoch;
        int32_t nt = body->v3_and_below_topics_count > 0 ? body->v3_and_below_topics_count : 0;
        x->ntopics = nt;
        gp_str *names = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *names);
        const int32_t **parts = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *parts);
        int32_t *np = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *np);
        for (int32_t i = 0; i < nt; i++) {
            names[i] = body->v3_and_below_topics[i].name;
            parts[i] = body->v3_and_below_topics[i].partitions;
            np[i] = body->v3_and_below_topics[i].partitions_count > 0 ? body->v3_and_below_topics[i].partitions_count : 0;
        }
        x->topic_names = names;
        x->partitions = parts;
        x->npartitions = np;
    } else {
        int32_t n = body->transactions_count > 0 ? body->transactions_count : 0;
        ctx->ntxns = n;
        ctx->txns = gp_arena_calloc(a, n ? (size_t)n : 1, sizeof *ctx->txns);
        for (int32_t k = 0; k < n; k++) {
            const gp_add_partitions_to_txn_request_transaction *in = &body->transactions[k];
            gb_add_txn *x = &ctx->txns[k];
            x->id = in->transactional_id;
            x->pid = in->producer_id;
            x->epoch = in->producer_epoch;
            x->verify_only = in->verify_only;
            int32_t nt = in->topics_count > 0 ? in->topics_count : 0;
            x->ntopics = nt;
            gp_str *names = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *names);
            const int32_t **parts = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *parts);
            int32_t *np = gp_arena_calloc(a, nt ? (size_t)nt : 1, sizeof *np);
            for (int32_t i = 0; i < nt; i++) {
                names[i] = in->topics[i].name;
                parts[i] = in->topics[i].partitions;
                np[i] = in->topics[i].partitions_count > 0 ? in->topics[i].partitions_count : 0;
            }
            x->topic_names = names;
            x->partitions = parts;
            x->npartitions = np;
        }
    }
    gb_txns *txns = gb__txns(b);
    ctx->starting = true;
    for (int32_t k = 0; k < ctx->ntxns; k++) {
        ctx->txns[k].req = req;
        ctx->txns[k].ctx = ctx;
        gb__add_one(b, txns, &ctx->txns[k]);
    }
    ctx->starting = false;
    if (ctx->outstanding == 0)
        gb__add_respond(ctx);
}

/* ---- AddOffsetsToTxn ------------------------------------------------------------ */

static void gb__add_offsets_done(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    (void)pid;
    (void)epoch;
    gb_request *req = arg;
    gp_add_offsets_to_txn_response *resp = req->resp;
    resp->error_code = gb__fenced_for(error, req->version, 2);
    gb_request_respond(req);
}

void gb_handle_add_offsets_to_txn(gb_broker *b, gb_request *req)
{
    const gp_add_offsets_to_txn_request *body = req->body;
    gb_txns *txns = gb__txns(b);
    gb_topic *offsets = txns ? gb_group_coordinator_offsets_topic(b, true) : NULL;
    if (!offsets) {
        gb__add_offsets_done(req, GP_E_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    if (body->group_id.len < 0) {
        gb__add_offsets_done(req, GP_E_INVALID_REQUEST, -1, -1);
        return;
    }
    /* The group's partition of __consumer_offsets joins the transaction:
     * its TxnOffsetCommit writes there, and the markers go there. */
    gb_txn_tp tp = {
        .topic = GB_OFFSETS_TOPIC,
        .topic_len = strlen(GB_OFFSETS_TOPIC),
        .partition = gb_group_partition_for(body->group_id.p, (size_t)body->group_id.len, offsets->npartitions),
    };
    gb_txns_add_partitions(txns, body->transactional_id, body->producer_id, body->producer_epoch, &tp, 1, 0,
                           gb__add_offsets_done, req);
}

/* ---- EndTxn ------------------------------------------------------------------------ */

static void gb__end_done(void *arg, int16_t error, int64_t pid, int16_t epoch)
{
    gb_request *req = arg;
    gp_end_txn_response *resp = req->resp;
    resp->error_code = gb__fenced_for(error, req->version, 2);
    /* v5: the producer id and epoch the client goes on with */
    resp->producer_id = error ? -1 : pid;
    resp->producer_epoch = error ? -1 : epoch;
    gb_request_respond(req);
}

void gb_handle_end_txn(gb_broker *b, gb_request *req)
{
    const gp_end_txn_request *body = req->body;
    gb_txns *txns = gb__txns(b);
    if (!txns) {
        gb__end_done(req, GP_E_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    /* v5 is transaction version 2 (KIP-890 part 2): the epoch is bumped */
    gb_txns_end(txns, body->transactional_id, body->producer_id, body->producer_epoch, body->committed,
                req->version >= 5 ? 2 : 0, gb__end_done, req);
}

/* ---- DescribeTransactions, ListTransactions ------------------------------------------ */

static void gb__describe_one(gb_request *req, const gb_txn *x, gp_describe_transactions_response_transaction_state *out)
{
    gp_arena *a = &req->arena;
    gb_txn_view v;
    gb_txn_get(x, &v);
    out->transaction_state = gp_str_c(gb_txn_status_name(v.status));
    out->transaction_timeout_ms = v.timeout_ms;
    out->transaction_start_time_ms = v.start_ms;
    out->producer_id = v.producer_id;
    out->producer_epoch = v.epoch;
    /* Topics in first-seen order, each with its partitions. */
    out->topics = gp_arena_calloc(a, v.nparts ? v.nparts : 1, sizeof *out->topics);
    out->topics_count = 0;
    for (size_t i = 0; i < v.nparts; i++) {
        gp_describe_transactions_response_topic *t = NULL;
        for (int32_t k = 0; k < out->topics_count; k++)
            if ((size_t)out->topics[k].topic.len == v.parts[i].topic_len &&
                memcmp(out->topics[k].topic.p, v.parts[i].topic, v.parts[i].topic_len) == 0)
                t = &out->topics[k];
        if (!t) {
            t = &out->topics[out->topics_count++];
            t->topic = (gp_str){gp_arena_strndup(a, v.parts[i].topic, v.parts[i].topic_len),
                                (int32_t)v.parts[i].topic_len};
            t->partitions = gp_arena_calloc(a, v.nparts, sizeof *t->partitions);
            t->partitions_count = 0;
        }
        t->partitions[t->partitions_count++] = v.parts[i].partition;
    }
}

void gb_handle_describe_transactions(gb_broker *b, gb_request *req)
{
    const gp_describe_transactions_request *body = req->body;
    gp_describe_transactions_response *resp = req->resp;
    gb_txns *txns = gb_txn_coordinator_txns(b);
    int32_t n = body->transactional_ids_count > 0 ? body->transactional_ids_count : 0;
    resp->transaction_states_count = n;
    resp->transaction_states = gp_arena_calloc(&req->arena, n ? (size_t)n : 1, sizeof *resp->transaction_states);
    for (int32_t i = 0; i < n; i++) {
        gp_describe_transactions_response_transaction_state *out = &resp->transaction_states[i];
        gp_describe_transactions_response_transaction_state_init(out);
        out->transactional_id = body->transactional_ids[i];
        out->transaction_state = GP_STR_LIT("");
        out->producer_id = -1;
        out->producer_epoch = -1;
        out->transaction_start_time_ms = -1;
        out->topics_count = 0;
        const gb_txn *x = txns && body->transactional_ids[i].len > 0 ? gb_txns_find(txns, body->transactional_ids[i])
                                                                       : NULL;
        if (!x) {
            out->error_code = GP_E_TRANSACTIONAL_ID_NOT_FOUND;
            continue;
        }
        gb__describe_one(req, x, out);
    }
    gb_request_respond(req);
}

void gb_handle_list_transactions(gb_broker *b, gb_request *req)
{
    const gp_list_transactions_request *body = req->body;
    gp_list_transactions_response *resp = req->resp;
    gp_arena *a = &req->arena;
    gb_txns *txns = gb_txn_coordinator_txns(b);
    int32_t nsf = body->state_filters_count > 0 ? body->state_filters_count : 0;
    bool want[GB_TXN_STATUS_MAX + 1];
    memset(want, nsf == 0, sizeof want);
    resp->unknown_state_filters = gp_arena_calloc(a, nsf ? (size_t)nsf : 1, sizeof *resp->unknown_state_filters);
    resp->unknown_state_filters_count = 0;
    for (int32_t i = 0; i < nsf; i++) {
        gp_str f = body->state_filters[i];
        bool known = false;
        for (int s = 0; s <= GB_TXN_STATUS_MAX; s++) {
            const char *name = gb_txn_status_name(s);
            if (f.len == (int32_t)strlen(name) && memcmp(f.p, name, (size_t)f.len) == 0) {
                want[s] = known = true;
            }
        }
        if (!known)
            resp->unknown_state_filters[resp->unknown_state_filters_count++] = f;
    }
    int32_t npf = body->producer_id_filters_count > 0 ? body->producer_id_filters_count : 0;
    int64_t duration = req->version >= 1 ? body->duration_filter : -1;
    /* v2 (KIP-1152): ids must match the pattern as a whole; null or empty:
     * any id. Kafka compiles it as a Java regular expression; Gregor as a
     * POSIX extended one (glibc's regcomp), so Java-only syntax such as
     * (?i) or \d is refused like an invalid pattern: INVALID_REGULAR_EXPRESSION. */
    regex_t re;
    bool filter_ids = req->version >= 2 && body->transactional_id_pattern.len > 0;
    if (filter_ids) {
        char *anchored = gp_arena_printf(a, "^(%.*s)$", (int)body->transactional_id_pattern.len,
                                         body->transactional_id_pattern.p);
        if (memchr(body->transactional_id_pattern.p, 0, (size_t)body->transactional_id_pattern.len) ||
            regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
            resp->error_code = GP_E_INVALID_REGULAR_EXPRESSION;
            resp->transaction_states_count = 0;
            gb_request_respond(req);
            return;
        }
    }
    int64_t now = gu_wall_ms();
    size_t total = txns ? gb_txns_count(txns) : 0, cursor = 0;
    resp->transaction_states = gp_arena_calloc(a, total ? total : 1, sizeof *resp->transaction_states);
    resp->transaction_states_count = 0;
    const gb_txn *x;
    while (txns && (x = gb_txns_next(txns, &cursor))) {
        gb_txn_view v;
        gb_txn_get(x, &v);
        if (v.producer_id < 0 || !want[v.status])
            continue;
        bool pid_ok = npf == 0;
        for (int32_t i = 0; i < npf && !pid_ok; i++)
            pid_ok = body->producer_id_filters[i] == v.producer_id;
        if (!pid_ok)
            continue;
        if (duration >= 0 && (v.start_ms < 0 || now - v.start_ms <= duration))
            continue;
        if (filter_ids && regexec(&re, gp_arena_strndup(a, v.id.p, (size_t)v.id.len), 0, NULL, 0) != 0)
            continue;
        gp_list_transactions_response_transaction_state *out =
            &resp->transaction_states[resp->transaction_states_count++];
        out->transactional_id = (gp_str){gp_arena_strndup(a, v.id.p, (size_t)v.id.len), v.id.len};
        out->producer_id = v.producer_id;
        out->transaction_state = gp_str_c(gb_txn_status_name(v.status));
    }
    if (filter_ids)
        regfree(&re);
    resp->error_code = 0;
    gb_request_respond(req);
}
