/*
 * The services' migrations on the databases commit 770310d deployed
 * (tests/fixtures/landed-770310d, made by tests/tools/make_migration_
 * fixture.py): each is upgraded to the current schema in one go, every
 * row is kept (counted table by table, secrets and audit compared byte for
 * byte), each device's state is what its rows said, and what version 1 or
 * 2 still had in flight is pending now, answerable under the id it was
 * sent with. Upgrading again changes nothing.
 */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/svc_db.h"
#include "op.h"
#include "keys.h"
#include "prov.h"
#include "registry.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

#define D1 "l6nugpqipwjqpot7znzkvfgfls3zjq2h" /* operational */
#define D2 "244k34sv3mc4x4vdisheh3p2gav347wz" /* operational, then released */
#define D3 "yzr3o2i2nopumiqxrsfswvs76xi7gjtv" /* attached; key and alignment unconfirmed */
#define D4 "a45acjco5qlygcbrlderub4c35azmbck" /* its hello waiting */
#define D5 "qupv4b6gel6efqigq3vke7oc6fhfrmfk" /* paired while acme was down */

/* A copy of the fixture `name` in the test's directory; its path. */
static const char *fixture(void **state, const char *name)
{
    static char path[4096];
    char src[4096];
    char buf[65536];
    size_t n;
    FILE *in;
    FILE *out;

    snprintf(src, sizeof(src), "%s/landed-770310d/%s", ONR_TEST_FIXTURES_DIR, name);
    snprintf(path, sizeof(path), "%s/%s", (const char *)*state, name);
    in = fopen(src, "rb");
    assert_non_null(in);
    out = fopen(path, "wb");
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    return path;
}

/* A look at the file as it is, outside the service's interface. */
static sqlite3 *peek(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

/* The first column of the one row of `sql` as text (a blob in hex), "" for
 * NULL or no row. */
static const char *one(sqlite3 *db, const char *sql)
{
    static char out[8192];
    sqlite3_stmt *stmt = NULL;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
}

static long count(sqlite3 *db, const char *table)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return strtol(one(db, sql), NULL, 10);
}

/* Every table's rows and a digest of what must not change, before. */
struct before {
    const char *tables[12];
    long rows[12];
    char kept[4][8192]; /* columns compared byte for byte */
};

static void take(sqlite3 *db, struct before *b, const char *const kept_sql[4])
{
    for (size_t i = 0; b->tables[i] != NULL; i++)
        b->rows[i] = count(db, b->tables[i]);
    for (size_t i = 0; i < 4 && kept_sql[i] != NULL; i++)
        snprintf(b->kept[i], sizeof(b->kept[i]), "%s", one(db, kept_sql[i]));
}

static void still(sqlite3 *db, const struct before *b, const char *const kept_sql[4])
{
    for (size_t i = 0; b->tables[i] != NULL; i++)
        assert_int_equal(count(db, b->tables[i]), b->rows[i]);
    for (size_t i = 0; i < 4 && kept_sql[i] != NULL; i++)
        assert_string_equal(one(db, kept_sql[i]), b->kept[i]);
}

/* Open `path` with `schema` (an upgrade), twice; the version found first. */
static int upgrade(const char *path, const struct onr_db_schema *schema, void *ctx)
{
    struct onr_db *db = NULL;
    char why[256] = "";
    int from = -1;
    int again = -1;

    assert_onr(ONR_OK, onr_db_open(path, schema, ctx, &db, &from, why, sizeof(why)));
    onr_db_close(db);
    assert_onr(ONR_OK, onr_db_open(path, schema, ctx, &db, &again, why, sizeof(why)));
    assert_int_equal(again, (int)schema->n);
    onr_db_close(db);
    return from;
}

/* Whether SQLite's plan for `sql` on `db` reads through index `index`. */
static int planned_with(sqlite3 *db, const char *sql, const char *index)
{
    char explain[512];
    char needle[64];
    sqlite3_stmt *stmt = NULL;
    int found = 0;

    snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
    snprintf(needle, sizeof(needle), "INDEX %s", index);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &stmt, NULL), SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW)
        found |= strstr((const char *)sqlite3_column_text(stmt, 3), needle) != NULL;
    sqlite3_finalize(stmt);
    return found;
}

/* Every service's `pending`, once upgraded: the counters' tick reads each
 * kind's count and oldest row from an index, not from every row (the
 * statement is onr_delivery_pending's), and a request's rows are found by
 * key (onr_delivery_cancel for every peer), as the resends' by next_at. */
