#include "onramp/keyfile.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

#define DAY 86400

static void set_change(enum onr_file_change *out, enum onr_file_change change)
{
    if (out != NULL)
        *out = change;
}

/* 1 if `path` is a regular file with exactly `mode`; 0 if it is something
 * else; -1 if there is nothing there. */
static int file_state(const char *path, mode_t mode)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return -1;
    return S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode;
}

/* What writing `path` is: a creation or an update. */
static enum onr_file_change writing(const char *path)
{
    return file_state(path, 0) < 0 ? ONR_FILE_CREATED : ONR_FILE_UPDATED;
}

int onr_keyfile_p256(const char *path, struct onr_p256_key **key,
                     enum onr_file_change *change)
{
    int rc;

    if (path == NULL || key == NULL)
        return ONR_EINVAL;
    *key = NULL;
    rc = onr_p256_load(path, key);
    if (rc == ONR_OK) {
        set_change(change, ONR_FILE_KEPT);
        return ONR_OK;
    }
    if (rc != ONR_ENOENT)
        return rc;
    rc = onr_p256_generate(key);
    if (rc == ONR_OK)
        rc = onr_p256_save(*key, path);
    if (rc != ONR_OK) {
        onr_p256_free(*key);
        *key = NULL;
        return rc;
    }
    set_change(change, ONR_FILE_CREATED);
    return ONR_OK;
}

int onr_keyfile_x25519(const char *path, uint8_t sk[ONR_X25519_KEY_LEN],
                       enum onr_file_change *change)
{
    uint8_t pk[ONR_X25519_KEY_LEN];
    int rc;

    if (path == NULL || sk == NULL)
        return ONR_EINVAL;
    rc = onr_x25519_load(path, sk);
    if (rc == ONR_OK) {
        set_change(change, ONR_FILE_KEPT);
        return ONR_OK;
    }
    if (rc != ONR_ENOENT)
        return rc;
    rc = onr_x25519_generate(sk, pk);
    if (rc == ONR_OK)
        rc = onr_x25519_save(sk, path);
    if (rc != ONR_OK) {
        onr_wipe(sk, ONR_X25519_KEY_LEN);
        return rc;
    }
    set_change(change, ONR_FILE_CREATED);
    return ONR_OK;
}

/* A public key file of `len` bytes of key (P-256 or X25519, by their load
 * and save functions): kept if it holds `pub`, else written. */
static int public_file(const char *path, const uint8_t *pub, size_t len,
                       int (*load)(const char *path, uint8_t *out),
                       int (*save)(const uint8_t *pub, const char *path),
                       enum onr_file_change *change)
{
    uint8_t old[ONR_P256_PUB_LEN];
    enum onr_file_change what;
    int rc;

    if (path == NULL || pub == NULL)
        return ONR_EINVAL;
    if (file_state(path, ONR_FILE_PUBLIC) == 1 && load(path, old) == ONR_OK &&
        memcmp(old, pub, len) == 0) {
        set_change(change, ONR_FILE_KEPT);
        return ONR_OK;
    }
    what = writing(path);
    rc = save(pub, path);
    if (rc == ONR_OK)
        set_change(change, what);
    return rc;
}

int onr_keyfile_p256_public(const char *path, const uint8_t pub[ONR_P256_PUB_LEN],
                            enum onr_file_change *change)
{
    return public_file(path, pub, ONR_P256_PUB_LEN, onr_p256_public_load,
                       onr_p256_public_save, change);
}

int onr_keyfile_x25519_public(const char *path, const uint8_t pub[ONR_X25519_KEY_LEN],
                              enum onr_file_change *change)
{
    return public_file(path, pub, ONR_X25519_KEY_LEN, onr_x25519_public_load,
                       onr_x25519_public_save, change);
}

/* 1 if the certificate in `path` is still right; its DER into `der`. */
static int cert_still_right(const char *path, const uint8_t pub[ONR_P256_PUB_LEN],
                            const struct onr_x509_profile *profile,
                            const struct onr_keyfile_issuer *issuer, uint32_t renew_days,
                            uint8_t *der, size_t *der_len)
{
    uint8_t buf[ONR_X509_MAX_DER * 2];
    size_t buf_len = sizeof(buf);
    struct onr_x509_info info;
    struct onr_bytes cert;
    size_t n = 0;

    if (file_state(path, ONR_FILE_PUBLIC) != 1 ||
        onr_x509_load(path, buf, &buf_len, &cert, 1, &n) != ONR_OK || n != 1 ||
        cert.len > *der_len || onr_x509_parse(cert.ptr, cert.len, &info) != ONR_OK)
        return 0;
    if (memcmp(info.public_key, pub, ONR_P256_PUB_LEN) != 0 ||
        onr_x509_check_profile(cert.ptr, cert.len, profile) != ONR_OK ||
        info.not_after - (int64_t)time(NULL) < (int64_t)renew_days * DAY)
        return 0;
    if (issuer != NULL &&
        onr_x509_verify_chain(issuer->cert, issuer->cert_len, &cert, 1, NULL) != ONR_OK)
        return 0;
    memcpy(der, cert.ptr, cert.len);
    *der_len = cert.len;
    return 1;
}

int onr_keyfile_cert(const char *path, const struct onr_p256_key *key,
                     const struct onr_x509_profile *profile,
                     const struct onr_keyfile_issuer *issuer, uint32_t renew_days,
                     uint8_t *der, size_t *der_len, enum onr_file_change *change)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    enum onr_file_change what;
    struct onr_bytes cert;
    int rc;

    if (path == NULL || key == NULL || profile == NULL || der == NULL || der_len == NULL ||
        (issuer != NULL && (issuer->key == NULL || issuer->cert == NULL)))
        return ONR_EINVAL;
    rc = onr_p256_public(key, pub);
    if (rc != ONR_OK)
        return rc;
    if (cert_still_right(path, pub, profile, issuer, renew_days, der, der_len)) {
        set_change(change, ONR_FILE_KEPT);
        return ONR_OK;
    }
    what = writing(path);
    if (issuer == NULL)
        rc = onr_x509_self_signed(key, profile, der, der_len);
    else
        rc = onr_x509_issue(issuer->key, issuer->cert, issuer->cert_len, pub, profile, der,
                            der_len);
    cert = (struct onr_bytes){der, *der_len};
    if (rc == ONR_OK)
        rc = onr_x509_save(path, &cert, 1);
    if (rc == ONR_OK)
        set_change(change, what);
    return rc;
}
