/*
 * Golden byte vectors for the unit tests: tests/golden/<dir>/<name>.hex,
 * hex digits a line, '#' lines are comments.
 */
#ifndef TU_HEX_H
#define TU_HEX_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "protocol/gp_arena.h"

/* The bytes of tests/golden/<dir>/<name>.hex, in the arena (at most 1 MiB).
 * The source root is GREGOR_SOURCE_ROOT (as meson runs the tests), else the
 * current directory or its parent (run by hand from the source root or the
 * build directory). */
static inline uint8_t *tu_read_hex(gp_arena *arena, const char *dir, const char *name, size_t *len)
{
    const char *root = getenv("GREGOR_SOURCE_ROOT");
    char path[1024];
    if (root) {
        snprintf(path, sizeof path, "%s/tests/golden/%s/%s.hex", root, dir, name);
    } else {
        snprintf(path, sizeof path, "tests/golden/%s/%s.hex", dir, name);
        FILE *t = fopen(path, "r");
        if (t)
            fclose(t);
        else
            snprintf(path, sizeof path, "../tests/golden/%s/%s.hex", dir, name);
    }
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (set GREGOR_SOURCE_ROOT)", path);
    size_t cap = 1 << 20, n = 0;
    uint8_t *out = gp_arena_alloc(arena, cap);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        for (char *c = line; c[0] && c[1] && c[0] != '\n'; c += 2) {
            unsigned v;
            ck_assert_int_eq(sscanf(c, "%2x", &v), 1);
            ck_assert_uint_lt(n, cap);
            out[n++] = (uint8_t)v;
        }
    }
    fclose(f);
    *len = n;
    return out;
}

#endif
