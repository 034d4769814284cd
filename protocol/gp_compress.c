/*
 * Kafka's compression codecs over zlib, snappy, lz4frame and zstd. See
 * gp_compress.h for the framings and the output cap.
 */
#include "protocol/gp_compress.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/gu_common.h"

/* Kafka's default levels (compression.<codec>.level, KIP-390). */
#define GX_GZIP_LEVEL_DEFAULT 6
#define GX_LZ4_LEVEL_DEFAULT 9
#define GX_ZSTD_LEVEL_DEFAULT 3

/* xerial's framing: 8 bytes of magic, version 1, compatible version 1, and
 * blocks of 32 KiB of input (SnappyOutputStream's default). */
static const uint8_t gp__xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define GX_XERIAL_HEADER_SIZE 16
#define GX_XERIAL_BLOCK 32768

/* zstd: windows up to 8 MiB (what zstd picks for levels up to 19 when the
 * content size is unknown, as in the Java client's stream) are always
 * accepted; beyond that only as far as the output cap, and never beyond
 * zstd's own default limit. A cached context that grew past this is freed. */
#define GX_ZSTD_WINDOWLOG_MIN 23
#define GX_ZSTD_WINDOWLOG_MAX 27 /* zstd's ZSTD_WINDOWLOG_LIMIT_DEFAULT (static-only API) */
#define GX_ZSTD_DCTX_KEEP (16u << 20)

/*
 * The most each format can expand its input: deflate 1032:1; a snappy copy
 * tag of 3 bytes makes at most 64 bytes; an lz4 length byte adds at most 255;
 * a zstd RLE block of 4 bytes makes at most 128 KiB. A stream claiming more
 * output than its size allows is corrupt, and no buffer is sized from such a
 * claim: so an attacker's size fields cannot make the output buffer larger
 * than the input could really fill (the cap bounds it in any case).
 */
#define GX_MAX_RATIO_GZIP 1032
#define GX_MAX_RATIO_SNAPPY 22
#define GX_MAX_RATIO_LZ4 256
#define GX_MAX_RATIO_ZSTD 32768

/* ---- per-thread codec contexts ------------------------------------------- */

static _Thread_local struct gp__ctx {
    z_stream inflater;
    bool inflater_ready;
    z_stream deflater;
    int deflater_level;
    bool deflater_ready;
    ZSTD_DCtx *zstd_d;
    ZSTD_CCtx *zstd_c;
    LZ4F_dctx *lz4_d;
    LZ4F_cctx *lz4_c;
} gp__ctx;

static void gp__oom(void) __attribute__((noreturn));
static void gp__oom(void)
{
    abort();
}

/* A thread that made a context frees it when it exits (threadpool threads
 * are joined at exit): a key whose destructor runs then. */
static pthread_key_t gp__ctx_key;
static pthread_once_t gp__ctx_once = PTHREAD_ONCE_INIT;
static _Thread_local bool gp__ctx_registered;

static void gp__ctx_destroy(void *unused)
{
    (void)unused;
    gp_compress_thread_free();
}

static void gp__ctx_key_make(void)
{
    if (pthread_key_create(&gp__ctx_key, gp__ctx_destroy) != 0)
        abort();
}

static void gp__ctx_register(void)
{
    if (gp__ctx_registered)
        return;
    pthread_once(&gp__ctx_once, gp__ctx_key_make);
    if (pthread_setspecific(gp__ctx_key, &gp__ctx) != 0)
        gp__oom();
    gp__ctx_registered = true;
}

void gp_compress_thread_free(void)
{
    struct gp__ctx *c = &gp__ctx;
    if (c->inflater_ready)
        inflateEnd(&c->inflater);
    if (c->deflater_ready)
        deflateEnd(&c->deflater);
    ZSTD_freeDCtx(c->zstd_d);
    ZSTD_freeCCtx(c->zstd_c);
    if (c->lz4_d)
        LZ4F_freeDecompressionContext(c->lz4_d);
    if (c->lz4_c)
        LZ4F_freeCompressionContext(c->lz4_c);
    memset(c, 0, sizeof *c);
}

