#include "journey.h"

#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "keys.h"
#include "onramp/error.h"
#include "onramp/journey.h"
#include "prov.h"
#include "roaming.h"

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

/* Roaming's part of a status answer (SPEC type 31): the PLMN last
 * reported, the operator whose key we hold and why it is the one for
 * there, the relocations. The strings live in `r`, `k` and `why`. */
static int status_roaming(struct onr_db *db, const struct prov_claim *c,
                          const struct prov_roaming_row *r, struct prov_app_key *k,
                          char why[16], struct onr_msg_status *out)
{
    char op[ONR_SERVICE_ID_MAX + 1];
    enum onr_choice choice = c->user ? ONR_CHOICE_USER : ONR_CHOICE_FALLBACK;
    int rc = prov_app_key_get(db, c->dev, k);

    if (r->plmn[0] != '\0')
        out->plmn = (struct onr_bytes){(const uint8_t *)r->plmn, strlen(r->plmn)};
    if (rc == ONR_ENOENT)
        return ONR_OK; /* no operator yet */
    if (rc != ONR_OK)
        return rc;
    out->op = (struct onr_bytes){(const uint8_t *)k->op, strlen(k->op)};
    /* our own resolution for where it is (no policy: the registration's
     * operator, the user's or our default); another operator than the one
     * it resolves to is one whose relocation is still to come */
    rc = prov_resolve(c, r->plmn, op, &choice);
    if (rc == ONR_OK && strcmp(op, k->op) != 0)
        rc = ONR_ENOOPERATOR;
    if (rc == ONR_OK || rc == ONR_ENOENT) {
        snprintf(why, 16, "%s", onr_choice_name(choice));
        out->why = (struct onr_bytes){(const uint8_t *)why, strlen(why)};
    }
    out->relocations = r->relocations;
    out->relocated = r->relocated_at;
    if (r->prev_op[0] != '\0')
        out->prev_op = (struct onr_bytes){(const uint8_t *)r->prev_op, strlen(r->prev_op)};
    return ONR_OK;
}

int prov_status(struct onr_service *svc, void *arg, const char *dev, struct onr_msg_status *out)
{
    /* what `out` borrows, until the answer is sealed */
    static struct prov_roaming_row r;
    static struct prov_app_key k;
    static char why[16];
    struct onr_db *db = onr_service_db(svc);
    struct prov_journey j;
    struct prov_claim c;
    const char *word;
    int rc;

    (void)arg;
    rc = prov_journey_get(db, dev, &j);
    if (rc == ONR_OK && j.state == PROV_STEP_NONE)
        rc = ONR_ENOENT; /* only a refused pairing: no claim */
    if (rc == ONR_OK)
        rc = prov_claim_get(db, dev, &c);
    if (rc == ONR_OK)
        rc = prov_roaming_get(db, dev, &r);
    if (rc != ONR_OK)
        return rc;
    word = r.target[0] != '\0' ? onr_journey_said(ONR_JOURNEY_RELOCATING)
                               : prov_step_name(j.state);
    memset(out, 0, sizeof(*out));
    out->state = (struct onr_bytes){(const uint8_t *)word, strlen(word)};
    out->claimed = j.at[PROV_STEP_CLAIMED];
    out->attached = j.at[PROV_STEP_ATTACHED];
    out->enrolled = j.at[PROV_STEP_ENROLLED];
    out->aligned = j.aligned;
    out->operational = j.at[PROV_STEP_OPERATIONAL];
    rc = prov_cert_expires(db, dev, &out->cert_expires);
    if (rc != ONR_OK)
        return rc;
    return status_roaming(db, &c, &r, &k, why, out);
}

struct telemetry {
    const struct prov *p;
    struct prov_claim *c;
    const struct onr_telemetry *t; /* NULL: not a report (the first form, or not ours) */
};

/* The first telemetry of an enrolled device marks it operational; a
 * report (plmn, nonce) is kept and may start a relocation. */
static int take_telemetry(struct onr_service *svc, void *arg, struct onr_answer *answer)
{
    struct telemetry *t = arg;
    struct onr_db *db = onr_service_db(svc);
    uint64_t now = onr_service_now(svc);
    char dev[ONR_DEVID_LEN + 1];
    int rc;

    /* read again, locked, in the transaction (lifecycle.h); the id copied
     * first: the read clears the claim it fills */
    memcpy(dev, t->c->dev, sizeof(dev));
    rc = prov_claim_get_locked(db, dev, t->c);
    if (rc == ONR_OK)
        rc = prov_device_step(db, t->c, PROV_TELEMETRY, 1, now);
    if (rc != ONR_OK || t->t == NULL)
        return rc;
    rc = prov_reported(db, t->c->dev, t->t->plmn, now);
    return rc == ONR_OK ? prov_relocation_consider(svc, t->p, t->c, t->t, answer) : rc;
}

int prov_on_telemetry(struct onr_service *svc, const char *topic, const uint8_t *payload,
                      size_t len, void *arg)
{
    static const char leaf[] = ONR_TOPIC_TELEMETRY;
    struct onr_db *db = onr_service_db(svc);
    struct onr_topic parsed;
    const char *dev = parsed.dev;
    struct onr_telemetry report;
    struct prov_claim c;
    struct telemetry t = {arg, &c, NULL};
    enum prov_step was;
    int rc;

    if (onr_topic_parse(topic, strnlen(topic, ONR_TOPIC_MAX + 1), &parsed) != ONR_OK ||
        parsed.kind != ONR_TOPIC_KIND_OPERATIONAL ||
        strcmp(parsed.svc, onr_service_id(svc)) != 0 || parsed.rest.len != sizeof(leaf) - 1 ||
        memcmp(parsed.rest.ptr, leaf, parsed.rest.len) != 0)
        return ONR_EFORMAT;
    rc = prov_claim_get(db, dev, &c);
    if (rc == ONR_ENOENT || (rc == ONR_OK && c.state < PROV_STEP_CLAIMED))
        return ONR_EDENIED; /* not a device of ours */
    if (rc != ONR_OK)
        return rc;
    /* any telemetry says the device is up; only a well-formed report of
     * this very device (SPEC section 14) says where it is */
    if (onr_telemetry_decode(payload, len, &report) == ONR_OK && report.reported &&
        strcmp(report.dev, dev) == 0)
        t.t = &report;
    if (t.t == NULL && c.state != PROV_STEP_ENROLLED)
        return ONR_OK; /* operational before: telemetry keeps coming, and changes nothing */
    was = c.state;
    rc = onr_service_transact(svc, take_telemetry, &t);
    if (rc == ONR_OK && was == PROV_STEP_ENROLLED && c.state == PROV_STEP_OPERATIONAL)
        onr_log(ONR_LOG_NOTICE, "operational dev=%s account=%s", dev, c.account);
    return rc;
}
