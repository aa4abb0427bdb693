/* The Prometheus text exposition format (<onramp/metrics.h>): the text
 * written, and every rule of the format the writer keeps. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/metrics.h"

static const double bounds[] = {0.001, 0.01, 0.1};

static void test_metrics_writes_every_kind_of_family(void **state)
{
    struct onr_metrics m;
    struct onr_histogram h;
    struct onr_metric_label hello[] = {{"type", "hello"}};
    struct onr_metric_label profile[] = {{"type", "profile_request"}};

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_histogram_init(&h, bounds, 3));
    /* binary fractions: their sum is exact */
    onr_histogram_observe(&h, 0.000244140625);
    onr_histogram_observe(&h, 0.0009765625);
    onr_histogram_observe(&h, 0.0625);
    onr_histogram_observe(&h, 3);
    assert_onr(ONR_OK, onr_metrics_family(&m, "onramp_messages_handled_total",
                                          ONR_METRIC_COUNTER, "Messages handled, by type."));
    assert_onr(ONR_OK, onr_metrics_counter(&m, hello, 1, 3));
    assert_onr(ONR_OK, onr_metrics_counter(&m, profile, 1, 0));
    assert_onr(ONR_OK, onr_metrics_family(&m, "onramp_broker_connected", ONR_METRIC_GAUGE,
                                          "1 while connected."));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, NULL, 0, 1));
    assert_onr(ONR_OK, onr_metrics_family(&m, "onramp_message_handling_seconds",
                                          ONR_METRIC_HISTOGRAM, "Handling time."));
    assert_onr(ONR_OK, onr_metrics_histogram(&m, NULL, 0, &h));
    assert_onr(ONR_OK, onr_metrics_status(&m));
    assert_string_equal(onr_metrics_text(&m, NULL),
                        "# HELP onramp_messages_handled_total Messages handled, by type.\n"
                        "# TYPE onramp_messages_handled_total counter\n"
                        "onramp_messages_handled_total{type=\"hello\"} 3\n"
                        "onramp_messages_handled_total{type=\"profile_request\"} 0\n"
                        "# HELP onramp_broker_connected 1 while connected.\n"
                        "# TYPE onramp_broker_connected gauge\n"
                        "onramp_broker_connected 1\n"
                        "# HELP onramp_message_handling_seconds Handling time.\n"
                        "# TYPE onramp_message_handling_seconds histogram\n"
                        "onramp_message_handling_seconds_bucket{le=\"0.001\"} 2\n"
                        "onramp_message_handling_seconds_bucket{le=\"0.01\"} 2\n"
                        "onramp_message_handling_seconds_bucket{le=\"0.1\"} 3\n"
                        "onramp_message_handling_seconds_bucket{le=\"+Inf\"} 4\n"
                        "onramp_message_handling_seconds_sum 3.063720703125\n"
                        "onramp_message_handling_seconds_count 4\n");
    onr_metrics_cleanup(&m);
}

static void test_metrics_histogram_labels_come_before_le(void **state)
{
    struct onr_metrics m;
    struct onr_histogram h;
    struct onr_metric_label kind[] = {{"kind", "grant"}};

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_histogram_init(&h, bounds, 1));
    assert_onr(ONR_OK, onr_metrics_family(&m, "x_seconds", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_OK, onr_metrics_histogram(&m, kind, 1, &h));
    assert_non_null(strstr(onr_metrics_text(&m, NULL),
                           "x_seconds_bucket{kind=\"grant\",le=\"0.001\"} 0\n"
                           "x_seconds_bucket{kind=\"grant\",le=\"+Inf\"} 0\n"
                           "x_seconds_sum{kind=\"grant\"} 0\n"
                           "x_seconds_count{kind=\"grant\"} 0\n"));
    onr_metrics_cleanup(&m);
}

static void test_metrics_sorts_labels_by_name(void **state)
{
    struct onr_metrics m;
    struct onr_metric_label labels[] = {{"zone", "b"}, {"broker", "a"}, {"kind", "c"}};

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, labels, 3, 2));
    assert_non_null(strstr(onr_metrics_text(&m, NULL),
                           "x{broker=\"a\",kind=\"c\",zone=\"b\"} 2\n"));
    onr_metrics_cleanup(&m);
}

