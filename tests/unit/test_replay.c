#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/replay.h"

static int add(struct onr_replay *c, uint32_t name, uint64_t expires, uint64_t now)
{
    uint8_t b[4] = {(uint8_t)(name >> 24), (uint8_t)(name >> 16), (uint8_t)(name >> 8),
                    (uint8_t)name};
    const struct onr_bytes part = ONR_BYTES(b);

    return onr_replay_add(c, &part, 1, expires, now);
}

static void test_replay_refuses_second_copy(void **state)
{
    struct onr_replay *c = NULL;

    (void)state;
    assert_onr(ONR_OK, onr_replay_new(8, &c));
    assert_onr(ONR_OK, add(c, 1, 100, 10));
    assert_onr(ONR_EREPLAY, add(c, 1, 100, 11));
    assert_onr(ONR_OK, add(c, 2, 100, 11));
    assert_int_equal(onr_replay_count(c), 2);
    onr_replay_free(c);
}

static void test_replay_forgets_after_expiry(void **state)
{
    struct onr_replay *c = NULL;

    (void)state;
    assert_onr(ONR_OK, onr_replay_new(8, &c));
    assert_onr(ONR_OK, add(c, 1, 100, 10));
    assert_onr(ONR_EREPLAY, add(c, 1, 100, 100)); /* expiry is inclusive */
    assert_onr(ONR_OK, add(c, 1, 300, 101));
    assert_int_equal(onr_replay_count(c), 1);
    onr_replay_free(c);
}

static void test_replay_full_of_live_entries_refuses_new_ones(void **state)
{
    struct onr_replay *c = NULL;

    (void)state;
    assert_onr(ONR_OK, onr_replay_new(4, &c));
    for (uint32_t i = 0; i < 4; i++)
        assert_onr(ONR_OK, add(c, i, 100, 10));
    assert_onr(ONR_EREPLAYFULL, add(c, 99, 100, 10));
    /* a live entry is never evicted to make room: its replay stays refused */
    for (uint32_t i = 0; i < 4; i++)
        assert_onr(ONR_EREPLAY, add(c, i, 100, 50));
    /* once the oldest expires there is room again */
    assert_onr(ONR_OK, add(c, 99, 200, 101));
    onr_replay_free(c);
}

static void test_replay_renewed_entry_survives_its_old_ring_slot(void **state)
{
    struct onr_replay *c = NULL;

    (void)state;
    assert_onr(ONR_OK, onr_replay_new(4, &c));
    assert_onr(ONR_OK, add(c, 1, 100, 0));  /* oldest, expires at 100 */
    assert_onr(ONR_OK, add(c, 2, 50, 0));   /* expires first */
    assert_onr(ONR_OK, add(c, 2, 400, 60)); /* renewed in place after expiring */
    /* at 150 entry 1 is forgotten; 2's old ring slot must not take the
     * renewed entry with it */
    assert_onr(ONR_OK, add(c, 3, 400, 150));
    assert_onr(ONR_EREPLAY, add(c, 2, 400, 160));
    onr_replay_free(c);
}

/* Random adds checked against a plain array that remembers everything. */
static void test_replay_agrees_with_a_simple_model(void **state)
{
    enum { NAMES = 300, CAP = 64 };
    static uint64_t model_expires[NAMES];
    static int model_live[NAMES];
    struct onr_replay *c = NULL;
    uint32_t x = 12345;
    uint64_t now = 1000;

    (void)state;
    memset(model_live, 0, sizeof(model_live));
    assert_onr(ONR_OK, onr_replay_new(CAP, &c));
    for (int step = 0; step < 20000; step++) {
        uint32_t name;
        uint64_t expires;
        int rc;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        name = x % NAMES;
        now += (x >> 20) % 3;
        expires = now + 5 + (x >> 8) % 40;
        rc = add(c, name, expires, now);
        if (model_live[name] && model_expires[name] >= now) {
            /* whatever the cache's state, a live entry is always refused */
            assert_onr(ONR_EREPLAY, rc);
        } else if (rc == ONR_OK) {
            model_live[name] = 1;
            model_expires[name] = expires;
        } else {
            /* refusing a new entry is only allowed when every slot is live */
            assert_onr(ONR_EREPLAYFULL, rc);
            assert_int_equal(onr_replay_count(c), CAP);
        }
        assert_true(onr_replay_count(c) <= CAP);
    }
    onr_replay_free(c);
}

static void test_replay_rejects_bad_arguments(void **state)
{
    struct onr_replay *c = NULL;

    (void)state;
    assert_onr(ONR_EINVAL, onr_replay_new(0, &c));
    assert_onr(ONR_EINVAL, onr_replay_new((size_t)1 << 30, &c));
    assert_onr(ONR_OK, onr_replay_new(2, &c));
    assert_onr(ONR_EINVAL, onr_replay_add(c, NULL, 1, 1, 1));
    onr_replay_free(c);
    onr_replay_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_refuses_second_copy),
        cmocka_unit_test(test_replay_forgets_after_expiry),
        cmocka_unit_test(test_replay_full_of_live_entries_refuses_new_ones),
        cmocka_unit_test(test_replay_renewed_entry_survives_its_old_ring_slot),
        cmocka_unit_test(test_replay_agrees_with_a_simple_model),
        cmocka_unit_test(test_replay_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
