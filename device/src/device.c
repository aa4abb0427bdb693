/*
 * The device's journey (see <onramp/device.h>): one libevent loop, one
 * libmosquitto client driven through its socket, one timer for whatever
 * the device waits for next. What is on disk is device_state.c's.
 *
 * Phases of a FACTORY device (not persisted; the timer's meaning):
 *   IDLE        not connected; the timer starts the next connection attempt
 *   CONNECTING  waiting for CONNACK and SUBACK; the timer is a failure
 *   WAITING     a hello sent; the timer (no answer) is a failure
 *   PENDING     told "pending"; the timer sends a new hello
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_internal.h"
#include "onramp/connect.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/replay.h"

#define HELLOS_KEPT 32         /* a pushed voucher may answer any recent hello */
#define FRESHNESS 300          /* seconds, for the manufacturer's envelopes */
#define BACKOFF_FIRST 1.0
#define BACKOFF_MAX 60.0
#define DEFAULT_ATTEMPTS 20
#define DEFAULT_TIMEOUT 15

struct hello_sent {
    uint8_t id[ONR_MSG_ID_LEN];
    uint8_t nonce[ONR_NONCE_LEN];
};

enum phase { IDLE, CONNECTING, WAITING, PENDING };

struct onr_device {
    char dir[DEVICE_PATH_MAX];
    struct onr_device_callbacks cb;
    struct onr_device_options opt;
    struct device_files files;
    size_t next_broker;

    enum onr_device_state state;
    struct onr_device_voucher voucher;
    struct hello_sent hellos[HELLOS_KEPT]; /* this run's, a ring */
    size_t n_hellos;
    struct onr_replay *replay;

    struct event_base *base;
    int own_base;
    struct mosquitto *mosq;
    struct onr_mqtt_loop *loop;
    struct event *timer;
    enum phase phase;
    unsigned failures; /* failed attempts in a row */
    int last_error;
    int started;
    int running;
};

/* ---- reporting ------------------------------------------------------------ */

/* One progress detail being built: key=value pairs, truncated if need be. */
struct detail {
    char text[768];
    size_t len;
};

static void put(struct detail *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct detail *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len >= sizeof(l->text) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < sizeof(l->text) - l->len ? (size_t)n : sizeof(l->text) - 1 - l->len;
}

/* ` key="value"`: `"` and `\` escaped, anything outside printable ASCII as
 * \xHH, so a line stays one line whatever the network sent. */
static void put_quoted(struct detail *l, const char *key, const void *value, size_t n)
{
    const unsigned char *s = value;

    put(l, "%s%s=\"", l->len > 0 ? " " : "", key);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(l, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] > 0x7e)
            put(l, "\\x%02x", s[i]);
        else
            put(l, "%c", s[i]);
    }
    put(l, "\"");
}

/* ` code=NAME`, or the number for a code this library does not know. */
static void put_code(struct detail *l, int code)
{
    const char *name = onr_error_name(code);

    if (strcmp(name, "UNKNOWN") == 0)
        put(l, "%scode=%d", l->len > 0 ? " " : "", -code);
    else
        put(l, "%scode=%s", l->len > 0 ? " " : "", name);
}

static void report(struct onr_device *d, const char *event, const struct detail *l)
{
    if (d->cb.progress != NULL)
        d->cb.progress(d->cb.arg, d, event, l != NULL ? l->text : "");
}

/* `event` with code=NAME reason="why" */
static void report_code(struct onr_device *d, const char *event, const char *what, int code,
                        const char *why)
{
    struct detail l = {"", 0};

    if (what != NULL)
        put(&l, "what=%s", what);
    put_code(&l, code);
    put_quoted(&l, "reason", why, strlen(why));
    report(d, event, &l);
}

static void drop_connection(struct onr_device *d)
{
    d->phase = IDLE;
    if (d->mosq == NULL || d->loop == NULL)
        return;
    onr_mqtt_loop_unbind(d->loop);
    mosquitto_disconnect_v5(d->mosq, 0, NULL);
}

