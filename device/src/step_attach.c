/*
 * The attach step (PROFILED -> NETWORK_ATTACHED, proto/SPEC.md section
 * 13; in a relocation RELOCATION_PROFILED -> RELOCATED, with the new
 * profile and its own sequence numbers in next/): UMTS AKA with the
 * operator's AuC. The first challenge comes with the profile
 * (step_profile.c hands it here); a device that lost it, or attaches
 * again, names its IMSI in an attach request for another. The
 * USIM checks the challenge (MAC-A, then SQN freshness) and answers RES,
 * AUTS (the operator resynchronises and challenges again) or a MAC
 * failure; the operator's result carries the AKMA-style kid, which the
 * device derives too from CK || IK before storing kid and K_AF.
 *
 * CK and IK live only in the ring entry of the response that carried RES,
 * until the result (or the step's end) wipes them.
 */
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"

int device_take_challenge(const struct device_profile *p, const char *dir,
                          const uint8_t rand[ONR_AKA_RAND_LEN],
                          const uint8_t autn[ONR_AKA_AUTN_LEN], uint8_t res[ONR_AKA_RES_LEN],
                          uint8_t ck[ONR_AKA_KEY_LEN], uint8_t ik[ONR_AKA_KEY_LEN],
                          uint8_t auts[ONR_AKA_AUTS_LEN], uint64_t *sqn)
{
    struct onr_aka_sqn_store store;
    int rc;

    if (p == NULL || dir == NULL || rand == NULL || autn == NULL || res == NULL || ck == NULL ||
        ik == NULL || auts == NULL || sqn == NULL)
        return ONR_EINVAL;
    rc = device_sqn_load(dir, &store);
    if (rc == ONR_OK)
        rc = onr_aka_usim(&p->sub, &store, rand, autn, res, ck, ik, auts, sqn);
    /* the new SQN is durable before RES leaves: a replay after a power
     * cut is still refused */
    if (rc == ONR_OK && device_sqn_save(dir, &store) != ONR_OK)
        rc = ONR_EIO;
    if (rc != ONR_OK) {
        onr_wipe(res, ONR_AKA_RES_LEN);
        onr_wipe(ck, ONR_AKA_KEY_LEN);
        onr_wipe(ik, ONR_AKA_KEY_LEN);
    }
    if (rc != ONR_EREPLAY)
        onr_wipe(auts, ONR_AKA_AUTS_LEN);
    return rc;
}

/* Where a successful attach's keys go, and what else it stores: the
 * onboarding's, or a relocation's (the switch's commit). */
static int store_result(const char *dir, enum device_slot slot, const struct device_akma *akma)
{
    char files[DEVICE_PATH_MAX + 200];
    struct onr_aka_sqn_store store;

    if (device_slot_dir(dir, slot, files, sizeof(files)) != ONR_OK ||
        device_akma_save(files, akma) != ONR_OK)
        return ONR_EIO;
    if (slot == DEVICE_CURRENT) {
        /* a service key an earlier journey left is not this one's to enroll */
        return device_service_key_remove(dir) == ONR_OK &&
                       device_state_save(dir, ONR_DEVICE_NETWORK_ATTACHED) == ONR_OK
                   ? ONR_OK
                   : ONR_EIO;
    }
    /* the service key stays; the new profile's sequence numbers are there
     * to move up with it (written before RES, but say it), then commit */
    return device_sqn_load(files, &store) == ONR_OK && device_sqn_save(files, &store) == ONR_OK &&
                   device_state_save(dir, ONR_DEVICE_RELOCATED) == ONR_OK
               ? ONR_OK
               : ONR_EIO;
}

int device_take_result(const struct device_profile *p, const char *prov,
                       const uint8_t ck[ONR_AKA_KEY_LEN], const uint8_t ik[ONR_AKA_KEY_LEN],
                       const uint8_t kid[ONR_AKMA_KID_LEN], const char *dir,
                       enum device_slot slot, struct device_akma *out)
{
    uint8_t k_akma[ONR_AKMA_KEY_LEN];
    int rc;

    memset(out, 0, sizeof(*out));
    if (p == NULL || prov == NULL || ck == NULL || ik == NULL || kid == NULL || dir == NULL)
        return ONR_EINVAL;
    rc = onr_akma_derive(ck, ik, p->imsi, out->kid, k_akma);
    if (rc == ONR_OK && !onr_equal_ct(out->kid, kid, ONR_AKMA_KID_LEN))
        rc = ONR_EAUTH; /* the operator's run is not the one we answered */
    if (rc == ONR_OK)
        rc = onr_akma_af_key(k_akma, prov, out->k_af);
    onr_wipe(k_akma, sizeof(k_akma));
    /* durable before anything else happens: the keys, then the state */
    if (rc == ONR_OK)
        rc = store_result(dir, slot, out);
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    return rc;
}

