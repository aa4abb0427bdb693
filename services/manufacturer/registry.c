/* The manufacturer's database (see registry.h). */
#include "registry.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/svc_schema.h"

/* ---- the schema's history: never edit a step, add one ------------------------- */

static const struct onr_db_migration steps[] = {
    {"the registry as first released (SQLite only: WITHOUT ROWID, the triggers)",
     ONR_SVC_SCHEMA_PROCESSED
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
     ") WITHOUT ROWID;",
     NULL},
    {"messages awaiting confirmation", ONR_SVC_SCHEMA_PENDING, NULL},
    {"each device's state (0 made, 1 waiting, 2 assigned), from where its rows were",
     "ALTER TABLE devices ADD COLUMN state INTEGER NOT NULL DEFAULT 0"
     "  CHECK (state IN (0, 1, 2));"
     "UPDATE devices SET state = 1 WHERE dev IN (SELECT dev FROM waiting);"
     "UPDATE devices SET state = 2 WHERE dev IN (SELECT dev FROM assignments);",
     NULL},
    {"kits: each one's claim hash and devices (each in one kit at most), and the kit an "
     "assignment was made through (SPEC section 18)",
     "CREATE TABLE kits ("
     "  kit TEXT PRIMARY KEY,"
     "  claim_hash BLOB NOT NULL,"
     "  made_at INTEGER NOT NULL"
     ");"
     "CREATE TABLE kit_devices ("
     "  dev TEXT PRIMARY KEY REFERENCES devices(dev),"
     "  kit TEXT NOT NULL REFERENCES kits(kit),"
     "  position INTEGER NOT NULL,"
     "  UNIQUE (kit, position)"
     ");"
     "ALTER TABLE assignments ADD COLUMN kit TEXT;",
     NULL},
};

const struct onr_db_schema onr_registry_schema = {steps, sizeof(steps) / sizeof(steps[0])};

int onr_registry_open(const char *path, struct onr_db **out, char *why, size_t why_cap)
{
    return onr_db_open(path, &onr_registry_schema, NULL, out, NULL, why, why_cap);
}

/* ---- devices ------------------------------------------------------------------- */

int onr_registry_add_device(struct onr_db *db, const struct onr_registry_device *d,
                            uint64_t now)
{
    return onr_db_run(db, "INSERT INTO devices (dev, identity_key, sealing_key, claim_hash,"
                          " minted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                      ONR_DB_ARGS(ONR_DB_STR(d->dev), ONR_DB_ARRAY(d->identity_key),
                                  ONR_DB_ARRAY(d->sealing_key), ONR_DB_ARRAY(d->claim_hash),
                                  ONR_DB_INT(now)));
}

int onr_registry_device(struct onr_db *db, const char *dev, size_t len,
                        struct onr_registry_device *out)
{
    if (len != ONR_DEVID_LEN)
        return ONR_ENOENT;
    memcpy(out->dev, dev, len);
    out->dev[len] = '\0';
    return onr_db_get(db, "SELECT identity_key, sealing_key, claim_hash FROM devices"
                          " WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(out->dev)),
                      ONR_DB_COLS(ONR_DB_OUT_EXACT(out->identity_key),
                                  ONR_DB_OUT_EXACT(out->sealing_key),
                                  ONR_DB_OUT_EXACT(out->claim_hash)));
}

int onr_registry_state(struct onr_db *db, const char *dev, int *state, uint64_t *assigned_at)
{
    *assigned_at = 0;
    return onr_db_get(db, "SELECT d.state, a.assigned_at FROM devices d"
                          " LEFT JOIN assignments a ON a.dev = d.dev WHERE d.dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_INT(state), ONR_DB_OUT_U64(assigned_at)));
}

int onr_registry_set_state(struct onr_db *db, const char *dev, int state)
{
    return onr_db_run_one(db, "UPDATE devices SET state = ?2 WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(state)));
}

/* ---- assignments, the audit, waiting hellos ------------------------------------- */

int onr_registry_assignment(struct onr_db *db, const char *dev,
                            struct onr_registry_assignment *out)
{
    return onr_db_get(db, "SELECT provider, operator, operator_key FROM assignments"
                          " WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXT(out->provider), ONR_DB_OUT_TEXT(out->op),
                                  ONR_DB_OUT_EXACT(out->op_key)));
}

int onr_registry_assign(struct onr_db *db, const char *dev,
                        const struct onr_registry_assignment *a, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO assignments (dev, provider, operator, operator_key,"
                          " assigned_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dev) DO UPDATE"
                          " SET operator = excluded.operator,"
                          " operator_key = excluded.operator_key"
                          " WHERE assignments.provider = excluded.provider",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(a->provider), ONR_DB_STR(a->op),
                                  ONR_DB_ARRAY(a->op_key), ONR_DB_INT(now)));
}

int onr_registry_unassign(struct onr_db *db, const char *dev)
{
    return onr_db_run(db, "DELETE FROM assignments WHERE dev = ?1", ONR_DB_ARGS(ONR_DB_STR(dev)));
}

int onr_registry_audit(struct onr_db *db, uint64_t now, const char *provider, const char *dev,
                       const char *result)
{
    return onr_db_run(db, "INSERT INTO claim_audit (at, provider, dev, result)"
                          " VALUES (?1, ?2, ?3, ?4)",
                      ONR_DB_ARGS(ONR_DB_INT(now), ONR_DB_STR(provider), ONR_DB_STR(dev),
                                  ONR_DB_STR(result)));
}

int onr_registry_wait(struct onr_db *db, const char *dev, const uint8_t nonce[16],
                      const uint8_t hello_id[16], uint64_t now)
{
    return onr_db_run(db, "INSERT INTO waiting (dev, nonce, hello_id, at) VALUES (?1, ?2, ?3, ?4)"
                          " ON CONFLICT (dev) DO UPDATE SET nonce = excluded.nonce,"
                          " hello_id = excluded.hello_id, at = excluded.at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(nonce, 16),
                                  ONR_DB_BLOB(hello_id, 16), ONR_DB_INT(now)));
}

int onr_registry_waiting(struct onr_db *db, const char *dev, uint8_t nonce[16],
                         uint8_t hello_id[16])
{
    return onr_db_get(db, "SELECT nonce, hello_id FROM waiting WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_EXACTN(nonce, 16), ONR_DB_OUT_EXACTN(hello_id, 16)));
}

int onr_registry_unwait(struct onr_db *db, const char *dev)
{
    return onr_db_run(db, "DELETE FROM waiting WHERE dev = ?1", ONR_DB_ARGS(ONR_DB_STR(dev)));
}
