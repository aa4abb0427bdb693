/*
 * Opening sealed secrets (proto/SPEC.md section 7): the network profile a
 * device opens with its sealing key (and then decodes and checks, as
 * device_take_profile does with device_profile_decode), and the
 * application key a provider opens.
 *
 * Input: a mode byte, then
 *   0  a PROFILE_CONTENT body in clear: decoded by the device's profile
 *      check, and also sealed to the fixed device key and opened through
 *      onr_sealed_profile_open, which must agree with decoding it directly;
 *   1  a sealed profile (enc || ct || tag), opened with the fixed key for
 *      the fixed device, operator and nonce (the seeds open);
 *   2  a sealed application key, opened with the fixed provider key.
 * Checks: decode -> encode -> decode gives the same profile; an opened
 * profile re-sealed opens to the same content; a failed open leaves the
 * output wiped.
 */
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "fuzz.h"
#include "internal.h"
#include "onramp/error.h"
#include "onramp/hpke.h"
#include "onramp/sealed.h"

/* SPEC section 7: info = "onramp/1 profile" 0 dev 0 op, aad = the nonce. */
#define PROFILE_INFO "onramp/1 profile"

static uint8_t device_pub[ONR_X25519_KEY_LEN];
static uint8_t provider_pub[ONR_X25519_KEY_LEN];
static struct onr_hpke_recipient provider; /* the provider's key pair, as it keeps it */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_seal_public(fuzz_seal_device, device_pub);
    fuzz_seal_public(fuzz_seal_provider, provider_pub);
    if (onr_hpke_recipient_init(&provider, fuzz_seal_provider) != ONR_OK)
        abort();
    return 0;
}

static int all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static void same_content(const struct onr_msg_profile_content *a,
                         const struct onr_msg_profile_content *b, const char *what)
{
    struct onr_msg ma = {.type = ONR_MSG_PROFILE_CONTENT};
    struct onr_msg mb = {.type = ONR_MSG_PROFILE_CONTENT};

    ma.body.profile_content = *a;
    mb.body.profile_content = *b;
    fuzz_msg_same(&ma, &mb, what);
}

/* `len` bytes of plaintext sealed as an operator seals a profile, into
 * `out` (len + ONR_SEALED_OVERHEAD bytes). */
static int seal_bytes(const uint8_t *plain, size_t len, uint8_t *out)
{
    const char *ids[2] = {FUZZ_DEV, FUZZ_OP};
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc = onr_seal_info(PROFILE_INFO, ids, 2, info, sizeof(info), &info_len);

    if (rc != ONR_OK)
        return rc;
    return onr_hpke_seal(device_pub, info, info_len, fuzz_nonce, ONR_NONCE_LEN, plain, len, out,
                         out + ONR_HPKE_ENC_LEN);
}

/* Seal `content` to the fixed device key and open it again. */
static void reseal(const struct onr_msg_profile_content *content)
{
    uint8_t sealed[ONR_SEALED_PROFILE_MAX];
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    struct onr_msg_profile_content back;
    size_t len = 0;
    int rc;

    rc = onr_sealed_profile_seal(device_pub, FUZZ_DEV, FUZZ_OP, fuzz_nonce, content, sealed,
                                 sizeof(sealed), &len);
    FUZZ_CHECK(rc == ONR_OK, "opened profile does not seal: %s", onr_error_name(rc));
    rc = onr_sealed_profile_open(fuzz_seal_device, FUZZ_DEV, FUZZ_OP, fuzz_nonce, sealed, len,
                                 plain, sizeof(plain), &back);
    FUZZ_CHECK(rc == ONR_OK, "resealed profile does not open: %s", onr_error_name(rc));
    same_content(content, &back, "reseal");
}

