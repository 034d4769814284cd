/*
 * Unit tests of the configuration module: defaults, the properties syntax,
 * precedence of the four sources, the environment name mapping, every kind
 * of bad value, the cross-key checks, the helpers, and that
 * docs/configuration.md is what gc_config_print_markdown() prints (the
 * repository root comes from GREGOR_SOURCE_ROOT).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config/gc_config.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[512]; /* the temporary properties file of the last load() */
static char g_err[1024];
static char g_warn[2048]; /* warnings of the last load, one a line */
static int g_nwarn;

static void collect_warn(void *ud, const char *msg)
{
    (void)ud;
    size_t n = strlen(g_warn);
    snprintf(g_warn + n, sizeof g_warn - n, "%s\n", msg);
    g_nwarn++;
}

/* Load cfg from text written to a mkstemp file (none if text is NULL). */
static int load(gc_config *cfg, const char *text, char *const *envp, int n, char *const *ov)
{
    const char *dir = getenv("TMPDIR");
    g_path[0] = g_err[0] = g_warn[0] = '\0';
    g_nwarn = 0;
    if (text) {
        snprintf(g_path, sizeof g_path, "%s/gregor-config-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(g_path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
    }
    int rc = gc_config_load(cfg, text ? g_path : NULL, envp, n, ov, collect_warn, NULL, g_err, sizeof g_err);
    if (text)
        unlink(g_path);
    if (rc == 0)
        ck_assert_str_eq(g_err, "");
    return rc;
}

/* Load text that must fail, and check that the message contains want. */
static void load_fails(const char *text, char *const *envp, int n, char *const *ov, const char *want)
{
    gc_config cfg;
    ck_assert_int_eq(load(&cfg, text, envp, n, ov), -1);
    ck_assert_msg(strstr(g_err, want), "message '%s' lacks '%s'", g_err, want);
}

static size_t key_index(const char *name)
{
    for (size_t i = 0; i < gc_config_key_count(); i++)
        if (strcmp(gc_config_key(i)->name, name) == 0)
            return i;
    ck_abort_msg("no key %s", name);
    return 0;
}

static const char *text_of(const gc_config *cfg, const char *name)
{
    static char buf[256];
    return gc_config_value_text(cfg, key_index(name), buf, sizeof buf);
}

START_TEST(test_defaults)
{
    gc_config cfg;
    char buf[256];
    ck_assert_int_eq(load(&cfg, NULL, NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.node_id, 1);
    ck_assert_int_eq(cfg.broker_id, 1);
    ck_assert_str_eq(cfg.listeners, "PLAINTEXT://:9092");
    ck_assert_ptr_null(cfg.advertised_listeners);
    ck_assert_str_eq(cfg.listener_security_protocol_map, "PLAINTEXT:PLAINTEXT");
    ck_assert_ptr_null(cfg.log_dirs);
    ck_assert_str_eq(gc_config_log_dir(&cfg), "/tmp/kafka-logs");
    ck_assert_int_eq(cfg.num_partitions, 1);
    ck_assert(cfg.auto_create_topics_enable);
    ck_assert_int_eq(cfg.default_replication_factor, 1);
    ck_assert_int_eq(cfg.message_max_bytes, 1048588);
    ck_assert_int_eq(cfg.socket_request_max_bytes, 104857600);
    ck_assert_int_eq(cfg.group_initial_rebalance_delay_ms, 0);
    ck_assert(cfg.delete_topic_enable);
    ck_assert_int_eq(cfg.log_segment_bytes, 1073741824);
    ck_assert_int_eq(cfg.offsets_topic_segment_bytes, 104857600);
    ck_assert(cfg.isnull[GC_K_log_retention_ms] && cfg.isnull[GC_K_log_retention_minutes]);
    ck_assert_int_eq(gc_config_retention_ms(&cfg), INT64_C(168) * 3600000);
    ck_assert_int_eq(gc_config_roll_ms(&cfg), INT64_C(168) * 3600000);
    ck_assert_int_eq(cfg.log_retention_bytes, -1);
    ck_assert_int_eq(cfg.log_flush_interval_messages, INT64_MAX);
    ck_assert_int_eq(cfg.log_message_timestamp_before_max_ms, INT64_MAX);
    ck_assert_int_eq(cfg.log_message_timestamp_after_max_ms, 3600000);
    ck_assert_str_eq(cfg.log_cleanup_policy, "delete");
    ck_assert_str_eq(cfg.log_message_timestamp_type, "CreateTime");
    ck_assert_str_eq(cfg.compression_type, "producer");
    ck_assert_int_eq(cfg.group_max_size, INT32_MAX);
    ck_assert_int_eq(cfg.transactional_id_expiration_ms, 604800000);

    /* Every value reads back as its default text; null defaults as NULL. */
    ck_assert_uint_eq(gc_config_key_count(), GC_KEY_COUNT);
    ck_assert_ptr_null(gc_config_key(GC_KEY_COUNT));
    for (size_t i = 0; i < gc_config_key_count(); i++) {
        const gc_key_info *k = gc_config_key(i);
        ck_assert_int_eq(gc_config_value_source(&cfg, i), GC_SRC_DEFAULT);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(k->name, gc_config_key(j)->name);
        if (i == GC_K_broker_id)
            continue; /* mirrors node.id */
        if (k->default_text)
            ck_assert_str_eq(gc_config_value_text(&cfg, i, buf, sizeof buf), k->default_text);
        else
            ck_assert_ptr_null(gc_config_value_text(&cfg, i, buf, sizeof buf));
        if (k->flags & GC_F_IGNORED)
            ck_assert_str_eq(k->doc, "Accepted for compatibility with Kafka's server.properties; no effect in Gregor.");
    }
    ck_assert_str_eq(text_of(&cfg, "broker.id"), "1");
    ck_assert_str_eq(gc_config_key(GC_K_log_flush_interval_messages)->type, "long");
    ck_assert_str_eq(gc_config_key(GC_K_delete_topic_enable)->type, "boolean");
    ck_assert(strstr(gc_config_key(GC_K_group_initial_rebalance_delay_ms)->doc, "3000"));
    gc_config_free(&cfg);
    gc_config_free(&cfg); /* safe twice */
}
END_TEST

START_TEST(test_file_syntax)
{
    gc_config cfg;
    const char *text = "# a comment\n"
                       "! another comment\n"
                       "   \t\n"
                       "\n"
                       "num.partitions=3\n"
                       "message.max.bytes:2000\n"
                       "log.segment.bytes 4096000\n"
                       "   socket.request.max.bytes \t =  5000  \n"
                       "listeners = PLAINTEXT://a:1 , \\\n"
                       "            SSL://b:2\n"
                       "log\\.dir=/data/a\\tb\\\\c\\u0041\\=d\\u00e9\n"
                       "# a comment ending in a backslash does not continue \\\n"
                       "offsets.topic.num.partitions=7\n"
                       "advertised.listeners=PLAINTEXT://x:1,\\\n"
                       "   #not-a-comment\n"
                       "delete.topic.enable=FALSE\r\n"
                       "group.max.size=+12\r"
                       "log.retention.bytes=-9223372036854775808\n"
                       "log.cleanup.policy = compact , ,delete\n"
                       "offset.metadata.max.bytes=-0\n"
                       "log.message.timestamp.type=LogAppendTime"; /* no final newline */
    ck_assert_int_eq(load(&cfg, text, NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.num_partitions, 3);
    ck_assert_int_eq(cfg.message_max_bytes, 2000);
    ck_assert_int_eq(cfg.log_segment_bytes, 4096000);
    ck_assert_int_eq(cfg.socket_request_max_bytes, 5000);
    ck_assert_str_eq(cfg.listeners, "PLAINTEXT://a:1,SSL://b:2");
    ck_assert_str_eq(cfg.log_dir, "/data/a\tb\\cA=d\xc3\xa9");
    ck_assert_int_eq(cfg.offsets_topic_num_partitions, 7);
    ck_assert_str_eq(cfg.advertised_listeners, "PLAINTEXT://x:1,#not-a-comment");
    ck_assert(!cfg.delete_topic_enable);
    ck_assert_int_eq(cfg.group_max_size, 12);
    ck_assert_int_eq(cfg.log_retention_bytes, INT64_MIN);
    ck_assert_str_eq(cfg.log_cleanup_policy, "compact,delete");
    ck_assert_int_eq(cfg.offset_metadata_max_bytes, 0);
    ck_assert_str_eq(cfg.log_message_timestamp_type, "LogAppendTime");
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_num_partitions), GC_SRC_FILE);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_auto_create_topics_enable), GC_SRC_DEFAULT);
    ck_assert_str_eq(text_of(&cfg, "delete.topic.enable"), "false");
    ck_assert_str_eq(text_of(&cfg, "log.retention.bytes"), "-9223372036854775808");
    gc_config_free(&cfg);

    /* The same key twice: the last one wins. An empty file is fine. */
    ck_assert_int_eq(load(&cfg, "num.partitions=2\nnum.partitions=5\n", NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.num_partitions, 5);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "", NULL, 0, NULL), 0);
    gc_config_free(&cfg);
}
END_TEST

