/*
 * What follows an attach, and must arrive even if we crash right after
 * committing it: the grant at the broker (the device may then publish to
 * its provider) and the application key for the provider. Both are
 * recorded as unconfirmed with the attach; the broker's control result and
 * the provider's app_key_stored confirm them; until then the resend tick
 * sends them again (new envelopes; the same sealed key). Receivers treat
 * repeats as no-ops.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

#define RESEND_BATCH 64

int op_event(struct onr_service *svc, const char *dev, const char *step,
             struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_EVENT};
    char topic[ONR_TOPIC_MAX + 1];

    snprintf(topic, sizeof(topic), "onr/1/s/op/%s/ev", onr_service_id(svc));
    msg.body.event = (struct onr_msg_event){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .step = {(const uint8_t *)step, strlen(step)},
    };
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

static int grant(struct onr_service *svc, const char *dev, const char *prov,
                 struct onr_publication *pub, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_msg msg = {.type = ONR_MSG_GRANT};

    msg.body.grant = (struct onr_msg_grant){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .prov = {(const uint8_t *)prov, strlen(prov)},
    };
    return onr_service_seal(svc, &msg, OP_CONTROL_TOPIC, pub, id);
}

/* The provider's copy of what it needs: the key (sealed to it) and the
 * subscription it aligns. */
static int app_key(struct onr_service *svc, const struct auc_delivery *d,
                   struct onr_publication *pub, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_msg msg = {.type = ONR_MSG_APP_KEY};
    char topic[ONR_TOPIC_MAX + 1];

    snprintf(topic, sizeof(topic), "onr/1/s/prov/%s/in", d->prov);
    msg.body.app_key = (struct onr_msg_app_key){
        .dev = {(const uint8_t *)d->dev, strlen(d->dev)},
        .kid = ONR_BYTES(d->kid),
        .sealed = ONR_BYTES(d->sealed_key),
        .imsi = {(const uint8_t *)d->imsi, strlen(d->imsi)},
        .iccid = {(const uint8_t *)d->iccid, strlen(d->iccid)},
    };
    return onr_service_seal(svc, &msg, topic, pub, id);
}

int op_attached(struct onr_service *svc, struct op *o, const struct auc_subscriber *sub,
                const uint8_t kid[16], const uint8_t k_af[32], struct onr_answer *answer)
{
    const struct onr_peer *prov = onr_peer_find(&o->providers, (const uint8_t *)sub->prov,
                                                strlen(sub->prov));
    struct onr_db *db = onr_service_db(svc);
    struct auc_delivery d;
    uint8_t grant_id[ONR_MSG_ID_LEN];
    uint8_t key_id[ONR_MSG_ID_LEN];
    uint64_t now = onr_service_now(svc);
    int rc;

    if (prov == NULL)
        return ONR_EDENIED; /* the contract ended since the profile */
    memset(&d, 0, sizeof(d));
    snprintf(d.dev, sizeof(d.dev), "%s", sub->dev);
    snprintf(d.prov, sizeof(d.prov), "%s", prov->id);
    snprintf(d.imsi, sizeof(d.imsi), "%s", sub->imsi);
    snprintf(d.iccid, sizeof(d.iccid), "%s", sub->iccid);
    memcpy(d.kid, kid, sizeof(d.kid));
    rc = onr_sealed_app_key_seal(prov->sealing_key, sub->dev, onr_service_id(svc), prov->id,
                                 kid, k_af, d.sealed_key);
    if (rc == ONR_OK)
        rc = auc_attach(db, sub->dev, kid, d.sealed_key, now);
    if (rc == ONR_OK)
        rc = grant(svc, sub->dev, prov->id, &answer->extra[0], grant_id);
    if (rc == ONR_OK)
        rc = app_key(svc, &d, &answer->extra[1], key_id);
    if (rc == ONR_OK)
        rc = op_event(svc, sub->dev, "attached", &answer->extra[2]);
    if (rc == ONR_OK)
        rc = auc_sent(db, sub->dev, grant_id, key_id, now);
    if (rc == ONR_OK)
        answer->n_extra = 3;
    return rc;
}

