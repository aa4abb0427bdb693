/*
 * The device's network steps (device/src), without a broker: the sealed
 * profile it takes or refuses, the USIM's sequence numbers on disk, the
 * AKA challenge (RES, AUTS, MAC failure), the AKMA-style keys of the
 * result, crossed attach runs, and a device reopened at PROFILED and
 * NETWORK_ATTACHED. A state
 * directory is minted (device_fixture.c) as onramp-factory would, then
 * vouched.
 */
#include "testutil.h"
#include "device_fixture.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/milenage.h"
#include "onramp/sealed.h"

#define OP "op-1"
#define PROV "prov-1"
#define IMSI "001010000000001"
#define ICCID "8949001000000000017"
#define SEQ_MAX ((UINT64_C(1) << 43) - 1)

/* A vouched device on disk and what its manufacturer and operator know. */
struct vouched {
    const char *dir;
    struct device_files files;
    struct device_journey journey; /* as read back: the voucher */
    uint8_t op_nonce[ONR_NONCE_LEN]; /* a profile request's nonce */
    struct onr_aka_subscriber sub;   /* the operator's copy of the profile's keys */
};

/* The factory's files (mint) and a voucher for OP and PROV, stored as the
 * voucher step stores it, then read back as the device reads itself. */
static void mint_vouched(const char *dir, struct vouched *f)
{
    struct fixture minted;
    const char *what = NULL;

    memset(f, 0, sizeof(*f));
    f->dir = dir;
    mint(dir, &minted, PROV, OP);
    fixture_cleanup(&minted);
    assert_onr(ONR_OK, device_files_load(dir, &f->files, NULL, NULL));
    assert_onr(ONR_OK, device_journey_load(dir, &f->files.trust, &f->journey, &what));
    assert_int_equal(f->journey.state, ONR_DEVICE_VOUCHED);
    assert_onr(ONR_OK, onr_random(f->op_nonce, sizeof(f->op_nonce)));
    assert_onr(ONR_OK, onr_random(f->sub.k, sizeof(f->sub.k)));
    assert_onr(ONR_OK, onr_random(f->sub.opc, sizeof(f->sub.opc)));
    f->sub.amf[0] = 0x80; /* the separation bit, as operators set it */
}

/* vouched_cleanup: frees what mint_vouched read and wipes `f`. */
static void vouched_cleanup(struct vouched *f)
{
    device_files_cleanup(&f->files);
    device_journey_cleanup(&f->journey);
    onr_wipe(f, sizeof(*f));
}

/* The profile the operator allocates: its keys are f->sub. */
static struct onr_msg_profile_content content_of(const struct vouched *f, const char *imsi)
{
    return (struct onr_msg_profile_content){
        .iccid = ONR_BYTES_STR(ICCID),
        .imsi = {(const uint8_t *)imsi, strlen(imsi)},
        .ki = ONR_BYTES(f->sub.k),
        .opc = ONR_BYTES(f->sub.opc),
        .amf = ONR_BYTES(f->sub.amf),
        .plmn = ONR_BYTES_STR("00101"),
        .apn = ONR_BYTES_STR("iot.example"),
    };
}

/* A profile sealed as an operator seals it; its length. */
static size_t seal(const struct vouched *f, const uint8_t pub[32], const char *dev, const char *op,
                   const uint8_t nonce[ONR_NONCE_LEN], const char *imsi, uint8_t *out,
                   size_t cap)
{
    struct onr_msg_profile_content c = content_of(f, imsi);
    size_t len = 0;

    assert_onr(ONR_OK, onr_sealed_profile_seal(pub, dev, op, nonce, &c, out, cap, &len));
    return len;
}

/* The device takes a profile sealed to it; its copy in *p. */
static void profile_device(struct vouched *f, struct device_profile *p)
{
    uint8_t sealed[ONR_SEALED_PROFILE_MAX];
    size_t len = seal(f, f->files.trust.seal_pub, f->files.trust.dev, OP, f->op_nonce, IMSI,
                      sealed, sizeof(sealed));

    assert_onr(ONR_OK, device_take_profile(&f->files, &f->journey.voucher, f->op_nonce, sealed,
                                           len, f->dir, DEVICE_CURRENT, p));
}

