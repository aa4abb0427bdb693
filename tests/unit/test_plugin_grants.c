#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "grants.h"
#include "map.h"
#include "onramp/error.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

#define DEV1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static size_t skipped_lines;

static void count_skip(size_t line, const char *why, void *arg)
{
    (void)line;
    (void)why;
    (void)arg;
    skipped_lines++;
}

static const char *journal(void **state)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/grants", (const char *)*state);
    return path;
}

static void test_grants_survive_reopen(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_null(grants_provider(g, DEV1));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV2, "prov-2", "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-3", "op-2")); /* a later grant wins */
    assert_onr(ONR_OK, grants_revoke(g, DEV2, "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_string_equal(grants_provider(g, DEV1), "prov-3");
    assert_null(grants_provider(g, DEV2));
    assert_int_equal(grants_count(g), 1);
    grants_close(g);
}

static void test_grants_journal_is_compacted_and_private(void **state)
{
    struct grants *g = NULL;
    struct stat st;
    char *text;
    FILE *f;
    long size;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    for (int i = 0; i < 10; i++)
        assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    grants_close(g);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    grants_close(g);
    f = fopen(journal(state), "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    assert_string_equal(text, "grant " DEV1 " prov-1 op-1\n");
    free(text);
    assert_int_equal(stat(journal(state), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_grants_revoke_only_by_granting_operator(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_ENOENT, grants_revoke(g, DEV1, "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_EDENIED, grants_revoke(g, DEV1, "op-2"));
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_onr(ONR_OK, grants_revoke(g, DEV1, "op-1"));
    grants_close(g);
}

static void test_grants_refuse_bad_ids(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_EINVAL, grants_set(g, "short", "prov-1", "op-1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "prov 1", "op-1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "prov-1", "op\n1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "", "op-1"));
    assert_int_equal(grants_count(g), 0);
    grants_close(g);
}

static void test_grants_skip_malformed_lines_and_torn_tail(void **state)
{
    struct grants *g = NULL;
    FILE *f = fopen(journal(state), "w");

    assert_non_null(f);
    fputs("grant " DEV1 " prov-1 op-1\n"
          "nonsense\n"
          "grant short prov-1 op-1\n"
          "grant " DEV2 " prov/2 op-1\n"
          "revoke " DEV1 " op-1 extra\n"
          "grant " DEV2 " prov-2 op-1\n"
          "revoke " DEV2,
          f);
    fclose(f);
    skipped_lines = 0;
    assert_onr(ONR_OK, grants_open(journal(state), count_skip, NULL, &g));
    assert_int_equal(skipped_lines, 5);
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_string_equal(grants_provider(g, DEV2), "prov-2");
    grants_close(g);
}

static void test_grants_open_fails_cleanly_on_unwritable_path(void **state)
{
    struct grants *g = NULL;
    char path[4096];

    snprintf(path, sizeof(path), "%s/missing-dir/grants", (const char *)*state);
    assert_onr(ONR_EIO, grants_open(path, NULL, NULL, &g));
    assert_null(g);
    assert_onr(ONR_EINVAL, grants_open("", NULL, NULL, &g));
}

static void test_map_put_get_remove_many(void **state)
{
    struct map *m = map_new();
    static int values[5000];
    char key[16];

    (void)state;
    assert_non_null(m);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(map_put(m, key, strlen(key), &values[i], NULL), 0);
    }
    assert_int_equal(map_count(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_ptr_equal(map_remove(m, key, strlen(key)), &values[i]);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (i % 2 == 0)
            assert_null(map_get(m, key, strlen(key)));
        else
            assert_ptr_equal(map_get(m, key, strlen(key)), &values[i]);
    }
    assert_int_equal(map_count(m), 2500);
    assert_int_equal(map_put(m, "", 0, &values[0], NULL), -1);
    map_free(m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_grants_survive_reopen),
        T(test_grants_journal_is_compacted_and_private),
        T(test_grants_revoke_only_by_granting_operator),
        T(test_grants_refuse_bad_ids),
        T(test_grants_skip_malformed_lines_and_torn_tail),
        T(test_grants_open_fails_cleanly_on_unwritable_path),
        cmocka_unit_test(test_map_put_get_remove_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
