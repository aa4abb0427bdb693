/*
 * onrampctl monitor's pure parts (services/ctl/monitor.h): the step table,
 * the device of a topic, the verdict on signatures, filters, and the lines
 * it prints: escaped, and never a secret.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/x509.h"
#include "samples.h"

#define NOW 1900000000u

struct fixture {
    struct onr_p256_key *device_key;
    struct onr_p256_key *service_key;
    struct onr_p256_key *other_key;
    uint8_t device_pub[ONR_P256_PUB_LEN];
    uint8_t service_pub[ONR_P256_PUB_LEN];
    uint8_t other_pub[ONR_P256_PUB_LEN];
    char devid[ONR_DEVID_LEN + 1];
    uint8_t cert[ONR_X509_MAX_DER];
    size_t cert_len;
    struct ctl_keyring keys;
    struct ctl_recent recent;
    struct ctl_sighting s;
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len;
    uint8_t id[ONR_MSG_ID_LEN];
    char topic[ONR_TOPIC_MAX + 1];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct onr_x509_profile profile = {.subject = {.common_name = "device"}, .days = 1,
                                       .path_len = -1};

    assert_non_null(f);
    assert_onr(ONR_OK, onr_p256_generate(&f->device_key));
    assert_onr(ONR_OK, onr_p256_generate(&f->service_key));
    assert_onr(ONR_OK, onr_p256_generate(&f->other_key));
    assert_onr(ONR_OK, onr_p256_public(f->device_key, f->device_pub));
    assert_onr(ONR_OK, onr_p256_public(f->service_key, f->service_pub));
    assert_onr(ONR_OK, onr_p256_public(f->other_key, f->other_pub));
    assert_onr(ONR_OK, onr_devid_from_public(f->device_pub, f->devid));
    f->cert_len = sizeof(f->cert);
    assert_onr(ONR_OK, onr_x509_self_signed(f->device_key, &profile, f->cert, &f->cert_len));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    onr_p256_free(f->device_key);
    onr_p256_free(f->service_key);
    onr_p256_free(f->other_key);
    free(f);
    return 0;
}

static struct onr_bytes str(const char *s)
{
    return (struct onr_bytes){(const uint8_t *)s, strlen(s)};
}

/* `msg` in an envelope from `role` `sender` signed with `key` (or MAC'ed
 * with `mac`) for `topic`, into f->buf; the topic into f->topic. */
static void encode(struct fixture *f, const struct onr_msg *msg, enum onr_role role,
                   const char *sender, const struct onr_p256_key *key, const char *topic)
{
    static const uint8_t mac[32] = {7};
    struct onr_envelope_signer signer = {.role = role, .sender = str(sender), .key = key,
                                         .mac_key = ONR_BYTES(mac)};

    snprintf(f->topic, sizeof(f->topic), "%s", topic);
    assert_onr(ONR_OK, onr_envelope_encode(msg, &signer, str(f->topic), NOW, f->buf,
                                           sizeof(f->buf), &f->len, f->id));
}

/* Describe what f->buf holds as received on f->topic. */
static struct ctl_sighting *describe(struct fixture *f)
{
    ctl_describe(&f->keys, &f->recent, "2030-03-17T17:46:40.000Z", str(f->topic), f->buf,
                 f->len, &f->s);
    return &f->s;
}

/* A sighting rendered as text or JSON, in a new heap string. */
static char *render(const struct ctl_sighting *s, bool json)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);

    assert_non_null(mem);
    if (json)
        ctl_render_json(mem, s);
    else
        ctl_render_text(mem, s);
    assert_int_equal(fclose(mem), 0);
    return out;
}

static char *json_of(const uint8_t *s, size_t len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&out, &n);

    assert_non_null(mem);
    ctl_json_string(mem, s, len);
    assert_int_equal(fclose(mem), 0);
    return out;
}

static char *text_of(const uint8_t *s, size_t len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&out, &n);

    assert_non_null(mem);
    ctl_text_value(mem, s, len);
    assert_int_equal(fclose(mem), 0);
    return out;
}

static void assert_json(const char *raw, size_t len, const char *expected)
{
    char *got = json_of((const uint8_t *)raw, len);

    assert_string_equal(got, expected);
    free(got);
}

static void assert_text(const char *raw, size_t len, const char *expected)
{
    char *got = text_of((const uint8_t *)raw, len);

    assert_string_equal(got, expected);
    free(got);
}

/* -- the step table -- */

