/* The provider's certificates and waiting enrollments (see certs.h). */
#include "certs.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

int prov_cert_current(struct onr_db *db, const char *dev, struct prov_cert *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    return onr_db_get(db, "SELECT key_hash, serial, der FROM certificates"
                          " WHERE dev = ?1 AND revoked_at IS NULL",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_EXACT(out->key_hash),
                                  ONR_DB_OUT_BLOB(out->serial, sizeof(out->serial),
                                                  &out->serial_len),
                                  ONR_DB_OUT_BLOB(out->der, sizeof(out->der), &out->der_len)));
}

/* The device's certificate in force (if any) is revoked as of `now`. */
static int revoke_current(struct onr_db *db, const char *dev, uint64_t now)
{
    return onr_db_run(db, "UPDATE certificates SET revoked_at = ?2"
                          " WHERE dev = ?1 AND revoked_at IS NULL",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now)));
}

int prov_cert_put(struct onr_db *db, const struct prov_cert *c, uint64_t now)
{
    int rc = revoke_current(db, c->dev, now);

    if (rc != ONR_OK)
        return rc;
    return onr_db_run(db, "INSERT INTO certificates (serial, dev, key_hash, der, issued_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)",
                      ONR_DB_ARGS(ONR_DB_BLOB(c->serial, c->serial_len), ONR_DB_STR(c->dev),
                                  ONR_DB_ARRAY(c->key_hash), ONR_DB_BLOB(c->der, c->der_len),
                                  ONR_DB_INT(now)));
}

int prov_cert_revoke_current(struct onr_db *db, const char *dev, uint64_t now,
                             struct prov_cert *out)
{
    int rc = prov_cert_current(db, dev, out);

    return rc == ONR_OK ? revoke_current(db, dev, now) : rc;
}

int prov_waiting_put(struct onr_db *db, const char *dev, const uint8_t kid[16],
                     struct onr_bytes envelope, const char *topic, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO waiting_enrollments (dev, kid, envelope, topic,"
                          " received_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dev) DO UPDATE"
                          " SET kid = excluded.kid, envelope = excluded.envelope,"
                          " topic = excluded.topic, received_at = excluded.received_at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(kid, 16), ONR_DB_BYTES(envelope),
                                  ONR_DB_STR(topic), ONR_DB_INT(now)));
}

int prov_waiting_take(struct onr_db *db, const char *dev, const uint8_t kid[16],
                      uint8_t *envelope, size_t cap, size_t *len, char *topic,
                      size_t topic_cap)
{
    int rc = onr_db_get(db, "SELECT envelope, topic FROM waiting_enrollments"
                            " WHERE dev = ?1 AND kid = ?2",
                        ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(kid, 16)),
                        ONR_DB_COLS(ONR_DB_OUT_BLOB(envelope, cap, len),
                                    ONR_DB_OUT_TEXTN(topic, topic_cap)));

    if (rc != ONR_OK)
        return rc;
    return onr_db_run(db, "DELETE FROM waiting_enrollments WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)));
}
