/*
 * Every message of every API at every version: fill with pseudo-random
 * values valid at that version, encode, check the size function agrees,
 * decode, re-encode and compare the bytes. Then every strict prefix of the
 * encoding must fail to decode or decode to something that re-encodes
 * differently (never crash, never read past the end) — the decoders'
 * bounds checks, exercised at each byte.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/gp_messages.h"

#define ROUNDS 12

static int roundtrip_one(const gpt_message *m, int16_t v, uint64_t seed)
{
    const gp_api *api = m->api;
    const gp_msg_ops *ops = m->is_request ? &api->request : &api->response;
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    void *msg = gp_arena_alloc(&a, ops->size_of);
    uint64_t rng = seed;
    m->fill(&a, v, msg, &rng);
    size_t n = ops->size(v, msg);
    uint8_t *buf = malloc(n ? n : 1);
    gp_writer w;
    gp_writer_init(&w, buf, n);
    ops->encode(&w, v, msg);
    ck_assert_msg(w.p == w.end, "%s %s v%d: encode wrote %zu of %zu bytes", api->name,
                  m->is_request ? "request" : "response", v, (size_t)(w.p - buf), n);

    void *back = gp_arena_alloc(&a, ops->size_of);
    gp_reader r;
    gp_reader_init(&r, buf, n);
    int rc = ops->decode(&r, &a, v, back);
    ck_assert_msg(rc == 0, "%s %s v%d: decode failed: %s", api->name, m->is_request ? "request" : "response", v,
                  gp_strerror(rc));
    ck_assert_msg(gp_reader_left(&r) == 0, "%s v%d: %zu bytes left after decode", api->name, v, gp_reader_left(&r));
    size_t n2 = ops->size(v, back);
    ck_assert_msg(n2 == n, "%s %s v%d: size %zu after round trip, was %zu", api->name,
                  m->is_request ? "request" : "response", v, n2, n);
    uint8_t *buf2 = malloc(n ? n : 1);
    gp_writer_init(&w, buf2, n);
    ops->encode(&w, v, back);
    ck_assert_msg(memcmp(buf, buf2, n) == 0, "%s %s v%d: bytes differ after round trip", api->name,
                  m->is_request ? "request" : "response", v);

    /* Truncations: each prefix, copied to a buffer of exactly its size so
     * that ASan catches any read past the end. */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        gp_reader_init(&r, p, cut);
        void *t = gp_arena_alloc(&a, ops->size_of);
        (void)ops->decode(&r, &a, v, t);
        free(p);
    }
    free(buf);
    free(buf2);
    gp_arena_reset(&a, NULL, 0);
    return 0;
}

START_TEST(test_all_messages_all_versions)
{
    size_t checked = 0;
    for (size_t i = 0; i < gpt_message_count; i++) {
        const gpt_message *m = &gpt_messages[i];
        for (int16_t v = m->api->min_version; v <= m->api->max_version; v++)
            for (uint64_t seed = 1; seed <= ROUNDS; seed++) {
                roundtrip_one(m, v, seed * 7919 + (uint64_t)i * 104729 + (uint64_t)v);
                checked++;
            }
    }
    printf("round trips: %zu (%zu messages)\n", checked, gpt_message_count);
    ck_assert_uint_gt(checked, 0);
}
END_TEST

START_TEST(test_unknown_version_refused)
{
    for (size_t i = 0; i < gp_api_count; i++) {
        const gp_api *api = &gp_apis[i];
        gp_arena a;
        gp_arena_init(&a, NULL, 0);
        void *msg = gp_arena_alloc(&a, api->request.size_of);
        gp_reader r;
        gp_reader_init(&r, "", 0);
        ck_assert_int_eq(api->request.decode(&r, &a, (int16_t)(api->max_version + 1), msg), GP_ERR_VERSION);
        gp_arena_reset(&a, NULL, 0);
    }
}
END_TEST

START_TEST(test_api_table)
{
    ck_assert_ptr_null(gp_api_get(-1));
    ck_assert_ptr_null(gp_api_get(32000));
    const gp_api *api = gp_api_get(GP_API_METADATA);
    ck_assert_ptr_nonnull(api);
    ck_assert_str_eq(api->name, "Metadata");
    ck_assert_int_eq(api->flexible_min, 9);
    for (size_t i = 1; i < gp_api_count; i++)
        ck_assert_int_lt(gp_apis[i - 1].key, gp_apis[i].key);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roundtrip");
    TCase *tc = tcase_create("messages");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_all_messages_all_versions);
    tcase_add_test(tc, test_unknown_version_refused);
    tcase_add_test(tc, test_api_table);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
