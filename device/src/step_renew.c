/*
 * Certificate renewal (proto/SPEC.md section 17), on the service broker:
 * once its certificate is due (device_renew_at), an operational device
 * asks its provider, on onr/1/p/{prov}/dev/{dev}/renew and signed with the
 * key of the certificate it is connected with, for a certificate for a
 * new key (renew/service.key, made once); the provider's enroll response
 * on the down leaf is checked and stored in renew/, switched in
 * (device_take_renewal), and the device connects again with the new
 * certificate; there, after its telemetry, it sends renewed, signed with
 * the new key, until the provider's revoked says the old certificate is
 * gone. A certificate that expired before it could be renewed sends the
 * device back to enrollment.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hex.h"
#include "onramp/mqtt_loop.h"
#include "onramp/x509.h"

#define FRESHNESS 300 /* seconds, as for every service envelope */

static void put_serial(struct device_detail *l, const char *key, const uint8_t *serial,
                       size_t len)
{
    char hex[2 * 20 + 1];

    onr_hex_encode(serial, len < 20 ? len : 20, hex);
    device_put(l, "%s%s=%s", l->len > 0 ? " " : "", key, hex);
}

/* `msg` signed with `key` as this device for its renew leaf, published;
 * its id into d->renew_id. */
static int publish(struct onr_device *d, const struct onr_msg *msg, const struct onr_p256_key *key)
{
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_DEVICE,
        .sender = {(const uint8_t *)d->files.trust.dev, ONR_DEVID_LEN},
        .key = key,
    };
    uint8_t buf[ONR_ENVELOPE_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    size_t len = 0;
    int rc = onr_topic_operational(d->journey.voucher.prov, d->files.trust.dev, ONR_TOPIC_RENEW,
                                   topic, sizeof(topic));

    if (rc == ONR_OK)
        rc = onr_envelope_encode(msg, &self,
                                 (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 (uint64_t)time(NULL), buf, sizeof(buf), &len, d->renew_id);
    if (rc == ONR_OK &&
        mosquitto_publish_v5(d->svc_mosq, NULL, topic, (int)len, buf, 1, false, NULL) !=
            MOSQ_ERR_SUCCESS)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        onr_mqtt_loop_kick(d->svc_loop);
    return rc;
}

/* The renew request: the new key (made and stored first), its CSR, signed
 * with the key in force. */
static int send_request(struct onr_device *d)
{
    const struct device_service *s = &d->journey.service;
    struct onr_x509_name subject = {.common_name = d->files.trust.dev};
    struct onr_msg msg = {.type = ONR_MSG_RENEW_REQUEST};
    struct device_detail l = {"", 0};
    int rc = ONR_OK;

    if (d->renew_key == NULL) {
        rc = device_renewal_key(d->dir, &d->renew_key);
        if (rc == ONR_OK) {
            d->renew_csr_len = sizeof(d->renew_csr);
            rc = onr_x509_csr_new(d->renew_key, &subject, d->renew_csr, &d->renew_csr_len);
        }
        if (rc != ONR_OK) {
            onr_p256_free(d->renew_key);
            d->renew_key = NULL;
            device_give_up(d, rc, "cannot make or store the renewal's key (renew/service.key)");
            return ONR_EIO;
        }
    }
    msg.body.renew_request.serial = (struct onr_bytes){s->serial, s->serial_len};
    msg.body.renew_request.csr = (struct onr_bytes){d->renew_csr, d->renew_csr_len};
    rc = publish(d, &msg, d->journey.service_key);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send a renew request");
        return rc;
    }
    d->renewal = RENEWAL_REQUESTED;
    put_serial(&l, "serial", s->serial, s->serial_len);
    device_put(&l, " not_after=%lld", (long long)s->not_after);
    device_report(d, "renew", &l);
    device_wait_answer(d);
    return ONR_OK;
}

/* renewed: the certificate in force, signed with its key. */
static int send_renewed(struct onr_device *d)
{
    const struct device_service *s = &d->journey.service;
    struct onr_msg msg = {.type = ONR_MSG_RENEWED};
    int rc;

    msg.body.renewed.serial = (struct onr_bytes){s->serial, s->serial_len};
    rc = publish(d, &msg, d->journey.service_key);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send renewed");
        return rc;
    }
    d->renewal = RENEWAL_CONFIRMING;
    device_wait_answer(d);
    return ONR_OK;
}

