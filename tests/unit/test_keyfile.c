#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/keyfile.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_keyfile_p256_is_made_once_and_kept(void **state)
{
    char path[4096];
    uint8_t first[2048];
    uint8_t again[2048];
    uint8_t pub1[ONR_P256_PUB_LEN];
    uint8_t pub2[ONR_P256_PUB_LEN];
    struct onr_p256_key *key = NULL;
    enum onr_file_change change = ONR_FILE_KEPT;
    size_t len;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "service.key"));
    assert_onr(ONR_OK, onr_keyfile_p256(path, &key, &change));
    assert_int_equal(change, ONR_FILE_CREATED);
    assert_int_equal(mode_of(path), 0600);
    assert_onr(ONR_OK, onr_p256_public(key, pub1));
    onr_p256_free(key);
    len = onr_test_read_file(path, first, sizeof(first));
    assert_onr(ONR_OK, onr_keyfile_p256(path, &key, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_onr(ONR_OK, onr_p256_public(key, pub2));
    onr_p256_free(key);
    assert_memory_equal(pub1, pub2, sizeof(pub1));
    assert_int_equal(onr_test_read_file(path, again, sizeof(again)), len);
    assert_memory_equal(first, again, len);
    /* a key others may read is refused, not replaced */
    assert_int_equal(chmod(path, 0644), 0);
    assert_onr(ONR_EPERM, onr_keyfile_p256(path, &key, &change));
    assert_null(key);
    /* so is one that does not load */
    assert_onr(ONR_OK, onr_file_write_atomic(path, "junk\n", 5, ONR_FILE_SECRET));
    assert_onr(ONR_EFORMAT, onr_keyfile_p256(path, &key, &change));
    assert_null(key);
    assert_int_equal(onr_test_read_file(path, again, sizeof(again)), 5);
    assert_onr(ONR_EINVAL, onr_keyfile_p256(NULL, &key, &change));
}

static void test_keyfile_x25519_is_made_once_and_kept(void **state)
{
    char path[4096];
    uint8_t sk1[ONR_X25519_KEY_LEN];
    uint8_t sk2[ONR_X25519_KEY_LEN];
    enum onr_file_change change = ONR_FILE_KEPT;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "sealing.key"));
    assert_onr(ONR_OK, onr_keyfile_x25519(path, sk1, &change));
    assert_int_equal(change, ONR_FILE_CREATED);
    assert_int_equal(mode_of(path), 0600);
    assert_onr(ONR_OK, onr_keyfile_x25519(path, sk2, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_memory_equal(sk1, sk2, sizeof(sk1));
    assert_int_equal(chmod(path, 0640), 0);
    assert_onr(ONR_EPERM, onr_keyfile_x25519(path, sk2, &change));
    onr_wipe(sk1, sizeof(sk1));
    onr_wipe(sk2, sizeof(sk2));
}

static void test_keyfile_public_halves_follow_their_keys(void **state)
{
    char path[4096];
    char xpath[4096];
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t other[ONR_P256_PUB_LEN];
    uint8_t sk[ONR_X25519_KEY_LEN];
    uint8_t pk[ONR_X25519_KEY_LEN];
    uint8_t pk2[ONR_X25519_KEY_LEN];
    struct onr_p256_key *key = NULL;
    enum onr_file_change change = ONR_FILE_KEPT;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "service.pub"));
    snprintf(xpath, sizeof(xpath), "%s", onr_test_path(*state, "sealing.pub"));
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    onr_p256_free(key);
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_public(key, other));
    onr_p256_free(key);
    assert_onr(ONR_OK, onr_keyfile_p256_public(path, pub, &change));
    assert_int_equal(change, ONR_FILE_CREATED);
    assert_int_equal(mode_of(path), 0644);
    assert_onr(ONR_OK, onr_keyfile_p256_public(path, pub, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_onr(ONR_OK, onr_keyfile_p256_public(path, other, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_int_equal(chmod(path, 0600), 0); /* the wrong mode is put right */
    assert_onr(ONR_OK, onr_keyfile_p256_public(path, other, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_int_equal(mode_of(path), 0644);

    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk2));
    assert_onr(ONR_OK, onr_keyfile_x25519_public(xpath, pk, &change));
    assert_int_equal(change, ONR_FILE_CREATED);
    assert_onr(ONR_OK, onr_keyfile_x25519_public(xpath, pk, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_onr(ONR_OK, onr_keyfile_x25519_public(xpath, pk2, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    /* a P-256 public key where an X25519 one should be: replaced */
    assert_onr(ONR_OK, onr_keyfile_x25519_public(path, pk2, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    onr_wipe(sk, sizeof(sk));
}

struct pki {
    struct onr_p256_key *ca_key;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len;
    struct onr_p256_key *leaf_key;
};

static const struct onr_x509_profile ca_profile = {
    .subject = {.common_name = "services CA", .organization = "onramp"},
    .days = 3650,
    .is_ca = 1,
    .path_len = 0,
};

static void pki_init(struct pki *p, const char *dir)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    char path[4096];

    memset(p, 0, sizeof(*p));
    assert_onr(ONR_OK, onr_p256_generate(&p->ca_key));
    assert_onr(ONR_OK, onr_p256_generate(&p->leaf_key));
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    p->ca_len = sizeof(p->ca);
    assert_onr(ONR_OK,
               onr_keyfile_cert(path, p->ca_key, &ca_profile, NULL, 30, p->ca, &p->ca_len,
                                &change));
    assert_int_equal(change, ONR_FILE_CREATED);
}

static void pki_cleanup(struct pki *p)
{
    onr_p256_free(p->ca_key);
    onr_p256_free(p->leaf_key);
}

/* Issue `profile` for the leaf key into `path`; what happened. */
static enum onr_file_change put_leaf(struct pki *p, const char *path,
                                     const struct onr_x509_profile *profile, uint8_t *der,
                                     size_t *len)
{
    struct onr_keyfile_issuer issuer = {p->ca_key, p->ca, p->ca_len};
    enum onr_file_change change = ONR_FILE_KEPT;

    *len = ONR_X509_MAX_DER;
    assert_onr(ONR_OK, onr_keyfile_cert(path, p->leaf_key, profile, &issuer, 30, der, len,
                                        &change));
    return change;
}

static void test_keyfile_cert_is_kept_while_right_and_reissued_with_the_same_key(void **state)
{
    struct onr_x509_san san[] = {{ONR_X509_SAN_DNS, "broker.example.net"},
                                 {ONR_X509_SAN_IP, "192.0.2.7"}};
    struct onr_x509_profile leaf = {
        .subject = {.common_name = "broker-1", .organization = "onramp"},
        .days = 825,
        .path_len = -1,
        .eku = ONR_X509_EKU_SERVER,
        .san = san,
        .n_san = 2,
    };
    uint8_t der[ONR_X509_MAX_DER];
    uint8_t again[ONR_X509_MAX_DER];
    uint8_t pub[ONR_P256_PUB_LEN];
    struct onr_x509_info info;
    char path[4096];
    size_t len;
    size_t again_len;
    struct pki p;

    pki_init(&p, *state);
    snprintf(path, sizeof(path), "%s/broker.pem", (const char *)*state);
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_CREATED);
    assert_int_equal(mode_of(path), 0644);
    assert_int_equal(put_leaf(&p, path, &leaf, again, &again_len), ONR_FILE_KEPT);
    assert_int_equal(again_len, len);
    assert_memory_equal(der, again, len); /* the file's own certificate */
    /* another SAN: issued again, for the same key */
    san[1].value = "192.0.2.8";
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_UPDATED);
    assert_onr(ONR_OK, onr_x509_parse(der, len, &info));
    assert_onr(ONR_OK, onr_p256_public(p.leaf_key, pub));
    assert_memory_equal(info.public_key, pub, sizeof(pub));
    assert_onr(ONR_OK, onr_x509_check_profile(der, len, &leaf));
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_KEPT);
    /* another subject */
    leaf.subject.org_unit = "operator";
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_UPDATED);
    /* close to its end: renewed (a 10-day certificate, renewed 30 days ahead) */
    leaf.days = 10;
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_KEPT); /* 825 days left */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_CREATED);
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_UPDATED);
    leaf.days = 825;
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_UPDATED);
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_KEPT);
    /* a file that is not a certificate, or empty */
    assert_onr(ONR_OK, onr_file_write_atomic(path, "x", 1, ONR_FILE_PUBLIC));
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_UPDATED);
    pki_cleanup(&p);
}

