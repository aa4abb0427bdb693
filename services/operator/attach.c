/*
 * Step 3c, the attach: UMTS AKA with the device as the USIM (SPEC section
 * 13). The first challenge goes out with the profile (profile.c); an
 * attach request (a challenge lost, a re-attach) gets one of its own.
 * Each is stored with its SQN before it is sent; the response proves the profile (RES), or asks to
 * resynchronise (AUTS), or says our challenge did not verify. A proven
 * device is attached: attached.c grants it its provider and hands the
 * provider its key.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct attach_ctx {
    struct op *o;
    const char *dev;
    const char *down; /* its down topic */
};

int op_challenge_new(struct onr_service *svc, struct op_subscriber *sub, uint64_t base,
                     struct onr_aka_vector *v)
{
    struct onr_db *db = onr_service_db(svc);
    uint8_t rand[ONR_AKA_RAND_LEN];
    uint64_t sqn = 0;
    int rc;

    rc = onr_aka_sqn_next(base, &sqn);
    if (rc == ONR_OK)
        rc = onr_random(rand, sizeof(rand));
    if (rc == ONR_OK)
        rc = onr_aka_vector(&sub->keys, sqn, rand, v);
    if (rc == ONR_OK)
        rc = op_sub_set_sqn(db, sub->dev, sub->sqn, sqn);
    if (rc == ONR_OK)
        rc = op_challenge_put(db, sub->dev, rand, sqn, onr_service_now(svc));
    if (rc == ONR_OK)
        sub->sqn = sqn;
    else
        onr_wipe(v, sizeof(*v));
    return rc;
}

/* A new challenge for `sub`, answering `re`, into answer->reply on `down`;
 * its SQN the next after `base` (the stored one, or the device's after a
 * resync). */
static int challenge(struct onr_service *svc, struct op_subscriber *sub, uint64_t base,
                     const uint8_t *re, const char *down, struct onr_answer *answer)
{
    struct onr_msg msg = {.type = ONR_MSG_ATTACH_CHALLENGE};
    struct onr_aka_vector v;
    int rc;

    rc = op_challenge_new(svc, sub, base, &v);
    if (rc != ONR_OK)
        return rc;
    msg.body.attach_challenge = (struct onr_msg_attach_challenge){
        .re = {re, ONR_MSG_ID_LEN},
        .rand = ONR_BYTES(v.rand),
        .autn = ONR_BYTES(v.autn),
    };
    rc = onr_service_seal(svc, &msg, down, &answer->reply, NULL);
    onr_wipe(&v, sizeof(v));
    return rc;
}

static int decide_request(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    struct attach_ctx *ctx = arg;
    struct op_subscriber sub;
    int rc;

    (void)topic;
    rc = op_sub_get(onr_service_db(svc), ctx->dev, &sub);
    if (rc == ONR_OK && sub.state == OP_SUSPENDED)
        rc = ONR_EDENIED; /* released: a new voucher first */
    if (rc == ONR_OK && !(env->msg.body.attach_request.imsi.len == strlen(sub.imsi) &&
                          memcmp(env->msg.body.attach_request.imsi.ptr, sub.imsi,
                                 strlen(sub.imsi)) == 0))
        rc = ONR_EDENIED; /* not its own subscription */
    if (rc == ONR_OK)
        rc = challenge(svc, &sub, sub.sqn, env->id, ctx->down, answer);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_INFO, "challenge dev=%s imsi=%s", ctx->dev, sub.imsi);
    onr_wipe(&sub, sizeof(sub));
    return rc == ONR_ENOENT ? ONR_EDENIED : rc;
}

/* RES checked: attached, or EAUTH. */
static int take_res(struct onr_service *svc, struct attach_ctx *ctx, struct op_subscriber *sub,
                    const struct onr_envelope *env, uint64_t sqn, struct onr_answer *answer)
{
    const struct onr_msg_attach_response *r = &env->msg.body.attach_response;
    struct onr_msg msg = {.type = ONR_MSG_ATTACH_RESULT};
    struct onr_aka_vector v;
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t k_akma[ONR_AKMA_KEY_LEN];
    uint8_t k_af[ONR_AKMA_KEY_LEN];
    int rc;

    rc = onr_aka_vector(&sub->keys, sqn, r->rand.ptr, &v);
    if (rc != ONR_OK)
        return rc;
    if (!onr_equal_ct(v.xres, r->res.ptr, sizeof(v.xres))) {
        onr_wipe(&v, sizeof(v));
        onr_log(ONR_LOG_NOTICE, "attach refused dev=%s reason=\"wrong RES\"", ctx->dev);
        /* the challenge stays used: one guess per challenge */
        return onr_answer_refuse(svc, answer, env, ONR_EAUTH, ctx->down);
    }
    rc = onr_akma_derive(v.ck, v.ik, sub->imsi, kid, k_akma);
    if (rc == ONR_OK)
        rc = onr_akma_af_key(k_akma, sub->prov, k_af);
    if (rc == ONR_OK)
        rc = op_attached(svc, ctx->o, sub, sqn, kid, k_af, answer);
    if (rc == ONR_EEXIST) {
        /* a crossed run, checked after a newer one: its keys are not kept
         * (SPEC section 13), and a device that answered it last attaches
         * again */
        onr_wipe(&v, sizeof(v));
        onr_wipe(k_akma, sizeof(k_akma));
        onr_wipe(k_af, sizeof(k_af));
        onr_log(ONR_LOG_NOTICE, "attach refused dev=%s reason=\"a newer run's keys are held\"",
                ctx->dev);
        return onr_answer_refuse(svc, answer, env, ONR_EEXIST, ctx->down);
    }
    if (rc == ONR_OK) {
        msg.body.attach_result = (struct onr_msg_attach_result){
            .re = ONR_BYTES(env->id),
            .kid = ONR_BYTES(kid),
        };
        rc = onr_service_seal(svc, &msg, ctx->down, &answer->reply, NULL);
    }
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "attached dev=%s imsi=%s provider=%s", ctx->dev, sub->imsi,
                sub->prov);
    onr_wipe(&v, sizeof(v));
    onr_wipe(k_akma, sizeof(k_akma));
    onr_wipe(k_af, sizeof(k_af));
    return rc;
}

