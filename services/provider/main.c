/*
 * onramp-provider: the IoT service provider's service: pairing (step 1,
 * from a control tool or its own page), registering claimed devices with
 * their manufacturers (step 2), keeping the application keys operators
 * send for attached devices, enrolling devices (step 4), aligning their
 * policy with the operators (step 5), and releasing devices or revoking
 * their certificates. prov.h lists its files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey.h"
#include "onramp/crypto.h"
#include "onramp/text.h"
#include "onramp/config.h"
#include "onramp/error.h"
#include "prov.h"

static const char usage[] =
    "usage: onramp-provider --config FILE [-o KEY=VALUE]... [--log-level LEVEL]\n"
    "\n"
    "The IoT service provider's onboarding service. A control tool\n"
    "(onrampctl pair) sends it the label a user scanned and the user's\n"
    "account; it records the claim, chooses the operator (the user's if it\n"
    "has a contract with it, else default_operator), registers the device\n"
    "with its manufacturer with the claim secret sealed to the manufacturer,\n"
    "and answers the control tool with the manufacturer's verdict. A refused\n"
    "claim leaves nothing behind; a device claimed by one account cannot be\n"
    "claimed by another. Once the device attached, its operator sends the\n"
    "device's application key; the provider sends the operator the device's\n"
    "policy (its account's plan) and enrolls the device: a CSR MAC'ed with\n"
    "that key gets a certificate from the provider CA, the address of the\n"
    "service broker and its CA. A new key revokes the old certificate at the\n"
    "broker. A control tool (onrampctl release) may release a device: its\n"
    "certificate is revoked, its manufacturer clears the assignment and its\n"
    "operator suspends the subscription; it can then be claimed again. A\n"
    "control tool (onrampctl revoke) may also just revoke a device's service\n"
    "certificate at the broker; the claim stays.\n"
    "\n"
    "A kit label (ONK1:..., onramp-factory kit) pairs every device of the kit\n"
    "in one step: the manufacturer assigns all of them or none (a device owned\n"
    "elsewhere refuses the kit, and the answer names it), then each is claimed\n"
    "for the account, operator and policy and onboards on its own (a policy\n"
    "change registers the kit again); the page follows them at /kit/KIT.\n"
    "An operational device renews its certificate before it\n"
    "expires, over the service broker (onr/1/p/ID/dev/DEV/renew): a CSR for a\n"
    "new key signed with the key in force gets a certificate of cert_lifetime,\n"
    "the same again for the same key; once the device says it connected with\n"
    "it, the certificates it replaced are revoked at the broker. Its counters\n"
    "count renewals and the certificates expiring within a week.\n"
    "\n"
    "Configuration (FILE, key value lines; relative paths from FILE's folder):\n"
    "  id                 the provider's id (its certificate's CN)\n"
    "  broker NAME HOST PORT [region=MCC]   a broker's services listener and its\n"
    "                     plugin's broker_name; one line per broker (at most 8):\n"
    "                     it connects to each, answers a device on the broker\n"
    "                     its request came through,\n"
    "                     and sends every certificate revocation to each\n"
    "  broker_host, broker_port   instead: the one broker, its name unknown\n"
    "  broker_ca          PEM: the brokers' TLS CA\n"
    "  cert, key          PEM: this service's certificate (OU=provider)\n"
    "  signing_key        P-256 key signing its messages\n"
    "  database           SQLite file of its claims; one written by an older\n"
    "                     version is upgraded on start, in one transaction (a\n"
    "                     failed upgrade changes nothing and stops the start)\n"
    ONR_SERVICE_USAGE_STORE
    "  manufacturer ID SIGNING_PUB SEALING_PUB\n"
    "                     a manufacturer it works with: the public key its\n"
    "                     messages verify with, and the X25519 key claims are\n"
    "                     sealed to (service.pub and sealing.pub of\n"
    "                     onramp-factory new-manufacturer); repeat for each\n"
    "  sealing_key        X25519 key operators seal devices' application keys\n"
    "                     to (its public half goes in the operators' provider\n"
    "                     lines)\n"
    "  operator ID SIGNING_PUB   an operator it has a contract with; repeat\n"
    "  default_operator ID       one of those: for users who name none\n"
    "  operator_serves ID MCC [MCC...]  the countries (mobile country codes, 3\n"
    "                     digits) operator ID's contract covers; without the\n"
    "                     line, any\n"
    "  policy ACCOUNT POLICY  the roaming policy of ACCOUNT's devices (* for\n"
    "                     every account without its own): MCC:OP[,OP...] entries\n"
    "                     separated by ';', the operators allowed in that country\n"
    "                     in order of preference, MCC * for any other country\n"
    "                     (e.g. 262:op-de,op-eu;724:op-br;*:op-eu). Only\n"
    "                     operators with a contract, each for countries its\n"
    "                     operator_serves line lists; a line naming another is\n"
    "                     refused at start (and a reload with it keeps the old\n"
    "                     configuration). The registration carries the policy;\n"
    "                     the manufacturer chooses the operator when the device\n"
    "                     says hello, from the network it reports (a user's\n"
    "                     operator wins where the policy allows it there). A\n"
    "                     device in a country with no operator and no * entry\n"
    "                     waits (no_operator, logged) until a policy names one;\n"
    "                     an operational device whose telemetry reports a\n"
    "                     country where its policy names another operator is\n"
    "                     relocated to it (the old one released once the new\n"
    "                     one's key arrived)\n"
    "  controller ID SIGNING_PUB a control tool allowed to pair and release\n"
    "                     devices and to ask for a device's status (its\n"
    "                     certificate's CN and the key its requests verify with)\n"
    "  ca_cert, ca_key    PEM: the provider CA that issues service certificates\n"
    "                     (the key 0600)\n"
    "  cert_lifetime      validity of the service certificates it issues, from\n"
    "                     enrollment or renewal: seconds, or a number with s, m,\n"
    "                     h or d (default 365d; 600s to 3650d); shorter than a\n"
    "                     day, a certificate is valid from a minute before its\n"
    "                     issue (clock skew). Devices renew theirs before the end\n"
    "                     (onramp-device --renew-before): the new certificate\n"
    "                     gets the lifetime in force then\n"
    "  cert_days N        the same as cert_lifetime Nd (older configurations)\n"
    "  endpoint           mqtts://HOST:PORT of its service broker, for devices\n"
    "  service_broker_ca  PEM: the CA devices trust for that broker\n"
    "  plan ACCOUNT QOS CHARGING CAP   the policy of an account's devices:\n"
    "                     QoS class 0..255, charging group (an id), data cap in\n"
    "                     bytes per month (0: none); ACCOUNT * for the others\n"
    "  retry_after        seconds a device waits to ask again while its key has\n"
    "                     not arrived (default 5)\n"
    "  resend             seconds before an unconfirmed registration, alignment,\n"
    "                     release or certificate revocation is first sent again\n"
    "                     (default 10); each next attempt waits twice as long,\n"
    "                     plus up to half again at random, at most 600 s\n"
    "  http_listen HOST:PORT  serve the pairing page there (default: no page).\n"
    "                     HOST is an IP address or localhost; PORT alone means\n"
    "                     127.0.0.1:PORT. The page has no login: an address\n"
    "                     other than loopback is refused unless http_public is\n"
    "                     yes. The page pairs a device like onrampctl pair (the\n"
    "                     label, or manufacturer + device id + claim code, an\n"
    "                     account, one of the operators) and follows its journey\n"
    "                     to OPERATIONAL (its first telemetry on onr/1/p/ID/dev/+/\n"
    "                     telemetry). Read at start only.\n"
    "  http_public yes|no serve the page on a non-loopback address too (default\n"
    "                     no; put it behind your own access control)\n"
    "  http_origin ORIGIN the page's public origin behind a TLS reverse proxy that\n"
    "                     rewrites Host, e.g. https://pair.example.net (up to 4\n"
    "                     lines). A browser's POST is refused unless its Origin\n"
    "                     is http:// or https:// and the Host asked for, or one\n"
    "                     of these (no cross-site request forgery)\n"
    "  log_level          error, warning, notice (default), info, debug\n"
    "  freshness          seconds a message's timestamp may be off (default 300)\n"
    ONR_SERVICE_COUNTERS_USAGE
    "\n"
    "  -o KEY=VALUE       override a configuration key\n"
    "  --log-level LEVEL  the same as -o log_level=LEVEL\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the\n"
    "configuration (manufacturers, operators, controllers, plans, policies,\n"
    "log level); claims whose account's policy changed are registered again\n"
    "with it.\n"
    "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage.\n";

static const char *const keys[] = {
    "manufacturer", "operator", "default_operator", "sealing_key", "ca_cert",
    "ca_key", "cert_lifetime", "cert_days", "endpoint", "service_broker_ca", "plan",
    "retry_after", "resend", "http_listen", "http_public", "http_origin", "operator_serves",
    "policy",
};

static struct prov state;

/* The confirmed messages, who confirms them and what their refusals do
 * (the hooks: pairing.c, release.c, align.c): a registration refused is
 * final (pairing.c); a release refused EDENIED (another provider's device
 * there now) is given up, the control tool told of the manufacturer's; an
 * alignment refused is sent again; a certificate revocation refused EDENIED
 * (the broker holds no CA of ours, or the serial is another provider's) is
 * given up; a relocation request refused ENOOPERATOR or EDENIED is given up
 * (the device's next telemetry decides again). */
