/*
 * The transaction coordinator's state machine (core/gb_txn_state.h).
 * Kafka's TransactionCoordinator.handle* and TransactionMetadata.prepare*
 * are the reference for every rule below (read to learn, not copied).
 */
#include "broker/core/gb_txn_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "broker/core/gb_group_records.h"
#include "protocol/gp_errors.h"

enum {
    GB__OP_NONE,
    GB__OP_PID,     /* waiting for a producer id (a new id, or a rotation) */
    GB__OP_INIT,    /* InitProducerId: Empty with a bumped epoch */
    GB__OP_ADD,     /* AddPartitionsToTxn: Ongoing */
    GB__OP_PREPARE, /* EndTxn, a fence or a timeout: Prepare* */
    GB__OP_COMPLETE,
    GB__OP_EXPIRE,
};

/* How a Prepare* moves the epoch. */
enum {
    GB__KEEP,  /* transaction version 0/1 EndTxn: the epoch stays */
    GB__FENCE, /* tv 0/1 abort to fence the producer: +1, no previous epoch */
    GB__BUMP,  /* tv 2 (every EndTxn, and fences of a tv 2 entry): +1, the old one kept as previous */
};

/* An implicit add (tv 2) waiting for the entry to be free. */
typedef struct gb_txn_waiter {
    struct gb_txn_waiter *next;
    int64_t producer_id;
    int16_t epoch;
    gb_txn_tp *tps; /* owned, topics too */
    size_t n;
    gb_txn_cb done;
    void *arg;
} gb_txn_waiter;

#define GB__MAX_WAITERS 256

/* The state a transition leads to (written first, applied when durable). */
typedef struct gb_txn_transit {
    int status;
    int64_t producer_id;
    int64_t last_producer_id;
    int16_t epoch;
    int16_t last_epoch;
    int32_t timeout_ms;
    int64_t start_ms;
    int64_t update_ms;
    int64_t next_producer_id; /* tv 2 at epoch exhaustion: taken at Complete*; -1 */
    int16_t tv;               /* the client transaction version of the transition */
    bool clear_parts;
} gb_txn_transit;

struct gb_txn {
    char *id;
    size_t id_len;
    int32_t log_partition;
    int64_t producer_id;
    int64_t last_producer_id; /* before the last rotation, -1 */
    int16_t epoch;            /* -1: none handed out yet */
    int16_t last_epoch;       /* before the last bump, for a retried InitProducerId; -1 */
    int32_t timeout_ms;
    int status;
    int64_t start_ms;
    int64_t last_update_ms;
    int64_t next_producer_id; /* see gb_txn_transit */
    int16_t tv;               /* of the last transition (Kafka's clientTransactionVersion) */
    gb_txn_tp *parts;
    size_t nparts;  /* in the array; the last ones may be a pending AddPartitions' */
    size_t napplied; /* the partitions of the transaction as applied */
    size_t cap;
    /* the one operation in flight */
    int op;
    gb_txn_transit tr;
    gb_txn_cb done;
    void *arg;
    int32_t want_timeout_ms; /* GB__OP_PID: the InitProducerId being served */
    int64_t want_pid;
    int16_t want_epoch;
    bool markers_running;
    bool markers_finished; /* a Complete* write failed after them: retried */
    bool commit;           /* the markers' type */
    bool pid_for_end;      /* GB__OP_PID: for a tv 2 EndTxn at epoch exhaustion */
    gb_txn_waiter *waiters, **waiters_tail;
    size_t nwaiters;
    size_t slot;           /* in gb_txns.all */
    gb_txns *owner;
    gb_txn *hash_next;
};

struct gb_txns {
    gb_txn_limits lim;
    gb_txn_hooks hooks;
    gb_txn **buckets;
    size_t nbuckets;
    gb_txn **all;
    size_t n, cap;
};

static int64_t gb__now(const gb_txns *t)
{
    return t->hooks.now(t->hooks.ctx);
}

static uint64_t gb__hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static bool gb__epoch_exhausted(int16_t epoch)
{
    return epoch >= INT16_MAX - 1;
}

gb_txns *gb_txns_new(const gb_txn_limits *lim, const gb_txn_hooks *hooks)
{
    gb_txns *t = gu_calloc(1, sizeof *t);
    t->lim = *lim;
    t->hooks = *hooks;
    t->nbuckets = 64;
    t->buckets = gu_calloc(t->nbuckets, sizeof *t->buckets);
    return t;
}

static void gb__free_parts(gb_txn *x, size_t from)
{
    for (size_t i = from; i < x->nparts; i++)
        free(x->parts[i].topic);
    x->nparts = from;
    if (x->napplied > from)
        x->napplied = from;
}

static void gb__free_tps(gb_txn_tp *tps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tps[i].topic);
    free(tps);
}

/* Detach the waiters (to run them, or to drop them). */
static gb_txn_waiter *gb__take_waiters(gb_txn *x)
{
    gb_txn_waiter *w = x->waiters;
    x->waiters = NULL;
    x->waiters_tail = &x->waiters;
    x->nwaiters = 0;
    return w;
}

