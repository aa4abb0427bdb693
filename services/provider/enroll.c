/*
 * Step 4 on the provider's side (proto/SPEC.md section 14): an attached
 * device sends a CSR for a service key it made, MAC'ed with K_AF, the key
 * its operator derived at attach and sealed to us. We check the MAC, the
 * claim and the CSR, issue a certificate from our CA (the same one again
 * for the same key; a new key revokes the old certificate) and answer with
 * the chain, our service broker's endpoint and its CA.
 *
 * A request that arrives before its application key is kept (one per
 * device) and answered "pending"; app_key.c finishes it when the key comes.
 *
 * A replaced certificate is revoked at the broker (type 27) as a confirmed
 * message: resent until the plugin's control result confirms it.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "claims.h"
#include "keys.h"
#include "lifecycle.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "prov.h"

#define CHAIN_MAX 8192

void prov_cert_revoke_msg(const char *dev, const uint8_t *serial, size_t serial_len,
                          int64_t not_after, struct onr_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = ONR_MSG_CERT_REVOKE;
    msg->body.cert_revoke = (struct onr_msg_cert_revoke){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .serial = {serial, serial_len},
        .not_after = not_after > 0 ? (uint64_t)not_after : 0,
    };
}

#define REVOCATION_GRACE 86400 /* the plugin keeps a revocation a day past notAfter */

uint64_t prov_revocation_needed_until(const struct onr_msg *request)
{
    uint64_t not_after = request->body.cert_revoke.not_after;

    if (request->type != ONR_MSG_CERT_REVOKE || not_after == 0)
        return 0;
    return not_after + REVOCATION_GRACE;
}

