/*
 * The device library's test fixture: see device_fixture.h.
 */
#include "device_fixture.h"

#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/x509.h"

void fixture_init(struct fixture *f)
{
    uint8_t sk[32];
    struct onr_p256_key *k = NULL;

    memset(f, 0, sizeof(*f));
    f->prov = "prov-1";
    f->op = "op-1";
    assert_onr(ONR_OK, onr_p256_generate(&f->voucher_key));
    assert_onr(ONR_OK, onr_p256_public(f->voucher_key, f->trust.voucher_key));
    snprintf(f->trust.mfr, sizeof(f->trust.mfr), "acme");
    snprintf(f->trust.dev, sizeof(f->trust.dev), "rguib733fa2xfyrzdwehzsohu743ont4");
    assert_onr(ONR_OK, onr_x25519_generate(sk, f->trust.seal_pub));
    assert_onr(ONR_OK, onr_random(f->nonce, sizeof(f->nonce)));
    assert_onr(ONR_OK, onr_p256_generate(&k));
    assert_onr(ONR_OK, onr_p256_public(k, f->prov_key));
    assert_onr(ONR_OK, onr_p256_public(k, f->op_key));
    f->peer_key = k;
}

void fixture_cleanup(struct fixture *f)
{
    onr_p256_free(f->voucher_key);
    onr_p256_free(f->peer_key);
    onr_wipe(f, sizeof(*f));
}

static struct onr_bytes text(const char *s)
{
    return s != NULL ? (struct onr_bytes){(const uint8_t *)s, strlen(s)}
                     : (struct onr_bytes){NULL, 0};
}

size_t token_with(const struct fixture *f, const struct token_spec *s, uint8_t *out, size_t cap)
{
    struct onr_msg msg = {.type = ONR_MSG_VOUCHER_TOKEN};
    struct onr_envelope_signer signer = {
        .role = ONR_ROLE_MANUFACTURER,
        .sender = text(s->mfr != NULL ? s->mfr : "acme"),
        .key = s->key != NULL ? s->key : f->voucher_key,
    };
    size_t len = 0;

    msg.body.voucher_token = (struct onr_msg_voucher_token){
        .dev = text(s->dev != NULL ? s->dev : f->trust.dev),
        .seal_key = ONR_BYTES(f->trust.seal_pub),
        .nonce = {s->nonce != NULL ? s->nonce : f->nonce, ONR_NONCE_LEN},
        .prov = text(s->prov != NULL ? s->prov : f->prov),
        .prov_key = {s->prov_key != NULL ? s->prov_key : f->prov_key, ONR_P256_PUB_LEN},
        .op = text(s->op != NULL ? s->op : f->op),
        .op_key = ONR_BYTES(f->op_key),
        .expires = s->expires != 0 ? s->expires : (uint64_t)time(NULL) + 3600,
        .plmn = text(s->plmn),
        .why = text(s->why),
    };
    assert_onr(ONR_OK, onr_envelope_encode(&msg, &signer, ONR_BYTES_STR(ONR_TOPIC_VOUCHER),
                                           (uint64_t)time(NULL), out, cap, &len, NULL));
    return len;
}

size_t token(const struct fixture *f, const struct onr_p256_key *key, const char *mfr,
             const char *dev, uint64_t expires, uint8_t *out, size_t cap)
{
    struct token_spec s = {.key = key, .mfr = mfr, .dev = dev, .expires = expires};

    return token_with(f, &s, out, cap);
}

void write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
    assert_onr(ONR_OK,
               onr_file_write_atomic(onr_test_path(dir, name), text, strlen(text), mode));
}

void write_conf(const char *dir, const char *dev, const char *brokers)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "id %s\nmanufacturer acme\nmanufacturer_key manufacturer.pub\n"
             "voucher_key voucher.pub\nbroker_ca broker-ca.pem\n%s",
             dev, brokers);
    write_text(dir, "device.conf", text, 0644);
}

