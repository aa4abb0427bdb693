/*
 * Releasing a device (proto/SPEC.md type 28): a control tool asks us to
 * give up a device one of our accounts claimed. We revoke its service
 * certificate at the broker, forget the claim, its key and its alignment,
 * and pass the release on to its manufacturer (which clears the
 * assignment) and its operator (which suspends the subscription); the
 * control tool hears "released" once the manufacturer has confirmed, so the
 * device can be claimed again. Both are resent until they answer.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "claims.h"
#include "onramp/error.h"
#include "prov.h"

struct release_ctx {
    const struct prov *p;
    const struct onr_peer *peer; /* the control tool, or the answering service */
};

/* Our release of `dev` to a manufacturer's or operator's inbox. */
static int release_to(struct onr_service *svc, const char *role, const char *svc_id,
                      const char *dev, struct onr_publication *pub, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_msg msg = {.type = ONR_MSG_RELEASE};
    char topic[ONR_TOPIC_MAX + 1];

    snprintf(topic, sizeof(topic), "onr/1/s/%s/%s/in", role, svc_id);
    msg.body.release.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
    return onr_service_seal(svc, &msg, topic, pub, id);
}

/* "released" to the control tool that asked. */
static int tell_released(struct onr_service *svc, const struct prov_release *r,
                         struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    char topic[ONR_TOPIC_MAX + 1];

    snprintf(topic, sizeof(topic), "onr/1/s/ctl/%s/in", r->asker);
    msg.body.released = (struct onr_msg_released){
        .re = ONR_BYTES(r->request_id),
        .dev = {(const uint8_t *)r->dev, strlen(r->dev)},
    };
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

static int decide_release(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_db *db = onr_service_db(svc);
    struct prov_revocation revocation;
    struct prov_release r;
    struct prov_claim claim;
    char asker_topic[ONR_TOPIC_MAX + 1];
    uint64_t now = onr_service_now(svc);
    int rc;

    (void)topic;
    memset(&r, 0, sizeof(r));
    memcpy(r.dev, env->msg.body.release.dev.ptr, ONR_DEVID_LEN);
    snprintf(r.asker, sizeof(r.asker), "%s", ctx->peer->id);
    memcpy(r.request_id, env->id, sizeof(r.request_id));
    snprintf(asker_topic, sizeof(asker_topic), "onr/1/s/ctl/%s/in", r.asker);
    rc = prov_claim_get(db, r.dev, &claim);
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_NOTICE, "release refused dev=%s reason=\"not ours\"", r.dev);
        return onr_service_error(svc, env, ONR_ENOENT, asker_topic, &answer->reply);
    }
    if (rc != ONR_OK)
        return rc;
    snprintf(r.mfr, sizeof(r.mfr), "%s", claim.mfr);
    snprintf(r.op, sizeof(r.op), "%s", claim.op);
    rc = release_to(svc, "mfr", r.mfr, r.dev, &answer->extra[0], r.mfr_msg);
    if (rc == ONR_OK)
        rc = release_to(svc, "op", r.op, r.dev, &answer->extra[1], r.op_msg);
    if (rc == ONR_OK)
        answer->n_extra = 2;
    if (rc == ONR_OK) {
        rc = prov_cert_revoke_current(db, r.dev, now, &revocation);
        if (rc == ONR_OK)
            rc = prov_revoke_send(svc, &revocation, &answer->extra[answer->n_extra++]);
        else if (rc == ONR_ENOENT)
            rc = ONR_OK; /* never enrolled */
    }
    if (rc == ONR_OK)
        rc = prov_release_put(db, &r, now);
    if (rc == ONR_OK)
        rc = prov_device_forget(db, r.dev);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "releasing dev=%s manufacturer=%s operator=%s asker=%s", r.dev,
                r.mfr, r.op, r.asker);
    /* the control tool hears from us when the manufacturer has confirmed */
    return rc;
}

