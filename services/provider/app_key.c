/*
 * After a device attached (step 3c), its operator sends us the device's
 * application key for us, K_AF, sealed to our sealing key. We check the
 * operator (one we have a contract with, its signature), that the device
 * is claimed by us with that very operator (the one our registration, and
 * so the device's voucher, named: any other contracted operator could
 * otherwise overwrite the key and block the device's enrollment), that
 * the key opens (it is for this device, from this operator, for us, under
 * this kid), store it as sealed (opened again only when the device
 * enrolls), and confirm, so the operator stops resending it. Step 5
 * starts with the key (align.c), and an enrollment that waited for it is
 * finished (enroll.c).
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "lifecycle.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "prov.h"

struct key_ctx {
    const struct prov *p;
    const struct onr_peer *op;
    char dev[ONR_DEVID_LEN + 1];
};

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct key_ctx *ctx = arg;
    const struct onr_msg_app_key *m = &env->msg.body.app_key;
    struct onr_msg msg = {.type = ONR_MSG_APP_KEY_STORED};
    struct prov_claim claim;
    struct prov_app_key k;
    char reply[ONR_TOPIC_MAX + 1];
    int rc;

    (void)topic;
    memset(&k, 0, sizeof(k));
    memcpy(k.dev, ctx->dev, sizeof(k.dev));
    snprintf(k.op, sizeof(k.op), "%s", ctx->op->id);
    memcpy(k.kid, m->kid.ptr, sizeof(k.kid));
    memcpy(k.sealed, m->sealed.ptr, sizeof(k.sealed));
    /* the decoder bounded both (SPEC type 24); checked again for the copy */
    if (m->imsi.len >= sizeof(k.imsi) || m->iccid.len >= sizeof(k.iccid))
        return ONR_ELENGTH;
    memcpy(k.imsi, m->imsi.ptr, m->imsi.len);
    memcpy(k.iccid, m->iccid.ptr, m->iccid.len);
    rc = prov_claim_get(onr_service_db(svc), k.dev, &claim); /* as of this transaction */
    if (rc == ONR_OK)
        rc = prov_app_key_put(onr_service_db(svc), &k, onr_service_now(svc));
    if (rc == ONR_OK)
        rc = prov_device_step(onr_service_db(svc), &claim, PROV_KEY_STORED, 1,
                              onr_service_now(svc));
    if (rc == ONR_OK)
        rc = prov_align_start(svc, ctx->p, claim.account, &k, answer);
    /* an enrollment that waited for this key is finished now */
    if (rc == ONR_OK)
        rc = prov_enroll_waiting(svc, ctx->p, &k, answer);
    if (rc != ONR_OK)
        return rc;
    msg.body.app_key_stored = (struct onr_msg_app_key_stored){
        .re = ONR_BYTES(env->id),
        .dev = m->dev,
    };
    onr_log(ONR_LOG_INFO, "application key stored dev=%s operator=%s", ctx->dev, ctx->op->id);
    rc = onr_topic_in(ONR_ROLE_OPERATOR, ctx->op->id, reply, sizeof(reply));
    return rc == ONR_OK ? onr_service_seal(svc, &msg, reply, &answer->reply, NULL) : rc;
}

/* Is `dev` claimed here (registering or claimed) with operator `op`? A
 * device we never claimed and one claimed with another operator are
 * refused alike (EDENIED), as the manufacturer answers "unknown" and "not
 * yours" alike. */
static int claimed_with(struct onr_service *svc, const char *dev, const char *op)
{
    struct prov_claim claim;
    int rc = prov_claim_get(onr_service_db(svc), dev, &claim);

    if (rc == ONR_ENOENT || (rc == ONR_OK && strcmp(claim.op, op) != 0))
        return ONR_EDENIED;
    return rc;
}

int prov_on_app_key(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    const struct prov *p = arg;
    const struct onr_msg_app_key *m = &env->msg.body.app_key;
    struct key_ctx ctx;
    char reply[ONR_TOPIC_MAX + 1];
    uint8_t k_af[ONR_AKMA_KEY_LEN];
    int rc;

    ctx.p = p;
    rc = onr_service_from_peer(svc, env, topic, &p->operators, ONR_ROLE_OPERATOR, &ctx.op);
    if (rc != ONR_OK)
        return rc; /* no contract, or not from it */
    snprintf(ctx.dev, sizeof(ctx.dev), "%.*s", (int)m->dev.len, (const char *)m->dev.ptr);
    rc = claimed_with(svc, ctx.dev, ctx.op->id);
    if (rc == ONR_EDENIED) {
        onr_service_log_refusal(svc, "application key refused dev=%s operator=%s "
                                "reason=not the operator of the device's claim",
                                ctx.dev, ctx.op->id);
        if (onr_topic_in(ONR_ROLE_OPERATOR, ctx.op->id, reply, sizeof(reply)) != ONR_OK)
            return rc;
        return onr_service_refuse(svc, env, rc, reply);
    }
    if (rc != ONR_OK)
        return rc;
    /* a key that does not open is refused before it is stored */
    rc = onr_sealed_app_key_open(&p->sealing, ctx.dev, ctx.op->id, onr_service_id(svc),
                                 m->kid.ptr, m->sealed.ptr, m->sealed.len, k_af);
    onr_wipe(k_af, sizeof(k_af));
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_WARNING, "application key refused dev=%s operator=%s reason=%s",
                ctx.dev, ctx.op->id, onr_error_name(rc));
        return rc;
    }
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
