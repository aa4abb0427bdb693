/*
 * A hash map from short byte-string keys to pointers: the plugin's tables
 * (connections by client handle, grants by device id). Keys are copied;
 * values are the caller's. Open addressing with linear probing, grown at
 * 50% load; removal shifts later entries back, so there are no tombstones.
 * Not thread-safe (the broker runs plugins on one thread).
 */
#ifndef ONRAMP_PLUGIN_MAP_H
#define ONRAMP_PLUGIN_MAP_H

#include <stddef.h>
#include <stdint.h>

#define MAP_KEY_MAX 64

struct map;

/* map_new: an empty map, or NULL without memory. */
struct map *map_new(void);

/* map_free: frees the map and its keys (not the values). Accepts NULL. */
void map_free(struct map *m);

/* map_free_with_values: as map_free, and free() on every value first, for
 * a map that owns its values. Accepts NULL. */
void map_free_with_values(struct map *m);

/* map_get: the value for `key`, or NULL. */
void *map_get(const struct map *m, const void *key, size_t key_len);

/*
 * map_put: set `key` (copied; 1..MAP_KEY_MAX bytes) to `value` (not NULL).
 * *old (if not NULL) receives the value replaced, or NULL.
 * Returns 0, or -1 for a bad key or lack of memory (map unchanged).
 */
int map_put(struct map *m, const void *key, size_t key_len, void *value, void **old);

/* map_remove: remove `key`; returns its value, or NULL if absent. */
void *map_remove(struct map *m, const void *key, size_t key_len);

/* map_count: entries held. */
size_t map_count(const struct map *m);

/* map_each: call fn(key, key_len, value, arg) for every entry, in no
 * particular order. fn must not change the map. */
void map_each(const struct map *m, void (*fn)(const void *, size_t, void *, void *), void *arg);

#endif /* ONRAMP_PLUGIN_MAP_H */
