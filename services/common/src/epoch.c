/*
 * What every broker must hold (proto/SPEC.md section 11): brokers share
 * nothing, so each grant, revoke and certificate revocation goes to every
 * broker (delivery.c), and the last one sent under each key stays in
 * `in_force`. Each broker's grants journal has an epoch, reported in every
 * control result and in its counters (type 23, retained on
 * onr/1/s/broker/{name}/ev, which the service hears on every connect): a
 * broker whose epoch is new to us (a new broker, one whose disk was lost)
 * is sent everything in force again on the next tick, without a manual
 * step, and its epoch is recorded with that.
 */
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/hex.h"
#include "pending.h"
#include "service_internal.h"

#define STATS_FILTER "onr/1/s/broker/+/ev"

static int has_broker_kind(const struct onr_service *svc)
{
    for (size_t i = 0; i < svc->delivery.n_kinds; i++)
        if (svc->delivery.kinds[i].peer_role == ONR_ROLE_BROKER)
            return 1;
    return 0;
}

/* ---- at start: the brokers of the configuration, and only they ------------------- */

/* The configured brokers' names for "NOT IN (?a .. ?a+7)" (a name is never
 * empty). */
#define NAMES_ARGS(n)                                                                        \
    ONR_DB_STR((n)[0]), ONR_DB_STR((n)[1]), ONR_DB_STR((n)[2]), ONR_DB_STR((n)[3]),          \
        ONR_DB_STR((n)[4]), ONR_DB_STR((n)[5]), ONR_DB_STR((n)[6]), ONR_DB_STR((n)[7])

/* The epochs the configured brokers were brought up to date at. Those of
 * brokers no longer configured are dropped, and so are their requests
 * still pending: a broker that comes back into the configuration is
 * brought up to date again (it missed what was sent meanwhile). */
static int load_epochs(struct onr_service *svc)
{
    const char *names[ONR_SERVICE_MAX_BROKERS];
    char peer[ONR_DELIVERY_PEER_MAX + 1];
    uint8_t epoch[ONR_BROKER_EPOCH_LEN];
    struct onr_db_rows *rows = NULL;
    int rc;

    for (size_t j = 0; j < ONR_SERVICE_MAX_BROKERS; j++)
        names[j] = j < svc->n_brokers ? svc->brokers[j].name : "";
    rc = onr_db_run(svc->db, "DELETE FROM broker_epochs WHERE broker NOT IN"
                             " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    ONR_DB_ARGS(NAMES_ARGS(names)));
    for (size_t i = 0; i < svc->delivery.n_kinds && rc == ONR_OK; i++)
        if (svc->delivery.kinds[i].peer_role == ONR_ROLE_BROKER)
            rc = onr_db_run(svc->db, "DELETE FROM pending WHERE kind = ?1 AND peer NOT IN"
                                     " (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            ONR_DB_ARGS(ONR_DB_STR(svc->delivery.kinds[i].name),
                                        NAMES_ARGS(names)));
    if (rc == ONR_OK)
        rc = onr_db_query(svc->db, "SELECT broker, epoch FROM broker_epochs", ONR_DB_NO_ARGS,
                          &rows);
    while (rc == ONR_OK) {
        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(peer), ONR_DB_OUT_EXACT(epoch)));
        if (rc == ONR_OK && svc_broker_named(svc, peer) >= 0) {
            struct svc_broker *b = &svc->brokers[svc_broker_named(svc, peer)];

            memcpy(b->epoch, epoch, sizeof(epoch));
            b->has_epoch = 1;
        }
    }
    onr_db_query_end(rows);
    return rc == ONR_ENOENT ? ONR_OK : rc;
}

/* A broker's counters: its epoch, on the connection it came through. */
static int on_broker_stats(struct onr_service *svc, const struct onr_envelope *env,
                           const char *topic, void *arg)
{
    const struct onr_msg_broker_stats *s = &env->msg.body.broker_stats;
    struct onr_topic t;
    struct svc_broker *b;

    (void)arg;
    if (svc->via < 0 || onr_topic_parse(topic, strlen(topic), &t) != ONR_OK ||
        env->sender_role != ONR_ROLE_BROKER || env->sender.len != strlen(t.svc) ||
        memcmp(env->sender.ptr, t.svc, env->sender.len) != 0)
        return ONR_EDENIED;
    b = &svc->brokers[svc->via];
    /* brokers are not bridged: what a connection hears is its broker's own */
    if (strcmp(b->name, ONR_PEER_BROKER) != 0 && strcmp(b->name, t.svc) != 0) {
        onr_service_log_refusal(svc, "broker=%s reports the counters of broker=%s: is the "
                                "configuration's name its plugin's broker_name?", b->name,
                                t.svc);
        return ONR_EDENIED;
    }
    svc_epoch_seen(svc, (size_t)svc->via, s->epoch.ptr, s->epoch.len);
    return ONR_OK;
}

