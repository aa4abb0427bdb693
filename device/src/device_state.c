/*
 * The device on disk (see device_internal.h): the factory's files, the
 * journey written step by step and read back at open, and the voucher
 * check, kept apart from the network code so tests reach them directly.
 * The network credentials' files are device_network.c's, the service
 * credentials' device_service.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "device_internal.h"
#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/journey.h"
#include "onramp/text.h"
#include "onramp/x509.h"

#define JOURNEY_MAX 64

/* The journey's steps a device passes, indexed by enum onr_device_state:
 * their state names are the device's (onramp/journey.h). */
static const enum onr_journey_step steps[] = {
    ONR_JOURNEY_MADE,        ONR_JOURNEY_VOUCHED,  ONR_JOURNEY_PROFILED,
    ONR_JOURNEY_ATTACHED,    ONR_JOURNEY_ENROLLED, ONR_JOURNEY_OPERATIONAL,
    ONR_JOURNEY_RELOCATING,  ONR_JOURNEY_RELOCATION_PROFILED,
    ONR_JOURNEY_RELOCATED,
};
#define N_STATES (sizeof(steps) / sizeof(steps[0]))

const char *onr_device_state_name(enum onr_device_state state)
{
    /* outside the device's states: the journey's word for no step */
    return onr_journey_state_name((size_t)state < N_STATES ? steps[state] : ONR_JOURNEY_COUNT);
}

int onr_device_state_from_name(const char *name, enum onr_device_state *out)
{
    enum onr_journey_step step;

    if (name == NULL || out == NULL ||
        onr_journey_from_state_name(name, strlen(name), &step) != ONR_OK)
        return ONR_EINVAL;
    for (size_t i = 0; i < N_STATES; i++) {
        if (steps[i] == step) {
            *out = (enum onr_device_state)i;
            return ONR_OK;
        }
    }
    return ONR_EINVAL; /* a step of the services' only */
}

enum onr_device_state device_state_last(void)
{
    return ONR_DEVICE_OPERATIONAL;
}

int device_state_relocating(enum onr_device_state state)
{
    return state == ONR_DEVICE_RELOCATING || state == ONR_DEVICE_RELOCATION_PROFILED ||
           state == ONR_DEVICE_RELOCATED;
}

int device_state_reached(enum onr_device_state state, enum onr_device_state target)
{
    if (device_state_relocating(state))
        return target <= ONR_DEVICE_ENROLLED;
    return state >= target;
}

int device_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? ONR_ESPACE : ONR_OK;
}

/* ---- the factory's files ------------------------------------------------------ */

/* device.conf's `broker NAME HOST PORT` lines, in order (1 to
 * DEVICE_BROKERS_MAX): NAME a service id (the plugin's broker_name, which
 * proofs are bound to), PORT 1..65535. */
static int load_brokers(struct device_files *f, const struct onr_config *cfg)
{
    size_t n = onr_config_count(cfg, "broker");

    if (n == 0 || n > DEVICE_BROKERS_MAX)
        return ONR_EFORMAT;
    for (size_t i = 0; i < n; i++) {
        char buf[512];
        const char *field[3];
        size_t nf = 0;
        char *end = NULL;
        long port;

        if (onr_config_split(onr_config_at(cfg, "broker", i), buf, sizeof(buf), field, 3,
                             &nf) != ONR_OK ||
            nf != 3 || strlen(field[0]) > ONR_SERVICE_ID_MAX ||
            onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)field[0],
                                                          strlen(field[0])}) != ONR_OK ||
            strlen(field[1]) >= sizeof(f->brokers[i].host))
            return ONR_EFORMAT;
        port = strtol(field[2], &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            return ONR_EFORMAT;
        snprintf(f->brokers[i].name, sizeof(f->brokers[i].name), "%s", field[0]);
        snprintf(f->brokers[i].host, sizeof(f->brokers[i].host), "%s", field[1]);
        f->brokers[i].port = (int)port;
    }
    f->n_brokers = n;
    return ONR_OK;
}

