/*
 * Client certificates. Mosquitto hands over OpenSSL's X509; the plugin
 * re-encodes it as DER and judges it with Onramp's own X.509 code against
 * its own copies of the CAs, whatever the listener trusts: the services CA
 * (services and monitors) and each provider CA (operational devices).
 */
#include "plugin.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grants.h"
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

/* Load one CA certificate from `path` into der/der_len (ONR_X509_MAX_DER
 * bytes); its public key into `pub`. 0, or -1 after logging why. */
static int load_ca(const char *what, const char *path, uint8_t *der, size_t *der_len,
                   uint8_t pub[ONR_P256_PUB_LEN])
{
    uint8_t buf[ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert;
    struct onr_x509_info info;
    size_t n = 0;
    int rc;

    rc = onr_x509_load(path, buf, &buf_len, &cert, 1, &n);
    if (rc == ONR_OK)
        rc = onr_x509_parse(cert.ptr, cert.len, &info);
    if (rc == ONR_OK && !info.can_sign_certs)
        rc = ONR_ECERT;
    if (rc != ONR_OK) {
        plugin_log(MOSQ_LOG_ERR, "onramp: %s %s: %s", what, path, onr_strerror(rc));
        return -1;
    }
    memcpy(der, cert.ptr, cert.len);
    *der_len = cert.len;
    memcpy(pub, info.public_key, ONR_P256_PUB_LEN);
    return 0;
}

int cert_check_broker(const struct plugin *p)
{
    uint8_t buf[ONR_X509_MAX_DER * ONR_X509_MAX_CHAIN];
    size_t buf_len = sizeof(buf);
    struct onr_bytes chain[ONR_X509_MAX_CHAIN];
    const char *path = p->cfg.broker_cert_path;
    const char *name = p->cfg.broker_name;
    size_t n = 0;
    int rc;

    /* the certfile: the leaf first, then the chain a listener may send */
    rc = onr_x509_load(path, buf, &buf_len, chain, ONR_X509_MAX_CHAIN, &n);
    if (rc == ONR_OK)
        rc = onr_x509_check_server(chain[0].ptr, chain[0].len, name, (int64_t)time(NULL));
    switch (rc) {
    case ONR_OK:
        return 0;
    case ONR_ENOENT:
        if (n > 0) {
            plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_cert %s does not list "
                                     "plugin_opt_broker_name %s as a DNS subjectAltName: a "
                                     "broker's name must be its certificate's, so that no two "
                                     "brokers share one (device proofs are bound to it)",
                       path, name);
            return -1;
        }
        break;
    case ONR_EEXPIRED:
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_cert %s is not valid now (expired "
                                 "or not yet valid)", path);
        return -1;
    case ONR_EDENIED:
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_cert %s is not a TLS server "
                                 "certificate (a CA, or an extended key usage without "
                                 "serverAuth)", path);
        return -1;
    default:
        break;
    }
    plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_cert %s: %s", path, onr_strerror(rc));
    return -1;
}

int cert_load_cas(struct plugin *p)
{
    uint8_t (*keys)[ONR_P256_PUB_LEN] = NULL;
    int rc = -1;

    keys = calloc(p->n_provider_cas + 1, sizeof(*keys));
    if (keys == NULL)
        return -1;
    if (load_ca("services CA", p->cfg.services_ca_path, p->services_ca, &p->services_ca_len,
                keys[0]) != 0)
        goto out;
    for (size_t i = 0; i < p->n_provider_cas; i++) {
        struct provider_ca *ca = &p->provider_cas[i];
        const unsigned char *in = ca->der;

        if (load_ca("provider CA", ca->path, ca->der, &ca->der_len, keys[i + 1]) != 0)
            goto out;
        /* One key, one issuer: a certificate must never verify against two
         * CAs, or it could be a service and a device, or two providers'. */
        for (size_t j = 0; j <= i; j++) {
            if (memcmp(keys[j], keys[i + 1], ONR_P256_PUB_LEN) == 0) {
                plugin_log(MOSQ_LOG_ERR, "onramp: provider CA %s (%s) has the key of the %s%s",
                           ca->id, ca->path, j == 0 ? "services CA" : "provider CA of ",
                           j == 0 ? "" : p->provider_cas[j - 1].id);
                goto out;
            }
        }
        ca->x509 = d2i_X509(NULL, &in, (long)ca->der_len);
        if (ca->x509 == NULL) {
            plugin_log(MOSQ_LOG_ERR, "onramp: provider CA %s (%s): OpenSSL cannot read it",
                       ca->id, ca->path);
            goto out;
        }
    }
    rc = 0;
out:
    free(keys);
    return rc;
}