static z_stream *gp__inflater(int window_bits)
{
    struct gp__ctx *c = &gp__ctx;
    if (!c->inflater_ready) {
        gp__ctx_register();
        memset(&c->inflater, 0, sizeof c->inflater);
        int rc = inflateInit2(&c->inflater, window_bits);
        if (rc == Z_MEM_ERROR)
            gp__oom();
        if (rc != Z_OK)
            abort();
        c->inflater_ready = true;
        return &c->inflater;
    }
    if (inflateReset2(&c->inflater, window_bits) != Z_OK)
        abort();
    return &c->inflater;
}

static z_stream *gp__deflater(int level)
{
    struct gp__ctx *c = &gp__ctx;
    if (c->deflater_ready && c->deflater_level != level) {
        deflateEnd(&c->deflater);
        c->deflater_ready = false;
    }
    if (!c->deflater_ready) {
        gp__ctx_register();
        memset(&c->deflater, 0, sizeof c->deflater);
        /* 15 + 16: gzip wrapper, 32 KiB window; memLevel 8 is zlib's default. */
        int rc = deflateInit2(&c->deflater, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR)
            gp__oom();
        if (rc != Z_OK)
            return NULL; /* a level zlib does not have */
        c->deflater_ready = true;
        c->deflater_level = level;
        return &c->deflater;
    }
    if (deflateReset(&c->deflater) != Z_OK)
        abort();
    return &c->deflater;
}

static ZSTD_DCtx *gp__zstd_dctx(void)
{
    if (!gp__ctx.zstd_d) {
        gp__ctx_register();
        if (!(gp__ctx.zstd_d = ZSTD_createDCtx()))
            gp__oom();
    }
    return gp__ctx.zstd_d;
}

static ZSTD_CCtx *gp__zstd_cctx(void)
{
    if (!gp__ctx.zstd_c) {
        gp__ctx_register();
        if (!(gp__ctx.zstd_c = ZSTD_createCCtx()))
            gp__oom();
    }
    return gp__ctx.zstd_c;
}

static LZ4F_dctx *gp__lz4_dctx(void)
{
    if (!gp__ctx.lz4_d) {
        gp__ctx_register();
        if (LZ4F_isError(LZ4F_createDecompressionContext(&gp__ctx.lz4_d, LZ4F_VERSION)))
            gp__oom();
    } else {
        LZ4F_resetDecompressionContext(gp__ctx.lz4_d);
    }
    return gp__ctx.lz4_d;
}

static LZ4F_cctx *gp__lz4_cctx(void)
{
    if (!gp__ctx.lz4_c) {
        gp__ctx_register();
        if (LZ4F_isError(LZ4F_createCompressionContext(&gp__ctx.lz4_c, LZ4F_VERSION)))
            gp__oom();
    }
    return gp__ctx.lz4_c;
}

/* ---- bounded output ------------------------------------------------------ */

/*
 * Where a decompressor writes. With an arena the buffer starts at a size
 * guessed from the stream and doubles (copying) when full, never beyond cap;
 * without one it is the caller's cap bytes. Once cap bytes are out, the room
 * offered is one spare byte: a codec that writes it has more output than the
 * cap allows, and one that does not has ended (it may still consume a
 * trailer). This way no codec needs to be asked "is there more?" separately.
 */
typedef struct gp__out {
    gp_arena *a; /* NULL: buf is the caller's, size == cap */
    uint8_t *buf;
    size_t size; /* bytes buf holds */
    size_t len;  /* bytes produced */
    size_t cap;
    uint8_t spare;
} gp__out;

static void gp__out_start(gp__out *o, size_t hint)
{
    if (!o->a)
        return;
    size_t size = hint < 64 ? 64 : hint;
    if (size > o->cap)
        size = o->cap;
    o->buf = gp_arena_alloc(o->a, size);
    o->size = size;
    o->len = 0;
}

