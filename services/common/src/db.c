/*
 * The engine-neutral part of <onramp/svc_db.h>: the backend chosen from the
 * database string (DB_PG_PREFIX: PostgreSQL, anything else a SQLite file),
 * the schema version checked and migrated the same way on both, every other
 * call passed to the backend's table (db_backend.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "db_backend.h"
#include "onramp/error.h"

void db_set_error(struct onr_db *db, const char *fmt, ...)
{
    char line[DB_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap); /* may quote db->error itself */
    va_end(ap);
    memcpy(db->error, line, sizeof(line));
}

const char *onr_db_errmsg(const struct onr_db *db)
{
    return db == NULL ? "no database" : db->error;
}

int db_version_set(struct onr_db *db, int version)
{
    return db->ops->version_set(db, version);
}

int onr_db_is_postgres(const char *where)
{
    return where != NULL && strncmp(where, DB_PG_PREFIX, strlen(DB_PG_PREFIX)) == 0;
}

/* The version found, checked against what this program speaks. */
static int check_version(struct onr_db *db, const struct onr_db_schema *schema, int *found)
{
    int empty = 0;
    int rc = db->ops->version_get(db, found);

    if (rc != ONR_OK)
        return rc;
    if (*found > (int)schema->n) {
        db_set_error(db, "database schema %d is newer than this program's %zu", *found,
                     schema->n);
        return ONR_EVERSION;
    }
    if (*found > 0)
        return ONR_OK;
    rc = db->ops->is_empty(db, &empty);
    if (rc == ONR_OK && !empty) {
        db_set_error(db, "the database has tables but no schema version: not one this "
                         "program made; refusing to touch it");
        rc = ONR_EVERSION;
    }
    return rc;
}

int onr_db_connect(const char *where, const char *password, const struct onr_db_schema *schema,
                   void *ctx, struct onr_db **out, int *from, char *why, size_t why_cap)
{
    const struct db_ops *ops = onr_db_is_postgres(where) ? &db_pg_ops : &db_sqlite_ops;
    struct onr_db *db = NULL;
    int found = 0;
    int rc;

    if (where == NULL || schema == NULL || schema->n < 1 || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    rc = ops->open(where, password, &db);
    if (rc == ONR_OK)
        rc = check_version(db, schema, &found);
    if (rc == ONR_OK)
        rc = db_migrate(db, schema, ctx, found);
    if (rc != ONR_OK) {
        if (why != NULL && why_cap > 0)
            snprintf(why, why_cap, "%s",
                     db == NULL ? onr_strerror(rc)
                     : db->error[0] != '\0' ? db->error
                                            : "cannot open");
        if (db != NULL)
            ops->close(db);
        return rc;
    }
    ops->opened(db);
    if (from != NULL)
        *from = found;
    *out = db;
    return ONR_OK;
}

int onr_db_open(const char *where, const struct onr_db_schema *schema, void *ctx,
                struct onr_db **out, int *from, char *why, size_t why_cap)
{
    return onr_db_connect(where, NULL, schema, ctx, out, from, why, why_cap);
}

void onr_db_close(struct onr_db *db)
{
    if (db != NULL)
        db->ops->close(db);
}

void onr_db_set_busy_timeout(struct onr_db *db, int ms)
{
    if (db != NULL)
        db->ops->set_busy_timeout(db, ms);
}

int onr_db_begin(struct onr_db *db)
{
    return db == NULL ? ONR_EINVAL : db->ops->begin(db);
}

int onr_db_commit(struct onr_db *db)
{
    return db == NULL ? ONR_EINVAL : db->ops->commit(db);
}

void onr_db_rollback(struct onr_db *db)
{
    if (db != NULL)
        db->ops->rollback(db);
}

int onr_db_in_transaction(struct onr_db *db, int (*fn)(struct onr_db *db, void *arg), void *arg)
{
    int rc = onr_db_begin(db);

    if (rc != ONR_OK)
        return rc;
    rc = fn(db, arg);
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK)
        onr_db_rollback(db);
    return rc;
}

int onr_db_exec(struct onr_db *db, const char *sql)
{
    return db == NULL || sql == NULL ? ONR_EINVAL : db->ops->exec(db, sql);
}

int onr_db_run(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
               size_t n_args)
{
    int rc = onr_db_get(db, sql, args, n_args, NULL, 0);

    return rc == ONR_ENOENT ? ONR_OK : rc; /* done: no rows, as it should */
}

int onr_db_run_later(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                     size_t n_args)
{
    if (db == NULL || sql == NULL)
        return ONR_EINVAL;
    if (db->ops->run_later == NULL)
        return onr_db_run(db, sql, args, n_args);
    return db->ops->run_later(db, sql, args, n_args);
}

int onr_db_run_one(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                   size_t n_args)
{
    int rc = onr_db_run(db, sql, args, n_args);

    return rc == ONR_OK && db->ops->changes(db) == 0 ? ONR_ENOENT : rc;
}

int onr_db_get(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
               size_t n_args, const struct onr_db_col *cols, size_t n_cols)
{
    struct onr_db_rows *rows = NULL;
    int rc;

    if (db == NULL || sql == NULL)
        return ONR_EINVAL;
    rc = db->ops->start(db, sql, args, n_args, &rows);
    if (rc != ONR_OK)
        return rc;
    rc = rows->ops->step(rows, cols, n_cols);
    rows->ops->finish(rows);
    return rc;
}

int onr_db_query(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                 size_t n_args, struct onr_db_rows **rows)
{
    *rows = NULL;
    if (db == NULL || sql == NULL)
        return ONR_EINVAL;
    return db->ops->start(db, sql, args, n_args, rows);
}

int onr_db_next(struct onr_db_rows *rows, const struct onr_db_col *cols, size_t n_cols)
{
    return rows == NULL ? ONR_EINVAL : rows->ops->step(rows, cols, n_cols);
}

void onr_db_query_end(struct onr_db_rows *rows)
{
    if (rows != NULL)
        rows->ops->finish(rows);
}

int onr_db_changes(struct onr_db *db)
{
    return db->ops->changes(db);
}
