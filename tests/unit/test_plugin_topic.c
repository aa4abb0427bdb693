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

/* Found by fuzz_topic (tests/fuzz/regressions/topic/): "$SYS/x" was
 * "within" "#" although "#" never matches a '$' topic. */
static void test_topic_filter_within_keeps_dollar_topics_out_of_wildcards(void **state)
{
    (void)state;
    assert_false(topic_filter_within("$", "#"));
    assert_false(topic_filter_within("$SYS/#", "#"));
    assert_false(topic_filter_within("$SYS/x", "+/#"));
    assert_false(topic_filter_within("$x", "+"));
    assert_true(topic_filter_within("$SYS/x", "$SYS/#"));
    assert_true(topic_filter_within("+/x", "+/#"));
    assert_true(topic_filter_within("a/#", "#"));
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

#define DEV "rguib733fa2xfyrzdwehzsohu743ont4"

static void test_topic_filter_within_an_operational_devices_prefix(void **state)
{
    const char *own = "onr/1/p/prov-1/dev/" DEV "/#";

    (void)state;
    assert_true(topic_filter_within(own, own));
    assert_true(topic_filter_within("onr/1/p/prov-1/dev/" DEV "/cmd/+", own));
    assert_true(topic_filter_within("onr/1/p/prov-1/dev/" DEV "/telemetry", own));
    assert_false(topic_filter_within("onr/1/p/prov-1/dev/+/#", own));
    assert_false(topic_filter_within("onr/1/p/prov-1/dev/+/telemetry", own));
    assert_false(topic_filter_within("onr/1/p/prov-1/#", own));
    assert_false(topic_filter_within("onr/1/p/prov-2/dev/" DEV "/#", own));
    assert_false(topic_filter_within("onr/1/p/+/dev/" DEV "/#", own));
    assert_false(topic_filter_within("$share/g/onr/1/p/prov-1/dev/" DEV "/#", own));
    assert_false(topic_filter_within("#", own));
    /* what a provider service may subscribe to */
    assert_true(topic_filter_within("onr/1/p/prov-1/dev/+/telemetry", "onr/1/p/prov-1/dev/#"));
    assert_true(topic_filter_within("onr/1/p/prov-1/dev/+/#", "onr/1/p/prov-1/dev/#"));
    assert_false(topic_filter_within("onr/1/p/+/dev/+/telemetry", "onr/1/p/prov-1/dev/#"));
    assert_false(topic_filter_within("onr/1/p/prov-10/dev/+/x", "onr/1/p/prov-1/dev/#"));
}

static void test_topic_below_needs_a_level_under_the_prefix(void **state)
{
    const char *prefix = "onr/1/p/prov-1/dev/" DEV "/";

    (void)state;
    assert_true(topic_below("onr/1/p/prov-1/dev/" DEV "/telemetry", prefix));
    assert_true(topic_below("onr/1/p/prov-1/dev/" DEV "/a/b/c", prefix));
    assert_false(topic_below("onr/1/p/prov-1/dev/" DEV, prefix));
    assert_false(topic_below("onr/1/p/prov-1/dev/" DEV "/", prefix));
    assert_false(topic_below("onr/1/p/prov-1/dev/" DEV "x/telemetry", prefix));
    assert_false(topic_below("onr/1/p/prov-2/dev/" DEV "/telemetry", prefix));
    assert_false(topic_below(NULL, prefix));
}

static void test_topic_provider_device_is_its_own_devices_only(void **state)
{
    (void)state;
    assert_true(topic_provider_device("onr/1/p/prov-1/dev/" DEV "/cmd", "prov-1"));
    assert_true(topic_provider_device("onr/1/p/prov-1/dev/anything/a/b", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/dev/" DEV, "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/dev/" DEV "/", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/dev//x", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/dev", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-10/dev/" DEV "/cmd", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov/dev/" DEV "/cmd", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-2/dev/" DEV "/cmd", "prov-1"));
    assert_false(topic_provider_device("onr/1/d/" DEV "/down", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/x/" DEV "/cmd", "prov-1"));
    assert_false(topic_provider_device("onr/1/p/prov-1/dev/" DEV "/cmd", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_matches_follows_mqtt_wildcards),
        cmocka_unit_test(test_topic_filter_within_only_narrower_filters),
        cmocka_unit_test(test_topic_filter_within_keeps_dollar_topics_out_of_wildcards),
        cmocka_unit_test(test_topic_filter_within_refuses_malformed_filters),
        cmocka_unit_test(test_topic_strip_share),
        cmocka_unit_test(test_topic_name_ok),
        cmocka_unit_test(test_topic_filter_within_an_operational_devices_prefix),
        cmocka_unit_test(test_topic_below_needs_a_level_under_the_prefix),
        cmocka_unit_test(test_topic_provider_device_is_its_own_devices_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