static void test_steps_follow_the_journey(void **state)
{
    static const struct {
        int type;
        const char *step;
    } table[] = {
        {ONR_MSG_PAIRING, "1"}, {ONR_MSG_PAIRED, "1"},
        {ONR_MSG_REGISTRATION, "2"}, {ONR_MSG_REGISTERED, "2"},
        {ONR_MSG_HELLO, "3b"}, {ONR_MSG_VOUCHER, "3b"},
        {ONR_MSG_PROFILE_REQUEST, "3c"}, {ONR_MSG_PROFILE, "3c"},
        {ONR_MSG_ATTACH_REQUEST, "3c"}, {ONR_MSG_ATTACH_CHALLENGE, "3c"},
        {ONR_MSG_ATTACH_RESPONSE, "3c"}, {ONR_MSG_ATTACH_RESULT, "3c"},
        {ONR_MSG_APP_KEY, "3c"},
        {ONR_MSG_ENROLL_REQUEST, "4"}, {ONR_MSG_ENROLL_RESPONSE, "4"},
        {ONR_MSG_ALIGNMENT, "5"}, {ONR_MSG_ALIGNED, "5"},
        {ONR_MSG_RELEASE, "release"}, {ONR_MSG_RELEASED, "release"},
        {ONR_MSG_GRANT, "control"}, {ONR_MSG_REVOKE, "control"},
        {ONR_MSG_CERT_REVOKE, "control"}, {ONR_MSG_CONTROL_RESULT, "control"},
        {ONR_MSG_BROKER_STATS, "stats"}, {ONR_MSG_SERVICE_STATS, "stats"},
        {ONR_MSG_STATUS_REQUEST, "status"}, {ONR_MSG_STATUS, "status"},
        {ONR_MSG_NO_OPERATOR, "3b"}, /* a hello's answer */
        {ONR_MSG_RELOCATION_REQUEST, "relocation"}, {ONR_MSG_RELOCATE, "relocation"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        assert_string_equal(ctl_step_of_type(table[i].type), table[i].step);
    /* by context */
    assert_null(ctl_step_of_type(ONR_MSG_ERROR));
    assert_null(ctl_step_of_type(ONR_MSG_PENDING));
    assert_null(ctl_step_of_type(ONR_MSG_EVENT));
    assert_null(ctl_step_of_type(0));
    assert_null(ctl_step_of_type(99));
}

static void test_event_steps_come_from_the_step_field(void **state)
{
    (void)state;
    assert_string_equal(ctl_step_of_event(str("voucher")), "3b");
    assert_string_equal(ctl_step_of_event(str("registered")), "2");
    assert_string_equal(ctl_step_of_event(str("profile")), "3c");
    assert_string_equal(ctl_step_of_event(str("attached")), "3c");
    assert_string_equal(ctl_step_of_event(str("relocating")), "relocation");
    assert_string_equal(ctl_step_of_event(str("relocated")), "relocation");
    assert_null(ctl_step_of_event(str("attache")));
    assert_null(ctl_step_of_event(str("")));
}

static void test_answers_take_the_step_of_their_topic(void **state)
{
    const char *down = "onr/1/d/" ONR_SAMPLE_DEVID "/down";

    (void)state;
    assert_string_equal(ctl_step_of_answer(str(down), ONR_ROLE_MANUFACTURER), "3b");
    assert_string_equal(ctl_step_of_answer(str(down), ONR_ROLE_OPERATOR), "3c");
    assert_string_equal(ctl_step_of_answer(str(down), ONR_ROLE_PROVIDER), "4");
    assert_null(ctl_step_of_answer(str(down), ONR_ROLE_CONTROL));
    assert_string_equal(ctl_step_of_answer(str("onr/1/s/prov/p/in"), ONR_ROLE_MANUFACTURER),
                        "2");
    assert_string_equal(ctl_step_of_answer(str("onr/1/s/mfr/acme/in"), ONR_ROLE_PROVIDER),
                        "2");
    assert_string_equal(ctl_step_of_answer(str("onr/1/s/op/op-1/in"), ONR_ROLE_PROVIDER),
                        "3c");
    assert_string_equal(ctl_step_of_answer(str("onr/1/s/prov/p/in"), ONR_ROLE_OPERATOR), "5");
    assert_string_equal(ctl_step_of_answer(str("onr/1/s/ctl/admin/in"), ONR_ROLE_PROVIDER),
                        "1");
    assert_null(ctl_step_of_answer(str("onr/1/s/ctl/admin/ev"), ONR_ROLE_PROVIDER));
    assert_null(ctl_step_of_answer(str("onr/1/s/ctl/admin/in/x"), ONR_ROLE_PROVIDER));
    assert_null(ctl_step_of_answer(str("onr/1/d/" ONR_SAMPLE_DEVID "/down/x"),
                                   ONR_ROLE_OPERATOR));
    assert_null(ctl_step_of_answer(str("other/1/d/" ONR_SAMPLE_DEVID "/down"),
                                   ONR_ROLE_OPERATOR));
    assert_null(ctl_step_of_answer(str(""), ONR_ROLE_OPERATOR));
}

static void test_an_answer_takes_the_step_of_what_it_answers(void **state)
{
    struct fixture *f = *state;
    struct onr_msg m;
    char topic[128];

    /* a release seen, then the manufacturer's refusal of it: "release",
     * where its topic alone would say registration */
    onr_sample_msg(ONR_MSG_RELEASE, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/mfr/acme/in");
    assert_string_equal(describe(f)->step, "release");
    onr_sample_msg(ONR_MSG_ERROR, &m);
    m.body.error.re = ONR_BYTES(f->id);
    snprintf(topic, sizeof(topic), "onr/1/s/prov/prov-a/in");
    encode(f, &m, ONR_ROLE_MANUFACTURER, "acme", f->service_key, topic);
    assert_string_equal(describe(f)->step, "release");
    /* a monitor that did not see it goes by the topic */
    memset(&f->recent, 0, sizeof(f->recent));
    assert_string_equal(describe(f)->step, "2");
}

static void test_recent_ids_are_a_bounded_ring(void **state)
{
    struct fixture *f = *state;
    uint8_t id[ONR_MSG_ID_LEN] = {0};

    for (unsigned i = 0; i < CTL_RECENT_MAX + 10; i++) {
        memcpy(id, &i, sizeof(i));
        ctl_recent_note(&f->recent, id, i == 5 ? "5" : "3c");
    }
    ctl_recent_note(&f->recent, id, NULL); /* not remembered */
    assert_int_equal(f->recent.n, CTL_RECENT_MAX);
    memset(id, 0, sizeof(id));
    memcpy(id, &(unsigned){5}, sizeof(unsigned));
    assert_null(ctl_recent_step(&f->recent, ONR_BYTES(id))); /* forgotten */
    memcpy(id, &(unsigned){CTL_RECENT_MAX + 9}, sizeof(unsigned));
    assert_string_equal(ctl_recent_step(&f->recent, ONR_BYTES(id)), "3c");
    assert_null(ctl_recent_step(&f->recent, (struct onr_bytes){id, 15}));
    assert_null(ctl_recent_step(NULL, ONR_BYTES(id)));
}

/* -- the device of a topic -- */

static void test_topics_name_their_device(void **state)
{
    char dev[ONR_DEVID_LEN + 1];

    (void)state;
    assert_true(ctl_topic_dev(str("onr/1/d/" ONR_SAMPLE_DEVID "/up/mfr/acme"), dev));
    assert_string_equal(dev, ONR_SAMPLE_DEVID);
    assert_true(ctl_topic_dev(str("onr/1/d/" ONR_SAMPLE_DEVID "/down"), dev));
    assert_string_equal(dev, ONR_SAMPLE_DEVID);
    assert_true(ctl_topic_dev(str("onr/1/p/prov-a/dev/" ONR_SAMPLE_DEVID "/telemetry"), dev));
    assert_string_equal(dev, ONR_SAMPLE_DEVID);
    assert_true(ctl_topic_dev(str("onr/1/p/prov-a/dev/" ONR_SAMPLE_DEVID "/a/b/c/d/e/f"), dev));
    /* no device, or not a device id */
    assert_false(ctl_topic_dev(str("onr/1/s/prov/prov-a/in"), dev));
    assert_string_equal(dev, "");
    assert_false(ctl_topic_dev(str("onr/1/d/" ONR_SAMPLE_DEVID), dev));
    assert_false(ctl_topic_dev(str("onr/1/d/RGUIB733FA2XFYRZDWEHZSOHU743ONT4/down"), dev));
    assert_false(ctl_topic_dev(str("onr/1/d/short/down"), dev));
    assert_false(ctl_topic_dev(str("onr/1/d//down"), dev));
    assert_false(ctl_topic_dev(str("onr/1/p/prov-a/xyz/" ONR_SAMPLE_DEVID "/telemetry"), dev));
    assert_false(ctl_topic_dev(str("onr/2/d/" ONR_SAMPLE_DEVID "/down"), dev));
    assert_false(ctl_topic_dev(str("/"), dev));
    assert_false(ctl_topic_dev((struct onr_bytes){NULL, 0}, dev));
}

static void test_a_device_comes_from_the_topic_then_the_body_then_the_label(void **state)
{
    struct fixture *f = *state;
    struct onr_label label = {.mfr = "acme", .claim = "ABCDEFGHIJKLMNOPQRST"};
    char text[ONR_LABEL_MAX + 1];
    struct onr_msg m;

    onr_sample_msg(ONR_MSG_REGISTRATION, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/mfr/acme/in");
    assert_string_equal(describe(f)->dev, ONR_SAMPLE_DEVID);
    memcpy(label.dev, f->devid, sizeof(label.dev));
    assert_onr(ONR_OK, onr_label_encode(&label, text, sizeof(text)));
    onr_sample_msg(ONR_MSG_PAIRING, &m);
    m.body.pairing.label = str(text);
    encode(f, &m, ONR_ROLE_CONTROL, "admin", f->service_key, "onr/1/s/prov/prov-a/in");
    assert_string_equal(describe(f)->dev, f->devid);
    onr_sample_msg(ONR_MSG_BROKER_STATS, &m);
    encode(f, &m, ONR_ROLE_BROKER, "b", NULL, "onr/1/s/broker/b/ev");
    assert_string_equal(describe(f)->dev, "");
}

/* -- verdicts -- */

static void test_roles_parse_by_level_and_name(void **state)
{
    enum onr_role role;

    (void)state;
    assert_onr(ONR_OK, ctl_role_parse("mfr", true, &role));
    assert_int_equal(role, ONR_ROLE_MANUFACTURER);
    assert_onr(ONR_OK, ctl_role_parse("operator", true, &role));
    assert_int_equal(role, ONR_ROLE_OPERATOR);
    assert_onr(ONR_OK, ctl_role_parse("ctl", true, &role));
    assert_int_equal(role, ONR_ROLE_CONTROL);
    assert_onr(ONR_EINVAL, ctl_role_parse("device", true, &role));
    assert_onr(ONR_OK, ctl_role_parse("device", false, &role));
    assert_int_equal(role, ONR_ROLE_DEVICE);
    assert_onr(ONR_OK, ctl_role_parse("broker", false, &role));
    assert_onr(ONR_EINVAL, ctl_role_parse("Provider", false, &role));
    assert_onr(ONR_EINVAL, ctl_role_parse("", false, &role));
    assert_onr(ONR_EINVAL, ctl_role_parse(NULL, false, &role));
}

static void test_keyring_refuses_bad_peers(void **state)
{
    struct fixture *f = *state;
    uint8_t bad[ONR_P256_PUB_LEN] = {0x04, 1, 2, 3};

    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "prov-a", f->service_pub));
    assert_onr(ONR_EINVAL, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "Prov", f->service_pub));
    assert_onr(ONR_EINVAL, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "", f->service_pub));
    assert_onr(ONR_EINVAL, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER,
                                           "a23456789012345678901234567890123", f->service_pub));
    assert_onr(ONR_EINVAL, ctl_keyring_add(&f->keys, ONR_ROLE_DEVICE, f->devid, f->device_pub));
    assert_onr(ONR_EINVAL, ctl_keyring_add(&f->keys, (enum onr_role)9, "x", f->service_pub));
    assert_onr(ONR_EBADKEY, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "prov-b", bad));
    while (f->keys.n < CTL_KEYRING_MAX)
        assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_OPERATOR, "op", f->other_pub));
    assert_onr(ONR_ESPACE, ctl_keyring_add(&f->keys, ONR_ROLE_OPERATOR, "op", f->other_pub));
}

