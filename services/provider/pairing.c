/*
 * Step 1 and 2 on the provider's side. A pairing (a label the user
 * scanned, an account, maybe an operator) comes from a control tool
 * (onrampctl pair, on onr/1/s/prov/{us}/in) or from the provider's own
 * page (page.c); either way pair() records the claim and registers the
 * device with its manufacturer, sealing the claim secret to it. The
 * manufacturer's answer (registered or error) arrives on the same topic
 * and is passed on to the control tool that asked, on
 * onr/1/s/ctl/{tool}/in. A pairing made on the page has no control tool
 * to tell (its asker is PROV_ASKER_WEB): nothing is published for it; the
 * page reads the claim's state, and a refusal's reason noted in
 * web_refusals.
 *
 * A control tool's pairing goes through onr_service_handle_once: a
 * duplicate gets the same answer, and nothing is said before the claim is
 * durable. The page's runs in a transaction of its own, its registration
 * sent after the commit.
 */
#include "prov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"

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

/* A pairing, from a control tool or the page (everything borrowed). */
struct pairing {
    struct onr_bytes label;   /* the label's text, untrusted */
    struct onr_bytes account;
    struct onr_bytes op;      /* the operator asked for; ptr NULL: none */
    const char *asker;        /* a control tool's id or PROV_ASKER_WEB */
    const uint8_t *id;        /* the pairing's id, ONR_MSG_ID_LEN bytes */
};

/*
 * pair: the core of every pairing, inside the caller's transaction. The
 * label is decoded and checked, its manufacturer must be one we work with,
 * the device no other account's; then the claim is recorded (new, or a
 * retry of one still registering) and its registration sealed into `reg`,
 * to be sent after the commit. ONR_OK with *c filled and reg->len > 0; or
 * reg->len 0 when this account paired the device before (claimed: nothing
 * to send, *c is that claim answering `req`). A refusal returns its code
 * (ONR_EFORMAT, ONR_ECHARSET, ONR_ELENGTH, ONR_EBADMAC, ONR_EINVAL,
 * ONR_ENOENT, ONR_EEXIST) with *why a sentence for the user, and changes
 * nothing; any other error (database, crypto) leaves *why NULL.
 */
static int pair(struct onr_service *svc, const struct prov *p, const struct pairing *req,
                struct prov_claim *c, struct onr_publication *reg, const char **why)
{
    struct onr_db *db = onr_service_db(svc);
    struct onr_label label;
    struct prov_claim old;
    int rc;

    *why = NULL;
    reg->len = 0;
    memset(c, 0, sizeof(*c));
    rc = onr_label_decode((const char *)req->label.ptr, req->label.len, &label);
    if (rc != ONR_OK) {
        *why = rc == ONR_EBADMAC ? "label check characters do not match (a typo?)"
                                 : "not an Onramp device label";
        return rc;
    }
    if (req->account.len == 0 || req->account.len > PROV_ACCOUNT_MAX ||
        onr_text_check(ONR_TEXT_UTF8, req->account) != ONR_OK) {
        *why = "the account must be 1 to 64 bytes of text";
        rc = ONR_EINVAL;
        goto out;
    }
    if (onr_peer_find(&p->manufacturers, (const uint8_t *)label.mfr, strlen(label.mfr)) ==
        NULL) {
        *why = "we do not work with this device's manufacturer";
        rc = ONR_ENOENT;
        goto out;
    }
    snprintf(c->dev, sizeof(c->dev), "%s", label.dev);
    snprintf(c->mfr, sizeof(c->mfr), "%s", label.mfr);
    snprintf(c->account, sizeof(c->account), "%.*s", (int)req->account.len,
             (const char *)req->account.ptr);
    snprintf(c->op, sizeof(c->op), "%s", choose_operator(p, req->op));
    snprintf(c->asker, sizeof(c->asker), "%s", req->asker);
    memcpy(c->pairing_id, req->id, ONR_MSG_ID_LEN);

