/*
 * A control tool asks what the service knows of a device (SPEC types
 * 30/31): read-only, so answered at once (a duplicate gets the same answer
 * again). Only the control tools of the `controller` lines get an answer.
 */
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/journey.h"
#include "service_internal.h"

const struct onr_peers *onr_service_controllers(const struct onr_service *svc)
{
    return &svc->controllers;
}

static int on_status_request(struct onr_service *svc, const struct onr_envelope *env,
                             const char *topic, void *arg)
{
    const struct onr_bytes dev = env->msg.body.status_request.dev;
    struct onr_msg msg = {.type = ONR_MSG_STATUS};
    struct onr_msg_status *st = &msg.body.status;
    const struct onr_peer *peer = NULL;
    struct onr_publication pub;
    char id[ONR_DEVID_LEN + 1];
    char to[ONR_TOPIC_MAX + 1];
    int rc;

    (void)arg;
    rc = onr_service_from_peer(svc, env, topic, &svc->controllers, ONR_ROLE_CONTROL, &peer);
    if (rc != ONR_OK)
        return rc;
    if (dev.len != ONR_DEVID_LEN || onr_devid_check((const char *)dev.ptr, dev.len) != ONR_OK)
        return ONR_EFORMAT;
    memcpy(id, dev.ptr, dev.len);
    id[dev.len] = '\0';
    rc = svc->def->status(svc, svc->def->arg, id, st);
    if (rc == ONR_ENOENT) {
        memset(st, 0, sizeof(*st));
        st->state = ONR_BYTES_STR(ONR_JOURNEY_UNKNOWN);
    } else if (rc != ONR_OK) {
        return rc;
    }
    st->re = ONR_BYTES(env->id);
    st->dev = dev;
    memset(&pub, 0, sizeof(pub));
    rc = onr_topic_in(ONR_ROLE_CONTROL, peer->id, to, sizeof(to));
    if (rc == ONR_OK)
        rc = onr_service_seal(svc, &msg, to, &pub, NULL);
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_INFO, "status dev=%s ctl=%s state=%.*s", id, peer->id, (int)st->state.len,
            (const char *)st->state.ptr);
    return onr_service_publish(svc, &pub);
}

int svc_status_setup(struct onr_service *svc)
{
    char inbox[ONR_TOPIC_MAX + 1];
    int rc;

    if (svc->def->status == NULL)
        return ONR_OK;
    rc = onr_topic_filter_in(NULL, svc->def->sender_role, svc->id, inbox, sizeof(inbox));
    return rc == ONR_OK ? onr_service_subscribe(svc, inbox, ONR_MSG_STATUS_REQUEST,
                                                on_status_request, NULL)
                        : rc;
}