static void test_service_signatures_verify_with_known_keys(void **state)
{
    struct fixture *f = *state;
    char topic[128];
    struct onr_msg m;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/down", f->devid);
    onr_sample_msg(ONR_MSG_ATTACH_RESULT, &m);
    encode(f, &m, ONR_ROLE_OPERATOR, "op-1", f->service_key, topic);
    assert_string_equal(describe(f)->verdict, "unknown-key");
    /* a key of another sender, or of another role with the same id */
    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_OPERATOR, "op-2", f->service_pub));
    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "op-1", f->service_pub));
    assert_string_equal(describe(f)->verdict, "unknown-key");
    /* a wrong key, then the right one too (a sender may have several) */
    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_OPERATOR, "op-1", f->other_pub));
    assert_string_equal(describe(f)->verdict, "bad-signature");
    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_OPERATOR, "op-1", f->service_pub));
    assert_string_equal(describe(f)->verdict, "verified");
    assert_string_equal(describe(f)->step, "3c");
    assert_string_equal(describe(f)->type, "attach_result");
    /* moved to another topic: it was not signed for that one */
    snprintf(f->topic, sizeof(f->topic), "onr/1/d/%s/down", ONR_SAMPLE_DEVID);
    assert_string_equal(describe(f)->verdict, "bad-signature");
}

