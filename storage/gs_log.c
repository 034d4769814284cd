#include "storage/gs_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "protocol/gp_batch.h"
#include "storage/gs_cleaner.h"
#include "storage/gs_meta.h"

struct gs_log {
    char *dir;
    gs_log_config cfg;
    gs_segment **segs; /* by base offset; the last is the active segment */
    size_t nsegs, cap;
    int64_t start_offset;
    int64_t end_offset;
    gs_log_roll_hook roll_hook;
    void *roll_arg;
    int64_t wb_base, wb_pos; /* gs_log_start_writeback's progress in the segment at wb_base */
    bool cleaning; /* a cleaning plan holds segments: retention waits (gs_log_clean_prepare) */
};

static void gs__path(const gs_log *log, int64_t base, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%020" PRId64 ".%s", log->dir, base, ext);
}

static gs_segment *gs__active(const gs_log *log)
{
    return log->segs[log->nsegs - 1];
}

/* ---- the cache of open segments ------------------------------------------------ */

/*
 * Every closed segment whose .log is open is in one process-wide list, most
 * recently used first; beyond `max` of them the least recently used that no
 * slice pins give up their descriptors and index mappings
 * (gs__segment_drop_files). The active segments are not in it: each holds
 * its .log open for appends. So a broker's descriptors are one per
 * partition plus at most `max` (plus the pinned ones a fetch, a flush or a
 * cleaning holds for a moment), and its mappings two per partition plus
 * two per cached segment, whatever the number of segments. Loop thread
 * only: other threads use a segment's fd only through a pinned slice.
 */
static struct {
    gs_segment *head, *tail;
    size_t open; /* segments in the list */
    size_t max;
} gs__cache = {NULL, NULL, 0, 1024};

static void gs__lru_unlink(gs_segment *seg)
{
    if (seg->lru_prev)
        seg->lru_prev->lru_next = seg->lru_next;
    else
        gs__cache.head = seg->lru_next;
    if (seg->lru_next)
        seg->lru_next->lru_prev = seg->lru_prev;
    else
        gs__cache.tail = seg->lru_prev;
    seg->lru_prev = seg->lru_next = NULL;
    seg->in_lru = false;
    gs__cache.open--;
}

static void gs__lru_push(gs_segment *seg)
{
    seg->lru_prev = NULL;
    seg->lru_next = gs__cache.head;
    if (gs__cache.head)
        gs__cache.head->lru_prev = seg;
    else
        gs__cache.tail = seg;
    gs__cache.head = seg;
    seg->in_lru = true;
    gs__cache.open++;
}

/* An index's fd is needed only to map the file (and to trim it, which
 * reopens it): closed once mapped, the mapping stays valid. */
static void gs__index_drop_fd(gs_index *ix)
{
    if (ix->writable && !ix->store_in_map)
        return; /* a copy-on-write filesystem: every entry is a pwrite */
    if (ix->fd >= 0)
        close(ix->fd);
    ix->fd = -1;
}

/* A segment gives up its descriptors and index mappings (leaving the
 * cache, or freed). Its in-memory state (sizes, offsets, aborted
 * transactions) stays. */
static void gs__segment_drop_files(gs_segment *seg)
{
    if (seg->in_lru)
        gs__lru_unlink(seg);
    gs_index_close(&seg->index);
    gs_index_close(&seg->timeindex);
    if (seg->txnindex.fd >= 0) {
        close(seg->txnindex.fd);
        seg->txnindex.fd = -1;
    }
    if (seg->fd >= 0)
        close(seg->fd);
    seg->fd = -1;
}

/* Shrink the cache to its bound, keeping `keep` (just opened). */
static void gs__evict(const gs_segment *keep)
{
    for (gs_segment *seg = gs__cache.tail, *prev; seg && gs__cache.open > gs__cache.max; seg = prev) {
        prev = seg->lru_prev;
        if (seg->pins == 0 && seg != keep)
            gs__segment_drop_files(seg);
    }
}

/* open(2) that, out of descriptors, first closes every cached segment no
 * slice pins and tries once more: a read or a roll does not fail while the
 * cache holds descriptors it could give back. */
static int gs__open(const char *path, int flags, mode_t mode)
{
    int fd = open(path, flags, mode);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && gs__cache.open > 0) {
        size_t max = gs__cache.max;
        gs__cache.max = 0;
        gs__evict(NULL);
        gs__cache.max = max;
        fd = open(path, flags, mode);
    }
    return fd;
}

void gs_log_set_open_files_max(size_t max)
{
    gs__cache.max = max > 0 ? max : 1;
    gs__evict(NULL);
}

size_t gs_log_open_files(void)
{
    return gs__cache.open;
}

static void gs__seg_path(const gs_segment *seg, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%020" PRId64 ".%s", seg->dir, seg->base_offset, ext);
}

static void gs__segment_unref(gs_segment *seg)
{
    if (--seg->refs > 0)
        return;
    gs__segment_drop_files(seg);
    gs_txnindex_close(&seg->txnindex);
    free(seg->dir);
    free(seg);
}

static int gs__segment_open_indexes(gs_log *log, gs_segment *seg, bool writable)
{
    char path[PATH_MAX];
    size_t ixmax = (size_t)log->cfg.segment_index_bytes;
    gs_index_close(&seg->index);
    gs_index_close(&seg->timeindex);
    gs__path(log, seg->base_offset, "index", path, sizeof path);
    int rc = gs_index_open(&seg->index, path, GS_INDEX_OFFSET, seg->base_offset, ixmax, writable);
    if (rc < 0)
        return rc;
    gs__index_drop_fd(&seg->index);
    gs__path(log, seg->base_offset, "timeindex", path, sizeof path);
    rc = gs_index_open(&seg->timeindex, path, GS_INDEX_TIME, seg->base_offset, ixmax, writable);
    gs__index_drop_fd(&seg->timeindex);
    return rc;
}

/* Make a segment resident: its .log open and its indexes mapped (reopened
 * if the cache had dropped them), and most recently used. A deleted
 * segment that is not resident stays so (-ENOENT). */
static int gs__resident(gs_segment *seg)
{
    if (seg->fd >= 0) {
        if (seg->in_lru && gs__cache.head != seg) {
            gs__lru_unlink(seg);
            gs__lru_push(seg);
        }
        return 0;
    }
    if (seg->deleted)
        return -ENOENT;
    char path[PATH_MAX];
    gs__seg_path(seg, "log", path, sizeof path);
    int fd = gs__open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    gs__seg_path(seg, "index", path, sizeof path);
    int rc = gs_index_open(&seg->index, path, GS_INDEX_OFFSET, seg->base_offset, 0, false);
    gs__index_drop_fd(&seg->index);
    if (rc == 0) {
        gs__seg_path(seg, "timeindex", path, sizeof path);
        rc = gs_index_open(&seg->timeindex, path, GS_INDEX_TIME, seg->base_offset, 0, false);
        gs__index_drop_fd(&seg->timeindex);
    }
    if (rc < 0) {
        gs_index_close(&seg->index);
        gs_index_close(&seg->timeindex);
        close(fd);
        return rc;
    }
    if (seg->txnindex.n > 0 && seg->txnindex.path && seg->txnindex.fd < 0)
        seg->txnindex.fd = open(seg->txnindex.path, O_RDWR | O_CLOEXEC); /* -1: appends reopen it */
    seg->fd = fd;
    if (!seg->active) {
        gs__lru_push(seg);
        gs__evict(seg);
    }
    return 0;
}

