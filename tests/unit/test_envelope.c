#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "msg_internal.h"
#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/replay.h"
#include "samples.h"

#define NOW 1900000000u
#define WINDOW ONR_ENVELOPE_DEFAULT_WINDOW

struct fixture {
    struct onr_p256_key *device_key;
    struct onr_p256_key *service_key;
    struct onr_p256_key *other_key;
    uint8_t device_pub[65];
    uint8_t service_pub[65];
    uint8_t other_pub[65];
    char devid[ONR_DEVID_LEN + 1];
    char up_topic[128];
    struct onr_replay *replay;
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_onr(ONR_OK, onr_p256_generate(&f->device_key));
    assert_onr(ONR_OK, onr_p256_generate(&f->service_key));
    assert_onr(ONR_OK, onr_p256_generate(&f->other_key));
    assert_onr(ONR_OK, onr_p256_public(f->device_key, f->device_pub));
    assert_onr(ONR_OK, onr_p256_public(f->service_key, f->service_pub));
    assert_onr(ONR_OK, onr_p256_public(f->other_key, f->other_pub));
    assert_onr(ONR_OK, onr_devid_from_public(f->device_pub, f->devid));
    snprintf(f->up_topic, sizeof(f->up_topic), "onr/1/d/%s/up/mfr/acme", f->devid);
    assert_onr(ONR_OK, onr_replay_new(1024, &f->replay));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    onr_p256_free(f->device_key);
    onr_p256_free(f->service_key);
    onr_p256_free(f->other_key);
    onr_replay_free(f->replay);
    free(f);
    return 0;
}

static struct onr_bytes topic_of(const char *t)
{
    return (struct onr_bytes){(const uint8_t *)t, strlen(t)};
}

/* A hello signed by the fixture's device on its up topic at `ts`. */
static void encode_hello(struct fixture *f, uint64_t ts, uint8_t id[ONR_MSG_ID_LEN])
{
    struct onr_msg m;
    struct onr_envelope_signer s = {
        .role = ONR_ROLE_DEVICE,
        .sender = topic_of(f->devid),
        .key = f->device_key,
    };

    onr_sample_msg(ONR_MSG_HELLO, &m);
    assert_onr(ONR_OK, onr_envelope_encode(&m, &s, topic_of(f->up_topic), ts, f->buf,
                                           sizeof(f->buf), &f->len, id));
}

static void test_envelope_signed_round_trip(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;
    uint8_t id[ONR_MSG_ID_LEN];

    encode_hello(f, NOW, id);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_int_equal(env.version, 1);
    assert_int_equal(env.msg.type, ONR_MSG_HELLO);
    assert_int_equal(env.sender_role, ONR_ROLE_DEVICE);
    assert_int_equal(env.timestamp, NOW);
    assert_memory_equal(env.id, id, ONR_MSG_ID_LEN);
    assert_int_equal(env.sender.len, ONR_DEVID_LEN);
    assert_memory_equal(env.sender.ptr, f->devid, ONR_DEVID_LEN);
    assert_int_equal(env.auth, ONR_AUTH_SIG);
    assert_int_equal(env.auth_tag.len, ONR_P256_SIG_LEN);
    assert_int_equal(env.authed.len, f->len - 2 - ONR_P256_SIG_LEN);
    /* the whole envelope, for a receiver that keeps it to verify later */
    assert_ptr_equal(env.raw.ptr, f->buf);
    assert_int_equal(env.raw.len, f->len);
    assert_int_equal(env.msg.body.hello.nonce.len, ONR_NONCE_LEN);
    assert_onr(ONR_OK, onr_envelope_verify(&env, topic_of(f->up_topic), f->device_pub, NOW,
                                           WINDOW, f->replay));
}

static void test_envelope_rejects_bad_signature(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;

    encode_hello(f, NOW, NULL);
    f->buf[f->len - 5] ^= 0x01;
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_EBADSIG, onr_envelope_verify_sig(&env, topic_of(f->up_topic), f->device_pub));
}

