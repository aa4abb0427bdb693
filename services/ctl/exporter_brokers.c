/*
 * The brokers' counters as onrampctl exporter keeps them, and as
 * Prometheus metrics (see exporter.h). Every counter field F of
 * broker_stats becomes onramp_broker_F_total; uptime, devices and services
 * are gauges.
 */
#include "exporter.h"

#include <stdio.h>
#include <string.h>

#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/hex.h"
#include "onramp/topic.h"

struct field_metric {
    const char *key; /* the broker_stats field */
    const char *name;
    enum onr_metric_type type;
    const char *help;
};

static const struct field_metric metrics[] = {
    {"uptime", "onramp_broker_uptime_seconds", ONR_METRIC_GAUGE,
     "Seconds since the broker's onramp plugin started."},
    {"connects", "onramp_broker_connects_total", ONR_METRIC_COUNTER, "Clients admitted."},
    {"refused", "onramp_broker_refused_total", ONR_METRIC_COUNTER,
     "Connections refused, all reasons."},
    {"pop_malformed", "onramp_broker_pop_malformed_total", ONR_METRIC_COUNTER,
     "Device proofs of possession of the wrong length or version."},
    {"pop_wrong_id", "onramp_broker_pop_wrong_id_total", ONR_METRIC_COUNTER,
     "Device connections whose client id was not the proving key's device id."},
    {"pop_bad_sig", "onramp_broker_pop_bad_sig_total", ONR_METRIC_COUNTER,
     "Device proofs whose signature did not verify."},
    {"pop_stale", "onramp_broker_pop_stale_total", ONR_METRIC_COUNTER,
     "Device proofs outside the freshness window."},
    {"pop_replayed", "onramp_broker_pop_replayed_total", ONR_METRIC_COUNTER,
     "Device proofs seen before."},
    {"no_credentials", "onramp_broker_no_credentials_total", ONR_METRIC_COUNTER,
     "Connections with neither a proof nor a services certificate."},
    {"bad_cert", "onramp_broker_bad_cert_total", ONR_METRIC_COUNTER,
     "Connections with a certificate from none of the plugin's CAs, no role, or revoked."},
    {"connect_rate", "onramp_broker_connect_rate_total", ONR_METRIC_COUNTER,
     "Connections refused by the connection rate limit."},
    {"denied_publish", "onramp_broker_denied_publish_total", ONR_METRIC_COUNTER,
     "Publications refused by the confinement."},
    {"denied_subscribe", "onramp_broker_denied_subscribe_total", ONR_METRIC_COUNTER,
     "Subscriptions refused by the confinement."},
    {"denied_read", "onramp_broker_denied_read_total", ONR_METRIC_COUNTER,
     "Deliveries refused by the confinement."},
    {"denied_retain", "onramp_broker_denied_retain_total", ONR_METRIC_COUNTER,
     "Retained publications refused."},
    {"denied_will", "onramp_broker_denied_will_total", ONR_METRIC_COUNTER,
     "Wills refused."},
    {"denied_size", "onramp_broker_denied_size_total", ONR_METRIC_COUNTER,
     "Messages refused for their size."},
    {"rate_limited", "onramp_broker_rate_limited_total", ONR_METRIC_COUNTER,
     "Device messages over the per-device rate."},
    {"kicked", "onramp_broker_kicked_total", ONR_METRIC_COUNTER,
     "Devices disconnected: flooding, a revoked certificate."},
    {"grants", "onramp_broker_grants_total", ONR_METRIC_COUNTER,
     "Network access grants taken."},
    {"revocations", "onramp_broker_revocations_total", ONR_METRIC_COUNTER,
     "Grant and certificate revocations taken."},
    {"control_refused", "onramp_broker_control_refused_total", ONR_METRIC_COUNTER,
     "Control requests refused, but for grant conflicts."},
    {"grant_conflicts", "onramp_broker_grant_conflicts_total", ONR_METRIC_COUNTER,
     "Grants and revokes of a grant another operator holds."},
    {"devices", "onramp_broker_devices_connected", ONR_METRIC_GAUGE,
     "Devices connected now."},
    {"services", "onramp_broker_services_connected", ONR_METRIC_GAUGE,
     "Services and monitors connected now."},
};

int ctl_exporter_metric(const char *key, const char **name, enum onr_metric_type *type,
                        const char **help)
{
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
        if (strcmp(metrics[i].key, key) == 0) {
            *name = metrics[i].name;
            *type = metrics[i].type;
            *help = metrics[i].help;
            return ONR_OK;
        }
    return ONR_ENOENT;
}

/* ---- recording -------------------------------------------------------------- */

