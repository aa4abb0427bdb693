#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/error.h"
#include "onramp/p256.h"

#include "internal.h" /* onr_p256_ecc: to damage a key before saving it */

/*
 * NIST's published ECDSA example for P-256 with SHA-256 (FIPS 186 examples,
 * "P256_SHA256"): message "Example of ECDSA with P-256", key Q, signature R, S.
 */
#define NIST_MSG "Example of ECDSA with P-256"
#define NIST_QX "B7E08AFDFE94BAD3F1DC8C734798BA1C62B3A0AD1E9EA2A38201CD0889BC7A19"
#define NIST_QY "3603F747959DBF7A4BB226E41928729063ADC7AE43529E61B563BBC606CC5E09"
#define NIST_R "2B42F576D07F4165FF65D1F3B1500F81E44C316F1F0B3EF57325B69ACA46104F"
#define NIST_S "DC42C2122D6392CD3E3A993A89502A8198C1886FE69D262C4B329BDB6B63FAF1"

/* The order n of P-256. */
#define P256_N "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"

static void nist_key(uint8_t pub[65])
{
    pub[0] = 0x04;
    onr_test_hex(NIST_QX, pub + 1, 32);
    onr_test_hex(NIST_QY, pub + 33, 32);
}

static void nist_sig(uint8_t sig[64])
{
    onr_test_hex(NIST_R, sig, 32);
    onr_test_hex(NIST_S, sig + 32, 32);
}

static const struct onr_bytes nist_msg = ONR_BYTES_STR(NIST_MSG);

static void test_p256_verifies_nist_example(void **state)
{
    uint8_t pub[65];
    uint8_t sig[64];

    (void)state;
    nist_key(pub);
    nist_sig(sig);
    assert_onr(ONR_OK, onr_p256_verify(pub, &nist_msg, 1, sig));
}

static void test_p256_rejects_nist_example_with_other_message(void **state)
{
    uint8_t pub[65];
    uint8_t sig[64];
    const struct onr_bytes other = ONR_BYTES_STR("Example of ECDSA with P-257");

    (void)state;
    nist_key(pub);
    nist_sig(sig);
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub, &other, 1, sig));
}

static void test_p256_rejects_scalars_out_of_range(void **state)
{
    uint8_t pub[65];
    uint8_t sig[64];

    (void)state;
    nist_key(pub);
    nist_sig(sig);
    memset(sig, 0, 32); /* r = 0 */
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub, &nist_msg, 1, sig));
    nist_sig(sig);
    memset(sig + 32, 0, 32); /* s = 0 */
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub, &nist_msg, 1, sig));
    nist_sig(sig);
    onr_test_hex(P256_N, sig + 32, 32); /* s = n */
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub, &nist_msg, 1, sig));
    nist_sig(sig);
    memset(sig, 0xff, 32); /* r > n */
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub, &nist_msg, 1, sig));
}

static void test_p256_rejects_point_off_curve(void **state)
{
    uint8_t pub[65];
    uint8_t sig[64];

    (void)state;
    nist_key(pub);
    nist_sig(sig);
    pub[64] ^= 0x01;
    assert_onr(ONR_EBADKEY, onr_p256_verify(pub, &nist_msg, 1, sig));
    assert_onr(ONR_EBADKEY, onr_p256_check_public(pub));
}

static void test_p256_rejects_coordinates_not_below_p(void **state)
{
    uint8_t pub[65];

    (void)state;
    nist_key(pub);
    memset(pub + 1, 0xff, 32);
    assert_onr(ONR_EBADKEY, onr_p256_check_public(pub));
}

static void test_p256_rejects_compressed_or_infinity_encoding(void **state)
{
    uint8_t pub[65];

    (void)state;
    nist_key(pub);
    pub[0] = 0x02;
    assert_onr(ONR_EBADKEY, onr_p256_check_public(pub));
    memset(pub, 0, sizeof(pub));
    pub[0] = 0x04;
    assert_onr(ONR_EBADKEY, onr_p256_check_public(pub));
}

static void test_p256_sign_verify_round_trip_and_wrong_key(void **state)
{
    struct onr_p256_key *a = NULL;
    struct onr_p256_key *b = NULL;
    uint8_t pub_a[65];
    uint8_t pub_b[65];
    uint8_t sig[64];
    const struct onr_bytes parts[] = {ONR_BYTES_STR("ctx"), ONR_BYTES_STR("payload")};
    const struct onr_bytes joined = ONR_BYTES_STR("ctxpayload");

    (void)state;
    assert_onr(ONR_OK, onr_p256_generate(&a));
    assert_onr(ONR_OK, onr_p256_generate(&b));
    assert_onr(ONR_OK, onr_p256_public(a, pub_a));
    assert_onr(ONR_OK, onr_p256_public(b, pub_b));
    assert_onr(ONR_OK, onr_p256_sign(a, parts, 2, sig));
    assert_onr(ONR_OK, onr_p256_verify(pub_a, parts, 2, sig));
    /* parts are concatenated: the same bytes in one part verify too */
    assert_onr(ONR_OK, onr_p256_verify(pub_a, &joined, 1, sig));
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub_b, parts, 2, sig));
    sig[10] ^= 0x40;
    assert_onr(ONR_EBADSIG, onr_p256_verify(pub_a, parts, 2, sig));
    onr_p256_free(a);
    onr_p256_free(b);
}

