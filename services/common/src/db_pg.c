/*
 * The PostgreSQL backend of <onramp/svc_db.h>: the one file that includes
 * libpq-fe.h. Statements are translated (db_pg_sql.c) and prepared once per
 * connection, their parameters typed from the values of the first call
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
 * Round trips: BEGIN, SAVEPOINT and RELEASE SAVEPOINT are not sent when
 * asked for but queued, and go out (prepared, in pipeline mode) in front
 * of the next statement, in one round trip with it; a transaction or
 * savepoint that ran no statement is never sent at all, and COMMIT ends
 * the savepoints still queued for release. The first savepoint of a
 * transaction in which nothing ran yet (a burst's first handler) is the
 * transaction itself: its rollback is ROLLBACK, and the transaction begins
 * again for the rest of the burst. A failure of a queued one is
 * the failure of the statement it went with (the transaction is then
 * aborted, as any failed statement leaves it). COMMIT and ROLLBACK TO are
 * sent at once: their outcome is what the caller waits for.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backend.h"
#include "db_pg_sql.h"
#include "onramp/error.h"
#include "onramp/hex.h"

#define MAX_STATEMENTS 160
#define MAX_PARAMS 32
#define MAX_QUEUED 32 /* statements waiting for the next one (or a commit) */
#define MAX_QUEUED_LEVEL 8 /* savepoints deeper than this go out at once */
#define CONNECT_TIMEOUT "10" /* seconds; the connection string may say otherwise */
#define SCHEMA_LOCK "7432018" /* pg_advisory_lock key: one migration at a time */

/* PostgreSQL's type oids (catalog/pg_type_d.h, stable across versions). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

struct pg_db;

/* A statement, kept for the life of the handle; also a query in progress. */
struct pg_stmt {
    struct onr_db_rows head;
    struct pg_db *db;
    const char *sql; /* the caller's literal */
    char name[12];
    int n_params;
    int prepared; /* on the current connection */
    PGresult *res; /* the rows of a query in progress */
    int row;
};

/* Something not sent yet: BEGIN, SAVEPOINT / RELEASE SAVEPOINT of
 * savepoint s`level`, COMMIT, or a write (onr_db_run_later) with its
 * values in the handle's arena. `level` is also the transaction level its
 * failure aborts: the savepoint's enclosing one (s`level` opens level
 * `level` + 1), the write's own, 1 for BEGIN and COMMIT. */
enum pg_tx { TX_BEGIN, TX_SAVEPOINT, TX_RELEASE, TX_COMMIT, TX_WRITE };

struct pg_queued {
    enum pg_tx tx;
    unsigned level;
    struct pg_stmt *write; /* TX_WRITE */
    size_t first_value;    /* TX_WRITE: its values, values[first_value...] */
    size_t bytes_at;       /* the arena's length before it */
};

/* A value of a queued write: `len` bytes at `at` in the arena (binary), a
 * NUL-terminated decimal integer there (text), or NULL. */
struct pg_value {
    size_t at;
    int len;
    int format; /* 1 binary, 0 text */
    int null;
};

struct pg_db {
    struct onr_db head; /* first: db.c's view */
    PGconn *conn;
    struct pg_stmt stmts[MAX_STATEMENTS];
    size_t n_stmts;
    unsigned depth; /* transactions open: the outer one, then savepoints */
    struct pg_queued queued[MAX_QUEUED]; /* in order, sent with the next statement */
    size_t n_queued;
    struct pg_value values[MAX_QUEUED * MAX_PARAMS]; /* the queued writes' */
    size_t n_values;
    char *arena; /* their bytes */
    size_t arena_len, arena_cap;
    unsigned merged; /* the savepoint level that is the transaction itself, or 0 */
    unsigned broken; /* the level a failure aborted (its rollback clears it), or 0 */
    int broken_rc;   /* that failure's code, what the level's calls return */
    int changes;
    int lock_ms;
};

static struct pg_db *pg(struct onr_db *db)
{
    return (struct pg_db *)db;
}

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
static int fail(struct pg_db *db, PGresult *res)
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

/* `res` succeeded (its rows changed counted) or failed (fail()). Clears
 * it unless `keep`. */
static int check(struct pg_db *db, PGresult *res, int keep)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return fail(db, res);
    db->changes = atoi(PQcmdTuples(res));
    if (!keep)
        PQclear(res);
    return ONR_OK;
}

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
    return check(db, PQexec(db->conn, sql), 0);
}

/* Outside any transaction, a lost connection is made again (once per
 * call): statements are prepared anew on it. */
