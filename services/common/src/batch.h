/*
 * Group commit for the service skeleton. The messages libmosquitto hands
 * over from one read of the socket are handled in one outer transaction
 * (each handler's own transaction is a savepoint inside it), committed
 * once when the loop has handled them: one fsync for the burst instead of
 * one per message. Everything published meanwhile is held and published
 * only after that commit, in order, so no answer is ever out before what
 * it says is durable. When the commit fails, what was held is dropped:
 * the peers retry, and a retry finds either nothing (handled anew) or the
 * stored answer (handle_once's outbox).
 *
 * A burst whose every message stored only what its peer's retry derives
 * again (batch_may_wait: brokers' confirmations, each deleting its pending
 * row) and that holds nothing to publish waits up to BATCH_WAIT_MS for the
 * next burst to share its commit: with several brokers each confirms
 * every grant on its own connection, and a commit each was a sync each.
 * Until then it is not durable; lost in a crash, the rows are resent and
 * confirmed again.
 */
#ifndef ONRAMP_SVC_BATCH_H
#define ONRAMP_SVC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/svc_db.h"

struct event_base;
struct onr_batch;

/* Publishes one held publication (after the commit) at MQTT QoS `qos`;
 * its result is ignored (the skeleton logs failures). */
typedef void (*onr_batch_publish_cb)(void *arg, uint32_t brokers, int qos, const char *topic,
                                     const uint8_t *payload, size_t len);

/* Commits the batch's transaction (onr_db_commit, timed by the skeleton):
 * ONR_OK or the database's error. */
typedef int (*onr_batch_commit_cb)(void *arg);

/* batch_new: a batch for `db` (borrowed) on `base` (borrowed), committed
 * by `commit` and published by `publish`, both given `arg`. ONR_OK or
 * ONR_ENOMEM. */
int batch_new(struct event_base *base, struct onr_db *db, onr_batch_publish_cb publish,
              onr_batch_commit_cb commit, void *arg, struct onr_batch **out);

/* batch_free: commits and publishes what is open (as batch_flush), then
 * frees. Accepts NULL. */
void batch_free(struct onr_batch *b);

/* batch_join: a message is about to be handled: open the batch's
 * transaction if none is (BEGIN IMMEDIATE) and schedule its commit for
 * when the loop is done with what it read. A batch holding `max` messages
 * is committed first. ONR_OK, or the begin's error (then the message is
 * handled in a transaction of its own, as without batching). */
int batch_join(struct onr_batch *b);

/* batch_may_wait: the message that just joined stored only what its
 * peer's retry derives again (see above). */
void batch_may_wait(struct onr_batch *b);

/* batch_is_open: 1 while a batch transaction is open. */
int batch_is_open(const struct onr_batch *b);

/* batch_hold: keep a copy of a publication (to `brokers`, a mask, at QoS
 * `qos`) until the commit. ONR_OK or ONR_ENOMEM (the publication is lost:
 * its peer retries). */
int batch_hold(struct onr_batch *b, uint32_t brokers, int qos, const char *topic,
               const uint8_t *payload, size_t len);

/* batch_held: how many publications are held (a mark for batch_unhold).
 * batch_unhold: drop those held after `mark`: the work that said them was
 * rolled back (its savepoint), so they must never be said. */
size_t batch_held(const struct onr_batch *b);
void batch_unhold(struct onr_batch *b, size_t mark);

#ifdef ONR_TEST_HOOKS
/* batch_die_after_commit: tests' fault injection (ONR_TEST_HOOKS builds
 * only): SIGKILL this process right after the commit, before anything held
 * is published. */
void batch_die_after_commit(struct onr_batch *b);
#endif

/* batch_flush: commit the open batch now, then publish what it held (or
 * drop it if the commit failed). Nothing open: nothing done. */
void batch_flush(struct onr_batch *b);

#endif
