/*
 * The broker plugin's judgement of topic names and subscription filters
 * (broker-plugins/src/topic.c): every PUBLISH and SUBSCRIBE of an
 * anonymous device passes through it before the plugin decides.
 *
 * Input: a byte giving the size of the log buffer, then up to three
 * NUL-separated strings: a subscription filter, a topic name, and a third
 * used both as a pattern and as a provider id.
 * Checks: a filter "within" a pattern never matches a topic the pattern
 * does not; a valid topic name matches itself; a provider-device topic is
 * one the provider's device pattern matches; a $share filter strips to a
 * pointer inside it; escaping writes only printable ASCII, terminated,
 * within the buffer, and leaves short printable text as it is.
 *
 * The same input, all of it after the first byte (NULs included), and the
 * second string also go through proto's topic parser (onramp/topic.h): a
 * topic it accepts is one the plugin calls a valid name, its parts build
 * it again byte for byte, it matches the filter its service would
 * subscribe with, and an operational device's topic is the plugin's
 * provider-device topic.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/text.h"
#include "onramp/topic.h"
#include "topic.h"

#define FIELD_MAX (TOPIC_MAX + 64)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A filter as the plugin writes its own patterns: levels that are a lone
 * '+', a lone final '#', or free of wildcards. */
static bool well_formed(const char *f)
{
    size_t len = strlen(f);

    if (len == 0 || len > TOPIC_MAX)
        return false;
    for (const char *l = f;;) {
        size_t n = strcspn(l, "/");

        if (memchr(l, '+', n) != NULL && n != 1)
            return false;
        if (memchr(l, '#', n) != NULL && (n != 1 || l[1] != '\0'))
            return false;
        if (l[n] == '\0')
            return true;
        l += n + 1;
    }
}

/* onr_text_escape, as the plugin logs topics and client ids: bounded,
 * terminated, nothing that could end a field or forge one, every '\\' an
 * escape or the cut mark, and text that needs no escape unchanged. */
static void escape(const char *in, size_t cap)
{
    char out[300];
    size_t len;
    size_t in_len = strlen(in);
    bool plain = true;

    memset(out, 'Z', sizeof(out));
    onr_text_escape(in, in_len, out, cap);
    if (cap == 0) {
        FUZZ_CHECK(out[0] == 'Z', "wrote into an empty buffer");
        return;
    }
    len = strnlen(out, cap);
    FUZZ_CHECK(len < cap, "not terminated within %zu", cap);
    FUZZ_CHECK(out[cap] == 'Z' || cap == sizeof(out), "wrote past %zu", cap);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];

        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '=' && c != '"', "byte 0x%02x in a log field",
                   c);
        if (c == '\\')
            FUZZ_CHECK(out[i + 1] == 'x' || strcmp(out + i, "\\...") == 0,
                       "a backslash that is no escape at %zu", i);
    }
    for (const char *c = in; *c != '\0'; c++)
        plain = plain && *c > 0x20 && *c < 0x7f && *c != '=' && *c != '"' && *c != '\\';
    if (plain && in_len < cap)
        FUZZ_CHECK(strcmp(out, in) == 0, "text that needs no escape changed");
}

/* The topic a parse says `t` is, built again from its parts. */
static void rebuild(const struct onr_topic *t, char *out, size_t cap)
{
    char rest[ONR_TOPIC_MAX + 1];
    int rc = ONR_OK;

    switch (t->kind) {
    case ONR_TOPIC_KIND_UP: rc = onr_topic_up(t->dev, t->role, t->svc, out, cap); break;
    case ONR_TOPIC_KIND_DOWN: rc = onr_topic_down(t->dev, out, cap); break;
    case ONR_TOPIC_KIND_IN: rc = onr_topic_in(t->role, t->svc, out, cap); break;
    case ONR_TOPIC_KIND_EV: rc = onr_topic_ev(t->role, t->svc, out, cap); break;
    case ONR_TOPIC_KIND_OPERATIONAL:
        FUZZ_CHECK(t->rest.len <= ONR_TOPIC_MAX, "rest of %zu bytes", t->rest.len);
        memcpy(rest, t->rest.ptr, t->rest.len);
        rest[t->rest.len] = '\0';
        rc = onr_topic_operational(t->svc, t->dev, rest, out, cap);
        break;
    case ONR_TOPIC_KIND_VOUCHER: snprintf(out, cap, "%s", ONR_TOPIC_VOUCHER); break;
    case ONR_TOPIC_KIND_CONTROL: snprintf(out, cap, "%s", ONR_TOPIC_CONTROL); break;
    case ONR_TOPIC_KIND_CONTROL_RESPONSE:
        snprintf(out, cap, "%s", ONR_TOPIC_CONTROL_RESPONSE);
        break;
    default: FUZZ_CHECK(0, "kind %d", (int)t->kind);
    }
    FUZZ_CHECK(rc == ONR_OK, "parts of a parsed topic do not build: %d", rc);
}

