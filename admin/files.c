/* The output directory: where each file goes, writing it only when it
 * changed, and the per-file report (created, updated, kept). */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/keyfile.h"

#define COPY_MAX (1024 * 1024)

int adm_failed(struct adm_ctx *c, const char *path, int rc)
{
    snprintf(c->why, sizeof(c->why), "%.900s: %s", path, onr_strerror(rc));
    return rc;
}

/* buf = prefix + the formatted rest, within ADM_PATH bytes. */
static int vformat(struct adm_ctx *c, char *buf, const char *prefix, const char *host,
                   const char *fmt, va_list ap)
{
    int n = host == NULL ? snprintf(buf, ADM_PATH, "%s", prefix)
                         : snprintf(buf, ADM_PATH, "%s/hosts/%s", prefix, host);
    int m;

    if (n < 0 || n >= ADM_PATH) {
        snprintf(c->why, sizeof(c->why), "a path under %.200s is too long", c->out);
        return ONR_ESPACE;
    }
    m = vsnprintf(buf + n, ADM_PATH - (size_t)n, fmt, ap);
    if (m < 0 || m >= ADM_PATH - n) {
        snprintf(c->why, sizeof(c->why), "a path under %.200s is too long", c->out);
        return ONR_ESPACE;
    }
    return ONR_OK;
}

int adm_path(struct adm_ctx *c, char *buf, const char *fmt, ...)
{
    char prefix[ADM_PATH + 2];
    va_list ap;
    int rc;

    if (snprintf(prefix, sizeof(prefix), "%s/", c->out) < 0)
        return ONR_EINVAL;
    va_start(ap, fmt);
    rc = vformat(c, buf, prefix, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int adm_join(struct adm_ctx *c, char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, ADM_PATH, "%s/%s", dir, name);

    if (n < 0 || n >= ADM_PATH) {
        snprintf(c->why, sizeof(c->why), "a path under %.200s is too long", c->out);
        return ONR_ESPACE;
    }
    return ONR_OK;
}

static int host_prefixed(struct adm_ctx *c, size_t h, int prefixed, char *buf, const char *fmt,
                         va_list ap)
{
    if (prefixed)
        return vformat(c, buf, c->out, c->t->hosts[h].name, fmt, ap);
    return vformat(c, buf, "", NULL, fmt, ap);
}

int adm_host_path(struct adm_ctx *c, size_t h, char *buf, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = host_prefixed(c, h, 1, buf, fmt, ap);
    va_end(ap);
    return rc;
}

int adm_conf_path(struct adm_ctx *c, size_t h, char *buf, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = host_prefixed(c, h, c->local, buf, fmt, ap);
    va_end(ap);
    return rc;
}

int adm_dir(struct adm_ctx *c, const char *dir, mode_t mode)
{
    char path[ADM_PATH];
    struct stat st;
    size_t len = strlen(dir);

    if (len >= sizeof(path))
        return adm_failed(c, dir, ONR_ESPACE);
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, i == len ? mode : 0755) != 0 && errno != EEXIST) {
            snprintf(c->why, sizeof(c->why), "%.900s: %s", path, strerror(errno));
            return ONR_EIO;
        }
        if (i < len)
            path[i] = '/';
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(c->why, sizeof(c->why), "%.900s: not a directory", dir);
        return ONR_EIO;
    }
    if ((st.st_mode & 07777) != mode && chmod(dir, mode) != 0) {
        snprintf(c->why, sizeof(c->why), "%.900s: %s", dir, strerror(errno));
        return ONR_EIO;
    }
    return ONR_OK;
}

/* The directories above `path`, those missing made 0755 (directories that
 * must be private are made first with adm_dir). */
static int parent_dir(struct adm_ctx *c, const char *path)
{
    char dir[ADM_PATH];
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - path);
    struct stat st;

    if (len == 0 || len >= sizeof(dir))
        return ONR_OK;
    memcpy(dir, path, len);
    dir[len] = '\0';
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return ONR_OK;
    return adm_dir(c, dir, 0755);
}

void adm_report(struct adm_ctx *c, const char *path, enum onr_file_change change)
{
    size_t skip = strlen(c->out);

    c->counts[change]++;
    if (c->quiet && change == ONR_FILE_KEPT)
        return;
    if (strncmp(path, c->out, skip) == 0 && path[skip] == '/')
        path += skip + 1; /* relative to OUT */
    printf("%-8s %s\n", onr_file_change_name(change), path);
}

int adm_put(struct adm_ctx *c, const char *path, const void *data, size_t len, mode_t mode)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    int rc = parent_dir(c, path);

    if (rc != ONR_OK)
        return rc;
    rc = onr_file_put(path, data, len, mode, &change);
    if (rc != ONR_OK)
        return adm_failed(c, path, rc);
    adm_report(c, path, change);
    return ONR_OK;
}

int adm_put_public(struct adm_ctx *c, const char *path, const uint8_t *pub, size_t len)
{
    enum onr_file_change change = ONR_FILE_KEPT;
    int rc = parent_dir(c, path);

    if (rc != ONR_OK)
        return rc;
    if (len == ONR_P256_PUB_LEN)
        rc = onr_keyfile_p256_public(path, pub, &change);
    else if (len == ONR_X25519_KEY_LEN)
        rc = onr_keyfile_x25519_public(path, pub, &change);
    else
        rc = ONR_EINVAL;
    if (rc != ONR_OK)
        return adm_failed(c, path, rc);
    adm_report(c, path, change);
    return ONR_OK;
}

int adm_put_text(struct adm_ctx *c, const char *path, const struct adm_text *text, mode_t mode)
{
    if (text->failed)
        return adm_failed(c, path, ONR_ENOMEM);
    return adm_put(c, path, text->buf, text->len, mode);
}

int adm_copy(struct adm_ctx *c, const char *from, const char *to, mode_t mode)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = onr_file_read(from, COPY_MAX, mode == ONR_FILE_SECRET, &data, &len);

    if (rc != ONR_OK)
        return adm_failed(c, from, rc);
    rc = adm_put(c, to, data, len, mode);
    if (mode == ONR_FILE_SECRET)
        onr_wipe(data, len);
    free(data);
    return rc;
}

void adm_summary(struct adm_ctx *c)
{
    size_t all = c->counts[ONR_FILE_CREATED] + c->counts[ONR_FILE_UPDATED] +
                 c->counts[ONR_FILE_KEPT];

    printf("onramp-admin: %zu files in %s: %zu created, %zu updated, %zu kept\n", all, c->out,
           c->counts[ONR_FILE_CREATED], c->counts[ONR_FILE_UPDATED], c->counts[ONR_FILE_KEPT]);
}
