/*
 * A provider moves its operational device to the operator its roaming
 * policy names where the device now is (proto/SPEC.md type 36, section
 * 16), on onr/1/s/mfr/{us}/in: the policy stored with the device's
 * assignment is resolved for the PLMN the device reported, and the answer
 * on the provider's inbox is a voucher for that operator carrying the
 * report's nonce and PLMN, or ENOOPERATOR. A device we did not make and
 * one another provider owns are refused alike (EDENIED). The answer is
 * stored with the request: a duplicate gets it again.
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

struct relocation_ctx {
    struct mfr *m;
    const struct onr_peer *prov;
};

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    const struct relocation_ctx *ctx = arg;
    const struct onr_msg_relocation_request *r = &env->msg.body.relocation_request;
    struct onr_db *db = onr_service_db(svc);
    struct onr_registry_device d;
    struct onr_registry_assignment a;
    char reply[ONR_TOPIC_MAX + 1];
    char plmn[ONR_PLMN_MAX + 1];
    struct mfr_ask ask = {r->nonce.ptr, env->id, plmn, "", reply};
    int rc;

    (void)topic;
    snprintf(plmn, sizeof(plmn), "%.*s", (int)r->plmn.len, (const char *)r->plmn.ptr);
    rc = onr_topic_in(ONR_ROLE_PROVIDER, ctx->prov->id, reply, sizeof(reply));
    if (rc != ONR_OK)
        return rc;
    rc = onr_registry_device(db, (const char *)r->dev.ptr, r->dev.len, &d);
    if (rc == ONR_OK)
        rc = onr_registry_assignment(db, d.dev, &a);
    if (rc == ONR_OK && strcmp(a.provider, ctx->prov->id) != 0)
        rc = ONR_ENOENT;
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_NOTICE, "relocation refused provider=%s reason=\"not its device\"",
                ctx->prov->id);
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, reply);
    }
    if (rc == ONR_OK)
        rc = mfr_vouch(svc, ctx->m, &d, &a, &ask, &answer->reply);
    if (rc == ONR_ENOOPERATOR) {
        onr_log(ONR_LOG_NOTICE, "relocation refused dev=%s provider=%s visited=%s "
                "reason=\"no operator there\"", d.dev, ctx->prov->id, plmn);
        return onr_answer_refuse(svc, answer, env, ONR_ENOOPERATOR, reply);
    }
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "relocation dev=%s provider=%s visited=%s", d.dev,
                ctx->prov->id, plmn);
    return rc;
}

int mfr_on_relocation_request(struct onr_service *svc, const struct onr_envelope *env,
                              const char *topic, void *arg)
{
    struct mfr *m = arg;
    struct relocation_ctx ctx = {m, NULL};
    char reply[ONR_TOPIC_MAX + 1];
    int rc;

    rc = onr_service_from_peer(svc, env, topic, &m->providers, ONR_ROLE_PROVIDER, &ctx.prov);
    if (rc == ONR_ESTALE && onr_topic_in(ONR_ROLE_PROVIDER, ctx.prov->id, reply,
                                         sizeof(reply)) == ONR_OK)
        return onr_service_refuse(svc, env, rc, reply);
    if (rc != ONR_OK)
        return rc;
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
