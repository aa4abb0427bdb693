/*
 * Dispatch: each message the broker delivers goes to the route its topic
 * and type match, after a bounded decode (a raw route gets the payload as
 * it came); what the handler returned is counted, and a refusal it did not
 * explain itself is logged here. Also the routes' registration and the
 * services' periodic ticks.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"
#include "service_internal.h"

int svc_add_route(struct onr_service *svc, const char *filter, int subscribe, int type,
                  onr_service_handler_cb cb, onr_service_raw_cb raw, void *arg)
{
    struct svc_route *r;
    int dup = 0;

    if (svc == NULL || filter == NULL || (cb == NULL) == (raw == NULL) ||
        strlen(filter) > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    if (svc->n_routes == SVC_MAX_ROUTES)
        return ONR_ENOMEM;
    /* one SUBSCRIBE per filter, however many types arrive there */
    for (size_t i = 0; i < svc->n_routes; i++)
        if (svc->routes[i].subscribe && strcmp(svc->routes[i].filter, filter) == 0)
            dup = 1;
    r = &svc->routes[svc->n_routes++];
    snprintf(r->filter, sizeof(r->filter), "%s", filter);
    r->subscribe = dup ? 0 : subscribe;
    r->type = type;
    r->cb = cb;
    r->raw = raw;
    r->arg = arg;
    if (r->subscribe)
        svc->n_subscribed++;
    return ONR_OK;
}

int onr_service_subscribe(struct onr_service *svc, const char *filter, int type,
                          onr_service_handler_cb cb, void *arg)
{
    return svc_add_route(svc, filter, SVC_SUBSCRIBE_SHARED, type, cb, NULL, arg);
}

int onr_service_route(struct onr_service *svc, const char *filter, int type,
                      onr_service_handler_cb cb, void *arg)
{
    return svc_add_route(svc, filter, 0, type, cb, NULL, arg);
}

int onr_service_subscribe_raw(struct onr_service *svc, const char *filter, onr_service_raw_cb cb,
                              void *arg)
{
    return svc_add_route(svc, filter, SVC_SUBSCRIBE_SHARED, 0, NULL, cb, arg);
}

int svc_subscription_qos(const char *filter)
{
    static const char requests[] = "onr/1/d/+/up/";

    return strncmp(filter, requests, sizeof(requests) - 1) == 0 ? 0 : 1;
}

static int matches(const struct svc_route *r, const char *topic)
{
    bool matched = false;

    return mosquitto_topic_matches_sub(r->filter, topic, &matched) == MOSQ_ERR_SUCCESS &&
           matched;
}

static const char *safe_topic(const char *topic, char *buf, size_t cap)
{
    return onr_text_escape(topic, strlen(topic), buf, cap);
}

/* A raw route for `topic`, if one matches: it gets the payload as is.
 * Returns 1 if one did. */
static int dispatch_raw(struct onr_service *svc, const char *topic, const uint8_t *payload,
                        size_t len)
{
    char safe[160];
    int rc;

    for (size_t i = 0; i < svc->n_routes; i++) {
        if (svc->routes[i].raw == NULL || !matches(&svc->routes[i], topic))
            continue;
        rc = svc->routes[i].raw(svc, topic, payload, len, svc->routes[i].arg);
        if (rc != ONR_OK)
            onr_service_log_refusal(svc, "refused topic=%s reason=%s",
                                    safe_topic(topic, safe, sizeof(safe)), onr_error_name(rc));
        return 1;
    }
    return 0;
}

static void dispatch(struct onr_service *svc, const char *topic, const uint8_t *payload,
                     size_t len)
{
    struct timespec t0;
    char safe[160];
    struct onr_envelope env;
    int rc;

    if (dispatch_raw(svc, topic, payload, len))
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = onr_envelope_decode(payload, len, &env);
    if (rc != ONR_OK) {
        svc_count(svc, 0, rc, &t0);
        onr_service_log_refusal(svc, "refused topic=%s reason=%s",
                                safe_topic(topic, safe, sizeof(safe)), onr_error_name(rc));
        return;
    }
    for (size_t i = 0; i < svc->n_routes; i++) {
        const struct svc_route *r = &svc->routes[i];

        if (r->raw != NULL || (int)env.msg.type != r->type || !matches(r, topic))
            continue;
        svc->outcome = 0;
        rc = r->cb(svc, &env, topic, r->arg);
        /* a refusal stored as the answer (the handler logged it) counts
         * as the refusal it is */
        svc_count(svc, (int)env.msg.type, rc == ONR_OK && svc->outcome != 0 ? svc->outcome : rc,
                  &t0);
        if (rc != ONR_OK)
            onr_service_log_refusal(svc, "refused type=%s topic=%s reason=%s",
                                    onr_msg_type_name((int)env.msg.type),
                                    safe_topic(topic, safe, sizeof(safe)), onr_error_name(rc));
        return;
    }
    svc_count(svc, (int)env.msg.type, ONR_EMSGTYPE, &t0);
    onr_service_log_refusal(svc, "refused type=%s topic=%s reason=unexpected",
                            onr_msg_type_name((int)env.msg.type),
                            safe_topic(topic, safe, sizeof(safe)));
}

void svc_on_message(struct onr_service *svc, size_t via, const char *topic,
                    const uint8_t *payload, size_t len)
{
    /* on failure the message gets a transaction of its own */
    if (svc->batch != NULL)
        batch_join(svc->batch);
    /* what the handler says goes back the way the message came */
    svc->via = (int)via;
    svc->via_topic = topic;
    svc->may_wait = 0;
    dispatch(svc, topic, payload, len);
    if (svc->may_wait)
        batch_may_wait(svc->batch);
    svc->via = -1;
    svc->via_topic = NULL;
}

/* ---- ticks ---------------------------------------------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct svc_tick *t = arg;

    (void)fd;
    (void)what;
    t->cb(t->svc, t->arg);
}

int onr_service_every(struct onr_service *svc, unsigned seconds, onr_service_tick_cb cb,
                      void *arg)
{
    const struct timeval tv = {(time_t)seconds, 0};
    struct svc_tick *t;

    if (svc == NULL || cb == NULL || seconds == 0)
        return ONR_EINVAL;
    if (svc->n_ticks == SVC_MAX_TICKS)
        return ONR_ENOMEM;
    t = &svc->ticks[svc->n_ticks];
    *t = (struct svc_tick){svc, NULL, cb, arg};
    t->ev = event_new(svc->base, -1, EV_PERSIST, on_tick, t);
    if (t->ev == NULL || event_add(t->ev, &tv) != 0) {
        if (t->ev != NULL)
            event_free(t->ev);
        return ONR_ENOMEM;
    }
    svc->n_ticks++;
    return ONR_OK;
}

void svc_free_ticks(struct onr_service *svc)
{
    for (size_t i = 0; i < svc->n_ticks; i++)
        event_free(svc->ticks[i].ev);
    svc->n_ticks = 0;
}
