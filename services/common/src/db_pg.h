/*
 * What the PostgreSQL backend's two files share: db_pg.c (the connection,
 * statements and their rows, opening) and db_pg_tx.c (transactions, and
 * what waits to go out with the next statement).
 */
#ifndef ONRAMP_SVC_DB_PG_H
#define ONRAMP_SVC_DB_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "db_backend.h"

#define MAX_STATEMENTS 160
#define MAX_PARAMS 32
#define MAX_QUEUED 32 /* statements waiting for the next one (or a commit) */
#define MAX_QUEUED_LEVEL 8 /* savepoints deeper than this go out at once */

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

static inline struct pg_db *pg(struct onr_db *db)
{
    return (struct pg_db *)db;
}

#ifdef ONR_TEST_HOOKS
/* The tests' count of round trips (scripts/pg-round-trips): with
 * ONR_TEST_PG_TRACE naming a file, a line per round trip appended to it
 * (the process and the statement that went out last). */
void pg_trace(const char *what);
#else
#define pg_trace(what) ((void)0)
#endif

/* ---- db_pg.c ---------------------------------------------------------------------- */

/* Why `res` failed (NULL: the connection's own error), kept for
 * onr_db_errmsg; the result is cleared. The error's code. */
int pg_fail(struct pg_db *db, PGresult *res);
/* `res` succeeded (its rows changed counted) or failed (pg_fail). Clears
 * it unless `keep`. */
int pg_check(struct pg_db *db, PGresult *res, int keep);
/* Outside any transaction, a lost connection made again. */
int pg_ensure_connected(struct pg_db *db);
/* The statement for `sql`, prepared on this connection with the types of
 * `args` (none for the transaction statements). */
int pg_prepare(struct pg_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
               struct pg_stmt **out);

/* ---- db_pg_tx.c ------------------------------------------------------------------- */

/* Everything queued, then statement `c` with its values (`c` may be NULL:
 * the queue alone), in one round trip; c's rows in c->res. ONR_OK or the
 * first failure, which breaks the level of what failed (pg_broke). */
int pg_send(struct pg_db *db, struct pg_stmt *c, int n, const char *const *values,
            const int *lengths, const int *formats);
/* A server's failure `rc` at `level`: until that level's rollback every
 * call of it or deeper returns `rc`. Returns `rc`. */
int pg_broke(struct pg_db *db, unsigned level, int rc);
/* ONR_OK, or the code of the failure that broke a level still open. */
int pg_still_broken(const struct pg_db *db);
/* Queue write `c` (prepared) with a copy of its `n` values, at the
 * current level. */
int pg_queue_write(struct pg_db *db, struct pg_stmt *c, size_t n, const char *const *values,
                   const int *lengths, const int *formats);
int pg_begin(struct onr_db *db);
int pg_commit(struct onr_db *db);
void pg_rollback(struct onr_db *db);

#endif
