/*
 * onramp-provider: what its files share.
 *
 *   main.c      configuration: the manufacturers, operators and control
 *               tools it works with
 *   claims.c    the database: the devices its users claimed
 *   pairing.c   step 1: a pairing from onrampctl -> claim -> registration
 *               with the manufacturer (step 2) -> answer to onrampctl
 *   app_key.c   after step 3c: an operator's sealed application key for an
 *               attached device, stored for its enrollment
 *   enroll.c    step 4: a device's CSR -> its service certificate
 *   certs.c     the database: certificates, enrollments waiting for a key
 *   delivery.c  revocations at the broker and alignments (step 5) with the
 *               operators, resent until confirmed
 *   release.c   a control tool releases a device: certificate revoked,
 *               manufacturer and operator told
 *   journey.c   a device's journey for the page, and its first telemetry
 *               (operational)
 *   page.c      the pairing page (http_listen): a form that pairs like
 *               onrampctl, and each device's journey, live (page.h)
 */
#ifndef ONRAMP_PROV_H
#define ONRAMP_PROV_H

#include <stdint.h>

#include "onramp/hpke.h"
#include "onramp/p256.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"

struct prov_app_key;
struct prov_page;
struct prov_release;
struct prov_revocation;

#define PROV_MAX_PLANS 32

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
    uint64_t cert_days;
    uint64_t retry_after;                    /* seconds, in pending answers */
    uint64_t resend;                         /* seconds before resending */
    struct prov_plan plans[PROV_MAX_PLANS];
    size_t n_plans;
    struct prov_page *page;                  /* NULL: no page */
};

/* pairing.c: the handlers on onr/1/s/prov/{us}/in. */
int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_registered(struct onr_service *svc, const struct onr_envelope *env,
                       const char *topic, void *arg);
/*
 * prov_pair_web: a pairing from the provider's page (page.c), the same as
 * a control tool's but asked by PROV_ASKER_WEB: `label` (its text),
 * `account` and `op` (one of our operators) are borrowed. In a transaction
 * of its own the claim is recorded, then its registration sent to the
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

/* page.c: the pairing page, if http_listen is set: started from start()
 * (p->page; ONR_OK also when off; an error is printed), stopped from
 * stop() (accepts a page never started). */
int prov_page_start(struct onr_service *svc, struct prov *p);
void prov_page_stop(struct prov *p);

/* app_key.c: an operator's application key for a device (type 24). */
int prov_on_app_key(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_mfr_error(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg);

/* enroll.c: an enroll request (type 11); and, from the transaction that
 * stores a device's application key `k`, the enrollment that waited for
 * it (its answer added to `answer`'s extras). */
int prov_on_enroll(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg);
int prov_enroll_waiting(struct onr_service *svc, const struct prov *p,
                        const struct prov_app_key *k, struct onr_answer *answer);

/* release.c: a release from a control tool; the answers of the
 * manufacturer and the operator; a release resent (both envelopes into
 * `pubs`, *n of them; inside the caller's transaction). */
int prov_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_released(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                     void *arg);
/* release.c too: a control tool's revocation of a device's certificate. */
int prov_on_revoke_request(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg);
int prov_release_resend(struct onr_service *svc, const struct prov_release *r,
                        struct onr_publication pubs[2], size_t *n);

/* delivery.c: a revocation or an alignment into `pub`, recorded as sent
 * (inside the caller's transaction); the confirmations; the resend tick. */
int prov_revoke_send(struct onr_service *svc, const struct prov_revocation *r,
                     struct onr_publication *pub);
int prov_align_send(struct onr_service *svc, const struct prov *p, const struct prov_app_key *k,
                    struct onr_publication *pub);
int prov_on_control_result(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg);
int prov_on_aligned(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
void prov_tick(struct onr_service *svc, void *arg);

#endif /* ONRAMP_PROV_H */
