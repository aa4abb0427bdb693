/*
 * The service skeleton through its seam: a service set up from a real
 * configuration file and database, with a fake transport (what it would
 * publish is recorded) and a fake clock in place of the broker and
 * time(). Dispatch, the outbox, group commit, refusals as values, bounded
 * extras, and confirmed delivery: the message recorded with the state that
 * causes it, resent with a fresh id and a doubling, jittered, capped wait,
 * confirmed (or refused) in one transaction with its hook.
 */
#include "testutil.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/service.h"
#include "onramp/svc_schema.h"
#include "service_internal.h"

#define RESEND 10 /* seconds: the services' default */

#define INBOX "onr/1/s/op/op-t/in"
#define PROV_INBOX "onr/1/s/prov/prov-a/in"
#define DEV "rguibdmh6azv5fkl4dybppcmbbtymlsx"

/* ---- the fakes ------------------------------------------------------------------ */

struct sent {
    char topic[ONR_TOPIC_MAX + 1];
    uint8_t payload[ONR_ENVELOPE_MAX];
    size_t len;
};

static struct sent sent[64];
static size_t n_sent;
static uint64_t now = 1900000000;

static int fake_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
    (void)ctx;
    assert_true(n_sent < sizeof(sent) / sizeof(sent[0]));
    snprintf(sent[n_sent].topic, sizeof(sent[n_sent].topic), "%s", topic);
    memcpy(sent[n_sent].payload, payload, len);
    sent[n_sent].len = len;
    n_sent++;
    return ONR_OK;
}

static uint64_t fake_clock(void)
{
    return now;
}

/* ---- the service under test: one handler, one confirmed kind ------------------------ */

static struct onr_peers providers;    /* prov-a, whose key answers */
static struct onr_p256_key *prov_key; /* prov-a's signing key */
static int decided;                   /* times decide ran */
static int refuse_next;               /* decide answers with a stored refusal */
static int hook_fails;                /* the confirmation hook returns an error */
static int verdict = ONR_DELIVERY_KEEP;

static const struct onr_db_migration steps[] = {
    {"the test's tables", ONR_SVC_SCHEMA_PROCESSED ONR_SVC_SCHEMA_PENDING
     "CREATE TABLE things (what TEXT NOT NULL);", NULL},
};
static const struct onr_db_schema schema = {steps, 1};

static int count(struct onr_service *svc, const char *sql)
{
    int n = -1;

    assert_onr(ONR_OK, onr_db_get(svc->db, sql, ONR_DB_NO_ARGS, ONR_DB_COLS(ONR_DB_OUT_INT(&n))));
    return n;
}

/* An alignment: a thing stored, an aligned answer, and an application key
 * for prov-a as a confirmed message. */
static int decide(struct onr_service *svc, const struct onr_envelope *env, const char *topic,
                  void *arg, struct onr_answer *answer)
{
    struct onr_msg msg = {.type = ONR_MSG_ALIGNED};
    struct onr_msg key = {.type = ONR_MSG_APP_KEY};
    static const uint8_t kid[16], sealed[80];
    int rc;

    (void)topic;
    (void)arg;
    decided++;
    rc = onr_db_run(svc->db, "INSERT INTO things (what) VALUES ('aligned')", ONR_DB_NO_ARGS);
    if (rc != ONR_OK)
        return rc;
    if (refuse_next)
        return onr_answer_refuse(svc, answer, env, ONR_EDENIED, PROV_INBOX);
    key.body.app_key = (struct onr_msg_app_key){
        .dev = ONR_BYTES_STR(DEV), .kid = ONR_BYTES(kid), .sealed = ONR_BYTES(sealed),
        .imsi = ONR_BYTES_STR("001010000000001"), .iccid = ONR_BYTES_STR("8949001000000000017"),
    };
    rc = onr_service_send_confirmed(svc, answer, "app_key", "prov-a", "app_key/" DEV, &key,
                                    PROV_INBOX);
    if (rc != ONR_OK)
        return rc;
    msg.body.aligned = (struct onr_msg_aligned){.re = ONR_BYTES(env->id), .dev = ONR_BYTES_STR(DEV)};
    return onr_service_seal(svc, &msg, PROV_INBOX, &answer->reply, NULL);
}