static void test_every_pending_is_counted_and_cancelled_through_an_index(void **state)
{
    static struct prov p = {.plans = {{"*", 1, "fleet", 0}}, .n_plans = 1};
    const struct {
        const char *file;
        const struct onr_db_schema *schema;
        void *ctx;
    } services[] = {{"manufacturer.db", &onr_registry_schema, NULL},
                    {"operator.db", &op_schema, NULL},
                    {"provider.db", &prov_schema, &p}};

    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        const char *path = fixture(state, services[i].file);
        sqlite3 *db;

        upgrade(path, services[i].schema, services[i].ctx);
        db = peek(path);
        assert_true(planned_with(db, "SELECT kind, count(*), min(created_at) FROM pending"
                                     " GROUP BY kind", "pending_kind"));
        assert_true(planned_with(db, "DELETE FROM pending WHERE key = 'grant/x'",
                                 "pending_key"));
        assert_true(planned_with(db, "SELECT kind FROM pending WHERE next_at <= 5"
                                     " ORDER BY next_at LIMIT 3", "pending_due"));
        sqlite3_close(db);
    }
}

static void test_manufacturer_registry_upgrades_with_every_row(void **state)
{
    static const char *const kept[4] = {
        "SELECT group_concat(dev || hex(identity_key) || hex(sealing_key) || hex(claim_hash)"
        " || minted_at, ',') FROM (SELECT * FROM devices ORDER BY dev)",
        "SELECT group_concat(id || at || provider || dev || result, ',') FROM claim_audit",
        "SELECT group_concat(dev || provider || operator || hex(operator_key), ',') FROM"
        " (SELECT * FROM assignments ORDER BY dev)",
        "SELECT group_concat(dev || hex(nonce) || hex(hello_id) || at, ',') FROM waiting",
    };
    struct before b = {.tables = {"devices", "assignments", "claim_audit", "waiting",
                                  "processed", NULL}};
    const char *path = fixture(state, "manufacturer.db");
    sqlite3 *db = peek(path);

    take(db, &b, kept);
    sqlite3_close(db);
    assert_int_equal(upgrade(path, &onr_registry_schema, NULL), 1);
    db = peek(path);
    still(db, &b, kept);
    assert_int_equal(strtol(one(db, "PRAGMA user_version"), NULL, 10), onr_registry_schema.n);
    assert_string_equal(one(db, "SELECT group_concat(dev || ':' || state, ',') FROM"
                                " (SELECT * FROM devices ORDER BY dev)"),
                        D2 ":0," D4 ":1," D1 ":2," D5 ":0," D3 ":2");
    assert_int_equal(count(db, "pending"), 0);
    sqlite3_close(db);
}

static void test_operator_upgrades_with_every_row_and_its_unconfirmed_deliveries(void **state)
{
    static const char *const kept[4] = {
        "SELECT group_concat(dev || slot || imsi || iccid || hex(ki) || hex(opc) || hex(amf)"
        " || sqn || mfr || prov || hex(coalesce(kid, '')) || hex(coalesce(app_key, ''))"
        " || created_at || coalesce(attached_at, '') || coalesce(qos, '')"
        " || coalesce(charging, '') || coalesce(cap, '') || coalesce(aligned_at, ''), ',')"
        " FROM (SELECT * FROM subscribers ORDER BY dev)",
        "SELECT group_concat(hex(rand) || dev || sqn || used || created_at, ',') FROM"
        " (SELECT * FROM challenges ORDER BY rand)",
        "SELECT next FROM pool",
        NULL,
    };
    struct before b = {.tables = {"subscribers", "challenges", "pool", "processed", NULL}};
    const char *path = fixture(state, "operator.db");
    char key_id[64];
    sqlite3 *db = peek(path);

    take(db, &b, kept);
    snprintf(key_id, sizeof(key_id), "%s", one(db, "SELECT hex(key_id) FROM subscribers"
                                                   " WHERE dev = '" D3 "'"));
    sqlite3_close(db);
    assert_int_equal(upgrade(path, &op_schema, NULL), 1);
    db = peek(path);
    still(db, &b, kept);
    assert_int_equal(strtol(one(db, "PRAGMA user_version"), NULL, 10), op_schema.n);
    /* aligned, suspended (released), attached */
    assert_string_equal(one(db, "SELECT group_concat(dev || ':' || state, ',') FROM"
                                " (SELECT * FROM subscribers ORDER BY dev)"),
                        D2 ":3," D1 ":2," D3 ":1");
    assert_string_equal(one(db, "SELECT group_concat(kind || ' ' || peer || ' ' || key, ',')"
                                " FROM (SELECT * FROM pending ORDER BY key)"),
                        "app_key prov-a app_key/" D3 ",revoke @broker grant/" D2);
    /* the key's answer to the envelope version 1 sent still confirms it */
    assert_string_equal(one(db, "SELECT hex(msg_id) FROM pending WHERE kind = 'app_key'"),
                        key_id);
    assert_string_equal(one(db, "SELECT count(*) FROM pragma_table_info('subscribers')"
                                " WHERE name IN ('granted', 'key_stored', 'attached',"
                                " 'suspended', 'grant_id', 'key_id', 'sent_at')"),
                        "0");
    sqlite3_close(db);
}