/* `key`'s value in `cfg` as a path, relative to device.conf's directory. */
static int conf_path(const struct onr_config *cfg, const char *key, char *out, size_t cap)
{
    const char *v = onr_config_get(cfg, key);

    if (v == NULL || onr_config_path(cfg, v, out, cap) != ONR_OK)
        return ONR_EFORMAT;
    return ONR_OK;
}

/* device.conf's visited_plmn, if any: 5 or 6 digits. */
static int load_visited(struct device_files *f, const struct onr_config *cfg)
{
    const char *v = onr_config_get(cfg, "visited_plmn");

    if (v == NULL)
        return ONR_OK;
    if (onr_plmn_check(v, strlen(v)) != ONR_OK)
        return ONR_EFORMAT;
    snprintf(f->visited_plmn, sizeof(f->visited_plmn), "%s", v);
    return ONR_OK;
}

/* device.conf: names, brokers, the visited PLMN, and the public keys it
 * names. *key names a key refused (NULL for the file as a whole). */
static int load_conf(const char *dir, struct device_files *f, const char **what,
                     const char **key)
{
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    char path[DEVICE_PATH_MAX + 200];
    const char *id, *mfr;
    int rc;

    *what = "device.conf";
    rc = device_path(path, sizeof(path), dir, "device.conf");
    if (rc == ONR_OK)
        rc = onr_config_load(path, &cfg, &err);
    if (rc != ONR_OK)
        return rc;
    id = onr_config_get(cfg, "id");
    mfr = onr_config_get(cfg, "manufacturer");
    if (id == NULL || mfr == NULL || strlen(id) != ONR_DEVID_LEN || mfr[0] == '\0' ||
        strlen(mfr) > ONR_SERVICE_ID_MAX)
        rc = ONR_EFORMAT;
    if (rc == ONR_OK)
        rc = load_brokers(f, cfg);
    if (rc == ONR_OK && load_visited(f, cfg) != ONR_OK) {
        *key = "visited_plmn";
        rc = ONR_EFORMAT;
    }
    if (rc == ONR_OK) {
        snprintf(f->trust.dev, sizeof(f->trust.dev), "%s", id);
        snprintf(f->trust.mfr, sizeof(f->trust.mfr), "%s", mfr);
        rc = conf_path(cfg, "broker_ca", f->broker_ca, sizeof(f->broker_ca));
    }
    if (rc == ONR_OK)
        rc = conf_path(cfg, "manufacturer_key", path, sizeof(path));
    if (rc == ONR_OK) {
        *what = "manufacturer_key";
        rc = onr_p256_public_load(path, f->mfr_key);
    }
    if (rc == ONR_OK) {
        *what = "device.conf";
        rc = conf_path(cfg, "voucher_key", path, sizeof(path));
    }
    if (rc == ONR_OK) {
        *what = "voucher_key";
        rc = onr_p256_public_load(path, f->trust.voucher_key);
    }
    onr_config_free(cfg);
    return rc;
}

/* identity.key (it must be the key the device id names), sealing.key (kept:
 * it opens the profile) and identity.pem. */
static int load_secrets(const char *dir, struct device_files *f, const char **what)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t buf[ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert = {NULL, 0};
    size_t n = 0;
    int rc;

    *what = "identity.key";
    rc = device_path(path, sizeof(path), dir, "identity.key");
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &f->identity);
    if (rc == ONR_OK)
        rc = onr_p256_public(f->identity, pub);
    if (rc == ONR_OK && onr_devid_matches(f->trust.dev, ONR_DEVID_LEN, pub) != ONR_OK)
        rc = ONR_EBADKEY; /* device.conf and identity.key disagree */
    if (rc != ONR_OK)
        return rc;
    *what = "sealing.key";
    rc = device_path(path, sizeof(path), dir, "sealing.key");
    if (rc == ONR_OK)
        rc = onr_x25519_load(path, f->seal_key);
    if (rc == ONR_OK)
        rc = onr_x25519_public(f->seal_key, f->trust.seal_pub);
    if (rc != ONR_OK)
        return rc;
    *what = "identity.pem";
    rc = device_path(path, sizeof(path), dir, "identity.pem");
    if (rc == ONR_OK)
        rc = onr_x509_load(path, buf, &buf_len, &cert, 1, &n);
    if (rc == ONR_OK && (n != 1 || cert.len < 64 || cert.len > sizeof(f->cert)))
        rc = ONR_ECERT;
    if (rc != ONR_OK)
        return rc;
    memcpy(f->cert, cert.ptr, cert.len);
    f->cert_len = cert.len;
    return ONR_OK;
}

