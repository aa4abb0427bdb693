#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/svc_log.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static char *read_all(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_log_writes_levelled_key_value_lines(void **state)
{
    char path[4096];
    int fd;
    char *text;

    snprintf(path, sizeof(path), "%s/log", (const char *)*state);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    onr_log_init("manufacturer", ONR_LOG_NOTICE, fd);
    onr_log(ONR_LOG_NOTICE, "voucher dev=%s", "abc");
    onr_log(ONR_LOG_INFO, "not written");
    onr_log(ONR_LOG_ERROR, "db failed reason=%s", "disk");
    close(fd);
    text = read_all(path);
    assert_non_null(strstr(text, "Z notice manufacturer: voucher dev=abc\n"));
    assert_non_null(strstr(text, "Z error manufacturer: db failed reason=disk\n"));
    assert_null(strstr(text, "not written"));
    assert_true(text[4] == '-' && text[10] == 'T'); /* ISO 8601 UTC */
    assert_true(onr_log_enabled(ONR_LOG_WARNING));
    assert_false(onr_log_enabled(ONR_LOG_DEBUG));
    onr_log_init("onramp", ONR_LOG_NOTICE, 2);
}

static void test_log_levels_parse(void **state)
{
    enum onr_log_level level;

    (void)state;
    assert_onr(ONR_OK, onr_log_level_parse("debug", &level));
    assert_int_equal(level, ONR_LOG_DEBUG);
    assert_onr(ONR_OK, onr_log_level_parse("warning", &level));
    assert_int_equal(level, ONR_LOG_WARNING);
    assert_onr(ONR_EINVAL, onr_log_level_parse("verbose", &level));
    assert_onr(ONR_EINVAL, onr_log_level_parse(NULL, &level));
}

static void test_log_hex(void **state)
{
    const uint8_t id[4] = {0xde, 0xad, 0x00, 0x01};
    char out[32];

    (void)state;
    assert_string_equal(onr_log_hex(id, 4, out, sizeof(out)), "dead0001");
    onr_log_hex(id, 4, out, 8); /* what fits in 8 bytes with the NUL */
    assert_string_equal(out, "dead...");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_log_writes_levelled_key_value_lines),
        T(test_log_levels_parse),
        T(test_log_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