static const struct onr_delivery_kind kinds[] = {
    {.name = PROV_KIND_REGISTRATION, .answer_type = ONR_MSG_REGISTERED,
     .peer_role = ONR_ROLE_MANUFACTURER, .peers = &state.manufacturers,
     .confirmed = prov_registered, .refused = prov_registration_refused},
    {.name = PROV_KIND_RELEASE_MFR, .answer_type = ONR_MSG_RELEASED,
     .peer_role = ONR_ROLE_MANUFACTURER, .peers = &state.manufacturers,
     .confirmed = prov_released, .refused = prov_release_refused},
    {.name = PROV_KIND_RELEASE_OP, .answer_type = ONR_MSG_RELEASED,
     .peer_role = ONR_ROLE_OPERATOR, .peers = &state.operators, .confirmed = prov_released,
     .drop_on = ONR_EDENIED},
    {.name = PROV_KIND_ALIGNMENT, .answer_type = ONR_MSG_ALIGNED,
     .peer_role = ONR_ROLE_OPERATOR, .peers = &state.operators, .confirmed = prov_aligned},
    {.name = PROV_KIND_CERT_REVOKE, .answer_type = ONR_MSG_CONTROL_RESULT,
     .peer_role = ONR_ROLE_BROKER, .drop_on = ONR_EDENIED,
     .needed_until = prov_revocation_needed_until},
    {.name = PROV_KIND_KIT_REGISTRATION, .answer_type = ONR_MSG_KIT_REGISTERED,
     .peer_role = ONR_ROLE_MANUFACTURER, .peers = &state.manufacturers,
     .confirmed = prov_kit_registered_hook, .refused = prov_kit_registration_refused},
    {.name = PROV_KIND_RELOCATION, .answer_type = ONR_MSG_VOUCHER,
     .peer_role = ONR_ROLE_MANUFACTURER, .peers = &state.manufacturers,
     .confirmed = prov_relocation_voucher, .refused = prov_relocation_refused},
};