static void test_p256_der_round_trip(void **state)
{
    uint8_t sig[64];
    uint8_t back[64];
    uint8_t der[ONR_P256_SIG_DER_MAX];
    size_t der_len = sizeof(der);
    uint8_t pub[65];

    (void)state;
    nist_sig(sig);
    nist_key(pub);
    assert_onr(ONR_OK, onr_p256_sig_to_der(sig, der, &der_len));
    /* s has its top bit set and needs a leading zero; r does not */
    assert_int_equal(der_len, 71);
    assert_int_equal(der[3], 32);
    assert_int_equal(der[3 + 1 + 32 + 1], 33);
    assert_onr(ONR_OK, onr_p256_sig_from_der(der, der_len, back));
    assert_memory_equal(sig, back, 64);
    assert_onr(ONR_OK, onr_p256_verify_der(pub, &nist_msg, 1, der, der_len));
}

static void test_p256_der_rejects_malformed(void **state)
{
    uint8_t sig[64];
    uint8_t der[ONR_P256_SIG_DER_MAX + 8];
    uint8_t bad[ONR_P256_SIG_DER_MAX + 8];
    size_t der_len = ONR_P256_SIG_DER_MAX;
    uint8_t out[64];

    (void)state;
    nist_sig(sig);
    assert_onr(ONR_OK, onr_p256_sig_to_der(sig, der, &der_len));

    /* trailing byte after the SEQUENCE */
    memcpy(bad, der, der_len);
    bad[der_len] = 0x00;
    bad[1]++;
    assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(bad, der_len + 1, out));
    /* truncated */
    assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(der, der_len - 1, out));
    /* wrong outer tag */
    memcpy(bad, der, der_len);
    bad[0] = 0x31;
    assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(bad, der_len, out));
    /* r without its required leading zero: negative */
    {
        static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01};

        assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(neg, sizeof(neg), out));
    }
    /* superfluous leading zero: not minimal */
    {
        static const uint8_t pad[] = {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01};

        assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(pad, sizeof(pad), out));
    }
    /* r = 0 */
    {
        static const uint8_t zero[] = {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01};

        assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(zero, sizeof(zero), out));
    }
    /* long-form length */
    {
        static const uint8_t longform[] = {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};

        assert_onr(ONR_EBADSIG, onr_p256_sig_from_der(longform, sizeof(longform), out));
    }
    /* the smallest well-formed one is fine */
    {
        static const uint8_t small[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};

        assert_onr(ONR_OK, onr_p256_sig_from_der(small, sizeof(small), out));
        assert_int_equal(out[31], 1);
        assert_int_equal(out[63], 1);
    }
}

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static void test_p256_save_load_round_trip_with_mode_0600(void **state)
{
    char path[4096];
    struct onr_p256_key *key = NULL;
    struct onr_p256_key *loaded = NULL;
    uint8_t pub[65];
    uint8_t pub2[65];
    uint8_t sig[64];
    struct stat st;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "id.pem"));
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_save(key, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_onr(ONR_OK, onr_p256_load(path, &loaded));
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    assert_onr(ONR_OK, onr_p256_public(loaded, pub2));
    assert_memory_equal(pub, pub2, 65);
    assert_onr(ONR_OK, onr_p256_sign(loaded, &nist_msg, 1, sig));
    assert_onr(ONR_OK, onr_p256_verify(pub, &nist_msg, 1, sig));
    onr_p256_free(key);
    onr_p256_free(loaded);
}

static void test_p256_load_refuses_readable_key_file(void **state)
{
    char path[4096];
    struct onr_p256_key *key = NULL;
    struct onr_p256_key *loaded = NULL;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "id.pem"));
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_save(key, path));
    assert_int_equal(chmod(path, 0644), 0);
    assert_onr(ONR_EPERM, onr_p256_load(path, &loaded));
    assert_null(loaded);
    onr_p256_free(key);
}

static void test_p256_load_errors(void **state)
{
    char path[4096];
    struct onr_p256_key *loaded = NULL;
    FILE *f;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "junk.pem"));
    assert_onr(ONR_ENOENT, onr_p256_load(path, &loaded));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("just some text, no PEM block\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_onr(ONR_EFORMAT, onr_p256_load(path, &loaded));
    assert_null(loaded);
    /* a PEM block that holds no key */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("-----BEGIN EC PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END EC PRIVATE KEY-----\n", f);
    fclose(f);
    assert_onr(ONR_EBADKEY, onr_p256_load(path, &loaded));
    assert_null(loaded);
}