static void test_envelope_rejects_wrong_topic(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;
    char other[128];

    encode_hello(f, NOW, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    /* the same step for another manufacturer, and another step */
    snprintf(other, sizeof(other), "onr/1/d/%s/up/mfr/acme2", f->devid);
    assert_onr(ONR_EBADSIG, onr_envelope_verify_sig(&env, topic_of(other), f->device_pub));
    snprintf(other, sizeof(other), "onr/1/d/%s/up/op/acme", f->devid);
    assert_onr(ONR_EBADSIG, onr_envelope_verify_sig(&env, topic_of(other), f->device_pub));
}

static void test_envelope_rejects_wrong_key(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;
    uint8_t off_curve[65];

    encode_hello(f, NOW, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_EBADSIG, onr_envelope_verify_sig(&env, topic_of(f->up_topic), f->other_pub));
    memcpy(off_curve, f->device_pub, 65);
    off_curve[40] ^= 0x10;
    assert_onr(ONR_EBADKEY, onr_envelope_verify_sig(&env, topic_of(f->up_topic), off_curve));
}

static void test_envelope_rejects_stale_timestamp(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;

    encode_hello(f, NOW - WINDOW - 1, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_ESTALE, onr_envelope_verify(&env, topic_of(f->up_topic), f->device_pub, NOW,
                                               WINDOW, f->replay));
    /* from the future too */
    encode_hello(f, NOW + WINDOW + 1, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_ESTALE, onr_envelope_accept(&env, NOW, WINDOW, NULL));
    /* the edges of the window are inside */
    encode_hello(f, NOW - WINDOW, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_OK, onr_envelope_accept(&env, NOW, WINDOW, NULL));
    /* a stale message is not recorded as seen */
    assert_int_equal(onr_replay_count(f->replay), 0);
}

static void test_envelope_rejects_replayed_id(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;

    encode_hello(f, NOW, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_OK, onr_envelope_verify(&env, topic_of(f->up_topic), f->device_pub, NOW,
                                           WINDOW, f->replay));
    assert_onr(ONR_EREPLAY, onr_envelope_verify(&env, topic_of(f->up_topic), f->device_pub,
                                                NOW + 10, WINDOW, f->replay));
    /* once out of the window, freshness refuses it instead */
    assert_onr(ONR_ESTALE, onr_envelope_verify(&env, topic_of(f->up_topic), f->device_pub,
                                               NOW + WINDOW + 1, WINDOW, f->replay));
}

static void test_envelope_replay_is_per_sender(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;
    struct onr_envelope forged;

    encode_hello(f, NOW, NULL);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_onr(ONR_OK, onr_envelope_accept(&env, NOW, WINDOW, f->replay));
    /* the same id from another sender is another entry */
    forged = env;
    forged.sender = topic_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_onr(ONR_OK, onr_envelope_accept(&forged, NOW, WINDOW, f->replay));
}

static void test_envelope_any_single_byte_change_is_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t orig[ONR_ENVELOPE_MAX];
    size_t len;

    encode_hello(f, NOW, NULL);
    memcpy(orig, f->buf, f->len);
    len = f->len;
    for (size_t i = 0; i < len; i++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xff};

        for (size_t k = 0; k < sizeof(flips); k++) {
            struct onr_envelope env;
            int rc;

            memcpy(f->buf, orig, len);
            f->buf[i] ^= flips[k];
            rc = onr_envelope_decode(f->buf, len, &env);
            if (rc == ONR_OK)
                rc = onr_envelope_verify_sig(&env, topic_of(f->up_topic), f->device_pub);
            if (rc == ONR_OK)
                fail_msg("byte %zu ^ 0x%02x accepted", i, flips[k]);
        }
    }
}

static void test_envelope_mac_round_trip_and_wrong_key(void **state)
{
    struct fixture *f = *state;
    static const uint8_t key[32] = {7};
    static const uint8_t wrong[32] = {8};
    struct onr_msg m;
    struct onr_envelope env;
    char topic[128];
    struct onr_envelope_signer s = {
        .role = ONR_ROLE_DEVICE,
        .sender = topic_of(f->devid),
        .mac_key = ONR_BYTES(key),
    };

    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/prov/prov-1", f->devid);
    onr_sample_msg(ONR_MSG_ENROLL_REQUEST, &m);
    assert_onr(ONR_OK, onr_envelope_encode(&m, &s, topic_of(topic), NOW, f->buf, sizeof(f->buf),
                                           &f->len, NULL));
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_int_equal(env.auth, ONR_AUTH_MAC);
    assert_onr(ONR_OK, onr_envelope_verify_mac(&env, topic_of(topic), ONR_BYTES(key)));
    assert_onr(ONR_EBADMAC, onr_envelope_verify_mac(&env, topic_of(topic), ONR_BYTES(wrong)));
    assert_onr(ONR_EBADMAC, onr_envelope_verify_mac(&env, topic_of(f->up_topic), ONR_BYTES(key)));
    /* a MAC'ed type is not a signed one */
    assert_onr(ONR_EAUTHKIND, onr_envelope_verify_sig(&env, topic_of(topic), f->device_pub));
}

