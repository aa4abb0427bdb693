#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "hpke_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hpke.h"
#include "onramp/x25519.h"

/* Published vectors: RFC 9180 Appendix A.1 (DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, AES-128-GCM), base mode, as in this file. */
#define VECTORS "hpke-rfc9180-a1-x25519-base.json"

/* The A.1 values the tests use; seq 0 unless named otherwise. */
struct a1 {
    uint8_t info[64];
    size_t info_len;
    uint8_t ikm_e[32], ikm_r[32], sk_em[32], pk_em[32], sk_rm[32], pk_rm[32], enc[32];
    uint8_t shared_secret[32], key[16], base_nonce[12];
    uint8_t pt[64];
    size_t pt_len;
    uint8_t aad[16];
    size_t aad_len;
    uint8_t nonce[12];
    uint8_t ct[80];
    size_t ct_len;
    uint8_t aad1[16];
    size_t aad1_len;
    uint8_t ct1[80];
    size_t ct1_len;
};

static void fixed(const char *json, const char *key, uint8_t *out, size_t len)
{
    assert_int_equal(onr_test_json_hex(json, key, 0, out, len), len);
}

static int load_a1(void **state)
{
    struct a1 *v = calloc(1, sizeof(*v));
    char *json = onr_test_vector_file(VECTORS);

    assert_non_null(v);
    v->info_len = onr_test_json_hex(json, "info", 0, v->info, sizeof(v->info));
    fixed(json, "ikmE", v->ikm_e, 32);
    fixed(json, "ikmR", v->ikm_r, 32);
    fixed(json, "skEm", v->sk_em, 32);
    fixed(json, "pkEm", v->pk_em, 32);
    fixed(json, "skRm", v->sk_rm, 32);
    fixed(json, "pkRm", v->pk_rm, 32);
    fixed(json, "enc", v->enc, 32);
    fixed(json, "shared_secret", v->shared_secret, 32);
    fixed(json, "key", v->key, 16);
    fixed(json, "base_nonce", v->base_nonce, 12);
    /* encryptions[0] is seq 0, encryptions[1] seq 1 */
    v->pt_len = onr_test_json_hex(json, "pt", 0, v->pt, sizeof(v->pt));
    v->aad_len = onr_test_json_hex(json, "aad", 0, v->aad, sizeof(v->aad));
    fixed(json, "nonce", v->nonce, 12);
    v->ct_len = onr_test_json_hex(json, "ct", 0, v->ct, sizeof(v->ct));
    v->aad1_len = onr_test_json_hex(json, "aad", 1, v->aad1, sizeof(v->aad1));
    v->ct1_len = onr_test_json_hex(json, "ct", 1, v->ct1, sizeof(v->ct1));
    assert_int_equal(v->ct_len, v->pt_len + ONR_HPKE_TAG_LEN);
    free(json);
    *state = v;
    return 0;
}

static int free_a1(void **state)
{
    free(*state);
    return 0;
}

static void test_hpke_derive_keypair_matches_rfc9180_a1(void **state)
{
    const struct a1 *v = *state;
    uint8_t sk[32], pk[32];

    assert_onr(ONR_OK, onr_hpke_derive_keypair(v->ikm_e, sizeof(v->ikm_e), sk, pk));
    assert_memory_equal(sk, v->sk_em, 32);
    assert_memory_equal(pk, v->pk_em, 32);
    assert_onr(ONR_OK, onr_hpke_derive_keypair(v->ikm_r, sizeof(v->ikm_r), sk, pk));
    assert_memory_equal(sk, v->sk_rm, 32);
    assert_memory_equal(pk, v->pk_rm, 32);
}

