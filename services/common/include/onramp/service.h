/*
 * The skeleton every Onramp service runs on: written once, used by the
 * manufacturer, provider and operator daemons.
 *
 *   - flags (--config FILE, -o key=value, --log-level, --help, --version)
 *     and a configuration file (<onramp/config.h>);
 *   - a single-threaded libevent loop driving libmosquitto through its
 *     socket (<onramp/mqtt_loop.h>), MQTT v5, QoS 1 (devices' requests and
 *     the answers to them at QoS 0: SPEC section 2), a persistent session,
 *     TLS with the service's certificate, reconnect with backoff and jitter;
 *   - dispatch of each message by type to its handler, after a bounded
 *     decode (or, on a raw route, of the payload as it came); a replay
 *     cache for the handlers' verification;
 *   - its database (<onramp/svc_db.h>), upgraded on start by the
 *     service's migrations, and handle_once(): one transaction per handled
 *     message, its answer stored with the state change and published only
 *     after the commit, duplicates answered from the store;
 *   - confirmed delivery (<onramp/svc_delivery.h>): messages to peers
 *     resent with backoff until confirmed;
 *   - group commit: the messages of one read from the broker are handled
 *     in one outer transaction (each handler's is a savepoint in it),
 *     committed once the loop has handled them, and everything published
 *     meanwhile (answers, refusals, resends, counters) is held until that
 *     commit: one fsync per burst, and still nothing said before it is
 *     durable;
 *   - its counters as service_stats on its ev topic and, when
 *     metrics_listen is set, on GET /metrics for Prometheus;
 *   - SIGTERM/SIGINT clean shutdown, SIGHUP reload.
 *
 * For fault-injection tests, in a build configured with
 * -DONR_TEST_HOOKS=ON (scripts/test) and only there, the environment
 * variable ONR_TEST_DIE_AFTER_COMMIT=TYPE makes a service kill itself
 * (SIGKILL) right after committing a message of that type, before
 * answering. A production build has no such variable.
 *
 * Configuration keys every service understands:
 *   id           the service id (also its certificate's CN)
 *   broker       NAME HOST PORT [region=MCC]: a broker's services listener
 *                (any number of lines, at most ONR_SERVICE_MAX_BROKERS,
 *                names unique: each its plugin's broker_name). The
 *                service connects to each, subscribes on each, answers a
 *                device on the broker its request came through and sends
 *                what every plugin must hold (grants, revocations) to all;
 *                read at start only (SIGHUP keeps the brokers)
 *   broker_host, broker_port
 *                instead of `broker` lines: one broker, its name unknown
 *   broker_ca, cert, key
 *                the brokers' CA and this service's TLS client
 *                certificate from the services CA
 *   signing_key  P-256 key that signs this service's envelopes
 *   database     SQLite file, or "postgresql:" and a libpq connection
 *                string (no password in it), upgraded on start by the
 *                service's migrations
 *   database_password_file  the PostgreSQL role's password, one line in
 *                a file only its owner may read (else libpq's PGPASSFILE)
 *   instance     this process's name among several instances of the
 *                service sharing its database (PostgreSQL): client id
 *                {role}.{id}.{instance}, subscriptions in the $share group
 *                {role}.{id} (default: one instance, client id {role}.{id})
 *   session_expiry  seconds the brokers keep the service's session after a
 *                disconnect, 1..86400 (default 86400; 120 with `instance`:
 *                a dead instance's share of its $share group is then
 *                handed to the live ones), read at start
 *   log_level    error, warning, notice (default), info, debug
 *   freshness    envelope freshness window, seconds (default 300)
 *   controller   ID SIGNING_PUB: a control tool allowed to ask for a
 *                device's status (any number of lines)
 *   stats_interval  seconds between the service's counters (SPEC type 32)
 *                on onr/1/s/{role}/{id}/ev (default 10; 0: never), and
 *                between reads of what awaits confirmation (every 10 s for
 *                /metrics alone when 0)
 *   metrics_listen  HOST:PORT where the same counters are served to
 *                Prometheus (GET /metrics; <onramp/metrics_http.h>), read at
 *                start; none unless set
 *   metrics_public  yes: metrics_listen may be an address other than
 *                loopback (default no: refused)
 */