/* `plan ACCOUNT QOS CHARGING CAP` lines. */
static int load_plans(const struct onr_config *cfg, struct prov_plan *plans, size_t *n)
{
    size_t count = onr_config_count(cfg, "plan");

    if (count > PROV_MAX_PLANS) {
        fprintf(stderr, "onramp-provider: at most %d plan lines\n", PROV_MAX_PLANS);
        return ONR_ERANGE;
    }
    for (size_t i = 0; i < count; i++) {
        struct prov_plan *pl = &plans[i];
        const char *f[4];
        char buf[512];
        char *end = NULL;
        size_t nf = 0;
        int rc;

        rc = onr_config_split(onr_config_at(cfg, "plan", i), buf, sizeof(buf), f, 4, &nf);
        if (rc != ONR_OK || nf != 4 || strlen(f[0]) >= sizeof(pl->account) ||
            strlen(f[2]) >= sizeof(pl->charging) ||
            onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)f[2],
                                                           strlen(f[2])}) != ONR_OK) {
            fprintf(stderr, "onramp-provider: plan: want 'plan ACCOUNT QOS CHARGING CAP'\n");
            return ONR_EFORMAT;
        }
        memcpy(pl->account, f[0], strlen(f[0]) + 1);
        memcpy(pl->charging, f[2], strlen(f[2]) + 1);
        pl->qos = strtoull(f[1], &end, 10);
        if (*end != '\0' || pl->qos > 255 || f[1][0] == '-') {
            fprintf(stderr, "onramp-provider: plan %s: QOS 0..255\n", f[0]);
            return ONR_ERANGE;
        }
        pl->cap = strtoull(f[3], &end, 10);
        if (*end != '\0' || pl->cap > INT64_MAX || f[3][0] == '-') {
            fprintf(stderr, "onramp-provider: plan %s: CAP in bytes\n", f[0]);
            return ONR_ERANGE;
        }
    }
    *n = count;
    return ONR_OK;
}

