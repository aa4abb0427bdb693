/*
 * onramp-device: run a device from its state directory, printing its
 * progress line by line.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/device.h"
#include "onramp/error.h"
#include "onramp/version.h"

#define EXIT_DONE 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_STOPPED 3

static const char usage[] =
    "usage: onramp-device --state DIR [--until STATE] [--max-attempts N]\n"
    "                     [--timeout SECONDS] [--quiet]\n"
    "       onramp-device --state DIR --factory-reset\n"
    "       onramp-device --help | --version\n";

static const char help[] =
    "NAME\n"
    "  onramp-device - run a device's journey, from onboarding to service\n"
    "\n"
    "SYNOPSIS\n"
    "  onramp-device --state DIR [--until STATE] [--max-attempts N]\n"
    "                [--timeout SECONDS] [--quiet]\n"
    "  onramp-device --state DIR --factory-reset\n"
    "\n"
    "DESCRIPTION\n"
    "  Runs the device whose state directory is DIR (made by onramp-factory\n"
    "  mint) through its journey, one step after the other:\n"
    "    FACTORY -> VOUCHED  connects to a bootstrap broker of DIR/device.conf\n"
    "      (below) with anonymous TLS and a fresh proof of possession of its\n"
    "      identity key for that broker's name, says hello to its manufacturer\n"
    "      with a fresh nonce, and verifies and stores the voucher it gets. A\n"
    "      device no provider has claimed yet is told \"pending\": it stays\n"
    "      connected for the voucher to be pushed and asks again after the\n"
    "      time it was given.\n"
    "    VOUCHED -> PROFILED  asks the voucher's operator for a network\n"
    "      profile (ICCID, IMSI, Ki, OPc, AMF, PLMN, APN), sealed to the\n"
    "      device's sealing key for this request; opens, checks and stores it.\n"
    "    PROFILED -> NETWORK_ATTACHED  proves the profile in a Milenage AKA\n"
    "      run with the operator (challenge, RES or AUTS for a resync) and\n"
    "      stores the AKMA-style key identifier and provider key it derives.\n"
    "    NETWORK_ATTACHED -> ENROLLED  makes a service key (stored first, and\n"
    "      kept for every retry and restart), asks the voucher's provider for\n"
    "      a certificate (a CSR, MAC'ed with the provider key), and checks\n"
    "      and stores the answer: a chain for that key and this device that\n"
    "      verifies up to its CA, the service broker's CA and its endpoint\n"
    "      (mqtts://HOST:PORT). A provider that is not ready answers\n"
    "      \"pending\", as the manufacturer does.\n"
    "    ENROLLED -> OPERATIONAL  leaves the bootstrap broker, connects to\n"
    "      the endpoint with MQTT v5 over TLS and the service certificate,\n"
    "      and publishes {\"dev\":\"ID\",\"state\":\"OPERATIONAL\"} (QoS 1) to\n"
    "      onr/1/p/PROVIDER/dev/ID/telemetry; the broker's PUBACK makes it\n"
    "      OPERATIONAL. A device already OPERATIONAL connects there directly,\n"
    "      publishes the same telemetry, and is done once it is acknowledged.\n"
    "  Failures are retried with exponential backoff and jitter (1 s doubling\n"
    "  to 60 s), each time with a new request. Answers that do not verify,\n"
    "  open or check are reported and ignored.\n"
    "\n"
    "  Bootstrap brokers: device.conf lists 1 to 8 (broker NAME HOST PORT,\n"
    "  onramp-factory mint --broker, in its order). A run starts at a random\n"
    "  one and stays with it, across steps and reconnects, while it works. It\n"
    "  moves to the next one of the list (after the last, the first) when\n"
    "  that broker fails: no connection, no CONNACK or SUBACK in time, the\n"
    "  CONNECT or the subscription refused, the connection lost, or a request\n"
    "  left unanswered (the broker may be cut off from the services). An\n"
    "  error answer or a pending one keeps it where it is. Each attempt has\n"
    "  the backoff above and a fresh proof, bound to that broker's name.\n"
    "\n"
    "  Every completed step is stored in DIR, written atomically, before the\n"
    "  next starts: a restarted device resumes where it was (a VOUCHED device\n"
    "  says no hello again, a PROFILED one asks for no profile again, an\n"
    "  ENROLLED one goes to its service broker directly). Files:\n"
    "    journey   the state's name\n"
    "    voucher   the voucher token\n"
    "    profile   the network profile (secret, 0600; never printed)\n"
    "    sqn       the USIM's sequence numbers: 32 lines, line i the decimal\n"
    "              SEQ highest accepted in IND slot i; none: all zero\n"
    "    akma      the key identifier (16 bytes) and provider key (32 bytes;\n"
    "              secret, 0600)\n"
    "    service.key     the service key, PEM (secret, 0600)\n"
    "    service.pem     the service certificate chain, PEM, leaf first\n"
    "    service-ca.pem  the service broker's CA, PEM\n"
    "    endpoint  the service broker, mqtts://HOST:PORT\n"
    "\n"
    "  --factory-reset takes the device back to FACTORY, without running it\n"
    "  (after its provider released it: onrampctl release). It removes the\n"
    "  files above, journey first (a power cut during the reset leaves a\n"
    "  FACTORY device), then the others from the last step's back, each\n"
    "  removal made durable before the next, and the temporaries of\n"
    "  interrupted writes of them. The factory's files stay as they are:\n"
    "  identity.key, identity.pem, sealing.key, manufacturer.pub,\n"
    "  voucher.pub, broker-ca.pem, device.conf, label.txt and label.png,\n"
    "  and so do files the device did not write. Secrets are unlinked, not\n"
    "  overwritten (on flash and journaling file systems an overwrite would\n"
    "  not erase them either). Resetting a FACTORY device changes nothing.\n"
    "  The device must not be running meanwhile.\n"
    "\n"
    "OPTIONS\n"
    "  --state DIR         the device's state directory (required)\n"
    "  --until STATE       stop once STATE is reached: VOUCHED, PROFILED,\n"
    "                      NETWORK_ATTACHED, ENROLLED or OPERATIONAL (the\n"
    "                      default, the last step this version knows)\n"
    "  --max-attempts N    failed attempts in a row before giving up (20)\n"
    "  --timeout SECONDS   how long to wait for the broker and for each answer\n"
    "                      to a request (15)\n"
    "  --quiet             print only state=, error, failed and stopped lines\n"
    "  --factory-reset     reset the device to FACTORY and exit (with --state\n"
    "                      only)\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "OUTPUT\n"
    "  One line per event on stdout, flushed at once: the event name, then\n"
    "  key=value pairs. reason= values are always in double quotes, with \\\"\n"
    "  and \\\\ escaped and other bytes outside printable ASCII as \\xHH:\n"
    "    state=NAME dev=ID              at start (the state it resumes at) and\n"
    "       [manufacturer=ID provider=ID operator=ID expires=UNIXTIME]\n"
    "       [iccid=DIGITS imsi=DIGITS] [kid=HEX]\n"
    "       [serial=HEX not_after=UNIXTIME endpoint=mqtts://HOST:PORT]\n"
    "                                   after each step; the voucher's fields\n"
    "                                   from VOUCHED on, the profile's from\n"
    "                                   PROFILED on, the attach's key\n"
    "                                   identifier from NETWORK_ATTACHED on,\n"
    "                                   the service certificate's serial and\n"
    "                                   end of validity and the endpoint from\n"
    "                                   ENROLLED on\n"
    "    connecting broker=NAME host=HOST port=PORT\n"
    "                                   to a bootstrap broker\n"
    "    connected [broker=service]     admitted by the bootstrap broker, or\n"
    "                                   by the service broker\n"
    "    hello manufacturer=ID\n"
    "    profile operator=ID            a profile request sent\n"
    "    attach operator=ID imsi=DIGITS an attach request sent\n"
    "    challenge                      a challenge verified, answered (RES)\n"
    "    resync                         a challenge's sequence number was not\n"
    "                                   fresh, answered with AUTS\n"
    "    enroll provider=ID             an enroll request sent\n"
    "    operating endpoint=mqtts://HOST:PORT\n"
    "                                   connecting to the service broker\n"
    "    telemetry topic=TOPIC          the service broker acknowledged the\n"
    "                                   telemetry\n"
    "    pending retry_after=SECONDS [reason=ESCAPED]\n"
    "    error code=NAME reason=ESCAPED\n"
    "                                   the manufacturer, operator or provider\n"
    "                                   answered an error\n"
    "    error file=NAME code=NAME reason=\"...\"\n"
    "                                   the state directory is unusable\n"
    "    refused what=WHAT code=NAME reason=\"...\"\n"
    "                                   an answer that did not verify, open or\n"
    "                                   check (WHAT: voucher, profile,\n"
    "                                   challenge, result, enrollment or\n"
    "                                   message), ignored;\n"
    "                                   a challenge with a bad MAC (EBADMAC) is\n"
    "                                   answered so and counts as a failure\n"
    "    retry attempt=N delay=SECONDS code=NAME reason=\"...\"\n"
    "    failed attempts=N code=NAME reason=\"...\"\n"
    "                                   the run gives up\n"
    "    stopped                        ended by SIGTERM or SIGINT\n"
    "    factory-reset dev=ID           the one line of --factory-reset\n"
    "  code= is an Onramp error name (proto/SPEC.md section 8, e.g. EDENIED),\n"
    "  or the number for one this version does not know. reason=\"...\" is\n"
    "  onramp-device's own text; reason=ESCAPED is text the network sent,\n"
    "  with every byte but visible ASCII (and = \" \\) as \\xHH, so it can\n"
    "  neither end its field nor forge another. Nothing secret is ever\n"
    "  printed. Diagnostics go to stderr.\n"
    "\n"
    "EXIT STATUS\n"
    "  0  the target state is reached (at once if it already was; an\n"
    "     OPERATIONAL device once its telemetry is acknowledged); with\n"
    "     --factory-reset, the device is reset\n"
    "  1  the run gave up, or the state directory is unusable (not a\n"
    "     device's, or a file that cannot be read or removed)\n"
    "  2  usage error\n"
    "  3  stopped by SIGTERM or SIGINT (what was stored stays stored)\n";

static int quiet;
static char open_error[600]; /* the open's error detail, for stderr */

