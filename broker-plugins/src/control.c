/*
 * $CONTROL/onramp/v1: operators grant and revoke devices' access to their
 * provider's topic (proto/SPEC.md section 11, types 20 and 21); providers
 * revoke their operational devices' certificates (type 27). The sender is
 * the service the TLS certificate names, never what the envelope says. A
 * change is appended to the grants journal at once and applies to live
 * connections at once; the answer waits until the journal is synced on the
 * next tick, so a service never hears "done" for a change a crash could
 * lose.
 */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "map.h"
#include "onramp/envelope.h"
#include "onramp/error.h"

#define RESPONSE_TOPIC ONR_TOPIC_CONTROL_RESPONSE

struct reply {
    struct reply *next;
    char client_id[128];
    uint8_t re[ONR_MSG_ID_LEN];
    int code;          /* ONR_OK or a negative ONR_E code */
    bool after_sync;   /* a change: answer once it is durable */
};

static void send_reply(struct plugin *p, const struct reply *r)
{
    uint8_t buf[512];
    size_t len = 0;
    const char *reason = r->code == ONR_OK ? NULL : onr_strerror(r->code);
    struct onr_msg msg = {.type = ONR_MSG_CONTROL_RESULT};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_BROKER,
        .sender = {(const uint8_t *)p->cfg.broker_name, strlen(p->cfg.broker_name)},
    };
    const struct onr_bytes topic = {(const uint8_t *)RESPONSE_TOPIC,
                                    sizeof(RESPONSE_TOPIC) - 1};

    msg.body.control_result.re = (struct onr_bytes){r->re, sizeof(r->re)};
    /* which journal answered: a service that sees another epoch than the
     * one it brought up to date sends everything in force again */
    msg.body.control_result.epoch = (struct onr_bytes){grants_epoch(p->grants),
                                                       GRANTS_EPOCH_LEN};
    msg.body.control_result.code = (uint64_t)(-r->code);
    if (reason != NULL)
        msg.body.control_result.reason = (struct onr_bytes){(const uint8_t *)reason,
                                                            strlen(reason)};
    if (onr_envelope_encode(&msg, &self, topic, (uint64_t)time(NULL), buf, sizeof(buf), &len,
                            NULL) != ONR_OK)
        return;
    /* To the asking client only: no subscription needed, no READ check. */
    mosquitto_broker_publish_copy(r->client_id, RESPONSE_TOPIC, (int)len, buf, 1, false, NULL);
}

/* Queue an answer (FIFO); answers that need no sync go out on the next
 * tick too, keeping the order a service sent its requests in. */
static void queue_reply(struct plugin *p, const char *client_id, const uint8_t *re, int code,
                        bool after_sync)
{
    struct reply *r = calloc(1, sizeof(*r));
    struct reply **tail = &p->replies;

    if (r == NULL || client_id == NULL || strlen(client_id) >= sizeof(r->client_id)) {
        free(r);
        return; /* the service times out and retries: every change is idempotent */
    }
    strcpy(r->client_id, client_id);
    if (re != NULL)
        memcpy(r->re, re, sizeof(r->re));
    r->code = code;
    r->after_sync = after_sync;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = r;
}

/* Live operational connections with one certificate serial. */
struct cert_match {
    struct plugin *p;
    const char *prov;          /* the revoking provider */
    const uint8_t *serial;     /* trimmed */
    size_t serial_len;
    size_t own;                /* connections with it from prov's CA */
    size_t others;             /* with it from another provider's CA */
    bool revoke;               /* mark prov's and queue their kicks */
};

static void match_cert(const void *key, size_t key_len, void *value, void *arg)
{
    struct conn *c = value;
    struct cert_match *m = arg;

    (void)key;
    (void)key_len;
    if (c->kind != PRINCIPAL_OPERATIONAL || c->serial_len != m->serial_len ||
        memcmp(c->serial, m->serial, m->serial_len) != 0)
        return;
    if (strcmp(c->prov, m->prov) != 0) {
        m->others++;
        return;
    }
    m->own++;
    if (m->revoke) {
        c->revoked = true; /* denied everything from now on (acl.c) */
        limits_kick_queue(m->p, c, "certificate revoked");
    }
}

