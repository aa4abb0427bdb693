/* Every party's files on its host: its TLS certificate and key and the
 * services CA in /etc/onramp/ID/, its own keys in /var/lib/onramp/ID/
 * (where its database lives too), its configuration and its peers; a
 * manufacturer's mint.sh. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"

/* The manufacturer's material, as onr_mfr_material_ensure made it. */
static const char *const material[] = {
    "device-ca.key", "device-ca.pem", "device-ca.pub", "service.key",  "service.pub",
    "voucher.key",   "voucher.pub",   "sealing.key",   "sealing.pub",
};
static const char *const provider_files[] = {"service.key", "sealing.key", "provider-ca.key",
                                             "provider-ca.pem"};
static const char *const operator_files[] = {"service.key", "op.hex"};

static mode_t mode_for(const char *name)
{
    size_t n = strlen(name);

    return (n > 4 && strcmp(name + n - 4, ".pem") == 0) ||
                   (n > 4 && strcmp(name + n - 4, ".pub") == 0)
               ? ONR_FILE_PUBLIC
               : ONR_FILE_SECRET;
}

/* keys/ROLE/ID/NAME to DIR/ID/NAME on the party's host. */
int adm_ship(struct adm_ctx *c, size_t i, const char *name, const char *dir)
{
    const struct adm_party *p = &c->t->parties[i];
    char keys[ADM_PATH];
    char from[ADM_PATH];
    char to[ADM_PATH];
    int rc = adm_key_dir(c, i, keys);

    if (rc == ONR_OK)
        rc = adm_join(c, from, keys, name);
    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, to, "%s/%s/%s", dir, p->id, name);
    if (rc == ONR_OK)
        rc = adm_copy(c, from, to, mode_for(name));
    return rc;
}

static int ship_all(struct adm_ctx *c, size_t i, const char *const *names, size_t n)
{
    int rc = ONR_OK;

    for (size_t k = 0; k < n && rc == ONR_OK; k++)
        rc = adm_ship(c, i, names[k], "/var/lib/onramp");
    return rc;
}

/* /etc/onramp/ID (0700) and, for a service, /var/lib/onramp/ID (0700, in
 * /var/lib/onramp 0700 as the units' StateDirectoryMode). */
static int private_dirs(struct adm_ctx *c, size_t i)
{
    const struct adm_party *p = &c->t->parties[i];
    char dir[ADM_PATH];
    int rc = adm_host_path(c, p->host, dir, "/etc/onramp/%s", p->id);

    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    if (rc != ONR_OK || p->role > ADM_OPERATOR)
        return rc;
    rc = adm_host_path(c, p->host, dir, "/var/lib/onramp");
    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, dir, "/var/lib/onramp/%s", p->id);
    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    return rc;
}

static int service_conf(struct adm_ctx *c, size_t i)
{
    const struct adm_party *p = &c->t->parties[i];
    struct adm_text text = {0};
    char path[ADM_PATH];
    int rc = adm_render_service(c, i, &text);

    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, path, "/etc/onramp/%s/%s.conf", p->id,
                           adm_role_name(p->role));
    if (rc == ONR_OK)
        rc = adm_put_text(c, path, &text, ONR_FILE_SECRET);
    adm_text_free(&text);
    return rc;
}

/* The material's manufacturer.conf, which onramp-factory mint reads: as
 * made, or with storage postgres its registry in the manufacturer's
 * database (the service's `database` lines in place of the SQLite file). */
static int material_conf(struct adm_ctx *c, size_t i)
{
    static const char sqlite[] = "database manufacturer.db\n";
    const struct adm_party *p = &c->t->parties[i];
    struct adm_text text = {0};
    char dir[ADM_PATH];
    char path[ADM_PATH];
    uint8_t *conf = NULL;
    size_t len = 0;
    const char *at;
    int rc;

    if (!c->t->storage.postgres)
        return adm_ship(c, i, "manufacturer.conf", "/var/lib/onramp");
    rc = adm_key_dir(c, i, dir);
    if (rc == ONR_OK)
        rc = adm_join(c, path, dir, "manufacturer.conf");
    if (rc == ONR_OK) {
        rc = onr_file_read(path, 64 * 1024, 1, &conf, &len);
        if (rc != ONR_OK)
            return adm_failed(c, path, rc);
    }
    if (rc != ONR_OK)
        return rc;
    at = strstr((const char *)conf, sqlite);
    if (at == NULL) {
        snprintf(c->why, sizeof(c->why), "%.900s: no `%.24s` line to point at PostgreSQL",
                 path, sqlite);
        rc = ONR_EFORMAT;
    } else {
        adm_text_add(&text, "%.*s", (int)(at - (const char *)conf), (const char *)conf);
        rc = adm_database_lines(c, i, &text);
        adm_text_add(&text, "%s", at + strlen(sqlite));
    }
    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, path, "/var/lib/onramp/%s/manufacturer.conf", p->id);
    if (rc == ONR_OK)
        rc = adm_put_text(c, path, &text, ONR_FILE_SECRET);
    adm_text_free(&text);
    free(conf);
    return rc;
}

/* /etc/onramp/ID/mint.sh: onramp-factory mint for manufacturer `i` with
 * every bootstrap broker of the topology and their CA (the services CA,
 * which issues the brokers' certificates). */
