/*
 * onramp_plugin: options, callback registration, the tick, cleanup.
 * Everything else lives in one file per concern (see plugin.h).
 */
#include "plugin.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "onramp/hex.h"
#include "map.h"
#include "sessions.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/replay.h"
#include "onramp/text.h"
#include "onramp/topic.h"
#include "onramp/version.h"

static struct plugin *instance;

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

static int parse_u32(const char *name, const char *value, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || v < min || v > max) {
        plugin_log(MOSQ_LOG_ERR, "onramp: option %s: want a number in %u..%u", name, min, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Seconds with up to 3 decimals ("5", "0.2"), 0..86400, in milliseconds. */
static int parse_seconds_ms(const char *name, const char *value, uint32_t *out_ms)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(v >= 0 && v <= 86400)) {
        plugin_log(MOSQ_LOG_ERR, "onramp: option %s: want seconds in 0..86400", name);
        return -1;
    }
    *out_ms = (uint32_t)(v * 1000 + 0.5);
    return 0;
}

static int copy_option(const char *name, const char *value, char *out, size_t cap)
{
    if (strlen(value) >= cap) {
        plugin_log(MOSQ_LOG_ERR, "onramp: option %s: too long", name);
        return -1;
    }
    strcpy(out, value);
    return 0;
}

/* plugin_opt_provider_ca_<id> <path>: one more provider CA. */
static int add_provider_ca(struct plugin *p, const char *key, const char *id, const char *path)
{
    struct provider_ca *grown;
    struct provider_ca *ca;

    if (strlen(id) == 0 || strlen(id) > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, strlen(id)}) !=
            ONR_OK) {
        plugin_log(MOSQ_LOG_ERR, "onramp: option %s: the provider id must be a service id "
                                 "(a-z 0-9 . _ -, at most 32)", key);
        return -1;
    }
    for (size_t i = 0; i < p->n_provider_cas; i++) {
        if (strcmp(p->provider_cas[i].id, id) == 0) {
            plugin_log(MOSQ_LOG_ERR, "onramp: option %s given twice", key);
            return -1;
        }
    }
    if (p->n_provider_cas == PROVIDER_CAS_MAX) {
        plugin_log(MOSQ_LOG_ERR, "onramp: more than %d provider CAs", PROVIDER_CAS_MAX);
        return -1;
    }
    grown = realloc(p->provider_cas, (p->n_provider_cas + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    p->provider_cas = grown;
    ca = &p->provider_cas[p->n_provider_cas];
    memset(ca, 0, sizeof(*ca));
    if (copy_option(key, path, ca->path, sizeof(ca->path)) != 0)
        return -1;
    strcpy(ca->id, id);
    p->n_provider_cas++;
    return 0;
}

#define PROVIDER_CA_PREFIX "provider_ca_"

static int parse_options(struct plugin *p, struct mosquitto_opt *opts, int count)
{
    struct plugin_config *cfg = &p->cfg;
    static const struct {
        const char *name;
        size_t offset;
        uint32_t min, max;
    } numbers[] = {
        {"pop_window", offsetof(struct plugin_config, pop_window), 1, 86400},
        {"replay_capacity", offsetof(struct plugin_config, replay_capacity), 1, 1u << 24},
        {"max_payload", offsetof(struct plugin_config, max_payload), 1, 256 * 1024},
        {"device_rate", offsetof(struct plugin_config, device_rate), 1, 100000},
        {"device_burst", offsetof(struct plugin_config, device_burst), 1, 100000},
        {"flood_kick", offsetof(struct plugin_config, flood_kick), 0, UINT32_MAX},
        {"max_connects_per_sec", offsetof(struct plugin_config, max_connects_per_sec), 0,
         1000000},
    };

    *cfg = (struct plugin_config){
        .pop_window = 300,
        .replay_capacity = 100000,
        .max_payload = 16384,
        .device_rate = 10,
        .device_burst = 20,
        .flood_kick = 100,
        .max_connects_per_sec = 0,
        .stats_interval_ms = 5000,
    };
    for (int i = 0; i < count; i++) {
        const char *k = opts[i].key;
        const char *v = opts[i].value;
        int rc = 1;

        if (strcmp(k, "broker_name") == 0)
            rc = copy_option(k, v, cfg->broker_name, sizeof(cfg->broker_name));
        else if (strcmp(k, "broker_cert") == 0)
            rc = copy_option(k, v, cfg->broker_cert_path, sizeof(cfg->broker_cert_path));
        else if (strcmp(k, "services_ca") == 0)
            rc = copy_option(k, v, cfg->services_ca_path, sizeof(cfg->services_ca_path));
        else if (strcmp(k, "grants_file") == 0)
            rc = copy_option(k, v, cfg->grants_path, sizeof(cfg->grants_path));
        else if (strcmp(k, "sessions_file") == 0)
            rc = copy_option(k, v, cfg->sessions_path, sizeof(cfg->sessions_path));
        else if (strcmp(k, "stats_interval") == 0)
            rc = parse_seconds_ms(k, v, &cfg->stats_interval_ms);
        else if (strncmp(k, PROVIDER_CA_PREFIX, sizeof(PROVIDER_CA_PREFIX) - 1) == 0)
            rc = add_provider_ca(p, k, k + sizeof(PROVIDER_CA_PREFIX) - 1, v);
        for (size_t n = 0; rc == 1 && n < sizeof(numbers) / sizeof(numbers[0]); n++)
            if (strcmp(k, numbers[n].name) == 0)
                rc = parse_u32(k, v, numbers[n].min, numbers[n].max,
                               (uint32_t *)((char *)cfg + numbers[n].offset));
        if (rc == 1) {
            plugin_log(MOSQ_LOG_ERR, "onramp: unknown option plugin_opt_%s", k);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (cfg->broker_name[0] == '\0' || cfg->services_ca_path[0] == '\0' ||
        cfg->grants_path[0] == '\0') {
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_name, plugin_opt_services_ca and "
                                 "plugin_opt_grants_file are required");
        return -1;
    }
    /* Default: next to the grants file. */
    if (cfg->sessions_path[0] == '\0' &&
        snprintf(cfg->sessions_path, sizeof(cfg->sessions_path), "%s.sessions",
                 cfg->grants_path) >= (int)sizeof(cfg->sessions_path)) {
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_grants_file too long to name the "
                                 "sessions file after it: set plugin_opt_sessions_file");
        return -1;
    }
    if (onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)cfg->broker_name,
                                                      strlen(cfg->broker_name)}) != ONR_OK) {
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_name must be a service id "
                                 "(a-z 0-9 . _ -, at most 32)");
        return -1;
    }
    if (cfg->broker_cert_path[0] == '\0') {
        plugin_log(MOSQ_LOG_ERR, "onramp: plugin_opt_broker_cert is required: the bootstrap "
                                 "listener's certfile, which must list plugin_opt_broker_name "
                                 "(%s) as a DNS subjectAltName", cfg->broker_name);
        return -1;
    }
    return 0;
}

