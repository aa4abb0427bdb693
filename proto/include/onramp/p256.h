/*
 * ECDSA P-256 with SHA-256: device identity keys, service and voucher
 * signing keys.
 *
 * On the wire a public key is the 65-byte uncompressed SEC1 point
 * (0x04 || X || Y) and a signature is 64 bytes r || s, each a 32-byte
 * big-endian scalar: fixed sizes, one encoding, what secure elements emit.
 * Verification rejects points off the curve, coordinates >= p, and r or s
 * outside [1, n-1] before wolfCrypt sees them; the DER form (X.509, other
 * tools) is parsed strictly (minimal lengths and integers, no trailing bytes).
 *
 * A signature is over SHA-256 of the concatenated parts given; callers put
 * their domain-separation context in the first part (see proto/SPEC.md).
 */
#ifndef ONRAMP_P256_H
#define ONRAMP_P256_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

#define ONR_P256_PUB_LEN 65
#define ONR_P256_PRIV_LEN 32
#define ONR_P256_SIG_LEN 64
/* Largest DER ECDSA-Sig-Value for P-256: SEQUENCE of two 33-byte INTEGERs. */
#define ONR_P256_SIG_DER_MAX 72

/* A private key (and its public half). Opaque. */
struct onr_p256_key;

/*
 * onr_p256_generate: a new random key in *out (caller frees with
 * onr_p256_free). Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM, ONR_ERANDOM or
 * ONR_ECRYPTO.
 */
int onr_p256_generate(struct onr_p256_key **out);

/*
 * onr_p256_load: read a private key from a PEM file ("EC PRIVATE KEY" as
 * written by onr_p256_save, or PKCS#8 "PRIVATE KEY" as openssl writes it).
 * The file must be mode 0600 or stricter (ONR_EPERM otherwise) and hold a
 * P-256 key (ONR_EBADKEY otherwise). On success *out is a new key.
 * Returns ONR_OK or ONR_EINVAL, ONR_ENOENT, ONR_EPERM, ONR_ETOOBIG,
 * ONR_EFORMAT, ONR_EBADKEY, ONR_ENOMEM, ONR_EIO.
 */
int onr_p256_load(const char *path, struct onr_p256_key **out);

/*
 * onr_p256_save: write the private key to `path` as PEM "EC PRIVATE KEY",
 * atomically, mode 0600. Returns ONR_OK, ONR_EINVAL, ONR_ECRYPTO or ONR_EIO.
 */
int onr_p256_save(const struct onr_p256_key *key, const char *path);

/* onr_p256_free: wipe and free. Accepts NULL. */
void onr_p256_free(struct onr_p256_key *key);

/* onr_p256_public: copy the public point of `key` into `pub`. */
int onr_p256_public(const struct onr_p256_key *key, uint8_t pub[ONR_P256_PUB_LEN]);

/*
 * onr_p256_check_public: ONR_OK if `pub` is an uncompressed point on P-256
 * with both coordinates below p, else ONR_EBADKEY.
 */
int onr_p256_check_public(const uint8_t pub[ONR_P256_PUB_LEN]);

/*
 * onr_p256_sign: sig = ECDSA(key, SHA-256(parts...)) as r || s.
 * Returns ONR_OK, ONR_EINVAL, ONR_ERANDOM or ONR_ECRYPTO.
 */
int onr_p256_sign(const struct onr_p256_key *key, const struct onr_bytes *parts, size_t n,
                  uint8_t sig[ONR_P256_SIG_LEN]);

/*
 * onr_p256_verify: check `sig` (r || s) by `pub` over SHA-256(parts...).
 * Returns ONR_OK only for a valid signature; ONR_EBADKEY for a public key
 * that is not a valid point, ONR_EBADSIG for a signature that is out of
 * range or does not verify, ONR_EINVAL, ONR_ENOMEM or ONR_ECRYPTO.
 */
int onr_p256_verify(const uint8_t pub[ONR_P256_PUB_LEN], const struct onr_bytes *parts,
                    size_t n, const uint8_t sig[ONR_P256_SIG_LEN]);

/*
 * onr_p256_verify_der: as onr_p256_verify for a DER ECDSA-Sig-Value.
 * Malformed or non-minimal DER is ONR_EBADSIG.
 */
int onr_p256_verify_der(const uint8_t pub[ONR_P256_PUB_LEN], const struct onr_bytes *parts,
                        size_t n, const uint8_t *der, size_t der_len);

/*
 * onr_p256_sig_from_der / onr_p256_sig_to_der: convert between the strict
 * DER ECDSA-Sig-Value and r || s. from_der returns ONR_EBADSIG for anything
 * malformed or out of range; to_der writes at most ONR_P256_SIG_DER_MAX bytes
 * and sets *der_len (ONR_ESPACE if *der_len is too small on entry).
 */
int onr_p256_sig_from_der(const uint8_t *der, size_t der_len, uint8_t sig[ONR_P256_SIG_LEN]);
int onr_p256_sig_to_der(const uint8_t sig[ONR_P256_SIG_LEN], uint8_t *der, size_t *der_len);

/*
 * onr_p256_public_save / onr_p256_public_load: a public key as PEM
 * "PUBLIC KEY" (SubjectPublicKeyInfo), e.g. a trust anchor in a config.
 * save writes atomically with mode 0644; load checks the point.
 * Returns ONR_OK or the errors of onr_p256_load / onr_p256_save.
 */
int onr_p256_public_save(const uint8_t pub[ONR_P256_PUB_LEN], const char *path);
int onr_p256_public_load(const char *path, uint8_t pub[ONR_P256_PUB_LEN]);

#endif /* ONRAMP_P256_H */