/* ---- the profile ----------------------------------------------------------------------- */

static void test_device_takes_a_profile_sealed_to_it(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p, back;
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_CONTENT};
    enum onr_device_state s = ONR_DEVICE_FACTORY;
    uint8_t body[ONR_SEALED_PROFILE_MAX];
    uint8_t *stored = NULL;
    size_t body_len = 0, stored_len = 0;

    mint_vouched(dir, &f);
    profile_device(&f, &p);
    assert_string_equal(p.iccid, ICCID);
    assert_string_equal(p.imsi, IMSI);
    assert_string_equal(p.plmn, "00101");
    assert_string_equal(p.apn, "iot.example");
    assert_memory_equal(p.sub.k, f.sub.k, sizeof(f.sub.k));
    assert_memory_equal(p.sub.opc, f.sub.opc, sizeof(f.sub.opc));
    assert_memory_equal(p.sub.amf, f.sub.amf, sizeof(f.sub.amf));
    /* stored: the body as sealed, a secret's mode, then the journey */
    msg.body.profile_content = content_of(&f, IMSI);
    assert_onr(ONR_OK, onr_msg_body_encode(&msg, body, sizeof(body), &body_len));
    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, "profile"), 4096, 1, &stored,
                                     &stored_len));
    assert_int_equal(stored_len, body_len);
    assert_memory_equal(stored, body, body_len);
    free(stored);
    assert_int_equal(mode_of(dir, "profile"), 0600);
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_PROFILED);
    /* and read back as taken */
    assert_onr(ONR_OK, device_profile_load(dir, &back));
    assert_memory_equal(&back, &p, sizeof(p));
    vouched_cleanup(&f);
}

static void test_device_refuses_profiles_not_sealed_for_it(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    uint8_t sealed[ONR_SEALED_PROFILE_MAX];
    uint8_t other_sk[32], other_pub[32], nonce[ONR_NONCE_LEN];
    const char *dev;
    char *before;
    size_t before_len = 0, len;

    mint_vouched(dir, &f);
    dev = f.files.trust.dev;
    before = snapshot(dir, &before_len);
    assert_onr(ONR_OK, onr_x25519_generate(other_sk, other_pub));
#define REFUSED(rc, n)                                                                     \
    do {                                                                                   \
        assert_onr(rc, device_take_profile(&f.files, &f.journey.voucher, f.op_nonce, sealed, \
                                           n, dir, DEVICE_CURRENT, &p));                   \
        assert_same_snapshot(dir, before, before_len);                                     \
        assert_string_equal(p.imsi, "");                                                   \
    } while (0)

    /* any byte changed: enc, ciphertext or tag */
    len = seal(&f, f.files.trust.seal_pub, dev, OP, f.op_nonce, IMSI, sealed, sizeof(sealed));
    for (size_t i = 0; i < len; i += 7) {
        sealed[i] ^= 0x01;
        REFUSED(ONR_EDECRYPT, len);
        sealed[i] ^= 0x01;
    }
    sealed[len - 1] ^= 0x80;
    REFUSED(ONR_EDECRYPT, len);
    sealed[len - 1] ^= 0x80;
    REFUSED(ONR_ELENGTH, ONR_SEALED_OVERHEAD); /* cut to nothing */
    REFUSED(ONR_EDECRYPT, len - 1);
    /* sealed to another device's key, or for another device id */
    len = seal(&f, other_pub, dev, OP, f.op_nonce, IMSI, sealed, sizeof(sealed));
    REFUSED(ONR_EDECRYPT, len);
    len = seal(&f, f.files.trust.seal_pub, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OP, f.op_nonce,
               IMSI, sealed, sizeof(sealed));
    REFUSED(ONR_EDECRYPT, len);
    /* for another operator than the voucher's */
    len = seal(&f, f.files.trust.seal_pub, dev, "op-2", f.op_nonce, IMSI, sealed,
               sizeof(sealed));
    REFUSED(ONR_EDECRYPT, len);
    /* bound to another request's nonce */
    memcpy(nonce, f.op_nonce, sizeof(nonce));
    nonce[5] ^= 0x10;
    len = seal(&f, f.files.trust.seal_pub, dev, OP, nonce, IMSI, sealed, sizeof(sealed));
    REFUSED(ONR_EDECRYPT, len);
    /* opens, but the IMSI is not in the PLMN */
    len = seal(&f, f.files.trust.seal_pub, dev, OP, f.op_nonce, "002010000000001", sealed,
               sizeof(sealed));
    REFUSED(ONR_ESCHEMA, len);
#undef REFUSED
    /* the genuine one is still taken afterwards */
    len = seal(&f, f.files.trust.seal_pub, dev, OP, f.op_nonce, IMSI, sealed, sizeof(sealed));
    assert_onr(ONR_OK, device_take_profile(&f.files, &f.journey.voucher, f.op_nonce, sealed, len,
                                           dir, DEVICE_CURRENT, &p));
    free(before);
    vouched_cleanup(&f);
}

