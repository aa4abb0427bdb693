#include "grants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onramp/hex.h"
#include "lines.h"
#include "map.h"
#include "onramp/crypto.h"
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

/* A revoked operational certificate. */
struct cert_revocation {
    char dev[ONR_DEVID_LEN + 1];
    char prov[ID_MAX + 1];
    uint8_t serial[GRANTS_SERIAL_MAX];
    size_t serial_len;
    uint64_t not_after; /* the certificate's notAfter; 0: not known */
};

/* Revocation keys: provider id, a NUL (never in an id), the trimmed serial. */
#define REVOCATION_KEY_MAX (ID_MAX + 1 + GRANTS_SERIAL_MAX)

struct grants {
    uint8_t epoch[GRANTS_EPOCH_LEN];
    int has_epoch; /* read from the journal (or made at open) */
    int epoch_new; /* made at open: the journal had none */
    struct map *by_dev; /* device id -> struct grant */
    struct map *revoked; /* revocation key -> struct cert_revocation */
    char *path;
    int fd;      /* the journal, open for appending */
    int dirty;   /* appended since the last sync */
    off_t size;  /* the journal's length: where its last whole record ends */
    int suspect; /* the file may not hold what memory does (a torn record
                    that could not be cut off, a failed sync): rewrite it
                    from memory before anything else uses it */
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

const uint8_t *grants_serial_trim(const uint8_t *serial, size_t *len)
{
    while (*len > 1 && serial[0] == 0) {
        serial++;
        (*len)--;
    }
    return serial;
}

/* The key of (prov, serial) into `key`; its length, or 0 if out of bounds.
 * `serial` is trimmed here. */
static size_t revocation_key(const char *prov, const uint8_t *serial, size_t serial_len,
                             uint8_t key[REVOCATION_KEY_MAX])
{
    size_t prov_len = strnlen(prov, ID_MAX + 1);

    if (serial == NULL || serial_len == 0 || prov_len == 0 || prov_len > ID_MAX)
        return 0;
    serial = grants_serial_trim(serial, &serial_len);
    if (serial_len > GRANTS_SERIAL_MAX)
        return 0;
    memcpy(key, prov, prov_len);
    key[prov_len] = 0;
    memcpy(key + prov_len + 1, serial, serial_len);
    return prov_len + 1 + serial_len;
}

/* In-memory change only; arguments already checked. 1 if recorded now
 * (or its notAfter learnt), 0 if it already was, or a negative ONR_E code. */
static int apply_cert_revoke(struct grants *g, const char *prov, const char *dev,
                             const uint8_t *serial, size_t serial_len, uint64_t not_after)
{
    uint8_t key[REVOCATION_KEY_MAX];
    size_t key_len = revocation_key(prov, serial, serial_len, key);
    struct cert_revocation *r;

    if (key_len == 0)
        return ONR_EINVAL;
    r = map_get(g->revoked, key, key_len);
    if (r != NULL) {
        if (r->not_after != 0 || not_after == 0)
            return 0;
        r->not_after = not_after;
        return 1;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ONR_ENOMEM;
    serial = grants_serial_trim(serial, &serial_len);
    strcpy(r->dev, dev);
    strcpy(r->prov, prov);
    memcpy(r->serial, serial, serial_len);
    r->serial_len = serial_len;
    r->not_after = not_after;
    if (map_put(g->revoked, key, key_len, r, NULL) != 0) {
        free(r);
        return ONR_ENOMEM;
    }
    return 1;
}

void grants_serial_hex(const uint8_t *in, size_t len, char out[2 * GRANTS_SERIAL_MAX + 1])
{
    onr_hex_encode(in, len > GRANTS_SERIAL_MAX ? GRANTS_SERIAL_MAX : len, out);
}

/* A serial from the journal: 2..2*GRANTS_SERIAL_MAX lowercase hex digits,
 * an even number. Its length, or 0 if malformed. */
static size_t hex_decode_serial(const char *hex, uint8_t out[GRANTS_SERIAL_MAX])
{
    return onr_hex_decode(hex, strnlen(hex, 2 * GRANTS_SERIAL_MAX + 1), out, GRANTS_SERIAL_MAX);
}

/* A notAfter from the journal: 1 to 19 decimal digits, no sign, at most
 * INT64_MAX (a uint of the wire). 1 and *out, or 0 if malformed. */
static int parse_not_after(const char *text, uint64_t *out)
{
    size_t len = strnlen(text, 20);
    uint64_t v = 0;

    if (len == 0 || len > 19)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    if (v == 0 || v > INT64_MAX)
        return 0;
    *out = v;
    return 1;
}

/* The journal's epoch line's value: 2 * GRANTS_EPOCH_LEN lowercase hex
 * digits, once. NULL if taken, else why it was skipped. */
static const char *replay_epoch(struct grants *g, const char *hex, const char *extra)
{
    uint8_t epoch[GRANTS_EPOCH_LEN];

    if (hex == NULL || extra != NULL ||
        onr_hex_decode(hex, strnlen(hex, 2 * GRANTS_EPOCH_LEN + 1), epoch, sizeof(epoch)) !=
            sizeof(epoch))
        return "bad epoch";
    if (g->has_epoch)
        return "a second epoch";
    memcpy(g->epoch, epoch, sizeof(epoch));
    g->has_epoch = 1;
    return NULL;
}

/* Apply one journal line; NULL if fine, else why it was skipped. */
static const char *replay_line(struct grants *g, char *line)
{
    char *save = NULL;
    char *verb = strtok_r(line, " ", &save);
    char *a = strtok_r(NULL, " ", &save);
    char *b = strtok_r(NULL, " ", &save);
    char *c = strtok_r(NULL, " ", &save);
    char *d = strtok_r(NULL, " ", &save);
    char *extra = strtok_r(NULL, " ", &save);
    uint8_t serial[GRANTS_SERIAL_MAX];
    size_t serial_len;
    uint64_t not_after = 0;

    if (verb != NULL && strcmp(verb, "epoch") == 0)
        return replay_epoch(g, a, b);
    if (verb == NULL || a == NULL || b == NULL || extra != NULL ||
        (d != NULL && strcmp(verb, "revoke-cert") != 0))
        return "too few or too many fields";
    if (!device_id_ok(a))
        return "bad device id";
    if (strcmp(verb, "revoke-cert") == 0) {
        serial_len = c == NULL ? 0 : hex_decode_serial(c, serial);
        if (serial_len == 0 || !service_id_ok(b) || (d != NULL && !parse_not_after(d, &not_after)))
            return "bad revoke-cert";
        return apply_cert_revoke(g, b, a, serial, serial_len, not_after) >= 0 ? NULL
                                                                              : "out of memory";
    }
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

static int rewrite_pruned(struct grants *g, uint64_t expired_before);

static int rewrite(struct grants *g)
{
    return rewrite_pruned(g, 0);
}

/* lines_read's taker: one journal line into memory. */
static const char *take_line(char *line, void *arg)
{
    return replay_line(arg, line);
}

static int replay(struct grants *g, grants_skip_cb skipped, void *arg)
{
    return lines_read(g->path, JOURNAL_MAX, LINE_MAX_LEN, take_line, g, skipped, arg);
}

struct compact_ctx {
    char *buf;
    size_t len;
    size_t cap;
    int failed;
    uint64_t expired_before; /* revocations with a notAfter before it are left out */
};

/* Is revocation `r` past its certificate's notAfter plus the grace, at
 * `before` (the time minus the grace)? Never for one without notAfter. */
static int expired(const struct cert_revocation *r, uint64_t before)
{
    return r->not_after != 0 && r->not_after < before;
}

static void compact_append(struct compact_ctx *c, const char *line, int n)
{
    if (n < 0 || (size_t)n > LINE_MAX_LEN + 1) {
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

static void append_grant_line(const void *key, size_t key_len, void *value, void *arg)
{
    const struct grant *gr = value;
    char line[LINE_MAX_LEN + 2];

    compact_append(arg, line, snprintf(line, sizeof(line), "grant %.*s %s %s\n", (int)key_len,
                                       (const char *)key, gr->prov, gr->op));
}

/* The journal line of a certificate revocation into `line`; its length. */
static int cert_revoke_line(const struct cert_revocation *r, char line[LINE_MAX_LEN + 2])
{
    char hex[2 * GRANTS_SERIAL_MAX + 1];

    grants_serial_hex(r->serial, r->serial_len, hex);
    if (r->not_after == 0)
        return snprintf(line, LINE_MAX_LEN + 2, "revoke-cert %s %s %s\n", r->dev, r->prov, hex);
    return snprintf(line, LINE_MAX_LEN + 2, "revoke-cert %s %s %s %llu\n", r->dev, r->prov, hex,
                    (unsigned long long)r->not_after);
}

static void append_cert_revoke_line(const void *key, size_t key_len, void *value, void *arg)
{
    struct compact_ctx *c = arg;
    char line[LINE_MAX_LEN + 2];

    (void)key;
    (void)key_len;
    if (!expired(value, c->expired_before))
        compact_append(c, line, cert_revoke_line(value, line));
}

/*
 * Rewrite the journal from memory, atomically (a temporary file, synced,
 * renamed, the directory synced): the epoch line, one grant line per
 * device and one revoke-cert line per revoked certificate, but those
 * whose notAfter is before `expired_before` (0: none). Then append to
 * the new file.
 * Done at open (compaction) and whenever the file cannot be trusted to
 * hold what memory does: only a whole new file restores a known state
 * after a failed write or sync. ONR_OK, ONR_ENOMEM or ONR_EIO (then the
 * journal stays suspect and the old descriptor is not used again).
 */
static int rewrite_pruned(struct grants *g, uint64_t expired_before)
{
    struct compact_ctx c = {.expired_before = expired_before};
    char line[LINE_MAX_LEN + 2];
    char hex[2 * GRANTS_EPOCH_LEN + 1];
    int fd;
    int rc;

    /* the epoch first: the journal's identity, kept by every rewrite */
    onr_hex_encode(g->epoch, GRANTS_EPOCH_LEN, hex);
    compact_append(&c, line, snprintf(line, sizeof(line), "epoch %s\n", hex));
    map_each(g->by_dev, append_grant_line, &c);
    map_each(g->revoked, append_cert_revoke_line, &c);
    rc = c.failed ? ONR_ENOMEM : onr_file_write_atomic(g->path, c.buf, c.len, 0600);
    free(c.buf);
    if (rc != ONR_OK)
        return rc == ONR_ENOMEM ? rc : ONR_EIO;
    fd = open(g->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return ONR_EIO;
    if (g->fd >= 0)
        close(g->fd);
    g->fd = fd;
    g->size = (off_t)c.len;
    g->dirty = 0;
    g->suspect = 0;
    return ONR_OK;
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
    g->revoked = map_new();
    if (g->path == NULL || g->by_dev == NULL || g->revoked == NULL)
        goto out;
    rc = replay(g, skipped, arg);
    if (rc == ONR_OK && !g->has_epoch) {
        /* a new journal, or one without its epoch: a new identity, so the
         * services bring this broker up to date */
        rc = onr_random(g->epoch, sizeof(g->epoch)) == ONR_OK ? ONR_OK : ONR_ERANDOM;
        g->has_epoch = rc == ONR_OK;
        g->epoch_new = g->has_epoch;
    }
    if (rc == ONR_OK)
        rc = rewrite(g);
    if (rc != ONR_OK)
        goto out;
    *out = g;
    g = NULL;
out:
    grants_close(g);
    return rc;
}

void grants_close(struct grants *g)
{
    if (g == NULL)
        return;
    if (g->fd >= 0) {
        grants_sync(g);
        close(g->fd);
    }
    map_free_with_values(g->by_dev);
    map_free_with_values(g->revoked);
    free(g->path);
    free(g);
}

const uint8_t *grants_epoch(const struct grants *g)
{
    return g->epoch;
}

bool grants_epoch_new(const struct grants *g)
{
    return g->epoch_new != 0;
}

const char *grants_provider(const struct grants *g, const char *dev)
{
    const struct grant *gr = map_get(g->by_dev, dev, strnlen(dev, ONR_DEVID_LEN + 1));

    return gr ? gr->prov : NULL;
}

const char *grants_operator(const struct grants *g, const char *dev)
{
    const struct grant *gr = map_get(g->by_dev, dev, strnlen(dev, ONR_DEVID_LEN + 1));

    return gr ? gr->op : NULL;
}

/*
 * Before any request is decided: a suspect journal is rewritten from
 * memory first, so that what memory says (a grant already gone, a
 * revocation already recorded) is on disk before an answer relies on it.
 * ONR_OK, or ONR_EIO while it cannot be (the request changes nothing).
 */
static int journal_trusted(struct grants *g)
{
    return !g->suspect || rewrite(g) == ONR_OK ? ONR_OK : ONR_EIO;
}

/*
 * Append one record (a whole line) to the journal, not yet synced. The
 * caller changes memory only on ONR_OK. A write that stops short (a full
 * disk, a file size limit) leaves part of the record: it is cut off again,
 * back to the end of the last whole record, so the next record is never
 * appended onto a fragment (which replay would skip, losing a change that
 * was confirmed). If even that fails, the journal is suspect: rewritten
 * from memory before the next request (journal_trusted). ONR_OK or
 * ONR_EIO (nothing changed).
 */
static int journal_append(struct grants *g, const char *line, size_t len)
{
    size_t left = len;

    while (left > 0) {
        ssize_t n = write(g->fd, line, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (ftruncate(g->fd, g->size) != 0)
                g->suspect = 1;
            return ONR_EIO;
        }
        line += n;
        left -= (size_t)n;
    }
    g->size += (off_t)len;
    g->dirty = 1;
    return ONR_OK;
}

int grants_set(struct grants *g, const char *dev, const char *prov, const char *op)
{
    const struct grant *held;
    char line[LINE_MAX_LEN + 2];
    int n;
    int rc;

    if (g == NULL || dev == NULL || prov == NULL || op == NULL || !device_id_ok(dev) ||
        !service_id_ok(prov) || !service_id_ok(op))
        return ONR_EINVAL;
    if (journal_trusted(g) != ONR_OK)
        return ONR_EIO;
    /* One operator's grant is never another's to replace: the holder
     * revokes first (proto/SPEC.md section 11). */
    held = map_get(g->by_dev, dev, strlen(dev));
    if (held != NULL && strcmp(held->op, op) != 0)
        return ONR_EHELD;
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
    if (journal_trusted(g) != ONR_OK)
        return ONR_EIO;
    gr = map_get(g->by_dev, dev, strlen(dev));
    if (gr == NULL)
        return ONR_ENOENT;
    if (strcmp(gr->op, op) != 0)
        return ONR_EHELD;
    n = snprintf(line, sizeof(line), "revoke %s %s\n", dev, op);
    rc = journal_append(g, line, (size_t)n);
    if (rc == ONR_OK)
        apply_revoke(g, dev);
    return rc;
}

/*
 * After a failed fdatasync the kernel may already have dropped the pages
 * it could not write and cleared the error, so a second fdatasync can
 * succeed with the records lost. Only a new file written from memory makes
 * disk and memory agree again: then every change made is durable.
 */
int grants_sync(struct grants *g)
{
    if (g == NULL || (!g->dirty && !g->suspect))
        return ONR_OK;
    if (!g->suspect && fdatasync(g->fd) == 0) {
        g->dirty = 0;
        return ONR_OK;
    }
    g->suspect = 1;
    return rewrite(g);
}

size_t grants_count(const struct grants *g)
{
    return map_count(g->by_dev);
}

int grants_cert_revoke(struct grants *g, const char *prov, const char *dev,
                       const uint8_t *serial, size_t serial_len, uint64_t not_after)
{
    uint8_t key[REVOCATION_KEY_MAX];
    struct cert_revocation r = {0};
    const struct cert_revocation *held;
    char line[LINE_MAX_LEN + 2];
    size_t key_len;
    int rc;

    if (g == NULL || prov == NULL || dev == NULL || !service_id_ok(prov) || !device_id_ok(dev))
        return ONR_EINVAL;
    key_len = revocation_key(prov, serial, serial_len, key);
    if (key_len == 0)
        return ONR_EINVAL;
    if (not_after > INT64_MAX)
        return ONR_EINVAL;
    if (journal_trusted(g) != ONR_OK)
        return ONR_EIO;
    held = map_get(g->revoked, key, key_len);
    if (held != NULL && (held->not_after != 0 || not_after == 0))
        return ONR_OK;
    serial = grants_serial_trim(serial, &serial_len);
    strcpy(r.dev, held != NULL ? held->dev : dev); /* a revocation keeps its device */
    strcpy(r.prov, prov);
    memcpy(r.serial, serial, serial_len);
    r.serial_len = serial_len;
    r.not_after = not_after;
    rc = journal_append(g, line, (size_t)cert_revoke_line(&r, line));
    if (rc == ONR_OK)
        rc = apply_cert_revoke(g, prov, dev, serial, serial_len, not_after);
    return rc < 0 ? rc : ONR_OK;
}

/* grants_cert_prune's collection of the keys to drop. */
struct prune_ctx {
    uint64_t before;
    uint8_t (*keys)[REVOCATION_KEY_MAX];
    size_t *lens;
    size_t n;
};

static void collect_expired(const void *key, size_t key_len, void *value, void *arg)
{
    struct prune_ctx *c = arg;

    if (!expired(value, c->before))
        return;
    if (c->keys != NULL) {
        memcpy(c->keys[c->n], key, key_len);
        c->lens[c->n] = key_len;
    }
    c->n++;
}

int grants_cert_prune(struct grants *g, uint64_t now, size_t at_least, size_t *dropped)
{
    struct prune_ctx c = {0};
    int rc;

    if (dropped != NULL)
        *dropped = 0;
    if (g == NULL || at_least == 0)
        return ONR_EINVAL;
    if (now <= GRANTS_REVOCATION_GRACE)
        return ONR_OK;
    c.before = now - GRANTS_REVOCATION_GRACE;
    map_each(g->revoked, collect_expired, &c); /* count them */
    if (c.n < at_least)
        return ONR_OK;
    c.keys = calloc(c.n, sizeof(*c.keys));
    c.lens = calloc(c.n, sizeof(*c.lens));
    if (c.keys == NULL || c.lens == NULL) {
        rc = ONR_ENOMEM;
        goto out;
    }
    c.n = 0;
    map_each(g->revoked, collect_expired, &c);
    /* the journal first: memory forgets only what disk no longer holds */
    rc = rewrite_pruned(g, c.before);
    if (rc != ONR_OK)
        goto out;
    for (size_t i = 0; i < c.n; i++)
        free(map_remove(g->revoked, c.keys[i], c.lens[i]));
    if (dropped != NULL)
        *dropped = c.n;
out:
    free(c.keys);
    free(c.lens);
    return rc;
}

bool grants_cert_revoked(const struct grants *g, const char *prov, const uint8_t *serial,
                         size_t serial_len)
{
    uint8_t key[REVOCATION_KEY_MAX];
    size_t key_len;

    if (g == NULL || prov == NULL)
        return false;
    key_len = revocation_key(prov, serial, serial_len, key);
    return key_len != 0 && map_get(g->revoked, key, key_len) != NULL;
}

size_t grants_cert_revocations(const struct grants *g)
{
    return map_count(g->revoked);
}
