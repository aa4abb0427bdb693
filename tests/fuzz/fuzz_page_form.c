/*
 * The provider's pairing page (services/provider/page_form.c): the POST
 * body any browser, or anything else, sends to /pair, and the escaping of
 * what the page writes back into HTML and JSON.
 *
 * Input: an application/x-www-form-urlencoded body with the form's fields.
 * Checks: a body that parses, encoded again, parses to the same values;
 * trimming is idempotent; HTML output has no raw markup character and no
 * control character; JSON output is one string with no raw quote,
 * backslash, control character or < > &.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/error.h"
#include "page.h"

static const char *const names[] = {"label", "mfr", "dev", "claim", "account", "operator"};
#define N_FIELDS (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void init_fields(struct page_field *f)
{
    memset(f, 0, N_FIELDS * sizeof(*f));
    for (size_t i = 0; i < N_FIELDS; i++)
        f[i].name = names[i];
}

/* A browser's encoding of the parsed fields. */
static size_t encode(const struct page_field *f, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!f[i].seen)
            continue;
        o += (size_t)snprintf(out + o, cap - o, "%s%s=", o > 0 ? "&" : "", f[i].name);
        for (size_t k = 0; k < f[i].len; k++) {
            unsigned char c = (unsigned char)f[i].value[k];

            FUZZ_CHECK(o + 3 < cap, "encoding too long");
            if (c == ' ') {
                out[o++] = '+';
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_') {
                out[o++] = (char)c;
            } else {
                out[o++] = '%';
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            }
        }
    }
    return o;
}

static void html(const char *s, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    size_t n;
    const unsigned char *p;

    FUZZ_CHECK(out != NULL, "evbuffer");
    page_html(out, s, len);
    n = evbuffer_get_length(out);
    p = evbuffer_pullup(out, -1);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(p[i] != '<' && p[i] != '>' && p[i] != '"' && p[i] != '\'' &&
                       p[i] >= 0x20 && p[i] != 0x7f,
                   "HTML output byte 0x%02x", p[i]);
    evbuffer_free(out);
}

static void json(const char *s, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    size_t n;
    const unsigned char *p;

    FUZZ_CHECK(out != NULL, "evbuffer");
    page_json_string(out, s, len);
    n = evbuffer_get_length(out);
    p = evbuffer_pullup(out, -1);
    FUZZ_CHECK(n >= 2 && p[0] == '"' && p[n - 1] == '"', "JSON string quotes");
    for (size_t i = 1; i + 1 < n; i++) {
        FUZZ_CHECK(p[i] >= 0x20 && p[i] != 0x7f && p[i] != '<' && p[i] != '>' && p[i] != '&' &&
                       p[i] != '"',
                   "JSON output byte 0x%02x", p[i]);
        if (p[i] == '\\') {
            FUZZ_CHECK(i + 2 < n && (p[i + 1] == '"' || p[i + 1] == '\\' || p[i + 1] == 'u'),
                       "JSON escape");
            i++;
        }
    }
    evbuffer_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct page_field f[N_FIELDS];
    struct page_field back[N_FIELDS];
    static char again[N_FIELDS * (16 + 3 * PAGE_FIELD_MAX) + 1];
    const char *bad = NULL;
    size_t again_len;
    int rc;

    init_fields(f);
    html((const char *)data, size);
    json((const char *)data, size);
    if (size > PAGE_BODY_MAX)
        return 0; /* the page answers 413 first */
    rc = page_form_parse((const char *)data, size, f, N_FIELDS, &bad);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_EUNKNOWNKEY || rc == ONR_EDUPKEY ||
                       rc == ONR_ETOOBIG || rc == ONR_ECHARSET,
                   "parse: %s", onr_error_name(rc));
        return 0;
    }
    FUZZ_CHECK(bad == NULL, "a field blamed on success");
    for (size_t i = 0; i < N_FIELDS; i++) {
        FUZZ_CHECK(f[i].len <= PAGE_FIELD_MAX && strlen(f[i].value) == f[i].len,
                   "%s: length", names[i]);
        for (size_t k = 0; k < f[i].len; k++)
            FUZZ_CHECK((unsigned char)f[i].value[k] >= 0x20 && f[i].value[k] != 0x7f,
                       "%s: control character", names[i]);
    }
    again_len = encode(f, again, sizeof(again));
    init_fields(back);
    rc = page_form_parse(again, again_len, back, N_FIELDS, &bad);
    FUZZ_CHECK(rc == ONR_OK, "re-encoded form refused: %s", onr_error_name(rc));
    for (size_t i = 0; i < N_FIELDS; i++) {
        FUZZ_CHECK(back[i].seen == f[i].seen && back[i].len == f[i].len &&
                       memcmp(back[i].value, f[i].value, f[i].len) == 0,
                   "%s differs after the round trip", names[i]);
        page_trim(&back[i]);
        memcpy(&f[i], &back[i], sizeof(f[i]));
        page_trim(&f[i]);
        FUZZ_CHECK(f[i].len == back[i].len && strcmp(f[i].value, back[i].value) == 0,
                   "trim not idempotent");
        FUZZ_CHECK(f[i].len == 0 || (f[i].value[0] != ' ' && f[i].value[f[i].len - 1] != ' '),
                   "trim left a space");
    }
    return 0;
}
