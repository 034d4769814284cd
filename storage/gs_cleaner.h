/*
 * Log compaction, Kafka's LogCleaner: keep the latest record of each key.
 *
 * One cleaning of a partition is a plan, made on the loop thread from the
 * log's in-memory state (gs_log_clean_prepare), run on any thread
 * (gs_clean_run: all the file work) and swapped into the log on the loop
 * (gs_log_clean_swap). The plan holds references to the segments it
 * cleans, so appends, reads, retention and checkpoints carry on meanwhile;
 * the active segment is never part of a plan. It holds no descriptor for
 * them: the run opens each .log by name when it reads it, so a cleaning of
 * thousands of segments stays within the open-segment bound.
 *
 * The run, as Kafka's Cleaner.doClean:
 *  1. the offset map: over the dirty section [first_dirty, end), the last
 *     offset of every key (a 128-bit hash of the key, 24 bytes a slot, as
 *     Kafka's SkimpyOffsetMap with its MD5); records of aborted
 *     transactions and control batches do not count. When the map is full
 *     the pass stops at the batch that did not fit (cleaned_to);
 *  2. the segments below cleaned_to are grouped (groupSegmentsBySize):
 *     consecutive segments whose .log sizes add up to at most
 *     segment.bytes, whose .index and .timeindex sizes each add up to at
 *     most segment.index.bytes, and whose offsets span at most
 *     2^31 - 1 from the group's base, so that small cleaned segments
 *     become one. Each group is copied to <first base>.log.cleaned;
 *  3. every batch goes through Kafka's filter, in offset order, with the
 *     transactions followed across the whole pass (CleanedTransactionMetadata):
 *     - a data batch of an aborted transaction loses its records;
 *     - a record stays only if no later offset of its key is in the map,
 *       it has a key, and, for a tombstone (null value), its batch has no
 *       delete horizon yet or the horizon is still ahead (KIP-534);
 *     - a control batch (transaction marker) can go once no batch of its
 *       transaction was met in this pass (a COMMIT: none since the
 *       producer's previous marker; an ABORT: none of the aborted
 *       range): it is then given a delete horizon, and it goes in a
 *       later pass once the horizon has passed. An ABORT marker that
 *       stays because its records were met keeps its txnindex entry;
 *       the others lose theirs;
 *     - a batch that keeps a tombstone or an eligible marker and has no
 *       horizon is rewritten with the delete-horizon attribute (bit 6)
 *       and baseTimestamp = now + delete.retention.ms; its records'
 *       timestamp deltas are taken from the new base, so that every
 *       record's timestamp (base + delta) is unchanged;
 *     A batch whose records all stay and needs no horizon is copied as
 *     it is; one that lost some is rebuilt with the same base offset,
 *     last offset delta, producer fields, timestamps and codec (records
 *     keep their offsets: the gaps stay); one that lost all is dropped,
 *     unless it is the last batch of a producer the producer state knows,
 *     which stays as an empty batch (its header) so that the producer's
 *     sequence survives. Records at or past cleaned_to (the rest of the
     last segment cleaned, beyond the map) all stay unless aborted, as
     Kafka's pastLatestOffset; markers there follow the same rules;
 *  4. <base>.index.cleaned, <base>.timeindex.cleaned and (when there are
 *     entries, or a source had a .txnindex) <base>.txnindex.cleaned are
 *     written from the cleaned log, every file is fsynced, then renamed
 *     to .swap (the .log last: the .log.swap is the commit point) and the
 *     directory is fsynced.
 *
 * The swap (loop): the group's old segments' files are renamed to
 * .deleted, the .swap files to their names, the group's segments replaced
 * by the one cleaned segment, and the .deleted files unlinked (open slices
 * keep reading the old inodes). gs_log_open finishes what a crash
 * interrupted (gs_log.c): a committed .log.swap takes its name and the
 * old segments its offsets cover are removed.
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

/* What became of one group of segments (one cleaned segment). */
typedef struct gs_clean_output {
    size_t first, count;  /* the plan's segments it replaces: segs[first, first + count) */
    int64_t base_offset;  /* segs[first]'s */
    int64_t size;          /* bytes of the cleaned .log */
    int64_t next_offset;   /* after its last batch (base when empty) */
    int64_t max_timestamp; /* -1 when empty */
    int64_t max_timestamp_offset;
    int64_t modified_ms; /* the last source's modification time, kept */
    bool written;        /* the .swap files exist */
} gs_clean_output;

typedef struct gs_clean_stats {
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept;
    int64_t batches_rebuilt, batches_dropped, batches_emptied;
    int64_t tombstones_dropped;
    int64_t markers_dropped; /* control batches removed (their horizon passed) */
    int64_t horizons_set;    /* batches given a delete horizon */
    int64_t segments_in, segments_out;
    int64_t map_keys;
    int64_t elapsed_us;
} gs_clean_stats;

typedef struct gs_clean_plan {
    /* Input, filled by gs_log_clean_prepare and the caller. */
    int dirfd;           /* the partition directory (file names are relative to it) */
    gs_log_slice *segs;  /* references to the segments cleaned, oldest first (fd -1: none held) */
    size_t nsegs;        /* the last one's offsets reach end or beyond */
    int64_t first_dirty; /* offsets below were cleaned before */
    int64_t end;         /* first uncleanable offset */
    int64_t delete_retention_ms;
    int64_t map_bytes;  /* log.cleaner.dedupe.buffer.size */
    double load_factor; /* log.cleaner.io.buffer.load.factor */
    size_t io_buffer;   /* log.cleaner.io.buffer.size */
    int32_t index_interval_bytes;
    int64_t now_ms;        /* wall clock of the pass (0: read it when the run starts) */
    int64_t segment_bytes; /* group bound: segment.bytes (0: no grouping, one segment a group) */
    int64_t max_index_bytes; /* group bound: segment.index.bytes */
    gs_clean_producer *producers; /* sorted by producer id; owned by the plan */
    size_t nproducers;
    gs_aborted_txn *aborted; /* aborted transactions overlapping the plan; owned */
    size_t naborted;
    /* Output of gs_clean_run. */
    int rc;               /* 0 or a negative errno */
    char err[160];        /* what failed */
    int64_t cleaned_to;   /* the next cleaning's first dirty offset */
    gs_clean_output *out; /* one per group, nout of them, in offset order */
    size_t nout;
    gs_clean_stats stats;
} gs_clean_plan;

/* Loop: a plan for the log's closed segments below `end` (a segment base
 * offset at most the active segment's, or inside the last one), dirty from
 * first_dirty. Opens the directory and takes references; retention
 * (gs_log_retain) waits until gs_log_clean_swap. 0 or a negative errno
 * (nothing to clean: -ENOENT). */
int gs_log_clean_prepare(gs_log *log, int64_t first_dirty, int64_t end, gs_clean_plan *plan);

/* Group the plan's segments below plan->cleaned_to (step 2 above) into
 * plan->out / plan->nout (allocated here). Part of gs_clean_run; public
 * for its tests. */
void gs_clean_group(gs_clean_plan *plan);

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
