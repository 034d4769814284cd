/*
 * Kafka's old message formats, magic 0 and 1 ("message sets"), converted to
 * and from the record batch v2 that Gregor stores: up-conversion for Produce
 * v0-v2, down-conversion for Fetch v0-v3 (v0-v1 read magic 0, v2-v3 magic 1).
 * Pure functions over memory; the broker wires them in.
 *
 * A message set is a sequence of entries:
 *
 *   offset        int64
 *   message_size  int32    bytes of the message that follows
 *   message:
 *     crc         uint32   CRC-32 (IEEE, zlib's crc32) of the bytes after it
 *     magic       int8     0 or 1
 *     attributes  int8     bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4),
 *                          bit 3 timestamp type (magic 1: 1 = LogAppendTime)
 *     timestamp   int64    magic 1 only
 *     key         int32 length (-1: null), bytes
 *     value       int32 length (-1: null), bytes
 *
 * A message with a codec is a wrapper: its value is the compressed bytes of
 * an inner message set whose messages are uncompressed and of the wrapper's
 * magic. The wrapper's offset is the offset of its last inner message; inner
 * offsets are absolute in magic 0 and relative (0..n-1) in magic 1. In magic
 * 1 an inner message keeps its own timestamp unless the wrapper has the
 * LogAppendTime bit, in which case every inner timestamp is the wrapper's.
 * Snappy is xerial's framing and gzip plain gzip, as for v2 (gp_compress).
 * LZ4 in magic 0 is the frame format with Kafka's broken header checksum
 * (computed over the 4 magic bytes too: KafkaLZ4BlockInputStream's
 * useBrokenFlagDescriptorChecksum, KAFKA-3160); magic 1 uses the correct one.
 *
 * Up-conversion follows what Kafka 3.x (UnifiedLog.analyzeAndValidateRecords,
 * LogValidator, AbstractLegacyRecordBatch, LegacyRecord) accepts and answers:
 *
 *   CORRUPT_MESSAGE   a message's CRC; an entry smaller than 14 bytes; a
 *                     top-level magic outside 0..2; key/value lengths that do
 *                     not fill the message exactly (Kafka fails such a message
 *                     with an unchecked exception; a corrupt message is what it
 *                     is)
 *   INVALID_RECORD    top-level entries of different magics (a magic 2 batch
 *                     among them too); more than one top-level entry when one
 *                     of them is compressed ("Compressed outer record has more
 *                     than one batch"); a wrapper with a null value, with no
 *                     inner message, with codec zstd (Kafka's deep iterator
 *                     refuses zstd below magic 2), with a compressed inner
 *                     message or one whose magic differs from the wrapper's;
 *                     a magic 1 wrapper offset that is neither 0 (librdkafka
 *                     and kafka-python send 0) nor >= the last inner offset;
 *                     a stream that does not decompress
 *   UNSUPPORTED_COMPRESSION_TYPE  codec 5-7 (Kafka throws an unchecked
 *                     exception; the v2 path answers this code)
 *   MESSAGE_TOO_LARGE a top-level entry above lim->max_batch_bytes, or a
 *                     wrapper expanding beyond lim->max_uncompressed
 *
 * A partial entry at the end is trimmed and the entries before it are
 * converted, as Kafka does; when nothing is whole (an empty set too) the
 * result is empty and no error, which Kafka answers with error 0 and base
 * offset -1 (checked against Kafka 3.9.1). Chosen where Kafka is lax: a
 * partial inner entry at the end of a decompressed set, which Kafka's inner
 * reader silently drops with its records, is CORRUPT_MESSAGE. Inner offsets
 * that are not 0..n-1 are accepted, as Kafka does (it rewrites them). Magic 0
 * LZ4 is read whatever its header checksum byte holds (broken or correct):
 * the message CRC already covers those bytes.
 *
 * The result is one v2 batch, base offset 0, offset deltas 0..n-1 in order,
 * producer id/epoch/base sequence -1, not transactional, no headers, record
 * timestamps -1 (Kafka's NO_TIMESTAMP) for magic 0 and the message's (or its
 * LogAppendTime wrapper's) for magic 1, and the LogAppendTime bit when a
 * top-level message has it. Its codec is the source codec: Kafka's
 * sourceCompression is the last compressed top-level entry's codec, and since
 * a compressed entry must be the only one, that is simply the wrapper's codec
 * (none for a set of plain messages). The caller passes the batch on to
 * gp_batches_validate and the append path (offsets, message.timestamp.type,
 * recompression, max.message.bytes).
 *
 * Down-conversion follows RecordsUtil.downConvert with MemoryRecordsBuilder
 * writing magic 0/1: control batches are skipped, headers dropped; an
 * uncompressed batch gives one entry per record at its absolute offset, less
 * the records below first_offset (Kafka drops them for a fetch that starts
 * inside a batch; librdkafka relies on it); a compressed batch gives one
 * wrapper with the same codec at the last record's offset, inner offsets
 * relative to its first record (magic 1) or absolute (magic 0), a null key,
 * and, in magic 1, timestamp = the largest record timestamp (CreateTime) or
 * the batch's maxTimestamp with the LogAppendTime bit set on the wrapper and
 * on each inner message whose timestamp it becomes (LogAppendTime). Magic 0
 * has no timestamps and no timestamp bit. A zstd batch cannot be converted
 * (GP_LEGACY_ERR_ZSTD: Kafka answers UNSUPPORTED_COMPRESSION_TYPE for the
 * partition). A partial batch at the end is ignored, as a log read may cut
 * one. CRCs of the stored batches are not checked (the log is trusted), but
 * every length is, so any input is safe to pass.
 */