static void test_metrics_escapes_label_values(void **state)
{
    struct onr_metrics m;
    struct onr_metric_label l[] = {{"v", "a\\b\"c\nd"}};
    struct onr_metric_label utf8[] = {{"v", "caf\xc3\xa9 \xe2\x82\xac"}};

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, l, 1, 1));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, utf8, 1, 1));
    assert_non_null(strstr(onr_metrics_text(&m, NULL), "x{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
    assert_non_null(strstr(onr_metrics_text(&m, NULL), "x{v=\"caf\xc3\xa9 \xe2\x82\xac\"} 1\n"));
    onr_metrics_cleanup(&m);
}

static void test_metrics_escapes_help(void **state)
{
    struct onr_metrics m;

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "a \\ b\n\"c\""));
    assert_string_equal(onr_metrics_text(&m, NULL),
                        "# HELP x a \\\\ b\\n\"c\"\n# TYPE x gauge\n");
    onr_metrics_cleanup(&m);
}

/* A text with one family started by name/type: the code returned. */
static int family(const char *name, enum onr_metric_type type, const char *help)
{
    struct onr_metrics m;
    int rc;

    onr_metrics_init(&m);
    rc = onr_metrics_family(&m, name, type, help);
    if (rc == ONR_OK)
        assert_int_equal(m.len, strlen(onr_metrics_text(&m, NULL)));
    else
        assert_int_equal(m.len, 0); /* nothing written */
    onr_metrics_cleanup(&m);
    return rc;
}

