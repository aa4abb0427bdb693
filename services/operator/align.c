/*
 * Step 5 on the operator's side: a provider we have a contract with sends
 * the policy of one of its devices (QoS class, charging group, data cap)
 * with the device's subscription as it knows it. The subscription must be
 * ours, for that device and that provider; the policy is stored and
 * acknowledged (aligned), so both sides hold device id <-> IMSI/ICCID.
 * The alignment also answers the application key it aligns (its `re`):
 * that key, if still the one in flight, is confirmed in the same
 * transaction (a newer key's sends have other ids: it stays in flight).
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct align_ctx {
    const struct onr_peer *prov;
};

static int same(struct onr_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct align_ctx *ctx = arg;
    const struct onr_msg_alignment *m = &env->msg.body.alignment;
    struct onr_msg msg = {.type = ONR_MSG_ALIGNED};
    struct op_subscriber sub;
    struct op_change policy = {.qos = m->qos, .cap = m->cap, .now = onr_service_now(svc)};
    char reply[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    char charging[ONR_SERVICE_ID_MAX + 1];
    int rc;

    (void)topic;
    memcpy(dev, m->dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    memset(charging, 0, sizeof(charging));
    memcpy(charging, m->charging.ptr, m->charging.len); /* bounded by the decoder: <= 32 */
    policy.charging = charging;
    rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx->prov->id, reply, sizeof(reply));
    if (rc == ONR_OK)
        rc = op_sub_get_locked(onr_service_db(svc), dev, &sub);
    if (rc == ONR_OK && (strcmp(sub.prov, ctx->prov->id) != 0 || !same(m->imsi, sub.imsi) ||
                         !same(m->iccid, sub.iccid)))
        rc = ONR_ENOENT; /* not this provider's device, or not that subscription */
    if (rc == ONR_ENOENT) {
        onr_wipe(&sub, sizeof(sub));
        onr_log(ONR_LOG_NOTICE, "alignment refused dev=%s provider=%s reason=\"no such "
                "subscription\"", dev, ctx->prov->id);
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply);
    }
    if (rc == ONR_OK)
        rc = op_sub_step(onr_service_db(svc), &sub, OP_ALIGNED_EV, &policy);
    if (rc == ONR_OK)
        rc = onr_service_confirm(svc, env, m->re, answer);
    onr_wipe(&sub, sizeof(sub));
    if (rc != ONR_OK)
        return rc;
    msg.body.aligned = (struct onr_msg_aligned){.re = ONR_BYTES(env->id), .dev = m->dev};
    onr_log(ONR_LOG_NOTICE, "aligned dev=%s provider=%s qos=%llu charging=%s cap=%llu", dev,
            ctx->prov->id, (unsigned long long)m->qos, charging, (unsigned long long)m->cap);
    return onr_service_seal(svc, &msg, reply, &answer->reply, NULL);
}

int op_on_alignment(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg)
{
    struct op *o = arg;
    struct align_ctx ctx;
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &o->providers, ONR_ROLE_PROVIDER, &ctx.prov);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
