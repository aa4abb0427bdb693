/* The provider's roaming configuration (see roaming.h). */
#include "roaming.h"

#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "onramp/text.h"

static int is_mcc(const char *s)
{
    return strlen(s) == ONR_MCC_LEN &&
           onr_text_check(ONR_TEXT_DIGITS, (struct onr_bytes){(const uint8_t *)s,
                                                              ONR_MCC_LEN}) == ONR_OK;
}

static const struct prov_contract_countries *countries_of(const struct prov_roaming *r,
                                                         const char *op)
{
    for (size_t i = 0; i < r->n_countries; i++)
        if (strcmp(r->countries[i].op, op) == 0)
            return &r->countries[i];
    return NULL;
}

/* Whether operator `op`'s contract covers country `mcc` ("*": any
 * country, which every contract does). */
static int covers(const struct prov_roaming *r, const char *op, const char *mcc)
{
    const struct prov_contract_countries *c = countries_of(r, op);

    if (c == NULL || strcmp(mcc, ONR_POLICY_ANY) == 0)
        return 1; /* a contract that lists no country covers any */
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->mcc[i], mcc) == 0)
            return 1;
    return 0;
}

/* `operator_serves OP MCC [MCC...]` */
static int load_countries(const struct onr_config *cfg, const struct onr_peers *operators,
                          struct prov_roaming *out)
{
    size_t count = onr_config_count(cfg, "operator_serves");

    if (count > ONR_PEERS_MAX) {
        fprintf(stderr, "onramp-provider: at most %d operator_serves lines\n", ONR_PEERS_MAX);
        return ONR_ECOUNT;
    }
    for (size_t i = 0; i < count; i++) {
        const char *line = onr_config_at(cfg, "operator_serves", i);
        struct prov_contract_countries *c = &out->countries[i];
        const char *f[PROV_MAX_MCCS + 1];
        char buf[1024];
        size_t nf = 0;

        if (onr_config_split(line, buf, sizeof(buf), f, PROV_MAX_MCCS + 1, &nf) != ONR_OK ||
            nf < 2) {
            fprintf(stderr, "onramp-provider: operator_serves %s: want 'operator_serves OP MCC "
                            "[MCC...]' (at most %d MCCs)\n", line, PROV_MAX_MCCS);
            return ONR_EFORMAT;
        }
        if (onr_peer_find(operators, (const uint8_t *)f[0], strlen(f[0])) == NULL) {
            fprintf(stderr, "onramp-provider: operator_serves %s: no contract with operator "
                            "%s (no operator line)\n", line, f[0]);
            return ONR_EINVAL;
        }
        if (countries_of(out, f[0]) != NULL) {
            fprintf(stderr, "onramp-provider: operator_serves %s: operator %s twice\n", line,
                    f[0]);
            return ONR_EINVAL;
        }
        snprintf(c->op, sizeof(c->op), "%s", f[0]);
        for (size_t k = 1; k < nf; k++) {
            if (!is_mcc(f[k])) {
                fprintf(stderr, "onramp-provider: operator_serves %s: %s is not an MCC (3 "
                                "digits)\n", line, f[k]);
                return ONR_EFORMAT;
            }
            memcpy(c->mcc[c->n++], f[k], ONR_MCC_LEN + 1);
        }
        out->n_countries = i + 1;
    }
    return ONR_OK;
}

/* One `policy ACCOUNT POLICY` line: it parses, names operators we have
 * contracts with, each for countries its contract covers. */
static int load_policy(const char *line, const struct onr_peers *operators,
                       const struct prov_roaming *r, struct prov_policy *out)
{
    const char *f[2];
    char buf[ONR_POLICY_TEXT_MAX + PROV_ACCOUNT_MAX + 8];
    size_t nf = 0;
    int rc;

    if (onr_config_split(line, buf, sizeof(buf), f, 2, &nf) != ONR_OK || nf != 2 ||
        strlen(f[0]) > PROV_ACCOUNT_MAX) {
        fprintf(stderr, "onramp-provider: policy %s: want 'policy ACCOUNT POLICY', e.g. "
                        "'policy * 262:op-de;*:op-eu'\n", line);
        return ONR_EFORMAT;
    }
    rc = onr_policy_parse(f[1], strlen(f[1]), &out->policy);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-provider: policy %s: %s (want MCC:OP[,OP...] entries "
                        "separated by ';', MCC 3 digits or *)\n", line, onr_strerror(rc));
        return rc;
    }
    for (size_t e = 0; e < out->policy.n; e++) {
        const struct onr_policy_entry *en = &out->policy.entries[e];

        for (size_t k = 0; k < en->n_ops; k++) {
            if (onr_peer_find(operators, (const uint8_t *)en->ops[k], strlen(en->ops[k])) ==
                NULL) {
                fprintf(stderr, "onramp-provider: policy %s: no contract with operator %s\n",
                        line, en->ops[k]);
                return ONR_EINVAL;
            }
            if (!covers(r, en->ops[k], en->mcc)) {
                fprintf(stderr, "onramp-provider: policy %s: operator %s does not serve %s "
                                "(its operator_serves line)\n", line, en->ops[k], en->mcc);
                return ONR_EINVAL;
            }
        }
    }
    snprintf(out->account, sizeof(out->account), "%s", f[0]);
    return onr_policy_format(&out->policy, out->text, sizeof(out->text), NULL);
}