static void test_stored_profile_is_checked_when_read(void **state)
{
    const char *dir = *state;
    struct device_profile p;
    struct onr_msg msg = {.type = ONR_MSG_PROFILE_CONTENT};
    struct vouched f;
    uint8_t body[1024];
    size_t len = 0;

    mint_vouched(dir, &f);
    assert_onr(ONR_ENOENT, device_profile_load(dir, &p));
    write_text(dir, "profile", "not msgpack", 0600);
    assert_onr(ONR_EFORMAT, device_profile_load(dir, &p));
    /* a body that decodes but is no profile of ours */
    msg.body.profile_content = content_of(&f, "002010000000001");
    assert_onr(ONR_OK, onr_msg_body_encode(&msg, body, sizeof(body), &len));
    assert_onr(ONR_OK, device_profile_save(dir, body, len));
    assert_onr(ONR_EFORMAT, device_profile_load(dir, &p));
    assert_onr(ONR_ESCHEMA, device_profile_decode(body, len, &p));
    assert_string_equal(p.imsi, "");
    /* a good one, readable by others */
    msg.body.profile_content = content_of(&f, IMSI);
    assert_onr(ONR_OK, onr_msg_body_encode(&msg, body, sizeof(body), &len));
    assert_onr(ONR_OK, device_profile_save(dir, body, len));
    assert_onr(ONR_OK, device_profile_load(dir, &p));
    assert_int_equal(chmod(onr_test_path(dir, "profile"), 0644), 0);
    assert_onr(ONR_EPERM, device_profile_load(dir, &p));
    vouched_cleanup(&f);
}

/* ---- the USIM's sequence numbers -------------------------------------------------------- */

static void test_sqn_store_round_trips_and_refuses_damage(void **state)
{
    const char *dir = *state;
    struct onr_aka_sqn_store s, back;
    uint8_t *text = NULL;
    size_t len = 0;
    /* each replaces the last of 32 lines */
    static const char *const damaged[] = {
        "x\n",             /* not a number */
        "8796093022208\n", /* 2^43: beyond SEQ */
        " 1\n", "+1\n", "-1\n", "1 \n", "\n", "1\r\n", "1\n1\n", "1",
    };
    char buf[1024];

    /* a new USIM has none: all zero */
    assert_onr(ONR_OK, device_sqn_load(dir, &back));
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        assert_int_equal(back.seq[i], 0);
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        s.seq[i] = i * 1000003u;
    s.seq[31] = SEQ_MAX;
    assert_onr(ONR_OK, device_sqn_save(dir, &s));
    assert_int_equal(mode_of(dir, "sqn"), 0600);
    assert_onr(ONR_OK, device_sqn_load(dir, &back));
    assert_memory_equal(&back, &s, sizeof(s));
    /* the documented text: line i, slot i's SEQ in decimal */
    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, "sqn"), 4096, 0, &text, &len));
    assert_int_equal(strncmp((const char *)text, "0\n1000003\n2000006\n", 18), 0);
    assert_non_null(strstr((const char *)text, "\n8796093022207\n"));
    assert_int_equal(text[len - 1], '\n');
    /* what a test writes by hand is read (leading zeros too), any mode */
    buf[0] = '\0';
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        strcat(buf, i == 3 ? "0042\n" : "7\n");
    write_text(dir, "sqn", buf, 0644);
    assert_onr(ONR_OK, device_sqn_load(dir, &back));
    assert_int_equal(back.seq[3], 42);
    assert_int_equal(back.seq[4], 7);
    /* damaged: a bad last line, one too many or too few, or none */
    for (size_t k = 0; k < sizeof(damaged) / sizeof(damaged[0]); k++) {
        buf[0] = '\0';
        for (unsigned i = 0; i + 1 < ONR_AKA_SLOTS; i++)
            strcat(buf, "1\n");
        strcat(buf, damaged[k]);
        write_text(dir, "sqn", buf, 0600);
        assert_onr(ONR_EFORMAT, device_sqn_load(dir, &back));
    }
    buf[0] = '\0';
    for (unsigned i = 0; i + 1 < ONR_AKA_SLOTS; i++)
        strcat(buf, "1\n");
    write_text(dir, "sqn", buf, 0600); /* 31 lines */
    assert_onr(ONR_EFORMAT, device_sqn_load(dir, &back));
    write_text(dir, "sqn", "", 0600);
    assert_onr(ONR_EFORMAT, device_sqn_load(dir, &back));
    memset(buf, '1', 800);
    buf[800] = '\0';
    write_text(dir, "sqn", buf, 0600); /* far too big */
    assert_onr(ONR_EFORMAT, device_sqn_load(dir, &back));
    /* nothing out of range is written */
    s.seq[0] = SEQ_MAX + 1;
    assert_onr(ONR_EINVAL, device_sqn_save(dir, &s));
    free(text);
}