static int take(struct ctl_exporter *x, const char *topic, const uint8_t *payload, size_t len,
                uint64_t now)
{
    struct onr_envelope env;
    struct onr_topic t;
    struct ctl_broker_counters *b = NULL;
    const struct onr_msg_broker_stats *s;
    int rc;

    rc = onr_topic_parse(topic, strlen(topic), &t);
    if (rc != ONR_OK)
        return rc;
    if (t.kind != ONR_TOPIC_KIND_EV || t.role != ONR_ROLE_BROKER)
        return ONR_ESCHEMA;
    rc = onr_envelope_decode(payload, len, &env);
    if (rc != ONR_OK)
        return rc;
    /* the sender must be the broker the topic names */
    if (env.msg.type != ONR_MSG_BROKER_STATS || env.sender_role != ONR_ROLE_BROKER ||
        env.sender.len != strlen(t.svc) || memcmp(env.sender.ptr, t.svc, env.sender.len) != 0)
        return ONR_ESCHEMA;
    s = &env.msg.body.broker_stats;
    if (s->epoch.len > CTL_EXPORTER_EPOCH_MAX)
        return ONR_ELENGTH; /* the schema says 16 */
    for (size_t i = 0; i < x->n_brokers && b == NULL; i++)
        if (strcmp(x->brokers[i].name, t.svc) == 0)
            b = &x->brokers[i];
    if (b == NULL) {
        if (x->n_brokers == CTL_EXPORTER_BROKERS_MAX)
            return ONR_ECOUNT;
        b = &x->brokers[x->n_brokers++];
        snprintf(b->name, sizeof(b->name), "%s", t.svc); /* a checked service id */
    }
    b->stats = *s;
    memcpy(b->epoch, s->epoch.ptr, s->epoch.len);
    b->stats.epoch = (struct onr_bytes){b->epoch, s->epoch.len};
    b->heard = now;
    return ONR_OK;
}

int ctl_exporter_record(struct ctl_exporter *x, const char *topic, const uint8_t *payload,
                        size_t len, uint64_t now)
{
    int rc = take(x, topic, payload, len, now);

    if (rc == ONR_OK)
        x->received++;
    else
        x->refused++;
    return rc;
}

/* ---- metrics ---------------------------------------------------------------- */

int ctl_exporter_collect(const struct ctl_exporter *x, struct onr_metrics *m)
{
    struct onr_msg template = {.type = ONR_MSG_BROKER_STATS};
    struct onr_msg_field f;

    /* field by field: the samples of a family come together */
    for (size_t i = 0; onr_msg_field_at(&template, i, &f) == ONR_OK; i++) {
        const char *name;
        const char *help;
        enum onr_metric_type type;

        if (ctl_exporter_metric(f.key, &name, &type, &help) != ONR_OK)
            continue; /* the epoch: below */
        onr_metrics_family(m, name, type, help);
        for (size_t b = 0; b < x->n_brokers; b++) {
            struct onr_msg msg = {.type = ONR_MSG_BROKER_STATS};
            struct onr_metric_label l = {"broker", x->brokers[b].name};
            struct onr_msg_field v;

            msg.body.broker_stats = x->brokers[b].stats;
            if (onr_msg_field_at(&msg, i, &v) != ONR_OK)
                continue;
            if (type == ONR_METRIC_COUNTER)
                onr_metrics_counter(m, &l, 1, v.uint_value);
            else
                onr_metrics_gauge(m, &l, 1, (double)v.uint_value);
        }
    }
    onr_metrics_family(m, "onramp_broker_last_heard_timestamp_seconds", ONR_METRIC_GAUGE,
                       "When the exporter last received the broker's counters (Unix time, "
                       "the exporter's clock).");
    for (size_t b = 0; b < x->n_brokers; b++)
        onr_metrics_gauge(m, &(struct onr_metric_label){"broker", x->brokers[b].name}, 1,
                          (double)x->brokers[b].heard);
    onr_metrics_family(m, "onramp_broker_epoch_info", ONR_METRIC_GAUGE,
                       "1, labelled with the epoch of the broker's grants journal (hex): a "
                       "new one holds no grant or revocation it was not sent since.");
    for (size_t b = 0; b < x->n_brokers; b++) {
        const struct ctl_broker_counters *c = &x->brokers[b];
        char hex[2 * CTL_EXPORTER_EPOCH_MAX + 1] = "";
        struct onr_metric_label l[] = {{"broker", c->name}, {"epoch", hex}};

        onr_hex_encode(c->epoch, c->stats.epoch.len, hex);
        onr_metrics_gauge(m, l, 2, 1);
    }
    onr_metrics_family(m, "onramp_exporter_counters_received_total", ONR_METRIC_COUNTER,
                       "Brokers' counters the exporter took.");
    onr_metrics_counter(m, NULL, 0, x->received);
    onr_metrics_family(m, "onramp_exporter_messages_refused_total", ONR_METRIC_COUNTER,
                       "Messages on the brokers' counters topics that were not a broker's "
                       "counters (undecodable, another type or sender, too many brokers).");
    onr_metrics_counter(m, NULL, 0, x->refused);
    return onr_metrics_status(m);
}
