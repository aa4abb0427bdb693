/*
 * Certificate renewal on the provider's side (proto/SPEC.md section 17).
 * An operational device, connected to our service broker with its
 * certificate, asks on onr/1/p/{us}/dev/{dev}/renew for a certificate for
 * a new key (renew_request, type 38, signed with the key of the
 * certificate in force); once connected with the new one it says so
 * (renewed, type 39, signed with the new key), and only then are the
 * others revoked at the brokers. Answers go to its operational down leaf.
 *
 * Both are checked in SPEC order: the sender is the topic's device; the
 * certificate named is one we issued it, in force and not expired; the
 * signature with that certificate's key, freshness and replay; one of our
 * accounts claims the device. A renew request's CSR is for another key
 * than the certificate's. What is decided is stored with its answer
 * (handle_once): a duplicate gets the same answer, a retry for the same
 * new key the same certificate, a renewed again the same revoked. Each
 * decision locks the device's claim first, as an enrollment does: several
 * instances on one database decide for one device one at a time.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "claims.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hex.h"
#include "prov.h"

/* What the checks before handle_once found, for decide. */
struct renewal {
    struct prov *p;
    char dev[ONR_DEVID_LEN + 1];
    char down[ONR_TOPIC_MAX + 1]; /* the device's operational down leaf */
    struct prov_cert cert;        /* the certificate the message names */
};

/* One log line per refusal, with the device and the serial. */
static void log_refusal(struct onr_service *svc, const struct renewal *r, const char *what,
                        int code, const char *why)
{
    char hex[2 * 20 + 1] = "";

    onr_hex_encode(r->cert.serial, r->cert.serial_len, hex);
    onr_service_log_refusal(svc, "%s refused dev=%s serial=%s code=%s reason=\"%s\"", what,
                            r->dev, hex, onr_error_name(code), why);
}

/*
 * Checks 1 to 4 of section 17 for `env` on `topic`, with `serial` the
 * certificate the message names: ONR_OK with *r filled (go on: a new
 * message or a duplicate for handle_once), or the refusal's code once it
 * is answered (or, for a topic that is not a renew leaf of ours, dropped).
 */
static int check(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                 struct onr_bytes serial, const char *what, struct renewal *r)
{
    static const char leaf[] = ONR_TOPIC_RENEW;
    struct onr_db *db = onr_service_db(svc);
    struct onr_x509_info info;
    struct onr_topic t;
    struct prov_claim claim;
    const char *why = NULL;
    int code = ONR_OK;
    int rc;

    if (onr_topic_parse(topic, strnlen(topic, ONR_TOPIC_MAX + 1), &t) != ONR_OK ||
        t.kind != ONR_TOPIC_KIND_OPERATIONAL || strcmp(t.svc, onr_service_id(svc)) != 0 ||
        t.rest.len != sizeof(leaf) - 1 || memcmp(t.rest.ptr, leaf, t.rest.len) != 0)
        return ONR_EFORMAT; /* not our renew leaf: nobody to answer */
    memcpy(r->dev, t.dev, sizeof(r->dev));
    rc = onr_topic_operational_down(onr_service_id(svc), r->dev, r->down, sizeof(r->down));
    if (rc != ONR_OK)
        return rc;
    /* 1: the device of the topic (the broker lets only it publish there) */
    if (env->sender_role != ONR_ROLE_DEVICE || env->sender.len != ONR_DEVID_LEN ||
        memcmp(env->sender.ptr, r->dev, ONR_DEVID_LEN) != 0) {
        code = ONR_EDENIED;
        why = "the sender is not the topic's device";
    }
    /* 2: a certificate we issued it, in force, not expired */
    if (code == ONR_OK) {
        rc = prov_cert_get(db, r->dev, serial.ptr, serial.len, &r->cert);
        if (rc == ONR_ENOENT) {
            code = ONR_EDENIED;
            why = "not a certificate of this device's";
            memcpy(r->cert.serial, serial.ptr, r->cert.serial_len = serial.len);
        } else if (rc != ONR_OK) {
            return rc;
        } else if (r->cert.revoked) {
            code = ONR_EDENIED;
            why = "the certificate is revoked";
        } else if (r->cert.not_after <= (int64_t)onr_service_now(svc)) {
            code = ONR_EEXPIRED;
            why = "the certificate has expired";
        }
    }
    /* 3: signed with that certificate's key for this topic; fresh, new */
    if (code == ONR_OK) {
        rc = onr_x509_parse(r->cert.der, r->cert.der_len, &info);
        if (rc != ONR_OK)
            return rc; /* ours, as stored: cannot be */
        if (onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic,
                                                            strlen(topic)},
                                    info.public_key) != ONR_OK) {
            code = ONR_EBADSIG;
            why = "the signature does not verify with the certificate's key";
        }
    }
    if (code == ONR_OK) {
        rc = onr_service_accept(svc, env);
        if (rc == ONR_ESTALE) {
            code = rc;
            why = "outside the freshness window";
        } else if (rc != ONR_OK && rc != ONR_EREPLAY) {
            return rc; /* the replay cache is full: the device asks again */
        }
    }
    /* 4: one of our accounts claims it */
    if (code == ONR_OK) {
        rc = prov_claim_get(db, r->dev, &claim);
        if (rc == ONR_ENOENT || (rc == ONR_OK && claim.state < PROV_STEP_CLAIMED)) {
            code = ONR_EDENIED;
            why = "not claimed here";
        } else if (rc != ONR_OK) {
            return rc;
        }
    }
    if (code == ONR_OK)
        return ONR_OK;
    log_refusal(svc, r, what, code, why);
    return onr_service_refuse(svc, env, code, r->down);
}

