/*
 * The service skeleton (see <onramp/service.h>): configuration, the event
 * loop and its MQTT connection, dispatch, and exactly-once handling.
 */
#include "onramp/service.h"

#include <event2/event.h>
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/p256.h"
#include "onramp/replay.h"
#include "onramp/svc_peers.h"
#include "onramp/text.h"
#include "onramp/version.h"

#include "batch.h"

#define MAX_SUBS 16
#define MAX_TICKS 4
#define MAX_OVERRIDES 32
#define SESSION_EXPIRY 86400          /* seconds a persistent session outlives a disconnect */
#define OUTBOX_KEEP (24 * 3600)        /* seconds duplicates are answered from the outbox */
#define REPLAY_CAPACITY 65536
#define REFUSAL_LOG_WINDOW 10         /* seconds */
#define REFUSAL_LOG_MAX 10            /* refusal lines per window; the rest are counted */

static const char *const common_keys[] = {
    "id", "broker_host", "broker_port", "broker_ca", "cert", "key",
    "signing_key", "database", "log_level", "freshness", "stats_interval", "controller",
};

/* What the service counts, published as service_stats (SPEC type 32). */
struct counters {
    struct onr_msg_service_stats published; /* the message body */
    uint64_t latency_sum_us;
    uint64_t latency_n;
    time_t started;
};

struct sub {
    char filter[ONR_TOPIC_MAX + 1];
    int subscribe; /* 0: a route only (onr_service_route) */
    int type;
    onr_service_handler_cb cb;
    onr_service_raw_cb raw; /* set: a raw route (no envelope) */
    void *arg;
};

struct onr_service {
    const struct onr_service_def *def;
    const char *config_path;
    const char *overrides[MAX_OVERRIDES];
    size_t n_overrides;
    struct onr_config *cfg;
    struct onr_db *db;
    struct onr_batch *batch;          /* group commit of a burst of messages */
    struct onr_p256_key *signing_key;
    char id[ONR_SERVICE_ID_MAX + 1];
    uint32_t freshness;
    struct onr_replay *replay;
    struct sub subs[MAX_SUBS];
    size_t n_subs;
    size_t n_subscribed;
    struct tick {
        struct onr_service *svc;
        struct event *ev;
        onr_service_tick_cb cb;
        void *arg;
    } ticks[MAX_TICKS];
    size_t n_ticks;
    struct event_base *base;
    struct mosquitto *mosq;
    struct onr_mqtt_loop *loop;
    struct event *reconnect_ev;
    struct event *prune_ev;
    struct event *signals[3];
    unsigned backoff;                 /* consecutive failed connects */
    int connected;
    size_t subacks_due;               /* SUBACKs still to come after a connect */
    struct onr_answer *answer;        /* scratch for handle_once (large) */
#ifdef ONR_TEST_HOOKS
    int die_after_type;               /* fault injection for tests, 0: off */
#endif
    struct counters counters;
    struct onr_peers controllers;     /* who may ask for a device's status */
    int stored_refusal;               /* the error the handled message's stored
                                         answer carries, 0: none */
    struct refusal_log {
        time_t window;                /* when the current window began */
        unsigned logged;              /* lines in it */
        unsigned long unlogged;       /* refusals counted but not written */
    } refusal_log;
};

/* ---- configuration ----------------------------------------------------- */

static int load_config(struct onr_service *svc, struct onr_config **out)
{
    const char *known[sizeof(common_keys) / sizeof(common_keys[0]) + 64];
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    const char *stray = NULL;
    size_t n = 0;
    int rc;

    rc = onr_config_load(svc->config_path, &cfg, &err);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: %s:%zu: %s\n", svc->def->name, svc->config_path, err.line,
                err.line > 0 || err.reason[0] ? err.reason : onr_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < svc->n_overrides; i++) {
        char key[ONR_CONFIG_KEY_MAX + 1];
        const char *eq = strchr(svc->overrides[i], '=');

        if (eq == NULL || (size_t)(eq - svc->overrides[i]) > ONR_CONFIG_KEY_MAX) {
            fprintf(stderr, "%s: -o wants key=value\n", svc->def->name);
            onr_config_free(cfg);
            return ONR_EINVAL;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - svc->overrides[i]), svc->overrides[i]);
        rc = onr_config_set(cfg, key, eq + 1);
        if (rc != ONR_OK) {
            fprintf(stderr, "%s: -o %s: %s\n", svc->def->name, svc->overrides[i],
                    onr_strerror(rc));
            onr_config_free(cfg);
            return rc;
        }
    }
    for (size_t i = 0; i < sizeof(common_keys) / sizeof(common_keys[0]); i++)
        known[n++] = common_keys[i];
    for (size_t i = 0; i < svc->def->n_keys && n < sizeof(known) / sizeof(known[0]); i++)
        known[n++] = svc->def->keys[i];
    rc = onr_config_check_keys(cfg, known, n, &stray);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: %s: unknown key '%s'\n", svc->def->name, svc->config_path, stray);
        onr_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return ONR_OK;
}