int device_files_load(const char *dir, struct device_files *f, const char **what,
                      const char **key)
{
    const char *where = NULL;
    const char *bad_key = NULL;
    int rc;

    memset(f, 0, sizeof(*f));
    rc = load_conf(dir, f, &where, &bad_key);
    if (rc == ONR_OK)
        rc = load_secrets(dir, f, &where);
    if (rc != ONR_OK)
        device_files_cleanup(f);
    if (what != NULL)
        *what = rc == ONR_OK ? NULL : where;
    if (key != NULL)
        *key = rc == ONR_OK ? NULL : bad_key;
    return rc;
}

void device_files_cleanup(struct device_files *f)
{
    onr_p256_free(f->identity);
    onr_wipe(f, sizeof(*f));
}

/* ---- the journey ------------------------------------------------------------- */

int device_state_load(const char *dir, enum onr_device_state *state)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = device_path(path, sizeof(path), dir, DEVICE_JOURNEY_FILE);

    if (rc == ONR_OK)
        rc = onr_file_read(path, JOURNEY_MAX, 0, &data, &len);
    if (rc == ONR_ENOENT) {
        *state = ONR_DEVICE_FACTORY; /* as minted */
        return ONR_OK;
    }
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
    rc = ONR_EFORMAT;
    for (size_t i = 0; i < N_STATES; i++) {
        const char *name = onr_device_state_name((enum onr_device_state)i);
        size_t n = strlen(name);

        if (len == n + 1 && memcmp(data, name, n) == 0 && data[n] == '\n') {
            *state = (enum onr_device_state)i;
            rc = ONR_OK;
        }
    }
    free(data);
    return rc;
}

int device_state_save(const char *dir, enum onr_device_state state)
{
    char path[DEVICE_PATH_MAX + 200];
    char text[JOURNEY_MAX];
    int n;
    int rc = device_path(path, sizeof(path), dir, DEVICE_JOURNEY_FILE);

    if (rc != ONR_OK)
        return rc;
    if ((size_t)state >= N_STATES)
        return ONR_EINVAL;
    n = snprintf(text, sizeof(text), "%s\n", onr_device_state_name(state));
    return onr_file_write_atomic(path, text, (size_t)n, 0600);
}

int device_voucher_save(const char *dir, const uint8_t *token, size_t len)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, DEVICE_VOUCHER_FILE);

    if (rc != ONR_OK)
        return rc;
    return onr_file_write_atomic(path, token, len, 0600);
}

int device_voucher_load(const char *dir, uint8_t *buf, size_t cap, size_t *len)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t *data = NULL;
    int rc = device_path(path, sizeof(path), dir, DEVICE_VOUCHER_FILE);

    if (rc == ONR_OK)
        rc = onr_file_read(path, cap, 0, &data, len);
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
    memcpy(buf, data, *len);
    free(data);
    return ONR_OK;
}

/* From VOUCHED on: a stored voucher (the device's, or a relocation's in
 * next/), as it would be taken now. */
static int load_voucher(const char *dir, const struct device_trust *t, uint8_t *token,
                        size_t cap, size_t *token_len, struct onr_device_voucher *v)
{
    int rc = device_voucher_load(dir, token, cap, token_len);

    if (rc == ONR_ENOENT)
        return ONR_EFORMAT; /* the journey names a step whose data is missing */
    if (rc != ONR_OK)
        return rc;
    if (device_check_voucher(t, token, *token_len, NULL, 0, v) != ONR_OK)
        return ONR_EFORMAT;
    return ONR_OK;
}

/* From PROFILED on: the profile and the USIM's sequence numbers (the
 * device's, or a relocation's in next/); from NETWORK_ATTACHED on the
 * AKMA-style keys (`akma` not NULL). */
