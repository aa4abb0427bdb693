/*
 * One error space for all of Onramp.
 *
 * Every fallible function returns ONR_OK (0) or a negative ONR_E<REASON>.
 * The numbers are stable: an ERROR message carries the positive number on the
 * wire (proto/SPEC.md), so a code is never renumbered or reused. New codes get
 * new numbers.
 */
#ifndef ONRAMP_ERROR_H
#define ONRAMP_ERROR_H

#define ONR_OK 0

/* X(name, number, message) */
#define ONR_ERROR_LIST(X)                                                    \
    /* general */                                                            \
    X(EINVAL, 1, "invalid argument")                                         \
    X(ENOMEM, 2, "out of memory")                                            \
    X(EIO, 3, "input/output error")                                          \
    X(ENOENT, 4, "not found")                                                \
    X(EEXIST, 5, "already exists")                                           \
    X(EPERM, 6, "file permissions too open for a secret")                   \
    X(ESPACE, 7, "output buffer too small")                                  \
    X(ECRYPTO, 8, "cryptographic library failure")                           \
    X(ERANDOM, 9, "random generator failure")                                \
    X(EBUSY, 10, "busy, retry later")                                        \
    X(EFORMAT, 11, "file or text format invalid")                            \
    X(EDENIED, 12, "not allowed")                                            \
    /* decoding untrusted bytes */                                           \
    X(ETOOBIG, 20, "input larger than allowed")                              \
    X(ETRUNCATED, 21, "input truncated")                                     \
    X(ETYPE, 22, "wrong type")                                               \
    X(EDEPTH, 23, "nesting too deep")                                        \
    X(ECOUNT, 24, "too many entries")                                        \
    X(ELENGTH, 25, "string or binary length out of bounds")                  \
    X(ETRAILING, 26, "trailing bytes after the object")                      \
    X(EMALFORMED, 27, "malformed encoding")                                  \
    X(EDUPKEY, 28, "duplicate key")                                          \
    X(EMISSING, 29, "required field missing")                                \
    X(EUNKNOWNKEY, 30, "unknown field")                                      \
    X(ECHARSET, 31, "invalid characters")                                    \
    X(ERANGE, 32, "value out of range")                                      \
    X(EVERSION, 33, "unsupported protocol version")                          \
    X(EMSGTYPE, 34, "unknown message type")                                  \
    X(ESCHEMA, 35, "message inconsistent with its type or sender")              \
    /* verification */                                                       \
    X(EBADSIG, 40, "signature does not verify")                              \
    X(EBADKEY, 41, "invalid key")                                            \
    X(ESTALE, 42, "timestamp outside the freshness window")                  \
    X(EREPLAY, 43, "message id seen before")                                 \
    X(EREPLAYFULL, 44, "replay cache full")                                  \
    X(EBADMAC, 45, "authentication tag does not verify")                     \
    X(EAUTHKIND, 46, "wrong kind of authenticator for the message type")     \
    X(EDECRYPT, 47, "decryption failed")                                     \
    X(EEXPIRED, 48, "expired")                                               \
    X(ECERT, 49, "certificate invalid")                                      \
    X(ECHAIN, 50, "certificate chain does not verify")                       \
    X(ECSR, 51, "certificate request invalid")                               \
    X(EAUTH, 52, "authentication failed")                                    \
    X(EEXHAUSTED, 53, "no resources left")                                   \
    X(EHELD, 54, "held by another operator")                                 \
    X(ENOOPERATOR, 55, "no operator for the device's country")

enum onr_error {
#define ONR_ERROR_ENUM(name, num, msg) ONR_##name = -(num),
    ONR_ERROR_LIST(ONR_ERROR_ENUM)
#undef ONR_ERROR_ENUM
};

/*
 * onr_strerror: a static, human-readable message for an error code.
 * Returns "success" for ONR_OK and "unknown error" for codes not in the list.
 * The returned string lives forever.
 */
const char *onr_strerror(int err);

/*
 * onr_error_name: the code's symbolic name without the prefix ("EBADSIG"),
 * "OK" for ONR_OK, "UNKNOWN" otherwise. For logs and tests. Lives forever.
 */
const char *onr_error_name(int err);

#endif /* ONRAMP_ERROR_H */
