/*
 * The provider's kit claims (proto/SPEC.md section 18): which of its
 * accounts claimed a kit by its kit label, with which operator, whether
 * the manufacturer registered it (then every device of it has a claim of
 * its own, claims.h), and the kit's devices as the manufacturer named
 * them. Every function runs inside the caller's transaction.
 */
#ifndef ONRAMP_PROV_KITS_H
#define ONRAMP_PROV_KITS_H

#include <stdint.h>

#include "claims.h"
#include "onramp/label.h"

struct prov_kit {
    char kit[ONR_KIT_ID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    int user;                           /* `op` is the end user's choice */
    char policy[ONR_POLICY_TEXT_MAX + 1]; /* its registration's last policy; "" none */
    int registered;                     /* the manufacturer registered it */
    uint8_t pairing_id[ONR_MSG_ID_LEN]; /* the pairing to answer */
    char asker[ONR_SERVICE_ID_MAX + 1]; /* a control tool, or PROV_ASKER_WEB */
    char devs[ONR_KIT_DEVICES_MAX][ONR_DEVID_LEN + 1]; /* once registered */
    size_t n_devs;
};

/* prov_kit_get: the claim on `kit` with its devices; ONR_ENOENT. */
int prov_kit_get(struct onr_db *db, const char *kit, struct prov_kit *out);
/* prov_kit_put: a new kit claim (registering), or a pairing of one again
 * (its asker, pairing, policy and sealed claim secret replaced; its
 * account, operator, end user's choice and devices kept). */
int prov_kit_put(struct onr_db *db, const struct prov_kit *k,
                 const uint8_t sealed[ONR_LABEL_SEALED_LEN], uint64_t now);
/* prov_kit_sealed: the kit's claim secret as its last registration sealed
 * it (ONR_ENOENT: none kept, a kit claimed by an older version).
 * prov_kit_set_policy: the policy its registration again carries. */
int prov_kit_sealed(struct onr_db *db, const char *kit, uint8_t out[ONR_LABEL_SEALED_LEN]);
int prov_kit_set_policy(struct onr_db *db, const char *kit, const char *policy);
/* prov_kit_registered: the manufacturer registered the kit: its devices
 * (`k`'s) recorded. */
int prov_kit_registered(struct onr_db *db, const struct prov_kit *k, uint64_t now);
/* prov_kit_drop: a kit claim the manufacturer refused, forgotten. */
int prov_kit_drop(struct onr_db *db, const char *kit);
/* prov_kit_held: 1 if `k` is registered and its account holds a confirmed
 * claim on every device of it, else 0; <0 an error. */
int prov_kit_held(struct onr_db *db, const struct prov_kit *k);
/* prov_kit_of: the kit device `dev` came with (ONR_ENOENT: none). */
int prov_kit_of(struct onr_db *db, const char *dev, char kit[ONR_KIT_ID_LEN + 1]);

#endif
