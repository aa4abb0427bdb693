/*
 * Pairing a kit label (proto/SPEC.md section 18): every device of the kit
 * claimed in one step. The label is checked as a device's, its
 * manufacturer must be one we work with, and no other of our accounts may
 * hold the kit. An account that holds every device of it already is
 * answered at once; otherwise the kit claim is recorded and a kit
 * registration (type 40, the kit's claim secret sealed to the
 * manufacturer) sent as a confirmed message. The manufacturer assigns all
 * or none: its kit_registered makes, in one transaction, a claim on every
 * device for the kit's account and operator and answers the asker
 * kit_paired; its refusal (with the reason it gives) is passed on and the
 * kit claim dropped. A device of the kit claimed meanwhile by another of
 * our accounts refuses the whole kit (EEXIST), and what the registration
 * assigned that no account of ours claims is released at the
 * manufacturer.
 */
#include "prov.h"

#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "keys.h"
#include "kits.h"
#include "lifecycle.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"

/* kit_paired for `k`, answering its pairing. */
static int tell_kit_paired(struct onr_service *svc, const struct prov_kit *k,
                           struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_KIT_PAIRED};
    char devs[ONR_KIT_DEVICES_MAX * ONR_DEVID_LEN];

    for (size_t i = 0; i < k->n_devs; i++)
        memcpy(devs + i * ONR_DEVID_LEN, k->devs[i], ONR_DEVID_LEN);
    msg.body.kit_paired = (struct onr_msg_kit_paired){
        .re = ONR_BYTES(k->pairing_id),
        .kit = {(const uint8_t *)k->kit, ONR_KIT_ID_LEN},
        .mfr = {(const uint8_t *)k->mfr, strlen(k->mfr)},
        .op = {(const uint8_t *)k->op, strlen(k->op)},
        .devs = {(const uint8_t *)devs, k->n_devs * ONR_DEVID_LEN},
    };
    return prov_seal_to_asker(svc, &msg, k->asker, pub);
}