static void test_envelope_unauthenticated_type_carries_nil(void **state)
{
    struct fixture *f = *state;
    struct onr_msg m;
    struct onr_envelope env;
    struct onr_envelope_signer s = {.role = ONR_ROLE_DEVICE, .sender = topic_of(f->devid)};

    onr_sample_msg(ONR_MSG_PROFILE_REQUEST, &m);
    assert_onr(ONR_OK, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf, sizeof(f->buf),
                                           &f->len, NULL));
    assert_int_equal(f->buf[f->len - 1], 0xc0);
    assert_onr(ONR_OK, onr_envelope_decode(f->buf, f->len, &env));
    assert_int_equal(env.auth, ONR_AUTH_NONE);
    assert_int_equal(env.authed.len, f->len - 1);
    assert_onr(ONR_EAUTHKIND, onr_envelope_verify_sig(&env, topic_of("t"), f->device_pub));
}

static void test_envelope_encode_refuses_wrong_role_or_missing_key(void **state)
{
    struct fixture *f = *state;
    struct onr_msg m;
    struct onr_envelope_signer s = {
        .role = ONR_ROLE_PROVIDER,
        .sender = topic_of("prov-1"),
        .key = f->service_key,
    };

    onr_sample_msg(ONR_MSG_HELLO, &m);
    assert_onr(ONR_ESCHEMA, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf,
                                                sizeof(f->buf), &f->len, NULL));
    onr_sample_msg(ONR_MSG_REGISTRATION, &m);
    s.key = NULL;
    assert_onr(ONR_EINVAL, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf,
                                               sizeof(f->buf), &f->len, NULL));
    s.key = f->service_key;
    s.sender = topic_of("Prov/1");
    assert_onr(ONR_ECHARSET, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf,
                                                 sizeof(f->buf), &f->len, NULL));
    s.sender = topic_of("prov-1");
    assert_onr(ONR_ESPACE, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf, 40, &f->len,
                                               NULL));
    assert_onr(ONR_OK, onr_envelope_encode(&m, &s, topic_of("t"), NOW, f->buf, sizeof(f->buf),
                                           &f->len, NULL));
}

/* Hand-built envelopes: each element wrong in turn. The baseline is a valid
 * unauthenticated profile request from a device. */
struct raw {
    size_t elements;
    uint64_t version;
    uint64_t type;
    size_t id_len;
    uint64_t role;
    const char *sender;
    int body_type; /* sample body to embed; 0: a uint instead of a map */
    int auth_len;  /* -1: nil, else a bin of that length */
};

static struct raw baseline(void)
{
    return (struct raw){8, 1, ONR_MSG_PROFILE_REQUEST, 16, ONR_ROLE_DEVICE, ONR_SAMPLE_DEVID,
                        ONR_MSG_PROFILE_REQUEST, -1};
}

static int decode_raw(const struct raw *r)
{
    static const uint8_t zeros[80];
    uint8_t buf[2048];
    struct onr_writer w;
    struct onr_msg m;
    struct onr_envelope env;

    onr_writer_init(&w, buf, sizeof(buf));
    onr_write_array(&w, r->elements);
    onr_write_uint(&w, r->version);
    onr_write_uint(&w, r->type);
    onr_write_bin(&w, (struct onr_bytes){zeros, r->id_len});
    onr_write_uint(&w, NOW);
    onr_write_uint(&w, r->role);
    onr_write_cstr(&w, r->sender);
    if (r->body_type != 0) {
        onr_sample_msg(r->body_type, &m);
        assert_onr(ONR_OK, onr_msg_body_write(&m, &w));
    } else {
        onr_write_uint(&w, 5);
    }
    if (r->elements > 7) {
        if (r->auth_len < 0)
            onr_write_nil(&w);
        else
            onr_write_bin(&w, (struct onr_bytes){zeros, (size_t)r->auth_len});
    }
    assert_onr(ONR_OK, onr_writer_finish(&w));
    return onr_envelope_decode(buf, w.len, &env);
}

