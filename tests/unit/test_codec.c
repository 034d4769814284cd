/*
 * Wire primitives: fixed ints, varints (zigzag and unsigned, edge values and
 * malformed encodings), classic and compact strings/bytes/arrays with their
 * null forms, the sticky reader error, counts bounded by the bytes left,
 * tagged-field skipping in headers, CRC-32C against known vectors.
 */
#include <check.h>
#include <stdlib.h>

#include "protocol/gp_codec.h"
#include "protocol/gp_crc32c.h"
#include "protocol/gp_header.h"

START_TEST(test_fixed_ints)
{
    uint8_t buf[64];
    gp_writer w;
    gp_writer_init(&w, buf, sizeof buf);
    gp_write_int8(&w, -2);
    gp_write_int16(&w, -300);
    gp_write_int32(&w, INT32_MIN);
    gp_write_int64(&w, INT64_MAX);
    gp_write_uint16(&w, 65535);
    gp_write_bool(&w, true);
    gp_write_float64(&w, 1.5);
    size_t n = (size_t)(w.p - buf);
    ck_assert_uint_eq(n, 1 + 2 + 4 + 8 + 2 + 1 + 8);
    ck_assert_uint_eq(buf[1], 0xfe); /* big-endian */
    ck_assert_uint_eq(buf[2], 0xd4);
    gp_reader r;
    gp_reader_init(&r, buf, n);
    ck_assert_int_eq(gp_read_int8(&r), -2);
    ck_assert_int_eq(gp_read_int16(&r), -300);
    ck_assert_int_eq(gp_read_int32(&r), INT32_MIN);
    ck_assert(gp_read_int64(&r) == INT64_MAX);
    ck_assert_uint_eq(gp_read_uint16(&r), 65535);
    ck_assert(gp_read_bool(&r));
    ck_assert(gp_read_float64(&r) == 1.5);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_eq(gp_reader_left(&r), 0);
}
END_TEST

START_TEST(test_varints)
{
    static const int32_t vals[] = {0, 1, -1, 63, -64, 64, -65, 8191, -8192, INT32_MAX, INT32_MIN};
    static const int64_t lvals[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1LL << 40, -(1LL << 40)};
    uint8_t buf[16];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        gp_writer w;
        gp_writer_init(&w, buf, sizeof buf);
        gp_write_varint(&w, vals[i]);
        ck_assert_uint_eq((size_t)(w.p - buf), gp_size_varint(vals[i]));
        gp_reader r;
        gp_reader_init(&r, buf, (size_t)(w.p - buf));
        ck_assert_int_eq(gp_read_varint(&r), vals[i]);
        ck_assert_int_eq(r.err, 0);
    }
    for (size_t i = 0; i < sizeof lvals / sizeof lvals[0]; i++) {
        gp_writer w;
        gp_writer_init(&w, buf, sizeof buf);
        gp_write_varlong(&w, lvals[i]);
        ck_assert_uint_eq((size_t)(w.p - buf), gp_size_varlong(lvals[i]));
        gp_reader r;
        gp_reader_init(&r, buf, (size_t)(w.p - buf));
        ck_assert(gp_read_varlong(&r) == lvals[i]);
        ck_assert_int_eq(r.err, 0);
    }
    /* zigzag: -1 is 1, 1 is 2, as Kafka encodes record fields */
    gp_writer w;
    gp_writer_init(&w, buf, sizeof buf);
    gp_write_varint(&w, -1);
    gp_write_varint(&w, 1);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_uint_eq(buf[1], 2);
    /* unsigned 300 = ac 02 */
    gp_writer_init(&w, buf, sizeof buf);
    gp_write_uvarint(&w, 300);
    ck_assert_uint_eq(buf[0], 0xac);
    ck_assert_uint_eq(buf[1], 0x02);
}
END_TEST

