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
 *
 * A kit (devices a manufacturer ships together, claimed in one step) has a
 * label of its own, the same with the prefix ONK1 and a kit id:
 *
 *   ONK1:<MANUFACTURER>:<KIT ID>:<CLAIM>:<CHECK>
 *
 * KIT ID is 20 base32 characters (100 random bits), lowercase as an id.
 */
#ifndef ONRAMP_LABEL_H
#define ONRAMP_LABEL_H

#include <stdbool.h>
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

#define ONR_KIT_ID_LEN 20
#define ONR_KIT_DEVICES_MAX 16 /* devices of one kit */
/* ONK1 : mfr : kit : claim : check */
#define ONR_KIT_LABEL_MAX                                                        \
    (4 + 1 + ONR_SERVICE_ID_MAX + 1 + ONR_KIT_ID_LEN + 1 + ONR_LABEL_CLAIM_LEN + 1 + \
     ONR_LABEL_CHECK_LEN)

struct onr_label {
    char mfr[ONR_SERVICE_ID_MAX + 1];    /* service id, lowercase */
    char dev[ONR_DEVID_LEN + 1];         /* device id, lowercase */
    char claim[ONR_LABEL_CLAIM_LEN + 1]; /* base32, uppercase */
};

struct onr_kit_label {
    char mfr[ONR_SERVICE_ID_MAX + 1];    /* service id, lowercase */
    char kit[ONR_KIT_ID_LEN + 1];        /* kit id, lowercase */
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
 * Kit labels, as device labels: onr_kit_label_encode and
 * onr_kit_label_decode return what onr_label_encode and onr_label_decode
 * do (a device label is EFORMAT to the kit's decoder, and a kit label to
 * the device's). onr_label_is_kit: the text (untrusted, `len` bytes) starts
 * as a kit label does ("ONK1:", any case): which decoder to ask.
 * onr_kit_new_id: a fresh random kit id (lowercase). ONR_OK or ONR_ERANDOM.
 * onr_kit_id_check: ONR_OK if `len` bytes at `kit` are a kit id (20 of a-z
 * 2-7), else ONR_ELENGTH or ONR_ECHARSET.
 */
int onr_kit_label_encode(const struct onr_kit_label *label, char *out, size_t cap);
int onr_kit_label_decode(const char *text, size_t len, struct onr_kit_label *out);
bool onr_label_is_kit(const char *text, size_t len);
int onr_kit_new_id(char kit[ONR_KIT_ID_LEN + 1]);
int onr_kit_id_check(const char *kit, size_t len);

/*
 * onr_label_claim_hash: what a manufacturer's registry keeps instead of
 * the claim secret: SHA-256("onramp/1 claim" || 0x00 || claim), with the
 * claim in uppercase. Returns ONR_OK, ONR_EINVAL or ONR_ECHARSET.
 */
int onr_label_claim_hash(const char *claim, uint8_t hash[32]);

/*
 * The claim in a registration travels sealed to the manufacturer's X25519
 * sealing key (HPKE, SPEC section 7, info "onramp/1 claim" 0 dev 0 prov),
 * so no broker or monitor on the way sees it.
 * onr_label_claim_seal: seal `claim` (ONR_LABEL_CLAIM_LEN characters) for
 * device `dev` registered by provider `prov`; `out` receives
 * ONR_LABEL_SEALED_LEN bytes (enc || ct || tag).
 * onr_label_claim_open: the reverse with the manufacturer's private key;
 * `claim` receives the NUL-terminated secret (wiped on failure). Returns
 * ONR_OK, ONR_EINVAL, ONR_ELENGTH or ONR_EDECRYPT (wrong key, device,
 * provider or a tampered byte), ONR_ECRYPTO.
 */
#define ONR_LABEL_SEALED_LEN (32 + ONR_LABEL_CLAIM_LEN + 16)
int onr_label_claim_seal(const uint8_t mfr_sealing_pub[32], const char *dev, const char *prov,
                         const char *claim, uint8_t out[ONR_LABEL_SEALED_LEN]);
int onr_label_claim_open(const uint8_t mfr_sealing_key[32], const char *dev, const char *prov,
                         const uint8_t *sealed, size_t sealed_len,
                         char claim[ONR_LABEL_CLAIM_LEN + 1]);

/* A kit's claim, sealed as a device's but bound to the kit id (info
 * "onramp/1 kit-claim" 0 kit 0 prov): a device's sealed claim never opens
 * as a kit's, nor the reverse. */
int onr_kit_claim_seal(const uint8_t mfr_sealing_pub[32], const char *kit, const char *prov,
                       const char *claim, uint8_t out[ONR_LABEL_SEALED_LEN]);
int onr_kit_claim_open(const uint8_t mfr_sealing_key[32], const char *kit, const char *prov,
                       const uint8_t *sealed, size_t sealed_len,
                       char claim[ONR_LABEL_CLAIM_LEN + 1]);

#endif /* ONRAMP_LABEL_H */
