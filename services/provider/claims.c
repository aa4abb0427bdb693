#include "claims.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

/* Tables added in version 2: created with the schema, or by
 * prov_claims_upgrade in a database of version 1. */
#define TABLES_V2                                                                     \
    /* each claimed device's first telemetry on our service broker */                 \
    "CREATE TABLE IF NOT EXISTS operational ("                                        \
    "  dev TEXT PRIMARY KEY,"                                                         \
    "  operational_at INTEGER NOT NULL"                                               \
    ") WITHOUT ROWID;"                                                                \
    /* the manufacturer's refusals of pairings made on the page */                   \
    "CREATE TABLE IF NOT EXISTS web_refusals ("                                       \
    "  dev TEXT PRIMARY KEY,"                                                         \
    "  reason TEXT NOT NULL,"                                                         \
    "  refused_at INTEGER NOT NULL"                                                   \
    ") WITHOUT ROWID;"

const char prov_claims_schema[] =
    TABLES_V2
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
    /* the policy sent to the operator of each attached device (step 5),
     * resent until the operator confirms it */
    "CREATE TABLE alignments ("
    "  dev TEXT PRIMARY KEY,"
    "  op TEXT NOT NULL,"
    "  sent_id BLOB,"
    "  sent_at INTEGER NOT NULL DEFAULT 0,"
    "  aligned_at INTEGER"
    ") WITHOUT ROWID;"
    /* releases in flight: the manufacturer and the operator must confirm */
    "CREATE TABLE releases ("
    "  dev TEXT PRIMARY KEY,"
    "  mfr TEXT NOT NULL,"
    "  op TEXT NOT NULL,"
    "  asker TEXT NOT NULL,"
    "  request_id BLOB NOT NULL,"
    "  mfr_msg BLOB,"
    "  op_msg BLOB,"
    "  mfr_done INTEGER NOT NULL DEFAULT 0,"
    "  op_done INTEGER NOT NULL DEFAULT 0,"
    "  sent_at INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE app_keys ("
    "  dev TEXT PRIMARY KEY,"
    "  op TEXT NOT NULL,"
    "  kid BLOB NOT NULL,"
    "  sealed BLOB NOT NULL,"
    "  imsi TEXT NOT NULL,"
    "  iccid TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

int prov_claims_upgrade(struct onr_db *db)
{
    char sql[sizeof(TABLES_V2) + 64];
    int rc;

    snprintf(sql, sizeof(sql), "%sPRAGMA user_version=%d;", TABLES_V2, PROV_CLAIMS_VERSION);
    rc = onr_db_begin(db);
    if (rc != ONR_OK)
        return rc;
    rc = onr_db_exec(db, sql);
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK)
        onr_db_rollback(db);
    return rc;
}

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

