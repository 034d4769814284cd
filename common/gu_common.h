/*
 * What every folder needs and none owns: allocation that aborts when memory
 * runs out (STYLE: "out of memory aborts"), wall-clock milliseconds (Kafka's
 * timestamps) and big-endian reads and writes of raw bytes (Kafka's file and
 * frame formats; protocol/gp_codec.h keeps its checked reader and writer).
 *
 * The allocators never return NULL, not even for a size of 0.
 *
 * Header only, the bottom layer: it includes nothing of the project and any
 * file may include it (tests/check_layers.py).
 */
#ifndef GU_COMMON_H
#define GU_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void *gu_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static inline void *gu_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

static inline void *gu_realloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static inline char *gu_strdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

/* Milliseconds since the epoch (CLOCK_REALTIME), as Kafka's timestamps. */
static inline int64_t gu_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint16_t gu_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t gu_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t gu_be64(const uint8_t *p)
{
    return ((uint64_t)gu_be32(p) << 32) | gu_be32(p + 4);
}

static inline void gu_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void gu_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void gu_put_be64(uint8_t *p, uint64_t v)
{
    gu_put_be32(p, (uint32_t)(v >> 32));
    gu_put_be32(p + 4, (uint32_t)v);
}

#endif