void mint(const char *dir, struct fixture *f, const char *prov, const char *op)
{
    struct onr_p256_key *identity = NULL;
    struct onr_p256_key *service = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t seal_sk[ONR_X25519_KEY_LEN];
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    struct onr_x509_profile leaf = {.days = 30, .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    struct onr_bytes cert;

    assert_true((prov == NULL) == (op == NULL));
    fixture_init(f);
    assert_onr(ONR_OK, onr_p256_generate(&identity));
    assert_onr(ONR_OK, onr_p256_public(identity, pub));
    assert_onr(ONR_OK, onr_devid_from_public(pub, f->trust.dev));
    assert_onr(ONR_OK, onr_p256_save(identity, onr_test_path(dir, "identity.key")));
    leaf.subject = (struct onr_x509_name){.common_name = f->trust.dev, .organization = "acme"};
    assert_onr(ONR_OK, onr_x509_self_signed(identity, &leaf, der, &der_len));
    cert = (struct onr_bytes){der, der_len};
    assert_onr(ONR_OK, onr_x509_save(onr_test_path(dir, "identity.pem"), &cert, 1));
    assert_onr(ONR_OK, onr_x25519_generate(seal_sk, f->trust.seal_pub));
    assert_onr(ONR_OK, onr_x25519_save(seal_sk, onr_test_path(dir, "sealing.key")));
    onr_wipe(seal_sk, sizeof(seal_sk));
    assert_onr(ONR_OK, onr_p256_generate(&service));
    assert_onr(ONR_OK, onr_p256_public(service, pub));
    assert_onr(ONR_OK, onr_p256_public_save(pub, onr_test_path(dir, "manufacturer.pub")));
    assert_onr(ONR_OK, onr_p256_public_save(f->trust.voucher_key,
                                            onr_test_path(dir, "voucher.pub")));
    write_text(dir, "broker-ca.pem", "not read before connecting\n", 0644);
    write_conf(dir, f->trust.dev, FIXTURE_BROKERS);
    onr_p256_free(service);
    onr_p256_free(identity);
    if (prov != NULL) {
        f->prov = prov;
        f->op = op;
        store_voucher(dir, f, f->voucher_key, f->trust.dev);
    }
}

void store_voucher(const char *dir, const struct fixture *f, const struct onr_p256_key *key,
                   const char *dev)
{
    uint8_t t[ONR_ENVELOPE_MAX];
    size_t len = token(f, key, "acme", dev, (uint64_t)time(NULL) + 3600, t, sizeof(t));

    assert_onr(ONR_OK, device_voucher_save(dir, t, len));
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_VOUCHED));
}

void attach(const char *dir, struct fixture *f, struct device_akma *akma)
{
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_CONTENT};
    struct device_akma keys;
    uint8_t ki[16], opc[16];
    static const uint8_t amf[2] = {0x80, 0x00};
    uint8_t body[512];
    size_t len = 0;

    mint(dir, f, "prov-1", "op-1");
    assert_onr(ONR_OK, onr_random(ki, sizeof(ki)));
    assert_onr(ONR_OK, onr_random(opc, sizeof(opc)));
    msg.body.profile_content = (struct onr_msg_profile_content){
        .iccid = ONR_BYTES_STR("8949001000000000017"),
        .imsi = ONR_BYTES_STR("001010000000001"),
        .ki = ONR_BYTES(ki),
        .opc = ONR_BYTES(opc),
        .amf = ONR_BYTES(amf),
        .plmn = ONR_BYTES_STR("00101"),
        .apn = ONR_BYTES_STR("iot.example"),
    };
    assert_onr(ONR_OK, onr_msg_body_encode(&msg, body, sizeof(body), &len));
    assert_onr(ONR_OK, device_profile_save(dir, body, len));
    assert_onr(ONR_OK, onr_random(keys.kid, sizeof(keys.kid)));
    assert_onr(ONR_OK, onr_random(keys.k_af, sizeof(keys.k_af)));
    assert_onr(ONR_OK, device_akma_save(dir, &keys));
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_NETWORK_ATTACHED));
    if (akma != NULL)
        *akma = keys;
    onr_wipe(&keys, sizeof(keys));
    onr_wipe(body, sizeof(body));
}

/* `dir`'s files into `out`, each named with `prefix`; subdirectories too. */
static void snapshot_into(FILE *out, const char *dir, const char *prefix)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);

    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        char path[1024];
        char sub[1024 + 260];
        struct stat st;
        uint8_t *data = NULL;
        size_t data_len = 0;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.') {
            assert_int_equal(stat(path, &st), 0);
            if (S_ISDIR(st.st_mode)) {
                fprintf(out, "%s%s/ %o\n", prefix, names[i]->d_name,
                        (unsigned)(st.st_mode & 07777));
                snprintf(sub, sizeof(sub), "%s%s/", prefix, names[i]->d_name);
                snapshot_into(out, path, sub);
            } else {
                assert_onr(ONR_OK, onr_file_read(path, 1 << 20, 0, &data, &data_len));
                fprintf(out, "%s%s %o %zu\n", prefix, names[i]->d_name,
                        (unsigned)(st.st_mode & 07777), data_len);
                fwrite(data, 1, data_len, out);
                free(data);
            }
        }
        free(names[i]);
    }
    free(names);
}

char *snapshot(const char *dir, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);

    assert_non_null(out);
    snapshot_into(out, dir, "");
    assert_int_equal(fclose(out), 0);
    return text;
}

void assert_same_snapshot(const char *dir, const char *before, size_t before_len)
{
    size_t len = 0;
    char *now = snapshot(dir, &len);

    assert_int_equal(len, before_len);
    assert_memory_equal(now, before, len);
    free(now);
}

/* A self-signed CA certificate for a new key, which is returned. */
static struct onr_p256_key *new_ca(const char *cn, uint8_t *der, size_t *len)
{
    struct onr_p256_key *key = NULL;
    struct onr_x509_profile ca = {
        .subject = {.common_name = cn, .organization = "prov-1"},
        .days = 365, .is_ca = 1, .path_len = 0,
    };

