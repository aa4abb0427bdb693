/* The operator's subscribers and AKA challenges (see subscribers.h). */
#include "subscribers.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/milenage.h"
#include "pool.h"

#define SUB_COLUMNS "slot, imsi, iccid, ki, opc, amf, sqn, mfr, prov, state, kid"

/* The subscription `sql` returns for `dev` (?1): SUB_COLUMNS. */
static int sub_read(struct onr_db *db, const char *sql, const char *dev,
                    struct op_subscriber *out)
{
    size_t kid_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    rc = onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_U64(&out->slot), ONR_DB_OUT_TEXT(out->imsi),
                                ONR_DB_OUT_TEXT(out->iccid), ONR_DB_OUT_EXACT(out->keys.k),
                                ONR_DB_OUT_EXACT(out->keys.opc),
                                ONR_DB_OUT_EXACT(out->keys.amf), ONR_DB_OUT_U64(&out->sqn),
                                ONR_DB_OUT_TEXT(out->mfr), ONR_DB_OUT_TEXT(out->prov),
                                ONR_DB_OUT_INT(&out->state),
                                ONR_DB_OUT_ANY(out->kid, sizeof(out->kid), &kid_len)));
    if (rc == ONR_OK && kid_len != 0 && kid_len != sizeof(out->kid))
        rc = ONR_EIO;
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    return rc;
}

int op_sub_get(struct onr_db *db, const char *dev, struct op_subscriber *out)
{
    return sub_read(db, "SELECT " SUB_COLUMNS " FROM subscribers WHERE dev = ?1", dev, out);
}

int op_sub_get_locked(struct onr_db *db, const char *dev, struct op_subscriber *out)
{
    /* a write that changes nothing, read back in the same statement */
    return sub_read(db, "UPDATE subscribers SET state = state WHERE dev = ?1"
                        " RETURNING " SUB_COLUMNS, dev, out);
}

int op_sub_allocate(struct onr_db *db, const struct op_ranges *r, const char *dev,
                    const char *mfr, const char *prov, const uint8_t op[16],
                    const uint8_t amf[2], uint64_t now, struct op_subscriber *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    snprintf(out->mfr, sizeof(out->mfr), "%s", mfr);
    snprintf(out->prov, sizeof(out->prov), "%s", prov);
    memcpy(out->keys.amf, amf, 2);
    rc = op_pool_take(db, r, &out->slot, out->imsi, out->iccid);
    if (rc == ONR_OK)
        rc = onr_random(out->keys.k, sizeof(out->keys.k));
    if (rc == ONR_OK)
        rc = onr_milenage_opc(out->keys.k, op, out->keys.opc);
    if (rc == ONR_OK)
        rc = onr_db_run(db, "INSERT INTO subscribers (dev, slot, imsi, iccid, ki, opc, amf, sqn,"
                            " mfr, prov, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8,"
                            " ?9, ?10)",
                        ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(out->slot),
                                    ONR_DB_STR(out->imsi), ONR_DB_STR(out->iccid),
                                    ONR_DB_ARRAY(out->keys.k), ONR_DB_ARRAY(out->keys.opc),
                                    ONR_DB_ARRAY(out->keys.amf), ONR_DB_STR(mfr),
                                    ONR_DB_STR(prov), ONR_DB_INT(now)));
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    return rc;
}

/* A new state to write, or (negative) NULL: the stored one is kept, not
 * overwritten with what this handler read (another instance may have
 * moved it since). */
static struct onr_db_arg state_arg(int state)
{
    return state >= 0 ? ONR_DB_INT(state) : ONR_DB_NULLV;
}

