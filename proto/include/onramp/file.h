/*
 * Durable, bounded file I/O for state and keys.
 *
 * Writes are atomic: a temporary file in the same directory is written,
 * fsync'ed and renamed over the target, then the directory is fsync'ed, so
 * after a power cut a reader sees either the old content or the new one.
 */
#ifndef ONRAMP_FILE_H
#define ONRAMP_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Mode for files holding a secret (private keys, profiles). */
#define ONR_FILE_SECRET 0600
/* Mode for public material (certificates, public keys). */
#define ONR_FILE_PUBLIC 0644

/*
 * onr_file_write_atomic: replace `path` (borrowed) with `len` bytes of `data`
 * (borrowed), created with `mode` regardless of the umask.
 * Returns ONR_OK, ONR_EINVAL or ONR_EIO (nothing at `path` changed then).
 */
int onr_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * onr_file_read: read the whole of `path` into a new heap buffer (*out, NUL
 * terminated for convenience, *out_len excludes the NUL). Files larger than
 * `max_len` are refused with ONR_ETOOBIG. With `secret` set, a file that the
 * group or others may read or write is refused with ONR_EPERM, as ssh does.
 * The caller frees *out (onr_wipe it first if it held a secret).
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOENT, ONR_EPERM, ONR_ETOOBIG, ONR_ENOMEM
 * or ONR_EIO.
 */
int onr_file_read(const char *path, size_t max_len, int secret, uint8_t **out,
                  size_t *out_len);

/* What onr_file_put (and <onramp/keyfile.h>) did to a file. */
enum onr_file_change {
    ONR_FILE_KEPT = 0, /* it already held what it should: not written */
    ONR_FILE_CREATED,  /* it did not exist */
    ONR_FILE_UPDATED,  /* it existed and was replaced */
};

/* onr_file_change_name: "kept", "created" or "updated" (static). */
const char *onr_file_change_name(enum onr_file_change change);

/*
 * onr_file_put: make `path` hold exactly `len` bytes of `data` with `mode`,
 * writing it (atomically, as onr_file_write_atomic) only if it does not
 * already; *change (may be NULL) says what happened. What is read back to
 * compare is wiped when `mode` is ONR_FILE_SECRET.
 * Returns ONR_OK, ONR_EINVAL or ONR_EIO.
 */
int onr_file_put(const char *path, const void *data, size_t len, mode_t mode,
                 enum onr_file_change *change);

#endif /* ONRAMP_FILE_H */
