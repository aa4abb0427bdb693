/*
 * onramp-provider: what its files share.
 *
 *   main.c      configuration: the manufacturers, operators, plans and
 *               control tools it works with; the kinds of confirmed
 *               messages; keys; routes
 *   schema.c    the database's migrations
 *   claims.c    the database: claims and each device's state, releases in
 *               flight, the page's refusals, first telemetry
 *   keys.c      the database: application keys, alignments
 *   certs.c     the database: certificates, enrollments waiting for a key
 *   lifecycle.c a device's state at its provider and its changes
 *   pairing.c   step 1: a pairing from onrampctl or the page -> claim ->
 *               registration with the manufacturer (step 2, confirmed
 *               delivery) -> answer to onrampctl
 *   kit_pairing.c  the same for a kit label: every device of the kit
 *   kits.c      the database: kit claims and their devices
 *   app_key.c   after step 3c: an operator's sealed application key for an
 *               attached device, stored for its enrollment
 *   align.c     step 5: the device's policy for its operator, resent until
 *               the operator confirms
 *   enroll.c    step 4: a device's CSR -> its service certificate; the
 *               issue of certificates and their revocation at the brokers
 *   renew.c     an operational device renews its certificate (SPEC 17)
 *   roaming.c   the roaming configuration: operators' countries, policies
 *   relocation.c a device's telemetry from another country -> relocation
 *               (relocation request, the manufacturer's voucher -> relocate);
 *               the manufacturer's no_operator notices
 *   policy_update.c  a policy changed on SIGHUP: the claims it covers
 *               registered again
 *   release.c   a control tool releases a device (its certificate revoked,
 *               manufacturer and operator told, each until it confirms) or
 *               revokes its certificate
 *   journey.c   a device's journey for the page and the status request,
 *               and its first telemetry (operational)
 *   page*.c     the pairing page (http_listen): a form that pairs like
 *               onrampctl, and each device's journey, live (page.h)
 */
#ifndef ONRAMP_PROV_H
#define ONRAMP_PROV_H

#include <stdint.h>

#include "onramp/hpke.h"
#include "onramp/label.h"
#include "onramp/p256.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"
#include "onramp/x25519.h"
#include "onramp/telemetry.h"
#include "onramp/x509.h"
#include "roaming.h"

struct prov_app_key;
struct prov_page;

#define PROV_MAX_PLANS 32

/* Service certificates' lifetime (cert_lifetime), seconds. The shortest
 * leaves a device time to renew; the longest is cert_days' old bound. */
#define PROV_CERT_LIFETIME_MIN 600
#define PROV_CERT_LIFETIME_MAX (3650 * 86400)
#define PROV_CERT_LIFETIME_DEFAULT (365 * 86400)

/* The kinds of confirmed messages (main.c lists them). */
#define PROV_KIND_REGISTRATION "registration"
#define PROV_KIND_RELEASE_MFR "release_mfr"
#define PROV_KIND_RELEASE_OP "release_op"
#define PROV_KIND_ALIGNMENT "alignment"
#define PROV_KIND_CERT_REVOKE "cert_revoke"
#define PROV_KIND_KIT_REGISTRATION "kit_registration"
#define PROV_KIND_RELOCATION "relocation"

/* What an account's devices get from their operator (step 5). */
struct prov_plan {
    char account[65];                     /* "*": every other account */
    uint64_t qos;
    char charging[ONR_SERVICE_ID_MAX + 1];
    uint64_t cap;
};

struct prov {
    struct onr_peers manufacturers;
    struct onr_peers operators;     /* the operators it has contracts with */
    char default_operator[ONR_SERVICE_ID_MAX + 1];
    struct onr_hpke_recipient sealing; /* application keys are sealed to it */
    /* enrollment */
    struct onr_p256_key *ca_key;             /* the provider CA's key */
    uint8_t ca_der[ONR_X509_MAX_DER];
    size_t ca_len;
    uint8_t broker_ca_der[ONR_X509_MAX_DER]; /* trusted for its service broker */
    size_t broker_ca_len;
    char endpoint[257];                      /* mqtts://HOST:PORT */
    uint64_t cert_lifetime;                  /* seconds, of service certificates */
    uint64_t retry_after;                    /* seconds, in pending answers */
    uint64_t resend;                         /* seconds before a first resend */
    struct prov_plan plans[PROV_MAX_PLANS];
    size_t n_plans;
    struct prov_roaming roaming;             /* operators' countries, policies */
    struct prov_page *page;                  /* NULL: no page */
    uint64_t renewals; /* certificates renewed since it started (service_stats) */
};

