/*
 * The signed envelope (proto/SPEC.md section 4) as every receiver decodes
 * it: services, the device, the plugin's $CONTROL handler and onrampctl.
 *
 * Input: the envelope bytes as they arrive on a topic.
 * Checks beyond "no crash": a failed decode leaves nothing behind; a
 * decoded envelope's borrowed ranges lie inside the input; the
 * authenticator verifies with the fixed test keys when a seed made it so,
 * and a second acceptance is a replay; the body re-encodes to bytes that
 * decode to the same message; and the whole envelope re-encoded (new id,
 * new authenticator) decodes to the same header and body and verifies.
 */
#include <string.h>

#include "fuzz.h"
#include "onramp/codec.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/replay.h"

#define TOPIC ONR_BYTES_STR(FUZZ_TOPIC)

static struct onr_p256_key *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signer = fuzz_key_load(FUZZ_KEY_SIGNER);
    return 0;
}

static int within(struct onr_bytes b, const uint8_t *data, size_t size)
{
    return b.len == 0 ||
           (b.ptr >= data && b.len <= size && b.ptr - data <= (ptrdiff_t)(size - b.len));
}

static void check_zeroed(const struct onr_envelope *env)
{
    static const struct onr_envelope zero;

    FUZZ_CHECK(memcmp(env, &zero, sizeof(zero)) == 0, "refused envelope not zeroed");
}

/* The body alone: encode, decode, encode again: same message, same bytes. */
static void body_round_trip(const struct onr_msg *msg)
{
    static uint8_t a[ONR_ENVELOPE_MAX];
    static uint8_t b[ONR_ENVELOPE_MAX];
    size_t a_len = 0;
    size_t b_len = 0;
    struct onr_msg back;
    int rc;

    rc = onr_msg_body_encode(msg, a, sizeof(a), &a_len);
    FUZZ_CHECK(rc == ONR_OK, "decoded body does not encode: %s", onr_error_name(rc));
    rc = onr_msg_body_decode((int)msg->type, a, a_len, &back);
    FUZZ_CHECK(rc == ONR_OK, "encoded body does not decode: %s", onr_error_name(rc));
    fuzz_msg_same(msg, &back, "body round trip");
    rc = onr_msg_body_encode(&back, b, sizeof(b), &b_len);
    FUZZ_CHECK(rc == ONR_OK && a_len == b_len && memcmp(a, b, a_len) == 0,
               "body encoding not stable");
}

/* The envelope re-encoded by its sender with our keys, as the sender would. */
static void envelope_round_trip(const struct onr_envelope *env)
{
    static uint8_t out[ONR_ENVELOPE_MAX];
    size_t out_len = 0;
    uint8_t id[ONR_MSG_ID_LEN];
    struct onr_envelope back;
    struct onr_envelope_signer who = {
        .role = env->sender_role,
        .sender = env->sender,
        .key = signer,
        .mac_key = ONR_BYTES(fuzz_mac_key),
    };
    int rc;

    rc = onr_envelope_encode(&env->msg, &who, TOPIC, env->timestamp, out, sizeof(out), &out_len,
                             id);
    FUZZ_CHECK(rc == ONR_OK, "decoded envelope does not encode: %s", onr_error_name(rc));
    rc = onr_envelope_decode(out, out_len, &back);
    FUZZ_CHECK(rc == ONR_OK, "encoded envelope does not decode: %s", onr_error_name(rc));
    FUZZ_CHECK(back.version == env->version && back.timestamp == env->timestamp &&
                   back.sender_role == env->sender_role && back.auth == env->auth &&
                   fuzz_same_bytes(back.sender, env->sender) &&
                   memcmp(back.id, id, sizeof(id)) == 0,
               "envelope header round trip");
    fuzz_msg_same(&env->msg, &back.msg, "envelope round trip");
    switch (back.auth) {
    case ONR_AUTH_SIG:
        rc = onr_envelope_verify_sig(&back, TOPIC, fuzz_key_public(FUZZ_KEY_SIGNER));
        FUZZ_CHECK(rc == ONR_OK, "own signature: %s", onr_error_name(rc));
        break;
    case ONR_AUTH_MAC:
        rc = onr_envelope_verify_mac(&back, TOPIC, ONR_BYTES(fuzz_mac_key));
        FUZZ_CHECK(rc == ONR_OK, "own MAC: %s", onr_error_name(rc));
        break;
    default:
        FUZZ_CHECK(back.auth_tag.len == 0, "tag on an unauthenticated type");
        break;
    }
}

/* The receiver's checks on the input itself, with the fixed keys. */
static void receive(const struct onr_envelope *env)
{
    struct onr_replay *replay = NULL;
    int rc = ONR_OK;

    if (env->auth == ONR_AUTH_SIG)
        rc = onr_envelope_verify_sig(env, TOPIC, fuzz_key_public(FUZZ_KEY_SIGNER));
    else if (env->auth == ONR_AUTH_MAC)
        rc = onr_envelope_verify_mac(env, TOPIC, ONR_BYTES(fuzz_mac_key));
    if (rc != ONR_OK)
        return; /* not one of the seeds' authenticators: refused, fine */
    FUZZ_CHECK(onr_replay_new(4, &replay) == ONR_OK, "replay cache");
    rc = onr_envelope_accept(env, env->timestamp, ONR_ENVELOPE_DEFAULT_WINDOW, replay);
    FUZZ_CHECK(rc == ONR_OK, "fresh envelope refused: %s", onr_error_name(rc));
    rc = onr_envelope_accept(env, env->timestamp, ONR_ENVELOPE_DEFAULT_WINDOW, replay);
    FUZZ_CHECK(rc == ONR_EREPLAY, "replayed envelope: %s", onr_error_name(rc));
    onr_replay_free(replay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct onr_envelope env;
    enum onr_auth_kind auth = ONR_AUTH_NONE;
    unsigned roles = 0;
    int rc;

    rc = onr_envelope_decode(data, size, &env);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "decode returned %d", rc);
        check_zeroed(&env);
        return 0;
    }
    FUZZ_CHECK(onr_codec_check(data, size, NULL) == ONR_OK, "decoded beyond the codec bounds");
    FUZZ_CHECK(env.raw.ptr == data && env.raw.len == size, "raw");
    FUZZ_CHECK(env.authed.ptr == data && env.authed.len < size, "authed");
    FUZZ_CHECK(within(env.sender, data, size) && within(env.auth_tag, data, size), "borrowed");
    FUZZ_CHECK(env.version == ONR_PROTOCOL_VERSION, "version %llu",
               (unsigned long long)env.version);
    FUZZ_CHECK(onr_msg_type_rules((int)env.msg.type, &auth, &roles) == ONR_OK &&
                   auth == env.auth && (roles & (1u << env.sender_role)),
               "type rules");
    FUZZ_CHECK(env.auth_tag.len == (auth == ONR_AUTH_SIG   ? ONR_P256_SIG_LEN
                                    : auth == ONR_AUTH_MAC ? ONR_ENVELOPE_MAC_LEN
                                                           : 0),
               "tag length %zu", env.auth_tag.len);
    receive(&env);
    body_round_trip(&env.msg);
    envelope_round_trip(&env);
    return 0;
}
