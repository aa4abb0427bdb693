/*
 * Schema migrations (see <onramp/svc_db.h>): the steps a database lacks,
 * run in one transaction with the new version recorded, or nothing.
 * Written against the storage interface alone, so every backend runs the
 * same list.
 */
#include <stdio.h>

#include "db_backend.h"
#include "onramp/error.h"

int db_migrate(struct onr_db *db, const struct onr_db_schema *schema, void *ctx, int from)
{
    int rc;

    if (from == (int)schema->n)
        return ONR_OK;
    rc = onr_db_begin(db);
    if (rc != ONR_OK) {
        db_set_error(db, "cannot upgrade the schema from version %d: %s", from,
                     onr_db_errmsg(db));
        return rc;
    }
    for (size_t v = (size_t)from; v < schema->n; v++) {
        const struct onr_db_migration *step = &schema->steps[v];

        rc = onr_db_exec(db, step->sql);
        if (rc == ONR_OK && step->data != NULL)
            rc = step->data(db, ctx);
        if (rc != ONR_OK) {
            db_set_error(db, "upgrading the schema from version %d: step %zu (%s) failed: %s",
                         from, v + 1, step->what, onr_db_errmsg(db));
            onr_db_rollback(db);
            return rc == ONR_EBUSY ? rc : ONR_EIO;
        }
    }
    rc = db_version_set(db, (int)schema->n);
    if (rc == ONR_OK)
        rc = onr_db_commit(db);
    if (rc != ONR_OK) {
        db_set_error(db, "upgrading the schema from version %d: %s", from, onr_db_errmsg(db));
        onr_db_rollback(db);
    }
    return rc;
}