/* ---- the challenge ------------------------------------------------------------------------ */

struct answer {
    uint8_t res[ONR_AKA_RES_LEN];
    uint8_t ck[ONR_AKA_KEY_LEN];
    uint8_t ik[ONR_AKA_KEY_LEN];
    uint8_t auts[ONR_AKA_AUTS_LEN];
};

static int challenge(const struct device_profile *p, const char *dir,
                     const struct onr_aka_vector *v, struct answer *a)
{
    uint64_t sqn = 0;

    memset(a, 0x5a, sizeof(*a));
    return device_take_challenge(p, dir, v->rand, v->autn, a->res, a->ck, a->ik, a->auts, &sqn);
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void test_device_answers_a_fresh_challenge_and_refuses_a_replay(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    struct onr_aka_vector v, bad;
    struct onr_aka_sqn_store store;
    struct answer a;
    uint8_t rand[ONR_AKA_RAND_LEN];
    uint64_t sqn = 0, sqn_ms = 0;
    uint8_t *before = NULL, *after = NULL;
    size_t before_len = 0, after_len = 0;

    mint_vouched(dir, &f);
    profile_device(&f, &p);
    /* the AuC's first vector */
    assert_onr(ONR_OK, onr_aka_sqn_next(0, &sqn));
    assert_onr(ONR_OK, onr_random(rand, sizeof(rand)));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_OK, challenge(&p, dir, &v, &a));
    assert_memory_equal(a.res, v.xres, sizeof(a.res));
    assert_memory_equal(a.ck, v.ck, sizeof(a.ck));
    assert_memory_equal(a.ik, v.ik, sizeof(a.ik));
    assert_true(all_zero(a.auts, sizeof(a.auts)));
    /* the new SQN is stored */
    assert_int_equal(mode_of(dir, "sqn"), 0600);
    assert_onr(ONR_OK, device_sqn_load(dir, &store));
    assert_int_equal(onr_aka_sqn_ms(&store), sqn);
    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, "sqn"), 4096, 0, &before, &before_len));

    /* the same challenge again: a sync failure whose AUTS the AuC reads */
    assert_onr(ONR_EREPLAY, challenge(&p, dir, &v, &a));
    assert_true(all_zero(a.res, sizeof(a.res)) && all_zero(a.ck, sizeof(a.ck)) &&
                all_zero(a.ik, sizeof(a.ik)));
    assert_onr(ONR_OK, onr_aka_resync(&f.sub, v.rand, a.auts, &sqn_ms));
    assert_int_equal(sqn_ms, sqn);

    /* a flipped MAC-A byte, or another subscriber's challenge: not ours */
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn, &sqn));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &bad));
    bad.autn[15] ^= 0x01;
    assert_onr(ONR_EBADMAC, challenge(&p, dir, &bad, &a));
    assert_true(all_zero(&a, sizeof(a)));
    p.sub.k[0] ^= 0x01;
    bad.autn[15] ^= 0x01;
    assert_onr(ONR_EBADMAC, challenge(&p, dir, &bad, &a));
    p.sub.k[0] ^= 0x01;

    /* none of these touched the store */
    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, "sqn"), 4096, 0, &after, &after_len));
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(after);
    /* the next fresh one is taken */
    assert_onr(ONR_OK, challenge(&p, dir, &bad, &a));
    assert_onr(ONR_OK, device_sqn_load(dir, &store));
    assert_int_equal(onr_aka_sqn_ms(&store), sqn);
    /* a damaged store answers nothing */
    write_text(dir, "sqn", "garbage\n", 0600);
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn, &sqn));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_EFORMAT, challenge(&p, dir, &v, &a));
    assert_true(all_zero(&a, sizeof(a)));
    free(before);
    vouched_cleanup(&f);
}

