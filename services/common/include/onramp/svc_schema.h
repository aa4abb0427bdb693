/*
 * The skeleton's own tables, as SQL for the services' migration lists
 * (<onramp/svc_db.h>): every service database carries them; each service's
 * list adds them in the step that introduced them, and no step is ever
 * edited once released.
 */
#ifndef ONRAMP_SVC_SCHEMA_H
#define ONRAMP_SVC_SCHEMA_H

/* The dedup outbox (outbox.c), in schema version 1 of every service
 * (SQLite only: WITHOUT ROWID). */
#define ONR_SVC_SCHEMA_PROCESSED                                                             \
    "CREATE TABLE IF NOT EXISTS processed ("                                                 \
    "  sender TEXT NOT NULL,"                                                                \
    "  msg_id BLOB NOT NULL,"                                                                \
    "  at INTEGER NOT NULL,"                                                                 \
    "  topic TEXT NOT NULL,"                                                                 \
    "  answer BLOB NOT NULL,"                                                                \
    "  PRIMARY KEY (sender, msg_id)"                                                         \
    ") WITHOUT ROWID;"                                                                       \
    "CREATE INDEX IF NOT EXISTS processed_at ON processed(at);"

/*
 * Messages awaiting their peers' confirmation (<onramp/svc_delivery.h>).
 * `peer` is a service id or a broker; `prev_id` the send before the last
 * (its late answer counts); `lease_until` is for several instances sharing
 * one database (issue 18: the instance resending a row leases it; NULL
 * here).
 */
#define ONR_SVC_SCHEMA_PENDING                                                               \
    "CREATE TABLE pending ("                                                                 \
    "  peer TEXT NOT NULL,"                                                                  \
    "  key TEXT NOT NULL,"                                                                   \
    "  kind TEXT NOT NULL,"                                                                  \
    "  topic TEXT NOT NULL,"                                                                 \
    "  type INTEGER NOT NULL,"                                                               \
    "  body BLOB NOT NULL,"                                                                  \
    "  msg_id BLOB NOT NULL UNIQUE,"                                                         \
    "  prev_id BLOB UNIQUE,"                                                                 \
    "  attempts INTEGER NOT NULL,"                                                           \
    "  next_at INTEGER NOT NULL,"                                                            \
    "  created_at INTEGER NOT NULL,"                                                         \
    "  lease_until INTEGER,"                                                                 \
    "  PRIMARY KEY (peer, key)"                                                              \
    ");"                                                                                     \
    "CREATE INDEX pending_due ON pending (next_at);"

/*
 * Several brokers (issue 19), for the services that send what every broker
 * must hold (grants, revocations):
 *   - `pending` again, one row per broker for one request: the same
 *     envelope (one id) goes to every broker, so a message id is unique per
 *     peer only;
 *   - `in_force`: the last request sent to the brokers under each key (a
 *     revoke replaces a grant of the same device): what a broker with a new
 *     epoch is sent again;
 *   - `broker_epochs`: the epoch of each broker's grants journal that the
 *     broker was last brought up to date at.
 * The request rows pending for the one unnamed broker (peer '@broker')
 * stay; their bodies are in force. A service's data step adds what its
 * brokers confirmed before (<onramp/svc_delivery.h>: onr_delivery_in_force).
 */
#define ONR_SVC_SCHEMA_BROKERS                                                               \
    "CREATE TABLE pending_v2 ("                                                              \
    "  peer TEXT NOT NULL,"                                                                  \
    "  key TEXT NOT NULL,"                                                                   \
    "  kind TEXT NOT NULL,"                                                                  \
    "  topic TEXT NOT NULL,"                                                                 \
    "  type INTEGER NOT NULL,"                                                               \
    "  body BLOB NOT NULL,"                                                                  \
    "  msg_id BLOB NOT NULL,"                                                                \
    "  prev_id BLOB,"                                                                        \
    "  attempts INTEGER NOT NULL,"                                                           \
    "  next_at INTEGER NOT NULL,"                                                            \
    "  created_at INTEGER NOT NULL,"                                                         \
    "  lease_until INTEGER,"                                                                 \
    "  PRIMARY KEY (peer, key)"                                                              \
    ");"                                                                                     \
    "INSERT INTO pending_v2 SELECT peer, key, kind, topic, type, body, msg_id, prev_id,"     \
    "  attempts, next_at, created_at, lease_until FROM pending;"                             \
    "DROP TABLE pending;"                                                                    \
    "ALTER TABLE pending_v2 RENAME TO pending;"                                              \
    "CREATE INDEX pending_due ON pending (next_at);"                                         \
    "CREATE INDEX pending_msg ON pending (msg_id);"                                          \
    "CREATE INDEX pending_prev ON pending (prev_id);"                                        \
    "CREATE TABLE in_force ("                                                                \
    "  key TEXT PRIMARY KEY,"                                                                \
    "  kind TEXT NOT NULL,"                                                                  \
    "  topic TEXT NOT NULL,"                                                                 \
    "  type INTEGER NOT NULL,"                                                               \
    "  body BLOB NOT NULL,"                                                                  \
    "  at INTEGER NOT NULL"                                                                  \
    ");"                                                                                     \
    "INSERT INTO in_force SELECT key, kind, topic, type, body, created_at FROM pending"      \
    "  WHERE peer = '@broker' AND length(body) > 0;"                                         \
    "CREATE TABLE broker_epochs ("                                                           \
    "  broker TEXT PRIMARY KEY,"                                                             \
    "  epoch BLOB NOT NULL"                                                                  \
    ");"

/*
 * What the statements on `pending` filter by, beyond the resends' next_at
 * (pending_due) and the answers' msg_id and prev_id: the counters' tick
 * reads each kind's count and oldest row (GROUP BY kind, min(created_at):
 * the index alone, never the rows, however many wait), and a request
 * cancelled for every peer (a released device's) or swept from in_force
 * finds its rows by key.
 */
#define ONR_SVC_SCHEMA_PENDING_INDEXES                                                       \
    "CREATE INDEX pending_kind ON pending (kind, created_at);"                                \
    "CREATE INDEX pending_key ON pending (key);"

#endif /* ONRAMP_SVC_SCHEMA_H */
