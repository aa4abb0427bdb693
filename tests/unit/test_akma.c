/* AKMA-style keys (SPEC section 13) and the sealed profile and app key. */
#include "testutil.h"

#include <string.h>

#include "onramp/akma.h"
#include "onramp/error.h"
#include "onramp/sealed.h"
#include "onramp/x25519.h"

#define DEV "rguib733fa2xfyrzdwehzsohu743ont4"
#define DEV2 "abcdefghijklmnopqrstuvwxyz234567"

/* SPEC section 13's example: CK and IK of TS 35.208 test set 1. */
static void test_akma_matches_the_spec_example(void **state)
{
    uint8_t ck[16], ik[16], kid[16], k_akma[32], k_af[32];
    uint8_t want_kid[16], want_akma[32], want_af[32];

    (void)state;
    onr_test_hex("b40ba9a3c58b2a05bbf0d987b21bf8cb", ck, 16);
    onr_test_hex("f769bcd751044604127672711c6d3441", ik, 16);
    onr_test_hex("49493a819ed636940f783cc22fa4af11", want_kid, 16);
    onr_test_hex("32149d5830e83dc946d65ae975c54c39bbd6548a492fb5c10cc7c4f4e2552a8c", want_akma,
                 32);
    onr_test_hex("38c933a9527393d315f8cca09ee5257012285cd2d3877cc297a6023abac8c209", want_af, 32);
    assert_int_equal(onr_akma_derive(ck, ik, "001010000000001", kid, k_akma), ONR_OK);
    assert_memory_equal(kid, want_kid, 16);
    assert_memory_equal(k_akma, want_akma, 32);
    assert_int_equal(onr_akma_af_key(k_akma, "acme-iot", k_af), ONR_OK);
    assert_memory_equal(k_af, want_af, 32);
}

static void test_akma_keys_differ_per_provider_and_subscriber(void **state)
{
    uint8_t ck[16] = {1}, ik[16] = {2}, kid1[16], kid2[16], a1[32], a2[32], f1[32], f2[32];

    (void)state;
    assert_int_equal(onr_akma_derive(ck, ik, "001010000000001", kid1, a1), ONR_OK);
    assert_int_equal(onr_akma_derive(ck, ik, "001010000000002", kid2, a2), ONR_OK);
    assert_memory_not_equal(kid1, kid2, 16);
    assert_memory_not_equal(a1, a2, 32);
    assert_int_equal(onr_akma_af_key(a1, "prov-a", f1), ONR_OK);
    assert_int_equal(onr_akma_af_key(a1, "prov-b", f2), ONR_OK);
    assert_memory_not_equal(f1, f2, 32);
    assert_int_equal(onr_akma_derive(ck, ik, "", kid1, a1), ONR_EINVAL);
}

static struct onr_msg_profile_content sample_profile(void)
{
    static const uint8_t ki[16] = {0x11}, opc[16] = {0x22}, amf[2] = {0x80, 0};

    return (struct onr_msg_profile_content){
        .iccid = ONR_BYTES_STR("8949001000000000017"),
        .imsi = ONR_BYTES_STR("001010000000001"),
        .ki = ONR_BYTES(ki),
        .opc = ONR_BYTES(opc),
        .amf = ONR_BYTES(amf),
        .plmn = ONR_BYTES_STR("00101"),
        .apn = ONR_BYTES_STR("iot.onramp"),
    };
}

struct sealed_case {
    uint8_t sk[32], pk[32], nonce[16];
    uint8_t sealed[ONR_SEALED_PROFILE_MAX];
    size_t len;
};

static void seal_sample(struct sealed_case *c)
{
    struct onr_msg_profile_content p = sample_profile();

    assert_int_equal(onr_x25519_generate(c->sk, c->pk), ONR_OK);
    memset(c->nonce, 7, sizeof(c->nonce));
    assert_int_equal(onr_sealed_profile_seal(c->pk, DEV, "op1", c->nonce, &p, c->sealed,
                                             sizeof(c->sealed), &c->len),
                     ONR_OK);
}

