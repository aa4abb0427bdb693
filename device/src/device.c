/*
 * The device's journey (see <onramp/device.h>): one libevent loop, one
 * libmosquitto client driven through its socket, one timer for whatever
 * the device waits for next.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_internal.h"
#include "onramp/config.h"
#include "onramp/connect.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/replay.h"
#include "onramp/x509.h"

#define MAX_BROKERS 8
#define HELLOS_KEPT 8          /* a pushed voucher may answer any recent hello */
#define FRESHNESS 300          /* seconds, for the manufacturer's envelopes */
#define BACKOFF_FIRST 1.0
#define BACKOFF_MAX 60.0

struct broker {
    char name[ONR_SERVICE_ID_MAX + 1];
    char host[256];
    int port;
};

struct hello_sent {
    uint8_t id[ONR_MSG_ID_LEN];
    uint8_t nonce[ONR_NONCE_LEN];
};

struct onr_device {
    char dir[1024];
    struct onr_device_callbacks cb;
    struct onr_device_options opt;
    struct device_trust trust;
    uint8_t mfr_key[ONR_P256_PUB_LEN];
    struct onr_p256_key *identity;
    uint8_t cert[ONR_X509_MAX_DER];
    size_t cert_len;
    char broker_ca[1200];
    struct broker brokers[MAX_BROKERS];
    size_t n_brokers;
    size_t next_broker;

    enum onr_device_state state;
    struct onr_device_voucher voucher;
    struct hello_sent hellos[HELLOS_KEPT];
    size_t n_hellos;
    struct onr_replay *replay;

    struct event_base *base;
    int own_base;
    struct mosquitto *mosq;
    struct onr_mqtt_loop *loop;
    struct event *timer;
    enum { IDLE, CONNECTING, WAITING } phase;
    unsigned failures;           /* failed attempts in a row */
    int last_error;
    int running;
};

/* ---- reporting ------------------------------------------------------------ */

static void report(struct onr_device *d, const char *event, const char *detail)
{
    if (d->cb.progress != NULL)
        d->cb.progress(d->cb.arg, d, event, detail != NULL ? detail : "");
}

static void drop_connection(struct onr_device *d)
{
    if (d->mosq == NULL)
        return;
    onr_mqtt_loop_unbind(d->loop);
    mosquitto_disconnect_v5(d->mosq, 0, NULL);
    d->phase = IDLE;
}

static void finish(struct onr_device *d, int result)
{
    if (!d->running)
        return;
    d->running = 0;
    event_del(d->timer);
    /* Often called from inside a libmosquitto callback, which holds the
     * client's locks: only queue the DISCONNECT here; onr_device_close
     * sends it. */
    drop_connection(d);
    if (d->cb.done != NULL)
        d->cb.done(d->cb.arg, d, result);
    if (d->own_base)
        event_base_loopbreak(d->base);
}

/* ---- timing ----------------------------------------------------------------- */

static void arm(struct onr_device *d, double seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    event_del(d->timer);
    event_add(d->timer, &tv);
}

/* up to +50% random, so a fleet powered on together does not move in step */
static double jitter(double seconds)
{
    uint32_t r = 0;

    onr_random((uint8_t *)&r, sizeof(r));
    return seconds + seconds * 0.5 * (double)(r % 1000) / 1000.0;
}

/* A failed attempt: give up after max_attempts in a row, else wait longer
 * each time and start again with a new connection. */
