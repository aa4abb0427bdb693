/*
 * The device's service steps (device/src), without a broker: the service
 * key made once and named by every enroll request, the enroll response the
 * device takes or refuses (chain, CA, endpoint), the strict parsing of the
 * chain and the endpoint, and a device reopened at ENROLLED and
 * OPERATIONAL. A state directory is minted and attached
 * (device_fixture.c); the provider CA and the service broker's CA are made
 * here, as a provider would.
 */
#include "testutil.h"
#include "device_fixture.h"

#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x509.h"

#define PROV "prov-1"
#define ENDPOINT "mqtts://svc.example:8883"
#define OTHER_DEV "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* An attached device asking to enroll, and the answer it should get. */
struct enrolling {
    const char *dir;
    const char *dev;
    struct fixture f;
    struct fixture_provider p; /* its CA, and its service broker's CA */
    struct onr_p256_key *key; /* the device's service key */
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t csr[DEVICE_CSR_MAX];
    size_t csr_len;
    uint8_t leaf[ONR_X509_MAX_DER];
    size_t leaf_len;
    uint8_t chain[DEVICE_CHAIN_MAX]; /* leaf || provider CA */
    size_t chain_len;
    uint8_t re[ONR_MSG_ID_LEN];
};

/* A self-signed CA (pathLen 0: it issues leaves only) for `key`. */
static size_t make_ca(const struct onr_p256_key *key, const char *cn, uint8_t *der)
{
    struct onr_x509_profile ca = {
        .subject = {.common_name = cn, .organization = PROV},
        .days = 365, .is_ca = 1, .path_len = 0,
    };
    size_t len = ONR_X509_MAX_DER;

    assert_onr(ONR_OK, onr_x509_self_signed(key, &ca, der, &len));
    return len;
}

/* A certificate for `pub` with CN `cn`, issued by CA `ca` (`ca_key`), as
 * the provider issues service certificates (or a CA one). */
static size_t issue(const struct onr_p256_key *ca_key, const uint8_t *ca, size_t ca_len,
                    const uint8_t pub[ONR_P256_PUB_LEN], const char *cn, int is_ca, uint8_t *der)
{
    struct onr_x509_profile leaf = {
        .subject = {.common_name = cn, .organization = PROV},
        .days = 30, .is_ca = is_ca, .path_len = -1,
        .eku = is_ca ? 0 : ONR_X509_EKU_CLIENT,
    };
    size_t len = ONR_X509_MAX_DER;

    assert_onr(ONR_OK, onr_x509_issue(ca_key, ca, ca_len, pub, &leaf, der, &len));
    return len;
}

/* a || b into `out` (DEVICE_CHAIN_MAX bytes); the length. */
static size_t cat(uint8_t *out, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    assert_true(a_len + b_len <= DEVICE_CHAIN_MAX);
    memcpy(out, a, a_len);
    memcpy(out + a_len, b, b_len);
    return a_len + b_len;
}

static struct onr_msg_enroll_response response(const struct enrolling *e, const uint8_t *chain,
                                               size_t chain_len, const uint8_t *ca,
                                               size_t ca_len, const char *endpoint)
{
    return (struct onr_msg_enroll_response){
        .re = ONR_BYTES(e->re),
        .chain = {chain, chain_len},
        .ca = {ca, ca_len},
        .endpoint = {(const uint8_t *)endpoint, strlen(endpoint)},
    };
}

/* The device attached, its service key made by its first request, and the
 * provider's good answer to it in e->chain. */
static void enrolling_init(const char *dir, struct enrolling *e)
{
    memset(e, 0, sizeof(*e));
    e->dir = dir;
    attach(dir, &e->f, NULL);
    e->dev = e->f.trust.dev;
    fixture_provider_init(&e->p);
    assert_onr(ONR_OK, device_enroll_csr(dir, e->dev, &e->key, e->csr, &e->csr_len));
    assert_onr(ONR_OK, onr_p256_public(e->key, e->pub));
    e->leaf_len = issue(e->p.ca_key, e->p.ca, e->p.ca_len, e->pub, e->dev, 0, e->leaf);
    e->chain_len = cat(e->chain, e->leaf, e->leaf_len, e->p.ca, e->p.ca_len);
    assert_onr(ONR_OK, onr_random(e->re, sizeof(e->re)));
}

