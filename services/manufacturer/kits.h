/*
 * The manufacturer's kits (proto/SPEC.md section 18): devices it ships
 * together under one kit label, claimed in one step. The registry keeps
 * each kit's id, the hash of its claim secret (as a device's: never the
 * secret) and its devices (2 to ONR_KIT_DEVICES_MAX, each in one kit at
 * most); an assignment made through a kit names it. Every function runs
 * inside the caller's transaction (kit_registry.c; the factory's `kit`
 * writes, the service reads).
 */
#ifndef ONRAMP_MFR_KITS_H
#define ONRAMP_MFR_KITS_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/label.h"
#include "onramp/svc_db.h"

struct onr_registry_kit {
    char kit[ONR_KIT_ID_LEN + 1];
    uint8_t claim_hash[32];
    char devs[ONR_KIT_DEVICES_MAX][ONR_DEVID_LEN + 1]; /* in the kit's order */
    size_t n_devs;
};

/* onr_registry_add_kit: record kit `k` with its devices. ONR_EINVAL for a
 * count out of 2..ONR_KIT_DEVICES_MAX, ONR_EEXIST for a kit id known or a
 * device in a kit already (nothing recorded then: the caller rolls back). */
int onr_registry_add_kit(struct onr_db *db, const struct onr_registry_kit *k, uint64_t now);

/* onr_registry_kit: the kit `kit` (`len` bytes, untrusted) with its
 * devices; ONR_ENOENT for one we never made. */
int onr_registry_kit(struct onr_db *db, const char *kit, size_t len,
                     struct onr_registry_kit *out);

/* onr_registry_kit_of: the kit device `dev` belongs to (ONR_ENOENT: none). */
int onr_registry_kit_of(struct onr_db *db, const char *dev, char kit[ONR_KIT_ID_LEN + 1]);

/* The kit an assignment was made through: onr_registry_assign_through
 * notes it on `dev`'s assignment (which must exist: ONR_ENOENT);
 * onr_registry_assigned_through reads it ("" for an assignment made
 * through the device's own label; ONR_ENOENT: no assignment). */
int onr_registry_assign_through(struct onr_db *db, const char *dev, const char *kit);
int onr_registry_assigned_through(struct onr_db *db, const char *dev,
                                  char kit[ONR_KIT_ID_LEN + 1]);

#endif
