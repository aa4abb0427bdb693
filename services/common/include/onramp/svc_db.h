/*
 * The services' storage: one database per service behind an interface that
 * names no engine. Services hand it SQL text with numbered parameters
 * (?1, ?2, ...), typed values to bind and typed places for the columns of
 * a row; they never see a statement handle. Two backends: SQLite
 * (db_sqlite.c), the embedded default, and PostgreSQL (db_pg.c, libpq), the
 * store several instances of one service share. The SQL the services write
 * stays portable (INSERT ... ON CONFLICT, no INSERT OR REPLACE), and busy,
 * serialization and deadlock failures are one code, ONR_EBUSY: a retry,
 * never a dropped message.
 *
 * Durable before acknowledged (SECURITY-NOTES.md): in SQLite, WAL with
 * synchronous=FULL, one transaction per handled message taken with BEGIN
 * IMMEDIATE; in PostgreSQL, READ COMMITTED transactions committed with
 * the server's synchronous_commit, where what several instances could both
 * take is guarded by a unique constraint, taken in one statement (UPDATE
 * ... RETURNING) or changed by a conditional update (db_pg.c). A
 * corrupt SQLite database refuses to open and is never re-created: that
 * would re-issue identities.
 *
 * Schemas change only through migrations (onr_db_open): one ordered list
 * per service, run in one transaction on start; the version reached is
 * recorded in the database (SQLite: PRAGMA user_version; PostgreSQL: the
 * table onr_schema_version).
 */
#ifndef ONRAMP_SVC_DB_H
#define ONRAMP_SVC_DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onramp/bytes.h"

struct onr_db;

/* ---- values bound to the parameters ?1, ?2, ... --------------------------- */

enum onr_db_type { ONR_DB_NULL = 0, ONR_DB_INT, ONR_DB_TEXT, ONR_DB_BLOB };

struct onr_db_arg {
    enum onr_db_type type;
    int64_t i;     /* ONR_DB_INT */
    const void *p; /* ONR_DB_TEXT, ONR_DB_BLOB: borrowed for the call */
    size_t len;
};

/* An integer; a NUL-terminated string; `n` bytes of text; `n` bytes as a
 * blob (ptr NULL binds NULL); a byte array as a blob; NULL. */
#define ONR_DB_INT(v) ((struct onr_db_arg){ONR_DB_INT, (int64_t)(v), NULL, 0})
#define ONR_DB_STR(s) ((struct onr_db_arg){ONR_DB_TEXT, 0, (s), strlen(s)})
#define ONR_DB_TEXTN(s, n) ((struct onr_db_arg){ONR_DB_TEXT, 0, (s), (n)})
#define ONR_DB_BLOB(ptr, n)                                                                  \
    ((struct onr_db_arg){(ptr) == NULL ? ONR_DB_NULL : ONR_DB_BLOB, 0, (ptr), (n)})
#define ONR_DB_ARRAY(a) ((struct onr_db_arg){ONR_DB_BLOB, 0, (a), sizeof(a)})
#define ONR_DB_BYTES(b) ONR_DB_BLOB((b).ptr, (b).len)
#define ONR_DB_NULLV ((struct onr_db_arg){ONR_DB_NULL, 0, NULL, 0})

/* ---- places for the columns of a row ---------------------------------------- */

enum onr_db_col_type {
    ONR_DB_COL_I64,   /* int64_t; NULL reads 0 */
    ONR_DB_COL_U64,   /* uint64_t; NULL reads 0, a negative value is ONR_EIO */
    ONR_DB_COL_INT,   /* int; NULL reads 0, out of range is ONR_EIO */
    ONR_DB_COL_TEXT,  /* char[cap] with its NUL; NULL or too long is ONR_EIO */
    ONR_DB_COL_EXACT, /* exactly `cap` bytes; anything else is ONR_EIO */
    ONR_DB_COL_BLOB,  /* 1..cap bytes, the length in *len; empty, NULL or too long: ONR_EIO */
    ONR_DB_COL_ANY,   /* 0..cap bytes of a blob or text, NULL reads empty; length in *len */
    ONR_DB_COL_NULL,  /* int: 1 if the column is NULL, else 0 */
};

struct onr_db_col {
    enum onr_db_col_type type;
    void *p;
    size_t cap;
    size_t *len;
};

