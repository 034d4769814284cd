#include "storage/gs_cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "protocol/gp_batch.h"

/* A cleaned segment's files; the .log first (gs__commit renames it last). */
static const char *const gs__seg_exts[] = {"log", "index", "timeindex", "txnindex"};
#define GS__NEXTS 4

/* ---- the offset map -------------------------------------------------------- */

/* A key's 128-bit hash: two 64-bit multiply-xorshift hashes with different
 * seeds, each finished with splitmix64's avalanche. Kafka uses MD5 for
 * the same purpose (a collision would drop a record, so 128 bits). */
static uint64_t gs__mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void gs__key_hash(const uint8_t *k, size_t n, uint64_t out[2])
{
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ n, b = 0xc2b2ae3d27d4eb4fULL ^ (n * 0x165667b19e3779f9ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        a = (a ^ gs__mix(w)) * 0x100000001b3ULL;
        b = (b ^ gs__mix(w + 0x2545f4914f6cdd1dULL)) * 0xff51afd7ed558ccdULL;
        b = (b << 31) | (b >> 33);
    }
    uint64_t w = 0;
    memcpy(&w, k + i, n - i);
    a = gs__mix(a ^ gs__mix(w ^ 0xa0761d6478bd642fULL));
    b = gs__mix(b ^ gs__mix(w ^ 0xe7037ed1a0b428dbULL) ^ a);
    out[0] = a;
    out[1] = b;
}

typedef struct gs__slot {
    uint64_t h[2];
    int64_t offset_plus1; /* 0: empty */
} gs__slot;

typedef struct gs__map {
    gs__slot *slots;
    size_t mask;
    size_t count, max; /* max: the load factor's bound */
} gs__map;

static void gs__map_init(gs__map *m, int64_t bytes, double load, int64_t want)
{
    size_t cap = 1024;
    size_t bound = bytes > 0 ? (size_t)bytes / sizeof(gs__slot) : 1024;
    if (bound < 1024)
        bound = 1024;
    if (load <= 0 || load > 1)
        load = 0.9;
    while (cap * 2 <= bound && (double)cap * load < (double)want)
        cap *= 2;
    m->slots = gu_calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    m->count = 0;
    m->max = (size_t)((double)cap * load);
    if (m->max >= cap)
        m->max = cap - 1;
}

/* The slot of key hash h: its own, or the empty one where it would go. */
static gs__slot *gs__map_find(const gs__map *m, const uint64_t h[2])
{
    size_t i = (size_t)h[0] & m->mask;
    for (;;) {
        gs__slot *s = &m->slots[i];
        if (s->offset_plus1 == 0 || (s->h[0] == h[0] && s->h[1] == h[1]))
            return s;
        i = (i + 1) & m->mask;
    }
}

/* Put; false when a new key would pass the bound. */
static bool gs__map_put(gs__map *m, const uint64_t h[2], int64_t offset)
{
    gs__slot *s = gs__map_find(m, h);
    if (s->offset_plus1 == 0) {
        if (m->count >= m->max)
            return false;
        m->count++;
        s->h[0] = h[0];
        s->h[1] = h[1];
    }
    s->offset_plus1 = offset + 1;
    return true;
}

static int64_t gs__map_get(const gs__map *m, const uint64_t h[2])
{
    const gs__slot *s = gs__map_find(m, h);
    return s->offset_plus1 - 1; /* -1: absent */
}

/* ---- reading a segment batch by batch ---------------------------------------- */

static void gs__name(char *out, size_t len, int64_t base, const char *ext, const char *suffix)
{
    snprintf(out, len, "%020" PRId64 ".%s%s", base, ext, suffix);
}

typedef struct gs__reader {
    int fd;
    int64_t size; /* of the segment when the plan was made (closed: it does not grow) */
    int64_t pos;  /* of the next batch */
    uint8_t *buf;
    size_t cap;
    int64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
} gs__reader;

/* Read segment s of the plan: its .log opened by name (the plan holds no
 * descriptors), closed by gs__reader_close. */
