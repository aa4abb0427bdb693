/*
 * A provider releases one of its devices (proto/SPEC.md type 28), on
 * onr/1/s/op/{us}/in: its subscription is suspended (detached, no grant,
 * no key, no policy; the numbers and keys stay for the device's next
 * voucher) and its grant is revoked at the broker. A device we hold no
 * subscription for is released already; another provider's is refused.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct release_ctx {
    const struct onr_peer *prov;
};

/* The broker forgets the device's grant (type 21). */
static int revoke(struct onr_service *svc, const char *dev, struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_REVOKE};

    msg.body.revoke.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
    return onr_service_seal(svc, &msg, OP_CONTROL_TOPIC, pub, NULL);
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_db *db = onr_service_db(svc);
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    struct auc_subscriber sub;
    char reply[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    (void)topic;
    memcpy(dev, env->msg.body.release.dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    snprintf(reply, sizeof(reply), "onr/1/s/prov/%s/in", ctx->prov->id);
    rc = auc_subscriber(db, dev, &sub);
    if (rc == ONR_OK && strcmp(sub.prov, ctx->prov->id) != 0) {
        onr_wipe(&sub, sizeof(sub));
        onr_log(ONR_LOG_NOTICE, "release refused provider=%s dev=%s reason=\"another "
                "provider's device\"", ctx->prov->id, dev);
        return onr_service_error(svc, env, ONR_EDENIED, reply, &answer->reply);
    }
    onr_wipe(&sub, sizeof(sub));
    if (rc == ONR_OK) {
        rc = auc_suspend(db, dev);
        if (rc == ONR_OK)
            rc = revoke(svc, dev, &answer->extra[0]);
        if (rc == ONR_OK)
            answer->n_extra = 1;
    } else if (rc == ONR_ENOENT) {
        rc = ONR_OK; /* nothing held: released already */
    }
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
