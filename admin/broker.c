/* The broker's host: mosquitto.conf rendered from the plugin's example
 * configuration (broker-plugins/mosquitto.conf.example), its TLS files,
 * the provider CAs its plugin trusts, openssl-broker.cnf and a systemd
 * drop-in for mosquitto.service. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"

#define ETC "/etc/mosquitto/onramp" /* the broker's Onramp files */

struct conf {
    struct adm_ctx *c;
    size_t b;
    size_t host;
    int operational; /* a provider's devices connect here */
    int listener;    /* which of the example's listeners we are in */
    struct adm_text *text;
    int rc;
    char path[ADM_PATH];
};

/* A path on the broker's host as its configuration names it. */
static const char *on_host(struct conf *k, const char *file)
{
    if (k->rc == ONR_OK)
        k->rc = adm_conf_path(k->c, k->host, k->path, "%s", file);
    return k->rc == ONR_OK ? k->path : "";
}

static int serves(const struct adm_topology *t, size_t party, size_t b)
{
    return t->parties[party].role == ADM_PROVIDER && t->parties[party].endpoint_broker == b;
}

/* One directive of the example, with this broker's value. `hash` keeps
 * a commented-out line commented. */
static void directive(struct conf *k, const char *hash, const char *word, const char *line)
{
    const struct adm_broker *br = &k->c->t->brokers[k->b];
    const uint16_t ports[3] = {br->bootstrap_port, br->services_port, br->service_port};
    struct adm_text *out = k->text;

    if (strcmp(word, "listener") == 0) {
        k->listener++;
        if (k->listener > 2) {
            k->rc = ONR_EFORMAT;
            snprintf(k->c->why, sizeof(k->c->why), "the example has more than three listeners");
            return;
        }
        adm_text_add(out, "%slistener %u%s%s\n", hash, (unsigned)ports[k->listener],
                     br->bind[0] != '\0' ? " " : "", br->bind);
    } else if (strcmp(word, "certfile") == 0) {
        adm_text_add(out, "%scertfile %s\n", hash, on_host(k, ETC "/broker.pem"));
    } else if (strcmp(word, "keyfile") == 0) {
        adm_text_add(out, "%skeyfile %s\n", hash, on_host(k, ETC "/broker.key"));
    } else if (strcmp(word, "cafile") == 0) {
        adm_text_add(out, "%scafile %s\n", hash,
                     on_host(k, k->listener == 2 ? ETC "/provider-cas.pem"
                                                 : ETC "/services-ca.pem"));
    } else if (strcmp(word, "plugin") == 0) {
        adm_text_add(out, "plugin %s\n", br->plugin[0] != '\0' ? br->plugin : k->c->plugin);
    } else if (strcmp(word, "plugin_opt_broker_name") == 0) {
        adm_text_add(out, "plugin_opt_broker_name %s\n", br->name);
    } else if (strcmp(word, "plugin_opt_broker_cert") == 0) {
        adm_text_add(out, "plugin_opt_broker_cert %s\n", on_host(k, ETC "/broker.pem"));
    } else if (strcmp(word, "plugin_opt_services_ca") == 0) {
        adm_text_add(out, "plugin_opt_services_ca %s\n", on_host(k, ETC "/services-ca.pem"));
    } else if (strcmp(word, "plugin_opt_grants_file") == 0) {
        adm_text_add(out, "plugin_opt_grants_file %s\n",
                     on_host(k, "/var/lib/mosquitto/onramp-grants"));
    } else if (strcmp(word, "plugin_opt_sessions_file") == 0) {
        adm_text_add(out, "plugin_opt_sessions_file %s\n",
                     on_host(k, "/var/lib/mosquitto/onramp-sessions"));
    } else if (strcmp(word, "persistence_location") == 0) {
        adm_text_add(out, "persistence_location %s/\n", on_host(k, "/var/lib/mosquitto"));
    } else if (strstr(line, "/etc/") != NULL || strstr(line, "/var/") != NULL) {
        k->rc = ONR_EFORMAT;
        snprintf(k->c->why, sizeof(k->c->why), "the example's '%.200s' names a file "
                                               "onramp-admin does not know", line);
    } else {
        adm_text_add(out, "%s%s\n", hash, line);
    }
}

/* The example's commented-out operational listener and provider CA line:
 * this broker's when providers' devices connect here. */
static int is_operational_line(const char *word)
{
    static const char *const words[] = {"listener", "certfile", "keyfile", "cafile",
                                        "require_certificate", "set_tcp_nodelay"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(word, words[i]) == 0)
            return 1;
    return 0;
}

