/*
 * The journey's vocabulary, written once: the steps a device passes from
 * the factory to working service (../DESIGN.md "The journey"), in order,
 * with the names everybody prints for them, the use case's step number
 * (SPEC and DESIGN: 1, 2, 3b, 3c, 4, 5) and the party that performs each.
 *
 * The table itself is in journey.c, one row per step in journey order;
 * its columns:
 *
 * - name: the step in lower case, as status answers (SPEC type 31, one
 *   field per step from CLAIMED on), `onrampctl status` and the provider's
 *   page print it;
 * - state name: the state a device is in once the step is done, as the
 *   device library (its "journey" file) and the provider's page print it;
 * - spec: the step of DESIGN.md / SPEC.md the monitor prints;
 * - party: who performs it (CLAIMED and REGISTERED are step 2 as the
 *   provider and the manufacturer each record it; MADE is the factory's,
 *   before step 1);
 * - said: the word a service's status answer uses for a device whose
 *   furthest step this is (SPEC type 31 `state`);
 * - event: the `step` of the event (SPEC type 26) a service publishes when
 *   it completes the step.
 *
 * Onboarding ends at OPERATIONAL. The steps after it are an operational
 * device's relocation to another operator (SPEC section 16), which it
 * may go through any number of times, each time back to OPERATIONAL:
 * RELOCATING (its provider handed it a voucher for another operator),
 * RELOCATION_PROFILED (it holds that operator's profile as well as its
 * own), RELOCATED (it attached with it: the new profile takes over).
 *
 * Words off the path: ONR_JOURNEY_UNKNOWN (a service never saw the
 * device), ONR_JOURNEY_WAITING and ONR_JOURNEY_SUSPENDED (below).
 * Nothing here keeps state; every returned string is static.
 */
#ifndef ONRAMP_JOURNEY_H
#define ONRAMP_JOURNEY_H

#include <stddef.h>

#include "onramp/msg.h"

enum onr_journey_step {
    ONR_JOURNEY_MADE = 0,
    ONR_JOURNEY_REGISTERING,
    ONR_JOURNEY_CLAIMED,
    ONR_JOURNEY_REGISTERED,
    ONR_JOURNEY_VOUCHED,
    ONR_JOURNEY_PROFILED,
    ONR_JOURNEY_ATTACHED,
    ONR_JOURNEY_ENROLLED,
    ONR_JOURNEY_ALIGNED,
    ONR_JOURNEY_OPERATIONAL,
    ONR_JOURNEY_RELOCATING,
    ONR_JOURNEY_RELOCATION_PROFILED,
    ONR_JOURNEY_RELOCATED,
    ONR_JOURNEY_COUNT
};

/* The last step of onboarding: the ones after it are a relocation's. */
#define ONR_JOURNEY_ONBOARDED ONR_JOURNEY_OPERATIONAL

/* A status answer's word for a device the service never saw. */
#define ONR_JOURNEY_UNKNOWN "unknown"
/* The manufacturer's: the device said hello before its registration
 * arrived (step 3b, pending). */
#define ONR_JOURNEY_WAITING "waiting"
/* The operator's: the device's provider released it (SPEC type 28). */
#define ONR_JOURNEY_SUSPENDED "suspended"
/* The provider page's state name of a device it holds no claim for. */
#define ONR_JOURNEY_UNCLAIMED "UNCLAIMED"

/*
 * onr_journey_name: "made" ... "operational", "relocating",
 * "relocation_profiled", "relocated"; ONR_JOURNEY_UNKNOWN for a value
 * outside the enum.
 * onr_journey_state_name: "FACTORY" ... "OPERATIONAL", "RELOCATING",
 * "RELOCATION_PROFILED", "RELOCATED"; "UNKNOWN" outside.
 * onr_journey_spec: "1", "2", "3b", "3c", "4", "5", and "relocation" for
 * the relocation's steps; NULL for MADE (the factory's, before the
 * journey) and outside.
 * onr_journey_party: the role that performs the step; 0 outside.
 * onr_journey_said: the status word (see above); ONR_JOURNEY_UNKNOWN
 * outside.
 * onr_journey_event: the event's step word, or NULL for steps no event
 * announces and outside.
 */
const char *onr_journey_name(enum onr_journey_step step);
const char *onr_journey_state_name(enum onr_journey_step step);
const char *onr_journey_spec(enum onr_journey_step step);
enum onr_role onr_journey_party(enum onr_journey_step step);
const char *onr_journey_said(enum onr_journey_step step);
const char *onr_journey_event(enum onr_journey_step step);

/*
 * Reverse look-ups of untrusted words (borrowed, exactly `len` bytes, no
 * NUL needed; nothing past `len` is read). Each returns ONR_OK and the
 * step in *out, ONR_ENOENT for a word that names no step, or ONR_EINVAL
 * for NULL `out` (or `word` with `len` > 0).
 * onr_journey_from_name: a name, exactly.
 * onr_journey_from_state_name: a state name in any case ("vouched" too).
 * onr_journey_from_event: an event's step word, exactly.
 */
int onr_journey_from_name(const char *word, size_t len, enum onr_journey_step *out);
int onr_journey_from_state_name(const char *word, size_t len, enum onr_journey_step *out);
int onr_journey_from_event(const char *word, size_t len, enum onr_journey_step *out);

/*
 * onr_journey_of_msg: the step a message of `type` (enum onr_msg_type)
 * belongs to: pairing/paired REGISTERING, registration/registered
 * REGISTERED, hello/voucher/voucher token VOUCHED, profile request/profile
 * PROFILED, the attach run and the application key ATTACHED, enroll
 * request/response ENROLLED, alignment/aligned ALIGNED, no_operator
 * VOUCHED (a hello's answer), relocation_request and relocate
 * RELOCATING. ONR_OK, or
 * ONR_ENOENT for a type outside the journey (pending, error and event
 * belong to whatever they answer or announce; control, status, stats and
 * release are not steps).
 */
int onr_journey_of_msg(int type, enum onr_journey_step *out);

#endif /* ONRAMP_JOURNEY_H */
