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
#include "onramp/version.h"
#include "service_internal.h"

#define RESEND 10 /* seconds: the services' default */

#define INBOX "onr/1/s/op/op-t/in"
#define DEVICE_UP "onr/1/d/+/up/op/op-t"
#define PROV_INBOX "onr/1/s/prov/prov-a/in"
#define DEV "rguibdmh6azv5fkl4dybppcmbbtymlsx"

/* ---- the fakes ------------------------------------------------------------------ */

struct sent {
    size_t broker; /* the index of the broker it went to */
    int qos;
    char topic[ONR_TOPIC_MAX + 1];
    uint8_t payload[ONR_ENVELOPE_MAX];
    size_t len;
};

static struct sent sent[64];
static size_t n_sent;
static uint64_t now = 1900000000;
static const uint8_t epoch_one[ONR_BROKER_EPOCH_LEN] = {1};

static int fake_publish(void *ctx, size_t broker, int qos, const char *topic,
                        const uint8_t *payload, size_t len)
{
    (void)ctx;
    assert_true(n_sent < sizeof(sent) / sizeof(sent[0]));
    sent[n_sent].broker = broker;
    sent[n_sent].qos = qos;
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
static int hook_answers;              /* the confirmation hook answers the peer */
static int verdict = ONR_DELIVERY_KEEP;
static const char *region_seen;       /* the region of the broker of the last alignment */

static const struct onr_db_migration steps[] = {
    {"the test's tables", ONR_SVC_SCHEMA_PROCESSED ONR_SVC_SCHEMA_PENDING
     "CREATE TABLE things (what TEXT NOT NULL);", NULL},
    {"several brokers", ONR_SVC_SCHEMA_BROKERS, NULL},
};
static const struct onr_db_schema schema = {steps, 2};

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
        .sqn = 33,
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
/* The kind a release's revoke is sent as (kinds[]): "revoke" unless a
 * test says otherwise. */
static const char *release_kind = "revoke";

static int decide_release(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, void *arg, struct onr_answer *answer)
{
    struct onr_msg revoke = {.type = ONR_MSG_REVOKE};

    (void)env;
    (void)topic;
    (void)arg;
    revoke.body.revoke.dev = ONR_BYTES_STR(DEV);
    return onr_service_send_confirmed(svc, answer, release_kind, ONR_PEER_BROKER, "grant/" DEV,
                                      &revoke, ONR_TOPIC_CONTROL);
}

static int on_release(struct onr_service *svc, const struct onr_envelope *env,
                      const char *topic, void *arg)
{
    const struct onr_peer *peer = NULL;
    int rc = onr_service_from_peer(svc, env, topic, &providers, ONR_ROLE_PROVIDER, &peer);

    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide_release, arg) : rc;
}

/* A device's attach request: a pending answer to the device, after a
 * revoke to the brokers' $CONTROL when `control_first` says so (as an
 * attach result follows its grant). */
static int control_first;

static int decide_device(struct onr_service *svc, const struct onr_envelope *env,
                         const char *topic, void *arg, struct onr_answer *answer)
{
    struct onr_msg pending = {.type = ONR_MSG_PENDING};
    struct onr_msg revoke = {.type = ONR_MSG_REVOKE};
    char down[ONR_TOPIC_MAX + 1];
    int rc = ONR_OK;

    (void)topic;
    (void)arg;
    decided++;
    if (control_first) {
        revoke.body.revoke.dev = ONR_BYTES_STR(DEV);
        rc = onr_service_send_confirmed(svc, answer, "revoke", ONR_PEER_BROKER, "grant/" DEV,
                                        &revoke, ONR_TOPIC_CONTROL);
    }
    if (rc == ONR_OK)
        rc = onr_topic_down(DEV, down, sizeof(down));
    pending.body.pending = (struct onr_msg_pending){.re = ONR_BYTES(env->id), .retry_after = 5};
    return rc == ONR_OK ? onr_service_seal(svc, &pending, down, &answer->reply, NULL) : rc;
}

static int on_device_request(struct onr_service *svc, const struct onr_envelope *env,
                             const char *topic, void *arg)
{
    return onr_service_handle_once(svc, env, topic, decide_device, arg);
}

static int on_alignment(struct onr_service *svc, const struct onr_envelope *env,
                        const char *topic, void *arg)
{
    const struct onr_peer *peer = NULL;

    region_seen = onr_service_via_region(svc);
    int rc = onr_service_from_peer(svc, env, topic, &providers, ONR_ROLE_PROVIDER, &peer);

    return rc == ONR_OK ? onr_service_handle_once(svc, env, topic, decide, arg) : rc;
}

/* In the transaction that deletes the row: a thing stored (and an answer,
 * when asked for), or an error. */