static void gp__out_resize(gp__out *o, size_t size)
{
    uint8_t *nb = gp_arena_alloc(o->a, size);
    if (o->len)
        memcpy(nb, o->buf, o->len);
    o->buf = nb;
    o->size = size;
}

/* The room to write into next (never empty). */
static void gp__out_room(gp__out *o, uint8_t **p, size_t *n)
{
    if (o->len == o->size && o->a && o->size < o->cap)
        gp__out_resize(o, o->size > o->cap / 2 ? o->cap : o->size * 2);
    if (o->len < o->size) {
        *p = o->buf + o->len;
        *n = o->size - o->len;
    } else {
        *p = &o->spare;
        *n = 1;
    }
}

/* n bytes were written into the room at p. */
static int gp__out_commit(gp__out *o, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (p == &o->spare)
        return GP_COMPRESS_ERR_TOO_LARGE;
    o->len += n;
    return 0;
}

/* Exactly n more bytes, contiguous; for codecs that know a block's size. */
static uint8_t *gp__out_reserve(gp__out *o, size_t n)
{
    if (n > o->cap - o->len)
        return NULL;
    if (n > o->size - o->len) {
        size_t want = o->size > o->cap / 2 ? o->cap : o->size * 2;
        gp__out_resize(o, want < o->len + n ? o->len + n : want);
    }
    return o->buf + o->len;
}

/* A guess at the output size when the stream does not tell. */
static size_t gp__guess(size_t len)
{
    return len > SIZE_MAX / 4 ? SIZE_MAX : (len * 4 < 4096 ? 4096 : len * 4);
}

/* Whether n output bytes are more than len input bytes can make at ratio. */
static bool gp__beyond(size_t n, size_t len, size_t ratio)
{
    return len < SIZE_MAX / ratio - 64 && n > len * ratio + 64;
}

/* ---- gzip ---------------------------------------------------------------- */

/*
 * gzip (several members in a row read as one stream, bytes after the last
 * member ignored, as GZIPInputStream does), else zlib, else raw deflate,
 * told apart by their first two bytes.
 */
static int gp__gunzip(const uint8_t *src, size_t len, gp__out *o)
{
    if (len > UINT_MAX)
        return GP_COMPRESS_ERR_CORRUPT;
    bool gzip = len >= 2 && src[0] == 0x1f && src[1] == 0x8b;
    bool zlib = !gzip && len >= 2 && (src[0] & 0x0f) == Z_DEFLATED && (src[0] >> 4) <= 7 &&
                ((unsigned)src[0] << 8 | src[1]) % 31 == 0;
    /* A single member's trailer says its size (mod 2^32): a good first guess. */
    size_t hint = gp__guess(len);
    if (gzip && len >= 18) {
        const uint8_t *t = src + len - 4;
        hint = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (gp__beyond(hint, len, GX_MAX_RATIO_GZIP)) /* a trailer that lies, or several members */
            hint = gp__guess(len);
    }
    gp__out_start(o, hint);

    z_stream *zs = gp__inflater(gzip ? 15 + 16 : zlib ? 15 : -15);
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)len;
    for (;;) {
        uint8_t *p;
        size_t n;
        gp__out_room(o, &p, &n);
        if (n > UINT_MAX)
            n = UINT_MAX;
        zs->next_out = p;
        zs->avail_out = (uInt)n;
        int rc = inflate(zs, Z_NO_FLUSH);
        if (gp__out_commit(o, p, n - zs->avail_out))
            return GP_COMPRESS_ERR_TOO_LARGE;
        if (rc == Z_STREAM_END) {
            if (gzip && zs->avail_in >= 2 && zs->next_in[0] == 0x1f && zs->next_in[1] == 0x8b) {
                if (inflateReset(zs) != Z_OK)
                    abort();
                continue;
            }
            return 0;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_MEM_ERROR)
            gp__oom();
        /* Z_BUF_ERROR with room to write: the input ended inside the stream. */
        return GP_COMPRESS_ERR_CORRUPT;
    }
}