static int ensure_connected(struct pg_db *db)
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
static int prepare(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
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
    rc = check(db, PQprepare(db->conn, c->name, text, (int)n, types), 0);
    free(text);
    if (rc != ONR_OK)
        return rc == ONR_EIO ? rc : ONR_EINVAL;
    c->prepared = 1;
    *out = c;
    return ONR_OK;
}

/* ---- what waits for the next statement ------------------------------------------ */

/* Its texts, literals (the statements kept are named by them). */
static const char *const savepoint_sql[MAX_QUEUED_LEVEL + 1] = {
    NULL, "SAVEPOINT s1", "SAVEPOINT s2", "SAVEPOINT s3", "SAVEPOINT s4",
    "SAVEPOINT s5", "SAVEPOINT s6", "SAVEPOINT s7", "SAVEPOINT s8",
};
static const char *const release_sql[MAX_QUEUED_LEVEL + 1] = {
    NULL, "RELEASE SAVEPOINT s1", "RELEASE SAVEPOINT s2", "RELEASE SAVEPOINT s3",
    "RELEASE SAVEPOINT s4", "RELEASE SAVEPOINT s5", "RELEASE SAVEPOINT s6",
    "RELEASE SAVEPOINT s7", "RELEASE SAVEPOINT s8",
};
#define BEGIN_SQL "BEGIN ISOLATION LEVEL READ COMMITTED"
#define COMMIT_SQL "COMMIT"

static const char *queued_sql(const struct pg_queued *q)
{
    switch (q->tx) {
    case TX_BEGIN: return BEGIN_SQL;
    case TX_SAVEPOINT: return savepoint_sql[q->level];
    case TX_RELEASE: return release_sql[q->level];
    case TX_COMMIT: return COMMIT_SQL;
    case TX_WRITE: return q->write->sql;
    }
    return NULL;
}

/* Drop what is queued from the `i`th on (with its writes' values). */
static void unqueue_from(struct pg_db *db, size_t i)
{
    for (size_t k = i; k < db->n_queued; k++)
        if (db->queued[k].tx == TX_WRITE) {
            db->n_values = db->queued[k].first_value;
            db->arena_len = db->queued[k].bytes_at;
            break;
        }
    if (i < db->n_queued)
        db->n_queued = i;
    if (db->n_queued == 0)
        db->n_values = db->arena_len = 0;
}

/* A failure at `level` (the transaction's own when the connection is
 * gone): until that level's rollback every call of it or deeper returns
 * `rc` without going to the server, which would refuse them anyway (an
 * aborted transaction), and a commit cannot pass it off as done. */
static int broke(struct pg_db *db, unsigned level, int rc)
{
    if (db->depth == 0 || rc == ONR_OK)
        return rc;
    if (PQstatus(db->conn) == CONNECTION_BAD || level == 0)
        level = 1;
    if (db->broken == 0 || level < db->broken) {
        db->broken = level;
        db->broken_rc = rc;
    }
    return rc;
}

/* What a call of a broken level returns (the failure's message stays). */
static int still_broken(const struct pg_db *db)
{
    return db->broken != 0 ? db->broken_rc : ONR_OK;
}

/* The values of the queued write `q`, for libpq. */
static void write_values(const struct pg_db *db, const struct pg_queued *q, const char **values,
                         int *lengths, int *formats)
{
    for (int i = 0; i < q->write->n_params; i++) {
        const struct pg_value *v = &db->values[q->first_value + (size_t)i];

        values[i] = v->null ? NULL : db->arena + v->at;
        lengths[i] = v->len;
        formats[i] = v->format;
    }
}

/* One result of a pipeline, read: the first failure kept in *failed
 * (and which it was in *failed_at), a COMMIT the server turned into a
 * ROLLBACK in *rolled_back, `c`'s rows in c->res (`c` may be NULL), the
 * rest cleared. */
static void pipeline_result(PGresult *res, size_t i, const struct pg_queued *q,
                            struct pg_stmt *c, PGresult **failed, size_t *failed_at,
                            int *rolled_back)
{
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED &&
        *failed == NULL) {
        *failed = res;
        *failed_at = i;
        return;
    }
    if (q != NULL && q->tx == TX_COMMIT && st == PGRES_COMMAND_OK &&
        strcmp(PQcmdStatus(res), "COMMIT") != 0)
        *rolled_back = 1;
    if (q == NULL && c != NULL && c->res == NULL && st != PGRES_PIPELINE_ABORTED) {
        c->res = res;
        return;
    }
    PQclear(res);
}

