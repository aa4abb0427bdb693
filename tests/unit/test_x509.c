#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x509.h"

struct fixture {
    char *dir;
    struct onr_p256_key *ca_key;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len;
    struct onr_p256_key *leaf_key;
    uint8_t leaf_pub[ONR_P256_PUB_LEN];
};

static const struct onr_x509_profile ca_profile = {
    .subject = {.common_name = "Test CA", .organization = "Onramp", .org_unit = "tests"},
    .days = 365,
    .is_ca = 1,
    .path_len = 1,
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = onr_test_tmpdir();
    assert_onr(ONR_OK, onr_p256_generate(&f->ca_key));
    f->ca_len = sizeof(f->ca);
    assert_onr(ONR_OK, onr_x509_self_signed(f->ca_key, &ca_profile, f->ca, &f->ca_len));
    assert_onr(ONR_OK, onr_p256_generate(&f->leaf_key));
    assert_onr(ONR_OK, onr_p256_public(f->leaf_key, f->leaf_pub));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    onr_p256_free(f->ca_key);
    onr_p256_free(f->leaf_key);
    onr_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Run a shell command; its stdout (and stderr) into `out`; the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[8192];
    FILE *p;
    size_t n = 0;
    int status;

    snprintf(full, sizeof(full), "( %s ) 2>&1", cmd);
    p = popen(full, "r");
    assert_non_null(p);
    if (out != NULL && cap > 0) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    } else {
        char sink[512];

        while (fread(sink, 1, sizeof(sink), p) > 0)
            ;
    }
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The first occurrence of `needle` in `hay` (memmem is not POSIX). */
static uint8_t *find_bytes(uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static void save_one(const char *path, const uint8_t *der, size_t len)
{
    const struct onr_bytes cert = {der, len};

    assert_onr(ONR_OK, onr_x509_save(path, &cert, 1));
}

/* A leaf for the fixture's leaf key with the SANs and usages a TLS server
 * certificate for a loopback broker has. */
static size_t issue_leaf(struct fixture *f, const struct onr_p256_key *ca_key,
                         const uint8_t *ca, size_t ca_len, uint8_t *der)
{
    static const struct onr_x509_san san[] = {
        {ONR_X509_SAN_DNS, "localhost"},
        {ONR_X509_SAN_IP, "127.0.0.1"},
        {ONR_X509_SAN_URI, "urn:onramp:dev:rguib733fa2xfyrzdwehzsohu743ont4"},
    };
    struct onr_x509_profile p = {
        .subject = {.common_name = "rguib733fa2xfyrzdwehzsohu743ont4", .organization = "ACME"},
        .days = 30,
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT | ONR_X509_EKU_SERVER,
        .san = san,
        .n_san = 3,
    };
    size_t len = ONR_X509_MAX_DER;

    assert_onr(ONR_OK, onr_x509_issue(ca_key, ca, ca_len, f->leaf_pub, &p, der, &len));
    return len;
}

static void test_x509_self_signed_ca_is_read_by_openssl(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    char cmd[4096];
    char out[16384];

    snprintf(path, sizeof(path), "%s/ca.pem", f->dir);
    save_one(path, f->ca, f->ca_len);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text", path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "CA:TRUE, pathlen:1"));
    assert_non_null(strstr(out, "Certificate Sign, CRL Sign"));
    assert_non_null(strstr(out, "ecdsa-with-SHA256"));
    assert_non_null(strstr(out, "CN = Test CA"));
    assert_non_null(strstr(out, "Subject Key Identifier"));
    /* self-signed: openssl verifies it against itself */
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s %s", path, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
}

static void test_x509_leaf_is_verified_by_openssl_with_usages_and_san(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    size_t leaf_len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    char ca_path[1024];
    char leaf_path[1024];
    char cmd[4096];
    char out[16384];

    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", f->dir);
    snprintf(leaf_path, sizeof(leaf_path), "%s/leaf.pem", f->dir);
    save_one(ca_path, f->ca, f->ca_len);
    save_one(leaf_path, leaf, leaf_len);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s %s", ca_path, leaf_path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, ": OK"));
    snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslserver -CAfile %s %s", ca_path,
             leaf_path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslclient -CAfile %s %s", ca_path,
             leaf_path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text", leaf_path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "TLS Web Client Authentication"));
    assert_non_null(strstr(out, "TLS Web Server Authentication"));
    assert_non_null(strstr(out, "DNS:localhost"));
    assert_non_null(strstr(out, "IP Address:127.0.0.1"));
    assert_non_null(strstr(out, "URI:urn:onramp:dev:rguib733fa2xfyrzdwehzsohu743ont4"));
    assert_non_null(strstr(out, "Digital Signature"));
    assert_non_null(strstr(out, "Authority Key Identifier"));
    assert_null(strstr(out, "CA:TRUE"));
}

static void test_x509_serials_are_random(void **state)
{
    struct fixture *f = *state;
    uint8_t a[ONR_X509_MAX_DER];
    uint8_t b[ONR_X509_MAX_DER];
    struct onr_x509_info ia;
    struct onr_x509_info ib;

    assert_onr(ONR_OK, onr_x509_parse(a, issue_leaf(f, f->ca_key, f->ca, f->ca_len, a), &ia));
    assert_onr(ONR_OK, onr_x509_parse(b, issue_leaf(f, f->ca_key, f->ca, f->ca_len, b), &ib));
    assert_int_equal(ia.serial_len, 16);
    assert_int_equal(ia.serial[0] & 0x80, 0);
    assert_memory_not_equal(ia.serial, ib.serial, 16);
}

static void test_x509_parse_reports_fields(void **state)
{
    struct fixture *f = *state;
    struct onr_x509_info info;
    int64_t now = (int64_t)time(NULL);

    assert_onr(ONR_OK, onr_x509_parse(f->ca, f->ca_len, &info));
    assert_string_equal(info.common_name, "Test CA");
    assert_string_equal(info.organization, "Onramp");
    assert_string_equal(info.org_unit, "tests");
    assert_true(info.is_ca);
    assert_true(info.not_before <= now + 60 && info.not_before >= now - 86400 * 2);
    assert_true(info.not_after >= now + 364 * 86400 && info.not_after <= now + 367 * 86400);
}

/* A validity in seconds (short-lived certificates): a minute before now
 * to `seconds` after, as openssl reads it. */
static void test_x509_validity_in_seconds(void **state)
{
    struct fixture *f = *state;
    struct onr_x509_profile p = {.subject = {.common_name = "short"}, .seconds = 600,
                                 .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = sizeof(der);
    struct onr_x509_info info;
    char path[1024], cmd[2048], out[4096];
    int64_t before = (int64_t)time(NULL), after;

    assert_onr(ONR_OK, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der, &len));
    after = (int64_t)time(NULL);
    assert_onr(ONR_OK, onr_x509_parse(der, len, &info));
    assert_true(info.not_before >= before - 60 && info.not_before <= after - 60);
    assert_true(info.not_after >= before + 600 && info.not_after <= after + 600);
    snprintf(path, sizeof(path), "%s/short.pem", f->dir);
    save_one(path, der, len);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -checkend 540", path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -checkend 660", path);
    assert_int_not_equal(run(cmd, out, sizeof(out)), 0);
    p.seconds = 59;
    len = sizeof(der);
    assert_onr(ONR_EINVAL, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der,
                                          &len));
}