static void test_a_hello_verifies_with_its_certificate_key(void **state)
{
    struct fixture *f = *state;
    char topic[128];
    struct onr_msg m;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/mfr/acme", f->devid);
    onr_sample_msg(ONR_MSG_HELLO, &m);
    m.body.hello.cert = (struct onr_bytes){f->cert, f->cert_len};
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->device_key, topic);
    assert_string_equal(describe(f)->verdict, "verified");
    assert_string_equal(f->s.dev, f->devid);
    assert_string_equal(f->s.step, "3b");
    /* signed by another key than the certificate's */
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->other_key, topic);
    assert_string_equal(describe(f)->verdict, "bad-signature");
    /* no certificate: no key */
    m.body.hello.cert = (struct onr_bytes){NULL, 0};
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->device_key, topic);
    assert_string_equal(describe(f)->verdict, "unknown-key");
    /* a certificate whose key is not the sender's: it proves nothing */
    m.body.hello.cert = (struct onr_bytes){f->cert, f->cert_len};
    encode(f, &m, ONR_ROLE_DEVICE, ONR_SAMPLE_DEVID, f->device_key,
           "onr/1/d/" ONR_SAMPLE_DEVID "/up/mfr/acme");
    assert_string_equal(describe(f)->verdict, "unknown-key");
    /* a certificate that does not parse */
    onr_sample_msg(ONR_MSG_HELLO, &m);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->device_key, topic);
    assert_string_equal(describe(f)->verdict, "unknown-key");
}

static void test_unsigned_and_maced_types_say_so(void **state)
{
    struct fixture *f = *state;
    char topic[128];
    struct onr_msg m;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/op/op-1", f->devid);
    onr_sample_msg(ONR_MSG_ATTACH_REQUEST, &m);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, NULL, topic);
    assert_string_equal(describe(f)->verdict, "none");
    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/prov/prov-a", f->devid);
    onr_sample_msg(ONR_MSG_ENROLL_REQUEST, &m);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, NULL, topic);
    assert_string_equal(describe(f)->verdict, "mac");
    assert_string_equal(f->s.step, "4");
}

/* -- what is printed -- */

static void test_binary_fields_print_as_lengths_but_identifiers(void **state)
{
    static const char *const hex[] = {"re", "nonce", "kid", "rand", "serial", "epoch"};
    static const char *const secret[] = {"sealed", "claim", "res", "auts", "csr", "chain",
                                         "ca", "voucher", "cert", "autn", "op_key", "ki",
                                         "op_keys"};
    struct onr_msg_field f = {.kind = ONR_VALUE_BYTES, .present = 1};

    (void)state;
    for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
        f.key = hex[i];
        assert_int_equal(ctl_field_show(&f), CTL_SHOW_HEX);
    }
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        f.key = secret[i];
        assert_int_equal(ctl_field_show(&f), CTL_SHOW_LENGTH);
    }
    f.kind = ONR_VALUE_TEXT;
    f.key = "label";
    assert_int_equal(ctl_field_show(&f), CTL_SHOW_LABEL);
    f.key = "reason";
    assert_int_equal(ctl_field_show(&f), CTL_SHOW_VALUE);
    f.kind = ONR_VALUE_UINT;
    f.key = "code";
    assert_int_equal(ctl_field_show(&f), CTL_SHOW_VALUE);
}

static void test_a_label_loses_its_claim(void **state)
{
    struct onr_label label = {.mfr = "acme", .dev = ONR_SAMPLE_DEVID,
                              .claim = "ABCDEFGHIJKLMNOPQRST"};
    char text[ONR_LABEL_MAX + 1];
    char out[128], expected[32];

    (void)state;
    assert_onr(ONR_OK, onr_label_encode(&label, text, sizeof(text)));
    ctl_label_masked(str(text), out, sizeof(out));
    assert_string_equal(out, "ONR1:acme:" ONR_SAMPLE_DEVID ":<claim>");
    /* a label with a typo: its length only, for the claim might be in it */
    text[strlen(text) - 1] = text[strlen(text) - 1] == 'A' ? 'B' : 'A';
    ctl_label_masked(str(text), out, sizeof(out));
    snprintf(expected, sizeof(expected), "<label %zu>", strlen(text));
    assert_string_equal(out, expected);
    ctl_label_masked(str("ONR1:ACME:K7:Q"), out, sizeof(out));
    assert_string_equal(out, "<label 14>");
}

