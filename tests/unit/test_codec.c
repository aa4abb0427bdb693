#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "onramp/codec.h"
#include "onramp/error.h"

#define CHECK(expected, ...)                                                    \
    do {                                                                        \
        static const uint8_t in_[] = {__VA_ARGS__};                             \
        assert_onr(expected, onr_codec_check(in_, sizeof(in_), NULL));          \
    } while (0)

static void test_codec_accepts_every_supported_type(void **state)
{
    (void)state;
    /* [1, -1, nil, true, "a", bin(1), {"k": 300}, uint64 max, int64] */
    CHECK(ONR_OK, 0x99, 0x01, 0xff, 0xc0, 0xc3, 0xa1, 'a', 0xc4, 0x01, 0x00, 0x81, 0xa1, 'k',
          0xcd, 0x01, 0x2c, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd3, 0x80,
          0, 0, 0, 0, 0, 0, 0);
}

static void test_codec_rejects_truncated(void **state)
{
    (void)state;
    assert_onr(ONR_ETRUNCATED, onr_codec_check((const uint8_t *)"", 0, NULL));
    CHECK(ONR_ETRUNCATED, 0x92, 0x01);             /* array of 2, one element */
    CHECK(ONR_ETRUNCATED, 0xc4, 0x05, 0x00);       /* bin of 5, one byte */
    CHECK(ONR_ETRUNCATED, 0xcd, 0x00);             /* uint16 missing a byte */
    CHECK(ONR_ETRUNCATED, 0xda, 0x00);             /* str16 length cut */
    CHECK(ONR_ETRUNCATED, 0x81, 0xa1, 'k');        /* map value missing */
}

static void test_codec_every_prefix_of_valid_input_is_truncated(void **state)
{
    static const uint8_t valid[] = {0x93, 0x01, 0x82, 0xa1, 'a', 0xc4, 0x02, 0x01, 0x02,
                                    0xa1, 'b', 0xcf, 1, 2, 3, 4, 5, 6, 7, 8, 0xc0};

    (void)state;
    assert_onr(ONR_OK, onr_codec_check(valid, sizeof(valid), NULL));
    for (size_t n = 0; n < sizeof(valid); n++)
        assert_onr(ONR_ETRUNCATED, onr_codec_check(valid, n, NULL));
}

static void test_codec_rejects_unsupported_types(void **state)
{
    (void)state;
    CHECK(ONR_ETYPE, 0xca, 0x3f, 0x80, 0x00, 0x00);          /* float32 */
    CHECK(ONR_ETYPE, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0);          /* float64 */
    CHECK(ONR_ETYPE, 0xd4, 0x01, 0x00);                      /* fixext1 */
    CHECK(ONR_ETYPE, 0x91, 0xc7, 0x01, 0x01, 0x00);          /* ext8 inside */
}

static void test_codec_rejects_reserved_byte(void **state)
{
    (void)state;
    CHECK(ONR_EMALFORMED, 0xc1);
    CHECK(ONR_EMALFORMED, 0x92, 0x01, 0xc1);
}

static void test_codec_rejects_oversized_input(void **state)
{
    size_t len = ONR_CODEC_MAX_MESSAGE + 1;
    uint8_t *buf = calloc(1, len);

    (void)state;
    assert_non_null(buf);
    /* a bin32 filling the buffer exactly: only the size is wrong */
    buf[0] = 0xc6;
    buf[1] = 0x00;
    buf[2] = 0x00;
    buf[3] = (uint8_t)((len - 5) >> 8);
    buf[4] = (uint8_t)(len - 5);
    assert_onr(ONR_ETOOBIG, onr_codec_check(buf, len, NULL));
    free(buf);
}

static void test_codec_rejects_deep_nesting(void **state)
{
    uint8_t buf[64];

    (void)state;
    /* depth 4 is the default limit: [[[[0]]]] passes, [[[[[0]]]]] does not */
    memset(buf, 0x91, 4);
    buf[4] = 0x00;
    assert_onr(ONR_OK, onr_codec_check(buf, 5, NULL));
    memset(buf, 0x91, 5);
    buf[5] = 0x00;
    assert_onr(ONR_EDEPTH, onr_codec_check(buf, 6, NULL));
    /* far deeper than msgpack-c's own stack: refused before it sees it */
    memset(buf, 0x91, 63);
    buf[63] = 0x00;
    assert_onr(ONR_EDEPTH, onr_codec_check(buf, 64, NULL));
    /* maps count as containers too */
    CHECK(ONR_EDEPTH, 0x81, 0x00, 0x81, 0x00, 0x81, 0x00, 0x81, 0x00, 0x81, 0x00, 0x00);
}