void step_attach_send(struct onr_device *d)
{
    struct device_net net;
    struct device_sent *s = device_sent_next(d);
    struct onr_msg msg = {.type = ONR_MSG_ATTACH_REQUEST};
    struct device_detail l = {"", 0};
    int rc;

    device_net(d, &net);
    msg.body.attach_request.imsi =
        (struct onr_bytes){(const uint8_t *)net.profile->imsi, strlen(net.profile->imsi)};
    rc = device_publish(d, &msg, ONR_ROLE_OPERATOR, net.voucher->op, s->id);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send an attach request");
        return;
    }
    s->kind = SENT_ATTACH_REQUEST;
    device_sent_keep(d);
    device_put(&l, "operator=%s imsi=%s", net.voucher->op, net.profile->imsi);
    device_report(d, "attach", &l);
    device_wait_answer(d);
}

/* The attach response to challenge `rand`: result RES with `res` (CK, IK
 * and the challenge's `sqn` kept for the result), SYNC_FAILURE with
 * `auts`, or MAC_FAILURE. */
static int respond(struct onr_device *d, const uint8_t *rand, enum onr_attach_result result,
                   const uint8_t *res, const uint8_t *auts, const uint8_t *ck, const uint8_t *ik,
                   uint64_t sqn)
{
    struct device_sent *s = device_sent_next(d);
    struct onr_msg msg = {.type = ONR_MSG_ATTACH_RESPONSE};
    struct device_net net;
    int rc;

    device_net(d, &net);
    msg.body.attach_response.rand = (struct onr_bytes){rand, ONR_AKA_RAND_LEN};
    msg.body.attach_response.result = result;
    if (res != NULL)
        msg.body.attach_response.res = (struct onr_bytes){res, ONR_AKA_RES_LEN};
    if (auts != NULL)
        msg.body.attach_response.auts = (struct onr_bytes){auts, ONR_AKA_AUTS_LEN};
    rc = device_publish(d, &msg, ONR_ROLE_OPERATOR, net.voucher->op, s->id);
    if (rc != ONR_OK)
        return rc;
    s->kind = result == ONR_ATTACH_RES            ? SENT_RES
              : result == ONR_ATTACH_SYNC_FAILURE ? SENT_SYNC_FAILURE
                                                  : SENT_MAC_FAILURE;
    if (result == ONR_ATTACH_RES) {
        memcpy(s->ck, ck, ONR_AKA_KEY_LEN);
        memcpy(s->ik, ik, ONR_AKA_KEY_LEN);
        s->sqn = sqn;
    }
    device_sent_keep(d);
    return ONR_OK;
}

/* The USIM's answer to challenge (`rand`, `autn`), sent; `again`: the
 * challenge answers our resynchronisation, so a second one refused is the
 * end of the attempt. */
static void answer(struct onr_device *d, const uint8_t *rand, const uint8_t *autn, int again)
{
    struct device_net net;
    uint8_t res[ONR_AKA_RES_LEN];
    uint8_t ck[ONR_AKA_KEY_LEN];
    uint8_t ik[ONR_AKA_KEY_LEN];
    uint8_t auts[ONR_AKA_AUTS_LEN];
    uint64_t sqn = 0;
    int rc;

    device_net(d, &net);
    rc = device_take_challenge(net.profile, net.dir, rand, autn, res, ck, ik, auts, &sqn);
    switch (rc) {
    case ONR_OK:
        rc = respond(d, rand, ONR_ATTACH_RES, res, NULL, ck, ik, sqn);
        if (rc == ONR_OK) {
            device_report(d, "challenge", NULL);
            device_wait_answer(d);
        }
        break;
    case ONR_EREPLAY:
        rc = respond(d, rand, ONR_ATTACH_SYNC_FAILURE, NULL, auts, NULL, NULL, 0);
        if (rc == ONR_OK)
            device_report(d, "resync", NULL);
        /* a network that does not resynchronise is a failed attempt, so
         * the exchange cannot go on for ever */
        if (rc == ONR_OK && again)
            device_failed_connected(d, ONR_EREPLAY, "the network did not resynchronise");
        else if (rc == ONR_OK)
            device_wait_answer(d);
        break;
    case ONR_EBADMAC:
        /* not our network, or not our profile: say so, then try again later */
        rc = respond(d, rand, ONR_ATTACH_MAC_FAILURE, NULL, NULL, NULL, NULL, 0);
        device_report_code(d, "refused", "challenge", ONR_EBADMAC,
                           "MAC-A does not verify: not from our network");
        if (rc == ONR_OK)
            device_failed_connected(d, ONR_EBADMAC, "a challenge not from our network");
        break;
    case ONR_EIO:
    case ONR_EFORMAT:
        device_give_up(d, rc, "cannot read or store the sequence numbers (sqn)");
        rc = ONR_OK;
        break;
    default:
        device_failed(d, rc, "cannot run the challenge");
        rc = ONR_OK;
        break;
    }
    if (rc != ONR_OK)
        device_failed(d, rc, "cannot send an attach response");
    onr_wipe(res, sizeof(res));
    onr_wipe(ck, sizeof(ck));
    onr_wipe(ik, sizeof(ik));
    onr_wipe(auts, sizeof(auts));
}