static int mint_script(struct adm_ctx *c, size_t i)
{
    const struct adm_topology *t = c->t;
    const struct adm_party *p = &t->parties[i];
    struct adm_text text = {0};
    char dir[ADM_PATH];
    char ca[ADM_PATH];
    char self[ADM_PATH];
    char path[ADM_PATH];
    int rc = adm_conf_path(c, p->host, dir, "/var/lib/onramp/%s", p->id);

    if (rc == ONR_OK)
        rc = adm_conf_path(c, p->host, ca, "/etc/onramp/%s/services-ca.pem", p->id);
    if (rc == ONR_OK)
        rc = adm_conf_path(c, p->host, self, "/etc/onramp/%s/mint.sh", p->id);
    if (rc != ONR_OK)
        return rc;
    /* paths go into the script in single quotes (names and hosts are
     * checked words already) */
    if (strchr(dir, '\'') != NULL || strchr(ca, '\'') != NULL) {
        snprintf(c->why, sizeof(c->why), "%.900s: a path with a quote cannot go into mint.sh",
                 dir);
        return ONR_EINVAL;
    }
    adm_text_add(&text,
                 "#!/bin/sh\n"
                 "# Mint devices of manufacturer %s for every bootstrap broker of the\n"
                 "# fabric, written by onramp-admin (it writes it again when the brokers\n"
                 "# change). On host %s, as the service's user:\n"
                 "#   sudo -u onramp %s --out DIR [--count N] [--qr]\n"
                 "# (onramp-factory mint --help). Each device's device.conf lists these\n"
                 "# brokers; a device starts at a random one and moves to the next when\n"
                 "# one fails (onramp-device --help).\n",
                 p->id, t->hosts[p->host].name, self);
    for (size_t b = 0; b < t->n_brokers; b++)
        adm_text_add(&text, "#   broker %s on host %s%s%s\n", t->brokers[b].name,
                     t->hosts[t->brokers[b].host].name,
                     t->brokers[b].region[0] != '\0' ? ", region " : "", t->brokers[b].region);
    adm_text_add(&text, "exec onramp-factory mint --manufacturer '%s' \\\n", dir);
    for (size_t b = 0; b < t->n_brokers; b++) {
        const struct adm_host *h = &t->hosts[t->brokers[b].host];

        adm_text_add(&text, "  --broker %s %s %u \\\n", t->brokers[b].name,
                     h->dns[0] != '\0' ? h->dns : h->address,
                     (unsigned)t->brokers[b].bootstrap_port);
    }
    adm_text_add(&text, "  --broker-ca '%s' \"$@\"\n", ca);
    rc = adm_host_path(c, p->host, path, "/etc/onramp/%s/mint.sh", p->id);
    if (rc == ONR_OK)
        rc = adm_put_text(c, path, &text, 0755);
    adm_text_free(&text);
    return rc;
}

static int party_files(struct adm_ctx *c, size_t i)
{
    const struct adm_party *p = &c->t->parties[i];
    const char *role = adm_role_name(p->role);
    char from[ADM_PATH];
    char to[ADM_PATH];
    char name[64];
    int rc = private_dirs(c, i);

    if (rc == ONR_OK)
        rc = adm_path(c, from, "admin/services-ca.pem");
    if (rc == ONR_OK)
        rc = adm_host_path(c, p->host, to, "/etc/onramp/%s/services-ca.pem", p->id);
    if (rc == ONR_OK)
        rc = adm_copy(c, from, to, ONR_FILE_PUBLIC);
    snprintf(name, sizeof(name), "%s.pem", role);
    if (rc == ONR_OK)
        rc = adm_ship(c, i, name, "/etc/onramp");
    snprintf(name, sizeof(name), "%s.key", role);
    if (rc == ONR_OK)
        rc = adm_ship(c, i, name, "/etc/onramp");
    if (rc != ONR_OK)
        return rc;
    switch (p->role) {
    case ADM_MANUFACTURER:
        rc = ship_all(c, i, material, sizeof(material) / sizeof(material[0]));
        if (rc == ONR_OK)
            rc = material_conf(c, i);
        if (rc == ONR_OK)
            rc = mint_script(c, i);
        break;
    case ADM_PROVIDER:
        rc = ship_all(c, i, provider_files, sizeof(provider_files) / sizeof(provider_files[0]));
        break;
    case ADM_OPERATOR:
        rc = ship_all(c, i, operator_files, sizeof(operator_files) / sizeof(operator_files[0]));
        break;
    case ADM_MONITOR:
        rc = adm_exporter_conf(c, i);
        return rc == ONR_OK ? adm_tool_peers(c, i) : rc;
    case ADM_CONTROL:
    case ADM_ROLES:
        return adm_tool_peers(c, i);
    }
    if (rc == ONR_OK)
        rc = service_conf(c, i);
    if (rc == ONR_OK)
        rc = adm_instance_units(c, i);
    return rc;
}

int adm_hosts(struct adm_ctx *c)
{
    char dir[ADM_PATH];
    int rc = adm_path(c, dir, "hosts");

    if (rc == ONR_OK)
        rc = adm_dir(c, dir, 0700);
    /* each host's directory is its root: the mode / has */
    for (size_t h = 0; h < c->t->n_hosts && rc == ONR_OK; h++) {
        rc = adm_path(c, dir, "hosts/%s", c->t->hosts[h].name);
        if (rc == ONR_OK)
            rc = adm_dir(c, dir, 0755);
    }
    for (size_t i = 0; i < c->t->n_parties && rc == ONR_OK; i++)
        rc = party_files(c, i);
    for (size_t b = 0; b < c->t->n_brokers && rc == ONR_OK; b++)
        rc = adm_broker_files(c, b);
    if (rc == ONR_OK)
        rc = adm_storage_files(c);
    return rc;
}
