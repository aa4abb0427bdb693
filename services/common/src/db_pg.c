/*
 * The PostgreSQL backend of <onramp/svc_db.h>, with db_pg_tx.c (the two
 * files that include libpq-fe.h, through db_pg.h). Statements are
 * translated (db_pg_sql.c) and prepared once per connection, their
 * parameters typed from the values of the first call
 * (INTEGER int8, TEXT text, BLOB bytea); blobs and texts travel in binary,
 * integers as decimal text (whatever integer type the server inferred),
 * results come back as text (bytea in hex).
 *
 * Transactions: the outer one is READ COMMITTED, as the services are
 * written for several instances on one database: what two instances could
 * both take is guarded by a unique constraint (the second insert fails,
 * ONR_EEXIST), taken in one statement (UPDATE ... RETURNING queues on the
 * row) or changed by a conditional update (zero rows: someone else did);
 * deadlocks and serialization failures are ONR_EBUSY. Levels inside it are
 * savepoints, as in SQLite. A connection lost (a server restart) is made
 * again at the next outermost begin; what was in flight failed and its
 * peers retry.
 *
 * Transactions and what waits for the next statement (round trips):
 * db_pg_tx.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_pg.h"
#include "db_pg_sql.h"
#include "onramp/error.h"
#include "onramp/hex.h"

#define CONNECT_TIMEOUT "10" /* seconds; the connection string may say otherwise */
#define SCHEMA_LOCK "7432018" /* pg_advisory_lock key: one migration at a time */

/* PostgreSQL's type oids (catalog/pg_type_d.h, stable across versions). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* ---- errors --------------------------------------------------------------------- */

/* A SQLSTATE as ours: retry for serialization failures, deadlocks and
 * lock timeouts; a refused change for integrity violations (class 23). */
static int map_state(const char *state)
{
    if (state == NULL)
        return ONR_EIO;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
        return ONR_EBUSY;
    if (strncmp(state, "23", 2) == 0)
        return ONR_EEXIST;
    if (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0)
        return ONR_EINVAL;
    return ONR_EIO;
}

/* The first line of `msg`, for the one-line error. */
static int line_len(const char *msg)
{
    size_t n = strcspn(msg, "\n");

    return n > 200 ? 200 : (int)n;
}

/* Why `res` failed (NULL: the connection's own error), kept for
 * onr_db_errmsg; the result is cleared. */
int pg_fail(struct pg_db *db, PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int rc;

    if (msg == NULL)
        msg = PQerrorMessage(db->conn);
    db_set_error(&db->head, "%s%s%.*s", state != NULL ? state : "", state != NULL ? ": " : "",
                 line_len(msg), msg);
    rc = PQstatus(db->conn) == CONNECTION_BAD ? ONR_EIO : map_state(state);
    PQclear(res);
    return rc;
}

/* `res` succeeded (its rows changed counted) or failed (pg_fail()). Clears
 * it unless `keep`. */
int pg_check(struct pg_db *db, PGresult *res, int keep)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_fail(db, res);
    db->changes = atoi(PQcmdTuples(res));
    if (!keep)
        PQclear(res);
    return ONR_OK;
}

#ifdef ONR_TEST_HOOKS
void pg_trace(const char *what)
{
    static FILE *out;
    static int looked;
    const char *path;

    if (!looked) {
        looked = 1;
        path = getenv("ONR_TEST_PG_TRACE");
        out = path != NULL ? fopen(path, "a") : NULL;
    }
    if (out != NULL) {
        fprintf(out, "%ld %.100s\n", (long)getpid(), what);
        fflush(out);
    }
}
#endif

/* ---- the connection ------------------------------------------------------------- */

/* What every session of ours sets: notices (IF NOT EXISTS ...) stay out of
 * stderr; bytea in hex, as column_bytes reads it; a lock waited for longer
 * than the busy timeout is a retry. */
static int session_setup(struct pg_db *db)
{
    char sql[128];

    snprintf(sql, sizeof(sql),
             "SET client_min_messages = warning; SET bytea_output = hex; SET lock_timeout = %d",
             db->lock_ms);
    return pg_check(db, PQexec(db->conn, sql), 0);
}

