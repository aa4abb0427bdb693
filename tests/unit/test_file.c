#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/error.h"
#include "onramp/file.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

static size_t entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_file_write_sets_mode_despite_umask(void **state)
{
    const char *path = onr_test_path(*state, "secret");
    struct stat st;
    mode_t old = umask(0);

    assert_onr(ONR_OK, onr_file_write_atomic(path, "k", 1, ONR_FILE_SECRET));
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_file_write_replaces_content_and_leaves_no_temp(void **state)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "state"));
    assert_onr(ONR_OK, onr_file_write_atomic(path, "first", 5, ONR_FILE_PUBLIC));
    assert_onr(ONR_OK, onr_file_write_atomic(path, "second!", 7, ONR_FILE_PUBLIC));
    assert_onr(ONR_OK, onr_file_read(path, 100, 0, &buf, &len));
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "second!", 7);
    assert_int_equal(buf[7], '\0');
    free(buf);
    assert_int_equal(entries_in(*state), 1);
}

static void test_file_write_into_missing_directory_fails_cleanly(void **state)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/nope/file", (const char *)*state);
    assert_onr(ONR_EIO, onr_file_write_atomic(path, "x", 1, ONR_FILE_PUBLIC));
    assert_int_equal(entries_in(*state), 0);
}

static void test_file_read_missing_is_enoent(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_onr(ONR_ENOENT, onr_file_read(onr_test_path(*state, "absent"), 10, 0, &buf, &len));
    assert_null(buf);
}

static void test_file_read_secret_refuses_group_readable(void **state)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "key"));
    assert_onr(ONR_OK, onr_file_write_atomic(path, "k", 1, 0640));
    assert_onr(ONR_EPERM, onr_file_read(path, 10, 1, &buf, &len));
    assert_null(buf);
    /* the same file is fine when it is not a secret */
    assert_onr(ONR_OK, onr_file_read(path, 10, 0, &buf, &len));
    free(buf);
}

static void test_file_read_refuses_oversized(void **state)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "big"));
    assert_onr(ONR_OK, onr_file_write_atomic(path, "0123456789", 10, ONR_FILE_PUBLIC));
    assert_onr(ONR_ETOOBIG, onr_file_read(path, 9, 0, &buf, &len));
    assert_onr(ONR_OK, onr_file_read(path, 10, 0, &buf, &len));
    free(buf);
}

static void test_file_rejects_bad_arguments(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_onr(ONR_EINVAL, onr_file_write_atomic(NULL, "x", 1, 0600));
    assert_onr(ONR_EINVAL, onr_file_write_atomic("", "x", 1, 0600));
    assert_onr(ONR_EINVAL, onr_file_write_atomic("/tmp/x", NULL, 1, 0600));
    assert_onr(ONR_EINVAL, onr_file_read(NULL, 1, 0, &buf, &len));
}

static void test_file_put_creates_keeps_and_updates(void **state)
{
    char path[4096];
    enum onr_file_change change = ONR_FILE_KEPT;
    struct stat st;
    struct stat again;

    snprintf(path, sizeof(path), "%s", onr_test_path(*state, "conf"));
    assert_onr(ONR_OK, onr_file_put(path, "a b\n", 4, ONR_FILE_PUBLIC, &change));
    assert_int_equal(change, ONR_FILE_CREATED);
    assert_string_equal(onr_file_change_name(change), "created");
    assert_int_equal(stat(path, &st), 0);
    /* the same bytes and mode: not written again (same inode) */
    assert_onr(ONR_OK, onr_file_put(path, "a b\n", 4, ONR_FILE_PUBLIC, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_string_equal(onr_file_change_name(change), "kept");
    assert_int_equal(stat(path, &again), 0);
    assert_int_equal(st.st_ino, again.st_ino);
    /* other bytes of the same length, another length, another mode */
    assert_onr(ONR_OK, onr_file_put(path, "a c\n", 4, ONR_FILE_PUBLIC, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_string_equal(onr_file_change_name(change), "updated");
    assert_onr(ONR_OK, onr_file_put(path, "a c d\n", 6, ONR_FILE_PUBLIC, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_onr(ONR_OK, onr_file_put(path, "a c d\n", 6, ONR_FILE_SECRET, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_onr(ONR_OK, onr_file_put(path, "a c d\n", 6, ONR_FILE_SECRET, NULL));
    /* an empty file is a file too */
    assert_onr(ONR_OK, onr_file_put(path, NULL, 0, ONR_FILE_SECRET, &change));
    assert_int_equal(change, ONR_FILE_UPDATED);
    assert_onr(ONR_OK, onr_file_put(path, NULL, 0, ONR_FILE_SECRET, &change));
    assert_int_equal(change, ONR_FILE_KEPT);
    assert_onr(ONR_EINVAL, onr_file_put(NULL, "x", 1, ONR_FILE_PUBLIC, &change));
    assert_onr(ONR_EINVAL, onr_file_put(path, NULL, 1, ONR_FILE_PUBLIC, &change));
    assert_onr(ONR_EIO, onr_file_put(onr_test_path(*state, "no/such/dir"), "x", 1,
                                     ONR_FILE_PUBLIC, &change));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_write_sets_mode_despite_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_write_replaces_content_and_leaves_no_temp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_write_into_missing_directory_fails_cleanly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_read_missing_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_read_secret_refuses_group_readable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_read_refuses_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_put_creates_keeps_and_updates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