int op_sub_set_state(struct onr_db *db, const char *dev, int state)
{
    return onr_db_run_one(db, "UPDATE subscribers SET state = ?2 WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(state)));
}

int op_sub_set_owner(struct onr_db *db, const char *dev, const char *mfr, const char *prov)
{
    return onr_db_run(db, "UPDATE subscribers SET mfr = ?2, prov = ?3 WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(mfr), ONR_DB_STR(prov)));
}

int op_sub_attach(struct onr_db *db, const char *dev, const uint8_t kid[ONR_AKMA_KID_LEN],
                  const uint8_t sealed_key[ONR_SEALED_APP_KEY_LEN], uint64_t sqn, uint64_t now,
                  int state)
{
    int rc = onr_db_run_one(db, "UPDATE subscribers SET kid = ?2, app_key = ?3, attached_at = ?4,"
                                " key_sqn = ?5, state = COALESCE(?6, state)"
                                " WHERE dev = ?1 AND key_sqn < ?5",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(kid, ONR_AKMA_KID_LEN),
                                        ONR_DB_BLOB(sealed_key, ONR_SEALED_APP_KEY_LEN),
                                        ONR_DB_INT(now), ONR_DB_INT(sqn), state_arg(state)));

    return rc == ONR_ENOENT ? ONR_EEXIST : rc;
}

int op_sub_align(struct onr_db *db, const char *dev, uint64_t qos, const char *charging,
                 uint64_t cap, uint64_t now, int state)
{
    return onr_db_run_one(db, "UPDATE subscribers SET qos = ?2, charging = ?3, cap = ?4,"
                              " aligned_at = ?5, state = COALESCE(?6, state) WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(qos), ONR_DB_STR(charging),
                                      ONR_DB_INT(cap), ONR_DB_INT(now), state_arg(state)));
}

int op_sub_forget_attach(struct onr_db *db, const char *dev, int state)
{
    return onr_db_run_one(db, "UPDATE subscribers SET kid = NULL, app_key = NULL,"
                              " aligned_at = NULL, state = COALESCE(?2, state) WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), state_arg(state)));
}

int op_sub_set_sqn(struct onr_db *db, const char *dev, uint64_t old, uint64_t sqn)
{
    /* conditional: an instance that read the same SQN and lost the race
     * changes nothing (ONR_EBUSY: the device asks again) */
    int rc = onr_db_run_one(db, "UPDATE subscribers SET sqn = ?3 WHERE dev = ?1 AND sqn = ?2",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(old), ONR_DB_INT(sqn)));

    return rc == ONR_ENOENT ? ONR_EBUSY : rc;
}

int op_sub_status(struct onr_db *db, const char *dev, struct op_status *out)
{
    memset(out, 0, sizeof(*out));
    /* NULL times read 0: not (yet) */
    return onr_db_get(db, "SELECT state, created_at, attached_at, aligned_at FROM subscribers"
                          " WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_INT(&out->state), ONR_DB_OUT_U64(&out->profiled),
                                  ONR_DB_OUT_U64(&out->attached),
                                  ONR_DB_OUT_U64(&out->aligned)));
}

/* ---- AKA challenges ----------------------------------------------------------- */

int op_challenge_put(struct onr_db *db, const char *dev, const uint8_t rand[16], uint64_t sqn,
                     uint64_t now)
{
    return onr_db_run_later(db, "INSERT INTO challenges (rand, dev, sqn, created_at)"
                                " VALUES (?1, ?2, ?3, ?4)",
                            ONR_DB_ARGS(ONR_DB_BLOB(rand, 16), ONR_DB_STR(dev), ONR_DB_INT(sqn),
                                        ONR_DB_INT(now)));
}

int op_challenge_take(struct onr_db *db, const char *dev, const uint8_t rand[16],
                      uint64_t not_before, uint64_t *sqn)
{
    /* one conditional write: of two instances taking one challenge, the
     * second finds it used (ONR_ENOENT) */
    return onr_db_get(db, "UPDATE challenges SET used = 1 WHERE rand = ?1 AND dev = ?2"
                          " AND used = 0 AND created_at >= ?3 RETURNING sqn",
                      ONR_DB_ARGS(ONR_DB_BLOB(rand, 16), ONR_DB_STR(dev),
                                  ONR_DB_INT(not_before)),
                      ONR_DB_COLS(ONR_DB_OUT_U64(sqn)));
}

int op_challenges_prune(struct onr_db *db, uint64_t before)
{
    return onr_db_run(db, "DELETE FROM challenges WHERE created_at < ?1",
                      ONR_DB_ARGS(ONR_DB_INT(before)));
}
