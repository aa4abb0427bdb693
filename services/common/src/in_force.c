/*
 * When a request leaves `in_force` (epoch.c): what a broker that starts
 * empty must be sent, and nothing more, so that bringing a new broker up
 * to date is the state in force, not the whole history.
 *
 *   - A kind that only undoes (settled_forgotten: a grant's revoke) goes
 *     once no broker waits for it: each confirmed it, or its refusal
 *     settled it. A broker that starts empty holds no grant to take back.
 *   - A kind with needed_until (a certificate's revocation) goes past
 *     that time (a day past the certificate's notAfter, when the plugin
 *     drops it anyway).
 *
 * Both are checked when a broker's row of such a request goes, and in a
 * sweep at start (after the rows of brokers no longer configured went)
 * and every hour (two instances settling the last two rows at once each
 * see the other's row: the sweep takes what they left).
 */
#include <string.h>

#include "onramp/error.h"
#include "service_internal.h"

#define SWEEP_EVERY 3600 /* seconds */
#define SWEEP_BATCH 256  /* expired rows one sweep deletes at most per kind */

/* Request `key` of kind `kind` no longer in force. */
static int forget(struct onr_service *svc, const char *key, const char *kind)
{
    return onr_db_run(svc->db, "DELETE FROM in_force WHERE key = ?1 AND kind = ?2",
                      ONR_DB_ARGS(ONR_DB_STR(key), ONR_DB_STR(kind)));
}

int svc_in_force_settled(struct onr_service *svc, const struct onr_delivery_kind *k,
                         const char *key)
{
    int64_t one = 0;
    int rc = ONR_ENOENT;

    if (!k->settled_forgotten)
        return ONR_OK;
    /* a broker's row by its primary key: pending may be long (a broker
     * down for a while), and this runs at each confirmation */
    for (size_t i = 0; i < svc->n_brokers && rc == ONR_ENOENT; i++)
        rc = onr_db_get(svc->db, "SELECT 1 FROM pending WHERE peer = ?1 AND key = ?2",
                        ONR_DB_ARGS(ONR_DB_STR(svc->brokers[i].name), ONR_DB_STR(key)),
                        ONR_DB_COLS(ONR_DB_OUT_I64(&one)));
    if (rc != ONR_ENOENT)
        return rc == ONR_OK ? ONR_OK : rc; /* a broker still waits for it */
    return forget(svc, key, k->name);
}

/* The rows of kind `k` whose request no broker needs after `now`. */
static int sweep_expired(struct onr_service *svc, const struct onr_delivery_kind *k,
                         uint64_t now)
{
    static char keys[SWEEP_BATCH][ONR_DELIVERY_KEY_MAX + 1];
    static uint8_t body[ONR_DELIVERY_BODY_MAX];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_db_rows *rows = NULL;
    size_t body_len = 0;
    size_t n = 0;
    int64_t type = 0;
    struct onr_msg msg;
    int rc;

    rc = onr_db_query(svc->db, "SELECT key, type, body FROM in_force WHERE kind = ?1",
                      ONR_DB_ARGS(ONR_DB_STR(k->name)), &rows);
    while (rc == ONR_OK && n < SWEEP_BATCH) {
        uint64_t until;

        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(key), ONR_DB_OUT_I64(&type),
                                           ONR_DB_OUT_BLOB(body, sizeof(body), &body_len)));
        if (rc != ONR_OK)
            break;
        /* our own rows: one that does not decode is kept, as it was */
        if (onr_msg_body_decode((int)type, body, body_len, &msg) != ONR_OK)
            continue;
        msg.type = (int)type;
        until = k->needed_until(&msg);
        if (until != 0 && until < now)
            memcpy(keys[n++], key, sizeof(key));
    }
    onr_db_query_end(rows);
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    rc = ONR_OK;
    for (size_t i = 0; i < n && rc == ONR_OK; i++)
        rc = forget(svc, keys[i], k->name);
    return rc;
}

int svc_in_force_sweep(struct onr_service *svc)
{
    const uint64_t now = svc->clock();
    int rc = ONR_OK;

    svc->in_force_swept_at = now;
    for (size_t i = 0; i < svc->delivery.n_kinds && rc == ONR_OK; i++) {
        const struct onr_delivery_kind *k = &svc->delivery.kinds[i];

        if (k->peer_role != ONR_ROLE_BROKER)
            continue;
        if (k->settled_forgotten)
            rc = onr_db_run(svc->db,
                            "DELETE FROM in_force WHERE kind = ?1 AND NOT EXISTS (SELECT 1"
                            " FROM pending WHERE pending.key = in_force.key"
                            "  AND pending.kind = in_force.kind)",
                            ONR_DB_ARGS(ONR_DB_STR(k->name)));
        if (rc == ONR_OK && k->needed_until != NULL)
            rc = sweep_expired(svc, k, now);
    }
    return rc;
}

void svc_in_force_tick(struct onr_service *svc)
{
    int rc;

    if (svc->clock() < svc->in_force_swept_at + SWEEP_EVERY)
        return;
    rc = onr_db_begin(svc->db);
    if (rc == ONR_OK)
        rc = svc_in_force_sweep(svc);
    if (rc == ONR_OK)
        rc = onr_db_commit(svc->db);
    if (rc != ONR_OK) {
        onr_db_rollback(svc->db);
        onr_log(ONR_LOG_WARNING, "what is in force for the brokers not swept error=%s",
                onr_error_name(rc));
    }
}
