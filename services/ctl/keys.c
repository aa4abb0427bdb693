/*
 * The keys a monitor knows and its verdict on a message's authenticator
 * (see monitor.h). A monitor observes: a signature is checked for the
 * topic the message arrived on, never for freshness or replay.
 */
#include <string.h>

#include "monitor.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/text.h"
#include "onramp/topic.h"
#include "onramp/x509.h"

const char *ctl_verdict_name(enum ctl_verdict v)
{
    switch (v) {
    case CTL_VERDICT_NONE: return "none";
    case CTL_VERDICT_MAC: return "mac";
    case CTL_VERDICT_VERIFIED: return "verified";
    case CTL_VERDICT_BAD_SIGNATURE: return "bad-signature";
    case CTL_VERDICT_UNKNOWN_KEY: return "unknown-key";
    }
    return "unknown-key";
}

int ctl_role_parse(const char *name, bool services_only, enum onr_role *role)
{
    if (name == NULL || role == NULL)
        return ONR_EINVAL;
    for (int r = ONR_ROLE_DEVICE; r <= ONR_ROLE_BROKER; r++) {
        const char *level = onr_topic_role((enum onr_role)r);

        if (services_only && (r == ONR_ROLE_DEVICE || r == ONR_ROLE_BROKER))
            continue;
        if ((level != NULL && strcmp(name, level) == 0) || strcmp(name, onr_role_name(r)) == 0) {
            *role = (enum onr_role)r;
            return ONR_OK;
        }
    }
    return ONR_EINVAL;
}

int ctl_keyring_add(struct ctl_keyring *k, enum onr_role role, const char *id,
                    const uint8_t pub[ONR_P256_PUB_LEN])
{
    size_t len;

    if (k == NULL || id == NULL || pub == NULL || role == ONR_ROLE_DEVICE ||
        onr_role_name((int)role) == NULL)
        return ONR_EINVAL;
    len = strlen(id);
    if (len == 0 || len > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, len}) != ONR_OK)
        return ONR_EINVAL;
    if (onr_p256_check_public(pub) != ONR_OK)
        return ONR_EBADKEY;
    if (k->n >= CTL_KEYRING_MAX)
        return ONR_ESPACE;
    k->peer[k->n].role = role;
    memcpy(k->peer[k->n].id, id, len + 1);
    memcpy(k->peer[k->n].pub, pub, ONR_P256_PUB_LEN);
    k->n++;
    return ONR_OK;
}

/* The key of the identity certificate a hello carries, if its device id is
 * the sender's: a device id names its key, so nobody else's key passes. */
static bool hello_key(const struct onr_envelope *env, uint8_t pub[ONR_P256_PUB_LEN])
{
    const struct onr_bytes *cert = &env->msg.body.hello.cert;
    struct onr_x509_info info;

    if (env->msg.type != ONR_MSG_HELLO || env->sender_role != ONR_ROLE_DEVICE ||
        cert->ptr == NULL || onr_x509_parse(cert->ptr, cert->len, &info) != ONR_OK)
        return false;
    if (onr_devid_matches((const char *)env->sender.ptr, env->sender.len, info.public_key) !=
        ONR_OK)
        return false;
    memcpy(pub, info.public_key, ONR_P256_PUB_LEN);
    return true;
}

enum ctl_verdict ctl_keyring_verdict(const struct ctl_keyring *k,
                                     const struct onr_envelope *env, struct onr_bytes topic)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    bool known = false;

    if (env == NULL || env->auth == ONR_AUTH_NONE)
        return CTL_VERDICT_NONE;
    if (env->auth == ONR_AUTH_MAC)
        return CTL_VERDICT_MAC;
    if (hello_key(env, pub)) {
        known = true;
        if (onr_envelope_verify_sig(env, topic, pub) == ONR_OK)
            return CTL_VERDICT_VERIFIED;
    }
    for (size_t i = 0; k != NULL && i < k->n; i++) {
        const struct ctl_peer *p = &k->peer[i];

        if (p->role != env->sender_role || strlen(p->id) != env->sender.len ||
            memcmp(p->id, env->sender.ptr, env->sender.len) != 0)
            continue;
        known = true;
        if (onr_envelope_verify_sig(env, topic, p->pub) == ONR_OK)
            return CTL_VERDICT_VERIFIED;
    }
    return known ? CTL_VERDICT_BAD_SIGNATURE : CTL_VERDICT_UNKNOWN_KEY;
}