static int run(const char *cmd)
{
    int rc = system(cmd);

    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void test_p256_interoperates_with_openssl(void **state)
{
    const char *dir = *state;
    char cmd[8192];
    char key_path[1024];
    char pub_path[1024];
    struct onr_p256_key *key = NULL;
    uint8_t pub[65];
    uint8_t pub_pem[65];
    uint8_t sig[64];
    uint8_t der[ONR_P256_SIG_DER_MAX];
    size_t der_len = sizeof(der);
    FILE *f;

    snprintf(key_path, sizeof(key_path), "%s/ossl.pem", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/ossl.pub.pem", dir);
    /* a PKCS#8 key made by openssl loads */
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s "
             "2>/dev/null && chmod 600 %s && openssl pkey -in %s -pubout -out %s",
             key_path, key_path, key_path, pub_path);
    assert_int_equal(run(cmd), 0);
    assert_onr(ONR_OK, onr_p256_load(key_path, &key));
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    assert_onr(ONR_OK, onr_p256_public_load(pub_path, pub_pem));
    assert_memory_equal(pub, pub_pem, 65);

    /* openssl verifies our signature over the plain message */
    assert_onr(ONR_OK, onr_p256_sign(key, &nist_msg, 1, sig));
    assert_onr(ONR_OK, onr_p256_sig_to_der(sig, der, &der_len));
    snprintf(cmd, sizeof(cmd), "%s/sig.der", dir);
    f = fopen(cmd, "wb");
    assert_non_null(f);
    fwrite(der, 1, der_len, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s/msg", dir);
    f = fopen(cmd, "wb");
    assert_non_null(f);
    fputs(NIST_MSG, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "openssl dgst -sha256 -verify %s -signature %s/sig.der %s/msg | grep -qx 'Verified OK'",
             pub_path, dir, dir);
    assert_int_equal(run(cmd), 0);

    /* openssl reads the files we write */
    assert_onr(ONR_OK, onr_p256_save(key, key_path));
    assert_onr(ONR_OK, onr_p256_public_save(pub, pub_path));
    snprintf(cmd, sizeof(cmd), "openssl ec -in %s -noout 2>/dev/null && openssl pkey -pubin -in %s -noout",
             key_path, pub_path);
    assert_int_equal(run(cmd), 0);
    onr_p256_free(key);
}

/* A key file whose public point is not its private scalar times G (another
 * key's point, or a point off the curve) does not load. */
static void test_p256_load_refuses_mismatched_public_key(void **state)
{
    const char *dir = *state;
    char path[1024];
    struct onr_p256_key *a = NULL, *b = NULL, *loaded = NULL;

    snprintf(path, sizeof(path), "%s/mismatched.pem", dir);
    assert_onr(ONR_OK, onr_p256_generate(&a));
    assert_onr(ONR_OK, onr_p256_generate(&b));
    assert_onr(ONR_OK, onr_p256_save(a, path));
    assert_onr(ONR_OK, onr_p256_load(path, &loaded)); /* the pair as saved loads */
    onr_p256_free(loaded);
    loaded = NULL;
    assert_int_equal(wc_ecc_copy_point(&onr_p256_ecc(b)->pubkey, &onr_p256_ecc(a)->pubkey), 0);
    assert_onr(ONR_OK, onr_p256_save(a, path));
    assert_onr(ONR_EBADKEY, onr_p256_load(path, &loaded));
    assert_null(loaded);
    /* a point off the curve: y + 1 */
    assert_int_equal(mp_add_d(onr_p256_ecc(a)->pubkey.y, 1, onr_p256_ecc(a)->pubkey.y), 0);
    assert_onr(ONR_OK, onr_p256_save(a, path));
    assert_onr(ONR_EBADKEY, onr_p256_load(path, &loaded));
    assert_null(loaded);
    onr_p256_free(a);
    onr_p256_free(b);
}

static void test_p256_load_refuses_other_curves(void **state)
{
    const char *dir = *state;
    char cmd[8192];
    char path[1024];
    struct onr_p256_key *key = NULL;
    uint8_t pub[65];

    snprintf(path, sizeof(path), "%s/p384.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s 2>/dev/null "
             "&& chmod 600 %s && openssl pkey -in %s -pubout -out %s.pub",
             path, path, path, path);
    assert_int_equal(run(cmd), 0);
    assert_onr(ONR_EBADKEY, onr_p256_load(path, &key));
    assert_null(key);
    snprintf(cmd, sizeof(cmd), "%s.pub", path);
    assert_onr(ONR_EBADKEY, onr_p256_public_load(cmd, pub));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256_verifies_nist_example),
        cmocka_unit_test(test_p256_rejects_nist_example_with_other_message),
        cmocka_unit_test(test_p256_rejects_scalars_out_of_range),
        cmocka_unit_test(test_p256_rejects_point_off_curve),
        cmocka_unit_test(test_p256_rejects_coordinates_not_below_p),
        cmocka_unit_test(test_p256_rejects_compressed_or_infinity_encoding),
        cmocka_unit_test(test_p256_sign_verify_round_trip_and_wrong_key),
        cmocka_unit_test(test_p256_der_round_trip),
        cmocka_unit_test(test_p256_der_rejects_malformed),
        cmocka_unit_test_setup_teardown(test_p256_save_load_round_trip_with_mode_0600, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_p256_load_refuses_readable_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_p256_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_p256_interoperates_with_openssl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_p256_load_refuses_mismatched_public_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_p256_load_refuses_other_curves, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
