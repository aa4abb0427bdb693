/*
 * PEM files for keys and certificates (internal). `type` is one of
 * wolfCrypt's CertType values (CERT_TYPE, PUBLICKEY_TYPE,
 * ECC_PRIVATEKEY_TYPE, PKCS8_PRIVATEKEY_TYPE, CERTREQ_TYPE, ...), which picks
 * the BEGIN/END label.
 */
#ifndef ONRAMP_PROTO_PEM_H
#define ONRAMP_PROTO_PEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest PEM file Onramp reads: certificate chains, keys. */
#define ONR_PEM_MAX_FILE (64 * 1024)

/*
 * onr_pem_save: write `der` (borrowed) as one PEM block of `type` to `path`,
 * atomically, with `mode`. Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM,
 * ONR_ECRYPTO or ONR_EIO.
 */
int onr_pem_save(const char *path, int type, const uint8_t *der, size_t der_len,
                 mode_t mode);

/*
 * onr_pem_encode: `der` as one PEM block of `type` in a new heap string
 * (*pem, NUL-terminated, *pem_len without the NUL); the caller frees it.
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM or ONR_ECRYPTO.
 */
int onr_pem_encode(int type, const uint8_t *der, size_t der_len, char **pem,
                   size_t *pem_len);

/*
 * onr_pem_decode: the first PEM block of `type` in `pem` (borrowed) into
 * `der` (caller's buffer of *der_len bytes; on success *der_len is the DER
 * length). Returns ONR_OK, ONR_EINVAL, ONR_EFORMAT or ONR_ESPACE.
 */
int onr_pem_decode(int type, const uint8_t *pem, size_t pem_len, uint8_t *der,
                   size_t *der_len);

/*
 * onr_pem_load: onr_pem_decode of the file at `path`. With `secret`, the
 * file must not be accessible to group or others (ONR_EPERM) and its bytes
 * are wiped after decoding. Returns what onr_file_read and onr_pem_decode
 * return.
 */
int onr_pem_load(const char *path, int type, int secret, uint8_t *der, size_t *der_len);

/*
 * onr_pem_load_key: onr_pem_load for a key file, where a block larger than
 * `der` can only be another algorithm's key: ONR_EBADKEY instead of
 * ONR_ESPACE.
 */
int onr_pem_load_key(const char *path, int type, int secret, uint8_t *der, size_t *der_len);

#endif /* ONRAMP_PROTO_PEM_H */
