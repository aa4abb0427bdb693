/*
 * Step 3c, the profile: a device asks on onr/1/d/{dev}/up/op/{us} with its
 * voucher. We check the voucher (a manufacturer we trust signed it, for
 * this device, for us, not expired, naming a provider we have a contract
 * with, for a country we serve), give the device its one subscription (allocated on the first
 * request, the same one after) and answer with the profile sealed to the
 * device's key in the voucher, and the first attach challenge beside it:
 * the device answers that at once, without an attach request (SPEC
 * section 13). Everything is stored with the answer in one transaction: a
 * duplicate of the request gets the same answer, the same challenge; a
 * new request gets a new one, its SQN the next.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

/* What a checked voucher tells us. */
struct voucher_facts {
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    uint8_t seal_key[32];
};

struct profile_ctx {
    struct op *o;
    const char *dev;
    const struct voucher_facts *v;
};

static int same(struct onr_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

static void copy_id(char *out, size_t cap, struct onr_bytes id)
{
    snprintf(out, cap, "%.*s", (int)id.len, (const char *)id.ptr);
}

/* The voucher token (SPEC section 6) as this operator must see it. */
static int check_voucher(struct onr_service *svc, const struct op *o, const char *dev,
                         struct onr_bytes token, struct voucher_facts *out, const char **why)
{
    struct onr_envelope t;
    const struct onr_msg_voucher_token *v = &t.msg.body.voucher_token;
    const struct onr_peer *mfr;
    int rc;

    rc = onr_envelope_decode(token.ptr, token.len, &t);
    if (rc != ONR_OK || t.msg.type != ONR_MSG_VOUCHER_TOKEN) {
        *why = "not a voucher";
        return ONR_EDENIED;
    }
    mfr = onr_peer_find(&o->manufacturers, t.sender.ptr, t.sender.len);
    if (mfr == NULL) {
        *why = "voucher from a manufacturer not trusted";
        return ONR_EDENIED;
    }
    if (onr_envelope_verify_sig(&t, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), mfr->key) !=
        ONR_OK) {
        *why = "voucher signature";
        return ONR_EDENIED;
    }
    if (!same(v->dev, dev)) {
        *why = "voucher for another device";
        return ONR_EDENIED;
    }
    if (!same(v->op, onr_service_id(svc))) {
        *why = "voucher names another operator";
        return ONR_EDENIED;
    }
    if (v->expires <= onr_service_now(svc)) {
        *why = "voucher expired";
        return ONR_EEXPIRED;
    }
    if (onr_peer_find(&o->providers, v->prov.ptr, v->prov.len) == NULL) {
        *why = "no contract with the voucher's provider";
        return ONR_EDENIED;
    }
    /* the visited PLMN is the device's claim; it only picks among operators
     * that serve its country (SPEC section 15) */
    if (!op_serves(o, (const char *)v->plmn.ptr, v->plmn.len)) {
        *why = "voucher for a country not served";
        return ONR_EDENIED;
    }
    snprintf(out->mfr, sizeof(out->mfr), "%s", mfr->id);
    copy_id(out->prov, sizeof(out->prov), v->prov);
    memcpy(out->seal_key, v->seal_key.ptr, sizeof(out->seal_key));
    return ONR_OK;
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    struct profile_ctx *ctx = arg;
    struct op *o = ctx->o;
    struct onr_db *db = onr_service_db(svc);
    struct op_subscriber sub;
    struct onr_msg msg = {.type = ONR_MSG_PROFILE};
    struct onr_msg_profile_content content;
    struct onr_aka_vector v;
    uint8_t sealed[ONR_SEALED_PROFILE_MAX];
    size_t sealed_len = 0;
    char down[ONR_TOPIC_MAX + 1];
    struct op_change owners = {.mfr = ctx->v->mfr, .prov = ctx->v->prov,
                               .now = onr_service_now(svc)};
    int fresh = 0;
    int rc;

    (void)topic;
    rc = op_sub_get_locked(db, ctx->dev, &sub);
    if (rc == ONR_ENOENT) {
        rc = op_sub_allocate(db, &o->ranges, ctx->dev, ctx->v->mfr, ctx->v->prov, o->op, o->amf,
                             onr_service_now(svc), &sub);
        fresh = 1;
    } else if (rc == ONR_OK) {
        /* a newer voucher (the device changed hands, or came back after a
         * release): the same subscription, active again */
        rc = op_sub_step(db, &sub, OP_PROFILED, &owners);
    }
    /* the first challenge, stored before the answer is said */
    if (rc == ONR_OK)
        rc = op_challenge_new(svc, &sub, sub.sqn, &v);
    if (rc != ONR_OK) {
        onr_wipe(&sub, sizeof(sub));
        return rc;
    }
    content = (struct onr_msg_profile_content){
        .iccid = {(const uint8_t *)sub.iccid, strlen(sub.iccid)},
        .imsi = {(const uint8_t *)sub.imsi, strlen(sub.imsi)},
        .ki = ONR_BYTES(sub.keys.k),
        .opc = ONR_BYTES(sub.keys.opc),
        .amf = ONR_BYTES(sub.keys.amf),
        .plmn = {(const uint8_t *)o->plmn, strlen(o->plmn)},
        .apn = {(const uint8_t *)o->apn, strlen(o->apn)},
    };
    rc = onr_sealed_profile_seal(ctx->v->seal_key, ctx->dev, onr_service_id(svc),
                                 env->msg.body.profile_request.nonce.ptr, &content, sealed,
                                 sizeof(sealed), &sealed_len);
    onr_wipe(&content, sizeof(content));
    if (rc == ONR_OK) {
        msg.body.profile = (struct onr_msg_profile){
            .re = ONR_BYTES(env->id),
            .sealed = {sealed, sealed_len},
            .rand = ONR_BYTES(v.rand),
            .autn = ONR_BYTES(v.autn),
        };
        rc = onr_topic_down(ctx->dev, down, sizeof(down));
        if (rc == ONR_OK)
            rc = onr_service_seal(svc, &msg, down, &answer->reply, NULL);
    }
    if (rc == ONR_OK)
        onr_log(fresh ? ONR_LOG_NOTICE : ONR_LOG_INFO,
                "profile dev=%s imsi=%s iccid=%s provider=%s%s", ctx->dev, sub.imsi, sub.iccid,
                sub.prov, fresh ? " allocated=yes" : "");
    onr_wipe(&sub, sizeof(sub));
    onr_wipe(&v, sizeof(v));
    onr_wipe(sealed, sizeof(sealed));
    return rc;
}

int op_on_profile_request(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg)
{
    struct op *o = arg;
    struct voucher_facts v;
    struct profile_ctx ctx = {o, NULL, &v};
    char dev[ONR_DEVID_LEN + 1];
    char down[ONR_TOPIC_MAX + 1];
    const char *why = "";
    int rc;

    rc = op_from_device(svc, env, topic, dev, down);
    if (rc != ONR_OK)
        return rc;
    ctx.dev = dev;
    rc = check_voucher(svc, o, dev, env->msg.body.profile_request.voucher, &v, &why);
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_NOTICE, "profile refused dev=%s reason=\"%s\"", dev, why);
        return onr_service_refuse(svc, env, rc, down);
    }
    rc = onr_service_handle_once(svc, env, topic, decide, &ctx);
    if (rc == ONR_EEXHAUSTED) {
        onr_log(ONR_LOG_WARNING, "profile refused dev=%s reason=\"number pool exhausted\"",
                dev);
        return onr_service_refuse(svc, env, rc, down);
    }
    return rc;
}