/* Everything queued, then statement `c` with its values (`c` may be
 * NULL: the queue alone), in one round trip (libpq's pipeline mode). c's
 * rows in c->res (ONR_OK), or the first failure, which breaks the level
 * of what failed (broke()). */
static int send_all(struct pg_db *db, struct pg_stmt *c, int n, const char *const *values,
                    const int *lengths, const int *formats)
{
    struct pg_stmt *sent_as[MAX_QUEUED];
    const char *wv[MAX_PARAMS];
    int wl[MAX_PARAMS], wf[MAX_PARAMS];
    size_t n_q = db->n_queued;
    size_t failed_at = n_q;
    PGresult *failed = NULL;
    PGresult *res;
    unsigned level;
    int rolled_back = 0;
    int sent = 1;
    int rc;

    if (n_q == 0 && c == NULL)
        return ONR_OK;
    if (n_q == 0) {
        c->res = PQexecPrepared(db->conn, c->name, n, values, lengths, formats, 0);
        rc = check(db, c->res, 1);
        if (rc != ONR_OK)
            c->res = NULL; /* cleared by check */
        return broke(db, db->depth, rc);
    }
    for (size_t i = 0; i < n_q; i++) {
        sent_as[i] = db->queued[i].write;
        if (db->queued[i].tx != TX_WRITE) {
            rc = prepare(db, queued_sql(&db->queued[i]), NULL, 0, &sent_as[i]);
            if (rc != ONR_OK)
                return broke(db, 1, rc);
        }
    }
    if (PQenterPipelineMode(db->conn) != 1)
        return broke(db, 1, fail(db, NULL));
    for (size_t i = 0; i < n_q && sent; i++) {
        const struct pg_queued *q = &db->queued[i];

        if (q->tx == TX_WRITE)
            write_values(db, q, wv, wl, wf);
        sent = PQsendQueryPrepared(db->conn, sent_as[i]->name,
                                   q->tx == TX_WRITE ? q->write->n_params : 0, wv, wl, wf, 0);
    }
    if (sent && c != NULL)
        sent = PQsendQueryPrepared(db->conn, c->name, n, values, lengths, formats, 0);
    if (sent)
        sent = PQpipelineSync(db->conn);
    /* each statement's results, then NULL; then the sync's */
    for (size_t i = 0; sent && i < n_q + (c != NULL); i++)
        while ((res = PQgetResult(db->conn)) != NULL)
            pipeline_result(res, i, i < n_q ? &db->queued[i] : NULL, c, &failed, &failed_at,
                            &rolled_back);
    while (sent && (res = PQgetResult(db->conn)) != NULL) {
        int sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;

        PQclear(res);
        if (sync)
            break;
    }
    PQexitPipelineMode(db->conn);
    level = !sent || failed == NULL ? 1
            : failed_at < n_q       ? db->queued[failed_at].level
                                    : db->depth;
    unqueue_from(db, 0);
    if (!sent || failed != NULL || (c != NULL && c->res == NULL)) {
        if (c != NULL) {
            PQclear(c->res);
            c->res = NULL;
        }
        return broke(db, level, fail(db, failed));
    }
    if (rolled_back) {
        db_set_error(&db->head, "the transaction failed earlier and was rolled back");
        return ONR_EIO;
    }
    return c != NULL ? check(db, c->res, 1) : ONR_OK;
}

/* Queue `tx` for savepoint `level`; one deeper than the prepared ones
 * goes out at once, after what is queued before it. */
static int queue_tx(struct pg_db *db, enum pg_tx tx, unsigned level)
{
    char sql[48];
    int rc;

    if (level <= MAX_QUEUED_LEVEL && db->n_queued < MAX_QUEUED) {
        db->queued[db->n_queued++] = (struct pg_queued){tx, level, NULL, 0, 0};
        return ONR_OK;
    }
    rc = send_all(db, NULL, 0, NULL, NULL, NULL);
    if (rc != ONR_OK || level <= MAX_QUEUED_LEVEL) {
        if (rc == ONR_OK)
            db->queued[db->n_queued++] = (struct pg_queued){tx, level, NULL, 0, 0};
        return rc;
    }
    snprintf(sql, sizeof(sql), "%sSAVEPOINT s%u", tx == TX_RELEASE ? "RELEASE " : "", level);
    return broke(db, level, check(db, PQexec(db->conn, sql), 0));
}

