/*
 * The broker connection: libmosquitto driven by the service's libevent
 * loop (<onramp/mqtt_loop.h>), MQTT v5, QoS 1, a persistent session, TLS
 * with the service's certificate, every subscription renewed on each
 * connect (shared with the service's other instances when it has an
 * `instance` name), reconnects with backoff and jitter. It is the transport the
 * rest of the skeleton publishes through.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/text.h"
#include "service_internal.h"

#define SESSION_EXPIRY 86400 /* seconds a persistent session outlives a disconnect */

static void schedule_reconnect(struct onr_service *svc)
{
    uint32_t jitter = 0;
    double delay;
    struct timeval tv;

    /* 0.5 s doubling to 30 s, each with up to 50% jitter so a fleet of
     * restarted services does not reconnect in step. */
    delay = 0.5 * (double)(1u << (svc->backoff < 6 ? svc->backoff : 6));
    if (delay > 30)
        delay = 30;
    onr_random((uint8_t *)&jitter, sizeof(jitter));
    delay += delay * 0.5 * (double)(jitter % 1000) / 1000.0;
    svc->backoff++;
    tv.tv_sec = (time_t)delay;
    tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
    event_add(svc->reconnect_ev, &tv);
}

static void on_lost(void *arg, int reason)
{
    struct onr_service *svc = arg;

    svc->connected = 0;
    onr_log(ONR_LOG_WARNING, "broker connection lost reason=%s", mosquitto_strerror(reason));
    schedule_reconnect(svc);
}

/* One of the service's filters; with several instances (config
 * `instance`) in the $share group "{role}.{id}", so that each message
 * reaches one instance of the service. */
static void subscribe(struct onr_service *svc, struct mosquitto *mosq, const char *filter)
{
    char shared[ONR_TOPIC_MAX + 2 * ONR_SERVICE_ID_MAX + 16];

    if (onr_config_get(svc->cfg, "instance") == NULL) {
        mosquitto_subscribe_v5(mosq, NULL, filter, 1, 0, NULL);
        return;
    }
    snprintf(shared, sizeof(shared), "$share/%s.%s/%s", onr_topic_role(svc->def->sender_role),
             svc->id, filter);
    mosquitto_subscribe_v5(mosq, NULL, shared, 1, 0, NULL);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct onr_service *svc = arg;

    (void)flags;
    (void)props;
    if (rc != 0) {
        onr_log(ONR_LOG_ERROR, "broker refused the connection reason=%s",
                mosquitto_reason_string(rc));
        return; /* the broker closes; on_lost schedules the retry */
    }
    svc->connected = 1;
    svc->backoff = 0;
    onr_log(ONR_LOG_NOTICE, "connected broker=%s:%s", onr_config_get(svc->cfg, "broker_host"),
            onr_config_get(svc->cfg, "broker_port"));
    svc->subacks_due = svc->n_subscribed;
    for (size_t i = 0; i < svc->n_routes; i++)
        if (svc->routes[i].subscribe)
            subscribe(svc, mosq, svc->routes[i].filter);
    onr_mqtt_loop_kick(svc->loop);
}

/* Each subscription must be granted: a refusal means the broker's plugin
 * and this service disagree about its topics, which no retry mends. */
static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct onr_service *svc = arg;

    (void)mosq;
    (void)mid;
    (void)props;
    for (int i = 0; i < n; i++)
        if (granted[i] >= 128)
            onr_log(ONR_LOG_ERROR, "subscription refused reason=%s",
                    mosquitto_reason_string(granted[i]));
    if (svc->subacks_due > 0 && --svc->subacks_due == 0)
        onr_log(ONR_LOG_NOTICE, "subscribed filters=%zu", svc->n_subscribed);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    if (m->payloadlen <= 0 || m->topic == NULL)
        return;
    svc_on_message(arg, m->topic, m->payload, (size_t)m->payloadlen);
}

