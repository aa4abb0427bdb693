/*
 * What a storage backend supplies behind <onramp/svc_db.h>: db.c holds the
 * engine-neutral part (choosing the backend from the database string, the
 * version check, migrations, the error line) and calls the backend through
 * its table of operations. SQLite (db_sqlite.c) keeps the schema version in
 * PRAGMA user_version, PostgreSQL (db_pg.c) in a one-row table.
 *
 * A backend's handle embeds `struct onr_db` as its first member (and its
 * query handle `struct onr_db_rows`), so db.c reaches the table and the
 * backend casts back to its own type.
 */
#ifndef ONRAMP_SVC_DB_BACKEND_H
#define ONRAMP_SVC_DB_BACKEND_H

#include <stddef.h>

#include "onramp/svc_db.h"

#define DB_ERROR_MAX 256

struct db_ops;

struct onr_db {
    const struct db_ops *ops;
    char error[DB_ERROR_MAX]; /* onr_db_errmsg */
};

struct onr_db_rows {
    const struct db_ops *ops;
};

struct db_ops {
    /* Connect to `where` (the backend's part of the database string) with
     * `password` (borrowed, may be NULL), and check what is there; schema
     * work is db.c's. On failure *out may still be set, with its error. */
    int (*open)(const char *where, const char *password, struct onr_db **out);
    /* Once the schema is settled (migrated or found current). */
    void (*opened)(struct onr_db *db);
    void (*close)(struct onr_db *db);
    void (*set_busy_timeout)(struct onr_db *db, int ms);
    int (*begin)(struct onr_db *db);
    int (*commit)(struct onr_db *db);
    void (*rollback)(struct onr_db *db);
    int (*exec)(struct onr_db *db, const char *sql);
    /* A statement with its values bound (the handle kept by the backend);
     * then its rows one by one (ONR_OK, ONR_ENOENT after the last); then
     * always finish. db.c builds run, get and queries on these. */
    int (*start)(struct onr_db *db, const char *sql, const struct onr_db_arg *args, size_t n,
                 struct onr_db_rows **rows);
    int (*step)(struct onr_db_rows *rows, const struct onr_db_col *cols, size_t n_cols);
    void (*finish)(struct onr_db_rows *rows);
    /* onr_db_run_later; NULL: the backend runs it at once. */
    int (*run_later)(struct onr_db *db, const char *sql, const struct onr_db_arg *args,
                     size_t n);
    int (*changes)(struct onr_db *db);
    /* The recorded schema version (0: none yet). ONR_OK or ONR_EIO. */
    int (*version_get)(struct onr_db *db, int *version);
    /* Record `version`, inside the caller's transaction. */
    int (*version_set)(struct onr_db *db, int version);
    /* *empty = 1 when the database holds no table at all. */
    int (*is_empty)(struct onr_db *db, int *empty);
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* The prefix that selects PostgreSQL in a database string. */
#define DB_PG_PREFIX "postgresql:"

/* Say why something failed, for onr_db_errmsg (printf-style). */
__attribute__((format(printf, 2, 3))) void db_set_error(struct onr_db *db, const char *fmt,
                                                        ...);

/* Record `version` through the backend (db_migrate.c). */
int db_version_set(struct onr_db *db, int version);

/* db_migrate: bring `db`, at `from`, to schema->n (db_migrate.c). */
int db_migrate(struct onr_db *db, const struct onr_db_schema *schema, void *ctx, int from);

#endif