static int key_stored(struct onr_service *svc, const struct onr_pending *p,
                      const struct onr_envelope *answer, struct onr_answer *out, void *arg)
{
    struct onr_msg msg = {.type = ONR_MSG_ALIGNED};
    int rc;

    (void)p;
    (void)arg;
    if (hook_fails)
        return ONR_EIO;
    rc = onr_db_run(svc->db, "INSERT INTO things (what) VALUES ('key stored')", ONR_DB_NO_ARGS);
    if (rc != ONR_OK || !hook_answers)
        return rc;
    msg.body.aligned = (struct onr_msg_aligned){.re = ONR_BYTES(answer->id),
                                                .dev = ONR_BYTES_STR(DEV)};
    return onr_service_seal(svc, &msg, PROV_INBOX, &out->reply, NULL);
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

/* When an "expiring" request is needed no more (its time, for the test). */
static uint64_t expiring_until;

static uint64_t needed_until(const struct onr_msg *request)
{
    assert_int_equal(request->type, ONR_MSG_REVOKE);
    return expiring_until;
}

static const struct onr_delivery_kind kinds[] = {
    {.name = "app_key", .answer_type = ONR_MSG_RELEASED, .peer_role = ONR_ROLE_PROVIDER,
     .peers = &providers, .confirmed = key_stored, .refused = key_refused},
    {.name = "revoke", .answer_type = ONR_MSG_CONTROL_RESULT, .peer_role = ONR_ROLE_BROKER,
     .done_on = ONR_ENOENT, .drop_on = ONR_EDENIED},
    /* the same request, as a revoke that only undoes, and as one needed
     * until a time */
    {.name = "undo", .answer_type = ONR_MSG_CONTROL_RESULT, .peer_role = ONR_ROLE_BROKER,
     .done_on = ONR_ENOENT, .drop_on = ONR_EDENIED, .settled_forgotten = 1},
    {.name = "expiring", .answer_type = ONR_MSG_CONTROL_RESULT, .peer_role = ONR_ROLE_BROKER,
     .needed_until = needed_until},
};

static int start(struct onr_service *svc, void *arg)
{
    int rc = onr_service_subscribe(svc, INBOX, ONR_MSG_ALIGNMENT, on_alignment, arg);

    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, INBOX, ONR_MSG_RELEASE, on_release, arg);
    if (rc == ONR_OK)
        rc = onr_service_subscribe(svc, DEVICE_UP, ONR_MSG_ATTACH_REQUEST, on_device_request,
                                   arg);
    return rc == ONR_OK ? onr_service_deliveries(svc, kinds, sizeof(kinds) / sizeof(kinds[0]),
                                                 RESEND)
                        : rc;
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

/* `dir`/`name`.conf for the service under test, with its `brokers` lines
 * (NULL: broker_host and broker_port) and `more` lines; its path into
 * `path` (4096 bytes). */
static void write_config(const char *dir, const char *name, const char *brokers,
                         const char *more, char *path)
{
    FILE *conf;

    snprintf(path, 4096, "%s/%s.conf", dir, name);
    conf = fopen(path, "w");
    assert_non_null(conf);
    /* the broker's files are never read: the transport is a fake */
    fprintf(conf, "id op-t\n%sbroker_ca ca.pem\n"
                  "cert c.pem\nkey c.key\nsigning_key signing.key\ndatabase %s.db\n"
                  "stats_interval 0\nlog_level error\n%s",
            brokers != NULL ? brokers : "broker_host 127.0.0.1\nbroker_port 1\n", name, more);
    fclose(conf);
}

/* A service whose configuration names its brokers with `brokers` (lines;
 * NULL: broker_host and broker_port). */
static int setup_with(void **state, const char *brokers)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct onr_p256_key *own = NULL;
    char path[4096];

    f->dir = onr_test_tmpdir();
    assert_onr(ONR_OK, onr_p256_generate(&own));
    snprintf(path, sizeof(path), "%s/signing.key", f->dir);
    assert_onr(ONR_OK, onr_p256_save(own, path));
    onr_p256_free(own);
    write_config(f->dir, "test", brokers, "", path);
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
    for (size_t i = 0; i < f->svc->n_brokers; i++) {
        /* up, and brought up to date at the epoch control_result reports */
        f->svc->brokers[i].connected = 1;
        memcpy(f->svc->brokers[i].epoch, epoch_one, ONR_BROKER_EPOCH_LEN);
        f->svc->brokers[i].has_epoch = 1;
    }
    svc_free_ticks(f->svc); /* the tests run the resend tick themselves */
    n_sent = 0;
    decided = 0;
    refuse_next = 0;
    hook_fails = 0;
    hook_answers = 0;
    verdict = ONR_DELIVERY_KEEP;
    release_kind = "revoke";
    control_first = 0;
    *state = f;
    return 0;
}

/* One broker, its name unknown (broker_host). */
static int setup(void **state)
{
    return setup_with(state, NULL);
}

/* Three named brokers; the second serves country 208. */
static int setup_three(void **state)
{
    return setup_with(state, "broker b1 127.0.0.1 1\nbroker b2 127.0.0.1 2 region=208\n"
                             "broker b3 127.0.0.1 3\n");
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
    static const uint8_t alignment_re[ONR_MSG_ID_LEN] = {1};

    struct onr_msg msg = {.type = ONR_MSG_ALIGNMENT};

    msg.body.alignment = (struct onr_msg_alignment){
        .re = ONR_BYTES(alignment_re), .dev = ONR_BYTES_STR(DEV), .imsi = ONR_BYTES_STR("001010000000001"),
        .iccid = ONR_BYTES_STR("8949001000000000017"), .qos = 1,
        .charging = ONR_BYTES_STR("fleet"), .cap = 0,
    };
    return from_prov(&msg, INBOX, out, id);
}

/* A message as the broker would deliver it, and the burst it starts
 * committed (the loop's next turn). */
static void deliver_via(struct onr_service *svc, size_t via, const char *topic,
                        const uint8_t *payload, size_t len)
{
    svc_on_message(svc, via, topic, payload, len);
    event_base_loop(svc->base, EVLOOP_NONBLOCK);
}