static void enrolling_cleanup(struct enrolling *e)
{
    onr_p256_free(e->key);
    fixture_provider_cleanup(&e->p);
    fixture_cleanup(&e->f);
    onr_wipe(e, sizeof(*e));
}

/* The device takes e's good answer, with `endpoint`. */
static void enroll(struct enrolling *e, const char *endpoint)
{
    struct onr_msg_enroll_response m =
        response(e, e->chain, e->chain_len, e->p.broker_ca, e->p.broker_ca_len, endpoint);
    struct device_service svc;

    assert_onr(ONR_OK, device_take_enrollment(e->dev, e->key, &m, e->dir, &svc));
}

static void assert_file_is(const char *dir, const char *name, const char *text)
{
    uint8_t *data = NULL;
    size_t len = 0;

    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, name), 4096, 0, &data, &len));
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    free(data);
}

/* ---- the service key ----------------------------------------------------------------------- */

static void test_service_key_is_made_once_and_named_by_every_request(void **state)
{
    const char *dir = *state;
    struct fixture f;
    struct onr_p256_key *key = NULL;
    uint8_t csr[DEVICE_CSR_MAX];
    uint8_t pub[ONR_P256_PUB_LEN], first[ONR_P256_PUB_LEN], again[ONR_P256_PUB_LEN];
    char cn[ONR_X509_MAX_NAME + 1];
    size_t csr_len = 0;
    char *before;
    size_t before_len = 0;

    attach(dir, &f, NULL);
    assert_int_equal(access(onr_test_path(dir, "service.key"), F_OK), -1);
    /* the first request makes the key and stores it, a secret, first */
    assert_onr(ONR_OK, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_non_null(key);
    assert_int_equal(mode_of(dir, "service.key"), 0600);
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, csr_len, first, cn));
    assert_string_equal(cn, f.trust.dev);
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    assert_memory_equal(first, pub, sizeof(pub));
    /* a retry in the same run: the same key, nothing written */
    before = snapshot(dir, &before_len);
    assert_onr(ONR_OK, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, csr_len, again, NULL));
    assert_memory_equal(again, first, sizeof(first));
    assert_same_snapshot(dir, before, before_len);
    /* after a restart: the stored key, not a new one */
    onr_p256_free(key);
    key = NULL;
    assert_onr(ONR_OK, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, csr_len, again, cn));
    assert_memory_equal(again, first, sizeof(first));
    assert_string_equal(cn, f.trust.dev);
    assert_same_snapshot(dir, before, before_len);
    onr_p256_free(key);
    key = NULL;
    /* a stored key readable by others, or damaged, is not used (nor replaced) */
    assert_int_equal(chmod(onr_test_path(dir, "service.key"), 0640), 0);
    assert_onr(ONR_EPERM, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_null(key);
    write_text(dir, "service.key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n", 0600);
    assert_onr(ONR_EFORMAT, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_null(key);
    assert_onr(ONR_EFORMAT, device_service_key_load(dir, &key));
    /* removed (a new attach): the next request makes a new one */
    assert_onr(ONR_OK, device_service_key_remove(dir));
    assert_onr(ONR_OK, device_service_key_remove(dir)); /* none is fine */
    assert_onr(ONR_OK, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
    assert_onr(ONR_OK, onr_x509_csr_verify(csr, csr_len, again, NULL));
    assert_memory_not_equal(again, first, sizeof(first));
    onr_p256_free(key);
    free(before);
    fixture_cleanup(&f);
}

/* ---- the enroll response ------------------------------------------------------------------- */

static void test_device_takes_an_enrollment_for_its_key(void **state)
{
    const char *dir = *state;
    struct enrolling e;
    struct onr_msg_enroll_response m;
    struct device_service svc, back;
    struct onr_x509_info leaf;
    struct onr_device_service info;
    struct onr_device *dev = NULL;
    struct event_base *base;
    struct heard h;
    enum onr_device_state s = ONR_DEVICE_FACTORY;
    uint8_t buf[DEVICE_CHAIN_MAX];
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    size_t buf_len = sizeof(buf), n = 0;
    const char *what = NULL;

    enrolling_init(dir, &e);
    /* before: nothing to say about a service */
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_NETWORK_ATTACHED, &h, &dev));
    assert_onr(ONR_ENOENT, onr_device_service(dev, &info));
    onr_device_close(dev);

    m = response(&e, e.chain, e.chain_len, e.p.broker_ca, e.p.broker_ca_len, ENDPOINT);
    assert_onr(ONR_OK, device_take_enrollment(e.dev, e.key, &m, dir, &svc));
    assert_onr(ONR_OK, onr_x509_parse(e.leaf, e.leaf_len, &leaf));
    assert_string_equal(svc.endpoint, ENDPOINT);
    assert_string_equal(svc.host, "svc.example");
    assert_int_equal(svc.port, 8883);
    assert_int_equal(svc.serial_len, leaf.serial_len);
    assert_memory_equal(svc.serial, leaf.serial, leaf.serial_len);
    assert_int_equal(svc.not_after, leaf.not_after);
    /* stored: the chain as sent, the CA, the endpoint, then the journey */
    assert_onr(ONR_OK,
               onr_x509_load(onr_test_path(dir, "service.pem"), buf, &buf_len, certs, 4, &n));
    assert_int_equal(n, 2);
    assert_int_equal(certs[0].len, e.leaf_len);
    assert_memory_equal(certs[0].ptr, e.leaf, e.leaf_len);
    assert_int_equal(certs[1].len, e.p.ca_len);
    assert_memory_equal(certs[1].ptr, e.p.ca, e.p.ca_len);
    buf_len = sizeof(buf);
    assert_onr(ONR_OK,
               onr_x509_load(onr_test_path(dir, "service-ca.pem"), buf, &buf_len, certs, 4, &n));
    assert_int_equal(n, 1);
    assert_int_equal(certs[0].len, e.p.broker_ca_len);
    assert_memory_equal(certs[0].ptr, e.p.broker_ca, e.p.broker_ca_len);
    assert_file_is(dir, "endpoint", ENDPOINT "\n");
    assert_int_equal(mode_of(dir, "service.key"), 0600);
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_ENROLLED);
    /* read back as taken */
    assert_onr(ONR_OK, device_service_load(dir, e.dev, e.key, &back, &what));
    assert_memory_equal(&back, &svc, sizeof(svc));

    /* reopened: ENROLLED, with what the accessor reports; a run to ENROLLED
     * ends at once */
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_ENROLLED, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_ENROLLED);
    assert_onr(ONR_OK, onr_device_service(dev, &info));
    assert_string_equal(info.endpoint, ENDPOINT);
    assert_int_equal(info.serial_len, leaf.serial_len);
    assert_memory_equal(info.serial, leaf.serial, leaf.serial_len);
    assert_int_equal(info.not_after, leaf.not_after);
    base = event_base_new();
    assert_non_null(base);
    assert_onr(ONR_OK, onr_device_start(dev, base));
    assert_int_equal(h.done, 1);
    assert_onr(ONR_OK, h.result);
    onr_device_close(dev);
    event_base_free(base);
    enrolling_cleanup(&e);
}

