#include "storage/gs_pstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gu_common.h"

#include "protocol/gp_batch.h"
#include "protocol/gp_crc32c.h"
#include "storage/gs_meta.h"

#define GS_SNAPSHOT_VERSION 1
#define GS_SNAPSHOT_HEADER 10 /* version, crc, entry count */
#define GS_SNAPSHOT_ENTRY 46
#define GS_SNAPSHOT_CRC_FROM 6 /* the CRC covers the count and the entries */

/*
 * The table: open addressing with linear probing over pointers to entries,
 * at most half full, deletion by backward shift (no tombstones), so a
 * lookup touches one or two slots.
 */
typedef struct gs__open_txn {
    int64_t first_offset;
    int64_t producer_id;
} gs__open_txn;

struct gs_pstate {
    gs_log *log;
    char *dir;
    gs_producer **slots;
    size_t cap; /* a power of two */
    size_t count;
    int64_t last_snap; /* offset of the newest snapshot file, -1 none */
    bool dirty;        /* changed since that snapshot was written */
    /* The open transactions by first offset (Kafka's ongoingTxns): the
     * first one gives the last stable offset. A transaction begins at the
     * log end, so it is appended; it ends anywhere, a memmove of the few
     * open ones. */
    gs__open_txn *open;
    size_t nopen, capopen;
};

/* ---- sequences ------------------------------------------------------------- */

int32_t gs_pstate_seq_add(int32_t seq, int32_t n)
{
    /* Kafka's DefaultRecordBatch.incrementSequence. */
    if (seq > INT32_MAX - n)
        return n - (INT32_MAX - seq) - 1;
    return seq + n;
}

int32_t gs_pstate_seq_sub(int32_t seq, int32_t n)
{
    /* Kafka's DefaultRecordBatch.decrementSequence. */
    if (seq < n)
        return INT32_MAX - (n - seq) + 1;
    return seq - n;
}

static int32_t gs__batch_first_seq(const gs_pstate_batch *b)
{
    return gs_pstate_seq_sub(b->last_seq, b->offset_delta);
}

/* ---- the hash table ---------------------------------------------------------- */

static size_t gs__hash(int64_t id)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static size_t gs__slot_of(const gs_pstate *ps, int64_t id)
{
    size_t mask = ps->cap - 1, i = gs__hash(id) & mask;
    while (ps->slots[i] && ps->slots[i]->producer_id != id)
        i = (i + 1) & mask;
    return i;
}

static void gs__grow(gs_pstate *ps)
{
    size_t ocap = ps->cap;
    gs_producer **old = ps->slots;
    ps->cap = ocap ? ocap * 2 : 16;
    ps->slots = gu_calloc(ps->cap, sizeof *ps->slots);
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            ps->slots[gs__slot_of(ps, old[i]->producer_id)] = old[i];
    free(old);
}

const gs_producer *gs_pstate_find(const gs_pstate *ps, int64_t producer_id)
{
    if (!ps->count)
        return NULL;
    return ps->slots[gs__slot_of(ps, producer_id)];
}

static gs_producer *gs__get_or_add(gs_pstate *ps, int64_t id)
{
    if ((ps->count + 1) * 2 > ps->cap)
        gs__grow(ps);
    size_t i = gs__slot_of(ps, id);
    if (ps->slots[i])
        return ps->slots[i];
    gs_producer *p = gu_calloc(1, sizeof *p);
    /* Kafka's ProducerStateEntry.empty */
    p->producer_id = id;
    p->epoch = -1;
    p->coordinator_epoch = -1;
    p->last_timestamp = -1;
    p->last_append_ms = -1;
    p->txn_first_offset = -1;
    ps->slots[i] = p;
    ps->count++;
    return p;
}

/* Remove the entry in slot i, shifting later members of its probe run back
 * so that every entry stays reachable from its home slot. */