void step_attach_answer(struct onr_device *d, const uint8_t *rand, const uint8_t *autn)
{
    answer(d, rand, autn, 0);
}

static void take_challenge(struct onr_device *d, const struct onr_msg_attach_challenge *m)
{
    const struct device_sent *s = device_sent_find(d, m->re);

    /* a challenge answers an attach request or a resynchronisation */
    if (s == NULL || (s->kind != SENT_ATTACH_REQUEST && s->kind != SENT_SYNC_FAILURE)) {
        device_report_code(d, "refused", "challenge", ONR_ENOENT,
                           "answers no attach request of this run");
        return;
    }
    answer(d, m->rand.ptr, m->autn.ptr, s->kind == SENT_SYNC_FAILURE);
}

/* The attach response with RES to the challenge of the highest SQN this
 * run answered, or NULL. */
static const struct device_sent *highest_res(const struct onr_device *d)
{
    size_t n = d->n_sent < DEVICE_SENT_KEPT ? d->n_sent : DEVICE_SENT_KEPT;
    const struct device_sent *best = NULL;

    for (size_t i = 1; i <= n; i++) {
        const struct device_sent *s = &d->sent[(d->n_sent - i) % DEVICE_SENT_KEPT];

        if (s->kind == SENT_RES && (best == NULL || s->sqn > best->sqn))
            best = s;
    }
    return best;
}

int device_attach_superseded(const struct onr_device *d, const struct device_sent *s)
{
    return s != NULL && s->kind == SENT_RES && s != highest_res(d);
}

/* PROFILED -> NETWORK_ATTACHED (RELOCATION_PROFILED -> RELOCATED, then
 * the switch), or a refusal that changes nothing. */
static void take_result(struct onr_device *d, const struct onr_msg_attach_result *m)
{
    struct device_sent *s = device_sent_find(d, m->re);
    struct device_net net;
    struct device_akma akma;
    int rc;

    device_net(d, &net);
    if (s == NULL || s->kind != SENT_RES) {
        device_report_code(d, "refused", "result", ONR_ENOENT,
                           "answers no attach response of this run");
        return;
    }
    if (device_attach_superseded(d, s)) {
        /* Two runs crossed: an attach request repeated over a reconnect
         * (libmosquitto resends it, and the step asks again) got two
         * challenges, and both were answered. The operator keeps the keys
         * of the run of the highest SQN it checked, whichever order the
         * challenges came in and the responses are checked in (several
         * instances): only the result to our response of the highest SQN
         * names the run it keeps. */
        onr_wipe(s->ck, sizeof(s->ck));
        onr_wipe(s->ik, sizeof(s->ik));
        s->kind = SENT_NONE;
        device_report_code(d, "refused", "result", ONR_ESTALE,
                           "answers an attach response of a lower SQN than another sent");
        return;
    }
    rc = device_take_result(net.profile, net.voucher->prov, s->ck, s->ik, m->kid.ptr, d->dir,
                            net.slot, &akma);
    /* one result per run: CK and IK are not needed again */
    onr_wipe(s->ck, sizeof(s->ck));
    onr_wipe(s->ik, sizeof(s->ik));
    s->kind = SENT_NONE; /* spent: nothing answers it any more */
    if (rc == ONR_EIO) {
        device_give_up(d, rc, "cannot store the attach keys"); /* a disk problem */
        return;
    }
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "result", rc,
                           rc == ONR_EAUTH ? "kid is not the one this run derives"
                                           : onr_strerror(rc));
        return;
    }
    if (net.slot == DEVICE_NEXT) {
        onr_wipe(&akma, sizeof(akma)); /* on disk, in next/: the switch moves it up */
        step_relocate_done(d);
        return;
    }
    d->journey.akma = akma;
    onr_wipe(&akma, sizeof(akma));
    device_advance(d, ONR_DEVICE_NETWORK_ATTACHED);
}

void step_attach_take(struct onr_device *d, const struct onr_envelope *env)
{
    switch (env->msg.type) {
    case ONR_MSG_ATTACH_CHALLENGE: take_challenge(d, &env->msg.body.attach_challenge); break;
    case ONR_MSG_ATTACH_RESULT: take_result(d, &env->msg.body.attach_result); break;
    case ONR_MSG_PROFILE: break; /* an answer to a request of the step before: no news */
    default:
        device_report_code(d, "refused", "message", ONR_EMSGTYPE,
                           "not an answer to an attach request or response");
        break;
    }
}