#ifndef ONRAMP_SERVICE_H
#define ONRAMP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/journey.h"
#include "onramp/svc_db.h"
#include "onramp/svc_delivery.h"
#include "onramp/svc_log.h"
#include "onramp/topic.h"

/* The --help lines of the store keys every service shares, after its own
 * `database` line. */
#define ONR_SERVICE_USAGE_STORE                                                              \
    "                     Or postgresql:CONNINFO, a libpq connection string\n"                \
    "                     without a password: the party's PostgreSQL database.\n"            \
    "  database_password_file  its role's password, one line; only the owner may\n"         \
    "                     read the file (else PGPASSFILE, ~/.pgpass)\n"                      \
    "  instance NAME      one of several instances sharing the PostgreSQL\n"                \
    "                     database: client id ROLE.ID.NAME, $share subscriptions\n"          \
    "  session_expiry     seconds a broker keeps this process's session and what\n"          \
    "                     is queued for it after a disconnect (default 86400;\n"             \
    "                     120 with instance: the broker hands a dead instance's\n"           \
    "                     share of requests to the others only once its session\n"           \
    "                     expired). Read at start\n"

struct event_base;
struct onr_config;
struct onr_service;

/* At most this many brokers (as many as onramp-admin's topology). */
#define ONR_SERVICE_MAX_BROKERS 8
#define ONR_SERVICE_BROKER_NAME_MAX ONR_SERVICE_ID_MAX
#define ONR_SERVICE_REGION_MAX 3 /* an MCC */
#define ONR_BROKER_EPOCH_LEN 16

/* The counters' keys as each service's --help lists them. */
#define ONR_SERVICE_COUNTERS_USAGE                                                           \
    "  stats_interval     seconds between its counters on onr/1/s/ROLE/ID/ev\n"              \
    "                     (default 10; 0: none); onrampctl stats --service reads them.\n"    \
    "                     What awaits confirmation is read that often (every 10 s\n"         \
    "                     for /metrics alone when 0)\n"                                      \
    "  metrics_listen HOST:PORT  serve the same counters to Prometheus on GET\n"             \
    "                     /metrics there (default: none; README, \"Metrics\"). HOST\n"       \
    "                     is an IP address or localhost; PORT alone means\n"                 \
    "                     127.0.0.1:PORT. No login: an address other than loopback\n"        \
    "                     is refused unless metrics_public is yes. Read at start.\n"         \
    "  metrics_public yes|no  serve them on a non-loopback address too (default\n"           \
    "                     no; keep it behind a firewall)\n"

/* A publication: a sealed envelope and where it goes. */
struct onr_publication {
    char topic[ONR_TOPIC_MAX + 1];
    uint8_t payload[ONR_ENVELOPE_MAX];
    size_t len; /* 0: nothing to publish */
    /* the brokers it goes to (bit i: the i-th broker of the configuration);
     * 0: the broker the message being handled came through if it is
     * connected, else any connected broker */
    uint32_t brokers;
};

/*
 * What a handler decided (decide() fills it, handle_once publishes it
 * after the commit): its answer, stored with the state so a duplicate gets
 * it again, and up to ONR_SERVICE_MAX_EXTRA further messages published
 * before it (not stored for duplicates: pushes, events and confirmed
 * messages, which the service or its peer repeats by other means). Extras
 * are added through onr_answer_extra (bounded); a refusal stored as the
 * answer through onr_answer_refuse, which records its code.
 */
#define ONR_SERVICE_MAX_EXTRA 4

struct onr_answer {
    struct onr_publication reply;
    struct onr_publication extra[ONR_SERVICE_MAX_EXTRA];
    size_t n_extra;
    int refusal; /* the reply refuses the message with this code; 0: it does not */
};

/* onr_answer_extra: the next extra publication of `a`, reserved (an
 * unfilled one, len 0, is not published), or NULL when all are taken. */
struct onr_publication *onr_answer_extra(struct onr_answer *a);

