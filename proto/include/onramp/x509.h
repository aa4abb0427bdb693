/*
 * X.509 v3 certificates and PKCS#10 requests with wolfCrypt, P-256 ECDSA
 * with SHA-256 only: the manufacturer's device CA, the provider CA, the
 * fabric's services CA, TLS server certificates for brokers.
 *
 * Certificates and requests are DER byte strings; PEM is for files. The CA
 * decides what it certifies: when issuing from a request, only the request's
 * public key is taken, after its self-signature has been verified; subject,
 * SAN, usages and validity come from the issuer's profile.
 */
#ifndef ONRAMP_X509_H
#define ONRAMP_X509_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/p256.h"

/* Bounds: one certificate or request, and the text fields Onramp sets. */
#define ONR_X509_MAX_DER 4096
#define ONR_X509_MAX_NAME 64
#define ONR_X509_MAX_SAN 4
#define ONR_X509_MAX_CHAIN 4

struct onr_x509_name {
    const char *common_name;  /* required, at most ONR_X509_MAX_NAME bytes */
    const char *organization; /* optional (NULL) */
    const char *org_unit;     /* optional (NULL) */
};

enum onr_x509_san_type {
    ONR_X509_SAN_DNS = 1,
    ONR_X509_SAN_URI = 2,
    ONR_X509_SAN_IP = 3, /* textual IPv4 or IPv6 address */
};

struct onr_x509_san {
    enum onr_x509_san_type type;
    const char *value;
};

/* Extended key usages, combinable. */
#define ONR_X509_EKU_CLIENT 0x1u
#define ONR_X509_EKU_SERVER 0x2u

/* What the issuer puts into a certificate. All pointers borrowed. */
struct onr_x509_profile {
    struct onr_x509_name subject;
    uint32_t days;         /* validity from now; 1..36500 */
    uint32_t seconds;      /* instead of days when not 0: valid from a minute
                              before now for this many seconds, 60..2^31 */
    int is_ca;             /* CA:true, keyCertSign and cRLSign */
    int path_len;          /* for a CA: pathLenConstraint; < 0 for none */
    unsigned eku;          /* ONR_X509_EKU_*; leaves only, 0 for none */
    const struct onr_x509_san *san; /* leaves only */
    size_t n_san;          /* at most ONR_X509_MAX_SAN */
};

/* What onr_x509_parse reports of a certificate. Strings are NUL-terminated
 * copies. */
struct onr_x509_info {
    uint8_t public_key[ONR_P256_PUB_LEN];
    char common_name[ONR_X509_MAX_NAME + 1];
    char organization[ONR_X509_MAX_NAME + 1];
    char org_unit[ONR_X509_MAX_NAME + 1];
    uint8_t serial[20];
    size_t serial_len;
    int64_t not_before; /* seconds since the epoch */
    int64_t not_after;
    int is_ca;          /* basicConstraints CA:true */
    int path_len;       /* its pathLenConstraint, -1 if none */
    int can_sign_certs; /* CA:true and keyUsage (if present) has keyCertSign */
};

/*
 * onr_x509_self_signed: a self-signed certificate for `key` with `profile`
 * (normally a CA). Writes DER into `der` (caller's buffer of *der_len bytes;
 * on success *der_len is the certificate's length).
 * Returns ONR_OK, ONR_EINVAL, ONR_ESPACE, ONR_ERANDOM or ONR_ECRYPTO.
 */
int onr_x509_self_signed(const struct onr_p256_key *key, const struct onr_x509_profile *profile,
                         uint8_t *der, size_t *der_len);

/*
 * onr_x509_issue: a certificate for `subject_key` (a P-256 public point)
 * signed by `ca_key`, whose certificate is `ca_der` (borrowed; names the
 * issuer and its key identifier). Serial: 16 random bytes.
 * Returns as onr_x509_self_signed, and ONR_EBADKEY for a bad subject key,
 * ONR_ECERT if `ca_der` is not a CA certificate for `ca_key`.
 */
int onr_x509_issue(const struct onr_p256_key *ca_key, const uint8_t *ca_der, size_t ca_len,
                   const uint8_t subject_key[ONR_P256_PUB_LEN],
                   const struct onr_x509_profile *profile, uint8_t *der, size_t *der_len);

/*
 * onr_x509_csr_new: a PKCS#10 request for `key` with `subject`, signed by
 * `key`. Output as onr_x509_self_signed.
 */
int onr_x509_csr_new(const struct onr_p256_key *key, const struct onr_x509_name *subject,
                     uint8_t *der, size_t *der_len);

