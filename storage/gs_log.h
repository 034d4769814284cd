/*
 * A partition log: <log.dirs>/<topic>-<partition>/ with segments named by
 * their base offset (%020lld.log, .index, .timeindex), in Kafka's on-disk
 * format.
 *
 * The log stores record batches as producers sent them, after the broker
 * validated them: gs_log_append() only assigns offsets (rewriting each
 * batch's baseOffset), sets the partition leader epoch and, for
 * LogAppendTime topics, the max timestamp (recomputing the CRC), and writes
 * the whole blob with one write(2). Reads return file slices (fd, position,
 * length) so that the broker can send them with sendfile without copying
 * record data through user space; a slice holds a reference on its segment,
 * so a segment deleted by retention stays readable until the slice is
 * released.
 *
 * Called from the loop thread only, except gs_log_flush_fd targets, which
 * are plain fds a flusher thread may fdatasync.
 */
#ifndef GS_LOG_H
#define GS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/gs_index.h"
#include "storage/gs_txnindex.h"

typedef struct gs_log_config {
    int64_t segment_bytes;        /* segment.bytes: roll before exceeding it */
    int64_t segment_ms;           /* segment.ms: roll when the segment is older; <= 0 never */
    int32_t segment_index_bytes;  /* segment.index.bytes: index preallocation */
    int32_t index_interval_bytes; /* index.interval.bytes: bytes between index entries */
} gs_log_config;

/* A segment's files cost descriptors and mappings only while it is
 * resident: the active segment always is (its .log open, its two indexes
 * mapped, their fds closed once mapped); a closed segment is resident while
 * it is in the process-wide cache of open segments (gs_log_set_open_files_max),
 * least recently used first out, or while a slice pins it. Leaving the
 * cache closes its .log (and .txnindex) and unmaps its indexes; the next
 * read opens and maps them again. */
typedef struct gs_segment gs_segment;
struct gs_segment {
    int64_t base_offset;
    int fd;                       /* the .log; -1 while not resident */
    char *dir;                    /* the partition directory, for reopening and syncing */
    int pins;                     /* slices holding fd: never closed while > 0 */
    bool active;                  /* the log's last segment: not in the cache */
    gs_segment *lru_prev, *lru_next; /* in the cache of open segments */
    bool in_lru;
    int64_t size;                 /* bytes of batches in the .log */
    int64_t next_offset;          /* offset after its last batch (== base when empty) */
    int64_t max_timestamp;        /* -1 when empty */
    int64_t max_timestamp_offset; /* offset of the record with max_timestamp, -1 when empty */
    int64_t created_ms;           /* for segment.ms: first batch's append time */
    int64_t bytes_since_index;
    gs_index index;
    gs_index timeindex;
    gs_txnindex txnindex; /* aborted transactions whose ABORT marker is in this segment */
    int refs;           /* the log's own + one per live slice */
    bool deleted;       /* unlinked; freed with the last reference */
    bool needs_rebuild; /* index files were missing */
};

typedef struct gs_log gs_log;

/* What gs_log_open found and did, for the broker to log. */
typedef struct gs_log_recovery {
    int segments;
    int64_t truncated_bytes;     /* bytes cut from a torn or corrupt tail */
    int64_t truncated_at_offset; /* log end offset after the cut, or -1 */
    int segments_removed;        /* segments after the cut */
    int indexes_rebuilt;
    int indexes_corrupt; /* of segments that were trusted: rebuilt too */
    int indexes_partial; /* rebuilt without some entries: the disk had no room for them */
    int cleanings_completed; /* segments a cleaning had committed (.swap) put in place */
} gs_log_recovery;

/* Open (creating the directory if needed) the log in `dir`. Segments whose
 * base offset lies below recovery_point are trusted when `clean` is false;
 * every batch after it is checked (length, magic, CRC) and the log is cut
 * at the first bad byte, with the indexes of every checked segment rebuilt.
 * After a clean shutdown nothing is scanned. Returns 0 or a negative errno
 * with a message in err. */
int gs_log_open(const char *dir, const gs_log_config *cfg, int64_t recovery_point, int64_t log_start_offset, bool clean,
                gs_log **out, gs_log_recovery *rec, char *err, size_t errlen);

/* How many closed segments may stay open (one descriptor for the .log,
 * up to two index mappings each), process-wide; beyond it the least
 * recently used unpinned ones are closed. At least 1. Loop thread. */
void gs_log_set_open_files_max(size_t max);

/* Closed segments resident now (open .log files beyond the active ones). */
size_t gs_log_open_files(void);

/* Close the files, trimming the active segment's indexes (a clean stop). */
void gs_log_close(gs_log *log);

/* Close and remove the directory and all its files. */
int gs_log_delete(gs_log *log);

