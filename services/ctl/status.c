/*
 * onrampctl status: a device's journey as each service knows it
 * (proto/SPEC.md types 30/31). Asks the named manufacturer, provider and
 * operator in turn, each with a signed status_request, and prints one
 * table (or one JSON object): when each step happened and who says so.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/journey.h"
#include "onramp/p256.h"
#include "onramp/policy.h"

static const char usage[] =
    "usage: onrampctl status --dev DEVICE_ID\n"
    "                        [--provider ID --provider-key PUB]\n"
    "                        [--manufacturer ID --manufacturer-key PUB]\n"
    "                        [--operator ID --operator-key PUB] [--json]\n"
    "                        [--signing-key KEY]\n"
    "                        --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                        [--timeout SECONDS]\n"
    "\n"
    "Show a device's journey as each named service knows it: when it was\n"
    "claimed (provider), registered and vouched for (manufacturer), given a\n"
    "subscription (operator), attached (operator, provider), enrolled\n"
    "(provider), aligned (operator, provider) and operational (provider),\n"
    "and each service's own word for where the device is. Name at least one\n"
    "service; each must list onrampctl's key as a controller, or it does not\n"
    "answer. Nothing changes anywhere.\n"
    "\n"
    "  --dev DEVICE_ID          the device (32 characters)\n"
    "  --provider ID            a provider to ask, and --provider-key PUB: PEM,\n"
    "                           its signing public key (its answer must verify)\n"
    "  --manufacturer ID        a manufacturer to ask, with --manufacturer-key PUB\n"
    "  --operator ID            an operator to ask, with --operator-key PUB\n"
    "  --json                   one JSON object instead of the table\n"
    "  --signing-key KEY        P-256 key signing the requests (default: --key)\n"
    "  --host, --port           the broker's services listener\n"
    "  --cafile                 PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key            PEM: onrampctl's certificate (OU=control) and key\n"
    "  --timeout SECONDS        how long to wait for each answer (default 10)\n"
    "\n"
    "Output: a line per service asked, 'service ROLE ID state=WORD' (unknown:\n"
    "it never saw the device; no-answer: it did not answer; relocating: its\n"
    "provider is moving it to another operator), then a row per step of\n"
    "onboarding in journey order: 'STEP TIME BY', TIME in UTC (ISO 8601) or\n"
    "'-', BY the services that saw it, as ROLE:ID, comma-separated. Then\n"
    "'certificate TIME ROLE:ID': when the device's service certificate in\n"
    "force expires (the provider; the newest of a renewal not yet\n"
    "confirmed), if it has one. Then, for each service that knows where\n"
    "the device roams, a line\n"
    "'roaming ROLE ID' with what it knows of: visited=PLMN (the network the\n"
    "device last reported), operator=ID reason=user|policy|fallback (the\n"
    "operator it uses and why it was chosen), relocations=N (moves to\n"
    "another operator completed), last=TIME and from=ID (when the last one\n"
    "completed, and the operator it left).\n"
    "--json: {\"dev\":..,\"services\":[{\"role\":..,\"id\":..,\"answered\":true|false,\n"
    "\"state\":..,\"visited\":..,\"operator\":..,\"reason\":..,\"relocations\":N,\n"
    "\"relocated\":UNIX|0,\"from\":..,\"cert_expires\":UNIX|0}],\"steps\":[{\"step\":..,\n"
    "\"time\":UNIX|0,"
    "\"at\":ISO|null,\"by\":[..]}]} (a roaming value not known: null, or 0).\n"
    "Exit status: 0 every service asked answered, 1 one did not (named on\n"
    "stderr), 2 usage error.\n";

enum { MFR, PROV, OP, N_SERVICES };

static const char *const role_names[N_SERVICES] = {"manufacturer", "provider", "operator"};
static const enum onr_role roles[N_SERVICES] = {ONR_ROLE_MANUFACTURER, ONR_ROLE_PROVIDER,
                                                ONR_ROLE_OPERATOR};

/* The rows: the onboarding steps a status answer times (SPEC type 31),
 * in journey order. */