static void deliver(struct onr_service *svc, const char *topic, const uint8_t *payload,
                    size_t len)
{
    svc_on_message(svc, 0, topic, payload, len);
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

/* An answer of prov-a's to our message `re`: a released (this harness's
 * answer to its key kind: any answer type the delivery code matches
 * by `re` would do), or an ERROR with `code`. */
static void answer(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code)
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_msg msg = {.type = code == 0 ? ONR_MSG_RELEASED : ONR_MSG_ERROR};
    uint8_t id[ONR_MSG_ID_LEN];

    if (code == 0) {
        msg.body.released = (struct onr_msg_released){.re = {re, ONR_MSG_ID_LEN},
                                                      .dev = ONR_BYTES_STR(DEV)};
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

/* What service_stats (SPEC type 32) would say now. */
static struct onr_msg_service_stats stats(struct onr_service *svc)
{
    struct onr_msg_service_stats out;

    svc_counters_stats(svc, &out);
    return out;
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
    assert_int_equal(stats(f->svc).handled, 1);
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
    assert_int_equal(stats(f->svc).refused, 3);
    assert_int_equal(stats(f->svc).refused_input, 3);
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
    assert_int_equal(stats(f->svc).duplicates, 1);
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
    svc_on_message(f->svc, 0, INBOX, a, len_a);
    svc_on_message(f->svc, 0, INBOX, b, len_b);
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
    assert_int_equal(stats(f->svc).refused_policy, 1);
    assert_int_equal(stats(f->svc).handled, 0);
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

/* A confirmation is decided before its outbox row is looked for: the
 * answer its hook gave is said again to its duplicate, byte for byte,
 * and the hook runs once. */
static void test_a_duplicate_confirmation_gets_the_hooks_answer_again(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX], released[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN], first[ONR_MSG_ID_LEN];
    struct onr_msg msg = {.type = ONR_MSG_RELEASED};
    size_t len;

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    sent_id(0, first);
    hook_answers = 1;
    msg.body.released = (struct onr_msg_released){.re = {first, ONR_MSG_ID_LEN},
                                                  .dev = ONR_BYTES_STR(DEV)};
    len = from_prov(&msg, INBOX, released, id);
    deliver(f->svc, INBOX, released, len);
    assert_int_equal(n_sent, 3); /* the key, the alignment's answer, the hook's */
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    deliver(f->svc, INBOX, released, len);
    assert_int_equal(n_sent, 4);
    assert_int_equal(sent[3].len, sent[2].len);
    assert_memory_equal(sent[3].payload, sent[2].payload, sent[2].len);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things WHERE what = 'key stored'"), 1);
    assert_int_equal(stats(f->svc).duplicates, 1);
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

/* Broker `via`'s control result for our request `re`, with `code`, from
 * its journal of `epoch`. */
static void control_result_via(struct onr_service *svc, size_t via,
                               const uint8_t re[ONR_MSG_ID_LEN], int code,
                               const uint8_t epoch[ONR_BROKER_EPOCH_LEN])
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_envelope_signer broker = {ONR_ROLE_BROKER, ONR_BYTES_STR("broker-1"), NULL,
                                         {NULL, 0}};
    struct onr_msg msg = {.type = ONR_MSG_CONTROL_RESULT};
    size_t len = 0;

    msg.body.control_result = (struct onr_msg_control_result){
        .re = {re, ONR_MSG_ID_LEN}, .code = (uint64_t)-code,
        .epoch = {epoch, ONR_BROKER_EPOCH_LEN}};
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &broker, ONR_BYTES_STR(ONR_TOPIC_CONTROL_RESPONSE),
                                           now, buf, sizeof(buf), &len, NULL));
    deliver_via(svc, via, ONR_TOPIC_CONTROL_RESPONSE, buf, len);
}

/* The broker's control result for our revoke `re`, with `code`. */
static void control_result(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code)
{
    control_result_via(svc, 0, re, code, epoch_one);
}

/* Broker `name`'s counters, with its journal's `epoch`, as its connection
 * `via` delivers them (retained, on every subscribe). */
static void broker_stats(struct onr_service *svc, size_t via, const char *name,
                         const uint8_t epoch[ONR_BROKER_EPOCH_LEN])
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_envelope_signer broker = {ONR_ROLE_BROKER, {(const uint8_t *)name, strlen(name)},
                                         NULL, {NULL, 0}};
    struct onr_msg msg = {.type = ONR_MSG_BROKER_STATS};
    char topic[ONR_TOPIC_MAX + 1];
    size_t len = 0;

    msg.body.broker_stats.epoch = (struct onr_bytes){epoch, ONR_BROKER_EPOCH_LEN};
    assert_onr(ONR_OK, onr_topic_ev(ONR_ROLE_BROKER, name, topic, sizeof(topic)));
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &broker,
                                           (struct onr_bytes){(const uint8_t *)topic,
                                                              strlen(topic)},
                                           now, buf, sizeof(buf), &len, NULL));
    deliver_via(svc, via, topic, buf, len);
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
    assert_int_equal(stats(f->svc).refused_auth, 1);
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
    f->svc->brokers[0].connected = 0;
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

    deliver(f->svc, INBOX, buf, alignment(buf, id));
    now += 42;
    assert_int_equal(stats(f->svc).pending, 0); /* as at the last tick */
    svc_counters_refresh(f->svc);               /* the counters' tick */
    assert_int_equal(stats(f->svc).pending, 1);
    assert_int_equal(stats(f->svc).pending_age, 42);
}

/* ---- /metrics ---------------------------------------------------------------------- */

