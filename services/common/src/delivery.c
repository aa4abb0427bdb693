/*
 * Confirmed delivery (see <onramp/svc_delivery.h>): a message recorded in
 * `pending` with the state change that causes it, matched to its peer's
 * answer in one place, and resent with exponential backoff and jitter
 * until then.
 */
#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "pending.h"
#include "service_internal.h"

#define DUE_BATCH 32 /* rows one round of the tick resends at most */
#define DUE_ROUNDS 16 /* rounds one tick runs at most */

static const struct onr_delivery_kind *kind_named(const struct onr_service *svc,
                                                  const char *name)
{
    for (size_t i = 0; i < svc->delivery.n_kinds; i++)
        if (strcmp(svc->delivery.kinds[i].name, name) == 0)
            return &svc->delivery.kinds[i];
    return NULL;
}

/* The kind whose peers answer as `role`: they all share one peer set. */
static const struct onr_delivery_kind *kind_for_role(const struct onr_service *svc,
                                                     enum onr_role role)
{
    for (size_t i = 0; i < svc->delivery.n_kinds; i++)
        if (svc->delivery.kinds[i].peer_role == role)
            return &svc->delivery.kinds[i];
    return NULL;
}

/* Seconds from the `attempt`-th send to the next: `resend` doubled per
 * attempt, plus up to half again at random, at most the cap. */
static uint64_t delay(const struct onr_service *svc, uint64_t attempt)
{
    uint64_t d = svc->delivery.resend;
    uint32_t jitter = 0;

    for (uint64_t i = 1; i < attempt && d < ONR_DELIVERY_MAX_DELAY; i++)
        d *= 2;
    if (onr_random((uint8_t *)&jitter, sizeof(jitter)) == ONR_OK)
        d += d * (jitter % 1000) / 2000;
    return d < ONR_DELIVERY_MAX_DELAY ? d : ONR_DELIVERY_MAX_DELAY;
}

/* Every broker gets the request, each in a row of its own (one envelope,
 * one id, confirmed per broker); it is in force from now on, for a broker
 * that must be brought up to date later. */
static int to_every_broker(struct onr_service *svc, struct onr_pending *p)
{
    int rc = in_force_put(svc->db, p);

    for (size_t i = 0; i < svc->n_brokers && rc == ONR_OK; i++) {
        snprintf(p->peer, sizeof(p->peer), "%s", svc->brokers[i].name);
        rc = pending_put(svc->db, p);
    }
    return rc;
}

int onr_service_send_confirmed(struct onr_service *svc, struct onr_answer *answer,
                               const char *kind, const char *peer, const char *key,
                               const struct onr_msg *msg, const char *topic)
{
    static struct onr_pending p; /* large; services are single-threaded */
    const struct onr_delivery_kind *k = kind_named(svc, kind);
    struct onr_publication *pub;
    uint64_t now = svc->clock();
    int brokers;
    int rc;

    if (k == NULL)
        return ONR_EINVAL;
    brokers = k->peer_role == ONR_ROLE_BROKER;
    if (brokers != (strcmp(peer, ONR_PEER_BROKER) == 0))
        return ONR_EINVAL; /* the brokers are sent to all together */
    rc = pending_make(&p, kind, peer, key, msg, topic);
    if (rc != ONR_OK)
        return rc;
    pub = onr_answer_extra(answer);
    if (pub == NULL) {
        /* the answer's publications are taken (a kit's devices, say): due
         * now, the resend tick sends it within a second */
        p.attempts = 0;
        p.created_at = now;
        p.next_at = now;
        return pending_put(svc->db, &p);
    }
    rc = onr_service_seal(svc, msg, topic, pub, p.msg_id);
    if (rc == ONR_OK) {
        p.attempts = 1;
        p.created_at = now;
        p.next_at = now + delay(svc, 1);
        if (brokers) {
            pub->brokers = svc_all_brokers(svc);
            rc = to_every_broker(svc, &p);
        } else {
            rc = pending_put(svc->db, &p);
        }
    }
    if (rc != ONR_OK)
        pub->len = 0; /* not said */
    return rc;
}

/* ---- the answers ------------------------------------------------------------------ */

/* The message id an answer names, and the refusal it carries (0: none). */
static struct onr_bytes answer_re(const struct onr_envelope *env, int *code)
{
    const struct onr_msg *m = &env->msg;

