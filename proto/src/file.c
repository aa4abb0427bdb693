#include "onramp/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding `path` so the rename itself is durable. */
static int sync_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len;
    int fd;
    int rc;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof(dir))
            return -1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int onr_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd = -1;
    int rc = ONR_EIO;

    if (path == NULL || path[0] == '\0' || (data == NULL && len > 0))
        return ONR_EINVAL;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
        return ONR_EINVAL;
    fd = mkstemp(tmp);
    if (fd < 0)
        return ONR_EIO;
    /* mkstemp creates 0600; set the wanted mode explicitly, ignoring umask. */
    if (fchmod(fd, mode) != 0)
        goto out;
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    tmp[0] = '\0';
    if (sync_parent_dir(path) != 0)
        goto out;
    rc = ONR_OK;
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    return rc;
}

int onr_file_read(const char *path, size_t max_len, int secret, uint8_t **out,
                  size_t *out_len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd = -1;
    int rc = ONR_EIO;

    if (path == NULL || out == NULL || out_len == NULL)
        return ONR_EINVAL;
    *out = NULL;
    *out_len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ONR_ENOENT : ONR_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        rc = ONR_EPERM;
        goto out;
    }
    if ((uintmax_t)st.st_size > max_len) {
        rc = ONR_ETOOBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = ONR_ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    buf = NULL;
    rc = ONR_OK;
out:
    if (buf != NULL) {
        if (secret)
            onr_wipe(buf, got);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

const char *onr_file_change_name(enum onr_file_change change)
{
    switch (change) {
    case ONR_FILE_CREATED: return "created";
    case ONR_FILE_UPDATED: return "updated";
    case ONR_FILE_KEPT: break;
    }
    return "kept";
}

int onr_file_put(const char *path, const void *data, size_t len, mode_t mode,
                 enum onr_file_change *change)
{
    struct stat st;
    uint8_t *old = NULL;
    size_t old_len = 0;
    int same = 0;
    int exists;
    int rc;

    if (path == NULL || (data == NULL && len > 0))
        return ONR_EINVAL;
    exists = lstat(path, &st) == 0;
    if (exists && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
        (uintmax_t)st.st_size == len) {
        rc = onr_file_read(path, len, 0, &old, &old_len);
        same = rc == ONR_OK && old_len == len && (len == 0 || memcmp(old, data, len) == 0);
        if (old != NULL) {
            if (mode == ONR_FILE_SECRET)
                onr_wipe(old, old_len);
            free(old);
        }
    }
    if (!same) {
        rc = onr_file_write_atomic(path, data, len, mode);
        if (rc != ONR_OK)
            return rc;
    }
    if (change != NULL)
        *change = same ? ONR_FILE_KEPT : exists ? ONR_FILE_UPDATED : ONR_FILE_CREATED;
    return ONR_OK;
}