/*
 * A message handler: `env` has been decoded within bounds (nothing
 * verified yet: each handler knows whose key to check), `topic` is where it
 * arrived. Return ONR_OK, or an error that is logged (the message is
 * dropped; handlers answer errors themselves where the protocol allows).
 */
typedef int (*onr_service_handler_cb)(struct onr_service *svc, const struct onr_envelope *env,
                                      const char *topic, void *arg);

/* A service's description, given to onr_service_main. */
struct onr_service_def {
    const char *name;          /* "manufacturer" */
    enum onr_role sender_role; /* in its envelopes and its topics */
    const char *usage;         /* the --help text */
    const char *const *keys;   /* configuration keys beyond the common ones */
    size_t n_keys;
    /* its database's migrations (<onramp/svc_db.h>); their data steps get
     * `arg`, loaded by load() */
    const struct onr_db_schema *schema;
    /* Read what may change at run time (peers, limits, timers) from the
     * configuration: once before the database is opened, and again on
     * SIGHUP after the file was read again (all or nothing: an error keeps
     * what was loaded). May be NULL. ONR_OK or an error (printed). */
    int (*load)(struct onr_service *svc, void *arg);
    /* Called once the configuration, database and keys are loaded, before
     * connecting: load its own keys, subscribe and register handlers.
     * ONR_OK or an error (printed; the service exits 1). */
    int (*start)(struct onr_service *svc, void *arg);
    void (*stop)(struct onr_service *svc, void *arg);
    void *arg;
    /* May be NULL. A device's journey as this service knows it, for a
     * control tool's status_request (SPEC types 30/31): fill out->state
     * (a static string) and the timestamps this service keeps; `dev` is a
     * checked device id (borrowed). ONR_OK, ONR_ENOENT (never seen: the
     * answer says "unknown" with zeros) or the database's errors (no
     * answer). Read-only. */
    int (*status)(struct onr_service *svc, void *arg, const char *dev,
                  struct onr_msg_status *out);
    /* May be NULL. The service's own counters (the optional fields of
     * SPEC type 32 that are its role's: the provider's renewals and
     * certs_expiring), filled into `out` by the counters' tick (every
     * stats_interval s, or 10 s for /metrics alone), which may read the
     * database; service_stats and /metrics show them (a scrape reads no
     * database). Read-only. */
    void (*stats)(struct onr_service *svc, void *arg, struct onr_msg_service_stats *out);
};

/*
 * onr_service_main: run the service until SIGTERM/SIGINT. Returns the
 * process exit status: 0 after a clean shutdown, 1 when it could not start
 * (the reason printed), 2 for a usage error.
 */
int onr_service_main(const struct onr_service_def *def, int argc, char **argv);

/* From start(): subscribe to `filter` (QoS 1, or 0 for devices' requests,
 * onr/1/d/+/up/...: SPEC section 2; copied; renewed after every reconnect),
 * and send messages of `type` arriving there to `cb`. */
int onr_service_subscribe(struct onr_service *svc, const char *filter, int type,
                          onr_service_handler_cb cb, void *arg);

/* onr_service_route: like onr_service_subscribe, without subscribing: for
 * messages the broker delivers to this client alone (the plugin's answers
 * on $CONTROL/onramp/v1/response). */
int onr_service_route(struct onr_service *svc, const char *filter, int type,
                      onr_service_handler_cb cb, void *arg);

/*
 * onr_service_subscribe_raw: from start(), subscribe to `filter` (QoS as
 * above; copied; renewed after every reconnect) for messages that are not
 * envelopes (an operational device's telemetry): `cb` gets the topic and
 * the payload as they arrived (borrowed for the call; `len` bytes, not
 * NUL-terminated, untrusted: nothing was decoded or verified). A topic a
 * raw route matches goes to that route only. ONR_OK, ONR_EINVAL or
 * ONR_ENOMEM (too many routes). `cb` returns ONR_OK or an error that is
 * logged.
 */
typedef int (*onr_service_raw_cb)(struct onr_service *svc, const char *topic,
                                  const uint8_t *payload, size_t len, void *arg);
