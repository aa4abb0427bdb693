/*
 * Randomness and the small constant-time helpers every module needs.
 *
 * Each thread gets its own wolfCrypt DRBG, seeded from the operating system
 * on first use and re-seeded after fork() so parent and child never share a
 * stream. Call onr_crypto_thread_cleanup() when a thread that used Onramp
 * crypto ends (it also frees wolfCrypt's per-thread P-256 point cache).
 */
#ifndef ONRAMP_CRYPTO_H
#define ONRAMP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * onr_random: fill `buf` (borrowed, `len` bytes) with DRBG output.
 * Returns ONR_OK, ONR_EINVAL (buf NULL with len > 0) or ONR_ERANDOM.
 */
int onr_random(uint8_t *buf, size_t len);

/* onr_wipe: overwrite `len` bytes at `p` with zeros in a way the compiler
 * cannot elide. Accepts NULL with len 0. */
void onr_wipe(void *p, size_t len);

/* onr_equal_ct: 1 if the two `len`-byte ranges are equal, else 0, in time
 * that depends only on `len`. For MACs, RES values and other secrets. */
int onr_equal_ct(const void *a, const void *b, size_t len);

/* onr_crypto_release_caches: free wolfCrypt's per-thread P-256 point
 * tables (built for keys used more than once; ~800 KB each). They make
 * later operations with those keys faster: a service keeps them, a device,
 * which uses each key a few times, releases them. Safe at any time. */
void onr_crypto_release_caches(void);

/* onr_crypto_thread_cleanup: release this thread's DRBG and wolfCrypt's
 * per-thread caches. Safe to call more than once. */
void onr_crypto_thread_cleanup(void);

#endif /* ONRAMP_CRYPTO_H */
