/* The manufacturer's kits in its registry (see kits.h). */
#include "kits.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

int onr_registry_add_kit(struct onr_db *db, const struct onr_registry_kit *k, uint64_t now)
{
    int rc;

    if (k->n_devs < 2 || k->n_devs > ONR_KIT_DEVICES_MAX)
        return ONR_EINVAL;
    rc = onr_db_run(db, "INSERT INTO kits (kit, claim_hash, made_at) VALUES (?1, ?2, ?3)",
                    ONR_DB_ARGS(ONR_DB_STR(k->kit), ONR_DB_ARRAY(k->claim_hash),
                                ONR_DB_INT(now)));
    for (size_t i = 0; i < k->n_devs && rc == ONR_OK; i++)
        rc = onr_db_run(db, "INSERT INTO kit_devices (dev, kit, position) VALUES (?1, ?2, ?3)",
                        ONR_DB_ARGS(ONR_DB_STR(k->devs[i]), ONR_DB_STR(k->kit),
                                    ONR_DB_INT(i)));
    return rc;
}

int onr_registry_kit(struct onr_db *db, const char *kit, size_t len,
                     struct onr_registry_kit *out)
{
    struct onr_db_rows *rows = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (onr_kit_id_check(kit, len) != ONR_OK)
        return ONR_ENOENT;
    memcpy(out->kit, kit, len);
    rc = onr_db_get(db, "SELECT claim_hash FROM kits WHERE kit = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(out->kit)),
                    ONR_DB_COLS(ONR_DB_OUT_EXACT(out->claim_hash)));
    if (rc == ONR_OK)
        rc = onr_db_query(db, "SELECT dev FROM kit_devices WHERE kit = ?1 ORDER BY position",
                          ONR_DB_ARGS(ONR_DB_STR(out->kit)), &rows);
    while (rc == ONR_OK) {
        if (out->n_devs == ONR_KIT_DEVICES_MAX) {
            rc = ONR_EIO; /* more than a kit holds: not as stored */
            break;
        }
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(out->devs[out->n_devs])));
        if (rc == ONR_OK)
            out->n_devs++;
    }
    onr_db_query_end(rows);
    if (rc == ONR_ENOENT && out->n_devs > 0)
        rc = out->n_devs >= 2 ? ONR_OK : ONR_EIO;
    return rc;
}

int onr_registry_kit_of(struct onr_db *db, const char *dev, char kit[ONR_KIT_ID_LEN + 1])
{
    return onr_db_get(db, "SELECT kit FROM kit_devices WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXTN(kit, ONR_KIT_ID_LEN + 1)));
}

int onr_registry_assign_through(struct onr_db *db, const char *dev, const char *kit)
{
    return onr_db_run_one(db, "UPDATE assignments SET kit = ?2 WHERE dev = ?1",
                          ONR_DB_ARGS(ONR_DB_STR(dev), ONR_DB_STR(kit)));
}

int onr_registry_assigned_through(struct onr_db *db, const char *dev,
                                  char kit[ONR_KIT_ID_LEN + 1])
{
    size_t len = 0;
    int rc = onr_db_get(db, "SELECT kit FROM assignments WHERE dev = ?1",
                        ONR_DB_ARGS(ONR_DB_STR(dev)),
                        ONR_DB_COLS(ONR_DB_OUT_ANY(kit, ONR_KIT_ID_LEN, &len)));

    if (rc == ONR_OK)
        kit[len] = '\0';
    return rc;
}
