/*
 * onramp-provider: what its files share.
 *
 *   main.c      configuration: the manufacturers, operators and control
 *               tools it works with
 *   claims.c    the database: the devices its users claimed
 *   pairing.c   step 1: a pairing from onrampctl -> claim -> registration
 *               with the manufacturer (step 2) -> answer to onrampctl
 *   app_key.c   after step 3c: an operator's sealed application key for an
 *               attached device, stored for its enrollment
 */
#ifndef ONRAMP_PROV_H
#define ONRAMP_PROV_H

#include <stdint.h>

#include "onramp/p256.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"
#include "onramp/x25519.h"

struct prov {
    struct onr_peers manufacturers;
    struct onr_peers operators;     /* the operators it has contracts with */
    struct onr_peers controllers;   /* control tools allowed to pair */
    char default_operator[ONR_SERVICE_ID_MAX + 1];
    uint8_t sealing_key[ONR_X25519_KEY_LEN]; /* application keys are sealed to it */
};

/* pairing.c: the handlers on onr/1/s/prov/{us}/in. */
int prov_on_pairing(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_registered(struct onr_service *svc, const struct onr_envelope *env,
                       const char *topic, void *arg);
/* app_key.c: an operator's application key for a device (type 24). */
int prov_on_app_key(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    void *arg);
int prov_on_mfr_error(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg);

#endif /* ONRAMP_PROV_H */
