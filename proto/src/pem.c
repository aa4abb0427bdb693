#include "internal.h"

#include <wolfssl/wolfcrypt/asn_public.h>

#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "pem.h"

int onr_pem_encode(int type, const uint8_t *der, size_t der_len, char **pem,
                   size_t *pem_len)
{
    /* base64 grows 4/3, plus a newline every 64 characters and the labels. */
    size_t cap = der_len * 4 / 3 + der_len / 48 + 128;
    uint8_t *buf = NULL;
    int n;

    if (der == NULL || der_len == 0 || der_len > ONR_PEM_MAX_FILE || pem == NULL ||
        pem_len == NULL)
        return ONR_EINVAL;
    buf = malloc(cap + 1);
    if (buf == NULL)
        return ONR_ENOMEM;
    n = wc_DerToPem(der, (word32)der_len, buf, (word32)cap, type);
    if (n <= 0) {
        free(buf);
        return ONR_ECRYPTO;
    }
    buf[n] = '\0';
    *pem = (char *)buf;
    *pem_len = (size_t)n;
    return ONR_OK;
}

int onr_pem_save(const char *path, int type, const uint8_t *der, size_t der_len,
                 mode_t mode)
{
    char *pem = NULL;
    size_t pem_len = 0;
    int rc;

    rc = onr_pem_encode(type, der, der_len, &pem, &pem_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_file_write_atomic(path, pem, pem_len, mode);
    onr_wipe(pem, pem_len);
    free(pem);
    return rc;
}

int onr_pem_decode(int type, const uint8_t *pem, size_t pem_len, uint8_t *der,
                   size_t *der_len)
{
    DerBuffer *buf = NULL;
    int rc = ONR_EFORMAT;

    if (pem == NULL || der == NULL || der_len == NULL || pem_len > ONR_PEM_MAX_FILE)
        return ONR_EINVAL;
    if (wc_PemToDer(pem, (long)pem_len, type, &buf, NULL, NULL, NULL) != 0 || buf == NULL)
        goto out;
    if (buf->length > *der_len) {
        rc = ONR_ESPACE;
        goto out;
    }
    memcpy(der, buf->buffer, buf->length);
    *der_len = buf->length;
    rc = ONR_OK;
out:
    if (buf != NULL) {
        onr_wipe(buf->buffer, buf->length);
        wc_FreeDer(&buf);
    }
    return rc;
}

int onr_pem_load(const char *path, int type, int secret, uint8_t *der, size_t *der_len)
{
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    int rc;

    rc = onr_file_read(path, ONR_PEM_MAX_FILE, secret, &pem, &pem_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_pem_decode(type, pem, pem_len, der, der_len);
    if (secret)
        onr_wipe(pem, pem_len);
    free(pem);
    return rc;
}

int onr_pem_load_key(const char *path, int type, int secret, uint8_t *der, size_t *der_len)
{
    int rc = onr_pem_load(path, type, secret, der, der_len);

    return rc == ONR_ESPACE ? ONR_EBADKEY : rc;
}
