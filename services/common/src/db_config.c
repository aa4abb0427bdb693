/*
 * The database a configuration names (<onramp/svc_db.h>): `database`, a
 * SQLite file relative to the configuration or a PostgreSQL connection
 * string, and `database_password_file`, the role's password. Shared by the
 * service skeleton and onramp-factory, which writes the manufacturer's
 * registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/svc_db.h"

/* The password from `database_password_file` (0600, one line; *out NULL
 * when the key is absent: libpq's own sources then). */
static int read_password(const struct onr_config *cfg, uint8_t **out, char *why, size_t why_cap)
{
    const char *value = onr_config_get(cfg, "database_password_file");
    char path[1024];
    size_t len = 0;
    int rc;

    *out = NULL;
    if (value == NULL)
        return ONR_OK;
    rc = onr_config_path(cfg, value, path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_file_read(path, 1024, 1, out, &len);
    if (rc != ONR_OK) {
        snprintf(why, why_cap, "database_password_file %s: %s", path,
                 rc == ONR_EPERM ? "others may read it: chmod 600" : onr_strerror(rc));
        return rc;
    }
    while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
        (*out)[--len] = '\0';
    return ONR_OK;
}

int onr_db_open_config(const struct onr_config *cfg, const char *dflt,
                       const struct onr_db_schema *schema, void *ctx, struct onr_db **out,
                       int *from, char *where, size_t where_cap, char *why, size_t why_cap)
{
    const char *value = onr_config_get(cfg, "database");
    uint8_t *password = NULL;
    int rc = ONR_OK;

    if (value == NULL)
        value = dflt;
    if (value == NULL) {
        snprintf(why, why_cap, "'database' is required");
        return ONR_EINVAL;
    }
    if (onr_db_is_postgres(value)) {
        if ((size_t)snprintf(where, where_cap, "%s", value) >= where_cap)
            rc = ONR_EINVAL;
    } else {
        rc = onr_config_path(cfg, value, where, where_cap);
    }
    if (rc != ONR_OK) {
        snprintf(why, why_cap, "database: too long");
        return rc;
    }
    rc = read_password(cfg, &password, why, why_cap);
    if (rc != ONR_OK)
        return rc;
    rc = onr_db_connect(where, (const char *)password, schema, ctx, out, from, why, why_cap);
    if (password != NULL) {
        onr_wipe(password, strlen((const char *)password));
        free(password);
    }
    return rc;
}