#define ONR_DB_OUT_I64(ptr) ((struct onr_db_col){ONR_DB_COL_I64, (ptr), 0, NULL})
#define ONR_DB_OUT_U64(ptr) ((struct onr_db_col){ONR_DB_COL_U64, (ptr), 0, NULL})
#define ONR_DB_OUT_INT(ptr) ((struct onr_db_col){ONR_DB_COL_INT, (ptr), 0, NULL})
#define ONR_DB_OUT_TEXT(buf) ((struct onr_db_col){ONR_DB_COL_TEXT, (buf), sizeof(buf), NULL})
#define ONR_DB_OUT_EXACT(buf) ((struct onr_db_col){ONR_DB_COL_EXACT, (buf), sizeof(buf), NULL})
#define ONR_DB_OUT_EXACTN(ptr, n) ((struct onr_db_col){ONR_DB_COL_EXACT, (ptr), (n), NULL})
#define ONR_DB_OUT_TEXTN(ptr, cap) ((struct onr_db_col){ONR_DB_COL_TEXT, (ptr), (cap), NULL})
#define ONR_DB_OUT_BLOB(buf, cap, lenp) ((struct onr_db_col){ONR_DB_COL_BLOB, (buf), (cap), (lenp)})
#define ONR_DB_OUT_ANY(buf, cap, lenp) ((struct onr_db_col){ONR_DB_COL_ANY, (buf), (cap), (lenp)})
#define ONR_DB_OUT_ISNULL(ptr) ((struct onr_db_col){ONR_DB_COL_NULL, (ptr), 0, NULL})

/* A list of values or columns as the two arguments the functions take:
 * onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR(dev)), ONR_DB_COLS(...)). */
#define ONR_DB_ARGS(...)                                                                     \
    (const struct onr_db_arg[]){__VA_ARGS__},                                                \
        sizeof((const struct onr_db_arg[]){__VA_ARGS__}) / sizeof(struct onr_db_arg)
#define ONR_DB_COLS(...)                                                                     \
    (const struct onr_db_col[]){__VA_ARGS__},                                                \
        sizeof((const struct onr_db_col[]){__VA_ARGS__}) / sizeof(struct onr_db_col)
#define ONR_DB_NO_ARGS NULL, 0

/* ---- migrations ----------------------------------------------------------------- */

/*
 * One step of a service's schema history. steps[i] brings the database to
 * version i + 1: its `sql` (statements separated by ';', no parameters)
 * runs, then `data` (may be NULL), for a change SQL alone cannot make
 * (rows rebuilt by the service's own code), with `ctx` of onr_db_open.
 * Steps are never edited once released: a change is a new step.
 *
 * Portability (the PostgreSQL backend runs the same list): the SQL is
 * what SQLite and PostgreSQL share (INSERT ... ON CONFLICT, ALTER TABLE
 * ADD / DROP / RENAME COLUMN, CASE, ||), written once; db_pg_sql.c, the
 * one place that knows the dialects apart, maps the rest when PostgreSQL
 * runs a step or a statement: parameters ?N become $N; the types BLOB and
 * INTEGER become BYTEA and BIGINT (SQLite's integers are 64-bit), an
 * INTEGER PRIMARY KEY an identity column; WITHOUT ROWID is dropped; and
 * the append-only triggers of the first steps (BEFORE UPDATE/DELETE ...
 * SELECT RAISE(ABORT, 'why')) become a trigger calling one refusing
 * function. The recorded version is the backend's (SQLite: PRAGMA
 * user_version; PostgreSQL: a one-row table).
 */
struct onr_db_migration {
    const char *what; /* one line for the log and the error message */
    const char *sql;
    int (*data)(struct onr_db *db, void *ctx);
};

struct onr_db_schema {
    const struct onr_db_migration *steps;
    size_t n; /* the version the program speaks */
};

/*
 * onr_db_open: open the database `where` names, check it, and bring its
 * schema to version schema->n: a new database runs every step, an older
 * one the steps it lacks, all in one transaction (on any failure nothing
 * is kept and the open fails). `where` is a SQLite file (created with mode
 * 0600, checked with PRAGMA quick_check) or "postgresql:" followed by a
 * libpq connection string or URI ("postgresql:host=/run/pg dbname=op
 * user=op", "postgresql://op@db.example/op"), which must not carry a
 * password (ONR_EINVAL: it would show in configurations and logs). Several
 * processes may open one PostgreSQL database at once: the migrations run
 * under an advisory lock. `ctx` goes to the steps' `data` functions.
 * *from (may be NULL) gets the version found (0: a new database). On
 * failure `why` (`why_cap` bytes, may be NULL) says what happened.
 * Returns ONR_OK, ONR_EINVAL, ONR_EIO (cannot open or connect, corrupt, or
 * a step failed), ONR_EVERSION (made by a newer program, or a database
 * that has tables but no version: not one of ours) or ONR_ENOMEM.
 */
int onr_db_open(const char *where, const struct onr_db_schema *schema, void *ctx,
                struct onr_db **out, int *from, char *why, size_t why_cap);

/* onr_db_connect: onr_db_open with the PostgreSQL role's `password`
 * (borrowed, may be NULL: then libpq's own sources, PGPASSFILE or
 * ~/.pgpass; SQLite ignores it). */
int onr_db_connect(const char *where, const char *password, const struct onr_db_schema *schema,
                   void *ctx, struct onr_db **out, int *from, char *why, size_t why_cap);

