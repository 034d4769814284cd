/*
 * The transaction coordinator's state machine (core/gb_txn_state.c) with a
 * fake clock and fake hooks that record every call: the __transaction_state
 * records written (decoded and checked field by field), the markers asked
 * for (commit flag, producer id, epoch) and the producer ids asked for. The
 * hooks complete synchronously or leave the test to complete them later,
 * with or without an error. Kafka's TransactionCoordinator and
 * TransactionMetadata are the reference for the expected answers. Also the
 * record codec (core/gb_txn_records.c): round trips, Kafka's v0 byte layout
 * and a flexible v1 value with tagged fields.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/gb_txn_records.h"
#include "broker/core/gb_txn_state.h"
#include "protocol/gp_errors.h"

/* ---- harness -------------------------------------------------------------- */

#define MAXW 512
#define MAXM 64
#define MAXP 64

typedef struct wrec {
    gb_txn *x; /* may be freed once an expiry completes */
    int32_t part;
    uint8_t *key;
    int32_t klen;
    uint8_t *val;
    int32_t vlen; /* -1: tombstone */
    bool done;
} wrec;

typedef struct mrec {
    gb_txn *x;
    bool commit;
    int64_t pid;
    int16_t epoch;
    size_t nparts;
    int status;
} mrec;

typedef struct ans {
    int n; /* times answered */
    int16_t err;
    int64_t pid;
    int16_t epoch;
} ans;

static gb_txns *T;
static int64_t clk;
static gb_txn_limits LIM;
static wrec W[MAXW];
static int nw;
static mrec M[MAXM];
static int nm;
static gb_txn *P[MAXP];
static int np;
static bool write_sync, markers_sync, pid_sync;
static int16_t write_err, pid_err;
static int64_t next_pid;
static gp_arena A;

static int64_t h_now(void *ctx)
{
    (void)ctx;
    return clk;
}

static void h_write(void *ctx, gb_txn *x, int32_t log_partition, gp_bytes key, gp_bytes value)
{
    (void)ctx;
    ck_assert_int_lt(nw, MAXW);
    wrec *w = &W[nw++];
    w->x = x;
    w->part = log_partition;
    w->klen = key.len;
    w->key = malloc(key.len > 0 ? (size_t)key.len : 1);
    if (key.len > 0)
        memcpy(w->key, key.p, (size_t)key.len);
    w->vlen = value.len;
    w->val = malloc(value.len > 0 ? (size_t)value.len : 1);
    if (value.len > 0)
        memcpy(w->val, value.p, (size_t)value.len);
    w->done = false;
    if (write_sync) {
        w->done = true;
        gb_txns_written(T, x, write_err);
    }
}

static void h_markers(void *ctx, gb_txn *x)
{
    (void)ctx;
    ck_assert_int_lt(nm, MAXM);
    gb_txn_view v;
    gb_txn_get(x, &v);
    M[nm++] = (mrec){x, gb_txn_markers_commit(x), v.producer_id, v.epoch, v.nparts, v.status};
    if (markers_sync)
        gb_txns_markers_done(T, x);
}

static void h_new_pid(void *ctx, gb_txn *x)
{
    (void)ctx;
    ck_assert_int_lt(np, MAXP);
    P[np++] = x;
    if (pid_sync)
        gb_txns_pid(x, pid_err, pid_err ? -1 : next_pid++);
}

static const gb_txn_hooks HOOKS = {.ctx = NULL, .now = h_now, .write = h_write, .markers = h_markers, .new_pid = h_new_pid};

static void setup(void)
{
    clk = 1000000;
    LIM = (gb_txn_limits){
        .max_timeout_ms = 900000, .id_expiration_ms = 604800000, .log_num_partitions = 50, .transaction_version = 2};
    nw = nm = np = 0;
    write_sync = markers_sync = pid_sync = true;
    write_err = pid_err = 0;
    next_pid = 1000;
    gp_arena_init(&A, NULL, 0);
    T = gb_txns_new(&LIM, &HOOKS);
}

static void free_writes(void)
{
    for (int i = 0; i < nw; i++) {
        free(W[i].key);
        free(W[i].val);
    }
    nw = 0;
}

static void teardown(void)
{
    gb_txns_free(T);
    T = NULL;
    free_writes();
    gp_arena_reset(&A, NULL, 0);
}

static void on_ans(void *arg, int16_t err, int64_t pid, int16_t epoch)
{
    ans *a = arg;
    a->n++;
    a->err = err;
    a->pid = pid;
    a->epoch = epoch;
}

static void init(ans *a, const char *id, int32_t timeout_ms, int64_t pid, int16_t epoch)
{
    *a = (ans){0, -100, -100, -100};
    gb_txns_init_pid(T, gp_str_c(id), timeout_ms, pid, epoch, on_ans, a);
}

/* spec: "foo:0,foo:1,bar:3"; tv: 0 (AddPartitionsToTxn) or 2 (implicit) */
static void add_tv(ans *a, const char *id, int64_t pid, int16_t epoch, const char *spec, int16_t tv)
{
    *a = (ans){0, -100, -100, -100};
    gb_txn_tp tps[32];
    size_t n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = '\0';
        tps[n].topic = tok;
        tps[n].topic_len = strlen(tok);
        tps[n].partition = atoi(colon + 1);
        n++;
    }
    gb_txns_add_partitions(T, gp_str_c(id), pid, epoch, tps, n, tv, on_ans, a);
}

static void add(ans *a, const char *id, int64_t pid, int16_t epoch, const char *spec)
{
    add_tv(a, id, pid, epoch, spec, 0);
}

static void end_tv(ans *a, const char *id, int64_t pid, int16_t epoch, bool commit, int16_t tv)
{
    *a = (ans){0, -100, -100, -100};
    gb_txns_end(T, gp_str_c(id), pid, epoch, commit, tv, on_ans, a);
}

static void end(ans *a, const char *id, int64_t pid, int16_t epoch, bool commit)
{
    end_tv(a, id, pid, epoch, commit, 0);
}

static int16_t verify(const char *id, int64_t pid, int16_t epoch, const char *topic, int32_t partition)
{
    return gb_txns_verify(T, gp_str_c(id), pid, epoch, gp_str_c(topic), partition);
}

static void complete_write(int i, int16_t err)
{
    ck_assert_int_lt(i, nw);
    ck_assert_msg(!W[i].done, "write %d completed twice", i);
    W[i].done = true;
    gb_txns_written(T, W[i].x, err);
}

/* The answer: once, with this error (and for 0 with pid/epoch when >= 0). */
#define ck_ans(a, e) \
    do { \
        ck_assert_int_eq((a).n, 1); \
        ck_assert_int_eq((a).err, (e)); \
    } while (0)
#define ck_ans_pid(a, p, ep) \
    do { \
        ck_ans(a, 0); \
        ck_assert_int_eq((a).pid, (p)); \
        ck_assert_int_eq((a).epoch, (ep)); \
    } while (0)

/* The key of write i: its transactional id and the log partition. */
static void ck_wkey(int i, const char *id)
{
    ck_assert_int_lt(i, nw);
    gp_str s;
    ck_assert_int_eq(gb_txn_key_decode((gp_bytes){W[i].key, W[i].klen}, &s), 0);
    ck_assert_msg(gp_str_eq_c(s, id), "write %d for %.*s, expected %s", i, s.len, s.p, id);
    ck_assert_int_eq(W[i].part, gb_txns_partition_for(T, gp_str_c(id)));
}

static gb_txn_value wval(int i)
{
    ck_assert_int_lt(i, nw);
    ck_assert_int_ge(W[i].vlen, 0);
    gb_txn_value v;
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){W[i].val, W[i].vlen}, &v), 0);
    return v;
}

/* "bar:3,foo:0,foo:1"; "null" for a null array. */
static const char *parts_str(const gb_txn_value *v)
{
    static char buf[1024];
    if (v->ntopics < 0)
        return "null";
    size_t o = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < v->ntopics; i++)
        for (int32_t j = 0; j < v->topics[i].npartitions; j++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%.*s:%d", o ? "," : "", v->topics[i].topic.len,
                                  v->topics[i].topic.p, v->topics[i].partitions[j]);
    return buf;
}

/* Check write i: id, status, pid, epoch, timeout, partitions, update and start times. */
static void ck_write(int i, const char *id, int status, int64_t pid, int16_t epoch, int32_t timeout_ms,
                     const char *parts, int64_t update_ms, int64_t start_ms)
{
    ck_wkey(i, id);
    gb_txn_value v = wval(i);
    ck_assert_msg(v.status == status, "write %d: status %s, expected %s", i, gb_txn_status_name(v.status),
                  gb_txn_status_name(status));
    ck_assert_int_eq(v.producer_id, pid);
    ck_assert_int_eq(v.producer_epoch, epoch);
    ck_assert_int_eq(v.timeout_ms, timeout_ms);
    ck_assert_str_eq(parts_str(&v), parts);
    ck_assert_int_eq(v.last_update_ms, update_ms);
    ck_assert_int_eq(v.start_ms, start_ms);
}

