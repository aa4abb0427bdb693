/*
 * The dedup outbox every service database carries, `processed`: a handler
 * looks up the envelope's (sender, message id) inside its transaction and
 * stores its answer there with the state change (outbox.c), so a retry or
 * a duplicate gets the same answer and never a second credential. Every
 * function runs inside the caller's transaction.
 */
#ifndef ONRAMP_SVC_PROCESSED_H
#define ONRAMP_SVC_PROCESSED_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/svc_db.h"

/*
 * processed_get: ONR_OK with the stored answer's topic and payload copied
 * to the caller's buffers (`topic` of `topic_cap`, `answer` of
 * *answer_len; on return *answer_len is its length), ONR_ENOENT if this
 * message is new, ONR_EIO when the stored answer does not fit.
 * processed_put: record the message and its answer (both may be empty
 * for a message that needs none). ONR_EEXIST if already there.
 * processed_prune: forget entries older than `before` (seconds).
 */
int processed_get(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16], char *topic,
                  size_t topic_cap, uint8_t *answer, size_t *answer_len);
int processed_put(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                  uint64_t now, const char *topic, struct onr_bytes answer);
int processed_prune(struct onr_db *db, uint64_t before);

#endif