START_TEST(test_precedence)
{
    gc_config cfg;
    char *env[] = {"KAFKA_NUM_PARTITIONS=3", NULL};
    char *ov[] = {"num.partitions=4"};
    ck_assert_int_eq(load(&cfg, NULL, NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.num_partitions, 1);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_num_partitions), GC_SRC_DEFAULT);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "num.partitions=2\n", NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.num_partitions, 2);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_num_partitions), GC_SRC_FILE);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "num.partitions=2\n", env, 0, NULL), 0);
    ck_assert_int_eq(cfg.num_partitions, 3);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_num_partitions), GC_SRC_ENV);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "num.partitions=2\n", env, 1, ov), 0);
    ck_assert_int_eq(cfg.num_partitions, 4);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_num_partitions), GC_SRC_OVERRIDE);
    ck_assert_str_eq(text_of(&cfg, "num.partitions"), "4");
    gc_config_free(&cfg);
}
END_TEST

START_TEST(test_env)
{
    gc_config cfg;
    char *env[] = {"PATH=/bin",
                   "KAFKA_LOG_RETENTION_MS=1234",
                   "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
                   "KAFKA_FOO__BAR___BAZ=1",
                   "KAFKA_BOOTSTRAP_SERVERS=localhost:9092",
                   "KAFKA_HEAP_OPTS=-Xmx1G",
                   "KAFKA_OPTS=-Dx=y",
                   "KAFKA_JMX_PORT=9999",
                   "KAFKA_VERSION=4.0.0",
                   "KAFKA_LISTENERS=PLAINTEXT://:19092",
                   "NOT_KAFKA_NUM_PARTITIONS=9",
                   "KAFKA_NOEQUALS",
                   NULL};
    ck_assert_int_eq(load(&cfg, NULL, env, 0, NULL), 0);
    ck_assert_int_eq(cfg.log_retention_ms, 1234);
    ck_assert(!cfg.auto_create_topics_enable);
    ck_assert_str_eq(cfg.listeners, "PLAINTEXT://:19092");
    ck_assert_int_eq(cfg.num_partitions, 1);
    ck_assert_int_eq(g_nwarn, 2);
    ck_assert_str_eq(
        g_warn,
        "ignoring environment variable KAFKA_FOO__BAR___BAZ: unknown configuration key 'foo_bar-baz'\n"
        "ignoring environment variable KAFKA_BOOTSTRAP_SERVERS: unknown configuration key 'bootstrap.servers'\n");
    gc_config_free(&cfg);

    /* Without a callback, unknown variables are skipped silently. */
    ck_assert_int_eq(gc_config_load(&cfg, NULL, env, 0, NULL, NULL, NULL, g_err, sizeof g_err), 0);
    gc_config_free(&cfg);

    /* A bad value in a known key is an error naming the variable and the key. */
    char *bad[] = {"KAFKA_NUM_PARTITIONS=many", NULL};
    load_fails(NULL, bad, 0, NULL,
               "environment variable KAFKA_NUM_PARTITIONS: invalid value 'many' for 'num.partitions': not an integer");
}
END_TEST

