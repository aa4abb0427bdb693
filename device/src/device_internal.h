/*
 * Inside libonramp-device: the device on disk (device_state.c: the
 * factory's files, the journey, the voucher; device_network.c: the network
 * profile, the USIM's sequence numbers, the AKMA-style keys;
 * device_service.c: the service key, certificates and endpoint;
 * device_relocation.c: a relocation's files and their switch;
 * device_renewal.c: a certificate renewal's files and their switch;
 * device_reported.c: the telemetry nonces a relocation answers) and the
 * pure decisions of each step (step_*.c), which unit tests reach without a
 * broker. The running device itself is device_run.h's.
 */
#ifndef ONRAMP_DEVICE_INTERNAL_H
#define ONRAMP_DEVICE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onramp/aka.h"
#include "onramp/akma.h"
#include "onramp/device.h"
#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/policy.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"

#define DEVICE_BROKERS_MAX 8
#define DEVICE_CERT_MAX 2048 /* a hello's `cert` bound (SPEC section 5) */
#define DEVICE_CSR_MAX 2048  /* an enroll request's `csr` bound (SPEC section 5) */
#define DEVICE_CHAIN_MAX 8192 /* an enroll response's `chain` bound */
#define DEVICE_ENDPOINT_MAX 256 /* an enroll response's `endpoint` bound */
#define DEVICE_HOST_MAX 253     /* a DNS name's */
#define DEVICE_PATH_MAX 1024
#define DEVICE_VOUCHER_MAX 2048 /* a voucher token's bound (SPEC section 5) */

/* device_path: `dir`/`name` into `out` (`cap` bytes); ONR_OK or ONR_ESPACE. */
int device_path(char *out, size_t cap, const char *dir, const char *name);

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

/*
 * Which bootstrap broker the device uses (device_choice.c): one of the `n`
 * of device.conf, by index. A run starts at a random one and stays with it
 * while it works, across steps and reconnects; a failure of the broker's
 * own moves it to the next one of the list (wrapping), after the usual
 * backoff; a failure of an answer does not.
 */
enum device_failure {
    DEVICE_FAIL_CONNECT,   /* no TCP or TLS connection, or no CONNACK and SUBACK in time */
    DEVICE_FAIL_REFUSED,   /* CONNACK or SUBACK refused (a proof refused among them) */
    DEVICE_FAIL_LOST,      /* the connection was lost */
    DEVICE_FAIL_NO_ANSWER, /* admitted, but a request got no answer in time: the
                              broker may be cut off from the services */
    DEVICE_FAIL_ANSWER,    /* an answer came: an error, or one that does not check */
};

struct device_choice {
    size_t n;       /* the brokers to choose from (device_files.n_brokers) */
    size_t current; /* the one in use: an index below n (0 when n is 0) */
};

/* device_choice_start: `c` chooses among `n` brokers, starting at
 * `random` % n (`random` from the DRBG; tests pass their own). */
void device_choice_start(struct device_choice *c, size_t n, uint32_t random);

/* device_choice_failed: an attempt on c->current failed `why`: a broker's
 * failure (connect, refused, lost, no answer) moves to the next broker of
 * the list; an answer's stays. 1 if it moved, 0 if not (and with fewer
 * than two brokers, never). */
int device_choice_failed(struct device_choice *c, enum device_failure why);

/* Everything onramp-factory put in the state directory, as read at open. */
struct device_files {
    struct device_trust trust;
    uint8_t seal_key[ONR_X25519_KEY_LEN]; /* sealing.key: opens profiles */
    uint8_t mfr_key[ONR_P256_PUB_LEN]; /* verifies voucher, pending, error */
    struct onr_p256_key *identity;     /* owned */
    uint8_t cert[DEVICE_CERT_MAX];     /* identity certificate, DER */
    size_t cert_len;
    char broker_ca[DEVICE_PATH_MAX + 200];
    struct device_broker brokers[DEVICE_BROKERS_MAX];
    size_t n_brokers;
    char visited_plmn[ONR_PLMN_MAX + 1]; /* device.conf's visited_plmn, or "" */
};

