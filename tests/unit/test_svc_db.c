#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/error.h"
#include "onramp/svc_db.h"
#include "processed.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static const struct onr_db_migration things_v1[] = {
    {"things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"
               "CREATE TABLE processed (sender TEXT NOT NULL, msg_id BLOB NOT NULL,"
               " at INTEGER NOT NULL, topic TEXT NOT NULL, answer BLOB NOT NULL,"
               " PRIMARY KEY (sender, msg_id));", NULL},
};
static const struct onr_db_schema schema = {things_v1, 1};

static const char *db_path(void **state)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/state.db", (const char *)*state);
    return path;
}

static struct onr_db *open_db(void **state)
{
    struct onr_db *db = NULL;
    char why[256];

    assert_onr(ONR_OK, onr_db_open(db_path(state), &schema, NULL, &db, NULL, why, sizeof(why)));
    return db;
}

static int pragma_int(struct onr_db *db, const char *sql)
{
    int value = -1;

    assert_onr(ONR_OK, onr_db_get(db, sql, ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&value))));
    return value;
}

static void test_db_is_durable_wal_and_private(void **state)
{
    struct onr_db *db = open_db(state);
    char mode[16];
    struct stat st;

    assert_onr(ONR_OK, onr_db_get(db, "PRAGMA journal_mode", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_TEXT(mode))));
    assert_string_equal(mode, "wal");
    assert_int_equal(pragma_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(pragma_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(pragma_int(db, "PRAGMA user_version"), 1);
    onr_db_close(db);
    assert_int_equal(stat(db_path(state), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_db_schema_is_applied_once(void **state)
{
    struct onr_db *db = open_db(state);

    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('kept')"));
    onr_db_close(db);
    db = open_db(state); /* reopening must not run the schema again */
    assert_int_equal(pragma_int(db, "SELECT count(*) FROM things"), 1);
    onr_db_close(db);
}

static void test_db_refuses_a_newer_schema(void **state)
{
    struct onr_db *db = open_db(state);
    char why[256];

    assert_onr(ONR_OK, onr_db_exec(db, "PRAGMA user_version=7"));
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EVERSION,
               onr_db_open(db_path(state), &schema, NULL, &db, NULL, why, sizeof(why)));
    assert_null(db);
    assert_non_null(strstr(why, "newer"));
}

static void test_db_refuses_a_corrupt_file_and_leaves_it(void **state)
{
    struct onr_db *db = open_db(state);
    char why[256];
    unsigned char before[8192];
    unsigned char after[8192];
    size_t n_before;
    size_t n_after;
    FILE *f;

    for (int i = 0; i < 200; i++)
        assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES (hex(randomblob(40)))"));
    assert_onr(ONR_OK, onr_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"));
    onr_db_close(db);
    /* scribble over every page after the first, headers included */
    f = fopen(db_path(state), "r+b");
    assert_non_null(f);
    fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 4 * 4096; i++)
        fputc(0xa5, f);
    fclose(f);
    f = fopen(db_path(state), "rb");
    n_before = fread(before, 1, sizeof(before), f);
    fclose(f);
    db = NULL;
    assert_onr(ONR_EIO, onr_db_open(db_path(state), &schema, NULL, &db, NULL, why, sizeof(why)));
    assert_null(db);
    assert_true(strlen(why) > 0);
    /* never re-created: the file is as it was */
    f = fopen(db_path(state), "rb");
    n_after = fread(after, 1, sizeof(after), f);
    fclose(f);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
}

static void test_db_second_writer_gets_busy_not_a_silent_drop(void **state)
{
    struct onr_db *a = open_db(state);
    struct onr_db *b = open_db(state);

    onr_db_set_busy_timeout(b, 50);
    assert_onr(ONR_OK, onr_db_begin(a));
    assert_onr(ONR_EBUSY, onr_db_begin(b));
    assert_onr(ONR_OK, onr_db_commit(a));
    assert_onr(ONR_OK, onr_db_begin(b));
    onr_db_rollback(b);
    onr_db_close(a);
    onr_db_close(b);
}

static void test_db_outbox_stores_the_answer_once(void **state)
{
    struct onr_db *db = open_db(state);
    const uint8_t id[16] = {1, 2, 3};
    const struct onr_bytes sender = ONR_BYTES_STR("prov-1");
    char topic[128];
    uint8_t answer[64];
    size_t answer_len = sizeof(answer);

    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_ENOENT, processed_get(db, sender, id, topic, sizeof(topic), answer,
                                         &answer_len));
    assert_onr(ONR_OK, processed_put(db, sender, id, 1000, "onr/1/s/prov/prov-1/in",
                                     ONR_BYTES_STR("the answer")));
    assert_onr(ONR_EEXIST, processed_put(db, sender, id, 1001, "x",
                                         ONR_BYTES_STR("another answer")));
    assert_onr(ONR_OK, onr_db_commit(db));
    answer_len = sizeof(answer);
    assert_onr(ONR_OK, processed_get(db, sender, id, topic, sizeof(topic), answer, &answer_len));
    assert_string_equal(topic, "onr/1/s/prov/prov-1/in");
    assert_int_equal(answer_len, 10);
    assert_memory_equal(answer, "the answer", 10);
    /* the same id from another sender is another message */
    answer_len = sizeof(answer);
    assert_onr(ONR_ENOENT, processed_get(db, ONR_BYTES_STR("prov-2"), id, topic, sizeof(topic),
                                         answer, &answer_len));
    /* too small a buffer: not what we stored */
    answer_len = 3;
    assert_onr(ONR_EIO, processed_get(db, sender, id, topic, sizeof(topic), answer, &answer_len));
    assert_onr(ONR_OK, processed_prune(db, 1001));
    answer_len = sizeof(answer);
    assert_onr(ONR_ENOENT, processed_get(db, sender, id, topic, sizeof(topic), answer,
                                         &answer_len));
    onr_db_close(db);
}

/* A statement prepared once serves again with fresh bindings; a row read
 * half-way leaves nothing behind for the next call. */
static void test_db_statements_are_kept_and_reset(void **state)
{
    static const char sql[] = "SELECT name FROM things WHERE name = ?1";
    struct onr_db *db = open_db(state);
    struct onr_db_rows *rows = NULL;
    char name[16];

    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('a'), ('b')"));
    assert_onr(ONR_OK, onr_db_query(db, "SELECT name FROM things ORDER BY name", ONR_DB_NO_ARGS,
                                    &rows));
    assert_onr(ONR_OK, onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(name))));
    onr_db_query_end(rows); /* ended after one row of two */
    assert_onr(ONR_OK, onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR("a")),
                                  ONR_DB_COLS(ONR_DB_OUT_TEXT(name))));
    assert_string_equal(name, "a");
    assert_onr(ONR_ENOENT, onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR("z")),
                                      ONR_DB_COLS(ONR_DB_OUT_TEXT(name))));
    assert_onr(ONR_EINVAL, onr_db_run(db, "SELEC nonsense", ONR_DB_NO_ARGS));
    assert_onr(ONR_EEXIST, onr_db_exec(db, "INSERT INTO things (name) VALUES ('a')"));
    onr_db_close(db);
}

