#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onramp/error.h"

/* Made with `openssl ecparam -name prime256v1 -genkey -noout`: test keys
 * only, public in this repository. */
static const char *const key_pem[FUZZ_KEY_COUNT] = {
    [FUZZ_KEY_SIGNER] = "-----BEGIN EC PRIVATE KEY-----\n"
                        "MHcCAQEEIObfbu38FWSpAenAcMGxNfSkhfn54yAhfwyIToEMOefaoAoGCCqGSM49\n"
                        "AwEHoUQDQgAEfEA/Me25vCQzLA88Fb2JopaiMuGgqQykSYgIPmsK8f9+REp697sA\n"
                        "MMKJ+JLskey6udeEiM7wcuBFjCllilT5ig==\n"
                        "-----END EC PRIVATE KEY-----\n",
    [FUZZ_KEY_VOUCHER] = "-----BEGIN EC PRIVATE KEY-----\n"
                         "MHcCAQEEIP7odHwYEg6Cwthauk7stYj3YePFCibGfL8EKq0cPn/FoAoGCCqGSM49\n"
                         "AwEHoUQDQgAER7AohPMHzJ/k3fm/pFEfECdFYPeLiCk8xGnyKh1jTI/rFiqRBqu1\n"
                         "t6CpkGPnKVab8FadhMSgcFDb2KxlLT+2Lw==\n"
                         "-----END EC PRIVATE KEY-----\n",
    [FUZZ_KEY_SERVICE] = "-----BEGIN EC PRIVATE KEY-----\n"
                         "MHcCAQEEIM21DvBbSMwRv31bUY9s5tdh8XEOLEOlENlYV+bSFKi2oAoGCCqGSM49\n"
                         "AwEHoUQDQgAEs2GjEX5AOA+e3Sf+ISTOgkFaHLPediEMNG1aRyUYKvnsp4z2v+/c\n"
                         "ssRUNbXUZm68N6RdIrFwv5ZBYufPwQJDFw==\n"
                         "-----END EC PRIVATE KEY-----\n",
    [FUZZ_KEY_CA] = "-----BEGIN EC PRIVATE KEY-----\n"
                    "MHcCAQEEIKMiLnCMbTTTGVvOnxKhUieEWU+izEM+a3Rn1ibIlfC5oAoGCCqGSM49\n"
                    "AwEHoUQDQgAEeJLzCK42YnXldvEzTUfOjBHg/XNhHSpAg5cEqmJ4y4A+IK5YqLZa\n"
                    "zQEbawR2/+ltDd+8v9H05fSYGz5S/LZaqQ==\n"
                    "-----END EC PRIVATE KEY-----\n",
};

const uint8_t fuzz_seal_device[ONR_X25519_KEY_LEN] = {
    0x2d, 0x13, 0xc0, 0xcd, 0x3a, 0xfe, 0x8b, 0xc5, 0x97, 0x0a, 0xd7, 0x55, 0x12, 0x2e, 0x28, 0x90,
    0xd4, 0xc4, 0x73, 0xc2, 0xa6, 0x66, 0x40, 0x0d, 0x01, 0x0b, 0xbd, 0x15, 0xe6, 0xe6, 0x82, 0xca};
const uint8_t fuzz_seal_mfr[ONR_X25519_KEY_LEN] = {
    0xc0, 0xc2, 0xfd, 0x16, 0x17, 0x5d, 0xa3, 0x90, 0x36, 0xe4, 0x3d, 0xf2, 0xdd, 0x0e, 0x6d, 0xbc,
    0xc5, 0x6e, 0x48, 0xa9, 0xc9, 0xea, 0x15, 0x97, 0xae, 0xab, 0xd8, 0x15, 0xde, 0x13, 0xfb, 0xd1};
const uint8_t fuzz_seal_provider[ONR_X25519_KEY_LEN] = {
    0x02, 0x12, 0x41, 0xcb, 0xdd, 0x76, 0x53, 0xb0, 0xb8, 0x86, 0x37, 0xba, 0x9e, 0x0c, 0x53, 0x05,
    0x0d, 0x73, 0x86, 0xb8, 0x4b, 0x63, 0xd9, 0x9c, 0xac, 0x0c, 0x70, 0x52, 0x6a, 0x2e, 0x87, 0xcd};