/* Pin a resident segment for a slice: its fd, or a negative errno. */
static int gs__pin(gs_segment *seg)
{
    int rc = gs__resident(seg);
    if (rc < 0)
        return rc;
    seg->refs++;
    seg->pins++;
    return seg->fd;
}

/* A segment becomes the active one (created, or left last by recovery). */
static void gs__make_active(gs_segment *seg)
{
    if (seg->in_lru)
        gs__lru_unlink(seg);
    seg->active = true;
}

/* The active segment is closed by a roll: into the cache. */
static void gs__make_closed(gs_segment *seg)
{
    seg->active = false;
    if (seg->fd >= 0 && !seg->in_lru) {
        gs__lru_push(seg);
        gs__evict(seg);
    }
}

/* gs_index_trim with the fd it needs, reopened for the moment. */
static int gs__index_trim(gs_segment *seg, gs_index *ix, const char *ext)
{
    char path[PATH_MAX];
    int rc;
    if (ix->fd < 0) { /* closed once mapped (a copy-on-write filesystem keeps it) */
        gs__seg_path(seg, ext, path, sizeof path);
        int fd = gs__open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        ix->fd = fd;
    }
    rc = gs_index_trim(ix);
    gs__index_drop_fd(ix);
    return rc;
}

/* Open a segment's three files; `active` maps the indexes writable and
 * preallocated. */