static void test_json_strings_escape_anything(void **state)
{
    (void)state;
    assert_json("plain", 5, "\"plain\"");
    assert_json("", 0, "\"\"");
    assert_json("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
    assert_json("\n\r\t\b\f", 5, "\"\\n\\r\\t\\u0008\\u000c\"");
    assert_json("\0\x01\x1f\x7f", 4, "\"\\u0000\\u0001\\u001f\\u007f\"");
    /* valid UTF-8 as \u escapes, astral planes as surrogate pairs */
    assert_json("Zo\xc3\xab", 4, "\"Zo\\u00eb\"");
    assert_json("\xe2\x82\xac", 3, "\"\\u20ac\"");
    assert_json("\xe2\x80\xae", 3, "\"\\u202e\""); /* right-to-left override */
    assert_json("\xc2\x85", 2, "\"\\u0085\"");     /* C1 control */
    assert_json("\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\"");
    assert_json("\xf4\x8f\xbf\xbf", 4, "\"\\udbff\\udfff\"");
    /* invalid: each byte that is not part of a valid sequence */
    assert_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");         /* overlong '/' */
    assert_json("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
    assert_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    assert_json("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    assert_json("\xf8\x88\x80\x80\x80", 5,
                "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    assert_json("\x80x", 2, "\"\\ufffdx\"");          /* lone continuation */
    assert_json("\xe2\x82", 2, "\"\\ufffd\\ufffd\""); /* truncated */
    assert_json("\xe2\x82\"", 3, "\"\\ufffd\\ufffd\\\"\"");
    assert_json("\xff\xfe", 2, "\"\\ufffd\\ufffd\"");
}

static void test_text_values_are_escaped_as_every_log_is(void **state)
{
    char big[700];
    char *got;

    (void)state;
    assert_text("op-1", 4, "op-1");
    assert_text("mqtts://h:1", 11, "mqtts://h:1");
    assert_text("", 0, "");
    assert_text("two words", 9, "two\\x20words");
    assert_text("a=b", 3, "a\\x3db");
    assert_text("a\"b\\", 4, "a\\x22b\\x5c");
    assert_text("x\ny\x1b[31m", 8, "x\\x0ay\\x1b[31m");
    assert_text("Zo\xc3\xab", 4, "Zo\\xc3\\xab");
    assert_text("\0", 1, "\\x00");
    assert_text("\x7f", 1, "\\x7f");
    /* longer than a chunk: whole, never cut */
    memset(big, ' ', sizeof(big));
    got = text_of((const uint8_t *)big, sizeof(big));
    assert_int_equal(strlen(got), 4 * sizeof(big));
    free(got);
}

static void test_time_is_iso8601_utc_with_milliseconds(void **state)
{
    char out[32];

    (void)state;
    ctl_format_time(0, 0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    ctl_format_time(1900000000, 7, out);
    assert_string_equal(out, "2030-03-17T17:46:40.007Z");
    ctl_format_time(1900000000, 999, out);
    assert_string_equal(out, "2030-03-17T17:46:40.999Z");
}

static void test_a_line_carries_header_and_body(void **state)
{
    struct fixture *f = *state;
    char topic[128], expected[1024], id[33];
    struct onr_msg m;
    char *line;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/down", f->devid);
    onr_sample_msg(ONR_MSG_ERROR, &m);
    m.body.error.reason = str("bad \"sig\"\\\xe2\x80\xae"); /* no controls: ECHARSET */
    encode(f, &m, ONR_ROLE_MANUFACTURER, "acme", f->service_key, topic);
    for (size_t i = 0; i < ONR_MSG_ID_LEN; i++)
        snprintf(id + 2 * i, 3, "%02x", f->id[i]);
    describe(f);
    line = render(&f->s, false);
    snprintf(expected, sizeof(expected),
             "2030-03-17T17:46:40.000Z %s type=error sender=manufacturer:acme dev=%s step=3b "
             "verdict=unknown-key id=%s re=0102030405060708090a0b0c0d0e0f10 code=40 "
             "reason=bad\\x20\\x22sig\\x22\\x5c\\xe2\\x80\\xae\n", topic, f->devid, id);
    assert_string_equal(line, expected);
    free(line);
    line = render(&f->s, true);
    snprintf(expected, sizeof(expected),
             "{\"time\":\"2030-03-17T17:46:40.000Z\",\"topic\":\"%s\",\"type\":\"error\","
             "\"sender_role\":\"manufacturer\",\"sender\":\"acme\",\"dev\":\"%s\","
             "\"step\":\"3b\",\"verdict\":\"unknown-key\",\"id\":\"%s\",\"body\":{"
             "\"re\":\"0102030405060708090a0b0c0d0e0f10\",\"code\":40,"
             "\"reason\":\"bad \\\"sig\\\"\\\\\\u202e\"}}\n", topic, f->devid, id);
    assert_string_equal(line, expected);
    free(line);
}

static void test_body_keys_that_are_line_keys_are_prefixed_in_text(void **state)
{
    struct fixture *f = *state;
    struct onr_msg m;
    char *line;

    onr_sample_msg(ONR_MSG_EVENT, &m);
    encode(f, &m, ONR_ROLE_OPERATOR, "op-1", f->service_key, "onr/1/s/op/op-1/ev");
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " dev=" ONR_SAMPLE_DEVID " step=3c "));
    assert_non_null(strstr(line, " body.dev=" ONR_SAMPLE_DEVID " body.step=attached\n"));
    free(line);
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"body\":{\"dev\":\"" ONR_SAMPLE_DEVID "\","
                                 "\"step\":\"attached\"}}\n"));
    free(line);
}

static bool contains(const char *line, const void *needle, size_t len)
{
    size_t n = strlen(line);

    for (size_t i = 0; len > 0 && i + len <= n; i++)
        if (memcmp(line + i, needle, len) == 0)
            return true;
    return false;
}

/* Neither the bytes nor their hex (either case) in `line`. */
static void assert_hidden(const char *line, const uint8_t *secret, size_t len)
{
    char lower[2 * 256 + 1], upper[2 * 256 + 1];

    assert_true(len <= 256);
    for (size_t i = 0; i < len; i++) {
        snprintf(lower + 2 * i, 3, "%02x", secret[i]);
        snprintf(upper + 2 * i, 3, "%02X", secret[i]);
    }
    assert_false(contains(line, secret, len));
    assert_false(contains(line, lower, 2 * len));
    assert_false(contains(line, upper, 2 * len));
}

static void test_secrets_are_never_printed(void **state)
{
    struct fixture *f = *state;
    static const uint8_t secret[80] = {0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44,
                                       0x55, 0x66, 0x77, 0x88};
    struct onr_label label = {.mfr = "acme", .claim = "SECRETCLAIMSECRETCLA"};
    char text[ONR_LABEL_MAX + 1], topic[128];
    static const struct {
        int type;
        enum onr_role role;
        const char *sender; /* NULL: the device */
    } cases[] = {
        {ONR_MSG_REGISTRATION, ONR_ROLE_PROVIDER, "prov-a"},
        {ONR_MSG_PROFILE, ONR_ROLE_OPERATOR, "op-1"},
        {ONR_MSG_APP_KEY, ONR_ROLE_OPERATOR, "op-1"},
        {ONR_MSG_ATTACH_RESPONSE, ONR_ROLE_DEVICE, NULL},
        {ONR_MSG_PAIRING, ONR_ROLE_CONTROL, "admin"},
        {ONR_MSG_ENROLL_REQUEST, ONR_ROLE_DEVICE, NULL},
        {ONR_MSG_ENROLL_RESPONSE, ONR_ROLE_PROVIDER, "prov-a"},
        {ONR_MSG_HELLO, ONR_ROLE_DEVICE, NULL},
        {ONR_MSG_VOUCHER, ONR_ROLE_MANUFACTURER, "acme"},
        {ONR_MSG_PROFILE_REQUEST, ONR_ROLE_DEVICE, NULL},
    };
    struct onr_msg m;

    memcpy(label.dev, f->devid, sizeof(label.dev));
    assert_onr(ONR_OK, onr_label_encode(&label, text, sizeof(text)));
    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/op/op-1", f->devid);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        onr_sample_msg(cases[i].type, &m);
        switch (cases[i].type) {
        case ONR_MSG_REGISTRATION: m.body.registration.claim = ONR_BYTES(secret); break;
        case ONR_MSG_PROFILE: m.body.profile.sealed = ONR_BYTES(secret); break;
        case ONR_MSG_APP_KEY: m.body.app_key.sealed = ONR_BYTES(secret); break;
        case ONR_MSG_ATTACH_RESPONSE:
            m.body.attach_response.res = (struct onr_bytes){secret, 8};
            break;
        case ONR_MSG_PAIRING: m.body.pairing.label = str(text); break;
        case ONR_MSG_ENROLL_REQUEST: m.body.enroll_request.csr = ONR_BYTES(secret); break;
        case ONR_MSG_ENROLL_RESPONSE:
            m.body.enroll_response.chain = ONR_BYTES(secret);
            m.body.enroll_response.ca = ONR_BYTES(secret);
            break;
        case ONR_MSG_HELLO: m.body.hello.cert = ONR_BYTES(secret); break;
        case ONR_MSG_VOUCHER: m.body.voucher.voucher = ONR_BYTES(secret); break;
        case ONR_MSG_PROFILE_REQUEST: m.body.profile_request.voucher = ONR_BYTES(secret); break;
        default: break;
        }
        encode(f, &m, cases[i].role, cases[i].sender != NULL ? cases[i].sender : f->devid,
               f->service_key, topic);
        describe(f);
        assert_true(f->s.decoded);
        for (int json = 0; json < 2; json++) {
            char *line = render(&f->s, json);

            assert_hidden(line, secret, 8);
            assert_hidden(line, secret + 4, 8);
            assert_false(contains(line, "SECRETCLAIM", 11));
            for (char *c = line; *c != '\0'; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
            assert_false(contains(line, "secretclaim", 11));
            assert_false(contains(line, "claimsecret", 11));
            free(line);
        }
    }
}

