/* The operator's database (see auc.h). */
#include "auc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/milenage.h"

const char auc_schema[] =
    /* one row: the next slot of the pool to hand out */
    "CREATE TABLE pool (next INTEGER NOT NULL);"
    "INSERT INTO pool VALUES (0);"
    "CREATE TABLE subscribers ("
    "  dev TEXT PRIMARY KEY,"
    "  slot INTEGER NOT NULL UNIQUE,"
    "  imsi TEXT NOT NULL UNIQUE,"
    "  iccid TEXT NOT NULL UNIQUE,"
    "  ki BLOB NOT NULL,"
    "  opc BLOB NOT NULL,"
    "  amf BLOB NOT NULL,"
    "  sqn INTEGER NOT NULL,"
    "  mfr TEXT NOT NULL,"
    "  prov TEXT NOT NULL,"
    "  attached INTEGER NOT NULL DEFAULT 0,"
    "  suspended INTEGER NOT NULL DEFAULT 0,"   /* released by its provider */
    "  kid BLOB,"
    "  app_key BLOB,"        /* K_AF sealed to the provider: not a secret at rest */
    "  grant_id BLOB,"
    "  granted INTEGER NOT NULL DEFAULT 0,"
    "  key_id BLOB,"
    "  key_stored INTEGER NOT NULL DEFAULT 0,"
    "  sent_at INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  attached_at INTEGER,"
    /* step 5: the policy the provider sent */
    "  qos INTEGER,"
    "  charging TEXT,"
    "  cap INTEGER,"
    "  aligned_at INTEGER"
    ") WITHOUT ROWID;"
    "CREATE INDEX subscribers_undelivered ON subscribers (sent_at)"
    "  WHERE attached = 1 AND (granted = 0 OR key_stored = 0);"
    "CREATE TABLE challenges ("
    "  rand BLOB PRIMARY KEY,"
    "  dev TEXT NOT NULL,"
    "  sqn INTEGER NOT NULL,"
    "  used INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

uint64_t auc_pool_size(const struct auc_ranges *r)
{
    uint64_t imsis = r->imsi_last - r->imsi_first + 1;
    uint64_t iccids = r->iccid_last - r->iccid_first + 1;

    return imsis < iccids ? imsis : iccids;
}

char auc_luhn(const char *body)
{
    unsigned sum = 0;
    size_t n = strlen(body);

    /* from the right, every other digit doubled, the rightmost first: the
     * check digit will stand to its right */
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(body[n - 1 - i] - '0');

        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

#define COLUMNS "dev, slot, imsi, iccid, ki, opc, amf, sqn, mfr, prov, attached, kid, suspended"

int auc_subscriber(struct onr_db *db, const char *dev, struct auc_subscriber *out)
{
    static const char sql[] = "SELECT " COLUMNS " FROM subscribers WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->dev, sizeof(out->dev));
    if (rc == ONR_OK) {
        out->slot = (uint64_t)sqlite3_column_int64(stmt, 1);
        rc = onr_db_column_text(stmt, 2, out->imsi, sizeof(out->imsi));
    }
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 3, out->iccid, sizeof(out->iccid));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 4, out->keys.k, sizeof(out->keys.k));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 5, out->keys.opc, sizeof(out->keys.opc));
    if (rc == ONR_OK)
        rc = onr_db_column_exact(stmt, 6, out->keys.amf, sizeof(out->keys.amf));
    if (rc == ONR_OK) {
        out->sqn = (uint64_t)sqlite3_column_int64(stmt, 7);
        rc = onr_db_column_text(stmt, 8, out->mfr, sizeof(out->mfr));
    }
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 9, out->prov, sizeof(out->prov));
    if (rc == ONR_OK) {
        out->attached = sqlite3_column_int(stmt, 10) == 1;
        if (out->attached)
            rc = onr_db_column_exact(stmt, 11, out->kid, sizeof(out->kid));
        out->suspended = sqlite3_column_int(stmt, 12) == 1;
    }
    sqlite3_reset(stmt);
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    return rc;
}

/* The next slot, taken: the pool row is updated in the caller's
 * transaction, which BEGIN IMMEDIATE serialises with every other writer. */
static int take_slot(struct onr_db *db, uint64_t size, uint64_t *slot)
{
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, "SELECT next FROM pool", &stmt);

    if (rc != ONR_OK)
        return rc;
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        *slot = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != ONR_OK)
        return rc == ONR_ENOENT ? ONR_EIO : rc;
    if (*slot >= size)
        return ONR_EEXHAUSTED;
    rc = onr_db_prepare(db, "UPDATE pool SET next = next + 1", &stmt);
    return rc == ONR_OK ? onr_db_run(db, stmt) : rc;
}

