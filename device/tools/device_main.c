/*
 * onramp-device: run a device from its state directory, printing its
 * progress line by line.
 */
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

static const char usage[] =
    "usage: onramp-device --state DIR [--max-attempts N] [--timeout SECONDS]\n"
    "\n"
    "Run the onboarding journey of the device whose state directory is DIR\n"
    "(made by onramp-factory mint): connect to a bootstrap broker from\n"
    "DIR/device.conf with anonymous TLS and a proof of possession of the\n"
    "identity key, say hello to the manufacturer, verify the voucher and store\n"
    "it. A device no provider has claimed yet is told \"pending\": it waits for\n"
    "the voucher to be pushed and asks again now and then. Every completed\n"
    "step is stored in DIR before the next starts; a restarted device resumes\n"
    "where it was. It exits when the last step this version knows (VOUCHED)\n"
    "is reached.\n"
    "\n"
    "  --state DIR          the device's state directory\n"
    "  --max-attempts N     failed attempts in a row before giving up (20)\n"
    "  --timeout SECONDS    how long to wait for each answer (15)\n"
    "  --help, --version\n"
    "\n"
    "Output, one line per event on stdout, key=value after the event name:\n"
    "  state=NAME dev=ID [manufacturer=ID provider=ID operator=ID expires=T]\n"
    "                       at start (the state it resumes at) and after each\n"
    "                       completed step\n"
    "  connecting broker=NAME HOST:PORT\n"
    "  connected\n"
    "  hello manufacturer=ID\n"
    "  pending retry_after=SECONDS\n"
    "  refused what=...     an answer that did not verify (ignored)\n"
    "  retry reason=...     a failed attempt and the wait before the next\n"
    "  gave up reason=...   the last failure, then exit 1\n"
    "Nothing secret is ever printed.\n"
    "\n"
    "Exit status: 0 the journey is complete, 1 it gave up (or the state\n"
    "directory is unusable), 2 usage error, 3 stopped by SIGTERM or SIGINT.\n";

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
    if (strcmp(event, "state") == 0)
        print_state(dev);
    else if (strcmp(event, "connecting") == 0)
        printf("connecting broker=%s\n", detail);
    else if (strcmp(event, "hello") == 0)
        printf("hello manufacturer=%s\n", detail);
    else if (strcmp(event, "pending") == 0)
        printf("pending %s\n", detail);
    else if (strcmp(event, "refused") == 0)
        printf("refused what=\"%s\"\n", detail);
    else if (detail[0] != '\0')
        printf("%s reason=\"%s\"\n", event, detail);
    else
        printf("%s\n", event);
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

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},  {"max-attempts", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    struct run run = {NULL, ONR_OK, 0};
    struct onr_device_callbacks cb = {.progress = on_progress, .done = on_done, .arg = &run};
    struct onr_device_options opt = {.target = ONR_DEVICE_VOUCHED};
    struct onr_device *dev = NULL;
    struct event_base *base = NULL;
    struct event *sigs[2] = {NULL, NULL};
    const char *state = NULL;
    int opt_c;
    int rc;

    while ((opt_c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt_c) {
        case 's': state = optarg; break;
        case 'm': opt.max_attempts = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': opt.answer_timeout = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("onramp-device %s\n", ONR_VERSION_STRING); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (state == NULL || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    rc = onr_device_open(state, &cb, &opt, &dev);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: %s: %s\n", state, onr_strerror(rc));
        mosquitto_lib_cleanup();
        return 1;
    }
    base = event_base_new();
    run.base = base;
    if (base != NULL) {
        sigs[0] = evsignal_new(base, SIGTERM, on_signal, dev);
        sigs[1] = evsignal_new(base, SIGINT, on_signal, dev);
    }
    rc = base == NULL || sigs[0] == NULL || sigs[1] == NULL ? ONR_ENOMEM : ONR_OK;
    for (int i = 0; i < 2 && rc == ONR_OK; i++)
        event_add(sigs[i], NULL);
    if (rc == ONR_OK)
        rc = onr_device_start(dev, base);
    if (rc == ONR_OK && !run.ended)
        event_base_dispatch(base);
    /* the run ended: by reaching the target, giving up, or a signal */
    for (int i = 0; i < 2; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    onr_device_close(dev);
    if (base != NULL)
        event_base_free(base);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: %s\n", onr_strerror(rc));
        return 1;
    }
    if (run.result == ONR_EBUSY)
        return 3; /* stopped by a signal */
    return run.result == ONR_OK ? 0 : 1;
}
