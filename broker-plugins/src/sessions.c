#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include "onramp/hex.h"
#include "lines.h"
#include "map.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/text.h"
#include "onramp/x509.h"

/* A line: the id, a space, the hex, a newline. */
#define LINE_MAX_LEN (SESSIONS_ID_MAX + 1 + 2 * ONR_X509_MAX_DER + 1)
#define FILE_MAX ((size_t)SESSIONS_MAX * LINE_MAX_LEN)

struct session {
    size_t der_len;
    uint8_t der[];
};

struct sessions {
    struct map *by_id; /* client id -> struct session */
    char *path;
};

static bool client_id_ok(const char *id, size_t len)
{
    return len > 0 && len <= SESSIONS_ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, len}) == ONR_OK;
}

static struct session *session_new(const uint8_t *der, size_t der_len)
{
    struct session *r = malloc(sizeof(*r) + der_len);

    if (r == NULL)
        return NULL;
    r->der_len = der_len;
    memcpy(r->der, der, der_len);
    return r;
}

/* ---- the file ---- */

struct file_text {
    char *buf;
    size_t len;
};

static void add_line(const void *key, size_t key_len, void *value, void *arg)
{
    const struct session *r = value;
    struct file_text *t = arg;

    memcpy(t->buf + t->len, key, key_len);
    t->len += key_len;
    t->buf[t->len++] = ' ';
    onr_hex_encode(r->der, r->der_len, t->buf + t->len);
    t->len += 2 * r->der_len;
    t->buf[t->len++] = '\n';
}

/* Write the file whole from memory, atomically. */
static int save(struct sessions *s)
{
    struct file_text t = {NULL, 0};
    int rc;

    /* every line fits LINE_MAX_LEN, and the hex's NUL the next line's room */
    t.buf = malloc(map_count(s->by_id) * LINE_MAX_LEN + 1);
    if (t.buf == NULL)
        return ONR_ENOMEM;
    map_each(s->by_id, add_line, &t);
    rc = onr_file_write_atomic(s->path, t.buf, t.len, 0600);
    free(t.buf);
    return rc == ONR_OK ? ONR_OK : ONR_EIO;
}

/* lines_read's taker: one line of the file into memory; NULL if taken,
 * else why it was skipped. */
static const char *load_line(char *line, void *arg)
{
    struct sessions *s = arg;
    uint8_t der[ONR_X509_MAX_DER];
    char *space = strchr(line, ' ');
    size_t id_len;
    size_t der_len;
    struct session *r;

    if (space == NULL)
        return "no certificate";
    id_len = (size_t)(space - line);
    *space = '\0';
    if (!client_id_ok(line, id_len))
        return "bad client id";
    der_len = onr_hex_decode(space + 1, strlen(space + 1), der, sizeof(der));
    if (der_len == 0)
        return "bad certificate hex";
    if (map_get(s->by_id, line, id_len) != NULL)
        return "client id twice";
    if (map_count(s->by_id) >= SESSIONS_MAX)
        return "too many sessions";
    r = session_new(der, der_len);
    if (r == NULL || map_put(s->by_id, line, id_len, r, NULL) != 0) {
        free(r);
        return "out of memory";
    }
    return NULL;
}

/* ---- the interface ---- */

int sessions_open(const char *path, sessions_skip_cb skipped, void *arg, struct sessions **out)
{
    struct sessions *s;
    int rc;

    if (path == NULL || path[0] == '\0' || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ONR_ENOMEM;
    s->path = strdup(path);
    s->by_id = map_new();
    rc = s->path == NULL || s->by_id == NULL
             ? ONR_ENOMEM
             : lines_read(s->path, FILE_MAX, LINE_MAX_LEN, load_line, s, skipped, arg);
    if (rc != ONR_OK) {
        sessions_close(s);
        return rc;
    }
    *out = s;
    return ONR_OK;
}

void sessions_close(struct sessions *s)
{
    if (s == NULL)
        return;
    map_free_with_values(s->by_id);
    free(s->path);
    free(s);
}

/* The client ids to drop, gathered first: map_each may not change the map. */
struct filter_ctx {
    sessions_keep_cb keep;
    void *arg;
    char (*drop)[SESSIONS_ID_MAX + 1];
    size_t n_drop;
};

static void judge(const void *key, size_t key_len, void *value, void *arg)
{
    const struct session *r = value;
    struct filter_ctx *f = arg;
    char id[SESSIONS_ID_MAX + 1];

    memcpy(id, key, key_len);
    id[key_len] = '\0';
    if (!f->keep(id, r->der, r->der_len, f->arg))
        memcpy(f->drop[f->n_drop++], id, key_len + 1);
}

int sessions_filter(struct sessions *s, sessions_keep_cb keep, void *arg)
{
    struct filter_ctx f = {keep, arg, NULL, 0};

    if (map_count(s->by_id) == 0)
        return ONR_OK;
    f.drop = calloc(map_count(s->by_id), sizeof(*f.drop));
    if (f.drop == NULL)
        return ONR_ENOMEM;
    map_each(s->by_id, judge, &f);
    for (size_t i = 0; i < f.n_drop; i++)
        free(map_remove(s->by_id, f.drop[i], strlen(f.drop[i])));
    free(f.drop);
    return f.n_drop > 0 ? save(s) : ONR_OK;
}

int sessions_put(struct sessions *s, const char *client_id, const uint8_t *der, size_t der_len)
{
    size_t id_len;
    struct session *r;
    void *old = NULL;
    int rc;

    if (s == NULL || client_id == NULL || der == NULL || der_len == 0 ||
        der_len > ONR_X509_MAX_DER)
        return ONR_EINVAL;
    id_len = strnlen(client_id, SESSIONS_ID_MAX + 1);
    if (!client_id_ok(client_id, id_len))
        return ONR_EINVAL;
    r = map_get(s->by_id, client_id, id_len);
    if (r != NULL && r->der_len == der_len && memcmp(r->der, der, der_len) == 0)
        return 0;
    if (r == NULL && map_count(s->by_id) >= SESSIONS_MAX)
        return ONR_EEXHAUSTED;
    r = session_new(der, der_len);
    if (r == NULL || map_put(s->by_id, client_id, id_len, r, &old) != 0) {
        free(r);
        return ONR_ENOMEM;
    }
    rc = save(s);
    if (rc != ONR_OK) {
        /* memory as before, so the next admission tries again */
        if (old != NULL)
            map_put(s->by_id, client_id, id_len, old, NULL); /* the slot exists: no alloc */
        else
            map_remove(s->by_id, client_id, id_len);
        free(r);
        return rc;
    }
    free(old);
    return 1;
}

int sessions_remove(struct sessions *s, const char *client_id)
{
    size_t id_len;
    struct session *r;
    int rc;

    if (s == NULL || client_id == NULL)
        return 0;
    id_len = strnlen(client_id, SESSIONS_ID_MAX + 1);
    if (id_len > SESSIONS_ID_MAX)
        return 0;
    r = map_remove(s->by_id, client_id, id_len);
    if (r == NULL)
        return 0;
    rc = save(s);
    if (rc != ONR_OK) {
        if (map_put(s->by_id, client_id, id_len, r, NULL) != 0)
            free(r); /* memory is short: forgotten, which errs on not vouching */
        return rc;
    }
    free(r);
    return 1;
}

size_t sessions_count(const struct sessions *s)
{
    return s == NULL ? 0 : map_count(s->by_id);
}
