/*
 * UMTS AKA (3GPP TS 33.102) on Milenage (<onramp/milenage.h>): the home
 * network's authentication vectors, the USIM's checks, and sequence number
 * management after TS 33.102 Annex C.
 *
 * A sequence number SQN is 48 bits, SEQ (43 bits) || IND (5 bits). The AuC
 * keeps the last SQN it issued; each new vector takes SEQ + 1 and the next
 * IND slot. The USIM keeps, per IND slot, the highest SEQ it accepted, and
 * accepts a challenge only if its SEQ is above that slot's and at most
 * ONR_AKA_DELTA above the highest it accepted anywhere: a replayed AUTN is
 * refused, and so is one from a wildly advanced network. Freshness is per
 * slot: an older SEQ in another slot is still accepted (out-of-order
 * delivery of vectors), so a USIM is "ahead" of its network only when
 * every slot is. A refused SQN is
 * answered with AUTS, from which the AuC resynchronises.
 *
 * Values are TS 35.206 byte strings; SQNs travel as integers here.
 * Secrets on the stack are wiped before returning.
 */
#ifndef ONRAMP_AKA_H
#define ONRAMP_AKA_H

#include <stdint.h>

#define ONR_AKA_RAND_LEN 16
#define ONR_AKA_AUTN_LEN 16
#define ONR_AKA_RES_LEN 8
#define ONR_AKA_AUTS_LEN 14
#define ONR_AKA_KEY_LEN 16 /* K, OPc, CK, IK */
#define ONR_AKA_IND_BITS 5
#define ONR_AKA_SLOTS (1u << ONR_AKA_IND_BITS)
#define ONR_AKA_SQN_MAX ((UINT64_C(1) << 48) - 1)
#define ONR_AKA_DELTA (UINT64_C(1) << 28) /* TS 33.102 C.2.1's suggested delta */

/* What both ends share: the subscriber's key and operator variant. */
struct onr_aka_subscriber {
    uint8_t k[ONR_AKA_KEY_LEN];
    uint8_t opc[ONR_AKA_KEY_LEN];
    uint8_t amf[2];
};

/* One authentication vector (the AuC's view of a challenge). */
struct onr_aka_vector {
    uint8_t rand[ONR_AKA_RAND_LEN];
    uint8_t autn[ONR_AKA_AUTN_LEN];
    uint8_t xres[ONR_AKA_RES_LEN];
    uint8_t ck[ONR_AKA_KEY_LEN];
    uint8_t ik[ONR_AKA_KEY_LEN];
};

/* The USIM's sequence number store: the highest SEQ accepted per IND slot. */
struct onr_aka_sqn_store {
    uint64_t seq[ONR_AKA_SLOTS];
};

/* onr_aka_sqn_next: the SQN following `last` (SEQ + 1, next IND slot);
 * ONR_ERANGE when SEQ is exhausted. */
int onr_aka_sqn_next(uint64_t last, uint64_t *next);

/*
 * onr_aka_vector: the vector for `sqn` and `rand` (the caller draws RAND
 * from its DRBG). AUTN = (SQN xor AK) || AMF || MAC-A. Returns ONR_OK,
 * ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_aka_vector(const struct onr_aka_subscriber *sub, uint64_t sqn,
                   const uint8_t rand[ONR_AKA_RAND_LEN], struct onr_aka_vector *out);

/*
 * onr_aka_resync: the AuC's side of a synchronisation failure. Checks
 * AUTS = (SQN_MS xor AK*) || MAC-S for the challenge `rand` (MAC-S is
 * computed with AMF 0000, TS 33.102 6.3.3) and gives SQN_MS, the highest
 * SQN the USIM accepted. ONR_OK, ONR_EBADMAC (AUTS not from this
 * subscriber) or ONR_ECRYPTO.
 */
int onr_aka_resync(const struct onr_aka_subscriber *sub, const uint8_t rand[ONR_AKA_RAND_LEN],
                   const uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn_ms);

/*
 * onr_aka_usim: the USIM's side of a challenge. Verifies MAC-A, then the
 * freshness of SQN against `store`:
 *   ONR_OK        authentic and fresh: res, ck, ik filled, `store`
 *                 updated (the caller persists it before answering) and
 *                 *sqn the challenge's SQN (which orders the runs a
 *                 device answered: SPEC section 13)
 *   ONR_EBADMAC   MAC-A wrong: not our network; nothing filled or changed
 *   ONR_EREPLAY   authentic but SQN not fresh: `auts` filled for the
 *                 AuC to resynchronise; `store` unchanged
 *   ONR_EINVAL, ONR_ECRYPTO
 */
int onr_aka_usim(const struct onr_aka_subscriber *sub, struct onr_aka_sqn_store *store,
                 const uint8_t rand[ONR_AKA_RAND_LEN], const uint8_t autn[ONR_AKA_AUTN_LEN],
                 uint8_t res[ONR_AKA_RES_LEN], uint8_t ck[ONR_AKA_KEY_LEN],
                 uint8_t ik[ONR_AKA_KEY_LEN], uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn);

/* onr_aka_sqn_ms: the highest SQN `store` accepted (0 for a new USIM). */
uint64_t onr_aka_sqn_ms(const struct onr_aka_sqn_store *store);

#endif /* ONRAMP_AKA_H */
