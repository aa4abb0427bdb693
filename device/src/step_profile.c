/*
 * The profile step (VOUCHED -> PROFILED, or in a relocation RELOCATING ->
 * RELOCATION_PROFILED on next/): a profile request (the voucher, a fresh
 * nonce) to the voucher's operator, and the profile it answers, sealed to
 * this device's sealing key for this device, that operator and that
 * request's nonce. Only the holder of the sealing key can open it, so the
 * request needs no signature. The profile may carry the operator's first
 * attach challenge, which the attach step answers at once.
 */
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/sealed.h"

int device_take_profile(const struct device_files *f, const struct onr_device_voucher *v,
                        const uint8_t nonce[ONR_NONCE_LEN], const uint8_t *sealed,
                        size_t len, const char *dir, enum device_slot slot,
                        struct device_profile *out)
{
    struct onr_msg_profile_content content;
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    size_t plain_len = len > ONR_SEALED_OVERHEAD ? len - ONR_SEALED_OVERHEAD : 0;
    char files[DEVICE_PATH_MAX + 200];
    enum onr_device_state to =
        slot == DEVICE_NEXT ? ONR_DEVICE_RELOCATION_PROFILED : ONR_DEVICE_PROFILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (f == NULL || v == NULL || nonce == NULL || sealed == NULL || dir == NULL ||
        device_slot_dir(dir, slot, files, sizeof(files)) != ONR_OK)
        return ONR_EINVAL;
    rc = onr_sealed_profile_open(f->seal_key, f->trust.dev, v->op, nonce, sealed, len, plain,
                                 sizeof(plain), &content);
    /* what opened is checked as the disk copy will be read back */
    if (rc == ONR_OK)
        rc = device_profile_decode(plain, plain_len, out);
    /* durable before anything else happens: the profile, then the state */
    if (rc == ONR_OK && (device_profile_save(files, plain, plain_len) != ONR_OK ||
                         device_state_save(dir, to) != ONR_OK))
        rc = ONR_EIO;
    if (rc != ONR_OK)
        onr_wipe(out, sizeof(*out));
    onr_wipe(plain, sizeof(plain));
    return rc;
}

void step_profile_send(struct onr_device *d)
{
    struct device_net net;
    struct device_sent *s;
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_REQUEST};
    struct device_detail l = {"", 0};
    int rc;

    if (step_relocate_expired(d))
        return;
    device_net(d, &net);
    s = device_sent_next(d);
    /* a new nonce for every request: the answer opens only with its own */
    rc = onr_random(s->nonce, sizeof(s->nonce));
    msg.body.profile_request.voucher = (struct onr_bytes){net.token, net.token_len};
    msg.body.profile_request.nonce = ONR_BYTES(s->nonce);
    if (rc == ONR_OK)
        rc = device_publish(d, &msg, ONR_ROLE_OPERATOR, net.voucher->op, s->id);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send a profile request");
        return;
    }
    s->kind = SENT_PROFILE_REQUEST;
    device_sent_keep(d);
    device_put(&l, "operator=%s", net.voucher->op);
    device_report(d, "profile", &l);
    device_wait_answer(d);
}

/* VOUCHED -> PROFILED (RELOCATING -> RELOCATION_PROFILED), or a refusal
 * that changes nothing (the answer timeout then asks again). */
static void take_profile(struct onr_device *d, const struct onr_msg_profile *m)
{
    const struct device_sent *s = device_sent_find(d, m->re);
    struct device_net net;
    struct device_profile p;
    int rc;

    device_net(d, &net);
    if (s == NULL || s->kind != SENT_PROFILE_REQUEST) {
        device_report_code(d, "refused", "profile", ONR_ENOENT,
                           "answers no profile request of this run");
        return;
    }
    rc = device_take_profile(&d->files, net.voucher, s->nonce, m->sealed.ptr, m->sealed.len,
                             d->dir, net.slot, &p);
    if (rc == ONR_EIO) {
        device_give_up(d, rc, "cannot store the profile"); /* a disk problem: no retry */
        return;
    }
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "profile", rc,
                           rc == ONR_EDECRYPT ? "does not open: not sealed to this device, "
                                                "operator and request, or tampered"
                                              : onr_strerror(rc));
        return;
    }
    *net.profile = p;
    onr_wipe(&p, sizeof(p));
    if (!device_move(d, net.slot == DEVICE_NEXT ? ONR_DEVICE_RELOCATION_PROFILED
                                                : ONR_DEVICE_PROFILED))
        return;
    /* the operator's first challenge came along: answered at once, no
     * attach request (an operator that sent none gets one) */
    if (m->rand.ptr != NULL)
        step_attach_answer(d, m->rand.ptr, m->autn.ptr);
    else
        step_attach_send(d);
}

void step_profile_take(struct onr_device *d, const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_PROFILE)
        take_profile(d, &env->msg.body.profile);
    else
        device_report_code(d, "refused", "message", ONR_EMSGTYPE,
                           "not an answer to a profile request");
}