static void gb__free_waiter(gb_txn_waiter *w)
{
    gb__free_tps(w->tps, w->n);
    free(w);
}

static void gb__free_txn(gb_txn *x)
{
    for (gb_txn_waiter *w = gb__take_waiters(x), *next; w; w = next) {
        next = w->next;
        gb__free_waiter(w); /* unanswered: only gb_txns_free gets here with waiters */
    }
    gb__free_parts(x, 0);
    free(x->parts);
    free(x->id);
    free(x);
}

void gb_txns_free(gb_txns *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        gb__free_txn(t->all[i]);
    free(t->all);
    free(t->buckets);
    free(t);
}

int32_t gb_txns_partition_for(const gb_txns *t, gp_str id)
{
    return gb_group_partition_for(id.p, id.len > 0 ? (size_t)id.len : 0, t->lim.log_num_partitions);
}

static gb_txn **gb__bucket(const gb_txns *t, const char *id, size_t len)
{
    return &t->buckets[gb__hash(id, len) & (t->nbuckets - 1)];
}

static gb_txn *gb__find(const gb_txns *t, gp_str id)
{
    if (id.len <= 0)
        return NULL;
    for (gb_txn *x = *gb__bucket(t, id.p, (size_t)id.len); x; x = x->hash_next)
        if (x->id_len == (size_t)id.len && memcmp(x->id, id.p, x->id_len) == 0)
            return x;
    return NULL;
}

const gb_txn *gb_txns_find(const gb_txns *t, gp_str id)
{
    return gb__find(t, id);
}

static void gb__grow(gb_txns *t)
{
    size_t nb = t->nbuckets * 2;
    gb_txn **b = gu_calloc(nb, sizeof *b);
    for (size_t i = 0; i < t->n; i++) {
        gb_txn *x = t->all[i];
        gb_txn **head = &b[gb__hash(x->id, x->id_len) & (nb - 1)];
        x->hash_next = *head;
        *head = x;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static gb_txn *gb__create(gb_txns *t, gp_str id)
{
    if (t->n + 1 > t->nbuckets)
        gb__grow(t);
    gb_txn *x = gu_calloc(1, sizeof *x);
    x->id = gu_malloc((size_t)id.len + 1);
    memcpy(x->id, id.p, (size_t)id.len);
    x->id[id.len] = '\0';
    x->id_len = (size_t)id.len;
    x->log_partition = gb_txns_partition_for(t, id);
    x->owner = t;
    x->producer_id = -1;
    x->last_producer_id = -1;
    x->epoch = -1;
    x->last_epoch = -1;
    x->status = GB_TXN_EMPTY;
    x->start_ms = -1;
    x->last_update_ms = gb__now(t);
    x->next_producer_id = -1;
    x->waiters_tail = &x->waiters;
    gb_txn **head = gb__bucket(t, x->id, x->id_len);
    x->hash_next = *head;
    *head = x;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->all = gu_realloc(t->all, t->cap * sizeof *t->all);
    }
    x->slot = t->n;
    t->all[t->n++] = x;
    return x;
}

static void gb__remove(gb_txns *t, gb_txn *x)
{
    for (gb_txn_waiter *w = gb__take_waiters(x), *next; w; w = next) {
        next = w->next;
        w->done(w->arg, GP_E_INVALID_PRODUCER_ID_MAPPING, -1, -1);
        gb__free_waiter(w);
    }
    gb_txn **pp = gb__bucket(t, x->id, x->id_len);
    while (*pp != x)
        pp = &(*pp)->hash_next;
    *pp = x->hash_next;
    t->all[x->slot] = t->all[--t->n];
    t->all[x->slot]->slot = x->slot;
    gb__free_txn(x);
}

static bool gb__has_part(const gb_txn *x, size_t upto, const char *topic, size_t len, int32_t partition)
{
    for (size_t i = 0; i < upto; i++)
        if (x->parts[i].partition == partition && x->parts[i].topic_len == len &&
            memcmp(x->parts[i].topic, topic, len) == 0)
            return true;
    return false;
}

static void gb__add_part(gb_txn *x, const char *topic, size_t len, int32_t partition)
{
    if (gb__has_part(x, x->nparts, topic, len, partition))
        return;
    if (x->nparts == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 8;
        x->parts = gu_realloc(x->parts, x->cap * sizeof *x->parts);
    }
    gb_txn_tp *tp = &x->parts[x->nparts++];
    tp->topic = gu_malloc(len + 1);
    memcpy(tp->topic, topic, len);
    tp->topic[len] = '\0';
    tp->topic_len = len;
    tp->partition = partition;
}

/* ---- writing a transition ------------------------------------------------------- */

static int gb__cmp_tp(const void *a, const void *b)
{
    const gb_txn_tp *x = a, *y = b;
    size_t n = x->topic_len < y->topic_len ? x->topic_len : y->topic_len;
    int c = memcmp(x->topic, y->topic, n);
    if (c)
        return c;
    if (x->topic_len != y->topic_len)
        return x->topic_len < y->topic_len ? -1 : 1;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* The record of x after the transition tr, into the scratch arena. */
static gp_bytes gb__value(gp_arena *a, const gb_txn *x, const gb_txn_transit *tr)
{
    gb_txn_value v = {
        .version = x->owner->lim.transaction_version >= 1 ? 1 : 0,
        .producer_id = tr->producer_id,
        .previous_producer_id = tr->last_producer_id,
        .next_producer_id = tr->next_producer_id,
        .client_txn_version = tr->tv,
        .producer_epoch = tr->epoch,
        .timeout_ms = tr->timeout_ms,
        .status = (int8_t)tr->status,
        .ntopics = -1,
        .last_update_ms = tr->update_ms,
        .start_ms = tr->start_ms,
    };
    if (tr->status != GB_TXN_EMPTY) {
        size_t n = tr->clear_parts ? 0 : x->nparts;
        gb_txn_tp *sorted = gp_arena_alloc(a, (n ? n : 1) * sizeof *sorted);
        if (n)
            memcpy(sorted, x->parts, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, gb__cmp_tp);
        v.topics = gp_arena_calloc(a, n ? n : 1, sizeof *v.topics);
        v.ntopics = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && sorted[j].topic_len == sorted[i].topic_len &&
                   memcmp(sorted[j].topic, sorted[i].topic, sorted[i].topic_len) == 0)
                j++;
            gb_txn_topic_parts *tp = &v.topics[v.ntopics++];
            tp->topic = (gp_str){sorted[i].topic, (int32_t)sorted[i].topic_len};
            tp->npartitions = (int32_t)(j - i);
            tp->partitions = gp_arena_alloc(a, (j - i) * sizeof *tp->partitions);
            for (size_t k = i; k < j; k++)
                tp->partitions[k - i] = sorted[k].partition;
            i = j;
        }
    }
    return gb_txn_value_encode(a, &v);
}

