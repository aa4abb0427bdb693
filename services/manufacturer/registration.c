/*
 * Step 2: a provider registers a device it claimed, on onr/1/s/mfr/{us}/in.
 * The provider must be one we work with (its key from our configuration,
 * never from the message), the claim secret must hash to what the factory
 * recorded, and no other provider may own the device. Every attempt within
 * the claim rate is audited (those over it are only counted). "Unknown
 * device", "wrong claim" and "owned by another" get the same answer, so the
 * answer is no oracle; claim attempts are rate-limited per provider (RFC
 * 8995 section 11.1).
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"

struct reg_ctx {
    struct mfr *m;
    const struct onr_peer *prov;
};

static int reply_topic(const struct onr_peer *prov, char *out, size_t cap)
{
    return onr_topic_in(ONR_ROLE_PROVIDER, prov->id, out, cap);
}

/* Open the claim sealed to us (SPEC section 7) and hash it. */
static int claim_hash(const struct mfr *m, const struct onr_msg_registration *r,
                      const char *prov, uint8_t hash[32])
{
    char claim[ONR_LABEL_CLAIM_LEN + 1];
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    snprintf(dev, sizeof(dev), "%.*s", (int)r->dev.len, (const char *)r->dev.ptr);
    rc = onr_label_claim_open(m->sealing_key, dev, prov, r->claim.ptr, r->claim.len, claim);
    if (rc == ONR_OK)
        rc = onr_label_claim_hash(claim, hash);
    onr_wipe(claim, sizeof(claim));
    return rc;
}

int mfr_operator_keys_ok(const struct mfr_operator_fields *f)
{
    struct onr_op_keys keys;

    if (onr_p256_check_public(f->op_key.ptr) != ONR_OK)
        return 0;
    if (f->op_keys.ptr == NULL)
        return 1;
    /* the decoder checked their form (SPEC type 13) */
    if (onr_op_keys_decode(f->op_keys.ptr, f->op_keys.len, &keys) != ONR_OK)
        return 0;
    for (size_t i = 0; i < keys.n; i++)
        if (onr_p256_check_public(keys.keys[i].key) != ONR_OK)
            return 0;
    return 1;
}

void mfr_assignment_of(const struct mfr_operator_fields *f, const char *prov,
                       struct onr_registry_assignment *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->provider, sizeof(a->provider), "%s", prov);
    snprintf(a->op, sizeof(a->op), "%.*s", (int)f->op.len, (const char *)f->op.ptr);
    memcpy(a->op_key, f->op_key.ptr, ONR_P256_PUB_LEN);
    /* the policy and its operators' keys: the decoder checked that they
     * parse and match (SPEC type 13); kept as they came */
    a->user = f->user == 1;
    if (f->policy.ptr != NULL && f->policy.len < sizeof(a->policy) &&
        f->op_keys.len <= sizeof(a->op_keys)) {
        memcpy(a->policy, f->policy.ptr, f->policy.len);
        a->policy_len = f->policy.len;
        memcpy(a->op_keys, f->op_keys.ptr, f->op_keys.len);
        a->op_keys_len = f->op_keys.len;
    }
}

/* The fields of registration `r`. */
static struct mfr_operator_fields fields_of(const struct onr_msg_registration *r)
{
    return (struct mfr_operator_fields){r->op, r->op_key, r->user, r->policy, r->op_keys};
}

/* The registration repeats the assignment in force (its provider resent it,
 * its first answer lost or late): nothing new to audit. A new policy, or
 * its operators' keys, is news. */
static int repeats(const struct onr_registry_assignment *owner,
                   const struct onr_msg_registration *r)
{
    return strlen(owner->op) == r->op.len && memcmp(owner->op, r->op.ptr, r->op.len) == 0 &&
           memcmp(owner->op_key, r->op_key.ptr, ONR_P256_PUB_LEN) == 0 &&
           owner->user == (r->user == 1) && owner->policy_len == r->policy.len &&
           (r->policy.len == 0 || memcmp(owner->policy, r->policy.ptr, r->policy.len) == 0) &&
           owner->op_keys_len == r->op_keys.len &&
           (r->op_keys.len == 0 || memcmp(owner->op_keys, r->op_keys.ptr, r->op_keys.len) == 0);
}

