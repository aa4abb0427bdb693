/*
 * The manufacturer's database: the registry of the devices it made
 * (written by onramp-factory), the assignments providers registered, the
 * append-only audit of every claim attempt, and the devices waiting for a
 * voucher. One schema, shared by the factory and the service.
 */
#ifndef ONRAMP_MFR_REGISTRY_H
#define ONRAMP_MFR_REGISTRY_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/svc_db.h"
#include "onramp/x25519.h"

#define ONR_REGISTRY_VERSION 1

/* The schema (SQL), for services that open the registry themselves. */
extern const char onr_registry_schema[];

/* A device as the factory recorded it. */
struct onr_registry_device {
    char dev[ONR_DEVID_LEN + 1];
    uint8_t identity_key[ONR_P256_PUB_LEN];
    uint8_t sealing_key[ONR_X25519_KEY_LEN];
    uint8_t claim_hash[32];
};

/* Who owns a device, as a provider registered it. */
struct onr_registry_assignment {
    char provider[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t op_key[ONR_P256_PUB_LEN];
};

/* onr_registry_open: the database at `path` with the manufacturer's schema
 * (onr_db_open's contract). */
int onr_registry_open(const char *path, struct onr_db **out, char *why, size_t why_cap);

/* onr_registry_add_device: record a minted device. ONR_EEXIST if its id is
 * already there. */
int onr_registry_add_device(struct onr_db *db, const struct onr_registry_device *d,
                            uint64_t now);

/* onr_registry_device: the device `dev` (`len` bytes). ONR_ENOENT if the
 * manufacturer did not make it. */
int onr_registry_device(struct onr_db *db, const char *dev, size_t len,
                        struct onr_registry_device *out);

/* onr_registry_assignment: ONR_OK with its owner, or ONR_ENOENT. */
int onr_registry_assignment(struct onr_db *db, const char *dev,
                            struct onr_registry_assignment *out);

/* onr_registry_assign: record (or confirm) an assignment. */
int onr_registry_assign(struct onr_db *db, const char *dev,
                        const struct onr_registry_assignment *a, uint64_t now);

/* onr_registry_unassign: the device is nobody's any more (a release). */
int onr_registry_unassign(struct onr_db *db, const char *dev);

/* onr_registry_audit: append a claim attempt and its result (the table
 * refuses updates and deletes). */
int onr_registry_audit(struct onr_db *db, uint64_t now, const char *provider, const char *dev,
                       const char *result);

/* Devices whose hello got "pending": the nonce to put in the voucher when
 * the registration arrives, and the hello's id for `re`. */
int onr_registry_wait(struct onr_db *db, const char *dev, const uint8_t nonce[16],
                      const uint8_t hello_id[16], uint64_t now);
int onr_registry_waiting(struct onr_db *db, const char *dev, uint8_t nonce[16],
                         uint8_t hello_id[16]);
int onr_registry_unwait(struct onr_db *db, const char *dev);

/* onr_registry_status: what the registry knows of `dev` (borrowed): *state
 * "made", "waiting" (a hello pending) or "assigned" (a static string) and
 * *assigned_at (0 unless assigned). ONR_OK, ONR_ENOENT for a device we did
 * not make, or the database's errors. */
int onr_registry_status(struct onr_db *db, const char *dev, const char **state,
                        uint64_t *assigned_at);

#endif /* ONRAMP_MFR_REGISTRY_H */
