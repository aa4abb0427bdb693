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
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/text.h"
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
        snprintf(pattern, sizeof(pattern), "onr/1/p/%s/dev/+/#", prov);
        FUZZ_CHECK(topic_matches(pattern, topic), "provider topic '%s' outside '%s'", topic,
                   pattern);
        FUZZ_CHECK(topic_below(topic, "onr/1/p/"), "below");
    }
    return 0;
}
