/*
 * A provider gives up a device it owns (proto/SPEC.md type 28), on
 * onr/1/s/mfr/{us}/in: the assignment is cleared, so any provider may
 * register the device again, and the release is audited. A device nobody
 * owns is already released (a resend is answered the same way); one that
 * another provider owns is refused.
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

struct release_ctx {
    const struct onr_peer *prov;
};

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_db *db = onr_service_db(svc);
    struct onr_registry_assignment owner;
    struct mfr_change released = {NULL, NULL, onr_service_now(svc)};
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    char reply[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    (void)topic;
    memcpy(dev, env->msg.body.release.dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx->prov->id, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = onr_registry_assignment(db, dev, &owner);
    if (rc == ONR_OK && strcmp(owner.provider, ctx->prov->id) != 0) {
        onr_log(ONR_LOG_NOTICE, "release refused provider=%s dev=%s reason=\"owned by another "
                "provider\"", ctx->prov->id, dev);
        rc = onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, dev,
                                "release refused: not its device");
        return rc == ONR_OK ? onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply) : rc;
    }
    if (rc == ONR_OK || rc == ONR_ENOENT)
        rc = mfr_device_step(db, dev, MFR_RELEASED, &released);
    if (rc == ONR_ENOENT)
        rc = ONR_OK; /* not a device of ours: nothing held, released already */
    if (rc == ONR_OK)
        rc = onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, dev, "released");
    if (rc != ONR_OK)
        return rc;
    msg.body.released = (struct onr_msg_released){.re = ONR_BYTES(env->id),
                                                  .dev = env->msg.body.release.dev};
    onr_log(ONR_LOG_NOTICE, "released provider=%s dev=%s", ctx->prov->id, dev);
    return onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
}

int mfr_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg)
{
    struct mfr *m = arg;
    struct release_ctx ctx;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &m->providers, ONR_ROLE_PROVIDER, &ctx.prov);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
