#include "internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x509.h"
#include "pem.h"
#include "x509_internal.h"

/* SubjectPublicKeyInfo of a P-256 key: this fixed prefix, then the point. */
static const uint8_t p256_spki_prefix[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

#define SERIAL_LEN 16
#define MAX_DAYS 36500

/* ---- building certificates ------------------------------------------- */

static int copy_name_field(char *dst, const char *src)
{
    size_t len;

    if (src == NULL)
        return ONR_OK;
    len = strlen(src);
    if (len == 0 || len > ONR_X509_MAX_NAME || len >= CTC_NAME_SIZE)
        return ONR_EINVAL;
    memcpy(dst, src, len + 1);
    return ONR_OK;
}

/* Subject fields into a Cert initialised by wc_InitCert (never memset
 * after init: wolfSSL keeps the string encodings there). */
static int set_subject(Cert *cert, const struct onr_x509_name *name)
{
    int rc;

    if (name == NULL || name->common_name == NULL)
        return ONR_EINVAL;
    rc = copy_name_field(cert->subject.commonName, name->common_name);
    if (rc == ONR_OK)
        rc = copy_name_field(cert->subject.org, name->organization);
    if (rc == ONR_OK)
        rc = copy_name_field(cert->subject.unit, name->org_unit);
    return rc;
}

/* Append one GeneralName (context tag, short-form length) to `out`. */
static int append_general_name(uint8_t *out, size_t cap, size_t *len, uint8_t tag,
                               const uint8_t *v, size_t v_len)
{
    if (v_len > 127 || cap - *len < 2 + v_len)
        return ONR_EINVAL;
    out[(*len)++] = tag;
    out[(*len)++] = (uint8_t)v_len;
    memcpy(out + *len, v, v_len);
    *len += v_len;
    return ONR_OK;
}

/* subjectAltName's GeneralNames SEQUENCE into cert->altNames. */
static int set_san(Cert *cert, const struct onr_x509_san *san, size_t n)
{
    uint8_t names[ONR_X509_MAX_SAN * 130];
    size_t len = 0;
    int rc = ONR_OK;

    if (n == 0)
        return ONR_OK;
    if (san == NULL || n > ONR_X509_MAX_SAN)
        return ONR_EINVAL;
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        const char *v = san[i].value;
        uint8_t ip[16];

        if (v == NULL || v[0] == '\0')
            return ONR_EINVAL;
        switch (san[i].type) {
        case ONR_X509_SAN_DNS: /* [2] dNSName */
            rc = append_general_name(names, sizeof(names), &len, 0x82, (const uint8_t *)v,
                                     strlen(v));
            break;
        case ONR_X509_SAN_URI: /* [6] uniformResourceIdentifier */
            rc = append_general_name(names, sizeof(names), &len, 0x86, (const uint8_t *)v,
                                     strlen(v));
            break;
        case ONR_X509_SAN_IP: /* [7] iPAddress: 4 or 16 bytes */
            if (inet_pton(AF_INET, v, ip) == 1)
                rc = append_general_name(names, sizeof(names), &len, 0x87, ip, 4);
            else if (inet_pton(AF_INET6, v, ip) == 1)
                rc = append_general_name(names, sizeof(names), &len, 0x87, ip, 16);
            else
                rc = ONR_EINVAL;
            break;
        default:
            rc = ONR_EINVAL;
        }
    }
    if (rc != ONR_OK)
        return rc;
    /* SEQUENCE header: short or one-byte long form (len < 256). */
    if (len < 128) {
        cert->altNames[0] = 0x30;
        cert->altNames[1] = (byte)len;
        memcpy(cert->altNames + 2, names, len);
        cert->altNamesSz = (int)len + 2;
    } else {
        cert->altNames[0] = 0x30;
        cert->altNames[1] = 0x81;
        cert->altNames[2] = (byte)len;
        memcpy(cert->altNames + 3, names, len);
        cert->altNamesSz = (int)len + 3;
    }
    return ONR_OK;
}

/* `t` (seconds since the epoch) as an ASN.1 time with its tag and length:
 * UTCTime YYMMDDHHMMSSZ up to 2049, GeneralizedTime YYYYMMDDHHMMSSZ from
 * 2050 (RFC 5280 4.1.2.5). Its length, or 0. */
