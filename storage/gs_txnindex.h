/*
 * The aborted-transaction index of one segment, Kafka's .txnindex
 * (TransactionIndex / AbortedTxn):
 *
 *   <partition dir>/<segment base offset, 20 digits>.txnindex
 *
 * a sequence of 34-byte big-endian entries, in the order the ABORT markers
 * were written (last_offset ascending), no header:
 *
 *   int16 version            0
 *   int64 producer_id
 *   int64 first_offset       the transaction's first offset
 *   int64 last_offset        the ABORT marker's offset
 *   int64 last_stable_offset the partition's LSO once the transaction ended
 *
 * An entry lives in the txnindex of the segment holding its marker. The
 * file is created with its first entry (most segments have none) and the
 * entries are also kept in memory, so a read_committed fetch never reads
 * the file. Called from the loop thread only, like the log.
 */
#ifndef GS_TXNINDEX_H
#define GS_TXNINDEX_H

#include <stddef.h>
#include <stdint.h>

#define GS_TXNINDEX_ENTRY 34
#define GS_TXNINDEX_VERSION 0

/* One aborted transaction (Kafka's AbortedTxn). */
typedef struct gs_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;        /* the ABORT marker's offset */
    int64_t last_stable_offset; /* the LSO after the transaction ended */
} gs_aborted_txn;

typedef struct gs_txnindex {
    char *path;
    int fd;               /* -1 while the file does not exist */
    gs_aborted_txn *e;    /* the file's entries, in file order */
    size_t n, cap;
} gs_txnindex;

/* Read the file at path if it exists (a missing file is an empty index).
 * A torn last entry is cut off the file, as an entry of another version
 * ends what is read (Kafka refuses such a file). Returns 0 or a negative
 * errno; the index is usable (empty) either way. */
int gs_txnindex_open(gs_txnindex *ti, const char *path);

/* Append an entry, creating the file if needed. On a write error the entry
 * stays in memory (reads stay right) and the error is returned; recovery
 * rebuilds the file from the log after a restart. */
int gs_txnindex_append(gs_txnindex *ti, const gs_aborted_txn *e);

/* Drop the entries whose last_offset >= offset (a log cut, recovery's
 * replay); an index left empty removes its file. */
int gs_txnindex_truncate(gs_txnindex *ti, int64_t offset);

/* fdatasync the file, if there is one (any thread: the fd only). */
int gs_txnindex_sync(const gs_txnindex *ti);

/* Close the file and free the entries (the file stays). */
void gs_txnindex_close(gs_txnindex *ti);

/* Encode / decode one entry (34 bytes). */
void gs_txnindex_encode(const gs_aborted_txn *e, uint8_t out[GS_TXNINDEX_ENTRY]);
void gs_txnindex_decode(const uint8_t in[GS_TXNINDEX_ENTRY], gs_aborted_txn *e);

#endif
