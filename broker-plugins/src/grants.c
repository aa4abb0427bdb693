#include "grants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/msg.h"
#include "onramp/text.h"

#define ID_MAX ONR_SERVICE_ID_MAX
/* A journal file larger than this is refused (64 MiB, about a million grants). */
#define JOURNAL_MAX (64u << 20)
#define LINE_MAX_LEN 160

struct grant {
    char prov[ID_MAX + 1];
    char op[ID_MAX + 1];
};

struct grants {
    struct map *by_dev; /* device id -> struct grant */
    char *path;
    int fd;      /* the journal, open for appending */
    int dirty;   /* appended since the last sync */
};

static int service_id_ok(const char *s)
{
    size_t len = strnlen(s, ID_MAX + 1);

    return len > 0 && len <= ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)s, len}) == ONR_OK;
}

static int device_id_ok(const char *s)
{
    return onr_devid_check(s, strnlen(s, ONR_DEVID_LEN + 1)) == ONR_OK;
}

/* In-memory change only. */
static int apply_grant(struct grants *g, const char *dev, const char *prov, const char *op)
{
    struct grant *gr = calloc(1, sizeof(*gr));
    void *old = NULL;

    if (gr == NULL)
        return ONR_ENOMEM;
    strcpy(gr->prov, prov);
    strcpy(gr->op, op);
    if (map_put(g->by_dev, dev, strlen(dev), gr, &old) != 0) {
        free(gr);
        return ONR_ENOMEM;
    }
    free(old);
    return ONR_OK;
}

static void apply_revoke(struct grants *g, const char *dev)
{
    free(map_remove(g->by_dev, dev, strlen(dev)));
}

/* Apply one journal line; NULL if fine, else why it was skipped. */
static const char *replay_line(struct grants *g, char *line)
{
    char *save = NULL;
    char *verb = strtok_r(line, " ", &save);
    char *a = strtok_r(NULL, " ", &save);
    char *b = strtok_r(NULL, " ", &save);
    char *c = strtok_r(NULL, " ", &save);
    char *extra = strtok_r(NULL, " ", &save);

    if (verb == NULL || a == NULL || b == NULL || extra != NULL)
        return "too few or too many fields";
    if (!device_id_ok(a))
        return "bad device id";
    if (strcmp(verb, "grant") == 0) {
        if (c == NULL || !service_id_ok(b) || !service_id_ok(c))
            return "bad grant";
        return apply_grant(g, a, b, c) == ONR_OK ? NULL : "out of memory";
    }
    if (strcmp(verb, "revoke") == 0) {
        if (c != NULL || !service_id_ok(b))
            return "bad revoke";
        apply_revoke(g, a);
        return NULL;
    }
    return "unknown verb";
}

static int replay(struct grants *g, grants_skip_cb skipped, void *arg)
{
    uint8_t *data = NULL;
    size_t len = 0;
    size_t line_no = 0;
    char *p;
    int rc;

    rc = onr_file_read(g->path, JOURNAL_MAX, 0, &data, &len);
    if (rc == ONR_ENOENT)
        return ONR_OK;
    if (rc != ONR_OK)
        return rc == ONR_ENOMEM ? rc : ONR_EIO;
    p = (char *)data;
    while (p < (char *)data + len) {
        char *nl = memchr(p, '\n', (size_t)((char *)data + len - p));
        const char *why;

        line_no++;
        if (nl == NULL) {
            /* a torn last line: the append that a crash interrupted */
            if (skipped != NULL)
                skipped(line_no, "incomplete last line", arg);
            break;
        }
        *nl = '\0';
        why = (size_t)(nl - p) > LINE_MAX_LEN || memchr(p, '\0', (size_t)(nl - p)) != NULL
                  ? "line too long or has NUL"
                  : replay_line(g, p);
        if (why != NULL && skipped != NULL)
            skipped(line_no, why, arg);
        p = nl + 1;
    }
    free(data);
    return ONR_OK;
}

struct compact_ctx {
    char *buf;
    size_t len;
    size_t cap;
    int failed;
};