static int gp__gzip(int level, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    if (len > UINT_MAX || cap > UINT_MAX)
        return GP_COMPRESS_ERR_LIBRARY;
    z_stream *zs = gp__deflater(level == GP_COMPRESS_LEVEL_DEFAULT ? GX_GZIP_LEVEL_DEFAULT : level);
    if (!zs)
        return GP_COMPRESS_ERR_LIBRARY;
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)len;
    zs->next_out = dst;
    zs->avail_out = (uInt)cap;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END)
        return GP_COMPRESS_ERR_LIBRARY;
    *out_len = cap - zs->avail_out;
    return 0;
}

/* ---- snappy -------------------------------------------------------------- */

/*
 * libsnappy is loaded when first needed (or by gp_snappy_load at start-up,
 * off the loop thread), not linked: it is C++, and linking it brings
 * libstdc++, libm and libgcc_s into every start, most of the dynamic
 * loader's work before the broker listens, for a codec few clients use.
 */
#ifndef GP_SNAPPY_SONAME
#define GP_SNAPPY_SONAME "libsnappy.so.1"
#endif

static struct {
    snappy_status (*compress)(const char *, size_t, char *, size_t *);
    snappy_status (*uncompress)(const char *, size_t, char *, size_t *);
    snappy_status (*uncompressed_length)(const char *, size_t, size_t *);
    size_t (*max_compressed_length)(size_t);
    bool ok;
    char error[256];
} gp__snappy_lib;
static pthread_once_t gp__snappy_once = PTHREAD_ONCE_INIT;

static void gp__snappy_load_once(void)
{
    void *h = dlopen(GP_SNAPPY_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(gp__snappy_lib.error, sizeof gp__snappy_lib.error, "%s", e ? e : GP_SNAPPY_SONAME);
        return;
    }
    *(void **)&gp__snappy_lib.compress = dlsym(h, "snappy_compress");
    *(void **)&gp__snappy_lib.uncompress = dlsym(h, "snappy_uncompress");
    *(void **)&gp__snappy_lib.uncompressed_length = dlsym(h, "snappy_uncompressed_length");
    *(void **)&gp__snappy_lib.max_compressed_length = dlsym(h, "snappy_max_compressed_length");
    gp__snappy_lib.ok = gp__snappy_lib.compress && gp__snappy_lib.uncompress &&
                        gp__snappy_lib.uncompressed_length && gp__snappy_lib.max_compressed_length;
    if (!gp__snappy_lib.ok)
        snprintf(gp__snappy_lib.error, sizeof gp__snappy_lib.error, "%s lacks snappy's C functions",
                 GP_SNAPPY_SONAME);
}

bool gp_snappy_load(void)
{
    pthread_once(&gp__snappy_once, gp__snappy_load_once);
    return gp__snappy_lib.ok;
}

const char *gp_snappy_error(void)
{
    return gp__snappy_lib.error;
}

/* One raw snappy block of n bytes, its output size told by its header. */
static int gp__unsnappy_block(const uint8_t *src, size_t n, gp__out *o)
{
    size_t u;
    if (gp__snappy_lib.uncompressed_length((const char *)src, n, &u) != SNAPPY_OK || gp__beyond(u, n, GX_MAX_RATIO_SNAPPY))
        return GP_COMPRESS_ERR_CORRUPT;
    uint8_t *dst = gp__out_reserve(o, u);
    if (!dst)
        return GP_COMPRESS_ERR_TOO_LARGE;
    size_t got = u;
    if (gp__snappy_lib.uncompress((const char *)src, n, (char *)dst, &got) != SNAPPY_OK || got != u)
        return GP_COMPRESS_ERR_CORRUPT;
    o->len += u;
    return 0;
}

static bool gp__is_xerial(const uint8_t *p, size_t left)
{
    return left >= sizeof gp__xerial_magic && memcmp(p, gp__xerial_magic, sizeof gp__xerial_magic) == 0;
}