/*
 * device_files_load: device.conf (keys id, manufacturer, manufacturer_key,
 * voucher_key, broker_ca, broker, and the optional visited_plmn) and the
 * keys and certificate it names, from `dir` (borrowed). On failure *what
 * (if not NULL) names the file refused and *key (if not NULL) the key of
 * device.conf refused, or NULL (static strings), and nothing is left to
 * clean up. Returns ONR_OK, ONR_ENOENT, ONR_EFORMAT (device.conf
 * incomplete or damaged, or its visited_plmn not a PLMN), ONR_EPERM (a
 * secret readable by others), ONR_EBADKEY (identity.key is not the key
 * device.conf names), ONR_ECERT, ONR_ENOMEM or ONR_EIO.
 */
int device_files_load(const char *dir, struct device_files *f, const char **what,
                      const char **key);

/* device_files_cleanup: frees the identity key and wipes `f` (the
 * sealing key with it). */
void device_files_cleanup(struct device_files *f);

/*
 * device_check_voucher: the token (SPEC section 6) is a voucher_token
 * envelope signed by `t->voucher_key` as manufacturer `t->mfr` for the
 * topic onr/1/voucher, for device `t->dev` and its sealing key, carrying
 * `nonce` (NULL: do not check; a stored voucher read back, or a
 * relocation's, whose nonce its caller checks) and not expired at `now`
 * (0: do not check). Fills `out` (its plmn and why too, when the token
 * has them). Returns ONR_OK or why not: ONR_EBADSIG, ONR_EDENIED (another
 * device, manufacturer or sealing key), ONR_EREPLAY (another nonce),
 * ONR_EEXPIRED, or a decoding error.
 */
int device_check_voucher(const struct device_trust *t, const uint8_t *token, size_t len,
                         const uint8_t *nonce, uint64_t now, struct onr_device_voucher *out);

/*
 * The journey on disk: "journey" holds the state's name and a newline
 * (nothing secret); each step's data has its own file. All are written
 * atomically (temporary file, fsync, rename, 0600), the step's data first,
 * so a journey file never names a step whose data is missing.
 * onr_device_factory_reset (device_reset.c) removes them again, the journey
 * file first.
 *
 * device_state_load: the state (FACTORY when there is no journey file yet);
 * ONR_EFORMAT for a damaged, truncated or unknown one.
 * device_state_save: ONR_OK, ONR_EINVAL (no such state), ONR_ESPACE or
 * ONR_EIO.
 */
#define DEVICE_JOURNEY_FILE "journey"
#define DEVICE_VOUCHER_FILE "voucher"
int device_state_load(const char *dir, enum onr_device_state *state);
/* device_state_last: the last state of onboarding this library knows
 * (OPERATIONAL: the default target; the relocation's states come after it
 * but are no target). */
enum onr_device_state device_state_last(void);
/* device_state_relocating: `state` is one of a relocation's (RELOCATING,
 * RELOCATION_PROFILED, RELOCATED). */
int device_state_relocating(enum onr_device_state state);
/* device_state_reached: a run to `target` (an onboarding state) is done
 * at `state`: `state` is at or past it, a relocation's states counting as
 * past ENROLLED but before OPERATIONAL (a relocating device is enrolled,
 * and operational again only once the relocation ends). */
int device_state_reached(enum onr_device_state state, enum onr_device_state target);
int device_state_save(const char *dir, enum onr_device_state state);
/* "voucher": the token bytes as the manufacturer signed them. */
int device_voucher_save(const char *dir, const uint8_t *token, size_t len);
/* device_voucher_load: the stored token into `buf` (`cap` bytes);
 * ONR_ENOENT when there is none, ONR_EFORMAT when larger than `cap`. */
int device_voucher_load(const char *dir, uint8_t *buf, size_t cap, size_t *len);

/* The network profile as the device holds it; `sub` (Ki, OPc) is secret. */
struct device_profile {
    char iccid[21];
    char imsi[16];
    char plmn[7];
    char apn[101];
    struct onr_aka_subscriber sub;
};

/* What a successful attach leaves: the key identifier and K_AF, the key
 * with the voucher's provider (secret). */
struct device_akma {
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t k_af[ONR_AKMA_KEY_LEN];
};

/* What the enrollment stored, nothing secret: the service broker and the
 * service certificate's serial and end of validity. */
