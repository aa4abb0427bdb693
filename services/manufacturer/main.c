/*
 * onramp-manufacturer: the manufacturer's service. Answers devices' hellos
 * with vouchers (step 3b) and takes registrations from providers (step 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfr.h"
#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"

static const char usage[] =
    "usage: onramp-manufacturer --config FILE [-o KEY=VALUE]... [--log-level LEVEL]\n"
    "\n"
    "The manufacturer's onboarding service. It answers the hello of every\n"
    "device it made (in its registry, written by onramp-factory) with a\n"
    "voucher naming the device's provider and operator, or with \"pending\"\n"
    "until a provider registers the device; the voucher is then pushed. With\n"
    "a roaming policy in the registration, the operator is the one the\n"
    "policy names for the country of the network the hello reports (the\n"
    "end user's choice where the policy allows it there, else the country's\n"
    "first, else the fallback's); a country with none is answered ENOOPERATOR\n"
    "and the provider told (at most once in 300 s per device). A provider may\n"
    "ask for a voucher that relocates its device to the operator its policy\n"
    "names where the device now is (relocation_request). It\n"
    "takes registrations from the providers it works with: the claim secret\n"
    "must match, and a device owned by another provider is refused. Every\n"
    "claim attempt is written to an append-only audit table. A provider may\n"
    "release a device it owns; it can then be registered again. A kit (devices\n"
    "onramp-factory kit grouped under one kit label) is registered whole: its\n"
    "claim secret must match, and every device of it must be free or this\n"
    "provider's through the kit, else none is assigned and the answer names the\n"
    "first that is not; a device of a kit is released on its own.\n"
    "\n"
    "Configuration (FILE, key value lines; relative paths from FILE's folder):\n"
    "  id                 the manufacturer's id (its certificate's CN)\n"
    "  broker NAME HOST PORT [region=MCC]   a broker's services listener and its\n"
    "                     plugin's broker_name; one line per broker (at most 8):\n"
    "                     it connects to each, answers a device on the broker\n"
    "                     its request came through,\n"
    "                     and takes a region for a hello with no network\n"
    "  broker_host, broker_port   instead: the one broker, its name unknown\n"
    "  broker_ca          PEM: the brokers' TLS CA\n"
    "  cert, key          PEM: this service's certificate (OU=manufacturer)\n"
    "  signing_key        P-256 key signing its messages (service.key)\n"
    "  voucher_key        P-256 key signing vouchers (voucher.key)\n"
    "  sealing_key        X25519 key claims are sealed to (sealing.key)\n"
    "  device_ca          PEM: the device CA identity certificates chain to\n"
    "  database           SQLite registry (manufacturer.db); one written by an\n"
    "                     older version is upgraded on start, in one transaction\n"
    "                     (a failed upgrade changes nothing and stops the start)\n"
    ONR_SERVICE_USAGE_STORE
    "  provider ID KEYFILE   a provider it works with and its signing key;\n"
    "                     repeat for each\n"
    "  voucher_lifetime   seconds a voucher is valid (default 604800)\n"
    "  retry_after        seconds a pending device waits to ask again (default 30)\n"
    "  claim_rate         claim attempts per provider per minute (default 120; a\n"
    "                     kit registration takes one)\n"
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
    "Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the\n"
    "configuration (providers, limits, log level).\n"
    "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage.\n";

static const char *const keys[] = {
    "voucher_key", "sealing_key", "device_ca", "provider",
    "voucher_lifetime", "retry_after", "claim_rate",
};

static struct mfr state;

const struct onr_peer *mfr_provider(const struct mfr *m, const uint8_t *id, size_t len)
{
    return onr_peer_find(&m->providers, id, len);
}

struct mfr_bucket *mfr_bucket(struct mfr *m, const struct onr_peer *provider)
{
    return &m->buckets[provider - m->providers.list];
}

/* provider ID KEYFILE lines, and the limits: what SIGHUP may change. */
static int load_peers(struct onr_service *svc, struct mfr *m)
{
    const struct onr_config *cfg = onr_service_config(svc);
    static struct onr_peers providers;
    struct mfr_bucket buckets[ONR_PEERS_MAX];
    int rc;

    rc = onr_peers_load(cfg, "onramp-manufacturer", "provider", 0, &providers);
    if (rc != ONR_OK)
        return rc;
    rc = onr_config_get_uint(cfg, "voucher_lifetime", 7 * 86400, 60, 365 * 86400,
                             &m->voucher_lifetime);
    if (rc == ONR_OK)
        rc = onr_config_get_uint(cfg, "retry_after", 30, 1, 86400, &m->retry_after);
    if (rc == ONR_OK)
        rc = onr_config_get_uint(cfg, "claim_rate", 120, 1, 1000000, &m->claim_rate);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-manufacturer: voucher_lifetime, retry_after, claim_rate: %s\n",
                onr_strerror(rc));
        return rc;
    }
    /* keep the buckets of providers that stay */
    memset(buckets, 0, sizeof(buckets));
    for (size_t i = 0; i < providers.n; i++) {
        const struct onr_peer *old = mfr_provider(m, (const uint8_t *)providers.list[i].id,
                                                  strlen(providers.list[i].id));

        if (old != NULL)
            buckets[i] = *mfr_bucket(m, old);
    }
    m->providers = providers;
    memcpy(m->buckets, buckets, sizeof(buckets));
    return ONR_OK;
}

