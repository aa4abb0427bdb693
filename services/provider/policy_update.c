/*
 * A policy changed (SIGHUP, proto/SPEC.md section 15): every claim whose
 * account's policy is no longer the one its last registration carried is
 * registered again with the new one, so that the manufacturer resolves
 * the device's next hello (or relocation) with it: a device answered
 * ENOOPERATOR gets through without a restart. A device claimed through
 * its kit has its kit registered again, once for all its devices. The
 * registrations are recorded due now and sent by the resend tick, resent
 * until confirmed.
 */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "kits.h"
#include "onramp/error.h"
#include "prov.h"

struct update {
    struct onr_service *svc;
    const struct prov *p;
    size_t queued;
    size_t stuck;
};

/* Device `dev` claimed through its kit (no sealed claim of its own): the
 * kit registered again with `policy`, once for all its devices, while the
 * account holds every device of it (a kit registration assigns again
 * those released since). ONR_ENOENT: not a kit's, or claimed by an older
 * version. */
static int register_kit_again(struct update *u, const char *dev, const char *policy)
{
    struct onr_db *db = onr_service_db(u->svc);
    static struct prov_kit k;
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    char kit[ONR_KIT_ID_LEN + 1];
    int held = 0;
    int rc = prov_kit_of(db, dev, kit);

    if (rc == ONR_OK)
        rc = prov_kit_get(db, kit, &k);
    if (rc == ONR_OK)
        rc = prov_kit_sealed(db, kit, sealed);
    if (rc == ONR_OK)
        held = prov_kit_held(db, &k);
    if (rc != ONR_OK || held < 0)
        return rc != ONR_OK ? rc : held;
    if (!held) {
        u->stuck++;
        onr_log(ONR_LOG_WARNING, "policy not updated dev=%s kit=%s reason=\"a device of the "
                "kit released: pair the kit again\"", dev, kit);
        return ONR_OK;
    }
    rc = prov_claim_set_policy(db, dev, policy);
    if (rc != ONR_OK || strcmp(k.policy, policy) == 0)
        return rc; /* the kit's registration with it is queued already */
    snprintf(k.policy, sizeof(k.policy), "%.*s", ONR_POLICY_TEXT_MAX, policy);
    rc = prov_kit_set_policy(db, kit, policy);
    if (rc == ONR_OK)
        rc = prov_kit_register(u->svc, u->p, &k, sealed, NULL);
    if (rc == ONR_OK) {
        u->queued++;
        onr_log(ONR_LOG_INFO, "registering kit again kit=%s policy=%s", kit,
                policy[0] != '\0' ? policy : "none");
    }
    return rc;
}

/* Claim `c` registered again with `policy` and its own sealed claim. */
static int register_device_again(struct update *u, struct prov_claim *c,
                                 const uint8_t sealed[ONR_LABEL_SEALED_LEN], const char *policy)
{
    int rc = prov_claim_set_policy(onr_service_db(u->svc), c->dev, policy);

    snprintf(c->policy, sizeof(c->policy), "%.*s", ONR_POLICY_TEXT_MAX, policy);
    if (rc == ONR_OK)
        rc = prov_register(u->svc, u->p, c, sealed, NULL);
    if (rc == ONR_OK) {
        u->queued++;
        onr_log(ONR_LOG_INFO, "registering again dev=%s policy=%s", c->dev,
                policy[0] != '\0' ? policy : "none");
    }
    return rc;
}

/* The claim `dev` registered again with `policy` ("" none). */
static int register_again(struct update *u, const char *dev, const char *policy)
{
    struct onr_db *db = onr_service_db(u->svc);
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    struct prov_claim c;
    int rc = prov_claim_get(db, dev, &c);

    if (rc == ONR_OK)
        rc = prov_claim_sealed(db, dev, sealed);
    if (rc == ONR_ENOENT) /* no sealed claim of its own: its kit's, if any */
        rc = register_kit_again(u, dev, policy);
    else if (rc == ONR_OK)
        rc = register_device_again(u, &c, sealed, policy);
    if (rc == ONR_ENOENT) {
        u->stuck++; /* paired before the sealed claim was kept */
        onr_log(ONR_LOG_WARNING, "policy not updated dev=%s reason=\"paired by an older "
                "version: pair it again\"", dev);
        return ONR_OK;
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
