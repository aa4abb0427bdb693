/*
 * The operators' keys a registration carries with its roaming policy
 * (proto/SPEC.md type 13, `op_keys`): the P-256 signing key of every
 * operator the policy names, so that the manufacturer can put the key of
 * whichever it chooses into the voucher.
 *
 * On the wire they are one binary of records, each
 *
 *     u8 len || id (len bytes) || key (65 bytes)
 *
 * with `id` a service id (1 to 32 characters, <onramp/msg.h>) and `key`
 * an uncompressed SEC1 point (04 || X || Y; whether it is on the curve is
 * checked where it is used, as for every key a message carries): at least
 * one record, at most ONR_OP_KEYS_MAX, no operator twice, nothing after
 * the last. The decoder reads untrusted bytes within these bounds and
 * nothing past them; nothing here allocates.
 */
#ifndef ONRAMP_OP_KEYS_H
#define ONRAMP_OP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/policy.h"

#define ONR_OP_KEYS_MAX 16
/* One record's bytes, at least and at most. */
#define ONR_OP_KEY_RECORD_MIN (1 + 1 + ONR_P256_PUB_LEN)
#define ONR_OP_KEY_RECORD_MAX (1 + ONR_SERVICE_ID_MAX + ONR_P256_PUB_LEN)
/* The `op_keys` field's bounds (SPEC type 13). */
#define ONR_OP_KEYS_BIN_MIN ONR_OP_KEY_RECORD_MIN
#define ONR_OP_KEYS_BIN_MAX (ONR_OP_KEYS_MAX * ONR_OP_KEY_RECORD_MAX)

struct onr_op_key {
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t key[ONR_P256_PUB_LEN];
};

struct onr_op_keys {
    size_t n; /* 0..ONR_OP_KEYS_MAX */
    struct onr_op_key keys[ONR_OP_KEYS_MAX];
};

/*
 * onr_op_keys_add: append `op` (a service id, copied) with `key` (65
 * bytes, copied). ONR_OK; ONR_EINVAL for a NULL argument, an ill-formed
 * id or a key not starting with 04; ONR_EEXIST if `k` has `op` already;
 * ONR_ECOUNT past ONR_OP_KEYS_MAX. `k` is unchanged on error.
 */
int onr_op_keys_add(struct onr_op_keys *k, const char *op, const uint8_t key[ONR_P256_PUB_LEN]);

/* onr_op_keys_find: the key `k` holds for `op` (NUL-terminated), pointing
 * into `k`, or NULL. */
const uint8_t *onr_op_keys_find(const struct onr_op_keys *k, const char *op);

/*
 * onr_op_keys_encode: the records of `k` in its order into `out` (`cap`
 * bytes); *len their length. ONR_OK, ONR_EINVAL (NULL, or no record),
 * ONR_ESPACE.
 */
int onr_op_keys_encode(const struct onr_op_keys *k, uint8_t *out, size_t cap, size_t *len);

/*
 * onr_op_keys_decode: `len` bytes at `buf` (borrowed, untrusted) into
 * `out`. ONR_OK; ONR_EINVAL for NULL arguments; ONR_EFORMAT for no record,
 * a record cut short or with an id of length 0 or over 32, an id that is
 * not a service id, a key not starting with 04; ONR_ECOUNT past
 * ONR_OP_KEYS_MAX records; ONR_EEXIST for an operator twice. `out` is
 * zeroed on error.
 */
int onr_op_keys_decode(const uint8_t *buf, size_t len, struct onr_op_keys *out);

/*
 * onr_op_keys_match: whether `k` holds exactly the keys a registration
 * with policy `p` and operator `op` (NUL-terminated) must carry: one for
 * every operator the policy names and for `op`, and none other; and
 * whether `op`'s is `op_key` (65 bytes). ONR_OK or ONR_ESCHEMA.
 */
int onr_op_keys_match(const struct onr_op_keys *k, const struct onr_policy *p, const char *op,
                      const uint8_t op_key[ONR_P256_PUB_LEN]);

#endif /* ONRAMP_OP_KEYS_H */