static int asn_time(int64_t t, byte out[CTC_DATE_SIZE])
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[24];
    int year;
    int n;

    if (t < 0 || gmtime_r(&tt, &tm) == NULL)
        return 0;
    year = tm.tm_year + 1900;
    n = snprintf(text, sizeof(text), "%0*d%02d%02d%02d%02d%02dZ", year < 2050 ? 2 : 4,
                 year < 2050 ? year % 100 : year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    if (n != 13 && n != 15)
        return 0;
    if (n + 2 > CTC_DATE_SIZE)
        return 0;
    out[0] = n == 13 ? 0x17 : 0x18;
    out[1] = (byte)n;
    memcpy(out + 2, text, (size_t)n);
    return n + 2;
}

/* A validity in seconds: notBefore a minute ago (clock skew), notAfter
 * `seconds` from now. */
static int set_validity_seconds(Cert *cert, uint32_t seconds)
{
    int64_t now = (int64_t)time(NULL);

    if (seconds < 60 || seconds > INT32_MAX)
        return ONR_EINVAL;
    cert->beforeDateSz = asn_time(now - 60, cert->beforeDate);
    cert->afterDateSz = asn_time(now + (int64_t)seconds, cert->afterDate);
    return cert->beforeDateSz > 0 && cert->afterDateSz > 0 ? ONR_OK : ONR_EINVAL;
}

/* Everything a profile says, plus a random positive serial. */
static int apply_profile(Cert *cert, const struct onr_x509_profile *p)
{
    const char *eku = NULL;
    int rc;

    if (p->seconds != 0) {
        rc = set_validity_seconds(cert, p->seconds);
        if (rc != ONR_OK)
            return rc;
    } else if (p->days == 0 || p->days > MAX_DAYS) {
        return ONR_EINVAL;
    }
    if (p->is_ca && (p->eku != 0 || p->n_san != 0))
        return ONR_EINVAL;
    rc = set_subject(cert, &p->subject);
    if (rc != ONR_OK)
        return rc;
    cert->sigType = CTC_SHA256wECDSA; /* wolfCrypt's default is RSA */
    if (p->seconds == 0)
        cert->daysValid = (int)p->days;
    rc = onr_random(cert->serial, SERIAL_LEN);
    if (rc != ONR_OK)
        return rc;
    cert->serial[0] &= 0x7f; /* positive */
    cert->serial[0] |= 0x40; /* and 16 bytes long in DER */
    cert->serialSz = SERIAL_LEN;
    if (p->is_ca) {
        cert->isCA = 1;
        if (p->path_len >= 0) {
            cert->pathLen = (byte)p->path_len;
            cert->pathLenSet = 1;
        }
        if (wc_SetKeyUsage(cert, "keyCertSign,cRLSign") != 0)
            return ONR_ECRYPTO;
        return ONR_OK;
    }
    if (wc_SetKeyUsage(cert, "digitalSignature") != 0)
        return ONR_ECRYPTO;
    if ((p->eku & ONR_X509_EKU_CLIENT) && (p->eku & ONR_X509_EKU_SERVER))
        eku = "clientAuth,serverAuth";
    else if (p->eku & ONR_X509_EKU_CLIENT)
        eku = "clientAuth";
    else if (p->eku & ONR_X509_EKU_SERVER)
        eku = "serverAuth";
    if (eku != NULL && wc_SetExtKeyUsage(cert, eku) != 0)
        return ONR_ECRYPTO;
    return set_san(cert, p->san, p->n_san);
}

/* Make and sign: the body for `subject`, signed by `signer`. */
static int make_and_sign(Cert *cert, ecc_key *subject, ecc_key *signer, uint8_t *der,
                         size_t *der_len)
{
    uint8_t buf[ONR_X509_MAX_DER];
    WC_RNG *rng = onr_rng();
    int n;

    if (rng == NULL)
        return ONR_ERANDOM;
    if (wc_SetSubjectKeyIdFromPublicKey_ex(cert, ECC_TYPE, subject) != 0)
        return ONR_ECRYPTO;
    n = wc_MakeCert_ex(cert, buf, sizeof(buf), ECC_TYPE, subject, rng);
    if (n <= 0)
        return ONR_ECRYPTO;
    n = wc_SignCert_ex(cert->bodySz, cert->sigType, buf, sizeof(buf), ECC_TYPE, signer, rng);
    if (n <= 0)
        return ONR_ECRYPTO;
    if ((size_t)n > *der_len)
        return ONR_ESPACE;
    memcpy(der, buf, (size_t)n);
    *der_len = (size_t)n;
    return ONR_OK;
}

