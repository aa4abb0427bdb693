/* The provider's claims and what hangs on them (see claims.h). */
#include "claims.h"

#include <string.h>

#include "onramp/error.h"

#define CLAIM_COLUMNS "dev, mfr, account, operator, state, pairing_id, asker, user_choice, policy"

/* The claim `sql` returns for `dev` (?1): CLAIM_COLUMNS. */
static int claim_read(struct onr_db *db, const char *sql, const char *dev,
                      struct prov_claim *out)
{
    int state = 0;
    size_t policy_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_TEXT(out->dev), ONR_DB_OUT_TEXT(out->mfr),
                                ONR_DB_OUT_TEXT(out->account), ONR_DB_OUT_TEXT(out->op),
                                ONR_DB_OUT_INT(&state), ONR_DB_OUT_EXACT(out->pairing_id),
                                ONR_DB_OUT_TEXT(out->asker), ONR_DB_OUT_INT(&out->user),
                                ONR_DB_OUT_ANY(out->policy, sizeof(out->policy) - 1,
                                               &policy_len)));
    out->policy[policy_len] = '\0';
    if (rc == ONR_OK && (state <= PROV_STEP_NONE || state >= PROV_STEP_COUNT))
        rc = ONR_EIO;
    out->state = (enum prov_step)state;
    return rc;
}

int prov_claim_get(struct onr_db *db, const char *dev, struct prov_claim *out)
{
    return claim_read(db, "SELECT " CLAIM_COLUMNS " FROM claims WHERE dev = ?1", dev, out);
}

int prov_claim_get_locked(struct onr_db *db, const char *dev, struct prov_claim *out)
{
    /* a write that changes nothing, read back in the same statement */
    return claim_read(db, "UPDATE claims SET state = state WHERE dev = ?1"
                          " RETURNING " CLAIM_COLUMNS, dev, out);
}

int prov_claim_lock(struct onr_db *db, const char *dev)
{
    struct prov_claim c;

    return prov_claim_get_locked(db, dev, &c);
}

int prov_claim_put(struct onr_db *db, const struct prov_claim *c,
                   const uint8_t sealed[ONR_LABEL_SEALED_LEN], uint64_t now)
{
    static const char sql[] =
        "INSERT INTO claims (dev, mfr, account, operator, state, pairing_id, asker, created_at,"
        " user_choice, policy, sealed_claim)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (dev) DO UPDATE SET"
        " mfr = excluded.mfr, account = excluded.account, operator = excluded.operator,"
        " state = excluded.state, pairing_id = excluded.pairing_id, asker = excluded.asker,"
        " created_at = excluded.created_at, claimed_at = NULL,"
        " user_choice = excluded.user_choice, policy = excluded.policy,"
        " sealed_claim = excluded.sealed_claim";

    return onr_db_run(db, sql,
                      ONR_DB_ARGS(ONR_DB_STR(c->dev), ONR_DB_STR(c->mfr),
                                  ONR_DB_STR(c->account), ONR_DB_STR(c->op),
                                  ONR_DB_INT(PROV_STEP_REGISTERING), ONR_DB_ARRAY(c->pairing_id),
                                  ONR_DB_STR(c->asker), ONR_DB_INT(now), ONR_DB_INT(c->user),
                                  c->policy[0] != '\0' ? ONR_DB_STR(c->policy) : ONR_DB_NULLV,
                                  ONR_DB_BLOB(sealed, ONR_LABEL_SEALED_LEN)));
}

int prov_sealed_read(struct onr_db *db, const char *sql, const char *key,
                     uint8_t out[ONR_LABEL_SEALED_LEN])
{
    size_t len = 0;
    int rc = onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR(key)),
                        ONR_DB_COLS(ONR_DB_OUT_ANY(out, ONR_LABEL_SEALED_LEN, &len)));

    /* NULL (a claim made before it was kept) reads empty */
    return rc == ONR_OK && len != ONR_LABEL_SEALED_LEN ? ONR_ENOENT : rc;
}

int prov_policy_write(struct onr_db *db, const char *sql, const char *key, const char *policy)
{
    return onr_db_run_one(db, sql,
                          ONR_DB_ARGS(ONR_DB_STR(key), policy[0] != '\0' ? ONR_DB_STR(policy)
                                                                         : ONR_DB_NULLV));
}

int prov_claim_sealed(struct onr_db *db, const char *dev, uint8_t out[ONR_LABEL_SEALED_LEN])
{
    return prov_sealed_read(db, "SELECT sealed_claim FROM claims WHERE dev = ?1", dev, out);
}

int prov_claim_set_policy(struct onr_db *db, const char *dev, const char *policy)
{
    return prov_policy_write(db, "UPDATE claims SET policy = ?2 WHERE dev = ?1", dev, policy);
}

int prov_claim_set_state(struct onr_db *db, const char *dev, enum prov_step state)
{
    return onr_db_run_one(db, "UPDATE claims SET state = ?2 WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(state)));
}

int prov_claim_confirmed(struct onr_db *db, const char *dev, uint64_t now)
{
    return onr_db_run_later(db, "UPDATE claims SET claimed_at = ?2 WHERE dev = ?1",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now)));
}

int prov_claim_drop(struct onr_db *db, const char *dev)
{
    return onr_db_run(db, "DELETE FROM claims WHERE dev = ?1", ONR_DB_ARGS(ONR_DB_STR(dev)));
}

