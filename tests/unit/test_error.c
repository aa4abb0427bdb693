#include "testutil.h"

#include <string.h>

#include "onramp/error.h"

static void test_error_codes_are_negative_and_named(void **state)
{
    (void)state;
    assert_true(ONR_EINVAL < 0);
    assert_int_equal(ONR_EBADSIG, -40);
    assert_string_equal(onr_error_name(ONR_EBADSIG), "EBADSIG");
    assert_string_equal(onr_strerror(ONR_EBADSIG), "signature does not verify");
    assert_string_equal(onr_strerror(ONR_OK), "success");
    assert_string_equal(onr_error_name(ONR_OK), "OK");
}

static void test_error_unknown_code_has_generic_text(void **state)
{
    (void)state;
    assert_string_equal(onr_strerror(-9999), "unknown error");
    assert_string_equal(onr_error_name(12345), "UNKNOWN");
}

static void test_error_every_code_has_distinct_message(void **state)
{
    static const int codes[] = {
#define CODE(name, num, msg) ONR_##name,
        ONR_ERROR_LIST(CODE)
#undef CODE
    };
    (void)state;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_string_not_equal(onr_strerror(codes[i]), "unknown error");
        for (size_t j = i + 1; j < sizeof(codes) / sizeof(codes[0]); j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(onr_strerror(codes[i]), onr_strerror(codes[j]));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_codes_are_negative_and_named),
        cmocka_unit_test(test_error_unknown_code_has_generic_text),
        cmocka_unit_test(test_error_every_code_has_distinct_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