START_TEST(test_varint_malformed)
{
    /* six continuation bytes: longer than any int32 */
    static const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    gp_reader r;
    gp_reader_init(&r, too_long, sizeof too_long);
    gp_read_uvarint(&r);
    ck_assert_int_eq(r.err, GP_ERR_VARINT);
    /* fifth byte with bits above 32 */
    static const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    gp_reader_init(&r, overflow, sizeof overflow);
    gp_read_uvarint(&r);
    ck_assert_int_eq(r.err, GP_ERR_VARINT);
    static const uint8_t max32[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    gp_reader_init(&r, max32, sizeof max32);
    ck_assert_uint_eq(gp_read_uvarint(&r), UINT32_MAX);
    ck_assert_int_eq(r.err, 0);
    /* truncated */
    static const uint8_t cut[] = {0x80, 0x80};
    gp_reader_init(&r, cut, sizeof cut);
    gp_read_varlong(&r);
    ck_assert_int_eq(r.err, GP_ERR_TRUNCATED);
    /* eleven bytes for a varlong */
    static const uint8_t long11[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    gp_reader_init(&r, long11, sizeof long11);
    gp_read_uvarlong(&r);
    ck_assert_int_eq(r.err, GP_ERR_VARINT);
}
END_TEST

START_TEST(test_strings)
{
    uint8_t buf[64];
    for (int compact = 0; compact <= 1; compact++) {
        gp_writer w;
        gp_writer_init(&w, buf, sizeof buf);
        gp_write_string(&w, compact, GP_STR_LIT("kafka"));
        gp_write_string(&w, compact, GP_STR_NULL);
        gp_write_string(&w, compact, GP_STR_LIT(""));
        gp_bytes b = {(const uint8_t *)"\x00\x01", 2};
        gp_write_bytes(&w, compact, b);
        gp_write_bytes(&w, compact, (gp_bytes){NULL, -1});
        size_t n = (size_t)(w.p - buf);
        ck_assert_uint_eq(n, gp_size_string(compact, GP_STR_LIT("kafka")) + gp_size_string(compact, GP_STR_NULL) +
                                 gp_size_string(compact, GP_STR_LIT("")) + gp_size_bytes(compact, b) +
                                 gp_size_bytes(compact, (gp_bytes){NULL, -1}));
        gp_reader r;
        gp_reader_init(&r, buf, n);
        ck_assert(gp_str_eq_c(gp_read_string(&r, compact, false), "kafka"));
        ck_assert_int_eq(gp_read_string(&r, compact, true).len, -1);
        ck_assert_int_eq(gp_read_string(&r, compact, false).len, 0);
        gp_bytes rb = gp_read_bytes(&r, compact, false);
        ck_assert_int_eq(rb.len, 2);
        ck_assert_int_eq(gp_read_bytes(&r, compact, true).len, -1);
        ck_assert_int_eq(r.err, 0);
        /* null where the schema forbids it */
        gp_reader_init(&r, buf, n);
        gp_read_string(&r, compact, false);
        gp_read_string(&r, compact, false);
        ck_assert_int_eq(r.err, GP_ERR_NULL);
    }
    /* classic: "kafka" is 00 05 'k'... */
    ck_assert_uint_eq(buf[0], 6); /* compact: length + 1 */
}
END_TEST

START_TEST(test_counts_bounded)
{
    /* An array claiming 1000 elements in 8 bytes is refused before allocating. */
    uint8_t buf[8] = {0, 0, 0x03, 0xe8, 1, 2, 3, 4};
    gp_reader r;
    gp_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(gp_read_array_len(&r, false, false), 0);
    ck_assert_int_eq(r.err, GP_ERR_COUNT);
    /* a string longer than the frame */
    uint8_t s[4] = {0, 10, 'a', 'b'};
    gp_reader_init(&r, s, sizeof s);
    gp_read_string(&r, false, false);
    ck_assert_int_eq(r.err, GP_ERR_COUNT);
    /* negative lengths other than -1 */
    uint8_t neg[4] = {0xff, 0xff, 0xff, 0xfe};
    gp_reader_init(&r, neg, sizeof neg);
    gp_read_array_len(&r, false, true);
    ck_assert_int_eq(r.err, GP_ERR_COUNT);
    /* compact null array: 0 */
    uint8_t z[1] = {0};
    gp_reader_init(&r, z, 1);
    ck_assert_int_eq(gp_read_array_len(&r, true, true), -1);
    ck_assert_int_eq(r.err, 0);
}
END_TEST

START_TEST(test_sticky_error)
{
    uint8_t buf[3] = {1, 2, 3};
    gp_reader r;
    gp_reader_init(&r, buf, sizeof buf);
    gp_read_int32(&r);
    ck_assert_int_eq(r.err, GP_ERR_TRUNCATED);
    /* every later read returns zero, even one that would fit */
    ck_assert_int_eq(gp_read_int8(&r), 0);
    ck_assert_int_eq(gp_read_string(&r, false, true).len, 0);
    ck_assert_int_eq(r.err, GP_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_request_header)
{
    uint8_t buf[64];
    gp_request_header h = {3, 12, 42, GP_STR_LIT("rdkafka")}, got;
    for (int hv = 1; hv <= 2; hv++) {
        gp_writer w;
        gp_writer_init(&w, buf, sizeof buf);
        gp_request_header_write(&w, hv, &h);
        ck_assert_uint_eq((size_t)(w.p - buf), gp_request_header_size(hv, &h));
        gp_reader r;
        gp_reader_init(&r, buf, (size_t)(w.p - buf));
        ck_assert_int_eq(gp_request_header_read(&r, hv, &got), 0);
        ck_assert_int_eq(got.api_key, 3);
        ck_assert_int_eq(got.api_version, 12);
        ck_assert_int_eq(got.correlation_id, 42);
        ck_assert(gp_str_eq_c(got.client_id, "rdkafka"));
    }
    /* v2 with unknown tagged fields: skipped */
    static const uint8_t tagged[] = {0, 3, 0, 12, 0, 0, 0, 7, 0xff, 0xff, 2, 5, 1, 0xaa, 9, 2, 0xbb, 0xcc};
    gp_reader r;
    gp_reader_init(&r, tagged, sizeof tagged);
    ck_assert_int_eq(gp_request_header_read(&r, 2, &got), 0);
    ck_assert_int_eq(got.client_id.len, -1);
    ck_assert_uint_eq(gp_reader_left(&r), 0);
    /* a tagged field longer than the frame */
    static const uint8_t bad[] = {0, 3, 0, 12, 0, 0, 0, 7, 0xff, 0xff, 1, 5, 30, 0xaa};
    gp_reader_init(&r, bad, sizeof bad);
    ck_assert_int_lt(gp_request_header_read(&r, 2, &got), 0);
}
END_TEST

START_TEST(test_crc32c)
{
    /* RFC 3720 B.4 vectors and the classic check value. */
    ck_assert_uint_eq(gp_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    ck_assert_uint_eq(gp_crc32c(0, zeros, 32), 0x8A9136AAu);
    ck_assert_uint_eq(gp_crc32c(0, ones, 32), 0x62A8AB43u);
    ck_assert_uint_eq(gp_crc32c(0, inc, 32), 0x46DD794Eu);
    /* ISA-L and the tables agree at every short length and alignment, and
     * over the long inputs that take ISA-L's folding loops; chaining equals
     * one pass */
    static uint8_t big[200003];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 131 + 7 + (i >> 9));
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= 1031; len += 37)
            ck_assert_uint_eq(gp_crc32c(0, big + off, len), gp_crc32c_sw(0, big + off, len));
    for (size_t off = 0; off < 3; off++)
        for (size_t len = 1031; len + off <= sizeof big; len = len * 3 + 1)
            ck_assert_uint_eq(gp_crc32c(0, big + off, len), gp_crc32c_sw(0, big + off, len));
    uint32_t c = gp_crc32c(0, big, 500);
    ck_assert_uint_eq(gp_crc32c(c, big + 500, 531), gp_crc32c(0, big, 1031));
    c = gp_crc32c(0, big, 70001);
    ck_assert_uint_eq(gp_crc32c(c, big + 70001, sizeof big - 70001), gp_crc32c_sw(0, big, sizeof big));
}
END_TEST

START_TEST(test_arena)
{
    uint8_t first[256];
    gp_arena a;
    gp_arena_init(&a, first, sizeof first);
    void *p1 = gp_arena_alloc(&a, 10);
    ck_assert_ptr_nonnull(p1);
    ck_assert_uint_eq((uintptr_t)p1 % 16, 0);
    void *big = gp_arena_alloc(&a, 100000); /* beyond the first block */
    memset(big, 1, 100000);
    for (int i = 0; i < 1000; i++)
        memset(gp_arena_alloc(&a, 100), 2, 100);
    char *s = gp_arena_printf(&a, "%s-%d", "x", 42);
    ck_assert_str_eq(s, "x-42");
    gp_arena_reset(&a, first, sizeof first);
    ck_assert_ptr_null(a.blocks);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("primitives");
    tcase_add_test(tc, test_fixed_ints);
    tcase_add_test(tc, test_varints);
    tcase_add_test(tc, test_varint_malformed);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_counts_bounded);
    tcase_add_test(tc, test_sticky_error);
    tcase_add_test(tc, test_request_header);
    tcase_add_test(tc, test_crc32c);
    tcase_add_test(tc, test_arena);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
