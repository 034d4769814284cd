/*
 * Wire primitives of the Kafka protocol: a bounds-checked reader with a sticky
 * error, a writer into a buffer sized beforehand, and the view types the
 * generated codecs use for strings, bytes and arrays.
 *
 * Reader: every read after a failure returns zero and the caller checks
 * r->err once at the end (the franz-go kbin habit). A length or count larger
 * than the bytes left fails at once, before anything is allocated for it.
 *
 * Writer: encoders run after the matching size function, into a buffer of
 * exactly that size; writing past its end is a bug in the generated code or
 * a size function and aborts.
 */
#ifndef GP_CODEC_H
#define GP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/gp_arena.h"

/* A string view. len == -1 is null. Not NUL-terminated. */
typedef struct gp_str {
    const char *p;
    int32_t len;
} gp_str;

/* A byte view. len == -1 is null. */
typedef struct gp_bytes {
    const uint8_t *p;
    int32_t len;
} gp_bytes;

/* Where file-backed record bytes live (a partition log segment). */
typedef struct gp_file_span {
    int fd;
    int64_t pos;
} gp_file_span;

/* A records field (record batches): len bytes at p, or, when file is set,
 * len bytes of that file from file->pos, which the writer does not copy but
 * leaves as a splice for the connection to send with sendfile. len == -1 is
 * null. */
typedef struct gp_records {
    const uint8_t *p;
    int32_t len;
    const gp_file_span *file;
} gp_records;

typedef struct gp_uuid {
    uint8_t b[16];
} gp_uuid;

#define GP_STR_NULL ((gp_str){NULL, -1})
#define GP_STR_LIT(s) ((gp_str){(s), (int32_t)(sizeof(s) - 1)})
static inline gp_str gp_str_c(const char *s)
{
    return s ? (gp_str){s, (int32_t)strlen(s)} : GP_STR_NULL;
}
static inline bool gp_str_eq(gp_str a, gp_str b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}
static inline bool gp_str_eq_c(gp_str a, const char *s)
{
    return a.len >= 0 && (size_t)a.len == strlen(s) && memcmp(a.p, s, (size_t)a.len) == 0;
}
static inline bool gp_uuid_is_zero(const gp_uuid *u)
{
    static const gp_uuid zero;
    return memcmp(u->b, zero.b, 16) == 0;
}

/* Reader errors (negative, as every internal error in Gregor). */
enum {
    GP_OK = 0,
    GP_ERR_TRUNCATED = -1, /* fewer bytes than a field needs */
    GP_ERR_COUNT = -2,     /* a count or length larger than the bytes left */
    GP_ERR_VARINT = -3,    /* a varint longer than its type */
    GP_ERR_NULL = -4,      /* null where the schema forbids it */
    GP_ERR_TRAILING = -5,  /* bytes left after the message */
    GP_ERR_VERSION = -6,   /* a version the schema does not have */
};

const char *gp_strerror(int err);

typedef struct gp_reader {
    const uint8_t *p;
    const uint8_t *end;
    int err;
} gp_reader;

static inline void gp_reader_init(gp_reader *r, const void *buf, size_t len)
{
    r->p = (const uint8_t *)buf;
    r->end = r->p + len;
    r->err = 0;
}

static inline size_t gp_reader_left(const gp_reader *r)
{
    return (size_t)(r->end - r->p);
}

/* Record the first error and make every later read fail. */
static inline void gp_reader_fail(gp_reader *r, int err)
{
    if (!r->err)
        r->err = err;
    r->p = r->end;
}

