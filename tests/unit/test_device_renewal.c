/*
 * A certificate renewal on the device (device/src/device_renewal.c, SPEC
 * section 17), without a broker: when it is due, the new key made once,
 * the provider's answer taken or refused (nothing changed), the switch and
 * its note, a switch cut short finished at open, the provider's
 * confirmation, and a certificate expired sending the device back to
 * enrollment (an enrollment restarted and cut short finished at open).
 */
#include "testutil.h"
#include "device_fixture.h"

#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/hash.h"
#include "onramp/x509.h"

#define DAY INT64_C(86400)

/* A device enrolled by a provider whose CA the test keeps. */
struct renewing {
    const char *dir;
    struct fixture f;
    struct fixture_provider p;
    struct device_service old; /* the certificate in force */
    struct onr_p256_key *key;  /* the renewal's key */
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t chain[DEVICE_CHAIN_MAX];
};

static void renewing_init(const char *dir, struct renewing *r)
{
    struct device_journey j;
    const char *what = NULL;

    memset(r, 0, sizeof(*r));
    r->dir = dir;
    fixture_provider_init(&r->p);
    enrolled_by(dir, &r->f, &r->p, 0);
    write_text(dir, "journey", "OPERATIONAL\n", 0600);
    assert_onr(ONR_OK, device_journey_load(dir, &r->f.trust, &j, &what));
    r->old = j.service;
    device_journey_cleanup(&j);
}

static void renewing_cleanup(struct renewing *r)
{
    onr_p256_free(r->key);
    fixture_provider_cleanup(&r->p);
    fixture_cleanup(&r->f);
}

static int exists(const char *dir, const char *name)
{
    struct stat st;

    return stat(onr_test_path(dir, name), &st) == 0;
}

/* ---- when ------------------------------------------------------------------------------ */

static void test_renewal_is_due_a_third_before_expiry_less_a_stable_jitter(void **state)
{
    struct device_service s = {.serial = {1, 2, 3}, .serial_len = 3,
                               .not_before = 1900000000, .not_after = 1900000000 + 360 * DAY};
    const char *dev = "rguib733fa2xfyrzdwehzsohu743ont4";
    const struct onr_bytes parts[] = {ONR_BYTES("onramp/1 renew"),
                                      {(const uint8_t *)dev, strlen(dev)}, {s.serial, 3}};
    uint8_t hash[ONR_SHA256_LEN];
    uint32_t j;
    int64_t at = device_renew_at(dev, &s, 0), spread_min = INT64_MAX, spread_max = 0;

    (void)state;
    /* SPEC section 17's jitter, computed here from its words */
    assert_onr(ONR_OK, onr_sha256(parts, 3, hash));
    j = (uint32_t)hash[0] << 24 | (uint32_t)hash[1] << 16 | (uint32_t)hash[2] << 8 | hash[3];
    assert_int_equal(at, s.not_after - 120 * DAY - (int64_t)(j % (uint64_t)(30 * DAY + 1)));
    assert_int_equal(device_renew_at(dev, &s, 0), at); /* stable */
    /* another serial, another moment within the quarter */
    for (uint8_t i = 0; i < 64; i++) {
        int64_t t;

        s.serial[2] = i;
        t = device_renew_at(dev, &s, 0);
        assert_true(t <= s.not_after - 120 * DAY && t >= s.not_after - 150 * DAY);
        spread_min = t < spread_min ? t : spread_min;
        spread_max = t > spread_max ? t : spread_max;
    }
    assert_true(spread_max - spread_min > 10 * DAY); /* a fleet spreads */
    /* renew_before given: that, less up to a quarter of it */
    at = device_renew_at(dev, &s, 8 * DAY);
    assert_true(at <= s.not_after - 8 * DAY && at >= s.not_after - 10 * DAY);
    /* renew_before past the lifetime: due at once */
    assert_true(device_renew_at(dev, &s, 400 * DAY) < s.not_before);
    /* no lifetime to tell */
    s.not_after = s.not_before;
    assert_int_equal(device_renew_at(dev, &s, 0), 0);
    assert_int_equal(device_renew_at(NULL, &s, 0), 0);
}

/* ---- the key ------------------------------------------------------------------------------ */

