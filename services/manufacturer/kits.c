/*
 * A provider registers every device of a kit at once (proto/SPEC.md
 * section 18: kit_registration, type 40), on onr/1/s/mfr/{us}/in. As for a
 * registration: a provider we work with (its key from our configuration),
 * its signature, freshness, one token of its claim rate. Then the kit's
 * claim secret must hash to what the factory recorded ("unknown kit" and
 * "wrong claim secret" both answered EDENIED without a reason: no
 * oracle), and every device of the kit must be unassigned or assigned to
 * this provider through this kit; otherwise EDENIED names the first that
 * is not, and nothing is assigned. All or none, in the one transaction of
 * handle_once: the devices are assigned (through the kit) as a
 * registration assigns them, the attempt audited, the answer stored.
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "kits.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"

struct kit_ctx {
    struct mfr *m;
    const struct onr_peer *prov;
};

/* An error answer with a reason of ours (the one a holder of the kit's
 * claim secret may know), stored as the answer. */
static int refuse(struct onr_service *svc, const struct onr_envelope *env, int code,
                  const char *reason, const char *topic, struct onr_answer *answer)
{
    struct onr_msg msg = {.type = ONR_MSG_ERROR};
    int rc;

    msg.body.error.re = ONR_BYTES(env->id);
    msg.body.error.code = (uint64_t)-code;
    msg.body.error.reason = (struct onr_bytes){(const uint8_t *)reason, strlen(reason)};
    rc = onr_service_seal(svc, &msg, topic, &answer->reply, NULL);
    if (rc == ONR_OK)
        answer->refusal = code;
    return rc;
}

/* Open the kit's claim sealed to us (SPEC section 7), compare its hash. */
static int claim_matches(const struct mfr *m, const struct onr_msg_kit_registration *r,
                         const struct onr_registry_kit *k, const char *prov)
{
    char claim[ONR_LABEL_CLAIM_LEN + 1];
    uint8_t hash[32];
    int rc = onr_kit_claim_open(m->sealing_key, k->kit, prov, r->claim.ptr, r->claim.len, claim);

    if (rc == ONR_OK)
        rc = onr_label_claim_hash(claim, hash);
    onr_wipe(claim, sizeof(claim));
    return rc == ONR_OK && onr_equal_ct(hash, k->claim_hash, sizeof(hash));
}

/* The first device of `k` not free for `prov`: assigned to another
 * provider, or to it but not through this kit. NULL when all are free. */
static const char *first_taken(struct onr_db *db, const struct onr_registry_kit *k,
                               const char *prov, int *rc)
{
    struct onr_registry_assignment owner;
    char through[ONR_KIT_ID_LEN + 1];

    for (size_t i = 0; i < k->n_devs; i++) {
        *rc = onr_registry_assignment(db, k->devs[i], &owner);
        if (*rc == ONR_ENOENT)
            continue;
        if (*rc == ONR_OK)
            *rc = onr_registry_assigned_through(db, k->devs[i], through);
        if (*rc != ONR_OK)
            return NULL;
        if (strcmp(owner.provider, prov) != 0 || strcmp(through, k->kit) != 0)
            return k->devs[i];
    }
    *rc = ONR_OK;
    return NULL;
}

/* Device `dev` of the kit assigned to `a` (again, for one assigned through
 * the kit before); *assigned whether it was not before. A device waiting
 * since its hello gets its voucher while `answer` has room; the others ask
 * again after their retry_after and get it then. */
static int assign(struct onr_service *svc, struct mfr *m, const char *dev,
                  const struct onr_registry_assignment *a, const char *kit,
                  struct onr_answer *answer, int *assigned)
{
    struct onr_db *db = onr_service_db(svc);
    struct mfr_change registered = {NULL, a, onr_service_now(svc)};
    struct onr_registry_device d;
    struct onr_registry_hello kept;
    uint64_t assigned_at = 0;
    int state = MFR_MADE;
    int waiting;
    /* decided with the device locked (lifecycle.h) */
    int rc = onr_registry_lock(db, dev);

    if (rc == ONR_OK)
        rc = onr_registry_state(db, dev, &state, &assigned_at);
    if (rc == ONR_OK)
        rc = onr_registry_device(db, dev, strlen(dev), &d);
    if (rc != ONR_OK)
        return rc;
    *assigned = state != MFR_ASSIGNED;
    rc = onr_registry_waiting(db, dev, &kept);
    waiting = rc == ONR_OK;
    if (rc == ONR_OK || rc == ONR_ENOENT)
        rc = mfr_device_step(db, dev, MFR_REGISTERED, &registered);
    if (rc == ONR_OK)
        rc = onr_registry_assign_through(db, dev, kit);
    if (rc != ONR_OK || !waiting)
        return rc;
    /* a voucher, or ENOOPERATOR and a notice: two extras at the most */
    if (answer->n_extra + 2 > ONR_SERVICE_MAX_EXTRA)
        return ONR_OK;
    return mfr_answer_waiting(svc, m, &d, a, &kept, answer);
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct kit_ctx *ctx = arg;
    const struct onr_msg_kit_registration *r = &env->msg.body.kit_registration;
    struct onr_db *db = onr_service_db(svc);
    static struct onr_registry_kit k;
    struct onr_registry_assignment a;
    /* the operator and policy of every device of the kit, as a
     * registration's (SPEC type 40) */
    const struct mfr_operator_fields f = {r->op, r->op_key, r->user, r->policy, r->op_keys};
    struct onr_msg msg = {.type = ONR_MSG_KIT_REGISTERED};
    char devs[ONR_KIT_DEVICES_MAX * ONR_DEVID_LEN];
    char assigned[ONR_KIT_DEVICES_MAX * ONR_DEVID_LEN];
    char reply[ONR_TOPIC_MAX + 1];
    char kit[ONR_KIT_ID_LEN + 1];
    char reason[128];
    const char *result = "kit assigned";
    const char *taken = NULL;
    size_t n_assigned = 0;
    int rc;

