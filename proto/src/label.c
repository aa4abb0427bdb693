#include "onramp/label.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hash.h"
#include "onramp/hpke.h"
#include "onramp/text.h"

#define LABEL_PREFIX "ONR1"
#define KIT_PREFIX "ONK1"
#define CHECK_CONTEXT "onramp/1 label"
#define CLAIM_CONTEXT "onramp/1 claim"

/* What tells a device label from a kit label: the prefix and the length of
 * the id in the third field. */
struct kind {
    const char *prefix;
    size_t id_len;
};

static const struct kind device_kind = {LABEL_PREFIX, ONR_DEVID_LEN};
static const struct kind kit_kind = {KIT_PREFIX, ONR_KIT_ID_LEN};

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* `n` base32 characters from the first bits of `bytes`. */
static void base32_prefix(const uint8_t *bytes, size_t n, char *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i = 0;

    for (size_t o = 0; o < n; o++) {
        while (bits < 5) {
            acc = acc << 8 | bytes[i++];
            bits += 8;
        }
        bits -= 5;
        out[o] = base32[(acc >> bits) & 0x1f];
    }
    out[n] = '\0';
}

static int claim_ok(const char *claim, size_t len)
{
    if (len != ONR_LABEL_CLAIM_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (strchr(base32, upper(claim[i])) == NULL || claim[i] == '\0')
            return 0;
    return 1;
}

int onr_label_new_claim(char claim[ONR_LABEL_CLAIM_LEN + 1])
{
    uint8_t random[13]; /* 100 bits used */
    int rc;

    if (claim == NULL)
        return ONR_EINVAL;
    rc = onr_random(random, sizeof(random));
    if (rc == ONR_OK)
        base32_prefix(random, ONR_LABEL_CLAIM_LEN, claim);
    onr_wipe(random, sizeof(random));
    return rc;
}

/* The check characters over the canonical (uppercase) text before them. */
static int check_chars(const char *body, size_t len, char out[ONR_LABEL_CHECK_LEN + 1])
{
    const struct onr_bytes parts[] = {
        {(const uint8_t *)CHECK_CONTEXT, sizeof(CHECK_CONTEXT)},
        {(const uint8_t *)body, len},
    };
    uint8_t hash[ONR_SHA256_LEN];
    int rc = onr_sha256(parts, 2, hash);

    if (rc == ONR_OK)
        base32_prefix(hash, ONR_LABEL_CHECK_LEN, out);
    return rc;
}

/* An id of the third field: a device id, or a kit id (base32 a-z 2-7). */
static int id_ok(const struct kind *k, const char *id, size_t len)
{
    if (k->id_len == ONR_DEVID_LEN)
        return onr_devid_check(id, len) == ONR_OK;
    return len == k->id_len &&
           onr_text_check(ONR_TEXT_DEVID, (struct onr_bytes){(const uint8_t *)id, len}) == ONR_OK;
}

/* The label text of kind `k` for mfr, id and claim into `out`. */
static int encode(const struct kind *k, const char *mfr, size_t mfr_size, const char *id,
                  size_t id_size, const char *claim, size_t claim_size, char *out, size_t cap)
{
    char body[ONR_LABEL_MAX + 1];
    char check[ONR_LABEL_CHECK_LEN + 1];
    size_t mfr_len;
    int n;
    int rc;

    mfr_len = strnlen(mfr, mfr_size);
    if (mfr_len == 0 || mfr_len > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)mfr, mfr_len}) !=
            ONR_OK ||
        !id_ok(k, id, strnlen(id, id_size)) || !claim_ok(claim, strnlen(claim, claim_size)))
        return ONR_EINVAL;
    n = snprintf(body, sizeof(body), "%s:%s:%s:%s", k->prefix, mfr, id, claim);
    if (n < 0 || (size_t)n >= sizeof(body))
        return ONR_EINVAL;
    for (int i = 0; i < n; i++)
        body[i] = upper(body[i]);
    rc = check_chars(body, (size_t)n, check);
    if (rc == ONR_OK && (size_t)n + 1 + ONR_LABEL_CHECK_LEN + 1 > cap)
        rc = ONR_ESPACE;
    if (rc == ONR_OK)
        snprintf(out, cap, "%s:%s", body, check);
    onr_wipe(body, sizeof(body));
    return rc;
}

int onr_label_encode(const struct onr_label *label, char *out, size_t cap)
{
    if (label == NULL || out == NULL)
        return ONR_EINVAL;
    return encode(&device_kind, label->mfr, sizeof(label->mfr), label->dev, sizeof(label->dev),
                  label->claim, sizeof(label->claim), out, cap);
}

int onr_kit_label_encode(const struct onr_kit_label *label, char *out, size_t cap)
{
    if (label == NULL || out == NULL)
        return ONR_EINVAL;
    return encode(&kit_kind, label->mfr, sizeof(label->mfr), label->kit, sizeof(label->kit),
                  label->claim, sizeof(label->claim), out, cap);
}