/* DeleteTopics, Kafka's way: rename the directory to `to` (one atomic step,
 * so a crash never leaves half a partition under its own name) and close
 * the log; the files are removed later, off the loop, with gs_dir_remove.
 * Returns 0 or the rename's negative errno (the log is closed either way). */
int gs_log_detach(gs_log *log, const char *to);

/* Remove a directory and the files in it (any thread). */
int gs_dir_remove(const char *dir);

/* Remove the files in a directory but `keep` (NULL: none), and leave the
 * directory (any thread). Returns 0 or the first failure's negative errno. */
int gs_dir_remove_except(const char *dir, const char *keep);

const char *gs_log_dir(const gs_log *log);
int64_t gs_log_start_offset(const gs_log *log);
int64_t gs_log_end_offset(const gs_log *log);
int64_t gs_log_size(const gs_log *log);
size_t gs_log_segment_count(const gs_log *log);
void gs_log_set_config(gs_log *log, const gs_log_config *cfg);

/* A segment as Kafka's legacyFetchOffsetsBefore (ListOffsets v0) sees it:
 * its base offset (at least the log start offset), its size, and its .log
 * file's modification time. */
typedef struct gs_segment_time {
    int64_t base_offset;
    int64_t size;
    int64_t modified_ms;
} gs_segment_time;

/* The first min(max, count) segments, oldest first; returns the count. */
size_t gs_log_segment_times(const gs_log *log, gs_segment_time *out, size_t max);

/* Append validated batches (one Produce partition's records). Offsets are
 * assigned from the log end offset. For LogAppendTime, each batch's max
 * timestamp becomes now_ms. On success *base_offset is the first offset
 * assigned and *last_offset the last; on failure (disk full, I/O error)
 * nothing is appended: a partial write is cut back. */
int gs_log_append(gs_log *log, uint8_t *data, size_t len, int64_t now_ms, bool log_append_time, int32_t leader_epoch,
                  int64_t *base_offset, int64_t *last_offset);

/* A part of a segment file, holding a reference on the segment and, when
 * fd >= 0, a pin that keeps fd open until gs_log_slice_release. (fd is -1
 * only in a sync reference whose file could not be reopened: syncing it
 * fails with EBADF.) */
typedef struct gs_log_slice {
    gs_segment *seg;
    int fd;
    int64_t pos;
    int64_t len;
} gs_log_slice;

/* The active segment's base offset and size in bytes. */
void gs_log_tail(const gs_log *log, int64_t *seg_base, int64_t *seg_size);

/* The size of the segment whose base offset is seg_base, -1 if none. */
int64_t gs_log_segment_size(const gs_log *log, int64_t seg_base);

/* Bytes [pos, pos + len) of the segment whose base offset is seg_base, cut
 * to its size; -ENOENT if no segment has that base offset (any more). */
int gs_log_segment_slice(gs_log *log, int64_t seg_base, int64_t pos, int64_t len, gs_log_slice *out);

/* Batches from the one containing `offset`, at most max_bytes (the last may
 * be cut, as Kafka does; clients drop a partial batch), or the whole first
 * batch if it alone is larger and min_one_batch is set (KIP-74). Stays in
 * one segment. -ERANGE if offset is outside [start, end]; len 0 at the end.
 * Release the slice with gs_log_slice_release. */
int gs_log_read(gs_log *log, int64_t offset, int64_t max_bytes, bool min_one_batch, gs_log_slice *out);

/* gs_log_read that also stops before the first batch whose base offset is
 * >= max_offset (a read_committed fetch stops at the last stable offset):
 * len 0 if offset >= max_offset. The batch holding max_offset is found by
 * the offset index and a short scan, as Kafka's translateOffset. */
int gs_log_read_bounded(gs_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes, bool min_one_batch,
                        gs_log_slice *out);
void gs_log_slice_release(gs_log_slice *s);

/* Copy a slice's bytes into buf (s->len bytes), for a reader that needs
 * them in memory (Fetch v0-v3 down-converts them). A blocking pread: call
 * it off the loop thread. 0 or a negative errno. */
int gs_log_slice_copy(const gs_log_slice *s, uint8_t *buf);

/* ListOffsets by timestamp: the first batch whose max timestamp is >= ts;
 * its base offset and max timestamp. Returns false if none. (The record
 * inside the batch is found by the broker, which can decompress.) */
bool gs_log_batch_for_timestamp(gs_log *log, int64_t ts, int64_t *batch_offset, int64_t *batch_max_timestamp,
                                gs_log_slice *batch);

/* The record with the largest timestamp: its offset and timestamp, or
 * false for an empty log. */
bool gs_log_max_timestamp(const gs_log *log, int64_t *offset, int64_t *timestamp);