    (void)topic;
    snprintf(kit, sizeof(kit), "%.*s", (int)r->kit.len, (const char *)r->kit.ptr);
    rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx->prov->id, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = onr_registry_kit(db, kit, strlen(kit), &k);
    if (rc == ONR_ENOENT)
        result = "unknown kit";
    else if (rc != ONR_OK)
        return rc;
    else if (!claim_matches(ctx->m, r, &k, ctx->prov->id))
        result = "wrong claim secret";
    else if (!mfr_operator_keys_ok(&f))
        result = "bad operator key";
    if (strcmp(result, "kit assigned") == 0) {
        taken = first_taken(db, &k, ctx->prov->id, &rc);
        if (rc != ONR_OK)
            return rc;
    }
    onr_log(ONR_LOG_NOTICE, "kit registration provider=%s kit=%s result=\"%s\"%s%s",
            ctx->prov->id, kit, result, taken != NULL ? " dev=" : "",
            taken != NULL ? taken : "");
    if (taken != NULL) {
        snprintf(reason, sizeof(reason), "device %s is taken: not this provider's through "
                 "this kit", taken);
        rc = onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, kit, reason);
        return rc == ONR_OK ? refuse(svc, env, ONR_EDENIED, reason, reply, answer) : rc;
    }
    rc = onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, kit, result);
    if (rc != ONR_OK)
        return rc;
    if (strcmp(result, "kit assigned") != 0)
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply);

    mfr_assignment_of(&f, ctx->prov->id, &a);
    for (size_t i = 0; i < k.n_devs && rc == ONR_OK; i++) {
        int fresh = 0;

        memcpy(devs + i * ONR_DEVID_LEN, k.devs[i], ONR_DEVID_LEN);
        rc = assign(svc, ctx->m, k.devs[i], &a, kit, answer, &fresh);
        if (rc == ONR_OK && fresh) {
            memcpy(assigned + n_assigned * ONR_DEVID_LEN, k.devs[i], ONR_DEVID_LEN);
            n_assigned++;
            rc = onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, k.devs[i],
                                    "assigned through its kit");
        }
    }
    if (rc != ONR_OK)
        return rc;
    msg.body.kit_registered = (struct onr_msg_kit_registered){
        .re = ONR_BYTES(env->id),
        .kit = {(const uint8_t *)kit, ONR_KIT_ID_LEN},
        .devs = {(const uint8_t *)devs, k.n_devs * ONR_DEVID_LEN},
        .assigned = {n_assigned > 0 ? (const uint8_t *)assigned : NULL,
                     n_assigned * ONR_DEVID_LEN},
    };
    onr_log(ONR_LOG_NOTICE, "kit registered provider=%s kit=%s devices=%zu assigned=%zu",
            a.provider, kit, k.n_devs, n_assigned);
    return onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
}

int mfr_on_kit_registration(struct onr_service *svc, const struct onr_envelope *env,
                            const char *topic, void *arg)
{
    struct mfr *m = arg;
    struct kit_ctx ctx = {m, mfr_provider(m, env->sender.ptr, env->sender.len)};
    char reply[ONR_TOPIC_MAX + 1];
    int rc;

    if (ctx.prov == NULL)
        return mfr_refuse_stranger(svc, m, env, env->msg.body.kit_registration.kit);
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 ctx.prov->key);
    if (rc == ONR_OK)
        rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx.prov->id, reply, sizeof(reply));
    if (rc != ONR_OK)
        return rc;
    rc = onr_service_accept(svc, env);
    if (rc == ONR_ESTALE)
        return onr_service_refuse(svc, env, rc, reply);
    if (rc != ONR_OK && rc != ONR_EREPLAY)
        return rc;
    if (rc == ONR_OK &&
        mfr_take_claim_token(m, mfr_bucket(m, ctx.prov), onr_service_now(svc)) != ONR_OK) {
        onr_service_log_refusal(svc, "kit registration refused provider=%s reason=\"claim "
                                     "rate\"", ctx.prov->id);
        return onr_service_refuse(svc, env, ONR_EBUSY, reply);
    }
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
