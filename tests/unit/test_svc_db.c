#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/error.h"
#include "onramp/svc_db.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static const char schema[] = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE);";

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

    assert_onr(ONR_OK, onr_db_open(db_path(state), schema, 1, &db, why, sizeof(why)));
    return db;
}

static int pragma_int(struct onr_db *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;

    assert_onr(ONR_OK, onr_db_prepare(db, sql, &stmt));
    assert_onr(ONR_OK, onr_db_step(db, stmt));
    return sqlite3_column_int(stmt, 0);
}

static void test_db_is_durable_wal_and_private(void **state)
{
    struct onr_db *db = open_db(state);
    sqlite3_stmt *stmt = NULL;
    struct stat st;

    assert_onr(ONR_OK, onr_db_prepare(db, "PRAGMA journal_mode", &stmt));
    assert_onr(ONR_OK, onr_db_step(db, stmt));
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
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
    sqlite3_stmt *stmt = NULL;

    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('kept')"));
    onr_db_close(db);
    db = open_db(state); /* reopening must not run the schema again */
    assert_onr(ONR_OK, onr_db_prepare(db, "SELECT count(*) FROM things", &stmt));
    assert_onr(ONR_OK, onr_db_step(db, stmt));
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    onr_db_close(db);
}

static void test_db_refuses_a_newer_schema(void **state)
{
    struct onr_db *db = open_db(state);
    char why[256];

    assert_onr(ONR_OK, onr_db_exec(db, "PRAGMA user_version=7"));
    onr_db_close(db);
    db = NULL;
    assert_onr(ONR_EVERSION, onr_db_open(db_path(state), schema, 1, &db, why, sizeof(why)));
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
    assert_onr(ONR_EIO, onr_db_open(db_path(state), schema, 1, &db, why, sizeof(why)));
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
    assert_onr(ONR_ENOENT, onr_db_processed_get(db, sender, id, topic, sizeof(topic), answer,
                                                &answer_len));
    assert_onr(ONR_OK, onr_db_processed_put(db, sender, id, 1000, "onr/1/s/prov/prov-1/in",
                                            ONR_BYTES_STR("the answer")));
    assert_onr(ONR_EEXIST, onr_db_processed_put(db, sender, id, 1001, "x",
                                                ONR_BYTES_STR("another answer")));
    assert_onr(ONR_OK, onr_db_commit(db));
    answer_len = sizeof(answer);
    assert_onr(ONR_OK, onr_db_processed_get(db, sender, id, topic, sizeof(topic), answer,
                                            &answer_len));
    assert_string_equal(topic, "onr/1/s/prov/prov-1/in");
    assert_int_equal(answer_len, 10);
    assert_memory_equal(answer, "the answer", 10);
    /* the same id from another sender is another message */
    answer_len = sizeof(answer);
    assert_onr(ONR_ENOENT, onr_db_processed_get(db, ONR_BYTES_STR("prov-2"), id, topic,
                                                sizeof(topic), answer, &answer_len));
    /* too small a buffer */
    answer_len = 3;
    assert_onr(ONR_ESPACE, onr_db_processed_get(db, sender, id, topic, sizeof(topic), answer,
                                                &answer_len));
    assert_onr(ONR_OK, onr_db_processed_prune(db, 1001));
    answer_len = sizeof(answer);
    assert_onr(ONR_ENOENT, onr_db_processed_get(db, sender, id, topic, sizeof(topic), answer,
                                                &answer_len));
    onr_db_close(db);
}

static void test_db_statements_are_cached_and_reset(void **state)
{
    static const char sql[] = "SELECT name FROM things WHERE name = ?1";
    struct onr_db *db = open_db(state);
    sqlite3_stmt *first = NULL;
    sqlite3_stmt *again = NULL;

    assert_onr(ONR_OK, onr_db_exec(db, "INSERT INTO things (name) VALUES ('a')"));
    assert_onr(ONR_OK, onr_db_prepare(db, sql, &first));
    onr_db_bind_text(first, 1, "a", 1);
    assert_onr(ONR_OK, onr_db_step(db, first)); /* a row, left mid-way */
    assert_onr(ONR_OK, onr_db_prepare(db, sql, &again));
    assert_ptr_equal(first, again);
    /* reset and bindings cleared: NULL matches nothing */
    assert_onr(ONR_ENOENT, onr_db_step(db, again));
    assert_onr(ONR_EINVAL, onr_db_prepare(db, "SELEC nonsense", &again));
    assert_onr(ONR_EEXIST, onr_db_exec(db, "INSERT INTO things (name) VALUES ('a')"));
    onr_db_close(db);
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
        T(test_db_statements_are_cached_and_reset),
        T(test_db_nested_transactions_are_savepoints),
        T(test_db_outer_rollback_undoes_committed_savepoints),
        T(test_db_deep_nesting_past_the_prepared_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
