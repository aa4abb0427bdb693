/*
 * Rates: one token bucket for new connections across the broker, one per
 * device connection for its messages; and kicks (flooding devices,
 * operational devices whose certificate was revoked), queued and done on
 * the tick, not inside the callback that noticed.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kick {
    struct kick *next;
    const struct mosquitto *handle; /* the connection meant */
    char id[ONR_DEVID_LEN + 1];     /* its client id */
    const char *why;                /* static */
};

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now)
{
    if (b->last_ns != 0 && now > b->last_ns)
        b->tokens += (double)(now - b->last_ns) / 1e9 * rate;
    b->last_ns = now;
    if (b->tokens > burst)
        b->tokens = burst;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

bool limits_connect_allowed(struct plugin *p)
{
    double rate = p->cfg.max_connects_per_sec;

    if (rate == 0)
        return true;
    if (p->connects.last_ns == 0)
        p->connects.tokens = rate;
    return bucket_take(&p->connects, rate, rate, now_ns());
}

bool limits_device_message(struct plugin *p, struct conn *c)
{
    return bucket_take(&c->rate, p->cfg.device_rate, p->cfg.device_burst, now_ns());
}

void limits_kick_queue(struct plugin *p, struct conn *c, const char *why)
{
    struct kick *k;

    if (c->kick_queued || !conns_is_device(c->kind))
        return;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return; /* a flood's next denial tries again; a revoked one is denied everything */
    k->handle = c->handle;
    strcpy(k->id, c->id);
    k->why = why;
    k->next = p->kicks;
    p->kicks = k;
    c->kick_queued = true;
}

void limits_rate_denied(struct plugin *p, struct conn *c)
{
    c->rate_denials++;
    if (p->cfg.flood_kick == 0 || c->rate_denials < p->cfg.flood_kick)
        return;
    limits_kick_queue(p, c, "flooding");
}

void limits_kick_pending(struct plugin *p)
{
    while (p->kicks != NULL) {
        struct kick *k = p->kicks;
        const struct conn *c = conns_get(p, k->handle);

        p->kicks = k->next;
        /* Kicks go by client id: only if the connection meant still holds
         * it (a device's record goes when it disconnects, and a new
         * connection gets a new record). */
        if (c != NULL && c->online && c->kick_queued && strcmp(c->id, k->id) == 0) {
            plugin_log(MOSQ_LOG_NOTICE, "onramp: disconnecting device %s: %s", k->id, k->why);
            mosquitto_kick_client_by_clientid(k->id, false);
            p->stats.kicked++;
        }
        free(k);
    }
}

void limits_free(struct plugin *p)
{
    while (p->kicks != NULL) {
        struct kick *k = p->kicks;

        p->kicks = k->next;
        free(k);
    }
}