static Cert *cert_new(void)
{
    Cert *cert = calloc(1, sizeof(*cert));

    if (cert != NULL && wc_InitCert(cert) != 0) {
        free(cert);
        cert = NULL;
    }
    return cert;
}

int onr_x509_self_signed(const struct onr_p256_key *key, const struct onr_x509_profile *profile,
                         uint8_t *der, size_t *der_len)
{
    Cert *cert = NULL;
    ecc_key *ecc;
    int rc;

    if (key == NULL || profile == NULL || der == NULL || der_len == NULL)
        return ONR_EINVAL;
    cert = cert_new();
    if (cert == NULL)
        return ONR_ENOMEM;
    ecc = onr_p256_ecc(key);
    rc = apply_profile(cert, profile);
    if (rc == ONR_OK && wc_SetAuthKeyIdFromPublicKey_ex(cert, ECC_TYPE, ecc) != 0)
        rc = ONR_ECRYPTO;
    if (rc == ONR_OK)
        rc = make_and_sign(cert, ecc, ecc, der, der_len);
    free(cert);
    return rc;
}

int onr_x509_issue(const struct onr_p256_key *ca_key, const uint8_t *ca_der, size_t ca_len,
                   const uint8_t subject_key[ONR_P256_PUB_LEN],
                   const struct onr_x509_profile *profile, uint8_t *der, size_t *der_len)
{
    struct onr_x509_info ca_info;
    uint8_t ca_pub[ONR_P256_PUB_LEN];
    Cert *cert = NULL;
    ecc_key subject;
    int have_subject = 0;
    int rc;

    if (ca_key == NULL || ca_der == NULL || subject_key == NULL || profile == NULL ||
        der == NULL || der_len == NULL)
        return ONR_EINVAL;
    /* The issuer certificate must be a CA certificate for this very key. */
    rc = onr_x509_parse(ca_der, ca_len, &ca_info);
    if (rc != ONR_OK)
        return rc;
    rc = onr_p256_public(ca_key, ca_pub);
    if (rc != ONR_OK)
        return rc;
    if (!ca_info.is_ca || memcmp(ca_pub, ca_info.public_key, sizeof(ca_pub)) != 0)
        return ONR_ECERT;
    rc = onr_p256_import_public(subject_key, ONR_P256_PUB_LEN, &subject);
    if (rc != ONR_OK)
        return rc;
    have_subject = 1;
    cert = cert_new();
    if (cert == NULL) {
        rc = ONR_ENOMEM;
        goto out;
    }
    rc = apply_profile(cert, profile);
    if (rc != ONR_OK)
        goto out;
    if (wc_SetIssuerBuffer(cert, ca_der, (int)ca_len) != 0 ||
        wc_SetAuthKeyIdFromCert(cert, ca_der, (int)ca_len) != 0) {
        rc = ONR_ECERT;
        goto out;
    }
    rc = make_and_sign(cert, &subject, onr_p256_ecc(ca_key), der, der_len);
out:
    free(cert);
    if (have_subject)
        wc_ecc_free(&subject);
    return rc;
}

int onr_x509_csr_new(const struct onr_p256_key *key, const struct onr_x509_name *subject,
                     uint8_t *der, size_t *der_len)
{
    uint8_t buf[ONR_X509_MAX_DER];
    Cert *req = NULL;
    WC_RNG *rng = onr_rng();
    int n;
    int rc;

    if (key == NULL || subject == NULL || der == NULL || der_len == NULL)
        return ONR_EINVAL;
    if (rng == NULL)
        return ONR_ERANDOM;
    req = cert_new();
    if (req == NULL)
        return ONR_ENOMEM;
    rc = set_subject(req, subject);
    if (rc != ONR_OK)
        goto out;
    req->version = 0; /* PKCS#10 v1 */
    req->sigType = CTC_SHA256wECDSA;
    rc = ONR_ECRYPTO;
    n = wc_MakeCertReq_ex(req, buf, sizeof(buf), ECC_TYPE, onr_p256_ecc(key));
    if (n <= 0)
        goto out;
    n = wc_SignCert_ex(req->bodySz, req->sigType, buf, sizeof(buf), ECC_TYPE,
                       onr_p256_ecc(key), rng);
    if (n <= 0)
        goto out;
    rc = ONR_ESPACE;
    if ((size_t)n > *der_len)
        goto out;
    memcpy(der, buf, (size_t)n);
    *der_len = (size_t)n;
    rc = ONR_OK;
out:
    free(req);
    return rc;
}