static void test_x509_csr_is_verified_by_openssl(void **state)
{
    struct fixture *f = *state;
    const struct onr_x509_name subject = {.common_name = "device-csr", .organization = "ACME"};
    uint8_t csr[ONR_X509_MAX_DER];
    size_t csr_len = sizeof(csr);
    uint8_t pub[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    char path[1024];
    char cmd[2048];
    char out[8192];

    assert_onr(ONR_OK, onr_x509_csr_new(f->leaf_key, &subject, csr, &csr_len));
    snprintf(path, sizeof(path), "%s/req.pem", f->dir);
    assert_onr(ONR_OK, onr_x509_csr_save(path, csr, csr_len));
    /* openssl req -verify exits 0 even for a bad signature: read its words */
    snprintf(cmd, sizeof(cmd), "openssl req -in %s -verify -noout", path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "verify OK"));
    assert_null(strstr(out, "fail"));
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, csr_len, pub, cn));
    assert_memory_equal(pub, f->leaf_pub, sizeof(pub));
    assert_string_equal(cn, "device-csr");
}

/*
 * Have the openssl CLI's `ca` command sign a fresh P-256 request for
 * /CN=`cn` with the issuer certificate and key files in f->dir, with the
 * validity options `validity`, and read the result (DER) into `out`.
 * openssl, unlike onr_x509_issue, signs with any certificate and any
 * dates: the way to make certificates Onramp itself refuses to make.
 */
