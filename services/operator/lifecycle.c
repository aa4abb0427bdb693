/* A subscription's state at its operator (see lifecycle.h). */
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/journey.h"
#include "onramp/svc_log.h"

/* The journey's words (<onramp/journey.h>). */
const char *op_state_name(int state)
{
    switch (state) {
    case OP_ALLOCATED: return onr_journey_said(ONR_JOURNEY_PROFILED);
    case OP_ATTACHED: return onr_journey_said(ONR_JOURNEY_ATTACHED);
    case OP_ALIGNED: return onr_journey_said(ONR_JOURNEY_ALIGNED);
    case OP_SUSPENDED: return ONR_JOURNEY_SUSPENDED;
    default: return ONR_JOURNEY_UNKNOWN;
    }
}

/* The state a write of the event sets: `to`, or -1 (kept) when it is
 * `from` already. */
static int written_state(int from, int to)
{
    return to == from ? -1 : to;
}

int op_sub_step(struct onr_db *db, struct op_subscriber *sub, enum op_event event,
                const struct op_change *change)
{
    int from = sub->state;
    int to = from;
    int stated = 1; /* the event's write sets the state too */
    int rc = ONR_OK;

    switch (event) {
    case OP_PROFILED:
        if (from == OP_SUSPENDED)
            to = OP_ALLOCATED;
        stated = 0;
        if (strcmp(sub->mfr, change->mfr) != 0 || strcmp(sub->prov, change->prov) != 0) {
            rc = op_sub_set_owner(db, sub->dev, change->mfr, change->prov);
            snprintf(sub->mfr, sizeof(sub->mfr), "%s", change->mfr);
            snprintf(sub->prov, sizeof(sub->prov), "%s", change->prov);
        }
        break;
    case OP_ATTACHED_EV:
        if (from == OP_SUSPENDED)
            return ONR_EPERM;
        to = OP_ATTACHED;
        rc = op_sub_attach(db, sub->dev, change->kid, change->sealed_key, change->sqn,
                           change->now, written_state(from, to));
        if (rc == ONR_EEXIST)
            return rc; /* a crossed run checked after a newer one */
        if (rc == ONR_OK)
            memcpy(sub->kid, change->kid, sizeof(sub->kid));
        break;
    case OP_ALIGNED_EV:
        if (from == OP_ATTACHED)
            to = OP_ALIGNED;
        rc = op_sub_align(db, sub->dev, change->qos, change->charging, change->cap,
                          change->now, written_state(from, to));
        break;
    case OP_RELEASED:
        to = OP_SUSPENDED;
        rc = op_sub_forget_attach(db, sub->dev, written_state(from, to));
        memset(sub->kid, 0, sizeof(sub->kid));
        break;
    default:
        return ONR_EINVAL;
    }
    if (rc == ONR_OK && to != from && !stated)
        rc = op_sub_set_state(db, sub->dev, to);
    if (rc != ONR_OK)
        return rc;
    if (to != from)
        onr_log(ONR_LOG_INFO, "subscription dev=%s %s -> %s", sub->dev, op_state_name(from),
                op_state_name(to));
    sub->state = to;
    return ONR_OK;
}