static int gs__segment_open(gs_log *log, int64_t base, bool active, bool create, gs_segment **out)
{
    char path[PATH_MAX];
    gs_segment *seg = gu_calloc(1, sizeof *seg);
    seg->base_offset = base;
    seg->next_offset = base;
    seg->max_timestamp = -1;
    seg->max_timestamp_offset = -1;
    seg->refs = 1;
    seg->index.fd = seg->timeindex.fd = seg->txnindex.fd = -1;
    seg->dir = gu_strdup(log->dir);
    seg->active = active;
    gs__path(log, base, "log", path, sizeof path);
    seg->fd = gs__open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    int rc;
    if (seg->fd < 0) {
        rc = -errno;
        goto fail;
    }
    struct stat st;
    if (fstat(seg->fd, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    seg->size = st.st_size;
    seg->created_ms = create ? gu_wall_ms() : (int64_t)st.st_mtim.tv_sec * 1000;
    if ((rc = gs__segment_open_indexes(log, seg, active)) == -ENOENT && !active) {
        /* A closed segment without its index files: rebuild them. */
        seg->needs_rebuild = true;
        rc = gs__segment_open_indexes(log, seg, true);
    }
    if (rc < 0)
        goto fail;
    gs__path(log, base, "txnindex", path, sizeof path);
    if (create)
        unlink(path); /* a stale file of a segment that was cut away */
    if ((rc = gs_txnindex_open(&seg->txnindex, path)) < 0)
        goto fail;
    if (!active) {
        gs__lru_push(seg);
        gs__evict(seg);
    }
    *out = seg;
    return 0;
fail:
    seg->refs = 1;
    gs__segment_unref(seg);
    return rc;
}

static void gs__segs_push(gs_log *log, gs_segment *seg)
{
    if (log->nsegs == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 8;
        log->segs = gu_realloc(log->segs, log->cap * sizeof *log->segs);
    }
    log->segs[log->nsegs++] = seg;
}

static int gs__read_header(const gs_segment *seg, int64_t pos, gp_batch_header *h)
{
    uint8_t buf[GP_BATCH_HEADER_SIZE];
    ssize_t n = pread(seg->fd, buf, sizeof buf, pos);
    if (n < 0)
        return -errno;
    if ((size_t)n < GP_BATCH_LOG_OVERHEAD + 5)
        return -EIO;
    if (gp_batch_header_parse(buf, (size_t)n, h) < 0) {
        /* A header cut short: only offset and length were readable. */
        return -EIO;
    }
    return 0;
}

/* Note a batch at `pos` (already in the file) in the segment's indexes and
 * bookkeeping. Returns false when an index entry was due but had no disk
 * space (the batch is in the log all the same). */
static bool gs__segment_account(gs_log *log, gs_segment *seg, const gp_batch_header *h, int64_t pos)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    int64_t bytes = GP_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length;
    if (h->max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = h->max_timestamp;
        seg->max_timestamp_offset = last;
    }
    /* Both entries or neither: their blocks are reserved first. Without
     * disk space the batch goes unindexed (the index is sparse anyway) and
     * the next batch tries again; the two indexes stay in step, so a tail
     * scan from the last offset entry still finds the max timestamp. */
    bool indexed = true;
    if (seg->bytes_since_index > log->cfg.index_interval_bytes &&
        (indexed = gs_index_reserve(&seg->index, 1) == 0 && gs_index_reserve(&seg->timeindex, 2) == 0)) {
        if (seg->index.writable)
            (void)gs_offset_index_append(&seg->index, last, (uint32_t)pos);
        int64_t lts, loff;
        if (seg->timeindex.writable && (!gs_index_last(&seg->timeindex, &lts, &loff) || seg->max_timestamp > lts))
            (void)gs_time_index_append(&seg->timeindex, seg->max_timestamp, seg->max_timestamp_offset);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += bytes;
    seg->next_offset = last + 1;
    return indexed;
}

/* The batch header at pos: its size in the file if it is a v2 batch that
 * lies within the segment and follows what came before, else -1. */
static int64_t gs__batch_fits(const gs_segment *seg, int64_t pos, const gp_batch_header *h)
{
    int64_t bytes = GP_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length;
    if (h->batch_length < GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD || bytes > seg->size - pos ||
        h->magic != GP_BATCH_MAGIC || h->base_offset < seg->next_offset || h->last_offset_delta < 0)
        return -1;
    return bytes;
}

/* Check every batch of a segment from the start, rebuilding its indexes;
 * cut the file at the first bad byte. Returns the bytes cut (>= 0) or a
 * negative errno; *partial when the disk had no room for some index
 * entries (the segment works with a sparser index). */
static int64_t gs__segment_recover(gs_log *log, gs_segment *seg, bool *cut, bool *partial)
{
    *cut = false;
    *partial = false;
    gs_index_reset(&seg->index);
    gs_index_reset(&seg->timeindex);
    seg->bytes_since_index = 0;
    seg->next_offset = seg->base_offset;
    seg->max_timestamp = seg->max_timestamp_offset = -1;
    int64_t pos = 0;
    uint8_t *buf = NULL;
    size_t bufcap = 0;
    while (pos < seg->size) {
        gp_batch_header h;
        if (seg->size - pos < GP_BATCH_HEADER_SIZE || gs__read_header(seg, pos, &h) < 0)
            break;
        int64_t bytes = gs__batch_fits(seg, pos, &h);
        if (bytes < 0)
            break;
        if ((size_t)bytes > bufcap) {
            bufcap = (size_t)bytes;
            free(buf);
            buf = gu_malloc(bufcap);
        }
        if (pread(seg->fd, buf, (size_t)bytes, pos) != bytes)
            break;
        if (gp_batch_crc(buf, (size_t)bytes) != h.crc)
            break;
        if (!gs__segment_account(log, seg, &h, pos))
            *partial = true;
        pos += bytes;
    }
    free(buf);
    /* As Kafka's recovery: the closing time-index entry, as after a roll. */
    if (seg->timeindex.writable)
        (void)gs_time_index_close(&seg->timeindex, seg->max_timestamp, seg->max_timestamp_offset);
    int64_t cut_bytes = seg->size - pos;
    if (cut_bytes > 0) {
        if (ftruncate(seg->fd, pos) < 0)
            return -errno;
        seg->size = pos;
        *cut = true;
    }
    return cut_bytes;
}

/* For a trusted segment: its next offset and max timestamp from the last
 * index entries plus the batches after them (a short scan). */
static int gs__segment_load_tail(gs_log *log, gs_segment *seg)
{
    (void)log;
    int64_t key, value, pos = 0;
    if (gs_index_last(&seg->index, &key, &value))
        pos = value;
    if (gs_index_last(&seg->timeindex, &key, &value)) {
        seg->max_timestamp = key;
        seg->max_timestamp_offset = value;
    }
    while (pos < seg->size) {
        gp_batch_header h;
        int rc = gs__read_header(seg, pos, &h);
        if (rc < 0)
            return rc;
        int64_t bytes = gs__batch_fits(seg, pos, &h);
        if (bytes < 0)
            return -EINVAL; /* the index pointed into the middle of a batch */
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = h.max_timestamp;
            seg->max_timestamp_offset = last;
        }
        seg->next_offset = last + 1;
        pos += bytes;
    }
    return 0;
}

/* A trusted segment: its indexes pass Kafka's sanity checks (and ours: the
 * tail scan from the last entry ends inside [base, limit]). False when the
 * segment must be recovered instead. */
static bool gs__segment_trusted_load(gs_log *log, gs_segment *seg, int64_t limit)
{
    if (!gs_index_sane(&seg->index, -1, seg->size) || !gs_index_sane(&seg->timeindex, -1, seg->size))
        return false;
    if (gs__segment_load_tail(log, seg) < 0)
        return false;
    return seg->next_offset >= seg->base_offset && seg->next_offset <= limit &&
           gs_index_sane(&seg->index, seg->next_offset, seg->size) &&
           gs_index_sane(&seg->timeindex, seg->next_offset, seg->size);
}

static int gs__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void gs__segment_remove_files(gs_log *log, gs_segment *seg)
{
    char path[PATH_MAX];
    static const char *const exts[] = {"log", "index", "timeindex", "txnindex"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        gs__path(log, seg->base_offset, exts[i], path, sizeof path);
        unlink(path);
    }
    seg->deleted = true;
    if (seg->pins == 0)
        gs__segment_drop_files(seg); /* nobody reads it any more */
}

/* ---- an interrupted cleaning (storage/gs_cleaner.h) ----------------------------------- */

/* A segment's files, in the order a swap renames them: the .log last, the
 * commit point. */
static const char *const gs__seg_exts[] = {"index", "timeindex", "txnindex", "log"};
#define GS__NSEG_EXTS 4

static bool gs__has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A segment file name "<20 digits>.<ext><suffix>": its base and its ext. */
static bool gs__parse_seg_name(const char *s, const char *suffix, int64_t *base, const char **ext)
{
    if (strspn(s, "0123456789") != 20 || s[20] != '.' || !gs__has_suffix(s, suffix))
        return false;
    size_t extlen = strlen(s) - 21 - strlen(suffix);
    for (int k = 0; k < GS__NSEG_EXTS; k++)
        if (strlen(gs__seg_exts[k]) == extlen && strncmp(s + 21, gs__seg_exts[k], extlen) == 0) {
            *base = strtoll(s, NULL, 10);
            *ext = gs__seg_exts[k];
            return true;
        }
    return false;
}

/* Startup: delete .cleaned and .deleted files, complete every swap that
 * reached its commit point (<base>.log.swap), drop index .swap files
 * without one. The bases of the completed swaps, whose indexes must be
 * rebuilt, go to *bases (malloc'd, *n of them). 0 or a negative errno. */
static int gs__finish_cleanings(const char *dir, int64_t **bases, size_t *n)
{
    *bases = NULL;
    *n = 0;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return errno == ENOENT ? 0 : -errno;
    DIR *d = fdopendir(dup(dirfd));
    if (!d) {
        int rc = -errno;
        close(dirfd);
        return rc;
    }
    size_t cap = 0;
    int64_t base;
    const char *ext;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *s = de->d_name;
        if (gs__has_suffix(s, ".cleaned") || gs__has_suffix(s, ".deleted"))
            (void)unlinkat(dirfd, s, 0);
        else if (gs__parse_seg_name(s, ".swap", &base, &ext) && strcmp(ext, "log") == 0) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                *bases = gu_realloc(*bases, cap * sizeof **bases);
            }
            (*bases)[(*n)++] = base;
        }
    }
    /* Index .swap files: completed with their .log.swap, else dropped (a
     * cleaning that had not committed). */
    rewinddir(d);
    int rc = 0;
    while ((de = readdir(d))) {
        const char *s = de->d_name;
        if (!gs__parse_seg_name(s, ".swap", &base, &ext) || strcmp(ext, "log") == 0)
            continue;
        bool committed = false;
        for (size_t i = 0; i < *n; i++)
            committed |= (*bases)[i] == base;
        char to[64];
        snprintf(to, sizeof to, "%020" PRId64 ".%s", base, ext);
        if (!committed)
            (void)unlinkat(dirfd, s, 0);
        else if (renameat(dirfd, s, dirfd, to) < 0 && rc == 0)
            rc = -errno;
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        char from[64], to[64];
        snprintf(from, sizeof from, "%020" PRId64 ".log.swap", (*bases)[i]);
        snprintf(to, sizeof to, "%020" PRId64 ".log", (*bases)[i]);
        if (renameat(dirfd, from, dirfd, to) < 0)
            rc = -errno;
    }
    close(dirfd);
    return rc;
}