/* Start writing the transition x->tr (op, answering done/arg after). */
static void gb__write(gb_txns *t, gb_txn *x, int op, gb_txn_cb done, void *arg)
{
    x->op = op;
    x->done = done;
    x->arg = arg;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gp_str id = {x->id, (int32_t)x->id_len};
    gp_bytes key = gb_txn_key_encode(&a, id);
    gp_bytes value = op == GB__OP_EXPIRE ? (gp_bytes){NULL, -1} : gb__value(&a, x, &x->tr);
    t->hooks.write(t->hooks.ctx, x, x->log_partition, key, value);
    gp_arena_reset(&a, NULL, 0);
}

static gb_txn_transit gb__current(const gb_txn *x, int64_t now)
{
    return (gb_txn_transit){
        .status = x->status,
        .producer_id = x->producer_id,
        .last_producer_id = x->last_producer_id,
        .epoch = x->epoch,
        .last_epoch = x->last_epoch,
        .timeout_ms = x->timeout_ms,
        .start_ms = x->start_ms,
        .update_ms = now,
        .next_producer_id = x->next_producer_id,
        .tv = x->tv,
    };
}

static void gb__apply(gb_txn *x)
{
    const gb_txn_transit *tr = &x->tr;
    x->status = tr->status;
    x->producer_id = tr->producer_id;
    x->last_producer_id = tr->last_producer_id;
    x->epoch = tr->epoch;
    x->last_epoch = tr->last_epoch;
    x->timeout_ms = tr->timeout_ms;
    x->start_ms = tr->start_ms;
    x->last_update_ms = tr->update_ms;
    x->next_producer_id = tr->next_producer_id;
    x->tv = tr->tv;
    if (tr->clear_parts)
        gb__free_parts(x, 0);
    x->napplied = x->nparts;
}

/* Prepare* (EndTxn, or an abort the coordinator starts). epoch: GB__KEEP,
 * GB__FENCE or GB__BUMP; next_pid: tv 2's new producer id at epoch
 * exhaustion, or -1. */
static void gb__prepare(gb_txns *t, gb_txn *x, bool commit, int epoch, int64_t next_pid, gb_txn_cb done, void *arg)
{
    int64_t now = gb__now(t);
    x->tr = gb__current(x, now);
    x->tr.status = commit ? GB_TXN_PREPARE_COMMIT : GB_TXN_PREPARE_ABORT;
    x->tr.next_producer_id = next_pid;
    if (x->status != GB_TXN_ONGOING) {
        /* tv 2's abort with no transaction open: none of the old partitions */
        gb__free_parts(x, 0);
        x->tr.start_ms = now;
    }
    if (epoch != GB__KEEP && x->epoch < INT16_MAX) {
        /* GB__FENCE is Kafka's prepareFenceProducerEpoch: the old
         * producer's writes and EndTxn are refused from now on. GB__BUMP
         * keeps the old epoch as the previous one: a retried EndTxn or
         * InitProducerId with it is recognised. */
        x->tr.last_epoch = epoch == GB__BUMP ? x->epoch : -1;
        x->tr.epoch = (int16_t)(x->epoch + 1);
    }
    if (epoch == GB__BUMP)
        x->tr.tv = 2;
    else if (epoch == GB__KEEP)
        x->tr.tv = 0;
    x->commit = commit;
    gb__write(t, x, GB__OP_PREPARE, done, arg);
}