int prov_app_key_put(struct onr_db *db, const struct prov_app_key *k, uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO app_keys (dev, op, kid, sealed, imsi,"
                              " iccid, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, k->dev, strlen(k->dev));
    onr_db_bind_text(stmt, 2, k->op, strlen(k->op));
    onr_db_bind_bytes(stmt, 3, ONR_BYTES(k->kid));
    onr_db_bind_bytes(stmt, 4, ONR_BYTES(k->sealed));
    onr_db_bind_text(stmt, 5, k->imsi, strlen(k->imsi));
    onr_db_bind_text(stmt, 6, k->iccid, strlen(k->iccid));
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_app_key_get(struct onr_db *db, const char *dev, struct prov_app_key *out)
{
    static const char sql[] = "SELECT op, kid, sealed, imsi, iccid FROM app_keys WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->op, sizeof(out->op));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 1, out->kid, sizeof(out->kid));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 2, out->sealed, sizeof(out->sealed));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 3, out->imsi, sizeof(out->imsi));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 4, out->iccid, sizeof(out->iccid));
    sqlite3_reset(stmt);
    if (rc == ONR_OK)
        memcpy(out->dev, dev, strlen(dev) + 1);
    return rc;
}

int prov_alignment_sent(struct onr_db *db, const char *dev, const char *op,
                        const uint8_t id[ONR_MSG_ID_LEN], uint64_t now)
{
    static const char sql[] =
        "INSERT INTO alignments (dev, op, sent_id, sent_at) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (dev) DO UPDATE SET op = ?2, sent_id = ?3, sent_at = ?4,"
        " aligned_at = CASE WHEN op = ?2 THEN aligned_at END";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, op, strlen(op));
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_alignment_confirmed(struct onr_db *db, const char *dev, const char *op,
                             const uint8_t id[ONR_MSG_ID_LEN], uint64_t now)
{
    static const char sql[] = "UPDATE alignments SET aligned_at = ?4"
                              " WHERE dev = ?1 AND op = ?2 AND sent_id = ?3";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, op, strlen(op));
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run_one(db, stmt);
}

int prov_alignments_due(struct onr_db *db, uint64_t before, struct prov_app_key *out,
                        size_t max, size_t *n)
{
    static const char sql[] =
        "SELECT a.dev FROM alignments a WHERE a.aligned_at IS NULL AND a.sent_at < ?1 LIMIT ?2";
    sqlite3_stmt *stmt = NULL;
    char devs[16][ONR_DEVID_LEN + 1];
    size_t found = 0;
    int rc = onr_db_prepare(db, sql, &stmt);

    *n = 0;
    if (rc != ONR_OK)
        return rc;
    if (max > 16)
        max = 16;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
    while (found < max && (rc = onr_db_step(db, stmt)) == ONR_OK &&
           (rc = onr_db_column_text(stmt, 0, devs[found], sizeof(devs[found]))) == ONR_OK)
        found++;
    sqlite3_reset(stmt);
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    for (size_t i = 0; i < found; i++) {
        rc = prov_app_key_get(db, devs[i], &out[*n]);
        if (rc == ONR_OK)
            (*n)++;
        else if (rc != ONR_ENOENT)
            return rc;
    }
    return ONR_OK;
}

int prov_release_put(struct onr_db *db, const struct prov_release *r, uint64_t now)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO releases (dev, mfr, op, asker, request_id, mfr_msg, op_msg,"
        " sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, r->dev, strlen(r->dev));
    onr_db_bind_text(stmt, 2, r->mfr, strlen(r->mfr));
    onr_db_bind_text(stmt, 3, r->op, strlen(r->op));
    onr_db_bind_text(stmt, 4, r->asker, strlen(r->asker));
    onr_db_bind_bytes(stmt, 5, ONR_BYTES(r->request_id));
    onr_db_bind_bytes(stmt, 6, ONR_BYTES(r->mfr_msg));
    onr_db_bind_bytes(stmt, 7, ONR_BYTES(r->op_msg));
    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

static int read_release(struct onr_db *db, sqlite3_stmt *stmt, struct prov_release *out)
{
    int rc = onr_db_step(db, stmt);

    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->dev, sizeof(out->dev));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 1, out->mfr, sizeof(out->mfr));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 2, out->op, sizeof(out->op));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 3, out->asker, sizeof(out->asker));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 4, out->request_id, sizeof(out->request_id));
    if (rc == ONR_OK) {
        out->mfr_done = sqlite3_column_int(stmt, 5) == 1;
        out->op_done = sqlite3_column_int(stmt, 6) == 1;
    }
    return rc;
}

#define RELEASE_COLUMNS "dev, mfr, op, asker, request_id, mfr_done, op_done"

int prov_release_answered(struct onr_db *db, const uint8_t re[ONR_MSG_ID_LEN], int from_mfr,
                          struct prov_release *out)
{
    static const char mfr_sql[] = "UPDATE releases SET mfr_done = 1 WHERE mfr_msg = ?1";
    static const char op_sql[] = "UPDATE releases SET op_done = 1 WHERE op_msg = ?1";
    static const char find_mfr[] = "SELECT " RELEASE_COLUMNS " FROM releases WHERE mfr_msg = ?1";
    static const char find_op[] = "SELECT " RELEASE_COLUMNS " FROM releases WHERE op_msg = ?1";
    sqlite3_stmt *stmt = NULL;
    int was_done;
    int rc = onr_db_prepare(db, from_mfr ? find_mfr : find_op, &stmt);

