#include "testutil.h"

#include <stdbool.h>
#include <string.h>

#include "codec_internal.h"
#include "onramp/codec.h"
#include "onramp/error.h"
#include "onramp/msg.h"
#include "onramp/op_keys.h"
#include "samples.h"

static void test_msg_every_type_round_trips(void **state)
{
    uint8_t a[ONR_CODEC_MAX_MESSAGE];
    uint8_t b[ONR_CODEC_MAX_MESSAGE];
    size_t a_len = 0;
    size_t b_len = 0;
    struct onr_msg m;
    struct onr_msg back;

    (void)state;
    for (const int *t = onr_sample_types; *t != 0; t++) {
        onr_sample_msg(*t, &m);
        assert_onr(ONR_OK, onr_msg_body_encode(&m, a, sizeof(a), &a_len));
        assert_onr(ONR_OK, onr_msg_body_decode(*t, a, a_len, &back));
        assert_int_equal(back.type, *t);
        assert_onr(ONR_OK, onr_msg_body_encode(&back, b, sizeof(b), &b_len));
        assert_int_equal(a_len, b_len);
        assert_memory_equal(a, b, a_len);
        assert_non_null(onr_msg_type_name(*t));
    }
}

static void test_msg_every_type_has_a_sample(void **state)
{
    int in_code = 0;
    int sampled = 0;

    (void)state;
    for (int t = 1; t <= 200; t++)
        if (onr_msg_type_name(t) != NULL)
            in_code++;
    for (const int *t = onr_sample_types; *t != 0; t++)
        sampled++;
    assert_int_equal(sampled, in_code);
}

static void test_msg_decoded_fields_point_into_input(void **state)
{
    uint8_t buf[512];
    size_t len = 0;
    struct onr_msg m;
    struct onr_msg back;

    (void)state;
    onr_sample_msg(ONR_MSG_PENDING, &m);
    assert_onr(ONR_OK, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, onr_msg_body_decode(ONR_MSG_PENDING, buf, len, &back));
    assert_int_equal(back.body.pending.retry_after, 30);
    assert_true(back.body.pending.reason.ptr >= buf &&
                back.body.pending.reason.ptr < buf + len);
    assert_int_equal(back.body.pending.reason.len, strlen("not registered yet"));
}

static void test_msg_optional_field_may_be_absent(void **state)
{
    uint8_t buf[512];
    size_t len = 0;
    struct onr_msg m;
    struct onr_msg back;

    (void)state;
    onr_sample_msg(ONR_MSG_HELLO, &m);
    m.body.hello.cert = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_OK, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, onr_msg_body_decode(ONR_MSG_HELLO, buf, len, &back));
    assert_null(back.body.hello.cert.ptr);
}

/* Write a map body from key/value pairs given as a tiny script. */
enum op { END, KEY, UINT, BIN, STR, NIL, RAWKEY };

struct item {
    enum op op;
    const char *s;
    size_t n;
};

static size_t build(uint8_t *buf, size_t cap, size_t pairs, const struct item *items)
{
    struct onr_writer w;

    onr_writer_init(&w, buf, cap);
    onr_write_map(&w, pairs);
    for (const struct item *it = items; it->op != END; it++) {
        switch (it->op) {
        case KEY: onr_write_cstr(&w, it->s); break;
        case UINT: onr_write_uint(&w, it->n); break;
        case BIN: onr_write_bin(&w, (struct onr_bytes){(const uint8_t *)it->s, it->n}); break;
        case STR: onr_write_bytes_str(&w, (struct onr_bytes){(const uint8_t *)it->s, it->n}); break;
        case NIL: onr_write_nil(&w); break;
        case RAWKEY: onr_write_uint(&w, it->n); break;
        default: break;
        }
    }
    assert_onr(ONR_OK, onr_writer_finish(&w));
    return w.len;
}

#define NONCE "0123456789abcdef"
#define CERT64 NONCE NONCE NONCE NONCE
#define SEALED48 NONCE NONCE NONCE
#define DECODE(expected, type, pairs, ...)                                            \
    do {                                                                              \
        const struct item items_[] = {__VA_ARGS__, {END, NULL, 0}};                  \
        uint8_t buf_[1024];                                                           \
        size_t len_ = build(buf_, sizeof(buf_), pairs, items_);                      \
        struct onr_msg m_;                                                            \
        assert_onr(expected, onr_msg_body_decode(type, buf_, len_, &m_));            \
    } while (0)

static void test_msg_rejects_duplicate_key(void **state)
{
    (void)state;
    DECODE(ONR_EDUPKEY, ONR_MSG_HELLO, 2, {KEY, "nonce", 0}, {BIN, NONCE, 16}, {KEY, "nonce", 0},
           {BIN, NONCE, 16});
}

static void test_msg_rejects_unknown_key(void **state)
{
    (void)state;
    DECODE(ONR_EUNKNOWNKEY, ONR_MSG_HELLO, 2, {KEY, "nonce", 0}, {BIN, NONCE, 16},
           {KEY, "admin", 0}, {UINT, NULL, 1});
}

