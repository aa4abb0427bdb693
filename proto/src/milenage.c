#include "internal.h"

#include <wolfssl/wolfcrypt/aes.h>

#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/milenage.h"

/*
 * TS 35.206 section 4.1, with E_K = AES-128 (Rijndael with 128-bit blocks):
 *   TEMP = E_K(RAND xor OPc)
 *   OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc,
 *          IN1 = SQN || AMF || SQN || AMF
 *   OUTn = E_K(rot(TEMP xor OPc, rn) xor cn) xor OPc for n = 2..5
 * r1..r5 = 64, 0, 32, 64, 96 bits; c1..c5 are zero except the last byte:
 * 0, 1, 2, 4, 8. f1 = OUT1[0..63], f1* = OUT1[64..127], f2 = OUT2[64..127],
 * f5 = OUT2[0..47], f3 = OUT3, f4 = OUT4, f5* = OUT5[0..47].
 * Every rotation is a whole number of bytes.
 */

#define BLOCK 16

/* One Milenage computation: the AES key schedule of K and TEMP. */
struct run {
    Aes aes;
    uint8_t temp[BLOCK];
};

/* out = in rotated left (towards the most significant end) by `bytes`. */
static void rot(const uint8_t in[BLOCK], size_t bytes, uint8_t out[BLOCK])
{
    for (size_t i = 0; i < BLOCK; i++)
        out[i] = in[(i + bytes) % BLOCK];
}

static void xor_into(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] ^= src[i];
}

/* Set up the cipher for K. On failure nothing needs releasing. */
static int cipher_init(Aes *aes, const uint8_t k[16])
{
    if (wc_AesInit(aes, NULL, INVALID_DEVID) != 0)
        return ONR_ECRYPTO;
    if (wc_AesSetKey(aes, k, 16, NULL, AES_ENCRYPTION) != 0) {
        wc_AesFree(aes);
        onr_wipe(aes, sizeof(*aes));
        return ONR_ECRYPTO;
    }
    return ONR_OK;
}

static void cipher_cleanup(Aes *aes)
{
    wc_AesFree(aes);
    onr_wipe(aes, sizeof(*aes));
}

/* out = E_K(in); in and out may be the same buffer. */
static int aes_block(Aes *aes, const uint8_t in[BLOCK], uint8_t out[BLOCK])
{
    return wc_AesEncryptDirect(aes, out, in) == 0 ? ONR_OK : ONR_ECRYPTO;
}

/* Key K and TEMP = E_K(RAND xor OPc). On success release with
 * run_cleanup; on failure nothing needs releasing. */
static int run_init(struct run *r, const uint8_t k[16], const uint8_t opc[16],
                    const uint8_t rand[16])
{
    int rc;

    rc = cipher_init(&r->aes, k);
    if (rc != ONR_OK)
        return rc;
    memcpy(r->temp, rand, BLOCK);
    xor_into(r->temp, opc, BLOCK);
    rc = aes_block(&r->aes, r->temp, r->temp);
    if (rc != ONR_OK) {
        cipher_cleanup(&r->aes);
        onr_wipe(r->temp, BLOCK);
    }
    return rc;
}

static void run_cleanup(struct run *r)
{
    cipher_cleanup(&r->aes);
    onr_wipe(r, sizeof(*r));
}

/* OUTn for n = 2..5: rotation `rot_bytes`, constant `c` in the last byte. */
static int out_n(struct run *r, const uint8_t opc[16], size_t rot_bytes, uint8_t c,
                 uint8_t out[BLOCK])
{
    uint8_t x[BLOCK];
    int rc;

    memcpy(x, r->temp, BLOCK);
    xor_into(x, opc, BLOCK);
    rot(x, rot_bytes, out);
    out[BLOCK - 1] ^= c;
    rc = aes_block(&r->aes, out, out);
    xor_into(out, opc, BLOCK);
    onr_wipe(x, sizeof(x));
    if (rc != ONR_OK)
        onr_wipe(out, BLOCK);
    return rc;
}

