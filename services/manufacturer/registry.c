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
    {"roaming: each assignment's policy, its operators' keys and the end user's choice; the "
     "visited PLMN a waiting hello reported; each device's last voucher (PLMN, operator, "
     "reason) and its last no_operator notice",
     "ALTER TABLE assignments ADD COLUMN user_choice INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE assignments ADD COLUMN policy TEXT;"
     "ALTER TABLE assignments ADD COLUMN op_keys BLOB;"
     "ALTER TABLE waiting ADD COLUMN plmn TEXT;"
     "CREATE TABLE roaming ("
     "  dev TEXT PRIMARY KEY REFERENCES devices(dev),"
     "  plmn TEXT,"
     "  operator TEXT,"
     "  why TEXT,"
     "  vouched_at INTEGER NOT NULL DEFAULT 0,"
     "  no_operator_at INTEGER NOT NULL DEFAULT 0"
     ");",
     NULL},
    {"the region of the broker a waiting hello came through (its country where the hello "
     "reports no visited network)",
     "ALTER TABLE waiting ADD COLUMN region TEXT;",
     NULL},
    {"pending: indexes for the counters' oldest row of each kind and for a request's rows by "
     "key", ONR_SVC_SCHEMA_PENDING_INDEXES, NULL},
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

int onr_registry_lock(struct onr_db *db, const char *dev)
{
    /* a write that changes nothing */
    return onr_db_run(db, "UPDATE devices SET state = state WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)));
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
    memset(out, 0, sizeof(*out));
    return onr_db_get(db, "SELECT provider, operator, operator_key, user_choice, policy,"
                          " op_keys FROM assignments WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXT(out->provider), ONR_DB_OUT_TEXT(out->op),
                                  ONR_DB_OUT_EXACT(out->op_key), ONR_DB_OUT_INT(&out->user),
                                  ONR_DB_OUT_ANY(out->policy, sizeof(out->policy) - 1,
                                                 &out->policy_len),
                                  ONR_DB_OUT_ANY(out->op_keys, sizeof(out->op_keys),
                                                 &out->op_keys_len)));
}

int onr_registry_assign(struct onr_db *db, const char *dev,
                        const struct onr_registry_assignment *a, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO assignments (dev, provider, operator, operator_key,"
                          " assigned_at, user_choice, policy, op_keys)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (dev) DO UPDATE"
                          " SET operator = excluded.operator,"
                          " operator_key = excluded.operator_key,"
                          " user_choice = excluded.user_choice, policy = excluded.policy,"
                          " op_keys = excluded.op_keys"
                          " WHERE assignments.provider = excluded.provider",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(a->provider), ONR_DB_STR(a->op),
                                  ONR_DB_ARRAY(a->op_key), ONR_DB_INT(now),
                                  ONR_DB_INT(a->user != 0),
                                  a->policy_len > 0 ? ONR_DB_TEXTN(a->policy, a->policy_len)
                                                    : ONR_DB_NULLV,
                                  ONR_DB_BLOB(a->op_keys_len > 0 ? a->op_keys : NULL,
                                              a->op_keys_len)));
}

int onr_registry_unassign(struct onr_db *db, const char *dev)
{
    int rc = onr_db_run(db, "DELETE FROM assignments WHERE dev = ?1",
                        ONR_DB_ARGS(ONR_DB_STR(dev)));

    /* the next owner's device starts with no voucher of ours on record */
    return rc == ONR_OK ? onr_db_run(db, "DELETE FROM roaming WHERE dev = ?1",
                                     ONR_DB_ARGS(ONR_DB_STR(dev)))
                        : rc;
}

int onr_registry_audit(struct onr_db *db, uint64_t now, const char *provider, const char *dev,
                       const char *result)
{
    return onr_db_run(db, "INSERT INTO claim_audit (at, provider, dev, result)"
                          " VALUES (?1, ?2, ?3, ?4)",
                      ONR_DB_ARGS(ONR_DB_INT(now), ONR_DB_STR(provider), ONR_DB_STR(dev),
                                  ONR_DB_STR(result)));
}