START_TEST(test_unknown_key_in_file)
{
    gc_config cfg;
    char want[1024];
    ck_assert_int_eq(load(&cfg, "num.partitions=1\n\nfoo.bar=2\n", NULL, 0, NULL), -1);
    snprintf(want, sizeof want, "%s:3: unknown configuration key 'foo.bar'", g_path);
    ck_assert_str_eq(g_err, want);

    /* Line numbers count continuation lines; the entry's first line is named. */
    ck_assert_int_eq(load(&cfg, "listeners=a,\\\n  b\n#\nnope\\\n =1\n", NULL, 0, NULL), -1);
    snprintf(want, sizeof want, "%s:4: unknown configuration key 'nope'", g_path);
    ck_assert_str_eq(g_err, want);
}
END_TEST

/* One bad line each, and the reason the message must give. */
static const struct {
    const char *line, *why;
} bad_values[] = {
    {"num.partitions=abc", "invalid value 'abc' for 'num.partitions': not an integer"},
    {"num.partitions=12x", "not an integer"},
    {"num.partitions=1.5", "not an integer"},
    {"num.partitions=", "invalid value '' for 'num.partitions': not an integer"},
    {"num.partitions=-", "not an integer"},
    {"num.partitions=0x10", "not an integer"},
    {"num.partitions=2147483648", "not a 32-bit integer"},
    {"log.retention.bytes=9223372036854775808", "not a 64-bit integer"},
    {"log.retention.bytes=99999999999999999999999", "not a 64-bit integer"},
    {"default.replication.factor=40000", "not a 16-bit integer"},
    {"num.partitions=0", "invalid value '0' for 'num.partitions': must be at least 1"},
    {"log.segment.bytes=13", "must be at least 14"},
    {"node.id=-1", "must be at least 0"},
    {"auto.create.topics.enable=yes", "invalid value 'yes' for 'auto.create.topics.enable': must be true or false"},
    {"compression.type=brotli", "must be one of producer, uncompressed, gzip, snappy, lz4, zstd"},
    {"log.message.timestamp.type=createtime", "must be one of CreateTime, LogAppendTime"},
    {"log.cleanup.policy=delete,foo", "each item must be one of delete, compact"},
    {"log.roll.ms=0", "must be at least 1"},
    {"log.dir=\\u12", "malformed \\uxxxx escape"},
    {"log.dir=\\u0000", "malformed \\uxxxx escape"},
};

