/*
 * proto/SPEC.md is normative; this test keeps it true. It reads the file and
 * checks its worked example (decoded and verified by our code, although it
 * was produced without it), its message tables against the codec's field
 * tables, and its error table against <onramp/error.h>.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_internal.h"
#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/hash.h"
#include "onramp/label.h"
#include "onramp/ndef.h"
#include "schema.h"

static char *spec;

static int load_spec(void **state)
{
    FILE *f = fopen(ONR_SPEC_PATH, "rb");
    long size;

    (void)state;
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    spec = malloc((size_t)size + 1);
    if (spec == NULL || fread(spec, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return -1;
    }
    spec[size] = '\0';
    fclose(f);
    return 0;
}

static int free_spec(void **state)
{
    (void)state;
    free(spec);
    return 0;
}

/* The bytes of a fenced block ```<label>: the first token of each line is
 * hex, the rest of the line a comment. */
static size_t fenced_hex(const char *label, uint8_t *out, size_t cap)
{
    char fence[64];
    const char *p;
    const char *end;
    size_t n = 0;

    snprintf(fence, sizeof(fence), "```%s\n", label);
    p = strstr(spec, fence);
    assert_non_null(p);
    p += strlen(fence);
    end = strstr(p, "```");
    assert_non_null(end);
    while (p < end) {
        const char *eol = strchr(p, '\n');
        size_t tok = strcspn(p, " \n");
        char hex[256];

        assert_true(tok < sizeof(hex));
        memcpy(hex, p, tok);
        hex[tok] = '\0';
        n += onr_test_hex(hex, out + n, cap - n);
        p = eol + 1;
    }
    return n;
}

