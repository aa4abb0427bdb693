#include "internal.h"

#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <string.h>

#include "hpke_internal.h"
#include "onramp/bytes.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hash.h"
#include "onramp/hpke.h"
#include "onramp/x25519.h"

/*
 * RFC 9180 with one suite. Names follow the RFC: LabeledExtract and
 * LabeledExpand (section 4), DHKEM's ExtractAndExpand (4.1), KeySchedule
 * (5.1), single-shot Seal/Open at sequence number 0 (5.2, 6.1), so the
 * nonce is base_nonce itself (base_nonce xor I2OSP(0, 12)).
 */

#define DH_LEN ONR_X25519_KEY_LEN
#define MODE_BASE 0x00

/* suite_id of the KEM: "KEM" || I2OSP(kem_id 0x0020, 2). */
static const uint8_t kem_suite[] = {'K', 'E', 'M', 0x00, 0x20};
/* suite_id of HPKE: "HPKE" || kem_id || kdf_id 0x0001 || aead_id 0x0001. */
static const uint8_t hpke_suite[] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x01};

static const struct onr_bytes no_bytes = {NULL, 0};

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id ||
 * label || ikm). */
static int labeled_extract(struct onr_bytes suite, struct onr_bytes salt,
                           struct onr_bytes label, struct onr_bytes ikm,
                           uint8_t prk[ONR_SHA256_LEN])
{
    const struct onr_bytes parts[] = {ONR_BYTES_STR("HPKE-v1"), suite, label, ikm};

    return onr_hkdf_extract(salt, parts, ONR_ARRAY_LEN(parts), prk);
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1"
 * || suite_id || label || info, L), with info given in two pieces. */
static int labeled_expand(struct onr_bytes suite, const uint8_t prk[ONR_SHA256_LEN],
                          struct onr_bytes label, struct onr_bytes info_a,
                          struct onr_bytes info_b, uint8_t *out, size_t len)
{
    const uint8_t l[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    const struct onr_bytes parts[] = {ONR_BYTES(l),   ONR_BYTES_STR("HPKE-v1"),
                                      suite,          label,
                                      info_a,         info_b};

    return onr_hkdf_expand(prk, parts, ONR_ARRAY_LEN(parts), out, len);
}

int onr_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[32],
                            uint8_t pk[32])
{
    uint8_t prk[ONR_SHA256_LEN];
    int rc;

    if (ikm == NULL || sk == NULL || pk == NULL)
        return ONR_EINVAL;
    if (ikm_len < DH_LEN)
        return ONR_ELENGTH;
    rc = labeled_extract(ONR_BYTES(kem_suite), no_bytes, ONR_BYTES_STR("dkp_prk"),
                         (struct onr_bytes){ikm, ikm_len}, prk);
    if (rc != ONR_OK)
        goto out;
    rc = labeled_expand(ONR_BYTES(kem_suite), prk, ONR_BYTES_STR("sk"), no_bytes, no_bytes,
                        sk, DH_LEN);
    if (rc != ONR_OK)
        goto out;
    rc = onr_x25519_public(sk, pk);
out:
    onr_wipe(prk, sizeof(prk));
    if (rc != ONR_OK)
        onr_wipe(sk, DH_LEN);
    return rc;
}

/* DHKEM ExtractAndExpand(dh, kem_context = enc || pkRm) -> shared_secret. */
static int extract_and_expand(const uint8_t dh[DH_LEN], const uint8_t enc[DH_LEN],
                              const uint8_t pkR[DH_LEN],
                              uint8_t shared_secret[ONR_HPKE_SECRET_LEN])
{
    uint8_t prk[ONR_SHA256_LEN];
    int rc;

    rc = labeled_extract(ONR_BYTES(kem_suite), no_bytes, ONR_BYTES_STR("eae_prk"),
                         (struct onr_bytes){dh, DH_LEN}, prk);
    if (rc == ONR_OK)
        rc = labeled_expand(ONR_BYTES(kem_suite), prk, ONR_BYTES_STR("shared_secret"),
                            (struct onr_bytes){enc, DH_LEN}, (struct onr_bytes){pkR, DH_LEN},
                            shared_secret, ONR_HPKE_SECRET_LEN);
    onr_wipe(prk, sizeof(prk));
    return rc;
}

/* KeySchedule(mode_base, ctx->shared_secret, info, psk = "", psk_id = ""):
 * fills ctx->key and ctx->base_nonce. */
