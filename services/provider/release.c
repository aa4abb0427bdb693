/*
 * Releasing a device (proto/SPEC.md type 28): a control tool asks us to
 * give up a device one of our accounts claimed. We revoke its service
 * certificate at the broker, forget the claim, its key and its alignment,
 * and pass the release on to its manufacturer (which clears the
 * assignment) and its operator (which suspends the subscription), each a
 * confirmed message resent until it answers; the control tool hears
 * "released" once the manufacturer has confirmed, so the device can be
 * claimed again. A control tool may also only revoke the device's
 * certificate (type 33); the claim stays.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "claims.h"
#include "keys.h"
#include "lifecycle.h"
#include "onramp/error.h"
#include "prov.h"

struct release_ctx {
    const struct prov *p;
    const struct onr_peer *peer; /* the control tool */
};

void prov_release_msg(const char *dev, struct onr_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_RELEASE;
    msg->body.release.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
}

int prov_release_to(struct onr_service *svc, const char *kind, enum onr_role role,
                    const char *peer, const char *what, const char *dev,
                    struct onr_answer *answer)
{
    char topic[ONR_TOPIC_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg;

    int rc = onr_topic_in(role, peer, topic, sizeof(topic));

    if (rc != ONR_OK)
        return rc;
    prov_key(what, dev, key, sizeof(key));
    prov_release_msg(dev, &msg);
    return onr_service_send_confirmed(svc, answer, kind, peer, key, &msg, topic);
}

int prov_seal_to_asker(struct onr_service *svc, const struct onr_msg *msg, const char *asker,
                       struct onr_publication *pub)
{
    char topic[ONR_TOPIC_MAX + 1];
    int rc = onr_topic_in(ONR_ROLE_CONTROL, asker, topic, sizeof(topic));

    return rc == ONR_OK ? onr_service_seal(svc, msg, topic, pub, NULL) : rc;
}

/* Nothing more goes out for a device we give up: not its registration,
 * not its alignment, not a relocation request. */
static int cancel_deliveries(struct onr_db *db, const char *dev)
{
    char key[ONR_DELIVERY_KEY_MAX + 1];
    int rc;

    prov_key("claim", dev, key, sizeof(key));
    rc = onr_delivery_cancel(db, NULL, key);
    prov_key("align", dev, key, sizeof(key));
    if (rc == ONR_OK)
        rc = onr_delivery_cancel(db, NULL, key);
    prov_key("relocate", dev, key, sizeof(key));
    return rc == ONR_OK ? onr_delivery_cancel(db, NULL, key) : rc;
}

static int decide_release(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_db *db = onr_service_db(svc);
    struct prov_release r;
    struct prov_claim claim;
    struct prov_app_key key;
    size_t revoked = 0;
    char reply[ONR_TOPIC_MAX + 1];
    uint64_t now = onr_service_now(svc);
    int rc;

    (void)topic;
    memset(&r, 0, sizeof(r));
    memcpy(r.dev, env->msg.body.release.dev.ptr, ONR_DEVID_LEN);
    snprintf(r.asker, sizeof(r.asker), "%s", ctx->peer->id);
    memcpy(r.request_id, env->id, sizeof(r.request_id));
    rc = onr_topic_in(ONR_ROLE_CONTROL, r.asker, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = prov_claim_get(db, r.dev, &claim);
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_NOTICE, "release refused dev=%s reason=\"not ours\"", r.dev);
        return onr_answer_refuse(svc, answer, env, ONR_ENOENT, reply);
    }
    if (rc != ONR_OK)
        return rc;
    snprintf(r.mfr, sizeof(r.mfr), "%s", claim.mfr);
    /* the operator the device uses: the one whose key we hold (with a
     * roaming policy, maybe not the registration's), else the claim's */
    rc = prov_app_key_get(db, r.dev, &key);
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    snprintf(r.op, sizeof(r.op), "%s", rc == ONR_OK ? key.op : claim.op);
    rc = prov_release_to(svc, PROV_KIND_RELEASE_MFR, ONR_ROLE_MANUFACTURER, r.mfr, "release",
                         r.dev, answer);
    if (rc == ONR_OK)
        rc = prov_release_to(svc, PROV_KIND_RELEASE_OP, ONR_ROLE_OPERATOR, r.op, "release",
                             r.dev, answer);
    if (rc == ONR_OK)
        rc = prov_revoke_in_force(svc, r.dev, NULL, 0, answer, &revoked);
    if (rc == ONR_OK)
        rc = prov_release_put(db, &r, now);
    if (rc == ONR_OK)
        rc = prov_device_forget(db, r.dev);
    if (rc == ONR_OK)
        rc = cancel_deliveries(db, r.dev);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "releasing dev=%s manufacturer=%s operator=%s asker=%s", r.dev,
                r.mfr, r.op, r.asker);
    /* the control tool hears from us when the manufacturer has confirmed */
    return rc;
}