static void line(struct conf *k, const char *text)
{
    const struct adm_topology *t = k->c->t;
    char word[64];
    int commented = text[0] == '#';
    size_t n = strcspn(text + commented, " \t");

    snprintf(word, sizeof(word), "%.*s", (int)(n < sizeof(word) ? n : sizeof(word) - 1),
             text + commented);
    if (commented && strncmp(word, "plugin_opt_provider_ca_", 23) == 0) {
        if (!k->operational) {
            adm_text_add(k->text, "%s\n", text);
            return;
        }
        for (size_t i = 0; i < t->n_parties; i++) {
            char file[128];

            if (!serves(t, i, k->b))
                continue;
            snprintf(file, sizeof(file), ETC "/provider-ca-%s.pem", t->parties[i].id);
            adm_text_add(k->text, "plugin_opt_provider_ca_%s %s\n", t->parties[i].id,
                         on_host(k, file));
        }
    } else if (commented && is_operational_line(word)) {
        directive(k, k->operational ? "" : "#", word, text + 1);
    } else if (commented || text[0] == '\0') {
        adm_text_add(k->text, "%s\n", text);
    } else {
        directive(k, "", word, text);
    }
}

static int mosquitto_conf(struct conf *k)
{
    const struct adm_topology *t = k->c->t;
    const char *p = adm_asset_mosquitto_conf;

    adm_text_add(k->text,
                 "# Mosquitto with the onramp plugin: broker %s on host %s, written by\n"
                 "# onramp-admin from the plugin's example configuration (every setting\n"
                 "# below is the example's). It replaces Debian's mosquitto.conf and keeps\n"
                 "# its pid_file and log_dest.\n",
                 t->brokers[k->b].name, t->hosts[k->host].name);
    if (t->brokers[k->b].region[0] != '\0')
        adm_text_add(k->text, "# It serves the country of MCC %s (region=).\n",
                     t->brokers[k->b].region);
    adm_text_add(k->text, "pid_file %s\n", on_host(k, "/run/mosquitto/mosquitto.pid"));
    adm_text_add(k->text, "log_dest file %s\n",
                 on_host(k, "/var/log/mosquitto/mosquitto.log"));
    /* the example's opening comment introduces the example: ours replaces it */
    while (*p == '#')
        p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
    while (*p != '\0' && k->rc == ONR_OK) {
        size_t n = strcspn(p, "\n");
        char text[ADM_LINE_MAX];

        if (n >= sizeof(text)) {
            snprintf(k->c->why, sizeof(k->c->why), "the example has a line too long");
            return ONR_EFORMAT;
        }
        memcpy(text, p, n);
        text[n] = '\0';
        line(k, text);
        p += n + (p[n] == '\n');
    }
    return k->rc;
}

static int dropin(struct conf *k)
{
    adm_text_add(k->text,
                 "# mosquitto.service for the onramp plugin, written by onramp-admin\n"
                 "# (broker-plugins/README.md, \"Example configuration\").\n"
                 "[Service]\n"
                 "# No TLS session tickets: nothing resumes, and they cost a third of a\n"
                 "# handshake.\n"
                 "Environment=OPENSSL_CONF=%s\n"
                 "# A descriptor for every device that may be connected at once, and for\n"
                 "# those that never finish TLS (held about 90 s).\n"
                 "LimitNOFILE=%u\n",
                 on_host(k, ETC "/openssl-broker.cnf"), (unsigned)k->c->t->brokers[k->b].nofile);
    return k->rc;
}

/* Rendered text into the host's file `file`. */
static int put_rendered(struct conf *k, const char *file, int (*render)(struct conf *k))
{
    struct adm_text text = {0};
    char path[ADM_PATH];
    int rc;

    k->text = &text;
    k->rc = ONR_OK;
    rc = render(k);
    if (rc == ONR_OK)
        rc = adm_host_path(k->c, k->host, path, "%s", file);
    if (rc == ONR_OK)
        rc = adm_put_text(k->c, path, &text, ONR_FILE_PUBLIC);
    adm_text_free(&text);
    k->text = NULL;
    return rc;
}

/* OUT/`from` to the broker host's `to`. */
static int ship(struct conf *k, const char *from, const char *to, mode_t mode)
{
    char src[ADM_PATH];
    char dst[ADM_PATH];
    int rc = adm_path(k->c, src, "%s", from);

    if (rc == ONR_OK)
        rc = adm_host_path(k->c, k->host, dst, "%s", to);
    if (rc == ONR_OK)
        rc = adm_copy(k->c, src, dst, mode);
    return rc;
}

