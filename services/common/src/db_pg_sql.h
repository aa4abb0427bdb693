/* SQLite's dialect to PostgreSQL's (db_pg_sql.c). */
#ifndef ONRAMP_SVC_DB_PG_SQL_H
#define ONRAMP_SVC_DB_PG_SQL_H

/*
 * pg_sql_translate: `sql` as PostgreSQL reads it: ?N as $N; BLOB as BYTEA,
 * INTEGER as BIGINT (INTEGER PRIMARY KEY an identity column); WITHOUT ROWID
 * dropped; an append-only trigger (BEGIN SELECT RAISE(ABORT, 'why'); END)
 * as one calling onr_refuse('why'), the function created with it. *out is
 * malloc'ed (the caller frees it); *n_params (may be NULL) gets the highest
 * N. ONR_OK, ONR_EINVAL (a parameter out of 1..99, a trigger that is not
 * of that form) or ONR_ENOMEM.
 */
int pg_sql_translate(const char *sql, char **out, int *n_params);

#endif