#define FIRST_STEP ONR_JOURNEY_CLAIMED
#define N_STEPS (ONR_JOURNEY_ONBOARDED + 1)

/* What one service knows of where the device roams (SPEC sections 15 and
 * 16): each "" or 0 if it did not say. */
struct roaming {
    char plmn[ONR_PLMN_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    char why[ONR_SERVICE_ID_MAX + 1];
    uint64_t relocations;
    uint64_t relocated;
    char prev_op[ONR_SERVICE_ID_MAX + 1];
};

/* What one service said. */
struct answer {
    const char *id;       /* NULL: not asked */
    const char *key_file;
    int answered;
    char state[33];       /* printable: checked */
    uint64_t at[N_STEPS]; /* by step */
    struct roaming roaming;
    uint64_t cert_expires; /* provider: its certificate's notAfter, 0 if none */
};

static void steps_of(const struct onr_msg_status *s, uint64_t at[N_STEPS])
{
    at[ONR_JOURNEY_CLAIMED] = s->claimed;
    at[ONR_JOURNEY_REGISTERED] = s->registered;
    at[ONR_JOURNEY_VOUCHED] = s->vouched;
    at[ONR_JOURNEY_PROFILED] = s->profiled;
    at[ONR_JOURNEY_ATTACHED] = s->attached;
    at[ONR_JOURNEY_ENROLLED] = s->enrolled;
    at[ONR_JOURNEY_ALIGNED] = s->aligned;
    at[ONR_JOURNEY_OPERATIONAL] = s->operational;
}

/* The state word as we print it: letters, digits, '-' and '_' kept,
 * anything else '?' (it came over the network). */
static void copy_word(const struct onr_bytes *w, char *out, size_t cap)
{
    size_t n = w->len < cap - 1 ? w->len : cap - 1;

    for (size_t i = 0; i < n; i++) {
        char c = (char)w->ptr[i];

        out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_')
                     ? c
                     : '?';
    }
    out[n] = '\0';
}

/* A field the decoder checked (digits or a service id), as a string: ""
 * when absent. */
static void copy_checked(const struct onr_bytes *b, char *out, size_t cap)
{
    size_t n = b->ptr != NULL && b->len < cap ? b->len : 0;

    if (n > 0)
        memcpy(out, b->ptr, n);
    out[n] = '\0';
}

static void roaming_of(const struct onr_msg_status *s, struct roaming *r)
{
    copy_checked(&s->plmn, r->plmn, sizeof(r->plmn));
    copy_checked(&s->op, r->op, sizeof(r->op));
    copy_checked(&s->why, r->why, sizeof(r->why));
    copy_checked(&s->prev_op, r->prev_op, sizeof(r->prev_op));
    r->relocations = s->relocations;
    r->relocated = s->relocated;
}

static int roams(const struct roaming *r)
{
    return r->plmn[0] != '\0' || r->op[0] != '\0' || r->why[0] != '\0' ||
           r->relocations != 0 || r->relocated != 0 || r->prev_op[0] != '\0';
}

/* Ask service `i` about `dev`; fills `a`. CTL_EXIT_OK or CTL_EXIT_FAIL. */
static int ask(const struct ctl_broker *b, const char *signing_key, int i, const char *dev,
               struct answer *a)
{
    struct ctl_answer *answer = calloc(1, sizeof(*answer));
    struct onr_msg msg = {.type = ONR_MSG_STATUS_REQUEST};
    uint8_t key[ONR_P256_PUB_LEN];
    struct ctl_request r = {.what = "status_request", .peer_role = roles[i], .peer = a->id,
                            .peer_key = key, .signing_key = signing_key,
                            .answer_type = ONR_MSG_STATUS};
    const struct onr_msg_status *s;
    int rc;

