/*
 * Rates: one token bucket for new connections across the broker, one per
 * device connection for its messages; and the kicks of flooding devices,
 * queued and done on the tick (not inside the ACL callback that noticed).
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kick {
    struct kick *next;
    char id[ONR_DEVID_LEN + 1];
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

void limits_rate_denied(struct plugin *p, struct conn *c)
{
    struct kick *k;

    c->rate_denials++;
    if (p->cfg.flood_kick == 0 || c->rate_denials < p->cfg.flood_kick || c->kick_queued)
        return;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return; /* the next denial tries again */
    strcpy(k->id, c->id);
    k->next = p->kicks;
    p->kicks = k;
    c->kick_queued = true;
}

void limits_kick_pending(struct plugin *p)
{
    while (p->kicks != NULL) {
        struct kick *k = p->kicks;

        p->kicks = k->next;
        plugin_log(MOSQ_LOG_NOTICE, "onramp: disconnecting device %s: flooding", k->id);
        mosquitto_kick_client_by_clientid(k->id, false);
        p->stats.kicked++;
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
