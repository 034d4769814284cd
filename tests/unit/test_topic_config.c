/*
 * Unit tests of the topic configuration: that the defaults are the broker's
 * (through each synonym and the retention/roll helpers), overrides of every
 * type, Kafka's error messages, null values and duplicates, introspection
 * for DescribeConfigs, the refusal of tiered storage, and the helpers the
 * log and the handlers use.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config/gc_topic.h"
#include "protocol/gp_compress.h" /* GP_CODEC_*, to check gc_topic_codec() against */

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char g_err[1024];

/* A broker configuration from --override strings only. */
static void broker_load(gc_config *b, int n, char *const *ov)
{
    char err[512];
    ck_assert_msg(gc_config_load(b, NULL, NULL, n, ov, NULL, NULL, err, sizeof err) == 0, "broker: %s", err);
}

/* Resolve with the given overrides; the broker has its defaults. */
static int resolve(gc_topic_config *cfg, const gc_kv *kv, size_t n)
{
    gc_config b;
    broker_load(&b, 0, NULL);
    g_err[0] = 'x';
    int rc = gc_topic_config_resolve(cfg, &b, kv, n, g_err, sizeof g_err);
    if (rc == 0)
        ck_assert_str_eq(g_err, "");
    gc_config_free(&b);
    return rc;
}

static size_t key(const char *name)
{
    int i = gc_topic_key_find(name, strlen(name));
    ck_assert_msg(i >= 0, "no topic key %s", name);
    return (size_t)i;
}

static const char *text_of(const gc_topic_config *cfg, const char *name)
{
    static char buf[256];
    return gc_topic_value_text(cfg, key(name), buf, sizeof buf);
}

static size_t broker_key(const char *name)
{
    for (size_t i = 0; i < gc_config_key_count(); i++)
        if (strcmp(gc_config_key(i)->name, name) == 0)
            return i;
    ck_abort_msg("no broker key %s", name);
    return 0;
}