int prov_roaming_load(const struct onr_config *cfg, const struct onr_peers *operators,
                      struct prov_roaming *out)
{
    size_t count = onr_config_count(cfg, "policy");
    int rc;

    memset(out, 0, sizeof(*out));
    rc = load_countries(cfg, operators, out);
    if (rc != ONR_OK)
        return rc;
    if (count > PROV_MAX_POLICIES) {
        fprintf(stderr, "onramp-provider: at most %d policy lines\n", PROV_MAX_POLICIES);
        return ONR_ECOUNT;
    }
    for (size_t i = 0; i < count; i++) {
        const char *line = onr_config_at(cfg, "policy", i);

        rc = load_policy(line, operators, out, &out->policies[i]);
        if (rc != ONR_OK)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(out->policies[k].account, out->policies[i].account) == 0) {
                fprintf(stderr, "onramp-provider: policy %s: account %s has a policy "
                                "already\n", line, out->policies[i].account);
                return ONR_EINVAL;
            }
        out->n_policies = i + 1;
    }
    return ONR_OK;
}

const struct prov_policy *prov_policy_for(const struct prov_roaming *r, const char *account)
{
    const struct prov_policy *any = NULL;

    for (size_t i = 0; i < r->n_policies; i++) {
        if (strcmp(r->policies[i].account, account) == 0)
            return &r->policies[i];
        if (strcmp(r->policies[i].account, ONR_POLICY_ANY) == 0)
            any = &r->policies[i];
    }
    return any;
}

/* The keys a registration with policy `pol` and operator `op` carries:
 * every operator the policy names, then `op`. */
static int op_keys_of(const struct onr_peers *operators, const struct onr_policy *pol,
                      const char *op, struct onr_op_keys *out)
{
    const struct onr_peer *peer;
    int rc = ONR_OK;

    memset(out, 0, sizeof(*out));
    for (size_t e = 0; e < pol->n && rc == ONR_OK; e++)
        for (size_t k = 0; k < pol->entries[e].n_ops && rc == ONR_OK; k++) {
            const char *name = pol->entries[e].ops[k];

            if (onr_op_keys_find(out, name) != NULL)
                continue; /* named for another country too */
            peer = onr_peer_find(operators, (const uint8_t *)name, strlen(name));
            rc = peer != NULL ? onr_op_keys_add(out, name, peer->key) : ONR_ENOENT;
        }
    if (rc != ONR_OK || onr_op_keys_find(out, op) != NULL)
        return rc;
    peer = onr_peer_find(operators, (const uint8_t *)op, strlen(op));
    return peer != NULL ? onr_op_keys_add(out, op, peer->key) : ONR_ENOENT;
}

const char *prov_policy_text(const struct prov_roaming *r, const char *account)
{
    const struct prov_policy *policy = prov_policy_for(r, account);

    return policy != NULL ? policy->text : "";
}

int prov_policy_fields(const struct onr_peers *operators, const char *policy, const char *op,
                       uint8_t buf[ONR_OP_KEYS_BIN_MAX], struct onr_bytes *text,
                       struct onr_bytes *op_keys)
{
    struct onr_policy parsed;
    struct onr_op_keys keys;
    size_t len = 0;
    int rc;

    *text = (struct onr_bytes){NULL, 0};
    *op_keys = (struct onr_bytes){NULL, 0};
    if (policy[0] == '\0')
        return ONR_OK;
    rc = onr_policy_parse(policy, strlen(policy), &parsed);
    if (rc == ONR_OK)
        rc = op_keys_of(operators, &parsed, op, &keys);
    if (rc == ONR_OK)
        rc = onr_op_keys_encode(&keys, buf, ONR_OP_KEYS_BIN_MAX, &len);
    if (rc != ONR_OK)
        return rc;
    *text = (struct onr_bytes){(const uint8_t *)policy, strlen(policy)};
    *op_keys = (struct onr_bytes){buf, len};
    return ONR_OK;
}

int prov_resolve(const struct prov_claim *c, const char *plmn, char *op, enum onr_choice *why)
{
    struct onr_policy policy;
    char mcc[ONR_MCC_LEN + 1];
    const char *chosen = NULL;
    int rc;

    if (c->policy[0] == '\0')
        return ONR_ENOENT;
    if (onr_policy_parse(c->policy, strlen(c->policy), &policy) != ONR_OK)
        return ONR_EIO; /* we wrote it: it parsed then */
    snprintf(mcc, sizeof(mcc), "%.3s", plmn);
    rc = onr_policy_resolve(&policy, plmn[0] != '\0' ? mcc : NULL, c->user ? c->op : NULL,
                            &chosen, why);
    if (rc == ONR_OK)
        snprintf(op, ONR_SERVICE_ID_MAX + 1, "%s", chosen);
    return rc;
}
