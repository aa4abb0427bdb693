/* Application keys and alignments (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

int prov_app_key_put(struct onr_db *db, const struct prov_app_key *k, uint64_t now)
{
    return onr_db_run(db, "INSERT INTO app_keys (dev, op, kid, sealed, imsi, iccid, received_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (dev) DO UPDATE SET"
                          " op = excluded.op, kid = excluded.kid, sealed = excluded.sealed,"
                          " imsi = excluded.imsi, iccid = excluded.iccid,"
                          " received_at = excluded.received_at",
                      ONR_DB_ARGS(ONR_DB_STR(k->dev), ONR_DB_STR(k->op), ONR_DB_ARRAY(k->kid),
                                  ONR_DB_ARRAY(k->sealed), ONR_DB_STR(k->imsi),
                                  ONR_DB_STR(k->iccid), ONR_DB_INT(now)));
}

int prov_app_key_get(struct onr_db *db, const char *dev, struct prov_app_key *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    return onr_db_get(db, "SELECT op, kid, sealed, imsi, iccid FROM app_keys WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXT(out->op), ONR_DB_OUT_EXACT(out->kid),
                                  ONR_DB_OUT_EXACT(out->sealed), ONR_DB_OUT_TEXT(out->imsi),
                                  ONR_DB_OUT_TEXT(out->iccid)));
}

int prov_alignment_start(struct onr_db *db, const char *dev, const char *op)
{
    return onr_db_run(db, "INSERT INTO alignments (dev, op) VALUES (?1, ?2)"
                          " ON CONFLICT (dev) DO UPDATE SET op = excluded.op,"
                          " aligned_at = CASE WHEN alignments.op = excluded.op"
                          " THEN alignments.aligned_at END",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(op)));
}

int prov_alignment_done(struct onr_db *db, const char *dev, uint64_t now)
{
    return onr_db_run(db, "UPDATE alignments SET aligned_at = ?2 WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_INT(now)));
}