int step_renew_next(struct onr_device *d)
{
    uint8_t serial[20];
    size_t len = 0;
    int64_t at;
    int rc;

    d->renewal = RENEWAL_NONE;
    if (d->journey.state != ONR_DEVICE_OPERATIONAL || d->svc_mosq == NULL)
        return 0;
    rc = device_renewed_pending(d->dir, serial, &len);
    if (rc < 0) {
        device_give_up(d, rc, "cannot read renewed");
        return 1;
    }
    if (rc == 1) {
        if ((int64_t)time(NULL) < d->renew_retry_at)
            return 0; /* asked again later */
        send_renewed(d); /* or failed: either way the run goes on from there */
        return 1;
    }
    at = device_renew_at(d->files.trust.dev, &d->journey.service, d->opt.renew_before);
    if (at == 0 || (int64_t)time(NULL) < at || (int64_t)time(NULL) < d->renew_retry_at)
        return 0;
    send_request(d);
    return 1;
}

void step_renew_failed(struct onr_device *d, int why, const char *what)
{
    struct device_detail l = {"", 0};
    int64_t delay = 60;
    uint8_t r = 0;

    d->renewal = RENEWAL_NONE;
    d->renew_failures++;
    for (unsigned i = 1; i < d->renew_failures && delay < 3600; i++)
        delay *= 2;
    delay = delay > 3600 ? 3600 : delay;
    onr_random(&r, 1);
    delay += delay * r / 512; /* up to +50% */
    d->renew_retry_at = (int64_t)time(NULL) + delay;
    device_put(&l, "attempts=%u", d->renew_failures);
    device_put_code(&l, why);
    device_put_ours(&l, "reason", what);
    if (d->opt.stay)
        device_put(&l, " delay=%lld", (long long)delay);
    device_report(d, "unrenewed", &l);
    step_operate_settle(d); /* a run that stays waits for the retry */
}

void step_renew_schedule(struct onr_device *d)
{
    uint8_t serial[20];
    size_t len = 0;
    int64_t at = device_renew_at(d->files.trust.dev, &d->journey.service, d->opt.renew_before);
    int64_t now = (int64_t)time(NULL);
    struct timeval tv = {0, 0};

    event_del(d->timer);
    if (device_renewed_pending(d->dir, serial, &len) == 1)
        at = d->renew_retry_at; /* renewed, to say again */
    else if (at != 0 && d->renew_retry_at > at)
        at = d->renew_retry_at; /* after a failed attempt */
    if (at == 0)
        return;
    tv.tv_sec = at > now ? (time_t)(at - now) : 0;
    event_add(d->timer, &tv);
}

int step_renew_expired(struct onr_device *d)
{
    struct device_journey *j = &d->journey;
    struct device_detail l = {"", 0};

    if ((j->state != ONR_DEVICE_OPERATIONAL && j->state != ONR_DEVICE_ENROLLED) ||
        j->service.not_after > (int64_t)time(NULL))
        return 0;
    /* off for longer than its certificate lived: enroll again (SPEC 17) */
    put_serial(&l, "serial", j->service.serial, j->service.serial_len);
    device_put(&l, " not_after=%lld", (long long)j->service.not_after);
    device_report(d, "expired", &l);
    if (device_service_expire(d->dir) != ONR_OK) {
        device_give_up(d, ONR_EIO, "cannot go back to enrollment");
        return 1;
    }
    onr_p256_free(j->service_key);
    j->service_key = NULL;
    memset(&j->service, 0, sizeof(j->service));
    onr_p256_free(d->renew_key);
    d->renew_key = NULL;
    d->csr_len = 0;
    device_enter(d, ONR_DEVICE_NETWORK_ATTACHED);
    device_reconnect(d); /* to a bootstrap broker, to enroll */
    return 1;
}

