#include "onramp/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/file.h"

struct entry {
    char *key;
    char *value;
};

struct onr_config {
    struct entry *entries;
    size_t count;
    size_t cap;
    char *dir; /* where relative paths start from */
};

static void fail(struct onr_config_error *err, size_t line, const char *reason)
{
    if (err == NULL)
        return;
    err->line = line;
    snprintf(err->reason, sizeof(err->reason), "%s", reason);
}

static int key_ok(const char *key, size_t len)
{
    if (len == 0 || len > ONR_CONFIG_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '_'))
            return 0;
    return 1;
}

/* Values are text: tabs allowed, no other control character. */
static int value_ok(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
            return 0;
    return 1;
}

/* `len` bytes of `s` (not NUL-terminated: the parsed text need not be) as
 * a new string; NULL without memory. */
static char *copy(const char *s, size_t len)
{
    char *out = malloc(len + 1);

    if (out != NULL) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static int add(struct onr_config *cfg, const char *key, size_t key_len, const char *value,
               size_t value_len)
{
    struct entry *e;

    if (cfg->count == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 16;
        struct entry *grown = realloc(cfg->entries, cap * sizeof(*grown));

        if (grown == NULL)
            return ONR_ENOMEM;
        cfg->entries = grown;
        cfg->cap = cap;
    }
    e = &cfg->entries[cfg->count];
    e->key = copy(key, key_len);
    e->value = copy(value, value_len);
    if (e->key == NULL || e->value == NULL) {
        free(e->key);
        free(e->value);
        return ONR_ENOMEM;
    }
    cfg->count++;
    return ONR_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line (without its newline): a comment, blank, or "key value". */
static int parse_line(struct onr_config *cfg, const char *line, size_t len, size_t line_no,
                      struct onr_config_error *err)
{
    size_t start = 0;
    size_t key_end;
    size_t value_start;

    while (len > 0 && is_space(line[len - 1]))
        len--;
    while (start < len && is_space(line[start]))
        start++;
    if (start == len || line[start] == '#')
        return ONR_OK;
    key_end = start;
    while (key_end < len && !is_space(line[key_end]))
        key_end++;
    if (!key_ok(line + start, key_end - start)) {
        fail(err, line_no, "bad key (want [a-z0-9_]+)");
        return ONR_EFORMAT;
    }
    value_start = key_end;
    while (value_start < len && is_space(line[value_start]))
        value_start++;
    if (value_start == len) {
        fail(err, line_no, "key without a value");
        return ONR_EFORMAT;
    }
    if (!value_ok(line + value_start, len - value_start)) {
        fail(err, line_no, "control character in the value");
        return ONR_EFORMAT;
    }
    if (add(cfg, line + start, key_end - start, line + value_start, len - value_start) !=
        ONR_OK)
        return ONR_ENOMEM;
    return ONR_OK;
}

int onr_config_parse(const char *text, size_t len, const char *dir, struct onr_config **out,
                     struct onr_config_error *err)
{
    struct onr_config *cfg = NULL;
    size_t pos = 0;
    size_t line_no = 0;
    int rc = ONR_OK;

    if (text == NULL || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    if (len > ONR_CONFIG_MAX) {
        fail(err, 0, "file too large");
        return ONR_ETOOBIG;
    }
    if (memchr(text, '\0', len) != NULL) {
        fail(err, 0, "NUL byte: not a text file");
        return ONR_EFORMAT;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return ONR_ENOMEM;
    cfg->dir = strdup(dir != NULL && dir[0] != '\0' ? dir : ".");
    if (cfg->dir == NULL)
        rc = ONR_ENOMEM;
    while (rc == ONR_OK && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

        line_no++;
        if (line_len > ONR_CONFIG_LINE_MAX) {
            fail(err, line_no, "line too long");
            rc = ONR_EFORMAT;
            break;
        }
        rc = parse_line(cfg, text + pos, line_len, line_no, err);
        pos += line_len + 1;
    }
    if (rc != ONR_OK) {
        onr_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return ONR_OK;
}

int onr_config_load(const char *path, struct onr_config **out, struct onr_config_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    char dir[PATH_MAX];
    const char *slash;
    int rc;

    if (path == NULL || out == NULL)
        return ONR_EINVAL;
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    rc = onr_file_read(path, ONR_CONFIG_MAX, 0, &text, &len);
    if (rc == ONR_ETOOBIG)
        fail(err, 0, "file too large");
    if (rc != ONR_OK)
        return rc;
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    rc = onr_config_parse((const char *)text, len, dir, out, err);
    free(text);
    return rc;
}

void onr_config_free(struct onr_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->dir);
    free(cfg);
}

const char *onr_config_get(const struct onr_config *cfg, const char *key)
{
    if (cfg == NULL || key == NULL)
        return NULL;
    for (size_t i = cfg->count; i-- > 0;)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return cfg->entries[i].value;
    return NULL;
}

size_t onr_config_count(const struct onr_config *cfg, const char *key)
{
    size_t n = 0;

    for (size_t i = 0; cfg != NULL && key != NULL && i < cfg->count; i++)
        n += strcmp(cfg->entries[i].key, key) == 0;
    return n;
}

const char *onr_config_at(const struct onr_config *cfg, const char *key, size_t index)
{
    for (size_t i = 0; cfg != NULL && key != NULL && i < cfg->count; i++)
        if (strcmp(cfg->entries[i].key, key) == 0 && index-- == 0)
            return cfg->entries[i].value;
    return NULL;
}

int onr_config_set(struct onr_config *cfg, const char *key, const char *value)
{
    size_t kept = 0;

    if (cfg == NULL || key == NULL || value == NULL || !key_ok(key, strlen(key)) ||
        !value_ok(value, strlen(value)))
        return ONR_EINVAL;
    for (size_t i = 0; i < cfg->count; i++) {
        if (strcmp(cfg->entries[i].key, key) == 0) {
            free(cfg->entries[i].key);
            free(cfg->entries[i].value);
        } else {
            cfg->entries[kept++] = cfg->entries[i];
        }
    }
    cfg->count = kept;
    return add(cfg, key, strlen(key), value, strlen(value));
}

int onr_config_get_uint(const struct onr_config *cfg, const char *key, uint64_t dflt,
                        uint64_t min, uint64_t max, uint64_t *out)
{
    const char *value = onr_config_get(cfg, key);
    unsigned long long v;
    char *end = NULL;

    if (out == NULL)
        return ONR_EINVAL;
    if (value == NULL) {
        *out = dflt;
        return ONR_OK;
    }
    if (value[0] < '0' || value[0] > '9')
        return ONR_EFORMAT;
    errno = 0;
    v = strtoull(value, &end, 10);
    if (errno == ERANGE)
        return ONR_ERANGE;
    if (end == value || *end != '\0')
        return ONR_EFORMAT;
    if (v < min || v > max)
        return ONR_ERANGE;
    *out = v;
    return ONR_OK;
}

int onr_config_path(const struct onr_config *cfg, const char *value, char *out, size_t cap)
{
    int n;

    if (cfg == NULL || value == NULL || value[0] == '\0' || out == NULL)
        return ONR_EINVAL;
    if (value[0] == '/')
        n = snprintf(out, cap, "%s", value);
    else
        n = snprintf(out, cap, "%s/%s", cfg->dir, value);
    return n < 0 || (size_t)n >= cap ? ONR_ESPACE : ONR_OK;
}

int onr_config_check_keys(const struct onr_config *cfg, const char *const *known, size_t n,
                          const char **unknown)
{
    if (cfg == NULL || (known == NULL && n > 0))
        return ONR_EINVAL;
    for (size_t i = 0; i < cfg->count; i++) {
        size_t k = 0;

        while (k < n && strcmp(known[k], cfg->entries[i].key) != 0)
            k++;
        if (k == n) {
            if (unknown != NULL)
                *unknown = cfg->entries[i].key;
            return ONR_EFORMAT;
        }
    }
    return ONR_OK;
}

int onr_config_split(const char *value, char *buf, size_t cap, const char **fields, size_t max,
                     size_t *n)
{
    size_t len;
    char *p;

    if (value == NULL || buf == NULL || fields == NULL || n == NULL)
        return ONR_EINVAL;
    *n = 0;
    len = strlen(value);
    if (len + 1 > cap)
        return ONR_ESPACE;
    memcpy(buf, value, len + 1);
    p = buf;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            return ONR_OK;
        if (*n == max)
            return ONR_ERANGE;
        fields[(*n)++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
}

int onr_config_origin(const char *value)
{
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-:[]";
    size_t skip = strncmp(value, "https://", 8) == 0   ? 8
                  : strncmp(value, "http://", 7) == 0 ? 7
                                                       : 0;
    size_t len = strlen(value);

    return skip > 0 && len > skip && len <= ONR_ORIGIN_MAX &&
           strspn(value + skip, host_chars) == len - skip;
}
