/*
 * The peers a service works with, as its configuration names them: one
 * line per peer, `KEY ID SIGNING_PUB [SEALING_PUB]`, the files relative to
 * the configuration file (manufacturers, providers, operators, control
 * tools). Written once for every service.
 */
#ifndef ONRAMP_SVC_PEERS_H
#define ONRAMP_SVC_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

#define ONR_PEERS_MAX 64

struct onr_peer {
    char id[ONR_SERVICE_ID_MAX + 1];
    uint8_t key[ONR_P256_PUB_LEN];           /* verifies its envelopes (or vouchers) */
    uint8_t sealing_key[ONR_X25519_KEY_LEN]; /* secrets for it are sealed to this */
};

struct onr_peers {
    struct onr_peer list[ONR_PEERS_MAX];
    size_t n;
};

struct onr_config;

/*
 * onr_peers_load: every `key` line of `cfg` into `out` (replaced), each
 * `ID SIGNING_PUB` or, with `with_sealing`, `ID SIGNING_PUB SEALING_PUB`.
 * On failure prints why to stderr, prefixed with `program`, and leaves
 * `out` untouched. Returns ONR_OK, ONR_ERANGE (too many), ONR_EFORMAT, or
 * the key loaders' errors.
 */
int onr_peers_load(const struct onr_config *cfg, const char *program, const char *key,
                   int with_sealing, struct onr_peers *out);

/* onr_peer_find: the peer named `id` (`len` bytes, borrowed), or NULL. */
const struct onr_peer *onr_peer_find(const struct onr_peers *peers, const uint8_t *id,
                                     size_t len);

#endif /* ONRAMP_SVC_PEERS_H */