/* schema.c */
extern const struct onr_db_schema prov_schema;

/* The key of a confirmed message in `pending`: `what` and its subject (a
 * device id, a serial in hex); prov_key_subject: the subject of `p`'s key
 * if it is about `what` (borrowed from `p`), else NULL. */
void prov_key(const char *what, const char *subject, char *out, size_t cap);
const char *prov_key_subject(const struct onr_pending *p, const char *what);

/* A pairing, from a control tool or the page (everything borrowed). */
struct prov_pairing {
    struct onr_bytes label;   /* the label's text, untrusted */
    struct onr_bytes account;
    struct onr_bytes op;      /* the operator asked for; ptr NULL: none */
    const char *asker;        /* a control tool's id or PROV_ASKER_WEB */
    const uint8_t *id;        /* the pairing's id, ONR_MSG_ID_LEN bytes */
};

/* pairing.c: prov_pairing_check: what a pairing says besides its label:
 * an account of 1 to PROV_ACCOUNT_MAX bytes of text (else ONR_EINVAL),
 * and `mfr`, the label's manufacturer, one we work with (ONR_ENOENT);
 * *why a sentence for the user when refused.
 * prov_choose_operator: the operator for a new claim: the
 * user's (`asked`) if we have a contract with it (*user set), else our
 * default (static storage: `p`'s). prov_tell_error: an error for the control tool
 * `asker`, answering its pairing `re`, with `reason` (borrowed), into
 * `pub`. */
int prov_pairing_check(const struct prov *p, const struct prov_pairing *req, const char *mfr,
                       const char **why);
const char *prov_choose_operator(const struct prov *p, struct onr_bytes asked, int *user);
int prov_tell_error(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], const char *asker,
                    int code, const char *reason, struct onr_publication *pub);

/* pairing.c: a control tool's pairing on onr/1/s/prov/{us}/in, and the
 * hooks of the registration kind (the manufacturer's answer). */
int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_registered(struct onr_service *svc, const struct onr_pending *p,
                    const struct onr_envelope *answer, struct onr_answer *out, void *arg);
int prov_registration_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                              struct onr_answer *out, void *arg);
/* prov_register: the registration of claim `c` (its operator, the end
 * user's choice, its policy with its operators' keys) with the claim
 * secret `sealed` to its manufacturer, to the manufacturer as a confirmed
 * message of `answer` (replacing one in flight; `answer` NULL: recorded
 * due now, for the resend tick to send). ONR_OK, ONR_ENOENT (a
 * manufacturer or operator no longer configured), or the errors of
 * sealing and sending. */
int prov_register(struct onr_service *svc, const struct prov *p, const struct prov_claim *c,
                  const uint8_t sealed[ONR_LABEL_SEALED_LEN], struct onr_answer *answer);

/* policy_update.c: after a reload, every claim whose account's policy is
 * no longer the one its last registration carried is registered again
 * with the new one, a kit's device through its kit (a claim kept from
 * before the sealed claim secret was stored cannot be, nor a kit's while
 * a device of it is released, and is logged). */
void prov_policy_update(struct onr_service *svc, const struct prov *p);

/*
 * relocation.c. prov_relocation_consider: from the transaction of
 * telemetry `t` (a report) of the device claimed as `c`: if the device is
 * in operation and its policy names another operator there than the one
 * whose key we hold, a relocation request to its manufacturer (confirmed
 * delivery, into `answer`). prov_relocation_voucher and
 * prov_relocation_refused: the hooks of the relocation kind (the voucher:
 * relocate sent to the device, event "relocating"). prov_on_no_operator:
 * a manufacturer's notice (type 35).
 */
int prov_relocation_consider(struct onr_service *svc, const struct prov *p,
                             const struct prov_claim *c, const struct onr_telemetry *t,
                             struct onr_answer *answer);
