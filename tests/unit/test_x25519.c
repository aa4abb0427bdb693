#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

/* RFC 7748 section 6.1 (Diffie-Hellman example), as published. Neither
 * private key is clamped as written. */
#define ALICE_SK "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PK "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_SK "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PK "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED_K "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static void hex32(const char *hex, uint8_t out[32])
{
    assert_int_equal(onr_test_hex(hex, out, 32), 32);
}

/* Copy of onr_test_path's result: it lives only until the next call. */
static char *path_in(const char *dir, const char *name)
{
    char *p = strdup(onr_test_path(dir, name));

    assert_non_null(p);
    return p;
}

/* Run a shell command built from `fmt`; 1 if it exited with status 0. */
__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    status = system(cmd);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    assert_onr(ONR_OK, onr_file_write_atomic(path, text, strlen(text), mode));
}

static void test_x25519_public_matches_rfc7748_unclamped_keys(void **state)
{
    uint8_t sk[32], expect[32], pk[32];

    (void)state;
    hex32(ALICE_SK, sk);
    hex32(ALICE_PK, expect);
    assert_onr(ONR_OK, onr_x25519_public(sk, pk));
    assert_memory_equal(pk, expect, 32);
    hex32(BOB_SK, sk);
    hex32(BOB_PK, expect);
    assert_onr(ONR_OK, onr_x25519_public(sk, pk));
    assert_memory_equal(pk, expect, 32);
}

static void test_x25519_shared_matches_rfc7748_both_ways(void **state)
{
    uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], expect[32], out[32];

    (void)state;
    hex32(ALICE_SK, a_sk);
    hex32(ALICE_PK, a_pk);
    hex32(BOB_SK, b_sk);
    hex32(BOB_PK, b_pk);
    hex32(SHARED_K, expect);
    assert_onr(ONR_OK, onr_x25519_shared(a_sk, b_pk, out));
    assert_memory_equal(out, expect, 32);
    assert_onr(ONR_OK, onr_x25519_shared(b_sk, a_pk, out));
    assert_memory_equal(out, expect, 32);
    /* The output may alias the peer key. */
    assert_onr(ONR_OK, onr_x25519_shared(a_sk, b_pk, b_pk));
    assert_memory_equal(b_pk, expect, 32);
}

static void test_x25519_shared_ignores_top_bit_of_peer_key(void **state)
{
    uint8_t sk[32], pk[32], expect[32], out[32];

    (void)state;
    hex32(ALICE_SK, sk);
    hex32(BOB_PK, pk);
    hex32(SHARED_K, expect);
    pk[31] |= 0x80; /* RFC 7748 section 5: masked by the receiver */
    assert_onr(ONR_OK, onr_x25519_shared(sk, pk, out));
    assert_memory_equal(out, expect, 32);
}

static void test_x25519_shared_rejects_small_order_points(void **state)
{
    /* u = 0, u = 1, a point of order 8 (listed at cr.yp.to/ecdh.html), and
     * the non-canonical encodings p and p + 1 of 0 and 1. */
    static const char *const bad[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    uint8_t sk[32], pk[32], out[32];

    (void)state;
    hex32(ALICE_SK, sk);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hex32(bad[i], pk);
        memset(out, 0xaa, sizeof(out));
        assert_onr(ONR_EBADKEY, onr_x25519_shared(sk, pk, out));
        assert_true(out[0] == 0 && memcmp(out, out + 1, 31) == 0); /* wiped */
    }
}

static void test_x25519_generate_gives_working_pairs(void **state)
{
    uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], pk[32], ab[32], ba[32];

    (void)state;
    assert_onr(ONR_OK, onr_x25519_generate(a_sk, a_pk));
    assert_onr(ONR_OK, onr_x25519_generate(b_sk, b_pk));
    assert_memory_not_equal(a_sk, b_sk, 32);
    assert_onr(ONR_OK, onr_x25519_public(a_sk, pk));
    assert_memory_equal(pk, a_pk, 32);
    assert_onr(ONR_OK, onr_x25519_shared(a_sk, b_pk, ab));
    assert_onr(ONR_OK, onr_x25519_shared(b_sk, a_pk, ba));
    assert_memory_equal(ab, ba, 32);
}