/* An abort the coordinator starts (InitProducerId of a new producer, a
 * timeout): the producer is fenced. A tv 2 entry gets one bump, as every tv
 * 2 transaction end, and its producer learns of the abort on its next
 * request (Kafka 4.4 answers so). */
static void gb__fence(gb_txns *t, gb_txn *x)
{
    gb__prepare(t, x, false, x->tv >= 2 ? GB__BUMP : GB__FENCE, -1, NULL, NULL);
}

static void gb__start_markers(gb_txns *t, gb_txn *x)
{
    x->markers_running = true;
    x->markers_finished = false;
    x->commit = x->status == GB_TXN_PREPARE_COMMIT;
    t->hooks.markers(t->hooks.ctx, x);
}

static void gb__complete(gb_txns *t, gb_txn *x)
{
    x->tr = gb__current(x, gb__now(t));
    x->tr.status = x->commit ? GB_TXN_COMPLETE_COMMIT : GB_TXN_COMPLETE_ABORT;
    x->tr.clear_parts = true;
    if (x->next_producer_id >= 0) {
        /* tv 2 at epoch exhaustion: the markers carried the old id's last
         * epoch; the producer goes on with the new id (Kafka's
         * prepareComplete). */
        x->tr.last_producer_id = x->producer_id;
        x->tr.last_epoch = x->epoch;
        x->tr.producer_id = x->next_producer_id;
        x->tr.epoch = 0;
        x->tr.next_producer_id = -1;
    }
    gb__write(t, x, GB__OP_COMPLETE, NULL, NULL);
}

/* ---- InitProducerId ----------------------------------------------------------------- */

/* A new producer id for x (gb_txns_pid answers): for InitProducerId, or
 * for a tv 2 EndTxn at epoch exhaustion (for_end). */
static void gb__ask_pid(gb_txns *t, gb_txn *x, bool for_end, gb_txn_cb done, void *arg)
{
    x->op = GB__OP_PID;
    x->pid_for_end = for_end;
    x->done = done;
    x->arg = arg;
    t->hooks.new_pid(t->hooks.ctx, x);
}

/* Kafka's isValidProducerId for a KIP-360 request. */
static bool gb__valid_pid(const gb_txn *x, int64_t pid, int16_t epoch)
{
    return x->epoch == -1 || pid == x->producer_id || (pid == x->last_producer_id && gb__epoch_exhausted(epoch));
}

static void gb__init(gb_txns *t, gb_txn *x, int32_t timeout_ms, int64_t pid, int16_t epoch, gb_txn_cb done,
                     void *arg)
{
    if (x->op != GB__OP_NONE) {
        done(arg, GP_E_CONCURRENT_TRANSACTIONS, -1, -1);
        return;
    }
    if (pid != -1 && !gb__valid_pid(x, pid, epoch)) {
        done(arg, GP_E_PRODUCER_FENCED, -1, -1);
        return;
    }
    switch (x->status) {
    case GB_TXN_PREPARE_COMMIT:
    case GB_TXN_PREPARE_ABORT:
    case GB_TXN_PREPARE_EPOCH_FENCE:
    case GB_TXN_DEAD:
        done(arg, GP_E_CONCURRENT_TRANSACTIONS, -1, -1);
        return;
    case GB_TXN_ONGOING:
        /* Abort the open transaction with a bumped epoch first; the client
         * retries and gets the epoch after that. */
        gb__fence(t, x);
        done(arg, GP_E_CONCURRENT_TRANSACTIONS, -1, -1);
        return;
    default:
        break;
    }
    int64_t now = gb__now(t);
    if (gb__epoch_exhausted(x->epoch) && (pid == -1 || epoch == x->epoch)) {
        /* A new producer id, epoch 0 (Kafka's prepareProducerIdRotation). */
        x->want_timeout_ms = timeout_ms;
        x->want_pid = pid;
        x->want_epoch = epoch;
        gb__ask_pid(t, x, false, done, arg);
        return;
    }
    gb_txn_transit tr = gb__current(x, now);
    if (pid == -1) {
        tr.epoch = (int16_t)(x->epoch + 1);
        tr.last_epoch = -1;
    } else if (x->epoch == -1 || epoch == x->epoch) {
        tr.epoch = (int16_t)(x->epoch + 1);
        tr.last_epoch = x->epoch;
    } else if (epoch == x->last_epoch) {
        /* A retry of the last bump, whose answer the producer never got. */
        tr.epoch = x->epoch;
        tr.last_epoch = x->last_epoch;
    } else {
        done(arg, GP_E_PRODUCER_FENCED, -1, -1);
        return;
    }
    tr.status = GB_TXN_EMPTY;
    tr.timeout_ms = timeout_ms;
    tr.start_ms = -1;
    tr.clear_parts = true;
    tr.tv = 0; /* Kafka's InitProducerId transitions carry version 0 */
    x->tr = tr;
    gb__write(t, x, GB__OP_INIT, done, arg);
}

