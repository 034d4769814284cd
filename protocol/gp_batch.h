/*
 * Kafka's record batch, message format v2 (magic 2): parsing its header,
 * validating a Produce request's records, iterating records and their
 * headers, rewriting the fields the broker owns, and building batches.
 *
 *   offset  size  field
 *        0     8  baseOffset
 *        8     4  batchLength            bytes after this field
 *       12     4  partitionLeaderEpoch
 *       16     1  magic                  2
 *       17     4  crc                    CRC-32C of bytes 21..end
 *       21     2  attributes             see GP_BATCH_ATTR_*
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  records count
 *       61        records (compressed as one stream when the codec is not none)
 *
 * A record: length varint (bytes after it), attributes int8, timestampDelta
 * varlong, offsetDelta varint, keyLength varint (-1: null), key, valueLength
 * varint (-1: null), value, header count varint, headers (keyLength varint,
 * key, valueLength varint (-1: null), value). Varints are zigzag.
 *
 * baseOffset and partitionLeaderEpoch lie outside the CRC: the broker
 * rewrites them in place for free. maxTimestamp and attributes lie inside:
 * rewriting them (LogAppendTime) costs a CRC pass.
 */
#ifndef GP_BATCH_H
#define GP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/gp_arena.h"
#include "protocol/gp_codec.h"
#include "protocol/gp_compress.h"

/* Byte offsets of the header fields within a batch. */
enum {
    GP_BATCH_OFF_BASE_OFFSET = 0,
    GP_BATCH_OFF_LENGTH = 8,
    GP_BATCH_OFF_PARTITION_LEADER_EPOCH = 12,
    GP_BATCH_OFF_MAGIC = 16,
    GP_BATCH_OFF_CRC = 17,
    GP_BATCH_OFF_ATTRIBUTES = 21,
    GP_BATCH_OFF_LAST_OFFSET_DELTA = 23,
    GP_BATCH_OFF_BASE_TIMESTAMP = 27,
    GP_BATCH_OFF_MAX_TIMESTAMP = 35,
    GP_BATCH_OFF_PRODUCER_ID = 43,
    GP_BATCH_OFF_PRODUCER_EPOCH = 51,
    GP_BATCH_OFF_BASE_SEQUENCE = 53,
    GP_BATCH_OFF_RECORDS_COUNT = 57,
    GP_BATCH_HEADER_SIZE = 61,  /* Kafka's RECORD_BATCH_OVERHEAD */
    GP_BATCH_LOG_OVERHEAD = 12, /* baseOffset + batchLength: not counted in batchLength */
};

#define GP_BATCH_MAGIC 2

/* attributes */
#define GP_BATCH_ATTR_CODEC_MASK 0x07
#define GP_BATCH_ATTR_LOG_APPEND_TIME 0x08 /* timestampType: 0 CreateTime, 1 LogAppendTime */
#define GP_BATCH_ATTR_TRANSACTIONAL 0x10
#define GP_BATCH_ATTR_CONTROL 0x20
#define GP_BATCH_ATTR_DELETE_HORIZON 0x40 /* baseTimestamp is the delete horizon (set by the cleaner) */

/* Errors (negative, in a range of their own). */
enum {
    GP_BATCH_ERR_INVALID = -40, /* malformed; the Kafka error code and a message say how */
    GP_BATCH_OLD_MAGIC = -41,   /* the first batch is message format v0/v1 (its magic in info->magic) */
};

/* Transaction marker types: the control record key's type field. */
enum {
    GP_CONTROL_ABORT = 0,
    GP_CONTROL_COMMIT = 1,
};

typedef struct gp_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id; /* -1: none */
    int16_t producer_epoch;
    int32_t base_sequence; /* -1: none */
    int32_t records_count;
} gp_batch_header;

static inline int gp_batch_codec(const gp_batch_header *h)
{
    return h->attributes & GP_BATCH_ATTR_CODEC_MASK;
}
static inline bool gp_batch_is_transactional(const gp_batch_header *h)
{
    return (h->attributes & GP_BATCH_ATTR_TRANSACTIONAL) != 0;
}
static inline bool gp_batch_is_control(const gp_batch_header *h)
{
    return (h->attributes & GP_BATCH_ATTR_CONTROL) != 0;
}
static inline bool gp_batch_is_log_append_time(const gp_batch_header *h)
{
    return (h->attributes & GP_BATCH_ATTR_LOG_APPEND_TIME) != 0;
}

/* Read the 61 header bytes at p (len >= 61, else GP_ERR_TRUNCATED). Checks
 * nothing: see gp_batches_validate. */
int gp_batch_header_parse(const uint8_t *p, size_t len, gp_batch_header *h);

/* ---- rewriting a batch in place ---------------------------------------- */

/* Outside the CRC: no CRC pass needed. */
void gp_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void gp_batch_set_partition_leader_epoch(uint8_t *batch, int32_t epoch);

/* Set maxTimestamp and the timestampType bit (as Kafka's setMaxTimestamp).
 * Returns true when a byte changed: the CRC must then be recomputed with
 * gp_batch_update_crc (once, after every change). */