/* Aborted transactions (storage/gs_txnindex.h): add one to the txnindex of
 * the segment holding its ABORT marker (e->last_offset). Returns 0 or a
 * negative errno of the file write (the entry is kept in memory). */
int gs_log_add_aborted_txn(gs_log *log, const gs_aborted_txn *e);

/* Drop every aborted transaction whose marker is at offset or later
 * (recovery replays them again). Returns 0 or the first negative errno. */
int gs_log_truncate_aborted_txns(gs_log *log, int64_t offset);

/* Kafka's collectAbortedTxns: the aborted transactions that overlap
 * [from, upper): from the segment holding `from` on, the entries with
 * last_offset >= from and first_offset < upper, stopping after the first
 * entry whose last_offset >= upper. Fills at most max of them into out
 * (out may be NULL with max 0) and returns how many there are. Memory only. */
size_t gs_log_aborted_txns(const gs_log *log, int64_t from, int64_t upper, gs_aborted_txn *out, size_t max);

/* Roll now if the active segment is older than segment.ms (timer). */
int gs_log_maybe_roll(gs_log *log, int64_t now_ms);

/* Called after every roll with the new active segment's base offset (the
 * log end offset), before anything is appended to it: the producer-state
 * table writes its snapshot there (storage/gs_pstate). NULL removes it. */
typedef void (*gs_log_roll_hook)(void *arg, int64_t new_base_offset);
void gs_log_set_roll_hook(gs_log *log, gs_log_roll_hook fn, void *arg);

/* Is there a segment whose base offset is `offset`? */
bool gs_log_is_segment_base(const gs_log *log, int64_t offset);

/* Retention: delete the oldest segments (never the active one) while they
 * are all older than retention_ms (by their max timestamp) or the log is
 * larger than retention_bytes (-1 disables either). Advances the log start
 * offset. Returns the number of segments deleted, or a negative errno. */
int gs_log_retain(gs_log *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes);

/* Raise the log start offset (DeleteRecords), deleting whole segments
 * below it. */
int gs_log_advance_start(gs_log *log, int64_t offset);

/* Ask the kernel to start writing out what was appended to the active
 * segment since the last call (sync_file_range WRITE, Linux; elsewhere
 * nothing), without waiting: an fdatasync that follows soon (acks=all)
 * then mostly waits for the journal. Not for every append: starting
 * writeback costs the loop thread time that acks=1 does not need to spend. */
void gs_log_start_writeback(gs_log *log);

/* fdatasync the active segment (not its indexes: recovery rebuilds them);
 * *flushed is the log end offset covered. */
int gs_log_flush(gs_log *log, int64_t *flushed);

/* How many segments hold offsets >= from (the active one included): the
 * room gs_log_sync_refs and gs_log_closed_refs need. */
size_t gs_log_segments_from(const gs_log *log, int64_t from);

/* References to the segments holding offsets >= from (at most max), for a
 * flusher thread to fdatasync their fds; release each with
 * gs_log_slice_release on the loop thread. Returns how many. */
size_t gs_log_sync_refs(gs_log *log, int64_t from, gs_log_slice *out, size_t max);

/* References to the closed segments (every one but the active) holding
 * offsets >= from, at most max; *upto is the active segment's base offset:
 * once they are synced, everything below it is durable, indexes included
 * (a recovery point). Release each with gs_log_slice_release on the loop. */
size_t gs_log_closed_refs(gs_log *log, int64_t from, gs_log_slice *out, size_t max, int64_t *upto);

/* What the cleaner may clean (storage/gs_cleaner.h), from the in-memory
 * segments: Kafka's LogCleanerManager.cleanableOffsets and the bytes of
 * its dirty ratio. */
typedef struct gs_log_dirt {
    int64_t first_dirty;      /* clamped into the log */
    int64_t end;              /* first uncleanable offset (>= first_dirty) */
    int64_t clean_bytes;      /* segments wholly below first_dirty */
    int64_t dirty_bytes;      /* closed segments from first_dirty to end */
    int64_t first_dirty_time; /* the first dirty segment's earliest known time, -1 none */
} gs_log_dirt;

/* end is the least of the active segment's base offset, max_end (the last
 * stable offset) and, with min_lag_ms > 0, the first segment from
 * first_dirty on holding a record newer than now_ms - min_lag_ms. */
void gs_log_clean_bounds(const gs_log *log, int64_t first_dirty, int64_t max_end, int64_t now_ms,
                         int64_t min_lag_ms, gs_log_dirt *out);

/* fdatasync a closed segment's log and its index files (the txnindex too). Any thread:
 * a closed segment's files do not change while it is referenced. */
int gs_log_slice_sync_closed(const gs_log_slice *s);

#endif
