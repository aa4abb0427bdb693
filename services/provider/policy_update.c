/*
 * A policy changed (SIGHUP, proto/SPEC.md section 15): every claim whose
 * account's policy is no longer the one its last registration carried is
 * registered again with the new one, so that the manufacturer resolves
 * the device's next hello (or relocation) with it: a device answered
 * ENOOPERATOR gets through without a restart. The registrations are
 * recorded due now and sent by the resend tick, resent until confirmed.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "onramp/error.h"
#include "prov.h"

struct update {
    struct onr_service *svc;
    const struct prov *p;
    size_t queued;
    size_t stuck;
};

/* The claim `dev` registered again with `policy` ("" none). */
static int register_again(struct update *u, const char *dev, const char *policy)
{
    struct onr_db *db = onr_service_db(u->svc);
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    struct prov_claim c;
    int rc = prov_claim_get(db, dev, &c);

    if (rc == ONR_OK)
        rc = prov_claim_sealed(db, dev, sealed);
    if (rc == ONR_ENOENT) {
        u->stuck++; /* paired before the sealed claim was kept */
        onr_log(ONR_LOG_WARNING, "policy not updated dev=%s reason=\"paired by an older "
                "version: pair it again\"", dev);
        return ONR_OK;
    }
    memcpy(c.policy, policy, strnlen(policy, ONR_POLICY_TEXT_MAX));
    c.policy[strnlen(policy, ONR_POLICY_TEXT_MAX)] = '\0';
    if (rc == ONR_OK)
        rc = prov_claim_set_policy(db, dev, policy);
    if (rc == ONR_OK)
        rc = prov_register(u->svc, u->p, &c, sealed, NULL);
    if (rc == ONR_OK) {
        u->queued++;
        onr_log(ONR_LOG_INFO, "registering again dev=%s policy=%s", dev,
                policy[0] != '\0' ? policy : "none");
    }
    return rc;
}

static int update_all(struct onr_db *db, void *arg)
{
    static const char sql[] = "SELECT dev, account, COALESCE(policy, '') FROM claims";
    static char devs[4096][ONR_DEVID_LEN + 1];
    static char policies[4096][ONR_POLICY_TEXT_MAX + 1];
    struct update *u = arg;
    char dev[ONR_DEVID_LEN + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    char policy[ONR_POLICY_TEXT_MAX + 1];
    struct onr_db_rows *rows = NULL;
    size_t n = 0;
    int rc = onr_db_query(db, sql, ONR_DB_NO_ARGS, &rows);

    /* the claims to change first (bounded per reload: the next reload
     * takes the rest), then each one */
    while (rc == ONR_OK && n < sizeof(devs) / sizeof(devs[0])) {
        const char *now;

        rc = onr_db_next(rows, ONR_DB_COLS(ONR_DB_OUT_TEXT(dev), ONR_DB_OUT_TEXT(account),
                                           ONR_DB_OUT_TEXT(policy)));
        if (rc != ONR_OK)
            break;
        now = prov_policy_text(&u->p->roaming, account);
        if (strcmp(now, policy) == 0)
            continue;
        memcpy(devs[n], dev, sizeof(dev));
        snprintf(policies[n], sizeof(policies[n]), "%s", now);
        n++;
    }
    onr_db_query_end(rows);
    if (rc != ONR_OK && rc != ONR_ENOENT)
        return rc;
    rc = ONR_OK;
    for (size_t i = 0; i < n && rc == ONR_OK; i++)
        rc = register_again(u, devs[i], policies[i]);
    return rc;
}

void prov_policy_update(struct onr_service *svc, const struct prov *p)
{
    struct update u = {svc, p, 0, 0};
    int rc = onr_db_in_transaction(onr_service_db(svc), update_all, &u);

    if (rc != ONR_OK)
        onr_log(ONR_LOG_WARNING, "policies not updated error=%s", onr_error_name(rc));
    else if (u.queued > 0 || u.stuck > 0)
        onr_log(ONR_LOG_NOTICE, "policy changed: claims registered again=%zu not=%zu", u.queued,
                u.stuck);
}