/* Outside any transaction, a lost connection is made again (once per
 * call): statements are prepared anew on it. */
int pg_ensure_connected(struct pg_db *db)
{
    if (PQstatus(db->conn) == CONNECTION_OK)
        return ONR_OK;
    if (db->depth > 0) {
        db_set_error(&db->head, "connection to the database lost: %.*s",
                     line_len(PQerrorMessage(db->conn)), PQerrorMessage(db->conn));
        return ONR_EIO;
    }
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_set_error(&db->head, "cannot reconnect to the database: %.*s",
                     line_len(PQerrorMessage(db->conn)), PQerrorMessage(db->conn));
        return ONR_EIO;
    }
    for (size_t i = 0; i < db->n_stmts; i++)
        db->stmts[i].prepared = 0;
    return session_setup(db);
}

/* ---- statements -------------------------------------------------------------- */

static struct pg_stmt *kept(struct pg_db *db, const char *sql)
{
    for (size_t i = 0; i < db->n_stmts; i++)
        if (db->stmts[i].sql == sql)
            return &db->stmts[i];
    for (size_t i = 0; i < db->n_stmts; i++)
        if (strcmp(db->stmts[i].sql, sql) == 0)
            return &db->stmts[i];
    return NULL;
}

static Oid arg_type(const struct onr_db_arg *a)
{
    switch (a->type) {
    case ONR_DB_INT: return OID_INT8;
    case ONR_DB_TEXT: return OID_TEXT;
    case ONR_DB_BLOB: return OID_BYTEA;
    case ONR_DB_NULL: break;
    }
    return 0; /* the server infers it */
}

/* The statement for `sql`, prepared on this connection with the types of
 * `args`. */
int pg_prepare(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                   struct pg_stmt **out)
{
    Oid types[MAX_PARAMS];
    struct pg_stmt *c = kept(db, sql);
    char *text = NULL;
    int rc;

    if (c == NULL) {
        if (db->n_stmts == MAX_STATEMENTS) {
            db_set_error(&db->head, "more than %d statements", MAX_STATEMENTS);
            return ONR_ENOMEM;
        }
        c = &db->stmts[db->n_stmts];
        memset(c, 0, sizeof(*c));
        c->head.ops = &db_pg_ops;
        c->db = db;
        c->sql = sql;
        snprintf(c->name, sizeof(c->name), "s%zu", db->n_stmts);
        db->n_stmts++;
    }
    if (c->prepared) {
        *out = c;
        return ONR_OK;
    }
    rc = pg_sql_translate(sql, &text, &c->n_params);
    if (rc != ONR_OK) {
        db_set_error(&db->head, "cannot translate \"%.60s\"", sql);
        return rc;
    }
    if ((size_t)c->n_params != n || n > MAX_PARAMS) {
        db_set_error(&db->head, "%zu values for %d parameters", n, c->n_params);
        free(text);
        return ONR_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        types[i] = arg_type(&args[i]);
    pg_trace("PREPARE");
    rc = pg_check(db, PQprepare(db->conn, c->name, text, (int)n, types), 0);
    free(text);
    if (rc != ONR_OK)
        return rc == ONR_EIO ? rc : ONR_EINVAL;
    c->prepared = 1;
    *out = c;
    return ONR_OK;
}

/* ---- statements' values ---------------------------------------------------------- */

/* `args` as libpq takes them: integers as decimal text (in `ints`), texts
 * and blobs in binary, borrowed. */
static int bind_values(const struct onr_db_arg *args, size_t n, const char **values,
                       int *lengths, int *formats, char (*ints)[24])
{
    for (size_t i = 0; i < n; i++) {
        const struct onr_db_arg *a = &args[i];

        values[i] = NULL;
        lengths[i] = 0;
        formats[i] = 1;
        switch (a->type) {
        case ONR_DB_NULL: break;
        case ONR_DB_INT:
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)a->i);
            values[i] = ints[i];
            formats[i] = 0;
            break;
        case ONR_DB_TEXT:
        case ONR_DB_BLOB:
            if (a->len > INT32_MAX || (a->p == NULL && a->len > 0))
                return ONR_EINVAL;
            values[i] = a->len > 0 ? a->p : ""; /* empty, not NULL */
            lengths[i] = (int)a->len;
            break;
        }
    }
    return ONR_OK;
}