static void test_device_ahead_of_the_network_asks_for_resync(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    struct onr_aka_vector v;
    struct answer a;
    uint8_t rand[ONR_AKA_RAND_LEN] = {1, 2, 3};
    uint64_t sqn = 0, sqn_ms = 0;
    char text[1024] = "";

    mint_vouched(dir, &f);
    profile_device(&f, &p);
    /* freshness is per IND slot: one slot ahead refuses only its own */
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        strcat(text, i == 1 ? "1000\n" : "0\n");
    write_text(dir, "sqn", text, 0600);
    assert_onr(ONR_OK, onr_aka_sqn_next(0, &sqn)); /* SEQ 1 in slot 1 */
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_EREPLAY, challenge(&p, dir, &v, &a));
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn, &sqn)); /* SEQ 2 in slot 2 */
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_OK, challenge(&p, dir, &v, &a));
    /* as an integration test writes it: every slot far ahead */
    text[0] = '\0';
    for (unsigned i = 0; i < ONR_AKA_SLOTS; i++)
        strcat(text, "1000\n");
    write_text(dir, "sqn", text, 0600);
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn, &sqn));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_EREPLAY, challenge(&p, dir, &v, &a));
    assert_onr(ONR_OK, onr_aka_resync(&f.sub, v.rand, a.auts, &sqn_ms));
    assert_int_equal(sqn_ms, UINT64_C(1000) << 5);
    /* the AuC moves past it: the next challenge is taken */
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn_ms, &sqn));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_OK, challenge(&p, dir, &v, &a));
    vouched_cleanup(&f);
}

/* TS 35.208 test set 1, as published: the USIM's RES, CK and IK. */
static void test_device_answers_the_published_milenage_challenge(void **state)
{
    const char *dir = *state;
    char *json = onr_test_vector_file("milenage-ts35208.json");
    struct device_profile p;
    struct onr_aka_vector v;
    struct onr_aka_sqn_store store;
    struct answer a;
    uint8_t sqn[6], ak[6], mac_a[8], res[8], ck[16], ik[16];
    uint64_t seq = 0;

    memset(&p, 0, sizeof(p));
    snprintf(p.imsi, sizeof(p.imsi), "%s", IMSI);
    assert_int_equal(onr_test_json_hex(json, "K", 0, p.sub.k, 16), 16);
    assert_int_equal(onr_test_json_hex(json, "OPc", 0, p.sub.opc, 16), 16);
    assert_int_equal(onr_test_json_hex(json, "AMF", 0, p.sub.amf, 2), 2);
    assert_int_equal(onr_test_json_hex(json, "RAND", 0, v.rand, 16), 16);
    assert_int_equal(onr_test_json_hex(json, "SQN", 0, sqn, 6), 6);
    assert_int_equal(onr_test_json_hex(json, "f5", 0, ak, 6), 6);
    assert_int_equal(onr_test_json_hex(json, "f1", 0, mac_a, 8), 8);
    assert_int_equal(onr_test_json_hex(json, "f2", 0, res, 8), 8);
    assert_int_equal(onr_test_json_hex(json, "f3", 0, ck, 16), 16);
    assert_int_equal(onr_test_json_hex(json, "f4", 0, ik, 16), 16);
    for (int i = 0; i < 6; i++) {
        v.autn[i] = sqn[i] ^ ak[i];
        seq = (seq << 8) | sqn[i];
    }
    memcpy(v.autn + 6, p.sub.amf, 2);
    memcpy(v.autn + 8, mac_a, 8);
    /* the set's SQN is far from zero: a USIM that accepted just below it */
    memset(&store, 0, sizeof(store));
    store.seq[0] = (seq >> 5) - 1;
    assert_onr(ONR_OK, device_sqn_save(dir, &store));
    assert_onr(ONR_OK, challenge(&p, dir, &v, &a));
    assert_memory_equal(a.res, res, 8);
    assert_memory_equal(a.ck, ck, 16);
    assert_memory_equal(a.ik, ik, 16);
    assert_onr(ONR_OK, device_sqn_load(dir, &store));
    assert_int_equal(store.seq[seq & 31], seq >> 5);
    free(json);
}

