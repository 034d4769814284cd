/*
 * Unit tests of the group configs (config/gc_group): the ISO-8601 durations
 * share.auto.offset.reset takes (each as Kafka 4.4 answered it), the text kept for a value, defaults and
 * bounds that follow the broker keys, and the order of the checks. The
 * messages themselves are compared with Kafka's by
 * tests/integration/test_alter_configs.py.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config/gc_group.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char g_msg[2048];

static void broker_load(gc_config *b, int n, char *const *ov)
{
    char err[512];
    ck_assert_msg(gc_config_load(b, NULL, NULL, n, ov, NULL, NULL, err, sizeof err) == 0, "broker: %s", err);
}

static int check1(const gc_config *b, const char *key, const char *value)
{
    const gc_kv kv = {key, value};
    g_msg[0] = '\0';
    return gc_group_config_check(b, &kv, 1, g_msg, sizeof g_msg);
}

static size_t key(const char *name)
{
    int i = gc_group_key_find(name);
    ck_assert_msg(i >= 0, "no group key %s", name);
    return (size_t)i;
}

static const struct {
    const char *value;
    int ok;
} resets[] = {
    {"earliest", 1},
    {"latest", 1},
    {" latest ", 1},
    {"by_duration:PT1H", 1},
    {"by_duration:P1D", 1},
    {"by_duration:P1DT2H3M4.5S", 1},
    {"by_duration:pt30m", 1},
    {"by_duration:PT0.123456789S", 1},
    {"by_duration:+PT1H", 1},
    {"by_duration:", 0},
    {"by_duration:P", 0},
    {"by_duration:PT", 0},
    {"by_duration:P1H", 0},
    {"by_duration:PT1D", 0},
    {"by_duration:-PT1H", 0},
    {"by_duration:PT-1H", 0},
    {"by_duration:PT1M1H", 0},
    {"by_duration:PT1.5M", 0},
    {"by_duration:PT0.1234567891S", 0},
    {"by_duration:P1W", 0},
    {"EARLIEST", 0},
    {"none", 0},
    {"", 0},
};

START_TEST(test_auto_offset_reset)
{
    gc_config b;
    broker_load(&b, 0, NULL);
    ck_assert_msg((check1(&b, "share.auto.offset.reset", resets[_i].value) == 0) == resets[_i].ok, "%s: %s",
                  resets[_i].value, g_msg);
    gc_config_free(&b);
}
END_TEST

START_TEST(test_canonical_text)
{
    char buf[256];
    ck_assert_str_eq(gc_group_value_canonical(key("consumer.session.timeout.ms"), " 050000 ", buf, sizeof buf),
                     "50000");
    ck_assert_str_eq(gc_group_value_canonical(key("share.renew.acknowledge.enable"), "TRUE", buf, sizeof buf), "true");
    ck_assert_str_eq(gc_group_value_canonical(key("streams.rack.aware.assignment.tags"), " a , b", buf, sizeof buf),
                     "a,b");
    ck_assert_str_eq(gc_group_value_canonical(key("streams.rack.aware.assignment.tags"), "", buf, sizeof buf), "");
    ck_assert_str_eq(gc_group_value_canonical(key("errors.deadletterqueue.topic.name"), " dlq ", buf, sizeof buf),
                     "dlq");
}
END_TEST

/* Defaults and bounds are the broker's, whatever it was started with. */
START_TEST(test_broker_keys)
{
    gc_config b;
    char *ov[] = {"group.consumer.session.timeout.ms=50000", "group.consumer.min.session.timeout.ms=10000",
                  "group.streams.assignors=mine,sticky"};
    broker_load(&b, 3, ov);
    char buf[256];
    ck_assert_str_eq(gc_group_default_text(&b, key("consumer.session.timeout.ms"), buf, sizeof buf), "50000");
    ck_assert_str_eq(gc_group_default_text(&b, key("streams.assignor.name"), buf, sizeof buf), "mine");
    ck_assert_str_eq(gc_group_default_text(&b, key("share.isolation.level"), buf, sizeof buf), "read_uncommitted");
    ck_assert_int_eq(check1(&b, "consumer.session.timeout.ms", "10000"), 0);
    ck_assert_int_eq(check1(&b, "consumer.session.timeout.ms", "9999"), -1);
    ck_assert_str_eq(g_msg, "consumer.session.timeout.ms must be in the range 10000 to 60000 inclusive.");
    ck_assert_int_eq(check1(&b, "streams.assignor.name", "sticky"), 0);
    ck_assert_int_eq(check1(&b, "streams.assignor.name", "x"), -1);
    ck_assert_str_eq(g_msg,
                     "streams.assignor.name 'x' is not a registered task assignor. Registered assignors are: [mine, "
                     "sticky].");
    gc_config_free(&b);
}
END_TEST

/* Unknown keys first, then every value's type, then the bounds in the
 * table's (Kafka's) order, whatever the request's order. */
START_TEST(test_check_order)
{
    gc_config b;
    broker_load(&b, 0, NULL);
    const gc_kv bounds[] = {{"streams.session.timeout.ms", "1"}, {"consumer.session.timeout.ms", "1"}};
    ck_assert_int_eq(gc_group_config_check(&b, bounds, 2, g_msg, sizeof g_msg), -1);
    ck_assert_str_eq(g_msg, "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.");
    const gc_kv types[] = {{"consumer.session.timeout.ms", "1"}, {"streams.num.standby.replicas", "-1"}};
    ck_assert_int_eq(gc_group_config_check(&b, types, 2, g_msg, sizeof g_msg), -1);
    ck_assert_str_eq(g_msg,
                     "Invalid value -1 for configuration streams.num.standby.replicas: Value must be at least 0");
    const gc_kv unknown[] = {{"consumer.session.timeout.ms", "x"}, {"nokey", "1"}};
    ck_assert_int_eq(gc_group_config_check(&b, unknown, 2, g_msg, sizeof g_msg), -1);
    ck_assert_str_eq(g_msg, "Unknown group config name: nokey");
    ck_assert_int_eq(check1(&b, "consumer.session.timeout.ms", "2147483648"), -1);
    ck_assert_int_eq(check1(&b, "streams.rack.aware.assignment.tags", "a,,b"), -1);
    ck_assert_int_eq(check1(&b, "streams.rack.aware.assignment.tags", ""), 0);
    ck_assert_int_eq(gc_group_config_check(&b, NULL, 0, g_msg, sizeof g_msg), 0);
    gc_config_free(&b);
}
END_TEST

START_TEST(test_introspection)
{
    ck_assert_int_eq(gc_group_key_count(), 21);
    ck_assert_ptr_null(gc_group_key(21));
    ck_assert_int_eq(gc_group_key_find("session.timeout.ms"), -1);
    for (size_t i = 0; i < gc_group_key_count(); i++) {
        const gc_group_key_info *k = gc_group_key(i);
        ck_assert_msg(k->broker_key ? gc_config_key_find(k->broker_key) >= 0 : k->default_text != NULL, "%s",
                      k->name);
        ck_assert(k->doc && *k->doc);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("group_config");
    TCase *tc = tcase_create("group_config");
    tcase_add_loop_test(tc, test_auto_offset_reset, 0, (int)COUNT(resets));
    tcase_add_test(tc, test_canonical_text);
    tcase_add_test(tc, test_broker_keys);
    tcase_add_test(tc, test_check_order);
    tcase_add_test(tc, test_introspection);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
