/* AKA on Milenage: vectors, the USIM's checks, SQN freshness and resync. */
#include "testutil.h"

#include <string.h>

#include "onramp/aka.h"
#include "onramp/error.h"

/* TS 35.208 test set 1 (tests/vectors/milenage-ts35208.json). */
static struct onr_aka_subscriber set1(void)
{
    struct onr_aka_subscriber s;

    onr_test_hex("465b5ce8b199b49faa5f0a2ee238a6bc", s.k, 16);
    onr_test_hex("cd63cb71954a9f4e48a5994e37a02baf", s.opc, 16);
    onr_test_hex("b9b9", s.amf, 2);
    return s;
}

static const char rand1[] = "23553cbe9637a89d218ae64dae47bf35";

static void test_aka_vector_matches_ts35208_set1(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_vector v;
    uint8_t rand[16], autn[16], xres[8], ck[16], ik[16];

    (void)state;
    onr_test_hex(rand1, rand, 16);
    assert_int_equal(onr_aka_vector(&s, UINT64_C(0xff9bb4d0b607), rand, &v), ONR_OK);
    /* (SQN xor AK) || AMF || MAC-A with AK = f5 = aa689c648370 */
    onr_test_hex("55f328b43577b9b94a9ffac354dfafb3", autn, 16);
    onr_test_hex("a54211d5e3ba50bf", xres, 8);
    onr_test_hex("b40ba9a3c58b2a05bbf0d987b21bf8cb", ck, 16);
    onr_test_hex("f769bcd751044604127672711c6d3441", ik, 16);
    assert_memory_equal(v.autn, autn, 16);
    assert_memory_equal(v.xres, xres, 8);
    assert_memory_equal(v.ck, ck, 16);
    assert_memory_equal(v.ik, ik, 16);
    assert_memory_equal(v.rand, rand, 16);
}

static void test_aka_sqn_next_advances_seq_and_slot(void **state)
{
    uint64_t sqn = 0;

    (void)state;
    assert_int_equal(onr_aka_sqn_next(0, &sqn), ONR_OK);
    assert_int_equal(sqn, (1u << 5) | 1);
    assert_int_equal(onr_aka_sqn_next((7u << 5) | 31, &sqn), ONR_OK);
    assert_int_equal(sqn, (8u << 5) | 0);
    assert_int_equal(onr_aka_sqn_next(ONR_AKA_SQN_MAX, &sqn), ONR_ERANGE);
}

/* A USIM run of the vector for `sqn`: its result code. */
static int usim_run(const struct onr_aka_subscriber *s, struct onr_aka_sqn_store *store,
                    uint64_t sqn, struct onr_aka_vector *v, uint8_t auts[14])
{
    uint8_t rand[16] = {0};
    uint8_t res[8], ck[16], ik[16];
    uint64_t taken = 0;
    int rc;

    rand[15] = (uint8_t)sqn;
    assert_int_equal(onr_aka_vector(s, sqn, rand, v), ONR_OK);
    rc = onr_aka_usim(s, store, v->rand, v->autn, res, ck, ik, auts, &taken);
    if (rc == ONR_OK) {
        assert_memory_equal(res, v->xres, 8);
        assert_memory_equal(ck, v->ck, 16);
        assert_memory_equal(ik, v->ik, 16);
        assert_int_equal(taken, sqn); /* what orders the runs a device answered */
    }
    return rc;
}

static void test_aka_usim_accepts_a_fresh_challenge_and_records_it(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_sqn_store store;
    struct onr_aka_vector v;
    uint8_t auts[14];
    uint64_t sqn = 0;

    (void)state;
    memset(&store, 0, sizeof(store));
    assert_int_equal(onr_aka_sqn_next(0, &sqn), ONR_OK);
    assert_int_equal(usim_run(&s, &store, sqn, &v, auts), ONR_OK);
    assert_int_equal(onr_aka_sqn_ms(&store), sqn);
}

