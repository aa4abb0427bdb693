/*
 * The provider's database, step by step (never edit a step: add one).
 * Version 2 kept what still had to reach the manufacturers, the operators
 * and the broker in columns of their own (registration_id, sent_id,
 * mfr_done, revoke_confirmed, ...); version 3 turns them into rows of
 * `pending`, version 4 drops them and stores each device's state.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certs.h"
#include "claims.h"
#include "keys.h"
#include "onramp/error.h"
#include "onramp/svc_schema.h"
#include "prov.h"

/* ---- version 3's data: version 2's unconfirmed deliveries as rows ------------ */

/* Claims still registering: the registration's body was not kept (the
 * claim secret it sealed is never stored), so the row only waits for the
 * manufacturer's answer to the registration in flight. */
static int v2_registrations(struct onr_db *db, uint64_t now)
{
    static const char sql[] = "SELECT dev, mfr, registration_id FROM claims WHERE state = 0";
    char dev[ONR_DEVID_LEN + 1], mfr[ONR_SERVICE_ID_MAX + 1], key[ONR_DELIVERY_KEY_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    struct onr_db_rows *rows = NULL;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(mfr),
                                           ONR_DB_OUT_EXACT(id)));
        if (rc != ONR_OK)
            break;
        prov_key("claim", dev, key, sizeof(key));
        rc = onr_delivery_store(db, PROV_KIND_REGISTRATION, mfr, key, NULL, "", id, now, 0);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Each leg of a release the manufacturer or the operator has not
 * answered. */
