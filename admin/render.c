/* The services' configuration files, in the format each service parses
 * (onramp-manufacturer --help, ...), with their peers' public keys written
 * next to them under the names the configuration gives them. */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

enum peer_key { PEER_SIGNING, PEER_SEALING, PEER_VOUCHER };

struct render {
    struct adm_ctx *c;
    size_t self; /* the party whose configuration this is */
    size_t host;
    struct adm_text *text;
    int rc;
    char path[ADM_PATH]; /* the last path() */
};

static const char *const peer_suffix[] = {"signing", "sealing", "voucher"};

/* A file of this party's host as its configuration names it. */
static const char *path(struct render *r, const char *dir, const char *name)
{
    const char *id = r->c->t->parties[r->self].id;

    if (r->rc == ONR_OK)
        r->rc = adm_conf_path(r->c, r->host, r->path, "%s/%s/%s", dir, id, name);
    return r->rc == ONR_OK ? r->path : "";
}

/* Write party `peer`'s public key of `kind` into peers/ and return the
 * path the configuration names it by. */
static const char *peer_file(struct render *r, size_t peer, enum peer_key kind)
{
    const struct adm_party *self = &r->c->t->parties[r->self];
    const struct adm_party *p = &r->c->t->parties[peer];
    const struct adm_party_keys *k = &r->c->keys[peer];
    char file[ADM_PATH];
    char name[128];

    snprintf(name, sizeof(name), "peers/%s.%s.pub", p->id, peer_suffix[kind]);
    if (r->rc == ONR_OK)
        r->rc = adm_host_path(r->c, r->host, file, "/etc/onramp/%s/%s", self->id, name);
    if (r->rc == ONR_OK && kind == PEER_SEALING)
        r->rc = adm_put_public(r->c, file, k->sealing, sizeof(k->sealing));
    else if (r->rc == ONR_OK)
        r->rc = adm_put_public(r->c, file, kind == PEER_VOUCHER ? k->voucher : k->signing,
                               ONR_P256_PUB_LEN);
    return path(r, "/etc/onramp", name);
}

/* The broker the services connect to, as they reach it. */
static const char *broker_host(const struct adm_topology *t, size_t b)
{
    const struct adm_host *h = &t->hosts[t->brokers[b].host];

    return h->dns[0] != '\0' ? h->dns : h->address;
}

/* Its metrics line: GET /metrics there (README, "Metrics"). */
static void metrics(struct render *r)
{
    const struct adm_metrics *m = adm_metrics_of(r->c->t, r->self);
    char listen[80];

    if (m == NULL)
        return;
    adm_text_add(r->text, "# Prometheus metrics (GET /metrics)\n");
    if (r->c->t->parties[r->self].instances > 1)
        adm_text_add(r->text, "# (instance K on this port plus K - 1: its unit's drop-in)\n");
    adm_text_add(r->text, "metrics_listen %s\n", adm_metrics_listen(m, 1, listen, sizeof(listen)));
    if (adm_metrics_public(m))
        adm_text_add(r->text, "# not loopback (bind=%s): keep it behind a firewall\n"
                              "metrics_public yes\n", m->bind);
}

static void common(struct render *r, const char *db)
{
    const struct adm_topology *t = r->c->t;
    const struct adm_party *self = &t->parties[r->self];
    const char *role = adm_role_name(self->role);
    char name[64];

    adm_text_add(r->text,
                 "# onramp-%s %s on host %s, written by onramp-admin: change the\n"
                 "# topology and run onramp-admin again rather than edit this file.\n"
                 "id %s\n",
                 role, self->id, t->hosts[r->host].name, self->id);
    /* every broker: a service serves devices on each and sends what every
     * plugin must hold to all (README, "Several brokers") */
    adm_text_add(r->text, "# The topology's brokers: NAME HOST PORT [region=MCC]\n");
    for (size_t b = 0; b < t->n_brokers; b++) {
        adm_text_add(r->text, "broker %s %s %u", t->brokers[b].name, broker_host(t, b),
                     (unsigned)t->brokers[b].services_port);
        if (t->brokers[b].region[0] != '\0')
            adm_text_add(r->text, " region=%s", t->brokers[b].region);
        adm_text_add(r->text, "\n");
    }
    adm_text_add(r->text, "broker_ca %s\n", path(r, "/etc/onramp", "services-ca.pem"));
    snprintf(name, sizeof(name), "%s.pem", role);
    adm_text_add(r->text, "cert %s\n", path(r, "/etc/onramp", name));
    snprintf(name, sizeof(name), "%s.key", role);
    adm_text_add(r->text, "key %s\n", path(r, "/etc/onramp", name));
    adm_text_add(r->text, "signing_key %s\n", path(r, "/var/lib/onramp", "service.key"));
    if (t->storage.postgres) {
        if (r->rc == ONR_OK)
            r->rc = adm_database_lines(r->c, r->self, r->text);
    } else {
        adm_text_add(r->text, "database %s\n", path(r, "/var/lib/onramp", db));
    }
    metrics(r);
}

