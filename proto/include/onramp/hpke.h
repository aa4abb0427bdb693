/*
 * HPKE (RFC 9180), base mode, single shot, with exactly one suite:
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM
 * (kem_id 0x0020, kdf_id 0x0001, aead_id 0x0001).
 *
 * Keys are RFC 7748 32-byte little-endian encodings (<onramp/x25519.h>).
 * A sealed secret travels as enc (32 bytes) followed by ct; see
 * proto/SPEC.md for where `info` and `aad` come from in each message.
 */
#ifndef ONRAMP_HPKE_H
#define ONRAMP_HPKE_H

#include <stddef.h>
#include <stdint.h>

#define ONR_HPKE_ENC_LEN 32
#define ONR_HPKE_TAG_LEN 16
/* Bounds on what one call seals: far above any Onramp secret. */
#define ONR_HPKE_MAX_PT (64 * 1024)
#define ONR_HPKE_MAX_INFO 512
#define ONR_HPKE_MAX_AAD 1024

/*
 * onr_hpke_seal: SealBase(pkR, info, aad, pt) with a fresh ephemeral key;
 * single shot, so the one message uses sequence number 0.
 * All inputs borrowed; `enc` receives 32 bytes and `ct` pt_len + 16 bytes
 * (caller's buffers). info, aad and pt may be NULL when their length is 0.
 * Returns ONR_OK, ONR_EINVAL, ONR_ELENGTH (over the bounds above),
 * ONR_EBADKEY (pkR of small order), ONR_ERANDOM or ONR_ECRYPTO.
 */
int onr_hpke_seal(const uint8_t pkR[32], const uint8_t *info, size_t info_len,
                  const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                  uint8_t enc[32], uint8_t *ct);

/*
 * onr_hpke_open: OpenBase(enc, skR, info, aad, ct) of a message sealed by
 * onr_hpke_seal (sequence number 0). All inputs borrowed. `pt` (caller's
 * buffer) receives ct_len - 16 bytes, may be NULL when that is 0, and is
 * wiped if opening fails once the arguments passed the checks below.
 * Returns ONR_OK, ONR_EINVAL, ONR_ELENGTH (ct shorter than the tag or over
 * the bounds), ONR_EBADKEY (enc of small order), ONR_EDECRYPT (wrong key,
 * tampered enc, ct, info or aad) or ONR_ECRYPTO.
 */
int onr_hpke_open(const uint8_t skR[32], const uint8_t *info, size_t info_len,
                  const uint8_t *aad, size_t aad_len, const uint8_t enc[32],
                  const uint8_t *ct, size_t ct_len, uint8_t *pt);

/*
 * A recipient that opens many messages: its key pair, with the public key
 * derived once. Deriving it is an X25519 multiplication, half of what an
 * open costs, and the KEM needs it in every open.
 */
struct onr_hpke_recipient {
    uint8_t sk[32];
    uint8_t pk[32];
};

/* onr_hpke_recipient_init: r from the private key skR. Returns ONR_OK,
 * ONR_EINVAL or ONR_ECRYPTO (r wiped). Wipe r with onr_wipe when done. */
int onr_hpke_recipient_init(struct onr_hpke_recipient *r, const uint8_t skR[32]);

/* onr_hpke_open_as: onr_hpke_open by the recipient `r`; same arguments
 * and errors. */
int onr_hpke_open_as(const struct onr_hpke_recipient *r, const uint8_t *info, size_t info_len,
                     const uint8_t *aad, size_t aad_len, const uint8_t enc[32],
                     const uint8_t *ct, size_t ct_len, uint8_t *pt);

#endif /* ONRAMP_HPKE_H */