bool gp_batch_set_max_timestamp(uint8_t *batch, int64_t max_timestamp, bool log_append_time);

/* The CRC-32C of a batch of size bytes (12 + batchLength), and storing it. */
uint32_t gp_batch_crc(const uint8_t *batch, size_t size);
void gp_batch_update_crc(uint8_t *batch, size_t size);

/* ---- records ------------------------------------------------------------- */

/* A record, as views into the batch (or its decompressed records). */
typedef struct gp_record {
    int8_t attributes; /* unused by Kafka so far */
    int64_t timestamp_delta;
    int32_t offset_delta;
    gp_bytes key;   /* len -1: null */
    gp_bytes value; /* len -1: null (a tombstone) */
    int32_t header_count;
    gp_bytes headers; /* header_count headers, encoded; iterate with gp_header_iter */
} gp_record;

typedef struct gp_record_header {
    gp_bytes key; /* never null */
    gp_bytes value;
} gp_record_header;

/* Iterates the records of an uncompressed or decompressed batch (for a
 * validated batch: summary->records, records_len, h.records_count). Each
 * record is checked for structure as it is read, so the iterator is safe on
 * unvalidated bytes too. */
typedef struct gp_record_iter {
    gp_reader r;
    int32_t left;    /* records still to read */
    const char *why; /* after an error: what was wrong */
} gp_record_iter;

void gp_record_iter_init(gp_record_iter *it, const uint8_t *records, size_t len, int32_t count);

/* 1 and *rec filled; 0 at the end; GP_BATCH_ERR_INVALID when malformed. */
int gp_record_next(gp_record_iter *it, gp_record *rec);

typedef struct gp_header_iter {
    gp_reader r;
    int32_t left;
} gp_header_iter;

void gp_header_iter_init(gp_header_iter *it, const gp_record *rec);

/* 1 and *h filled; 0 at the end; GP_BATCH_ERR_INVALID when malformed. */
int gp_header_next(gp_header_iter *it, gp_record_header *h);

/* Encode n headers as gp_record.headers holds them. */
gp_bytes gp_record_headers_encode(gp_arena *a, const gp_record_header *h, int32_t n);

/* A transaction marker: the one record of a control batch. */
typedef struct gp_txn_marker {
    int16_t type; /* GP_CONTROL_ABORT or GP_CONTROL_COMMIT */
    int32_t coordinator_epoch;
    int64_t producer_id;
    int16_t producer_epoch;
    int64_t timestamp;
} gp_txn_marker;

/* Read a control record's key (version int16 >= 0, type int16: ABORT or
 * COMMIT) and value (version int16 >= 0, coordinatorEpoch int32); newer
 * versions are read as version 0, as Kafka does. Fills m->type and
 * m->coordinator_epoch. 0, or GP_BATCH_ERR_INVALID with *why set. */
int gp_control_record_parse(const gp_record *rec, gp_txn_marker *m, const char **why);

/* ---- validation ---------------------------------------------------------- */

typedef struct gp_batch_limits {
    size_t max_uncompressed; /* bytes of records one compressed batch may expand to (0: 64 MiB) */
    size_t max_batch_bytes;  /* Kafka's max.message.bytes, per batch incl. its 12-byte prefix (0: none) */
    size_t max_record_bytes; /* Kafka's max.decompressed.message.bytes: the largest record (its length
                                varint's value) of a compressed batch (0: none); uncompressed batches are
                                bounded by max_batch_bytes alone, as in Kafka */
    int32_t max_batches;     /* 0: any number; Kafka allows exactly 1 per partition in a Produce v3+ */
    bool from_client;        /* a producer's batches (Kafka's AppendOrigin.CLIENT): refuse an empty
                                blob, batches without records, control batches, and an idempotent
                                batch without a base sequence */
} gp_batch_limits;

#define GP_BATCH_DEFAULT_MAX_UNCOMPRESSED ((size_t)64 << 20)

/* What validation learned about one batch. */
typedef struct gp_batch_summary {
    gp_batch_header h;
    size_t pos;             /* where the batch starts in the blob */
    size_t size;            /* its bytes, 12 + batchLength */
    const uint8_t *records; /* its records uncompressed: in the blob, or decompressed into the arena */
    size_t records_len;
    int64_t min_timestamp;       /* over its records (baseTimestamp + timestampDelta); -1 if none */
    int64_t max_timestamp;       /* -1 if none; may differ from h.max_timestamp */
    int32_t max_timestamp_delta; /* offset delta of the first record with max_timestamp; -1 if none */
    bool all_keys;               /* every record has a non-null key */
    gp_txn_marker marker;        /* control batches: their transaction marker */
} gp_batch_summary;

