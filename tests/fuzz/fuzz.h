/*
 * What the fuzz targets share (tests/fuzz/README.md): a check that
 * aborts with a reason (so libFuzzer records the input as a crash), the
 * comparison of decoded messages, and the fixed test keys and ids the seed
 * corpora were made with, so that a seed's signature verifies and its
 * sealed secret opens inside a target.
 *
 * None of these keys protects anything: they exist for the fuzz targets.
 */
#ifndef ONRAMP_FUZZ_H
#define ONRAMP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

/* The libFuzzer entry points each target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FUZZ_CHECK(cond, fmt, ...): if `cond` is false, print where and why and
 * abort(): a logic bug is a crash like any other. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond))                                                            \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* fuzz_msg_same: `a` and `b` have the same type and every field of the
 * body is equal (presence, value, bytes); else FUZZ_CHECK fails naming the
 * field and `what`. */
void fuzz_msg_same(const struct onr_msg *a, const struct onr_msg *b, const char *what);

/* fuzz_same_bytes: 1 if `a` and `b` hold the same bytes, else 0. */
int fuzz_same_bytes(struct onr_bytes a, struct onr_bytes b);

/* The fixed signing keys (P-256). */
enum fuzz_key {
    FUZZ_KEY_SIGNER = 0, /* signs every signed seed envelope */
    FUZZ_KEY_VOUCHER,    /* the manufacturer's voucher key */
    FUZZ_KEY_SERVICE,    /* the device's service key (the chain's leaf) */
    FUZZ_KEY_CA,         /* the provider CA's key (seeds only) */
    FUZZ_KEY_COUNT,
};

/* fuzz_key_load: a new copy of test key `which` (caller frees); aborts if
 * it cannot be loaded. */
struct onr_p256_key *fuzz_key_load(enum fuzz_key which);

/* fuzz_key_public: its public point, loaded once. */
const uint8_t *fuzz_key_public(enum fuzz_key which);

/* The fixed X25519 sealing keys: private halves; fuzz_seal_public gives
 * the public ones. */
extern const uint8_t fuzz_seal_device[ONR_X25519_KEY_LEN];   /* profiles */
extern const uint8_t fuzz_seal_mfr[ONR_X25519_KEY_LEN];      /* claims */
extern const uint8_t fuzz_seal_provider[ONR_X25519_KEY_LEN]; /* application keys */
void fuzz_seal_public(const uint8_t sk[ONR_X25519_KEY_LEN], uint8_t pk[ONR_X25519_KEY_LEN]);

/* Fixed ids, nonces and keys that bind sealed secrets and tokens. */
#define FUZZ_DEV "rguib733fa2xfyrzdwehzsohu743ont4"
#define FUZZ_KIT "q2kzf6r3hbwnmx7yt4pc"
#define FUZZ_MFR "acme"
#define FUZZ_PROV "prov-1"
#define FUZZ_OP "op-1"
#define FUZZ_BROKER "bootstrap-1"
#define FUZZ_TOPIC "onr/1/d/" FUZZ_DEV "/up/mfr/" FUZZ_MFR
#define FUZZ_NOW UINT64_C(1750000000)
extern const uint8_t fuzz_nonce[ONR_NONCE_LEN];
extern const uint8_t fuzz_kid[16];
extern const uint8_t fuzz_mac_key[32];

#endif /* ONRAMP_FUZZ_H */
