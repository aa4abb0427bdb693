/*
 * The service skeleton's own parts, split by concern (see <onramp/service.h>):
 *
 *   service.c     the run: setup in order, signals, cleanup; accessors
 *   config.c      flags, the configuration file, reload
 *   brokers.c     the brokers a service is configured with (one or more)
 *   connection.c  each broker's connection (libmosquitto on the event
 *                 loop): the transport the rest publishes through
 *   epoch.c       what every broker must hold: the requests in force,
 *                 each broker's epoch, a broker brought up to date
 *   dispatch.c    routes, and each message to its handler; ticks
 *   counters.c    what the service counts (SPEC type 32), the refusal log
 *   prometheus.c  the same counters on GET /metrics (metrics_listen)
 *   outbox.c      handle_once, answers, sealing, publishing after commit
 *   delivery.c    confirmed delivery: send, confirm, resend with backoff
 *   pending.c     the table of messages awaiting confirmation
 *   processed.c   the dedup outbox table
 *   status.c      a control tool's status request (SPEC types 30/31)
 *   batch.c       group commit of a burst of messages
 *
 * The unit tests drive a service through this header: a fake transport
 * and clock in place of the broker and time().
 */
#ifndef ONRAMP_SERVICE_INTERNAL_H
#define ONRAMP_SERVICE_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "onramp/metrics.h"
#include "onramp/replay.h"
#include "onramp/service.h"
#include "onramp/svc_peers.h"

#include "batch.h"

#define SVC_MAX_ROUTES 24
#define SVC_MAX_TICKS 4
#define SVC_MAX_OVERRIDES 32
#define SVC_MAX_KINDS 8

/* Handled messages are counted by type below this (envelopes' types;
 * those from ONR_MSG_PROFILE_CONTENT on only travel sealed). */
#define SVC_MSG_TYPES ONR_MSG_PROFILE_CONTENT

struct event;
struct mosquitto;
struct onr_metrics_server;
struct onr_mqtt_loop;
struct onr_p256_key;

/* The kinds of refusal (SPEC type 32's refused_*). */
enum svc_refusal {
    SVC_REFUSED_AUTH,
    SVC_REFUSED_STALE,
    SVC_REFUSED_INPUT,
    SVC_REFUSED_POLICY,
    SVC_REFUSALS
};

/* Messages awaiting confirmation, of one kind (delivery.c). */
struct svc_pending_count {
    const char *kind; /* a kind's name (static), or "other" */
    uint64_t count;
    uint64_t oldest_age; /* seconds; 0 when none */
};

/* One per configured kind, and "other". */
#define SVC_PENDING_COUNTS (SVC_MAX_KINDS + 1)

/* What the service counts since it started: the one source of its
 * service_stats (SPEC type 32) and of its /metrics. */
struct svc_counters {
    uint64_t handled[SVC_MSG_TYPES]; /* by message type ([0]: a type beyond) */
    uint64_t duplicates;             /* answered from the outbox */
    uint64_t refused[SVC_REFUSALS];
    uint64_t busy; /* left for the peer to retry */
    uint64_t latency_max_us;
    struct onr_histogram handling; /* seconds to handle a message */
    struct onr_histogram commits;  /* seconds of a durable commit */
    time_t started;
    /* what awaits confirmation, as the counters' tick last read it (a
     * scrape never reads the database) */
    struct svc_pending_count pending[SVC_PENDING_COUNTS];
    size_t n_pending;
    struct svc_pending_count pending_total;
    /* the service's own (its def's stats hook), as the tick last read them */
    struct onr_msg_service_stats own;
    int publish; /* service_stats every stats_interval s (0: never) */
};

/* At most REFUSAL_LOG_MAX refusal lines per window; the rest counted. */
struct svc_refusal_log {
    time_t window; /* when the current window began */
    unsigned logged;
    unsigned long unlogged;
};