static gb_txn_view view(const char *id)
{
    const gb_txn *x = gb_txns_find(T, gp_str_c(id));
    ck_assert_msg(x != NULL, "%s not found", id);
    gb_txn_view v;
    gb_txn_get(x, &v);
    return v;
}

static const char *view_parts(const gb_txn_view *v)
{
    /* sorted, like the records */
    static char buf[1024];
    char *items[64];
    ck_assert_uint_le(v->nparts, 64);
    for (size_t i = 0; i < v->nparts; i++) {
        items[i] = malloc(128);
        snprintf(items[i], 128, "%s:%d", v->parts[i].topic, v->parts[i].partition);
    }
    for (size_t i = 1; i < v->nparts; i++)
        for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
            char *t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->nparts; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "," : "", items[i]);
        free(items[i]);
    }
    return buf;
}

/* A replayed record: id and value. */
static int replay(const char *id, const gb_txn_value *v)
{
    gp_bytes key = gb_txn_key_encode(&A, gp_str_c(id));
    gp_bytes val = v ? gb_txn_value_encode(&A, v) : (gp_bytes){NULL, -1};
    return gb_txns_replay(T, key, val);
}

static gb_txn_value value(int64_t pid, int16_t epoch, int32_t timeout_ms, int status, int64_t update_ms,
                          int64_t start_ms)
{
    return (gb_txn_value){.producer_id = pid,
                          .previous_producer_id = -1,
                          .next_producer_id = -1,
                          .producer_epoch = epoch,
                          .timeout_ms = timeout_ms,
                          .status = (int8_t)status,
                          .ntopics = status == GB_TXN_EMPTY ? -1 : 0,
                          .last_update_ms = update_ms,
                          .start_ms = start_ms};
}

/* An id with producer id next_pid and epoch 0, synchronously. */
static int64_t fresh(const char *id, int32_t timeout_ms)
{
    ans a;
    int64_t pid = next_pid;
    init(&a, id, timeout_ms, -1, -1);
    ck_ans_pid(a, pid, 0);
    return pid;
}

/* ---- InitProducerId --------------------------------------------------------- */

START_TEST(test_init_new_id)
{
    pid_sync = false;
    write_sync = false;
    ans a;
    init(&a, "t1", 60000, -1, -1);
    ck_assert_int_eq(np, 1); /* a producer id asked for first */
    ck_assert_int_eq(nw, 0);
    ck_assert_int_eq(a.n, 0);
    ck_assert_uint_eq(gb_txns_count(T), 1);
    ck_assert(view("t1").pending);
    gb_txns_pid(P[0], 0, 4242);
    ck_assert_int_eq(nw, 1); /* then Empty with epoch 0 */
    ck_assert_int_eq(a.n, 0);
    ck_write(0, "t1", GB_TXN_EMPTY, 4242, 0, 60000, "null", clk, -1);
    complete_write(0, 0);
    ck_ans_pid(a, 4242, 0);
    gb_txn_view v = view("t1");
    ck_assert_int_eq(v.producer_id, 4242);
    ck_assert_int_eq(v.epoch, 0);
    ck_assert_int_eq(v.status, GB_TXN_EMPTY);
    ck_assert_int_eq(v.timeout_ms, 60000);
    ck_assert_int_eq(v.last_update_ms, clk);
    ck_assert(!v.pending);

    /* a second init: the same id, epoch 1, no new producer id */
    clk += 50;
    write_sync = true;
    init(&a, "t1", 30000, -1, -1);
    ck_assert_int_eq(np, 1);
    ck_assert_int_eq(nw, 2);
    ck_write(1, "t1", GB_TXN_EMPTY, 4242, 1, 30000, "null", clk, -1);
    ck_ans_pid(a, 4242, 1);
    v = view("t1");
    ck_assert_int_eq(v.epoch, 1);
    ck_assert_int_eq(v.timeout_ms, 30000);
    ck_assert_int_eq(v.last_update_ms, clk);
}
END_TEST

START_TEST(test_init_invalid)
{
    ans a;
    init(&a, "t", 0, -1, -1);
    ck_ans(a, GP_E_INVALID_TRANSACTION_TIMEOUT);
    init(&a, "t", -5, -1, -1);
    ck_ans(a, GP_E_INVALID_TRANSACTION_TIMEOUT);
    init(&a, "t", LIM.max_timeout_ms + 1, -1, -1);
    ck_ans(a, GP_E_INVALID_TRANSACTION_TIMEOUT);
    init(&a, "", 1000, -1, -1);
    ck_ans(a, GP_E_INVALID_REQUEST);
    a = (ans){0};
    gb_txns_init_pid(T, GP_STR_NULL, 1000, -1, -1, on_ans, &a);
    ck_ans(a, GP_E_INVALID_REQUEST);
    ck_assert_int_eq(np, 0);
    ck_assert_int_eq(nw, 0);
    ck_assert_uint_eq(gb_txns_count(T), 0);
    /* the maximum itself is fine */
    init(&a, "t", LIM.max_timeout_ms, -1, -1);
    ck_ans_pid(a, 1000, 0);
    /* and a bad timeout on a known id changes nothing */
    init(&a, "t", LIM.max_timeout_ms + 1, -1, -1);
    ck_ans(a, GP_E_INVALID_TRANSACTION_TIMEOUT);
    ck_assert_int_eq(nw, 1);
    ck_assert_int_eq(view("t").epoch, 0);
}
END_TEST

START_TEST(test_init_write_error)
{
    ans a;
    int64_t pid = fresh("t", 60000);
    write_err = GP_E_NOT_ENOUGH_REPLICAS;
    clk += 10;
    init(&a, "t", 20000, -1, -1);
    ck_ans(a, GP_E_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(nw, 2); /* tried */
    gb_txn_view v = view("t");
    ck_assert_int_eq(v.producer_id, pid);
    ck_assert_int_eq(v.epoch, 0);
    ck_assert_int_eq(v.timeout_ms, 60000);
    ck_assert_int_eq(v.status, GB_TXN_EMPTY);
    ck_assert_int_eq(v.last_update_ms, clk - 10);
    ck_assert(!v.pending);
    write_err = 0;
    init(&a, "t", 20000, -1, -1);
    ck_ans_pid(a, pid, 1); /* the failed bump did not count */

    /* a new id whose first write fails: nothing was handed out, so its
     * producer id with epoch -1 is no producer (AddPartitions refused);
     * its retry gets epoch 0 */
    write_err = GP_E_NOT_ENOUGH_REPLICAS;
    init(&a, "u", 20000, -1, -1);
    ck_ans(a, GP_E_NOT_ENOUGH_REPLICAS);
    write_err = 0;
    {
        gb_txn_view uv;
        gb_txn_get(gb_txns_find(T, gp_str_c("u")), &uv);
        ans b;
        add(&b, "u", uv.producer_id, -1, "foo:0");
        ck_ans(b, GP_E_INVALID_PRODUCER_ID_MAPPING);
    }
    init(&a, "u", 20000, -1, -1);
    ck_assert_int_eq(a.err, 0);
    ck_assert_int_eq(a.epoch, 0);
}
END_TEST

START_TEST(test_init_pid_error)
{
    ans a;
    pid_err = GP_E_COORDINATOR_NOT_AVAILABLE;
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_COORDINATOR_NOT_AVAILABLE);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("t")));
    ck_assert_uint_eq(gb_txns_count(T), 0);
    ck_assert_int_eq(nw, 0);

    /* later */
    pid_sync = false;
    init(&a, "t", 60000, -1, -1);
    ck_assert_int_eq(a.n, 0);
    ck_assert_ptr_nonnull(gb_txns_find(T, gp_str_c("t")));
    ans b;
    init(&b, "t", 60000, -1, -1); /* meanwhile */
    ck_ans(b, GP_E_CONCURRENT_TRANSACTIONS);
    gb_txns_pid(P[np - 1], GP_E_COORDINATOR_NOT_AVAILABLE, -1);
    ck_ans(a, GP_E_COORDINATOR_NOT_AVAILABLE);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("t")));
    ck_assert_int_eq(nw, 0);

    pid_sync = true;
    pid_err = 0;
    fresh("t", 60000);
}
END_TEST

START_TEST(test_kip360)
{
    ans a;
    int64_t pid = fresh("t", 60000);
    /* the current (pid, epoch): bumped */
    init(&a, "t", 60000, pid, 0);
    ck_ans_pid(a, pid, 1);
    ck_write(nw - 1, "t", GB_TXN_EMPTY, pid, 1, 60000, "null", clk, -1);
    /* a retry with the epoch before the bump: the same answer again */
    int w = nw;
    init(&a, "t", 60000, pid, 0);
    ck_ans_pid(a, pid, 1);
    if (nw > w)
        ck_write(nw - 1, "t", GB_TXN_EMPTY, pid, 1, 60000, "null", clk, -1);
    ck_assert_int_eq(view("t").epoch, 1);
    /* and again from epoch 1 */
    init(&a, "t", 60000, pid, 1);
    ck_ans_pid(a, pid, 2);
    /* epoch 0 is now two bumps old */
    init(&a, "t", 60000, pid, 0);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    /* an unknown producer id */
    w = nw;
    init(&a, "t", 60000, pid + 77, 2);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    ck_assert_int_eq(nw, w);
    ck_assert_int_eq(view("t").epoch, 2);
    /* a new producer (no pid): bumped, and the last epoch forgotten */
    init(&a, "t", 60000, -1, -1);
    ck_ans_pid(a, pid, 3);
    init(&a, "t", 60000, pid, 2);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    /* a bigger epoch than ours */
    init(&a, "t", 60000, pid, 9);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    ck_assert_int_eq(view("t").epoch, 3);
}
END_TEST

