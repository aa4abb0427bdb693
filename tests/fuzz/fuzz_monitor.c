/*
 * onrampctl monitor (services/ctl/describe.c, keys.c, render.c): any
 * payload on any topic under onr/1/#, described and printed as a text line
 * and a JSON line for an operator's terminal or log pipeline.
 *
 * Input: a length byte and that many bytes of topic, then the payload.
 * Checks: each rendering is exactly one line; the JSON line is valid JSON
 * (checked by a strict parser here) and ASCII; the text line has no
 * control character; a pairing label's claim secret appears in neither.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "monitor.h"
#include "onramp/error.h"
#include "onramp/label.h"

static struct ctl_keyring keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(ctl_keyring_add(&keys, ONR_ROLE_MANUFACTURER, FUZZ_MFR,
                               fuzz_key_public(FUZZ_KEY_SIGNER)) == ONR_OK,
               "keyring");
    FUZZ_CHECK(ctl_keyring_add(&keys, ONR_ROLE_OPERATOR, FUZZ_OP,
                               fuzz_key_public(FUZZ_KEY_SIGNER)) == ONR_OK,
               "keyring");
    return 0;
}

/* ---- a strict JSON reader: accept exactly RFC 8259's grammar ---------- */

struct reader {
    const char *p;
    const char *end;
    int depth;
};

static bool value(struct reader *r);

static void blank(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool string(struct reader *r)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    for (r->p++; r->p < r->end; r->p++) {
        unsigned char c = (unsigned char)*r->p;

        if (c == '"') {
            r->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (++r->p >= r->end)
                return false;
            if (*r->p == 'u') {
                if (r->end - r->p < 5)
                    return false;
                for (int i = 1; i <= 4; i++)
                    if (!is_hex(r->p[i]))
                        return false;
                r->p += 4;
            } else if (strchr("\"\\/bfnrt", *r->p) == NULL) {
                return false;
            }
        }
    }
    return false;
}

static bool number(struct reader *r)
{
    const char *start = r->p;

    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return false;
    if (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' && r->p[1] <= '9')
        return false; /* no leading zero */
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > start;
}

static bool members(struct reader *r, char close, bool keyed)
{
    r->p++;
    if (++r->depth > 16)
        return false;
    blank(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return true;
    }
    for (;;) {
        blank(r);
        if (keyed) {
            if (!string(r))
                return false;
            blank(r);
            if (r->p >= r->end || *r->p++ != ':')
                return false;
        }
        if (!value(r))
            return false;
        blank(r);
        if (r->p >= r->end)
            return false;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p++ != close)
            return false;
        r->depth--;
        return true;
    }
}

static bool value(struct reader *r)
{
    blank(r);
    if (r->p >= r->end)
        return false;
    switch (*r->p) {
    case '{': return members(r, '}', true);
    case '[': return members(r, ']', false);
    case '"': return string(r);
    case 't': return literal(r, "true");
    case 'f': return literal(r, "false");
    case 'n': return literal(r, "null");
    default: return number(r);
    }
}

/* ---- the target ---------------------------------------------------------- */

static char *render(const struct ctl_sighting *s, bool as_json, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);

    FUZZ_CHECK(f != NULL, "open_memstream");
    if (as_json)
        ctl_render_json(f, s);
    else
        ctl_render_text(f, s);
    FUZZ_CHECK(fclose(f) == 0, "fclose");
    *len = size;
    return text;
}

static void one_line(const char *text, size_t len, const char *what)
{
    FUZZ_CHECK(len >= 2 && text[len - 1] == '\n', "%s: not one line", what);
    for (size_t i = 0; i + 1 < len; i++)
        FUZZ_CHECK((unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f,
                   "%s: byte 0x%02x at %zu", what, (unsigned char)text[i], i);
}

/* The claim secret of a label somewhere in the payload, if any. */
static bool claim_in(const struct ctl_sighting *s, char claim[ONR_LABEL_CLAIM_LEN + 1])
{
    struct onr_label label;

    if (!s->decoded || s->env.msg.type != ONR_MSG_PAIRING)
        return false;
    if (onr_label_decode((const char *)s->env.msg.body.pairing.label.ptr,
                         s->env.msg.body.pairing.label.len, &label) != ONR_OK)
        return false;
    memcpy(claim, label.claim, ONR_LABEL_CLAIM_LEN + 1);
    return true;
}

static size_t count_ci(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    size_t found = 0;

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            found++;
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ctl_recent recent;
    struct ctl_sighting s;
    struct reader r;
    char claim[ONR_LABEL_CLAIM_LEN + 1];
    struct onr_bytes topic;
    const uint8_t *payload;
    size_t payload_len;
    char *text;
    size_t len;
    bool has_claim;

    if (size < 1 || (size_t)data[0] > size - 1)
        return 0;
    topic = (struct onr_bytes){data + 1, data[0]};
    payload = data + 1 + data[0];
    payload_len = size - 1 - data[0];
    /* the same message seen twice: the second time its id is known */
    memset(&recent, 0, sizeof(recent));
    ctl_describe(&keys, &recent, "2025-06-15T12:00:00.000Z", topic, payload, payload_len, &s);
    ctl_describe(&keys, &recent, "2025-06-15T12:00:00.000Z", topic, payload, payload_len, &s);
    FUZZ_CHECK(s.type != NULL && s.verdict != NULL, "type or verdict missing");
    FUZZ_CHECK(s.dev[0] == '\0' || onr_devid_check(s.dev, strlen(s.dev)) == ONR_OK,
               "dev '%s'", s.dev);
    /* a claim secret that is only in the label must not be shown */
    has_claim = claim_in(&s, claim) &&
                count_ci((const char *)payload, payload_len, claim) == 1 &&
                count_ci((const char *)topic.ptr, topic.len, claim) == 0;

    text = render(&s, true, &len);
    one_line(text, len, "json");
    r = (struct reader){text, text + len - 1, 0};
    FUZZ_CHECK(value(&r) && r.p == r.end, "invalid JSON at %zu: %s", (size_t)(r.p - text), text);
    FUZZ_CHECK(!has_claim || count_ci(text, len, claim) == 0, "JSON shows the claim secret");
    free(text);

    text = render(&s, false, &len);
    one_line(text, len, "text");
    FUZZ_CHECK(!has_claim || count_ci(text, len, claim) == 0, "text shows the claim secret");
    free(text);
    return 0;
}
