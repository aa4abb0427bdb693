/*
 * onramp-operator: the cellular operator's onboarding service. Gives each
 * vouched device one subscription, sealed to it (step 3c), runs the AKA
 * attach as the AuC, then grants the device its provider at the broker and
 * hands the provider the device's application key.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/text.h"

static const char usage[] =
    "usage: onramp-operator --config FILE [-o KEY=VALUE]... [--log-level LEVEL]\n"
    "\n"
    "The cellular operator's onboarding service. A device that holds a\n"
    "voucher from a manufacturer the operator trusts, naming this operator\n"
    "and a provider it has a contract with, gets one subscription (ICCID,\n"
    "IMSI, a fresh Ki, OPc, AMF, PLMN, APN) sealed with HPKE to the sealing\n"
    "key in its voucher: asking again gives the same subscription. The\n"
    "device then proves it in a Milenage AKA attach (TS 33.102, with SQN\n"
    "resynchronisation). Once attached, the broker is told to let the device\n"
    "publish to its provider, and the provider gets the device's AKMA-style\n"
    "application key sealed to its own key; both are resent until confirmed.\n"
    "Providers then send each device's policy (QoS class, charging group,\n"
    "data cap), which is stored with the subscription and acknowledged. A\n"
    "provider that releases a device suspends its subscription (and its grant\n"
    "at the broker) until the device comes back with a new voucher.\n"
    "\n"
    "Configuration (FILE, key value lines; relative paths from FILE's folder):\n"
    "  id                 the operator's id (its certificate's CN)\n"
    "  broker NAME HOST PORT [region=MCC]   a broker's services listener and its\n"
    "                     plugin's broker_name; one line per broker (at most 8):\n"
    "                     it connects to each, answers a device on the broker\n"
    "                     its request came through,\n"
    "                     and sends every grant and revoke to each\n"
    "  broker_host, broker_port   instead: the one broker, its name unknown\n"
    "  broker_ca          PEM: the brokers' TLS CA\n"
    "  cert, key          PEM: this service's certificate (OU=operator)\n"
    "  signing_key        P-256 key signing its messages\n"
    "  database           SQLite: subscribers, Ki and OPc included (mode 0600);\n"
    "                     one written by an older version is upgraded on start,\n"
    "                     in one transaction (a failed upgrade changes nothing and\n"
    "                     stops the start)\n"
    ONR_SERVICE_USAGE_STORE
    "  op_file            file holding the Milenage OP as 32 hex digits; mode\n"
    "                     0600 or the service refuses to start; never logged\n"
    "  plmn               MCC and MNC, 5 or 6 digits (e.g. 00101)\n"
    "  apn                the access point name in profiles\n"
    "  amf                authentication management field, 4 hex digits\n"
    "                     (default 8000)\n"
    "  imsi_range FIRST LAST   IMSIs to hand out, same length, starting\n"
    "                     with the PLMN\n"
    "  iccid_range FIRST LAST  ICCIDs to hand out without their Luhn check\n"
    "                     digit (18 or 19 digits, same length); it is appended\n"
    "  manufacturer ID VOUCHER_PUB   a manufacturer whose vouchers it trusts\n"
    "                     and its voucher key; repeat for each\n"
    "  provider ID SIGNING_PUB SEALING_PUB   a provider it has a contract\n"
    "                     with: its signing key and the X25519 key its\n"
    "                     application keys are sealed to; repeat for each\n"
    "  serves MCC [MCC...]  the countries it serves (mobile country codes, 3\n"
    "                     digits; repeat the line for more): a voucher naming a\n"
    "                     visited PLMN of another country is refused (EDENIED);\n"
    "                     without the line it serves every country\n"
    "  resend             seconds before an unconfirmed grant, revoke or\n"
    "                     application key is first sent again (default 10); each\n"
    "                     next attempt waits twice as long, plus up to half again\n"
    "                     at random, at most 600 s\n"
    "  challenge_lifetime seconds an AKA challenge may be answered (default 300)\n"
    "  log_level          error, warning, notice (default), info, debug\n"
    "  freshness          seconds a message's timestamp may be off (default 300)\n"
    "  controller ID SIGNING_PUB a control tool allowed to ask for a device's\n"
    "                     status (onrampctl status); repeat for each\n"
    ONR_SERVICE_COUNTERS_USAGE
    "\n"
    "  -o KEY=VALUE       override a configuration key\n"
    "  --log-level LEVEL  the same as -o log_level=LEVEL\n"
    "  --help, --version\n"
    "\n"
    "Error answers to devices: EDENIED (voucher from an unknown manufacturer,\n"
    "for another device or operator, provider without a contract, a visited\n"
    "country it does not serve, IMSI not its own), EEXPIRED (voucher\n"
    "expired), EEXHAUSTED (number pool used up),\n"
    "EAUTH (wrong RES or AUTS), ENOENT (unknown or used challenge), ESTALE.\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the\n"
    "configuration (manufacturers, providers, countries served, timers, log\n"
    "level).\n"
    "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage.\n";

static const char *const keys[] = {
    "op_file", "plmn", "apn", "amf", "imsi_range", "iccid_range", "manufacturer", "provider",
    "resend", "challenge_lifetime", "serves",
};

static struct op state;


int op_from_device(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   char dev[ONR_DEVID_LEN + 1], char down[ONR_TOPIC_MAX + 1])
{
    int rc = onr_service_from_device(topic, env, dev);

    if (rc != ONR_OK)
        return rc;
    rc = onr_topic_down(dev, down, ONR_TOPIC_MAX + 1);
    if (rc != ONR_OK)
        return rc;
    /* no authenticator: the broker let only this device publish here */
    rc = onr_service_accept(svc, env);
    if (rc == ONR_ESTALE)
        return onr_service_refuse(svc, env, rc, down); /* tell it its clock is off */
    return rc == ONR_EREPLAY ? ONR_OK : rc; /* a duplicate is answered from the outbox */
}

