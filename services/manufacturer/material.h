/*
 * A manufacturer's own material, in one directory: its device CA
 * (device-ca.key, device-ca.pem), its service, voucher and sealing keys
 * (service.key, voucher.key, sealing.key, each with its .pub) and a
 * starting configuration (manufacturer.conf: onramp-factory mint reads the
 * manufacturer's id there). onramp-factory new-manufacturer and
 * onramp-admin both make it through this one function.
 */
#ifndef ONRAMP_MFR_MATERIAL_H
#define ONRAMP_MFR_MATERIAL_H

#include <stdint.h>

#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

/* Told about every file of the material: its path and what was done. */
typedef void (*onr_mfr_material_cb)(void *arg, const char *path, enum onr_file_change change);

/* The public keys its peers need. */
struct onr_mfr_public {
    uint8_t service[ONR_P256_PUB_LEN]; /* verifies its messages (providers) */
    uint8_t voucher[ONR_P256_PUB_LEN]; /* verifies its vouchers (operators, devices) */
    uint8_t sealing[ONR_X25519_KEY_LEN]; /* providers seal claim secrets to it */
};

/*
 * onr_mfr_material_ensure: make what is missing of manufacturer `id`'s
 * material in `dir` (which must exist), with <onramp/keyfile.h>: keys
 * there are kept, never made again; public halves, the device CA's
 * certificate and manufacturer.conf are written again if they are wrong.
 * With `with_registry`, the registry database (manufacturer.db) is created
 * too if missing (onramp-manufacturer and onramp-factory mint also create
 * it on first use). `cb` (may be NULL) hears of each file; `pub` (may be
 * NULL) receives the public keys. On failure `why` (`why_cap` bytes) names
 * the file and the reason.
 * Returns ONR_OK, ONR_EINVAL (not a service id), or the errors of the key,
 * certificate and file functions.
 */
int onr_mfr_material_ensure(const char *id, const char *dir, int with_registry,
                            onr_mfr_material_cb cb, void *arg, struct onr_mfr_public *pub,
                            char *why, size_t why_cap);

#endif /* ONRAMP_MFR_MATERIAL_H */