static void gs__remove_slot(gs_pstate *ps, size_t i)
{
    size_t mask = ps->cap - 1;
    free(ps->slots[i]);
    ps->slots[i] = NULL;
    ps->count--;
    for (size_t j = (i + 1) & mask; ps->slots[j]; j = (j + 1) & mask) {
        size_t home = gs__hash(ps->slots[j]->producer_id) & mask;
        /* Move j into the hole unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            ps->slots[i] = ps->slots[j];
            ps->slots[j] = NULL;
            i = j;
        }
    }
}

static void gs__remove_ids(gs_pstate *ps, const int64_t *ids, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = gs__slot_of(ps, ids[k]);
        if (ps->slots[i])
            gs__remove_slot(ps, i);
    }
}

size_t gs_pstate_count(const gs_pstate *ps)
{
    return ps->count;
}

const gs_producer *gs_pstate_next(const gs_pstate *ps, size_t *cursor)
{
    while (*cursor < ps->cap) {
        const gs_producer *p = ps->slots[(*cursor)++];
        if (p)
            return p;
    }
    return NULL;
}

/* ---- open transactions ----------------------------------------------------------- */

/* The place of first_offset in ps->open (the first entry >= it). */
static size_t gs__open_find(const gs_pstate *ps, int64_t first_offset)
{
    size_t lo = 0, hi = ps->nopen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->open[mid].first_offset < first_offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void gs__txn_end(gs_pstate *ps, gs_producer *p)
{
    if (p->txn_first_offset < 0)
        return;
    size_t i = gs__open_find(ps, p->txn_first_offset);
    while (i < ps->nopen && ps->open[i].first_offset == p->txn_first_offset &&
           ps->open[i].producer_id != p->producer_id)
        i++;
    if (i < ps->nopen && ps->open[i].producer_id == p->producer_id) {
        memmove(&ps->open[i], &ps->open[i + 1], (ps->nopen - i - 1) * sizeof *ps->open);
        ps->nopen--;
    }
    p->txn_first_offset = -1;
}

static void gs__txn_begin(gs_pstate *ps, gs_producer *p, int64_t first_offset)
{
    gs__txn_end(ps, p);
    if (ps->nopen == ps->capopen) {
        ps->capopen = ps->capopen ? ps->capopen * 2 : 8;
        ps->open = gu_realloc(ps->open, ps->capopen * sizeof *ps->open);
    }
    size_t i = gs__open_find(ps, first_offset);
    memmove(&ps->open[i + 1], &ps->open[i], (ps->nopen - i) * sizeof *ps->open);
    ps->open[i] = (gs__open_txn){first_offset, p->producer_id};
    ps->nopen++;
    p->txn_first_offset = first_offset;
}

int64_t gs_pstate_lso(const gs_pstate *ps, int64_t log_end_offset)
{
    if (!ps->nopen || ps->open[0].first_offset >= log_end_offset)
        return log_end_offset;
    int64_t start = gs_log_start_offset(ps->log);
    return ps->open[0].first_offset > start ? ps->open[0].first_offset : start;
}

size_t gs_pstate_open_txns(const gs_pstate *ps)
{
    return ps->nopen;
}

/* ---- check and update ----------------------------------------------------------- */

int gs_pstate_check(const gs_pstate *ps, const gs_pstate_append *a, gs_pstate_verdict *v)
{
    const gs_producer *p = gs_pstate_find(ps, a->producer_id);
    v->epoch = p ? p->epoch : -1;
    v->last_seq = p ? gs_producer_last_seq(p) : -1;
    v->first_offset = v->last_offset = v->timestamp = -1;
    if (!p) /* unknown: any sequence (rule 4), or 0 when asked */
        return a->new_starts_at_zero && a->first_seq != 0 ? GS_PSTATE_ERR_SEQUENCE : GS_PSTATE_APPEND;
    if (a->epoch == p->epoch) {
        for (int k = 0; k < p->nbatches; k++) {
            const gs_pstate_batch *b = &p->batches[k];
            if (b->last_seq == a->last_seq && gs__batch_first_seq(b) == a->first_seq) {
                v->first_offset = b->last_offset - b->offset_delta;
                v->last_offset = b->last_offset;
                v->timestamp = b->timestamp;
                return GS_PSTATE_DUPLICATE;
            }
        }
    }
    if (a->epoch < p->epoch)
        return GS_PSTATE_ERR_EPOCH;
    if (a->epoch != p->epoch) {
        /* A new epoch starts at 0, unless the producer had no epoch yet. */
        if (a->first_seq != 0 && p->epoch != -1)
            return GS_PSTATE_ERR_SEQUENCE;
    } else if (p->epoch != -1) {
        int32_t last = v->last_seq;
        bool in_seq = (int64_t)a->first_seq == (int64_t)last + 1 || (a->first_seq == 0 && last == INT32_MAX);
        if (!in_seq)
            return GS_PSTATE_ERR_SEQUENCE;
    }
    if (p->txn_first_offset >= 0 && !a->transactional)
        return GS_PSTATE_ERR_TXN;
    return GS_PSTATE_APPEND;
}

static void gs__set_epoch(gs_producer *p, int16_t epoch)
{
    if (p->epoch != epoch) {
        p->nbatches = 0;
        p->epoch = epoch;
    }
}

static void gs__add_batch(gs_producer *p, const gs_pstate_batch *b)
{
    if (p->nbatches == GS_PSTATE_BATCHES) {
        memmove(&p->batches[0], &p->batches[1], (GS_PSTATE_BATCHES - 1) * sizeof p->batches[0]);
        p->nbatches--;
    }
    p->batches[p->nbatches++] = *b;
}

void gs_pstate_update(gs_pstate *ps, const gs_pstate_append *a, int64_t now_ms)
{
    gs_producer *p = gs__get_or_add(ps, a->producer_id);
    gs__set_epoch(p, a->epoch);
    gs_pstate_batch b = {
        .last_seq = a->last_seq,
        .offset_delta = (int32_t)(a->last_offset - a->first_offset),
        .last_offset = a->last_offset,
        .timestamp = a->timestamp,
    };
    gs__add_batch(p, &b);
    p->last_timestamp = a->timestamp;
    p->last_append_ms = now_ms;
    if (a->transactional && p->txn_first_offset < 0)
        gs__txn_begin(ps, p, a->first_offset);
    ps->dirty = true;
}

/* The marker's effect on the entry; returns the producer. */
static gs_producer *gs__apply_marker(gs_pstate *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                                     int64_t timestamp, int64_t now_ms)
{
    gs_producer *p = gs__get_or_add(ps, producer_id);
    gs__set_epoch(p, epoch);
    p->coordinator_epoch = coordinator_epoch;
    gs__txn_end(ps, p);
    p->last_timestamp = timestamp;
    p->last_append_ms = now_ms;
    ps->dirty = true;
    return p;
}

void gs_pstate_apply_marker(gs_pstate *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                            int64_t timestamp, int64_t now_ms)
{
    (void)gs__apply_marker(ps, producer_id, epoch, coordinator_epoch, timestamp, now_ms);
}

int gs_pstate_check_marker(const gs_pstate *ps, const gp_txn_marker *m, gs_pstate_verdict *v)
{
    const gs_producer *p = gs_pstate_find(ps, m->producer_id);
    v->epoch = p ? p->epoch : -1;
    v->last_seq = p ? gs_producer_last_seq(p) : -1;
    v->first_offset = v->last_offset = v->timestamp = -1;
    if (!p)
        return GS_PSTATE_APPEND;
    if (m->producer_epoch < p->epoch)
        return GS_PSTATE_ERR_EPOCH;
    if (p->coordinator_epoch > m->coordinator_epoch)
        return GS_PSTATE_ERR_COORDINATOR;
    return GS_PSTATE_APPEND;
}

int gs_pstate_end_txn(gs_pstate *ps, const gp_txn_marker *m, int64_t offset, int64_t now_ms, gs_aborted_txn *out)
{
    const gs_producer *before = gs_pstate_find(ps, m->producer_id);
    int64_t first = before ? before->txn_first_offset : -1;
    (void)gs__apply_marker(ps, m->producer_id, m->producer_epoch, m->coordinator_epoch, m->timestamp, now_ms);
    if (first < 0 || m->type != GP_CONTROL_ABORT)
        return 0;
    /* Kafka's lastStableOffset(completedTxn): the next open transaction's
     * first offset, else the offset after the marker. */
    gs_aborted_txn e = {
        .producer_id = m->producer_id,
        .first_offset = first,
        .last_offset = offset,
        .last_stable_offset = ps->nopen && ps->open[0].first_offset <= offset ? ps->open[0].first_offset : offset + 1,
    };
    if (out)
        *out = e;
    int rc = gs_log_add_aborted_txn(ps->log, &e);
    return rc < 0 ? rc : 1;
}

/* ---- expiry and the log start offset ---------------------------------------------- */

static bool gs__expired(const gs_producer *p, int64_t now_ms, int64_t expiration_ms)
{
    int64_t last = p->last_timestamp > p->last_append_ms ? p->last_timestamp : p->last_append_ms;
    return p->txn_first_offset < 0 && now_ms - last >= expiration_ms;
}

size_t gs_pstate_expire(gs_pstate *ps, int64_t now_ms, int64_t expiration_ms)
{
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    for (size_t i = 0; i < ps->cap; i++) {
        gs_producer *p = ps->slots[i];
        if (!p || !gs__expired(p, now_ms, expiration_ms))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = gu_realloc(ids, cap * sizeof *ids);
        }
        ids[n++] = p->producer_id;
    }
    gs__remove_ids(ps, ids, n);
    free(ids);
    if (n)
        ps->dirty = true;
    return n;
}

static int gs__list_snapshots(const char *dir, int64_t **out, size_t *n);
static void gs__snapshot_path(const gs_pstate *ps, int64_t offset, char *out, size_t len);

size_t gs_pstate_truncate_head(gs_pstate *ps, int64_t log_start_offset)
{
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    for (size_t i = 0; i < ps->cap; i++) {
        gs_producer *p = ps->slots[i];
        if (!p || !p->nbatches)
            continue;
        int k = 0;
        while (k < p->nbatches && p->batches[k].last_offset < log_start_offset)
            k++;
        if (k == 0)
            continue;
        memmove(&p->batches[0], &p->batches[k], (size_t)(p->nbatches - k) * sizeof p->batches[0]);
        p->nbatches -= k;
        ps->dirty = true;
        if (p->nbatches == 0 && p->txn_first_offset < 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                ids = gu_realloc(ids, cap * sizeof *ids);
            }
            ids[n++] = p->producer_id;
        }
    }
    gs__remove_ids(ps, ids, n);
    free(ids);

    int64_t *offs;
    size_t noffs;
    if (gs__list_snapshots(ps->dir, &offs, &noffs) == 0) {
        for (size_t i = 0; i < noffs; i++)
            if (offs[i] < log_start_offset) {
                char path[PATH_MAX];
                gs__snapshot_path(ps, offs[i], path, sizeof path);
                unlink(path);
            }
        free(offs);
    }
    return n;
}

/* ---- snapshot files ------------------------------------------------------------------ */


static void gs__snapshot_path(const gs_pstate *ps, int64_t offset, char *out, size_t len)
{
    snprintf(out, len, "%s/%020" PRId64 ".snapshot", ps->dir, offset);
}

static uint8_t *gs__put_entry(uint8_t *w, const gs_producer *p, int32_t last_seq, int64_t last_offset,
                              int32_t offset_delta, int64_t timestamp)
{
    gu_put_be64(w, p->producer_id);
    gu_put_be16(w + 8, p->epoch);
    gu_put_be32(w + 10, (uint32_t)last_seq);
    gu_put_be64(w + 14, last_offset);
    gu_put_be32(w + 22, (uint32_t)offset_delta);
    gu_put_be64(w + 26, timestamp);
    gu_put_be32(w + 34, (uint32_t)p->coordinator_epoch);
    gu_put_be64(w + 38, p->txn_first_offset);
    return w + GS_SNAPSHOT_ENTRY;
}

static int gs__cmp_producer(const void *a, const void *b)
{
    int64_t x = (*(gs_producer *const *)a)->producer_id, y = (*(gs_producer *const *)b)->producer_id;
    return x < y ? -1 : x > y;
}

int gs_pstate_write_snapshot_file(const char *path, gs_producer *const *producers, size_t n, bool sync)
{
    size_t entries = 0;
    for (size_t i = 0; i < n; i++)
        entries += producers[i]->nbatches ? (size_t)producers[i]->nbatches : 1;
    if (entries > INT32_MAX / GS_SNAPSHOT_ENTRY)
        return -EOVERFLOW;
    size_t len = GS_SNAPSHOT_HEADER + entries * GS_SNAPSHOT_ENTRY;
    uint8_t *buf = gu_malloc(len);
    gu_put_be16(buf, GS_SNAPSHOT_VERSION);
    gu_put_be32(buf + 6, (uint32_t)entries);
    uint8_t *w = buf + GS_SNAPSHOT_HEADER;
    for (size_t i = 0; i < n; i++) {
        const gs_producer *p = producers[i];
        if (!p->nbatches) {
            w = gs__put_entry(w, p, -1, -1, 0, p->last_timestamp);
            continue;
        }
        /* One entry per cached batch, oldest first: a reader that keeps the
         * last entry of each producer id (Kafka) gets the newest batch. */
        for (int k = 0; k < p->nbatches; k++) {
            const gs_pstate_batch *b = &p->batches[k];
            int64_t ts = k + 1 == p->nbatches ? p->last_timestamp : b->timestamp;
            w = gs__put_entry(w, p, b->last_seq, b->last_offset, b->offset_delta, ts);
        }
    }
    gu_put_be32(buf + 2, gp_crc32c(0, buf + GS_SNAPSHOT_CRC_FROM, len - GS_SNAPSHOT_CRC_FROM));
    int rc = gs_write_file(path, buf, len, sync);
    free(buf);
    return rc;
}

int gs_pstate_read_snapshot_file(const char *path, gs_producer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (st.st_size < GS_SNAPSHOT_HEADER || st.st_size > (off_t)INT32_MAX) {
        close(fd);
        return GS_PSTATE_ERR_CORRUPT;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = gu_malloc(len);
    ssize_t got = pread(fd, buf, len, 0);
    int e = got < 0 ? -errno : 0;
    close(fd);
    if (got < 0 || (size_t)got != len) {
        free(buf);
        return e ? e : GS_PSTATE_ERR_CORRUPT;
    }
    int32_t count = (int32_t)gu_be32(buf + 6);
    if ((int16_t)gu_be16(buf) != GS_SNAPSHOT_VERSION || count < 0 ||
        len != GS_SNAPSHOT_HEADER + (size_t)count * GS_SNAPSHOT_ENTRY ||
        gu_be32(buf + 2) != gp_crc32c(0, buf + GS_SNAPSHOT_CRC_FROM, len - GS_SNAPSHOT_CRC_FROM)) {
        free(buf);
        return GS_PSTATE_ERR_CORRUPT;
    }
    gs_producer *ps = gu_calloc(count ? (size_t)count : 1, sizeof *ps);
    size_t k = 0;
    for (int32_t i = 0; i < count; i++) {
        const uint8_t *r = buf + GS_SNAPSHOT_HEADER + (size_t)i * GS_SNAPSHOT_ENTRY;
        int64_t id = (int64_t)gu_be64(r);
        gs_producer *p = k > 0 && ps[k - 1].producer_id == id ? &ps[k - 1] : &ps[k++];
        p->producer_id = id;
        p->epoch = (int16_t)gu_be16(r + 8);
        p->last_timestamp = (int64_t)gu_be64(r + 26);
        p->last_append_ms = p->last_timestamp;
        p->coordinator_epoch = (int32_t)gu_be32(r + 34);
        p->txn_first_offset = (int64_t)gu_be64(r + 38);
        if (p->txn_first_offset < 0)
            p->txn_first_offset = -1;
        gs_pstate_batch b = {
            .last_seq = (int32_t)gu_be32(r + 10),
            .last_offset = (int64_t)gu_be64(r + 14),
            .offset_delta = (int32_t)gu_be32(r + 22),
            .timestamp = p->last_timestamp,
        };
        if (b.last_offset >= 0) /* as Kafka: an entry without a batch has offset -1 */
            gs__add_batch(p, &b);
    }
    free(buf);
    *out = ps;
    *n = k;
    return 0;
}

static int gs__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The offsets of the NNNNNNNNNNNNNNNNNNNN.snapshot files in dir, ascending. */
static int gs__list_snapshots(const char *dir, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 29 || strcmp(de->d_name + 20, ".snapshot") != 0 ||
            strspn(de->d_name, "0123456789") != 20)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = gu_realloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = strtoll(de->d_name, NULL, 10);
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, gs__cmp_i64);
    return 0;
}

