/*
 * An operational device's relocation to another operator (device/src,
 * proto/SPEC.md section 16), without a broker: the relocate it takes or
 * refuses (each refusal changing nothing on disk), the telemetry nonces it
 * keeps, the new operator's profile and attach kept in next/, the switch,
 * a power cut at each step and the device reopened there, and a relocation
 * abandoned on the old profile. The device is minted and enrolled
 * (device_fixture.c) with prov-1 and op-1, then made OPERATIONAL; the
 * "new operator" op-2 seals and challenges with proto's own functions.
 */
#include "testutil.h"
#include "device_fixture.h"

#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device_internal.h"
#include "onramp/akma.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/replay.h"
#include "onramp/sealed.h"
#include "onramp/topic.h"

#define PLMN "72405"
#define NEW_OP "op-2"
#define NEW_IMSI "724050000000042"

/* An operational device, what it read of itself, and its provider. */
struct reloc {
    const char *dir;
    struct fixture f;
    struct device_files files;
    struct device_journey journey;
    struct onr_replay *replay;
    uint8_t nonce[ONR_NONCE_LEN]; /* a telemetry's, reported with PLMN */
    char down[ONR_TOPIC_MAX + 1];
    struct onr_aka_subscriber sub; /* op-2's copy of the new profile's keys */
};

static void read_back(struct reloc *r)
{
    const char *what = NULL;

    device_files_cleanup(&r->files);
    device_journey_cleanup(&r->journey);
    assert_onr(ONR_OK, device_files_load(r->dir, &r->files, NULL, NULL));
    assert_onr(ONR_OK, device_journey_load(r->dir, &r->files.trust, &r->journey, &what));
}

static void operational(const char *dir, struct reloc *r)
{
    memset(r, 0, sizeof(*r));
    r->dir = dir;
    enrolled(dir, &r->f);
    assert_onr(ONR_OK, device_state_save(dir, ONR_DEVICE_OPERATIONAL));
    assert_onr(ONR_OK, onr_random(r->nonce, sizeof(r->nonce)));
    assert_onr(ONR_OK, device_reported_add(dir, r->nonce, PLMN));
    assert_onr(ONR_OK, onr_replay_new(16, &r->replay));
    assert_onr(ONR_OK, onr_topic_operational_down("prov-1", r->f.trust.dev, r->down,
                                                  sizeof(r->down)));
    assert_onr(ONR_OK, onr_random(r->sub.k, sizeof(r->sub.k)));
    assert_onr(ONR_OK, onr_random(r->sub.opc, sizeof(r->sub.opc)));
    r->sub.amf[0] = 0x80;
    read_back(r);
    assert_int_equal(r->journey.state, ONR_DEVICE_OPERATIONAL);
}

static void reloc_cleanup(struct reloc *r)
{
    device_files_cleanup(&r->files);
    device_journey_cleanup(&r->journey);
    onr_replay_free(r->replay);
    fixture_cleanup(&r->f);
}

/* The token of a relocation to op-2 for the reported nonce and PLMN, as
 * `s` changes it. */
static size_t move_token(const struct reloc *r, struct token_spec s, uint8_t *out, size_t cap)
{
    if (s.op == NULL)
        s.op = NEW_OP;
    if (s.nonce == NULL)
        s.nonce = r->nonce;
    if (s.plmn == NULL)
        s.plmn = PLMN;
    if (s.why == NULL)
        s.why = "policy";
    return token_with(&r->f, &s, out, cap);
}

/* A relocate carrying `token`, from `prov` signed with `key` for `topic`
 * at `when`. */
