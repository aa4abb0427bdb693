/* Shared between x509.c and x509_verify.c (internal). */
#ifndef ONRAMP_PROTO_X509_INTERNAL_H
#define ONRAMP_PROTO_X509_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/p256.h"

struct DecodedCert;

/* The P-256 point of a parsed certificate or request: ONR_OK, or
 * ONR_EBADKEY for any other key type, curve or encoding. */
int onr_x509_decoded_p256_key(const struct DecodedCert *dc, uint8_t pub[ONR_P256_PUB_LEN]);

/*
 * onr_x509_asn_time: a DER UTCTime (tag 0x17, YYMMDDHHMMSSZ, years 1950 to
 * 2049) or GeneralizedTime (tag 0x18, YYYYMMDDHHMMSSZ), tag and length
 * included, as seconds since the epoch. ONR_ECERT for anything else.
 */
int onr_x509_asn_time(const uint8_t *der, int len, int64_t *out);

#endif /* ONRAMP_PROTO_X509_INTERNAL_H */
