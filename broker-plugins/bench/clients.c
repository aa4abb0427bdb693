/*
 * The benchmark's MQTT clients, all driven from this one thread.
 *
 * Why poll() plus mosquitto_loop_read/write/misc rather than
 * mosquitto_loop() per client: mosquitto_loop() selects on one client's
 * socket with a timeout, so with many clients it either waits on one while
 * others have data, or spins with a zero timeout on a core the broker
 * needs (two cores here, shared with the brokers). One poll() over every
 * socket sleeps until some client can move, then serves exactly the ready
 * ones. mosquitto_loop_read also drains what OpenSSL has already
 * decrypted, which poll() cannot see.
 *
 * Flow control is end to end: a publisher keeps at most BENCH_WINDOW
 * messages that no subscriber has received yet. With only the PUBACK
 * window, publishers outrun the subscriber, the broker queues the
 * difference and drops what overflows, and its CPU pays for messages that
 * are never delivered.
 *
 * That is not enough with one subscriber connection: Mosquitto 2.0 reads
 * one packet per ready connection per loop (src/mux_epoll.c,
 * loop_handle_reads_writes), and each PUBACK is a TLS record of its own,
 * so it takes in one PUBACK from the subscriber while it takes in a
 * PUBLISH from each of N publishers. Messages the subscriber has received
 * but whose PUBACK the broker has not read yet pile up until the queue
 * limit, then Mosquitto drops messages for it. Hence the service reads
 * over several connections sharing one subscription.
 */
#include "bench.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/connect.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/pop.h"

#define MAX_CLIENTS (BENCH_MAX_PUBLISHERS + BENCH_MAX_SUBSCRIBERS)
#define CONNECT_TIMEOUT 10.0 /* seconds for a CONNACK or a SUBACK */
#define DRAIN_TIMEOUT 5.0    /* seconds for the last messages to arrive */

/* What bench_pump waits for. */
enum until {
    UNTIL_TIME,     /* the deadline: success */
    UNTIL_CONNACK,  /* every client has its CONNACK (an error if refused) */
    UNTIL_SUBACK,   /* every subscriber has its SUBACK */
    UNTIL_DRAINED,  /* every message published has been received or refused */
};

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct bench_client *c = obj;

    (void)m;
    (void)flags;
    (void)props;
    c->connack = rc;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
    struct bench_client *c = obj;

    (void)m;
    (void)props;
    c->lost = rc;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct bench_client *c = obj;

    (void)m;
    (void)mid;
    (void)props;
    c->suback = n >= 1 ? granted[0] : MQTT_RC_UNSPECIFIED;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    struct bench_client *c = obj;

    (void)m;
    (void)mid;
    (void)props;
    if (reason >= 128) {
        c->refused++;
        c->refusal = reason;
    }
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct bench_client *c = obj;
    struct bench_fleet *f = c->fleet;
    int i;

    (void)m;
    (void)props;
    f->delivered++;
    i = msg->payloadlen >= 1 ? ((const uint8_t *)msg->payload)[0] : -1;
    if (i >= 0 && i < f->publishers)
        f->pub[i].done++;
    else
        f->strays++;
}

void bench_client_init(struct bench_client *c, struct bench_fleet *f, const char *what,
                       int index)
{
    memset(c, 0, sizeof(*c));
    c->fleet = f;
    c->what = what;
    c->index = index;
    c->connack = -1;
    c->suback = -1;
    c->lost = -1;
}

static void callbacks_set(struct bench_client *c)
{
    mosquitto_connect_v5_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
    mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
    mosquitto_publish_v5_callback_set(c->mosq, on_publish);
    mosquitto_message_v5_callback_set(c->mosq, on_message);
}

void bench_client_close(struct bench_client *c)
{
    if (c->mosq == NULL)
        return;
    if (c->lost < 0 && mosquitto_disconnect(c->mosq) == MOSQ_ERR_SUCCESS)
        mosquitto_loop_write(c->mosq, 1);
    mosquitto_destroy(c->mosq);
    c->mosq = NULL;
}

static void client_fail(const struct bench_broker *b, const struct bench_client *c,
                        const char *what, const char *why)
{
    fprintf(stderr, "onramp-plugin-bench: %s: %s %d: %s: %s\n", b->name, c->what, c->index,
            what, why);
}

/* Publish until every connected publisher of f has BENCH_WINDOW messages
 * not yet received. payload[0] carries the publisher's index. */
static int refill(struct bench_fleet *f, uint8_t *payload, int len)
{
    int rc;

    for (int i = 0; i < f->publishers; i++) {
        struct bench_client *c = &f->pub[i];

        payload[0] = (uint8_t)i;
        while (c->connack == 0 && c->sent - c->done - c->refused < BENCH_WINDOW) {
            rc = mosquitto_publish_v5(c->mosq, NULL, c->topic, len, payload, 1, false, NULL);
            if (rc != MOSQ_ERR_SUCCESS) {
                client_fail(f->broker, c, "publish", mosquitto_strerror(rc));
                return -1;
            }
            c->sent++;
        }
    }
    return 0;
}

