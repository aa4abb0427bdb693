/*
 * After a device attached (step 3c), its operator sends us the device's
 * application key for us, K_AF, sealed to our sealing key. We check the
 * operator (one we have a contract with, its signature), that the device
 * is claimed by us with that very operator (the one our registration, and
 * so the device's voucher, named: any other contracted operator could
 * otherwise overwrite the key and block the device's enrollment), that
 * the key opens (it is for this device, from this operator, for us, under
 * this kid), store it as sealed (opened again only when the device
 * enrolls) if it is the newest from that operator (its attach's SQN: runs
 * can cross), and answer with the alignment of step 5 (align.c), which
 * the operator takes as the key's confirmation. An enrollment that waited
 * for it is finished (enroll.c). An older key is answered EEXIST and
 * dropped.
 *
 * With a roaming policy (proto/SPEC.md sections 15 and 16) the operator
 * the manufacturer chose is any the policy names: before we hold a key,
 * one from any of them (or the registration's operator) is taken; once we
 * hold one, only from its operator again or from the operator a
 * relocation under way moves the device to. That one's key completes the
 * relocation: the old operator is released (confirmed delivery), the
 * relocation counted, the event "relocated" published.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "lifecycle.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/policy.h"
#include "prov.h"

struct key_ctx {
    const struct prov *p;
    const struct onr_peer *op;
    char dev[ONR_DEVID_LEN + 1];
};

/* A key from another operator than the one whose key we held: the
 * relocation to it is done. The old operator releases the device (its
 * subscription suspended, its grant revoked, letting the new operator's
 * grant through), the relocation is counted and announced. */
static int relocated(struct onr_service *svc, const char *dev, const char *old_op,
                     const char *new_op, struct onr_answer *answer)
{
    int rc = prov_release_to(svc, PROV_KIND_RELEASE_OP, ONR_ROLE_OPERATOR, old_op, "moved", dev,
                             answer);

    if (rc == ONR_OK)
        rc = prov_relocated(onr_service_db(svc), dev, old_op, onr_service_now(svc));
    if (rc == ONR_OK)
        rc = onr_service_event(svc, dev, ONR_JOURNEY_RELOCATED, onr_answer_extra(answer));
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "relocated dev=%s from=%s to=%s", dev, old_op, new_op);
    return rc;
}

/* The key we hold, again (its operator resent it): answered with the
 * alignment, which names this envelope from now on. */
static int repeated(struct onr_service *svc, const struct key_ctx *ctx, const char *account,
                    struct prov_app_key *held, const struct onr_envelope *env,
                    struct onr_answer *answer)
{
    int rc = prov_app_key_answered(onr_service_db(svc), held->dev, env->id);

    memcpy(held->re, env->id, sizeof(held->re));
    onr_log(ONR_LOG_INFO, "application key again dev=%s operator=%s", ctx->dev, ctx->op->id);
    return rc == ONR_OK ? prov_align_start(svc, ctx->p, account, held, answer) : rc;
}

/* Whether policy text `policy` ("" none) names operator `op`. */
static int policy_names(const char *policy, const char *op)
{
    struct onr_policy p;

    if (policy[0] == '\0' || onr_policy_parse(policy, strlen(policy), &p) != ONR_OK)
        return 0;
    for (size_t e = 0; e < p.n; e++)
        for (size_t k = 0; k < p.entries[e].n_ops; k++)
            if (strcmp(p.entries[e].ops[k], op) == 0)
                return 1;
    return 0;
}

/*
 * May operator `op` hand us the key of the device of `claim`, whose key
 * we hold in `held` (NULL: none yet)? Before we hold a key: the
 * registration's operator or one its policy names (the manufacturer chose
 * among them). Once we hold one: its operator again (a new attach), or
 * the one a relocation under way moves the device to; never another, even
 * one the policy names, which would take the device from its operator
 * unasked. Refusals are alike (EDENIED), as the manufacturer answers
 * "unknown" and "not yours" alike.
 */
static int key_allowed(struct onr_db *db, const struct prov_claim *claim,
                       const struct prov_app_key *held, const char *op)
{
    struct prov_roaming_row r;
    int rc;

    if (held == NULL)
        return strcmp(claim->op, op) == 0 || policy_names(claim->policy, op) ? ONR_OK
                                                                            : ONR_EDENIED;
    rc = prov_roaming_get(db, claim->dev, &r);
    if (rc != ONR_OK)
        return rc;
    return strcmp(held->op, op) == 0 || strcmp(r.target, op) == 0 ? ONR_OK : ONR_EDENIED;
}

/* The operator's key must open (for this device, from this operator, for
 * us, under its kid) before it is stored. */