static size_t openssl_ca_sign(struct fixture *f, const char *issuer_cert, const char *issuer_key,
                              const char *cn, const char *validity, uint8_t *out, size_t cap)
{
    char cmd[8192];
    FILE *cnf;

    snprintf(cmd, sizeof(cmd), "%s/ca.cnf", f->dir);
    cnf = fopen(cmd, "w");
    assert_non_null(cnf);
    fputs("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
          "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
          "[p]\ncommonName = supplied\n",
          cnf);
    fclose(cnf);
    snprintf(cmd, sizeof(cmd),
             "cd %s && touch index.txt && echo 01 > serial && "
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=%s "
             "-keyout %s.key -out %s.csr && "
             "openssl ca -batch -config ca.cnf -cert %s -keyfile %s -in %s.csr -out %s.pem %s "
             "-notext && openssl x509 -in %s.pem -outform DER -out %s.der",
             f->dir, cn, cn, cn, issuer_cert, issuer_key, cn, cn, validity, cn, cn);
    assert_int_equal(run(cmd, NULL, 0), 0);
    snprintf(cmd, sizeof(cmd), "%s/%s.der", f->dir, cn);
    return onr_test_read_file(cmd, out, cap);
}

static void test_x509_csr_verify_accepts_openssl_request(void **state)
{
    struct fixture *f = *state;
    char cmd[4096];
    char path[1024];
    uint8_t csr[ONR_X509_MAX_DER];
    size_t len;
    uint8_t pub[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];

    snprintf(path, sizeof(path), "%s/ossl.der", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-subj /CN=from-openssl -keyout %s/ossl.key -outform DER -out %s",
             f->dir, path);
    assert_int_equal(run(cmd, NULL, 0), 0);
    len = onr_test_read_file(path, csr, sizeof(csr));
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, len, pub, cn));
    assert_string_equal(cn, "from-openssl");
}

static void test_x509_csr_verify_rejects_bad_signature(void **state)
{
    struct fixture *f = *state;
    const struct onr_x509_name subject = {.common_name = "x"};
    uint8_t csr[ONR_X509_MAX_DER];
    size_t csr_len = sizeof(csr);
    uint8_t pub[ONR_P256_PUB_LEN];

    assert_onr(ONR_OK, onr_x509_csr_new(f->leaf_key, &subject, csr, &csr_len));
    csr[csr_len - 3] ^= 0x01; /* inside s */
    assert_onr(ONR_EBADSIG, onr_x509_csr_verify(csr, csr_len, pub, NULL));
}

static void test_x509_csr_verify_rejects_a_changed_subject(void **state)
{
    struct fixture *f = *state;
    const struct onr_x509_name subject = {.common_name = "honest"};
    uint8_t csr[ONR_X509_MAX_DER];
    size_t csr_len = sizeof(csr);
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t *p;

    assert_onr(ONR_OK, onr_x509_csr_new(f->leaf_key, &subject, csr, &csr_len));
    p = find_bytes(csr, csr_len, "honest");
    assert_non_null(p);
    memcpy(p, "hacker", 6);
    assert_onr(ONR_EBADSIG, onr_x509_csr_verify(csr, csr_len, pub, NULL));
}

static void test_x509_csr_verify_rejects_malformed(void **state)
{
    struct fixture *f = *state;
    const struct onr_x509_name subject = {.common_name = "x"};
    uint8_t csr[ONR_X509_MAX_DER + 1];
    size_t csr_len = ONR_X509_MAX_DER;
    uint8_t pub[ONR_P256_PUB_LEN];
    static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x00};

    assert_onr(ONR_OK, onr_x509_csr_new(f->leaf_key, &subject, csr, &csr_len));
    assert_onr(ONR_ECSR, onr_x509_csr_verify(csr, csr_len / 2, pub, NULL));
    assert_onr(ONR_ECSR, onr_x509_csr_verify(garbage, sizeof(garbage), pub, NULL));
    assert_onr(ONR_ECSR, onr_x509_csr_verify(csr, 0, pub, NULL));
    memset(csr, 0x30, sizeof(csr));
    assert_onr(ONR_ETOOBIG, onr_x509_csr_verify(csr, sizeof(csr), pub, NULL));
    assert_onr(ONR_EINVAL, onr_x509_csr_verify(NULL, 10, pub, NULL));
}