/* A line of the grants or the sessions file skipped at start. */
static void on_skipped_line(size_t line, const char *why, void *arg)
{
    plugin_log(MOSQ_LOG_WARNING, "onramp: %s line %zu skipped: %s", (const char *)arg, line,
               why);
}

/* The sessions file: loaded, and each session judged again (auth.c). A
 * file that cannot be rewritten is not fatal: the sessions it should drop
 * are dropped in memory all the same. */
static int open_sessions(struct plugin *p)
{
    int rc = sessions_open(p->cfg.sessions_path, on_skipped_line, p->cfg.sessions_path,
                           &p->sessions);

    if (rc != ONR_OK) {
        plugin_log(MOSQ_LOG_ERR, "onramp: sessions file %s: %s", p->cfg.sessions_path,
                   onr_strerror(rc));
        return -1;
    }
    rc = auth_restore_sessions(p);
    if (rc != ONR_OK)
        plugin_log(MOSQ_LOG_WARNING, "onramp: sessions file %s not rewritten: %s",
                   p->cfg.sessions_path, onr_strerror(rc));
    return 0;
}

static int on_tick(int event, void *event_data, void *userdata)
{
    struct plugin *p = userdata;
    uint64_t now = now_ns();

    (void)event;
    (void)event_data;
    control_flush(p);
    control_prune(p, false);
    limits_kick_pending(p);
    if (p->cfg.stats_interval_ms > 0 && now >= p->next_stats_ns) {
        counters_publish(p);
        p->next_stats_ns = now + (uint64_t)p->cfg.stats_interval_ms * 1000000u;
    }
    return MOSQ_ERR_SUCCESS;
}

