/* storage postgres: the SQL that makes each party's own role and database
 * on the database host; each service's configuration says how to point
 * its `database` there (README, "PostgreSQL and several instances"). */
#include "admin.h"

#include <stdio.h>

#include "onramp/error.h"

static void render(const struct adm_topology *t, size_t i, struct adm_text *out)
{
    const struct adm_party *p = &t->parties[i];
    const char *host = t->hosts[t->storage.host].name;
    unsigned port = t->storage.port;

    /* ids are [a-z0-9._-]: nothing to escape inside the quotes */
    adm_text_add(out,
                 "-- The PostgreSQL role and database of %s %s, written by onramp-admin\n"
                 "-- (storage postgres). Run it on %s as the database superuser, e.g.\n"
                 "--   runuser -u postgres -- psql -v ON_ERROR_STOP=1 -p %u < postgres.sql\n"
                 "-- (psql: \\gexec); running it again changes nothing. The role has no\n"
                 "-- password: let the service log in with its TLS client certificate\n"
                 "-- (pg_hba.conf `hostssl onramp_%s onramp_%s ADDRESS cert map=onramp`,\n"
                 "-- the map taking CN %s to the role), or give it a password\n"
                 "-- (ALTER ROLE ... PASSWORD) kept in the service's 0600\n"
                 "-- database_password_file. The schema is the service's: it migrates it.\n"
                 "SELECT 'CREATE ROLE \"onramp_%s\" LOGIN'\n"
                 "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onramp_%s')\\gexec\n"
                 "SELECT 'CREATE DATABASE \"onramp_%s\" OWNER \"onramp_%s\" ENCODING ''UTF8'''\n"
                 "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'onramp_%s')"
                 "\\gexec\n"
                 "REVOKE ALL ON DATABASE \"onramp_%s\" FROM PUBLIC;\n",
                 adm_role_name(p->role), p->id, host, port, p->id, p->id, p->id, p->id, p->id,
                 p->id, p->id, p->id, p->id);
}

int adm_storage_files(struct adm_ctx *c)
{
    const struct adm_topology *t = c->t;
    char path[ADM_PATH];
    int rc = ONR_OK;

    if (!t->storage.postgres)
        return ONR_OK;
    for (size_t i = 0; i < t->n_parties && rc == ONR_OK; i++) {
        struct adm_text text = {0};

        if (t->parties[i].role > ADM_OPERATOR)
            continue;
        rc = adm_host_path(c, t->storage.host, path, "/etc/onramp/%s", t->parties[i].id);
        if (rc == ONR_OK)
            rc = adm_dir(c, path, 0700);
        if (rc == ONR_OK)
            rc = adm_host_path(c, t->storage.host, path, "/etc/onramp/%s/postgres.sql",
                               t->parties[i].id);
        render(t, i, &text);
        if (rc == ONR_OK)
            rc = adm_put_text(c, path, &text, ONR_FILE_SECRET);
        adm_text_free(&text);
    }
    return rc;
}
