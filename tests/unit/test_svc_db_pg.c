/*
 * The PostgreSQL backend of <onramp/svc_db.h> against a real server:
 * ONR_TEST_PG is the connection string of an empty database owned by the
 * role it names, ONR_TEST_PG_PASSWORD that role's password
 * (tests/integration/pg_unit.py starts a private cluster and runs this).
 * Each test starts from an empty schema.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/svc_db.h"
#include "processed.h"

static const struct onr_db_migration things_v1[] = {
    {"things (SQLite's dialect, as every service writes it)",
     "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE, blob BLOB,"
     "  n INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
     "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);"
     "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
     "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
     "CREATE TABLE processed (sender TEXT NOT NULL, msg_id BLOB NOT NULL,"
     " at INTEGER NOT NULL, topic TEXT NOT NULL, answer BLOB NOT NULL,"
     " PRIMARY KEY (sender, msg_id));",
     NULL},
};
static const struct onr_db_schema schema = {things_v1, 1};

static const char *where(void)
{
    const char *w = getenv("ONR_TEST_PG");

    if (w == NULL)
        fail_msg("ONR_TEST_PG is not set: run through tests/integration/pg_unit.py");
    return w;
}

static const char *password(void)
{
    return getenv("ONR_TEST_PG_PASSWORD");
}

static struct onr_db *open_with(const struct onr_db_schema *s)
{
    struct onr_db *db = NULL;
    char why[256] = "";
    int rc = onr_db_connect(where(), password(), s, NULL, &db, NULL, why, sizeof(why));

    if (rc != ONR_OK)
        fail_msg("open: %s: %s", onr_strerror(rc), why);
    return db;
}

static struct onr_db *open_db(void)
{
    return open_with(&schema);
}

static int count(struct onr_db *db, const char *sql)
{
    int value = -1;

    assert_onr(ONR_OK, onr_db_get(db, sql, ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&value))));
    return value;
}

/* Every test on an empty database: the schema dropped and made again,
 * through a handle whose schema is newer than any test's. */
static int setup(void **state)
{
    static struct onr_db_migration nothing[64];
    const struct onr_db_schema newest = {nothing, 64};
    struct onr_db *db = NULL;
    char why[256];

    (void)state;
    for (size_t i = 0; i < 64; i++)
        nothing[i] = (struct onr_db_migration){"nothing", "SELECT 1", NULL};
    assert_onr(ONR_OK,
               onr_db_connect(where(), password(), &newest, NULL, &db, NULL, why, sizeof(why)));
    assert_onr(ONR_OK, onr_db_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"));
    onr_db_close(db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return 0;
}

/* The same migration list, in SQLite's words, makes the schema here:
 * version recorded, blobs and 64-bit integers round trip, an INTEGER
 * PRIMARY KEY is assigned, the append-only trigger refuses. */
static void test_pg_runs_the_sqlite_migrations(void **state)
{
    static const uint8_t bytes[5] = {0, 0xff, 0x5c, 'x', 0};
    struct onr_db *db = open_db();
    uint8_t out[8];
    size_t len = 0;
    int64_t big = 0;
    int64_t id = 0;

    (void)state;
    assert_int_equal(count(db, "SELECT version FROM onr_schema_version"), 1);
    assert_onr(ONR_OK, onr_db_run(db, "INSERT INTO things (id, name, blob, n)"
                                      " VALUES (?1, ?2, ?3, ?4)",
                                  ONR_DB_ARGS(ONR_DB_INT(1), ONR_DB_STR("a"),
                                              ONR_DB_ARRAY(bytes), ONR_DB_INT(INT64_MAX))));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT blob, n FROM things WHERE name = ?1",
                                  ONR_DB_ARGS(ONR_DB_STR("a")),
                                  ONR_DB_COLS(ONR_DB_OUT_ANY(out, sizeof(out), &len),
                                              ONR_DB_OUT_I64(&big))));
    assert_int_equal(len, sizeof(bytes));
    assert_memory_equal(out, bytes, sizeof(bytes));
    assert_true(big == INT64_MAX);
    assert_onr(ONR_OK, onr_db_run(db, "INSERT INTO audit (what) VALUES (?1)",
                                  ONR_DB_ARGS(ONR_DB_STR("made"))));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT id FROM audit", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_I64(&id))));
    assert_true(id >= 1);
    assert_onr(ONR_EEXIST, onr_db_run(db, "UPDATE audit SET what = 'rewritten'",
                                      ONR_DB_NO_ARGS));
    assert_non_null(strstr(onr_db_errmsg(db), "append-only"));
    onr_db_close(db);
    /* opened again: nothing to do, the same version */
    db = open_db();
    assert_int_equal(count(db, "SELECT count(*) FROM things"), 1);
    onr_db_close(db);
}