START_TEST(test_bad_values)
{
    gc_config cfg;
    char text[256], want[1536];
    snprintf(text, sizeof text, "\n%s\n", bad_values[_i].line);
    ck_assert_int_eq(load(&cfg, text, NULL, 0, NULL), -1);
    snprintf(want, sizeof want, "%s:2: ", g_path);
    ck_assert_msg(strncmp(g_err, want, strlen(want)) == 0, "'%s' does not start with '%s'", g_err, want);
    ck_assert_msg(strstr(g_err, bad_values[_i].why), "'%s' lacks '%s'", g_err, bad_values[_i].why);
}
END_TEST

START_TEST(test_missing_file)
{
    gc_config cfg;
    ck_assert_int_eq(
        gc_config_load(&cfg, "/nonexistent/server.properties", NULL, 0, NULL, NULL, NULL, g_err, sizeof g_err), -1);
    ck_assert_str_eq(g_err, "/nonexistent/server.properties: No such file or directory");
}
END_TEST

START_TEST(test_overrides)
{
    gc_config cfg;
    char *ok[] = {" num.partitions = 9 ", "log.dirs=/a"};
    ck_assert_int_eq(load(&cfg, NULL, NULL, 2, ok), 0);
    ck_assert_int_eq(cfg.num_partitions, 9);
    ck_assert_str_eq(gc_config_log_dir(&cfg), "/a");
    gc_config_free(&cfg);

    char *noeq[] = {"num.partitions"}, *unknown[] = {"nope=1"}, *bad[] = {"num.partitions=x"};
    load_fails(NULL, NULL, 1, noeq, "--override 'num.partitions': expected key=value");
    load_fails(NULL, NULL, 1, unknown, "--override: unknown configuration key 'nope'");
    load_fails(NULL, NULL, 1, bad, "--override: invalid value 'x' for 'num.partitions': not an integer");
}
END_TEST

