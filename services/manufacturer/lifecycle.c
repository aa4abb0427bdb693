/* A device's state at its manufacturer (see lifecycle.h). */
#include "lifecycle.h"

#include "onramp/error.h"
#include "onramp/journey.h"
#include "onramp/svc_log.h"

/* The journey's words (<onramp/journey.h>). */
const char *mfr_state_name(int state)
{
    switch (state) {
    case MFR_MADE: return onr_journey_said(ONR_JOURNEY_MADE);
    case MFR_WAITING: return ONR_JOURNEY_WAITING;
    case MFR_ASSIGNED: return onr_journey_said(ONR_JOURNEY_REGISTERED);
    default: return ONR_JOURNEY_UNKNOWN;
    }
}

int mfr_device_step(struct onr_db *db, const char *dev, enum mfr_event event,
                    const struct mfr_change *change)
{
    uint64_t assigned_at = 0;
    int from = MFR_MADE;
    int to;
    int rc = onr_registry_state(db, dev, &from, &assigned_at);

    if (rc != ONR_OK)
        return rc;
    switch (event) {
    case MFR_HELLO_UNOWNED:
        if (from == MFR_ASSIGNED)
            return ONR_EPERM;
        to = MFR_WAITING;
        rc = onr_registry_wait(db, dev, change->hello, change->now);
        break;
    case MFR_REGISTERED:
        to = MFR_ASSIGNED;
        rc = onr_registry_assign(db, dev, change->owner, change->now);
        if (rc == ONR_OK && from == MFR_WAITING)
            rc = onr_registry_unwait(db, dev);
        break;
    case MFR_RELEASED:
        to = MFR_MADE;
        rc = onr_registry_unassign(db, dev);
        if (rc == ONR_OK)
            rc = onr_registry_unwait(db, dev);
        break;
    default:
        return ONR_EINVAL;
    }
    if (rc == ONR_OK && to != from)
        rc = onr_registry_set_state(db, dev, to);
    if (rc == ONR_OK && to != from)
        onr_log(ONR_LOG_INFO, "device dev=%s %s -> %s", dev, mfr_state_name(from),
                mfr_state_name(to));
    return rc;
}
