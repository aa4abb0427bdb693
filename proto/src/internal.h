/*
 * What proto's modules share with each other and with white-box tests, but
 * not with users: wolfCrypt handles and helpers. Never installed.
 *
 * wolfssl/options.h comes first, always: without it wolfCrypt's structs
 * compile with the wrong size (SECURITY-NOTES.md).
 */
#ifndef ONRAMP_PROTO_INTERNAL_H
#define ONRAMP_PROTO_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <stddef.h>
#include <stdint.h>

/* onr_rng: this thread's DRBG, seeded (and re-seeded after fork). NULL if
 * seeding failed. Borrowed: valid until onr_crypto_thread_cleanup(). */
WC_RNG *onr_rng(void);

struct onr_p256_key;

/* onr_p256_ecc: the wolfCrypt key inside a struct onr_p256_key (borrowed,
 * lives as long as the key). wolfCrypt takes non-const keys even to read. */
ecc_key *onr_p256_ecc(const struct onr_p256_key *key);

/*
 * onr_p256_import_public: initialise `out` (caller's storage, released with
 * wc_ecc_free) with a checked public point. Returns ONR_OK or ONR_EBADKEY,
 * ONR_ECRYPTO; on failure `out` needs no release.
 */
int onr_p256_import_public(const uint8_t *pub, size_t pub_len, ecc_key *out);

/*
 * onr_seal_info: the HPKE info of SPEC section 7: `context`, then each of
 * the `n` ids (device or service ids, 1..32 characters) after a 0x00 byte.
 * Returns ONR_OK or ONR_EINVAL (an id empty or too long, `cap` too small).
 */
#define ONR_SEAL_INFO_MAX 160
int onr_seal_info(const char *context, const char *const *ids, size_t n, uint8_t *out,
                  size_t cap, size_t *len);

/* ONR_ARRAY_LEN: number of elements of a true array. */
#define ONR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* ONRAMP_PROTO_INTERNAL_H */
