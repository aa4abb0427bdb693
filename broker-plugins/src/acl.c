/*
 * The confinement table of broker-plugins/README.md: what each principal
 * may publish, subscribe to and receive. The plugin answers every check
 * itself, SUCCESS or ACL_DENIED, and never defers: a deferred check would
 * fall through to other plugins or Mosquitto's defaults.
 */
#include "plugin.h"

#include <string.h>

#include "grants.h"
#include "onramp/error.h"
#include "onramp/text.h"
#include "topic.h"

#define CONTROL_TOPIC "$CONTROL/onramp/v1"
#define CONTROL_RESPONSE_TOPIC "$CONTROL/onramp/v1/response"

/* A device may publish to its own up/mfr/X and up/op/X for one service id
 * X, and to up/prov/P if its grant names P. */
static bool device_may_publish(const struct plugin *p, const struct conn *c, const char *topic)
{
    size_t prefix_len = strlen(c->up_prefix);
    const char *rest;
    const char *svc;
    const char *granted;

    if (strncmp(topic, c->up_prefix, prefix_len) != 0)
        return false;
    rest = topic + prefix_len;
    if (strncmp(rest, "mfr/", 4) == 0 || strncmp(rest, "op/", 3) == 0) {
        svc = strchr(rest, '/') + 1;
    } else if (strncmp(rest, "prov/", 5) == 0) {
        svc = rest + 5;
        granted = grants_provider(p->grants, c->id);
        return granted != NULL && strcmp(svc, granted) == 0;
    } else {
        return false;
    }
    return svc[0] != '\0' && strlen(svc) <= ONR_SERVICE_ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)svc, strlen(svc)}) ==
               ONR_OK;
}

/*
 * The checks every device publish passes first, bootstrap or operational:
 * rate, size, no retain. MOSQ_ERR_SUCCESS to go on to the topic check.
 */
