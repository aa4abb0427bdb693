#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/hash.h"

/* Published vectors: FIPS 180-2 (SHA-256 "abc"), RFC 4231 test case 2
 * (HMAC-SHA256), RFC 5869 A.1 and A.3 (HKDF-SHA256). */

static void test_sha256_matches_fips_abc(void **state)
{
    uint8_t expect[32];
    uint8_t out[32];
    const struct onr_bytes parts[] = {ONR_BYTES_STR("a"), ONR_BYTES_STR("bc")};

    (void)state;
    onr_test_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", expect,
                 sizeof(expect));
    assert_onr(ONR_OK, onr_sha256(parts, 2, out));
    assert_memory_equal(out, expect, 32);
}

static void test_hmac_sha256_matches_rfc4231_case2(void **state)
{
    uint8_t expect[32];
    uint8_t out[32];
    const struct onr_bytes data = ONR_BYTES_STR("what do ya want for nothing?");

    (void)state;
    onr_test_hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect,
                 sizeof(expect));
    assert_onr(ONR_OK, onr_hmac_sha256(ONR_BYTES_STR("Jefe"), &data, 1, out));
    assert_memory_equal(out, expect, 32);
}

static void test_hkdf_matches_rfc5869_case1(void **state)
{
    uint8_t ikm[22];
    uint8_t salt[13];
    uint8_t info[10];
    uint8_t prk_expect[32];
    uint8_t okm_expect[42];
    uint8_t prk[32];
    uint8_t okm[42];
    struct onr_bytes ikm_part;
    /* info split in two parts to exercise concatenation */
    struct onr_bytes info_parts[2];

    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    onr_test_hex("000102030405060708090a0b0c", salt, sizeof(salt));
    onr_test_hex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
    onr_test_hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", prk_expect,
                 sizeof(prk_expect));
    onr_test_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                 "34007208d5b887185865",
                 okm_expect, sizeof(okm_expect));
    ikm_part = ONR_BYTES(ikm);
    info_parts[0] = (struct onr_bytes){info, 3};
    info_parts[1] = (struct onr_bytes){info + 3, 7};
    assert_onr(ONR_OK, onr_hkdf_extract(ONR_BYTES(salt), &ikm_part, 1, prk));
    assert_memory_equal(prk, prk_expect, 32);
    assert_onr(ONR_OK, onr_hkdf_expand(prk, info_parts, 2, okm, sizeof(okm)));
    assert_memory_equal(okm, okm_expect, sizeof(okm));
}

static void test_hkdf_matches_rfc5869_case3_empty_salt_and_info(void **state)
{
    uint8_t ikm[22];
    uint8_t prk_expect[32];
    uint8_t okm_expect[42];
    uint8_t prk[32];
    uint8_t okm[42];
    struct onr_bytes ikm_part;

    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    onr_test_hex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", prk_expect,
                 sizeof(prk_expect));
    onr_test_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                 "9d201395faa4b61a96c8",
                 okm_expect, sizeof(okm_expect));
    ikm_part = ONR_BYTES(ikm);
    assert_onr(ONR_OK, onr_hkdf_extract((struct onr_bytes){NULL, 0}, &ikm_part, 1, prk));
    assert_memory_equal(prk, prk_expect, 32);
    assert_onr(ONR_OK, onr_hkdf_expand(prk, NULL, 0, okm, sizeof(okm)));
    assert_memory_equal(okm, okm_expect, sizeof(okm));
}

static void test_hkdf_expand_rejects_too_long_output(void **state)
{
    uint8_t prk[32] = {0};
    static uint8_t okm[255 * 32 + 1];

    (void)state;
    assert_onr(ONR_ELENGTH, onr_hkdf_expand(prk, NULL, 0, okm, sizeof(okm)));
    assert_onr(ONR_OK, onr_hkdf_expand(prk, NULL, 0, okm, sizeof(okm) - 1));
}

static void test_hash_rejects_null_arguments(void **state)
{
    uint8_t out[32];
    const struct onr_bytes bad = {NULL, 4};

    (void)state;
    assert_onr(ONR_EINVAL, onr_sha256(NULL, 1, out));
    assert_onr(ONR_EINVAL, onr_sha256(&bad, 1, out));
    assert_onr(ONR_EINVAL, onr_hmac_sha256(bad, NULL, 0, out));
    assert_onr(ONR_EINVAL, onr_hkdf_expand(NULL, NULL, 0, out, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_matches_fips_abc),
        cmocka_unit_test(test_hmac_sha256_matches_rfc4231_case2),
        cmocka_unit_test(test_hkdf_matches_rfc5869_case1),
        cmocka_unit_test(test_hkdf_matches_rfc5869_case3_empty_salt_and_info),
        cmocka_unit_test(test_hkdf_expand_rejects_too_long_output),
        cmocka_unit_test(test_hash_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
