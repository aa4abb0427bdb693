/*
 * The telemetry an operational device publishes on its provider's service
 * broker, onr/1/p/{prov}/dev/{dev}/telemetry (proto/SPEC.md section 14):
 * UTF-8 JSON in exactly one of two forms,
 *
 *   {"dev":"ID","state":"OPERATIONAL"}
 *   {"dev":"ID","state":"OPERATIONAL","plmn":"PLMN","nonce":"HEX"}
 *
 * ID its device id, PLMN the network it is on (MCC || MNC, 5 or 6 digits),
 * HEX 16 random bytes as 32 lowercase hex digits, fresh in every report.
 * Nothing else: no space, no other key, no other order, no escapes. A
 * device that knows no PLMN sends the first form; the second is what a
 * relocation (SPEC section 16) answers. Nothing here allocates.
 */
#ifndef ONRAMP_TELEMETRY_H
#define ONRAMP_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/policy.h"

/* The longest telemetry, in bytes (the second form with a 6-digit PLMN). */
#define ONR_TELEMETRY_MAX 128
/* The state it reports. */
#define ONR_TELEMETRY_STATE "OPERATIONAL"

struct onr_telemetry {
    char dev[ONR_DEVID_LEN + 1];
    int reported;                 /* the second form: plmn and nonce are set */
    char plmn[ONR_PLMN_MAX + 1];  /* "" in the first form */
    uint8_t nonce[ONR_NONCE_LEN]; /* zero in the first form */
};

/*
 * onr_telemetry_encode: `t` (borrowed) in its form into `out` (`cap`
 * bytes, NUL-terminated); *len (may be NULL) its length. ONR_OK;
 * ONR_EINVAL for a NULL argument, a malformed device id or (with
 * `reported`) PLMN; ONR_ESPACE.
 */
int onr_telemetry_encode(const struct onr_telemetry *t, char *out, size_t cap, size_t *len);

/*
 * onr_telemetry_decode: `len` bytes at `buf` (borrowed, untrusted; nothing
 * past `len` is read) as one of the two forms into `out`. ONR_OK;
 * ONR_EINVAL for NULL arguments; ONR_ETOOBIG past ONR_TELEMETRY_MAX;
 * ONR_EFORMAT for anything else. `out` is zeroed on error.
 */
int onr_telemetry_decode(const uint8_t *buf, size_t len, struct onr_telemetry *out);

#endif /* ONRAMP_TELEMETRY_H */
