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

#endif /* ONRAMP_SVC_SCHEMA_H */