int gs_pstate_snapshot(gs_pstate *ps, int64_t offset, bool sync)
{
    /* Nothing new to say: the newest file says it, or, at a stop, there
     * never was a file nor a producer (the start after a clean stop
     * replays nothing then). At a roll an empty table is still written:
     * it spares a replay from the log start after a crash. */
    if (!ps->dirty && (offset == ps->last_snap || (sync && ps->last_snap < 0 && ps->count == 0)))
        return 0;
    gs_producer **list = gu_malloc((ps->count ? ps->count : 1) * sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < ps->cap; i++)
        if (ps->slots[i])
            list[n++] = ps->slots[i];
    if (n > 1)
        qsort(list, n, sizeof *list, gs__cmp_producer);
    char path[PATH_MAX];
    gs__snapshot_path(ps, offset, path, sizeof path);
    int rc = gs_pstate_write_snapshot_file(path, list, n, sync);
    free(list);
    if (rc == 0 && offset >= ps->last_snap) {
        ps->last_snap = offset;
        ps->dirty = false;
    }
    return rc;
}

static void gs__on_roll(void *arg, int64_t new_base_offset)
{
    /* A failure only means more of the log is replayed at the next start. */
    (void)gs_pstate_snapshot(arg, new_base_offset, false);
}

/* ---- loading ---------------------------------------------------------------------------- */

