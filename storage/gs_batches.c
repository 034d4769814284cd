/*
 * Reading batches back (storage/gs_batches.h).
 */
#include "storage/gs_batches.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "protocol/gp_batch.h"
#include "protocol/gp_compress.h"

/* pread exactly len bytes at pos. */
static int gs__pread(int fd, void *buf, size_t len, int64_t pos)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* the file is shorter than the log says */
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

/* The header of the batch a slice starts with. */
static int gs__read_header(const gs_log_slice *s, gp_batch_header *h)
{
    uint8_t buf[GP_BATCH_HEADER_SIZE];
    if (s->len < GP_BATCH_HEADER_SIZE)
        return -EIO;
    int rc = gs__pread(s->fd, buf, sizeof buf, s->pos);
    if (rc < 0)
        return rc;
    if (gp_batch_header_parse(buf, sizeof buf, h) < 0 || h->magic != GP_BATCH_MAGIC ||
        h->batch_length < GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD ||
        GP_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length > s->len)
        return -EIO;
    return 0;
}

/* The records of the batch a slice starts with (header h), read into
 * scratch and decompressed there if need be. */
static int gs__read_records(const gs_log_slice *s, const gp_batch_header *h, gp_arena *scratch, const uint8_t **records,
                            size_t *len)
{
    size_t body = (size_t)h->batch_length + GP_BATCH_LOG_OVERHEAD - GP_BATCH_HEADER_SIZE;
    uint8_t *buf = gp_arena_alloc(scratch, body);
    int rc = gs__pread(s->fd, buf, body, s->pos + GP_BATCH_HEADER_SIZE);
    if (rc < 0)
        return rc;
    if (gp_batch_codec(h) == GP_CODEC_NONE) {
        *records = buf;
        *len = body;
        return 0;
    }
    if (gp_decompress(gp_batch_codec(h), buf, body, scratch, GP_BATCH_DEFAULT_MAX_UNCOMPRESSED, records, len) < 0)
        return -EIO;
    return 0;
}

/* How a record is chosen inside a batch. */
typedef struct gs__want {
    int64_t timestamp;  /* the target */
    bool exact;         /* timestamp == target (max timestamp), else >= target */
    int64_t min_offset; /* the log start offset: records below it are gone */
} gs__want;

/* The first record of the batch at slice s that satisfies w: 1 with *offset
 * and *timestamp, 0 if none does, or a negative error. In a LogAppendTime
 * batch every record has the batch's max timestamp. */
static int gs__find_record(const gs_log_slice *s, const gp_batch_header *h, const gs__want *w, gp_arena *scratch,
                           int64_t *offset, int64_t *timestamp)
{
    const uint8_t *records;
    size_t len;
    int rc = gs__read_records(s, h, scratch, &records, &len);
    if (rc < 0)
        return rc;
    gp_record_iter it;
    gp_record_iter_init(&it, records, len, h->records_count);
    gp_record rec;
    while ((rc = gp_record_next(&it, &rec)) == 1) {
        int64_t ts = gp_batch_is_log_append_time(h) ? h->max_timestamp : h->base_timestamp + rec.timestamp_delta;
        int64_t off = h->base_offset + rec.offset_delta;
        if (off >= w->min_offset && (w->exact ? ts == w->timestamp : ts >= w->timestamp)) {
            *offset = off;
            *timestamp = ts;
            return 1;
        }
    }
    return rc < 0 ? -EIO : 0;
}

/*
 * Walk batches from slice s (which this releases) to the end of the log
 * for the first record that satisfies w, reading the records only of
 * batches whose max timestamp can hold it. 1 with *offset and *timestamp,
 * 0 if no batch has one, or a negative error. Usually the first batch
 * answers; the walk goes on only when its matching records lie below the
 * log start offset, or when a batch's max timestamp overstates its records.
 */
static int gs__search(gs_log *log, gs_log_slice *s, const gs__want *w, gp_arena *scratch, int64_t *offset,
                      int64_t *timestamp)
{
    for (;;) {
        gp_batch_header h;
        int rc = gs__read_header(s, &h);
        if (rc == 0 && (w->exact ? h.max_timestamp == w->timestamp : h.max_timestamp >= w->timestamp))
            rc = gs__find_record(s, &h, w, scratch, offset, timestamp);
        gs_log_slice_release(s);
        gp_arena_reset(scratch, NULL, 0);
        if (rc != 0)
            return rc;
        /* The next batch, alone (max_bytes 0 with min_one_batch). */
        rc = gs_log_read(log, h.base_offset + h.last_offset_delta + 1, 0, true, s);
        if (rc < 0 || s->len == 0) {
            gs_log_slice_release(s);
            return rc == -ERANGE ? 0 : rc;
        }
    }
}

/* gs_batches.h */
int gs_log_offset_for_timestamp(gs_log *log, int64_t target, gp_arena *scratch, int64_t *offset, int64_t *timestamp)
{
    int64_t batch_offset, batch_max;
    gs_log_slice s;
    if (!gs_log_batch_for_timestamp(log, target, &batch_offset, &batch_max, &s))
        return 0;
    gs__want w = {.timestamp = target, .exact = false, .min_offset = gs_log_start_offset(log)};
    return gs__search(log, &s, &w, scratch, offset, timestamp);
}

/* gs_batches.h */
int gs_log_offset_for_max_timestamp(gs_log *log, gp_arena *scratch, int64_t *offset, int64_t *timestamp)
{
    int64_t off, ts;
    if (!gs_log_max_timestamp(log, &off, &ts))
        return 0;
    gs_log_slice s;
    int rc = gs_log_read(log, off, 0, true, &s);
    if (rc == 0 && s.len > 0) {
        gs__want w = {.timestamp = ts, .exact = true, .min_offset = gs_log_start_offset(log)};
        rc = gs__search(log, &s, &w, scratch, offset, timestamp);
        if (rc != 0)
            return rc;
    } else {
        gs_log_slice_release(&s);
        if (rc < 0 && rc != -ERANGE)
            return rc;
    }
    *offset = off;
    *timestamp = ts;
    return 1;
}

int gs_log_batches(gs_log *log, int64_t from, int64_t max_bytes, uint8_t **buf, size_t *cap,
                   void (*fn)(void *arg, const uint8_t *batch, size_t size), void *arg, int64_t *next)
{
    gs_log_slice s;
    *next = from;
    int rc = gs_log_read(log, from, max_bytes, true, &s);
    if (rc < 0)
        return rc;
    if (s.len <= 0) {
        gs_log_slice_release(&s);
        return 0;
    }
    if ((size_t)s.len > *cap) {
        free(*buf);
        *cap = (size_t)s.len;
        *buf = gu_malloc(*cap);
    }
    size_t got = 0;
    while (got < (size_t)s.len) {
        ssize_t r = pread(s.fd, *buf + got, (size_t)s.len - got, s.pos + (off_t)got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    gs_log_slice_release(&s);
    size_t pos = 0;
    while (got - pos >= GP_BATCH_HEADER_SIZE) {
        gp_batch_header h;
        gp_batch_header_parse(*buf + pos, got - pos, &h);
        size_t size = (size_t)h.batch_length + GP_BATCH_LOG_OVERHEAD;
        if (h.batch_length < GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD || size > got - pos)
            break;
        fn(arg, *buf + pos, size);
        *next = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    return 1;
}