/* A control tool's request: from one we list, then `decide` once. */
static int from_controller(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg, onr_service_decide_cb decide)
{
    struct release_ctx ctx = {arg, NULL};
    int rc;

    rc = onr_service_from_peer(svc, env, topic, onr_service_controllers(svc), ONR_ROLE_CONTROL,
                               &ctx.peer);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}

int prov_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    return from_controller(svc, env, topic, arg, decide_release);
}

/* A revocation asked by a control tool (type 33): the certificate in force
 * is revoked at the broker; the claim stays. */
static int decide_revoke(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg, struct onr_answer *answer)
{
    const struct release_ctx *ctx = arg;
    struct onr_db *db = onr_service_db(svc);
    struct onr_msg msg = {.type = ONR_MSG_REVOKED};
    struct prov_claim claim;
    struct prov_cert cert;
    size_t revoked = 0;
    char dev[ONR_DEVID_LEN + 1];
    char reply[ONR_TOPIC_MAX + 1];
    int rc;

    (void)topic;
    memcpy(dev, env->msg.body.revoke_request.dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    rc = onr_topic_in(ONR_ROLE_CONTROL, ctx->peer->id, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = prov_cert_current(db, dev, &cert);
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_NOTICE, "revoke refused dev=%s reason=\"no certificate in force\"",
                dev);
        return onr_answer_refuse(svc, answer, env, ONR_ENOENT, reply);
    }
    if (rc == ONR_OK) /* and the one a renewal in flight renews */
        rc = prov_revoke_in_force(svc, dev, NULL, 0, answer, &revoked);
    if (rc == ONR_OK) {
        rc = prov_claim_get_locked(db, dev, &claim);
        if (rc == ONR_OK)
            rc = prov_device_step(db, &claim, PROV_REVOKED, 1, onr_service_now(svc));
        else if (rc == ONR_ENOENT)
            rc = ONR_OK;
    }
    if (rc != ONR_OK)
        return rc;
    msg.body.revoked = (struct onr_msg_revoked){
        .re = ONR_BYTES(env->id),
        .dev = env->msg.body.revoke_request.dev,
        .serial = {cert.serial, cert.serial_len},
    };
    onr_log(ONR_LOG_NOTICE, "certificate revoked dev=%s asker=%s", dev, ctx->peer->id);
    return onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
}

int prov_on_revoke_request(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg)
{
    return from_controller(svc, env, topic, arg, decide_revoke);
}

/* The release of `p`'s device as recorded ("release/DEV"). */
static int release_of(struct onr_service *svc, const struct onr_pending *p,
                      struct prov_release *r)
{
    const char *dev = prov_key_subject(p, "release");

    return dev != NULL ? prov_release_get(onr_service_db(svc), dev, r) : ONR_ENOENT;
}

/* The manufacturer (the release_mfr kind) or the operator (release_op)
 * confirmed: the control tool that asked hears "released" when the
 * manufacturer has. */
int prov_released(struct onr_service *svc, const struct onr_pending *p,
                  const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    struct prov_release r;
    int rc = release_of(svc, p, &r);

    (void)answer;
    (void)arg;
    if (rc != ONR_OK)
        return rc == ONR_ENOENT ? ONR_OK : rc;
    onr_log(ONR_LOG_NOTICE, "released dev=%s by=%s", r.dev, p->peer);
    if (strcmp(p->kind, PROV_KIND_RELEASE_MFR) != 0)
        return ONR_OK;
    msg.body.released = (struct onr_msg_released){
        .re = ONR_BYTES(r.request_id),
        .dev = {(const uint8_t *)r.dev, strlen(r.dev)},
    };
    return prov_seal_to_asker(svc, &msg, r.asker, &out->reply);
}

/* The manufacturer refuses a release (EDENIED: another provider's device
 * there now): given up, and the control tool hears the refusal. */
int prov_release_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                         struct onr_answer *out, void *arg)
{
    struct onr_msg msg = {.type = ONR_MSG_ERROR};
    const char *reason = onr_strerror(code);
    struct prov_release r;
    int rc;

    (void)arg;
    if (code != ONR_EDENIED)
        return ONR_DELIVERY_KEEP;
    rc = release_of(svc, p, &r);
    if (rc != ONR_OK)
        return rc == ONR_ENOENT ? ONR_DELIVERY_DROP : rc;
    msg.body.error = (struct onr_msg_error){
        .re = ONR_BYTES(r.request_id),
        .code = (uint64_t)-code,
        .reason = {(const uint8_t *)reason, strlen(reason)},
    };
    rc = prov_seal_to_asker(svc, &msg, r.asker, &out->reply);
    return rc == ONR_OK ? ONR_DELIVERY_DROP : rc;
}
