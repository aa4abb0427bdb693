/*
 * What the bootstrap broker's down topic brings (see device_run.h): bounded
 * decoding, the check that it is from the peer of the device's step (its
 * role, id and key, the topic, freshness, replay), the answers every step
 * shares (pending, error), and the dispatch of the rest to the step the
 * device is at. A late answer of an earlier step is no news.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/error.h"

#define FRESHNESS 300 /* seconds, for the services' envelopes */

static void take_pending(struct onr_device *d, const struct onr_msg_pending *m)
{
    struct device_detail l = {"", 0};

    if (device_sent_find(d, m->re) == NULL)
        return; /* for a request of another run or step: no news */
    d->failures = 0;
    device_put(&l, "retry_after=%llu", (unsigned long long)m->retry_after);
    if (m->reason.len > 0)
        device_put_escaped(&l, "reason", m->reason.ptr, m->reason.len);
    device_report(d, "pending", &l);
    /* stay connected: the answer may be pushed before then */
    device_wait_pending(d, m->retry_after);
}

static void take_error(struct onr_device *d, const struct onr_msg_error *m)
{
    const struct device_sent *s = device_sent_find(d, m->re);
    struct device_detail l = {"", 0};
    int code = -(int)m->code;
    char why[64];

    if (s == NULL)
        return;
    if (device_attach_superseded(d, s)) {
        /* e.g. EEXIST: the operator checked a newer run of ours first; we
         * wait for the answer to the newest (highest SQN), as for an older
         * run's result */
        device_report_code(d, "refused", "error", code,
                           "answers an attach response of a lower SQN than another sent");
        return;
    }
    device_put_code(&l, code);
    if (m->reason.len > 0)
        device_put_escaped(&l, "reason", m->reason.ptr, m->reason.len);
    else
        device_put_ours(&l, "reason", onr_strerror(code));
    device_report(d, "error", &l);
    /* ESTALE (our clock or a slow path), EAUTH and the rest alike: later,
     * bounded */
    snprintf(why, sizeof(why), "the %s answered with an error", device_peer_name(d));
    device_failed(d, code, why);
}

/* The envelope is from the peer of the device's step: its role, its id and
 * its key, the topic it was signed for, fresh and not seen before. */
static int verify(struct onr_device *d, const struct onr_envelope *env, const char *topic)
{
    const struct device_journey *j = &d->journey;
    struct device_net net;
    enum onr_role role = ONR_ROLE_OPERATOR;
    const char *id;
    const uint8_t *key;

    device_net(d, &net); /* the operator: the voucher's, or the relocation's */
    id = net.voucher->op;
    key = net.voucher->op_key;
    if (j->state == ONR_DEVICE_FACTORY) {
        role = ONR_ROLE_MANUFACTURER;
        id = d->files.trust.mfr;
        key = d->files.mfr_key;
    } else if (j->state == ONR_DEVICE_NETWORK_ATTACHED) {
        role = ONR_ROLE_PROVIDER;
        id = j->voucher.prov;
        key = j->voucher.prov_key;
    }
    if (env->sender_role != role || env->sender.len != strlen(id) ||
        memcmp(env->sender.ptr, id, env->sender.len) != 0)
        return ONR_EDENIED;
    return onr_envelope_verify(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)}, key,
                               (uint64_t)time(NULL), FRESHNESS, d->replay);
}

/* A message from `role` at `state` is a late answer of an earlier step:
 * the manufacturer's once vouched, an operator's once attached (but for a
 * relocation's new operator). */
static int late(enum onr_device_state state, enum onr_role role)
{
    if (role == ONR_ROLE_MANUFACTURER)
        return state > ONR_DEVICE_FACTORY;
    if (role == ONR_ROLE_OPERATOR)
        return state > ONR_DEVICE_PROFILED && state != ONR_DEVICE_RELOCATING &&
               state != ONR_DEVICE_RELOCATION_PROFILED;
    return 0;
}

void device_take_message(struct onr_device *d, const struct mosquitto_message *m)
{
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_envelope env;
    int rc;

    /* off the bootstrap broker's steps the down topic has nothing to say */
    if (device_down_topic(d, topic, sizeof(topic)) != ONR_OK || !d->running ||
        !device_on_bootstrap(d->journey.state) || m->payloadlen <= 0 ||
        strcmp(m->topic, topic) != 0)
        return;
    /* hostile until verified: bounded decode first */
    rc = onr_envelope_decode(m->payload, (size_t)m->payloadlen, &env);
    if (rc == ONR_OK && late(d->journey.state, env.sender_role))
        return; /* a late answer of an earlier step (a pushed voucher): no news */
    if (rc == ONR_OK)
        rc = verify(d, &env, topic);
    device_release_point_tables(d); /* before the step's own checks build more */
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "message", rc, onr_strerror(rc));
        return;
    }
    switch (env.msg.type) {
    case ONR_MSG_PENDING: take_pending(d, &env.msg.body.pending); return;
    case ONR_MSG_ERROR: take_error(d, &env.msg.body.error); return;
    default: break;
    }
    switch (d->journey.state) {
    case ONR_DEVICE_FACTORY: step_voucher_take(d, &env); break;
    case ONR_DEVICE_VOUCHED:
    case ONR_DEVICE_RELOCATING: step_profile_take(d, &env); break;
    case ONR_DEVICE_PROFILED:
    case ONR_DEVICE_RELOCATION_PROFILED: step_attach_take(d, &env); break;
    case ONR_DEVICE_NETWORK_ATTACHED: step_enroll_take(d, &env); break;
    case ONR_DEVICE_ENROLLED:
    case ONR_DEVICE_OPERATIONAL:
    case ONR_DEVICE_RELOCATED: break;
    }
}
