#include "storage/gs_txnindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gu_common.h"

void gs_txnindex_encode(const gs_aborted_txn *e, uint8_t out[GS_TXNINDEX_ENTRY])
{
    gu_put_be16(out, GS_TXNINDEX_VERSION);
    gu_put_be64(out + 2, (uint64_t)e->producer_id);
    gu_put_be64(out + 10, (uint64_t)e->first_offset);
    gu_put_be64(out + 18, (uint64_t)e->last_offset);
    gu_put_be64(out + 26, (uint64_t)e->last_stable_offset);
}

void gs_txnindex_decode(const uint8_t in[GS_TXNINDEX_ENTRY], gs_aborted_txn *e)
{
    e->producer_id = (int64_t)gu_be64(in + 2);
    e->first_offset = (int64_t)gu_be64(in + 10);
    e->last_offset = (int64_t)gu_be64(in + 18);
    e->last_stable_offset = (int64_t)gu_be64(in + 26);
}

static void gs__push(gs_txnindex *ti, const gs_aborted_txn *e)
{
    if (ti->n == ti->cap) {
        ti->cap = ti->cap ? ti->cap * 2 : 4;
        ti->e = gu_realloc(ti->e, ti->cap * sizeof *ti->e);
    }
    ti->e[ti->n++] = *e;
}

int gs_txnindex_open(gs_txnindex *ti, const char *path)
{
    memset(ti, 0, sizeof *ti);
    ti->fd = -1;
    ti->path = gu_strdup(path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t len = (size_t)st.st_size, whole = 0;
    uint8_t *buf = gu_malloc(len ? len : 1);
    ssize_t got = len ? pread(fd, buf, len, 0) : 0;
    if (got < 0) {
        int e = -errno;
        free(buf);
        close(fd);
        return e;
    }
    for (size_t pos = 0; pos + GS_TXNINDEX_ENTRY <= (size_t)got; pos += GS_TXNINDEX_ENTRY) {
        if ((int16_t)gu_be16(buf + pos) != GS_TXNINDEX_VERSION)
            break;
        gs_aborted_txn e;
        gs_txnindex_decode(buf + pos, &e);
        gs__push(ti, &e);
        whole = pos + GS_TXNINDEX_ENTRY;
    }
    free(buf);
    ti->fd = fd;
    if (whole < len && ftruncate(fd, (off_t)whole) < 0)
        return -errno;
    return 0;
}

int gs_txnindex_append(gs_txnindex *ti, const gs_aborted_txn *e)
{
    gs__push(ti, e);
    if (ti->fd < 0) {
        ti->fd = open(ti->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (ti->fd < 0)
            return -errno;
    }
    uint8_t buf[GS_TXNINDEX_ENTRY];
    gs_txnindex_encode(e, buf);
    off_t at = (off_t)((ti->n - 1) * GS_TXNINDEX_ENTRY);
    ssize_t n;
    do
        n = pwrite(ti->fd, buf, sizeof buf, at);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof buf) {
        int rc = n < 0 ? -errno : -EIO;
        (void)!ftruncate(ti->fd, at); /* never a torn entry in the file */
        return rc;
    }
    return 0;
}

int gs_txnindex_truncate(gs_txnindex *ti, int64_t offset)
{
    size_t keep = ti->n;
    while (keep > 0 && ti->e[keep - 1].last_offset >= offset)
        keep--;
    /* Entries are in marker order; a file written out of order (not by
     * Gregor) is filtered the slow way. */
    size_t k = 0;
    for (size_t i = 0; i < keep; i++)
        if (ti->e[i].last_offset < offset)
            ti->e[k++] = ti->e[i];
    bool changed = k != ti->n;
    ti->n = k;
    if (!changed || !ti->path)
        return 0;
    if (ti->n == 0) {
        if (ti->fd >= 0)
            close(ti->fd);
        ti->fd = -1;
        return unlink(ti->path) < 0 && errno != ENOENT ? -errno : 0;
    }
    /* Rewrite what is kept (an out-of-order file was filtered in memory),
     * through a descriptor of its own if the index holds none (its segment
     * left the cache of open segments, or the reopen failed): the file must
     * not keep entries a restart would read back. */
    int fd = ti->fd;
    if (fd < 0 && (fd = open(ti->path, O_RDWR | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno;
    size_t len = ti->n * GS_TXNINDEX_ENTRY;
    uint8_t *buf = gu_malloc(len);
    for (size_t i = 0; i < ti->n; i++)
        gs_txnindex_encode(&ti->e[i], buf + i * GS_TXNINDEX_ENTRY);
    int rc = 0;
    errno = 0;
    /* Cut first: entries in marker order keep a prefix of the file, so the
     * cut alone leaves it right if the rewrite then fails. */
    if (ftruncate(fd, (off_t)len) < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
        rc = errno ? -errno : -EIO;
    free(buf);
    if (fd != ti->fd)
        close(fd);
    return rc;
}

int gs_txnindex_sync(const gs_txnindex *ti)
{
    return ti->fd >= 0 && fdatasync(ti->fd) < 0 ? -errno : 0;
}

void gs_txnindex_close(gs_txnindex *ti)
{
    if (ti->fd >= 0)
        close(ti->fd);
    ti->fd = -1;
    free(ti->e);
    free(ti->path);
    ti->e = NULL;
    ti->path = NULL;
    ti->n = ti->cap = 0;
}