/* A release: the device's grant revoked at the broker, a confirmed message
 * whose refusals are decided by data (done on ENOENT, dropped on
 * EDENIED). */
static int decide_release(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    struct onr_msg revoke = {.type = ONR_MSG_REVOKE};

    (void)env;
    (void)topic;
    (void)arg;
    revoke.body.revoke.dev = ONR_BYTES_STR(DEV);
    return onr_service_send_confirmed(svc, answer, "revoke", ONR_PEER_BROKER, "grant/" DEV,
                                      &revoke, ONR_TOPIC_CONTROL);
}

static int on_release(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg)
{
    const struct onr_peer *peer = NULL;
    int rc = onr_service_from_peer(svc, env, topic, &providers, ONR_ROLE_PROVIDER, &peer);

    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide_release, arg) : rc;
}

static int on_alignment(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg)
{
    const struct onr_peer *peer = NULL;
    int rc = onr_service_from_peer(svc, env, topic, &providers, ONR_ROLE_PROVIDER, &peer);

    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide, arg) : rc;
}

/* In the transaction that deletes the row: a thing stored, or an error. */
static int key_stored(struct onr_service *svc, const struct onr_pending *p,
                      const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    (void)p;
    (void)answer;
    (void)out;
    (void)arg;
    if (hook_fails)
        return ONR_EIO;
    return onr_db_run(svc->db, "INSERT INTO things (what) VALUES ('key stored')",
                      ONR_DB_NO_ARGS);
}

static int key_refused(struct onr_service *svc, const struct onr_pending *p, int code,
                       struct onr_answer *out, void *arg)
{
    (void)svc;
    (void)p;
    (void)code;
    (void)out;
    (void)arg;
    return verdict;
}

static const struct onr_delivery_kind kinds[] = {
    {.name = "app_key", .answer_type = ONR_MSG_APP_KEY_STORED, .peer_role = ONR_ROLE_PROVIDER,
     .peers = &providers, .confirmed = key_stored, .refused = key_refused},
    {.name = "revoke", .answer_type = ONR_MSG_CONTROL_RESULT, .peer_role = ONR_ROLE_BROKER,
     .done_on = ONR_ENOENT, .drop_on = ONR_EDENIED},
};

static int start(struct onr_service *svc, void *arg)
{
    int rc = onr_service_subscribe(svc, INBOX, ONR_MSG_ALIGNMENT, on_alignment, arg);

    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, INBOX, ONR_MSG_RELEASE, on_release, arg);
    return rc == ONR_OK ? onr_service_deliveries(svc, kinds, 2, RESEND) : rc;
}

static const struct onr_service_def def = {
    .name = "test",
    .sender_role = ONR_ROLE_OPERATOR,
    .usage = "",
    .schema = &schema,
    .start = start,
};

/* ---- the harness ------------------------------------------------------------------ */

struct fixture {
    char *dir;
    char *config_path;
    struct onr_service *svc;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct onr_p256_key *own = NULL;
    char path[4096];
    FILE *conf;