    if (rc != ONR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){re, ONR_MSG_ID_LEN});
    rc = read_release(db, stmt, out);
    sqlite3_reset(stmt);
    if (rc != ONR_OK)
        return rc;
    was_done = from_mfr ? out->mfr_done : out->op_done;
    rc = onr_db_prepare(db, from_mfr ? mfr_sql : op_sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){re, ONR_MSG_ID_LEN});
    rc = onr_db_run(db, stmt);
    if (rc == ONR_OK && was_done)
        rc = ONR_EEXIST; /* answered before */
    return rc;
}

int prov_releases_due(struct onr_db *db, uint64_t before, struct prov_release *out, size_t max,
                      size_t *n)
{
    static const char sql[] = "SELECT " RELEASE_COLUMNS " FROM releases"
                              " WHERE (mfr_done = 0 OR op_done = 0) AND sent_at < ?1 LIMIT ?2";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    *n = 0;
    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
    while (*n < max && (rc = read_release(db, stmt, &out[*n])) == ONR_OK)
        (*n)++;
    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int prov_release_resent(struct onr_db *db, const char *dev, const uint8_t *mfr_msg,
                        const uint8_t *op_msg, uint64_t now)
{
    static const char sql[] = "UPDATE releases SET mfr_msg = coalesce(?2, mfr_msg),"
                              " op_msg = coalesce(?3, op_msg), sent_at = ?4 WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){mfr_msg, mfr_msg ? ONR_MSG_ID_LEN : 0});
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){op_msg, op_msg ? ONR_MSG_ID_LEN : 0});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_claim_drop(struct onr_db *db, const char *dev)
{
    return onr_db_run_text(db, "DELETE FROM claims WHERE dev = ?1", dev);
}

int prov_device_forget(struct onr_db *db, const char *dev)
{
    int rc = onr_db_run_text(db, "DELETE FROM claims WHERE dev = ?1", dev);

    if (rc == ONR_OK)
        rc = onr_db_run_text(db, "DELETE FROM app_keys WHERE dev = ?1", dev);
    if (rc == ONR_OK)
        rc = onr_db_run_text(db, "DELETE FROM alignments WHERE dev = ?1", dev);
    if (rc == ONR_OK)
        rc = onr_db_run_text(db, "DELETE FROM operational WHERE dev = ?1", dev);
    if (rc == ONR_OK)
        rc = onr_db_run_text(db, "DELETE FROM web_refusals WHERE dev = ?1", dev);
    return rc;
}

int prov_operational_put(struct onr_db *db, const char *dev, uint64_t now)
{
    static const char find[] = "SELECT 1 FROM operational WHERE dev = ?1";
    static const char sql[] = "INSERT INTO operational (dev, operational_at) VALUES (?1, ?2)"
                              " ON CONFLICT (dev) DO NOTHING";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, find, &stmt);

    /* a read first: telemetry keeps coming, and most of it changes nothing */
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    sqlite3_reset(stmt);
    if (rc != ONR_ENOENT)
        return rc == ONR_OK ? ONR_EEXIST : rc;
    rc = onr_db_prepare(db, sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)now);
    rc = onr_db_run(db, stmt);
    if (rc == ONR_OK && onr_db_changes(db) == 0)
        rc = ONR_EEXIST;
    return rc;
}

int prov_web_refusal_put(struct onr_db *db, const char *dev, const char *reason, uint64_t now)
{
    static const char sql[] = "INSERT OR REPLACE INTO web_refusals (dev, reason, refused_at)"
                              " VALUES (?1, ?2, ?3)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, reason, strnlen(reason, 127));
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int prov_web_refusal_get(struct onr_db *db, const char *dev, char *reason, size_t cap,
                         uint64_t *at)
{
    static const char sql[] = "SELECT reason, refused_at FROM web_refusals WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, reason, cap);
    if (rc == ONR_OK)
        *at = (uint64_t)sqlite3_column_int64(stmt, 1);
    sqlite3_reset(stmt);
    return rc;
}
