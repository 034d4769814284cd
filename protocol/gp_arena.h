/*
 * A bump allocator for everything one request needs: its decoded fields, the
 * handler's working data and the encoded response. Freed in one go when the
 * response has been written (H2O's per-request pool). The first block lives
 * inside the owner (no malloc for small requests); later blocks are malloc'd
 * and chained. Out of memory aborts.
 */
#ifndef GP_ARENA_H
#define GP_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gp_arena_block gp_arena_block;

typedef struct gp_arena {
    uint8_t *cur;           /* next free byte in the current block */
    uint8_t *end;           /* end of the current block */
    gp_arena_block *blocks; /* malloc'd blocks, newest first */
    size_t allocated;       /* bytes malloc'd beyond the initial block */
} gp_arena;

/* Start an arena on a caller-provided first block (may be NULL/0). */
void gp_arena_init(gp_arena *a, void *first, size_t first_len);

/* Free every malloc'd block; the arena is empty and reusable afterwards
 * with the same first block. */
void gp_arena_reset(gp_arena *a, void *first, size_t first_len);

/* Memory aligned for any scalar type; never NULL (aborts when out of memory).
 * A zero-sized request returns a valid unique pointer. */
void *gp_arena_alloc(gp_arena *a, size_t n);

/* Zeroed memory for n elements of size sz, with overflow check. */
void *gp_arena_calloc(gp_arena *a, size_t n, size_t sz);

/* A NUL-terminated copy of len bytes. */
char *gp_arena_strndup(gp_arena *a, const char *s, size_t len);

/* printf into the arena. */
char *gp_arena_printf(gp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *gp_arena_vprintf(gp_arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