/* Is the last thing queued the SAVEPOINT of `level` (nothing ran in it)? */
static int savepoint_unsent(const struct pg_db *db, unsigned level)
{
    const struct pg_queued *q = db->n_queued > 0 ? &db->queued[db->n_queued - 1] : NULL;

    return q != NULL && q->tx == TX_SAVEPOINT && q->level == level;
}

/* Is the outer BEGIN still queued? */
static int begin_unsent(const struct pg_db *db)
{
    return db->n_queued > 0 && db->queued[0].tx == TX_BEGIN;
}

/* Does the queue hold a write of `level` or deeper (0: any)? */
static int writes_queued(const struct pg_db *db, unsigned level)
{
    for (size_t i = 0; i < db->n_queued; i++)
        if (db->queued[i].tx == TX_WRITE && db->queued[i].level >= level)
            return 1;
    return 0;
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

/* Copy `len` bytes into the arena; *at gets where. */
static int arena_put(struct pg_db *db, const void *p, size_t len, size_t *at)
{
    if (db->arena_cap - db->arena_len < len) {
        size_t cap = db->arena_cap > 0 ? db->arena_cap : 4096;
        char *grown;

        while (cap - db->arena_len < len)
            cap *= 2;
        grown = realloc(db->arena, cap);
        if (grown == NULL)
            return ONR_ENOMEM;
        db->arena = grown;
        db->arena_cap = cap;
    }
    memcpy(db->arena + db->arena_len, p, len);
    *at = db->arena_len;
    db->arena_len += len;
    return ONR_OK;
}

/* The statement for `sql` (prepared), its values checked and bound. */
static int statement(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                     const char **values, int *lengths, int *formats, char (*ints)[24],
                     struct pg_stmt **out)
{
    int rc;

    if (db->depth == 0) {
        rc = ensure_connected(db);
        if (rc != ONR_OK)
            return rc;
    }
    rc = prepare(db, sql, args, n, out);
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
    int rc = still_broken(db);

    if (rc == ONR_OK)
        rc = statement(db, sql, args, n, values, lengths, formats, ints, &c);
    if (rc != ONR_OK)
        return rc;
    PQclear(c->res);
    c->res = NULL;
    rc = send_all(db, c, (int)n, values, lengths, formats);
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
    struct pg_queued q = {TX_WRITE, db->depth, NULL, 0, 0};
    int rc;

    if (db->depth == 0)
        return onr_db_run(base, sql, args, n);
    rc = still_broken(db);
    if (rc == ONR_OK)
        rc = statement(db, sql, args, n, values, lengths, formats, ints, &q.write);
    if (rc == ONR_OK && db->n_queued == MAX_QUEUED)
        rc = send_all(db, NULL, 0, NULL, NULL, NULL);
    if (rc != ONR_OK)
        return rc;
    q.first_value = db->n_values;
    q.bytes_at = db->arena_len;
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        struct pg_value *v = &db->values[db->n_values + i];

        *v = (struct pg_value){0, lengths[i], formats[i], values[i] == NULL};
        if (values[i] != NULL)
            rc = arena_put(db, values[i], formats[i] ? (size_t)lengths[i] : strlen(values[i]) + 1,
                           &v->at);
    }
    if (rc != ONR_OK) {
        db->arena_len = q.bytes_at;
        return rc;
    }
    db->n_values += n;
    db->queued[db->n_queued++] = q;
    return ONR_OK;
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
    int rc = still_broken(db);

    if (rc == ONR_OK && db->depth == 0)
        rc = ensure_connected(db);
    if (rc == ONR_OK)
        rc = send_all(db, NULL, 0, NULL, NULL, NULL);
    if (rc != ONR_OK)
        return rc;
    rc = pg_sql_translate(sql, &text, NULL);
    if (rc != ONR_OK) {
        db_set_error(base, "cannot translate \"%.60s\"", sql);
        return rc;
    }
    rc = check(db, PQexec(db->conn, text), 0);
    free(text);
    return broke(db, db->depth, rc);
}

/* ---- transactions ------------------------------------------------------------- */

static int pg_begin(struct onr_db *base)
{
    struct pg_db *db = pg(base);
    int rc;

    if (db->depth == 0) {
        unqueue_from(db, 0);
        db->merged = 0;
        db->broken = 0;
        rc = ensure_connected(db);
        if (rc == ONR_OK)
            rc = queue_tx(db, TX_BEGIN, 1);
    } else if ((rc = still_broken(db)) != ONR_OK) {
        return rc; /* nothing can run in it */
    } else if (db->merged == 0 && db->n_queued == 1 && begin_unsent(db)) {
        db->merged = db->depth; /* nothing to keep if it rolls back */
    } else {
        rc = queue_tx(db, TX_SAVEPOINT, db->depth);
    }
    if (rc == ONR_OK)
        db->depth++;
    return rc;
}

