/*
 * An operational device's telemetry (<onramp/telemetry.h>, SPEC section
 * 14): its two forms written and read back, and everything else refused.
 */
#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/telemetry.h"

#define DEV "rguib733fa2xfyrzdwehzsohu743ont4"
#define HEX "000102030405060708090a0b0c0d0eff"
#define OLD "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\"}"
#define NEW(plmn) "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"" plmn "\",\"nonce\":\"" HEX "\"}"

static int decode(const char *text, struct onr_telemetry *t)
{
    return onr_telemetry_decode((const uint8_t *)text, strlen(text), t);
}

static void test_telemetry_writes_both_forms(void **state)
{
    struct onr_telemetry t;
    char out[ONR_TELEMETRY_MAX + 1];
    size_t len = 0;

    (void)state;
    memset(&t, 0, sizeof(t));
    memcpy(t.dev, DEV, sizeof(t.dev));
    assert_onr(ONR_OK, onr_telemetry_encode(&t, out, sizeof(out), &len));
    assert_string_equal(out, OLD);
    assert_int_equal(len, strlen(OLD));
    t.reported = 1;
    memcpy(t.plmn, "310410", 7);
    for (int i = 0; i < 16; i++)
        t.nonce[i] = (uint8_t)i;
    t.nonce[15] = 0xff;
    assert_onr(ONR_OK, onr_telemetry_encode(&t, out, sizeof(out), &len));
    assert_string_equal(out, NEW("310410"));
    assert_true(len <= ONR_TELEMETRY_MAX);
    assert_onr(ONR_ESPACE, onr_telemetry_encode(&t, out, len, &len));
    assert_string_equal(out, "");
    /* nothing malformed goes out */
    memcpy(t.plmn, "3104", 5);
    assert_onr(ONR_EINVAL, onr_telemetry_encode(&t, out, sizeof(out), &len));
    memcpy(t.plmn, "31041a", 7);
    assert_onr(ONR_EINVAL, onr_telemetry_encode(&t, out, sizeof(out), &len));
    memcpy(t.plmn, "72405", 6);
    t.dev[0] = 'A';
    assert_onr(ONR_EINVAL, onr_telemetry_encode(&t, out, sizeof(out), &len));
}

static void test_telemetry_reads_both_forms(void **state)
{
    struct onr_telemetry t;

    (void)state;
    assert_onr(ONR_OK, decode(OLD, &t));
    assert_string_equal(t.dev, DEV);
    assert_false(t.reported);
    assert_string_equal(t.plmn, "");
    assert_onr(ONR_OK, decode(NEW("72405"), &t));
    assert_true(t.reported);
    assert_string_equal(t.plmn, "72405");
    assert_int_equal(t.nonce[1], 1);
    assert_int_equal(t.nonce[15], 0xff);
    assert_onr(ONR_OK, decode(NEW("724005"), &t));
    assert_string_equal(t.plmn, "724005");
}

static void test_telemetry_refuses_anything_else(void **state)
{
    static const char *const bad[] = {
        "",
        "{}",
        "{\"dev\":\"" DEV "\"}",
        /* spaces, another order, another state, another key */
        "{\"dev\": \"" DEV "\",\"state\":\"OPERATIONAL\"}",
        "{\"state\":\"OPERATIONAL\",\"dev\":\"" DEV "\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"ENROLLED\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"temp\":\"21\"}",
        OLD " ",
        OLD "\n",
        /* a malformed device id */
        "{\"dev\":\"RGUIB733FA2XFYRZDWEHZSOHU743ONT4\",\"state\":\"OPERATIONAL\"}",
        "{\"dev\":\"rguib733fa2xfyrzdwehzsohu743ont\",\"state\":\"OPERATIONAL\"}",
        /* malformed PLMNs */
        NEW("7240"),
        NEW("7240051"),
        NEW(""),
        NEW("72a05"),
        NEW("72\\u0030405"),
        /* the PLMN without the nonce, or the nonce without it */
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"nonce\":\"" HEX "\"}",
        /* malformed nonces: short, long, uppercase, not hex */
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\",\"nonce\":\"00\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\",\"nonce\":\"" HEX
        "00\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\",\"nonce\":"
        "\"000102030405060708090A0B0C0D0EFF\"}",
        "{\"dev\":\"" DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\",\"nonce\":"
        "\"000102030405060708090a0b0c0d0eg0\"}",
    };
    struct onr_telemetry t;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_onr(ONR_EFORMAT, decode(bad[i], &t));
        assert_string_equal(t.dev, ""); /* zeroed */
    }
    /* every cut of a good one is refused, reading nothing past the cut */
    {
        const char *good = NEW("72405");

        for (size_t n = 0; n < strlen(good); n++)
            assert_onr(ONR_EFORMAT, onr_telemetry_decode((const uint8_t *)good, n, &t));
    }
    {
        char big[ONR_TELEMETRY_MAX + 2];

        memset(big, ' ', sizeof(big));
        assert_onr(ONR_ETOOBIG, onr_telemetry_decode((const uint8_t *)big, sizeof(big), &t));
    }
    assert_onr(ONR_EINVAL, onr_telemetry_decode(NULL, 3, &t));
    assert_onr(ONR_EINVAL, decode(OLD, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_telemetry_writes_both_forms),
        cmocka_unit_test(test_telemetry_reads_both_forms),
        cmocka_unit_test(test_telemetry_refuses_anything_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