#ifndef GP_LEGACY_H
#define GP_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/gp_arena.h"
#include "protocol/gp_batch.h"
#include "protocol/gp_codec.h"

/* Errors (negative, in a range of their own; up-conversion returns
 * GP_BATCH_ERR_INVALID with a Kafka error and message). */
enum {
    GP_LEGACY_ERR_ZSTD = -60,    /* a zstd batch cannot be down-converted: UNSUPPORTED_COMPRESSION_TYPE */
    GP_LEGACY_ERR_CORRUPT = -61, /* a stored batch is malformed (down-conversion) */
    GP_LEGACY_ERR_MAGIC = -62,   /* to_magic is neither 0 nor 1 */
};

/* Sizes of the old formats (Kafka's LegacyRecord constants). */
enum {
    GP_LEGACY_LOG_OVERHEAD = 12,       /* offset + message_size */
    GP_LEGACY_RECORD_OVERHEAD_V0 = 14, /* crc, magic, attributes, key length, value length */
    GP_LEGACY_RECORD_OVERHEAD_V1 = 22, /* and the timestamp */
};

#define GP_LEGACY_ATTR_CODEC_MASK 0x07
#define GP_LEGACY_ATTR_LOG_APPEND_TIME 0x08

/*
 * Validate a Produce v0-v2 `records` blob of len bytes holding a message set
 * of magic 0 or 1 and build the one v2 batch it becomes, into a (see the
 * header comment for the rules and the error codes). lim->max_uncompressed
 * bounds each wrapper's inner set (0: GP_BATCH_DEFAULT_MAX_UNCOMPRESSED),
 * lim->max_batch_bytes each top-level entry (0: none); the other limits are
 * for gp_batches_validate. Returns 0 with *out_batch set (empty, len 0,
 * when the set holds no whole message), or GP_BATCH_ERR_INVALID with *kafka_error and *msg (a sentence in the arena).
 */
int gp_legacy_upconvert(const uint8_t *p, size_t len, const gp_batch_limits *lim, gp_arena *a, gp_bytes *out_batch,
                        int16_t *kafka_error, const char **msg);

/* What down-conversion read. */
typedef struct gp_legacy_down {
    size_t consumed;     /* bytes of whole batches read (a partial batch after them is left) */
    int32_t batches;     /* whole batches read, control batches included */
    int64_t next_offset; /* the offset after the last batch read; -1 if none */
    int32_t messages;    /* top-level entries written */
} gp_legacy_down;

/*
 * Write the v2 batches at batches (len bytes, each with its real base
 * offset, as read from a log) as a message set of magic to_magic (0 or 1)
 * into the arena. Records of uncompressed batches at offsets below
 * first_offset are left out (pass the fetch offset, or 0). *out may be empty
 * (only control batches, or nothing whole). info may be NULL.
 *
 * 0; GP_LEGACY_ERR_ZSTD for a zstd batch; GP_LEGACY_ERR_CORRUPT for a batch
 * that is not a well-formed v2 batch (magic, lengths, records, codec stream);
 * GP_LEGACY_ERR_MAGIC for a bad to_magic. Nothing is written on an error.
 */
int gp_legacy_downconvert(const uint8_t *batches, size_t len, int8_t to_magic, int64_t first_offset, gp_arena *a,
                          gp_bytes *out, gp_legacy_down *info);

#endif
