/*
 * The device library's test fixture (test_device_state, test_device_network,
 * test_device_service): a manufacturer's voucher key and a device it
 * vouches for, a state directory minted from them as onramp-factory would
 * (and taken on to NETWORK_ATTACHED or ENROLLED), snapshots of a directory to prove a
 * refusal changed nothing, and a recorder of what onr_device_open's
 * callbacks say. Like testutil.h's, every helper fails the running cmocka
 * test on error rather than returning one.
 */
#ifndef ONRAMP_DEVICE_FIXTURE_H
#define ONRAMP_DEVICE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "device_internal.h"
#include "onramp/msg.h"
#include "onramp/x509.h"

/* device.conf's broker lines as mint writes them. */
#define FIXTURE_BROKERS "broker bs-1 127.0.0.1 1\nbroker bs-2 localhost 2\n"

/* A manufacturer's voucher key and a device it vouches for. */
struct fixture {
    struct onr_p256_key *voucher_key; /* owned: fixture_cleanup frees it */
    struct device_trust trust;        /* manufacturer "acme" */
    uint8_t nonce[ONR_NONCE_LEN];     /* the hello a voucher answers */
    uint8_t prov_key[ONR_P256_PUB_LEN];
    uint8_t op_key[ONR_P256_PUB_LEN]; /* the same key as prov_key */
    struct onr_p256_key *peer_key;    /* owned: prov_key's (and op_key's) private half */
    const char *prov;                 /* a voucher's provider: "prov-1" unless minted otherwise */
    const char *op;                   /* a voucher's operator: "op-1" unless minted otherwise */
};

/* fixture_init: new keys, a random nonce, and a device id that names no
 * key (mint replaces it with the minted identity's). */
void fixture_init(struct fixture *f);

/* fixture_cleanup: frees the voucher and peer keys (NULL is fine) and
 * wipes `f`. */
void fixture_cleanup(struct fixture *f);

/*
 * token: a voucher token as onramp-manufacturer makes it for f->prov and
 * f->op, signed by `key` (borrowed) as manufacturer `mfr` for device `dev`,
 * answering f->nonce and expiring at `expires`; written to `out` (`cap`
 * bytes). Returns its length.
 */
size_t token(const struct fixture *f, const struct onr_p256_key *key, const char *mfr,
             const char *dev, uint64_t expires, uint8_t *out, size_t cap);

/* What a voucher token names, for token_with: NULL strings and nonce are
 * f's (op and prov), plmn and why NULL are left out. */
struct token_spec {
    const struct onr_p256_key *key; /* signs it; NULL: f->voucher_key */
    const char *mfr;                /* NULL: "acme" */
    const char *dev;                /* NULL: f->trust.dev */
    const char *prov;
    const uint8_t *prov_key;
    const char *op;
    const uint8_t *nonce;
    const char *plmn;
    const char *why;
    uint64_t expires;               /* 0: in an hour */
};
/* token_with: a voucher token as `s` says, into `out`; its length. */
size_t token_with(const struct fixture *f, const struct token_spec *s, uint8_t *out, size_t cap);

/* write_text: `dir`/`name` holds `text` with `mode`, written atomically. */
void write_text(const char *dir, const char *name, const char *text, mode_t mode);

/* write_conf: `dir`/device.conf for device `dev` from manufacturer "acme",
 * naming mint's key and CA files, then the `brokers` lines as given. */
void write_conf(const char *dir, const char *dev, const char *brokers);

/*
 * mint: `dir` (an empty directory) as onramp-factory mints it from `f`,
 * which is initialised first: identity.key and a self-signed identity.pem
 * whose id becomes f->trust.dev, sealing.key (f->trust.seal_pub),
 * manufacturer.pub (a key of its own), voucher.pub (f->voucher_key),
 * broker-ca.pem and device.conf with FIXTURE_BROKERS. With `prov` and `op`
 * (borrowed; both NULL: none) the device is also vouched: f->prov and f->op
 * become them and store_voucher stores a voucher for them from
 * f->voucher_key, the journey VOUCHED.
 */