/* A duration: seconds, or a number with s, m, h or d. */
static int parse_duration(const char *text, uint64_t *out)
{
    static const struct {
        char unit;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char *end = NULL;
    uint64_t n;

    if (text[0] < '0' || text[0] > '9')
        return ONR_EFORMAT;
    n = strtoull(text, &end, 10);
    if (end[0] == '\0') {
        *out = n;
        return n <= UINT32_MAX ? ONR_OK : ONR_ERANGE;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (end[0] == units[i].unit && end[1] == '\0') {
            if (n > UINT32_MAX)
                return ONR_ERANGE;
            *out = n * units[i].seconds;
            return ONR_OK;
        }
    }
    return ONR_EFORMAT;
}

/* cert_lifetime (or, as older configurations say it, cert_days). */
static int load_lifetime(const struct onr_config *cfg, uint64_t *lifetime)
{
    const char *text = onr_config_get(cfg, "cert_lifetime");
    uint64_t days = 0;

    if (text != NULL && onr_config_get(cfg, "cert_days") != NULL) {
        fprintf(stderr, "onramp-provider: cert_days and cert_lifetime: give one "
                        "(cert_days N is cert_lifetime Nd)\n");
        return ONR_EINVAL;
    }
    if (text == NULL) {
        if (onr_config_get_uint(cfg, "cert_days", PROV_CERT_LIFETIME_DEFAULT / 86400, 1,
                                PROV_CERT_LIFETIME_MAX / 86400, &days) != ONR_OK) {
            fprintf(stderr, "onramp-provider: cert_days 1..%d\n",
                    PROV_CERT_LIFETIME_MAX / 86400);
            return ONR_ERANGE;
        }
        *lifetime = days * 86400;
        return ONR_OK;
    }
    if (parse_duration(text, lifetime) != ONR_OK || *lifetime < PROV_CERT_LIFETIME_MIN ||
        *lifetime > PROV_CERT_LIFETIME_MAX) {
        fprintf(stderr, "onramp-provider: cert_lifetime %s: want a duration from %d s to %d d: "
                        "seconds, or a number with s, m, h or d (90d, 12h)\n",
                text, PROV_CERT_LIFETIME_MIN, PROV_CERT_LIFETIME_MAX / 86400);
        return ONR_ERANGE;
    }
    return ONR_OK;
}

/* The peers, plans and timers: loaded at start and again on SIGHUP (all
 * or nothing). */
static int load_peers(struct onr_service *svc, struct prov *p)
{
    const struct onr_config *cfg = onr_service_config(svc);
    static struct prov next;
    const char *def;
    int rc;

    rc = onr_peers_load(cfg, "onramp-provider", "manufacturer", 1, &next.manufacturers);
    if (rc == ONR_OK)
        rc = onr_peers_load(cfg, "onramp-provider", "operator", 0, &next.operators);
    if (rc == ONR_OK)
        rc = load_plans(cfg, next.plans, &next.n_plans);
    if (rc == ONR_OK)
        rc = prov_roaming_load(cfg, &next.operators, &next.roaming);
    if (rc == ONR_OK &&
        (onr_config_get_uint(cfg, "retry_after", 5, 1, 3600, &next.retry_after) != ONR_OK ||
         onr_config_get_uint(cfg, "resend", 10, 1, 86400, &next.resend) != ONR_OK)) {
        fprintf(stderr, "onramp-provider: retry_after 1..3600, resend 1..86400\n");
        rc = ONR_ERANGE;
    }
    if (rc == ONR_OK)
        rc = load_lifetime(cfg, &next.cert_lifetime);
    if (rc != ONR_OK)
        return rc;
    def = onr_config_get(cfg, "default_operator");
    if (def == NULL || onr_peer_find(&next.operators, (const uint8_t *)def, strlen(def)) == NULL) {
        fprintf(stderr, "onramp-provider: default_operator must name one of the operator "
                        "lines\n");
        return ONR_EINVAL;
    }
    snprintf(p->default_operator, sizeof(p->default_operator), "%s", def);
    p->manufacturers = next.manufacturers;
    p->operators = next.operators;
    memcpy(p->plans, next.plans, sizeof(p->plans));
    p->n_plans = next.n_plans;
    p->roaming = next.roaming;
    p->retry_after = next.retry_after;
    p->resend = next.resend;
    p->cert_lifetime = next.cert_lifetime;
    onr_service_delivery_resend(svc, p->resend);
    return ONR_OK;
}

/* One certificate from a PEM file into `der`. */
static int load_cert(struct onr_service *svc, const char *key, uint8_t *der, size_t *len)
{
    uint8_t buf[ONR_X509_MAX_DER * 2];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert;
    char path[1024] = "";
    size_t n = 0;
    int rc = onr_service_path(svc, key, path, sizeof(path));

    if (rc == ONR_OK)
        rc = onr_x509_load(path, buf, &buf_len, &cert, 1, &n);
    if (rc == ONR_OK && (n != 1 || cert.len > ONR_X509_MAX_DER))
        rc = ONR_EFORMAT;
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-provider: %s %s: %s\n", key, path, onr_strerror(rc));
        return rc;
    }
    memcpy(der, cert.ptr, cert.len);
    *len = cert.len;
    return ONR_OK;
}

