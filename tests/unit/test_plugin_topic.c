#include "testutil.h"

#include <string.h>

#include "topic.h"

static void test_topic_matches_follows_mqtt_wildcards(void **state)
{
    (void)state;
    assert_true(topic_matches("onr/1/d/+/down", "onr/1/d/abc/down"));
    assert_false(topic_matches("onr/1/d/+/down", "onr/1/d/abc/def/down"));
    assert_false(topic_matches("onr/1/d/+/down", "onr/1/d/abc/down/x"));
    assert_true(topic_matches("onr/1/#", "onr/1/d/x/up/mfr/acme"));
    assert_true(topic_matches("onr/1/#", "onr/1")); /* '#' includes the parent */
    assert_false(topic_matches("onr/1/#", "onr/2/x"));
    assert_true(topic_matches("#", "anything/at/all"));
    assert_false(topic_matches("#", "$SYS/broker/uptime")); /* MQTT 4.7.2 */
    assert_false(topic_matches("+/x", "$SYS/x"));
    assert_true(topic_matches("a/+/c", "a//c")); /* '+' matches an empty level */
    assert_false(topic_matches("a/b", "a/bc"));
    assert_false(topic_matches("a/bc", "a/b"));
}

static void test_topic_filter_within_only_narrower_filters(void **state)
{
    const char *svc = "onr/1/d/+/up/op/op-1";

    (void)state;
    assert_true(topic_filter_within(svc, svc));
    assert_true(topic_filter_within("onr/1/d/abc/up/op/op-1", svc));
    assert_false(topic_filter_within("onr/1/d/+/up/op/+", svc));
    assert_false(topic_filter_within("onr/1/d/+/up/#", svc));
    assert_false(topic_filter_within("onr/1/d/+/up/op/op-1/#", svc));
    assert_false(topic_filter_within("#", svc));
    assert_false(topic_filter_within("onr/1/d/+/up/op/op-2", svc));
    /* within a '#' pattern anything below goes, including '#' */
    assert_true(topic_filter_within("onr/1/#", "onr/1/#"));
    assert_true(topic_filter_within("onr/1/d/+/up/#", "onr/1/#"));
    assert_true(topic_filter_within("onr/1", "onr/1/#"));
    assert_false(topic_filter_within("onr/#", "onr/1/#"));
    assert_false(topic_filter_within("+/1/#", "onr/1/#"));
    assert_false(topic_filter_within("$SYS/#", "onr/1/#"));
}

static void test_topic_filter_within_refuses_malformed_filters(void **state)
{
    (void)state;
    assert_false(topic_filter_within("", "onr/1/#"));
    assert_false(topic_filter_within("onr/1/#/x", "onr/1/#"));
    assert_false(topic_filter_within("onr/1/a+", "onr/1/#"));
    assert_false(topic_filter_within("onr/1/a#", "onr/1/#"));
}

static void test_topic_strip_share(void **state)
{
    bool shared = false;

    (void)state;
    assert_string_equal(topic_strip_share("$share/g1/onr/1/s/op/x/in", &shared),
                        "onr/1/s/op/x/in");
    assert_true(shared);
    assert_string_equal(topic_strip_share("onr/1/x", &shared), "onr/1/x");
    assert_false(shared);
    assert_null(topic_strip_share("$share//onr/1/x", &shared));
    assert_null(topic_strip_share("$share/g+/onr/1/x", &shared));
    assert_null(topic_strip_share("$share/g", &shared));
    assert_null(topic_strip_share("$share/g/", &shared));
}

static void test_topic_name_ok(void **state)
{
    char long_topic[TOPIC_MAX + 2];

    (void)state;
    assert_true(topic_name_ok("onr/1/d/x/up/mfr/acme", false));
    assert_false(topic_name_ok("onr/1/+/x", false));
    assert_false(topic_name_ok("onr/1/#", false));
    assert_false(topic_name_ok("$SYS/x", false));
    assert_true(topic_name_ok("$CONTROL/onramp/v1", true));
    assert_false(topic_name_ok("", false));
    assert_false(topic_name_ok("/onr/1", false));
    assert_false(topic_name_ok("onr/1/", false));
    assert_false(topic_name_ok("onr//1", false));
    assert_false(topic_name_ok("onr/1/\x01", false));
    assert_false(topic_name_ok("onr/1/\xc0\xaf", false));
    memset(long_topic, 'a', sizeof(long_topic) - 1);
    long_topic[sizeof(long_topic) - 1] = '\0';
    assert_false(topic_name_ok(long_topic, false));
}

static void test_topic_escape_keeps_logs_clean(void **state)
{
    char out[32];

    (void)state;
    topic_escape("ok/topic", out, sizeof(out));
    assert_string_equal(out, "ok/topic");
    topic_escape("a\nFAKE\x1b[31m", out, sizeof(out));
    assert_string_equal(out, "a\\x0aFAKE\\x1b[31m");
    topic_escape("0123456789012345678901234567890123456789", out, 16);
    assert_int_equal(strlen(out), 15); /* the whole buffer, NUL included */
    assert_string_equal(out + 12, "...");
    topic_escape(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_matches_follows_mqtt_wildcards),
        cmocka_unit_test(test_topic_filter_within_only_narrower_filters),
        cmocka_unit_test(test_topic_filter_within_refuses_malformed_filters),
        cmocka_unit_test(test_topic_strip_share),
        cmocka_unit_test(test_topic_name_ok),
        cmocka_unit_test(test_topic_escape_keeps_logs_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
