#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static struct onr_config *parse(const char *text)
{
    struct onr_config *cfg = NULL;
    struct onr_config_error err;

    assert_onr(ONR_OK, onr_config_parse(text, strlen(text), "/etc/onramp", &cfg, &err));
    return cfg;
}

static void test_config_reads_keys_values_and_lists(void **state)
{
    struct onr_config *cfg = parse("# a comment\n"
                                   "id acme\n"
                                   "\n"
                                   "   broker   127.0.0.1 8884   \n"
                                   "provider prov-1 providers/prov-1.pub\n"
                                   "provider prov-2 /abs/prov-2.pub\r\n"
                                   "id acme-2\n");

    (void)state;
    assert_string_equal(onr_config_get(cfg, "id"), "acme-2"); /* the last wins */
    assert_string_equal(onr_config_get(cfg, "broker"), "127.0.0.1 8884");
    assert_int_equal(onr_config_count(cfg, "provider"), 2);
    assert_string_equal(onr_config_at(cfg, "provider", 0), "prov-1 providers/prov-1.pub");
    assert_string_equal(onr_config_at(cfg, "provider", 1), "prov-2 /abs/prov-2.pub");
    assert_null(onr_config_at(cfg, "provider", 2));
    assert_null(onr_config_get(cfg, "missing"));
    onr_config_free(cfg);
}

static void test_config_refuses_malformed_lines_with_their_number(void **state)
{
    static const struct {
        const char *text;
        size_t line;
    } bad[] = {
        {"id acme\nBroker x\n", 2},           /* uppercase key */
        {"id acme\nlonely\n", 2},             /* no value */
        {"a-b c\n", 1},                       /* dash in key */
        {"id ac\x01me\n", 1},                 /* control character */
    };
    struct onr_config *cfg = NULL;
    struct onr_config_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_onr(ONR_EFORMAT, onr_config_parse(bad[i].text, strlen(bad[i].text), NULL, &cfg,
                                                 &err));
        assert_null(cfg);
        assert_int_equal(err.line, bad[i].line);
        assert_true(strlen(err.reason) > 0);
    }
    assert_onr(ONR_EFORMAT, onr_config_parse("id a\0b\n", 7, NULL, &cfg, &err));
}

static void test_config_refuses_oversized_input(void **state)
{
    size_t big = ONR_CONFIG_LINE_MAX + 10;
    char *text = malloc(big + 1);
    struct onr_config *cfg = NULL;
    struct onr_config_error err;

    (void)state;
    assert_non_null(text);
    memset(text, 'a', big);
    text[0] = 'k';
    text[1] = ' ';
    text[big] = '\0';
    assert_onr(ONR_EFORMAT, onr_config_parse(text, big, NULL, &cfg, &err));
    assert_int_equal(err.line, 1);
    assert_onr(ONR_ETOOBIG, onr_config_parse(text, ONR_CONFIG_MAX + 1, NULL, &cfg, &err));
    free(text);
}

static void test_config_numbers_have_bounds(void **state)
{
    struct onr_config *cfg = parse("a 42\nb -1\nc 12x\nd 99999999999999999999999\n");
    uint64_t v = 0;

    (void)state;
    assert_onr(ONR_OK, onr_config_get_uint(cfg, "a", 0, 1, 100, &v));
    assert_int_equal(v, 42);
    assert_onr(ONR_ERANGE, onr_config_get_uint(cfg, "a", 0, 50, 100, &v));
    assert_onr(ONR_EFORMAT, onr_config_get_uint(cfg, "b", 0, 0, 100, &v));
    assert_onr(ONR_EFORMAT, onr_config_get_uint(cfg, "c", 0, 0, 100, &v));
    assert_onr(ONR_ERANGE, onr_config_get_uint(cfg, "d", 0, 0, UINT64_MAX, &v));
    assert_onr(ONR_OK, onr_config_get_uint(cfg, "absent", 7, 0, 100, &v));
    assert_int_equal(v, 7);
    onr_config_free(cfg);
}

static void test_config_override_replaces_every_value(void **state)
{
    struct onr_config *cfg = parse("log_level info\nlog_level debug\nid x\n");

    (void)state;
    assert_onr(ONR_OK, onr_config_set(cfg, "log_level", "warning"));
    assert_int_equal(onr_config_count(cfg, "log_level"), 1);
    assert_string_equal(onr_config_get(cfg, "log_level"), "warning");
    assert_string_equal(onr_config_get(cfg, "id"), "x");
    assert_onr(ONR_EINVAL, onr_config_set(cfg, "Bad", "x"));
    assert_onr(ONR_EINVAL, onr_config_set(cfg, "ok", "a\nb"));
    onr_config_free(cfg);
}

