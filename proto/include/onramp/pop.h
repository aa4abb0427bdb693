/*
 * Proof of possession at CONNECT: how a device shows a bootstrap broker that
 * it holds the identity key behind its client id, in one round (libmosquitto
 * cannot answer an AUTH challenge).
 *
 * The device sends MQTT v5 authentication method "onramp-pop-v1" and, as
 * authentication data, ONR_POP_LEN bytes (proto/SPEC.md, section 10):
 *
 *   0x01 || pub (65) || timestamp (u64be, seconds) || nonce (16) || sig (64)
 *
 * sig is ECDSA P-256 (r || s) over SHA-256 of
 *
 *   "onramp/1 pop" || 0x00 || u16be(len(client id)) || client id
 *   || u16be(len(broker)) || broker || timestamp || nonce
 *
 * binding the proof to the client id, the broker's configured name and the
 * time. The broker accepts it once.
 */
#ifndef ONRAMP_POP_H
#define ONRAMP_POP_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/p256.h"

struct onr_replay;

#define ONR_POP_METHOD "onramp-pop-v1"
#define ONR_POP_VERSION 1
#define ONR_POP_NONCE_LEN 16
#define ONR_POP_LEN (1 + ONR_P256_PUB_LEN + 8 + ONR_POP_NONCE_LEN + ONR_P256_SIG_LEN)
/* Client ids and broker names are bounded (MQTT allows 65535). */
#define ONR_POP_MAX_NAME 256

/* What a verified proof says. */
struct onr_pop {
    uint8_t public_key[ONR_P256_PUB_LEN];
    uint64_t timestamp;
    uint8_t nonce[ONR_POP_NONCE_LEN];
};

/*
 * onr_pop_encode: a proof by `key` for `client_id` at `broker` (both
 * borrowed) made at `now`, with a fresh random nonce, into `out`.
 * Returns ONR_OK, ONR_EINVAL (a name empty or over ONR_POP_MAX_NAME),
 * ONR_ERANDOM or ONR_ECRYPTO.
 */
int onr_pop_encode(const struct onr_p256_key *key, struct onr_bytes client_id,
                   struct onr_bytes broker, uint64_t now, uint8_t out[ONR_POP_LEN]);

/*
 * onr_pop_verify: check untrusted authentication `data` for a client that
 * connected as `client_id` to the broker named `broker`. Cheapest checks
 * first, and nothing recorded unless the signature verifies:
 *   ONR_ELENGTH   not exactly ONR_POP_LEN bytes
 *   ONR_EVERSION  unknown format version
 *   ONR_EBADKEY   client id is not the device id of the key, or the key is
 *                 not a valid P-256 point
 *   ONR_ESTALE    timestamp more than `window` seconds from `now`, or
 *                 before `not_before` (0: no such bound; a broker that
 *                 restarted passes its start time, see the plugin)
 *   ONR_EBADSIG   signature does not verify
 *   ONR_EREPLAY   this proof was accepted before (if `replay` is not NULL;
 *                 or ONR_EREPLAYFULL)
 * On ONR_OK, `out` (if not NULL) holds what the proof says.
 */
int onr_pop_verify(const uint8_t *data, size_t len, struct onr_bytes client_id,
                   struct onr_bytes broker, uint64_t now, uint32_t window,
                   uint64_t not_before, struct onr_replay *replay, struct onr_pop *out);

#endif /* ONRAMP_POP_H */
