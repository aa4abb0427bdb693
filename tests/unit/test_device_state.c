/*
 * The device's journey on disk and its voucher check (device/src), without
 * a broker: what a power cut, a damaged disk and a hostile network may do
 * to them, and the factory reset that takes the journey back. A state
 * directory is minted (device_fixture.c) as onramp-factory would.
 */
#include "testutil.h"
#include "device_fixture.h"

#include <event2/event.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device_internal.h"
#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"

static void test_device_takes_a_good_voucher(void **state)
{
    struct fixture f;
    uint8_t t[ONR_ENVELOPE_MAX];
    uint64_t now = (uint64_t)time(NULL);
    size_t len;
    struct onr_device_voucher v;

    (void)state;
    fixture_init(&f);
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now + 3600, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    assert_string_equal(v.mfr, "acme");
    assert_string_equal(v.prov, "prov-1");
    assert_string_equal(v.op, "op-1");
    assert_memory_equal(v.prov_key, f.prov_key, 65);
    assert_int_equal(v.expires, now + 3600);
    fixture_cleanup(&f);
}

static void test_device_refuses_foreign_stale_or_forged_vouchers(void **state)
{
    struct fixture f;
    struct onr_p256_key *other = NULL;
    uint8_t t[ONR_ENVELOPE_MAX];
    uint8_t wrong_nonce[ONR_NONCE_LEN];
    uint64_t now = (uint64_t)time(NULL);
    struct onr_device_voucher v;
    struct device_trust elsewhere;
    size_t len;

    (void)state;
    fixture_init(&f);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    /* for another device */
    len = token(&f, f.voucher_key, "acme", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now + 60, t,
                sizeof(t));
    assert_onr(ONR_EDENIED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* from another manufacturer name, or signed by another key */
    len = token(&f, f.voucher_key, "globex", f.trust.dev, now + 60, t, sizeof(t));
    assert_onr(ONR_EDENIED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    len = token(&f, other, "acme", f.trust.dev, now + 60, t, sizeof(t));
    assert_onr(ONR_EBADSIG, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* expired */
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now - 1, t, sizeof(t));
    assert_onr(ONR_EEXPIRED, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    /* answering another hello */
    len = token(&f, f.voucher_key, "acme", f.trust.dev, now + 60, t, sizeof(t));
    memcpy(wrong_nonce, f.nonce, sizeof(wrong_nonce));
    wrong_nonce[0] ^= 1;
    assert_onr(ONR_EREPLAY, device_check_voucher(&f.trust, t, len, wrong_nonce, now, &v));
    /* sealed to another key: a voucher made for a cloned registry entry */
    elsewhere = f.trust;
    elsewhere.seal_pub[0] ^= 1;
    assert_onr(ONR_EDENIED, device_check_voucher(&elsewhere, t, len, f.nonce, now, &v));
    /* any byte changed, or cut short */
    for (size_t i = 0; i < len; i++) {
        t[i] ^= 0x20;
        assert_true(device_check_voucher(&f.trust, t, len, f.nonce, now, &v) != ONR_OK);
        t[i] ^= 0x20;
    }
    assert_true(device_check_voucher(&f.trust, t, len - 1, f.nonce, now, &v) != ONR_OK);
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, now, &v));
    onr_p256_free(other);
    fixture_cleanup(&f);
}

static void test_device_reads_back_a_stored_voucher_without_nonce_or_clock(void **state)
{
    struct fixture f;
    uint8_t t[ONR_ENVELOPE_MAX];
    struct onr_device_voucher v;
    size_t len;

    (void)state;
    fixture_init(&f);
    /* expired long ago: the stored voucher still reads back (now = 0) */
    len = token(&f, f.voucher_key, "acme", f.trust.dev, 1000, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, NULL, 0, &v));
    assert_int_equal(v.expires, 1000);
    assert_onr(ONR_EEXPIRED, device_check_voucher(&f.trust, t, len, NULL, 1000, &v));
    /* not a voucher token at all: a token signed as a hello would be */
    assert_true(device_check_voucher(&f.trust, (const uint8_t *)"\x98", 1, NULL, 0, &v) !=
                ONR_OK);
    fixture_cleanup(&f);
}

/* SPEC sections 6 and 15: the voucher names why its operator was chosen,
 * and for which network; the device keeps both with the voucher. */
