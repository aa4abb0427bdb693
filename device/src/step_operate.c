/*
 * Operation (ENROLLED -> OPERATIONAL, proto/SPEC.md section 14): the
 * device leaves the bootstrap broker for its provider's service broker:
 * MQTT v5 over TLS with its service chain and key as client certificate,
 * service-ca.pem trusted for the server, its device id as client id, a
 * clean start. It subscribes to onr/1/p/{prov}/dev/{dev}/down, where its
 * provider's relocate reaches it (section 16: step_relocate.c), then
 * publishes, QoS 1, its telemetry on onr/1/p/{prov}/dev/{dev}/telemetry:
 * {"dev":"ID","state":"OPERATIONAL"}, or with its visited PLMN and a fresh
 * nonce, stored first in "reported", when it knows the PLMN. The PUBACK
 * (reason below 0x80) makes it OPERATIONAL. A device started at
 * OPERATIONAL does the same, and its run ends there, unless it stays: then
 * it stays connected, and reports again when its visited PLMN changes.
 * Before either, a certificate due is renewed (step_renew.c); one that
 * expired sends the device back to enrollment instead of connecting.
 *
 * One libmosquitto client per attempt: made on the timer, destroyed on the
 * timer of the next attempt (or at close), never inside its own callbacks.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/connect.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/telemetry.h"
#include "onramp/topic.h"

#define KEEPALIVE 60

static int telemetry_topic(const struct onr_device *d, char *out, size_t cap)
{
    return onr_topic_operational(d->journey.voucher.prov, d->files.trust.dev,
                                 ONR_TOPIC_TELEMETRY, out, cap);
}

static int down_topic(const struct onr_device *d, char *out, size_t cap)
{
    return onr_topic_operational_down(d->journey.voucher.prov, d->files.trust.dev, out, cap);
}

/* The telemetry, with the visited PLMN and a fresh nonce (stored first)
 * when the device knows the PLMN; published, its PUBACK awaited. */
static void telemetry_send(struct onr_device *d)
{
    struct onr_telemetry t;
    char topic[ONR_TOPIC_MAX + 1];
    char payload[ONR_TELEMETRY_MAX + 1];
    size_t len = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    memcpy(t.dev, d->files.trust.dev, sizeof(t.dev));
    if (d->visited[0] != '\0') {
        t.reported = 1;
        memcpy(t.plmn, d->visited, sizeof(t.plmn));
        rc = onr_random(t.nonce, sizeof(t.nonce));
        /* durable before it is sent: a relocation answering it may come
         * after a restart */
        if (rc == ONR_OK && device_reported_add(d->dir, t.nonce, t.plmn) != ONR_OK) {
            device_give_up(d, ONR_EIO, "cannot store the telemetry's nonce (reported)");
            return;
        }
        if (rc != ONR_OK) {
            device_failed(d, rc, "cannot make the telemetry's nonce");
            return;
        }
    }
    d->report_again = 0;
    if (onr_telemetry_encode(&t, payload, sizeof(payload), &len) != ONR_OK ||
        telemetry_topic(d, topic, sizeof(topic)) != ONR_OK ||
        mosquitto_publish_v5(d->svc_mosq, &d->telemetry_mid, topic, (int)len, payload, 1, false,
                             NULL) != MOSQ_ERR_SUCCESS) {
        device_failed(d, ONR_EIO, "cannot publish the telemetry");
        return;
    }
    onr_mqtt_loop_kick(d->svc_loop);
    device_wait_answer(d);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    struct device_detail l = {"", 0};
    char topic[ONR_TOPIC_MAX + 1];
    char why[128];

    (void)flags;
    (void)props;
    if (!d->running || mosq != d->svc_mosq || d->phase != PHASE_CONNECTING)
        return;
    if (rc != 0) {
        snprintf(why, sizeof(why), "the service broker refused the CONNECT: %s",
                 mosquitto_reason_string(rc));
        device_failed(d, ONR_EDENIED, why);
        return;
    }
    device_put(&l, "broker=service");
    device_report(d, "connected", &l);
    /* its provider's messages first, so none answering the telemetry is
     * missed; QoS 0, as on the bootstrap broker (SPEC section 2) */
    if (down_topic(d, topic, sizeof(topic)) != ONR_OK ||
        mosquitto_subscribe_v5(mosq, NULL, topic, 0, 0, NULL) != MOSQ_ERR_SUCCESS) {
        device_failed(d, ONR_EIO, "cannot subscribe on the service broker");
        return;
    }
    onr_mqtt_loop_kick(d->svc_loop);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct onr_device *d = arg;

    (void)mid;
    (void)props;
    if (!d->running || mosq != d->svc_mosq || d->phase != PHASE_CONNECTING)
        return;
    if (n != 1 || granted[0] >= 128) {
        device_failed(d, ONR_EDENIED, "the service broker refused the subscription");
        return;
    }
    telemetry_send(d);
}

static void on_publish(struct mosquitto *mosq, void *arg, int mid, int reason,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    struct device_detail l = {"", 0};
    char topic[ONR_TOPIC_MAX + 1];
    char why[128];

    (void)props;
    if (!d->running || mosq != d->svc_mosq || mid != d->telemetry_mid ||
        d->phase != PHASE_WAITING)
        return;
    if (reason >= 0x80) {
        snprintf(why, sizeof(why), "the service broker refused the telemetry: %s",
                 mosquitto_reason_string(reason));
        device_failed(d, ONR_EDENIED, why);
        return;
    }
    (void)telemetry_topic(d, topic, sizeof(topic)); /* it was published: it builds */
    device_put(&l, "topic=%s", topic);
    if (d->visited[0] != '\0')
        device_put(&l, " visited=%s", d->visited);
    device_report(d, "telemetry", &l);
    d->failures = 0;
    if (d->journey.state == ONR_DEVICE_ENROLLED) {
        if (device_state_save(d->dir, ONR_DEVICE_OPERATIONAL) != ONR_OK) {
            device_give_up(d, ONR_EIO, "cannot store the journey"); /* a disk problem */
            return;
        }
        device_enter(d, ONR_DEVICE_OPERATIONAL);
    }
    if (step_renew_next(d))
        return; /* a renewal's answer awaited first */
    step_operate_settle(d);
}