/* Every callback, registered and unregistered from one table. */
static const struct {
    int event;
    MOSQ_FUNC_generic_callback cb;
    const char *data;
} callbacks[] = {
    {MOSQ_EVT_EXT_AUTH_START, auth_on_ext_start, NULL},
    {MOSQ_EVT_BASIC_AUTH, auth_on_basic, NULL},
    {MOSQ_EVT_ACL_CHECK, acl_on_check, NULL},
    {MOSQ_EVT_DISCONNECT, conns_on_disconnect, NULL},
    {MOSQ_EVT_CONTROL, control_on_message, ONR_TOPIC_CONTROL},
    {MOSQ_EVT_TICK, on_tick, NULL},
};

static void plugin_free(struct plugin *p)
{
    if (p == NULL)
        return;
    control_free(p); /* syncs grants and answers what is pending */
    grants_close(p->grants);
    sessions_close(p->sessions);
    cert_free(p);
    free(p->provider_cas);
    limits_free(p);
    conns_free_all(p);
    onr_replay_free(p->replay);
    onr_crypto_thread_cleanup();
    free(p);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *opts, int opt_count)
{
    struct plugin *p = NULL;
    char epoch[2 * GRANTS_EPOCH_LEN + 1];
    size_t registered = 0;
    int rc;

    if (instance != NULL) {
        plugin_log(MOSQ_LOG_ERR, "onramp: load the plugin once, globally "
                                 "(not with per_listener_settings)");
        return MOSQ_ERR_INVAL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return MOSQ_ERR_NOMEM;
    p->id = identifier;
    p->started = time(NULL);
    p->started_ns = now_ns();
    p->refusal_log.tokens = ONR_REFUSAL_LOG_BURST;
    if (parse_options(p, opts, opt_count) != 0 || cert_check_broker(p) != 0 ||
        cert_load_cas(p) != 0)
        goto fail;
    p->conns = map_new();
    p->services = map_new();
    rc = onr_replay_new(p->cfg.replay_capacity, &p->replay);
    if (p->conns == NULL || p->services == NULL || rc != ONR_OK)
        goto fail;
    rc = grants_open(p->cfg.grants_path, on_skipped_line, p->cfg.grants_path, &p->grants);
    if (rc != ONR_OK) {
        plugin_log(MOSQ_LOG_ERR, "onramp: grants file %s: %s", p->cfg.grants_path,
                   onr_strerror(rc));
        goto fail;
    }
    control_prune(p, true);
    if (open_sessions(p) != 0)
        goto fail;
    for (; registered < sizeof(callbacks) / sizeof(callbacks[0]); registered++) {
        if (mosquitto_callback_register(identifier, callbacks[registered].event,
                                        callbacks[registered].cb, callbacks[registered].data,
                                        p) != MOSQ_ERR_SUCCESS)
            goto fail;
    }
    onr_hex_encode(grants_epoch(p->grants), GRANTS_EPOCH_LEN, epoch);
    plugin_log(MOSQ_LOG_NOTICE, "onramp: plugin %s loaded: broker %s, %zu grants, "
               "%zu provider CAs, %zu revoked certificates, %zu persistent sessions, "
               "epoch %s%s",
               ONR_VERSION_STRING, p->cfg.broker_name, grants_count(p->grants),
               p->n_provider_cas, grants_cert_revocations(p->grants),
               sessions_count(p->sessions), epoch,
               grants_epoch_new(p->grants) ? " (new: the services send every grant and "
                                             "revocation in force)"
                                           : "");
    *userdata = p;
    instance = p;
    return MOSQ_ERR_SUCCESS;
fail:
    while (registered-- > 0)
        mosquitto_callback_unregister(identifier, callbacks[registered].event,
                                      callbacks[registered].cb, callbacks[registered].data);
    plugin_free(p);
    return MOSQ_ERR_UNKNOWN;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
    struct plugin *p = userdata;

    (void)opts;
    (void)opt_count;
    if (p == NULL)
        return MOSQ_ERR_SUCCESS;
    for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++)
        mosquitto_callback_unregister(p->id, callbacks[i].event, callbacks[i].cb,
                                      callbacks[i].data);
    plugin_free(p);
    instance = NULL;
    return MOSQ_ERR_SUCCESS;
}
