#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/policy.h"

#define P(text) text, sizeof(text) - 1

/* Germany: op-de then op-eu; Brazil: op-br only; elsewhere op-eu. */
#define WORLD "262:op-de,op-eu;724:op-br;*:op-eu"

static void parse_ok(const char *text, struct onr_policy *p)
{
    assert_onr(ONR_OK, onr_policy_parse(text, strlen(text), p));
}

/* The resolution, as a table: country, user preference -> operator, rule. */
static void test_policy_resolves_by_country_user_and_fallback(void **state)
{
    static const struct {
        const char *policy;
        const char *mcc;      /* NULL: the device reported no network */
        const char *user;     /* NULL: no preference */
        int rc;
        const char *op;
        enum onr_choice why;
    } rows[] = {
        /* the country's list: its first, or the user's where it allows it */
        {WORLD, "262", NULL, ONR_OK, "op-de", ONR_CHOICE_POLICY},
        {WORLD, "262", "op-eu", ONR_OK, "op-eu", ONR_CHOICE_USER},
        {WORLD, "724", NULL, ONR_OK, "op-br", ONR_CHOICE_POLICY},
        /* a preference the country's list does not allow loses */
        {WORLD, "724", "op-eu", ONR_OK, "op-br", ONR_CHOICE_POLICY},
        {WORLD, "724", "op-de", ONR_OK, "op-br", ONR_CHOICE_POLICY},
        /* any other country, or none reported: the fallback */
        {WORLD, "310", NULL, ONR_OK, "op-eu", ONR_CHOICE_FALLBACK},
        {WORLD, "310", "op-eu", ONR_OK, "op-eu", ONR_CHOICE_USER},
        {WORLD, "310", "op-de", ONR_OK, "op-eu", ONR_CHOICE_FALLBACK},
        {WORLD, NULL, NULL, ONR_OK, "op-eu", ONR_CHOICE_FALLBACK},
        /* no list for the country and no fallback: no operator */
        {"262:op-de", "724", NULL, ONR_ENOOPERATOR, NULL, 0},
        {"262:op-de", "724", "op-de", ONR_ENOOPERATOR, NULL, 0},
        {"262:op-de", NULL, NULL, ONR_ENOOPERATOR, NULL, 0},
        /* a fallback alone is everyone's list */
        {"*:op-1,op-2", "262", "op-2", ONR_OK, "op-2", ONR_CHOICE_USER},
        {"*:op-1,op-2", "262", "op-9", ONR_OK, "op-1", ONR_CHOICE_FALLBACK},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct onr_policy p;
        const char *op = NULL;
        enum onr_choice why = 0;

        parse_ok(rows[i].policy, &p);
        assert_onr(rows[i].rc, onr_policy_resolve(&p, rows[i].mcc, rows[i].user, &op, &why));
        if (rows[i].rc != ONR_OK) {
            assert_null(op);
            continue;
        }
        assert_string_equal(op, rows[i].op);
        assert_int_equal(why, rows[i].why);
    }
}

static void test_policy_text_round_trips_in_order(void **state)
{
    struct onr_policy p;
    char text[ONR_POLICY_TEXT_MAX + 1];
    size_t len = 0;

    (void)state;
    parse_ok(WORLD, &p);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.entries[0].mcc, "262");
    assert_int_equal(p.entries[0].n_ops, 2);
    assert_string_equal(p.entries[0].ops[1], "op-eu");
    assert_string_equal(p.entries[2].mcc, ONR_POLICY_ANY);
    assert_onr(ONR_OK, onr_policy_format(&p, text, sizeof(text), &len));
    assert_string_equal(text, WORLD);
    assert_int_equal(len, strlen(WORLD));
    /* too small a buffer is said, not truncated silently */
    assert_onr(ONR_ESPACE, onr_policy_format(&p, text, 10, NULL));
}

static void test_policy_built_line_by_line_formats_as_parsed(void **state)
{
    struct onr_policy built = {0};
    struct onr_policy parsed;
    char text[ONR_POLICY_TEXT_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, onr_policy_add(&built, "262", "op-de"));
    assert_onr(ONR_OK, onr_policy_add(&built, "724", "op-br"));
    assert_onr(ONR_OK, onr_policy_add(&built, "262", "op-eu"));
    assert_onr(ONR_OK, onr_policy_add(&built, "*", "op-eu"));
    assert_onr(ONR_OK, onr_policy_format(&built, text, sizeof(text), NULL));
    assert_string_equal(text, WORLD);
    parse_ok(text, &parsed);
    assert_memory_equal(&parsed, &built, sizeof(parsed));
    /* the same operator twice in one country's list */
    assert_onr(ONR_EEXIST, onr_policy_add(&built, "262", "op-de"));
    assert_onr(ONR_EINVAL, onr_policy_add(&built, "26", "op-de"));
    assert_onr(ONR_EINVAL, onr_policy_add(&built, "2620", "op-de"));
    assert_onr(ONR_EINVAL, onr_policy_add(&built, "262", "-op"));
    assert_onr(ONR_EINVAL, onr_policy_add(&built, "262", "OP"));
    /* nothing changed by the refusals */
    assert_onr(ONR_OK, onr_policy_format(&built, text, sizeof(text), NULL));
    assert_string_equal(text, WORLD);
}