/* The value of the sample `series` (NAME or NAME{LABELS} as written) in
 * the text, or -1 when it is not there. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return -1;
}

/* The text a scrape gets now. */
static char *scrape(struct onr_service *svc)
{
    struct onr_metrics m;
    char *text;

    onr_metrics_init(&m);
    assert_onr(ONR_OK, svc_metrics_collect(&m, svc));
    text = strdup(onr_metrics_text(&m, NULL));
    onr_metrics_cleanup(&m);
    return text;
}

/* /metrics says what service_stats says, from the same counters: by type
 * where service_stats sums, pending by kind back to 0 once confirmed. */
static void test_metrics_are_the_counters_by_type_and_kind(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    static const uint8_t garbage[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t id[ONR_MSG_ID_LEN], key_id[ONR_MSG_ID_LEN];
    size_t len = alignment(buf, id);
    char info[160];
    char *text;

    deliver(f->svc, INBOX, buf, len);
    deliver(f->svc, INBOX, buf, len); /* a duplicate */
    deliver(f->svc, INBOX, garbage, sizeof(garbage));
    now += 42;
    svc_counters_refresh(f->svc); /* the counters' tick */
    text = scrape(f->svc);
    assert_true(sample(text, "onramp_messages_handled_total{type=\"alignment\"}") == 2);
    assert_true(sample(text, "onramp_messages_handled_total{type=\"release\"}") == 0);
    /* the kinds' answers have their routes too */
    assert_true(sample(text, "onramp_messages_handled_total{type=\"released\"}") == 0);
    assert_true(sample(text, "onramp_messages_handled_total{type=\"hello\"}") == -1);
    assert_true(sample(text, "onramp_messages_duplicates_total") == 1);
    assert_true(sample(text, "onramp_messages_refused_total{kind=\"input\"}") == 1);
    assert_true(sample(text, "onramp_messages_refused_total{kind=\"auth\"}") == 0);
    assert_true(sample(text, "onramp_messages_busy_total") == 0);
    assert_true(sample(text, "onramp_message_handling_seconds_count") == 3);
    assert_true(sample(text, "onramp_message_handling_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"app_key\"}") == 1);
    assert_true(sample(text, "onramp_pending_oldest_age_seconds{kind=\"app_key\"}") == 42);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"revoke\"}") == 0);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"other\"}") == -1);
    assert_true(sample(text, "onramp_pending_refused_total") == 0);
    /* a burst each: the three commits durable, timed */
    assert_true(sample(text, "onramp_db_commit_seconds_count") == 3);
    assert_true(sample(text, "onramp_service_connected{endpoint=\"127.0.0.1:1\"}") == 1);
    assert_true(sample(text, "onramp_process_start_time_seconds") > 0);
    snprintf(info, sizeof(info),
             "onramp_service_info{role=\"test\",service=\"op-t\",version=\"%s\"}",
             ONR_VERSION_STRING);
    assert_true(sample(text, info) == 1);
    assert_int_equal(stats(f->svc).handled, 2);
    free(text);

    /* confirmed: nothing waits; disconnected: said so */
    sent_id(0, key_id);
    answer(f->svc, key_id, 0);
    f->svc->brokers[0].connected = 0;
    svc_counters_refresh(f->svc);
    text = scrape(f->svc);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"app_key\"}") == 0);
    assert_true(sample(text, "onramp_pending_oldest_age_seconds{kind=\"app_key\"}") == 0);
    assert_true(sample(text, "onramp_messages_handled_total{type=\"released\"}") == 1);
    assert_true(sample(text, "onramp_service_connected{endpoint=\"127.0.0.1:1\"}") == 0);
    assert_int_equal(stats(f->svc).pending, 0);
    free(text);
}

/* A scrape reads no database: what is pending is the counters' tick's
 * (every stats_interval s), even in the middle of a burst. */
static void test_a_scrape_reads_what_the_tick_read(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    char *text;

    svc_on_message(f->svc, 0, INBOX, buf, alignment(buf, id));
    text = scrape(f->svc);
    assert_true(batch_is_open(f->svc->batch)); /* the burst left alone */
    assert_int_equal(n_sent, 0);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"app_key\"}") == 0);
    free(text);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    svc_counters_refresh(f->svc);
    text = scrape(f->svc);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"app_key\"}") == 1);
    free(text);
}

/* Rows of a kind the service does not send are counted as "other". */
static void test_pending_rows_of_no_kind_count_as_other(void **state)
{
    struct fixture *f = *state;
    char *text;

    assert_onr(ONR_OK, onr_delivery_store(f->svc->db, "retired", "prov-a", "k", NULL,
                                          PROV_INBOX, NULL, now - 5, 0));
    svc_counters_refresh(f->svc);
    text = scrape(f->svc);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"other\"}") == 1);
    assert_true(sample(text, "onramp_pending_oldest_age_seconds{kind=\"other\"}") == 5);
    assert_true(sample(text, "onramp_pending_confirmations{kind=\"app_key\"}") == 0);
    assert_int_equal(stats(f->svc).pending, 1);
    free(text);
}

/* metrics_listen: loopback unless metrics_public yes; every mistake
 * refuses the start. */
