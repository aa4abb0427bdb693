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

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/device.h"
#include "onramp/error.h"
#include "onramp/policy.h"
#include "onramp/version.h"

#define EXIT_DONE 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_STOPPED 3

static const char usage[] =
    "usage: onramp-device --state DIR [--until STATE] [--visited-plmn MCCMNC] [--stay]\n"
    "                     [--renew-before SECONDS] [--max-attempts N] [--timeout SECONDS]\n"
    "                     [--quiet]\n"
    "       onramp-device --state DIR --factory-reset\n"
    "       onramp-device --help | --version\n";

static const char help[] =
    "NAME\n"
    "  onramp-device - run a device's journey, from onboarding to service\n"
    "\n"
    "SYNOPSIS\n"
    "  onramp-device --state DIR [--until STATE] [--visited-plmn MCCMNC] [--stay]\n"
    "                [--renew-before SECONDS] [--max-attempts N] [--timeout SECONDS]\n"
    "                [--quiet]\n"
    "  onramp-device --state DIR --factory-reset\n"
    "\n"
    "DESCRIPTION\n"
    "  Runs the device whose state directory is DIR (made by onramp-factory\n"
    "  mint) through its journey, one step after the other:\n"
    "    FACTORY -> VOUCHED  connects to a bootstrap broker of DIR/device.conf\n"
    "      (below) with anonymous TLS and a fresh proof of possession of its\n"
    "      identity key for that broker's name, says hello to its manufacturer\n"
    "      with a fresh nonce and the network it is on (its visited PLMN, if\n"
    "      it knows it), and verifies and stores the voucher it gets: the\n"
    "      operator its owner's policy names for that country. A device no\n"
    "      provider has claimed yet is told \"pending\": it stays connected\n"
    "      for the voucher to be pushed and asks again after the time it was\n"
    "      given. One whose owner's policy names no operator there is told\n"
    "      ENOOPERATOR and asks again with its backoff.\n"
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
    "      subscribes to onr/1/p/PROVIDER/dev/ID/down and publishes (QoS 1)\n"
    "      to onr/1/p/PROVIDER/dev/ID/telemetry\n"
    "        {\"dev\":\"ID\",\"state\":\"OPERATIONAL\"}, or with its visited PLMN\n"
    "        {\"dev\":\"ID\",\"state\":\"OPERATIONAL\",\"plmn\":\"PLMN\",\"nonce\":\"HEX\"}\n"
    "      (a fresh nonce, stored first); the broker's PUBACK makes it\n"
    "      OPERATIONAL. A device already OPERATIONAL connects there directly,\n"
    "      publishes its telemetry again, and is done once it is acknowledged,\n"
    "      or with --stay stays connected until stopped.\n"
    "    OPERATIONAL -> RELOCATING  a relocate from its provider on .../down:\n"
    "      a voucher from its manufacturer for another operator, answering\n"
    "      one of its telemetries. The device checks it (its provider's\n"
    "      signature, its manufacturer's voucher key, this device, not\n"
    "      expired, its provider, one of its last 8 telemetry nonces and the\n"
    "      PLMN reported with it, another operator) and stores it in next/.\n"
    "    RELOCATING -> RELOCATION_PROFILED -> RELOCATED  it gets a profile from\n"
    "      the new operator and attaches with it over a bootstrap broker, as\n"
    "      when it onboarded, keeping its own profile, service key and\n"
    "      certificate until the new attach succeeds; then the new profile\n"
    "      takes the old one's place, and the device is OPERATIONAL again:\n"
    "      it reconnects to its service broker and reports its telemetry.\n"
    "      A relocation that keeps failing (--max-attempts failed attempts in\n"
    "      a row, or its voucher expiring before the new profile is stored)\n"
    "      is abandoned: the device goes on with its old profile.\n"
    "    OPERATIONAL: certificate renewal  once its service certificate is\n"
    "      within --renew-before of its end of validity (default a third of\n"
    "      its lifetime), less a jitter of up to a quarter of that which the\n"
    "      certificate's serial fixes (a fleet made on one day spreads over\n"
    "      weeks), the device makes a new service key (renew/service.key,\n"
    "      stored first), and asks its provider, on\n"
    "      onr/1/p/PROVIDER/dev/ID/renew and signed with the key in force, for\n"
    "      a certificate for it; it checks the answer as an enrollment's,\n"
    "      stores it in renew/, switches it in (the new key, chain, CA and\n"
    "      endpoint over the old ones), connects again with it and, after its\n"
    "      telemetry, says renewed until its provider answers that the old\n"
    "      certificate is revoked. A run that is not staying does this when\n"
    "      it connects and the certificate is due; one that stays, when it\n"
    "      comes due. A certificate past its end of validity (the device was\n"
    "      off too long) is not renewed: the device goes back to\n"
    "      NETWORK_ATTACHED and enrolls again, through a bootstrap broker,\n"
    "      with a new service key.\n"
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
    "    reported  the nonces of its last 8 telemetries with a visited PLMN,\n"
    "              with that PLMN (a relocation answers one of them)\n"
    "    next/     while relocating: the new operator's voucher, profile, sqn\n"
    "              and akma, until they take the place of the device's own\n"
    "    renew/    while renewing: the new service key (secret, 0600), then the\n"
    "              new chain, CA and endpoint, then ready (the switch is due)\n"
    "    renewed   a renewal in force that its provider has not confirmed\n"
    "  A relocation cut off anywhere resumes where it was: the old profile\n"
    "  stays the device's until the new attach is stored, and a device cut\n"
    "  off during the switch finishes it when it starts; so is a renewal:\n"
    "  until its answer is stored whole the old certificate is in force (the\n"
    "  renew request asked again names the same key), from then on the new\n"
    "  one (a cut switch is finished when it starts). Its provider revokes\n"
    "  the old certificate only after the device's renewed, signed with the\n"
    "  new key.\n"
    "\n"
    "  --factory-reset takes the device back to FACTORY, without running it\n"
    "  (after its provider released it: onrampctl release). It removes the\n"
    "  files above, journey first (a power cut during the reset leaves a\n"
    "  FACTORY device), then the others from the last step's back, each\n"
    "  removal made durable before the next, and the temporaries of\n"
    "  interrupted writes of them. The factory's files stay as they are:\n"
    "  identity.key, identity.pem, sealing.key, manufacturer.pub,\n"
    "  voucher.pub, broker-ca.pem, device.conf, label.txt, label.ndef and\n"
    "  label.png,\n"
    "  and so do files the device did not write. Secrets are unlinked, not\n"
    "  overwritten (on flash and journaling file systems an overwrite would\n"
    "  not erase them either). Resetting a FACTORY device changes nothing.\n"
    "  The device must not be running meanwhile.\n"
    "\n"
    "OPTIONS\n"
    "  --state DIR         the device's state directory (required)\n"
    "  --until STATE       stop once STATE is reached: VOUCHED, PROFILED,\n"
    "                      NETWORK_ATTACHED, ENROLLED or OPERATIONAL (the\n"
    "                      default, the last step of onboarding)\n"
    "  --visited-plmn MCCMNC\n"
    "                      the network the device is on (5 or 6 digits, e.g.\n"
    "                      26201), instead of DIR/device.conf's visited_plmn:\n"
    "                      its hellos and telemetries report it (on a real\n"
    "                      device the modem says it)\n"
    "  --stay              once OPERATIONAL, stay connected to the service\n"
    "                      broker until stopped (reconnecting when the\n"
    "                      connection is lost), for its provider's relocate\n"
    "                      and its certificate's renewal\n"
    "  --renew-before SECONDS\n"
    "                      renew the service certificate this long before its\n"
    "                      end of validity (less the jitter; default: a third\n"
    "                      of its lifetime)\n"
    "  SIGHUP reads visited_plmn from DIR/device.conf again, as a modem would\n"
    "  tell of a new network (none there: none known; a malformed one is\n"
    "  reported and ignored); an OPERATIONAL device on its service broker\n"
    "  reports a new one in a new telemetry at once.\n"
    "  --max-attempts N    failed attempts in a row before giving up (20); the\n"
    "                      manufacturer's ENOOPERATOR (no operator in the\n"
    "                      owner's policy for the visited country) is retried\n"
    "                      with the same backoff until the owner adds one, never\n"
    "                      given up\n"
    "  --timeout SECONDS   how long to wait for the broker and for each answer\n"
    "                      to a request (15)\n"
    "  --quiet             print only state=, error, failed and stopped lines\n"
    "  --factory-reset     reset the device to FACTORY and exit (with --state\n"
    "                      only)\n"
    "  A malformed --visited-plmn is a usage error; a malformed visited_plmn in\n"
    "  device.conf keeps the device from starting (error file=device.conf\n"
    "  key=visited_plmn).\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "OUTPUT\n"
    "  One line per event on stdout, flushed at once: the event name, then\n"
    "  key=value pairs. reason= values are always in double quotes, with \\\"\n"
    "  and \\\\ escaped and other bytes outside printable ASCII as \\xHH:\n"
    "    state=NAME dev=ID [visited=PLMN]\n"
    "       [manufacturer=ID provider=ID operator=ID [reason=WHY]\n"
    "        [chosen_in=PLMN] expires=UNIXTIME]\n"
    "       [iccid=DIGITS imsi=DIGITS] [kid=HEX]\n"
    "       [serial=HEX not_after=UNIXTIME endpoint=mqtts://HOST:PORT]\n"
    "       [next_operator=ID [next_reason=WHY] [next_chosen_in=PLMN]]\n"
    "                                   at start (the state it resumes at) and\n"
    "                                   after each step; visited= the network\n"
    "                                   it is on, if it knows it; the\n"
    "                                   voucher's fields from VOUCHED on: its\n"
    "                                   operator, why it was chosen (user,\n"
    "                                   policy or fallback) and for which\n"
    "                                   visited network; the profile's from\n"
    "                                   PROFILED on, the attach's key\n"
    "                                   identifier from NETWORK_ATTACHED on,\n"
    "                                   the service certificate's serial and\n"
    "                                   end of validity and the endpoint from\n"
    "                                   ENROLLED on; while relocating, the\n"
    "                                   operator it moves to (next_...)\n"
    "    connecting broker=NAME host=HOST port=PORT\n"
    "                                   to a bootstrap broker\n"
    "    connected [broker=service]     admitted by the bootstrap broker, or\n"
    "                                   by the service broker\n"
    "    hello manufacturer=ID [visited=PLMN]\n"
    "    profile operator=ID            a profile request sent\n"
    "    attach operator=ID imsi=DIGITS an attach request sent (no challenge\n"
    "                                   came with the profile, or it was lost)\n"
    "    challenge                      a challenge (the profile's or an\n"
    "                                   attach request's) verified, answered\n"
    "                                   (RES)\n"
    "    resync                         a challenge's sequence number was not\n"
    "                                   fresh, answered with AUTS\n"
    "    enroll provider=ID             an enroll request sent\n"
    "    operating endpoint=mqtts://HOST:PORT\n"
    "                                   connecting to the service broker\n"
    "    telemetry topic=TOPIC [visited=PLMN]\n"
    "                                   the service broker acknowledged the\n"
    "                                   telemetry\n"
    "    relocate operator=ID [reason=WHY] [visited=PLMN]\n"
    "                                   a relocate taken: the device moves to\n"
    "                                   that operator\n"
    "    renew serial=HEX not_after=UNIXTIME\n"
    "                                   a renew request sent for the\n"
    "                                   certificate in force\n"
    "    renewed serial=HEX not_after=UNIXTIME\n"
    "                                   the new certificate stored and in\n"
    "                                   force: the device connects with it\n"
    "    confirmed serial=HEX           the provider revoked the certificate\n"
    "                                   the renewal replaced\n"
    "    unrenewed attempts=N code=NAME reason=\"...\" [delay=SECONDS]\n"
    "                                   the renewal got no answer or an error:\n"
    "                                   the certificate in force still works;\n"
    "                                   with --stay asked again after SECONDS,\n"
    "                                   else the run ends (0) and the next asks\n"
    "    expired serial=HEX not_after=UNIXTIME\n"
    "                                   the certificate expired: back to\n"
    "                                   NETWORK_ATTACHED, to enroll again\n"
    "    abandoned attempts=N code=NAME reason=\"...\"\n"
    "                                   a relocation given up: the device goes\n"
    "                                   on with its old profile\n"
    "    pending retry_after=SECONDS [reason=ESCAPED]\n"
    "    error code=NAME reason=ESCAPED\n"
    "                                   the manufacturer, operator or provider\n"
    "                                   answered an error (ENOOPERATOR: no\n"
    "                                   operator for the visited country)\n"
    "    error file=NAME code=NAME reason=\"...\"\n"
    "                                   the state directory is unusable\n"
    "    refused what=WHAT code=NAME reason=\"...\"\n"
    "                                   an answer that did not verify, open or\n"
    "                                   check (WHAT: voucher, profile,\n"
    "                                   challenge, result, enrollment,\n"
    "                                   renewal, relocate or message),\n"
    "                                   ignored (a\n"
    "                                   relocate to the operator it has:\n"
    "                                   EEXIST);\n"
    "                                   a challenge with a bad MAC (EBADMAC) is\n"
    "                                   answered so and counts as a failure\n"
    "    retry attempt=N delay=SECONDS code=NAME reason=\"...\"\n"
    "    failed attempts=N code=NAME reason=\"...\"\n"
    "                                   the run gives up\n"
    "    stopped                        ended by SIGTERM or SIGINT\n"
    "    visited plmn=PLMN|-            SIGHUP: the visited PLMN now (- none)\n"
    "    error file=device.conf key=visited_plmn code=EFORMAT reason=\"...\"\n"
    "                                   SIGHUP: a malformed one, ignored\n"
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

