#include "internal.h"

#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/memory.h>

#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

/* One DRBG per thread (wolfCrypt's WC_RNG is not thread-safe). The pid is
 * remembered so a forked child re-seeds instead of repeating the parent's
 * stream. */
static _Thread_local WC_RNG thread_rng;
static _Thread_local pid_t thread_rng_pid;
static _Thread_local int thread_rng_ready;

WC_RNG *onr_rng(void)
{
    pid_t pid = getpid();

    if (thread_rng_ready && thread_rng_pid != pid) {
        wc_FreeRng(&thread_rng);
        thread_rng_ready = 0;
    }
    if (!thread_rng_ready) {
        if (wc_InitRng(&thread_rng) != 0)
            return NULL;
        thread_rng_ready = 1;
        thread_rng_pid = pid;
    }
    return &thread_rng;
}

int onr_random(uint8_t *buf, size_t len)
{
    WC_RNG *rng = NULL;

    if (buf == NULL && len > 0)
        return ONR_EINVAL;
    rng = onr_rng();
    if (rng == NULL)
        return ONR_ERANDOM;
    while (len > 0) {
        /* wolfCrypt caps one request at RNG_MAX_BLOCK_LEN bytes. */
        size_t chunk = len < RNG_MAX_BLOCK_LEN ? len : RNG_MAX_BLOCK_LEN;

        if (wc_RNG_GenerateBlock(rng, buf, (word32)chunk) != 0)
            return ONR_ERANDOM;
        buf += chunk;
        len -= chunk;
    }
    return ONR_OK;
}

/* Debian's wolfSSL does not export wc_ForceZero: call memset through a
 * volatile pointer and add a compiler barrier so the store is not elided. */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

void onr_wipe(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    wipe_memset(p, 0, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

int onr_equal_ct(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;

    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

void onr_crypto_release_caches(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

void onr_crypto_thread_cleanup(void)
{
    if (thread_rng_ready) {
        wc_FreeRng(&thread_rng);
        thread_rng_ready = 0;
    }
    onr_crypto_release_caches();
}
