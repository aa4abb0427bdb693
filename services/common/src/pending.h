/*
 * The table of messages awaiting their peers' confirmation (see
 * <onramp/svc_delivery.h>; delivery.c is its only user besides the
 * migrations). Every function runs inside the caller's transaction.
 */
#ifndef ONRAMP_SVC_PENDING_H
#define ONRAMP_SVC_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/svc_delivery.h"

/* pending_make: `p` filled for `msg` (NULL: no body) to `peer` under
 * `key` on `topic`: everything but its id and times. ONR_OK, ONR_EINVAL
 * (a string too long) or the encoding's errors. */
int pending_make(struct onr_pending *p, const char *kind, const char *peer, const char *key,
                 const struct onr_msg *msg, const char *topic);
/* pending_put: `p` in flight under (p->peer, p->key), replacing what was
 * there (whose answers then confirm nothing). */
int pending_put(struct onr_db *db, const struct onr_pending *p);
/* pending_by_id: the row of `peer` whose last (or the one before)
 * envelope was `id` (one envelope goes to every broker: an id is unique
 * per peer); ONR_ENOENT. */
int pending_by_id(struct onr_db *db, const char *peer, const uint8_t id[ONR_MSG_ID_LEN],
                  struct onr_pending *out);
/* pending_delete: the row (peer, key) is done. */
int pending_delete(struct onr_db *db, const char *peer, const char *key);
/* pending_resent: row `p` (as read) sent again as `id`, its `attempts`-th
 * send; next at `next_at`, which leases the row to this instance until
 * then. ONR_ENOENT when the row is no longer as read (another instance
 * resent it, or it was confirmed): then it must not be sent. */
int pending_resent(struct onr_db *db, const struct onr_pending *p,
                   const uint8_t id[ONR_MSG_ID_LEN], uint64_t attempts, uint64_t next_at);
/* pending_any_due: *due = 1 if a row is due at `now` whose peer is none
 * of the `n_down` (at most 8) brokers in `down`, which are down (a read,
 * outside any transaction). */
int pending_any_due(struct onr_db *db, uint64_t now, const char *const *down, size_t n_down,
                    int *due);
/* pending_due: up to `max` such rows, the most overdue first, into `out`;
 * *n of them. */
int pending_due(struct onr_db *db, uint64_t now, const char *const *down, size_t n_down,
                struct onr_pending *out, size_t max, size_t *n);

/* in_force_put: `p`'s request (kind, key, topic, body; at created_at) is
 * the one in force under its key for every broker, replacing what was. */
int in_force_put(struct onr_db *db, const struct onr_pending *p);

#endif
