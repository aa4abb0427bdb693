/*
 * The service credentials on disk (see device_internal.h): the service key
 * the device makes for its provider, the chain and broker CA the provider
 * issues, and the service broker's endpoint; and the checks they pass,
 * from the network or from the disk alike (the disk is trusted no more
 * than the network). Every write is atomic; every read bounded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x509.h"

#define SCHEME "mqtts://"
#define LABEL_MAX 63
#define PORT_DIGITS 5

/* ---- the endpoint ------------------------------------------------------------------ */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A decimal of 1 to `max_digits` digits without a leading zero (but "0"),
 * at most `max`; -1 otherwise. */
static long number(const char *s, size_t len, size_t max_digits, long max)
{
    long v = 0;

    if (len == 0 || len > max_digits || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Four dot-separated numbers 0..255: an IPv4 address. */
static int is_ipv4(const char *s, size_t len)
{
    size_t at = 0;

    for (int part = 0; part < 4; part++) {
        size_t start = at;

        while (at < len && s[at] != '.')
            at++;
        if (number(s + start, at - start, 3, 255) < 0)
            return 0;
        if (part < 3 && (at >= len || s[at++] != '.'))
            return 0;
    }
    return at == len;
}

/* Labels of letters, digits and inner hyphens, 1..63 long, 253 in all, the
 * last not all digits (that would be a malformed address). */
static int is_hostname(const char *s, size_t len)
{
    size_t start = 0;
    int digits_only = 1;

    if (len == 0 || len > DEVICE_HOST_MAX)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;

            if (n == 0 || n > LABEL_MAX || s[start] == '-' || s[i - 1] == '-')
                return 0;
            if (i == len)
                return !digits_only;
            start = i + 1;
            digits_only = 1;
        } else if (is_alnum(s[i]) || s[i] == '-') {
            if (!is_digit(s[i]))
                digits_only = 0;
        } else {
            return 0;
        }
    }
    return 0;
}

int device_endpoint_parse(const char *text, size_t len, char host[DEVICE_HOST_MAX + 1],
                          int *port)
{
    const size_t scheme = sizeof(SCHEME) - 1;
    size_t colon;
    long p;

    if (text == NULL || host == NULL || port == NULL || len <= scheme ||
        len > DEVICE_ENDPOINT_MAX || memcmp(text, SCHEME, scheme) != 0)
        return ONR_EFORMAT;
    /* the port is after the last colon; a host has none */
    colon = len;
    while (colon > scheme && text[colon - 1] != ':')
        colon--;
    if (colon == scheme)
        return ONR_EFORMAT;
    colon--;
    p = number(text + colon + 1, len - colon - 1, PORT_DIGITS, 65535);
    if (p < 1)
        return ONR_EFORMAT;
    if (!is_ipv4(text + scheme, colon - scheme) && !is_hostname(text + scheme, colon - scheme))
        return ONR_EFORMAT;
    memcpy(host, text + scheme, colon - scheme);
    host[colon - scheme] = '\0';
    *port = (int)p;
    return ONR_OK;
}

/* ---- the chain ------------------------------------------------------------------------ */

int device_chain_split(const uint8_t *chain, size_t len, struct onr_bytes *certs, size_t max,
                       size_t *n)
{
    size_t at = 0;

    if (chain == NULL || certs == NULL || n == NULL)
        return ONR_EINVAL;
    *n = 0;
    if (len == 0)
        return ONR_ECERT;
    while (at < len) {
        size_t left = len - at;
        const uint8_t *p = chain + at;
        size_t head, body;

        /* SEQUENCE, then a definite length in its shortest form */
        if (left < 2 || p[0] != 0x30 || *n == max)
            return ONR_ECERT;
        if (p[1] < 0x80) {
            head = 2;
            body = p[1];
        } else if (p[1] == 0x81 && left >= 3 && p[2] >= 0x80) {
            head = 3;
            body = p[2];
        } else if (p[1] == 0x82 && left >= 4 && p[2] != 0) {
            head = 4;
            body = ((size_t)p[2] << 8) | p[3];
        } else {
            return ONR_ECERT; /* indefinite, too long, not minimal, or cut */
        }
        if (body > left - head || head + body > ONR_X509_MAX_DER)
            return ONR_ECERT;
        certs[(*n)++] = (struct onr_bytes){p, head + body};
        at += head + body;
    }
    return ONR_OK;
}

