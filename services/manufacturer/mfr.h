/*
 * onramp-manufacturer: what its files share.
 *
 *   main.c          configuration, keys, the providers it works with
 *   hello.c         step 3b: a device's hello -> voucher or pending
 *   registration.c  step 2: a provider registers a claimed device
 *   kits.c          a provider registers every device of a kit at once
 *   release.c       a provider gives up a device
 *   relocation.c    a provider moves its device to another operator: a voucher
 *   voucher.c       building a voucher (token + message) for the operator the
 *                   device's roaming policy chooses, or ENOOPERATOR
 *   lifecycle.c     a device's state (made, waiting, assigned) and its changes
 *   registry.c      the database and its migrations (shared with onramp-factory);
 *                   kit_registry.c its kits (kits.h)
 */
#ifndef ONRAMP_MFR_H
#define ONRAMP_MFR_H

#include <stdint.h>

#include "onramp/policy.h"
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

/* registration.c: what a registration (type 13) or a kit registration
 * (type 40, for every device of its kit) says of the operator: its fields
 * as the codec checked them. */
struct mfr_operator_fields {
    struct onr_bytes op;
    struct onr_bytes op_key;
    uint64_t user;
    struct onr_bytes policy;
    struct onr_bytes op_keys;
};
/* mfr_operator_keys_ok: 1 if the operator's key and every key of the
 * policy's operators is a point on the curve, else 0. */
int mfr_operator_keys_ok(const struct mfr_operator_fields *f);
/* mfr_assignment_of: the assignment to provider `prov` those fields make
 * (the policy and its operators' keys kept as they came). */
void mfr_assignment_of(const struct mfr_operator_fields *f, const char *prov,
                       struct onr_registry_assignment *a);

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
int mfr_on_relocation_request(struct onr_service *svc, const struct onr_envelope *env,
                              const char *topic, void *arg);

/* The operator a voucher names and why (SPEC section 15). */
struct mfr_choice {
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t op_key[ONR_P256_PUB_LEN];
    enum onr_choice why;
};

/* What a voucher answers (borrowed): a hello's or a relocation request's
 * nonce and id (`re`), the PLMN it reported ("" for none), the MCC of the
 * broker's region it came through ("" for none: the policy's country when
 * it reported no PLMN), and the topic the answer goes to. */
struct mfr_ask {
    const uint8_t *nonce;
    const uint8_t *re;
    const char *plmn;
    const char *region;
    const char *topic;
};

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
 * voucher.c. mfr_choose: the operator of a device owned as `a` that
 * reported `plmn` ("" for none; then the MCC `region`, "" for none, is its
 * country): without a policy the registration's, else the policy's
 * resolution (SPEC section 15). ONR_OK, ONR_ENOOPERATOR,
 * or ONR_EIO for a stored policy that does not parse.
 *
 * mfr_vouch: the voucher answering `ask` for device `d` owned as `a`,
 * naming mfr_choose's operator, into `out` (ONR_ESPACE when NULL), and
 * recorded as the device's last voucher; ONR_ENOOPERATOR (nothing made)
 * or another error.
 *
 * mfr_no_operator: the provider of `a` told that `ask` was answered
 * ENOOPERATOR (type 35), as an extra of `answer`, unless it was told of
 * this device less than 300 s ago.
 */
int mfr_choose(const struct onr_registry_assignment *a, const char *plmn, const char *region,
               struct mfr_choice *out);
int mfr_vouch(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
              const struct onr_registry_assignment *a, const struct mfr_ask *ask,
              struct onr_publication *out);
int mfr_no_operator(struct onr_service *svc, const char *dev,
                    const struct onr_registry_assignment *a, const struct mfr_ask *ask,
                    struct onr_answer *answer);

/* registration.c: mfr_answer_waiting: device `d`, owned as `a` and waiting
 * since the hello `kept`, gets its voucher as an extra of `answer`, or
 * ENOOPERATOR and its provider the no_operator notice. */
int mfr_answer_waiting(struct onr_service *svc, struct mfr *m, const struct onr_registry_device *d,
                       const struct onr_registry_assignment *a,
                       const struct onr_registry_hello *kept, struct onr_answer *answer);

#endif /* ONRAMP_MFR_H */