static int device_publish_limits(struct plugin *p, struct conn *c,
                                 const struct mosquitto_evt_acl_check *ed)
{
    /* Every message spends a token, allowed or not: a flood of refused
     * messages is still a flood. */
    if (!limits_device_message(p, c)) {
        limits_rate_denied(p, c);
        counters_deny(p, c, ed->client, &p->stats.rate_limited, "publish", ed->topic,
                      "over the device message rate");
        return MOSQ_ERR_ACL_DENIED;
    }
    if (ed->payloadlen > p->cfg.max_payload) {
        counters_deny(p, c, ed->client, &p->stats.denied_size, "publish", ed->topic,
                      "payload too large");
        return MOSQ_ERR_ACL_DENIED;
    }
    if (ed->retain) {
        counters_deny(p, c, ed->client, &p->stats.denied_retain, "publish", ed->topic,
                      "devices may not retain");
        return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
}

static int device_check(struct plugin *p, struct conn *c, const struct mosquitto_evt_acl_check *ed)
{
    switch (ed->access) {
    case MOSQ_ACL_WRITE:
        if (device_publish_limits(p, c, ed) != MOSQ_ERR_SUCCESS)
            return MOSQ_ERR_ACL_DENIED;
        if (!topic_name_ok(ed->topic, false) || !device_may_publish(p, c, ed->topic)) {
            counters_deny(p, c, ed->client, &p->stats.denied_publish, "publish", ed->topic,
                          "not one of its up topics");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_SUBSCRIBE:
        if (strcmp(ed->topic, c->down) != 0) {
            counters_deny(p, c, ed->client, &p->stats.denied_subscribe, "subscribe", ed->topic,
                          "devices subscribe to their down topic only");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_READ:
        if (strcmp(ed->topic, c->down) != 0) {
            counters_deny(p, c, ed->client, &p->stats.denied_read, "read", ed->topic,
                          "not its down topic");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_SUCCESS; /* unsubscribe */
    }
}

/*
 * An operational device: its own topics onr/1/p/{prov}/dev/{dev}/..., and
 * nothing else; all of it refused once its certificate is revoked (until
 * the queued kick disconnects it).
 */
static int operational_check(struct plugin *p, struct conn *c,
                             const struct mosquitto_evt_acl_check *ed)
{
    switch (ed->access) {
    case MOSQ_ACL_WRITE:
        if (c->revoked) {
            counters_deny(p, c, ed->client, &p->stats.denied_publish, "publish", ed->topic,
                          "certificate revoked");
            return MOSQ_ERR_ACL_DENIED;
        }
        if (device_publish_limits(p, c, ed) != MOSQ_ERR_SUCCESS)
            return MOSQ_ERR_ACL_DENIED;
        if (!topic_name_ok(ed->topic, false) || !topic_below(ed->topic, c->own_prefix)) {
            counters_deny(p, c, ed->client, &p->stats.denied_publish, "publish", ed->topic,
                          "not under its own prefix");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_SUBSCRIBE:
        if (c->revoked || !topic_filter_within(ed->topic, c->own_filter)) {
            counters_deny(p, c, ed->client, &p->stats.denied_subscribe, "subscribe", ed->topic,
                          c->revoked ? "certificate revoked" : "not within its own prefix");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_READ:
        if (c->revoked || !topic_matches(c->own_filter, ed->topic)) {
            counters_deny(p, c, ed->client, &p->stats.denied_read, "read", ed->topic,
                          c->revoked ? "certificate revoked" : "not under its own prefix");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_SUCCESS; /* unsubscribe */
    }
}

/* Topics a service may receive, and filters its subscriptions must lie in:
 * its own, and for a provider its operational devices' topics. */
static bool service_may_read(const struct conn *c, const char *topic_or_filter, bool filter)
{
    const char *patterns[] = {c->service_up, c->service_in, "onr/1/s/+/+/ev",
                              c->service_devs};

    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (patterns[i][0] == '\0')
            continue; /* not this service's */
        if (filter ? topic_filter_within(topic_or_filter, patterns[i])
                   : topic_matches(patterns[i], topic_or_filter))
            return true;
    }
    return false;
}

/* Filters within the service's own work: its devices' requests, its
 * inbox, a provider's operational devices. */
static bool service_owns(const struct conn *c, const char *filter)
{
    const char *own[] = {c->service_up, c->service_in, c->service_devs};

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (own[i][0] != '\0' && topic_filter_within(filter, own[i]))
            return true;
    return false;
}

static bool service_may_publish(const struct conn *c, const char *topic, bool retain)
{
    /* Operators grant and revoke; providers revoke their devices'
     * certificates (control.c checks which may send what, and answers). */
    if (strcmp(topic, CONTROL_TOPIC) == 0)
        return c->may_control && !retain;
    if (!topic_name_ok(topic, false))
        return false;
    if (strcmp(topic, c->service_ev) == 0)
        return true; /* its own events, retained or not */
    /* The control tool asks providers (onrampctl pair, release, status)
     * and manufacturers and operators (status), on their inboxes only: it
     * never speaks to devices or to other control tools. */
    if (strcmp(c->role, "ctl") == 0)
        return !retain && (topic_matches("onr/1/s/prov/+/in", topic) ||
                           topic_matches("onr/1/s/mfr/+/in", topic) ||
                           topic_matches("onr/1/s/op/+/in", topic));
    return !retain &&
           (topic_matches("onr/1/d/+/down", topic) || topic_matches("onr/1/s/+/+/in", topic) ||
            (strcmp(c->role, "prov") == 0 && topic_provider_device(topic, c->id)));
}

static int service_check(struct plugin *p, struct conn *c,
                         const struct mosquitto_evt_acl_check *ed)
{
    const char *filter;
    bool shared = false;

    switch (ed->access) {
    case MOSQ_ACL_WRITE:
        if (!service_may_publish(c, ed->topic, ed->retain)) {
            counters_deny(p, c, ed->client, &p->stats.denied_publish, "publish", ed->topic,
                          "outside the service's topics");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_SUBSCRIBE:
        filter = topic_strip_share(ed->topic, &shared);
        if (filter == NULL || !service_may_read(c, filter, true)) {
            counters_deny(p, c, ed->client, &p->stats.denied_subscribe, "subscribe", ed->topic,
                          "outside the service's topics");
            return MOSQ_ERR_ACL_DENIED;
        }
        /* A shared subscription spreads a service's work over its
         * instances: its own requests only, never others' events. */
        if (shared && !service_owns(c, filter)) {
            counters_deny(p, c, ed->client, &p->stats.denied_subscribe, "subscribe", ed->topic,
                          "shared subscriptions are for the service's own topics");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_READ:
        /* The plugin's own answers to this service's control requests: it
         * publishes them to that client id alone (no READ check), but one
         * still queued when the service went away is checked when
         * Mosquitto delivers it later. Nobody else can publish there, and
         * nobody may subscribe to it. */
        if (c->may_control && strcmp(ed->topic, CONTROL_RESPONSE_TOPIC) == 0)
            return MOSQ_ERR_SUCCESS;
        if (!service_may_read(c, ed->topic, false)) {
            counters_deny(p, c, ed->client, &p->stats.denied_read, "read", ed->topic,
                          "outside the service's topics");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_SUCCESS;
    }
}

static int monitor_check(struct plugin *p, struct conn *c,
                         const struct mosquitto_evt_acl_check *ed)
{
    const char *filter;
    bool shared = false;

    switch (ed->access) {
    case MOSQ_ACL_WRITE:
        counters_deny(p, c, ed->client, &p->stats.denied_publish, "publish", ed->topic,
                      "monitors are read-only");
        return MOSQ_ERR_ACL_DENIED;
    case MOSQ_ACL_SUBSCRIBE:
        filter = topic_strip_share(ed->topic, &shared);
        if (filter == NULL || !topic_filter_within(filter, "onr/1/#")) {
            counters_deny(p, c, ed->client, &p->stats.denied_subscribe, "subscribe", ed->topic,
                          "monitors read onr/1/# only");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_READ:
        if (!topic_matches("onr/1/#", ed->topic)) {
            counters_deny(p, c, ed->client, &p->stats.denied_read, "read", ed->topic,
                          "monitors read onr/1/# only");
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_SUCCESS;
    }
}

int acl_on_check(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_acl_check *ed = event_data;
    struct plugin *p = userdata;
    struct conn *c = conns_get(p, ed->client);

    (void)event;
    if (ed->topic == NULL)
        return MOSQ_ERR_ACL_DENIED;
    /* A handle without a record, asked READ for: a persistent session
     * Mosquitto restored from its file at start, whose client has not
     * reconnected yet. The plugin vouches for it if the sessions file
     * did (a service's or monitor's, judged again at start). */
    if (c == NULL && ed->access == MOSQ_ACL_READ)
        c = conns_restored(p, ed->client);
    if (c == NULL || (!c->online && ed->access == MOSQ_ACL_WRITE)) {
        /* Every admitted client has a live record until Mosquitto reports
         * it gone, and it reports that before sending the client's will: a
         * write without a live record is a will. */
        counters_deny(p, NULL, ed->client,
                      ed->access == MOSQ_ACL_WRITE ? &p->stats.denied_will
                                                   : &p->stats.denied_read,
                      ed->access == MOSQ_ACL_WRITE ? "will" : "access", ed->topic,
                      "client not admitted or gone");
        return MOSQ_ERR_ACL_DENIED;
    }
    switch (c->kind) {
    case PRINCIPAL_DEVICE:
        return device_check(p, c, ed);
    case PRINCIPAL_OPERATIONAL:
        return operational_check(p, c, ed);
    case PRINCIPAL_SERVICE:
        return service_check(p, c, ed);
    case PRINCIPAL_MONITOR:
        return monitor_check(p, c, ed);
    default:
        return MOSQ_ERR_ACL_DENIED;
    }
}
