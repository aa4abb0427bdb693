/*
 * A certificate renewal's files (see device_internal.h, SPEC section 17):
 * renew/, where the new key and the provider's answer wait apart from the
 * service credentials in force, the switch that moves them up, the
 * "renewed" note kept until the provider confirms, and the way back to
 * enrollment for a certificate that expired. Every step is durable
 * before the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/hash.h"
#include "onramp/hex.h"
#include "onramp/x509.h"

#define RENEW_CONTEXT "onramp/1 renew"

/* What the switch moves up, each over the one in force; a switch cut short
 * leaves renew/ready, and the next open finishes it. */
static const char *const moved[] = {DEVICE_SERVICE_CERT_FILE, DEVICE_SERVICE_CA_FILE,
                                    DEVICE_ENDPOINT_FILE, DEVICE_SERVICE_KEY_FILE};

int64_t device_renew_at(const char *dev, const struct device_service *s, int64_t renew_before)
{
    const struct onr_bytes parts[] = {
        {(const uint8_t *)RENEW_CONTEXT, sizeof(RENEW_CONTEXT)},
        {(const uint8_t *)dev, dev != NULL ? strlen(dev) : 0},
        {s != NULL ? s->serial : NULL, s != NULL ? s->serial_len : 0},
    };
    uint8_t hash[ONR_SHA256_LEN];
    int64_t before, quarter;
    uint32_t j;

    if (dev == NULL || s == NULL || s->not_after <= s->not_before || renew_before < 0 ||
        onr_sha256(parts, 3, hash) != ONR_OK)
        return 0;
    before = renew_before > 0 ? renew_before : (s->not_after - s->not_before) / 3;
    quarter = before / 4;
    j = (uint32_t)hash[0] << 24 | (uint32_t)hash[1] << 16 | (uint32_t)hash[2] << 8 | hash[3];
    return s->not_after - before - (int64_t)(j % (uint64_t)(quarter + 1));
}

static int renew_dir(const char *dir, char out[DEVICE_PATH_MAX + 200])
{
    return device_path(out, DEVICE_PATH_MAX + 200, dir, DEVICE_RENEW_DIR);
}

int device_renewal_key(const char *dir, struct onr_p256_key **key)
{
    char renew[DEVICE_PATH_MAX + 200];
    struct onr_p256_key *made = NULL;
    int rc = renew_dir(dir, renew);

    *key = NULL;
    if (rc != ONR_OK)
        return rc;
    if (mkdir(renew, 0700) == 0) {
        int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        rc = top >= 0 && fsync(top) == 0 ? ONR_OK : ONR_EIO;
        if (top >= 0)
            close(top);
    } else if (errno != EEXIST) {
        rc = ONR_EIO;
    }
    if (rc != ONR_OK)
        return rc;
    rc = device_service_key_load(renew, key);
    if (rc != ONR_ENOENT)
        return rc;
    /* durable before any request names it */
    rc = onr_p256_generate(&made);
    if (rc == ONR_OK && device_service_key_save(renew, made) != ONR_OK)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        *key = made;
    else
        onr_p256_free(made);
    return rc;
}

/* "HEX\n" of `serial` into `file` under `dir`, atomically, 0600. */
static int note_save(const char *dir, const char *file, const uint8_t *serial, size_t len)
{
    char path[DEVICE_PATH_MAX + 200];
    char text[2 * 20 + 2];
    int rc = device_path(path, sizeof(path), dir, file);

    if (len == 0 || len > 20)
        return ONR_EINVAL;
    onr_hex_encode(serial, len, text);
    text[2 * len] = '\n';
    if (rc == ONR_OK && onr_file_write_atomic(path, text, 2 * len + 1, 0600) != ONR_OK)
        rc = ONR_EIO;
    return rc;
}

/* A note's serial: 1 and the serial, 0 if there is none, ONR_EFORMAT. */
static int note_load(const char *dir, const char *file, uint8_t serial[20], size_t *len)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = device_path(path, sizeof(path), dir, file);

    if (rc == ONR_OK)
        rc = onr_file_read(path, 2 * 20 + 1, 0, &data, &n);
    if (rc == ONR_ENOENT)
        return 0;
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : ONR_EIO;
    rc = ONR_EFORMAT;
    if (n >= 3 && data[n - 1] == '\n' &&
        onr_hex_decode((const char *)data, n - 1, serial, 20) == (n - 1) / 2 &&
        (n - 1) % 2 == 0) {
        *len = (n - 1) / 2;
        rc = 1;
    }
    free(data);
    return rc;
}