static void print_state(const struct onr_device *dev)
{
    enum onr_device_state state = onr_device_state(dev);
    struct onr_device_voucher v;
    struct onr_device_network n;
    struct onr_device_service s;

    printf("state=%s dev=%s", onr_device_state_name(state), onr_device_id(dev));
    if (onr_device_voucher(dev, &v) == ONR_OK)
        printf(" manufacturer=%s provider=%s operator=%s expires=%llu", v.mfr, v.prov, v.op,
               (unsigned long long)v.expires);
    if (onr_device_network(dev, &n) == ONR_OK) {
        printf(" iccid=%s imsi=%s", n.iccid, n.imsi);
        if (state >= ONR_DEVICE_NETWORK_ATTACHED) {
            printf(" kid=");
            for (size_t i = 0; i < sizeof(n.kid); i++)
                printf("%02x", n.kid[i]);
        }
    }
    if (onr_device_service(dev, &s) == ONR_OK) {
        printf(" serial=");
        for (size_t i = 0; i < s.serial_len && i < sizeof(s.serial); i++)
            printf("%02x", s.serial[i]);
        printf(" not_after=%lld endpoint=%s", (long long)s.not_after, s.endpoint);
    }
    putchar('\n');
}

static void on_progress(void *arg, const struct onr_device *dev, const char *event,
                        const char *detail)
{
    (void)arg;
    if (strcmp(event, "error") == 0 && strncmp(detail, "file=", 5) == 0)
        snprintf(open_error, sizeof(open_error), "%s", detail);
    if (strcmp(event, "state") == 0)
        print_state(dev);
    else if (!quiet || strcmp(event, "error") == 0 || strcmp(event, "failed") == 0)
        printf("%s%s%s\n", event, detail[0] != '\0' ? " " : "", detail);
    fflush(stdout);
}

