#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/pop.h"
#include "onramp/replay.h"

#define NOW 1900000000u
#define WINDOW 300
#define BROKER "bootstrap-eu-1"

struct fixture {
    struct onr_p256_key *key;
    struct onr_p256_key *other;
    char id[ONR_DEVID_LEN + 1];
    char other_id[ONR_DEVID_LEN + 1];
    struct onr_replay *replay;
    uint8_t proof[ONR_POP_LEN];
};

static struct onr_bytes str(const char *s)
{
    return (struct onr_bytes){(const uint8_t *)s, strlen(s)};
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t pub[ONR_P256_PUB_LEN];

    assert_non_null(f);
    assert_onr(ONR_OK, onr_p256_generate(&f->key));
    assert_onr(ONR_OK, onr_p256_generate(&f->other));
    assert_onr(ONR_OK, onr_p256_public(f->key, pub));
    assert_onr(ONR_OK, onr_devid_from_public(pub, f->id));
    assert_onr(ONR_OK, onr_p256_public(f->other, pub));
    assert_onr(ONR_OK, onr_devid_from_public(pub, f->other_id));
    assert_onr(ONR_OK, onr_replay_new(64, &f->replay));
    assert_onr(ONR_OK, onr_pop_encode(f->key, str(f->id), str(BROKER), NOW, f->proof));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    onr_p256_free(f->key);
    onr_p256_free(f->other);
    onr_replay_free(f->replay);
    free(f);
    return 0;
}

static int verify(struct fixture *f, const char *id, const char *broker, uint64_t now)
{
    return onr_pop_verify(f->proof, sizeof(f->proof), str(id), str(broker), now, WINDOW, 0,
                          f->replay, NULL);
}

static void test_pop_round_trip(void **state)
{
    struct fixture *f = *state;
    struct onr_pop pop;
    uint8_t pub[ONR_P256_PUB_LEN];

    assert_int_equal(ONR_POP_LEN, 154);
    assert_onr(ONR_OK, onr_pop_verify(f->proof, sizeof(f->proof), str(f->id), str(BROKER), NOW,
                                      WINDOW, 0, f->replay, &pop));
    assert_onr(ONR_OK, onr_p256_public(f->key, pub));
    assert_memory_equal(pop.public_key, pub, sizeof(pub));
    assert_int_equal(pop.timestamp, NOW);
}

static void test_pop_refuses_replay(void **state)
{
    struct fixture *f = *state;

    assert_onr(ONR_OK, verify(f, f->id, BROKER, NOW));
    assert_onr(ONR_EREPLAY, verify(f, f->id, BROKER, NOW + 1));
    /* a fresh proof from the same device is fine */
    assert_onr(ONR_OK, onr_pop_encode(f->key, str(f->id), str(BROKER), NOW, f->proof));
    assert_onr(ONR_OK, verify(f, f->id, BROKER, NOW + 1));
}

static void test_pop_refuses_other_client_id(void **state)
{
    struct fixture *f = *state;

    /* a proof for my id presented under another device's id */
    assert_onr(ONR_EBADKEY, verify(f, f->other_id, BROKER, NOW));
    /* and under an id that is no device id at all */
    assert_onr(ONR_EBADKEY, verify(f, "auto-1234", BROKER, NOW));
    assert_onr(ONR_EBADKEY, verify(f, "+", BROKER, NOW));
}

static void test_pop_refuses_other_broker(void **state)
{
    struct fixture *f = *state;

    assert_onr(ONR_EBADSIG, verify(f, f->id, "bootstrap-us-1", NOW));
}

static void test_pop_refuses_stale_or_future_proof(void **state)
{
    struct fixture *f = *state;

    assert_onr(ONR_ESTALE, verify(f, f->id, BROKER, NOW + WINDOW + 1));
    assert_onr(ONR_ESTALE, verify(f, f->id, BROKER, NOW - WINDOW - 1));
    /* nothing was recorded: the proof still works inside the window */
    assert_onr(ONR_OK, verify(f, f->id, BROKER, NOW + WINDOW));
}

/* A broker that restarted forgot what it admitted: it passes its start
 * time, and a proof made before it is refused, recording nothing. */
static void test_pop_refuses_proof_before_not_before(void **state)
{
    struct fixture *f = *state;

    assert_onr(ONR_ESTALE, onr_pop_verify(f->proof, sizeof(f->proof), str(f->id), str(BROKER),
                                          NOW + 10, WINDOW, NOW + 1, f->replay, NULL));
    assert_int_equal(onr_replay_count(f->replay), 0);
    assert_onr(ONR_OK, onr_pop_verify(f->proof, sizeof(f->proof), str(f->id), str(BROKER),
                                      NOW + 10, WINDOW, NOW, f->replay, NULL));
}

static void test_pop_refuses_malformed_bytes(void **state)
{
    struct fixture *f = *state;
    uint8_t bad[ONR_POP_LEN + 1];

    memcpy(bad, f->proof, ONR_POP_LEN);
    assert_onr(ONR_ELENGTH, onr_pop_verify(bad, ONR_POP_LEN - 1, str(f->id), str(BROKER), NOW,
                                           WINDOW, 0, f->replay, NULL));
    bad[ONR_POP_LEN] = 0;
    assert_onr(ONR_ELENGTH, onr_pop_verify(bad, ONR_POP_LEN + 1, str(f->id), str(BROKER), NOW,
                                           WINDOW, 0, f->replay, NULL));
    bad[0] = 2;
    assert_onr(ONR_EVERSION, onr_pop_verify(bad, ONR_POP_LEN, str(f->id), str(BROKER), NOW,
                                            WINDOW, 0, f->replay, NULL));
    assert_onr(ONR_EINVAL, onr_pop_verify(f->proof, ONR_POP_LEN, str(""), str(BROKER), NOW,
                                          WINDOW, 0, f->replay, NULL));
}

static void test_pop_refuses_any_changed_byte(void **state)
{
    struct fixture *f = *state;
    uint8_t bad[ONR_POP_LEN];

    for (size_t i = 0; i < ONR_POP_LEN; i++) {
        int rc;

        memcpy(bad, f->proof, ONR_POP_LEN);
        bad[i] ^= 0x01;
        rc = onr_pop_verify(bad, ONR_POP_LEN, str(f->id), str(BROKER), NOW, WINDOW, 0, NULL,
                            NULL);
        if (rc == ONR_OK)
            fail_msg("proof with byte %zu changed accepted", i);
    }
    /* the original is still unused */
    assert_onr(ONR_OK, verify(f, f->id, BROKER, NOW));
}

static void test_pop_signature_by_another_key_is_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t theirs[ONR_POP_LEN];

    /* the other device's proof with my public key pasted in */
    assert_onr(ONR_OK, onr_pop_encode(f->other, str(f->id), str(BROKER), NOW, theirs));
    memcpy(theirs + 1, f->proof + 1, ONR_P256_PUB_LEN);
    assert_onr(ONR_EBADSIG, onr_pop_verify(theirs, ONR_POP_LEN, str(f->id), str(BROKER), NOW,
                                           WINDOW, 0, f->replay, NULL));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pop_round_trip),
        T(test_pop_refuses_replay),
        T(test_pop_refuses_other_client_id),
        T(test_pop_refuses_other_broker),
        T(test_pop_refuses_stale_or_future_proof),
        T(test_pop_refuses_proof_before_not_before),
        T(test_pop_refuses_malformed_bytes),
        T(test_pop_refuses_any_changed_byte),
        T(test_pop_signature_by_another_key_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