static void test_msg_rejects_missing_required(void **state)
{
    (void)state;
    DECODE(ONR_EMISSING, ONR_MSG_HELLO, 1, {KEY, "cert", 0}, {BIN, CERT64, 64});
    /* an empty map */
    {
        static const uint8_t empty[] = {0x80};
        struct onr_msg m;

        assert_onr(ONR_EMISSING, onr_msg_body_decode(ONR_MSG_HELLO, empty, 1, &m));
    }
}

static void test_msg_rejects_wrong_types(void **state)
{
    (void)state;
    /* nonce as a string instead of binary */
    DECODE(ONR_ETYPE, ONR_MSG_HELLO, 1, {KEY, "nonce", 0}, {STR, NONCE, 16});
    /* retry_after as binary */
    DECODE(ONR_ETYPE, ONR_MSG_PENDING, 2, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {BIN, "x", 1});
    /* a non-string key */
    DECODE(ONR_ETYPE, ONR_MSG_HELLO, 1, {RAWKEY, NULL, 7}, {BIN, NONCE, 16});
    /* nil where a value is due */
    DECODE(ONR_ETYPE, ONR_MSG_HELLO, 1, {KEY, "nonce", 0}, {NIL, NULL, 0});
    /* the body is not a map */
    {
        static const uint8_t arr[] = {0x91, 0x01};
        struct onr_msg m;

        assert_onr(ONR_ETYPE, onr_msg_body_decode(ONR_MSG_HELLO, arr, sizeof(arr), &m));
    }
}

static void test_msg_rejects_negative_integer(void **state)
{
    /* {"re": bin16, "retry_after": -1} */
    uint8_t buf[64];
    size_t n = 0;
    struct onr_msg m;

    (void)state;
    buf[n++] = 0x82;
    buf[n++] = 0xa2;
    buf[n++] = 'r';
    buf[n++] = 'e';
    buf[n++] = 0xc4;
    buf[n++] = 16;
    memcpy(buf + n, NONCE, 16);
    n += 16;
    buf[n++] = 0xab;
    memcpy(buf + n, "retry_after", 11);
    n += 11;
    buf[n++] = 0xff;
    assert_onr(ONR_ETYPE, onr_msg_body_decode(ONR_MSG_PENDING, buf, n, &m));
}

static void test_msg_rejects_lengths_out_of_bounds(void **state)
{
    (void)state;
    DECODE(ONR_ELENGTH, ONR_MSG_HELLO, 1, {KEY, "nonce", 0}, {BIN, NONCE, 15});
    DECODE(ONR_ELENGTH, ONR_MSG_ATTACH_REQUEST, 1, {KEY, "imsi", 0}, {STR, "12345", 5});
    DECODE(ONR_ELENGTH, ONR_MSG_ATTACH_REQUEST, 1, {KEY, "imsi", 0},
           {STR, "1234567890123456", 16});
}

static void test_msg_rejects_values_out_of_range(void **state)
{
    (void)state;
    DECODE(ONR_ERANGE, ONR_MSG_PENDING, 2, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {UINT, NULL, 0});
    DECODE(ONR_ERANGE, ONR_MSG_PENDING, 2, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {UINT, NULL, 86401});
}

static void test_msg_rejects_bad_characters(void **state)
{
    (void)state;
    /* digits only */
    DECODE(ONR_ECHARSET, ONR_MSG_ATTACH_REQUEST, 1, {KEY, "imsi", 0}, {STR, "00101000000000a", 15});
    /* a device id with a topic separator */
    DECODE(ONR_ECHARSET, ONR_MSG_ALIGNED, 2, {KEY, "re", 0}, {BIN, NONCE, 16}, {KEY, "dev", 0},
           {STR, "rguib733fa2xfyrzdwehzsohu743on/#", 32});
    /* text with a control character (log injection) */
    DECODE(ONR_ECHARSET, ONR_MSG_PENDING, 3, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {UINT, NULL, 5}, {KEY, "reason", 0}, {STR, "ok\nFAKE", 7});
    /* overlong UTF-8 for '/' */
    DECODE(ONR_ECHARSET, ONR_MSG_PENDING, 3, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {UINT, NULL, 5}, {KEY, "reason", 0}, {STR, "a\xc0\xaf", 3});
    /* a UTF-16 surrogate encoded in UTF-8 */
    DECODE(ONR_ECHARSET, ONR_MSG_PENDING, 3, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "retry_after", 0}, {UINT, NULL, 5}, {KEY, "reason", 0}, {STR, "\xed\xa0\x80", 3});
    /* a service id starting with a dash, and one with uppercase */
    DECODE(ONR_ECHARSET, ONR_MSG_PAIRING, 3, {KEY, "label", 0}, {STR, "L", 1},
           {KEY, "account", 0}, {STR, "a", 1}, {KEY, "op", 0}, {STR, "-op", 3});
    DECODE(ONR_ECHARSET, ONR_MSG_PAIRING, 3, {KEY, "label", 0}, {STR, "L", 1},
           {KEY, "account", 0}, {STR, "a", 1}, {KEY, "op", 0}, {STR, "Op", 2});
    /* valid multi-byte text passes */
    DECODE(ONR_OK, ONR_MSG_PENDING, 3, {KEY, "re", 0}, {BIN, NONCE, 16}, {KEY, "retry_after", 0},
           {UINT, NULL, 5}, {KEY, "reason", 0}, {STR, "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x99\x82", 13});
}