/* Every value is bound and checked: a count that does not match the
 * statement's parameters is a bug, refused before anything runs. */
static void test_db_binds_are_counted_and_typed(void **state)
{
    static const char insert[] = "INSERT INTO things (id, name) VALUES (?1, ?2)";
    struct onr_db *db = open_db(state);
    int64_t id = 0;
    int is_null = 0;

    assert_onr(ONR_EINVAL, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(1))));
    assert_onr(ONR_EINVAL, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(1), ONR_DB_STR("x"),
                                                              ONR_DB_INT(2))));
    assert_int_equal(pragma_int(db, "SELECT count(*) FROM things"), 0);
    assert_onr(ONR_OK, onr_db_run(db, insert, ONR_DB_ARGS(ONR_DB_INT(7), ONR_DB_NULLV)));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT id, name FROM things", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_I64(&id), ONR_DB_OUT_ISNULL(&is_null))));
    assert_int_equal(id, 7);
    assert_int_equal(is_null, 1);
    onr_db_close(db);
}

/* "No row" and "a row not as we stored it" are different answers. */
static void test_db_rows_not_as_stored_are_eio(void **state)
{
    struct onr_db *db = open_db(state);
    uint8_t exact[4];
    uint8_t blob[8];
    size_t len = 0;
    char small[3];
    uint64_t u = 0;

    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (id, name) VALUES (-5, 'abcdef')"));
    assert_onr(ONR_EIO, onr_db_get(db, "SELECT name FROM things", ONR_DB_NO_ARGS,
                                   ONR_DB_COLS(ONR_DB_OUT_TEXT(small))));
    assert_onr(ONR_EIO, onr_db_get(db, "SELECT name FROM things", ONR_DB_NO_ARGS,
                                   ONR_DB_COLS(ONR_DB_OUT_EXACT(exact))));
    assert_onr(ONR_EIO, onr_db_get(db, "SELECT id FROM things", ONR_DB_NO_ARGS,
                                   ONR_DB_COLS(ONR_DB_OUT_U64(&u))));
    assert_onr(ONR_EIO, onr_db_get(db, "SELECT NULL FROM things", ONR_DB_NO_ARGS,
                                   ONR_DB_COLS(ONR_DB_OUT_BLOB(blob, sizeof(blob), &len))));
    assert_onr(ONR_OK, onr_db_get(db, "SELECT name FROM things", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_BLOB(blob, sizeof(blob), &len))));
    assert_int_equal(len, 6);
    assert_onr(ONR_ENOENT, onr_db_get(db, "SELECT name FROM things WHERE id = 1",
                                      ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_TEXT(small))));
    assert_onr(ONR_ENOENT, onr_db_run_one(db, "UPDATE things SET name = 'x' WHERE id = 1",
                                          ONR_DB_NO_ARGS));
    onr_db_close(db);
}

