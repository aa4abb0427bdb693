/* The provider's kit claims (see kits.h). */
#include "kits.h"

#include <string.h>

#include "onramp/error.h"

int prov_kit_get(struct onr_db *db, const char *kit, struct prov_kit *out)
{
    struct onr_db_rows *rows = NULL;
    size_t policy_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = onr_db_get(db, "SELECT kit, mfr, account, operator, state, pairing_id, asker,"
                        " user_choice, policy FROM kit_claims WHERE kit = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(kit)),
                    ONR_DB_COLS(ONR_DB_OUT_TEXT(out->kit), ONR_DB_OUT_TEXT(out->mfr),
                                ONR_DB_OUT_TEXT(out->account), ONR_DB_OUT_TEXT(out->op),
                                ONR_DB_OUT_INT(&out->registered),
                                ONR_DB_OUT_EXACT(out->pairing_id),
                                ONR_DB_OUT_TEXT(out->asker), ONR_DB_OUT_INT(&out->user),
                                ONR_DB_OUT_ANY(out->policy, sizeof(out->policy) - 1,
                                               &policy_len)));
    out->policy[policy_len] = '\0';
    if (rc == ONR_OK)
        rc = onr_db_query(db, "SELECT dev FROM kit_devices WHERE kit = ?1 ORDER BY position",
                          ONR_DB_ARGS(ONR_DB_STR(kit)), &rows);
    while (rc == ONR_OK) {
        if (out->n_devs == ONR_KIT_DEVICES_MAX) {
            rc = ONR_EIO;
            break;
        }
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(out->devs[out->n_devs])));
        if (rc == ONR_OK)
            out->n_devs++;
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT && out->kit[0] != '\0' ? ONR_OK : rc;
}

int prov_kit_put(struct onr_db *db, const struct prov_kit *k,
                 const uint8_t sealed[ONR_LABEL_SEALED_LEN], uint64_t now)
{
    return onr_db_run(db, "INSERT INTO kit_claims (kit, mfr, account, operator, state,"
                          " pairing_id, asker, created_at, user_choice, policy, sealed_claim)"
                          " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10)"
                          " ON CONFLICT (kit) DO UPDATE SET pairing_id = excluded.pairing_id,"
                          " asker = excluded.asker, policy = excluded.policy,"
                          " sealed_claim = excluded.sealed_claim",
                      ONR_DB_ARGS(ONR_DB_STR(k->kit), ONR_DB_STR(k->mfr), ONR_DB_STR(k->account),
                                  ONR_DB_STR(k->op), ONR_DB_ARRAY(k->pairing_id),
                                  ONR_DB_STR(k->asker), ONR_DB_INT(now), ONR_DB_INT(k->user),
                                  k->policy[0] != '\0' ? ONR_DB_STR(k->policy) : ONR_DB_NULLV,
                                  ONR_DB_BLOB(sealed, ONR_LABEL_SEALED_LEN)));
}

int prov_kit_sealed(struct onr_db *db, const char *kit, uint8_t out[ONR_LABEL_SEALED_LEN])
{
    return prov_sealed_read(db, "SELECT sealed_claim FROM kit_claims WHERE kit = ?1", kit, out);
}

int prov_kit_set_policy(struct onr_db *db, const char *kit, const char *policy)
{
    return prov_policy_write(db, "UPDATE kit_claims SET policy = ?2 WHERE kit = ?1", kit,
                             policy);
}

int prov_kit_registered(struct onr_db *db, const struct prov_kit *k, uint64_t now)
{
    int rc = onr_db_run_one(db, "UPDATE kit_claims SET state = 1, registered_at = ?2"
                                " WHERE kit = ?1",
                            ONR_DB_ARGS(ONR_DB_STR(k->kit), ONR_DB_INT(now)));

    if (rc == ONR_OK)
        rc = onr_db_run(db, "DELETE FROM kit_devices WHERE kit = ?1",
                        ONR_DB_ARGS(ONR_DB_STR(k->kit)));
    for (size_t i = 0; i < k->n_devs && rc == ONR_OK; i++)
        rc = onr_db_run(db, "INSERT INTO kit_devices (dev, kit, position) VALUES (?1, ?2, ?3)"
                            " ON CONFLICT (dev) DO UPDATE SET kit = excluded.kit,"
                            " position = excluded.position",
                        ONR_DB_ARGS(ONR_DB_STR(k->devs[i]), ONR_DB_STR(k->kit), ONR_DB_INT(i)));
    return rc;
}

int prov_kit_drop(struct onr_db *db, const char *kit)
{
    int rc = onr_db_run(db, "DELETE FROM kit_devices WHERE kit = ?1",
                        ONR_DB_ARGS(ONR_DB_STR(kit)));

    return rc == ONR_OK ? onr_db_run(db, "DELETE FROM kit_claims WHERE kit = ?1",
                                     ONR_DB_ARGS(ONR_DB_STR(kit)))
                        : rc;
}

int prov_kit_held(struct onr_db *db, const struct prov_kit *k)
{
    int64_t missing = 0;
    int rc;

    if (!k->registered || k->n_devs == 0)
        return 0;
    rc = onr_db_get(db, "SELECT count(*) FROM kit_devices d WHERE d.kit = ?1 AND NOT EXISTS"
                        " (SELECT 1 FROM claims c WHERE c.dev = d.dev AND c.account = ?2"
                        " AND c.state >= ?3)",
                    ONR_DB_ARGS(ONR_DB_STR(k->kit), ONR_DB_STR(k->account),
                                ONR_DB_INT(PROV_STEP_CLAIMED)),
                    ONR_DB_COLS(ONR_DB_OUT_I64(&missing)));
    return rc != ONR_OK ? rc : missing == 0;
}

int prov_kit_of(struct onr_db *db, const char *dev, char kit[ONR_KIT_ID_LEN + 1])
{
    return onr_db_get(db, "SELECT kit FROM kit_devices WHERE dev = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(dev)),
                      ONR_DB_COLS(ONR_DB_OUT_TEXTN(kit, ONR_KIT_ID_LEN + 1)));
}
