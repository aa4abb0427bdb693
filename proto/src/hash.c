#include "internal.h"

#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hash.h"

#define HKDF_MAX_INFO 1024

static int parts_valid(const struct onr_bytes *parts, size_t n)
{
    if (parts == NULL && n > 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].ptr == NULL && parts[i].len > 0)
            return 0;
        if (parts[i].len > UINT32_MAX)
            return 0;
    }
    return 1;
}

int onr_sha256(const struct onr_bytes *parts, size_t n, uint8_t out[ONR_SHA256_LEN])
{
    wc_Sha256 sha;
    int rc = ONR_ECRYPTO;

    if (out == NULL || !parts_valid(parts, n))
        return ONR_EINVAL;
    if (wc_InitSha256(&sha) != 0)
        return ONR_ECRYPTO;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0 &&
            wc_Sha256Update(&sha, parts[i].ptr, (word32)parts[i].len) != 0)
            goto out;
    }
    if (wc_Sha256Final(&sha, out) != 0)
        goto out;
    rc = ONR_OK;
out:
    wc_Sha256Free(&sha);
    return rc;
}

int onr_hmac_sha256(struct onr_bytes key, const struct onr_bytes *parts, size_t n,
                    uint8_t out[ONR_SHA256_LEN])
{
    Hmac hmac;
    int rc = ONR_ECRYPTO;

    if (out == NULL || (key.ptr == NULL && key.len > 0) || key.len > UINT32_MAX ||
        !parts_valid(parts, n))
        return ONR_EINVAL;
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return ONR_ECRYPTO;
    /* wolfCrypt refuses a NULL key pointer even with length 0. */
    if (wc_HmacSetKey(&hmac, WC_SHA256, key.len > 0 ? key.ptr : (const uint8_t *)"",
                      (word32)key.len) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0 &&
            wc_HmacUpdate(&hmac, parts[i].ptr, (word32)parts[i].len) != 0)
            goto out;
    }
    if (wc_HmacFinal(&hmac, out) != 0)
        goto out;
    rc = ONR_OK;
out:
    wc_HmacFree(&hmac);
    return rc;
}

int onr_hkdf_extract(struct onr_bytes salt, const struct onr_bytes *ikm, size_t n,
                     uint8_t prk[ONR_SHA256_LEN])
{
    static const uint8_t zero_salt[ONR_SHA256_LEN];

    if (salt.len == 0)
        salt = ONR_BYTES(zero_salt);
    return onr_hmac_sha256(salt, ikm, n, prk);
}

/* T(i) = HMAC(prk, T(i-1) || info || i), computed over the parts directly so
 * labelled info strings (HPKE, AKMA) need no concatenation buffer. */
int onr_hkdf_expand(const uint8_t prk[ONR_SHA256_LEN], const struct onr_bytes *info,
                    size_t n, uint8_t *out, size_t out_len)
{
    struct onr_bytes parts[2 + 16];
    uint8_t block[ONR_SHA256_LEN];
    size_t info_len = 0;
    size_t done = 0;
    uint8_t counter = 0;
    int rc = ONR_OK;

    if (prk == NULL || (out == NULL && out_len > 0) || !parts_valid(info, n) ||
        n > ONR_ARRAY_LEN(parts) - 2)
        return ONR_EINVAL;
    if (out_len > 255 * ONR_SHA256_LEN)
        return ONR_ELENGTH;
    for (size_t i = 0; i < n; i++)
        info_len += info[i].len;
    if (info_len > HKDF_MAX_INFO)
        return ONR_ELENGTH;

    while (done < out_len) {
        size_t k = 0;
        size_t take;

        counter++;
        parts[k++] = (struct onr_bytes){block, counter > 1 ? sizeof(block) : 0};
        for (size_t i = 0; i < n; i++)
            parts[k++] = info[i];
        parts[k++] = (struct onr_bytes){&counter, 1};
        rc = onr_hmac_sha256((struct onr_bytes){prk, ONR_SHA256_LEN}, parts, k, block);
        if (rc != ONR_OK)
            break;
        take = out_len - done < sizeof(block) ? out_len - done : sizeof(block);
        memcpy(out + done, block, take);
        done += take;
    }
    onr_wipe(block, sizeof(block));
    if (rc != ONR_OK)
        onr_wipe(out, out_len);
    return rc;
}