static void test_x509_csr_verify_rejects_rsa(void **state)
{
    struct fixture *f = *state;
    char cmd[4096];
    char path[1024];
    uint8_t csr[ONR_X509_MAX_DER];
    size_t len;
    uint8_t pub[ONR_P256_PUB_LEN];

    snprintf(path, sizeof(path), "%s/rsa.der", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -new -newkey rsa:2048 -nodes -subj /CN=rsa -keyout %s/rsa.key "
             "-outform DER -out %s",
             f->dir, path);
    assert_int_equal(run(cmd, NULL, 0), 0);
    len = onr_test_read_file(path, csr, sizeof(csr));
    assert_onr(ONR_ECSR, onr_x509_csr_verify(csr, len, pub, NULL));
}

static void test_x509_verify_chain_leaf_to_ca(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes chain = {leaf, 0};
    struct onr_x509_info info;

    chain.len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    assert_onr(ONR_OK, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 1, &info));
    assert_memory_equal(info.public_key, f->leaf_pub, ONR_P256_PUB_LEN);
    assert_string_equal(info.common_name, "rguib733fa2xfyrzdwehzsohu743ont4");
    assert_false(info.is_ca);
}

static void test_x509_verify_chain_through_intermediate(void **state)
{
    struct fixture *f = *state;
    struct onr_p256_key *inter_key = NULL;
    uint8_t inter_pub[ONR_P256_PUB_LEN];
    uint8_t inter[ONR_X509_MAX_DER];
    size_t inter_len = sizeof(inter);
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes chain[2];
    const struct onr_x509_profile inter_profile = {
        .subject = {.common_name = "Intermediate"}, .days = 100, .is_ca = 1, .path_len = 0};

    assert_onr(ONR_OK, onr_p256_generate(&inter_key));
    assert_onr(ONR_OK, onr_p256_public(inter_key, inter_pub));
    assert_onr(ONR_OK, onr_x509_issue(f->ca_key, f->ca, f->ca_len, inter_pub, &inter_profile,
                                      inter, &inter_len));
    chain[0] = (struct onr_bytes){leaf, issue_leaf(f, inter_key, inter, inter_len, leaf)};
    chain[1] = (struct onr_bytes){inter, inter_len};
    assert_onr(ONR_OK, onr_x509_verify_chain(f->ca, f->ca_len, chain, 2, NULL));
    /* without the intermediate the leaf does not reach the anchor */
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(f->ca, f->ca_len, chain, 1, NULL));
    onr_p256_free(inter_key);
}

static void test_x509_verify_chain_enforces_path_length(void **state)
{
    struct fixture *f = *state;
    struct onr_p256_key *k1 = NULL;
    struct onr_p256_key *k2 = NULL;
    uint8_t pub1[ONR_P256_PUB_LEN];
    uint8_t pub2[ONR_P256_PUB_LEN];
    uint8_t inter1[ONR_X509_MAX_DER];
    uint8_t inter2[ONR_X509_MAX_DER];
    size_t len1 = sizeof(inter1);
    size_t len2 = sizeof(inter2);
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes chain[3];
    struct onr_x509_info info;
    const struct onr_x509_profile p0 = {
        .subject = {.common_name = "pathlen 0"}, .days = 10, .is_ca = 1, .path_len = 0};

    assert_onr(ONR_OK, onr_p256_generate(&k1));
    assert_onr(ONR_OK, onr_p256_generate(&k2));
    assert_onr(ONR_OK, onr_p256_public(k1, pub1));
    assert_onr(ONR_OK, onr_p256_public(k2, pub2));
    /* root (pathlen 1) -> inter1 (pathlen 0) -> inter2 (CA) -> leaf */
    assert_onr(ONR_OK, onr_x509_issue(f->ca_key, f->ca, f->ca_len, pub1, &p0, inter1, &len1));
    assert_onr(ONR_OK, onr_x509_issue(k1, inter1, len1, pub2, &p0, inter2, &len2));
    assert_onr(ONR_OK, onr_x509_parse(inter1, len1, &info));
    assert_int_equal(info.path_len, 0);
    assert_true(info.can_sign_certs);
    chain[0] = (struct onr_bytes){leaf, issue_leaf(f, k2, inter2, len2, leaf)};
    chain[1] = (struct onr_bytes){inter2, len2};
    chain[2] = (struct onr_bytes){inter1, len1};
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(f->ca, f->ca_len, chain, 3, NULL));
    /* the root's own pathlen 1 also forbids two intermediates: check with
     * inter1 as the anchor, which allows none below it */
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(inter1, len1, chain, 2, NULL));
    onr_p256_free(k1);
    onr_p256_free(k2);
}

