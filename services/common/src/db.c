#include "onramp/svc_db.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onramp/error.h"

#define MAX_STATEMENTS 64

/* The outbox every database carries (see the header). */
static const char processed_schema[] =
    "CREATE TABLE IF NOT EXISTS processed ("
    "  sender TEXT NOT NULL,"
    "  msg_id BLOB NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  topic TEXT NOT NULL,"
    "  answer BLOB NOT NULL,"
    "  PRIMARY KEY (sender, msg_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS processed_at ON processed(at);";

struct cached {
    const char *sql; /* the caller's literal: compared by address, then text */
    sqlite3_stmt *stmt;
};

struct onr_db {
    sqlite3 *conn;
    struct cached stmts[MAX_STATEMENTS];
    size_t n_stmts;
    unsigned depth; /* transactions open: the outer one, then savepoints */
    char error[256];
};

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
        return ONR_OK;
    case SQLITE_DONE:
        return ONR_ENOENT;
    case SQLITE_CONSTRAINT:
        return ONR_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ONR_EBUSY;
    case SQLITE_NOMEM:
        return ONR_ENOMEM;
    default:
        return ONR_EIO;
    }
}

static int remember(struct onr_db *db, int rc)
{
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        snprintf(db->error, sizeof(db->error), "%s", sqlite3_errmsg(db->conn));
    return map_rc(rc);
}

const char *onr_db_errmsg(const struct onr_db *db)
{
    return db == NULL ? "no database" : db->error;
}

int onr_db_exec(struct onr_db *db, const char *sql)
{
    char *msg = NULL;
    int rc;

    if (db == NULL || sql == NULL)
        return ONR_EINVAL;
    rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        snprintf(db->error, sizeof(db->error), "%s", msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_rc(rc);
}

/* An integer from a one-row, one-column query. */
static int query_int(struct onr_db *db, const char *sql, int *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db->conn, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(stmt, 0);
    else
        remember(db, rc);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? ONR_OK : map_rc(rc);
}

/* quick_check answers "ok" for a sound database. */
static int check_integrity(struct onr_db *db)
{
    sqlite3_stmt *stmt = NULL;
    int rc;
    int ok = 0;

    rc = sqlite3_prepare_v2(db->conn, "PRAGMA quick_check", -1, &stmt, NULL);
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char *verdict = sqlite3_column_text(stmt, 0);

        ok = verdict != NULL && strcmp((const char *)verdict, "ok") == 0;
        if (!ok)
            snprintf(db->error, sizeof(db->error), "database corrupt: %s",
                     verdict != NULL ? (const char *)verdict : "?");
    } else {
        snprintf(db->error, sizeof(db->error), "database corrupt or unreadable: %s",
                 sqlite3_errmsg(db->conn));
    }
    sqlite3_finalize(stmt);
    return ok ? ONR_OK : ONR_EIO;
}

/* Create the file ourselves so it is 0600 whatever the umask. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd >= 0) {
        fchmod(fd, 0600);
        close(fd);
        return 1;
    }
    return 0;
}

int onr_db_open(const char *path, const char *schema, int version, struct onr_db **out,
                char *why, size_t why_cap)
{
    struct onr_db *db = NULL;
    int created;
    int current = 0;
    int rc;

    if (path == NULL || schema == NULL || version < 1 || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return ONR_ENOMEM;
    created = create_private(path);
    rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = ONR_EIO;
        goto out;
    }
    sqlite3_busy_timeout(db->conn, 5000);
    if (!created) {
        rc = check_integrity(db);
        if (rc != ONR_OK)
            goto out;
    }
    rc = onr_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "PRAGMA foreign_keys=ON;");
    if (rc == ONR_OK)
        rc = query_int(db, "PRAGMA user_version", &current);
    if (rc != ONR_OK)
        goto out;
    if (current > version) {
        snprintf(db->error, sizeof(db->error),
                 "database schema %d is newer than this program's %d", current, version);
        rc = ONR_EVERSION;
        goto out;
    }
    if (current == 0) {
        char set_version[64];

        snprintf(set_version, sizeof(set_version), "PRAGMA user_version=%d;", version);
        rc = onr_db_begin(db);
        if (rc == ONR_OK)
            rc = onr_db_exec(db, processed_schema);
        if (rc == ONR_OK)
            rc = onr_db_exec(db, schema);
        if (rc == ONR_OK)
            rc = onr_db_exec(db, set_version);
        if (rc == ONR_OK)
            rc = onr_db_commit(db);
        else
            onr_db_rollback(db);
        if (rc != ONR_OK)
            goto out;
    }
    *out = db;
    db = NULL;
out:
    if (db != NULL) {
        if (why != NULL && why_cap > 0)
            snprintf(why, why_cap, "%s", db->error[0] != '\0' ? db->error
                                         : db->conn != NULL ? sqlite3_errmsg(db->conn)
                                                            : "cannot open");
        onr_db_close(db);
    }
    return rc;
}

void onr_db_close(struct onr_db *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->n_stmts; i++)
        sqlite3_finalize(db->stmts[i].stmt);
    sqlite3_close(db->conn);
    free(db);
}

void onr_db_set_busy_timeout(struct onr_db *db, int ms)
{
    if (db != NULL)
        sqlite3_busy_timeout(db->conn, ms);
}

/* SQLite rolls a whole transaction back by itself after some errors
 * (SQLITE_FULL, SQLITE_IOERR, ...): then nothing is open any more. */