/* The key version 1 left unconfirmed decodes as the app_key it was. */
static void test_operator_pending_key_is_the_key_version_1_sent(void **state)
{
    const char *path = fixture(state, "operator.db");
    struct onr_db *db = NULL;
    uint8_t body[ONR_DELIVERY_BODY_MAX];
    uint8_t kid[16], sealed[80];
    uint64_t sqn = 0;
    size_t len = 0;
    int type = 0;
    struct onr_msg msg;
    char why[256];

    assert_onr(ONR_OK, onr_db_open(path, &op_schema, NULL, &db, NULL, why, sizeof(why)));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT type, body FROM pending WHERE kind = 'app_key'",
                                  ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_INT(&type),
                                              ONR_DB_OUT_BLOB(body, sizeof(body), &len))));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT kid, app_key FROM subscribers WHERE dev = ?1",
                                  ONR_DB_ARGS(ONR_DB_STR(D3)),
                                  ONR_DB_COLS(ONR_DB_OUT_EXACT(kid), ONR_DB_OUT_EXACT(sealed))));
    assert_int_equal(type, ONR_MSG_APP_KEY);
    assert_onr(ONR_OK, onr_msg_body_decode(type, body, len, &msg));
    assert_memory_equal(msg.body.app_key.dev.ptr, D3, 32);
    assert_memory_equal(msg.body.app_key.kid.ptr, kid, 16);
    assert_memory_equal(msg.body.app_key.sealed.ptr, sealed, 80);
    /* ordered by the last SQN issued (the key's run's or after it), which
     * the subscription holds as its key's too: a crossed run still
     * answered after the upgrade is older, and the key kept */
    assert_onr(ONR_OK, onr_db_get(db, "SELECT sqn FROM subscribers WHERE dev = ?1 AND"
                                      " key_sqn = sqn AND sqn > 0",
                                  ONR_DB_ARGS(ONR_DB_STR(D3)),
                                  ONR_DB_COLS(ONR_DB_OUT_U64(&sqn))));
    assert_int_equal(msg.body.app_key.sqn, sqn);
    onr_db_close(db);
}

