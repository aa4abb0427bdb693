/*
 * onr_fuzz_seeds: write the fuzz targets' seed corpora and the msgpack
 * dictionary, made with Onramp's own encoders: real envelopes of every
 * type signed or MAC'ed with the fixed test keys, real certificates,
 * requests, labels, proofs, sealed profiles and keys, and the example
 * configurations (tests/fuzz/README.md says when to run it).
 *
 *   onr_fuzz_seeds CORPUS_DIR DICT_FILE [EXAMPLES_DIR]
 *
 * Writes CORPUS_DIR/<target>/<name>, creating the folders; files are
 * named for what they hold. Timestamps are FUZZ_NOW, so seeds verify in the targets
 * whatever day they run; ids, nonces and signatures are random, so the
 * bytes differ from run to run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "internal.h"
#include "msg_internal.h"
#include "onramp/onramp.h"
#include "samples.h"
#include "schema.h"

#define CHECK(expr)                                                                   \
    do {                                                                              \
        int rc_ = (expr);                                                             \
        if (rc_ != ONR_OK) {                                                          \
            fprintf(stderr, "onr_fuzz_seeds: %s:%d: %s: %s\n", __FILE__, __LINE__, #expr, \
                    onr_error_name(rc_));                                             \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* An operational device's down topic, and its telemetry in both forms
 * (the nonce fuzz_nonce's hex). */
#define OPERATIONAL_DOWN "onr/1/p/" FUZZ_PROV "/dev/" FUZZ_DEV "/down"
#define TELEMETRY_OLD "{\"dev\":\"" FUZZ_DEV "\",\"state\":\"OPERATIONAL\"}"
#define TELEMETRY_REPORTED                                                             \
    "{\"dev\":\"" FUZZ_DEV "\",\"state\":\"OPERATIONAL\",\"plmn\":\"72405\","           \
    "\"nonce\":\"000102030405060708090a0b0c0d0e0f\"}"

static const char *corpus;
static struct onr_p256_key *signer;
static struct onr_p256_key *voucher_key;
static struct onr_p256_key *service_key;
static struct onr_p256_key *ca_key;
static uint8_t seal_device_pub[32];
static uint8_t seal_mfr_pub[32];
static uint8_t seal_provider_pub[32];
static char signer_dev[ONR_DEVID_LEN + 1];

/* Real pieces the bodies carry. */
static uint8_t identity_cert[ONR_X509_MAX_DER];
static size_t identity_cert_len;
static uint8_t ca_cert[ONR_X509_MAX_DER];
static size_t ca_cert_len;
static uint8_t leaf_cert[ONR_X509_MAX_DER];
static size_t leaf_cert_len;
static uint8_t broker_ca[ONR_X509_MAX_DER];
static size_t broker_ca_len;
static uint8_t csr[ONR_X509_MAX_DER];
static size_t csr_len;
static uint8_t token[2048];
static size_t token_len;
static uint8_t move_token[2048]; /* a relocation's: to op-2, for fuzz_nonce in 72405 */
static size_t move_token_len;
static uint8_t op_keys[ONR_OP_KEYS_BIN_MAX];
static size_t op_keys_len;
static uint8_t sealed_profile[ONR_SEALED_PROFILE_MAX];
static size_t sealed_profile_len;
static uint8_t sealed_app_key[ONR_SEALED_APP_KEY_LEN];
static uint8_t sealed_claim[ONR_LABEL_SEALED_LEN];
static char label_text[ONR_LABEL_MAX + 1];
static char claim[ONR_LABEL_CLAIM_LEN + 1];

static const struct onr_msg_profile_content profile_content = {
    .iccid = ONR_BYTES_STR("8944501234567890123"),
    .imsi = ONR_BYTES_STR("001010123456789"),
    .ki = ONR_BYTES_STR("0123456789abcdef"),
    .opc = ONR_BYTES_STR("fedcba9876543210"),
    .amf = ONR_BYTES_STR("\x80\x00"),
    .plmn = ONR_BYTES_STR("00101"),
    .apn = ONR_BYTES_STR("iot.example"),
};