START_TEST(test_epoch_exhaustion)
{
    ans a;
    gb_txn_value v = value(77, INT16_MAX - 1, 60000, GB_TXN_EMPTY, clk - 5, -1);
    ck_assert_int_eq(replay("t", &v), 0);
    ck_assert_int_eq(view("t").epoch, INT16_MAX - 1);
    init(&a, "t", 60000, -1, -1);
    ck_assert_int_eq(np, 1); /* a new producer id */
    ck_ans_pid(a, 1000, 0);
    ck_write(0, "t", GB_TXN_EMPTY, 1000, 0, 60000, "null", clk, -1);
    ck_assert_int_eq(view("t").producer_id, 1000);

    /* KIP-360 with the exhausted epoch: rotated too */
    v = value(78, INT16_MAX - 1, 60000, GB_TXN_COMPLETE_COMMIT, clk - 5, clk - 9);
    ck_assert_int_eq(replay("u", &v), 0);
    init(&a, "u", 60000, 78, INT16_MAX - 1);
    ck_assert_int_eq(np, 2);
    ck_ans_pid(a, 1001, 0);
    ck_write(1, "u", GB_TXN_EMPTY, 1001, 0, 60000, "null", clk, -1);

    /* the rotation's producer id request fails: the entry stays as it was */
    v = value(79, INT16_MAX - 1, 60000, GB_TXN_EMPTY, clk - 5, -1);
    ck_assert_int_eq(replay("w", &v), 0);
    pid_err = GP_E_COORDINATOR_NOT_AVAILABLE;
    init(&a, "w", 60000, -1, -1);
    ck_ans(a, GP_E_COORDINATOR_NOT_AVAILABLE);
    gb_txn_view x = view("w");
    ck_assert_int_eq(x.producer_id, 79);
    ck_assert_int_eq(x.epoch, INT16_MAX - 1);
    pid_err = 0;
    init(&a, "w", 60000, -1, -1);
    ck_ans_pid(a, 1002, 0);
}
END_TEST

/* Was a bug: after a KIP-360 rotation (InitProducerId(pid, exhausted epoch) ->
 * new pid, epoch 0), Kafka's prepareProducerIdRotation(recordLastEpoch =
 * true) keeps lastProducerEpoch = the old epoch, so a retry of that
 * InitProducerId (old pid, old epoch; accepted by isValidProducerId through
 * the previous producer id) is answered (new pid, 0) again. gb_txns_pid sets
 * tr.last_epoch = -1 for every rotation, so the retry is PRODUCER_FENCED. */
START_TEST(test_rotation_retry)
{
    ans a;
    gb_txn_value v = value(78, INT16_MAX - 1, 60000, GB_TXN_EMPTY, clk - 5, -1);
    ck_assert_int_eq(replay("u", &v), 0);
    init(&a, "u", 60000, 78, INT16_MAX - 1);
    ck_ans_pid(a, 1000, 0);
    init(&a, "u", 60000, 78, INT16_MAX - 1); /* the answer was lost: a retry */
    ck_ans_pid(a, 1000, 0);
}
END_TEST

/* ---- AddPartitionsToTxn and verification ------------------------------------------- */

START_TEST(test_add_partitions)
{
    ans a;
    int64_t pid = fresh("t", 60000);
    init(&a, "t", 60000, -1, -1);
    ck_ans_pid(a, pid, 1);
    ck_assert_int_eq(verify("t", pid, 1, "foo", 0), GP_E_INVALID_TXN_STATE); /* Empty */
    clk += 10;
    int64_t t0 = clk;
    int w = nw;
    add(&a, "t", pid, 1, "foo:0,foo:1");
    ck_ans(a, 0);
    ck_assert_int_eq(nw, w + 1);
    ck_write(w, "t", GB_TXN_ONGOING, pid, 1, 60000, "foo:0,foo:1", t0, t0);
    gb_txn_view v = view("t");
    ck_assert_int_eq(v.status, GB_TXN_ONGOING);
    ck_assert_int_eq(v.start_ms, t0);
    ck_assert_str_eq(view_parts(&v), "foo:0,foo:1");

    /* the same again: nothing written */
    clk += 5;
    add(&a, "t", pid, 1, "foo:1,foo:0");
    ck_ans(a, 0);
    ck_assert_int_eq(nw, w + 1);
    /* more: the union */
    add(&a, "t", pid, 1, "bar:3,foo:0,bar:3");
    ck_ans(a, 0);
    ck_assert_int_eq(nw, w + 2);
    ck_write(w + 1, "t", GB_TXN_ONGOING, pid, 1, 60000, "bar:3,foo:0,foo:1", clk, t0);
    v = view("t");
    ck_assert_int_eq(v.start_ms, t0);
    ck_assert_int_eq(v.last_update_ms, clk);
    ck_assert_str_eq(view_parts(&v), "bar:3,foo:0,foo:1");

    /* the wrong producer, an unknown id, an old epoch, an empty id */
    add(&a, "t", pid + 1, 1, "baz:0");
    ck_ans(a, GP_E_INVALID_PRODUCER_ID_MAPPING);
    add(&a, "nope", pid, 1, "baz:0");
    ck_ans(a, GP_E_INVALID_PRODUCER_ID_MAPPING);
    add(&a, "t", pid, 0, "baz:0");
    ck_ans(a, GP_E_PRODUCER_FENCED);
    add(&a, "", pid, 1, "baz:0");
    ck_ans(a, GP_E_INVALID_REQUEST);
    ck_assert_int_eq(nw, w + 2);

    /* verification */
    ck_assert_int_eq(verify("t", pid, 1, "foo", 0), 0);
    ck_assert_int_eq(verify("t", pid, 1, "bar", 3), 0);
    ck_assert_int_eq(verify("t", pid, 1, "bar", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 1, "fo", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 1, "baz", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_PRODUCER_FENCED);
    ck_assert_int_eq(verify("t", pid + 1, 1, "foo", 0), GP_E_INVALID_PRODUCER_ID_MAPPING);
    ck_assert_int_eq(verify("nope", pid, 1, "foo", 0), GP_E_INVALID_PRODUCER_ID_MAPPING);

    /* a pending AddPartitions: the others wait, its partitions do not verify yet */
    write_sync = false;
    ans p;
    add(&p, "t", pid, 1, "baz:0");
    ck_assert_int_eq(p.n, 0);
    ck_assert_int_eq(nw, w + 3);
    ck_write(w + 2, "t", GB_TXN_ONGOING, pid, 1, 60000, "bar:3,baz:0,foo:0,foo:1", clk, t0);
    add(&a, "t", pid, 1, "qux:0");
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    end(&a, "t", pid, 1, true);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nw, w + 3);
    ck_assert_int_eq(verify("t", pid, 1, "baz", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 1, "foo", 0), 0);
    ck_assert(view("t").pending);
    v = view("t");
    ck_assert_str_eq(view_parts(&v), "bar:3,foo:0,foo:1");
    complete_write(w + 2, 0);
    ck_ans(p, 0);
    ck_assert_int_eq(verify("t", pid, 1, "baz", 0), 0);

    /* a failed AddPartitions: its partitions are forgotten, a retry writes them */
    add(&p, "t", pid, 1, "qux:0,foo:0");
    complete_write(w + 3, GP_E_NOT_ENOUGH_REPLICAS);
    ck_ans(p, GP_E_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(verify("t", pid, 1, "qux", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 1, "foo", 0), 0);
    v = view("t");
    ck_assert_str_eq(view_parts(&v), "bar:3,baz:0,foo:0,foo:1");
    ck_assert_int_eq(v.status, GB_TXN_ONGOING);
    add(&p, "t", pid, 1, "qux:0");
    ck_assert_int_eq(nw, w + 5);
    ck_write(w + 4, "t", GB_TXN_ONGOING, pid, 1, 60000, "bar:3,baz:0,foo:0,foo:1,qux:0", clk, t0);
    complete_write(w + 4, 0);
    ck_ans(p, 0);
    ck_assert_int_eq(verify("t", pid, 1, "qux", 0), 0);
}
END_TEST

START_TEST(test_add_first_pending)
{
    /* Empty -> Ongoing not yet durable: nothing verifies; a failure leaves Empty */
    ans a;
    int64_t pid = fresh("t", 60000);
    write_sync = false;
    add(&a, "t", pid, 0, "foo:0");
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(view("t").status, GB_TXN_EMPTY);
    complete_write(nw - 1, GP_E_NOT_ENOUGH_REPLICAS);
    ck_ans(a, GP_E_NOT_ENOUGH_REPLICAS);
    gb_txn_view v = view("t");
    ck_assert_int_eq(v.status, GB_TXN_EMPTY);
    ck_assert_int_eq(v.start_ms, -1);
    ck_assert_uint_eq(v.nparts, 0);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_INVALID_TXN_STATE);
    clk += 7;
    add(&a, "t", pid, 0, "bar:1");
    ck_write(nw - 1, "t", GB_TXN_ONGOING, pid, 0, 60000, "bar:1", clk, clk);
    complete_write(nw - 1, 0);
    ck_ans(a, 0);
    ck_assert_int_eq(verify("t", pid, 0, "bar", 1), 0);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_INVALID_TXN_STATE);
}
END_TEST

