/*
 * SQLite for onboarding state: every service's database, and the
 * manufacturer's registry the factory writes to.
 *
 * Durable before acknowledged (SECURITY-NOTES.md): WAL with
 * synchronous=FULL (NORMAL can lose the last commits on power loss), one
 * transaction per handled message taken with BEGIN IMMEDIATE, SQLITE_BUSY
 * reported as ONR_EBUSY (a retry, never a dropped message). A corrupt
 * database refuses to open and is never re-created: that would re-issue
 * identities.
 *
 * Every database has the message-dedup outbox `processed`: a handler looks
 * up the envelope's (sender, message id) inside its transaction, and stores
 * its answer there with the state change, so a retry or a duplicate gets
 * the same answer and never a second credential.
 */
#ifndef ONRAMP_SVC_DB_H
#define ONRAMP_SVC_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

struct onr_db;

/*
 * onr_db_open: open (creating with mode 0600) the database at `path`,
 * check an existing one (PRAGMA quick_check), and bring its schema to
 * `version` by running `schema` (borrowed SQL) when the file is new
 * (user_version 0). On failure `why` (`why_cap` bytes, may be NULL) says
 * what happened. Returns ONR_OK, ONR_EINVAL, ONR_EIO (cannot open, or
 * corrupt), ONR_EVERSION (made by a newer program) or ONR_ENOMEM.
 */
int onr_db_open(const char *path, const char *schema, int version, struct onr_db **out,
                char *why, size_t why_cap);

/* onr_db_close: finalizes statements and closes. Accepts NULL. */
void onr_db_close(struct onr_db *db);

/* onr_db_errmsg: SQLite's last message, for logs. Static until the next
 * call on `db`. */
const char *onr_db_errmsg(const struct onr_db *db);

/* onr_db_set_busy_timeout: how long a write waits for another writer
 * (default 5000 ms). */
void onr_db_set_busy_timeout(struct onr_db *db, int ms);

/* Transactions. They nest: the outermost begin is BEGIN IMMEDIATE (ONR_OK,
 * ONR_EBUSY: another writer past the busy timeout, or ONR_EIO), one inside
 * it a SAVEPOINT; commit ends the innermost (COMMIT, or RELEASE of its
 * savepoint: durable only once the outermost commits), rollback undoes
 * the innermost only. rollback accepts no open transaction. The service
 * skeleton opens an outer one around a burst of messages (group commit),
 * so a handler's own begin/commit is a savepoint there. */
int onr_db_begin(struct onr_db *db);
int onr_db_commit(struct onr_db *db);
void onr_db_rollback(struct onr_db *db);

/*
 * onr_db_prepare: the statement for `sql` (borrowed; a literal), prepared
 * once and cached, reset and with its bindings cleared. The statement
 * belongs to `db`. Returns ONR_OK, ONR_EINVAL (bad SQL: a bug) or
 * ONR_ENOMEM.
 */
int onr_db_prepare(struct onr_db *db, const char *sql, sqlite3_stmt **stmt);

/*
 * onr_db_step: step a statement; ONR_OK for a row (SQLITE_ROW), ONR_ENOENT
 * when done (SQLITE_DONE), ONR_EEXIST for a constraint violation,
 * ONR_EBUSY, ONR_EIO.
 */
int onr_db_step(struct onr_db *db, sqlite3_stmt *stmt);

/* onr_db_exec: run `sql` (no rows expected, no parameters). */
int onr_db_exec(struct onr_db *db, const char *sql);

/* Binding helpers: bytes as a blob (NULL ptr binds NULL), text of `len`. */
int onr_db_bind_bytes(sqlite3_stmt *stmt, int index, struct onr_bytes b);
int onr_db_bind_text(sqlite3_stmt *stmt, int index, const char *text, size_t len);

/* Column helpers: a blob or text column as borrowed bytes (valid until the
 * statement steps again or is reset). */
struct onr_bytes onr_db_column_bytes(sqlite3_stmt *stmt, int column);
/* onr_db_column_exact: copy a blob column of exactly `len` bytes; ONR_EIO
 * for anything else (the database is not what we wrote). */
int onr_db_column_exact(sqlite3_stmt *stmt, int column, uint8_t *out, size_t len);
/* onr_db_column_text: copy a text column into `out` of `cap` bytes with its
 * NUL; ONR_EIO if NULL or too long. */
int onr_db_column_text(sqlite3_stmt *stmt, int column, char *out, size_t cap);

/* onr_db_run: step a statement that returns no rows and reset it: ONR_OK,
 * or onr_db_step's errors. */
int onr_db_run(struct onr_db *db, sqlite3_stmt *stmt);
/* onr_db_in_transaction: `fn(db, arg)` in a transaction of its own,
 * committed if it returns ONR_OK, else rolled back; its result (or the
 * transaction's error). */
int onr_db_in_transaction(struct onr_db *db, int (*fn)(struct onr_db *db, const void *arg),
                          const void *arg);

/* onr_db_run_text: prepare `sql` (a literal with one parameter, ?1),
 * bind `text` to it and run it: onr_db_run's results. */
int onr_db_run_text(struct onr_db *db, const char *sql, const char *text);
/* onr_db_run_one: onr_db_run for an UPDATE meant to change a row:
 * ONR_ENOENT when it changed none. */
int onr_db_run_one(struct onr_db *db, sqlite3_stmt *stmt);
/* onr_db_changes: rows the last statement changed. */
int onr_db_changes(struct onr_db *db);

/*
 * The outbox (inside the caller's transaction).
 * onr_db_processed_get: ONR_OK with the stored answer's topic and payload
 * copied to the caller's buffers (`topic` of `topic_cap`, `answer` of
 * *answer_len; on return *answer_len is its length), ONR_ENOENT if this
 * message is new, ONR_ESPACE.
 * onr_db_processed_put: record the message and its answer (both may be
 * empty for a message that needs none). ONR_EEXIST if already there.
 * onr_db_processed_prune: forget entries older than `before` (seconds).
 */
int onr_db_processed_get(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                         char *topic, size_t topic_cap, uint8_t *answer, size_t *answer_len);
int onr_db_processed_put(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                         uint64_t now, const char *topic, struct onr_bytes answer);
int onr_db_processed_prune(struct onr_db *db, uint64_t before);

#endif /* ONRAMP_SVC_DB_H */