int prov_relocation_voucher(struct onr_service *svc, const struct onr_pending *p,
                            const struct onr_envelope *answer, struct onr_answer *out,
                            void *arg);
int prov_relocation_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                            struct onr_answer *out, void *arg);
int prov_on_no_operator(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg);

/*
 * prov_pair_web: a pairing from the provider's page (page.c), the same as
 * a control tool's but asked by PROV_ASKER_WEB: `label` (its text),
 * `account` and `op` (one of our operators) are borrowed. In a transaction
 * of its own the claim is recorded and its registration sent to the
 * manufacturer. ONR_OK: `dev` names the device (registering, or claimed
 * if this account paired it before). A refusal that changed nothing
 * returns its code with *why, a sentence for the user (ONR_EFORMAT,
 * ONR_ECHARSET, ONR_ELENGTH, ONR_EBADMAC, ONR_EINVAL, ONR_ENOENT,
 * ONR_EEXIST); other errors (ONR_EBUSY, ONR_EIO, ONR_ENOMEM, ...) leave
 * *why NULL.
 */
int prov_pair_web(struct onr_service *svc, const struct prov *p, struct onr_bytes label,
                  struct onr_bytes account, const char *op, char dev[ONR_DEVID_LEN + 1],
                  const char **why);

/*
 * kit_pairing.c: a pairing of a kit label (SPEC section 18).
 * prov_kit_decide_pairing: a control tool's (`req`), from decide_pairing:
 * its answer (an error, or kit_paired when the account holds the kit
 * already) into `answer`, or the kit registration sent. prov_kit_pair_web:
 * the page's, as prov_pair_web, naming the kit in `kit`. The hooks of the
 * kit registration kind: the manufacturer's kit_registered (every device
 * claimed, the asker told kit_paired) and its refusal (passed on with its
 * reason).
 */
int prov_kit_decide_pairing(struct onr_service *svc, const struct prov *p,
                            const struct prov_pairing *req, struct onr_answer *answer);
int prov_kit_pair_web(struct onr_service *svc, const struct prov *p, struct onr_bytes label,
                      struct onr_bytes account, const char *op, char kit[ONR_KIT_ID_LEN + 1],
                      const char **why);
/* prov_kit_register: the kit registration of `k` (its operator, the end
 * user's choice, its policy with its operators' keys, for every device of
 * it) with the kit's claim secret `sealed`, as prov_register sends a
 * device's ("kit/KIT": replacing one in flight; `answer` NULL: recorded
 * due now). */
struct prov_kit;
int prov_kit_register(struct onr_service *svc, const struct prov *p, const struct prov_kit *k,
                      const uint8_t sealed[ONR_LABEL_SEALED_LEN], struct onr_answer *answer);
int prov_kit_registered_hook(struct onr_service *svc, const struct onr_pending *pending,
                             const struct onr_envelope *answer, struct onr_answer *out,
                             void *arg);
int prov_kit_registration_refused(struct onr_service *svc, const struct onr_pending *pending,
                                  int code, struct onr_answer *out, void *arg);

/* page.c: the pairing page, if http_listen is set: started from start()
 * (p->page; ONR_OK also when off; an error is printed), stopped from
 * stop() (accepts a page never started). */
int prov_page_start(struct onr_service *svc, struct prov *p);
void prov_page_stop(struct prov *p);

/* app_key.c: an operator's application key for a device (type 24). */
int prov_on_app_key(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);

/*
 * align.c. prov_alignment_msg: the policy of `k`'s device for its operator
 * (the plan of `account`, its own or "*"), borrowing from `p` and `k`;
 * ONR_ENOENT when no plan applies. prov_align_start: from the transaction
 * that stores `k`: the alignment sent as a confirmed message (without a
 * plan it waits for a reload: prov_align_unplanned sends every alignment
 * that waits so). prov_aligned: the alignment kind's hook.
 */
int prov_alignment_msg(const struct prov *p, const char *account, const struct prov_app_key *k,
                       struct onr_msg *msg);
int prov_align_start(struct onr_service *svc, const struct prov *p, const char *account,
                     const struct prov_app_key *k, struct onr_answer *answer);