static void test_x509_verify_chain_rejects_other_ca(void **state)
{
    struct fixture *f = *state;
    struct onr_p256_key *other_key = NULL;
    uint8_t other[ONR_X509_MAX_DER];
    size_t other_len = sizeof(other);
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes chain;

    assert_onr(ONR_OK, onr_p256_generate(&other_key));
    /* same name, another key: only the signature tells them apart */
    assert_onr(ONR_OK, onr_x509_self_signed(other_key, &ca_profile, other, &other_len));
    chain = (struct onr_bytes){leaf, issue_leaf(f, other_key, other, other_len, leaf)};
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 1, NULL));
    onr_p256_free(other_key);
}

static void test_x509_verify_chain_rejects_tampered_leaf(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes chain = {leaf, 0};
    uint8_t *p;

    chain.len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    p = find_bytes(leaf, chain.len, "ACME");
    assert_non_null(p);
    p[0] = 'E';
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 1, NULL));
}

static void test_x509_non_ca_cannot_issue(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    size_t leaf_len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    uint8_t sub[ONR_X509_MAX_DER];
    size_t sub_len = sizeof(sub);
    const struct onr_x509_profile p = {.subject = {.common_name = "sub"}, .days = 1,
                                       .path_len = -1};

    /* our own issuance refuses a leaf as issuer */
    assert_onr(ONR_ECERT, onr_x509_issue(f->leaf_key, leaf, leaf_len, f->leaf_pub, &p, sub,
                                         &sub_len));
    /* and a CA certificate that is not for the signing key */
    assert_onr(ONR_ECERT, onr_x509_issue(f->leaf_key, f->ca, f->ca_len, f->leaf_pub, &p, sub,
                                         &sub_len));
}

static void test_x509_chain_through_a_leaf_is_refused(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    uint8_t leaf[ONR_X509_MAX_DER];
    size_t leaf_len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    uint8_t sub[ONR_X509_MAX_DER];
    struct onr_bytes chain[2];

    /* a certificate signed by our leaf (which is not a CA) */
    snprintf(path, sizeof(path), "%s/leaf.key", f->dir);
    assert_onr(ONR_OK, onr_p256_save(f->leaf_key, path));
    snprintf(path, sizeof(path), "%s/leaf.pem", f->dir);
    save_one(path, leaf, leaf_len);
    chain[0] = (struct onr_bytes){sub, openssl_ca_sign(f, "leaf.pem", "leaf.key", "sub",
                                                       "-days 1", sub, sizeof(sub))};
    chain[1] = (struct onr_bytes){leaf, leaf_len};
    assert_onr(ONR_ECHAIN, onr_x509_verify_chain(f->ca, f->ca_len, chain, 2, NULL));
}

static void test_x509_verify_chain_rejects_expired(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    uint8_t expired[ONR_X509_MAX_DER];
    struct onr_bytes chain;

    snprintf(path, sizeof(path), "%s/ca.key", f->dir);
    assert_onr(ONR_OK, onr_p256_save(f->ca_key, path));
    snprintf(path, sizeof(path), "%s/ca.pem", f->dir);
    save_one(path, f->ca, f->ca_len);
    /* signed by our CA, valid for one day in 2020 */
    chain = (struct onr_bytes){expired, 0};
    chain.len = openssl_ca_sign(f, "ca.pem", "ca.key", "old",
                                "-startdate 20200101000000Z -enddate 20200102000000Z", expired,
                                sizeof(expired));
    assert_onr(ONR_EEXPIRED, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 1, NULL));
}

static void test_x509_verify_chain_rejects_malformed(void **state)
{
    struct fixture *f = *state;
    static const uint8_t junk[] = {0x30, 0x03, 0x01, 0x01, 0xff};
    struct onr_bytes chain = {junk, sizeof(junk)};

    assert_onr(ONR_ECERT, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 1, NULL));
    chain = (struct onr_bytes){f->ca, f->ca_len};
    assert_onr(ONR_ECERT, onr_x509_verify_chain(junk, sizeof(junk), &chain, 1, NULL));
    assert_onr(ONR_EINVAL, onr_x509_verify_chain(f->ca, f->ca_len, &chain, 0, NULL));
}

static void test_x509_issue_rejects_key_off_curve(void **state)
{
    struct fixture *f = *state;
    uint8_t bad[ONR_P256_PUB_LEN];
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = sizeof(der);
    const struct onr_x509_profile p = {.subject = {.common_name = "x"}, .days = 1,
                                       .path_len = -1};

    memcpy(bad, f->leaf_pub, sizeof(bad));
    bad[64] ^= 0x01;
    assert_onr(ONR_EBADKEY, onr_x509_issue(f->ca_key, f->ca, f->ca_len, bad, &p, der, &len));
}

