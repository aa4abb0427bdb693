/*
 * The secrets Onramp seals with HPKE (<onramp/hpke.h>, proto/SPEC.md
 * section 7) besides the claim (<onramp/label.h>): a profile, sealed by an
 * operator to the device's key in its voucher, and an application key,
 * sealed by an operator to a provider. The HPKE info binds the ids of
 * both ends, so a sealed secret moved to another device, operator or
 * provider does not open; the aad binds the request or key id.
 */
#ifndef ONRAMP_SEALED_H
#define ONRAMP_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/akma.h"
#include "onramp/hpke.h"
#include "onramp/msg.h"

#define ONR_SEALED_OVERHEAD (32 + 16) /* enc || ... || tag */
#define ONR_SEALED_PROFILE_MAX 1024   /* the profile message's `sealed` bound */
#define ONR_SEALED_APP_KEY_LEN (ONR_SEALED_OVERHEAD + ONR_AKMA_KEY_LEN)

/*
 * onr_sealed_profile_seal: `content` (a PROFILE_CONTENT body) sealed to
 * `seal_pub` for device `dev` and operator `op`, bound to the request's
 * `nonce`; into `out` (`cap` bytes), *out_len its length. Returns ONR_OK,
 * ONR_EINVAL, ONR_ESPACE, the body's bound errors or HPKE's.
 */
int onr_sealed_profile_seal(const uint8_t seal_pub[32], const char *dev, const char *op,
                            const uint8_t nonce[ONR_NONCE_LEN],
                            const struct onr_msg_profile_content *content, uint8_t *out,
                            size_t cap, size_t *out_len);

/*
 * onr_sealed_profile_open: the reverse, with the device's sealing key.
 * `plain` (caller's, `cap` bytes, at least `len` - 48) receives the body;
 * `content` borrows from it, so the caller wipes `plain` when done.
 * Returns ONR_OK, ONR_ELENGTH, ONR_EDECRYPT (not for us, or tampered),
 * the body's decoding errors, ONR_EINVAL.
 */
int onr_sealed_profile_open(const uint8_t seal_key[32], const char *dev, const char *op,
                            const uint8_t nonce[ONR_NONCE_LEN], const uint8_t *sealed,
                            size_t len, uint8_t *plain, size_t cap,
                            struct onr_msg_profile_content *content);

/* onr_sealed_app_key_seal: K_AF for provider `prov` (sealed to its
 * `prov_pub`) of device `dev` attached at operator `op`, bound to `kid`.
 * ONR_OK, ONR_EINVAL or HPKE's errors. */
int onr_sealed_app_key_seal(const uint8_t prov_pub[32], const char *dev, const char *op,
                            const char *prov, const uint8_t kid[ONR_AKMA_KID_LEN],
                            const uint8_t k_af[ONR_AKMA_KEY_LEN],
                            uint8_t out[ONR_SEALED_APP_KEY_LEN]);

/* onr_sealed_app_key_open: the reverse with the provider's key pair
 * (onr_hpke_recipient_init: a provider opens every device's key). ONR_OK,
 * ONR_ELENGTH, ONR_EDECRYPT, ONR_EINVAL; k_af wiped on failure. */
int onr_sealed_app_key_open(const struct onr_hpke_recipient *prov_keys, const char *dev,
                            const char *op,
                            const char *prov, const uint8_t kid[ONR_AKMA_KID_LEN],
                            const uint8_t *sealed, size_t len, uint8_t k_af[ONR_AKMA_KEY_LEN]);

#endif /* ONRAMP_SEALED_H */