/* A renew request, checked: step 5 (the CSR), then the new certificate, or
 * the one already issued for that key. */
static int decide_renewal(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    struct renewal *r = arg;
    const struct onr_msg_renew_request *m = &env->msg.body.renew_request;
    struct onr_db *db = onr_service_db(svc);
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t key_hash[ONR_SHA256_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    struct prov_cert cert;
    size_t revoked = 0;
    int rc;

    (void)topic;
    rc = onr_x509_csr_verify(m->csr.ptr, m->csr.len, pub, cn);
    if (rc == ONR_ETOOBIG)
        rc = ONR_ECSR;
    if (rc == ONR_OK) {
        rc = onr_sha256(&(struct onr_bytes){pub, sizeof(pub)}, 1, key_hash);
        if (rc != ONR_OK)
            return rc;
        if (strcmp(cn, r->dev) != 0 ||
            memcmp(key_hash, r->cert.key_hash, sizeof(key_hash)) == 0)
            rc = ONR_ECSR;
    }
    if (rc == ONR_ECSR || rc == ONR_EBADSIG) {
        log_refusal(svc, r, "renewal", rc,
                    rc == ONR_EBADSIG ? "the CSR's signature does not verify"
                                      : "the CSR is not for this device or for a new key");
        return onr_answer_refuse(svc, answer, env, rc, r->down);
    }
    if (rc != ONR_OK)
        return rc;
    /* the claim first, as an enrollment does: two instances renewing for
     * one device at once (a request and its retry) issue one certificate,
     * the later finding the earlier's */
    rc = prov_claim_lock(db, r->dev);
    if (rc != ONR_OK)
        return rc;
    rc = prov_cert_for_key(db, r->dev, key_hash, &cert);
    if (rc == ONR_OK && (cert.renews_len != r->cert.serial_len ||
                         memcmp(cert.renews, r->cert.serial, cert.renews_len) != 0)) {
        /* the key of another certificate in force, not of this renewal */
        log_refusal(svc, r, "renewal", ONR_ECSR, "the CSR's key is another certificate's");
        return onr_answer_refuse(svc, answer, env, ONR_ECSR, r->down);
    }
    if (rc == ONR_OK) {
        onr_log(ONR_LOG_INFO, "renewal asked again dev=%s: the same certificate", r->dev);
        return prov_enroll_response(svc, r->p, env, &cert, r->down, &answer->reply);
    }
    if (rc != ONR_ENOENT)
        return rc;
    /* a renewal of this certificate for another key, never confirmed (the
     * device lost its new key): revoked, so one renewal is in flight */
    for (;;) {
        rc = prov_cert_renewal_of(db, r->dev, r->cert.serial, r->cert.serial_len, &cert);
        if (rc == ONR_ENOENT)
            break;
        if (rc == ONR_OK)
            rc = prov_cert_revoke(db, r->dev, cert.serial, cert.serial_len,
                                  onr_service_now(svc));
        if (rc == ONR_OK)
            rc = prov_revoke_cert(svc, &cert, answer);
        if (rc != ONR_OK)
            return rc;
        revoked++;
    }
    rc = prov_cert_issue(svc, r->p, r->dev, pub, &r->cert, &cert);
    if (rc != ONR_OK)
        return rc;
    r->p->renewals++;
    onr_log(ONR_LOG_NOTICE, "renewed dev=%s not_after=%lld replaced_unconfirmed=%zu", r->dev,
            (long long)cert.not_after, revoked);
    return prov_enroll_response(svc, r->p, env, &cert, r->down, &answer->reply);
}

/* A renewed, checked: every other certificate in force is revoked at the
 * brokers; the answer names the one the renewal replaced. */
static int decide_renewed(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    struct renewal *r = arg;
    struct onr_msg msg = {.type = ONR_MSG_REVOKED};
    size_t revoked = 0;
    int rc;

    (void)topic;
    if (r->cert.renews_len == 0) {
        log_refusal(svc, r, "renewed", ONR_ENOENT, "the certificate renews none");
        return onr_answer_refuse(svc, answer, env, ONR_ENOENT, r->down);
    }
    /* locked as a renewal is: of two confirmations at once, the later
     * finds the others revoked */
    rc = prov_claim_lock(onr_service_db(svc), r->dev);
    if (rc == ONR_OK)
        rc = prov_revoke_in_force(svc, r->dev, r->cert.serial, r->cert.serial_len, answer,
                                  &revoked);
    if (rc != ONR_OK)
        return rc;
    if (revoked > 0)
        onr_log(ONR_LOG_NOTICE, "renewal confirmed dev=%s revoked=%zu", r->dev, revoked);
    msg.body.revoked = (struct onr_msg_revoked){
        .re = ONR_BYTES(env->id),
        .dev = {(const uint8_t *)r->dev, ONR_DEVID_LEN},
        .serial = {r->cert.renews, r->cert.renews_len},
    };
    return onr_service_seal(svc, &msg, r->down, &answer->reply, NULL);
}

void prov_stats(struct onr_service *svc, void *arg, struct onr_msg_service_stats *out)
{
    const struct prov *p = arg;
    uint64_t now = onr_service_now(svc);

    out->renewals = p->renewals;
    if (prov_certs_expiring(onr_service_db(svc), now, now + PROV_EXPIRING_WITHIN,
                            &out->certs_expiring) != ONR_OK)
        onr_log(ONR_LOG_WARNING, "certificates expiring not counted error=%s",
                onr_db_errmsg(onr_service_db(svc)));
}

int prov_on_renew_request(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg)
{
    static struct renewal r; /* a certificate's DER is large for the stack */
    int rc;

    memset(&r, 0, sizeof(r));
    r.p = arg;
    rc = check(svc, env, topic, env->msg.body.renew_request.serial, "renewal", &r);
    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide_renewal, &r) : rc;
}

int prov_on_renewed(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    static struct renewal r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.p = arg;
    rc = check(svc, env, topic, env->msg.body.renewed.serial, "renewed", &r);
    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide_renewed, &r) : rc;
}