int onr_service_subscribe_raw(struct onr_service *svc, const char *filter, onr_service_raw_cb cb,
                              void *arg);

/* onr_service_every: from start(), call `cb` every `seconds` while the
 * service runs (the first time `seconds` after it starts). */
typedef void (*onr_service_tick_cb)(struct onr_service *svc, void *arg);
int onr_service_every(struct onr_service *svc, unsigned seconds, onr_service_tick_cb cb,
                      void *arg);

/* onr_service_connected: 1 while a broker connection is up. */
int onr_service_connected(const struct onr_service *svc);

/* A broker of the configuration, as onr_service_broker_at shows it
 * (strings borrowed: they live as long as the service). */
struct onr_service_broker {
    const char *name;   /* ONR_PEER_BROKER for the unnamed one of broker_host */
    const char *host;
    unsigned port;
    const char *region; /* its MCC, or NULL */
    int connected;
};

/* onr_service_brokers: how many brokers the service is configured with;
 * onr_service_broker_at: the `i`-th (ONR_OK or ONR_ERANGE). */
size_t onr_service_brokers(const struct onr_service *svc);
int onr_service_broker_at(const struct onr_service *svc, size_t i,
                          struct onr_service_broker *out);

/* onr_service_via_region: the region (an MCC, 3 digits) configured for the
 * broker the message being handled came through; NULL when that broker
 * has none, or outside a handler. Borrowed: lives as long as the
 * service. */
const char *onr_service_via_region(const struct onr_service *svc);

/* The loaded configuration (borrowed; replaced on reload). */
const struct onr_config *onr_service_config(const struct onr_service *svc);
/* onr_service_path: a configuration value as a path (relative to the file). */
int onr_service_path(const struct onr_service *svc, const char *key, char *out, size_t cap);
struct onr_db *onr_service_db(const struct onr_service *svc);
/* onr_service_base: the service's event loop (borrowed; it lives until
 * after stop() returned), for a service's own events (a listener, timers).
 * Events added there must be freed in stop(). */
struct event_base *onr_service_base(struct onr_service *svc);
const char *onr_service_id(const struct onr_service *svc);
uint64_t onr_service_now(const struct onr_service *svc);

/*
 * onr_service_accept: freshness and replay for a message whose
 * authenticator the handler has verified (onr_envelope_accept with the
 * service's window and cache).
 */
int onr_service_accept(struct onr_service *svc, const struct onr_envelope *env);

/*
 * onr_service_seal: `msg` in an envelope signed by this service for
 * `topic`, into `pub` (topic copied). Returns ONR_OK or the errors of
 * onr_envelope_encode. `id_out` (may be NULL) receives the message id.
 */
int onr_service_seal(struct onr_service *svc, const struct onr_msg *msg, const char *topic,
                     struct onr_publication *pub, uint8_t id_out[ONR_MSG_ID_LEN]);

/* onr_service_error: an ERROR envelope answering `env` with `code` (a
 * negative ONR_E) for `topic`, into `pub` (sealed only: see
 * onr_answer_refuse for a handler's answer). */
int onr_service_error(struct onr_service *svc, const struct onr_envelope *env, int code,
                      const char *topic, struct onr_publication *pub);

/* onr_service_error_re: the same for an answer to the message `re` (16
 * bytes) that is not at hand (a pushed answer); ONR_ESPACE for a NULL
 * `pub` (an answer with no room left). */
int onr_service_error_re(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code,
                         const char *topic, struct onr_publication *pub);

/* onr_service_event: the event (SPEC type 26) that this service completed
 * journey step `step` for `dev`, for its ev topic, into `pub` (ONR_ESPACE
 * when NULL; ONR_EINVAL for a step no event announces). */
int onr_service_event(struct onr_service *svc, const char *dev, enum onr_journey_step step,
                      struct onr_publication *pub);

/* onr_answer_refuse: from decide(): the answer to `env` is an ERROR of
 * `code` on `topic`, stored with whatever decide changed (an audit row)
 * and counted as the refusal it is. Returns ONR_OK (decide returns it) or
 * the sealing's error. */
