#include "journey.h"

#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "onramp/error.h"

int prov_journey_get(struct onr_db *db, const char *dev, struct prov_journey *out)
{
    static const char sql[] =
        "SELECT c.mfr, c.operator, c.account, c.state, c.created_at, c.claimed_at,"
        " (SELECT received_at FROM app_keys WHERE dev = ?1),"
        " (SELECT issued_at FROM certificates WHERE dev = ?1 AND revoked_at IS NULL),"
        " (SELECT operational_at FROM operational WHERE dev = ?1),"
        " (SELECT aligned_at FROM alignments WHERE dev = ?1)"
        " FROM claims c WHERE c.dev = ?1";
    uint64_t *at = out->at;
    uint64_t refused_at = 0;
    int state = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->dev, sizeof(out->dev), "%s", dev);
    rc = onr_db_get(db, sql, ONR_DB_ARGS(ONR_DB_STR(dev)),
                    ONR_DB_COLS(ONR_DB_OUT_TEXT(out->mfr), ONR_DB_OUT_TEXT(out->op),
                                ONR_DB_OUT_TEXT(out->account), ONR_DB_OUT_INT(&state),
                                ONR_DB_OUT_U64(&at[PROV_STEP_REGISTERING]),
                                ONR_DB_OUT_U64(&at[PROV_STEP_CLAIMED]),
                                ONR_DB_OUT_U64(&at[PROV_STEP_ATTACHED]),
                                ONR_DB_OUT_U64(&at[PROV_STEP_ENROLLED]),
                                ONR_DB_OUT_U64(&at[PROV_STEP_OPERATIONAL]),
                                ONR_DB_OUT_U64(&out->aligned)));
    if (rc == ONR_OK) {
        if (state <= PROV_STEP_NONE || state >= PROV_STEP_COUNT)
            return ONR_EIO;
        out->state = (enum prov_step)state;
        /* a step past the state (a revoked certificate's operational
         * mark) is not shown */
        for (int i = state + 1; i < PROV_STEP_COUNT; i++)
            at[i] = 0;
        return ONR_OK;
    }
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
    return prov_cert_expires(onr_service_db(svc), dev, &out->cert_expires);
}

struct telemetry {
    struct prov_claim *c;
    uint64_t now;
};

static int operational(struct onr_db *db, void *arg)
{
    struct telemetry *t = arg;

    return prov_device_step(db, t->c, PROV_TELEMETRY, 1, t->now);
}

int prov_on_telemetry(struct onr_service *svc, const char *topic, const uint8_t *payload,
                      size_t len, void *arg)
{
    static const char leaf[] = ONR_TOPIC_TELEMETRY;
    struct onr_db *db = onr_service_db(svc);
    struct onr_topic parsed;
    const char *dev = parsed.dev;
    struct prov_claim c;
    struct telemetry t = {&c, onr_service_now(svc)};
    int rc;

    (void)payload; /* its content is the device's: any telemetry says it is up */
    (void)len;
    (void)arg;
    if (onr_topic_parse(topic, strnlen(topic, ONR_TOPIC_MAX + 1), &parsed) != ONR_OK ||
        parsed.kind != ONR_TOPIC_KIND_OPERATIONAL ||
        strcmp(parsed.svc, onr_service_id(svc)) != 0 || parsed.rest.len != sizeof(leaf) - 1 ||
        memcmp(parsed.rest.ptr, leaf, parsed.rest.len) != 0)
        return ONR_EFORMAT;
    rc = prov_claim_get(db, dev, &c);
    if (rc == ONR_ENOENT || (rc == ONR_OK && c.state < PROV_STEP_CLAIMED))
        return ONR_EDENIED; /* not a device of ours */
    if (rc != ONR_OK || c.state != PROV_STEP_ENROLLED)
        return rc; /* operational before: telemetry keeps coming, and changes nothing */
    rc = onr_db_in_transaction(db, operational, &t);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "operational dev=%s account=%s", dev, c.account);
    return rc;
}
