/*
 * One signed request to a service and the signed answer to it: what the
 * subcommands that ask a service something (pair, release) share. See
 * ctl.h for the contract.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/text.h"
#include "onramp/topic.h"

/* What the message callback needs while we wait. */
struct waiting {
    const struct ctl_request *r;
    struct ctl_answer *answer;
    char inbox[ONR_TOPIC_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN]; /* the request's */
    int done;
};

bool ctl_answer_re(const struct onr_msg *msg, uint8_t re[ONR_MSG_ID_LEN])
{
    struct onr_msg_field f;

    for (size_t i = 0; onr_msg_field_at(msg, i, &f) == ONR_OK; i++)
        if (strcmp(f.key, "re") == 0) {
            if (!f.present || f.kind != ONR_VALUE_BYTES || f.bytes.len != ONR_MSG_ID_LEN)
                return false;
            memcpy(re, f.bytes.ptr, ONR_MSG_ID_LEN);
            return true;
        }
    return false;
}

bool ctl_answer_check(const struct ctl_request *r, const char *inbox,
                      const struct mosquitto_message *m, struct ctl_answer *answer)
{
    struct onr_envelope *env = &answer->env;

    if (m->payloadlen <= 0 || (size_t)m->payloadlen > sizeof(answer->payload) ||
        strcmp(m->topic, inbox) != 0)
        return false;
    memcpy(answer->payload, m->payload, (size_t)m->payloadlen);
    if (onr_envelope_decode(answer->payload, (size_t)m->payloadlen, env) != ONR_OK ||
        env->sender_role != r->peer_role || env->sender.len != strlen(r->peer) ||
        memcmp(env->sender.ptr, r->peer, env->sender.len) != 0 ||
        onr_envelope_verify(env, (struct onr_bytes){(const uint8_t *)m->topic, strlen(m->topic)},
                            r->peer_key, (uint64_t)time(NULL), ONR_ENVELOPE_DEFAULT_WINDOW,
                            NULL) != ONR_OK)
        return false;
    return env->msg.type == r->answer_type || env->msg.type == ONR_MSG_ERROR ||
           (r->also_type != 0 && env->msg.type == r->also_type);
}

/* An answer to our request: from the peer, signed by it for our inbox,
 * fresh, of the awaited type or an error, answering our request's id.
 * Anything else is ignored. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct waiting *w = obj;
    uint8_t re[ONR_MSG_ID_LEN];

    (void)mosq;
    (void)props;
    if (w->done || !ctl_answer_check(w->r, w->inbox, m, w->answer))
        return;
    if (!ctl_answer_re(&w->answer->env.msg, re) || memcmp(re, w->id, ONR_MSG_ID_LEN) != 0)
        return;
    w->done = 1;
}

int ctl_request_sign(const struct ctl_request *r, struct onr_p256_key *key,
                     const struct onr_msg *msg, const char *id, const char *topic, uint8_t *buf,
                     size_t cap, size_t *len, uint8_t msg_id[ONR_MSG_ID_LEN])
{
    int rc = onr_envelope_encode(msg, &(struct onr_envelope_signer){
                                     .role = ONR_ROLE_CONTROL,
                                     .sender = {(const uint8_t *)id, strlen(id)},
                                     .key = key},
                                 (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 (uint64_t)time(NULL), buf, cap, len, msg_id);

    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", r->what, onr_strerror(rc));
        return rc == ONR_EINVAL || rc == ONR_ELENGTH || rc == ONR_ECHARSET ? CTL_EXIT_USAGE
                                                                           : CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* `msg` signed as control `id` with the key in r->signing_key, for
 * `topic`: ctl_request_sign with the key loaded for it. */
static int encode(const struct ctl_request *r, const struct onr_msg *msg, const char *id,
                  const char *topic, uint8_t *buf, size_t cap, size_t *len,
                  uint8_t msg_id[ONR_MSG_ID_LEN])
{
    struct onr_p256_key *key = NULL;
    int rc = onr_p256_load(r->signing_key, &key);

    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", r->signing_key, onr_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    rc = ctl_request_sign(r, key, msg, id, topic, buf, cap, len, msg_id);
    onr_p256_free(key);
    return rc;
}

int ctl_request_topics(const struct ctl_broker *b, const struct ctl_request *r, char id[33],
                       char topic[ONR_TOPIC_MAX + 1], char inbox[ONR_TOPIC_MAX + 1])
{
    int rc;

    /* services only: a control tool asks no other */
    if (r->peer_role == ONR_ROLE_CONTROL ||
        onr_topic_in(r->peer_role, r->peer, topic, ONR_TOPIC_MAX + 1) != ONR_OK)
        return CTL_EXIT_USAGE;
    rc = ctl_identity(b, id);
    if (rc == ONR_OK && onr_topic_in(ONR_ROLE_CONTROL, id, inbox, ONR_TOPIC_MAX + 1) != ONR_OK)
        rc = ONR_ECERT; /* its CN is no service id */
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", b->cert, onr_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_request(const struct ctl_broker *b, const struct ctl_request *r,
                const struct onr_msg *msg, struct ctl_answer *answer)
{
    struct waiting w = {.r = r, .answer = answer};
    struct mosquitto *mosq = NULL;
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len = 0;
    char id[33];
    char topic[ONR_TOPIC_MAX + 1];
    time_t deadline;
    int mrc;
    int rc;

    rc = ctl_request_topics(b, r, id, topic, w.inbox);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = encode(r, msg, id, topic, buf, sizeof(buf), &len, w.id);
    if (rc != CTL_EXIT_OK)
        goto out;
    mosq = ctl_connect(b, &w);
    if (mosq == NULL) {
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    mosquitto_message_v5_callback_set(mosq, on_message);
    /* Subscribe first: the answer may come at once. QoS 1, and the
     * publish follows the SUBSCRIBE on the same connection, so the broker
     * has the subscription when the service answers. */
    mrc = mosquitto_subscribe_v5(mosq, NULL, w.inbox, 1, 0, NULL);
    if (mrc == MOSQ_ERR_SUCCESS)
        mrc = mosquitto_publish_v5(mosq, NULL, topic, (int)len, buf, 1, false, NULL);
    if (mrc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: %s\n", mosquitto_strerror(mrc));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    deadline = time(NULL) + b->timeout;
    while (!w.done && time(NULL) < deadline)
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (!w.done)
        fprintf(stderr, "onrampctl: no answer from %s %s within %d s\n",
                onr_role_name((int)r->peer_role), r->peer, b->timeout);
    rc = w.done ? CTL_EXIT_OK : CTL_EXIT_FAIL;
out:
    ctl_disconnect(mosq);
    onr_wipe(buf, sizeof(buf)); /* a request may carry a secret (a label's claim) */
    return rc;
}

void ctl_print_refusal(const struct onr_msg_error *e)
{
    char reason[ONR_TEXT_ESCAPE_CAP(256)];

    /* the reason is the service's text: it may not forge a field */
    printf("refused code=%s reason=%s\n", onr_error_name(-(int)e->code),
           onr_text_escape(e->reason.ptr, e->reason.len, reason, sizeof(reason)));
}