/* ---- the result ---------------------------------------------------------------------------- */

/* proto/SPEC.md section 13's example, from TS 35.208 set 1's CK and IK. */
static void test_device_stores_the_published_akma_keys(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    struct device_akma akma;
    enum onr_device_state s = ONR_DEVICE_FACTORY;
    uint8_t ck[16], ik[16], kid[16], k_af[32], wrong[16];
    uint8_t *stored = NULL;
    size_t len = 0;
    char *before;
    size_t before_len = 0;

    mint_vouched(dir, &f);
    profile_device(&f, &p);
    onr_test_hex("b40ba9a3c58b2a05bbf0d987b21bf8cb", ck, sizeof(ck));
    onr_test_hex("f769bcd751044604127672711c6d3441", ik, sizeof(ik));
    onr_test_hex("49493a819ed636940f783cc22fa4af11", kid, sizeof(kid));
    onr_test_hex("38c933a9527393d315f8cca09ee5257012285cd2d3877cc297a6023abac8c209", k_af,
                 sizeof(k_af));
    /* a service key an earlier journey left behind */
    write_text(dir, "service.key", "an earlier journey's\n", 0600);
    /* another kid: not the run this device answered; nothing changes */
    before = snapshot(dir, &before_len);
    memcpy(wrong, kid, sizeof(wrong));
    wrong[15] ^= 0x01;
    assert_onr(ONR_EAUTH, device_take_result(&p, "acme-iot", ck, ik, wrong, dir, DEVICE_CURRENT, &akma));
    assert_true(all_zero(&akma, sizeof(akma)));
    assert_same_snapshot(dir, before, before_len);
    /* the right one */
    assert_onr(ONR_OK, device_take_result(&p, "acme-iot", ck, ik, kid, dir, DEVICE_CURRENT, &akma));
    assert_memory_equal(akma.kid, kid, 16);
    assert_memory_equal(akma.k_af, k_af, 32);
    assert_onr(ONR_OK, onr_file_read(onr_test_path(dir, "akma"), 4096, 1, &stored, &len));
    assert_int_equal(len, 48);
    assert_memory_equal(stored, kid, 16);
    assert_memory_equal(stored + 16, k_af, 32);
    free(stored);
    assert_int_equal(mode_of(dir, "akma"), 0600);
    assert_onr(ONR_OK, device_state_load(dir, &s));
    assert_int_equal(s, ONR_DEVICE_NETWORK_ATTACHED);
    /* a new attach enrolls a new service key: the old one is gone */
    assert_int_equal(access(onr_test_path(dir, "service.key"), F_OK), -1);
    free(before);
    vouched_cleanup(&f);
}

/* ---- reopened ---------------------------------------------------------------------------- */

