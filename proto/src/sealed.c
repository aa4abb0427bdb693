/*
 * Sealed profiles and application keys (see <onramp/sealed.h>), and the
 * HPKE info strings of SPEC section 7.
 */
#include "onramp/sealed.h"

#include <string.h>

#include "internal.h"
#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/hpke.h"

#define PROFILE_INFO "onramp/1 profile"
#define APP_KEY_INFO "onramp/1 app-key"

int onr_seal_info(const char *context, const char *const *ids, size_t n, uint8_t *out,
                  size_t cap, size_t *len)
{
    size_t used = strlen(context);

    if (used > cap)
        return ONR_EINVAL;
    memcpy(out, context, used);
    for (size_t i = 0; i < n; i++) {
        size_t id_len = ids[i] != NULL ? strlen(ids[i]) : 0;

        /* every id is a device or service id: never empty, never long */
        if (id_len == 0 || id_len > ONR_DEVID_LEN || used + 1 + id_len > cap)
            return ONR_EINVAL;
        out[used++] = 0;
        memcpy(out + used, ids[i], id_len);
        used += id_len;
    }
    *len = used;
    return ONR_OK;
}

int onr_sealed_profile_seal(const uint8_t seal_pub[32], const char *dev, const char *op,
                            const uint8_t nonce[ONR_NONCE_LEN],
                            const struct onr_msg_profile_content *content, uint8_t *out,
                            size_t cap, size_t *out_len)
{
    const char *ids[2] = {dev, op};
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_CONTENT};
    uint8_t info[ONR_SEAL_INFO_MAX];
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    size_t info_len = 0;
    size_t plain_len = 0;
    int rc;

    if (seal_pub == NULL || nonce == NULL || content == NULL || out == NULL || out_len == NULL)
        return ONR_EINVAL;
    msg.body.profile_content = *content;
    rc = onr_seal_info(PROFILE_INFO, ids, 2, info, sizeof(info), &info_len);
    if (rc == ONR_OK)
        rc = onr_msg_body_encode(&msg, plain, sizeof(plain) - ONR_SEALED_OVERHEAD, &plain_len);
    if (rc == ONR_OK && plain_len + ONR_SEALED_OVERHEAD > cap)
        rc = ONR_ESPACE;
    if (rc == ONR_OK)
        rc = onr_hpke_seal(seal_pub, info, info_len, nonce, ONR_NONCE_LEN, plain, plain_len,
                           out, out + 32);
    if (rc == ONR_OK)
        *out_len = plain_len + ONR_SEALED_OVERHEAD;
    onr_wipe(plain, sizeof(plain));
    return rc;
}

int onr_sealed_profile_open(const uint8_t seal_key[32], const char *dev, const char *op,
                            const uint8_t nonce[ONR_NONCE_LEN], const uint8_t *sealed,
                            size_t len, uint8_t *plain, size_t cap,
                            struct onr_msg_profile_content *content)
{
    const char *ids[2] = {dev, op};
    struct onr_msg msg;
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc;

    if (seal_key == NULL || nonce == NULL || sealed == NULL || plain == NULL ||
        content == NULL)
        return ONR_EINVAL;
    if (len < ONR_SEALED_OVERHEAD + 1 || len > ONR_SEALED_PROFILE_MAX ||
        cap < len - ONR_SEALED_OVERHEAD)
        return ONR_ELENGTH;
    rc = onr_seal_info(PROFILE_INFO, ids, 2, info, sizeof(info), &info_len);
    if (rc == ONR_OK)
        rc = onr_hpke_open(seal_key, info, info_len, nonce, ONR_NONCE_LEN, sealed, sealed + 32,
                           len - 32, plain);
    /* what opened is still only as good as its decoding */
    if (rc == ONR_OK)
        rc = onr_msg_body_decode(ONR_MSG_PROFILE_CONTENT, plain, len - ONR_SEALED_OVERHEAD,
                                 &msg);
    if (rc == ONR_OK)
        *content = msg.body.profile_content;
    else
        onr_wipe(plain, len - ONR_SEALED_OVERHEAD);
    return rc;
}

int onr_sealed_app_key_seal(const uint8_t prov_pub[32], const char *dev, const char *op,
                            const char *prov, const uint8_t kid[ONR_AKMA_KID_LEN],
                            const uint8_t k_af[ONR_AKMA_KEY_LEN],
                            uint8_t out[ONR_SEALED_APP_KEY_LEN])
{
    const char *ids[3] = {dev, op, prov};
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc;

    if (prov_pub == NULL || kid == NULL || k_af == NULL || out == NULL)
        return ONR_EINVAL;
    rc = onr_seal_info(APP_KEY_INFO, ids, 3, info, sizeof(info), &info_len);
    if (rc != ONR_OK)
        return rc;
    return onr_hpke_seal(prov_pub, info, info_len, kid, ONR_AKMA_KID_LEN, k_af,
                         ONR_AKMA_KEY_LEN, out, out + 32);
}

int onr_sealed_app_key_open(const struct onr_hpke_recipient *prov_keys, const char *dev,
                            const char *op,
                            const char *prov, const uint8_t kid[ONR_AKMA_KID_LEN],
                            const uint8_t *sealed, size_t len, uint8_t k_af[ONR_AKMA_KEY_LEN])
{
    const char *ids[3] = {dev, op, prov};
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc;

    if (prov_keys == NULL || kid == NULL || sealed == NULL || k_af == NULL)
        return ONR_EINVAL;
    if (len != ONR_SEALED_APP_KEY_LEN)
        return ONR_ELENGTH;
    rc = onr_seal_info(APP_KEY_INFO, ids, 3, info, sizeof(info), &info_len);
    if (rc != ONR_OK)
        return rc;
    return onr_hpke_open_as(prov_keys, info, info_len, kid, ONR_AKMA_KID_LEN, sealed,
                            sealed + 32, len - 32, k_af);
}
