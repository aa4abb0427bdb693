/*
 * onrampctl monitor: every message of the fabric as one line, as a monitor
 * (OU=monitor: read-only onr/1/#) sees it. What a message is and how it
 * is printed lives in describe.c, keys.c, filter.c and render.c; this file
 * is the command: options, the connection, the loop.
 */
#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "monitor.h"
#include "onramp/error.h"
#include "onramp/topic.h"

static const char usage[] =
    "usage: onrampctl monitor [--json] [--device ID] [--role ROLE]... [--service ID]...\n"
    "                         [--type NAME]... [--peer ROLE ID PUBKEY]...\n"
    "                         [--count N] [--duration SECONDS]\n"
    "                         --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                         [--timeout SECONDS]\n"
    "\n"
    "Print every message of the fabric as it passes, one line each: the\n"
    "journey of every device, the services' answers and events, the broker's\n"
    "counters and the telemetry of operational devices. onrampctl connects to\n"
    "a broker's services listener with a monitor's certificate (OU=monitor),\n"
    "which may read onr/1/# and publish nothing, and subscribes to onr/1/#.\n"
    "\n"
    "  --json               one JSON object per line instead of text\n"
    "  --device ID          only messages about this device\n"
    "  --role ROLE          only messages from this sender role: device,\n"
    "                       manufacturer, operator, provider, control, broker\n"
    "                       (or mfr, op, prov, ctl)\n"
    "  --service ID         only messages from this sender id\n"
    "  --type NAME          only messages of this type (hello, voucher, ...,\n"
    "                       telemetry, application, undecodable)\n"
    "                       --role, --service and --type may be repeated (any\n"
    "                       of them); different options must all match\n"
    "  --peer ROLE ID PUBKEY\n"
    "                       a service's signing public key (PEM), to check its\n"
    "                       signatures; ROLE mfr, op, prov or ctl; repeat it for\n"
    "                       every key (a manufacturer's voucher key too)\n"
    "  --count N            exit after N lines\n"
    "  --duration SECONDS   exit after SECONDS\n"
    "  --host, --port       the broker's services listener\n"
    "  --cafile             PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key        PEM: a monitor's certificate (OU=monitor) and key\n"
    "  --timeout SECONDS    how long to wait for the connection (default 10)\n"
    "\n"
    "Output, one line per message, flushed at once:\n"
    "  TIME TOPIC type=T sender=ROLE:ID dev=D step=S verdict=V id=HEX KEY=VALUE...\n"
    "  --json: {\"time\":..,\"topic\":..,\"type\":..,\"sender_role\":..,\"sender\":..,\n"
    "           \"dev\":..,\"step\":..,\"verdict\":..,\"id\":..,\"body\":{..}}\n"
    "TIME is the time of receipt, UTC, ISO 8601 with milliseconds. A value\n"
    "not known is '-' (null in JSON). dev is the device of the topic\n"
    "(onr/1/d/DEV/... or onr/1/p/PROV/dev/DEV/...), else the body's dev, else\n"
    "the device a pairing's label names. In text, a value from the network is\n"
    "escaped: every byte but visible ASCII (and = \\\" \\\\) as \\xNN, so no value can\n"
    "end its field or forge another (an empty one is KEY=), and a body key\n"
    "that is also a line key is written body.KEY.\n"
    "\n"
    "Nothing secret is printed: binary fields are written <bin N> (their\n"
    "length), except the identifiers re, nonce, kid, rand and serial (hex);\n"
    "a pairing's label is written ONR1:MFR:DEV:<claim>. Sealed profiles,\n"
    "claims, keys (op_keys too), RES/AUTS, CSRs, certificates and vouchers\n"
    "show as lengths. Roaming's fields are shown: a hello's plmn, a\n"
    "registration's user and policy, a status's plmn, op, why,\n"
    "relocations, relocated and prev_op, and after the voucher of a\n"
    "voucher, profile_request or relocate its token's choice as\n"
    "voucher.op, voucher.plmn and voucher.why (decoded, not verified: a\n"
    "--peer signature check covers the message that carries it).\n"
    "\n"
    "step (the journey step of the message):\n"
    "  1            pairing, paired\n"
    "  2            registration, registered\n"
    "  3b           hello, voucher, no_operator\n"
    "  3c           profile_request, profile, attach_request, attach_challenge,\n"
    "               attach_response, attach_result, app_key, app_key_stored\n"
    "  4            enroll_request, enroll_response\n"
    "  5            alignment, aligned\n"
    "  relocation   relocation_request, relocate (on onr/1/p/PROV/dev/DEV/down,\n"
    "               the one operational topic that carries envelopes)\n"
    "  release      release, released\n"
    "  control      grant, revoke, cert_revoke, control_result (they travel\n"
    "               on $CONTROL, which onr/1/# does not cover)\n"
    "  status       status_request, status\n"
    "  stats        broker_stats, service_stats\n"
    "  event        by its step field: relocating and relocated relocation;\n"
    "               from services of earlier versions also voucher 3b,\n"
    "               registered 2, profile and attached 3c\n"
    "  error,       the step of the message they answer if the monitor saw\n"
    "  pending      it, else by topic: on onr/1/d/DEV/down by the sender\n"
    "               (manufacturer 3b, operator 3c, provider 4); on\n"
    "               onr/1/s/ROLE/ID/in by sender and addressee (provider and\n"
    "               manufacturer 2, provider to operator 3c, operator to\n"
    "               provider 5, provider to control 1)\n"
    "  operational  telemetry and other application data on onr/1/p/... (but\n"
    "               .../down): not envelopes. Type telemetry (a topic ending\n"
    "               in /telemetry): in SPEC section 14's form its fields are\n"
    "               printed (body.dev, state, and plmn and nonce when the\n"
    "               device reports its network), else body {payload: <bin N>};\n"
    "               type application (any other topic): never decoded, body\n"
    "               {payload: <bin N>}\n"
    "\n"
    "verdict (the message's authenticator; no freshness or replay check):\n"
    "  none           the type has none (bound to its sender by the broker)\n"
    "  mac            MAC'ed with the device's key: not checkable here\n"
    "  verified       the signature verifies with a --peer key of the sender\n"
    "                 (or, for a hello, the key of its identity certificate\n"
    "                 when that key's device id is the sender) for the topic\n"
    "                 it arrived on\n"
    "  bad-signature  keys are known for the sender and none verifies\n"
    "  unknown-key    no key known for the sender\n"
    "A message that does not decode is type undecodable with the error's\n"
    "name as verdict (e.g. ETRUNCATED), and no body.\n"
    "\n"
    "Exit status: 0 after --count lines, --duration seconds, or SIGINT or\n"
    "SIGTERM; 1 the broker unreachable, the connection or the subscription\n"
    "refused, or the connection lost; 2 usage error.\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Everything the callbacks need. Large (the keys, the recent ids):
 * allocated. */