static void test_keyfile_cert_of_another_issuer_or_key_is_reissued(void **state)
{
    struct onr_x509_profile leaf = {
        .subject = {.common_name = "op-1", .organization = "onramp", .org_unit = "operator"},
        .days = 825,
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT,
    };
    uint8_t der[ONR_X509_MAX_DER];
    char path[4096];
    char ca_path[4096];
    struct onr_p256_key *swap;
    enum onr_file_change change = ONR_FILE_KEPT;
    size_t len;
    struct pki p;
    struct pki q;

    pki_init(&p, *state);
    snprintf(path, sizeof(path), "%s/op-1.pem", (const char *)*state);
    assert_int_equal(put_leaf(&p, path, &leaf, der, &len), ONR_FILE_CREATED);
    /* the same key under another CA */
    snprintf(ca_path, sizeof(ca_path), "%s/q", (const char *)*state);
    assert_int_equal(mkdir(ca_path, 0700), 0);
    pki_init(&q, ca_path);
    swap = q.leaf_key;
    q.leaf_key = p.leaf_key;
    assert_int_equal(put_leaf(&q, path, &leaf, der, &len), ONR_FILE_UPDATED);
    assert_int_equal(put_leaf(&q, path, &leaf, der, &len), ONR_FILE_KEPT);
    /* another key under the same CA */
    q.leaf_key = swap;
    assert_int_equal(put_leaf(&q, path, &leaf, der, &len), ONR_FILE_UPDATED);
    q.leaf_key = NULL;
    onr_p256_free(swap);
    /* a self-signed CA whose profile changed is made again with its key */
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", (const char *)*state);
    len = sizeof(der);
    assert_onr(ONR_OK, onr_keyfile_cert(ca_path, p.ca_key, &ca_profile, NULL, 30, der, &len,
                                        &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_int_equal(len, p.ca_len);
    assert_memory_equal(der, p.ca, len);
    {
        struct onr_x509_profile renamed = ca_profile;

        renamed.subject.common_name = "fabric CA";
        len = sizeof(der);
        assert_onr(ONR_OK, onr_keyfile_cert(ca_path, p.ca_key, &renamed, NULL, 30, der, &len,
                                            &change));
        assert_int_equal(change, ONR_FILE_UPDATED);
    }
    len = 10;
    assert_onr(ONR_ESPACE, onr_keyfile_cert(ca_path, p.ca_key, &ca_profile, NULL, 30, der,
                                            &len, &change));
    assert_onr(ONR_EINVAL, onr_keyfile_cert(ca_path, NULL, &ca_profile, NULL, 30, der, &len,
                                            &change));
    pki_cleanup(&p);
    pki_cleanup(&q);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_keyfile_p256_is_made_once_and_kept),
        T(test_keyfile_x25519_is_made_once_and_kept),
        T(test_keyfile_public_halves_follow_their_keys),
        T(test_keyfile_cert_is_kept_while_right_and_reissued_with_the_same_key),
        T(test_keyfile_cert_of_another_issuer_or_key_is_reissued),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
