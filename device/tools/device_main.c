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
    "       onramp-device --help | --version\n";

static const char help[] =
    "NAME\n"
    "  onramp-device - run a device's onboarding journey\n"
    "\n"
    "SYNOPSIS\n"
    "  onramp-device --state DIR [--until STATE] [--max-attempts N]\n"
    "                [--timeout SECONDS] [--quiet]\n"
    "\n"
    "DESCRIPTION\n"
    "  Runs the device whose state directory is DIR (made by onramp-factory\n"
    "  mint): connects to a bootstrap broker of DIR/device.conf (in order, then\n"
    "  round robin) with anonymous TLS and a fresh proof of possession of its\n"
    "  identity key, says hello to its manufacturer with a fresh nonce, and\n"
    "  verifies and stores the voucher it gets. A device no provider has\n"
    "  claimed yet is told \"pending\": it stays connected for the voucher to be\n"
    "  pushed and asks again after the time it was given. Failures are retried\n"
    "  with exponential backoff and jitter (1 s doubling to 60 s). Answers that\n"
    "  do not verify are reported and ignored.\n"
    "\n"
    "  Every completed step is stored in DIR (files journey and voucher,\n"
    "  written atomically) before the next starts: a restarted device resumes\n"
    "  where it was, and a VOUCHED device says no hello again.\n"
    "\n"
    "OPTIONS\n"
    "  --state DIR         the device's state directory (required)\n"
    "  --until STATE       stop once STATE is reached: VOUCHED (the default,\n"
    "                      the last step this version knows)\n"
    "  --max-attempts N    failed attempts in a row before giving up (20)\n"
    "  --timeout SECONDS   how long to wait for the broker and for each answer\n"
    "                      to a hello (15)\n"
    "  --quiet             print only state=, error, failed and stopped lines\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "OUTPUT\n"
    "  One line per event on stdout, flushed at once: the event name, then\n"
    "  key=value pairs. reason= values are always in double quotes, with \\\"\n"
    "  and \\\\ escaped and other bytes outside printable ASCII as \\xHH:\n"
    "    state=NAME dev=ID              at start (the state it resumes at) and\n"
    "       [manufacturer=ID provider=ID operator=ID expires=UNIXTIME]\n"
    "                                   after each step; the voucher's fields\n"
    "                                   from VOUCHED on\n"
    "    connecting broker=NAME host=HOST port=PORT\n"
    "    connected\n"
    "    hello manufacturer=ID\n"
    "    pending retry_after=SECONDS [reason=\"...\"]\n"
    "    error code=NAME reason=\"...\"\n"
    "                                   the manufacturer answered an error\n"
    "    error file=NAME code=NAME reason=\"...\"\n"
    "                                   the state directory is unusable\n"
    "    refused what=voucher|message code=NAME reason=\"...\"\n"
    "                                   an answer that did not verify, ignored\n"
    "    retry attempt=N delay=SECONDS code=NAME reason=\"...\"\n"
    "    failed attempts=N code=NAME reason=\"...\"\n"
    "                                   the run gives up\n"
    "    stopped                        ended by SIGTERM or SIGINT\n"
    "  code= is an Onramp error name (proto/SPEC.md section 8, e.g. EDENIED),\n"
    "  or the number for one this version does not know. Nothing secret is\n"
    "  ever printed. Diagnostics go to stderr.\n"
    "\n"
    "EXIT STATUS\n"
    "  0  the target state is reached (at once if it already was)\n"
    "  1  the run gave up, or the state directory is unusable\n"
    "  2  usage error\n"
    "  3  stopped by SIGTERM or SIGINT (what was stored stays stored)\n";

static int quiet;
static char open_error[600]; /* the open's error detail, for stderr */

static void print_state(const struct onr_device *dev)
{
    struct onr_device_voucher v;

    printf("state=%s dev=%s", onr_device_state_name(onr_device_state(dev)), onr_device_id(dev));
    if (onr_device_voucher(dev, &v) == ONR_OK)
        printf(" manufacturer=%s provider=%s operator=%s expires=%llu", v.mfr, v.prov, v.op,
               (unsigned long long)v.expires);
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

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"max-attempts", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct onr_device_options opt = {0}; /* target 0: the last state */
    const char *state = NULL;
    long n;
    int c;
    int status;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'u':
            if (onr_device_state_from_name(optarg, &opt.target) != ONR_OK ||
                opt.target == ONR_DEVICE_FACTORY)
                return bad_usage("--until: not a state to reach (VOUCHED)", optarg);
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
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    status = run_device(state, &opt);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}
