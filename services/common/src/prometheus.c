/*
 * The service's own GET /metrics (README, "Metrics"): off unless
 * metrics_listen is set, on loopback unless metrics_public yes, served on
 * the service's loop by <onramp/metrics_http.h>. What it serves is what
 * the skeleton counts for service_stats (counters.c): one source for
 * both. A scrape reads memory only: what awaits confirmation is read from
 * the database by the counters' tick (every stats_interval seconds), so
 * however large that table grows and however often Prometheus asks, a
 * scrape costs the loop no database read. Those gauges are the database's,
 * which several instances of the service share: each reports the same
 * value, and Prometheus rules take their max by service (the example
 * rules do), where each instance's counters are summed.
 */
#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "onramp/metrics_http.h"
#include "onramp/version.h"
#include "service_internal.h"

static const char *const refusal_names[SVC_REFUSALS] = {
    [SVC_REFUSED_AUTH] = "auth",
    [SVC_REFUSED_STALE] = "stale",
    [SVC_REFUSED_INPUT] = "input",
    [SVC_REFUSED_POLICY] = "policy",
};

/* `type` has a route here (so its series exists before the first one). */
static int routed(const struct onr_service *svc, int type)
{
    for (size_t i = 0; i < svc->n_routes; i++)
        if (svc->routes[i].raw == NULL && svc->routes[i].type == type)
            return 1;
    return 0;
}

static void messages(struct onr_metrics *m, const struct onr_service *svc)
{
    const struct svc_counters *k = &svc->counters;
    struct onr_metric_label l = {"type", NULL};

    onr_metrics_family(m, "onramp_messages_handled_total", ONR_METRIC_COUNTER,
                       "Messages handled (state changed or answered, duplicates included), by "
                       "type.");
    for (int t = 1; t < SVC_MSG_TYPES; t++) {
        l.value = onr_msg_type_name(t);
        if (l.value != NULL && (k->handled[t] > 0 || routed(svc, t)))
            onr_metrics_counter(m, &l, 1, k->handled[t]);
    }
    if (k->handled[0] > 0) {
        l.value = "other";
        onr_metrics_counter(m, &l, 1, k->handled[0]);
    }
    onr_metrics_family(m, "onramp_messages_duplicates_total", ONR_METRIC_COUNTER,
                       "Messages answered again from the outbox.");
    onr_metrics_counter(m, NULL, 0, k->duplicates);
    onr_metrics_family(m, "onramp_messages_refused_total", ONR_METRIC_COUNTER,
                       "Messages refused, by kind: auth, stale, input, policy.");
    for (size_t i = 0; i < SVC_REFUSALS; i++)
        onr_metrics_counter(m, &(struct onr_metric_label){"kind", refusal_names[i]}, 1,
                            k->refused[i]);
    onr_metrics_family(m, "onramp_messages_busy_total", ONR_METRIC_COUNTER,
                       "Messages left for their sender to retry (database busy).");
    onr_metrics_counter(m, NULL, 0, k->busy);
    onr_metrics_family(m, "onramp_message_handling_seconds", ONR_METRIC_HISTOGRAM,
                       "Time to handle a message, decode to answer.");
    onr_metrics_histogram(m, NULL, 0, &k->handling);
}

/* What awaits confirmation, as the counters' tick last read it. */
static void pending(struct onr_metrics *m, const struct onr_service *svc)
{
    const struct svc_counters *k = &svc->counters;

    onr_metrics_family(m, "onramp_pending_confirmations", ONR_METRIC_GAUGE,
                       "The service's messages awaiting their peer's confirmation, by kind "
                       "(from the database its instances share: aggregate with max).");
    for (size_t i = 0; i < k->n_pending; i++)
        onr_metrics_gauge(m, &(struct onr_metric_label){"kind", k->pending[i].kind}, 1,
                          (double)k->pending[i].count);
    onr_metrics_family(m, "onramp_pending_oldest_age_seconds", ONR_METRIC_GAUGE,
                       "How long the oldest of them has waited (0 when none), by kind (shared: "
                       "aggregate with max).");
    for (size_t i = 0; i < k->n_pending; i++)
        onr_metrics_gauge(m, &(struct onr_metric_label){"kind", k->pending[i].kind}, 1,
                          (double)k->pending[i].oldest_age);
    onr_metrics_family(m, "onramp_pending_refused_total", ONR_METRIC_COUNTER,
                       "Refusals of its messages by their peers.");
    onr_metrics_counter(m, NULL, 0, svc->delivery.refused);
}