static int key_schedule(const uint8_t *info, size_t info_len, struct onr_hpke_context *ctx)
{
    /* key_schedule_context = mode || psk_id_hash || info_hash */
    uint8_t ksc[1 + 2 * ONR_SHA256_LEN];
    uint8_t secret[ONR_SHA256_LEN];
    const struct onr_bytes suite = ONR_BYTES(hpke_suite);
    int rc;

    ksc[0] = MODE_BASE;
    rc = labeled_extract(suite, no_bytes, ONR_BYTES_STR("psk_id_hash"), no_bytes, ksc + 1);
    if (rc != ONR_OK)
        goto out;
    rc = labeled_extract(suite, no_bytes, ONR_BYTES_STR("info_hash"),
                         (struct onr_bytes){info, info_len}, ksc + 1 + ONR_SHA256_LEN);
    if (rc != ONR_OK)
        goto out;
    rc = labeled_extract(suite, (struct onr_bytes){ctx->shared_secret, ONR_HPKE_SECRET_LEN},
                         ONR_BYTES_STR("secret"), no_bytes, secret);
    if (rc != ONR_OK)
        goto out;
    rc = labeled_expand(suite, secret, ONR_BYTES_STR("key"), ONR_BYTES(ksc), no_bytes,
                        ctx->key, ONR_HPKE_KEY_LEN);
    if (rc != ONR_OK)
        goto out;
    rc = labeled_expand(suite, secret, ONR_BYTES_STR("base_nonce"), ONR_BYTES(ksc),
                        no_bytes, ctx->base_nonce, ONR_HPKE_NONCE_LEN);
out:
    onr_wipe(secret, sizeof(secret));
    return rc;
}

static int check_info(const uint8_t *info, size_t info_len)
{
    if (info == NULL && info_len > 0)
        return ONR_EINVAL;
    return info_len > ONR_HPKE_MAX_INFO ? ONR_ELENGTH : ONR_OK;
}

/*
 * Both sides of SetupBase: dh = X25519(sk, peer), then the KEM's shared
 * secret over kem_context = enc || pkR, then the key schedule. The sender
 * passes (skE, pkE = enc, pkR); the recipient (skR, pkR, enc); `own_pub`
 * is the public key of `sk`.
 */
static int setup(const uint8_t sk[DH_LEN], const uint8_t own_pub[DH_LEN],
                 const uint8_t peer[DH_LEN], int sender, const uint8_t *info, size_t info_len,
                 struct onr_hpke_context *ctx)
{
    uint8_t dh[DH_LEN];
    int rc;

    rc = check_info(info, info_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_x25519_shared(sk, peer, dh);
    if (rc == ONR_OK)
        rc = sender ? extract_and_expand(dh, own_pub, peer, ctx->shared_secret)
                    : extract_and_expand(dh, peer, own_pub, ctx->shared_secret);
    if (rc == ONR_OK)
        rc = key_schedule(info, info_len, ctx);
    onr_wipe(dh, sizeof(dh));
    if (rc != ONR_OK)
        onr_wipe(ctx, sizeof(*ctx));
    return rc;
}

int onr_hpke_setup_sender(const uint8_t skE[32], const uint8_t pkR[32], const uint8_t *info,
                          size_t info_len, uint8_t enc[32], struct onr_hpke_context *ctx)
{
    int rc;

    if (skE == NULL || pkR == NULL || enc == NULL || ctx == NULL)
        return ONR_EINVAL;
    rc = check_info(info, info_len);
    if (rc == ONR_OK)
        rc = onr_x25519_public(skE, enc);
    return rc == ONR_OK ? setup(skE, enc, pkR, 1, info, info_len, ctx) : rc;
}

int onr_hpke_recipient_init(struct onr_hpke_recipient *r, const uint8_t skR[32])
{
    int rc;

    if (r == NULL || skR == NULL)
        return ONR_EINVAL;
    memcpy(r->sk, skR, DH_LEN);
    rc = onr_x25519_public(r->sk, r->pk);
    if (rc != ONR_OK)
        onr_wipe(r, sizeof(*r));
    return rc;
}

int onr_hpke_setup_recipient(const uint8_t enc[32], const uint8_t skR[32],
                             const uint8_t *info, size_t info_len,
                             struct onr_hpke_context *ctx)
{
    struct onr_hpke_recipient r;
    int rc;