int prov_kit_register(struct onr_service *svc, const struct prov *p, const struct prov_kit *k,
                      const uint8_t sealed[ONR_LABEL_SEALED_LEN], struct onr_answer *answer)
{
    const struct onr_peer *mfr = onr_peer_find(&p->manufacturers, (const uint8_t *)k->mfr,
                                               strlen(k->mfr));
    const struct onr_peer *op = onr_peer_find(&p->operators, (const uint8_t *)k->op,
                                              strlen(k->op));
    uint8_t keys_bin[ONR_OP_KEYS_BIN_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_KIT_REGISTRATION};
    int rc;

    if (mfr == NULL || op == NULL)
        return ONR_ENOENT;
    msg.body.kit_registration = (struct onr_msg_kit_registration){
        .kit = {(const uint8_t *)k->kit, ONR_KIT_ID_LEN},
        .claim = {sealed, ONR_LABEL_SEALED_LEN},
        .op = {(const uint8_t *)op->id, strlen(op->id)},
        .op_key = ONR_BYTES(op->key),
        .user = k->user ? 1 : 0,
    };
    /* the policy as a registration carries it, for every device of the kit */
    rc = prov_policy_fields(&p->operators, k->policy, op->id, keys_bin,
                            &msg.body.kit_registration.policy,
                            &msg.body.kit_registration.op_keys);
    if (rc == ONR_OK)
        rc = onr_topic_in(ONR_ROLE_MANUFACTURER, mfr->id, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    prov_key("kit", k->kit, key, sizeof(key));
    if (answer == NULL) /* due now: the resend tick sends it */
        return onr_delivery_store(onr_service_db(svc), PROV_KIND_KIT_REGISTRATION, mfr->id, key,
                                  &msg, topic, NULL, onr_service_now(svc),
                                  onr_service_now(svc));
    return onr_service_send_confirmed(svc, answer, PROV_KIND_KIT_REGISTRATION, mfr->id, key,
                                      &msg, topic);
}

/*
 * The core of a kit pairing, inside the caller's transaction: ONR_OK with
 * *k filled and *held 0 (its registration added to `answer`), or *held 1
 * (the account holds the kit: answer at once). A refusal returns its code
 * (ONR_EFORMAT, ONR_ECHARSET, ONR_ELENGTH, ONR_EBADMAC, ONR_EINVAL,
 * ONR_ENOENT, ONR_EEXIST) with *why a sentence for the user, and changes
 * nothing; other errors leave *why NULL.
 */
static int pair_kit(struct onr_service *svc, const struct prov *p,
                    const struct prov_pairing *req, struct prov_kit *k,
                    struct onr_answer *answer, int *held, const char **why)
{
    struct onr_db *db = onr_service_db(svc);
    struct onr_kit_label label;
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    struct prov_kit old;
    int rc;

    *why = NULL;
    *held = 0;
    memset(k, 0, sizeof(*k));
    rc = onr_kit_label_decode((const char *)req->label.ptr, req->label.len, &label);
    if (rc != ONR_OK) {
        *why = rc == ONR_EBADMAC ? "label check characters do not match (a typo?)"
                                 : "not an Onramp kit label";
        return rc;
    }
    rc = prov_pairing_check(p, req, label.mfr, why);
    if (rc != ONR_OK)
        goto out;
    snprintf(k->kit, sizeof(k->kit), "%s", label.kit);
    snprintf(k->mfr, sizeof(k->mfr), "%s", label.mfr);
    snprintf(k->account, sizeof(k->account), "%.*s", (int)req->account.len,
             (const char *)req->account.ptr);
    /* operator, end user's choice and policy chosen as for a device */
    snprintf(k->op, sizeof(k->op), "%s", prov_choose_operator(p, req->op, &k->user));
    snprintf(k->policy, sizeof(k->policy), "%s", prov_policy_text(&p->roaming, k->account));
    snprintf(k->asker, sizeof(k->asker), "%s", req->asker);
    memcpy(k->pairing_id, req->id, ONR_MSG_ID_LEN);
    rc = prov_kit_get(db, k->kit, &old);
    if (rc == ONR_OK && strcmp(old.account, k->account) != 0) {
        *why = "the kit was claimed by another account";
        rc = ONR_EEXIST;
        goto out;
    }
    if (rc == ONR_OK) {
        /* paired before: its account, operator and end user's choice
         * stay; the policy is the account's now, as a device's retry */
        snprintf(k->op, sizeof(k->op), "%s", old.op);
        k->user = old.user;
        k->registered = old.registered;
        memcpy(k->devs, old.devs, sizeof(k->devs));
        k->n_devs = old.n_devs;
        rc = prov_kit_held(db, k);
        if (rc < 0)
            goto out;
        *held = rc;
        if (*held) /* no registration: the manufacturer's policy stays */
            snprintf(k->policy, sizeof(k->policy), "%s", old.policy);
    } else if (rc != ONR_ENOENT) {
        goto out;
    }
    rc = onr_kit_claim_seal(onr_peer_find(&p->manufacturers, (const uint8_t *)k->mfr,
                                          strlen(k->mfr))->sealing_key,
                            k->kit, onr_service_id(svc), label.claim, sealed);
    if (rc == ONR_OK)
        rc = prov_kit_put(db, k, sealed, onr_service_now(svc));
    if (rc == ONR_OK && !*held)
        rc = prov_kit_register(svc, p, k, sealed, answer);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "kit pairing kit=%s manufacturer=%s operator=%s user=%s "
                "policy=%s asker=%s%s", k->kit, k->mfr, k->op, k->user ? "yes" : "no",
                k->policy[0] != '\0' ? k->policy : "none", k->asker,
                *held ? " (held already)" : "");
out:
    onr_wipe(&label, sizeof(label));
    onr_wipe(sealed, sizeof(sealed));
    return rc;
}