/* Why a claim fails, for the audit; the provider only hears "not allowed".
 * *repeat is set for a registration of the assignment already in force. */
static const char *check_claim(struct onr_service *svc, const struct mfr *m,
                               const struct onr_msg_registration *r, const char *prov,
                               struct onr_registry_device *d, int *repeat)
{
    struct onr_registry_assignment owner;
    struct mfr_operator_fields f;
    uint8_t hash[32];
    int rc;

    rc = onr_registry_device(onr_service_db(svc), (const char *)r->dev.ptr, r->dev.len, d);
    if (rc == ONR_ENOENT)
        return "unknown device";
    if (rc != ONR_OK)
        return NULL;
    if (claim_hash(m, r, prov, hash) != ONR_OK || !onr_equal_ct(hash, d->claim_hash, 32))
        return "wrong claim secret";
    rc = onr_registry_assignment(onr_service_db(svc), d->dev, &owner);
    if (rc == ONR_OK && strcmp(owner.provider, prov) != 0)
        return "owned by another provider";
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return NULL;
    f = fields_of(r);
    if (!mfr_operator_keys_ok(&f))
        return "bad operator key";
    *repeat = rc == ONR_OK && repeats(&owner, r);
    return "assigned";
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct reg_ctx *ctx = arg;
    const struct onr_msg_registration *r = &env->msg.body.registration;
    struct onr_db *db = onr_service_db(svc);
    struct onr_registry_device d;
    struct onr_registry_assignment a;
    struct mfr_operator_fields f;
    struct mfr_change registered = {NULL, &a, onr_service_now(svc)};
    struct onr_registry_hello kept;
    char reply[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    const char *result;
    struct onr_msg msg = {.type = ONR_MSG_REGISTERED};
    int repeat = 0;
    int waiting;
    int rc;

    (void)topic;
    memcpy(dev, r->dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    rc = reply_topic(ctx->prov, reply, sizeof(reply));
    /* what follows is decided with the device locked (lifecycle.h) */
    if (rc == ONR_OK)
        rc = onr_registry_lock(db, dev);
    if (rc != ONR_OK)
        return rc;
    result = check_claim(svc, ctx->m, r, ctx->prov->id, &d, &repeat);
    if (result == NULL)
        return ONR_EIO;
    rc = repeat ? ONR_OK : onr_registry_audit(db, onr_service_now(svc), ctx->prov->id, dev, result);
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_NOTICE, "registration provider=%s dev=%s result=\"%s\"%s",
            ctx->prov->id, dev, result, repeat ? " (a repeat)" : "");
    if (strcmp(result, "assigned") != 0)
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply);

    f = fields_of(r);
    mfr_assignment_of(&f, ctx->prov->id, &a);
    /* a device waiting since its hello gets its voucher now */
    rc = onr_registry_waiting(db, dev, &kept);
    waiting = rc == ONR_OK;
    if (rc == ONR_OK || rc == ONR_ENOENT)
        rc = mfr_device_step(db, dev, MFR_REGISTERED, &registered);
    if (rc != ONR_OK)
        return rc;
    msg.body.registered = (struct onr_msg_registered){ONR_BYTES(env->id),
                                                      {(const uint8_t *)dev, ONR_DEVID_LEN}};
    rc = onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
    if (rc != ONR_OK || !waiting)
        return rc;
    return mfr_answer_waiting(svc, ctx->m, &d, &a, &kept, answer);
}

int mfr_answer_waiting(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
                       const struct onr_registry_assignment *a,
                       const struct onr_registry_hello *kept, struct onr_answer *answer)
{
    char down[ONR_TOPIC_MAX + 1];
    /* its country: the PLMN it reported, else the region of the broker it
     * came through (kept with it) */
    const struct mfr_ask ask = {kept->nonce, kept->hello_id, kept->plmn, kept->region, down};
    int rc = onr_topic_down(d->dev, down, sizeof(down));

    if (rc == ONR_OK)
        rc = mfr_vouch(svc, m, d, a, &ask, onr_answer_extra(answer));
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "voucher pushed dev=%s provider=%s", d->dev, a->provider);
    if (rc != ONR_ENOOPERATOR)
        return rc;
    /* the waiting hello's country has no operator in this policy */
    rc = mfr_no_operator(svc, d->dev, a, &ask, answer);
    return rc == ONR_OK ? onr_service_error_re(svc, kept->hello_id, ONR_ENOOPERATOR, down,
                                               onr_answer_extra(answer))
                        : rc;
}