void step_operate_settle(struct onr_device *d)
{
    if (!d->running)
        return;
    if (!d->opt.stay) {
        device_finish(d, ONR_OK); /* operational: the run's work is done */
        return;
    }
    /* stay, for the provider's relocate, the next visited PLMN and the
     * certificate's renewal */
    d->phase = PHASE_OPERATING;
    step_renew_schedule(d);
    if (d->report_again)
        telemetry_send(d);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    char topic[ONR_TOPIC_MAX + 1];

    (void)props;
    if (!d->running || mosq != d->svc_mosq || d->journey.state != ONR_DEVICE_OPERATIONAL ||
        m->payloadlen <= 0 || down_topic(d, topic, sizeof(topic)) != ONR_OK ||
        strcmp(m->topic, topic) != 0)
        return;
    if (!step_renew_take(d, topic, m->payload, (size_t)m->payloadlen))
        step_relocate_take(d, topic, m->payload, (size_t)m->payloadlen);
}

void step_operate_report(struct onr_device *d)
{
    if (!d->running || d->journey.state != ONR_DEVICE_OPERATIONAL || d->svc_mosq == NULL)
        return;
    if (d->phase == PHASE_OPERATING)
        telemetry_send(d);
    else if (d->phase == PHASE_WAITING)
        d->report_again = 1; /* after the one in flight */
}

static void on_lost(void *arg, int reason)
{
    struct onr_device *d = arg;
    char why[128];

    if (!d->running)
        return;
    snprintf(why, sizeof(why), "connection to the service broker lost: %s",
             mosquitto_strerror(reason));
    device_failed(d, ONR_EIO, why);
}

/* Flush what a libmosquitto client has queued (a DISCONNECT), outside its
 * callbacks. */
static void flush(struct mosquitto *mosq)
{
    if (mosq != NULL && mosquitto_socket(mosq) >= 0)
        mosquitto_loop_write(mosq, 1);
}

void step_operate_drop(struct onr_device *d)
{
    if (d->svc_mosq == NULL || d->svc_loop == NULL)
        return;
    onr_mqtt_loop_unbind(d->svc_loop);
    mosquitto_disconnect_v5(d->svc_mosq, 0, NULL);
}

void step_operate_close(struct onr_device *d)
{
    onr_mqtt_loop_free(d->svc_loop);
    d->svc_loop = NULL;
    if (d->svc_mosq != NULL) {
        flush(d->svc_mosq);
        mosquitto_destroy(d->svc_mosq);
    }
    d->svc_mosq = NULL;
    d->telemetry_mid = 0;
}

/* A new client (the one before closed) with its TLS files. */
static int client_new(struct onr_device *d)
{
    char ca[DEVICE_PATH_MAX + 200], cert[DEVICE_PATH_MAX + 200], key[DEVICE_PATH_MAX + 200];
    int rc;

    step_operate_close(d);
    rc = onr_connect_client_new(d->files.identity, d, &d->svc_mosq);
    if (rc != ONR_OK)
        return rc;
    mosquitto_connect_v5_callback_set(d->svc_mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(d->svc_mosq, on_subscribe);
    mosquitto_publish_v5_callback_set(d->svc_mosq, on_publish);
    mosquitto_message_v5_callback_set(d->svc_mosq, on_message);
    rc = onr_mqtt_loop_new(d->base, d->svc_mosq, on_lost, d, &d->svc_loop);
    if (rc == ONR_OK)
        rc = device_path(ca, sizeof(ca), d->dir, DEVICE_SERVICE_CA_FILE);
    if (rc == ONR_OK)
        rc = device_path(cert, sizeof(cert), d->dir, DEVICE_SERVICE_CERT_FILE);
    if (rc == ONR_OK)
        rc = device_path(key, sizeof(key), d->dir, DEVICE_SERVICE_KEY_FILE);
    if (rc == ONR_OK &&
        mosquitto_tls_set(d->svc_mosq, ca, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS)
        rc = ONR_EIO; /* a file gone since open */
    return rc;
}

void step_operate_connect(struct onr_device *d)
{
    const struct device_service *svc = &d->journey.service;
    struct device_detail l = {"", 0};
    int mrc = MOSQ_ERR_SUCCESS;
    int rc;

    if (step_renew_expired(d))
        return; /* enrolling again instead */
    device_put(&l, "endpoint=%s", svc->endpoint);
    device_report(d, "operating", &l);
    flush(d->mosq); /* the bootstrap broker's goodbye, queued when enrolled */
    rc = client_new(d);
    if (rc == ONR_OK)
        mrc = mosquitto_connect_bind_v5(d->svc_mosq, svc->host, svc->port, KEEPALIVE, NULL, NULL);
    if (rc == ONR_OK && mrc != MOSQ_ERR_SUCCESS)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = onr_mqtt_loop_bind(d->svc_loop);
    if (rc != ONR_OK) {
        l.len = 0;
        device_put(&l, "cannot connect to the service broker (%s:%d)", svc->host, svc->port);
        if (mrc != MOSQ_ERR_SUCCESS)
            device_put(&l, ": %s", mosquitto_strerror(mrc));
        device_failed(d, rc, l.text);
        return;
    }
    device_wait_connect(d);
}
