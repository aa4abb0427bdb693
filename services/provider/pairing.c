/*
 * Step 1 and 2 on the provider's side. onrampctl sends a pairing (a label
 * the user scanned, an account, maybe an operator) to onr/1/s/prov/{us}/in;
 * we record the claim and register the device with its manufacturer,
 * sealing the claim secret to it. The manufacturer's answer (registered or
 * error) arrives on the same topic and is passed on to the control tool
 * that asked, on onr/1/s/ctl/{tool}/in.
 *
 * Every answer goes through onr_service_handle_once: a duplicate gets the
 * same answer, and nothing is said before the claim is durable.
 */
#include "prov.h"

#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"

static void asker_topic(const char *asker, char *out, size_t cap)
{
    snprintf(out, cap, "onr/1/s/ctl/%s/in", asker);
}

/* An error for the control tool, answering its pairing `re`. */
static int tell_error(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], const char *asker,
                      int code, const char *reason, struct onr_publication *pub)
{
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_ERROR};

    msg.body.error.re = (struct onr_bytes){re, ONR_MSG_ID_LEN};
    msg.body.error.code = (uint64_t)(code < 0 ? -code : code);
    msg.body.error.reason = (struct onr_bytes){(const uint8_t *)reason, strlen(reason)};
    asker_topic(asker, topic, sizeof(topic));
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

static int tell_paired(struct onr_service *svc, const struct prov_claim *c,
                       struct onr_publication *pub)
{
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_PAIRED};

    msg.body.paired = (struct onr_msg_paired){
        .re = ONR_BYTES(c->pairing_id),
        .dev = {(const uint8_t *)c->dev, strlen(c->dev)},
        .mfr = {(const uint8_t *)c->mfr, strlen(c->mfr)},
        .op = {(const uint8_t *)c->op, strlen(c->op)},
    };
    asker_topic(c->asker, topic, sizeof(topic));
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

/* The registration for claim `c` with the secret `claim`, to its
 * manufacturer; its id goes into c->registration_id. */
static int registration(struct onr_service *svc, const struct prov *p, struct prov_claim *c,
                        const char *claim, struct onr_publication *pub)
{
    const struct onr_peer *mfr = onr_peer_find(&p->manufacturers, (const uint8_t *)c->mfr,
                                            strlen(c->mfr));
    const struct onr_peer *op = onr_peer_find(&p->operators, (const uint8_t *)c->op, strlen(c->op));
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_REGISTRATION};
    int rc;

    if (mfr == NULL || op == NULL)
        return ONR_ENOENT;
    rc = onr_label_claim_seal(mfr->sealing_key, c->dev, onr_service_id(svc), claim, sealed);
    if (rc != ONR_OK)
        return rc;
    msg.body.registration = (struct onr_msg_registration){
        .dev = {(const uint8_t *)c->dev, strlen(c->dev)},
        .claim = ONR_BYTES(sealed),
        .op = {(const uint8_t *)op->id, strlen(op->id)},
        .op_key = ONR_BYTES(op->key),
    };
    snprintf(topic, sizeof(topic), "onr/1/s/mfr/%s/in", mfr->id);
    return onr_service_seal(svc, &msg, topic, pub, c->registration_id);
}

/* The operator for a new claim: the user's if we have a contract with it,
 * else our default. */
static const char *choose_operator(const struct prov *p, struct onr_bytes asked)
{
    if (asked.ptr != NULL && onr_peer_find(&p->operators, asked.ptr, asked.len) != NULL)
        return onr_peer_find(&p->operators, asked.ptr, asked.len)->id;
    return p->default_operator;
}

struct pairing_ctx {
    const struct prov *p;
    const struct onr_peer *asker;
};

static int decide_pairing(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    const struct pairing_ctx *ctx = arg;
    const struct onr_msg_pairing *req = &env->msg.body.pairing;
    struct onr_db *db = onr_service_db(svc);
    struct onr_label label;
    struct prov_claim c;
    struct prov_claim old;
    int rc;

    (void)topic;
    rc = onr_label_decode((const char *)req->label.ptr, req->label.len, &label);
    if (rc != ONR_OK)
        return tell_error(svc, env->id, ctx->asker->id, rc,
                          rc == ONR_EBADMAC ? "label check characters do not match (a typo?)"
                                            : "not an Onramp device label",
                          &answer->reply);
    if (onr_peer_find(&ctx->p->manufacturers, (const uint8_t *)label.mfr, strlen(label.mfr)) ==
        NULL) {
        onr_wipe(&label, sizeof(label));
        return tell_error(svc, env->id, ctx->asker->id, ONR_ENOENT,
                          "we do not work with this device's manufacturer", &answer->reply);
    }
    memset(&c, 0, sizeof(c));
    snprintf(c.dev, sizeof(c.dev), "%s", label.dev);
    snprintf(c.mfr, sizeof(c.mfr), "%s", label.mfr);
    snprintf(c.account, sizeof(c.account), "%.*s", (int)req->account.len,
             (const char *)req->account.ptr);
    snprintf(c.op, sizeof(c.op), "%s", choose_operator(ctx->p, req->op));
    snprintf(c.asker, sizeof(c.asker), "%s", ctx->asker->id);
    memcpy(c.pairing_id, env->id, ONR_MSG_ID_LEN);

    rc = prov_claim_get(db, c.dev, &old);
    if (rc == ONR_OK && strcmp(old.account, c.account) != 0) {
        onr_wipe(&label, sizeof(label));
        return tell_error(svc, env->id, ctx->asker->id, ONR_EEXIST,
                          "claimed by another account", &answer->reply);
    }
    if (rc == ONR_OK && old.state == PROV_CLAIM_CLAIMED) {
        /* paired before: the same answer, to whoever asks now */
        onr_wipe(&label, sizeof(label));
        memcpy(old.pairing_id, env->id, ONR_MSG_ID_LEN);
        snprintf(old.asker, sizeof(old.asker), "%s", ctx->asker->id);
        return tell_paired(svc, &old, &answer->reply);
    }
    if (rc != ONR_OK && rc != ONR_ENOENT) {
        onr_wipe(&label, sizeof(label));
        return rc;
    }
    if (rc == ONR_OK)
        snprintf(c.op, sizeof(c.op), "%s", old.op); /* a retry keeps the first choice */
    /* New, or still registering (a retry): register (again). The answer to
     * the control tool comes with the manufacturer's. */
    rc = registration(svc, ctx->p, &c, label.claim, &answer->extra[0]);
    onr_wipe(&label, sizeof(label));
    if (rc == ONR_OK)
        rc = prov_claim_put(db, &c, onr_service_now(svc));
    if (rc != ONR_OK)
        return rc;
    answer->n_extra = 1;
    onr_log(ONR_LOG_NOTICE, "pairing dev=%s manufacturer=%s operator=%s asker=%s", c.dev, c.mfr,
            c.op, c.asker);
    return ONR_OK;
}