static void test_application_data_is_never_decoded(void **state)
{
    struct fixture *f = *state;
    char *line;

    snprintf(f->topic, sizeof(f->topic), "onr/1/p/prov-a/dev/%s/telemetry", f->devid);
    memcpy(f->buf, "{\"dev\":\"x\",\"secret\":\"s3cr3t\"}", 30);
    f->len = 30;
    describe(f);
    assert_string_equal(f->s.type, "telemetry");
    assert_string_equal(f->s.step, "operational");
    assert_string_equal(f->s.verdict, "none");
    assert_string_equal(f->s.dev, f->devid);
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"sender_role\":null,\"sender\":null,"));
    assert_non_null(strstr(line, "\"id\":null,\"body\":{\"payload\":\"<bin 30>\"}}\n"));
    assert_null(strstr(line, "s3cr3t"));
    free(line);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " type=telemetry sender=- dev="));
    assert_non_null(strstr(line, " id=- payload=<bin 30>\n"));
    assert_null(strstr(line, "s3cr3t"));
    free(line);
    snprintf(f->topic, sizeof(f->topic), "onr/1/p/prov-a/dev/%s/cmd/reboot", f->devid);
    assert_string_equal(describe(f)->type, "application");
}

static void test_what_does_not_decode_is_still_a_line(void **state)
{
    struct fixture *f = *state;
    char *line;

    snprintf(f->topic, sizeof(f->topic), "onr/1/d/%s/down", f->devid);
    memcpy(f->buf, "\x98\x01", 2);
    f->len = 2;
    describe(f);
    assert_false(f->s.decoded);
    assert_string_equal(f->s.type, "undecodable");
    assert_string_equal(f->s.verdict, "ETRUNCATED");
    assert_string_equal(f->s.dev, f->devid);
    assert_null(f->s.step);
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"type\":\"undecodable\",\"sender_role\":null,"
                                 "\"sender\":null,"));
    assert_non_null(strstr(line, "\"step\":null,\"verdict\":\"ETRUNCATED\",\"id\":null,"
                                 "\"body\":null}\n"));
    free(line);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " type=undecodable sender=- "));
    assert_non_null(strstr(line, " step=- verdict=ETRUNCATED id=-\n"));
    free(line);
    /* nothing at all, and a hostile topic */
    snprintf(f->topic, sizeof(f->topic), "onr/1/x\"\n\x1b");
    f->len = 0;
    describe(f);
    assert_string_equal(f->s.type, "undecodable");
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"topic\":\"onr/1/x\\\"\\n\\u001b\""));
    free(line);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " onr/1/x\\x22\\x0a\\x1b type=undecodable"));
    free(line);
}

/* -- roaming (SPEC sections 14 to 16) -- */

/* A voucher token for the fixture's device naming `op`, `plmn`, `why`
 * (NULL: left out), signed by the "voucher key" f->other_key, into `out`. */
static size_t token_for(struct fixture *f, const char *op, const char *plmn, const char *why,
                        uint8_t *out, size_t cap)
{
    struct onr_envelope_signer mfr = {.role = ONR_ROLE_MANUFACTURER, .sender = str("acme"),
                                      .key = f->other_key};
    struct onr_msg m;
    size_t len = 0;

    onr_sample_msg(ONR_MSG_VOUCHER_TOKEN, &m);
    m.body.voucher_token.dev = str(f->devid);
    m.body.voucher_token.op = str(op);
    m.body.voucher_token.plmn = plmn != NULL ? str(plmn) : (struct onr_bytes){NULL, 0};
    m.body.voucher_token.why = why != NULL ? str(why) : (struct onr_bytes){NULL, 0};
    assert_onr(ONR_OK, onr_envelope_encode(&m, &mfr, str(ONR_TOPIC_VOUCHER), NOW, out, cap,
                                           &len, NULL));
    return len;
}

/* A renewal's envelopes on the renew leaf are decoded (signed by the
 * device's service key, which a monitor does not hold); a kit's pairing
 * shows its devices and no claim. */