int gs_log_open(const char *dir, const gs_log_config *cfg, int64_t recovery_point, int64_t log_start_offset, bool clean,
                gs_log **out, gs_log_recovery *rec, char *err, size_t errlen)
{
    memset(rec, 0, sizeof *rec);
    rec->truncated_at_offset = -1;
    int rc = gs_mkdirs(dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    /* A cleaning a crash interrupted (gs__finish_cleanings): .cleaned files
     * go, committed .swap files take their segment's place and that
     * segment is recovered below whatever the recovery point says. */
    int64_t *swapped = NULL;
    size_t nswapped = 0;
    if ((rc = gs__finish_cleanings(dir, &swapped, &nswapped)) < 0) {
        snprintf(err, errlen, "cannot finish an interrupted cleaning in %s: %s", dir, strerror(-rc));
        free(swapped);
        return rc;
    }
    gs_log *log = gu_calloc(1, sizeof *log);
    log->dir = gu_strdup(dir);
    log->cfg = *cfg;
    rec->cleanings_completed = (int)nswapped;

    /* The segments: every NNNNNNNNNNNNNNNNNNNN.log. */
    DIR *d = opendir(dir);
    if (!d) {
        rc = -errno;
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        free(log->dir);
        free(log);
        free(swapped);
        return rc;
    }
    int64_t *bases = NULL;
    size_t nb = 0, cb = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n != 24 || strcmp(de->d_name + 20, ".log") != 0 || strspn(de->d_name, "0123456789") != 20)
            continue;
        if (nb == cb) {
            cb = cb ? cb * 2 : 16;
            bases = gu_realloc(bases, cb * sizeof *bases);
        }
        bases[nb++] = strtoll(de->d_name, NULL, 10);
    }
    closedir(d);
    if (nb > 1)
        qsort(bases, nb, sizeof *bases, gs__cmp_i64);

    for (size_t i = 0; i < nb; i++) {
        gs_segment *seg;
        if ((rc = gs__segment_open(log, bases[i], i + 1 == nb, false, &seg)) < 0) {
            snprintf(err, errlen, "cannot open segment %020" PRId64 " in %s: %s", bases[i], dir, strerror(-rc));
            goto fail;
        }
        gs__segs_push(log, seg);
    }
    free(bases);
    bases = NULL;
    rec->segments = (int)log->nsegs;

    /* Recovery: segments below the recovery point are trusted (their
     * tail is read for the next offset); the others are checked batch by
     * batch with their indexes rebuilt, and the log is cut at the first bad
     * byte. A closed segment's rebuilt indexes are trimmed again. */
    for (size_t i = 0; i < log->nsegs; i++) {
        gs_segment *seg = log->segs[i];
        bool active = i + 1 == log->nsegs;
        if ((rc = gs__resident(seg)) < 0) {
            snprintf(err, errlen, "cannot open segment %020" PRId64 " in %s: %s", seg->base_offset, dir, strerror(-rc));
            goto fail;
        }
        bool trusted = clean || (!active && log->segs[i + 1]->base_offset <= recovery_point);
        for (size_t k = 0; k < nswapped; k++)
            if (swapped[k] == seg->base_offset)
                trusted = false;
        if (trusted && !seg->needs_rebuild) {
            if (gs__segment_trusted_load(log, seg, active ? INT64_MAX : log->segs[i + 1]->base_offset))
                continue;
            rec->indexes_corrupt++; /* recovered below, as Kafka does */
        }
        bool cut = false, partial = false;
        int64_t cutb;
        if ((!seg->index.writable && (rc = gs__segment_open_indexes(log, seg, true)) < 0) ||
            (cutb = gs__segment_recover(log, seg, &cut, &partial)) < 0) {
            rc = rc < 0 ? rc : (int)cutb;
            snprintf(err, errlen, "cannot recover segment %020" PRId64 " in %s: %s", seg->base_offset, dir,
                     strerror(-rc));
            goto fail;
        }
        rec->indexes_rebuilt++;
        if (partial)
            rec->indexes_partial++;
        /* A completed swap of a group (gs_cleaner.h): the old segments
         * whose offsets it covers go. */
        for (size_t k = 0; !trusted && k < nswapped; k++)
            while (swapped[k] == seg->base_offset && i + 2 < log->nsegs &&
                   log->segs[i + 1]->base_offset < seg->next_offset) {
                gs_segment *old = log->segs[i + 1];
                memmove(&log->segs[i + 1], &log->segs[i + 2], (log->nsegs - i - 2) * sizeof *log->segs);
                log->nsegs--;
                gs__segment_remove_files(log, old);
                gs__segment_unref(old);
            }
        if (cut) {
            /* Everything after a cut is gone: later segments cannot follow a hole. */
            rec->truncated_bytes += cutb;
            rec->truncated_at_offset = seg->next_offset;
            (void)gs_txnindex_truncate(&seg->txnindex, seg->next_offset);
            while (log->nsegs > i + 1) {
                gs_segment *later = log->segs[--log->nsegs];
                rec->truncated_bytes += later->size;
                rec->segments_removed++;
                gs__segment_remove_files(log, later);
                gs__segment_unref(later);
            }
            break; /* seg is the active segment now, its indexes writable */
        }
        if (!active && ((rc = gs__index_trim(seg, &seg->index, "index")) < 0 ||
                        (rc = gs__index_trim(seg, &seg->timeindex, "timeindex")) < 0)) {
            snprintf(err, errlen, "cannot write the indexes of segment %020" PRId64 " in %s: %s", seg->base_offset, dir,
                     strerror(-rc));
            goto fail;
        }
    }

    if (log->nsegs == 0) {
        gs_segment *seg;
        int64_t base = log_start_offset > 0 ? log_start_offset : 0;
        if ((rc = gs__segment_open(log, base, true, true, &seg)) < 0) {
            snprintf(err, errlen, "cannot create segment in %s: %s", dir, strerror(-rc));
            goto fail;
        }
        gs__segs_push(log, seg);
    }
    free(swapped);
    swapped = NULL;
    gs__make_active(gs__active(log));
    log->end_offset = gs__active(log)->next_offset;
    log->start_offset = log->segs[0]->base_offset;
    if (log_start_offset > log->start_offset)
        log->start_offset = log_start_offset < log->end_offset ? log_start_offset : log->end_offset;
    *out = log;
    return 0;

fail:
    free(bases);
    free(swapped);
    gs_log_close(log);
    return rc;
}

void gs_log_close(gs_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->nsegs; i++) {
        gs_segment *seg = log->segs[i];
        if (seg->index.writable)
            (void)gs__index_trim(seg, &seg->index, "index");
        if (seg->timeindex.writable) {
            (void)gs_time_index_close(&seg->timeindex, seg->max_timestamp, seg->max_timestamp_offset);
            (void)gs__index_trim(seg, &seg->timeindex, "timeindex");
        }
        seg->active = false;
        gs__segment_unref(seg);
    }
    free(log->segs);
    free(log->dir);
    free(log);
}

/* Free the log; its segments live on while slices still reference them. */
static void gs__log_free(gs_log *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        gs__segment_unref(log->segs[i]);
    log->nsegs = 0;
    free(log->segs);
    free(log->dir);
    free(log);
}

int gs_log_delete(gs_log *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        gs__segment_remove_files(log, log->segs[i]);
    int rc = gs_dir_remove(log->dir);
    gs__log_free(log);
    return rc;
}

int gs_log_detach(gs_log *log, const char *to)
{
    int rc = rename(log->dir, to) < 0 ? -errno : 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        gs_segment *seg = log->segs[i];
        seg->deleted = true;
        seg->active = false;
        if (seg->pins == 0)
            gs__segment_drop_files(seg);
    }
    gs__log_free(log);
    return rc;
}

