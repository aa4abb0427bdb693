/*
 * A label's NFC tag (proto/SPEC.md section 12, "On an NFC tag"): the NDEF
 * message a phone, onrampctl label --ndef or a provider's app reads from a
 * tag anyone may have rewritten.
 *
 * Input: an NDEF message.
 * Checks: a refused message leaves the result zeroed; an accepted one
 * gives text inside the input, valid UTF-8 without control characters,
 * and a terminated language code; that text encoded again decodes to the
 * same text (language "en"), and a message in the one form the encoder
 * writes encodes back to the input byte for byte.
 */
#include <string.h>

#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/ndef.h"
#include "onramp/text.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct onr_ndef_text zero;
    struct onr_ndef_text t, back;
    struct onr_label label;
    uint8_t out[ONR_NDEF_ENCODED_MAX];
    size_t len = 0;
    int rc;

    rc = onr_ndef_text_decode(data, size, &t);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "decode returned %d", rc);
        FUZZ_CHECK(memcmp(&t, &zero, sizeof(t)) == 0, "refused message not zeroed");
        return 0;
    }
    FUZZ_CHECK(t.text.ptr >= data && t.text.len <= size &&
                   t.text.ptr + t.text.len <= data + size,
               "text outside the input");
    FUZZ_CHECK(strlen(t.lang) < sizeof(t.lang), "language not terminated");
    FUZZ_CHECK(onr_text_check(ONR_TEXT_UTF8, t.text) == ONR_OK, "text not clean UTF-8");
    rc = onr_label_decode((const char *)t.text.ptr, t.text.len, &label); /* as onrampctl */
    FUZZ_CHECK(rc <= 0, "label decode returned %d", rc);
    if (t.text.len == 0 || t.text.len > ONR_NDEF_TEXT_MAX)
        return 0;
    rc = onr_ndef_text_encode((const char *)t.text.ptr, t.text.len, out, sizeof(out), &len);
    FUZZ_CHECK(rc == ONR_OK, "decoded text does not encode: %s", onr_error_name(rc));
    FUZZ_CHECK(onr_ndef_tag_bytes(len) == len + 3, "tag bytes of a short message");
    rc = onr_ndef_text_decode(out, len, &back);
    FUZZ_CHECK(rc == ONR_OK && strcmp(back.lang, "en") == 0 &&
                   fuzz_same_bytes(back.text, t.text),
               "round trip");
    if (size == len && data[0] == 0xd1 && strcmp(t.lang, "en") == 0 && data[4] == 0x02)
        FUZZ_CHECK(memcmp(out, data, len) == 0, "the encoder's form is not stable");
    return 0;
}