static int v2_releases(struct onr_db *db, uint64_t now)
{
    static const char sql[] = "SELECT dev, mfr, op, mfr_msg, op_msg, mfr_done, op_done"
                              " FROM releases WHERE mfr_done = 0 OR op_done = 0";
    char dev[ONR_DEVID_LEN + 1], mfr[ONR_SERVICE_ID_MAX + 1], op[ONR_SERVICE_ID_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1], topic[ONR_TOPIC_MAX + 1];
    uint8_t mfr_msg[ONR_MSG_ID_LEN], op_msg[ONR_MSG_ID_LEN];
    size_t mfr_len = 0, op_len = 0;
    int mfr_done = 0, op_done = 0;
    struct onr_db_rows *rows = NULL;
    struct onr_msg msg;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(mfr),
                                           ONR_DB_OUT_TEXT(op),
                                           ONR_DB_OUT_ANY(mfr_msg, sizeof(mfr_msg), &mfr_len),
                                           ONR_DB_OUT_ANY(op_msg, sizeof(op_msg), &op_len),
                                           ONR_DB_OUT_INT(&mfr_done), ONR_DB_OUT_INT(&op_done)));
        if (rc != ONR_OK)
            break;
        prov_release_msg(dev, &msg);
        prov_key("release", dev, key, sizeof(key));
        if (!mfr_done)
            rc = onr_topic_in(ONR_ROLE_MANUFACTURER, mfr, topic, sizeof(topic));
        if (!mfr_done && rc == ONR_OK)
            rc = onr_delivery_store(db, PROV_KIND_RELEASE_MFR, mfr, key, &msg, topic,
                                    mfr_len == ONR_MSG_ID_LEN ? mfr_msg : NULL, now, now);
        if (!op_done && rc == ONR_OK)
            rc = onr_topic_in(ONR_ROLE_OPERATOR, op, topic, sizeof(topic));
        if (!op_done && rc == ONR_OK)
            rc = onr_delivery_store(db, PROV_KIND_RELEASE_OP, op, key, &msg, topic,
                                    op_len == ONR_MSG_ID_LEN ? op_msg : NULL, now, now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Revocations the broker has not confirmed. */
static int v2_revocations(struct onr_db *db, uint64_t now)
{
    static const char sql[] = "SELECT dev, serial, revoke_id FROM certificates"
                              " WHERE revoked_at IS NOT NULL AND revoke_confirmed = 0";
    char dev[ONR_DEVID_LEN + 1], key[ONR_DELIVERY_KEY_MAX + 1], hex[41];
    uint8_t serial[20], id[ONR_MSG_ID_LEN];
    size_t serial_len = 0, id_len = 0;
    struct onr_db_rows *rows = NULL;
    struct onr_msg msg;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev),
                                           ONR_DB_OUT_BLOB(serial, sizeof(serial), &serial_len),
                                           ONR_DB_OUT_ANY(id, sizeof(id), &id_len)));
        if (rc != ONR_OK)
            break;
        for (size_t i = 0; i < serial_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", serial[i]);
        prov_key("cert", hex, key, sizeof(key));
        prov_cert_revoke_msg(dev, serial, serial_len, 0, &msg);
        rc = onr_delivery_store(db, PROV_KIND_CERT_REVOKE, ONR_PEER_BROKER, key, &msg,
                                ONR_TOPIC_CONTROL, id_len == ONR_MSG_ID_LEN ? id : NULL, now,
                                now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Alignments the operator has not confirmed, with the plans loaded now
 * (an account without one waits for a reload, as before). */
static int v2_alignments(struct onr_db *db, const struct prov *p, uint64_t now)
{
    static const char sql[] =
        "SELECT a.dev, a.op, c.account, k.kid, k.sealed, k.imsi, k.iccid, a.sent_id"
        " FROM alignments a JOIN claims c ON c.dev = a.dev JOIN app_keys k ON k.dev = a.dev"
        " WHERE a.aligned_at IS NULL";
    static struct prov_app_key k;
    char account[PROV_ACCOUNT_MAX + 1], key[ONR_DELIVERY_KEY_MAX + 1], topic[ONR_TOPIC_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t id_len = 0;
    struct onr_db_rows *rows = NULL;
    struct onr_msg msg;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        memset(&k, 0, sizeof(k));
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(k.dev), ONR_DB_OUT_TEXT(k.op),
                                           ONR_DB_OUT_TEXT(account), ONR_DB_OUT_EXACT(k.kid),
                                           ONR_DB_OUT_EXACT(k.sealed), ONR_DB_OUT_TEXT(k.imsi),
                                           ONR_DB_OUT_TEXT(k.iccid),
                                           ONR_DB_OUT_ANY(id, sizeof(id), &id_len)));
        if (rc != ONR_OK || p == NULL || prov_alignment_msg(p, account, &k, &msg) != ONR_OK)
            continue;
        prov_key("align", k.dev, key, sizeof(key));
        rc = onr_topic_in(ONR_ROLE_OPERATOR, k.op, topic, sizeof(topic));
        if (rc == ONR_OK)
            rc = onr_delivery_store(db, PROV_KIND_ALIGNMENT, k.op, key, &msg, topic,
                                id_len == ONR_MSG_ID_LEN ? id : NULL, now, now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

static int v2_deliveries(struct onr_db *db, void *ctx)
{
    uint64_t now = (uint64_t)time(NULL);
    int rc = v2_registrations(db, now);

    if (rc == ONR_OK)
        rc = v2_releases(db, now);
    if (rc == ONR_OK)
        rc = v2_revocations(db, now);
    if (rc == ONR_OK)
        rc = v2_alignments(db, ctx, now);
    return rc;
}

/* Version 5's data: every certificate revocation in force for the
 * brokers. */
static int in_force_fill(struct onr_db *db, void *ctx)
{
    char dev[ONR_DEVID_LEN + 1], key[ONR_DELIVERY_KEY_MAX + 1], hex[41];
    uint8_t serial[20];
    size_t serial_len = 0;
    int64_t not_after = 0;
    struct onr_db_rows *rows = NULL;
    uint64_t now = (uint64_t)time(NULL);
    struct onr_msg msg;
    int rc;

    (void)ctx;
    /* revocations past their certificate's end are no longer needed
     * anywhere (the plugin drops them) */
    rc = onr_db_query(db,
                      "SELECT dev, serial, not_after FROM certificates WHERE revoked_at IS NOT "
                      "NULL AND (not_after = 0 OR not_after > ?1)",
                      ONR_DB_ARGS(ONR_DB_INT(now)), &rows);
    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev),
                                           ONR_DB_OUT_BLOB(serial, sizeof(serial), &serial_len),
                                           ONR_DB_OUT_I64(&not_after)));
        if (rc != ONR_OK)
            break;
        for (size_t i = 0; i < serial_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", serial[i]);
        prov_key("cert", hex, key, sizeof(key));
        prov_cert_revoke_msg(dev, serial, serial_len, not_after, &msg);
        rc = onr_delivery_in_force(db, PROV_KIND_CERT_REVOKE, key, &msg, now);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* Version 10's data: each alignment in flight names the key it answers,
 * under the id it was sent with (an `aligned` on its way still confirms
 * it). The envelope its key came in was not kept: `re` is zeros, which
 * confirms nothing; the operator's next copy of its key gets an alignment
 * that names it. Without a plan now it waits for one, as a new alignment
 * does (prov_align_unplanned). */
static int v9_alignments_answer(struct onr_db *db, void *ctx)
{
    static const char sql[] =
        "SELECT a.dev, c.account, (SELECT msg_id FROM pending WHERE kind = 'alignment'"
        " AND key = 'align/' || a.dev) FROM alignments a JOIN claims c ON c.dev = a.dev"
        " WHERE a.aligned_at IS NULL";
    char dev[ONR_DEVID_LEN + 1], account[PROV_ACCOUNT_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t id_len = 0;
    struct onr_db_rows *rows = NULL;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(account),
                                           ONR_DB_OUT_ANY(id, sizeof(id), &id_len)));
        if (rc != ONR_OK)
            break;
        if (id_len != ONR_MSG_ID_LEN)
            continue; /* none in flight */
        rc = prov_alignment_queue(db, ctx, dev, account, id, (uint64_t)time(NULL));
        prov_key("align", dev, key, sizeof(key));
        if (rc == ONR_ENOENT)
            rc = onr_delivery_cancel(db, NULL, key); /* sent when a plan comes */
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* ---- the steps ------------------------------------------------------------------ */

static const struct onr_db_migration steps[] = {
    {"claims, keys, alignments, releases and certificates as first released (SQLite only: "
     "WITHOUT ROWID)",
     ONR_SVC_SCHEMA_PROCESSED
     "CREATE TABLE claims ("
     "  dev TEXT PRIMARY KEY,"
     "  mfr TEXT NOT NULL,"
     "  account TEXT NOT NULL,"
     "  operator TEXT NOT NULL,"
     "  state INTEGER NOT NULL CHECK (state IN (0, 1)),"
     "  pairing_id BLOB NOT NULL,"
     "  asker TEXT NOT NULL,"
     "  registration_id BLOB NOT NULL UNIQUE,"
     "  created_at INTEGER NOT NULL,"
     "  claimed_at INTEGER"
     ") WITHOUT ROWID;"
     "CREATE TABLE alignments ("
     "  dev TEXT PRIMARY KEY,"
     "  op TEXT NOT NULL,"
     "  sent_id BLOB,"
     "  sent_at INTEGER NOT NULL DEFAULT 0,"
     "  aligned_at INTEGER"
     ") WITHOUT ROWID;"
     "CREATE TABLE releases ("
     "  dev TEXT PRIMARY KEY,"
     "  mfr TEXT NOT NULL,"
     "  op TEXT NOT NULL,"
     "  asker TEXT NOT NULL,"
     "  request_id BLOB NOT NULL,"
     "  mfr_msg BLOB,"
     "  op_msg BLOB,"
     "  mfr_done INTEGER NOT NULL DEFAULT 0,"
     "  op_done INTEGER NOT NULL DEFAULT 0,"
     "  sent_at INTEGER NOT NULL DEFAULT 0"
     ") WITHOUT ROWID;"
     "CREATE TABLE app_keys ("
     "  dev TEXT PRIMARY KEY,"
     "  op TEXT NOT NULL,"
     "  kid BLOB NOT NULL,"
     "  sealed BLOB NOT NULL,"
     "  imsi TEXT NOT NULL,"
     "  iccid TEXT NOT NULL,"
     "  received_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "CREATE TABLE certificates ("
     "  serial BLOB PRIMARY KEY,"
     "  dev TEXT NOT NULL,"
     "  key_hash BLOB NOT NULL,"
     "  der BLOB NOT NULL,"
     "  issued_at INTEGER NOT NULL,"
     "  revoked_at INTEGER,"
     "  revoke_id BLOB,"
     "  revoke_sent_at INTEGER NOT NULL DEFAULT 0,"
     "  revoke_confirmed INTEGER NOT NULL DEFAULT 0"
     ") WITHOUT ROWID;"
     "CREATE UNIQUE INDEX certificates_current ON certificates (dev)"
     "  WHERE revoked_at IS NULL;"
     "CREATE TABLE waiting_enrollments ("
     "  dev TEXT PRIMARY KEY,"
     "  kid BLOB NOT NULL,"
     "  envelope BLOB NOT NULL,"
     "  topic TEXT NOT NULL,"
     "  received_at INTEGER NOT NULL"
     ") WITHOUT ROWID;",
     NULL},
    {"each device's first telemetry, and the page's refusals (SQLite only: WITHOUT ROWID)",
     /* each claimed device's first telemetry on our service broker */
     "CREATE TABLE IF NOT EXISTS operational ("
     "  dev TEXT PRIMARY KEY,"
     "  operational_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     /* the manufacturer's refusals of pairings made on the page */
     "CREATE TABLE IF NOT EXISTS web_refusals ("
     "  dev TEXT PRIMARY KEY,"
     "  reason TEXT NOT NULL,"
     "  refused_at INTEGER NOT NULL"
     ") WITHOUT ROWID;",
     NULL},
    {"messages awaiting confirmation: version 2's registrations, releases, revocations and "
     "alignments in flight",
     ONR_SVC_SCHEMA_PENDING, v2_deliveries},
    {"each device's state (1 registering .. 5 operational) in its claim; the delivery "
     "columns dropped",
     "CREATE TABLE claims_v4 ("
     "  dev TEXT PRIMARY KEY,"
     "  mfr TEXT NOT NULL,"
     "  account TEXT NOT NULL,"
     "  operator TEXT NOT NULL,"
     "  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 5),"
     "  pairing_id BLOB NOT NULL,"
     "  asker TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  claimed_at INTEGER"
     ");"
     "INSERT INTO claims_v4 SELECT dev, mfr, account, operator,"
     "  CASE WHEN state = 0 THEN 1"
     "  WHEN dev NOT IN (SELECT dev FROM app_keys) THEN 2"
     "  WHEN dev NOT IN (SELECT dev FROM certificates WHERE revoked_at IS NULL) THEN 3"
     "  WHEN dev NOT IN (SELECT dev FROM operational) THEN 4 ELSE 5 END,"
     "  pairing_id, asker, created_at, claimed_at FROM claims;"
     "DROP TABLE claims;"
     "ALTER TABLE claims_v4 RENAME TO claims;"
     "ALTER TABLE alignments DROP COLUMN sent_id;"
     "ALTER TABLE alignments DROP COLUMN sent_at;"
     "ALTER TABLE releases DROP COLUMN mfr_msg;"
     "ALTER TABLE releases DROP COLUMN op_msg;"
     "ALTER TABLE releases DROP COLUMN mfr_done;"
     "ALTER TABLE releases DROP COLUMN op_done;"
     "ALTER TABLE releases RENAME COLUMN sent_at TO released_at;"
     "ALTER TABLE certificates DROP COLUMN revoke_id;"
     "ALTER TABLE certificates DROP COLUMN revoke_sent_at;"
     "ALTER TABLE certificates DROP COLUMN revoke_confirmed;",
     NULL},
    {"certificates: each one's notAfter and the certificate it renews; two in force while a "
     "renewal is unconfirmed (SPEC section 17)",
     "DROP INDEX certificates_current;"
     "ALTER TABLE certificates ADD COLUMN not_after INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE certificates ADD COLUMN renews BLOB;"
     "CREATE INDEX certificates_dev ON certificates (dev, revoked_at);"
     "CREATE INDEX certificates_renews ON certificates (renews);",
     prov_cert_not_after_fill},
    {"kit claims and the devices of each kit (SPEC section 18)",
     "CREATE TABLE kit_claims ("
     "  kit TEXT PRIMARY KEY,"
     "  mfr TEXT NOT NULL,"
     "  account TEXT NOT NULL,"
     "  operator TEXT NOT NULL,"
     "  state INTEGER NOT NULL CHECK (state IN (0, 1)),"
     "  pairing_id BLOB NOT NULL,"
     "  asker TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  registered_at INTEGER"
     ");"
     "CREATE TABLE kit_devices ("
     "  dev TEXT PRIMARY KEY,"
     "  kit TEXT NOT NULL REFERENCES kit_claims(kit),"
     "  position INTEGER NOT NULL"
     ");"
     "CREATE INDEX kit_devices_kit ON kit_devices (kit, position);",
     NULL},
    {"roaming: each claim's end user choice, the policy its last registration carried and "
     "its claim secret as sealed to the manufacturer (to register it again); each device's "
     "last visited PLMN, relocation under way, relocations and last no_operator notice",
     "ALTER TABLE claims ADD COLUMN user_choice INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE claims ADD COLUMN policy TEXT;"
     "ALTER TABLE claims ADD COLUMN sealed_claim BLOB;"
     "CREATE TABLE roaming ("
     "  dev TEXT PRIMARY KEY,"
     "  plmn TEXT,"
     "  reported_at INTEGER NOT NULL DEFAULT 0,"
     "  target TEXT,"
     "  relocating_at INTEGER NOT NULL DEFAULT 0,"
     "  relocations INTEGER NOT NULL DEFAULT 0,"
     "  relocated_at INTEGER NOT NULL DEFAULT 0,"
     "  prev_op TEXT,"
     "  no_operator_plmn TEXT,"
     "  no_operator_at INTEGER NOT NULL DEFAULT 0"
     ");",
     NULL},
    {"several brokers: a pending row per broker, the certificate revocations in force, each "
     "broker's epoch",
     ONR_SVC_SCHEMA_BROKERS, in_force_fill},
    {"application keys ordered (SPEC type 24): each key's SQN and the last envelope of it "
     "received, which its alignment answers; the highest SQN taken per device and operator",
     "ALTER TABLE app_keys ADD COLUMN sqn INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE app_keys ADD COLUMN key_msg BLOB;"
     "CREATE TABLE key_orders ("
     "  dev TEXT NOT NULL,"
     "  op TEXT NOT NULL,"
     "  sqn INTEGER NOT NULL,"
     "  PRIMARY KEY (dev, op)"
     ");"
     "INSERT INTO key_orders (dev, op, sqn) SELECT dev, op, 0 FROM app_keys;",
     v9_alignments_answer},
    {"roaming for kits: each kit claim's end user choice, the policy its registration "
     "carried and its claim secret as sealed to the manufacturer (to register it again; "
     "SPEC section 18)",
     "ALTER TABLE kit_claims ADD COLUMN user_choice INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE kit_claims ADD COLUMN policy TEXT;"
     "ALTER TABLE kit_claims ADD COLUMN sealed_claim BLOB;",
     NULL},
    {"pending: indexes for the counters' oldest row of each kind and for a request's rows by "
     "key", ONR_SVC_SCHEMA_PENDING_INDEXES, NULL},
    {"claims left claimed (2) with their key stored, attached (3): two instances took the "
     "registration's late confirmation and the key at once, each unaware of the other "
     "(lifecycle.h); the device's enrollment was refused until then",
     "UPDATE claims SET state = 3 WHERE state = 2 AND dev IN (SELECT dev FROM app_keys);", NULL},
};

const struct onr_db_schema prov_schema = {steps, sizeof(steps) / sizeof(steps[0])};
