/*
 * The skeleton's flags and configuration file: --config, -o, --log-level,
 * --help, --version; the keys every service understands (service.h), the
 * service's own; SIGHUP's reload, all or nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "onramp/version.h"
#include "service_internal.h"

static const char *const common_keys[] = {
    "id",          "broker",         "broker_host",
    "broker_port", "broker_ca",      "cert",
    "key",         "signing_key",    "database",
    "database_password_file",        "log_level",
    "freshness",   "stats_interval", "controller",
    "metrics_listen", "metrics_public", "instance",
    "session_expiry",
};

#define N_COMMON (sizeof(common_keys) / sizeof(common_keys[0]))

/* -o key=value over the file's value. */
static int apply_override(struct onr_service *svc, struct onr_config *cfg, const char *o)
{
    char key[ONR_CONFIG_KEY_MAX + 1];
    const char *eq = strchr(o, '=');
    int rc;

    if (eq == NULL || (size_t)(eq - o) > ONR_CONFIG_KEY_MAX) {
        fprintf(stderr, "%s: -o wants key=value\n", svc->def->name);
        return ONR_EINVAL;
    }
    snprintf(key, sizeof(key), "%.*s", (int)(eq - o), o);
    rc = onr_config_set(cfg, key, eq + 1);
    if (rc != ONR_OK)
        fprintf(stderr, "%s: -o %s: %s\n", svc->def->name, o, onr_strerror(rc));
    return rc;
}

int svc_load_config(struct onr_service *svc, struct onr_config **out)
{
    const char *known[N_COMMON + 64];
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    const char *stray = NULL;
    size_t n = 0;
    int rc;

    rc = onr_config_load(svc->config_path, &cfg, &err);
    if (rc != ONR_OK) {
        fprintf(stderr, "%s: %s:%zu: %s\n", svc->def->name, svc->config_path, err.line,
                err.line > 0 || err.reason[0] ? err.reason : onr_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < svc->n_overrides && rc == ONR_OK; i++)
        rc = apply_override(svc, cfg, svc->overrides[i]);
    for (size_t i = 0; i < N_COMMON; i++)
        known[n++] = common_keys[i];
    for (size_t i = 0; i < svc->def->n_keys && n < sizeof(known) / sizeof(known[0]); i++)
        known[n++] = svc->def->keys[i];
    if (rc == ONR_OK) {
        rc = onr_config_check_keys(cfg, known, n, &stray);
        if (rc != ONR_OK)
            fprintf(stderr, "%s: %s: unknown key '%s'\n", svc->def->name, svc->config_path,
                    stray);
    }
    if (rc != ONR_OK) {
        onr_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return ONR_OK;
}

int svc_required(struct onr_service *svc, const char *key)
{
    if (onr_config_get(svc->cfg, key) != NULL)
        return ONR_OK;
    fprintf(stderr, "%s: %s: '%s' is required\n", svc->def->name, svc->config_path, key);
    return ONR_EINVAL;
}

int onr_service_path(const struct onr_service *svc, const char *key, char *out, size_t cap)
{
    const char *value = onr_config_get(svc->cfg, key);

    if (value == NULL)
        return ONR_ENOENT;
    return onr_config_path(svc->cfg, value, out, cap);
}

int svc_apply_log_level(struct onr_service *svc)
{
    const char *text = onr_config_get(svc->cfg, "log_level");
    enum onr_log_level level = ONR_LOG_NOTICE;

    if (text != NULL && onr_log_level_parse(text, &level) != ONR_OK) {
        fprintf(stderr, "%s: log_level: want error, warning, notice, info or debug\n",
                svc->def->name);
        return ONR_EINVAL;
    }
    onr_log_set_level(level);
    return ONR_OK;
}

void svc_reload(struct onr_service *svc)
{
    static struct onr_peers controllers; /* large: not on the stack */
    struct onr_config *cfg = NULL;
    struct onr_config *old;

    if (svc_load_config(svc, &cfg) != ONR_OK) {
        onr_log(ONR_LOG_ERROR, "reload refused: configuration kept as it was");
        return;
    }
    old = svc->cfg;
    svc->cfg = cfg;
    controllers = svc->controllers;
    if (svc_apply_log_level(svc) != ONR_OK ||
        onr_peers_load(cfg, svc->def->name, "controller", 0, &svc->controllers) != ONR_OK ||
        (svc->def->load != NULL && svc->def->load(svc, svc->def->arg) != ONR_OK)) {
        svc->cfg = old;
        svc->controllers = controllers;
        onr_config_free(cfg);
        svc_apply_log_level(svc);
        onr_log(ONR_LOG_ERROR, "reload refused: configuration kept as it was");
        return;
    }
    onr_config_free(old);
    onr_log(ONR_LOG_NOTICE, "reloaded config=%s", svc->config_path);
}

int svc_parse_args(struct onr_service *svc, int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"option", required_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    static char level_override[64];
    int opt;

    while ((opt = getopt_long(argc, argv, "c:o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': svc->config_path = optarg; break;
        case 'o':
        case 'l':
            if (svc->n_overrides == SVC_MAX_OVERRIDES)
                return 2;
            if (opt == 'l') {
                snprintf(level_override, sizeof(level_override), "log_level=%s", optarg);
                svc->overrides[svc->n_overrides++] = level_override;
            } else {
                svc->overrides[svc->n_overrides++] = optarg;
            }
            break;
        case 'h': fputs(svc->def->usage, stdout); return 0;
        case 'V': printf("onramp-%s %s\n", svc->def->name, ONR_VERSION_STRING); return 0;
        default: fputs(svc->def->usage, stderr); return 2;
        }
    }
    if (svc->config_path == NULL || optind != argc) {
        fputs(svc->def->usage, stderr);
        return 2;
    }
    return -1; /* go on */
}
