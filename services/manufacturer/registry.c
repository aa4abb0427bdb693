#include "registry.h"

#include <string.h>

#include "onramp/error.h"

const char onr_registry_schema[] =
    "CREATE TABLE devices ("
    "  dev TEXT PRIMARY KEY,"
    "  identity_key BLOB NOT NULL,"
    "  sealing_key BLOB NOT NULL,"
    "  claim_hash BLOB NOT NULL,"
    "  minted_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE assignments ("
    "  dev TEXT PRIMARY KEY REFERENCES devices(dev),"
    "  provider TEXT NOT NULL,"
    "  operator TEXT NOT NULL,"
    "  operator_key BLOB NOT NULL,"
    "  assigned_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE claim_audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  provider TEXT NOT NULL,"
    "  dev TEXT NOT NULL,"
    "  result TEXT NOT NULL"
    ");"
    /* append-only: the audit trail cannot be rewritten through this db */
    "CREATE TRIGGER claim_audit_no_update BEFORE UPDATE ON claim_audit"
    "  BEGIN SELECT RAISE(ABORT, 'claim_audit is append-only'); END;"
    "CREATE TRIGGER claim_audit_no_delete BEFORE DELETE ON claim_audit"
    "  BEGIN SELECT RAISE(ABORT, 'claim_audit is append-only'); END;"
    "CREATE TABLE waiting ("
    "  dev TEXT PRIMARY KEY REFERENCES devices(dev),"
    "  nonce BLOB NOT NULL,"
    "  hello_id BLOB NOT NULL,"
    "  at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

int onr_registry_open(const char *path, struct onr_db **out, char *why, size_t why_cap)
{
    return onr_db_open(path, onr_registry_schema, ONR_REGISTRY_VERSION, out, why, why_cap);
}

int onr_registry_add_device(struct onr_db *db, const struct onr_registry_device *d,
                            uint64_t now)
{
    static const char sql[] = "INSERT INTO devices (dev, identity_key, sealing_key, claim_hash, "
                              "minted_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, d->dev, strlen(d->dev));
    onr_db_bind_bytes(stmt, 2, ONR_BYTES(d->identity_key));
    onr_db_bind_bytes(stmt, 3, ONR_BYTES(d->sealing_key));
    onr_db_bind_bytes(stmt, 4, ONR_BYTES(d->claim_hash));
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int onr_registry_device(struct onr_db *db, const char *dev, size_t len,
                        struct onr_registry_device *out)
{
    static const char sql[] =
        "SELECT identity_key, sealing_key, claim_hash FROM devices WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (len != ONR_DEVID_LEN)
        return ONR_ENOENT;
    rc = onr_db_prepare(db, sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, len);
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK) {
        memcpy(out->dev, dev, len);
        out->dev[len] = '\0';
        rc = onr_db_column_exact(stmt, 0, out->identity_key, sizeof(out->identity_key));
        if (rc == ONR_OK)
            rc = onr_db_column_exact(stmt, 1, out->sealing_key, sizeof(out->sealing_key));
        if (rc == ONR_OK)
            rc = onr_db_column_exact(stmt, 2, out->claim_hash, sizeof(out->claim_hash));
    }
    sqlite3_reset(stmt);
    return rc;
}

int onr_registry_assignment(struct onr_db *db, const char *dev,
                            struct onr_registry_assignment *out)
{
    static const char sql[] =
        "SELECT provider, operator, operator_key FROM assignments WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->provider, sizeof(out->provider));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 1, out->op, sizeof(out->op));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 2, out->op_key, sizeof(out->op_key));
    sqlite3_reset(stmt);
    return rc;
}

int onr_registry_assign(struct onr_db *db, const char *dev,
                        const struct onr_registry_assignment *a, uint64_t now)
{
    static const char sql[] =
        "INSERT INTO assignments (dev, provider, operator, operator_key, assigned_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(dev) DO UPDATE SET"
        " operator = excluded.operator, operator_key = excluded.operator_key"
        " WHERE provider = excluded.provider";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, a->provider, strlen(a->provider));
    onr_db_bind_text(stmt, 3, a->op, strlen(a->op));
    onr_db_bind_bytes(stmt, 4, ONR_BYTES(a->op_key));
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int onr_registry_audit(struct onr_db *db, uint64_t now, const char *provider, const char *dev,
                       const char *result)
{
    static const char sql[] =
        "INSERT INTO claim_audit (at, provider, dev, result) VALUES (?1, ?2, ?3, ?4)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)now);
    onr_db_bind_text(stmt, 2, provider, strlen(provider));
    onr_db_bind_text(stmt, 3, dev, strlen(dev));
    onr_db_bind_text(stmt, 4, result, strlen(result));
    return onr_db_run(db, stmt);
}

int onr_registry_wait(struct onr_db *db, const char *dev, const uint8_t nonce[16],
                      const uint8_t hello_id[16], uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO waiting (dev, nonce, hello_id, at)"
                              " VALUES (?1, ?2, ?3, ?4)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){nonce, 16});
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){hello_id, 16});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int onr_registry_waiting(struct onr_db *db, const char *dev, uint8_t nonce[16],
                         uint8_t hello_id[16])
{
    static const char sql[] = "SELECT nonce, hello_id FROM waiting WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 0, nonce, 16);
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 1, hello_id, 16);
    sqlite3_reset(stmt);
    return rc;
}

int onr_registry_unwait(struct onr_db *db, const char *dev)
{
    return onr_db_run_text(db, "DELETE FROM waiting WHERE dev = ?1", dev);
}

int onr_registry_unassign(struct onr_db *db, const char *dev)
{
    return onr_db_run_text(db, "DELETE FROM assignments WHERE dev = ?1", dev);
}

int onr_registry_status(struct onr_db *db, const char *dev, const char **state,
                        uint64_t *assigned_at)
{
    static const char sql[] =
        "SELECT a.assigned_at, w.at FROM devices d"
        " LEFT JOIN assignments a ON a.dev = d.dev LEFT JOIN waiting w ON w.dev = d.dev"
        " WHERE d.dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK) {
        *assigned_at = 0;
        if (sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
            *assigned_at = (uint64_t)sqlite3_column_int64(stmt, 0);
            *state = "assigned";
        } else if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
            *state = "waiting";
        } else {
            *state = "made";
        }
    }
    sqlite3_reset(stmt);
    return rc;
}
