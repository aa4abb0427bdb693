/*
 * MQTT topic names and filters, as the plugin judges them. Pure functions
 * on NUL-terminated strings from the broker; no state.
 */
#ifndef ONRAMP_PLUGIN_TOPIC_H
#define ONRAMP_PLUGIN_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* Longest topic or filter the plugin will consider; longer is refused. */
#define TOPIC_MAX 512

/*
 * topic_name_ok: a topic name a device or service may publish to: 1 to
 * TOPIC_MAX bytes of UTF-8 without control characters, no wildcard, no
 * empty level, not starting with '$' unless `allow_dollar`.
 */
bool topic_name_ok(const char *topic, bool allow_dollar);

/*
 * topic_matches: does the concrete topic `topic` match `pattern`, an MQTT
 * filter where "+" is exactly one level and a final "#" is any number of
 * levels (including none)? Topics starting with '$' never match a pattern
 * starting with a wildcard (MQTT 4.7.2).
 */
bool topic_matches(const char *pattern, const char *topic);

/*
 * topic_filter_within: is every topic that `filter` can match also matched
 * by `pattern`? So a subscription to `filter` can only ever deliver topics
 * the pattern allows. Malformed filters (a '#' not last, wildcards mixed
 * into a level, empty) are never within.
 */
bool topic_filter_within(const char *filter, const char *pattern);

/*
 * topic_below: does topic name `topic` lie strictly below `prefix` (which
 * ends with '/'): the prefix, then at least one more byte? The caller has
 * checked `topic` with topic_name_ok (no empty level, no wildcard).
 */
bool topic_below(const char *topic, const char *prefix);

/*
 * topic_provider_device: is topic name `topic` (checked with topic_name_ok)
 * "onr/1/p/{prov}/dev/{a device level}/{at least one more level}", a topic
 * of one of provider `prov`'s operational devices?
 */
bool topic_provider_device(const char *topic, const char *prov);

/*
 * topic_strip_share: for "$share/<group>/<filter>" the <filter> part (a
 * pointer into `filter`), with *shared set; for any other filter, `filter`
 * itself with *shared cleared. NULL if a $share filter is malformed (empty
 * or wildcard group, nothing after it).
 */
const char *topic_strip_share(const char *filter, bool *shared);

#endif /* ONRAMP_PLUGIN_TOPIC_H */