static void test_hpke_derive_keypair_rejects_short_ikm_and_null(void **state)
{
    const struct a1 *v = *state;
    uint8_t sk[32], pk[32];

    assert_onr(ONR_ELENGTH, onr_hpke_derive_keypair(v->ikm_e, 31, sk, pk));
    assert_onr(ONR_EINVAL, onr_hpke_derive_keypair(NULL, 32, sk, pk));
    assert_onr(ONR_EINVAL, onr_hpke_derive_keypair(v->ikm_e, 32, NULL, pk));
    assert_onr(ONR_EINVAL, onr_hpke_derive_keypair(v->ikm_e, 32, sk, NULL));
}

static void test_hpke_key_schedule_matches_rfc9180_a1(void **state)
{
    const struct a1 *v = *state;
    struct onr_hpke_context ctx;
    uint8_t enc[32];

    assert_onr(ONR_OK, onr_hpke_setup_sender(v->sk_em, v->pk_rm, v->info, v->info_len, enc,
                                             &ctx));
    assert_memory_equal(enc, v->enc, 32);
    assert_memory_equal(ctx.shared_secret, v->shared_secret, 32);
    assert_memory_equal(ctx.key, v->key, 16);
    assert_memory_equal(ctx.base_nonce, v->base_nonce, 12);
    /* sequence number 0: the nonce is base_nonce itself */
    assert_memory_equal(ctx.base_nonce, v->nonce, 12);

    memset(&ctx, 0, sizeof(ctx));
    assert_onr(ONR_OK,
               onr_hpke_setup_recipient(v->enc, v->sk_rm, v->info, v->info_len, &ctx));
    assert_memory_equal(ctx.shared_secret, v->shared_secret, 32);
    assert_memory_equal(ctx.key, v->key, 16);
    assert_memory_equal(ctx.base_nonce, v->base_nonce, 12);
    onr_wipe(&ctx, sizeof(ctx));
}

static void test_hpke_seal_with_ephemeral_matches_rfc9180_a1_seq0(void **state)
{
    const struct a1 *v = *state;
    uint8_t enc[32], ct[80];

    assert_onr(ONR_OK, onr_hpke_seal_with_ephemeral(v->sk_em, v->pk_rm, v->info, v->info_len,
                                                    v->aad, v->aad_len, v->pt, v->pt_len,
                                                    enc, ct));
    assert_memory_equal(enc, v->enc, 32);
    assert_memory_equal(ct, v->ct, v->ct_len);
}

static void test_hpke_open_decrypts_rfc9180_a1_seq0(void **state)
{
    const struct a1 *v = *state;
    uint8_t pt[64];

    assert_onr(ONR_OK, onr_hpke_open(v->sk_rm, v->info, v->info_len, v->aad, v->aad_len,
                                     v->enc, v->ct, v->ct_len, pt));
    assert_memory_equal(pt, v->pt, v->pt_len);
}

/* A recipient keeping its key pair opens the same message; its public key
 * is the one RFC 9180 publishes, and it is bound into the KEM: a pair whose
 * public key is not its private key's opens nothing. */
static void test_hpke_open_as_recipient_rfc9180_a1(void **state)
{
    const struct a1 *v = *state;
    struct onr_hpke_recipient r;
    uint8_t pt[64];

    assert_onr(ONR_OK, onr_hpke_recipient_init(&r, v->sk_rm));
    assert_memory_equal(r.pk, v->pk_rm, 32);
    assert_onr(ONR_OK, onr_hpke_open_as(&r, v->info, v->info_len, v->aad, v->aad_len, v->enc,
                                        v->ct, v->ct_len, pt));
    assert_memory_equal(pt, v->pt, v->pt_len);
    r.pk[0] ^= 1;
    assert_onr(ONR_EDECRYPT, onr_hpke_open_as(&r, v->info, v->info_len, v->aad, v->aad_len,
                                              v->enc, v->ct, v->ct_len, pt));
    assert_onr(ONR_EINVAL, onr_hpke_recipient_init(NULL, v->sk_rm));
    assert_onr(ONR_EINVAL, onr_hpke_open_as(NULL, v->info, v->info_len, v->aad, v->aad_len,
                                            v->enc, v->ct, v->ct_len, pt));
}