int svc_epochs_start(struct onr_service *svc)
{
    int rc;

    if (!has_broker_kind(svc))
        return ONR_OK;
    rc = onr_db_begin(svc->db);
    if (rc == ONR_OK)
        rc = load_epochs(svc);
    if (rc == ONR_OK)
        rc = svc_in_force_sweep(svc); /* a forgotten broker's rows went too */
    if (rc == ONR_OK)
        rc = onr_db_commit(svc->db);
    if (rc != ONR_OK) {
        onr_db_rollback(svc->db);
        fprintf(stderr, "%s: the brokers' epochs: %s\n", svc->def->name,
                onr_db_errmsg(svc->db));
        return rc;
    }
    /* every instance: each learns every broker's epoch (one that missed a
     * new epoch would bring the broker up to date again at its next
     * control result, resending what it had confirmed) */
    return svc_add_route(svc, STATS_FILTER, SVC_SUBSCRIBE_EVERY, ONR_MSG_BROKER_STATS,
                         on_broker_stats, NULL, NULL);
}

/* ---- a new epoch --------------------------------------------------------------------- */

int svc_epoch_seen(struct onr_service *svc, size_t i, const uint8_t *epoch, size_t len)
{
    struct svc_broker *b = &svc->brokers[i];
    char hex[2 * ONR_BROKER_EPOCH_LEN + 1];

    if (len != ONR_BROKER_EPOCH_LEN || epoch == NULL)
        return 0; /* the decoder checked it: never here */
    if (b->has_epoch && memcmp(b->epoch, epoch, len) == 0)
        return 0;
    if (b->resync_due && memcmp(b->seen, epoch, len) == 0)
        return 1;
    memcpy(b->seen, epoch, len);
    b->resync_due = 1;
    onr_hex_encode(epoch, len, hex);
    onr_log(ONR_LOG_NOTICE, "broker=%s epoch=%s is new: it is sent everything in force",
            b->name, hex);
    return 1;
}

/* Every request in force due for broker `b` now (a zero id until it is
 * sent: no answer names one), and its epoch recorded: in the caller's
 * transaction. A request still pending there is left as it is: it is the
 * latest under its key (every send writes both), it is resent until this
 * broker confirms it, and sending it again now would make the broker apply
 * it twice (a service that hears a broker's counters before its first
 * confirmation would double every grant it just sent). */
static int resync(struct onr_service *svc, struct svc_broker *b, uint64_t now)
{
    static const uint8_t unsent[ONR_MSG_ID_LEN];
    uint8_t recorded[ONR_BROKER_EPOCH_LEN];
    int rc;

    /* another instance of this service heard the epoch too, and brought
     * the broker up to date first: what it sent is confirmed or pending */
    rc = onr_db_get(svc->db, "SELECT epoch FROM broker_epochs WHERE broker = ?1",
                    ONR_DB_ARGS(ONR_DB_STR(b->name)), ONR_DB_COLS(ONR_DB_OUT_EXACT(recorded)));
    if (rc == ONR_OK && memcmp(recorded, b->seen, sizeof(recorded)) == 0)
        return ONR_OK;
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    rc = onr_db_run(svc->db,
                    "INSERT INTO pending (peer, key, kind, topic, type, body, msg_id, prev_id,"
                    " attempts, next_at, created_at, lease_until)"
                    " SELECT ?1, key, kind, topic, type, body, ?2, NULL, 0, ?3, ?3, NULL"
                    " FROM in_force WHERE NOT EXISTS (SELECT 1 FROM pending p"
                    "  WHERE p.peer = ?1 AND p.key = in_force.key)"
                    " ON CONFLICT (peer, key) DO NOTHING",
                    ONR_DB_ARGS(ONR_DB_STR(b->name), ONR_DB_ARRAY(unsent), ONR_DB_INT(now)));
    if (rc == ONR_OK)
        rc = onr_db_run(svc->db, "INSERT INTO broker_epochs (broker, epoch) VALUES (?1, ?2)"
                                 " ON CONFLICT (broker) DO UPDATE SET epoch = excluded.epoch",
                        ONR_DB_ARGS(ONR_DB_STR(b->name), ONR_DB_ARRAY(b->seen)));
    return rc;
}

void svc_epochs_tick(struct onr_service *svc)
{
    uint64_t in_force = 0;
    int rc;

    for (size_t i = 0; i < svc->n_brokers; i++) {
        struct svc_broker *b = &svc->brokers[i];

        if (!b->resync_due || !b->connected)
            continue;
        rc = onr_db_begin(svc->db);
        if (rc == ONR_OK)
            rc = resync(svc, b, svc->clock());
        if (rc == ONR_OK)
            rc = onr_db_get(svc->db, "SELECT count(*) FROM in_force", ONR_DB_NO_ARGS,
                            ONR_DB_COLS(ONR_DB_OUT_U64(&in_force)));
        if (rc == ONR_OK)
            rc = onr_db_commit(svc->db);
        if (rc != ONR_OK) {
            onr_db_rollback(svc->db);
            onr_log(ONR_LOG_WARNING, "broker=%s not brought up to date yet error=%s", b->name,
                    onr_error_name(rc));
            continue;
        }
        memcpy(b->epoch, b->seen, sizeof(b->epoch));
        b->has_epoch = 1;
        b->resync_due = 0;
        onr_log(ONR_LOG_NOTICE, "broker=%s brought up to date: requests=%llu due", b->name,
                (unsigned long long)in_force);
    }
}