int device_take_renewal(const char *dev, const struct onr_p256_key *key,
                        const struct onr_msg_enroll_response *m, const char *dir,
                        const struct device_service *old, struct device_service *out)
{
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    char renew[DEVICE_PATH_MAX + 200];
    size_t n = 0;
    int rc;

    rc = dir != NULL && old != NULL ? device_answer_check(dev, key, m, certs, &n, out)
                                    : ONR_EINVAL;
    if (rc == ONR_OK)
        rc = renew_dir(dir, renew);
    /* the answer whole, then the note that the switch is due, then it */
    if (rc == ONR_OK &&
        (device_service_save(renew, certs, n, m->ca, out->endpoint, strlen(out->endpoint)) !=
             ONR_OK ||
         note_save(renew, DEVICE_RENEW_READY_FILE, old->serial, old->serial_len) != ONR_OK))
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = device_renewal_commit(dir);
    if (rc != ONR_OK && out != NULL)
        memset(out, 0, sizeof(*out));
    return rc;
}

int device_renewal_commit(const char *dir)
{
    char renew[DEVICE_PATH_MAX + 200];
    uint8_t serial[20];
    size_t len = 0;
    int top = -1, sub = -1;
    int rc = renew_dir(dir, renew);

    if (rc == ONR_OK)
        rc = note_load(renew, DEVICE_RENEW_READY_FILE, serial, &len);
    if (rc <= 0)
        return rc == 0 ? ONR_OK : ONR_EIO; /* no switch due (a damaged note too: the
                                              answer was not whole; asked again) */
    rc = ONR_OK;
    top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sub = top >= 0 ? openat(top, DEVICE_RENEW_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (sub < 0)
        rc = ONR_EIO;
    for (size_t i = 0; rc == ONR_OK && i < sizeof(moved) / sizeof(moved[0]); i++)
        rc = device_move_up(sub, top, moved[i]);
    if (sub >= 0)
        close(sub);
    if (top >= 0)
        close(top);
    /* in force: note it for the provider's confirmation, then clear renew/ */
    if (rc == ONR_OK)
        rc = note_save(dir, DEVICE_RENEWED_FILE, serial, len);
    if (rc == ONR_OK)
        rc = device_subdir_remove(dir, DEVICE_RENEW_DIR);
    return rc == ONR_OK ? ONR_OK : ONR_EIO;
}

int device_renewed_pending(const char *dir, uint8_t serial[20], size_t *len)
{
    return note_load(dir, DEVICE_RENEWED_FILE, serial, len);
}

/* `name` under `dir` removed, durably; none is fine. */
static int remove_file(const char *dir, const char *name)
{
    int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = ONR_OK;

    if (top < 0)
        return ONR_EIO;
    if (unlinkat(top, name, 0) != 0 && errno != ENOENT)
        rc = ONR_EIO;
    if (rc == ONR_OK && fsync(top) != 0)
        rc = ONR_EIO;
    close(top);
    return rc;
}

int device_renewed_clear(const char *dir)
{
    return remove_file(dir, DEVICE_RENEWED_FILE);
}

int device_enrollment_restart(const char *dir)
{
    static const char *const files[] = {DEVICE_RENEWED_FILE, DEVICE_ENDPOINT_FILE,
                                        DEVICE_SERVICE_CA_FILE, DEVICE_SERVICE_CERT_FILE,
                                        DEVICE_SERVICE_KEY_FILE};
    int rc = device_subdir_remove(dir, DEVICE_RENEW_DIR);

    for (size_t i = 0; rc == ONR_OK && i < sizeof(files) / sizeof(files[0]); i++)
        rc = remove_file(dir, files[i]);
    return rc;
}

int device_service_expire(const char *dir)
{
    if (device_state_save(dir, ONR_DEVICE_NETWORK_ATTACHED) != ONR_OK)
        return ONR_EIO;
    return device_enrollment_restart(dir);
}