static void test_device_resumes_profiled_then_attached(void **state)
{
    const char *dir = *state;
    static const uint8_t zero[16];
    struct vouched f;
    struct device_profile p;
    struct device_akma akma;
    struct onr_device *dev = NULL;
    struct onr_device_network n;
    struct onr_aka_vector v;
    struct answer a;
    struct heard h;
    struct event_base *base;
    uint8_t rand[ONR_AKA_RAND_LEN] = {7};
    uint8_t kid[16], k_akma[32];
    uint64_t sqn = 0;

    mint_vouched(dir, &f);
    /* vouched: no network yet */
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_VOUCHED);
    assert_onr(ONR_ENOENT, onr_device_network(dev, &n));
    onr_device_close(dev);

    /* profiled, then powered off */
    profile_device(&f, &p);
    assert_onr(ONR_OK, open_device(dir, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_PROFILED);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_string_equal(n.iccid, ICCID);
    assert_string_equal(n.imsi, IMSI);
    assert_string_equal(n.plmn, "00101");
    assert_string_equal(n.apn, "iot.example");
    assert_memory_equal(n.kid, zero, 16);
    onr_device_close(dev);

    /* attached, then powered off: the run ends at once, the target reached */
    assert_onr(ONR_OK, onr_aka_sqn_next(0, &sqn));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn, rand, &v));
    assert_onr(ONR_OK, challenge(&p, dir, &v, &a));
    assert_onr(ONR_OK, onr_akma_derive(v.ck, v.ik, IMSI, kid, k_akma)); /* the operator's */
    assert_onr(ONR_OK, device_take_result(&p, PROV, a.ck, a.ik, kid, dir, DEVICE_CURRENT, &akma));
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_NETWORK_ATTACHED, &h, &dev));
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_NETWORK_ATTACHED);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_memory_equal(n.kid, kid, 16);
    assert_string_equal(n.imsi, IMSI);
    base = event_base_new();
    assert_non_null(base);
    assert_onr(ONR_OK, onr_device_start(dev, base));
    assert_int_equal(h.done, 1);
    assert_onr(ONR_OK, h.result);
    onr_device_close(dev);
    event_base_free(base);
    vouched_cleanup(&f);
}

