/*
 * Configuration files (proto/src/config.c): the services', onrampctl's
 * and the device's device.conf, parsed by onr_config_parse, and the ways
 * the programs read values back (get, count/at, get_uint, path, split,
 * check_keys, set).
 *
 * Input: the file's bytes.
 * Checks: every key read back is [a-z0-9_]+ and every value trimmed text;
 * the file written back (each key's values, in order) parses to the same
 * values; split fields are non-empty words of the value; a number read is
 * the decimal the value spells; an override replaces every value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/config.h"
#include "onramp/error.h"

#define MAX_KEYS 64
#define SPLIT_MAX 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int key_ok(const char *k)
{
    size_t len = strlen(k);

    if (len == 0 || len > ONR_CONFIG_KEY_MAX)
        return 0;
    for (const char *c = k; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void check_value(const char *v)
{
    size_t len = strlen(v);

    FUZZ_CHECK(len > 0 && !is_blank(v[0]) && !is_blank(v[len - 1]), "value not trimmed");
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(((unsigned char)v[i] >= 0x20 || v[i] == '\t') && v[i] != 0x7f,
                   "control character in a value");
}

/* The distinct keys, in order of their first appearance. */
static size_t keys_of(const struct onr_config *cfg, const char **keys, size_t max)
{
    const char *stray = NULL;
    size_t n = 0;

    while (n < max && onr_config_check_keys(cfg, keys, n, &stray) == ONR_EFORMAT)
        keys[n++] = stray;
    return n;
}

static void split(const char *value)
{
    char buf[ONR_CONFIG_LINE_MAX + 1];
    const char *fields[SPLIT_MAX];
    size_t n = 0;
    int rc = onr_config_split(value, buf, sizeof(buf), fields, SPLIT_MAX, &n);

    FUZZ_CHECK(rc == ONR_OK || rc == ONR_ERANGE, "split: %s", onr_error_name(rc));
    if (rc != ONR_OK)
        return;
    FUZZ_CHECK(n >= 1, "a value has at least one field");
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(fields[i][0] != '\0' && strpbrk(fields[i], " \t") == NULL, "field %zu", i);
        FUZZ_CHECK(strstr(value, fields[i]) != NULL, "field not in the value");
    }
}

static void number(const struct onr_config *cfg, const char *key, const char *value)
{
    char back[32];
    uint64_t v = 0;
    int rc = onr_config_get_uint(cfg, key, 7, 0, UINT64_MAX, &v);

    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_ERANGE, "get_uint: %s", onr_error_name(rc));
        return;
    }
    /* leading zeros are allowed: compare without them */
    while (value[0] == '0' && value[1] != '\0')
        value++;
    snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
    FUZZ_CHECK(strcmp(back, value) == 0, "'%s' read as %s", value, back);
}

/* Write `cfg` back as a file: each key's values in order, one per line. */
static char *write_back(const struct onr_config *cfg, const char **keys, size_t n_keys,
                        size_t *len)
{
    char *text = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&text, &cap);

    FUZZ_CHECK(f != NULL, "open_memstream");
    for (size_t k = 0; k < n_keys; k++)
        for (size_t i = 0; i < onr_config_count(cfg, keys[k]); i++)
            fprintf(f, "%s %s\n", keys[k], onr_config_at(cfg, keys[k], i));
    FUZZ_CHECK(fclose(f) == 0, "fclose");
    *len = cap;
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct onr_config *cfg = NULL;
    struct onr_config *again = NULL;
    struct onr_config_error err;
    const char *keys[MAX_KEYS];
    const char *again_keys[MAX_KEYS];
    char path[64];
    size_t n_keys;
    size_t text_len = 0;
    char *text;
    int rc;

    rc = onr_config_parse((const char *)data, size, "/etc/onramp", &cfg, &err);
    if (rc != ONR_OK) {
        FUZZ_CHECK(cfg == NULL, "refused, yet a configuration");
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_ETOOBIG || rc == ONR_ENOMEM,
                   "parse: %s", onr_error_name(rc));
        FUZZ_CHECK(memchr(err.reason, '\0', sizeof(err.reason)) != NULL && err.reason[0] != '\0',
                   "no reason given");
        return 0;
    }
    n_keys = keys_of(cfg, keys, MAX_KEYS);
    for (size_t k = 0; k < n_keys; k++) {
        size_t count = onr_config_count(cfg, keys[k]);
        const char *last = onr_config_get(cfg, keys[k]);

        FUZZ_CHECK(key_ok(keys[k]), "key '%s'", keys[k]);
        FUZZ_CHECK(count >= 1 && onr_config_at(cfg, keys[k], count) == NULL, "count");
        FUZZ_CHECK(last != NULL && strcmp(last, onr_config_at(cfg, keys[k], count - 1)) == 0,
                   "get is not the last value");
        for (size_t i = 0; i < count; i++) {
            const char *v = onr_config_at(cfg, keys[k], i);

            check_value(v);
            split(v);
            rc = onr_config_path(cfg, v, path, sizeof(path));
            FUZZ_CHECK(rc == ONR_OK || rc == ONR_ESPACE, "path: %s", onr_error_name(rc));
        }
        number(cfg, keys[k], last);
    }

    text = write_back(cfg, keys, n_keys, &text_len);
    rc = onr_config_parse(text, text_len, NULL, &again, NULL);
    FUZZ_CHECK(rc == ONR_OK, "written back, refused: %s", onr_error_name(rc));
    FUZZ_CHECK(keys_of(again, again_keys, MAX_KEYS) == n_keys, "keys differ");
    for (size_t k = 0; k < n_keys; k++) {
        size_t count = onr_config_count(cfg, keys[k]);

        FUZZ_CHECK(onr_config_count(again, keys[k]) == count, "count of %s", keys[k]);
        for (size_t i = 0; i < count; i++)
            FUZZ_CHECK(strcmp(onr_config_at(cfg, keys[k], i), onr_config_at(again, keys[k], i)) ==
                           0,
                       "%s[%zu] differs", keys[k], i);
    }
    free(text);

    if (n_keys > 0) {
        rc = onr_config_set(again, keys[0], "override");
        FUZZ_CHECK(rc == ONR_OK && onr_config_count(again, keys[0]) == 1 &&
                       strcmp(onr_config_get(again, keys[0]), "override") == 0,
                   "override");
    }
    onr_config_free(again);
    onr_config_free(cfg);
    return 0;
}
