/*
 * The PostgreSQL backend's transactions (db_pg.h), and what waits to go
 * out with the next statement.
 *
 * Round trips: BEGIN, SAVEPOINT and RELEASE SAVEPOINT are not sent when
 * asked for but queued, and go out (prepared, in pipeline mode) in front
 * of the next statement, in one round trip with it; a transaction or
 * savepoint that ran no statement is never sent at all, and COMMIT ends
 * the savepoints still queued for release. The first savepoint of a
 * transaction in which nothing ran yet (a burst's first handler) is the
 * transaction itself: its rollback is ROLLBACK, and the transaction begins
 * again for the rest of the burst. Writes whose outcome can wait
 * (onr_db_run_later) are queued the same way, with a copy of their
 * values; a level's commit sends its writes still queued at once (with
 * its RELEASE), so that a handler's write fails that handler, and COMMIT
 * goes out prepared with the writes queued before it.
 *
 * A failure of something that went out with a later statement is that
 * statement's failure, with its own code; and since PostgreSQL aborts the
 * transaction at a failed statement, it breaks the level it was queued in
 * (the level its savepoint opened): every call of that level or deeper
 * then fails with that code without going to the server, its commit
 * included, until its rollback (ROLLBACK TO its savepoint, which went out
 * before what failed). Deeper levels opened since were never made: their
 * rollbacks send nothing. So a failed write never passes for done: the
 * handler whose write it was is undone, and only it (when the write was of
 * its level), as if the write had failed where it was asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pg.h"
#include "onramp/error.h"

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
int pg_broke(struct pg_db *db, unsigned level, int rc)
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
int pg_still_broken(const struct pg_db *db)
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
 * of what failed (pg_broke()). */
int pg_send(struct pg_db *db, struct pg_stmt *c, int n, const char *const *values,
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
    pg_trace(c != NULL ? c->sql : queued_sql(&db->queued[n_q - 1]));
    if (n_q == 0) {
        c->res = PQexecPrepared(db->conn, c->name, n, values, lengths, formats, 0);
        rc = pg_check(db, c->res, 1);
        if (rc != ONR_OK)
            c->res = NULL; /* cleared by check */
        return pg_broke(db, db->depth, rc);
    }
    for (size_t i = 0; i < n_q; i++) {
        sent_as[i] = db->queued[i].write;
        if (db->queued[i].tx != TX_WRITE) {
            rc = pg_prepare(db, queued_sql(&db->queued[i]), NULL, 0, &sent_as[i]);
            if (rc != ONR_OK)
                return pg_broke(db, 1, rc);
        }
    }
    if (PQenterPipelineMode(db->conn) != 1)
        return pg_broke(db, 1, pg_fail(db, NULL));
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
        return pg_broke(db, level, pg_fail(db, failed));
    }
    if (rolled_back) {
        db_set_error(&db->head, "the transaction failed earlier and was rolled back");
        return ONR_EIO;
    }
    return c != NULL ? pg_check(db, c->res, 1) : ONR_OK;
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
    rc = pg_send(db, NULL, 0, NULL, NULL, NULL);
    if (rc != ONR_OK || level <= MAX_QUEUED_LEVEL) {
        if (rc == ONR_OK)
            db->queued[db->n_queued++] = (struct pg_queued){tx, level, NULL, 0, 0};
        return rc;
    }
    snprintf(sql, sizeof(sql), "%sSAVEPOINT s%u", tx == TX_RELEASE ? "RELEASE " : "", level);
    pg_trace(sql);
    return pg_broke(db, level, pg_check(db, PQexec(db->conn, sql), 0));
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

/* Queue `c` (the write of onr_db_run_later, prepared) with a copy of its
 * `n` values (as bind_values made them), at the current level. */
int pg_queue_write(struct pg_db *db, struct pg_stmt *c, size_t n, const char *const *values,
                   const int *lengths, const int *formats)
{
    struct pg_queued q = {TX_WRITE, db->depth, c, 0, 0};
    int rc = db->n_queued == MAX_QUEUED ? pg_send(db, NULL, 0, NULL, NULL, NULL) : ONR_OK;

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

/* ---- transactions ------------------------------------------------------------- */

int pg_begin(struct onr_db *base)
{
    struct pg_db *db = pg(base);
    int rc;

    if (db->depth == 0) {
        unqueue_from(db, 0);
        db->merged = 0;
        db->broken = 0;
        rc = pg_ensure_connected(db);
        if (rc == ONR_OK)
            rc = queue_tx(db, TX_BEGIN, 1);
    } else if ((rc = pg_still_broken(db)) != ONR_OK) {
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
            rc = pg_send(db, NULL, 0, NULL, NULL, NULL);
        if (rc == ONR_OK)
            db->merged = 0; /* its work stays in the transaction */
    } else if (savepoint_unsent(db, level)) {
        db->n_queued--; /* nothing ran in it */
    } else if (writes_queued(db, db->depth)) {
        rc = queue_tx(db, TX_RELEASE, level);
        if (rc == ONR_OK)
            rc = pg_send(db, NULL, 0, NULL, NULL, NULL);
    } else {
        rc = queue_tx(db, TX_RELEASE, level);
    }
    if (rc == ONR_OK)
        db->depth--;
    return rc;
}

int pg_commit(struct onr_db *base)
{
    struct pg_db *db = pg(base);
    size_t kept = 0;
    int rc = pg_still_broken(db);

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
        rc = pg_send(db, NULL, 0, NULL, NULL, NULL);
    if (rc == ONR_OK || PQtransactionStatus(db->conn) == PQTRANS_IDLE ||
        PQstatus(db->conn) == CONNECTION_BAD) {
        db->depth = 0;
        db->broken = 0;
    }
    return rc;
}

void pg_rollback(struct onr_db *base)
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
            PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
            pg_trace("ROLLBACK");
            PQclear(PQexec(db->conn, "ROLLBACK"));
        }
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
            pg_trace(sql);
            PQclear(PQexec(db->conn, sql));
        }
    }
    db->depth--;
}