static void test_device_open_refuses_damaged_network_files(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    char path[1024], bak[1024];

    mint_vouched(dir, &f);
    profile_device(&f, &p);
    snprintf(path, sizeof(path), "%s", onr_test_path(dir, "profile"));
    snprintf(bak, sizeof(bak), "%s", onr_test_path(dir, "profile.bak"));
    /* PROFILED without its profile, or a damaged one, or one others read */
    assert_int_equal(rename(path, bak), 0);
    assert_open_refused(dir, ONR_EFORMAT, "profile");
    write_text(dir, "profile", "\x81\xa1x\x01", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "profile");
    assert_int_equal(rename(bak, path), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_open_refused(dir, ONR_EPERM, "profile");
    assert_int_equal(chmod(path, 0600), 0);
    /* a damaged sequence number store */
    write_text(dir, "sqn", "1\n2\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "sqn");
    assert_int_equal(unlink(onr_test_path(dir, "sqn")), 0);
    /* NETWORK_ATTACHED without its keys, or with keys cut short */
    write_text(dir, "journey", "NETWORK_ATTACHED\n", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "akma");
    write_text(dir, "akma", "0123456789abcdef0123456789abcdef0123456789abcde", 0600);
    assert_open_refused(dir, ONR_EFORMAT, "akma");
    write_text(dir, "akma", "0123456789abcdef0123456789abcdef0123456789abcdef", 0644);
    assert_open_refused(dir, ONR_EPERM, "akma");
    vouched_cleanup(&f);
}

/* A TCP socket listening on a free loopback port (*port) that never
 * accepts: a broker that never answers. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

/* The operator's attach result to `s` (an attach response of `d`'s run),
 * naming `kid`, as the attach step takes it once verified. */
static void take_result_for(struct onr_device *d, const struct device_sent *s,
                            const uint8_t kid[ONR_AKMA_KID_LEN])
{
    struct onr_envelope env;

    memset(&env, 0, sizeof(env));
    env.msg.type = ONR_MSG_ATTACH_RESULT;
    env.msg.body.attach_result.re = (struct onr_bytes){s->id, ONR_MSG_ID_LEN};
    env.msg.body.attach_result.kid = (struct onr_bytes){kid, ONR_AKMA_KID_LEN};
    step_attach_take(d, &env);
}

/* SPEC section 13: two challenges reach the device out of SQN order (the
 * higher first), and the operator checks its two responses out of order
 * too (the lower first, then the higher, whose keys it keeps, as the
 * provider does). The device ignores the result to its lower-SQN response
 * and takes the higher's: it holds the key identifier both services keep
 * (taking the last response's, it enrolled with one they refuse). */
static void test_crossed_runs_end_on_the_highest_sqn_whatever_the_order(void **state)
{
    const char *dir = *state;
    struct vouched f;
    struct device_profile p;
    struct onr_device *dev = NULL;
    struct onr_device_network n;
    struct onr_aka_vector lo, hi;
    struct heard h;
    uint8_t rand_lo[ONR_AKA_RAND_LEN] = {1}, rand_hi[ONR_AKA_RAND_LEN] = {2};
    uint8_t kid_lo[16], kid_hi[16], k_akma[32];
    const struct device_sent *sent_lo, *sent_hi;
    struct event_base *base = event_base_new();
    uint64_t sqn_lo = 0, sqn_hi = 0;
    int silent, port = 0;

    assert_non_null(base);
    mint_vouched(dir, &f);
    profile_device(&f, &p);
    /* started, never dispatched, its client connected to a socket that
     * listens and never answers: what the device says stays queued there */
    assert_onr(ONR_OK, open_device_until(dir, ONR_DEVICE_NETWORK_ATTACHED, &h, &dev));
    assert_onr(ONR_OK, onr_device_start(dev, base));
    silent = silent_listener(&port);
    assert_int_equal(mosquitto_connect(dev->mosq, "127.0.0.1", port, 60), MOSQ_ERR_SUCCESS);
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_PROFILED);
    assert_onr(ONR_OK, onr_aka_sqn_next(0, &sqn_lo));
    assert_onr(ONR_OK, onr_aka_sqn_next(sqn_lo, &sqn_hi)); /* another IND slot */
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn_lo, rand_lo, &lo));
    assert_onr(ONR_OK, onr_aka_vector(&f.sub, sqn_hi, rand_hi, &hi));
    assert_onr(ONR_OK, onr_akma_derive(lo.ck, lo.ik, IMSI, kid_lo, k_akma));
    assert_onr(ONR_OK, onr_akma_derive(hi.ck, hi.ik, IMSI, kid_hi, k_akma));
    /* the higher challenge first; the USIM accepts both */
    step_attach_answer(dev, hi.rand, hi.autn);
    step_attach_answer(dev, lo.rand, lo.autn);
    assert_int_equal(dev->n_sent, 2);
    sent_hi = &dev->sent[0];
    sent_lo = &dev->sent[1];
    assert_int_equal(sent_hi->kind, SENT_RES);
    assert_int_equal(sent_lo->kind, SENT_RES);
    /* the lower run's result, checked first: not the run kept */
    take_result_for(dev, sent_lo, kid_lo);
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_PROFILED);
    assert_string_equal(h.event, "refused");
    /* the higher's: taken */
    take_result_for(dev, sent_hi, kid_hi);
    assert_int_equal(onr_device_state(dev), ONR_DEVICE_NETWORK_ATTACHED);
    assert_onr(ONR_OK, onr_device_network(dev, &n));
    assert_memory_equal(n.kid, kid_hi, 16);
    onr_device_close(dev);
    close(silent);
    event_base_free(base);
    onr_wipe(k_akma, sizeof(k_akma));
    onr_wipe(&p, sizeof(p));
    vouched_cleanup(&f);
}

int main(void)
{
#define WITH_DIR(t) \
    cmocka_unit_test_setup_teardown(t, onr_test_setup_tmpdir, onr_test_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        WITH_DIR(test_device_takes_a_profile_sealed_to_it),
        WITH_DIR(test_device_refuses_profiles_not_sealed_for_it),
        WITH_DIR(test_stored_profile_is_checked_when_read),
        WITH_DIR(test_sqn_store_round_trips_and_refuses_damage),
        WITH_DIR(test_device_answers_a_fresh_challenge_and_refuses_a_replay),
        WITH_DIR(test_device_ahead_of_the_network_asks_for_resync),
        WITH_DIR(test_device_answers_the_published_milenage_challenge),
        WITH_DIR(test_device_stores_the_published_akma_keys),
        WITH_DIR(test_device_resumes_profiled_then_attached),
        WITH_DIR(test_crossed_runs_end_on_the_highest_sqn_whatever_the_order),
        WITH_DIR(test_device_open_refuses_damaged_network_files),
    };
#undef WITH_DIR
    int failures;

    mosquitto_lib_init();
    failures = cmocka_run_group_tests(tests, NULL, NULL);
    mosquitto_lib_cleanup();
    return failures;
}