int device_service_check(const struct onr_bytes *certs, size_t n, struct onr_bytes ca,
                         const uint8_t pub[ONR_P256_PUB_LEN], const char *dev,
                         const char *endpoint, size_t endpoint_len, int verify,
                         struct device_service *out)
{
    struct onr_x509_info info;
    int rc = ONR_OK;

    if (out == NULL)
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (certs == NULL || pub == NULL || dev == NULL || endpoint == NULL || ca.ptr == NULL)
        return ONR_EINVAL;
    if (n < 2 || n > ONR_X509_MAX_CHAIN)
        return n < 2 ? ONR_ECHAIN : ONR_ECERT;
    for (size_t i = n; i-- > 0 && rc == ONR_OK;)
        rc = onr_x509_parse(certs[i].ptr, certs[i].len, &info); /* the leaf last */
    if (rc != ONR_OK)
        return ONR_ECERT;
    if (info.is_ca || !onr_equal_ct(info.public_key, pub, ONR_P256_PUB_LEN) ||
        strcmp(info.common_name, dev) != 0)
        return ONR_EDENIED;
    /* the last certificate is the provider CA: the chain must hold together
     * (whose CA it is, the provider's signature on the answer says) */
    if (verify)
        rc = onr_x509_verify_chain(certs[n - 1].ptr, certs[n - 1].len, certs, n - 1, NULL);
    if (rc != ONR_OK)
        return rc == ONR_EEXPIRED || rc == ONR_ECERT ? rc : ONR_ECHAIN;
    memcpy(out->serial, info.serial, sizeof(out->serial));
    out->serial_len = info.serial_len;
    out->not_before = info.not_before;
    out->not_after = info.not_after;
    if (onr_x509_parse(ca.ptr, ca.len, &info) != ONR_OK)
        rc = ONR_ECERT;
    if (rc == ONR_OK)
        rc = device_endpoint_parse(endpoint, endpoint_len, out->host, &out->port);
    if (rc == ONR_OK) {
        memcpy(out->endpoint, endpoint, endpoint_len);
        out->endpoint[endpoint_len] = '\0';
    } else {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- the files ------------------------------------------------------------------------ */

int device_service_key_load(const char *dir, struct onr_p256_key **key)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, DEVICE_SERVICE_KEY_FILE);

    *key = NULL;
    if (rc == ONR_OK)
        rc = onr_p256_load(path, key);
    switch (rc) {
    case ONR_OK:
    case ONR_ENOENT:
    case ONR_EPERM:
    case ONR_ENOMEM:
    case ONR_EIO: return rc;
    default: return ONR_EFORMAT; /* too big, not PEM, not a P-256 key */
    }
}

int device_service_key_save(const char *dir, const struct onr_p256_key *key)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, DEVICE_SERVICE_KEY_FILE);

    if (rc == ONR_OK)
        rc = onr_p256_save(key, path);
    return rc == ONR_OK || rc == ONR_ESPACE ? rc : ONR_EIO;
}

int device_service_key_remove(const char *dir)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, DEVICE_SERVICE_KEY_FILE);

    if (rc != ONR_OK)
        return rc;
    return unlink(path) == 0 || errno == ENOENT ? ONR_OK : ONR_EIO;
}

int device_service_save(const char *dir, const struct onr_bytes *certs, size_t n,
                        struct onr_bytes ca, const char *endpoint, size_t endpoint_len)
{
    char path[DEVICE_PATH_MAX + 200];
    char text[DEVICE_ENDPOINT_MAX + 2];
    int rc;