static size_t relocate_env(const struct reloc *r, const char *prov,
                           const struct onr_p256_key *key, const char *topic, uint64_t when,
                           const uint8_t *token, size_t token_len, uint8_t *out, size_t cap)
{
    struct onr_msg m = {.type = ONR_MSG_RELOCATE};
    struct onr_envelope_signer signer = {.role = ONR_ROLE_PROVIDER,
                                         .sender = {(const uint8_t *)prov, strlen(prov)},
                                         .key = key};
    size_t len = 0;

    (void)r;
    m.body.relocate.voucher = (struct onr_bytes){token, token_len};
    assert_onr(ONR_OK, onr_envelope_encode(&m, &signer,
                                           (struct onr_bytes){(const uint8_t *)topic,
                                                              strlen(topic)},
                                           when, out, cap, &len, NULL));
    return len;
}

/* device_take_relocate of a relocate to op-2, the token as `s` says. */
static int take(struct reloc *r, struct token_spec s, struct device_next *next)
{
    uint8_t tok[2048], env[ONR_ENVELOPE_MAX];
    size_t tok_len = move_token(r, s, tok, sizeof(tok));
    size_t len = relocate_env(r, "prov-1", r->f.peer_key, r->down, (uint64_t)time(NULL), tok,
                              tok_len, env, sizeof(env));

    return device_take_relocate(&r->files, &r->journey, r->dir, r->down, env, len,
                                (uint64_t)time(NULL), r->replay, next);
}

