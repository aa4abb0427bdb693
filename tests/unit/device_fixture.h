/*
 * The device library's test fixture (test_device_state, test_device_network):
 * a manufacturer's voucher key and a device it vouches for, a state
 * directory minted from them as onramp-factory would, and a recorder of what
 * onr_device_open's callbacks say. Like testutil.h's, every helper fails the
 * running cmocka test on error rather than returning one.
 */
#ifndef ONRAMP_DEVICE_FIXTURE_H
#define ONRAMP_DEVICE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "device_internal.h"
#include "onramp/msg.h"

/* device.conf's broker lines as mint writes them. */
#define FIXTURE_BROKERS "broker bs-1 127.0.0.1 1\nbroker bs-2 localhost 2\n"

/* A manufacturer's voucher key and a device it vouches for. */
struct fixture {
    struct onr_p256_key *voucher_key; /* owned: fixture_cleanup frees it */
    struct device_trust trust;        /* manufacturer "acme" */
    uint8_t nonce[ONR_NONCE_LEN];     /* the hello a voucher answers */
    uint8_t prov_key[ONR_P256_PUB_LEN];
    uint8_t op_key[ONR_P256_PUB_LEN]; /* the same key as prov_key */
    const char *prov;                 /* a voucher's provider: "prov-1" unless minted otherwise */
    const char *op;                   /* a voucher's operator: "op-1" unless minted otherwise */
};

/* fixture_init: new keys, a random nonce, and a device id that names no
 * key (mint replaces it with the minted identity's). */
void fixture_init(struct fixture *f);

/* fixture_cleanup: frees the voucher key (NULL is fine) and wipes `f`. */
void fixture_cleanup(struct fixture *f);

/*
 * token: a voucher token as onramp-manufacturer makes it for f->prov and
 * f->op, signed by `key` (borrowed) as manufacturer `mfr` for device `dev`,
 * answering f->nonce and expiring at `expires`; written to `out` (`cap`
 * bytes). Returns its length.
 */
size_t token(const struct fixture *f, const struct onr_p256_key *key, const char *mfr,
             const char *dev, uint64_t expires, uint8_t *out, size_t cap);

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

/* What onr_device_open's callbacks were told: the last progress event and
 * its detail, the "state" events counted, done's calls and last result. */
struct heard {
    char event[32];
    char detail[512];
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
int open_device(const char *dir, struct heard *h, struct onr_device **dev);

/* assert_open_refused: opening `dir` fails with `rc`, leaves no device,
 * and its error event names `file` with that code. */
void assert_open_refused(const char *dir, int rc, const char *file);

#endif /* ONRAMP_DEVICE_FIXTURE_H */
