/*
 * AKMA-style keys (proto/SPEC.md section 13), in the manner of 3GPP
 * TS 33.535: after a successful AKA both the device and its operator derive,
 * from CK || IK, a key identifier (KID) that names the run and an anchor
 * key K_AKMA; from K_AKMA, one application key per provider (K_AF) that
 * authenticates the device to that provider (its enrollment MAC).
 *
 * The key derivation function is TS 33.220 Annex B.2's:
 * HMAC-SHA-256(key, FC || P0 || L0 || P1 || L1 ...), Li = u16be(len(Pi)).
 */
#ifndef ONRAMP_AKMA_H
#define ONRAMP_AKMA_H

#include <stdint.h>

#define ONR_AKMA_KID_LEN 16
#define ONR_AKMA_KEY_LEN 32

/*
 * onr_akma_derive: from the CK and IK of a successful AKA run of the
 * subscriber `imsi` (digits, borrowed): kid = the first 16 bytes of
 * KDF(CK||IK, 0x81, "A-TID", imsi) and k_akma = KDF(CK||IK, 0x80, "AKMA",
 * imsi). Returns ONR_OK, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_akma_derive(const uint8_t ck[16], const uint8_t ik[16], const char *imsi,
                    uint8_t kid[ONR_AKMA_KID_LEN], uint8_t k_akma[ONR_AKMA_KEY_LEN]);

/* onr_akma_af_key: K_AF = KDF(k_akma, 0x82, provider id). Returns ONR_OK,
 * ONR_EINVAL or ONR_ECRYPTO. */
int onr_akma_af_key(const uint8_t k_akma[ONR_AKMA_KEY_LEN], const char *prov,
                    uint8_t k_af[ONR_AKMA_KEY_LEN]);

#endif /* ONRAMP_AKMA_H */