static int load_network(const char *dir, struct device_profile *profile,
                        struct device_akma *akma, const char **what)
{
    struct onr_aka_sqn_store store;
    int rc;

    *what = "profile";
    rc = device_profile_load(dir, profile);
    if (rc == ONR_OK) {
        *what = "sqn";
        rc = device_sqn_load(dir, &store);
    }
    if (rc == ONR_OK && akma != NULL) {
        *what = "akma";
        rc = device_akma_load(dir, akma);
    }
    return rc == ONR_ENOENT ? ONR_EFORMAT : rc;
}

/* While relocating: the telemetry nonces (the relocation forgot them) and
 * what next/ holds so far, named "next/FILE" when refused. */
static int load_next(const char *dir, const struct device_trust *t, struct device_journey *j,
                     const char **what)
{
    static const char *const names[][2] = {
        {DEVICE_VOUCHER_FILE, DEVICE_NEXT_DIR "/" DEVICE_VOUCHER_FILE},
        {"profile", DEVICE_NEXT_DIR "/profile"},
        {"sqn", DEVICE_NEXT_DIR "/sqn"},
    };
    struct device_next *n = &j->next;
    char next[DEVICE_PATH_MAX + 200];
    int rc = device_slot_dir(dir, DEVICE_NEXT, next, sizeof(next));

    *what = DEVICE_VOUCHER_FILE;
    if (rc == ONR_OK)
        rc = load_voucher(next, t, n->token, sizeof(n->token), &n->token_len, &n->voucher);
    if (rc == ONR_OK && j->state >= ONR_DEVICE_RELOCATION_PROFILED)
        rc = load_network(next, &n->profile, NULL, what);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(*what, names[i][0]) == 0)
            *what = names[i][1];
    return rc;
}

/* From NETWORK_ATTACHED on: the service key once made (from ENROLLED on it
 * must be there), then the chain, CA and endpoint it was enrolled with. */
static int load_service(const char *dir, const struct device_trust *t, struct device_journey *j,
                        const char **what)
{
    int rc;

    *what = DEVICE_SERVICE_KEY_FILE;
    rc = device_service_key_load(dir, &j->service_key);
    if (rc == ONR_ENOENT && j->state < ONR_DEVICE_ENROLLED)
        return ONR_OK; /* not made yet */
    if (rc == ONR_OK && j->state >= ONR_DEVICE_ENROLLED)
        rc = device_service_load(dir, t->dev, j->service_key, &j->service, what);
    return rc == ONR_ENOENT ? ONR_EFORMAT : rc;
}

/* A service chain is stored. */
static int has_chain(const char *dir)
{
    char path[DEVICE_PATH_MAX + 200];
    struct stat st;

    return device_path(path, sizeof(path), dir, DEVICE_SERVICE_CERT_FILE) == ONR_OK &&
           stat(path, &st) == 0;
}

int device_journey_load(const char *dir, const struct device_trust *t,
                        struct device_journey *j, const char **what)
{
    int rc;

    *what = DEVICE_JOURNEY_FILE;
    memset(j, 0, sizeof(*j));
    rc = device_state_load(dir, &j->state);
    /* a switch cut short is finished before anything is read */
    if (rc == ONR_OK && j->state == ONR_DEVICE_RELOCATED) {
        *what = DEVICE_NEXT_DIR;
        rc = device_relocation_commit(dir);
        if (rc == ONR_OK)
            j->state = ONR_DEVICE_OPERATIONAL;
    }
    /* and a renewal's switch (SPEC section 17) */
    if (rc == ONR_OK && j->state >= ONR_DEVICE_ENROLLED) {
        *what = DEVICE_RENEW_DIR;
        rc = device_renewal_commit(dir);
    }
    /* an enrollment restarted (a certificate expired) and cut short: its
     * leftovers go, the next enrollment makes a new key */
    if (rc == ONR_OK && j->state == ONR_DEVICE_NETWORK_ATTACHED && has_chain(dir)) {
        *what = DEVICE_SERVICE_CERT_FILE;
        rc = device_enrollment_restart(dir);
    }
    if (rc == ONR_OK && j->state >= ONR_DEVICE_VOUCHED) {
        *what = DEVICE_VOUCHER_FILE;
        rc = load_voucher(dir, t, j->token, sizeof(j->token), &j->token_len, &j->voucher);
    }
    if (rc == ONR_OK && j->state >= ONR_DEVICE_PROFILED)
        rc = load_network(dir, &j->profile, j->state >= ONR_DEVICE_NETWORK_ATTACHED ? &j->akma
                                                                                    : NULL,
                          what);
    if (rc == ONR_OK && j->state >= ONR_DEVICE_NETWORK_ATTACHED)
        rc = load_service(dir, t, j, what);
    if (rc == ONR_OK && j->state >= ONR_DEVICE_ENROLLED) {
        struct device_reported reported;

        *what = DEVICE_REPORTED_FILE;
        rc = device_reported_load(dir, &reported);
    }
    if (rc == ONR_OK && device_state_relocating(j->state))
        rc = load_next(dir, t, j, what);
    if (rc != ONR_OK)
        device_journey_cleanup(j);
    return rc;
}