    *len = ONR_X509_MAX_DER;
    assert_onr(ONR_OK, onr_p256_generate(&key));
    assert_onr(ONR_OK, onr_x509_self_signed(key, &ca, der, len));
    return key;
}

void fixture_provider_init(struct fixture_provider *p)
{
    memset(p, 0, sizeof(*p));
    p->ca_key = new_ca("prov-1 CA", p->ca, &p->ca_len);
    p->broker_key = new_ca("prov-1 broker CA", p->broker_ca, &p->broker_ca_len);
}

void fixture_provider_cleanup(struct fixture_provider *p)
{
    onr_p256_free(p->ca_key);
    onr_p256_free(p->broker_key);
    memset(p, 0, sizeof(*p));
}

struct onr_msg_enroll_response fixture_answer(const struct fixture_provider *p, const char *dev,
                                              const uint8_t pub[ONR_P256_PUB_LEN],
                                              uint32_t seconds, uint8_t chain[DEVICE_CHAIN_MAX])
{
    static const uint8_t re[ONR_MSG_ID_LEN];
    struct onr_x509_profile leaf = {.days = 30, .seconds = seconds, .path_len = -1,
                                    .eku = ONR_X509_EKU_CLIENT};
    size_t leaf_len = ONR_X509_MAX_DER;

    leaf.subject = (struct onr_x509_name){.common_name = dev, .organization = "prov-1"};
    assert_onr(ONR_OK, onr_x509_issue(p->ca_key, p->ca, p->ca_len, pub, &leaf, chain, &leaf_len));
    assert_true(leaf_len + p->ca_len <= DEVICE_CHAIN_MAX);
    memcpy(chain + leaf_len, p->ca, p->ca_len);
    return (struct onr_msg_enroll_response){
        .re = ONR_BYTES(re),
        .chain = {chain, leaf_len + p->ca_len},
        .ca = {p->broker_ca, p->broker_ca_len},
        .endpoint = ONR_BYTES_STR(FIXTURE_ENDPOINT),
    };
}

void enrolled_by(const char *dir, struct fixture *f, const struct fixture_provider *p,
                 uint32_t seconds)
{
    struct onr_p256_key *service = NULL;
    uint8_t pub[ONR_P256_PUB_LEN], csr[DEVICE_CSR_MAX], chain[DEVICE_CHAIN_MAX];
    size_t csr_len = 0;
    struct onr_msg_enroll_response m;
    struct device_service svc;

    attach(dir, f, NULL);
    assert_onr(ONR_OK, device_enroll_csr(dir, f->trust.dev, &service, csr, &csr_len));
    assert_onr(ONR_OK, onr_p256_public(service, pub));
    m = fixture_answer(p, f->trust.dev, pub, seconds, chain);
    assert_onr(ONR_OK, device_take_enrollment(f->trust.dev, service, &m, dir, &svc));
    onr_p256_free(service);
}

void enrolled(const char *dir, struct fixture *f)
{
    struct fixture_provider p;

    fixture_provider_init(&p);
    enrolled_by(dir, f, &p, 0);
    fixture_provider_cleanup(&p);
}

mode_t mode_of(const char *dir, const char *name)
{
    struct stat st;

    assert_int_equal(stat(onr_test_path(dir, name), &st), 0);
    return st.st_mode & 07777;
}

static void on_progress(void *arg, const struct onr_device *dev, const char *event,
                        const char *detail)
{
    struct heard *h = arg;

    (void)dev;
    snprintf(h->event, sizeof(h->event), "%s", event);
    snprintf(h->detail, sizeof(h->detail), "%s", detail);
    if (strlen(h->events) + strlen(event) + 2 < sizeof(h->events)) {
        strcat(h->events, event);
        strcat(h->events, " ");
    }
    if (strcmp(event, "state") == 0)
        h->states++;
}

static void on_done(void *arg, const struct onr_device *dev, int result)
{
    struct heard *h = arg;

    (void)dev;
    h->done++;
    h->result = result;
}

int open_device_with(const char *dir, const struct onr_device_options *opt, struct heard *h,
                     struct onr_device **dev)
{
    struct onr_device_callbacks cb = {.progress = on_progress, .done = on_done, .arg = h};

    memset(h, 0, sizeof(*h));
    *dev = NULL;
    return onr_device_open(dir, &cb, opt, dev);
}

int open_device_until(const char *dir, enum onr_device_state target, struct heard *h,
                      struct onr_device **dev)
{
    struct onr_device_options opt = {.target = target};

    return open_device_with(dir, &opt, h, dev);
}

int open_device(const char *dir, struct heard *h, struct onr_device **dev)
{
    return open_device_until(dir, ONR_DEVICE_FACTORY, h, dev);
}

void assert_open_refused(const char *dir, int rc, const char *file)
{
    struct onr_device *dev = NULL;
    struct heard h;
    char want[64];

    assert_onr(rc, open_device(dir, &h, &dev));
    assert_null(dev);
    assert_string_equal(h.event, "error");
    snprintf(want, sizeof(want), "file=%s code=%s ", file, onr_error_name(rc));
    assert_non_null(strstr(h.detail, want));
}
