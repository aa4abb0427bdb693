/*
 * The factory reset (<onramp/device.h>): the files the journey added are
 * removed, the journey first, each removal durable before the next; the
 * factory's files are never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/error.h"

#define TEMPORARY ".tmp." /* onr_file_write_atomic's NAME.tmp.XXXXXX */

/* What the journey stores, in the order it is removed: the journey first
 * (after it the device is FACTORY, whatever is left), then the steps'
 * files from the last step back to the first (a relocation's next/ and a
 * renewal's renew/ before them all), so that what a power cut leaves is what an earlier step
 * left. */
static const char *const journey_files[] = {
    DEVICE_JOURNEY_FILE,
    DEVICE_RENEWED_FILE,
    DEVICE_REPORTED_FILE,
    DEVICE_ENDPOINT_FILE,
    DEVICE_SERVICE_CA_FILE,
    DEVICE_SERVICE_CERT_FILE,
    DEVICE_SERVICE_KEY_FILE,
    DEVICE_AKMA_FILE,
    DEVICE_SQN_FILE,
    DEVICE_PROFILE_FILE,
    DEVICE_VOUCHER_FILE,
};
#define N_FILES (sizeof(journey_files) / sizeof(journey_files[0]))

/* `name` no longer in the directory `dir`, durably (the directory
 * fsync'ed). ONR_OK, also when it was not there, or ONR_EIO. */
static int remove_durably(int dir, const char *name)
{
    if (unlinkat(dir, name, 0) != 0 && errno != ENOENT)
        return ONR_EIO;
    return fsync(dir) == 0 ? ONR_OK : ONR_EIO;
}

/* `name` is a temporary of one of the journey's files. */
static bool is_temporary(const char *name)
{
    for (size_t i = 0; i < N_FILES; i++) {
        size_t n = strlen(journey_files[i]);

        if (strncmp(name, journey_files[i], n) == 0 &&
            strncmp(name + n, TEMPORARY, strlen(TEMPORARY)) == 0)
            return true;
    }
    return false;
}

int device_remove_each(int dir, bool (*match)(const char *name))
{
    int fd = dup(dir);
    DIR *d = NULL;
    struct dirent *e;
    int rc = ONR_OK;

    if (fd >= 0)
        d = fdopendir(fd);
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return ONR_EIO;
    }
    for (;;) {
        errno = 0;
        e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rc = ONR_EIO;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (match != NULL && !match(e->d_name)))
            continue;
        if (remove_durably(dir, e->d_name) != ONR_OK)
            rc = ONR_EIO;
    }
    closedir(d); /* closes fd */
    return rc;
}

int device_subdir_remove(const char *dir, const char *name)
{
    int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int sub = -1;
    int rc = ONR_OK;

    if (top < 0)
        return ONR_EIO;
    sub = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sub < 0) {
        rc = errno == ENOENT ? ONR_OK : ONR_EIO;
    } else {
        rc = device_remove_each(sub, NULL);
        close(sub);
        if (rc == ONR_OK && (unlinkat(top, name, AT_REMOVEDIR) != 0 || fsync(top) != 0))
            rc = ONR_EIO;
    }
    close(top);
    return rc;
}

int device_move_up(int from, int to, const char *name)
{
    if (renameat(from, name, to, name) != 0)
        return errno == ENOENT ? ONR_OK : ONR_EIO;
    return fsync(to) == 0 && fsync(from) == 0 ? ONR_OK : ONR_EIO;
}

/* `dir` holds a device: device.conf, a regular file. ONR_OK, ONR_EINVAL,
 * ONR_EIO. */
static int is_device(int dir)
{
    struct stat st;

    if (fstatat(dir, "device.conf", &st, 0) != 0)
        return errno == ENOENT || errno == ENOTDIR ? ONR_EINVAL : ONR_EIO;
    return S_ISREG(st.st_mode) ? ONR_OK : ONR_EINVAL;
}

int onr_device_factory_reset(const char *state_dir)
{
    int dir;
    int rc;

    if (state_dir == NULL || state_dir[0] == '\0')
        return ONR_EINVAL;
    dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? ONR_EINVAL
                                                                            : ONR_EIO;
    rc = is_device(dir);
    /* the journey first, durably, or nothing else */
    if (rc == ONR_OK)
        rc = remove_durably(dir, journey_files[0]);
    if (rc == ONR_OK) {
        if (device_relocation_remove(state_dir) != ONR_OK ||
            device_subdir_remove(state_dir, DEVICE_RENEW_DIR) != ONR_OK)
            rc = ONR_EIO;
        for (size_t i = 1; i < N_FILES; i++)
            if (remove_durably(dir, journey_files[i]) != ONR_OK)
                rc = ONR_EIO;
        /* the temporaries of the journey's files */
        if (device_remove_each(dir, is_temporary) != ONR_OK)
            rc = ONR_EIO;
    }
    close(dir);
    return rc;
}
