#include "protocol/gp_arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#define GP_ARENA_ALIGN 16
#define GP_ARENA_BLOCK 8192

struct gp_arena_block {
    gp_arena_block *next;
    size_t size;
    /* data follows, aligned */
};

static size_t gp__align(size_t n)
{
    return (n + GP_ARENA_ALIGN - 1) & ~(size_t)(GP_ARENA_ALIGN - 1);
}

void gp_arena_init(gp_arena *a, void *first, size_t first_len)
{
    a->blocks = NULL;
    a->allocated = 0;
    if (first && first_len >= GP_ARENA_ALIGN) {
        uintptr_t p = ((uintptr_t)first + GP_ARENA_ALIGN - 1) & ~(uintptr_t)(GP_ARENA_ALIGN - 1);
        a->cur = (uint8_t *)p;
        a->end = (uint8_t *)first + first_len;
        if (a->cur > a->end)
            a->cur = a->end;
    } else {
        a->cur = a->end = NULL;
    }
}

void gp_arena_reset(gp_arena *a, void *first, size_t first_len)
{
    gp_arena_block *b = a->blocks;
    while (b) {
        gp_arena_block *next = b->next;
        free(b);
        b = next;
    }
    gp_arena_init(a, first, first_len);
}

void *gp_arena_alloc(gp_arena *a, size_t n)
{
    size_t need = gp__align(n ? n : 1);
    if (need < n) /* overflow */
        abort();
    if (a->cur && (size_t)(a->end - a->cur) >= need) {
        void *p = a->cur;
        a->cur += need;
        return p;
    }
    size_t hdr = gp__align(sizeof(gp_arena_block));
    size_t size = need > GP_ARENA_BLOCK - hdr ? need : GP_ARENA_BLOCK - hdr;
    if (size + hdr < size)
        abort();
    gp_arena_block *b = gu_malloc(hdr + size);
    b->next = a->blocks;
    b->size = size;
    a->blocks = b;
    a->allocated += hdr + size;
    uint8_t *data = (uint8_t *)b + hdr;
    if (size - need >= 256 || !a->cur || (size_t)(a->end - a->cur) < size - need) {
        /* Make the new block current when it has more room left. */
        a->cur = data + need;
        a->end = data + size;
    }
    return data;
}

void *gp_arena_calloc(gp_arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        abort();
    void *p = gp_arena_alloc(a, n * sz);
    memset(p, 0, n * sz);
    return p;
}

char *gp_arena_strndup(gp_arena *a, const char *s, size_t len)
{
    char *p = gp_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *gp_arena_vprintf(gp_arena *a, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0)
        abort();
    char *p = gp_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, again);
    va_end(again);
    return p;
}

char *gp_arena_printf(gp_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = gp_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