static int required(struct onr_service *svc, const char *key)
{
    if (onr_config_get(svc->cfg, key) != NULL)
        return ONR_OK;
    fprintf(stderr, "%s: %s: '%s' is required\n", svc->def->name, svc->config_path, key);
    return ONR_EINVAL;
}

int onr_service_path(const struct onr_service *svc, const char *key, char *out, size_t cap)
{
    const char *value = onr_config_get(svc->cfg, key);

    if (value == NULL)
        return ONR_ENOENT;
    return onr_config_path(svc->cfg, value, out, cap);
}

static int apply_log_level(struct onr_service *svc)
{
    const char *text = onr_config_get(svc->cfg, "log_level");
    enum onr_log_level level = ONR_LOG_NOTICE;

    if (text != NULL && onr_log_level_parse(text, &level) != ONR_OK) {
        fprintf(stderr, "%s: log_level: want error, warning, notice, info or debug\n",
                svc->def->name);
        return ONR_EINVAL;
    }
    onr_log_set_level(level);
    return ONR_OK;
}

/* Everything the configuration names, loaded and checked at start. */
static int load_state(struct onr_service *svc)
{
    static const char *const needed[] = {"id", "broker_host", "broker_port", "broker_ca",
                                         "cert", "key", "signing_key", "database"};
    char path[1024];
    char why[256];
    uint64_t freshness = 0;
    const char *id;
    int rc = ONR_OK;

    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]) && rc == ONR_OK; i++)
        rc = required(svc, needed[i]);
    if (rc != ONR_OK || apply_log_level(svc) != ONR_OK)
        return ONR_EINVAL;
    id = onr_config_get(svc->cfg, "id");
    if (strlen(id) > ONR_SERVICE_ID_MAX) {
        fprintf(stderr, "%s: id: at most %d characters\n", svc->def->name, ONR_SERVICE_ID_MAX);
        return ONR_EINVAL;
    }
    snprintf(svc->id, sizeof(svc->id), "%s", id);
    rc = onr_config_get_uint(svc->cfg, "freshness", 300, 10, 86400, &freshness);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: freshness: seconds in 10..86400\n", svc->def->name);
        return rc;
    }
    svc->freshness = (uint32_t)freshness;
    rc = onr_service_path(svc, "signing_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &svc->signing_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: signing_key %s: %s\n", svc->def->name, path, onr_strerror(rc));
        return rc;
    }
    rc = onr_service_path(svc, "database", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_db_open(path, svc->def->schema, svc->def->schema_version, &svc->db, why,
                         sizeof(why));
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: database %s: %s\n", svc->def->name, path, why);
        return rc;
    }
    /* after the database, as services load their other peers in start() */
    rc = onr_peers_load(svc->cfg, svc->def->name, "controller", 0, &svc->controllers);
    if (rc != ONR_OK)
        return rc;
    return onr_replay_new(REPLAY_CAPACITY, &svc->replay);
}

/* ---- the connection ------------------------------------------------------ */

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
    for (size_t i = 0; i < svc->n_subs; i++)
        if (svc->subs[i].subscribe)
            mosquitto_subscribe_v5(mosq, NULL, svc->subs[i].filter, 1, 0, NULL);
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

/* Once the refusal window is over: say how many refusals it left
 * unwritten, and start a new one. */
static void refusal_log_roll(struct onr_service *svc, time_t now)
{
    struct refusal_log *l = &svc->refusal_log;

    if (now - l->window < REFUSAL_LOG_WINDOW)
        return;
    if (l->unlogged > 0)
        onr_log(ONR_LOG_NOTICE, "refusals not logged=%lu in %d s (counted in service_stats)",
                l->unlogged, REFUSAL_LOG_WINDOW);
    l->window = now;
    l->logged = 0;
    l->unlogged = 0;
}

void onr_service_log_refusal(struct onr_service *svc, const char *fmt, ...)
{
    struct refusal_log *l = &svc->refusal_log;
    time_t now = time(NULL);
    char line[512];
    va_list ap;

    refusal_log_roll(svc, now);
    if (l->logged >= REFUSAL_LOG_MAX) {
        l->unlogged++;
        return;
    }
    l->logged++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    onr_log(ONR_LOG_NOTICE, "%s", line);
}

