#include "onramp/hex.h"

void onr_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

static int digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t onr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap)
{
    if (hex_len == 0 || hex_len % 2 != 0 || hex_len / 2 > cap)
        return 0;
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = digit(hex[2 * i]);
        int lo = digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex_len / 2;
}