/* Single shot: only sequence number 0 exists, so the published seq 1
 * ciphertext (another nonce) does not open. */
static void test_hpke_open_rejects_rfc9180_a1_seq1(void **state)
{
    const struct a1 *v = *state;
    uint8_t pt[64];

    assert_onr(ONR_EDECRYPT, onr_hpke_open(v->sk_rm, v->info, v->info_len, v->aad1,
                                           v->aad1_len, v->enc, v->ct1, v->ct1_len, pt));
}

static void test_hpke_seal_open_round_trip_random_ephemeral(void **state)
{
    uint8_t sk[32], pk[32], enc1[32], enc2[32], ct1[64 + 16], ct2[64 + 16], pt[64],
        out[64];
    const uint8_t info[] = "onramp test info";
    const uint8_t aad[] = "onramp test aad";

    (void)state;
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_OK, onr_random(pt, sizeof(pt)));
    assert_onr(ONR_OK, onr_hpke_seal(pk, info, sizeof(info), aad, sizeof(aad), pt,
                                     sizeof(pt), enc1, ct1));
    assert_onr(ONR_OK, onr_hpke_seal(pk, info, sizeof(info), aad, sizeof(aad), pt,
                                     sizeof(pt), enc2, ct2));
    /* a fresh ephemeral key each time */
    assert_memory_not_equal(enc1, enc2, 32);
    assert_memory_not_equal(ct1, ct2, sizeof(ct1));
    assert_onr(ONR_OK, onr_hpke_open(sk, info, sizeof(info), aad, sizeof(aad), enc1, ct1,
                                     sizeof(ct1), out));
    assert_memory_equal(out, pt, sizeof(pt));
    memset(out, 0, sizeof(out));
    assert_onr(ONR_OK, onr_hpke_open(sk, info, sizeof(info), aad, sizeof(aad), enc2, ct2,
                                     sizeof(ct2), out));
    assert_memory_equal(out, pt, sizeof(pt));
}

static void test_hpke_round_trip_empty_plaintext_info_and_aad(void **state)
{
    uint8_t sk[32], pk[32], enc[32], ct[ONR_HPKE_TAG_LEN];

    (void)state;
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_OK, onr_hpke_seal(pk, NULL, 0, NULL, 0, NULL, 0, enc, ct));
    assert_onr(ONR_OK, onr_hpke_open(sk, NULL, 0, NULL, 0, enc, ct, sizeof(ct), NULL));
    ct[0] ^= 1;
    assert_onr(ONR_EDECRYPT, onr_hpke_open(sk, NULL, 0, NULL, 0, enc, ct, sizeof(ct), NULL));
}

/* Open the A.1 seq 0 message with one input replaced; expect `want`, and a
 * wiped plaintext buffer on failure. */
static void open_a1_expect(const struct a1 *v, const uint8_t *sk, const uint8_t *info,
                           size_t info_len, const uint8_t *aad, size_t aad_len,
                           const uint8_t *enc, const uint8_t *ct, int want)
{
    uint8_t pt[64];
    uint8_t zero[64] = {0};

    memset(pt, 0xaa, sizeof(pt));
    assert_onr(want, onr_hpke_open(sk, info, info_len, aad, aad_len, enc, ct, v->ct_len, pt));
    assert_memory_equal(pt, zero, v->pt_len);
}

static void test_hpke_open_rejects_tampered_enc(void **state)
{
    const struct a1 *v = *state;
    uint8_t enc[32];

    /* every bit, the top one included (masked by X25519, yet bound into
     * the key schedule through kem_context) */
    for (size_t bit = 0; bit < 8 * sizeof(enc); bit++) {
        memcpy(enc, v->enc, sizeof(enc));
        enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len, enc, v->ct,
                       ONR_EDECRYPT);
    }
}

static void test_hpke_open_rejects_tampered_ct_body(void **state)
{
    const struct a1 *v = *state;
    uint8_t ct[80];

    for (size_t i = 0; i < v->pt_len; i++) {
        memcpy(ct, v->ct, v->ct_len);
        ct[i] ^= 0x01;
        open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len, v->enc, ct,
                       ONR_EDECRYPT);
    }
}

