/*
 * onramp-operator: what its files share.
 *
 *   main.c      configuration: PLMN, APN, number ranges, OP, the
 *               manufacturers it trusts and the providers it has contracts
 *               with
 *   auc.c       the database: subscribers (the AuC), the pool, challenges
 *   profile.c   step 3c: a voucher -> a subscription, sealed to the device
 *   attach.c    step 3c: the AKA run (attach request, response)
 *   delivery.c  after an attach: the grant at the broker, the provider's
 *               application key, events; resent until confirmed
 *   align.c     step 5: a provider's policy for one of its devices
 *   release.c   a provider gives up a device: its subscription suspended
 */
#ifndef ONRAMP_OP_H
#define ONRAMP_OP_H

#include <stdint.h>

#include "auc.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"

#define OP_CONTROL_TOPIC "$CONTROL/onramp/v1"
#define OP_CONTROL_RESPONSE "$CONTROL/onramp/v1/response"

struct op {
    uint8_t op[16];                /* Milenage OP: secret, never logged */
    char plmn[7];                  /* MCC || MNC */
    char apn[101];
    uint8_t amf[2];
    struct auc_ranges ranges;
    struct onr_peers manufacturers; /* trusted: their voucher keys */
    struct onr_peers providers;     /* contracts: signing and sealing keys */
    uint64_t retry_after;           /* seconds, in pending answers */
    uint64_t resend;                /* seconds before an unconfirmed grant or key is resent */
    uint64_t challenge_lifetime;    /* seconds a challenge may be answered */
};

/*
 * op_from_device: what every device message goes through first: the
 * device its topic names (and sends it), its down topic, freshness and
 * replay (a stale message is answered ESTALE). ONR_OK for a new message or
 * a duplicate (answered from the outbox), else the error to log.
 */
int op_from_device(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   char dev[ONR_DEVID_LEN + 1], char down[ONR_TOPIC_MAX + 1]);

/* profile.c */
int op_on_profile_request(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg);

/* attach.c */
int op_on_attach_request(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg);
int op_on_attach_response(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg);

/*
 * delivery.c. op_attached: from inside the attach transaction, record the
 * sealed application key and queue (as extras of `answer`) the grant, the
 * key for the provider and the event; the resend tick repeats what is not
 * confirmed. op_event: an event envelope into `pub`.
 */
int op_attached(struct onr_service *svc, struct op *o, const struct auc_subscriber *sub,
                const uint8_t kid[16], const uint8_t k_af[32], struct onr_answer *answer);
int op_event(struct onr_service *svc, const char *dev, const char *step,
             struct onr_publication *pub);
int op_on_control_result(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg);
/* release.c */
int op_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg);

/* align.c */
int op_on_alignment(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int op_on_app_key_stored(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg);
void op_resend_tick(struct onr_service *svc, void *arg);

#endif /* ONRAMP_OP_H */
