/*
 * Exactly-once handling and what is said after it: handle_once (dedup by
 * the sender and message id, decide, the answer stored with the state,
 * commit, then publish), the answer's bounded extras, work that no message
 * asked for (transact), refusals answered at once, and publishing, which
 * waits for the burst's commit while one is open (group commit).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/topic.h"
#include "processed.h"
#include "service_internal.h"

#define OUTBOX_KEEP (24 * 3600) /* seconds duplicates are answered from the outbox */

struct onr_publication *onr_answer_extra(struct onr_answer *a)
{
    struct onr_publication *pub;

    if (a->n_extra == ONR_SERVICE_MAX_EXTRA)
        return NULL;
    pub = &a->extra[a->n_extra++];
    memset(pub, 0, sizeof(*pub));
    return pub;
}

int onr_answer_refuse(struct onr_service *svc, struct onr_answer *answer,
                      const struct onr_envelope *env, int code, const char *topic)
{
    int rc = onr_service_error(svc, env, code, topic, &answer->reply);

    if (rc == ONR_OK)
        answer->refusal = code;
    return rc;
}

int svc_publish_qos(const char *topic)
{
    struct onr_topic t;

    if (onr_topic_parse(topic, strlen(topic), &t) == ONR_OK && t.kind == ONR_TOPIC_KIND_DOWN)
        return 0;
    return 1;
}

int svc_publish_now(struct onr_service *svc, uint32_t mask, int qos, const char *topic,
                    const uint8_t *payload, size_t len)
{
    int rc = ONR_EIO;

    if (svc->transport.publish == NULL) {
        onr_log(ONR_LOG_WARNING, "not published topic=%s reason=no broker connection", topic);
        return ONR_EIO;
    }
    for (size_t i = 0; i < svc->n_brokers; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (!svc->brokers[i].connected) {
            onr_log(ONR_LOG_INFO, "not published broker=%s topic=%s reason=disconnected",
                    svc->brokers[i].name, topic);
            continue;
        }
        if (svc->transport.publish(svc->transport.ctx, i, qos, topic, payload, len) == ONR_OK)
            rc = ONR_OK;
    }
    return rc;
}

static int publish_at(struct onr_service *svc, const struct onr_publication *pub, int qos)
{
    uint32_t mask;

    if (pub->len == 0)
        return ONR_OK;
    /* where it goes is decided now, while the message it answers is known */
    mask = svc_route_mask(svc, pub->brokers, pub->topic);
    /* while a batch is open nothing may be said before its commit */
    if (batch_is_open(svc->batch))
        return batch_hold(svc->batch, mask, qos, pub->topic, pub->payload, pub->len);
    return svc_publish_now(svc, mask, qos, pub->topic, pub->payload, pub->len);
}

int onr_service_publish(struct onr_service *svc, const struct onr_publication *pub)
{
    return publish_at(svc, pub, svc_publish_qos(pub->topic));
}

/* The extras first: a grant must be in force at the broker before the
 * device hears its attach result (the broker handles one client's
 * messages in order). An answer that follows a request to $CONTROL goes
 * at QoS 1 like it: libmosquitto holds QoS 1 messages back while as many
 * as the broker's receive maximum are unacknowledged, and one at QoS 0
 * would overtake them. */
void svc_publish_answer(struct onr_service *svc, const struct onr_answer *a)
{
    int behind_control = 0;

    for (size_t i = 0; i < a->n_extra; i++) {
        onr_service_publish(svc, &a->extra[i]);
        if (a->extra[i].len > 0 && strcmp(a->extra[i].topic, ONR_TOPIC_CONTROL) == 0)
            behind_control = 1;
    }
    publish_at(svc, &a->reply, behind_control ? 1 : svc_publish_qos(a->reply.topic));
}

int onr_service_refuse(struct onr_service *svc, const struct onr_envelope *env, int code,
                       const char *topic)
{
    struct onr_publication pub;

    memset(&pub, 0, sizeof(pub));
    if (onr_service_error(svc, env, code, topic, &pub) == ONR_OK)
        onr_service_publish(svc, &pub);
    return code;
}

/* Attempts at a message another instance raced (svc_handle_once). */
#define HANDLE_ATTEMPTS 3

/* The outbox key: the sender's role and id, so a service and a device can
 * never share one. */
static size_t sender_key(const struct onr_envelope *env, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%d:%.*s", (int)env->sender_role, (int)env->sender.len,
                     (const char *)env->sender.ptr);

    return n < 0 ? 0 : (size_t)n;
}

#ifdef ONR_TEST_HOOKS
/* Tests' fault injection: a crash between storing and answering. */
static void maybe_die(struct onr_service *svc, const struct onr_envelope *env)
{
    if (svc->die_after_type == 0 || (int)env->msg.type != svc->die_after_type)
        return;
    if (batch_is_open(svc->batch)) {
        batch_die_after_commit(svc->batch);
    } else {
        onr_log(ONR_LOG_WARNING, "dying after commit (ONR_TEST_DIE_AFTER_COMMIT)");
        raise(SIGKILL);
    }
}
#endif

int onr_service_handle_once(struct onr_service *svc, const struct onr_envelope *env,
                            const char *topic, onr_service_decide_cb decide, void *arg)
{
    return svc_handle_once(svc, env, topic, decide, arg, 1);
}

/* The answer stored to `env` from `who` into svc->answer: ONR_OK,
 * ONR_ENOENT (none) or the database's errors. */