static void test_metrics_refuses_bad_metric_names(void **state)
{
    char long_name[ONR_METRICS_NAME_MAX + 2];

    (void)state;
    assert_onr(ONR_OK, family("onramp_up", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, family("_Private9", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family(NULL, ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("9lives", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("onramp-up", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("onramp:up", ONR_METRIC_GAUGE, "x")); /* rules' names */
    assert_onr(ONR_EINVAL, family("onramp up", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("caf\xc3\xa9", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EINVAL, family("x", 0, "x"));
    assert_onr(ONR_EINVAL, family("x", ONR_METRIC_HISTOGRAM + 1, "x"));
    assert_onr(ONR_EINVAL, family("x", ONR_METRIC_GAUGE, NULL));
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_onr(ONR_EINVAL, family(long_name, ONR_METRIC_GAUGE, "x"));
    long_name[ONR_METRICS_NAME_MAX] = '\0';
    assert_onr(ONR_OK, family(long_name, ONR_METRIC_GAUGE, "x"));
    /* a histogram's _bucket name must fit too */
    assert_onr(ONR_EINVAL, family(long_name, ONR_METRIC_HISTOGRAM, "x"));
}

static void test_metrics_counters_end_in_total_histograms_in_no_suffix(void **state)
{
    (void)state;
    assert_onr(ONR_OK, family("onramp_grants_total", ONR_METRIC_COUNTER, "x"));
    assert_onr(ONR_EINVAL, family("onramp_grants", ONR_METRIC_COUNTER, "x"));
    assert_onr(ONR_OK, family("onramp_commit_seconds", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_EINVAL, family("onramp_commit_total", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_EINVAL, family("onramp_commit_bucket", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_EINVAL, family("onramp_commit_sum", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_EINVAL, family("onramp_commit_count", ONR_METRIC_HISTOGRAM, "x"));
}

static void test_metrics_refuses_help_that_is_not_text(void **state)
{
    (void)state;
    assert_onr(ONR_OK, family("x", ONR_METRIC_GAUGE, ""));
    assert_onr(ONR_ECHARSET, family("x", ONR_METRIC_GAUGE, "a\tb"));
    assert_onr(ONR_ECHARSET, family("x", ONR_METRIC_GAUGE, "a\rb"));
    assert_onr(ONR_ECHARSET, family("x", ONR_METRIC_GAUGE, "\xff"));
    assert_onr(ONR_ECHARSET, family("x", ONR_METRIC_GAUGE, "\xc0\xaf")); /* overlong */
}

static void test_metrics_refuses_a_name_twice(void **state)
{
    struct onr_metrics m;

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "a", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EEXIST, onr_metrics_family(&m, "a", ONR_METRIC_GAUGE, "x"));
    onr_metrics_cleanup(&m);
    /* a histogram's names are taken with it, both ways */
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "h", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_EEXIST, onr_metrics_family(&m, "h_count", ONR_METRIC_GAUGE, "x"));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "h_sum", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EEXIST, onr_metrics_family(&m, "h", ONR_METRIC_HISTOGRAM, "x"));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "h_bucket", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EEXIST, onr_metrics_family(&m, "h", ONR_METRIC_HISTOGRAM, "x"));
    onr_metrics_cleanup(&m);
}

/* One gauge sample with `labels`: the code returned. */
static int sample(const struct onr_metric_label *labels, size_t n)
{
    struct onr_metrics m;
    size_t len;
    int rc;

    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    len = m.len;
    rc = onr_metrics_gauge(&m, labels, n, 1);
    if (rc != ONR_OK)
        assert_int_equal(m.len, len); /* the sample was not written */
    onr_metrics_cleanup(&m);
    return rc;
}

static void test_metrics_refuses_bad_labels(void **state)
{
    struct onr_metric_label l[ONR_METRICS_LABELS_MAX + 1];
    char names[ONR_METRICS_LABELS_MAX + 1][8];
    char long_value[ONR_METRICS_LABEL_TEXT_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, sample((struct onr_metric_label[]){{"broker", "b-1"}}, 1));
    assert_onr(ONR_OK, sample((struct onr_metric_label[]){{"_x", ""}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"__name__", "x"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"__x", "x"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"le", "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"a:b", "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"1a", "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"a-b", "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"", "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{NULL, "1"}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"a", NULL}}, 1));
    assert_onr(ONR_EINVAL, sample((struct onr_metric_label[]){{"a", "1"}, {"a", "2"}}, 2));
    assert_onr(ONR_EINVAL, sample(NULL, 1));
    assert_onr(ONR_ECHARSET, sample((struct onr_metric_label[]){{"a", "\xff"}}, 1));
    assert_onr(ONR_ECHARSET, sample((struct onr_metric_label[]){{"a", "a\tb"}}, 1));
    assert_onr(ONR_ECHARSET, sample((struct onr_metric_label[]){{"a", "\xed\xa0\x80"}}, 1));
    for (size_t i = 0; i <= ONR_METRICS_LABELS_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "l%zu", i);
        l[i] = (struct onr_metric_label){names[i], "v"};
    }
    assert_onr(ONR_OK, sample(l, ONR_METRICS_LABELS_MAX));
    assert_onr(ONR_EINVAL, sample(l, ONR_METRICS_LABELS_MAX + 1));
    memset(long_value, 'v', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    assert_onr(ONR_ELENGTH, sample((struct onr_metric_label[]){{"a", long_value}}, 1));
    /* escapes count as written */
    memset(long_value, '"', ONR_METRICS_LABEL_TEXT_MAX / 2);
    long_value[ONR_METRICS_LABEL_TEXT_MAX / 2] = '\0';
    assert_onr(ONR_ELENGTH, sample((struct onr_metric_label[]){{"a", long_value}}, 1));
}

static void test_metrics_refuses_a_label_set_twice_in_a_family(void **state)
{
    struct onr_metrics m;
    struct onr_metric_label ab[] = {{"a", "1"}, {"b", "2"}};
    struct onr_metric_label ba[] = {{"b", "2"}, {"a", "1"}};

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, NULL, 0, 1));
    assert_onr(ONR_EEXIST, onr_metrics_gauge(&m, NULL, 0, 2));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, ab, 2, 1));
    assert_onr(ONR_EEXIST, onr_metrics_gauge(&m, ba, 2, 1)); /* the same set */
    onr_metrics_cleanup(&m);
    /* the same set in another family is another series */
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, ab, 2, 1));
    assert_onr(ONR_OK, onr_metrics_family(&m, "y", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, ab, 2, 1));
    onr_metrics_cleanup(&m);
}

static void test_metrics_samples_belong_to_a_family_of_their_type(void **state)
{
    struct onr_metrics m;
    struct onr_histogram h;

    (void)state;
    assert_onr(ONR_OK, onr_histogram_init(&h, bounds, 3));
    onr_metrics_init(&m);
    assert_onr(ONR_ETYPE, onr_metrics_gauge(&m, NULL, 0, 1));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x_total", ONR_METRIC_COUNTER, "x"));
    assert_onr(ONR_ETYPE, onr_metrics_gauge(&m, NULL, 0, 1));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_ETYPE, onr_metrics_histogram(&m, NULL, 0, &h));
    onr_metrics_cleanup(&m);
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_HISTOGRAM, "x"));
    assert_onr(ONR_ETYPE, onr_metrics_counter(&m, NULL, 0, 1));
    onr_metrics_cleanup(&m);
}

static void test_metrics_errors_are_sticky(void **state)
{
    struct onr_metrics m;
    char before[256];

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_OK, onr_metrics_gauge(&m, NULL, 0, 1));
    snprintf(before, sizeof(before), "%s", onr_metrics_text(&m, NULL));
    assert_onr(ONR_EINVAL, onr_metrics_family(&m, "bad-name", ONR_METRIC_GAUGE, "x"));
    /* everything after is refused with the first error, and writes nothing */
    assert_onr(ONR_EINVAL, onr_metrics_family(&m, "y", ONR_METRIC_GAUGE, "y"));
    assert_onr(ONR_EINVAL, onr_metrics_gauge(&m, NULL, 0, 2));
    assert_onr(ONR_EINVAL, onr_metrics_status(&m));
    assert_string_equal(onr_metrics_text(&m, NULL), before);
    onr_metrics_cleanup(&m);
    /* a refused family leaves no family to add samples to */
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_onr(ONR_EEXIST, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    assert_string_equal(m.family, "");
    onr_metrics_cleanup(&m);
}

static void test_metrics_numbers_read_back_exactly(void **state)
{
    char out[32];

    (void)state;
    assert_string_equal(onr_metrics_number(0, out), "0");
    assert_string_equal(onr_metrics_number(3, out), "3");
    assert_string_equal(onr_metrics_number(-2.5, out), "-2.5");
    assert_string_equal(onr_metrics_number(0.005, out), "0.005");
    assert_string_equal(onr_metrics_number(0.1 + 0.2, out), "0.30000000000000004");
    assert_string_equal(onr_metrics_number(1e-6, out), "1e-06");
    assert_string_equal(onr_metrics_number(1.7e9, out), "1700000000");
    assert_string_equal(onr_metrics_number(INFINITY, out), "+Inf");
    assert_string_equal(onr_metrics_number(-INFINITY, out), "-Inf");
    assert_string_equal(onr_metrics_number(NAN, out), "NaN");
}

static void test_metrics_counters_print_every_uint64(void **state)
{
    struct onr_metrics m;

    (void)state;
    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x_total", ONR_METRIC_COUNTER, "x"));
    assert_onr(ONR_OK, onr_metrics_counter(&m, NULL, 0, UINT64_MAX));
    assert_non_null(strstr(onr_metrics_text(&m, NULL), "\nx_total 18446744073709551615\n"));
    onr_metrics_cleanup(&m);
}

static void test_histogram_refuses_bad_bounds(void **state)
{
    struct onr_histogram h;
    double many[ONR_HISTOGRAM_BUCKETS_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
        many[i] = (double)i;
    assert_onr(ONR_OK, onr_histogram_init(&h, many, ONR_HISTOGRAM_BUCKETS_MAX));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, many, ONR_HISTOGRAM_BUCKETS_MAX + 1));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, many, 0));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, NULL, 1));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, (double[]){1, 1}, 2));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, (double[]){2, 1}, 2));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, (double[]){1, INFINITY}, 2));
    assert_onr(ONR_EINVAL, onr_histogram_init(&h, (double[]){NAN}, 1));
}