static void test_device_keeps_the_vouchers_choice(void **state)
{
    const char *dir = *state;
    struct fixture f;
    struct token_spec spec = {.plmn = "26201", .why = "policy"};
    uint8_t t[ONR_ENVELOPE_MAX];
    struct onr_device_voucher v;
    struct onr_device *dev = NULL;
    struct heard h;
    size_t len;

    mint(dir, &f, NULL, NULL);
    len = token_with(&f, &spec, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, (uint64_t)time(NULL), &v));
    assert_string_equal(v.plmn, "26201");
    assert_int_equal(v.why, ONR_CHOICE_POLICY);
    assert_memory_equal(v.nonce, f.nonce, ONR_NONCE_LEN);
    assert_onr(ONR_OK, device_voucher_save(dir, t, len));
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_VOUCHED));
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_onr(ONR_OK, onr_device_voucher(dev, &v));
    assert_string_equal(v.op, "op-1");
    assert_string_equal(v.plmn, "26201");
    assert_int_equal(v.why, ONR_CHOICE_POLICY);
    onr_device_close(dev);
    /* a token issued before roaming says neither */
    spec = (struct token_spec){0};
    len = token_with(&f, &spec, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, 0, &v));
    assert_string_equal(v.plmn, "");
    assert_int_equal(v.why, 0);
    spec.why = "user";
    len = token_with(&f, &spec, t, sizeof(t));
    assert_onr(ONR_OK, device_check_voucher(&f.trust, t, len, f.nonce, 0, &v));
    assert_int_equal(v.why, ONR_CHOICE_USER);
    fixture_cleanup(&f);
}

/* device.conf's visited_plmn and the library's API: the network the
 * device reports; malformed, refused with nothing changed. */
static void test_device_visited_plmn_from_conf_and_api(void **state)
{
    const char *dir = *state;
    static const char *const bad[] = {"2620", "2620111", "26201x", "x26201", "-26201",
                                      "26 201", "\"26201\"", "+26201"};
    struct fixture f;
    struct onr_device *dev = NULL;
    struct heard h;
    char conf[256];
    char *before;
    size_t before_len = 0;

    mint(dir, &f, NULL, NULL);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_string_equal(onr_device_visited_plmn(dev), ""); /* none: unknown */
    onr_device_close(dev);
    write_conf(dir, f.trust.dev, FIXTURE_BROKERS "visited_plmn 26201\n");
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_string_equal(onr_device_visited_plmn(dev), "26201");
    /* the modem says otherwise */
    assert_onr(ONR_OK, onr_device_set_visited_plmn(dev, "724005"));
    assert_string_equal(onr_device_visited_plmn(dev), "724005");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_onr(ONR_EINVAL, onr_device_set_visited_plmn(dev, bad[i]));
        assert_string_equal(onr_device_visited_plmn(dev), "724005");
    }
    assert_onr(ONR_EINVAL, onr_device_set_visited_plmn(NULL, "26201"));
    assert_onr(ONR_OK, onr_device_set_visited_plmn(dev, NULL));
    assert_string_equal(onr_device_visited_plmn(dev), "");
    onr_device_close(dev);
    /* malformed in device.conf: the device does not open, names the key,
     * and writes nothing */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(conf, sizeof(conf), FIXTURE_BROKERS "visited_plmn %s\n", bad[i]);
        write_conf(dir, f.trust.dev, conf);
        before = snapshot(dir, &before_len);
        assert_onr(ONR_EFORMAT, open_device(dir, &h, &dev));
        assert_null(dev);
        assert_string_equal(h.event, "error");
        assert_non_null(strstr(h.detail, "file=device.conf key=visited_plmn code=EFORMAT "));
        assert_same_snapshot(dir, before, before_len);
        free(before);
    }
    fixture_cleanup(&f);
}