static inline const uint8_t *gp_read_raw(gp_reader *r, size_t n)
{
    if (r->err || gp_reader_left(r) < n) {
        gp_reader_fail(r, GP_ERR_TRUNCATED);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline uint8_t gp_read_uint8(gp_reader *r)
{
    const uint8_t *p = gp_read_raw(r, 1);
    return p ? p[0] : 0;
}
static inline int8_t gp_read_int8(gp_reader *r)
{
    return (int8_t)gp_read_uint8(r);
}
static inline bool gp_read_bool(gp_reader *r)
{
    return gp_read_uint8(r) != 0;
}

static inline uint16_t gp_read_uint16(gp_reader *r)
{
    const uint8_t *p = gp_read_raw(r, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}
static inline int16_t gp_read_int16(gp_reader *r)
{
    return (int16_t)gp_read_uint16(r);
}

static inline uint32_t gp_read_uint32(gp_reader *r)
{
    const uint8_t *p = gp_read_raw(r, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}
static inline int32_t gp_read_int32(gp_reader *r)
{
    return (int32_t)gp_read_uint32(r);
}

static inline uint64_t gp_read_uint64(gp_reader *r)
{
    uint64_t hi = gp_read_uint32(r);
    return (hi << 32) | gp_read_uint32(r);
}
static inline int64_t gp_read_int64(gp_reader *r)
{
    return (int64_t)gp_read_uint64(r);
}

static inline double gp_read_float64(gp_reader *r)
{
    uint64_t u = gp_read_uint64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline gp_uuid gp_read_uuid(gp_reader *r)
{
    gp_uuid u = {{0}};
    const uint8_t *p = gp_read_raw(r, 16);
    if (p)
        memcpy(u.b, p, 16);
    return u;
}

uint32_t gp_read_uvarint(gp_reader *r);
uint64_t gp_read_uvarlong(gp_reader *r);
int32_t gp_read_varint(gp_reader *r);  /* zigzag */
int64_t gp_read_varlong(gp_reader *r); /* zigzag */

/* Strings and bytes, classic (int16/int32 length) or compact (uvarint
 * length + 1). A null where !nullable fails with GP_ERR_NULL. */
gp_str gp_read_string(gp_reader *r, bool compact, bool nullable);
gp_bytes gp_read_bytes(gp_reader *r, bool compact, bool nullable);

/* An array count (classic int32 or compact uvarint + 1); -1 is null. The
 * count is refused if it exceeds the bytes left: no element is smaller than
 * a byte in any real message, so this bounds the allocation by the frame. */
int32_t gp_read_array_len(gp_reader *r, bool compact, bool nullable);

/* Skip the value of an unknown tagged field. */
void gp_read_skip(gp_reader *r, size_t n);

gp_records gp_read_records(gp_reader *r, bool compact, bool nullable);

/* ---- writer -------------------------------------------------------------- */

/* A hole in the encoded bytes: `len` bytes of file `fd` from `pos` go on
 * the wire at byte `at` of the buffer. */
typedef struct gp_splice {
    size_t at;
    int fd;
    int64_t pos;
    int64_t len;
} gp_splice;

typedef struct gp_writer {
    uint8_t *p;
    uint8_t *end;
    uint8_t *start;
    gp_arena *arena; /* for the splice list; NULL: file-backed records abort */
    gp_splice *splices;
    size_t nsplices, splices_cap;
} gp_writer;

static inline void gp_writer_init(gp_writer *w, void *buf, size_t len)
{
    w->p = w->start = (uint8_t *)buf;
    w->end = w->p + len;
    w->arena = NULL;
    w->splices = NULL;
    w->nsplices = w->splices_cap = 0;
}

void gp__writer_overflow(void) __attribute__((noreturn));

static inline uint8_t *gp_write_raw(gp_writer *w, size_t n)
{
    if ((size_t)(w->end - w->p) < n)
        gp__writer_overflow();
    uint8_t *p = w->p;
    w->p += n;
    return p;
}

static inline void gp_write_bytes_raw(gp_writer *w, const void *src, size_t n)
{
    if (n)
        memcpy(gp_write_raw(w, n), src, n);
}

static inline void gp_write_uint8(gp_writer *w, uint8_t v)
{
    *gp_write_raw(w, 1) = v;
}
static inline void gp_write_int8(gp_writer *w, int8_t v)
{
    gp_write_uint8(w, (uint8_t)v);
}
static inline void gp_write_bool(gp_writer *w, bool v)
{
    gp_write_uint8(w, v ? 1 : 0);
}

static inline void gp_write_uint16(gp_writer *w, uint16_t v)
{
    uint8_t *p = gp_write_raw(w, 2);
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void gp_write_int16(gp_writer *w, int16_t v)
{
    gp_write_uint16(w, (uint16_t)v);
}

static inline void gp_write_uint32(gp_writer *w, uint32_t v)
{
    uint8_t *p = gp_write_raw(w, 4);
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void gp_write_int32(gp_writer *w, int32_t v)
{
    gp_write_uint32(w, (uint32_t)v);
}

static inline void gp_write_uint64(gp_writer *w, uint64_t v)
{
    gp_write_uint32(w, (uint32_t)(v >> 32));
    gp_write_uint32(w, (uint32_t)v);
}
static inline void gp_write_int64(gp_writer *w, int64_t v)
{
    gp_write_uint64(w, (uint64_t)v);
}

static inline void gp_write_float64(gp_writer *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    gp_write_uint64(w, u);
}

static inline void gp_write_uuid(gp_writer *w, gp_uuid u)
{
    gp_write_bytes_raw(w, u.b, 16);
}

void gp_write_uvarint(gp_writer *w, uint32_t v);
void gp_write_uvarlong(gp_writer *w, uint64_t v);
void gp_write_varint(gp_writer *w, int32_t v);
void gp_write_varlong(gp_writer *w, int64_t v);
void gp_write_string(gp_writer *w, bool compact, gp_str s);
void gp_write_bytes(gp_writer *w, bool compact, gp_bytes b);
void gp_write_array_len(gp_writer *w, bool compact, int32_t n);
/* Bytes in memory are copied; file-backed ones become a splice. */
void gp_write_records(gp_writer *w, bool compact, gp_records r);

/* Sizes of what the writer functions above produce. */
static inline size_t gp_size_uvarint(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t gp_size_uvarlong(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t gp_size_varint(int32_t v)
{
    return gp_size_uvarint(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
static inline size_t gp_size_varlong(int64_t v)
{
    return gp_size_uvarlong(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
static inline size_t gp_size_string(bool compact, gp_str s)
{
    size_t body = s.len > 0 ? (size_t)s.len : 0;
    if (compact)
        return gp_size_uvarint((uint32_t)(s.len + 1)) + body;
    return 2 + body;
}
static inline size_t gp_size_bytes(bool compact, gp_bytes b)
{
    size_t body = b.len > 0 ? (size_t)b.len : 0;
    if (compact)
        return gp_size_uvarint((uint32_t)(b.len + 1)) + body;
    return 4 + body;
}
/* The wire size, file-backed bytes included. */
static inline size_t gp_size_records(bool compact, gp_records r)
{
    return gp_size_bytes(compact, (gp_bytes){r.p, r.len});
}
static inline size_t gp_size_array_len(bool compact, int32_t n)
{
    return compact ? gp_size_uvarint((uint32_t)(n + 1)) : 4;
}

#endif