/* The provider CAs the plugin trusts, one file each and the bundle the
 * operational listener's TLS layer takes. */
static int provider_cas(struct conf *k)
{
    struct adm_ctx *c = k->c;
    const struct adm_topology *t = c->t;
    struct adm_text bundle = {0};
    char from[128];
    char to[128];
    char path[ADM_PATH];
    int rc = ONR_OK;

    for (size_t i = 0; i < t->n_parties && rc == ONR_OK; i++) {
        uint8_t *pem = NULL;
        size_t len = 0;

        if (!serves(t, i, k->b))
            continue;
        snprintf(from, sizeof(from), "keys/provider/%s/provider-ca.pem", t->parties[i].id);
        snprintf(to, sizeof(to), ETC "/provider-ca-%s.pem", t->parties[i].id);
        rc = ship(k, from, to, ONR_FILE_PUBLIC);
        if (rc == ONR_OK)
            rc = adm_host_path(c, k->host, path, "%s", to);
        if (rc == ONR_OK)
            rc = onr_file_read(path, 64 * 1024, 0, &pem, &len);
        if (rc == ONR_OK)
            adm_text_add(&bundle, "%s", (const char *)pem);
        else
            adm_failed(c, path, rc);
        free(pem);
    }
    if (rc == ONR_OK && k->operational)
        rc = adm_host_path(c, k->host, path, ETC "/provider-cas.pem");
    if (rc == ONR_OK && k->operational)
        rc = adm_put_text(c, path, &bundle, ONR_FILE_PUBLIC);
    adm_text_free(&bundle);
    return rc;
}

/* The broker's certificate and key, the CAs, the OpenSSL settings. */
static int tls_files(struct conf *k)
{
    const char *name = k->c->t->brokers[k->b].name;
    char from[128];
    char dir[ADM_PATH];
    int rc = adm_host_path(k->c, k->host, dir, ETC);

    if (rc == ONR_OK)
        rc = adm_dir(k->c, dir, 0700);
    snprintf(from, sizeof(from), "keys/broker/%s/broker.pem", name);
    if (rc == ONR_OK)
        rc = ship(k, from, ETC "/broker.pem", ONR_FILE_PUBLIC);
    snprintf(from, sizeof(from), "keys/broker/%s/broker.key", name);
    if (rc == ONR_OK)
        rc = ship(k, from, ETC "/broker.key", ONR_FILE_SECRET);
    if (rc == ONR_OK)
        rc = ship(k, "admin/services-ca.pem", ETC "/services-ca.pem", ONR_FILE_PUBLIC);
    if (rc == ONR_OK)
        rc = provider_cas(k);
    if (rc == ONR_OK)
        rc = adm_host_path(k->c, k->host, dir, ETC "/openssl-broker.cnf");
    if (rc == ONR_OK)
        rc = adm_put(k->c, dir, adm_asset_openssl_broker_cnf,
                     strlen(adm_asset_openssl_broker_cnf), ONR_FILE_PUBLIC);
    return rc;
}

/* With --local the broker runs from OUT: the directories Debian's
 * packaging and mosquitto.service would make. */
static int local_dirs(struct conf *k)
{
    static const char *const dirs[] = {"/var/lib/mosquitto", "/run/mosquitto",
                                       "/var/log/mosquitto"};
    char dir[ADM_PATH];
    int rc = ONR_OK;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == ONR_OK && k->c->local; i++) {
        rc = adm_host_path(k->c, k->host, dir, "%s", dirs[i]);
        if (rc == ONR_OK)
            rc = adm_dir(k->c, dir, 0755);
    }
    return rc;
}

int adm_broker_files(struct adm_ctx *c, size_t b)
{
    struct conf k = {.c = c, .b = b, .host = c->t->brokers[b].host, .listener = -1};
    int rc;

    for (size_t i = 0; i < c->t->n_parties; i++)
        k.operational |= serves(c->t, i, b);
    rc = tls_files(&k);
    if (rc == ONR_OK)
        rc = put_rendered(&k, "/etc/mosquitto/mosquitto.conf", mosquitto_conf);
    if (rc == ONR_OK)
        rc = put_rendered(&k, "/etc/systemd/system/mosquitto.service.d/onramp.conf", dropin);
    if (rc == ONR_OK)
        rc = local_dirs(&k);
    return rc;
}