    f->dir = onr_test_tmpdir();
    assert_onr(ONR_OK, onr_p256_generate(&own));
    snprintf(path, sizeof(path), "%s/signing.key", f->dir);
    assert_onr(ONR_OK, onr_p256_save(own, path));
    onr_p256_free(own);
    snprintf(path, sizeof(path), "%s/test.conf", f->dir);
    conf = fopen(path, "w");
    assert_non_null(conf);
    /* the broker's files are never read: the transport is a fake */
    fprintf(conf, "id op-t\nbroker_host 127.0.0.1\nbroker_port 1\nbroker_ca ca.pem\n"
                  "cert c.pem\nkey c.key\nsigning_key signing.key\ndatabase test.db\n"
                  "stats_interval 0\nlog_level error\n");
    fclose(conf);
    assert_onr(ONR_OK, onr_p256_generate(&prov_key));
    memset(&providers, 0, sizeof(providers));
    snprintf(providers.list[0].id, sizeof(providers.list[0].id), "prov-a");
    assert_onr(ONR_OK, onr_p256_public(prov_key, providers.list[0].key));
    providers.n = 1;
    f->svc = calloc(1, sizeof(*f->svc));
    f->config_path = strdup(path);
    f->svc->config_path = f->config_path;
    onr_log_init("test", ONR_LOG_ERROR, 2);
    assert_onr(ONR_OK, svc_setup(f->svc, &def));
    f->svc->clock = fake_clock;
    f->svc->transport = (struct svc_transport){fake_publish, NULL};
    f->svc->connected = 1;
    svc_free_ticks(f->svc); /* the tests run the resend tick themselves */
    n_sent = 0;
    decided = 0;
    refuse_next = 0;
    hook_fails = 0;
    verdict = ONR_DELIVERY_KEEP;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    svc_cleanup(f->svc);
    free(f->config_path);
    free(f->svc);
    onr_p256_free(prov_key);
    onr_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* An envelope from prov-a (signed), or from anyone (`key` NULL: a bad
 * signature), for `topic`; its id in `id`. */
static size_t from_prov(const struct onr_msg *msg, const char *topic, uint8_t *out,
                        uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_envelope_signer prov = {ONR_ROLE_PROVIDER, ONR_BYTES_STR("prov-a"), prov_key,
                                       {NULL, 0}};
    size_t len = 0;

    assert_onr(ONR_OK, onr_envelope_encode(msg, &prov,
                                           (struct onr_bytes){(const uint8_t *)topic,
                                                              strlen(topic)},
                                           now, out,
                                           ONR_ENVELOPE_MAX, &len, id));
    return len;
}

static size_t alignment(uint8_t *out, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_msg msg = {.type = ONR_MSG_ALIGNMENT};

    msg.body.alignment = (struct onr_msg_alignment){
        .dev = ONR_BYTES_STR(DEV), .imsi = ONR_BYTES_STR("001010000000001"),
        .iccid = ONR_BYTES_STR("8949001000000000017"), .qos = 1,
        .charging = ONR_BYTES_STR("fleet"), .cap = 0,
    };
    return from_prov(&msg, INBOX, out, id);
}

/* A message as the broker would deliver it, and the burst it starts
 * committed (the loop's next turn). */
static void deliver(struct onr_service *svc, const char *topic, const uint8_t *payload,
                    size_t len)
{
    svc_on_message(svc, topic, payload, len);
    event_base_loop(svc->base, EVLOOP_NONBLOCK);
}

/* The id of the envelope published `i`-th. */
static void sent_id(size_t i, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_envelope env;

    assert_true(i < n_sent);
    assert_onr(ONR_OK, onr_envelope_decode(sent[i].payload, sent[i].len, &env));
    memcpy(id, env.id, ONR_MSG_ID_LEN);
}

static int sent_type(size_t i)
{
    struct onr_envelope env;

    assert_true(i < n_sent);
    assert_onr(ONR_OK, onr_envelope_decode(sent[i].payload, sent[i].len, &env));
    return (int)env.msg.type;
}

/* An answer of prov-a's to our message `re`: app_key_stored, or an ERROR
 * with `code`. */
static void answer(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code)
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_msg msg = {.type = code == 0 ? ONR_MSG_APP_KEY_STORED : ONR_MSG_ERROR};
    uint8_t id[ONR_MSG_ID_LEN];

    if (code == 0) {
        msg.body.app_key_stored = (struct onr_msg_app_key_stored){
            .re = {re, ONR_MSG_ID_LEN}, .dev = ONR_BYTES_STR(DEV)};
    } else {
        msg.body.error = (struct onr_msg_error){.re = {re, ONR_MSG_ID_LEN},
                                                .code = (uint64_t)-code};
    }
    deliver(svc, INBOX, buf, from_prov(&msg, INBOX, buf, id));
}

static uint64_t pending_next_at(struct onr_service *svc)
{
    uint64_t next_at = 0;

    assert_onr(ONR_OK, onr_db_get(svc->db, "SELECT next_at FROM pending", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_U64(&next_at))));
    return next_at;
}