static void sync_depth(struct onr_db *db)
{
    if (sqlite3_get_autocommit(db->conn))
        db->depth = 0;
}

/* What opens and closes each transaction level, as literals the statement
 * cache keeps prepared: a batch opens and closes a level per message, and
 * parsing them each time was a few percent of a service's CPU. Deeper
 * levels are run as text. */
static const char *const level_open[] = {
    "BEGIN IMMEDIATE", "SAVEPOINT s1", "SAVEPOINT s2", "SAVEPOINT s3",
    "SAVEPOINT s4",    "SAVEPOINT s5", "SAVEPOINT s6", "SAVEPOINT s7",
};
static const char *const level_close[] = {
    "COMMIT",     "RELEASE s1", "RELEASE s2", "RELEASE s3",
    "RELEASE s4", "RELEASE s5", "RELEASE s6", "RELEASE s7",
};
_Static_assert(sizeof(level_open) == sizeof(level_close), "a close for every open");

/* Open (or close) transaction level `level`: 0 is the transaction, the
 * others are savepoints s1, s2, ... */
static int run_level(struct onr_db *db, int opening, unsigned level)
{
    const char *const *table = opening ? level_open : level_close;
    sqlite3_stmt *stmt = NULL;
    char sql[32];
    int rc;

    if (level >= sizeof(level_open) / sizeof(level_open[0])) {
        snprintf(sql, sizeof(sql), "%s s%u", opening ? "SAVEPOINT" : "RELEASE", level);
        return onr_db_exec(db, sql);
    }
    rc = onr_db_prepare(db, table[level], &stmt);
    if (rc == ONR_OK)
        rc = onr_db_step(db, stmt);
    if (stmt != NULL)
        sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc; /* SQLITE_DONE: no rows, done */
}

int onr_db_begin(struct onr_db *db)
{
    int rc;

    if (db == NULL)
        return ONR_EINVAL;
    sync_depth(db);
    rc = run_level(db, 1, db->depth);
    if (rc == ONR_OK)
        db->depth++;
    return rc;
}

int onr_db_commit(struct onr_db *db)
{
    int rc;

    if (db == NULL)
        return ONR_EINVAL;
    sync_depth(db);
    /* with nothing open, COMMIT: SQLite's error says so */
    rc = run_level(db, 0, db->depth <= 1 ? 0 : db->depth - 1);
    if (rc == ONR_OK && db->depth > 0)
        db->depth--;
    return rc;
}

void onr_db_rollback(struct onr_db *db)
{
    char sql[64];

    if (db == NULL)
        return;
    sync_depth(db);
    if (db->depth <= 1) {
        if (!sqlite3_get_autocommit(db->conn))
            sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        db->depth = 0;
        return;
    }
    snprintf(sql, sizeof(sql), "ROLLBACK TO s%u; RELEASE s%u", db->depth - 1, db->depth - 1);
    sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    db->depth--;
}

int onr_db_prepare(struct onr_db *db, const char *sql, sqlite3_stmt **stmt)
{
    struct cached *c;
    int rc;

    if (db == NULL || sql == NULL || stmt == NULL)
        return ONR_EINVAL;
    for (size_t i = 0; i < db->n_stmts; i++) {
        if (db->stmts[i].sql == sql || strcmp(db->stmts[i].sql, sql) == 0) {
            sqlite3_reset(db->stmts[i].stmt);
            sqlite3_clear_bindings(db->stmts[i].stmt);
            *stmt = db->stmts[i].stmt;
            return ONR_OK;
        }
    }
    if (db->n_stmts == MAX_STATEMENTS)
        return ONR_ENOMEM;
    c = &db->stmts[db->n_stmts];
    rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL);
    if (rc != SQLITE_OK) {
        remember(db, rc);
        return ONR_EINVAL;
    }
    c->sql = sql;
    db->n_stmts++;
    *stmt = c->stmt;
    return ONR_OK;
}

int onr_db_step(struct onr_db *db, sqlite3_stmt *stmt)
{
    return remember(db, sqlite3_step(stmt));
}

