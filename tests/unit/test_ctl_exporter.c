/*
 * onrampctl exporter's memory of the brokers' counters
 * (services/ctl/exporter.h): what it takes from which topic and sender,
 * what it refuses, and the metrics it writes.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/topic.h"

#define NOW 1900000000u

struct fixture {
    struct ctl_exporter x;
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len;
    char topic[ONR_TOPIC_MAX + 1];
    uint8_t epoch[16];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    for (size_t i = 0; i < sizeof(f->epoch); i++)
        f->epoch[i] = (uint8_t)(0xa0 + i);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* Broker `sender`'s counters (grants = `grants`, devices = 2) for the ev
 * topic of broker `on`, into f->buf and f->topic. */
static void counters(struct fixture *f, const char *sender, const char *on, uint64_t grants)
{
    struct onr_msg msg = {.type = ONR_MSG_BROKER_STATS};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_BROKER,
        .sender = {(const uint8_t *)sender, strlen(sender)},
    };

    msg.body.broker_stats.epoch = (struct onr_bytes){f->epoch, sizeof(f->epoch)};
    msg.body.broker_stats.uptime = 42;
    msg.body.broker_stats.connects = 7;
    msg.body.broker_stats.grants = grants;
    msg.body.broker_stats.devices = 2;
    msg.body.broker_stats.services = 3;
    assert_onr(ONR_OK, onr_topic_ev(ONR_ROLE_BROKER, on, f->topic, sizeof(f->topic)));
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &self,
                                           (struct onr_bytes){(const uint8_t *)f->topic,
                                                              strlen(f->topic)},
                                           NOW, f->buf, sizeof(f->buf), &f->len, NULL));
}

static int record(struct fixture *f, uint64_t now)
{
    return ctl_exporter_record(&f->x, f->topic, f->buf, f->len, now);
}

/* The metrics as text (a static copy). */
static const char *collect(struct fixture *f)
{
    static char text[64 * 1024];
    struct onr_metrics m;

    onr_metrics_init(&m);
    assert_onr(ONR_OK, ctl_exporter_collect(&f->x, &m));
    snprintf(text, sizeof(text), "%s", onr_metrics_text(&m, NULL));
    onr_metrics_cleanup(&m);
    return text;
}

static void test_exporter_takes_a_brokers_counters(void **state)
{
    struct fixture *f = *state;
    const char *text;

    counters(f, "bootstrap-1", "bootstrap-1", 5);
    assert_onr(ONR_OK, record(f, NOW + 1));
    text = collect(f);
    assert_non_null(strstr(text, "\nonramp_broker_grants_total{broker=\"bootstrap-1\"} 5\n"));
    assert_non_null(strstr(text, "\nonramp_broker_connects_total{broker=\"bootstrap-1\"} 7\n"));
    assert_non_null(strstr(text, "\nonramp_broker_refused_total{broker=\"bootstrap-1\"} 0\n"));
    assert_non_null(strstr(text, "\nonramp_broker_uptime_seconds{broker=\"bootstrap-1\"} 42\n"));
    assert_non_null(strstr(text, "\nonramp_broker_devices_connected{broker=\"bootstrap-1\"} 2\n"));
    assert_non_null(
        strstr(text, "\nonramp_broker_services_connected{broker=\"bootstrap-1\"} 3\n"));
    assert_non_null(strstr(text, "\nonramp_broker_last_heard_timestamp_seconds{broker=\"bootstrap-"
                                 "1\"} 1900000001\n"));
    assert_non_null(strstr(text, "\nonramp_broker_epoch_info{broker=\"bootstrap-1\",epoch=\""
                                 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE onramp_broker_grants_total counter\n"));
    assert_non_null(strstr(text, "# TYPE onramp_broker_devices_connected gauge\n"));
    assert_non_null(strstr(text, "\nonramp_exporter_counters_received_total 1\n"));
    assert_non_null(strstr(text, "\nonramp_exporter_messages_refused_total 0\n"));
}

static void test_exporter_keeps_each_brokers_latest(void **state)
{
    struct fixture *f = *state;
    const char *text;

    counters(f, "b-1", "b-1", 1);
    assert_onr(ONR_OK, record(f, NOW));
    counters(f, "b-2", "b-2", 20);
    assert_onr(ONR_OK, record(f, NOW));
    counters(f, "b-1", "b-1", 3);
    assert_onr(ONR_OK, record(f, NOW + 5));
    assert_int_equal(f->x.n_brokers, 2);
    text = collect(f);
    /* one family, a sample per broker, in the order they were first heard */
    assert_non_null(strstr(text, "# TYPE onramp_broker_grants_total counter\n"
                                 "onramp_broker_grants_total{broker=\"b-1\"} 3\n"
                                 "onramp_broker_grants_total{broker=\"b-2\"} 20\n"));
    assert_non_null(strstr(text, "onramp_broker_last_heard_timestamp_seconds{broker=\"b-1\"} "
                                 "1900000005\n"));
    assert_non_null(strstr(text, "onramp_broker_last_heard_timestamp_seconds{broker=\"b-2\"} "
                                 "1900000000\n"));
}

static void test_exporter_refuses_counters_from_another_sender(void **state)
{
    struct fixture *f = *state;

    /* a broker's counters on another broker's topic */
    counters(f, "b-1", "b-2", 1);
    assert_onr(ONR_ESCHEMA, record(f, NOW));
    assert_int_equal(f->x.n_brokers, 0);
    assert_int_equal(f->x.refused, 1);
    assert_null(strstr(collect(f), "broker=\"b-"));
}

static void test_exporter_refuses_other_messages(void **state)
{
    struct fixture *f = *state;
    struct onr_p256_key *key = NULL;
    struct onr_msg msg = {.type = ONR_MSG_SERVICE_STATS};
    struct onr_envelope_signer svc = {.role = ONR_ROLE_OPERATOR,
                                      .sender = {(const uint8_t *)"op-1", 4}};
    uint8_t garbage[] = {0x93, 0x01, 0x02};

    /* a broker's counters on a topic that is no broker's counters topic */
    counters(f, "b-1", "b-1", 1);
    assert_onr(ONR_ESCHEMA, ctl_exporter_record(&f->x, "onr/1/s/op/b-1/ev", f->buf, f->len, NOW));
    assert_true(ctl_exporter_record(&f->x, "onr/1/s/broker/b-1/in", f->buf, f->len, NOW) !=
                ONR_OK);
    assert_true(ctl_exporter_record(&f->x, "onr/1/s/broker/+/ev", f->buf, f->len, NOW) !=
                ONR_OK);
    assert_true(ctl_exporter_record(&f->x, "", f->buf, f->len, NOW) != ONR_OK);
    /* a service's counters on a broker's topic */
    assert_onr(ONR_OK, onr_p256_generate(&key));
    svc.key = key;
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &svc,
                                           (struct onr_bytes){(const uint8_t *)f->topic,
                                                              strlen(f->topic)},
                                           NOW, f->buf, sizeof(f->buf), &f->len, NULL));
    onr_p256_free(key);
    assert_onr(ONR_ESCHEMA, record(f, NOW));
    /* not an envelope; truncated; empty */
    assert_true(ctl_exporter_record(&f->x, f->topic, garbage, sizeof(garbage), NOW) != ONR_OK);
    counters(f, "b-1", "b-1", 1);
    assert_true(ctl_exporter_record(&f->x, f->topic, f->buf, f->len - 1, NOW) != ONR_OK);
    assert_true(ctl_exporter_record(&f->x, f->topic, f->buf, 0, NOW) != ONR_OK);
    assert_int_equal(f->x.n_brokers, 0);
    assert_int_equal(f->x.refused, 8);
    assert_non_null(strstr(collect(f), "\nonramp_exporter_messages_refused_total 8\n"));
}