struct device_service {
    char endpoint[DEVICE_ENDPOINT_MAX + 1]; /* mqtts://HOST:PORT */
    char host[DEVICE_HOST_MAX + 1];
    int port;
    uint8_t serial[20];
    size_t serial_len;
    int64_t not_before;
    int64_t not_after;
};

/* What a relocation (SPEC section 16) got so far from the new operator. */
struct device_next {
    struct onr_device_voucher voucher;   /* from RELOCATING on */
    uint8_t token[DEVICE_VOUCHER_MAX];   /* as signed, for the new operator */
    size_t token_len;
    struct device_profile profile;       /* from RELOCATION_PROFILED on */
};

/* Everything the journey stored, as read back at open. */
struct device_journey {
    enum onr_device_state state;
    struct onr_device_voucher voucher;   /* from VOUCHED on */
    uint8_t token[DEVICE_VOUCHER_MAX];   /* the voucher as signed, for the operator */
    size_t token_len;
    struct device_profile profile;       /* from PROFILED on */
    struct device_akma akma;             /* from NETWORK_ATTACHED on */
    struct onr_p256_key *service_key;    /* owned; from ENROLLED on, or once made */
    struct device_service service;       /* from ENROLLED on */
    struct device_next next;             /* while relocating */
};

/*
 * device_journey_load: the state and every step's data up to it, checked
 * again (the disk is not trusted more than the network): the voucher
 * against `t` (expiry is not checked here), from PROFILED on the profile
 * and the sequence numbers, from NETWORK_ATTACHED on the AKMA-style keys
 * and the service key if one was made, from ENROLLED on the service key,
 * chain, CA and endpoint (device_service_load). A relocating device has
 * all of that, and from RELOCATING on the relocation's voucher, from
 * RELOCATION_PROFILED on its profile and sequence numbers, all in next/;
 * a RELOCATED one has its switch finished first
 * (device_relocation_commit), and is OPERATIONAL. *what names the file
 * read last. Returns ONR_OK, ONR_EFORMAT (a damaged journey file, or a
 * step's file missing, damaged or not verifying), ONR_EPERM (a secret
 * readable by others), ONR_ENOMEM or ONR_EIO. On failure `j` is cleaned
 * up.
 */
int device_journey_load(const char *dir, const struct device_trust *t,
                        struct device_journey *j, const char **what);

/* device_journey_cleanup: frees the service key and wipes `j`. */
void device_journey_cleanup(struct device_journey *j);

/*
 * The network credentials on disk (device_network.c), each written
 * atomically with mode 0600:
 *   "profile"  the PROFILE_CONTENT body (SPEC section 5, type 100) as the
 *              operator sealed it: msgpack, Ki and OPc included
 *   "sqn"      the USIM's sequence numbers: 32 lines, line i the decimal
 *              SEQ (0 .. 2^43 - 1) highest accepted in IND slot i, each
 *              line ending in a newline; no file: all zero (a new USIM)
 *   "akma"     kid (16 bytes) || K_AF (32 bytes), binary
 *
 * device_profile_decode: a PROFILE_CONTENT body (borrowed) checked (the
 * schema's bounds, and the IMSI starting with the PLMN) into `out`.
 * ONR_OK, ONR_ESCHEMA or the body's decoding errors; `out` wiped on
 * failure.
 */
#define DEVICE_PROFILE_FILE "profile"
#define DEVICE_SQN_FILE "sqn"
#define DEVICE_AKMA_FILE "akma"

/*
 * Where a step keeps the network credentials it gets: the state directory
 * itself while onboarding, its subdirectory next/ (DEVICE_NEXT_DIR, mode
 * 0700) while a relocation gets another operator's (the same file names:
 * voucher, profile, sqn, akma), until the relocation's switch moves them
 * up in place of the device's own (device_relocation_commit).
 */
enum device_slot {
    DEVICE_CURRENT = 0,
    DEVICE_NEXT = 1,
};
#define DEVICE_NEXT_DIR "next"
/* device_slot_dir: the directory of `slot` under `dir` into `out` (`cap`
 * bytes): ONR_OK or ONR_ESPACE. */
int device_slot_dir(const char *dir, enum device_slot slot, char *out, size_t cap);
int device_profile_decode(const uint8_t *body, size_t len, struct device_profile *out);
int device_profile_save(const char *dir, const uint8_t *body, size_t len);
/* device_profile_load: ONR_OK, ONR_ENOENT, ONR_EPERM, ONR_EFORMAT (not a
 * profile), ONR_ENOMEM, ONR_EIO. */