/* Split "A:B:C:D:E" into five fields (pointers into `canon`). */
static int split(char *canon, char *fields[5])
{
    char *p = canon;

    for (int i = 0; i < 5; i++) {
        char *colon = strchr(p, ':');

        fields[i] = p;
        if (i < 4) {
            if (colon == NULL)
                return ONR_EFORMAT;
            *colon = '\0';
            p = colon + 1;
        } else if (colon != NULL) {
            return ONR_EFORMAT;
        }
    }
    return ONR_OK;
}

/*
 * Parse a label of kind `k`: the manufacturer (lowercase), the id
 * (lowercase, k->id_len characters) and the claim (uppercase) into the
 * caller's buffers (mfr: ONR_SERVICE_ID_MAX + 1, id: k->id_len + 1, claim:
 * ONR_LABEL_CLAIM_LEN + 1), all zeroed on failure.
 */
static int decode(const struct kind *k, const char *text, size_t len, char *mfr, char *id,
                  char *claim)
{
    char canon[ONR_LABEL_MAX + 1]; /* the text in uppercase, intact */
    char parsed[ONR_LABEL_MAX + 1]; /* the same, cut into fields */
    char check[ONR_LABEL_CHECK_LEN + 1];
    char *fields[5];
    int rc;

    if (len <= ONR_LABEL_CHECK_LEN + 1 || len > ONR_LABEL_MAX)
        return ONR_ELENGTH;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < 0x21 || text[i] > 0x7e)
            return ONR_ECHARSET;
        canon[i] = upper(text[i]);
    }
    canon[len] = '\0';
    memcpy(parsed, canon, len + 1);
    rc = split(parsed, fields);
    if (rc != ONR_OK)
        goto out;
    rc = ONR_EFORMAT;
    if (strcmp(fields[0], k->prefix) != 0 || strlen(fields[4]) != ONR_LABEL_CHECK_LEN)
        goto out;
    rc = ONR_ECHARSET;
    if (strlen(fields[1]) == 0 || strlen(fields[1]) > ONR_SERVICE_ID_MAX ||
        strlen(fields[2]) != k->id_len || !claim_ok(fields[3], strlen(fields[3])))
        goto out;
    for (char *c = fields[1]; *c != '\0'; c++)
        *c = lower(*c);
    for (char *c = fields[2]; *c != '\0'; c++)
        *c = lower(*c);
    if (onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)fields[1],
                                                      strlen(fields[1])}) != ONR_OK ||
        !id_ok(k, fields[2], strlen(fields[2])))
        goto out;
    /* The check covers everything before the last colon, uppercase. */
    rc = check_chars(canon, len - ONR_LABEL_CHECK_LEN - 1, check);
    if (rc != ONR_OK)
        goto out;
    rc = ONR_EBADMAC;
    if (memcmp(check, fields[4], ONR_LABEL_CHECK_LEN) != 0)
        goto out;
    strcpy(mfr, fields[1]);
    strcpy(id, fields[2]);
    strcpy(claim, fields[3]);
    rc = ONR_OK;
out:
    onr_wipe(canon, sizeof(canon));
    onr_wipe(parsed, sizeof(parsed));
    return rc;
}

