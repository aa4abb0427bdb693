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
#include "onramp/msg.h"
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
    char op[ONR_SERVICE_ID_MAX + 1];
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
 * registering (its asker, pairing and operator replaced). */
int prov_claim_put(struct onr_db *db, const struct prov_claim *c, uint64_t now);
/* The claim's state and when it was confirmed (lifecycle.c). */
int prov_claim_set_state(struct onr_db *db, const char *dev, enum prov_step state);
int prov_claim_confirmed(struct onr_db *db, const char *dev, uint64_t now);
/* prov_claim_drop: forget a claim the manufacturer refused. */
int prov_claim_drop(struct onr_db *db, const char *dev);
/* prov_device_forget: a released device: its claim, key, alignment,
 * operational mark and any refusal noted for the page. */
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
