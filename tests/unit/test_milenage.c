#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/milenage.h"

/* Published vectors: 3GPP TS 35.208 test sets, as in
 * tests/vectors/milenage-ts35208.json. */
#define VECTORS "milenage-ts35208.json"

struct set {
    uint8_t k[16], rand[16], sqn[6], amf[2], op[16], opc[16];
    uint8_t f1[8], f1star[8], f2[8], f3[16], f4[16], f5[6], f5star[6];
};

/* Number of test sets in the file: each has one "set" key. */
static size_t count_sets(const char *json)
{
    const char *p = json;
    size_t n = 0;

    for (;;) {
        p = strstr(p, "\"set\"");
        if (p == NULL)
            break;
        n++;
        p++;
    }
    return n;
}

/* Read field `key` of set `nth`, which must have exactly `len` bytes. */
static void field(const char *json, const char *key, size_t nth, uint8_t *out, size_t len)
{
    assert_int_equal(onr_test_json_hex(json, key, nth, out, len), len);
}

static void read_set(const char *json, size_t nth, struct set *s)
{
    field(json, "K", nth, s->k, sizeof(s->k));
    field(json, "RAND", nth, s->rand, sizeof(s->rand));
    field(json, "SQN", nth, s->sqn, sizeof(s->sqn));
    field(json, "AMF", nth, s->amf, sizeof(s->amf));
    field(json, "OP", nth, s->op, sizeof(s->op));
    field(json, "OPc", nth, s->opc, sizeof(s->opc));
    field(json, "f1", nth, s->f1, sizeof(s->f1));
    field(json, "f1star", nth, s->f1star, sizeof(s->f1star));
    field(json, "f2", nth, s->f2, sizeof(s->f2));
    field(json, "f3", nth, s->f3, sizeof(s->f3));
    field(json, "f4", nth, s->f4, sizeof(s->f4));
    field(json, "f5", nth, s->f5, sizeof(s->f5));
    field(json, "f5star", nth, s->f5star, sizeof(s->f5star));
}

static void test_milenage_matches_ts35208_every_set(void **state)
{
    char *json = onr_test_vector_file(VECTORS);
    size_t n = count_sets(json);
    struct set s;
    uint8_t opc[16], mac_a[8], mac_s[8], res[8], ck[16], ik[16], ak[6], ak_star[6];

    (void)state;
    assert_true(n >= 4); /* TS 35.208 sets 1-4 at least */
    for (size_t i = 0; i < n; i++) {
        read_set(json, i, &s);
        assert_onr(ONR_OK, onr_milenage_opc(s.k, s.op, opc));
        assert_memory_equal(opc, s.opc, 16);
        /* The rest from the published OPc, not the one just computed. */
        assert_onr(ONR_OK, onr_milenage_f1(s.k, s.opc, s.rand, s.sqn, s.amf, mac_a, mac_s));
        assert_memory_equal(mac_a, s.f1, 8);
        assert_memory_equal(mac_s, s.f1star, 8);
        assert_onr(ONR_OK, onr_milenage_f2345(s.k, s.opc, s.rand, res, ck, ik, ak));
        assert_memory_equal(res, s.f2, 8);
        assert_memory_equal(ck, s.f3, 16);
        assert_memory_equal(ik, s.f4, 16);
        assert_memory_equal(ak, s.f5, 6);
        assert_onr(ONR_OK, onr_milenage_f5star(s.k, s.opc, s.rand, ak_star));
        assert_memory_equal(ak_star, s.f5star, 6);
    }
    free(json);
}

static void test_milenage_outputs_may_be_null(void **state)
{
    char *json = onr_test_vector_file(VECTORS);
    struct set s;
    uint8_t mac_a[8], mac_s[8], ck[16], ik[16], ak[6];

    (void)state;
    read_set(json, 0, &s);
    assert_onr(ONR_OK, onr_milenage_f1(s.k, s.opc, s.rand, s.sqn, s.amf, mac_a, NULL));
    assert_memory_equal(mac_a, s.f1, 8);
    assert_onr(ONR_OK, onr_milenage_f1(s.k, s.opc, s.rand, s.sqn, s.amf, NULL, mac_s));
    assert_memory_equal(mac_s, s.f1star, 8);
    assert_onr(ONR_OK, onr_milenage_f1(s.k, s.opc, s.rand, s.sqn, s.amf, NULL, NULL));
    assert_onr(ONR_OK, onr_milenage_f2345(s.k, s.opc, s.rand, NULL, ck, NULL, NULL));
    assert_memory_equal(ck, s.f3, 16);
    assert_onr(ONR_OK, onr_milenage_f2345(s.k, s.opc, s.rand, NULL, NULL, ik, NULL));
    assert_memory_equal(ik, s.f4, 16);
    assert_onr(ONR_OK, onr_milenage_f2345(s.k, s.opc, s.rand, NULL, NULL, NULL, ak));
    assert_memory_equal(ak, s.f5, 6);
    assert_onr(ONR_OK, onr_milenage_f2345(s.k, s.opc, s.rand, NULL, NULL, NULL, NULL));
    free(json);
}

static void test_milenage_rejects_null_arguments(void **state)
{
    uint8_t b16[16] = {0};
    uint8_t b8[8], b6[6] = {0}, b2[2] = {0};

    (void)state;
    assert_onr(ONR_EINVAL, onr_milenage_opc(NULL, b16, b16));
    assert_onr(ONR_EINVAL, onr_milenage_opc(b16, NULL, b16));
    assert_onr(ONR_EINVAL, onr_milenage_opc(b16, b16, NULL));

    assert_onr(ONR_EINVAL, onr_milenage_f1(NULL, b16, b16, b6, b2, b8, b8));
    assert_onr(ONR_EINVAL, onr_milenage_f1(b16, NULL, b16, b6, b2, b8, b8));
    assert_onr(ONR_EINVAL, onr_milenage_f1(b16, b16, NULL, b6, b2, b8, b8));
    assert_onr(ONR_EINVAL, onr_milenage_f1(b16, b16, b16, NULL, b2, b8, b8));
    assert_onr(ONR_EINVAL, onr_milenage_f1(b16, b16, b16, b6, NULL, b8, b8));

    assert_onr(ONR_EINVAL, onr_milenage_f2345(NULL, b16, b16, b8, b16, b16, b6));
    assert_onr(ONR_EINVAL, onr_milenage_f2345(b16, NULL, b16, b8, b16, b16, b6));
    assert_onr(ONR_EINVAL, onr_milenage_f2345(b16, b16, NULL, b8, b16, b16, b6));

    assert_onr(ONR_EINVAL, onr_milenage_f5star(NULL, b16, b16, b6));
    assert_onr(ONR_EINVAL, onr_milenage_f5star(b16, NULL, b16, b6));
    assert_onr(ONR_EINVAL, onr_milenage_f5star(b16, b16, NULL, b6));
    assert_onr(ONR_EINVAL, onr_milenage_f5star(b16, b16, b16, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milenage_matches_ts35208_every_set),
        cmocka_unit_test(test_milenage_outputs_may_be_null),
        cmocka_unit_test(test_milenage_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
