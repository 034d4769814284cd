/*
 * A fresh directory under /tmp for one test, removed with everything in it
 * afterwards (the storage tests' fixtures).
 */
#ifndef TU_TMPDIR_H
#define TU_TMPDIR_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Make /tmp/gregor-<name>.XXXXXX; its path goes into buf (64 bytes do). */
static inline void tu_tmpdir_make(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/gregor-%s.XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline void tu_tmpdir_remove(const char *path)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", path);
    ck_assert_int_eq(system(cmd), 0);
}

#endif
