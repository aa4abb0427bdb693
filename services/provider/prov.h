/*
 * onramp-provider: what its files share.
 *
 *   main.c      configuration: the manufacturers, operators and control
 *               tools it works with
 *   claims.c    the database: the devices its users claimed
 *   pairing.c   step 1: a pairing from onrampctl -> claim -> registration
 *               with the manufacturer (step 2) -> answer to onrampctl
 */
#ifndef ONRAMP_PROV_H
#define ONRAMP_PROV_H

#include <stdint.h>

#include "onramp/p256.h"
#include "onramp/service.h"
#include "onramp/x25519.h"

#define PROV_MAX_PEERS 64

/* A manufacturer, operator or control tool this provider works with. */
struct prov_peer {
    char id[ONR_SERVICE_ID_MAX + 1];
    uint8_t key[ONR_P256_PUB_LEN];            /* verifies its envelopes */
    uint8_t sealing_key[ONR_X25519_KEY_LEN];  /* manufacturers: claims are sealed to it */
};

struct prov_peers {
    struct prov_peer list[PROV_MAX_PEERS];
    size_t n;
};

struct prov {
    struct prov_peers manufacturers;
    struct prov_peers operators;     /* the operators it has contracts with */
    struct prov_peers controllers;   /* control tools allowed to pair */
    char default_operator[ONR_SERVICE_ID_MAX + 1];
};

/* main.c: the peer named `id` (`len` bytes), or NULL. */
const struct prov_peer *prov_peer(const struct prov_peers *peers, const uint8_t *id, size_t len);

/* pairing.c: the handlers on onr/1/s/prov/{us}/in. */
int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_registered(struct onr_service *svc, const struct onr_envelope *env,
                       const char *topic, void *arg);
int prov_on_mfr_error(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg);

#endif /* ONRAMP_PROV_H */