static void test_x509_issue_rejects_bad_profiles(void **state)
{
    struct fixture *f = *state;
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = sizeof(der);
    struct onr_x509_profile p = {.subject = {.common_name = "x"}, .days = 0, .path_len = -1};
    char long_name[ONR_X509_MAX_NAME + 2];

    assert_onr(ONR_EINVAL, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der,
                                          &len));
    p.days = 1;
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    p.subject.common_name = long_name;
    assert_onr(ONR_EINVAL, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der,
                                          &len));
    p.subject.common_name = "x";
    len = 100;
    assert_onr(ONR_ESPACE, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der,
                                          &len));
}

static void test_x509_save_load_round_trip_chain(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    struct onr_bytes certs[2];
    struct onr_bytes loaded[4];
    uint8_t buf[2 * ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    size_t n = 0;
    char path[1024];
    FILE *junk;

    certs[0] = (struct onr_bytes){leaf, issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf)};
    certs[1] = (struct onr_bytes){f->ca, f->ca_len};
    snprintf(path, sizeof(path), "%s/chain.pem", f->dir);
    assert_onr(ONR_OK, onr_x509_save(path, certs, 2));
    assert_onr(ONR_OK, onr_x509_load(path, buf, &buf_len, loaded, 4, &n));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(loaded[i].len, certs[i].len);
        assert_memory_equal(loaded[i].ptr, certs[i].ptr, certs[i].len);
    }
    /* too small a buffer, too few slots */
    buf_len = 100;
    assert_onr(ONR_ESPACE, onr_x509_load(path, buf, &buf_len, loaded, 4, &n));
    buf_len = sizeof(buf);
    assert_onr(ONR_ESPACE, onr_x509_load(path, buf, &buf_len, loaded, 1, &n));
    /* missing and malformed files */
    snprintf(path, sizeof(path), "%s/none.pem", f->dir);
    assert_onr(ONR_ENOENT, onr_x509_load(path, buf, &buf_len, loaded, 4, &n));
    snprintf(path, sizeof(path), "%s/junk.pem", f->dir);
    junk = fopen(path, "w");
    assert_non_null(junk);
    fputs("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n", junk);
    fclose(junk);
    assert_onr(ONR_EFORMAT, onr_x509_load(path, buf, &buf_len, loaded, 4, &n));
    junk = fopen(path, "w");
    assert_non_null(junk);
    fputs("no certificates here\n", junk);
    fclose(junk);
    assert_onr(ONR_EFORMAT, onr_x509_load(path, buf, &buf_len, loaded, 4, &n));
}

/* issue_leaf's profile, and variations of it that each change one thing. */
static void test_x509_check_profile_matches_and_tells_each_change(void **state)
{
    struct fixture *f = *state;
    uint8_t leaf[ONR_X509_MAX_DER];
    size_t leaf_len = issue_leaf(f, f->ca_key, f->ca, f->ca_len, leaf);
    struct onr_x509_san san[] = {
        {ONR_X509_SAN_IP, "127.0.0.1"}, /* another order */
        {ONR_X509_SAN_URI, "urn:onramp:dev:rguib733fa2xfyrzdwehzsohu743ont4"},
        {ONR_X509_SAN_DNS, "localhost"},
    };
    const struct onr_x509_profile same = {
        .subject = {.common_name = "rguib733fa2xfyrzdwehzsohu743ont4", .organization = "ACME"},
        .days = 1, /* validity is not compared */
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT | ONR_X509_EKU_SERVER,
        .san = san,
        .n_san = 3,
    };
    struct onr_x509_profile p = same;

    assert_onr(ONR_OK, onr_x509_check_profile(leaf, leaf_len, &p));
    p.subject.common_name = "other";
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    p.subject.organization = NULL;
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    p.subject.org_unit = "operator";
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    p.eku = ONR_X509_EKU_CLIENT;
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    p.n_san = 2; /* a SAN fewer */
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    san[0].value = "127.0.0.2"; /* another address */
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    san[0] = (struct onr_x509_san){ONR_X509_SAN_DNS, "127.0.0.1"}; /* a name, not an address */
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    san[0] = (struct onr_x509_san){ONR_X509_SAN_IP, "::1"};
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    p = same;
    p.is_ca = 1;
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &p));
    /* the CA: its path length counts */
    p = ca_profile;
    assert_onr(ONR_OK, onr_x509_check_profile(f->ca, f->ca_len, &p));
    p.path_len = 0;
    assert_onr(ONR_ECERT, onr_x509_check_profile(f->ca, f->ca_len, &p));
    p.path_len = -1;
    assert_onr(ONR_ECERT, onr_x509_check_profile(f->ca, f->ca_len, &p));
    p.path_len = 1;
    p.is_ca = 0;
    assert_onr(ONR_ECERT, onr_x509_check_profile(f->ca, f->ca_len, &p));
    /* not a certificate; no profile */
    leaf[10] ^= 0xff;
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, leaf_len, &same));
    assert_onr(ONR_ECERT, onr_x509_check_profile(leaf, 20, &same));
    assert_onr(ONR_EINVAL, onr_x509_check_profile(leaf, leaf_len, NULL));
    assert_onr(ONR_ETOOBIG, onr_x509_check_profile(leaf, ONR_X509_MAX_DER + 1, &same));
}