static void test_x25519_rejects_null_arguments(void **state)
{
    uint8_t k[32] = {9};

    (void)state;
    assert_onr(ONR_EINVAL, onr_x25519_generate(NULL, k));
    assert_onr(ONR_EINVAL, onr_x25519_generate(k, NULL));
    assert_onr(ONR_EINVAL, onr_x25519_public(NULL, k));
    assert_onr(ONR_EINVAL, onr_x25519_public(k, NULL));
    assert_onr(ONR_EINVAL, onr_x25519_shared(NULL, k, k));
    assert_onr(ONR_EINVAL, onr_x25519_shared(k, NULL, k));
    assert_onr(ONR_EINVAL, onr_x25519_shared(k, k, NULL));
    assert_onr(ONR_EINVAL, onr_x25519_save(NULL, "x"));
    assert_onr(ONR_EINVAL, onr_x25519_save(k, NULL));
    assert_onr(ONR_EINVAL, onr_x25519_load(NULL, k));
    assert_onr(ONR_EINVAL, onr_x25519_load("x", NULL));
    assert_onr(ONR_EINVAL, onr_x25519_public_save(NULL, "x"));
    assert_onr(ONR_EINVAL, onr_x25519_public_save(k, NULL));
    assert_onr(ONR_EINVAL, onr_x25519_public_load(NULL, k));
    assert_onr(ONR_EINVAL, onr_x25519_public_load("x", NULL));
}