static void test_relocate_is_taken_and_stored(void **state)
{
    struct reloc r;
    struct device_next next;
    struct device_reported reported;
    struct onr_device *dev = NULL;
    struct onr_device_voucher v;
    struct heard h;

    operational(*state, &r);
    assert_onr(ONR_OK, take(&r, (struct token_spec){0}, &next));
    assert_string_equal(next.voucher.op, NEW_OP);
    assert_string_equal(next.voucher.plmn, PLMN);
    assert_int_equal(next.voucher.why, ONR_CHOICE_POLICY);
    assert_memory_equal(next.voucher.nonce, r.nonce, ONR_NONCE_LEN);
    assert_true(next.token_len > 0);
    /* durable: next/voucher (0600 in a 0700 next/), the nonces forgotten,
     * then the journey */
    assert_int_equal(mode_of(r.dir, "next"), 0700);
    assert_int_equal(mode_of(r.dir, "next/voucher"), 0600);
    assert_onr(ONR_OK, device_reported_load(r.dir, &reported));
    assert_int_equal(reported.n, 0);
    assert_onr(ONR_OK, open_device(r.dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_RELOCATING);
    assert_onr(ONR_OK, onr_device_relocation(dev, &v));
    assert_string_equal(v.op, NEW_OP);
    assert_string_equal(v.plmn, PLMN);
    assert_onr(ONR_OK, onr_device_voucher(dev, &v));
    assert_string_equal(v.op, "op-1"); /* still its own until the switch */
    onr_device_close(dev);
    reloc_cleanup(&r);
}

/* Every refusal of SPEC section 16's list, each leaving the disk as it was. */
static void test_relocate_refusals_change_nothing(void **state)
{
    struct reloc r;
    struct onr_p256_key *other = NULL;
    uint8_t other_pub[ONR_P256_PUB_LEN];
    uint8_t unknown[ONR_NONCE_LEN];
    uint8_t tok[2048], env[ONR_ENVELOPE_MAX];
    size_t tok_len, len;
    uint64_t now = (uint64_t)time(NULL);
    struct device_next next;
    char *before;
    size_t before_len = 0;
    char telemetry[ONR_TOPIC_MAX + 1];

    operational(*state, &r);
    assert_onr(ONR_OK, onr_p256_generate(&other));
    assert_onr(ONR_OK, onr_p256_public(other, other_pub));
    assert_onr(ONR_OK, onr_random(unknown, sizeof(unknown)));
    before = snapshot(r.dir, &before_len);
    /* the token's checks */
    {
        const struct {
            struct token_spec s;
            int rc;
        } cases[] = {
            {{.key = other}, ONR_EBADSIG},                  /* another manufacturer key */
            {{.mfr = "globex"}, ONR_EDENIED},               /* another manufacturer */
            {{.dev = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, ONR_EDENIED}, /* another device */
            {{.expires = now - 1}, ONR_EEXPIRED},
            {{.prov = "prov-2"}, ONR_EDENIED},              /* another provider */
            {{.prov_key = other_pub}, ONR_EDENIED},         /* its provider, another key */
            {{.nonce = unknown}, ONR_ENOENT},               /* a nonce never reported */
            {{.plmn = "26201"}, ONR_EDENIED},               /* not the PLMN reported */
            {{.op = "op-1"}, ONR_EEXIST},                   /* the operator it has */
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            assert_onr(cases[i].rc, take(&r, cases[i].s, &next));
            assert_string_equal(next.voucher.op, "");
            assert_same_snapshot(r.dir, before, before_len);
        }
    }
    /* the envelope's checks */
    tok_len = move_token(&r, (struct token_spec){0}, tok, sizeof(tok));
    len = relocate_env(&r, "prov-1", other, r.down, now, tok, tok_len, env, sizeof(env));
    assert_onr(ONR_EBADSIG, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                 now, r.replay, &next));
    len = relocate_env(&r, "prov-2", r.f.peer_key, r.down, now, tok, tok_len, env, sizeof(env));
    assert_onr(ONR_EDENIED, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                 now, r.replay, &next));
    /* signed for another topic: its telemetry's */
    assert_onr(ONR_OK, onr_topic_operational("prov-1", r.f.trust.dev, "telemetry", telemetry,
                                             sizeof(telemetry)));
    len = relocate_env(&r, "prov-1", r.f.peer_key, telemetry, now, tok, tok_len, env,
                       sizeof(env));
    assert_onr(ONR_EBADSIG, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                 now, r.replay, &next));
    len = relocate_env(&r, "prov-1", r.f.peer_key, r.down, now - 3600, tok, tok_len, env,
                       sizeof(env));
    assert_onr(ONR_ESTALE, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                now, r.replay, &next));
    /* not a relocate, and not an envelope */
    {
        struct onr_msg m = {.type = ONR_MSG_REVOKED};
        struct onr_envelope_signer p = {.role = ONR_ROLE_PROVIDER,
                                        .sender = ONR_BYTES_STR("prov-1"),
                                        .key = r.f.peer_key};
        static const uint8_t serial[1] = {1};

        m.body.revoked = (struct onr_msg_revoked){.re = ONR_BYTES(unknown),
                                                  .dev = {(const uint8_t *)r.f.trust.dev, 32},
                                                  .serial = ONR_BYTES(serial)};
        assert_onr(ONR_OK, onr_envelope_encode(&m, &p,
                                               (struct onr_bytes){(const uint8_t *)r.down,
                                                                  strlen(r.down)},
                                               now, env, sizeof(env), &len, NULL));
        assert_onr(ONR_EMSGTYPE, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env,
                                                      len, now, r.replay, &next));
        assert_onr(ONR_ETRUNCATED, device_take_relocate(&r.files, &r.journey, r.dir, r.down,
                                                        env, 3, now, r.replay, &next));
    }
    /* the same relocate twice: the second is a replay */
    tok_len = move_token(&r, (struct token_spec){.op = "op-1"}, tok, sizeof(tok));
    len = relocate_env(&r, "prov-1", r.f.peer_key, r.down, now, tok, tok_len, env, sizeof(env));
    assert_onr(ONR_EEXIST, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                now, r.replay, &next));
    assert_onr(ONR_EREPLAY, device_take_relocate(&r.files, &r.journey, r.dir, r.down, env, len,
                                                 now, r.replay, &next));
    assert_same_snapshot(r.dir, before, before_len);
    /* only an operational device relocates */
    r.journey.state = ONR_DEVICE_ENROLLED;
    assert_onr(ONR_EINVAL, take(&r, (struct token_spec){0}, &next));
    r.journey.state = ONR_DEVICE_OPERATIONAL;
    assert_same_snapshot(r.dir, before, before_len);
    /* and after all that, the good one is still taken */
    assert_onr(ONR_OK, take(&r, (struct token_spec){0}, &next));
    free(before);
    onr_p256_free(other);
    reloc_cleanup(&r);
}