/* The filter the topic's addressee subscribes with ("" if none). */
static void addressee_filter(const struct onr_topic *t, char *out, size_t cap)
{
    int rc = ONR_OK;

    out[0] = '\0';
    if (t->kind == ONR_TOPIC_KIND_UP)
        rc = onr_topic_filter_up(NULL, t->role, t->svc, out, cap);
    else if (t->kind == ONR_TOPIC_KIND_IN)
        rc = onr_topic_filter_in(NULL, t->role, t->svc, out, cap);
    else if (t->kind == ONR_TOPIC_KIND_EV)
        rc = onr_topic_filter_ev(NULL, t->role, NULL, out, cap);
    else if (t->kind == ONR_TOPIC_KIND_OPERATIONAL)
        rc = onr_topic_filter_operational(NULL, t->svc, NULL, out, cap);
    FUZZ_CHECK(rc == ONR_OK, "no filter for a parsed topic: %d", rc);
}

/* onr_topic_parse on `len` bytes at `p` (no NUL after them needed). */
static void parse(const uint8_t *p, size_t len)
{
    char topic[ONR_TOPIC_MAX + 1];
    char again[ONR_TOPIC_MAX + 1];
    char filter[ONR_TOPIC_MAX + 1];
    struct onr_topic t;
    int rc = onr_topic_parse((const char *)p, len, &t);

    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == (len > ONR_TOPIC_MAX ? ONR_ETOOBIG : ONR_EFORMAT), "parse: %d", rc);
        FUZZ_CHECK(t.kind == 0 && t.dev[0] == '\0' && t.svc[0] == '\0', "parts after a refusal");
        return;
    }
    FUZZ_CHECK(len <= ONR_TOPIC_MAX, "parsed %zu bytes", len);
    FUZZ_CHECK(memchr(p, '\0', len) == NULL, "parsed a NUL");
    FUZZ_CHECK(t.rest.len == 0 || (t.rest.ptr >= p && t.rest.ptr + t.rest.len == p + len),
               "rest outside the topic");
    memcpy(topic, p, len);
    topic[len] = '\0';
    rebuild(&t, again, sizeof(again));
    FUZZ_CHECK(strcmp(again, topic) == 0, "'%s' builds again as '%s'", topic, again);
    FUZZ_CHECK(topic_name_ok(topic, true), "the plugin refuses parsed '%s'", topic);
    FUZZ_CHECK(topic_name_ok(topic, false) == (topic[0] != '$'), "'$' topic '%s'", topic);
    addressee_filter(&t, filter, sizeof(filter));
    FUZZ_CHECK(filter[0] == '\0' || topic_matches(filter, topic), "'%s' outside '%s'", topic,
               filter);
    if (t.kind == ONR_TOPIC_KIND_OPERATIONAL)
        FUZZ_CHECK(topic_provider_device(topic, t.svc), "'%s' not of provider %s", topic, t.svc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char field[3][FIELD_MAX + 1];
    const char *filter = field[0];
    const char *topic = field[1];
    const char *prov = field[2];
    char pattern[FIELD_MAX + 64];
    const char *stripped;
    bool shared = false;
    size_t cap;
    size_t at = 1;

    if (size < 1)
        return 0;
    parse(data + 1, size - 1);
    cap = data[0] % 300;
    for (int i = 0; i < 3; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, '\0', size - at) : NULL;
        size_t len = at >= size ? 0 : nul != NULL ? (size_t)(nul - (data + at)) : size - at;

        if (len > FIELD_MAX)
            return 0;
        if (len > 0)
            memcpy(field[i], data + at, len);
        field[i][len] = '\0';
        at += len + 1;
    }

    escape(filter, cap);
    escape(topic, cap);
    parse((const uint8_t *)topic, strlen(topic));

    stripped = topic_strip_share(filter, &shared);
    FUZZ_CHECK(shared == (strncmp(filter, "$share/", 7) == 0), "shared flag");
    FUZZ_CHECK(stripped == NULL ? shared
                                : stripped >= filter && stripped <= filter + strlen(filter),
               "stripped filter outside the filter");
    FUZZ_CHECK(shared || stripped == filter, "a plain filter changed");

    if (!topic_name_ok(topic, true))
        return 0;
    FUZZ_CHECK(topic_matches(topic, topic), "a topic does not match itself");
    if (topic_name_ok(topic, false))
        FUZZ_CHECK(topic[0] != '$', "a $ topic for a client");
    /* the third string as a pattern, and the topic itself as one */
    if (stripped != NULL && well_formed(stripped)) {
        for (int i = 0; i < 2; i++) {
            const char *p = i == 0 ? prov : topic;

            if (well_formed(p) && topic_filter_within(stripped, p) &&
                topic_matches(stripped, topic))
                FUZZ_CHECK(topic_matches(p, topic), "filter '%s' within '%s' matched '%s'",
                           stripped, p, topic);
        }
    }
    if (prov[0] != '\0' && strlen(prov) <= ONR_SERVICE_ID_MAX &&
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)prov, strlen(prov)}) ==
            0 &&
        topic_provider_device(topic, prov)) {
        FUZZ_CHECK(onr_topic_filter_operational(NULL, prov, NULL, pattern, sizeof(pattern)) ==
                       ONR_OK,
                   "no filter for provider %s", prov);
        FUZZ_CHECK(topic_matches(pattern, topic), "provider topic '%s' outside '%s'", topic,
                   pattern);
        FUZZ_CHECK(topic_below(topic, ONR_TOPIC_OPERATIONAL_ROOT), "below");
    }
    return 0;
}
