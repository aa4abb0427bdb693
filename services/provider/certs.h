/*
 * The provider's service certificates and the enrollments waiting for a
 * device's application key. Every function runs inside the caller's
 * transaction.
 *
 * A device has one certificate in force, or two while a renewal is
 * unconfirmed (SPEC section 17): the one it renews and the renewal, which
 * names it (`renews`) and is the device's current one. Enrolling a new
 * key revokes every certificate in force; a confirmed renewal, every one
 * but itself (enroll.c and renew.c tell the brokers, confirmed messages).
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
    int64_t not_after;   /* the certificate's notAfter, seconds since the epoch */
    uint8_t renews[20];  /* the certificate this one renews (SPEC section 17) */
    size_t renews_len;   /* 0: an enrollment's */
    int revoked;         /* prov_cert_get only: revoked already */
};

/* prov_cert_current: the device's current certificate: the newest in force
 * (a renewal not yet confirmed rather than the one it renews); ONR_ENOENT
 * when none is in force. */
int prov_cert_current(struct onr_db *db, const char *dev, struct prov_cert *out);
/* prov_cert_expires: the notAfter of the device's current certificate
 * (status's cert_expires), 0 when none is in force. */
int prov_cert_expires(struct onr_db *db, const char *dev, uint64_t *not_after);
/* prov_cert_get: the certificate `serial` (`len` bytes) issued to `dev`,
 * in force or revoked (out->revoked); ONR_ENOENT. */
int prov_cert_get(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                  struct prov_cert *out);
/* prov_cert_for_key: the certificate in force of `dev` for the key whose
 * SHA-256 is `key_hash`; ONR_ENOENT. */
int prov_cert_for_key(struct onr_db *db, const char *dev, const uint8_t key_hash[ONR_SHA256_LEN],
                      struct prov_cert *out);
/* prov_cert_other_in_force: one certificate in force of `dev` other than
 * `keep` (`keep_len` bytes; NULL: any); ONR_ENOENT. */
int prov_cert_other_in_force(struct onr_db *db, const char *dev, const uint8_t *keep,
                             size_t keep_len, struct prov_cert *out);
/* prov_cert_renewal_of: the newest certificate in force of `dev` that
 * renews `serial` (`len` bytes); ONR_ENOENT. */
int prov_cert_renewal_of(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                         struct prov_cert *out);
/* prov_cert_put: a new certificate in force (`c` whole: its not_after and
 * what it renews). Revoke first what it replaces (prov_cert_revoke). */
int prov_cert_put(struct onr_db *db, const struct prov_cert *c, uint64_t now);
/* prov_cert_revoke: the certificate `serial` of `dev` is revoked as of
 * `now`; ONR_ENOENT when it was not in force. */
int prov_cert_revoke(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                     uint64_t now);
/* prov_certs_expiring: how many current certificates (renewals not yet
 * confirmed counted instead of what they renew) expire between `now` and
 * `until`. */
int prov_certs_expiring(struct onr_db *db, uint64_t now, uint64_t until, uint64_t *count);
/* prov_cert_not_after_fill: schema step: each certificate's not_after
 * from its DER (certificates issued before the column). */
int prov_cert_not_after_fill(struct onr_db *db, void *ctx);

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
