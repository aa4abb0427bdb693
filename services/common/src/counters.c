/*
 * What a service counts (SPEC type 32, published on its ev topic every
 * stats_interval seconds; the same on GET /metrics, prometheus.c):
 * messages handled by type, duplicates, refusals by kind, busy, handling
 * time and database commit time as histograms, and its messages awaiting
 * confirmation. And the refusal log: at most REFUSAL_LOG_MAX notice lines
 * per window, so a flood is counted rather than written out line by line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "service_internal.h"

#define REFUSAL_LOG_WINDOW 10 /* seconds */
#define REFUSAL_LOG_MAX 10    /* refusal lines per window; the rest are counted */
#define METRICS_REFRESH 10    /* seconds between reads of what is pending for /metrics
                                 alone (stats_interval 0) */

/* Histogram bounds, seconds: a message is handled in well under a
 * millisecond unless it verifies a new key or waits for the disk; a
 * commit is an fsync. */
static const double handling_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   1};
static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1,    2.5};

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
static enum svc_refusal refusal_kind(int rc)
{
    switch (rc) {
    case ONR_EBADSIG: case ONR_EBADMAC: case ONR_EBADKEY: case ONR_EAUTH:
    case ONR_EAUTHKIND: case ONR_EDECRYPT: case ONR_ECHAIN:
        return SVC_REFUSED_AUTH;
    case ONR_ESTALE: case ONR_EREPLAY: case ONR_EREPLAYFULL:
        return SVC_REFUSED_STALE;
    case ONR_EDENIED: case ONR_ENOENT: case ONR_EEXIST: case ONR_EEXHAUSTED:
    case ONR_EEXPIRED: case ONR_EPERM:
        return SVC_REFUSED_POLICY;
    default:
        return SVC_REFUSED_INPUT;
    }
}

/* Seconds since `t0` (CLOCK_MONOTONIC), and in *us. */
static double since(const struct timespec *t0, uint64_t *us)
{
    struct timespec t1;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000000 + (t1.tv_nsec - t0->tv_nsec);
    if (ns < 0)
        ns = 0;
    if (us != NULL)
        *us = (uint64_t)ns / 1000;
    return (double)ns / 1e9;
}

void svc_count(struct onr_service *svc, int type, int rc, const struct timespec *t0)
{
    struct svc_counters *k = &svc->counters;
    uint64_t us = 0;

    onr_histogram_observe(&k->handling, since(t0, &us));
    if (us > k->latency_max_us)
        k->latency_max_us = us;
    if (rc == ONR_OK)
        k->handled[type > 0 && type < SVC_MSG_TYPES ? type : 0]++;
    else if (rc == ONR_EBUSY || rc == ONR_EIO)
        k->busy++;
    else
        k->refused[refusal_kind(rc)]++;
}

int svc_commit(struct onr_service *svc)
{
    /* a burst's commit closes the batch first; inside one, a savepoint's */
    int durable = !batch_is_open(svc->batch);
    struct timespec t0;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = onr_db_commit(svc->db);
    if (rc == ONR_OK && durable)
        onr_histogram_observe(&svc->counters.commits, since(&t0, NULL));
    return rc;
}

void svc_counters_refresh(struct onr_service *svc)
{
    struct svc_counters *k = &svc->counters;
    struct svc_pending_count per_kind[SVC_PENDING_COUNTS];
    struct svc_pending_count total;
    size_t n = 0;

    if (svc_delivery_counts(svc, per_kind, &n, &total) != ONR_OK) {
        onr_log(ONR_LOG_WARNING, "pending messages not counted error=%s",
                onr_db_errmsg(svc->db));
        return;
    }
    memcpy(k->pending, per_kind, n * sizeof(per_kind[0]));
    k->n_pending = n;
    k->pending_total = total;
    /* the service's own counters (the provider's certificates), read on
     * the tick too */
    if (svc->def->stats != NULL)
        svc->def->stats(svc, svc->def->arg, &k->own);
}

void svc_counters_stats(const struct onr_service *svc, struct onr_msg_service_stats *out)
{
    const struct svc_counters *k = &svc->counters;

    memset(out, 0, sizeof(*out));
    out->uptime = (uint64_t)(time(NULL) - k->started);
    for (size_t i = 0; i < SVC_MSG_TYPES; i++)
        out->handled += k->handled[i];
    out->duplicates = k->duplicates;
    out->refused_auth = k->refused[SVC_REFUSED_AUTH];
    out->refused_stale = k->refused[SVC_REFUSED_STALE];
    out->refused_input = k->refused[SVC_REFUSED_INPUT];
    out->refused_policy = k->refused[SVC_REFUSED_POLICY];
    for (size_t i = 0; i < SVC_REFUSALS; i++)
        out->refused += k->refused[i];
    out->busy = k->busy;
    out->latency_avg_us =
        k->handling.count > 0 ? (uint64_t)(k->handling.sum * 1e6 / (double)k->handling.count)
                              : 0;
    out->latency_max_us = k->latency_max_us;
    out->pending = k->pending_total.count;
    out->pending_age = k->pending_total.oldest_age;
    out->pending_refused = svc->delivery.refused;
    out->renewals = k->own.renewals;
    out->certs_expiring = k->own.certs_expiring;
}

/* The counters' tick: what is pending read again, and, unless
 * stats_interval is 0 (the tick then runs for /metrics alone), the
 * counters on our ev topic (SPEC type 32). */
static void on_counters_tick(struct onr_service *svc, void *arg)
{
    struct onr_msg msg = {.type = ONR_MSG_SERVICE_STATS};
    struct onr_publication pub;
    char topic[ONR_TOPIC_MAX + 1];

    (void)arg;
    svc_refusal_log_roll(svc, time(NULL)); /* a flood's count, once it is over */
    svc_counters_refresh(svc);
    if (!svc_any_connected(svc) || svc->counters.publish == 0)
        return;
    svc_counters_stats(svc, &msg.body.service_stats);
    memset(&pub, 0, sizeof(pub));
    pub.brokers = svc_all_brokers(svc); /* a monitor may watch any of them */
    if (onr_topic_ev(svc->def->sender_role, svc->id, topic, sizeof(topic)) == ONR_OK &&
        onr_service_seal(svc, &msg, topic, &pub, NULL) == ONR_OK)
        onr_service_publish(svc, &pub);
}

int svc_counters_setup(struct onr_service *svc)
{
    uint64_t interval = 0;

    svc->counters.started = time(NULL);
    /* fixed, valid bounds: these cannot fail */
    onr_histogram_init(&svc->counters.handling, handling_bounds,
                       sizeof(handling_bounds) / sizeof(handling_bounds[0]));
    onr_histogram_init(&svc->counters.commits, commit_bounds,
                       sizeof(commit_bounds) / sizeof(commit_bounds[0]));
    if (onr_config_get_uint(svc->cfg, "stats_interval", 10, 0, 3600, &interval) != ONR_OK) {
        fprintf(stderr, "%s: stats_interval: seconds in 0..3600\n", svc->def->name);
        return ONR_EINVAL;
    }
    svc->counters.publish = interval > 0;
    if (interval == 0 && onr_config_get(svc->cfg, "metrics_listen") == NULL)
        return ONR_OK; /* nobody reads what is pending */
    return onr_service_every(svc, interval > 0 ? (unsigned)interval : METRICS_REFRESH,
                             on_counters_tick, NULL);
}