static int load_keys(struct onr_service *svc, struct mfr *m)
{
    uint8_t buf[ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes ca;
    char path[1024];
    size_t n = 0;
    int rc;

    rc = onr_service_path(svc, "voucher_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &m->voucher_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-manufacturer: voucher_key: %s\n", onr_strerror(rc));
        return rc;
    }
    rc = onr_service_path(svc, "sealing_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_x25519_load(path, m->sealing_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-manufacturer: sealing_key: %s\n", onr_strerror(rc));
        return rc;
    }
    rc = onr_service_path(svc, "device_ca", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_x509_load(path, buf, &buf_len, &ca, 1, &n);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-manufacturer: device_ca: %s\n", onr_strerror(rc));
        return rc;
    }
    memcpy(m->device_ca, ca.ptr, ca.len);
    m->device_ca_len = ca.len;
    return ONR_OK;
}

static int start(struct onr_service *svc, void *arg)
{
    struct mfr *m = arg;
    char filter[ONR_TOPIC_MAX + 1];
    int rc;

    rc = load_keys(svc, m);
    if (rc != ONR_OK)
        return rc;
    rc = onr_topic_filter_up(NULL, ONR_ROLE_MANUFACTURER, onr_service_id(svc), filter,
                             sizeof(filter));
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_HELLO, mfr_on_hello, m);
    if (rc == ONR_OK)
        rc = onr_topic_filter_in(NULL, ONR_ROLE_MANUFACTURER, onr_service_id(svc), filter,
                                 sizeof(filter));
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_REGISTRATION, mfr_on_registration, m);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_RELEASE, mfr_on_release, m);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_KIT_REGISTRATION,
                                   mfr_on_kit_registration, m);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, filter, ONR_MSG_RELOCATION_REQUEST,
                                   mfr_on_relocation_request, m);
    onr_log(ONR_LOG_NOTICE, "manufacturer ready providers=%zu", m->providers.n);
    return rc;
}

static int load(struct onr_service *svc, void *arg)
{
    return load_peers(svc, arg);
}

/* A device's journey as we know it (status_request, SPEC type 30): its
 * state, its assignment, and its last voucher (when, for which PLMN,
 * naming which operator and why). */
static int status(struct onr_service *svc, void *arg, const char *dev, struct onr_msg_status *out)
{
    static struct onr_registry_roaming last; /* out borrows from it until answered */
    const char *word;
    uint64_t assigned_at = 0;
    int at = MFR_MADE;
    int rc;

    (void)arg;
    rc = onr_registry_state(onr_service_db(svc), dev, &at, &assigned_at);
    if (rc != ONR_OK)
        return rc;
    word = mfr_state_name(at);
    memset(out, 0, sizeof(*out));
    out->state = (struct onr_bytes){(const uint8_t *)word, strlen(word)};
    out->registered = assigned_at;
    rc = onr_registry_roaming(onr_service_db(svc), dev, &last);
    if (rc == ONR_ENOENT)
        return ONR_OK;
    if (rc != ONR_OK)
        return rc;
    out->vouched = last.vouched_at;
    if (last.plmn[0] != '\0')
        out->plmn = (struct onr_bytes){(const uint8_t *)last.plmn, strlen(last.plmn)};
    if (last.op[0] != '\0' && last.why[0] != '\0') {
        out->op = (struct onr_bytes){(const uint8_t *)last.op, strlen(last.op)};
        out->why = (struct onr_bytes){(const uint8_t *)last.why, strlen(last.why)};
    }
    return ONR_OK;
}

static void stop(struct onr_service *svc, void *arg)
{
    struct mfr *m = arg;

    (void)svc;
    onr_p256_free(m->voucher_key);
    m->voucher_key = NULL;
    onr_wipe(m->sealing_key, sizeof(m->sealing_key));
}

int main(int argc, char **argv)
{
    const struct onr_service_def def = {
        .name = "manufacturer",
        .sender_role = ONR_ROLE_MANUFACTURER,
        .usage = usage,
        .keys = keys,
        .n_keys = sizeof(keys) / sizeof(keys[0]),
        .schema = &onr_registry_schema,
        .load = load,
        .start = start,
        .stop = stop,
        .arg = &state,
        .status = status,
    };

    return onr_service_main(&def, argc, argv);
}