const uint8_t fuzz_nonce[ONR_NONCE_LEN] = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 1, 2, 3,
                                           4,    5,    6,    7,    8,    9, 10, 11};
const uint8_t fuzz_kid[16] = {0x6b, 0x69, 0x64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
const uint8_t fuzz_mac_key[32] = {0x6d, 0x61, 0x63, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                  13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28};

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\nfuzz: %s:%d: check failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int fuzz_same_bytes(struct onr_bytes a, struct onr_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

void fuzz_msg_same(const struct onr_msg *a, const struct onr_msg *b, const char *what)
{
    struct onr_msg_field fa;
    struct onr_msg_field fb;
    size_t i;

    FUZZ_CHECK(a->type == b->type, "%s: type %d != %d", what, (int)a->type, (int)b->type);
    for (i = 0;; i++) {
        int ra = onr_msg_field_at(a, i, &fa);
        int rb = onr_msg_field_at(b, i, &fb);

        FUZZ_CHECK(ra == rb, "%s: field %zu: %s != %s", what, i, onr_error_name(ra),
                   onr_error_name(rb));
        if (ra == ONR_ENOENT)
            break;
        FUZZ_CHECK(ra == ONR_OK, "%s: field %zu: %s", what, i, onr_error_name(ra));
        FUZZ_CHECK(strcmp(fa.key, fb.key) == 0 && fa.kind == fb.kind, "%s: field %zu", what, i);
        FUZZ_CHECK(fa.present == fb.present, "%s: %s present %d != %d", what, fa.key,
                   fa.present, fb.present);
        if (fa.kind == ONR_VALUE_UINT)
            FUZZ_CHECK(fa.uint_value == fb.uint_value, "%s: %s %llu != %llu", what, fa.key,
                       (unsigned long long)fa.uint_value, (unsigned long long)fb.uint_value);
        else if (fa.present)
            FUZZ_CHECK(fuzz_same_bytes(fa.bytes, fb.bytes), "%s: %s differs (%zu, %zu bytes)",
                       what, fa.key, fa.bytes.len, fb.bytes.len);
    }
    FUZZ_CHECK(i > 0, "%s: type %d has no fields", what, (int)a->type);
}

struct onr_p256_key *fuzz_key_load(enum fuzz_key which)
{
    char path[] = "/tmp/onramp-fuzz-key-XXXXXX";
    struct onr_p256_key *key = NULL;
    const char *pem;
    size_t len;
    int fd;
    int rc;

    FUZZ_CHECK(which >= 0 && which < FUZZ_KEY_COUNT, "key %d", (int)which);
    pem = key_pem[which];
    len = strlen(pem);
    fd = mkstemp(path); /* 0600: what a private key file must be */
    FUZZ_CHECK(fd >= 0, "mkstemp %s", path);
    FUZZ_CHECK(write(fd, pem, len) == (ssize_t)len, "write %s", path);
    close(fd);
    rc = onr_p256_load(path, &key);
    unlink(path);
    FUZZ_CHECK(rc == ONR_OK, "test key %d: %s", (int)which, onr_error_name(rc));
    return key;
}

const uint8_t *fuzz_key_public(enum fuzz_key which)
{
    static uint8_t pub[FUZZ_KEY_COUNT][ONR_P256_PUB_LEN];
    static int loaded[FUZZ_KEY_COUNT];

    FUZZ_CHECK(which >= 0 && which < FUZZ_KEY_COUNT, "key %d", (int)which);
    if (!loaded[which]) {
        struct onr_p256_key *key = fuzz_key_load(which);

        FUZZ_CHECK(onr_p256_public(key, pub[which]) == ONR_OK, "public %d", (int)which);
        onr_p256_free(key);
        loaded[which] = 1;
    }
    return pub[which];
}

void fuzz_seal_public(const uint8_t sk[ONR_X25519_KEY_LEN], uint8_t pk[ONR_X25519_KEY_LEN])
{
    FUZZ_CHECK(onr_x25519_public(sk, pk) == ONR_OK, "x25519 public");
}
