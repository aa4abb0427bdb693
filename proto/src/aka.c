/*
 * AKA on Milenage (see <onramp/aka.h>). SQN = SEQ || IND after TS 33.102
 * Annex C.3.2: IND in the low 5 bits.
 */
#include "onramp/aka.h"

#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/milenage.h"

#define SEQ(sqn) ((sqn) >> ONR_AKA_IND_BITS)
#define IND(sqn) ((unsigned)((sqn) & (ONR_AKA_SLOTS - 1)))
#define SEQ_MAX (ONR_AKA_SQN_MAX >> ONR_AKA_IND_BITS)

static void sqn_put(uint64_t sqn, uint8_t out[6])
{
    for (int i = 5; i >= 0; i--) {
        out[i] = (uint8_t)sqn;
        sqn >>= 8;
    }
}

static uint64_t sqn_get(const uint8_t in[6])
{
    uint64_t sqn = 0;

    for (int i = 0; i < 6; i++)
        sqn = (sqn << 8) | in[i];
    return sqn;
}

int onr_aka_sqn_next(uint64_t last, uint64_t *next)
{
    if (next == NULL || last > ONR_AKA_SQN_MAX || SEQ(last) >= SEQ_MAX)
        return next == NULL ? ONR_EINVAL : ONR_ERANGE;
    *next = ((SEQ(last) + 1) << ONR_AKA_IND_BITS) | ((IND(last) + 1) % ONR_AKA_SLOTS);
    return ONR_OK;
}

int onr_aka_vector(const struct onr_aka_subscriber *sub, uint64_t sqn,
                   const uint8_t rand[ONR_AKA_RAND_LEN], struct onr_aka_vector *out)
{
    uint8_t sqn_bytes[6];
    uint8_t ak[6];
    int rc;

    if (sub == NULL || rand == NULL || out == NULL || sqn > ONR_AKA_SQN_MAX)
        return ONR_EINVAL;
    memcpy(out->rand, rand, ONR_AKA_RAND_LEN);
    sqn_put(sqn, sqn_bytes);
    rc = onr_milenage_f1(sub->k, sub->opc, rand, sqn_bytes, sub->amf, out->autn + 8, NULL);
    if (rc == ONR_OK)
        rc = onr_milenage_f2345(sub->k, sub->opc, rand, out->xres, out->ck, out->ik, ak);
    if (rc == ONR_OK) {
        for (int i = 0; i < 6; i++)
            out->autn[i] = sqn_bytes[i] ^ ak[i];
        memcpy(out->autn + 6, sub->amf, 2);
    } else {
        onr_wipe(out, sizeof(*out));
    }
    onr_wipe(ak, sizeof(ak));
    return rc;
}

int onr_aka_resync(const struct onr_aka_subscriber *sub, const uint8_t rand[ONR_AKA_RAND_LEN],
                   const uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn_ms)
{
    static const uint8_t resync_amf[2] = {0, 0};
    uint8_t ak_star[6];
    uint8_t sqn_bytes[6];
    uint8_t mac_s[8];
    int rc;

    if (sub == NULL || rand == NULL || auts == NULL || sqn_ms == NULL)
        return ONR_EINVAL;
    rc = onr_milenage_f5star(sub->k, sub->opc, rand, ak_star);
    for (int i = 0; rc == ONR_OK && i < 6; i++)
        sqn_bytes[i] = auts[i] ^ ak_star[i];
    if (rc == ONR_OK)
        rc = onr_milenage_f1(sub->k, sub->opc, rand, sqn_bytes, resync_amf, NULL, mac_s);
    if (rc == ONR_OK && !onr_equal_ct(mac_s, auts + 6, sizeof(mac_s)))
        rc = ONR_EBADMAC;
    if (rc == ONR_OK)
        *sqn_ms = sqn_get(sqn_bytes);
    onr_wipe(ak_star, sizeof(ak_star));
    return rc;
}

uint64_t onr_aka_sqn_ms(const struct onr_aka_sqn_store *store)
{
    uint64_t best = 0;
    unsigned slot = 0;

    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++) {
        if (store->seq[i] > best) {
            best = store->seq[i];
            slot = i;
        }
    }
    return best == 0 ? 0 : (best << ONR_AKA_IND_BITS) | slot;
}

