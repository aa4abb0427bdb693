#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/topic.h"
#include "samples.h"

#define DEV ONR_SAMPLE_DEVID
#define ID32 "abcdefghijklmnopqrstuvwxyz012345" /* the longest service id */

/* Parse `s` from a heap copy of exactly its length (no NUL after it), so
 * AddressSanitizer sees any read past the length. */
static int parse_exact(const char *s, size_t len, struct onr_topic *t)
{
    char *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, s, len);
    rc = onr_topic_parse(len > 0 ? copy : NULL, len, t);
    if (rc == ONR_OK && t->rest.len > 0) {
        /* rest points into the parsed bytes: re-point it at `s` */
        assert_true(t->rest.ptr > (const uint8_t *)copy);
        assert_true(t->rest.ptr + t->rest.len == (const uint8_t *)copy + len);
        t->rest.ptr = (const uint8_t *)s + (t->rest.ptr - (const uint8_t *)copy);
    }
    free(copy);
    return rc;
}

static int parse(const char *s, struct onr_topic *t)
{
    return parse_exact(s, strlen(s), t);
}

/* Every one of `n` topics is refused, with nothing left in the parts. */
static void assert_all_refused(const char *const *bad, size_t n)
{
    struct onr_topic t;

    for (size_t i = 0; i < n; i++) {
        memset(&t, 0x5a, sizeof(t));
        if (parse(bad[i], &t) != ONR_EFORMAT)
            fail_msg("parsed: \"%s\"", bad[i]);
        assert_int_equal(t.kind, 0);
        assert_string_equal(t.dev, "");
        assert_string_equal(t.svc, "");
    }
}

/* ---- roles ----------------------------------------------------------------------- */

static void test_topic_role_levels_both_ways(void **state)
{
    static const struct {
        enum onr_role role;
        const char *level;
    } roles[] = {{ONR_ROLE_MANUFACTURER, "mfr"}, {ONR_ROLE_OPERATOR, "op"},
                 {ONR_ROLE_PROVIDER, "prov"},    {ONR_ROLE_CONTROL, "ctl"},
                 {ONR_ROLE_BROKER, "broker"}};
    enum onr_role role;

    (void)state;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        assert_string_equal(onr_topic_role(roles[i].role), roles[i].level);
        assert_onr(ONR_OK, onr_topic_role_parse(roles[i].level, strlen(roles[i].level), &role));
        assert_int_equal(role, roles[i].role);
    }
    assert_null(onr_topic_role(ONR_ROLE_DEVICE));
    assert_null(onr_topic_role((enum onr_role)0));
    assert_null(onr_topic_role((enum onr_role)99));
    assert_onr(ONR_EINVAL, onr_topic_role_parse("device", 6, &role));
    assert_onr(ONR_EINVAL, onr_topic_role_parse("MFR", 3, &role));
    assert_onr(ONR_EINVAL, onr_topic_role_parse("mfrx", 4, &role));
    assert_onr(ONR_EINVAL, onr_topic_role_parse("mfr", 2, &role)); /* "mf" */
    assert_onr(ONR_EINVAL, onr_topic_role_parse("", 0, &role));
    assert_onr(ONR_EINVAL, onr_topic_role_parse(NULL, 3, &role));
    assert_onr(ONR_EINVAL, onr_topic_role_parse("mfr", 3, NULL));
}

/* ---- builders -------------------------------------------------------------------- */