/* The statement for `sql` (prepared), its values checked and bound. */
static int statement(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                     const char **values, int *lengths, int *formats, char (*ints)[24],
                     struct pg_stmt **out)
{
    int rc;

    if (db->depth == 0) {
        rc = pg_ensure_connected(db);
        if (rc != ONR_OK)
            return rc;
    }
    rc = pg_prepare(db, sql, args, n, out);
    if (rc != ONR_OK)
        return rc;
    if ((size_t)(*out)->n_params != n) {
        db_set_error(&db->head, "%zu values for %d parameters", n, (*out)->n_params);
        return ONR_EINVAL;
    }
    return bind_values(args, n, values, lengths, formats, ints);
}

/* Run the statement for `sql` with `args`, after what is queued; its
 * result in c->res. */
static int execute(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                   struct pg_stmt **out)
{
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char ints[MAX_PARAMS][24];
    struct pg_stmt *c = NULL;
    int rc = pg_still_broken(db);

    if (rc == ONR_OK)
        rc = statement(db, sql, args, n, values, lengths, formats, ints, &c);
    if (rc != ONR_OK)
        return rc;
    PQclear(c->res);
    c->res = NULL;
    rc = pg_send(db, c, (int)n, values, lengths, formats);
    if (rc != ONR_OK) {
        if (PQstatus(db->conn) == CONNECTION_BAD)
            c->prepared = 0;
        return rc;
    }
    c->row = 0;
    *out = c;
    return ONR_OK;
}

/* Queue the write for `sql` with a copy of `args`, sent with the next
 * statement or its level's commit. */
static int pg_run_later(struct onr_db *base, const char *sql, const struct onr_db_arg *args,
                        size_t n)
{
    struct pg_db *db = pg(base);
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char ints[MAX_PARAMS][24];
    struct pg_stmt *c = NULL;
    int rc;

    if (db->depth == 0)
        return onr_db_run(base, sql, args, n);
    rc = pg_still_broken(db);
    if (rc == ONR_OK)
        rc = statement(db, sql, args, n, values, lengths, formats, ints, &c);
    return rc == ONR_OK ? pg_queue_write(db, c, n, values, lengths, formats) : rc;
}

/* A column's bytes into `dst` (`cap` bytes): bytea from its hex text,
 * anything else as it is. *n gets the length; ONR_EIO when it does not fit. */
static int column_bytes(const PGresult *res, int row, int col, void *dst, size_t cap,
                        size_t *n)
{
    const char *v = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    uint8_t *out = dst;

    if (PQftype(res, col) != OID_BYTEA) {
        if (len > cap)
            return ONR_EIO;
        memcpy(dst, v, len);
        *n = len;
        return ONR_OK;
    }
    /* bytea_output = hex (the default since 9.0): "\x" and lowercase hex */
    if (len < 2 || v[0] != '\\' || v[1] != 'x')
        return ONR_EIO;
    *n = onr_hex_decode(v + 2, len - 2, out, cap);
    return *n > 0 || len == 2 ? ONR_OK : ONR_EIO;
}

static int column_int(const PGresult *res, int row, int col, int64_t *v)
{
    const char *text = PQgetvalue(res, row, col);
    char *end = NULL;

    *v = 0;
    if (PQgetisnull(res, row, col))
        return ONR_OK;
    if (PQftype(res, col) == OID_BOOL) {
        *v = text[0] == 't';
        return ONR_OK;
    }
    *v = strtoll(text, &end, 10);
    return end != text && *end == '\0' ? ONR_OK : ONR_EIO;
}