/* ---- dispatch and the outbox --------------------------------------------------------- */

static void test_dispatch_sends_each_message_to_its_route(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    static const uint8_t garbage[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t id[ONR_MSG_ID_LEN];
    size_t len = alignment(buf, id);

    deliver(f->svc, INBOX, buf, len);
    assert_int_equal(decided, 1);
    assert_int_equal(f->svc->counters.published.handled, 1);
    /* the same type on a topic no route has: unexpected */
    deliver(f->svc, "onr/1/s/op/op-t/elsewhere", buf, len);
    /* a type no route takes, and bytes that are no envelope */
    {
        static const uint8_t claim[48], op_key[65];
        struct onr_msg other = {.type = ONR_MSG_REGISTRATION};

        other.body.registration = (struct onr_msg_registration){
            .dev = ONR_BYTES_STR(DEV), .claim = ONR_BYTES(claim), .op = ONR_BYTES_STR("op-t"),
            .op_key = ONR_BYTES(op_key)};
        deliver(f->svc, INBOX, buf, from_prov(&other, INBOX, buf, id));
    }
    deliver(f->svc, INBOX, garbage, sizeof(garbage));
    assert_int_equal(decided, 1);
    assert_int_equal(f->svc->counters.published.refused, 3);
    assert_int_equal(f->svc->counters.published.refused_input, 3);
}

static void test_a_duplicate_is_answered_from_the_outbox(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t len = alignment(buf, id);

    deliver(f->svc, INBOX, buf, len);
    assert_int_equal(n_sent, 2); /* the key (an extra, first), the answer */
    assert_int_equal(sent_type(0), ONR_MSG_APP_KEY);
    assert_int_equal(sent_type(1), ONR_MSG_ALIGNED);
    deliver(f->svc, INBOX, buf, len);
    assert_int_equal(decided, 1);
    assert_int_equal(n_sent, 3); /* the answer again, byte for byte; no second key */
    assert_int_equal(sent[2].len, sent[1].len);
    assert_memory_equal(sent[2].payload, sent[1].payload, sent[1].len);
    assert_int_equal(f->svc->counters.published.duplicates, 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things"), 1);
}

/* Group commit: the messages of one read are one transaction, and nothing
 * is said before it commits. */
static void test_nothing_is_published_before_the_burst_commits(void **state)
{
    struct fixture *f = *state;
    static uint8_t a[ONR_ENVELOPE_MAX], b[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t len_a = alignment(a, id);
    size_t len_b = alignment(b, id);
    char path[4096];
    struct onr_db *reader = NULL;
    char why[256];
    int seen = -1;

    snprintf(path, sizeof(path), "%s/test.db", f->dir);
    assert_onr(ONR_OK, onr_db_open(path, &schema, NULL, &reader, NULL, why, sizeof(why)));
    svc_on_message(f->svc, INBOX, a, len_a);
    svc_on_message(f->svc, INBOX, b, len_b);
    assert_int_equal(decided, 2);
    assert_int_equal(n_sent, 0);
    assert_onr(ONR_OK, onr_db_get(reader, "SELECT count(*) FROM things", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_INT(&seen))));
    assert_int_equal(seen, 0); /* not durable yet: not said */
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_onr(ONR_OK, onr_db_get(reader, "SELECT count(*) FROM things", ONR_DB_NO_ARGS,
                                  ONR_DB_COLS(ONR_DB_OUT_INT(&seen))));
    assert_int_equal(seen, 2);
    assert_int_equal(n_sent, 4);
    onr_db_close(reader);
}

/* A refusal stored as the answer is a value in the answer, counted as
 * the refusal it is; what decide changed with it stays. */
static void test_a_stored_refusal_is_counted_as_one(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    struct onr_envelope env;

    refuse_next = 1;
    deliver(f->svc, INBOX, buf, alignment(buf, id));
    assert_int_equal(f->svc->counters.published.refused_policy, 1);
    assert_int_equal(f->svc->counters.published.handled, 0);
    assert_int_equal(n_sent, 1);
    assert_onr(ONR_OK, onr_envelope_decode(sent[0].payload, sent[0].len, &env));
    assert_int_equal(env.msg.type, ONR_MSG_ERROR);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things"), 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
}

static void test_extras_are_bounded(void **state)
{
    struct onr_answer *a = calloc(1, sizeof(*a));

    (void)state;
    for (int i = 0; i < ONR_SERVICE_MAX_EXTRA; i++)
        assert_non_null(onr_answer_extra(a));
    assert_null(onr_answer_extra(a));
    assert_int_equal(a->n_extra, ONR_SERVICE_MAX_EXTRA);
    free(a);
}

/* ---- confirmed delivery ------------------------------------------------------------ */

/* Recorded with the state, resent only when due, each time with a fresh id
 * and twice the wait (plus up to half again), until the peer confirms:
 * then the hook runs and the row goes. */
static void test_a_confirmed_message_is_resent_with_backoff_until_confirmed(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN], second[ONR_MSG_ID_LEN];
    uint64_t t0 = now;
    uint64_t next;

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    next = pending_next_at(f->svc);
    assert_true(next >= t0 + RESEND && next <= t0 + RESEND * 3 / 2);
    /* not due yet: nothing */
    now = next - 1;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(n_sent, 2);
    /* due: the same message, a fresh id, the wait doubled */
    now = next;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(n_sent, 3);
    assert_int_equal(sent_type(2), ONR_MSG_APP_KEY);
    sent_id(2, second);
    assert_memory_not_equal(first, second, ONR_MSG_ID_LEN);
    assert_int_equal(count(f->svc, "SELECT attempts FROM pending"), 2);
    assert_true(pending_next_at(f->svc) >= now + 2 * RESEND &&
                pending_next_at(f->svc) <= now + 3 * RESEND);
    /* confirmed: the hook in the same transaction as the row's deletion */
    answer(f->svc, second, 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things WHERE what = 'key stored'"), 1);
    now += 3600;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(n_sent, 3);
}

/* The answer to the send before the last confirms too (the same body),
 * and a second answer finds nothing to confirm. */
static void test_a_late_answer_to_the_previous_send_confirms(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN];

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    now = pending_next_at(f->svc);
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    answer(f->svc, first, 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    answer(f->svc, first, 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things WHERE what = 'key stored'"), 1);
}

/* A hook that fails takes the row's deletion back with it: the message
 * stays pending and is resent. */
static void test_a_failing_hook_keeps_the_message_pending(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN];

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    hook_fails = 1;
    answer(f->svc, first, 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    hook_fails = 0;
    answer(f->svc, first, 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
}

/* A peer's refusal gets the kind's verdict: kept for a resend, dropped, or
 * done (confirmed); each counted. */
static void test_a_refusal_gets_the_kinds_verdict(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN];

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    verdict = ONR_DELIVERY_KEEP;
    answer(f->svc, first, ONR_EBUSY);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    verdict = ONR_DELIVERY_DONE;
    answer(f->svc, first, ONR_ENOENT);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things WHERE what = 'key stored'"), 1);
    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(n_sent - 2, first);
    verdict = ONR_DELIVERY_DROP;
    answer(f->svc, first, ONR_EDENIED);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things WHERE what = 'key stored'"), 1);
    assert_int_equal(f->svc->delivery.refused, 3);
}

/* The broker's control result for our revoke `re`, with `code`. */
static void control_result(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code)
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_envelope_signer broker = {ONR_ROLE_BROKER, ONR_BYTES_STR("broker-1"), NULL,
                                         {NULL, 0}};
    struct onr_msg msg = {.type = ONR_MSG_CONTROL_RESULT};
    size_t len = 0;

    static const uint8_t epoch[16] = {1};

    msg.body.control_result = (struct onr_msg_control_result){
        .re = {re, ONR_MSG_ID_LEN}, .code = (uint64_t)-code, .epoch = ONR_BYTES(epoch)};
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &broker, ONR_BYTES_STR(ONR_TOPIC_CONTROL_RESPONSE),
                                           now, buf, sizeof(buf), &len, NULL));
    deliver(svc, ONR_TOPIC_CONTROL_RESPONSE, buf, len);
}