static int key_opens(struct onr_service *svc, const struct key_ctx *ctx,
                     const struct onr_msg_app_key *m)
{
    uint8_t k_af[ONR_AKMA_KEY_LEN];
    int rc = onr_sealed_app_key_open(&ctx->p->sealing, ctx->dev, ctx->op->id,
                                     onr_service_id(svc), m->kid.ptr, m->sealed.ptr,
                                     m->sealed.len, k_af);

    onr_wipe(k_af, sizeof(k_af));
    if (rc != ONR_OK)
        onr_log(ONR_LOG_WARNING, "application key refused dev=%s operator=%s reason=%s",
                ctx->dev, ctx->op->id, onr_error_name(rc));
    return rc;
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct key_ctx *ctx = arg;
    const struct onr_msg_app_key *m = &env->msg.body.app_key;
    struct onr_db *db = onr_service_db(svc);
    struct prov_claim claim;
    struct prov_app_key k;
    struct prov_app_key old;
    char reply[ONR_TOPIC_MAX + 1];
    int held;
    int moved;
    int rc;

    (void)topic;
    memset(&k, 0, sizeof(k));
    memcpy(k.dev, ctx->dev, sizeof(k.dev));
    snprintf(k.op, sizeof(k.op), "%s", ctx->op->id);
    memcpy(k.kid, m->kid.ptr, sizeof(k.kid));
    memcpy(k.sealed, m->sealed.ptr, sizeof(k.sealed));
    memcpy(k.re, env->id, sizeof(k.re));
    k.sqn = m->sqn;
    /* the decoder bounded both (SPEC type 24); checked again for the copy */
    if (m->imsi.len >= sizeof(k.imsi) || m->iccid.len >= sizeof(k.iccid))
        return ONR_ELENGTH;
    memcpy(k.imsi, m->imsi.ptr, m->imsi.len);
    memcpy(k.iccid, m->iccid.ptr, m->iccid.len);
    rc = onr_topic_in(ONR_ROLE_OPERATOR, ctx->op->id, reply, sizeof(reply));
    /* locked: the manufacturer's late confirmation may be taken at this
     * moment, and each must see the other's step (lifecycle.h) */
    if (rc == ONR_OK)
        rc = prov_claim_get_locked(db, k.dev, &claim);
    if (rc == ONR_ENOENT)
        rc = ONR_EDENIED; /* not claimed here */
    if (rc == ONR_OK)
        rc = prov_app_key_get(db, k.dev, &old);
    held = rc == ONR_OK;
    moved = held && strcmp(old.op, k.op) != 0;
    if (rc == ONR_ENOENT)
        rc = ONR_OK; /* the first key */
    if (rc == ONR_OK)
        rc = key_allowed(db, &claim, held ? &old : NULL, k.op);
    if (rc == ONR_EDENIED) {
        onr_service_log_refusal(svc, "application key refused dev=%s operator=%s "
                                "reason=not an operator of the device's claim",
                                ctx->dev, ctx->op->id);
        return onr_answer_refuse(svc, answer, env, rc, reply);
    }
    if (rc == ONR_OK)
        rc = key_opens(svc, ctx, m);
    /* only a newer run's key than any of this operator's before is stored */
    if (rc == ONR_OK)
        rc = prov_key_order_take(db, k.dev, k.op, k.sqn);
    if (rc == ONR_EEXIST && held && !moved && old.sqn == k.sqn &&
        memcmp(old.kid, k.kid, sizeof(k.kid)) == 0)
        return repeated(svc, ctx, claim.account, &old, env, answer);
    if (rc == ONR_EEXIST) {
        /* an older run's key, late: not ours to keep, and the answer names
         * only this envelope (the newer key's sends have other ids) */
        onr_log(ONR_LOG_NOTICE, "application key refused dev=%s operator=%s sqn=%llu "
                "reason=\"a newer key of that operator is held\"", ctx->dev, ctx->op->id,
                (unsigned long long)k.sqn);
        return onr_answer_refuse(svc, answer, env, ONR_EEXIST, reply);
    }
    if (rc == ONR_OK)
        rc = prov_app_key_put(db, &k, onr_service_now(svc));
    if (rc == ONR_OK)
        rc = prov_device_step(db, &claim, PROV_KEY_STORED, 1, onr_service_now(svc));
    /* the alignment answers the key (its re is this envelope's id) */
    if (rc == ONR_OK)
        rc = prov_align_start(svc, ctx->p, claim.account, &k, answer);
    /* an enrollment that waited for this key is finished now */
    if (rc == ONR_OK)
        rc = prov_enroll_waiting(svc, ctx->p, &k, answer);
    if (rc == ONR_OK && moved)
        rc = relocated(svc, k.dev, old.op, k.op, answer);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_INFO, "application key stored dev=%s operator=%s sqn=%llu", ctx->dev,
                ctx->op->id, (unsigned long long)k.sqn);
    return rc;
}

int prov_on_app_key(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    const struct prov *p = arg;
    const struct onr_msg_app_key *m = &env->msg.body.app_key;
    struct key_ctx ctx;
    int rc;

    ctx.p = p;
    rc = onr_service_from_peer(svc, env, topic, &p->operators, ONR_ROLE_OPERATOR, &ctx.op);
    if (rc != ONR_OK)
        return rc; /* no contract, or not from it */
    snprintf(ctx.dev, sizeof(ctx.dev), "%.*s", (int)m->dev.len, (const char *)m->dev.ptr);
    /* whether that operator may send it, and whether it opens: decided
     * with the rows the handler reads */
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
