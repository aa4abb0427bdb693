/*
 * The manufacturer's database: the registry of the devices it made
 * (written by onramp-factory) with each device's state (lifecycle.c), the
 * assignments providers registered, the append-only audit of every claim
 * attempt, and the hellos waiting for a registration. One migration list,
 * shared by the factory and the service. Every function but
 * onr_registry_open runs inside the caller's transaction.
 */
#ifndef ONRAMP_MFR_REGISTRY_H
#define ONRAMP_MFR_REGISTRY_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/op_keys.h"
#include "onramp/p256.h"
#include "onramp/policy.h"
#include "onramp/svc_db.h"
#include "onramp/x25519.h"

/* The schema's history (the service's and the factory's). */
extern const struct onr_db_schema onr_registry_schema;

/* A device as the factory recorded it. */
struct onr_registry_device {
    char dev[ONR_DEVID_LEN + 1];
    uint8_t identity_key[ONR_P256_PUB_LEN];
    uint8_t sealing_key[ONR_X25519_KEY_LEN];
    uint8_t claim_hash[32];
};

/* Who owns a device, as a provider registered it: its operator (or, with
 * a roaming policy, the end user's preference if `user`), the policy's
 * text (policy_len 0: none) and its operators' keys as the registration
 * carried them (SPEC type 13). */
struct onr_registry_assignment {
    char provider[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t op_key[ONR_P256_PUB_LEN];
    int user;
    char policy[ONR_POLICY_TEXT_MAX + 1];
    size_t policy_len;
    uint8_t op_keys[ONR_OP_KEYS_BIN_MAX];
    size_t op_keys_len;
};

/* A hello a device waits with: its nonce and id, and the PLMN it
 * reported ("" for none). */
struct onr_registry_hello {
    uint8_t nonce[ONR_NONCE_LEN];
    uint8_t hello_id[ONR_MSG_ID_LEN];
    char plmn[ONR_PLMN_MAX + 1];
    char region[4]; /* the MCC of the broker it came through, "" none */
};

/* A device's last voucher: for which PLMN ("" none), which operator and
 * why (section 15's word), when. */
struct onr_registry_roaming {
    char plmn[ONR_PLMN_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    char why[16];
    uint64_t vouched_at;
};

/* onr_registry_open: the database at `path` with the manufacturer's schema
 * (onr_db_open's contract: an older one is upgraded). */
int onr_registry_open(const char *path, struct onr_db **out, char *why, size_t why_cap);

/* onr_registry_add_device: record a minted device. ONR_EEXIST if its id is
 * already there. */
int onr_registry_add_device(struct onr_db *db, const struct onr_registry_device *d,
                            uint64_t now);

/* onr_registry_device: the device `dev` (`len` bytes). ONR_ENOENT if the
 * manufacturer did not make it. */
int onr_registry_device(struct onr_db *db, const char *dev, size_t len,
                        struct onr_registry_device *out);

/* The device's state (lifecycle.c's enum, stored as its number) and when
 * it was assigned (0: not). ONR_ENOENT for a device we did not make. */
int onr_registry_state(struct onr_db *db, const char *dev, int *state, uint64_t *assigned_at);
int onr_registry_set_state(struct onr_db *db, const char *dev, int state);
/* onr_registry_lock: lock the device's row until the transaction ends (a
 * device we did not make: nothing locked, ONR_OK). lifecycle.h says who
 * takes it. */
int onr_registry_lock(struct onr_db *db, const char *dev);

/* onr_registry_assignment: ONR_OK with its owner, or ONR_ENOENT. */
int onr_registry_assignment(struct onr_db *db, const char *dev,
                            struct onr_registry_assignment *out);
/* onr_registry_assign: record (or confirm) an assignment. */
int onr_registry_assign(struct onr_db *db, const char *dev,
                        const struct onr_registry_assignment *a, uint64_t now);
/* onr_registry_unassign: the device is nobody's any more (a release): its
 * assignment and its last voucher's record are gone. */
int onr_registry_unassign(struct onr_db *db, const char *dev);

/* onr_registry_audit: append a claim attempt and its result (the table
 * refuses updates and deletes). */
int onr_registry_audit(struct onr_db *db, uint64_t now, const char *provider, const char *dev,
                       const char *result);

/* The hello a device waits with (its state is waiting): the nonce to put
 * in the voucher when the registration arrives, the hello's id for `re`
 * and its PLMN to resolve the policy for; the latest one. */
int onr_registry_wait(struct onr_db *db, const char *dev, const struct onr_registry_hello *h,
                      uint64_t now);
int onr_registry_waiting(struct onr_db *db, const char *dev, struct onr_registry_hello *out);
int onr_registry_unwait(struct onr_db *db, const char *dev);

/* onr_registry_vouched: the device's last voucher named `op` (with `why`)
 * for `plmn` ("" none) at `now`. onr_registry_roaming: that record, or
 * ONR_ENOENT. */
int onr_registry_vouched(struct onr_db *db, const char *dev, const char *plmn, const char *op,
                         const char *why, uint64_t now);
int onr_registry_roaming(struct onr_db *db, const char *dev, struct onr_registry_roaming *out);
/* onr_registry_reported: the device's last hello reported `plmn` ("" none). */
int onr_registry_reported(struct onr_db *db, const char *dev, const char *plmn);

/* onr_registry_no_operator_due: whether the device's provider may be told
 * of a hello answered ENOOPERATOR now (at most once in `window` seconds,
 * counted from the last one told): ONR_OK, recorded as told at `now`;
 * ONR_EBUSY when one was told less than `window` ago. */
int onr_registry_no_operator_due(struct onr_db *db, const char *dev, uint64_t now,
                                 uint64_t window);

#endif /* ONRAMP_MFR_REGISTRY_H */