/* ---- reading certificates and requests -------------------------------- */

int onr_x509_decoded_p256_key(const struct DecodedCert *dc, uint8_t pub[ONR_P256_PUB_LEN])
{
    if (dc->keyOID != ECDSAk || dc->pkCurveOID != ECC_SECP256R1_OID || dc->publicKey == NULL ||
        dc->pubKeySize != sizeof(p256_spki_prefix) + ONR_P256_PUB_LEN ||
        memcmp(dc->publicKey, p256_spki_prefix, sizeof(p256_spki_prefix)) != 0)
        return ONR_EBADKEY;
    memcpy(pub, dc->publicKey + sizeof(p256_spki_prefix), ONR_P256_PUB_LEN);
    return onr_p256_check_public(pub);
}

/* A name field as a NUL-terminated copy; ONR_ECERT if too long. */
static int copy_decoded_name(char dst[ONR_X509_MAX_NAME + 1], const char *src, int len)
{
    dst[0] = '\0';
    if (src == NULL || len <= 0)
        return ONR_OK;
    if (len > ONR_X509_MAX_NAME || memchr(src, '\0', (size_t)len) != NULL)
        return ONR_ECERT;
    memcpy(dst, src, (size_t)len);
    dst[len] = '\0';
    return ONR_OK;
}

int onr_x509_csr_verify(const uint8_t *csr, size_t csr_len,
                        uint8_t public_key[ONR_P256_PUB_LEN],
                        char common_name[ONR_X509_MAX_NAME + 1])
{
    DecodedCert dc;
    struct onr_bytes tbs;
    int rc;

    if (csr == NULL || public_key == NULL)
        return ONR_EINVAL;
    if (csr_len > ONR_X509_MAX_DER)
        return ONR_ETOOBIG;
    wc_InitDecodedCert(&dc, csr, (word32)csr_len, NULL);
    /* Parse only; the self-signature is verified below with Onramp's
     * strict verifier (range checks, strict DER). */
    if (wc_ParseCert(&dc, CERTREQ_TYPE, NO_VERIFY, NULL) != 0 || !dc.isCSR ||
        dc.signatureOID != CTC_SHA256wECDSA || dc.sigIndex <= dc.certBegin ||
        dc.sigIndex > csr_len) {
        rc = ONR_ECSR;
        goto out;
    }
    rc = onr_x509_decoded_p256_key(&dc, public_key);
    if (rc != ONR_OK) {
        rc = ONR_ECSR;
        goto out;
    }
    tbs = (struct onr_bytes){csr + dc.certBegin, dc.sigIndex - dc.certBegin};
    rc = onr_p256_verify_der(public_key, &tbs, 1, dc.signature, dc.sigLength);
    if (rc != ONR_OK) {
        rc = ONR_EBADSIG;
        goto out;
    }
    if (common_name != NULL)
        rc = copy_decoded_name(common_name, dc.subjectCN, dc.subjectCNLen) == ONR_OK
                 ? ONR_OK
                 : ONR_ECSR;
out:
    wc_FreeDecodedCert(&dc);
    if (rc != ONR_OK)
        onr_wipe(public_key, ONR_P256_PUB_LEN);
    return rc;
}