    *code = 0;
    switch (env->msg.type) {
    case ONR_MSG_ERROR:
        *code = -(int)m->body.error.code;
        return m->body.error.re;
    case ONR_MSG_CONTROL_RESULT:
        *code = -(int)m->body.control_result.code;
        return m->body.control_result.re;
    case ONR_MSG_REGISTERED: return m->body.registered.re;
    case ONR_MSG_ALIGNED: return m->body.aligned.re;
    case ONR_MSG_RELEASED: return m->body.released.re;
    case ONR_MSG_KIT_REGISTERED: return m->body.kit_registered.re;
    case ONR_MSG_VOUCHER: return m->body.voucher.re;
    default: return (struct onr_bytes){NULL, 0};
    }
}

/* Is the answer from the row's peer? The broker answers on our control
 * route alone (the row was found under the broker it came through); a
 * service by its id. */
static int from_row_peer(const struct onr_delivery_kind *k, const struct onr_pending *p,
                         const struct onr_envelope *env)
{
    if (env->sender_role != k->peer_role)
        return 0;
    if (k->peer_role == ONR_ROLE_BROKER)
        return 1;
    return env->sender.len == strlen(p->peer) &&
           memcmp(env->sender.ptr, p->peer, env->sender.len) == 0;
}

static const char *verdict_name(int verdict)
{
    switch (verdict) {
    case ONR_DELIVERY_DROP: return "dropped";
    case ONR_DELIVERY_DONE: return "done";
    default: return "kept for a resend";
    }
}

/* A refusal of row `p` with `code`: the kind's verdict, carried out. */
static int refused(struct onr_service *svc, const struct onr_delivery_kind *k,
                   const struct onr_pending *p, const struct onr_envelope *env, int code,
                   struct onr_answer *out)
{
    int verdict = code == k->done_on   ? ONR_DELIVERY_DONE
                  : code == k->drop_on ? ONR_DELIVERY_DROP
                                       : ONR_DELIVERY_KEEP;
    int rc = ONR_OK;

    if (k->refused != NULL) {
        svc->delivery.refusal = env; /* for onr_delivery_refusal, during the hook */
        verdict = k->refused(svc, p, code, out, k->arg);
        svc->delivery.refusal = NULL;
    }

    if (verdict < 0)
        return verdict;
    svc->delivery.refused++;
    onr_service_log_refusal(svc, "confirmed message refused kind=%s peer=%s key=%s reason=%s: "
                            "%s", p->kind, p->peer, p->key, onr_error_name(code),
                            verdict_name(verdict));
    if (verdict == ONR_DELIVERY_DONE && k->confirmed != NULL)
        rc = k->confirmed(svc, p, env, out, k->arg);
    if (rc == ONR_OK && verdict != ONR_DELIVERY_KEEP)
        rc = pending_delete(svc->db, p->peer, p->key);
    if (rc == ONR_OK && verdict != ONR_DELIVERY_KEEP)
        rc = svc_in_force_settled(svc, k, p->key);
    return rc;
}

/* The answer `env` from `peer` (a service id, or the name of the broker it
 * came through) to our message `re`, refusing it with `code` (0: none). */
static int confirm_row(struct onr_service *svc, const struct onr_envelope *env, const char *peer,
                       struct onr_bytes re, int code, struct onr_answer *out)
{
    static struct onr_pending p; /* large; services are single-threaded */
    const struct onr_delivery_kind *k;
    int rc;

    if (re.len != ONR_MSG_ID_LEN)
        return ONR_EINVAL;
    rc = pending_by_id(svc->db, peer, re.ptr, &p);
    if (rc == ONR_ENOENT) {
        onr_log(ONR_LOG_INFO, "answer type=%s peer=%s to nothing pending (answered before, or "
                "replaced)", onr_msg_type_name((int)env->msg.type), peer);
        return ONR_EREPLAY; /* the outbox may hold what was said to it */
    }
    if (rc != ONR_OK)
        return rc;
    k = kind_named(svc, p.kind);
    if (k == NULL || !from_row_peer(k, &p, env) ||
        (code == 0 && (int)env->msg.type != k->answer_type)) {
        onr_log(ONR_LOG_WARNING, "answer type=%s does not fit pending kind=%s peer=%s: ignored",
                onr_msg_type_name((int)env->msg.type), p.kind, p.peer);
        return ONR_OK;
    }
    /* a journal we have not brought up to date confirms nothing: it gets
     * everything in force again, this request included */
    if (k->peer_role == ONR_ROLE_BROKER && svc->via >= 0 &&
        svc_epoch_seen(svc, (size_t)svc->via, env->msg.body.control_result.epoch.ptr,
                       env->msg.body.control_result.epoch.len))
        return ONR_OK;
    if (code != 0)
        return refused(svc, k, &p, env, code, out);
    rc = k->confirmed != NULL ? k->confirmed(svc, &p, env, out, k->arg) : ONR_OK;
    if (rc == ONR_OK)
        rc = pending_delete(svc->db, p.peer, p.key);
    if (rc == ONR_OK)
        rc = svc_in_force_settled(svc, k, p.key);
    if (rc == ONR_OK)
        onr_log(ONR_LOG_INFO, "confirmed kind=%s peer=%s key=%s attempts=%llu", p.kind, p.peer,
                p.key, (unsigned long long)p.attempts);
    return rc;
}

