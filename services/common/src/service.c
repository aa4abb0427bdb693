/*
 * The service skeleton's run (see <onramp/service.h>): set up in order
 * (configuration, the service's own settings, keys, database and its
 * migrations, handlers, counters), connect, run the loop until a signal
 * stops it, and clean up in reverse order.
 */
#include <event2/event.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/version.h"
#include "service_internal.h"

#define REPLAY_CAPACITY 65536

static uint64_t wall_clock(void)
{
    return (uint64_t)time(NULL);
}

/* The keys every service needs, its id and freshness window. */
static int load_identity(struct onr_service *svc)
{
    static const char *const needed[] = {"id",  "broker_ca",   "cert",
                                         "key", "signing_key", "database"};
    char path[1024];
    uint64_t freshness = 0;
    const char *id;
    int rc = ONR_OK;

    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]) && rc == ONR_OK; i++)
        rc = svc_required(svc, needed[i]);
    if (rc != ONR_OK || svc_apply_log_level(svc) != ONR_OK || svc_brokers_load(svc) != ONR_OK)
        return ONR_EINVAL;
    id = onr_config_get(svc->cfg, "id");
    if (strlen(id) > ONR_SERVICE_ID_MAX) {
        fprintf(stderr, "%s: id: at most %d characters\n", svc->def->name, ONR_SERVICE_ID_MAX);
        return ONR_EINVAL;
    }
    snprintf(svc->id, sizeof(svc->id), "%s", id);
    rc = onr_config_get_uint(svc->cfg, "freshness", 300, 10, 86400, &freshness);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: freshness: seconds in 10..86400\n", svc->def->name);
        return rc;
    }
    svc->freshness = (uint32_t)freshness;
    rc = onr_service_path(svc, "signing_key", path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &svc->signing_key);
    if (rc != ONR_OK)
        fprintf(stderr, "%s: signing_key %s: %s\n", svc->def->name, path, onr_strerror(rc));
    return rc;
}

/* The database, brought to the schema this program speaks. */
static int open_database(struct onr_service *svc)
{
    char where[1024] = "";
    char why[256] = "";
    int from = 0;
    int rc;

    rc = onr_db_open_config(svc->cfg, NULL, svc->def->schema, svc->def->arg, &svc->db, &from,
                            where, sizeof(where), why, sizeof(why));
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: database %s: %s\n", svc->def->name, where, why);
        return rc;
    }
    if (from > 0 && from < (int)svc->def->schema->n)
        onr_log(ONR_LOG_NOTICE, "database upgraded path=%s from=%d to=%zu", where, from,
                svc->def->schema->n);
    return ONR_OK;
}

/* What a burst held, once it is committed. */
static void publish_held(void *arg, uint32_t brokers, int qos, const char *topic,
                         const uint8_t *payload, size_t len)
{
    svc_publish_now(arg, brokers, qos, topic, payload, len);
}

/* A burst's commit, timed with the others (counters.c). */
static int commit_burst(void *arg)
{
    return svc_commit(arg);
}

int svc_setup(struct onr_service *svc, const struct onr_service_def *def)
{
    int rc;

    svc->def = def;
    svc->clock = wall_clock;
    svc->answer = calloc(1, sizeof(*svc->answer));
    svc->base = event_base_new();
    if (svc->answer == NULL || svc->base == NULL)
        return ONR_ENOMEM;
    rc = svc_load_config(svc, &svc->cfg);
    if (rc == ONR_OK)
        rc = load_identity(svc);
    if (rc == ONR_OK && def->load != NULL)
        rc = def->load(svc, def->arg); /* the migrations may need it */
    if (rc == ONR_OK)
        rc = open_database(svc);
    if (rc == ONR_OK)
        rc = onr_peers_load(svc->cfg, def->name, "controller", 0, &svc->controllers);
    if (rc == ONR_OK)
        rc = onr_replay_new(REPLAY_CAPACITY, &svc->replay);
    if (rc == ONR_OK)
        rc = batch_new(svc->base, svc->db, publish_held, commit_burst, svc, &svc->batch);
    if (rc == ONR_OK)
        rc = svc_counters_setup(svc);
    if (rc != ONR_OK)
        return rc;
    rc = def->start(svc, def->arg);
    if (rc == ONR_OK)
        rc = svc_status_setup(svc);
    if (rc == ONR_OK)
        rc = svc_epochs_start(svc);
    if (rc == ONR_OK) {
        svc_counters_refresh(svc); /* the kinds are known now */
        rc = svc_metrics_start(svc);
    }
    if (rc != ONR_OK)
        fprintf(stderr, "onramp-%s: cannot start: %s\n", def->name, onr_strerror(rc));
    return rc;
}

