/* The topology as a whole: names resolved, then what no single line shows
 * (a provider without contracts, a port used twice on one host, ...). */
#include "topology_internal.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/policy.h"

static const char *ref_kind_name(enum adm_ref_kind kind)
{
    switch (kind) {
    case ADM_REF_HOST: return "host";
    case ADM_REF_BROKER: return "broker";
    case ADM_REF_PROVIDER: return "provider";
    case ADM_REF_OPERATOR: return "operator";
    case ADM_REF_PARTY: return "service or monitor";
    }
    return "?";
}

static const char *article(enum adm_ref_kind kind)
{
    return kind == ADM_REF_OPERATOR ? "an" : "a";
}

static int resolve_one(struct adm_parser *p, const struct adm_ref *r)
{
    const struct adm_topology *t = p->t;
    enum adm_role want = r->kind == ADM_REF_PROVIDER ? ADM_PROVIDER : ADM_OPERATOR;

    if (r->kind == ADM_REF_HOST) {
        for (size_t i = 0; i < t->n_hosts; i++)
            if (strcmp(t->hosts[i].name, r->name) == 0) {
                *r->slot = i;
                return ONR_OK;
            }
        return adm_fail(p, r->line, "host '%s' is not declared (add a line 'host %s')",
                        r->name, r->name);
    }
    if (r->kind == ADM_REF_BROKER) {
        for (size_t i = 0; i < t->n_brokers; i++)
            if (strcmp(t->brokers[i].name, r->name) == 0) {
                *r->slot = i;
                return ONR_OK;
            }
        return adm_fail(p, r->line, "%s: no broker '%s'", r->what, r->name);
    }
    for (size_t i = 0; i < t->n_parties; i++) {
        if (strcmp(t->parties[i].id, r->name) != 0)
            continue;
        if (r->kind != ADM_REF_PARTY && t->parties[i].role != want)
            return adm_fail(p, r->line, "%s: '%s' is a %s (line %zu), not %s %s", r->what,
                            r->name, adm_role_name(t->parties[i].role), t->parties[i].line,
                            article(r->kind), ref_kind_name(r->kind));
        *r->slot = i;
        return ONR_OK;
    }
    return adm_fail(p, r->line, "%s: no %s '%s'", r->what, ref_kind_name(r->kind), r->name);
}

static int check_broker(struct adm_parser *p)
{
    const struct adm_topology *t = p->t;
    const struct adm_host *h;

    if (t->n_parties > 0 && t->n_brokers == 0)
        return adm_fail(p, t->parties[0].line, "%s '%s' needs a broker: declare one (broker "
                                               "NAME host=HOST)",
                        adm_role_name(t->parties[0].role), t->parties[0].id);
    for (size_t i = 0; i < t->n_brokers; i++) {
        h = &t->hosts[t->brokers[i].host];
        if (h->address[0] == '\0' && h->dns[0] == '\0')
            return adm_fail(p, t->brokers[i].line, "broker '%s': its host '%s' (line %zu) has "
                                                   "neither address= nor dns=, and devices "
                                                   "and services must reach it",
                            t->brokers[i].name, h->name, h->line);
        /* each broker is its host's mosquitto, with its files in
         * /etc/mosquitto */
        for (size_t k = 0; k < i; k++)
            if (t->brokers[k].host == t->brokers[i].host)
                return adm_fail(p, t->brokers[i].line, "broker '%s': host '%s' runs broker '%s' "
                                                       "(line %zu) already: one broker per host",
                                t->brokers[i].name, h->name, t->brokers[k].name,
                                t->brokers[k].line);
        /* its certificate names it (DNS:NAME): it must not be valid for
         * another host's name too */
        for (size_t k = 0; k < t->n_hosts; k++)
            if (k != t->brokers[i].host && strcmp(t->hosts[k].dns, t->brokers[i].name) == 0)
                return adm_fail(p, t->brokers[i].line, "broker '%s': the DNS name of host "
                                                       "'%s' (line %zu), and its certificate "
                                                       "names it: choose another broker name",
                                t->brokers[i].name, t->hosts[k].name, t->hosts[k].line);
    }
    return ONR_OK;
}

static int check_contracts(struct adm_parser *p)
{
    const struct adm_topology *t = p->t;

    for (size_t i = 0; i < t->n_contracts; i++)
        for (size_t j = 0; j < i; j++)
            if (t->contracts[i].provider == t->contracts[j].provider &&
                t->contracts[i].op == t->contracts[j].op)
                return adm_fail(p, t->contracts[i].line, "contract %s %s given twice (first "
                                                         "on line %zu)",
                                t->parties[t->contracts[i].provider].id,
                                t->parties[t->contracts[i].op].id, t->contracts[j].line);
    return ONR_OK;
}

