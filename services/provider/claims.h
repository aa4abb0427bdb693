/*
 * The provider's claims: which of its accounts claimed which device, with
 * which operator, and how far registering it with its manufacturer got.
 * A claim is "registering" until the manufacturer confirms, then
 * "claimed"; a refused registration removes it (a claim with a wrong
 * secret leaves nothing behind). Also the application keys operators send
 * for attached devices.
 */
#ifndef ONRAMP_PROV_CLAIMS_H
#define ONRAMP_PROV_CLAIMS_H

#include <stdint.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/sealed.h"
#include "onramp/svc_db.h"

/* 2: the operational and web_refusals tables (prov_claims_upgrade) */
#define PROV_CLAIMS_VERSION 2
#define PROV_ACCOUNT_MAX 64

extern const char prov_claims_schema[];

/* prov_claims_upgrade: bring a database made by an earlier version (1) to
 * PROV_CLAIMS_VERSION: its missing tables are created (idempotent; at
 * start, outside any transaction). ONR_OK or the database's error. */
int prov_claims_upgrade(struct onr_db *db);

enum prov_claim_state { PROV_CLAIM_REGISTERING = 0, PROV_CLAIM_CLAIMED = 1 };

struct prov_claim {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char account[PROV_ACCOUNT_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    enum prov_claim_state state;
    uint8_t pairing_id[ONR_MSG_ID_LEN];       /* the pairing to answer */
    char asker[ONR_SERVICE_ID_MAX + 1];       /* the control tool that asked, or
                                                 PROV_ASKER_WEB */
    uint8_t registration_id[ONR_MSG_ID_LEN];  /* our registration in flight */
};

/* The asker of a pairing made on the provider's own page (page.c): not a
 * service id (those never start with '@'), so never a control tool's. */
#define PROV_ASKER_WEB "@web"

/* prov_claim_get: ONR_OK with the claim on `dev`, or ONR_ENOENT. */
int prov_claim_get(struct onr_db *db, const char *dev, struct prov_claim *out);
/* prov_claim_by_registration: the claim whose registration `id` is. */
int prov_claim_by_registration(struct onr_db *db, const uint8_t id[ONR_MSG_ID_LEN],
                               struct prov_claim *out);
/* prov_claim_put: insert or replace the claim on c->dev. */
int prov_claim_put(struct onr_db *db, const struct prov_claim *c, uint64_t now);
/* prov_claim_confirm: registering -> claimed. */
int prov_claim_confirm(struct onr_db *db, const char *dev, uint64_t now);
/* prov_claim_drop: forget a claim the manufacturer refused. */
int prov_claim_drop(struct onr_db *db, const char *dev);
/* prov_device_forget: a released device: its claim, key, alignment,
 * operational mark and any refusal noted for the page. */
int prov_device_forget(struct onr_db *db, const char *dev);

/* A release in flight: sent to the manufacturer and the operator (as the
 * envelopes mfr_msg and op_msg), answered to the control tool `asker`
 * once the manufacturer confirms. */
struct prov_release {
    char dev[ONR_DEVID_LEN + 1];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    char asker[ONR_SERVICE_ID_MAX + 1];
    uint8_t request_id[ONR_MSG_ID_LEN];
    uint8_t mfr_msg[ONR_MSG_ID_LEN];
    uint8_t op_msg[ONR_MSG_ID_LEN];
    int mfr_done;
    int op_done;
};
int prov_release_put(struct onr_db *db, const struct prov_release *r, uint64_t now);
/* prov_release_answered: the manufacturer (from_mfr) or the operator
 * answered our release envelope `re`: marked done, the release in `out`.
 * ONR_ENOENT if `re` is no release of ours, ONR_EEXIST if that side had
 * answered before. */
int prov_release_answered(struct onr_db *db, const uint8_t re[ONR_MSG_ID_LEN], int from_mfr,
                          struct prov_release *out);
/* prov_releases_due: unconfirmed releases last sent before `before`. */
int prov_releases_due(struct onr_db *db, uint64_t before, struct prov_release *out, size_t max,
                      size_t *n);
/* prov_release_resent: new envelopes went out (either id may be NULL). */
int prov_release_resent(struct onr_db *db, const char *dev, const uint8_t *mfr_msg,
                        const uint8_t *op_msg, uint64_t now);

/* The latest application key of an attached device, as its operator sealed
 * it to us, and its subscription. */
struct prov_app_key {
    char dev[ONR_DEVID_LEN + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    char imsi[16];
    char iccid[21];
};

/* prov_app_key_put: store `k`, replacing the device's older one. */
int prov_app_key_put(struct onr_db *db, const struct prov_app_key *k, uint64_t now);
/* prov_app_key_get: the device's key, or ONR_ENOENT. */
int prov_app_key_get(struct onr_db *db, const char *dev, struct prov_app_key *out);

/* Alignment (step 5): the policy sent to operator `op` for `dev` as the
 * envelope `id` (a new operator starts unconfirmed again); confirmed when
 * the operator answers that envelope (ONR_ENOENT otherwise); and up to
 * `max` (at most 16) unconfirmed ones last sent before `before`, with
 * their keys' subscriptions. */
int prov_alignment_sent(struct onr_db *db, const char *dev, const char *op,
                        const uint8_t id[ONR_MSG_ID_LEN], uint64_t now);
int prov_alignment_confirmed(struct onr_db *db, const char *dev, const char *op,
                             const uint8_t id[ONR_MSG_ID_LEN], uint64_t now);
int prov_alignments_due(struct onr_db *db, uint64_t before, struct prov_app_key *out,
                        size_t max, size_t *n);

/* A claimed device's first telemetry on our service broker: the device is
 * operational. prov_operational_put records `now` unless it was recorded
 * before (ONR_EEXIST then, nothing written). */
int prov_operational_put(struct onr_db *db, const char *dev, uint64_t now);

/* The manufacturer's refusal of a pairing made on the page, for the page
 * to show (a control tool hears it instead): one per device, the latest.
 * `reason` is copied (at most 127 bytes kept). prov_web_refusal_get:
 * ONR_OK with the reason (`cap` bytes) and its time, or ONR_ENOENT. */
int prov_web_refusal_put(struct onr_db *db, const char *dev, const char *reason, uint64_t now);
int prov_web_refusal_get(struct onr_db *db, const char *dev, char *reason, size_t cap,
                         uint64_t *at);

#endif /* ONRAMP_PROV_CLAIMS_H */