void gb_txns_init_pid(gb_txns *t, gp_str id, int32_t timeout_ms, int64_t producer_id, int16_t epoch, gb_txn_cb done,
                      void *arg)
{
    if (id.len <= 0) {
        done(arg, GP_E_INVALID_REQUEST, -1, -1);
        return;
    }
    if (timeout_ms <= 0 || timeout_ms > t->lim.max_timeout_ms) {
        done(arg, GP_E_INVALID_TRANSACTION_TIMEOUT, -1, -1);
        return;
    }
    gb_txn *x = gb__find(t, id);
    if (!x) {
        /* A new transactional id: a producer id first (Kafka creates the
         * entry with it and epoch -1, then bumps to 0). */
        x = gb__create(t, id);
        x->want_timeout_ms = timeout_ms;
        x->want_pid = -1;
        x->want_epoch = -1;
        gb__ask_pid(t, x, false, done, arg);
        return;
    }
    gb__init(t, x, timeout_ms, producer_id, epoch, done, arg);
}

void gb_txns_pid(gb_txn *x, int16_t error, int64_t id)
{
    gb_txns *t = x->owner;
    gb_txn_cb done = x->done;
    void *arg = x->arg;
    x->op = GB__OP_NONE;
    x->done = NULL;
    if (x->pid_for_end) {
        x->pid_for_end = false;
        if (error)
            done(arg, error, -1, -1);
        else
            gb__prepare(t, x, x->commit, GB__BUMP, id, done, arg);
        return;
    }
    if (error) {
        if (x->producer_id < 0)
            gb__remove(t, x); /* never handed out */
        done(arg, error, -1, -1);
        return;
    }
    if (x->producer_id < 0) {
        x->producer_id = id;
        x->epoch = -1;
        gb__init(t, x, x->want_timeout_ms, -1, -1, done, arg);
        return;
    }
    /* A rotation. */
    x->tr = gb__current(x, gb__now(t));
    x->tr.last_producer_id = x->producer_id;
    x->tr.producer_id = id;
    x->tr.epoch = 0;
    /* Kafka keeps the exhausted epoch when the client gave it, so that a
     * retry of this request (old id, old epoch) is answered again. */
    x->tr.last_epoch = x->want_pid != -1 ? x->epoch : -1;
    x->tr.status = GB_TXN_EMPTY;
    x->tr.timeout_ms = x->want_timeout_ms;
    x->tr.start_ms = -1;
    x->tr.clear_parts = true;
    x->tr.tv = 0;
    gb__write(t, x, GB__OP_INIT, done, arg);
}

/* ---- AddPartitionsToTxn, EndTxn, verification ---------------------------------------- */

/* The checks every request of a producer starts with. */
static int16_t gb__check_producer(const gb_txn *x, int64_t pid, int16_t epoch)
{
    /* Epoch -1: the id's first InitProducerId never completed, so its
     * producer id was never handed out. */
    if (!x || x->producer_id < 0 || x->epoch < 0 || x->producer_id != pid)
        return GP_E_INVALID_PRODUCER_ID_MAPPING;
    if (epoch != x->epoch)
        return GP_E_PRODUCER_FENCED;
    return 0;
}

static bool gb__all_applied(const gb_txn *x, const gb_txn_tp *tps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!gb__has_part(x, x->napplied, tps[i].topic, tps[i].topic_len, tps[i].partition))
            return false;
    return true;
}

static bool gb__busy(const gb_txn *x)
{
    return x->op != GB__OP_NONE || x->status == GB_TXN_PREPARE_COMMIT || x->status == GB_TXN_PREPARE_ABORT ||
           x->status == GB_TXN_PREPARE_EPOCH_FENCE;
}

/* Queue a tv 2 add until the entry is free (gb__run_waiters). */
static bool gb__wait(gb_txn *x, int64_t producer_id, int16_t epoch, const gb_txn_tp *tps, size_t n, gb_txn_cb done,
                     void *arg)
{
    if (x->nwaiters >= GB__MAX_WAITERS)
        return false;
    gb_txn_waiter *w = gu_calloc(1, sizeof *w);
    w->producer_id = producer_id;
    w->epoch = epoch;
    w->tps = gu_calloc(n ? n : 1, sizeof *w->tps);
    for (size_t i = 0; i < n; i++) {
        w->tps[i] = tps[i];
        w->tps[i].topic = gu_malloc(tps[i].topic_len + 1);
        memcpy(w->tps[i].topic, tps[i].topic, tps[i].topic_len);
        w->tps[i].topic[tps[i].topic_len] = '\0';
    }
    w->n = n;
    w->done = done;
    w->arg = arg;
    *x->waiters_tail = w;
    x->waiters_tail = &w->next;
    x->nwaiters++;
    return true;
}

