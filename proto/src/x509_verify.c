#include "internal.h"

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <string.h>

#include "onramp/error.h"
#include "onramp/x509.h"
#include "x509_internal.h"

static int digits(const uint8_t *p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int onr_x509_asn_time(const uint8_t *der, int len, int64_t *out)
{
    int year_len;
    int y, mo, d, h, mi, s;
    const uint8_t *p;

    if (der == NULL || out == NULL || len < 2)
        return ONR_ECERT;
    if (der[0] == 0x17)
        year_len = 2;
    else if (der[0] == 0x18)
        year_len = 4;
    else
        return ONR_ECERT;
    if (der[1] != year_len + 11 || len != der[1] + 2 || der[len - 1] != 'Z')
        return ONR_ECERT;
    p = der + 2;
    if (digits(p, year_len, &y) || digits(p + year_len, 2, &mo) ||
        digits(p + year_len + 2, 2, &d) || digits(p + year_len + 4, 2, &h) ||
        digits(p + year_len + 6, 2, &mi) || digits(p + year_len + 8, 2, &s))
        return ONR_ECERT;
    if (year_len == 2)
        y += y < 50 ? 2000 : 1900; /* RFC 5280 4.1.2.5.1 */
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return ONR_ECERT;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return ONR_OK;
}

/* wolfSSL's verdict on one certificate as an Onramp error. */
static int verdict(int wolf_rc)
{
    switch (wolf_rc) {
    case WOLFSSL_SUCCESS:
        return ONR_OK;
    case ASN_AFTER_DATE_E:
    case ASN_BEFORE_DATE_E:
        return ONR_EEXPIRED;
    case ASN_PARSE_E:
    case ASN_INPUT_E:
    case BUFFER_E:
        return ONR_ECERT;
    default:
        return ONR_ECHAIN;
    }
}

/*
 * May `issuer` sign for a chain with `below` intermediates under it? Checked
 * here because wolfSSL 5.5.4's certificate manager accepts a certificate
 * without CA:true as a CA when it is loaded (seen on this build: a chain
 * through a leaf verified).
 */
static int may_issue(const struct onr_x509_info *issuer, size_t below)
{
    if (!issuer->can_sign_certs)
        return ONR_ECHAIN;
    if (issuer->path_len >= 0 && (size_t)issuer->path_len < below)
        return ONR_ECHAIN;
    return ONR_OK;
}

/*
 * wolfSSL's certificate manager checks each signature and the validity
 * dates. It trusts whatever is loaded as a CA without checking its signature
 * or its CA flag (SECURITY-NOTES.md, and may_issue above), so every issuer
 * is checked here first, and each intermediate is loaded only after it has
 * verified against what is already trusted, starting from the anchor.
 */
int onr_x509_verify_chain(const uint8_t *anchor, size_t anchor_len,
                          const struct onr_bytes *chain, size_t n,
                          struct onr_x509_info *leaf)
{
    WOLFSSL_CERT_MANAGER *cm = NULL;
    struct onr_x509_info info;
    int rc = ONR_OK;

    if (anchor == NULL || chain == NULL || n == 0 || n > ONR_X509_MAX_CHAIN)
        return ONR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (chain[i].ptr == NULL)
            return ONR_EINVAL;
        rc = onr_x509_parse(chain[i].ptr, chain[i].len, &info);
        if (rc != ONR_OK)
            return rc == ONR_ETOOBIG ? ONR_ECERT : rc;
        /* chain[i] for i >= 1 issued chain[i-1]; i-1 intermediates below */
        if (i > 0 && may_issue(&info, i - 1) != ONR_OK)
            return ONR_ECHAIN;
    }
    rc = onr_x509_parse(anchor, anchor_len, &info);
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_ECERT : rc;
    if (may_issue(&info, n - 1) != ONR_OK)
        return ONR_ECHAIN;

    cm = wolfSSL_CertManagerNew();
    if (cm == NULL)
        return ONR_ENOMEM;
    if (wolfSSL_CertManagerLoadCABuffer(cm, anchor, (long)anchor_len, WOLFSSL_FILETYPE_ASN1) !=
        WOLFSSL_SUCCESS) {
        rc = ONR_ECERT;
        goto out;
    }
    /* From the intermediate closest to the anchor down to the leaf. */
    for (size_t i = n; i-- > 0;) {
        rc = verdict(wolfSSL_CertManagerVerifyBuffer(cm, chain[i].ptr, (long)chain[i].len,
                                                     WOLFSSL_FILETYPE_ASN1));
        if (rc != ONR_OK || i == 0)
            break;
        if (wolfSSL_CertManagerLoadCABuffer(cm, chain[i].ptr, (long)chain[i].len,
                                            WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
            rc = ONR_ECHAIN;
            break;
        }
    }
    if (rc == ONR_OK && leaf != NULL)
        rc = onr_x509_parse(chain[0].ptr, chain[0].len, leaf);
out:
    wolfSSL_CertManagerFree(cm);
    return rc;
}