static void test_metrics_listen_is_loopback_unless_public(void **state)
{
    static const struct {
        const char *lines;
        int rc;
    } cases[] = {
        {"metrics_listen 192.0.2.1:9464\n", ONR_EDENIED},
        {"metrics_listen 192.0.2.1:9464\nmetrics_public no\n", ONR_EDENIED},
        /* allowed, but not an address of this machine */
        {"metrics_listen 192.0.2.1:9464\nmetrics_public yes\n", ONR_EIO},
        {"metrics_listen 127.0.0.1:9464\nmetrics_public maybe\n", ONR_EINVAL},
        {"metrics_listen metrics.example:9464\n", ONR_EINVAL},
        {"metrics_listen 127.0.0.1\n", ONR_EINVAL},
        {"metrics_public yes\n", ONR_OK}, /* no listener: nothing served */
    };
    struct fixture *f = *state;
    char path[4096];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct onr_service *svc = calloc(1, sizeof(*svc));
        char name[16];

        snprintf(name, sizeof(name), "case%zu", i);
        write_config(f->dir, name, NULL, cases[i].lines, path);
        svc->config_path = path;
        assert_onr(cases[i].rc, svc_setup(svc, &def));
        assert_null(svc->metrics);
        svc_cleanup(svc);
        free(svc);
    }
}

/* ---- several brokers ------------------------------------------------------------------ */

static void release_via(struct onr_service *svc, size_t via)
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_msg release = {.type = ONR_MSG_RELEASE};
    uint8_t id[ONR_MSG_ID_LEN];

    release.body.release.dev = ONR_BYTES_STR(DEV);
    deliver_via(svc, via, INBOX, buf, from_prov(&release, INBOX, buf, id));
}

/* The sends of `type` to broker `broker` since `from`. */
static size_t sent_to(size_t from, size_t broker, int type)
{
    size_t n = 0;

    for (size_t i = from; i < n_sent; i++)
        if (sent[i].broker == broker && sent_type(i) == type)
            n++;
    return n;
}

/* A revoke goes to every broker as one envelope, waits in a row per broker
 * and is confirmed per broker; it stays in force. */
static void test_a_request_goes_to_every_broker_and_is_confirmed_per_broker(void **state)
{
    struct fixture *f = *state;
    uint8_t revoke[ONR_MSG_ID_LEN];

    release_via(f->svc, 1);
    for (size_t b = 0; b < 3; b++)
        assert_int_equal(sent_to(0, b, ONR_MSG_REVOKE), 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 3);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 1);
    sent_id(0, revoke);
    control_result_via(f->svc, 0, revoke, ONR_OK, epoch_one);
    control_result_via(f->svc, 2, revoke, ONR_OK, epoch_one);
    /* b2's row alone waits: one broker's answer confirms nothing for another */
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending WHERE peer = 'b2'"), 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    control_result_via(f->svc, 1, revoke, ONR_OK, epoch_one);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 1);
}

/* A burst of brokers' confirmations alone shares the next burst's commit
 * (a sync each was most of what several brokers cost): it stays open until
 * another message comes, or commits by itself after a short wait. A
 * message that says something is committed and said at once. */
static void test_confirmations_alone_wait_for_the_next_commit(void **state)
{
    struct fixture *f = *state;
    uint8_t revoke[ONR_MSG_ID_LEN];
    size_t before;

    release_via(f->svc, 1);
    assert_false(batch_is_open(f->svc->batch)); /* its revokes were said */
    sent_id(0, revoke);
    control_result_via(f->svc, 0, revoke, ONR_OK, epoch_one);
    assert_true(batch_is_open(f->svc->batch));
    control_result_via(f->svc, 2, revoke, ONR_OK, epoch_one);
    assert_true(batch_is_open(f->svc->batch));
    /* nothing else comes: committed after the wait */
    while (batch_is_open(f->svc->batch))
        event_base_loop(f->svc->base, EVLOOP_ONCE);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    /* a message with something to say: committed with the waiting one at
     * once, and said */
    control_result_via(f->svc, 1, revoke, ONR_OK, epoch_one);
    assert_true(batch_is_open(f->svc->batch));
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    before = n_sent;
    release_via(f->svc, 1);
    assert_false(batch_is_open(f->svc->batch));
    assert_true(n_sent > before);
}

/* b3's rows become those of a broker b9 the configuration does not name,
 * and the service starts again. */
static void restart_without_b9(struct fixture *f)
{
    assert_onr(ONR_OK, onr_db_run(f->svc->db, "UPDATE pending SET peer = 'b9' WHERE peer = 'b3'",
                                  ONR_DB_NO_ARGS));
    svc_cleanup(f->svc);
    f->svc->config_path = f->config_path;
    assert_onr(ONR_OK, svc_setup(f->svc, &def));
}

/* A revoke that only undoes leaves what is in force once no broker waits
 * for it (confirmed, or settled by its refusal), not before: a broker that
 * starts empty is then sent nothing of it. */
static void test_a_revoke_settled_everywhere_is_no_longer_in_force(void **state)
{
    struct fixture *f = *state;
    static const uint8_t epoch_two[ONR_BROKER_EPOCH_LEN] = {2};
    uint8_t revoke[ONR_MSG_ID_LEN];
    size_t before;

    release_kind = "undo";
    release_via(f->svc, 1);
    sent_id(0, revoke);
    control_result_via(f->svc, 0, revoke, ONR_OK, epoch_one);
    control_result_via(f->svc, 2, revoke, ONR_ENOENT, epoch_one); /* done: no grant there */
    /* b2 still waits for it: in force, for b2 and for a new broker */
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 1);
    control_result_via(f->svc, 1, revoke, ONR_OK, epoch_one);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 0);
    /* b2 comes back empty: nothing to send it */
    broker_stats(f->svc, 1, "b2", epoch_two);
    before = n_sent;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(n_sent, before);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
}

/* One whose last broker was taken out of the configuration goes at the
 * next start, with that broker's rows. */