START_TEST(test_synonyms)
{
    gc_config cfg;
    ck_assert_int_eq(load(&cfg, "broker.id=5\n", NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.node_id, 5);
    ck_assert_int_eq(gc_config_value_source(&cfg, GC_K_node_id), GC_SRC_FILE);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "node.id=6\n", NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.broker_id, 6);
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "node.id=7\nbroker.id=7\n", NULL, 0, NULL), 0);
    ck_assert_int_eq(cfg.node_id, 7);
    gc_config_free(&cfg);

    char want[1536];
    ck_assert_int_eq(load(&cfg, "broker.id=5\nnode.id=6\n", NULL, 0, NULL), -1);
    snprintf(want, sizeof want, "%s:1: broker.id 5 differs from node.id 6 (%s:2); they are synonyms", g_path, g_path);
    ck_assert_msg(strstr(g_err, want), "'%s' lacks '%s'", g_err, want);

    char *env[] = {"KAFKA_BROKER_ID=5", NULL}, *ov[] = {"node.id=6"};
    load_fails(NULL, env, 1, ov,
               "environment variable KAFKA_BROKER_ID: broker.id 5 differs from node.id 6 (--override)");
}
END_TEST

START_TEST(test_cross_checks)
{
    gc_config cfg;
    ck_assert_int_eq(load(&cfg, "log.dir=/x\n", NULL, 0, NULL), 0);
    ck_assert_str_eq(gc_config_log_dir(&cfg), "/x");
    gc_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "log.dir=/x\nlog.dirs= /y ,\n", NULL, 0, NULL), 0);
    ck_assert_str_eq(gc_config_log_dir(&cfg), "/y");
    gc_config_free(&cfg);
    load_fails("log.dirs=/a,/b\n", NULL, 0, NULL,
               ":1: log.dirs lists several directories '/a,/b', but Gregor stores its data in one directory");
    load_fails("log.dirs=\n", NULL, 0, NULL, ":1: log.dirs is empty");
    load_fails("log.dir=\n", NULL, 0, NULL, ":1: log.dir is empty");

    load_fails("default.replication.factor=3\n", NULL, 0, NULL,
               ":1: invalid value '3' for 'default.replication.factor': a single node has one replica");

    ck_assert_int_eq(load(&cfg, "group.min.session.timeout.ms=5\ngroup.max.session.timeout.ms=5\n", NULL, 0, NULL), 0);
    gc_config_free(&cfg);
    load_fails(
        "group.min.session.timeout.ms=2000000\n", NULL, 0, NULL,
        ":1: group.min.session.timeout.ms 2000000 is greater than group.max.session.timeout.ms 1800000 (default)");
}
END_TEST