int auc_allocate(struct onr_db *db, const struct auc_ranges *r, const char *dev,
                 const char *mfr, const char *prov, const uint8_t op[16], const uint8_t amf[2],
                 uint64_t now, struct auc_subscriber *out)
{
    static const char sql[] =
        "INSERT INTO subscribers (dev, slot, imsi, iccid, ki, opc, amf, sqn, mfr, prov,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10)";
    char body[20];
    sqlite3_stmt *stmt = NULL;
    uint64_t slot = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = take_slot(db, auc_pool_size(r), &slot);
    if (rc != ONR_OK)
        return rc;
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    snprintf(out->mfr, sizeof(out->mfr), "%s", mfr);
    snprintf(out->prov, sizeof(out->prov), "%s", prov);
    out->slot = slot;
    snprintf(out->imsi, sizeof(out->imsi), "%0*" PRIu64, (int)r->imsi_digits,
             r->imsi_first + slot);
    snprintf(body, sizeof(body), "%0*" PRIu64, (int)r->iccid_digits, r->iccid_first + slot);
    snprintf(out->iccid, sizeof(out->iccid), "%s%c", body, auc_luhn(body));
    memcpy(out->keys.amf, amf, 2);
    rc = onr_random(out->keys.k, sizeof(out->keys.k));
    if (rc == ONR_OK)
        rc = onr_milenage_opc(out->keys.k, op, out->keys.opc);
    if (rc == ONR_OK)
        rc = onr_db_prepare(db, sql, &stmt);
    if (rc == ONR_OK) {
        onr_db_bind_text(stmt, 1, dev, strlen(dev));
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)slot);
        onr_db_bind_text(stmt, 3, out->imsi, strlen(out->imsi));
        onr_db_bind_text(stmt, 4, out->iccid, strlen(out->iccid));
        onr_db_bind_bytes(stmt, 5, ONR_BYTES(out->keys.k));
        onr_db_bind_bytes(stmt, 6, ONR_BYTES(out->keys.opc));
        onr_db_bind_bytes(stmt, 7, ONR_BYTES(out->keys.amf));
        onr_db_bind_text(stmt, 8, mfr, strlen(mfr));
        onr_db_bind_text(stmt, 9, prov, strlen(prov));
        sqlite3_bind_int64(stmt, 10, (sqlite3_int64)now);
        rc = onr_db_run(db, stmt);
    }
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    return rc;
}

int auc_set_owner(struct onr_db *db, const char *dev, const char *mfr, const char *prov)
{
    static const char sql[] = "UPDATE subscribers SET mfr = ?2, prov = ?3, suspended = 0"
                              " WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, mfr, strlen(mfr));
    onr_db_bind_text(stmt, 3, prov, strlen(prov));
    return onr_db_run(db, stmt);
}

int auc_suspend(struct onr_db *db, const char *dev)
{
    return onr_db_run_text(db, "UPDATE subscribers SET suspended = 1, attached = 0,"
                               " granted = 0, key_stored = 0, kid = NULL, app_key = NULL,"
                               " aligned_at = NULL WHERE dev = ?1", dev);
}

int auc_set_sqn(struct onr_db *db, const char *dev, uint64_t sqn)
{
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, "UPDATE subscribers SET sqn = ?2 WHERE dev = ?1", &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)sqn);
    return onr_db_run(db, stmt);
}

int auc_align(struct onr_db *db, const char *dev, uint64_t qos, const char *charging,
              uint64_t cap, uint64_t now)
{
    static const char sql[] = "UPDATE subscribers SET qos = ?2, charging = ?3, cap = ?4,"
                              " aligned_at = ?5 WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)qos);
    onr_db_bind_text(stmt, 3, charging, strlen(charging));
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)cap);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int auc_challenge_put(struct onr_db *db, const char *dev, const uint8_t rand[16], uint64_t sqn,
                      uint64_t now)
{
    static const char sql[] =
        "INSERT INTO challenges (rand, dev, sqn, created_at) VALUES (?1, ?2, ?3, ?4)";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){rand, 16});
    onr_db_bind_text(stmt, 2, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)sqn);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int auc_challenge_take(struct onr_db *db, const char *dev, const uint8_t rand[16],
                       uint64_t not_before, uint64_t *sqn)
{
    static const char find[] = "SELECT sqn FROM challenges WHERE rand = ?1 AND dev = ?2"
                               " AND used = 0 AND created_at >= ?3";
    static const char use[] = "UPDATE challenges SET used = 1 WHERE rand = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, find, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){rand, 16});
    onr_db_bind_text(stmt, 2, dev, strlen(dev));
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)not_before);
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        *sqn = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != ONR_OK)
        return rc;
    rc = onr_db_prepare(db, use, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){rand, 16});
    return onr_db_run(db, stmt);
}