int device_profile_load(const char *dir, struct device_profile *out);
/* device_sqn_load: ONR_OK (all zero without a file), ONR_EFORMAT, ONR_ENOMEM,
 * ONR_EIO. device_sqn_save: ONR_OK, ONR_EINVAL (a SEQ out of range),
 * ONR_ESPACE, ONR_EIO. */
int device_sqn_load(const char *dir, struct onr_aka_sqn_store *store);
int device_sqn_save(const char *dir, const struct onr_aka_sqn_store *store);
/* device_akma_load: ONR_OK, ONR_ENOENT, ONR_EPERM, ONR_EFORMAT, ONR_ENOMEM,
 * ONR_EIO. device_akma_save: ONR_OK, ONR_ESPACE, ONR_EIO. */
int device_akma_save(const char *dir, const struct device_akma *akma);
int device_akma_load(const char *dir, struct device_akma *akma);

/*
 * The steps' decisions: decide, then persist, so the network side only has
 * to answer. Each returns ONR_EIO when storing failed (a disk problem: the
 * caller gives up; the journey still names the step before) and leaves
 * the state directory unchanged on any other error.
 *
 * device_take_profile (VOUCHED -> PROFILED, or in a relocation RELOCATING
 * -> RELOCATION_PROFILED): opens `sealed` (`len` bytes, a profile's field;
 * borrowed) with f's sealing key for device f->trust.dev and operator
 * v->op, bound to the profile request's `nonce`; checks the content;
 * stores "profile" in `slot`'s directory of `dir`, then the journey; the
 * profile into `out`. ONR_OK, ONR_EDECRYPT (sealed to another device or
 * key, for another operator or request, or tampered), ONR_ELENGTH,
 * ONR_ESCHEMA or the content's decoding errors, ONR_EINVAL, or ONR_EIO.
 */
int device_take_profile(const struct device_files *f, const struct onr_device_voucher *v,
                        const uint8_t nonce[ONR_NONCE_LEN], const uint8_t *sealed,
                        size_t len, const char *dir, enum device_slot slot,
                        struct device_profile *out);

/*
 * device_take_challenge (the USIM, at PROFILED or RELOCATION_PROFILED):
 * runs onr_aka_usim with `p`'s Ki, OPc and the "sqn" store of `dir` (the
 * directory of the profile's slot):
 *   ONR_OK       authentic and fresh: `res`, `ck`, `ik` and *sqn (the
 *                challenge's SQN) filled and the store saved first (answer
 *                only then)
 *   ONR_EREPLAY  authentic, SQN not fresh: `auts` filled; store unchanged
 *   ONR_EBADMAC  not from our network; nothing filled or changed
 *   ONR_EFORMAT  "sqn" damaged; ONR_EIO the store could not be saved
 *   ONR_EINVAL, ONR_ECRYPTO, ONR_ENOMEM
 * Outputs are wiped on every other result than the one that fills them.
 */
int device_take_challenge(const struct device_profile *p, const char *dir,
                          const uint8_t rand[ONR_AKA_RAND_LEN],
                          const uint8_t autn[ONR_AKA_AUTN_LEN], uint8_t res[ONR_AKA_RES_LEN],
                          uint8_t ck[ONR_AKA_KEY_LEN], uint8_t ik[ONR_AKA_KEY_LEN],
                          uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn);

/*
 * device_take_result (PROFILED -> NETWORK_ATTACHED, or in a relocation
 * RELOCATION_PROFILED -> RELOCATED): from the `ck` and `ik` of the run the
 * operator accepted, derives kid and K_AKMA for `p->imsi`, requires kid
 * to equal the result's `kid` (constant time), derives K_AF for provider
 * `prov`; stores "akma" in `slot`'s directory of `dir`; onboarding, it
 * removes a service key an earlier journey left (a new attach enrolls a
 * new key) and stores the journey NETWORK_ATTACHED; in a relocation, it
 * keeps the service key, makes sure next/ has its "sqn" and stores the
 * journey RELOCATED (the switch's commit: device_relocation_commit does
 * the rest). The keys into `out`. K_AKMA never leaves. ONR_OK, ONR_EAUTH
 * (another kid: not the run we answered), ONR_EINVAL, ONR_ECRYPTO or
 * ONR_EIO.
 */