int onr_x509_parse(const uint8_t *der, size_t der_len, struct onr_x509_info *info)
{
    DecodedCert dc;
    int rc = ONR_ECERT;

    if (der == NULL || info == NULL)
        return ONR_EINVAL;
    memset(info, 0, sizeof(*info));
    if (der_len > ONR_X509_MAX_DER)
        return ONR_ETOOBIG;
    wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0)
        goto out;
    if (onr_x509_decoded_p256_key(&dc, info->public_key) != ONR_OK)
        goto out;
    if (copy_decoded_name(info->common_name, dc.subjectCN, dc.subjectCNLen) != ONR_OK ||
        copy_decoded_name(info->organization, dc.subjectO, dc.subjectOLen) != ONR_OK ||
        copy_decoded_name(info->org_unit, dc.subjectOU, dc.subjectOULen) != ONR_OK)
        goto out;
    if (dc.serialSz <= 0 || (size_t)dc.serialSz > sizeof(info->serial))
        goto out;
    memcpy(info->serial, dc.serial, (size_t)dc.serialSz);
    info->serial_len = (size_t)dc.serialSz;
    if (onr_x509_asn_time(dc.beforeDate, dc.beforeDateLen, &info->not_before) != ONR_OK ||
        onr_x509_asn_time(dc.afterDate, dc.afterDateLen, &info->not_after) != ONR_OK)
        goto out;
    info->is_ca = dc.isCA;
    info->path_len = dc.pathLengthSet ? dc.pathLength : -1;
    info->can_sign_certs =
        dc.isCA && (!dc.extKeyUsageSet || (dc.extKeyUsage & KEYUSE_KEY_CERT_SIGN));
    rc = ONR_OK;
out:
    wc_FreeDecodedCert(&dc);
    if (rc != ONR_OK)
        memset(info, 0, sizeof(*info));
    return rc;
}

/* ---- PEM files ----------------------------------------------------------- */

int onr_x509_save(const char *path, const struct onr_bytes *certs, size_t n)
{
    char *all = NULL;
    size_t all_len = 0;
    int rc = ONR_OK;

    if (path == NULL || certs == NULL || n == 0 || n > ONR_X509_MAX_CHAIN)
        return ONR_EINVAL;
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        char *pem = NULL;
        size_t pem_len = 0;
        char *grown;

        rc = onr_pem_encode(CERT_TYPE, certs[i].ptr, certs[i].len, &pem, &pem_len);
        if (rc != ONR_OK)
            break;
        grown = realloc(all, all_len + pem_len + 1);
        if (grown == NULL) {
            free(pem);
            rc = ONR_ENOMEM;
            break;
        }
        all = grown;
        memcpy(all + all_len, pem, pem_len + 1);
        all_len += pem_len;
        free(pem);
    }
    if (rc == ONR_OK)
        rc = onr_file_write_atomic(path, all, all_len, ONR_FILE_PUBLIC);
    free(all);
    return rc;
}

int onr_x509_load(const char *path, uint8_t *buf, size_t *buf_len, struct onr_bytes *certs,
                  size_t max, size_t *n)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    size_t used = 0;
    const char *p;
    int rc;

    if (path == NULL || buf == NULL || buf_len == NULL || certs == NULL || n == NULL ||
        max == 0)
        return ONR_EINVAL;
    *n = 0;
    rc = onr_file_read(path, ONR_PEM_MAX_FILE, 0, &pem, &pem_len);
    if (rc != ONR_OK)
        return rc;
    p = (const char *)pem;
    while ((p = strstr(p, begin)) != NULL) {
        const char *stop = strstr(p, end);
        size_t der_len;

        if (stop == NULL) {
            rc = ONR_EFORMAT;
            break;
        }
        stop += sizeof(end) - 1;
        if (*n == max) {
            rc = ONR_ESPACE;
            break;
        }
        der_len = *buf_len - used;
        rc = onr_pem_decode(CERT_TYPE, (const uint8_t *)p, (size_t)(stop - p), buf + used,
                            &der_len);
        if (rc != ONR_OK)
            break;
        certs[(*n)++] = (struct onr_bytes){buf + used, der_len};
        used += der_len;
        p = stop;
    }
    if (rc == ONR_OK && *n == 0)
        rc = ONR_EFORMAT;
    if (rc == ONR_OK)
        *buf_len = used;
    else
        *n = 0;
    free(pem);
    return rc;
}

int onr_x509_csr_save(const char *path, const uint8_t *csr, size_t csr_len)
{
    if (path == NULL || csr == NULL || csr_len == 0)
        return ONR_EINVAL;
    return onr_pem_save(path, CERTREQ_TYPE, csr, csr_len, ONR_FILE_PUBLIC);
}
