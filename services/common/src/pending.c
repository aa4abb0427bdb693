/* The table of messages awaiting confirmation (see pending.h). */
#include "pending.h"

#include <stdint.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

#define COLUMNS "kind, peer, key, topic, type, body, msg_id, attempts, next_at, created_at"
#define NEVER INT64_MAX /* next_at of a row that is never resent */

/* The columns of COLUMNS into `p`. */
#define PENDING_COLS(p)                                                                      \
    ONR_DB_COLS(ONR_DB_OUT_TEXT((p)->kind), ONR_DB_OUT_TEXT((p)->peer),                      \
                ONR_DB_OUT_TEXT((p)->key), ONR_DB_OUT_TEXT((p)->topic),                      \
                ONR_DB_OUT_INT(&(p)->type),                                                  \
                ONR_DB_OUT_ANY((p)->body, sizeof((p)->body), &(p)->body_len),                \
                ONR_DB_OUT_EXACT((p)->msg_id), ONR_DB_OUT_U64(&(p)->attempts),               \
                ONR_DB_OUT_U64(&(p)->next_at), ONR_DB_OUT_U64(&(p)->created_at))

int pending_put(struct onr_db *db, const struct onr_pending *p)
{
    static const char sql[] =
        "INSERT INTO pending (" COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT (peer, key) DO UPDATE SET kind = excluded.kind,"
        " topic = excluded.topic, type = excluded.type, body = excluded.body,"
        " msg_id = excluded.msg_id, prev_id = NULL, attempts = excluded.attempts,"
        " next_at = excluded.next_at, created_at = excluded.created_at, lease_until = NULL";

    return onr_db_run_later(
        db, sql,
        ONR_DB_ARGS(ONR_DB_STR(p->kind), ONR_DB_STR(p->peer), ONR_DB_STR(p->key),
                    ONR_DB_STR(p->topic), ONR_DB_INT(p->type), ONR_DB_BLOB(p->body, p->body_len),
                    ONR_DB_ARRAY(p->msg_id), ONR_DB_INT(p->attempts), ONR_DB_INT(p->next_at),
                    ONR_DB_INT(p->created_at)));
}

int pending_by_id(struct onr_db *db, const char *peer, const uint8_t id[ONR_MSG_ID_LEN],
                  struct onr_pending *out)
{
    memset(out, 0, sizeof(*out));
    return onr_db_get(db, "SELECT " COLUMNS " FROM pending"
                          " WHERE peer = ?2 AND (msg_id = ?1 OR prev_id = ?1)",
                      ONR_DB_ARGS(ONR_DB_BLOB(id, ONR_MSG_ID_LEN), ONR_DB_STR(peer)),
                      PENDING_COLS(out));
}

int pending_delete(struct onr_db *db, const char *peer, const char *key)
{
    return onr_db_run_later(db, "DELETE FROM pending WHERE peer = ?1 AND key = ?2",
                            ONR_DB_ARGS(ONR_DB_STR(peer), ONR_DB_STR(key)));
}

int pending_resent(struct onr_db *db, const struct onr_pending *p,
                   const uint8_t id[ONR_MSG_ID_LEN], uint64_t attempts, uint64_t next_at)
{
    /* conditional on the id read: of two instances resending one row, the
     * later changes nothing (ONR_ENOENT) */
    return onr_db_run_one(db, "UPDATE pending SET prev_id = msg_id, msg_id = ?3,"
                              " attempts = ?4, next_at = ?5 WHERE peer = ?1 AND key = ?2"
                              " AND msg_id = ?6",
                          ONR_DB_ARGS(ONR_DB_STR(p->peer), ONR_DB_STR(p->key),
                                      ONR_DB_BLOB(id, ONR_MSG_ID_LEN), ONR_DB_INT(attempts),
                                      ONR_DB_INT(next_at),
                                      ONR_DB_BLOB(p->msg_id, ONR_MSG_ID_LEN)));
}

/* Rows whose peer is none of `down` (at most ONR_SERVICE_MAX_BROKERS
 * names, bound to ?3..?10; a name is never empty). */
#define NOT_DOWN " AND peer NOT IN (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
#define DOWN_ARGS(d)                                                                         \
    ONR_DB_STR((d)[0]), ONR_DB_STR((d)[1]), ONR_DB_STR((d)[2]), ONR_DB_STR((d)[3]),          \
        ONR_DB_STR((d)[4]), ONR_DB_STR((d)[5]), ONR_DB_STR((d)[6]), ONR_DB_STR((d)[7])

static void down_list(const char *const *down, size_t n_down, const char *out[8])
{
    for (size_t i = 0; i < 8; i++)
        out[i] = i < n_down ? down[i] : "";
}

int pending_any_due(struct onr_db *db, uint64_t now, const char *const *down, size_t n_down,
                    int *due)
{
    const char *d[8];
    int rc;

    down_list(down, n_down, d);
    rc = onr_db_get(db, "SELECT 1 FROM pending WHERE next_at <= ?1" NOT_DOWN " LIMIT ?2",
                    ONR_DB_ARGS(ONR_DB_INT(now), ONR_DB_INT(1), DOWN_ARGS(d)),
                    ONR_DB_COLS(ONR_DB_OUT_INT(due)));
    if (rc == ONR_ENOENT) {
        *due = 0;
        rc = ONR_OK;
    }
    return rc;
}

