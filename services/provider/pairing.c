/*
 * Step 1 and 2 on the provider's side. A pairing (a label the user
 * scanned, an account, maybe an operator) comes from a control tool
 * (onrampctl pair, on onr/1/s/prov/{us}/in) or from the provider's own
 * page (page.c); either way pair() records the claim and registers the
 * device with its manufacturer, sealing the claim secret to it: a
 * confirmed message, resent until the manufacturer answers. Its answer
 * (registered or error) comes to the skeleton's confirmed delivery, whose
 * hooks here pass it on to the control tool that asked, on
 * onr/1/s/ctl/{tool}/in. A pairing made on the page has no control tool
 * to tell (its asker is PROV_ASKER_WEB): nothing is published for it; the
 * page reads the claim's state, and a refusal's reason noted in
 * web_refusals.
 *
 * A control tool's pairing goes through onr_service_handle_once: a
 * duplicate gets the same answer, and nothing is said before the claim is
 * durable. The page's runs through onr_service_transact, its registration
 * sent after the commit.
 */
#include "prov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "lifecycle.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"
#include "roaming.h"

int prov_tell_error(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], const char *asker,
                    int code, const char *reason, struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_ERROR};

    msg.body.error.re = (struct onr_bytes){re, ONR_MSG_ID_LEN};
    msg.body.error.code = (uint64_t)(code < 0 ? -code : code);
    msg.body.error.reason = (struct onr_bytes){(const uint8_t *)reason, strlen(reason)};
    return prov_seal_to_asker(svc, &msg, asker, pub);
}

static int tell_paired(struct onr_service *svc, const struct prov_claim *c,
                       struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_PAIRED};

    msg.body.paired = (struct onr_msg_paired){
        .re = ONR_BYTES(c->pairing_id),
        .dev = {(const uint8_t *)c->dev, strlen(c->dev)},
        .mfr = {(const uint8_t *)c->mfr, strlen(c->mfr)},
        .op = {(const uint8_t *)c->op, strlen(c->op)},
    };
    return prov_seal_to_asker(svc, &msg, c->asker, pub);
}