int prov_revoke_cert(struct onr_service *svc, const struct prov_cert *c,
                     struct onr_answer *answer)
{
    char hex[2 * 20 + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg;

    if (c->serial_len == 0 || c->serial_len > 20)
        return ONR_EINVAL;
    for (size_t i = 0; i < c->serial_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", c->serial[i]);
    prov_key("cert", hex, key, sizeof(key));
    prov_cert_revoke_msg(c->dev, c->serial, c->serial_len, c->not_after, &msg);
    return onr_service_send_confirmed(svc, answer, PROV_KIND_CERT_REVOKE, ONR_PEER_BROKER, key,
                                      &msg, ONR_TOPIC_CONTROL);
}

int prov_revoke_in_force(struct onr_service *svc, const char *dev, const uint8_t *keep,
                         size_t keep_len, struct onr_answer *answer, size_t *revoked)
{
    struct onr_db *db = onr_service_db(svc);
    struct prov_cert c;
    int rc;

    *revoked = 0;
    for (;;) {
        rc = prov_cert_other_in_force(db, dev, keep, keep_len, &c);
        if (rc == ONR_ENOENT)
            return ONR_OK;
        if (rc == ONR_OK)
            rc = prov_cert_revoke(db, dev, c.serial, c.serial_len, onr_service_now(svc));
        if (rc == ONR_OK)
            rc = prov_revoke_cert(svc, &c, answer);
        if (rc != ONR_OK)
            return rc;
        (*revoked)++;
    }
}

int prov_cert_issue(struct onr_service *svc, const struct prov *p, const char *dev,
                    const uint8_t pub[ONR_P256_PUB_LEN], const struct prov_cert *renewing,
                    struct prov_cert *out)
{
    const struct onr_bytes key = {pub, ONR_P256_PUB_LEN};
    struct onr_x509_profile profile = {
        .subject = {.common_name = dev, .organization = onr_service_id(svc)},
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT,
    };
    struct onr_x509_info info;
    int rc;

    /* whole days as before cert_lifetime; anything shorter to the second */
    if (p->cert_lifetime % 86400 == 0)
        profile.days = (uint32_t)(p->cert_lifetime / 86400);
    else
        profile.seconds = (uint32_t)p->cert_lifetime;
    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    rc = onr_sha256(&key, 1, out->key_hash);
    if (rc != ONR_OK)
        return rc;
    out->der_len = sizeof(out->der);
    rc = onr_x509_issue(p->ca_key, p->ca_der, p->ca_len, pub, &profile, out->der,
                        &out->der_len);
    if (rc == ONR_OK)
        rc = onr_x509_parse(out->der, out->der_len, &info);
    if (rc != ONR_OK)
        return rc;
    memcpy(out->serial, info.serial, out->serial_len = info.serial_len);
    out->not_after = info.not_after;
    if (renewing != NULL)
        memcpy(out->renews, renewing->serial, out->renews_len = renewing->serial_len);
    return prov_cert_put(onr_service_db(svc), out, onr_service_now(svc));
}

/* The certificate for `pub`: the current one if it certifies that key,
 * else a new one (queuing the revocation of every one in force in
 * `answer`). The caller locked the claim: two instances enrolling one
 * device at once (a request and its retry, or the one a key's arrival
 * finishes) issue one certificate, the later finding the earlier's. */
static int certificate_for(struct onr_service *svc, const struct prov *p, const char *dev,
                           const uint8_t pub[ONR_P256_PUB_LEN], struct prov_cert *out,
                           struct onr_answer *answer)
{
    struct onr_db *db = onr_service_db(svc);
    const struct onr_bytes key = {pub, ONR_P256_PUB_LEN};
    uint8_t key_hash[ONR_SHA256_LEN];
    size_t revoked = 0;
    int rc;

    rc = onr_sha256(&key, 1, key_hash);
    if (rc == ONR_OK)
        rc = prov_cert_current(db, dev, out);
    if (rc == ONR_OK && memcmp(out->key_hash, key_hash, sizeof(key_hash)) == 0)
        return ONR_OK; /* the same key asks again: the same certificate */
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    /* none current is none in force (a renewal chain has a newest) */
    rc = rc == ONR_OK ? prov_revoke_in_force(svc, dev, NULL, 0, answer, &revoked) : ONR_OK;
    if (rc == ONR_OK)
        rc = prov_cert_issue(svc, p, dev, pub, NULL, out);
    if (rc == ONR_OK && revoked > 0)
        onr_log(ONR_LOG_NOTICE, "certificate replaced dev=%s (a new key): old one revoked", dev);
    return rc;
}

int prov_enroll_response(struct onr_service *svc, const struct prov *p,
                         const struct onr_envelope *env, const struct prov_cert *cert,
                         const char *topic, struct onr_publication *reply)
{
    struct onr_msg msg = {.type = ONR_MSG_ENROLL_RESPONSE};
    static uint8_t chain[CHAIN_MAX];

    if (cert->der_len + p->ca_len > sizeof(chain))
        return ONR_ESPACE;
    memcpy(chain, cert->der, cert->der_len);
    memcpy(chain + cert->der_len, p->ca_der, p->ca_len);
    msg.body.enroll_response = (struct onr_msg_enroll_response){
        .re = ONR_BYTES(env->id),
        .chain = {chain, cert->der_len + p->ca_len},
        .ca = {p->broker_ca_der, p->broker_ca_len},
        .endpoint = {(const uint8_t *)p->endpoint, strlen(p->endpoint)},
    };
    return onr_service_seal(svc, &msg, topic, reply, NULL);
}

/* The answer to the enroll request `env` of `dev`, authentic (its MAC
 * checked): into `reply` (NULL: ONR_ESPACE); *refusal gets the code of a
 * refusal answered so, else 0. */
static int enroll_answer(struct onr_service *svc, const struct prov *p,
                         const struct onr_envelope *env, const char *dev,
                         struct onr_publication *reply, struct onr_answer *answer,
                         int *refusal)
{
    const struct onr_msg_enroll_request *r = &env->msg.body.enroll_request;
    struct prov_claim claim;
    struct prov_cert cert;
    uint8_t pub[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    char down[ONR_TOPIC_MAX + 1];
    int rc;

    *refusal = 0;
    if (reply == NULL)
        return ONR_ESPACE;
    rc = onr_topic_down(dev, down, sizeof(down));
    if (rc == ONR_OK)
        rc = prov_claim_get_locked(onr_service_db(svc), dev, &claim); /* certificate_for */
    if (rc == ONR_ENOENT || (rc == ONR_OK && claim.state < PROV_STEP_CLAIMED)) {
        onr_log(ONR_LOG_NOTICE, "enrollment refused dev=%s reason=\"not claimed here\"", dev);
        *refusal = ONR_EDENIED;
        return onr_service_error(svc, env, ONR_EDENIED, down, reply);
    }
    if (rc != ONR_OK)
        return rc;
    rc = onr_x509_csr_verify(r->csr.ptr, r->csr.len, pub, cn);
    if (rc == ONR_OK && strcmp(cn, dev) != 0)
        rc = ONR_ECSR;
    if (rc == ONR_ECSR || rc == ONR_EBADSIG || rc == ONR_ETOOBIG) {
        onr_log(ONR_LOG_NOTICE, "enrollment refused dev=%s reason=%s", dev, onr_error_name(rc));
        *refusal = rc == ONR_ETOOBIG ? ONR_ECSR : rc;
        return onr_service_error(svc, env, *refusal, down, reply);
    }
    if (rc != ONR_OK)
        return rc;
    rc = certificate_for(svc, p, dev, pub, &cert, answer);
    if (rc == ONR_OK)
        rc = prov_device_step(onr_service_db(svc), &claim, PROV_ENROLLED_EV, 1,
                              onr_service_now(svc));
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_NOTICE, "enrolled dev=%s account=%s", dev, claim.account);
    return prov_enroll_response(svc, p, env, &cert, down, reply);
}

struct enroll_ctx {
    const struct prov *p;
    const char *dev;
};

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct enroll_ctx *ctx = arg;

    (void)topic;
    return enroll_answer(svc, ctx->p, env, ctx->dev, &answer->reply, answer, &answer->refusal);
}

/* The request's MAC under the device's K_AF (from the stored key). */
static int check_mac(const struct prov *p, struct onr_service *svc, const struct prov_app_key *k,
                     const struct onr_envelope *env, const char *topic)
{
    uint8_t k_af[ONR_AKMA_KEY_LEN];
    int rc;

    rc = onr_sealed_app_key_open(&p->sealing, k->dev, k->op, onr_service_id(svc), k->kid,
                                 k->sealed, sizeof(k->sealed), k_af);
    if (rc == ONR_OK)
        rc = onr_envelope_verify_mac(env, (struct onr_bytes){(const uint8_t *)topic,
                                                             strlen(topic)},
                                     (struct onr_bytes){k_af, sizeof(k_af)});
    onr_wipe(k_af, sizeof(k_af));
    return rc;
}

/* No key yet: keep the request, say "pending". Only a claimed device's. */
static int wait_for_key(struct onr_service *svc, const struct prov *p,
                        const struct onr_envelope *env, const char *topic, const char *dev,
                        const uint8_t *raw, size_t raw_len)
{
    struct onr_db *db = onr_service_db(svc);
    struct onr_msg msg = {.type = ONR_MSG_PENDING};
    struct onr_publication pub;
    struct prov_claim claim;
    char down[ONR_TOPIC_MAX + 1];
    static const char why[] = "the operator's key for this device has not arrived yet";
    int rc;

    rc = onr_topic_down(dev, down, sizeof(down));
    if (rc == ONR_OK)
        rc = onr_db_begin(db);
    if (rc != ONR_OK)
        return rc;
    rc = prov_claim_get(db, dev, &claim);
    if (rc == ONR_OK && claim.state >= PROV_STEP_CLAIMED)
        rc = prov_waiting_put(db, dev, env->msg.body.enroll_request.kid.ptr,
                              (struct onr_bytes){raw, raw_len}, topic, onr_service_now(svc));
    else if (rc == ONR_OK)
        rc = ONR_ENOENT;
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK) {
        onr_db_rollback(db);
        return rc == ONR_ENOENT ? onr_service_refuse(svc, env, ONR_EDENIED, down) : rc;
    }
    msg.body.pending = (struct onr_msg_pending){
        .re = ONR_BYTES(env->id),
        .retry_after = p->retry_after,
        .reason = ONR_BYTES_STR(why),
    };
    memset(&pub, 0, sizeof(pub));
    rc = onr_service_seal(svc, &msg, down, &pub, NULL);
    if (rc == ONR_OK)
        rc = onr_service_publish(svc, &pub);
    onr_log(ONR_LOG_INFO, "enrollment pending dev=%s", dev);
    return rc;
}