static int gs__reader_open(gs__reader *r, const gs_clean_plan *plan, const gs_log_slice *s, size_t cap)
{
    memset(r, 0, sizeof *r);
    char name[64];
    gs__name(name, sizeof name, s->seg->base_offset, "log", "");
    if ((r->fd = openat(plan->dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    r->size = s->len;
    r->cap = cap < 65536 ? 65536 : cap;
    r->buf = gu_malloc(r->cap);
    return 0;
}

static void gs__reader_close(gs__reader *r)
{
    free(r->buf);
    r->buf = NULL;
    close(r->fd);
    r->fd = -1;
}

static int gs__reader_fill(gs__reader *r, size_t need)
{
    if (need > r->cap) {
        r->cap = need;
        free(r->buf);
        r->buf = gu_malloc(r->cap);
    }
    size_t want = r->cap;
    if ((int64_t)want > r->size - r->pos)
        want = (size_t)(r->size - r->pos);
    size_t done = 0;
    while (done < want) {
        ssize_t n = pread(r->fd, r->buf + done, want - done, r->pos + (int64_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    r->buf_pos = r->pos;
    r->buf_len = done;
    return 0;
}

/* The next batch: 1 with *batch (valid until the next call) and its header,
 * 0 at the end, or a negative errno (-EIO for a malformed batch). */
static int gs__reader_next(gs__reader *r, const uint8_t **batch, size_t *bytes, gp_batch_header *h)
{
    if (r->pos >= r->size)
        return 0;
    if (r->size - r->pos < GP_BATCH_HEADER_SIZE)
        return -EIO;
    int rc;
    if (r->pos < r->buf_pos || r->pos + GP_BATCH_HEADER_SIZE > r->buf_pos + (int64_t)r->buf_len)
        if ((rc = gs__reader_fill(r, GP_BATCH_HEADER_SIZE)) < 0)
            return rc;
    const uint8_t *p = r->buf + (r->pos - r->buf_pos);
    gp_batch_header_parse(p, GP_BATCH_HEADER_SIZE, h);
    int64_t n = GP_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length;
    if (h->batch_length < GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD || n > r->size - r->pos ||
        h->magic != GP_BATCH_MAGIC || h->last_offset_delta < 0)
        return -EIO;
    if (r->pos + n > r->buf_pos + (int64_t)r->buf_len) {
        if ((rc = gs__reader_fill(r, (size_t)n)) < 0)
            return rc;
        p = r->buf;
    }
    *batch = p;
    *bytes = (size_t)n;
    r->pos += n;
    return 1;
}

/* The records of a batch, decompressed into a as needed. */
static int gs__batch_records(const uint8_t *batch, size_t bytes, const gp_batch_header *h, gp_arena *a,
                             const uint8_t **recs, size_t *len)
{
    const uint8_t *src = batch + GP_BATCH_HEADER_SIZE;
    size_t n = bytes - GP_BATCH_HEADER_SIZE;
    if (gp_batch_codec(h) == GP_CODEC_NONE) {
        *recs = src;
        *len = n;
        return 0;
    }
    return gp_decompress(gp_batch_codec(h), src, n, a, GP_BATCH_DEFAULT_MAX_UNCOMPRESSED, recs, len) < 0 ? -EIO : 0;
}

/* ---- the plan's lookups --------------------------------------------------------- */

static bool gs__is_aborted(const gs_clean_plan *plan, const gp_batch_header *h)
{
    if (!gp_batch_is_transactional(h) || gp_batch_is_control(h))
        return false;
    for (size_t i = 0; i < plan->naborted; i++) {
        const gs_aborted_txn *e = &plan->aborted[i];
        if (e->producer_id == h->producer_id && e->first_offset <= h->base_offset && h->base_offset < e->last_offset)
            return true;
    }
    return false;
}

static bool gs__is_last_of_producer(const gs_clean_plan *plan, const gp_batch_header *h)
{
    if (h->producer_id < 0)
        return false;
    size_t lo = 0, hi = plan->nproducers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (plan->producers[mid].producer_id < h->producer_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < plan->nproducers && plan->producers[lo].producer_id == h->producer_id &&
           plan->producers[lo].last_offset == h->base_offset + h->last_offset_delta;
}

/* ---- transactions across a pass (Kafka's CleanedTransactionMetadata) ------------ */

/* An aborted transaction whose range the pass has entered and whose
 * marker it has not met yet; observed: a batch of it was read. */
typedef struct gs__open_abort {
    gs_aborted_txn txn;
    bool observed;
} gs__open_abort;

typedef struct gs__txns {
    const gs_aborted_txn *aborted; /* the plan's, sorted by first offset */
    size_t naborted, next;         /* next: the first not yet entered */
    gs__open_abort *open;          /* producer id -> its open aborted transaction */
    size_t nopen, capopen;
    int64_t *committed; /* producers with a batch read since their last marker, not aborted */
    size_t ncommitted, capcommitted;
} gs__txns;

static int gs__cmp_aborted(const void *x, const void *y)
{
    const gs_aborted_txn *a = x, *b = y;
    return a->first_offset < b->first_offset ? -1 : a->first_offset > b->first_offset;
}

/* Enter every aborted transaction that begins at or before offset (a
 * producer has at most one open: the first entered stays). */
static void gs__txns_enter(gs__txns *t, int64_t offset)
{
    for (; t->next < t->naborted && t->aborted[t->next].first_offset <= offset; t->next++) {
        const gs_aborted_txn *e = &t->aborted[t->next];
        bool have = false;
        for (size_t i = 0; i < t->nopen && !have; i++)
            have = t->open[i].txn.producer_id == e->producer_id;
        if (have)
            continue;
        if (t->nopen == t->capopen) {
            t->capopen = t->capopen ? t->capopen * 2 : 8;
            t->open = gu_realloc(t->open, t->capopen * sizeof *t->open);
        }
        t->open[t->nopen++] = (gs__open_abort){*e, false};
    }
}

static gs__open_abort *gs__txns_open(gs__txns *t, int64_t producer_id)
{
    for (size_t i = 0; i < t->nopen; i++)
        if (t->open[i].txn.producer_id == producer_id)
            return &t->open[i];
    return NULL;
}

/* Remove producer_id from the committed set; whether it was there. */
static bool gs__txns_take_committed(gs__txns *t, int64_t producer_id)
{
    for (size_t i = 0; i < t->ncommitted; i++)
        if (t->committed[i] == producer_id) {
            t->committed[i] = t->committed[--t->ncommitted];
            return true;
        }
    return false;
}

/* A data batch read: true when it is of an aborted transaction (its
 * records can go). */
static bool gs__txns_on_batch(gs__txns *t, const gp_batch_header *h)
{
    gs__txns_enter(t, h->base_offset + h->last_offset_delta);
    if (!gp_batch_is_transactional(h))
        return false;
    gs__open_abort *o = gs__txns_open(t, h->producer_id);
    if (o) {
        o->observed = true;
        return true;
    }
    for (size_t i = 0; i < t->ncommitted; i++)
        if (t->committed[i] == h->producer_id)
            return false;
    if (t->ncommitted == t->capcommitted) {
        t->capcommitted = t->capcommitted ? t->capcommitted * 2 : 8;
        t->committed = gu_realloc(t->committed, t->capcommitted * sizeof *t->committed);
    }
    t->committed[t->ncommitted++] = h->producer_id;
    return false;
}

/* A control batch read (its first record's key in *m, or an empty batch
 * when has_record is false): true when no batch of its transaction
 * remains below it, so it may get a delete horizon and go once that has
 * passed. An ABORT that must stay puts its txnindex entry in *keep. */
static bool gs__txns_on_control(gs__txns *t, const gp_batch_header *h, bool has_record, const gp_txn_marker *m,
                                gs_aborted_txn *keep, bool *keep_set)
{
    *keep_set = false;
    gs__txns_enter(t, h->base_offset + h->last_offset_delta);
    if (!has_record)
        return true; /* emptied by an earlier pass */
    if (m->type == GP_CONTROL_ABORT) {
        gs__open_abort *o = gs__txns_open(t, h->producer_id);
        if (!o)
            return true;
        bool observed = o->observed;
        if (observed) {
            *keep = o->txn;
            *keep_set = true;
        }
        *o = t->open[--t->nopen];
        return !observed;
    }
    if (m->type == GP_CONTROL_COMMIT)
        return !gs__txns_take_committed(t, h->producer_id);
    return false;
}

static void gs__txns_free(gs__txns *t)
{
    free(t->open);
    free(t->committed);
}

/* ---- building the offset map ---------------------------------------------------- */

static int gs__build_map(gs_clean_plan *plan, gs__map *m)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    plan->cleaned_to = plan->end;
    int rc = 0;
    for (size_t i = 0; i < plan->nsegs && rc == 0; i++) {
        int64_t seg_end = i + 1 < plan->nsegs ? plan->segs[i + 1].seg->base_offset : INT64_MAX;
        if (seg_end <= plan->first_dirty)
            continue;
        gs__reader r;
        if ((rc = gs__reader_open(&r, plan, &plan->segs[i], plan->io_buffer)) < 0)
            break;
        const uint8_t *batch;
        size_t bytes;
        gp_batch_header h;
        bool full = false;
        while (!full && (rc = gs__reader_next(&r, &batch, &bytes, &h)) > 0) {
            int64_t last = h.base_offset + h.last_offset_delta;
            if (h.base_offset >= plan->end)
                break;
            if (last < plan->first_dirty || gp_batch_is_control(&h) || gs__is_aborted(plan, &h))
                continue;
            const uint8_t *recs;
            size_t len;
            if ((rc = gs__batch_records(batch, bytes, &h, &a, &recs, &len)) < 0)
                break;
            gp_record_iter it;
            gp_record rec;
            gp_record_iter_init(&it, recs, len, h.records_count);
            int more;
            while ((more = gp_record_next(&it, &rec)) > 0) {
                int64_t off = h.base_offset + rec.offset_delta;
                if (off < plan->first_dirty || off >= plan->end || rec.key.len < 0)
                    continue;
                uint64_t hk[2];
                gs__key_hash(rec.key.p, (size_t)rec.key.len, hk);
                if (!gs__map_put(m, hk, off)) {
                    /* Full: this pass cleans up to this batch. Entries
                     * already added from it are later offsets of their
                     * keys, which only ever removes older records. */
                    plan->cleaned_to = h.base_offset > plan->first_dirty ? h.base_offset : plan->first_dirty;
                    full = true;
                    break;
                }
            }
            if (more < 0)
                rc = -EIO;
            gp_arena_reset(&a, NULL, 0);
        }
        gs__reader_close(&r);
        if (rc > 0)
            rc = 0;
        if (full)
            break;
    }
    gp_arena_reset(&a, NULL, 0);
    plan->stats.map_keys = (int64_t)m->count;
    return rc;
}

/* ---- writing a cleaned segment -------------------------------------------------- */

typedef struct gs__bytes {
    uint8_t *p;
    size_t len, cap;
} gs__bytes;

static void gs__bytes_add(gs__bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n + 4096;
        b->p = gu_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

typedef struct gs__out {
    int fd;
    gs__bytes buf;   /* pending .log bytes */
    gs__bytes index; /* .index entries */
    gs__bytes timeindex;
    gs__bytes txnindex; /* .txnindex entries: the ABORT markers kept with their records */
    int64_t written;    /* bytes of .log (written and pending) */
    int64_t since_index;
    gs_clean_output *o;
    int32_t interval;
    int64_t last_ts; /* of the last time-index entry; INT64_MIN none */
    size_t flush_at;
} gs__out;

static int gs__write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void gs__time_entry(gs__out *w, int64_t ts, int64_t offset)
{
    uint8_t e[12];
    gu_put_be64(e, (uint64_t)ts);
    gu_put_be32(e + 8, (uint32_t)(offset - w->o->base_offset));
    gs__bytes_add(&w->timeindex, e, sizeof e);
    w->last_ts = ts;
}

/* Append one batch to the cleaned segment, with its index entries as
 * gs_log's append makes them. */
static int gs__out_batch(gs__out *w, const uint8_t *batch, size_t bytes)
{
    gp_batch_header h;
    gp_batch_header_parse(batch, bytes, &h);
    gs_clean_output *o = w->o;
    int64_t last = h.base_offset + h.last_offset_delta;
    if (h.max_timestamp > o->max_timestamp) {
        o->max_timestamp = h.max_timestamp;
        o->max_timestamp_offset = last;
    }
    if (w->since_index > w->interval) {
        uint8_t e[8];
        gu_put_be32(e, (uint32_t)(last - o->base_offset));
        gu_put_be32(e + 4, (uint32_t)w->written);
        gs__bytes_add(&w->index, e, sizeof e);
        if (w->last_ts == INT64_MIN || o->max_timestamp > w->last_ts)
            gs__time_entry(w, o->max_timestamp, o->max_timestamp_offset);
        w->since_index = 0;
    }
    w->since_index += (int64_t)bytes;
    gs__bytes_add(&w->buf, batch, bytes);
    w->written += (int64_t)bytes;
    o->next_offset = last + 1;
    if (w->buf.len >= w->flush_at) {
        int rc = gs__write_all(w->fd, w->buf.p, w->buf.len);
        w->buf.len = 0;
        return rc;
    }
    return 0;
}

static int gs__write_file(int dirfd, const char *name, const gs__bytes *b)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = gs__write_all(fd, b->p, b->len);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Kafka's writeEmptyHeader: the batch's header alone, no records. */
static void gs__empty_batch(const gp_batch_header *h, uint8_t out[GP_BATCH_HEADER_SIZE])
{
    memset(out, 0, GP_BATCH_HEADER_SIZE);
    gu_put_be64(out + GP_BATCH_OFF_BASE_OFFSET, (uint64_t)h->base_offset);
    gu_put_be32(out + GP_BATCH_OFF_LENGTH, GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD);
    gu_put_be32(out + GP_BATCH_OFF_PARTITION_LEADER_EPOCH, (uint32_t)h->partition_leader_epoch);
    out[GP_BATCH_OFF_MAGIC] = GP_BATCH_MAGIC;
    int16_t attr =
        h->attributes & (GP_BATCH_ATTR_LOG_APPEND_TIME | GP_BATCH_ATTR_TRANSACTIONAL | GP_BATCH_ATTR_CONTROL);
    gu_put_be16(out + GP_BATCH_OFF_ATTRIBUTES, (uint16_t)attr);
    gu_put_be32(out + GP_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)h->last_offset_delta);
    gu_put_be64(out + GP_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)h->max_timestamp);
    gu_put_be64(out + GP_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)h->max_timestamp);
    gu_put_be64(out + GP_BATCH_OFF_PRODUCER_ID, (uint64_t)h->producer_id);
    gu_put_be16(out + GP_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)h->producer_epoch);
    gu_put_be32(out + GP_BATCH_OFF_BASE_SEQUENCE, (uint32_t)h->base_sequence);
    gu_put_be32(out + GP_BATCH_OFF_RECORDS_COUNT, 0);
    gp_batch_update_crc(out, GP_BATCH_HEADER_SIZE);
}

/* Write kept[0, nkept) as a batch like h (same base offset, last offset
 * delta, producer fields, codec), with the delete-horizon attribute and
 * base timestamp `horizon` when horizon >= 0; the records' timestamp
 * deltas are moved to the new base so that their timestamps stay. */
static int gs__rebuild(gs_clean_plan *plan, gs__out *w, const gp_batch_header *h, gp_record *kept, int32_t nkept,
                       int64_t horizon, gp_arena *a)
{
    int64_t base_ts = horizon >= 0 ? horizon : h->base_timestamp;
    if (base_ts != h->base_timestamp)
        for (int32_t i = 0; i < nkept; i++)
            kept[i].timestamp_delta = h->base_timestamp + kept[i].timestamp_delta - base_ts;
    gp_batch_params p = {
        .base_offset = h->base_offset,
        .partition_leader_epoch = h->partition_leader_epoch,
        .base_timestamp = base_ts,
        .log_append_time = gp_batch_is_log_append_time(h),
        .log_append_time_ms = h->max_timestamp,
        .producer_id = h->producer_id,
        .producer_epoch = h->producer_epoch,
        .base_sequence = h->base_sequence,
        .transactional = gp_batch_is_transactional(h),
        .control = gp_batch_is_control(h),
        .codec = gp_batch_codec(h),
        .level = GP_COMPRESS_LEVEL_DEFAULT,
        .keep_offset_deltas = true,
        .last_offset_delta = h->last_offset_delta,
    };
    gp_bytes out;
    if (gp_batch_build(a, &p, kept, nkept, &out) != 0)
        return -EIO;
    if (horizon >= 0) {
        /* gp_batch_build knows no horizon: set the attribute bit (the low
         * byte of the big-endian int16) and sign the batch again. */
        uint8_t *attr = (uint8_t *)out.p + GP_BATCH_OFF_ATTRIBUTES + 1;
        *attr |= GP_BATCH_ATTR_DELETE_HORIZON;
        gp_batch_update_crc((uint8_t *)out.p, (size_t)out.len);
    }
    plan->stats.batches_rebuilt++;
    return gs__out_batch(w, out.p, (size_t)out.len);
}

static int64_t gs__horizon_of(const gp_batch_header *h)
{
    return (h->attributes & GP_BATCH_ATTR_DELETE_HORIZON) ? h->base_timestamp : -1;
}

/* The horizon a batch gets now: now + delete.retention.ms. */
static int64_t gs__new_horizon(const gs_clean_plan *plan)
{
    int64_t d = plan->delete_retention_ms > 0 ? plan->delete_retention_ms : 0;
    return plan->now_ms > INT64_MAX - d ? INT64_MAX : plan->now_ms + d;
}

static int gs__append_txn_entry(gs__out *w, const gs_aborted_txn *e)
{
    uint8_t b[GS_TXNINDEX_ENTRY];
    gs_txnindex_encode(e, b);
    gs__bytes_add(&w->txnindex, b, sizeof b);
    return 0;
}

/* A control batch through the filter (Kafka's checkBatchRetention for a
 * marker): it stays while its transaction has batches in this pass, gets
 * a horizon when it has none, goes once the horizon has passed (an empty
 * header if it is its producer's last batch). */
static int gs__clean_control(gs_clean_plan *plan, gs__txns *t, gs__out *w, const uint8_t *batch, size_t bytes,
                             const gp_batch_header *h, gp_arena *a)
{
    gs_clean_stats *st = &plan->stats;
    const uint8_t *recs;
    size_t len;
    int rc = gs__batch_records(batch, bytes, h, a, &recs, &len);
    if (rc < 0)
        return rc;
    gp_record_iter it;
    gp_record rec;
    gp_txn_marker m = {0};
    const char *why;
    gp_record_iter_init(&it, recs, len, h->records_count);
    bool has_record = h->records_count > 0 && gp_record_next(&it, &rec) == 1;
    if (has_record && gp_control_record_parse(&rec, &m, &why) != 0)
        m.type = -1; /* an unknown control type: kept, as Kafka does */
    gs_aborted_txn entry;
    bool keep_entry;
    bool can_discard = gs__txns_on_control(t, h, has_record, &m, &entry, &keep_entry);
    int64_t horizon = gs__horizon_of(h);
    if (!has_record) {
        /* Emptied by an earlier pass: only a producer's last batch stays. */
        if (gs__is_last_of_producer(plan, h))
            return gs__out_batch(w, batch, bytes);
        st->batches_dropped++;
        return 0;
    }
    if (can_discard && horizon >= 0 && horizon <= plan->now_ms) {
        if (gs__is_last_of_producer(plan, h)) {
            uint8_t empty[GP_BATCH_HEADER_SIZE];
            gs__empty_batch(h, empty);
            st->batches_emptied++;
            return gs__out_batch(w, empty, sizeof empty);
        }
        st->markers_dropped++;
        st->batches_dropped++;
        return 0;
    }
    if (keep_entry)
        gs__append_txn_entry(w, &entry);
    st->records_kept += h->records_count;
    if (!can_discard || horizon >= 0)
        return gs__out_batch(w, batch, bytes);
    /* Eligible and no horizon yet: it gets one (Kafka's
     * containsMarkerForEmptyTxn). */
    gp_record *kept = gp_arena_alloc(a, sizeof *kept * (size_t)h->records_count);
    int32_t n = 0;
    gp_record_iter_init(&it, recs, len, h->records_count);
    while (n < h->records_count && gp_record_next(&it, &kept[n]) == 1)
        n++;
    if (n != h->records_count)
        return -EIO;
    st->horizons_set++;
    return gs__rebuild(plan, w, h, kept, n, gs__new_horizon(plan), a);
}

/* One batch through the filter into w. */
static int gs__clean_batch(gs_clean_plan *plan, const gs__map *m, gs__txns *t, gs__out *w, const uint8_t *batch,
                           size_t bytes, const gp_batch_header *h, gp_arena *a)
{
    gs_clean_stats *st = &plan->stats;
    st->records_read += h->records_count;
    if (gp_batch_is_control(h))
        return gs__clean_control(plan, t, w, batch, bytes, h, a);
    bool aborted = gs__txns_on_batch(t, h);
    int64_t horizon = gs__horizon_of(h);
    const uint8_t *recs;
    size_t len;
    int rc = gs__batch_records(batch, bytes, h, a, &recs, &len);
    if (rc < 0)
        return rc;
    gp_record *kept = gp_arena_alloc(a, sizeof *kept * (size_t)(h->records_count > 0 ? h->records_count : 1));
    int32_t nkept = 0, nread = 0;
    bool tombstone_kept = false;
    gp_record_iter it;
    gp_record rec;
    gp_record_iter_init(&it, recs, len, h->records_count);
    int more;
    while ((more = gp_record_next(&it, &rec)) > 0) {
        nread++;
        int64_t off = h->base_offset + rec.offset_delta;
        bool keep;
        if (aborted)
            keep = false;
        else if (off >= plan->cleaned_to)
            keep = true; /* beyond this pass's map (Kafka's pastLatestOffset) */
        else if (rec.key.len < 0)
            keep = false;
        else {
            uint64_t hk[2];
            gs__key_hash(rec.key.p, (size_t)rec.key.len, hk);
            keep = off >= gs__map_get(m, hk);
            /* KIP-534: a tombstone stays until its batch's horizon. */
            if (keep && rec.value.len < 0 && horizon >= 0 && plan->now_ms >= horizon) {
                keep = false;
                st->tombstones_dropped++;
            }
        }
        if (keep) {
            kept[nkept++] = rec;
            tombstone_kept |= rec.value.len < 0;
        }
    }
    if (more < 0 || nread != h->records_count)
        return -EIO;
    st->records_kept += nkept;
    bool set_horizon = tombstone_kept && horizon < 0;
    if (nkept == nread && nread > 0 && !set_horizon)
        return gs__out_batch(w, batch, bytes);
    if (nkept == 0) {
        if (!gs__is_last_of_producer(plan, h)) {
            st->batches_dropped++;
            return 0;
        }
        uint8_t empty[GP_BATCH_HEADER_SIZE];
        gs__empty_batch(h, empty);
        st->batches_emptied++;
        return gs__out_batch(w, empty, sizeof empty);
    }
    if (set_horizon) {
        horizon = gs__new_horizon(plan);
        st->horizons_set++;
    }
    return gs__rebuild(plan, w, h, kept, nkept, horizon, a);
}

static int64_t gs__mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Clean group o (segments [first, first + count)) into
 * <base>.{log,index,timeindex[,txnindex]}.cleaned, fsynced. */
static int gs__clean_group(gs_clean_plan *plan, const gs__map *m, gs__txns *t, gs_clean_output *o)
{
    char name[64];
    struct stat st;
    const gs_log_slice *last = &plan->segs[o->first + o->count - 1];
    gs__name(name, sizeof name, last->seg->base_offset, "log", "");
    if (fstatat(plan->dirfd, name, &st, 0) < 0)
        return -errno;
    o->modified_ms = gs__mtime_ms(&st);
    gs__out w = {.o = o, .interval = plan->index_interval_bytes, .last_ts = INT64_MIN};
    w.flush_at = plan->io_buffer < 65536 ? 65536 : plan->io_buffer;
    gs__name(name, sizeof name, o->base_offset, "log", ".cleaned");
    w.fd = openat(plan->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0)
        return -errno;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    bool had_txnindex = false;
    int rc = 0;
    for (size_t i = o->first; rc == 0 && i < o->first + o->count; i++) {
        const gs_log_slice *src = &plan->segs[i];
        gs__name(name, sizeof name, src->seg->base_offset, "txnindex", "");
        had_txnindex |= faccessat(plan->dirfd, name, F_OK, 0) == 0;
        gs__reader r;
        if ((rc = gs__reader_open(&r, plan, src, plan->io_buffer)) < 0)
            break;
        const uint8_t *batch;
        size_t bytes;
        gp_batch_header h;
        while ((rc = gs__reader_next(&r, &batch, &bytes, &h)) > 0) {
            rc = gs__clean_batch(plan, m, t, &w, batch, bytes, &h, &a);
            gp_arena_reset(&a, NULL, 0);
            if (rc < 0)
                break;
        }
        plan->stats.bytes_read += r.pos;
        gs__reader_close(&r);
    }
    gp_arena_reset(&a, NULL, 0);
    if (rc == 0 && w.buf.len > 0)
        rc = gs__write_all(w.fd, w.buf.p, w.buf.len);
    if (rc == 0) {
        /* The copy keeps its last source's time: retention reads it, as
         * Kafka's cleaner sets lastModified. */
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        if (futimens(w.fd, ts) < 0 || fdatasync(w.fd) < 0)
            rc = -errno;
    }
    close(w.fd);
    o->size = w.written;
    if (rc == 0) {
        if (o->max_timestamp >= 0 && (w.last_ts == INT64_MIN || w.last_ts != o->max_timestamp))
            gs__time_entry(&w, o->max_timestamp, o->max_timestamp_offset);
        gs__name(name, sizeof name, o->base_offset, "index", ".cleaned");
        rc = gs__write_file(plan->dirfd, name, &w.index);
    }
    if (rc == 0) {
        gs__name(name, sizeof name, o->base_offset, "timeindex", ".cleaned");
        rc = gs__write_file(plan->dirfd, name, &w.timeindex);
    }
    if (rc == 0 && (w.txnindex.len > 0 || had_txnindex)) {
        /* Written empty too when a source had one: its stale entries go. */
        gs__name(name, sizeof name, o->base_offset, "txnindex", ".cleaned");
        rc = gs__write_file(plan->dirfd, name, &w.txnindex);
    }
    plan->stats.bytes_written += w.written;
    free(w.buf.p);
    free(w.index.p);
    free(w.timeindex.p);
    free(w.txnindex.p);
    return rc;
}

static void gs__unlink_suffixed(int dirfd, int64_t base, const char *suffix)
{
    char name[64];
    for (int k = 0; k < GS__NEXTS; k++) {
        gs__name(name, sizeof name, base, gs__seg_exts[k], suffix);
        (void)unlinkat(dirfd, name, 0);
    }
}

/* .cleaned -> .swap, the indexes first: the .log.swap commits. */
static int gs__commit(int dirfd, int64_t base)
{
    char from[64], to[64];
    for (int k = GS__NEXTS - 1; k >= 0; k--) {
        gs__name(from, sizeof from, base, gs__seg_exts[k], ".cleaned");
        gs__name(to, sizeof to, base, gs__seg_exts[k], ".swap");
        if (renameat(dirfd, from, dirfd, to) < 0 && !(errno == ENOENT && k > 0))
            return -errno;
    }
    return 0;
}

/* Kafka's groupSegmentsBySize over the segments below cleaned_to: each
 * group's .log sizes add up to at most segment.bytes, its .index and
 * .timeindex sizes each to at most segment.index.bytes, and its offsets
 * stay within 2^31 - 1 of the group's base (Kafka estimates a segment's
 * last offset from the next one's base; a closed segment's next offset is
 * known here), unless the segment added is empty. Without segment_bytes every segment is a group. */
void gs_clean_group(gs_clean_plan *plan)
{
    free(plan->out);
    plan->out = gu_calloc(plan->nsegs ? plan->nsegs : 1, sizeof *plan->out);
    size_t n = 0;
    while (n < plan->nsegs && plan->segs[n].seg->base_offset < plan->cleaned_to)
        n++;
    plan->nout = 0;
    for (size_t i = 0; i < n;) {
        gs_clean_output *o = &plan->out[plan->nout++];
        o->first = i;
        o->count = 1;
        o->base_offset = o->next_offset = plan->segs[i].seg->base_offset;
        o->max_timestamp = o->max_timestamp_offset = -1;
        int64_t log_bytes = plan->segs[i].len;
        int64_t ix = (int64_t)plan->segs[i].seg->index.entries * 8;
        int64_t tix = (int64_t)plan->segs[i].seg->timeindex.entries * 12;
        for (i++; plan->segment_bytes > 0 && i < n; i++) {
            const gs_log_slice *s = &plan->segs[i];
            int64_t sx = (int64_t)s->seg->index.entries * 8, stx = (int64_t)s->seg->timeindex.entries * 12;
            int64_t last = s->seg->next_offset - 1; /* closed: it does not move */
            if (log_bytes + s->len > plan->segment_bytes || ix + sx > plan->max_index_bytes ||
                tix + stx > plan->max_index_bytes || (s->len > 0 && last - o->base_offset > INT32_MAX))
                break;
            log_bytes += s->len;
            ix += sx;
            tix += stx;
            o->count++;
        }
    }
    plan->stats.segments_in = (int64_t)n;
    plan->stats.segments_out = (int64_t)plan->nout;
}

void gs_clean_run(gs_clean_plan *plan)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (plan->now_ms == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        plan->now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    }
    plan->nout = 0;
    gs__map m;
    gs__map_init(&m, plan->map_bytes, plan->load_factor, plan->end - plan->first_dirty);
    int rc = gs__build_map(plan, &m);
    if (rc < 0)
        snprintf(plan->err, sizeof plan->err, "reading the dirty section: %s", strerror(-rc));
    else
        gs_clean_group(plan);
    gs__txns t = {.aborted = plan->aborted, .naborted = plan->naborted};
    if (plan->naborted > 1)
        qsort(plan->aborted, plan->naborted, sizeof *plan->aborted, gs__cmp_aborted);
    size_t done = 0;
    for (size_t g = 0; rc == 0 && g < plan->nout; g++) {
        if ((rc = gs__clean_group(plan, &m, &t, &plan->out[g])) < 0) {
            snprintf(plan->err, sizeof plan->err, "cleaning segment %020" PRId64 ": %s", plan->out[g].base_offset,
                     strerror(-rc));
            break;
        }
        done = g + 1;
    }
    gs__txns_free(&t);
    for (size_t g = 0; rc == 0 && g < done; g++) {
        if ((rc = gs__commit(plan->dirfd, plan->out[g].base_offset)) < 0)
            snprintf(plan->err, sizeof plan->err, "renaming segment %020" PRId64 " to .swap: %s",
                     plan->out[g].base_offset, strerror(-rc));
        else
            plan->out[g].written = true;
    }
    if (rc == 0 && done > 0 && fsync(plan->dirfd) < 0) {
        rc = -errno;
        snprintf(plan->err, sizeof plan->err, "syncing the directory: %s", strerror(errno));
    }
    if (rc < 0) {
        /* Nothing is swapped: remove what was made. */
        for (size_t g = 0; g < plan->nout; g++) {
            gs__unlink_suffixed(plan->dirfd, plan->out[g].base_offset, ".cleaned");
            gs__unlink_suffixed(plan->dirfd, plan->out[g].base_offset, ".swap");
            plan->out[g].written = false;
        }
    }
    free(m.slots);
    plan->rc = rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    plan->stats.elapsed_us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
}

void gs_clean_plan_free(gs_clean_plan *plan)
{
    for (size_t g = 0; plan->out && g < plan->nout; g++)
        if (plan->out[g].written)
            gs__unlink_suffixed(plan->dirfd, plan->out[g].base_offset, ".swap");
    for (size_t i = 0; i < plan->nsegs; i++)
        gs_log_slice_release(&plan->segs[i]);
    if (plan->dirfd >= 0)
        close(plan->dirfd);
    free(plan->segs);
    free(plan->out);
    free(plan->producers);
    free(plan->aborted);
    memset(plan, 0, sizeof *plan);
    plan->dirfd = -1;
}