static void test_policy_refuses_malformed_text(void **state)
{
    static const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"", ONR_EFORMAT},
        {"262", ONR_EFORMAT},              /* no operators */
        {"262:", ONR_EFORMAT},
        {":op-1", ONR_EFORMAT},
        {"262:op-1;", ONR_EFORMAT},        /* an empty entry */
        {";262:op-1", ONR_EFORMAT},
        {"262:op-1,", ONR_EFORMAT},        /* an empty operator */
        {"262:,op-1", ONR_EFORMAT},
        {"262:op-1;262:op-2", ONR_EFORMAT}, /* a country twice */
        {"*:op-1;*:op-2", ONR_EFORMAT},
        {"262:op-1,op-1", ONR_EEXIST},
        {"26:op-1", ONR_EFORMAT},
        {"2a2:op-1", ONR_EFORMAT},
        {"**:op-1", ONR_EFORMAT},
        {"262:op 1", ONR_EFORMAT},
        {"262 :op-1", ONR_EFORMAT},
        {"262:Op-1", ONR_EFORMAT},
        {"262:op-1:op-2", ONR_EFORMAT},
        {"262:.op", ONR_EFORMAT},
        {"262:abcdefghijklmnopqrstuvwxyz0123456", ONR_EFORMAT}, /* 33 characters */
    };
    struct onr_policy p;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_onr(bad[i].rc, onr_policy_parse(bad[i].text, strlen(bad[i].text), &p));
    /* a NUL inside the bytes is not the end of the text */
    assert_onr(ONR_EFORMAT, onr_policy_parse(P("262:op-1\0;724:op-2"), &p));
}

static void test_policy_bounds(void **state)
{
    struct onr_policy p = {0};
    char text[2 * ONR_POLICY_TEXT_MAX];
    char mcc[4];
    size_t at = 0;

    (void)state;
    /* nine operators in one country's list */
    assert_onr(ONR_ECOUNT, onr_policy_parse(P("262:a,b,c,d,e,f,g,h,i"), &p));
    assert_onr(ONR_OK, onr_policy_parse(P("262:a,b,c,d,e,f,g,h"), &p));
    /* thirty-three countries */
    for (int i = 0; i < 33; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%03d:o", i ? ";" : "", 200 + i);
    assert_onr(ONR_ECOUNT, onr_policy_parse(text, at, &p));
    assert_onr(ONR_OK, onr_policy_parse(text, 32 * 6 - 1, &p));
    assert_int_equal(p.n, 32);
    assert_onr(ONR_ECOUNT, onr_policy_add(&p, "999", "o"));
    /* longer than the text bound, however well formed */
    memset(text, 'x', sizeof(text));
    assert_onr(ONR_ETOOBIG, onr_policy_parse(text, ONR_POLICY_TEXT_MAX + 1, &p));
    /* building past the text bound is refused too, the policy unchanged */
    memset(&p, 0, sizeof(p));
    for (int i = 0; i < 20; i++) {
        snprintf(mcc, sizeof(mcc), "%03d", 200 + i);
        assert_onr(ONR_OK, onr_policy_add(&p, mcc, "abcdefghijklmnopqrst"));
    }
    assert_onr(ONR_OK, onr_policy_format(&p, text, sizeof(text), &at));
    assert_onr(ONR_ETOOBIG, onr_policy_add(&p, "999", "abcdefghijklmnopqrstuvwxyz012345"));
    assert_int_equal(p.n, 20);
}

static void test_plmn_and_choice_names(void **state)
{
    enum onr_choice c;

    (void)state;
    assert_onr(ONR_OK, onr_plmn_check(P("26201")));
    assert_onr(ONR_OK, onr_plmn_check(P("310410")));
    assert_onr(ONR_EINVAL, onr_plmn_check(P("2620")));
    assert_onr(ONR_EINVAL, onr_plmn_check(P("3104100")));
    assert_onr(ONR_EINVAL, onr_plmn_check(P("26a01")));
    assert_onr(ONR_EINVAL, onr_plmn_check(P("262 1")));
    assert_onr(ONR_EINVAL, onr_plmn_check(NULL, 5));
    for (int i = ONR_CHOICE_USER; i <= ONR_CHOICE_FALLBACK; i++) {
        const char *name = onr_choice_name((enum onr_choice)i);

        assert_non_null(name);
        assert_onr(ONR_OK, onr_choice_parse(name, strlen(name), &c));
        assert_int_equal(c, i);
    }
    assert_null(onr_choice_name(0));
    assert_null(onr_choice_name(ONR_CHOICE_FALLBACK + 1));
    assert_onr(ONR_EINVAL, onr_choice_parse(P("users"), &c));
    assert_onr(ONR_EINVAL, onr_choice_parse(P("use"), &c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_resolves_by_country_user_and_fallback),
        cmocka_unit_test(test_policy_text_round_trips_in_order),
        cmocka_unit_test(test_policy_built_line_by_line_formats_as_parsed),
        cmocka_unit_test(test_policy_refuses_malformed_text),
        cmocka_unit_test(test_policy_bounds),
        cmocka_unit_test(test_plmn_and_choice_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