int prov_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    struct release_ctx ctx = {arg, NULL};
    int rc;

    rc = onr_service_from_peer(svc, env, topic, onr_service_controllers(svc), ONR_ROLE_CONTROL,
                               &ctx.peer);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide_release, &ctx);
}

/* A revocation asked by a control tool (type 33): the certificate in force
 * is revoked at the broker; the claim stays. */
static int decide_revoke(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct prov_revocation revocation;
    struct onr_msg msg = {.type = ONR_MSG_REVOKED};
    char dev[ONR_DEVID_LEN + 1];
    char asker_topic[ONR_TOPIC_MAX + 1];
    int rc;

    (void)topic;
    memcpy(dev, env->msg.body.revoke_request.dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    snprintf(asker_topic, sizeof(asker_topic), "onr/1/s/ctl/%s/in", ctx->peer->id);
    rc = prov_cert_revoke_current(onr_service_db(svc), dev, onr_service_now(svc),
                                  &revocation);
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_NOTICE, "revoke refused dev=%s reason=\"no certificate in force\"",
                dev);
        return onr_service_error(svc, env, ONR_ENOENT, asker_topic, &answer->reply);
    }
    if (rc == ONR_OK)
        rc = prov_revoke_send(svc, &revocation, &answer->extra[0]);
    if (rc != ONR_OK)
        return rc;
    answer->n_extra = 1;
    msg.body.revoked = (struct onr_msg_revoked){
        .re = ONR_BYTES(env->id),
        .dev = env->msg.body.revoke_request.dev,
        .serial = {revocation.serial, revocation.serial_len},
    };
    onr_log(ONR_LOG_NOTICE, "certificate revoked dev=%s asker=%s", dev, ctx->peer->id);
    return onr_service_seal(svc, &msg, asker_topic, &answer->reply, NULL);
}

int prov_on_revoke_request(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg)
{
    struct release_ctx ctx = {arg, NULL};
    int rc;

    rc = onr_service_from_peer(svc, env, topic, onr_service_controllers(svc), ONR_ROLE_CONTROL,
                               &ctx.peer);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide_revoke, &ctx);
}

static int decide_released(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg, struct onr_answer *answer)
{
    int from_mfr = env->sender_role == ONR_ROLE_MANUFACTURER;
    struct prov_release r;
    int rc;

    (void)topic;
    (void)arg;
    rc = prov_release_answered(onr_service_db(svc), env->msg.body.released.re.ptr, from_mfr,
                               &r);
    if (rc == ONR_ENOENT || rc == ONR_EEXIST)
        return ONR_OK; /* an older envelope's answer, or a second one */
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_NOTICE, "released dev=%s by=%s", r.dev, from_mfr ? r.mfr : r.op);
    return from_mfr ? tell_released(svc, &r, &answer->reply) : ONR_OK;
}

int prov_on_released(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                     void *arg)
{
    const struct prov *p = arg;
    struct release_ctx ctx = {p, NULL};
    int from_mfr = env->sender_role == ONR_ROLE_MANUFACTURER;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, from_mfr ? &p->manufacturers : &p->operators,
                               from_mfr ? ONR_ROLE_MANUFACTURER : ONR_ROLE_OPERATOR, &ctx.peer);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide_released, &ctx);
}

int prov_release_resend(struct onr_service *svc, const struct prov_release *r,
                        struct onr_publication pubs[2], size_t *n)
{
    uint8_t mfr_msg[ONR_MSG_ID_LEN];
    uint8_t op_msg[ONR_MSG_ID_LEN];
    int rc = ONR_OK;

    *n = 0;
    if (!r->mfr_done)
        rc = release_to(svc, "mfr", r->mfr, r->dev, &pubs[(*n)++], mfr_msg);
    if (rc == ONR_OK && !r->op_done)
        rc = release_to(svc, "op", r->op, r->dev, &pubs[(*n)++], op_msg);
    if (rc == ONR_OK)
        rc = prov_release_resent(onr_service_db(svc), r->dev, r->mfr_done ? NULL : mfr_msg,
                                 r->op_done ? NULL : op_msg, onr_service_now(svc));
    return rc;
}