static void test_exporter_remembers_a_bounded_number_of_brokers(void **state)
{
    struct fixture *f = *state;
    char name[16];

    for (size_t i = 0; i < CTL_EXPORTER_BROKERS_MAX; i++) {
        snprintf(name, sizeof(name), "b-%zu", i);
        counters(f, name, name, i);
        assert_onr(ONR_OK, record(f, NOW));
    }
    counters(f, "one-more", "one-more", 1);
    assert_onr(ONR_ECOUNT, record(f, NOW));
    /* those it knows still update */
    counters(f, "b-0", "b-0", 99);
    assert_onr(ONR_OK, record(f, NOW));
    assert_non_null(strstr(collect(f), "onramp_broker_grants_total{broker=\"b-0\"} 99\n"));
}

static void test_exporter_writes_its_families_before_any_broker(void **state)
{
    struct fixture *f = *state;
    const char *text = collect(f);

    assert_non_null(strstr(text, "# TYPE onramp_broker_grants_total counter\n"));
    assert_non_null(strstr(text, "# TYPE onramp_broker_last_heard_timestamp_seconds gauge\n"));
    assert_null(strstr(text, "broker=\""));
}

static void test_exporter_has_a_metric_for_every_counter_field(void **state)
{
    struct onr_msg msg = {.type = ONR_MSG_BROKER_STATS};
    struct onr_msg_field field;
    size_t n = 0;

    (void)state;
    for (size_t i = 0; onr_msg_field_at(&msg, i, &field) == ONR_OK; i++) {
        const char *name = NULL;
        const char *help = NULL;
        enum onr_metric_type type = 0;
        int rc = ctl_exporter_metric(field.key, &name, &type, &help);
        char expected[128];

        if (field.kind != ONR_VALUE_UINT) {
            assert_onr(ONR_ENOENT, rc); /* the epoch: its info metric */
            continue;
        }
        n++;
        if (rc != ONR_OK)
            fail_msg("broker_stats field %s has no metric", field.key);
        if (type == ONR_METRIC_COUNTER) {
            /* the README's rule: field F is onramp_broker_F_total */
            snprintf(expected, sizeof(expected), "onramp_broker_%s_total", field.key);
            assert_string_equal(name, expected);
        }
    }
    assert_true(n >= 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exporter_takes_a_brokers_counters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exporter_keeps_each_brokers_latest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exporter_refuses_counters_from_another_sender,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exporter_refuses_other_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exporter_remembers_a_bounded_number_of_brokers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exporter_writes_its_families_before_any_broker,
                                        setup, teardown),
        cmocka_unit_test(test_exporter_has_a_metric_for_every_counter_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
