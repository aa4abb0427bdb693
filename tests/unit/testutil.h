/*
 * Helpers shared by the unit tests: hex, published test-vector files, and
 * scratch directories. Every helper fails the running cmocka test on bad
 * input rather than returning an error.
 */
#ifndef ONRAMP_TESTUTIL_H
#define ONRAMP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Decode `hex` into `out` (capacity `cap`); returns the byte count. */
size_t onr_test_hex(const char *hex, uint8_t *out, size_t cap);

/* Read tests/vectors/<name> into a new NUL-terminated heap string. */
char *onr_test_vector_file(const char *name);

/*
 * The `nth` (0-based) string value of `"key": "..."` in `json`, decoded from
 * hex into `out`; returns the byte count. The vector files are flat enough
 * that this lookup reads them as published.
 */
size_t onr_test_json_hex(const char *json, const char *key, size_t nth, uint8_t *out,
                         size_t cap);

/* A new empty directory under $TMPDIR (or /tmp); free() the path after
 * onr_test_rmtree(). */
char *onr_test_tmpdir(void);
void onr_test_rmtree(const char *path);

/* cmocka setup/teardown: *state is a fresh scratch directory's path. */
int onr_test_setup_tmpdir(void **state);
int onr_test_teardown_tmpdir(void **state);

/* A "line skipped" callback (the plugin's grants and sessions files): adds
 * one to the size_t `arg` points to. */
void onr_test_count_line(size_t line, const char *why, void *arg);

/* The whole of the file `path` (at most `cap` bytes) into `buf`; its
 * length. */
size_t onr_test_read_file(const char *path, uint8_t *buf, size_t cap);

/* path = dir + "/" + name in a static buffer (valid until the next call). */
const char *onr_test_path(const char *dir, const char *name);

/* ctest runs each executable; the assertion message names the error. */
#define assert_onr(expected, actual)                                          \
    assert_string_equal(onr_error_name(expected), onr_error_name(actual))

#endif /* ONRAMP_TESTUTIL_H */
