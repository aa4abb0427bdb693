/*
 * The provider's roaming configuration (proto/SPEC.md section 15): the
 * countries each operator's contract covers and, per account (or "*" for
 * every other), the policy naming which operators a device uses in which
 * country. Loaded with the rest of the configuration (at start and on
 * SIGHUP, all or nothing); a line that names an operator without a
 * contract, or for a country its contract does not cover, is refused with
 * the line named.
 *
 *   operator_serves OP MCC [MCC...]   operator OP's contract covers these
 *                                     countries (none listed: any)
 *   policy ACCOUNT POLICY             ACCOUNT's devices (ACCOUNT * for the
 *                                     others) follow POLICY, in section
 *                                     15's text form
 */
#ifndef ONRAMP_PROV_ROAMING_H
#define ONRAMP_PROV_ROAMING_H

#include <stddef.h>

#include "claims.h"
#include "onramp/op_keys.h"
#include "onramp/policy.h"
#include "onramp/svc_peers.h"

#define PROV_MAX_POLICIES 32
#define PROV_MAX_MCCS 64

struct onr_config;

struct prov_contract_countries {
    char op[ONR_SERVICE_ID_MAX + 1];
    size_t n;
    char mcc[PROV_MAX_MCCS][ONR_MCC_LEN + 1];
};

struct prov_policy {
    char account[PROV_ACCOUNT_MAX + 1]; /* "*": every account without its own */
    char text[ONR_POLICY_TEXT_MAX + 1];
    struct onr_policy policy;
};

struct prov_roaming {
    struct prov_contract_countries countries[ONR_PEERS_MAX];
    size_t n_countries;
    struct prov_policy policies[PROV_MAX_POLICIES];
    size_t n_policies;
};

/*
 * prov_roaming_load: the operator_serves and policy lines of `cfg` into
 * `out`, checked against the contracts `operators` (borrowed). On failure
 * prints why to stderr, naming the line, and returns ONR_EINVAL,
 * ONR_EFORMAT, ONR_ECOUNT or the policy parser's code.
 */
int prov_roaming_load(const struct onr_config *cfg, const struct onr_peers *operators,
                      struct prov_roaming *out);

/* prov_policy_for: the policy of `account`'s devices (its own, else "*"),
 * or NULL when none applies (borrowed from `r`). */
const struct prov_policy *prov_policy_for(const struct prov_roaming *r, const char *account);
/* prov_policy_text: the text of that policy, "" when none applies. */
const char *prov_policy_text(const struct prov_roaming *r, const char *account);

/*
 * prov_policy_fields: the optional fields a registration (SPEC type 13),
 * or a kit registration for every device of its kit (type 40), carries
 * for `policy` ("" none) with operator `op`: *text the policy, *op_keys
 * the keys of every operator it names and of `op`, from the contracts
 * `operators`, encoded into `buf`; both {NULL, 0} without a policy.
 * ONR_OK, ONR_ENOENT (an operator without a contract now), ONR_ECOUNT,
 * or the policy parser's code.
 */
int prov_policy_fields(const struct onr_peers *operators, const char *policy, const char *op,
                       uint8_t buf[ONR_OP_KEYS_BIN_MAX], struct onr_bytes *text,
                       struct onr_bytes *op_keys);
/*
 * prov_resolve: the operator a device claimed as `c` uses in the country
 * of `plmn` (a checked PLMN; "" for none: the fallback alone), by the policy its last registration carried
 * and its end user's choice if `c->user` (SPEC section 15), with *why;
 * into `op` (ONR_SERVICE_ID_MAX + 1 bytes). ONR_OK, ONR_ENOOPERATOR, or
 * ONR_ENOENT when it was registered with no policy (it stays with its
 * operator).
 */
int prov_resolve(const struct prov_claim *c, const char *plmn, char *op, enum onr_choice *why);

#endif /* ONRAMP_PROV_ROAMING_H */