static void test_journey_survives_reopen_and_refuses_damage(void **state)
{
    const char *dir = *state;
    enum onr_device_state s = ONR_DEVICE_VOUCHED;
    uint8_t buf[64];
    size_t len = 0;

    /* a device as minted has no journey yet */
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_FACTORY);
    assert_onr(ONR_ENOENT, device_voucher_load(dir, buf, sizeof(buf), &len));
    assert_onr(ONR_OK, device_voucher_save(dir, (const uint8_t *)"token", 5));
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_VOUCHED));
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_VOUCHED);
    assert_onr(ONR_OK, device_voucher_load(dir, buf, sizeof(buf), &len));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "token", 5);
    assert_string_equal(onr_device_state_name(ONR_DEVICE_VOUCHED), "VOUCHED");
    /* damaged: truncated, unknown, or huge state files are refused */
    static const char *const damaged[] = {"VOUCH", "VOUCHED", "VOUCHED\nX\n", "OPERATIONAL",
                                          "DECOMMISSIONED\n", ""};
    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        assert_onr(ONR_OK, onr_file_write_atomic(onr_test_path(dir, "journey"), damaged[i],
                                                 strlen(damaged[i]), 0600));
        assert_onr(ONR_EFORMAT, device_state_load(dir, &s));
    }
    char big[200];
    memset(big, 'A', sizeof(big));
    assert_onr(ONR_OK, onr_file_write_atomic(onr_test_path(dir, "journey"), big, sizeof(big),
                                             0600));
    assert_onr(ONR_EFORMAT, device_state_load(dir, &s));
}

/* ---- a whole state directory, through <onramp/device.h> ---------------------- */

static void test_device_opens_as_minted_and_resumes_vouched(void **state)
{
    const char *dir = *state;
    struct fixture f;
    struct device_files files;
    struct onr_device *dev = NULL;
    struct onr_device_voucher v;
    struct event_base *base;
    struct heard h;

    mint(dir, &f, NULL, NULL);
    /* the factory's files as the device reads them */
    assert_onr(ONR_OK, device_files_load(dir, &files, NULL, NULL));
    assert_string_equal(files.trust.dev, f.trust.dev);
    assert_string_equal(files.trust.mfr, "acme");
    assert_memory_equal(files.trust.voucher_key, f.trust.voucher_key, ONR_P256_PUB_LEN);
    assert_memory_equal(files.trust.seal_pub, f.trust.seal_pub, ONR_X25519_KEY_LEN);
    assert_int_equal(files.n_brokers, 2);
    assert_string_equal(files.brokers[1].name, "bs-2");
    assert_string_equal(files.brokers[1].host, "localhost");
    assert_int_equal(files.brokers[1].port, 2);
    assert_true(files.cert_len > 64);
    device_files_cleanup(&files);

    /* fresh from the factory */
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_FACTORY);
    assert_string_equal(onr_device_id(dev), f.trust.dev);
    assert_onr(ONR_ENOENT, onr_device_voucher(dev, &v));
    onr_device_close(dev);

    /* vouched, then powered off: it resumes VOUCHED with its voucher */
    store_voucher(dir, &f, f.voucher_key, f.trust.dev);
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_VOUCHED, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_VOUCHED);
    assert_onr(ONR_OK, onr_device_voucher(dev, &v));
    assert_string_equal(v.mfr, "acme");
    assert_string_equal(v.prov, "prov-1");
    assert_string_equal(v.op, "op-1");
    assert_memory_equal(v.op_key, f.op_key, sizeof(v.op_key));
    /* the target is reached: the run ends at once, with no connection */
    base = event_base_new();
    assert_non_null(base);
    assert_onr(ONR_OK, onr_device_start(dev, base));
    assert_int_equal(h.states, 1);
    assert_int_equal(h.done, 1);
    assert_onr(ONR_OK, h.result);
    assert_onr(ONR_EINVAL, onr_device_start(dev, base)); /* once per device */
    onr_device_close(dev);
    event_base_free(base);
    onr_device_close(NULL);

    /* the same through the library's own loop */
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_VOUCHED, &h, &dev));
    assert_onr(ONR_OK, onr_device_run(dev));
    assert_int_equal(h.done, 1);
    onr_device_close(dev);

    /* by default it goes on to the last step: started, not done */
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    base = event_base_new();
    assert_non_null(base);
    assert_onr(ONR_OK, onr_device_start(dev, base));
    assert_int_equal(h.done, 0);
    onr_device_close(dev); /* stopped */
    assert_int_equal(h.done, 1);
    assert_onr(ONR_EBUSY, h.result);
    event_base_free(base);
    fixture_cleanup(&f);
}