int onr_db_bind_bytes(sqlite3_stmt *stmt, int index, struct onr_bytes b)
{
    int rc = b.ptr == NULL ? sqlite3_bind_null(stmt, index)
                           : sqlite3_bind_blob(stmt, index, b.ptr, (int)b.len, SQLITE_STATIC);

    return map_rc(rc);
}

int onr_db_bind_text(sqlite3_stmt *stmt, int index, const char *text, size_t len)
{
    return map_rc(sqlite3_bind_text(stmt, index, text, (int)len, SQLITE_STATIC));
}

struct onr_bytes onr_db_column_bytes(sqlite3_stmt *stmt, int column)
{
    const void *p = sqlite3_column_blob(stmt, column);
    int n = sqlite3_column_bytes(stmt, column);

    return (struct onr_bytes){p, n > 0 ? (size_t)n : 0};
}

int onr_db_column_exact(sqlite3_stmt *stmt, int column, uint8_t *out, size_t len)
{
    struct onr_bytes b = onr_db_column_bytes(stmt, column);

    if (b.len != len || b.ptr == NULL)
        return ONR_EIO;
    memcpy(out, b.ptr, len);
    return ONR_OK;
}

int onr_db_column_text(sqlite3_stmt *stmt, int column, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(stmt, column);
    int n = sqlite3_column_bytes(stmt, column);

    if (t == NULL || n < 0 || (size_t)n >= cap)
        return ONR_EIO;
    memcpy(out, t, (size_t)n);
    out[n] = '\0';
    return ONR_OK;
}

int onr_db_run(struct onr_db *db, sqlite3_stmt *stmt)
{
    int rc = onr_db_step(db, stmt);

    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int onr_db_processed_get(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                         char *topic, size_t topic_cap, uint8_t *answer, size_t *answer_len)
{
    static const char sql[] =
        "SELECT topic, answer FROM processed WHERE sender = ?1 AND msg_id = ?2";
    sqlite3_stmt *stmt = NULL;
    struct onr_bytes t;
    struct onr_bytes a;
    int rc;

    if (topic == NULL || answer == NULL || answer_len == NULL || id == NULL)
        return ONR_EINVAL;
    rc = onr_db_prepare(db, sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, (const char *)sender.ptr, sender.len);
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){id, 16});
    rc = onr_db_step(db, stmt);
    if (rc != ONR_OK)
        return rc; /* ONR_ENOENT: a new message */
    t = onr_db_column_bytes(stmt, 0);
    a = onr_db_column_bytes(stmt, 1);
    if (t.len + 1 > topic_cap || a.len > *answer_len)
        return ONR_ESPACE;
    if (t.len > 0) /* "" (a message answered with nothing) reads back as NULL */
        memcpy(topic, t.ptr, t.len);
    topic[t.len] = '\0';
    if (a.len > 0)
        memcpy(answer, a.ptr, a.len);
    *answer_len = a.len;
    sqlite3_reset(stmt);
    return ONR_OK;
}

int onr_db_processed_put(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                         uint64_t now, const char *topic, struct onr_bytes answer)
{
    static const char sql[] =
        "INSERT INTO processed (sender, msg_id, at, topic, answer) VALUES (?1, ?2, ?3, ?4, ?5)";
    static const uint8_t none[1];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (id == NULL || topic == NULL)
        return ONR_EINVAL;
    rc = onr_db_prepare(db, sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, (const char *)sender.ptr, sender.len);
    onr_db_bind_bytes(stmt, 2, (struct onr_bytes){id, 16});
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now);
    onr_db_bind_text(stmt, 4, topic, strlen(topic));
    onr_db_bind_bytes(stmt, 5, answer.ptr != NULL ? answer : (struct onr_bytes){none, 0});
    rc = onr_db_step(db, stmt);
    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int onr_db_processed_prune(struct onr_db *db, uint64_t before)
{
    static const char sql[] = "DELETE FROM processed WHERE at < ?1";
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = onr_db_prepare(db, sql, &stmt);
    if (rc != ONR_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
    rc = onr_db_step(db, stmt);
    sqlite3_reset(stmt);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

int onr_db_in_transaction(struct onr_db *db, int (*fn)(struct onr_db *db, const void *arg),
                          const void *arg)
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

int onr_db_run_text(struct onr_db *db, const char *sql, const char *text)
{
    sqlite3_stmt *stmt = NULL;
    int rc = onr_db_prepare(db, sql, &stmt);

    if (rc != ONR_OK)
        return rc;
    onr_db_bind_text(stmt, 1, text, strlen(text));
    return onr_db_run(db, stmt);
}

int onr_db_run_one(struct onr_db *db, sqlite3_stmt *stmt)
{
    int rc = onr_db_run(db, stmt);

    if (rc == ONR_OK && onr_db_changes(db) == 0)
        rc = ONR_ENOENT;
    return rc;
}

int onr_db_changes(struct onr_db *db)
{
    return sqlite3_changes(db->conn);
}
