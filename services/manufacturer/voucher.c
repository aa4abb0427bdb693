/*
 * A voucher: the token the manufacturer signs with its voucher key (proto/
 * SPEC.md section 6), inside a voucher message signed with its service key,
 * naming the operator the device's roaming policy chooses where the device
 * is (section 15); or, where the policy names none, the error ENOOPERATOR
 * and the provider's notice (type 35).
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

/* The notice's window: a provider hears of a device's ENOOPERATOR answers
 * at most once in it (SPEC type 35: the freshness window). */
#define NO_OPERATOR_WINDOW 300

int mfr_choose(const struct onr_registry_assignment *a, const char *plmn, const char *region,
               struct mfr_choice *out)
{
    struct onr_policy policy;
    struct onr_op_keys keys;
    char mcc[ONR_MCC_LEN + 1];
    const char *op = NULL;
    const uint8_t *key;
    enum onr_choice why = ONR_CHOICE_FALLBACK;
    int rc;

    memset(out, 0, sizeof(*out));
    if (a->policy_len == 0) {
        /* no policy: the registration's operator, wherever the device is */
        snprintf(out->op, sizeof(out->op), "%s", a->op);
        memcpy(out->op_key, a->op_key, sizeof(out->op_key));
        out->why = a->user ? ONR_CHOICE_USER : ONR_CHOICE_FALLBACK;
        return ONR_OK;
    }
    /* checked when the registration came: a row that does not parse now
     * was not written by us */
    if (onr_policy_parse(a->policy, a->policy_len, &policy) != ONR_OK ||
        onr_op_keys_decode(a->op_keys, a->op_keys_len, &keys) != ONR_OK)
        return ONR_EIO;
    snprintf(mcc, sizeof(mcc), "%.3s", plmn[0] != '\0' ? plmn : region);
    rc = onr_policy_resolve(&policy, mcc[0] != '\0' ? mcc : NULL, a->user ? a->op : NULL, &op,
                            &why);
    if (rc != ONR_OK)
        return rc;
    key = onr_op_keys_find(&keys, op);
    if (key == NULL)
        return ONR_EIO;
    snprintf(out->op, sizeof(out->op), "%s", op);
    memcpy(out->op_key, key, sizeof(out->op_key));
    out->why = why;
    return ONR_OK;
}

int mfr_vouch(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
              const struct onr_registry_assignment *a, const struct mfr_ask *ask,
              struct onr_publication *out)
{
    const struct onr_peer *prov;
    struct mfr_choice choice;
    uint8_t token[2048];
    size_t token_len = 0;
    const char *id = onr_service_id(svc);
    const char *why;
    uint64_t now = onr_service_now(svc);
    struct onr_msg msg = {.type = ONR_MSG_VOUCHER_TOKEN};
    struct onr_envelope_signer voucher_signer = {
        .role = ONR_ROLE_MANUFACTURER,
        .sender = {(const uint8_t *)id, strlen(id)},
        .key = m->voucher_key,
    };
    int rc;

    if (out == NULL)
        return ONR_ESPACE;
    prov = mfr_provider(m, (const uint8_t *)a->provider, strlen(a->provider));
    if (prov == NULL)
        return ONR_ENOENT; /* assigned to a provider no longer configured */
    rc = mfr_choose(a, ask->plmn, ask->region, &choice);
    if (rc != ONR_OK)
        return rc;
    why = onr_choice_name(choice.why);
    msg.body.voucher_token = (struct onr_msg_voucher_token){
        .dev = {(const uint8_t *)d->dev, strlen(d->dev)},
        .seal_key = ONR_BYTES(d->sealing_key),
        .nonce = {ask->nonce, ONR_NONCE_LEN},
        .prov = {(const uint8_t *)prov->id, strlen(prov->id)},
        .prov_key = ONR_BYTES(prov->key),
        .op = {(const uint8_t *)choice.op, strlen(choice.op)},
        .op_key = ONR_BYTES(choice.op_key),
        .expires = now + m->voucher_lifetime,
        .plmn = {(const uint8_t *)ask->plmn, strlen(ask->plmn)},
        .why = {(const uint8_t *)why, strlen(why)},
    };
    if (ask->plmn[0] == '\0')
        msg.body.voucher_token.plmn = (struct onr_bytes){NULL, 0};
    rc = onr_envelope_encode(&msg, &voucher_signer, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), now,
                             token, sizeof(token), &token_len, NULL);
    if (rc == ONR_OK)
        rc = onr_registry_vouched(onr_service_db(svc), d->dev, ask->plmn, choice.op, why, now);
    if (rc != ONR_OK)
        return rc;
    msg.type = ONR_MSG_VOUCHER;
    msg.body.voucher = (struct onr_msg_voucher){
        .re = {ask->re, ONR_MSG_ID_LEN},
        .voucher = {token, token_len},
    };
    onr_log(ONR_LOG_NOTICE,
            "voucher dev=%s provider=%s operator=%s why=%s visited=%s country=%.3s from=%s",
            d->dev, prov->id, choice.op, why, ask->plmn[0] != '\0' ? ask->plmn : "none",
            ask->plmn[0] != '\0' ? ask->plmn : ask->region[0] != '\0' ? ask->region : "-",
            ask->plmn[0] != '\0' ? "network" : ask->region[0] != '\0' ? "broker" : "none");
    return onr_service_seal(svc, &msg, ask->topic, out, NULL);
}

int mfr_no_operator(struct onr_service *svc, const char *dev,
                    const struct onr_registry_assignment *a, const struct mfr_ask *ask,
                    struct onr_answer *answer)
{
    struct onr_msg msg = {.type = ONR_MSG_NO_OPERATOR};
    char inbox[ONR_TOPIC_MAX + 1];
    struct onr_publication *pub;
    int rc;

    onr_log(ONR_LOG_NOTICE, "no operator dev=%s provider=%s visited=%s", dev, a->provider,
            ask->plmn[0] != '\0' ? ask->plmn : "none");
    rc = onr_registry_no_operator_due(onr_service_db(svc), dev, onr_service_now(svc),
                                      NO_OPERATOR_WINDOW);
    if (rc == ONR_EBUSY)
        return ONR_OK; /* told within the window */
    if (rc != ONR_OK)
        return rc;
    pub = onr_answer_extra(answer);
    if (pub == NULL)
        return ONR_ESPACE;
    msg.body.no_operator = (struct onr_msg_no_operator){
        .re = {ask->re, ONR_MSG_ID_LEN},
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .plmn = {ask->plmn[0] != '\0' ? (const uint8_t *)ask->plmn : NULL, strlen(ask->plmn)},
    };
    rc = onr_topic_in(ONR_ROLE_PROVIDER, a->provider, inbox, sizeof(inbox));
    return rc == ONR_OK ? onr_service_seal(svc, &msg, inbox, pub, NULL) : rc;
}