static void test_aka_usim_refuses_a_replayed_autn_with_auts(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_sqn_store store, before;
    struct onr_aka_vector v;
    uint8_t res[8], ck[16], ik[16], auts[14];
    uint64_t sqn_ms = 0, taken = 0;

    (void)state;
    memset(&store, 0, sizeof(store));
    assert_int_equal(usim_run(&s, &store, (5u << 5) | 5, &v, auts), ONR_OK);
    before = store;
    /* the very same RAND and AUTN again */
    assert_int_equal(onr_aka_usim(&s, &store, v.rand, v.autn, res, ck, ik, auts, &taken),
                     ONR_EREPLAY);
    assert_memory_equal(&store, &before, sizeof(store));
    /* the AuC learns the USIM's SQN from AUTS */
    assert_int_equal(onr_aka_resync(&s, v.rand, auts, &sqn_ms), ONR_OK);
    assert_int_equal(sqn_ms, (5u << 5) | 5);
}

static void test_aka_usim_refuses_an_old_seq_in_its_slot(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_sqn_store store;
    struct onr_aka_vector v;
    uint8_t auts[14];

    (void)state;
    memset(&store, 0, sizeof(store));
    assert_int_equal(usim_run(&s, &store, (10u << 5) | 3, &v, auts), ONR_OK);
    assert_int_equal(usim_run(&s, &store, (9u << 5) | 3, &v, auts), ONR_EREPLAY);
    /* another slot may still take an older SEQ (TS 33.102 C.2.2) */
    assert_int_equal(usim_run(&s, &store, (9u << 5) | 4, &v, auts), ONR_OK);
}

static void test_aka_usim_refuses_a_seq_too_far_ahead(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_sqn_store store;
    struct onr_aka_vector v;
    uint8_t auts[14];

    (void)state;
    memset(&store, 0, sizeof(store));
    assert_int_equal(usim_run(&s, &store, (1u << 5) | 1, &v, auts), ONR_OK);
    assert_int_equal(usim_run(&s, &store, ((ONR_AKA_DELTA + 2) << 5) | 2, &v, auts),
                     ONR_EREPLAY);
    assert_int_equal(usim_run(&s, &store, ((ONR_AKA_DELTA + 1) << 5) | 2, &v, auts), ONR_OK);
}

static void test_aka_usim_refuses_a_forged_mac(void **state)
{
    struct onr_aka_subscriber s = set1();
    struct onr_aka_sqn_store store, before;
    struct onr_aka_vector v;
    uint8_t rand[16] = {1};
    uint8_t res[8], ck[16], ik[16], auts[14];
    uint64_t taken = 0;

    (void)state;
    memset(&store, 0, sizeof(store));
    before = store;
    assert_int_equal(onr_aka_vector(&s, 33, rand, &v), ONR_OK);
    for (int i = 0; i < 16; i++) {
        uint8_t autn[16];

        memcpy(autn, v.autn, 16);
        autn[i] ^= 0x01; /* SQN, AMF or MAC-A */
        assert_int_equal(onr_aka_usim(&s, &store, v.rand, autn, res, ck, ik, auts, &taken),
                         ONR_EBADMAC);
        assert_memory_equal(&store, &before, sizeof(store));
    }
    /* another subscriber's key */
    s.k[0] ^= 1;
    assert_int_equal(onr_aka_usim(&s, &store, v.rand, v.autn, res, ck, ik, auts, &taken),
                     ONR_EBADMAC);
}

static void test_aka_resync_refuses_forged_auts(void **state)
{
    struct onr_aka_subscriber s = set1();
    uint8_t rand[16] = {2};
    uint8_t auts[14] = {0};
    uint64_t sqn_ms = 0;

    (void)state;
    assert_int_equal(onr_aka_resync(&s, rand, auts, &sqn_ms), ONR_EBADMAC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aka_vector_matches_ts35208_set1),
        cmocka_unit_test(test_aka_sqn_next_advances_seq_and_slot),
        cmocka_unit_test(test_aka_usim_accepts_a_fresh_challenge_and_records_it),
        cmocka_unit_test(test_aka_usim_refuses_a_replayed_autn_with_auts),
        cmocka_unit_test(test_aka_usim_refuses_an_old_seq_in_its_slot),
        cmocka_unit_test(test_aka_usim_refuses_a_seq_too_far_ahead),
        cmocka_unit_test(test_aka_usim_refuses_a_forged_mac),
        cmocka_unit_test(test_aka_resync_refuses_forged_auts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
