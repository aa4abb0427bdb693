/*
 * onrampctl stats: the broker plugin's counters (proto/SPEC.md type 23),
 * read from the retained onr/1/s/broker/{name}/ev as a monitor would, or a
 * service's (type 32) from its onr/1/s/{role}/{id}/ev.
 */
#include <getopt.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "monitor.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/topic.h"

static const char usage[] =
    "usage: onrampctl stats --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                       [--broker NAME | --service ROLE/ID] [--json]\n"
    "                       [--timeout SECONDS]\n"
    "\n"
    "Print the counters of a broker's onramp plugin: the epoch of its grants\n"
    "journal (hex: a new one means a broker that holds no grant or revocation\n"
    "it did not get since), connections admitted and refused by reason,\n"
    "refusals of publish, subscribe and delivery by reason, grants, and the\n"
    "clients connected now. onrampctl connects to the broker's\n"
    "services listener with CERT (a monitor's or a service's certificate from\n"
    "the services CA) and reads the counters the plugin publishes, retained, to\n"
    "onr/1/s/broker/NAME/ev every few seconds.\n"
    "\n"
    "With --service, the counters a service publishes every stats_interval\n"
    "seconds on onr/1/s/ROLE/ID/ev instead: messages handled, answered again\n"
    "as duplicates, refused by kind (auth, stale, input, policy), left to be\n"
    "retried (busy), the mean and largest handling time in microseconds, and\n"
    "its own messages to peers awaiting confirmation: how many (pending), how\n"
    "long the oldest has waited in seconds (pending_age), and how many times\n"
    "a peer refused one (pending_refused); a provider's also the certificates\n"
    "it renewed since it started (renewals) and how many devices'\n"
    "certificates expire within a week (certs_expiring).\n"
    "Only that service can publish there (the broker's confinement).\n"
    "\n"
    "  --host, --port     the services listener\n"
    "  --cafile           PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key      PEM: onrampctl's client certificate and key\n"
    "  --broker NAME      only this broker (default: the first to answer)\n"
    "  --service ROLE/ID  a service instead: ROLE mfr, op or prov\n"
    "  --json             one JSON object instead of a table\n"
    "  --timeout SECONDS  how long to wait (default 10)\n"
    "\n"
    "Exit status: 0 counters printed, 1 no counters (broker unreachable,\n"
    "connection refused, or nothing published in time), 2 usage error.\n";

struct wanted {
    int done;
    const char *broker; /* NULL: any */
    char service_topic[ONR_TOPIC_MAX + 1]; /* "" : the broker's counters */
    enum onr_role service_role;
    const char *service_id;
    struct onr_envelope env;
    uint8_t payload[ONR_ENVELOPE_MAX];
};

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct wanted *w = obj;
    struct onr_topic t;

    (void)mosq;
    (void)props;
    if (w->done || m->payloadlen <= 0 || (size_t)m->payloadlen > sizeof(w->payload))
        return;
    memcpy(w->payload, m->payload, (size_t)m->payloadlen);
    if (onr_envelope_decode(w->payload, (size_t)m->payloadlen, &w->env) != ONR_OK)
        return;
    if (w->service_topic[0] != '\0') {
        /* the topic is the service's own: only it may publish there */
        if (w->env.msg.type == ONR_MSG_SERVICE_STATS && w->env.sender_role == w->service_role &&
            strcmp(m->topic, w->service_topic) == 0 &&
            w->env.sender.len == strlen(w->service_id) &&
            memcmp(w->env.sender.ptr, w->service_id, w->env.sender.len) == 0)
            w->done = 1;
        return;
    }
    if (w->env.msg.type != ONR_MSG_BROKER_STATS || w->env.sender_role != ONR_ROLE_BROKER)
        return;
    /* The sender must be the broker named in the topic. */
    if (onr_topic_parse(m->topic, strlen(m->topic), &t) != ONR_OK ||
        t.kind != ONR_TOPIC_KIND_EV || t.role != ONR_ROLE_BROKER ||
        strlen(t.svc) != w->env.sender.len || memcmp(t.svc, w->env.sender.ptr, strlen(t.svc)) != 0)
        return;
    if (w->broker != NULL && (strlen(w->broker) != w->env.sender.len ||
                              memcmp(w->broker, w->env.sender.ptr, w->env.sender.len) != 0))
        return;
    w->done = 1;
}