/* One column into its place (the rules of svc_db.h, as SQLite reads them). */
static int read_col(const PGresult *res, int row, int i, const struct onr_db_col *col)
{
    int null = PQgetisnull(res, row, i);
    size_t n = 0;
    int64_t v = 0;
    int rc;

    switch (col->type) {
    case ONR_DB_COL_I64:
        rc = column_int(res, row, i, &v);
        *(int64_t *)col->p = v;
        return rc;
    case ONR_DB_COL_U64:
        rc = column_int(res, row, i, &v);
        if (rc != ONR_OK || v < 0)
            return ONR_EIO;
        *(uint64_t *)col->p = (uint64_t)v;
        return ONR_OK;
    case ONR_DB_COL_INT:
        rc = column_int(res, row, i, &v);
        if (rc != ONR_OK || v < INT32_MIN || v > INT32_MAX)
            return ONR_EIO;
        *(int *)col->p = (int)v;
        return ONR_OK;
    case ONR_DB_COL_NULL:
        *(int *)col->p = null;
        return ONR_OK;
    case ONR_DB_COL_TEXT:
        if (null || col->cap == 0 || column_bytes(res, row, i, col->p, col->cap - 1, &n) != ONR_OK)
            return ONR_EIO;
        ((char *)col->p)[n] = '\0';
        return ONR_OK;
    case ONR_DB_COL_EXACT:
    case ONR_DB_COL_BLOB:
    case ONR_DB_COL_ANY:
        if (!null && column_bytes(res, row, i, col->p, col->cap, &n) != ONR_OK)
            return ONR_EIO;
        if ((col->type == ONR_DB_COL_EXACT && n != col->cap) ||
            (col->type == ONR_DB_COL_BLOB && n == 0))
            return ONR_EIO;
        if (col->len != NULL)
            *col->len = n;
        return ONR_OK;
    }
    return ONR_EINVAL;
}

/* The next row of `c` into `cols`: ONR_OK, ONR_ENOENT after the last. */
static int step(struct pg_stmt *c, const struct onr_db_col *cols, size_t n)
{
    int rc = ONR_OK;

    if (c->res == NULL || c->row >= PQntuples(c->res))
        return ONR_ENOENT;
    if (n > (size_t)PQnfields(c->res)) {
        db_set_error(&c->db->head, "%zu places for %d columns", n, PQnfields(c->res));
        return ONR_EINVAL;
    }
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        rc = read_col(c->res, c->row, (int)i, &cols[i]);
        if (rc != ONR_OK)
            db_set_error(&c->db->head, "column %zu of \"%.60s\" is not as stored", i, c->sql);
    }
    c->row++;
    return rc;
}

static void finish(struct pg_stmt *c)
{
    PQclear(c->res);
    c->res = NULL;
}

static int pg_start(struct onr_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                    struct onr_db_rows **rows)
{
    struct pg_stmt *c = NULL;
    int rc = execute(pg(db), sql, args, n, &c);

    if (rc == ONR_OK)
        *rows = &c->head;
    return rc;
}

static int pg_step(struct onr_db_rows *rows, const struct onr_db_col *cols, size_t n_cols)
{
    return step((struct pg_stmt *)rows, cols, n_cols);
}

static void pg_finish(struct onr_db_rows *rows)
{
    finish((struct pg_stmt *)rows);
}

static int pg_changes(struct onr_db *db)
{
    return pg(db)->changes;
}

/* Statements without parameters (schemas, savepoints), several at once. */
static int pg_exec(struct onr_db *base, const char *sql)
{
    struct pg_db *db = pg(base);
    char *text = NULL;
    int rc = pg_still_broken(db);

    if (rc == ONR_OK && db->depth == 0)
        rc = pg_ensure_connected(db);
    if (rc == ONR_OK)
        rc = pg_send(db, NULL, 0, NULL, NULL, NULL);
    if (rc != ONR_OK)
        return rc;
    rc = pg_sql_translate(sql, &text, NULL);
    if (rc != ONR_OK) {
        db_set_error(base, "cannot translate \"%.60s\"", sql);
        return rc;
    }
    pg_trace(text);
    rc = pg_check(db, PQexec(db->conn, text), 0);
    free(text);
    return pg_broke(db, db->depth, rc);
}

/* ---- opening, and what the migrations need -------------------------------------- */

static int pg_version_get(struct onr_db *db, int *version)
{
    int exists = 0;
    int rc = onr_db_get(db, "SELECT to_regclass('onr_schema_version') IS NOT NULL", ONR_DB_NO_ARGS,
                    ONR_DB_COLS(ONR_DB_OUT_INT(&exists)));

    *version = 0;
    if (rc != ONR_OK || !exists)
        return rc;
    rc = onr_db_get(db, "SELECT version FROM onr_schema_version", ONR_DB_NO_ARGS,
                ONR_DB_COLS(ONR_DB_OUT_INT(version)));
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

static int pg_version_set(struct onr_db *db, int version)
{
    char sql[160];

    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS onr_schema_version (version INTEGER NOT NULL);"
             "DELETE FROM onr_schema_version; INSERT INTO onr_schema_version VALUES (%d)",
             version);
    return pg_exec(db, sql);
}

