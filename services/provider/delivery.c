/*
 * What the provider must get across and keeps sending until confirmed:
 * certificate revocations at the broker (type 27, confirmed by the
 * plugin's control result) and alignments with the operator (type 17,
 * confirmed by `aligned`). Both are recorded in the transaction that
 * decided them; the tick resends what is still unconfirmed.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "claims.h"
#include "onramp/error.h"
#include "prov.h"

#define CONTROL_TOPIC "$CONTROL/onramp/v1"
#define BATCH 16

int prov_revoke_send(struct onr_service *svc, const struct prov_revocation *r,
                     struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_CERT_REVOKE};
    uint8_t id[ONR_MSG_ID_LEN];
    int rc;

    msg.body.cert_revoke = (struct onr_msg_cert_revoke){
        .dev = {(const uint8_t *)r->dev, strlen(r->dev)},
        .serial = {r->serial, r->serial_len},
    };
    rc = onr_service_seal(svc, &msg, CONTROL_TOPIC, pub, id);
    if (rc == ONR_OK)
        rc = prov_revocation_sent(onr_service_db(svc), r->serial, r->serial_len, id,
                                  onr_service_now(svc));
    return rc;
}

/* The plan of the account that claimed `dev`: its own line, else "*". */
static const struct prov_plan *plan_for(const struct prov *p, const char *account)
{
    const struct prov_plan *fallback = NULL;

    for (size_t i = 0; i < p->n_plans; i++) {
        if (strcmp(p->plans[i].account, account) == 0)
            return &p->plans[i];
        if (strcmp(p->plans[i].account, "*") == 0)
            fallback = &p->plans[i];
    }
    return fallback;
}

int prov_align_send(struct onr_service *svc, const struct prov *p, const struct prov_app_key *k,
                    struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_ALIGNMENT};
    const struct prov_plan *plan;
    struct prov_claim claim;
    char topic[ONR_TOPIC_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    int rc;

    rc = prov_claim_get(onr_service_db(svc), k->dev, &claim);
    if (rc != ONR_OK)
        return rc;
    plan = plan_for(p, claim.account);
    if (plan == NULL) {
        onr_log(ONR_LOG_WARNING, "no plan for account=%s (add a plan line): dev=%s not aligned",
                claim.account, k->dev);
        return ONR_ENOENT;
    }
    msg.body.alignment = (struct onr_msg_alignment){
        .dev = {(const uint8_t *)k->dev, strlen(k->dev)},
        .imsi = {(const uint8_t *)k->imsi, strlen(k->imsi)},
        .iccid = {(const uint8_t *)k->iccid, strlen(k->iccid)},
        .qos = plan->qos,
        .charging = {(const uint8_t *)plan->charging, strlen(plan->charging)},
        .cap = plan->cap,
    };
    snprintf(topic, sizeof(topic), "onr/1/s/op/%s/in", k->op);
    rc = onr_service_seal(svc, &msg, topic, pub, id);
    if (rc == ONR_OK)
        rc = prov_alignment_sent(onr_service_db(svc), k->dev, k->op, id, onr_service_now(svc));
    return rc;
}

static int confirm_revocation(struct onr_db *db, const void *id)
{
    return prov_revocation_confirmed(db, id);
}

/* The plugin's answer to a certificate revocation. */
int prov_on_control_result(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg)
{
    (void)topic;
    (void)arg;
    return onr_service_control_result(svc, env, "revocation", confirm_revocation);
}

struct aligned {
    char dev[ONR_DEVID_LEN + 1];
    const char *op;
    const uint8_t *id;
    uint64_t now;
};

static int confirm_alignment(struct onr_db *db, const void *arg)
{
    const struct aligned *a = arg;

    return prov_alignment_confirmed(db, a->dev, a->op, a->id, a->now);
}

int prov_on_aligned(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    const struct prov *p = arg;
    const struct onr_msg_aligned *m = &env->msg.body.aligned;
    const struct onr_peer *op = NULL;
    struct aligned a;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &p->operators, ONR_ROLE_OPERATOR, &op);
    if (rc != ONR_OK)
        return rc;
    snprintf(a.dev, sizeof(a.dev), "%.*s", (int)m->dev.len, (const char *)m->dev.ptr);
    a.op = op->id;
    a.id = m->re.ptr;
    a.now = onr_service_now(svc);
    rc = onr_db_in_transaction(onr_service_db(svc), confirm_alignment, &a);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "aligned dev=%s operator=%s", a.dev, op->id);
    return rc == ONR_ENOENT ? ONR_OK : rc; /* an answer to an older envelope */
}

void prov_tick(struct onr_service *svc, void *arg)
{
    static struct prov_revocation revs[BATCH];
    static struct prov_app_key keys[BATCH];
    static struct prov_release rels[BATCH];
    static struct onr_publication pubs[4 * BATCH];
    const struct prov *p = arg;
    struct onr_db *db = onr_service_db(svc);
    uint64_t now = onr_service_now(svc);
    uint64_t before = now > p->resend ? now - p->resend : 0;
    size_t n_revs = 0, n_keys = 0, n_rels = 0, n_pubs = 0;
    int rc;

    if (!onr_service_connected(svc) || onr_db_begin(db) != ONR_OK)
        return;
    rc = prov_revocations_due(db, before, revs, BATCH, &n_revs);
    if (rc == ONR_OK)
        rc = prov_alignments_due(db, before, keys, BATCH, &n_keys);
    if (rc == ONR_OK)
        rc = prov_releases_due(db, before, rels, BATCH, &n_rels);
    for (size_t i = 0; rc == ONR_OK && i < n_rels; i++) {
        size_t n = 0;

        rc = prov_release_resend(svc, &rels[i], &pubs[n_pubs], &n);
        n_pubs += n;
    }
    for (size_t i = 0; rc == ONR_OK && i < n_revs; i++)
        rc = prov_revoke_send(svc, &revs[i], &pubs[n_pubs++]);
    for (size_t i = 0; rc == ONR_OK && i < n_keys; i++) {
        rc = prov_align_send(svc, p, &keys[i], &pubs[n_pubs]);
        if (rc == ONR_OK)
            n_pubs++;
        else if (rc == ONR_ENOENT)
            rc = ONR_OK; /* no plan: logged; left for a reload to mend */
    }
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK) {
        onr_db_rollback(db);
        onr_log(ONR_LOG_WARNING, "resend postponed error=%s", onr_error_name(rc));
        return;
    }
    if (n_pubs > 0)
        onr_log(ONR_LOG_NOTICE, "resending revocations=%zu alignments=%zu releases=%zu",
                n_revs, n_keys, n_rels);
    for (size_t i = 0; i < n_pubs; i++)
        onr_service_publish(svc, &pubs[i]);
}