static int step_data_ran;

static int count_step(struct onr_db *db, void *ctx)
{
    (void)ctx;
    step_data_ran++;
    return onr_db_exec(db, "INSERT INTO things (name) VALUES ('from the data step')");
}

static int failing_step(struct onr_db *db, void *ctx)
{
    (void)db;
    (void)ctx;
    return ONR_EIO;
}

/* An older database gets the steps it lacks, in order, once; a step that
 * fails leaves the database as it was and the open refused. */
static void test_db_migrations_run_the_missing_steps_in_one_transaction(void **state)
{
    static const struct onr_db_migration v2[] = {
        {"things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE);", NULL},
        {"a column", "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0;",
         count_step},
    };
    static const struct onr_db_migration v3_broken[] = {
        v2[0], v2[1], {"a step that fails", "CREATE TABLE more (x INTEGER);", failing_step},
    };
    const struct onr_db_schema s1 = {v2, 1}, s2 = {v2, 2}, s3 = {v3_broken, 3};
    struct onr_db *db = NULL;
    char why[256];
    int from = -1;

    step_data_ran = 0;
    assert_onr(ONR_OK, onr_db_open(db_path(state), &s1, NULL, &db, &from, why, sizeof(why)));
    assert_int_equal(from, 0);
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('old')"));
    onr_db_close(db);
    assert_onr(ONR_OK, onr_db_open(db_path(state), &s2, NULL, &db, &from, why, sizeof(why)));
    assert_int_equal(from, 1);
    assert_int_equal(step_data_ran, 1);
    assert_int_equal(pragma_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(pragma_int(db, "SELECT count(*) FROM things WHERE size = 0"), 2);
    onr_db_close(db);
    assert_onr(ONR_OK, onr_db_open(db_path(state), &s2, NULL, &db, &from, why, sizeof(why)));
    assert_int_equal(from, 2);
    assert_int_equal(step_data_ran, 1); /* not again */
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EIO, onr_db_open(db_path(state), &s3, NULL, &db, &from, why, sizeof(why)));
    assert_null(db);
    assert_non_null(strstr(why, "a step that fails"));
    assert_onr(ONR_OK, onr_db_open(db_path(state), &s2, NULL, &db, &from, why, sizeof(why)));
    assert_int_equal(pragma_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(pragma_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'more'"),
                     0);
    onr_db_close(db);
}

/* A database with tables but no version is not one we made: refused,
 * untouched. */
static void test_db_refuses_tables_without_a_version(void **state)
{
    static const struct onr_db_migration other[] = {
        {"not ours", "CREATE TABLE strangers (x INTEGER);", NULL},
    };
    const struct onr_db_schema theirs = {other, 1};
    struct onr_db *db = NULL;
    char why[256];

    assert_onr(ONR_OK, onr_db_open(db_path(state), &theirs, NULL, &db, NULL, why, sizeof(why)));
    assert_onr(ONR_OK, onr_db_exec(db, "PRAGMA user_version=0"));
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EVERSION,
               onr_db_open(db_path(state), &schema, NULL, &db, NULL, why, sizeof(why)));
    assert_null(db);
    assert_non_null(strstr(why, "no schema version"));
}

static int count_things(struct onr_db *db)
{
    return pragma_int(db, "SELECT count(*) FROM things");
}

