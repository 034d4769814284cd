/*
 * The records of Kafka's __consumer_offsets topic: committed offsets and
 * group metadata, as keys and values prefixed by an int16 version
 * (../shared/kafka-reference/records/), and which partition a group lives in.
 *
 *   key version 0-1  OffsetCommitKey   group, topic, partition
 *   key version 2    GroupMetadataKey  group
 *   OffsetCommitValue  v0-4: offset, leaderEpoch (v3+), metadata,
 *                      commitTimestamp, expireTimestamp (v1 only)
 *   GroupMetadataValue v0-4: protocolType, generation, protocol, leader,
 *                      currentStateTimestamp (v2+), members
 *
 * Written as Kafka 3.x writes them: OffsetCommitKey v1, OffsetCommitValue v3
 * (v1 when the commit carries an expire timestamp, OffsetCommit v2-v4 with a
 * retention time), GroupMetadataKey v2, GroupMetadataValue v3. Read: every
 * version, v4 (flexible) included, so a data directory written by a newer
 * Kafka loads. A null value is a tombstone.
 */
#ifndef GB_GROUP_RECORDS_H
#define GB_GROUP_RECORDS_H

#include <stdint.h>

#include "protocol/gp_arena.h"
#include "protocol/gp_codec.h"

#define GB_OFFSETS_TOPIC "__consumer_offsets"

/* Java's String.hashCode over the UTF-16 code units of a UTF-8 string. */
int32_t gb_java_string_hash(const char *s, size_t len);

/* Kafka's partitionFor: Utils.abs(groupId.hashCode) % npartitions, where
 * Utils.abs is Math.abs with Integer.MIN_VALUE mapped to 0. */
int32_t gb_group_partition_for(const char *group_id, size_t len, int32_t npartitions);

/* The length of a UTF-8 string in UTF-16 code units (Java's length()). */
size_t gb_utf16_length(const char *s, size_t len);

enum gb_group_key_type {
    GB_KEY_OFFSET = 0, /* OffsetCommitKey */
    GB_KEY_GROUP = 1,  /* GroupMetadataKey */
    GB_KEY_UNKNOWN = 2 /* a version neither has: ignored, as Kafka does */
};

typedef struct gb_group_key {
    int type; /* enum gb_group_key_type */
    int16_t version;
    gp_str group;
    gp_str topic;      /* offset keys */
    int32_t partition; /* offset keys */
} gb_group_key;

typedef struct gb_offset_value {
    int64_t offset;
    int32_t leader_epoch; /* -1: none */
    gp_str metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1: none (written only in v1) */
} gb_offset_value;

typedef struct gb_group_value_member {
    gp_str member_id;
    gp_str group_instance_id; /* null for dynamic members */
    gp_str client_id;
    gp_str client_host;
    int32_t rebalance_timeout; /* v0: the session timeout */
    int32_t session_timeout;
    gp_bytes subscription;
    gp_bytes assignment;
} gb_group_value_member;

typedef struct gb_group_value {
    gp_str protocol_type;
    int32_t generation;
    gp_str protocol; /* nullable */
    gp_str leader;   /* nullable */
    int64_t current_state_timestamp;
    int32_t nmembers;
    gb_group_value_member *members;
} gb_group_value;

/* Encoders: the bytes live in the arena. */
gp_bytes gb_offset_key_encode(gp_arena *a, gp_str group, gp_str topic, int32_t partition);
gp_bytes gb_offset_value_encode(gp_arena *a, const gb_offset_value *v);
gp_bytes gb_group_key_encode(gp_arena *a, gp_str group);
gp_bytes gb_group_value_encode(gp_arena *a, const gb_group_value *v);

/* Decoders: views into the bytes (members in the arena). 0, or a negative
 * GP_ERR_* when the bytes are malformed or the version unknown. */
int gb_group_key_decode(gp_bytes key, gb_group_key *out);
int gb_offset_value_decode(gp_bytes value, gb_offset_value *out);
int gb_group_value_decode(gp_arena *a, gp_bytes value, gb_group_value *out);

#endif