void prov_align_unplanned(struct onr_service *svc, const struct prov *p);
int prov_aligned(struct onr_service *svc, const struct onr_pending *p,
                 const struct onr_envelope *answer, struct onr_answer *out, void *arg);

/* enroll.c: an enroll request (type 11); and, from the transaction that
 * stores a device's application key `k`, the enrollment that waited for
 * it (its answer added to `answer`'s extras). */
int prov_on_enroll(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg);
int prov_enroll_waiting(struct onr_service *svc, const struct prov *p,
                        const struct prov_app_key *k, struct onr_answer *answer);
/*
 * Certificates (enroll.c), inside the caller's transaction:
 * prov_cert_issue: a new certificate for `pub` of `dev` from our CA with
 * our cert_lifetime, stored in force (renewing `renewing`, may be NULL)
 * into `out`. prov_revoke_cert: certificate `c` (already marked revoked)
 * revoked at the brokers (type 27 with its notAfter, a confirmed message
 * published with `answer`); prov_cert_revoke_msg builds it (borrowing).
 * prov_revoke_in_force: every certificate in force of `dev` but `keep`
 * (NULL: all) revoked so; *revoked counts them. prov_revocation_needed_until:
 * the time after which no broker needs revocation `request` (a day past
 * its notAfter, when the plugin drops it: SPEC type 27; 0 without one).
 */
struct prov_cert;
int prov_cert_issue(struct onr_service *svc, const struct prov *p, const char *dev,
                    const uint8_t pub[ONR_P256_PUB_LEN], const struct prov_cert *renewing,
                    struct prov_cert *out);
int prov_revoke_cert(struct onr_service *svc, const struct prov_cert *c,
                     struct onr_answer *answer);
int prov_revoke_in_force(struct onr_service *svc, const char *dev, const uint8_t *keep,
                         size_t keep_len, struct onr_answer *answer, size_t *revoked);
void prov_cert_revoke_msg(const char *dev, const uint8_t *serial, size_t serial_len,
                          int64_t not_after, struct onr_msg *msg);
uint64_t prov_revocation_needed_until(const struct onr_msg *request);
/* prov_enroll_response: the enroll response (type 12) answering `env`
 * with `cert`, our CA, our service broker's CA and endpoint, sealed for
 * `topic` into `reply`. */
int prov_enroll_response(struct onr_service *svc, const struct prov *p,
                         const struct onr_envelope *env, const struct prov_cert *cert,
                         const char *topic, struct onr_publication *reply);

/* renew.c: an operational device's renew request (type 38) and renewed
 * (type 39) on onr/1/p/{us}/dev/+/renew (SPEC section 17). */
int prov_on_renew_request(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg);
int prov_on_renewed(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
/* prov_stats: the provider's own counters of service_stats: renewals, and
 * the current certificates expiring within PROV_EXPIRING_WITHIN. */
#define PROV_EXPIRING_WITHIN (7 * 86400)
void prov_stats(struct onr_service *svc, void *arg, struct onr_msg_service_stats *out);

/* release.c: a release or a revocation from a control tool; the release
 * message (borrowing `dev`); the hooks of the release kinds (the refusal's:
 * the manufacturer's leg);
 * prov_seal_to_asker: `msg` for the control tool `asker` (its inbox) into
 * `pub`. */
int prov_seal_to_asker(struct onr_service *svc, const struct onr_msg *msg, const char *asker,
                       struct onr_publication *pub);
int prov_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_revoke_request(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg);
void prov_release_msg(const char *dev, struct onr_msg *msg);
/* prov_release_to: our release of `dev` to `peer` (a manufacturer's or an
 * operator's inbox, by `role`), a confirmed message of `kind` under the
 * key `what`/DEV, into `answer`. */
int prov_release_to(struct onr_service *svc, const char *kind, enum onr_role role,
                    const char *peer, const char *what, const char *dev,
                    struct onr_answer *answer);
int prov_released(struct onr_service *svc, const struct onr_pending *p,
                  const struct onr_envelope *answer, struct onr_answer *out, void *arg);
int prov_release_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                         struct onr_answer *out, void *arg);

#endif /* ONRAMP_PROV_H */