static void test_provider_upgrades_with_every_row_and_its_deliveries_in_flight(void **state)
{
    static const char *const kept[4] = {
        "SELECT group_concat(dev || mfr || account || operator || hex(pairing_id) || asker"
        " || created_at || coalesce(claimed_at, ''), ',') FROM (SELECT * FROM claims"
        " ORDER BY dev)",
        "SELECT group_concat(dev || op || hex(kid) || hex(sealed) || imsi || iccid ||"
        " received_at, ',') FROM (SELECT * FROM app_keys ORDER BY dev)",
        "SELECT group_concat(hex(serial) || dev || hex(key_hash) || hex(der) || issued_at ||"
        " coalesce(revoked_at, ''), ',') FROM (SELECT * FROM certificates ORDER BY serial)",
        "SELECT group_concat(dev || op || coalesce(aligned_at, ''), ',') FROM"
        " (SELECT * FROM alignments ORDER BY dev)",
    };
    struct before b = {.tables = {"claims", "app_keys", "alignments", "releases",
                                  "certificates", "waiting_enrollments", "operational",
                                  "web_refusals", "processed", NULL}};
    static struct prov p = {.plans = {{"*", 1, "fleet", 0}}, .n_plans = 1};
    const char *path = fixture(state, "provider.db");
    char registration_id[64], sent_id[64];
    sqlite3 *db = peek(path);

    take(db, &b, kept);
    snprintf(registration_id, sizeof(registration_id), "%s",
             one(db, "SELECT hex(registration_id) FROM claims WHERE dev = '" D5 "'"));
    snprintf(sent_id, sizeof(sent_id), "%s",
             one(db, "SELECT hex(sent_id) FROM alignments WHERE dev = '" D3 "'"));
    sqlite3_close(db);
    assert_int_equal(upgrade(path, &prov_schema, &p), 2);
    db = peek(path);
    still(db, &b, kept);
    assert_int_equal(strtol(one(db, "PRAGMA user_version"), NULL, 10), prov_schema.n);
    /* operational; registering; attached (a key, no certificate yet) */
    assert_string_equal(one(db, "SELECT group_concat(dev || ':' || state, ',') FROM"
                                " (SELECT * FROM claims ORDER BY dev)"),
                        D1 ":5," D5 ":1," D3 ":3");
    assert_string_equal(one(db, "SELECT group_concat(kind || ' ' || peer || ' ' || key, ',')"
                                " FROM (SELECT * FROM pending ORDER BY key)"),
                        "alignment op-1 align/" D3 ",registration acme claim/" D5);
    /* the answers to what version 2 sent still confirm it */
    assert_string_equal(one(db, "SELECT hex(msg_id) FROM pending WHERE kind = 'alignment'"),
                        sent_id);
    assert_string_equal(one(db, "SELECT hex(msg_id) FROM pending WHERE kind = 'registration'"),
                        registration_id);
    /* every key held is ordered as older than any its operator sends
     * now, and the alignment in flight names no key (zeros) */
    assert_string_equal(one(db, "SELECT group_concat(dev || op || sqn, ',') FROM"
                                " (SELECT * FROM key_orders ORDER BY dev)"),
                        one(db, "SELECT group_concat(dev || op || '0', ',') FROM"
                                " (SELECT * FROM app_keys ORDER BY dev)"));
    assert_string_equal(one(db, "SELECT count(*) FROM key_orders"), "2");
    /* a registration's body was never kept: it waits, never resent */
    assert_string_equal(one(db, "SELECT next_at = 9223372036854775807 AND length(body) = 0"
                                " FROM pending WHERE kind = 'registration'"),
                        "1");
    assert_string_equal(one(db, "SELECT count(*) FROM pragma_table_info('claims')"
                                " WHERE name = 'registration_id'"),
                        "0");
    /* each certificate's notAfter read from its DER (a 365-day one), none
     * a renewal */
    assert_string_equal(one(db, "SELECT count(*) > 0 AND sum(not_after - issued_at BETWEEN"
                                " 364 * 86400 AND 366 * 86400) = count(*)"
                                " AND sum(renews IS NULL) = count(*) FROM certificates"),
                        "1");
    sqlite3_close(db);
}

/* A claim left "claimed" with its key stored (two instances took the
 * registration's confirmation and the key at once, before the claim was
 * read locked) is attached by the upgrade; one claimed without a key stays. */
static void test_provider_claimed_with_a_key_is_attached(void **state)
{
    static struct prov p = {.plans = {{"*", 1, "fleet", 0}}, .n_plans = 1};
    const struct onr_db_schema before = {prov_schema.steps, prov_schema.n - 1};
    const char *path = fixture(state, "provider.db");
    sqlite3 *db = NULL;

    assert_int_equal(upgrade(path, &before, &p), 2);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE claims SET state = 2 WHERE dev IN ('" D3 "', '" D5
                                      "')", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(upgrade(path, &prov_schema, &p), (int)before.n);
    db = peek(path);
    assert_string_equal(one(db, "SELECT group_concat(dev || ':' || state, ',') FROM"
                                " (SELECT * FROM claims WHERE dev IN ('" D3 "', '" D5 "')"
                                " ORDER BY dev)"),
                        D5 ":2," D3 ":3");
    sqlite3_close(db);
}

/* After the upgrade, keys are ordered (SPEC types 24 and section 13): the
 * operator takes only a run newer than the last SQN issued before it (a
 * crossed run still answered is older: EEXIST, nothing changed), and the
 * provider any SQN of the held key's operator above 0, once. */
static void test_upgraded_keys_take_only_newer_runs(void **state)
{
    static struct prov p = {.plans = {{"*", 1, "fleet", 0}}, .n_plans = 1};
    static const uint8_t kid[ONR_AKMA_KID_LEN] = {7}, sealed[ONR_SEALED_APP_KEY_LEN] = {9};
    char op_path[4096];
    struct onr_db *db = NULL;
    struct op_subscriber sub;
    uint64_t key_sqn = 0;
    char why[256];

    snprintf(op_path, sizeof(op_path), "%s", fixture(state, "operator.db"));
    assert_onr(ONR_OK, onr_db_open(op_path, &op_schema, NULL, &db, NULL, why, sizeof(why)));
    assert_onr(ONR_OK, op_sub_get(db, D3, &sub));
    assert_onr(ONR_EEXIST, op_sub_attach(db, D3, kid, sealed, sub.sqn, 1, OP_ATTACHED));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT key_sqn FROM subscribers WHERE dev = ?1 AND"
                                      " kid <> ?2",
                                  ONR_DB_ARGS(ONR_DB_STR(D3), ONR_DB_ARRAY(kid)),
                                  ONR_DB_COLS(ONR_DB_OUT_U64(&key_sqn))));
    assert_int_equal(key_sqn, sub.sqn);
    assert_onr(ONR_OK, op_sub_attach(db, D3, kid, sealed, sub.sqn + 33, 1, OP_ATTACHED));
    assert_onr(ONR_EEXIST, op_sub_attach(db, D3, kid, sealed, sub.sqn + 1, 1, OP_ATTACHED));
    onr_wipe(&sub, sizeof(sub));
    onr_db_close(db);

    assert_onr(ONR_OK, onr_db_open(fixture(state, "provider.db"), &prov_schema, &p, &db, NULL,
                                   why, sizeof(why)));
    assert_onr(ONR_OK, prov_key_order_take(db, D3, "op-1", 1));
    assert_onr(ONR_EEXIST, prov_key_order_take(db, D3, "op-1", 1));
    assert_onr(ONR_EEXIST, prov_key_order_take(db, D3, "op-1", 0));
    assert_onr(ONR_OK, prov_key_order_take(db, D3, "op-2", 1)); /* per operator */
    assert_onr(ONR_OK, prov_key_order_take(db, D3, "op-1", 2));
    onr_db_close(db);
}