int onr_label_decode(const char *text, size_t len, struct onr_label *out)
{
    int rc;

    if (text == NULL || out == NULL)
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    rc = decode(&device_kind, text, len, out->mfr, out->dev, out->claim);
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int onr_kit_label_decode(const char *text, size_t len, struct onr_kit_label *out)
{
    int rc;

    if (text == NULL || out == NULL)
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    rc = decode(&kit_kind, text, len, out->mfr, out->kit, out->claim);
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

bool onr_label_is_kit(const char *text, size_t len)
{
    static const char prefix[] = KIT_PREFIX ":";

    if (text == NULL || len < sizeof(prefix) - 1)
        return false;
    for (size_t i = 0; i < sizeof(prefix) - 1; i++)
        if (upper(text[i]) != prefix[i])
            return false;
    return true;
}

int onr_kit_new_id(char kit[ONR_KIT_ID_LEN + 1])
{
    uint8_t random[13]; /* 100 bits used */
    int rc;

    if (kit == NULL)
        return ONR_EINVAL;
    rc = onr_random(random, sizeof(random));
    if (rc == ONR_OK) {
        base32_prefix(random, ONR_KIT_ID_LEN, kit);
        for (size_t i = 0; i < ONR_KIT_ID_LEN; i++)
            kit[i] = lower(kit[i]);
    }
    onr_wipe(random, sizeof(random));
    return rc;
}

int onr_kit_id_check(const char *kit, size_t len)
{
    if (kit == NULL)
        return ONR_EINVAL;
    if (len != ONR_KIT_ID_LEN)
        return ONR_ELENGTH;
    return onr_text_check(ONR_TEXT_DEVID, (struct onr_bytes){(const uint8_t *)kit, len});
}

int onr_label_claim_hash(const char *claim, uint8_t hash[32])
{
    char canon[ONR_LABEL_CLAIM_LEN];
    struct onr_bytes parts[2];
    int rc;

    if (claim == NULL || hash == NULL)
        return ONR_EINVAL;
    if (!claim_ok(claim, strnlen(claim, ONR_LABEL_CLAIM_LEN + 1)))
        return ONR_ECHARSET;
    for (size_t i = 0; i < ONR_LABEL_CLAIM_LEN; i++)
        canon[i] = upper(claim[i]);
    parts[0] = (struct onr_bytes){(const uint8_t *)CLAIM_CONTEXT, sizeof(CLAIM_CONTEXT)};
    parts[1] = (struct onr_bytes){(const uint8_t *)canon, sizeof(canon)};
    rc = onr_sha256(parts, 2, hash);
    onr_wipe(canon, sizeof(canon));
    return rc;
}

#define CLAIM_INFO "onramp/1 claim"
#define KIT_CLAIM_INFO "onramp/1 kit-claim"

/* info = context 0 id 0 prov (SPEC section 7): the id a device id for a
 * device's claim, a kit id for a kit's. */
static int claim_info(const char *context, const char *id, size_t id_len, const char *prov,
                      uint8_t *info, size_t cap, size_t *len)
{
    const char *ids[2] = {id, prov};

    if (id == NULL || strlen(id) != id_len)
        return ONR_EINVAL;
    return onr_seal_info(context, ids, 2, info, cap, len);
}

static int seal(const char *context, const char *id, size_t id_len,
                const uint8_t mfr_sealing_pub[32], const char *prov, const char *claim,
                uint8_t out[ONR_LABEL_SEALED_LEN])
{
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc;

    if (claim == NULL || strlen(claim) != ONR_LABEL_CLAIM_LEN)
        return ONR_EINVAL;
    rc = claim_info(context, id, id_len, prov, info, sizeof(info), &info_len);
    if (rc != ONR_OK)
        return rc;
    return onr_hpke_seal(mfr_sealing_pub, info, info_len, NULL, 0, (const uint8_t *)claim,
                         ONR_LABEL_CLAIM_LEN, out, out + 32);
}

static int open_claim(const char *context, const char *id, size_t id_len,
                      const uint8_t mfr_sealing_key[32], const char *prov,
                      const uint8_t *sealed, size_t sealed_len,
                      char claim[ONR_LABEL_CLAIM_LEN + 1])
{
    uint8_t info[ONR_SEAL_INFO_MAX];
    size_t info_len = 0;
    int rc;

    memset(claim, 0, ONR_LABEL_CLAIM_LEN + 1);
    if (sealed == NULL || sealed_len != ONR_LABEL_SEALED_LEN)
        return ONR_ELENGTH;
    rc = claim_info(context, id, id_len, prov, info, sizeof(info), &info_len);
    if (rc != ONR_OK)
        return rc;
    rc = onr_hpke_open(mfr_sealing_key, info, info_len, NULL, 0, sealed, sealed + 32,
                       sealed_len - 32, (uint8_t *)claim);
    claim[ONR_LABEL_CLAIM_LEN] = '\0';
    if (rc != ONR_OK)
        onr_wipe(claim, ONR_LABEL_CLAIM_LEN + 1);
    return rc;
}

int onr_label_claim_seal(const uint8_t mfr_sealing_pub[32], const char *dev, const char *prov,
                         const char *claim, uint8_t out[ONR_LABEL_SEALED_LEN])
{
    return seal(CLAIM_INFO, dev, ONR_DEVID_LEN, mfr_sealing_pub, prov, claim, out);
}

int onr_label_claim_open(const uint8_t mfr_sealing_key[32], const char *dev, const char *prov,
                         const uint8_t *sealed, size_t sealed_len,
                         char claim[ONR_LABEL_CLAIM_LEN + 1])
{
    return open_claim(CLAIM_INFO, dev, ONR_DEVID_LEN, mfr_sealing_key, prov, sealed, sealed_len,
                      claim);
}

int onr_kit_claim_seal(const uint8_t mfr_sealing_pub[32], const char *kit, const char *prov,
                       const char *claim, uint8_t out[ONR_LABEL_SEALED_LEN])
{
    return seal(KIT_CLAIM_INFO, kit, ONR_KIT_ID_LEN, mfr_sealing_pub, prov, claim, out);
}

int onr_kit_claim_open(const uint8_t mfr_sealing_key[32], const char *kit, const char *prov,
                       const uint8_t *sealed, size_t sealed_len,
                       char claim[ONR_LABEL_CLAIM_LEN + 1])
{
    return open_claim(KIT_CLAIM_INFO, kit, ONR_KIT_ID_LEN, mfr_sealing_key, prov, sealed,
                      sealed_len, claim);
}