static void test_a_revoke_waiting_for_a_forgotten_broker_goes_at_start(void **state)
{
    struct fixture *f = *state;
    uint8_t revoke[ONR_MSG_ID_LEN];

    release_kind = "undo";
    release_via(f->svc, 0);
    sent_id(0, revoke);
    control_result_via(f->svc, 0, revoke, ONR_OK, epoch_one);
    control_result_via(f->svc, 1, revoke, ONR_OK, epoch_one);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 1);
    restart_without_b9(f);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 0);
}

/* A request needed until a time (a certificate's revocation) stays in
 * force, every broker's confirmation notwithstanding, until then; the
 * hourly sweep then takes it. */
static void test_a_request_past_its_time_is_no_longer_in_force(void **state)
{
    struct fixture *f = *state;
    uint8_t revoke[ONR_MSG_ID_LEN];

    release_kind = "expiring";
    expiring_until = now + 60;
    f->svc->in_force_swept_at = now;
    release_via(f->svc, 0);
    sent_id(0, revoke);
    for (size_t b = 0; b < 3; b++)
        control_result_via(f->svc, b, revoke, ONR_OK, epoch_one);
    now += 3600;
    expiring_until = now + 1; /* not yet */
    svc_delivery_tick(f->svc, NULL);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 1);
    now += 3600;
    svc_delivery_tick(f->svc, NULL);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM in_force"), 0);
}

/* A broker that is down stops nothing: the others are served and resent
 * to; its rows wait for it, then go to it alone. */
static void test_a_broker_down_stops_no_other(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t before;

    release_via(f->svc, 0);
    f->svc->brokers[2].connected = 0;
    /* an alignment through b2 is answered on b2 */
    before = n_sent;
    deliver_via(f->svc, 1, INBOX, buf, alignment(buf, id));
    assert_int_equal(sent_to(before, 1, ONR_MSG_ALIGNED), 1);
    assert_string_equal(region_seen, "208");
    /* the revoke is resent to b1 and b2, not to b3 */
    now += ONR_DELIVERY_MAX_DELAY;
    before = n_sent;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(sent_to(before, 0, ONR_MSG_REVOKE), 1);
    assert_int_equal(sent_to(before, 1, ONR_MSG_REVOKE), 1);
    assert_int_equal(sent_to(before, 2, ONR_MSG_REVOKE), 0);
    assert_int_equal(count(f->svc, "SELECT attempts FROM pending WHERE peer = 'b3'"), 1);
    /* back: its row goes to it */
    f->svc->brokers[2].connected = 1;
    before = n_sent;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(sent_to(before, 2, ONR_MSG_REVOKE), 1);
    assert_int_equal(n_sent - before, 1);
}

/* A broker whose counters show a new epoch (restored with an empty disk)
 * is sent everything in force again, on its connection alone, and is
 * confirmed with that epoch; an answer with an epoch not brought up to
 * date confirms nothing. */
static void test_a_broker_with_a_new_epoch_gets_everything_in_force(void **state)
{
    struct fixture *f = *state;
    static const uint8_t epoch_two[ONR_BROKER_EPOCH_LEN] = {2};
    uint8_t revoke[ONR_MSG_ID_LEN], again[ONR_MSG_ID_LEN];
    size_t before;

    release_via(f->svc, 0);
    sent_id(0, revoke);
    for (size_t b = 0; b < 3; b++)
        control_result_via(f->svc, b, revoke, ONR_OK, epoch_one);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    /* the same epoch again: nothing to do */
    broker_stats(f->svc, 1, "b2", epoch_one);
    svc_delivery_tick(f->svc, NULL);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    /* b2 comes back with an empty journal */
    broker_stats(f->svc, 1, "b2", epoch_two);
    before = n_sent;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending WHERE peer = 'b2'"), 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 1);
    assert_int_equal(sent_to(before, 1, ONR_MSG_REVOKE), 1);
    assert_int_equal(n_sent - before, 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM broker_epochs WHERE broker = 'b2'"
                                   " AND epoch = x'02000000000000000000000000000000'"), 1);
    sent_id(n_sent - 1, again);
    control_result_via(f->svc, 1, again, ONR_OK, epoch_two);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    /* b1 answers with an epoch it was never brought up to date at */
    release_via(f->svc, 0);
    sent_id(n_sent - 3, revoke);
    control_result_via(f->svc, 0, revoke, ONR_OK, epoch_two);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending WHERE peer = 'b1'"), 1);
}

/* A broker's counters heard before its first confirmation (as at a
 * service's connect): what is still pending there is not sent a second
 * time, and the answer to its first send confirms it. */
static void test_a_new_epoch_leaves_what_is_pending_there(void **state)
{
    struct fixture *f = *state;
    static const uint8_t epoch_two[ONR_BROKER_EPOCH_LEN] = {2};
    uint8_t revoke[ONR_MSG_ID_LEN];
    size_t before;

    release_via(f->svc, 0);
    sent_id(0, revoke);
    broker_stats(f->svc, 1, "b2", epoch_two);
    before = n_sent;
    svc_delivery_tick(f->svc, NULL);
    event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
    assert_int_equal(sent_to(before, 1, ONR_MSG_REVOKE), 0);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM broker_epochs WHERE broker = 'b2'"
                                   " AND epoch = x'02000000000000000000000000000000'"), 1);
    control_result_via(f->svc, 1, revoke, ONR_OK, epoch_two);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending WHERE peer = 'b2'"), 0);
}

/* The counters of another broker on a connection: a misconfigured name,
 * refused. */
static void test_a_broker_is_known_by_its_configured_name(void **state)
{
    struct fixture *f = *state;
    static const uint8_t epoch_two[ONR_BROKER_EPOCH_LEN] = {2};

    broker_stats(f->svc, 0, "b2", epoch_two);
    svc_delivery_tick(f->svc, NULL);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(f->svc->brokers[0].resync_due, 0);
    assert_int_equal(f->svc->brokers[1].resync_due, 0);
}

