#include "journey.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

static const char *const step_names[PROV_STEP_COUNT] = {
    "none", "registering", "claimed", "attached", "enrolled", "operational",
};

static const char *const state_names[PROV_STEP_COUNT] = {
    "UNCLAIMED", "REGISTERING", "CLAIMED", "NETWORK_ATTACHED", "ENROLLED", "OPERATIONAL",
};

const char *prov_step_name(enum prov_step step)
{
    return (unsigned)step < PROV_STEP_COUNT ? step_names[step] : "unknown";
}

const char *prov_state_name(enum prov_step step)
{
    return (unsigned)step < PROV_STEP_COUNT ? state_names[step] : "UNKNOWN";
}

int prov_journey_get(struct onr_db *db, const char *dev, struct prov_journey *out)
{
    static const char sql[] =
        "SELECT c.mfr, c.operator, c.account, c.created_at, c.claimed_at,"
        " (SELECT received_at FROM app_keys WHERE dev = ?1),"
        " (SELECT issued_at FROM certificates WHERE dev = ?1 AND revoked_at IS NULL),"
        " (SELECT operational_at FROM operational WHERE dev = ?1),"
        " (SELECT aligned_at FROM alignments WHERE dev = ?1)"
        " FROM claims c WHERE c.dev = ?1";
    sqlite3_stmt *stmt = NULL;
    uint64_t refused_at = 0;
    int rc = onr_db_prepare(db, sql, &stmt);

    memset(out, 0, sizeof(*out));
    if (rc != ONR_OK)
        return rc;
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    onr_db_bind_text(stmt, 1, dev, strlen(dev));
    rc = onr_db_step(db, stmt);
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 0, out->mfr, sizeof(out->mfr));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 1, out->op, sizeof(out->op));
    if (rc == ONR_OK)
        rc = onr_db_column_text(stmt, 2, out->account, sizeof(out->account));
    if (rc == ONR_OK) {
        /* each step counts once the ones before it are reached */
        for (int i = PROV_STEP_REGISTERING; i < PROV_STEP_COUNT; i++) {
            int64_t at = sqlite3_column_int64(stmt, 3 + (i - PROV_STEP_REGISTERING));

            if (at <= 0)
                break;
            out->at[i] = (uint64_t)at;
            out->state = (enum prov_step)i;
        }
        out->aligned = (uint64_t)sqlite3_column_int64(stmt, 3 + PROV_STEP_COUNT - 1);
    }
    sqlite3_reset(stmt);
    if (rc != ONR_ENOENT)
        return rc;
    rc = prov_web_refusal_get(db, dev, out->reason, sizeof(out->reason), &refused_at);
    out->refused = rc == ONR_OK;
    return rc;
}

int prov_status(struct onr_service *svc, void *arg, const char *dev, struct onr_msg_status *out)
{
    struct prov_journey j;
    const char *word;
    int rc;

    (void)arg;
    rc = prov_journey_get(onr_service_db(svc), dev, &j);
    if (rc == ONR_OK && j.state == PROV_STEP_NONE)
        rc = ONR_ENOENT; /* only a refused pairing: no claim */
    if (rc != ONR_OK)
        return rc;
    word = prov_step_name(j.state);
    memset(out, 0, sizeof(*out));
    out->state = (struct onr_bytes){(const uint8_t *)word, strlen(word)};
    out->claimed = j.at[PROV_STEP_CLAIMED];
    out->attached = j.at[PROV_STEP_ATTACHED];
    out->enrolled = j.at[PROV_STEP_ENROLLED];
    out->aligned = j.aligned;
    out->operational = j.at[PROV_STEP_OPERATIONAL];
    return ONR_OK;
}

int prov_on_telemetry(struct onr_service *svc, const char *topic, const uint8_t *payload,
                      size_t len, void *arg)
{
    static const char tail[] = "/telemetry";
    struct onr_db *db = onr_service_db(svc);
    char prefix[ONR_TOPIC_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    struct prov_claim c;
    size_t n;
    int rc;

    (void)payload; /* its content is the device's: any telemetry says it is up */
    (void)len;
    (void)arg;
    n = (size_t)snprintf(prefix, sizeof(prefix), "onr/1/p/%s/dev/", onr_service_id(svc));
    if (strncmp(topic, prefix, n) != 0 ||
        strnlen(topic, ONR_TOPIC_MAX + 1) != n + ONR_DEVID_LEN + sizeof(tail) - 1 ||
        strcmp(topic + n + ONR_DEVID_LEN, tail) != 0 ||
        onr_devid_check(topic + n, ONR_DEVID_LEN) != ONR_OK)
        return ONR_EFORMAT;
    memcpy(dev, topic + n, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    rc = prov_claim_get(db, dev, &c);
    if (rc == ONR_ENOENT || (rc == ONR_OK && c.state != PROV_CLAIM_CLAIMED))
        return ONR_EDENIED; /* not a device of ours */
    if (rc != ONR_OK)
        return rc;
    rc = prov_operational_put(db, dev, onr_service_now(svc));
    if (rc == ONR_EEXIST)
        return ONR_OK; /* operational before */
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "operational dev=%s account=%s", dev, c.account);
    return rc;
}
