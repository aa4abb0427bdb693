/*
 * What the migrations (db_migrate.c) need from a storage backend beyond
 * <onramp/svc_db.h>: where the schema version is recorded and whether a
 * database holds anything yet. SQLite (db_sqlite.c) keeps the version in
 * PRAGMA user_version; a PostgreSQL backend would keep it in a table.
 */
#ifndef ONRAMP_SVC_DB_BACKEND_H
#define ONRAMP_SVC_DB_BACKEND_H

#include <stddef.h>

#include "onramp/svc_db.h"

/* The recorded schema version (0: none yet). ONR_OK or ONR_EIO. */
int db_version_get(struct onr_db *db, int *version);
/* Record `version`, inside the caller's transaction. */
int db_version_set(struct onr_db *db, int version);
/* *empty = 1 when the database holds no table at all. */
int db_is_empty(struct onr_db *db, int *empty);
/* Say why an open failed, for onr_db_errmsg (printf-style). */
__attribute__((format(printf, 2, 3))) void db_set_error(struct onr_db *db, const char *fmt,
                                                        ...);

/* db_migrate: bring `db`, at `from`, to schema->n (db_migrate.c). */
int db_migrate(struct onr_db *db, const struct onr_db_schema *schema, void *ctx, int from);

#endif