static void test_device_refuses_enrollments_that_do_not_check(void **state)
{
    const char *dir = *state;
    struct enrolling e;
    struct onr_msg_enroll_response m;
    struct device_service svc;
    struct onr_p256_key *other = NULL, *ca2_key = NULL;
    uint8_t other_pub[ONR_P256_PUB_LEN];
    uint8_t cert[ONR_X509_MAX_DER], ca2[ONR_X509_MAX_DER];
    uint8_t chain[DEVICE_CHAIN_MAX + 16];
    size_t cert_len, ca2_len, len;
    char *before;
    size_t before_len = 0;
    static const char *const bad_endpoints[] = {
        "svc.example:8883",            /* no scheme */
        "mqtt://svc.example:1883",     /* not TLS */
        "MQTTS://svc.example:8883",    /* the scheme as written */
        "mqtts://svc.example:0",       /* port 0 */
        "mqtts://svc.example:70000",   /* port out of range */
        "mqtts://svc.example:65536",
        "mqtts://svc.example:08883",   /* leading zero */
        "mqtts://svc.example:",        /* no port */
        "mqtts://svc.example",
        "mqtts://:8883",               /* no host */
        "mqtts://svc.example:8883 ",   /* spaces */
        "mqtts:// svc.example:8883",
        "mqtts://svc example:8883",
        "mqtts://svc.example:8883/",   /* a path */
        "mqtts://user@svc.example:8883",
        "mqtts://svc.example.:8883",   /* a trailing dot */
        "mqtts://svc..example:8883",
        "mqtts://-svc.example:8883",   /* a label's hyphens */
        "mqtts://svc-.example:8883",
        "mqtts://svc_1.example:8883",
        "mqtts://256.0.0.1:8883",      /* not an IPv4 address */
        "mqtts://1.2.3:8883",
        "mqtts://01.2.3.4:8883",
        "mqtts://1.2.3.4.5:8883",
        "mqtts://[::1]:8883",
        "mqtts://svc.example:88:83",
    };

    enrolling_init(dir, &e);
    before = snapshot(dir, &before_len);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    assert_onr(ONR_OK, onr_p256_public(other, other_pub));
#define REFUSED(rc, c, c_len, a, a_len, ep)                                            \
    do {                                                                               \
        m = response(&e, c, c_len, a, a_len, ep);                                      \
        memset(&svc, 0x5a, sizeof(svc));                                               \
        assert_onr(rc, device_take_enrollment(e.dev, e.key, &m, dir, &svc));           \
        assert_same_snapshot(dir, before, before_len);                                 \
        assert_string_equal(svc.endpoint, "");                                         \
        assert_int_equal(svc.serial_len, 0);                                           \
    } while (0)
#define REFUSED_CHAIN(rc, c, c_len) \
    REFUSED(rc, c, c_len, e.p.broker_ca, e.p.broker_ca_len, ENDPOINT)

    /* a leaf for another key, for another device, or a CA */
    cert_len = issue(e.p.ca_key, e.p.ca, e.p.ca_len, other_pub, e.dev, 0, cert);
    len = cat(chain, cert, cert_len, e.p.ca, e.p.ca_len);
    REFUSED_CHAIN(ONR_EDENIED, chain, len);
    cert_len = issue(e.p.ca_key, e.p.ca, e.p.ca_len, e.pub, OTHER_DEV, 0, cert);
    len = cat(chain, cert, cert_len, e.p.ca, e.p.ca_len);
    REFUSED_CHAIN(ONR_EDENIED, chain, len);
    cert_len = issue(e.p.ca_key, e.p.ca, e.p.ca_len, e.pub, e.dev, 1, cert);
    len = cat(chain, cert, cert_len, e.p.ca, e.p.ca_len);
    REFUSED_CHAIN(ONR_EDENIED, chain, len);
    /* a chain that does not verify: the leaf of another CA of the same name,
     * the leaf alone, a leaf as its own CA */
    assert_onr(ONR_OK, onr_p256_generate(&ca2_key));
    ca2_len = make_ca(ca2_key, "prov-1 CA", ca2);
    len = cat(chain, e.leaf, e.leaf_len, ca2, ca2_len);
    REFUSED_CHAIN(ONR_ECHAIN, chain, len);
    REFUSED_CHAIN(ONR_ECHAIN, e.leaf, e.leaf_len);
    cert_len = issue(e.p.ca_key, e.p.ca, e.p.ca_len, other_pub, "not a CA", 0, cert);
    len = cat(chain, e.leaf, e.leaf_len, cert, cert_len);
    REFUSED_CHAIN(ONR_ECHAIN, chain, len);
    /* the leaf's signature flipped */
    memcpy(chain, e.chain, e.chain_len);
    chain[e.leaf_len - 2] ^= 0x01;
    REFUSED_CHAIN(ONR_ECHAIN, chain, e.chain_len);
    /* malformed: cut short, trailing bytes, a DER length that lies */
    REFUSED_CHAIN(ONR_ECERT, e.chain, e.chain_len - 1);
    REFUSED_CHAIN(ONR_ECERT, e.chain, e.leaf_len + 1);
    memcpy(chain, e.chain, e.chain_len);
    chain[e.chain_len] = 0x00;
    REFUSED_CHAIN(ONR_ECERT, chain, e.chain_len + 1);
    chain[e.chain_len] = 0x30;
    chain[e.chain_len + 1] = 0x00;
    REFUSED_CHAIN(ONR_ECERT, chain, e.chain_len + 2);
    chain[2] ^= 0x01; /* the leaf's length, one off */
    REFUSED_CHAIN(ONR_ECERT, chain, e.chain_len);
    chain[2] ^= 0x01;
    chain[0] = 0x31; /* a SET, not a SEQUENCE */
    REFUSED_CHAIN(ONR_ECERT, chain, e.chain_len);
    /* the same certificates, five of them: more than a chain holds */
    len = 0;
    for (int i = 0; i < 5; i++) {
        memcpy(chain + len, e.leaf, e.leaf_len);
        len += e.leaf_len;
    }
    assert_true(len <= DEVICE_CHAIN_MAX);
    REFUSED_CHAIN(ONR_ECERT, chain, len);
    /* a broker CA that is no certificate */
    REFUSED(ONR_ECERT, e.chain, e.chain_len, e.p.broker_ca, e.p.broker_ca_len - 1, ENDPOINT);
    memcpy(cert, e.p.broker_ca, e.p.broker_ca_len);
    cert[0] = 0x04;
    REFUSED(ONR_ECERT, e.chain, e.chain_len, cert, e.p.broker_ca_len, ENDPOINT);
    /* endpoints that are not mqtts://HOST:PORT */
    for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++) {
        print_message("endpoint %s\n", bad_endpoints[i]);
        REFUSED(ONR_EFORMAT, e.chain, e.chain_len, e.p.broker_ca, e.p.broker_ca_len,
                bad_endpoints[i]);
    }