static void gb__add(gb_txns *t, gb_txn *x, int64_t producer_id, int16_t epoch, const gb_txn_tp *tps, size_t n,
                    int16_t tv, gb_txn_cb done, void *arg);

/* The entry is free again: the queued adds try once more, in order (one
 * that finds it busy again queues again). */
static void gb__run_waiters(gb_txns *t, gb_txn *x)
{
    if (!x->waiters || gb__busy(x))
        return;
    gb_txn_waiter *w = gb__take_waiters(x);
    while (w) {
        gb_txn_waiter *next = w->next;
        gb__add(t, x, w->producer_id, w->epoch, w->tps, w->n, 2, w->done, w->arg);
        gb__free_waiter(w);
        w = next;
    }
}

void gb_txns_add_partitions(gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, const gb_txn_tp *tps, size_t n,
                            int16_t tv, gb_txn_cb done, void *arg)
{
    if (id.len <= 0) {
        done(arg, GP_E_INVALID_REQUEST, -1, -1);
        return;
    }
    gb_txn *x = gb__find(t, id);
    if (!x) {
        done(arg, GP_E_INVALID_PRODUCER_ID_MAPPING, -1, -1);
        return;
    }
    gb__add(t, x, producer_id, epoch, tps, n, tv, done, arg);
}

static void gb__add(gb_txns *t, gb_txn *x, int64_t producer_id, int16_t epoch, const gb_txn_tp *tps, size_t n,
                    int16_t tv, gb_txn_cb done, void *arg)
{
    int16_t err = gb__check_producer(x, producer_id, epoch);
    if (!err && gb__busy(x)) {
        if (tv >= 2 && x->op == GB__OP_ADD && x->status == GB_TXN_ONGOING && gb__all_applied(x, tps, n)) {
            done(arg, 0, -1, -1); /* in the transaction already; another add is being written */
            return;
        }
        if (tv >= 2 && gb__wait(x, producer_id, epoch, tps, n, done, arg))
            return;
        err = GP_E_CONCURRENT_TRANSACTIONS;
    }
    if (!err && x->status == GB_TXN_DEAD)
        err = GP_E_INVALID_TXN_STATE;
    if (err) {
        done(arg, err, -1, -1);
        return;
    }
    bool fresh = x->status != GB_TXN_ONGOING;
    size_t before = x->nparts;
    if (fresh)
        gb__free_parts(x, 0), before = 0; /* Complete* keeps none; Empty has none */
    for (size_t i = 0; i < n; i++)
        gb__add_part(x, tps[i].topic, tps[i].topic_len, tps[i].partition);
    if (!fresh && x->nparts == before) {
        done(arg, 0, -1, -1); /* all there already: nothing to write */
        return;
    }
    int64_t now = gb__now(t);
    x->tr = gb__current(x, now);
    x->tr.status = GB_TXN_ONGOING;
    x->tr.tv = tv;
    if (fresh)
        x->tr.start_ms = now;
    gb__write(t, x, GB__OP_ADD, done, arg);
}

/* EndTxn under transaction version 2 (the request's or the entry's), as
 * Kafka 4.4 answers it: the epoch before the current one is a retry of the
 * EndTxn that bumped it; the current one ends the open transaction, or
 * with none open, an abort bumps the epoch and a commit is
 * INVALID_TXN_STATE. */
static void gb__end_v2(gb_txns *t, gb_txn *x, int64_t pid, int16_t epoch, bool commit, int16_t tv, gb_txn_cb done,
                       void *arg)
{
    bool complete = x->status == GB_TXN_COMPLETE_COMMIT || x->status == GB_TXN_COMPLETE_ABORT;
    bool prepare = x->status == GB_TXN_PREPARE_COMMIT || x->status == GB_TXN_PREPARE_ABORT;
    /* a retry of the EndTxn that moved the producer to a new id */
    bool retry_overflow = complete && x->producer_id != pid && x->last_producer_id == pid &&
                          epoch == INT16_MAX - 1 && x->epoch == 0;
    if (x->producer_id != pid && !retry_overflow) {
        done(arg, GP_E_INVALID_PRODUCER_ID_MAPPING, -1, -1);
        return;
    }
    bool retry = retry_overflow || ((prepare || complete) && x->epoch == epoch + 1);
    bool current = !retry_overflow && epoch == x->epoch;
    int16_t err = 0;
    if (!retry && !current)
        err = GP_E_PRODUCER_FENCED;
    else if (x->op != GB__OP_NONE || prepare)
        err = GP_E_CONCURRENT_TRANSACTIONS;
    else if (retry)
        err = commit == (x->status == GB_TXN_COMPLETE_COMMIT) ? 0 : GP_E_INVALID_TXN_STATE;
    else if (x->status == GB_TXN_DEAD || (x->status != GB_TXN_ONGOING && commit))
        err = GP_E_INVALID_TXN_STATE; /* nothing to commit */
    if (err || retry) {
        done(arg, err, err ? -1 : x->producer_id, err ? -1 : x->epoch);
        return;
    }
    if (tv < 2) {
        /* an old client on a tv 2 entry: no bump, and no abort without a
         * transaction (answered as version 1 answers a retry) */
        if (x->status == GB_TXN_ONGOING)
            gb__prepare(t, x, commit, GB__KEEP, -1, done, arg);
        else if (commit == (x->status == GB_TXN_COMPLETE_COMMIT) && x->status != GB_TXN_EMPTY)
            done(arg, 0, x->producer_id, x->epoch);
        else
            done(arg, GP_E_INVALID_TXN_STATE, -1, -1);
        return;
    }
    if (gb__epoch_exhausted(x->epoch)) {
        /* The bump takes the last epoch: a new producer id for after it. */
        x->commit = commit;
        gb__ask_pid(t, x, true, done, arg);
        return;
    }
    gb__prepare(t, x, commit, GB__BUMP, -1, done, arg);
}