static void test_renewal_key_is_made_once_and_kept_private(void **state)
{
    const char *dir = *state;
    struct renewing r;
    struct onr_p256_key *again = NULL;
    uint8_t pub[ONR_P256_PUB_LEN], pub2[ONR_P256_PUB_LEN];

    renewing_init(dir, &r);
    assert_onr(ONR_OK, device_renewal_key(dir, &r.key));
    assert_int_equal(mode_of(dir, "renew") & 0777, 0700);
    assert_int_equal(mode_of(dir, "renew/service.key") & 0777, 0600);
    assert_onr(ONR_OK, device_renewal_key(dir, &again));
    assert_onr(ONR_OK, onr_p256_public(r.key, pub));
    assert_onr(ONR_OK, onr_p256_public(again, pub2));
    assert_memory_equal(pub, pub2, sizeof(pub)); /* every request names it */
    onr_p256_free(again);
    /* a renewal key is no reason to reopen differently */
    {
        struct heard h;
        struct onr_device *dev = NULL;

        assert_onr(ONR_OK, open_device(dir, &h, &dev));
        onr_device_close(dev);
    }
    renewing_cleanup(&r);
}

/* ---- the answer ------------------------------------------------------------------------- */

static void test_device_takes_a_renewal_and_switches(void **state)
{
    const char *dir = *state;
    struct renewing r;
    struct onr_msg_enroll_response m;
    struct device_service now;
    struct device_journey j;
    const char *what = NULL;
    uint8_t serial[20];
    size_t len = 0;
    struct heard h;
    struct onr_device *dev = NULL;

    renewing_init(dir, &r);
    assert_onr(ONR_OK, device_renewal_key(dir, &r.key));
    assert_onr(ONR_OK, onr_p256_public(r.key, r.pub));
    m = fixture_answer(&r.p, r.f.trust.dev, r.pub, 0, r.chain);
    assert_onr(ONR_OK, device_take_renewal(r.f.trust.dev, r.key, &m, dir, &r.old, &now));
    assert_memory_not_equal(now.serial, r.old.serial, r.old.serial_len);
    /* in force: the new key and chain; renew/ gone; the note names the old */
    assert_false(exists(dir, "renew"));
    assert_int_equal(device_renewed_pending(dir, serial, &len), 1);
    assert_int_equal(len, r.old.serial_len);
    assert_memory_equal(serial, r.old.serial, len);
    assert_int_equal(mode_of(dir, "service.key") & 0777, 0600);
    assert_onr(ONR_OK, device_journey_load(dir, &r.f.trust, &j, &what));
    assert_int_equal(j.state, ONR_DEVICE_OPERATIONAL);
    assert_memory_equal(j.service.serial, now.serial, now.serial_len);
    device_journey_cleanup(&j);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    onr_device_close(dev);
    /* confirmed: the note goes */
    assert_onr(ONR_OK, device_renewed_clear(dir));
    assert_int_equal(device_renewed_pending(dir, serial, &len), 0);
    assert_onr(ONR_OK, device_renewed_clear(dir)); /* twice is fine */
    renewing_cleanup(&r);
}

