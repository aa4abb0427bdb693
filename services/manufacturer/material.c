#include "material.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/keyfile.h"
#include "onramp/msg.h"
#include "onramp/text.h"
#include "onramp/x509.h"
#include "registry.h"

#define PATH_CAP 1024
#define CA_DAYS 36500
#define RENEW_DAYS 365

struct job {
    const char *dir;
    onr_mfr_material_cb cb;
    void *arg;
    char *why;
    size_t why_cap;
    char path[PATH_CAP];
};

/* job->path = dir/name. */
static int at(struct job *j, const char *name)
{
    int n = snprintf(j->path, sizeof(j->path), "%s/%s", j->dir, name);

    return n < 0 || (size_t)n >= sizeof(j->path) ? ONR_ESPACE : ONR_OK;
}

/* Report a file done, or say why it failed. */
static int done(struct job *j, int rc, enum onr_file_change change)
{
    if (rc != ONR_OK)
        snprintf(j->why, j->why_cap, "%s: %s", j->path, onr_strerror(rc));
    else if (j->cb != NULL)
        j->cb(j->arg, j->path, change);
    return rc;
}

/* NAME.key (P-256) and NAME.pub; the key stays with the caller if `out`. */
static int p256_pair(struct job *j, const char *name, uint8_t pub[ONR_P256_PUB_LEN],
                     struct onr_p256_key **out)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    struct onr_p256_key *key = NULL;
    char file[64];
    int rc;

    snprintf(file, sizeof(file), "%s.key", name);
    rc = at(j, file);
    if (rc == ONR_OK)
        rc = onr_keyfile_p256(j->path, &key, &change);
    rc = done(j, rc, change);
    if (rc == ONR_OK)
        rc = onr_p256_public(key, pub);
    snprintf(file, sizeof(file), "%s.pub", name);
    if (rc == ONR_OK)
        rc = at(j, file);
    if (rc == ONR_OK)
        rc = done(j, onr_keyfile_p256_public(j->path, pub, &change), change);
    if (rc == ONR_OK && out != NULL)
        *out = key;
    else
        onr_p256_free(key);
    return rc;
}

static int sealing_pair(struct job *j, uint8_t pub[ONR_X25519_KEY_LEN])
{
    enum onr_file_change change = ONR_FILE_KEPT;
    uint8_t sk[ONR_X25519_KEY_LEN];
    int rc = at(j, "sealing.key");

    if (rc == ONR_OK)
        rc = onr_keyfile_x25519(j->path, sk, &change);
    rc = done(j, rc, change);
    if (rc == ONR_OK)
        rc = onr_x25519_public(sk, pub);
    onr_wipe(sk, sizeof(sk));
    if (rc == ONR_OK)
        rc = at(j, "sealing.pub");
    if (rc == ONR_OK)
        rc = done(j, onr_keyfile_x25519_public(j->path, pub, &change), change);
    return rc;
}

/* The device CA: self-signed, CN "ID device CA", O = ID, issuing leaves only. */
static int device_ca(struct job *j, const char *id, const struct onr_p256_key *key)
{
    char cn[ONR_X509_MAX_NAME + 1];
    struct onr_x509_profile profile = {.days = CA_DAYS, .is_ca = 1, .path_len = 0};
    enum onr_file_change change = ONR_FILE_KEPT;
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    int rc;

    snprintf(cn, sizeof(cn), "%s device CA", id);
    profile.subject = (struct onr_x509_name){.common_name = cn, .organization = id};
    rc = at(j, "device-ca.pem");
    if (rc == ONR_OK)
        rc = onr_keyfile_cert(j->path, key, &profile, NULL, RENEW_DAYS, der, &der_len, &change);
    return done(j, rc, change);
}

static int starting_conf(struct job *j, const char *id)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    char text[1024];
    int rc;

    snprintf(text, sizeof(text),
             "# The material of manufacturer %s (onramp-factory new-manufacturer or\n"
             "# onramp-admin): onramp-factory mint reads the id here. For\n"
             "# onramp-manufacturer add the broker connections (broker lines, or\n"
             "# broker_host and broker_port; broker_ca, cert, key) and the providers you work with (provider ID\n"
             "# KEYFILE); onramp-admin writes that configuration on its own.\n"
             "id %s\n"
             "database manufacturer.db\n"
             "device_ca device-ca.pem\n"
             "signing_key service.key\n"
             "voucher_key voucher.key\n"
             "sealing_key sealing.key\n",
             id, id);
    rc = at(j, "manufacturer.conf");
    if (rc == ONR_OK)
        rc = onr_file_put(j->path, text, strlen(text), 0600, &change);
    return done(j, rc, change);
}

static int registry(struct job *j)
{
    struct stat st;
    struct onr_db *db = NULL;
    char why[256] = "";
    int existed;
    int rc = at(j, "manufacturer.db");

    if (rc != ONR_OK)
        return done(j, rc, ONR_FILE_KEPT);
    existed = stat(j->path, &st) == 0;
    rc = onr_registry_open(j->path, &db, why, sizeof(why));
    onr_db_close(db);
    if (rc != ONR_OK) {
        snprintf(j->why, j->why_cap, "%s: %s", j->path, why);
        return rc;
    }
    return done(j, ONR_OK, existed ? ONR_FILE_KEPT : ONR_FILE_CREATED);
}

int onr_mfr_material_ensure(const char *id, const char *dir, int with_registry,
                            onr_mfr_material_cb cb, void *arg, struct onr_mfr_public *pub,
                            char *why, size_t why_cap)
{
    struct job j = {.dir = dir, .cb = cb, .arg = arg, .why = why, .why_cap = why_cap};
    struct onr_mfr_public keys;
    struct onr_p256_key *ca_key = NULL;
    uint8_t ca_pub[ONR_P256_PUB_LEN];
    size_t id_len = id == NULL ? 0 : strlen(id);
    int rc;

    if (why == NULL || why_cap == 0 || dir == NULL)
        return ONR_EINVAL;
    why[0] = '\0';
    if (id_len == 0 || id_len > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, id_len}) != ONR_OK) {
        snprintf(why, why_cap, "the id must be a service id (a-z 0-9 . _ -, 1..32)");
        return ONR_EINVAL;
    }
    rc = p256_pair(&j, "device-ca", ca_pub, &ca_key);
    if (rc == ONR_OK)
        rc = device_ca(&j, id, ca_key);
    onr_p256_free(ca_key);
    if (rc == ONR_OK)
        rc = p256_pair(&j, "service", keys.service, NULL);
    if (rc == ONR_OK)
        rc = p256_pair(&j, "voucher", keys.voucher, NULL);
    if (rc == ONR_OK)
        rc = sealing_pair(&j, keys.sealing);
    if (rc == ONR_OK && with_registry)
        rc = registry(&j);
    if (rc == ONR_OK)
        rc = starting_conf(&j, id);
    if (rc == ONR_OK && pub != NULL)
        *pub = keys;
    return rc;
}