/*
 * Walk xerial's blocks. With o NULL only sum their output sizes into *total
 * (each block's header says its size), so that the second walk writes into
 * one buffer of the right size. A header inside the stream starts a
 * concatenated stream, as xerial reads it; a block length is an int32 and so
 * never starts with the magic's 0x82.
 */
static int gp__xerial_walk(const uint8_t *src, size_t len, gp__out *o, size_t cap, size_t *total)
{
    size_t pos = 0;
    *total = 0;
    while (pos < len) {
        if (gp__is_xerial(src + pos, len - pos)) {
            if (len - pos < GX_XERIAL_HEADER_SIZE)
                return GP_COMPRESS_ERR_CORRUPT;
            pos += GX_XERIAL_HEADER_SIZE;
            continue;
        }
        if (len - pos < 4)
            return GP_COMPRESS_ERR_CORRUPT;
        uint32_t n = gu_be32(src + pos);
        pos += 4;
        if (n == 0 || n > INT32_MAX || n > len - pos)
            return GP_COMPRESS_ERR_CORRUPT;
        if (o) {
            int rc = gp__unsnappy_block(src + pos, n, o);
            if (rc)
                return rc;
        } else {
            size_t u;
            if (gp__snappy_lib.uncompressed_length((const char *)src + pos, n, &u) != SNAPPY_OK ||
                gp__beyond(u, n, GX_MAX_RATIO_SNAPPY))
                return GP_COMPRESS_ERR_CORRUPT;
            if (u > cap - *total)
                return GP_COMPRESS_ERR_TOO_LARGE;
            *total += u;
        }
        pos += n;
    }
    return 0;
}

static int gp__unsnappy(const uint8_t *src, size_t len, gp__out *o)
{
    if (!gp_snappy_load())
        return GP_COMPRESS_ERR_LIBRARY;
    if (!(len >= GX_XERIAL_HEADER_SIZE && gp__is_xerial(src, len))) {
        size_t u;
        if (gp__snappy_lib.uncompressed_length((const char *)src, len, &u) != SNAPPY_OK ||
            gp__beyond(u, len, GX_MAX_RATIO_SNAPPY))
            return GP_COMPRESS_ERR_CORRUPT;
        if (u > o->cap)
            return GP_COMPRESS_ERR_TOO_LARGE;
        gp__out_start(o, u);
        return gp__unsnappy_block(src, len, o);
    }
    size_t total;
    int rc = gp__xerial_walk(src, len, NULL, o->cap, &total);
    if (rc)
        return rc;
    gp__out_start(o, total);
    return gp__xerial_walk(src, len, o, o->cap, &total);
}

static size_t gp__snappy_bound(size_t len)
{
    if (!gp_snappy_load())
        return 0;
    size_t blocks = len / GX_XERIAL_BLOCK, last = len % GX_XERIAL_BLOCK;
    size_t n = GX_XERIAL_HEADER_SIZE + blocks * (4 + gp__snappy_lib.max_compressed_length(GX_XERIAL_BLOCK));
    if (last)
        n += 4 + gp__snappy_lib.max_compressed_length(last);
    return n;
}

static int gp__snappy(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    if (!gp_snappy_load())
        return GP_COMPRESS_ERR_LIBRARY;
    if (cap < GX_XERIAL_HEADER_SIZE)
        return GP_COMPRESS_ERR_LIBRARY;
    memcpy(dst, gp__xerial_magic, sizeof gp__xerial_magic);
    gu_put_be32(dst + 8, 1);
    gu_put_be32(dst + 12, 1);
    size_t pos = GX_XERIAL_HEADER_SIZE;
    for (size_t off = 0; off < len; off += GX_XERIAL_BLOCK) {
        size_t n = len - off < GX_XERIAL_BLOCK ? len - off : GX_XERIAL_BLOCK;
        size_t room = gp__snappy_lib.max_compressed_length(n);
        if (cap - pos < 4 || cap - pos - 4 < room)
            return GP_COMPRESS_ERR_LIBRARY;
        if (gp__snappy_lib.compress((const char *)src + off, n, (char *)dst + pos + 4, &room) != SNAPPY_OK)
            return GP_COMPRESS_ERR_LIBRARY;
        gu_put_be32(dst + pos, (uint32_t)room);
        pos += 4 + room;
    }
    *out_len = pos;
    return 0;
}

