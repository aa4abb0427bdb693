/*
 * What follows an attach, and must arrive even if we crash right after
 * committing it: the grant at the broker (the device may then publish to
 * its provider) and the application key for the provider. Both are
 * confirmed messages (<onramp/svc_delivery.h>), recorded with the attach
 * and resent until the broker's control result and the provider's
 * app_key_stored confirm them. Receivers treat repeats as no-ops.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

void op_grant_msg(const char *dev, const char *prov, struct onr_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_GRANT;
    msg->body.grant = (struct onr_msg_grant){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .prov = {(const uint8_t *)prov, strlen(prov)},
    };
}

void op_revoke_msg(const char *dev, struct onr_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_REVOKE;
    msg->body.revoke.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
}

/* The provider's copy of what it needs: the key (sealed to it) and the
 * subscription it aligns. */
void op_app_key_msg(const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
                    const uint8_t sealed[ONR_SEALED_APP_KEY_LEN], const char *imsi,
                    const char *iccid, struct onr_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_APP_KEY;
    msg->body.app_key = (struct onr_msg_app_key){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .kid = {kid, ONR_AKMA_KID_LEN},
        .sealed = {sealed, ONR_SEALED_APP_KEY_LEN},
        .imsi = {(const uint8_t *)imsi, strlen(imsi)},
        .iccid = {(const uint8_t *)iccid, strlen(iccid)},
    };
}

/* A device's grant and its revoke share one key: the later replaces the
 * earlier in flight. */
void op_grant_key(const char *dev, char *out, size_t cap)
{
    snprintf(out, cap, "grant/%s", dev);
}

void op_app_key_key(const char *dev, char *out, size_t cap)
{
    snprintf(out, cap, "app_key/%s", dev);
}

int op_attached(struct onr_service *svc, struct op *o, struct op_subscriber *sub,
                const uint8_t kid[16], const uint8_t k_af[32], struct onr_answer *answer)
{
    const struct onr_peer *prov = onr_peer_find(&o->providers, (const uint8_t *)sub->prov,
                                                strlen(sub->prov));
    struct op_change attach = {.kid = kid, .now = onr_service_now(svc)};
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg;
    int rc;

    if (prov == NULL)
        return ONR_EDENIED; /* the contract ended since the profile */
    attach.sealed_key = sealed;
    rc = onr_sealed_app_key_seal(prov->sealing_key, sub->dev, onr_service_id(svc), prov->id,
                                 kid, k_af, sealed);
    if (rc == ONR_OK)
        rc = op_sub_step(onr_service_db(svc), sub, OP_ATTACHED_EV, &attach);
    if (rc == ONR_OK) {
        op_grant_msg(sub->dev, prov->id, &msg);
        op_grant_key(sub->dev, key, sizeof(key));
        rc = onr_service_send_confirmed(svc, answer, OP_KIND_GRANT, ONR_PEER_BROKER, key, &msg,
                                        ONR_TOPIC_CONTROL);
    }
    if (rc == ONR_OK)
        rc = onr_topic_in(ONR_ROLE_PROVIDER, prov->id, topic, sizeof(topic));
    if (rc == ONR_OK) {
        op_app_key_msg(sub->dev, kid, sealed, sub->imsi, sub->iccid, &msg);
        op_app_key_key(sub->dev, key, sizeof(key));
        rc = onr_service_send_confirmed(svc, answer, OP_KIND_APP_KEY, prov->id, key, &msg,
                                        topic);
    }
    /* no event: the attach result and the key, both signed, say it */
    return rc;
}

int op_key_stored(struct onr_service *svc, const struct onr_pending *p,
                  const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    static const char prefix[] = "app_key/";

    (void)svc;
    (void)answer;
    (void)out;
    (void)arg;
    onr_log(ONR_LOG_INFO, "key stored dev=%s provider=%s", p->key + sizeof(prefix) - 1, p->peer);
    return ONR_OK;
}