int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    struct pairing_ctx ctx = {arg, NULL};
    int rc;

    ctx.asker = onr_peer_find(&ctx.p->controllers, env->sender.ptr, env->sender.len);
    if (env->sender_role != ONR_ROLE_CONTROL || ctx.asker == NULL)
        return ONR_EDENIED; /* not a control tool we know: nothing recorded, no answer */
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 ctx.asker->key);
    if (rc != ONR_OK)
        return rc;
    rc = onr_service_accept(svc, env);
    if (rc != ONR_OK && rc != ONR_EREPLAY)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide_pairing, &ctx);
}

struct answer_ctx {
    const struct onr_peer *mfr;
};

/* A manufacturer's answer: verified with the key we hold for it. */
static const struct onr_peer *answering_mfr(struct onr_service *svc, const struct prov *p,
                                             const struct onr_envelope *env, const char *topic)
{
    const struct onr_peer *mfr = onr_peer_find(&p->manufacturers, env->sender.ptr, env->sender.len);
    int rc;

    if (env->sender_role != ONR_ROLE_MANUFACTURER || mfr == NULL)
        return NULL;
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 mfr->key);
    if (rc == ONR_OK)
        rc = onr_service_accept(svc, env);
    return rc == ONR_OK || rc == ONR_EREPLAY ? mfr : NULL;
}

static int decide_registered(struct onr_service *svc, const struct onr_envelope *env,
                             const char *topic, void *arg, struct onr_answer *answer)
{
    const struct onr_peer *mfr = ((const struct answer_ctx *)arg)->mfr;
    struct onr_db *db = onr_service_db(svc);
    struct prov_claim c;
    int rc;

    (void)topic;
    rc = prov_claim_by_registration(db, env->msg.body.registered.re.ptr, &c);
    if (rc == ONR_ENOENT)
        return ONR_OK; /* an answer to a registration we replaced: the newer one counts */
    if (rc != ONR_OK)
        return rc;
    if (strcmp(c.mfr, mfr->id) != 0 || env->msg.body.registered.dev.len != strlen(c.dev) ||
        memcmp(env->msg.body.registered.dev.ptr, c.dev, strlen(c.dev)) != 0)
        return ONR_EDENIED;
    if (c.state == PROV_CLAIM_CLAIMED)
        return ONR_OK;
    rc = prov_claim_confirm(db, c.dev, onr_service_now(svc));
    if (rc == ONR_OK)
        rc = tell_paired(svc, &c, &answer->reply);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "paired dev=%s manufacturer=%s operator=%s account=%s", c.dev,
                c.mfr, c.op, c.account);
    return rc;
}

int prov_on_registered(struct onr_service *svc, const struct onr_envelope *env,
                       const char *topic, void *arg)
{
    struct answer_ctx ctx = {answering_mfr(svc, arg, env, topic)};

    if (ctx.mfr == NULL)
        return ONR_EDENIED;
    return onr_service_handle_once(svc, env, topic, decide_registered, &ctx);
}

static int decide_refused(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    const struct onr_peer *mfr = ((const struct answer_ctx *)arg)->mfr;
    const struct onr_msg_error *e = &env->msg.body.error;
    struct onr_db *db = onr_service_db(svc);
    struct prov_claim c;
    char reason[128];
    int rc;

    (void)topic;
    rc = prov_claim_by_registration(db, e->re.ptr, &c);
    if (rc == ONR_ENOENT)
        return ONR_OK;
    if (rc != ONR_OK)
        return rc;
    if (strcmp(c.mfr, mfr->id) != 0 || c.state != PROV_CLAIM_REGISTERING)
        return ONR_OK; /* a claimed device stays claimed */
    /* Refused (wrong claim secret, owned by another provider, rate): the
     * claim is dropped, so nothing of it stays. */
    rc = prov_claim_drop(db, c.dev);
    if (rc != ONR_OK)
        return rc;
    snprintf(reason, sizeof(reason), "the manufacturer refused the claim: %s",
             onr_strerror(-(int)e->code));
    onr_log(ONR_LOG_NOTICE, "pairing refused dev=%s manufacturer=%s code=%llu", c.dev, c.mfr,
            (unsigned long long)e->code);
    return tell_error(svc, c.pairing_id, c.asker, -(int)e->code, reason, &answer->reply);
}

int prov_on_mfr_error(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg)
{
    struct answer_ctx ctx = {answering_mfr(svc, arg, env, topic)};

    if (ctx.mfr == NULL)
        return ONR_EDENIED;
    return onr_service_handle_once(svc, env, topic, decide_refused, &ctx);
}