/* Merge a snapshot entry into the table (a producer written as several
 * entries, oldest batch first, gets them all). */
static void gs__load_entry(gs_pstate *ps, const gs_producer *e, int64_t now_ms)
{
    gs_producer *p = gs__get_or_add(ps, e->producer_id);
    gs__set_epoch(p, e->epoch);
    for (int k = 0; k < e->nbatches; k++)
        gs__add_batch(p, &e->batches[k]);
    p->coordinator_epoch = e->coordinator_epoch;
    p->last_timestamp = e->last_timestamp;
    p->last_append_ms = now_ms;
    if (e->txn_first_offset >= 0)
        gs__txn_begin(ps, p, e->txn_first_offset);
    else
        gs__txn_end(ps, p);
}

/* Apply one batch read from the log (Kafka's replay as a replica: no checks). */
static int gs__replay_batch(gs_pstate *ps, const gp_batch_header *h, int fd, int64_t pos, const uint8_t *bytes,
                            int64_t now_ms)
{
    if (h->producer_id < 0)
        return 0;
    if (!gp_batch_is_control(h)) {
        gs_pstate_append a = {
            .producer_id = h->producer_id,
            .epoch = h->producer_epoch,
            .first_seq = h->base_sequence,
            .last_seq = gs_pstate_seq_add(h->base_sequence, h->last_offset_delta),
            .transactional = gp_batch_is_transactional(h),
            .first_offset = h->base_offset,
            .last_offset = h->base_offset + h->last_offset_delta,
            .timestamp = h->max_timestamp,
        };
        gs_pstate_update(ps, &a, now_ms);
        return 1;
    }
    /* A transaction marker: its one record says the coordinator epoch. */
    size_t size = GP_BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
    uint8_t *own = NULL;
    if (!bytes) {
        own = gu_malloc(size);
        if (pread(fd, own, size, pos) != (ssize_t)size) {
            free(own);
            return -EIO;
        }
        bytes = own;
    }
    gp_record_iter it;
    gp_record rec;
    gp_txn_marker m;
    const char *why;
    gp_record_iter_init(&it, bytes + GP_BATCH_HEADER_SIZE, size - GP_BATCH_HEADER_SIZE, h->records_count);
    if (gp_record_next(&it, &rec) == 1 && gp_control_record_parse(&rec, &m, &why) == 0) {
        m.producer_id = h->producer_id;
        m.producer_epoch = h->producer_epoch;
        m.timestamp = h->base_timestamp + rec.timestamp_delta;
        /* The same call as the append path: an ABORT goes back into the
         * segment's txnindex. A failed file write leaves the entry in
         * memory; the next recovery tries again. */
        (void)gs_pstate_end_txn(ps, &m, h->base_offset, now_ms, NULL);
    }
    /* An empty control batch: the cleaner removed the transaction. */
    free(own);
    return 1;
}