static void test_envelope_rejects_malformed_elements(void **state)
{
    struct raw r;

    (void)state;
    r = baseline();
    assert_onr(ONR_OK, decode_raw(&r));
    r = baseline();
    r.elements = 7;
    assert_onr(ONR_ETYPE, decode_raw(&r));
    r = baseline();
    r.version = 2;
    assert_onr(ONR_EVERSION, decode_raw(&r));
    r = baseline();
    r.type = 77;
    assert_onr(ONR_EMSGTYPE, decode_raw(&r));
    r = baseline();
    r.type = ONR_MSG_PROFILE_CONTENT; /* travels sealed only */
    assert_onr(ONR_EMSGTYPE, decode_raw(&r));
    r = baseline();
    r.id_len = 15;
    assert_onr(ONR_ELENGTH, decode_raw(&r));
    r = baseline();
    r.role = 9;
    assert_onr(ONR_ESCHEMA, decode_raw(&r));
    r = baseline();
    r.role = ONR_ROLE_PROVIDER; /* a provider does not ask for profiles */
    r.sender = "prov-1";
    assert_onr(ONR_ESCHEMA, decode_raw(&r));
    r = baseline();
    r.sender = "tooshort";
    assert_onr(ONR_ELENGTH, decode_raw(&r));
    r = baseline();
    r.sender = "RGUIB733FA2XFYRZDWEHZSOHU743ONT4";
    assert_onr(ONR_ECHARSET, decode_raw(&r));
    r = baseline();
    r.body_type = 0;
    assert_onr(ONR_ETYPE, decode_raw(&r));
    r = baseline();
    r.body_type = ONR_MSG_HELLO; /* another type's body */
    assert_onr(ONR_EUNKNOWNKEY, decode_raw(&r));
    r = baseline();
    r.auth_len = 64; /* a signature where the type has none */
    assert_onr(ONR_EAUTHKIND, decode_raw(&r));
    r = baseline();
    r.type = ONR_MSG_HELLO;
    r.body_type = ONR_MSG_HELLO; /* a signed type with nil */
    assert_onr(ONR_EAUTHKIND, decode_raw(&r));
    r.auth_len = 63;
    assert_onr(ONR_ELENGTH, decode_raw(&r));
    r.auth_len = 32; /* a MAC's size for a signed type */
    assert_onr(ONR_ELENGTH, decode_raw(&r));
    r.auth_len = 64;
    assert_onr(ONR_OK, decode_raw(&r));
}

static void test_envelope_rejects_bad_framing(void **state)
{
    struct fixture *f = *state;
    struct onr_envelope env;
    uint8_t big[ONR_ENVELOPE_MAX + 16];
    static const uint8_t map_root[] = {0x80};
    /* a body holding an array: depth 3 in an envelope */
    static const uint8_t deep[] = {0x98, 0x01, 0x05, 0xc4, 0x01, 0x00, 0x01, 0x01, 0xa1, 'x',
                                   0x81, 0xa1, 'k', 0x91, 0x91, 0x00, 0xc0};

    encode_hello(f, NOW, NULL);
    for (size_t n = 0; n < f->len; n++)
        assert_onr(ONR_ETRUNCATED, onr_envelope_decode(f->buf, n, &env));
    f->buf[f->len] = 0x00;
    assert_onr(ONR_ETRAILING, onr_envelope_decode(f->buf, f->len + 1, &env));
    assert_onr(ONR_ETYPE, onr_envelope_decode(map_root, sizeof(map_root), &env));
    assert_onr(ONR_EDEPTH, onr_envelope_decode(deep, sizeof(deep), &env));
    memset(big, 0, sizeof(big));
    assert_onr(ONR_ETOOBIG, onr_envelope_decode(big, sizeof(big), &env));
    assert_onr(ONR_EINVAL, onr_envelope_decode(NULL, 1, &env));
}

/* Random corruption never crashes or leaks (this runs under ASan in the
 * sanitizer run) and is never accepted as the device's signed hello. */
static void test_envelope_survives_random_corruption(void **state)
{
    struct fixture *f = *state;
    uint8_t orig[ONR_ENVELOPE_MAX];
    size_t len;
    uint32_t x = 0x2545f491u; /* xorshift32, fixed seed: reproducible */

    encode_hello(f, NOW, NULL);
    memcpy(orig, f->buf, f->len);
    len = f->len;
    for (int iter = 0; iter < 20000; iter++) {
        struct onr_envelope env;
        size_t cut = len;
        int edits;
        int rc;

        memcpy(f->buf, orig, len);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        edits = 1 + (int)(x % 4);
        for (int e = 0; e < edits; e++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            f->buf[x % len] = (uint8_t)(x >> 24);
        }
        if (iter % 7 == 0)
            cut = 1 + x % len;
        rc = onr_envelope_decode(f->buf, cut, &env);
        if (rc == ONR_OK)
            rc = onr_envelope_verify_sig(&env, topic_of(f->up_topic), f->device_pub);
        if (rc == ONR_OK && (cut != len || memcmp(f->buf, orig, len) != 0))
            fail_msg("corrupted envelope accepted at iteration %d", iter);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_envelope_signed_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_wrong_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_stale_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_replayed_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_replay_is_per_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_any_single_byte_change_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_mac_round_trip_and_wrong_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_unauthenticated_type_carries_nil, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_encode_refuses_wrong_role_or_missing_key,
                                        setup, teardown),
        cmocka_unit_test(test_envelope_rejects_malformed_elements),
        cmocka_unit_test_setup_teardown(test_envelope_rejects_bad_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_survives_random_corruption, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
