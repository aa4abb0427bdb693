/*
 * The voucher step (FACTORY -> VOUCHED): a signed hello with a fresh nonce
 * to the manufacturer, and the voucher it answers (or pushes later) for
 * one of this run's hellos. The check itself is device_check_voucher's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"

void step_voucher_send(struct onr_device *d)
{
    const struct device_trust *t = &d->files.trust;
    struct device_sent *h = device_sent_next(d);
    struct onr_msg msg = {.type = ONR_MSG_HELLO};
    struct device_detail l = {"", 0};
    int rc;

    /* a new nonce for every hello, never one from before a restart: a
     * voucher for an older hello of this run is still taken (it may have
     * been pushed), never one for a nonce not ours */
    rc = onr_random(h->nonce, sizeof(h->nonce));
    msg.body.hello.nonce = ONR_BYTES(h->nonce);
    msg.body.hello.cert = (struct onr_bytes){d->files.cert, d->files.cert_len};
    /* where the device is: its owner's policy chooses the operator there */
    if (d->visited[0] != '\0')
        msg.body.hello.plmn = (struct onr_bytes){(const uint8_t *)d->visited, strlen(d->visited)};
    if (rc == ONR_OK)
        rc = device_publish(d, &msg, ONR_ROLE_MANUFACTURER, t->mfr, h->id);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send a hello");
        return;
    }
    h->kind = SENT_HELLO;
    device_sent_keep(d);
    device_put(&l, "manufacturer=%s", t->mfr);
    if (d->visited[0] != '\0')
        device_put(&l, " visited=%s", d->visited);
    device_report(d, "hello", &l);
    device_wait_answer(d);
}

/* FACTORY -> VOUCHED, or a refusal that changes nothing. */
static void take_voucher(struct onr_device *d, const struct onr_msg_voucher *m)
{
    struct device_journey *j = &d->journey;
    const struct device_sent *h = device_sent_find(d, m->re);
    struct onr_device_voucher v;
    int rc;

    if (h == NULL || h->kind != SENT_HELLO) {
        device_report_code(d, "refused", "voucher", ONR_ENOENT, "answers no hello of this run");
        return;
    }
    if (m->voucher.len > sizeof(j->token)) {
        device_report_code(d, "refused", "voucher", ONR_ELENGTH, onr_strerror(ONR_ELENGTH));
        return;
    }
    rc = device_check_voucher(&d->files.trust, m->voucher.ptr, m->voucher.len, h->nonce,
                              (uint64_t)time(NULL), &v);
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "voucher", rc, onr_strerror(rc));
        return;
    }
    /* durable before anything else happens: the voucher, then the state */
    rc = device_voucher_save(d->dir, m->voucher.ptr, m->voucher.len);
    if (rc == ONR_OK)
        rc = device_state_save(d->dir, ONR_DEVICE_VOUCHED);
    if (rc != ONR_OK) {
        device_give_up(d, rc, "cannot store the voucher"); /* a disk problem: no retry */
        return;
    }
    j->voucher = v;
    memcpy(j->token, m->voucher.ptr, m->voucher.len);
    j->token_len = m->voucher.len;
    device_advance(d, ONR_DEVICE_VOUCHED);
}

void step_voucher_take(struct onr_device *d, const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_VOUCHER)
        take_voucher(d, &env->msg.body.voucher);
    else
        device_report_code(d, "refused", "message", ONR_EMSGTYPE, "not an answer to a hello");
}
