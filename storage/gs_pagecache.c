#include "storage/gs_pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define GS_FOLIO_MAX ((int64_t)2 << 20)

static int64_t gs__page(void)
{
    static int64_t page;
    if (!page) {
        long v = sysconf(_SC_PAGESIZE);
        page = v > 0 ? v : 4096;
    }
    return page;
}

/* A read-only mapping of [pos, pos + len) from the page boundary below
 * pos; its length goes to *maplen. MAP_FAILED on failure (errno set). */
static void *gs__map(int fd, int64_t pos, int64_t len, size_t *maplen)
{
    int64_t from = pos - pos % gs__page();
    *maplen = (size_t)(pos + len - from);
    return mmap(NULL, *maplen, PROT_READ, MAP_SHARED, fd, (off_t)from);
}

int gs_file_resident(int fd, int64_t pos, int64_t len)
{
    if (len <= 0)
        return 1;
    size_t maplen, pg = (size_t)gs__page();
    void *m = gs__map(fd, pos, len, &maplen);
    if (m == MAP_FAILED)
        return -errno;
    size_t npages = (maplen + pg - 1) / pg;
    unsigned char small[256];
    unsigned char *vec = npages <= sizeof small ? small : malloc(npages);
    int rc;
    if (!vec) {
        rc = -ENOMEM;
    } else if (mincore(m, maplen, vec) < 0) {
        rc = -errno;
    } else {
        rc = 1;
        for (size_t i = 0; i < npages && rc; i++)
            if (!(vec[i] & 1))
                rc = 0;
    }
    if (vec != small)
        free(vec);
    munmap(m, maplen);
    return rc;
}

/* Where MADV_POPULATE_READ is missing (before Linux 5.14): read through a
 * buffer. */
static int gs__warm_read(int fd, int64_t pos, int64_t len)
{
    size_t bufsz = 256 * 1024;
    char *buf = malloc(bufsz);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    while (len > 0) {
        ssize_t n = pread(fd, buf, (size_t)len < bufsz ? (size_t)len : bufsz, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break; /* past the end: nothing there to bring in */
        pos += n;
        len -= n;
    }
    free(buf);
    return rc;
}

int gs_file_warm(int fd, int64_t pos, int64_t len)
{
    if (len <= 0)
        return 0;
#ifdef MADV_POPULATE_READ
    size_t maplen;
    void *m = gs__map(fd, pos, len, &maplen);
    if (m != MAP_FAILED) {
        /* Faults the pages in without a SIGBUS: past the end of the file it
         * fails with EFAULT instead. */
        int rc = madvise(m, maplen, MADV_POPULATE_READ) < 0 ? -errno : 0;
        munmap(m, maplen);
        if (rc != -EINVAL)
            return rc == -EFAULT ? 0 : rc;
    }
#endif
    return gs__warm_read(fd, pos, len);
}

int gs_file_evict(int fd, int64_t pos, int64_t len)
{
    if (len <= 0)
        return 0;
#ifdef SYNC_FILE_RANGE_WRITE
    /* Dirty pages stay in the cache whatever fadvise says: write them first. */
    if (sync_file_range(fd, (off_t)pos, (off_t)len,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0)
        return -errno;
#else
    if (fdatasync(fd) < 0)
        return -errno;
#endif
    /* The page cache holds files in folios of up to 2 MiB, and fadvise drops
     * only folios wholly inside the range: start it at the 2 MiB boundary
     * below, or the folio across each step's start would stay forever.
     * (The bytes before pos are older, on disk already, and clean pages are
     * all fadvise drops.) */
    int64_t from = pos & ~(GS_FOLIO_MAX - 1);
    int rc = posix_fadvise(fd, (off_t)from, (off_t)(pos + len - from), POSIX_FADV_DONTNEED);
    return -rc;
}