/* TS 33.102 C.2.1/C.2.2: above its slot's SEQ, and not too far ahead. */
static int sqn_fresh(const struct onr_aka_sqn_store *store, uint64_t sqn)
{
    uint64_t highest = SEQ(onr_aka_sqn_ms(store));

    return SEQ(sqn) > store->seq[IND(sqn)] &&
           (SEQ(sqn) <= highest || SEQ(sqn) - highest <= ONR_AKA_DELTA);
}

/* AUTS = (SQN_MS xor AK*) || MAC-S, MAC-S with AMF 0000. */
static int make_auts(const struct onr_aka_subscriber *sub, const struct onr_aka_sqn_store *store,
                     const uint8_t rand[ONR_AKA_RAND_LEN], uint8_t auts[ONR_AKA_AUTS_LEN])
{
    static const uint8_t resync_amf[2] = {0, 0};
    uint8_t sqn_bytes[6];
    uint8_t ak_star[6];
    int rc;

    sqn_put(onr_aka_sqn_ms(store), sqn_bytes);
    rc = onr_milenage_f1(sub->k, sub->opc, rand, sqn_bytes, resync_amf, NULL, auts + 6);
    if (rc == ONR_OK)
        rc = onr_milenage_f5star(sub->k, sub->opc, rand, ak_star);
    for (int i = 0; rc == ONR_OK && i < 6; i++)
        auts[i] = sqn_bytes[i] ^ ak_star[i];
    onr_wipe(ak_star, sizeof(ak_star));
    return rc;
}

int onr_aka_usim(const struct onr_aka_subscriber *sub, struct onr_aka_sqn_store *store,
                 const uint8_t rand[ONR_AKA_RAND_LEN], const uint8_t autn[ONR_AKA_AUTN_LEN],
                 uint8_t res[ONR_AKA_RES_LEN], uint8_t ck[ONR_AKA_KEY_LEN],
                 uint8_t ik[ONR_AKA_KEY_LEN], uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn_out)
{
    uint8_t ak[6];
    uint8_t sqn_bytes[6];
    uint8_t xmac[8];
    uint8_t my_res[ONR_AKA_RES_LEN];
    uint8_t my_ck[ONR_AKA_KEY_LEN];
    uint8_t my_ik[ONR_AKA_KEY_LEN];
    uint64_t sqn;
    int rc;

    if (sub == NULL || store == NULL || rand == NULL || autn == NULL || res == NULL ||
        ck == NULL || ik == NULL || auts == NULL || sqn_out == NULL)
        return ONR_EINVAL;
    rc = onr_milenage_f2345(sub->k, sub->opc, rand, my_res, my_ck, my_ik, ak);
    for (int i = 0; rc == ONR_OK && i < 6; i++)
        sqn_bytes[i] = autn[i] ^ ak[i];
    /* MAC-A covers the AMF the network sent */
    if (rc == ONR_OK)
        rc = onr_milenage_f1(sub->k, sub->opc, rand, sqn_bytes, autn + 6, xmac, NULL);
    if (rc == ONR_OK && !onr_equal_ct(xmac, autn + 8, sizeof(xmac)))
        rc = ONR_EBADMAC;
    if (rc == ONR_OK) {
        sqn = sqn_get(sqn_bytes);
        if (!sqn_fresh(store, sqn)) {
            rc = make_auts(sub, store, rand, auts);
            if (rc == ONR_OK)
                rc = ONR_EREPLAY;
        } else {
            store->seq[IND(sqn)] = SEQ(sqn);
            *sqn_out = sqn;
            memcpy(res, my_res, sizeof(my_res));
            memcpy(ck, my_ck, sizeof(my_ck));
            memcpy(ik, my_ik, sizeof(my_ik));
        }
    }
    onr_wipe(ak, sizeof(ak));
    onr_wipe(my_res, sizeof(my_res));
    onr_wipe(my_ck, sizeof(my_ck));
    onr_wipe(my_ik, sizeof(my_ik));
    return rc;
}