int mfr_take_claim_token(const struct mfr *m, struct mfr_bucket *b, uint64_t now)
{
    double burst = (double)m->claim_rate;

    if (b->last == 0)
        b->tokens = burst;
    else if (now > b->last)
        b->tokens += (double)(now - b->last) * burst / 60.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
    if (b->tokens < 1)
        return ONR_EBUSY;
    b->tokens -= 1;
    return ONR_OK;
}

static int answer_now(struct onr_service *svc, const struct onr_envelope *env,
                      const struct onr_peer *prov, int code)
{
    char reply[ONR_TOPIC_MAX + 1];
    int rc = reply_topic(prov, reply, sizeof(reply));

    return rc == ONR_OK ? onr_service_refuse(svc, env, code, reply) : rc;
}

/*
 * A provider we do not work with. Its signature cannot be checked (we hold
 * no key for it), but only services holding a certificate from the
 * services CA can publish here, so the attempt is audited and answered
 * "not allowed" on its inbox: its claim does not stay pending forever.
 * Strangers share one rate bucket, so they cannot grow the audit fast.
 */
int mfr_refuse_stranger(struct onr_service *svc, struct mfr *m, const struct onr_envelope *env,
                        struct onr_bytes subject)
{
    static struct mfr_bucket strangers;
    struct onr_peer as_named;
    char dev[ONR_DEVID_LEN + 1];
    char safe[80];
    int rc;

    onr_text_escape(env->sender.ptr, env->sender.len, safe, sizeof(safe));
    onr_log(ONR_LOG_NOTICE, "registration refused provider=%s reason=\"unknown provider\"",
            safe);
    if (env->sender_role != ONR_ROLE_PROVIDER || env->sender.len > ONR_SERVICE_ID_MAX ||
        mfr_take_claim_token(m, &strangers, onr_service_now(svc)) != ONR_OK ||
        onr_service_accept(svc, env) != ONR_OK)
        return ONR_EDENIED;
    snprintf(dev, sizeof(dev), "%.*s", (int)subject.len, (const char *)subject.ptr);
    /* the sender field is a checked service id: safe to store and print */
    memset(&as_named, 0, sizeof(as_named));
    memcpy(as_named.id, env->sender.ptr, env->sender.len);
    rc = onr_registry_audit(onr_service_db(svc), onr_service_now(svc), as_named.id, dev,
                            "unknown provider");
    if (rc != ONR_OK)
        return rc;
    return answer_now(svc, env, &as_named, ONR_EDENIED);
}

int mfr_on_registration(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg)
{
    struct mfr *m = arg;
    const struct onr_peer *prov;
    struct reg_ctx ctx;
    int rc;

    prov = mfr_provider(m, env->sender.ptr, env->sender.len);
    if (prov == NULL)
        return mfr_refuse_stranger(svc, m, env, env->msg.body.registration.dev);
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 prov->key);
    if (rc != ONR_OK)
        return rc;
    rc = onr_service_accept(svc, env);
    if (rc == ONR_ESTALE)
        return answer_now(svc, env, prov, rc);
    if (rc != ONR_OK && rc != ONR_EREPLAY)
        return rc;
    if (rc == ONR_OK &&
        mfr_take_claim_token(m, mfr_bucket(m, prov), onr_service_now(svc)) != ONR_OK) {
        /* over the rate: counted (busy), not audited, so a guesser cannot
         * grow the audit faster than the rate */
        onr_service_log_refusal(svc, "registration refused provider=%s reason=\"claim rate\"",
                                prov->id);
        return answer_now(svc, env, prov, ONR_EBUSY);
    }
    ctx = (struct reg_ctx){m, prov};
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
