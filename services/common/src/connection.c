/*
 * The brokers' connections: for each broker of the configuration, its own
 * libmosquitto client driven by the service's one libevent loop
 * (<onramp/mqtt_loop.h>), MQTT v5, QoS 1 but for devices' requests and
 * answers (svc_publish_qos, svc_subscription_qos), a persistent session, TLS with
 * the service's certificate, every subscription renewed on each connect
 * (shared with the service's other instances when it has an `instance`
 * name), reconnects with backoff and jitter. Each is independent: a broker going
 * away or coming back stops none of the others. They are the transport
 * the rest of the skeleton publishes through.
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

/*
 * Seconds the broker keeps a service's session (its subscriptions and what
 * is queued for it) after a disconnect (config `session_expiry`). Alone, a
 * service gets back a day of messages after an outage. One of several
 * instances is a member of a $share group, and Mosquitto (2.0) hands each
 * message of the group to the next member in turn, connected or not: a
 * dead instance's session would take its share until it expires. Two
 * minutes outlast a restart and the reconnect backoff's first steps
 * (0.5 s doubling, 31.5 s in all before it waits 30 s at a time); what
 * an expired session held comes back as device retries and resends.
 */
#define SESSION_EXPIRY_ALONE 86400
#define SESSION_EXPIRY_INSTANCE 120

static void schedule_reconnect(struct svc_broker *b)
{
    uint32_t jitter = 0;
    double delay;
    struct timeval tv;

    /* 0.5 s doubling to 30 s, each with up to 50% jitter so a fleet of
     * restarted services does not reconnect in step. */
    delay = 0.5 * (double)(1u << (b->backoff < 6 ? b->backoff : 6));
    if (delay > 30)
        delay = 30;
    onr_random((uint8_t *)&jitter, sizeof(jitter));
    delay += delay * 0.5 * (double)(jitter % 1000) / 1000.0;
    b->backoff++;
    tv.tv_sec = (time_t)delay;
    tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
    event_add(b->reconnect_ev, &tv);
}

static void on_lost(void *arg, int reason)
{
    struct svc_broker *b = arg;

    b->connected = 0;
    onr_log(ONR_LOG_WARNING, "broker connection lost broker=%s reason=%s", b->name,
            mosquitto_strerror(reason));
    schedule_reconnect(b);
}

/* One of the service's filters; its work, with several instances (config
 * `instance`), in the $share group "{role}.{id}", so that each message
 * reaches one instance of the service. */
static void subscribe(struct onr_service *svc, struct mosquitto *mosq, const struct svc_route *r)
{
    char shared[ONR_TOPIC_MAX + 2 * ONR_SERVICE_ID_MAX + 16];

    int qos = svc_subscription_qos(r->filter);

    if (onr_config_get(svc->cfg, "instance") == NULL || r->subscribe == SVC_SUBSCRIBE_EVERY) {
        mosquitto_subscribe_v5(mosq, NULL, r->filter, qos, 0, NULL);
        return;
    }
    snprintf(shared, sizeof(shared), "$share/%s.%s/%s", onr_topic_role(svc->def->sender_role),
             svc->id, r->filter);
    mosquitto_subscribe_v5(mosq, NULL, shared, qos, 0, NULL);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct svc_broker *b = arg;
    struct onr_service *svc = b->svc;

    (void)flags;
    (void)props;
    if (rc != 0) {
        onr_log(ONR_LOG_ERROR, "broker refused the connection broker=%s reason=%s", b->name,
                mosquitto_reason_string(rc));
        return; /* the broker closes; on_lost schedules the retry */
    }
    b->connected = 1;
    b->backoff = 0;
    onr_log(ONR_LOG_NOTICE, "connected broker=%s address=%s:%u", b->name, b->host, b->port);
    b->subacks_due = svc->n_subscribed;
    for (size_t i = 0; i < svc->n_routes; i++)
        if (svc->routes[i].subscribe)
            subscribe(svc, mosq, &svc->routes[i]);
    onr_mqtt_loop_kick(b->loop);
}

/* Each subscription must be granted: a refusal means the broker's plugin
 * and this service disagree about its topics, which no retry mends. */
static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct svc_broker *b = arg;

    (void)mosq;
    (void)mid;
    (void)props;
    for (int i = 0; i < n; i++)
        if (granted[i] >= 128)
            onr_log(ONR_LOG_ERROR, "subscription refused broker=%s reason=%s", b->name,
                    mosquitto_reason_string(granted[i]));
    if (b->subacks_due > 0 && --b->subacks_due == 0)
        onr_log(ONR_LOG_NOTICE, "subscribed filters=%zu broker=%s", b->svc->n_subscribed,
                b->name);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct svc_broker *b = arg;

    (void)mosq;
    (void)props;
    if (m->payloadlen <= 0 || m->topic == NULL)
        return;
    svc_on_message(b->svc, (size_t)(b - b->svc->brokers), m->topic, m->payload,
                   (size_t)m->payloadlen);
}

