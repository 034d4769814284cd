/*
 * Shared by the libFuzzer targets: a failure that stops the fuzzer with a
 * message naming what broke, and the round-trip check both codec targets run
 * on every message that decodes.
 *
 * The round trip: a message that decoded is sized and encoded, the encoding
 * decoded again, and that re-encoded; the two encodings must be identical
 * byte for byte. The first encoding may differ from the input (unknown
 * tagged fields are dropped, varints come out minimal), but once through the
 * codec a message must be a fixed point: if it is not, decode and encode
 * disagree about some field, and the broker would answer or forward
 * something other than what it read.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/gp_messages.h"

/* Bound on arena memory per input byte. Every array element consumes at
 * least one byte of the input (the decoders refuse a count larger than the
 * bytes left, and no element is empty on the wire), so a decode allocates at
 * most (largest element struct / smallest element encoding) per byte: a few
 * hundred. More than this means allocation grows faster than the input. */
#define FZ_ARENA_PER_BYTE 512
#define FZ_ARENA_SLACK (64 * 1024)

static void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2), unused));
static void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ CHECK FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

__attribute__((unused)) static void fz_hexdump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 256; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", p[i]);
    fprintf(stderr, "%s\n", n > 256 ? "\n  ..." : "");
}

__attribute__((unused)) static void fz_check_arena(const gp_arena *a, size_t input_len, const char *what)
{
    if (a->allocated > FZ_ARENA_SLACK + (size_t)FZ_ARENA_PER_BYTE * input_len)
        fz_fail("%s: decoding %zu bytes allocated %zu bytes of arena", what, input_len, a->allocated);
}

/* Encode msg at version into a malloc'd buffer of exactly its size. */
__attribute__((unused)) static uint8_t *fz_encode(const gp_msg_ops *ops, int16_t version, const void *msg, size_t *len,
                                                  const char *what)
{
    size_t n = ops->size(version, msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    gp_writer w;
    gp_writer_init(&w, buf, n);
    ops->encode(&w, version, msg); /* writing past n aborts in gp_codec */
    if (w.p != w.end)
        fz_fail("%s: size said %zu bytes, encode wrote %zu", what, n, (size_t)(w.p - buf));
    *len = n;
    return buf;
}

/* Given a message decoded from `consumed` input bytes: encode, decode the
 * encoding, encode again, and require the same bytes. */
__attribute__((unused)) static void fz_check_roundtrip(const gp_msg_ops *ops, int16_t version, const void *msg,
                                                       size_t consumed, const char *what)
{
    size_t n1, n2;
    uint8_t *enc1 = fz_encode(ops, version, msg, &n1, what);
    /* Re-encoding drops unknown tags and shortens varints; it never adds. */
    if (n1 > consumed)
        fz_fail("%s: %zu input bytes re-encode to %zu", what, consumed, n1);

    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    void *back = gp_arena_alloc(&a, ops->size_of);
    gp_reader r;
    gp_reader_init(&r, enc1, n1);
    int rc = ops->decode(&r, &a, version, back);
    if (rc != 0) {
        fz_hexdump("first encoding", enc1, n1);
        fz_fail("%s: own encoding does not decode: %s", what, gp_strerror(rc));
    }
    if (gp_reader_left(&r) != 0) {
        fz_hexdump("first encoding", enc1, n1);
        fz_fail("%s: %zu bytes of own encoding left after decode", what, gp_reader_left(&r));
    }
    uint8_t *enc2 = fz_encode(ops, version, back, &n2, what);
    if (n1 != n2 || memcmp(enc1, enc2, n1) != 0) {
        fz_hexdump("first encoding", enc1, n1);
        fz_hexdump("second encoding", enc2, n2);
        fz_fail("%s: decode/encode is not a fixed point", what);
    }
    free(enc1);
    free(enc2);
    gp_arena_reset(&a, NULL, 0);
}

#endif