/* An IPv6 address SAN is told from an IPv4 one and compared by value. */
static void test_x509_check_profile_ipv6(void **state)
{
    struct fixture *f = *state;
    struct onr_x509_san san = {ONR_X509_SAN_IP, "::1"};
    struct onr_x509_profile p = {
        .subject = {.common_name = "broker"},
        .days = 30,
        .path_len = -1,
        .eku = ONR_X509_EKU_SERVER,
        .san = &san,
        .n_san = 1,
    };
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = sizeof(der);

    assert_onr(ONR_OK, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der, &len));
    san.value = "0:0:0:0:0:0:0:1";
    assert_onr(ONR_OK, onr_x509_check_profile(der, len, &p));
    san.value = "::2";
    assert_onr(ONR_ECERT, onr_x509_check_profile(der, len, &p));
    san.value = "bogus";
    assert_onr(ONR_ECERT, onr_x509_check_profile(der, len, &p));
}

/* A broker's server certificate for the name its plugin is configured
 * with (onr_x509_check_server). */
static size_t issue_server(struct fixture *f, const struct onr_x509_san *san, size_t n_san,
                           unsigned eku, uint8_t *der)
{
    struct onr_x509_profile p = {
        .subject = {.common_name = "rguib733fa2xfyrzdwehzsohu743ont4"},
        .days = 30,
        .path_len = -1,
        .eku = eku,
        .san = san,
        .n_san = n_san,
    };
    size_t len = ONR_X509_MAX_DER;

    assert_onr(ONR_OK, onr_x509_issue(f->ca_key, f->ca, f->ca_len, f->leaf_pub, &p, der, &len));
    return len;
}

static void test_x509_check_server_finds_its_dns_name(void **state)
{
    struct fixture *f = *state;
    static const struct onr_x509_san san[] = {
        {ONR_X509_SAN_DNS, "localhost"},
        {ONR_X509_SAN_DNS, "bootstrap-1"},
        {ONR_X509_SAN_IP, "127.0.0.1"},
    };
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = issue_server(f, san, 3, ONR_X509_EKU_SERVER, der);
    int64_t now = (int64_t)time(NULL);

    assert_onr(ONR_OK, onr_x509_check_server(der, len, "bootstrap-1", now));
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "localhost", now));
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "Bootstrap-1", now)); /* DNS: any case */
    /* another name, a prefix, a longer one, an address, the CN: none is it */
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "bootstrap-2", now));
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "bootstrap", now));
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "bootstrap-10", now));
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "127.0.0.1", now));
    assert_onr(ONR_ENOENT,
               onr_x509_check_server(der, len, "rguib733fa2xfyrzdwehzsohu743ont4", now));
    /* a server certificate without subjectAltNames names nothing */
    len = issue_server(f, NULL, 0, ONR_X509_EKU_SERVER, der);
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "localhost", now));
}

static void test_x509_check_server_needs_validity_now(void **state)
{
    struct fixture *f = *state;
    static const struct onr_x509_san san = {ONR_X509_SAN_DNS, "bootstrap-1"};
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = issue_server(f, &san, 1, 0, der); /* no EKU: any usage */
    struct onr_x509_info info;

    assert_onr(ONR_OK, onr_x509_parse(der, len, &info));
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "bootstrap-1", info.not_before));
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "bootstrap-1", info.not_after));
    assert_onr(ONR_EEXPIRED,
               onr_x509_check_server(der, len, "bootstrap-1", info.not_before - 1));
    assert_onr(ONR_EEXPIRED,
               onr_x509_check_server(der, len, "bootstrap-1", info.not_after + 1));
}

