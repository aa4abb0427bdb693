/*
 * onramp-admin: from one topology file to every host's keys, certificates
 * and configuration. Flags, the topology's errors and the order of the
 * steps; each step lives in its own file (admin.h).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/version.h"

#ifndef ONR_PLUGIN_PATH
#define ONR_PLUGIN_PATH "/usr/lib/x86_64-linux-gnu/mosquitto/onramp_plugin.so"
#endif

static const char usage[] =
    "NAME\n"
    "  onramp-admin - every host's keys, certificates and configuration from one\n"
    "  topology file\n"
    "\n"
    "SYNOPSIS\n"
    "  onramp-admin --topology FILE --out DIR [--local] [--quiet]\n"
    "  onramp-admin --topology FILE --check\n"
    "\n"
    "DESCRIPTION\n"
    "  Reads a topology (below): which hosts run the brokers, the manufacturers,\n"
    "  providers and operators, which providers have contracts with which\n"
    "  operators, and where control tools and monitors run. Checks it as a\n"
    "  whole (every refusal names the line and the reason), then writes into\n"
    "  DIR:\n"
    "    admin/           the services CA (services-ca.key, services-ca.pem). Its\n"
    "                     key never leaves this directory.\n"
    "    keys/KIND/ID/    every key and certificate, made once: each broker's TLS\n"
    "                     server certificate (its name, DNS:NAME, and its host's\n"
    "                     dns= and address= as subjectAltNames), one TLS client\n"
    "                     certificate per service, control tool and monitor\n"
    "                     (OU = manufacturer, provider, operator, control or\n"
    "                     monitor; CN = its id; clientAuth),\n"
    "                     the services' P-256 signing keys, the X25519 sealing keys\n"
    "                     of manufacturers and providers, each provider's CA, each\n"
    "                     manufacturer's material (device CA, voucher key: the same\n"
    "                     code as onramp-factory new-manufacturer) and each\n"
    "                     operator's Milenage OP (op.hex).\n"
    "    hosts/HOST/      what HOST gets, laid out as its root directory:\n"
    "      /etc/onramp/ID/          a service's or tool's configuration\n"
    "                               (ROLE.conf, the format the service parses),\n"
    "                               TLS certificate and key, the services CA, and\n"
    "                               peers/PEER.{signing,sealing,voucher}.pub: the\n"
    "                               public keys its configuration names; a\n"
    "                               manufacturer's mint.sh (below)\n"
    "      /var/lib/onramp/ID/      a service's own keys (a provider's CA key only\n"
    "                               on its own host), its database once it runs\n"
    "      /etc/mosquitto/mosquitto.conf   a broker's configuration, rendered\n"
    "                               from the plugin's mosquitto.conf.example\n"
    "                               (plugin_opt_broker_cert: its certificate)\n"
    "      /etc/mosquitto/onramp/   its TLS certificate and key, the services CA,\n"
    "                               the provider CAs (one file each and a bundle),\n"
    "                               openssl-broker.cnf\n"
    "      /etc/systemd/system/mosquitto.service.d/onramp.conf\n"
    "                               OPENSSL_CONF and LimitNOFILE for the broker\n"
    "      /etc/onramp/ID/postgres.sql   with storage postgres, on the database\n"
    "                               host: each party's role and database, and\n"
    "                               the role's password (0600, secret)\n"
    "      /etc/onramp/ID/database.password   with storage postgres, on the\n"
    "                               service's host: that password (0600; made\n"
    "                               once, in keys/ROLE/ID/, never again)\n"
    "      /etc/systemd/system/onramp-ROLE@ID:K.service.d/onramp.conf   with\n"
    "                               instances=N: instance K's unit (K = 1..N)\n"
    "      /etc/onramp/ID/exporter.conf   a monitor's onrampctl exporter, with\n"
    "                               a metrics line (below)\n"
    "    prometheus/onramp.yml   with metrics lines: Prometheus's scrape\n"
    "                     configuration of the fabric (job onramp-services: each\n"
    "                     service's /metrics, labels service, role, host; job\n"
    "                     onramp-exporter: each monitor's exporter)\n"
    "    setup/HOST.sh    what to run on HOST, as root, once its files are there:\n"
    "                     hand the files to the mosquitto and onramp users, enable\n"
    "                     and restart mosquitto, onramp-ROLE@ID.service and\n"
    "                     onramp-exporter@ID.service.\n"
    "  Keys are written atomically with mode 0600; nothing secret is printed.\n"
    "  DIR holds every key of the fabric: keep it as you would a key store.\n"
    "\n"
    "  Running it again (after editing the topology) adds what is missing and\n"
    "  rewrites what changed; an existing key or CA is never made again (keys\n"
    "  are identities: one that does not load is an error to look at, never\n"
    "  replaced). A certificate whose subject, subjectAltNames or issuer no\n"
    "  longer match, or with less than 30 days left (CAs: a year), is issued\n"
    "  again for the same key. Nothing is deleted: the files of what left the\n"
    "  topology stay where they are (remove them by hand). Every file written\n"
    "  is reported on stdout as created, updated or kept (its path under\n"
    "  DIR), then a count of each. On a terminal, stderr shows the progress\n"
    "  of the keys and certificates.\n"
    "\n"
    "OPTIONS\n"
    "  --topology FILE  the topology (required)\n"
    "  --out DIR        where to write (made, mode 0700, if missing)\n"
    "  --local          name files in the configurations where they are under\n"
    "                   DIR/hosts/HOST, so the fabric runs from DIR on this\n"
    "                   machine (the demo, the tests); without it they name the\n"
    "                   hosts' own paths (/etc/onramp/..., /var/lib/onramp/...)\n"
    "  --quiet          report only the files created or updated\n"
    "  --check          check the topology and print what it holds (a line per\n"
    "                   broker, then the counts); write nothing\n"
    "  --help, --version\n"
    "\n"
    "THE TOPOLOGY FILE\n"
    "  One declaration per line. Blank lines are ignored, and so is everything\n"
    "  from a word starting with #. Words are separated by spaces or tabs: the\n"
    "  keyword, its names, then KEY=VALUE words (each key at most once). Names\n"
    "  and ids are a-z 0-9 . _ -, 1 to 32 characters, not starting with . _ or\n"
    "  -; ids are unique among services, control tools and monitors. A name may\n"
    "  be used before the line that declares it. At most 1 MiB, lines of at\n"
    "  most 1024 bytes, no control characters.\n"
    "\n"
    "  host NAME [address=IP] [dns=NAME]\n"
    "      A machine: its IPv4 or IPv6 address and its (lowercase) DNS name.\n"
    "      A broker's host needs one of them: its certificate names both, and\n"
    "      services and devices reach it by dns=, else address=.\n"
    "  broker NAME host=HOST [bootstrap_port=8883] [services_port=8884]\n"
    "         [service_port=8885] [bind=IP] [plugin=PATH] [nofile=100000]\n"
    "         [region=MCC]\n"
    "      Mosquitto with the onramp plugin, one per host, at most 8 (a device\n"
    "      lists at most 8 bootstrap brokers). NAME is its broker_name:\n"
    "      devices' proofs are bound to it, and its certificate names it\n"
    "      (DNS:NAME, which its plugin checks at start; so NAME may not be\n"
    "      another host's dns=). Brokers share nothing: each its own\n"
    "      certificate, grants file and configuration. region: the country it\n"
    "      serves, as its mobile country code (3 digits), written in its\n"
    "      mosquitto.conf and the manufacturers' mint.sh (no service uses it\n"
    "      yet: a later issue).\n"
    "      Listeners: bootstrap (devices, anonymous TLS), services (services,\n"
    "      control tools, monitors: mutual TLS with the services CA) and service\n"
    "      (operational devices: mutual TLS with the provider CAs, when a\n"
    "      provider's endpoint is here). bind: the listeners' address (default:\n"
    "      all); plugin: the plugin's path on HOST (default\n"
    "      " ONR_PLUGIN_PATH ");\n"
    "      nofile: the broker's LimitNOFILE.\n"
    "  manufacturer ID host=HOST [instances=N]\n"
    "      An onramp-manufacturer. Mint its devices on HOST, as the service's\n"
    "      user, with /etc/onramp/ID/mint.sh --out DIR [--count N] [--qr]:\n"
    "      onramp-factory mint --manufacturer /var/lib/onramp/ID with a\n"
    "      --broker NAME HOST PORT for every broker of the topology, in its\n"
    "      order, and --broker-ca /etc/onramp/ID/services-ca.pem. A device\n"
    "      starts at a random one of them and fails over along the list.\n"
    "  provider ID host=HOST [default_operator=OPERATOR] [endpoint_broker=NAME]\n"
    "           [pairing_port=PORT [pairing_origin=ORIGIN]] [instances=N]\n"
    "      An onramp-provider. default_operator (for users who name none): one\n"
    "      it has a contract with, default the first contract's. endpoint_broker:\n"
    "      the broker whose service listener its devices use (default the\n"
    "      first). pairing_port: serve the pairing page on 127.0.0.1:PORT (put\n"
    "      a TLS reverse proxy in front). pairing_origin: the page's public\n"
    "      origin there, e.g. https://pair.example.net (its http_origin: a\n"
    "      browser's form is taken from it).\n"
    "  operator ID host=HOST plmn=MCCMNC apn=APN imsi=FIRST-LAST\n"
    "           iccid=FIRST-LAST [amf=HEX4] [serves=MCC[,MCC...]] [instances=N]\n"
    "      An onramp-operator: its PLMN (5 or 6 digits), APN, the IMSIs it hands\n"
    "      out (6 to 15 digits, starting with the PLMN) and ICCIDs (18 or 19\n"
    "      digits without the Luhn digit), and the AMF (default the service's).\n"
    "      serves: the countries (MCCs) it serves, whose devices alone it gives\n"
    "      profiles (default: any).\n"
    "  contract PROVIDER OPERATOR\n"
    "      The provider and the operator work together: each gets the other's\n"
    "      keys. A provider needs at least one contract.\n"
    "  plan PROVIDER ACCOUNT QOS CHARGING CAP\n"
    "      The policy of an account's devices (ACCOUNT * for every other one):\n"
    "      QoS class 0..255, charging group (an id), data cap in bytes a month\n"
    "      (0: none). At most 32 per provider.\n"
    "  roaming PROVIDER ACCOUNT POLICY\n"
    "      The roaming policy of an account's devices (ACCOUNT * for every\n"
    "      other one), in proto/SPEC.md section 15's text form: MCC:OP[,OP...]\n"
    "      entries separated by ';', MCC * for any other country (e.g.\n"
    "      262:op-de;724:op-br;*:op-eu). Only operators the provider has a\n"
    "      contract with, each for countries its serves= lists. The provider\n"
    "      gets a policy line, and an operator_serves line per contract with\n"
    "      an operator that lists its countries.\n"
    "  control ID host=HOST\n"
    "      A control tool (onrampctl pair, release, revoke, status): its\n"
    "      certificate, and every service lists it as a controller.\n"
    "  monitor ID host=HOST\n"
    "      A monitor (onrampctl monitor): its certificate reads onr/1/#.\n"
    "  metrics ID port=PORT [bind=IP]\n"
    "      Prometheus metrics (README, \"Metrics\"). For a service: its\n"
    "      configuration gets metrics_listen IP:PORT (GET /metrics). For a\n"
    "      monitor: it runs onrampctl exporter (onramp-exporter@ID.service)\n"
    "      with /etc/onramp/ID/exporter.conf, which names every broker's\n"
    "      services listener and the monitor's certificate, and serves every\n"
    "      broker's counters on IP:PORT. bind: default 127.0.0.1 (then\n"
    "      Prometheus must scrape from that host); any other address adds\n"
    "      metrics_public yes (public yes): the listener has no login, keep it\n"
    "      behind a firewall. Both go into prometheus/onramp.yml. At most one\n"
    "      per service or monitor; PORT is one of its host's.\n"
    "  storage sqlite | storage postgres host=HOST [port=5432]\n"
    "      Where the parties keep their state: SQLite files (the default), or\n"
    "      each party its own PostgreSQL role and database on HOST: the SQL is\n"
    "      written there (the setup script runs it), and each service's\n"
    "      configuration gets database postgresql:host=HOST port=PORT\n"
    "      dbname=onramp_ID user=onramp_ID with database_password_file\n"
    "      /etc/onramp/ID/database.password (a random password made once; the\n"
    "      SQL gives it to the role). A manufacturer's registry (mint.sh) is\n"
    "      there too.\n"
    "\n"
    "  Every manufacturer works with every provider, and every operator trusts\n"
    "  every manufacturer's vouchers; providers and operators work together\n"
    "  only under a contract. Refused with the line and the reason: an unknown\n"
    "  keyword or key, a value out of its range, a name declared twice (host,\n"
    "  broker, id), a host, provider, operator or broker that is not declared,\n"
    "  a provider without a contract or whose default_operator has none with\n"
    "  it, a port used twice on one host, services without a broker, two\n"
    "  brokers on one host, more than 8 brokers, a broker named as another\n"
    "  host's dns=, metrics for a control tool or twice for one party.\n"
    "\n"
    "  Several brokers: every service's configuration lists every broker of\n"
    "  the topology (a broker line each), and the service connects to each\n"
    "  one's services listener. Every broker's bootstrap listener takes\n"
    "  devices, and devices list them all; a device moves to the next when\n"
    "  one fails (onramp-device --help).\n"
    "\n"
    "  instances=N (1..8, default 1) on a service's line: N processes of the\n"
    "  service on its host sharing its database, so only with storage\n"
    "  postgres; units onramp-ROLE@ID:1 .. onramp-ROLE@ID:N, each with the\n"
    "  one configuration and -o instance=K (a drop-in; the setup script\n"
    "  enables them and disables onramp-ROLE@ID). What the service listens on\n"
    "  is one port per instance: instance K's metrics and pairing page on the\n"
    "  port given plus K - 1 (the drop-in's -o metrics_listen, -o\n"
    "  http_listen; each a port of its host), and prometheus/onramp.yml lists\n"
    "  every instance's target (label service_instance). The setup script\n"
    "  stops and disables the units of instances the topology no longer has\n"
    "  (found by their drop-ins on the host) and removes those drop-ins.\n"
    "\n"
    "EXAMPLE\n"
    "  host gw address=192.0.2.10 dns=mqtt.example.net\n"
    "  host gw-fr address=192.0.2.11 dns=mqtt-fr.example.net\n"
    "  host svc address=192.0.2.20\n"
    "  broker bootstrap-1 host=gw\n"
    "  broker bootstrap-fr host=gw-fr region=208\n"
    "  manufacturer acme host=svc\n"
    "  provider prov-a host=svc pairing_port=8080\n"
    "  operator op-1 host=svc plmn=00101 apn=iot.example\n"
    "           imsi=001010000000001-001010009999999\n"
    "           iccid=894900100000000001-894900100009999999   (one line)\n"
    "  contract prov-a op-1\n"
    "  plan prov-a * 5 standard 0\n"
    "  control admin host=svc\n"
    "  monitor noc host=svc\n"
    "  metrics acme port=9464\n"
    "  metrics noc port=9469\n"
    "\n"
    "EXIT STATUS\n"
    "  0 done; 1 the topology was refused or a file could not be written (what\n"
    "  was written stays, and running again goes on from there); 2 usage.\n";

static int usage_error(void)
{
    fputs("usage: onramp-admin --topology FILE --out DIR [--local] [--quiet] | --check\n"
          "       (onramp-admin --help)\n",
          stderr);
    return 2;
}

static void print_check(const struct adm_topology *t)
{
    size_t roles[ADM_ROLES] = {0};

    for (size_t b = 0; b < t->n_brokers; b++) {
        const struct adm_host *h = &t->hosts[t->brokers[b].host];

        printf("broker %s: host %s, bootstrap %s:%u%s%s\n", t->brokers[b].name, h->name,
               h->dns[0] != '\0' ? h->dns : h->address, (unsigned)t->brokers[b].bootstrap_port,
               t->brokers[b].region[0] != '\0' ? ", region " : "", t->brokers[b].region);
    }
    for (size_t i = 0; i < t->n_parties; i++)
        roles[t->parties[i].role]++;
    printf("topology: %zu hosts, %zu brokers, %zu manufacturers, %zu providers, %zu "
           "operators, %zu contracts, %zu plans, %zu control tools, %zu monitors, storage %s\n",
           t->n_hosts, t->n_brokers, roles[ADM_MANUFACTURER], roles[ADM_PROVIDER],
           roles[ADM_OPERATOR], t->n_contracts, t->n_plans, roles[ADM_CONTROL],
           roles[ADM_MONITOR], t->storage.postgres ? "postgres" : "sqlite");
}

/* OUT made (0700) and as an absolute path. */
static int out_dir(struct adm_ctx *c, const char *out)
{
    char real[PATH_MAX];

    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "onramp-admin: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (realpath(out, real) == NULL || strlen(real) >= sizeof(c->out) - 256) {
        fprintf(stderr, "onramp-admin: %s: %s\n", out, strerror(errno ? errno : ENAMETOOLONG));
        return 1;
    }
    snprintf(c->out, sizeof(c->out), "%s", real);
    if (chmod(c->out, 0700) != 0) {
        fprintf(stderr, "onramp-admin: %s: %s\n", c->out, strerror(errno));
        return 1;
    }
    return 0;
}

