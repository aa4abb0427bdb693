/*
 * A voucher: the token the manufacturer signs with its voucher key (proto/
 * SPEC.md section 6), inside a voucher message signed with its service key
 * for the device's down topic.
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

int mfr_voucher(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
                const struct onr_registry_assignment *a, const uint8_t nonce[ONR_NONCE_LEN],
                const uint8_t hello_id[ONR_MSG_ID_LEN], struct onr_publication *out)
{
    const struct onr_peer *prov;
    uint8_t token[2048];
    size_t token_len = 0;
    char down[ONR_TOPIC_MAX + 1];
    const char *id = onr_service_id(svc);
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
    msg.body.voucher_token = (struct onr_msg_voucher_token){
        .dev = {(const uint8_t *)d->dev, strlen(d->dev)},
        .seal_key = ONR_BYTES(d->sealing_key),
        .nonce = {nonce, ONR_NONCE_LEN},
        .prov = {(const uint8_t *)prov->id, strlen(prov->id)},
        .prov_key = ONR_BYTES(prov->key),
        .op = {(const uint8_t *)a->op, strlen(a->op)},
        .op_key = ONR_BYTES(a->op_key),
        .expires = now + m->voucher_lifetime,
    };
    rc = onr_envelope_encode(&msg, &voucher_signer, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), now,
                             token, sizeof(token), &token_len, NULL);
    if (rc != ONR_OK)
        return rc;
    msg.type = ONR_MSG_VOUCHER;
    msg.body.voucher = (struct onr_msg_voucher){
        .re = {hello_id, ONR_MSG_ID_LEN},
        .voucher = {token, token_len},
    };
    rc = onr_topic_down(d->dev, down, sizeof(down));
    return rc == ONR_OK ? onr_service_seal(svc, &msg, down, out, NULL) : rc;
}