    rc = prov_claim_get(db, c->dev, &old);
    if (rc == ONR_OK && strcmp(old.account, c->account) != 0) {
        *why = "claimed by another account";
        rc = ONR_EEXIST;
        goto out;
    }
    if (rc == ONR_OK && old.state == PROV_CLAIM_CLAIMED) {
        /* paired before: the same answer, to whoever asks now */
        *c = old;
        memcpy(c->pairing_id, req->id, ONR_MSG_ID_LEN);
        snprintf(c->asker, sizeof(c->asker), "%s", req->asker);
        goto out;
    }
    if (rc != ONR_OK && rc != ONR_ENOENT)
        goto out;
    if (rc == ONR_OK)
        snprintf(c->op, sizeof(c->op), "%s", old.op); /* a retry keeps the first choice */
    /* New, or still registering (a retry): register (again). The asker
     * hears the outcome with the manufacturer's answer. */
    rc = registration(svc, p, c, label.claim, reg);
    if (rc == ONR_OK)
        rc = prov_claim_put(db, c, onr_service_now(svc));
    if (rc != ONR_OK) {
        reg->len = 0;
        goto out;
    }
    onr_log(ONR_LOG_NOTICE, "pairing dev=%s manufacturer=%s operator=%s asker=%s", c->dev,
            c->mfr, c->op, c->asker);
out:
    onr_wipe(&label, sizeof(label));
    return rc;
}

struct pairing_ctx {
    const struct prov *p;
    const struct onr_peer *asker;
};

static int decide_pairing(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    const struct pairing_ctx *ctx = arg;
    const struct onr_msg_pairing *m = &env->msg.body.pairing;
    const struct pairing req = {m->label, m->account, m->op, ctx->asker->id, env->id};
    struct prov_claim c;
    const char *why = NULL;
    int rc;

    (void)topic;
    rc = pair(svc, ctx->p, &req, &c, &answer->extra[0], &why);
    if (rc != ONR_OK)
        return why != NULL ? tell_error(svc, env->id, ctx->asker->id, rc, why, &answer->reply)
                           : rc;
    if (answer->extra[0].len == 0)
        return tell_paired(svc, &c, &answer->reply); /* paired before */
    answer->n_extra = 1; /* the registration; the answer comes with the manufacturer's */
    return ONR_OK;
}

int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    struct pairing_ctx ctx = {arg, NULL};
    int rc;

    ctx.asker = onr_peer_find(onr_service_controllers(svc), env->sender.ptr, env->sender.len);
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

int prov_pair_web(struct onr_service *svc, const struct prov *p, struct onr_bytes label,
                  struct onr_bytes account, const char *op, char dev[ONR_DEVID_LEN + 1],
                  const char **why)
{
    struct onr_db *db = onr_service_db(svc);
    struct onr_publication *reg = NULL;
    uint8_t id[ONR_MSG_ID_LEN];
    const struct pairing req = {label, account, {(const uint8_t *)op, strlen(op)},
                                PROV_ASKER_WEB, id};
    struct prov_claim c;
    int rc;

    *why = NULL;
    reg = calloc(1, sizeof(*reg)); /* an envelope's worth: not on the stack */
    if (reg == NULL)
        return ONR_ENOMEM;
    rc = onr_random(id, sizeof(id));
    if (rc == ONR_OK)
        rc = onr_db_begin(db);
    if (rc != ONR_OK)
        goto out;
    rc = pair(svc, p, &req, &c, reg, why);
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK) {
        onr_db_rollback(db);
        goto out;
    }
    memcpy(dev, c.dev, ONR_DEVID_LEN + 1);
    /* durable: now the registration may go (len 0: paired before) */
    onr_service_publish(svc, reg);
out:
    free(reg);
    return rc;
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
    /* a pairing made on the page: nobody to tell (the page reads the claim) */
    if (rc == ONR_OK && strcmp(c.asker, PROV_ASKER_WEB) != 0)
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
    onr_log(ONR_LOG_NOTICE, "pairing refused dev=%s manufacturer=%s code=%llu asker=%s", c.dev,
            c.mfr, (unsigned long long)e->code, c.asker);
    if (strcmp(c.asker, PROV_ASKER_WEB) == 0) /* the page shows it */
        return prov_web_refusal_put(db, c.dev, reason, onr_service_now(svc));
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