struct watch {
    struct ctl_keyring keys;
    struct ctl_filter filter;
    struct ctl_recent recent;
    bool json;
    long count;       /* lines to print, 0: no limit */
    long printed;
    int subscribed;   /* 0 waiting, 1 granted, -1 refused */
    bool write_error; /* stdout failed */
};

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted, const mosquitto_property *props)
{
    struct watch *w = obj;

    (void)mosq;
    (void)mid;
    (void)props;
    w->subscribed = qos_count == 1 && granted[0] >= 0 && granted[0] <= 2 ? 1 : -1;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct watch *w = obj;
    struct ctl_sighting s;
    struct timespec now;
    char when[32];

    (void)mosq;
    (void)props;
    if (m->topic == NULL || m->payloadlen < 0 || (w->count > 0 && w->printed >= w->count))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    ctl_format_time((int64_t)now.tv_sec, (unsigned)(now.tv_nsec / 1000000), when);
    ctl_describe(&w->keys, &w->recent, when,
                 (struct onr_bytes){(const uint8_t *)m->topic, strlen(m->topic)}, m->payload,
                 (size_t)m->payloadlen, &s);
    if (!ctl_filter_match(&w->filter, &s))
        return;
    if (w->json)
        ctl_render_json(stdout, &s);
    else
        ctl_render_text(stdout, &s);
    if (fflush(stdout) != 0 || ferror(stdout))
        w->write_error = true;
    w->printed++;
}

/* --peer ROLE ID PUB: its three arguments are optarg and the next two. */
static int add_peer(struct watch *w, int argc, char **argv)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    enum onr_role role;
    const char *id, *path;
    int rc;

    if (optind + 1 >= argc || ctl_role_parse(optarg, true, &role) != ONR_OK ||
        argv[optind][0] == '-' || argv[optind + 1][0] == '-') {
        fprintf(stderr, "onrampctl: --peer takes ROLE (mfr, op, prov, ctl), ID and a PEM "
                        "public key\n");
        return CTL_EXIT_USAGE;
    }
    id = argv[optind];
    path = argv[optind + 1];
    optind += 2;
    rc = onr_p256_public_load(path, pub);
    if (rc == ONR_OK)
        rc = ctl_keyring_add(&w->keys, role, id, pub);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: --peer %s %s %s: %s\n", optarg, id, path,
                onr_strerror(rc));
        return rc == ONR_EINVAL || rc == ONR_ESPACE ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* A positive whole number of at most `max`, or -1. */
static long positive(const char *arg, long max)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);

    return end != arg && *end == '\0' && v > 0 && v <= max ? v : -1;
}

