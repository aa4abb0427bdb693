/* storage postgres: each party's own role and database on the database
 * host, the role's password made once (OUT/keys/ROLE/ID/database.password)
 * and given to the service's host next to its configuration, whose
 * `database` names both (README, "PostgreSQL and several instances"). */
#include "admin.h"

#include <stdio.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

#define PASSWORD_BYTES 32

static void render(const struct adm_topology *t, size_t i, const char *password,
                   struct adm_text *out)
{
    const struct adm_party *p = &t->parties[i];
    const char *host = t->hosts[t->storage.host].name;
    unsigned port = t->storage.port;

    /* ids are [a-z0-9._-] and the password hex: nothing to escape */
    adm_text_add(out,
                 "-- The PostgreSQL role and database of %s %s, written by onramp-admin\n"
                 "-- (storage postgres). SECRET (0600): it holds the role's password,\n"
                 "-- which the service reads from its /etc/onramp/%s/database.password.\n"
                 "-- Run it on %s as the database superuser, e.g.\n"
                 "--   runuser -u postgres -- psql -v ON_ERROR_STOP=1 -p %u < postgres.sql\n"
                 "-- (psql: \\gexec); running it again changes nothing. pg_hba.conf must let\n"
                 "-- the role log in with it from the service's host (`hostssl onramp_%s\n"
                 "-- onramp_%s ADDRESS scram-sha-256`). The schema is the service's: it\n"
                 "-- migrates it.\n"
                 "SELECT 'CREATE ROLE \"onramp_%s\" LOGIN'\n"
                 "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onramp_%s')\\gexec\n"
                 "ALTER ROLE \"onramp_%s\" LOGIN PASSWORD '%s';\n"
                 "SELECT 'CREATE DATABASE \"onramp_%s\" OWNER \"onramp_%s\" ENCODING ''UTF8'''\n"
                 "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'onramp_%s')"
                 "\\gexec\n"
                 "REVOKE ALL ON DATABASE \"onramp_%s\" FROM PUBLIC;\n",
                 adm_role_name(p->role), p->id, p->id, host, port, p->id, p->id, p->id, p->id,
                 p->id, password, p->id, p->id, p->id, p->id);
}

/* The database host as the services reach it: its DNS name, address, or
 * else its name (resolved on the services' hosts). */
static const char *db_address(const struct adm_host *h)
{
    if (h->dns[0] != '\0')
        return h->dns;
    return h->address[0] != '\0' ? h->address : h->name;
}

int adm_database_lines(struct adm_ctx *c, size_t i, struct adm_text *out)
{
    const struct adm_topology *t = c->t;
    const struct adm_party *p = &t->parties[i];
    const struct adm_host *db = &t->hosts[t->storage.host];
    char password[ADM_PATH];
    int rc = adm_conf_path(c, p->host, password, "/etc/onramp/%s/database.password", p->id);

    if (rc != ONR_OK)
        return rc;
    adm_text_add(out,
                 "# storage postgres: its own role and database on host %s (README,\n"
                 "# \"PostgreSQL and several instances of a service\")\n"
                 "database postgresql:host=%s port=%u dbname=onramp_%s user=onramp_%s\n"
                 "database_password_file %s\n",
                 db->name, db_address(db),
                 (unsigned)t->storage.port, p->id, p->id, password);
    return ONR_OK;
}

/* Party `i`'s password (made once) on its service's host; into `password`. */
static int password_file(struct adm_ctx *c, size_t i, char *password)
{
    char dir[ADM_PATH];
    char from[ADM_PATH];
    int rc = adm_key_dir(c, i, dir);

    if (rc == ONR_OK)
        rc = adm_join(c, from, dir, "database.password");
    if (rc == ONR_OK)
        rc = adm_secret_hex(c, from, PASSWORD_BYTES, password);
    if (rc == ONR_OK)
        rc = adm_ship(c, i, "database.password", "/etc/onramp"); /* secret: 0600 */
    return rc;
}

int adm_storage_files(struct adm_ctx *c)
{
    const struct adm_topology *t = c->t;
    char password[2 * PASSWORD_BYTES + 1];
    char path[ADM_PATH];
    int rc = ONR_OK;

    if (!t->storage.postgres)
        return ONR_OK;
    for (size_t i = 0; i < t->n_parties && rc == ONR_OK; i++) {
        struct adm_text text = {0};

        if (t->parties[i].role > ADM_OPERATOR)
            continue;
        rc = password_file(c, i, password);
        if (rc == ONR_OK)
            rc = adm_host_path(c, t->storage.host, path, "/etc/onramp/%s", t->parties[i].id);
        if (rc == ONR_OK)
            rc = adm_dir(c, path, 0700);
        if (rc == ONR_OK)
            rc = adm_host_path(c, t->storage.host, path, "/etc/onramp/%s/postgres.sql",
                               t->parties[i].id);
        if (rc == ONR_OK) {
            render(t, i, password, &text);
            rc = adm_put_text(c, path, &text, ONR_FILE_SECRET);
        }
        if (text.buf != NULL)
            onr_wipe(text.buf, text.len);
        adm_text_free(&text);
    }
    onr_wipe(password, sizeof(password));
    return rc;
}