static void clear_profile(const uint8_t *data, size_t size)
{
    uint8_t body[ONR_SEALED_PROFILE_MAX];
    uint8_t sealed[ONR_SEALED_PROFILE_MAX + ONR_SEALED_OVERHEAD];
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    struct device_profile profile;
    struct onr_msg direct;
    struct onr_msg_profile_content opened;
    size_t body_len = 0;
    int rc_direct;
    int rc;

    rc_direct = onr_msg_body_decode(ONR_MSG_PROFILE_CONTENT, data, size, &direct);
    rc = device_profile_decode(data, size, &profile);
    if (rc_direct != ONR_OK) {
        FUZZ_CHECK(rc == rc_direct, "device decode %s, body decode %s", onr_error_name(rc),
                   onr_error_name(rc_direct));
    } else if (rc == ONR_OK) {
        const struct onr_msg_profile_content *c = &direct.body.profile_content;

        FUZZ_CHECK(strlen(profile.imsi) == c->imsi.len &&
                       memcmp(profile.imsi, c->imsi.ptr, c->imsi.len) == 0 &&
                       strlen(profile.iccid) == c->iccid.len && strlen(profile.apn) == c->apn.len &&
                       strncmp(profile.imsi, profile.plmn, strlen(profile.plmn)) == 0 &&
                       memcmp(profile.sub.k, c->ki.ptr, 16) == 0,
                   "device profile differs from the body");
    } else {
        FUZZ_CHECK(rc == ONR_ESCHEMA, "device decode: %s", onr_error_name(rc));
        FUZZ_CHECK(all_zero((const uint8_t *)&profile, sizeof(profile)), "refused, not wiped");
    }
    if (rc_direct == ONR_OK) {
        struct onr_msg back;

        rc = onr_msg_body_encode(&direct, body, sizeof(body), &body_len);
        FUZZ_CHECK(rc == ONR_OK, "profile does not encode: %s", onr_error_name(rc));
        rc = onr_msg_body_decode(ONR_MSG_PROFILE_CONTENT, body, body_len, &back);
        FUZZ_CHECK(rc == ONR_OK, "encoded profile does not decode: %s", onr_error_name(rc));
        fuzz_msg_same(&direct, &back, "profile round trip");
    }

    /* the same bytes, sealed as an operator would and opened as the device
     * does: opening must not change the verdict */
    if (size == 0 || size + ONR_SEALED_OVERHEAD > ONR_SEALED_PROFILE_MAX)
        return;
    rc = seal_bytes(data, size, sealed);
    FUZZ_CHECK(rc == ONR_OK, "seal: %s", onr_error_name(rc));
    rc = onr_sealed_profile_open(fuzz_seal_device, FUZZ_DEV, FUZZ_OP, fuzz_nonce, sealed,
                                 size + ONR_SEALED_OVERHEAD, plain, sizeof(plain), &opened);
    FUZZ_CHECK(rc == rc_direct, "opened %s, direct %s", onr_error_name(rc),
               onr_error_name(rc_direct));
    if (rc == ONR_OK)
        same_content(&direct.body.profile_content, &opened, "open versus direct");
    else
        FUZZ_CHECK(all_zero(plain, size), "refused plaintext not wiped");
}

static void sealed_profile(const uint8_t *data, size_t size)
{
    uint8_t plain[ONR_SEALED_PROFILE_MAX];
    struct onr_msg_profile_content content;
    int rc;

    memset(plain, 0, sizeof(plain));
    rc = onr_sealed_profile_open(fuzz_seal_device, FUZZ_DEV, FUZZ_OP, fuzz_nonce, data, size,
                                 plain, sizeof(plain), &content);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "open returned %d", rc);
        FUZZ_CHECK(all_zero(plain, sizeof(plain)), "refused plaintext not wiped");
        return;
    }
    reseal(&content);
}

static void sealed_app_key(const uint8_t *data, size_t size)
{
    uint8_t k_af[32];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    uint8_t back[32];
    int rc;

    memset(k_af, 0xa5, sizeof(k_af));
    rc = onr_sealed_app_key_open(&provider, FUZZ_DEV, FUZZ_OP, FUZZ_PROV, fuzz_kid,
                                 data, size, k_af);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "open returned %d", rc);
        FUZZ_CHECK(rc == ONR_ELENGTH || all_zero(k_af, sizeof(k_af)), "refused key not wiped");
        return;
    }
    rc = onr_sealed_app_key_seal(provider_pub, FUZZ_DEV, FUZZ_OP, FUZZ_PROV, fuzz_kid, k_af,
                                 sealed);
    FUZZ_CHECK(rc == ONR_OK, "reseal: %s", onr_error_name(rc));
    rc = onr_sealed_app_key_open(&provider, FUZZ_DEV, FUZZ_OP, FUZZ_PROV, fuzz_kid,
                                 sealed, sizeof(sealed), back);
    FUZZ_CHECK(rc == ONR_OK && memcmp(k_af, back, sizeof(back)) == 0, "app key round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: clear_profile(data + 1, size - 1); break;
    case 1: sealed_profile(data + 1, size - 1); break;
    default: sealed_app_key(data + 1, size - 1); break;
    }
    return 0;
}