void cert_free(struct plugin *p)
{
    for (size_t i = 0; i < p->n_provider_cas; i++) {
        X509_free(p->provider_cas[i].x509);
        p->provider_cas[i].x509 = NULL;
    }
}

bool cert_provider_known(const struct plugin *p, const char *prov)
{
    for (size_t i = 0; i < p->n_provider_cas; i++)
        if (strcmp(p->provider_cas[i].id, prov) == 0)
            return true;
    return false;
}

static bool service_id_ok(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && len <= ONR_SERVICE_ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)s, len}) == ONR_OK;
}

/* A certificate the services CA issued: a service or monitor. */
static int identify_service(const struct onr_x509_info *info, struct identity *who)
{
    if (info->is_ca || !service_id_ok(info->common_name))
        return ONR_ECERT;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(info->org_unit, roles[i].ou) == 0) {
            who->kind = strcmp(roles[i].role, "monitor") == 0 ? PRINCIPAL_MONITOR
                                                               : PRINCIPAL_SERVICE;
            strcpy(who->role, roles[i].role);
            strcpy(who->id, info->common_name);
            return ONR_OK;
        }
    }
    return ONR_ECERT;
}

/* A certificate provider `ca` issued: an operational device. */
static int identify_operational(const struct provider_ca *ca, const struct onr_x509_info *info,
                                struct identity *who)
{
    const uint8_t *serial = info->serial;
    size_t serial_len = info->serial_len;

    if (info->is_ca || onr_devid_check(info->common_name, strlen(info->common_name)) != ONR_OK)
        return ONR_ECERT;
    serial = grants_serial_trim(serial, &serial_len);
    if (serial_len == 0 || serial_len > sizeof(who->serial))
        return ONR_ECERT;
    who->kind = PRINCIPAL_OPERATIONAL;
    strcpy(who->id, info->common_name);
    strcpy(who->prov, ca->id);
    memcpy(who->serial, serial, serial_len);
    who->serial_len = serial_len;
    return ONR_OK;
}

int cert_der(void *x509, uint8_t der[ONR_X509_MAX_DER], size_t *der_len)
{
    unsigned char *out = der;
    int len = i2d_X509((X509 *)x509, NULL);

    if (len <= 0 || (size_t)len > ONR_X509_MAX_DER || i2d_X509((X509 *)x509, &out) != len)
        return ONR_ECERT;
    *der_len = (size_t)len;
    return ONR_OK;
}

int cert_identify(const struct plugin *p, const uint8_t *der, size_t der_len,
                  struct identity *who)
{
    const struct onr_bytes leaf = {der, der_len};
    const unsigned char *in = der;
    struct onr_x509_info info;
    X509 *x509 = NULL;
    int rc = ONR_ECHAIN;

    memset(who, 0, sizeof(*who));
    /* The services CA first, and its word is final. */
    if (onr_x509_verify_chain(p->services_ca, p->services_ca_len, &leaf, 1, &info) == ONR_OK)
        return identify_service(&info, who);
    if (p->n_provider_cas == 0)
        return ONR_ECHAIN;
    x509 = d2i_X509(NULL, &in, (long)der_len);
    if (x509 == NULL)
        return ONR_ECERT;
    for (size_t i = 0; i < p->n_provider_cas; i++) {
        const struct provider_ca *ca = &p->provider_cas[i];

        /* Names and key identifiers only, no signature: skips the CAs that
         * cannot have issued it before the costly check. */
        if (X509_check_issued(ca->x509, x509) != X509_V_OK)
            continue;
        if (onr_x509_verify_chain(ca->der, ca->der_len, &leaf, 1, &info) == ONR_OK) {
            rc = identify_operational(ca, &info, who);
            break;
        }
    }
    X509_free(x509);
    return rc;
}
