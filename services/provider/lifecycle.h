/*
 * A device's state at its provider (enum prov_step, claims.h), and every
 * change of it in one function (lifecycle.c), each logged from -> to:
 *
 *   registering --registered--> claimed, or attached when its key came
 *                               first (the manufacturer's answer was late)
 *   claimed     --key stored--> attached      (elsewhere the key is kept)
 *   attached    --enrolled-->   enrolled      (enrolled, operational: kept)
 *   enrolled    --telemetry-->  operational   (the first time recorded)
 *   enrolled, operational --revoked--> attached (no certificate in force)
 *
 * A pairing creates the claim (registering); a refusal by the
 * manufacturer or a release removes it (claims.c).
 */
#ifndef ONRAMP_PROV_LIFECYCLE_H
#define ONRAMP_PROV_LIFECYCLE_H

#include <stdint.h>

#include "claims.h"

enum prov_event { PROV_REGISTERED, PROV_KEY_STORED, PROV_ENROLLED_EV, PROV_TELEMETRY,
                  PROV_REVOKED };

/*
 * prov_device_step: claim `c` (its state updated here too) takes `event`
 * at `now`, inside the caller's transaction. `c` must have been read in
 * that transaction with prov_claim_get_locked, before anything the step
 * depends on: instances stepping one device then take turns, and each sees
 * the other's step. (Read unlocked, a "registered" and a "key stored"
 * taken at once by two instances each saw the other's step not yet done:
 * the claim stayed "claimed" with its key stored, and the device's
 * enrollment was refused for ever.) `has_key`: for PROV_REGISTERED,
 * whether the device's key is stored already, read after that lock. ONR_OK,
 * ONR_EPERM (no such transition: enrolling before the claim is confirmed),
 * or the database's errors.
 */
int prov_device_step(struct onr_db *db, struct prov_claim *c, enum prov_event event,
                     int has_key, uint64_t now);

/* The journey's names (<onramp/journey.h>) of a step of ours, static:
 * prov_step_name: "registering" ... "operational" (the status words;
 * "unknown" for none); prov_state_name: "REGISTERING", "CLAIMED",
 * "NETWORK_ATTACHED", "ENROLLED", "OPERATIONAL" (the page's; "UNCLAIMED"
 * for none). */
const char *prov_step_name(enum prov_step step);
const char *prov_state_name(enum prov_step step);

#endif
