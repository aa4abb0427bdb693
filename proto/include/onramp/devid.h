/*
 * Device ids: self-certifying names derived from the identity public key.
 *
 *   id = base32(SHA-256("onramp/1 device-id" || 0x00 || pub)[0..20])
 *
 * where pub is the 65-byte uncompressed P-256 point and base32 is RFC 4648
 * with the lowercase alphabet a-z 2-7 and no padding: 160 bits in exactly 32
 * characters, usable as an MQTT client id and a topic level as is. Anyone
 * holding the public key can check the id; nobody can pick a key for a
 * given id (a second preimage of 160 bits of SHA-256).
 */
#ifndef ONRAMP_DEVID_H
#define ONRAMP_DEVID_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/p256.h"

#define ONR_DEVID_LEN 32

/*
 * onr_devid_from_public: the id of `pub` into `out` (NUL-terminated).
 * The point is not validated here (see onr_p256_check_public).
 * Returns ONR_OK, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_devid_from_public(const uint8_t pub[ONR_P256_PUB_LEN], char out[ONR_DEVID_LEN + 1]);

/*
 * onr_devid_check: ONR_OK if `id` (borrowed, `len` bytes, need not be
 * NUL-terminated) is syntactically a device id: 32 characters of a-z 2-7.
 * ONR_ELENGTH or ONR_ECHARSET otherwise.
 */
int onr_devid_check(const char *id, size_t len);

/*
 * onr_devid_matches: ONR_OK if `id` (`len` bytes) is the id of `pub`,
 * ONR_EBADKEY if not (or if `id` is not a device id at all).
 */
int onr_devid_matches(const char *id, size_t len, const uint8_t pub[ONR_P256_PUB_LEN]);

#endif /* ONRAMP_DEVID_H */