static int reached(struct bench_client *const *cl, int n, enum until until)
{
    for (int i = 0; i < n; i++) {
        const struct bench_client *c = cl[i];

        if (until == UNTIL_CONNACK && c->connack < 0)
            return 0;
        if (until == UNTIL_SUBACK && c->suback < 0 && c->is_subscriber)
            return 0;
        if (until == UNTIL_DRAINED && c->sent != c->done + c->refused)
            return 0;
    }
    return 1;
}

/*
 * bench_pump: serve the clients `cl` (all of broker b) until `until` is
 * reached, or until `deadline` for UNTIL_TIME. While `load` is not NULL,
 * its publishers are kept publishing `payload`. Returns 0, or -1 after
 * printing why: a client refused, disconnected or failing, a timeout, or
 * an interruption.
 */
static int bench_pump(const struct bench_broker *b, struct bench_client *const *cl, int n,
                      enum until until, double deadline, struct bench_fleet *load,
                      uint8_t *payload, int len)
{
    struct pollfd fds[MAX_CLIENTS];
    double next_misc = bench_now() + 1;
    double now;
    int ms;
    int rc;

    for (;;) {
        for (int i = 0; i < n; i++) {
            if (cl[i]->connack > 0) {
                client_fail(b, cl[i], "CONNACK", mosquitto_reason_string(cl[i]->connack));
                return -1;
            }
            if (cl[i]->lost >= 0 || mosquitto_socket(cl[i]->mosq) < 0) {
                client_fail(b, cl[i], "disconnected",
                            cl[i]->lost > 0 ? mosquitto_reason_string(cl[i]->lost) : "closed");
                return -1;
            }
        }
        now = bench_now();
        if (bench_interrupted) {
            fprintf(stderr, "onramp-plugin-bench: interrupted\n");
            return -1;
        }
        if (until != UNTIL_TIME && reached(cl, n, until))
            return 0;
        if (now >= deadline) {
            if (until == UNTIL_TIME)
                return 0;
            if (until != UNTIL_DRAINED) /* bench_fleet_run says more */
                fprintf(stderr, "onramp-plugin-bench: %s: no %s in time\n", b->name,
                        until == UNTIL_CONNACK ? "CONNACK" : "SUBACK");
            return -1;
        }
        if (load != NULL && refill(load, payload, len) != 0)
            return -1;
        for (int i = 0; i < n; i++) {
            fds[i].fd = mosquitto_socket(cl[i]->mosq);
            fds[i].events = (short)(POLLIN | (mosquitto_want_write(cl[i]->mosq) ? POLLOUT : 0));
            fds[i].revents = 0;
        }
        ms = (int)((deadline - now) * 1000) + 1;
        if (poll(fds, (nfds_t)n, ms < 100 ? ms : 100) < 0 && errno != EINTR) {
            fprintf(stderr, "onramp-plugin-bench: poll: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            rc = MOSQ_ERR_SUCCESS;
            if (fds[i].revents & (POLLIN | POLLERR | POLLHUP))
                rc = mosquitto_loop_read(cl[i]->mosq, 1);
            if (rc == MOSQ_ERR_SUCCESS && (fds[i].revents & POLLOUT))
                rc = mosquitto_loop_write(cl[i]->mosq, 1);
            /* a refused CONNACK closes the connection: reported above */
            if (rc != MOSQ_ERR_SUCCESS && cl[i]->connack <= 0) {
                client_fail(b, cl[i], "connection", mosquitto_strerror(rc));
                return -1;
            }
        }
        if (bench_now() >= next_misc) {
            for (int i = 0; i < n; i++)
                mosquitto_loop_misc(cl[i]->mosq);
            next_misc = bench_now() + 1;
        }
    }
}

/* A device's client: with a proof of possession through the device
 * library if b has the plugin, plain anonymous TLS otherwise; the same
 * client id either way. Returns 0 or -1 after printing why. */
static int device_start(struct bench_client *c, const struct bench_broker *b,
                        const struct bench_pki *p, const struct onr_p256_key *key)
{
    const struct onr_bootstrap boot = {"127.0.0.1", b->bootstrap_port, p->ca,
                                       BENCH_BROKER_NAME, BENCH_KEEPALIVE};
    uint8_t pub[ONR_P256_PUB_LEN];
    char id[ONR_DEVID_LEN + 1];
    int rc;

    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(key, c, &c->mosq);
    if (rc != ONR_OK) {
        client_fail(b, c, "new client", onr_strerror(rc));
        return -1;
    }
    callbacks_set(c);
    snprintf(c->topic, sizeof(c->topic), "onr/1/d/%s/up/op/op-1", id);
    if (b->with_plugin) {
        rc = onr_connect_pop(c->mosq, key, &boot, (uint64_t)time(NULL));
        if (rc != ONR_OK) {
            client_fail(b, c, "onr_connect_pop", onr_strerror(rc));
            return -1;
        }
        return 0;
    }
    rc = mosquitto_tls_set(c->mosq, p->ca, NULL, NULL, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", b->bootstrap_port, BENCH_KEEPALIVE,
                                       NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        client_fail(b, c, "connect", mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* A connection of the operator service op-1 on the services listener,
 * with its certificate; it may read every device's up/op/op-1 topic. */
static int service_start(struct bench_client *c, const struct bench_broker *b,
                         const struct bench_pki *p)
{
    char id[32];
    int rc;

    snprintf(id, sizeof(id), "%s.%d", BENCH_SERVICE_ID, c->index);
    c->mosq = mosquitto_new(id, true, c);
    if (c->mosq == NULL) {
        client_fail(b, c, "new client", "out of memory");
        return -1;
    }
    callbacks_set(c);
    rc = mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    if (rc == MOSQ_ERR_SUCCESS) /* as the services connect */
        rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_set(c->mosq, p->ca, NULL, p->operator_cert, p->operator_key, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", b->services_port, BENCH_KEEPALIVE,
                                       NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        client_fail(b, c, "connect", mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

static int fleet_clients(struct bench_fleet *f, struct bench_client **cl)
{
    for (int i = 0; i < f->publishers; i++)
        cl[i] = &f->pub[i];
    for (int k = 0; k < f->subscribers; k++)
        cl[f->publishers + k] = &f->sub[k];
    return f->publishers + f->subscribers;
}

int bench_fleet_start(struct bench_fleet *f, const struct bench_broker *b,
                      const struct bench_pki *p, int publishers, int subscribers,
                      struct onr_p256_key *const *keys)
{
    const char *filter = subscribers > 1 ? BENCH_SHARED_FILTER : BENCH_SERVICE_FILTER;
    struct bench_client *cl[MAX_CLIENTS];
    int n;
    int rc;

    memset(f, 0, sizeof(*f));
    f->broker = b;
    f->publishers = publishers;
    f->subscribers = subscribers;
    for (int i = 0; i < publishers; i++)
        bench_client_init(&f->pub[i], f, "publisher", i);
    for (int k = 0; k < subscribers; k++) {
        bench_client_init(&f->sub[k], f, "subscriber", k);
        f->sub[k].is_subscriber = 1;
    }
    for (int i = 0; i < publishers; i++)
        if (device_start(&f->pub[i], b, p, keys[i]) != 0)
            return -1;
    for (int k = 0; k < subscribers; k++)
        if (service_start(&f->sub[k], b, p) != 0)
            return -1;
    n = fleet_clients(f, cl);
    if (bench_pump(b, cl, n, UNTIL_CONNACK, bench_now() + CONNECT_TIMEOUT, NULL, NULL, 0) != 0)
        return -1;
    for (int k = 0; k < subscribers; k++) {
        rc = mosquitto_subscribe_v5(f->sub[k].mosq, NULL, filter, 1, 0, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            client_fail(b, &f->sub[k], "subscribe", mosquitto_strerror(rc));
            return -1;
        }
    }
    if (bench_pump(b, cl, n, UNTIL_SUBACK, bench_now() + CONNECT_TIMEOUT, NULL, NULL, 0) != 0)
        return -1;
    for (int k = 0; k < subscribers; k++) {
        if (f->sub[k].suback != 1) {
            client_fail(b, &f->sub[k], "SUBACK", mosquitto_reason_string(f->sub[k].suback));
            return -1;
        }
    }
    return 0;
}

int bench_fleet_run(struct bench_fleet *f, double seconds, int payload_len)
{
    struct bench_client *cl[MAX_CLIENTS];
    uint8_t *payload = calloc(1, (size_t)payload_len);
    int n = fleet_clients(f, cl);
    unsigned long lost = 0;
    int rc = -1;

    if (payload == NULL) {
        fprintf(stderr, "onramp-plugin-bench: out of memory\n");
        return -1;
    }
    if (bench_pump(f->broker, cl, n, UNTIL_TIME, bench_now() + seconds, f, payload,
                   payload_len) != 0)
        goto out;
    if (bench_pump(f->broker, cl, n, UNTIL_DRAINED, bench_now() + DRAIN_TIMEOUT, NULL, NULL,
                   0) != 0) {
        for (int i = 0; i < f->publishers; i++)
            lost += f->pub[i].sent - f->pub[i].done - f->pub[i].refused;
        fprintf(stderr,
                "onramp-plugin-bench: %s: %lu messages were accepted but never delivered.\n"
                "  Either Mosquitto dropped them because a subscriber's queue was full (it\n"
                "  logs \"Outgoing messages are being dropped\" at notice level: it reads one\n"
                "  packet per connection per loop, so one QoS 1 subscriber falls behind\n"
                "  several publishers; more --subscribers helps), or a READ check denied them.\n",
                f->broker->name, lost);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < f->publishers; i++) {
        if (f->pub[i].refused > 0) {
            fprintf(stderr,
                    "onramp-plugin-bench: %s: publisher %d: %lu messages refused, last: %s\n",
                    f->broker->name, i, f->pub[i].refused,
                    mosquitto_reason_string(f->pub[i].refusal));
            rc = -1;
        }
    }
    if (f->strays > 0) {
        fprintf(stderr, "onramp-plugin-bench: %s: %lu messages from no publisher\n",
                f->broker->name, f->strays);
        rc = -1;
    }
out:
    free(payload);
    return rc;
}

void bench_fleet_stop(struct bench_fleet *f)
{
    for (int i = 0; i < f->publishers; i++)
        bench_client_close(&f->pub[i]);
    for (int k = 0; k < f->subscribers; k++)
        bench_client_close(&f->sub[k]);
}

/*
 * Not onr_connect_pop here: it makes the proof (an ECDSA signature, the
 * device's own CPU) before it opens the TCP connection, and libmosquitto
 * 2.0.11 has no hook between the two. The proof is made the same way
 * (onr_pop_encode, sent as authentication method and data in CONNECT), so
 * the clock can start at the TCP connect.
 */
int bench_device_connect(struct bench_client *c, const struct bench_broker *b,
                         const struct bench_pki *p, const struct onr_p256_key *key,
                         const struct bench_device_opts *how, double *sign_s,
                         double *connect_at)
{
    mosquitto_property *props = NULL;
    uint8_t proof[ONR_POP_LEN];
    uint8_t pub[ONR_P256_PUB_LEN];
    char id[ONR_DEVID_LEN + 1];
    double t0;
    int rc;

    *sign_s = 0;
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(key, c, &c->mosq);
    if (rc == ONR_OK && b->with_plugin) {
        t0 = bench_now();
        rc = onr_pop_encode(key, (struct onr_bytes){(const uint8_t *)id, strlen(id)},
                            (struct onr_bytes){(const uint8_t *)BENCH_BROKER_NAME,
                                               strlen(BENCH_BROKER_NAME)},
                            (uint64_t)time(NULL), proof);
        *sign_s = bench_now() - t0;
    }
    if (rc != ONR_OK) {
        client_fail(b, c, "proof", onr_strerror(rc));
        return -1;
    }
    callbacks_set(c);
    if (how->tls == NULL) {
        rc = mosquitto_tls_set(c->mosq, p->ca, NULL, NULL, NULL, NULL);
    } else {
        rc = mosquitto_int_option(c->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_void_option(c->mosq, MOSQ_OPT_SSL_CTX, how->tls);
    }
    if (rc == MOSQ_ERR_SUCCESS && b->with_plugin) {
        rc = mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD,
                                           ONR_POP_METHOD);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_property_add_binary(&props, MQTT_PROP_AUTHENTICATION_DATA, proof,
                                               sizeof(proof));
    }
    *connect_at = bench_now();
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", b->bootstrap_port, how->keepalive,
                                       how->source, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        client_fail(b, c, "connect", rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                                          : mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

int bench_connect_once(const struct bench_broker *b, const struct bench_pki *p,
                       const struct onr_p256_key *key, double *sign_s, double *connack_s)
{
    const struct bench_device_opts how = {NULL, NULL, BENCH_KEEPALIVE};
    struct bench_client c;
    struct bench_client *cl[1] = {&c};
    double t0;
    int ret = -1;

    bench_client_init(&c, NULL, "device", 0);
    if (bench_device_connect(&c, b, p, key, &how, sign_s, &t0) != 0)
        goto out;
    if (bench_pump(b, cl, 1, UNTIL_CONNACK, bench_now() + CONNECT_TIMEOUT, NULL, NULL, 0) != 0)
        goto out;
    *connack_s = bench_now() - t0;
    ret = 0;
out:
    bench_client_close(&c);
    return ret;
}

void *bench_tls_new(const struct bench_pki *p)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_load_verify_file(ctx, p->ca) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), "127.0.0.1") != 1) {
        fprintf(stderr, "onramp-plugin-bench: a TLS context for %s failed\n", p->ca);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

void bench_tls_free(void *tls)
{
    SSL_CTX_free(tls);
}