static void save(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", corpus, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "onr_fuzz_seeds: cannot create %s\n", path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", corpus, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "onr_fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* A mode byte (or any prefix) and then `len` bytes. */
static void save_with(const char *target, const char *name, const void *prefix,
                      size_t prefix_len, const void *data, size_t len)
{
    uint8_t buf[20000];

    if (prefix_len + len > sizeof(buf))
        exit(1);
    memcpy(buf, prefix, prefix_len);
    memcpy(buf + prefix_len, data, len);
    save(target, name, buf, prefix_len + len);
}

static struct onr_p256_key *new_key(void)
{
    struct onr_p256_key *key = NULL;

    CHECK(onr_p256_generate(&key));
    return key;
}

/* ---- the real pieces -------------------------------------------------- */

static void make_pki(void)
{
    struct onr_x509_profile ca = {.subject = {.common_name = "prov-1 CA", .organization = "Onramp"},
                                  .days = 36500, .is_ca = 1, .path_len = 0};
    struct onr_x509_profile leaf = {.subject = {.common_name = FUZZ_DEV, .org_unit = "device"},
                                    .days = 36500, .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    struct onr_x509_profile broker = {.subject = {.common_name = "service broker CA"},
                                      .days = 36500, .is_ca = 1, .path_len = -1};
    struct onr_x509_name subject = {.common_name = FUZZ_DEV};
    struct onr_p256_key *device = new_key();
    struct onr_p256_key *broker_key = new_key();
    uint8_t pub[ONR_P256_PUB_LEN];

    ca_cert_len = sizeof(ca_cert);
    CHECK(onr_x509_self_signed(ca_key, &ca, ca_cert, &ca_cert_len));
    CHECK(onr_p256_public(service_key, pub));
    leaf_cert_len = sizeof(leaf_cert);
    CHECK(onr_x509_issue(ca_key, ca_cert, ca_cert_len, pub, &leaf, leaf_cert, &leaf_cert_len));
    broker_ca_len = sizeof(broker_ca);
    CHECK(onr_x509_self_signed(broker_key, &broker, broker_ca, &broker_ca_len));
    csr_len = sizeof(csr);
    CHECK(onr_x509_csr_new(service_key, &subject, csr, &csr_len));
    /* a device's identity certificate from its manufacturer's CA */
    CHECK(onr_p256_public(device, pub));
    leaf.subject.common_name = signer_dev;
    identity_cert_len = sizeof(identity_cert);
    CHECK(onr_x509_issue(ca_key, ca_cert, ca_cert_len, pub, &leaf, identity_cert,
                         &identity_cert_len));
    onr_p256_free(device);
    onr_p256_free(broker_key);
}

static void make_secrets(void)
{
    struct onr_msg msg = {.type = ONR_MSG_VOUCHER_TOKEN};
    struct onr_envelope_signer mfr = {
        .role = ONR_ROLE_MANUFACTURER, .sender = ONR_BYTES_STR(FUZZ_MFR), .key = voucher_key};
    struct onr_label label;
    uint8_t k_af[32];

    msg.body.voucher_token = (struct onr_msg_voucher_token){
        .dev = ONR_BYTES_STR(FUZZ_DEV),
        .seal_key = ONR_BYTES(seal_device_pub),
        .nonce = ONR_BYTES(fuzz_nonce),
        .prov = ONR_BYTES_STR(FUZZ_PROV),
        .prov_key = {fuzz_key_public(FUZZ_KEY_SIGNER), ONR_P256_PUB_LEN},
        .op = ONR_BYTES_STR(FUZZ_OP),
        .op_key = {fuzz_key_public(FUZZ_KEY_SIGNER), ONR_P256_PUB_LEN},
        .expires = FUZZ_NOW + 30 * 86400,
    };
    CHECK(onr_envelope_encode(&msg, &mfr, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), FUZZ_NOW,
                              token, sizeof(token), &token_len, NULL));
    msg.body.voucher_token.op = ONR_BYTES_STR("op-2");
    msg.body.voucher_token.plmn = ONR_BYTES_STR("72405");
    msg.body.voucher_token.why = ONR_BYTES_STR("policy");
    CHECK(onr_envelope_encode(&msg, &mfr, ONR_BYTES_STR(ONR_TOPIC_VOUCHER), FUZZ_NOW,
                              move_token, sizeof(move_token), &move_token_len, NULL));
    {
        struct onr_op_keys k;

        memset(&k, 0, sizeof(k));
        CHECK(onr_op_keys_add(&k, FUZZ_OP, fuzz_key_public(FUZZ_KEY_SIGNER)));
        CHECK(onr_op_keys_add(&k, "op-2", fuzz_key_public(FUZZ_KEY_VOUCHER)));
        CHECK(onr_op_keys_encode(&k, op_keys, sizeof(op_keys), &op_keys_len));
    }
    CHECK(onr_sealed_profile_seal(seal_device_pub, FUZZ_DEV, FUZZ_OP, fuzz_nonce,
                                  &profile_content, sealed_profile, sizeof(sealed_profile),
                                  &sealed_profile_len));
    memset(k_af, 0x4b, sizeof(k_af));
    CHECK(onr_sealed_app_key_seal(seal_provider_pub, FUZZ_DEV, FUZZ_OP, FUZZ_PROV, fuzz_kid,
                                  k_af, sealed_app_key));
    CHECK(onr_label_new_claim(claim));
    CHECK(onr_label_claim_seal(seal_mfr_pub, FUZZ_DEV, FUZZ_PROV, claim, sealed_claim));
    memset(&label, 0, sizeof(label));
    snprintf(label.mfr, sizeof(label.mfr), "%s", FUZZ_MFR);
    snprintf(label.dev, sizeof(label.dev), "%s", FUZZ_DEV);
    memcpy(label.claim, claim, sizeof(label.claim));
    CHECK(onr_label_encode(&label, label_text, sizeof(label_text)));
}

/* The sample body of `type`, with the real pieces where it has them. */
static void real_msg(int type, struct onr_msg *m)
{
    onr_sample_msg(type, m);
    switch (type) {
    case ONR_MSG_HELLO:
        m->body.hello.nonce = ONR_BYTES(fuzz_nonce);
        m->body.hello.cert = (struct onr_bytes){identity_cert, identity_cert_len};
        break;
    case ONR_MSG_VOUCHER:
        m->body.voucher.voucher = (struct onr_bytes){token, token_len};
        break;
    case ONR_MSG_PROFILE_REQUEST:
        m->body.profile_request.voucher = (struct onr_bytes){token, token_len};
        m->body.profile_request.nonce = ONR_BYTES(fuzz_nonce);
        break;
    case ONR_MSG_PROFILE:
        m->body.profile.sealed = (struct onr_bytes){sealed_profile, sealed_profile_len};
        break;
    case ONR_MSG_ENROLL_REQUEST:
        m->body.enroll_request.kid = ONR_BYTES(fuzz_kid);
        m->body.enroll_request.csr = (struct onr_bytes){csr, csr_len};
        break;
    case ONR_MSG_ENROLL_RESPONSE:
        m->body.enroll_response.chain = (struct onr_bytes){leaf_cert, leaf_cert_len};
        m->body.enroll_response.ca = (struct onr_bytes){broker_ca, broker_ca_len};
        m->body.enroll_response.endpoint = ONR_BYTES_STR("mqtts://broker.example.net:8883");
        break;
    case ONR_MSG_REGISTRATION:
        m->body.registration.dev = ONR_BYTES_STR(FUZZ_DEV);
        m->body.registration.claim = ONR_BYTES(sealed_claim);
        m->body.registration.op_key = (struct onr_bytes){fuzz_key_public(FUZZ_KEY_SIGNER),
                                                         ONR_P256_PUB_LEN};
        m->body.registration.policy = ONR_BYTES_STR("262:op-2," FUZZ_OP ";*:" FUZZ_OP);
        m->body.registration.op_keys = (struct onr_bytes){op_keys, op_keys_len};
        break;
    case ONR_MSG_RELOCATE:
        m->body.relocate.voucher = (struct onr_bytes){move_token, move_token_len};
        break;
    case ONR_MSG_PAIRING:
        m->body.pairing.label = (struct onr_bytes){(const uint8_t *)label_text,
                                                   strlen(label_text)};
        break;
    case ONR_MSG_VOUCHER_TOKEN:
        m->body.voucher_token.seal_key = ONR_BYTES(seal_device_pub);
        m->body.voucher_token.prov_key = (struct onr_bytes){fuzz_key_public(FUZZ_KEY_SIGNER),
                                                            ONR_P256_PUB_LEN};
        m->body.voucher_token.op_key = m->body.voucher_token.prov_key;
        break;
    case ONR_MSG_APP_KEY:
        m->body.app_key.sealed = ONR_BYTES(sealed_app_key);
        break;
    case ONR_MSG_PROFILE_CONTENT:
        m->body.profile_content = profile_content;
        break;
    default:
        break;
    }
}

/* Who may send `type`: the first role allowed, and its id. */
static void sender_of(int type, struct onr_envelope_signer *s)
{
    static const char *const ids[] = {"", "", FUZZ_MFR, FUZZ_OP, FUZZ_PROV, "ctl-1",
                                      "broker-1"};
    enum onr_auth_kind auth = ONR_AUTH_NONE;
    unsigned roles = 0;

    CHECK(onr_msg_type_rules(type, &auth, &roles));
    memset(s, 0, sizeof(*s));
    for (int r = ONR_ROLE_DEVICE; r <= ONR_ROLE_BROKER; r++) {
        if (roles & (1u << r)) {
            s->role = (enum onr_role)r;
            break;
        }
    }
    s->sender = s->role == ONR_ROLE_DEVICE
                    ? (struct onr_bytes){(const uint8_t *)signer_dev, ONR_DEVID_LEN}
                    : (struct onr_bytes){(const uint8_t *)ids[s->role], strlen(ids[s->role])};
    s->key = signer;
    s->mac_key = ONR_BYTES(fuzz_mac_key);
}

/* ---- per target ------------------------------------------------------ */

static void envelopes_and_bodies(void)
{
    static uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len = 0;
    uint8_t index = 0;

    for (int t = 1; t <= 255; t++) {
        const char *name = onr_msg_type_name(t);
        struct onr_envelope_signer who;
        struct onr_msg m;

        if (name == NULL)
            continue;
        real_msg(t, &m);
        CHECK(onr_msg_body_encode(&m, buf, sizeof(buf), &len));
        save_with("msg", name, &index, 1, buf, len);
        index++;
        if (onr_msg_type_rules(t, NULL, NULL) != ONR_OK)
            continue; /* travels sealed only */
        sender_of(t, &who);
        CHECK(onr_envelope_encode(&m, &who, ONR_BYTES_STR(FUZZ_TOPIC), FUZZ_NOW, buf, sizeof(buf),
                                  &len, NULL));
        save("envelope", name, buf, len);
        if (t == ONR_MSG_PAIRING || t == ONR_MSG_HELLO || t == ONR_MSG_ERROR ||
            t == ONR_MSG_VOUCHER || t == ONR_MSG_EVENT || t == ONR_MSG_STATUS ||
            t == ONR_MSG_RELOCATE || t == ONR_MSG_NO_OPERATOR || t == ONR_MSG_RENEW_REQUEST ||
            t == ONR_MSG_KIT_PAIRED) {
            const char *topic = t == ONR_MSG_PAIRING       ? "onr/1/s/prov/" FUZZ_PROV "/in"
                                : t == ONR_MSG_HELLO       ? FUZZ_TOPIC
                                : t == ONR_MSG_EVENT       ? "onr/1/s/mfr/" FUZZ_MFR "/ev"
                                : t == ONR_MSG_RELOCATE    ? OPERATIONAL_DOWN
                                : t == ONR_MSG_NO_OPERATOR ? "onr/1/s/prov/" FUZZ_PROV "/in"
                                : t == ONR_MSG_RENEW_REQUEST
                                    ? "onr/1/p/" FUZZ_PROV "/dev/" FUZZ_DEV "/renew"
                                : t == ONR_MSG_KIT_PAIRED ? "onr/1/s/ctl/ctl-1/in"
                                                           : "onr/1/d/" FUZZ_DEV "/down";
            uint8_t topic_len = (uint8_t)strlen(topic);
            uint8_t with[1 + 255 + ONR_ENVELOPE_MAX];

            with[0] = topic_len;
            memcpy(with + 1, topic, topic_len);
            memcpy(with + 1 + topic_len, buf, len);
            save("monitor", name, with, 1 + topic_len + len);
        }
        if (t == ONR_MSG_BROKER_STATS || t == ONR_MSG_SERVICE_STATS) {
            /* onrampctl exporter's subscription: a broker's counters on
             * its topic, a service's where it does not belong */
            const char *topic = "onr/1/s/broker/broker-1/ev";
            uint8_t topic_len = (uint8_t)strlen(topic);
            uint8_t with[1 + 255 + ONR_ENVELOPE_MAX];

            with[0] = topic_len;
            memcpy(with + 1, topic, topic_len);
            memcpy(with + 1 + topic_len, buf, len);
            save("exporter", name, with, 1 + topic_len + len);
        }
    }
    {
        static const char topic[] = "onr/1/p/" FUZZ_PROV "/dev/" FUZZ_DEV "/telemetry";
        static const char payload[] = "{\"t\":21.5}";
        uint8_t with[1 + sizeof(topic) + sizeof(payload)];

        with[0] = sizeof(topic) - 1;
        memcpy(with + 1, topic, sizeof(topic) - 1);
        memcpy(with + sizeof(topic), payload, sizeof(payload) - 1);
        save("monitor", "telemetry", with, sizeof(topic) + sizeof(payload) - 1);
        save_with("monitor", "telemetry-reported", with, sizeof(topic), TELEMETRY_REPORTED,
                  sizeof(TELEMETRY_REPORTED) - 1);
    }
}

/* The roaming parsers (fuzz_policy) and the device's relocate and
 * "reported" file (fuzz_device). */
static void roaming(void)
{
    static const char world[] = "\x00" "262:op-de,op-eu;724:op-br;*:op-eu";
    static const char reported[] = "\x03" "000102030405060708090a0b0c0d0e0f 72405\n"
                                   "ffeeddccbbaa99887766554433221100 310410\n";
    static uint8_t buf[ONR_ENVELOPE_MAX];
    struct onr_msg m = {.type = ONR_MSG_RELOCATE};
    struct onr_envelope_signer prov = {.role = ONR_ROLE_PROVIDER,
                                       .sender = ONR_BYTES_STR(FUZZ_PROV), .key = signer};
    uint8_t mode;
    size_t len = 0;

    save("policy", "policy", world, sizeof(world) - 1);
    mode = 1;
    save_with("policy", "op-keys", &mode, 1, op_keys, op_keys_len);
    mode = 2;
    save_with("policy", "telemetry", &mode, 1, TELEMETRY_REPORTED,
              sizeof(TELEMETRY_REPORTED) - 1);
    save_with("policy", "telemetry-old", &mode, 1, TELEMETRY_OLD, sizeof(TELEMETRY_OLD) - 1);
    save("device", "reported", reported, sizeof(reported) - 1);
    m.body.relocate.voucher = (struct onr_bytes){move_token, move_token_len};
    CHECK(onr_envelope_encode(&m, &prov, ONR_BYTES_STR(OPERATIONAL_DOWN), FUZZ_NOW, buf,
                              sizeof(buf), &len, NULL));
    mode = 4;
    save_with("device", "relocate", &mode, 1, buf, len);
}

static void pop(void)
{
    struct onr_p256_key *device = new_key();
    uint8_t pub[ONR_P256_PUB_LEN];
    char dev[ONR_DEVID_LEN + 1];
    uint8_t proof[ONR_POP_LEN];
    uint8_t head[2 + ONR_DEVID_LEN];

    CHECK(onr_p256_public(device, pub));
    CHECK(onr_devid_from_public(pub, dev));
    CHECK(onr_pop_encode(device, (struct onr_bytes){(const uint8_t *)dev, ONR_DEVID_LEN},
                         ONR_BYTES_STR(FUZZ_BROKER), FUZZ_NOW, proof));
    head[0] = 0;
    head[1] = ONR_DEVID_LEN;
    memcpy(head + 2, dev, ONR_DEVID_LEN);
    save_with("pop", "proof", head, sizeof(head), proof, sizeof(proof));
    head[0] = 3; /* the id from the key, "now" from the proof */
    head[1] = 0;
    save_with("pop", "proof-own-id", head, 2, proof, sizeof(proof));
    head[0] = 0;
    head[1] = ONR_DEVID_LEN;
    save_with("pop", "short", head, sizeof(head), proof, 40);
    onr_p256_free(device);
}

static void labels(void)
{
    char lower[ONR_LABEL_MAX + 1];

    save("label", "label", label_text, strlen(label_text));
    for (size_t i = 0; i <= strlen(label_text); i++)
        lower[i] = (char)(label_text[i] >= 'A' && label_text[i] <= 'Z' ? label_text[i] + 32
                                                                       : label_text[i]);
    save("label", "lowercase", lower, strlen(lower));
    save("label", "sealed-claim", sealed_claim, sizeof(sealed_claim));
    {
        struct onr_kit_label kit = {.mfr = FUZZ_MFR, .kit = FUZZ_KIT};
        char text[ONR_KIT_LABEL_MAX + 1];
        uint8_t sealed[ONR_LABEL_SEALED_LEN];

        memcpy(kit.claim, claim, sizeof(kit.claim));
        CHECK(onr_kit_label_encode(&kit, text, sizeof(text)));
        save("label", "kit", text, strlen(text));
        CHECK(onr_kit_claim_seal(seal_mfr_pub, FUZZ_KIT, FUZZ_PROV, claim, sealed));
        save("label", "sealed-kit-claim", sealed, sizeof(sealed));
    }
}

/* The label's NFC tag: the factory's message, and one a phone app might
 * write, with a URI record first and the text in a long record. */
static void ndef(void)
{
    static const uint8_t uri[] = {0x91, 0x01, 0x08, 'U', 0x04, 'e', 'x', '.', 'n', 'e', 't', '/'};
    uint8_t msg[ONR_NDEF_ENCODED_MAX + 8];
    size_t len = 0;

    CHECK(onr_ndef_text_encode(label_text, strlen(label_text), msg, sizeof(msg), &len));
    save("ndef", "label", msg, len);
    memmove(msg + sizeof(uri), msg, len);
    memcpy(msg, uri, sizeof(uri));
    /* the text record: no MB, a 4-byte payload length */
    msg[sizeof(uri)] = 0x41;
    memmove(msg + sizeof(uri) + 6, msg + sizeof(uri) + 3, len - 3);
    msg[sizeof(uri) + 2] = 0;
    msg[sizeof(uri) + 3] = 0;
    msg[sizeof(uri) + 4] = 0;
    msg[sizeof(uri) + 5] = (uint8_t)(len - 4);
    save("ndef", "uri-and-long-text", msg, sizeof(uri) + len + 3);
}

/* onrampctl pair --labels's files (the first byte picks the defaults). */
static void labels_files(void)
{
    char text[2048];
    int n;

    n = snprintf(text, sizeof(text), "\x01# a shipment\n%s\n\n%s\r\n", label_text, label_text);
    save("labels", "plain", text, (size_t)n);
    n = snprintf(text, sizeof(text),
                 "\x02label,account,operator\n%s,alice,op-2\n\"%s\",\"Smith, \"\"Jo\"\"\",\n"
                 "%s,bob\nhello,x,y\n",
                 label_text, label_text, label_text);
    save("labels", "csv", text, (size_t)n);
}

static void profiles(void)
{
    static uint8_t body[ONR_SEALED_PROFILE_MAX];
    struct onr_msg m = {.type = ONR_MSG_PROFILE_CONTENT};
    size_t len = 0;
    uint8_t mode;

    m.body.profile_content = profile_content;
    CHECK(onr_msg_body_encode(&m, body, sizeof(body), &len));
    mode = 0;
    save_with("profile_open", "clear", &mode, 1, body, len);
    mode = 1;
    save_with("profile_open", "sealed", &mode, 1, sealed_profile, sealed_profile_len);
    mode = 2;
    save_with("profile_open", "app-key", &mode, 1, sealed_app_key, sizeof(sealed_app_key));
}

static void requests(void)
{
    struct onr_x509_name other = {.common_name = "a request", .organization = "Onramp",
                                  .org_unit = "devices"};
    struct onr_p256_key *key = new_key();
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    uint8_t sig[ONR_P256_SIG_LEN];
    uint8_t sig_der[ONR_P256_SIG_DER_MAX];
    size_t sig_der_len = sizeof(sig_der);
    const struct onr_bytes part = ONR_BYTES_STR("onramp");
    static const char names_in[] = "N" FUZZ_DEV "\0Onramp\0devices";

    save("csr", "device", csr, csr_len);
    save("csr", "names-in", names_in, sizeof(names_in) - 1);
    CHECK(onr_x509_csr_new(key, &other, der, &der_len));
    save("csr", "names", der, der_len);
    CHECK(onr_p256_sign(key, &part, 1, sig));
    CHECK(onr_p256_sig_to_der(sig, sig_der, &sig_der_len));
    save("csr", "signature", sig_der, sig_der_len);
    onr_p256_free(key);
}

/* u16be chain length, chain, u16be CA length, CA, endpoint. */
static void chain_seed(const char *name, const struct onr_bytes *certs, size_t n,
                       const char *endpoint)
{
    uint8_t buf[20000];
    size_t at = 2;
    size_t chain_len = 0;

    for (size_t i = 0; i < n; i++) {
        memcpy(buf + at, certs[i].ptr, certs[i].len);
        at += certs[i].len;
        chain_len += certs[i].len;
    }
    buf[0] = (uint8_t)(chain_len >> 8);
    buf[1] = (uint8_t)chain_len;
    buf[at++] = (uint8_t)(broker_ca_len >> 8);
    buf[at++] = (uint8_t)broker_ca_len;
    memcpy(buf + at, broker_ca, broker_ca_len);
    at += broker_ca_len;
    memcpy(buf + at, endpoint, strlen(endpoint));
    at += strlen(endpoint);
    save("chain", name, buf, at);
}

static void chains(void)
{
    const struct onr_bytes two[] = {{leaf_cert, leaf_cert_len}, {ca_cert, ca_cert_len}};
    const struct onr_bytes three[] = {
        {leaf_cert, leaf_cert_len}, {ca_cert, ca_cert_len}, {broker_ca, broker_ca_len}};

    chain_seed("leaf-ca", two, 2, "mqtts://broker.example.net:8883");
    chain_seed("ipv4", two, 2, "mqtts://192.0.2.10:8883");
    chain_seed("three", three, 3, "mqtts://b-1.example:1");
}

static void copy_file(const char *target, const char *name, const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;

    CHECK(onr_file_read(path, ONR_CONFIG_MAX, 0, &data, &len));
    save(target, name, data, len);
    free(data);
}

static void configs(const char *examples)
{
    static const char device_conf[] =
        "# device.conf as onramp-factory writes it\n"
        "id " FUZZ_DEV "\n"
        "manufacturer acme\n"
        "manufacturer_key mfr.pub\n"
        "voucher_key voucher.pub\n"
        "broker_ca broker-ca.pem\n"
        "broker bootstrap-1 127.0.0.1 8883\n"
        "broker bootstrap-2 broker.example.net\t8883\n"
        "retry_max 00300\n";
    static const char *const names[] = {"manufacturer", "provider", "operator"};
    char path[1024];

    save("config", "device.conf", device_conf, sizeof(device_conf) - 1);
    for (size_t i = 0; examples != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.conf", examples, names[i]);
        copy_file("config", names[i], path);
    }
}

static void topics(void)
{
    static const char a[] = "\x40onr/1/d/+/up/mfr/acme\0onr/1/d/" FUZZ_DEV "/up/mfr/acme\0acme";
    static const char b[] = "\xff$share/g/onr/1/d/+/up/op/#\0onr/1/d/" FUZZ_DEV
                            "/up/op/op-1\0onr/1/d/+/up/op/#";
    static const char c[] = "\x10onr/1/p/prov-1/dev/+/#\0onr/1/p/prov-1/dev/" FUZZ_DEV
                            "/telemetry\0prov-1";
    static const char d[] = "\x05#\0$SYS/broker/uptime\0+/#";
    /* whole inputs that are topics of proto's parser (topic.h) */
    static const char e[] = "\x20onr/1/s/ctl/admin/in";
    static const char f[] = "\x20onr/1/p/" FUZZ_PROV "/dev/" FUZZ_DEV "/cmd/reboot";

    save("topic", "device", a, sizeof(a) - 1);
    save("topic", "shared", b, sizeof(b) - 1);
    save("topic", "provider", c, sizeof(c) - 1);
    save("topic", "dollar", d, sizeof(d) - 1);
    save("topic", "inbox", e, sizeof(e) - 1);
    save("topic", "operational", f, sizeof(f) - 1);
}

static void device_files(void)
{
    static const char journey[] = "\x02PROFILED\n";
    char sqn[32 * 22 + 2];
    size_t len = 1;
    uint8_t mode = 0;

    save_with("device", "voucher", &mode, 1, token, token_len);
    sqn[0] = 1;
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        len += (size_t)snprintf(sqn + len, sizeof(sqn) - len, "%u\n", i * 1000 + (i % 3));
    save("device", "sqn", sqn, len);
    save("device", "journey", journey, sizeof(journey) - 1);
}

/* `text` as a browser encodes a form value, appended to `out`. */
static void form_value(char *out, size_t cap, const char *text)
{
    size_t o = strlen(out);

    for (const char *c = text; *c != '\0' && o + 4 < cap; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_')
            out[o++] = *c;
        else if (*c == ' ')
            out[o++] = '+';
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", (unsigned char)*c);
    }
    out[o] = '\0';
}

static void page_forms(void)
{
    char body[1024] = "label=";

    form_value(body, sizeof(body), label_text);
    strcat(body, "&account=");
    form_value(body, sizeof(body), "alice@example.net");
    strcat(body, "&operator=op-1");
    save("page_form", "label", body, strlen(body));
    snprintf(body, sizeof(body), "mfr=acme&dev=%s&claim=%s&account=Bob+%%C3%%A9&operator=",
             FUZZ_DEV, claim);
    save("page_form", "parts", body, strlen(body));
}

/* The keys of every body, as msgpack strings, for libFuzzer's -dict. */
#define MAX_DICT 256
static void dictionary(const char *path)
{
    const char *keys[MAX_DICT];
    size_t n_keys = 0;
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "onr_fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
    fprintf(f, "# msgpack map keys of every Onramp message body (made by onr_fuzz_seeds)\n");
    for (int t = 1; t <= 255; t++) {
        const struct onr_field *fields = NULL;
        size_t n = 0;

        if (onr_msg_fields(t, &fields, &n) != ONR_OK)
            continue;
        for (size_t i = 0; i < n; i++) {
            int seen = 0;

            for (size_t k = 0; k < n_keys && !seen; k++)
                seen = strcmp(keys[k], fields[i].key) == 0;
            if (seen || n_keys == MAX_DICT)
                continue;
            keys[n_keys++] = fields[i].key;
            fprintf(f, "\"\\x%02x%s\"\n", 0xa0u | (unsigned)strlen(fields[i].key),
                    fields[i].key);
        }
    }
    fprintf(f, "\"\\xc4\\x10\"\n\"\\xc4\\x40\"\n\"\\xc4\\x20\"\n\"\\x98\\x01\"\n");
    fclose(f);
}

int main(int argc, char **argv)
{
    uint8_t pub[ONR_P256_PUB_LEN];

    if (argc < 3) {
        fprintf(stderr, "usage: onr_fuzz_seeds CORPUS_DIR DICT_FILE [EXAMPLES_DIR]\n");
        return 2;
    }
    corpus = argv[1];
    signer = fuzz_key_load(FUZZ_KEY_SIGNER);
    voucher_key = fuzz_key_load(FUZZ_KEY_VOUCHER);
    service_key = fuzz_key_load(FUZZ_KEY_SERVICE);
    ca_key = fuzz_key_load(FUZZ_KEY_CA);
    CHECK(onr_p256_public(signer, pub));
    CHECK(onr_devid_from_public(pub, signer_dev));
    fuzz_seal_public(fuzz_seal_device, seal_device_pub);
    fuzz_seal_public(fuzz_seal_mfr, seal_mfr_pub);
    fuzz_seal_public(fuzz_seal_provider, seal_provider_pub);

    make_pki();
    make_secrets();
    envelopes_and_bodies();
    pop();
    labels();
    ndef();
    labels_files();
    profiles();
    requests();
    chains();
    configs(argc > 3 ? argv[3] : NULL);
    topics();
    device_files();
    roaming();
    page_forms();
    dictionary(argv[2]);

    onr_p256_free(signer);
    onr_p256_free(voucher_key);
    onr_p256_free(service_key);
    onr_p256_free(ca_key);
    return 0;
}