static int check_plans(struct adm_parser *p, size_t prov)
{
    const struct adm_topology *t = p->t;
    size_t n = 0;

    for (size_t i = 0; i < t->n_plans; i++) {
        const struct adm_plan *pl = &t->plans[i];

        if (pl->provider != prov)
            continue;
        if (++n > ADM_MAX_PLANS)
            return adm_fail(p, pl->line, "provider '%s' has more than %d plans",
                            t->parties[prov].id, ADM_MAX_PLANS);
        for (size_t j = 0; j < i; j++)
            if (t->plans[j].provider == prov && strcmp(t->plans[j].account, pl->account) == 0)
                return adm_fail(p, pl->line, "plan %s %s given twice (first on line %zu)",
                                t->parties[prov].id, pl->account, t->plans[j].line);
    }
    return ONR_OK;
}

/* Whether operator `op` (an index) serves country `mcc` ("*": any). */
static int serves(const struct adm_party *op, const char *mcc)
{
    if (op->n_serves == 0 || strcmp(mcc, "*") == 0)
        return 1;
    for (size_t i = 0; i < op->n_serves; i++)
        if (strcmp(op->serves[i], mcc) == 0)
            return 1;
    return 0;
}

/* A provider's roaming lines: one per account, at most 32, naming only
 * operators it has contracts with, each for countries it serves (what
 * onramp-provider refuses at start, refused here with the line). */
static int check_roaming(struct adm_parser *p, size_t prov)
{
    const struct adm_topology *t = p->t;
    size_t count = 0;

    for (size_t i = 0; i < t->n_roaming; i++) {
        const struct adm_roaming *r = &t->roaming[i];
        struct onr_policy policy;

        if (r->provider != prov)
            continue;
        if (++count > 32)
            return adm_fail(p, r->line, "provider '%s' has more than 32 roaming lines",
                            t->parties[prov].id);
        for (size_t j = 0; j < i; j++)
            if (t->roaming[j].provider == prov && strcmp(t->roaming[j].account, r->account) == 0)
                return adm_fail(p, r->line, "roaming %s %s given twice (first on line %zu)",
                                t->parties[prov].id, r->account, t->roaming[j].line);
        if (onr_policy_parse(r->policy, strlen(r->policy), &policy) != ONR_OK)
            return adm_fail(p, r->line, "roaming: the policy does not parse");
        for (size_t e = 0; e < policy.n; e++)
            for (size_t k = 0; k < policy.entries[e].n_ops; k++) {
                const char *name = policy.entries[e].ops[k];
                size_t op = SIZE_MAX;

                for (size_t q = 0; q < t->n_parties; q++)
                    if (t->parties[q].role == ADM_OPERATOR && strcmp(t->parties[q].id, name) == 0)
                        op = q;
                if (op == SIZE_MAX || !adm_has_contract(t, prov, op))
                    return adm_fail(p, r->line, "roaming: provider '%s' has no contract with "
                                    "operator '%s'", t->parties[prov].id, name);
                if (!serves(&t->parties[op], policy.entries[e].mcc))
                    return adm_fail(p, r->line, "roaming: operator '%s' does not serve %s (its "
                                    "serves=)", name, policy.entries[e].mcc);
            }
    }
    return ONR_OK;
}

/* A provider's operators are those it has contracts with; its default one
 * among them (the first contract's unless named). */
static int check_provider(struct adm_parser *p, size_t prov)
{
    struct adm_topology *t = p->t;
    struct adm_party *pr = &t->parties[prov];
    size_t first = SIZE_MAX;
    int rc;

    for (size_t i = 0; i < t->n_contracts && first == SIZE_MAX; i++)
        if (t->contracts[i].provider == prov)
            first = t->contracts[i].op;
    if (first == SIZE_MAX)
        return adm_fail(p, pr->line, "provider '%s' has no contract with any operator (add "
                                     "'contract %s OPERATOR')", pr->id, pr->id);
    if (pr->default_operator == SIZE_MAX)
        pr->default_operator = first;
    else if (!adm_has_contract(t, prov, pr->default_operator))
        return adm_fail(p, pr->line, "provider '%s': default_operator %s has no contract with "
                                     "it (add 'contract %s %s')",
                        pr->id, t->parties[pr->default_operator].id, pr->id,
                        t->parties[pr->default_operator].id);
    if (pr->endpoint_broker == SIZE_MAX)
        pr->endpoint_broker = 0; /* the first broker (there is one: check_broker) */
    rc = check_plans(p, prov);
    return rc == ONR_OK ? check_roaming(p, prov) : rc;
}

/* A port a host listens on, and who does. */
struct port_use {
    size_t host;
    uint16_t port;
    char what[80];
    size_t line;
};

static int use_port(struct adm_parser *p, struct port_use *uses, size_t *n, size_t host,
                    uint16_t port, const char *what, size_t line)
{
    for (size_t i = 0; i < *n; i++)
        if (uses[i].host == host && uses[i].port == port)
            return adm_fail(p, line, "port %u on host '%s' is already used by %s (line %zu)",
                            (unsigned)port, p->t->hosts[host].name, uses[i].what,
                            uses[i].line);
    uses[*n].host = host;
    uses[*n].port = port;
    snprintf(uses[*n].what, sizeof(uses[*n].what), "%s", what);
    uses[*n].line = line;
    (*n)++;
    return ONR_OK;
}

/* Metrics for services (metrics_listen) and monitors (the exporter), once
 * each. */
