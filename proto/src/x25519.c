#include "internal.h"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/curve25519.h>

#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x25519.h"
#include "pem.h"

#define KEY_LEN ONR_X25519_KEY_LEN
/* Scratch for a decoded key: large enough that other algorithms' keys
 * decode whole and are then refused by their prefix. */
#define KEY_DER_MAX 512

/*
 * RFC 8410 encodings (OID 1.3.101.110, id-X25519), both fixed-length:
 * PKCS#8 PrivateKeyInfo v1 without attributes or public key (what
 * `openssl genpkey -algorithm X25519` writes), and SubjectPublicKeyInfo.
 * The key bytes follow the prefix.
 */
static const uint8_t priv_prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                      0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20};
static const uint8_t pub_prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};

#define PRIV_DER_LEN (sizeof(priv_prefix) + KEY_LEN)
#define PUB_DER_LEN (sizeof(pub_prefix) + KEY_LEN)

/* RFC 7748 section 5 clamping. X25519 clamps by definition, so this never
 * changes a result; wolfCrypt's make_pub refuses unclamped scalars. */
static void clamp(uint8_t k[KEY_LEN])
{
    k[0] &= 248;
    k[KEY_LEN - 1] &= 127;
    k[KEY_LEN - 1] |= 64;
}

/* 1 if all bytes are zero, in time independent of the contents. */
static int is_zero(const uint8_t v[KEY_LEN])
{
    uint8_t acc = 0;

    for (size_t i = 0; i < KEY_LEN; i++)
        acc |= v[i];
    return acc == 0;
}

int onr_x25519_public(const uint8_t sk[KEY_LEN], uint8_t pk[KEY_LEN])
{
    uint8_t k[KEY_LEN];
    int rc = ONR_OK;

    if (sk == NULL || pk == NULL)
        return ONR_EINVAL;
    memcpy(k, sk, KEY_LEN);
    clamp(k);
    /* Takes and writes little-endian (RFC 7748) encodings. */
    if (wc_curve25519_make_pub(KEY_LEN, pk, KEY_LEN, k) != 0)
        rc = ONR_ECRYPTO;
    onr_wipe(k, sizeof(k));
    return rc;
}

int onr_x25519_generate(uint8_t sk[KEY_LEN], uint8_t pk[KEY_LEN])
{
    int rc;

    if (sk == NULL || pk == NULL)
        return ONR_EINVAL;
    rc = onr_random(sk, KEY_LEN);
    if (rc == ONR_OK) {
        clamp(sk);
        rc = onr_x25519_public(sk, pk);
    }
    if (rc != ONR_OK)
        onr_wipe(sk, KEY_LEN);
    return rc;
}

int onr_x25519_shared(const uint8_t sk[KEY_LEN], const uint8_t pk[KEY_LEN],
                      uint8_t out[KEY_LEN])
{
    curve25519_key priv;
    curve25519_key pub;
    uint8_t k[KEY_LEN];
    uint8_t u[KEY_LEN];
    word32 out_len = KEY_LEN;
    int priv_ready = 0;
    int pub_ready = 0;
    int rc = ONR_ECRYPTO;

    if (sk == NULL || pk == NULL || out == NULL)
        return ONR_EINVAL;
    /* Local copies first: `out` may alias an input. */
    memcpy(k, sk, KEY_LEN);
    clamp(k);
    memcpy(u, pk, KEY_LEN);
    /* RFC 7748 section 5: the receiver masks the top bit of u. wolfCrypt
     * 5.5.4 refuses such a u instead (ECC_BAD_ARG_E), so mask it here. */
    u[KEY_LEN - 1] &= 0x7f;
    if (wc_curve25519_init(&priv) != 0)
        goto out;
    priv_ready = 1;
    if (wc_curve25519_init(&pub) != 0)
        goto out;
    pub_ready = 1;
    if (wc_curve25519_import_private_ex(k, KEY_LEN, &priv, EC25519_LITTLE_ENDIAN) != 0 ||
        wc_curve25519_import_public_ex(u, KEY_LEN, &pub, EC25519_LITTLE_ENDIAN) != 0)
        goto out;
    if (wc_curve25519_shared_secret_ex(&priv, &pub, out, &out_len, EC25519_LITTLE_ENDIAN) !=
            0 ||
        out_len != KEY_LEN)
        goto out;
    /* A small-order u gives all zeros (wolfCrypt returns success for it). */
    rc = is_zero(out) ? ONR_EBADKEY : ONR_OK;
out:
    if (pub_ready)
        wc_curve25519_free(&pub);
    if (priv_ready)
        wc_curve25519_free(&priv);
    onr_wipe(&priv, sizeof(priv));
    onr_wipe(k, sizeof(k));
    if (rc != ONR_OK)
        onr_wipe(out, KEY_LEN);
    return rc;
}

