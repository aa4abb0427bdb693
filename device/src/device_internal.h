/*
 * Inside libonramp-device: what device.c and device_state.c share, and the
 * checks unit tests reach without a broker.
 */
#ifndef ONRAMP_DEVICE_INTERNAL_H
#define ONRAMP_DEVICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/device.h"
#include "onramp/devid.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

/* What a device must know to check a voucher token meant for it. */
struct device_trust {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    uint8_t voucher_key[ONR_P256_PUB_LEN];
    uint8_t seal_pub[ONR_X25519_KEY_LEN];
};

/*
 * device_check_voucher: the token (SPEC section 6) is a voucher_token
 * envelope signed by `t->voucher_key` as manufacturer `t->mfr` for the
 * topic onr/1/voucher, for device `t->dev` and its sealing key, carrying
 * `nonce` (NULL: do not check; a stored voucher read back) and not expired
 * at `now`. Fills `out`. Returns ONR_OK or why not: ONR_EBADSIG,
 * ONR_EDENIED (another device, manufacturer or sealing key), ONR_EREPLAY
 * (another nonce), ONR_EEXPIRED, or a decoding error.
 */
int device_check_voucher(const struct device_trust *t, const uint8_t *token, size_t len,
                         const uint8_t *nonce, uint64_t now, struct onr_device_voucher *out);

/*
 * The journey on disk: "journey" holds the state's name (and nothing
 * secret); "voucher" the token bytes. Both are written atomically, the
 * voucher first, so a state file never names a step whose data is missing.
 * device_state_load: the state (FACTORY when there is no journey file yet);
 * ONR_EFORMAT for a damaged or unknown one.
 */
int device_state_load(const char *dir, enum onr_device_state *state);
int device_state_save(const char *dir, enum onr_device_state state);
int device_voucher_save(const char *dir, const uint8_t *token, size_t len);
/* device_voucher_load: the stored token into `buf` (`cap` bytes). */
int device_voucher_load(const char *dir, uint8_t *buf, size_t cap, size_t *len);

#endif /* ONRAMP_DEVICE_INTERNAL_H */