static void test_topic_builds_every_topic_of_spec_section_2(void **state)
{
    char t[ONR_TOPIC_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_MANUFACTURER, "acme", t, sizeof(t)));
    assert_string_equal(t, "onr/1/d/" DEV "/up/mfr/acme");
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
    assert_string_equal(t, "onr/1/d/" DEV "/up/op/op-1");
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_PROVIDER, "prov.a_b", t, sizeof(t)));
    assert_string_equal(t, "onr/1/d/" DEV "/up/prov/prov.a_b");
    assert_onr(ONR_OK, onr_topic_down(DEV, t, sizeof(t)));
    assert_string_equal(t, "onr/1/d/" DEV "/down");
    assert_onr(ONR_OK, onr_topic_in(ONR_ROLE_MANUFACTURER, "acme", t, sizeof(t)));
    assert_string_equal(t, "onr/1/s/mfr/acme/in");
    assert_onr(ONR_OK, onr_topic_in(ONR_ROLE_CONTROL, "admin", t, sizeof(t)));
    assert_string_equal(t, "onr/1/s/ctl/admin/in");
    assert_onr(ONR_OK, onr_topic_ev(ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
    assert_string_equal(t, "onr/1/s/op/op-1/ev");
    assert_onr(ONR_OK, onr_topic_ev(ONR_ROLE_BROKER, "bootstrap-1", t, sizeof(t)));
    assert_string_equal(t, "onr/1/s/broker/bootstrap-1/ev");
    assert_onr(ONR_OK, onr_topic_operational("prov-a", DEV, ONR_TOPIC_TELEMETRY, t, sizeof(t)));
    assert_string_equal(t, "onr/1/p/prov-a/dev/" DEV "/telemetry");
    assert_onr(ONR_OK, onr_topic_operational("prov-a", DEV, "cmd/reboot", t, sizeof(t)));
    assert_string_equal(t, "onr/1/p/prov-a/dev/" DEV "/cmd/reboot");
    assert_memory_equal(t, ONR_TOPIC_OPERATIONAL_ROOT, strlen(ONR_TOPIC_OPERATIONAL_ROOT));
    /* where a provider's relocate reaches its device (SPEC section 16) */
    assert_onr(ONR_OK, onr_topic_operational_down("prov-a", DEV, t, sizeof(t)));
    assert_string_equal(t, "onr/1/p/prov-a/dev/" DEV "/down");
    assert_onr(ONR_EINVAL, onr_topic_operational_down("prov-a", "x", t, sizeof(t)));
    assert_string_equal(t, "");
    assert_onr(ONR_EINVAL, onr_topic_operational_down("Prov", DEV, t, sizeof(t)));
    assert_onr(ONR_ESPACE, onr_topic_operational_down("prov-a", DEV, t, 20));
    assert_string_equal(ONR_TOPIC_VOUCHER, "onr/1/voucher");
    assert_string_equal(ONR_TOPIC_CONTROL, "$CONTROL/onramp/v1");
    assert_string_equal(ONR_TOPIC_CONTROL_RESPONSE, "$CONTROL/onramp/v1/response");
}

static void test_topic_builds_filters_plain_and_shared(void **state)
{
    char f[ONR_TOPIC_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, onr_topic_filter_up(NULL, ONR_ROLE_OPERATOR, "op-1", f, sizeof(f)));
    assert_string_equal(f, "onr/1/d/+/up/op/op-1");
    assert_onr(ONR_OK, onr_topic_filter_up("ops", ONR_ROLE_OPERATOR, "op-1", f, sizeof(f)));
    assert_string_equal(f, "$share/ops/onr/1/d/+/up/op/op-1");
    assert_onr(ONR_OK, onr_topic_filter_in(NULL, ONR_ROLE_PROVIDER, "prov-a", f, sizeof(f)));
    assert_string_equal(f, "onr/1/s/prov/prov-a/in");
    assert_onr(ONR_OK, onr_topic_filter_in("g", ONR_ROLE_PROVIDER, "prov-a", f, sizeof(f)));
    assert_string_equal(f, "$share/g/onr/1/s/prov/prov-a/in");
    assert_onr(ONR_OK, onr_topic_filter_ev(NULL, ONR_ROLE_BROKER, NULL, f, sizeof(f)));
    assert_string_equal(f, "onr/1/s/broker/+/ev");
    assert_onr(ONR_OK, onr_topic_filter_ev(NULL, ONR_ROLE_MANUFACTURER, "acme", f, sizeof(f)));
    assert_string_equal(f, "onr/1/s/mfr/acme/ev");
    assert_onr(ONR_OK, onr_topic_filter_operational(NULL, "prov-a", ONR_TOPIC_TELEMETRY, f,
                                                    sizeof(f)));
    assert_string_equal(f, "onr/1/p/prov-a/dev/+/telemetry");
    assert_onr(ONR_OK, onr_topic_filter_operational("g1", "prov-a", NULL, f, sizeof(f)));
    assert_string_equal(f, "$share/g1/onr/1/p/prov-a/dev/+/#");
    /* the longest group and service id fit in ONR_TOPIC_MAX + 1 */
    assert_onr(ONR_OK, onr_topic_filter_up(ID32, ONR_ROLE_PROVIDER, ID32, f, sizeof(f)));
    assert_string_equal(f, "$share/" ID32 "/onr/1/d/+/up/prov/" ID32);
}

static void test_topic_builders_refuse_bad_ids(void **state)
{
    static const char *const bad_devs[] = {
        "",
        DEV "a",                             /* 33 */
        "rguib733fa2xfyrzdwehzsohu743ont",   /* 31 */
        "RGUIB733FA2XFYRZDWEHZSOHU743ONT4",  /* upper case */
        "rguib733fa2xfyrzdwehzsohu743ont1",  /* '1' is not base32 */
        "rguib733fa2xfyrzdwehzsohu743on/4",
        "rguib733fa2xfyrzdwehzsohu743on+4",
        "+",
        "#",
    };
    static const char *const bad_svcs[] = {
        "", ID32 "6", "-a", ".a", "_a", "A", "a/b", "a+", "#", "a b", "a\x01", "\xc3\xa9",
    };
    char t[ONR_TOPIC_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_devs) / sizeof(bad_devs[0]); i++) {
        strcpy(t, "x");
        assert_onr(ONR_EINVAL, onr_topic_up(bad_devs[i], ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
        assert_string_equal(t, "");
        assert_onr(ONR_EINVAL, onr_topic_down(bad_devs[i], t, sizeof(t)));
        assert_onr(ONR_EINVAL,
                   onr_topic_operational("prov-a", bad_devs[i], "telemetry", t, sizeof(t)));
    }
    for (size_t i = 0; i < sizeof(bad_svcs) / sizeof(bad_svcs[0]); i++) {
        const char *s = bad_svcs[i];

        assert_onr(ONR_EINVAL, onr_topic_up(DEV, ONR_ROLE_OPERATOR, s, t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_in(ONR_ROLE_OPERATOR, s, t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_ev(ONR_ROLE_OPERATOR, s, t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_operational(s, DEV, "telemetry", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_filter_up(NULL, ONR_ROLE_OPERATOR, s, t, sizeof(t)));
        /* as a group */
        assert_onr(ONR_EINVAL, onr_topic_filter_up(s, ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_filter_in(s, ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_filter_ev(s, ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_filter_operational(s, "prov-a", NULL, t, sizeof(t)));
    }
    assert_onr(ONR_EINVAL, onr_topic_up(NULL, ONR_ROLE_OPERATOR, "op-1", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_up(DEV, ONR_ROLE_OPERATOR, NULL, t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_in(ONR_ROLE_OPERATOR, NULL, t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_ev(ONR_ROLE_OPERATOR, NULL, t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_operational(NULL, DEV, "telemetry", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_operational("prov-a", NULL, "telemetry", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_filter_operational(NULL, NULL, NULL, t, sizeof(t)));
}

static void test_topic_builders_refuse_roles_a_topic_does_not_carry(void **state)
{
    static const enum onr_role never[] = {ONR_ROLE_DEVICE, (enum onr_role)0,
                                          (enum onr_role)7, (enum onr_role)-1};
    char t[ONR_TOPIC_MAX + 1];

    (void)state;
    /* devices ask manufacturers, operators and providers only */
    assert_onr(ONR_EINVAL, onr_topic_up(DEV, ONR_ROLE_CONTROL, "admin", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_up(DEV, ONR_ROLE_BROKER, "b", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_filter_up(NULL, ONR_ROLE_CONTROL, "admin", t, sizeof(t)));
    /* control tools have an inbox and no events; the broker events and no inbox */
    assert_onr(ONR_EINVAL, onr_topic_in(ONR_ROLE_BROKER, "b", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_ev(ONR_ROLE_CONTROL, "admin", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_filter_in(NULL, ONR_ROLE_BROKER, "b", t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_filter_ev(NULL, ONR_ROLE_CONTROL, NULL, t, sizeof(t)));
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        assert_onr(ONR_EINVAL, onr_topic_up(DEV, never[i], "x", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_in(never[i], "x", t, sizeof(t)));
        assert_onr(ONR_EINVAL, onr_topic_ev(never[i], "x", t, sizeof(t)));
    }
    /* only filters take "any service" */
    assert_onr(ONR_EINVAL, onr_topic_filter_in(NULL, ONR_ROLE_OPERATOR, NULL, t, sizeof(t)));
    assert_onr(ONR_EINVAL, onr_topic_filter_up(NULL, ONR_ROLE_OPERATOR, NULL, t, sizeof(t)));
}

static void test_topic_builders_refuse_bad_operational_levels(void **state)
{
    static const char *const bad[] = {
        "", "/", "/telemetry", "telemetry/", "a//b", "+", "a/+", "#", "a/#", "a+b",
        "tele\x01metry", "tele\x7fmetry", "\xc0\xaf", "\xed\xa0\x80", "a\xc3",
    };
    char t[ONR_TOPIC_MAX + 1];
    char rest[ONR_TOPIC_MAX + 2];
    size_t head = strlen("onr/1/p/prov-a/dev/" DEV "/");

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_onr(ONR_EINVAL, onr_topic_operational("prov-a", DEV, bad[i], t, sizeof(t)));
        assert_onr(ONR_EINVAL,
                   onr_topic_filter_operational(NULL, "prov-a", bad[i], t, sizeof(t)));
    }
    /* UTF-8 text is a level */
    assert_onr(ONR_OK, onr_topic_operational("prov-a", DEV, "caf\xc3\xa9", t, sizeof(t)));
    /* the whole topic at most ONR_TOPIC_MAX */
    memset(rest, 'x', ONR_TOPIC_MAX - head);
    rest[ONR_TOPIC_MAX - head] = '\0';
    assert_onr(ONR_OK, onr_topic_operational("prov-a", DEV, rest, t, sizeof(t)));
    assert_int_equal(strlen(t), ONR_TOPIC_MAX);
    strcat(rest, "x");
    assert_onr(ONR_EINVAL, onr_topic_operational("prov-a", DEV, rest, t, sizeof(t)));
    memset(rest, 'x', sizeof(rest) - 1);
    rest[sizeof(rest) - 1] = '\0';
    assert_onr(ONR_EINVAL, onr_topic_operational("prov-a", DEV, rest, t, sizeof(t)));
}

static void test_topic_builders_never_write_past_cap(void **state)
{
    static const char want[] = "onr/1/d/" DEV "/up/mfr/acme";
    char t[sizeof(want) + 8];

    (void)state;
    /* exactly enough: the topic and its NUL */
    memset(t, 'Z', sizeof(t));
    assert_onr(ONR_OK, onr_topic_up(DEV, ONR_ROLE_MANUFACTURER, "acme", t, sizeof(want)));
    assert_string_equal(t, want);
    assert_int_equal(t[sizeof(want)], 'Z');
    /* one byte short: nothing but an empty string, nothing past cap */
    for (size_t cap = 1; cap < sizeof(want); cap++) {
        memset(t, 'Z', sizeof(t));
        assert_onr(ONR_ESPACE, onr_topic_up(DEV, ONR_ROLE_MANUFACTURER, "acme", t, cap));
        assert_int_equal(t[0], '\0');
        for (size_t i = cap; i < sizeof(t); i++)
            assert_int_equal(t[i], 'Z');
    }
    memset(t, 'Z', sizeof(t));
    assert_onr(ONR_ESPACE, onr_topic_down(DEV, t, 0));
    assert_int_equal(t[0], 'Z');
    assert_onr(ONR_ESPACE, onr_topic_in(ONR_ROLE_OPERATOR, "op-1", t, 5));
    assert_string_equal(t, "");
    assert_onr(ONR_ESPACE, onr_topic_ev(ONR_ROLE_OPERATOR, "op-1", t, 5));
    assert_onr(ONR_ESPACE, onr_topic_operational("p", DEV, "telemetry", t, 5));
    assert_onr(ONR_ESPACE, onr_topic_filter_up("g", ONR_ROLE_OPERATOR, "op-1", t, 5));
    assert_onr(ONR_ESPACE, onr_topic_filter_in("g", ONR_ROLE_OPERATOR, "op-1", t, 5));
    assert_onr(ONR_ESPACE, onr_topic_filter_ev("g", ONR_ROLE_OPERATOR, NULL, t, 5));
    assert_onr(ONR_ESPACE, onr_topic_filter_operational("g", "p", NULL, t, 5));
    assert_onr(ONR_EINVAL, onr_topic_down(DEV, NULL, 64));
}

/* ---- parser ---------------------------------------------------------------------- */

static void test_topic_parses_every_topic_of_spec_section_2(void **state)
{
    struct onr_topic t;

    (void)state;
    assert_onr(ONR_OK, parse("onr/1/d/" DEV "/up/mfr/acme", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_UP);
    assert_int_equal(t.role, ONR_ROLE_MANUFACTURER);
    assert_string_equal(t.dev, DEV);
    assert_string_equal(t.svc, "acme");
    assert_int_equal(t.rest.len, 0);

    assert_onr(ONR_OK, parse("onr/1/d/" DEV "/up/prov/" ID32, &t));
    assert_int_equal(t.role, ONR_ROLE_PROVIDER);
    assert_string_equal(t.svc, ID32);

    assert_onr(ONR_OK, parse("onr/1/d/" DEV "/down", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_DOWN);
    assert_int_equal(t.role, 0);
    assert_string_equal(t.dev, DEV);
    assert_string_equal(t.svc, "");

    assert_onr(ONR_OK, parse("onr/1/s/ctl/admin/in", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_IN);
    assert_int_equal(t.role, ONR_ROLE_CONTROL);
    assert_string_equal(t.svc, "admin");
    assert_string_equal(t.dev, "");

    assert_onr(ONR_OK, parse("onr/1/s/op/op-1/ev", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_EV);
    assert_int_equal(t.role, ONR_ROLE_OPERATOR);
    assert_string_equal(t.svc, "op-1");

    assert_onr(ONR_OK, parse("onr/1/s/broker/bootstrap-1/ev", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_EV);
    assert_int_equal(t.role, ONR_ROLE_BROKER);
    assert_string_equal(t.svc, "bootstrap-1");

    assert_onr(ONR_OK, parse("onr/1/p/prov-a/dev/" DEV "/telemetry", &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_OPERATIONAL);
    assert_int_equal(t.role, ONR_ROLE_PROVIDER);
    assert_string_equal(t.svc, "prov-a");
    assert_string_equal(t.dev, DEV);
    assert_int_equal(t.rest.len, strlen("telemetry"));
    assert_memory_equal(t.rest.ptr, "telemetry", t.rest.len);

    assert_onr(ONR_OK, parse("onr/1/p/prov-a/dev/" DEV "/a/b/c", &t));
    assert_int_equal(t.rest.len, 5);
    assert_memory_equal(t.rest.ptr, "a/b/c", 5);

    assert_onr(ONR_OK, parse(ONR_TOPIC_VOUCHER, &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_VOUCHER);
    assert_onr(ONR_OK, parse(ONR_TOPIC_CONTROL, &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_CONTROL);
    assert_onr(ONR_OK, parse(ONR_TOPIC_CONTROL_RESPONSE, &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_CONTROL_RESPONSE);
}

static void test_topic_parse_refuses_wildcards_and_filters(void **state)
{
    static const char *const bad[] = {
        "onr/1/d/+/up/mfr/acme",
        "onr/1/d/" DEV "/up/mfr/+",
        "onr/1/d/" DEV "/up/+/acme",
        "onr/1/d/" DEV "/up/mfr/#",
        "onr/1/d/" DEV "/#",
        "onr/1/d/#",
        "onr/1/#",
        "onr/+/d/" DEV "/down",
        "+/1/d/" DEV "/down",
        "onr/1/s/+/+/ev",
        "onr/1/s/mfr/acme/+",
        "onr/1/p/prov-a/dev/+/telemetry",
        "onr/1/p/prov-a/dev/" DEV "/#",
        "onr/1/p/prov-a/dev/" DEV "/cmd/+",
        "onr/1/p/prov-a/dev/" DEV "/tele+metry",
        "onr/1/p/+/dev/" DEV "/telemetry",
        "$share/g/onr/1/d/+/up/mfr/acme",
        "$share/g/onr/1/s/mfr/acme/in",
        "#",
        "+",
    };

    (void)state;
    assert_all_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_topic_parse_refuses_dollar_empty_and_malformed_levels(void **state)
{
    static const char *const bad[] = {
        "",
        "/",
        "onr",
        "onr/1",
        "onr/1/",
        "onr/2/d/" DEV "/down",
        "ONR/1/d/" DEV "/down",
        "/onr/1/d/" DEV "/down",
        "onr//1/d/" DEV "/down",
        "onr/1//d/" DEV "/down",
        "onr/1/d//down",
        "onr/1/d/" DEV "//down",
        "onr/1/d/" DEV "/down/",
        "onr/1/d/" DEV "/down/x",
        "onr/1/d/" DEV "/up",
        "onr/1/d/" DEV "/up/",
        "onr/1/d/" DEV "/up/mfr",
        "onr/1/d/" DEV "/up/mfr/",
        "onr/1/d/" DEV "/up/mfr/acme/",
        "onr/1/d/" DEV "/up/mfr/acme/x",
        "onr/1/d/" DEV "/upx/mfr/acme",
        "onr/1/d/RGUIB733FA2XFYRZDWEHZSOHU743ONT4/down",
        "onr/1/d/rguib733fa2xfyrzdwehzsohu743ont/down",
        "onr/1/d/" DEV "a/down",
        "onr/1/s/mfr/acme",
        "onr/1/s/mfr/acme/",
        "onr/1/s/mfr//in",
        "onr/1/s//acme/in",
        "onr/1/s/mfr/acme/in/",
        "onr/1/s/mfr/acme/in/x",
        "onr/1/s/mfr/acme/out",
        "onr/1/s/mfr/Acme/in",
        "onr/1/s/mfr/-acme/in",
        "onr/1/s/mfr/" ID32 "6/in",
        "onr/1/p/prov-a/dev/" DEV,
        "onr/1/p/prov-a/dev/" DEV "/",
        "onr/1/p/prov-a/dev/" DEV "//x",
        "onr/1/p/prov-a/dev/" DEV "/x/",
        "onr/1/p/prov-a/dev/" DEV "/a//b",
        "onr/1/p/prov-a/dev//telemetry",
        "onr/1/p/prov-a/devx/" DEV "/telemetry",
        "onr/1/p//dev/" DEV "/telemetry",
        "onr/1/p/prov-a/dev/" DEV "/tele\x01metry",
        "onr/1/p/prov-a/dev/" DEV "/\xc0\xaf",
        "onr/1/voucher/",
        "onr/1/voucher/x",
        "onr/1/x",
        "$CONTROL/onramp/v1/",
        "$CONTROL/onramp/v2",
        "$CONTROL/onramp/v1/response/x",
        "$control/onramp/v1",
        "$SYS/broker/uptime",
        "$onr/1/d/" DEV "/down",
    };

    (void)state;
    assert_all_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_topic_parse_refuses_wrong_roles(void **state)
{
    static const char *const bad[] = {
        "onr/1/d/" DEV "/up/ctl/admin",     /* devices ask no control tool */
        "onr/1/d/" DEV "/up/broker/b",
        "onr/1/d/" DEV "/up/device/x",
        "onr/1/d/" DEV "/up/dev/x",
        "onr/1/d/" DEV "/up/manufacturer/acme",
        "onr/1/s/ctl/admin/ev",             /* control tools announce nothing */
        "onr/1/s/broker/b/in",              /* the broker has no inbox */
        "onr/1/s/device/x/in",
        "onr/1/s/d/x/in",
        "onr/1/s/monitor/m/in",
        "onr/1/s/operator/op-1/in",
    };

    (void)state;
    assert_all_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_topic_parse_stops_at_len(void **state)
{
    static const char with_nul[] = "onr/1/d/" DEV "/down\0/x";
    static const char longer[] = "onr/1/d/" DEV "/downstream";
    struct onr_topic t;

    (void)state;
    /* a NUL inside the length is not part of any topic */
    assert_onr(ONR_EFORMAT, parse_exact(with_nul, sizeof(with_nul) - 1, &t));
    assert_onr(ONR_EFORMAT, parse_exact("onr/1/d/\0", 9, &t));
    /* the length, not a NUL, ends the topic */
    assert_onr(ONR_OK, parse_exact(longer, strlen("onr/1/d/" DEV "/down"), &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_DOWN);
    assert_onr(ONR_EFORMAT, parse_exact(longer, strlen(longer), &t));
    assert_onr(ONR_OK, parse_exact(ONR_TOPIC_CONTROL_RESPONSE, strlen(ONR_TOPIC_CONTROL), &t));
    assert_int_equal(t.kind, ONR_TOPIC_KIND_CONTROL);
    /* truncated anywhere, a topic is never read past its length */
    for (size_t n = 0; n < strlen(longer); n++)
        (void)parse_exact(longer, n, &t);
}

static void test_topic_parse_bounds_and_arguments(void **state)
{
    char big[ONR_TOPIC_MAX + 2];
    size_t head = strlen("onr/1/p/prov-a/dev/" DEV "/");
    struct onr_topic t;

    (void)state;
    memcpy(big, "onr/1/p/prov-a/dev/" DEV "/", head);
    memset(big + head, 'x', sizeof(big) - head);
    assert_onr(ONR_OK, parse_exact(big, ONR_TOPIC_MAX, &t));
    assert_int_equal(t.rest.len, ONR_TOPIC_MAX - head);
    memset(&t, 0x5a, sizeof(t));
    assert_onr(ONR_ETOOBIG, parse_exact(big, ONR_TOPIC_MAX + 1, &t));
    assert_int_equal(t.kind, 0);
    assert_onr(ONR_ETOOBIG, onr_topic_parse(big, SIZE_MAX, &t));
    assert_onr(ONR_EINVAL, onr_topic_parse(NULL, 3, &t));
    assert_onr(ONR_EINVAL, onr_topic_parse("onr/1/voucher", 13, NULL));
    assert_onr(ONR_EFORMAT, onr_topic_parse(NULL, 0, &t));
}

/* Every topic built parses back to its parts, and those parts build it
 * again byte for byte. */
static void test_topic_round_trips(void **state)
{
    static const enum onr_role up_roles[] = {ONR_ROLE_MANUFACTURER, ONR_ROLE_OPERATOR,
                                             ONR_ROLE_PROVIDER};
    static const enum onr_role in_roles[] = {ONR_ROLE_MANUFACTURER, ONR_ROLE_OPERATOR,
                                             ONR_ROLE_PROVIDER, ONR_ROLE_CONTROL};
    static const enum onr_role ev_roles[] = {ONR_ROLE_MANUFACTURER, ONR_ROLE_OPERATOR,
                                             ONR_ROLE_PROVIDER, ONR_ROLE_BROKER};
    static const char *const svcs[] = {"a", "0", "op-1", "p.q_r", ID32};
    char topic[ONR_TOPIC_MAX + 1];
    char again[ONR_TOPIC_MAX + 1];
    char rest[ONR_TOPIC_MAX + 1];
    struct onr_topic t;

    (void)state;
    for (size_t s = 0; s < sizeof(svcs) / sizeof(svcs[0]); s++) {
        for (size_t r = 0; r < 3; r++) {
            assert_onr(ONR_OK, onr_topic_up(DEV, up_roles[r], svcs[s], topic, sizeof(topic)));
            assert_onr(ONR_OK, parse(topic, &t));
            assert_int_equal(t.kind, ONR_TOPIC_KIND_UP);
            assert_onr(ONR_OK, onr_topic_up(t.dev, t.role, t.svc, again, sizeof(again)));
            assert_string_equal(topic, again);
        }
        for (size_t r = 0; r < 4; r++) {
            assert_onr(ONR_OK, onr_topic_in(in_roles[r], svcs[s], topic, sizeof(topic)));
            assert_onr(ONR_OK, parse(topic, &t));
            assert_int_equal(t.kind, ONR_TOPIC_KIND_IN);
            assert_onr(ONR_OK, onr_topic_in(t.role, t.svc, again, sizeof(again)));
            assert_string_equal(topic, again);
            /* the plain filter of an inbox is the inbox */
            assert_onr(ONR_OK, onr_topic_filter_in(NULL, t.role, t.svc, again, sizeof(again)));
            assert_string_equal(topic, again);
            assert_onr(ONR_OK, onr_topic_ev(ev_roles[r], svcs[s], topic, sizeof(topic)));
            assert_onr(ONR_OK, parse(topic, &t));
            assert_int_equal(t.kind, ONR_TOPIC_KIND_EV);
            assert_onr(ONR_OK, onr_topic_ev(t.role, t.svc, again, sizeof(again)));
            assert_string_equal(topic, again);
        }
        assert_onr(ONR_OK, onr_topic_operational(svcs[s], DEV, "x/y", topic, sizeof(topic)));
        assert_onr(ONR_OK, parse(topic, &t));
        assert_int_equal(t.kind, ONR_TOPIC_KIND_OPERATIONAL);
        memcpy(rest, t.rest.ptr, t.rest.len);
        rest[t.rest.len] = '\0';
        assert_onr(ONR_OK, onr_topic_operational(t.svc, t.dev, rest, again, sizeof(again)));
        assert_string_equal(topic, again);
    }
    assert_onr(ONR_OK, onr_topic_down(DEV, topic, sizeof(topic)));
    assert_onr(ONR_OK, parse(topic, &t));
    assert_onr(ONR_OK, onr_topic_down(t.dev, again, sizeof(again)));
    assert_string_equal(topic, again);
}

/* Any one byte of a valid topic changed: either it is refused, or it is
 * another topic whose parts build exactly it. */
static void test_topic_parse_one_byte_changed(void **state)
{
    static const char *const topics[] = {
        "onr/1/d/" DEV "/up/op/op-1", "onr/1/d/" DEV "/down",  "onr/1/s/ctl/a/in",
        "onr/1/s/broker/b/ev",        "onr/1/p/p/dev/" DEV "/t", ONR_TOPIC_CONTROL,
    };
    static const char subst[] = {'+', '#', '/', '\0', '$', 'A', ' ', 'a', '2', '\x80', '-'};
    char buf[ONR_TOPIC_MAX + 1];
    char again[ONR_TOPIC_MAX + 1];
    char rest[ONR_TOPIC_MAX + 1];
    struct onr_topic t;
    int rc;

    (void)state;
    for (size_t k = 0; k < sizeof(topics) / sizeof(topics[0]); k++) {
        size_t len = strlen(topics[k]);

        for (size_t i = 0; i < len; i++) {
            for (size_t s = 0; s < sizeof(subst); s++) {
                memcpy(buf, topics[k], len);
                buf[i] = subst[s];
                buf[len] = '\0';
                rc = parse_exact(buf, len, &t);
                if (rc != ONR_OK) {
                    assert_onr(ONR_EFORMAT, rc);
                    continue;
                }
                switch (t.kind) {
                case ONR_TOPIC_KIND_UP:
                    rc = onr_topic_up(t.dev, t.role, t.svc, again, sizeof(again));
                    break;
                case ONR_TOPIC_KIND_DOWN: rc = onr_topic_down(t.dev, again, sizeof(again)); break;
                case ONR_TOPIC_KIND_IN: rc = onr_topic_in(t.role, t.svc, again, sizeof(again)); break;
                case ONR_TOPIC_KIND_EV: rc = onr_topic_ev(t.role, t.svc, again, sizeof(again)); break;
                case ONR_TOPIC_KIND_OPERATIONAL:
                    memcpy(rest, t.rest.ptr, t.rest.len);
                    rest[t.rest.len] = '\0';
                    rc = onr_topic_operational(t.svc, t.dev, rest, again, sizeof(again));
                    break;
                default:
                    snprintf(again, sizeof(again), "%s",
                             t.kind == ONR_TOPIC_KIND_CONTROL ? ONR_TOPIC_CONTROL : "?");
                    break;
                }
                assert_onr(ONR_OK, rc);
                assert_int_equal(strlen(again), len);
                assert_memory_equal(again, buf, len);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_role_levels_both_ways),
        cmocka_unit_test(test_topic_builds_every_topic_of_spec_section_2),
        cmocka_unit_test(test_topic_builds_filters_plain_and_shared),
        cmocka_unit_test(test_topic_builders_refuse_bad_ids),
        cmocka_unit_test(test_topic_builders_refuse_roles_a_topic_does_not_carry),
        cmocka_unit_test(test_topic_builders_refuse_bad_operational_levels),
        cmocka_unit_test(test_topic_builders_never_write_past_cap),
        cmocka_unit_test(test_topic_parses_every_topic_of_spec_section_2),
        cmocka_unit_test(test_topic_parse_refuses_wildcards_and_filters),
        cmocka_unit_test(test_topic_parse_refuses_dollar_empty_and_malformed_levels),
        cmocka_unit_test(test_topic_parse_refuses_wrong_roles),
        cmocka_unit_test(test_topic_parse_stops_at_len),
        cmocka_unit_test(test_topic_parse_bounds_and_arguments),
        cmocka_unit_test(test_topic_round_trips),
        cmocka_unit_test(test_topic_parse_one_byte_changed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