static void test_hpke_open_rejects_tampered_tag(void **state)
{
    const struct a1 *v = *state;
    uint8_t ct[80];

    for (size_t i = v->pt_len; i < v->ct_len; i++) {
        memcpy(ct, v->ct, v->ct_len);
        ct[i] ^= 0x80;
        open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len, v->enc, ct,
                       ONR_EDECRYPT);
    }
}

static void test_hpke_open_rejects_tampered_aad(void **state)
{
    const struct a1 *v = *state;
    uint8_t aad[16];

    memcpy(aad, v->aad, v->aad_len);
    aad[v->aad_len - 1] ^= 0x01;
    open_a1_expect(v, v->sk_rm, v->info, v->info_len, aad, v->aad_len, v->enc, v->ct,
                   ONR_EDECRYPT);
    /* shortened and dropped */
    open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len - 1, v->enc, v->ct,
                   ONR_EDECRYPT);
    open_a1_expect(v, v->sk_rm, v->info, v->info_len, NULL, 0, v->enc, v->ct, ONR_EDECRYPT);
}

static void test_hpke_open_rejects_tampered_info(void **state)
{
    const struct a1 *v = *state;
    uint8_t info[64];

    memcpy(info, v->info, v->info_len);
    info[0] ^= 0x01;
    open_a1_expect(v, v->sk_rm, info, v->info_len, v->aad, v->aad_len, v->enc, v->ct,
                   ONR_EDECRYPT);
    open_a1_expect(v, v->sk_rm, v->info, v->info_len - 1, v->aad, v->aad_len, v->enc, v->ct,
                   ONR_EDECRYPT);
    open_a1_expect(v, v->sk_rm, NULL, 0, v->aad, v->aad_len, v->enc, v->ct, ONR_EDECRYPT);
}

static void test_hpke_open_rejects_wrong_recipient_key(void **state)
{
    const struct a1 *v = *state;
    uint8_t sk[32], pk[32];

    /* the sender's ephemeral key, and a fresh one */
    open_a1_expect(v, v->sk_em, v->info, v->info_len, v->aad, v->aad_len, v->enc, v->ct,
                   ONR_EDECRYPT);
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    open_a1_expect(v, sk, v->info, v->info_len, v->aad, v->aad_len, v->enc, v->ct,
                   ONR_EDECRYPT);
}

static void test_hpke_open_rejects_small_order_enc(void **state)
{
    const struct a1 *v = *state;
    uint8_t enc[32] = {0};

    open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len, enc, v->ct,
                   ONR_EBADKEY);
    enc[0] = 1;
    open_a1_expect(v, v->sk_rm, v->info, v->info_len, v->aad, v->aad_len, enc, v->ct,
                   ONR_EBADKEY);
}

static void test_hpke_seal_rejects_small_order_recipient(void **state)
{
    const struct a1 *v = *state;
    uint8_t pk[32] = {0};
    uint8_t enc[32], ct[80];

    assert_onr(ONR_EBADKEY, onr_hpke_seal(pk, v->info, v->info_len, v->aad, v->aad_len,
                                          v->pt, v->pt_len, enc, ct));
    assert_onr(ONR_EBADKEY,
               onr_hpke_seal_with_ephemeral(v->sk_em, pk, v->info, v->info_len, v->aad,
                                            v->aad_len, v->pt, v->pt_len, enc, ct));
}