/* The text between the backticks following `prefix`. */
static void backticked_after(const char *prefix, char *out, size_t cap)
{
    const char *p = strstr(spec, prefix);
    const char *end;

    assert_non_null(p);
    p = strchr(p + strlen(prefix), '`');
    assert_non_null(p);
    p++;
    end = strchr(p, '`');
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

static void test_spec_worked_example_decodes_and_verifies(void **state)
{
    uint8_t pub[65];
    uint8_t env_bytes[1024];
    char topic[256];
    char devid[ONR_DEVID_LEN + 1];
    char expected_devid[64];
    char expected_hash_hex[80];
    uint8_t expected_hash[32];
    uint8_t hash[32];
    uint8_t topic_len[2];
    struct onr_envelope env;
    size_t len;

    (void)state;
    assert_int_equal(fenced_hex("key", pub, sizeof(pub)), 65);
    len = fenced_hex("envelope", env_bytes, sizeof(env_bytes));
    backticked_after("Topic:", topic, sizeof(topic));
    backticked_after("Device id:", expected_devid, sizeof(expected_devid));

    assert_onr(ONR_OK, onr_devid_from_public(pub, devid));
    assert_string_equal(devid, expected_devid);

    assert_onr(ONR_OK, onr_envelope_decode(env_bytes, len, &env));
    assert_int_equal(env.msg.type, ONR_MSG_HELLO);
    assert_int_equal(env.timestamp, 1900000000u);
    assert_int_equal(env.sender_role, ONR_ROLE_DEVICE);
    assert_memory_equal(env.sender.ptr, devid, ONR_DEVID_LEN);
    assert_int_equal(env.id[15], 0x0f);
    assert_int_equal(env.msg.body.hello.nonce.ptr[0], 0x10);
    assert_null(env.msg.body.hello.cert.ptr);
    assert_onr(ONR_OK, onr_envelope_verify_sig(&env, (struct onr_bytes){(const uint8_t *)topic,
                                                                        strlen(topic)},
                                               pub));

    /* the signature input's hash as the SPEC states it */
    {
        const char ctx[] = "onramp/1 envelope";
        const struct onr_bytes parts[] = {
            {(const uint8_t *)ctx, sizeof(ctx)},
            {topic_len, 2},
            {(const uint8_t *)topic, strlen(topic)},
            env.authed,
        };
        const char *p = strstr(spec, "its SHA-256 is");

        assert_non_null(p);
        topic_len[0] = (uint8_t)(strlen(topic) >> 8);
        topic_len[1] = (uint8_t)strlen(topic);
        assert_onr(ONR_OK, onr_sha256(parts, 4, hash));
        backticked_after("its SHA-256 is", expected_hash_hex, sizeof(expected_hash_hex));
        onr_test_hex(expected_hash_hex, expected_hash, sizeof(expected_hash));
        assert_memory_equal(hash, expected_hash, 32);
    }
}

static enum onr_field_kind kind_named(const char *name)
{
    static const struct {
        const char *name;
        enum onr_field_kind kind;
    } kinds[] = {
        {"bin", ONR_FIELD_BIN},       {"uint", ONR_FIELD_UINT},
        {"id", ONR_FIELD_ID},         {"devid", ONR_FIELD_DEVID},
        {"digits", ONR_FIELD_DIGITS}, {"printable", ONR_FIELD_PRINTABLE},
        {"text", ONR_FIELD_TEXT},
    };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return kinds[i].kind;
    fail_msg("unknown field type '%s' in SPEC.md", name);
    return 0;
}

static void test_spec_message_tables_match_the_codec(void **state)
{
    const char *p = spec;
    int types_seen = 0;

    (void)state;
    while ((p = strstr(p, "\n#### ")) != NULL) {
        int type = 0;
        char name[64];
        const struct onr_field *fields = NULL;
        size_t n = 0;
        size_t row = 0;

        assert_int_equal(sscanf(p, "\n#### %d %63s", &type, name), 2);
        assert_onr(ONR_OK, onr_msg_fields(type, &fields, &n));
        assert_string_equal(onr_msg_type_name(type), name);
        p = strstr(p, "| --- | --- | --- | --- |\n");
        assert_non_null(p);
        p += strlen("| --- | --- | --- | --- |\n");
        while (strncmp(p, "| `", 3) == 0) {
            char key[64];
            char kind[32];
            char req[8];
            unsigned long long lo = 0;
            unsigned long long hi = 0;
            int got = sscanf(p, "| `%63[^`]` | %31s | %7s | %llu..%llu |", key, kind, req,
                             &lo, &hi);

            assert_true(got >= 4);
            if (got == 4)
                hi = lo;
            assert_true(row < n);
            assert_string_equal(key, fields[row].key);
            assert_int_equal(kind_named(kind), fields[row].kind);
            assert_int_equal(strcmp(req, "yes") == 0, fields[row].required);
            assert_int_equal(lo, fields[row].min);
            assert_int_equal(hi, fields[row].max);
            row++;
            p = strchr(p, '\n') + 1;
        }
        assert_int_equal(row, n);
        types_seen++;
    }
    /* every type in the code is in the SPEC */
    {
        int in_code = 0;

        for (int t = 1; t <= 200; t++)
            if (onr_msg_type_name(t) != NULL)
                in_code++;
        assert_int_equal(types_seen, in_code);
    }
}

static void test_spec_error_table_matches_error_h(void **state)
{
    const char *p = strstr(spec, "| code | name | meaning |");
    int rows = 0;
    int in_code = 0;

    (void)state;
    assert_non_null(p);
    p = strchr(p, '\n') + 1;
    p = strchr(p, '\n') + 1;
    while (strncmp(p, "| ", 2) == 0) {
        int code = 0;
        char name[64];
        char msg[128];

        assert_int_equal(sscanf(p, "| %d | `ONR_%63[A-Z]` | %127[^|]|", &code, name, msg), 3);
        msg[strlen(msg) - 1] = '\0'; /* the space before the closing bar */
        assert_string_equal(onr_error_name(-code), name);
        assert_string_equal(onr_strerror(-code), msg);
        rows++;
        p = strchr(p, '\n') + 1;
    }
    for (int c = 1; c < 1000; c++)
        if (strcmp(onr_error_name(-c), "UNKNOWN") != 0)
            in_code++;
    assert_int_equal(rows, in_code);
}

/* Section 12's NFC tag: the example label's NDEF message. */
static void test_spec_ndef_example_is_the_label(void **state)
{
    uint8_t msg[256];
    uint8_t ours[ONR_NDEF_ENCODED_MAX];
    char label[ONR_LABEL_MAX + 1];
    struct onr_ndef_text t;
    size_t len, ours_len = 0;

    (void)state;
    len = fenced_hex("ndef", msg, sizeof(msg));
    assert_int_equal(len, 75);
    assert_onr(ONR_OK, onr_ndef_text_decode(msg, len, &t));
    assert_string_equal(t.lang, "en");
    /* the example label, indented on its own line */
    {
        const char *p = strstr(spec, "\n    ONR1:ACME:");

        assert_non_null(p);
        p += 5;
        assert_true(strcspn(p, "\n") < sizeof(label));
        memcpy(label, p, strcspn(p, "\n"));
        label[strcspn(p, "\n")] = '\0';
    }
    assert_int_equal(t.text.len, strlen(label));
    assert_memory_equal(t.text.ptr, label, t.text.len);
    assert_onr(ONR_OK, onr_ndef_text_encode(label, strlen(label), ours, sizeof(ours), &ours_len));
    assert_int_equal(ours_len, len);
    assert_memory_equal(ours, msg, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_worked_example_decodes_and_verifies),
        cmocka_unit_test(test_spec_ndef_example_is_the_label),
        cmocka_unit_test(test_spec_message_tables_match_the_codec),
        cmocka_unit_test(test_spec_error_table_matches_error_h),
    };
    return cmocka_run_group_tests(tests, load_spec, free_spec);
}
