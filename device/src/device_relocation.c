/*
 * A relocation's files (see device_internal.h, SPEC section 16): next/,
 * where the new operator's voucher, profile, sequence numbers and keys are
 * kept apart from the device's own, and the switch that moves them up.
 * Every step is durable before the next: files written atomically,
 * renames and removals followed by a sync of the directories they touch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/error.h"

/* What the switch moves up, each over the device's own. */
static const char *const moved[] = {DEVICE_VOUCHER_FILE, DEVICE_PROFILE_FILE, DEVICE_SQN_FILE,
                                    DEVICE_AKMA_FILE};

int device_slot_dir(const char *dir, enum device_slot slot, char *out, size_t cap)
{
    if (slot == DEVICE_CURRENT) {
        size_t n = strlen(dir);

        if (n >= cap)
            return ONR_ESPACE;
        memcpy(out, dir, n + 1);
        return ONR_OK;
    }
    return device_path(out, cap, dir, DEVICE_NEXT_DIR);
}

static int open_dir(const char *path)
{
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int device_relocation_remove(const char *dir)
{
    return device_subdir_remove(dir, DEVICE_NEXT_DIR);
}

int device_relocation_start(const char *dir, const uint8_t *token, size_t len)
{
    char next[DEVICE_PATH_MAX + 200];
    int top;
    int rc = device_slot_dir(dir, DEVICE_NEXT, next, sizeof(next));

    if (rc != ONR_OK)
        return rc;
    /* afresh: nothing an abandoned relocation left is this one's */
    rc = device_relocation_remove(dir);
    if (rc != ONR_OK)
        return rc;
    top = open_dir(dir);
    if (top < 0)
        return ONR_EIO;
    if (mkdirat(top, DEVICE_NEXT_DIR, 0700) != 0 || fsync(top) != 0)
        rc = ONR_EIO;
    close(top);
    /* the voucher, then the nonces forgotten, then the state */
    if (rc == ONR_OK && device_voucher_save(next, token, len) != ONR_OK)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = device_reported_clear(dir);
    if (rc == ONR_OK && device_state_save(dir, ONR_DEVICE_RELOCATING) != ONR_OK)
        rc = ONR_EIO;
    return rc;
}

int device_relocation_commit(const char *dir)
{
    enum onr_device_state state;
    int top = -1;
    int next = -1;
    int rc = device_state_load(dir, &state);

    if (rc != ONR_OK)
        return rc;
    if (state != ONR_DEVICE_RELOCATED)
        return ONR_EINVAL;
    top = open_dir(dir);
    if (top < 0)
        return ONR_EIO;
    next = openat(top, DEVICE_NEXT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (next < 0)
        rc = errno == ENOENT ? ONR_EFORMAT : ONR_EIO; /* RELOCATED names what is not there */
    for (size_t i = 0; rc == ONR_OK && i < sizeof(moved) / sizeof(moved[0]); i++)
        rc = device_move_up(next, top, moved[i]);
    if (next >= 0)
        close(next);
    close(top);
    /* the new profile is the device's: say so, then clear next/ */
    if (rc == ONR_OK && device_state_save(dir, ONR_DEVICE_OPERATIONAL) != ONR_OK)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = device_relocation_remove(dir);
    return rc;
}

int device_relocation_abandon(const char *dir)
{
    enum onr_device_state state;
    int rc = device_state_load(dir, &state);

    if (rc != ONR_OK)
        return rc == ONR_EFORMAT ? rc : ONR_EIO;
    if (state != ONR_DEVICE_RELOCATING && state != ONR_DEVICE_RELOCATION_PROFILED)
        return ONR_EINVAL;
    /* the device's own files were never touched: it is OPERATIONAL on
     * them as soon as the journey says so */
    if (device_state_save(dir, ONR_DEVICE_OPERATIONAL) != ONR_OK)
        return ONR_EIO;
    return device_relocation_remove(dir);
}
