#include "protocol/gp_codec.h"

#include <stdio.h>
#include <stdlib.h>

const char *gp_strerror(int err)
{
    switch (err) {
    case GP_OK:
        return "ok";
    case GP_ERR_TRUNCATED:
        return "truncated field";
    case GP_ERR_COUNT:
        return "count or length larger than the bytes left";
    case GP_ERR_VARINT:
        return "malformed varint";
    case GP_ERR_NULL:
        return "null in a non-nullable field";
    case GP_ERR_TRAILING:
        return "trailing bytes after the message";
    case GP_ERR_VERSION:
        return "unknown version";
    default:
        return "unknown error";
    }
}

void gp__writer_overflow(void)
{
    fprintf(stderr, "gregor: protocol writer overflow (size and encode disagree)\n");
    abort();
}

uint64_t gp_read_uvarlong(gp_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *p = gp_read_raw(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80)) {
            /* The 10th byte may carry only the top bit. */
            if (shift == 63 && p[0] > 1)
                break;
            return v;
        }
    }
    gp_reader_fail(r, GP_ERR_VARINT);
    return 0;
}

uint32_t gp_read_uvarint(gp_reader *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = gp_read_raw(r, 1);
        if (!p)
            return 0;
        if (shift == 28 && (p[0] & 0xf0)) /* more than 32 bits */
            break;
        v |= (uint32_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    gp_reader_fail(r, GP_ERR_VARINT);
    return 0;
}

int32_t gp_read_varint(gp_reader *r)
{
    uint32_t u = gp_read_uvarint(r);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t gp_read_varlong(gp_reader *r)
{
    uint64_t u = gp_read_uvarlong(r);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Read a classic or compact length; -1 means null. */
static int64_t gp__read_len(gp_reader *r, bool compact, bool int16len)
{
    if (compact)
        return (int64_t)gp_read_uvarint(r) - 1;
    return int16len ? gp_read_int16(r) : gp_read_int32(r);
}

gp_str gp_read_string(gp_reader *r, bool compact, bool nullable)
{
    int64_t n = gp__read_len(r, compact, true);
    if (r->err)
        return (gp_str){NULL, 0};
    if (n < 0) {
        if (n == -1 && nullable)
            return GP_STR_NULL;
        gp_reader_fail(r, n == -1 ? GP_ERR_NULL : GP_ERR_COUNT);
        return (gp_str){NULL, 0};
    }
    if ((uint64_t)n > gp_reader_left(r)) {
        gp_reader_fail(r, GP_ERR_COUNT);
        return (gp_str){NULL, 0};
    }
    gp_str s = {(const char *)r->p, (int32_t)n};
    r->p += n;
    return s;
}

gp_bytes gp_read_bytes(gp_reader *r, bool compact, bool nullable)
{
    int64_t n = gp__read_len(r, compact, false);
    if (r->err)
        return (gp_bytes){NULL, 0};
    if (n < 0) {
        if (n == -1 && nullable)
            return (gp_bytes){NULL, -1};
        gp_reader_fail(r, n == -1 ? GP_ERR_NULL : GP_ERR_COUNT);
        return (gp_bytes){NULL, 0};
    }
    if ((uint64_t)n > gp_reader_left(r)) {
        gp_reader_fail(r, GP_ERR_COUNT);
        return (gp_bytes){NULL, 0};
    }
    gp_bytes b = {r->p, (int32_t)n};
    r->p += n;
    return b;
}

gp_records gp_read_records(gp_reader *r, bool compact, bool nullable)
{
    gp_bytes b = gp_read_bytes(r, compact, nullable);
    return (gp_records){b.p, b.len, NULL};
}

int32_t gp_read_array_len(gp_reader *r, bool compact, bool nullable)
{
    int64_t n = gp__read_len(r, compact, false);
    if (r->err)
        return 0;
    if (n < 0) {
        if (n == -1 && nullable)
            return -1;
        gp_reader_fail(r, n == -1 ? GP_ERR_NULL : GP_ERR_COUNT);
        return 0;
    }
    if ((uint64_t)n > gp_reader_left(r)) {
        gp_reader_fail(r, GP_ERR_COUNT);
        return 0;
    }
    return (int32_t)n;
}

void gp_read_skip(gp_reader *r, size_t n)
{
    gp_read_raw(r, n);
}

void gp_write_uvarlong(gp_writer *w, uint64_t v)
{
    while (v >= 0x80) {
        gp_write_uint8(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    gp_write_uint8(w, (uint8_t)v);
}

void gp_write_uvarint(gp_writer *w, uint32_t v)
{
    gp_write_uvarlong(w, v);
}

void gp_write_varint(gp_writer *w, int32_t v)
{
    gp_write_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void gp_write_varlong(gp_writer *w, int64_t v)
{
    gp_write_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void gp_write_string(gp_writer *w, bool compact, gp_str s)
{
    if (compact)
        gp_write_uvarint(w, (uint32_t)(s.len + 1));
    else
        gp_write_int16(w, (int16_t)s.len);
    if (s.len > 0)
        gp_write_bytes_raw(w, s.p, (size_t)s.len);
}

void gp_write_bytes(gp_writer *w, bool compact, gp_bytes b)
{
    if (compact)
        gp_write_uvarint(w, (uint32_t)(b.len + 1));
    else
        gp_write_int32(w, b.len);
    if (b.len > 0)
        gp_write_bytes_raw(w, b.p, (size_t)b.len);
}

void gp_write_records(gp_writer *w, bool compact, gp_records r)
{
    if (!r.file) {
        gp_write_bytes(w, compact, (gp_bytes){r.p, r.len});
        return;
    }
    if (compact)
        gp_write_uvarint(w, (uint32_t)(r.len + 1));
    else
        gp_write_int32(w, r.len);
    if (r.len <= 0)
        return;
    if (!w->arena)
        gp__writer_overflow();
    if (w->nsplices == w->splices_cap) {
        size_t cap = w->splices_cap ? w->splices_cap * 2 : 16;
        gp_splice *n = gp_arena_alloc(w->arena, cap * sizeof *n);
        if (w->nsplices)
            memcpy(n, w->splices, w->nsplices * sizeof *n);
        w->splices = n;
        w->splices_cap = cap;
    }
    w->splices[w->nsplices++] = (gp_splice){(size_t)(w->p - w->start), r.file->fd, r.file->pos, r.len};
}

void gp_write_array_len(gp_writer *w, bool compact, int32_t n)
{
    if (compact)
        gp_write_uvarint(w, (uint32_t)(n + 1));
    else
        gp_write_int32(w, n);
}
