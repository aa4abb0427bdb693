#include "topic.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

bool topic_name_ok(const char *topic, bool allow_dollar)
{
    size_t len;
    const char *p;

    if (topic == NULL)
        return false;
    len = strnlen(topic, TOPIC_MAX + 1);
    if (len == 0 || len > TOPIC_MAX)
        return false;
    if (topic[0] == '$' && !allow_dollar)
        return false;
    if (strpbrk(topic, "+#") != NULL)
        return false;
    /* no empty level: no leading or trailing '/', no "//" */
    if (topic[0] == '/' || topic[len - 1] == '/' || strstr(topic, "//") != NULL)
        return false;
    p = topic;
    return onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)p, len}) == ONR_OK;
}

/* The length of the level starting at `s` (up to '/' or the end). */
static size_t level_len(const char *s)
{
    return strcspn(s, "/");
}

bool topic_matches(const char *pattern, const char *topic)
{
    const char *p = pattern;
    const char *t = topic;

    if (pattern == NULL || topic == NULL)
        return false;
    if (topic[0] == '$' && (pattern[0] == '+' || pattern[0] == '#'))
        return false;
    for (;;) {
        size_t pl = level_len(p);
        size_t tl = level_len(t);

        if (pl == 1 && p[0] == '#' && p[1] == '\0')
            return true; /* the rest, including nothing */
        if (!(pl == 1 && p[0] == '+') && (pl != tl || memcmp(p, t, pl) != 0))
            return false;
        p += pl;
        t += tl;
        if (*p == '\0' || *t == '\0') {
            /* "a/#" also matches "a" */
            if (*t == '\0' && strcmp(p, "/#") == 0)
                return true;
            return *p == '\0' && *t == '\0';
        }
        p++; /* both at '/' */
        t++;
    }
}

/* A level of a filter is a lone "+", a lone "#", or has no wildcard. */
static bool filter_level_ok(const char *level, size_t len)
{
    if (len == 1 && (level[0] == '+' || level[0] == '#'))
        return true;
    return memchr(level, '+', len) == NULL && memchr(level, '#', len) == NULL;
}

bool topic_filter_within(const char *filter, const char *pattern)
{
    const char *f = filter;
    const char *p = pattern;

    if (filter == NULL || pattern == NULL || filter[0] == '\0' ||
        strnlen(filter, TOPIC_MAX + 1) > TOPIC_MAX)
        return false;
    /* A filter naming a '$' topic reaches what a pattern starting with a
     * wildcard never matches (MQTT 4.7.2, as topic_matches). */
    if (filter[0] == '$' && (pattern[0] == '+' || pattern[0] == '#'))
        return false;
    for (;;) {
        size_t fl = level_len(f);
        size_t pl = level_len(p);
        bool f_hash;
        bool p_hash;

        if (!filter_level_ok(f, fl))
            return false;
        f_hash = fl == 1 && f[0] == '#';
        p_hash = pl == 1 && p[0] == '#';
        if (f_hash && f[1] != '\0')
            return false; /* '#' must be last */
        if (p_hash)
            return true; /* the pattern takes anything from here on */
        if (f_hash)
            return false; /* the filter could reach where the pattern can't */
        if (fl == 1 && f[0] == '+') {
            if (!(pl == 1 && p[0] == '+'))
                return false; /* any level, where the pattern wants one */
        } else if (!(pl == 1 && p[0] == '+') && (fl != pl || memcmp(f, p, fl) != 0)) {
            return false;
        }
        f += fl;
        p += pl;
        if (*f == '\0' || *p == '\0')
            return *f == '\0' && (*p == '\0' || strcmp(p, "/#") == 0);
        f++;
        p++;
    }
}

bool topic_below(const char *topic, const char *prefix)
{
    size_t prefix_len;

    if (topic == NULL || prefix == NULL)
        return false;
    prefix_len = strlen(prefix);
    return strncmp(topic, prefix, prefix_len) == 0 && topic[prefix_len] != '\0';
}

bool topic_provider_device(const char *topic, const char *prov)
{
    static const char head[] = "onr/1/p/";
    size_t prov_len;
    const char *rest;

    if (topic == NULL || prov == NULL || strncmp(topic, head, sizeof(head) - 1) != 0)
        return false;
    prov_len = strlen(prov);
    rest = topic + sizeof(head) - 1;
    if (prov_len == 0 || strncmp(rest, prov, prov_len) != 0 ||
        strncmp(rest + prov_len, "/dev/", 5) != 0)
        return false;
    rest += prov_len + 5;
    /* a device level, then at least one more: '/' not first, not last */
    rest = rest[0] == '/' ? NULL : strchr(rest, '/');
    return rest != NULL && rest[1] != '\0';
}

const char *topic_strip_share(const char *filter, bool *shared)
{
    static const char prefix[] = "$share/";
    const char *group;
    size_t group_len;

    *shared = false;
    if (filter == NULL || strncmp(filter, prefix, sizeof(prefix) - 1) != 0)
        return filter;
    *shared = true;
    group = filter + sizeof(prefix) - 1;
    group_len = level_len(group);
    if (group_len == 0 || group[group_len] != '/' || group[group_len + 1] == '\0' ||
        memchr(group, '+', group_len) != NULL || memchr(group, '#', group_len) != NULL)
        return NULL;
    return group + group_len + 1;
}
