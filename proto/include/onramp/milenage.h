/*
 * Milenage (3GPP TS 35.206), the example algorithm set for the 3GPP
 * authentication and key generation functions f1, f1*, f2, f3, f4, f5, f5*,
 * with the standard rotation and constant values (r1..r5, c1..c5).
 *
 * All values are big-endian byte strings as in TS 35.206/35.208.
 * Returns ONR_OK, ONR_EINVAL (a NULL pointer) or ONR_ECRYPTO. Secrets on the
 * stack are wiped before returning.
 */
#ifndef ONRAMP_MILENAGE_H
#define ONRAMP_MILENAGE_H

#include <stdint.h>

/* onr_milenage_opc: OPc = OP xor E_K(OP). */
int onr_milenage_opc(const uint8_t k[16], const uint8_t op[16], uint8_t opc[16]);

/* onr_milenage_f1: network authentication (MAC-A, f1) and resynchronisation
 * (MAC-S, f1*) codes. Either output may be NULL if not wanted. */
int onr_milenage_f1(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                    const uint8_t sqn[6], const uint8_t amf[2], uint8_t mac_a[8],
                    uint8_t mac_s[8]);

/* onr_milenage_f2345: RES (f2), CK (f3), IK (f4) and AK (f5). Any output may
 * be NULL if not wanted. */
int onr_milenage_f2345(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                       uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6]);

/* onr_milenage_f5star: AK for resynchronisation (f5*). */
int onr_milenage_f5star(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
                        uint8_t ak_star[6]);

#endif /* ONRAMP_MILENAGE_H */
