/*
 * What a device's operator sends its provider after the attach: the
 * device's application key (sealed to us, opened only when the device
 * enrolls) with its subscription, and the alignment of its policy (step 5)
 * the provider sends back. Every function runs inside the caller's
 * transaction.
 */
#ifndef ONRAMP_PROV_KEYS_H
#define ONRAMP_PROV_KEYS_H

#include <stdint.h>

#include "onramp/akma.h"
#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"
#include "onramp/svc_db.h"

/* The latest application key of an attached device, as its operator sealed
 * it to us, and its subscription. */
struct prov_app_key {
    char dev[ONR_DEVID_LEN + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    char imsi[16];
    char iccid[21];
    uint64_t sqn;               /* of the attach that made it: its order */
    uint8_t re[ONR_MSG_ID_LEN]; /* the last envelope of it received (zeros:
                                 * stored before alignments named it) */
};

/* prov_key_order_take: `sqn` is the newest key of `dev` from operator
 * `op` (SPEC type 24), if it is above the highest taken from that operator
 * before (one conditional write: zero rows written means another instance,
 * or an earlier message, took a key as new or newer): ONR_OK, ONR_EEXIST,
 * or the database's errors. */
int prov_key_order_take(struct onr_db *db, const char *dev, const char *op, uint64_t sqn);
/* prov_app_key_put: store `k`, replacing the device's older one. */
int prov_app_key_put(struct onr_db *db, const struct prov_app_key *k, uint64_t now);
/* prov_app_key_get: the device's key, or ONR_ENOENT. */
int prov_app_key_get(struct onr_db *db, const char *dev, struct prov_app_key *out);
/* prov_app_key_answered: the key held for `dev` came again in envelope
 * `re`, which its alignments name from now on. */
int prov_app_key_answered(struct onr_db *db, const char *dev, const uint8_t re[ONR_MSG_ID_LEN]);

/* The alignment of `dev` with operator `op`: started (unconfirmed; a new
 * operator starts anew), confirmed (the operator stored the policy). */
int prov_alignment_start(struct onr_db *db, const char *dev, const char *op);
int prov_alignment_done(struct onr_db *db, const char *dev, uint64_t now);

#endif
