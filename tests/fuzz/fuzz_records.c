/*
 * The decoders of the internal topics' records, which the coordinators
 * replay at start-up from files anyone could have written:
 * __transaction_state (TransactionLogKey/Value, core/gb_txn_records) and
 * __consumer_offsets (OffsetCommit/GroupMetadata keys and values,
 * core/gb_group_records).
 *
 * Input: byte 0 picks the decoder; the rest is split at byte 1 (modulo the
 * length) into a key and a value. Each decoder reads straight from
 * libFuzzer's buffer (ASan sees any read past it). A transaction record
 * that decodes is encoded again and must decode to the same fields; and
 * every pair is also replayed into a transaction state machine, which must
 * never crash on it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/gb_group_records.h"
#include "broker/core/gb_txn_records.h"
#include "broker/core/gb_txn_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fz_now(void *ctx)
{
    (void)ctx;
    return 1000;
}
static void fz_write(void *ctx, gb_txn *x, int32_t p, gp_bytes k, gp_bytes v)
{
    (void)ctx, (void)x, (void)p, (void)k, (void)v;
}
static void fz_markers(void *ctx, gb_txn *x)
{
    (void)ctx, (void)x;
}
static void fz_pid(void *ctx, gb_txn *x)
{
    (void)ctx, (void)x;
}

static void fz_txn_value(gp_bytes value)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gb_txn_value v;
    if (gb_txn_value_decode(&a, value, &v) == 0) {
        gp_bytes again = gb_txn_value_encode(&a, &v);
        gb_txn_value w;
        if (gb_txn_value_decode(&a, again, &w) != 0 || w.producer_id != v.producer_id ||
            w.producer_epoch != v.producer_epoch || w.status != v.status || w.timeout_ms != v.timeout_ms ||
            w.ntopics != v.ntopics || w.last_update_ms != v.last_update_ms || w.start_ms != v.start_ms)
            abort();
        for (int32_t i = 0; i < v.ntopics; i++)
            if (w.topics[i].npartitions != v.topics[i].npartitions || w.topics[i].topic.len != v.topics[i].topic.len ||
                memcmp(w.topics[i].topic.p, v.topics[i].topic.p, (size_t)v.topics[i].topic.len) != 0)
                abort();
    }
    gp_arena_reset(&a, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t which = data[0];
    size_t rest = size - 2, cut = rest ? data[1] % (rest + 1) : 0;
    gp_bytes key = {data + 2, (int32_t)cut};
    gp_bytes value = {data + 2 + cut, (int32_t)(rest - cut)};
    if (which & 0x80)
        value.len = -1; /* a tombstone */
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    switch (which % 4) {
    case 0: {
        gp_str id;
        (void)gb_txn_key_decode(key, &id);
        fz_txn_value(value);
        break;
    }
    case 1: {
        gb_txn_limits lim = {.max_timeout_ms = 900000, .id_expiration_ms = 1000, .log_num_partitions = 50};
        gb_txn_hooks hooks = {.now = fz_now, .write = fz_write, .markers = fz_markers, .new_pid = fz_pid};
        gb_txns *t = gb_txns_new(&lim, &hooks);
        (void)gb_txns_replay(t, key, value);
        (void)gb_txns_replay(t, key, value);
        (void)gb_txns_load_done(t);
        (void)gb_txns_abort_timed_out(t);
        gb_txns_free(t);
        break;
    }
    case 2: {
        gb_group_key k;
        (void)gb_group_key_decode(key, &k);
        gb_offset_value ov;
        (void)gb_offset_value_decode(value, &ov);
        break;
    }
    default: {
        gb_group_value gv;
        (void)gb_group_value_decode(&a, value, &gv);
        break;
    }
    }
    gp_arena_reset(&a, NULL, 0);
    return 0;
}
