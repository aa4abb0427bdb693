/* The keys and certificates: the services CA in OUT/admin, everyone
 * else's in OUT/keys/KIND/ID, each made once (<onramp/keyfile.h>). */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "material.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/keyfile.h"

#define CA_DAYS 7300   /* the services CA and providers' CAs */
#define CA_RENEW 365   /* re-issued (same key) with less than this left */
#define LEAF_DAYS 825  /* TLS certificates */
#define LEAF_RENEW 30
#define ORG "onramp"

int adm_key_dir(struct adm_ctx *c, size_t i, char *buf)
{
    const struct adm_party *p = &c->t->parties[i];

    return adm_path(c, buf, "keys/%s/%s", adm_role_name(p->role), p->id);
}

/* A key that is there but unusable is for a person to look at. */
static int key_failed(struct adm_ctx *c, const char *path, int rc)
{
    snprintf(c->why, sizeof(c->why), "%.900s: %s (a key is never made again: put it right "
                                     "or move it away)", path, onr_strerror(rc));
    return rc;
}

/* DIR/NAME (a P-256 key, made once) into *key; reported. */
static int key_file(struct adm_ctx *c, const char *dir, const char *name,
                    struct onr_p256_key **key)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    char path[ADM_PATH];
    int rc = adm_join(c, path, dir, name);

    if (rc != ONR_OK)
        return rc;
    rc = onr_keyfile_p256(path, key, &change);
    if (rc != ONR_OK)
        return key_failed(c, path, rc);
    adm_report(c, path, change);
    return ONR_OK;
}

/* DIR/NAME.key (P-256, made once) and DIR/NAME.pem for `profile`, signed
 * by `issuer` (NULL: self-signed). The key goes to *key if `key`. */
static int key_and_cert(struct adm_ctx *c, const char *dir, const char *name,
                        const struct onr_x509_profile *profile,
                        const struct onr_keyfile_issuer *issuer, uint32_t renew,
                        struct onr_p256_key **key, uint8_t *der, size_t *der_len)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    struct onr_p256_key *k = NULL;
    uint8_t buf[ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    char path[ADM_PATH];
    char file[64];
    int rc;

    snprintf(file, sizeof(file), "%s.key", name);
    rc = key_file(c, dir, file, &k);
    if (rc != ONR_OK)
        return rc;
    snprintf(file, sizeof(file), "%s.pem", name);
    rc = adm_join(c, path, dir, file);
    if (rc == ONR_OK) {
        rc = onr_keyfile_cert(path, k, profile, issuer, renew, der != NULL ? der : buf,
                              der != NULL ? der_len : &buf_len, &change);
        if (rc != ONR_OK)
            adm_failed(c, path, rc);
    }
    if (rc != ONR_OK) {
        onr_p256_free(k);
        return rc;
    }
    adm_report(c, path, change);
    if (key != NULL)
        *key = k;
    else
        onr_p256_free(k);
    return ONR_OK;
}

static int services_ca(struct adm_ctx *c, struct onr_p256_key **key)
{
    const struct onr_x509_profile profile = {
        .subject = {.common_name = "Onramp services CA", .organization = ORG},
        .days = CA_DAYS,
        .is_ca = 1,
        .path_len = 0,
    };
    char dir[ADM_PATH];
    int rc = adm_path(c, dir, "admin");

    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    if (rc != ONR_OK)
        return rc;
    c->ca_len = sizeof(c->ca);
    return key_and_cert(c, dir, "services-ca", &profile, NULL, CA_RENEW, key, c->ca,
                        &c->ca_len);
}

/* The broker's TLS server certificate: its host's DNS name and address,
 * and its own name, which its plugin requires (plugin_opt_broker_cert). */
static int broker_pki(struct adm_ctx *c, size_t b, const struct onr_keyfile_issuer *ca)
{
    const struct adm_broker *br = &c->t->brokers[b];
    const struct adm_host *h = &c->t->hosts[br->host];
    struct onr_x509_san san[3];
    struct onr_x509_profile profile = {
        .subject = {.common_name = br->name, .organization = ORG},
        .days = LEAF_DAYS,
        .path_len = -1,
        .eku = ONR_X509_EKU_SERVER,
        .san = san,
    };
    char dir[ADM_PATH];
    int rc;

    if (h->dns[0] != '\0')
        san[profile.n_san++] = (struct onr_x509_san){ONR_X509_SAN_DNS, h->dns};
    if (h->address[0] != '\0')
        san[profile.n_san++] = (struct onr_x509_san){ONR_X509_SAN_IP, h->address};
    if (strcmp(h->dns, br->name) != 0)
        san[profile.n_san++] = (struct onr_x509_san){ONR_X509_SAN_DNS, br->name};
    rc = adm_path(c, dir, "keys/broker/%s", br->name);
    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    if (rc == ONR_OK)
        rc = key_and_cert(c, dir, "broker", &profile, ca, LEAF_RENEW, NULL, NULL, NULL);
    return rc;
}

