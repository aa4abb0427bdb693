/*
 * onramp-operator: what its files share.
 *
 *   main.c        configuration: PLMN, APN, number ranges, OP, the
 *                 manufacturers it trusts and the providers it has
 *                 contracts with; the kinds of confirmed messages
 *   schema.c      the database's migrations
 *   subscribers.c the database: subscribers (the AuC), AKA challenges
 *   pool.c        the number pool
 *   lifecycle.c   a subscription's state and its changes
 *   profile.c     step 3c: a voucher -> a subscription, sealed to the device,
 *                 with the first attach challenge
 *   attach.c      step 3c: the AKA run (challenges, attach request, response)
 *   attached.c    what an attach sends: the grant at the broker and the
 *                 provider's application key, confirmed delivery both
 *   align.c       step 5: a provider's policy for one of its devices
 *   release.c     a provider gives up a device: its subscription suspended,
 *                 its grant revoked
 */
#ifndef ONRAMP_OP_H
#define ONRAMP_OP_H

#include <stdint.h>

#include "lifecycle.h"
#include "onramp/journey.h"
#include "onramp/policy.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"
#include "pool.h"
#include "subscribers.h"

/* The kinds of confirmed messages (attached.c, release.c). */
#define OP_KIND_GRANT "grant"
#define OP_KIND_REVOKE "revoke"
#define OP_KIND_APP_KEY "app_key"

#define OP_SERVES_MAX 64

struct op {
    uint8_t op[16];                /* Milenage OP: secret, never logged */
    char plmn[7];                  /* MCC || MNC */
    char apn[101];
    uint8_t amf[2];
    struct op_ranges ranges;
    struct onr_peers manufacturers; /* trusted: their voucher keys */
    struct onr_peers providers;     /* contracts: signing and sealing keys */
    uint64_t resend;                /* seconds before an unconfirmed message is first resent */
    uint64_t challenge_lifetime;    /* seconds a challenge may be answered */
    /* the countries (MCCs) it serves (`serves`); none listed: any */
    char serves[OP_SERVES_MAX][ONR_MCC_LEN + 1];
    size_t n_serves;
};

/* op_serves: whether the operator serves the country of `plmn` (a checked
 * PLMN; NULL or empty: a device that reported none, served). */
int op_serves(const struct op *o, const char *plmn, size_t len);

/* schema.c */
extern const struct onr_db_schema op_schema;

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
/*
 * op_challenge_new: a new AKA challenge for `sub` into `v` (SPEC section
 * 13), inside the caller's transaction: its SQN the next after `base` (the
 * stored one, or the device's after a resync), stored as sub->sqn by a
 * conditional update (ONR_EBUSY if another instance moved the SQN since
 * `sub` was read: the message is then handled again), and the challenge
 * (RAND, SQN) stored to be answered once. `v` holds CK, IK and XRES: the
 * caller wipes it.
 */
int op_challenge_new(struct onr_service *svc, struct op_subscriber *sub, uint64_t base,
                     struct onr_aka_vector *v);
int op_on_attach_request(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg);
int op_on_attach_response(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg);

/*
 * attached.c. op_attached: from inside the attach transaction: `sub`
 * takes the attach (kid, K_AF sealed to its provider), and the grant and
 * the provider's key go out as confirmed messages with `answer`.
 */
int op_attached(struct onr_service *svc, struct op *o, struct op_subscriber *sub,
                const uint8_t kid[16], const uint8_t k_af[32], struct onr_answer *answer);

/* The hook of the key kind (main.c lists the kinds): a provider stored a
 * key (logged). See <onramp/svc_delivery.h>. */
int op_key_stored(struct onr_service *svc, const struct onr_pending *p,
                  const struct onr_envelope *answer, struct onr_answer *out, void *arg);

/* The messages and their keys in `pending` (attached.c; the migrations
 * build them too): one grant-or-revoke per device at the broker, one key
 * per device for its provider. The message borrows its arguments. */
void op_grant_msg(const char *dev, const char *prov, struct onr_msg *msg);
void op_revoke_msg(const char *dev, struct onr_msg *msg);
void op_app_key_msg(const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
                    const uint8_t sealed[ONR_SEALED_APP_KEY_LEN], const char *imsi,
                    const char *iccid, struct onr_msg *msg);
void op_grant_key(const char *dev, char *out, size_t cap);
void op_app_key_key(const char *dev, char *out, size_t cap);

/* release.c */
int op_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg);

/* align.c */
int op_on_alignment(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);

#endif /* ONRAMP_OP_H */
