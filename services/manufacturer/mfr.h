/*
 * onramp-manufacturer: what its files share.
 *
 *   main.c          configuration, keys, the providers it works with
 *   hello.c         step 3b: a device's hello -> voucher or pending
 *   registration.c  step 2: a provider registers a claimed device
 *   kits.c          a provider registers every device of a kit at once
 *   release.c       a provider gives up a device
 *   voucher.c       building a voucher (token + message)
 *   lifecycle.c     a device's state (made, waiting, assigned) and its changes
 *   registry.c      the database and its migrations (shared with onramp-factory);
 *                   kit_registry.c its kits (kits.h)
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

/* registration.c: take one claim attempt from `b` (a token bucket of
 * claim_rate a minute) at `now`: ONR_OK, or ONR_EBUSY when it is empty. */
int mfr_take_claim_token(const struct mfr *m, struct mfr_bucket *b, uint64_t now);

/* registration.c: a registration or kit registration from a provider we
 * do not work with, about `subject` (a device or kit id, checked by the
 * codec): audited and answered EDENIED, all strangers sharing one claim
 * bucket. ONR_EDENIED or the database's error. */
int mfr_refuse_stranger(struct onr_service *svc, struct mfr *m, const struct onr_envelope *env,
                        struct onr_bytes subject);

/* hello.c / registration.c / kits.c: the handlers. */
int mfr_on_hello(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                 void *arg);
int mfr_on_registration(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg);
int mfr_on_release(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   void *arg);
int mfr_on_kit_registration(struct onr_service *svc, const struct onr_envelope *env,
                            const char *topic, void *arg);

/*
 * voucher.c: the voucher for device `d` owned as `a`, answering the hello
 * `hello_id` that carried `nonce`, for the device's down topic, into `out`
 * (ONR_ESPACE when `out` is NULL: an answer with no room left).
 */
int mfr_voucher(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
                const struct onr_registry_assignment *a, const uint8_t nonce[ONR_NONCE_LEN],
                const uint8_t hello_id[ONR_MSG_ID_LEN], struct onr_publication *out);

#endif /* ONRAMP_MFR_H */
