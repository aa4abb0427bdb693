/*
 * The device label: the text printed on the device (and in its QR code)
 * that the end user hands to the provider. It names the manufacturer and
 * the device and carries the claim secret (proto/SPEC.md section 12):
 *
 *   ONR1:<MANUFACTURER>:<DEVICE ID>:<CLAIM>:<CHECK>
 *
 * all uppercase, so a QR code can use its compact alphanumeric mode. CLAIM
 * is 20 base32 characters (100 random bits); CHECK is 4 base32 characters
 * of SHA-256 over the rest, to catch typing mistakes (not an authenticator).
 * Decoding accepts lowercase too.
 */
#ifndef ONRAMP_LABEL_H
#define ONRAMP_LABEL_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"

#define ONR_LABEL_CLAIM_LEN 20
#define ONR_LABEL_CHECK_LEN 4
/* ONR1 : mfr : dev : claim : check */
#define ONR_LABEL_MAX                                                           \
    (4 + 1 + ONR_SERVICE_ID_MAX + 1 + ONR_DEVID_LEN + 1 + ONR_LABEL_CLAIM_LEN + 1 + \
     ONR_LABEL_CHECK_LEN)

struct onr_label {
    char mfr[ONR_SERVICE_ID_MAX + 1];    /* service id, lowercase */
    char dev[ONR_DEVID_LEN + 1];         /* device id, lowercase */
    char claim[ONR_LABEL_CLAIM_LEN + 1]; /* base32, uppercase */
};

/* onr_label_new_claim: a fresh random claim secret. ONR_OK or ONR_ERANDOM. */
int onr_label_new_claim(char claim[ONR_LABEL_CLAIM_LEN + 1]);

/*
 * onr_label_encode: the label text for `label` into `out` (`cap` bytes,
 * NUL-terminated; ONR_LABEL_MAX + 1 always suffices). Returns ONR_OK,
 * ONR_EINVAL (a field not valid) or ONR_ESPACE.
 */
int onr_label_encode(const struct onr_label *label, char *out, size_t cap);

/*
 * onr_label_decode: parse label text (untrusted; `len` bytes, need not be
 * NUL-terminated). Returns ONR_OK, ONR_ELENGTH, ONR_EFORMAT (not the
 * ONR1 layout), ONR_ECHARSET (a field with characters it may not have) or
 * ONR_EBADMAC (the check characters do not match: a typo). `out` is zeroed
 * on failure.
 */
int onr_label_decode(const char *text, size_t len, struct onr_label *out);

/*
 * onr_label_claim_hash: what a manufacturer's registry keeps instead of
 * the claim secret: SHA-256("onramp/1 claim" || 0x00 || claim), with the
 * claim in uppercase. Returns ONR_OK, ONR_EINVAL or ONR_ECHARSET.
 */
int onr_label_claim_hash(const char *claim, uint8_t hash[32]);

#endif /* ONRAMP_LABEL_H */
