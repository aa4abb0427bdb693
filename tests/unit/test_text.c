/* onr_text_escape (<onramp/text.h>): the one escaping of untrusted text
 * for every log line, against hostile input. */
#include "testutil.h"

#include <string.h>

#include "onramp/hex.h"
#include "onramp/text.h"

static const char *esc(const char *s, size_t len, char *out, size_t cap)
{
    return onr_text_escape(s, len, out, cap);
}

#define ESC(literal, out) esc(literal, sizeof(literal) - 1, out, sizeof(out))

static void test_escape_keeps_plain_text(void **state)
{
    char out[128];

    (void)state;
    assert_string_equal(ESC("onr/1/d/abc/up/op/op-1", out), "onr/1/d/abc/up/op/op-1");
    assert_string_equal(ESC("op.op-1.x_2", out), "op.op-1.x_2");
    assert_string_equal(ESC("$CONTROL/onramp/v1#+", out), "$CONTROL/onramp/v1#+");
    assert_string_equal(ESC("", out), "");
}

static void test_escape_cannot_forge_a_field_or_a_line(void **state)
{
    char out[256];

    (void)state;
    /* a space and '=' would start a field of the attacker's choosing */
    assert_string_equal(ESC("x reason=ok", out), "x\\x20reason\\x3dok");
    assert_string_equal(ESC("a=b", out), "a\\x3db");
    /* a newline would start a forged line, a CR overwrite one */
    assert_string_equal(ESC("t\nonramp: grant device=x", out),
                        "t\\x0aonramp:\\x20grant\\x20device\\x3dx");
    assert_string_equal(ESC("t\r", out), "t\\x0d");
    /* quotes would end a quoted field; a backslash fake an escape */
    assert_string_equal(ESC("\"x\" y=\"z\"", out), "\\x22x\\x22\\x20y\\x3d\\x22z\\x22");
    assert_string_equal(ESC("\\x41", out), "\\x5cx41");
    assert_string_equal(ESC("tab\there", out), "tab\\x09here");
    /* terminal escapes, DEL */
    assert_string_equal(ESC("\x1b[31mred\x7f", out), "\\x1b[31mred\\x7f");
}

static void test_escape_handles_nul_and_non_ascii_bytes(void **state)
{
    char out[64];

    (void)state;
    assert_string_equal(ESC("a\0b", out), "a\\x00b");
    assert_string_equal(ESC("\xff\xfe", out), "\\xff\\xfe");
    /* UTF-8 is bytes like any other: a right-to-left override cannot
     * reorder the line */
    assert_string_equal(ESC("\xe2\x80\xae" "abc", out), "\\xe2\\x80\\xaeabc");
    assert_string_equal(onr_text_escape(NULL, 5, out, sizeof(out)), "");
}

static void test_escape_is_bounded_and_marks_truncation(void **state)
{
    char out[64];
    char big[16];

    (void)state;
    /* fits exactly: 10 bytes and the NUL */
    assert_string_equal(esc("0123456789", 10, out, 11), "0123456789");
    /* one byte short: cut, and marked */
    assert_string_equal(esc("0123456789", 10, out, 10), "01234\\...");
    assert_int_equal(strlen(out), 9);
    /* an escape is never cut in half */
    assert_string_equal(esc("ab\n\n", 4, out, 10), "ab\\...");
    assert_string_equal(esc("ab\n", 3, out, 7), "ab\\x0a");
    /* input that looks like the mark is escaped, never a mark */
    assert_string_equal(ESC("\\...", out), "\\x5c...");
    /* too small for the mark: nothing rather than a cut without one */
    assert_string_equal(esc("0123456789", 10, out, 4), "");
    assert_string_equal(esc("abc", 3, out, 4), "abc");
    /* cap 0 and NULL out write nothing */
    memset(big, 'Z', sizeof(big));
    assert_string_equal(onr_text_escape("abc", 3, big, 0), "");
    assert_int_equal(big[0], 'Z');
    assert_string_equal(onr_text_escape("abc", 3, NULL, 8), "");
    /* the cap for a whole escape of anything */
    assert_string_equal(esc("\xff\xff\xff", 3, big, ONR_TEXT_ESCAPE_CAP(3)), "\\xff\\xff\\xff");
}

static void test_escape_never_writes_past_cap(void **state)
{
    char out[40];
    uint8_t in[32];

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37);
    for (size_t cap = 1; cap < 30; cap++) {
        memset(out, 'Z', sizeof(out));
        onr_text_escape(in, sizeof(in), out, cap);
        assert_true(strlen(out) < cap);
        for (size_t i = cap; i < sizeof(out); i++)
            assert_int_equal(out[i], 'Z');
        for (size_t i = 0; out[i] != '\0'; i++)
            assert_true(out[i] > 0x20 && out[i] < 0x7f && out[i] != '=' && out[i] != '"');
    }
}

/* Lowercase hex, one spelling (<onramp/hex.h>): the plugin's files, a
 * telemetry's nonce, the device's "reported" file. */
static void test_hex_has_one_spelling(void **state)
{
    static const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    uint8_t back[4];
    char hex[9];

    (void)state;
    onr_hex_encode(bytes, sizeof(bytes), hex);
    assert_string_equal(hex, "000fa0ff");
    assert_int_equal(onr_hex_decode(hex, 8, back, sizeof(back)), 4);
    assert_memory_equal(back, bytes, 4);
    assert_int_equal(onr_hex_decode("000FA0FF", 8, back, sizeof(back)), 0); /* uppercase */
    assert_int_equal(onr_hex_decode("000fa0f", 7, back, sizeof(back)), 0);  /* odd */
    assert_int_equal(onr_hex_decode("000fa0ff00", 10, back, sizeof(back)), 0); /* too long */
    assert_int_equal(onr_hex_decode("000fa0fg", 8, back, sizeof(back)), 0);
    assert_int_equal(onr_hex_decode("", 0, back, sizeof(back)), 0);
    assert_int_equal(onr_hex_decode("00ffXX", 4, back, sizeof(back)), 2); /* the length bounds it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_keeps_plain_text),
        cmocka_unit_test(test_escape_cannot_forge_a_field_or_a_line),
        cmocka_unit_test(test_escape_handles_nul_and_non_ascii_bytes),
        cmocka_unit_test(test_escape_is_bounded_and_marks_truncation),
        cmocka_unit_test(test_escape_never_writes_past_cap),
        cmocka_unit_test(test_hex_has_one_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
