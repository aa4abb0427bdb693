/*
 * AKMA-style key derivation (see <onramp/akma.h>), with TS 33.535 Annex
 * A's FC values: 0x80 K_AKMA, 0x81 A-TID, 0x82 K_AF.
 */
#include "onramp/akma.h"

#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hash.h"

#define FC_K_AKMA 0x80
#define FC_A_TID 0x81
#define FC_K_AF 0x82
#define P_MAX 255

/* KDF(key, FC, P0 [, P1]) of TS 33.220 Annex B.2; p1 may be NULL. */
static int kdf(struct onr_bytes key, uint8_t fc, const char *p0, const char *p1,
               uint8_t out[ONR_SHA256_LEN])
{
    uint8_t fc_byte = fc;
    uint8_t l0[2];
    uint8_t l1[2];
    size_t n0 = strlen(p0);
    size_t n1 = p1 != NULL ? strlen(p1) : 0;
    struct onr_bytes s[5] = {
        {&fc_byte, 1},
        {(const uint8_t *)p0, n0},
        {l0, 2},
        {(const uint8_t *)p1, n1},
        {l1, 2},
    };

    if (n0 == 0 || n0 > P_MAX || n1 > P_MAX || (p1 != NULL && n1 == 0))
        return ONR_EINVAL;
    l0[0] = (uint8_t)(n0 >> 8);
    l0[1] = (uint8_t)n0;
    l1[0] = (uint8_t)(n1 >> 8);
    l1[1] = (uint8_t)n1;
    return onr_hmac_sha256(key, s, p1 != NULL ? 5 : 3, out);
}

int onr_akma_derive(const uint8_t ck[16], const uint8_t ik[16], const char *imsi,
                    uint8_t kid[ONR_AKMA_KID_LEN], uint8_t k_akma[ONR_AKMA_KEY_LEN])
{
    uint8_t ckik[32];
    uint8_t tid[ONR_SHA256_LEN];
    int rc;

    if (ck == NULL || ik == NULL || imsi == NULL || kid == NULL || k_akma == NULL)
        return ONR_EINVAL;
    memcpy(ckik, ck, 16);
    memcpy(ckik + 16, ik, 16);
    rc = kdf((struct onr_bytes){ckik, sizeof(ckik)}, FC_A_TID, "A-TID", imsi, tid);
    if (rc == ONR_OK)
        rc = kdf((struct onr_bytes){ckik, sizeof(ckik)}, FC_K_AKMA, "AKMA", imsi, k_akma);
    if (rc == ONR_OK)
        memcpy(kid, tid, ONR_AKMA_KID_LEN);
    else
        onr_wipe(k_akma, ONR_AKMA_KEY_LEN);
    onr_wipe(ckik, sizeof(ckik));
    return rc;
}

int onr_akma_af_key(const uint8_t k_akma[ONR_AKMA_KEY_LEN], const char *prov,
                    uint8_t k_af[ONR_AKMA_KEY_LEN])
{
    if (k_akma == NULL || prov == NULL || k_af == NULL)
        return ONR_EINVAL;
    return kdf((struct onr_bytes){k_akma, ONR_AKMA_KEY_LEN}, FC_K_AF, prov, NULL, k_af);
}