/* The end of a savepoint's level: its RELEASE waits for the next
 * statement, unless writes of the level wait too: then they go out now,
 * so that their failure is this level's (its caller rolls it back). */
static int commit_savepoint(struct pg_db *db)
{
    unsigned level = db->depth - 1; /* its savepoint's number */
    int rc = ONR_OK;

    if (db->merged == level) {
        if (writes_queued(db, db->depth))
            rc = send_all(db, NULL, 0, NULL, NULL, NULL);
        if (rc == ONR_OK)
            db->merged = 0; /* its work stays in the transaction */
    } else if (savepoint_unsent(db, level)) {
        db->n_queued--; /* nothing ran in it */
    } else if (writes_queued(db, db->depth)) {
        rc = queue_tx(db, TX_RELEASE, level);
        if (rc == ONR_OK)
            rc = send_all(db, NULL, 0, NULL, NULL, NULL);
    } else {
        rc = queue_tx(db, TX_RELEASE, level);
    }
    if (rc == ONR_OK)
        db->depth--;
    return rc;
}

static int pg_commit(struct onr_db *base)
{
    struct pg_db *db = pg(base);
    size_t kept = 0;
    int rc = still_broken(db);

    if (db->depth == 0) {
        db_set_error(base, "cannot commit: no transaction is active");
        return ONR_EIO;
    }
    if (rc != ONR_OK)
        return rc; /* the caller rolls back */
    if (db->depth > 1)
        return commit_savepoint(db);
    if (begin_unsent(db) && !writes_queued(db, 0)) {
        /* nothing ran in it: nothing to commit */
        unqueue_from(db, 0);
        db->depth = 0;
        return ONR_OK;
    }
    /* savepoints to release: COMMIT ends them; the writes go with it */
    for (size_t i = 0; i < db->n_queued; i++)
        if (db->queued[i].tx != TX_RELEASE)
            db->queued[kept++] = db->queued[i];
    db->n_queued = kept;
    rc = queue_tx(db, TX_COMMIT, 1);
    if (rc == ONR_OK)
        rc = send_all(db, NULL, 0, NULL, NULL, NULL);
    if (rc == ONR_OK || PQtransactionStatus(db->conn) == PQTRANS_IDLE ||
        PQstatus(db->conn) == CONNECTION_BAD) {
        db->depth = 0;
        db->broken = 0;
    }
    return rc;
}

static void pg_rollback(struct onr_db *base)
{
    struct pg_db *db = pg(base);
    char sql[80];

    if (db->broken != 0 && db->depth > db->broken) {
        /* its savepoint went out after what failed: it was never made,
         * and what it did is lost with the broken level's */
        unqueue_from(db, 0);
        if (db->merged >= db->depth - 1)
            db->merged = 0;
        db->depth--;
        return;
    }
    if (db->broken == db->depth)
        db->broken = 0; /* undone below */
    if (db->depth <= 1 || db->merged == db->depth - 1) {
        int sent = !begin_unsent(db);

        unqueue_from(db, 0);
        if (sent && PQstatus(db->conn) == CONNECTION_OK &&
            PQtransactionStatus(db->conn) != PQTRANS_IDLE)
            PQclear(PQexec(db->conn, "ROLLBACK"));
        if (db->depth <= 1) {
            db->depth = 0;
            return;
        }
        /* the transaction held this savepoint's work alone: it goes on */
        db->merged = 0;
        db->queued[db->n_queued++] = (struct pg_queued){TX_BEGIN, 1, NULL, 0, 0};
    } else {
        size_t at = db->n_queued;

        while (at > 0 && !(db->queued[at - 1].tx == TX_SAVEPOINT &&
                           db->queued[at - 1].level == db->depth - 1))
            at--;
        if (at > 0) {
            unqueue_from(db, at - 1); /* it never went out: nothing to undo */
        } else {
            /* the savepoint went out, so did all before it: what is queued
             * came after it and is undone with it */
            unqueue_from(db, 0);
            snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT s%u; RELEASE SAVEPOINT s%u",
                     db->depth - 1, db->depth - 1);
            PQclear(PQexec(db->conn, sql));
        }
    }
    db->depth--;
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
        rc = check(db, PQexec(db->conn, "SELECT pg_advisory_lock(" SCHEMA_LOCK ")"), 0);
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