int onr_milenage_opc(const uint8_t k[16], const uint8_t op[16], uint8_t opc[16])
{
    Aes aes;
    uint8_t e[BLOCK];
    int rc;

    if (k == NULL || op == NULL || opc == NULL)
        return ONR_EINVAL;
    rc = cipher_init(&aes, k);
    if (rc != ONR_OK)
        return rc;
    rc = aes_block(&aes, op, e);
    if (rc == ONR_OK) {
        xor_into(e, op, BLOCK);
        memcpy(opc, e, BLOCK);
    }
    cipher_cleanup(&aes);
    onr_wipe(e, sizeof(e));
    return rc;
}

int onr_milenage_f1(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                    const uint8_t sqn[6], const uint8_t amf[2], uint8_t mac_a[8],
                    uint8_t mac_s[8])
{
    struct run r;
    uint8_t in1[BLOCK];
    uint8_t out1[BLOCK];
    int rc;

    if (k == NULL || opc == NULL || rand == NULL || sqn == NULL || amf == NULL)
        return ONR_EINVAL;
    rc = run_init(&r, k, opc, rand);
    if (rc != ONR_OK)
        return rc;
    memcpy(in1, sqn, 6);
    memcpy(in1 + 6, amf, 2);
    memcpy(in1 + 8, sqn, 6);
    memcpy(in1 + 14, amf, 2);
    xor_into(in1, opc, BLOCK);
    rot(in1, 8, out1); /* r1 = 64 bits */
    xor_into(out1, r.temp, BLOCK);
    /* c1 is zero */
    rc = aes_block(&r.aes, out1, out1);
    if (rc != ONR_OK)
        goto out;
    xor_into(out1, opc, BLOCK);
    if (mac_a != NULL)
        memcpy(mac_a, out1, 8);
    if (mac_s != NULL)
        memcpy(mac_s, out1 + 8, 8);
out:
    run_cleanup(&r);
    onr_wipe(in1, sizeof(in1));
    onr_wipe(out1, sizeof(out1));
    return rc;
}

int onr_milenage_f2345(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                       uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6])
{
    struct run r;
    uint8_t out[BLOCK];
    int rc;

    if (k == NULL || opc == NULL || rand == NULL)
        return ONR_EINVAL;
    rc = run_init(&r, k, opc, rand);
    if (rc != ONR_OK)
        return rc;
    if (res != NULL || ak != NULL) {
        rc = out_n(&r, opc, 0, 1, out); /* OUT2: r2 = 0, c2 = 1 */
        if (rc != ONR_OK)
            goto out;
        if (res != NULL)
            memcpy(res, out + 8, 8);
        if (ak != NULL)
            memcpy(ak, out, 6);
    }
    if (ck != NULL) {
        rc = out_n(&r, opc, 4, 2, out); /* OUT3: r3 = 32 bits, c3 = 2 */
        if (rc != ONR_OK)
            goto out;
        memcpy(ck, out, BLOCK);
    }
    if (ik != NULL) {
        rc = out_n(&r, opc, 8, 4, out); /* OUT4: r4 = 64 bits, c4 = 4 */
        if (rc != ONR_OK)
            goto out;
        memcpy(ik, out, BLOCK);
    }
out:
    run_cleanup(&r);
    onr_wipe(out, sizeof(out));
    return rc;
}

int onr_milenage_f5star(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                        uint8_t ak_star[6])
{
    struct run r;
    uint8_t out[BLOCK];
    int rc;

    if (k == NULL || opc == NULL || rand == NULL || ak_star == NULL)
        return ONR_EINVAL;
    rc = run_init(&r, k, opc, rand);
    if (rc != ONR_OK)
        return rc;
    rc = out_n(&r, opc, 12, 8, out); /* OUT5: r5 = 96 bits, c5 = 8 */
    if (rc == ONR_OK)
        memcpy(ak_star, out, 6);
    run_cleanup(&r);
    onr_wipe(out, sizeof(out));
    return rc;
}