static int check_metrics(struct adm_parser *p)
{
    const struct adm_topology *t = p->t;

    for (size_t i = 0; i < t->n_metrics; i++) {
        const struct adm_metrics *m = &t->metrics[i];
        const struct adm_party *pr = &t->parties[m->party];

        if (pr->role == ADM_CONTROL)
            return adm_fail(p, m->line, "metrics: '%s' is a control tool (line %zu): metrics "
                                        "are a service's or a monitor's (its exporter)",
                            pr->id, pr->line);
        for (size_t k = 0; k < i; k++)
            if (t->metrics[k].party == m->party)
                return adm_fail(p, m->line, "metrics %s given twice (first on line %zu)",
                                pr->id, t->metrics[k].line);
    }
    return ONR_OK;
}

/* Several instances of a service share its database (so PostgreSQL) and
 * run on its host with one configuration; what listens listens once per
 * instance, instance K on the port given plus K - 1 (check_ports). */
static int check_instances(struct adm_parser *p)
{
    const struct adm_topology *t = p->t;

    for (size_t i = 0; i < t->n_parties; i++) {
        const struct adm_party *pr = &t->parties[i];

        if (pr->instances >= 2 && !t->storage.postgres)
            return adm_fail(p, pr->line, "%s instances=%u: several instances share one "
                                         "database: needs `storage postgres host=HOST`",
                            pr->id, pr->instances);
    }
    return ONR_OK;
}

/* The ports `what` of a party with `instances` takes from `port` on: one
 * per instance, all on its host and none past 65535. */
static int use_ports(struct adm_parser *p, struct port_use *uses, size_t *n, size_t host,
                     uint16_t port, unsigned instances, const char *what, size_t line)
{
    char one[80];
    int rc = ONR_OK;

    if ((unsigned)port + instances - 1 > 65535)
        return adm_fail(p, line, "%s: port %u and one after it for each of its %u instances "
                                 "pass 65535", what, (unsigned)port, instances);
    for (unsigned k = 1; k <= instances && rc == ONR_OK; k++) {
        if (instances > 1)
            snprintf(one, sizeof(one), "%s of instance %u", what, k);
        else
            snprintf(one, sizeof(one), "%s", what);
        rc = use_port(p, uses, n, host, (uint16_t)(port + k - 1), one, line);
    }
    return rc;
}

static int check_ports(struct adm_parser *p)
{
    static struct port_use uses[ADM_MAX_BROKERS * 3 + 2 * ADM_MAX_PARTIES * ADM_MAX_INSTANCES + 1];
    const struct adm_topology *t = p->t;
    char what[80];
    size_t n = 0;
    int rc = ONR_OK;

    for (size_t i = 0; i < t->n_brokers && rc == ONR_OK; i++) {
        const struct adm_broker *b = &t->brokers[i];
        const struct {
            const char *key;
            uint16_t port;
        } ports[] = {{"bootstrap_port", b->bootstrap_port},
                     {"services_port", b->services_port},
                     {"service_port", b->service_port}};

        for (size_t k = 0; k < 3 && rc == ONR_OK; k++) {
            snprintf(what, sizeof(what), "broker '%s' (%s)", b->name, ports[k].key);
            rc = use_port(p, uses, &n, b->host, ports[k].port, what, b->line);
        }
    }
    for (size_t i = 0; i < t->n_parties && rc == ONR_OK; i++) {
        const struct adm_party *pr = &t->parties[i];

        if (pr->role != ADM_PROVIDER || pr->pairing_port == 0)
            continue;
        snprintf(what, sizeof(what), "provider '%s' (pairing_port)", pr->id);
        rc = use_ports(p, uses, &n, pr->host, pr->pairing_port, pr->instances, what, pr->line);
    }
    for (size_t i = 0; i < t->n_metrics && rc == ONR_OK; i++) {
        const struct adm_metrics *m = &t->metrics[i];
        const struct adm_party *pr = &t->parties[m->party];

        snprintf(what, sizeof(what), "metrics %s", pr->id);
        rc = use_ports(p, uses, &n, pr->host, m->port, pr->instances, what, m->line);
    }
    if (rc == ONR_OK && t->storage.postgres)
        rc = use_port(p, uses, &n, t->storage.host, t->storage.port, "storage postgres",
                      t->storage.line);
    return rc;
}

int adm_topology_check(struct adm_parser *p)
{
    int rc = ONR_OK;

    for (size_t i = 0; i < p->n_refs && rc == ONR_OK; i++)
        rc = resolve_one(p, &p->refs[i]);
    if (rc == ONR_OK)
        rc = check_broker(p);
    if (rc == ONR_OK)
        rc = check_contracts(p);
    for (size_t i = 0; i < p->t->n_parties && rc == ONR_OK; i++)
        if (p->t->parties[i].role == ADM_PROVIDER)
            rc = check_provider(p, i);
    if (rc == ONR_OK)
        rc = check_metrics(p);
    if (rc == ONR_OK)
        rc = check_instances(p);
    if (rc == ONR_OK)
        rc = check_ports(p);
    return rc;
}
