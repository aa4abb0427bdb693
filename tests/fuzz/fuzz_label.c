/*
 * The label payload (proto/SPEC.md section 12): what a user types or a
 * QR scanner reads, handed to the provider (onrampctl pair, the pairing
 * page, a PAIRING message) and shown masked by onrampctl monitor; and the
 * claim as it travels sealed to the manufacturer in a REGISTRATION.
 *
 * Input: label text (a device's or a kit's); an input of exactly
 * ONR_LABEL_SEALED_LEN bytes is also opened as a sealed claim, a device's
 * and a kit's, with the fixed manufacturer key.
 * Checks: a decoded label encodes to the input in uppercase (the one
 * canonical form) and decodes to itself again; the monitor's view names
 * the same manufacturer and device; a masked label never shows the claim;
 * an opened claim is a valid claim secret; a kit label decodes likewise
 * (canonical form, round trip) and is never a device label too.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "monitor.h"
#include "onramp/error.h"
#include "onramp/label.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void claim_open(const uint8_t *data, size_t size)
{
    char claim[ONR_LABEL_CLAIM_LEN + 1];
    uint8_t hash[32];
    int rc;

    rc = onr_label_claim_open(fuzz_seal_mfr, FUZZ_DEV, FUZZ_PROV, data, size, claim);
    if (rc != ONR_OK)
        rc = onr_kit_claim_open(fuzz_seal_mfr, FUZZ_KIT, FUZZ_PROV, data, size, claim);
    if (rc != ONR_OK) {
        static const char zero[ONR_LABEL_CLAIM_LEN + 1];

        FUZZ_CHECK(memcmp(claim, zero, sizeof(zero)) == 0, "claim not wiped");
        return;
    }
    FUZZ_CHECK(strlen(claim) == ONR_LABEL_CLAIM_LEN, "claim of %zu", strlen(claim));
    /* a claim that opened is whatever the provider sealed: the hash the
     * manufacturer compares must refuse anything but base32 */
    rc = onr_label_claim_hash(claim, hash);
    FUZZ_CHECK(rc == ONR_OK || rc == ONR_ECHARSET, "claim hash: %s", onr_error_name(rc));
}

/* A kit label: canonical, round trip, and no device label. */
static void kit_label(const uint8_t *data, size_t size)
{
    struct onr_kit_label kit, back;
    struct onr_label device;
    char out[ONR_KIT_LABEL_MAX + 1];
    int rc = onr_kit_label_decode((const char *)data, size, &kit);

    if (rc != ONR_OK) {
        static const struct onr_kit_label zero;

        FUZZ_CHECK(memcmp(&kit, &zero, sizeof(zero)) == 0, "refused kit label not zeroed");
        return;
    }
    FUZZ_CHECK(onr_label_is_kit((const char *)data, size), "a kit label without its prefix");
    FUZZ_CHECK(onr_label_decode((const char *)data, size, &device) != ONR_OK,
               "a kit label that is a device label too");
    rc = onr_kit_label_encode(&kit, out, sizeof(out));
    FUZZ_CHECK(rc == ONR_OK && strlen(out) == size, "kit label does not encode back");
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(out[i] == toupper(data[i]), "kit label's canonical form differs at %zu", i);
    FUZZ_CHECK(onr_kit_label_decode(out, size, &back) == ONR_OK &&
                   memcmp(&back, &kit, sizeof(kit)) == 0,
               "kit label round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char out[ONR_LABEL_MAX + 1];
    char masked[128];
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];
    struct onr_label label;
    struct onr_label back;
    uint8_t hash[32];
    int rc;

    if (size == ONR_LABEL_SEALED_LEN)
        claim_open(data, size);
    kit_label(data, size);

    rc = onr_label_decode(text, size, &label);
    ctl_label_masked((struct onr_bytes){data, size}, masked, sizeof(masked));
    FUZZ_CHECK(strlen(masked) < sizeof(masked), "masked");
    if (rc != ONR_OK) {
        static const struct onr_label zero;

        FUZZ_CHECK(rc < 0, "decode returned %d", rc);
        FUZZ_CHECK(memcmp(&label, &zero, sizeof(zero)) == 0, "refused label not zeroed");
        FUZZ_CHECK(ctl_label_parts((struct onr_bytes){data, size}, mfr, dev) == rc &&
                       mfr[0] == '\0' && dev[0] == '\0',
                   "monitor's view of a refused label");
        return 0;
    }
    FUZZ_CHECK(strstr(masked, label.claim) == NULL, "masked label shows the claim");
    rc = onr_label_encode(&label, out, sizeof(out));
    FUZZ_CHECK(rc == ONR_OK, "decoded label does not encode: %s", onr_error_name(rc));
    FUZZ_CHECK(strlen(out) == size, "canonical length %zu, input %zu", strlen(out), size);
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(out[i] == toupper((unsigned char)text[i]), "canonical form differs at %zu",
                   i);
    rc = onr_label_decode(out, strlen(out), &back);
    FUZZ_CHECK(rc == ONR_OK && memcmp(&label, &back, sizeof(label)) == 0, "round trip");
    FUZZ_CHECK(onr_label_claim_hash(label.claim, hash) == ONR_OK, "claim hash");
    FUZZ_CHECK(ctl_label_parts((struct onr_bytes){data, size}, mfr, dev) == ONR_OK &&
                   strcmp(mfr, label.mfr) == 0 && strcmp(dev, label.dev) == 0,
               "monitor's view");
    return 0;
}