static int publish(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
    struct onr_service *svc = ctx;
    int rc = mosquitto_publish_v5(svc->mosq, NULL, topic, (int)len, payload, 1, false, NULL);

    if (rc != MOSQ_ERR_SUCCESS) {
        onr_log(ONR_LOG_WARNING, "not published topic=%s reason=%s", topic,
                mosquitto_strerror(rc));
        return ONR_EIO;
    }
    onr_mqtt_loop_kick(svc->loop);
    return ONR_OK;
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
    struct onr_service *svc = arg;
    const char *host = onr_config_get(svc->cfg, "broker_host");
    uint64_t port = 0;
    int rc;

    (void)fd;
    (void)what;
    onr_config_get_uint(svc->cfg, "broker_port", 0, 1, 65535, &port);
    /* The first connect stored host, port and properties, even if it
     * failed: reconnecting reuses them and resumes the session. */
    rc = mosquitto_reconnect(svc->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        onr_log(ONR_LOG_WARNING, "cannot reach broker=%s:%u reason=%s", host, (unsigned)port,
                mosquitto_strerror(rc));
        schedule_reconnect(svc);
        return;
    }
    if (onr_mqtt_loop_bind(svc->loop) != ONR_OK)
        schedule_reconnect(svc);
}

int svc_connect(struct onr_service *svc)
{
    const char *instance = onr_config_get(svc->cfg, "instance");
    char client_id[3 * ONR_SERVICE_ID_MAX + 3];
    char ca[1024];
    char cert[1024];
    char key[1024];
    mosquitto_property *props = NULL;
    int rc;

    /* "{role}.{id}", or "{role}.{id}.{instance}" for one of several */
    if (instance != NULL &&
        (strlen(instance) > ONR_SERVICE_ID_MAX ||
         onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)instance,
                                                         strlen(instance)}) != ONR_OK)) {
        fprintf(stderr, "%s: instance: at most %d of a-z 0-9 . _ -\n", svc->def->name,
                ONR_SERVICE_ID_MAX);
        return ONR_EINVAL;
    }
    snprintf(client_id, sizeof(client_id), "%s.%s%s%s", onr_topic_role(svc->def->sender_role),
             svc->id, instance != NULL ? "." : "", instance != NULL ? instance : "");
    /* A persistent session: messages for the service wait while it is away. */
    svc->mosq = mosquitto_new(client_id, false, svc);
    if (svc->mosq == NULL)
        return ONR_ENOMEM;
    mosquitto_int_option(svc->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(svc->mosq, on_connect);
    mosquitto_message_v5_callback_set(svc->mosq, on_message);
    mosquitto_subscribe_v5_callback_set(svc->mosq, on_subscribe);
    rc = onr_service_path(svc, "broker_ca", ca, sizeof(ca));
    if (rc == ONR_OK)
        rc = onr_service_path(svc, "cert", cert, sizeof(cert));
    if (rc == ONR_OK)
        rc = onr_service_path(svc, "key", key, sizeof(key));
    if (rc != ONR_OK || mosquitto_tls_set(svc->mosq, ca, NULL, cert, key, NULL) !=
                            MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "%s: broker_ca, cert, key: unreadable\n", svc->def->name);
        return ONR_EINVAL;
    }
    svc->transport = (struct svc_transport){publish, svc};
    /* The session expiry travels in CONNECT and libmosquitto keeps it for
     * reconnects. */
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY);
    rc = mosquitto_connect_bind_v5(svc->mosq, onr_config_get(svc->cfg, "broker_host"),
                                   (int)strtol(onr_config_get(svc->cfg, "broker_port"), NULL,
                                               10),
                                   30, NULL, props);
    mosquitto_property_free_all(&props);
    rc = onr_mqtt_loop_new(svc->base, svc->mosq, on_lost, svc, &svc->loop);
    if (rc != ONR_OK)
        return rc;
    svc->reconnect_ev = event_new(svc->base, -1, 0, try_connect, svc);
    if (svc->reconnect_ev == NULL)
        return ONR_ENOMEM;
    if (mosquitto_socket(svc->mosq) >= 0 && onr_mqtt_loop_bind(svc->loop) == ONR_OK)
        return ONR_OK;
    onr_log(ONR_LOG_WARNING, "broker not reachable yet; retrying");
    svc->backoff = 1;
    schedule_reconnect(svc);
    return ONR_OK;
}

void svc_disconnect(struct onr_service *svc)
{
    if (svc->mosq != NULL && svc->connected) {
        mosquitto_disconnect_v5(svc->mosq, 0, NULL);
        mosquitto_loop_write(svc->mosq, 1);
    }
    onr_mqtt_loop_free(svc->loop);
    svc->loop = NULL;
    if (svc->mosq != NULL)
        mosquitto_destroy(svc->mosq);
    svc->mosq = NULL;
    if (svc->reconnect_ev != NULL)
        event_free(svc->reconnect_ev);
    svc->reconnect_ev = NULL;
    svc->transport = (struct svc_transport){NULL, NULL};
}
