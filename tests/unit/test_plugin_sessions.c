/* The plugin's sessions file (broker-plugins/src/sessions.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/x509.h"
#include "sessions.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

/* Stand-ins for certificates: the file does not judge them (the plugin
 * does, at start). */
static const uint8_t CERT_A[] = {0x30, 0x82, 0x01, 0x0a, 0xaa};
static const uint8_t CERT_B[] = {0x30, 0x82, 0x01, 0x0a, 0xbb, 0xcc};

static const char *file_path(void **state)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/sessions", (const char *)*state);
    return path;
}

static char *file_text(void **state)
{
    FILE *f = fopen(file_path(state), "r");
    char *text = calloc(1, 1 << 16);
    size_t n;

    assert_non_null(f);
    assert_non_null(text);
    n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void write_file(void **state, const char *text)
{
    FILE *f = fopen(file_path(state), "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* keep: every session whose client id does not start with "drop" */
static bool keep_unless_drop(const char *client_id, const uint8_t *der, size_t der_len,
                             void *arg)
{
    size_t *seen = arg;

    (void)der;
    assert_true(der_len > 0);
    (*seen)++;
    return strncmp(client_id, "drop", 4) != 0;
}

static void test_sessions_are_recorded_once_and_survive_reopen(void **state)
{
    struct sessions *s = NULL;
    size_t skipped = 0;
    struct stat st;
    char *text;

    assert_onr(ONR_OK, sessions_open(file_path(state), NULL, NULL, &s));
    assert_int_equal(sessions_count(s), 0);
    assert_int_equal(access(file_path(state), F_OK), -1); /* created at the first change */
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 1);
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 0); /* no news */
    assert_int_equal(sessions_put(s, "monitor.noc", CERT_B, sizeof(CERT_B)), 1);
    sessions_close(s);
    assert_int_equal(stat(file_path(state), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = file_text(state);
    assert_non_null(strstr(text, "op.op-1 3082010aaa\n"));
    assert_non_null(strstr(text, "monitor.noc 3082010abbcc\n"));
    assert_int_equal(strlen(text), strlen("op.op-1 3082010aaa\nmonitor.noc 3082010abbcc\n"));
    free(text);

    assert_onr(ONR_OK, sessions_open(file_path(state), onr_test_count_line, &skipped, &s));
    assert_int_equal(skipped, 0);
    assert_int_equal(sessions_count(s), 2);
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 0);
    sessions_close(s);
}

static void test_a_new_certificate_replaces_the_record_and_remove_forgets(void **state)
{
    struct sessions *s = NULL;
    char *text;

    assert_onr(ONR_OK, sessions_open(file_path(state), NULL, NULL, &s));
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 1);
    assert_int_equal(sessions_put(s, "op.op-1", CERT_B, sizeof(CERT_B)), 1);
    assert_int_equal(sessions_count(s), 1);
    text = file_text(state);
    assert_string_equal(text, "op.op-1 3082010abbcc\n");
    free(text);
    assert_int_equal(sessions_remove(s, "op.op-1"), 1);
    assert_int_equal(sessions_remove(s, "op.op-1"), 0);
    assert_int_equal(sessions_remove(s, "never.seen"), 0);
    assert_int_equal(sessions_count(s), 0);
    text = file_text(state);
    assert_string_equal(text, "");
    free(text);
    sessions_close(s);
}

static void test_filter_drops_what_the_judge_refuses_and_rewrites(void **state)
{
    struct sessions *s = NULL;
    size_t seen = 0;
    char *text;

    write_file(state, "op.op-1 3082010aaa\ndrop.me 3082010abbcc\n");
    assert_onr(ONR_OK, sessions_open(file_path(state), NULL, NULL, &s));
    assert_onr(ONR_OK, sessions_filter(s, keep_unless_drop, &seen));
    assert_int_equal(seen, 2);
    assert_int_equal(sessions_count(s), 1);
    sessions_close(s);
    text = file_text(state);
    assert_string_equal(text, "op.op-1 3082010aaa\n");
    free(text);
}

static void test_malformed_lines_are_skipped(void **state)
{
    struct sessions *s = NULL;
    size_t skipped = 0;

    write_file(state, "op.op-1 3082010aaa\n"
                      "no-certificate\n"
                      "Op.Op-1 3082010aaa\n"          /* not a service client id */
                      "op.op-2 3082010AAA\n"          /* uppercase hex */
                      "op.op-3 3082010aa\n"           /* odd */
                      "op.op-4 \n"                    /* empty */
                      "op.op-1 3082010abb\n"          /* the same id twice */
                      "x 30 82\n"                     /* a space in the hex */
                      "op.op-5 3082010aaa");          /* torn last line */
    assert_onr(ONR_OK, sessions_open(file_path(state), onr_test_count_line, &skipped, &s));
    assert_int_equal(skipped, 8);
    assert_int_equal(sessions_count(s), 1);
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 0);
    sessions_close(s);
}

