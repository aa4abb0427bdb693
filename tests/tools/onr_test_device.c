/*
 * onr_test_device: a device connecting through the real device library
 * (PoP over TLS, MQTT v5), for integration tests.
 *
 *   onr_test_device --key KEYFILE --broker-name NAME --host HOST --port P
 *                   --cafile CA.pem [--publish TOPIC PAYLOAD]
 *                   [--subscribe TOPIC --expect N] [--timeout S]
 *
 * Connects; if asked, subscribes and publishes (QoS 1) and waits for the
 * PUBACK and for N messages on the subscription. Prints one line per event
 * ("connack 0", "puback 0", "suback 1", "message TOPIC LEN") and exits 0 if
 * it was admitted and everything asked for happened (a PUBACK reason below
 * 0x80), 1 otherwise.
 */
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/connect.h"
#include "onramp/error.h"
#include "onramp/p256.h"

struct run {
    const char *publish_topic;
    const char *payload;
    const char *subscribe_topic;
    int expect;
    int connack;        /* -1 until it arrives */
    int puback;         /* -1 until it arrives */
    int received;
    int suback_qos;     /* -1 until it arrives */
    int failed;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct run *r = obj;

    (void)flags;
    (void)props;
    r->connack = rc;
    printf("connack %d\n", rc);
    if (rc != 0)
        return;
    if (r->subscribe_topic != NULL &&
        mosquitto_subscribe_v5(mosq, NULL, r->subscribe_topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS)
        r->failed = 1;
    if (r->publish_topic != NULL &&
        mosquitto_publish_v5(mosq, NULL, r->publish_topic, (int)strlen(r->payload), r->payload,
                             1, false, NULL) != MOSQ_ERR_SUCCESS)
        r->failed = 1;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    struct run *r = obj;

    (void)mosq;
    (void)mid;
    (void)props;
    r->puback = reason;
    printf("puback %d\n", reason);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count,
                         const int *granted, const mosquitto_property *props)
{
    struct run *r = obj;

    (void)mosq;
    (void)mid;
    (void)props;
    r->suback_qos = count > 0 ? granted[0] : 128;
    printf("suback %d\n", r->suback_qos);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct run *r = obj;

    (void)mosq;
    (void)props;
    r->received++;
    printf("message %s %d\n", m->topic, m->payloadlen);
}

static int done(const struct run *r)
{
    if (r->failed || (r->connack >= 0 && r->connack != 0))
        return 1;
    if (r->connack < 0)
        return 0;
    if (r->publish_topic != NULL && r->puback < 0)
        return 0;
    if (r->subscribe_topic != NULL && (r->suback_qos < 0 || r->received < r->expect))
        return 0;
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},     {"broker-name", required_argument, NULL, 'b'},
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"cafile", required_argument, NULL, 'c'},  {"publish", required_argument, NULL, 'P'},
        {"subscribe", required_argument, NULL, 's'}, {"expect", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
    };
    struct run r = {.connack = -1, .puback = -1, .suback_qos = -1};
    struct onr_bootstrap b = {0};
    struct onr_p256_key *key = NULL;
    struct mosquitto *mosq = NULL;
    const char *key_path = NULL;
    int timeout = 10;
    time_t deadline;
    int opt;
    int rc;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'k': key_path = optarg; break;
        case 'b': b.broker_name = optarg; break;
        case 'H': b.host = optarg; break;
        case 'p': b.port = atoi(optarg); break;
        case 'c': b.cafile = optarg; break;
        case 'P':
            if (optind >= argc)
                return 2;
            r.publish_topic = optarg;
            r.payload = argv[optind++];
            break;
        case 's': r.subscribe_topic = optarg; break;
        case 'e': r.expect = atoi(optarg); break;
        case 't': timeout = atoi(optarg); break;
        default: return 2;
        }
    }
    if (key_path == NULL || b.broker_name == NULL || b.host == NULL || b.cafile == NULL) {
        fputs("onr_test_device: --key, --broker-name, --host, --port and --cafile are "
              "required\n", stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mosquitto_lib_init();
    rc = onr_p256_load(key_path, &key);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(key, &r, &mosq);
    if (rc == ONR_OK) {
        mosquitto_connect_v5_callback_set(mosq, on_connect);
        mosquitto_publish_v5_callback_set(mosq, on_publish);
        mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
        mosquitto_message_v5_callback_set(mosq, on_message);
        rc = onr_connect_pop(mosq, key, &b, (uint64_t)time(NULL));
    }
    if (rc != ONR_OK) {
        fprintf(stderr, "onr_test_device: %s\n", onr_strerror(rc));
        r.failed = 1;
    }
    deadline = time(NULL) + timeout;
    while (!r.failed && !done(&r) && time(NULL) < deadline) {
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS && r.connack < 0) {
            printf("connection closed before CONNACK\n");
            r.failed = 1;
        }
    }
    /* MQTT v5 reason codes below 0x80 are successes (16: no subscribers). */
    rc = !r.failed && r.connack == 0 && done(&r) &&
                 (r.publish_topic == NULL || r.puback < 0x80)
             ? 0
             : 1;
    if (mosq != NULL) {
        mosquitto_disconnect(mosq);
        mosquitto_destroy(mosq);
    }
    onr_p256_free(key);
    mosquitto_lib_cleanup();
    return rc;
}