int gs_dir_remove_except(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    char path[PATH_MAX];
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || (keep && strcmp(de->d_name, keep) == 0))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) < 0 && errno != ENOENT && rc == 0)
            rc = -errno;
    }
    closedir(d);
    return rc;
}

int gs_dir_remove(const char *dir)
{
    (void)gs_dir_remove_except(dir, NULL);
    return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

const char *gs_log_dir(const gs_log *log)
{
    return log->dir;
}

int64_t gs_log_start_offset(const gs_log *log)
{
    return log->start_offset;
}

int64_t gs_log_end_offset(const gs_log *log)
{
    return log->end_offset;
}

int64_t gs_log_size(const gs_log *log)
{
    int64_t n = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}

size_t gs_log_segment_count(const gs_log *log)
{
    return log->nsegs;
}

size_t gs_log_segment_times(const gs_log *log, gs_segment_time *out, size_t max)
{
    for (size_t i = 0; i < log->nsegs && i < max; i++) {
        const gs_segment *seg = log->segs[i];
        struct stat st;
        out[i].base_offset = seg->base_offset > log->start_offset ? seg->base_offset : log->start_offset;
        out[i].size = seg->size;
        char path[PATH_MAX];
        gs__seg_path(seg, "log", path, sizeof path);
        int r = seg->fd >= 0 ? fstat(seg->fd, &st) : stat(path, &st);
        out[i].modified_ms = r == 0 ? (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 : 0;
    }
    return log->nsegs;
}

void gs_log_set_config(gs_log *log, const gs_log_config *cfg)
{
    log->cfg = *cfg;
}

/* Close the active segment (trim its indexes) and start a new one at the
 * log end offset. */
static int gs__roll(gs_log *log)
{
    gs_segment *act = gs__active(log);
    if (act->size == 0)
        return 0;
    int rc;
    /* A full time index (an old file, a tiny segment.index.bytes) goes
     * without the closing entry rather than fail the append. */
    (void)gs_time_index_close(&act->timeindex, act->max_timestamp, act->max_timestamp_offset);
    if ((rc = gs__index_trim(act, &act->index, "index")) < 0 ||
        (rc = gs__index_trim(act, &act->timeindex, "timeindex")) < 0)
        return rc;
    gs_segment *seg;
    if ((rc = gs__segment_open(log, log->end_offset, true, true, &seg)) < 0) {
        /* No half-made segment (O_EXCL would refuse the next try): remove
         * what was created; the old segment stays active, and the next
         * append tries the roll again (its trimmed indexes are full). */
        static const char *const exts[] = {"log", "index", "timeindex"};
        for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
            char path[PATH_MAX];
            gs__path(log, log->end_offset, exts[i], path, sizeof path);
            (void)unlink(path);
        }
        return rc;
    }
    gs__segs_push(log, seg);
    gs__make_closed(act);
    if (log->roll_hook)
        log->roll_hook(log->roll_arg, seg->base_offset);
    return 0;
}

void gs_log_set_roll_hook(gs_log *log, gs_log_roll_hook fn, void *arg)
{
    log->roll_hook = fn;
    log->roll_arg = arg;
}

int gs_log_maybe_roll(gs_log *log, int64_t now_ms)
{
    gs_segment *act = gs__active(log);
    if (act->size > 0 && log->cfg.segment_ms > 0 && now_ms - act->created_ms >= log->cfg.segment_ms)
        return gs__roll(log);
    return 0;
}

int gs_log_append(gs_log *log, uint8_t *data, size_t len, int64_t now_ms, bool log_append_time, int32_t leader_epoch,
                  int64_t *base_offset, int64_t *last_offset)
{
    /* Count the offsets first: a segment may hold at most INT32_MAX of them
     * (relative offsets in the index are int32). */
    int64_t count = 0;
    for (size_t pos = 0; pos < len;) {
        gp_batch_header h;
        if (gp_batch_header_parse(data + pos, len - pos, &h) < 0 || h.batch_length < 0 ||
            (size_t)h.batch_length + GP_BATCH_LOG_OVERHEAD > len - pos)
            return -EINVAL; /* not validated: a broker bug */
        count += (int64_t)h.last_offset_delta + 1;
        pos += GP_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
    }
    gs_segment *act = gs__active(log);
    bool roll = act->size > 0 && (act->size + (int64_t)len > log->cfg.segment_bytes ||
                                  (log->cfg.segment_ms > 0 && now_ms - act->created_ms >= log->cfg.segment_ms) ||
                                  gs_index_full(&act->index) || gs_index_full(&act->timeindex) ||
                                  log->end_offset + count - act->base_offset > INT32_MAX);
    int rc;
    if (roll && (rc = gs__roll(log)) < 0)
        return rc;
    act = gs__active(log);
    if (act->size == 0)
        act->created_ms = now_ms;

    /* Assign offsets in place. */
    int64_t next = log->end_offset;
    for (size_t pos = 0; pos < len;) {
        uint8_t *b = data + pos;
        gp_batch_header h;
        gp_batch_header_parse(b, len - pos, &h);
        size_t bytes = GP_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
        gp_batch_set_base_offset(b, next);
        gp_batch_set_partition_leader_epoch(b, leader_epoch);
        if (log_append_time && gp_batch_set_max_timestamp(b, now_ms, true))
            gp_batch_update_crc(b, bytes);
        next += (int64_t)h.last_offset_delta + 1;
        pos += bytes;
    }

    /* One write; a short or failed write is cut back so that nothing
     * half-written stays in the log. */
    int64_t start = act->size;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(act->fd, data + done, len - done, start + (int64_t)done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            rc = n < 0 ? -errno : -EIO;
            /* ENOSPC partway: cut the part that was written (nothing of it
             * is visible: the segment's size has not moved). */
            while (ftruncate(act->fd, start) < 0 && errno == EINTR) {
            }
            /* Should the cut fail, the file has bytes the log does not
             * account for: the next append writes over them, recovery cuts
             * what is left. */
            return rc;
        }
        done += (size_t)n;
    }
    act->size += (int64_t)len;

    for (size_t pos = 0; pos < len;) {
        gp_batch_header h;
        gp_batch_header_parse(data + pos, len - pos, &h);
        (void)gs__segment_account(log, act, &h, start + (int64_t)pos);
        pos += GP_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
    }
    *base_offset = log->end_offset;
    *last_offset = next - 1;
    log->end_offset = next;
    return 0;
}