int device_take_result(const struct device_profile *p, const char *prov,
                       const uint8_t ck[ONR_AKA_KEY_LEN], const uint8_t ik[ONR_AKA_KEY_LEN],
                       const uint8_t kid[ONR_AKMA_KID_LEN], const char *dir,
                       enum device_slot slot, struct device_akma *out);

/*
 * The service credentials on disk (device_service.c):
 *   "service.key"     the service key, PEM "EC PRIVATE KEY", 0600
 *   "service.pem"     the chain the provider sent, leaf first, PEM, 0644
 *   "service-ca.pem"  the service broker's CA, PEM, 0644
 *   "endpoint"        the endpoint as the provider sent it and "\n", 0600
 * each written atomically.
 */
#define DEVICE_SERVICE_KEY_FILE "service.key"
#define DEVICE_SERVICE_CERT_FILE "service.pem"
#define DEVICE_SERVICE_CA_FILE "service-ca.pem"
#define DEVICE_ENDPOINT_FILE "endpoint"

/*
 * device_endpoint_parse: `text` (`len` bytes, borrowed, untrusted) is
 * exactly "mqtts://HOST:PORT": HOST a host name (labels of letters, digits
 * and inner hyphens, 1 to 63 long, at most 253 in all, the last not all
 * digits) or a dotted IPv4 address (four numbers 0 to 255, no leading
 * zeros), PORT a decimal 1 to 65535 without leading zeros; nothing else (no
 * user, path, trailing dot or space). HOST into `host`, PORT into *port.
 * ONR_OK or ONR_EFORMAT.
 */
int device_endpoint_parse(const char *text, size_t len, char host[DEVICE_HOST_MAX + 1],
                          int *port);

/*
 * device_chain_split: `chain` (`len` bytes, borrowed, untrusted) as DER
 * certificates concatenated: each a SEQUENCE with a minimal definite length
 * of at most ONR_X509_MAX_DER bytes in all, nothing left over, at most
 * `max` of them. `certs` point into `chain`; *n their count. ONR_OK or
 * ONR_ECERT (empty, truncated, trailing bytes, too many or too long).
 */
int device_chain_split(const uint8_t *chain, size_t len, struct onr_bytes *certs, size_t max,
                       size_t *n);

/*
 * device_service_check: `certs` (`n`, leaf first; borrowed) are the service
 * chain for device `dev` and the service key's public point `pub`: at
 * least the leaf and its CA, each parsing as a certificate; the leaf no CA,
 * with public key `pub` and subject CN `dev`; with `verify` set, the chain
 * verifying up to its last certificate as the anchor (at the system clock).
 * `ca` parses as a certificate and `endpoint` (`endpoint_len` bytes) with
 * device_endpoint_parse. Fills `out` (wiped on failure). ONR_OK, ONR_ECERT
 * (a certificate malformed), ONR_ECHAIN (no CA in the chain, or it does
 * not verify), ONR_EEXPIRED, ONR_EDENIED (the leaf is for another key or
 * device, or is a CA), ONR_EFORMAT (the endpoint), ONR_EINVAL.
 */
int device_service_check(const struct onr_bytes *certs, size_t n, struct onr_bytes ca,
                         const uint8_t pub[ONR_P256_PUB_LEN], const char *dev,
                         const char *endpoint, size_t endpoint_len, int verify,
                         struct device_service *out);

/*
 * device_service_key_load: the stored service key into *key (caller frees).
 * ONR_OK, ONR_ENOENT (none yet), ONR_EPERM (readable by others),
 * ONR_EFORMAT (damaged, or not a P-256 key), ONR_ENOMEM, ONR_EIO.
 * device_service_key_save: `key` as "service.key", atomically, 0600.
 * ONR_OK, ONR_ESPACE, ONR_EIO.
 * device_service_key_remove: no "service.key" any more. ONR_OK or ONR_EIO.
 */
int device_service_key_load(const char *dir, struct onr_p256_key **key);
int device_service_key_save(const char *dir, const struct onr_p256_key *key);
int device_service_key_remove(const char *dir);

