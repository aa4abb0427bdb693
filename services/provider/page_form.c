/*
 * Hostile input and output for the pairing page: every byte a browser (or
 * anything else) sends is decoded here within bounds, and everything the
 * page says is escaped here.
 */
#include "page.h"

#include <event2/buffer.h>
#include <string.h>

#include "onramp/bytes.h"
#include "onramp/error.h"
#include "onramp/text.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode `len` bytes of an encoded value into `f`. Raw bytes must be
 * printable ASCII other than '=' (a browser encodes everything else). */
static int decode_value(const char *s, size_t len, struct page_field *f)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = len - i >= 3 ? hex_value(s[i + 1]) : -1;
            int lo = len - i >= 3 ? hex_value(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return ONR_EFORMAT;
            c = hi << 4 | lo;
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || c == '=') {
            return ONR_EFORMAT;
        }
        if (c < 0x20 || c == 0x7f)
            return ONR_ECHARSET;
        if (o == PAGE_FIELD_MAX)
            return ONR_ETOOBIG;
        f->value[o++] = (char)c;
    }
    f->value[o] = '\0';
    f->len = o;
    return ONR_OK;
}

int page_form_parse(const char *body, size_t len, struct page_field *fields, size_t n,
                    const char **bad)
{
    size_t at = 0;

    if (bad != NULL)
        *bad = NULL;
    for (size_t i = 0; i < n; i++) {
        fields[i].value[0] = '\0';
        fields[i].len = 0;
        fields[i].seen = 0;
    }
    while (at < len) {
        const char *pair = body + at;
        const char *amp = memchr(pair, '&', len - at);
        size_t pair_len = amp != NULL ? (size_t)(amp - pair) : len - at;
        const char *eq = memchr(pair, '=', pair_len);
        size_t name_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
        struct page_field *f = NULL;
        int rc;

        at += pair_len + (amp != NULL ? 1 : 0);
        if (pair_len == 0)
            continue; /* "a=1&&b=2", or a trailing '&' */
        for (size_t i = 0; i < n && f == NULL; i++)
            if (strlen(fields[i].name) == name_len &&
                memcmp(fields[i].name, pair, name_len) == 0)
                f = &fields[i];
        if (f == NULL)
            return ONR_EUNKNOWNKEY;
        if (bad != NULL)
            *bad = f->name;
        if (f->seen)
            return ONR_EDUPKEY;
        f->seen = 1;
        rc = eq == NULL ? ONR_OK : decode_value(eq + 1, pair_len - name_len - 1, f);
        if (rc != ONR_OK)
            return rc;
        if (bad != NULL)
            *bad = NULL;
    }
    return ONR_OK;
}

void page_trim(struct page_field *f)
{
    size_t start = 0;

    while (f->len > 0 && f->value[f->len - 1] == ' ')
        f->len--;
    while (start < f->len && f->value[start] == ' ')
        start++;
    memmove(f->value, f->value + start, f->len - start);
    f->len -= start;
    f->value[f->len] = '\0';
}

void page_html(struct evbuffer *out, const char *s, size_t len)
{
    int utf8 = onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)s, len}) ==
               ONR_OK;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '&': evbuffer_add(out, "&amp;", 5); break;
        case '<': evbuffer_add(out, "&lt;", 4); break;
        case '>': evbuffer_add(out, "&gt;", 4); break;
        case '"': evbuffer_add(out, "&quot;", 6); break;
        case '\'': evbuffer_add(out, "&#39;", 5); break;
        default:
            if (c < 0x20 || c == 0x7f)
                break;
            if (c >= 0x80 && !utf8)
                c = '?';
            evbuffer_add(out, &c, 1);
        }
    }
}

void page_json_string(struct evbuffer *out, const char *s, size_t len)
{
    evbuffer_add(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};

            evbuffer_add(out, esc, 2);
        } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
            evbuffer_add_printf(out, "\\u%04x", c);
        } else {
            evbuffer_add(out, &c, 1);
        }
    }
    evbuffer_add(out, "\"", 1);
}