static int stored_answer(struct onr_service *svc, const struct onr_envelope *env,
                         struct onr_bytes who)
{
    struct onr_answer *a = svc->answer;

    memset(a, 0, sizeof(*a));
    a->reply.len = sizeof(a->reply.payload);
    return processed_get(svc->db, who, env->id, a->reply.topic, sizeof(a->reply.topic),
                         a->reply.payload, &a->reply.len);
}

/* One attempt at handling `env` in a transaction (or savepoint) of its
 * own: decide and store the answer in svc->answer, or (*duplicate = 1)
 * find the answer stored to the same message before. Without
 * `remember_silence` the decision comes first (it is idempotent by
 * itself) and the stored answer is looked for only when it found, having
 * changed nothing, that the message was answered before (ONR_EREPLAY):
 * one statement fewer for the message that is not a duplicate. */
static int attempt(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                   onr_service_decide_cb decide, void *arg, int remember_silence,
                   struct onr_bytes who, int *duplicate)
{
    struct onr_answer *a = svc->answer;
    int stored = 0;
    int rc;

    *duplicate = 0;
    rc = onr_db_begin(svc->db);
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_WARNING, "database busy: message left for the peer to retry");
        return rc;
    }
    rc = remember_silence ? stored_answer(svc, env, who) : ONR_ENOENT;
    if (rc == ONR_ENOENT) {
        memset(a, 0, sizeof(*a));
        rc = decide(svc, env, topic, arg, a);
        if (rc == ONR_EREPLAY && !remember_silence) {
            rc = stored_answer(svc, env, who);
            if (rc == ONR_ENOENT) {
                memset(a, 0, sizeof(*a)); /* nothing to say, nothing to keep */
                rc = ONR_OK;
            } else if (rc == ONR_OK) {
                *duplicate = 1;
            }
        }
    } else if (rc == ONR_OK) {
        *duplicate = 1;
    }
    if (*duplicate) {
        /* a duplicate or a retry of the same message: the same answer */
        onr_db_rollback(svc->db);
        return ONR_OK;
    }
    if (rc == ONR_OK && (remember_silence || a->reply.len > 0)) {
        stored = 1;
        rc = processed_put(svc->db, who, env->id, svc->clock(), a->reply.topic,
                           (struct onr_bytes){a->reply.payload, a->reply.len});
    }
    if (rc == ONR_OK)
        rc = svc_commit(svc);
    /* another instance stored an answer to this very message meanwhile (the
     * outbox row refused, here or at the commit it went out with, as
     * onr_db_run_later may send it): the next attempt finds it and says it
     * again */
    if (rc == ONR_EEXIST && stored)
        rc = ONR_EBUSY;
    if (rc != ONR_OK)
        onr_db_rollback(svc->db);
    return rc;
}

int svc_handle_once(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                    onr_service_decide_cb decide, void *arg, int remember_silence)
{
    struct onr_answer *a = svc->answer;
    char sender[64];
    struct onr_bytes who;
    int duplicate = 0;
    int rc;

    who = (struct onr_bytes){(const uint8_t *)sender, sender_key(env, sender, sizeof(sender))};
    /* Another instance on the same database may have changed what this one
     * read (a serialization failure, a deadlock, a conditional update that
     * found the row moved on): a few fresh attempts, each seeing what the
     * other committed (then often the stored answer), before the message
     * is left to its peer's retry. */
    rc = attempt(svc, env, topic, decide, arg, remember_silence, who, &duplicate);
    for (int n = 1; rc == ONR_EBUSY && n < HANDLE_ATTEMPTS; n++) {
        /* the burst this one is in holds row locks the other instance may
         * be waiting for (a deadlock is one): commit it first, so that the
         * next attempt waits for nobody who waits for us */
        if (svc->batch != NULL)
            batch_flush(svc->batch);
        rc = attempt(svc, env, topic, decide, arg, remember_silence, who, &duplicate);
    }
    if (rc == ONR_OK && duplicate) {
        svc->counters.duplicates++;
        return onr_service_publish(svc, &a->reply);
    }
    if (rc != ONR_OK) {
        if (rc != ONR_EBUSY && rc != ONR_EIO)
            return rc;
        onr_log(ONR_LOG_ERROR, "database error=%s: message left for the peer to retry",
                onr_db_errmsg(svc->db));
        return rc;
    }
#ifdef ONR_TEST_HOOKS
    maybe_die(svc, env);
#endif
    svc->outcome = a->refusal; /* for the counters */
    /* durable (in a batch: held until the batch commits): now it may be said */
    svc_publish_answer(svc, a);
    return ONR_OK;
}

int onr_service_transact(struct onr_service *svc, onr_service_work_cb fn, void *arg)
{
    struct onr_answer *a = svc->answer;
    int rc = onr_db_begin(svc->db);

    if (rc != ONR_OK)
        return rc;
    memset(a, 0, sizeof(*a));
    rc = fn(svc, arg, a);
    if (rc == ONR_OK)
        rc = svc_commit(svc);
    if (rc != ONR_OK) {
        onr_db_rollback(svc->db);
        return rc;
    }
    svc_publish_answer(svc, a);
    return ONR_OK;
}

int svc_prune_outbox(struct onr_service *svc)
{
    uint64_t now = svc->clock();

    return processed_prune(svc->db, now > OUTBOX_KEEP ? now - OUTBOX_KEEP : 0);
}