static void print_stats(const struct onr_envelope *env, const char *what, int json)
{
    struct onr_msg_field f;
    time_t at = (time_t)env->timestamp;
    char when[64];

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
    /* the sender id is a checked service id: printable as it is */
    if (json)
        printf("{\"%s\":\"%.*s\",\"time\":\"%s\"", what, (int)env->sender.len,
               (const char *)env->sender.ptr, when);
    else
        printf("%s %.*s, counters at %s\n", what, (int)env->sender.len,
               (const char *)env->sender.ptr, when);
    /* counters, and a broker's epoch in hex */
    for (size_t i = 0; onr_msg_field_at(&env->msg, i, &f) == ONR_OK; i++) {
        printf(json ? ",\"%s\":" : "  %-18s ", f.key);
        ctl_field_value(stdout, &f, json);
        if (!json)
            putchar('\n');
    }
    if (json)
        printf("}\n");
}

/* ROLE/ID: a service's counters topic and who must have sent them. */
static int parse_service(const char *arg, struct wanted *w)
{
    const char *slash = strchr(arg, '/');
    enum onr_role role;

    /* a service: the broker's counters are --broker's */
    if (slash == NULL || onr_topic_role_parse(arg, (size_t)(slash - arg), &role) != ONR_OK ||
        role == ONR_ROLE_BROKER)
        return ONR_EINVAL;
    w->service_role = role;
    w->service_id = slash + 1;
    return onr_topic_ev(role, slash + 1, w->service_topic, sizeof(w->service_topic));
}

int ctl_stats(int argc, char **argv)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"broker", required_argument, NULL, 'b'},
        {"service", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.host = NULL, .port = 0, .timeout = 10};
    struct wanted *w = calloc(1, sizeof(*w));
    struct mosquitto *mosq = NULL;
    int json = 0;
    const char *service = NULL;
    char filter[ONR_TOPIC_MAX + 1];
    time_t deadline;
    int opt;
    int rc = CTL_EXIT_FAIL;

    if (w == NULL)
        return CTL_EXIT_FAIL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'b': w->broker = optarg; break;
        case 's': service = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); free(w); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(usage, stderr);
            free(w);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(&b) ||
        (service != NULL && (w->broker != NULL || parse_service(service, w) != ONR_OK))) {
        fputs(usage, stderr);
        free(w);
        return CTL_EXIT_USAGE;
    }
    mosq = ctl_connect(&b, w);
    if (mosq == NULL)
        goto out;
    mosquitto_message_v5_callback_set(mosq, on_message);
    if (service == NULL)
        (void)onr_topic_filter_ev(NULL, ONR_ROLE_BROKER, NULL, filter, sizeof(filter)); /* fits */
    if (mosquitto_subscribe_v5(mosq, NULL, service != NULL ? w->service_topic : filter, 0, 0,
                               NULL) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: subscribe failed\n");
        goto out;
    }
    deadline = time(NULL) + b.timeout;
    while (!w->done && time(NULL) < deadline)
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (!w->done) {
        fprintf(stderr, "onrampctl: no counters from %s within %d s\n",
                service != NULL ? service : w->broker != NULL ? w->broker : "any broker",
                b.timeout);
        goto out;
    }
    print_stats(&w->env, service != NULL ? "service" : "broker", json);
    rc = CTL_EXIT_OK;
out:
    ctl_disconnect(mosq);
    free(w);
    return rc;
}