/* The segment holding offset (the last whose base offset is <= offset). */
static size_t gs__find_segment(const gs_log *log, int64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

bool gs_log_is_segment_base(const gs_log *log, int64_t offset)
{
    return log->segs[gs__find_segment(log, offset)]->base_offset == offset;
}

int gs_log_read(gs_log *log, int64_t offset, int64_t max_bytes, bool min_one_batch, gs_log_slice *out)
{
    return gs_log_read_bounded(log, offset, INT64_MAX, max_bytes, min_one_batch, out);
}

/* The position of the first batch of seg whose base offset is >= offset,
 * from pos on (seg->size if none). */
static int gs__position_of(const gs_segment *seg, int64_t offset, int64_t pos, int64_t *out)
{
    int64_t ioff;
    uint32_t ipos;
    gs_offset_index_lookup(&seg->index, offset, &ioff, &ipos);
    if ((int64_t)ipos > pos && (int64_t)ipos <= seg->size)
        pos = ipos; /* the entry's batch ends at or below offset */
    while (pos < seg->size) {
        gp_batch_header h;
        int rc = gs__read_header(seg, pos, &h);
        if (rc < 0)
            return rc;
        if (h.base_offset >= offset)
            break;
        pos += GP_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
    }
    *out = pos < seg->size ? pos : seg->size;
    return 0;
}

int gs_log_read_bounded(gs_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes, bool min_one_batch,
                        gs_log_slice *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (offset < log->start_offset || offset > log->end_offset)
        return -ERANGE;
    if (offset == log->end_offset || offset >= max_offset)
        return 0;
    size_t i = gs__find_segment(log, offset);
    while (i < log->nsegs && (log->segs[i]->next_offset <= offset || log->segs[i]->size == 0))
        i++; /* offset in a gap (records removed by compaction), or a segment compaction emptied */
    if (i == log->nsegs)
        return 0;
    gs_segment *seg = log->segs[i];
    int rc = gs__resident(seg);
    if (rc < 0)
        return rc;
    int64_t ioff;
    uint32_t ipos;
    gs_offset_index_lookup(&seg->index, offset, &ioff, &ipos);
    int64_t pos = ipos;
    gp_batch_header h;
    while (pos < seg->size) {
        int rc = gs__read_header(seg, pos, &h);
        if (rc < 0)
            return rc;
        if (h.base_offset + h.last_offset_delta >= offset)
            break;
        pos += GP_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
    }
    if (pos >= seg->size)
        return 0;
    if (h.base_offset >= max_offset)
        return 0; /* offset was in a gap and the next batch is beyond the bound */
    int64_t first = GP_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
    int64_t end = seg->size;
    if (max_offset < seg->next_offset) {
        int rc = gs__position_of(seg, max_offset, pos + first, &end);
        if (rc < 0)
            return rc;
    }
    int64_t len = end - pos;
    if (len > max_bytes)
        len = max_bytes;
    if (len < first && min_one_batch)
        len = first;
    if (len < 0)
        len = 0;
    out->fd = gs__pin(seg); /* resident already: cannot fail */
    out->seg = seg;
    out->pos = pos;
    out->len = len;
    return 0;
}

int gs_log_add_aborted_txn(gs_log *log, const gs_aborted_txn *e)
{
    gs_segment *seg = log->segs[gs__find_segment(log, e->last_offset)];
    (void)gs__resident(seg); /* else the append opens the file itself */
    return gs_txnindex_append(&seg->txnindex, e);
}

int gs_log_truncate_aborted_txns(gs_log *log, int64_t offset)
{
    int rc = 0;
    for (size_t i = gs__find_segment(log, offset); i < log->nsegs; i++) {
        int r = log->segs[i]->txnindex.n > 0 ? gs__resident(log->segs[i]) : 0;
        if (r == 0)
            r = gs_txnindex_truncate(&log->segs[i]->txnindex, offset);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

size_t gs_log_aborted_txns(const gs_log *log, int64_t from, int64_t upper, gs_aborted_txn *out, size_t max)
{
    size_t n = 0;
    for (size_t i = gs__find_segment(log, from); i < log->nsegs; i++) {
        const gs_txnindex *ti = &log->segs[i]->txnindex;
        for (size_t k = 0; k < ti->n; k++) {
            const gs_aborted_txn *e = &ti->e[k];
            if (e->last_offset < from)
                continue;
            if (e->first_offset < upper) {
                if (n < max)
                    out[n] = *e;
                n++;
            }
            if (e->last_offset >= upper)
                return n;
        }
    }
    return n;
}

void gs_log_tail(const gs_log *log, int64_t *seg_base, int64_t *seg_size)
{
    const gs_segment *act = gs__active(log);
    *seg_base = act->base_offset;
    *seg_size = act->size;
}

int64_t gs_log_segment_size(const gs_log *log, int64_t seg_base)
{
    const gs_segment *seg = log->segs[gs__find_segment(log, seg_base)];
    return seg->base_offset == seg_base ? seg->size : -1;
}

int gs_log_segment_slice(gs_log *log, int64_t seg_base, int64_t pos, int64_t len, gs_log_slice *out)
{
    gs_segment *seg = log->segs[gs__find_segment(log, seg_base)];
    if (seg->base_offset != seg_base)
        return -ENOENT;
    if (pos > seg->size)
        pos = seg->size;
    if (len > seg->size - pos)
        len = seg->size - pos;
    int fd = gs__pin(seg);
    if (fd < 0)
        return fd;
    *out = (gs_log_slice){seg, fd, pos, len};
    return 0;
}

void gs_log_slice_release(gs_log_slice *s)
{
    gs_segment *seg = s->seg;
    if (seg && s->fd >= 0 && --seg->pins == 0 && seg->deleted)
        gs__segment_drop_files(seg);
    if (seg) {
        gs__segment_unref(seg);
        gs__evict(NULL); /* back to the bound once pins are gone */
    }
    s->seg = NULL;
    s->fd = -1;
}

int gs_log_slice_copy(const gs_log_slice *s, uint8_t *buf)
{
    int64_t done = 0;
    while (done < s->len) {
        ssize_t n = pread(s->fd, buf + done, (size_t)(s->len - done), s->pos + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* the segment is shorter than the slice: cannot happen while it is referenced */
        done += n;
    }
    return 0;
}

bool gs_log_batch_for_timestamp(gs_log *log, int64_t ts, int64_t *batch_offset, int64_t *batch_max_timestamp,
                                gs_log_slice *batch)
{
    memset(batch, 0, sizeof *batch);
    batch->fd = -1;
    for (size_t i = 0; i < log->nsegs; i++) {
        gs_segment *seg = log->segs[i];
        if (seg->max_timestamp < ts)
            continue;
        if (gs__resident(seg) < 0)
            return false;
        int64_t its, ioff, pos = 0;
        if (gs_time_index_lookup(&seg->timeindex, ts, &its, &ioff)) {
            int64_t o;
            uint32_t p;
            gs_offset_index_lookup(&seg->index, ioff, &o, &p);
            pos = p;
        }
        while (pos < seg->size) {
            gp_batch_header h;
            if (gs__read_header(seg, pos, &h) < 0)
                return false;
            int64_t bytes = GP_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
            if (h.max_timestamp >= ts && h.base_offset + h.last_offset_delta >= log->start_offset) {
                *batch_offset = h.base_offset;
                *batch_max_timestamp = h.max_timestamp;
                batch->fd = gs__pin(seg); /* resident already */
                batch->seg = seg;
                batch->pos = pos;
                batch->len = bytes;
                return true;
            }
            pos += bytes;
        }
    }
    return false;
}

bool gs_log_max_timestamp(const gs_log *log, int64_t *offset, int64_t *timestamp)
{
    bool found = false;
    for (size_t i = 0; i < log->nsegs; i++) {
        const gs_segment *seg = log->segs[i];
        if (seg->max_timestamp_offset >= 0 && (!found || seg->max_timestamp > *timestamp)) {
            *timestamp = seg->max_timestamp;
            *offset = seg->max_timestamp_offset;
            found = true;
        }
    }
    return found;
}

/* Drop the oldest segment (never the only one). */
static void gs__drop_first(gs_log *log)
{
    gs_segment *seg = log->segs[0];
    gs__segment_remove_files(log, seg);
    memmove(log->segs, log->segs + 1, (log->nsegs - 1) * sizeof *log->segs);
    log->nsegs--;
    gs__segment_unref(seg);
    if (log->segs[0]->base_offset > log->start_offset)
        log->start_offset = log->segs[0]->base_offset;
}

int gs_log_retain(gs_log *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes)
{
    int deleted = 0;
    int64_t size = gs_log_size(log);
    if (log->cleaning)
        return 0; /* the next check, once the cleaned segments are in place */
    for (;;) {
        gs_segment *seg = log->segs[0];
        /* A closed segment compaction emptied holds nothing to keep. */
        bool emptied = seg->size == 0 && log->nsegs > 1;
        bool by_time = emptied || (retention_ms >= 0 && seg->size > 0 && seg->max_timestamp >= 0 &&
                                   now_ms - seg->max_timestamp > retention_ms);
        bool by_size = retention_bytes >= 0 && seg->size > 0 && size - seg->size >= retention_bytes;
        if (!by_time && !by_size)
            break;
        if (log->nsegs == 1) {
            /* The active segment itself is due: roll so it can go. */
            int rc = gs__roll(log);
            if (rc < 0)
                return rc;
            if (log->nsegs == 1)
                break;
        }
        size -= seg->size;
        gs__drop_first(log);
        deleted++;
    }
    return deleted;
}

int gs_log_advance_start(gs_log *log, int64_t offset)
{
    if (offset > log->end_offset)
        return -ERANGE;
    if (offset <= log->start_offset)
        return 0;
    log->start_offset = offset;
    while (log->nsegs > 1 && log->segs[1]->base_offset <= offset)
        gs__drop_first(log);
    if (log->nsegs == 1 && offset == log->end_offset && gs__active(log)->size > 0) {
        int rc = gs__roll(log);
        if (rc < 0)
            return rc;
        gs__drop_first(log);
    }
    log->start_offset = offset;
    return 0;
}

void gs_log_start_writeback(gs_log *log)
{
    gs_segment *act = gs__active(log);
    if (log->wb_base != act->base_offset || log->wb_pos > act->size) {
        log->wb_base = act->base_offset;
        log->wb_pos = 0;
    }
    if (act->size <= log->wb_pos)
        return;
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(act->fd, log->wb_pos, act->size - log->wb_pos, SYNC_FILE_RANGE_WRITE);
#endif
    log->wb_pos = act->size;
}

int gs_log_flush(gs_log *log, int64_t *flushed)
{
    /* The log only: indexes are rebuilt from it by recovery. */
    gs_segment *act = gs__active(log);
    if (fdatasync(act->fd) < 0)
        return -errno;
    *flushed = log->end_offset;
    return 0;
}

/* The index of the first segment holding offsets >= from. */
static size_t gs__first_from(const gs_log *log, int64_t from)
{
    return from <= log->segs[0]->base_offset ? 0 : gs__find_segment(log, from);
}

size_t gs_log_segments_from(const gs_log *log, int64_t from)
{
    return log->nsegs - gs__first_from(log, from);
}

/* References to segments [first holding `from`, end), at most max. */
static size_t gs__refs(gs_log *log, int64_t from, size_t end, gs_log_slice *out, size_t max)
{
    size_t n = 0;
    for (size_t i = gs__first_from(log, from); i < end && n < max; i++) {
        gs_segment *seg = log->segs[i];
        int fd = gs__pin(seg);
        if (fd < 0)
            seg->refs++; /* unpinned: syncing it fails (EBADF) */
        out[n++] = (gs_log_slice){seg, fd, 0, seg->size};
    }
    return n;
}

size_t gs_log_sync_refs(gs_log *log, int64_t from, gs_log_slice *out, size_t max)
{
    return gs__refs(log, from, log->nsegs, out, max);
}

size_t gs_log_closed_refs(gs_log *log, int64_t from, gs_log_slice *out, size_t max, int64_t *upto)
{
    *upto = gs__active(log)->base_offset;
    return gs__refs(log, from, log->nsegs - 1, out, max);
}

int gs_log_slice_sync_closed(const gs_log_slice *s)
{
    if (fdatasync(s->fd) < 0)
        return -errno;
    /* The index files hold no descriptor: opened for the sync (a file that
     * is not there, a txnindex never written or a segment deleted
     * meanwhile, has nothing to sync). */
    static const char *const exts[] = {"index", "timeindex", "txnindex"};
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        gs__seg_path(s->seg, exts[i], path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        int rc = fdatasync(fd) < 0 ? -errno : 0;
        close(fd);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- compaction (storage/gs_cleaner.h) ---------------------------------------- */

void gs_log_clean_bounds(const gs_log *log, int64_t first_dirty, int64_t max_end, int64_t now_ms,
                         int64_t min_lag_ms, gs_log_dirt *out)
{
    memset(out, 0, sizeof *out);
    if (first_dirty < log->start_offset || first_dirty > log->end_offset)
        first_dirty = log->start_offset;
    int64_t end = gs__active(log)->base_offset;
    if (max_end < end)
        end = max_end;
    out->first_dirty_time = -1;
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        const gs_segment *seg = log->segs[i];
        int64_t next_base = log->segs[i + 1]->base_offset;
        if (next_base <= first_dirty) {
            out->clean_bytes += seg->size;
            continue;
        }
        if (seg->base_offset >= end)
            break;
        /* min.compaction.lag.ms: a segment with newer records stays dirty. */
        if (min_lag_ms > 0 && seg->max_timestamp > now_ms - min_lag_ms) {
            if (seg->base_offset > first_dirty)
                end = seg->base_offset < end ? seg->base_offset : end;
            else
                end = first_dirty;
            break;
        }
        if (out->first_dirty_time < 0) {
            int64_t t = seg->created_ms;
            if (seg->max_timestamp >= 0 && seg->max_timestamp < t)
                t = seg->max_timestamp;
            out->first_dirty_time = t;
        }
        out->dirty_bytes += seg->size;
    }
    out->first_dirty = first_dirty;
    out->end = end > first_dirty ? end : first_dirty;
    if (out->end == first_dirty)
        out->dirty_bytes = 0;
}

int gs_log_clean_prepare(gs_log *log, int64_t first_dirty, int64_t end, gs_clean_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->dirfd = -1;
    size_t n = 0;
    while (n + 1 < log->nsegs && log->segs[n]->base_offset < end)
        n++;
    if (n == 0 || end <= first_dirty)
        return -ENOENT;
    plan->dirfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (plan->dirfd < 0)
        return -errno;
    /* References without descriptors: the cleaner opens each .log by name
     * when it reads it (a few at a time however many segments the plan
     * has, so a cleaning stays within the open-segment bound). A segment
     * DeleteRecords removes meanwhile fails the run (ENOENT), which the
     * next pass repeats from the new log start. */
    plan->segs = gu_calloc(n, sizeof *plan->segs);
    for (size_t i = 0; i < n; i++) {
        gs_segment *seg = log->segs[i];
        seg->refs++;
        plan->segs[i] = (gs_log_slice){seg, -1, 0, seg->size};
    }
    plan->nsegs = n;
    plan->first_dirty = first_dirty;
    plan->end = end;
    plan->cleaned_to = first_dirty;
    plan->index_interval_bytes = log->cfg.index_interval_bytes;
    log->cleaning = true;
    return 0;
}

/* Test-only fault points (GREGOR_TEST_FAULT, read when a cleaning is
 * swapped in, which is rare): "swap-rename" fails the rename of the
 * .log.swap into place (ENOSPC), "swap-open" the opening of the segment
 * swapped in (EMFILE). tests/unit/test_cleaner.c drives them. */
static bool gs__fault(const char *name)
{
    const char *f = getenv("GREGOR_TEST_FAULT");
    return f && strcmp(f, name) == 0;
}

/* Rename base's segment files from one suffix to another, the .log last. */
static int gs__rename_segment(gs_log *log, int64_t base, const char *from_sfx, const char *to_sfx)
{
    char from[PATH_MAX], to[PATH_MAX];
    for (int k = 0; k < GS__NSEG_EXTS; k++) {
        snprintf(from, sizeof from, "%s/%020" PRId64 ".%s%s", log->dir, base, gs__seg_exts[k], from_sfx);
        snprintf(to, sizeof to, "%s/%020" PRId64 ".%s%s", log->dir, base, gs__seg_exts[k], to_sfx);
        if (k == GS__NSEG_EXTS - 1 && strcmp(from_sfx, ".swap") == 0 && gs__fault("swap-rename"))
            return -ENOSPC;
        if (rename(from, to) < 0 && !(errno == ENOENT && k < GS__NSEG_EXTS - 1))
            return -errno;
    }
    return 0;
}

int gs_log_clean_swap(gs_log *log, gs_clean_plan *plan)
{
    int swapped = 0, rc = 0;
    log->cleaning = false;
    for (size_t g = 0; plan->rc == 0 && plan->out && g < plan->nout; g++) {
        gs_clean_output *o = &plan->out[g];
        if (!o->written)
            continue;
        /* The group's segments, all still in the log, in a row, not the active one. */
        size_t idx = gs__find_segment(log, o->base_offset), k = 0;
        while (k < o->count && idx + k + 1 < log->nsegs && log->segs[idx + k] == plan->segs[o->first + k].seg)
            k++;
        if (k < o->count)
            continue; /* gone meanwhile: gs_clean_plan_free removes the .swap */
        /* Kafka's replaceSegments: the old files to .deleted, the .swap
         * files into place; a crash anywhere in between leaves the
         * .log.swap, which gs_log_open completes (removing the old
         * segments its offsets cover). */
        int r = 0;
        for (k = 0; k < o->count; k++)
            if ((r = gs__rename_segment(log, log->segs[idx + k]->base_offset, "", ".deleted")) < 0)
                break;
        if (r < 0) {
            for (size_t u = 0; u <= k && u < o->count; u++) /* the failed one's first files too */
                (void)gs__rename_segment(log, log->segs[idx + u]->base_offset, ".deleted", "");
            rc = rc ? rc : r;
            continue;
        }
        if ((r = gs__rename_segment(log, o->base_offset, ".swap", "")) < 0) {
            /* Put everything back as it was: the new files that moved to
             * their names go back to .swap, the old ones come back from
             * .deleted (the .log last), and the cleaning is abandoned
             * (gs_clean_plan_free removes the .swap files). If the old
             * files cannot all come back, the .swap files stay, so that
             * the next start completes the swap rather than lose both. */
            (void)gs__rename_segment(log, o->base_offset, "", ".swap");
            bool restored = true;
            for (size_t u = 0; u < o->count; u++)
                if (gs__rename_segment(log, log->segs[idx + u]->base_offset, ".deleted", "") < 0)
                    restored = false;
            if (!restored)
                o->written = false;
            rc = rc ? rc : r;
            continue;
        }
        o->written = false;
        char path[PATH_MAX];
        gs_segment *seg = gu_calloc(1, sizeof *seg);
        seg->base_offset = o->base_offset;
        seg->refs = 1;
        seg->index.fd = seg->timeindex.fd = seg->txnindex.fd = -1;
        seg->dir = gu_strdup(log->dir);
        /* The swap is done: the files on disk are the cleaned ones, and the
         * new segment replaces the old ones whatever happens next. If it
         * cannot be opened now (out of descriptors), it stays closed, as a
         * segment the cache dropped, and the next read opens it. */
        gs__path(log, seg->base_offset, "log", path, sizeof path);
        seg->fd = gs__fault("swap-open") ? -1 : gs__open(path, O_RDWR | O_CLOEXEC, 0);
        if (seg->fd >= 0 && gs__segment_open_indexes(log, seg, false) < 0) {
            gs_index_close(&seg->index);
            gs_index_close(&seg->timeindex);
            close(seg->fd);
            seg->fd = -1;
        }
        gs__path(log, seg->base_offset, "txnindex", path, sizeof path);
        (void)gs_txnindex_open(&seg->txnindex, path); /* usable (empty) on failure */
        if (seg->fd < 0 && seg->txnindex.fd >= 0) {
            close(seg->txnindex.fd); /* reopened with the segment */
            seg->txnindex.fd = -1;
        }
        seg->size = o->size;
        seg->next_offset = o->next_offset;
        seg->max_timestamp = o->max_timestamp;
        seg->max_timestamp_offset = o->max_timestamp_offset;
        seg->created_ms = o->modified_ms;
        for (k = 0; k < o->count; k++) {
            gs_segment *old = log->segs[idx + k];
            for (int e = 0; e < GS__NSEG_EXTS; e++) {
                snprintf(path, sizeof path, "%s/%020" PRId64 ".%s.deleted", log->dir, old->base_offset,
                         gs__seg_exts[e]);
                unlink(path);
            }
            old->deleted = true;
            if (old->pins == 0)
                gs__segment_drop_files(old);
            gs__segment_unref(old);
        }
        log->segs[idx] = seg;
        memmove(&log->segs[idx + 1], &log->segs[idx + o->count], (log->nsegs - idx - o->count) * sizeof *log->segs);
        log->nsegs -= o->count - 1;
        if (seg->fd >= 0) {
            gs__lru_push(seg);
            gs__evict(seg);
        }
        swapped++;
    }
    return swapped > 0 || rc == 0 ? swapped : rc;
}
