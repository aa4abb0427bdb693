/* Application keys and alignments (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

int prov_key_order_take(struct onr_db *db, const char *dev, const char *op, uint64_t sqn)
{
    int rc = onr_db_run_one(db, "INSERT INTO key_orders (dev, op, sqn) VALUES (?1, ?2, ?3)"
                                " ON CONFLICT (dev, op) DO UPDATE SET sqn = excluded.sqn"
                                " WHERE key_orders.sqn < excluded.sqn",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(op), ONR_DB_INT(sqn)));

    return rc == ONR_ENOENT ? ONR_EEXIST : rc;
}

int prov_app_key_put(struct onr_db *db, const struct prov_app_key *k, uint64_t now)
{
    return onr_db_run_later(db, "INSERT INTO app_keys (dev, op, kid, sealed, imsi, iccid,"
                                " received_at, sqn, key_msg) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                " ?8, ?9)"
                                " ON CONFLICT (dev) DO UPDATE SET"
                                " op = excluded.op, kid = excluded.kid, sealed = excluded.sealed,"
                                " imsi = excluded.imsi, iccid = excluded.iccid,"
                                " received_at = excluded.received_at, sqn = excluded.sqn,"
                                " key_msg = excluded.key_msg",
                            ONR_DB_ARGS(ONR_DB_STR(k->dev), ONR_DB_STR(k->op), ONR_DB_ARRAY(k->kid),
                                        ONR_DB_ARRAY(k->sealed), ONR_DB_STR(k->imsi),
                                        ONR_DB_STR(k->iccid), ONR_DB_INT(now), ONR_DB_INT(k->sqn),
                                        ONR_DB_ARRAY(k->re)));
}

int prov_app_key_answered(struct onr_db *db, const char *dev, const uint8_t re[ONR_MSG_ID_LEN])
{
    return onr_db_run(db, "UPDATE app_keys SET key_msg = ?2 WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_BLOB(re, ONR_MSG_ID_LEN)));
}

int prov_app_key_get(struct onr_db *db, const char *dev, struct prov_app_key *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    size_t re_len = 0;
    int rc = onr_db_get(db, "SELECT op, kid, sealed, imsi, iccid, sqn, key_msg FROM app_keys"
                            " WHERE dev = ?1",
                        ONR_DB_ARGS(ONR_DB_STR(dev)),
                        ONR_DB_COLS(ONR_DB_OUT_TEXT(out->op), ONR_DB_OUT_EXACT(out->kid),
                                    ONR_DB_OUT_EXACT(out->sealed), ONR_DB_OUT_TEXT(out->imsi),
                                    ONR_DB_OUT_TEXT(out->iccid), ONR_DB_OUT_U64(&out->sqn),
                                    ONR_DB_OUT_ANY(out->re, sizeof(out->re), &re_len)));

    if (rc == ONR_OK && re_len != sizeof(out->re))
        memset(out->re, 0, sizeof(out->re)); /* stored before the column */
    return rc;
}

int prov_alignment_start(struct onr_db *db, const char *dev, const char *op)
{
    return onr_db_run_later(db, "INSERT INTO alignments (dev, op) VALUES (?1, ?2)"
                                " ON CONFLICT (dev) DO UPDATE SET op = excluded.op,"
                                " aligned_at = CASE WHEN alignments.op = excluded.op"
                                " THEN alignments.aligned_at END",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(op)));
}

int prov_alignment_done(struct onr_db *db, const char *dev, uint64_t now)
{
    return onr_db_run_later(db, "UPDATE alignments SET aligned_at = ?2 WHERE dev = ?1",
                            ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now)));
}