/*
 * device_service_save: the chain (`n` certificates, borrowed), the CA and
 * the endpoint text, each file atomically. ONR_OK, ONR_ESPACE or ONR_EIO.
 */
int device_service_save(const char *dir, const struct onr_bytes *certs, size_t n,
                        struct onr_bytes ca, const char *endpoint, size_t endpoint_len);

/*
 * device_service_load: the stored chain, CA and endpoint, checked by
 * device_service_check without `verify` (a certificate expired since is
 * the service broker's to refuse) for device `dev` and service key `key`
 * (borrowed). *what names the file refused. ONR_OK, ONR_EFORMAT (missing,
 * damaged, or not for this key and device), ONR_ENOMEM, ONR_EIO.
 */
int device_service_load(const char *dir, const char *dev, const struct onr_p256_key *key,
                        struct device_service *out, const char **what);

/*
 * device_enroll_csr (at NETWORK_ATTACHED): a PKCS#10 request, subject CN =
 * `dev`, for the service key *key; when *key is NULL, the key stored in
 * `dir` or, when there is none, a new one stored there first (so every
 * request, retries and restarts alike, names the same key); the caller
 * owns *key then. Into `csr` (DEVICE_CSR_MAX bytes), its length in
 * *csr_len. ONR_OK, ONR_EFORMAT or ONR_EPERM (a stored key damaged or
 * readable by others), ONR_EIO (cannot store a new one), ONR_ENOMEM,
 * ONR_ERANDOM, ONR_ECRYPTO, ONR_ESPACE, ONR_EINVAL.
 */
int device_enroll_csr(const char *dir, const char *dev, struct onr_p256_key **key, uint8_t *csr,
                      size_t *csr_len);

/*
 * device_answer_check: an enroll response `m` (borrowed) for device `dev`
 * and its service key `key` (borrowed), an enrollment's or a renewal's:
 * `chain` split into `certs` (*n of them, pointing into it) and checked
 * with device_service_check, verifying it; what it says into `out`.
 * ONR_OK, ONR_EINVAL (a NULL or a field missing), or the errors of
 * device_chain_split and device_service_check.
 */
int device_answer_check(const char *dev, const struct onr_p256_key *key,
                        const struct onr_msg_enroll_response *m,
                        struct onr_bytes certs[ONR_X509_MAX_CHAIN], size_t *n,
                        struct device_service *out);

/*
 * device_take_enrollment (NETWORK_ATTACHED -> ENROLLED): an enroll response
 * `m` (borrowed, from the voucher's provider, verified) for device `dev`
 * and its service key `key` (borrowed): splits `chain`
 * (device_chain_split), checks it with device_service_check (verifying
 * it), then stores "service.pem", "service-ca.pem", "endpoint", then the
 * journey ENROLLED; what was stored into `out`. ONR_OK, the errors of
 * device_chain_split and device_service_check, ONR_EINVAL, or ONR_EIO.
 */
int device_take_enrollment(const char *dev, const struct onr_p256_key *key,
                           const struct onr_msg_enroll_response *m, const char *dir,
                           struct device_service *out);

/*
 * The telemetry nonces a relocation answers (device_reported.c, SPEC
 * section 16): "reported" in the state directory, one line per telemetry
 * that reported a PLMN, "HEX PLMN\n" (32 lowercase hex digits, 5 or 6
 * digits), the oldest first, at most DEVICE_REPORTED_MAX lines (the oldest
 * leaves first); no file: none. Mode 0600, written atomically before the
 * telemetry is sent.
 */
#define DEVICE_REPORTED_FILE "reported"
#define DEVICE_REPORTED_MAX 8

struct device_reported {
    size_t n;
    struct {
        uint8_t nonce[ONR_NONCE_LEN];
        char plmn[ONR_PLMN_MAX + 1];
    } r[DEVICE_REPORTED_MAX];
};

/* device_reported_load: ONR_OK (none without a file), ONR_EFORMAT,
 * ONR_ENOMEM, ONR_EIO. */
int device_reported_load(const char *dir, struct device_reported *out);
/* device_reported_add: `nonce` with `plmn` (checked) appended to the
 * file, durably, the oldest dropped past DEVICE_REPORTED_MAX. ONR_OK,
 * ONR_EINVAL, ONR_EFORMAT (the file damaged), ONR_EIO. */