struct svc_route {
    char filter[ONR_TOPIC_MAX + 1];
    int subscribe; /* 0: a route only (onr_service_route); SVC_SUBSCRIBE_* */
    int type;
    onr_service_handler_cb cb;
    onr_service_raw_cb raw; /* set: a raw route (no envelope) */
    void *arg;
};

struct svc_tick {
    struct onr_service *svc;
    struct event *ev;
    onr_service_tick_cb cb;
    void *arg;
};

/* How the skeleton reaches broker `broker` (an index into svc->brokers):
 * libmosquitto (connection.c), or a test's fake. publish: at MQTT QoS
 * `qos` (svc_publish_qos), ONR_OK or ONR_EIO (not sent). */
struct svc_transport {
    int (*publish)(void *ctx, size_t broker, int qos, const char *topic, const uint8_t *payload,
                   size_t len);
    void *ctx;
};

/*
 * One broker of the service's configuration and its connection. Each is
 * independent: one going away or coming back changes nothing for the
 * others. What a metrics endpoint shows per broker is here (name, where,
 * connected).
 */
struct svc_broker {
    char name[ONR_SERVICE_BROKER_NAME_MAX + 1]; /* ONR_PEER_BROKER: the unnamed one */
    char host[256];
    unsigned port;
    char endpoint[272]; /* HOST:PORT ([HOST]:PORT for IPv6), for /metrics */
    char region[ONR_SERVICE_REGION_MAX + 1]; /* its MCC, "" when none */
    struct onr_service *svc;
    struct mosquitto *mosq;
    struct onr_mqtt_loop *loop;
    struct event *reconnect_ev;
    unsigned backoff;   /* consecutive failed connects */
    int connected;
    size_t subacks_due; /* SUBACKs still to come after a connect */
    /* the epoch of its grants journal that it was last brought up to
     * date at (epoch.c), and one it reported since that differs */
    uint8_t epoch[ONR_BROKER_EPOCH_LEN];
    int has_epoch;
    uint8_t seen[ONR_BROKER_EPOCH_LEN];
    int resync_due; /* `seen` is new: send it everything in force */
};

/* Confirmed delivery's state (delivery.c). */
struct svc_delivery {
    const struct onr_delivery_kind *kinds;
    size_t n_kinds;
    uint64_t resend;   /* seconds before the first resend */
    uint64_t refused;  /* refusals of our messages by their peers */
    const struct onr_envelope *refusal; /* the one a refused hook handles now */
};

struct onr_service {
    const struct onr_service_def *def;
    const char *config_path;
    const char *overrides[SVC_MAX_OVERRIDES];
    size_t n_overrides;
    struct onr_config *cfg;
    struct onr_db *db;
    struct onr_batch *batch; /* group commit of a burst of messages */
    struct onr_p256_key *signing_key;
    char id[ONR_SERVICE_ID_MAX + 1];
    uint32_t freshness;
    struct onr_replay *replay;
    struct svc_route routes[SVC_MAX_ROUTES];
    size_t n_routes;
    size_t n_subscribed;
    struct svc_tick ticks[SVC_MAX_TICKS];
    size_t n_ticks;
    struct event_base *base;
    struct event *prune_ev;
    struct event *signals[3];
    /* the brokers (brokers.c) and their connections (connection.c) */
    struct svc_broker brokers[ONR_SERVICE_MAX_BROKERS];
    size_t n_brokers;
    int via; /* the broker the message being handled came through, -1: none */
    int may_wait; /* the message handled stored only what its peer's retry derives
                     again: its burst's commit may wait (batch_may_wait) */
    const char *via_topic; /* and its topic (borrowed while it is handled) */
    struct svc_transport transport;
    uint64_t (*clock)(void); /* seconds; time() unless a test sets it */
    uint64_t in_force_swept_at; /* in_force.c's last sweep */
    struct onr_answer *answer; /* handle_once's (large: on the heap) */
    int outcome;               /* the refusal the message being handled was
                                  answered with (handle_once sets it from
                                  its answer), 0: none */
    int die_after_type; /* fault injection (ONR_TEST_HOOKS builds only), 0: off */
    struct svc_counters counters;
    struct svc_refusal_log refusal_log;
    struct svc_delivery delivery;
    struct onr_peers controllers; /* who may ask for a device's status */
    struct onr_metrics_server *metrics; /* GET /metrics; NULL: off */
};