/* ---- confirmations ---------------------------------------------------------- */

static int confirm_grant(struct onr_db *db, const void *arg)
{
    return auc_grant_confirmed(db, arg);
}

/* The plugin's answer to a grant (or to a release's revoke, which
 * confirms no grant). */
int op_on_control_result(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg)
{
    (void)topic;
    (void)arg;
    return onr_service_control_result(svc, env, "grant", confirm_grant);
}

struct key_ack {
    char dev[ONR_DEVID_LEN + 1];
    const char *prov;
    const uint8_t *id;
};

static int confirm_key(struct onr_db *db, const void *arg)
{
    const struct key_ack *k = arg;

    return auc_key_confirmed(db, k->dev, k->prov, k->id);
}

int op_on_app_key_stored(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg)
{
    struct op *o = arg;
    const struct onr_msg_app_key_stored *m = &env->msg.body.app_key_stored;
    const struct onr_peer *prov = NULL;
    struct key_ack k;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &o->providers, ONR_ROLE_PROVIDER, &prov);
    if (rc != ONR_OK)
        return rc;
    snprintf(k.dev, sizeof(k.dev), "%.*s", (int)m->dev.len, (const char *)m->dev.ptr);
    k.prov = prov->id;
    k.id = m->re.ptr;
    rc = onr_db_in_transaction(onr_service_db(svc), confirm_key, &k);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_INFO, "key stored dev=%s provider=%s", k.dev, prov->id);
    return rc == ONR_ENOENT ? ONR_OK : rc; /* an ack of an older envelope */
}

/* ---- resending ---------------------------------------------------------------- */

/* Envelopes for one unconfirmed delivery, recorded as sent. */
static int resend_one(struct onr_service *svc, const struct auc_delivery *d,
                      struct onr_publication pubs[2], size_t *n)
{
    uint8_t grant_id[ONR_MSG_ID_LEN];
    uint8_t key_id[ONR_MSG_ID_LEN];
    int rc = ONR_OK;

    *n = 0;
    if (!d->granted)
        rc = grant(svc, d->dev, d->prov, &pubs[(*n)++], grant_id);
    if (rc == ONR_OK && !d->key_stored)
        rc = app_key(svc, d, &pubs[(*n)++], key_id);
    if (rc == ONR_OK)
        rc = auc_sent(onr_service_db(svc), d->dev, d->granted ? NULL : grant_id,
                      d->key_stored ? NULL : key_id, onr_service_now(svc));
    return rc;
}

void op_resend_tick(struct onr_service *svc, void *arg)
{
    static struct auc_delivery due[RESEND_BATCH];
    static struct onr_publication pubs[RESEND_BATCH][2];
    static size_t n_pubs[RESEND_BATCH];
    struct op *o = arg;
    struct onr_db *db = onr_service_db(svc);
    uint64_t now = onr_service_now(svc);
    size_t n = 0;
    int rc;

    if (!onr_service_connected(svc))
        return;
    /* challenges nobody answered in time are no use to anyone */
    if (onr_db_begin(db) != ONR_OK)
        return;
    rc = auc_challenges_prune(db, now > o->challenge_lifetime ? now - o->challenge_lifetime : 0);
    if (rc == ONR_OK)
        rc = auc_unconfirmed(db, now - o->resend, due, RESEND_BATCH, &n);
    for (size_t i = 0; rc == ONR_OK && i < n; i++)
        rc = resend_one(svc, &due[i], pubs[i], &n_pubs[i]);
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK) {
        onr_db_rollback(db);
        onr_log(ONR_LOG_WARNING, "resend postponed error=%s", onr_error_name(rc));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        onr_log(ONR_LOG_NOTICE, "resending dev=%s provider=%s grant=%s key=%s", due[i].dev,
                due[i].prov, due[i].granted ? "no" : "yes", due[i].key_stored ? "no" : "yes");
        for (size_t j = 0; j < n_pubs[i]; j++)
            onr_service_publish(svc, &pubs[i][j]);
    }
}