/*
 * onr_db_open_config: onr_db_connect to the database configuration `cfg`
 * (borrowed) names: "database" (else `dflt`, may be NULL), a SQLite file
 * relative to the configuration or a PostgreSQL connection string, with
 * the password in "database_password_file" (a file only its owner may
 * read; else libpq's sources). `where` (`where_cap` bytes) gets what was
 * opened, for logs (never a password: onr_db_open refuses one in the
 * string). Errors as onr_db_open's, and the password file's.
 */
struct onr_config;
int onr_db_open_config(const struct onr_config *cfg, const char *dflt,
                       const struct onr_db_schema *schema, void *ctx, struct onr_db **out,
                       int *from, char *where, size_t where_cap, char *why, size_t why_cap);

/* onr_db_is_postgres: 1 if `where` names a PostgreSQL database. */
int onr_db_is_postgres(const char *where);

/* onr_db_close: finalizes statements and closes. Accepts NULL. */
void onr_db_close(struct onr_db *db);

/* onr_db_errmsg: the backend's last message, for logs. Static until the
 * next call on `db`. */
const char *onr_db_errmsg(const struct onr_db *db);

/* onr_db_set_busy_timeout: how long a write waits for another writer
 * (default 5000 ms). */
void onr_db_set_busy_timeout(struct onr_db *db, int ms);

/* ---- transactions ------------------------------------------------------------- */

/* They nest: the outermost begin is BEGIN IMMEDIATE (ONR_OK, ONR_EBUSY:
 * another writer past the busy timeout, or ONR_EIO), one inside it a
 * SAVEPOINT; commit ends the innermost (COMMIT, or RELEASE of its
 * savepoint: durable only once the outermost commits), rollback undoes
 * the innermost only. rollback accepts no open transaction. The service
 * skeleton opens an outer one around a burst of messages (group commit),
 * so a handler's own begin/commit is a savepoint there. */
int onr_db_begin(struct onr_db *db);
int onr_db_commit(struct onr_db *db);
void onr_db_rollback(struct onr_db *db);

/* onr_db_in_transaction: `fn(db, arg)` in a transaction of its own,
 * committed if it returns ONR_OK, else rolled back; its result (or the
 * transaction's error). */
int onr_db_in_transaction(struct onr_db *db, int (*fn)(struct onr_db *db, void *arg),
                          void *arg);

/* ---- statements ------------------------------------------------------------------ */

/*
 * The SQL of every function below is a literal (borrowed for the life of
 * `db`: statements are prepared once and kept), with parameters ?1..?n for
 * `args`. Every bind is checked. Errors: ONR_EINVAL (bad SQL or a bad
 * argument: a bug), ONR_EEXIST (a constraint refused the change), ONR_EBUSY
 * (retry), ONR_EIO, ONR_ENOMEM.
 */

/* onr_db_exec: run `sql`: any number of statements, no parameters, no rows
 * expected (schemas, pragmas). */
int onr_db_exec(struct onr_db *db, const char *sql);

/* onr_db_run: one statement that returns no rows: ONR_OK when done. */
int onr_db_run(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
               size_t n_args);

/*
 * onr_db_run_later: onr_db_run for a write whose outcome the caller does
 * not need before the end of its transaction level (an upsert, a stored
 * answer, a delete by key): a backend may send it with the next statement
 * or at the commit of that level, in one round trip with them (PostgreSQL;
 * SQLite runs it at once). Its failure is then that statement's or that
 * commit's, with the write's own code; from then on every statement and
 * commit of the level fails the same way until its rollback, so a failed
 * write fails its own level, never a caller's outer one nor a later level.
 * Its rows changed are not counted (onr_db_changes). Outside a
 * transaction, onr_db_run. The values are copied.
 */
int onr_db_run_later(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                     size_t n_args);

/* onr_db_run_one: onr_db_run for a change meant to touch a row:
 * ONR_ENOENT when it touched none. */
int onr_db_run_one(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                   size_t n_args);

/*
 * onr_db_get: the first row of a query, its columns copied into `cols`
 * (in order; fewer places than columns leaves the rest unread). ONR_OK,
 * ONR_ENOENT for no row (distinct from a row that is not as stored:
 * ONR_EIO), or the errors above.
 */
int onr_db_get(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
               size_t n_args, const struct onr_db_col *cols, size_t n_cols);

/*
 * Rows one by one: onr_db_query starts `sql` (ONR_OK or the errors above),
 * onr_db_next copies the next row into `cols` (ONR_OK), ONR_ENOENT after
 * the last, or an error; onr_db_query_end ends it (always: also after an
 * error; accepts NULL). One query per statement text at a time.
 */
struct onr_db_rows;
int onr_db_query(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                 size_t n_args, struct onr_db_rows **rows);
int onr_db_next(struct onr_db_rows *rows, const struct onr_db_col *cols, size_t n_cols);
void onr_db_query_end(struct onr_db_rows *rows);

/* onr_db_changes: rows the last statement changed. */
int onr_db_changes(struct onr_db *db);

#endif /* ONRAMP_SVC_DB_H */