/* A message heard through two brokers is handled once; each copy is
 * answered on the broker it came through. */
static void test_a_message_through_two_brokers_is_handled_once(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t len = alignment(buf, id);

    deliver_via(f->svc, 0, INBOX, buf, len);
    deliver_via(f->svc, 2, INBOX, buf, len);
    assert_int_equal(decided, 1);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM things"), 1);
    assert_int_equal(sent_to(0, 0, ONR_MSG_ALIGNED), 1);
    assert_int_equal(sent_to(0, 2, ONR_MSG_ALIGNED), 1);
    assert_int_equal(stats(f->svc).duplicates, 1);
}

/* A device's attach request (signed by nobody: the type is not), as its
 * device sends it again after a lost answer: the same envelope. */
static size_t attach_request(uint8_t *out)
{
    struct onr_envelope_signer device = {ONR_ROLE_DEVICE, ONR_BYTES_STR(DEV), NULL, {NULL, 0}};
    struct onr_msg msg = {.type = ONR_MSG_ATTACH_REQUEST};
    char up[ONR_TOPIC_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t len = 0;

    msg.body.attach_request.imsi = ONR_BYTES_STR("001010000000001");
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_OPERATOR, "op-t", up, sizeof(up)));
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &device,
                                           (struct onr_bytes){(const uint8_t *)up, strlen(up)},
                                           now, out, ONR_ENVELOPE_MAX, &len, id));
    return len;
}

/* SPEC section 2: an answer to a device goes at QoS 0 (the broker owes the
 * service no PUBACK for it); a device that did not get it asks again and
 * is answered again from the outbox, at QoS 0 again, without deciding
 * twice. Everything to a service's inbox goes at QoS 1. */
static void test_answers_to_devices_go_at_qos_0_and_are_given_again(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    char up[ONR_TOPIC_MAX + 1];
    size_t len = attach_request(buf);

    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_OPERATOR, "op-t", up, sizeof(up)));
    deliver(f->svc, up, buf, len);
    assert_int_equal(n_sent, 1);
    assert_string_equal(sent[0].topic, "onr/1/d/" DEV "/down");
    assert_int_equal(sent_type(0), ONR_MSG_PENDING);
    assert_int_equal(sent[0].qos, 0);
    /* the answer was lost: the device asks again */
    deliver(f->svc, up, buf, len);
    assert_int_equal(decided, 1);
    assert_int_equal(n_sent, 2);
    assert_memory_equal(sent[1].payload, sent[0].payload, sent[0].len);
    assert_int_equal(sent[1].qos, 0);
    /* a service's answer, and what it sends confirmed, at QoS 1 */
    len = alignment(buf, id);
    deliver(f->svc, INBOX, buf, len);
    assert_int_equal(n_sent, 4);
    assert_int_equal(sent[2].qos, 1);
    assert_int_equal(sent[3].qos, 1);
}

/* An answer that follows a request to $CONTROL (an attach result after its
 * grant) goes at QoS 1 behind it: at QoS 0 it could overtake the request
 * that libmosquitto holds back, and the device would be answered before
 * the broker lets it on. */
static void test_an_answer_after_a_control_request_keeps_its_place(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    char up[ONR_TOPIC_MAX + 1];
    size_t len = attach_request(buf);

    control_first = 1;
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_OPERATOR, "op-t", up, sizeof(up)));
    deliver(f->svc, up, buf, len);
    assert_int_equal(n_sent, 2);
    assert_string_equal(sent[0].topic, ONR_TOPIC_CONTROL);
    assert_int_equal(sent[0].qos, 1);
    assert_int_equal(sent_type(1), ONR_MSG_PENDING);
    assert_int_equal(sent[1].qos, 1);
}

/* SPEC section 2: a service subscribes to its devices' requests at QoS 0
 * (the broker keeps none for it while it is away: each lives only while
 * its device waits), and to the rest at QoS 1, shared or not. */
static void test_devices_requests_are_subscribed_at_qos_0(void **state)
{
    char filter[ONR_TOPIC_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, onr_topic_filter_up(NULL, ONR_ROLE_OPERATOR, "op-t", filter,
                                           sizeof(filter)));
    assert_int_equal(svc_subscription_qos(filter), 0);
    assert_int_equal(svc_subscription_qos(INBOX), 1);
    assert_onr(ONR_OK, onr_topic_filter_ev(NULL, ONR_ROLE_BROKER, NULL, filter, sizeof(filter)));
    assert_int_equal(svc_subscription_qos(filter), 1);
    assert_int_equal(svc_subscription_qos(ONR_TOPIC_CONTROL_RESPONSE), 1);
}

/* A broker taken out of the configuration: its rows and epoch are
 * forgotten at start (back later, it is brought up to date again). */
static void test_a_broker_no_longer_configured_is_forgotten(void **state)
{
    struct fixture *f = *state;

    release_via(f->svc, 0);
    assert_onr(ONR_OK, onr_db_run(f->svc->db, "INSERT INTO broker_epochs VALUES ('b9', x'01')",
                                  ONR_DB_NO_ARGS));
    restart_without_b9(f);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM pending"), 2);
    assert_int_equal(count(f->svc, "SELECT count(*) FROM broker_epochs"), 0);
}

