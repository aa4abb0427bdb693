#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/x25519.h"

/* From proto/SPEC.md section 12, computed independently (Python hashlib). */
#define EXAMPLE "ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:ABCDEFGHIJKLMNOPQRST:PW7U"
#define EXAMPLE_CLAIM_HASH "e11005e44d8d779d0eee304e89639ad55cdb833821b7680af0fed4c783207f23"

static const struct onr_label example = {
    .mfr = "acme", .dev = "rguib733fa2xfyrzdwehzsohu743ont4", .claim = "ABCDEFGHIJKLMNOPQRST"};

static void test_label_encodes_spec_example(void **state)
{
    char text[ONR_LABEL_MAX + 1];

    (void)state;
    assert_onr(ONR_OK, onr_label_encode(&example, text, sizeof(text)));
    assert_string_equal(text, EXAMPLE);
}

static void test_label_decodes_spec_example_in_any_case(void **state)
{
    struct onr_label l;
    char lowered[] = EXAMPLE;

    (void)state;
    assert_onr(ONR_OK, onr_label_decode(EXAMPLE, strlen(EXAMPLE), &l));
    assert_string_equal(l.mfr, "acme");
    assert_string_equal(l.dev, example.dev);
    assert_string_equal(l.claim, example.claim);
    for (char *c = lowered; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    assert_onr(ONR_OK, onr_label_decode(lowered, strlen(lowered), &l));
    assert_string_equal(l.claim, example.claim);
}

static void test_label_claim_hash_matches_spec(void **state)
{
    uint8_t hash[32];
    uint8_t expect[32];

    (void)state;
    onr_test_hex(EXAMPLE_CLAIM_HASH, expect, sizeof(expect));
    assert_onr(ONR_OK, onr_label_claim_hash("ABCDEFGHIJKLMNOPQRST", hash));
    assert_memory_equal(hash, expect, 32);
    assert_onr(ONR_OK, onr_label_claim_hash("abcdefghijklmnopqrst", hash));
    assert_memory_equal(hash, expect, 32);
    assert_onr(ONR_ECHARSET, onr_label_claim_hash("ABCDEFGHIJKLMNOPQRS1", hash));
    assert_onr(ONR_ECHARSET, onr_label_claim_hash("ABC", hash));
}

static void test_label_detects_a_typo(void **state)
{
    struct onr_label l;
    char typo[] = EXAMPLE;

    (void)state;
    typo[50] = typo[50] == 'K' ? 'L' : 'K'; /* one claim character */
    assert_onr(ONR_EBADMAC, onr_label_decode(typo, strlen(typo), &l));
    assert_string_equal(l.dev, "");
    memcpy(typo, EXAMPLE, sizeof(typo));
    typo[sizeof(typo) - 2] = typo[sizeof(typo) - 2] == 'A' ? 'B' : 'A'; /* the check */
    assert_onr(ONR_EBADMAC, onr_label_decode(typo, strlen(typo), &l));
}

static int decode_text(const char *text, struct onr_label *l)
{
    return onr_label_decode(text, strlen(text), l);
}

static void test_label_rejects_malformed_text(void **state)
{
    struct onr_label l;

    (void)state;
    assert_onr(ONR_ELENGTH, decode_text("ONR1", &l));
    assert_onr(ONR_EFORMAT, decode_text("ONR2:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:"
                                        "ABCDEFGHIJKLMNOPQRST:PW7U", &l));
    assert_onr(ONR_EFORMAT, decode_text("ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4"
                                        "ABCDEFGHIJKLMNOPQRSTPW7U", &l));
    assert_onr(ONR_EFORMAT, decode_text(EXAMPLE ":X", &l));
    assert_onr(ONR_EFORMAT, decode_text("ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:"
                                        "ABCDEFGHIJKLMNOPQRST:PW7", &l));
    /* a device id that is not one: '1' is not base32 */
    assert_onr(ONR_ECHARSET, decode_text("ONR1:ACME:1GUIB733FA2XFYRZDWEHZSOHU743ONT4:"
                                         "ABCDEFGHIJKLMNOPQRST:PW7U", &l));
    /* spaces, control characters, non-ASCII */
    assert_onr(ONR_ECHARSET, decode_text("ONR1 ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:X", &l));
    assert_onr(ONR_ECHARSET, decode_text("ONR1:\x01CME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:X", &l));
    assert_onr(ONR_ECHARSET, decode_text("ONR1:\xc3\xa9:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:X", &l));
    /* a manufacturer id with characters ids may not have */
    assert_onr(ONR_ECHARSET, decode_text("ONR1:AC/ME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:"
                                         "ABCDEFGHIJKLMNOPQRST:PW7U", &l));
    assert_onr(ONR_EINVAL, onr_label_decode(NULL, 3, &l));
}

static void test_label_round_trips_fresh_claims(void **state)
{
    struct onr_label l = example;
    struct onr_label back;
    char text[ONR_LABEL_MAX + 1];

    (void)state;
    for (int i = 0; i < 50; i++) {
        assert_onr(ONR_OK, onr_label_new_claim(l.claim));
        assert_int_equal(strlen(l.claim), ONR_LABEL_CLAIM_LEN);
        assert_onr(ONR_OK, onr_label_encode(&l, text, sizeof(text)));
        assert_onr(ONR_OK, onr_label_decode(text, strlen(text), &back));
        assert_string_equal(back.claim, l.claim);
    }
}

static void test_label_encode_refuses_bad_fields(void **state)
{
    struct onr_label l = example;
    char text[ONR_LABEL_MAX + 1];

    (void)state;
    strcpy(l.claim, "SHORT");
    assert_onr(ONR_EINVAL, onr_label_encode(&l, text, sizeof(text)));
    l = example;
    strcpy(l.mfr, "Acme");
    assert_onr(ONR_EINVAL, onr_label_encode(&l, text, sizeof(text)));
    l = example;
    assert_onr(ONR_ESPACE, onr_label_encode(&l, text, 20));
}

/* The claim travels sealed to the manufacturer, bound to device and provider. */
static void test_label_claim_opens_only_for_its_device_and_provider(void **state)
{
    uint8_t sk[ONR_X25519_KEY_LEN], pk[ONR_X25519_KEY_LEN];
    uint8_t other_sk[ONR_X25519_KEY_LEN], other_pk[ONR_X25519_KEY_LEN];
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    char claim[ONR_LABEL_CLAIM_LEN + 1];

    (void)state;
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_OK, onr_x25519_generate(other_sk, other_pk));
    assert_onr(ONR_OK, onr_label_claim_seal(pk, example.dev, "prov-1", example.claim, sealed));
    assert_onr(ONR_OK, onr_label_claim_open(sk, example.dev, "prov-1", sealed, sizeof(sealed),
                                            claim));
    assert_string_equal(claim, example.claim);
    /* another manufacturer's key, provider, device, or a flipped bit */
    assert_onr(ONR_EDECRYPT, onr_label_claim_open(other_sk, example.dev, "prov-1", sealed,
                                                  sizeof(sealed), claim));
    assert_string_equal(claim, "");
    assert_onr(ONR_EDECRYPT, onr_label_claim_open(sk, example.dev, "prov-2", sealed,
                                                  sizeof(sealed), claim));
    assert_onr(ONR_EDECRYPT, onr_label_claim_open(sk, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                                  "prov-1", sealed, sizeof(sealed), claim));
    sealed[40] ^= 1;
    assert_onr(ONR_EDECRYPT, onr_label_claim_open(sk, example.dev, "prov-1", sealed,
                                                  sizeof(sealed), claim));
    assert_onr(ONR_ELENGTH, onr_label_claim_open(sk, example.dev, "prov-1", sealed,
                                                 sizeof(sealed) - 1, claim));
    assert_onr(ONR_EINVAL, onr_label_claim_seal(pk, example.dev, "prov-1", "SHORT", sealed));
}