/* A voucher's choice: why its operator, for which network (if it says). */
static void print_choice(const char *prefix, const struct onr_device_voucher *v)
{
    if (v->why != 0)
        printf(" %sreason=%s", prefix, onr_choice_name(v->why));
    if (v->plmn[0] != '\0')
        printf(" %schosen_in=%s", prefix, v->plmn);
}

static void print_state(const struct onr_device *dev)
{
    enum onr_device_state state = onr_device_state(dev);
    struct onr_device_voucher v;
    struct onr_device_network n;
    struct onr_device_service s;
    const char *visited = onr_device_visited_plmn(dev);

    printf("state=%s dev=%s", onr_device_state_name(state), onr_device_id(dev));
    if (visited[0] != '\0')
        printf(" visited=%s", visited);
    if (onr_device_voucher(dev, &v) == ONR_OK) {
        printf(" manufacturer=%s provider=%s operator=%s", v.mfr, v.prov, v.op);
        print_choice("", &v);
        printf(" expires=%llu", (unsigned long long)v.expires);
    }
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
    if (onr_device_relocation(dev, &v) == ONR_OK) {
        printf(" next_operator=%s", v.op);
        print_choice("next_", &v);
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

/* What SIGHUP reads again: the device and its state directory. */
struct reload {
    struct onr_device *dev;
    const char *state;
};

/* SIGHUP: device.conf's visited_plmn, as a modem telling of a new network. */
static void on_hangup(evutil_socket_t sig, short what, void *arg)
{
    const struct reload *r = arg;
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    const char *plmn = NULL;
    char path[4096];
    int rc;

    (void)sig;
    (void)what;
    snprintf(path, sizeof(path), "%s/device.conf", r->state);
    rc = onr_config_load(path, &cfg, &err);
    if (rc == ONR_OK) {
        plmn = onr_config_get(cfg, "visited_plmn");
        rc = onr_device_set_visited_plmn(r->dev, plmn) == ONR_OK ? ONR_OK : ONR_EFORMAT;
    }
    if (rc != ONR_OK)
        printf("error file=device.conf key=visited_plmn code=%s reason=\"%s\"\n",
               onr_error_name(rc), "ignored: the visited PLMN stays");
    else
        printf("visited plmn=%s\n", plmn != NULL ? plmn : "-");
    fflush(stdout);
    onr_config_free(cfg);
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
static int run_device(const char *state, const struct onr_device_options *opt,
                      const char *visited)
{
    struct run run = {NULL, ONR_OK, 0};
    struct onr_device_callbacks cb = {.progress = on_progress, .done = on_done, .arg = &run};
    struct onr_device *dev = NULL;
    struct event *sigs[3] = {NULL, NULL, NULL};
    struct reload reload = {NULL, state};
    int rc;

    rc = onr_device_open(state, &cb, opt, &dev);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-device: cannot open the device in %s: %s\n", state,
                open_error[0] != '\0' ? open_error : onr_strerror(rc));
        return EXIT_FAILED;
    }
    if (visited != NULL && onr_device_set_visited_plmn(dev, visited) != ONR_OK) {
        onr_device_close(dev); /* checked with the options: cannot be */
        return EXIT_USAGE;
    }
    run.base = event_base_new();
    reload.dev = dev;
    if (run.base != NULL) {
        sigs[0] = evsignal_new(run.base, SIGTERM, on_signal, dev);
        sigs[1] = evsignal_new(run.base, SIGINT, on_signal, dev);
        sigs[2] = evsignal_new(run.base, SIGHUP, on_hangup, &reload);
    }
    rc = run.base == NULL || sigs[0] == NULL || sigs[1] == NULL || sigs[2] == NULL ? ONR_ENOMEM
                                                                                 : ONR_OK;
    for (int i = 0; i < 3 && rc == ONR_OK; i++)
        if (event_add(sigs[i], NULL) != 0)
            rc = ONR_ENOMEM;
    if (rc == ONR_OK)
        rc = onr_device_start(dev, run.base);
    if (rc == ONR_OK && !run.ended)
        event_base_dispatch(run.base);
    /* the run ended: the target reached, given up, or a signal */
    for (int i = 0; i < 3; i++)
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
        {"visited-plmn", required_argument, NULL, 'p'},
        {"stay", no_argument, NULL, 'S'},
        {"renew-before", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"factory-reset", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct onr_device_options opt = {0}; /* target 0: the last state */
    const char *state = NULL;
    const char *visited = NULL;
    int reset = 0;
    int run_options = 0; /* options of a run: none go with --factory-reset */
    long n;
    int c;
    int status;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'u' || c == 'm' || c == 't' || c == 'q' || c == 'p' || c == 'S' || c == 'r')
            run_options++;
        switch (c) {
        case 's': state = optarg; break;
        case 'R': reset = 1; break;
        case 'u':
            if (onr_device_state_from_name(optarg, &opt.target) != ONR_OK ||
                opt.target == ONR_DEVICE_FACTORY || opt.target > ONR_DEVICE_OPERATIONAL)
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
        case 'p':
            if (onr_plmn_check(optarg, strlen(optarg)) != ONR_OK)
                return bad_usage("--visited-plmn: not a PLMN (MCC and MNC, 5 or 6 digits)",
                                 optarg);
            visited = optarg;
            break;
        case 'S': opt.stay = 1; break;
        case 'r':
            n = number(optarg, 1, 100L * 366 * 86400);
            if (n < 0)
                return bad_usage("--renew-before: seconds, from 1", optarg);
            opt.renew_before = n;
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
    status = reset ? factory_reset(state) : run_device(state, &opt, visited);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}