int device_reported_add(const char *dir, const uint8_t nonce[ONR_NONCE_LEN], const char *plmn);
/* device_reported_clear: no nonce kept (the file emptied, atomically).
 * ONR_OK or ONR_EIO. */
int device_reported_clear(const char *dir);
/* device_reported_find: the PLMN reported with `nonce` (`len` bytes), or
 * NULL; points into `r`. */
const char *device_reported_find(const struct device_reported *r, struct onr_bytes nonce);

/*
 * A relocation's files (device_relocation.c, SPEC section 16).
 *
 * device_relocation_start: next/ made afresh (what an abandoned relocation
 * left there removed), then the token (`len` bytes, borrowed, checked by
 * the caller) stored as next/voucher, every telemetry nonce forgotten
 * (device_reported_clear), and the journey RELOCATING, each durable before
 * the next. ONR_OK, ONR_ESPACE or ONR_EIO.
 *
 * device_relocation_commit (at RELOCATED): the relocation's voucher,
 * profile, sequence numbers and keys renamed over the device's own, one
 * by one, each rename durable (both directories synced); a file already
 * moved (a switch cut short and resumed) is skipped; then the journey
 * OPERATIONAL, then next/ removed. ONR_OK, ONR_EINVAL (not RELOCATED),
 * ONR_EFORMAT (a damaged journey), ONR_EIO.
 *
 * device_relocation_abandon (at RELOCATING or RELOCATION_PROFILED): the
 * journey OPERATIONAL first (the device's own files were never touched),
 * then next/ removed. ONR_OK, ONR_EINVAL (not relocating, or RELOCATED:
 * too late), ONR_EFORMAT (a damaged journey), ONR_EIO.
 *
 * device_relocation_remove: next/ and whatever is in it removed, durably;
 * no next/ is fine. ONR_OK or ONR_EIO.
 */
int device_relocation_start(const char *dir, const uint8_t *token, size_t len);
/* device_remove_each (device_reset.c): every entry of the open directory
 * `dir` that `match` accepts (NULL: all), unlinked, each removal durable
 * (the directory synced). ONR_OK or ONR_EIO (the others still tried). */
int device_remove_each(int dir, bool (*match)(const char *name));
/* device_subdir_remove (device_reset.c): `dir`/`sub` and whatever is in it
 * removed, durably; none is fine. ONR_OK or ONR_EIO. */
int device_subdir_remove(const char *dir, const char *sub);
/* device_move_up (device_reset.c): `name` renamed from the open directory
 * `from` into the open directory `to`, both synced; one already moved (not
 * in `from`) is fine. ONR_OK or ONR_EIO. */
int device_move_up(int from, int to, const char *name);
int device_relocation_commit(const char *dir);
int device_relocation_abandon(const char *dir);
int device_relocation_remove(const char *dir);

/*
 * device_take_relocate (OPERATIONAL -> RELOCATING, SPEC section 16): a
 * relocate envelope (`raw`, `len` bytes, borrowed, untrusted) as it
 * arrived on `topic` (NUL-terminated) at `now`, for the device of `f`
 * whose journey `j` is OPERATIONAL: decoded; from j's voucher's provider
 * (role and id), signed with its key for `topic`, fresh and new in
 * `replay`; carrying a token that device_check_voucher accepts at `now`,
 * for j's provider with the same key, answering a telemetry nonce of
 * `dir`'s "reported" with the PLMN reported with it, naming another
 * operator than j's. Then device_relocation_start; the relocation's
 * voucher and token into `next`. Returns ONR_OK; a decoding error;
 * ONR_EMSGTYPE (not a relocate); ONR_EDENIED (not from the provider;
 * another device, manufacturer, sealing key or provider; another PLMN
 * than reported with its nonce); ONR_EBADSIG (the envelope or the token);
 * ONR_ESTALE, ONR_EREPLAY, ONR_EREPLAYFULL; ONR_EEXPIRED; ONR_ENOENT (a
 * nonce the device did not report, or no longer keeps); ONR_EEXIST (the
 * device's own operator: nothing to do); ONR_EINVAL (not OPERATIONAL);
 * ONR_EFORMAT ("reported" damaged) or ONR_EIO. Nothing changes on disk
 * unless ONR_OK.
 */