/* DIR/NAME.key (P-256) and DIR/NAME.pub; the public key into `pub`. */
static int signing_pair(struct adm_ctx *c, const char *dir, const char *name,
                        uint8_t pub[ONR_P256_PUB_LEN])
{
    struct onr_p256_key *key = NULL;
    char path[ADM_PATH];
    char file[64];
    int rc;

    snprintf(file, sizeof(file), "%s.key", name);
    rc = key_file(c, dir, file, &key);
    if (rc != ONR_OK)
        return rc;
    rc = onr_p256_public(key, pub);
    onr_p256_free(key);
    if (rc != ONR_OK)
        return adm_failed(c, dir, rc);
    snprintf(file, sizeof(file), "%s.pub", name);
    rc = adm_join(c, path, dir, file);
    return rc == ONR_OK ? adm_put_public(c, path, pub, ONR_P256_PUB_LEN) : rc;
}

/* DIR/sealing.key (X25519) and DIR/sealing.pub. */
static int sealing_pair(struct adm_ctx *c, const char *dir, uint8_t pub[ONR_X25519_KEY_LEN])
{
    enum onr_file_change change = ONR_FILE_KEPT;
    uint8_t sk[ONR_X25519_KEY_LEN];
    char path[ADM_PATH];
    int rc;

    rc = adm_join(c, path, dir, "sealing.key");
    if (rc != ONR_OK)
        return rc;
    rc = onr_keyfile_x25519(path, sk, &change);
    if (rc != ONR_OK)
        return key_failed(c, path, rc);
    adm_report(c, path, change);
    rc = onr_x25519_public(sk, pub);
    onr_wipe(sk, sizeof(sk));
    if (rc != ONR_OK)
        return adm_failed(c, path, rc);
    rc = adm_join(c, path, dir, "sealing.pub");
    return rc == ONR_OK ? adm_put_public(c, path, pub, ONR_X25519_KEY_LEN) : rc;
}

/* Where `want` hex digits start in `text`, with optional surrounding
 * whitespace; -1 if it is anything else. */
static long hex_text_at(const uint8_t *text, size_t len, size_t want)
{
    size_t start = 0;
    size_t digits = 0;

    while (start < len && isspace(text[start]))
        start++;
    while (start + digits < len && isxdigit(text[start + digits]))
        digits++;
    for (size_t i = start + digits; i < len; i++)
        if (!isspace(text[i]))
            return 0;
    return digits == want ? (long)start : -1;
}

