/*
 * What a device makes of a provider's ENROLL_RESPONSE (device/src/
 * device_service.c): the certificate chain split into DER certificates,
 * each parsed, the chain checked for its service key and device id and
 * verified up to its last certificate, the broker CA parsed, the endpoint
 * parsed; and X.509 parsing and chain verification (proto/src/x509*.c) on
 * their own.
 *
 * Input: u16be chain length, the chain, u16be CA length, the CA, then the
 * endpoint text. The device is FUZZ_DEV with the fixed service key (the
 * seeds' leaf certificates are issued to them).
 * Checks: the split certificates are the chain, in order, nothing lost;
 * parsed fields are terminated and within their bounds; an accepted
 * endpoint is written back as the input; a service check that passes
 * agrees with its parts.
 */
#include <stdio.h>
#include <string.h>

#include "device_internal.h"
#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/x509.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fuzz_key_public(FUZZ_KEY_SERVICE);
    return 0;
}

static void check_info(const struct onr_x509_info *info)
{
    FUZZ_CHECK(memchr(info->common_name, '\0', sizeof(info->common_name)) != NULL &&
                   memchr(info->organization, '\0', sizeof(info->organization)) != NULL &&
                   memchr(info->org_unit, '\0', sizeof(info->org_unit)) != NULL,
               "name not terminated");
    FUZZ_CHECK(info->serial_len >= 1 && info->serial_len <= sizeof(info->serial), "serial of %zu",
               info->serial_len);
    FUZZ_CHECK(info->path_len >= -1, "path length %d", info->path_len);
    FUZZ_CHECK(!info->can_sign_certs || info->is_ca, "signs certificates without CA:true");
    FUZZ_CHECK(onr_p256_check_public(info->public_key) == ONR_OK, "not a P-256 point");
}

static void endpoint(const char *text, size_t len)
{
    char host[DEVICE_HOST_MAX + 1];
    char back[DEVICE_ENDPOINT_MAX + 32];
    int port = 0;
    int n;

    if (device_endpoint_parse(text, len, host, &port) != ONR_OK)
        return;
    FUZZ_CHECK(port >= 1 && port <= 65535, "port %d", port);
    FUZZ_CHECK(strlen(host) >= 1 && strlen(host) <= DEVICE_HOST_MAX, "host of %zu",
               strlen(host));
    n = snprintf(back, sizeof(back), "mqtts://%s:%d", host, port);
    FUZZ_CHECK(n > 0 && (size_t)n == len && memcmp(back, text, len) == 0,
               "endpoint '%.*s' read as '%s'", (int)len, text, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct onr_bytes certs[ONR_X509_MAX_CHAIN + 1];
    struct onr_x509_info info;
    struct onr_x509_info leaf;
    struct device_service svc;
    struct onr_bytes chain;
    struct onr_bytes ca;
    const char *text;
    size_t text_len;
    size_t n = 0;
    size_t at = 0;
    int rc;

    if (size < 2)
        return 0;
    chain = (struct onr_bytes){data + 2, (size_t)data[0] << 8 | data[1]};
    if (chain.len > size - 2)
        return 0;
    at = 2 + chain.len;
    if (size - at < 2)
        return 0;
    ca = (struct onr_bytes){data + at + 2, (size_t)data[at] << 8 | data[at + 1]};
    if (ca.len > size - at - 2)
        return 0;
    at += 2 + ca.len;
    text = (const char *)data + at;
    text_len = size - at;
    endpoint(text, text_len);

    rc = device_chain_split(chain.ptr, chain.len, certs, ONR_X509_MAX_CHAIN + 1, &n);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_ECERT, "split: %s", onr_error_name(rc));
        return 0;
    }
    at = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(certs[i].ptr == chain.ptr + at && certs[i].len >= 2, "split out of order");
        at += certs[i].len;
        if (onr_x509_parse(certs[i].ptr, certs[i].len, &info) == ONR_OK)
            check_info(&info);
    }
    FUZZ_CHECK(n >= 1 && at == chain.len, "split lost bytes");
    if (onr_x509_parse(ca.ptr, ca.len, &info) == ONR_OK)
        check_info(&info);

    if (n >= 2) {
        rc = onr_x509_verify_chain(certs[n - 1].ptr, certs[n - 1].len, certs, n - 1, &leaf);
        if (rc == ONR_OK)
            check_info(&leaf);
    }
    rc = device_service_check(certs, n, ca, fuzz_key_public(FUZZ_KEY_SERVICE), FUZZ_DEV, text,
                              text_len, 1, &svc);
    if (rc != ONR_OK)
        return 0;
    FUZZ_CHECK(n >= 2 && n <= ONR_X509_MAX_CHAIN, "accepted a chain of %zu", n);
    FUZZ_CHECK(onr_x509_parse(certs[0].ptr, certs[0].len, &leaf) == ONR_OK &&
                   !leaf.is_ca && strcmp(leaf.common_name, FUZZ_DEV) == 0 &&
                   leaf.serial_len == svc.serial_len &&
                   memcmp(leaf.serial, svc.serial, svc.serial_len) == 0 &&
                   leaf.not_after == svc.not_after,
               "service check disagrees with the leaf");
    FUZZ_CHECK(strlen(svc.endpoint) == text_len && memcmp(svc.endpoint, text, text_len) == 0,
               "endpoint stored differs");
    return 0;
}