static int fail(const char *key, const char *why)
{
    fprintf(stderr, "onramp-operator: %s: %s\n", key, why);
    return ONR_EINVAL;
}

static int is_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    return n >= min && n <= max &&
           onr_text_check(ONR_TEXT_DIGITS, (struct onr_bytes){(const uint8_t *)s, n}) == ONR_OK;
}

/* `key FIRST LAST`: two numbers of the same length within [min, max]. */
static int load_range(const struct onr_config *cfg, const char *key, size_t min, size_t max,
                      uint64_t *first, uint64_t *last, unsigned *digits)
{
    const char *value = onr_config_get(cfg, key);
    const char *fields[2];
    char buf[128];
    size_t nf = 0;

    if (value == NULL)
        return fail(key, "is required");
    if (onr_config_split(value, buf, sizeof(buf), fields, 2, &nf) != ONR_OK || nf != 2 ||
        !is_digits(fields[0], min, max) || strlen(fields[1]) != strlen(fields[0]) ||
        !is_digits(fields[1], min, max))
        return fail(key, "want FIRST LAST, digits of the same length");
    *first = strtoull(fields[0], NULL, 10);
    *last = strtoull(fields[1], NULL, 10);
    *digits = (unsigned)strlen(fields[0]);
    if (*first > *last)
        return fail(key, "FIRST is above LAST");
    return ONR_OK;
}