START_TEST(test_retention)
{
    static const struct {
        const char *text;
        int64_t retention, roll;
    } cases[] = {
        {"", INT64_C(604800000), INT64_C(604800000)},
        {"log.retention.hours=1\nlog.roll.hours=2\n", 3600000, 7200000},
        {"log.retention.hours=1\nlog.retention.minutes=2\n", 120000, INT64_C(604800000)},
        {"log.retention.minutes=2\nlog.retention.ms=5\nlog.roll.ms=10\nlog.roll.hours=1\n", 5, 10},
        {"log.retention.ms=-1\n", -1, INT64_C(604800000)},
        {"log.retention.ms=-7\n", -1, INT64_C(604800000)},
        {"log.retention.hours=-1\n", -1, INT64_C(604800000)},
        {"log.retention.hours=2147483647\n", INT64_C(2147483647) * 3600000, INT64_C(604800000)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gc_config cfg;
        ck_assert_int_eq(load(&cfg, cases[i].text, NULL, 0, NULL), 0);
        ck_assert_int_eq(gc_config_retention_ms(&cfg), cases[i].retention);
        ck_assert_int_eq(gc_config_roll_ms(&cfg), cases[i].roll);
        gc_config_free(&cfg);
    }
}
END_TEST

/* Dynamic values on a copy of a loaded config: parsed like any other value,
 * their source kept, the static config untouched; only changed fields move
 * into the destination, so an unchanged string keeps its address. */
START_TEST(test_dynamic)
{
    gc_config st, eff, next;
    ck_assert_int_eq(load(&st, "log.retention.hours=1\nlisteners=PLAINTEXT://:9\n", NULL, 0, NULL), 0);
    gc_config_copy(&eff, &st);
    const char *listeners = eff.listeners;
    int rk = gc_config_key_find("log.retention.ms"), sk = gc_config_key_find("log.segment.bytes");
    ck_assert_int_ge(rk, 0);
    ck_assert_int_ge(sk, 0);
    ck_assert(gc_config_key((size_t)rk)->flags & GC_F_DYNAMIC);
    ck_assert(!(gc_config_key((size_t)gc_config_key_find("node.id"))->flags & GC_F_DYNAMIC));
    ck_assert_int_eq(gc_config_key_find("no.such.key"), -1);

    gc_config_copy(&next, &eff);
    char why[256];
    ck_assert_int_eq(gc_config_set_dynamic(&next, (size_t)rk, " 5000 ", GC_SRC_DYNAMIC_DEFAULT, why, sizeof why), 0);
    ck_assert_int_eq(gc_config_set_dynamic(&next, (size_t)sk, "abc", GC_SRC_DYNAMIC_BROKER, why, sizeof why), -1);
    ck_assert_str_eq(why, "not an integer");
    ck_assert_int_eq(next.log_segment_bytes, 1073741824);
    gc_config_take_changes(&eff, &next);
    ck_assert_int_eq(gc_config_retention_ms(&eff), 5000);
    ck_assert_int_eq(gc_config_value_source(&eff, (size_t)rk), GC_SRC_DYNAMIC_DEFAULT);
    ck_assert_ptr_eq(eff.listeners, listeners);
    ck_assert_int_eq(gc_config_retention_ms(&st), 3600000);
    ck_assert_int_eq(gc_config_value_source(&st, (size_t)rk), GC_SRC_DEFAULT);

    /* Back to the static value: the source goes back too. */
    gc_config_copy(&next, &st);
    gc_config_take_changes(&eff, &next);
    ck_assert_int_eq(gc_config_retention_ms(&eff), 3600000);
    ck_assert(eff.isnull[rk]);
    ck_assert_int_eq(gc_config_value_source(&eff, (size_t)rk), GC_SRC_DEFAULT);
    gc_config_free(&eff);
    gc_config_free(&st);
}
END_TEST

START_TEST(test_ignored_keys)
{
    gc_config cfg;
    ck_assert_int_eq(load(&cfg,
                          "process.roles=broker,controller\nnum.io.threads=lots\n"
                          "zookeeper.connect=zk:2181/kafka\nmin.insync.replicas=2\n",
                          NULL, 0, NULL),
                     0);
    ck_assert_str_eq(cfg.process_roles, "broker,controller");
    ck_assert_str_eq(text_of(&cfg, "num.io.threads"), "lots");
    ck_assert_str_eq(cfg.zookeeper_connect, "zk:2181/kafka");
    ck_assert(gc_config_key(key_index("min.insync.replicas"))->flags & GC_F_IGNORED);
    ck_assert(!(gc_config_key(key_index("num.partitions"))->flags & GC_F_IGNORED));
    gc_config_free(&cfg);
}
END_TEST

START_TEST(test_help)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    gc_config_print_help(f);
    fclose(f);
    for (size_t i = 0; i < gc_config_key_count(); i++)
        ck_assert_msg(strstr(text, gc_config_key(i)->name), "help lacks %s", gc_config_key(i)->name);
    ck_assert(strstr(text, "  num.partitions (int, default 1, valid [1,...])\n      The default number"));
    free(text);
}
END_TEST

START_TEST(test_markdown_is_current)
{
    const char *root = getenv("GREGOR_SOURCE_ROOT");
    ck_assert_msg(root && *root, "GREGOR_SOURCE_ROOT must name the repository root");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/docs/configuration.md", root);

    char *want = NULL, *have = NULL;
    size_t wlen = 0, hlen = 0;
    FILE *f = open_memstream(&want, &wlen);
    gc_config_print_markdown(f);
    fclose(f);

    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    FILE *m = open_memstream(&have, &hlen);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    ck_assert_msg(hlen == wlen && memcmp(have, want, wlen) == 0,
                  "%s differs from gc_config_print_markdown(); regenerate it with "
                  "build/broker/gregor --print-config-docs > docs/configuration.md",
                  path);
    free(want);
    free(have);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_syntax);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_env);
    tcase_add_test(tc, test_unknown_key_in_file);
    tcase_add_loop_test(tc, test_bad_values, 0, (int)(sizeof bad_values / sizeof bad_values[0]));
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_synonyms);
    tcase_add_test(tc, test_cross_checks);
    tcase_add_test(tc, test_retention);
    tcase_add_test(tc, test_dynamic);
    tcase_add_test(tc, test_ignored_keys);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_markdown_is_current);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