/* ---- lz4 ----------------------------------------------------------------- */

/*
 * The output size of the frame whose blocks start at pos, from above: its
 * block count times the block size (Kafka's writers fill every block but the
 * last). 0 when the block headers do not add up; decompression finds out why.
 */
static size_t gp__lz4_estimate(const uint8_t *src, size_t len, size_t pos, const LZ4F_frameInfo_t *fi)
{
    static const size_t block_size[8] = {0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20};
    size_t bs = block_size[fi->blockSizeID & 7] ? block_size[fi->blockSizeID & 7] : 64 << 10;
    size_t extra = fi->blockChecksumFlag == LZ4F_blockChecksumEnabled ? 4 : 0;
    size_t blocks = 0;
    while (len - pos >= 4) {
        uint32_t n = (uint32_t)src[pos] | (uint32_t)src[pos + 1] << 8 | (uint32_t)src[pos + 2] << 16 |
                     (uint32_t)src[pos + 3] << 24;
        pos += 4;
        if (n == 0)
            return blocks * bs;
        n &= 0x7fffffffu;
        if (n > len - pos || extra > len - pos - n)
            return 0;
        pos += n + extra;
        blocks++;
    }
    return 0;
}

/* One or more LZ4 frames; anything after the last frame must be a frame too. */
static int gp__unlz4(const uint8_t *src, size_t len, gp__out *o)
{
    if (len == 0)
        return GP_COMPRESS_ERR_CORRUPT;
    LZ4F_dctx *d = gp__lz4_dctx();
    LZ4F_frameInfo_t fi;
    size_t pos = len;
    size_t r = LZ4F_getFrameInfo(d, &fi, src, &pos);
    if (LZ4F_isError(r))
        return GP_COMPRESS_ERR_CORRUPT;
    if (fi.contentSize > o->cap)
        return GP_COMPRESS_ERR_TOO_LARGE;
    size_t hint = fi.contentSize ? (size_t)fi.contentSize : gp__lz4_estimate(src, len, pos, &fi);
    if (hint == 0 || gp__beyond(hint, len, GX_MAX_RATIO_LZ4))
        hint = gp__guess(len);
    gp__out_start(o, hint);
    if (r == 0) /* the frame ended within its header (cannot happen: it has an end mark) */
        return pos == len ? 0 : GP_COMPRESS_ERR_CORRUPT;
    for (;;) {
        uint8_t *p;
        size_t n;
        gp__out_room(o, &p, &n);
        size_t dn = n, sn = len - pos;
        r = LZ4F_decompress(d, p, &dn, src + pos, &sn, NULL);
        if (LZ4F_isError(r))
            return GP_COMPRESS_ERR_CORRUPT;
        pos += sn;
        if (gp__out_commit(o, p, dn))
            return GP_COMPRESS_ERR_TOO_LARGE;
        if (r == 0) {
            if (pos == len)
                return 0;
            continue; /* another frame follows */
        }
        if (pos == len && dn < n)
            return GP_COMPRESS_ERR_CORRUPT; /* wants input that is not there */
        if (sn == 0 && dn == 0)
            return GP_COMPRESS_ERR_CORRUPT; /* no progress */
    }
}

static void gp__lz4_prefs(LZ4F_preferences_t *prefs, int level)
{
    memset(prefs, 0, sizeof *prefs);
    prefs->frameInfo.blockSizeID = LZ4F_max64KB;
    prefs->frameInfo.blockMode = LZ4F_blockIndependent;
    prefs->compressionLevel = level;
}

