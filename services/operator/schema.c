/*
 * The operator's database, step by step (never edit a step: add one).
 * Version 1 kept what still had to reach the broker and the providers as
 * flags on each subscriber (granted, key_stored, their envelope ids, when
 * they were last sent); version 2 turns them into rows of `pending`,
 * version 3 replaces the flags with each subscription's state.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "onramp/error.h"
#include "onramp/svc_schema.h"
#include "op.h"

/* One unconfirmed delivery of version 1: its grant, its key, or (for a
 * suspended subscription) the revoke version 1 sent once untracked. */
struct v1_row {
    char dev[ONR_DEVID_LEN + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    char imsi[16];
    char iccid[21];
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    uint8_t grant_id[ONR_MSG_ID_LEN];
    uint8_t key_id[ONR_MSG_ID_LEN];
    uint64_t sqn;
    size_t grant_id_len, key_id_len, kid_len, sealed_len;
    int attached, suspended, granted, key_stored;
};

/* `r`'s key in flight to its provider, answerable under the id it was last
 * sent with; ordered by r->sqn (version 5: the last SQN issued, the key's
 * run's or after it). */
static int key_in_flight(struct onr_db *db, const struct v1_row *r, uint64_t now)
{
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg;
    int rc = onr_topic_in(ONR_ROLE_PROVIDER, r->prov, topic, sizeof(topic));

    op_app_key_msg(r->dev, r->kid, r->sealed, r->imsi, r->iccid, r->sqn > 0 ? r->sqn : 1, &msg);
    op_app_key_key(r->dev, key, sizeof(key));
    return rc == ONR_OK ? onr_delivery_store(db, OP_KIND_APP_KEY, r->prov, key, &msg, topic,
                                             r->key_id_len == ONR_MSG_ID_LEN ? r->key_id : NULL,
                                             now, now)
                        : rc;
}

static int v1_pending(struct onr_db *db, const struct v1_row *r, uint64_t now)
{
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg;
    int rc = ONR_OK;

    op_grant_key(r->dev, key, sizeof(key));
    if (r->suspended) {
        op_revoke_msg(r->dev, &msg);
        return onr_delivery_store(db, OP_KIND_REVOKE, ONR_PEER_BROKER, key, &msg,
                                  ONR_TOPIC_CONTROL, NULL, now, now);
    }
    if (!r->attached)
        return ONR_OK;
    if (!r->granted) {
        op_grant_msg(r->dev, r->prov, &msg);
        rc = onr_delivery_store(db, OP_KIND_GRANT, ONR_PEER_BROKER, key, &msg, ONR_TOPIC_CONTROL,
                                r->grant_id_len == ONR_MSG_ID_LEN ? r->grant_id : NULL, now,
                                now);
    }
    if (rc != ONR_OK || r->key_stored || r->kid_len != sizeof(r->kid) ||
        r->sealed_len != sizeof(r->sealed))
        return rc;
    return key_in_flight(db, r, now);
}

/* Version 2's data: every unconfirmed grant and key of version 1, due at
 * once, answerable under the id it was last sent with. */
static int v1_deliveries(struct onr_db *db, void *ctx)
{
    static struct v1_row r;
    struct onr_db_rows *rows = NULL;
    uint64_t now = (uint64_t)time(NULL);
    int rc;

    (void)ctx;
    rc = onr_db_query(db, "SELECT dev, prov, imsi, iccid, kid, app_key, grant_id, key_id,"
                          " attached, suspended, granted, key_stored, sqn FROM subscribers"
                          " WHERE suspended = 1 OR (attached = 1 AND (granted = 0"
                          " OR key_stored = 0))",
                      ONR_DB_NO_ARGS, &rows);
    while (rc == ONR_OK) {
        memset(&r, 0, sizeof(r));
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(r.dev), ONR_DB_OUT_TEXT(r.prov),
                                           ONR_DB_OUT_TEXT(r.imsi), ONR_DB_OUT_TEXT(r.iccid),
                                           ONR_DB_OUT_ANY(r.kid, sizeof(r.kid), &r.kid_len),
                                           ONR_DB_OUT_ANY(r.sealed, sizeof(r.sealed),
                                                          &r.sealed_len),
                                           ONR_DB_OUT_ANY(r.grant_id, sizeof(r.grant_id),
                                                          &r.grant_id_len),
                                           ONR_DB_OUT_ANY(r.key_id, sizeof(r.key_id),
                                                          &r.key_id_len),
                                           ONR_DB_OUT_INT(&r.attached),
                                           ONR_DB_OUT_INT(&r.suspended),
                                           ONR_DB_OUT_INT(&r.granted),
                                           ONR_DB_OUT_INT(&r.key_stored),
                                           ONR_DB_OUT_U64(&r.sqn)));
        if (rc == ONR_OK)
            rc = v1_pending(db, &r, now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Version 4's data: every subscription's grant (attached, aligned) or
 * revoke (suspended) in force for the brokers, as the plugins hold it. */
static int v3_in_force(struct onr_db *db, void *ctx)
{
    char dev[ONR_DEVID_LEN + 1], prov[ONR_SERVICE_ID_MAX + 1], key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_db_rows *rows = NULL;
    uint64_t now = (uint64_t)time(NULL);
    struct onr_msg msg;
    int state = 0;
    int rc;

    (void)ctx;
    rc = onr_db_query(db, "SELECT dev, prov, state FROM subscribers WHERE state IN (1, 2, 3)",
                      ONR_DB_NO_ARGS, &rows);
    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(prov),
                                           ONR_DB_OUT_INT(&state)));
        if (rc != ONR_OK)
            break;
        op_grant_key(dev, key, sizeof(key));
        if (state == 3)
            op_revoke_msg(dev, &msg);
        else
            op_grant_msg(dev, prov, &msg);
        rc = onr_delivery_in_force(db, state == 3 ? OP_KIND_REVOKE : OP_KIND_GRANT, key, &msg,
                                   now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Version 5's data: every key still in flight to its provider carries the
 * SQN that orders it (SPEC type 24), under the id it was last sent with. */
static int v4_key_order(struct onr_db *db, void *ctx)
{
    static struct v1_row r;
    struct onr_db_rows *rows = NULL;
    uint64_t now = (uint64_t)time(NULL);
    int rc;

    (void)ctx;
    rc = onr_db_query(db, "SELECT s.dev, s.prov, s.imsi, s.iccid, s.kid, s.app_key, s.key_sqn,"
                          " p.msg_id FROM subscribers s JOIN pending p ON p.peer = s.prov"
                          " AND p.key = 'app_key/' || s.dev WHERE p.kind = 'app_key'",
                      ONR_DB_NO_ARGS, &rows);
    while (rc == ONR_OK) {
        memset(&r, 0, sizeof(r));
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(r.dev), ONR_DB_OUT_TEXT(r.prov),
                                           ONR_DB_OUT_TEXT(r.imsi), ONR_DB_OUT_TEXT(r.iccid),
                                           ONR_DB_OUT_EXACT(r.kid), ONR_DB_OUT_EXACT(r.sealed),
                                           ONR_DB_OUT_U64(&r.sqn),
                                           ONR_DB_OUT_ANY(r.key_id, sizeof(r.key_id),
                                                          &r.key_id_len)));
        if (rc == ONR_OK)
            rc = key_in_flight(db, &r, now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

static const struct onr_db_migration steps[] = {
    {"subscribers, pool and challenges as first released (SQLite only: WITHOUT ROWID)",
     ONR_SVC_SCHEMA_PROCESSED
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
     "  suspended INTEGER NOT NULL DEFAULT 0,"
     "  kid BLOB,"
     "  app_key BLOB," /* K_AF sealed to the provider: not a secret at rest */
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
     ") WITHOUT ROWID;",
     NULL},
    {"messages awaiting confirmation: version 1's unconfirmed grants and keys, and a "
     "revoke for each suspended subscription (version 1 sent it once, untracked)",
     ONR_SVC_SCHEMA_PENDING, v1_deliveries},
    {"each subscription's state (0 allocated, 1 attached, 2 aligned, 3 suspended) in place "
     "of its flags and delivery columns",
     "ALTER TABLE subscribers ADD COLUMN state INTEGER NOT NULL DEFAULT 0"
     "  CHECK (state IN (0, 1, 2, 3));"
     "UPDATE subscribers SET state = CASE WHEN suspended = 1 THEN 3"
     "  WHEN aligned_at IS NOT NULL THEN 2 WHEN attached = 1 THEN 1 ELSE 0 END;"
     "DROP INDEX subscribers_undelivered;"
     "ALTER TABLE subscribers DROP COLUMN attached;"
     "ALTER TABLE subscribers DROP COLUMN suspended;"
     "ALTER TABLE subscribers DROP COLUMN grant_id;"
     "ALTER TABLE subscribers DROP COLUMN granted;"
     "ALTER TABLE subscribers DROP COLUMN key_id;"
     "ALTER TABLE subscribers DROP COLUMN key_stored;"
     "ALTER TABLE subscribers DROP COLUMN sent_at;",
     NULL},
    {"several brokers: a pending row per broker, the grants and revokes in force, each "
     "broker's epoch",
     ONR_SVC_SCHEMA_BROKERS, v3_in_force},
    {"application keys ordered: the SQN of the run whose key each subscription holds (the "
     "last SQN issued for a key held before), and carried by every key in flight",
     "ALTER TABLE subscribers ADD COLUMN key_sqn INTEGER NOT NULL DEFAULT 0;"
     "UPDATE subscribers SET key_sqn = sqn WHERE kid IS NOT NULL;",
     v4_key_order},
    {"pending: indexes for the counters' oldest row of each kind and for a request's rows by "
     "key", ONR_SVC_SCHEMA_PENDING_INDEXES, NULL},
};

const struct onr_db_schema op_schema = {steps, sizeof(steps) / sizeof(steps[0])};