/* Every control tool may ask this service (status; providers: pair). */
static void controllers(struct render *r)
{
    const struct adm_topology *t = r->c->t;

    for (size_t i = 0; i < t->n_parties; i++)
        if (t->parties[i].role == ADM_CONTROL)
            adm_text_add(r->text, "controller %s %s\n", t->parties[i].id,
                         peer_file(r, i, PEER_SIGNING));
}

static void manufacturer(struct render *r)
{
    const struct adm_topology *t = r->c->t;

    common(r, "manufacturer.db");
    adm_text_add(r->text, "voucher_key %s\n", path(r, "/var/lib/onramp", "voucher.key"));
    adm_text_add(r->text, "sealing_key %s\n", path(r, "/var/lib/onramp", "sealing.key"));
    adm_text_add(r->text, "device_ca %s\n", path(r, "/var/lib/onramp", "device-ca.pem"));
    adm_text_add(r->text, "# every provider of the topology\n");
    for (size_t i = 0; i < t->n_parties; i++)
        if (t->parties[i].role == ADM_PROVIDER)
            adm_text_add(r->text, "provider %s %s\n", t->parties[i].id,
                         peer_file(r, i, PEER_SIGNING));
    controllers(r);
}

static void provider(struct render *r)
{
    const struct adm_topology *t = r->c->t;
    const struct adm_party *self = &t->parties[r->self];
    const struct adm_broker *b = &t->brokers[self->endpoint_broker];

    common(r, "provider.db");
    adm_text_add(r->text, "sealing_key %s\n", path(r, "/var/lib/onramp", "sealing.key"));
    adm_text_add(r->text, "# every manufacturer of the topology\n");
    for (size_t i = 0; i < t->n_parties; i++)
        if (t->parties[i].role == ADM_MANUFACTURER) {
            char signing[ADM_PATH];

            snprintf(signing, sizeof(signing), "%s", peer_file(r, i, PEER_SIGNING));
            adm_text_add(r->text, "manufacturer %s %s %s\n", t->parties[i].id, signing,
                         peer_file(r, i, PEER_SEALING));
        }
    adm_text_add(r->text, "# the operators it has contracts with\n");
    for (size_t i = 0; i < t->n_contracts; i++)
        if (t->contracts[i].provider == r->self)
            adm_text_add(r->text, "operator %s %s\n", t->parties[t->contracts[i].op].id,
                         peer_file(r, t->contracts[i].op, PEER_SIGNING));
    adm_text_add(r->text, "default_operator %s\n", t->parties[self->default_operator].id);
    /* roaming: the countries each contract covers (those its operator
     * serves), the accounts' policies */
    for (size_t i = 0; i < t->n_contracts; i++) {
        const struct adm_party *op = &t->parties[t->contracts[i].op];

        if (t->contracts[i].provider != r->self || op->n_serves == 0)
            continue;
        adm_text_add(r->text, "operator_serves %s", op->id);
        for (size_t k = 0; k < op->n_serves; k++)
            adm_text_add(r->text, " %s", op->serves[k]);
        adm_text_add(r->text, "\n");
    }
    for (size_t i = 0; i < t->n_roaming; i++)
        if (t->roaming[i].provider == r->self)
            adm_text_add(r->text, "policy %s %s\n", t->roaming[i].account, t->roaming[i].policy);
    controllers(r);
    adm_text_add(r->text, "ca_cert %s\n", path(r, "/var/lib/onramp", "provider-ca.pem"));
    adm_text_add(r->text, "ca_key %s\n", path(r, "/var/lib/onramp", "provider-ca.key"));
    adm_text_add(r->text, "endpoint mqtts://%s:%u\n", broker_host(t, self->endpoint_broker),
                 (unsigned)b->service_port);
    adm_text_add(r->text, "service_broker_ca %s\n", path(r, "/etc/onramp", "services-ca.pem"));
    for (size_t i = 0; i < t->n_plans; i++)
        if (t->plans[i].provider == r->self)
            adm_text_add(r->text, "plan %s %u %s %llu\n", t->plans[i].account, t->plans[i].qos,
                         t->plans[i].charging, (unsigned long long)t->plans[i].cap);
    if (self->pairing_port != 0 && self->instances > 1)
        adm_text_add(r->text, "# the pairing page, on loopback, instance K on this port plus "
                              "K - 1 (its\n# unit's drop-in): put a TLS reverse proxy in front "
                              "of them all\n");
    else if (self->pairing_port != 0)
        adm_text_add(r->text, "# the pairing page, on loopback: put a TLS reverse proxy in "
                              "front\n");
    if (self->pairing_port != 0)
        adm_text_add(r->text, "http_listen 127.0.0.1:%u\n", (unsigned)self->pairing_port);
    if (self->pairing_origin[0] != '\0') /* the origin of the proxy's pages */
        adm_text_add(r->text, "http_origin %s\n", self->pairing_origin);
}