/* The new certificate switched in: the device connects with it. */
static void take_renewal(struct onr_device *d, const struct onr_envelope *env)
{
    struct device_journey *j = &d->journey;
    struct device_service svc;
    struct device_detail l = {"", 0};
    int rc;

    rc = device_take_renewal(d->files.trust.dev, d->renew_key, &env->msg.body.enroll_response,
                             d->dir, &j->service, &svc);
    if (rc == ONR_EIO) {
        device_give_up(d, rc, "cannot store the renewed certificate");
        return;
    }
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "renewal", rc, onr_strerror(rc));
        return; /* the answer timeout asks again */
    }
    onr_p256_free(j->service_key);
    j->service_key = d->renew_key;
    d->renew_key = NULL;
    d->renew_csr_len = 0;
    j->service = svc;
    d->renewal = RENEWAL_NONE;
    d->renew_failures = 0;
    d->renew_retry_at = 0;
    put_serial(&l, "serial", svc.serial, svc.serial_len);
    device_put(&l, " not_after=%lld", (long long)svc.not_after);
    device_report(d, "renewed", &l);
    d->failures = 0;
    device_reconnect(d); /* with the new certificate */
}

/* The provider revoked the certificate the renewal replaced. */
static void take_confirmation(struct onr_device *d, const struct onr_msg_revoked *m)
{
    struct device_detail l = {"", 0};
    uint8_t serial[20];
    size_t len = 0;
    int rc = device_renewed_pending(d->dir, serial, &len);

    if (rc != 1 || m->dev.len != ONR_DEVID_LEN ||
        memcmp(m->dev.ptr, d->files.trust.dev, ONR_DEVID_LEN) != 0 || m->serial.len != len ||
        memcmp(m->serial.ptr, serial, len) != 0) {
        device_report_code(d, "refused", "renewal", ONR_EDENIED,
                           "revoked names another device or certificate");
        return;
    }
    if (device_renewed_clear(d->dir) != ONR_OK) {
        device_give_up(d, ONR_EIO, "cannot remove renewed");
        return;
    }
    d->renewal = RENEWAL_NONE;
    d->renew_failures = 0;
    d->renew_retry_at = 0;
    put_serial(&l, "serial", serial, len);
    device_report(d, "confirmed", &l);
    d->failures = 0;
    step_operate_settle(d);
}

int step_renew_take(struct onr_device *d, const char *topic, const uint8_t *payload, size_t len)
{
    const struct onr_device_voucher *v = &d->journey.voucher;
    struct onr_envelope env;
    struct onr_bytes re;
    int rc = onr_envelope_decode(payload, len, &env);

    if (rc != ONR_OK || (env.msg.type != ONR_MSG_ENROLL_RESPONSE &&
                         env.msg.type != ONR_MSG_REVOKED && env.msg.type != ONR_MSG_ERROR))
        return 0; /* a relocate's, or for step_relocate_take to refuse */
    if (env.sender_role != ONR_ROLE_PROVIDER || env.sender.len != strlen(v->prov) ||
        memcmp(env.sender.ptr, v->prov, env.sender.len) != 0)
        rc = ONR_EDENIED;
    if (rc == ONR_OK)
        rc = onr_envelope_verify(&env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 v->prov_key, (uint64_t)time(NULL), FRESHNESS, d->replay);
    device_release_point_tables(d);
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "renewal", rc, onr_strerror(rc));
        return 1;
    }
    re = env.msg.type == ONR_MSG_ENROLL_RESPONSE ? env.msg.body.enroll_response.re
         : env.msg.type == ONR_MSG_REVOKED      ? env.msg.body.revoked.re
                                                 : env.msg.body.error.re;
    if (d->renewal == RENEWAL_NONE || re.len != ONR_MSG_ID_LEN ||
        memcmp(re.ptr, d->renew_id, ONR_MSG_ID_LEN) != 0)
        return 1; /* an answer to a request of another connection: no news */
    if (env.msg.type == ONR_MSG_ERROR) {
        struct device_detail l = {"", 0};
        int code = -(int)env.msg.body.error.code;

        device_put_code(&l, code);
        device_put_escaped(&l, "reason", env.msg.body.error.reason.ptr,
                           env.msg.body.error.reason.len);
        device_report(d, "error", &l);
        step_renew_failed(d, code, "the provider refused the renewal");
    } else if (env.msg.type == ONR_MSG_ENROLL_RESPONSE && d->renewal == RENEWAL_REQUESTED) {
        take_renewal(d, &env);
    } else if (env.msg.type == ONR_MSG_REVOKED && d->renewal == RENEWAL_CONFIRMING) {
        take_confirmation(d, &env.msg.body.revoked);
    }
    return 1;
}

void step_renew_cleanup(struct onr_device *d)
{
    onr_p256_free(d->renew_key);
    d->renew_key = NULL;
    onr_wipe(d->renew_csr, sizeof(d->renew_csr));
    d->renew_csr_len = 0;
}