/* A kit label (SPEC section 12): its check computed independently
 * (Python hashlib, as SPEC's example). */
#define KIT_EXAMPLE "ONK1:ACME:Q2KZF6R3HBWNMX7YT4PC:ZYXWVUTSRQPONMLKJIHG:7DR3"

static const struct onr_kit_label kit_example = {
    .mfr = "acme", .kit = "q2kzf6r3hbwnmx7yt4pc", .claim = "ZYXWVUTSRQPONMLKJIHG"};

static void test_kit_label_encodes_and_decodes(void **state)
{
    struct onr_kit_label k;
    char text[ONR_KIT_LABEL_MAX + 1];
    char lowered[] = KIT_EXAMPLE;

    (void)state;
    assert_onr(ONR_OK, onr_kit_label_encode(&kit_example, text, sizeof(text)));
    assert_string_equal(text, KIT_EXAMPLE);
    for (char *c = lowered; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    assert_onr(ONR_OK, onr_kit_label_decode(lowered, strlen(lowered), &k));
    assert_string_equal(k.mfr, "acme");
    assert_string_equal(k.kit, kit_example.kit);
    assert_string_equal(k.claim, kit_example.claim);
    assert_true(onr_label_is_kit(KIT_EXAMPLE, strlen(KIT_EXAMPLE)));
    assert_true(onr_label_is_kit(lowered, 5));
    assert_false(onr_label_is_kit(lowered, 4));
    assert_false(onr_label_is_kit(EXAMPLE, strlen(EXAMPLE)));
    assert_onr(ONR_OK, onr_kit_id_check(k.kit, strlen(k.kit)));
    assert_onr(ONR_ELENGTH, onr_kit_id_check(example.dev, strlen(example.dev)));
    assert_onr(ONR_ECHARSET, onr_kit_id_check("q2kzf6r3hbwnmx7yt4p1", 20));
}

/* A device label is no kit label and the reverse; a typo is caught. */
static void test_kit_and_device_labels_do_not_pass_for_each_other(void **state)
{
    struct onr_kit_label k;
    struct onr_label l;
    char typo[] = KIT_EXAMPLE;
    char fake[] = "ONK1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:ABCDEFGHIJKLMNOPQRST:PW7U";

    (void)state;
    assert_onr(ONR_EFORMAT, onr_kit_label_decode(EXAMPLE, strlen(EXAMPLE), &k));
    assert_string_equal(k.kit, "");
    assert_onr(ONR_EFORMAT, onr_label_decode(KIT_EXAMPLE, strlen(KIT_EXAMPLE), &l));
    /* a device id in a kit label: not a kit id */
    assert_onr(ONR_ECHARSET, onr_kit_label_decode(fake, strlen(fake), &k));
    typo[24] = typo[24] == 'K' ? 'L' : 'K';
    assert_onr(ONR_EBADMAC, onr_kit_label_decode(typo, strlen(typo), &k));
    assert_string_equal(k.claim, "");
}

static void test_kit_new_ids_and_labels_round_trip(void **state)
{
    struct onr_kit_label k = kit_example, back;
    char text[ONR_KIT_LABEL_MAX + 1];

    (void)state;
    for (int i = 0; i < 20; i++) {
        assert_onr(ONR_OK, onr_kit_new_id(k.kit));
        assert_onr(ONR_OK, onr_kit_id_check(k.kit, strlen(k.kit)));
        assert_onr(ONR_OK, onr_label_new_claim(k.claim));
        assert_onr(ONR_OK, onr_kit_label_encode(&k, text, sizeof(text)));
        assert_onr(ONR_OK, onr_kit_label_decode(text, strlen(text), &back));
        assert_memory_equal(&back, &k, sizeof(k));
    }
    strcpy(k.kit, "short");
    assert_onr(ONR_EINVAL, onr_kit_label_encode(&k, text, sizeof(text)));
}

/* A kit's claim opens only as that kit's, never as a device's. */
static void test_kit_claim_opens_only_for_its_kit(void **state)
{
    uint8_t sk[ONR_X25519_KEY_LEN], pk[ONR_X25519_KEY_LEN];
    uint8_t sealed[ONR_LABEL_SEALED_LEN];
    char claim[ONR_LABEL_CLAIM_LEN + 1];
    uint8_t hash[32], expect[32];

    (void)state;
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_OK, onr_kit_claim_seal(pk, kit_example.kit, "prov-1", kit_example.claim,
                                          sealed));
    assert_onr(ONR_OK, onr_kit_claim_open(sk, kit_example.kit, "prov-1", sealed, sizeof(sealed),
                                          claim));
    assert_string_equal(claim, kit_example.claim);
    assert_onr(ONR_EDECRYPT, onr_kit_claim_open(sk, "aaaaaaaaaaaaaaaaaaaa", "prov-1", sealed,
                                                sizeof(sealed), claim));
    assert_onr(ONR_EDECRYPT, onr_kit_claim_open(sk, kit_example.kit, "prov-2", sealed,
                                                sizeof(sealed), claim));
    assert_onr(ONR_EINVAL, onr_label_claim_open(sk, kit_example.kit, "prov-1", sealed,
                                                sizeof(sealed), claim));
    assert_onr(ONR_EINVAL, onr_kit_claim_seal(pk, example.dev, "prov-1", kit_example.claim,
                                              sealed));
    /* the same sealed for a device: a kit's open refuses it */
    assert_onr(ONR_OK, onr_label_claim_seal(pk, example.dev, "prov-1", kit_example.claim,
                                            sealed));
    assert_onr(ONR_EINVAL, onr_kit_claim_open(sk, example.dev, "prov-1", sealed,
                                              sizeof(sealed), claim));
    /* the registry keeps its hash as a device's (SPEC section 12) */
    onr_test_hex("c19bbd6d0737b26351a179c39fda8dcd674f988405091c617759fdc25daac8ea", expect, 32);
    assert_onr(ONR_OK, onr_label_claim_hash(kit_example.claim, hash));
    assert_memory_equal(hash, expect, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_encodes_spec_example),
        cmocka_unit_test(test_label_decodes_spec_example_in_any_case),
        cmocka_unit_test(test_label_claim_hash_matches_spec),
        cmocka_unit_test(test_label_detects_a_typo),
        cmocka_unit_test(test_label_rejects_malformed_text),
        cmocka_unit_test(test_label_round_trips_fresh_claims),
        cmocka_unit_test(test_label_encode_refuses_bad_fields),
        cmocka_unit_test(test_label_claim_opens_only_for_its_device_and_provider),
        cmocka_unit_test(test_kit_label_encodes_and_decodes),
        cmocka_unit_test(test_kit_and_device_labels_do_not_pass_for_each_other),
        cmocka_unit_test(test_kit_new_ids_and_labels_round_trip),
        cmocka_unit_test(test_kit_claim_opens_only_for_its_kit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
