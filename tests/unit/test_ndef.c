#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/ndef.h"

/* SPEC section 12's example label and its NDEF message, as npm's `ndef`
 * 0.2.0 encodes it: ndef.encodeMessage([ndef.textRecord(label, "en")])
 * (proto/SPEC.md, "On an NFC tag"). */
#define LABEL "ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:ABCDEFGHIJKLMNOPQRST:PW7U"
#define LABEL_NDEF                                                                  \
    "d101475402656e4f4e52313a41434d453a5247554942373333464132584659525a445745485a53" \
    "4f48553734334f4e54343a4142434445464748494a4b4c4d4e4f50515253543a50573755"

static void test_ndef_encodes_the_spec_example(void **state)
{
    uint8_t expect[75];
    uint8_t out[ONR_NDEF_ENCODED_MAX];
    size_t len = 0;

    (void)state;
    onr_test_hex(LABEL_NDEF, expect, sizeof(expect));
    assert_onr(ONR_OK, onr_ndef_text_encode(LABEL, strlen(LABEL), out, sizeof(out), &len));
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(out, expect, len);
    assert_int_equal(onr_ndef_tag_bytes(len), 78);
}

static void test_ndef_decodes_the_spec_example(void **state)
{
    uint8_t msg[75];
    struct onr_ndef_text t;
    struct onr_label label;

    (void)state;
    onr_test_hex(LABEL_NDEF, msg, sizeof(msg));
    assert_onr(ONR_OK, onr_ndef_text_decode(msg, sizeof(msg), &t));
    assert_string_equal(t.lang, "en");
    assert_int_equal(t.text.len, strlen(LABEL));
    assert_memory_equal(t.text.ptr, LABEL, strlen(LABEL));
    assert_onr(ONR_OK, onr_label_decode((const char *)t.text.ptr, t.text.len, &label));
    assert_string_equal(label.dev, "rguib733fa2xfyrzdwehzsohu743ont4");
}

/* The longest label (a 32-character manufacturer id) fits NTAG213 with
 * its TLV and terminator: SPEC's count. */
static void test_ndef_the_longest_label_fits_ntag213(void **state)
{
    struct onr_label l = {.dev = "rguib733fa2xfyrzdwehzsohu743ont4",
                          .claim = "ABCDEFGHIJKLMNOPQRST"};
    char text[ONR_LABEL_MAX + 1];
    uint8_t out[ONR_NDEF_ENCODED_MAX];
    size_t len = 0;

    (void)state;
    memset(l.mfr, 'm', ONR_SERVICE_ID_MAX);
    assert_onr(ONR_OK, onr_label_encode(&l, text, sizeof(text)));
    assert_int_equal(strlen(text), ONR_LABEL_MAX);
    assert_onr(ONR_OK, onr_ndef_text_encode(text, strlen(text), out, sizeof(out), &len));
    assert_int_equal(len, 7 + ONR_LABEL_MAX);
    assert_int_equal(onr_ndef_tag_bytes(len), 3 + 7 + ONR_LABEL_MAX);
    assert_true(onr_ndef_tag_bytes(len) <= ONR_NDEF_NTAG213);
    /* the TLV's length takes 3 bytes from 255 on */
    assert_int_equal(onr_ndef_tag_bytes(254), 257);
    assert_int_equal(onr_ndef_tag_bytes(255), 260);
}

static void test_ndef_encoder_refuses_what_it_cannot_write(void **state)
{
    char text[ONR_NDEF_TEXT_MAX + 2];
    uint8_t out[ONR_NDEF_ENCODED_MAX + 8];
    size_t len = 99;

    (void)state;
    memset(text, 'A', sizeof(text));
    assert_onr(ONR_ELENGTH, onr_ndef_text_encode(text, 0, out, sizeof(out), &len));
    assert_int_equal(len, 0);
    assert_onr(ONR_ELENGTH, onr_ndef_text_encode(text, ONR_NDEF_TEXT_MAX + 1, out, sizeof(out),
                                                 &len));
    assert_onr(ONR_OK, onr_ndef_text_encode(text, ONR_NDEF_TEXT_MAX, out, sizeof(out), &len));
    assert_int_equal(len, ONR_NDEF_ENCODED_MAX);
    assert_int_equal(out[2], 255);
    assert_onr(ONR_ESPACE, onr_ndef_text_encode(text, 10, out, 16, &len));
    assert_onr(ONR_ECHARSET, onr_ndef_text_encode("a\nb", 3, out, sizeof(out), &len));
    assert_onr(ONR_ECHARSET, onr_ndef_text_encode("\xc3", 1, out, sizeof(out), &len));
    assert_onr(ONR_EINVAL, onr_ndef_text_encode(NULL, 1, out, sizeof(out), &len));
}

/* A message that decodes: a URI record before the Text one, an id, a long
 * (non-SR) record, another language. */
static void test_ndef_decoder_passes_over_other_records(void **state)
{
    static const uint8_t msg[] = {
        0x99, 0x01, 0x05, 0x02, 'U', 'i', 'd', 0x04, 'x', '.', 'o', 'g', /* URI, id "id" */
        0x41, 0x01, 0x00, 0x00, 0x00, 0x07, 'T', 0x05, 'e', 'n', '-', 'G', 'B', 'H', /* long */
    };
    struct onr_ndef_text t;

    (void)state;
    assert_onr(ONR_OK, onr_ndef_text_decode(msg, sizeof(msg), &t));
    assert_string_equal(t.lang, "en-GB");
    assert_int_equal(t.text.len, 1);
    assert_int_equal(t.text.ptr[0], 'H');
    /* an empty record alone holds no text */
    assert_onr(ONR_ENOENT, onr_ndef_text_decode((const uint8_t *)"\xd0\x00\x00", 3, &t));
}

