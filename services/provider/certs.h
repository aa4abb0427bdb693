/*
 * The provider's service certificates and the enrollments waiting for a
 * device's application key. Every function runs inside the caller's
 * transaction.
 *
 * A device has at most one current certificate: issuing one for a new key
 * revokes the previous one (enroll.c tells the broker, a confirmed
 * message).
 */
#ifndef ONRAMP_PROV_CERTS_H
#define ONRAMP_PROV_CERTS_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/hash.h"
#include "onramp/msg.h"
#include "onramp/svc_db.h"
#include "onramp/x509.h"

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

/* prov_cert_revoke_current: the device's certificate in force is revoked
 * (a release, a control tool's revocation); `out` names it. ONR_ENOENT
 * when it has none. */
int prov_cert_revoke_current(struct onr_db *db, const char *dev, uint64_t now,
                             struct prov_cert *out);

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
