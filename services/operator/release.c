/*
 * A provider releases one of its devices (proto/SPEC.md type 28), on
 * onr/1/s/op/{us}/in: its subscription is suspended (detached, no grant,
 * no key, no policy; the numbers and keys stay for the device's next
 * voucher) and its grant is revoked at the broker, resent until the
 * broker confirms. A device we hold no subscription for is released
 * already; another provider's is refused.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct release_ctx {
    const struct onr_peer *prov;
};

/* The subscription suspended; the broker forgets the device's grant (type
 * 21: resent until confirmed, and in place of a grant still in flight);
 * the key for the provider is not sent any more. */
static int suspend(struct onr_service *svc, struct op_subscriber *sub, struct onr_answer *answer)
{
    struct onr_db *db = onr_service_db(svc);
    struct op_change released = {.now = onr_service_now(svc)};
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg;
    int rc = op_sub_step(db, sub, OP_RELEASED, &released);

    if (rc == ONR_OK) {
        op_app_key_key(sub->dev, key, sizeof(key));
        rc = onr_delivery_cancel(db, NULL, key);
    }
    if (rc == ONR_OK) {
        op_revoke_msg(sub->dev, &msg);
        op_grant_key(sub->dev, key, sizeof(key));
        rc = onr_service_send_confirmed(svc, answer, OP_KIND_REVOKE, ONR_PEER_BROKER, key, &msg,
                                        ONR_TOPIC_CONTROL);
    }
    return rc;
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    struct op_subscriber sub;
    char reply[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    (void)topic;
    memcpy(dev, env->msg.body.release.dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx->prov->id, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = op_sub_get_locked(onr_service_db(svc), dev, &sub);
    if (rc == ONR_OK && strcmp(sub.prov, ctx->prov->id) != 0) {
        onr_wipe(&sub, sizeof(sub));
        onr_log(ONR_LOG_NOTICE, "release refused provider=%s dev=%s reason=\"another "
                "provider's device\"", ctx->prov->id, dev);
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply);
    }
    if (rc == ONR_OK)
        rc = suspend(svc, &sub, answer);
    else if (rc == ONR_ENOENT)
        rc = ONR_OK; /* nothing held: released already */
    onr_wipe(&sub, sizeof(sub));
    if (rc != ONR_OK)
        return rc;
    msg.body.released = (struct onr_msg_released){.re = ONR_BYTES(env->id),
                                                  .dev = env->msg.body.release.dev};
    onr_log(ONR_LOG_NOTICE, "suspended dev=%s provider=%s (released)", dev, ctx->prov->id);
    return onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
}

int op_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg)
{
    struct op *o = arg;
    struct release_ctx ctx;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &o->providers, ONR_ROLE_PROVIDER, &ctx.prov);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
