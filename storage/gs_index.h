/*
 * A segment's sparse indexes, in Kafka's file formats so that Kafka's tools
 * read them:
 *
 *   .index      8-byte entries: offset - base (int32 BE), file position (int32 BE)
 *   .timeindex  12-byte entries: timestamp (int64 BE), offset - base (int32 BE)
 *
 * Both files are extended to segment.index.bytes (rounded down to whole
 * entries), sparse as Kafka's, and mmapped while their segment is active.
 * Their disk blocks are reserved (fallocate) a chunk at a time ahead of the
 * entries, so that no entry is stored into a hole: on a full disk that is
 * a SIGBUS, here an error the append returns. (On a copy-on-write
 * filesystem, where a reserved block is no promise, entries go in with
 * pwrite.) gs_index_trim() shrinks the file to its entries when the
 * segment rolls or the broker stops. Entries are strictly increasing in their key (offset, or
 * timestamp for the time index), so lookups are binary searches.
 */
#ifndef GS_INDEX_H
#define GS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gs_index_kind { GS_INDEX_OFFSET = 8, GS_INDEX_TIME = 12 }; /* = entry size */

typedef struct gs_index {
    int fd;           /* -1 once the owner closed it after mapping: path is reopened when needed */
    char *path;
    uint8_t *map;
    size_t map_len;   /* bytes mapped: the file's capacity */
    size_t alloc_len; /* bytes [0, alloc_len) have disk blocks (reserved by us) */
    size_t entries;
    int64_t base_offset;
    enum gs_index_kind kind;
    bool writable;
    bool store_in_map; /* entries are stored into the map, else pwrite (copy-on-write fs) */
    bool ragged;       /* the file was not a whole number of entries */
} gs_index;

/* Open or create `path`. An existing file's entries are its length divided
 * by the entry size: right for an index trimmed at roll or clean stop. The
 * active segment's index after a crash is still preallocated; recovery
 * calls gs_index_reset() and rebuilds it from the log. A writable index is
 * extended to max_bytes. Returns 0 or a negative errno. */
int gs_index_open(gs_index *ix, const char *path, enum gs_index_kind kind, int64_t base_offset, size_t max_bytes,
                  bool writable);

/* Forget every entry (before a rebuild from the log). */
void gs_index_reset(gs_index *ix);
void gs_index_close(gs_index *ix);

bool gs_index_full(const gs_index *ix);

/* Reserve the disk blocks of the next `more` entries (a writable index;
 * capped at its capacity), so that appending them cannot fail for want of
 * space: a caller that writes an entry to two indexes reserves both first
 * and keeps them in step. Returns 0 or a negative errno (-ENOSPC). */
int gs_index_reserve(gs_index *ix, size_t more);

/* Append an entry; keys must increase. Returns 0, -EFBIG when full (or
 * read-only), -EINVAL when the key does not increase or the offset is out of
 * range, or the negative errno of reserving its disk blocks (-ENOSPC on a
 * full disk: nothing is written, the index stays as it was). */
int gs_offset_index_append(gs_index *ix, int64_t offset, uint32_t position);
int gs_time_index_append(gs_index *ix, int64_t timestamp, int64_t offset);

/* The entry Kafka writes when a segment stops being active (roll, clean
 * close, recovery): the segment's largest timestamp and its offset, unless
 * the last entry already has that timestamp (or none: max_timestamp < 0).
 * It may use the slot gs_index_full() keeps free. Returns 0 or a negative
 * errno. Kafka reads a closed segment's largest timestamp from this entry
 * alone, so without it a search by time could pass over the segment.
 * -EFBIG when no slot is left; its slot's blocks are reserved by the
 * append before it, so on a full disk only an index without entries can
 * fail (-ENOSPC). */
int gs_time_index_close(gs_index *ix, int64_t max_timestamp, int64_t offset);

/* The entry with the largest offset <= target; (base, 0) when none. */
void gs_offset_index_lookup(const gs_index *ix, int64_t target, int64_t *offset, uint32_t *position);

/* The entry with the largest timestamp <= target: scanning the log from
 * its offset finds the first record with a timestamp >= target. Returns
 * false when every entry is newer than target (scan from the segment's
 * start). */
bool gs_time_index_lookup(const gs_index *ix, int64_t target, int64_t *timestamp, int64_t *offset);

/* The last entry's key (offset or timestamp); false when empty. */
bool gs_index_last(const gs_index *ix, int64_t *key, int64_t *value);

/* Kafka's sanity check of an index loaded from disk, a little stricter:
 * a whole number of entries, the last one's offset at or above the base
 * and below next_offset (unless that is negative), an offset index's last
 * position below log_size, the last two entries in order, a time index's
 * last timestamp not below its first. Looks at three entries at most. */
bool gs_index_sane(const gs_index *ix, int64_t next_offset, int64_t log_size);

/* Drop entries whose offset is >= offset (log truncation). */
void gs_index_truncate_offset(gs_index *ix, int64_t offset);

/* Shrink the file to its entries (segment rolled or clean stop). */
int gs_index_trim(gs_index *ix);

/* Make the entries durable (fdatasync). */
int gs_index_flush(gs_index *ix);

#endif
