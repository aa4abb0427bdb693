/*
 * Lowercase hex, one spelling only, so that what is read back compares
 * equal to what was written: the plugin's files (the grants journal's
 * serials, the sessions file's certificates), a telemetry's nonce (SPEC
 * section 14), the device's "reported" file.
 */
#ifndef ONRAMP_HEX_H
#define ONRAMP_HEX_H

#include <stddef.h>
#include <stdint.h>

/* onr_hex_encode: `len` bytes (borrowed) as 2 * len lowercase hex digits
 * and a NUL into `out`, which must hold 2 * len + 1 bytes. */
void onr_hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * onr_hex_decode: `hex_len` characters of `hex` (borrowed, untrusted,
 * nothing past them read): an even number of lowercase hex digits, at most
 * 2 * cap. Their bytes into `out`; the byte count, or 0 if empty,
 * malformed or too long.
 */
size_t onr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap);

#endif /* ONRAMP_HEX_H */