static void test_pg_refuses_a_newer_schema(void **state)
{
    static const struct onr_db_migration v2[] = {
        things_v1[0], {"more", "ALTER TABLE things ADD COLUMN more INTEGER;", NULL}};
    const struct onr_db_schema s2 = {v2, 2};
    struct onr_db *db = open_with(&s2);
    char why[256] = "";

    (void)state;
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EVERSION,
               onr_db_connect(where(), password(), &schema, NULL, &db, NULL, why, sizeof(why)));
    assert_null(db);
    assert_non_null(strstr(why, "newer"));
}

/* A failing step leaves the database as it was. */
static void test_pg_migrations_are_all_or_nothing(void **state)
{
    static const struct onr_db_migration broken[] = {
        things_v1[0], {"a step that fails", "CREATE TABLE more (x INTEGER); SELEC nonsense",
                       NULL}};
    const struct onr_db_schema s2 = {broken, 2};
    struct onr_db *db = open_db();
    char why[256] = "";

    (void)state;
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EIO,
               onr_db_connect(where(), password(), &s2, NULL, &db, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "a step that fails"));
    db = open_db();
    assert_int_equal(count(db, "SELECT version FROM onr_schema_version"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'more'"), 0);
    onr_db_close(db);
}

/* Two instances on one database: a counter taken in one statement gives
 * each its own value; a conditional update lost to the other changes
 * nothing; a unique value taken by both is refused to the later
 * (ONR_EEXIST): never both. */
static void test_pg_two_instances_never_both_win(void **state)
{
    static const char take[] = "UPDATE things SET n = n + 1 WHERE id = 1 RETURNING n - 1";
    struct onr_db *a = open_db();
    struct onr_db *b = open_db();
    int slot_a = -1, slot_b = -1;

    (void)state;
    assert_onr(ONR_OK, onr_db_exec(a, "INSERT INTO things (id, name, n) VALUES (1, 'pool', 0)"));
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_OK, onr_db_begin(b));
    assert_onr(ONR_OK, onr_db_get(a, take, ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&slot_a))));
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_OK, onr_db_get(b, take, ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&slot_b))));
    assert_onr(ONR_OK, onr_db_commit(b));
    assert_int_equal(slot_a, 0);
    assert_int_equal(slot_b, 1);
    /* a conditional update: the one that read the old value late loses */
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_OK, onr_db_begin(b));
    assert_onr(ONR_OK, onr_db_run_one(a, "UPDATE things SET n = 7 WHERE id = 1 AND n = 2",
                                      ONR_DB_NO_ARGS));
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_ENOENT, onr_db_run_one(b, "UPDATE things SET n = 9 WHERE id = 1 AND n = 2",
                                          ONR_DB_NO_ARGS));
    onr_db_rollback(b);
    assert_int_equal(count(b, "SELECT n FROM things WHERE id = 1"), 7);
    /* a unique value */
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_OK, onr_db_begin(b));
    assert_onr(ONR_OK, onr_db_run(a, "INSERT INTO things (id, name) VALUES (2, 'x')",
                                  ONR_DB_NO_ARGS));
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_EEXIST, onr_db_run(b, "INSERT INTO things (id, name) VALUES (3, 'x')",
                                      ONR_DB_NO_ARGS));
    onr_db_rollback(b);
    onr_db_close(a);
    onr_db_close(b);
}

