#include "storage/gs_index.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif
#include <unistd.h>

#include "common/gu_common.h"

/* Blocks are reserved this many bytes at a time (16 KiB: 2048 offset
 * entries, 8 MiB of log at the default index.interval.bytes). */
#define GS_INDEX_ALLOC_CHUNK ((size_t)16384)

/* Key and value of entry i: (offset, position) or (timestamp, offset). */
static void gs__entry(const gs_index *ix, size_t i, int64_t *key, int64_t *value)
{
    const uint8_t *p = ix->map + i * (size_t)ix->kind;
    if (ix->kind == GS_INDEX_OFFSET) {
        *key = ix->base_offset + (int32_t)gu_be32(p);
        *value = gu_be32(p + 4);
    } else {
        *key = (int64_t)gu_be64(p);
        *value = ix->base_offset + (int32_t)gu_be32(p + 8);
    }
}

/* A filesystem that writes every overwrite to a new block (copy on write):
 * there a block reserved by fallocate does not make a later store through
 * the map safe from ENOSPC, which the store would take as a SIGBUS. */
static bool gs__copy_on_write(int fd)
{
#ifdef __linux__
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return true;
    switch ((unsigned long)sf.f_type) {
    case 0x9123683eUL: /* btrfs */
    case 0x2fc12fc1UL: /* zfs */
    case 0xca451a4eUL: /* bcachefs */
        return true;
    default:
        return false;
    }
#else
    (void)fd;
    return true;
#endif
}