/* The last DEVICE_REPORTED_MAX telemetry nonces are kept, each answering
 * one relocation at most. */
static void test_reported_nonces_are_bounded_and_single_use(void **state)
{
    struct reloc r;
    struct device_next next;
    struct device_reported reported;
    uint8_t first[ONR_NONCE_LEN];
    uint8_t n[ONR_NONCE_LEN];

    operational(*state, &r);
    memcpy(first, r.nonce, sizeof(first));
    for (int i = 0; i < DEVICE_REPORTED_MAX; i++) {
        assert_onr(ONR_OK, onr_random(n, sizeof(n)));
        assert_onr(ONR_OK, device_reported_add(r.dir, n, i % 2 ? "310410" : PLMN));
    }
    assert_onr(ONR_OK, device_reported_load(r.dir, &reported));
    assert_int_equal(reported.n, DEVICE_REPORTED_MAX);
    assert_int_equal(mode_of(r.dir, "reported"), 0600);
    assert_null(device_reported_find(&reported, (struct onr_bytes){first, sizeof(first)}));
    assert_string_equal(device_reported_find(&reported, (struct onr_bytes){n, sizeof(n)}),
                        "310410");
    /* the first fell out */
    assert_onr(ONR_ENOENT, take(&r, (struct token_spec){0}, &next));
    /* the last is taken, for the PLMN reported with it */
    memcpy(r.nonce, n, sizeof(n));
    assert_onr(ONR_EDENIED, take(&r, (struct token_spec){0}, &next));
    assert_onr(ONR_OK, take(&r, (struct token_spec){.plmn = "310410"}, &next));
    assert_onr(ONR_OK, device_reported_load(r.dir, &reported));
    assert_int_equal(reported.n, 0);
    /* malformed entries are refused, and so is the device that keeps them */
    assert_onr(ONR_EINVAL, device_reported_add(r.dir, n, "7240"));
    assert_onr(ONR_EINVAL, device_reported_add(r.dir, n, "72a05"));
    write_text(r.dir, "reported", "00112233445566778899aabbccddeeff 72405", 0600);
    assert_onr(ONR_EFORMAT, device_reported_load(r.dir, &reported));
    write_text(r.dir, "reported", "00112233445566778899AABBCCDDEEFF 72405\n", 0600);
    assert_onr(ONR_EFORMAT, device_reported_load(r.dir, &reported));
    write_text(r.dir, "reported", "00112233445566778899aabbccddeeff 7240\n", 0600);
    assert_onr(ONR_EFORMAT, device_reported_load(r.dir, &reported));
    write_text(r.dir, "reported", "00112233445566778899aabbccddee 724050\n", 0600);
    assert_onr(ONR_EFORMAT, device_reported_load(r.dir, &reported));
    assert_int_equal(reported.n, 0);
    write_text(r.dir, "journey", "OPERATIONAL\n", 0600);
    assert_onr(ONR_OK, device_relocation_remove(r.dir));
    assert_open_refused(r.dir, ONR_EFORMAT, "reported");
    reloc_cleanup(&r);
}

/* op-2's profile for the device, sealed for `nonce`. */
static size_t new_profile(const struct reloc *r, const uint8_t nonce[ONR_NONCE_LEN],
                          uint8_t *out, size_t cap)
{
    struct onr_msg_profile_content c = {
        .iccid = ONR_BYTES_STR("8955050000000000042"),
        .imsi = ONR_BYTES_STR(NEW_IMSI),
        .ki = ONR_BYTES(r->sub.k),
        .opc = ONR_BYTES(r->sub.opc),
        .amf = ONR_BYTES(r->sub.amf),
        .plmn = ONR_BYTES_STR(PLMN),
        .apn = ONR_BYTES_STR("iot.br.example"),
    };
    size_t len = 0;

    assert_onr(ONR_OK, onr_sealed_profile_seal(r->f.trust.seal_pub, r->f.trust.dev, NEW_OP,
                                               nonce, &c, out, cap, &len));
    return len;
}

