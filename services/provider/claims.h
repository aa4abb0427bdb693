/*
 * The provider's claims: which of its accounts claimed which device, with
 * which operator, and the device's state (lifecycle.c); the releases of
 * claims in flight; the manufacturer's refusals of pairings made on the
 * page; each device's first telemetry. Every function runs inside the
 * caller's transaction.
 */
#ifndef ONRAMP_PROV_CLAIMS_H
#define ONRAMP_PROV_CLAIMS_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/label.h"
#include "onramp/msg.h"
#include "onramp/policy.h"
#include "onramp/svc_db.h"

#define PROV_ACCOUNT_MAX 64

/* The steps in the order a device passes them at its provider: the state
 * of its claim (stored; lifecycle.h has its transitions). The zero value
 * is no claim at all. */
enum prov_step {
    PROV_STEP_NONE = 0,
    PROV_STEP_REGISTERING, /* paired: registering with the manufacturer */
    PROV_STEP_CLAIMED,     /* the manufacturer confirmed the registration */
    PROV_STEP_ATTACHED,    /* its operator's application key is stored */
    PROV_STEP_ENROLLED,    /* it has a service certificate in force */
    PROV_STEP_OPERATIONAL, /* its first telemetry came on our service broker */
    PROV_STEP_COUNT
};

struct prov_claim {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];    /* the registration's operator */
    int user;                           /* `op` is the end user's choice */
    char policy[ONR_POLICY_TEXT_MAX + 1]; /* the last registration's policy; "" none */
    enum prov_step state;
    uint8_t pairing_id[ONR_MSG_ID_LEN]; /* the pairing to answer */
    char asker[ONR_SERVICE_ID_MAX + 1]; /* the control tool that asked, or PROV_ASKER_WEB */
};

/* The asker of a pairing made on the provider's own page (page.c): not a
 * service id (those never start with '@'), so never a control tool's. */
#define PROV_ASKER_WEB "@web"

/* prov_claim_get: ONR_OK with the claim on `dev`, or ONR_ENOENT. */
int prov_claim_get(struct onr_db *db, const char *dev, struct prov_claim *out);
/* prov_claim_put: a new claim (registering), or a retry of one still
 * registering (its asker, pairing and operator replaced), with the claim
 * secret as sealed to its manufacturer (`sealed`, ONR_LABEL_SEALED_LEN
 * bytes: only the manufacturer opens it; NULL for a kit's device), kept to
 * register the device again when its policy changes. */
int prov_claim_put(struct onr_db *db, const struct prov_claim *c,
                   const uint8_t sealed[ONR_LABEL_SEALED_LEN], uint64_t now);
/* prov_claim_sealed: that sealed claim secret (ONR_ENOENT for a claim
 * made before it was kept). prov_claim_set_policy: the policy a new
 * registration of the claim carries. */
int prov_claim_sealed(struct onr_db *db, const char *dev, uint8_t out[ONR_LABEL_SEALED_LEN]);
int prov_claim_set_policy(struct onr_db *db, const char *dev, const char *policy);

/* The two above for any table keyed by one text column (kits.c too):
 * `sql` reads a sealed claim secret, or writes a policy (?2, NULL when
 * empty), of row `key` (?1). */
int prov_sealed_read(struct onr_db *db, const char *sql, const char *key,
                     uint8_t out[ONR_LABEL_SEALED_LEN]);
int prov_policy_write(struct onr_db *db, const char *sql, const char *key, const char *policy);
/* The claim's state and when it was confirmed (lifecycle.c). */
int prov_claim_set_state(struct onr_db *db, const char *dev, enum prov_step state);
int prov_claim_confirmed(struct onr_db *db, const char *dev, uint64_t now);
/* prov_claim_get_locked: prov_claim_get with the claim's row held by this
 * transaction (a write that changes nothing, in one statement with the
 * read): another instance's transaction that takes it waits for this
 * one's commit, then reads what it wrote. ONR_ENOENT: no claim.
 * prov_claim_lock: the same, for a caller that needs no claim read. */
int prov_claim_get_locked(struct onr_db *db, const char *dev, struct prov_claim *out);
int prov_claim_lock(struct onr_db *db, const char *dev);
/* prov_claim_drop: forget a claim the manufacturer refused. */
int prov_claim_drop(struct onr_db *db, const char *dev);
/* prov_device_forget: a released device: its claim, key, alignment,
 * operational mark, roaming row and any refusal noted for the page. */
int prov_device_forget(struct onr_db *db, const char *dev);

/* A release in flight: the control tool `asker` hears "released" (the
 * answer to `request_id`) once the manufacturer confirms. */
struct prov_release {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    char asker[ONR_SERVICE_ID_MAX + 1];
    uint8_t request_id[ONR_MSG_ID_LEN];
};
int prov_release_put(struct onr_db *db, const struct prov_release *r, uint64_t now);
int prov_release_get(struct onr_db *db, const char *dev, struct prov_release *out);

/* Where a device is and where it goes (SPEC sections 15 and 16): the PLMN
 * its last telemetry reported ("" none), the operator a relocation under
 * way moves it to ("" none) and since when, the relocations it completed,
 * the last one's time and the operator it left then; the PLMN of the last
 * hello answered ENOOPERATOR and when we heard of it. */
struct prov_roaming_row {
    char plmn[ONR_PLMN_MAX + 1];
    char target[ONR_SERVICE_ID_MAX + 1];
    uint64_t relocating_at;
    uint64_t relocations;
    uint64_t relocated_at;
    char prev_op[ONR_SERVICE_ID_MAX + 1];
    char no_operator_plmn[ONR_PLMN_MAX + 1];
    uint64_t no_operator_at;
};
/* prov_roaming_get: the row of `dev` (all zero and ONR_OK when none). */
int prov_roaming_get(struct onr_db *db, const char *dev, struct prov_roaming_row *out);
/* prov_reported: the device's telemetry reported `plmn` at `now`. */
int prov_reported(struct onr_db *db, const char *dev, const char *plmn, uint64_t now);
/* prov_relocating: a relocation to `target` is under way since `now`. */
int prov_relocating(struct onr_db *db, const char *dev, const char *target, uint64_t now);
/* prov_relocated: the relocation is done: counted, `prev_op` left. */
int prov_relocated(struct onr_db *db, const char *dev, const char *prev_op, uint64_t now);
/* prov_no_operator: its manufacturer found no operator for it in `plmn`
 * ("" none). */
int prov_no_operator(struct onr_db *db, const char *dev, const char *plmn, uint64_t now);

/* The first telemetry of a device: recorded once (a later one keeps the
 * first time). */
int prov_operational_put(struct onr_db *db, const char *dev, uint64_t now);

/* The manufacturer's refusal of a pairing made on the page, for the page
 * to show (a control tool hears it instead): one per device, the latest.
 * `reason` is copied (at most 127 bytes kept). prov_web_refusal_get:
 * ONR_OK with the reason (`cap` bytes) and its time, or ONR_ENOENT. */
int prov_web_refusal_put(struct onr_db *db, const char *dev, const char *reason, uint64_t now);
int prov_web_refusal_get(struct onr_db *db, const char *dev, char *reason, size_t cap,
                         uint64_t *at);

#endif /* ONRAMP_PROV_CLAIMS_H */