static int run(struct adm_ctx *c)
{
    int rc;

    c->progress = onr_progress_new(stderr, "onramp-admin: keys and certificates",
                                   1 + c->t->n_brokers + c->t->n_parties, NULL);
    rc = adm_pki(c);
    onr_progress_free(c->progress); /* ends its line before anything else */
    c->progress = NULL;
    if (rc == ONR_OK)
        rc = adm_hosts(c);
    if (rc == ONR_OK)
        rc = adm_prometheus_files(c);
    if (rc == ONR_OK)
        rc = adm_setup_scripts(c);
    fflush(stdout);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-admin: %s\n", c->why[0] != '\0' ? c->why : onr_strerror(rc));
        return 1;
    }
    adm_summary(c);
    if (!c->local)
        printf("onramp-admin: next, for each host: rsync -a %s/hosts/HOST/ root@HOST:/ and "
               "run %s/setup/HOST.sh there\n", c->out, c->out);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"topology", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
        {"local", no_argument, NULL, 'l'},          {"quiet", no_argument, NULL, 'q'},
        {"check", no_argument, NULL, 'c'},          {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    struct adm_topology *t = NULL;
    struct adm_ctx *c = NULL;
    struct adm_error err;
    const char *topology = NULL;
    const char *out = NULL;
    int local = 0;
    int quiet = 0;
    int check = 0;
    int opt;
    int rc;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 't': topology = optarg; break;
        case 'o': out = optarg; break;
        case 'l': local = 1; break;
        case 'q': quiet = 1; break;
        case 'c': check = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("onramp-admin %s\n", ONR_VERSION_STRING); return 0;
        default: return usage_error();
        }
    }
    if (optind != argc || topology == NULL || (check ? out != NULL : out == NULL))
        return usage_error();
    rc = adm_topology_load(topology, &t, &err);
    if (rc == ONR_EFORMAT) {
        fprintf(stderr, "onramp-admin: %s:%zu: %s\n", topology, err.line, err.reason);
        return 1;
    }
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-admin: %s: %s\n", topology, onr_strerror(rc));
        return 1;
    }
    if (check) {
        print_check(t);
        adm_topology_free(t);
        return 0;
    }
    umask(022); /* the hosts' directories are their roots: 0755 where not private */
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        fprintf(stderr, "onramp-admin: %s\n", onr_strerror(ONR_ENOMEM));
    rc = c == NULL ? 1 : out_dir(c, out);
    if (rc == 0) {
        c->t = t;
        c->local = local;
        c->quiet = quiet;
        c->plugin = ONR_PLUGIN_PATH;
        rc = run(c);
    }
    free(c);
    adm_topology_free(t);
    onr_crypto_thread_cleanup();
    return rc;
}
