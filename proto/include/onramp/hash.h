/*
 * SHA-256, HMAC-SHA256 and HKDF-SHA256 (RFC 5869), over lists of byte
 * ranges so domain-separated inputs are hashed without being copied.
 */
#ifndef ONRAMP_HASH_H
#define ONRAMP_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

#define ONR_SHA256_LEN 32

/*
 * onr_sha256: out = SHA-256(parts[0] || ... || parts[n-1]).
 * `parts` is borrowed; a part with len 0 may have ptr NULL.
 * Returns ONR_OK, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_sha256(const struct onr_bytes *parts, size_t n, uint8_t out[ONR_SHA256_LEN]);

/*
 * onr_hmac_sha256: out = HMAC-SHA256(key, parts[0] || ... || parts[n-1]).
 * All inputs borrowed. Returns ONR_OK, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_hmac_sha256(struct onr_bytes key, const struct onr_bytes *parts, size_t n,
                    uint8_t out[ONR_SHA256_LEN]);

/*
 * onr_hkdf_extract: prk = HKDF-Extract(salt, ikm); an empty salt means
 * 32 zero bytes as RFC 5869 says. `ikm` is given as parts (concatenated).
 * Returns ONR_OK, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_hkdf_extract(struct onr_bytes salt, const struct onr_bytes *ikm, size_t n,
                     uint8_t prk[ONR_SHA256_LEN]);

/*
 * onr_hkdf_expand: out = HKDF-Expand(prk, info, out_len), out_len at most
 * 255 * 32. `info` is given as parts (concatenated, at most 1024 bytes in all).
 * Returns ONR_OK, ONR_EINVAL, ONR_ELENGTH or ONR_ECRYPTO.
 */
int onr_hkdf_expand(const uint8_t prk[ONR_SHA256_LEN], const struct onr_bytes *info,
                    size_t n, uint8_t *out, size_t out_len);

#endif /* ONRAMP_HASH_H */