static void test_codec_rejects_huge_declared_lengths(void **state)
{
    (void)state;
    CHECK(ONR_ELENGTH, 0xc6, 0xff, 0xff, 0xff, 0xff);         /* bin32 of 4 GiB */
    CHECK(ONR_ELENGTH, 0xdb, 0xff, 0xff, 0xff, 0xff);         /* str32 of 4 GiB */
    CHECK(ONR_ECOUNT, 0xdd, 0xff, 0xff, 0xff, 0xff);          /* array32 (issue 1013) */
    CHECK(ONR_ECOUNT, 0xdf, 0xff, 0xff, 0xff, 0xff);          /* map32 */
    CHECK(ONR_ECOUNT, 0xdc, 0x00, 0x21);                      /* 33 > 32 entries */
    /* within the entry limit but more elements than bytes left */
    CHECK(ONR_ETRUNCATED, 0xdc, 0x00, 0x20, 0x01, 0x02);
}

static void test_codec_rejects_too_many_nodes(void **state)
{
    /* an array of 16 arrays of 16 zeros: 1 + 16 + 256 = 273 objects > 256 */
    uint8_t buf[3 + 16 * (3 + 16)];
    size_t n = 0;

    (void)state;
    buf[n++] = 0xdc;
    buf[n++] = 0x00;
    buf[n++] = 0x10;
    for (int i = 0; i < 16; i++) {
        buf[n++] = 0xdc;
        buf[n++] = 0x00;
        buf[n++] = 0x10;
        for (int j = 0; j < 16; j++)
            buf[n++] = 0x00;
    }
    assert_int_equal(n, sizeof(buf));
    assert_onr(ONR_ECOUNT, onr_codec_check(buf, n, NULL));
    /* 15 inner arrays: 1 + 15 + 240 = 256 objects, exactly the limit */
    buf[2] = 0x0f;
    assert_onr(ONR_OK, onr_codec_check(buf, n - 19, NULL));
}

static void test_codec_rejects_trailing_bytes(void **state)
{
    (void)state;
    CHECK(ONR_ETRAILING, 0x01, 0x02);
    CHECK(ONR_ETRAILING, 0x90, 0x00);
}

static void test_codec_limits_are_configurable(void **state)
{
    struct onr_codec_limits lim = onr_codec_default_limits;
    static const uint8_t str3[] = {0xa3, 'a', 'b', 'c'};

    (void)state;
    lim.max_str = 2;
    assert_onr(ONR_ELENGTH, onr_codec_check(str3, sizeof(str3), &lim));
    lim.max_str = 3;
    assert_onr(ONR_OK, onr_codec_check(str3, sizeof(str3), &lim));
    lim.max_size = 3;
    assert_onr(ONR_ETOOBIG, onr_codec_check(str3, sizeof(str3), &lim));
}

static void test_codec_walk_reports_root_element_offsets(void **state)
{
    static const uint8_t in[] = {0x93, 0x01, 0xa2, 'h', 'i', 0x91, 0xc0};
    size_t offsets[4];
    size_t n = 0;

    (void)state;
    assert_onr(ONR_OK, onr_codec_walk(in, sizeof(in), NULL, offsets, 4, &n));
    assert_int_equal(n, 3);
    assert_int_equal(offsets[0], 1);
    assert_int_equal(offsets[1], 2);
    assert_int_equal(offsets[2], 5);
}

static void test_codec_writer_reports_overflow(void **state)
{
    uint8_t buf[4];
    struct onr_writer w;

    (void)state;
    onr_writer_init(&w, buf, sizeof(buf));
    onr_write_cstr(&w, "abc");
    assert_onr(ONR_OK, onr_writer_finish(&w));
    onr_write_uint(&w, 1);
    assert_onr(ONR_ESPACE, onr_writer_finish(&w));
    assert_int_equal(w.len, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_accepts_every_supported_type),
        cmocka_unit_test(test_codec_rejects_truncated),
        cmocka_unit_test(test_codec_every_prefix_of_valid_input_is_truncated),
        cmocka_unit_test(test_codec_rejects_unsupported_types),
        cmocka_unit_test(test_codec_rejects_reserved_byte),
        cmocka_unit_test(test_codec_rejects_oversized_input),
        cmocka_unit_test(test_codec_rejects_deep_nesting),
        cmocka_unit_test(test_codec_rejects_huge_declared_lengths),
        cmocka_unit_test(test_codec_rejects_too_many_nodes),
        cmocka_unit_test(test_codec_rejects_trailing_bytes),
        cmocka_unit_test(test_codec_limits_are_configurable),
        cmocka_unit_test(test_codec_walk_reports_root_element_offsets),
        cmocka_unit_test(test_codec_writer_reports_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