/* service.c: a service set up from its configuration file and ready to
 * run, without a broker connection (the caller sets the transport); and
 * its cleanup. svc_setup prints why it failed. */
int svc_setup(struct onr_service *svc, const struct onr_service_def *def);
void svc_cleanup(struct onr_service *svc);

/* config.c */
int svc_parse_args(struct onr_service *svc, int argc, char **argv); /* -1: go on */
int svc_load_config(struct onr_service *svc, struct onr_config **out);
int svc_apply_log_level(struct onr_service *svc);
int svc_required(struct onr_service *svc, const char *key);
void svc_reload(struct onr_service *svc);

/* brokers.c: the `broker` lines (or the one unnamed broker of
 * broker_host and broker_port) into svc->brokers (prints why not);
 * svc_broker_named: the index of the broker called `name` (-1: none);
 * svc_route_mask: where a publication to `topic` goes (its own mask; a
 * device's answer, on the broker its request came through; a push to a
 * device, on every broker; a peer's, on the broker the message being
 * handled came through if connected, else the first connected one);
 * svc_all_brokers: the mask of them all; svc_nth_connected: the mask of
 * the (n modulo how many are up)-th connected broker, 0 when none is;
 * svc_any_connected: 1 if a broker is. */
int svc_brokers_load(struct onr_service *svc);
int svc_broker_named(const struct onr_service *svc, const char *name);
uint32_t svc_route_mask(const struct onr_service *svc, uint32_t mask, const char *topic);
uint32_t svc_all_brokers(const struct onr_service *svc);
uint32_t svc_nth_connected(const struct onr_service *svc, uint64_t n);
int svc_any_connected(const struct onr_service *svc);

/* connection.c: connect to every broker (each retrying in the background)
 * and make them the transport; disconnect. */
int svc_connect(struct onr_service *svc);
void svc_disconnect(struct onr_service *svc);

/* dispatch.c: a message as broker `via` delivered it (joins the burst's
 * transaction, then to its route's handler). */
void svc_on_message(struct onr_service *svc, size_t via, const char *topic,
                    const uint8_t *payload, size_t len);
/* How a route's filter is subscribed: the service's work (its own topics),
 * which several instances share through their $share group; or news that
 * every instance must hear (a broker's counters, which are retained: a
 * shared subscription gets no retained message, and the plugin allows
 * $share only on a service's own topics). */
#define SVC_SUBSCRIBE_SHARED 1
#define SVC_SUBSCRIBE_EVERY 2

/* dispatch.c: the QoS the service subscribes to `filter` at (SPEC section
 * 2): 0 for its devices' requests (onr/1/d/+/up/...: each lives only as
 * long as its device waits, and the device asks again), 1 for the rest
 * (its inbox, events, the brokers' counters). */
int svc_subscription_qos(const char *filter);
int svc_add_route(struct onr_service *svc, const char *filter, int subscribe, int type,
                  onr_service_handler_cb cb, onr_service_raw_cb raw, void *arg);
void svc_free_ticks(struct onr_service *svc);

/* counters.c: count a message of `type` (0: not decoded) that ended
 * with `rc` (ONR_OK: handled), begun at `t0` (CLOCK_MONOTONIC). */
void svc_count(struct onr_service *svc, int type, int rc, const struct timespec *t0);
int svc_counters_setup(struct onr_service *svc);
void svc_refusal_log_roll(struct onr_service *svc, time_t now);
/* counters.c: service_stats' body from the counters (uptime, sums, the
 * mean; what was pending at the last refresh). */
