/*
 * Lowercase hex for the plugin's files (the grants journal's serials, the
 * sessions file's certificates): one spelling only, so a file read back
 * compares equal to what was written.
 */
#ifndef ONRAMP_PLUGIN_HEX_H
#define ONRAMP_PLUGIN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* hex_encode: `len` bytes (borrowed) as 2 * len lowercase hex digits and a
 * NUL into `out`, which must hold 2 * len + 1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * hex_decode: `hex_len` characters of `hex` (borrowed): an even number of
 * lowercase hex digits, at most 2 * cap. Their bytes into `out`; the byte
 * count, or 0 if empty, malformed or too long.
 */
size_t hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap);

#endif /* ONRAMP_PLUGIN_HEX_H */