/* Kafka's topic keys (3.x and 4.x), with Kafka's type names. */
static const struct {
    const char *name, *type;
} kafka_keys[] = {
    {"cleanup.policy", "list"},
    {"compression.gzip.level", "int"},
    {"compression.lz4.level", "int"},
    {"compression.type", "string"},
    {"compression.zstd.level", "int"},
    {"delete.retention.ms", "long"},
    {"file.delete.delay.ms", "long"},
    {"flush.messages", "long"},
    {"flush.ms", "long"},
    {"follower.replication.throttled.replicas", "list"},
    {"index.interval.bytes", "int"},
    {"leader.replication.throttled.replicas", "list"},
    {"local.retention.bytes", "long"},
    {"local.retention.ms", "long"},
    {"max.compaction.lag.ms", "long"},
    {"max.decompressed.message.bytes", "int"},
    {"max.message.bytes", "int"},
    {"message.downconversion.enable", "boolean"},
    {"message.timestamp.after.max.ms", "long"},
    {"message.timestamp.before.max.ms", "long"},
    {"message.timestamp.difference.max.ms", "long"},
    {"message.timestamp.type", "string"},
    {"min.cleanable.dirty.ratio", "double"},
    {"min.compaction.lag.ms", "long"},
    {"min.insync.replicas", "int"},
    {"preallocate", "boolean"},
    {"remote.log.copy.disable", "boolean"},
    {"remote.log.delete.on.disable", "boolean"},
    {"remote.storage.enable", "boolean"},
    {"retention.bytes", "long"},
    {"retention.ms", "long"},
    {"segment.bytes", "int"},
    {"segment.index.bytes", "int"},
    {"segment.jitter.ms", "long"},
    {"segment.ms", "long"},
    {"unclean.leader.election.enable", "boolean"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_defaults_are_the_brokers)
{
    gc_config b;
    gc_topic_config t;
    char bb[256], tb[256];
    broker_load(&b, 0, NULL);
    ck_assert_int_eq(gc_topic_config_resolve(&t, &b, NULL, 0, g_err, sizeof g_err), 0);

    /* Every key with a broker synonym shows the broker's value. */
    for (size_t i = 0; i < gc_topic_key_count(); i++) {
        const gc_topic_key_info *k = gc_topic_key(i);
        ck_assert(!t.overridden[i]);
        ck_assert(!t.isnull[i]);
        if (!k->broker_key || i == GC_T_retention_ms || i == GC_T_segment_ms || i == GC_T_flush_ms)
            continue;
        const char *bv = gc_config_value_text(&b, broker_key(k->broker_key), bb, sizeof bb);
        const char *tv = gc_topic_value_text(&t, i, tb, sizeof tb);
        ck_assert_msg(bv && tv && strcmp(bv, tv) == 0, "%s: topic %s, broker %s %s", k->name, tv, k->broker_key, bv);
    }

    /* Kafka's defaults, as DescribeConfigs shows them. */
    ck_assert_str_eq(text_of(&t, "cleanup.policy"), "delete");
    ck_assert_str_eq(text_of(&t, "compression.type"), "producer");
    ck_assert_str_eq(text_of(&t, "compression.gzip.level"), "-1");
    ck_assert_str_eq(text_of(&t, "compression.lz4.level"), "9");
    ck_assert_str_eq(text_of(&t, "compression.zstd.level"), "3");
    ck_assert_str_eq(text_of(&t, "delete.retention.ms"), "86400000");
    ck_assert_str_eq(text_of(&t, "file.delete.delay.ms"), "60000");
    ck_assert_str_eq(text_of(&t, "flush.messages"), "9223372036854775807");
    ck_assert_str_eq(text_of(&t, "flush.ms"), "9223372036854775807");
    ck_assert_str_eq(text_of(&t, "follower.replication.throttled.replicas"), "");
    ck_assert_str_eq(text_of(&t, "index.interval.bytes"), "4096");
    ck_assert_str_eq(text_of(&t, "leader.replication.throttled.replicas"), "");
    ck_assert_str_eq(text_of(&t, "local.retention.bytes"), "-2");
    ck_assert_str_eq(text_of(&t, "local.retention.ms"), "-2");
    ck_assert_str_eq(text_of(&t, "max.compaction.lag.ms"), "9223372036854775807");
    ck_assert_str_eq(text_of(&t, "max.message.bytes"), "1048588");
    ck_assert_str_eq(text_of(&t, "message.downconversion.enable"), "true");
    ck_assert_str_eq(text_of(&t, "message.timestamp.after.max.ms"), "3600000");
    ck_assert_str_eq(text_of(&t, "message.timestamp.before.max.ms"), "9223372036854775807");
    ck_assert_str_eq(text_of(&t, "message.timestamp.difference.max.ms"), "9223372036854775807");
    ck_assert_str_eq(text_of(&t, "message.timestamp.type"), "CreateTime");
    ck_assert_str_eq(text_of(&t, "min.cleanable.dirty.ratio"), "0.5");
    ck_assert_str_eq(text_of(&t, "min.compaction.lag.ms"), "0");
    ck_assert_str_eq(text_of(&t, "min.insync.replicas"), "1");
    ck_assert_str_eq(text_of(&t, "preallocate"), "false");
    ck_assert_str_eq(text_of(&t, "remote.log.copy.disable"), "false");
    ck_assert_str_eq(text_of(&t, "remote.log.delete.on.disable"), "false");
    ck_assert_str_eq(text_of(&t, "remote.storage.enable"), "false");
    ck_assert_str_eq(text_of(&t, "retention.bytes"), "-1");
    ck_assert_str_eq(text_of(&t, "retention.ms"), "604800000");
    ck_assert_str_eq(text_of(&t, "segment.bytes"), "1073741824");
    ck_assert_str_eq(text_of(&t, "segment.index.bytes"), "10485760");
    ck_assert_str_eq(text_of(&t, "segment.jitter.ms"), "0");
    ck_assert_str_eq(text_of(&t, "segment.ms"), "604800000");
    ck_assert_str_eq(text_of(&t, "unclean.leader.election.enable"), "false");

    /* The fields themselves. */
    ck_assert_int_eq(t.retention_ms, gc_config_retention_ms(&b));
    ck_assert_int_eq(t.segment_ms, gc_config_roll_ms(&b));
    ck_assert_int_eq(t.segment_bytes, b.log_segment_bytes);
    ck_assert_int_eq(t.max_message_bytes, b.message_max_bytes);
    ck_assert(t.min_cleanable_dirty_ratio == 0.5);
    ck_assert(t.message_downconversion_enable);
    ck_assert(!t.preallocate);
    ck_assert(gc_topic_deletes(&t) && !gc_topic_compacted(&t));
    ck_assert(!gc_topic_log_append_time(&t));
    ck_assert_int_eq(gc_topic_codec(&t), -1);

    gc_topic_config_free(&t);
    gc_config_free(&b);
}
END_TEST

/* Broker settings that the defaults of a topic follow. */
static const struct {
    const char *broker[3]; /* --override values, up to three */
    const char *key, *want;
} broker_cases[] = {
    {{"log.retention.hours=1"}, "retention.ms", "3600000"},
    {{"log.retention.minutes=3", "log.retention.hours=1"}, "retention.ms", "180000"},
    {{"log.retention.ms=5000", "log.retention.minutes=3", "log.retention.hours=1"}, "retention.ms", "5000"},
    {{"log.retention.ms=-7"}, "retention.ms", "-1"},
    {{"log.roll.hours=2"}, "segment.ms", "7200000"},
    {{"log.roll.ms=1234", "log.roll.hours=2"}, "segment.ms", "1234"},
    {{"log.segment.bytes=1024"}, "segment.bytes", "1024"},
    {{"log.retention.bytes=99"}, "retention.bytes", "99"},
    {{"log.cleanup.policy=compact, delete"}, "cleanup.policy", "compact,delete"},
    {{"compression.type=zstd"}, "compression.type", "zstd"},
    {{"message.max.bytes=2000"}, "max.message.bytes", "2000"},
    {{"log.index.interval.bytes=10"}, "index.interval.bytes", "10"},
    {{"log.index.size.max.bytes=4096"}, "segment.index.bytes", "4096"},
    {{"log.flush.interval.messages=3"}, "flush.messages", "3"},
    {{"log.flush.interval.ms=1000"}, "flush.ms", "1000"},
    {{"log.cleaner.delete.retention.ms=5"}, "delete.retention.ms", "5"},
    {{"log.cleaner.min.cleanable.ratio=0.25"}, "min.cleanable.dirty.ratio", "0.25"},
    {{"log.cleaner.max.compaction.lag.ms=7000"}, "max.compaction.lag.ms", "7000"},
    {{"log.segment.delete.delay.ms=6"}, "file.delete.delay.ms", "6"},
    {{"log.message.timestamp.type=LogAppendTime"}, "message.timestamp.type", "LogAppendTime"},
    {{"log.message.timestamp.before.max.ms=7"}, "message.timestamp.before.max.ms", "7"},
    {{"log.message.timestamp.after.max.ms=8"}, "message.timestamp.after.max.ms", "8"},
    /* Broker keys Gregor accepts with any value: parsed when they parse. */
    {{"min.insync.replicas=2"}, "min.insync.replicas", "2"},
    {{"min.insync.replicas=many"}, "min.insync.replicas", "1"},
    {{"min.insync.replicas=0"}, "min.insync.replicas", "1"},
    {{"unclean.leader.election.enable=TRUE"}, "unclean.leader.election.enable", "true"},
    {{"unclean.leader.election.enable=maybe"}, "unclean.leader.election.enable", "false"},
};

START_TEST(test_broker_defaults)
{
    gc_config b;
    gc_topic_config t;
    char *ov[3];
    int n = 0;
    for (; n < 3 && broker_cases[_i].broker[n]; n++)
        ov[n] = (char *)broker_cases[_i].broker[n];
    broker_load(&b, n, ov);
    ck_assert_int_eq(gc_topic_config_resolve(&t, &b, NULL, 0, g_err, sizeof g_err), 0);
    ck_assert_str_eq(text_of(&t, broker_cases[_i].key), broker_cases[_i].want);
    ck_assert(!t.overridden[key(broker_cases[_i].key)]);
    gc_topic_config_free(&t);
    gc_config_free(&b);
}
END_TEST

START_TEST(test_override_types)
{
    gc_topic_config t;
    const gc_kv kv[] = {
        {"segment.bytes", "2048"},                   /* int */
        {"retention.ms", " -1 "},                    /* long, trimmed */
        {"preallocate", "TRUE"},                     /* boolean */
        {"compression.type", "gzip"},                /* string */
        {"cleanup.policy", " compact , delete "},    /* list */
        {"min.cleanable.dirty.ratio", "0.25"},       /* double */
        {"message.timestamp.type", "LogAppendTime"}, /* string */
        {"leader.replication.throttled.replicas", "0:1, 1:1"},
        {"follower.replication.throttled.replicas", "*"},
    };
    ck_assert_int_eq(resolve(&t, kv, COUNT(kv)), 0);
    ck_assert_int_eq(t.segment_bytes, 2048);
    ck_assert_int_eq(t.retention_ms, -1);
    ck_assert(t.preallocate);
    ck_assert_str_eq(t.compression_type, "gzip");
    ck_assert_str_eq(t.cleanup_policy, "compact,delete");
    ck_assert(t.min_cleanable_dirty_ratio == 0.25);
    ck_assert_str_eq(text_of(&t, "segment.bytes"), "2048");
    ck_assert_str_eq(text_of(&t, "retention.ms"), "-1");
    ck_assert_str_eq(text_of(&t, "preallocate"), "true");
    ck_assert_str_eq(text_of(&t, "compression.type"), "gzip");
    ck_assert_str_eq(text_of(&t, "cleanup.policy"), "compact,delete");
    ck_assert_str_eq(text_of(&t, "min.cleanable.dirty.ratio"), "0.25");
    ck_assert_str_eq(text_of(&t, "leader.replication.throttled.replicas"), "0:1,1:1");
    ck_assert_str_eq(text_of(&t, "follower.replication.throttled.replicas"), "*");
    for (size_t i = 0; i < gc_topic_key_count(); i++) {
        bool set = false;
        for (size_t j = 0; j < COUNT(kv); j++)
            set |= strcmp(kv[j].key, gc_topic_key(i)->name) == 0;
        ck_assert_msg(t.overridden[i] == set, "%s overridden %d", gc_topic_key(i)->name, t.overridden[i]);
    }
    ck_assert(gc_topic_compacted(&t) && gc_topic_deletes(&t));
    ck_assert(gc_topic_log_append_time(&t));
    ck_assert_int_eq(gc_topic_codec(&t), GP_CODEC_GZIP);
    gc_topic_config_free(&t);
}
END_TEST

/* Doubles are shown as Java's Double.toString() shows them. */
static const struct {
    const char *in, *out;
} doubles[] = {
    {"0.5", "0.5"},     {"1", "1.0"},       {"0", "0.0"},       {".75", "0.75"},
    {"0.1", "0.1"},     {"1e-4", "1.0E-4"}, {"0.001", "0.001"}, {"0.0012345", "0.0012345"},
    {"0.999", "0.999"}, {"1.0", "1.0"},
};

START_TEST(test_double_text)
{
    gc_topic_config t;
    const gc_kv kv[] = {{"min.cleanable.dirty.ratio", doubles[_i].in}};
    ck_assert_int_eq(resolve(&t, kv, 1), 0);
    ck_assert_str_eq(text_of(&t, "min.cleanable.dirty.ratio"), doubles[_i].out);
    gc_topic_config_free(&t);
}
END_TEST

/* One bad override each, and the whole message Kafka's words make of it. */
static const struct {
    const char *key, *value, *want;
} bad[] = {
    {"retention.hours", "1", "Unknown topic config name: retention.hours"},
    {"log.retention.ms", "1", "Unknown topic config name: log.retention.ms"},
    {"", "1", "Unknown topic config name: "},
    {NULL, "1", "Unknown topic config name: null"},
    {"retention.ms", "-2", "Invalid value -2 for configuration retention.ms: must be at least -1"},
    {"retention.ms", "soon", "Invalid value soon for configuration retention.ms: not an integer"},
    {"retention.ms", "", "Invalid value  for configuration retention.ms: not an integer"},
    {"retention.ms", "9223372036854775808",
     "Invalid value 9223372036854775808 for configuration retention.ms: not a 64-bit integer"},
    {"segment.bytes", "13", "Invalid value 13 for configuration segment.bytes: must be at least 14"},
    {"segment.bytes", "2147483648", "Invalid value 2147483648 for configuration segment.bytes: not a 32-bit integer"},
    {"segment.ms", "0", "Invalid value 0 for configuration segment.ms: must be at least 1"},
    {"min.insync.replicas", "0", "Invalid value 0 for configuration min.insync.replicas: must be at least 1"},
    {"preallocate", "yes", "Invalid value yes for configuration preallocate: must be true or false"},
    {"compression.type", "brotli",
     "Invalid value brotli for configuration compression.type: must be one of producer, uncompressed, gzip, snappy, "
     "lz4, zstd"},
    {"compression.type", "GZIP",
     "Invalid value GZIP for configuration compression.type: must be one of producer, uncompressed, gzip, snappy, "
     "lz4, zstd"},
    {"message.timestamp.type", "createtime",
     "Invalid value createtime for configuration message.timestamp.type: must be one of CreateTime, LogAppendTime"},
    {"cleanup.policy", "compact,remove",
     "Invalid value compact,remove for configuration cleanup.policy: each item must be one of delete, compact"},
    {"min.cleanable.dirty.ratio", "1.5",
     "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: must be at most 1"},
    {"min.cleanable.dirty.ratio", "-0.1",
     "Invalid value -0.1 for configuration min.cleanable.dirty.ratio: must be at least 0"},
    {"min.cleanable.dirty.ratio", "half",
     "Invalid value half for configuration min.cleanable.dirty.ratio: not a number"},
    {"min.cleanable.dirty.ratio", "NaN", "Invalid value NaN for configuration min.cleanable.dirty.ratio: not a number"},
    {"compression.gzip.level", "0",
     "Invalid value 0 for configuration compression.gzip.level: must be between 1 and 9, or -1"},
    {"compression.gzip.level", "10", "Invalid value 10 for configuration compression.gzip.level: must be at most 9"},
    {"compression.lz4.level", "18", "Invalid value 18 for configuration compression.lz4.level: must be at most 17"},
    {"compression.zstd.level", "23", "Invalid value 23 for configuration compression.zstd.level: must be at most 22"},
    {"local.retention.ms", "-3", "Invalid value -3 for configuration local.retention.ms: must be at least -2"},
    {"leader.replication.throttled.replicas", "0:1,x",
     "Invalid value 0:1,x for configuration leader.replication.throttled.replicas: "
     "leader.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: "
     "[partitionId]:[brokerId],[partitionId]:[brokerId],..."},
    {"follower.replication.throttled.replicas", "*,0:1",
     "Invalid value *,0:1 for configuration follower.replication.throttled.replicas: "
     "follower.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: "
     "[partitionId]:[brokerId],[partitionId]:[brokerId],..."},
    {"remote.storage.enable", "true",
     "Invalid value true for configuration remote.storage.enable: Gregor has no tiered storage"},
    {"min.compaction.lag.ms", "100",
     "conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)"},
};

START_TEST(test_bad_values)
{
    gc_topic_config t;
    /* A valid override first: it must be released when a later one fails. */
    gc_kv kv[] = {{"cleanup.policy", "compact"}, {bad[_i].key, bad[_i].value}, {"max.compaction.lag.ms", "50"}};
    ck_assert_int_eq(resolve(&t, kv, COUNT(kv)), -1);
    ck_assert_str_eq(g_err, bad[_i].want);
    /* cfg owns nothing after a failure. */
    ck_assert_ptr_null(t.cleanup_policy);
    ck_assert_ptr_null(t.compression_type);
}
END_TEST

START_TEST(test_unknown_name_before_bad_value)
{
    gc_topic_config t;
    const gc_kv kv[] = {{"retention.ms", "bad"}, {"no.such.key", "1"}};
    ck_assert_int_eq(resolve(&t, kv, COUNT(kv)), -1);
    ck_assert_str_eq(g_err, "Unknown topic config name: no.such.key");
}
END_TEST

START_TEST(test_null_and_duplicates)
{
    gc_topic_config t;
    /* null is Kafka's "use the default". */
    const gc_kv null1[] = {{"retention.ms", NULL}, {"cleanup.policy", NULL}};
    ck_assert_int_eq(resolve(&t, null1, COUNT(null1)), 0);
    ck_assert_int_eq(t.retention_ms, 604800000);
    ck_assert_str_eq(t.cleanup_policy, "delete");
    ck_assert(!t.overridden[GC_T_retention_ms] && !t.overridden[GC_T_cleanup_policy]);
    gc_topic_config_free(&t);

    /* The last of duplicates wins; the others are not even checked. */
    const gc_kv dup[] = {{"retention.ms", "1"}, {"retention.ms", "bad"}, {"retention.ms", "2"}};
    ck_assert_int_eq(resolve(&t, dup, COUNT(dup)), 0);
    ck_assert_int_eq(t.retention_ms, 2);
    ck_assert(t.overridden[GC_T_retention_ms]);
    gc_topic_config_free(&t);

    /* ... even when the last is null. */
    const gc_kv dupnull[] = {{"cleanup.policy", "compact"}, {"cleanup.policy", NULL}};
    ck_assert_int_eq(resolve(&t, dupnull, COUNT(dupnull)), 0);
    ck_assert_str_eq(t.cleanup_policy, "delete");
    ck_assert(!t.overridden[GC_T_cleanup_policy]);
    gc_topic_config_free(&t);

    const gc_kv duplist[] = {{"cleanup.policy", "compact"}, {"cleanup.policy", "compact,delete"}};
    ck_assert_int_eq(resolve(&t, duplist, COUNT(duplist)), 0);
    ck_assert_str_eq(t.cleanup_policy, "compact,delete");
    gc_topic_config_free(&t);
}
END_TEST

START_TEST(test_introspection)
{
    char buf[64];
    ck_assert_uint_eq(gc_topic_key_count(), GC_TOPIC_KEY_COUNT);
    ck_assert_uint_eq(gc_topic_key_count(), COUNT(kafka_keys));
    ck_assert_ptr_null(gc_topic_key(gc_topic_key_count()));
    for (size_t j = 0; j < COUNT(kafka_keys); j++) {
        size_t i = key(kafka_keys[j].name);
        ck_assert_str_eq(gc_topic_key(i)->type, kafka_keys[j].type);
    }
    const char *prev = "";
    for (size_t i = 0; i < gc_topic_key_count(); i++) {
        const gc_topic_key_info *k = gc_topic_key(i);
        ck_assert_msg(strcmp(prev, k->name) < 0, "%s is out of order", k->name);
        prev = k->name;
        ck_assert_int_eq(gc_topic_key_find(k->name, strlen(k->name)), (int)i);
        ck_assert_msg(k->doc && k->doc[0] && !strchr(k->doc, '|'), "%s: doc", k->name);
        if (k->broker_key)
            broker_key(k->broker_key); /* aborts when Gregor has no such broker key */
    }
    /* Lookups take a length: a name need not be NUL-terminated. */
    ck_assert_int_eq(gc_topic_key_find("retention.msXYZ", 12), (int)GC_T_retention_ms);
    ck_assert_int_eq(gc_topic_key_find("retention.msXYZ", 13), -1);
    ck_assert_int_eq(gc_topic_key_find("retention", 9), -1);
    ck_assert_int_eq(gc_topic_key_find(NULL, 0), -1);

    ck_assert_str_eq(gc_topic_key(GC_T_retention_ms)->broker_key, "log.retention.ms");
    ck_assert_str_eq(gc_topic_key(GC_T_segment_ms)->broker_key, "log.roll.ms");
    ck_assert_str_eq(gc_topic_key(GC_T_max_message_bytes)->broker_key, "message.max.bytes");
    ck_assert_str_eq(gc_topic_key(GC_T_segment_index_bytes)->broker_key, "log.index.size.max.bytes");
    ck_assert_str_eq(gc_topic_key(GC_T_min_insync_replicas)->broker_key, "min.insync.replicas");
    ck_assert_str_eq(gc_topic_key(GC_T_min_cleanable_dirty_ratio)->broker_key, "log.cleaner.min.cleanable.ratio");
    ck_assert_str_eq(gc_topic_key(GC_T_min_compaction_lag_ms)->broker_key, "log.cleaner.min.compaction.lag.ms");
    ck_assert_ptr_null(gc_topic_key(GC_T_compression_zstd_level)->broker_key);
    ck_assert_ptr_null(gc_topic_key(GC_T_remote_storage_enable)->broker_key);

    ck_assert(gc_topic_key(GC_T_preallocate)->flags & GC_TF_IGNORED);
    ck_assert(gc_topic_key(GC_T_unclean_leader_election_enable)->flags & GC_TF_IGNORED);
    ck_assert(gc_topic_key(GC_T_leader_replication_throttled_replicas)->flags & GC_TF_IGNORED);
    ck_assert(!(gc_topic_key(GC_T_retention_ms)->flags & GC_TF_IGNORED));
    ck_assert(!(gc_topic_key(GC_T_remote_storage_enable)->flags & GC_TF_IGNORED));

    /* Value text: out of range and null keys have none. */
    gc_topic_config t;
    ck_assert_int_eq(resolve(&t, NULL, 0), 0);
    ck_assert_ptr_null(gc_topic_value_text(&t, gc_topic_key_count(), buf, sizeof buf));
    t.isnull[GC_T_retention_ms] = true;
    ck_assert_ptr_null(gc_topic_value_text(&t, GC_T_retention_ms, buf, sizeof buf));
    ck_assert_ptr_eq(gc_topic_value_text(&t, GC_T_segment_ms, buf, sizeof buf), buf);
    gc_topic_config_free(&t);
}
END_TEST

START_TEST(test_remote_storage)
{
    gc_topic_config t;
    const gc_kv off[] = {{"remote.storage.enable", "false"}};
    ck_assert_int_eq(resolve(&t, off, 1), 0);
    ck_assert(!t.remote_storage_enable && t.overridden[GC_T_remote_storage_enable]);
    gc_topic_config_free(&t);
    const gc_kv on[] = {{"remote.storage.enable", " True "}};
    ck_assert_int_eq(resolve(&t, on, 1), -1);
    ck_assert_str_eq(g_err,
                     "Invalid value  True  for configuration remote.storage.enable: Gregor has no tiered storage");
}
END_TEST

START_TEST(test_helpers)
{
    static const struct {
        const char *policy;
        bool compact, del;
    } policies[] = {
        {"compact,delete", true, true},
        {"delete,compact", true, true},
        {"compact", true, false},
        {"delete", false, true},
        {"", false, false},
        {" , ", false, false},
    };
    gc_topic_config t;
    for (size_t j = 0; j < COUNT(policies); j++) {
        const gc_kv kv[] = {{"cleanup.policy", policies[j].policy}};
        ck_assert_int_eq(resolve(&t, kv, 1), 0);
        ck_assert_msg(gc_topic_compacted(&t) == policies[j].compact, "%s", policies[j].policy);
        ck_assert_msg(gc_topic_deletes(&t) == policies[j].del, "%s", policies[j].policy);
        gc_topic_config_free(&t);
    }

    static const struct {
        const char *name;
        int codec;
    } codecs[] = {
        {"producer", -1},      {"uncompressed", GP_CODEC_NONE}, {"gzip", GP_CODEC_GZIP}, {"snappy", GP_CODEC_SNAPPY},
        {"lz4", GP_CODEC_LZ4}, {"zstd", GP_CODEC_ZSTD},
    };
    for (size_t j = 0; j < COUNT(codecs); j++) {
        const gc_kv kv[] = {{"compression.type", codecs[j].name}};
        ck_assert_int_eq(resolve(&t, kv, 1), 0);
        ck_assert_int_eq(gc_topic_codec(&t), codecs[j].codec);
        gc_topic_config_free(&t);
    }
    ck_assert_int_eq(GP_CODEC_NONE, 0);
    ck_assert_int_eq(GP_CODEC_ZSTD, 4);

    const gc_kv create[] = {{"message.timestamp.type", "CreateTime"}};
    ck_assert_int_eq(resolve(&t, create, 1), 0);
    ck_assert(!gc_topic_log_append_time(&t));
    gc_topic_config_free(&t);
}
END_TEST

static Suite *topic_config_suite(void)
{
    Suite *s = suite_create("topic_config");
    TCase *tc = tcase_create("topic_config");
    tcase_add_test(tc, test_defaults_are_the_brokers);
    tcase_add_loop_test(tc, test_broker_defaults, 0, (int)COUNT(broker_cases));
    tcase_add_test(tc, test_override_types);
    tcase_add_loop_test(tc, test_double_text, 0, (int)COUNT(doubles));
    tcase_add_loop_test(tc, test_bad_values, 0, (int)COUNT(bad));
    tcase_add_test(tc, test_unknown_name_before_bad_value);
    tcase_add_test(tc, test_null_and_duplicates);
    tcase_add_test(tc, test_introspection);
    tcase_add_test(tc, test_remote_storage);
    tcase_add_test(tc, test_helpers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topic_config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