struct run {
    struct event_base *base;
    int result;
    int ended;
};

static void on_done(void *arg, const struct onr_device *dev, int result)
{
    struct run *r = arg;

    (void)dev;
    r->result = result;
    r->ended = 1;
    event_base_loopbreak(r->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    onr_device_stop(arg);
}

/* A decimal in [min, max], or -1. */
static long number(const char *s, long min, long max)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    return v;
}

static int bad_usage(const char *why, const char *arg)
{
    if (why != NULL)
        fprintf(stderr, "onramp-device: %s%s%s\n", why, arg != NULL ? ": " : "",
                arg != NULL ? arg : "");
    fputs(usage, stderr);
    return EXIT_USAGE;
}

/* The run itself, once the options are read. */
static int run_device(const char *state, const struct onr_device_options *opt)
{
    struct run run = {NULL, ONR_OK, 0};
    struct onr_device_callbacks cb = {.progress = on_progress, .done = on_done, .arg = &run};
    struct onr_device *dev = NULL;
    struct event *sigs[2] = {NULL, NULL};
    int rc;

    rc = onr_device_open(state, &cb, opt, &dev);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: cannot open the device in %s: %s\n", state,
                open_error[0] != '\0' ? open_error : onr_strerror(rc));
        return EXIT_FAILED;
    }
    run.base = event_base_new();
    if (run.base != NULL) {
        sigs[0] = evsignal_new(run.base, SIGTERM, on_signal, dev);
        sigs[1] = evsignal_new(run.base, SIGINT, on_signal, dev);
    }
    rc = run.base == NULL || sigs[0] == NULL || sigs[1] == NULL ? ONR_ENOMEM : ONR_OK;
    for (int i = 0; i < 2 && rc == ONR_OK; i++)
        if (event_add(sigs[i], NULL) != 0)
            rc = ONR_ENOMEM;
    if (rc == ONR_OK)
        rc = onr_device_start(dev, run.base);
    if (rc == ONR_OK && !run.ended)
        event_base_dispatch(run.base);
    /* the run ended: the target reached, given up, or a signal */
    for (int i = 0; i < 2; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    onr_device_close(dev);
    if (run.base != NULL)
        event_base_free(run.base);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: %s\n", onr_strerror(rc));
        return EXIT_FAILED;
    }
    if (run.result == ONR_EBUSY) {
        printf("stopped\n");
        fflush(stdout);
        return EXIT_STOPPED;
    }
    return run.result == ONR_OK ? EXIT_DONE : EXIT_FAILED;
}

