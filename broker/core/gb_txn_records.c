/*
 * __transaction_state keys and values (see gb_txn_records.h), in Kafka's
 * generated serialisation: big-endian integers, int16-length strings and
 * int32-length arrays in v0; compact lengths and tagged fields in v1.
 */
#include "broker/core/gb_txn_records.h"

#include <stdbool.h>
#include <string.h>

static const char *const gb__status_names[] = {
    "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence",
};

const char *gb_txn_status_name(int status)
{
    return status >= 0 && status <= GB_TXN_STATUS_MAX ? gb__status_names[status] : "Unknown";
}

static gp_bytes gb__finish(gp_writer *w)
{
    return (gp_bytes){w->start, (int32_t)(w->p - w->start)};
}

gp_bytes gb_txn_key_encode(gp_arena *a, gp_str transactional_id)
{
    size_t n = 2 + gp_size_string(false, transactional_id);
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, 0);
    gp_write_string(&w, false, transactional_id);
    return gb__finish(&w);
}

gp_bytes gb_txn_value_encode(gp_arena *a, const gb_txn_value *v)
{
    bool flex = v->version >= 1;
    /* generous for the compact lengths and the tagged fields */
    size_t n = 2 + 8 + 2 + 4 + 1 + 5 + 8 + 8 + 1 + 3 * (2 + 8);
    for (int32_t i = 0; i < v->ntopics; i++)
        n += gp_size_string(flex, v->topics[i].topic) + 5 + 1 + 4 * (size_t)v->topics[i].npartitions;
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, flex ? 1 : 0);
    gp_write_int64(&w, v->producer_id);
    gp_write_int16(&w, v->producer_epoch);
    gp_write_int32(&w, v->timeout_ms);
    gp_write_int8(&w, v->status);
    gp_write_array_len(&w, flex, v->ntopics < 0 ? -1 : v->ntopics);
    for (int32_t i = 0; i < v->ntopics; i++) {
        gp_write_string(&w, flex, v->topics[i].topic);
        gp_write_array_len(&w, flex, v->topics[i].npartitions);
        for (int32_t j = 0; j < v->topics[i].npartitions; j++)
            gp_write_int32(&w, v->topics[i].partitions[j]);
        if (flex)
            gp_write_uvarint(&w, 0); /* the partition struct's tags */
    }
    gp_write_int64(&w, v->last_update_ms);
    gp_write_int64(&w, v->start_ms);
    if (flex) {
        /* tagged fields that differ from their defaults, in tag order */
        bool prev = v->previous_producer_id != -1, next = v->next_producer_id != -1, tv = v->client_txn_version != 0;
        gp_write_uvarint(&w, (uint32_t)prev + (uint32_t)next + (uint32_t)tv);
        if (prev) {
            gp_write_uvarint(&w, 0);
            gp_write_uvarint(&w, 8);
            gp_write_int64(&w, v->previous_producer_id);
        }
        if (next) {
            gp_write_uvarint(&w, 1);
            gp_write_uvarint(&w, 8);
            gp_write_int64(&w, v->next_producer_id);
        }
        if (tv) {
            gp_write_uvarint(&w, 2);
            gp_write_uvarint(&w, 2);
            gp_write_int16(&w, v->client_txn_version);
        }
    }
    return gb__finish(&w);
}

int gb_txn_key_decode(gp_bytes key, gp_str *transactional_id)
{
    *transactional_id = GP_STR_NULL;
    if (key.len < 0)
        return GP_ERR_NULL;
    gp_reader r;
    gp_reader_init(&r, key.p, (size_t)key.len);
    int16_t v = gp_read_int16(&r);
    if (!r.err && v != 0)
        return GP_ERR_VERSION;
    *transactional_id = gp_read_string(&r, false, false);
    return r.err;
}

/* The tagged fields of a v1 value: the three Kafka defines, others skipped. */
static void gb__value_tags(gp_reader *r, gb_txn_value *out)
{
    uint32_t n = gp_read_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        uint32_t tag = gp_read_uvarint(r);
        uint32_t size = gp_read_uvarint(r);
        if (tag == 0 && size == 8)
            out->previous_producer_id = gp_read_int64(r);
        else if (tag == 1 && size == 8)
            out->next_producer_id = gp_read_int64(r);
        else if (tag == 2 && size == 2)
            out->client_txn_version = gp_read_int16(r);
        else
            gp_read_skip(r, size);
    }
}

int gb_txn_value_decode(gp_arena *a, gp_bytes value, gb_txn_value *out)
{
    memset(out, 0, sizeof *out);
    out->previous_producer_id = -1;
    out->next_producer_id = -1;
    out->ntopics = -1;
    if (value.len < 0)
        return GP_ERR_NULL;
    gp_reader r;
    gp_reader_init(&r, value.p, (size_t)value.len);
    int16_t v = gp_read_int16(&r);
    if (!r.err && (v < 0 || v > 1))
        return GP_ERR_VERSION;
    bool flex = v >= 1;
    out->producer_id = gp_read_int64(&r);
    out->producer_epoch = gp_read_int16(&r);
    out->timeout_ms = gp_read_int32(&r);
    out->status = gp_read_int8(&r);
    int32_t nt = gp_read_array_len(&r, flex, true);
    if (r.err)
        return r.err;
    out->ntopics = nt;
    if (nt > 0) {
        out->topics = gp_arena_calloc(a, (size_t)nt, sizeof *out->topics);
        for (int32_t i = 0; i < nt && !r.err; i++) {
            gb_txn_topic_parts *t = &out->topics[i];
            t->topic = gp_read_string(&r, flex, false);
            int32_t np = gp_read_array_len(&r, flex, false);
            if (r.err)
                break;
            t->npartitions = np;
            t->partitions = gp_arena_calloc(a, np ? (size_t)np : 1, sizeof *t->partitions);
            for (int32_t j = 0; j < np && !r.err; j++)
                t->partitions[j] = gp_read_int32(&r);
            if (flex)
                gb__value_tags(&r, &(gb_txn_value){0}); /* the partition struct's tags: none defined */
        }
    }
    out->last_update_ms = gp_read_int64(&r);
    out->start_ms = gp_read_int64(&r);
    if (flex)
        gb__value_tags(&r, out);
    if (!r.err && (out->status < 0 || out->status > GB_TXN_STATUS_MAX))
        return GP_ERR_VERSION;
    return r.err;
}