static int hex_value(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* `len` bytes from exactly 2 * len hex digits. */
static int parse_hex(const char *text, size_t text_len, uint8_t *out, size_t len)
{
    if (text_len != 2 * len)
        return ONR_EFORMAT;
    for (size_t i = 0; i < 2 * len; i++)
        if (!isxdigit((unsigned char)text[i]))
            return ONR_EFORMAT;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
    return ONR_OK;
}

/* The OP: a secret file, 32 hex digits (surrounding whitespace allowed). */
static int load_op(struct onr_service *svc, uint8_t op[16])
{
    char path[1024];
    uint8_t *text = NULL;
    size_t len = 0;
    size_t start = 0;
    int rc;

    rc = onr_service_path(svc, "op_file", path, sizeof(path));
    if (rc == ONR_ENOENT)
        return fail("op_file", "is required");
    if (rc == ONR_OK)
        rc = onr_file_read(path, 256, 1, &text, &len);
    if (rc == ONR_OK) {
        while (start < len && isspace(text[start]))
            start++;
        while (len > start && isspace(text[len - 1]))
            len--;
        rc = parse_hex((const char *)text + start, len - start, op, 16);
    }
    if (text != NULL) {
        onr_wipe(text, len);
        free(text);
    }
    if (rc != ONR_OK)
        fprintf(stderr, "onramp-operator: op_file %s: %s\n", path,
                rc == ONR_EFORMAT ? "want 32 hex digits" : onr_strerror(rc));
    return rc;
}

/* What the operator is: fixed while it runs (a restart changes it). */
static int load_network(struct onr_service *svc, struct op *o)
{
    const struct onr_config *cfg = onr_service_config(svc);
    const char *plmn = onr_config_get(cfg, "plmn");
    const char *apn = onr_config_get(cfg, "apn");
    const char *amf = onr_config_get(cfg, "amf");
    struct op_ranges *r = &o->ranges;
    char first[32];
    char last[32];
    int rc;

    if (plmn == NULL || !is_digits(plmn, 5, 6))
        return fail("plmn", "want MCC and MNC, 5 or 6 digits");
    if (apn == NULL || strlen(apn) == 0 || strlen(apn) >= sizeof(o->apn) ||
        onr_text_check(ONR_TEXT_PRINTABLE, (struct onr_bytes){(const uint8_t *)apn,
                                                              strlen(apn)}) != ONR_OK)
        return fail("apn", "want 1 to 100 visible ASCII characters");
    if (parse_hex(amf != NULL ? amf : "8000", 4, o->amf, 2) != ONR_OK)
        return fail("amf", "want 4 hex digits");
    snprintf(o->plmn, sizeof(o->plmn), "%s", plmn);
    snprintf(o->apn, sizeof(o->apn), "%s", apn);
    rc = load_range(cfg, "imsi_range", 6, 15, &r->imsi_first, &r->imsi_last, &r->imsi_digits);
    if (rc == ONR_OK)
        rc = load_range(cfg, "iccid_range", 18, 19, &r->iccid_first, &r->iccid_last,
                        &r->iccid_digits);
    if (rc != ONR_OK)
        return rc;
    /* same length: if both ends start with the PLMN, every IMSI between does */
    snprintf(first, sizeof(first), "%0*" PRIu64, (int)r->imsi_digits, r->imsi_first);
    snprintf(last, sizeof(last), "%0*" PRIu64, (int)r->imsi_digits, r->imsi_last);
    if (strncmp(first, o->plmn, strlen(o->plmn)) != 0 ||
        strncmp(last, o->plmn, strlen(o->plmn)) != 0)
        return fail("imsi_range", "every IMSI must start with the PLMN");
    return load_op(svc, o->op);
}

int op_serves(const struct op *o, const char *plmn, size_t len)
{
    if (o->n_serves == 0 || plmn == NULL || len < ONR_MCC_LEN)
        return 1;
    for (size_t i = 0; i < o->n_serves; i++)
        if (memcmp(o->serves[i], plmn, ONR_MCC_LEN) == 0)
            return 1;
    return 0;
}

/* `serves MCC...` lines: the countries it serves, 3 digits each, none
 * twice. */
static int load_serves(const struct onr_config *cfg, char out[][ONR_MCC_LEN + 1], size_t *n)
{
    size_t count = 0;

    for (size_t i = 0; i < onr_config_count(cfg, "serves"); i++) {
        const char *fields[OP_SERVES_MAX];
        char buf[512];
        size_t nf = 0;

        if (onr_config_split(onr_config_at(cfg, "serves", i), buf, sizeof(buf), fields,
                             OP_SERVES_MAX, &nf) != ONR_OK || nf == 0)
            return fail("serves", "want MCC [MCC...]: 3 digits each, at most 64");
        for (size_t f = 0; f < nf; f++) {
            if (!is_digits(fields[f], ONR_MCC_LEN, ONR_MCC_LEN)) {
                fprintf(stderr, "onramp-operator: serves %s: not an MCC (3 digits)\n",
                        fields[f]);
                return ONR_EINVAL;
            }
            for (size_t k = 0; k < count; k++)
                if (strcmp(out[k], fields[f]) == 0) {
                    fprintf(stderr, "onramp-operator: serves %s: listed twice\n", fields[f]);
                    return ONR_EINVAL;
                }
            if (count == OP_SERVES_MAX)
                return fail("serves", "at most 64 MCCs");
            memcpy(out[count++], fields[f], ONR_MCC_LEN + 1);
        }
    }
    *n = count;
    return ONR_OK;
}

/* The peers and timers: what SIGHUP may change (all or nothing). */
static int load_peers(struct onr_service *svc, struct op *o)
{
    const struct onr_config *cfg = onr_service_config(svc);
    static struct onr_peers manufacturers;
    static struct onr_peers providers;
    uint64_t resend = 0;
    uint64_t lifetime = 0;
    static char serves[OP_SERVES_MAX][ONR_MCC_LEN + 1];
    size_t n_serves = 0;
    int rc;

    rc = onr_peers_load(cfg, "onramp-operator", "manufacturer", 0, &manufacturers);
    if (rc == ONR_OK)
        rc = onr_peers_load(cfg, "onramp-operator", "provider", 1, &providers);
    if (rc != ONR_OK)
        return rc;
    if (onr_config_get_uint(cfg, "resend", 10, 1, 86400, &resend) != ONR_OK)
        return fail("resend", "seconds in 1..86400");
    if (onr_config_get_uint(cfg, "challenge_lifetime", 300, 10, 86400, &lifetime) != ONR_OK)
        return fail("challenge_lifetime", "seconds in 10..86400");
    rc = load_serves(cfg, serves, &n_serves);
    if (rc != ONR_OK)
        return rc;
    memcpy(o->serves, serves, sizeof(o->serves));
    o->n_serves = n_serves;
    o->manufacturers = manufacturers;
    o->providers = providers;
    o->resend = resend;
    o->challenge_lifetime = lifetime;
    onr_service_delivery_resend(svc, resend);
    return ONR_OK;
}

/* The confirmed messages and their peers' refusals: a grant refused is sent
 * again (EHELD: another operator holds it until it revokes; EIO: the
 * plugin's journal failed); a revoke refused ENOENT found no grant, which is
 * what it wanted, and EHELD found another operator's, not ours to revoke; a
 * key refused EDENIED (the provider's claim names another operator) waits
 * for a new attach, which sends another. */
static const struct onr_delivery_kind kinds[] = {
    {.name = OP_KIND_GRANT, .answer_type = ONR_MSG_CONTROL_RESULT,
     .peer_role = ONR_ROLE_BROKER},
    {.name = OP_KIND_REVOKE, .answer_type = ONR_MSG_CONTROL_RESULT,
     .peer_role = ONR_ROLE_BROKER, .done_on = ONR_ENOENT, .drop_on = ONR_EHELD,
     .settled_forgotten = 1},
    {.name = OP_KIND_APP_KEY, .answer_type = ONR_MSG_APP_KEY_STORED,
     .peer_role = ONR_ROLE_PROVIDER, .peers = &state.providers, .confirmed = op_key_stored,
     .drop_on = ONR_EDENIED},
};

/* Challenges nobody answered in time are no use to anyone. */
static void prune_challenges(struct onr_service *svc, void *arg)
{
    const struct op *o = arg;
    uint64_t now = onr_service_now(svc);
    uint64_t before = now > o->challenge_lifetime ? now - o->challenge_lifetime : 0;

    if (op_challenges_prune(onr_service_db(svc), before) != ONR_OK)
        onr_log(ONR_LOG_WARNING, "challenges not pruned error=%s",
                onr_db_errmsg(onr_service_db(svc)));
}

static int start(struct onr_service *svc, void *arg)
{
    struct op *o = arg;
    char filter[ONR_TOPIC_MAX + 1];
    int rc;

    rc = load_network(svc, o);
    if (rc != ONR_OK)
        return rc;
    rc = onr_topic_filter_up(NULL, ONR_ROLE_OPERATOR, onr_service_id(svc), filter,
                             sizeof(filter));
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_PROFILE_REQUEST, op_on_profile_request,
                                   o);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_ATTACH_REQUEST, op_on_attach_request, o);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_ATTACH_RESPONSE, op_on_attach_response,
                                   o);
    if (rc == ONR_OK)
        rc = onr_topic_filter_in(NULL, ONR_ROLE_OPERATOR, onr_service_id(svc), filter,
                                 sizeof(filter));
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_ALIGNMENT, op_on_alignment, o);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_RELEASE, op_on_release, o);
    if (rc == ONR_OK)
        rc = onr_service_deliveries(svc, kinds, sizeof(kinds) / sizeof(kinds[0]), o->resend);
    if (rc == ONR_OK)
        rc = onr_service_every(svc, 60, prune_challenges, o);
    onr_log(ONR_LOG_NOTICE,
            "operator ready plmn=%s pool=%llu manufacturers=%zu providers=%zu serves=%zu", o->plmn,
            (unsigned long long)op_pool_size(&o->ranges), o->manufacturers.n, o->providers.n,
            o->n_serves);
    return rc;
}