static void test_msg_rejects_inconsistent_attach_response(void **state)
{
    (void)state;
    /* result says RES but auts is sent */
    DECODE(ONR_ESCHEMA, ONR_MSG_ATTACH_RESPONSE, 3, {KEY, "rand", 0}, {BIN, NONCE, 16},
           {KEY, "result", 0}, {UINT, NULL, 0}, {KEY, "auts", 0}, {BIN, "abcdefghijklmn", 14});
    /* sync failure without auts */
    DECODE(ONR_ESCHEMA, ONR_MSG_ATTACH_RESPONSE, 2, {KEY, "rand", 0}, {BIN, NONCE, 16},
           {KEY, "result", 0}, {UINT, NULL, 1});
    /* MAC failure carrying a res */
    DECODE(ONR_ESCHEMA, ONR_MSG_ATTACH_RESPONSE, 3, {KEY, "rand", 0}, {BIN, NONCE, 16},
           {KEY, "result", 0}, {UINT, NULL, 2}, {KEY, "res", 0}, {BIN, "12345678", 8});
    /* and the consistent forms pass */
    DECODE(ONR_OK, ONR_MSG_ATTACH_RESPONSE, 3, {KEY, "rand", 0}, {BIN, NONCE, 16},
           {KEY, "result", 0}, {UINT, NULL, 1}, {KEY, "auts", 0}, {BIN, "abcdefghijklmn", 14});
    DECODE(ONR_OK, ONR_MSG_ATTACH_RESPONSE, 2, {KEY, "rand", 0}, {BIN, NONCE, 16},
           {KEY, "result", 0}, {UINT, NULL, 2});
}

static void test_msg_profile_carries_a_whole_challenge_or_none(void **state)
{
    uint8_t buf[1024];
    size_t len = 0;
    struct onr_msg m;

    (void)state;
    /* rand without autn, autn without rand */
    DECODE(ONR_ESCHEMA, ONR_MSG_PROFILE, 3, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "sealed", 0}, {BIN, SEALED48, 48}, {KEY, "rand", 0}, {BIN, NONCE, 16});
    DECODE(ONR_ESCHEMA, ONR_MSG_PROFILE, 3, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "sealed", 0}, {BIN, SEALED48, 48}, {KEY, "autn", 0}, {BIN, NONCE, 16});
    /* a challenge of another size */
    DECODE(ONR_ELENGTH, ONR_MSG_PROFILE, 4, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "sealed", 0}, {BIN, SEALED48, 48}, {KEY, "rand", 0}, {BIN, NONCE, 15},
           {KEY, "autn", 0}, {BIN, NONCE, 16});
    /* both, and neither (an operator that sends no challenge), pass */
    DECODE(ONR_OK, ONR_MSG_PROFILE, 4, {KEY, "re", 0}, {BIN, NONCE, 16}, {KEY, "sealed", 0},
           {BIN, SEALED48, 48}, {KEY, "rand", 0}, {BIN, NONCE, 16}, {KEY, "autn", 0},
           {BIN, NONCE, 16});
    DECODE(ONR_OK, ONR_MSG_PROFILE, 2, {KEY, "re", 0}, {BIN, NONCE, 16}, {KEY, "sealed", 0},
           {BIN, SEALED48, 48});
    /* and an encoder refuses half a challenge too */
    onr_sample_msg(ONR_MSG_PROFILE, &m);
    m.body.profile.autn = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
}

static void test_msg_rejects_unknown_type(void **state)
{
    static const uint8_t empty[] = {0x80};
    struct onr_msg m;

    (void)state;
    assert_onr(ONR_EMSGTYPE, onr_msg_body_decode(77, empty, 1, &m));
    assert_null(onr_msg_type_name(77));
    assert_onr(ONR_EMSGTYPE, onr_msg_type_rules(77, NULL, NULL));
    /* inner-only bodies have no envelope rules */
    assert_onr(ONR_EMSGTYPE, onr_msg_type_rules(ONR_MSG_PROFILE_CONTENT, NULL, NULL));
}

static void test_msg_body_rejects_nesting(void **state)
{
    /* {"nonce": [..]} is a depth-2 object: refused before the schema */
    static const uint8_t nested[] = {0x81, 0xa5, 'n', 'o', 'n', 'c', 'e', 0x91, 0x01};
    struct onr_msg m;

    (void)state;
    assert_onr(ONR_EDEPTH, onr_msg_body_decode(ONR_MSG_HELLO, nested, sizeof(nested), &m));
}