/* A handler's savepoint inside a burst: its failure (a refused statement
 * aborts a PostgreSQL transaction) is undone by its rollback alone, and
 * the burst goes on. */
static void test_pg_savepoints_undo_a_failed_handler_only(void **state)
{
    struct onr_db *db = open_db();
    struct onr_db *reader = open_db();

    (void)state;
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (id, name) VALUES (1, 'one')"));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_EEXIST, onr_db_exec(db, "INSERT INTO things (id, name) VALUES (2, 'one')"));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (id, name) VALUES (3, 'three')"));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 0);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 2);
    /* an error outside any savepoint fails the transaction: commit says so */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_EEXIST, onr_db_exec(db, "INSERT INTO things (id, name) VALUES (4, 'one')"));
    assert_int_not_equal(onr_db_commit(db), ONR_OK);
    onr_db_rollback(db);
    assert_int_equal(count(db, "SELECT count(*) FROM things"), 2);
    onr_db_close(reader);
    onr_db_close(db);
}

/* Prepared statements inside a burst (the transaction statements go out
 * with them, in one round trip): each level's rollback undoes its own work
 * only, a refused statement is refused where it ran and the burst goes on,
 * levels past the first 8 nest the same way, and a level that ran nothing
 * costs nothing and undoes nothing. */
static void test_pg_savepoints_around_prepared_statements(void **state)
{
    static const char insert[] = "INSERT INTO things (id, name) VALUES (?1, ?2)";
    struct onr_db *db = open_db();
    struct onr_db *reader = open_db();
    char name[32];

    (void)state;
    assert_onr(ONR_OK, onr_db_begin(db)); /* a burst whose first handler is refused */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(5), ONR_DB_STR("five"))));
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(5), ONR_DB_STR("x"))));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db)); /* and the next one kept */
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(6), ONR_DB_STR("six"))));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things WHERE id IN (5, 6)"), 1);
    assert_int_equal(count(reader, "SELECT count(*) FROM things WHERE id = 6"), 1);
    assert_onr(ONR_OK, onr_db_exec(db, "DELETE FROM things"));
    assert_onr(ONR_OK, onr_db_begin(db)); /* the burst */
    assert_onr(ONR_OK, onr_db_begin(db)); /* a handler that runs nothing */
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db)); /* one that is kept */
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(1), ONR_DB_STR("one"))));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db)); /* one refused at its second statement */
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(2), ONR_DB_STR("two"))));
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(3), ONR_DB_STR("one"))));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db)); /* one refused at its first */
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(1), ONR_DB_STR("x"))));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db)); /* one rolled back that ran nothing */
    onr_db_rollback(db);
    for (int level = 1; level <= 12; level++) { /* nested deep, some levels empty */
        assert_onr(ONR_OK, onr_db_begin(db));
        snprintf(name, sizeof(name), "level %d", level);
        if (level % 3 != 0)
            assert_onr(ONR_OK, onr_db_run(db, insert,
                                          ONR_DB_ARGS(ONR_DB_INT(10 + level), ONR_DB_STR(name))));
    }
    for (int level = 12; level >= 10; level--)
        assert_onr(ONR_OK, onr_db_commit(db)); /* into level 9 */
    onr_db_rollback(db);                       /* level 9, with 10 to 12 */
    for (int level = 8; level >= 1; level--)
        assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 0);
    assert_onr(ONR_OK, onr_db_commit(db));
    /* one, and levels 1 to 8 but 3 and 6 */
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 7);
    assert_int_equal(count(reader, "SELECT count(*) FROM things WHERE id = 2 OR id > 18"), 0);
    /* a transaction that ran nothing commits; a failed one says so */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(4), ONR_DB_STR("one"))));
    assert_int_not_equal(onr_db_commit(db), ONR_OK);
    onr_db_rollback(db);
    assert_int_not_equal(onr_db_commit(db), ONR_OK);
    assert_int_equal(count(db, "SELECT count(*) FROM things"), 7);
    onr_db_close(reader);
    onr_db_close(db);
}