int gs_index_open(gs_index *ix, const char *path, enum gs_index_kind kind, int64_t base_offset, size_t max_bytes,
                  bool writable)
{
    memset(ix, 0, sizeof *ix);
    ix->fd = -1;
    ix->kind = kind;
    ix->base_offset = base_offset;
    int fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t len = (size_t)st.st_size - (size_t)st.st_size % (size_t)kind;
    bool ragged = len != (size_t)st.st_size;
    size_t entries = len / (size_t)kind;
    size_t cap = len;
    if (writable) {
        size_t want = max_bytes - max_bytes % (size_t)kind;
        if (want < (size_t)kind)
            want = (size_t)kind;
        if (want > cap)
            cap = want;
        if ((size_t)st.st_size != cap && ftruncate(fd, (off_t)cap) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    }
    ix->fd = fd;
    ix->path = gu_strdup(path);
    ix->writable = writable;
    ix->alloc_len = 0; /* not known: the first append reserves its blocks */
    ix->store_in_map = writable && !gs__copy_on_write(fd);
    ix->ragged = ragged && !writable; /* a writable one is being rebuilt or extended */
    ix->map_len = cap;
    if (cap > 0) {
        void *m = mmap(NULL, cap, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            int e = -errno;
            close(fd);
            ix->fd = -1;
            free(ix->path);
            ix->path = NULL;
            return e;
        }
        /* Index pages are touched one at a time (an append every
         * index.interval.bytes, a binary search on lookup). Without this the
         * first touch of a preallocated index reads ahead read_ahead_kb of
         * holes, zero-filling megabytes of page cache per segment. */
        (void)madvise(m, cap, MADV_RANDOM);
        ix->map = m;
    }
    ix->entries = entries;
    return 0;
}

/* The index's descriptor, or (its owner closed it after mapping, as
 * storage/gs_log does to bound a partition's descriptors) the file opened
 * again, which *temp says the caller closes. -1 with errno on failure. */
static int gs__fd(const gs_index *ix, bool *temp)
{
    *temp = ix->fd < 0;
    if (!*temp)
        return ix->fd;
    if (!ix->path) {
        errno = EBADF;
        return -1;
    }
    return open(ix->path, O_RDWR | O_CLOEXEC);
}

static int gs__alloc_range(int fd, size_t from, size_t end);

/* Give the file real blocks for bytes [0, upto) (rounded up to a chunk,
 * at most the mapped length), so that a store through the shared map never
 * finds a hole on a full disk: that is a SIGBUS. fallocate keeps what the
 * file holds and costs nothing where blocks exist already. A filesystem
 * without fallocate gets the same bytes read and written back, which
 * allocates as any write does (never zeros: the range may hold entries).
 * Returns 0 or a negative errno (-ENOSPC, -EDQUOT, -EIO). */
static int gs__alloc(gs_index *ix, size_t upto)
{
    if (upto <= ix->alloc_len)
        return 0;
    size_t end = (upto + GS_INDEX_ALLOC_CHUNK - 1) / GS_INDEX_ALLOC_CHUNK * GS_INDEX_ALLOC_CHUNK;
    if (end > ix->map_len)
        end = ix->map_len;
    if (upto > end)
        return -EFBIG;
    bool temp;
    int fd = gs__fd(ix, &temp);
    if (fd < 0)
        return -errno;
    int rc = gs__alloc_range(fd, ix->alloc_len, end);
    if (temp)
        close(fd);
    if (rc == 0)
        ix->alloc_len = end;
    return rc;
}

static int gs__alloc_range(int fd, size_t from, size_t end)
{
    int rc;
#ifdef __linux__
    do
        rc = fallocate(fd, 0, (off_t)from, (off_t)(end - from));
    while (rc < 0 && errno == EINTR);
#else
    if ((rc = posix_fallocate(fd, (off_t)from, (off_t)(end - from))) != 0) {
        errno = rc;
        rc = -1;
    }
#endif
    if (rc < 0 && errno != EOPNOTSUPP && errno != ENOSYS)
        return -errno;
    if (rc < 0) {
        uint8_t buf[4096];
        for (size_t pos = from; pos < end;) {
            size_t n = end - pos < sizeof buf ? end - pos : sizeof buf;
            ssize_t r = pread(fd, buf, n, (off_t)pos); /* a hole reads as zeros */
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return r < 0 ? -errno : -EIO;
            n = (size_t)r;
            ssize_t w = pwrite(fd, buf, n, (off_t)pos);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return w < 0 ? -errno : -EIO;
            pos += (size_t)w;
        }
    }
    return 0;
}

/* Write an entry at `pos`, its blocks reserved (gs__alloc). A store into
 * the map costs nothing; on a copy-on-write filesystem, where even a
 * reserved block may need a new one, pwrite instead (a syscall per entry,
 * an error instead of a SIGBUS), which the shared map sees at once. */
static int gs__put(gs_index *ix, size_t pos, const uint8_t *entry, size_t len)
{
    if (ix->store_in_map) {
        memcpy(ix->map + pos, entry, len);
        return 0;
    }
    bool temp;
    int fd = gs__fd(ix, &temp);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = pwrite(fd, entry, len, (off_t)pos);
    while (n < 0 && errno == EINTR);
    int e = errno;
    if (temp)
        close(fd);
    errno = e;
    if (n != (ssize_t)len)
        return n < 0 ? -errno : -EIO; /* not counted: bytes past the entries are never read */
    return 0;
}

int gs_index_reserve(gs_index *ix, size_t more)
{
    if (!ix->writable)
        return 0;
    size_t upto = (ix->entries + more) * (size_t)ix->kind;
    return gs__alloc(ix, upto < ix->map_len ? upto : ix->map_len);
}

void gs_index_close(gs_index *ix)
{
    if (ix->map)
        munmap(ix->map, ix->map_len);
    if (ix->fd >= 0)
        close(ix->fd);
    free(ix->path);
    ix->map = NULL;
    ix->path = NULL;
    ix->fd = -1;
}

bool gs_index_full(const gs_index *ix)
{
    /* A time index keeps its last slot for the entry that closes it
     * (gs_time_index_close), as Kafka's TimeIndex.isFull does. */
    size_t reserve = ix->kind == GS_INDEX_TIME ? 1 : 0;
    return (ix->entries + 1 + reserve) * (size_t)ix->kind > ix->map_len;
}

bool gs_index_sane(const gs_index *ix, int64_t next_offset, int64_t log_size)
{
    if (ix->ragged)
        return false;
    if (ix->entries == 0)
        return true;
    int64_t k, v, pk = 0, pv = 0;
    gs__entry(ix, ix->entries - 1, &k, &v);
    bool prev = ix->entries >= 2;
    if (prev)
        gs__entry(ix, ix->entries - 2, &pk, &pv);
    if (ix->kind == GS_INDEX_OFFSET)
        return k >= ix->base_offset && (next_offset < 0 || k < next_offset) && v < log_size &&
               (!prev || (pk < k && pv < v));
    int64_t fk, fv;
    gs__entry(ix, 0, &fk, &fv);
    return v >= ix->base_offset && (next_offset < 0 || v < next_offset) && k >= fk && (!prev || (pk < k && pv <= v));
}

bool gs_index_last(const gs_index *ix, int64_t *key, int64_t *value)
{
    if (ix->entries == 0)
        return false;
    gs__entry(ix, ix->entries - 1, key, value);
    return true;
}

int gs_offset_index_append(gs_index *ix, int64_t offset, uint32_t position)
{
    int64_t rel = offset - ix->base_offset;
    if (rel < 0 || rel > INT32_MAX || position > INT32_MAX)
        return -EINVAL;
    int64_t k, v;
    if (gs_index_last(ix, &k, &v) && (offset <= k || position <= (uint32_t)v))
        return -EINVAL;
    if (!ix->writable || gs_index_full(ix))
        return -EFBIG;
    int rc = gs__alloc(ix, (ix->entries + 1) * GS_INDEX_OFFSET);
    if (rc < 0)
        return rc;
    uint8_t e[GS_INDEX_OFFSET];
    gu_put_be32(e, (uint32_t)rel);
    gu_put_be32(e + 4, position);
    if ((rc = gs__put(ix, ix->entries * GS_INDEX_OFFSET, e, sizeof e)) < 0)
        return rc;
    ix->entries++;
    return 0;
}

int gs_time_index_append(gs_index *ix, int64_t timestamp, int64_t offset)
{
    int64_t rel = offset - ix->base_offset;
    if (rel < 0 || rel > INT32_MAX)
        return -EINVAL;
    int64_t k, v;
    if (gs_index_last(ix, &k, &v) && (timestamp <= k || offset < v))
        return -EINVAL;
    if (!ix->writable || gs_index_full(ix))
        return -EFBIG;
    /* The entry and the slot kept for the closing one (not full: it fits). */
    int rc = gs__alloc(ix, (ix->entries + 2) * GS_INDEX_TIME);
    if (rc < 0)
        return rc;
    uint8_t e[GS_INDEX_TIME];
    gu_put_be64(e, (uint64_t)timestamp);
    gu_put_be32(e + 8, (uint32_t)rel);
    if ((rc = gs__put(ix, ix->entries * GS_INDEX_TIME, e, sizeof e)) < 0)
        return rc;
    ix->entries++;
    return 0;
}

int gs_time_index_close(gs_index *ix, int64_t max_timestamp, int64_t offset)
{
    int64_t k, v;
    if (gs_index_last(ix, &k, &v) ? max_timestamp <= k : max_timestamp < 0)
        return 0;
    int64_t rel = offset - ix->base_offset;
    if (rel < 0 || rel > INT32_MAX || (gs_index_last(ix, &k, &v) && offset < v))
        return -EINVAL;
    if (!ix->writable || (ix->entries + 1) * GS_INDEX_TIME > ix->map_len)
        return -EFBIG;
    int rc = gs__alloc(ix, (ix->entries + 1) * GS_INDEX_TIME);
    if (rc < 0)
        return rc;
    uint8_t e[GS_INDEX_TIME];
    gu_put_be64(e, (uint64_t)max_timestamp);
    gu_put_be32(e + 8, (uint32_t)rel);
    if ((rc = gs__put(ix, ix->entries * GS_INDEX_TIME, e, sizeof e)) < 0)
        return rc;
    ix->entries++;
    return 0;
}

/* Index of the last entry whose key is <= target, or -1. */
static ptrdiff_t gs__floor(const gs_index *ix, int64_t target)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)ix->entries - 1, found = -1;
    while (lo <= hi) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        int64_t k, v;
        gs__entry(ix, (size_t)mid, &k, &v);
        if (k <= target) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

