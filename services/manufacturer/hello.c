/*
 * Step 3b: a device says hello on onr/1/d/{dev}/up/mfr/{us}. The device
 * must be one we made: its registry key verifies the hello, its
 * certificate (if sent) chains to our device CA and names that key. Then:
 * a voucher if a provider registered it (naming the operator its roaming
 * policy chooses for the PLMN the hello reports, or ENOOPERATOR where it
 * names none, the provider told), else "pending" and a note so the
 * voucher is pushed when the registration arrives.
 */
#include "mfr.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct hello_ctx {
    struct mfr *m;
    const struct onr_registry_device *dev;
};

/* The identity certificate: from our device CA, for this very key and id. */
static int check_certificate(const struct mfr *m, const struct onr_registry_device *d,
                             struct onr_bytes cert)
{
    struct onr_x509_info info;
    int rc;

    rc = onr_x509_verify_chain(m->device_ca, m->device_ca_len, &cert, 1, &info);
    if (rc != ONR_OK)
        return rc;
    if (memcmp(info.public_key, d->identity_key, ONR_P256_PUB_LEN) != 0 ||
        strcmp(info.common_name, d->dev) != 0)
        return ONR_ECERT;
    return ONR_OK;
}

int mfr_hello_country(const struct onr_service *svc, const struct onr_msg_hello *hello,
                      char mcc[ONR_SERVICE_REGION_MAX + 1], const char **source)
{
    const char *region = onr_service_via_region(svc);

    if (hello->plmn.len >= ONR_SERVICE_REGION_MAX) {
        memcpy(mcc, hello->plmn.ptr, ONR_SERVICE_REGION_MAX); /* checked digits */
        *source = "network";
    } else if (region != NULL) {
        memcpy(mcc, region, ONR_SERVICE_REGION_MAX);
        *source = "broker";
    } else {
        return ONR_ENOENT;
    }
    mcc[ONR_SERVICE_REGION_MAX] = '\0';
    return ONR_OK;
}

static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    struct hello_ctx *ctx = arg;
    const struct onr_registry_device *d = ctx->dev;
    const struct onr_msg_hello *h = &env->msg.body.hello;
    struct onr_registry_assignment a;
    struct onr_db *db = onr_service_db(svc);
    char down[ONR_TOPIC_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_PENDING};
    static const char waiting[] = "no provider has registered this device yet";
    struct onr_registry_hello kept;
    struct mfr_change hello = {&kept, NULL, onr_service_now(svc)};
    char country[ONR_SERVICE_REGION_MAX + 1] = "";
    const char *source = "none";
    struct mfr_ask ask = {h->nonce.ptr, env->id, kept.plmn, country, down};
    int rc;

    (void)topic;
    memset(&kept, 0, sizeof(kept));
    memcpy(kept.nonce, h->nonce.ptr, sizeof(kept.nonce));
    memcpy(kept.hello_id, env->id, sizeof(kept.hello_id));
    /* the decoder checked it: 5 or 6 digits */
    memcpy(kept.plmn, h->plmn.ptr != NULL ? (const char *)h->plmn.ptr : "", h->plmn.len);
    /* the country for the policy: the visited network's, else the region
     * of the broker the hello came through (only known now) */
    if (mfr_hello_country(svc, h, country, &source) != ONR_OK)
        country[0] = '\0';
    /* kept with a waiting hello: the country when it is answered later */
    if (strcmp(source, "broker") == 0)
        memcpy(kept.region, country, sizeof(kept.region));
    rc = onr_topic_down(d->dev, down, sizeof(down));
    if (rc == ONR_OK)
        rc = onr_registry_assignment(db, d->dev, &a);
    if (rc == ONR_ENOENT) {
        /* not registered as read: read again with the device locked, as a
         * registration reads it (lifecycle.h) */
        rc = onr_registry_lock(db, d->dev);
        if (rc == ONR_OK)
            rc = onr_registry_assignment(db, d->dev, &a);
    }
    if (rc == ONR_OK) {
        /* a voucher records the visited network with it (for status) */
        rc = mfr_vouch(svc, ctx->m, d, &a, &ask, &answer->reply);
        if (rc != ONR_ENOOPERATOR)
            return rc;
        /* the policy names nobody here: the device asks again with its
         * backoff, its provider hears of it (a policy added lets it on) */
        rc = onr_registry_reported(db, d->dev, kept.plmn);
        if (rc == ONR_OK)
            rc = mfr_no_operator(svc, d->dev, &a, &ask, answer);
        return rc == ONR_OK ? onr_answer_refuse(svc, answer, env, ONR_ENOOPERATOR, down) : rc;
    }
    if (rc != ONR_ENOENT)
        return rc;
    /* Not registered yet: the hello is kept so the voucher can be pushed
     * when the registration arrives; the device hears when to ask again. */
    rc = onr_registry_reported(db, d->dev, kept.plmn); /* for status */
    if (rc == ONR_OK)
        rc = mfr_device_step(db, d->dev, MFR_HELLO_UNOWNED, &hello);
    if (rc != ONR_OK)
        return rc;
    msg.body.pending = (struct onr_msg_pending){
        .re = ONR_BYTES(env->id),
        .retry_after = ctx->m->retry_after,
        .reason = ONR_BYTES_STR(waiting),
    };
    onr_log(ONR_LOG_INFO, "pending dev=%s", d->dev);
    return onr_service_seal(svc, &msg, down, &answer->reply, NULL);
}

/* An error answer the device can act on, when the hello is authentic. */
static int answer_error(struct onr_service *svc, const struct onr_envelope *env,
                        const char *dev, int code)
{
    char down[ONR_TOPIC_MAX + 1];
    int rc = onr_topic_down(dev, down, sizeof(down));

    return rc == ONR_OK ? onr_service_refuse(svc, env, code, down) : rc;
}

int mfr_on_hello(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                 void *arg)
{
    struct mfr *m = arg;
    struct onr_registry_device d;
    struct hello_ctx ctx = {m, &d};
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    rc = onr_service_from_device(topic, env, dev);
    if (rc != ONR_OK)
        return rc;
    rc = onr_registry_device(onr_service_db(svc), dev, ONR_DEVID_LEN, &d);
    if (rc != ONR_OK)
        return rc == ONR_ENOENT ? ONR_EDENIED : rc; /* not one of ours: no answer */
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 d.identity_key);
    if (rc != ONR_OK)
        return rc; /* not the device: no answer */
    if (env->msg.body.hello.cert.ptr != NULL) {
        rc = check_certificate(m, &d, env->msg.body.hello.cert);
        if (rc != ONR_OK)
            return answer_error(svc, env, dev, rc);
    }
    rc = onr_service_accept(svc, env);
    if (rc == ONR_ESTALE)
        return answer_error(svc, env, dev, rc); /* tell it its clock is off */
    if (rc != ONR_OK && rc != ONR_EREPLAY)
        return rc;
    /* A duplicate (EREPLAY) is answered from the outbox, like any retry of
     * the same message. */
    return onr_service_handle_once(svc, env, topic, decide, &ctx);
}