int onr_x25519_save(const uint8_t sk[KEY_LEN], const char *path)
{
    uint8_t der[PRIV_DER_LEN];
    int rc;

    if (sk == NULL || path == NULL)
        return ONR_EINVAL;
    memcpy(der, priv_prefix, sizeof(priv_prefix));
    memcpy(der + sizeof(priv_prefix), sk, KEY_LEN);
    rc = onr_pem_save(path, PKCS8_PRIVATEKEY_TYPE, der, sizeof(der), ONR_FILE_SECRET);
    onr_wipe(der, sizeof(der));
    return rc;
}

/*
 * The key after `prefix` in `der`, if `der` is exactly prefix || 32 bytes;
 * else ONR_EBADKEY.
 */
static int unwrap(const uint8_t *der, size_t der_len, const uint8_t *prefix,
                  size_t prefix_len, uint8_t key[KEY_LEN])
{
    if (der_len != prefix_len + KEY_LEN || memcmp(der, prefix, prefix_len) != 0)
        return ONR_EBADKEY;
    memcpy(key, der + prefix_len, KEY_LEN);
    return ONR_OK;
}

int onr_x25519_load(const char *path, uint8_t sk[KEY_LEN])
{
    uint8_t der[KEY_DER_MAX];
    size_t der_len = sizeof(der);
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    int rc;

    if (path == NULL || sk == NULL)
        return ONR_EINVAL;
    rc = onr_file_read(path, ONR_PEM_MAX_FILE, 1, &pem, &pem_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_pem_decode(PKCS8_PRIVATEKEY_TYPE, pem, pem_len, der, &der_len);
    if (rc == ONR_EFORMAT) {
        /* No "PRIVATE KEY" block: a private key under another label
         * ("EC PRIVATE KEY", "RSA PRIVATE KEY") is the wrong key, anything
         * else is not a key file at all. */
        der_len = sizeof(der);
        rc = onr_pem_decode(PRIVATEKEY_TYPE, pem, pem_len, der, &der_len);
        if (rc == ONR_OK || rc == ONR_ESPACE)
            rc = ONR_EBADKEY;
    }
    if (rc == ONR_ESPACE)
        rc = ONR_EBADKEY; /* larger than any X25519 key: another algorithm */
    if (rc == ONR_OK)
        rc = unwrap(der, der_len, priv_prefix, sizeof(priv_prefix), sk);
    onr_wipe(der, sizeof(der));
    onr_wipe(pem, pem_len);
    free(pem);
    return rc;
}

int onr_x25519_public_save(const uint8_t pk[KEY_LEN], const char *path)
{
    uint8_t der[PUB_DER_LEN];

    if (pk == NULL || path == NULL)
        return ONR_EINVAL;
    memcpy(der, pub_prefix, sizeof(pub_prefix));
    memcpy(der + sizeof(pub_prefix), pk, KEY_LEN);
    return onr_pem_save(path, PUBLICKEY_TYPE, der, sizeof(der), ONR_FILE_PUBLIC);
}

int onr_x25519_public_load(const char *path, uint8_t pk[KEY_LEN])
{
    uint8_t der[KEY_DER_MAX];
    size_t der_len = sizeof(der);
    int rc;

    if (path == NULL || pk == NULL)
        return ONR_EINVAL;
    rc = onr_pem_load_key(path, PUBLICKEY_TYPE, 0, der, &der_len);
    if (rc != ONR_OK)
        return rc;
    return unwrap(der, der_len, pub_prefix, sizeof(pub_prefix), pk);
}
