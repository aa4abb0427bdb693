/*
 * Confirmed delivery: a message to a peer that changes state on its side
 * (a grant at the broker, an application key for a provider, an alignment,
 * a release, a registration, a certificate revocation) is sent, and sent
 * again, until the peer confirms it. Written once for every service:
 *
 *   - decide() calls onr_service_send_confirmed(): the message is recorded
 *     in the table `pending` in the same transaction as the state change
 *     that causes it, and published after the commit (like every answer);
 *   - one handler matches a confirmation's `re` (the peer's answer: type
 *     14, 18, 22, 25, 29, or an ERROR) to its row, runs the kind's hook in
 *     the same transaction and deletes the row;
 *   - one tick re-issues each due message with a fresh message id, waiting
 *     `resend` seconds before the first resend and twice as long before
 *     each next one, with up to 50% random jitter, at most
 *     ONR_DELIVERY_MAX_DELAY: a fixed interval under a backlog is a retry
 *     storm.
 *
 * One message is in flight per (peer, key): sending another for the same
 * key replaces it (a revoke replaces an unconfirmed grant of the same
 * device), and an answer to the replaced one confirms nothing.
 *
 * What the brokers' plugins must all hold (kinds whose peer_role is the
 * broker) goes to every broker, a row per broker, and the last request
 * under each key stays in force: a broker whose epoch is new (a new
 * broker, one restored with an empty disk) is sent everything in force
 * again (epoch.c; proto/SPEC.md section 11). A broker that is down keeps
 * its rows until it is back. The answer
 * to the send before the last still counts (the same body, re-sealed): a
 * slow peer's answer is not wasted by the next resend.
 */
#ifndef ONRAMP_SVC_DELIVERY_H
#define ONRAMP_SVC_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/envelope.h"
#include "onramp/svc_db.h"

#define ONR_DELIVERY_KIND_MAX 32
#define ONR_DELIVERY_PEER_MAX 64
#define ONR_DELIVERY_KEY_MAX 96
#define ONR_DELIVERY_BODY_MAX 4096
#define ONR_DELIVERY_MAX_DELAY 600 /* seconds: the longest wait between two sends */

/* Every broker, as the peer of onr_service_send_confirmed: the request
 * goes to each broker of the configuration (one envelope), waits in a row
 * per broker (its name the row's peer) and is confirmed per broker. It is
 * also the one unnamed broker's name (broker_host). Not a service id
 * (those never start with '@'). */
#define ONR_PEER_BROKER "@broker"

