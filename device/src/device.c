/*
 * The device's journey (see <onramp/device.h>): one libevent loop, one
 * libmosquitto client for the bootstrap broker driven through its socket
 * (which broker: device_choice.c's decision), one timer for whatever the
 * device waits for next (device_run.h's phases), and the journey's
 * transitions. What the down topic brings is device_answer.c's; each
 * step's messages are its step_*.c's (the service broker's connection is
 * step_operate.c's, a relocation's start and end step_relocate.c's); what
 * is on disk is device_state.c's, device_network.c's, device_service.c's,
 * device_relocation.c's and device_reported.c's.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/connect.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/replay.h"

#define BACKOFF_FIRST 1.0
#define BACKOFF_MAX 60.0
#define DEFAULT_ATTEMPTS 20
#define DEFAULT_TIMEOUT 15
/* Answers remembered against replay: a device has at most a few requests
 * out, and an answer must name one of them */
#define REPLAY_CAPACITY 64

/* ---- ending, timing, failing ------------------------------------------------------ */

static void drop_connection(struct onr_device *d)
{
    d->phase = PHASE_IDLE;
    step_operate_drop(d);
    if (d->mosq == NULL || d->loop == NULL)
        return;
    onr_mqtt_loop_unbind(d->loop);
    mosquitto_disconnect_v5(d->mosq, 0, NULL);
}

void device_finish(struct onr_device *d, int result)
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

void device_give_up(struct onr_device *d, int why, const char *what)
{
    struct device_detail l = {"", 0};

    device_put(&l, "attempts=%u", d->failures);
    device_put_code(&l, why);
    device_put_ours(&l, "reason", what);
    device_report(d, "failed", &l);
    device_finish(d, why);
}

/* A failed attempt: give up after max_attempts in a row (a relocation:
 * abandon it), else wait longer each time, then start again (with a new
 * connection unless `stay`). ENOOPERATOR (the owner's policy names no
 * operator where the device is) never gives up: like pending, the owner
 * may add one at any time (SPEC section 15). */