/* Where a publication goes: a device's answer back through the broker of
 * its request, a push to a device through every broker, a peer's through
 * the broker of the message being handled while it is up, else another;
 * a control tool's through every broker (it is on one: a pairing's answer
 * follows the manufacturer's registration, which may have come through
 * another broker than the tool's request). */
static void test_publications_take_the_right_brokers(void **state)
{
    struct fixture *f = *state;
    static const char other[] = "onr/1/d/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/down";

    f->svc->via = 1;
    f->svc->via_topic = "onr/1/d/" DEV "/up/mfr/acme";
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/d/" DEV "/down"), 1u << 1);
    assert_int_equal(svc_route_mask(f->svc, 0, other), 7);
    assert_int_equal(svc_route_mask(f->svc, 0, PROV_INBOX), 1u << 1);
    assert_int_equal(svc_route_mask(f->svc, 4, PROV_INBOX), 4);
    f->svc->via_topic = "onr/1/p/prov-a/dev/" DEV "/telemetry";
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/p/prov-a/dev/" DEV "/down"), 1u << 1);
    f->svc->via_topic = INBOX;
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/d/" DEV "/down"), 7);
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/p/prov-a/dev/" DEV "/down"), 7);
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/s/ctl/ops/in"), 7);
    f->svc->brokers[1].connected = 0;
    assert_int_equal(svc_route_mask(f->svc, 0, PROV_INBOX), 1u << 0);
    f->svc->via = -1;
    f->svc->via_topic = NULL;
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/d/" DEV "/down"), 7);
    assert_int_equal(svc_route_mask(f->svc, 0, PROV_INBOX), 1u << 0);
    assert_int_equal(svc_route_mask(f->svc, 0, "onr/1/s/ctl/ops/in"), 7);
}

/* A message to a peer service is resent on each connected broker in turn
 * (the peer may not be on all of ours). */
static void test_a_peer_is_resent_to_on_each_broker_in_turn(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[ONR_ENVELOPE_MAX];
    uint8_t id[ONR_MSG_ID_LEN];
    size_t before;
    int seen = 0;

    deliver_via(f->svc, 0, INBOX, buf, alignment(buf, id));
    f->svc->brokers[1].connected = 0;
    for (int i = 0; i < 4; i++) {
        now = pending_next_at(f->svc);
        before = n_sent;
        svc_delivery_tick(f->svc, NULL);
        event_base_loop(f->svc->base, EVLOOP_NONBLOCK);
        assert_int_equal(n_sent - before, 1);
        assert_int_not_equal(sent[before].broker, 1);
        seen |= 1 << sent[before].broker;
    }
    assert_int_equal(seen, (1 << 0) | (1 << 2));
}

/* The configuration's brokers: names unique, at most 8, a region an MCC,
 * not both forms. */
static void test_the_broker_lines_are_checked(void **state)
{
    static const char *const bad[] = {
        "broker b1 h 1\nbroker b1 h 2\n",
        "broker b1 h 1 region=20\n",
        "broker b1 h 0\n",
        "broker B! h 1\n",
        "broker b1 h\n",
        "broker b1 h 1\nbroker_host h\nbroker_port 1\n",
        "broker a h 1\nbroker b h 1\nbroker c h 1\nbroker d h 1\nbroker e h 1\n"
        "broker f h 1\nbroker g h 1\nbroker h h 1\nbroker i h 1\n",
        "",
    };
    struct fixture *f = *state;
    char path[4096];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct onr_service *svc = calloc(1, sizeof(*svc));

        write_config(f->dir, "bad", bad[i], "", path);
        svc->config_path = path;
        assert_int_not_equal(svc_setup(svc, &def), ONR_OK);
        svc_cleanup(svc);
        free(svc);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T3(name) cmocka_unit_test_setup_teardown(name, setup_three, teardown)

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
        T(test_a_duplicate_confirmation_gets_the_hooks_answer_again),
        T(test_a_failing_hook_keeps_the_message_pending),
        T(test_a_refusal_gets_the_kinds_verdict),
        T(test_a_refusal_by_the_broker_follows_the_kinds_data),
        T(test_a_forged_answer_confirms_nothing),
        T(test_the_wait_is_capped_and_nothing_is_sent_while_disconnected),
        T(test_the_counters_count_what_is_pending),
        T3(test_a_request_goes_to_every_broker_and_is_confirmed_per_broker),
        T3(test_confirmations_alone_wait_for_the_next_commit),
        T3(test_a_revoke_settled_everywhere_is_no_longer_in_force),
        T3(test_a_revoke_waiting_for_a_forgotten_broker_goes_at_start),
        T3(test_a_request_past_its_time_is_no_longer_in_force),
        T3(test_a_broker_down_stops_no_other),
        T3(test_a_broker_with_a_new_epoch_gets_everything_in_force),
        T3(test_a_new_epoch_leaves_what_is_pending_there),
        T3(test_a_broker_is_known_by_its_configured_name),
        T3(test_a_message_through_two_brokers_is_handled_once),
        T(test_answers_to_devices_go_at_qos_0_and_are_given_again),
        T(test_an_answer_after_a_control_request_keeps_its_place),
        T(test_devices_requests_are_subscribed_at_qos_0),
        T3(test_a_broker_no_longer_configured_is_forgotten),
        T3(test_publications_take_the_right_brokers),
        T3(test_a_peer_is_resent_to_on_each_broker_in_turn),
        T3(test_the_broker_lines_are_checked),
        T(test_metrics_are_the_counters_by_type_and_kind),
        T(test_a_scrape_reads_what_the_tick_read),
        T(test_pending_rows_of_no_kind_count_as_other),
        T(test_metrics_listen_is_loopback_unless_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
