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

static const char *const gs__seg_exts[] = {"log", "index", "timeindex"};
#define GS__NEXTS 3

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

typedef struct gs__reader {
    int fd;
    int64_t size; /* of the segment when the plan was made (closed: it does not grow) */
    int64_t pos;  /* of the next batch */
    uint8_t *buf;
    size_t cap;
    int64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
} gs__reader;

static void gs__reader_init(gs__reader *r, const gs_log_slice *s, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->fd = s->fd;
    r->size = s->len;
    r->cap = cap < 65536 ? 65536 : cap;
    r->buf = gu_malloc(r->cap);
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
        gs__reader_init(&r, &plan->segs[i], plan->io_buffer);
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
        free(r.buf);
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
    int64_t written; /* bytes of .log (written and pending) */
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

static void gs__name(char *out, size_t len, int64_t base, const char *ext, const char *suffix)
{
    snprintf(out, len, "%020" PRId64 ".%s%s", base, ext, suffix);
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

/* The delete horizon, Kafka's (before KIP-534): the last segment wholly
 * below the first dirty offset, its modification time minus
 * delete.retention.ms; 0 when there is none (every tombstone stays). */
static int64_t gs__delete_horizon(const gs_clean_plan *plan)
{
    int64_t horizon = 0;
    for (size_t i = 0; i + 1 < plan->nsegs && plan->segs[i + 1].seg->base_offset <= plan->first_dirty; i++) {
        struct stat st;
        if (fstat(plan->segs[i].fd, &st) == 0)
            horizon = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 - plan->delete_retention_ms;
    }
    return horizon;
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

/* One batch through the filter into w. */
static int gs__clean_batch(gs_clean_plan *plan, const gs__map *m, bool retain_deletes, gs__out *w, const uint8_t *batch,
                           size_t bytes, const gp_batch_header *h, gp_arena *a)
{
    gs_clean_stats *st = &plan->stats;
    st->records_read += h->records_count;
    if (gp_batch_is_control(h) || h->base_offset >= plan->cleaned_to) {
        st->records_kept += h->records_count;
        return gs__out_batch(w, batch, bytes);
    }
    bool aborted = gs__is_aborted(plan, h);
    const uint8_t *recs;
    size_t len;
    int rc = gs__batch_records(batch, bytes, h, a, &recs, &len);
    if (rc < 0)
        return rc;
    gp_record *kept = gp_arena_alloc(a, sizeof *kept * (size_t)(h->records_count > 0 ? h->records_count : 1));
    int32_t nkept = 0, nread = 0;
    gp_record_iter it;
    gp_record rec;
    gp_record_iter_init(&it, recs, len, h->records_count);
    int more;
    while ((more = gp_record_next(&it, &rec)) > 0) {
        nread++;
        int64_t off = h->base_offset + rec.offset_delta;
        bool keep;
        if (off >= plan->cleaned_to)
            keep = true; /* beyond this pass: untouched */
        else if (aborted || rec.key.len < 0)
            keep = false;
        else {
            uint64_t hk[2];
            gs__key_hash(rec.key.p, (size_t)rec.key.len, hk);
            int64_t latest = gs__map_get(m, hk);
            keep = off >= latest;
            if (keep && rec.value.len < 0 && !retain_deletes) {
                keep = false;
                st->tombstones_dropped++;
            }
        }
        if (keep)
            kept[nkept++] = rec;
    }
    if (more < 0 || nread != h->records_count)
        return -EIO;
    st->records_kept += nkept;
    if (nkept == nread)
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
    gp_batch_params p = {
        .base_offset = h->base_offset,
        .partition_leader_epoch = h->partition_leader_epoch,
        .base_timestamp = h->base_timestamp,
        .log_append_time = gp_batch_is_log_append_time(h),
        .log_append_time_ms = h->max_timestamp,
        .producer_id = h->producer_id,
        .producer_epoch = h->producer_epoch,
        .base_sequence = h->base_sequence,
        .transactional = gp_batch_is_transactional(h),
        .codec = gp_batch_codec(h),
        .level = GP_COMPRESS_LEVEL_DEFAULT,
        .keep_offset_deltas = true,
        .last_offset_delta = h->last_offset_delta,
    };
    gp_bytes out;
    if (gp_batch_build(a, &p, kept, nkept, &out) != 0)
        return -EIO;
    st->batches_rebuilt++;
    return gs__out_batch(w, out.p, (size_t)out.len);
}

/* Clean segment i into <base>.{log,index,timeindex}.cleaned, fsynced. */
static int gs__clean_segment(gs_clean_plan *plan, const gs__map *m, size_t i, int64_t horizon)
{
    const gs_log_slice *src = &plan->segs[i];
    gs_clean_output *o = &plan->out[i];
    char name[64];
    struct stat st;
    if (fstat(src->fd, &st) < 0)
        return -errno;
    o->modified_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    bool retain_deletes = o->modified_ms > horizon;
    gs__out w = {.o = o, .interval = plan->index_interval_bytes, .last_ts = INT64_MIN};
    w.flush_at = plan->io_buffer < 65536 ? 65536 : plan->io_buffer;
    gs__name(name, sizeof name, o->base_offset, "log", ".cleaned");
    w.fd = openat(plan->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0)
        return -errno;
    gs__reader r;
    gs__reader_init(&r, src, plan->io_buffer);
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    const uint8_t *batch;
    size_t bytes;
    gp_batch_header h;
    int rc;
    while ((rc = gs__reader_next(&r, &batch, &bytes, &h)) > 0) {
        rc = gs__clean_batch(plan, m, retain_deletes, &w, batch, bytes, &h, &a);
        gp_arena_reset(&a, NULL, 0);
        if (rc < 0)
            break;
    }
    plan->stats.bytes_read += r.pos;
    free(r.buf);
    if (rc == 0 && w.buf.len > 0)
        rc = gs__write_all(w.fd, w.buf.p, w.buf.len);
    if (rc == 0) {
        /* The copy keeps its source's time: retention and the delete
         * horizon read it, as Kafka's cleaner keeps lastModified. */
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
    plan->stats.bytes_written += w.written;
    free(w.buf.p);
    free(w.index.p);
    free(w.timeindex.p);
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
        if (renameat(dirfd, from, dirfd, to) < 0)
            return -errno;
    }
    return 0;
}

void gs_clean_run(gs_clean_plan *plan)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    plan->out = gu_calloc(plan->nsegs ? plan->nsegs : 1, sizeof *plan->out);
    for (size_t i = 0; i < plan->nsegs; i++) {
        plan->out[i].base_offset = plan->segs[i].seg->base_offset;
        plan->out[i].next_offset = plan->out[i].base_offset;
        plan->out[i].max_timestamp = plan->out[i].max_timestamp_offset = -1;
    }
    gs__map m;
    gs__map_init(&m, plan->map_bytes, plan->load_factor, plan->end - plan->first_dirty);
    int rc = gs__build_map(plan, &m);
    if (rc < 0)
        snprintf(plan->err, sizeof plan->err, "reading the dirty section: %s", strerror(-rc));
    int64_t horizon = gs__delete_horizon(plan);
    size_t done = 0;
    for (size_t i = 0; rc == 0 && i < plan->nsegs && plan->segs[i].seg->base_offset < plan->cleaned_to; i++) {
        if ((rc = gs__clean_segment(plan, &m, i, horizon)) < 0) {
            snprintf(plan->err, sizeof plan->err, "cleaning segment %020" PRId64 ": %s", plan->out[i].base_offset,
                     strerror(-rc));
            break;
        }
        done = i + 1;
    }
    for (size_t i = 0; rc == 0 && i < done; i++) {
        if ((rc = gs__commit(plan->dirfd, plan->out[i].base_offset)) < 0)
            snprintf(plan->err, sizeof plan->err, "renaming segment %020" PRId64 " to .swap: %s",
                     plan->out[i].base_offset, strerror(-rc));
        else
            plan->out[i].written = true;
    }
    if (rc == 0 && done > 0 && fsync(plan->dirfd) < 0) {
        rc = -errno;
        snprintf(plan->err, sizeof plan->err, "syncing the directory: %s", strerror(errno));
    }
    if (rc < 0) {
        /* Nothing is swapped: remove what was made. */
        for (size_t i = 0; i < plan->nsegs; i++) {
            gs__unlink_suffixed(plan->dirfd, plan->out[i].base_offset, ".cleaned");
            gs__unlink_suffixed(plan->dirfd, plan->out[i].base_offset, ".swap");
            plan->out[i].written = false;
        }
    }
    free(m.slots);
    plan->rc = rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    plan->stats.elapsed_us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
}

void gs_clean_plan_free(gs_clean_plan *plan)
{
    for (size_t i = 0; i < plan->nsegs; i++) {
        if (plan->out && plan->out[i].written)
            gs__unlink_suffixed(plan->dirfd, plan->out[i].base_offset, ".swap");
        gs_log_slice_release(&plan->segs[i]);
    }
    if (plan->dirfd >= 0)
        close(plan->dirfd);
    free(plan->segs);
    free(plan->out);
    free(plan->producers);
    free(plan->aborted);
    memset(plan, 0, sizeof *plan);
    plan->dirfd = -1;
}