int pending_due(struct onr_db *db, uint64_t now, const char *const *down, size_t n_down,
                struct onr_pending *out, size_t max, size_t *n)
{
    struct onr_db_rows *rows = NULL;
    const char *d[8];
    int rc;

    down_list(down, n_down, d);
    rc = onr_db_query(db, "SELECT " COLUMNS " FROM pending WHERE next_at <= ?1" NOT_DOWN
                          " ORDER BY next_at LIMIT ?2",
                      ONR_DB_ARGS(ONR_DB_INT(now), ONR_DB_INT(max), DOWN_ARGS(d)), &rows);
    *n = 0;
    while (rc == ONR_OK && *n < max) {
        memset(&out[*n], 0, sizeof(out[*n]));
        rc = onr_db_next(rows, PENDING_COLS(&out[*n]));
        if (rc == ONR_OK)
            (*n)++;
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* ---- what the services and their migrations use directly ------------------------ */

int onr_delivery_cancel(struct onr_db *db, const char *peer, const char *key)
{
    if (peer == NULL)
        return onr_db_run(db, "DELETE FROM pending WHERE key = ?1", ONR_DB_ARGS(ONR_DB_STR(key)));
    return pending_delete(db, peer, key);
}

int pending_make(struct onr_pending *p, const char *kind, const char *peer, const char *key,
                 const struct onr_msg *msg, const char *topic)
{
    memset(p, 0, sizeof(*p));
    if (strlen(kind) > ONR_DELIVERY_KIND_MAX || strlen(peer) > ONR_DELIVERY_PEER_MAX ||
        strlen(key) > ONR_DELIVERY_KEY_MAX || strlen(topic) > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    memcpy(p->kind, kind, strlen(kind));
    memcpy(p->peer, peer, strlen(peer));
    memcpy(p->key, key, strlen(key));
    memcpy(p->topic, topic, strlen(topic));
    if (msg == NULL)
        return ONR_OK;
    p->type = (int)msg->type;
    return onr_msg_body_encode(msg, p->body, sizeof(p->body), &p->body_len);
}

int onr_delivery_store(struct onr_db *db, const char *kind, const char *peer, const char *key,
                       const struct onr_msg *msg, const char *topic,
                       const uint8_t id[ONR_MSG_ID_LEN], uint64_t now, uint64_t next_at)
{
    static struct onr_pending p; /* large; services are single-threaded */
    int rc = pending_make(&p, kind, peer, key, msg, topic);

    if (rc != ONR_OK)
        return rc;
    p.attempts = 1;
    p.created_at = now;
    /* a body not kept: the row only waits for the answer to `id` */
    p.next_at = msg != NULL ? next_at : NEVER;
    if (id != NULL)
        memcpy(p.msg_id, id, ONR_MSG_ID_LEN);
    else
        rc = onr_random(p.msg_id, sizeof(p.msg_id));
    return rc == ONR_OK ? pending_put(db, &p) : rc;
}

int onr_delivery_pending(struct onr_db *db, onr_delivery_pending_cb each, void *arg)
{
    char kind[ONR_DELIVERY_KIND_MAX + 1];
    uint64_t count = 0;
    uint64_t oldest = 0;
    struct onr_db_rows *rows = NULL;
    int rc = onr_db_query(db, "SELECT kind, count(*), min(created_at) FROM pending"
                              " GROUP BY kind",
                          ONR_DB_NO_ARGS, &rows);

    while (rc == ONR_OK) {
        memset(kind, 0, sizeof(kind));
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(kind), ONR_DB_OUT_U64(&count),
                                           ONR_DB_OUT_U64(&oldest)));
        if (rc == ONR_OK)
            each(kind, count, oldest, arg);
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* ---- what stays in force for the brokers (epoch.c) ----------------------------- */

int in_force_put(struct onr_db *db, const struct onr_pending *p)
{
    return onr_db_run_later(
        db,
        "INSERT INTO in_force (key, kind, topic, type, body, at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO UPDATE SET"
        " kind = excluded.kind, topic = excluded.topic, type = excluded.type,"
        " body = excluded.body, at = excluded.at",
        ONR_DB_ARGS(ONR_DB_STR(p->key), ONR_DB_STR(p->kind), ONR_DB_STR(p->topic),
                    ONR_DB_INT(p->type), ONR_DB_BLOB(p->body, p->body_len),
                    ONR_DB_INT(p->created_at)));
}

int onr_delivery_in_force(struct onr_db *db, const char *kind, const char *key,
                          const struct onr_msg *msg, uint64_t now)
{
    static struct onr_pending p; /* large; services are single-threaded */
    int rc = pending_make(&p, kind, ONR_PEER_BROKER, key, msg, ONR_TOPIC_CONTROL);

    p.created_at = now;
    return rc == ONR_OK ? in_force_put(db, &p) : rc;
}