/* The relocation's profile step as the device takes it: op-2's profile
 * for a fresh request, into next/, the journey RELOCATION_PROFILED. */
static void take_new_profile(struct reloc *r)
{
    struct device_profile p;
    uint8_t nonce[ONR_NONCE_LEN], sealed[ONR_SEALED_PROFILE_MAX];
    size_t len;

    assert_onr(ONR_OK, onr_random(nonce, sizeof(nonce)));
    len = new_profile(r, nonce, sealed, sizeof(sealed));
    assert_onr(ONR_OK, device_take_profile(&r->files, &r->journey.next.voucher, nonce, sealed,
                                           len, r->dir, DEVICE_NEXT, &p));
    assert_string_equal(p.imsi, NEW_IMSI);
    onr_wipe(&p, sizeof(p));
}

/* The relocation's attach as the device runs it with op-2's AuC: its
 * sequence numbers in next/, its keys in next/, the journey RELOCATED;
 * the kid into `kid`. */
static void take_new_attach(struct reloc *r, uint8_t kid[ONR_AKMA_KID_LEN])
{
    struct onr_aka_vector v;
    struct device_akma akma;
    uint8_t k_akma[ONR_AKMA_KEY_LEN];
    uint8_t res[ONR_AKA_RES_LEN], ck[ONR_AKA_KEY_LEN], ik[ONR_AKA_KEY_LEN];
    uint8_t auts[ONR_AKA_AUTS_LEN];
    char next_dir[DEVICE_PATH_MAX + 200];
    uint64_t sqn = 0, taken = 0;

    assert_onr(ONR_OK, device_slot_dir(r->dir, DEVICE_NEXT, next_dir, sizeof(next_dir)));
    assert_onr(ONR_OK, onr_aka_sqn_next(0, &sqn));
    assert_onr(ONR_OK, onr_random(v.rand, sizeof(v.rand)));
    assert_onr(ONR_OK, onr_aka_vector(&r->sub, sqn, v.rand, &v));
    assert_onr(ONR_OK, device_take_challenge(&r->journey.next.profile, next_dir, v.rand, v.autn,
                                             res, ck, ik, auts, &taken));
    assert_int_equal(taken, sqn);
    assert_memory_equal(res, v.xres, sizeof(res));
    assert_onr(ONR_OK, onr_akma_derive(v.ck, v.ik, NEW_IMSI, kid, k_akma));
    assert_onr(ONR_OK, device_take_result(&r->journey.next.profile, "prov-1", ck, ik, kid, r->dir,
                                          DEVICE_NEXT, &akma));
    onr_wipe(k_akma, sizeof(k_akma));
    onr_wipe(&akma, sizeof(akma));
}

/* Relocated from where the journey is up to `until` (RELOCATING,
 * RELOCATION_PROFILED or RELOCATED) by the steps' own functions, read
 * back after each; the new attach's kid into `kid`. */
static void relocate_until(struct reloc *r, enum onr_device_state until,
                           uint8_t kid[ONR_AKMA_KID_LEN])
{
    struct device_next next;

    if (r->journey.state == ONR_DEVICE_OPERATIONAL) {
        assert_onr(ONR_OK, take(r, (struct token_spec){0}, &next));
        read_back(r);
    }
    if (until >= ONR_DEVICE_RELOCATION_PROFILED && r->journey.state == ONR_DEVICE_RELOCATING) {
        take_new_profile(r);
        read_back(r);
    }
    if (until == ONR_DEVICE_RELOCATED && r->journey.state == ONR_DEVICE_RELOCATION_PROFILED)
        take_new_attach(r, kid);
}

/* The files a relocation must leave alone until its switch. */
static const char *const own_files[] = {"voucher", "profile", "akma", "service.key",
                                        "service.pem", "service-ca.pem", "endpoint"};