int onr_answer_refuse(struct onr_service *svc, struct onr_answer *answer,
                      const struct onr_envelope *env, int code, const char *topic);

/*
 * onr_service_log_refusal: log a refused message as one notice line (never
 * a secret: the caller formats it), at most 10 every 10 s per service, so
 * a flood is counted (service_stats) rather than written out line by line;
 * when a window left some unwritten, one line says how many.
 */
__attribute__((format(printf, 2, 3))) void onr_service_log_refusal(struct onr_service *svc,
                                                                   const char *fmt, ...);

/*
 * onr_service_handle_once: the durable core of every handler. In one
 * transaction: if (env's sender, id) was handled before, publish the stored
 * answer again and return; else call `decide` (which changes state through
 * the database and fills `answer`), store the answer in the outbox, commit,
 * then publish the answer and the extras (in a burst of messages the
 * commit is a savepoint's, and the publications wait for the burst's
 * commit: see above). ONR_EBUSY when the database is
 * busy (nothing answered: the peer retries). `decide` returning an error
 * rolls everything back (its answer is not sent unless it set
 * answer->reply and returned ONR_OK).
 */
typedef int (*onr_service_decide_cb)(struct onr_service *svc, const struct onr_envelope *env,
                                     const char *topic, void *arg, struct onr_answer *answer);
int onr_service_handle_once(struct onr_service *svc, const struct onr_envelope *env,
                            const char *topic, onr_service_decide_cb decide, void *arg);

/*
 * onr_service_transact: work that no message asked for (the provider's
 * page pairs a device) with handle_once's guarantees: `fn` runs in a
 * transaction of its own and fills `answer`, which is published once the
 * work is durable (`answer->reply` included; nothing is stored for
 * duplicates). ONR_OK, fn's error (everything rolled back) or the
 * database's.
 */
typedef int (*onr_service_work_cb)(struct onr_service *svc, void *arg,
                                   struct onr_answer *answer);
int onr_service_transact(struct onr_service *svc, onr_service_work_cb fn, void *arg);

/* onr_service_refuse: answer `env` at once with an ERROR of `code` on
 * `topic`, outside any transaction (for refusals that change nothing).
 * Returns `code`, so a handler can `return onr_service_refuse(...)`. */
int onr_service_refuse(struct onr_service *svc, const struct onr_envelope *env, int code,
                       const char *topic);

/*
 * onr_service_from_device: for a message that arrived on a device's topic
 * (onr/1/d/{dev}/up/...), the device it names, if the envelope's sender is
 * that device (role device, the same id): the broker lets only that device
 * publish there. ONR_OK or ONR_EDENIED.
 */
int onr_service_from_device(const char *topic, const struct onr_envelope *env,
                            char dev[ONR_DEVID_LEN + 1]);

/*
 * onr_service_from_peer: for a message from another service on our inbox:
 * the sender must be one of `peers` (borrowed) with role `role`, its
 * signature must verify for `topic` with that peer's key, and the message
 * must be fresh and new. *peer is set to the peer. ONR_OK for a new message
 * or a duplicate (to be answered from the outbox by handle_once),
 * ONR_EDENIED for a stranger, else the verification's error (ONR_ESTALE
 * included: the caller may answer it).
 */
struct onr_peers;
struct onr_peer;
int onr_service_from_peer(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, const struct onr_peers *peers, enum onr_role role,
                          const struct onr_peer **peer);

/* onr_service_controllers: the control tools of the `controller` lines
 * (borrowed; replaced on reload). */
const struct onr_peers *onr_service_controllers(const struct onr_service *svc);

/* onr_service_publish: QoS 1 (QoS 0 to a device's onr/1/d/{dev}/down;
 * SPEC section 2) on pub->brokers (see struct
 * onr_publication): now, or, while a burst's transaction is open, once it
 * commits (best effort: on a broker that is disconnected the message is
 * dropped and logged; callers rely on their peers' retries or on confirmed
 * delivery). */
int onr_service_publish(struct onr_service *svc, const struct onr_publication *pub);

#endif /* ONRAMP_SERVICE_H */
