/*
 * onramp-provider: the IoT service provider's service: pairing (step 1),
 * registering claimed devices with their manufacturers (step 2), and
 * keeping the application keys operators send for attached devices.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
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
    "claimed by another.\n"
    "\n"
    "Configuration (FILE, key value lines; relative paths from FILE's folder):\n"
    "  id                 the provider's id (its certificate's CN)\n"
    "  broker_host, broker_port   the broker's services listener\n"
    "  broker_ca          PEM: the broker's TLS CA\n"
    "  cert, key          PEM: this service's certificate (OU=provider)\n"
    "  signing_key        P-256 key signing its messages\n"
    "  database           SQLite file of its claims\n"
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
    "  controller ID SIGNING_PUB a control tool allowed to pair devices (its\n"
    "                     certificate's CN and the key its pairings verify with)\n"
    "  log_level          error, warning, notice (default), info, debug\n"
    "  freshness          seconds a message's timestamp may be off (default 300)\n"
    "\n"
    "  -o KEY=VALUE       override a configuration key\n"
    "  --log-level LEVEL  the same as -o log_level=LEVEL\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the\n"
    "configuration (manufacturers, operators, controllers, log level).\n"
    "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage.\n";

static const char *const keys[] = {"manufacturer", "operator", "default_operator", "controller",
                                   "sealing_key"};

static struct prov state;

/* The peers: loaded at start and again on SIGHUP (all or nothing). */
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
        rc = onr_peers_load(cfg, "onramp-provider", "controller", 0, &next.controllers);
    if (rc != ONR_OK)
        return rc;
    def = onr_config_get(cfg, "default_operator");
    if (def == NULL || onr_peer_find(&next.operators, (const uint8_t *)def, strlen(def)) == NULL) {
        fprintf(stderr, "onramp-provider: default_operator must name one of the operator "
                        "lines\n");
        return ONR_EINVAL;
    }
    snprintf(next.default_operator, sizeof(next.default_operator), "%s", def);
    *p = next;
    return ONR_OK;
}

static int start(struct onr_service *svc, void *arg)
{
    struct prov *p = arg;
    char inbox[ONR_TOPIC_MAX + 1];
    char path[1024] = "";
    int rc;

    rc = load_peers(svc, p);
    if (rc == ONR_OK)
        rc = onr_service_path(svc, "sealing_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_x25519_load(path, p->sealing_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-provider: sealing_key: %s\n", onr_strerror(rc));
        return rc;
    }
    snprintf(inbox, sizeof(inbox), "onr/1/s/prov/%s/in", onr_service_id(svc));
    rc = onr_service_subscribe(svc, inbox, ONR_MSG_PAIRING, prov_on_pairing, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_REGISTERED, prov_on_registered, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_ERROR, prov_on_mfr_error, p);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, inbox, ONR_MSG_APP_KEY, prov_on_app_key, p);
    onr_log(ONR_LOG_NOTICE, "provider ready manufacturers=%zu operators=%zu controllers=%zu",
            p->manufacturers.n, p->operators.n, p->controllers.n);
    return rc;
}

static int reload(struct onr_service *svc, void *arg)
{
    return load_peers(svc, arg);
}

int main(int argc, char **argv)
{
    const struct onr_service_def def = {
        .name = "provider",
        .role = "prov",
        .sender_role = ONR_ROLE_PROVIDER,
        .usage = usage,
        .keys = keys,
        .n_keys = sizeof(keys) / sizeof(keys[0]),
        .schema = prov_claims_schema,
        .schema_version = PROV_CLAIMS_VERSION,
        .start = start,
        .reload = reload,
        .arg = &state,
    };

    return onr_service_main(&def, argc, argv);
}