/* A raw route for `topic`, if one matches: it gets the payload as is.
 * Returns 1 if one did. */
static int dispatch_raw(struct onr_service *svc, const char *topic, const uint8_t *payload,
                        size_t len)
{
    char safe[160];
    bool matched = false;
    int rc;

    for (size_t i = 0; i < svc->n_subs; i++) {
        if (svc->subs[i].raw == NULL ||
            mosquitto_topic_matches_sub(svc->subs[i].filter, topic, &matched) !=
                MOSQ_ERR_SUCCESS ||
            !matched)
            continue;
        rc = svc->subs[i].raw(svc, topic, payload, len, svc->subs[i].arg);
        if (rc != ONR_OK)
            onr_service_log_refusal(svc, "refused topic=%s reason=%s",
                                    onr_text_escape(topic, strlen(topic), safe, sizeof(safe)),
                                    onr_error_name(rc));
        return 1;
    }
    return 0;
}

/* Which kind of refusal `rc` is, for the counters. */
static uint64_t *refusal_counter(struct onr_msg_service_stats *c, int rc)
{
    switch (rc) {
    case ONR_EBADSIG: case ONR_EBADMAC: case ONR_EBADKEY: case ONR_EAUTH:
    case ONR_EAUTHKIND: case ONR_EDECRYPT: case ONR_ECHAIN:
        return &c->refused_auth;
    case ONR_ESTALE: case ONR_EREPLAY: case ONR_EREPLAYFULL:
        return &c->refused_stale;
    case ONR_EDENIED: case ONR_ENOENT: case ONR_EEXIST: case ONR_EEXHAUSTED:
    case ONR_EEXPIRED: case ONR_EPERM:
        return &c->refused_policy;
    default:
        return &c->refused_input;
    }
}

/* One message handled by a route: counted by outcome, and timed. */
static void count(struct onr_service *svc, int rc, const struct timespec *t0)
{
    struct counters *k = &svc->counters;
    struct onr_msg_service_stats *c = &k->published;
    struct timespec t1;
    uint64_t us;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000u +
         (uint64_t)((t1.tv_nsec - t0->tv_nsec) / 1000);
    k->latency_sum_us += us;
    k->latency_n++;
    if (us > c->latency_max_us)
        c->latency_max_us = us;
    if (rc == ONR_OK) {
        c->handled++;
    } else if (rc == ONR_EBUSY || rc == ONR_EIO) {
        c->busy++;
    } else {
        c->refused++;
        (*refusal_counter(c, rc))++;
    }
}

/* The counters on our ev topic (SPEC type 32). */
static void publish_counters(struct onr_service *svc, void *arg)
{
    struct counters *k = &svc->counters;
    struct onr_msg msg = {.type = ONR_MSG_SERVICE_STATS};
    struct onr_publication *pub = &svc->answer->extra[0]; /* scratch, as refuse */
    char topic[ONR_TOPIC_MAX + 1];

    (void)arg;
    refusal_log_roll(svc, time(NULL)); /* a flood's count, once it is over */
    if (!svc->connected)
        return;
    k->published.uptime = (uint64_t)(time(NULL) - k->started);
    k->published.latency_avg_us = k->latency_n ? k->latency_sum_us / k->latency_n : 0;
    msg.body.service_stats = k->published;
    snprintf(topic, sizeof(topic), "onr/1/s/%s/%s/ev", svc->def->role, svc->id);
    memset(pub, 0, sizeof(*pub));
    if (onr_service_seal(svc, &msg, topic, pub, NULL) == ONR_OK)
        onr_service_publish(svc, pub);
}