/* A message awaiting its peer's confirmation, as the hooks see it. */
struct onr_pending {
    char kind[ONR_DELIVERY_KIND_MAX + 1];
    char peer[ONR_DELIVERY_PEER_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char topic[ONR_TOPIC_MAX + 1];
    int type;
    uint8_t body[ONR_DELIVERY_BODY_MAX];
    size_t body_len;
    uint8_t msg_id[ONR_MSG_ID_LEN];
    uint64_t attempts;   /* sends so far */
    uint64_t next_at;    /* when it is sent again, seconds */
    uint64_t created_at;
};

/* What a kind does when its peer refuses a message (an ERROR naming it,
 * or a control result with a code). */
enum onr_delivery_verdict {
    ONR_DELIVERY_KEEP = 0, /* resend it later, with the backoff (a passing fault) */
    ONR_DELIVERY_DROP,     /* give it up: the row is deleted */
    ONR_DELIVERY_DONE,     /* the refusal means the goal holds: confirmed */
};

struct onr_service;
struct onr_answer;
struct onr_peers;

/*
 * A kind of confirmed message of a service (borrowed: static storage).
 * Its answers arrive on the service's inbox (or, from the broker, on the
 * control response route) and are verified with `peers` (the service's
 * own set, replaced in place on reload; NULL for the broker, whose route
 * only it can publish to).
 */
struct onr_delivery_kind {
    const char *name;             /* in the rows: "grant", "app_key", ... */
    int answer_type;              /* what confirms it: ONR_MSG_ALIGNED, ... */
    enum onr_role peer_role;      /* who answers */
    const struct onr_peers *peers;
    /* The confirmation `answer` (or, for a ONR_DELIVERY_DONE verdict, the
     * refusal), in the transaction that deletes `p` (may be NULL): ONR_OK,
     * or an error that rolls both back (the peer's retry or our resend
     * tries again). It may add to `out`, which is published after the
     * commit and stored for a duplicate of `answer`. */
    int (*confirmed)(struct onr_service *svc, const struct onr_pending *p,
                     const struct onr_envelope *answer, struct onr_answer *out, void *arg);
    /* A refusal with `code` (a negative ONR_E), in one transaction: the
     * verdict. It may change state and add to `out`; a negative return is
     * an error as above. NULL: the verdict is ONR_DELIVERY_DONE for
     * `done_on`, ONR_DELIVERY_DROP for `drop_on`, else ONR_DELIVERY_KEEP. */
    int (*refused)(struct onr_service *svc, const struct onr_pending *p, int code,
                   struct onr_answer *out, void *arg);
    void *arg;
    int done_on; /* a refusal that means the goal holds (0: none) */
    int drop_on; /* a refusal that no resend can mend (0: none) */
    /* A kind sent to the brokers stays in force for a broker that starts
     * empty (README, "Several brokers"), unless: settled_forgotten, a
     * request that only undoes (a grant's revoke: such a broker holds
     * nothing to take back), leaves once no broker waits for it (each
     * confirmed it, or its refusal settled it); needed_until (not NULL)
     * gives the time after which no broker needs `request` (0: as long as
     * it is in force), when it leaves. */
    int settled_forgotten;
    uint64_t (*needed_until)(const struct onr_msg *request);
};

/*
 * onr_service_deliveries: from start(): the service's kinds (`kinds`
 * borrowed, static), their answers' routes, and the resend tick every
 * second. `resend` (seconds) is the wait before the first resend (the
 * `resend` configuration key; onr_service_delivery_resend changes it on
 * reload). ONR_OK, ONR_EINVAL, ONR_ENOMEM.
 */
int onr_service_deliveries(struct onr_service *svc, const struct onr_delivery_kind *kinds,
                           size_t n, uint64_t resend);
void onr_service_delivery_resend(struct onr_service *svc, uint64_t resend);

/*
 * onr_service_send_confirmed: from decide(), inside its transaction: `msg`
 * to `peer` on `topic` as a message of `kind`, sealed into the next extra
 * publication of `answer` (published after the commit) and recorded in
 * `pending` under (`peer`, `key`), replacing what was in flight there.
 * When the answer's extras are all taken, it is recorded due at once and
 * the resend tick sends it (within a second). All strings borrowed. ONR_OK,
 * ONR_EINVAL (an unknown kind, a key or peer too long), or the sealing's
 * and the database's errors.
 */
int onr_service_send_confirmed(struct onr_service *svc, struct onr_answer *answer,
                               const char *kind, const char *peer, const char *key,
                               const struct onr_msg *msg, const char *topic);

/* onr_delivery_cancel: from a transaction: nothing more is sent to `peer`
 * (NULL: any peer) under `key`; an answer to what was sent confirms
 * nothing. ONR_OK (also when nothing was pending) or the database's
 * errors. */
int onr_delivery_cancel(struct onr_db *db, const char *peer, const char *key);

/*
 * onr_delivery_store: record a message as pending without sending it now
 * (a migration turning an older schema's bookkeeping into rows): due at
 * `next_at`; `id` (may be NULL: a random one) is the id it was last sent
 * with, so its answer still confirms it. `msg` NULL: its body was not
 * kept (the row is never resent: it only waits for the answer to `id`).
 * Inside the caller's transaction. ONR_OK, ONR_EINVAL, or the encoding's
 * and the database's errors.
 */
int onr_delivery_store(struct onr_db *db, const char *kind, const char *peer, const char *key,
                       const struct onr_msg *msg, const char *topic,
                       const uint8_t id[ONR_MSG_ID_LEN], uint64_t now, uint64_t next_at);

/* onr_delivery_refusal: from a kind's `refused` hook, the refusal it
 * handles (an ERROR or a control result, as received: its reason, say),
 * borrowed for the hook's call; NULL anywhere else. */
const struct onr_envelope *onr_delivery_refusal(const struct onr_service *svc);

/*
 * onr_delivery_in_force: a migration's data step recording `msg` (a
 * grant, revoke or certificate revocation on $CONTROL) as in force under
 * `key`, as every send to the brokers does: a broker with a new epoch is
 * sent it again. Needs ONR_SVC_SCHEMA_BROKERS's tables. ONR_OK, ONR_EINVAL,
 * or the encoding's and the database's errors.
 */
int onr_delivery_in_force(struct onr_db *db, const char *kind, const char *key,
                          const struct onr_msg *msg, uint64_t now);

/* onr_delivery_pending: the messages awaiting confirmation, by kind:
 * `each` is called for every kind that has any, with the kind's name
 * (borrowed for the call), how many, and the creation time of the oldest.
 * One read (no transaction of its own). ONR_OK or the database's error. */
typedef void (*onr_delivery_pending_cb)(const char *kind, uint64_t count, uint64_t oldest,
                                        void *arg);
int onr_delivery_pending(struct onr_db *db, onr_delivery_pending_cb each, void *arg);

#endif /* ONRAMP_SVC_DELIVERY_H */
