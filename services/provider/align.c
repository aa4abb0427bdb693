/*
 * Step 5 on the provider's side: once a device's key is stored, its
 * operator gets the device's policy (the plan of the account that claimed
 * it) with the subscription it named, as a confirmed message: resent until
 * the operator answers `aligned`. It names the last envelope of the key we
 * received (`re`): it is also our answer to that key, which the operator
 * stops resending. An account without a plan waits for a reload that
 * brings one.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "onramp/error.h"
#include "prov.h"

void prov_key(const char *what, const char *subject, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", what, subject);
}

const char *prov_key_subject(const struct onr_pending *p, const char *what)
{
    size_t n = strlen(what);

    return strncmp(p->key, what, n) == 0 && p->key[n] == '/' ? p->key + n + 1 : NULL;
}

/* The plan of `account`: its own line, else "*". */
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

int prov_alignment_msg(const struct prov *p, const char *account, const struct prov_app_key *k,
                       struct onr_msg *msg)
{
    const struct prov_plan *plan = plan_for(p, account);

    if (plan == NULL)
        return ONR_ENOENT;
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_ALIGNMENT;
    msg->body.alignment = (struct onr_msg_alignment){
        .re = ONR_BYTES(k->re),
        .dev = {(const uint8_t *)k->dev, strlen(k->dev)},
        .imsi = {(const uint8_t *)k->imsi, strlen(k->imsi)},
        .iccid = {(const uint8_t *)k->iccid, strlen(k->iccid)},
        .qos = plan->qos,
        .charging = {(const uint8_t *)plan->charging, strlen(plan->charging)},
        .cap = plan->cap,
    };
    return ONR_OK;
}

int prov_align_start(struct onr_service *svc, const struct prov *p, const char *account,
                     const struct prov_app_key *k, struct onr_answer *answer)
{
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg;
    int rc = prov_alignment_start(onr_service_db(svc), k->dev, k->op);

    if (rc != ONR_OK)
        return rc;
    if (prov_alignment_msg(p, account, k, &msg) != ONR_OK) {
        onr_log(ONR_LOG_WARNING, "no plan for account=%s (add a plan line and reload): dev=%s "
                "not aligned", account, k->dev);
        return ONR_OK;
    }
    prov_key("align", k->dev, key, sizeof(key));
    rc = onr_topic_in(ONR_ROLE_OPERATOR, k->op, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    return onr_service_send_confirmed(svc, answer, PROV_KIND_ALIGNMENT, k->op, key, &msg, topic);
}

struct unplanned {
    struct onr_service *svc;
    const struct prov *p;
    size_t queued;
};

int prov_alignment_queue(struct onr_db *db, const struct prov *p, const char *dev,
                         const char *account, const uint8_t *id, uint64_t now)
{
    static struct prov_app_key k;
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg;
    int rc = prov_app_key_get(db, dev, &k);

    if (rc != ONR_OK)
        return rc;
    if (p == NULL || prov_alignment_msg(p, account, &k, &msg) != ONR_OK)
        return ONR_ENOENT;
    prov_key("align", dev, key, sizeof(key));
    rc = onr_topic_in(ONR_ROLE_OPERATOR, k.op, topic, sizeof(topic));
    return rc == ONR_OK ? onr_delivery_store(db, PROV_KIND_ALIGNMENT, k.op, key, &msg, topic,
                                             id, now, now)
                        : rc;
}

/* Every alignment neither confirmed nor in flight (its account had no
 * plan) that has a plan now, queued: the resend tick sends them. */
static int queue_unplanned(struct onr_db *db, void *arg)
{
    static const char sql[] =
        "SELECT a.dev, c.account FROM alignments a JOIN claims c ON c.dev = a.dev"
        " WHERE a.aligned_at IS NULL AND NOT EXISTS (SELECT 1 FROM pending"
        " WHERE pending.key = 'align/' || a.dev)";
    struct unplanned *u = arg;
    uint64_t now = onr_service_now(u->svc);
    char dev[ONR_DEVID_LEN + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    struct onr_db_rows *rows = NULL;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(account)));
        if (rc != ONR_OK)
            break;
        rc = prov_alignment_queue(db, u->p, dev, account, NULL, now);
        if (rc == ONR_OK)
            u->queued++;
        else if (rc == ONR_ENOENT)
            rc = ONR_OK; /* still no plan */
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

void prov_align_unplanned(struct onr_service *svc, const struct prov *p)
{
    struct unplanned u = {svc, p, 0};
    int rc = onr_db_in_transaction(onr_service_db(svc), queue_unplanned, &u);

    if (rc != ONR_OK)
        onr_log(ONR_LOG_WARNING, "alignments waiting for a plan not queued error=%s",
                onr_error_name(rc));
    else if (u.queued > 0)
        onr_log(ONR_LOG_NOTICE, "alignments queued=%zu (their plans arrived)", u.queued);
}

int prov_aligned(struct onr_service *svc, const struct onr_pending *p,
                 const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    const char *dev = prov_key_subject(p, "align");

    (void)answer;
    (void)out;
    (void)arg;
    if (dev == NULL)
        return ONR_OK; /* not one of ours */
    onr_log(ONR_LOG_NOTICE, "aligned dev=%s operator=%s", dev, p->peer);
    return prov_alignment_done(onr_service_db(svc), dev, onr_service_now(svc));
}
