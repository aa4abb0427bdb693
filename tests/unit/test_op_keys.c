/*
 * The operators' keys a registration carries with its policy
 * (<onramp/op_keys.h>, SPEC type 13 `op_keys`): records built, read back,
 * and every malformed, duplicate or excess one refused, with nothing read
 * past the input.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/op_keys.h"
#include "onramp/policy.h"

static void key_of(uint8_t key[ONR_P256_PUB_LEN], uint8_t fill)
{
    memset(key, fill, ONR_P256_PUB_LEN);
    key[0] = 0x04;
}

/* One record written by hand: len, id, 04 || fill. */
static size_t record(uint8_t *out, size_t len_byte, const char *id, uint8_t fill)
{
    size_t n = strlen(id);

    out[0] = (uint8_t)len_byte;
    memcpy(out + 1, id, n);
    key_of(out + 1 + n, fill);
    return 1 + n + ONR_P256_PUB_LEN;
}

static void test_op_keys_round_trip(void **state)
{
    struct onr_op_keys k;
    struct onr_op_keys back;
    uint8_t key[ONR_P256_PUB_LEN];
    uint8_t buf[ONR_OP_KEYS_BIN_MAX];
    uint8_t again[ONR_OP_KEYS_BIN_MAX];
    size_t len = 0;
    size_t again_len = 0;

    (void)state;
    memset(&k, 0, sizeof(k));
    key_of(key, 0x11);
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-de", key));
    key_of(key, 0x22);
    assert_onr(ONR_OK, onr_op_keys_add(&k, "a", key));
    key_of(key, 0x33);
    assert_onr(ONR_OK, onr_op_keys_add(&k, "0123456789abcdef0123456789abcdef", key));
    assert_onr(ONR_OK, onr_op_keys_encode(&k, buf, sizeof(buf), &len));
    assert_int_equal(len, 3 * (1 + ONR_P256_PUB_LEN) + 5 + 1 + 32);
    assert_int_equal(buf[0], 5);
    assert_memory_equal(buf + 1, "op-de", 5);
    assert_onr(ONR_OK, onr_op_keys_decode(buf, len, &back));
    assert_int_equal(back.n, 3);
    assert_string_equal(back.keys[2].op, "0123456789abcdef0123456789abcdef");
    assert_int_equal(onr_op_keys_find(&back, "a")[1], 0x22);
    assert_null(onr_op_keys_find(&back, "op-fr"));
    assert_null(onr_op_keys_find(&back, "op-d"));
    assert_onr(ONR_OK, onr_op_keys_encode(&back, again, sizeof(again), &again_len));
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);
    /* too small a buffer */
    assert_onr(ONR_ESPACE, onr_op_keys_encode(&k, buf, len - 1, &len));
}

static void test_op_keys_add_refuses_what_decode_would(void **state)
{
    struct onr_op_keys k;
    uint8_t key[ONR_P256_PUB_LEN];
    char id[8];

    (void)state;
    memset(&k, 0, sizeof(k));
    key_of(key, 1);
    assert_onr(ONR_EINVAL, onr_op_keys_add(&k, "", key));
    assert_onr(ONR_EINVAL, onr_op_keys_add(&k, "-op", key));
    assert_onr(ONR_EINVAL, onr_op_keys_add(&k, "OP", key));
    assert_onr(ONR_EINVAL, onr_op_keys_add(&k, "0123456789abcdef0123456789abcdef0", key));
    assert_onr(ONR_EINVAL, onr_op_keys_add(NULL, "op", key));
    key[0] = 0x02; /* compressed: not what a record carries */
    assert_onr(ONR_EINVAL, onr_op_keys_add(&k, "op", key));
    key[0] = 0x04;
    for (int i = 0; i < ONR_OP_KEYS_MAX; i++) {
        snprintf(id, sizeof(id), "op-%d", i);
        assert_onr(ONR_OK, onr_op_keys_add(&k, id, key));
    }
    assert_onr(ONR_EEXIST, onr_op_keys_add(&k, "op-3", key));
    assert_onr(ONR_ECOUNT, onr_op_keys_add(&k, "op-99", key));
    assert_int_equal(k.n, ONR_OP_KEYS_MAX);
    /* nothing to encode */
    k.n = 0;
    assert_onr(ONR_EINVAL, onr_op_keys_encode(&k, (uint8_t[8]){0}, 8, &(size_t){0}));
}

