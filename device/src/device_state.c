/*
 * The device's journey on disk (see device_internal.h) and the voucher
 * check, kept apart from the network code so tests reach them directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"

#define JOURNEY_FILE "journey"
#define VOUCHER_FILE "voucher"
#define JOURNEY_MAX 64

static const char *const names[] = {"FACTORY", "VOUCHED"};

const char *onr_device_state_name(enum onr_device_state state)
{
    if ((size_t)state < sizeof(names) / sizeof(names[0]))
        return names[state];
    return "UNKNOWN";
}

static int path_in(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? ONR_ESPACE : ONR_OK;
}

int device_state_load(const char *dir, enum onr_device_state *state)
{
    char path[1024];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = path_in(path, sizeof(path), dir, JOURNEY_FILE);

    if (rc == ONR_OK)
        rc = onr_file_read(path, JOURNEY_MAX, 0, &data, &len);
    if (rc == ONR_ENOENT) {
        *state = ONR_DEVICE_FACTORY; /* as minted */
        return ONR_OK;
    }
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
    rc = ONR_EFORMAT;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);

        if (len == n + 1 && memcmp(data, names[i], n) == 0 && data[n] == '\n') {
            *state = (enum onr_device_state)i;
            rc = ONR_OK;
        }
    }
    free(data);
    return rc;
}

int device_state_save(const char *dir, enum onr_device_state state)
{
    char path[1024];
    char text[JOURNEY_MAX];
    int n = snprintf(text, sizeof(text), "%s\n", onr_device_state_name(state));
    int rc = path_in(path, sizeof(path), dir, JOURNEY_FILE);

    if (rc != ONR_OK)
        return rc;
    return onr_file_write_atomic(path, text, (size_t)n, 0600);
}

int device_voucher_save(const char *dir, const uint8_t *token, size_t len)
{
    char path[1024];
    int rc = path_in(path, sizeof(path), dir, VOUCHER_FILE);

    if (rc != ONR_OK)
        return rc;
    return onr_file_write_atomic(path, token, len, 0600);
}

int device_voucher_load(const char *dir, uint8_t *buf, size_t cap, size_t *len)
{
    char path[1024];
    uint8_t *data = NULL;
    int rc = path_in(path, sizeof(path), dir, VOUCHER_FILE);

    if (rc == ONR_OK)
        rc = onr_file_read(path, cap, 0, &data, len);
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
    memcpy(buf, data, *len);
    free(data);
    return ONR_OK;
}

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
    rc = onr_envelope_verify_sig(&env, ONR_BYTES_STR(ONR_VOUCHER_TOKEN_TOPIC), t->voucher_key);
    if (rc != ONR_OK)
        return rc;
    if (!same(env.sender, t->mfr, strlen(t->mfr)) || !same(v->dev, t->dev, strlen(t->dev)) ||
        !same(v->seal_key, t->seal_pub, sizeof(t->seal_pub)))
        return ONR_EDENIED;
    if (nonce != NULL && !same(v->nonce, nonce, ONR_NONCE_LEN))
        return ONR_EREPLAY;
    if (v->expires <= now)
        return ONR_EEXPIRED;
    memset(out, 0, sizeof(*out));
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