static void test_device_refuses_renewals_that_do_not_check(void **state)
{
    const char *dir = *state;
    struct renewing r;
    struct onr_msg_enroll_response m;
    struct device_service now;
    struct onr_p256_key *other = NULL;
    uint8_t other_pub[ONR_P256_PUB_LEN];
    struct fixture_provider stranger;
    char *before;
    size_t before_len = 0;

    renewing_init(dir, &r);
    assert_onr(ONR_OK, device_renewal_key(dir, &r.key));
    assert_onr(ONR_OK, onr_p256_public(r.key, r.pub));
    before = snapshot(dir, &before_len);
    /* for another key (the one in force, say) */
    assert_onr(ONR_OK, onr_p256_generate(&other));
    assert_onr(ONR_OK, onr_p256_public(other, other_pub));
    m = fixture_answer(&r.p, r.f.trust.dev, other_pub, 0, r.chain);
    assert_onr(ONR_EDENIED, device_take_renewal(r.f.trust.dev, r.key, &m, dir, &r.old, &now));
    /* for another device */
    m = fixture_answer(&r.p, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", r.pub, 0, r.chain);
    assert_onr(ONR_EDENIED, device_take_renewal(r.f.trust.dev, r.key, &m, dir, &r.old, &now));
    /* a chain that does not hold together: leaf of one CA, another CA last */
    fixture_provider_init(&stranger);
    m = fixture_answer(&r.p, r.f.trust.dev, r.pub, 0, r.chain);
    memcpy(r.chain + m.chain.len - r.p.ca_len, stranger.ca, stranger.ca_len);
    m.chain.len = m.chain.len - r.p.ca_len + stranger.ca_len;
    assert_onr(ONR_ECHAIN, device_take_renewal(r.f.trust.dev, r.key, &m, dir, &r.old, &now));
    /* a bad endpoint */
    m = fixture_answer(&r.p, r.f.trust.dev, r.pub, 0, r.chain);
    m.endpoint = ONR_BYTES_STR("mqtts://svc.example");
    assert_onr(ONR_EFORMAT, device_take_renewal(r.f.trust.dev, r.key, &m, dir, &r.old, &now));
    /* nothing changed: the certificate in force, the key waiting */
    assert_same_snapshot(dir, before, before_len);
    free(before);
    fixture_provider_cleanup(&stranger);
    onr_p256_free(other);
    renewing_cleanup(&r);
}

/* Power cuts: the answer stored whole and noted (renew/ready), then the
 * switch cut after any rename: the next open finishes it. */
static void test_a_switch_cut_short_is_finished_at_open(void **state)
{
    static const char *const moves[] = {"service.pem", "service-ca.pem", "endpoint",
                                        "service.key"};
    const char *dir = *state;
    struct renewing r;
    struct onr_msg_enroll_response m;
    struct device_service checked;
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    char renew[1024], from[1100], to[1100];
    size_t n = 0;

    renewing_init(dir, &r);
    assert_onr(ONR_OK, device_renewal_key(dir, &r.key));
    assert_onr(ONR_OK, onr_p256_public(r.key, r.pub));
    m = fixture_answer(&r.p, r.f.trust.dev, r.pub, 0, r.chain);
    snprintf(renew, sizeof(renew), "%s/renew", dir);
    assert_onr(ONR_OK, device_chain_split(m.chain.ptr, m.chain.len, certs, ONR_X509_MAX_CHAIN,
                                          &n));
    assert_onr(ONR_OK, device_service_check(certs, n, m.ca, r.pub, r.f.trust.dev,
                                            FIXTURE_ENDPOINT, strlen(FIXTURE_ENDPOINT), 1,
                                            &checked));
    assert_onr(ONR_OK, device_service_save(renew, certs, n, m.ca, FIXTURE_ENDPOINT,
                                           strlen(FIXTURE_ENDPOINT)));
    /* the answer stored, not noted ready: the open ignores it */
    {
        struct heard h;
        struct onr_device *dev = NULL;
        struct onr_device_service s;

        assert_onr(ONR_OK, open_device(dir, &h, &dev));
        assert_onr(ONR_OK, onr_device_service(dev, &s));
        assert_memory_equal(s.serial, r.old.serial, r.old.serial_len);
        onr_device_close(dev);
    }
    write_text(renew, "ready", "00\n", 0600);
    /* cut after two renames */
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof(from), "%s/%s", renew, moves[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, moves[i]);
        assert_int_equal(rename(from, to), 0);
    }
    {
        struct heard h;
        struct onr_device *dev = NULL;
        struct onr_device_service s;
        uint8_t serial[20];
        size_t len = 0;

        assert_onr(ONR_OK, open_device(dir, &h, &dev));
        assert_onr(ONR_OK, onr_device_service(dev, &s));
        assert_memory_equal(s.serial, checked.serial, checked.serial_len);
        onr_device_close(dev);
        assert_false(exists(dir, "renew"));
        assert_int_equal(device_renewed_pending(dir, serial, &len), 1);
        assert_int_equal(len, 1);
    }
    renewing_cleanup(&r);
}

/* ---- expired --------------------------------------------------------------------------- */

