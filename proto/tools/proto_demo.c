/*
 * onramp-proto-demo: the onboarding journey's protocol steps, in one
 * process, with the real proto code. Each party's work is a function; what
 * crosses between them is encoded bytes only, exactly what the fabric's
 * services will exchange over MQTT once they exist.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/onramp.h"

#define MFR_ID "acme"
#define PROV_ID "prov-1"
#define OP_ID "op-1"
#define MAX_DEVICES 1000

static const char usage[] =
    "usage: onramp-proto-demo [--devices N] [--quiet]\n"
    "\n"
    "Walk N blank devices (default 3, at most 1000) through the onboarding\n"
    "journey in one process, with Onramp's protocol code: factory, pairing\n"
    "and registration, hello and voucher, sealed profile, Milenage AKA and\n"
    "service enrollment. Prints each step and its cost.\n"
    "\n"
    "  -n, --devices N   number of devices\n"
    "  -q, --quiet       only the summary\n"
    "  -h, --help        this help\n"
    "  -V, --version     print the version\n"
    "\n"
    "Exit status: 0 when every device completed every step, 1 otherwise,\n"
    "2 for a usage error.\n";

/* The parties' long-lived material. */
struct manufacturer {
    struct onr_p256_key *service_key;
    struct onr_p256_key *voucher_key;
    struct onr_p256_key *ca_key;
    uint8_t ca_cert[ONR_X509_MAX_DER];
    size_t ca_cert_len;
    uint8_t seal_sk[32];
    uint8_t seal_pk[32];
    struct onr_replay *replay;
};

struct provider {
    struct onr_p256_key *key;
    struct onr_p256_key *ca_key;
    uint8_t ca_cert[ONR_X509_MAX_DER];
    size_t ca_cert_len;
};

struct operator_ {
    struct onr_p256_key *key;
    uint8_t op[16]; /* the Milenage operator variant */
    unsigned next_subscriber;
};

/* One device, and what the manufacturer's registry holds for it. */
struct device {
    struct onr_p256_key *identity;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t seal_sk[32];
    uint8_t seal_pk[32];
    char id[ONR_DEVID_LEN + 1];
    uint8_t cert[ONR_X509_MAX_DER];
    size_t cert_len;
    uint8_t claim_secret[16];
    uint8_t claim_hash[32];     /* registry: the hash, never the secret */
    uint8_t voucher_token[2048];
    size_t voucher_token_len;
    uint8_t ki[16];             /* after the profile: held by device and AuC */
    uint8_t opc[16];
    uint8_t sqn[6];
};

enum step { FACTORY, REGISTER, HELLO, PROFILE, ATTACH, ENROLL, STEPS };
static const char *const step_names[STEPS] = {
    "factory", "register", "hello+voucher", "profile", "attach (AKA)", "enroll",
};
static double step_us[STEPS];
static int quiet;

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct onr_bytes str_bytes(const char *s)
{
    return (struct onr_bytes){(const uint8_t *)s, strlen(s)};
}

#define CHECK(what, expr)                                                        \
    do {                                                                         \
        int rc_ = (expr);                                                        \
        if (rc_ != ONR_OK) {                                                     \
            fprintf(stderr, "onramp-proto-demo: %s: %s\n", what, onr_strerror(rc_)); \
            return rc_;                                                          \
        }                                                                        \
    } while (0)

/* One progress line for a device's step, unless --quiet. */
static void say(const char *dev, const char *step, const char *detail)
{
    if (!quiet)
        printf("  %s  %-14s %s\n", dev, step, detail);
}