    if (endpoint_len > DEVICE_ENDPOINT_MAX)
        return ONR_ESPACE;
    rc = device_path(path, sizeof(path), dir, DEVICE_SERVICE_CERT_FILE);
    if (rc == ONR_OK && onr_x509_save(path, certs, n) != ONR_OK)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = device_path(path, sizeof(path), dir, DEVICE_SERVICE_CA_FILE);
    if (rc == ONR_OK && onr_x509_save(path, &ca, 1) != ONR_OK)
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = device_path(path, sizeof(path), dir, DEVICE_ENDPOINT_FILE);
    if (rc == ONR_OK) {
        memcpy(text, endpoint, endpoint_len);
        text[endpoint_len] = '\n';
        rc = onr_file_write_atomic(path, text, endpoint_len + 1, ONR_FILE_SECRET);
    }
    return rc;
}

/* A PEM file of at most `max` certificates into `buf`; EFORMAT unless
 * there are `min` to `max`. */
static int load_certs(const char *dir, const char *name, uint8_t *buf, size_t cap,
                      struct onr_bytes *certs, size_t min, size_t max, size_t *n)
{
    char path[DEVICE_PATH_MAX + 200];
    int rc = device_path(path, sizeof(path), dir, name);

    if (rc == ONR_OK)
        rc = onr_x509_load(path, buf, &cap, certs, max, n);
    if (rc == ONR_OK && *n < min)
        rc = ONR_EFORMAT;
    return rc == ONR_OK || rc == ONR_ENOMEM || rc == ONR_EIO ? rc : ONR_EFORMAT;
}

/* "endpoint": the text and its newline, nothing else. */
static int load_endpoint(const char *dir, char *out, size_t *len)
{
    char path[DEVICE_PATH_MAX + 200];
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = device_path(path, sizeof(path), dir, DEVICE_ENDPOINT_FILE);

    if (rc == ONR_OK)
        rc = onr_file_read(path, DEVICE_ENDPOINT_MAX + 1, 0, &data, &n);
    if (rc == ONR_OK && (n < 2 || data[n - 1] != '\n'))
        rc = ONR_EFORMAT;
    if (rc == ONR_OK) {
        memcpy(out, data, n - 1);
        *len = n - 1;
    }
    free(data);
    return rc == ONR_OK || rc == ONR_ENOMEM || rc == ONR_EIO ? rc : ONR_EFORMAT;
}

int device_service_load(const char *dir, const char *dev, const struct onr_p256_key *key,
                        struct device_service *out, const char **what)
{
    uint8_t chain_buf[DEVICE_CHAIN_MAX];
    uint8_t ca_buf[ONR_X509_MAX_DER];
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    struct onr_bytes ca = {NULL, 0};
    struct onr_x509_info info;
    uint8_t pub[ONR_P256_PUB_LEN];
    char endpoint[DEVICE_ENDPOINT_MAX + 1];
    size_t n = 0, n_ca = 0, endpoint_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    *what = DEVICE_SERVICE_CERT_FILE;
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = load_certs(dir, DEVICE_SERVICE_CERT_FILE, chain_buf, sizeof(chain_buf), certs, 2,
                        ONR_X509_MAX_CHAIN, &n);
    if (rc == ONR_OK) {
        *what = DEVICE_SERVICE_CA_FILE;
        rc = load_certs(dir, DEVICE_SERVICE_CA_FILE, ca_buf, sizeof(ca_buf), &ca, 1, 1, &n_ca);
    }
    if (rc == ONR_OK && onr_x509_parse(ca.ptr, ca.len, &info) != ONR_OK)
        rc = ONR_EFORMAT;
    if (rc == ONR_OK) {
        *what = DEVICE_ENDPOINT_FILE;
        rc = load_endpoint(dir, endpoint, &endpoint_len);
    }
    if (rc != ONR_OK)
        return rc;
    /* the CA parses: a refusal now is the endpoint's or the chain's */
    rc = device_service_check(certs, n, ca, pub, dev, endpoint, endpoint_len, 0, out);
    if (rc != ONR_OK && rc != ONR_EFORMAT)
        *what = DEVICE_SERVICE_CERT_FILE;
    return rc == ONR_OK ? ONR_OK : ONR_EFORMAT;
}
