/* Prometheus: each `metrics` line's listener (a service's metrics_listen,
 * a monitor's onrampctl exporter and its exporter.conf), and the fabric's
 * scrape configuration, OUT/prometheus/onramp.yml. */
#include "admin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

/* The listener's address: bind=, else 127.0.0.1. */
static const char *listen_addr(const struct adm_metrics *m)
{
    return m->bind[0] != '\0' ? m->bind : "127.0.0.1";
}

static int is_v6(const char *addr)
{
    return strchr(addr, ':') != NULL;
}

int adm_metrics_public(const struct adm_metrics *m)
{
    const char *addr = listen_addr(m);
    uint8_t a[16];

    if (!is_v6(addr))
        return inet_pton(AF_INET, addr, a) != 1 || a[0] != 127;
    return inet_pton(AF_INET6, addr, a) != 1 || memcmp(a, in6addr_loopback.s6_addr, 16) != 0;
}

char *adm_metrics_listen(const struct adm_metrics *m, unsigned k, char *out, size_t cap)
{
    const char *addr = listen_addr(m);

    snprintf(out, cap, is_v6(addr) ? "[%s]:%u" : "%s:%u", addr, (unsigned)m->port + k - 1);
    return out;
}

/* Where Prometheus reaches instance k's listener: its address, unless that
 * is every address (0.0.0.0, ::): then its host's name or address. */
static void target(const struct adm_topology *t, const struct adm_metrics *m, unsigned k,
                   char *out, size_t cap)
{
    const struct adm_host *h = &t->hosts[t->parties[m->party].host];
    const char *addr = listen_addr(m);

    if (strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0)
        addr = h->dns[0] != '\0' ? h->dns : h->address[0] != '\0' ? h->address : addr;
    snprintf(out, cap, is_v6(addr) ? "[%s]:%u" : "%s:%u", addr, (unsigned)m->port + k - 1);
}

/* ---- a monitor's exporter ------------------------------------------------- */

int adm_exporter_conf(struct adm_ctx *c, size_t i)
{
    const struct adm_topology *t = c->t;
    const struct adm_party *p = &t->parties[i];
    const struct adm_metrics *m = adm_metrics_of(t, i);
    struct adm_text text = {0};
    char path[ADM_PATH];
    char listen[80];
    int rc = ONR_OK;

    if (m == NULL)
        return ONR_OK;
    adm_text_add(&text,
                 "# onrampctl exporter of monitor %s on host %s, written by onramp-admin:\n"
                 "# every broker's counters for Prometheus (onrampctl exporter --help).\n"
                 "# Run by onramp-exporter@%s.service (onrampctl exporter --config\n"
                 "# /etc/onramp/%s/exporter.conf).\n",
                 p->id, t->hosts[p->host].name, p->id, p->id);
    for (size_t b = 0; b < t->n_brokers; b++) {
        const struct adm_host *h = &t->hosts[t->brokers[b].host];

        adm_text_add(&text, "# broker %s\nbroker %s %u\n", t->brokers[b].name,
                     h->dns[0] != '\0' ? h->dns : h->address,
                     (unsigned)t->brokers[b].services_port);
    }
    rc = adm_conf_path(c, p->host, path, "/etc/onramp/%s/services-ca.pem", p->id);
    adm_text_add(&text, "cafile %s\n", path);
    if (rc == ONR_OK)
        rc = adm_conf_path(c, p->host, path, "/etc/onramp/%s/monitor.pem", p->id);
    adm_text_add(&text, "cert %s\n", path);
    if (rc == ONR_OK)
        rc = adm_conf_path(c, p->host, path, "/etc/onramp/%s/monitor.key", p->id);
    adm_text_add(&text, "key %s\n", path);
    adm_text_add(&text, "listen %s\n", adm_metrics_listen(m, 1, listen, sizeof(listen)));
    if (adm_metrics_public(m))
        adm_text_add(&text, "# not loopback (bind=%s): keep it behind a firewall\npublic yes\n",
                     m->bind);
    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, path, "/etc/onramp/%s/exporter.conf", p->id);
    if (rc == ONR_OK)
        rc = adm_put_text(c, path, &text, ONR_FILE_SECRET);
    adm_text_free(&text);
    return rc;
}

/* ---- the scrape configuration ---------------------------------------------- */

static void job(const struct adm_topology *t, struct adm_text *text, int monitors)
{
    char where[ADM_DNS_MAX + 16];

    adm_text_add(text, "  - job_name: onramp-%s\n    static_configs:\n",
                 monitors ? "exporter" : "services");
    for (size_t k = 0; k < t->n_metrics; k++) {
        const struct adm_metrics *m = &t->metrics[k];
        const struct adm_party *p = &t->parties[m->party];
        const char *host = t->hosts[p->host].name;

        if ((p->role == ADM_MONITOR) != monitors)
            continue;
        if (!adm_metrics_public(m))
            adm_text_add(text, "      # on host %s's loopback: scrape it from %s (or give the "
                               "metrics line bind=)\n", host, host);
        /* each instance its own listener, told apart by a label */
        for (unsigned i = 1; i <= p->instances; i++) {
            target(t, m, i, where, sizeof(where));
            adm_text_add(text, "      - targets: [\"%s\"]\n        labels:\n", where);
            if (monitors)
                adm_text_add(text, "          monitor: %s\n", p->id);
            else
                adm_text_add(text, "          service: %s\n          role: %s\n", p->id,
                             adm_role_name(p->role));
            if (p->instances > 1)
                adm_text_add(text, "          service_instance: \"%u\"\n", i);
            adm_text_add(text, "          host: %s\n", host);
        }
    }
}

int adm_prometheus_files(struct adm_ctx *c)
{
    const struct adm_topology *t = c->t;
    struct adm_text text = {0};
    char path[ADM_PATH];
    int services = 0;
    int monitors = 0;
    int rc;

    for (size_t k = 0; k < t->n_metrics; k++) {
        if (t->parties[t->metrics[k].party].role == ADM_MONITOR)
            monitors = 1;
        else
            services = 1;
    }
    if (!services && !monitors)
        return ONR_OK;
    adm_text_add(&text,
                 "# Prometheus scrape configuration of the Onramp fabric, written by\n"
                 "# onramp-admin from the topology's metrics lines (README, \"Metrics\").\n"
                 "# Use it as Prometheus's configuration, or copy its scrape_configs into\n"
                 "# yours; load the example alerting rules with\n"
                 "#   rule_files: [/usr/share/onramp/prometheus/onramp.rules.yml]\n"
                 "# Services are job onramp-services (labels service, role, host), the\n"
                 "# brokers' counters job onramp-exporter (labels monitor, host; each\n"
                 "# metric has its broker label).\n"
                 "scrape_configs:\n");
    if (services)
        job(t, &text, 0);
    if (monitors)
        job(t, &text, 1);
    rc = adm_path(c, path, "prometheus");
    if (rc == ONR_OK)
        rc = adm_dir(c, path, 0755);
    if (rc == ONR_OK)
        rc = adm_path(c, path, "prometheus/onramp.yml");
    if (rc == ONR_OK)
        rc = adm_put_text(c, path, &text, ONR_FILE_PUBLIC);
    adm_text_free(&text);
    return rc;
}