#define N_OWN (sizeof(own_files) / sizeof(own_files[0]))

static void read_own(const char *dir, uint8_t *data[N_OWN], size_t len[N_OWN])
{
    for (size_t i = 0; i < N_OWN; i++)
        assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, own_files[i]), 1 << 16, 0, &data[i],
                                         &len[i]));
}

/* `dir`'s own files are `data`, but those named in `changed`. */
static void assert_own(const char *dir, uint8_t *data[N_OWN], const size_t len[N_OWN],
                       const char *changed)
{
    uint8_t *now[N_OWN];
    size_t now_len[N_OWN];

    read_own(dir, now, now_len);
    for (size_t i = 0; i < N_OWN; i++) {
        int same = now_len[i] == len[i] && memcmp(now[i], data[i], len[i]) == 0;

        assert_int_equal(same, strstr(changed, own_files[i]) == NULL);
        free(now[i]);
    }
}

static void free_own(uint8_t *data[N_OWN])
{
    for (size_t i = 0; i < N_OWN; i++)
        free(data[i]);
}

/* A power cut after each step: the device reopens at that step, with its
 * own profile untouched until the switch; after it, the new one is its. */
static void test_relocation_resumes_after_a_cut_at_each_step(void **state)
{
    struct reloc r;
    struct onr_device *dev = NULL;
    struct onr_device_voucher v;
    struct onr_device_network n;
    struct heard h;
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t *own[N_OWN];
    size_t own_len[N_OWN];
    struct stat st;

    operational(*state, &r);
    read_own(r.dir, own, own_len);

    relocate_until(&r, ONR_DEVICE_RELOCATING, kid);
    assert_onr(ONR_OK, open_device(r.dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_RELOCATING);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_string_equal(n.imsi, "001010000000001"); /* its own */
    onr_device_close(dev);
    assert_own(r.dir, own, own_len, "");

    relocate_until(&r, ONR_DEVICE_RELOCATION_PROFILED, kid);
    assert_int_equal(r.journey.state, ONR_DEVICE_RELOCATION_PROFILED);
    assert_string_equal(r.journey.next.profile.imsi, NEW_IMSI);
    assert_int_equal(mode_of(r.dir, "next/profile"), 0600);
    assert_onr(ONR_OK, open_device(r.dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_RELOCATION_PROFILED);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_string_equal(n.imsi, "001010000000001");
    onr_device_close(dev);
    assert_own(r.dir, own, own_len, "");

    /* the new attach: stored in next/, the journey RELOCATED, and cut off
     * before the switch: the device finishes it when it opens */
    relocate_until(&r, ONR_DEVICE_RELOCATED, kid);
    assert_own(r.dir, own, own_len, "");
    assert_int_equal(mode_of(r.dir, "next/akma"), 0600);
    assert_int_equal(mode_of(r.dir, "next/sqn"), 0600);
    assert_onr(ONR_OK, open_device(r.dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_OPERATIONAL);
    assert_onr(ONR_OK, onr_device_voucher(dev, &v));
    assert_string_equal(v.op, NEW_OP);
    assert_string_equal(v.plmn, PLMN);
    assert_int_equal(v.why, ONR_CHOICE_POLICY);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_string_equal(n.imsi, NEW_IMSI);
    assert_memory_equal(n.kid, kid, sizeof(kid));
    assert_onr(ONR_ENOENT, onr_device_relocation(dev, &v));
    onr_device_close(dev);
    /* the old profile dropped, the service credentials kept, next/ gone */
    assert_own(r.dir, own, own_len, "voucher profile akma");
    assert_int_equal(stat(onr_test_path(r.dir, "next"), &st), -1);
    assert_int_equal(mode_of(r.dir, "profile"), 0600);
    assert_int_equal(mode_of(r.dir, "akma"), 0600);
    free_own(own);
    reloc_cleanup(&r);
}

/* A switch cut short (some files moved up, some not) is finished. */
static void test_a_switch_cut_short_is_finished(void **state)
{
    struct reloc r;
    struct onr_device *dev = NULL;
    struct onr_device_network n;
    struct onr_device_voucher v;
    struct heard h;
    uint8_t kid[ONR_AKMA_KID_LEN];
    char from[DEVICE_PATH_MAX + 200];
    struct stat st;

    operational(*state, &r);
    relocate_until(&r, ONR_DEVICE_RELOCATED, kid);
    snprintf(from, sizeof(from), "%s", onr_test_path(r.dir, "next/voucher"));
    assert_int_equal(rename(from, onr_test_path(r.dir, "voucher")), 0);
    snprintf(from, sizeof(from), "%s", onr_test_path(r.dir, "next/profile"));
    assert_int_equal(rename(from, onr_test_path(r.dir, "profile")), 0);
    assert_onr(ONR_OK, open_device(r.dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_OPERATIONAL);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_string_equal(n.imsi, NEW_IMSI);
    assert_memory_equal(n.kid, kid, sizeof(kid));
    assert_onr(ONR_OK, onr_device_voucher(dev, &v));
    assert_string_equal(v.op, NEW_OP);
    onr_device_close(dev);
    assert_int_equal(stat(onr_test_path(r.dir, "next"), &st), -1);
    /* RELOCATED with next/ gone says what is not there */
    write_text(r.dir, "journey", "RELOCATED\n", 0600);
    assert_open_refused(r.dir, ONR_EFORMAT, "next");
    reloc_cleanup(&r);
}

/* A relocation given up leaves the device as it was, on its old profile. */
static void test_an_abandoned_relocation_keeps_the_old_profile(void **state)
{
    struct reloc r;
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t *own[N_OWN];
    size_t own_len[N_OWN];
    struct stat st;
    enum onr_device_state s;

    operational(*state, &r);
    read_own(r.dir, own, own_len);
    /* from each state before the switch */
    relocate_until(&r, ONR_DEVICE_RELOCATING, kid);
    assert_onr(ONR_OK, device_relocation_abandon(r.dir));
    assert_onr(ONR_OK, device_state_load(r.dir, &s));
    assert_int_equal(s, ONR_DEVICE_OPERATIONAL);
    assert_int_equal(stat(onr_test_path(r.dir, "next"), &st), -1);
    assert_own(r.dir, own, own_len, "");
    assert_onr(ONR_EINVAL, device_relocation_abandon(r.dir)); /* nothing to abandon */
    assert_onr(ONR_OK, device_reported_add(r.dir, r.nonce, PLMN)); /* reported again */
    read_back(&r);
    relocate_until(&r, ONR_DEVICE_RELOCATION_PROFILED, kid);
    assert_onr(ONR_OK, device_relocation_abandon(r.dir));
    assert_int_equal(stat(onr_test_path(r.dir, "next"), &st), -1);
    assert_own(r.dir, own, own_len, "");
    /* once RELOCATED it is too late: the switch is committed */
    assert_onr(ONR_OK, device_reported_add(r.dir, r.nonce, PLMN));
    read_back(&r);
    relocate_until(&r, ONR_DEVICE_RELOCATED, kid);
    assert_onr(ONR_EINVAL, device_relocation_abandon(r.dir));
    assert_onr(ONR_OK, device_relocation_commit(r.dir));
    assert_onr(ONR_EINVAL, device_relocation_commit(r.dir)); /* done: OPERATIONAL */
    free_own(own);
    reloc_cleanup(&r);
}

/* A relocating device whose new operator cannot be reached, as many times
 * as it may try, or whose voucher has expired, abandons the relocation and
 * goes back to its service broker on its old profile. Nobody listens on
 * the fixture's brokers (port 1, 2) or on the endpoint set here. */
static void test_a_relocation_that_fails_is_abandoned_by_the_run(void **state)
{
    struct reloc r;
    struct onr_device *dev = NULL;
    struct onr_device_options once = {.max_attempts = 1};
    struct heard h;
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t tok[2048];
    size_t tok_len;
    struct stat st;
    enum onr_device_state s;

    operational(*state, &r);
    write_text(r.dir, "endpoint", "mqtts://127.0.0.1:1\n", 0600);
    read_back(&r);
    relocate_until(&r, ONR_DEVICE_RELOCATION_PROFILED, kid);
    assert_onr(ONR_OK, open_device_with(r.dir, &once, &h, &dev));
    assert_onr(ONR_EIO, onr_device_run(dev));
    assert_string_equal(h.events, "state connecting abandoned state operating failed ");
    onr_device_close(dev);
    assert_onr(ONR_OK, device_state_load(r.dir, &s));
    assert_int_equal(s, ONR_DEVICE_OPERATIONAL);
    assert_int_equal(stat(onr_test_path(r.dir, "next"), &st), -1);
    /* a voucher expired: abandoned before any connection */
    tok_len = move_token(&r, (struct token_spec){.expires = (uint64_t)time(NULL) - 5}, tok,
                         sizeof(tok));
    assert_onr(ONR_OK, device_relocation_start(r.dir, tok, tok_len));
    assert_onr(ONR_OK, open_device_with(r.dir, &once, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_RELOCATING);
    assert_onr(ONR_EIO, onr_device_run(dev));
    assert_string_equal(h.events, "state abandoned state operating failed ");
    assert_non_null(strstr(h.detail, "code=EIO"));
    onr_device_close(dev);
    assert_onr(ONR_OK, device_state_load(r.dir, &s));
    assert_int_equal(s, ONR_DEVICE_OPERATIONAL);
    /* a run to ENROLLED is done at once for a relocating device (it is
     * enrolled); a run to OPERATIONAL goes on relocating */
    assert_onr(ONR_OK, device_relocation_start(r.dir, tok, tok_len));
    assert_onr(ONR_OK, open_device_until(r.dir, ONR_DEVICE_ENROLLED, &h, &dev));
    assert_onr(ONR_OK, onr_device_run(dev));
    assert_string_equal(h.events, "state ");
    onr_device_close(dev);
    assert_onr(ONR_OK, device_state_load(r.dir, &s));
    assert_int_equal(s, ONR_DEVICE_RELOCATING);
    reloc_cleanup(&r);
}

/* The factory reset takes a relocation away with the rest. */
static void test_factory_reset_removes_a_relocation(void **state)
{
    struct reloc r;
    uint8_t kid[ONR_AKMA_KID_LEN];
    struct stat st;
    static const char *const gone[] = {"journey", "voucher", "profile", "sqn", "akma",
                                       "reported", "next", "service.key", "endpoint"};

    operational(*state, &r);
    relocate_until(&r, ONR_DEVICE_RELOCATED, kid);
    write_text(r.dir, "next/profile.tmp.abc123", "cut", 0600);
    assert_onr(ONR_OK, onr_device_factory_reset(r.dir));
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_int_equal(stat(onr_test_path(r.dir, gone[i]), &st), -1);
    assert_int_equal(stat(onr_test_path(r.dir, "device.conf"), &st), 0);
    reloc_cleanup(&r);
}

#define SETUP(t) cmocka_unit_test_setup_teardown(t, onr_test_setup_tmpdir, onr_test_teardown_tmpdir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SETUP(test_relocate_is_taken_and_stored),
        SETUP(test_relocate_refusals_change_nothing),
        SETUP(test_reported_nonces_are_bounded_and_single_use),
        SETUP(test_relocation_resumes_after_a_cut_at_each_step),
        SETUP(test_a_switch_cut_short_is_finished),
        SETUP(test_an_abandoned_relocation_keeps_the_old_profile),
        SETUP(test_a_relocation_that_fails_is_abandoned_by_the_run),
        SETUP(test_factory_reset_removes_a_relocation),
    };

    mosquitto_lib_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
