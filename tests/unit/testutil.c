#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/file.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t hex_n(const char *hex, size_t len, uint8_t *out, size_t cap)
{
    assert_true(len % 2 == 0);
    assert_true(len / 2 <= cap);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_digit(hex[2 * i]);
        int lo = hex_digit(hex[2 * i + 1]);

        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return len / 2;
}

size_t onr_test_hex(const char *hex, uint8_t *out, size_t cap)
{
    return hex_n(hex, strlen(hex), out, cap);
}

char *onr_test_vector_file(const char *name)
{
    char path[1024];
    FILE *f;
    char *buf;
    long size;

    snprintf(path, sizeof(path), "%s/%s", ONR_TEST_VECTORS_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    return buf;
}

size_t onr_test_json_hex(const char *json, const char *key, size_t nth, uint8_t *out,
                         size_t cap)
{
    char needle[128];
    const char *p = json;
    const char *start;
    const char *end;

    snprintf(needle, sizeof(needle), "\"%s\"", key);
    for (size_t i = 0;; i++) {
        p = strstr(p, needle);
        assert_non_null(p);
        p += strlen(needle);
        if (i == nth)
            break;
    }
    while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t')
        p++;
    assert_true(*p == '"');
    start = p + 1;
    end = strchr(start, '"');
    assert_non_null(end);
    return hex_n(start, (size_t)(end - start), out, cap);
}

char *onr_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    path = malloc(strlen(base) + 32);
    assert_non_null(path);
    sprintf(path, "%s/onr-test-XXXXXX", base);
    assert_non_null(mkdtemp(path));
    return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void onr_test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int onr_test_setup_tmpdir(void **state)
{
    *state = onr_test_tmpdir();
    return 0;
}

int onr_test_teardown_tmpdir(void **state)
{
    onr_test_rmtree(*state);
    free(*state);
    return 0;
}

const char *onr_test_path(const char *dir, const char *name)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

void onr_test_count_line(size_t line, const char *why, void *arg)
{
    (void)line;
    (void)why;
    (*(size_t *)arg)++;
}

size_t onr_test_read_file(const char *path, uint8_t *buf, size_t cap)
{
    uint8_t *data = NULL;
    size_t len = 0;

    assert_onr(ONR_OK, onr_file_read(path, cap, 0, &data, &len));
    memcpy(buf, data, len);
    free(data);
    return len;
}