/* ---- EndTxn ------------------------------------------------------------------------- */

static void end_txn(bool commit)
{
    int prep = commit ? GB_TXN_PREPARE_COMMIT : GB_TXN_PREPARE_ABORT;
    int comp = commit ? GB_TXN_COMPLETE_COMMIT : GB_TXN_COMPLETE_ABORT;
    ans a;
    int64_t pid = fresh("t", 60000);
    int64_t t0 = clk;
    add(&a, "t", pid, 0, "foo:0,bar:1");
    ck_ans(a, 0);
    write_sync = false;
    markers_sync = false;
    clk += 100;
    int w = nw;
    ans e;
    end(&e, "t", pid, 0, commit);
    ck_assert_int_eq(e.n, 0); /* answered after the write */
    ck_assert_int_eq(nw, w + 1);
    ck_write(w, "t", prep, pid, 0, 60000, "bar:1,foo:0", clk, t0);
    ck_assert_int_eq(nm, 0);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_CONCURRENT_TRANSACTIONS);
    end(&a, "t", pid, 0, commit);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    complete_write(w, 0);
    ck_ans(e, 0);
    ck_assert_int_eq(nm, 1); /* then the markers */
    ck_assert_int_eq(M[0].commit, commit);
    ck_assert_int_eq(M[0].pid, pid);
    ck_assert_int_eq(M[0].epoch, 0);
    ck_assert_uint_eq(M[0].nparts, 2);
    ck_assert_int_eq(M[0].status, prep);
    gb_txn_view v = view("t");
    ck_assert_int_eq(v.status, prep);
    ck_assert(!v.pending);

    /* while the markers are written */
    end(&a, "t", pid, 0, commit);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    end(&a, "t", pid, 0, !commit);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    add(&a, "t", pid, 0, "baz:0");
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nw, w + 1);

    clk += 100;
    gb_txns_markers_done(T, M[0].x);
    ck_assert_int_eq(nw, w + 2);
    ck_write(w + 1, "t", comp, pid, 0, 60000, "", clk, t0);
    ck_assert_int_eq(wval(w + 1).ntopics, 0); /* an empty array, not null */
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_CONCURRENT_TRANSACTIONS);
    end(&a, "t", pid, 0, commit);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    complete_write(w + 1, 0);
    v = view("t");
    ck_assert_int_eq(v.status, comp);
    ck_assert_uint_eq(v.nparts, 0);
    ck_assert_int_eq(v.last_update_ms, clk);
    ck_assert(!v.pending);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_INVALID_TXN_STATE);

    /* a retry is answered as it was; the other one is refused; nothing written */
    end(&a, "t", pid, 0, commit);
    ck_ans(a, 0);
    end(&a, "t", pid, 0, !commit);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    end(&a, "t", pid, 1, commit);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    end(&a, "t", pid + 1, 0, commit);
    ck_ans(a, GP_E_INVALID_PRODUCER_ID_MAPPING);
    ck_assert_int_eq(nw, w + 2);
    ck_assert_int_eq(nm, 1);

    /* the next transaction: only its partitions, a new start */
    write_sync = true;
    clk += 100;
    add(&a, "t", pid, 0, "baz:2");
    ck_ans(a, 0);
    ck_write(w + 2, "t", GB_TXN_ONGOING, pid, 0, 60000, "baz:2", clk, clk);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_INVALID_TXN_STATE);
    ck_assert_int_eq(verify("t", pid, 0, "baz", 2), 0);

    /* EndTxn in Empty: no transaction */
    int64_t pid2 = fresh("e", 60000);
    end(&a, "e", pid2, 0, true);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    end(&a, "e", pid2, 0, false);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    end(&a, "", pid2, 0, false);
    ck_ans(a, GP_E_INVALID_REQUEST);
}

START_TEST(test_end_commit)
{
    end_txn(true);
}
END_TEST

START_TEST(test_end_abort)
{
    end_txn(false);
}
END_TEST

START_TEST(test_end_write_error)
{
    /* Prepare* fails: the error, still Ongoing, no markers; a retry works */
    ans a;
    int64_t pid = fresh("t", 60000);
    add(&a, "t", pid, 0, "foo:0");
    write_err = GP_E_NOT_ENOUGH_REPLICAS;
    end(&a, "t", pid, 0, true);
    ck_ans(a, GP_E_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(nm, 0);
    gb_txn_view v = view("t");
    ck_assert_int_eq(v.status, GB_TXN_ONGOING);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), 0);
    write_err = 0;
    end(&a, "t", pid, 0, true);
    ck_ans(a, 0);
    ck_assert_int_eq(nm, 1);
    ck_assert_int_eq(view("t").status, GB_TXN_COMPLETE_COMMIT); /* markers and writes synchronous */
}
END_TEST

/* ---- fencing -------------------------------------------------------------------------- */

START_TEST(test_fence_on_init)
{
    ans a;
    int64_t pid = fresh("t", 60000);
    int64_t t0 = clk;
    add(&a, "t", pid, 0, "foo:0");
    ck_ans(a, 0);
    write_sync = false;
    markers_sync = false;
    clk += 10;
    int w = nw;
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nw, w + 1);
    ck_write(w, "t", GB_TXN_PREPARE_ABORT, pid, 1, 60000, "foo:0", clk, t0);
    ck_assert_int_eq(nm, 0);
    complete_write(w, 0);
    ck_assert_int_eq(nm, 1);
    ck_assert(!M[0].commit);
    ck_assert_int_eq(M[0].pid, pid);
    ck_assert_int_eq(M[0].epoch, 1);

    /* the old producer is fenced */
    end(&a, "t", pid, 0, true);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    end(&a, "t", pid, 0, false);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    add(&a, "t", pid, 0, "foo:1");
    ck_ans(a, GP_E_PRODUCER_FENCED);
    ck_assert_int_eq(verify("t", pid, 0, "foo", 0), GP_E_PRODUCER_FENCED);
    /* the new one retries too early */
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nw, w + 1);

    gb_txns_markers_done(T, M[0].x);
    ck_write(w + 1, "t", GB_TXN_COMPLETE_ABORT, pid, 1, 60000, "", clk, t0);
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS); /* CompleteAbort not durable yet */
    complete_write(w + 1, 0);
    ck_assert_int_eq(view("t").status, GB_TXN_COMPLETE_ABORT);
    write_sync = true;
    init(&a, "t", 60000, -1, -1);
    ck_ans_pid(a, pid, 2);
    ck_write(w + 2, "t", GB_TXN_EMPTY, pid, 2, 60000, "null", clk, -1);
    end(&a, "t", pid, 0, false);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    end(&a, "t", pid, 1, false);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    ck_assert_int_eq(nm, 1);
}
END_TEST

START_TEST(test_fence_write_error)
{
    /* the fencing PrepareAbort fails: no epoch handed out, a retry fences again once */
    ans a;
    int64_t pid = fresh("t", 60000);
    add(&a, "t", pid, 0, "foo:0");
    write_err = GP_E_NOT_ENOUGH_REPLICAS;
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nm, 0);
    ck_assert_int_eq(view("t").status, GB_TXN_ONGOING);
    ck_assert_int_eq(view("t").epoch, 0);
    write_err = 0;
    init(&a, "t", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_assert_int_eq(nw, 5); /* Empty, Ongoing, failed PrepareAbort, PrepareAbort, CompleteAbort */
    ck_write(nw - 2, "t", GB_TXN_PREPARE_ABORT, pid, 1, 60000, "foo:0", clk, clk);
    ck_assert_int_eq(nm, 1);
    ck_assert_int_eq(M[0].epoch, 1);
    ck_assert_int_eq(view("t").status, GB_TXN_COMPLETE_ABORT);
    init(&a, "t", 60000, -1, -1);
    ck_ans_pid(a, pid, 2);
}
END_TEST

/* ---- timers ---------------------------------------------------------------------- */

