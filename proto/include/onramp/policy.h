/*
 * Roaming policy: which operator a device uses in the country it is
 * switched on in (SPEC section 15).
 *
 * A provider keeps, per account (or for all), an ordered list of the
 * operators allowed in each country (MCC) and a list for any other country
 * (`*`, the fallback). The policy travels in the registration as text,
 *
 *     262:op-1,op-2;724:op-4;*:op-3
 *
 * and the manufacturer resolves it when the device says hello, from the
 * country of the network the device reports (its visited PLMN): the end
 * user's preferred operator wins where the list for that country allows
 * it, else the first of that list; a country without a list takes the
 * fallback the same way; with neither, there is no operator for the device
 * there.
 *
 * Nothing here allocates; policies are small values with fixed bounds.
 */
#ifndef ONRAMP_POLICY_H
#define ONRAMP_POLICY_H

#include <stddef.h>

#include "onramp/msg.h"

/* Bounds of one policy, enforced by the parser and the builder. */
#define ONR_POLICY_MAX_ENTRIES 32  /* countries, the fallback included */
#define ONR_POLICY_MAX_OPS 8       /* operators listed for one country */
#define ONR_POLICY_TEXT_MAX 512    /* bytes of its text form */

/* A PLMN (MCC || MNC) is 5 or 6 digits; an MCC is its first 3. */
#define ONR_PLMN_MAX 6
#define ONR_MCC_LEN 3

/* "*": the entry for any country without its own. */
#define ONR_POLICY_ANY "*"

struct onr_policy_entry {
    char mcc[ONR_MCC_LEN + 1];                          /* 3 digits, or "*" */
    size_t n_ops;                                       /* 1..ONR_POLICY_MAX_OPS */
    char ops[ONR_POLICY_MAX_OPS][ONR_SERVICE_ID_MAX + 1]; /* in order of preference */
};

struct onr_policy {
    size_t n;                                           /* 0: no policy */
    struct onr_policy_entry entries[ONR_POLICY_MAX_ENTRIES];
};

/* Why the operator was chosen, as vouchers and devices name it. */
enum onr_choice {
    ONR_CHOICE_USER = 1, /* the end user's preference, allowed in that country */
    ONR_CHOICE_POLICY,   /* the first operator of that country's list */
    ONR_CHOICE_FALLBACK, /* the first of the list for any other country */
};

/* onr_choice_name: "user", "policy", "fallback"; NULL for another value.
 * onr_choice_parse: the reverse for `len` bytes of `name` (borrowed);
 * ONR_OK or ONR_EINVAL. */
const char *onr_choice_name(enum onr_choice choice);
int onr_choice_parse(const char *name, size_t len, enum onr_choice *out);

/*
 * onr_plmn_check: ONR_OK if `len` bytes at `plmn` (borrowed, need not be
 * NUL-terminated) are a PLMN, 5 or 6 ASCII digits; ONR_EINVAL otherwise.
 */
int onr_plmn_check(const char *plmn, size_t len);

/*
 * onr_policy_add: append `op` (copied) to the list for `mcc` (3 digits or
 * "*"; copied), creating the entry at the end if it has none. ONR_OK;
 * ONR_EINVAL for a malformed MCC or operator id; ONR_EEXIST if the list
 * already names `op`; ONR_ECOUNT past ONR_POLICY_MAX_ENTRIES or
 * ONR_POLICY_MAX_OPS; ONR_ETOOBIG if the text form would pass
 * ONR_POLICY_TEXT_MAX. `p` is unchanged on error.
 */
int onr_policy_add(struct onr_policy *p, const char *mcc, const char *op);

/*
 * onr_policy_parse: the policy in `len` bytes of text (borrowed, untrusted,
 * need not be NUL-terminated) into `out`. The grammar is
 *     policy = entry *(";" entry)     entry = mcc ":" op *("," op)
 * with mcc three digits or "*", op a service id; no MCC twice, no operator
 * twice in one list, no spaces. ONR_OK; ONR_ETOOBIG past
 * ONR_POLICY_TEXT_MAX; ONR_EFORMAT for anything else malformed (an empty
 * text included); ONR_ECOUNT or ONR_EEXIST as onr_policy_add. `out` is
 * undefined on error.
 */
int onr_policy_parse(const char *text, size_t len, struct onr_policy *out);

/*
 * onr_policy_format: the text form of `p` into `out` (`cap` bytes, NUL
 * terminated); *len (may be NULL) its length. The same policy always
 * formats the same way (entries and operators in their order).
 * ONR_OK, ONR_EINVAL for an empty policy, ONR_ESPACE.
 */
int onr_policy_format(const struct onr_policy *p, char *out, size_t cap, size_t *len);

/* onr_policy_find: the entry for `mcc` (3 digits or "*"), or NULL. */
const struct onr_policy_entry *onr_policy_find(const struct onr_policy *p, const char *mcc);

/*
 * onr_policy_resolve: the operator for a device in the country `mcc` (3
 * digits; NULL when the device reported no network: only the fallback
 * applies) whose end user prefers `user_op` (NULL for none). *op points
 * into `p` (it lives as long as `p`), *why says which rule chose it.
 * ONR_OK, or ONR_ENOOPERATOR when neither the country nor the fallback has
 * a list (nothing is set then).
 */
int onr_policy_resolve(const struct onr_policy *p, const char *mcc, const char *user_op,
                       const char **op, enum onr_choice *why);

#endif /* ONRAMP_POLICY_H */