static void finish(struct onr_device *d, int result)
{
    if (!d->running)
        return;
    d->running = 0;
    d->last_error = result;
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

/* The run ends with `why`. */
static void give_up(struct onr_device *d, int why, const char *what)
{
    struct detail l = {"", 0};

    put(&l, "attempts=%u", d->failures);
    put_code(&l, why);
    put_quoted(&l, "reason", what, strlen(what));
    report(d, "failed", &l);
    finish(d, why);
}

/* A failed attempt: give up after max_attempts in a row, else wait longer
 * each time and start again with a new connection. */
static void failed(struct onr_device *d, int why, const char *what)
{
    double delay = BACKOFF_FIRST;
    struct detail l = {"", 0};

    d->failures++;
    drop_connection(d);
    if (d->failures >= d->opt.max_attempts) {
        give_up(d, why, what);
        return;
    }
    for (unsigned i = 1; i < d->failures && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    delay = jitter(delay);
    put(&l, "attempt=%u delay=%.1f", d->failures, delay);
    put_code(&l, why);
    put_quoted(&l, "reason", what, strlen(what));
    report(d, "retry", &l);
    arm(d, delay);
}

/* ---- the steps ------------------------------------------------------------- */

static void down_topic(const struct onr_device *d, char *out, size_t cap)
{
    snprintf(out, cap, "onr/1/d/%s/down", d->files.trust.dev);
}

static void send_hello(struct onr_device *d)
{
    const struct device_trust *t = &d->files.trust;
    struct hello_sent *h = &d->hellos[d->n_hellos % HELLOS_KEPT];
    struct onr_msg msg = {.type = ONR_MSG_HELLO};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_DEVICE,
        .sender = {(const uint8_t *)t->dev, ONR_DEVID_LEN},
        .key = d->files.identity,
    };
    uint8_t buf[ONR_ENVELOPE_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    struct detail l = {"", 0};
    size_t len = 0;
    int rc;

    /* a new nonce for every hello, never one from before a restart: a
     * voucher for an older hello of this run is still taken (it may have
     * been pushed), never one for a nonce not ours */
    rc = onr_random(h->nonce, sizeof(h->nonce));
    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/mfr/%s", t->dev, t->mfr);
    msg.body.hello.nonce = ONR_BYTES(h->nonce);
    msg.body.hello.cert = (struct onr_bytes){d->files.cert, d->files.cert_len};
    if (rc == ONR_OK)
        rc = onr_envelope_encode(&msg, &self,
                                 (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 (uint64_t)time(NULL), buf, sizeof(buf), &len, h->id);
    if (rc != ONR_OK) {
        failed(d, rc, "cannot make a hello");
        return;
    }
    if (mosquitto_publish_v5(d->mosq, NULL, topic, (int)len, buf, 1, false, NULL) !=
        MOSQ_ERR_SUCCESS) {
        failed(d, ONR_EIO, "cannot publish the hello");
        return;
    }
    d->n_hellos++;
    onr_mqtt_loop_kick(d->loop);
    d->phase = WAITING;
    put(&l, "manufacturer=%s", t->mfr);
    report(d, "hello", &l);
    arm(d, d->opt.answer_timeout);
}

static void connect_next(struct onr_device *d)
{
    const struct device_broker *b = &d->files.brokers[d->next_broker++ % d->files.n_brokers];
    struct onr_bootstrap boot = {
        .host = b->host, .port = b->port, .cafile = d->files.broker_ca, .broker_name = b->name,
    };
    struct detail l = {"", 0};
    int rc;

    put(&l, "broker=%s host=%s port=%d", b->name, b->host, b->port);
    report(d, "connecting", &l);
    d->phase = CONNECTING;
    /* a fresh proof for every attempt: proofs are single use */
    rc = onr_connect_pop(d->mosq, d->files.identity, &boot, (uint64_t)time(NULL));
    if (rc == ONR_OK)
        rc = onr_mqtt_loop_bind(d->loop);
    if (rc != ONR_OK) {
        l.len = 0;
        put(&l, "cannot connect to %s (%s:%d)", b->name, b->host, b->port);
        failed(d, rc, l.text);
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
    case CONNECTING: failed(d, ONR_EIO, "no CONNACK or SUBACK from the broker"); break;
    case WAITING: failed(d, ONR_EIO, "no answer from the manufacturer"); break;
    case PENDING: send_hello(d); break; /* ask again */
    }
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    char topic[ONR_TOPIC_MAX + 1];
    char why[128];

    (void)flags;
    (void)props;
    if (!d->running)
        return;
    if (rc != 0) {
        snprintf(why, sizeof(why), "CONNECT refused: %s", mosquitto_reason_string(rc));
        failed(d, ONR_EDENIED, why);
        return;
    }
    report(d, "connected", NULL);
    down_topic(d, topic, sizeof(topic));
    if (mosquitto_subscribe_v5(mosq, NULL, topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS) {
        failed(d, ONR_EIO, "cannot subscribe");
        return;
    }
    onr_mqtt_loop_kick(d->loop);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct onr_device *d = arg;

    (void)mosq;
    (void)mid;
    (void)props;
    if (!d->running)
        return;
    if (n != 1 || granted[0] >= 128) {
        failed(d, ONR_EDENIED, "subscription refused");
        return;
    }
    if (d->state == ONR_DEVICE_FACTORY)
        send_hello(d);
}

static void on_lost(void *arg, int reason)
{
    struct onr_device *d = arg;
    char why[128];

    if (!d->running)
        return;
    snprintf(why, sizeof(why), "connection lost: %s", mosquitto_strerror(reason));
    failed(d, ONR_EIO, why);
}

/* The hello of this run an answer refers to, or NULL. */
static const struct hello_sent *hello_for(const struct onr_device *d, struct onr_bytes re)
{
    size_t n = d->n_hellos < HELLOS_KEPT ? d->n_hellos : HELLOS_KEPT;

    for (size_t i = 0; i < n; i++)
        if (re.len == ONR_MSG_ID_LEN && memcmp(d->hellos[i].id, re.ptr, ONR_MSG_ID_LEN) == 0)
            return &d->hellos[i];
    return NULL;
}

/* FACTORY -> VOUCHED, or a refusal that changes nothing. */
static void take_voucher(struct onr_device *d, const struct onr_msg_voucher *m)
{
    const struct hello_sent *h = hello_for(d, m->re);
    struct onr_device_voucher v;
    int rc;

    if (h == NULL) {
        report_code(d, "refused", "voucher", ONR_ENOENT, "answers no hello of this run");
        return;
    }
    rc = device_check_voucher(&d->files.trust, m->voucher.ptr, m->voucher.len, h->nonce,
                              (uint64_t)time(NULL), &v);
    if (rc != ONR_OK) {
        report_code(d, "refused", "voucher", rc, onr_strerror(rc));
        return;
    }
    /* durable before anything else happens: the voucher, then the state */
    rc = device_voucher_save(d->dir, m->voucher.ptr, m->voucher.len);
    if (rc == ONR_OK)
        rc = device_state_save(d->dir, ONR_DEVICE_VOUCHED);
    if (rc != ONR_OK) {
        give_up(d, rc, "cannot store the voucher"); /* a disk problem: no retry */
        return;
    }
    d->voucher = v;
    d->state = ONR_DEVICE_VOUCHED;
    d->failures = 0;
    report(d, "state", NULL);
    if (d->state >= d->opt.target)
        finish(d, ONR_OK);
}

static void take_pending(struct onr_device *d, const struct onr_msg_pending *m)
{
    struct detail l = {"", 0};

    if (hello_for(d, m->re) == NULL)
        return; /* for a hello of another run: no news */
    d->failures = 0;
    put(&l, "retry_after=%llu", (unsigned long long)m->retry_after);
    if (m->reason.len > 0)
        put_quoted(&l, "reason", m->reason.ptr, m->reason.len);
    report(d, "pending", &l);
    /* stay connected: the voucher may be pushed before then */
    d->phase = PENDING;
    arm(d, jitter((double)m->retry_after));
}

static void take_error(struct onr_device *d, const struct onr_msg_error *m)
{
    struct detail l = {"", 0};
    int code = -(int)m->code;

    if (hello_for(d, m->re) == NULL)
        return;
    put_code(&l, code);
    if (m->reason.len > 0)
        put_quoted(&l, "reason", m->reason.ptr, m->reason.len);
    else
        put_quoted(&l, "reason", onr_strerror(code), strlen(onr_strerror(code)));
    report(d, "error", &l);
    /* ESTALE (our clock or a slow path) and the rest alike: later, bounded */
    failed(d, code, "the manufacturer answered with an error");
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct onr_device *d = arg;
    const struct device_trust *t = &d->files.trust;
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_envelope env;
    int rc;

    (void)mosq;
    (void)props;
    down_topic(d, topic, sizeof(topic));
    if (!d->running || d->state != ONR_DEVICE_FACTORY || m->payloadlen <= 0 ||
        strcmp(m->topic, topic) != 0)
        return;
    /* hostile until verified: bounded decode, the manufacturer as sender,
     * its key, the topic it was signed for, fresh and not seen before */
    rc = onr_envelope_decode(m->payload, (size_t)m->payloadlen, &env);
    if (rc == ONR_OK && (env.sender_role != ONR_ROLE_MANUFACTURER ||
                         env.sender.len != strlen(t->mfr) ||
                         memcmp(env.sender.ptr, t->mfr, env.sender.len) != 0))
        rc = ONR_EDENIED;
    if (rc == ONR_OK)
        rc = onr_envelope_verify(&env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 d->files.mfr_key, (uint64_t)time(NULL), FRESHNESS, d->replay);
    if (rc != ONR_OK) {
        report_code(d, "refused", "message", rc, onr_strerror(rc));
        return;
    }
    switch (env.msg.type) {
    case ONR_MSG_VOUCHER: take_voucher(d, &env.msg.body.voucher); break;
    case ONR_MSG_PENDING: take_pending(d, &env.msg.body.pending); break;
    case ONR_MSG_ERROR: take_error(d, &env.msg.body.error); break;
    default:
        report_code(d, "refused", "message", ONR_EMSGTYPE, "not an answer to a hello");
        break;
    }
}

/* ---- opening and running ------------------------------------------------------ */

/* The device cannot start: say which file, then free what was built. */
static int open_failed(struct onr_device *d, const char *file, int rc)
{
    struct detail l = {"", 0};

    put(&l, "file=%s", file != NULL ? file : "?");
    put_code(&l, rc);
    put_quoted(&l, "reason", onr_strerror(rc), strlen(onr_strerror(rc)));
    report(d, "error", &l);
    onr_device_close(d);
    return rc;
}

int onr_device_open(const char *state_dir, const struct onr_device_callbacks *cb,
                    const struct onr_device_options *opt, struct onr_device **out)
{
    struct onr_device *d;
    const char *file = NULL;
    int rc;

    if (state_dir == NULL || out == NULL || strlen(state_dir) >= sizeof(d->dir))
        return ONR_EINVAL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return ONR_ENOMEM;
    snprintf(d->dir, sizeof(d->dir), "%s", state_dir);
    if (cb != NULL)
        d->cb = *cb;
    d->opt = (struct onr_device_options){device_state_last(), DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT};
    if (opt != NULL) {
        if (opt->target != ONR_DEVICE_FACTORY)
            d->opt.target = opt->target;
        if (opt->max_attempts > 0)
            d->opt.max_attempts = opt->max_attempts;
        if (opt->answer_timeout > 0)
            d->opt.answer_timeout = opt->answer_timeout;
    }
    if (d->opt.target > device_state_last())
        return open_failed(d, "options", ONR_EINVAL);
    rc = device_files_load(d->dir, &d->files, &file);
    if (rc == ONR_OK)
        rc = device_journey_load(d->dir, &d->files.trust, &d->state, &d->voucher, &file);
    if (rc != ONR_OK)
        return open_failed(d, file, rc);
    rc = onr_replay_new(1024, &d->replay);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(d->files.identity, d, &d->mosq);
    if (rc != ONR_OK)
        return open_failed(d, "-", rc);
    mosquitto_connect_v5_callback_set(d->mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(d->mosq, on_subscribe);
    mosquitto_message_v5_callback_set(d->mosq, on_message);
    *out = d;
    return ONR_OK;
}

int onr_device_start(struct onr_device *d, struct event_base *base)
{
    if (d == NULL || base == NULL || d->started)
        return ONR_EINVAL;
    d->started = 1;
    d->base = base;
    d->timer = event_new(base, -1, 0, on_timer, d);
    if (d->timer == NULL ||
        onr_mqtt_loop_new(base, d->mosq, on_lost, d, &d->loop) != ONR_OK)
        return ONR_ENOMEM;
    d->running = 1;
    d->phase = IDLE;
    d->failures = 0;
    d->last_error = ONR_OK;
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
    struct event_base *base;
    int rc;

    if (d == NULL || d->started)
        return ONR_EINVAL;
    base = event_base_new();
    if (base == NULL)
        return ONR_ENOMEM;
    d->own_base = 1;
    rc = onr_device_start(d, base);
    if (rc == ONR_OK && d->running)
        event_base_dispatch(base);
    if (d->running)
        finish(d, ONR_EBUSY); /* the loop ran dry: cannot happen, but end cleanly */
    if (rc == ONR_OK)
        rc = d->last_error;
    /* nothing may stay on the loop being freed */
    onr_mqtt_loop_free(d->loop);
    d->loop = NULL;
    if (d->timer != NULL)
        event_free(d->timer);
    d->timer = NULL;
    event_base_free(base);
    d->base = NULL;
    d->own_base = 0;
    return rc;
}

void onr_device_stop(struct onr_device *d)
{
    if (d != NULL && d->running)
        finish(d, ONR_EBUSY);
}

void onr_device_close(struct onr_device *d)
{
    if (d == NULL)
        return;
    if (d->running)
        onr_device_stop(d);
    onr_mqtt_loop_free(d->loop);
    if (d->timer != NULL)
        event_free(d->timer);
    if (d->mosq != NULL) {
        if (mosquitto_socket(d->mosq) >= 0)
            mosquitto_loop_write(d->mosq, 1); /* the queued DISCONNECT */
        mosquitto_destroy(d->mosq);
    }
    onr_replay_free(d->replay);
    device_files_cleanup(&d->files);
    onr_wipe(d, sizeof(*d));
    free(d);
}

enum onr_device_state onr_device_state(const struct onr_device *d)
{
    return d->state;
}

const char *onr_device_id(const struct onr_device *d)
{
    return d->files.trust.dev;
}

int onr_device_voucher(const struct onr_device *d, struct onr_device_voucher *out)
{
    if (d->state < ONR_DEVICE_VOUCHED)
        return ONR_ENOENT;
    *out = d->voucher;
    return ONR_OK;
}