/* A handler's transaction inside a burst's (group commit) is a savepoint:
 * its rollback undoes only its own work, its commit is durable only with
 * the outer one. */
static void test_db_nested_transactions_are_savepoints(void **state)
{
    struct onr_db *db = open_db(state);
    struct onr_db *reader = open_db(state);

    assert_onr(ONR_OK, onr_db_begin(db)); /* the burst */
    assert_onr(ONR_OK, onr_db_begin(db)); /* message 1: kept */
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('one')"));
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_onr(ONR_OK, onr_db_begin(db)); /* message 2: refused, undone */
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('two')"));
    assert_onr(ONR_OK, onr_db_begin(db)); /* deeper still */
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('three')"));
    assert_onr(ONR_OK, onr_db_commit(db));
    onr_db_rollback(db);
    assert_int_equal(count_things(db), 1);
    /* nothing is visible to others before the outer commit */
    assert_int_equal(count_things(reader), 0);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count_things(reader), 1);
    /* and after it a begin is an outer transaction again */
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('four')"));
    onr_db_rollback(db);
    assert_int_equal(count_things(reader), 1);
    onr_db_close(reader);
    onr_db_close(db);
}

/* A burst rolled back as a whole takes its handlers' committed savepoints
 * with it (their answers were never said: the peers retry). */
static void test_db_outer_rollback_undoes_committed_savepoints(void **state)
{
    struct onr_db *db = open_db(state);

    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('one')"));
    assert_onr(ONR_OK, onr_db_commit(db));
    onr_db_rollback(db);
    assert_int_equal(count_things(db), 0);
    /* the stack is empty again: commit without a transaction is an error */
    assert_int_not_equal(onr_db_commit(db), ONR_OK);
    onr_db_close(db);
}

/* A write whose outcome can wait runs at once in SQLite: its failure is
 * the caller's at once, and its handler's rollback undoes it. */
static void test_db_a_write_sent_later_runs_at_once(void **state)
{
    static const char insert[] = "INSERT INTO things (name) VALUES (?1)";
    struct onr_db *db = open_db(state);

    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_STR("one"))));
    assert_int_equal(count_things(db), 1);
    assert_onr(ONR_OK, onr_db_begin(db));
    assert_onr(ONR_OK, onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_STR("two"))));
    assert_onr(ONR_EEXIST, onr_db_run_later(db, insert, ONR_DB_ARGS(ONR_DB_STR("one"))));
    onr_db_rollback(db);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count_things(db), 1);
    onr_db_close(db);
}

/* Levels past the prepared ones (the first 8) nest the same way. */
static void test_db_deep_nesting_past_the_prepared_levels(void **state)
{
    struct onr_db *db = open_db(state);
    struct onr_db *reader = open_db(state);
    char sql[64];

    for (int level = 1; level <= 12; level++) {
        assert_onr(ONR_OK, onr_db_begin(db));
        snprintf(sql, sizeof(sql), "INSERT INTO things (name) VALUES ('level %d')", level);
        assert_onr(ONR_OK, onr_db_exec(db, sql));
    }
    for (int level = 12; level >= 10; level--)
        assert_onr(ONR_OK, onr_db_commit(db)); /* into level 9 */
    onr_db_rollback(db);                       /* level 9, with 10 to 12 */
    assert_int_equal(count_things(db), 8);
    for (int level = 8; level >= 2; level--)
        assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count_things(reader), 0);
    assert_onr(ONR_OK, onr_db_commit(db));
    assert_int_equal(count_things(reader), 8);
    assert_int_not_equal(onr_db_commit(db), ONR_OK);
    onr_db_close(reader);
    onr_db_close(db);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_db_is_durable_wal_and_private),
        T(test_db_schema_is_applied_once),
        T(test_db_refuses_a_newer_schema),
        T(test_db_refuses_a_corrupt_file_and_leaves_it),
        T(test_db_second_writer_gets_busy_not_a_silent_drop),
        T(test_db_outbox_stores_the_answer_once),
        T(test_db_statements_are_kept_and_reset),
        T(test_db_binds_are_counted_and_typed),
        T(test_db_rows_not_as_stored_are_eio),
        T(test_db_migrations_run_the_missing_steps_in_one_transaction),
        T(test_db_refuses_tables_without_a_version),
        T(test_db_nested_transactions_are_savepoints),
        T(test_db_outer_rollback_undoes_committed_savepoints),
        T(test_db_deep_nesting_past_the_prepared_levels),
        T(test_db_a_write_sent_later_runs_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