    if (answer == NULL)
        return CTL_EXIT_FAIL;
    rc = onr_p256_public_load(a->key_file, key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", a->key_file, onr_strerror(rc));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    msg.body.status_request.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
    rc = ctl_request(b, &r, &msg, answer);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (answer->env.msg.type == ONR_MSG_ERROR) {
        fprintf(stderr, "onrampctl: %s %s refused: %s\n", role_names[i], a->id,
                onr_error_name(-(int)answer->env.msg.body.error.code));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    s = &answer->env.msg.body.status;
    if (s->dev.len != strlen(dev) || memcmp(s->dev.ptr, dev, s->dev.len) != 0) {
        fprintf(stderr, "onrampctl: %s %s answered for another device\n", role_names[i], a->id);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    a->answered = 1;
    copy_word(&s->state, a->state, sizeof(a->state));
    steps_of(s, a->at);
    roaming_of(s, &a->roaming);
    a->cert_expires = s->cert_expires;
out:
    free(answer);
    return rc;
}

/* `t` as UTC ISO 8601 into `out` (21 bytes), or "-" for 0. */
static void iso(uint64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, 32, "-");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The earliest time a service gives for step `s` (0: none). */
static uint64_t earliest(const struct answer a[N_SERVICES], int s)
{
    uint64_t t = 0;

    for (int i = 0; i < N_SERVICES; i++)
        if (a[i].answered && a[i].at[s] != 0 && (t == 0 || a[i].at[s] < t))
            t = a[i].at[s];
    return t;
}

static void print_table(const char *dev, const struct answer a[N_SERVICES])
{
    char when[32];

    printf("dev %s\n", dev);
    for (int i = 0; i < N_SERVICES; i++)
        if (a[i].id != NULL)
            printf("service %-12s %-20s state=%s\n", role_names[i], a[i].id,
                   a[i].answered ? a[i].state : "no-answer");
    for (int s = FIRST_STEP; s < N_STEPS; s++) {
        int n = 0;

        iso(earliest(a, s), when);
        printf("%-12s %-20s ", onr_journey_name((enum onr_journey_step)s), when);
        for (int i = 0; i < N_SERVICES; i++)
            if (a[i].answered && a[i].at[s] != 0)
                printf("%s%s:%s", n++ ? "," : "", role_names[i], a[i].id);
        printf("%s\n", n ? "" : "-");
    }
    for (int i = 0; i < N_SERVICES; i++) {
        if (!a[i].answered || a[i].cert_expires == 0)
            continue;
        iso(a[i].cert_expires, when);
        printf("certificate  %-20s %s:%s\n", when, role_names[i], a[i].id);
    }
    for (int i = 0; i < N_SERVICES; i++) {
        const struct roaming *r = &a[i].roaming;

        if (!a[i].answered || !roams(r))
            continue;
        printf("roaming %-12s %-20s", role_names[i], a[i].id);
        if (r->plmn[0] != '\0')
            printf(" visited=%s", r->plmn);
        if (r->op[0] != '\0')
            printf(" operator=%s", r->op);
        if (r->why[0] != '\0')
            printf(" reason=%s", r->why);
        if (r->relocations != 0 || r->relocated != 0) {
            iso(r->relocated, when);
            printf(" relocations=%llu last=%s", (unsigned long long)r->relocations, when);
        }
        if (r->prev_op[0] != '\0')
            printf(" from=%s", r->prev_op);
        putchar('\n');
    }
}

/* "key": a checked value (digits, a service id) or null when empty. */
static void json_word(const char *key, const char *value)
{
    if (value[0] == '\0')
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":\"%s\"", key, value);
}

/* A string the user gave (a service id) inside a JSON string: quotes,
 * backslashes and control characters escaped. */
static void json_chars(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
}

static void print_json(const char *dev, const struct answer a[N_SERVICES])
{
    char when[32];
    int first = 1;

    printf("{\"dev\":\"%s\",\"services\":[", dev);
    for (int i = 0; i < N_SERVICES; i++) {
        if (a[i].id == NULL)
            continue;
        printf("%s{\"role\":\"%s\",\"id\":\"", first ? "" : ",", role_names[i]);
        json_chars(a[i].id);
        printf("\",\"answered\":%s,\"state\":", a[i].answered ? "true" : "false");
        if (a[i].answered)
            printf("\"%s\"", a[i].state);
        else
            printf("null");
        json_word("visited", a[i].roaming.plmn);
        json_word("operator", a[i].roaming.op);
        json_word("reason", a[i].roaming.why);
        printf(",\"relocations\":%llu,\"relocated\":%llu",
               (unsigned long long)a[i].roaming.relocations,
               (unsigned long long)a[i].roaming.relocated);
        json_word("from", a[i].roaming.prev_op);
        printf(",\"cert_expires\":%llu", (unsigned long long)a[i].cert_expires);
        putchar('}');
        first = 0;
    }
    printf("],\"steps\":[");
    for (int s = FIRST_STEP; s < N_STEPS; s++) {
        uint64_t t = earliest(a, s);
        int n = 0;

        iso(t, when);
        printf("%s{\"step\":\"%s\",\"time\":%llu,\"at\":", s > FIRST_STEP ? "," : "",
               onr_journey_name((enum onr_journey_step)s), (unsigned long long)t);
        if (t != 0)
            printf("\"%s\"", when);
        else
            printf("null");
        printf(",\"by\":[");
        for (int i = 0; i < N_SERVICES; i++) {
            if (!a[i].answered || a[i].at[s] == 0)
                continue;
            printf("%s\"%s:", n++ ? "," : "", role_names[i]);
            json_chars(a[i].id);
            putchar('"');
        }
        printf("]}");
    }
    printf("]}\n");
}

int ctl_status(int argc, char **argv)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"dev", required_argument, NULL, 'd'},
        {"provider", required_argument, NULL, 'P'},
        {"provider-key", required_argument, NULL, 'K'},
        {"manufacturer", required_argument, NULL, 'M'},
        {"manufacturer-key", required_argument, NULL, 'N'},
        {"operator", required_argument, NULL, 'O'},
        {"operator-key", required_argument, NULL, 'Q'},
        {"json", no_argument, NULL, 'j'},
        {"signing-key", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.timeout = 10};
    struct answer a[N_SERVICES];
    const char *dev = NULL, *signing_key = NULL;
    int json = 0, asked = 0, bad = 0, rc = CTL_EXIT_OK;
    int opt;

