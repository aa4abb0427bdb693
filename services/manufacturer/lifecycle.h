/*
 * A device's state at its manufacturer, and every change of it in one
 * function (lifecycle.c), each logged from -> to:
 *
 *   made      in the registry (the factory put it there); nobody owns it
 *   waiting   it said hello before any provider registered it: that hello
 *             is kept, so its voucher is pushed when the registration comes
 *   assigned  a provider registered it (the assignment names the owner)
 *
 *   made     --hello-->      waiting   (the hello kept; a newer one replaces it)
 *   made, waiting --registered--> assigned  (the assignment written)
 *   any      --released-->   made      (assignment and waiting hello cleared)
 *
 * A registration, and a hello that found no assignment, lock the device's
 * row (onr_registry_lock) before they read what they decide on, so two
 * instances taking them at once take turns: otherwise each saw the other
 * not yet done, the hello was kept waiting after the registration had
 * looked for it, and its voucher was not pushed (the device waited for
 * its next hello; the waiting hello stayed until a registration came
 * again).
 */
#ifndef ONRAMP_MFR_LIFECYCLE_H
#define ONRAMP_MFR_LIFECYCLE_H

#include <stdint.h>

#include "registry.h"

enum mfr_state { MFR_MADE = 0, MFR_WAITING, MFR_ASSIGNED, MFR_STATE_COUNT };

enum mfr_event { MFR_HELLO_UNOWNED, MFR_REGISTERED, MFR_RELEASED };

/* What an event brings: the hello (MFR_HELLO_UNOWNED), the owner
 * (MFR_REGISTERED); the time. Borrowed. */
struct mfr_change {
    const struct onr_registry_hello *hello;
    const struct onr_registry_assignment *owner;
    uint64_t now;
};

/*
 * mfr_device_step: device `dev` takes `event`, inside the caller's
 * transaction: the rows of the state it enters are written, those of the
 * one it leaves removed, the state stored. ONR_OK, ONR_ENOENT (a device we
 * did not make), ONR_EPERM (no such transition: a hello of an assigned
 * device is answered with its voucher instead), or the database's errors.
 */
int mfr_device_step(struct onr_db *db, const char *dev, enum mfr_event event,
                    const struct mfr_change *change);

/* mfr_state_name: the journey's status words (<onramp/journey.h>): "made",
 * "waiting", "assigned" (static; "unknown"). */
const char *mfr_state_name(int state);

#endif