static void failed(struct onr_device *d, int why, const char *what)
{
    double delay = BACKOFF_FIRST;
    char detail[160];

    d->last_error = why;
    d->failures++;
    drop_connection(d);
    if (d->failures >= d->opt.max_attempts) {
        snprintf(detail, sizeof(detail), "%s: %s (after %u attempts)", what, onr_strerror(why),
                 d->failures);
        report(d, "gave up", detail);
        finish(d, why);
        return;
    }
    for (unsigned i = 1; i < d->failures && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    delay = jitter(delay);
    snprintf(detail, sizeof(detail), "%s: %s; retry in %.1f s", what, onr_strerror(why), delay);
    report(d, "retry", detail);
    arm(d, delay);
}

/* ---- the steps ------------------------------------------------------------- */

static void down_topic(const struct onr_device *d, char *out, size_t cap)
{
    snprintf(out, cap, "onr/1/d/%s/down", d->trust.dev);
}

static void send_hello(struct onr_device *d)
{
    struct hello_sent *h = &d->hellos[d->n_hellos % HELLOS_KEPT];
    struct onr_msg msg = {.type = ONR_MSG_HELLO};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_DEVICE,
        .sender = {(const uint8_t *)d->trust.dev, ONR_DEVID_LEN},
        .key = d->identity,
    };
    uint8_t buf[ONR_ENVELOPE_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    size_t len = 0;
    int rc;

    /* a new nonce for every hello: a voucher for an older one is still
     * taken (it may have been pushed), never one for a nonce not ours */
    rc = onr_random(h->nonce, sizeof(h->nonce));
    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/mfr/%s", d->trust.dev, d->trust.mfr);
    msg.body.hello.nonce = ONR_BYTES(h->nonce);
    msg.body.hello.cert = (struct onr_bytes){d->cert, d->cert_len};
    if (rc == ONR_OK)
        rc = onr_envelope_encode(&msg, &self,
                                 (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 (uint64_t)time(NULL), buf, sizeof(buf), &len, h->id);
    if (rc != ONR_OK) {
        failed(d, rc, "hello");
        return;
    }
    if (mosquitto_publish_v5(d->mosq, NULL, topic, (int)len, buf, 1, false, NULL) !=
        MOSQ_ERR_SUCCESS) {
        failed(d, ONR_EIO, "hello");
        return;
    }
    d->n_hellos++;
    onr_mqtt_loop_kick(d->loop);
    d->phase = WAITING;
    report(d, "hello", d->trust.mfr);
    arm(d, d->opt.answer_timeout);
}

static void connect_next(struct onr_device *d)
{
    const struct broker *b = &d->brokers[d->next_broker++ % d->n_brokers];
    struct onr_bootstrap boot = {
        .host = b->host, .port = b->port, .cafile = d->broker_ca, .broker_name = b->name,
    };
    char detail[300];
    int rc;

    snprintf(detail, sizeof(detail), "%s %s:%d", b->name, b->host, b->port);
    report(d, "connecting", detail);
    d->phase = CONNECTING;
    /* a fresh proof for every attempt: proofs are single use */
    rc = onr_connect_pop(d->mosq, d->identity, &boot, (uint64_t)time(NULL));
    if (rc == ONR_OK)
        rc = onr_mqtt_loop_bind(d->loop);
    if (rc != ONR_OK) {
        failed(d, rc, "connect");
        return;
    }
    arm(d, d->opt.answer_timeout);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct onr_device *d = arg;

    (void)fd;
    (void)what;
    if (!d->running)
        return;
    switch (d->phase) {
    case IDLE: connect_next(d); break;
    case CONNECTING: failed(d, ONR_EIO, "no CONNACK"); break;
    case WAITING:
        if (mosquitto_socket(d->mosq) >= 0)
            send_hello(d); /* ask again (after pending, or no answer yet) */
        else
            connect_next(d);
        break;
    }
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    char topic[ONR_TOPIC_MAX + 1];

    (void)flags;
    (void)props;
    if (rc != 0) {
        failed(d, ONR_EDENIED, mosquitto_reason_string(rc));
        return;
    }
    report(d, "connected", NULL);
    down_topic(d, topic, sizeof(topic));
    if (mosquitto_subscribe_v5(mosq, NULL, topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS)
        failed(d, ONR_EIO, "subscribe");
    onr_mqtt_loop_kick(d->loop);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct onr_device *d = arg;

    (void)mosq;
    (void)mid;
    (void)props;
    if (n != 1 || granted[0] >= 128) {
        failed(d, ONR_EDENIED, "subscribe");
        return;
    }
    if (d->state == ONR_DEVICE_FACTORY)
        send_hello(d);
}

static void on_lost(void *arg, int reason)
{
    struct onr_device *d = arg;

    if (d->running)
        failed(d, ONR_EIO, mosquitto_strerror(reason));
}

/* The hello an answer refers to, or NULL. */
static const struct hello_sent *hello_for(const struct onr_device *d, struct onr_bytes re)
{
    size_t n = d->n_hellos < HELLOS_KEPT ? d->n_hellos : HELLOS_KEPT;

    for (size_t i = 0; i < n; i++)
        if (re.len == ONR_MSG_ID_LEN && memcmp(d->hellos[i].id, re.ptr, ONR_MSG_ID_LEN) == 0)
            return &d->hellos[i];
    return NULL;
}

static void take_voucher(struct onr_device *d, const struct onr_envelope *env)
{
    const struct hello_sent *h = hello_for(d, env->msg.body.voucher.re);
    struct onr_device_voucher v;
    char detail[200];
    int rc;

    if (h == NULL) {
        report(d, "refused", "voucher answering no hello of ours");
        return;
    }
    rc = device_check_voucher(&d->trust, env->msg.body.voucher.voucher.ptr,
                              env->msg.body.voucher.voucher.len, h->nonce,
                              (uint64_t)time(NULL), &v);
    if (rc != ONR_OK) {
        snprintf(detail, sizeof(detail), "voucher: %s", onr_strerror(rc));
        report(d, "refused", detail);
        return;
    }
    /* durable before anything else happens: the voucher, then the state */
    rc = device_voucher_save(d->dir, env->msg.body.voucher.voucher.ptr,
                             env->msg.body.voucher.voucher.len);
    if (rc == ONR_OK)
        rc = device_state_save(d->dir, ONR_DEVICE_VOUCHED);
    if (rc != ONR_OK) {
        report(d, "error", "cannot store the voucher");
        finish(d, rc);
        return;
    }
    d->voucher = v;
    d->state = ONR_DEVICE_VOUCHED;
    d->failures = 0;
    report(d, "state", NULL);
    if (d->state >= d->opt.target)
        finish(d, ONR_OK);
}

static void on_answer(struct onr_device *d, const struct onr_envelope *env)
{
    char detail[200];

    switch (env->msg.type) {
    case ONR_MSG_VOUCHER: take_voucher(d, env); break;
    case ONR_MSG_PENDING:
        if (hello_for(d, env->msg.body.pending.re) == NULL)
            return;
        d->failures = 0;
        snprintf(detail, sizeof(detail), "retry_after=%llu",
                 (unsigned long long)env->msg.body.pending.retry_after);
        report(d, "pending", detail);
        arm(d, jitter((double)env->msg.body.pending.retry_after));
        break;
    case ONR_MSG_ERROR:
        if (hello_for(d, env->msg.body.error.re) == NULL)
            return;
        failed(d, -(int)env->msg.body.error.code, "manufacturer");
        break;
    default: report(d, "refused", "unexpected message type"); break;
    }
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    char topic[ONR_TOPIC_MAX + 1];
    char detail[160];
    struct onr_envelope env;
    int rc;

    (void)mosq;
    (void)props;
    down_topic(d, topic, sizeof(topic));
    if (!d->running || m->payloadlen <= 0 || strcmp(m->topic, topic) != 0)
        return;
    /* hostile until verified: bounded decode, the manufacturer's key, the
     * topic it was signed for, fresh and not seen before */
    rc = onr_envelope_decode(m->payload, (size_t)m->payloadlen, &env);
    if (rc == ONR_OK && (env.sender_role != ONR_ROLE_MANUFACTURER ||
                         env.sender.len != strlen(d->trust.mfr) ||
                         memcmp(env.sender.ptr, d->trust.mfr, env.sender.len) != 0))
        rc = ONR_EDENIED;
    if (rc == ONR_OK)
        rc = onr_envelope_verify(&env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 d->mfr_key, (uint64_t)time(NULL), FRESHNESS, d->replay);
    if (rc != ONR_OK) {
        snprintf(detail, sizeof(detail), "message: %s", onr_strerror(rc));
        report(d, "refused", detail);
        return;
    }
    on_answer(d, &env);
}

/* ---- opening ------------------------------------------------------------------ */

static int load_brokers(struct onr_device *d, const struct onr_config *cfg)
{
    size_t n = onr_config_count(cfg, "broker");

    if (n == 0 || n > MAX_BROKERS)
        return ONR_EFORMAT;
    for (size_t i = 0; i < n; i++) {
        char buf[512];
        const char *f[3];
        size_t nf = 0;
        char *end = NULL;
        long port;

        if (onr_config_split(onr_config_at(cfg, "broker", i), buf, sizeof(buf), f, 3, &nf) !=
                ONR_OK ||
            nf != 3 || strlen(f[0]) > ONR_SERVICE_ID_MAX || strlen(f[1]) >= 256)
            return ONR_EFORMAT;
        port = strtol(f[2], &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            return ONR_EFORMAT;
        snprintf(d->brokers[i].name, sizeof(d->brokers[i].name), "%s", f[0]);
        snprintf(d->brokers[i].host, sizeof(d->brokers[i].host), "%s", f[1]);
        d->brokers[i].port = (int)port;
    }
    d->n_brokers = n;
    return ONR_OK;
}

/* device.conf and the keys and certificate it names. */
static int load_files(struct onr_device *d)
{
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    char path[1200];
    uint8_t seal_sk[ONR_X25519_KEY_LEN];
    uint8_t pub[ONR_P256_PUB_LEN];
    struct onr_bytes cert;
    size_t n = 0;
    const char *id, *mfr;
    int rc;

    snprintf(path, sizeof(path), "%s/device.conf", d->dir);
    rc = onr_config_load(path, &cfg, &err);
    if (rc != ONR_OK)
        return rc;
    id = onr_config_get(cfg, "id");
    mfr = onr_config_get(cfg, "manufacturer");
    rc = id == NULL || mfr == NULL || strlen(id) != ONR_DEVID_LEN ||
                 strlen(mfr) > ONR_SERVICE_ID_MAX
             ? ONR_EFORMAT
             : load_brokers(d, cfg);
    if (rc == ONR_OK) {
        snprintf(d->trust.dev, sizeof(d->trust.dev), "%s", id);
        snprintf(d->trust.mfr, sizeof(d->trust.mfr), "%s", mfr);
    }
#define PATH_OF(key) (onr_config_get(cfg, key) != NULL &&                                    \
                      onr_config_path(cfg, onr_config_get(cfg, key), path, sizeof(path)) == ONR_OK)
    if (rc == ONR_OK)
        rc = PATH_OF("manufacturer_key") ? onr_p256_public_load(path, d->mfr_key) : ONR_EFORMAT;
    if (rc == ONR_OK)
        rc = PATH_OF("voucher_key") ? onr_p256_public_load(path, d->trust.voucher_key)
                                    : ONR_EFORMAT;
    if (rc == ONR_OK)
        rc = PATH_OF("broker_ca") ? ONR_OK : ONR_EFORMAT;
    if (rc == ONR_OK)
        snprintf(d->broker_ca, sizeof(d->broker_ca), "%s", path);
#undef PATH_OF
    onr_config_free(cfg);
    if (rc != ONR_OK)
        return rc;
    snprintf(path, sizeof(path), "%s/identity.key", d->dir);
    rc = onr_p256_load(path, &d->identity);
    if (rc == ONR_OK)
        rc = onr_p256_public(d->identity, pub);
    if (rc == ONR_OK && onr_devid_matches(d->trust.dev, ONR_DEVID_LEN, pub) != ONR_OK)
        rc = ONR_EBADKEY; /* device.conf and identity.key disagree */
    snprintf(path, sizeof(path), "%s/sealing.key", d->dir);
    if (rc == ONR_OK)
        rc = onr_x25519_load(path, seal_sk);
    if (rc == ONR_OK)
        rc = onr_x25519_public(seal_sk, d->trust.seal_pub);
    onr_wipe(seal_sk, sizeof(seal_sk));
    snprintf(path, sizeof(path), "%s/identity.pem", d->dir);
    if (rc == ONR_OK) {
        uint8_t buf[ONR_X509_MAX_DER];
        size_t buf_len = sizeof(buf);

        rc = onr_x509_load(path, buf, &buf_len, &cert, 1, &n);
        if (rc == ONR_OK && cert.len <= sizeof(d->cert)) {
            memcpy(d->cert, cert.ptr, cert.len);
            d->cert_len = cert.len;
        }
    }
    return rc;
}

/* A device resuming VOUCHED reads its voucher back (and checks it again:
 * the disk is not trusted more than the network). */
static int load_journey(struct onr_device *d)
{
    uint8_t token[ONR_ENVELOPE_MAX];
    size_t len = 0;
    int rc = device_state_load(d->dir, &d->state);

    if (rc != ONR_OK || d->state == ONR_DEVICE_FACTORY)
        return rc;
    rc = device_voucher_load(d->dir, token, sizeof(token), &len);
    if (rc == ONR_OK)
        rc = device_check_voucher(&d->trust, token, len, NULL, 0, &d->voucher);
    return rc == ONR_OK ? ONR_OK : ONR_EFORMAT;
}

int onr_device_open(const char *state_dir, const struct onr_device_callbacks *cb,
                    const struct onr_device_options *opt, struct onr_device **out)
{
    struct onr_device *d;
    int rc;

    if (state_dir == NULL || out == NULL || strlen(state_dir) >= sizeof(d->dir))
        return ONR_EINVAL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return ONR_ENOMEM;
    snprintf(d->dir, sizeof(d->dir), "%s", state_dir);
    if (cb != NULL)
        d->cb = *cb;
    d->opt = (struct onr_device_options){ONR_DEVICE_VOUCHED, 20, 15};
    if (opt != NULL) {
        d->opt.target = opt->target;
        if (opt->max_attempts > 0)
            d->opt.max_attempts = opt->max_attempts;
        if (opt->answer_timeout > 0)
            d->opt.answer_timeout = opt->answer_timeout;
    }
    rc = load_files(d);
    if (rc == ONR_OK)
        rc = load_journey(d);
    if (rc == ONR_OK)
        rc = onr_replay_new(1024, &d->replay);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(d->identity, d, &d->mosq);
    if (rc != ONR_OK) {
        onr_device_close(d);
        return rc;
    }
    mosquitto_connect_v5_callback_set(d->mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(d->mosq, on_subscribe);
    mosquitto_message_v5_callback_set(d->mosq, on_message);
    *out = d;
    return ONR_OK;
}

int onr_device_start(struct onr_device *d, struct event_base *base)
{
    if (d == NULL || base == NULL || d->running)
        return ONR_EINVAL;
    d->base = base;
    d->timer = event_new(base, -1, 0, on_timer, d);
    if (d->timer == NULL ||
        onr_mqtt_loop_new(base, d->mosq, on_lost, d, &d->loop) != ONR_OK)
        return ONR_ENOMEM;
    d->running = 1;
    d->phase = IDLE;
    report(d, "state", NULL);
    if (d->state >= d->opt.target) {
        finish(d, ONR_OK);
        return ONR_OK;
    }
    arm(d, 0);
    return ONR_OK;
}

int onr_device_run(struct onr_device *d)
{
    struct event_base *base = event_base_new();
    int rc;

    if (base == NULL)
        return ONR_ENOMEM;
    d->own_base = 1;
    d->last_error = ONR_EBUSY;
    rc = onr_device_start(d, base);
    if (rc == ONR_OK && d->running)
        event_base_dispatch(base);
    if (rc == ONR_OK)
        rc = d->state >= d->opt.target ? ONR_OK : d->last_error;
    onr_mqtt_loop_free(d->loop);
    d->loop = NULL;
    event_free(d->timer);
    d->timer = NULL;
    event_base_free(base);
    d->base = NULL;
    return rc;
}

void onr_device_stop(struct onr_device *d)
{
    if (d != NULL && d->running) {
        d->last_error = ONR_EBUSY;
        finish(d, ONR_EBUSY);
    }
}

void onr_device_close(struct onr_device *d)
{
    if (d == NULL)
        return;
    if (d->running)
        onr_device_stop(d);
    if (!d->own_base) {
        onr_mqtt_loop_free(d->loop);
        if (d->timer != NULL)
            event_free(d->timer);
    }
    if (d->mosq != NULL) {
        if (mosquitto_socket(d->mosq) >= 0)
            mosquitto_loop_write(d->mosq, 1); /* the queued DISCONNECT */
        mosquitto_destroy(d->mosq);
    }
    onr_replay_free(d->replay);
    onr_p256_free(d->identity);
    onr_wipe(d, sizeof(*d));
    free(d);
}

enum onr_device_state onr_device_state(const struct onr_device *d)
{
    return d->state;
}

const char *onr_device_id(const struct onr_device *d)
{
    return d->trust.dev;
}

int onr_device_voucher(const struct onr_device *d, struct onr_device_voucher *out)
{
    if (d->state < ONR_DEVICE_VOUCHED)
        return ONR_ENOENT;
    *out = d->voucher;
    return ONR_OK;
}
