/*
 * Log compaction, Kafka's LogCleaner: keep the latest record of each key.
 *
 * One cleaning of a partition is a plan, made on the loop thread from the
 * log's in-memory state (gs_log_clean_prepare), run on any thread
 * (gs_clean_run: all the file work) and swapped into the log on the loop
 * (gs_log_clean_swap). The plan holds references to the segments it
 * cleans, so appends, reads, retention and checkpoints carry on meanwhile;
 * the active segment is never part of a plan.
 *
 * The run, as Kafka's Cleaner.doClean:
 *  1. the offset map: over the dirty section [first_dirty, end), the last
 *     offset of every key (a 128-bit hash of the key, 24 bytes a slot, as
 *     Kafka's SkimpyOffsetMap with its MD5); records of aborted
 *     transactions and control batches do not count. When the map is full
 *     the pass stops at the batch that did not fit (cleaned_to);
 *  2. every segment of the plan is copied to <base>.log.cleaned keeping a
 *     record only if no later offset of its key is in the map, it has a
 *     key, it is not of an aborted transaction, and, for a tombstone (null
 *     value), its segment was modified after the delete horizon (the
 *     last clean segment's modification time minus delete.retention.ms).
 *     A batch whose records all stay is copied as it is; one that lost
 *     some is rebuilt with the same base offset, last offset delta,
 *     producer fields, timestamps and codec (records keep their offsets:
 *     the gaps stay); one that lost all is dropped, unless it is the last
 *     batch of a producer the producer state knows, which stays as an
 *     empty batch (its header) so that the producer's sequence survives.
 *     Control batches (transaction markers) are kept;
 *  3. <base>.index.cleaned and <base>.timeindex.cleaned are written from
 *     the cleaned log, every file is fsynced, then renamed to .swap (the
 *     indexes first, the .log last: the .log.swap is the commit point) and
 *     the directory is fsynced.
 *
 * The swap (loop): the old segment's .log, .index and .timeindex are
 * renamed to .deleted, the .swap files to their names, and the .deleted
 * files unlinked (open slices keep reading the old inode). The segment's
 * .txnindex is kept: markers are never removed, so its entries stay true.
 * gs_log_open finishes what a crash interrupted (gs_log.c).
 */
#ifndef GS_CLEANER_H
#define GS_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/gs_log.h"
#include "storage/gs_txnindex.h"

/* A producer's last batch (its last offset), kept even when emptied. */
typedef struct gs_clean_producer {
    int64_t producer_id;
    int64_t last_offset;
} gs_clean_producer;

/* What became of one segment. */
typedef struct gs_clean_output {
    int64_t base_offset;
    int64_t size;          /* bytes of the cleaned .log */
    int64_t next_offset;   /* after its last batch (base when empty) */
    int64_t max_timestamp; /* -1 when empty */
    int64_t max_timestamp_offset;
    int64_t modified_ms; /* the source's modification time, kept */
    bool written;        /* the .swap files exist */
} gs_clean_output;

typedef struct gs_clean_stats {
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept;
    int64_t batches_rebuilt, batches_dropped, batches_emptied;
    int64_t tombstones_dropped;
    int64_t map_keys;
    int64_t elapsed_us;
} gs_clean_stats;

typedef struct gs_clean_plan {
    /* Input, filled by gs_log_clean_prepare and the caller. */
    int dirfd;           /* the partition directory (file names are relative to it) */
    gs_log_slice *segs;  /* references to the segments cleaned, oldest first */
    size_t nsegs;        /* the last one's offsets reach end or beyond */
    int64_t first_dirty; /* offsets below were cleaned before */
    int64_t end;         /* first uncleanable offset */
    int64_t delete_retention_ms;
    int64_t map_bytes;  /* log.cleaner.dedupe.buffer.size */
    double load_factor; /* log.cleaner.io.buffer.load.factor */
    size_t io_buffer;   /* log.cleaner.io.buffer.size */
    int32_t index_interval_bytes;
    gs_clean_producer *producers; /* sorted by producer id; owned by the plan */
    size_t nproducers;
    gs_aborted_txn *aborted; /* aborted transactions overlapping the plan; owned */
    size_t naborted;
    /* Output of gs_clean_run. */
    int rc;               /* 0 or a negative errno */
    char err[160];        /* what failed */
    int64_t cleaned_to;   /* the next cleaning's first dirty offset */
    gs_clean_output *out; /* one per segment, nsegs */
    gs_clean_stats stats;
} gs_clean_plan;

/* Loop: a plan for the log's closed segments below `end` (a segment base
 * offset at most the active segment's, or inside the last one), dirty from
 * first_dirty. Opens the directory and takes references; retention
 * (gs_log_retain) waits until gs_log_clean_swap. 0 or a negative errno
 * (nothing to clean: -ENOENT). */
int gs_log_clean_prepare(gs_log *log, int64_t first_dirty, int64_t end, gs_clean_plan *plan);

/* Any thread: clean (see above). Sets plan->rc; on failure the .cleaned
 * files are removed. */
void gs_clean_run(gs_clean_plan *plan);

/* Loop: put the cleaned segments in place of their sources, those still
 * in the log (DeleteRecords may have removed some meanwhile: their .swap
 * files are removed; retention waits while a plan is out). Call it for
 * every plan of a log that still exists, a failed one too (nothing is
 * swapped then): it ends the plan's hold on retention. Returns how many were swapped, or a
 * negative errno (the log stays consistent: a segment is either all old
 * or all new). */
int gs_log_clean_swap(gs_log *log, gs_clean_plan *plan);

/* Release the references and the directory, remove any .swap file left
 * (a plan that was not swapped), free everything. Loop thread. */
void gs_clean_plan_free(gs_clean_plan *plan);

#endif
