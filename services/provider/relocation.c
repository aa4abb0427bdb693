/*
 * Roaming at the provider (proto/SPEC.md sections 15 and 16): an
 * operational device that reports, in its telemetry, a country where its
 * policy names another operator than the one whose application key we
 * hold is relocated:
 *
 *   telemetry (plmn, nonce) -> relocation_request to its manufacturer
 *   (confirmed delivery) -> the manufacturer's voucher -> relocate on the
 *   device's operational down topic, event "relocating" -> the device
 *   attaches with the new operator, whose application key completes the
 *   relocation (app_key.c: the old operator released, event "relocated").
 *
 * And a manufacturer's no_operator notice (type 35): a device of ours said
 * hello where its policy names nobody; noted for status and the log.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "onramp/error.h"
#include "prov.h"
#include "roaming.h"

/* ---- the decision, from a telemetry ------------------------------------------------ */

int prov_relocation_consider(struct onr_service *svc, const struct prov *p,
                             const struct prov_claim *c, const struct onr_telemetry *t,
                             struct onr_answer *answer)
{
    struct onr_db *db = onr_service_db(svc);
    const struct onr_peer *mfr;
    struct prov_app_key k;
    char op[ONR_SERVICE_ID_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    enum onr_choice why = ONR_CHOICE_POLICY;
    struct onr_msg msg = {.type = ONR_MSG_RELOCATION_REQUEST};
    int rc;

    if (c->state < PROV_STEP_ENROLLED)
        return ONR_OK; /* not in operation: its onboarding chose its operator */
    rc = prov_app_key_get(db, c->dev, &k);
    if (rc == ONR_OK)
        rc = prov_resolve(c, t->plmn, op, &why);
    if (rc == ONR_ENOENT || rc == ONR_ENOOPERATOR)
        return ONR_OK; /* no policy, no key, or nobody there: it stays */
    if (rc != ONR_OK || strcmp(op, k.op) == 0)
        return rc; /* where its operator is the one for there: nothing to do */
    mfr = onr_peer_find(&p->manufacturers, (const uint8_t *)c->mfr, strlen(c->mfr));
    if (mfr == NULL)
        return ONR_OK; /* a manufacturer we no longer work with */
    msg.body.relocation_request = (struct onr_msg_relocation_request){
        .dev = {(const uint8_t *)c->dev, strlen(c->dev)},
        .plmn = {(const uint8_t *)t->plmn, strlen(t->plmn)},
        .nonce = ONR_BYTES(t->nonce),
    };
    rc = onr_topic_in(ONR_ROLE_MANUFACTURER, mfr->id, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    prov_key("relocate", c->dev, key, sizeof(key));
    onr_log(ONR_LOG_NOTICE, "relocation asked dev=%s from=%s to=%s why=%s visited=%s", c->dev,
            k.op, op, onr_choice_name(why), t->plmn);
    return onr_service_send_confirmed(svc, answer, PROV_KIND_RELOCATION, mfr->id, key, &msg,
                                      topic);
}

/* ---- the manufacturer's voucher: the relocate ----------------------------------- */

static int same(struct onr_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

/* Why the voucher answering `req` for claim `c` is not handed on (NULL:
 * it is): it names the device, our request's nonce and PLMN, us, and an
 * operator other than the device's (`k`). */
static const char *check_token(struct onr_service *svc, const struct onr_envelope *t,
                               const struct onr_msg_relocation_request *req,
                               const struct prov_claim *c, const struct prov_app_key *k)
{
    const struct onr_msg_voucher_token *v = &t->msg.body.voucher_token;

    if (t->msg.type != ONR_MSG_VOUCHER_TOKEN || t->sender_role != ONR_ROLE_MANUFACTURER ||
        !same(t->sender, c->mfr))
        return "not a voucher of the device's manufacturer";
    if (!same(v->dev, c->dev) || !same(v->prov, onr_service_id(svc)))
        return "a voucher for another device or provider";
    if (v->nonce.len != req->nonce.len || memcmp(v->nonce.ptr, req->nonce.ptr, v->nonce.len) != 0 ||
        v->plmn.len != req->plmn.len || memcmp(v->plmn.ptr, req->plmn.ptr, v->plmn.len) != 0)
        return "a voucher for another report";
    if (same(v->op, k->op))
        return "the device's operator already";
    return NULL;
}

int prov_relocation_voucher(struct onr_service *svc, const struct onr_pending *p,
                            const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    struct onr_db *db = onr_service_db(svc);
    const char *dev = prov_key_subject(p, "relocate");
    const struct onr_bytes token = answer->msg.body.voucher.voucher;
    static struct onr_msg req; /* large; services are single-threaded */
    struct onr_msg msg = {.type = ONR_MSG_RELOCATE};
    struct onr_envelope t;
    struct prov_claim c;
    struct prov_app_key k;
    char op[ONR_SERVICE_ID_MAX + 1];
    char down[ONR_TOPIC_MAX + 1];
    const char *why;
    int rc;

    (void)arg;
    if (dev == NULL)
        return ONR_OK;
    rc = prov_claim_get(db, dev, &c);
    if (rc == ONR_OK)
        rc = prov_app_key_get(db, dev, &k);
    if (rc == ONR_ENOENT)
        return ONR_OK; /* released meanwhile */
    if (rc != ONR_OK)
        return rc;
    /* our own request, as sent; the token as the manufacturer signed it
     * (the device verifies its signature: we hold no voucher key) */
    memset(&req, 0, sizeof(req));
    rc = onr_msg_body_decode(ONR_MSG_RELOCATION_REQUEST, p->body, p->body_len, &req);
    if (rc == ONR_OK)
        rc = onr_envelope_decode(token.ptr, token.len, &t);
    why = rc != ONR_OK ? "the voucher does not decode"
                       : check_token(svc, &t, &req.body.relocation_request, &c, &k);
    if (why != NULL) {
        onr_log(ONR_LOG_NOTICE, "relocation dropped dev=%s reason=\"%s\"", dev, why);
        return ONR_OK;
    }
    snprintf(op, sizeof(op), "%.*s", (int)t.msg.body.voucher_token.op.len,
             (const char *)t.msg.body.voucher_token.op.ptr);
    msg.body.relocate = (struct onr_msg_relocate){.voucher = token};
    rc = onr_topic_operational_down(onr_service_id(svc), dev, down, sizeof(down));
    if (rc == ONR_OK)
        rc = onr_service_seal(svc, &msg, down, &out->reply, NULL);
    if (rc == ONR_OK)
        rc = prov_relocating(db, dev, op, onr_service_now(svc));
    if (rc == ONR_OK)
        rc = onr_service_event(svc, dev, ONR_JOURNEY_RELOCATING, onr_answer_extra(out));
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "relocating dev=%s from=%s to=%s", dev, k.op, op);
    return rc;
}

/* Refused: no operator there now (a policy changed meanwhile), or the
 * device is not ours there: given up (the next telemetry decides again);
 * anything else (a stale clock, busy) is sent again. */
int prov_relocation_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                            struct onr_answer *out, void *arg)
{
    (void)svc;
    (void)out;
    (void)arg;
    if (code != ONR_ENOOPERATOR && code != ONR_EDENIED)
        return ONR_DELIVERY_KEEP;
    onr_log(ONR_LOG_NOTICE, "relocation refused key=%s by=%s code=%s", p->key, p->peer,
            onr_error_name(code));
    return ONR_DELIVERY_DROP;
}

/* ---- a manufacturer's no_operator notice ----------------------------------------- */

static int decide_no_operator(struct onr_service *svc, const struct onr_envelope *env,
                              const char *topic, void *arg, struct onr_answer *answer)
{
    const struct onr_msg_no_operator *m = &env->msg.body.no_operator;
    char dev[ONR_DEVID_LEN + 1];
    char plmn[ONR_PLMN_MAX + 1];

    (void)topic;
    (void)arg;
    (void)answer; /* nothing answers it (SPEC type 35) */
    snprintf(dev, sizeof(dev), "%.*s", (int)m->dev.len, (const char *)m->dev.ptr);
    snprintf(plmn, sizeof(plmn), "%.*s", (int)m->plmn.len,
             m->plmn.ptr != NULL ? (const char *)m->plmn.ptr : "");
    onr_log(ONR_LOG_NOTICE, "no operator dev=%s visited=%s: the policy names none there and "
            "no fallback (add one and reload)", dev, plmn[0] != '\0' ? plmn : "none");
    return prov_no_operator(onr_service_db(svc), dev, plmn, onr_service_now(svc));
}

int prov_on_no_operator(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg)
{
    const struct prov *p = arg;
    const struct onr_peer *mfr;
    struct prov_claim c;
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &p->manufacturers, ONR_ROLE_MANUFACTURER, &mfr);
    if (rc != ONR_OK)
        return rc;
    snprintf(dev, sizeof(dev), "%.*s", (int)env->msg.body.no_operator.dev.len,
             (const char *)env->msg.body.no_operator.dev.ptr);
    rc = prov_claim_get(onr_service_db(svc), dev, &c);
    if (rc == ONR_OK && strcmp(c.mfr, mfr->id) != 0)
        rc = ONR_ENOENT;
    if (rc != ONR_OK)
        return rc == ONR_ENOENT ? ONR_EDENIED : rc; /* not a device of ours from it */
    return onr_service_handle_once(svc, env, topic, decide_no_operator, NULL);
}
