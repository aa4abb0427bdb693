/*
 * X25519 (RFC 7748) sealing keys: devices, services and the manufacturer
 * receive secrets sealed to them with HPKE (<onramp/hpke.h>).
 *
 * Keys are the RFC 7748 32-byte little-endian encodings. A private key is
 * clamped internally before use, so RFC 9180 DeriveKeyPair output (which is
 * not clamped) works as is. Sealing keys are never used for signing.
 */
#ifndef ONRAMP_X25519_H
#define ONRAMP_X25519_H

#include <stdint.h>

#define ONR_X25519_KEY_LEN 32

/* onr_x25519_generate: a new random key pair. Returns ONR_OK, ONR_EINVAL,
 * ONR_ERANDOM or ONR_ECRYPTO. */
int onr_x25519_generate(uint8_t sk[ONR_X25519_KEY_LEN], uint8_t pk[ONR_X25519_KEY_LEN]);

/* onr_x25519_public: pk = X25519(sk, 9). Returns ONR_OK, ONR_EINVAL or
 * ONR_ECRYPTO. */
int onr_x25519_public(const uint8_t sk[ONR_X25519_KEY_LEN], uint8_t pk[ONR_X25519_KEY_LEN]);

/*
 * onr_x25519_shared: out = X25519(sk, pk). A peer key of small order (the
 * result is all zeros, RFC 7748 section 6.1) is refused with ONR_EBADKEY.
 * The top bit of pk is ignored, as RFC 7748 section 5 requires. `out` may
 * alias an input. Returns ONR_OK, ONR_EINVAL, ONR_EBADKEY or ONR_ECRYPTO;
 * `out` is wiped on failure.
 */
int onr_x25519_shared(const uint8_t sk[ONR_X25519_KEY_LEN], const uint8_t pk[ONR_X25519_KEY_LEN],
                      uint8_t out[ONR_X25519_KEY_LEN]);

/*
 * onr_x25519_save / onr_x25519_load: the private key as PEM "PRIVATE KEY"
 * (PKCS#8, RFC 8410, OID 1.3.101.110), the form `openssl genpkey -algorithm
 * X25519` writes. save writes atomically with mode 0600; load refuses files
 * readable by group or others (ONR_EPERM), files without a PEM private key
 * (ONR_EFORMAT) and any private key but an X25519 one in exactly that form
 * (ONR_EBADKEY). save returns ONR_OK, ONR_EINVAL, ONR_ENOMEM, ONR_ECRYPTO or
 * ONR_EIO; load ONR_OK, ONR_EINVAL, ONR_ENOENT, ONR_EPERM, ONR_ETOOBIG,
 * ONR_EFORMAT, ONR_EBADKEY, ONR_ENOMEM or ONR_EIO.
 */
int onr_x25519_save(const uint8_t sk[ONR_X25519_KEY_LEN], const char *path);
int onr_x25519_load(const char *path, uint8_t sk[ONR_X25519_KEY_LEN]);

/*
 * onr_x25519_public_save / onr_x25519_public_load: the public key as PEM
 * "PUBLIC KEY" (SubjectPublicKeyInfo, RFC 8410). save uses mode 0644; load
 * refuses any other algorithm's key (ONR_EBADKEY). Errors otherwise as
 * onr_x25519_save / onr_x25519_load.
 */
int onr_x25519_public_save(const uint8_t pk[ONR_X25519_KEY_LEN], const char *path);
int onr_x25519_public_load(const char *path, uint8_t pk[ONR_X25519_KEY_LEN]);

#endif /* ONRAMP_X25519_H */