#undef REFUSED_CHAIN
#undef REFUSED
    /* the genuine answer is still taken afterwards */
    enroll(&e, ENDPOINT);
    onr_p256_free(ca2_key);
    onr_p256_free(other);
    free(before);
    enrolling_cleanup(&e);
}

/* ---- parsing ------------------------------------------------------------------------------- */

static void test_endpoints_parse_host_names_and_ipv4_addresses(void **state)
{
    char host[DEVICE_HOST_MAX + 1];
    char text[300];
    int port = 0;
    static const struct {
        const char *text, *host;
        int port;
    } good[] = {
        {"mqtts://svc.example:8883", "svc.example", 8883},
        {"mqtts://localhost:1", "localhost", 1},
        {"mqtts://127.0.0.1:65535", "127.0.0.1", 65535},
        {"mqtts://0.0.0.0:8883", "0.0.0.0", 8883},
        {"mqtts://Svc-1.Example.COM:8883", "Svc-1.Example.COM", 8883},
        {"mqtts://1password.example:8883", "1password.example", 8883},
        {"mqtts://a.b2:10", "a.b2", 10},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_onr(ONR_OK, device_endpoint_parse(good[i].text, strlen(good[i].text), host, &port));
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    /* only the given length is read */
    assert_onr(ONR_OK, device_endpoint_parse("mqtts://a.example:1883xyz", 22, host, &port));
    assert_int_equal(port, 1883);
    assert_onr(ONR_EFORMAT, device_endpoint_parse("mqtts://a.example:1883", 21 - 4, host, &port));
    /* a NUL inside is not the end */
    assert_onr(ONR_EFORMAT, device_endpoint_parse("mqtts://a\0b.example:1", 21, host, &port));
    /* labels of 63 are fine, of 64 not; the text is at most 256 */
    snprintf(text, sizeof(text), "mqtts://%.63s.example:1",
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl");
    assert_onr(ONR_OK, device_endpoint_parse(text, strlen(text), host, &port));
    snprintf(text, sizeof(text), "mqtts://%.64s.example:1",
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm");
    assert_onr(ONR_EFORMAT, device_endpoint_parse(text, strlen(text), host, &port));
    memset(text, 0, sizeof(text));
    memcpy(text, "mqtts://", 8);
    for (size_t i = 8; i < 8 + 246; i++)
        text[i] = (i % 10 == 0) ? '.' : 'a';
    memcpy(text + 8 + 246, ":1", 2);
    assert_int_equal(strlen(text), 256);
    assert_onr(ONR_OK, device_endpoint_parse(text, 256, host, &port));
    memmove(text + 9, text + 8, 249);
    text[8] = 'b';
    assert_onr(ONR_EFORMAT, device_endpoint_parse(text, 257, host, &port));
    assert_onr(ONR_EFORMAT, device_endpoint_parse(NULL, 0, host, &port));
}

static void test_chains_split_on_exact_der_lengths(void **state)
{
    struct onr_p256_key *ca_key = NULL, *key = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t ca[ONR_X509_MAX_DER], leaf[ONR_X509_MAX_DER], chain[DEVICE_CHAIN_MAX];
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    size_t ca_len, leaf_len, len, n = 0;
    /* a SEQUENCE whose length is not in its shortest form, or indefinite */
    static const uint8_t long_forms[][6] = {
        {0x30, 0x81, 0x01, 0x00},       {0x30, 0x82, 0x00, 0x01, 0x00},
        {0x30, 0x83, 0x00, 0x00, 0x01}, {0x30, 0x80, 0x00, 0x00},
    };
    static const size_t long_lens[] = {4, 5, 5, 4};

    (void)state;
    assert_onr(ONR_OK, onr_p256_generate(&ca_key));
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_p256_public(key, pub));
    ca_len = make_ca(ca_key, "ca", ca);
    leaf_len = issue(ca_key, ca, ca_len, pub, "leaf", 0, leaf);
    len = cat(chain, leaf, leaf_len, ca, ca_len);
    assert_onr(ONR_OK, device_chain_split(chain, len, certs, ONR_X509_MAX_CHAIN, &n));
    assert_int_equal(n, 2);
    assert_ptr_equal(certs[0].ptr, chain);
    assert_int_equal(certs[0].len, leaf_len);
    assert_ptr_equal(certs[1].ptr, chain + leaf_len);
    assert_int_equal(certs[1].len, ca_len);
    /* every cut splits only at a certificate's end */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = device_chain_split(chain, cut, certs, ONR_X509_MAX_CHAIN, &n);

        assert_onr(cut == leaf_len ? ONR_OK : ONR_ECERT, rc);
    }
    /* trailing bytes, too many certificates */
    chain[len] = 0x30;
    assert_onr(ONR_ECERT, device_chain_split(chain, len + 1, certs, ONR_X509_MAX_CHAIN, &n));
    assert_onr(ONR_ECERT, device_chain_split(chain, len, certs, 1, &n));
    /* lengths not in their shortest form, indefinite or too long */
    for (size_t i = 0; i < sizeof(long_lens) / sizeof(long_lens[0]); i++)
        assert_onr(ONR_ECERT, device_chain_split(long_forms[i], long_lens[i], certs, 4, &n));
    chain[0] = 0x30;
    chain[1] = 0x82;
    chain[2] = 0x10; /* 4096 + 4 bytes: over a certificate's bound */
    chain[3] = 0x00;
    assert_onr(ONR_ECERT, device_chain_split(chain, sizeof(chain), certs, 4, &n));
    /* a short form is read as such (onr_x509_parse judges the content) */
    assert_onr(ONR_OK, device_chain_split((const uint8_t *)"\x30\x01\x00", 3, certs, 4, &n));
    assert_int_equal(n, 1);
    onr_p256_free(key);
    onr_p256_free(ca_key);
}

/* ---- reopened -------------------------------------------------------------------------------- */

static void test_device_resumes_enrolled_then_operational(void **state)
{
    const char *dir = *state;
    struct enrolling e;
    struct onr_device *dev = NULL;
    struct onr_device_options once = {.max_attempts = 1};
    struct event_base *base;
    struct heard h;

    enrolling_init(dir, &e);
    enroll(&e, "mqtts://127.0.0.1:1");
    /* ENROLLED, to the end: it goes to the service broker, not a bootstrap
     * one (nobody listens on port 1: the one attempt fails) */
    assert_onr(ONR_OK, open_device_with(dir, &once, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_ENROLLED);
    assert_onr(ONR_EIO, onr_device_run(dev));
    assert_int_equal(h.done, 1);
    assert_onr(ONR_EIO, h.result);
    assert_string_equal(h.events, "state operating failed ");
    onr_device_close(dev);

    /* OPERATIONAL: a run to OPERATIONAL reconnects, it does not end at once */
    write_text(dir, "journey", "OPERATIONAL\n", 0600);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_OPERATIONAL);
    base = event_base_new();
    assert_non_null(base);
    assert_onr(ONR_OK, onr_device_start(dev, base));
    assert_int_equal(h.done, 0);
    onr_device_close(dev); /* stopped */
    assert_int_equal(h.done, 1);
    assert_onr(ONR_EBUSY, h.result);
    event_base_free(base);
    assert_onr(ONR_OK, open_device_with(dir, &once, &h, &dev));
    assert_onr(ONR_EIO, onr_device_run(dev));
    assert_string_equal(h.events, "state operating failed ");
    onr_device_close(dev);
    /* a run to an earlier state ends at once */
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_ENROLLED, &h, &dev));
    assert_onr(ONR_OK, onr_device_run(dev));
    assert_int_equal(h.done, 1);
    assert_string_equal(h.events, "state ");
    onr_device_close(dev);
    enrolling_cleanup(&e);
}

