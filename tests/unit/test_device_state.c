/*
 * The device's journey on disk and its voucher check (device/src), without
 * a broker: what a power cut and a hostile network may do to them.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"

/* A manufacturer's voucher key and a device it vouches for. */
struct fixture {
    struct onr_p256_key *voucher_key;
    struct device_trust trust;
    uint8_t nonce[ONR_NONCE_LEN];
    uint8_t prov_key[65];
    uint8_t op_key[65];
};

static void fixture_init(struct fixture *f)
{
    uint8_t sk[32];
    struct onr_p256_key *k = NULL;

    memset(f, 0, sizeof(*f));
    assert_onr(ONR_OK, onr_p256_generate(&f->voucher_key));
    assert_onr(ONR_OK, onr_p256_public(f->voucher_key, f->trust.voucher_key));
    snprintf(f->trust.mfr, sizeof(f->trust.mfr), "acme");
    snprintf(f->trust.dev, sizeof(f->trust.dev), "rguib733fa2xfyrzdwehzsohu743ont4");
    assert_onr(ONR_OK, onr_x25519_generate(sk, f->trust.seal_pub));
    assert_onr(ONR_OK, onr_random(f->nonce, sizeof(f->nonce)));
    assert_onr(ONR_OK, onr_p256_generate(&k));
    assert_onr(ONR_OK, onr_p256_public(k, f->prov_key));
    assert_onr(ONR_OK, onr_p256_public(k, f->op_key));
    onr_p256_free(k);
}

/* A token as onramp-manufacturer makes it, with the fields given. */
static size_t token(const struct fixture *f, const struct onr_p256_key *key, const char *mfr,
                    const char *dev, uint64_t expires, uint8_t *out, size_t cap)
{
    struct onr_msg msg = {.type = ONR_MSG_VOUCHER_TOKEN};
    struct onr_envelope_signer signer = {
        .role = ONR_ROLE_MANUFACTURER,
        .sender = {(const uint8_t *)mfr, strlen(mfr)},
        .key = key,
    };
    size_t len = 0;

    msg.body.voucher_token = (struct onr_msg_voucher_token){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .seal_key = ONR_BYTES(f->trust.seal_pub),
        .nonce = ONR_BYTES(f->nonce),
        .prov = ONR_BYTES_STR("prov-1"),
        .prov_key = ONR_BYTES(f->prov_key),
        .op = ONR_BYTES_STR("op-1"),
        .op_key = ONR_BYTES(f->op_key),
        .expires = expires,
    };
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &signer, ONR_BYTES_STR(ONR_VOUCHER_TOKEN_TOPIC),
                                           (uint64_t)time(NULL), out, cap, &len, NULL));
    return len;
}

static void test_device_takes_a_good_voucher(void **state)
{
    struct fixture f;
    uint8_t t[ONR_ENVELOPE_MAX];
    uint64_t now = (uint64_t)time(NULL);
    size_t len;
    struct onr_device_voucher v;

    (void)state;
    fixture_init(&f);
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now + 3600, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    assert_string_equal(v.mfr, "acme");
    assert_string_equal(v.prov, "prov-1");
    assert_string_equal(v.op, "op-1");
    assert_memory_equal(v.prov_key, f.prov_key, 65);
    assert_int_equal(v.expires, now + 3600);
    onr_p256_free(f.voucher_key);
}

static void test_device_refuses_foreign_stale_or_forged_vouchers(void **state)
{
    struct fixture f;
    struct onr_p256_key *other = NULL;
    uint8_t t[ONR_ENVELOPE_MAX];
    uint8_t wrong_nonce[ONR_NONCE_LEN];
    uint64_t now = (uint64_t)time(NULL);
    struct onr_device_voucher v;
    struct device_trust elsewhere;
    size_t len;

    (void)state;
    fixture_init(&f);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    /* for another device */
    len = token(&f, f.voucher_key, "acme", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now + 60, t,
                sizeof(t));
    assert_onr(ONR_EDENIED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* from another manufacturer name, or signed by another key */
    len = token(&f, f.voucher_key, "globex", f.trust.dev, now + 60, t, sizeof(t));
    assert_onr(ONR_EDENIED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    len = token(&f, other, "acme", f.trust.dev, now + 60, t, sizeof(t));
    assert_onr(ONR_EBADSIG, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* expired */
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now - 1, t, sizeof(t));
    assert_onr(ONR_EEXPIRED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* answering another hello */
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now + 60, t, sizeof(t));
    memcpy(wrong_nonce, f.nonce, sizeof(wrong_nonce));
    wrong_nonce[0] ^= 1;
    assert_onr(ONR_EREPLAY, device_check_voucher(&f.trust, t, len, wrong_nonce, now, &v));
    /* sealed to another key: a voucher made for a cloned registry entry */
    elsewhere = f.trust;
    elsewhere.seal_pub[0] ^= 1;
    assert_onr(ONR_EDENIED, device_check_voucher(&elsewhere, t, len, f.nonce, now, &v));
    /* any byte changed, or cut short */
    for (size_t i = 0; i < len; i++) {
        t[i] ^= 0x20;
        assert_true(device_check_voucher(&f.trust, t, len, f.nonce, now, &v) != ONR_OK);
        t[i] ^= 0x20;
    }
    assert_true(device_check_voucher(&f.trust, t, len - 1, f.nonce, now, &v) != ONR_OK);
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    onr_p256_free(other);
    onr_p256_free(f.voucher_key);
}

static void test_journey_survives_reopen_and_refuses_damage(void **state)
{
    const char *dir = *state;
    enum onr_device_state s = ONR_DEVICE_VOUCHED;
    uint8_t buf[64];
    size_t len = 0;

    /* a device as minted has no journey yet */
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_FACTORY);
    assert_onr(ONR_ENOENT, device_voucher_load(dir, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, device_voucher_save(dir, (const uint8_t *)"token", 5));
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_VOUCHED));
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_VOUCHED);
    assert_onr(ONR_OK, device_voucher_load(dir, buf, sizeof(buf), &len));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "token", 5);
    assert_string_equal(onr_device_state_name(ONR_DEVICE_VOUCHED), "VOUCHED");
    /* damaged: truncated, unknown, or huge state files are refused */
    static const char *const damaged[] = {"VOUCH", "VOUCHED", "VOUCHED\nX\n", "OPERATIONAL\n",
                                          ""};
    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        assert_onr(ONR_OK, onr_file_write_atomic(onr_test_path(dir, "journey"), damaged[i],
                                                 strlen(damaged[i]), 0600));
        assert_onr(ONR_EFORMAT, device_state_load(dir, &s));
    }
    char big[200];
    memset(big, 'A', sizeof(big));
    assert_onr(ONR_OK, onr_file_write_atomic(onr_test_path(dir, "journey"), big, sizeof(big),
                                             0600));
    assert_onr(ONR_EFORMAT, device_state_load(dir, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_takes_a_good_voucher),
        cmocka_unit_test(test_device_refuses_foreign_stale_or_forged_vouchers),
        cmocka_unit_test_setup_teardown(test_journey_survives_reopen_and_refuses_damage,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
