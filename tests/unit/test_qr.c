#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "qr.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

#define LABEL "ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:ABCDEFGHIJKLMNOPQRST:PW7U"

/* What an independent decoder (zbarimg, from Debian's zbar-tools) reads. */
static void decode_png(const char *path, char *out, size_t cap)
{
    char cmd[4096];
    FILE *p;
    size_t n;

    snprintf(cmd, sizeof(cmd), "zbarimg --raw -q '%s' 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
}

static void test_qr_png_decodes_back_to_the_label(void **state)
{
    char path[4096];
    char text[256];

    snprintf(path, sizeof(path), "%s/label.png", (const char *)*state);
    assert_onr(ONR_OK, onr_qr_write_png(LABEL, path, 4));
    decode_png(path, text, sizeof(text));
    assert_string_equal(text, LABEL);
}

static void test_qr_png_at_scale_one_decodes_too(void **state)
{
    char path[4096];
    char text[256];

    snprintf(path, sizeof(path), "%s/small.png", (const char *)*state);
    assert_onr(ONR_OK, onr_qr_write_png("onr/1 lowercase too", path, 3));
    decode_png(path, text, sizeof(text));
    assert_string_equal(text, "onr/1 lowercase too");
}

static void test_qr_terminal_rendering_is_square_with_quiet_zone(void **state)
{
    char path[4096];
    char *buf = NULL;
    size_t size = 0;
    FILE *f;
    size_t lines = 0;
    size_t first_len = 0;

    snprintf(path, sizeof(path), "%s/term.txt", (const char *)*state);
    f = fopen(path, "w+");
    assert_non_null(f);
    assert_onr(ONR_OK, onr_qr_print(LABEL, f));
    rewind(f);
    while (getline(&buf, &size, f) > 0) {
        size_t len = 0;

        /* characters, not bytes: the blocks are 3 bytes of UTF-8 */
        for (const char *c = buf; *c != '\0'; c++)
            if (((unsigned char)*c & 0xc0) != 0x80)
                len++;

        if (lines == 0)
            first_len = len;
        assert_int_equal(len, first_len); /* every row as wide */
        /* the first row is all quiet zone: light (full blocks) */
        if (lines == 0)
            assert_null(strchr(buf, ' '));
        lines++;
    }
    fclose(f);
    free(buf);
    /* rows of two modules: (width + 8) / 2 rounded up, width 4k+17 */
    assert_true(lines >= 13 && lines <= 95);
}

static void test_qr_rejects_bad_arguments(void **state)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/x.png", (const char *)*state);
    assert_onr(ONR_EINVAL, onr_qr_write_png(NULL, path, 4));
    assert_onr(ONR_EINVAL, onr_qr_write_png(LABEL, path, 0));
    assert_onr(ONR_EINVAL, onr_qr_write_png(LABEL, path, 33));
    assert_onr(ONR_EINVAL, onr_qr_print(NULL, stdout));
    snprintf(path, sizeof(path), "%s/missing/x.png", (const char *)*state);
    assert_onr(ONR_EIO, onr_qr_write_png(LABEL, path, 4));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_qr_png_decodes_back_to_the_label),
        T(test_qr_png_at_scale_one_decodes_too),
        T(test_qr_terminal_rendering_is_square_with_quiet_zone),
        T(test_qr_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
