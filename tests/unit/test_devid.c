#include "testutil.h"

#include <string.h>

#include "onramp/devid.h"
#include "onramp/error.h"

/* The public key of NIST's P-256 ECDSA example, and its device id computed
 * independently (Python hashlib + base64.b32encode) from the definition in
 * proto/SPEC.md. */
#define NIST_Q                                                                  \
    "04B7E08AFDFE94BAD3F1DC8C734798BA1C62B3A0AD1E9EA2A38201CD0889BC7A19"        \
    "3603F747959DBF7A4BB226E41928729063ADC7AE43529E61B563BBC606CC5E09"
#define NIST_Q_DEVID "rguib733fa2xfyrzdwehzsohu743ont4"

static void test_devid_matches_independent_computation(void **state)
{
    uint8_t pub[65];
    char id[ONR_DEVID_LEN + 1];

    (void)state;
    onr_test_hex(NIST_Q, pub, sizeof(pub));
    assert_onr(ONR_OK, onr_devid_from_public(pub, id));
    assert_string_equal(id, NIST_Q_DEVID);
    assert_int_equal(strlen(id), ONR_DEVID_LEN);
    assert_onr(ONR_OK, onr_devid_check(id, strlen(id)));
    assert_onr(ONR_OK, onr_devid_matches(id, strlen(id), pub));
}

static void test_devid_differs_for_another_key(void **state)
{
    uint8_t pub[65];
    char id[ONR_DEVID_LEN + 1];
    struct onr_p256_key *key = NULL;

    (void)state;
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    onr_p256_free(key);
    assert_onr(ONR_OK, onr_devid_from_public(pub, id));
    assert_string_not_equal(id, NIST_Q_DEVID);
    assert_onr(ONR_EBADKEY, onr_devid_matches(NIST_Q_DEVID, ONR_DEVID_LEN, pub));
}

static void test_devid_check_rejects_bad_syntax(void **state)
{
    char id[ONR_DEVID_LEN + 1];

    (void)state;
    memcpy(id, NIST_Q_DEVID, sizeof(id));
    assert_onr(ONR_ELENGTH, onr_devid_check(id, ONR_DEVID_LEN - 1));
    assert_onr(ONR_ELENGTH, onr_devid_check(id, 0));
    id[5] = 'A'; /* uppercase */
    assert_onr(ONR_ECHARSET, onr_devid_check(id, ONR_DEVID_LEN));
    id[5] = '1'; /* not in the base32 alphabet */
    assert_onr(ONR_ECHARSET, onr_devid_check(id, ONR_DEVID_LEN));
    id[5] = '/'; /* topic separator */
    assert_onr(ONR_ECHARSET, onr_devid_check(id, ONR_DEVID_LEN));
    id[5] = '+'; /* MQTT wildcard */
    assert_onr(ONR_ECHARSET, onr_devid_check(id, ONR_DEVID_LEN));
    id[5] = '\0';
    assert_onr(ONR_ECHARSET, onr_devid_check(id, ONR_DEVID_LEN));
    assert_onr(ONR_EINVAL, onr_devid_check(NULL, ONR_DEVID_LEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devid_matches_independent_computation),
        cmocka_unit_test(test_devid_differs_for_another_key),
        cmocka_unit_test(test_devid_check_rejects_bad_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