static void test_msg_encode_refuses_what_decode_would(void **state)
{
    uint8_t buf[1024];
    size_t len = 0;
    struct onr_msg m;

    (void)state;
    onr_sample_msg(ONR_MSG_HELLO, &m);
    m.body.hello.nonce.len = 15;
    assert_onr(ONR_ELENGTH, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    onr_sample_msg(ONR_MSG_HELLO, &m);
    m.body.hello.nonce = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_EMISSING, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    onr_sample_msg(ONR_MSG_PENDING, &m);
    m.body.pending.retry_after = 0;
    assert_onr(ONR_ERANGE, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    onr_sample_msg(ONR_MSG_ATTACH_RESPONSE, &m);
    m.body.attach_response.result = ONR_ATTACH_SYNC_FAILURE;
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    onr_sample_msg(ONR_MSG_HELLO, &m);
    assert_onr(ONR_ESPACE, onr_msg_body_encode(&m, buf, 20, &len));
    m.type = 77;
    assert_onr(ONR_EMSGTYPE, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
}

static void test_msg_fields_can_be_listed_by_name(void **state)
{
    struct onr_msg m;
    struct onr_msg_field f;

    (void)state;
    onr_sample_msg(ONR_MSG_PENDING, &m);
    assert_onr(ONR_OK, onr_msg_field_at(&m, 0, &f));
    assert_string_equal(f.key, "re");
    assert_int_equal(f.kind, ONR_VALUE_BYTES);
    assert_int_equal(f.bytes.len, 16);
    assert_onr(ONR_OK, onr_msg_field_at(&m, 1, &f));
    assert_string_equal(f.key, "retry_after");
    assert_int_equal(f.kind, ONR_VALUE_UINT);
    assert_int_equal(f.uint_value, 30);
    assert_onr(ONR_OK, onr_msg_field_at(&m, 2, &f));
    assert_int_equal(f.kind, ONR_VALUE_TEXT);
    assert_true(f.present);
    assert_onr(ONR_ENOENT, onr_msg_field_at(&m, 3, &f));
    m.body.pending.reason = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_OK, onr_msg_field_at(&m, 2, &f));
    assert_false(f.present);
    m.type = 77;
    assert_onr(ONR_EMSGTYPE, onr_msg_field_at(&m, 0, &f));
}

/* ---- roaming (SPEC sections 15 and 16) ------------------------------------ */

/* The sample of `type` with one field changed, encoded: ONR_OK or why not;
 * and decoded from a body written by hand with the same change. */
static struct onr_bytes text(const char *s)
{
    return (struct onr_bytes){(const uint8_t *)s, strlen(s)};
}

static int encode_sample(const struct onr_msg *m)
{
    uint8_t buf[ONR_CODEC_MAX_MESSAGE];
    size_t len = 0;

    return onr_msg_body_encode(m, buf, sizeof(buf), &len);
}

static void test_msg_plmn_fields_take_five_or_six_digits(void **state)
{
    static const struct {
        const char *plmn;
        int rc;
    } hellos[] = {
        {"72405", ONR_OK},        {"310410", ONR_OK},        {"7240", ONR_ELENGTH},
        {"7240051", ONR_ELENGTH}, {"", ONR_ELENGTH},         {"72a05", ONR_ECHARSET},
        {"724 5", ONR_ECHARSET},  {"-7240", ONR_ECHARSET},
    };
    struct onr_msg m;

    (void)state;
    /* a hello, a token, a status, a no_operator, a relocation request */
    for (size_t i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++)
        DECODE(hellos[i].rc, ONR_MSG_HELLO, 2, {KEY, "nonce", 0}, {BIN, NONCE, 16},
               {KEY, "plmn", 0}, {STR, hellos[i].plmn, strlen(hellos[i].plmn)});
    DECODE(ONR_ETYPE, ONR_MSG_HELLO, 2, {KEY, "nonce", 0}, {BIN, NONCE, 16}, {KEY, "plmn", 0},
           {UINT, NULL, 72405});
    DECODE(ONR_ECHARSET, ONR_MSG_RELOCATION_REQUEST, 3, {KEY, "dev", 0},
           {STR, ONR_SAMPLE_DEVID, 32}, {KEY, "plmn", 0}, {STR, "-7240", 5}, {KEY, "nonce", 0},
           {BIN, NONCE, 16});
    /* a relocation request needs all three */
    DECODE(ONR_EMISSING, ONR_MSG_RELOCATION_REQUEST, 2, {KEY, "dev", 0},
           {STR, ONR_SAMPLE_DEVID, 32}, {KEY, "nonce", 0}, {BIN, NONCE, 16});
    DECODE(ONR_ELENGTH, ONR_MSG_RELOCATION_REQUEST, 3, {KEY, "dev", 0},
           {STR, ONR_SAMPLE_DEVID, 32}, {KEY, "plmn", 0}, {STR, "72405", 5}, {KEY, "nonce", 0},
           {BIN, NONCE, 15});
    /* the encoder refuses the same */
    onr_sample_msg(ONR_MSG_VOUCHER_TOKEN, &m);
    m.body.voucher_token.plmn = ONR_BYTES_STR("7240");
    assert_onr(ONR_ELENGTH, encode_sample(&m));
    onr_sample_msg(ONR_MSG_STATUS, &m);
    m.body.status.plmn = ONR_BYTES_STR("72x05");
    assert_onr(ONR_ECHARSET, encode_sample(&m));
    onr_sample_msg(ONR_MSG_NO_OPERATOR, &m);
    m.body.no_operator.plmn = (struct onr_bytes){NULL, 0}; /* optional */
    assert_onr(ONR_OK, encode_sample(&m));
}

static void test_msg_reasons_are_section_15s_words(void **state)
{
    static const char *const good[] = {"user", "policy", "fallback"};
    static const char *const bad[] = {"admin", "users", "use", "polic", "fallback1", "default"};
    struct onr_msg m;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        onr_sample_msg(ONR_MSG_VOUCHER_TOKEN, &m);
        m.body.voucher_token.why = text(good[i]);
        assert_onr(ONR_OK, encode_sample(&m));
        onr_sample_msg(ONR_MSG_STATUS, &m);
        m.body.status.why = text(good[i]);
        assert_onr(ONR_OK, encode_sample(&m));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int want = strlen(bad[i]) > 8 ? ONR_ELENGTH : ONR_ESCHEMA;

        onr_sample_msg(ONR_MSG_VOUCHER_TOKEN, &m);
        m.body.voucher_token.why = text(bad[i]);
        assert_onr(want, encode_sample(&m));
        onr_sample_msg(ONR_MSG_STATUS, &m);
        m.body.status.why = text(bad[i]);
        assert_onr(want, encode_sample(&m));
    }
    /* decoded likewise */
    DECODE(ONR_ESCHEMA, ONR_MSG_STATUS, 12, {KEY, "re", 0}, {BIN, NONCE, 16}, {KEY, "dev", 0},
           {STR, ONR_SAMPLE_DEVID, 32}, {KEY, "state", 0}, {STR, "claimed", 7},
           {KEY, "claimed", 0}, {UINT, NULL, 0}, {KEY, "registered", 0}, {UINT, NULL, 0},
           {KEY, "vouched", 0}, {UINT, NULL, 0}, {KEY, "profiled", 0}, {UINT, NULL, 0},
           {KEY, "attached", 0}, {UINT, NULL, 0}, {KEY, "enrolled", 0}, {UINT, NULL, 0},
           {KEY, "aligned", 0}, {UINT, NULL, 0}, {KEY, "operational", 0}, {UINT, NULL, 0},
           {KEY, "why", 0}, {STR, "admin", 5});
}

static bool contains(const uint8_t *buf, size_t len, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, s, n) == 0)
            return true;
    return false;
}