void device_journey_cleanup(struct device_journey *j)
{
    onr_p256_free(j->service_key);
    onr_wipe(j, sizeof(*j));
}

/* ---- the voucher check --------------------------------------------------------- */

static int copy_id(char *out, size_t cap, struct onr_bytes id)
{
    if (id.len >= cap)
        return ONR_ELENGTH;
    memcpy(out, id.ptr, id.len);
    out[id.len] = '\0';
    return ONR_OK;
}

static int same(struct onr_bytes b, const void *p, size_t len)
{
    return b.len == len && memcmp(b.ptr, p, len) == 0;
}

int device_check_voucher(const struct device_trust *t, const uint8_t *token, size_t len,
                         const uint8_t *nonce, uint64_t now, struct onr_device_voucher *out)
{
    struct onr_envelope env;
    const struct onr_msg_voucher_token *v = &env.msg.body.voucher_token;
    int rc = onr_envelope_decode(token, len, &env);

    if (rc != ONR_OK)
        return rc;
    if (env.msg.type != ONR_MSG_VOUCHER_TOKEN || env.sender_role != ONR_ROLE_MANUFACTURER)
        return ONR_ESCHEMA;
    rc = onr_envelope_verify_sig(&env, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), t->voucher_key);
    if (rc != ONR_OK)
        return rc;
    if (!same(env.sender, t->mfr, strlen(t->mfr)) || !same(v->dev, t->dev, strlen(t->dev)) ||
        !same(v->seal_key, t->seal_pub, sizeof(t->seal_pub)))
        return ONR_EDENIED;
    if (nonce != NULL && !same(v->nonce, nonce, ONR_NONCE_LEN))
        return ONR_EREPLAY;
    if (now != 0 && v->expires <= now)
        return ONR_EEXPIRED;
    memset(out, 0, sizeof(*out));
    /* the decoder checked both: 5 or 6 digits, and one of the reasons */
    if (v->plmn.ptr != NULL)
        rc = copy_id(out->plmn, sizeof(out->plmn), v->plmn);
    if (rc == ONR_OK && v->why.ptr != NULL)
        rc = onr_choice_parse((const char *)v->why.ptr, v->why.len, &out->why);
    if (rc != ONR_OK)
        return ONR_ESCHEMA;
    memcpy(out->nonce, v->nonce.ptr, sizeof(out->nonce));
    rc = copy_id(out->mfr, sizeof(out->mfr), env.sender);
    if (rc == ONR_OK)
        rc = copy_id(out->prov, sizeof(out->prov), v->prov);
    if (rc == ONR_OK)
        rc = copy_id(out->op, sizeof(out->op), v->op);
    if (rc != ONR_OK || v->prov_key.len != sizeof(out->prov_key) ||
        v->op_key.len != sizeof(out->op_key))
        return ONR_ESCHEMA;
    memcpy(out->prov_key, v->prov_key.ptr, sizeof(out->prov_key));
    memcpy(out->op_key, v->op_key.ptr, sizeof(out->op_key));
    out->expires = v->expires;
    return ONR_OK;
}