START_TEST(test_timeout)
{
    ans a;
    int64_t pid = fresh("t", 1000);
    fresh("idle", 1000); /* Empty: never timed out */
    int64_t t0 = clk;
    add(&a, "t", pid, 0, "foo:0");
    ck_ans(a, 0);
    int w = nw;
    markers_sync = false;
    clk = t0 + 999;
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 0);
    clk = t0 + 1000;
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 0);
    ck_assert_int_eq(nw, w);
    ck_assert_int_eq(nm, 0);
    clk = t0 + 1001;
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 1);
    ck_assert_int_eq(nw, w + 1);
    ck_write(w, "t", GB_TXN_PREPARE_ABORT, pid, 1, 1000, "foo:0", clk, t0);
    ck_assert_int_eq(nm, 1);
    ck_assert(!M[0].commit);
    ck_assert_int_eq(M[0].pid, pid);
    ck_assert_int_eq(M[0].epoch, 1);
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 0); /* already aborting */
    ck_assert_int_eq(nw, w + 1);
    end(&a, "t", pid, 0, false);
    ck_ans(a, GP_E_PRODUCER_FENCED);

    /* CompleteAbort fails: retried by the next pass, the markers not again */
    write_err = GP_E_NOT_ENOUGH_REPLICAS;
    clk += 5;
    gb_txns_markers_done(T, M[0].x);
    ck_assert_int_eq(nw, w + 2);
    ck_write(w + 1, "t", GB_TXN_COMPLETE_ABORT, pid, 1, 1000, "", clk, t0);
    ck_assert_int_eq(view("t").status, GB_TXN_PREPARE_ABORT);
    write_err = 0;
    clk += 5;
    gb_txns_abort_timed_out(T);
    ck_assert_int_eq(nw, w + 3);
    ck_write(w + 2, "t", GB_TXN_COMPLETE_ABORT, pid, 1, 1000, "", clk, t0);
    ck_assert_int_eq(view("t").status, GB_TXN_COMPLETE_ABORT);
    ck_assert_int_eq(nm, 1);
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 0);
    ck_assert_int_eq(nw, w + 3);
    init(&a, "t", 1000, -1, -1);
    ck_ans_pid(a, pid, 2);
}
END_TEST

START_TEST(test_timeout_pending_skipped)
{
    /* an entry with a write in flight is not aborted; it is once the write is done */
    ans a;
    int64_t pid = fresh("t", 1000);
    int64_t t0 = clk;
    add(&a, "t", pid, 0, "foo:0");
    write_sync = false;
    clk = t0 + 5000;
    add(&a, "t", pid, 0, "foo:1");
    int w = nw;
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 0);
    ck_assert_int_eq(nw, w);
    complete_write(w - 1, 0);
    ck_ans(a, 0);
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 1);
    ck_write(w, "t", GB_TXN_PREPARE_ABORT, pid, 1, 1000, "foo:0,foo:1", clk, t0);
}
END_TEST

/* Was a bug: a timed-out transaction of a producer at epoch INT16_MAX - 1 is
 * aborted without an epoch bump (gb__prepare bumps only when
 * !gb__epoch_exhausted(x->epoch), and INT16_MAX - 1 counts as exhausted),
 * so the producer is not fenced: its EndTxn(abort) is answered 0 and it can
 * go on. Kafka's prepareFenceProducerEpoch refuses only Short.MaxValue and
 * bumps INT16_MAX - 1 to INT16_MAX. */
START_TEST(test_timeout_exhausted_epoch)
{
    ans a;
    gb_txn_value v = value(77, INT16_MAX - 1, 1000, GB_TXN_ONGOING, clk - 2000, clk - 2000);
    gb_txn_topic_parts tp = {GP_STR_LIT("foo"), 1, (int32_t[]){0}};
    v.ntopics = 1;
    v.topics = &tp;
    ck_assert_int_eq(replay("t", &v), 0);
    ck_assert_uint_eq(gb_txns_abort_timed_out(T), 1);
    ck_write(0, "t", GB_TXN_PREPARE_ABORT, 77, INT16_MAX, 1000, "foo:0", clk, clk - 2000);
    end(&a, "t", 77, INT16_MAX - 1, false);
    ck_ans(a, GP_E_PRODUCER_FENCED);
}
END_TEST

START_TEST(test_expire)
{
    LIM.id_expiration_ms = 10000;
    gb_txns_free(T);
    T = gb_txns_new(&LIM, &HOOKS);
    ans a;
    int64_t t0 = clk;
    fresh("e", 60000);
    int64_t pc = fresh("c", 60000);
    add(&a, "c", pc, 0, "foo:0");
    end(&a, "c", pc, 0, true);
    ck_ans(a, 0);
    ck_assert_int_eq(view("c").status, GB_TXN_COMPLETE_COMMIT);
    int64_t pa = fresh("a", 60000);
    add(&a, "a", pa, 0, "foo:0");
    end(&a, "a", pa, 0, false);
    ck_assert_int_eq(view("a").status, GB_TXN_COMPLETE_ABORT);
    int64_t po = fresh("o", 60000);
    add(&a, "o", po, 0, "foo:1");
    clk = t0 + 5000;
    fresh("late", 60000); /* updated later */
    int w = nw;
    clk = t0 + 9999;
    ck_assert_uint_eq(gb_txns_expire(T), 0);
    ck_assert_int_eq(nw, w);
    clk = t0 + 10000;
    ck_assert_uint_eq(gb_txns_expire(T), 3);
    ck_assert_int_eq(nw, w + 3);
    const char *gone[3] = {"e", "c", "a"};
    bool seen[3] = {false, false, false};
    for (int i = w; i < w + 3; i++) {
        ck_assert_int_eq(W[i].vlen, -1); /* a tombstone */
        gp_str s;
        ck_assert_int_eq(gb_txn_key_decode((gp_bytes){W[i].key, W[i].klen}, &s), 0);
        for (int j = 0; j < 3; j++)
            if (gp_str_eq_c(s, gone[j])) {
                ck_assert(!seen[j]);
                seen[j] = true;
                ck_assert_int_eq(W[i].part, gb_txns_partition_for(T, s));
            }
    }
    ck_assert(seen[0] && seen[1] && seen[2]);
    for (int j = 0; j < 3; j++)
        ck_assert_ptr_null(gb_txns_find(T, gp_str_c(gone[j])));
    ck_assert_uint_eq(gb_txns_count(T), 2);
    ck_assert_int_eq(view("o").status, GB_TXN_ONGOING);
    view("late");

    /* Ongoing never expires (it times out instead) */
    clk = t0 + 100000000;
    markers_sync = false;
    write_sync = false;
    ck_assert_uint_eq(gb_txns_expire(T), 1); /* "late" */
    ck_wkey(w + 3, "late");
    ck_assert_int_eq(W[w + 3].vlen, -1);
    ck_assert_ptr_nonnull(gb_txns_find(T, gp_str_c("late"))); /* until durable */
    ck_assert_uint_eq(gb_txns_expire(T), 0);                   /* not twice */
    complete_write(w + 3, GP_E_NOT_ENOUGH_REPLICAS);           /* a failure keeps it */
    ck_assert_ptr_nonnull(gb_txns_find(T, gp_str_c("late")));
    ck_assert_uint_eq(gb_txns_expire(T), 1);
    complete_write(w + 4, 0);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("late")));
    ck_assert_uint_eq(gb_txns_count(T), 1);

    /* an id that expired starts again with a new producer id */
    write_sync = true;
    int64_t again = next_pid;
    init(&a, "e", 60000, -1, -1);
    ck_ans_pid(a, again, 0);
}
END_TEST

START_TEST(test_expire_prepare_not)
{
    /* waiting for markers (Prepare*): not expired */
    LIM.id_expiration_ms = 10000;
    gb_txns_free(T);
    T = gb_txns_new(&LIM, &HOOKS);
    ans a;
    markers_sync = false;
    int64_t pid = fresh("p", 60000);
    add(&a, "p", pid, 0, "foo:0");
    end(&a, "p", pid, 0, true);
    clk += 1000000;
    int w = nw;
    ck_assert_uint_eq(gb_txns_expire(T), 0);
    ck_assert_int_eq(nw, w);
    ck_assert_ptr_nonnull(gb_txns_find(T, gp_str_c("p")));
}
END_TEST

/* ---- replay --------------------------------------------------------------------- */

