/*
 * A relocation's start and end (proto/SPEC.md section 16). An operational
 * device's provider hands it, on onr/1/p/{prov}/dev/{dev}/down, a relocate:
 * a voucher from its manufacturer for another operator, answering one of
 * its telemetries. Taken (every check below), it is stored and the device
 * gets a profile from the new operator and attaches with it, as when it
 * onboarded (step_profile.c, step_attach.c, on next/), keeping its own
 * profile, service key and certificate; only once the new attach succeeded
 * does the switch make the new profile the device's. A relocation that
 * keeps failing is abandoned: the device stays on its old profile.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/replay.h"

#define FRESHNESS 300 /* seconds, as for every service envelope */

static int same(struct onr_bytes b, const void *p, size_t len)
{
    return b.len == len && memcmp(b.ptr, p, len) == 0;
}

/* The envelope is a relocate from `v`'s provider, signed with its key for
 * `topic`, fresh and new. */
static int check_envelope(const struct onr_envelope *env, const struct onr_device_voucher *v,
                          const char *topic, uint64_t now, struct onr_replay *replay)
{
    if (env->msg.type != ONR_MSG_RELOCATE)
        return ONR_EMSGTYPE;
    if (env->sender_role != ONR_ROLE_PROVIDER || !same(env->sender, v->prov, strlen(v->prov)))
        return ONR_EDENIED;
    return onr_envelope_verify(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                               v->prov_key, now, FRESHNESS, replay);
}

/* The token's voucher `n` moves the device of voucher `v` on: the same
 * provider, one of its reports, another operator. */
static int check_move(const struct onr_device_voucher *n, const struct onr_device_voucher *v,
                      const char *dir)
{
    struct device_reported reported;
    const char *plmn;
    int rc;

    if (strcmp(n->prov, v->prov) != 0 || memcmp(n->prov_key, v->prov_key, sizeof(v->prov_key)))
        return ONR_EDENIED;
    rc = device_reported_load(dir, &reported);
    if (rc != ONR_OK)
        return rc == ONR_EFORMAT ? rc : ONR_EIO;
    plmn = device_reported_find(&reported, (struct onr_bytes){n->nonce, sizeof(n->nonce)});
    if (plmn == NULL)
        return ONR_ENOENT;
    if (strcmp(n->plmn, plmn) != 0)
        return ONR_EDENIED; /* chosen for another network than the one reported */
    return strcmp(n->op, v->op) != 0 ? ONR_OK : ONR_EEXIST;
}

int device_take_relocate(const struct device_files *f, const struct device_journey *j,
                         const char *dir, const char *topic, const uint8_t *raw, size_t len,
                         uint64_t now, struct onr_replay *replay, struct device_next *next)
{
    struct onr_envelope env;
    struct onr_bytes token;
    int rc;

    if (next != NULL)
        memset(next, 0, sizeof(*next));
    if (f == NULL || j == NULL || dir == NULL || topic == NULL || next == NULL ||
        j->state != ONR_DEVICE_OPERATIONAL)
        return ONR_EINVAL;
    /* hostile until verified: bounded decode first */
    rc = onr_envelope_decode(raw, len, &env);
    if (rc == ONR_OK)
        rc = check_envelope(&env, &j->voucher, topic, now, replay);
    if (rc != ONR_OK)
        return rc;
    token = env.msg.body.relocate.voucher;
    if (token.len > sizeof(next->token))
        return ONR_ELENGTH;
    rc = device_check_voucher(&f->trust, token.ptr, token.len, NULL, now, &next->voucher);
    if (rc == ONR_OK)
        rc = check_move(&next->voucher, &j->voucher, dir);
    if (rc == ONR_OK)
        rc = device_relocation_start(dir, token.ptr, token.len);
    if (rc != ONR_OK) {
        memset(next, 0, sizeof(*next));
        return rc;
    }
    memcpy(next->token, token.ptr, token.len);
    next->token_len = token.len;
    return ONR_OK;
}

static const char *why_refused(int rc)
{
    switch (rc) {
    case ONR_EDENIED:
        return "not from its provider, or a voucher for another device, manufacturer, "
               "provider or network";
    case ONR_EBADSIG: return "a signature does not verify";
    case ONR_ENOENT: return "answers no telemetry the device reported, or keeps";
    case ONR_EEXIST: return "names the operator the device has: nothing to do";
    case ONR_EEXPIRED: return "the voucher has expired";
    default: return onr_strerror(rc);
    }
}

void step_relocate_take(struct onr_device *d, const char *topic, const uint8_t *payload,
                        size_t len)
{
    struct device_next next;
    struct device_detail l = {"", 0};
    int rc;

    rc = device_take_relocate(&d->files, &d->journey, d->dir, topic, payload, len,
                              (uint64_t)time(NULL), d->replay, &next);
    device_release_point_tables(d);
    if (rc == ONR_EIO) {
        device_give_up(d, rc, "cannot store the relocation"); /* a disk problem */
        return;
    }
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "relocate", rc, why_refused(rc));
        return;
    }
    d->journey.next = next;
    onr_wipe(&next, sizeof(next));
    device_put(&l, "operator=%s", d->journey.next.voucher.op);
    if (d->journey.next.voucher.why != 0)
        device_put(&l, " reason=%s", onr_choice_name(d->journey.next.voucher.why));
    if (d->journey.next.voucher.plmn[0] != '\0')
        device_put(&l, " visited=%s", d->journey.next.voucher.plmn);
    device_report(d, "relocate", &l);
    device_enter(d, ONR_DEVICE_RELOCATING);
    device_reconnect(d); /* off the service broker, to a bootstrap broker */
}

void step_relocate_done(struct onr_device *d)
{
    struct device_journey j;
    const char *what = NULL;
    int rc;

    device_enter(d, ONR_DEVICE_RELOCATED);
    rc = device_relocation_commit(d->dir);
    /* read back as at open: the disk is the device's from now on */
    if (rc == ONR_OK)
        rc = device_journey_load(d->dir, &d->files.trust, &j, &what);
    device_release_point_tables(d);
    if (rc != ONR_OK) {
        /* the next open finishes the switch, or says which file is wrong */
        device_give_up(d, rc, "cannot switch to the new profile");
        return;
    }
    device_journey_cleanup(&d->journey);
    d->journey = j;
    onr_wipe(&j, sizeof(j));
    device_enter(d, ONR_DEVICE_OPERATIONAL);
    device_reconnect(d); /* back to the service broker, to report */
}

int step_relocate_expired(struct onr_device *d)
{
    if (d->journey.state != ONR_DEVICE_RELOCATING ||
        d->journey.next.voucher.expires > (uint64_t)time(NULL))
        return 0;
    step_relocate_abandon(d, ONR_EEXPIRED,
                          "the relocation's voucher expired before the new profile came");
    return 1;
}

void step_relocate_abandon(struct onr_device *d, int why, const char *what)
{
    struct device_detail l = {"", 0};
    int rc = device_relocation_abandon(d->dir);

    if (rc != ONR_OK) {
        device_give_up(d, rc, "cannot abandon the relocation");
        return;
    }
    device_put(&l, "attempts=%u", d->failures);
    device_put_code(&l, why);
    device_put_ours(&l, "reason", what);
    device_report(d, "abandoned", &l);
    onr_wipe(&d->journey.next, sizeof(d->journey.next));
    device_enter(d, ONR_DEVICE_OPERATIONAL);
    device_reconnect(d);
}