static void backoff(struct onr_device *d, int why, const char *what, int stay)
{
    double delay = BACKOFF_FIRST;
    struct device_detail l = {"", 0};

    d->failures++;
    if (!stay)
        drop_connection(d);
    if (d->failures >= d->opt.max_attempts && why != ONR_ENOOPERATOR) {
        if (device_state_relocating(d->journey.state))
            step_relocate_abandon(d, why, what);
        else
            device_give_up(d, why, what);
        return;
    }
    for (unsigned i = 1; i < d->failures && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    delay = jitter(delay);
    device_put(&l, "attempt=%u delay=%.1f", d->failures, delay);
    device_put_code(&l, why);
    device_put_ours(&l, "reason", what);
    device_report(d, "retry", &l);
    if (stay)
        d->phase = PHASE_PENDING;
    arm(d, delay);
}

void device_failed(struct onr_device *d, int why, const char *what)
{
    backoff(d, why, what, 0);
}

void device_failed_connected(struct onr_device *d, int why, const char *what)
{
    backoff(d, why, what, 1);
}

/* The bootstrap broker in use. */
static const struct device_broker *current_broker(const struct onr_device *d)
{
    return &d->files.brokers[d->broker.current];
}

/* A failed attempt that is the bootstrap broker's own (`kind`): after the
 * backoff the device connects to the next broker of its list. `what`
 * names the broker that failed. */
static void broker_failed(struct onr_device *d, enum device_failure kind, int why,
                          const char *what)
{
    device_choice_failed(&d->broker, kind);
    device_failed(d, why, what);
}

void device_wait_answer(struct onr_device *d)
{
    d->phase = PHASE_WAITING;
    arm(d, d->opt.answer_timeout);
}

void device_wait_pending(struct onr_device *d, uint64_t seconds)
{
    d->phase = PHASE_PENDING;
    arm(d, jitter((double)seconds));
}

void device_wait_connect(struct onr_device *d)
{
    d->phase = PHASE_CONNECTING;
    arm(d, d->opt.answer_timeout);
}

/* ---- the journey's transitions ------------------------------------------------------- */

int device_on_bootstrap(enum onr_device_state state)
{
    return state < ONR_DEVICE_ENROLLED || state == ONR_DEVICE_RELOCATING ||
           state == ONR_DEVICE_RELOCATION_PROFILED;
}

void device_net(struct onr_device *d, struct device_net *out)
{
    struct device_journey *j = &d->journey;
    int next = j->state == ONR_DEVICE_RELOCATING || j->state == ONR_DEVICE_RELOCATION_PROFILED;

    out->slot = next ? DEVICE_NEXT : DEVICE_CURRENT;
    out->voucher = next ? &j->next.voucher : &j->voucher;
    out->token = next ? j->next.token : j->token;
    out->token_len = next ? j->next.token_len : j->token_len;
    out->profile = next ? &j->next.profile : &j->profile;
    if (device_slot_dir(d->dir, out->slot, out->dir, sizeof(out->dir)) != ONR_OK)
        out->dir[0] = '\0'; /* cannot be: d->dir is bounded below that */
}

void device_reconnect(struct onr_device *d)
{
    /* the DISCONNECTs are sent on the timer, outside the clients'
     * callbacks; the timer connects where the state says */
    drop_connection(d);
    arm(d, 0);
}

/* The request of the step the device is at: its first, or again. */
static void send_request(struct onr_device *d)
{
    switch (d->journey.state) {
    case ONR_DEVICE_FACTORY: step_voucher_send(d); break;
    case ONR_DEVICE_VOUCHED:
    case ONR_DEVICE_RELOCATING: step_profile_send(d); break;
    case ONR_DEVICE_PROFILED:
    case ONR_DEVICE_RELOCATION_PROFILED: step_attach_send(d); break;
    case ONR_DEVICE_NETWORK_ATTACHED: step_enroll_send(d); break;
    case ONR_DEVICE_ENROLLED:
    case ONR_DEVICE_OPERATIONAL:
    case ONR_DEVICE_RELOCATED:
        device_reconnect(d); /* off the bootstrap broker, to the service broker */
        break;
    }
}

void device_enter(struct onr_device *d, enum onr_device_state state)
{
    d->journey.state = state;
    d->failures = 0;
    /* the step's requests are answered: forget them (and CK, IK) */
    onr_wipe(d->sent, sizeof(d->sent));
    d->n_sent = 0;
    device_report(d, "state", NULL);
}

int device_move(struct onr_device *d, enum onr_device_state state)
{
    device_enter(d, state);
    if (device_state_reached(d->journey.state, d->opt.target)) {
        device_finish(d, ONR_OK);
        return 0;
    }
    return 1;
}

void device_advance(struct onr_device *d, enum onr_device_state state)
{
    if (device_move(d, state))
        send_request(d); /* still connected: go on at once */
}

/* ---- the connection -------------------------------------------------------------------- */

/* Connect to the bootstrap broker in use, with a proof for its name. */
static void connect_broker(struct onr_device *d)
{
    const struct device_broker *b = current_broker(d);
    struct onr_bootstrap boot = {
        .host = b->host, .port = b->port, .cafile = d->files.broker_ca, .broker_name = b->name,
    };
    struct device_detail l = {"", 0};
    int rc;

    device_put(&l, "broker=%s host=%s port=%d", b->name, b->host, b->port);
    device_report(d, "connecting", &l);
    /* a fresh proof for every attempt: proofs are single use */
    rc = onr_connect_pop(d->mosq, d->files.identity, &boot, (uint64_t)time(NULL));
    if (rc == ONR_OK)
        rc = onr_mqtt_loop_bind(d->loop);
    if (rc != ONR_OK) {
        l.len = 0;
        device_put(&l, "cannot connect to %s (%s:%d)", b->name, b->host, b->port);
        broker_failed(d, DEVICE_FAIL_CONNECT, rc, l.text);
        return;
    }
    device_wait_connect(d);
}

/* Who answers at the device's step: the manufacturer, then the operator
 * and the provider the voucher names (a relocation's new operator), then
 * the service broker. */
const char *device_peer_name(const struct onr_device *d)
{
    switch (d->journey.state) {
    case ONR_DEVICE_FACTORY: return "manufacturer";
    case ONR_DEVICE_VOUCHED:
    case ONR_DEVICE_PROFILED:
    case ONR_DEVICE_RELOCATING:
    case ONR_DEVICE_RELOCATION_PROFILED: return "operator";
    case ONR_DEVICE_NETWORK_ATTACHED: return "provider";
    case ONR_DEVICE_ENROLLED:
    case ONR_DEVICE_OPERATIONAL:
    case ONR_DEVICE_RELOCATED: break;
    }
    return "service broker";
}

/* A device verifies each key a few times in its whole life: wolfCrypt's
 * point tables (~800 KB per key, built at a key's first use) would be most
 * of its memory and never pay off. Unless its owner keeps them (many
 * devices in one process share them). */
void device_release_point_tables(const struct onr_device *d)
{
    if (!d->opt.keep_point_tables)
        onr_crypto_release_caches();
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct onr_device *d = arg;
    int bootstrap;
    char why[128];

    (void)fd;
    (void)what;
    if (!d->running)
        return;
    bootstrap = device_on_bootstrap(d->journey.state);
    switch (d->phase) {
    case PHASE_IDLE:
        if (step_relocate_expired(d))
            break; /* abandoned: the timer goes to the service broker */
        if (bootstrap)
            connect_broker(d);
        else
            step_operate_connect(d);
        break;
    case PHASE_CONNECTING:
        if (!bootstrap) {
            device_failed(d, ONR_EIO, "no CONNACK or SUBACK from the service broker");
            break;
        }
        snprintf(why, sizeof(why), "no CONNACK or SUBACK from %s", current_broker(d)->name);
        broker_failed(d, DEVICE_FAIL_CONNECT, ONR_EIO, why);
        break;
    case PHASE_WAITING:
        if (d->renewal != RENEWAL_NONE) { /* the certificate in force still works */
            step_renew_failed(d, ONR_EIO, "no answer from the provider to the renewal");
            break;
        }
        snprintf(why, sizeof(why), "no answer from the %s", device_peer_name(d));
        if (bootstrap) /* a broker that carries no answer does not work */
            broker_failed(d, DEVICE_FAIL_NO_ANSWER, ONR_EIO, why);
        else
            device_failed(d, ONR_EIO, why);
        break;
    case PHASE_PENDING: send_request(d); break; /* ask again */
    case PHASE_OPERATING: /* the certificate's renewal is due (or the clock moved) */
        if (!step_renew_next(d))
            step_renew_schedule(d);
        break;
    }
    device_release_point_tables(d); /* the proof's or request's signature */
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
        snprintf(why, sizeof(why), "CONNECT refused by %s: %s", current_broker(d)->name,
                 mosquitto_reason_string(rc));
        broker_failed(d, DEVICE_FAIL_REFUSED, ONR_EDENIED, why);
        return;
    }
    device_report(d, "connected", NULL);
    if (device_down_topic(d, topic, sizeof(topic)) != ONR_OK) {
        device_failed(d, ONR_EINVAL, "no down topic");
        return;
    }
    /* QoS 0: the session ends with the connection (clean start), so QoS 1
     * would add a PUBACK per answer and deliver nothing more; an answer
     * lost with its connection is asked for again (SPEC section 2). */
    if (mosquitto_subscribe_v5(mosq, NULL, topic, 0, 0, NULL) != MOSQ_ERR_SUCCESS) {
        device_failed(d, ONR_EIO, "cannot subscribe");
        return;
    }
    onr_mqtt_loop_kick(d->loop);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct onr_device *d = arg;
    char why[128];

    (void)mosq;
    (void)mid;
    (void)props;
    if (!d->running)
        return;
    if (n != 1 || granted[0] >= 128) {
        snprintf(why, sizeof(why), "subscription refused by %s", current_broker(d)->name);
        broker_failed(d, DEVICE_FAIL_REFUSED, ONR_EDENIED, why);
        return;
    }
    send_request(d);
}