static void test_hpke_open_rejects_ct_shorter_than_tag(void **state)
{
    const struct a1 *v = *state;
    uint8_t pt[64];

    assert_onr(ONR_ELENGTH, onr_hpke_open(v->sk_rm, v->info, v->info_len, v->aad,
                                          v->aad_len, v->enc, v->ct, 0, pt));
    assert_onr(ONR_ELENGTH, onr_hpke_open(v->sk_rm, v->info, v->info_len, v->aad,
                                          v->aad_len, v->enc, v->ct, ONR_HPKE_TAG_LEN - 1, pt));
    /* a truncated message that is still tag-sized fails authentication */
    assert_onr(ONR_EDECRYPT, onr_hpke_open(v->sk_rm, v->info, v->info_len, v->aad,
                                           v->aad_len, v->enc, v->ct, v->ct_len - 1, pt));
}

static void test_hpke_rejects_oversize_inputs(void **state)
{
    enum { MAX = ONR_HPKE_MAX_PT };
    uint8_t *pt = calloc(1, MAX + 1);
    uint8_t *ct = calloc(1, MAX + 1 + ONR_HPKE_TAG_LEN);
    static const uint8_t big[ONR_HPKE_MAX_AAD + 1];
    uint8_t sk[32], pk[32], enc[32];
    struct onr_hpke_context ctx;

    (void)state;
    assert_non_null(pt);
    assert_non_null(ct);
    assert_onr(ONR_OK, onr_x25519_generate(sk, pk));
    assert_onr(ONR_ELENGTH, onr_hpke_seal(pk, NULL, 0, NULL, 0, pt, MAX + 1, enc, ct));
    assert_onr(ONR_ELENGTH,
               onr_hpke_seal(pk, big, ONR_HPKE_MAX_INFO + 1, NULL, 0, pt, 1, enc, ct));
    assert_onr(ONR_ELENGTH,
               onr_hpke_seal(pk, NULL, 0, big, ONR_HPKE_MAX_AAD + 1, pt, 1, enc, ct));
    /* the bounds themselves are accepted */
    assert_onr(ONR_OK, onr_hpke_seal(pk, big, ONR_HPKE_MAX_INFO, big, ONR_HPKE_MAX_AAD, pt,
                                     MAX, enc, ct));
    assert_onr(ONR_OK, onr_hpke_open(sk, big, ONR_HPKE_MAX_INFO, big, ONR_HPKE_MAX_AAD, enc,
                                     ct, MAX + ONR_HPKE_TAG_LEN, pt));
    assert_onr(ONR_ELENGTH, onr_hpke_open(sk, NULL, 0, NULL, 0, enc, ct,
                                          MAX + 1 + ONR_HPKE_TAG_LEN, pt));
    assert_onr(ONR_ELENGTH, onr_hpke_open(sk, big, ONR_HPKE_MAX_INFO + 1, NULL, 0, enc, ct,
                                          ONR_HPKE_TAG_LEN, pt));
    assert_onr(ONR_ELENGTH, onr_hpke_open(sk, NULL, 0, big, ONR_HPKE_MAX_AAD + 1, enc, ct,
                                          ONR_HPKE_TAG_LEN, pt));
    assert_onr(ONR_ELENGTH,
               onr_hpke_setup_sender(sk, pk, big, ONR_HPKE_MAX_INFO + 1, enc, &ctx));
    assert_onr(ONR_ELENGTH,
               onr_hpke_setup_recipient(enc, sk, big, ONR_HPKE_MAX_INFO + 1, &ctx));
    free(pt);
    free(ct);
}

