/*
 * The network credentials on disk (see device_internal.h): the profile the
 * operator sealed, the USIM's sequence numbers and the AKMA-style keys of
 * the attach. Every write is atomic with mode 0600; every read is bounded
 * and checked as strictly as the network's bytes are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"

#define PROFILE_MAX (ONR_SEALED_PROFILE_MAX - ONR_SEALED_OVERHEAD)
#define SEQ_MAX (ONR_AKA_SQN_MAX >> ONR_AKA_IND_BITS)
#define SQN_LINE_MAX 21 /* digits of a uint64_t and the newline */
#define SQN_TEXT_MAX (ONR_AKA_SLOTS * SQN_LINE_MAX)
#define AKMA_LEN (ONR_AKMA_KID_LEN + ONR_AKMA_KEY_LEN)

/* `b` (checked by the schema: digits or printable) as a C string. */
static int copy_text(char *out, size_t cap, struct onr_bytes b)
{
    if (b.len >= cap)
        return ONR_ELENGTH;
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    return ONR_OK;
}

/* A file of `dir` read whole (at most `max` bytes, a secret or not);
 * ONR_EFORMAT for a larger one. The caller wipes and frees *data. */
static int read_in(const char *dir, const char *name, size_t max, int secret, uint8_t **data,
                   size_t *len)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, name);

    if (rc == ONR_OK)
        rc = onr_file_read(path, max, secret, data, len);
    return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
}

static int write_in(const char *dir, const char *name, const void *data, size_t len)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, name);

    if (rc == ONR_OK)
        rc = onr_file_write_atomic(path, data, len, ONR_FILE_SECRET);
    return rc;
}

/* ---- the profile ---------------------------------------------------------------- */

int device_profile_decode(const uint8_t *body, size_t len, struct device_profile *out)
{
    struct onr_msg msg;
    const struct onr_msg_profile_content *c = &msg.body.profile_content;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_msg_body_decode(ONR_MSG_PROFILE_CONTENT, body, len, &msg);
    if (rc != ONR_OK)
        return rc;
    /* the schema bounds each field; the IMSI is MCC || MNC || MSIN */
    if (c->plmn.len >= c->imsi.len || memcmp(c->imsi.ptr, c->plmn.ptr, c->plmn.len) != 0 ||
        c->ki.len != sizeof(out->sub.k) || c->opc.len != sizeof(out->sub.opc) ||
        c->amf.len != sizeof(out->sub.amf))
        rc = ONR_ESCHEMA;
    if (rc == ONR_OK)
        rc = copy_text(out->iccid, sizeof(out->iccid), c->iccid);
    if (rc == ONR_OK)
        rc = copy_text(out->imsi, sizeof(out->imsi), c->imsi);
    if (rc == ONR_OK)
        rc = copy_text(out->plmn, sizeof(out->plmn), c->plmn);
    if (rc == ONR_OK)
        rc = copy_text(out->apn, sizeof(out->apn), c->apn);
    if (rc == ONR_OK) {
        memcpy(out->sub.k, c->ki.ptr, sizeof(out->sub.k));
        memcpy(out->sub.opc, c->opc.ptr, sizeof(out->sub.opc));
        memcpy(out->sub.amf, c->amf.ptr, sizeof(out->sub.amf));
    } else {
        onr_wipe(out, sizeof(*out));
    }
    return rc;
}

int device_profile_save(const char *dir, const uint8_t *body, size_t len)
{
    return write_in(dir, DEVICE_PROFILE_FILE, body, len);
}

int device_profile_load(const char *dir, struct device_profile *out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_in(dir, DEVICE_PROFILE_FILE, PROFILE_MAX, 1, &data, &len);

    memset(out, 0, sizeof(*out));
    if (rc != ONR_OK)
        return rc;
    if (device_profile_decode(data, len, out) != ONR_OK)
        rc = ONR_EFORMAT;
    onr_wipe(data, len);
    free(data);
    return rc;
}

/* ---- the USIM's sequence numbers ------------------------------------------------ */

int device_sqn_load(const char *dir, struct onr_aka_sqn_store *store)
{
    uint8_t *data = NULL;
    size_t len = 0;
    size_t at = 0;
    int rc = read_in(dir, DEVICE_SQN_FILE, SQN_TEXT_MAX, 0, &data, &len);

    memset(store, 0, sizeof(*store));
    if (rc == ONR_ENOENT)
        return ONR_OK; /* a new USIM */
    if (rc != ONR_OK)
        return rc;
    /* exactly 32 lines of digits, each within SEQ's 43 bits */
    for (unsigned i = 0; i < ONR_AKA_SLOTS && rc == ONR_OK; i++) {
        uint64_t v = 0;
        size_t digits = 0;

        while (at < len && data[at] >= '0' && data[at] <= '9' && v <= SEQ_MAX) {
            v = v * 10 + (uint64_t)(data[at++] - '0');
            digits++;
        }
        if (digits == 0 || v > SEQ_MAX || at >= len || data[at++] != '\n')
            rc = ONR_EFORMAT;
        else
            store->seq[i] = v;
    }
    if (rc == ONR_OK && at != len)
        rc = ONR_EFORMAT;
    if (rc != ONR_OK)
        memset(store, 0, sizeof(*store));
    free(data);
    return rc;
}

int device_sqn_save(const char *dir, const struct onr_aka_sqn_store *store)
{
    char text[SQN_TEXT_MAX + 1];
    size_t len = 0;

    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++) {
        if (store->seq[i] > SEQ_MAX)
            return ONR_EINVAL;
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%llu\n",
                                (unsigned long long)store->seq[i]);
    }
    return write_in(dir, DEVICE_SQN_FILE, text, len);
}

/* ---- the AKMA-style keys --------------------------------------------------------- */

int device_akma_save(const char *dir, const struct device_akma *akma)
{
    uint8_t buf[AKMA_LEN];
    int rc;

    memcpy(buf, akma->kid, ONR_AKMA_KID_LEN);
    memcpy(buf + ONR_AKMA_KID_LEN, akma->k_af, ONR_AKMA_KEY_LEN);
    rc = write_in(dir, DEVICE_AKMA_FILE, buf, sizeof(buf));
    onr_wipe(buf, sizeof(buf));
    return rc;
}

int device_akma_load(const char *dir, struct device_akma *akma)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_in(dir, DEVICE_AKMA_FILE, AKMA_LEN, 1, &data, &len);

    memset(akma, 0, sizeof(*akma));
    if (rc != ONR_OK)
        return rc;
    if (len == AKMA_LEN) {
        memcpy(akma->kid, data, ONR_AKMA_KID_LEN);
        memcpy(akma->k_af, data + ONR_AKMA_KID_LEN, ONR_AKMA_KEY_LEN);
    } else {
        rc = ONR_EFORMAT;
    }
    onr_wipe(data, len);
    free(data);
    return rc;
}