/* The alignment in flight decodes as an alignment that answers no key of
 * the operator's (re zeros: the key's envelope was not kept), with the
 * subscription of the key held. */
static void test_provider_pending_alignment_names_no_key(void **state)
{
    static struct prov p = {.plans = {{"*", 1, "fleet", 0}}, .n_plans = 1};
    static const uint8_t zeros[ONR_MSG_ID_LEN];
    const char *path = fixture(state, "provider.db");
    struct onr_db *db = NULL;
    uint8_t body[ONR_DELIVERY_BODY_MAX];
    char imsi[16];
    size_t len = 0;
    int type = 0;
    struct onr_msg msg;
    char why[256];

    assert_onr(ONR_OK, onr_db_open(path, &prov_schema, &p, &db, NULL, why, sizeof(why)));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT type, body FROM pending WHERE kind = 'alignment'",
                                  ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_INT(&type),
                                              ONR_DB_OUT_BLOB(body, sizeof(body), &len))));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT imsi FROM app_keys WHERE dev = ?1",
                                  ONR_DB_ARGS(ONR_DB_STR(D3)),
                                  ONR_DB_COLS(ONR_DB_OUT_TEXT(imsi))));
    assert_int_equal(type, ONR_MSG_ALIGNMENT);
    assert_onr(ONR_OK, onr_msg_body_decode(type, body, len, &msg));
    assert_memory_equal(msg.body.alignment.re.ptr, zeros, sizeof(zeros));
    assert_memory_equal(msg.body.alignment.dev.ptr, D3, 32);
    assert_int_equal(msg.body.alignment.imsi.len, strlen(imsi));
    assert_memory_equal(msg.body.alignment.imsi.ptr, imsi, strlen(imsi));
    assert_int_equal(msg.body.alignment.qos, 1);
    onr_db_close(db);
}

/* Without a plan for the account, the alignment waits for a reload, as
 * version 2's did: nothing pending for it. */
static void test_provider_alignment_without_a_plan_waits(void **state)
{
    static struct prov p; /* no plans */
    const char *path = fixture(state, "provider.db");
    sqlite3 *db;

    assert_int_equal(upgrade(path, &prov_schema, &p), 2);
    db = peek(path);
    assert_string_equal(one(db, "SELECT count(*) FROM pending WHERE kind = 'alignment'"), "0");
    assert_string_equal(one(db, "SELECT count(*) FROM alignments WHERE aligned_at IS NULL"),
                        "1");
    sqlite3_close(db);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_manufacturer_registry_upgrades_with_every_row),
        T(test_operator_upgrades_with_every_row_and_its_unconfirmed_deliveries),
        T(test_operator_pending_key_is_the_key_version_1_sent),
        T(test_provider_upgrades_with_every_row_and_its_deliveries_in_flight),
        T(test_provider_pending_alignment_names_no_key),
        T(test_provider_claimed_with_a_key_is_attached),
        T(test_upgraded_keys_take_only_newer_runs),
        T(test_provider_alignment_without_a_plan_waits),
        T(test_every_pending_is_counted_and_cancelled_through_an_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