int adm_secret_hex(struct adm_ctx *c, const char *path, size_t bytes, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[ADM_SECRET_MAX];
    char text[2 * ADM_SECRET_MAX + 2];
    uint8_t *old = NULL;
    size_t len = 0;
    int rc;

    if (bytes > ADM_SECRET_MAX)
        return adm_failed(c, path, ONR_EINVAL);
    rc = onr_file_read(path, 4 * ADM_SECRET_MAX, 1, &old, &len);
    if (rc == ONR_OK) {
        long at = hex_text_at(old, len, 2 * bytes);
        int ok = at >= 0;

        if (ok && out != NULL) {
            memcpy(out, old + at, 2 * bytes);
            out[2 * bytes] = '\0';
        }
        onr_wipe(old, len);
        free(old);
        if (!ok)
            return key_failed(c, path, ONR_EFORMAT);
        adm_report(c, path, ONR_FILE_KEPT);
        return ONR_OK;
    }
    if (rc != ONR_ENOENT)
        return key_failed(c, path, rc);
    rc = onr_random(raw, bytes);
    for (size_t i = 0; i < bytes; i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[2 * bytes] = '\n';
    if (rc == ONR_OK)
        rc = adm_put(c, path, text, 2 * bytes + 1, ONR_FILE_SECRET);
    if (rc == ONR_OK && out != NULL) {
        memcpy(out, text, 2 * bytes);
        out[2 * bytes] = '\0';
    }
    onr_wipe(raw, sizeof(raw));
    onr_wipe(text, sizeof(text));
    return rc;
}

/* The operator's Milenage OP: 32 random hex digits, made once, 0600. */
static int op_file(struct adm_ctx *c, const char *dir)
{
    char path[ADM_PATH];
    int rc = adm_join(c, path, dir, "op.hex");

    return rc == ONR_OK ? adm_secret_hex(c, path, 16, NULL) : rc;
}

static void material_report(void *arg, const char *path, enum onr_file_change change)
{
    adm_report(arg, path, change);
}

/* What only one role has. */
static int role_pki(struct adm_ctx *c, size_t i, const char *dir)
{
    const struct adm_party *p = &c->t->parties[i];
    struct adm_party_keys *k = &c->keys[i];
    struct onr_mfr_public pub;
    struct onr_x509_profile ca_profile = {.days = CA_DAYS, .is_ca = 1, .path_len = 0};
    char cn[ONR_X509_MAX_NAME + 1];
    int rc = ONR_OK;

    switch (p->role) {
    case ADM_MANUFACTURER:
        rc = onr_mfr_material_ensure(p->id, dir, 0, material_report, c, &pub, c->why,
                                     sizeof(c->why));
        if (rc == ONR_OK) {
            memcpy(k->signing, pub.service, sizeof(k->signing));
            memcpy(k->voucher, pub.voucher, sizeof(k->voucher));
            memcpy(k->sealing, pub.sealing, sizeof(k->sealing));
        }
        return rc;
    case ADM_PROVIDER:
        rc = signing_pair(c, dir, "service", k->signing);
        if (rc == ONR_OK)
            rc = sealing_pair(c, dir, k->sealing);
        snprintf(cn, sizeof(cn), "%s provider CA", p->id);
        ca_profile.subject = (struct onr_x509_name){.common_name = cn, .organization = p->id};
        k->provider_ca_len = sizeof(k->provider_ca);
        if (rc == ONR_OK)
            rc = key_and_cert(c, dir, "provider-ca", &ca_profile, NULL, CA_RENEW, NULL,
                              k->provider_ca, &k->provider_ca_len);
        return rc;
    case ADM_OPERATOR:
        rc = signing_pair(c, dir, "service", k->signing);
        if (rc == ONR_OK)
            rc = op_file(c, dir);
        return rc;
    case ADM_CONTROL:
    case ADM_MONITOR:
    case ADM_ROLES:
        break;
    }
    return ONR_OK;
}

/* A party: its TLS client certificate (OU = role, CN = id) and its keys. */
static int party_pki(struct adm_ctx *c, size_t i, const struct onr_keyfile_issuer *ca)
{
    const struct adm_party *p = &c->t->parties[i];
    const char *role = adm_role_name(p->role);
    const struct onr_x509_profile profile = {
        .subject = {.common_name = p->id, .organization = ORG, .org_unit = role},
        .days = LEAF_DAYS,
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT,
    };
    struct onr_p256_key *tls = NULL;
    char dir[ADM_PATH];
    char path[ADM_PATH];
    int rc = adm_key_dir(c, i, dir);

    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    if (rc == ONR_OK)
        rc = key_and_cert(c, dir, role, &profile, ca, LEAF_RENEW, &tls, NULL, NULL);
    if (rc != ONR_OK)
        return rc;
    if (p->role == ADM_CONTROL) {
        /* a control tool signs its requests with its TLS key */
        rc = onr_p256_public(tls, c->keys[i].signing);
        if (rc == ONR_OK)
            rc = adm_join(c, path, dir, "control.pub");
        if (rc == ONR_OK)
            rc = adm_put_public(c, path, c->keys[i].signing, ONR_P256_PUB_LEN);
    }
    onr_p256_free(tls);
    if (rc == ONR_OK)
        rc = role_pki(c, i, dir);
    return rc;
}

int adm_pki(struct adm_ctx *c)
{
    struct onr_p256_key *ca_key = NULL;
    struct onr_keyfile_issuer ca;
    int rc = services_ca(c, &ca_key);

    onr_progress_add(c->progress, 1);
    ca = (struct onr_keyfile_issuer){ca_key, c->ca, c->ca_len};
    for (size_t b = 0; b < c->t->n_brokers && rc == ONR_OK; b++) {
        rc = broker_pki(c, b, &ca);
        onr_progress_add(c->progress, 1);
    }
    for (size_t i = 0; i < c->t->n_parties && rc == ONR_OK; i++) {
        rc = party_pki(c, i, &ca);
        onr_progress_add(c->progress, 1);
    }
    onr_p256_free(ca_key);
    return rc;
}
