/*
 * A bounded replay cache: remembers which messages were accepted until
 * their freshness window has passed, so a copy inside the window is refused.
 *
 * Entries are identified by byte parts (the envelope uses sender role,
 * sender id and message id) hashed with a per-cache random salt, so a sender
 * cannot aim entries at one hash bucket. Memory is fixed at creation: about
 * 64 bytes per entry. When every slot holds an entry that has not expired,
 * a new one is refused (ONR_EREPLAYFULL) rather than evicting a live one:
 * forgetting a live entry would let its replay through. Size the cache for
 * the peak message rate times twice the freshness window.
 *
 * Not thread-safe: one cache per thread or event loop.
 */
#ifndef ONRAMP_REPLAY_H
#define ONRAMP_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

struct onr_replay;

/* onr_replay_new: a cache of `capacity` entries (1..1<<24) in *out.
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM or ONR_ERANDOM. */
int onr_replay_new(size_t capacity, struct onr_replay **out);

/* onr_replay_free: accepts NULL. */
void onr_replay_free(struct onr_replay *cache);

/*
 * onr_replay_add: record the entry named by `parts` (borrowed) until
 * `expires` (seconds). Entries whose expiry is before `now` are forgotten
 * first, oldest first. Returns ONR_OK (new entry), ONR_EREPLAY (a live
 * entry with this name exists), ONR_EREPLAYFULL, ONR_EINVAL or ONR_ECRYPTO.
 */
int onr_replay_add(struct onr_replay *cache, const struct onr_bytes *parts, size_t n,
                   uint64_t expires, uint64_t now);

/* onr_replay_count: live entries held (expired ones may still be counted
 * until the next add). */
size_t onr_replay_count(const struct onr_replay *cache);

#endif /* ONRAMP_REPLAY_H */
