/*
 * The certificate request a device sends in ENROLL_REQUEST, parsed and
 * verified by the provider (services/provider/enroll.c calls
 * onr_x509_csr_verify), and the strict DER signature parser under it.
 *
 * Input: the DER bytes of a PKCS#10 request; or 'N' and up to three
 * NUL-separated names (CN, O, OU) that a request and a certificate are
 * made with, then read back (the name encoders against the parsers).
 * Checks: a request that verifies yields a valid P-256 point and a short,
 * NUL-free subject CN, and verifies the same without asking for the CN; a
 * refused one leaves no key behind; whatever onr_p256_sig_from_der accepts
 * (strict DER) onr_p256_sig_to_der writes back byte for byte; a request
 * made with the CN a verified one carried verifies with the same CN.
 */
#include <string.h>

#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/x509.h"

static struct onr_p256_key *service_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    service_key = fuzz_key_load(FUZZ_KEY_SERVICE);
    return 0;
}

static void der_signature(const uint8_t *data, size_t size)
{
    uint8_t sig[ONR_P256_SIG_LEN];
    uint8_t der[ONR_P256_SIG_DER_MAX];
    size_t der_len = sizeof(der);
    int rc;

    if (onr_p256_sig_from_der(data, size, sig) != ONR_OK)
        return;
    rc = onr_p256_sig_to_der(sig, der, &der_len);
    FUZZ_CHECK(rc == ONR_OK, "to_der: %s", onr_error_name(rc));
    FUZZ_CHECK(der_len == size && memcmp(der, data, size) == 0,
               "strict DER accepted in a form it does not write (%zu, %zu bytes)", size,
               der_len);
}

/* A request of our own with the CN a verified request carried. */
static void remake(const char *cn)
{
    uint8_t csr[ONR_X509_MAX_DER];
    size_t csr_len = sizeof(csr);
    uint8_t pub[ONR_P256_PUB_LEN];
    char back[ONR_X509_MAX_NAME + 1];
    struct onr_x509_name name = {.common_name = cn};
    int rc;

    if (cn[0] == '\0')
        return; /* onr_x509_csr_new requires a CN */
    rc = onr_x509_csr_new(service_key, &name, csr, &csr_len);
    if (rc != ONR_OK)
        return; /* a CN Onramp would not write (e.g. too long for wolfSSL) */
    rc = onr_x509_csr_verify(csr, csr_len, pub, back);
    FUZZ_CHECK(rc == ONR_OK, "own request: %s", onr_error_name(rc));
    FUZZ_CHECK(strcmp(cn, back) == 0, "CN '%s' came back as '%s'", cn, back);
    FUZZ_CHECK(memcmp(pub, fuzz_key_public(FUZZ_KEY_SERVICE), sizeof(pub)) == 0, "own key");
}

/* Names in, names out: a request and a self-signed certificate. */
static void names(const uint8_t *data, size_t size)
{
    char field[3][ONR_X509_MAX_NAME + 1];
    struct onr_x509_profile profile = {.days = 1, .path_len = -1};
    struct onr_x509_info info;
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    uint8_t pub[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    size_t at = 0;
    int rc;

    for (int i = 0; i < 3; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, '\0', size - at) : NULL;
        size_t len = at >= size ? 0 : nul != NULL ? (size_t)(nul - (data + at)) : size - at;

        if (len > ONR_X509_MAX_NAME)
            return;
        memcpy(field[i], data + at, len);
        field[i][len] = '\0';
        at += len + 1;
    }
    profile.subject = (struct onr_x509_name){field[0], field[1][0] != '\0' ? field[1] : NULL,
                                             field[2][0] != '\0' ? field[2] : NULL};
    rc = onr_x509_csr_new(service_key, &profile.subject, der, &der_len);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EINVAL || rc == ONR_ECRYPTO, "request: %s", onr_error_name(rc));
        return; /* not a name Onramp writes (empty CN, too long for wolfSSL) */
    }
    rc = onr_x509_csr_verify(der, der_len, pub, cn);
    FUZZ_CHECK(rc == ONR_OK, "own request refused: %s", onr_error_name(rc));
    FUZZ_CHECK(strcmp(cn, field[0]) == 0, "CN '%s' read back as '%s'", field[0], cn);
    der_len = sizeof(der);
    rc = onr_x509_self_signed(service_key, &profile, der, &der_len);
    FUZZ_CHECK(rc == ONR_OK, "certificate for a name a request took: %s", onr_error_name(rc));
    rc = onr_x509_parse(der, der_len, &info);
    FUZZ_CHECK(rc == ONR_OK, "own certificate refused: %s", onr_error_name(rc));
    FUZZ_CHECK(strcmp(info.common_name, field[0]) == 0 &&
                   strcmp(info.organization, field[1]) == 0 &&
                   strcmp(info.org_unit, field[2]) == 0,
               "names '%s' '%s' '%s' read back as '%s' '%s' '%s'", field[0], field[1], field[2],
               info.common_name, info.organization, info.org_unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t pub2[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    static const uint8_t zero[ONR_P256_PUB_LEN];
    int rc;

    if (size >= 1 && data[0] == 'N') {
        names(data + 1, size - 1);
        return 0;
    }
    der_signature(data, size);
    memset(pub, 0, sizeof(pub));
    memset(cn, 0x55, sizeof(cn));
    rc = onr_x509_csr_verify(data, size, pub, cn);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_ECSR || rc == ONR_EBADSIG || rc == ONR_ETOOBIG ||
                       rc == ONR_EINVAL,
                   "undocumented error %s", onr_error_name(rc));
        FUZZ_CHECK(memcmp(pub, zero, sizeof(zero)) == 0, "refused request left a key");
        return 0;
    }
    FUZZ_CHECK(onr_p256_check_public(pub) == ONR_OK, "not a P-256 point");
    FUZZ_CHECK(memchr(cn, '\0', sizeof(cn)) != NULL, "CN not terminated");
    rc = onr_x509_csr_verify(data, size, pub2, NULL);
    FUZZ_CHECK(rc == ONR_OK && memcmp(pub, pub2, sizeof(pub)) == 0, "verify without the CN");
    remake(cn);
    return 0;
}