static void test_renewal_and_kit_messages_are_decoded(void **state)
{
    struct fixture *f = *state;
    char topic[128];
    struct onr_msg m;
    char *line;

    onr_sample_msg(ONR_MSG_RENEW_REQUEST, &m);
    snprintf(topic, sizeof(topic), "onr/1/p/prov-a/dev/%s/renew", f->devid);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->service_key, topic);
    describe(f);
    assert_true(f->s.decoded);
    assert_string_equal(f->s.type, "renew_request");
    assert_string_equal(f->s.step, "renewal");
    assert_string_equal(f->s.verdict, "unknown-key");
    assert_string_equal(f->s.dev, f->devid);
    onr_sample_msg(ONR_MSG_RENEWED, &m);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->service_key, topic);
    assert_string_equal(describe(f)->type, "renewed");
    /* the kit's registration: its claim is sealed, its devices listed */
    onr_sample_msg(ONR_MSG_KIT_REGISTRATION, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/mfr/acme/in");
    describe(f);
    assert_string_equal(f->s.type, "kit_registration");
    assert_string_equal(f->s.step, "2");
    onr_sample_msg(ONR_MSG_KIT_PAIRED, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/ctl/admin/in");
    describe(f);
    assert_string_equal(f->s.step, "1");
    line = render(&f->s, false);
    assert_non_null(strstr(line, " kit=" ONR_SAMPLE_KIT " "));
    free(line);
}

static void test_a_relocate_is_decoded_on_the_operational_down_topic(void **state)
{
    struct fixture *f = *state;
    uint8_t token[1024];
    char topic[128];
    struct onr_msg m = {.type = ONR_MSG_RELOCATE};
    char *line;

    m.body.relocate.voucher = (struct onr_bytes){token, token_for(f, "op-br", "72405", "policy",
                                                                   token, sizeof(token))};
    snprintf(topic, sizeof(topic), "onr/1/p/prov-a/dev/%s/down", f->devid);
    assert_onr(ONR_OK, ctl_keyring_add(&f->keys, ONR_ROLE_PROVIDER, "prov-a", f->service_pub));
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, topic);
    describe(f);
    assert_true(f->s.decoded);
    assert_string_equal(f->s.type, "relocate");
    assert_string_equal(f->s.step, "relocation");
    assert_string_equal(f->s.verdict, "verified");
    assert_string_equal(f->s.dev, f->devid);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " voucher=<bin "));
    assert_non_null(strstr(line, "> voucher.op=op-br voucher.plmn=72405 voucher.why=policy\n"));
    free(line);
    line = render(&f->s, true);
    assert_non_null(strstr(line, ",\"voucher.op\":\"op-br\",\"voucher.plmn\":\"72405\","
                                 "\"voucher.why\":\"policy\"}}\n"));
    free(line);
    /* a voucher answering a hello shows the choice too; an older token
     * without plmn and why shows what it has */
    m.type = ONR_MSG_VOUCHER;
    onr_sample_msg(ONR_MSG_VOUCHER, &m);
    m.body.voucher.voucher =
        (struct onr_bytes){token, token_for(f, "op-de", NULL, NULL, token, sizeof(token))};
    snprintf(topic, sizeof(topic), "onr/1/d/%s/down", f->devid);
    encode(f, &m, ONR_ROLE_MANUFACTURER, "acme", f->service_key, topic);
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " voucher.op=op-de\n"));
    free(line);
    /* a voucher field that is no token: its length only */
    onr_sample_msg(ONR_MSG_RELOCATE, &m);
    snprintf(topic, sizeof(topic), "onr/1/p/prov-a/dev/%s/down", f->devid);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, topic);
    describe(f);
    assert_false(f->s.token_decoded);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " voucher=<bin 200>\n"));
    free(line);
    /* an envelope anywhere else under onr/1/p/ stays application data */
    snprintf(f->topic, sizeof(f->topic), "onr/1/p/prov-a/dev/%s/downx", f->devid);
    assert_string_equal(describe(f)->type, "application");
    assert_false(f->s.decoded);
}

static void test_telemetry_fields_are_shown_in_its_form_only(void **state)
{
    struct fixture *f = *state;
    struct onr_telemetry t = {.reported = 1, .plmn = "72405",
                              .nonce = {0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
    char *line;

    memcpy(t.dev, f->devid, sizeof(t.dev));
    snprintf(f->topic, sizeof(f->topic), "onr/1/p/prov-a/dev/%s/telemetry", f->devid);
    assert_onr(ONR_OK, onr_telemetry_encode(&t, (char *)f->buf, sizeof(f->buf), &f->len));
    describe(f);
    assert_true(f->s.reported);
    assert_string_equal(f->s.type, "telemetry");
    line = render(&f->s, false);
    assert_non_null(strstr(line, " id=- body.dev="));
    assert_non_null(strstr(line, " state=OPERATIONAL plmn=72405 "
                                 "nonce=a00102030405060708090a0b0c0d0e0f\n"));
    free(line);
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"body\":{\"dev\":\""));
    assert_non_null(strstr(line, "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\","
                                 "\"nonce\":\"a00102030405060708090a0b0c0d0e0f\"}}\n"));
    free(line);
    /* the form of a device that knows no network */
    t.reported = 0;
    assert_onr(ONR_OK, onr_telemetry_encode(&t, (char *)f->buf, sizeof(f->buf), &f->len));
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " state=OPERATIONAL\n"));
    free(line);
    /* anything else is a payload */
    f->buf[f->len - 1] = ' ';
    describe(f);
    assert_false(f->s.reported);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " payload=<bin "));
    assert_null(strstr(line, "state="));
    free(line);
}

static void test_roaming_fields_are_printed(void **state)
{
    struct fixture *f = *state;
    char topic[128];
    struct onr_msg m;
    char *line;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/up/mfr/acme", f->devid);
    onr_sample_msg(ONR_MSG_HELLO, &m);
    encode(f, &m, ONR_ROLE_DEVICE, f->devid, f->device_key, topic);
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " plmn=26201\n"));
    free(line);
    onr_sample_msg(ONR_MSG_REGISTRATION, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/mfr/acme/in");
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " user=1 policy=262:op-2,op-1;*:op-1 op_keys=<bin 140>\n"));
    free(line);
    onr_sample_msg(ONR_MSG_STATUS, &m);
    encode(f, &m, ONR_ROLE_PROVIDER, "prov-a", f->service_key, "onr/1/s/ctl/admin/in");
    describe(f);
    line = render(&f->s, false);
    assert_non_null(strstr(line, " plmn=724005 op=op-2 why=fallback relocations=2 "
                                 "relocated=1900000100 prev_op=op-1 "
                                 "cert_expires=1931536000\n"));
    free(line);
    onr_sample_msg(ONR_MSG_NO_OPERATOR, &m);
    encode(f, &m, ONR_ROLE_MANUFACTURER, "acme", f->service_key, "onr/1/s/prov/prov-a/in");
    describe(f);
    assert_string_equal(f->s.step, "3b");
    assert_string_equal(f->s.dev, ONR_SAMPLE_DEVID);
    line = render(&f->s, true);
    assert_non_null(strstr(line, "\"body\":{\"re\":\"0102030405060708090a0b0c0d0e0f10\","
                                 "\"dev\":\"" ONR_SAMPLE_DEVID "\",\"plmn\":\"28601\"}}\n"));
    free(line);
}