/*
 * onr_x509_csr_verify: parse a request from untrusted bytes (borrowed),
 * check it is P-256 and that its self-signature verifies, and return its
 * public key (and, if `common_name` is not NULL, its subject CN as a
 * NUL-terminated copy of at most ONR_X509_MAX_NAME bytes).
 * Returns ONR_OK, ONR_EINVAL, ONR_ETOOBIG, ONR_ECSR (malformed or not P-256)
 * or ONR_EBADSIG (self-signature does not verify).
 */
int onr_x509_csr_verify(const uint8_t *csr, size_t csr_len,
                        uint8_t public_key[ONR_P256_PUB_LEN],
                        char common_name[ONR_X509_MAX_NAME + 1]);

/*
 * onr_x509_parse: decode a certificate (untrusted bytes, borrowed) without
 * judging its signature. Returns ONR_OK, ONR_EINVAL, ONR_ETOOBIG or ONR_ECERT
 * (malformed, not P-256, or a name longer than ONR_X509_MAX_NAME).
 */
int onr_x509_parse(const uint8_t *der, size_t der_len, struct onr_x509_info *info);

/*
 * onr_x509_check_profile: ONR_OK if the certificate `der` (borrowed) says
 * what `profile` says: subject CN, O and OU, CA flag and path length,
 * extended key usages and subject alternative names (the same set, in any
 * order). Validity, serial, key and issuer are not compared: see
 * onr_x509_parse and onr_x509_verify_chain. ONR_ECERT if anything differs
 * or the certificate does not parse; ONR_EINVAL, ONR_ETOOBIG.
 * (onramp-admin re-issues a certificate whose topology changed.)
 */
int onr_x509_check_profile(const uint8_t *der, size_t der_len,
                           const struct onr_x509_profile *profile);

/*
 * onr_x509_check_server: is the certificate `der` (borrowed, untrusted; any
 * key type) a TLS server certificate valid at `now` (seconds since the
 * epoch) that lists the DNS name `dns` (borrowed) among its
 * subjectAltNames? Names compare without regard to ASCII case, otherwise
 * byte for byte: a wildcard is no match. Its signature is not judged.
 * Returns ONR_OK; ONR_ENOENT (not among its DNS names); ONR_EEXPIRED
 * (outside its validity); ONR_EDENIED (a CA, or an extended key usage
 * without serverAuth); ONR_ECERT (does not parse); ONR_EINVAL, ONR_ETOOBIG.
 * (The broker plugin's name must be its certificate's: proto/SPEC.md
 * section 10.)
 */
int onr_x509_check_server(const uint8_t *der, size_t der_len, const char *dns, int64_t now);

/*
 * onr_x509_verify_chain: verify `chain` (leaf first, then intermediates;
 * borrowed; the anchor itself not repeated at its end, or it counts as an
 * intermediate against path lengths) up to the trusted `anchor` (a CA
 * certificate, borrowed): each
 * signature, that every issuer is a CA allowed to sign certificates
 * (basicConstraints CA:true, keyCertSign) within its path length, and
 * validity against the system clock. Intermediates are only trusted after
 * they verify.
 * If `leaf` is not NULL it receives the leaf's onr_x509_info.
 * Returns ONR_OK, ONR_EINVAL, ONR_ECERT (malformed), ONR_EEXPIRED (outside
 * its validity) or ONR_ECHAIN (does not chain to the anchor).
 */
int onr_x509_verify_chain(const uint8_t *anchor, size_t anchor_len,
                          const struct onr_bytes *chain, size_t n,
                          struct onr_x509_info *leaf);

/*
 * onr_x509_save / onr_x509_load: certificates as PEM "CERTIFICATE" blocks.
 * save writes `n` certificates (borrowed) to one file, atomically, 0644.
 * load reads up to `max` certificates from a PEM file into one caller buffer
 * `buf` of *buf_len bytes; certs[i] point into `buf`; *n is set to the count.
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOENT, ONR_EFORMAT, ONR_ESPACE, ONR_EIO.
 */
int onr_x509_save(const char *path, const struct onr_bytes *certs, size_t n);
int onr_x509_load(const char *path, uint8_t *buf, size_t *buf_len, struct onr_bytes *certs,
                  size_t max, size_t *n);

/*
 * onr_x509_csr_save: a request as PEM "CERTIFICATE REQUEST", 0644.
 */
int onr_x509_csr_save(const char *path, const uint8_t *csr, size_t csr_len);

#endif /* ONRAMP_X509_H */