static int decide_answer(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg, struct onr_answer *out)
{
    int code = 0;
    struct onr_bytes re = answer_re(env, &code);

    (void)topic;
    return confirm_row(svc, env, arg, re, code, out);
}

int onr_service_confirm(struct onr_service *svc, const struct onr_envelope *env,
                        struct onr_bytes re, struct onr_answer *out)
{
    char peer[ONR_DELIVERY_PEER_MAX + 1];
    int rc;

    if (svc == NULL || env == NULL || env->sender.len > ONR_DELIVERY_PEER_MAX)
        return ONR_EINVAL;
    memcpy(peer, env->sender.ptr, env->sender.len);
    peer[env->sender.len] = '\0';
    rc = confirm_row(svc, env, peer, re, 0, out);
    return rc == ONR_EREPLAY ? ONR_OK : rc;
}

/* Did a broker's answer only delete its pending row (and what is no
 * longer in force with it), or nothing? Then its burst's commit may wait
 * for the next burst's (batch_may_wait): lost in a crash, the row is
 * resent and the broker, whose journal holds the change, confirms it
 * again. Not when a hook of a broker kind may store or
 * say something, nor when there is an answer to publish. */
static int confirmation_only(const struct onr_service *svc)
{
    const struct onr_answer *a = svc->answer;

    for (size_t i = 0; i < svc->delivery.n_kinds; i++) {
        const struct onr_delivery_kind *k = &svc->delivery.kinds[i];

        if (k->peer_role == ONR_ROLE_BROKER && (k->confirmed != NULL || k->refused != NULL))
            return 0;
    }
    if (a->reply.len > 0)
        return 0;
    for (size_t i = 0; i < a->n_extra; i++)
        if (a->extra[i].len > 0)
            return 0;
    return 1;
}

/* Every answer to a confirmed message comes here: from a peer of a kind
 * (its signature checked with that kind's peers), or from a broker on our
 * control route (only it can publish there, on its own connection). */
static int on_answer(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                     void *arg)
{
    const struct onr_delivery_kind *k = kind_for_role(svc, env->sender_role);
    const struct onr_peer *peer = NULL;
    char name[ONR_DELIVERY_PEER_MAX + 1];
    int code = 0;
    int rc;

    (void)arg;
    if (k == NULL || answer_re(env, &code).len != ONR_MSG_ID_LEN)
        return ONR_EDENIED;
    if (k->peer_role != ONR_ROLE_BROKER) {
        rc = onr_service_from_peer(svc, env, topic, k->peers, k->peer_role, &peer);
        if (rc != ONR_OK)
            return rc;
        snprintf(name, sizeof(name), "%s", peer->id);
    } else if (env->msg.type != ONR_MSG_CONTROL_RESULT || svc->via < 0) {
        return ONR_EDENIED;
    } else {
        snprintf(name, sizeof(name), "%s", svc->brokers[svc->via].name);
    }
    /* a duplicate finds no row: only an answer a hook gave needs keeping */
    rc = svc_handle_once(svc, env, topic, decide_answer, name, 0);
    if (rc == ONR_OK && k->peer_role == ONR_ROLE_BROKER)
        svc->may_wait = confirmation_only(svc);
    return rc;
}

/* A route for `type` on `filter`, unless there is one. */
static int route_once(struct onr_service *svc, const char *filter, int subscribe, int type)
{
    for (size_t i = 0; i < svc->n_routes; i++)
        if (svc->routes[i].type == type && strcmp(svc->routes[i].filter, filter) == 0)
            return ONR_OK;
    return svc_add_route(svc, filter, subscribe, type, on_answer, NULL, NULL);
}