/* ---- signals and the outbox's pruning ----------------------------------------- */

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct onr_service *svc = arg;

    (void)what;
    onr_log(ONR_LOG_NOTICE, "stopping signal=%d", (int)sig);
    event_base_loopbreak(svc->base);
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    svc_reload(arg);
}

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
    struct onr_service *svc = arg;

    (void)fd;
    (void)what;
    if (svc_prune_outbox(svc) != ONR_OK)
        onr_log(ONR_LOG_WARNING, "outbox prune failed error=%s", onr_db_errmsg(svc->db));
}

static int events_setup(struct onr_service *svc)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    const struct timeval hourly = {3600, 0};

    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        svc->signals[i] = evsignal_new(svc->base, sigs[i],
                                       sigs[i] == SIGHUP ? on_reload_signal : on_stop_signal,
                                       svc);
        if (svc->signals[i] == NULL || event_add(svc->signals[i], NULL) != 0)
            return ONR_ENOMEM;
    }
    svc->prune_ev = event_new(svc->base, -1, EV_PERSIST, on_prune, svc);
    if (svc->prune_ev == NULL || event_add(svc->prune_ev, &hourly) != 0)
        return ONR_ENOMEM;
    return ONR_OK;
}

void svc_cleanup(struct onr_service *svc)
{
    batch_free(svc->batch); /* what is open is committed and said */
    svc->batch = NULL;
    if (svc->def != NULL && svc->def->stop != NULL && svc->db != NULL)
        svc->def->stop(svc, svc->def->arg);
    svc_disconnect(svc);
    svc_metrics_stop(svc);
    for (int i = 0; i < 3; i++)
        if (svc->signals[i] != NULL)
            event_free(svc->signals[i]);
    svc_free_ticks(svc);
    if (svc->prune_ev != NULL)
        event_free(svc->prune_ev);
    if (svc->base != NULL)
        event_base_free(svc->base);
    onr_replay_free(svc->replay);
    onr_p256_free(svc->signing_key);
    onr_db_close(svc->db);
    onr_config_free(svc->cfg);
    free(svc->answer);
    memset(svc, 0, sizeof(*svc));
}

int onr_service_main(const struct onr_service_def *def, int argc, char **argv)
{
    static struct onr_service svc; /* large (the routes, the peers) */
    int status = 1;
    int rc;

    memset(&svc, 0, sizeof(svc));
    svc.def = def;
    rc = svc_parse_args(&svc, argc, argv);
    if (rc >= 0)
        return rc;
    onr_log_init(def->name, ONR_LOG_NOTICE, 2);
#ifdef ONR_TEST_HOOKS
    /* Tests only: die by SIGKILL right after committing the first message
     * of this type, before answering it (what a crash there leaves). */
    if (getenv("ONR_TEST_DIE_AFTER_COMMIT") != NULL)
        svc.die_after_type = atoi(getenv("ONR_TEST_DIE_AFTER_COMMIT"));
#endif
    mosquitto_lib_init();
    if (svc_setup(&svc, def) != ONR_OK || events_setup(&svc) != ONR_OK ||
        svc_connect(&svc) != ONR_OK)
        goto out;
    onr_log(ONR_LOG_NOTICE, "started id=%s version=%s", svc.id, ONR_VERSION_STRING);
    event_base_dispatch(svc.base);
    onr_log(ONR_LOG_NOTICE, "stopped id=%s", svc.id);
    status = 0;
out:
    svc_cleanup(&svc);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}

/* ---- accessors ------------------------------------------------------------------ */

const struct onr_config *onr_service_config(const struct onr_service *svc)
{
    return svc->cfg;
}

struct onr_db *onr_service_db(const struct onr_service *svc)
{
    return svc->db;
}

struct event_base *onr_service_base(struct onr_service *svc)
{
    return svc->base;
}

const char *onr_service_id(const struct onr_service *svc)
{
    return svc->id;
}

uint64_t onr_service_now(const struct onr_service *svc)
{
    return svc->clock();
}