void gs_offset_index_lookup(const gs_index *ix, int64_t target, int64_t *offset, uint32_t *position)
{
    ptrdiff_t i = gs__floor(ix, target);
    if (i < 0) {
        *offset = ix->base_offset;
        *position = 0;
        return;
    }
    int64_t k, v;
    gs__entry(ix, (size_t)i, &k, &v);
    *offset = k;
    *position = (uint32_t)v;
}

bool gs_time_index_lookup(const gs_index *ix, int64_t target, int64_t *timestamp, int64_t *offset)
{
    ptrdiff_t i = gs__floor(ix, target);
    if (i < 0)
        return false;
    gs__entry(ix, (size_t)i, timestamp, offset);
    return true;
}

void gs_index_reset(gs_index *ix)
{
    /* Only the count matters: entries past it are never read, are
     * overwritten by the rebuild, and are cut off when the index is trimmed.
     * (Zeroing a 10 MiB preallocated map would dirty every page of it.) */
    ix->entries = 0;
}

void gs_index_truncate_offset(gs_index *ix, int64_t offset)
{
    while (ix->entries > 0) {
        int64_t k, v;
        gs__entry(ix, ix->entries - 1, &k, &v);
        int64_t entry_offset = ix->kind == GS_INDEX_OFFSET ? k : v;
        if (entry_offset < offset)
            break;
        ix->entries--;
    }
}

int gs_index_trim(gs_index *ix)
{
    size_t len = ix->entries * (size_t)ix->kind;
    if (ix->map) {
        munmap(ix->map, ix->map_len);
        ix->map = NULL;
    }
    if (ftruncate(ix->fd, (off_t)len) < 0)
        return -errno;
    ix->map_len = len;
    if (ix->alloc_len > len)
        ix->alloc_len = len;
    ix->writable = false;
    if (len > 0) {
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, ix->fd, 0);
        if (m == MAP_FAILED)
            return -errno;
        (void)madvise(m, len, MADV_RANDOM);
        ix->map = m;
    }
    return 0;
}

int gs_index_flush(gs_index *ix)
{
    if (ix->fd >= 0 && fdatasync(ix->fd) < 0)
        return -errno;
    return 0;
}