START_TEST(test_replay)
{
    gb_txn_value v = value(5, 2, 30000, GB_TXN_EMPTY, 100, -1);
    ck_assert_int_eq(replay("r1", &v), 0);
    ck_assert_int_eq(view("r1").status, GB_TXN_EMPTY);
    gb_txn_topic_parts tps[2] = {{GP_STR_LIT("bar"), 1, (int32_t[]){2}}, {GP_STR_LIT("foo"), 2, (int32_t[]){0, 1}}};
    v = value(5, 2, 30000, GB_TXN_ONGOING, 600, 500);
    v.ntopics = 2;
    v.topics = tps;
    ck_assert_int_eq(replay("r1", &v), 0);
    gb_txn_view x = view("r1");
    ck_assert_int_eq(x.producer_id, 5);
    ck_assert_int_eq(x.epoch, 2);
    ck_assert_int_eq(x.timeout_ms, 30000);
    ck_assert_int_eq(x.status, GB_TXN_ONGOING);
    ck_assert_int_eq(x.start_ms, 500);
    ck_assert_int_eq(x.last_update_ms, 600);
    ck_assert_str_eq(view_parts(&x), "bar:2,foo:0,foo:1");
    ck_assert(!x.pending);
    ck_assert_int_eq(verify("r1", 5, 2, "foo", 1), 0);
    ck_assert_int_eq(verify("r1", 5, 2, "foo", 2), GP_E_INVALID_TXN_STATE);

    /* a tombstone removes; a tombstone for an unknown id is fine */
    v = value(6, 0, 30000, GB_TXN_EMPTY, 100, -1);
    ck_assert_int_eq(replay("r2", &v), 0);
    ck_assert_ptr_nonnull(gb_txns_find(T, gp_str_c("r2")));
    ck_assert_int_eq(replay("r2", NULL), 0);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("r2")));
    ck_assert_int_eq(replay("never", NULL), 0);
    ck_assert_uint_eq(gb_txns_count(T), 1);

    /* a crash in PrepareCommit / PrepareAbort: load_done writes the markers and completes */
    v = value(7, 3, 30000, GB_TXN_PREPARE_COMMIT, 700, 650);
    v.ntopics = 1;
    v.topics = &tps[1];
    ck_assert_int_eq(replay("r3", &v), 0);
    v = value(8, 4, 30000, GB_TXN_PREPARE_ABORT, 700, 640);
    v.ntopics = 1;
    v.topics = &tps[0];
    ck_assert_int_eq(replay("r4", &v), 0);
    ck_assert_int_eq(nw, 0);
    ck_assert_int_eq(nm, 0);
    markers_sync = false;
    ck_assert_uint_eq(gb_txns_load_done(T), 2);
    ck_assert_int_eq(nm, 2);
    for (int i = 0; i < 2; i++) {
        bool r3 = M[i].pid == 7;
        ck_assert_int_eq(M[i].commit, r3);
        ck_assert_int_eq(M[i].epoch, r3 ? 3 : 4);
        ck_assert_uint_eq(M[i].nparts, r3 ? 2 : 1);
    }
    ans a;
    end(&a, "r3", 7, 3, true);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    clk = 900;
    gb_txns_markers_done(T, M[0].x);
    gb_txns_markers_done(T, M[1].x);
    ck_assert_int_eq(nw, 2);
    for (int i = 0; i < 2; i++) {
        bool r3 = M[i].pid == 7;
        ck_write(i, r3 ? "r3" : "r4", r3 ? GB_TXN_COMPLETE_COMMIT : GB_TXN_COMPLETE_ABORT, r3 ? 7 : 8, r3 ? 3 : 4,
                 30000, "", 900, r3 ? 650 : 640);
    }
    ck_assert_int_eq(view("r3").status, GB_TXN_COMPLETE_COMMIT);
    ck_assert_int_eq(view("r4").status, GB_TXN_COMPLETE_ABORT);
    end(&a, "r3", 7, 3, true);
    ck_ans(a, 0);
    ck_assert_uint_eq(gb_txns_load_done(T), 0);

    /* malformed: refused, nothing changes */
    uint8_t bad[] = {0, 0, 0, 0, 0};
    ck_assert_int_lt(gb_txns_replay(T, gb_txn_key_encode(&A, GP_STR_LIT("r1")), (gp_bytes){bad, sizeof bad}), 0);
    uint8_t key1[] = {0, 1, 0, 2, 'r', '1'};
    v = value(5, 9, 30000, GB_TXN_EMPTY, 100, -1);
    ck_assert_int_eq(gb_txns_replay(T, (gp_bytes){key1, sizeof key1}, gb_txn_value_encode(&A, &v)), GP_ERR_VERSION);
    ck_assert_int_eq(view("r1").status, GB_TXN_ONGOING);
    ck_assert_int_eq(view("r1").epoch, 2);
}
END_TEST

START_TEST(test_replay_own_records)
{
    /* what a coordinator wrote, replayed into a fresh one (a restart) */
    ans a;
    int64_t p1 = fresh("a", 60000);
    add(&a, "a", p1, 0, "foo:0");
    end(&a, "a", p1, 0, true);
    clk += 10;
    add(&a, "a", p1, 0, "foo:1,bar:0");
    int64_t p2 = fresh("b", 45000);
    init(&a, "b", 45000, -1, -1);
    markers_sync = false;
    add(&a, "b", p2, 1, "x:3");
    end(&a, "b", p2, 1, false); /* left in PrepareAbort */
    fresh("gone", 1000);
    clk += LIM.id_expiration_ms; /* "gone" expires (a tombstone); the others are busy */
    ck_assert_uint_eq(gb_txns_expire(T), 1);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("gone")));
    gb_txns *old = T;
    int n = nw;

    T = gb_txns_new(&LIM, &HOOKS);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(gb_txns_replay(T, (gp_bytes){W[i].key, W[i].klen}, (gp_bytes){W[i].val, W[i].vlen}), 0);
    ck_assert_ptr_null(gb_txns_find(T, gp_str_c("gone")));
    const gb_txn *xo;
    for (size_t c = 0; (xo = gb_txns_next(old, &c));) {
        gb_txn_view o, r;
        gb_txn_get(xo, &o);
        const gb_txn *x = gb_txns_find(T, o.id);
        ck_assert_ptr_nonnull(x);
        gb_txn_get(x, &r);
        ck_assert_int_eq(r.producer_id, o.producer_id);
        ck_assert_int_eq(r.epoch, o.epoch);
        ck_assert_int_eq(r.timeout_ms, o.timeout_ms);
        ck_assert_int_eq(r.status, o.status);
        ck_assert_int_eq(r.start_ms, o.start_ms);
        ck_assert_int_eq(r.last_update_ms, o.last_update_ms);
        char ro[1024];
        snprintf(ro, sizeof ro, "%s", view_parts(&r));
        ck_assert_str_eq(ro, view_parts(&o));
    }
    ck_assert_uint_eq(gb_txns_count(T), gb_txns_count(old));
    ck_assert_int_eq(view("a").status, GB_TXN_ONGOING);
    ck_assert_int_eq(view("b").status, GB_TXN_PREPARE_ABORT);
    ck_assert_uint_eq(gb_txns_load_done(T), 1);
    gb_txns_free(old);
}
END_TEST

START_TEST(test_free_pending)
{
    /* gb_txns_free with every kind of operation in flight: no answer, nothing leaked */
    ans a, b, c, d;
    int64_t pid = fresh("t", 60000);
    int64_t pid2 = fresh("u", 60000);
    pid_sync = false;
    write_sync = false;
    markers_sync = false;
    init(&a, "new", 60000, -1, -1);      /* waiting for a producer id */
    add(&b, "t", pid, 0, "foo:0,bar:1"); /* waiting for its write */
    add(&c, "u", pid2, 0, "foo:0");
    complete_write(nw - 1, 0);
    ck_ans(c, 0);
    end(&d, "u", pid2, 0, true);
    complete_write(nw - 1, 0);
    ck_ans(d, 0);
    ck_assert_int_eq(nm, 1); /* "u" waiting for its markers */
    gb_txns_free(T);
    T = NULL;
    ck_assert_int_eq(a.n, 0);
    ck_assert_int_eq(b.n, 0);
}
END_TEST

/* ---- the record codec ------------------------------------------------------------ */