void svc_counters_stats(const struct onr_service *svc, struct onr_msg_service_stats *out);
/* counters.c: read what awaits confirmation into the counters (the
 * counters' tick does, every stats_interval seconds, and the start); on a
 * database error the last values stay (logged). */
void svc_counters_refresh(struct onr_service *svc);
/* counters.c: onr_db_commit, timed for onramp_db_commit_seconds when it
 * is durable (the outermost: a burst's, or one outside a burst). */
int svc_commit(struct onr_service *svc);
/* svc_commit with onr_db_commit_unsynced (a burst of broker confirmations). */
int svc_commit_unsynced(struct onr_service *svc);

/* prometheus.c: GET /metrics at metrics_listen (nothing unless set);
 * prints why it cannot. The counters as metrics into `m` (`arg`: the
 * service), as a scrape gets them. */
int svc_metrics_start(struct onr_service *svc);
void svc_metrics_stop(struct onr_service *svc);
int svc_metrics_collect(struct onr_metrics *m, void *arg);

/* outbox.c: handle_once, where `remember_silence` 0 keeps no record of a
 * message decided without an answer (one whose decide is idempotent by
 * itself: a confirmation finds its row only once). */
int svc_handle_once(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    onr_service_decide_cb decide, void *arg, int remember_silence);
/* outbox.c: publish through the transport at once, at QoS `qos`, on each
 * connected broker of `mask` (bit i: svc->brokers[i]). ONR_OK if it went
 * to one. */
int svc_publish_now(struct onr_service *svc, uint32_t mask, int qos, const char *topic,
                    const uint8_t *payload, size_t len);
/* outbox.c: the QoS a publication to `topic` goes at (SPEC section 2): 0
 * to a device's down topic (the device asks again for an answer it did
 * not get), 1 to everything else (services' inboxes, events, $CONTROL:
 * each confirmed end to end or worth the broker's PUBACK). */
int svc_publish_qos(const char *topic);
void svc_publish_answer(struct onr_service *svc, const struct onr_answer *a);
int svc_prune_outbox(struct onr_service *svc);

/* delivery.c: send what is due (the tick), and the numbers for the
 * counters: per kind into `out` (one per configured kind, then "other"
 * if rows of no configured kind wait), *n of them, and their sum in
 * *total (the oldest age: the largest). ONR_OK or the database's error. */
void svc_delivery_tick(struct onr_service *svc, void *arg);
int svc_delivery_counts(struct onr_service *svc, struct svc_pending_count out[SVC_PENDING_COUNTS],
                        size_t *n, struct svc_pending_count *total);

/* epoch.c: at start, forget the brokers no longer configured and load
 * the others' epochs; a broker `i` reported `epoch` (a control result, its
 * counters): if new, it is brought up to date on the next tick (and 1 is
 * returned: an answer with it confirms nothing); the tick's part; the
 * brokers' counters heard (from svc_epochs_start). */
int svc_epochs_start(struct onr_service *svc);
int svc_epoch_seen(struct onr_service *svc, size_t i, const uint8_t *epoch, size_t len);
void svc_epochs_tick(struct onr_service *svc);

/* in_force.c: what leaves `in_force` (see the kinds' settled_forgotten
 * and needed_until): the request under `key` of kind `k` once its last
 * broker row went (in the caller's transaction); a sweep of every such
 * row (in the caller's transaction); the tick's part (every hour, its
 * own transaction). */
int svc_in_force_settled(struct onr_service *svc, const struct onr_delivery_kind *k,
                         const char *key);
int svc_in_force_sweep(struct onr_service *svc);
void svc_in_force_tick(struct onr_service *svc);

/* status.c */
int svc_status_setup(struct onr_service *svc);

#endif