/* --factory-reset: the reset, then the device opened to name it (and to
 * prove its factory files still make a device). */
static int factory_reset(const char *state)
{
    struct onr_device_callbacks cb = {.progress = on_progress};
    struct onr_device *dev = NULL;
    int rc = onr_device_factory_reset(state);

    if (rc == ONR_EINVAL) {
        fprintf(stderr, "onramp-device: %s is not a device's state directory (a "
                        "directory with device.conf)\n", state);
        return EXIT_FAILED;
    }
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: cannot reset the device in %s: %s\n", state,
                onr_strerror(rc));
        return EXIT_FAILED;
    }
    rc = onr_device_open(state, &cb, NULL, &dev);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: reset, but cannot open the device in %s: %s\n", state,
                open_error[0] != '\0' ? open_error : onr_strerror(rc));
        return EXIT_FAILED;
    }
    printf("factory-reset dev=%s\n", onr_device_id(dev));
    fflush(stdout);
    onr_device_close(dev);
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"max-attempts", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"factory-reset", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct onr_device_options opt = {0}; /* target 0: the last state */
    const char *state = NULL;
    int reset = 0;
    int run_options = 0; /* options of a run: none go with --factory-reset */
    long n;
    int c;
    int status;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'u' || c == 'm' || c == 't' || c == 'q')
            run_options++;
        switch (c) {
        case 's': state = optarg; break;
        case 'R': reset = 1; break;
        case 'u':
            if (onr_device_state_from_name(optarg, &opt.target) != ONR_OK ||
                opt.target == ONR_DEVICE_FACTORY)
                return bad_usage("--until: not a state to reach (VOUCHED, PROFILED, "
                                 "NETWORK_ATTACHED, ENROLLED, OPERATIONAL)",
                                 optarg);
            break;
        case 'm':
            n = number(optarg, 1, 1000000);
            if (n < 0)
                return bad_usage("--max-attempts: a number from 1", optarg);
            opt.max_attempts = (unsigned)n;
            break;
        case 't':
            n = number(optarg, 1, 86400);
            if (n < 0)
                return bad_usage("--timeout: seconds, 1 to 86400", optarg);
            opt.answer_timeout = (unsigned)n;
            break;
        case 'q': quiet = 1; break;
        case 'h': fputs(help, stdout); return EXIT_DONE;
        case 'V': printf("onramp-device %s\n", ONR_VERSION_STRING); return EXIT_DONE;
        default: return bad_usage("unknown option or missing argument", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return bad_usage("unexpected argument", argv[optind]);
    if (state == NULL)
        return bad_usage("--state DIR is required", NULL);
    if (reset && run_options > 0)
        return bad_usage("--factory-reset goes with --state DIR only", NULL);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    status = reset ? factory_reset(state) : run_device(state, &opt);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}