static int setup_parties(struct manufacturer *m, struct provider *p, struct operator_ *o)
{
    struct onr_x509_profile ca = {.days = 3650, .is_ca = 1, .path_len = 0};

    CHECK("manufacturer keys", onr_p256_generate(&m->service_key));
    CHECK("voucher key", onr_p256_generate(&m->voucher_key));
    CHECK("device CA key", onr_p256_generate(&m->ca_key));
    CHECK("manufacturer sealing key", onr_x25519_generate(m->seal_sk, m->seal_pk));
    ca.subject = (struct onr_x509_name){.common_name = "ACME device CA", .organization = "ACME"};
    m->ca_cert_len = sizeof(m->ca_cert);
    CHECK("device CA", onr_x509_self_signed(m->ca_key, &ca, m->ca_cert, &m->ca_cert_len));
    CHECK("replay cache", onr_replay_new(4096, &m->replay));

    CHECK("provider keys", onr_p256_generate(&p->key));
    CHECK("provider CA key", onr_p256_generate(&p->ca_key));
    ca.subject = (struct onr_x509_name){.common_name = "Provider 1 CA", .organization = "Prov"};
    p->ca_cert_len = sizeof(p->ca_cert);
    CHECK("provider CA", onr_x509_self_signed(p->ca_key, &ca, p->ca_cert, &p->ca_cert_len));

    CHECK("operator key", onr_p256_generate(&o->key));
    CHECK("operator OP", onr_random(o->op, sizeof(o->op)));
    return ONR_OK;
}