/* What enrollment needs: the CA, the service broker's address and CA. */
static int load_enrollment(struct onr_service *svc, struct prov *p)
{
    const char *endpoint = onr_config_get(onr_service_config(svc), "endpoint");
    struct onr_x509_info info;
    char path[1024] = "";
    int rc;

    rc = load_cert(svc, "ca_cert", p->ca_der, &p->ca_len);
    if (rc == ONR_OK)
        rc = load_cert(svc, "service_broker_ca", p->broker_ca_der, &p->broker_ca_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_x509_parse(p->ca_der, p->ca_len, &info);
    if (rc != ONR_OK || !info.can_sign_certs) {
        fprintf(stderr, "onramp-provider: ca_cert: not a CA certificate\n");
        return ONR_ECERT;
    }
    rc = onr_service_path(svc, "ca_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &p->ca_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-provider: ca_key %s: %s\n", path, onr_strerror(rc));
        return rc;
    }
    if (endpoint == NULL || strncmp(endpoint, "mqtts://", 8) != 0 ||
        strlen(endpoint) >= sizeof(p->endpoint) || strlen(endpoint) <= 8 ||
        onr_text_check(ONR_TEXT_PRINTABLE, (struct onr_bytes){(const uint8_t *)endpoint,
                                                              strlen(endpoint)}) != ONR_OK) {
        fprintf(stderr, "onramp-provider: endpoint: want mqtts://HOST:PORT\n");
        return ONR_EINVAL;
    }
    memcpy(p->endpoint, endpoint, strlen(endpoint) + 1);
    return ONR_OK;
}

