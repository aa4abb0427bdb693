/* The provider's certificates and waiting enrollments (see certs.h). */
#include "certs.h"

#include <string.h>

#include "onramp/error.h"

const char prov_certs_schema[] =
    "CREATE TABLE certificates ("
    "  serial BLOB PRIMARY KEY,"
    "  dev TEXT NOT NULL,"
    "  key_hash BLOB NOT NULL,"
    "  der BLOB NOT NULL,"
    "  issued_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  revoke_id BLOB,"              /* the cert_revoke envelope last sent */
    "  revoke_sent_at INTEGER NOT NULL DEFAULT 0,"
    "  revoke_confirmed INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX certificates_current ON certificates (dev)"
    "  WHERE revoked_at IS NULL;"
    "CREATE TABLE waiting_enrollments ("
    "  dev TEXT PRIMARY KEY,"
    "  kid BLOB NOT NULL,"
    "  envelope BLOB NOT NULL,"
    "  topic TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

int prov_cert_current(struct onr_db *db, const char *dev, struct prov_cert *out)
{
    static const char sql[] = "SELECT key_hash, serial, der FROM certificates"
                              " WHERE dev = ?1 AND revoked_at IS NULL";
    sqlite3_stmt *stmt = NULL;
    struct onr_bytes b;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 0, out->key_hash, sizeof(out->key_hash));
    if (rc == ONR_OK) {
        b = onr_db_column_bytes(stmt, 1);
        if (b.len == 0 || b.len > sizeof(out->serial))
            rc = ONR_EIO;
        else
            memcpy(out->serial, b.ptr, out->serial_len = b.len);
    }
    if (rc == ONR_OK) {
        b = onr_db_column_bytes(stmt, 2);
        if (b.len == 0 || b.len > sizeof(out->der))
            rc = ONR_EIO;
        else
            memcpy(out->der, b.ptr, out->der_len = b.len);
    }
    sqlite3_reset(stmt);
    if (rc == ONR_OK)
        memcpy(out->dev, dev, strlen(dev) + 1);
    return rc;
}

/* The device's certificate in force (if any) is revoked as of `now`. */
static int revoke_current(struct onr_db *db, const char *dev, uint64_t now)
{
    static const char sql[] = "UPDATE certificates SET revoked_at = ?2"
                              " WHERE dev = ?1 AND revoked_at IS NULL";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_cert_put(struct onr_db *db, const struct prov_cert *c, uint64_t now)
{
    static const char insert[] = "INSERT INTO certificates (serial, dev, key_hash, der,"
                                 " issued_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *stmt = NULL;
    int rc = revoke_current(db, c->dev, now);

    if (rc == ONR_OK)
        rc = onr_db_prepare(db, insert, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){c->serial, c->serial_len});
    onr_db_bind_text(stmt, 2, c->dev, strlen(c->dev));
    onr_db_bind_bytes(stmt, 3, ONR_BYTES(c->key_hash));
    onr_db_bind_bytes(stmt, 4, (struct onr_bytes){c->der, c->der_len});
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_cert_revoke_current(struct onr_db *db, const char *dev, uint64_t now,
                             struct prov_revocation *out)
{
    struct prov_cert cert;
    int rc = prov_cert_current(db, dev, &cert);

    if (rc != ONR_OK)
        return rc;
    rc = revoke_current(db, dev, now);
    memcpy(out->dev, dev, strlen(dev) + 1);
    memcpy(out->serial, cert.serial, out->serial_len = cert.serial_len);
    return rc;
}

int prov_revocations_due(struct onr_db *db, uint64_t before, struct prov_revocation *out,
                         size_t max, size_t *n)
{
    static const char sql[] = "SELECT dev, serial FROM certificates WHERE revoked_at IS NOT NULL"
                              " AND revoke_confirmed = 0 AND revoke_sent_at < ?1 LIMIT ?2";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    *n = 0;
    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
    while (*n < max && (rc = onr_db_step(db, stmt)) == ONR_OK) {
        struct prov_revocation *r = &out[*n];
        struct onr_bytes serial;

        rc = onr_db_column_text(stmt, 0, r->dev, sizeof(r->dev));
        serial = onr_db_column_bytes(stmt, 1);
        if (rc == ONR_OK && (serial.len == 0 || serial.len > sizeof(r->serial)))
            rc = ONR_EIO;
        if (rc != ONR_OK)
            break;
        memcpy(r->serial, serial.ptr, r->serial_len = serial.len);
        (*n)++;
    }
    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int prov_revocation_sent(struct onr_db *db, const uint8_t *serial, size_t serial_len,
                         const uint8_t id[ONR_MSG_ID_LEN], uint64_t now)
{
    static const char sql[] = "UPDATE certificates SET revoke_id = ?2, revoke_sent_at = ?3"
                              " WHERE serial = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){serial, serial_len});
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_revocation_confirmed(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN])
{
    static const char sql[] = "UPDATE certificates SET revoke_confirmed = 1 WHERE revoke_id = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    return onr_db_run_one(db, stmt);
}

int prov_waiting_put(struct onr_db *db, const char *dev, const uint8_t kid[16],
                     struct onr_bytes envelope, const char *topic, uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO waiting_enrollments (dev, kid, envelope,"
                              " topic, received_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){kid, 16});
    onr_db_bind_bytes(stmt, 3, envelope);
    onr_db_bind_text(stmt, 4, topic, strlen(topic));
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_waiting_take(struct onr_db *db, const char *dev, const uint8_t kid[16],
                      uint8_t *envelope, size_t cap, size_t *len, char *topic,
                      size_t topic_cap)
{
    static const char find[] = "SELECT envelope, topic FROM waiting_enrollments"
                               " WHERE dev = ?1 AND kid = ?2";
    static const char drop[] = "DELETE FROM waiting_enrollments WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    struct onr_bytes b;
    int rc = onr_db_prepare(db, find, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){kid, 16});
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK) {
        b = onr_db_column_bytes(stmt, 0);
        if (b.len == 0 || b.len > cap)
            rc = ONR_EIO;
        else
            memcpy(envelope, b.ptr, *len = b.len);
    }
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 1, topic, topic_cap);
    sqlite3_reset(stmt);
    if (rc != ONR_OK)
        return rc;
    rc = onr_db_prepare(db, drop, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    return onr_db_run(db, stmt);
}