static size_t gp__lz4_bound(size_t len)
{
    LZ4F_preferences_t prefs;
    gp__lz4_prefs(&prefs, 0);
    return LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(len, &prefs) + LZ4F_compressBound(0, &prefs);
}

static int gp__lz4(int level, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    LZ4F_preferences_t prefs;
    gp__lz4_prefs(&prefs, level == GP_COMPRESS_LEVEL_DEFAULT ? GX_LZ4_LEVEL_DEFAULT : level);
    LZ4F_cctx *c = gp__lz4_cctx();
    size_t h = LZ4F_compressBegin(c, dst, cap, &prefs);
    if (LZ4F_isError(h))
        return GP_COMPRESS_ERR_LIBRARY;
    size_t u = LZ4F_compressUpdate(c, dst + h, cap - h, src, len, NULL);
    if (LZ4F_isError(u))
        goto fail;
    size_t e = LZ4F_compressEnd(c, dst + h + u, cap - h - u, NULL);
    if (LZ4F_isError(e))
        goto fail;
    *out_len = h + u + e;
    return 0;
fail:
    /* After a failed update the context is undefined: start a new one. */
    LZ4F_freeCompressionContext(gp__ctx.lz4_c);
    gp__ctx.lz4_c = NULL;
    return GP_COMPRESS_ERR_LIBRARY;
}

/* ---- zstd ---------------------------------------------------------------- */

static int gp__zstd_window_log(size_t cap)
{
    int log = 0;
    while (log < 62 && ((size_t)1 << log) < cap)
        log++;
    if (log < GX_ZSTD_WINDOWLOG_MIN)
        log = GX_ZSTD_WINDOWLOG_MIN;
    if (log > GX_ZSTD_WINDOWLOG_MAX)
        log = GX_ZSTD_WINDOWLOG_MAX;
    return log;
}

/*
 * When the first frame states its content size, decompress in one call into
 * a buffer of that size: zstd then needs no window buffer of its own. If the
 * input holds more than that (more frames), or the size is absent, stream.
 */
static int gp__unzstd(const uint8_t *src, size_t len, gp__out *o)
{
    ZSTD_DCtx *d = gp__zstd_dctx();
    unsigned long long fcs = ZSTD_getFrameContentSize(src, len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR)
        return GP_COMPRESS_ERR_CORRUPT;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
        if (fcs > o->cap)
            return GP_COMPRESS_ERR_TOO_LARGE;
        if (gp__beyond((size_t)fcs, len, GX_MAX_RATIO_ZSTD))
            return GP_COMPRESS_ERR_CORRUPT;
        gp__out_start(o, (size_t)fcs);
        size_t r = ZSTD_decompressDCtx(d, o->buf, o->size, src, len);
        if (!ZSTD_isError(r)) {
            o->len = r;
            return 0;
        }
        if (ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall)
            return GP_COMPRESS_ERR_CORRUPT;
        o->len = 0; /* stream it, into the same buffer */
    } else {
        gp__out_start(o, gp__guess(len));
    }

    ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, gp__zstd_window_log(o->cap));
    ZSTD_inBuffer in = {src, len, 0};
    int rc;
    for (;;) {
        uint8_t *p;
        size_t n;
        gp__out_room(o, &p, &n);
        ZSTD_outBuffer out = {p, n, 0};
        size_t r = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(r)) {
            rc = ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge ? GP_COMPRESS_ERR_TOO_LARGE
                                                                                  : GP_COMPRESS_ERR_CORRUPT;
            break;
        }
        if ((rc = gp__out_commit(o, p, out.pos)) != 0)
            break;
        if (r == 0 && in.pos == in.size)
            break; /* the last frame ended with the input */
        if (in.pos == in.size && out.pos < out.size) {
            rc = GP_COMPRESS_ERR_CORRUPT; /* the input ended inside a frame */
            break;
        }
    }
    if (ZSTD_sizeof_DCtx(d) > GX_ZSTD_DCTX_KEEP) {
        ZSTD_freeDCtx(d);
        gp__ctx.zstd_d = NULL;
    } else {
        ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    }
    return rc;
}

