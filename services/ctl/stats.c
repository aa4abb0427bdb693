/*
 * onrampctl stats: the broker plugin's counters (proto/SPEC.md type 23),
 * read from the retained onr/1/s/broker/{name}/ev as a monitor would.
 */
#include <getopt.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "onramp/envelope.h"
#include "onramp/error.h"

static const char usage[] =
    "usage: onrampctl stats --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                       [--broker NAME] [--json] [--timeout SECONDS]\n"
    "\n"
    "Print the counters of a broker's onramp plugin: connections admitted and\n"
    "refused by reason, refusals of publish, subscribe and delivery by reason,\n"
    "grants, and the clients connected now. onrampctl connects to the broker's\n"
    "services listener with CERT (a monitor's or a service's certificate from\n"
    "the services CA) and reads the counters the plugin publishes, retained, to\n"
    "onr/1/s/broker/NAME/ev every few seconds.\n"
    "\n"
    "  --host, --port     the services listener\n"
    "  --cafile           PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key      PEM: onrampctl's client certificate and key\n"
    "  --broker NAME      only this broker (default: the first to answer)\n"
    "  --json             one JSON object instead of a table\n"
    "  --timeout SECONDS  how long to wait (default 10)\n"
    "\n"
    "Exit status: 0 counters printed, 1 no counters (broker unreachable,\n"
    "connection refused, or nothing published in time), 2 usage error.\n";

struct wanted {
    int done;
    const char *broker; /* NULL: any */
    struct onr_envelope env;
    uint8_t payload[ONR_ENVELOPE_MAX];
};

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct wanted *w = obj;
    char topic[128];

    (void)mosq;
    (void)props;
    if (w->done || m->payloadlen <= 0 || (size_t)m->payloadlen > sizeof(w->payload))
        return;
    memcpy(w->payload, m->payload, (size_t)m->payloadlen);
    if (onr_envelope_decode(w->payload, (size_t)m->payloadlen, &w->env) != ONR_OK ||
        w->env.msg.type != ONR_MSG_BROKER_STATS || w->env.sender_role != ONR_ROLE_BROKER)
        return;
    /* The sender must be the broker named in the topic. */
    snprintf(topic, sizeof(topic), "onr/1/s/broker/%.*s/ev", (int)w->env.sender.len,
             (const char *)w->env.sender.ptr);
    if (strcmp(topic, m->topic) != 0)
        return;
    if (w->broker != NULL && (strlen(w->broker) != w->env.sender.len ||
                              memcmp(w->broker, w->env.sender.ptr, w->env.sender.len) != 0))
        return;
    w->done = 1;
}

static void print_stats(const struct onr_envelope *env, int json)
{
    struct onr_msg_field f;
    time_t at = (time_t)env->timestamp;
    char when[64];

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
    if (json)
        printf("{\"broker\":\"%.*s\",\"time\":\"%s\"", (int)env->sender.len,
               (const char *)env->sender.ptr, when);
    else
        printf("broker %.*s, counters at %s\n", (int)env->sender.len,
               (const char *)env->sender.ptr, when);
    for (size_t i = 0; onr_msg_field_at(&env->msg, i, &f) == ONR_OK; i++) {
        if (json)
            printf(",\"%s\":%" PRIu64, f.key, f.uint_value);
        else
            printf("  %-18s %" PRIu64 "\n", f.key, f.uint_value);
    }
    if (json)
        printf("}\n");
}

int ctl_stats(int argc, char **argv)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"broker", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.host = NULL, .port = 0, .timeout = 10};
    struct wanted *w = calloc(1, sizeof(*w));
    struct mosquitto *mosq = NULL;
    int json = 0;
    time_t deadline;
    int opt;
    int rc = CTL_EXIT_FAIL;

    if (w == NULL)
        return CTL_EXIT_FAIL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'b': w->broker = optarg; break;
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
    if (optind != argc || !ctl_broker_complete(&b)) {
        fputs(usage, stderr);
        free(w);
        return CTL_EXIT_USAGE;
    }
    mosq = ctl_connect(&b, w);
    if (mosq == NULL)
        goto out;
    mosquitto_message_v5_callback_set(mosq, on_message);
    if (mosquitto_subscribe_v5(mosq, NULL, "onr/1/s/broker/+/ev", 0, 0, NULL) !=
        MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: subscribe failed\n");
        goto out;
    }
    deadline = time(NULL) + b.timeout;
    while (!w->done && time(NULL) < deadline)
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (!w->done) {
        fprintf(stderr, "onrampctl: no counters from %s within %d s\n",
                w->broker != NULL ? w->broker : "any broker", b.timeout);
        goto out;
    }
    print_stats(&w->env, json);
    rc = CTL_EXIT_OK;
out:
    ctl_disconnect(mosq);
    free(w);
    return rc;
}
