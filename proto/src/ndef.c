#include "onramp/ndef.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

/* Record header flags and type name formats (NDEF 1.0, 3.2). */
#define NDEF_MB 0x80
#define NDEF_ME 0x40
#define NDEF_CF 0x20
#define NDEF_SR 0x10
#define NDEF_IL 0x08
#define NDEF_TNF 0x07

enum {
    TNF_EMPTY = 0,
    TNF_WELL_KNOWN = 1,
    TNF_MEDIA = 2,
    TNF_ABSOLUTE_URI = 3,
    TNF_EXTERNAL = 4,
    TNF_UNKNOWN = 5,
    TNF_UNCHANGED = 6,
    TNF_RESERVED = 7,
};

/* The Text record's status byte (RTD Text 1.0, 3.2.1). */
#define TEXT_UTF16 0x80
#define TEXT_RESERVED 0x40
#define TEXT_LANG_LEN 0x3f

#define LANG "en"

int onr_ndef_text_encode(const char *text, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    size_t payload = 1 + (sizeof(LANG) - 1) + len;
    size_t total = 4 + payload;

    if (text == NULL || out == NULL || out_len == NULL)
        return ONR_EINVAL;
    *out_len = 0;
    if (len == 0 || len > ONR_NDEF_TEXT_MAX)
        return ONR_ELENGTH;
    if (onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)text, len}) != ONR_OK)
        return ONR_ECHARSET;
    if (total > cap)
        return ONR_ESPACE;
    out[0] = NDEF_MB | NDEF_ME | NDEF_SR | TNF_WELL_KNOWN;
    out[1] = 1;               /* type length */
    out[2] = (uint8_t)payload; /* short record: one byte */
    out[3] = 'T';
    out[4] = sizeof(LANG) - 1; /* UTF-8, the language's length */
    memcpy(out + 5, LANG, sizeof(LANG) - 1);
    memcpy(out + 5 + sizeof(LANG) - 1, text, len);
    *out_len = total;
    return ONR_OK;
}

size_t onr_ndef_tag_bytes(size_t msg_len)
{
    return 1 + (msg_len < 0xff ? 1 : 3) + msg_len + 1;
}

/* One record's parts, pointing into the message. */
struct record {
    uint8_t flags;
    uint8_t tnf;
    struct onr_bytes type;
    struct onr_bytes payload;
};

/* The record at msg[*at..len): its parts, and *at moved past it. */
static int next_record(const uint8_t *msg, size_t len, size_t *at, struct record *r)
{
    size_t p = *at;
    size_t type_len, id_len = 0, payload_len;

    if (len - p < 2)
        return ONR_ETRUNCATED;
    r->flags = msg[p];
    r->tnf = msg[p] & NDEF_TNF;
    type_len = msg[p + 1];
    p += 2;
    if (r->flags & NDEF_SR) {
        if (len - p < 1)
            return ONR_ETRUNCATED;
        payload_len = msg[p++];
    } else {
        if (len - p < 4)
            return ONR_ETRUNCATED;
        payload_len = (size_t)msg[p] << 24 | (size_t)msg[p + 1] << 16 |
                      (size_t)msg[p + 2] << 8 | msg[p + 3];
        p += 4;
    }
    if (r->flags & NDEF_IL) {
        if (len - p < 1)
            return ONR_ETRUNCATED;
        id_len = msg[p++];
    }
    /* each part within what is left; no sum can wrap: len is bounded */
    if (type_len > len - p || id_len > len - p - type_len ||
        payload_len > len - p - type_len - id_len)
        return ONR_ETRUNCATED;
    if ((r->flags & NDEF_CF) || r->tnf == TNF_UNCHANGED || r->tnf == TNF_RESERVED)
        return ONR_EMALFORMED;
    if (r->tnf == TNF_EMPTY && (type_len != 0 || id_len != 0 || payload_len != 0))
        return ONR_EMALFORMED;
    if (r->tnf == TNF_UNKNOWN && type_len != 0)
        return ONR_EMALFORMED;
    if (r->tnf >= TNF_WELL_KNOWN && r->tnf <= TNF_EXTERNAL && type_len == 0)
        return ONR_EMALFORMED;
    r->type = (struct onr_bytes){msg + p, type_len};
    r->payload = (struct onr_bytes){msg + p + type_len + id_len, payload_len};
    *at = p + type_len + id_len + payload_len;
    return ONR_OK;
}

static int is_text(const struct record *r)
{
    return r->tnf == TNF_WELL_KNOWN && r->type.len == 1 && r->type.ptr[0] == 'T';
}

/* A Text record's payload: status byte, language, text. */
static int text_payload(struct onr_bytes payload, struct onr_ndef_text *out)
{
    size_t lang_len;

    if (payload.len < 1)
        return ONR_EMALFORMED;
    if (payload.ptr[0] & TEXT_RESERVED)
        return ONR_EMALFORMED;
    lang_len = payload.ptr[0] & TEXT_LANG_LEN;
    if (lang_len > payload.len - 1)
        return ONR_EMALFORMED;
    if (payload.ptr[0] & TEXT_UTF16)
        return ONR_ECHARSET;
    for (size_t i = 0; i < lang_len; i++) {
        uint8_t c = payload.ptr[1 + i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
            return ONR_ECHARSET;
        out->lang[i] = (char)c;
    }
    out->lang[lang_len] = '\0';
    out->text = (struct onr_bytes){payload.ptr + 1 + lang_len, payload.len - 1 - lang_len};
    return onr_text_check(ONR_TEXT_UTF8, out->text) == ONR_OK ? ONR_OK : ONR_ECHARSET;
}

int onr_ndef_text_decode(const uint8_t *msg, size_t len, struct onr_ndef_text *out)
{
    struct record records[ONR_NDEF_RECORDS_MAX];
    size_t n = 0, at = 0;
    const struct record *text = NULL;
    int rc = ONR_OK;

    if (msg == NULL || out == NULL)
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len > ONR_NDEF_MAX)
        return ONR_ETOOBIG;
    if (len == 0)
        return ONR_ETRUNCATED;
    /* the whole message first: nothing is used before every record parses */
    for (;;) {
        if (n == ONR_NDEF_RECORDS_MAX)
            return ONR_ECOUNT;
        rc = next_record(msg, len, &at, &records[n]);
        if (rc != ONR_OK)
            return rc;
        if (((records[n].flags & NDEF_MB) != 0) != (n == 0))
            return ONR_EMALFORMED;
        if (records[n++].flags & NDEF_ME)
            break;
        if (at == len)
            return ONR_ETRUNCATED; /* no record with ME */
    }
    if (at != len)
        return ONR_ETRAILING;
    for (size_t i = 0; i < n; i++) {
        if (!is_text(&records[i]))
            continue;
        if (text != NULL)
            return ONR_EFORMAT;
        text = &records[i];
    }
    if (text == NULL)
        return ONR_ENOENT;
    rc = text_payload(text->payload, out);
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