int onr_service_deliveries(struct onr_service *svc, const struct onr_delivery_kind *kinds,
                           size_t n, uint64_t resend)
{
    char inbox[ONR_TOPIC_MAX + 1];
    int rc = ONR_OK;

    if (svc == NULL || kinds == NULL || n == 0 || n > SVC_MAX_KINDS || resend == 0)
        return ONR_EINVAL;
    svc->delivery.kinds = kinds;
    svc->delivery.n_kinds = n;
    svc->delivery.resend = resend;
    rc = onr_topic_filter_in(NULL, svc->def->sender_role, svc->id, inbox, sizeof(inbox));
    for (size_t i = 0; i < n && rc == ONR_OK; i++) {
        if (kinds[i].peer_role == ONR_ROLE_BROKER) {
            rc = route_once(svc, ONR_TOPIC_CONTROL_RESPONSE, 0, ONR_MSG_CONTROL_RESULT);
        } else {
            if (!kinds[i].answered_in_request)
                rc = route_once(svc, inbox, SVC_SUBSCRIBE_SHARED, kinds[i].answer_type);
            if (rc == ONR_OK)
                rc = route_once(svc, inbox, SVC_SUBSCRIBE_SHARED, ONR_MSG_ERROR);
        }
    }
    return rc == ONR_OK ? onr_service_every(svc, 1, svc_delivery_tick, NULL) : rc;
}

void onr_service_delivery_resend(struct onr_service *svc, uint64_t resend)
{
    if (resend > 0)
        svc->delivery.resend = resend;
}

/* ---- resending -------------------------------------------------------------------- */

static int is_broker_row(const struct onr_service *svc, const struct onr_pending *p)
{
    const struct onr_delivery_kind *k = kind_named(svc, p->kind);

    return k != NULL && k->peer_role == ONR_ROLE_BROKER && svc_broker_named(svc, p->peer) >= 0;
}

/* Row `p` sealed again with a fresh id into `pub`, recorded as resent. */
static int resend_one(struct onr_service *svc, const struct onr_pending *p,
                      struct onr_publication *pub, uint64_t now)
{
    static struct onr_msg msg; /* large; services are single-threaded */
    uint8_t id[ONR_MSG_ID_LEN];
    int rc;

    memset(&msg, 0, sizeof(msg));
    rc = onr_msg_body_decode(p->type, p->body, p->body_len, &msg);
    if (rc == ONR_OK)
        rc = onr_service_seal(svc, &msg, p->topic, pub, id);
    /* a broker's row goes to that broker; a service's on each connected
     * broker in turn, in case its peer is not on all of ours */
    pub->brokers = svc_nth_connected(svc, p->attempts);
    if (rc == ONR_OK && is_broker_row(svc, p))
        pub->brokers = 1u << svc_broker_named(svc, p->peer);
    if (rc != ONR_OK) {
        /* our own bytes no longer decode: a bug; try again much later */
        onr_log(ONR_LOG_ERROR, "pending kind=%s peer=%s key=%s cannot be resent error=%s",
                p->kind, p->peer, p->key, onr_error_name(rc));
        pub->len = 0;
        rc = pending_resent(svc->db, p, p->msg_id, p->attempts, now + ONR_DELIVERY_MAX_DELAY);
        return rc == ONR_ENOENT ? ONR_OK : rc;
    }
    rc = pending_resent(svc->db, p, id, p->attempts + 1, now + delay(svc, p->attempts + 1));
    if (rc == ONR_ENOENT) {
        pub->len = 0; /* another instance took it first: its resend, not ours */
        return ONR_OK;
    }
    return rc;
}

/* The names of the brokers that are down: their rows wait for them. */
static size_t brokers_down(const struct onr_service *svc, const char **down)
{
    size_t n = 0;

    for (size_t i = 0; i < svc->n_brokers; i++)
        if (!svc->brokers[i].connected)
            down[n++] = svc->brokers[i].name;
    return n;
}

/* One round: up to DUE_BATCH due rows resent, in one transaction (the
 * burst's: what is resent is held until it commits). How many, or an
 * error. */