static void test_hpke_rejects_null_arguments(void **state)
{
    const struct a1 *v = *state;
    const uint8_t *k = v->pk_rm;
    uint8_t enc[32] = {0}, ct[80] = {0}, pt[64] = {0};
    struct onr_hpke_context ctx;

    /* seal: required pointers, then data pointers with non-zero lengths */
    assert_onr(ONR_EINVAL, onr_hpke_seal(NULL, NULL, 0, NULL, 0, pt, 1, enc, ct));
    assert_onr(ONR_EINVAL, onr_hpke_seal(k, NULL, 0, NULL, 0, pt, 1, NULL, ct));
    assert_onr(ONR_EINVAL, onr_hpke_seal(k, NULL, 0, NULL, 0, pt, 1, enc, NULL));
    assert_onr(ONR_EINVAL, onr_hpke_seal(k, NULL, 1, NULL, 0, pt, 1, enc, ct));
    assert_onr(ONR_EINVAL, onr_hpke_seal(k, NULL, 0, NULL, 1, pt, 1, enc, ct));
    assert_onr(ONR_EINVAL, onr_hpke_seal(k, NULL, 0, NULL, 0, NULL, 1, enc, ct));
    assert_onr(ONR_EINVAL,
               onr_hpke_seal_with_ephemeral(NULL, k, NULL, 0, NULL, 0, pt, 1, enc, ct));
    /* open */
    assert_onr(ONR_EINVAL, onr_hpke_open(NULL, NULL, 0, NULL, 0, v->enc, v->ct, 20, pt));
    assert_onr(ONR_EINVAL, onr_hpke_open(k, NULL, 1, NULL, 0, v->enc, v->ct, 20, pt));
    assert_onr(ONR_EINVAL, onr_hpke_open(k, NULL, 0, NULL, 1, v->enc, v->ct, 20, pt));
    assert_onr(ONR_EINVAL, onr_hpke_open(k, NULL, 0, NULL, 0, NULL, v->ct, 20, pt));
    assert_onr(ONR_EINVAL, onr_hpke_open(k, NULL, 0, NULL, 0, v->enc, NULL, 20, pt));
    assert_onr(ONR_EINVAL, onr_hpke_open(k, NULL, 0, NULL, 0, v->enc, v->ct, 20, NULL));
    /* the internal seam */
    assert_onr(ONR_EINVAL, onr_hpke_setup_sender(NULL, k, NULL, 0, enc, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_sender(k, NULL, NULL, 0, enc, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_sender(k, k, NULL, 1, enc, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_sender(k, k, NULL, 0, NULL, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_sender(k, k, NULL, 0, enc, NULL));
    assert_onr(ONR_EINVAL, onr_hpke_setup_recipient(NULL, k, NULL, 0, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_recipient(k, NULL, NULL, 0, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_recipient(k, k, NULL, 1, &ctx));
    assert_onr(ONR_EINVAL, onr_hpke_setup_recipient(k, k, NULL, 0, NULL));
}

#define A1_TEST(name) cmocka_unit_test_setup_teardown(name, load_a1, free_a1)

int main(void)
{
    const struct CMUnitTest tests[] = {
        A1_TEST(test_hpke_derive_keypair_matches_rfc9180_a1),
        A1_TEST(test_hpke_derive_keypair_rejects_short_ikm_and_null),
        A1_TEST(test_hpke_key_schedule_matches_rfc9180_a1),
        A1_TEST(test_hpke_seal_with_ephemeral_matches_rfc9180_a1_seq0),
        A1_TEST(test_hpke_open_decrypts_rfc9180_a1_seq0),
        A1_TEST(test_hpke_open_as_recipient_rfc9180_a1),
        A1_TEST(test_hpke_open_rejects_rfc9180_a1_seq1),
        cmocka_unit_test(test_hpke_seal_open_round_trip_random_ephemeral),
        cmocka_unit_test(test_hpke_round_trip_empty_plaintext_info_and_aad),
        A1_TEST(test_hpke_open_rejects_tampered_enc),
        A1_TEST(test_hpke_open_rejects_tampered_ct_body),
        A1_TEST(test_hpke_open_rejects_tampered_tag),
        A1_TEST(test_hpke_open_rejects_tampered_aad),
        A1_TEST(test_hpke_open_rejects_tampered_info),
        A1_TEST(test_hpke_open_rejects_wrong_recipient_key),
        A1_TEST(test_hpke_open_rejects_small_order_enc),
        A1_TEST(test_hpke_seal_rejects_small_order_recipient),
        A1_TEST(test_hpke_open_rejects_ct_shorter_than_tag),
        cmocka_unit_test(test_hpke_rejects_oversize_inputs),
        A1_TEST(test_hpke_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