static void test_x25519_save_load_round_trip_mode_0600(void **state)
{
    char *path = path_in(*state, "sk.pem");
    uint8_t sk[32], loaded[32];
    struct stat st;

    hex32(ALICE_SK, sk); /* unclamped: saved and loaded as is */
    assert_onr(ONR_OK, onr_x25519_save(sk, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_onr(ONR_OK, onr_x25519_load(path, loaded));
    assert_memory_equal(loaded, sk, 32);
    free(path);
}

static void test_x25519_load_refuses_group_readable_file(void **state)
{
    char *path = path_in(*state, "sk.pem");
    uint8_t sk[32], loaded[32];

    hex32(BOB_SK, sk);
    assert_onr(ONR_OK, onr_x25519_save(sk, path));
    assert_int_equal(chmod(path, 0644), 0);
    assert_onr(ONR_EPERM, onr_x25519_load(path, loaded));
    assert_int_equal(chmod(path, 0640), 0);
    assert_onr(ONR_EPERM, onr_x25519_load(path, loaded));
    free(path);
}

static void test_x25519_load_missing_file_is_enoent(void **state)
{
    uint8_t sk[32];

    assert_onr(ONR_ENOENT, onr_x25519_load(onr_test_path(*state, "absent.pem"), sk));
    assert_onr(ONR_ENOENT, onr_x25519_public_load(onr_test_path(*state, "absent.pem"), sk));
}

static void test_x25519_public_save_load_round_trip_mode_0644(void **state)
{
    char *path = path_in(*state, "pk.pem");
    uint8_t pk[32], loaded[32];
    struct stat st;

    hex32(ALICE_PK, pk);
    assert_onr(ONR_OK, onr_x25519_public_save(pk, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_onr(ONR_OK, onr_x25519_public_load(path, loaded));
    assert_memory_equal(loaded, pk, 32);
    free(path);
}

/* openssl reads our private key file and derives the public key we do. */
static void test_x25519_saved_key_is_read_by_openssl(void **state)
{
    char *sk_path = path_in(*state, "sk.pem");
    char *pub_path = path_in(*state, "pub.pem");
    uint8_t sk[32], pk[32], from_openssl[32];

    hex32(ALICE_SK, sk);
    hex32(ALICE_PK, pk);
    assert_onr(ONR_OK, onr_x25519_save(sk, sk_path));
    assert_true(run("openssl pkey -in '%s' -noout", sk_path));
    assert_true(run("openssl pkey -in '%s' -pubout -out '%s'", sk_path, pub_path));
    assert_onr(ONR_OK, onr_x25519_public_load(pub_path, from_openssl));
    assert_memory_equal(from_openssl, pk, 32);
    /* and our public key file is one openssl reads too */
    assert_onr(ONR_OK, onr_x25519_public_save(pk, pub_path));
    assert_true(run("openssl pkey -pubin -in '%s' -noout", pub_path));
    free(sk_path);
    free(pub_path);
}

/* A key made by openssl loads, and gives the public key openssl gives. */
static void test_x25519_loads_openssl_generated_key(void **state)
{
    char *sk_path = path_in(*state, "ossl.pem");
    char *pub_path = path_in(*state, "ossl-pub.pem");
    uint8_t sk[32], pk[32], from_openssl[32];

    assert_true(run("openssl genpkey -algorithm X25519 -out '%s'", sk_path));
    assert_int_equal(chmod(sk_path, 0600), 0);
    assert_true(run("openssl pkey -in '%s' -pubout -out '%s'", sk_path, pub_path));
    assert_onr(ONR_OK, onr_x25519_load(sk_path, sk));
    assert_onr(ONR_OK, onr_x25519_public(sk, pk));
    assert_onr(ONR_OK, onr_x25519_public_load(pub_path, from_openssl));
    assert_memory_equal(pk, from_openssl, 32);
    free(sk_path);
    free(pub_path);
}

static void test_x25519_load_rejects_malformed_pem(void **state)
{
    char *path = path_in(*state, "bad.pem");
    uint8_t k[32];

    write_file(path, "not a key\n", ONR_FILE_SECRET);
    assert_onr(ONR_EFORMAT, onr_x25519_load(path, k));
    assert_onr(ONR_EFORMAT, onr_x25519_public_load(path, k));
    /* a header with no end line */
    write_file(path, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEI\n", ONR_FILE_SECRET);
    assert_onr(ONR_EFORMAT, onr_x25519_load(path, k));
    free(path);
}

static void test_x25519_load_rejects_p256_keys(void **state)
{
    char *ours = path_in(*state, "p256.pem");
    char *ossl = path_in(*state, "p256-pkcs8.pem");
    char *pub = path_in(*state, "p256-pub.pem");
    struct onr_p256_key *key = NULL;
    uint8_t p256_pub[ONR_P256_PUB_LEN];
    uint8_t k[32];

    /* "EC PRIVATE KEY", as onr_p256_save writes it */
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_save(key, ours));
    assert_onr(ONR_EBADKEY, onr_x25519_load(ours, k));
    /* PKCS#8 "PRIVATE KEY", as openssl writes it */
    assert_true(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                    "-out '%s'",
                    ossl));
    assert_int_equal(chmod(ossl, 0600), 0);
    assert_onr(ONR_EBADKEY, onr_x25519_load(ossl, k));
    /* and a P-256 public key */
    assert_onr(ONR_OK, onr_p256_public(key, p256_pub));
    assert_onr(ONR_OK, onr_p256_public_save(p256_pub, pub));
    assert_onr(ONR_EBADKEY, onr_x25519_public_load(pub, k));
    onr_p256_free(key);
    free(ours);
    free(ossl);
    free(pub);
}

/* Same length and layout as X25519's PKCS#8, another OID (1.3.101.112). */
static void test_x25519_load_rejects_ed25519_key(void **state)
{
    char *path = path_in(*state, "ed.pem");
    char *pub = path_in(*state, "ed-pub.pem");
    uint8_t k[32];

    assert_true(run("openssl genpkey -algorithm ED25519 -out '%s'", path));
    assert_int_equal(chmod(path, 0600), 0);
    assert_onr(ONR_EBADKEY, onr_x25519_load(path, k));
    assert_true(run("openssl pkey -in '%s' -pubout -out '%s'", path, pub));
    assert_onr(ONR_EBADKEY, onr_x25519_public_load(pub, k));
    free(path);
    free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_public_matches_rfc7748_unclamped_keys),
        cmocka_unit_test(test_x25519_shared_matches_rfc7748_both_ways),
        cmocka_unit_test(test_x25519_shared_ignores_top_bit_of_peer_key),
        cmocka_unit_test(test_x25519_shared_rejects_small_order_points),
        cmocka_unit_test(test_x25519_generate_gives_working_pairs),
        cmocka_unit_test(test_x25519_rejects_null_arguments),
        cmocka_unit_test_setup_teardown(test_x25519_save_load_round_trip_mode_0600, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_load_refuses_group_readable_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_load_missing_file_is_enoent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_public_save_load_round_trip_mode_0644,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_x25519_saved_key_is_read_by_openssl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_loads_openssl_generated_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_load_rejects_malformed_pem, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_x25519_load_rejects_p256_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x25519_load_rejects_ed25519_key, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