/* Optional uints: absent reads as 0, a 0 is left out, 1 is written. */
static void test_msg_optional_uints_read_absent_as_zero(void **state)
{
    uint8_t a[ONR_CODEC_MAX_MESSAGE];
    uint8_t b[ONR_CODEC_MAX_MESSAGE];
    size_t a_len = 0;
    size_t b_len = 0;
    struct onr_msg m;
    struct onr_msg back;
    struct onr_msg_field f;

    (void)state;
    onr_sample_msg(ONR_MSG_STATUS, &m);
    assert_onr(ONR_OK, onr_msg_body_encode(&m, a, sizeof(a), &a_len));
    m.body.status.relocations = 0;
    m.body.status.relocated = 0;
    assert_onr(ONR_OK, onr_msg_body_encode(&m, b, sizeof(b), &b_len));
    /* the two keys left out */
    assert_true(contains(a, a_len, "relocations"));
    assert_false(contains(b, b_len, "relocations"));
    assert_false(contains(b, b_len, "relocated"));
    assert_onr(ONR_OK, onr_msg_body_decode(ONR_MSG_STATUS, b, b_len, &back));
    assert_int_equal(back.body.status.relocations, 0);
    for (size_t i = 0; onr_msg_field_at(&back, i, &f) == ONR_OK; i++) {
        if (strcmp(f.key, "relocations") == 0 || strcmp(f.key, "relocated") == 0)
            assert_false(f.present);
        if (strcmp(f.key, "claimed") == 0 || strcmp(f.key, "vouched") == 0)
            assert_true(f.present); /* required uints are there even when 0 */
    }
    /* an explicit 0 is taken, and written back without it */
    DECODE(ONR_OK, ONR_MSG_REGISTRATION, 5, {KEY, "dev", 0}, {STR, ONR_SAMPLE_DEVID, 32},
           {KEY, "claim", 0}, {BIN, CERT64, 64}, {KEY, "op", 0}, {STR, "op-1", 4},
           {KEY, "op_key", 0}, {BIN, CERT64 "0", 65}, {KEY, "user", 0}, {UINT, NULL, 0});
    DECODE(ONR_ERANGE, ONR_MSG_REGISTRATION, 5, {KEY, "dev", 0}, {STR, ONR_SAMPLE_DEVID, 32},
           {KEY, "claim", 0}, {BIN, CERT64, 64}, {KEY, "op", 0}, {STR, "op-1", 4},
           {KEY, "op_key", 0}, {BIN, CERT64 "0", 65}, {KEY, "user", 0}, {UINT, NULL, 2});
    onr_sample_msg(ONR_MSG_REGISTRATION, &m);
    m.body.registration.user = 2;
    assert_onr(ONR_ERANGE, encode_sample(&m));
}

