/*
 * A subscription's state at its operator, and every change of it in one
 * function (lifecycle.c), each logged from -> to:
 *
 *   allocated  a voucher got it its numbers and secrets (the profile)
 *   attached   the device proved them in an AKA run: the grant at the
 *              broker and the key for its provider are on their way
 *   aligned    its provider's policy is stored
 *   suspended  its provider released it: no grant, no key, no policy; the
 *              numbers and secrets stay for its next voucher
 *
 *   (none)     --profiled--> allocated   (op_sub_allocate)
 *   suspended  --profiled--> allocated   (a new voucher; any owner kept)
 *   allocated, attached, aligned --attached--> attached  (a new key)
 *   attached, aligned --aligned--> aligned    (elsewhere the policy is
 *                                              stored, the state kept)
 *   any        --released--> suspended
 */
#ifndef ONRAMP_OP_LIFECYCLE_H
#define ONRAMP_OP_LIFECYCLE_H

#include <stdint.h>

#include "subscribers.h"

enum op_state { OP_ALLOCATED = 0, OP_ATTACHED, OP_ALIGNED, OP_SUSPENDED, OP_STATE_COUNT };

enum op_event { OP_PROFILED, OP_ATTACHED_EV, OP_ALIGNED_EV, OP_RELEASED };

/* What an event brings (borrowed): the voucher's owners (profiled), the
 * attach's key identifier and the key sealed to the provider (attached),
 * the policy (aligned); the time. */
struct op_change {
    const char *mfr;
    const char *prov;
    const uint8_t *kid;
    const uint8_t *sealed_key;
    uint64_t sqn; /* the attach's challenge's: it orders the keys */
    uint64_t qos;
    const char *charging;
    uint64_t cap;
    uint64_t now;
};

/*
 * op_sub_step: subscription `sub` (read with op_sub_get_locked in the
 * caller's transaction, before anything the step depends on: instances
 * stepping one device take turns, and a release and an attach at once
 * cannot leave a released device attached; its state and owners updated
 * here too) takes `event`, inside the caller's transaction: what the
 * event brings is stored, what the state it leaves held is cleared, the
 * state stored. ONR_OK, ONR_EPERM (no such transition: a suspended
 * subscription attaches only after a new voucher), ONR_EEXIST (an attach
 * older than the one whose key it holds: nothing changes), or the
 * database's errors.
 */
int op_sub_step(struct onr_db *db, struct op_subscriber *sub, enum op_event event,
                const struct op_change *change);

/* op_state_name: the journey's status words (<onramp/journey.h>):
 * "allocated", "attached", "aligned", "suspended" (static; "unknown"). */
const char *op_state_name(int state);

#endif