/* AUTS: the device's SQN is ahead of ours (or our AUTN was stale). */
static int take_auts(struct onr_service *svc, struct attach_ctx *ctx, struct op_subscriber *sub,
                     const struct onr_envelope *env, struct onr_answer *answer)
{
    const struct onr_msg_attach_response *r = &env->msg.body.attach_response;
    uint64_t sqn_ms = 0;
    int rc;

    rc = onr_aka_resync(&sub->keys, r->rand.ptr, r->auts.ptr, &sqn_ms);
    if (rc == ONR_EBADMAC) {
        onr_log(ONR_LOG_NOTICE, "attach refused dev=%s reason=\"AUTS does not verify\"",
                ctx->dev);
        return onr_answer_refuse(svc, answer, env, ONR_EAUTH, ctx->down);
    }
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_NOTICE, "resync dev=%s sqn_he=%llu sqn_ms=%llu", ctx->dev,
            (unsigned long long)sub->sqn, (unsigned long long)sqn_ms);
    return challenge(svc, sub, sqn_ms > sub->sqn ? sqn_ms : sub->sqn, env->id, ctx->down,
                     answer);
}

static int decide_response(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg, struct onr_answer *answer)
{
    struct attach_ctx *ctx = arg;
    const struct onr_msg_attach_response *r = &env->msg.body.attach_response;
    struct onr_db *db = onr_service_db(svc);
    struct op_subscriber sub;
    uint64_t now = onr_service_now(svc);
    uint64_t life = ctx->o->challenge_lifetime;
    uint64_t sqn = 0;
    int rc;

    (void)topic;
    rc = op_sub_get_locked(db, ctx->dev, &sub);
    if (rc == ONR_OK)
        rc = op_challenge_take(db, ctx->dev, r->rand.ptr, now > life ? now - life : 0, &sqn);
    if (rc == ONR_ENOENT) {
        onr_wipe(&sub, sizeof(sub));
        onr_log(ONR_LOG_NOTICE,
                "attach refused dev=%s reason=\"no such challenge outstanding (replayed or "
                "expired)\"",
                ctx->dev);
        return onr_answer_refuse(svc, answer, env, ONR_ENOENT, ctx->down);
    }
    if (rc == ONR_OK) {
        switch (r->result) {
        case ONR_ATTACH_RES: rc = take_res(svc, ctx, &sub, env, sqn, answer); break;
        case ONR_ATTACH_SYNC_FAILURE: rc = take_auts(svc, ctx, &sub, env, answer); break;
        default:
            /* the device did not recognise us: nothing to say to it */
            onr_log(ONR_LOG_WARNING, "attach failed dev=%s reason=\"device reports MAC "
                    "failure\"", ctx->dev);
            break;
        }
    }
    onr_wipe(&sub, sizeof(sub));
    return rc;
}

/* The device's topic, its freshness and replay: then `decide`. */
static int handle(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  struct op *o, onr_service_decide_cb decide)
{
    char dev[ONR_DEVID_LEN + 1];
    char down[ONR_TOPIC_MAX + 1];
    struct attach_ctx ctx = {o, dev, down};
    int rc;

    rc = op_from_device(svc, env, topic, dev, down);
    if (rc != ONR_OK)
        return rc;
    rc = onr_service_handle_once(svc, env, topic, decide, &ctx);
    if (rc == ONR_EDENIED) {
        onr_log(ONR_LOG_NOTICE, "attach refused dev=%s reason=\"no such subscription\"", dev);
        return onr_service_refuse(svc, env, rc, down);
    }
    return rc;
}

int op_on_attach_request(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg)
{
    return handle(svc, env, topic, arg, decide_request);
}

int op_on_attach_response(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg)
{
    return handle(svc, env, topic, arg, decide_response);
}
