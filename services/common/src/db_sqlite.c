/*
 * The SQLite backend of <onramp/svc_db.h>: the one file that includes
 * sqlite3.h. WAL with synchronous=FULL, BEGIN IMMEDIATE with a busy
 * timeout, savepoints' undo records in memory, statements prepared once
 * and kept, every bind checked.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_backend.h"
#include "onramp/error.h"

#define MAX_STATEMENTS 128

struct sqlite_db;

/* A prepared statement, kept for the life of the connection; also the
 * handle of a query in progress. */
struct sq_stmt {
    struct onr_db_rows head;
    struct sqlite_db *db;
    const char *sql; /* the caller's literal: found by address, then by text */
    sqlite3_stmt *stmt;
};

struct sqlite_db {
    struct onr_db head; /* first: db.c's view */
    sqlite3 *conn;
    struct sq_stmt stmts[MAX_STATEMENTS];
    size_t n_stmts;
    unsigned depth; /* transactions open: the outer one, then savepoints */
};

static struct sqlite_db *sq(struct onr_db *db)
{
    return (struct sqlite_db *)db;
}

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
        return ONR_OK;
    case SQLITE_DONE:
        return ONR_ENOENT;
    case SQLITE_CONSTRAINT:
        return ONR_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ONR_EBUSY;
    case SQLITE_NOMEM:
        return ONR_ENOMEM;
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
        return ONR_EINVAL;
    default:
        return ONR_EIO;
    }
}

/* SQLite's result as ours, its message kept for onr_db_errmsg. */
static int remember(struct sqlite_db *db, int rc)
{
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        db_set_error(&db->head, "%s", sqlite3_errmsg(db->conn));
    return map_rc(rc);
}

static int sq_exec(struct onr_db *base, const char *sql)
{
    struct sqlite_db *db = sq(base);
    char *msg = NULL;
    int rc;

    rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        db_set_error(base, "%s", msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_rc(rc);
}

/* ---- statements -------------------------------------------------------------- */

/* The kept statement for `sql`, if it was prepared before: by address
 * first (the callers' literals stay where they are), then by text. */
static struct sq_stmt *kept(struct sqlite_db *db, const char *sql)
{
    for (size_t i = 0; i < db->n_stmts; i++)
        if (db->stmts[i].sql == sql)
            return &db->stmts[i];
    for (size_t i = 0; i < db->n_stmts; i++)
        if (strcmp(db->stmts[i].sql, sql) == 0)
            return &db->stmts[i];
    return NULL;
}

static int prepare(struct sqlite_db *db, const char *sql, struct sq_stmt **out)
{
    struct sq_stmt *c;
    int rc;

    c = kept(db, sql);
    if (c != NULL) {
        sqlite3_reset(c->stmt);
        sqlite3_clear_bindings(c->stmt);
        *out = c;
        return ONR_OK;
    }
    if (db->n_stmts == MAX_STATEMENTS) {
        db_set_error(&db->head, "more than %d statements", MAX_STATEMENTS);
        return ONR_ENOMEM;
    }
    c = &db->stmts[db->n_stmts];
    rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL);
    if (rc != SQLITE_OK) {
        remember(db, rc);
        return ONR_EINVAL;
    }
    c->head.ops = &db_sqlite_ops;
    c->db = db;
    c->sql = sql;
    db->n_stmts++;
    *out = c;
    return ONR_OK;
}