void mint(const char *dir, struct fixture *f, const char *prov, const char *op);

/* store_voucher: as the voucher step stores one: a token for `dev`, signed
 * by `key` (borrowed) as "acme", valid for an hour; the journey VOUCHED. */
void store_voucher(const char *dir, const struct fixture *f, const struct onr_p256_key *key,
                   const char *dev);

/*
 * attach: mint `dir` vouched for "prov-1" and "op-1", then store what the
 * network steps store: a profile (random Ki and OPc, IMSI 001010000000001),
 * random AKMA-style keys (into *akma if not NULL), the journey
 * NETWORK_ATTACHED.
 */
void attach(const char *dir, struct fixture *f, struct device_akma *akma);

/*
 * enrolled: attach `dir`, then store what the enrollment stores: a service
 * key (device_enroll_csr), a chain for it and the device from a provider
 * CA made here (leaf, CA), a broker CA, the endpoint FIXTURE_ENDPOINT, the
 * journey ENROLLED, all through device_take_enrollment.
 */
#define FIXTURE_ENDPOINT "mqtts://svc.example:8883"
void enrolled(const char *dir, struct fixture *f);

/* A provider's CA and its service broker's CA (fixture_provider_init makes
 * them; cleanup frees the keys). */
struct fixture_provider {
    struct onr_p256_key *ca_key;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len;
    struct onr_p256_key *broker_key;
    uint8_t broker_ca[ONR_X509_MAX_DER];
    size_t broker_ca_len;
};
void fixture_provider_init(struct fixture_provider *p);
void fixture_provider_cleanup(struct fixture_provider *p);
/* fixture_answer: the enroll response provider `p` gives device `dev` for
 * the key `pub`: a leaf valid for `seconds` (0: 30 days) then p's CA, into
 * `chain`, which the answer borrows; its `re` all zero. */
struct onr_msg_enroll_response fixture_answer(const struct fixture_provider *p, const char *dev,
                                              const uint8_t pub[ONR_P256_PUB_LEN],
                                              uint32_t seconds, uint8_t chain[DEVICE_CHAIN_MAX]);
/* enrolled_by: enrolled, by provider `p`, the leaf valid `seconds` (0: 30
 * days). */
void enrolled_by(const char *dir, struct fixture *f, const struct fixture_provider *p,
                 uint32_t seconds);

/* snapshot: every file of `dir` (name, mode, bytes) in name order, and of
 * its subdirectories (next/) after their name and mode, as one heap buffer
 * (free it) of *len bytes, to compare; assert_same_snapshot: `dir` is as
 * `before` recorded. mode_of: the permission bits of a file. */
char *snapshot(const char *dir, size_t *len);
void assert_same_snapshot(const char *dir, const char *before, size_t before_len);
mode_t mode_of(const char *dir, const char *name);

/* What onr_device_open's callbacks were told: the last progress event and
 * its detail, the "state" events counted, done's calls and last result. */
struct heard {
    char event[32];
    char detail[512];
    char events[1024]; /* every event's name, each followed by a space */
    unsigned states;
    int done;
    int result;
};

/*
 * open_device_until: onr_device_open's result for `dir`, to run until
 * `target` (FACTORY, 0: the last state); `h` is cleared, then records what
 * the device says while *dev (NULL on failure) is open, so it must outlive
 * it. open_device: the same with target 0.
 */
int open_device_until(const char *dir, enum onr_device_state target, struct heard *h,
                      struct onr_device **dev);
/* open_device_with: the same with options `opt` (borrowed). */
int open_device_with(const char *dir, const struct onr_device_options *opt, struct heard *h,
                     struct onr_device **dev);
int open_device(const char *dir, struct heard *h, struct onr_device **dev);

/* assert_open_refused: opening `dir` fails with `rc`, leaves no device,
 * and its error event names `file` with that code. */
void assert_open_refused(const char *dir, int rc, const char *file);

#endif /* ONRAMP_DEVICE_FIXTURE_H */