static void test_histogram_counts_a_bound_in_its_bucket_and_ignores_nan(void **state)
{
    struct onr_histogram h;

    (void)state;
    assert_onr(ONR_OK, onr_histogram_init(&h, bounds, 3));
    onr_histogram_observe(&h, 0.001); /* le is "less or equal" */
    onr_histogram_observe(&h, 0.0010000000000000002);
    onr_histogram_observe(&h, NAN);
    onr_histogram_observe(&h, INFINITY); /* counted above every bound */
    assert_int_equal(h.count, 3);
    assert_int_equal(h.counts[0], 1);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[3], 1);
}

static void test_metrics_bounds_families_series_and_size(void **state)
{
    struct onr_metrics m;
    char name[32];
    char value[ONR_METRICS_LABEL_TEXT_MAX];
    int rc = ONR_OK;

    (void)state;
    onr_metrics_init(&m);
    for (size_t i = 0; i < ONR_METRICS_FAMILIES_MAX; i++) {
        snprintf(name, sizeof(name), "f%zu", i);
        assert_onr(ONR_OK, onr_metrics_family(&m, name, ONR_METRIC_GAUGE, "x"));
    }
    assert_onr(ONR_ECOUNT, onr_metrics_family(&m, "one_more", ONR_METRIC_GAUGE, "x"));
    onr_metrics_cleanup(&m);

    onr_metrics_init(&m);
    assert_onr(ONR_OK, onr_metrics_family(&m, "x", ONR_METRIC_GAUGE, "x"));
    for (size_t i = 0; i < ONR_METRICS_SERIES_MAX; i++) {
        snprintf(name, sizeof(name), "%zu", i);
        assert_onr(ONR_OK, onr_metrics_gauge(&m, (struct onr_metric_label[]){{"i", name}}, 1, 1));
    }
    assert_onr(ONR_ECOUNT, onr_metrics_gauge(&m, (struct onr_metric_label[]){{"i", "x"}}, 1, 1));
    onr_metrics_cleanup(&m);

    /* the whole text is bounded: long label values until it is full */
    memset(value, 'v', 400);
    value[400] = '\0';
    onr_metrics_init(&m);
    for (size_t f = 0; f < ONR_METRICS_FAMILIES_MAX && rc == ONR_OK; f++) {
        snprintf(name, sizeof(name), "f%zu", f);
        rc = onr_metrics_family(&m, name, ONR_METRIC_GAUGE, "x");
        for (size_t i = 0; i < ONR_METRICS_SERIES_MAX && rc == ONR_OK; i++) {
            snprintf(value + 400, sizeof(value) - 400, "%zu", i);
            rc = onr_metrics_gauge(&m, (struct onr_metric_label[]){{"v", value}}, 1, 1);
        }
    }
    assert_onr(ONR_ETOOBIG, rc);
    assert_true(m.len <= ONR_METRICS_TEXT_MAX);
    onr_metrics_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_writes_every_kind_of_family),
        cmocka_unit_test(test_metrics_histogram_labels_come_before_le),
        cmocka_unit_test(test_metrics_sorts_labels_by_name),
        cmocka_unit_test(test_metrics_escapes_label_values),
        cmocka_unit_test(test_metrics_escapes_help),
        cmocka_unit_test(test_metrics_refuses_bad_metric_names),
        cmocka_unit_test(test_metrics_counters_end_in_total_histograms_in_no_suffix),
        cmocka_unit_test(test_metrics_refuses_help_that_is_not_text),
        cmocka_unit_test(test_metrics_refuses_a_name_twice),
        cmocka_unit_test(test_metrics_refuses_bad_labels),
        cmocka_unit_test(test_metrics_refuses_a_label_set_twice_in_a_family),
        cmocka_unit_test(test_metrics_samples_belong_to_a_family_of_their_type),
        cmocka_unit_test(test_metrics_errors_are_sticky),
        cmocka_unit_test(test_metrics_numbers_read_back_exactly),
        cmocka_unit_test(test_metrics_counters_print_every_uint64),
        cmocka_unit_test(test_histogram_refuses_bad_bounds),
        cmocka_unit_test(test_histogram_counts_a_bound_in_its_bucket_and_ignores_nan),
        cmocka_unit_test(test_metrics_bounds_families_series_and_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