int auc_challenges_prune(struct onr_db *db, uint64_t before)
{
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, "DELETE FROM challenges WHERE created_at < ?1", &stmt);

    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    return onr_db_run(db, stmt);
}

int auc_attach(struct onr_db *db, const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
               const uint8_t sealed_key[ONR_SEALED_APP_KEY_LEN], uint64_t now)
{
    static const char sql[] =
        "UPDATE subscribers SET attached = 1, kid = ?2, app_key = ?3, granted = 0,"
        " key_stored = 0, grant_id = NULL, key_id = NULL, attached_at = ?4 WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){kid, ONR_AKMA_KID_LEN});
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){sealed_key, ONR_SEALED_APP_KEY_LEN});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int auc_sent(struct onr_db *db, const char *dev, const uint8_t *grant_id,
             const uint8_t *key_id, uint64_t now)
{
    static const char sql[] =
        "UPDATE subscribers SET grant_id = coalesce(?2, grant_id),"
        " key_id = coalesce(?3, key_id), sent_at = ?4 WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){grant_id, grant_id ? ONR_MSG_ID_LEN : 0});
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){key_id, key_id ? ONR_MSG_ID_LEN : 0});
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
    return onr_db_run(db, stmt);
}

int auc_grant_confirmed(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN])
{
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, "UPDATE subscribers SET granted = 1 WHERE grant_id = ?1", &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_bytes(stmt, 1, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    return onr_db_run_one(db, stmt);
}

int auc_key_confirmed(struct onr_db *db, const char *dev, const char *prov,
                      const uint8_t id[ONR_MSG_ID_LEN])
{
    static const char sql[] = "UPDATE subscribers SET key_stored = 1"
                              " WHERE dev = ?1 AND prov = ?2 AND key_id = ?3";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    onr_db_bind_text(stmt, 2, prov, strlen(prov));
    onr_db_bind_bytes(stmt, 3, (struct onr_bytes){id, ONR_MSG_ID_LEN});
    return onr_db_run_one(db, stmt);
}

int auc_unconfirmed(struct onr_db *db, uint64_t before, struct auc_delivery *out, size_t max,
                    size_t *n)
{
    static const char sql[] =
        "SELECT dev, prov, kid, app_key, granted, key_stored, imsi, iccid FROM subscribers"
        " WHERE attached = 1 AND (granted = 0 OR key_stored = 0) AND sent_at < ?1 LIMIT ?2";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    *n = 0;
    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
    while (*n < max && (rc = onr_db_step(db, stmt)) == ONR_OK) {
        struct auc_delivery *d = &out[*n];

        rc = onr_db_column_text(stmt, 0, d->dev, sizeof(d->dev));
        if (rc == ONR_OK)
            rc = onr_db_column_text(stmt, 1, d->prov, sizeof(d->prov));
        if (rc == ONR_OK)
            rc = onr_db_column_exact(stmt, 2, d->kid, sizeof(d->kid));
        if (rc == ONR_OK)
            rc = onr_db_column_exact(stmt, 3, d->sealed_key, sizeof(d->sealed_key));
        if (rc == ONR_OK)
            rc = onr_db_column_text(stmt, 6, d->imsi, sizeof(d->imsi));
        if (rc == ONR_OK)
            rc = onr_db_column_text(stmt, 7, d->iccid, sizeof(d->iccid));
        if (rc != ONR_OK)
            break;
        d->granted = sqlite3_column_int(stmt, 4) == 1;
        d->key_stored = sqlite3_column_int(stmt, 5) == 1;
        (*n)++;
    }
    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int auc_status(struct onr_db *db, const char *dev, struct auc_status *out)
{
    static const char sql[] = "SELECT suspended, attached, created_at, attached_at, aligned_at"
                              " FROM subscribers WHERE dev = ?1";
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK) {
        out->profiled = (uint64_t)sqlite3_column_int64(stmt, 2);
        out->attached = (uint64_t)sqlite3_column_int64(stmt, 3); /* NULL reads 0 */
        out->aligned = (uint64_t)sqlite3_column_int64(stmt, 4);
        if (sqlite3_column_int(stmt, 0) != 0)
            out->state = "suspended";
        else if (out->aligned != 0)
            out->state = "aligned";
        else if (sqlite3_column_int(stmt, 1) != 0)
            out->state = "attached";
        else
            out->state = "allocated";
    }
    sqlite3_reset(stmt);
    return rc;
}