static void test_device_open_refuses_damaged_service_files(void **state)
{
    const char *dir = *state;
    struct enrolling e;
    struct onr_p256_key *other = NULL;
    struct onr_device *dev = NULL;
    struct heard h;
    uint8_t other_pub[ONR_P256_PUB_LEN], cert[ONR_X509_MAX_DER];
    struct onr_bytes certs[2];
    char path[1024], bak[1024];

    enrolling_init(dir, &e);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    assert_onr(ONR_OK, onr_p256_public(other, other_pub));
    /* NETWORK_ATTACHED: a service key made is checked, none is fine */
    write_text(dir, "service.key", "garbage\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "service.key");
    assert_int_equal(unlink(onr_test_path(dir, "service.key")), 0);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    onr_device_close(dev);
    assert_onr(ONR_OK, device_service_key_save(dir, e.key));
    enroll(&e, ENDPOINT);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    onr_device_close(dev);

    /* the service key: missing, readable by others, damaged, another one */
    snprintf(path, sizeof(path), "%s", onr_test_path(dir, "service.key"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "service.key.bak"));
    assert_int_equal(rename(path, bak), 0);
    assert_open_refused(dir, ONR_EFORMAT, "service.key");
    assert_int_equal(rename(bak, path), 0);
    assert_int_equal(chmod(path, 0644), 0);
    assert_open_refused(dir, ONR_EPERM, "service.key");
    assert_int_equal(chmod(path, 0600), 0);
    assert_onr(ONR_OK, device_service_key_save(dir, other));
    assert_open_refused(dir, ONR_EFORMAT, "service.pem"); /* not the key certified */
    assert_onr(ONR_OK, device_service_key_save(dir, e.key));

    /* the chain: missing, damaged, the leaf alone, for another device */
    snprintf(path, sizeof(path), "%s", onr_test_path(dir, "service.pem"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "service.pem.bak"));
    assert_int_equal(rename(path, bak), 0);
    assert_open_refused(dir, ONR_EFORMAT, "service.pem");
    write_text(dir, "service.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
               0644);
    assert_open_refused(dir, ONR_EFORMAT, "service.pem");
    certs[0] = (struct onr_bytes){e.leaf, e.leaf_len};
    assert_onr(ONR_OK, onr_x509_save(path, certs, 1));
    assert_open_refused(dir, ONR_EFORMAT, "service.pem");
    certs[0].len = issue(e.p.ca_key, e.p.ca, e.p.ca_len, e.pub, OTHER_DEV, 0, cert);
    certs[0].ptr = cert;
    certs[1] = (struct onr_bytes){e.p.ca, e.p.ca_len};
    assert_onr(ONR_OK, onr_x509_save(path, certs, 2));
    assert_open_refused(dir, ONR_EFORMAT, "service.pem");
    assert_int_equal(rename(bak, path), 0);

    /* the broker's CA: missing, damaged */
    snprintf(path, sizeof(path), "%s", onr_test_path(dir, "service-ca.pem"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "service-ca.pem.bak"));
    assert_int_equal(rename(path, bak), 0);
    assert_open_refused(dir, ONR_EFORMAT, "service-ca.pem");
    write_text(dir, "service-ca.pem", "not PEM\n", 0644);
    assert_open_refused(dir, ONR_EFORMAT, "service-ca.pem");
    assert_int_equal(rename(bak, path), 0);

    /* the endpoint: missing, not one, not one line */
    snprintf(path, sizeof(path), "%s", onr_test_path(dir, "endpoint"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "endpoint.bak"));
    assert_int_equal(rename(path, bak), 0);
    assert_open_refused(dir, ONR_EFORMAT, "endpoint");
    write_text(dir, "endpoint", "mqtts://svc.example:0\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "endpoint");
    write_text(dir, "endpoint", ENDPOINT, 0600);
    assert_open_refused(dir, ONR_EFORMAT, "endpoint");
    write_text(dir, "endpoint", ENDPOINT "\n" ENDPOINT "\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "endpoint");
    write_text(dir, "endpoint", "\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "endpoint");
    assert_int_equal(rename(bak, path), 0);

    /* OPERATIONAL reads the same files */
    write_text(dir, "journey", "OPERATIONAL\n", 0600);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    onr_device_close(dev);
    assert_int_equal(unlink(onr_test_path(dir, "service-ca.pem")), 0);
    assert_open_refused(dir, ONR_EFORMAT, "service-ca.pem");
    onr_p256_free(other);
    enrolling_cleanup(&e);
}

int main(void)
{
#define WITH_DIR(t) \
    cmocka_unit_test_setup_teardown(t, onr_test_setup_tmpdir, onr_test_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        WITH_DIR(test_service_key_is_made_once_and_named_by_every_request),
        WITH_DIR(test_device_takes_an_enrollment_for_its_key),
        WITH_DIR(test_device_refuses_enrollments_that_do_not_check),
        cmocka_unit_test(test_endpoints_parse_host_names_and_ipv4_addresses),
        cmocka_unit_test(test_chains_split_on_exact_der_lengths),
        WITH_DIR(test_device_resumes_enrolled_then_operational),
        WITH_DIR(test_device_open_refuses_damaged_service_files),
    };
#undef WITH_DIR
    int failures;

    mosquitto_lib_init();
    failures = cmocka_run_group_tests(tests, NULL, NULL);
    mosquitto_lib_cleanup();
    return failures;
}