#define GS_REPLAY_BUF (64 * 1024)

/* Replay the batches in [from, log end): batch headers read 64 KiB at a
 * time through the log's read slices, one segment after the other. */
static int gs__replay(gs_pstate *ps, int64_t from, int64_t now_ms, int64_t *batches, char *err, size_t errlen)
{
    uint8_t *buf = gu_malloc(GS_REPLAY_BUF);
    int64_t end = gs_log_end_offset(ps->log), next = from;
    int rc = 0;
    while (next < end) {
        gs_log_slice s;
        if ((rc = gs_log_read(ps->log, next, INT64_MAX, true, &s)) < 0) {
            snprintf(err, errlen, "cannot read the log at offset %" PRId64 " to rebuild producer state: %s", next,
                     strerror(-rc));
            break;
        }
        if (s.len == 0) {
            gs_log_slice_release(&s);
            break;
        }
        int64_t pos = s.pos, stop = s.pos + s.len, bstart = 0, blen = 0, before = next;
        while (stop - pos >= GP_BATCH_HEADER_SIZE) {
            if (pos < bstart || pos + GP_BATCH_HEADER_SIZE > bstart + blen) {
                size_t want = stop - pos < GS_REPLAY_BUF ? (size_t)(stop - pos) : GS_REPLAY_BUF;
                ssize_t n = pread(s.fd, buf, want, pos);
                if (n < GP_BATCH_HEADER_SIZE) {
                    rc = n < 0 ? -errno : -EIO;
                    break;
                }
                bstart = pos;
                blen = n;
            }
            const uint8_t *b = buf + (pos - bstart);
            gp_batch_header h;
            gp_batch_header_parse(b, GP_BATCH_HEADER_SIZE, &h);
            int64_t size = GP_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
            if (h.batch_length < GP_BATCH_HEADER_SIZE - GP_BATCH_LOG_OVERHEAD || size > stop - pos) {
                rc = -EIO; /* recovery checked the log: cannot happen */
                break;
            }
            if (h.base_offset + h.last_offset_delta >= next) {
                const uint8_t *whole = pos + size <= bstart + blen ? b : NULL;
                int r = gs__replay_batch(ps, &h, s.fd, pos, whole, now_ms);
                if (r < 0) {
                    rc = r;
                    break;
                }
                *batches += r;
                next = h.base_offset + h.last_offset_delta + 1;
            }
            pos += size;
        }
        gs_log_slice_release(&s);
        if (rc < 0) {
            snprintf(err, errlen, "cannot read the log near offset %" PRId64 " to rebuild producer state: %s", next,
                     strerror(-rc));
            break;
        }
        if (next == before)
            break; /* nothing more in reach (cannot happen) */
    }
    free(buf);
    return rc;
}