static int load(struct onr_service *svc, void *arg)
{
    return load_peers(svc, arg);
}

/* A device's journey as we know it (status_request, SPEC type 30). */
static int status(struct onr_service *svc, void *arg, const char *dev, struct onr_msg_status *out)
{
    struct op_status st;
    const char *word;
    int rc;

    (void)arg;
    rc = op_sub_status(onr_service_db(svc), dev, &st);
    if (rc != ONR_OK)
        return rc;
    word = op_state_name(st.state);
    memset(out, 0, sizeof(*out));
    out->state = (struct onr_bytes){(const uint8_t *)word, strlen(word)};
    out->profiled = st.profiled;
    out->attached = st.attached;
    out->aligned = st.aligned;
    return ONR_OK;
}

static void stop(struct onr_service *svc, void *arg)
{
    struct op *o = arg;

    (void)svc;
    onr_wipe(o->op, sizeof(o->op));
}

int main(int argc, char **argv)
{
    const struct onr_service_def def = {
        .name = "operator",
        .sender_role = ONR_ROLE_OPERATOR,
        .usage = usage,
        .keys = keys,
        .n_keys = sizeof(keys) / sizeof(keys[0]),
        .schema = &op_schema,
        .load = load,
        .start = start,
        .stop = stop,
        .arg = &state,
        .status = status,
    };

    return onr_service_main(&def, argc, argv);
}