int prov_device_forget(struct onr_db *db, const char *dev)
{
    static const char *const sql[] = {
        "DELETE FROM claims WHERE dev = ?1",      "DELETE FROM app_keys WHERE dev = ?1",
        "DELETE FROM alignments WHERE dev = ?1",  "DELETE FROM operational WHERE dev = ?1",
        "DELETE FROM web_refusals WHERE dev = ?1", "DELETE FROM roaming WHERE dev = ?1",
    };
    /* key_orders stay: an operator's SQNs only grow, so a key of the
     * device's next claim is newer, and a late one of this claim is not */
    int rc = ONR_OK;

    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == ONR_OK; i++)
        rc = onr_db_run(db, sql[i], ONR_DB_ARGS(ONR_DB_STR(dev)));
    return rc;
}

int prov_release_put(struct onr_db *db, const struct prov_release *r, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO releases (dev, mfr, op, asker, request_id, released_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dev) DO UPDATE SET"
                          " mfr = excluded.mfr, op = excluded.op, asker = excluded.asker,"
                          " request_id = excluded.request_id,"
                          " released_at = excluded.released_at",
                      ONR_DB_ARGS(ONR_DB_STR(r->dev), ONR_DB_STR(r->mfr), ONR_DB_STR(r->op),
                                  ONR_DB_STR(r->asker), ONR_DB_ARRAY(r->request_id),
                                  ONR_DB_INT(now)));
}

int prov_release_get(struct onr_db *db, const char *dev, struct prov_release *out)
{
    memset(out, 0, sizeof(*out));
    return onr_db_get(db, "SELECT dev, mfr, op, asker, request_id FROM releases WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXT(out->dev), ONR_DB_OUT_TEXT(out->mfr),
                                  ONR_DB_OUT_TEXT(out->op), ONR_DB_OUT_TEXT(out->asker),
                                  ONR_DB_OUT_EXACT(out->request_id)));
}

int prov_operational_put(struct onr_db *db, const char *dev, uint64_t now)
{
    return onr_db_run_later(db, "INSERT INTO operational (dev, operational_at) VALUES (?1, ?2)"
                                " ON CONFLICT (dev) DO NOTHING",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now)));
}

int prov_web_refusal_put(struct onr_db *db, const char *dev, const char *reason, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO web_refusals (dev, reason, refused_at) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (dev) DO UPDATE SET reason = excluded.reason,"
                          " refused_at = excluded.refused_at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_TEXTN(reason, strnlen(reason, 127)),
                                  ONR_DB_INT(now)));
}

int prov_web_refusal_get(struct onr_db *db, const char *dev, char *reason, size_t cap,
                         uint64_t *at)
{
    return onr_db_get(db, "SELECT reason, refused_at FROM web_refusals WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXTN(reason, cap), ONR_DB_OUT_U64(at)));
}

/* ---- roaming: where a device is and where it goes ------------------------------ */

/* An empty text reads NULL (a column of none). */
static struct onr_db_arg text_or_null(const char *s)
{
    return s[0] != '\0' ? ONR_DB_STR(s) : ONR_DB_NULLV;
}

int prov_roaming_get(struct onr_db *db, const char *dev, struct prov_roaming_row *out)
{
    size_t plmn_len = 0, target_len = 0, prev_len = 0, no_plmn_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_db_get(db, "SELECT plmn, target, relocating_at, relocations, relocated_at,"
                        " prev_op, no_operator_plmn, no_operator_at FROM roaming WHERE dev = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_ANY(out->plmn, ONR_PLMN_MAX, &plmn_len),
                                ONR_DB_OUT_ANY(out->target, ONR_SERVICE_ID_MAX, &target_len),
                                ONR_DB_OUT_U64(&out->relocating_at),
                                ONR_DB_OUT_U64(&out->relocations),
                                ONR_DB_OUT_U64(&out->relocated_at),
                                ONR_DB_OUT_ANY(out->prev_op, ONR_SERVICE_ID_MAX, &prev_len),
                                ONR_DB_OUT_ANY(out->no_operator_plmn, ONR_PLMN_MAX,
                                               &no_plmn_len),
                                ONR_DB_OUT_U64(&out->no_operator_at)));
    if (rc == ONR_ENOENT) {
        memset(out, 0, sizeof(*out));
        return ONR_OK;
    }
    out->plmn[plmn_len] = '\0';
    out->target[target_len] = '\0';
    out->prev_op[prev_len] = '\0';
    out->no_operator_plmn[no_plmn_len] = '\0';
    return rc;
}

int prov_reported(struct onr_db *db, const char *dev, const char *plmn, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO roaming (dev, plmn, reported_at) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (dev) DO UPDATE SET plmn = excluded.plmn,"
                          " reported_at = excluded.reported_at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(plmn), ONR_DB_INT(now)));
}

int prov_relocating(struct onr_db *db, const char *dev, const char *target, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO roaming (dev, target, relocating_at) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (dev) DO UPDATE SET target = excluded.target,"
                          " relocating_at = excluded.relocating_at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(target), ONR_DB_INT(now)));
}

int prov_relocated(struct onr_db *db, const char *dev, const char *prev_op, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO roaming (dev, relocations, relocated_at, prev_op)"
                          " VALUES (?1, 1, ?2, ?3) ON CONFLICT (dev) DO UPDATE SET"
                          " relocations = roaming.relocations + 1,"
                          " relocated_at = excluded.relocated_at, prev_op = excluded.prev_op,"
                          " target = NULL, relocating_at = 0",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now), ONR_DB_STR(prev_op)));
}

int prov_no_operator(struct onr_db *db, const char *dev, const char *plmn, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO roaming (dev, no_operator_plmn, no_operator_at)"
                          " VALUES (?1, ?2, ?3) ON CONFLICT (dev) DO UPDATE SET"
                          " no_operator_plmn = excluded.no_operator_plmn,"
                          " no_operator_at = excluded.no_operator_at",
                      ONR_DB_ARGS(ONR_DB_STR(dev), text_or_null(plmn), ONR_DB_INT(now)));
}
