/*
 * The telemetry nonces a relocation answers (see device_internal.h): the
 * "reported" file, read and written whole, bounded, atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/hex.h"

/* "HEX PLMN\n": 32 hex digits, a space, 5 or 6 digits, a newline. */
#define LINE_MAX_LEN (2 * ONR_NONCE_LEN + 1 + ONR_PLMN_MAX + 1)
#define FILE_MAX (DEVICE_REPORTED_MAX * LINE_MAX_LEN)

/* One line of `len` bytes (its newline excluded) into slot `i` of `out`. */
static int parse_line(const uint8_t *line, size_t len, struct device_reported *out, size_t i)
{
    size_t plmn_len = len > 2 * ONR_NONCE_LEN + 1 ? len - 2 * ONR_NONCE_LEN - 1 : 0;

    if (plmn_len == 0 || line[2 * ONR_NONCE_LEN] != ' ' ||
        onr_plmn_check((const char *)line + 2 * ONR_NONCE_LEN + 1, plmn_len) != ONR_OK ||
        onr_hex_decode((const char *)line, 2 * ONR_NONCE_LEN, out->r[i].nonce, ONR_NONCE_LEN) !=
            ONR_NONCE_LEN)
        return ONR_EFORMAT;
    memcpy(out->r[i].plmn, line + 2 * ONR_NONCE_LEN + 1, plmn_len);
    out->r[i].plmn[plmn_len] = '\0';
    return ONR_OK;
}

int device_reported_load(const char *dir, struct device_reported *out)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t *data = NULL;
    size_t len = 0;
    size_t at = 0;
    int rc = device_path(path, sizeof(path), dir, DEVICE_REPORTED_FILE);

    memset(out, 0, sizeof(*out));
    if (rc == ONR_OK)
        rc = onr_file_read(path, FILE_MAX, 0, &data, &len);
    if (rc == ONR_ENOENT)
        return ONR_OK; /* nothing reported yet, or all forgotten */
    if (rc != ONR_OK)
        return rc == ONR_ETOOBIG ? ONR_EFORMAT : rc;
    while (rc == ONR_OK && at < len) {
        const uint8_t *nl = memchr(data + at, '\n', len - at);

        if (nl == NULL || out->n == DEVICE_REPORTED_MAX)
            rc = ONR_EFORMAT;
        else
            rc = parse_line(data + at, (size_t)(nl - (data + at)), out, out->n++);
        at = nl != NULL ? (size_t)(nl - data) + 1 : len;
    }
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    free(data);
    return rc;
}

int device_reported_add(const char *dir, const uint8_t nonce[ONR_NONCE_LEN], const char *plmn)
{
    char path[DEVICE_PATH_MAX + 200];
    char text[FILE_MAX + 1];
    struct device_reported r;
    size_t len = 0;
    size_t first;
    int rc;

    if (dir == NULL || nonce == NULL || plmn == NULL ||
        onr_plmn_check(plmn, strnlen(plmn, ONR_PLMN_MAX + 1)) != ONR_OK)
        return ONR_EINVAL;
    rc = device_reported_load(dir, &r);
    if (rc == ONR_OK)
        rc = device_path(path, sizeof(path), dir, DEVICE_REPORTED_FILE);
    if (rc != ONR_OK)
        return rc == ONR_EFORMAT ? rc : ONR_EIO;
    /* the newest DEVICE_REPORTED_MAX - 1 kept, then this one */
    first = r.n == DEVICE_REPORTED_MAX ? 1 : 0;
    for (size_t i = first; i <= r.n; i++) {
        onr_hex_encode(i < r.n ? r.r[i].nonce : nonce, ONR_NONCE_LEN, text + len);
        len += 2 * ONR_NONCE_LEN;
        len += (size_t)snprintf(text + len, sizeof(text) - len, " %s\n",
                                i < r.n ? r.r[i].plmn : plmn);
    }
    return onr_file_write_atomic(path, text, len, ONR_FILE_SECRET) == ONR_OK ? ONR_OK : ONR_EIO;
}

int device_reported_clear(const char *dir)
{
    char path[DEVICE_PATH_MAX + 200];

    if (device_path(path, sizeof(path), dir, DEVICE_REPORTED_FILE) != ONR_OK)
        return ONR_EIO;
    /* an empty file says the same as none, and is as durable */
    return onr_file_write_atomic(path, "", 0, ONR_FILE_SECRET) == ONR_OK ? ONR_OK : ONR_EIO;
}

const char *device_reported_find(const struct device_reported *r, struct onr_bytes nonce)
{
    if (r == NULL || nonce.ptr == NULL || nonce.len != ONR_NONCE_LEN)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        if (memcmp(r->r[i].nonce, nonce.ptr, ONR_NONCE_LEN) == 0)
            return r->r[i].plmn;
    return NULL;
}