static void append_grant_line(const void *key, size_t key_len, void *value, void *arg)
{
    struct compact_ctx *c = arg;
    const struct grant *gr = value;
    char line[LINE_MAX_LEN + 2];
    int n;

    n = snprintf(line, sizeof(line), "grant %.*s %s %s\n", (int)key_len, (const char *)key,
                 gr->prov, gr->op);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        c->failed = 1;
        return;
    }
    if (c->len + (size_t)n > c->cap) {
        size_t cap = (c->cap + (size_t)n) * 2;
        char *grown = realloc(c->buf, cap);

        if (grown == NULL) {
            c->failed = 1;
            return;
        }
        c->buf = grown;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, line, (size_t)n);
    c->len += (size_t)n;
}

/* Rewrite the journal as one grant line per device, atomically. */
static int compact(struct grants *g)
{
    struct compact_ctx c = {0};
    int rc;

    map_each(g->by_dev, append_grant_line, &c);
    rc = c.failed ? ONR_ENOMEM : onr_file_write_atomic(g->path, c.buf, c.len, 0600);
    free(c.buf);
    return rc;
}

int grants_open(const char *path, grants_skip_cb skipped, void *arg, struct grants **out)
{
    struct grants *g = NULL;
    int rc = ONR_ENOMEM;

    if (path == NULL || path[0] == '\0' || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return ONR_ENOMEM;
    g->fd = -1;
    g->path = strdup(path);
    g->by_dev = map_new();
    if (g->path == NULL || g->by_dev == NULL)
        goto out;
    rc = replay(g, skipped, arg);
    if (rc == ONR_OK)
        rc = compact(g);
    if (rc != ONR_OK)
        goto out;
    g->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (g->fd < 0) {
        rc = ONR_EIO;
        goto out;
    }
    *out = g;
    g = NULL;
out:
    grants_close(g);
    return rc;
}

static void free_grant(const void *key, size_t key_len, void *value, void *arg)
{
    (void)key;
    (void)key_len;
    (void)arg;
    free(value);
}

void grants_close(struct grants *g)
{
    if (g == NULL)
        return;
    if (g->fd >= 0) {
        grants_sync(g);
        close(g->fd);
    }
    if (g->by_dev != NULL) {
        map_each(g->by_dev, free_grant, NULL);
        map_free(g->by_dev);
    }
    free(g->path);
    free(g);
}

const char *grants_provider(const struct grants *g, const char *dev)
{
    const struct grant *gr = map_get(g->by_dev, dev, strnlen(dev, ONR_DEVID_LEN + 1));

    return gr ? gr->prov : NULL;
}

/* Append one line to the journal (not yet synced). */
static int journal_append(struct grants *g, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(g->fd, line, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ONR_EIO;
        line += n;
        len -= (size_t)n;
    }
    g->dirty = 1;
    return ONR_OK;
}

int grants_set(struct grants *g, const char *dev, const char *prov, const char *op)
{
    char line[LINE_MAX_LEN + 2];
    int n;
    int rc;

    if (g == NULL || dev == NULL || prov == NULL || op == NULL || !device_id_ok(dev) ||
        !service_id_ok(prov) || !service_id_ok(op))
        return ONR_EINVAL;
    n = snprintf(line, sizeof(line), "grant %s %s %s\n", dev, prov, op);
    rc = journal_append(g, line, (size_t)n);
    if (rc == ONR_OK)
        rc = apply_grant(g, dev, prov, op);
    return rc;
}

int grants_revoke(struct grants *g, const char *dev, const char *op)
{
    const struct grant *gr;
    char line[LINE_MAX_LEN + 2];
    int n;
    int rc;

    if (g == NULL || dev == NULL || op == NULL || !device_id_ok(dev) || !service_id_ok(op))
        return ONR_EINVAL;
    gr = map_get(g->by_dev, dev, strlen(dev));
    if (gr == NULL)
        return ONR_ENOENT;
    if (strcmp(gr->op, op) != 0)
        return ONR_EDENIED;
    n = snprintf(line, sizeof(line), "revoke %s %s\n", dev, op);
    rc = journal_append(g, line, (size_t)n);
    if (rc == ONR_OK)
        apply_revoke(g, dev);
    return rc;
}

int grants_sync(struct grants *g)
{
    if (g == NULL || !g->dirty)
        return ONR_OK;
    if (fdatasync(g->fd) != 0)
        return ONR_EIO;
    g->dirty = 0;
    return ONR_OK;
}

size_t grants_count(const struct grants *g)
{
    return map_count(g->by_dev);
}
