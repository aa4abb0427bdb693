/*
 * HPKE's inner steps (internal): the seam the RFC 9180 test vectors check
 * through. Same suite as <onramp/hpke.h>: DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, AES-128-GCM, base mode. Never installed.
 */
#ifndef ONRAMP_PROTO_HPKE_INTERNAL_H
#define ONRAMP_PROTO_HPKE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define ONR_HPKE_SECRET_LEN 32 /* Nsecret: the KEM's shared secret */
#define ONR_HPKE_KEY_LEN 16    /* Nk of AES-128-GCM */
#define ONR_HPKE_NONCE_LEN 12  /* Nn of AES-128-GCM */

/*
 * What a base-mode key schedule yields for a single-shot context. The
 * shared secret is kept only so tests can compare it. Secret: wipe with
 * onr_wipe when done.
 */
struct onr_hpke_context {
    uint8_t shared_secret[ONR_HPKE_SECRET_LEN];
    uint8_t key[ONR_HPKE_KEY_LEN];
    uint8_t base_nonce[ONR_HPKE_NONCE_LEN];
};

/*
 * onr_hpke_derive_keypair: RFC 9180 section 7.1.3 DeriveKeyPair for X25519:
 * sk = LabeledExpand(LabeledExtract("", "dkp_prk", ikm), "sk", "", 32),
 * pk = X25519(sk, 9). `sk` is returned as derived (not clamped). `ikm`
 * (borrowed) must hold at least 32 bytes (ONR_ELENGTH otherwise).
 * Returns ONR_OK, ONR_EINVAL, ONR_ELENGTH or ONR_ECRYPTO.
 */
int onr_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[32],
                            uint8_t pk[32]);

/*
 * onr_hpke_setup_sender: SetupBaseS(pkR, info) with the ephemeral private
 * key `skE` given: enc = pkE, and *ctx filled. All inputs borrowed; info may
 * be NULL when info_len is 0. Returns ONR_OK, ONR_EINVAL, ONR_ELENGTH (info
 * over ONR_HPKE_MAX_INFO), ONR_EBADKEY (pkR of small order) or ONR_ECRYPTO;
 * *ctx is wiped on failure.
 */
int onr_hpke_setup_sender(const uint8_t skE[32], const uint8_t pkR[32], const uint8_t *info,
                          size_t info_len, uint8_t enc[32], struct onr_hpke_context *ctx);

/*
 * onr_hpke_setup_recipient: SetupBaseR(enc, skR, info). As above, with
 * ONR_EBADKEY for an enc of small order.
 */
int onr_hpke_setup_recipient(const uint8_t enc[32], const uint8_t skR[32],
                             const uint8_t *info, size_t info_len,
                             struct onr_hpke_context *ctx);

/*
 * onr_hpke_seal_with_ephemeral: onr_hpke_seal with the ephemeral private key
 * `skE` given instead of drawn at random. onr_hpke_seal is this function
 * with a fresh random skE; only tests call it directly (a fixed skE reused
 * for two messages breaks confidentiality). Same arguments and errors as
 * onr_hpke_seal, without ONR_ERANDOM.
 */
int onr_hpke_seal_with_ephemeral(const uint8_t skE[32], const uint8_t pkR[32],
                                 const uint8_t *info, size_t info_len, const uint8_t *aad,
                                 size_t aad_len, const uint8_t *pt, size_t pt_len,
                                 uint8_t enc[32], uint8_t *ct);

#endif /* ONRAMP_PROTO_HPKE_INTERNAL_H */