/* A kind's refusals decided by data: a revoke's ENOENT (no grant) is done,
 * its EDENIED dropped, anything else kept for a resend. */
static void test_a_refusal_by_the_broker_follows_the_kinds_data(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_msg release = {.type = ONR_MSG_RELEASE};
    uint8_t id[ONR_MSG_ID_LEN], sent_revoke[ONR_MSG_ID_LEN];
    static const int codes[] = {ONR_EIO, ONR_ENOENT, ONR_EDENIED};
    static const int left[] = {1, 0, 0};

    release.body.release.dev = ONR_BYTES_STR(DEV);
    for (size_t i = 0; i < 3; i++) {
        deliver(f->svc, INBOX, buf, from_prov(&release, INBOX, buf, id));
        assert_string_equal(sent[n_sent - 1].topic, ONR_TOPIC_CONTROL);
        sent_id(n_sent - 1, sent_revoke);
        control_result(f->svc, sent_revoke, codes[i]);
        assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), left[i]);
        assert_onr(ONR_OK, onr_db_run(f->svc->db, "DELETE FROM pending", ONR_DB_NO_ARGS));
    }
    assert_int_equal(f->svc->delivery.refused, 3);
    /* and a success confirms */
    deliver(f->svc, INBOX, buf, from_prov(&release, INBOX, buf, id));
    sent_id(n_sent - 1, sent_revoke);
    control_result(f->svc, sent_revoke, ONR_OK);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
}