static void dispatch(struct onr_service *svc, const char *topic, const uint8_t *payload,
                     size_t len)
{
    struct timespec t0;
    char safe[160];
    struct onr_envelope env;
    bool matched = false;
    int rc;

    if (dispatch_raw(svc, topic, payload, len))
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = onr_envelope_decode(payload, len, &env);
    if (rc != ONR_OK) {
        count(svc, rc, &t0);
        onr_service_log_refusal(svc, "refused topic=%s reason=%s",
                                onr_text_escape(topic, strlen(topic), safe, sizeof(safe)),
                                onr_error_name(rc));
        return;
    }
    for (size_t i = 0; i < svc->n_subs; i++) {
        if (svc->subs[i].raw != NULL || (int)env.msg.type != svc->subs[i].type ||
            mosquitto_topic_matches_sub(svc->subs[i].filter, topic, &matched) !=
                MOSQ_ERR_SUCCESS ||
            !matched)
            continue;
        svc->stored_refusal = 0;
        rc = svc->subs[i].cb(svc, &env, topic, svc->subs[i].arg);
        /* a refusal stored as the answer (the handler logged it) counts
         * as the refusal it is */
        count(svc, rc == ONR_OK && svc->stored_refusal != 0 ? svc->stored_refusal : rc, &t0);
        if (rc != ONR_OK)
            onr_service_log_refusal(svc, "refused type=%s topic=%s reason=%s",
                                    onr_msg_type_name((int)env.msg.type),
                                    onr_text_escape(topic, strlen(topic), safe, sizeof(safe)),
                                    onr_error_name(rc));
        return;
    }
    count(svc, ONR_EMSGTYPE, &t0);
    onr_service_log_refusal(svc, "refused type=%s topic=%s reason=unexpected",
                            onr_msg_type_name((int)env.msg.type),
                            onr_text_escape(topic, strlen(topic), safe, sizeof(safe)));
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct onr_service *svc = arg;

    (void)mosq;
    (void)props;
    if (m->payloadlen <= 0 || m->topic == NULL)
        return;
    /* on failure the message gets a transaction of its own */
    if (svc->batch != NULL)
        batch_join(svc->batch);
    dispatch(svc, m->topic, m->payload, (size_t)m->payloadlen);
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

static int mqtt_setup(struct onr_service *svc)
{
    char client_id[2 * ONR_SERVICE_ID_MAX + 2];
    char ca[1024];
    char cert[1024];
    char key[1024];
    mosquitto_property *props = NULL;
    int rc;

    snprintf(client_id, sizeof(client_id), "%s.%s", svc->def->role, svc->id);
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

/* ---- handlers -------------------------------------------------------------- */

static int add_route(struct onr_service *svc, const char *filter, int subscribe, int type,
                     onr_service_handler_cb cb, onr_service_raw_cb raw, void *arg)
{
    struct sub *s;
    int dup = 0;

    if (svc == NULL || filter == NULL || (cb == NULL) == (raw == NULL) ||
        strlen(filter) > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    if (svc->n_subs == MAX_SUBS)
        return ONR_ENOMEM;
    /* one SUBSCRIBE per filter, however many types arrive there */
    for (size_t i = 0; i < svc->n_subs; i++)
        if (svc->subs[i].subscribe && strcmp(svc->subs[i].filter, filter) == 0)
            dup = 1;
    s = &svc->subs[svc->n_subs++];
    snprintf(s->filter, sizeof(s->filter), "%s", filter);
    s->subscribe = subscribe && !dup;
    s->type = type;
    s->cb = cb;
    s->raw = raw;
    s->arg = arg;
    if (s->subscribe)
        svc->n_subscribed++;
    return ONR_OK;
}

int onr_service_subscribe(struct onr_service *svc, const char *filter, int type,
                          onr_service_handler_cb cb, void *arg)
{
    return add_route(svc, filter, 1, type, cb, NULL, arg);
}

int onr_service_route(struct onr_service *svc, const char *filter, int type,
                      onr_service_handler_cb cb, void *arg)
{
    return add_route(svc, filter, 0, type, cb, NULL, arg);
}

int onr_service_subscribe_raw(struct onr_service *svc, const char *filter, onr_service_raw_cb cb,
                              void *arg)
{
    return add_route(svc, filter, 1, 0, NULL, cb, arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tick *t = arg;

    (void)fd;
    (void)what;
    t->cb(t->svc, t->arg);
}

int onr_service_every(struct onr_service *svc, unsigned seconds, onr_service_tick_cb cb,
                      void *arg)
{
    const struct timeval tv = {(time_t)seconds, 0};
    struct tick *t;

    if (svc == NULL || cb == NULL || seconds == 0)
        return ONR_EINVAL;
    if (svc->n_ticks == MAX_TICKS)
        return ONR_ENOMEM;
    t = &svc->ticks[svc->n_ticks];
    *t = (struct tick){svc, NULL, cb, arg};
    t->ev = event_new(svc->base, -1, EV_PERSIST, on_tick, t);
    if (t->ev == NULL || event_add(t->ev, &tv) != 0) {
        if (t->ev != NULL)
            event_free(t->ev);
        return ONR_ENOMEM;
    }
    svc->n_ticks++;
    return ONR_OK;
}

int onr_service_connected(const struct onr_service *svc)
{
    return svc->connected;
}

const struct onr_config *onr_service_config(const struct onr_service *svc)
{
    return svc->cfg;
}

struct onr_db *onr_service_db(const struct onr_service *svc)
{
    return svc->db;
}

struct event_base *onr_service_base(struct onr_service *svc)
{
    return svc->base;
}

const char *onr_service_id(const struct onr_service *svc)
{
    return svc->id;
}

uint64_t onr_service_now(const struct onr_service *svc)
{
    (void)svc;
    return (uint64_t)time(NULL);
}

int onr_service_accept(struct onr_service *svc, const struct onr_envelope *env)
{
    return onr_envelope_accept(env, onr_service_now(svc), svc->freshness, svc->replay);
}

int onr_service_seal(struct onr_service *svc, const struct onr_msg *msg, const char *topic,
                     struct onr_publication *pub, uint8_t id_out[ONR_MSG_ID_LEN])
{
    struct onr_envelope_signer self = {
        .role = svc->def->sender_role,
        .sender = {(const uint8_t *)svc->id, strlen(svc->id)},
        .key = svc->signing_key,
    };

    if (strlen(topic) > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    snprintf(pub->topic, sizeof(pub->topic), "%s", topic);
    return onr_envelope_encode(msg, &self, (struct onr_bytes){(const uint8_t *)topic,
                                                              strlen(topic)},
                               onr_service_now(svc), pub->payload, sizeof(pub->payload),
                               &pub->len, id_out);
}

int onr_service_error(struct onr_service *svc, const struct onr_envelope *env, int code,
                      const char *topic, struct onr_publication *pub)
{
    const char *reason = onr_strerror(code);
    struct onr_msg msg = {.type = ONR_MSG_ERROR};

    if (svc->answer != NULL && pub == &svc->answer->reply)
        svc->stored_refusal = code; /* for the counters */
    msg.body.error.re = ONR_BYTES(env->id);
    msg.body.error.code = (uint64_t)(code < 0 ? -code : code);
    msg.body.error.reason = (struct onr_bytes){(const uint8_t *)reason, strlen(reason)};
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

int onr_service_refuse(struct onr_service *svc, const struct onr_envelope *env, int code,
                       const char *topic)
{
    struct onr_publication *pub = &svc->answer->extra[0]; /* scratch: not in handle_once */

    memset(pub, 0, sizeof(*pub));
    if (onr_service_error(svc, env, code, topic, pub) == ONR_OK)
        onr_service_publish(svc, pub);
    return code;
}

static int publish_now(struct onr_service *svc, const char *topic, const uint8_t *payload,
                       size_t len)
{
    int rc = mosquitto_publish_v5(svc->mosq, NULL, topic, (int)len, payload, 1, false, NULL);

    if (rc != MOSQ_ERR_SUCCESS) {
        onr_log(ONR_LOG_WARNING, "not published topic=%s reason=%s", topic,
                mosquitto_strerror(rc));
        return ONR_EIO;
    }
    onr_mqtt_loop_kick(svc->loop);
    return ONR_OK;
}

static void publish_held(void *arg, const char *topic, const uint8_t *payload, size_t len)
{
    publish_now(arg, topic, payload, len);
}

int onr_service_publish(struct onr_service *svc, const struct onr_publication *pub)
{
    if (pub->len == 0)
        return ONR_OK;
    /* while a batch is open nothing may be said before its commit */
    if (batch_is_open(svc->batch))
        return batch_hold(svc->batch, pub->topic, pub->payload, pub->len);
    return publish_now(svc, pub->topic, pub->payload, pub->len);
}

int onr_service_from_device(const char *topic, const struct onr_envelope *env,
                            char dev[ONR_DEVID_LEN + 1])
{
    static const char prefix[] = "onr/1/d/";
    const size_t at = sizeof(prefix) - 1;

    if (strncmp(topic, prefix, at) != 0 || strlen(topic) < at + ONR_DEVID_LEN ||
        topic[at + ONR_DEVID_LEN] != '/')
        return ONR_EDENIED;
    memcpy(dev, topic + at, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    if (onr_devid_check(dev, ONR_DEVID_LEN) != ONR_OK || env->sender_role != ONR_ROLE_DEVICE ||
        env->sender.len != ONR_DEVID_LEN || memcmp(env->sender.ptr, dev, ONR_DEVID_LEN) != 0)
        return ONR_EDENIED;
    return ONR_OK;
}

int onr_service_from_peer(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, const struct onr_peers *peers, enum onr_role role,
                          const struct onr_peer **peer)
{
    const struct onr_peer *p = onr_peer_find(peers, env->sender.ptr, env->sender.len);
    int rc;

    *peer = p;
    if (p == NULL || env->sender_role != role)
        return ONR_EDENIED; /* no key to verify it with */
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 p->key);
    if (rc == ONR_OK)
        rc = onr_service_accept(svc, env);
    return rc == ONR_EREPLAY ? ONR_OK : rc;
}

int onr_service_control_result(struct onr_service *svc, const struct onr_envelope *env,
                               const char *what,
                               int (*confirm)(struct onr_db *db, const void *re))
{
    const struct onr_msg_control_result *r = &env->msg.body.control_result;
    int rc;

    if (env->sender_role != ONR_ROLE_BROKER || r->re.len != ONR_MSG_ID_LEN)
        return ONR_EDENIED;
    if (r->code != 0) {
        onr_log(ONR_LOG_ERROR, "%s refused by the broker code=%s", what,
                onr_error_name(-(int)r->code));
        return ONR_OK; /* stays unconfirmed: resent later */
    }
    rc = onr_db_in_transaction(svc->db, confirm, r->re.ptr);
    if (rc == ONR_ENOENT)
        onr_log(ONR_LOG_INFO, "control result for no %s of ours (an older one)", what);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

void onr_service_down_topic(const char *dev, char *out, size_t cap)
{
    snprintf(out, cap, "onr/1/d/%s/down", dev);
}

/* The outbox key: the sender's role and id, so a service and a device can
 * never share one. */
static size_t sender_key(const struct onr_envelope *env, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%d:%.*s", (int)env->sender_role, (int)env->sender.len,
                     (const char *)env->sender.ptr);

    return n < 0 ? 0 : (size_t)n;
}

int onr_service_handle_once(struct onr_service *svc, const struct onr_envelope *env,
                            const char *topic, onr_service_decide_cb decide, void *arg)
{
    struct onr_answer *a = svc->answer;
    char sender[64];
    struct onr_bytes who;
    int rc;

    who = (struct onr_bytes){(const uint8_t *)sender, sender_key(env, sender, sizeof(sender))};
    rc = onr_db_begin(svc->db);
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_WARNING, "database busy: message left for the peer to retry");
        return rc;
    }
    memset(a, 0, sizeof(*a));
    a->reply.len = sizeof(a->reply.payload);
    rc = onr_db_processed_get(svc->db, who, env->id, a->reply.topic, sizeof(a->reply.topic),
                              a->reply.payload, &a->reply.len);
    if (rc == ONR_OK) {
        /* a duplicate or a retry of the same message: the same answer */
        svc->counters.published.duplicates++;
        onr_db_rollback(svc->db);
        return onr_service_publish(svc, &a->reply);
    }
    memset(a, 0, sizeof(*a));
    if (rc == ONR_ENOENT)
        rc = decide(svc, env, topic, arg, a);
    if (rc == ONR_OK)
        rc = onr_db_processed_put(svc->db, who, env->id, onr_service_now(svc), a->reply.topic,
                                  (struct onr_bytes){a->reply.payload, a->reply.len});
    if (rc == ONR_OK)
        rc = onr_db_commit(svc->db);
    if (rc != ONR_OK) {
        onr_db_rollback(svc->db);
        if (rc != ONR_EBUSY && rc != ONR_EIO)
            return rc;
        onr_log(ONR_LOG_ERROR, "database error=%s: message left for the peer to retry",
                onr_db_errmsg(svc->db));
        return rc;
    }
#ifdef ONR_TEST_HOOKS
    if (svc->die_after_type != 0 && (int)env->msg.type == svc->die_after_type) {
        /* a crash between storing and answering, on purpose */
        if (batch_is_open(svc->batch)) {
            batch_die_after_commit(svc->batch);
        } else {
            onr_log(ONR_LOG_WARNING, "dying after commit (ONR_TEST_DIE_AFTER_COMMIT)");
            raise(SIGKILL);
        }
    }
#endif
    /* durable (in a batch: held until the batch commits): now it may be
     * said. The extras first: a grant must be in
     * force at the broker before the device hears its attach result (the
     * broker handles one client's messages in order). */
    for (size_t i = 0; i < a->n_extra; i++)
        onr_service_publish(svc, &a->extra[i]);
    onr_service_publish(svc, &a->reply);
    return ONR_OK;
}

/* ---- status (SPEC types 30/31) ------------------------------------------------ */

const struct onr_peers *onr_service_controllers(const struct onr_service *svc)
{
    return &svc->controllers;
}

/* A control tool asks what we know of a device: read-only, so answered at
 * once (a duplicate gets the same answer again). Strangers get nothing. */
static int on_status_request(struct onr_service *svc, const struct onr_envelope *env,
                             const char *topic, void *arg)
{
    const struct onr_bytes dev = env->msg.body.status_request.dev;
    struct onr_publication *pub = &svc->answer->extra[0]; /* scratch, as refuse */
    struct onr_msg msg = {.type = ONR_MSG_STATUS};
    struct onr_msg_status *st = &msg.body.status;
    const struct onr_peer *peer = NULL;
    char id[ONR_DEVID_LEN + 1];
    char to[ONR_TOPIC_MAX + 1];
    int rc;

    (void)arg;
    rc = onr_service_from_peer(svc, env, topic, &svc->controllers, ONR_ROLE_CONTROL, &peer);
    if (rc != ONR_OK)
        return rc;
    if (dev.len != ONR_DEVID_LEN || onr_devid_check((const char *)dev.ptr, dev.len) != ONR_OK)
        return ONR_EFORMAT;
    memcpy(id, dev.ptr, dev.len);
    id[dev.len] = '\0';
    rc = svc->def->status(svc, svc->def->arg, id, st);
    if (rc == ONR_ENOENT) {
        memset(st, 0, sizeof(*st));
        st->state = ONR_BYTES_STR("unknown");
    } else if (rc != ONR_OK) {
        return rc;
    }
    st->re = ONR_BYTES(env->id);
    st->dev = dev;
    snprintf(to, sizeof(to), "onr/1/s/ctl/%s/in", peer->id);
    memset(pub, 0, sizeof(*pub));
    rc = onr_service_seal(svc, &msg, to, pub, NULL);
    if (rc != ONR_OK)
        return rc;
    onr_log(ONR_LOG_INFO, "status dev=%s ctl=%s state=%.*s", id, peer->id, (int)st->state.len,
            (const char *)st->state.ptr);
    return onr_service_publish(svc, pub);
}

/* The status route on our inbox, when the service can answer. */
static int status_setup(struct onr_service *svc)
{
    char inbox[ONR_TOPIC_MAX + 1];

    if (svc->def->status == NULL)
        return ONR_OK;
    snprintf(inbox, sizeof(inbox), "onr/1/s/%s/%s/in", svc->def->role, svc->id);
    return onr_service_subscribe(svc, inbox, ONR_MSG_STATUS_REQUEST, on_status_request, NULL);
}

/* Counters from now; published every stats_interval seconds (0: never). */
static int counters_setup(struct onr_service *svc)
{
    uint64_t interval = 0;

    if (onr_config_get_uint(svc->cfg, "stats_interval", 10, 0, 3600, &interval) != ONR_OK) {
        fprintf(stderr, "%s: stats_interval: seconds in 0..3600\n", svc->def->name);
        return ONR_EINVAL;
    }
    svc->counters.started = time(NULL);
    return interval == 0 ? ONR_OK
                         : onr_service_every(svc, (unsigned)interval, publish_counters, NULL);
}

/* ---- signals and the run ---------------------------------------------------- */

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct onr_service *svc = arg;

    (void)what;
    onr_log(ONR_LOG_NOTICE, "stopping signal=%d", (int)sig);
    event_base_loopbreak(svc->base);
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
    struct onr_service *svc = arg;
    static struct onr_peers controllers; /* large: not on the stack */
    struct onr_config *cfg = NULL;
    struct onr_config *old;

    (void)sig;
    (void)what;
    if (load_config(svc, &cfg) != ONR_OK) {
        onr_log(ONR_LOG_ERROR, "reload refused: configuration kept as it was");
        return;
    }
    old = svc->cfg;
    svc->cfg = cfg;
    controllers = svc->controllers;
    if (apply_log_level(svc) != ONR_OK ||
        onr_peers_load(cfg, svc->def->name, "controller", 0, &svc->controllers) != ONR_OK ||
        (svc->def->reload != NULL && svc->def->reload(svc, svc->def->arg) != ONR_OK)) {
        svc->cfg = old;
        svc->controllers = controllers;
        onr_config_free(cfg);
        apply_log_level(svc);
        onr_log(ONR_LOG_ERROR, "reload refused: configuration kept as it was");
        return;
    }
    onr_config_free(old);
    onr_log(ONR_LOG_NOTICE, "reloaded config=%s", svc->config_path);
}

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
    struct onr_service *svc = arg;
    uint64_t now = onr_service_now(svc);

    (void)fd;
    (void)what;
    if (onr_db_processed_prune(svc->db, now > OUTBOX_KEEP ? now - OUTBOX_KEEP : 0) != ONR_OK)
        onr_log(ONR_LOG_WARNING, "outbox prune failed error=%s", onr_db_errmsg(svc->db));
}

static int events_setup(struct onr_service *svc)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    const struct timeval hourly = {3600, 0};

    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        svc->signals[i] = evsignal_new(svc->base, sigs[i],
                                       sigs[i] == SIGHUP ? on_reload_signal : on_stop_signal,
                                       svc);
        if (svc->signals[i] == NULL || event_add(svc->signals[i], NULL) != 0)
            return ONR_ENOMEM;
    }
    svc->prune_ev = event_new(svc->base, -1, EV_PERSIST, on_prune, svc);
    if (svc->prune_ev == NULL || event_add(svc->prune_ev, &hourly) != 0)
        return ONR_ENOMEM;
    return ONR_OK;
}