static void test_op_keys_decode_refuses_malformed_records(void **state)
{
    uint8_t buf[2 * ONR_OP_KEY_RECORD_MAX + 8];
    struct onr_op_keys k;
    size_t n;

    (void)state;
    /* nothing at all */
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, 0, &k));
    /* a zero length, a length past 32 */
    n = record(buf, 0, "", 1);
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    memset(buf, 'a', sizeof(buf));
    buf[0] = 33;
    memset(buf + 34, 0x04, ONR_P256_PUB_LEN);
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, 1 + 33 + ONR_P256_PUB_LEN, &k));
    /* cut anywhere short of a whole record */
    n = record(buf, 4, "op-1", 1);
    for (size_t cut = 1; cut < n; cut++)
        assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, cut, &k));
    assert_onr(ONR_OK, onr_op_keys_decode(buf, n, &k));
    /* a length that runs past the end, though the bytes are there */
    buf[0] = 5;
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    /* trailing bytes after the last record */
    n = record(buf, 4, "op-1", 1);
    buf[n] = 0;
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n + 1, &k));
    /* an id that is not a service id */
    n = record(buf, 4, "Op-1", 1);
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    n = record(buf, 4, "op/1", 1);
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    n = record(buf, 4, "op\0001", 1);
    buf[3] = '\0';
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    /* a key that is not an uncompressed point */
    n = record(buf, 4, "op-1", 1);
    buf[5] = 0x03;
    assert_onr(ONR_EFORMAT, onr_op_keys_decode(buf, n, &k));
    assert_int_equal(k.n, 0); /* zeroed on error */
}

static void test_op_keys_decode_refuses_duplicates_and_excess(void **state)
{
    uint8_t *buf = malloc((ONR_OP_KEYS_MAX + 1) * ONR_OP_KEY_RECORD_MAX);
    struct onr_op_keys k;
    size_t n = 0;
    char id[8];

    (void)state;
    assert_non_null(buf);
    n += record(buf + n, 4, "op-1", 1);
    n += record(buf + n, 4, "op-2", 2);
    n += record(buf + n, 4, "op-1", 3);
    assert_onr(ONR_EEXIST, onr_op_keys_decode(buf, n, &k));
    n = 0;
    for (int i = 0; i < ONR_OP_KEYS_MAX; i++) {
        snprintf(id, sizeof(id), "op-%02d", i);
        n += record(buf + n, 5, id, (uint8_t)i);
    }
    assert_onr(ONR_OK, onr_op_keys_decode(buf, n, &k));
    assert_int_equal(k.n, ONR_OP_KEYS_MAX);
    n += record(buf + n, 5, "op-99", 9);
    assert_onr(ONR_ECOUNT, onr_op_keys_decode(buf, n, &k));
    assert_onr(ONR_EINVAL, onr_op_keys_decode(NULL, 3, &k));
    assert_onr(ONR_EINVAL, onr_op_keys_decode(buf, n, NULL));
    free(buf);
}

/* A registration carries a key for every operator its policy names and
 * for `op`, and for no other (SPEC type 13). */
static void test_op_keys_match_a_policy(void **state)
{
    struct onr_op_keys k;
    struct onr_policy p;
    uint8_t de[ONR_P256_PUB_LEN], br[ONR_P256_PUB_LEN], eu[ONR_P256_PUB_LEN];
    const char *world = "262:op-de,op-eu;724:op-br;*:op-eu";

    (void)state;
    key_of(de, 0xde);
    key_of(br, 0xb7);
    key_of(eu, 0xe0);
    assert_onr(ONR_OK, onr_policy_parse(world, strlen(world), &p));
    memset(&k, 0, sizeof(k));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-de", de));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-br", br));
    /* op-eu missing */
    assert_onr(ONR_ESCHEMA, onr_op_keys_match(&k, &p, "op-de", de));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-eu", eu));
    assert_onr(ONR_OK, onr_op_keys_match(&k, &p, "op-de", de));
    assert_onr(ONR_OK, onr_op_keys_match(&k, &p, "op-eu", eu));
    /* `op`'s record must be `op_key` */
    assert_onr(ONR_ESCHEMA, onr_op_keys_match(&k, &p, "op-de", br));
    /* `op` outside the policy needs its own record */
    assert_onr(ONR_ESCHEMA, onr_op_keys_match(&k, &p, "op-us", de));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-us", de));
    assert_onr(ONR_OK, onr_op_keys_match(&k, &p, "op-us", de));
    /* ... and no record beyond the policy's operators and `op` */
    assert_onr(ONR_ESCHEMA, onr_op_keys_match(&k, &p, "op-de", de));
    assert_onr(ONR_ESCHEMA, onr_op_keys_match(NULL, &p, "op-de", de));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_keys_round_trip),
        cmocka_unit_test(test_op_keys_add_refuses_what_decode_would),
        cmocka_unit_test(test_op_keys_decode_refuses_malformed_records),
        cmocka_unit_test(test_op_keys_decode_refuses_duplicates_and_excess),
        cmocka_unit_test(test_op_keys_match_a_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