static int start(struct onr_service *svc, void *arg)
{
    struct prov *p = arg;
    char inbox[ONR_TOPIC_MAX + 1];
    char up[ONR_TOPIC_MAX + 1];
    char telemetry[ONR_TOPIC_MAX + 1];
    char renew[ONR_TOPIC_MAX + 1];
    char path[1024] = "";
    uint8_t sealing_key[ONR_X25519_KEY_LEN];
    int rc;

    rc = onr_service_path(svc, "sealing_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_x25519_load(path, sealing_key);
    if (rc == ONR_OK)
        rc = onr_hpke_recipient_init(&p->sealing, sealing_key);
    onr_wipe(sealing_key, sizeof(sealing_key));
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-provider: sealing_key: %s\n", onr_strerror(rc));
        return rc;
    }
    rc = load_enrollment(svc, p);
    if (rc == ONR_OK)
        rc = prov_page_start(svc, p);
    if (rc != ONR_OK)
        return rc;
    rc = onr_topic_filter_in(NULL, ONR_ROLE_PROVIDER, onr_service_id(svc), inbox,
                             sizeof(inbox));
    if (rc == ONR_OK)
        rc = onr_topic_filter_up(NULL, ONR_ROLE_PROVIDER, onr_service_id(svc), up, sizeof(up));
    if (rc == ONR_OK)
        rc = onr_topic_filter_operational(NULL, onr_service_id(svc), ONR_TOPIC_TELEMETRY,
                                          telemetry, sizeof(telemetry));
    if (rc == ONR_OK)
        rc = onr_topic_filter_operational(NULL, onr_service_id(svc), ONR_TOPIC_RENEW, renew,
                                          sizeof(renew));
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, renew, ONR_MSG_RENEW_REQUEST, prov_on_renew_request, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, renew, ONR_MSG_RENEWED, prov_on_renewed, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_PAIRING, prov_on_pairing, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_APP_KEY, prov_on_app_key, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_RELEASE, prov_on_release, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_REVOKE_REQUEST, prov_on_revoke_request,
                                   p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_NO_OPERATOR, prov_on_no_operator, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, up, ONR_MSG_ENROLL_REQUEST, prov_on_enroll, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe_raw(svc, telemetry, prov_on_telemetry, p);
    if (rc == ONR_OK)
        rc = onr_service_deliveries(svc, kinds, sizeof(kinds) / sizeof(kinds[0]), p->resend);
    if (rc == ONR_OK) {
        prov_align_unplanned(svc, p); /* a plan added while we were down */
        prov_policy_update(svc, p);   /* a policy changed while we were down */
    }
    onr_log(ONR_LOG_NOTICE, "provider ready manufacturers=%zu operators=%zu controllers=%zu "
            "plans=%zu policies=%zu endpoint=%s", p->manufacturers.n, p->operators.n,
            onr_service_controllers(svc)->n, p->n_plans, p->roaming.n_policies, p->endpoint);
    return rc;
}

static void stop(struct onr_service *svc, void *arg)
{
    struct prov *p = arg;

    (void)svc;
    prov_page_stop(p);
    onr_p256_free(p->ca_key);
    p->ca_key = NULL;
    onr_wipe(&p->sealing, sizeof(p->sealing));
}

/* Before the database opens (its migrations use the plans), and on
 * SIGHUP: then alignments that waited for a plan may go. */
static int load(struct onr_service *svc, void *arg)
{
    int rc = load_peers(svc, arg);

    if (rc == ONR_OK && onr_service_db(svc) != NULL) {
        prov_align_unplanned(svc, arg);
        prov_policy_update(svc, arg);
    }
    return rc;
}

int main(int argc, char **argv)
{
    const struct onr_service_def def = {
        .name = "provider",
        .sender_role = ONR_ROLE_PROVIDER,
        .usage = usage,
        .keys = keys,
        .n_keys = sizeof(keys) / sizeof(keys[0]),
        .schema = &prov_schema,
        .load = load,
        .start = start,
        .stop = stop,
        .arg = &state,
        .status = prov_status,
        .stats = prov_stats,
    };

    return onr_service_main(&def, argc, argv);
}