static void service_free(struct onr_service *svc)
{
    batch_free(svc->batch); /* what is open is committed and said */
    svc->batch = NULL;
    if (svc->def->stop != NULL && svc->db != NULL)
        svc->def->stop(svc, svc->def->arg);
    if (svc->mosq != NULL && svc->connected) {
        mosquitto_disconnect_v5(svc->mosq, 0, NULL);
        mosquitto_loop_write(svc->mosq, 1);
    }
    onr_mqtt_loop_free(svc->loop);
    if (svc->mosq != NULL)
        mosquitto_destroy(svc->mosq);
    for (int i = 0; i < 3; i++)
        if (svc->signals[i] != NULL)
            event_free(svc->signals[i]);
    for (size_t i = 0; i < svc->n_ticks; i++)
        event_free(svc->ticks[i].ev);
    if (svc->reconnect_ev != NULL)
        event_free(svc->reconnect_ev);
    if (svc->prune_ev != NULL)
        event_free(svc->prune_ev);
    if (svc->base != NULL)
        event_base_free(svc->base);
    onr_replay_free(svc->replay);
    onr_p256_free(svc->signing_key);
    onr_db_close(svc->db);
    onr_config_free(svc->cfg);
    free(svc->answer);
}

static int parse_args(struct onr_service *svc, int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"option", required_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    static char level_override[64];
    int opt;

    while ((opt = getopt_long(argc, argv, "c:o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': svc->config_path = optarg; break;
        case 'o':
        case 'l':
            if (svc->n_overrides == MAX_OVERRIDES)
                return 2;
            if (opt == 'l') {
                snprintf(level_override, sizeof(level_override), "log_level=%s", optarg);
                svc->overrides[svc->n_overrides++] = level_override;
            } else {
                svc->overrides[svc->n_overrides++] = optarg;
            }
            break;
        case 'h': fputs(svc->def->usage, stdout); return 0;
        case 'V': printf("onramp-%s %s\n", svc->def->name, ONR_VERSION_STRING); return 0;
        default: fputs(svc->def->usage, stderr); return 2;
        }
    }
    if (svc->config_path == NULL || optind != argc) {
        fputs(svc->def->usage, stderr);
        return 2;
    }
    return -1; /* go on */
}

int onr_service_main(const struct onr_service_def *def, int argc, char **argv)
{
    struct onr_service svc;
    int status = 1;
    int rc;

    memset(&svc, 0, sizeof(svc));
    svc.def = def;
    rc = parse_args(&svc, argc, argv);
    if (rc >= 0)
        return rc;
    onr_log_init(def->name, ONR_LOG_NOTICE, 2);
#ifdef ONR_TEST_HOOKS
    /* Tests only: die by SIGKILL right after committing the first message
     * of this type, before answering it (what a crash there leaves). */
    if (getenv("ONR_TEST_DIE_AFTER_COMMIT") != NULL)
        svc.die_after_type = atoi(getenv("ONR_TEST_DIE_AFTER_COMMIT"));
#endif
    mosquitto_lib_init();
    svc.answer = calloc(1, sizeof(*svc.answer));
    svc.base = event_base_new();
    if (svc.answer == NULL || svc.base == NULL)
        goto out;
    if (load_config(&svc, &svc.cfg) != ONR_OK || load_state(&svc) != ONR_OK ||
        batch_new(svc.base, svc.db, publish_held, &svc, &svc.batch) != ONR_OK)
        goto out;
    rc = def->start(&svc, def->arg);
    if (rc == ONR_OK)
        rc = counters_setup(&svc);
    if (rc == ONR_OK)
        rc = status_setup(&svc);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-%s: cannot start: %s\n", def->name, onr_strerror(rc));
        goto out;
    }
    if (events_setup(&svc) != ONR_OK || mqtt_setup(&svc) != ONR_OK)
        goto out;
    onr_log(ONR_LOG_NOTICE, "started id=%s version=%s", svc.id, ONR_VERSION_STRING);
    event_base_dispatch(svc.base);
    onr_log(ONR_LOG_NOTICE, "stopped id=%s", svc.id);
    status = 0;
out:
    service_free(&svc);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}