START_TEST(test_codec_roundtrip)
{
    gb_txn_topic_parts tps[2] = {{GP_STR_LIT("alpha"), 3, (int32_t[]){0, 7, 2}},
                                 {GP_STR_LIT("beta"), 1, (int32_t[]){11}}};
    gb_txn_value v = value(0x0102030405060708LL, 513, 60000, GB_TXN_ONGOING, 1700000000123LL, 1700000000000LL);
    v.ntopics = 2;
    v.topics = tps;
    gp_bytes b = gb_txn_value_encode(&A, &v);
    gb_txn_value d;
    ck_assert_int_eq(gb_txn_value_decode(&A, b, &d), 0);
    ck_assert_int_eq(d.producer_id, 0x0102030405060708LL);
    ck_assert_int_eq(d.producer_epoch, 513);
    ck_assert_int_eq(d.timeout_ms, 60000);
    ck_assert_int_eq(d.status, GB_TXN_ONGOING);
    ck_assert_int_eq(d.last_update_ms, 1700000000123LL);
    ck_assert_int_eq(d.start_ms, 1700000000000LL);
    ck_assert_int_eq(d.previous_producer_id, -1);
    ck_assert_int_eq(d.next_producer_id, -1);
    ck_assert_int_eq(d.client_txn_version, 0);
    ck_assert_int_eq(d.ntopics, 2);
    ck_assert_str_eq(parts_str(&d), "alpha:0,alpha:7,alpha:2,beta:11");
    ck_assert(gp_str_eq_c(d.topics[1].topic, "beta"));
    ck_assert_int_eq(b.len, 2 + 8 + 2 + 4 + 1 + 4 + (2 + 5 + 4 + 12) + (2 + 4 + 4 + 4) + 8 + 8);
    /* truncated anywhere: refused */
    for (int32_t n = 0; n < b.len; n++)
        ck_assert_int_lt(gb_txn_value_decode(&A, (gp_bytes){b.p, n}, &d), 0);
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){NULL, -1}, &d), GP_ERR_NULL);

    /* Empty: a null array; Complete*: an empty one */
    v = value(9, 0, 1000, GB_TXN_EMPTY, 1, -1);
    ck_assert_int_eq(gb_txn_value_decode(&A, gb_txn_value_encode(&A, &v), &d), 0);
    ck_assert_int_eq(d.ntopics, -1);
    v = value(9, 0, 1000, GB_TXN_COMPLETE_ABORT, 1, 0);
    ck_assert_int_eq(gb_txn_value_decode(&A, gb_txn_value_encode(&A, &v), &d), 0);
    ck_assert_int_eq(d.ntopics, 0);
    ck_assert_int_eq(d.status, GB_TXN_COMPLETE_ABORT);

    /* the key */
    gp_bytes k = gb_txn_key_encode(&A, GP_STR_LIT("my-txn"));
    static const uint8_t kexp[] = {0, 0, 0, 6, 'm', 'y', '-', 't', 'x', 'n'};
    ck_assert_int_eq(k.len, sizeof kexp);
    ck_assert_mem_eq(k.p, kexp, sizeof kexp);
    gp_str id;
    ck_assert_int_eq(gb_txn_key_decode(k, &id), 0);
    ck_assert(gp_str_eq_c(id, "my-txn"));
    ck_assert_int_eq(gb_txn_key_decode((gp_bytes){NULL, -1}, &id), GP_ERR_NULL);
}
END_TEST

START_TEST(test_codec_v0_bytes)
{
    gb_txn_topic_parts tp = {GP_STR_LIT("ab"), 2, (int32_t[]){1, 258}};
    gb_txn_value v = value(0x1122334455667788LL, 0x0203, 0x00015F90 /* 90000 */, GB_TXN_PREPARE_COMMIT,
                           0x0000018B0A0B0C0DLL, -1);
    v.ntopics = 1;
    v.topics = &tp;
    static const uint8_t exp[] = {
        0x00, 0x00,                                     /* version 0 */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* producerId */
        0x02, 0x03,                                     /* producerEpoch */
        0x00, 0x01, 0x5F, 0x90,                         /* transactionTimeoutMs */
        0x02,                                           /* transactionStatus: PrepareCommit */
        0x00, 0x00, 0x00, 0x01,                         /* transactionPartitions: 1 */
        0x00, 0x02, 'a',  'b',                          /*   topic */
        0x00, 0x00, 0x00, 0x02,                         /*   partitionIds: 2 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, /*   1, 258 */
        0x00, 0x00, 0x01, 0x8B, 0x0A, 0x0B, 0x0C, 0x0D, /* transactionLastUpdateTimestampMs */
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* transactionStartTimestampMs -1 */
    };
    gp_bytes b = gb_txn_value_encode(&A, &v);
    ck_assert_int_eq(b.len, sizeof exp);
    ck_assert_mem_eq(b.p, exp, sizeof exp);

    /* Empty: the array is null (-1) */
    v = value(1, 0, 1000, GB_TXN_EMPTY, 5, -1);
    static const uint8_t empty[] = {
        0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, 0x00,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    };
    b = gb_txn_value_encode(&A, &v);
    ck_assert_int_eq(b.len, sizeof empty);
    ck_assert_mem_eq(b.p, empty, sizeof empty);
    /* and the coordinator of transaction.version 0 writes exactly that for
     * an init at t=5 with pid 1 */
    gb_txns_free(T);
    LIM.transaction_version = 0;
    T = gb_txns_new(&LIM, &HOOKS);
    clk = 5;
    next_pid = 1;
    fresh("z", 1000);
    ck_assert_int_eq(W[0].vlen, sizeof empty);
    ck_assert_mem_eq(W[0].val, empty, sizeof empty);
    /* from transaction.version 1, as Kafka 4: value v1, compact, no tags
     * for default values */
    gb_txns_free(T);
    LIM.transaction_version = 2;
    T = gb_txns_new(&LIM, &HOOKS);
    free_writes();
    next_pid = 1;
    fresh("z", 1000);
    static const uint8_t empty1[] = {
        0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, 0x00,
        0x00, /* compact null array */
        0, 0, 0, 0, 0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x00, /* no tagged fields */
    };
    ck_assert_int_eq(W[0].vlen, sizeof empty1);
    ck_assert_mem_eq(W[0].val, empty1, sizeof empty1);
}
END_TEST

START_TEST(test_codec_v1)
{
    static const uint8_t b[] = {
        0x00, 0x01,                                     /* version 1 (flexible) */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39, /* producerId 12345 */
        0x00, 0x07,                                     /* epoch 7 */
        0x00, 0x00, 0x27, 0x10,                         /* timeout 10000 */
        0x01,                                           /* Ongoing */
        0x03,                                           /* compact array: 2 topics */
        0x04, 'f',  'o',  'o',                          /*   compact string "foo" */
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* [0, 5] */
        0x00,                                           /*   no tagged fields */
        0x02, 'b',                                      /*   "b" */
        0x01,                                           /*   [] */
        0x01, 0x05, 0x01, 0xEE,                         /*   one unknown tag: 5, size 1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, /* last update 1000 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x20, /* start 800 */
        0x04,                                           /* 4 tagged fields */
        0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, /* 0: previousProducerId 99 */
        0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, /* 1: nextProducerId 100 */
        0x02, 0x02, 0x00, 0x02,                                     /* 2: clientTransactionVersion 2 */
        0x09, 0x03, 0xAA, 0xBB, 0xCC,                               /* 9: unknown, skipped */
    };
    gb_txn_value d;
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){b, sizeof b}, &d), 0);
    ck_assert_int_eq(d.producer_id, 12345);
    ck_assert_int_eq(d.producer_epoch, 7);
    ck_assert_int_eq(d.timeout_ms, 10000);
    ck_assert_int_eq(d.status, GB_TXN_ONGOING);
    ck_assert_int_eq(d.ntopics, 2);
    ck_assert(gp_str_eq_c(d.topics[0].topic, "foo"));
    ck_assert(gp_str_eq_c(d.topics[1].topic, "b"));
    ck_assert_int_eq(d.topics[1].npartitions, 0);
    ck_assert_str_eq(parts_str(&d), "foo:0,foo:5");
    ck_assert_int_eq(d.last_update_ms, 1000);
    ck_assert_int_eq(d.start_ms, 800);
    ck_assert_int_eq(d.previous_producer_id, 99);
    ck_assert_int_eq(d.next_producer_id, 100);
    ck_assert_int_eq(d.client_txn_version, 2);
    /* truncated: refused */
    for (size_t n = 0; n < sizeof b; n++)
        ck_assert_int_lt(gb_txn_value_decode(&A, (gp_bytes){b, (int32_t)n}, &d), 0);
    /* a null compact array (0) and no tags */
    static const uint8_t e[] = {0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, 0x00,
                                0x00, 0, 0, 0, 0, 0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){e, sizeof e}, &d), 0);
    ck_assert_int_eq(d.ntopics, -1);
    ck_assert_int_eq(d.start_ms, -1);
    ck_assert_int_eq(d.previous_producer_id, -1);
    /* a version 2, an unknown status: refused */
    uint8_t e2[sizeof e];
    memcpy(e2, e, sizeof e);
    e2[1] = 2;
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){e2, sizeof e2}, &d), GP_ERR_VERSION);
    memcpy(e2, e, sizeof e);
    e2[16] = 8;
    ck_assert_int_eq(gb_txn_value_decode(&A, (gp_bytes){e2, sizeof e2}, &d), GP_ERR_VERSION);
}
END_TEST

/* ---- transaction version 2 (KIP-890 part 2) ------------------------------------------ */