/* An answer signed by someone else confirms nothing. */
static void test_a_forged_answer_confirms_nothing(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN];
    struct onr_p256_key *real = prov_key;

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    assert_onr(ONR_OK, onr_p256_generate(&prov_key));
    answer(f->svc, first, 0);
    onr_p256_free(prov_key);
    prov_key = real;
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    assert_int_equal(f->svc->counters.published.refused_auth, 1);
}

/* The wait doubles to the cap and stays there; nothing goes out while the
 * broker is away. */
static void test_the_wait_is_capped_and_nothing_is_sent_while_disconnected(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t before;

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    for (int i = 0; i < 12; i++) {
        now = pending_next_at(f->svc);
        svc_delivery_tick(f->svc, NULL);
        event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
        assert_true(pending_next_at(f->svc) - now <= ONR_DELIVERY_MAX_DELAY);
    }
    assert_int_equal(pending_next_at(f->svc) - now, ONR_DELIVERY_MAX_DELAY);
    assert_int_equal(count(f->svc, "SELECT attempts FROM pending"), 13);
    before = n_sent;
    f->svc->connected = 0;
    now = pending_next_at(f->svc);
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(n_sent, before);
    assert_int_equal(count(f->svc, "SELECT attempts FROM pending"), 13);
}

/* The counters tell how many wait and since when. */
static void test_the_counters_count_what_is_pending(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    uint64_t pending = 0, age = 0;

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    now += 42;
    assert_onr(ONR_OK, svc_delivery_counts(f->svc, &pending, &age));
    assert_int_equal(pending, 1);
    assert_int_equal(age, 42);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dispatch_sends_each_message_to_its_route),
        T(test_a_duplicate_is_answered_from_the_outbox),
        T(test_nothing_is_published_before_the_burst_commits),
        T(test_a_stored_refusal_is_counted_as_one),
        T(test_extras_are_bounded),
        T(test_a_confirmed_message_is_resent_with_backoff_until_confirmed),
        T(test_a_late_answer_to_the_previous_send_confirms),
        T(test_a_failing_hook_keeps_the_message_pending),
        T(test_a_refusal_gets_the_kinds_verdict),
        T(test_a_refusal_by_the_broker_follows_the_kinds_data),
        T(test_a_forged_answer_confirms_nothing),
        T(test_the_wait_is_capped_and_nothing_is_sent_while_disconnected),
        T(test_the_counters_count_what_is_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