    if (enc == NULL || skR == NULL || ctx == NULL)
        return ONR_EINVAL;
    rc = check_info(info, info_len);
    if (rc == ONR_OK)
        rc = onr_hpke_recipient_init(&r, skR);
    if (rc == ONR_OK)
        rc = setup(r.sk, r.pk, enc, 0, info, info_len, ctx);
    onr_wipe(&r, sizeof(r));
    return rc;
}

/* AES-128-GCM Seal(key, base_nonce, aad, pt): ct = ciphertext || tag. */
static int aead_seal(const struct onr_hpke_context *ctx, const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    Aes aes;
    int rc = ONR_ECRYPTO;

    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return ONR_ECRYPTO;
    if (wc_AesGcmSetKey(&aes, ctx->key, ONR_HPKE_KEY_LEN) == 0 &&
        wc_AesGcmEncrypt(&aes, ct, pt, (word32)pt_len, ctx->base_nonce, ONR_HPKE_NONCE_LEN,
                         ct + pt_len, ONR_HPKE_TAG_LEN, aad, (word32)aad_len) == 0)
        rc = ONR_OK;
    wc_AesFree(&aes);
    onr_wipe(&aes, sizeof(aes));
    return rc;
}

/* AES-128-GCM Open: ONR_EDECRYPT if the tag does not verify. */
static int aead_open(const struct onr_hpke_context *ctx, const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    size_t pt_len = ct_len - ONR_HPKE_TAG_LEN;
    Aes aes;
    int ret;
    int rc = ONR_ECRYPTO;

    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return ONR_ECRYPTO;
    if (wc_AesGcmSetKey(&aes, ctx->key, ONR_HPKE_KEY_LEN) != 0)
        goto out;
    ret = wc_AesGcmDecrypt(&aes, pt, ct, (word32)pt_len, ctx->base_nonce, ONR_HPKE_NONCE_LEN,
                           ct + pt_len, ONR_HPKE_TAG_LEN, aad, (word32)aad_len);
    if (ret == 0)
        rc = ONR_OK;
    else if (ret == AES_GCM_AUTH_E)
        rc = ONR_EDECRYPT;
out:
    wc_AesFree(&aes);
    onr_wipe(&aes, sizeof(aes));
    return rc;
}

/* Pointer and bound checks of onr_hpke_seal. */
static int check_seal(const uint8_t pkR[32], const uint8_t *info, size_t info_len,
                      const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                      const uint8_t enc[32], const uint8_t *ct)
{
    if (pkR == NULL || enc == NULL || ct == NULL || (info == NULL && info_len > 0) ||
        (aad == NULL && aad_len > 0) || (pt == NULL && pt_len > 0))
        return ONR_EINVAL;
    if (info_len > ONR_HPKE_MAX_INFO || aad_len > ONR_HPKE_MAX_AAD || pt_len > ONR_HPKE_MAX_PT)
        return ONR_ELENGTH;
    return ONR_OK;
}

int onr_hpke_seal_with_ephemeral(const uint8_t skE[32], const uint8_t pkR[32],
                                 const uint8_t *info, size_t info_len, const uint8_t *aad,
                                 size_t aad_len, const uint8_t *pt, size_t pt_len,
                                 uint8_t enc[32], uint8_t *ct)
{
    struct onr_hpke_context ctx;
    int rc;

    if (skE == NULL)
        return ONR_EINVAL;
    rc = check_seal(pkR, info, info_len, aad, aad_len, pt, pt_len, enc, ct);
    if (rc != ONR_OK)
        return rc;
    rc = onr_hpke_setup_sender(skE, pkR, info, info_len, enc, &ctx);
    if (rc == ONR_OK)
        rc = aead_seal(&ctx, aad, aad_len, pt, pt_len, ct);
    onr_wipe(&ctx, sizeof(ctx));
    return rc;
}

int onr_hpke_seal(const uint8_t pkR[32], const uint8_t *info, size_t info_len,
                  const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                  uint8_t enc[32], uint8_t *ct)
{
    uint8_t skE[DH_LEN];
    int rc;

    rc = check_seal(pkR, info, info_len, aad, aad_len, pt, pt_len, enc, ct);
    if (rc != ONR_OK)
        return rc;
    /* Any 32 random bytes are an X25519 private key (clamped when used). */
    rc = onr_random(skE, sizeof(skE));
    if (rc == ONR_OK)
        rc = onr_hpke_seal_with_ephemeral(skE, pkR, info, info_len, aad, aad_len, pt, pt_len,
                                          enc, ct);
    onr_wipe(skE, sizeof(skE));
    return rc;
}

int onr_hpke_open(const uint8_t skR[32], const uint8_t *info, size_t info_len,
                  const uint8_t *aad, size_t aad_len, const uint8_t enc[32],
                  const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    struct onr_hpke_recipient r;
    int rc;

    if (skR == NULL)
        return ONR_EINVAL;
    rc = onr_hpke_recipient_init(&r, skR);
    if (rc == ONR_OK)
        rc = onr_hpke_open_as(&r, info, info_len, aad, aad_len, enc, ct, ct_len, pt);
    onr_wipe(&r, sizeof(r));
    return rc;
}

int onr_hpke_open_as(const struct onr_hpke_recipient *r, const uint8_t *info, size_t info_len,
                     const uint8_t *aad, size_t aad_len, const uint8_t enc[32],
                     const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    struct onr_hpke_context ctx;
    size_t pt_len;
    int rc;

    if (r == NULL || enc == NULL || ct == NULL || (info == NULL && info_len > 0) ||
        (aad == NULL && aad_len > 0))
        return ONR_EINVAL;
    if (ct_len < ONR_HPKE_TAG_LEN || ct_len - ONR_HPKE_TAG_LEN > ONR_HPKE_MAX_PT ||
        info_len > ONR_HPKE_MAX_INFO || aad_len > ONR_HPKE_MAX_AAD)
        return ONR_ELENGTH;
    pt_len = ct_len - ONR_HPKE_TAG_LEN;
    if (pt == NULL && pt_len > 0)
        return ONR_EINVAL;
    rc = setup(r->sk, r->pk, enc, 0, info, info_len, &ctx);
    if (rc == ONR_OK)
        rc = aead_open(&ctx, aad, aad_len, ct, ct_len, pt);
    onr_wipe(&ctx, sizeof(ctx));
    if (rc != ONR_OK)
        onr_wipe(pt, pt_len);
    return rc;
}
