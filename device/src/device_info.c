/*
 * What a device reports of itself (<onramp/device.h>'s accessors): its
 * state, id, voucher, network and service, copied, nothing secret; and
 * the visited PLMN its modem tells it.
 */
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/error.h"
#include "onramp/policy.h"

enum onr_device_state onr_device_state(const struct onr_device *d)
{
    return d->journey.state;
}

const char *onr_device_id(const struct onr_device *d)
{
    return d->files.trust.dev;
}

int onr_device_voucher(const struct onr_device *d, struct onr_device_voucher *out)
{
    if (d->journey.state < ONR_DEVICE_VOUCHED)
        return ONR_ENOENT;
    *out = d->journey.voucher;
    return ONR_OK;
}

int onr_device_relocation(const struct onr_device *d, struct onr_device_voucher *out)
{
    if (d->journey.state != ONR_DEVICE_RELOCATING &&
        d->journey.state != ONR_DEVICE_RELOCATION_PROFILED)
        return ONR_ENOENT;
    *out = d->journey.next.voucher;
    return ONR_OK;
}

int onr_device_network(const struct onr_device *d, struct onr_device_network *out)
{
    const struct device_journey *j = &d->journey;

    if (j->state < ONR_DEVICE_PROFILED)
        return ONR_ENOENT;
    memset(out, 0, sizeof(*out));
    snprintf(out->iccid, sizeof(out->iccid), "%s", j->profile.iccid);
    snprintf(out->imsi, sizeof(out->imsi), "%s", j->profile.imsi);
    snprintf(out->plmn, sizeof(out->plmn), "%s", j->profile.plmn);
    snprintf(out->apn, sizeof(out->apn), "%s", j->profile.apn);
    if (j->state >= ONR_DEVICE_NETWORK_ATTACHED)
        memcpy(out->kid, j->akma.kid, sizeof(out->kid));
    return ONR_OK;
}

int onr_device_service(const struct onr_device *d, struct onr_device_service *out)
{
    const struct device_service *s = &d->journey.service;

    if (d->journey.state < ONR_DEVICE_ENROLLED)
        return ONR_ENOENT;
    memset(out, 0, sizeof(*out));
    snprintf(out->endpoint, sizeof(out->endpoint), "%s", s->endpoint);
    memcpy(out->serial, s->serial, sizeof(out->serial));
    out->serial_len = s->serial_len;
    out->not_after = s->not_after;
    return ONR_OK;
}

int onr_device_set_visited_plmn(struct onr_device *d, const char *plmn)
{
    size_t len = plmn != NULL ? strnlen(plmn, ONR_PLMN_MAX + 1) : 0;

    if (d == NULL || (plmn != NULL && onr_plmn_check(plmn, len) != ONR_OK))
        return ONR_EINVAL;
    if (strncmp(d->visited, plmn != NULL ? plmn : "", sizeof(d->visited)) == 0)
        return ONR_OK; /* no news */
    memset(d->visited, 0, sizeof(d->visited));
    if (plmn != NULL)
        memcpy(d->visited, plmn, len);
    step_operate_report(d);
    return ONR_OK;
}

const char *onr_device_visited_plmn(const struct onr_device *d)
{
    return d->visited;
}