int prov_kit_decide_pairing(struct onr_service *svc, const struct prov *p,
                            const struct prov_pairing *req, struct onr_answer *answer)
{
    static struct prov_kit k;
    const char *why = NULL;
    int held = 0;
    int rc = pair_kit(svc, p, req, &k, answer, &held, &why);

    if (rc != ONR_OK && why != NULL)
        return prov_tell_error(svc, req->id, req->asker, rc, why, &answer->reply);
    if (rc == ONR_OK && held)
        return tell_kit_paired(svc, &k, &answer->reply);
    return rc; /* the answer comes with the manufacturer's */
}

struct web_kit {
    const struct prov *p;
    const struct prov_pairing *req;
    struct prov_kit k;
    const char *why;
};

static int pair_kit_web(struct onr_service *svc, void *arg, struct onr_answer *answer)
{
    struct web_kit *w = arg;
    int held = 0;

    return pair_kit(svc, w->p, w->req, &w->k, answer, &held, &w->why);
}

int prov_kit_pair_web(struct onr_service *svc, const struct prov *p, struct onr_bytes label,
                      struct onr_bytes account, const char *op, char kit[ONR_KIT_ID_LEN + 1],
                      const char **why)
{
    static struct web_kit w;
    uint8_t id[ONR_MSG_ID_LEN];
    struct prov_pairing req = {label, account, {(const uint8_t *)op, strlen(op)},
                               PROV_ASKER_WEB, id};
    int rc = onr_random(id, sizeof(id));

    memset(&w, 0, sizeof(w));
    w.p = p;
    w.req = &req;
    if (rc == ONR_OK)
        rc = onr_service_transact(svc, pair_kit_web, &w);
    *why = w.why;
    if (rc == ONR_OK)
        memcpy(kit, w.k.kit, ONR_KIT_ID_LEN + 1);
    return rc;
}

/* The kit claim a kit registration row is about ("kit/KIT"). */
static int kit_of(struct onr_service *svc, const struct onr_pending *pending,
                  struct prov_kit *k)
{
    const char *kit = prov_key_subject(pending, "kit");

    return kit != NULL ? prov_kit_get(onr_service_db(svc), kit, k) : ONR_ENOENT;
}

/* The devices of an answer (ids concatenated: the codec checked each
 * one's characters and the total's bounds) into `out`; ONR_ESCHEMA for a
 * length that is no whole count or a device twice. */
static int split_devs(struct onr_bytes b, char out[][ONR_DEVID_LEN + 1], size_t *n)
{
    *n = 0;
    if (b.len % ONR_DEVID_LEN != 0 || b.len / ONR_DEVID_LEN > ONR_KIT_DEVICES_MAX)
        return ONR_ESCHEMA;
    for (size_t i = 0; i < b.len / ONR_DEVID_LEN; i++) {
        memcpy(out[i], b.ptr + i * ONR_DEVID_LEN, ONR_DEVID_LEN);
        out[i][ONR_DEVID_LEN] = '\0';
        for (size_t j = 0; j < i; j++)
            if (strcmp(out[j], out[i]) == 0)
                return ONR_ESCHEMA;
        (*n)++;
    }
    return ONR_OK;
}

/* A device of the kit claimed by another of our accounts: the first. */
static const char *claimed_elsewhere(struct onr_db *db, const struct prov_kit *k, int *rc)
{
    static struct prov_claim c;

    for (size_t i = 0; i < k->n_devs; i++) {
        *rc = prov_claim_get(db, k->devs[i], &c);
        if (*rc == ONR_ENOENT)
            continue;
        if (*rc != ONR_OK)
            return NULL;
        if (strcmp(c.account, k->account) != 0)
            return k->devs[i];
    }
    *rc = ONR_OK;
    return NULL;
}

/* The kit refused for `taken`: the devices the registration assigned that
 * no account of ours claims are released at the manufacturer, the claim
 * dropped, the asker told. */
static int refuse_kit(struct onr_service *svc, const struct prov_kit *k, const char *taken,
                      struct onr_bytes assigned, struct onr_answer *out)
{
    struct onr_db *db = onr_service_db(svc);
    char devs[ONR_KIT_DEVICES_MAX][ONR_DEVID_LEN + 1];
    char topic[ONR_TOPIC_MAX + 1];
    char key[ONR_DELIVERY_KEY_MAX + 1];
    char reason[128];
    struct prov_claim c;
    struct onr_msg msg;
    size_t n = 0;
    int rc = split_devs(assigned, devs, &n);

