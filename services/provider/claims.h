/*
 * The provider's claims: which of its accounts claimed which device, with
 * which operator, and how far registering it with its manufacturer got.
 * A claim is "registering" until the manufacturer confirms, then
 * "claimed"; a refused registration removes it (a claim with a wrong
 * secret leaves nothing behind). Also the application keys operators send
 * for attached devices.
 */
#ifndef ONRAMP_PROV_CLAIMS_H
#define ONRAMP_PROV_CLAIMS_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"
#include "onramp/svc_db.h"

#define PROV_CLAIMS_VERSION 1
#define PROV_ACCOUNT_MAX 64

extern const char prov_claims_schema[];

enum prov_claim_state { PROV_CLAIM_REGISTERING = 0, PROV_CLAIM_CLAIMED = 1 };

struct prov_claim {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    enum prov_claim_state state;
    uint8_t pairing_id[ONR_MSG_ID_LEN];       /* the pairing to answer */
    char asker[ONR_SERVICE_ID_MAX + 1];       /* the control tool that asked */
    uint8_t registration_id[ONR_MSG_ID_LEN];  /* our registration in flight */
};

/* prov_claim_get: ONR_OK with the claim on `dev`, or ONR_ENOENT. */
int prov_claim_get(struct onr_db *db, const char *dev, struct prov_claim *out);
/* prov_claim_by_registration: the claim whose registration `id` is. */
int prov_claim_by_registration(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN],
                               struct prov_claim *out);
/* prov_claim_put: insert or replace the claim on c->dev. */
int prov_claim_put(struct onr_db *db, const struct prov_claim *c, uint64_t now);
/* prov_claim_confirm: registering -> claimed. */
int prov_claim_confirm(struct onr_db *db, const char *dev, uint64_t now);
/* prov_claim_drop: forget a claim the manufacturer refused. */
int prov_claim_drop(struct onr_db *db, const char *dev);

/* prov_app_key_put: the application key of `dev` from operator `op` (as
 * sealed to us), replacing an older one. */
int prov_app_key_put(struct onr_db *db, const char *dev, const char *op,
                     const uint8_t kid[ONR_AKMA_KID_LEN],
                     const uint8_t sealed[ONR_SEALED_APP_KEY_LEN], uint64_t now);

#endif /* ONRAMP_PROV_CLAIMS_H */