/* A registration's policy and keys (type 13): the policy parses, the keys
 * are exactly the operators it names and `op`'s, `op`'s is op_key. */
static void test_msg_registration_policy_and_keys_agree(void **state)
{
    static const uint8_t key_a[ONR_P256_PUB_LEN] = {0x04, 0xaa};
    static const uint8_t key_b[ONR_P256_PUB_LEN] = {0x04, 0xbb};
    static const uint8_t key_c[ONR_P256_PUB_LEN] = {0x04, 0xcc};
    uint8_t keys[ONR_OP_KEYS_BIN_MAX];
    size_t keys_len = 0;
    struct onr_op_keys k;
    struct onr_msg m;
    struct onr_msg back;
    uint8_t buf[ONR_CODEC_MAX_MESSAGE];
    size_t len = 0;

    (void)state;
    memset(&k, 0, sizeof(k));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-de", key_a));
    assert_onr(ONR_OK, onr_op_keys_add(&k, "op-br", key_b));
    assert_onr(ONR_OK, onr_op_keys_encode(&k, keys, sizeof(keys), &keys_len));
    onr_sample_msg(ONR_MSG_REGISTRATION, &m);
    m.body.registration.op = ONR_BYTES_STR("op-de");
    m.body.registration.op_key = ONR_BYTES(key_a);
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;724:op-br");
    m.body.registration.op_keys = (struct onr_bytes){keys, keys_len};
    assert_onr(ONR_OK, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, onr_msg_body_decode(ONR_MSG_REGISTRATION, buf, len, &back));
    assert_memory_equal(back.body.registration.op_keys.ptr, keys, keys_len);

    /* `op` outside the policy, with its record: fine */
    m.body.registration.policy = ONR_BYTES_STR("724:op-br");
    assert_onr(ONR_OK, encode_sample(&m));
    /* ... without it: not the keys the registration must carry */
    m.body.registration.op = ONR_BYTES_STR("op-xx");
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    m.body.registration.op = ONR_BYTES_STR("op-de");
    /* `op`'s record is not op_key */
    m.body.registration.op_key = ONR_BYTES(key_c);
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    m.body.registration.op_key = ONR_BYTES(key_a);
    /* an operator of the policy without a record */
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;724:op-br,op-ar");
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    /* a record for an operator neither the policy nor `op` names */
    m.body.registration.policy = ONR_BYTES_STR("262:op-de");
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    /* one without the other */
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;724:op-br");
    m.body.registration.op_keys = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    m.body.registration.policy = (struct onr_bytes){NULL, 0};
    m.body.registration.op_keys = (struct onr_bytes){keys, keys_len};
    assert_onr(ONR_ESCHEMA, encode_sample(&m));
    /* neither: a registration as before roaming */
    m.body.registration.op_keys = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_OK, encode_sample(&m));
    /* a policy that does not parse: the parser's code */
    m.body.registration.op_keys = (struct onr_bytes){keys, keys_len};
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;262:op-br");
    assert_onr(ONR_EFORMAT, encode_sample(&m));
    m.body.registration.policy = ONR_BYTES_STR("262:op-de,op-de;724:op-br");
    assert_onr(ONR_EEXIST, encode_sample(&m));
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;724:op br");
    assert_onr(ONR_ECHARSET, encode_sample(&m)); /* not even printable */
    m.body.registration.policy = ONR_BYTES_STR("262:op-de;724:op-br");
    /* malformed records: the decoder's code */
    keys[0] = 0;
    assert_onr(ONR_EFORMAT, encode_sample(&m));
    keys[0] = 5;
    m.body.registration.op_keys.len = keys_len - 1; /* cut short */
    assert_onr(ONR_EFORMAT, encode_sample(&m));
    /* the field's own bounds: under one record, over sixteen */
    m.body.registration.op_keys.len = ONR_OP_KEYS_BIN_MIN - 1;
    assert_onr(ONR_ELENGTH, encode_sample(&m));
    m.body.registration.op_keys.len = ONR_OP_KEYS_BIN_MAX + 1;
    assert_onr(ONR_ELENGTH, encode_sample(&m));
}