    if (rc == ONR_OK)
        rc = onr_topic_in(ONR_ROLE_MANUFACTURER, k->mfr, topic, sizeof(topic));
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        rc = prov_claim_get(db, devs[i], &c);
        if (rc == ONR_OK)
            continue; /* one of our accounts' */
        if (rc != ONR_ENOENT)
            break;
        prov_release_msg(devs[i], &msg);
        prov_key("release", devs[i], key, sizeof(key));
        rc = onr_service_send_confirmed(svc, out, PROV_KIND_RELEASE_MFR, k->mfr, key, &msg,
                                        topic);
    }
    if (rc == ONR_OK)
        rc = prov_kit_drop(db, k->kit);
    if (rc != ONR_OK)
        return rc;
    snprintf(reason, sizeof(reason), "device %s of the kit is claimed by another account",
             taken);
    onr_log(ONR_LOG_NOTICE, "kit refused kit=%s dev=%s reason=\"claimed by another account\"",
            k->kit, taken);
    if (strcmp(k->asker, PROV_ASKER_WEB) == 0)
        return prov_web_refusal_put(db, k->kit, reason, onr_service_now(svc));
    return prov_tell_error(svc, k->pairing_id, k->asker, ONR_EEXIST, reason, &out->reply);
}

/* Every device of the kit claimed (claimed: the manufacturer assigned it)
 * for the kit's account, operator and policy; *fresh how many were not. */
static int claim_devices(struct onr_service *svc, const struct prov_kit *k, size_t *fresh)
{
    struct onr_db *db = onr_service_db(svc);
    struct prov_app_key key;
    struct prov_claim c;
    int rc = ONR_OK;

    *fresh = 0;
    for (size_t i = 0; i < k->n_devs && rc == ONR_OK; i++) {
        rc = prov_claim_get(db, k->devs[i], &c);
        if (rc == ONR_OK && c.state >= PROV_STEP_CLAIMED)
            continue; /* the account's already */
        if (rc != ONR_OK && rc != ONR_ENOENT)
            break;
        memset(&c, 0, sizeof(c));
        snprintf(c.dev, sizeof(c.dev), "%s", k->devs[i]);
        snprintf(c.mfr, sizeof(c.mfr), "%s", k->mfr);
        snprintf(c.account, sizeof(c.account), "%s", k->account);
        snprintf(c.op, sizeof(c.op), "%s", k->op);
        c.user = k->user;
        snprintf(c.policy, sizeof(c.policy), "%s", k->policy);
        snprintf(c.asker, sizeof(c.asker), "%s", k->asker);
        memcpy(c.pairing_id, k->pairing_id, ONR_MSG_ID_LEN);
        c.state = PROV_STEP_REGISTERING;
        /* no sealed claim of its own: the kit's label claims it (a policy
         * change cannot register a kit's device again) */
        rc = prov_claim_put(db, &c, NULL, onr_service_now(svc));
        if (rc == ONR_OK)
            rc = prov_app_key_get(db, c.dev, &key);
        if (rc == ONR_OK || rc == ONR_ENOENT)
            rc = prov_device_step(db, &c, PROV_REGISTERED, rc == ONR_OK, onr_service_now(svc));
        if (rc == ONR_OK)
            (*fresh)++;
    }
    return rc;
}