void gb_txns_end(gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, bool commit, int16_t tv, gb_txn_cb done,
                 void *arg)
{
    if (id.len <= 0) {
        done(arg, GP_E_INVALID_REQUEST, -1, -1);
        return;
    }
    gb_txn *x = gb__find(t, id);
    if (!x || x->producer_id < 0 || x->epoch < 0) {
        done(arg, GP_E_INVALID_PRODUCER_ID_MAPPING, -1, -1);
        return;
    }
    if (tv >= 2 || x->tv >= 2) {
        gb__end_v2(t, x, producer_id, epoch, commit, tv, done, arg);
        return;
    }
    int16_t err = gb__check_producer(x, producer_id, epoch);
    if (!err && x->op != GB__OP_NONE)
        err = GP_E_CONCURRENT_TRANSACTIONS;
    if (err) {
        done(arg, err, -1, -1);
        return;
    }
    switch (x->status) {
    case GB_TXN_ONGOING:
        gb__prepare(t, x, commit, GB__KEEP, -1, done, arg);
        return;
    case GB_TXN_COMPLETE_COMMIT:
        err = commit ? 0 : GP_E_INVALID_TXN_STATE; /* a retry is answered as it was */
        break;
    case GB_TXN_COMPLETE_ABORT:
        err = commit ? GP_E_INVALID_TXN_STATE : 0;
        break;
    case GB_TXN_PREPARE_COMMIT:
        err = commit ? GP_E_CONCURRENT_TRANSACTIONS : GP_E_INVALID_TXN_STATE;
        break;
    case GB_TXN_PREPARE_ABORT:
        err = commit ? GP_E_INVALID_TXN_STATE : GP_E_CONCURRENT_TRANSACTIONS;
        break;
    default:
        err = GP_E_INVALID_TXN_STATE; /* Empty: no transaction to end */
        break;
    }
    done(arg, err, err ? -1 : x->producer_id, err ? -1 : x->epoch);
}

int16_t gb_txns_verify(const gb_txns *t, gp_str id, int64_t producer_id, int16_t epoch, gp_str topic, int32_t partition)
{
    if (id.len <= 0)
        return GP_E_INVALID_REQUEST;
    const gb_txn *x = gb__find(t, id);
    int16_t err = gb__check_producer(x, producer_id, epoch);
    if (err)
        return err;
    if (x->status == GB_TXN_PREPARE_COMMIT || x->status == GB_TXN_PREPARE_ABORT ||
        (x->op == GB__OP_PREPARE || x->op == GB__OP_COMPLETE))
        return GP_E_CONCURRENT_TRANSACTIONS;
    if (x->status != GB_TXN_ONGOING ||
        !gb__has_part(x, x->napplied, topic.p, topic.len > 0 ? (size_t)topic.len : 0, partition))
        return GP_E_INVALID_TXN_STATE;
    return 0;
}

/* ---- the hooks' answers ------------------------------------------------------------- */

void gb_txns_written(gb_txns *t, gb_txn *x, int16_t error)
{
    int op = x->op;
    gb_txn_cb done = x->done;
    void *arg = x->arg;
    x->op = GB__OP_NONE;
    x->done = NULL;
    if (error) {
        if (op == GB__OP_ADD)
            gb__free_parts(x, x->napplied); /* the partitions this one added */
        if (op == GB__OP_COMPLETE)
            x->markers_finished = true; /* retried by gb_txns_abort_timed_out's pass */
        if (done)
            done(arg, error, -1, -1);
        gb__run_waiters(t, x);
        return;
    }
    if (op == GB__OP_EXPIRE) {
        gb__remove(t, x);
        return;
    }
    gb__apply(x);
    if (done) {
        /* tv 2 at epoch exhaustion: the client goes on with the new id */
        bool moving = op == GB__OP_PREPARE && x->next_producer_id >= 0;
        done(arg, 0, moving ? x->next_producer_id : x->producer_id, moving ? 0 : x->epoch);
    }
    if (op == GB__OP_PREPARE)
        gb__start_markers(t, x);
    gb__run_waiters(t, x);
}