static void on_lost(void *arg, int reason)
{
    struct onr_device *d = arg;
    char why[128];

    if (!d->running)
        return;
    snprintf(why, sizeof(why), "connection to %s lost: %s", current_broker(d)->name,
             mosquitto_strerror(reason));
    broker_failed(d, DEVICE_FAIL_LOST, ONR_EIO, why);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    device_take_message(arg, m);
    device_release_point_tables(arg);
}

/* ---- opening and running ------------------------------------------------------ */

/* The device cannot start: say which file (and which key of device.conf),
 * then free what was built. */
static int open_failed(struct onr_device *d, const char *file, const char *key, int rc)
{
    struct device_detail l = {"", 0};

    device_put(&l, "file=%s", file != NULL ? file : "?");
    if (key != NULL)
        device_put(&l, " key=%s", key);
    device_put_code(&l, rc);
    device_put_ours(&l, "reason", onr_strerror(rc));
    device_report(d, "error", &l);
    onr_device_close(d);
    return rc;
}

int onr_device_open(const char *state_dir, const struct onr_device_callbacks *cb,
                    const struct onr_device_options *opt, struct onr_device **out)
{
    struct onr_device *d;
    const char *file = NULL;
    const char *key = NULL;
    int rc;

    if (state_dir == NULL || out == NULL || strlen(state_dir) >= sizeof(d->dir))
        return ONR_EINVAL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return ONR_ENOMEM;
    snprintf(d->dir, sizeof(d->dir), "%s", state_dir);
    if (cb != NULL)
        d->cb = *cb;
    d->opt = (struct onr_device_options){device_state_last(), DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT,
                                         0, 0, 0};
    if (opt != NULL) {
        if (opt->target != ONR_DEVICE_FACTORY)
            d->opt.target = opt->target;
        if (opt->max_attempts > 0)
            d->opt.max_attempts = opt->max_attempts;
        if (opt->answer_timeout > 0)
            d->opt.answer_timeout = opt->answer_timeout;
        d->opt.keep_point_tables = opt->keep_point_tables;
        d->opt.stay = opt->stay != 0;
        d->opt.renew_before = opt->renew_before;
    }
    if (d->opt.renew_before < 0)
        return open_failed(d, "options", NULL, ONR_EINVAL);
    if (d->opt.target > device_state_last())
        return open_failed(d, "options", NULL, ONR_EINVAL);
    rc = device_files_load(d->dir, &d->files, &file, &key);
    if (rc == ONR_OK)
        rc = device_journey_load(d->dir, &d->files.trust, &d->journey, &file);
    if (rc != ONR_OK)
        return open_failed(d, file, key, rc);
    memcpy(d->visited, d->files.visited_plmn, sizeof(d->visited));
    rc = onr_replay_new(REPLAY_CAPACITY, &d->replay);
    if (rc == ONR_OK)
        rc = onr_connect_client_new(d->files.identity, d, &d->mosq);
    if (rc != ONR_OK)
        return open_failed(d, "-", NULL, rc);
    mosquitto_connect_v5_callback_set(d->mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(d->mosq, on_subscribe);
    mosquitto_message_v5_callback_set(d->mosq, on_message);
    device_release_point_tables(d); /* the keys' checks at open */
    *out = d;
    return ONR_OK;
}

int onr_device_start(struct onr_device *d, struct event_base *base)
{
    uint32_t r = 0;

    if (d == NULL || base == NULL || d->started)
        return ONR_EINVAL;
    /* a random bootstrap broker first: a fleet powered on together spreads
     * over them (without the DRBG, the first; its proofs fail anyway) */
    if (onr_random((uint8_t *)&r, sizeof(r)) != ONR_OK)
        r = 0;
    device_choice_start(&d->broker, d->files.n_brokers, r);
    d->started = 1;
    d->base = base;
    d->timer = event_new(base, -1, 0, on_timer, d);
    if (d->timer == NULL ||
        onr_mqtt_loop_new(base, d->mosq, on_lost, d, &d->loop) != ONR_OK)
        return ONR_ENOMEM;
    d->running = 1;
    d->phase = PHASE_IDLE;
    d->failures = 0;
    d->last_error = ONR_OK;
    device_report(d, "state", NULL);
    /* OPERATIONAL is not left: a run to it from it reconnects, says so (a
     * relocating device goes on relocating) */
    if (device_state_reached(d->journey.state, d->opt.target) &&
        !(d->journey.state == ONR_DEVICE_OPERATIONAL && d->opt.target == ONR_DEVICE_OPERATIONAL)) {
        device_finish(d, ONR_OK);
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
        device_finish(d, ONR_EBUSY); /* the loop ran dry: cannot happen, but end cleanly */
    if (rc == ONR_OK)
        rc = d->last_error;
    /* nothing may stay on the loop being freed */
    onr_mqtt_loop_free(d->loop);
    d->loop = NULL;
    onr_mqtt_loop_free(d->svc_loop);
    d->svc_loop = NULL;
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
        device_finish(d, ONR_EBUSY);
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
    step_operate_close(d);
    step_renew_cleanup(d);
    onr_replay_free(d->replay);
    device_journey_cleanup(&d->journey);
    device_files_cleanup(&d->files);
    onr_wipe(d, sizeof(*d));
    free(d);
}