/* -- filters -- */

static void test_filters_select_by_device_role_service_and_type(void **state)
{
    struct fixture *f = *state;
    struct ctl_filter filter = {0};
    char topic[128];
    struct onr_msg m;

    snprintf(topic, sizeof(topic), "onr/1/d/%s/down", f->devid);
    onr_sample_msg(ONR_MSG_VOUCHER, &m);
    encode(f, &m, ONR_ROLE_MANUFACTURER, "acme", f->service_key, topic);
    describe(f);
    assert_true(ctl_filter_match(&filter, &f->s));
    assert_true(ctl_filter_match(NULL, &f->s));
    filter.dev = ONR_SAMPLE_DEVID;
    assert_false(ctl_filter_match(&filter, &f->s));
    filter.dev = f->devid;
    assert_true(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_role(&filter, "provider"));
    assert_false(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_role(&filter, "mfr"));
    assert_true(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_service(&filter, "acm"));
    assert_false(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_service(&filter, "acme"));
    assert_true(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "hello"));
    assert_false(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "voucher"));
    assert_true(ctl_filter_match(&filter, &f->s));
    /* application data has no sender: no role or service matches it */
    snprintf(f->topic, sizeof(f->topic), "onr/1/p/prov-a/dev/%s/telemetry", f->devid);
    describe(f);
    assert_false(ctl_filter_match(&filter, &f->s));
    memset(&filter, 0, sizeof(filter));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "telemetry"));
    assert_true(ctl_filter_match(&filter, &f->s));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "undecodable"));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "application"));
    assert_onr(ONR_OK, ctl_filter_type(&filter, "service_stats"));
}

static void test_filters_refuse_unknown_names_and_too_many(void **state)
{
    struct ctl_filter filter = {0};

    (void)state;
    assert_onr(ONR_EINVAL, ctl_filter_role(&filter, "admin"));
    assert_onr(ONR_EINVAL, ctl_filter_type(&filter, "helo"));
    assert_onr(ONR_EINVAL, ctl_filter_type(&filter, "profile_content")); /* never sent */
    assert_onr(ONR_EINVAL, ctl_filter_type(&filter, ""));
    assert_onr(ONR_EINVAL, ctl_filter_service(&filter, ""));
    for (int i = 0; i < CTL_FILTER_MAX; i++) {
        assert_onr(ONR_OK, ctl_filter_role(&filter, "device"));
        assert_onr(ONR_OK, ctl_filter_service(&filter, "x"));
        assert_onr(ONR_OK, ctl_filter_type(&filter, "hello"));
    }
    assert_onr(ONR_ESPACE, ctl_filter_role(&filter, "device"));
    assert_onr(ONR_ESPACE, ctl_filter_service(&filter, "x"));
    assert_onr(ONR_ESPACE, ctl_filter_type(&filter, "hello"));
}

/* Every sample type, rendered both ways: a line each, and every byte of
 * the JSON printable ASCII. */
static void test_every_type_renders_one_ascii_line(void **state)
{
    struct fixture *f = *state;
    struct onr_msg m;

    for (size_t i = 0; onr_sample_types[i] != 0; i++) {
        enum onr_auth_kind auth;
        unsigned roles;
        enum onr_role role = ONR_ROLE_DEVICE;

        if (onr_msg_type_rules(onr_sample_types[i], &auth, &roles) != ONR_OK)
            continue; /* sealed only */
        while (!(roles & (1u << role)))
            role++;
        onr_sample_msg(onr_sample_types[i], &m);
        encode(f, &m, role, role == ONR_ROLE_DEVICE ? f->devid : "svc", f->service_key,
               "onr/1/s/prov/p/in");
        describe(f);
        assert_true(f->s.decoded);
        for (int json = 0; json < 2; json++) {
            char *line = render(&f->s, json);
            size_t len = strlen(line);

            assert_true(len > 0 && line[len - 1] == '\n');
            for (size_t k = 0; k + 1 < len; k++)
                assert_true(line[k] >= 0x20 && line[k] < 0x7f);
            free(line);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_follow_the_journey),
        cmocka_unit_test(test_event_steps_come_from_the_step_field),
        cmocka_unit_test(test_answers_take_the_step_of_their_topic),
        cmocka_unit_test_setup_teardown(test_an_answer_takes_the_step_of_what_it_answers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_ids_are_a_bounded_ring, setup, teardown),
        cmocka_unit_test(test_topics_name_their_device),
        cmocka_unit_test_setup_teardown(
            test_a_device_comes_from_the_topic_then_the_body_then_the_label, setup, teardown),
        cmocka_unit_test(test_roles_parse_by_level_and_name),
        cmocka_unit_test_setup_teardown(test_keyring_refuses_bad_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_signatures_verify_with_known_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_hello_verifies_with_its_certificate_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_and_maced_types_say_so, setup, teardown),
        cmocka_unit_test(test_binary_fields_print_as_lengths_but_identifiers),
        cmocka_unit_test(test_a_label_loses_its_claim),
        cmocka_unit_test(test_json_strings_escape_anything),
        cmocka_unit_test(test_text_values_are_escaped_as_every_log_is),
        cmocka_unit_test(test_time_is_iso8601_utc_with_milliseconds),
        cmocka_unit_test_setup_teardown(test_a_line_carries_header_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_keys_that_are_line_keys_are_prefixed_in_text,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_are_never_printed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_application_data_is_never_decoded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_what_does_not_decode_is_still_a_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_filters_select_by_device_role_service_and_type,
                                        setup, teardown),
        cmocka_unit_test(test_filters_refuse_unknown_names_and_too_many),
        cmocka_unit_test_setup_teardown(test_every_type_renders_one_ascii_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renewal_and_kit_messages_are_decoded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_relocate_is_decoded_on_the_operational_down_topic,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_telemetry_fields_are_shown_in_its_form_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_roaming_fields_are_printed, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
