/*
 * Key and certificate files that are made once and then kept: what
 * onramp-admin and onramp-factory new-manufacturer write, so running them
 * again changes nothing that is right.
 *
 * A key is the identity of whoever holds it: an existing key file is
 * loaded, never replaced, and one that does not load (or is readable by
 * group or others) is an error for a person to look at. Public halves and
 * certificates are derived from keys: they are checked and, when they no
 * longer say what they should, written again (ONR_FILE_UPDATED).
 * Every `change` argument may be NULL.
 */
#ifndef ONRAMP_KEYFILE_H
#define ONRAMP_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"

/*
 * onr_keyfile_p256: the P-256 key in `path` (onr_p256_load), or, if there
 * is no file, a new one saved there (0600). *key is the caller's to free.
 * Returns ONR_OK or the errors of onr_p256_load (ONR_EPERM, ONR_EFORMAT,
 * ONR_EBADKEY... for a file that is there but unusable) and
 * onr_p256_generate / onr_p256_save.
 */
int onr_keyfile_p256(const char *path, struct onr_p256_key **key,
                     enum onr_file_change *change);

/* onr_keyfile_x25519: the same for an X25519 key (onr_x25519_load / save);
 * `sk` is the caller's to wipe. */
int onr_keyfile_x25519(const char *path, uint8_t sk[ONR_X25519_KEY_LEN],
                       enum onr_file_change *change);

/*
 * onr_keyfile_p256_public / onr_keyfile_x25519_public: `path` holds the
 * public key `pub` (PEM, 0644): kept if it does, else written.
 * Returns ONR_OK, ONR_EINVAL, ONR_EBADKEY or ONR_EIO.
 */
int onr_keyfile_p256_public(const char *path, const uint8_t pub[ONR_P256_PUB_LEN],
                            enum onr_file_change *change);
int onr_keyfile_x25519_public(const char *path, const uint8_t pub[ONR_X25519_KEY_LEN],
                              enum onr_file_change *change);

/* Who signs a certificate: a CA's key and its certificate (borrowed). */
struct onr_keyfile_issuer {
    const struct onr_p256_key *key;
    const uint8_t *cert;
    size_t cert_len;
};

/*
 * onr_keyfile_cert: `path` holds one certificate (PEM, 0644) for `key`
 * (borrowed) that says what `profile` says (onr_x509_check_profile), is
 * signed by `issuer` (NULL: self-signed by `key`) and stays valid for at
 * least `renew_days` more days: kept if so, else a new one is issued with
 * the same key and written. The certificate kept or issued is copied to
 * `der` (*der_len bytes on entry, its length on return; ONR_X509_MAX_DER
 * is enough).
 * Returns ONR_OK, ONR_EINVAL, ONR_ESPACE, or the errors of
 * onr_x509_self_signed / onr_x509_issue / onr_x509_save.
 */
int onr_keyfile_cert(const char *path, const struct onr_p256_key *key,
                     const struct onr_x509_profile *profile,
                     const struct onr_keyfile_issuer *issuer, uint32_t renew_days,
                     uint8_t *der, size_t *der_len, enum onr_file_change *change);

#endif /* ONRAMP_KEYFILE_H */
