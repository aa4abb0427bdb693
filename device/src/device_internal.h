/*
 * Inside libonramp-device: what device.c (the network side of the journey)
 * and device_state.c (the device on disk, the voucher check) share, and
 * what unit tests reach without a broker.
 */
#ifndef ONRAMP_DEVICE_INTERNAL_H
#define ONRAMP_DEVICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/device.h"
#include "onramp/devid.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"

#define DEVICE_BROKERS_MAX 8
#define DEVICE_CERT_MAX 2048 /* a hello's `cert` bound (SPEC section 5) */
#define DEVICE_PATH_MAX 1024

/* What a device must know to check a voucher token meant for it. */
struct device_trust {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    uint8_t voucher_key[ONR_P256_PUB_LEN];
    uint8_t seal_pub[ONR_X25519_KEY_LEN];
};

/* One `broker NAME HOST PORT` line of device.conf. */
struct device_broker {
    char name[ONR_SERVICE_ID_MAX + 1]; /* the name its proofs are bound to */
    char host[256];
    int port;
};

/* Everything onramp-factory put in the state directory, as read at open. */
struct device_files {
    struct device_trust trust;
    uint8_t mfr_key[ONR_P256_PUB_LEN]; /* verifies voucher, pending, error */
    struct onr_p256_key *identity;     /* owned */
    uint8_t cert[DEVICE_CERT_MAX];     /* identity certificate, DER */
    size_t cert_len;
    char broker_ca[DEVICE_PATH_MAX + 200];
    struct device_broker brokers[DEVICE_BROKERS_MAX];
    size_t n_brokers;
};

/*
 * device_files_load: device.conf (keys id, manufacturer, manufacturer_key,
 * voucher_key, broker_ca, broker) and the keys and certificate it names,
 * from `dir` (borrowed). On failure *what (if not NULL) names the file
 * refused (a static string) and nothing is left to clean up. Returns
 * ONR_OK, ONR_ENOENT, ONR_EFORMAT (device.conf incomplete or damaged),
 * ONR_EPERM (a secret readable by others), ONR_EBADKEY (identity.key is
 * not the key device.conf names), ONR_ECERT, ONR_ENOMEM or ONR_EIO.
 */
int device_files_load(const char *dir, struct device_files *f, const char **what);

/* device_files_cleanup: frees the identity key and wipes `f`. */
void device_files_cleanup(struct device_files *f);

/*
 * device_check_voucher: the token (SPEC section 6) is a voucher_token
 * envelope signed by `t->voucher_key` as manufacturer `t->mfr` for the
 * topic onr/1/voucher, for device `t->dev` and its sealing key, carrying
 * `nonce` (NULL: do not check; a stored voucher read back) and not expired
 * at `now` (0: do not check). Fills `out`. Returns ONR_OK or why not:
 * ONR_EBADSIG, ONR_EDENIED (another device, manufacturer or sealing key),
 * ONR_EREPLAY (another nonce), ONR_EEXPIRED, or a decoding error.
 */
int device_check_voucher(const struct device_trust *t, const uint8_t *token, size_t len,
                         const uint8_t *nonce, uint64_t now, struct onr_device_voucher *out);

/*
 * The journey on disk: "journey" holds the state's name and a newline
 * (nothing secret); "voucher" the token bytes. Both are written atomically
 * (temporary file, fsync, rename, 0600), the voucher first, so a journey
 * file never names a step whose data is missing.
 *
 * device_state_load: the state (FACTORY when there is no journey file yet);
 * ONR_EFORMAT for a damaged, truncated or unknown one.
 * device_state_save: ONR_OK, ONR_ESPACE or ONR_EIO.
 */
int device_state_load(const char *dir, enum onr_device_state *state);
/* device_state_last: the last state this library knows (the default target). */
enum onr_device_state device_state_last(void);
int device_state_save(const char *dir, enum onr_device_state state);
int device_voucher_save(const char *dir, const uint8_t *token, size_t len);
/* device_voucher_load: the stored token into `buf` (`cap` bytes);
 * ONR_ENOENT when there is none, ONR_EFORMAT when larger than `cap`. */
int device_voucher_load(const char *dir, uint8_t *buf, size_t cap, size_t *len);

/*
 * device_journey_load: the state and, from VOUCHED on, the stored voucher,
 * checked again against `t` (the disk is not trusted more than the
 * network; expiry is not checked here). *what names the file read last.
 * Returns ONR_OK, ONR_EFORMAT (a damaged journey file, or a voucher
 * missing or not verifying), ONR_ENOMEM or ONR_EIO.
 */
int device_journey_load(const char *dir, const struct device_trust *t,
                        enum onr_device_state *state, struct onr_device_voucher *voucher,
                        const char **what);

#endif /* ONRAMP_DEVICE_INTERNAL_H */