static int open_case(const struct sealed_case *c, const uint8_t *sk, const char *dev,
                     const char *op, const uint8_t *nonce, const uint8_t *sealed)
{
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    struct onr_msg_profile_content out;

    return onr_sealed_profile_open(sk, dev, op, nonce, sealed, c->len, plain, sizeof(plain),
                                   &out);
}

static void test_sealed_profile_opens_for_its_device_only(void **state)
{
    struct sealed_case c;
    struct onr_msg_profile_content out;
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    uint8_t other_sk[32], other_pk[32], other_nonce[16] = {8};
    uint8_t tampered[ONR_SEALED_PROFILE_MAX];

    (void)state;
    seal_sample(&c);
    assert_int_equal(onr_sealed_profile_open(c.sk, DEV, "op1", c.nonce, c.sealed, c.len, plain,
                                             sizeof(plain), &out),
                     ONR_OK);
    assert_int_equal(out.imsi.len, 15);
    assert_memory_equal(out.imsi.ptr, "001010000000001", 15);
    assert_int_equal(out.ki.ptr[0], 0x11);

    assert_int_equal(onr_x25519_generate(other_sk, other_pk), ONR_OK);
    assert_int_equal(open_case(&c, other_sk, DEV, "op1", c.nonce, c.sealed), ONR_EDECRYPT);
    assert_int_equal(open_case(&c, c.sk, DEV2, "op1", c.nonce, c.sealed), ONR_EDECRYPT);
    assert_int_equal(open_case(&c, c.sk, DEV, "op2", c.nonce, c.sealed), ONR_EDECRYPT);
    assert_int_equal(open_case(&c, c.sk, DEV, "op1", other_nonce, c.sealed), ONR_EDECRYPT);
    for (size_t i = 0; i < c.len; i += 7) {
        memcpy(tampered, c.sealed, c.len);
        tampered[i] ^= 0x40;
        assert_int_not_equal(open_case(&c, c.sk, DEV, "op1", c.nonce, tampered), ONR_OK);
    }
}

static void test_sealed_app_key_binds_device_operator_provider_and_kid(void **state)
{
    uint8_t sk[32], pk[32], kid[16] = {3}, other_kid[16] = {4}, k_af[32] = {5}, out[32];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];

    struct onr_hpke_recipient prov;

    (void)state;
    assert_int_equal(onr_x25519_generate(sk, pk), ONR_OK);
    assert_int_equal(onr_hpke_recipient_init(&prov, sk), ONR_OK);
    assert_memory_equal(prov.pk, pk, 32);
    assert_int_equal(onr_sealed_app_key_seal(pk, DEV, "op1", "prov1", kid, k_af, sealed), ONR_OK);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV, "op1", "prov1", kid, sealed,
                                             sizeof(sealed), out),
                     ONR_OK);
    assert_memory_equal(out, k_af, 32);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV2, "op1", "prov1", kid, sealed,
                                             sizeof(sealed), out),
                     ONR_EDECRYPT);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV, "op2", "prov1", kid, sealed,
                                             sizeof(sealed), out),
                     ONR_EDECRYPT);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV, "op1", "prov2", kid, sealed,
                                             sizeof(sealed), out),
                     ONR_EDECRYPT);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV, "op1", "prov1", other_kid, sealed,
                                             sizeof(sealed), out),
                     ONR_EDECRYPT);
    assert_int_equal(onr_sealed_app_key_open(&prov, DEV, "op1", "prov1", kid, sealed,
                                             sizeof(sealed) - 1, out),
                     ONR_ELENGTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_akma_matches_the_spec_example),
        cmocka_unit_test(test_akma_keys_differ_per_provider_and_subscriber),
        cmocka_unit_test(test_sealed_profile_opens_for_its_device_only),
        cmocka_unit_test(test_sealed_app_key_binds_device_operator_provider_and_kid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
