#include "claims.h"

#include <string.h>

#include "onramp/error.h"

const char prov_claims_schema[] =
    "CREATE TABLE claims ("
    "  dev TEXT PRIMARY KEY,"
    "  mfr TEXT NOT NULL,"
    "  account TEXT NOT NULL,"
    "  operator TEXT NOT NULL,"
    "  state INTEGER NOT NULL CHECK (state IN (0, 1)),"
    "  pairing_id BLOB NOT NULL,"
    "  asker TEXT NOT NULL,"
    "  registration_id BLOB NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  claimed_at INTEGER"
    ") WITHOUT ROWID;"
    /* the latest application key of each attached device, as the operator
     * sealed it to us: opened only when the device enrolls */
    "CREATE TABLE app_keys ("
    "  dev TEXT PRIMARY KEY,"
    "  op TEXT NOT NULL,"
    "  kid BLOB NOT NULL,"
    "  sealed BLOB NOT NULL,"
    "  received_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

#define COLUMNS "dev, mfr, account, operator, state, pairing_id, asker, registration_id"

static int read_row(struct onr_db *db, sqlite3_stmt *stmt, struct prov_claim *out)
{
    int rc = onr_db_step(db, stmt);

    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->dev, sizeof(out->dev));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 1, out->mfr, sizeof(out->mfr));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 2, out->account, sizeof(out->account));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 3, out->op, sizeof(out->op));
    if (rc == ONR_OK)
        out->state = sqlite3_column_int(stmt, 4) == 1 ? PROV_CLAIM_CLAIMED
                                                       : PROV_CLAIM_REGISTERING;
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 5, out->pairing_id, sizeof(out->pairing_id));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 6, out->asker, sizeof(out->asker));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 7, out->registration_id, sizeof(out->registration_id));
    sqlite3_reset(stmt);
    return rc;
}

int prov_claim_get(struct onr_db *db, const char *dev, struct prov_claim *out)
{
    static const char sql[] = "SELECT " COLUMNS " FROM claims WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    return read_row(db, stmt, out);
}

int prov_claim_by_registration(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN],
                               struct prov_claim *out)
{
    static const char sql[] = "SELECT " COLUMNS " FROM claims WHERE registration_id = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    return read_row(db, stmt, out);
}

int prov_claim_put(struct onr_db *db, const struct prov_claim *c, uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO claims (" COLUMNS ", created_at)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, c->dev, strlen(c->dev));
    onr_db_bind_text(stmt, 2, c->mfr, strlen(c->mfr));
    onr_db_bind_text(stmt, 3, c->account, strlen(c->account));
    onr_db_bind_text(stmt, 4, c->op, strlen(c->op));
    sqlite3_bind_int(stmt, 5, (int)c->state);
    onr_db_bind_bytes(stmt, 6, ONR_BYTES(c->pairing_id));
    onr_db_bind_text(stmt, 7, c->asker, strlen(c->asker));
    onr_db_bind_bytes(stmt, 8, ONR_BYTES(c->registration_id));
    sqlite3_bind_int64(stmt, 9, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_claim_confirm(struct onr_db *db, const char *dev, uint64_t now)
{
    static const char sql[] = "UPDATE claims SET state = 1, claimed_at = ?2 WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_app_key_put(struct onr_db *db, const char *dev, const char *op,
                     const uint8_t kid[ONR_AKMA_KID_LEN],
                     const uint8_t sealed[ONR_SEALED_APP_KEY_LEN], uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO app_keys (dev, op, kid, sealed,"
                              " received_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, op, strlen(op));
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){kid, ONR_AKMA_KID_LEN});
    onr_db_bind_bytes(stmt, 4, (struct onr_bytes){sealed, ONR_SEALED_APP_KEY_LEN});
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_claim_drop(struct onr_db *db, const char *dev)
{
    static const char sql[] = "DELETE FROM claims WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    return onr_db_run(db, stmt);
}