static int bind_one(sqlite3_stmt *stmt, int index, const struct onr_db_arg *a)
{
    switch (a->type) {
    case ONR_DB_NULL:
        return sqlite3_bind_null(stmt, index);
    case ONR_DB_INT:
        return sqlite3_bind_int64(stmt, index, (sqlite3_int64)a->i);
    case ONR_DB_TEXT:
        if (a->len > INT32_MAX || (a->p == NULL && a->len > 0))
            return SQLITE_MISUSE;
        return sqlite3_bind_text(stmt, index, a->p != NULL ? a->p : "", (int)a->len,
                                 SQLITE_STATIC);
    case ONR_DB_BLOB:
        if (a->len > INT32_MAX)
            return SQLITE_MISUSE;
        /* an empty blob is a blob, not NULL: SQLite wants a pointer for that */
        return sqlite3_bind_blob(stmt, index, a->len > 0 ? a->p : (const void *)"", (int)a->len,
                                 SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* The statement for `sql` with `args` bound, every bind checked. */
static int start(struct sqlite_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                 struct sq_stmt **out)
{
    struct sq_stmt *c = NULL;
    int rc = prepare(db, sql, &c);

    if (rc != ONR_OK)
        return rc;
    if (n != (size_t)sqlite3_bind_parameter_count(c->stmt)) {
        db_set_error(&db->head, "%zu values for %d parameters", n,
                 sqlite3_bind_parameter_count(c->stmt));
        return ONR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        rc = bind_one(c->stmt, (int)i + 1, &args[i]);
        if (rc != SQLITE_OK) {
            rc = remember(db, rc);
            sqlite3_clear_bindings(c->stmt);
            return rc == ONR_OK ? ONR_EINVAL : rc;
        }
    }
    *out = c;
    return ONR_OK;
}

/* One column into its place. */
static int read_col(sqlite3_stmt *stmt, int i, const struct onr_db_col *col)
{
    int type = sqlite3_column_type(stmt, i);
    const void *p = NULL;
    size_t n = 0;
    sqlite3_int64 v;

    switch (col->type) {
    case ONR_DB_COL_I64:
        *(int64_t *)col->p = (int64_t)sqlite3_column_int64(stmt, i);
        return ONR_OK;
    case ONR_DB_COL_U64:
        v = sqlite3_column_int64(stmt, i);
        if (v < 0)
            return ONR_EIO;
        *(uint64_t *)col->p = (uint64_t)v;
        return ONR_OK;
    case ONR_DB_COL_INT:
        v = sqlite3_column_int64(stmt, i);
        if (v < INT32_MIN || v > INT32_MAX)
            return ONR_EIO;
        *(int *)col->p = (int)v;
        return ONR_OK;
    case ONR_DB_COL_NULL:
        *(int *)col->p = type == SQLITE_NULL;
        return ONR_OK;
    case ONR_DB_COL_TEXT:
        p = sqlite3_column_text(stmt, i);
        n = (size_t)sqlite3_column_bytes(stmt, i);
        if (p == NULL || n >= col->cap)
            return ONR_EIO;
        memcpy(col->p, p, n);
        ((char *)col->p)[n] = '\0';
        return ONR_OK;
    case ONR_DB_COL_EXACT:
    case ONR_DB_COL_BLOB:
    case ONR_DB_COL_ANY:
        if (type != SQLITE_NULL) {
            p = sqlite3_column_blob(stmt, i);
            n = (size_t)sqlite3_column_bytes(stmt, i);
        }
        if ((col->type == ONR_DB_COL_EXACT && n != col->cap) || n > col->cap ||
            (col->type == ONR_DB_COL_BLOB && n == 0))
            return ONR_EIO;
        if (n > 0)
            memcpy(col->p, p, n);
        if (col->len != NULL)
            *col->len = n;
        return ONR_OK;
    }
    return ONR_EINVAL;
}

/* Step once: a row copied into `cols` (ONR_OK), ONR_ENOENT when done. */
static int step(struct sq_stmt *c, const struct onr_db_col *cols, size_t n)
{
    int rc = remember(c->db, sqlite3_step(c->stmt));

    if (rc != ONR_OK)
        return rc;
    if (n > (size_t)sqlite3_column_count(c->stmt)) {
        db_set_error(&c->db->head, "%zu places for %d columns", n,
                 sqlite3_column_count(c->stmt));
        return ONR_EINVAL;
    }
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        rc = read_col(c->stmt, (int)i, &cols[i]);
        if (rc != ONR_OK)
            db_set_error(&c->db->head, "column %zu of \"%.60s\" is not as "
                     "stored", i, c->sql);
    }
    return rc;
}

static void finish(struct sq_stmt *c)
{
    sqlite3_reset(c->stmt);
    sqlite3_clear_bindings(c->stmt); /* nothing borrowed stays bound */
}


static int sq_start(struct onr_db *base, const char *sql, const struct onr_db_arg *args,
                    size_t n_args, struct onr_db_rows **rows)
{
    struct sq_stmt *c = NULL;
    int rc = start(sq(base), sql, args, n_args, &c);

    if (rc == ONR_OK)
        *rows = &c->head;
    return rc;
}

static int sq_step(struct onr_db_rows *rows, const struct onr_db_col *cols, size_t n_cols)
{
    return step((struct sq_stmt *)rows, cols, n_cols);
}

static void sq_finish(struct onr_db_rows *rows)
{
    finish((struct sq_stmt *)rows);
}

static int sq_changes(struct onr_db *base)
{
    return sqlite3_changes(sq(base)->conn);
}

/* ---- transactions ------------------------------------------------------------- */

/* SQLite rolls a whole transaction back by itself after some errors
 * (SQLITE_FULL, SQLITE_IOERR, ...): then nothing is open any more. */
static void sync_depth(struct sqlite_db *db)
{
    if (sqlite3_get_autocommit(db->conn))
        db->depth = 0;
}

/* What opens and closes each transaction level, as literals the statement
 * cache keeps prepared: a batch opens and closes a level per message, and
 * parsing them each time was a few percent of a service's CPU. Deeper
 * levels are run as text. */
static const char *const level_open[] = {
    "BEGIN IMMEDIATE", "SAVEPOINT s1", "SAVEPOINT s2", "SAVEPOINT s3",
    "SAVEPOINT s4",    "SAVEPOINT s5", "SAVEPOINT s6", "SAVEPOINT s7",
};
static const char *const level_close[] = {
    "COMMIT",     "RELEASE s1", "RELEASE s2", "RELEASE s3",
    "RELEASE s4", "RELEASE s5", "RELEASE s6", "RELEASE s7",
};
_Static_assert(sizeof(level_open) == sizeof(level_close), "a close for every open");

/* Open (or close) transaction level `level`: 0 is the transaction, the
 * others are savepoints s1, s2, ... */
static int run_level(struct sqlite_db *db, int opening, unsigned level)
{
    const char *const *table = opening ? level_open : level_close;
    char sql[32];

    if (level >= sizeof(level_open) / sizeof(level_open[0])) {
        snprintf(sql, sizeof(sql), "%s s%u", opening ? "SAVEPOINT" : "RELEASE", level);
        return sq_exec(&db->head, sql);
    }
    return onr_db_run(&db->head, table[level], ONR_DB_NO_ARGS);
}

static int sq_begin(struct onr_db *base)
{
    struct sqlite_db *db = sq(base);
    int rc;

    sync_depth(db);
    rc = run_level(db, 1, db->depth);
    if (rc == ONR_OK)
        db->depth++;
    return rc;
}

static int sq_commit(struct onr_db *base)
{
    struct sqlite_db *db = sq(base);
    int rc;

    sync_depth(db);
    /* with nothing open, COMMIT: SQLite's error says so */
    rc = run_level(db, 0, db->depth <= 1 ? 0 : db->depth - 1);
    if (rc == ONR_OK && db->depth > 0)
        db->depth--;
    return rc;
}

static void sq_rollback(struct onr_db *base)
{
    struct sqlite_db *db = sq(base);
    char sql[64];

    sync_depth(db);
    if (db->depth <= 1) {
        if (!sqlite3_get_autocommit(db->conn))
            sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        db->depth = 0;
        return;
    }
    snprintf(sql, sizeof(sql), "ROLLBACK TO s%u; RELEASE s%u", db->depth - 1, db->depth - 1);
    sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    db->depth--;
}

/* ---- opening, and what the migrations need -------------------------------------- */

static int sq_version_get(struct onr_db *db, int *version)
{
    return onr_db_get(db, "PRAGMA user_version", ONR_DB_NO_ARGS,
                  ONR_DB_COLS(ONR_DB_OUT_INT(version)));
}

static int sq_version_set(struct onr_db *db, int version)
{
    char sql[48];

    /* a pragma takes no parameters */
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", version);
    return sq_exec(db, sql);
}

static int sq_is_empty(struct onr_db *db, int *empty)
{
    int tables = 0;
    int rc = onr_db_get(db, "SELECT count(*) FROM sqlite_master", ONR_DB_NO_ARGS,
                    ONR_DB_COLS(ONR_DB_OUT_INT(&tables)));

    *empty = tables == 0;
    return rc;
}

/* quick_check answers "ok" for a sound database. */
static int check_integrity(struct sqlite_db *db)
{
    char verdict[200] = "";
    int rc = onr_db_get(&db->head, "PRAGMA quick_check", ONR_DB_NO_ARGS,
                    ONR_DB_COLS(ONR_DB_OUT_TEXT(verdict)));

    if (rc == ONR_OK && strcmp(verdict, "ok") == 0)
        return ONR_OK;
    if (rc == ONR_OK)
        db_set_error(&db->head, "database corrupt: %s", verdict);
    else
        db_set_error(&db->head, "database corrupt or unreadable: %s", sqlite3_errmsg(db->conn));
    return ONR_EIO;
}

/* Create the file ourselves so it is 0600 whatever the umask. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd >= 0) {
        fchmod(fd, 0600);
        close(fd);
        return 1;
    }
    return 0;
}

static int sq_open(const char *path, const char *password, struct onr_db **out)
{
    struct sqlite_db *db = NULL;
    int created;
    int rc;

    (void)password; /* a file: its mode guards it */
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return ONR_ENOMEM;
    db->head.ops = &db_sqlite_ops;
    *out = &db->head;
    created = create_private(path);
    rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_set_error(&db->head, "%s", db->conn != NULL ? sqlite3_errmsg(db->conn)
                                                        : "cannot open");
        return ONR_EIO;
    }
    sqlite3_busy_timeout(db->conn, 5000);
    if (!created) {
        rc = check_integrity(db);
        if (rc != ONR_OK)
            return rc;
    }
    /* temp_store=MEMORY keeps each savepoint's undo records (a batch opens
     * one per message, batch.c) in memory: past 64 KiB SQLite spills them to
     * a temporary file, two writes per page, most of a service's write calls
     * (issue 22). They only roll back a savepoint: nothing after a crash
     * reads them, so durability is the WAL's, as before. */
    return sq_exec(&db->head, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
}

static void sq_opened(struct onr_db *db)
{
    (void)db;
}

static void sq_close(struct onr_db *base)
{
    struct sqlite_db *db = sq(base);

    for (size_t i = 0; i < db->n_stmts; i++)
        sqlite3_finalize(db->stmts[i].stmt);
    sqlite3_close(db->conn);
    free(db);
}

static void sq_set_busy_timeout(struct onr_db *db, int ms)
{
    sqlite3_busy_timeout(sq(db)->conn, ms);
}

const struct db_ops db_sqlite_ops = {
    .open = sq_open,
    .opened = sq_opened,
    .close = sq_close,
    .set_busy_timeout = sq_set_busy_timeout,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
    .start = sq_start,
    .step = sq_step,
    .finish = sq_finish,
    .changes = sq_changes,
    .version_get = sq_version_get,
    .version_set = sq_version_set,
    .is_empty = sq_is_empty,
};
