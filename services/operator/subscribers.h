/*
 * The operator's database: its subscribers (the AuC: Ki, OPc, AMF and the
 * last SQN issued, per device), the number pool and the AKA challenges in
 * flight. Every function runs inside the caller's transaction (the
 * service's handle_once) unless it says otherwise.
 */
#ifndef ONRAMP_OP_AUC_H
#define ONRAMP_OP_AUC_H

#include <stdint.h>

#include "onramp/aka.h"
#include "onramp/akma.h"
#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"
#include "onramp/svc_db.h"

#define AUC_VERSION 1
extern const char auc_schema[];

/* The number ranges subscriptions are drawn from, as configured. ICCIDs
 * are configured without their Luhn check digit, which is appended. */
struct auc_ranges {
    uint64_t imsi_first, imsi_last;
    unsigned imsi_digits;  /* 6..15 */
    uint64_t iccid_first, iccid_last;
    unsigned iccid_digits; /* 18..19, the check digit excluded */
};

/* auc_pool_size: how many subscriptions the ranges hold. */
uint64_t auc_pool_size(const struct auc_ranges *r);

/* auc_luhn: the Luhn check digit ('0'..'9') of the digits `body`. */
char auc_luhn(const char *body);

struct auc_subscriber {
    char dev[ONR_DEVID_LEN + 1];
    uint64_t slot;
    char imsi[16];
    char iccid[21];
    struct onr_aka_subscriber keys; /* Ki, OPc, AMF: secret */
    uint64_t sqn;                   /* the last SQN issued */
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    int attached;
    int suspended;                  /* released by its provider */
    uint8_t kid[ONR_AKMA_KID_LEN];  /* valid when attached */
};

/* auc_subscriber: the device's subscription, or ONR_ENOENT. The caller
 * wipes `out` (it holds Ki). */
int auc_subscriber(struct onr_db *db, const char *dev, struct auc_subscriber *out);

/* What a status_request is told of a subscription (no secrets). */
struct auc_status {
    const char *state;   /* "allocated", "attached", "aligned", "suspended" (static) */
    uint64_t profiled;   /* created_at */
    uint64_t attached;   /* attached_at, 0: not (yet) */
    uint64_t aligned;    /* aligned_at, 0: not (yet) */
};

/* auc_status: the subscription of `dev` (borrowed) into `out`; ONR_OK,
 * ONR_ENOENT (none), or the database's errors. */
int auc_status(struct onr_db *db, const char *dev, struct auc_status *out);

/*
 * auc_allocate: a new subscription for `dev` (which has none): the next
 * slot of the pool, its IMSI and ICCID, a fresh Ki and its OPc from `op`.
 * ONR_OK, ONR_EEXHAUSTED (pool used up), ONR_EEXIST (a number already
 * taken: the ranges were changed to overlap), database errors.
 */
int auc_allocate(struct onr_db *db, const struct auc_ranges *r, const char *dev,
                 const char *mfr, const char *prov, const uint8_t op[16], const uint8_t amf[2],
                 uint64_t now, struct auc_subscriber *out);

/* auc_set_owner: the manufacturer and provider of the latest voucher (a
 * suspended subscription is active again). */
int auc_set_owner(struct onr_db *db, const char *dev, const char *mfr, const char *prov);
/* auc_suspend: its provider released the device: detached, no grant, no
 * key, no policy; the numbers and keys stay for its next voucher. */
int auc_suspend(struct onr_db *db, const char *dev);

/* auc_set_sqn: the last SQN issued (never lowered by the caller). */
int auc_set_sqn(struct onr_db *db, const char *dev, uint64_t sqn);

/* auc_align: the policy of the device's provider (step 5). */
int auc_align(struct onr_db *db, const char *dev, uint64_t qos, const char *charging,
              uint64_t cap, uint64_t now);

/* Challenges: stored when sent; taken (once) by the response. */
int auc_challenge_put(struct onr_db *db, const char *dev, const uint8_t rand[16], uint64_t sqn,
                      uint64_t now);
/* auc_challenge_take: the SQN of the unused challenge `rand` of `dev` made
 * at or after `not_before`, marking it used; ONR_ENOENT otherwise. */
int auc_challenge_take(struct onr_db *db, const char *dev, const uint8_t rand[16],
                       uint64_t not_before, uint64_t *sqn);
/* auc_challenges_prune: forget challenges made before `before`. */
int auc_challenges_prune(struct onr_db *db, uint64_t before);

/* auc_attach: the subscriber attached with `kid`; `sealed_key` (K_AF
 * sealed to its provider) waits for the provider's confirmation. The grant
 * and the key count as unconfirmed. */
int auc_attach(struct onr_db *db, const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
               const uint8_t sealed_key[ONR_SEALED_APP_KEY_LEN], uint64_t now);

/* What an attached device still needs delivered. */
struct auc_delivery {
    char dev[ONR_DEVID_LEN + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    char imsi[16];
    char iccid[21];
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t sealed_key[ONR_SEALED_APP_KEY_LEN];
    int granted;
    int key_stored;
};

/* auc_sent: the grant and key envelopes just sent for `dev` (either id may
 * be NULL when that one was not sent), at `now`. */
int auc_sent(struct onr_db *db, const char *dev, const uint8_t *grant_id,
             const uint8_t *key_id, uint64_t now);
/* auc_grant_confirmed: the grant `id` is in force; ONR_ENOENT if no
 * subscriber's latest grant has that id. */
int auc_grant_confirmed(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN]);
/* auc_key_confirmed: `prov` stored the key of `dev` sent as `id`. */
int auc_key_confirmed(struct onr_db *db, const char *dev, const char *prov,
                      const uint8_t id[ONR_MSG_ID_LEN]);
/* auc_unconfirmed: up to `max` deliveries last sent before `before`, into
 * `out`; *n their number. Outside or inside a transaction. */
int auc_unconfirmed(struct onr_db *db, uint64_t before, struct auc_delivery *out, size_t max,
                    size_t *n);

#endif /* ONRAMP_OP_AUC_H */