void gb_txns_markers_done(gb_txns *t, gb_txn *x)
{
    x->markers_running = false;
    gb__complete(t, x);
}

/* ---- timers ----------------------------------------------------------------------- */

size_t gb_txns_abort_timed_out(gb_txns *t)
{
    int64_t now = gb__now(t);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        gb_txn *x = t->all[i];
        if (x->op != GB__OP_NONE)
            continue;
        if (x->markers_finished && (x->status == GB_TXN_PREPARE_COMMIT || x->status == GB_TXN_PREPARE_ABORT)) {
            x->markers_finished = false;
            gb__complete(t, x);
            continue;
        }
        if (x->status == GB_TXN_ONGOING && x->start_ms >= 0 && now - x->start_ms > x->timeout_ms) {
            gb__fence(t, x);
            n++;
        }
    }
    return n;
}

size_t gb_txns_expire(gb_txns *t)
{
    int64_t now = gb__now(t);
    size_t n = 0;
    /* gb__write may complete (and remove) at once: walk down from the end. */
    for (size_t i = t->n; i-- > 0;) {
        if (i >= t->n)
            continue;
        gb_txn *x = t->all[i];
        if (x->op != GB__OP_NONE || x->markers_running || x->producer_id < 0)
            continue;
        if ((x->status == GB_TXN_EMPTY || x->status == GB_TXN_COMPLETE_COMMIT ||
             x->status == GB_TXN_COMPLETE_ABORT) &&
            now - x->last_update_ms >= t->lim.id_expiration_ms) {
            gb__write(t, x, GB__OP_EXPIRE, NULL, NULL);
            n++;
        }
    }
    return n;
}

/* ---- loading ---------------------------------------------------------------------- */

int gb_txns_replay(gb_txns *t, gp_bytes key, gp_bytes value)
{
    gp_str id;
    int rc = gb_txn_key_decode(key, &id);
    if (rc < 0 || id.len <= 0)
        return rc < 0 ? rc : GP_ERR_NULL;
    gb_txn *x = gb__find(t, id);
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gb_txn_value v;
    rc = gb_txn_value_decode(&a, value, &v);
    if (rc == GP_ERR_NULL || (rc == 0 && v.status == GB_TXN_DEAD)) {
        if (x)
            gb__remove(t, x);
        gp_arena_reset(&a, NULL, 0);
        return 0;
    }
    if (rc < 0) {
        gp_arena_reset(&a, NULL, 0);
        return rc;
    }
    if (!x)
        x = gb__create(t, id);
    gb__free_parts(x, 0);
    x->producer_id = v.producer_id;
    x->last_producer_id = v.previous_producer_id;
    x->epoch = v.producer_epoch;
    x->last_epoch = -1;
    x->timeout_ms = v.timeout_ms;
    x->next_producer_id = v.next_producer_id;
    x->tv = v.client_txn_version;
    x->status = v.status == GB_TXN_PREPARE_EPOCH_FENCE ? GB_TXN_PREPARE_ABORT : v.status;
    x->start_ms = v.start_ms;
    x->last_update_ms = v.last_update_ms;
    for (int32_t i = 0; i < v.ntopics; i++)
        for (int32_t j = 0; j < v.topics[i].npartitions; j++)
            gb__add_part(x, v.topics[i].topic.p, (size_t)v.topics[i].topic.len, v.topics[i].partitions[j]);
    x->napplied = x->nparts;
    gp_arena_reset(&a, NULL, 0);
    return 0;
}

size_t gb_txns_load_done(gb_txns *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        gb_txn *x = t->all[i];
        if (x->status == GB_TXN_PREPARE_COMMIT || x->status == GB_TXN_PREPARE_ABORT) {
            gb__start_markers(t, x);
            n++;
        }
    }
    return n;
}

/* ---- reading ---------------------------------------------------------------------- */

void gb_txn_get(const gb_txn *x, gb_txn_view *v)
{
    v->id = (gp_str){x->id, (int32_t)x->id_len};
    v->producer_id = x->producer_id;
    v->epoch = x->epoch;
    v->timeout_ms = x->timeout_ms;
    v->status = x->status;
    v->start_ms = x->start_ms;
    v->last_update_ms = x->last_update_ms;
    v->parts = x->parts;
    v->nparts = x->napplied;
    v->pending = x->op != GB__OP_NONE;
}

bool gb_txn_write_needs_sync(const gb_txn *x)
{
    return x->op != GB__OP_COMPLETE;
}

bool gb_txn_markers_commit(const gb_txn *x)
{
    return x->commit;
}

const gb_txn *gb_txns_next(const gb_txns *t, size_t *cursor)
{
    return *cursor < t->n ? t->all[(*cursor)++] : NULL;
}

size_t gb_txns_count(const gb_txns *t)
{
    return t->n;
}
