#include "onramp/devid.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/hash.h"
#include "onramp/text.h"

#define DEVID_CONTEXT "onramp/1 device-id"
#define DEVID_HASH_BYTES 20

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int onr_devid_from_public(const uint8_t pub[ONR_P256_PUB_LEN], char out[ONR_DEVID_LEN + 1])
{
    /* The context string's own NUL is the 0x00 separator. */
    const struct onr_bytes parts[] = {
        {(const uint8_t *)DEVID_CONTEXT, sizeof(DEVID_CONTEXT)},
        {pub, ONR_P256_PUB_LEN},
    };
    uint8_t hash[ONR_SHA256_LEN];
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    int rc;

    if (pub == NULL || out == NULL)
        return ONR_EINVAL;
    rc = onr_sha256(parts, 2, hash);
    if (rc != ONR_OK)
        return rc;
    /* 20 bytes = 160 bits = exactly 32 groups of 5 bits, no padding. */
    for (size_t i = 0; i < DEVID_HASH_BYTES; i++) {
        acc = acc << 8 | hash[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[n++] = alphabet[(acc >> bits) & 0x1f];
        }
    }
    out[n] = '\0';
    return ONR_OK;
}

int onr_devid_check(const char *id, size_t len)
{
    if (id == NULL)
        return ONR_EINVAL;
    if (len != ONR_DEVID_LEN)
        return ONR_ELENGTH;
    return onr_text_check(ONR_TEXT_DEVID, (struct onr_bytes){(const uint8_t *)id, len});
}

int onr_devid_matches(const char *id, size_t len, const uint8_t pub[ONR_P256_PUB_LEN])
{
    char expected[ONR_DEVID_LEN + 1];
    int rc;

    if (onr_devid_check(id, len) != ONR_OK)
        return ONR_EBADKEY;
    rc = onr_devid_from_public(pub, expected);
    if (rc != ONR_OK)
        return rc;
    return memcmp(expected, id, ONR_DEVID_LEN) == 0 ? ONR_OK : ONR_EBADKEY;
}
