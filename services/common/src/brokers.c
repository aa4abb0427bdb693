/*
 * The brokers a service is configured with: `broker NAME HOST PORT
 * [region=MCC]` lines, or the one unnamed broker of broker_host and
 * broker_port; where each publication goes among them; what the rest of
 * the program may know of them (<onramp/service.h>).
 */
#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "service_internal.h"

#define REGION_PREFIX "region="

static int is_mcc(const char *s)
{
    if (strlen(s) != ONR_SERVICE_REGION_MAX)
        return 0;
    for (size_t i = 0; i < ONR_SERVICE_REGION_MAX; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int parse_port(const char *text, unsigned *port)
{
    unsigned long v = 0;
    size_t n = strlen(text);

    if (n == 0 || n > 5 || strspn(text, "0123456789") != n)
        return ONR_EINVAL;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned long)(text[i] - '0');
    if (v == 0 || v > 65535)
        return ONR_EINVAL;
    *port = (unsigned)v;
    return ONR_OK;
}

/* Where `b` is, as /metrics names it. */
static void set_endpoint(struct svc_broker *b)
{
    int v6 = strchr(b->host, ':') != NULL;

    snprintf(b->endpoint, sizeof(b->endpoint), "%s%s%s:%u", v6 ? "[" : "", b->host,
             v6 ? "]" : "", b->port);
}

/* One `broker` line into `b`; the reason it is refused in `why`. */
static int parse_line(const char *value, struct svc_broker *b, const char **why)
{
    char buf[ONR_CONFIG_LINE_MAX + 1];
    const char *f[4];
    size_t n = 0;

    *why = "want NAME HOST PORT [region=MCC]";
    if (onr_config_split(value, buf, sizeof(buf), f, 4, &n) != ONR_OK || n < 3)
        return ONR_EINVAL;
    if (onr_service_id_check(f[0], strlen(f[0])) != ONR_OK) {
        *why = "NAME: a broker's name (its plugin's broker_name), 1..32 of [a-z0-9._-]";
        return ONR_EINVAL;
    }
    if (strlen(f[1]) >= sizeof(b->host) || parse_port(f[2], &b->port) != ONR_OK) {
        *why = "HOST PORT: a host name or address and a port in 1..65535";
        return ONR_EINVAL;
    }
    if (n == 4 && (strncmp(f[3], REGION_PREFIX, strlen(REGION_PREFIX)) != 0 ||
                   !is_mcc(f[3] + strlen(REGION_PREFIX)))) {
        *why = "region=MCC: the 3 digits of the country the broker serves";
        return ONR_EINVAL;
    }
    snprintf(b->name, sizeof(b->name), "%s", f[0]);
    snprintf(b->host, sizeof(b->host), "%s", f[1]);
    set_endpoint(b);
    if (n == 4)
        snprintf(b->region, sizeof(b->region), "%s", f[3] + strlen(REGION_PREFIX));
    return ONR_OK;
}

/* broker_host and broker_port: one broker whose name the service does not
 * know (its answers are taken under ONR_PEER_BROKER). */
static int load_unnamed(struct onr_service *svc)
{
    struct svc_broker *b = &svc->brokers[0];
    const char *host = onr_config_get(svc->cfg, "broker_host");
    const char *port = onr_config_get(svc->cfg, "broker_port");

    if (host == NULL || port == NULL) {
        fprintf(stderr, "%s: %s: 'broker' lines, or 'broker_host' and 'broker_port', are "
                "required\n", svc->def->name, svc->config_path);
        return ONR_EINVAL;
    }
    if (strlen(host) >= sizeof(b->host) || parse_port(port, &b->port) != ONR_OK) {
        fprintf(stderr, "%s: broker_host, broker_port: a host and a port in 1..65535\n",
                svc->def->name);
        return ONR_EINVAL;
    }
    snprintf(b->name, sizeof(b->name), "%s", ONR_PEER_BROKER);
    snprintf(b->host, sizeof(b->host), "%s", host);
    set_endpoint(b);
    svc->n_brokers = 1;
    return ONR_OK;
}

int svc_brokers_load(struct onr_service *svc)
{
    size_t n = onr_config_count(svc->cfg, "broker");
    const char *why = NULL;

    svc->via = -1;
    for (size_t i = 0; i < ONR_SERVICE_MAX_BROKERS; i++)
        svc->brokers[i] = (struct svc_broker){.svc = svc};
    if (n == 0)
        return load_unnamed(svc);
    if (onr_config_get(svc->cfg, "broker_host") != NULL ||
        onr_config_get(svc->cfg, "broker_port") != NULL) {
        fprintf(stderr, "%s: %s: 'broker' lines or 'broker_host' and 'broker_port', not "
                "both\n", svc->def->name, svc->config_path);
        return ONR_EINVAL;
    }
    if (n > ONR_SERVICE_MAX_BROKERS) {
        fprintf(stderr, "%s: at most %d brokers\n", svc->def->name, ONR_SERVICE_MAX_BROKERS);
        return ONR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        struct svc_broker *b = &svc->brokers[i];

        if (parse_line(onr_config_at(svc->cfg, "broker", i), b, &why) != ONR_OK) {
            fprintf(stderr, "%s: broker %s: %s\n", svc->def->name,
                    onr_config_at(svc->cfg, "broker", i), why);
            return ONR_EINVAL;
        }
        /* names are the brokers' identities: each its own grants */
        if (svc_broker_named(svc, b->name) >= 0) {
            fprintf(stderr, "%s: broker %s: named twice\n", svc->def->name, b->name);
            return ONR_EINVAL;
        }
        svc->n_brokers++;
    }
    return ONR_OK;
}

int svc_broker_named(const struct onr_service *svc, const char *name)
{
    for (size_t i = 0; i < svc->n_brokers; i++)
        if (strcmp(svc->brokers[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t svc_all_brokers(const struct onr_service *svc)
{
    return svc->n_brokers >= 32 ? UINT32_MAX : (1u << svc->n_brokers) - 1;
}

uint32_t svc_nth_connected(const struct onr_service *svc, uint64_t n)
{
    size_t up = 0;

    for (size_t i = 0; i < svc->n_brokers; i++)
        up += svc->brokers[i].connected ? 1 : 0;
    if (up == 0)
        return 0;
    n %= up;
    for (size_t i = 0; i < svc->n_brokers; i++)
        if (svc->brokers[i].connected && n-- == 0)
            return 1u << i;
    return 0; /* not reached */
}

int svc_any_connected(const struct onr_service *svc)
{
    for (size_t i = 0; i < svc->n_brokers; i++)
        if (svc->brokers[i].connected)
            return 1;
    return 0;
}

/* Where a control tool's inbox begins: onr/1/s/ctl/{id}/in. */
#define CONTROL_INBOX_PREFIX "onr/1/s/ctl/"

/* The device a topic names: the id of onr/1/d/{dev}/..., or the id after
 * /dev/ of an operational device's onr/1/p/{prov}/dev/{dev}/...; NULL for
 * any other topic. */
static const char *device_of(const char *topic)
{
    static const char bootstrap[] = "onr/1/d/";
    static const char operational[] = "onr/1/p/";
    const char *dev = NULL;

    if (topic == NULL)
        return NULL;
    if (strncmp(topic, bootstrap, sizeof(bootstrap) - 1) == 0)
        dev = topic + sizeof(bootstrap) - 1;
    else if (strncmp(topic, operational, sizeof(operational) - 1) == 0 &&
             (dev = strstr(topic + sizeof(operational) - 1, "/dev/")) != NULL)
        dev += strlen("/dev/");
    return dev != NULL && strnlen(dev, ONR_DEVID_LEN) == ONR_DEVID_LEN ? dev : NULL;
}

uint32_t svc_route_mask(const struct onr_service *svc, uint32_t mask, const char *topic)
{
    const char *dev = device_of(topic);
    const char *from = svc->via >= 0 ? device_of(svc->via_topic) : NULL;

    if (mask != 0)
        return mask;
    /* a device hears only the broker it is on: an answer goes back the
     * way its request came; something pushed to it while handling another
     * message (a voucher on its registration, a relocation) goes to every
     * broker (where it is not, nobody is subscribed) */
    if (dev != NULL && (from == NULL || memcmp(dev, from, ONR_DEVID_LEN) != 0))
        return svc_all_brokers(svc);
    /* a control tool (onrampctl) is on one broker, not on them all: what
     * goes to it goes to every broker (it is little). An answer that
     * follows another message, as a pairing's follows the manufacturer's
     * registration, may have come through another broker than the tool's
     * request (a registration resent while the broker it first took was
     * away), and the tool would never hear it. */
    if (topic != NULL &&
        strncmp(topic, CONTROL_INBOX_PREFIX, sizeof(CONTROL_INBOX_PREFIX) - 1) == 0)
        return svc_all_brokers(svc);
    /* a peer service is on them all: any broker both share will do */
    if (svc->via >= 0 && svc->brokers[svc->via].connected)
        return 1u << svc->via;
    for (size_t i = 0; i < svc->n_brokers; i++)
        if (svc->brokers[i].connected)
            return 1u << i;
    /* none is up: the one it came through, to be logged as not sent */
    return svc->via >= 0 ? 1u << svc->via : 1u;
}

/* ---- what the rest of the program may know ----------------------------------------- */

int onr_service_connected(const struct onr_service *svc)
{
    return svc_any_connected(svc);
}

size_t onr_service_brokers(const struct onr_service *svc)
{
    return svc->n_brokers;
}

int onr_service_broker_at(const struct onr_service *svc, size_t i,
                          struct onr_service_broker *out)
{
    const struct svc_broker *b;

    if (i >= svc->n_brokers)
        return ONR_ERANGE;
    b = &svc->brokers[i];
    *out = (struct onr_service_broker){b->name, b->host, b->port,
                                       b->region[0] ? b->region : NULL, b->connected};
    return ONR_OK;
}

const char *onr_service_via_region(const struct onr_service *svc)
{
    if (svc->via < 0 || svc->brokers[svc->via].region[0] == '\0')
        return NULL;
    return svc->brokers[svc->via].region;
}