static void operator(struct render *r)
{
    const struct adm_topology *t = r->c->t;
    const struct adm_party *self = &t->parties[r->self];

    common(r, "operator.db");
    adm_text_add(r->text, "op_file %s\n", path(r, "/var/lib/onramp", "op.hex"));
    adm_text_add(r->text, "plmn %s\napn %s\n", self->plmn, self->apn);
    if (self->amf[0] != '\0')
        adm_text_add(r->text, "amf %s\n", self->amf);
    adm_text_add(r->text, "imsi_range %s %s\niccid_range %s %s\n", self->imsi_first,
                 self->imsi_last, self->iccid_first, self->iccid_last);
    if (self->n_serves > 0) {
        adm_text_add(r->text, "serves");
        for (size_t k = 0; k < self->n_serves; k++)
            adm_text_add(r->text, " %s", self->serves[k]);
        adm_text_add(r->text, "\n");
    }
    adm_text_add(r->text, "# the vouchers of every manufacturer of the topology\n");
    for (size_t i = 0; i < t->n_parties; i++)
        if (t->parties[i].role == ADM_MANUFACTURER)
            adm_text_add(r->text, "manufacturer %s %s\n", t->parties[i].id,
                         peer_file(r, i, PEER_VOUCHER));
    adm_text_add(r->text, "# the providers it has contracts with\n");
    for (size_t i = 0; i < t->n_contracts; i++)
        if (t->contracts[i].op == r->self) {
            size_t prov = t->contracts[i].provider;
            char signing[ADM_PATH];

            snprintf(signing, sizeof(signing), "%s", peer_file(r, prov, PEER_SIGNING));
            adm_text_add(r->text, "provider %s %s %s\n", t->parties[prov].id, signing,
                         peer_file(r, prov, PEER_SEALING));
        }
    controllers(r);
}

int adm_render_service(struct adm_ctx *c, size_t i, struct adm_text *text)
{
    struct render r = {.c = c, .self = i, .host = c->t->parties[i].host, .text = text};

    switch (c->t->parties[i].role) {
    case ADM_MANUFACTURER: manufacturer(&r); break;
    case ADM_PROVIDER: provider(&r); break;
    case ADM_OPERATOR: operator(&r); break;
    case ADM_CONTROL:
    case ADM_MONITOR:
    case ADM_ROLES: return ONR_EINVAL;
    }
    return r.rc;
}

int adm_tool_peers(struct adm_ctx *c, size_t i)
{
    struct render r = {.c = c, .self = i, .host = c->t->parties[i].host};

    for (size_t p = 0; p < c->t->n_parties && r.rc == ONR_OK; p++)
        if (c->t->parties[p].role <= ADM_OPERATOR)
            peer_file(&r, p, PEER_SIGNING);
    return r.rc;
}
