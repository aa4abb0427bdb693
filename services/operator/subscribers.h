/*
 * The operator's subscribers, its AuC: per device the subscription drawn
 * from the number pool (pool.c), its secrets (Ki, OPc, AMF), the last SQN
 * issued, its owners (manufacturer, provider), its state (lifecycle.c),
 * the key of its last attach and the policy its provider aligned. Every
 * function runs inside the caller's transaction.
 */
#ifndef ONRAMP_OP_SUBSCRIBERS_H
#define ONRAMP_OP_SUBSCRIBERS_H

#include <stdint.h>

#include "onramp/aka.h"
#include "onramp/akma.h"
#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"
#include "onramp/svc_db.h"

struct op_ranges;

struct op_subscriber {
    char dev[ONR_DEVID_LEN + 1];
    uint64_t slot;
    char imsi[16];
    char iccid[21];
    struct onr_aka_subscriber keys; /* Ki, OPc, AMF: secret */
    uint64_t sqn;                   /* the last SQN issued */
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    int state;                      /* enum op_state (lifecycle.h) */
    uint8_t kid[ONR_AKMA_KID_LEN];  /* of the last attach; zeros before */
};

/* op_sub_get: the device's subscription, or ONR_ENOENT. The caller wipes
 * `out` (it holds Ki). op_sub_get_locked: the same, its row locked until
 * the transaction ends: how every handler that steps it reads it
 * (lifecycle.h). */
int op_sub_get(struct onr_db *db, const char *dev, struct op_subscriber *out);
int op_sub_get_locked(struct onr_db *db, const char *dev, struct op_subscriber *out);

/*
 * op_sub_allocate: a new subscription for `dev` (which has none), in state
 * allocated: the next slot of the pool and its numbers, a fresh Ki and its
 * OPc from `op`. ONR_OK, ONR_EEXHAUSTED (pool used up), ONR_EEXIST (a
 * number already taken: the ranges were changed to overlap), database
 * errors. The caller wipes `out`.
 */
int op_sub_allocate(struct onr_db *db, const struct op_ranges *r, const char *dev,
                    const char *mfr, const char *prov, const uint8_t op[16],
                    const uint8_t amf[2], uint64_t now, struct op_subscriber *out);

/* The changes lifecycle.c makes as it moves a subscription (those of an
 * event set its new `state` in the same write, negative: the state is
 * left as stored; ONR_ENOENT: no such row): */
int op_sub_set_state(struct onr_db *db, const char *dev, int state);
/* the manufacturer and provider of its latest voucher */
int op_sub_set_owner(struct onr_db *db, const char *dev, const char *mfr, const char *prov);
/* attached with `kid` in the run of challenge `sqn`; `sealed_key` is K_AF
 * sealed to its provider. Only a run newer than the one whose key it holds
 * is taken (one conditional write: of two instances, the one that finds a
 * newer run stored changes nothing): ONR_EEXIST for an older one. */
int op_sub_attach(struct onr_db *db, const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
                  const uint8_t sealed_key[ONR_SEALED_APP_KEY_LEN], uint64_t sqn, uint64_t now,
                  int state);
/* its provider's policy (step 5) */
int op_sub_align(struct onr_db *db, const char *dev, uint64_t qos, const char *charging,
                 uint64_t cap, uint64_t now, int state);
/* released: no key, no policy; the numbers and secrets stay for its next
 * voucher */
int op_sub_forget_attach(struct onr_db *db, const char *dev, int state);

/* op_sub_set_sqn: the last SQN issued is `sqn` (never lowered by the
 * caller), if it still was `old`: ONR_EBUSY when another instance advanced
 * it meanwhile. */
int op_sub_set_sqn(struct onr_db *db, const char *dev, uint64_t old, uint64_t sqn);

/* What a status_request is told of a subscription (no secrets). */
struct op_status {
    int state;           /* enum op_state */
    uint64_t profiled;   /* created_at */
    uint64_t attached;   /* attached_at, 0: not (yet) */
    uint64_t aligned;    /* aligned_at, 0: not (yet) */
};
/* op_sub_status: ONR_OK, ONR_ENOENT (none), or the database's errors. */
int op_sub_status(struct onr_db *db, const char *dev, struct op_status *out);

/* AKA challenges: stored when sent; taken (once) by the response. */
int op_challenge_put(struct onr_db *db, const char *dev, const uint8_t rand[16], uint64_t sqn,
                     uint64_t now);
/* op_challenge_take: the SQN of the unused challenge `rand` of `dev` made
 * at or after `not_before`, marking it used; ONR_ENOENT otherwise. */
int op_challenge_take(struct onr_db *db, const char *dev, const uint8_t rand[16],
                      uint64_t not_before, uint64_t *sqn);
/* op_challenges_prune: forget challenges made before `before`. */
int op_challenges_prune(struct onr_db *db, uint64_t before);

#endif /* ONRAMP_OP_SUBSCRIBERS_H */
