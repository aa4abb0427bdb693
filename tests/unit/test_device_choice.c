/* Which bootstrap broker a device uses (device_choice.c): a random one
 * first, the same while it works, the next one of the list when it fails. */
#include "testutil.h"

#include <stdint.h>
#include <string.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"

static const enum device_failure broker_failures[] = {
    DEVICE_FAIL_CONNECT,
    DEVICE_FAIL_REFUSED,
    DEVICE_FAIL_LOST,
    DEVICE_FAIL_NO_ANSWER,
};

static void test_choice_starts_where_the_random_number_says(void **state)
{
    struct device_choice c;

    (void)state;
    device_choice_start(&c, 3, 0);
    assert_int_equal(c.current, 0);
    device_choice_start(&c, 3, 2);
    assert_int_equal(c.current, 2);
    device_choice_start(&c, 3, 3);
    assert_int_equal(c.current, 0);
    device_choice_start(&c, 3, UINT32_MAX); /* 2^32 - 1 = 3 * 1431655765 */
    assert_int_equal(c.current, 0);
    device_choice_start(&c, 8, UINT32_MAX);
    assert_int_equal(c.current, 7);
    device_choice_start(&c, 1, 12345);
    assert_int_equal(c.current, 0);
    device_choice_start(&c, 0, 12345); /* nothing to choose: never an index past it */
    assert_int_equal(c.current, 0);
}

/* With the library's DRBG, as onr_device_start draws it: every broker is
 * somebody's first (a fleet spreads). 400 draws miss one of 4 brokers with
 * a probability of 4 * (3/4)^400, about 10^-49. */
static void test_choice_random_start_reaches_every_broker(void **state)
{
    struct device_choice c;
    unsigned hits[4] = {0};

    (void)state;
    for (int i = 0; i < 400; i++) {
        uint32_t r = 0;

        assert_onr(ONR_OK, onr_random((uint8_t *)&r, sizeof(r)));
        device_choice_start(&c, 4, r);
        assert_true(c.current < 4);
        hits[c.current]++;
    }
    for (size_t i = 0; i < 4; i++)
        assert_true(hits[i] > 0);
}

/* A broker that carried the request and an answer works, whatever the
 * answer said: the device stays with it, across steps and reconnects. */
static void test_choice_stays_on_a_broker_that_answers(void **state)
{
    struct device_choice c;

    (void)state;
    device_choice_start(&c, 3, 1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(device_choice_failed(&c, DEVICE_FAIL_ANSWER), 0);
        assert_int_equal(c.current, 1);
    }
}

/* Each failure of the broker's own moves to the next broker of the list,
 * wrapping: n failures in a row try every broker once, from the start. */
static void test_choice_moves_on_each_broker_failure_round_robin(void **state)
{
    struct device_choice c;

    (void)state;
    for (size_t k = 0; k < sizeof(broker_failures) / sizeof(broker_failures[0]); k++) {
        unsigned tried[3] = {0};

        device_choice_start(&c, 3, 2);
        for (int i = 0; i < 3; i++) {
            tried[c.current]++;
            assert_int_equal(device_choice_failed(&c, broker_failures[k]), 1);
        }
        assert_int_equal(c.current, 2); /* around once, back where it started */
        for (size_t b = 0; b < 3; b++)
            assert_int_equal(tried[b], 1);
    }
    /* the order is the list's: 2, 0, 1 */
    device_choice_start(&c, 3, 2);
    device_choice_failed(&c, DEVICE_FAIL_CONNECT);
    assert_int_equal(c.current, 0);
    device_choice_failed(&c, DEVICE_FAIL_ANSWER); /* stays */
    device_choice_failed(&c, DEVICE_FAIL_LOST);
    assert_int_equal(c.current, 1);
}

static void test_choice_with_one_broker_never_moves(void **state)
{
    struct device_choice c;

    (void)state;
    device_choice_start(&c, 1, 7);
    for (size_t k = 0; k < sizeof(broker_failures) / sizeof(broker_failures[0]); k++) {
        assert_int_equal(device_choice_failed(&c, broker_failures[k]), 0);
        assert_int_equal(c.current, 0);
    }
    device_choice_start(&c, 0, 7);
    assert_int_equal(device_choice_failed(&c, DEVICE_FAIL_LOST), 0);
    assert_int_equal(c.current, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_starts_where_the_random_number_says),
        cmocka_unit_test(test_choice_random_start_reaches_every_broker),
        cmocka_unit_test(test_choice_stays_on_a_broker_that_answers),
        cmocka_unit_test(test_choice_moves_on_each_broker_failure_round_robin),
        cmocka_unit_test(test_choice_with_one_broker_never_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