/* A CA or a client certificate is no server's, whatever names it lists. */
static void test_x509_check_server_refuses_other_certificates(void **state)
{
    struct fixture *f = *state;
    static const struct onr_x509_san san = {ONR_X509_SAN_DNS, "bootstrap-1"};
    static const uint8_t junk[] = {0x30, 0x03, 0x01, 0x01, 0xff};
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = issue_server(f, &san, 1, ONR_X509_EKU_CLIENT, der);
    int64_t now = (int64_t)time(NULL);

    assert_onr(ONR_EDENIED, onr_x509_check_server(der, len, "bootstrap-1", now));
    assert_onr(ONR_EDENIED, onr_x509_check_server(f->ca, f->ca_len, "Test CA", now));
    len = issue_server(f, &san, 1, ONR_X509_EKU_CLIENT | ONR_X509_EKU_SERVER, der);
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "bootstrap-1", now));
    /* cut short, or not a certificate: it does not parse */
    assert_onr(ONR_ECERT, onr_x509_check_server(der, 20, "bootstrap-1", now));
    assert_onr(ONR_ECERT, onr_x509_check_server(junk, sizeof(junk), "bootstrap-1", now));
    assert_onr(ONR_EINVAL, onr_x509_check_server(NULL, 10, "bootstrap-1", now));
    assert_onr(ONR_EINVAL, onr_x509_check_server(der, len, NULL, now));
    assert_onr(ONR_EINVAL, onr_x509_check_server(der, len, "", now));
    assert_onr(ONR_ETOOBIG,
               onr_x509_check_server(der, ONR_X509_MAX_DER + 1, "bootstrap-1", now));
}

/* Any key type (a listener may hold RSA), and a wildcard matches nothing. */
static void test_x509_check_server_rsa_and_wildcards(void **state)
{
    struct fixture *f = *state;
    char cmd[4096];
    char path[1024];
    uint8_t der[ONR_X509_MAX_DER];
    size_t len;
    int64_t now;

    snprintf(path, sizeof(path), "%s/rsa-server.der", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=rsa -days 2 "
             "-keyout %s/rsa-server.key -outform DER -out %s "
             "-addext subjectAltName=DNS:bootstrap-1,DNS:*.example.net "
             "-addext extendedKeyUsage=serverAuth -addext basicConstraints=CA:FALSE",
             f->dir, path);
    assert_int_equal(run(cmd, NULL, 0), 0);
    len = onr_test_read_file(path, der, sizeof(der));
    /* openssl's notBefore is the second it signed in: a clock read before
     * it ran may be earlier (a busy machine) */
    now = (int64_t)time(NULL);
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "bootstrap-1", now));
    assert_onr(ONR_ENOENT, onr_x509_check_server(der, len, "a.example.net", now));
    /* the listed name itself: compared as it is, never interpreted */
    assert_onr(ONR_OK, onr_x509_check_server(der, len, "*.example.net", now));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_x509_self_signed_ca_is_read_by_openssl),
        T(test_x509_leaf_is_verified_by_openssl_with_usages_and_san),
        T(test_x509_serials_are_random),
        T(test_x509_parse_reports_fields),
        T(test_x509_validity_in_seconds),
        T(test_x509_csr_is_verified_by_openssl),
        T(test_x509_csr_verify_accepts_openssl_request),
        T(test_x509_csr_verify_rejects_bad_signature),
        T(test_x509_csr_verify_rejects_a_changed_subject),
        T(test_x509_csr_verify_rejects_malformed),
        T(test_x509_csr_verify_rejects_rsa),
        T(test_x509_verify_chain_leaf_to_ca),
        T(test_x509_verify_chain_through_intermediate),
        T(test_x509_verify_chain_enforces_path_length),
        T(test_x509_verify_chain_rejects_other_ca),
        T(test_x509_verify_chain_rejects_tampered_leaf),
        T(test_x509_non_ca_cannot_issue),
        T(test_x509_chain_through_a_leaf_is_refused),
        T(test_x509_verify_chain_rejects_expired),
        T(test_x509_verify_chain_rejects_malformed),
        T(test_x509_issue_rejects_key_off_curve),
        T(test_x509_issue_rejects_bad_profiles),
        T(test_x509_save_load_round_trip_chain),
        T(test_x509_check_profile_matches_and_tells_each_change),
        T(test_x509_check_profile_ipv6),
        T(test_x509_check_server_finds_its_dns_name),
        T(test_x509_check_server_needs_validity_now),
        T(test_x509_check_server_refuses_other_certificates),
        T(test_x509_check_server_rsa_and_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