static void test_msg_roaming_types_names_and_bounds(void **state)
{
    (void)state;
    assert_string_equal(onr_msg_type_name(35), "no_operator");
    assert_string_equal(onr_msg_type_name(36), "relocation_request");
    assert_string_equal(onr_msg_type_name(37), "relocate");
    /* a relocate's voucher is a token's bytes: bounded as a voucher's */
    DECODE(ONR_ELENGTH, ONR_MSG_RELOCATE, 1, {KEY, "voucher", 0}, {BIN, "", 0});
    DECODE(ONR_EUNKNOWNKEY, ONR_MSG_RELOCATE, 2, {KEY, "voucher", 0}, {BIN, NONCE, 16},
           {KEY, "op", 0}, {STR, "op-1", 4});
}

static void test_msg_life_types_names_and_bounds(void **state)
{
    struct onr_msg m;
    uint8_t buf[4096];
    size_t len = 0;
    static const char dev2[] = ONR_SAMPLE_DEVID ONR_SAMPLE_DEVID;

    (void)state;
    assert_string_equal(onr_msg_type_name(38), "renew_request");
    assert_string_equal(onr_msg_type_name(39), "renewed");
    assert_string_equal(onr_msg_type_name(40), "kit_registration");
    assert_string_equal(onr_msg_type_name(41), "kit_registered");
    assert_string_equal(onr_msg_type_name(42), "kit_paired");
    /* a serial of 1..20 bytes, a CSR as an enroll request's */
    DECODE(ONR_ELENGTH, ONR_MSG_RENEWED, 1, {KEY, "serial", 0}, {BIN, "", 0});
    DECODE(ONR_ELENGTH, ONR_MSG_RENEW_REQUEST, 2, {KEY, "serial", 0}, {BIN, NONCE, 16},
           {KEY, "csr", 0}, {BIN, NONCE, 16});
    /* a kit id is 20 characters of base32, never a device id */
    DECODE(ONR_ELENGTH, ONR_MSG_KIT_PAIRED, 5, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "kit", 0}, {STR, ONR_SAMPLE_DEVID, 32}, {KEY, "mfr", 0}, {STR, "acme", 4},
           {KEY, "op", 0}, {STR, "op-1", 4}, {KEY, "devs", 0}, {STR, dev2, 64});
    DECODE(ONR_ECHARSET, ONR_MSG_KIT_PAIRED, 5, {KEY, "re", 0}, {BIN, NONCE, 16},
           {KEY, "kit", 0}, {STR, "Q2KZF6R3HBWNMX7YT4PC", 20}, {KEY, "mfr", 0},
           {STR, "acme", 4}, {KEY, "op", 0}, {STR, "op-1", 4}, {KEY, "devs", 0},
           {STR, dev2, 64});
    /* devices: 2..16 whole ids, none twice; assigned among them */
    onr_sample_msg(ONR_MSG_KIT_PAIRED, &m);
    m.body.kit_paired.devs = (struct onr_bytes){(const uint8_t *)ONR_SAMPLE_KIT_DEVS, 80};
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    m.body.kit_paired.devs = (struct onr_bytes){(const uint8_t *)dev2, 64};
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    m.body.kit_paired.devs = ONR_BYTES_STR(ONR_SAMPLE_DEVID);
    assert_onr(ONR_ELENGTH, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    onr_sample_msg(ONR_MSG_KIT_REGISTERED, &m);
    m.body.kit_registered.assigned = ONR_BYTES_STR("cccccccccccccccccccccccccccccccc");
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    m.body.kit_registered.assigned = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_OK, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    /* a kit registration's policy and keys agree as a registration's */
    onr_sample_msg(ONR_MSG_KIT_REGISTRATION, &m);
    m.body.kit_registration.op_keys = (struct onr_bytes){NULL, 0};
    assert_onr(ONR_ESCHEMA, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    /* the optional notAfter and certificate expiry read absent as 0 */
    onr_sample_msg(ONR_MSG_CERT_REVOKE, &m);
    m.body.cert_revoke.not_after = 0;
    assert_onr(ONR_OK, onr_msg_body_encode(&m, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, onr_msg_body_decode(ONR_MSG_CERT_REVOKE, buf, len, &m));
    assert_int_equal(m.body.cert_revoke.not_after, 0);
}

static void test_msg_service_ids_are_checked_in_one_place(void **state)
{
    (void)state;
    assert_onr(ONR_OK, onr_service_id_check("op-1", 4));
    assert_onr(ONR_OK, onr_service_id_check("a", 1));
    assert_onr(ONR_OK, onr_service_id_check("0123456789abcdef0123456789abcdef", 32));
    assert_onr(ONR_EINVAL, onr_service_id_check("0123456789abcdef0123456789abcdef0", 33));
    assert_onr(ONR_EINVAL, onr_service_id_check("", 0));
    assert_onr(ONR_EINVAL, onr_service_id_check("-op", 3));
    assert_onr(ONR_EINVAL, onr_service_id_check(".op", 3));
    assert_onr(ONR_EINVAL, onr_service_id_check("Op", 2));
    assert_onr(ONR_EINVAL, onr_service_id_check("op/1", 4));
    assert_onr(ONR_EINVAL, onr_service_id_check(NULL, 3));
    assert_onr(ONR_OK, onr_service_id_check("op-1/x", 4)); /* the length bounds it */
}

static void test_msg_type_rules_match_design(void **state)
{
    static const struct {
        int type;
        enum onr_auth_kind auth;
        unsigned roles;
    } rules[] = {
        {ONR_MSG_HELLO, ONR_AUTH_SIG, 1u << ONR_ROLE_DEVICE},
        /* the operator verifies no fresh device key for a profile request */
        {ONR_MSG_PROFILE_REQUEST, ONR_AUTH_NONE, 1u << ONR_ROLE_DEVICE},
        /* enrollment is vouched for by the network: a MAC */
        {ONR_MSG_ENROLL_REQUEST, ONR_AUTH_MAC, 1u << ONR_ROLE_DEVICE},
        /* only the manufacturer issues vouchers */
        {ONR_MSG_VOUCHER_TOKEN, ONR_AUTH_SIG, 1u << ONR_ROLE_MANUFACTURER},
        /* roaming: the manufacturer tells, the provider asks and relocates */
        {ONR_MSG_NO_OPERATOR, ONR_AUTH_SIG, 1u << ONR_ROLE_MANUFACTURER},
        {ONR_MSG_RELOCATION_REQUEST, ONR_AUTH_SIG, 1u << ONR_ROLE_PROVIDER},
        {ONR_MSG_RELOCATE, ONR_AUTH_SIG, 1u << ONR_ROLE_PROVIDER},
        /* renewal: signed with the service key the certificate holds */
        {ONR_MSG_RENEW_REQUEST, ONR_AUTH_SIG, 1u << ONR_ROLE_DEVICE},
        {ONR_MSG_RENEWED, ONR_AUTH_SIG, 1u << ONR_ROLE_DEVICE},
        /* kits: the provider claims, the manufacturer assigns */
        {ONR_MSG_KIT_REGISTRATION, ONR_AUTH_SIG, 1u << ONR_ROLE_PROVIDER},
        {ONR_MSG_KIT_REGISTERED, ONR_AUTH_SIG, 1u << ONR_ROLE_MANUFACTURER},
        {ONR_MSG_KIT_PAIRED, ONR_AUTH_SIG, 1u << ONR_ROLE_PROVIDER},
    };
    enum onr_auth_kind auth;
    unsigned roles;

    (void)state;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        assert_onr(ONR_OK, onr_msg_type_rules(rules[i].type, &auth, &roles));
        assert_int_equal(auth, rules[i].auth);
        assert_int_equal(roles, rules[i].roles);
    }
    assert_string_equal(onr_role_name(ONR_ROLE_OPERATOR), "operator");
    assert_null(onr_role_name(9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_every_type_round_trips),
        cmocka_unit_test(test_msg_every_type_has_a_sample),
        cmocka_unit_test(test_msg_decoded_fields_point_into_input),
        cmocka_unit_test(test_msg_optional_field_may_be_absent),
        cmocka_unit_test(test_msg_rejects_duplicate_key),
        cmocka_unit_test(test_msg_rejects_unknown_key),
        cmocka_unit_test(test_msg_rejects_missing_required),
        cmocka_unit_test(test_msg_rejects_wrong_types),
        cmocka_unit_test(test_msg_rejects_negative_integer),
        cmocka_unit_test(test_msg_rejects_lengths_out_of_bounds),
        cmocka_unit_test(test_msg_rejects_values_out_of_range),
        cmocka_unit_test(test_msg_rejects_bad_characters),
        cmocka_unit_test(test_msg_rejects_inconsistent_attach_response),
        cmocka_unit_test(test_msg_profile_carries_a_whole_challenge_or_none),
        cmocka_unit_test(test_msg_rejects_unknown_type),
        cmocka_unit_test(test_msg_body_rejects_nesting),
        cmocka_unit_test(test_msg_encode_refuses_what_decode_would),
        cmocka_unit_test(test_msg_fields_can_be_listed_by_name),
        cmocka_unit_test(test_msg_type_rules_match_design),
        cmocka_unit_test(test_msg_plmn_fields_take_five_or_six_digits),
        cmocka_unit_test(test_msg_reasons_are_section_15s_words),
        cmocka_unit_test(test_msg_optional_uints_read_absent_as_zero),
        cmocka_unit_test(test_msg_registration_policy_and_keys_agree),
        cmocka_unit_test(test_msg_roaming_types_names_and_bounds),
        cmocka_unit_test(test_msg_service_ids_are_checked_in_one_place),
        cmocka_unit_test(test_msg_life_types_names_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