/* Factory: keys, id, identity certificate, claim secret, registry entry. */
static int factory(struct manufacturer *m, struct device *d)
{
    struct onr_x509_san san;
    char uri[64];
    struct onr_x509_profile leaf = {.days = 7300, .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    const struct onr_bytes secret_part = ONR_BYTES(d->claim_secret);

    CHECK("identity key", onr_p256_generate(&d->identity));
    CHECK("identity public key", onr_p256_public(d->identity, d->pub));
    CHECK("sealing key", onr_x25519_generate(d->seal_sk, d->seal_pk));
    CHECK("device id", onr_devid_from_public(d->pub, d->id));
    snprintf(uri, sizeof(uri), "urn:onramp:dev:%s", d->id);
    san = (struct onr_x509_san){ONR_X509_SAN_URI, uri};
    leaf.subject = (struct onr_x509_name){.common_name = d->id, .organization = "ACME"};
    leaf.san = &san;
    leaf.n_san = 1;
    d->cert_len = sizeof(d->cert);
    CHECK("identity certificate",
          onr_x509_issue(m->ca_key, m->ca_cert, m->ca_cert_len, d->pub, &leaf, d->cert,
                         &d->cert_len));
    CHECK("claim secret", onr_random(d->claim_secret, sizeof(d->claim_secret)));
    CHECK("claim hash", onr_sha256(&secret_part, 1, d->claim_hash));
    say(d->id, "factory", "P-256 identity, X25519 sealing key, identity certificate");
    return ONR_OK;
}

/* The HPKE info strings of proto/SPEC.md section 7: label 0 dev 0 peer. */
static size_t seal_info(uint8_t *out, size_t cap, const char *label, const char *dev,
                        const char *peer)
{
    int n = snprintf((char *)out, cap, "%s%c%s%c%s", label, 0, dev, 0, peer);

    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Provider registers the paired device with its manufacturer (step 2). */
static int do_register(struct manufacturer *m, struct provider *p, struct operator_ *o,
                       struct device *d, uint64_t now)
{
    uint8_t info[128];
    size_t info_len = seal_info(info, sizeof(info), "onramp/1 claim", d->id, PROV_ID);
    uint8_t claim[32 + 16 + 16];
    uint8_t op_pub[ONR_P256_PUB_LEN];
    uint8_t prov_pub[ONR_P256_PUB_LEN];
    uint8_t wire[ONR_ENVELOPE_MAX];
    size_t wire_len = 0;
    uint8_t opened[16];
    uint8_t hash[32];
    const struct onr_bytes topic = str_bytes("onr/1/s/mfr/" MFR_ID "/in");
    struct onr_envelope_signer signer = {ONR_ROLE_PROVIDER, str_bytes(PROV_ID), p->key, {0}};
    struct onr_msg msg = {.type = ONR_MSG_REGISTRATION};
    struct onr_envelope env;
    const struct onr_msg_registration *reg;
    struct onr_bytes opened_part = ONR_BYTES(opened);

    /* provider: the label's claim secret, sealed to the manufacturer */
    CHECK("seal claim", onr_hpke_seal(m->seal_pk, info, info_len, NULL, 0, d->claim_secret,
                                      sizeof(d->claim_secret), claim, claim + 32));
    CHECK("operator public key", onr_p256_public(o->key, op_pub));
    msg.body.registration = (struct onr_msg_registration){
        str_bytes(d->id), ONR_BYTES(claim), str_bytes(OP_ID), ONR_BYTES(op_pub)};
    CHECK("encode registration",
          onr_envelope_encode(&msg, &signer, topic, now, wire, sizeof(wire), &wire_len, NULL));

    /* manufacturer: the provider is known, the claim secret matches */
    CHECK("decode registration", onr_envelope_decode(wire, wire_len, &env));
    CHECK("provider public key", onr_p256_public(p->key, prov_pub));
    CHECK("verify registration", onr_envelope_verify(&env, topic, prov_pub, now,
                                                     ONR_ENVELOPE_DEFAULT_WINDOW, m->replay));
    reg = &env.msg.body.registration;
    info_len = seal_info(info, sizeof(info), "onramp/1 claim", d->id, PROV_ID);
    CHECK("open claim", onr_hpke_open(m->seal_sk, info, info_len, NULL, 0, reg->claim.ptr,
                                      reg->claim.ptr + 32, reg->claim.len - 32, opened));
    CHECK("hash claim", onr_sha256(&opened_part, 1, hash));
    onr_wipe(opened, sizeof(opened));
    if (!onr_equal_ct(hash, d->claim_hash, sizeof(hash))) {
        fprintf(stderr, "onramp-proto-demo: claim secret mismatch for %s\n", d->id);
        return ONR_EBADMAC;
    }
    say(d->id, "register", "claim proven, assigned to " PROV_ID " with " OP_ID);
    return ONR_OK;
}

/* Hello and voucher (step 3b). */
static int do_hello(struct manufacturer *m, struct provider *p, struct operator_ *o,
                    struct device *d, uint64_t now)
{
    char up[128];
    char down[128];
    uint8_t nonce[ONR_NONCE_LEN];
    uint8_t wire[ONR_ENVELOPE_MAX];
    size_t wire_len = 0;
    uint8_t hello_id[ONR_MSG_ID_LEN];
    uint8_t mfr_pub[ONR_P256_PUB_LEN];
    uint8_t voucher_pub[ONR_P256_PUB_LEN];
    uint8_t prov_pub[ONR_P256_PUB_LEN];
    uint8_t op_pub[ONR_P256_PUB_LEN];
    struct onr_envelope env;
    struct onr_envelope token;
    struct onr_msg msg = {.type = ONR_MSG_HELLO};
    struct onr_envelope_signer dev_signer = {ONR_ROLE_DEVICE, str_bytes(d->id), d->identity, {0}};
    struct onr_envelope_signer mfr_signer = {ONR_ROLE_MANUFACTURER, str_bytes(MFR_ID),
                                             m->service_key, {0}};
    struct onr_bytes chain;
    struct onr_x509_info info;

    snprintf(up, sizeof(up), "onr/1/d/%s/up/mfr/" MFR_ID, d->id);
    snprintf(down, sizeof(down), "onr/1/d/%s/down", d->id);

    /* device: a signed hello with a fresh nonce and its certificate */
    CHECK("nonce", onr_random(nonce, sizeof(nonce)));
    msg.body.hello = (struct onr_msg_hello){ONR_BYTES(nonce), {d->cert, d->cert_len}};
    CHECK("encode hello", onr_envelope_encode(&msg, &dev_signer, str_bytes(up), now, wire,
                                              sizeof(wire), &wire_len, hello_id));

    /* manufacturer: the registry's key, the certificate, freshness, replay */
    CHECK("decode hello", onr_envelope_decode(wire, wire_len, &env));
    CHECK("verify hello", onr_envelope_verify(&env, str_bytes(up), d->pub, now,
                                              ONR_ENVELOPE_DEFAULT_WINDOW, m->replay));
    chain = env.msg.body.hello.cert;
    CHECK("identity certificate chain",
          onr_x509_verify_chain(m->ca_cert, m->ca_cert_len, &chain, 1, &info));
    if (memcmp(info.public_key, d->pub, sizeof(d->pub)) != 0)
        CHECK("identity certificate key", ONR_ECERT);

    /* manufacturer: the voucher token, signed by the voucher key */
    CHECK("provider key", onr_p256_public(p->key, prov_pub));
    CHECK("operator key", onr_p256_public(o->key, op_pub));
    msg.type = ONR_MSG_VOUCHER_TOKEN;
    msg.body.voucher_token = (struct onr_msg_voucher_token){
        str_bytes(d->id), ONR_BYTES(d->seal_pk), env.msg.body.hello.nonce, str_bytes(PROV_ID),
        ONR_BYTES(prov_pub), str_bytes(OP_ID), ONR_BYTES(op_pub), now + 86400};
    mfr_signer.key = m->voucher_key;
    d->voucher_token_len = 0;
    CHECK("encode voucher token",
          onr_envelope_encode(&msg, &mfr_signer, str_bytes(ONR_VOUCHER_TOKEN_TOPIC), now,
                              d->voucher_token, sizeof(d->voucher_token), &d->voucher_token_len,
                              NULL));
    msg.type = ONR_MSG_VOUCHER;
    msg.body.voucher = (struct onr_msg_voucher){ONR_BYTES(hello_id),
                                                {d->voucher_token, d->voucher_token_len}};
    mfr_signer.key = m->service_key;
    CHECK("encode voucher", onr_envelope_encode(&msg, &mfr_signer, str_bytes(down), now, wire,
                                                sizeof(wire), &wire_len, NULL));

    /* device: its manufacturer's keys, its nonce, its id, not expired */
    CHECK("manufacturer key", onr_p256_public(m->service_key, mfr_pub));
    CHECK("voucher key", onr_p256_public(m->voucher_key, voucher_pub));
    CHECK("decode voucher", onr_envelope_decode(wire, wire_len, &env));
    CHECK("verify voucher", onr_envelope_verify_sig(&env, str_bytes(down), mfr_pub));
    CHECK("decode token", onr_envelope_decode(env.msg.body.voucher.voucher.ptr,
                                              env.msg.body.voucher.voucher.len, &token));
    CHECK("verify token", onr_envelope_verify_sig(&token, str_bytes(ONR_VOUCHER_TOKEN_TOPIC),
                                                  voucher_pub));
    if (memcmp(token.msg.body.voucher_token.nonce.ptr, nonce, sizeof(nonce)) != 0 ||
        memcmp(token.msg.body.voucher_token.dev.ptr, d->id, ONR_DEVID_LEN) != 0 ||
        token.msg.body.voucher_token.expires <= now)
        CHECK("voucher contents", ONR_ESCHEMA);
    say(d->id, "hello+voucher", "voucher names " PROV_ID " and " OP_ID);
    return ONR_OK;
}

/* ICCID: 89 (telecom) + country/issuer + serial, Luhn check digit last. */
static void make_iccid(unsigned serial, char out[20])
{
    int sum = 0;

    snprintf(out, 20, "890101%012u", serial);
    for (int i = 17; i >= 0; i--) {
        int digit = out[i] - '0';

        if ((17 - i) % 2 == 0) {
            digit *= 2;
            if (digit > 9)
                digit -= 9;
        }
        sum += digit;
    }
    out[18] = (char)('0' + (10 - sum % 10) % 10);
    out[19] = '\0';
}

/* Profile request and sealed profile (step 3c). */
static int do_profile(struct manufacturer *m, struct operator_ *o, struct device *d,
                      uint64_t now)
{
    char up[128];
    char down[128];
    char imsi[16];
    char iccid[20];
    uint8_t nonce[ONR_NONCE_LEN];
    uint8_t wire[ONR_ENVELOPE_MAX];
    size_t wire_len = 0;
    uint8_t voucher_pub[ONR_P256_PUB_LEN];
    uint8_t content[512];
    size_t content_len = 0;
    uint8_t sealed[32 + sizeof(content) + 16];
    uint8_t info[128];
    size_t info_len;
    uint8_t ki[16];
    uint8_t opc[16];
    static const uint8_t amf[2] = {0x80, 0x00};
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_REQUEST};
    struct onr_envelope env;
    struct onr_envelope token;
    struct onr_envelope_signer dev_signer = {ONR_ROLE_DEVICE, str_bytes(d->id), NULL, {0}};
    struct onr_envelope_signer op_signer = {ONR_ROLE_OPERATOR, str_bytes(OP_ID), o->key, {0}};
    uint8_t req_id[ONR_MSG_ID_LEN];
    const struct onr_msg_voucher_token *v;
    struct onr_msg opened;
    int rc;

    snprintf(up, sizeof(up), "onr/1/d/%s/up/op/" OP_ID, d->id);
    snprintf(down, sizeof(down), "onr/1/d/%s/down", d->id);

    /* device: the voucher and a fresh nonce; no signature needed */
    CHECK("nonce", onr_random(nonce, sizeof(nonce)));
    msg.body.profile_request = (struct onr_msg_profile_request){
        {d->voucher_token, d->voucher_token_len}, ONR_BYTES(nonce)};
    CHECK("encode profile request", onr_envelope_encode(&msg, &dev_signer, str_bytes(up), now,
                                                        wire, sizeof(wire), &wire_len, NULL));

    /* operator: a manufacturer it trusts, naming this operator, not expired */
    CHECK("decode profile request", onr_envelope_decode(wire, wire_len, &env));
    memcpy(req_id, env.id, sizeof(req_id));
    CHECK("voucher key", onr_p256_public(m->voucher_key, voucher_pub));
    CHECK("decode token", onr_envelope_decode(env.msg.body.profile_request.voucher.ptr,
                                              env.msg.body.profile_request.voucher.len, &token));
    CHECK("verify token", onr_envelope_verify_sig(&token, str_bytes(ONR_VOUCHER_TOKEN_TOPIC),
                                                  voucher_pub));
    v = &token.msg.body.voucher_token;
    if (v->op.len != strlen(OP_ID) || memcmp(v->op.ptr, OP_ID, v->op.len) != 0 ||
        v->expires <= now)
        CHECK("voucher for this operator", ONR_ESCHEMA);

    /* operator: allocate the subscription, generate Ki, derive OPc, seal */
    o->next_subscriber++;
    snprintf(imsi, sizeof(imsi), "00101%010u", o->next_subscriber);
    make_iccid(o->next_subscriber, iccid);
    CHECK("Ki", onr_random(ki, sizeof(ki)));
    CHECK("OPc", onr_milenage_opc(ki, o->op, opc));
    msg.type = ONR_MSG_PROFILE_CONTENT;
    msg.body.profile_content = (struct onr_msg_profile_content){
        str_bytes(iccid), str_bytes(imsi), ONR_BYTES(ki), ONR_BYTES(opc), ONR_BYTES(amf),
        str_bytes("00101"), str_bytes("iot.example")};
    CHECK("encode profile", onr_msg_body_encode(&msg, content, sizeof(content), &content_len));
    info_len = seal_info(info, sizeof(info), "onramp/1 profile", d->id, OP_ID);
    CHECK("seal profile", onr_hpke_seal(v->seal_key.ptr, info, info_len,
                                        env.msg.body.profile_request.nonce.ptr, ONR_NONCE_LEN,
                                        content, content_len, sealed, sealed + 32));
    onr_wipe(content, sizeof(content));
    msg.type = ONR_MSG_PROFILE;
    msg.body.profile = (struct onr_msg_profile){ONR_BYTES(req_id),
                                                {sealed, 32 + content_len + 16}};
    CHECK("encode profile", onr_envelope_encode(&msg, &op_signer, str_bytes(down), now, wire,
                                                sizeof(wire), &wire_len, NULL));
    memcpy(d->sqn, "\0\0\0\0\0\0", 6); /* the AuC's SQN for this subscriber */

    /* device: the operator the voucher named, then open what only it can */
    CHECK("decode token", onr_envelope_decode(d->voucher_token, d->voucher_token_len, &token));
    CHECK("decode profile", onr_envelope_decode(wire, wire_len, &env));
    CHECK("verify profile", onr_envelope_verify_sig(&env, str_bytes(down),
                                                    token.msg.body.voucher_token.op_key.ptr));
    if (env.msg.body.profile.sealed.len - 32 - 16 > sizeof(content))
        CHECK("profile size", ONR_ELENGTH);
    rc = onr_hpke_open(d->seal_sk, info, info_len, nonce, sizeof(nonce),
                       env.msg.body.profile.sealed.ptr, env.msg.body.profile.sealed.ptr + 32,
                       env.msg.body.profile.sealed.len - 32, content);
    CHECK("open profile", rc);
    content_len = env.msg.body.profile.sealed.len - 32 - 16;
    CHECK("decode profile content",
          onr_msg_body_decode(ONR_MSG_PROFILE_CONTENT, content, content_len, &opened));
    memcpy(d->ki, opened.body.profile_content.ki.ptr, 16);
    memcpy(d->opc, opened.body.profile_content.opc.ptr, 16);
    if (!quiet)
        printf("  %s  %-14s ICCID %.*s, IMSI %.*s, sealed to the device\n", d->id, "profile",
               (int)opened.body.profile_content.iccid.len,
               (const char *)opened.body.profile_content.iccid.ptr,
               (int)opened.body.profile_content.imsi.len,
               (const char *)opened.body.profile_content.imsi.ptr);
    onr_wipe(content, sizeof(content));
    onr_wipe(ki, sizeof(ki));
    onr_wipe(opc, sizeof(opc));
    return ONR_OK;
}

/* Milenage AKA: the operator's AuC against the device's USIM side. */
static int do_attach(struct device *d)
{
    static const uint8_t amf[2] = {0x80, 0x00};
    uint8_t sqn_auc[6] = {0, 0, 0, 0, 0, 1};
    uint8_t rand[16];
    uint8_t mac_a[8];
    uint8_t xres[8];
    uint8_t ck[16];
    uint8_t ik[16];
    uint8_t ak[6];
    uint8_t autn[16];
    uint8_t res[8];
    uint8_t xmac[8];
    uint8_t sqn_dev[6];

    /* AuC (the subscriber's Ki and OPc as allocated): an authentication vector */
    CHECK("RAND", onr_random(rand, sizeof(rand)));
    CHECK("f1", onr_milenage_f1(d->ki, d->opc, rand, sqn_auc, amf, mac_a, NULL));
    CHECK("f2345", onr_milenage_f2345(d->ki, d->opc, rand, xres, ck, ik, ak));
    for (int i = 0; i < 6; i++)
        autn[i] = sqn_auc[i] ^ ak[i];
    memcpy(autn + 6, amf, 2);
    memcpy(autn + 8, mac_a, 8);

    /* device: recover SQN, check MAC-A and freshness, answer RES */
    CHECK("f2345", onr_milenage_f2345(d->ki, d->opc, rand, res, ck, ik, ak));
    for (int i = 0; i < 6; i++)
        sqn_dev[i] = autn[i] ^ ak[i];
    CHECK("f1", onr_milenage_f1(d->ki, d->opc, rand, sqn_dev, autn + 6, xmac, NULL));
    if (!onr_equal_ct(xmac, autn + 8, 8))
        CHECK("network authentication (MAC-A)", ONR_EBADMAC);
    if (memcmp(sqn_dev, d->sqn, 6) <= 0)
        CHECK("SQN freshness", ONR_ESTALE);
    memcpy(d->sqn, sqn_dev, 6);

    /* AuC: RES against XRES */
    if (!onr_equal_ct(res, xres, sizeof(res)))
        CHECK("RES", ONR_EBADMAC);
    onr_wipe(ck, sizeof(ck));
    onr_wipe(ik, sizeof(ik));
    say(d->id, "attach", "MAC-A and RES verified, CK/IK agreed");
    return ONR_OK;
}

/* Service enrollment: a CSR for a key made on the device, certified. */
static int do_enroll(struct provider *p, struct device *d)
{
    struct onr_p256_key *service_key = NULL;
    uint8_t service_pub[ONR_P256_PUB_LEN];
    uint8_t csr[ONR_X509_MAX_DER];
    size_t csr_len = sizeof(csr);
    uint8_t csr_pub[ONR_P256_PUB_LEN];
    uint8_t cert[ONR_X509_MAX_DER];
    size_t cert_len = sizeof(cert);
    char uri[64];
    struct onr_x509_san san;
    struct onr_x509_profile leaf = {.days = 365, .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    struct onr_x509_name subject = {.common_name = d->id};
    struct onr_x509_info info;
    struct onr_bytes chain;
    int rc;

    rc = onr_p256_generate(&service_key);
    if (rc == ONR_OK)
        rc = onr_p256_public(service_key, service_pub);
    if (rc == ONR_OK)
        rc = onr_x509_csr_new(service_key, &subject, csr, &csr_len);
    onr_p256_free(service_key);
    CHECK("CSR", rc);

    /* provider: the CSR's own signature; subject and SAN are its decision */
    CHECK("verify CSR", onr_x509_csr_verify(csr, csr_len, csr_pub, NULL));
    snprintf(uri, sizeof(uri), "urn:onramp:dev:%s", d->id);
    san = (struct onr_x509_san){ONR_X509_SAN_URI, uri};
    leaf.subject = (struct onr_x509_name){.common_name = d->id, .organization = "Prov"};
    leaf.san = &san;
    leaf.n_san = 1;
    CHECK("issue", onr_x509_issue(p->ca_key, p->ca_cert, p->ca_cert_len, csr_pub, &leaf, cert,
                                  &cert_len));

    /* device: the chain leads to its provider's CA and certifies its key */
    chain = (struct onr_bytes){cert, cert_len};
    CHECK("verify chain", onr_x509_verify_chain(p->ca_cert, p->ca_cert_len, &chain, 1, &info));
    if (memcmp(info.public_key, service_pub, sizeof(service_pub)) != 0)
        CHECK("certified key", ONR_ECERT);
    say(d->id, "enroll", "service certificate from the " PROV_ID " CA");
    return ONR_OK;
}

static int run_device(struct manufacturer *m, struct provider *p, struct operator_ *o,
                      struct device *d)
{
    uint64_t now = (uint64_t)time(NULL);
    double t0;
    int rc = ONR_OK;

    for (int s = 0; s < STEPS && rc == ONR_OK; s++) {
        t0 = now_us();
        switch (s) {
        case FACTORY: rc = factory(m, d); break;
        case REGISTER: rc = do_register(m, p, o, d, now); break;
        case HELLO: rc = do_hello(m, p, o, d, now); break;
        case PROFILE: rc = do_profile(m, o, d, now); break;
        case ATTACH: rc = do_attach(d); break;
        default: rc = do_enroll(p, d); break;
        }
        step_us[s] += now_us() - t0;
    }
    return rc;
}

static void free_device(struct device *d)
{
    onr_p256_free(d->identity);
    onr_wipe(d, sizeof(*d));
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"devices", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct manufacturer m = {0};
    struct provider p = {0};
    struct operator_ o = {0};
    long devices = 3;
    int done = 0;
    int opt;
    char *end = NULL;
    double total = 0;

    while ((opt = getopt_long(argc, argv, "n:qhV", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            devices = strtol(optarg, &end, 10);
            if (*end != '\0' || devices < 1 || devices > MAX_DEVICES) {
                fprintf(stderr, "onramp-proto-demo: --devices wants 1..%d\n", MAX_DEVICES);
                return 2;
            }
            break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("onramp-proto-demo %s\n", ONR_VERSION_STRING); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }

    printf("Onramp %s: the onboarding journey in one process (the fabric's services\n"
           "are not built yet), for %ld device%s.\n",
           ONR_VERSION_STRING, devices, devices == 1 ? "" : "s");
    if (setup_parties(&m, &p, &o) != ONR_OK)
        return 1;
    if (!quiet)
        putchar('\n');
    for (long i = 0; i < devices; i++) {
        struct device d;

        memset(&d, 0, sizeof(d));
        if (run_device(&m, &p, &o, &d) == ONR_OK)
            done++;
        free_device(&d);
    }

    printf("\n%-16s %12s %14s\n", "step", "total ms", "per device us");
    for (int s = 0; s < STEPS; s++) {
        printf("%-16s %12.1f %14.0f\n", step_names[s], step_us[s] / 1e3, step_us[s] / devices);
        total += step_us[s];
    }
    printf("%-16s %12.1f %14.0f\n", "journey", total / 1e3, total / devices);
    printf("\n%d of %ld devices completed every step.\n", done, devices);

    onr_p256_free(m.service_key);
    onr_p256_free(m.voucher_key);
    onr_p256_free(m.ca_key);
    onr_replay_free(m.replay);
    onr_wipe(m.seal_sk, sizeof(m.seal_sk));
    onr_p256_free(p.key);
    onr_p256_free(p.ca_key);
    onr_p256_free(o.key);
    onr_wipe(o.op, sizeof(o.op));
    onr_crypto_thread_cleanup();
    return done == devices ? 0 : 1;
}