int prov_register(struct onr_service *svc, const struct prov *p, const struct prov_claim *c,
                  const uint8_t sealed[ONR_LABEL_SEALED_LEN], struct onr_answer *answer)
{
    const struct onr_peer *mfr = onr_peer_find(&p->manufacturers, (const uint8_t *)c->mfr,
                                               strlen(c->mfr));
    const struct onr_peer *op = onr_peer_find(&p->operators, (const uint8_t *)c->op,
                                              strlen(c->op));
    uint8_t keys_bin[ONR_OP_KEYS_BIN_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_REGISTRATION};
    int rc;

    if (mfr == NULL || op == NULL)
        return ONR_ENOENT;
    msg.body.registration = (struct onr_msg_registration){
        .dev = {(const uint8_t *)c->dev, strlen(c->dev)},
        .claim = {sealed, ONR_LABEL_SEALED_LEN},
        .op = {(const uint8_t *)op->id, strlen(op->id)},
        .op_key = ONR_BYTES(op->key),
        .user = c->user ? 1 : 0,
    };
    rc = prov_policy_fields(&p->operators, c->policy, op->id, keys_bin,
                            &msg.body.registration.policy, &msg.body.registration.op_keys);
    if (rc != ONR_OK)
        return rc;
    rc = onr_topic_in(ONR_ROLE_MANUFACTURER, mfr->id, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    prov_key("claim", c->dev, key, sizeof(key));
    if (answer == NULL) /* due now: the resend tick sends it */
        return onr_delivery_store(onr_service_db(svc), PROV_KIND_REGISTRATION, mfr->id, key,
                                  &msg, topic, NULL, onr_service_now(svc),
                                  onr_service_now(svc));
    return onr_service_send_confirmed(svc, answer, PROV_KIND_REGISTRATION, mfr->id, key, &msg,
                                      topic);
}

int prov_pairing_check(const struct prov *p, const struct prov_pairing *req, const char *mfr,
                       const char **why)
{
    if (req->account.len == 0 || req->account.len > PROV_ACCOUNT_MAX ||
        onr_text_check(ONR_TEXT_UTF8, req->account) != ONR_OK) {
        *why = "the account must be 1 to 64 bytes of text";
        return ONR_EINVAL;
    }
    if (onr_peer_find(&p->manufacturers, (const uint8_t *)mfr, strlen(mfr)) == NULL) {
        *why = "we do not work with this device's manufacturer"; /* a kit's: its devices' */
        return ONR_ENOENT;
    }
    return ONR_OK;
}

const char *prov_choose_operator(const struct prov *p, struct onr_bytes asked, int *user)
{
    const struct onr_peer *op = NULL;

    if (asked.ptr != NULL)
        op = onr_peer_find(&p->operators, asked.ptr, asked.len);
    *user = op != NULL;
    return op != NULL ? op->id : p->default_operator;
}

/*
 * pair: the core of every pairing, inside the caller's transaction. The
 * label is decoded and checked, its manufacturer must be one we work with,
 * the device no other account's; then the claim is recorded (new, or a
 * retry of one still registering) and its registration added to `answer`,
 * to be sent after the commit. ONR_OK with *c filled and *paired 0; or
 * *paired 1 when this account paired the device before (claimed: nothing
 * to send, *c is that claim answering `req`). A refusal returns its code
 * (ONR_EFORMAT, ONR_ECHARSET, ONR_ELENGTH, ONR_EBADMAC, ONR_EINVAL,
 * ONR_ENOENT, ONR_EEXIST) with *why a sentence for the user, and changes
 * nothing; any other error (database, crypto) leaves *why NULL.
 */
static int pair(struct onr_service *svc, const struct prov *p, const struct prov_pairing *req,
                struct prov_claim *c, struct onr_answer *answer, int *paired, const char **why)
{
    struct onr_db *db = onr_service_db(svc);
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    struct onr_label label;
    struct prov_claim old;
    int rc;

    *why = NULL;
    *paired = 0;
    memset(c, 0, sizeof(*c));
    rc = onr_label_decode((const char *)req->label.ptr, req->label.len, &label);
    if (rc != ONR_OK) {
        *why = rc == ONR_EBADMAC ? "label check characters do not match (a typo?)"
                                 : "not an Onramp device label";
        return rc;
    }
    rc = prov_pairing_check(p, req, label.mfr, why);
    if (rc != ONR_OK)
        goto out;
    snprintf(c->dev, sizeof(c->dev), "%s", label.dev);
    snprintf(c->mfr, sizeof(c->mfr), "%s", label.mfr);
    snprintf(c->account, sizeof(c->account), "%.*s", (int)req->account.len,
             (const char *)req->account.ptr);
    snprintf(c->op, sizeof(c->op), "%s", prov_choose_operator(p, req->op, &c->user));
    snprintf(c->policy, sizeof(c->policy), "%s", prov_policy_text(&p->roaming, c->account));
    snprintf(c->asker, sizeof(c->asker), "%s", req->asker);
    memcpy(c->pairing_id, req->id, ONR_MSG_ID_LEN);

    rc = prov_claim_get(db, c->dev, &old);
    if (rc == ONR_OK && strcmp(old.account, c->account) != 0) {
        *why = "claimed by another account";
        rc = ONR_EEXIST;
        goto out;
    }
    if (rc == ONR_OK && old.state >= PROV_STEP_CLAIMED) {
        /* paired before: the same answer, to whoever asks now */
        *c = old;
        memcpy(c->pairing_id, req->id, ONR_MSG_ID_LEN);
        snprintf(c->asker, sizeof(c->asker), "%s", req->asker);
        *paired = 1;
        goto out;
    }
    if (rc != ONR_OK && rc != ONR_ENOENT)
        goto out;
    if (rc == ONR_OK) { /* a retry keeps the first choice */
        snprintf(c->op, sizeof(c->op), "%s", old.op);
        c->user = old.user;
    }
    /* New, or still registering (a retry): register (again). The asker
     * hears the outcome with the manufacturer's answer. */
    rc = onr_label_claim_seal(onr_peer_find(&p->manufacturers, (const uint8_t *)c->mfr,
                                            strlen(c->mfr))->sealing_key,
                              c->dev, onr_service_id(svc), label.claim, sealed);
    if (rc == ONR_OK)
        rc = prov_register(svc, p, c, sealed, answer);
    if (rc == ONR_OK)
        rc = prov_claim_put(db, c, sealed, onr_service_now(svc));
    if (rc != ONR_OK)
        goto out;
    onr_log(ONR_LOG_NOTICE, "pairing dev=%s manufacturer=%s operator=%s user=%s policy=%s "
            "asker=%s", c->dev, c->mfr, c->op, c->user ? "yes" : "no",
            c->policy[0] != '\0' ? c->policy : "none", c->asker);
out:
    onr_wipe(&label, sizeof(label));
    onr_wipe(sealed, sizeof(sealed));
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
    const struct prov_pairing req = {m->label, m->account, m->op, ctx->asker->id, env->id};
    struct prov_claim c;
    const char *why = NULL;
    int paired = 0;
    int rc;

    (void)topic;
    if (onr_label_is_kit((const char *)m->label.ptr, m->label.len))
        return prov_kit_decide_pairing(svc, ctx->p, &req, answer);
    rc = pair(svc, ctx->p, &req, &c, answer, &paired, &why);
    if (rc != ONR_OK && why != NULL)
        return prov_tell_error(svc, env->id, ctx->asker->id, rc, why, &answer->reply);
    if (rc == ONR_OK && paired)
        return tell_paired(svc, &c, &answer->reply); /* paired before */
    return rc; /* the answer comes with the manufacturer's */
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

struct web_pairing {
    const struct prov *p;
    struct prov_pairing req;
    struct prov_claim c;
    const char *why;
};

static int pair_web(struct onr_service *svc, void *arg, struct onr_answer *answer)
{
    struct web_pairing *w = arg;
    int paired = 0;

    return pair(svc, w->p, &w->req, &w->c, answer, &paired, &w->why);
}

int prov_pair_web(struct onr_service *svc, const struct prov *p, struct onr_bytes label,
                  struct onr_bytes account, const char *op, char dev[ONR_DEVID_LEN + 1],
                  const char **why)
{
    uint8_t id[ONR_MSG_ID_LEN];
    struct web_pairing w;
    int rc = onr_random(id, sizeof(id));

    memset(&w, 0, sizeof(w));
    w.p = p;
    w.req = (struct prov_pairing){label, account, {(const uint8_t *)op, strlen(op)},
                                  PROV_ASKER_WEB, id};

    if (rc == ONR_OK)
        rc = onr_service_transact(svc, pair_web, &w);
    *why = w.why;
    if (rc == ONR_OK)
        memcpy(dev, w.c.dev, ONR_DEVID_LEN + 1);
    return rc;
}

/* The claim a registration row is about ("claim/DEV"), if it is still
 * there, locked (lifecycle.h: its key may be stored at this moment). */
static int claim_of(struct onr_service *svc, const struct onr_pending *p, struct prov_claim *c)
{
    const char *dev = prov_key_subject(p, "claim");

    return dev != NULL ? prov_claim_get_locked(onr_service_db(svc), dev, c) : ONR_ENOENT;
}

/* The manufacturer registered the device: the claim is confirmed, the
 * control tool that asked is told (a pairing made on the page has nobody
 * to tell: the page reads the claim). */
int prov_registered(struct onr_service *svc, const struct onr_pending *p,
                    const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    struct onr_db *db = onr_service_db(svc);
    struct prov_app_key k;
    struct prov_claim c;
    int has_key;
    int rc;

    (void)arg;
    rc = claim_of(svc, p, &c);
    if (rc == ONR_ENOENT)
        return ONR_OK; /* released meanwhile */
    if (rc != ONR_OK)
        return rc;
    if (answer->msg.body.registered.dev.len != strlen(c.dev) ||
        memcmp(answer->msg.body.registered.dev.ptr, c.dev, strlen(c.dev)) != 0)
        return ONR_EDENIED; /* an answer about another device */
    if (c.state != PROV_STEP_REGISTERING)
        return ONR_OK;
    rc = prov_app_key_get(db, c.dev, &k);
    has_key = rc == ONR_OK;
    if (rc == ONR_OK || rc == ONR_ENOENT)
        rc = prov_device_step(db, &c, PROV_REGISTERED, has_key, onr_service_now(svc));
    if (rc == ONR_OK && strcmp(c.asker, PROV_ASKER_WEB) != 0)
        rc = tell_paired(svc, &c, &out->reply);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "paired dev=%s manufacturer=%s operator=%s account=%s", c.dev,
                c.mfr, c.op, c.account);
    return rc;
}

/* Refused (wrong claim secret, owned by another provider, the claim rate):
 * the claim is dropped, so nothing of it stays, and whoever asked is told.
 * A claim attempt is never retried by itself: that would walk around the
 * manufacturer's claim rate. */
int prov_registration_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                              struct onr_answer *out, void *arg)
{
    struct onr_db *db = onr_service_db(svc);
    struct prov_claim c;
    char reason[128];
    int rc;

    (void)arg;
    rc = claim_of(svc, p, &c);
    if (rc == ONR_ENOENT)
        return ONR_DELIVERY_DROP;
    if (rc == ONR_OK && c.state != PROV_STEP_REGISTERING) {
        /* a claimed device stays claimed; its registration with a new
         * policy is sent again past a claim rate or a clock off */
        if (code == ONR_EBUSY || code == ONR_ESTALE)
            return ONR_DELIVERY_KEEP;
        onr_log(ONR_LOG_WARNING, "registration refused dev=%s manufacturer=%s code=%s",
                c.dev, c.mfr, onr_error_name(code));
        return ONR_DELIVERY_DROP;
    }
    if (rc == ONR_OK)
        rc = prov_claim_drop(db, c.dev);
    if (rc != ONR_OK)
        return rc;
    snprintf(reason, sizeof(reason), "the manufacturer refused the claim: %s",
             onr_strerror(code));
    onr_log(ONR_LOG_NOTICE, "pairing refused dev=%s manufacturer=%s code=%d asker=%s", c.dev,
            c.mfr, -code, c.asker);
    if (strcmp(c.asker, PROV_ASKER_WEB) == 0) /* the page shows it */
        rc = prov_web_refusal_put(db, c.dev, reason, onr_service_now(svc));
    else
        rc = prov_tell_error(svc, c.pairing_id, c.asker, code, reason, &out->reply);
    return rc == ONR_OK ? ONR_DELIVERY_DROP : rc;
}