START_TEST(test_v2_commit_bumps)
{
    ans a;
    int64_t pid = fresh("v", 60000);
    add_tv(&a, "v", pid, 0, "foo:0", 2); /* a Produce v12 */
    ck_ans(a, 0);
    int w = nw;
    end_tv(&a, "v", pid, 0, true, 2);
    ck_ans_pid(a, pid, 1); /* answered after PrepareCommit, with the new epoch */
    ck_write(w, "v", GB_TXN_PREPARE_COMMIT, pid, 1, 60000, "foo:0", clk, clk);
    ck_assert_int_eq(wval(w).client_txn_version, 2);
    ck_assert_int_eq(nm, 1);
    ck_assert_int_eq(M[0].epoch, 1); /* the markers carry it */
    ck_write(w + 1, "v", GB_TXN_COMPLETE_COMMIT, pid, 1, 60000, "", clk, clk);
    /* a retry, with the epoch before: the same answer; the other result is not */
    end_tv(&a, "v", pid, 0, true, 2);
    ck_ans_pid(a, pid, 1);
    end_tv(&a, "v", pid, 0, false, 2);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    /* the current epoch: nothing to commit; an abort bumps again */
    end_tv(&a, "v", pid, 1, true, 2);
    ck_ans(a, GP_E_INVALID_TXN_STATE);
    w = nw;
    end_tv(&a, "v", pid, 1, false, 2);
    ck_ans_pid(a, pid, 2);
    ck_write(w, "v", GB_TXN_PREPARE_ABORT, pid, 2, 60000, "", clk, clk);
    ck_assert_int_eq(M[1].nparts, 0);
    /* anything else is fenced; an old client's EndTxn on the entry too */
    end_tv(&a, "v", pid, 0, false, 2);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    end_tv(&a, "v", pid, 5, false, 0);
    ck_ans(a, GP_E_PRODUCER_FENCED);
    end_tv(&a, "v", pid + 1, 2, false, 2);
    ck_ans(a, GP_E_INVALID_PRODUCER_ID_MAPPING);
}
END_TEST

START_TEST(test_v2_prepare_is_concurrent)
{
    ans a;
    markers_sync = false;
    int64_t pid = fresh("v", 60000);
    add_tv(&a, "v", pid, 0, "foo:0", 2);
    ck_ans(a, 0);
    end_tv(&a, "v", pid, 0, true, 2);
    ck_ans_pid(a, pid, 1);
    /* markers not written yet: a retry or the new epoch waits */
    end_tv(&a, "v", pid, 0, true, 2);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    end_tv(&a, "v", pid, 1, false, 2);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    /* the next transaction's first write waits for the markers instead */
    ans b;
    add_tv(&b, "v", pid, 1, "foo:0,bar:1", 2);
    ck_assert_int_eq(b.n, 0);
    /* an AddPartitionsToTxn (tv 0) does not wait */
    add(&a, "v", pid, 1, "foo:0");
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    int w = nw;
    gb_txns_markers_done(T, M[0].x);
    ck_ans(b, 0);
    ck_write(w, "v", GB_TXN_COMPLETE_COMMIT, pid, 1, 60000, "", clk, clk);
    ck_write(w + 1, "v", GB_TXN_ONGOING, pid, 1, 60000, "bar:1,foo:0", clk, clk);
}
END_TEST

START_TEST(test_v2_add_waits_for_add)
{
    ans a, b, c;
    write_sync = false;
    int64_t pid = next_pid;
    init(&a, "v", 60000, -1, -1);
    complete_write(0, 0);
    ck_ans_pid(a, pid, 0);
    add_tv(&a, "v", pid, 0, "foo:0", 2);
    ck_assert_int_eq(a.n, 0);
    add_tv(&b, "v", pid, 0, "foo:1", 2); /* another connection's write, while the first add is written */
    ck_assert_int_eq(b.n, 0);
    add_tv(&c, "v", pid, 1, "foo:2", 2); /* a fenced epoch is refused at once */
    ck_ans(c, GP_E_PRODUCER_FENCED);
    complete_write(1, 0);
    ck_ans(a, 0);
    ck_assert_int_eq(b.n, 0); /* its own add is being written now */
    ck_assert_int_eq(nw, 3);
    /* while it is, a write to an added partition goes on */
    add_tv(&c, "v", pid, 0, "foo:0", 2);
    ck_ans(c, 0);
    complete_write(2, 0);
    ck_ans(b, 0);
    ck_write(2, "v", GB_TXN_ONGOING, pid, 0, 60000, "foo:0,foo:1", clk, clk);
}
END_TEST

START_TEST(test_v2_epoch_exhaustion)
{
    ans a;
    gb_txn_value v = value(78, INT16_MAX - 2, 60000, GB_TXN_EMPTY, clk - 5, -1);
    ck_assert_int_eq(replay("x", &v), 0);
    add_tv(&a, "x", 78, INT16_MAX - 2, "foo:0", 2);
    ck_ans(a, 0);
    end_tv(&a, "x", 78, INT16_MAX - 2, true, 2);
    ck_ans_pid(a, 78, INT16_MAX - 1);
    add_tv(&a, "x", 78, INT16_MAX - 1, "foo:0", 2);
    ck_ans(a, 0);
    /* the last epoch: a new producer id, taken once the markers are written */
    int w = nw;
    end_tv(&a, "x", 78, INT16_MAX - 1, true, 2);
    ck_ans_pid(a, 1000, 0);
    ck_write(w, "x", GB_TXN_PREPARE_COMMIT, 78, INT16_MAX, 60000, "foo:0", clk, clk);
    ck_assert_int_eq(wval(w).next_producer_id, 1000);
    ck_assert_int_eq(M[nm - 1].pid, 78);
    ck_assert_int_eq(M[nm - 1].epoch, INT16_MAX);
    ck_write(w + 1, "x", GB_TXN_COMPLETE_COMMIT, 1000, 0, 60000, "", clk, clk);
    ck_assert_int_eq(wval(w + 1).previous_producer_id, 78);
    /* a retry with the old id and epoch: the same answer */
    end_tv(&a, "x", 78, INT16_MAX - 1, true, 2);
    ck_ans_pid(a, 1000, 0);
    add_tv(&a, "x", 1000, 0, "foo:0", 2);
    ck_ans(a, 0);
    /* replayed, the entry goes on the same */
    gb_txn_value last = wval(nw - 1);
    ck_assert_int_eq(last.client_txn_version, 2);
}
END_TEST

START_TEST(test_v2_fence)
{
    ans a;
    int64_t pid = fresh("v", 60000);
    add_tv(&a, "v", pid, 0, "foo:0", 2);
    ck_ans(a, 0);
    /* a new producer: the tv 2 transaction is aborted with one bump */
    int w = nw;
    init(&a, "v", 60000, -1, -1);
    ck_ans(a, GP_E_CONCURRENT_TRANSACTIONS);
    ck_write(w, "v", GB_TXN_PREPARE_ABORT, pid, 1, 60000, "foo:0", clk, clk);
    init(&a, "v", 60000, -1, -1);
    ck_ans_pid(a, pid, 2);
    end_tv(&a, "v", pid, 0, false, 2);
    ck_ans(a, GP_E_PRODUCER_FENCED);
}
END_TEST

START_TEST(test_v2_records_v1)
{
    gb_txn_limits lim = LIM; /* transaction.version 2 */
    ans a;
    int64_t pid = fresh("v", 60000);
    ck_assert_int_eq(W[0].vlen > 1 ? W[0].val[1] : -1, 1); /* value version 1 */
    add_tv(&a, "v", pid, 0, "foo:0", 2);
    ck_ans(a, 0);
    end_tv(&a, "v", pid, 0, false, 2);
    ck_ans_pid(a, pid, 1);
    /* replayed by a new coordinator: the retry is still recognised */
    int n = nw;
    gb_txns *old = T;
    T = gb_txns_new(&lim, &HOOKS);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(gb_txns_replay(T, (gp_bytes){W[i].key, W[i].klen}, (gp_bytes){W[i].val, W[i].vlen}), 0);
    end_tv(&a, "v", pid, 0, false, 2);
    ck_ans_pid(a, pid, 1);
    gb_txns_free(T);
    T = old;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("txn_state");
    TCase *tc = tcase_create("txn_state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_init_new_id);
    tcase_add_test(tc, test_init_invalid);
    tcase_add_test(tc, test_init_write_error);
    tcase_add_test(tc, test_init_pid_error);
    tcase_add_test(tc, test_kip360);
    tcase_add_test(tc, test_epoch_exhaustion);
    tcase_add_test(tc, test_add_partitions);
    tcase_add_test(tc, test_add_first_pending);
    tcase_add_test(tc, test_end_commit);
    tcase_add_test(tc, test_end_abort);
    tcase_add_test(tc, test_end_write_error);
    tcase_add_test(tc, test_fence_on_init);
    tcase_add_test(tc, test_fence_write_error);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_timeout_pending_skipped);
    tcase_add_test(tc, test_expire);
    tcase_add_test(tc, test_expire_prepare_not);
    tcase_add_test(tc, test_replay);
    tcase_add_test(tc, test_replay_own_records);
    tcase_add_test(tc, test_free_pending);
    tcase_add_test(tc, test_codec_roundtrip);
    tcase_add_test(tc, test_codec_v0_bytes);
    tcase_add_test(tc, test_codec_v1);
    tcase_add_test(tc, test_v2_commit_bumps);
    tcase_add_test(tc, test_v2_prepare_is_concurrent);
    tcase_add_test(tc, test_v2_add_waits_for_add);
    tcase_add_test(tc, test_v2_epoch_exhaustion);
    tcase_add_test(tc, test_v2_fence);
    tcase_add_test(tc, test_v2_records_v1);
    suite_add_tcase(s, tc);

    /* Two bugs these found, fixed in gb_txn_state.c. */
    tcase_add_test(tc, test_rotation_retry);
    tcase_add_test(tc, test_timeout_exhausted_epoch);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