struct onr_replay;
int device_take_relocate(const struct device_files *f, const struct device_journey *j,
                         const char *dir, const char *topic, const uint8_t *raw, size_t len,
                         uint64_t now, struct onr_replay *replay, struct device_next *next);

/*
 * A certificate renewal's files (device_renewal.c, SPEC section 17), kept
 * in renew/ (DEVICE_RENEW_DIR, mode 0700) apart from the service
 * credentials in force until the switch:
 *   renew/service.key      the new service key, stored before the first
 *                          renew request names it (every request of the
 *                          renewal, after a restart too, names it)
 *   renew/service.pem, renew/service-ca.pem, renew/endpoint
 *                          the provider's answer, checked, then
 *   renew/ready            "HEX\n", the serial of the certificate it
 *                          replaces: the switch is due
 * The switch renames the chain, CA, endpoint and then the key over those
 * in force (one already moved is skipped: a switch cut short is finished
 * at open), writes "renewed" (the same "HEX\n": the provider has not
 * confirmed yet), then removes renew/. "renewed" goes once the provider
 * answered the device's renewed with revoked.
 *
 * device_renew_at: when the device renews the certificate `s` of device
 * `dev` (seconds since the epoch): its notAfter less `renew_before` (0: a
 * third of its lifetime) less a jitter of up to a quarter of that, from
 * SHA-256("onramp/1 renew" 0 dev serial) (SPEC section 17); 0 for a
 * certificate whose lifetime it cannot tell.
 */
#define DEVICE_RENEW_DIR "renew"
#define DEVICE_RENEW_READY_FILE "ready"
#define DEVICE_RENEWED_FILE "renewed"
int64_t device_renew_at(const char *dev, const struct device_service *s, int64_t renew_before);

/* device_renewal_key: renew/service.key into *key (caller frees): loaded,
 * or made and stored first (renew/ made for it). ONR_OK, ONR_EFORMAT or
 * ONR_EPERM (a stored key damaged or readable by others), ONR_ENOMEM,
 * ONR_ERANDOM, ONR_EIO. */
int device_renewal_key(const char *dir, struct onr_p256_key **key);

/*
 * device_take_renewal: an enroll response `m` (borrowed, verified as from
 * the device's provider) answering a renew request of device `dev` for
 * its new key `key` (borrowed), replacing the certificate `old`: checked
 * as an enrollment's (device_chain_split, device_service_check with
 * `verify`), stored in renew/, then renew/ready, then the switch
 * (device_renewal_commit); what is in force now into `out`. ONR_OK, the
 * errors of the checks, ONR_EINVAL, or ONR_EIO (a disk problem: what was
 * in force stays, or the switch is finished at the next open).
 */
int device_take_renewal(const char *dev, const struct onr_p256_key *key,
                        const struct onr_msg_enroll_response *m, const char *dir,
                        const struct device_service *old, struct device_service *out);

/* device_renewal_commit: with renew/ready, the switch (above); without,
 * nothing. ONR_OK or ONR_EIO. */
int device_renewal_commit(const char *dir);

/* device_renewed_pending: "renewed" is there, its serial into `serial`
 * (20 bytes) and *len: 1; not there: 0; damaged: ONR_EFORMAT; ONR_EIO.
 * device_renewed_clear: "renewed" removed, durably. ONR_OK or ONR_EIO. */
int device_renewed_pending(const char *dir, uint8_t serial[20], size_t *len);
int device_renewed_clear(const char *dir);

/*
 * device_enrollment_restart: what an enrollment and renewals left
 * (renew/, renewed, endpoint, service-ca.pem, service.pem, service.key)
 * removed, in that order, durably: the next enrollment makes a new key.
 * device_service_expire: a certificate past its notAfter (SPEC section
 * 17, "Expired"): the journey NETWORK_ATTACHED first, then
 * device_enrollment_restart; a device cut off in between finishes it at
 * open (a NETWORK_ATTACHED device with a service.pem restarts its
 * enrollment). ONR_OK or ONR_EIO.
 */
int device_enrollment_restart(const char *dir);
int device_service_expire(const char *dir);

#endif /* ONRAMP_DEVICE_INTERNAL_H */
