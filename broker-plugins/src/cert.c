/*
 * The services certificate. Mosquitto hands over OpenSSL's X509; the
 * plugin re-encodes it as DER and judges it with Onramp's own X.509 code
 * against its own copy of the services CA, whatever the listener trusts.
 */
#include "plugin.h"

#include <openssl/x509.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

/* OU names in certificates and the role levels they map to in topics. */
static const struct {
    const char *ou;
    const char *role;
} roles[] = {
    {"manufacturer", "mfr"},
    {"operator", "op"},
    {"provider", "prov"},
    {"monitor", "monitor"},
    {"control", "ctl"},
};

int cert_identify(const struct plugin *p, void *x509, char role[8],
                  char id[ONR_SERVICE_ID_MAX + 1])
{
    uint8_t der[ONR_X509_MAX_DER];
    unsigned char *out = der;
    struct onr_bytes leaf;
    struct onr_x509_info info;
    int len;

    len = i2d_X509((X509 *)x509, NULL);
    if (len <= 0 || (size_t)len > sizeof(der))
        return ONR_ECERT;
    if (i2d_X509((X509 *)x509, &out) != len)
        return ONR_ECERT;
    leaf = (struct onr_bytes){der, (size_t)len};
    if (onr_x509_verify_chain(p->services_ca, p->services_ca_len, &leaf, 1, &info) != ONR_OK)
        return ONR_ECERT;
    if (info.is_ca || info.common_name[0] == '\0' ||
        strlen(info.common_name) > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)info.common_name,
                                                      strlen(info.common_name)}) != ONR_OK)
        return ONR_ECERT;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(info.org_unit, roles[i].ou) == 0) {
            strcpy(role, roles[i].role);
            strcpy(id, info.common_name);
            return ONR_OK;
        }
    }
    return ONR_ECERT;
}
