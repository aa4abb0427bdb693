/*
 * A device's journey as its provider sees it, for the pairing page: its
 * claim (registering, then claimed by the manufacturer's answer), its
 * application key (the device attached to its operator's network), its
 * service certificate (enrolled) and its first telemetry on our service
 * broker (operational): the claim's state and when each step happened.
 * Read from the provider's database; nothing here changes state but
 * prov_on_telemetry.
 */
#ifndef ONRAMP_PROV_JOURNEY_H
#define ONRAMP_PROV_JOURNEY_H

#include <stddef.h>
#include <stdint.h>

#include "claims.h"
#include "lifecycle.h"
#include "onramp/service.h"

struct prov_journey {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    uint64_t at[PROV_STEP_COUNT]; /* UNIX seconds; 0: not (yet) */
    uint64_t aligned;             /* alignments: aligned_at (the operator confirmed
                                   * the policy); 0: not (yet) */
    enum prov_step state;         /* the claim's state (lifecycle.h) */
    int refused;                  /* no claim: the manufacturer refused the page's */
    char reason[128];             /* ... and why */
};

/*
 * prov_journey_get: the journey of `dev` (a checked device id, borrowed)
 * into `out`. ONR_OK with a claim (state REGISTERING or further), or with
 * out->refused set for a pairing made on the page that the manufacturer
 * refused; ONR_ENOENT when we know nothing of it; the database's errors.
 */
int prov_journey_get(struct onr_db *db, const char *dev, struct prov_journey *out);

/*
 * prov_status: the journey of `dev` for a control tool's status_request
 * (the skeleton's status callback, SPEC type 31): state "registering" ...
 * "operational" and the times of claimed, attached, enrolled, aligned and
 * operational. ONR_OK, ONR_ENOENT (no claim), or the database's errors.
 */
int prov_status(struct onr_service *svc, void *arg, const char *dev, struct onr_msg_status *out);

/*
 * prov_on_telemetry: a raw route for onr/1/p/{us}/dev/+/telemetry (not an
 * envelope: the broker let only the device with our certificate publish
 * there). The first one of a device claimed by us marks it operational;
 * anything else is ignored (ONR_EDENIED for a device not claimed by us,
 * ONR_EFORMAT for a topic of another shape: logged by the skeleton).
 */
int prov_on_telemetry(struct onr_service *svc, const char *topic, const uint8_t *payload,
                      size_t len, void *arg);

#endif /* ONRAMP_PROV_JOURNEY_H */