struct bad {
    const char *hex;
    int rc;
    const char *what;
};

static void test_ndef_decoder_refuses_malformed_messages(void **state)
{
    static const struct bad bad[] = {
        {"d1", ONR_ETRUNCATED, "a header alone"},
        {"d101", ONR_ETRUNCATED, "no payload length"},
        {"d1010854", ONR_ETRUNCATED, "payload past the end"},
        {"c101000000", ONR_ETRUNCATED, "a long record's length cut"},
        {"c101ffffffff54", ONR_ETRUNCATED, "a long record of 4 GB"},
        {"d9010101", ONR_ETRUNCATED, "id length past the end"},
        {"d10203540265", ONR_ETRUNCATED, "payload past the end after the type"},
        {"91010354026565", ONR_ETRUNCATED, "no record with ME"},
        {"5101035402656e", ONR_EMALFORMED, "the first record without MB"},
        {"9101035402656ed101035402656e", ONR_EMALFORMED, "MB twice"},
        {"f101035402656e", ONR_EMALFORMED, "chunked"},
        {"d601035402656e", ONR_EMALFORMED, "TNF unchanged"},
        {"d701035402656e", ONR_EMALFORMED, "TNF reserved"},
        {"d0010054", ONR_EMALFORMED, "an empty record with a type"},
        {"d00001aa", ONR_EMALFORMED, "an empty record with a payload"},
        {"d5010054", ONR_EMALFORMED, "an unknown record with a type"},
        {"d1000100", ONR_EMALFORMED, "a well-known record without a type"},
        {"d101035442656e", ONR_EMALFORMED, "the status byte's reserved bit"},
        {"d101035403656e", ONR_EMALFORMED, "more language than payload"},
        {"d1010054", ONR_EMALFORMED, "a text record without a status byte"},
        {"d101035402656e00", ONR_ETRAILING, "a byte after ME"},
        {"d101035482656e", ONR_ECHARSET, "UTF-16"},
        {"d101035402652e", ONR_ECHARSET, "a language code with a dot"},
        {"d10104540165410a", ONR_ECHARSET, "a line break in the text"},
        {"d1010454016541ff", ONR_ECHARSET, "invalid UTF-8"},
        {"d2010154aa", ONR_ENOENT, "a media record of type T is no text"},
        {"d5000100", ONR_ENOENT, "no text record"},
        {"9101035402656e5101035402656e", ONR_EFORMAT, "two text records"},
    };
    uint8_t msg[64];
    struct onr_ndef_text t;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i].hex) / 2;
        int rc;

        onr_test_hex(bad[i].hex, msg, len);
        memset(&t, 0x5a, sizeof(t));
        rc = onr_ndef_text_decode(msg, len, &t);
        if (rc != bad[i].rc)
            fail_msg("%s: %s, expected %s", bad[i].what, onr_error_name(rc),
                     onr_error_name(bad[i].rc));
        assert_null(t.text.ptr);
        assert_int_equal(t.lang[0], 0);
    }
}

static void test_ndef_decoder_bounds_its_input(void **state)
{
    static uint8_t big[ONR_NDEF_MAX + 1];
    uint8_t many[3 * (ONR_NDEF_RECORDS_MAX + 1)];
    struct onr_ndef_text t;

    (void)state;
    assert_onr(ONR_ETOOBIG, onr_ndef_text_decode(big, sizeof(big), &t));
    assert_onr(ONR_ETRUNCATED, onr_ndef_text_decode(big, 0, &t));
    assert_onr(ONR_EINVAL, onr_ndef_text_decode(NULL, 3, &t));
    /* 17 empty records */
    for (size_t i = 0; i < ONR_NDEF_RECORDS_MAX + 1; i++) {
        many[3 * i] = (uint8_t)(0x10 | (i == 0 ? 0x80 : 0) | (i == ONR_NDEF_RECORDS_MAX ? 0x40 : 0));
        many[3 * i + 1] = 0;
        many[3 * i + 2] = 0;
    }
    assert_onr(ONR_ECOUNT, onr_ndef_text_decode(many, sizeof(many), &t));
    /* 16 are walked */
    many[3 * (ONR_NDEF_RECORDS_MAX - 1)] |= 0x40;
    assert_onr(ONR_ENOENT, onr_ndef_text_decode(many, 3 * ONR_NDEF_RECORDS_MAX, &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndef_encodes_the_spec_example),
        cmocka_unit_test(test_ndef_decodes_the_spec_example),
        cmocka_unit_test(test_ndef_the_longest_label_fits_ntag213),
        cmocka_unit_test(test_ndef_encoder_refuses_what_it_cannot_write),
        cmocka_unit_test(test_ndef_decoder_passes_over_other_records),
        cmocka_unit_test(test_ndef_decoder_refuses_malformed_messages),
        cmocka_unit_test(test_ndef_decoder_bounds_its_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
