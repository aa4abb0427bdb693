/* The provider's certificates and waiting enrollments (see certs.h). */
#include "certs.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

/* The columns every certificate is read with, in cert_cols' order. */
#define CERT_COLUMNS "key_hash, serial, der, not_after, renews, revoked_at IS NOT NULL"

/* A row that names no certificate this way (an empty key, a renewal
 * without a serial) reads as ONR_EIO. */
static int cert_read(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                     size_t n_args, const char *dev, struct prov_cert *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    return onr_db_get(db, sql, args, n_args,
                      ONR_DB_COLS(ONR_DB_OUT_EXACT(out->key_hash),
                                  ONR_DB_OUT_BLOB(out->serial, sizeof(out->serial),
                                                  &out->serial_len),
                                  ONR_DB_OUT_BLOB(out->der, sizeof(out->der), &out->der_len),
                                  ONR_DB_OUT_I64(&out->not_after),
                                  ONR_DB_OUT_ANY(out->renews, sizeof(out->renews),
                                                 &out->renews_len),
                                  ONR_DB_OUT_INT(&out->revoked)));
}

int prov_cert_current(struct onr_db *db, const char *dev, struct prov_cert *out)
{
    /* in force and not renewed by another in force; the newest of those */
    return cert_read(db, "SELECT " CERT_COLUMNS " FROM certificates c"
                         " WHERE dev = ?1 AND revoked_at IS NULL AND NOT EXISTS"
                         " (SELECT 1 FROM certificates n WHERE n.dev = ?1"
                         " AND n.renews = c.serial AND n.revoked_at IS NULL)"
                         " ORDER BY issued_at DESC, not_after DESC LIMIT 1",
                     ONR_DB_ARGS(ONR_DB_STR(dev)), dev, out);
}

int prov_cert_expires(struct onr_db *db, const char *dev, uint64_t *not_after)
{
    static struct prov_cert c;
    int rc = prov_cert_current(db, dev, &c);

    *not_after = rc == ONR_OK && c.not_after > 0 ? (uint64_t)c.not_after : 0;
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int prov_cert_get(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                  struct prov_cert *out)
{
    return cert_read(db, "SELECT " CERT_COLUMNS " FROM certificates"
                         " WHERE dev = ?1 AND serial = ?2",
                     ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(serial, len)), dev, out);
}

int prov_cert_for_key(struct onr_db *db, const char *dev, const uint8_t key_hash[ONR_SHA256_LEN],
                      struct prov_cert *out)
{
    return cert_read(db, "SELECT " CERT_COLUMNS " FROM certificates"
                         " WHERE dev = ?1 AND key_hash = ?2 AND revoked_at IS NULL"
                         " ORDER BY issued_at DESC LIMIT 1",
                     ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(key_hash, ONR_SHA256_LEN)), dev,
                     out);
}

int prov_cert_other_in_force(struct onr_db *db, const char *dev, const uint8_t *keep,
                             size_t keep_len, struct prov_cert *out)
{
    static const uint8_t none[1];

    /* no serial is empty: an empty `keep` keeps nothing */
    return cert_read(db, "SELECT " CERT_COLUMNS " FROM certificates"
                         " WHERE dev = ?1 AND revoked_at IS NULL AND serial <> ?2"
                         " ORDER BY issued_at LIMIT 1",
                     ONR_DB_ARGS(ONR_DB_STR(dev), keep != NULL ? ONR_DB_BLOB(keep, keep_len)
                                                               : ONR_DB_BLOB(none, 0)),
                     dev, out);
}

int prov_cert_renewal_of(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                         struct prov_cert *out)
{
    return cert_read(db, "SELECT " CERT_COLUMNS " FROM certificates"
                         " WHERE dev = ?1 AND renews = ?2 AND revoked_at IS NULL"
                         " ORDER BY issued_at DESC LIMIT 1",
                     ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(serial, len)), dev, out);
}

int prov_cert_put(struct onr_db *db, const struct prov_cert *c, uint64_t now)
{
    return onr_db_run_later(db, "INSERT INTO certificates (serial, dev, key_hash, der, issued_at,"
                                " not_after, renews) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            ONR_DB_ARGS(ONR_DB_BLOB(c->serial, c->serial_len), ONR_DB_STR(c->dev),
                                        ONR_DB_ARRAY(c->key_hash), ONR_DB_BLOB(c->der, c->der_len),
                                        ONR_DB_INT(now), ONR_DB_INT(c->not_after),
                                        ONR_DB_BLOB(c->renews_len > 0 ? c->renews : NULL,
                                                    c->renews_len)));
}

int prov_cert_revoke(struct onr_db *db, const char *dev, const uint8_t *serial, size_t len,
                     uint64_t now)
{
    return onr_db_run_one(db, "UPDATE certificates SET revoked_at = ?3"
                              " WHERE dev = ?1 AND serial = ?2 AND revoked_at IS NULL",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(serial, len),
                                      ONR_DB_INT(now)));
}

int prov_certs_expiring(struct onr_db *db, uint64_t now, uint64_t until, uint64_t *count)
{
    *count = 0;
    return onr_db_get(db, "SELECT count(*) FROM certificates c WHERE revoked_at IS NULL"
                          " AND not_after >= ?1 AND not_after < ?2 AND NOT EXISTS"
                          " (SELECT 1 FROM certificates n WHERE n.dev = c.dev"
                          " AND n.renews = c.serial AND n.revoked_at IS NULL)",
                      ONR_DB_ARGS(ONR_DB_INT(now), ONR_DB_INT(until)),
                      ONR_DB_COLS(ONR_DB_OUT_U64(count)));
}

int prov_cert_not_after_fill(struct onr_db *db, void *ctx)
{
    static const char sql[] = "SELECT serial, der FROM certificates WHERE not_after = 0";
    static uint8_t der[ONR_X509_MAX_DER];
    uint8_t serial[20];
    size_t serial_len = 0, der_len = 0;
    struct onr_x509_info info;
    int rc;

    (void)ctx;
    /* one row at a time: the update changes what the query reads */
    for (;;) {
        rc = onr_db_get(db, sql, ONR_DB_NO_ARGS,
                        ONR_DB_COLS(ONR_DB_OUT_BLOB(serial, sizeof(serial), &serial_len),
                                    ONR_DB_OUT_BLOB(der, sizeof(der), &der_len)));
        if (rc == ONR_ENOENT)
            return ONR_OK;
        if (rc == ONR_OK)
            rc = onr_x509_parse(der, der_len, &info);
        if (rc == ONR_OK && info.not_after <= 0)
            rc = ONR_ECERT;
        if (rc == ONR_OK)
            rc = onr_db_run(db, "UPDATE certificates SET not_after = ?2 WHERE serial = ?1",
                            ONR_DB_ARGS(ONR_DB_BLOB(serial, serial_len),
                                        ONR_DB_INT(info.not_after)));
        if (rc != ONR_OK)
            return rc;
    }
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