    memset(a, 0, sizeof(a));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': dev = optarg; break;
        case 'P': a[PROV].id = optarg; break;
        case 'K': a[PROV].key_file = optarg; break;
        case 'M': a[MFR].id = optarg; break;
        case 'N': a[MFR].key_file = optarg; break;
        case 'O': a[OP].id = optarg; break;
        case 'Q': a[OP].key_file = optarg; break;
        case 'j': json = 1; break;
        case 's': signing_key = optarg; break;
        case 'h': fputs(usage, stdout); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    for (int i = 0; i < N_SERVICES; i++) {
        if ((a[i].id == NULL) != (a[i].key_file == NULL))
            bad = 1; /* an id without its key, or a key without its id */
        asked += a[i].id != NULL;
    }
    if (optind != argc || !ctl_broker_complete(&b) || dev == NULL || asked == 0 || bad) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (onr_devid_check(dev, strlen(dev)) != ONR_OK) {
        fprintf(stderr, "onrampctl: --dev: not a device id: %s\n", dev);
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (signing_key == NULL)
        signing_key = b.key;
    for (int i = 0; i < N_SERVICES; i++) {
        if (a[i].id == NULL)
            continue;
        if (ask(&b, signing_key, i, dev, &a[i]) != CTL_EXIT_OK) {
            fprintf(stderr, "onrampctl: no status from %s %s\n", role_names[i], a[i].id);
            rc = CTL_EXIT_FAIL;
        }
    }
    if (json)
        print_json(dev, a);
    else
        print_table(dev, a);
    return rc;
}
