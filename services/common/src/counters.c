/*
 * What a service counts (SPEC type 32, published on its ev topic every
 * stats_interval seconds): messages handled, duplicates, refusals by kind,
 * busy, handling time, and its messages awaiting confirmation. And the
 * refusal log: at most REFUSAL_LOG_MAX notice lines per window, so a flood
 * is counted rather than written out line by line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "service_internal.h"

#define REFUSAL_LOG_WINDOW 10 /* seconds */
#define REFUSAL_LOG_MAX 10    /* refusal lines per window; the rest are counted */

/* Once the refusal window is over: say how many refusals it left
 * unwritten, and start a new one. */
void svc_refusal_log_roll(struct onr_service *svc, time_t now)
{
    struct svc_refusal_log *l = &svc->refusal_log;

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
    struct svc_refusal_log *l = &svc->refusal_log;
    char line[512];
    va_list ap;

    svc_refusal_log_roll(svc, time(NULL));
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

/* Which kind of refusal `rc` is. */
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

void svc_count(struct onr_service *svc, int rc, const struct timespec *t0)
{
    struct svc_counters *k = &svc->counters;
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
    struct svc_counters *k = &svc->counters;
    struct onr_msg msg = {.type = ONR_MSG_SERVICE_STATS};
    struct onr_publication pub;
    char topic[ONR_TOPIC_MAX + 1];

    (void)arg;
    svc_refusal_log_roll(svc, time(NULL)); /* a flood's count, once it is over */
    if (!svc_any_connected(svc))
        return;
    k->published.uptime = (uint64_t)(time(NULL) - k->started);
    k->published.latency_avg_us = k->latency_n ? k->latency_sum_us / k->latency_n : 0;
    k->published.pending_refused = svc->delivery.refused;
    if (svc_delivery_counts(svc, &k->published.pending, &k->published.pending_age) != ONR_OK)
        onr_log(ONR_LOG_WARNING, "pending messages not counted error=%s",
                onr_db_errmsg(svc->db));
    msg.body.service_stats = k->published;
    memset(&pub, 0, sizeof(pub));
    pub.brokers = svc_all_brokers(svc); /* a monitor may watch any of them */
    if (onr_topic_ev(svc->def->sender_role, svc->id, topic, sizeof(topic)) == ONR_OK &&
        onr_service_seal(svc, &msg, topic, &pub, NULL) == ONR_OK)
        onr_service_publish(svc, &pub);
}

int svc_counters_setup(struct onr_service *svc)
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
