/* A device's state at its provider (see lifecycle.h). */
#include "lifecycle.h"

#include "onramp/error.h"
#include "onramp/svc_log.h"

const char *prov_step_name(enum prov_step step)
{
    static const char *const names[PROV_STEP_COUNT] = {
        "none", "registering", "claimed", "attached", "enrolled", "operational",
    };

    return (unsigned)step < PROV_STEP_COUNT ? names[step] : "unknown";
}

const char *prov_state_name(enum prov_step step)
{
    static const char *const names[PROV_STEP_COUNT] = {
        "UNCLAIMED", "REGISTERING", "CLAIMED", "NETWORK_ATTACHED", "ENROLLED", "OPERATIONAL",
    };

    return (unsigned)step < PROV_STEP_COUNT ? names[step] : "UNKNOWN";
}

int prov_device_step(struct onr_db *db, struct prov_claim *c, enum prov_event event,
                     int has_key, uint64_t now)
{
    enum prov_step from = c->state;
    enum prov_step to = from;
    int rc = ONR_OK;

    switch (event) {
    case PROV_REGISTERED:
        if (from != PROV_STEP_REGISTERING)
            break;
        to = has_key ? PROV_STEP_ATTACHED : PROV_STEP_CLAIMED;
        rc = prov_claim_confirmed(db, c->dev, now);
        break;
    case PROV_KEY_STORED:
        if (from == PROV_STEP_CLAIMED)
            to = PROV_STEP_ATTACHED;
        break;
    case PROV_ENROLLED_EV:
        if (from < PROV_STEP_ATTACHED)
            return ONR_EPERM;
        if (from == PROV_STEP_ATTACHED)
            to = PROV_STEP_ENROLLED;
        break;
    case PROV_TELEMETRY:
        if (from != PROV_STEP_ENROLLED)
            break;
        to = PROV_STEP_OPERATIONAL;
        rc = prov_operational_put(db, c->dev, now);
        break;
    case PROV_REVOKED:
        if (from >= PROV_STEP_ENROLLED)
            to = PROV_STEP_ATTACHED;
        break;
    default:
        return ONR_EINVAL;
    }
    if (rc == ONR_OK && to != from)
        rc = prov_claim_set_state(db, c->dev, to);
    if (rc != ONR_OK)
        return rc;
    if (to != from)
        onr_log(ONR_LOG_INFO, "device dev=%s %s -> %s", c->dev, prov_step_name(from),
                prov_step_name(to));
    c->state = to;
    return ONR_OK;
}