int onr_registry_wait(struct onr_db *db, const char *dev, const struct onr_registry_hello *h,
                      uint64_t now)
{
    return onr_db_run(db, "INSERT INTO waiting (dev, nonce, hello_id, at, plmn, region)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                          " ON CONFLICT (dev) DO UPDATE SET nonce = excluded.nonce,"
                          " hello_id = excluded.hello_id, at = excluded.at, plmn = excluded.plmn,"
                          " region = excluded.region",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_ARRAY(h->nonce),
                                  ONR_DB_ARRAY(h->hello_id), ONR_DB_INT(now),
                                  h->plmn[0] != '\0' ? ONR_DB_STR(h->plmn) : ONR_DB_NULLV,
                                  h->region[0] != '\0' ? ONR_DB_STR(h->region) : ONR_DB_NULLV));
}

int onr_registry_waiting(struct onr_db *db, const char *dev, struct onr_registry_hello *out)
{
    size_t plmn_len = 0;
    size_t region_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_db_get(db, "SELECT nonce, hello_id, plmn, region FROM waiting WHERE dev = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_EXACT(out->nonce), ONR_DB_OUT_EXACT(out->hello_id),
                                ONR_DB_OUT_ANY(out->plmn, sizeof(out->plmn) - 1, &plmn_len),
                                ONR_DB_OUT_ANY(out->region, sizeof(out->region) - 1,
                                               &region_len)));
    out->plmn[plmn_len] = '\0';
    out->region[region_len] = '\0';
    return rc;
}

int onr_registry_unwait(struct onr_db *db, const char *dev)
{
    return onr_db_run(db, "DELETE FROM waiting WHERE dev = ?1", ONR_DB_ARGS(ONR_DB_STR(dev)));
}

/* ---- roaming: each device's last voucher and no_operator notice ------------------ */

int onr_registry_vouched(struct onr_db *db, const char *dev, const char *plmn, const char *op,
                         const char *why, uint64_t now)
{
    return onr_db_run_later(db, "INSERT INTO roaming (dev, plmn, operator, why, vouched_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dev) DO UPDATE SET"
                                " plmn = excluded.plmn, operator = excluded.operator,"
                                " why = excluded.why, vouched_at = excluded.vouched_at",
                            ONR_DB_ARGS(ONR_DB_STR(dev),
                                        plmn[0] != '\0' ? ONR_DB_STR(plmn) : ONR_DB_NULLV,
                                        ONR_DB_STR(op), ONR_DB_STR(why), ONR_DB_INT(now)));
}

int onr_registry_reported(struct onr_db *db, const char *dev, const char *plmn)
{
    return onr_db_run(db, "INSERT INTO roaming (dev, plmn) VALUES (?1, ?2)"
                          " ON CONFLICT (dev) DO UPDATE SET plmn = excluded.plmn",
                      ONR_DB_ARGS(ONR_DB_STR(dev), plmn[0] != '\0' ? ONR_DB_STR(plmn)
                                                               : ONR_DB_NULLV));
}

int onr_registry_roaming(struct onr_db *db, const char *dev, struct onr_registry_roaming *out)
{
    size_t plmn_len = 0, op_len = 0, why_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_db_get(db, "SELECT plmn, operator, why, vouched_at FROM roaming WHERE dev = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_ANY(out->plmn, sizeof(out->plmn) - 1, &plmn_len),
                                ONR_DB_OUT_ANY(out->op, sizeof(out->op) - 1, &op_len),
                                ONR_DB_OUT_ANY(out->why, sizeof(out->why) - 1, &why_len),
                                ONR_DB_OUT_U64(&out->vouched_at)));
    out->plmn[plmn_len] = '\0';
    out->op[op_len] = '\0';
    out->why[why_len] = '\0';
    return rc;
}

int onr_registry_no_operator_due(struct onr_db *db, const char *dev, uint64_t now,
                                 uint64_t window)
{
    int rc = onr_db_run(db, "INSERT INTO roaming (dev, no_operator_at) VALUES (?1, ?2)"
                            " ON CONFLICT (dev) DO UPDATE SET no_operator_at = excluded.no_operator_at"
                            " WHERE roaming.no_operator_at + ?3 <= excluded.no_operator_at",
                        ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now), ONR_DB_INT(window)));

    if (rc != ONR_OK)
        return rc;
    return onr_db_changes(db) > 0 ? ONR_OK : ONR_EBUSY;
}