int gs_pstate_open(gs_log *log, bool clean, int64_t now_ms, gs_pstate **out, gs_pstate_load *info, char *err,
                   size_t errlen)
{
    memset(info, 0, sizeof *info);
    info->snapshot_offset = -1;
    info->replay_from = -1;
    gs_pstate *ps = gu_calloc(1, sizeof *ps);
    ps->dir = gu_strdup(gs_log_dir(log));
    ps->log = log;
    ps->last_snap = -1;
    int64_t start = gs_log_start_offset(log), end = gs_log_end_offset(log);

    int64_t *offs;
    size_t noffs;
    int rc = gs__list_snapshots(ps->dir, &offs, &noffs);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", ps->dir, strerror(-rc));
        gs_pstate_free(ps);
        return rc;
    }
    bool any = noffs > 0;
    char path[PATH_MAX];
    /* Snapshots beyond the log (cut by recovery) describe batches that are
     * gone; those below the log start describe nothing that is left. */
    size_t keep = 0;
    for (size_t i = 0; i < noffs; i++) {
        if (offs[i] > end || offs[i] < start) {
            gs__snapshot_path(ps, offs[i], path, sizeof path);
            unlink(path);
            info->snapshots_removed++;
        } else {
            offs[keep++] = offs[i];
        }
    }
    noffs = keep;
    /* The newest readable one. */
    int64_t from = -1;
    while (noffs > 0 && from < 0) {
        int64_t off = offs[--noffs];
        gs_producer *entries;
        size_t n;
        gs__snapshot_path(ps, off, path, sizeof path);
        if ((rc = gs_pstate_read_snapshot_file(path, &entries, &n)) < 0) {
            unlink(path);
            info->snapshots_corrupt++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            const gs_producer *e = &entries[i];
            if (e->nbatches && e->batches[e->nbatches - 1].last_offset < start && e->txn_first_offset < 0)
                continue; /* everything it wrote is gone */
            gs__load_entry(ps, e, now_ms);
        }
        free(entries);
        from = off;
        ps->last_snap = off;
        info->snapshot_offset = off;
    }
    free(offs);
    if (from < 0)
        from = clean && !any ? end : start; /* Kafka skips the scan after a clean stop with no snapshot */
    if (from < end) {
        info->replay_from = from;
        /* The replay writes the aborted transactions of the markers it
         * reads: those already in the txnindex files go first. */
        (void)gs_log_truncate_aborted_txns(log, from);
        if ((rc = gs__replay(ps, from, now_ms, &info->batches_replayed, err, errlen)) < 0) {
            gs_pstate_free(ps);
            return rc;
        }
        if (gs_pstate_snapshot(ps, end, false) == 0)
            info->snapshot_written = true;
    }
    /* Strays: snapshots that match no segment (written at a stop), except
     * the newest. */
    if (gs__list_snapshots(ps->dir, &offs, &noffs) == 0) {
        for (size_t i = 0; i + 1 < noffs; i++)
            if (!gs_log_is_segment_base(log, offs[i])) {
                gs__snapshot_path(ps, offs[i], path, sizeof path);
                unlink(path);
                info->snapshots_removed++;
            }
        free(offs);
    }
    info->producers = ps->count;
    gs_log_set_roll_hook(log, gs__on_roll, ps);
    *out = ps;
    return 0;
}

void gs_pstate_free(gs_pstate *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->cap; i++)
        free(ps->slots[i]);
    free(ps->slots);
    free(ps->open);
    free(ps->dir);
    free(ps);
}

size_t gs_pstate_last_offsets(const gs_pstate *ps, int64_t *ids, int64_t *last_offsets, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->cap; i++) {
        const gs_producer *p = ps->slots[i];
        if (!p || p->nbatches == 0)
            continue;
        if (n < max) {
            ids[n] = p->producer_id;
            last_offsets[n] = gs_producer_last_offset(p);
        }
        n++;
    }
    return n;
}
