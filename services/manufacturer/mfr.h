/*
 * onramp-manufacturer: what its files share.
 *
 *   main.c          configuration, keys, the providers it works with
 *   hello.c         step 3b: a device's hello -> voucher or pending
 *   registration.c  step 2: a provider registers a claimed device
 *   release.c       a provider gives up a device
 *   voucher.c       building a voucher (token + message)
 *   lifecycle.c     a device's state (made, waiting, assigned) and its changes
 *   registry.c      the database and its migrations (shared with onramp-factory)
 */
#ifndef ONRAMP_MFR_H
#define ONRAMP_MFR_H

#include <stdint.h>

#include "onramp/service.h"
#include "onramp/svc_peers.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"
#include "lifecycle.h"
#include "registry.h"

/* Claim attempts a provider may still make (a token bucket). */
struct mfr_bucket {
    double tokens;
    uint64_t last;        /* when the bucket was last refilled, seconds */
};

struct mfr {
    struct onr_p256_key *voucher_key;
    uint8_t sealing_key[ONR_X25519_KEY_LEN];
    uint8_t device_ca[ONR_X509_MAX_DER];
    size_t device_ca_len;
    struct onr_peers providers;                  /* the providers it works with */
    struct mfr_bucket buckets[ONR_PEERS_MAX];    /* one per provider, same index */
    uint64_t voucher_lifetime;  /* seconds */
    uint64_t retry_after;       /* seconds, in pending answers */
    uint64_t claim_rate;        /* claim attempts per provider per minute */
};

/* main.c: the provider named `id` (`len` bytes) and its claim bucket. */
const struct onr_peer *mfr_provider(const struct mfr *m, const uint8_t *id, size_t len);
struct mfr_bucket *mfr_bucket(struct mfr *m, const struct onr_peer *provider);

/* hello.c / registration.c: the handlers. */
int mfr_on_hello(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                 void *arg);
int mfr_on_registration(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg);
int mfr_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg);

/*
 * hello.c: the country a hello's device is in, for the operator policy
 * (roaming): the MCC of the visited network the hello reports, else the
 * region (`broker ... region=MCC`) of the broker the hello came through;
 * into `mcc`, with *source "network" or "broker" (static). ONR_OK, or
 * ONR_ENOENT when neither is known. Only from the hello's handler (the
 * broker is the one its message came through).
 */
int mfr_hello_country(const struct onr_service *svc, const struct onr_msg_hello *hello,
                      char mcc[ONR_SERVICE_REGION_MAX + 1], const char **source);

/*
 * voucher.c: the voucher for device `d` owned as `a`, answering the hello
 * `hello_id` that carried `nonce`, for the device's down topic, into `out`
 * (ONR_ESPACE when `out` is NULL: an answer with no room left).
 */
int mfr_voucher(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
                const struct onr_registry_assignment *a, const uint8_t nonce[ONR_NONCE_LEN],
                const uint8_t hello_id[ONR_MSG_ID_LEN], struct onr_publication *out);

#endif /* ONRAMP_MFR_H */