int prov_on_enroll(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg)
{
    const struct prov *p = arg;
    const uint8_t *kid = env->msg.body.enroll_request.kid.ptr;
    struct enroll_ctx ctx = {p, NULL};
    struct prov_app_key k;
    char dev[ONR_DEVID_LEN + 1];
    char down[ONR_TOPIC_MAX + 1];
    int rc;

    rc = onr_service_from_device(topic, env, dev);
    if (rc != ONR_OK)
        return rc;
    ctx.dev = dev;
    rc = onr_topic_down(dev, down, sizeof(down));
    if (rc == ONR_OK)
        rc = prov_app_key_get(onr_service_db(svc), dev, &k);
    if (rc == ONR_ENOENT)
        return wait_for_key(svc, p, env, topic, dev, env->raw.ptr, env->raw.len);
    if (rc != ONR_OK)
        return rc;
    if (!onr_equal_ct(k.kid, kid, sizeof(k.kid))) {
        onr_log(ONR_LOG_NOTICE, "enrollment refused dev=%s reason=\"unknown key identifier\"",
                dev);
        return onr_service_refuse(svc, env, ONR_EDENIED, down);
    }
    rc = check_mac(p, svc, &k, env, topic);
    if (rc == ONR_EBADMAC) {
        onr_log(ONR_LOG_NOTICE, "enrollment refused dev=%s reason=\"MAC does not verify\"", dev);
        return onr_service_refuse(svc, env, rc, down);
    }
    if (rc != ONR_OK)
        return rc;
    rc = onr_service_accept(svc, env);
    if (rc == ONR_ESTALE)
        return onr_service_refuse(svc, env, rc, down);
    if (rc != ONR_OK && rc != ONR_EREPLAY)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}

int prov_enroll_waiting(struct onr_service *svc, const struct prov *p,
                        const struct prov_app_key *k, struct onr_answer *answer)
{
    static uint8_t raw[ONR_ENVELOPE_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_envelope env;
    size_t len = 0;
    int refusal = 0;
    int rc;

    rc = prov_waiting_take(onr_service_db(svc), k->dev, k->kid, raw, sizeof(raw), &len, topic,
                           sizeof(topic));
    if (rc == ONR_ENOENT)
        return ONR_OK; /* nobody waiting */
    if (rc == ONR_OK)
        rc = onr_envelope_decode(raw, len, &env);
    /* the request was kept unverified: it must prove itself now */
    if (rc == ONR_OK)
        rc = check_mac(p, svc, k, &env, topic);
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_NOTICE, "waiting enrollment dropped dev=%s reason=%s", k->dev,
                onr_error_name(rc));
        return ONR_OK; /* the device asks again */
    }
    /* a refusal goes to the device as it is, without counting: the
     * message it answers was counted when it was kept */
    rc = enroll_answer(svc, p, &env, k->dev, onr_answer_extra(answer), answer, &refusal);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_INFO, "enrollment finished on the key's arrival dev=%s", k->dev);
    return rc;
}