int prov_kit_registered_hook(struct onr_service *svc, const struct onr_pending *pending,
                             const struct onr_envelope *answer, struct onr_answer *out,
                             void *arg)
{
    const struct onr_msg_kit_registered *m = &answer->msg.body.kit_registered;
    struct onr_db *db = onr_service_db(svc);
    static struct prov_kit k;
    const char *taken;
    size_t fresh = 0;
    int was_registered;
    int rc;

    (void)arg;
    rc = kit_of(svc, pending, &k);
    if (rc == ONR_ENOENT)
        return ONR_OK; /* dropped meanwhile */
    if (rc != ONR_OK)
        return rc;
    if (m->kit.len != ONR_KIT_ID_LEN || memcmp(m->kit.ptr, k.kit, ONR_KIT_ID_LEN) != 0)
        return ONR_EDENIED; /* an answer about another kit */
    rc = split_devs(m->devs, k.devs, &k.n_devs);
    if (rc != ONR_OK || k.n_devs < 2)
        return ONR_ESCHEMA;
    taken = claimed_elsewhere(db, &k, &rc);
    if (rc != ONR_OK)
        return rc;
    if (taken != NULL)
        return refuse_kit(svc, &k, taken, m->assigned, out);
    was_registered = k.registered;
    rc = claim_devices(svc, &k, &fresh);
    if (rc == ONR_OK)
        rc = prov_kit_registered(db, &k, onr_service_now(svc));
    if (rc == ONR_OK && was_registered && fresh == 0) {
        /* registered again with a new policy (a pairing of a kit the
         * account holds is answered at once): nobody to tell */
        onr_log(ONR_LOG_NOTICE, "kit registered again kit=%s policy=%s", k.kit,
                k.policy[0] != '\0' ? k.policy : "none");
        return ONR_OK;
    }
    if (rc == ONR_OK && strcmp(k.asker, PROV_ASKER_WEB) != 0)
        rc = tell_kit_paired(svc, &k, &out->reply);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_NOTICE, "kit paired kit=%s manufacturer=%s operator=%s devices=%zu",
                k.kit, k.mfr, k.op, k.n_devs);
    return rc;
}

int prov_kit_registration_refused(struct onr_service *svc, const struct onr_pending *pending,
                                  int code, struct onr_answer *out, void *arg)
{
    const struct onr_envelope *refusal = onr_delivery_refusal(svc);
    struct onr_db *db = onr_service_db(svc);
    static struct prov_kit k;
    char reason[128];
    int rc;

    (void)arg;
    rc = kit_of(svc, pending, &k);
    if (rc == ONR_ENOENT)
        return ONR_DELIVERY_DROP;
    if (rc == ONR_OK)
        rc = prov_kit_held(db, &k);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* the account holds the kit: its registration with a new policy,
         * sent again past a claim rate or a clock off, as a device's */
        if (code == ONR_EBUSY || code == ONR_ESTALE)
            return ONR_DELIVERY_KEEP;
        onr_log(ONR_LOG_WARNING, "kit registration refused kit=%s manufacturer=%s code=%s",
                k.kit, k.mfr, onr_error_name(code));
        return ONR_DELIVERY_DROP;
    }
    /* the manufacturer's reason, when it gives one (a device of the kit
     * that is not free): checked text of at most 128 bytes */
    if (refusal != NULL && refusal->msg.type == ONR_MSG_ERROR &&
        refusal->msg.body.error.reason.len > 0)
        snprintf(reason, sizeof(reason), "%.*s", (int)refusal->msg.body.error.reason.len,
                 (const char *)refusal->msg.body.error.reason.ptr);
    else
        snprintf(reason, sizeof(reason), "the manufacturer refused the kit: %s",
                 onr_strerror(code));
    onr_log(ONR_LOG_NOTICE, "kit pairing refused kit=%s manufacturer=%s code=%d asker=%s",
            k.kit, k.mfr, -code, k.asker);
    /* a kit claim never registered goes; one registered before stays */
    rc = k.registered ? ONR_OK : prov_kit_drop(db, k.kit);
    if (rc == ONR_OK && strcmp(k.asker, PROV_ASKER_WEB) == 0)
        rc = prov_web_refusal_put(db, k.kit, reason, onr_service_now(svc));
    else if (rc == ONR_OK)
        rc = prov_tell_error(svc, k.pairing_id, k.asker, code, reason, &out->reply);
    return rc == ONR_OK ? ONR_DELIVERY_DROP : rc;
}