static void test_pg_outbox_stores_the_answer_once(void **state)
{
    struct onr_db *db = open_db();
    const uint8_t id[16] = {1, 0, 3};
    const struct onr_bytes sender = ONR_BYTES_STR("prov-1");
    char topic[64];
    uint8_t answer[32];
    size_t answer_len = sizeof(answer);

    (void)state;
    assert_onr(ONR_OK, processed_put(db, sender, id, 1000, "onr/1/s/prov/prov-1/in",
                                     ONR_BYTES_STR("the answer")));
    assert_onr(ONR_EEXIST, processed_put(db, sender, id, 1001, "x", ONR_BYTES_STR("other")));
    assert_onr(ONR_OK, processed_get(db, sender, id, topic, sizeof(topic), answer, &answer_len));
    assert_string_equal(topic, "onr/1/s/prov/prov-1/in");
    assert_int_equal(answer_len, 10);
    assert_memory_equal(answer, "the answer", 10);
    onr_db_close(db);
}

/* A write sent later (onr_db_run_later) fails its own handler: refused
 * at its handler's commit, or at the next statement it went out with,
 * with its own code; every later call of that level fails the same way,
 * its rollback undoes the handler's effects only, and the burst goes on. */
static void test_pg_a_write_sent_later_fails_its_own_handler(void **state)
{
    static const char insert[] = "INSERT INTO things (id, name) VALUES (?1, ?2)";
    struct onr_db *db = open_db();
    struct onr_db *reader = open_db();
    int n = -1;

    (void)state;
    assert_onr(ONR_OK, onr_db_begin(db)); /* the burst */
    assert_onr(ONR_OK, onr_db_begin(db)); /* a handler kept (the transaction's own level) */
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(1), ONR_DB_STR("one"))));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db)); /* one whose last write is refused at its commit */
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(2), ONR_DB_STR("two"))));
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(3), ONR_DB_STR("one"))));
    assert_onr(ONR_EEXIST, onr_db_commit(db));
    assert_onr(ONR_EEXIST, onr_db_commit(db)); /* still: only its rollback ends it */
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db)); /* one refused at the statement after the write */
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(4), ONR_DB_STR("one"))));
    assert_onr(ONR_EEXIST, onr_db_get(db, "SELECT count(*) FROM things", ONR_DB_NO_ARGS,
                                      ONR_DB_COLS(ONR_DB_OUT_INT(&n))));
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(5), ONR_DB_STR("5"))));
    assert_onr(ONR_EEXIST, onr_db_begin(db)); /* nothing runs inside it either */
    assert_onr(ONR_EEXIST, onr_db_commit(db));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_begin(db)); /* the next one, with a savepoint of its own */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(6), ONR_DB_STR("six"))));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(7), ONR_DB_STR("seven"))));
    /* what was sent later is read by what follows */
    assert_int_equal(count(db, "SELECT count(*) FROM things"), 3);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 0);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 3);
    assert_int_equal(count(reader, "SELECT count(*) FROM things WHERE id IN (1, 6, 7)"), 3);
    /* a handler rolled back before its writes went out: they never do */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(8), ONR_DB_STR("8"))));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(9), ONR_DB_STR("one"))));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count(reader, "SELECT count(*) FROM things"), 4);
    /* a write of the burst's own level, refused with a handler's
     * statement: the handler and the burst fail, nothing is kept */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(10), ONR_DB_STR("one"))));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_EEXIST, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(11), ONR_DB_STR("11"))));
    onr_db_rollback(db);
    assert_onr(ONR_EEXIST, onr_db_commit(db));
    onr_db_rollback(db);
    assert_int_equal(count(db, "SELECT count(*) FROM things"), 4);
    /* outside a transaction it runs at once */
    assert_onr(ONR_EEXIST,
               onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_INT(12), ONR_DB_STR("one"))));
    onr_db_close(reader);
    onr_db_close(db);
}

/* Two instances answer one message: the second's outbox row, sent with
 * its handler's commit, is refused there; its handler's effects are
 * undone, the rest of its burst is kept, and the retry finds the first
 * instance's answer, the only one stored. */
