/*
 * The four compression codecs of Kafka's record batch, in the framings Kafka's
 * clients write and read:
 *
 *   gzip    RFC 1952 gzip members (several members in a row are one stream,
 *           as java.util.zip.GZIPInputStream reads them); a zlib (RFC 1950)
 *           or raw deflate stream is accepted too, though no client sends one.
 *   snappy  xerial's block framing, which the Java client writes: the 16-byte
 *           header "\x82SNAPPY\0" + version int32 + compatible-version int32,
 *           then [int32 length][raw snappy block]... with 32 KiB of input per
 *           block. A bare raw snappy block is accepted too, as xerial's
 *           SnappyInputStream does when the header is missing.
 *   lz4     the LZ4 frame format (lz4frame.h). Kafka clients before 0.10 wrote
 *           a frame whose header checksum was computed over the magic number
 *           as well (KAFKA-3160); such frames fail the header check here and
 *           are refused as corrupt: that variant belongs to message format
 *           v0/v1 only.
 *   zstd    one or more zstd frames; the content size may be absent (the Java
 *           client streams and does not write it).
 *
 * Every decompressor takes an output cap and fails with
 * GP_COMPRESS_ERR_TOO_LARGE rather than write one byte beyond it: a small
 * compressed batch cannot make the broker allocate more than the cap
 * (decompression bombs).
 *
 * Codec contexts (zlib streams, zstd and lz4 contexts) are cached per thread
 * and reused, so a compressed batch costs no malloc once a thread has warmed
 * up; gp_compress_thread_free() releases them.
 */
#ifndef GP_COMPRESS_H
#define GP_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/gp_arena.h"

/* Kafka's compression codec ids, bits 0-2 of a batch's attributes. */
typedef enum gp_codec {
    GP_CODEC_NONE = 0,
    GP_CODEC_GZIP = 1,
    GP_CODEC_SNAPPY = 2,
    GP_CODEC_LZ4 = 3,
    GP_CODEC_ZSTD = 4,
} gp_codec;

#define GP_CODEC_COUNT 5

/* Errors (negative, in a range of their own). */
enum {
    GP_COMPRESS_ERR_CODEC = -20,     /* not one of the four codecs */
    GP_COMPRESS_ERR_CORRUPT = -21,   /* input is not a valid stream of the codec */
    GP_COMPRESS_ERR_TOO_LARGE = -22, /* output would exceed the cap */
    GP_COMPRESS_ERR_LIBRARY = -23,   /* the codec library failed (compression), or is missing (snappy) */
};

const char *gp_compress_strerror(int err);

/* "none", "gzip", "snappy", "lz4", "zstd" (Kafka's compression.type names);
 * NULL for another value. */
const char *gp_codec_name(int codec);

/* The codec named by Kafka's compression.type value; -1 if none is. */
int gp_codec_from_name(const char *name, size_t len);

/* Pass as level to get Kafka's default level of the codec: gzip 6 (zlib's
 * default, what Deflater.DEFAULT_COMPRESSION means), lz4 9, zstd 3.
 * Snappy has no levels. */
#define GP_COMPRESS_LEVEL_DEFAULT INT32_MIN

/* Decompress len bytes of src into memory from arena a. At most cap bytes are
 * produced; the output is sized from what the stream says of its size where
 * it says (zstd content size, snappy block lengths, the gzip trailer) and
 * grows geometrically otherwise, so the arena holds at most about twice the
 * output. On success *out and *out_len describe the output (valid until the
 * arena is reset). */
int gp_decompress(int codec, const uint8_t *src, size_t len, gp_arena *a, size_t cap, const uint8_t **out,
                  size_t *out_len);

/* The same into a caller's buffer of cap bytes. */
int gp_decompress_into(int codec, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* Load libsnappy now (it is loaded at first use otherwise): a blocking
 * call, for a worker thread at start-up. false if it cannot be loaded;
 * gp_snappy_error says why, and snappy batches then fail with
 * GP_COMPRESS_ERR_LIBRARY. */
bool gp_snappy_load(void);
const char *gp_snappy_error(void);

/* The most bytes gp_compress can produce for len input bytes; 0 for an
 * unknown codec. */
size_t gp_compress_bound(int codec, size_t len);

/* Compress len bytes of src into dst (cap >= gp_compress_bound(codec, len)).
 * level is the codec's own level or GP_COMPRESS_LEVEL_DEFAULT. lz4 writes
 * independent 64 KiB blocks without content size or checksum, as the Java
 * client's Lz4BlockOutputStream does (its reader refuses linked blocks). */
int gp_compress(int codec, int level, const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* Free this thread's cached codec contexts (they are rebuilt on next use). */
void gp_compress_thread_free(void);

#endif