static const char *option_name(const struct option *options, int opt)
{
    for (size_t i = 0; options[i].name != NULL; i++)
        if (options[i].val == opt)
            return options[i].name;
    return "?";
}

/* Options into `w`, `b`, *duration. An exit code, CTL_EXIT_OK to go on;
 * -1 after --help. */
static int parse(int argc, char **argv, struct watch *w, struct ctl_broker *b, long *duration)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"json", no_argument, NULL, 'j'},
        {"device", required_argument, NULL, 'd'},
        {"role", required_argument, NULL, 'r'},
        {"service", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 'T'},
        {"peer", required_argument, NULL, 'P'},
        {"count", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    int rc;

    optind = 1;
    /* "+": no permutation, so --peer can take the two words after it */
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        rc = ONR_OK;
        switch (opt) {
        case 'j': w->json = true; break;
        case 'd':
            w->filter.dev = optarg;
            rc = onr_devid_check(optarg, strlen(optarg));
            break;
        case 'r': rc = ctl_filter_role(&w->filter, optarg); break;
        case 's': rc = ctl_filter_service(&w->filter, optarg); break;
        case 'T': rc = ctl_filter_type(&w->filter, optarg); break;
        case 'P':
            rc = add_peer(w, argc, argv);
            if (rc != CTL_EXIT_OK)
                return rc;
            break;
        case 'n':
            w->count = positive(optarg, 1000000000L);
            rc = w->count > 0 ? ONR_OK : ONR_ERANGE;
            break;
        case 'D':
            *duration = positive(optarg, 100L * 365 * 86400);
            rc = *duration > 0 ? ONR_OK : ONR_ERANGE;
            break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            if (ctl_broker_option(b, opt, optarg))
                break;
            fputs(usage, stderr);
            return CTL_EXIT_USAGE;
        }
        if (rc != ONR_OK) {
            fprintf(stderr, "onrampctl: --%s ", option_name(options, opt));
            ctl_text_value(stderr, (const uint8_t *)optarg, strlen(optarg));
            fprintf(stderr, ": %s\n", rc == ONR_ESPACE   ? "given too often"
                                       : rc == ONR_EINVAL ? "not known (see --help)"
                                                          : onr_strerror(rc));
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(b)) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Subscribe to onr/1/# and print until told to stop. An exit code. */
static int watch(struct mosquitto *mosq, struct watch *w, const struct ctl_broker *b,
                 long duration)
{
    time_t deadline = time(NULL) + b->timeout;
    time_t end = 0;
    int rc;

    mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
    mosquitto_message_v5_callback_set(mosq, on_message);
    rc = mosquitto_subscribe_v5(mosq, NULL, ONR_TOPIC_FILTER_ALL, 1, 0, NULL);
    while (rc == MOSQ_ERR_SUCCESS && w->subscribed == 0 && !stopping && time(NULL) < deadline)
        rc = mosquitto_loop(mosq, 100, 1);
    if (stopping)
        return CTL_EXIT_OK;
    if (rc != MOSQ_ERR_SUCCESS || w->subscribed != 1) {
        fprintf(stderr, "onrampctl: %s:%d: subscription to " ONR_TOPIC_FILTER_ALL " %s\n", b->host,
                b->port,
                rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc)
                : w->subscribed < 0    ? "refused (not a monitor's certificate?)"
                                       : "not answered");
        return CTL_EXIT_FAIL;
    }
    fprintf(stderr, "onrampctl: monitoring " ONR_TOPIC_FILTER_ALL " at %s:%d\n", b->host, b->port);
    if (duration > 0)
        end = time(NULL) + duration;
    while (!stopping && !w->write_error && (w->count == 0 || w->printed < w->count) &&
           (end == 0 || time(NULL) < end)) {
        rc = mosquitto_loop(mosq, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "onrampctl: %s:%d: connection lost: %s\n", b->host, b->port,
                    mosquitto_strerror(rc));
            return CTL_EXIT_FAIL;
        }
    }
    if (w->write_error) {
        fprintf(stderr, "onrampctl: cannot write the output\n");
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_monitor(int argc, char **argv)
{
    struct ctl_broker b = {.timeout = 10};
    struct watch *w = calloc(1, sizeof(*w));
    struct sigaction sa;
    struct mosquitto *mosq = NULL;
    long duration = 0;
    int rc;

    if (w == NULL) {
        fprintf(stderr, "onrampctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    rc = parse(argc, argv, w, &b, &duration);
    if (rc != CTL_EXIT_OK) {
        free(w);
        return rc < 0 ? CTL_EXIT_OK : rc;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mosq = ctl_connect(&b, w);
    if (mosq == NULL) {
        rc = stopping ? CTL_EXIT_OK : CTL_EXIT_FAIL;
        goto out;
    }
    rc = watch(mosq, w, &b, duration);
out:
    ctl_disconnect(mosq);
    free(w);
    return rc;
}