static void test_device_open_refuses_a_damaged_directory(void **state)
{
    const char *dir = *state;
    struct fixture f;
    struct onr_p256_key *other = NULL;
    struct onr_device *dev = NULL;
    struct heard h;
    char key[1024], bak[1024];

    mint(dir, &f, NULL, NULL);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    /* a journey file cut short by a power cut the atomic write did not
     * cover (copied by hand, say), or from a future version */
    write_text(dir, "journey", "VOUCH", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "journey");
    write_text(dir, "journey", "DECOMMISSIONED\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "journey");
    /* VOUCHED without its voucher, or with one it would not have taken */
    write_text(dir, "journey", "VOUCHED\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "voucher");
    store_voucher(dir, &f, other, f.trust.dev);
    assert_open_refused(dir, ONR_EFORMAT, "voucher");
    store_voucher(dir, &f, f.voucher_key, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_open_refused(dir, ONR_EFORMAT, "voucher");
    write_text(dir, "voucher", "garbage", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "voucher");
    /* no journey: as minted again */
    assert_int_equal(unlink(onr_test_path(dir, "journey")), 0);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_FACTORY);
    onr_device_close(dev);

    /* device.conf incomplete, or naming another device */
    write_conf(dir, f.trust.dev, "");
    assert_open_refused(dir, ONR_EFORMAT, "device.conf");
    write_conf(dir, f.trust.dev, "broker bs-1 127.0.0.1 70000\n");
    assert_open_refused(dir, ONR_EFORMAT, "device.conf");
    /* a broker name that is no service id: no plugin has it */
    write_conf(dir, f.trust.dev, FIXTURE_BROKERS "broker BS-3 127.0.0.1 3\n");
    assert_open_refused(dir, ONR_EFORMAT, "device.conf");
    write_conf(dir, f.trust.dev, "broker -bs 127.0.0.1 3\n");
    assert_open_refused(dir, ONR_EFORMAT, "device.conf");
    /* at most 8 brokers (onramp-factory mint's bound too) */
    write_conf(dir, f.trust.dev,
               "broker b1 h 1\nbroker b2 h 2\nbroker b3 h 3\nbroker b4 h 4\n"
               "broker b5 h 5\nbroker b6 h 6\nbroker b7 h 7\nbroker b8 h 8\n");
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    onr_device_close(dev);
    write_conf(dir, f.trust.dev,
               "broker b1 h 1\nbroker b2 h 2\nbroker b3 h 3\nbroker b4 h 4\n"
               "broker b5 h 5\nbroker b6 h 6\nbroker b7 h 7\nbroker b8 h 8\nbroker b9 h 9\n");
    assert_open_refused(dir, ONR_EFORMAT, "device.conf");
    write_conf(dir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FIXTURE_BROKERS);
    assert_open_refused(dir, ONR_EBADKEY, "identity.key");
    write_conf(dir, f.trust.dev, FIXTURE_BROKERS);
    /* keys readable by others, missing or damaged */
    assert_int_equal(chmod(onr_test_path(dir, "identity.key"), 0644), 0);
    assert_open_refused(dir, ONR_EPERM, "identity.key");
    assert_int_equal(chmod(onr_test_path(dir, "identity.key"), 0600), 0);
    snprintf(key, sizeof(key), "%s", onr_test_path(dir, "sealing.key"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "sealing.key.bak"));
    assert_int_equal(rename(key, bak), 0);
    assert_open_refused(dir, ONR_ENOENT, "sealing.key");
    assert_int_equal(rename(bak, key), 0);
    write_text(dir, "voucher.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
               0644);
    assert_true(open_device(dir, &h, &dev) != ONR_OK);
    assert_non_null(strstr(h.detail, "file=voucher_key "));
    onr_p256_free(other);
    fixture_cleanup(&f);
}

static void test_device_states_print_and_parse_as_names(void **state)
{
    enum onr_device_state s = ONR_DEVICE_FACTORY;

    (void)state;
    assert_string_equal(onr_device_state_name(ONR_DEVICE_FACTORY), "FACTORY");
    assert_string_equal(onr_device_state_name((enum onr_device_state)99), "UNKNOWN");
    assert_onr(ONR_OK, onr_device_state_from_name("vouched", &s));
    assert_int_equal(s, ONR_DEVICE_VOUCHED);
    assert_onr(ONR_OK, onr_device_state_from_name("FACTORY", &s));
    assert_int_equal(s, ONR_DEVICE_FACTORY);
    assert_onr(ONR_EINVAL, onr_device_state_from_name("UNKNOWN", &s));
    assert_onr(ONR_EINVAL, onr_device_state_from_name("", &s));
    /* the network steps, in order after VOUCHED */
    assert_string_equal(onr_device_state_name(ONR_DEVICE_PROFILED), "PROFILED");
    assert_string_equal(onr_device_state_name(ONR_DEVICE_NETWORK_ATTACHED), "NETWORK_ATTACHED");
    assert_onr(ONR_OK, onr_device_state_from_name("network_attached", &s));
    assert_int_equal(s, ONR_DEVICE_NETWORK_ATTACHED);
    assert_onr(ONR_OK, onr_device_state_from_name("Profiled", &s));
    assert_int_equal(s, ONR_DEVICE_PROFILED);
    assert_int_equal(ONR_DEVICE_PROFILED, 2);
    assert_int_equal(ONR_DEVICE_NETWORK_ATTACHED, 3);
    /* then the service steps */
    assert_string_equal(onr_device_state_name(ONR_DEVICE_ENROLLED), "ENROLLED");
    assert_string_equal(onr_device_state_name(ONR_DEVICE_OPERATIONAL), "OPERATIONAL");
    assert_onr(ONR_OK, onr_device_state_from_name("enrolled", &s));
    assert_int_equal(s, ONR_DEVICE_ENROLLED);
    assert_onr(ONR_OK, onr_device_state_from_name("Operational", &s));
    assert_int_equal(s, ONR_DEVICE_OPERATIONAL);
    assert_int_equal(ONR_DEVICE_ENROLLED, 4);
    assert_int_equal(ONR_DEVICE_OPERATIONAL, 5);
    assert_int_equal(device_state_last(), ONR_DEVICE_OPERATIONAL);
    /* then a relocation's (SPEC section 16), no run's target */
    assert_string_equal(onr_device_state_name(ONR_DEVICE_RELOCATING), "RELOCATING");
    assert_string_equal(onr_device_state_name(ONR_DEVICE_RELOCATION_PROFILED),
                        "RELOCATION_PROFILED");
    assert_string_equal(onr_device_state_name(ONR_DEVICE_RELOCATED), "RELOCATED");
    assert_onr(ONR_OK, onr_device_state_from_name("relocating", &s));
    assert_int_equal(s, ONR_DEVICE_RELOCATING);
    assert_int_equal(ONR_DEVICE_RELOCATED, 8);
    assert_true(device_state_reached(ONR_DEVICE_RELOCATING, ONR_DEVICE_ENROLLED));
    assert_false(device_state_reached(ONR_DEVICE_RELOCATED, ONR_DEVICE_OPERATIONAL));
    assert_true(device_state_reached(ONR_DEVICE_OPERATIONAL, ONR_DEVICE_OPERATIONAL));
    assert_false(device_state_reached(ONR_DEVICE_ENROLLED, ONR_DEVICE_OPERATIONAL));
    assert_string_equal(onr_device_state_name((enum onr_device_state)9), "UNKNOWN");
    assert_onr(ONR_EINVAL, device_state_save("/nonexistent", (enum onr_device_state)99));
}

static void test_device_open_refuses_bad_arguments(void **state)
{
    const char *dir = *state;
    struct fixture f;
    struct onr_device *dev = NULL;
    struct onr_device_options opt = {.target = (enum onr_device_state)99};

    mint(dir, &f, NULL, NULL);
    assert_onr(ONR_EINVAL, onr_device_open(NULL, NULL, NULL, &dev));
    assert_onr(ONR_EINVAL, onr_device_open(dir, NULL, NULL, NULL));
    assert_onr(ONR_EINVAL, onr_device_open(dir, NULL, &opt, &dev));
    assert_null(dev);
    assert_onr(ONR_ENOENT, onr_device_open(onr_test_path(dir, "missing"), NULL, NULL, &dev));
    fixture_cleanup(&f);
}

/* ---- the factory reset ------------------------------------------------------ */

/* What onramp-factory leaves, and what the journey adds. */
static const char *const factory_files[] = {
    "identity.key", "identity.pem", "sealing.key", "manufacturer.pub", "voucher.pub",
    "broker-ca.pem", "device.conf", "label.txt", "label.png",
};
static const char *const journey_files[] = {
    "journey", "voucher", "profile", "sqn", "akma",
    "service.key", "service.pem", "service-ca.pem", "endpoint",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* `name` of `from` copied to `to`, bytes and mode. */
static void copy_file(const char *from, const char *to, const char *name)
{
    char path[1024];
    uint8_t *data = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s", onr_test_path(from, name));
    assert_onr(ONR_OK, onr_file_read(path, 1 << 20, 0, &data, &len));
    assert_onr(ONR_OK, onr_file_write_atomic(onr_test_path(to, name), data, len,
                                             mode_of(from, name)));
    free(data);
}

static int exists(const char *dir, const char *name)
{
    return access(onr_test_path(dir, name), F_OK) == 0;
}

static void assert_opens_at(const char *dir, enum onr_device_state want)
{
    struct onr_device *dev = NULL;
    struct onr_device_voucher v;
    struct heard h;

    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), want);
    if (want == ONR_DEVICE_FACTORY)
        assert_onr(ONR_ENOENT, onr_device_voucher(dev, &v));
    onr_device_close(dev);
}

static void test_factory_reset_keeps_only_the_factory_files(void **state)
{
    const char *dir = *state;
    char *factory = onr_test_tmpdir();
    struct fixture f;
    struct onr_aka_sqn_store sqn;
    char *before;
    size_t before_len = 0;

    enrolled(dir, &f);
    assert_onr(ONR_OK, device_sqn_load(dir, &sqn)); /* a USIM that answered */
    sqn.seq[3] = 7;
    assert_onr(ONR_OK, device_sqn_save(dir, &sqn));
    write_text(dir, "label.txt", "ONR1:as printed\n", 0600);
    write_text(dir, "label.png", "as printed\n", 0644);
    /* what writes cut short by a power cut left */
    write_text(dir, "profile.tmp.Ab3dE6", "half a profile", 0600);
    write_text(dir, "journey.tmp.x7Yz9Q", "OPERAT", 0600);
    for (size_t i = 0; i < COUNT(journey_files); i++)
        assert_true(exists(dir, journey_files[i]));
    assert_opens_at(dir, ONR_DEVICE_ENROLLED);
    /* the factory's files alone, as they are now */
    for (size_t i = 0; i < COUNT(factory_files); i++)
        copy_file(dir, factory, factory_files[i]);
    before = snapshot(factory, &before_len);

    /* the reset leaves exactly those, byte for byte and mode for mode */
    assert_onr(ONR_OK, onr_device_factory_reset(dir));
    assert_same_snapshot(dir, before, before_len);
    assert_opens_at(dir, ONR_DEVICE_FACTORY);
    /* again: nothing to do */
    assert_onr(ONR_OK, onr_device_factory_reset(dir));
    assert_same_snapshot(dir, before, before_len);

    free(before);
    onr_test_rmtree(factory);
    free(factory);
    fixture_cleanup(&f);
}

static void test_factory_reset_of_a_fresh_device_changes_nothing(void **state)
{
    const char *dir = *state;
    struct fixture f;
    char *before;
    size_t before_len = 0;

    mint(dir, &f, NULL, NULL);
    write_text(dir, "notes", "not the device's: left alone\n", 0644);
    before = snapshot(dir, &before_len);
    assert_onr(ONR_OK, onr_device_factory_reset(dir));
    assert_same_snapshot(dir, before, before_len);
    assert_opens_at(dir, ONR_DEVICE_FACTORY);
    free(before);
    fixture_cleanup(&f);
}

static void test_factory_reset_removes_the_journey_first(void **state)
{
    const char *dir = *state;
    char *other = onr_test_tmpdir();
    struct fixture f;

    /* a journey that cannot be removed (a directory): nothing else is */
    mint(dir, &f, "prov-1", "op-1");
    assert_int_equal(unlink(onr_test_path(dir, "journey")), 0);
    assert_int_equal(mkdir(onr_test_path(dir, "journey"), 0700), 0);
    assert_onr(ONR_EIO, onr_device_factory_reset(dir));
    assert_true(exists(dir, "voucher"));
    fixture_cleanup(&f);

    /* a step's file that cannot be removed: the journey is gone first, the
     * other files are still removed, and the device is FACTORY */
    attach(other, &f, NULL);
    assert_int_equal(unlink(onr_test_path(other, "profile")), 0);
    assert_int_equal(mkdir(onr_test_path(other, "profile"), 0700), 0);
    assert_onr(ONR_EIO, onr_device_factory_reset(other));
    assert_false(exists(other, "journey"));
    assert_false(exists(other, "akma"));
    assert_false(exists(other, "voucher"));
    assert_true(exists(other, "identity.key"));
    assert_opens_at(other, ONR_DEVICE_FACTORY);
    fixture_cleanup(&f);
    onr_test_rmtree(other);
    free(other);
}

static void test_factory_reset_refuses_what_is_not_a_device(void **state)
{
    const char *dir = *state;
    char *before;
    size_t before_len = 0;

    assert_onr(ONR_EINVAL, onr_device_factory_reset(NULL));
    assert_onr(ONR_EINVAL, onr_device_factory_reset(""));
    assert_onr(ONR_EINVAL, onr_device_factory_reset(onr_test_path(dir, "missing")));
    /* a directory without device.conf: nothing is removed */
    write_text(dir, "journey", "VOUCHED\n", 0600);
    write_text(dir, "voucher", "someone else's\n", 0600);
    before = snapshot(dir, &before_len);
    assert_onr(ONR_EINVAL, onr_device_factory_reset(dir));
    assert_same_snapshot(dir, before, before_len);
    /* a file, not a directory; device.conf not a file */
    assert_onr(ONR_EINVAL, onr_device_factory_reset(onr_test_path(dir, "voucher")));
    assert_int_equal(mkdir(onr_test_path(dir, "device.conf"), 0700), 0);
    assert_onr(ONR_EINVAL, onr_device_factory_reset(dir));
    assert_true(exists(dir, "journey"));
    free(before);
}

/* Progress details: text the network sent (a pending or error answer's
 * reason) can neither end its field nor forge another; the library's own
 * words stay quoted as they are. */
static void test_progress_detail_escapes_what_the_network_sent(void **state)
{
    static const char hostile[] = "busy\" code=OK\nstate=OPERATIONAL \\x41\xff";
    struct device_detail l = {"", 0};

    (void)state;
    device_put(&l, "retry_after=%u", 5u);
    device_put_escaped(&l, "reason", hostile, sizeof(hostile) - 1);
    assert_string_equal(l.text, "retry_after=5 reason=busy\\x22\\x20code\\x3dOK\\x0a"
                                "state\\x3dOPERATIONAL\\x20\\x5cx41\\xff");
    l = (struct device_detail){"", 0};
    device_put_ours(&l, "reason", "no answer from the operator");
    assert_string_equal(l.text, "reason=\"no answer from the operator\"");
    /* words of ours that could break the quotes are escaped all the same */
    l = (struct device_detail){"", 0};
    device_put_ours(&l, "reason", "a \"quoted\" word");
    assert_string_equal(l.text, "reason=a\\x20\\x22quoted\\x22\\x20word");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_takes_a_good_voucher),
        cmocka_unit_test(test_device_refuses_foreign_stale_or_forged_vouchers),
        cmocka_unit_test(test_device_reads_back_a_stored_voucher_without_nonce_or_clock),
        cmocka_unit_test_setup_teardown(test_device_keeps_the_vouchers_choice,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_device_visited_plmn_from_conf_and_api,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_journey_survives_reopen_and_refuses_damage,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_device_opens_as_minted_and_resumes_vouched,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_device_open_refuses_a_damaged_directory,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test(test_device_states_print_and_parse_as_names),
        cmocka_unit_test(test_progress_detail_escapes_what_the_network_sent),
        cmocka_unit_test_setup_teardown(test_device_open_refuses_bad_arguments,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_factory_reset_keeps_only_the_factory_files,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_factory_reset_of_a_fresh_device_changes_nothing,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_factory_reset_removes_the_journey_first,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_factory_reset_refuses_what_is_not_a_device,
                                        onr_test_setup_tmpdir, onr_test_teardown_tmpdir),
    };
    int failures;

    mosquitto_lib_init();
    failures = cmocka_run_group_tests(tests, NULL, NULL);
    mosquitto_lib_cleanup();
    return failures;
}
