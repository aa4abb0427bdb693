#include "onramp/text.h"

#include <stdint.h>
#include <string.h>

#include "onramp/error.h"

static int is_id_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* Strict UTF-8 (no overlong forms, surrogates or values above U+10FFFF)
 * without C0/C1 control characters or DEL, so text is safe in logs. */
static int utf8_text_ok(struct onr_bytes s)
{
    size_t i = 0;

    while (i < s.len) {
        uint8_t c = s.ptr[i];
        uint32_t cp;
        size_t extra;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (s.len - i - 1 < extra)
            return 0;
        for (size_t k = 1; k <= extra; k++) {
            uint8_t cc = s.ptr[i + k];

            if ((cc & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (cc & 0x3fu);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += extra + 1;
    }
    return 1;
}

int onr_text_check(enum onr_text_class cls, struct onr_bytes s)
{
    if (s.ptr == NULL && s.len > 0)
        return ONR_EINVAL;
    switch (cls) {
    case ONR_TEXT_ID:
        if (s.len > 0 && (s.ptr[0] == '.' || s.ptr[0] == '_' || s.ptr[0] == '-'))
            return ONR_ECHARSET;
        for (size_t i = 0; i < s.len; i++)
            if (!is_id_char(s.ptr[i]))
                return ONR_ECHARSET;
        return ONR_OK;
    case ONR_TEXT_DIGITS:
        for (size_t i = 0; i < s.len; i++)
            if (s.ptr[i] < '0' || s.ptr[i] > '9')
                return ONR_ECHARSET;
        return ONR_OK;
    case ONR_TEXT_PRINTABLE:
        for (size_t i = 0; i < s.len; i++)
            if (s.ptr[i] < 0x21 || s.ptr[i] > 0x7e)
                return ONR_ECHARSET;
        return ONR_OK;
    case ONR_TEXT_UTF8:
        return utf8_text_ok(s) ? ONR_OK : ONR_ECHARSET;
    case ONR_TEXT_DEVID:
        for (size_t i = 0; i < s.len; i++)
            if (!((s.ptr[i] >= 'a' && s.ptr[i] <= 'z') || (s.ptr[i] >= '2' && s.ptr[i] <= '7')))
                return ONR_ECHARSET;
        return ONR_OK;
    default:
        return ONR_EINVAL;
    }
}

/* Bytes logged as they are: visible ASCII that cannot end a field or start
 * one or an escape. */
static int log_plain(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '=' && c != '"' && c != '\\';
}

const char *onr_text_escape(const void *data, size_t len, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    static const char mark[] = "\\...";
    const uint8_t *p = data;
    size_t need = 0;
    size_t room;
    size_t o = 0;

    if (out == NULL || cap == 0)
        return "";
    if (p == NULL)
        len = 0;
    for (size_t i = 0; i < len && need < cap; i++)
        need += log_plain(p[i]) ? 1 : 4;
    /* all of it, or as much as leaves room for the mark */
    room = need < cap ? cap - 1 : (cap > sizeof(mark) - 1 ? cap - sizeof(mark) : 0);
    for (size_t i = 0; i < len; i++) {
        size_t n = log_plain(p[i]) ? 1 : 4;

        if (o + n > room)
            break;
        if (n == 1) {
            out[o++] = (char)p[i];
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = digits[p[i] >> 4];
            out[o++] = digits[p[i] & 0xf];
        }
    }
    if (need >= cap && cap >= sizeof(mark)) {
        memcpy(out + o, mark, sizeof(mark) - 1);
        o += sizeof(mark) - 1;
    }
    out[o] = '\0';
    return out;
}