static void test_an_expired_certificate_restarts_enrollment(void **state)
{
    const char *dir = *state;
    char again[1024];
    struct fixture f;
    enum onr_device_state s;
    struct heard h;
    struct onr_device *dev = NULL;
    struct onr_p256_key *key = NULL;
    uint8_t csr[DEVICE_CSR_MAX];
    size_t csr_len = 0;

    enrolled(dir, &f);
    write_text(dir, "journey", "OPERATIONAL\n", 0600);
    assert_onr(ONR_OK, device_renewal_key(dir, &key));
    onr_p256_free(key);
    key = NULL;
    write_text(dir, "renewed", "0a\n", 0600);
    assert_onr(ONR_OK, device_service_expire(dir));
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_NETWORK_ATTACHED);
    for (const char *const *name = (const char *const[]){"service.key", "service.pem",
                                                         "service-ca.pem", "endpoint",
                                                         "renewed", "renew", NULL};
         *name != NULL; name++)
        assert_false(exists(dir, *name));
    assert_true(exists(dir, "akma")); /* its last attach's key enrolls again */
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_NETWORK_ATTACHED);
    onr_device_close(dev);
    /* cut short: the journey back, the files not yet removed: the open
     * removes them, and the next enrollment makes a new key */
    fixture_cleanup(&f);
    snprintf(again, sizeof(again), "%s/again", (const char *)*state);
    dir = again;
    assert_int_equal(mkdir(dir, 0700), 0);
    enrolled(dir, &f);
    {
        struct onr_p256_key *old = NULL;
        uint8_t old_pub[ONR_P256_PUB_LEN], new_pub[ONR_P256_PUB_LEN];

        assert_onr(ONR_OK, device_service_key_load(dir, &old));
        assert_onr(ONR_OK, onr_p256_public(old, old_pub));
        write_text(dir, "journey", "NETWORK_ATTACHED\n", 0600);
        assert_onr(ONR_OK, open_device(dir, &h, &dev));
        onr_device_close(dev);
        assert_false(exists(dir, "service.pem"));
        assert_false(exists(dir, "service.key"));
        assert_onr(ONR_OK, device_enroll_csr(dir, f.trust.dev, &key, csr, &csr_len));
        assert_onr(ONR_OK, onr_p256_public(key, new_pub));
        assert_memory_not_equal(old_pub, new_pub, sizeof(old_pub));
        onr_p256_free(old);
    }
    onr_p256_free(key);
    fixture_cleanup(&f);
}

static void test_factory_reset_removes_a_renewal(void **state)
{
    const char *dir = *state;
    struct renewing r;

    renewing_init(dir, &r);
    assert_onr(ONR_OK, device_renewal_key(dir, &r.key));
    write_text(dir, "renewed", "0a\n", 0600);
    assert_onr(ONR_OK, onr_device_factory_reset(dir));
    assert_false(exists(dir, "renew"));
    assert_false(exists(dir, "renewed"));
    assert_true(exists(dir, "device.conf"));
    renewing_cleanup(&r);
}

static void test_damaged_renewal_notes(void **state)
{
    const char *dir = *state;
    struct renewing r;
    uint8_t serial[20];
    size_t len = 0;

    renewing_init(dir, &r);
    write_text(dir, "renewed", "0a", 0600);
    assert_onr(ONR_EFORMAT, device_renewed_pending(dir, serial, &len));
    write_text(dir, "renewed", "0A\n", 0600);
    assert_onr(ONR_EFORMAT, device_renewed_pending(dir, serial, &len));
    write_text(dir, "renewed", "\n", 0600);
    assert_onr(ONR_EFORMAT, device_renewed_pending(dir, serial, &len));
    write_text(dir, "renewed", "000102030405060708090a0b0c0d0e0f1011121314\n", 0600);
    assert_onr(ONR_EFORMAT, device_renewed_pending(dir, serial, &len));
    renewing_cleanup(&r);
}

int main(void)
{
#define WITH_DIR(t) \
    cmocka_unit_test_setup_teardown(t, onr_test_setup_tmpdir, onr_test_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renewal_is_due_a_third_before_expiry_less_a_stable_jitter),
        WITH_DIR(test_renewal_key_is_made_once_and_kept_private),
        WITH_DIR(test_device_takes_a_renewal_and_switches),
        WITH_DIR(test_device_refuses_renewals_that_do_not_check),
        WITH_DIR(test_a_switch_cut_short_is_finished_at_open),
        WITH_DIR(test_an_expired_certificate_restarts_enrollment),
        WITH_DIR(test_factory_reset_removes_a_renewal),
        WITH_DIR(test_damaged_renewal_notes),
    };
#undef WITH_DIR
    int failures;

    mosquitto_lib_init();
    failures = cmocka_run_group_tests(tests, NULL, NULL);
    mosquitto_lib_cleanup();
    return failures;
}