static void test_bad_arguments_and_limits(void **state)
{
    struct sessions *s = NULL;
    uint8_t big[ONR_X509_MAX_DER + 1];
    char id[SESSIONS_ID_MAX + 2];

    memset(big, 0x42, sizeof(big));
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_onr(ONR_EINVAL, sessions_open("", NULL, NULL, &s));
    assert_onr(ONR_OK, sessions_open(file_path(state), NULL, NULL, &s));
    assert_onr(ONR_EINVAL, sessions_put(s, "", CERT_A, sizeof(CERT_A)));
    assert_onr(ONR_EINVAL, sessions_put(s, "op op-1", CERT_A, sizeof(CERT_A)));
    assert_onr(ONR_EINVAL, sessions_put(s, "op.op-1\n", CERT_A, sizeof(CERT_A)));
    assert_onr(ONR_EINVAL, sessions_put(s, id, CERT_A, sizeof(CERT_A)));
    assert_onr(ONR_EINVAL, sessions_put(s, "op.op-1", CERT_A, 0));
    assert_onr(ONR_EINVAL, sessions_put(s, "op.op-1", big, sizeof(big)));
    assert_int_equal(sessions_put(s, "op.op-1", big, ONR_X509_MAX_DER), 1);
    for (int i = 1; i < SESSIONS_MAX; i++) {
        snprintf(id, sizeof(id), "op.op-%d", i + 1);
        assert_int_equal(sessions_put(s, id, CERT_A, sizeof(CERT_A)), 1);
    }
    assert_onr(ONR_EEXHAUSTED, sessions_put(s, "op.one-more", CERT_A, sizeof(CERT_A)));
    assert_int_equal(sessions_count(s), SESSIONS_MAX);
    sessions_close(s);
    assert_onr(ONR_OK, sessions_open(file_path(state), NULL, NULL, &s));
    assert_int_equal(sessions_count(s), SESSIONS_MAX);
    sessions_close(s);
}

/* A write that fails changes nothing in memory: the next admission tries
 * again. */
static void test_a_failed_write_changes_nothing(void **state)
{
    struct sessions *s = NULL;
    char dir[4096];
    char path[4200];

    snprintf(dir, sizeof(dir), "%s/gone", (const char *)*state);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/sessions", dir);
    assert_onr(ONR_OK, sessions_open(path, NULL, NULL, &s));
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_onr(ONR_EIO, sessions_put(s, "op.op-1", CERT_B, sizeof(CERT_B)));
    assert_onr(ONR_EIO, sessions_put(s, "op.op-2", CERT_B, sizeof(CERT_B)));
    assert_onr(ONR_EIO, sessions_remove(s, "op.op-1"));
    assert_int_equal(sessions_count(s), 1);
    assert_int_equal(sessions_put(s, "op.op-1", CERT_A, sizeof(CERT_A)), 0);
    sessions_close(s);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sessions_are_recorded_once_and_survive_reopen),
        T(test_a_new_certificate_replaces_the_record_and_remove_forgets),
        T(test_filter_drops_what_the_judge_refuses_and_rewrites),
        T(test_malformed_lines_are_skipped),
        T(test_bad_arguments_and_limits),
        T(test_a_failed_write_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