static int resend_due(struct onr_service *svc, const char *const *down, size_t n_down,
                      uint64_t now, size_t *n)
{
    static struct onr_pending due[DUE_BATCH];
    static struct onr_publication pub;
    size_t mark = batch_held(svc->batch);
    int rc = onr_db_begin(svc->db);

    *n = 0;
    if (rc != ONR_OK)
        return rc;
    rc = pending_due(svc->db, now, down, n_down, due, DUE_BATCH, n);
    for (size_t i = 0; rc == ONR_OK && i < *n; i++) {
        rc = resend_one(svc, &due[i], &pub, now);
        if (rc == ONR_OK && pub.len > 0) {
            onr_log(ONR_LOG_INFO, "resending kind=%s peer=%s key=%s attempt=%llu", due[i].kind,
                    due[i].peer, due[i].key, (unsigned long long)due[i].attempts + 1);
            rc = onr_service_publish(svc, &pub);
        }
    }
    if (rc == ONR_OK)
        rc = onr_db_commit(svc->db);
    if (rc != ONR_OK) {
        /* e.g. another instance resent a row first (its update won): what
         * this one held for the rows it rolled back is never said */
        onr_db_rollback(svc->db);
        batch_unhold(svc->batch, mark);
    }
    return rc;
}

void svc_delivery_tick(struct onr_service *svc, void *arg)
{
    const char *down[ONR_SERVICE_MAX_BROKERS];
    size_t n_down = brokers_down(svc, down);
    uint64_t now = svc->clock();
    size_t total = 0;
    size_t n = 0;
    int any = 0;
    int rc = ONR_OK;

    (void)arg;
    if (n_down == svc->n_brokers || svc->delivery.n_kinds == 0)
        return; /* nothing would reach the peers */
    if (batch_join(svc->batch) != ONR_OK || !batch_is_open(svc->batch))
        return;
    /* brokers with a new epoch: everything in force is due for them */
    svc_epochs_tick(svc);
    svc_in_force_tick(svc);
    /* most seconds nothing is due: a read, no transaction */
    if (pending_any_due(svc->db, now, down, n_down, &any) != ONR_OK || !any)
        return;
    /* a backlog (a broker brought up to date) drains DUE_ROUNDS rounds a
     * second */
    for (int round = 0; round < DUE_ROUNDS && rc == ONR_OK; round++) {
        rc = resend_due(svc, down, n_down, now, &n);
        total += n;
        if (n < DUE_BATCH)
            break;
    }
    if (rc != ONR_OK)
        onr_log(ONR_LOG_WARNING, "resend postponed error=%s", onr_error_name(rc));
    if (total > 0)
        onr_log(ONR_LOG_NOTICE, "resent messages=%zu (unconfirmed)", total);
}

/* What onr_delivery_pending reads, gathered per kind. */
struct tally {
    const struct onr_service *svc;
    struct svc_pending_count *out;
    size_t n;
    uint64_t now;
};

static void add_kind(const char *kind, uint64_t count, uint64_t oldest, void *arg)
{
    struct tally *t = arg;
    struct svc_pending_count *c = &t->out[t->n - 1]; /* "other", unless a kind's */
    uint64_t age = t->now > oldest ? t->now - oldest : 0;

    for (size_t i = 0; i < t->svc->delivery.n_kinds; i++)
        if (strcmp(t->svc->delivery.kinds[i].name, kind) == 0)
            c = &t->out[i];
    c->count += count;
    if (age > c->oldest_age)
        c->oldest_age = age;
}

int svc_delivery_counts(struct onr_service *svc, struct svc_pending_count out[SVC_PENDING_COUNTS],
                        size_t *n, struct svc_pending_count *total)
{
    struct tally t = {svc, out, svc->delivery.n_kinds + 1, svc->clock()};
    int rc = ONR_OK;

    *n = 0;
    *total = (struct svc_pending_count){"all", 0, 0};
    if (svc->delivery.n_kinds == 0)
        return ONR_OK; /* it sends nothing that waits */
    for (size_t i = 0; i < t.n; i++)
        out[i] = (struct svc_pending_count){
            i < svc->delivery.n_kinds ? svc->delivery.kinds[i].name : "other", 0, 0};
    rc = onr_delivery_pending(svc->db, add_kind, &t);
    for (size_t i = 0; i < t.n; i++) {
        total->count += out[i].count;
        if (out[i].oldest_age > total->oldest_age)
            total->oldest_age = out[i].oldest_age;
    }
    /* "other" only when some row is of no kind this service sends */
    *n = out[t.n - 1].count > 0 ? t.n : t.n - 1;
    return rc;
}

const struct onr_envelope *onr_delivery_refusal(const struct onr_service *svc)
{
    return svc->delivery.refusal;
}