static int pg_is_empty(struct onr_db *db, int *empty)
{
    int tables = 0;
    int rc = onr_db_get(db, "SELECT count(*) FROM pg_catalog.pg_tables"
                        " WHERE schemaname = current_schema()",
                    ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&tables)));

    *empty = tables == 0;
    return rc;
}

/* A password in the connection string would be in configurations and logs:
 * refused, as a string libpq cannot read is. */
static int check_conninfo(struct pg_db *db, const char *conninfo)
{
    PQconninfoOption *opts = NULL;
    char *err = NULL;
    int rc = ONR_OK;

    opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        PQfreemem(err); /* it may quote the string: not repeated */
        db_set_error(&db->head, "cannot read the PostgreSQL connection string");
        return ONR_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
            db_set_error(&db->head, "the connection string carries a password: put it in "
                                    "database_password_file or PGPASSFILE instead");
            rc = ONR_EINVAL;
        }
    PQconninfoFree(opts);
    return rc;
}

/* Notices and warnings are the server's remarks, not errors (those come
 * back with their statement): kept out of the service's stderr. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_open(const char *where, const char *password, struct onr_db **out)
{
    /* the connection string overrides the defaults before it; the password
     * after it overrides any other source */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", "password",
                          NULL};
    const char *values[] = {CONNECT_TIMEOUT, "onramp", NULL, password, NULL};
    struct pg_db *db = calloc(1, sizeof(*db));
    int rc;

    if (db == NULL)
        return ONR_ENOMEM;
    db->head.ops = &db_pg_ops;
    db->lock_ms = 5000;
    *out = &db->head;
    /* "postgresql://..." is a URI libpq reads whole; "postgresql:k=v ..." */
    values[2] = strncmp(where, "postgresql://", 13) == 0 ? where : where + strlen(DB_PG_PREFIX);
    rc = check_conninfo(db, values[2]);
    if (rc != ONR_OK)
        return rc;
    db->conn = PQconnectdbParams(keys, values, 1);
    if (db->conn == NULL)
        return ONR_ENOMEM;
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        /* libpq says which: unreachable, refused, no such role, bad password */
        db_set_error(&db->head, "cannot connect to PostgreSQL: %.*s",
                     line_len(PQerrorMessage(db->conn)), PQerrorMessage(db->conn));
        return ONR_EIO;
    }
    rc = session_setup(db);
    if (rc == ONR_OK)
        rc = pg_check(db, PQexec(db->conn, "SELECT pg_advisory_lock(" SCHEMA_LOCK ")"), 0);
    return rc;
}

static void pg_opened(struct onr_db *db)
{
    PQclear(PQexec(pg(db)->conn, "SELECT pg_advisory_unlock(" SCHEMA_LOCK ")"));
}

static void pg_close(struct onr_db *base)
{
    struct pg_db *db = pg(base);

    for (size_t i = 0; i < db->n_stmts; i++)
        PQclear(db->stmts[i].res);
    free(db->arena);
    PQfinish(db->conn); /* the session's advisory lock goes with it */
    free(db);
}

static void pg_set_busy_timeout(struct onr_db *base, int ms)
{
    struct pg_db *db = pg(base);

    db->lock_ms = ms;
    if (PQstatus(db->conn) == CONNECTION_OK)
        session_setup(db);
}

const struct db_ops db_pg_ops = {
    .open = pg_open,
    .opened = pg_opened,
    .close = pg_close,
    .set_busy_timeout = pg_set_busy_timeout,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec = pg_exec,
    .start = pg_start,
    .step = pg_step,
    .finish = pg_finish,
    .run_later = pg_run_later,
    .changes = pg_changes,
    .version_get = pg_version_get,
    .version_set = pg_version_set,
    .is_empty = pg_is_empty,
};
