/*
 * The provider's service certificates and the enrollments waiting for a
 * device's application key. Every function runs inside the caller's
 * transaction.
 *
 * A device has at most one current certificate: issuing one for a new key
 * revokes the previous one (its revocation then waits to be confirmed by
 * the broker, like an operator's grant).
 */
#ifndef ONRAMP_PROV_CERTS_H
#define ONRAMP_PROV_CERTS_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/hash.h"
#include "onramp/msg.h"
#include "onramp/svc_db.h"
#include "onramp/x509.h"

extern const char prov_certs_schema[];

struct prov_cert {
    char dev[ONR_DEVID_LEN + 1];
    uint8_t key_hash[ONR_SHA256_LEN]; /* SHA-256 of the certified public key */
    uint8_t serial[20];
    size_t serial_len;
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len;
};

/* prov_cert_current: the device's certificate in force; ONR_ENOENT. */
int prov_cert_current(struct onr_db *db, const char *dev, struct prov_cert *out);
/* prov_cert_put: a new current certificate; the previous one of the device
 * (if any) is marked revoked, its revocation unconfirmed. */
int prov_cert_put(struct onr_db *db, const struct prov_cert *c, uint64_t now);

/* A revocation the broker has not confirmed yet. */
struct prov_revocation {
    char dev[ONR_DEVID_LEN + 1];
    uint8_t serial[20];
    size_t serial_len;
};
/* prov_cert_revoke_current: the device's certificate in force is revoked
 * (a release); `out` names it. ONR_ENOENT when it has none. */
int prov_cert_revoke_current(struct onr_db *db, const char *dev, uint64_t now,
                             struct prov_revocation *out);
/* prov_revocations_due: up to `max` unconfirmed revocations last sent
 * before `before`. */
int prov_revocations_due(struct onr_db *db, uint64_t before, struct prov_revocation *out,
                         size_t max, size_t *n);
/* prov_revocation_sent: the cert_revoke envelope `id` went out for it. */
int prov_revocation_sent(struct onr_db *db, const uint8_t *serial, size_t serial_len,
                         const uint8_t id[ONR_MSG_ID_LEN], uint64_t now);
/* prov_revocation_confirmed: the broker answered `id` with success;
 * ONR_ENOENT if no revocation went out as `id`. */
int prov_revocation_confirmed(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN]);

/* An enrollment request kept until the device's application key arrives:
 * the envelope as received and the topic it came on (one per device, the
 * latest). */
int prov_waiting_put(struct onr_db *db, const char *dev, const uint8_t kid[16],
                     struct onr_bytes envelope, const char *topic, uint64_t now);
/* prov_waiting_take: the request waiting for `kid` of `dev` (copied into
 * `envelope`, *len bytes of cap, and `topic`), removed; ONR_ENOENT. */
int prov_waiting_take(struct onr_db *db, const char *dev, const uint8_t kid[16],
                      uint8_t *envelope, size_t cap, size_t *len, char *topic,
                      size_t topic_cap);

#endif /* ONRAMP_PROV_CERTS_H */
