/*
 * A borrowed byte range: the pointer and its length travel together.
 * Whoever hands one out says how long `ptr` stays valid; a struct onr_bytes
 * never owns memory.
 */
#ifndef ONRAMP_BYTES_H
#define ONRAMP_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct onr_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* ONR_BYTES(array) / ONR_BYTES_STR("literal"): ranges over a fixed array or
 * a string literal (without its NUL). */
#define ONR_BYTES(a) ((struct onr_bytes){(const uint8_t *)(a), sizeof(a)})
#define ONR_BYTES_STR(s) ((struct onr_bytes){(const uint8_t *)(s), sizeof(s) - 1})

#endif /* ONRAMP_BYTES_H */