static void test_config_paths_and_fields(void **state)
{
    struct onr_config *cfg = parse("provider prov-1   keys/p1.pub\n");
    char path[256];
    char buf[64];
    const char *fields[4];
    size_t n = 0;

    (void)state;
    assert_onr(ONR_OK, onr_config_split(onr_config_get(cfg, "provider"), buf, sizeof(buf),
                                        fields, 4, &n));
    assert_int_equal(n, 2);
    assert_string_equal(fields[0], "prov-1");
    assert_string_equal(fields[1], "keys/p1.pub");
    assert_onr(ONR_OK, onr_config_path(cfg, fields[1], path, sizeof(path)));
    assert_string_equal(path, "/etc/onramp/keys/p1.pub");
    assert_onr(ONR_OK, onr_config_path(cfg, "/abs/x", path, sizeof(path)));
    assert_string_equal(path, "/abs/x");
    assert_onr(ONR_ESPACE, onr_config_path(cfg, fields[1], path, 8));
    assert_onr(ONR_ERANGE, onr_config_split("a b c", buf, sizeof(buf), fields, 2, &n));
    onr_config_free(cfg);
}

static void test_config_catches_unknown_keys(void **state)
{
    static const char *const known[] = {"id", "broker"};
    struct onr_config *cfg = parse("id x\nbrokr y\n");
    const char *stray = NULL;

    (void)state;
    assert_onr(ONR_EFORMAT, onr_config_check_keys(cfg, known, 2, &stray));
    assert_string_equal(stray, "brokr");
    onr_config_free(cfg);
}

static void test_config_load_resolves_relative_to_the_file(void **state)
{
    char path[4096];
    char resolved[4096];
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    FILE *f;

    snprintf(path, sizeof(path), "%s/svc.conf", (const char *)*state);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("key keys/k.pem\n", f);
    fclose(f);
    assert_onr(ONR_OK, onr_config_load(path, &cfg, &err));
    assert_onr(ONR_OK, onr_config_path(cfg, onr_config_get(cfg, "key"), resolved,
                                       sizeof(resolved)));
    snprintf(path, sizeof(path), "%s/keys/k.pem", (const char *)*state);
    assert_string_equal(resolved, path);
    onr_config_free(cfg);
    snprintf(path, sizeof(path), "%s/none.conf", (const char *)*state);
    assert_onr(ONR_ENOENT, onr_config_load(path, &cfg, &err));
}

/* Found by fuzz_config (tests/fuzz/regressions/config/): the text is `len`
 * bytes, not a C string; values were copied with strndup, which takes a
 * string (the sanitizer run's strict_string_checks reads past the end). */
static void test_config_text_need_not_be_terminated(void **state)
{
    static const char text[] = "id acme\nbroker host 8883";
    char *exact = malloc(sizeof(text) - 1);
    struct onr_config *cfg = NULL;

    (void)state;
    assert_non_null(exact);
    memcpy(exact, text, sizeof(text) - 1); /* no NUL anywhere */
    assert_onr(ONR_OK, onr_config_parse(exact, sizeof(text) - 1, NULL, &cfg, NULL));
    assert_string_equal(onr_config_get(cfg, "id"), "acme");
    assert_string_equal(onr_config_get(cfg, "broker"), "host 8883");
    onr_config_free(cfg);
    free(exact);
}

/* The pairing page's public origin behind a proxy: only what a browser
 * sends as Origin, so that a comparison with it means the same site. */
static void test_config_origin_is_scheme_host_and_port_only(void **state)
{
    char long_host[ONR_ORIGIN_MAX + 2];

    (void)state;
    assert_true(onr_config_origin("https://pair.example.net"));
    assert_true(onr_config_origin("http://127.0.0.1:8080"));
    assert_true(onr_config_origin("https://[2001:db8::1]:8443"));
    assert_false(onr_config_origin("pair.example.net"));
    assert_false(onr_config_origin("https://"));
    assert_false(onr_config_origin("https://pair.example.net/"));
    assert_false(onr_config_origin("https://pair.example.net/pair"));
    assert_false(onr_config_origin("https://user@pair.example.net"));
    assert_false(onr_config_origin("ftp://pair.example.net"));
    assert_false(onr_config_origin("https://pair example.net"));
    assert_false(onr_config_origin("null"));
    memcpy(long_host, "https://", 8);
    memset(long_host + 8, 'a', sizeof(long_host) - 9);
    long_host[sizeof(long_host) - 1] = '\0'; /* one byte past ONR_ORIGIN_MAX */
    assert_false(onr_config_origin(long_host));
    long_host[sizeof(long_host) - 2] = '\0';
    assert_true(onr_config_origin(long_host));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_reads_keys_values_and_lists),
        T(test_config_refuses_malformed_lines_with_their_number),
        T(test_config_refuses_oversized_input),
        T(test_config_numbers_have_bounds),
        T(test_config_override_replaces_every_value),
        T(test_config_paths_and_fields),
        T(test_config_catches_unknown_keys),
        T(test_config_load_resolves_relative_to_the_file),
        T(test_config_text_need_not_be_terminated),
        T(test_config_origin_is_scheme_host_and_port_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
