/* What a certificate says: does it say what a profile says
 * (onr_x509_check_profile), is it a server's for a name
 * (onr_x509_check_server)? */
#include "internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include <arpa/inet.h>
#include <string.h>

#include "x509_internal.h"

#include "onramp/error.h"
#include "onramp/x509.h"

/* A decoded name field (not NUL-terminated) against a profile's (NULL:
 * absent). */
static int same_field(const char *want, const char *got, int got_len)
{
    size_t len = want == NULL ? 0 : strlen(want);

    if (got == NULL || got_len <= 0)
        return len == 0;
    return (size_t)got_len == len && memcmp(want, got, len) == 0;
}

/* DNS names compare without regard to ASCII case (RFC 4343); nothing else
 * about them is interpreted (no wildcards). */
static int same_dns(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i];
        unsigned char y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* One profile SAN among the certificate's names. */
static int has_san(const DNS_entry *names, const struct onr_x509_san *san)
{
    uint8_t ip[16];
    size_t want_len = 0;
    const void *want = NULL;
    int type = 0;

    switch (san->type) {
    case ONR_X509_SAN_DNS: type = ASN_DNS_TYPE; break;
    case ONR_X509_SAN_URI: type = ASN_URI_TYPE; break;
    case ONR_X509_SAN_IP: type = ASN_IP_TYPE; break;
    default: return 0;
    }
    if (san->value == NULL)
        return 0;
    if (type == ASN_IP_TYPE) {
        if (inet_pton(AF_INET, san->value, ip) == 1)
            want_len = 4;
        else if (inet_pton(AF_INET6, san->value, ip) == 1)
            want_len = 16;
        else
            return 0;
        want = ip;
    } else {
        want = san->value;
        want_len = strlen(san->value);
    }
    for (const DNS_entry *e = names; e != NULL; e = e->next) {
        if (e->type != type || e->len < 0 || (size_t)e->len != want_len || e->name == NULL)
            continue;
        if (type == ASN_DNS_TYPE ? same_dns(e->name, want, want_len)
                                 : memcmp(e->name, want, want_len) == 0)
            return 1;
    }
    return 0;
}

static int same_sans(const DNS_entry *names, const struct onr_x509_profile *p)
{
    size_t n = 0;

    for (const DNS_entry *e = names; e != NULL; e = e->next)
        n++;
    if (n != p->n_san)
        return 0;
    for (size_t i = 0; i < p->n_san; i++)
        if (!has_san(names, &p->san[i]))
            return 0;
    return 1;
}

static unsigned decoded_eku(const DecodedCert *dc)
{
    unsigned eku = 0;

    if (!dc->extExtKeyUsageSet)
        return 0;
    if (dc->extExtKeyUsage & EXTKEYUSE_CLIENT_AUTH)
        eku |= ONR_X509_EKU_CLIENT;
    if (dc->extExtKeyUsage & EXTKEYUSE_SERVER_AUTH)
        eku |= ONR_X509_EKU_SERVER;
    return eku;
}

int onr_x509_check_profile(const uint8_t *der, size_t der_len,
                           const struct onr_x509_profile *profile)
{
    DecodedCert dc;
    int rc = ONR_ECERT;

    if (der == NULL || profile == NULL || profile->subject.common_name == NULL)
        return ONR_EINVAL;
    if (der_len > ONR_X509_MAX_DER)
        return ONR_ETOOBIG;
    wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0)
        goto out;
    if (!same_field(profile->subject.common_name, dc.subjectCN, dc.subjectCNLen) ||
        !same_field(profile->subject.organization, dc.subjectO, dc.subjectOLen) ||
        !same_field(profile->subject.org_unit, dc.subjectOU, dc.subjectOULen))
        goto out;
    if (!dc.isCA != !profile->is_ca)
        goto out;
    if (profile->is_ca && (profile->path_len >= 0
                               ? !dc.pathLengthSet || dc.pathLength != profile->path_len
                               : dc.pathLengthSet))
        goto out;
    if (decoded_eku(&dc) != profile->eku || !same_sans(dc.altNames, profile))
        goto out;
    rc = ONR_OK;
out:
    wc_FreeDecodedCert(&dc);
    return rc;
}

int onr_x509_check_server(const uint8_t *der, size_t der_len, const char *dns, int64_t now)
{
    const struct onr_x509_san want = {ONR_X509_SAN_DNS, dns};
    int64_t not_before = 0;
    int64_t not_after = 0;
    DecodedCert dc;
    int rc = ONR_ECERT;

    if (der == NULL || dns == NULL || dns[0] == '\0')
        return ONR_EINVAL;
    if (der_len > ONR_X509_MAX_DER)
        return ONR_ETOOBIG;
    wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
    /* Any key type: Mosquitto's listener may hold an RSA certificate. */
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0 ||
        onr_x509_asn_time(dc.beforeDate, dc.beforeDateLen, &not_before) != ONR_OK ||
        onr_x509_asn_time(dc.afterDate, dc.afterDateLen, &not_after) != ONR_OK)
        goto out;
    rc = ONR_EDENIED;
    if (dc.isCA || (dc.extExtKeyUsageSet && !(decoded_eku(&dc) & ONR_X509_EKU_SERVER)))
        goto out;
    rc = ONR_EEXPIRED;
    if (now < not_before || now > not_after)
        goto out;
    rc = has_san(dc.altNames, &want) ? ONR_OK : ONR_ENOENT;
out:
    wc_FreeDecodedCert(&dc);
    return rc;
}