static void test_pg_an_outbox_row_raced_fails_its_handler_at_commit(void **state)
{
    struct onr_db *a = open_db();
    struct onr_db *b = open_db();
    const uint8_t id[16] = {7, 7};
    const struct onr_bytes sender = ONR_BYTES_STR("op-1");
    char topic[64];
    uint8_t answer[32];
    size_t answer_len = sizeof(answer);

    (void)state;
    assert_onr(ONR_OK, onr_db_begin(a)); /* a's burst: another message, then this one */
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_OK, onr_db_run(a, "INSERT INTO things (id, name) VALUES (1, 'other')",
                                  ONR_DB_NO_ARGS));
    assert_onr(ONR_OK, processed_put(a, sender, (const uint8_t[16]){1}, 1000, "t",
                                     ONR_BYTES_STR("other's answer")));
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_OK, onr_db_run(a, "INSERT INTO things (id, name) VALUES (2, 'a decided')",
                                  ONR_DB_NO_ARGS));
    assert_onr(ONR_OK, onr_db_begin(b)); /* b answers the same message first */
    assert_onr(ONR_OK, processed_put(b, sender, id, 1000, "t", ONR_BYTES_STR("b's answer")));
    assert_onr(ONR_OK, onr_db_commit(b));
    assert_onr(ONR_OK, processed_put(a, sender, id, 1001, "t", ONR_BYTES_STR("a's answer")));
    assert_onr(ONR_EEXIST, onr_db_commit(a)); /* outbox.c retries: ONR_EBUSY */
    onr_db_rollback(a);
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_OK, processed_get(a, sender, id, topic, sizeof(topic), answer, &answer_len));
    assert_int_equal(answer_len, 10);
    assert_memory_equal(answer, "b's answer", 10);
    assert_int_equal(count(b, "SELECT count(*) FROM things WHERE id = 2"), 0);
    assert_int_equal(count(b, "SELECT count(*) FROM things WHERE id = 1"), 1);
    assert_int_equal(count(b, "SELECT count(*) FROM processed"), 2);
    onr_db_close(a);
    onr_db_close(b);
}

/* Bad configuration is a clear error at once, never a crash or a hang. */
static void test_pg_bad_configuration_is_a_clear_error(void **state)
{
    char bad[1024];
    struct onr_db *db = NULL;
    char why[256] = "";
    const char *user;

    (void)state;
    assert_onr(ONR_EIO, onr_db_connect(where(), "not the password", &schema, NULL, &db, NULL,
                                       why, sizeof(why)));
    assert_null(db);
    assert_non_null(strstr(why, "password authentication failed"));
    assert_null(strstr(why, "not the password"));
    user = strstr(where(), "user=");
    assert_non_null(user);
    snprintf(bad, sizeof(bad), "%.*suser=nobody_here", (int)(user - where()), where());
    assert_onr(ONR_EIO, onr_db_connect(bad, password(), &schema, NULL, &db, NULL, why,
                                       sizeof(why)));
    assert_non_null(strstr(why, "nobody_here"));
    assert_onr(ONR_EIO, onr_db_connect("postgresql:host=/nonexistent/onramp dbname=x user=x",
                                       NULL, &schema, NULL, &db, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "cannot connect"));
    snprintf(bad, sizeof(bad), "%s password=secret", where());
    assert_onr(ONR_EINVAL, onr_db_connect(bad, NULL, &schema, NULL, &db, NULL, why,
                                          sizeof(why)));
    assert_non_null(strstr(why, "password"));
    assert_null(strstr(why, "secret"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pg_runs_the_sqlite_migrations),
        T(test_pg_refuses_a_newer_schema),
        T(test_pg_migrations_are_all_or_nothing),
        T(test_pg_two_instances_never_both_win),
        T(test_pg_savepoints_undo_a_failed_handler_only),
        T(test_pg_savepoints_around_prepared_statements),
        T(test_pg_outbox_stores_the_answer_once),
        T(test_pg_a_write_sent_later_fails_its_own_handler),
        T(test_pg_an_outbox_row_raced_fails_its_handler_at_commit),
        T(test_pg_bad_configuration_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
