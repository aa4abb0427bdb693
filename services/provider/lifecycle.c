/* A device's state at its provider (see lifecycle.h). */
#include "lifecycle.h"

#include "onramp/error.h"
#include "onramp/journey.h"
#include "onramp/svc_log.h"

/* Each step of ours as a step of the journey (<onramp/journey.h>), whose
 * names everybody prints. */
static const enum onr_journey_step journey_steps[PROV_STEP_COUNT] = {
    [PROV_STEP_REGISTERING] = ONR_JOURNEY_REGISTERING,
    [PROV_STEP_CLAIMED] = ONR_JOURNEY_CLAIMED,
    [PROV_STEP_ATTACHED] = ONR_JOURNEY_ATTACHED,
    [PROV_STEP_ENROLLED] = ONR_JOURNEY_ENROLLED,
    [PROV_STEP_OPERATIONAL] = ONR_JOURNEY_OPERATIONAL,
};

const char *prov_step_name(enum prov_step step)
{
    if (step <= PROV_STEP_NONE || step >= PROV_STEP_COUNT)
        return ONR_JOURNEY_UNKNOWN;
    return onr_journey_said(journey_steps[step]);
}

const char *prov_state_name(enum prov_step step)
{
    if (step <= PROV_STEP_NONE || step >= PROV_STEP_COUNT)
        return ONR_JOURNEY_UNCLAIMED;
    return onr_journey_state_name(journey_steps[step]);
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