static int publish(void *ctx, size_t broker, int qos, const char *topic, const uint8_t *payload,
                   size_t len)
{
    struct onr_service *svc = ctx;
    struct svc_broker *b = &svc->brokers[broker];
    int rc = mosquitto_publish_v5(b->mosq, NULL, topic, (int)len, payload, qos, false, NULL);

    if (rc != MOSQ_ERR_SUCCESS) {
        onr_log(ONR_LOG_WARNING, "not published broker=%s topic=%s reason=%s", b->name, topic,
                mosquitto_strerror(rc));
        return ONR_EIO;
    }
    onr_mqtt_loop_kick(b->loop);
    return ONR_OK;
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
    struct svc_broker *b = arg;
    int rc;

    (void)fd;
    (void)what;
    /* The first connect stored host, port and properties, even if it
     * failed: reconnecting reuses them and resumes the session. */
    rc = mosquitto_reconnect(b->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        onr_log(ONR_LOG_WARNING, "cannot reach broker=%s address=%s:%u reason=%s", b->name,
                b->host, b->port, mosquitto_strerror(rc));
        schedule_reconnect(b);
        return;
    }
    if (onr_mqtt_loop_bind(b->loop) != ONR_OK)
        schedule_reconnect(b);
}

/* Broker `b`'s client, configured and connecting (or retrying in the
 * background). */
static int connect_one(struct onr_service *svc, struct svc_broker *b, const char *client_id,
                       uint32_t expiry, const char *ca, const char *cert, const char *key)
{
    mosquitto_property *props = NULL;

    /* A persistent session: messages for the service wait while it is away. */
    b->mosq = mosquitto_new(client_id, false, b);
    if (b->mosq == NULL)
        return ONR_ENOMEM;
    mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(b->mosq, on_connect);
    mosquitto_message_v5_callback_set(b->mosq, on_message);
    mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
    if (mosquitto_tls_set(b->mosq, ca, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "%s: broker_ca, cert, key: unreadable\n", svc->def->name);
        return ONR_EINVAL;
    }
    /* The session expiry travels in CONNECT and libmosquitto keeps it for
     * reconnects. */
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry);
    mosquitto_connect_bind_v5(b->mosq, b->host, (int)b->port, 30, NULL, props);
    mosquitto_property_free_all(&props);
    if (onr_mqtt_loop_new(svc->base, b->mosq, on_lost, b, &b->loop) != ONR_OK)
        return ONR_ENOMEM;
    b->reconnect_ev = event_new(svc->base, -1, 0, try_connect, b);
    if (b->reconnect_ev == NULL)
        return ONR_ENOMEM;
    if (mosquitto_socket(b->mosq) >= 0 && onr_mqtt_loop_bind(b->loop) == ONR_OK)
        return ONR_OK;
    onr_log(ONR_LOG_WARNING, "broker=%s not reachable yet; retrying", b->name);
    b->backoff = 1;
    schedule_reconnect(b);
    return ONR_OK;
}

int svc_connect(struct onr_service *svc)
{
    const char *instance = onr_config_get(svc->cfg, "instance");
    char client_id[3 * ONR_SERVICE_ID_MAX + 3];
    char ca[1024];
    char cert[1024];
    char key[1024];
    uint64_t expiry = 0;
    int rc;

    rc = onr_config_get_uint(svc->cfg, "session_expiry",
                             instance != NULL ? SESSION_EXPIRY_INSTANCE : SESSION_EXPIRY_ALONE, 1,
                             SESSION_EXPIRY_ALONE, &expiry);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: session_expiry: seconds in 1..%d\n", svc->def->name,
                SESSION_EXPIRY_ALONE);
        return ONR_EINVAL;
    }
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
    rc = onr_service_path(svc, "broker_ca", ca, sizeof(ca));
    if (rc == ONR_OK)
        rc = onr_service_path(svc, "cert", cert, sizeof(cert));
    if (rc == ONR_OK)
        rc = onr_service_path(svc, "key", key, sizeof(key));
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: broker_ca, cert, key: unreadable\n", svc->def->name);
        return ONR_EINVAL;
    }
    svc->transport = (struct svc_transport){publish, svc};
    /* each broker on its own: one that is down delays none of the others */
    for (size_t i = 0; i < svc->n_brokers && rc == ONR_OK; i++)
        rc = connect_one(svc, &svc->brokers[i], client_id, (uint32_t)expiry, ca, cert, key);
    return rc;
}

void svc_disconnect(struct onr_service *svc)
{
    for (size_t i = 0; i < svc->n_brokers; i++) {
        struct svc_broker *b = &svc->brokers[i];

        if (b->mosq != NULL && b->connected) {
            mosquitto_disconnect_v5(b->mosq, 0, NULL);
            mosquitto_loop_write(b->mosq, 1);
        }
        b->connected = 0;
        onr_mqtt_loop_free(b->loop);
        b->loop = NULL;
        if (b->mosq != NULL)
            mosquitto_destroy(b->mosq);
        b->mosq = NULL;
        if (b->reconnect_ev != NULL)
            event_free(b->reconnect_ev);
        b->reconnect_ev = NULL;
    }
    svc->transport = (struct svc_transport){NULL, NULL};
}