/*
 * Provider `c` revokes a certificate its CA issued. Recorded keyed by
 * (provider, serial): it can never touch another provider's certificate.
 * Refused when this broker has no CA for the provider, or when the serial
 * is in use here by a certificate from another provider's CA (and not by
 * one of its own). Live connections with it are denied everything at once
 * and disconnected on the next tick.
 */
static int apply_cert_revoke(struct plugin *p, const struct conn *c,
                             const struct onr_msg_cert_revoke *body)
{
    char dev[ONR_DEVID_LEN + 1];
    char hex[2 * GRANTS_SERIAL_MAX + 1];
    size_t serial_len = body->serial.len;
    struct cert_match m = {.p = p, .prov = c->id};
    int rc;

    if (!cert_provider_known(p, c->id))
        return ONR_EDENIED; /* no operational devices of this provider here */
    memcpy(dev, body->dev.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    m.serial = grants_serial_trim(body->serial.ptr, &serial_len);
    m.serial_len = serial_len;
    map_each(p->conns, match_cert, &m);
    if (m.others > 0 && m.own == 0)
        return ONR_EDENIED; /* another provider's certificate */
    rc = grants_cert_revoke(p->grants, c->id, dev, m.serial, m.serial_len, body->not_after);
    if (rc != ONR_OK)
        return rc;
    m.revoke = true;
    m.own = 0;
    map_each(p->conns, match_cert, &m);
    p->stats.revocations++;
    grants_serial_hex(m.serial, m.serial_len, hex);
    plugin_log(MOSQ_LOG_NOTICE, "onramp: certificate revoked provider=%s device=%s serial=%s "
               "connected=%zu", c->id, dev, hex, m.own);
    return ONR_OK;
}

/* Why a grant or revoke of `dev` was refused with ONR_EHELD, for the log:
 * the device and the operator holding its grant (both checked ids). */
static void held_reason(const struct plugin *p, const char *dev, char *why, size_t cap)
{
    const char *holder = grants_operator(p->grants, dev);

    snprintf(why, cap, "grant of %s held by operator %s", dev, holder != NULL ? holder : "?");
}

/* Apply one decoded request from service `c`; ONR_OK or why not (and for
 * ONR_EHELD, the log's reason in `why`). */
static int apply(struct plugin *p, const struct conn *c, const struct onr_envelope *env,
                 char *why, size_t why_cap)
{
    char dev[ONR_DEVID_LEN + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    bool is_cert_revoke = env->msg.type == ONR_MSG_CERT_REVOKE;
    int rc;

    /* Grants and revokes from operators, certificate revocations from
     * providers, each only for itself: an envelope speaking for someone
     * else, or a service asking what its role may not, is refused. */
    if (strcmp(c->role, is_cert_revoke ? "prov" : "op") != 0 ||
        env->sender_role != (is_cert_revoke ? ONR_ROLE_PROVIDER : ONR_ROLE_OPERATOR) ||
        env->sender.len != strlen(c->id) || memcmp(env->sender.ptr, c->id, env->sender.len) != 0)
        return ONR_EDENIED;
    switch (env->msg.type) {
    case ONR_MSG_GRANT:
        memcpy(dev, env->msg.body.grant.dev.ptr, ONR_DEVID_LEN);
        dev[ONR_DEVID_LEN] = '\0';
        memcpy(prov, env->msg.body.grant.prov.ptr, env->msg.body.grant.prov.len);
        prov[env->msg.body.grant.prov.len] = '\0';
        rc = grants_set(p->grants, dev, prov, c->id);
        if (rc == ONR_EHELD)
            held_reason(p, dev, why, why_cap);
        if (rc == ONR_OK) {
            p->stats.grants++;
            plugin_log(MOSQ_LOG_NOTICE, "onramp: grant device=%s provider=%s operator=%s", dev,
                       prov, c->id);
        }
        return rc;
    case ONR_MSG_REVOKE:
        memcpy(dev, env->msg.body.revoke.dev.ptr, ONR_DEVID_LEN);
        dev[ONR_DEVID_LEN] = '\0';
        rc = grants_revoke(p->grants, dev, c->id);
        if (rc == ONR_EHELD)
            held_reason(p, dev, why, why_cap);
        if (rc == ONR_OK) {
            p->stats.revocations++;
            plugin_log(MOSQ_LOG_NOTICE, "onramp: revoke device=%s operator=%s", dev, c->id);
        }
        return rc;
    case ONR_MSG_CERT_REVOKE:
        return apply_cert_revoke(p, c, &env->msg.body.cert_revoke);
    default:
        return ONR_EMSGTYPE;
    }
}

int control_on_message(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_control *ed = event_data;
    struct plugin *p = userdata;
    const char *client_id = mosquitto_client_id(ed->client);
    struct conn *c = conns_get(p, ed->client);
    struct onr_envelope env;
    char why[128] = "";
    int rc;

    (void)event;
    memset(&env, 0, sizeof(env));
    if (c == NULL || !c->may_control) {
        rc = ONR_EDENIED; /* the ACL refuses this first; checked again here */
    } else {
        rc = onr_envelope_decode(ed->payload, ed->payloadlen, &env);
        if (rc == ONR_OK)
            rc = apply(p, c, &env, why, sizeof(why));
    }
    /* Refused: nothing changed (not the journal, not a live connection's
     * rights); one counter, one line within the sender's log budget. */
    if (rc != ONR_OK)
        counters_deny(p, c, ed->client,
                      rc == ONR_EHELD ? &p->stats.grant_conflicts : &p->stats.control_refused,
                      "control", ed->topic, why[0] != '\0' ? why : onr_strerror(rc));
    queue_reply(p, client_id, env.id, rc, rc == ONR_OK);
    return MOSQ_ERR_SUCCESS;
}

void control_flush(struct plugin *p)
{
    int synced = ONR_OK;
    bool needs_sync = false;

    if (p->replies == NULL)
        return;
    for (struct reply *r = p->replies; r != NULL; r = r->next)
        needs_sync |= r->after_sync;
    if (needs_sync) {
        synced = grants_sync(p->grants);
        if (synced != ONR_OK)
            plugin_log(MOSQ_LOG_ERR, "onramp: grants file %s: sync failed and the file "
                                     "could not be rewritten; changes applied but not "
                                     "confirmed", p->cfg.grants_path);
    }
    while (p->replies != NULL) {
        struct reply *r = p->replies;

        p->replies = r->next;
        if (r->after_sync && synced != ONR_OK)
            r->code = synced; /* not durable: the service retries */
        send_reply(p, r);
        free(r);
    }
}

void control_prune(struct plugin *p, bool at_start)
{
    time_t now = time(NULL);
    size_t records = grants_count(p->grants) + grants_cert_revocations(p->grants);
    size_t at_least = at_start ? 1 : (records / 8 > 64 ? records / 8 : 64);
    size_t dropped = 0;
    int rc;

    if (!at_start && now < p->next_prune)
        return;
    p->next_prune = now + PRUNE_INTERVAL;
    rc = grants_cert_prune(p->grants, (uint64_t)now, at_least, &dropped);
    if (rc != ONR_OK)
        plugin_log(MOSQ_LOG_WARNING, "onramp: grants file %s: expired revocations not dropped: "
                   "%s", p->cfg.grants_path, onr_strerror(rc));
    else if (dropped > 0)
        plugin_log(MOSQ_LOG_NOTICE, "onramp: %zu revocations of expired certificates dropped, "
                   "%zu kept", dropped, grants_cert_revocations(p->grants));
}

void control_free(struct plugin *p)
{
    control_flush(p);
}