/* The service's own counters (a provider's certificates), as the
 * counters' tick last read them. */
static void own(struct onr_metrics *m, const struct onr_service *svc)
{
    const struct svc_counters *k = &svc->counters;

    if (svc->def->stats == NULL)
        return;
    onr_metrics_family(m, "onramp_certificates_renewed_total", ONR_METRIC_COUNTER,
                       "Service certificates issued for devices' renew requests.");
    onr_metrics_counter(m, NULL, 0, k->own.renewals);
    onr_metrics_family(m, "onramp_certificates_expiring", ONR_METRIC_GAUGE,
                       "Devices' current service certificates expiring within a week (shared: "
                       "aggregate with max).");
    onr_metrics_gauge(m, NULL, 0, (double)k->own.certs_expiring);
}

int svc_metrics_collect(struct onr_metrics *m, void *arg)
{
    const struct onr_service *svc = arg;
    const struct onr_metric_label info[] = {
        {"service", svc->id}, {"role", svc->def->name}, {"version", ONR_VERSION_STRING}};

    messages(m, svc);
    pending(m, svc);
    own(m, svc);
    onr_metrics_family(m, "onramp_db_commit_seconds", ONR_METRIC_HISTOGRAM,
                       "Time of each database commit (one per burst of messages).");
    onr_metrics_histogram(m, NULL, 0, &svc->counters.commits);
    onr_metrics_family(m, "onramp_service_connected", ONR_METRIC_GAUGE,
                       "1 while connected to the broker at endpoint, else 0.");
    for (size_t i = 0; i < svc->n_brokers; i++)
        onr_metrics_gauge(m, &(struct onr_metric_label){"endpoint", svc->brokers[i].endpoint},
                          1, svc->brokers[i].connected ? 1 : 0);
    onr_metrics_family(m, "onramp_process_start_time_seconds", ONR_METRIC_GAUGE,
                       "When the service started, Unix time.");
    onr_metrics_gauge(m, NULL, 0, (double)svc->counters.started);
    onr_metrics_family(m, "onramp_service_info", ONR_METRIC_GAUGE,
                       "1, with the service's id, role and Onramp's version.");
    onr_metrics_gauge(m, info, sizeof(info) / sizeof(info[0]), 1);
    return onr_metrics_status(m);
}

/* ---- start and stop ------------------------------------------------------------ */

int svc_metrics_start(struct onr_service *svc)
{
    const char *listen = onr_config_get(svc->cfg, "metrics_listen");
    const char *public = onr_config_get(svc->cfg, "metrics_public");
    const char *name = svc->def->name;
    int rc;

    if (public != NULL && strcmp(public, "yes") != 0 && strcmp(public, "no") != 0) {
        fprintf(stderr, "onramp-%s: metrics_public: yes or no\n", name);
        return ONR_EINVAL;
    }
    if (listen == NULL)
        return ONR_OK; /* no metrics */
    rc = onr_metrics_server_start(svc->base, listen, public != NULL && strcmp(public, "yes") == 0,
                                  svc_metrics_collect, svc, &svc->metrics);
    if (rc == ONR_EINVAL)
        fprintf(stderr, "onramp-%s: metrics_listen %s: want HOST:PORT (HOST an IP address or "
                        "localhost) or PORT\n", name, listen);
    else if (rc == ONR_EDENIED)
        fprintf(stderr, "onramp-%s: metrics_listen %s: not a loopback address. /metrics has no "
                        "login: it listens on loopback only, unless 'metrics_public yes' is set "
                        "too (then keep it behind a firewall)\n", name, listen);
    else if (rc == ONR_EIO)
        fprintf(stderr, "onramp-%s: metrics_listen %s: cannot listen there (in use, or not an "
                        "address of this machine)\n", name, listen);
    else if (rc != ONR_OK)
        fprintf(stderr, "onramp-%s: metrics_listen: %s\n", name, onr_strerror(rc));
    else
        onr_log(ONR_LOG_NOTICE, "metrics listening url=%s public=%s",
                onr_metrics_server_url(svc->metrics),
                public != NULL && strcmp(public, "yes") == 0 ? "yes" : "no");
    return rc;
}

void svc_metrics_stop(struct onr_service *svc)
{
    onr_metrics_server_stop(svc->metrics);
    svc->metrics = NULL;
}