static int gp__zstd(int level, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t r = ZSTD_compressCCtx(gp__zstd_cctx(), dst, cap, src, len,
                                 level == GP_COMPRESS_LEVEL_DEFAULT ? GX_ZSTD_LEVEL_DEFAULT : level);
    if (ZSTD_isError(r))
        return GP_COMPRESS_ERR_LIBRARY;
    *out_len = r;
    return 0;
}

/* ---- public -------------------------------------------------------------- */

static int gp__decompress(int codec, const uint8_t *src, size_t len, gp__out *o)
{
    switch (codec) {
    case GP_CODEC_GZIP:
        return gp__gunzip(src, len, o);
    case GP_CODEC_SNAPPY:
        return gp__unsnappy(src, len, o);
    case GP_CODEC_LZ4:
        return gp__unlz4(src, len, o);
    case GP_CODEC_ZSTD:
        return gp__unzstd(src, len, o);
    default:
        return GP_COMPRESS_ERR_CODEC;
    }
}

int gp_decompress(int codec, const uint8_t *src, size_t len, gp_arena *a, size_t cap, const uint8_t **out,
                  size_t *out_len)
{
    gp__out o = {.a = a, .cap = cap};
    int rc = gp__decompress(codec, src, len, &o);
    if (rc)
        return rc;
    *out = o.buf;
    *out_len = o.len;
    return 0;
}

int gp_decompress_into(int codec, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    gp__out o = {.buf = dst, .size = cap, .cap = cap};
    int rc = gp__decompress(codec, src, len, &o);
    if (rc)
        return rc;
    *out_len = o.len;
    return 0;
}

size_t gp_compress_bound(int codec, size_t len)
{
    switch (codec) {
    case GP_CODEC_GZIP:
        /* compressBound covers zlib's 6-byte wrapper; gzip's is 18. */
        return compressBound((uLong)len) + 32;
    case GP_CODEC_SNAPPY:
        return gp__snappy_bound(len);
    case GP_CODEC_LZ4:
        return gp__lz4_bound(len);
    case GP_CODEC_ZSTD:
        return ZSTD_compressBound(len);
    default:
        return 0;
    }
}

int gp_compress(int codec, int level, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    switch (codec) {
    case GP_CODEC_GZIP:
        return gp__gzip(level, src, len, dst, cap, out_len);
    case GP_CODEC_SNAPPY:
        return gp__snappy(src, len, dst, cap, out_len);
    case GP_CODEC_LZ4:
        return gp__lz4(level, src, len, dst, cap, out_len);
    case GP_CODEC_ZSTD:
        return gp__zstd(level, src, len, dst, cap, out_len);
    default:
        return GP_COMPRESS_ERR_CODEC;
    }
}

const char *gp_compress_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case GP_COMPRESS_ERR_CODEC:
        return "unknown compression codec";
    case GP_COMPRESS_ERR_CORRUPT:
        return "corrupt compressed data";
    case GP_COMPRESS_ERR_TOO_LARGE:
        return "decompressed data exceeds the limit";
    case GP_COMPRESS_ERR_LIBRARY:
        return "compression library failure";
    default:
        return "unknown error";
    }
}

static const char *const gp__codec_names[GP_CODEC_COUNT] = {"none", "gzip", "snappy", "lz4", "zstd"};

const char *gp_codec_name(int codec)
{
    return codec >= 0 && codec < GP_CODEC_COUNT ? gp__codec_names[codec] : NULL;
}

int gp_codec_from_name(const char *name, size_t len)
{
    for (int i = 0; i < GP_CODEC_COUNT; i++)
        if (strlen(gp__codec_names[i]) == len && memcmp(gp__codec_names[i], name, len) == 0)
            return i;
    return -1;
}