/* What validation learned about the whole blob. */
typedef struct gp_batch_info {
    int32_t num_batches;
    int8_t magic;              /* 2; with GP_BATCH_OLD_MAGIC the first batch's */
    int64_t num_records;       /* offsets the blob will take */
    int64_t last_offset_delta; /* num_records - 1: the last record relative to the first */
    int64_t min_timestamp;     /* over every record; -1 if none */
    int64_t max_timestamp;
    int64_t max_timestamp_delta; /* the first record with max_timestamp, relative to the blob's first */
    uint8_t codec;               /* the first batch's */
    uint8_t codecs;              /* bit (1 << codec) per codec used */
    int64_t producer_id;         /* shared by every batch (a mix is refused) */
    int16_t producer_epoch;
    int32_t base_sequence; /* the first batch's */
    bool transactional;
    bool control;
    bool log_append_time; /* some batch has the LogAppendTime bit set */
    bool all_keys;        /* every record has a non-null key (compacted topics need it) */
    int32_t error_batch;  /* after GP_BATCH_ERR_INVALID: which batch (-1: the blob) */
    int32_t error_record; /* and which record in it (-1: the batch), for Produce's record_errors */
    bool over_uncompressed; /* refused (MESSAGE_TOO_LARGE) because a batch's records expand beyond
                               lim->max_uncompressed: a caller that validated with a small cap first
                               may try again with a larger one */
    gp_batch_summary first;
    gp_batch_summary *rest; /* num_batches - 1 more, in the arena */
} gp_batch_info;

static inline const gp_batch_summary *gp_batch_info_at(const gp_batch_info *info, int32_t i)
{
    return i == 0 ? &info->first : &info->rest[i - 1];
}

/*
 * Validate a Produce request's `records` blob of len bytes: one or more
 * complete v2 batches, each with a good CRC-32C, a known codec, a records
 * count that matches the records present (decompressed as needed, at most
 * lim->max_uncompressed bytes per batch), records whose lengths match their
 * fields, offset deltas 0, 1, 2... and lastOffsetDelta = count - 1, and
 * control batches holding one valid transaction marker.
 *
 * Returns 0 with *out filled; GP_BATCH_ERR_INVALID with *kafka_error
 * (CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE,
 * MESSAGE_TOO_LARGE) and *msg (in the arena) set; or GP_BATCH_OLD_MAGIC when
 * the first batch has magic 0 or 1 (out->magic; *kafka_error is set to
 * INVALID_RECORD for a caller that refuses old formats).
 *
 * Timestamps are left to the caller, which knows the topic's
 * message.timestamp.type and bounds: *out has them per batch and overall.
 *
 * Uncompressed batches are read in place, in one pass, without allocating;
 * a compressed batch is decompressed once into scratch, and its records stay
 * there (summary->records) until the arena is reset. More than one batch
 * takes one small array from scratch.
 *
 * Decompression stops as soon as its output passes lim->max_uncompressed,
 * so a batch's cost is bounded by the cap, not by what its stream claims
 * (a decompression bomb): out->over_uncompressed then tells that refusal
 * apart from the others. With lim->max_record_bytes it stops sooner: past
 * records count x (max_record_bytes + 5) bytes some record must be larger
 * than allowed (or the count lies), INVALID_RECORD either way, as Kafka
 * answers a record over max.decompressed.message.bytes. A caller on an event loop can validate with a
 * small cap first and move only the batches that pass it to a thread.
 */
int gp_batches_validate(const uint8_t *p, size_t len, const gp_batch_limits *lim, gp_arena *scratch, gp_batch_info *out,
                        int16_t *kafka_error, const char **msg);

/* ---- building ------------------------------------------------------------ */

typedef struct gp_batch_params {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int64_t base_timestamp; /* a record's timestamp is base_timestamp + its timestamp_delta */
    bool log_append_time;   /* set the LogAppendTime bit; maxTimestamp = log_append_time_ms */
    int64_t log_append_time_ms;
    int64_t producer_id; /* -1: none */
    int16_t producer_epoch;
    int32_t base_sequence; /* -1: none */
    bool transactional;
    bool control; /* see gp_batch_build_control */
    int codec;    /* GP_CODEC_* */
    int level;    /* the codec's level, or GP_COMPRESS_LEVEL_DEFAULT */
    /* The log cleaner's rewrite (Kafka's filterTo): records keep their
     * offset_delta (increasing, gaps allowed) and the batch keeps its
     * lastOffsetDelta, so that every offset stays where it was. */
    bool keep_offset_deltas;
    int32_t last_offset_delta; /* with keep_offset_deltas */
} gp_batch_params;

/*
 * Build one batch of n >= 1 records into the arena: record i gets offset
 * delta i (recs[i].offset_delta is ignored, unless p->keep_offset_deltas), keys, values, attributes and
 * encoded headers are copied as they are, the records are compressed with
 * p->codec, and maxTimestamp is the largest record timestamp (or the log
 * append time). Records read from another batch can be passed straight
 * through (recompression). *out is the whole batch.
 */
int gp_batch_build(gp_arena *a, const gp_batch_params *p, const gp_record *recs, int32_t n, gp_bytes *out);

/*
 * A transaction marker batch, as Kafka writes it: transactional and control
 * bits, no compression, base sequence -1, one record at offset delta 0 and
 * timestamp delta 0 with key (version 0, type) and value (version 0,
 * coordinator epoch), base and max timestamps m->timestamp.
 */
int gp_batch_build_control(gp_arena *a, int64_t base_offset, int32_t partition_leader_epoch, const gp_txn_marker *m,
                           gp_bytes *out);

#endif
