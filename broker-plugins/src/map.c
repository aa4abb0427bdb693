#include "map.h"

#include <stdlib.h>
#include <string.h>

#include "onramp/crypto.h"
#include "onramp/error.h"

struct slot {
    uint8_t key[MAP_KEY_MAX];
    uint8_t key_len; /* 0: empty */
    void *value;
};

struct map {
    struct slot *slots;
    size_t mask; /* size - 1, a power of two */
    size_t count;
    uint64_t seed;
};

/* FNV-1a from a random per-map seed: keys come from the network. */
static size_t hash(const struct map *m, const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ull ^ m->seed;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    return (size_t)h;
}

static struct slot *find(const struct map *m, const void *key, size_t len)
{
    for (size_t i = hash(m, key, len) & m->mask;; i = (i + 1) & m->mask) {
        struct slot *s = &m->slots[i];

        if (s->key_len == 0)
            return NULL;
        if (s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

static int grow(struct map *m)
{
    size_t old_size = m->mask + 1;
    struct slot *old = m->slots;
    struct slot *slots = calloc(old_size * 2, sizeof(*slots));

    if (slots == NULL)
        return -1;
    m->slots = slots;
    m->mask = old_size * 2 - 1;
    for (size_t i = 0; i < old_size; i++) {
        size_t j;

        if (old[i].key_len == 0)
            continue;
        j = hash(m, old[i].key, old[i].key_len) & m->mask;
        while (m->slots[j].key_len != 0)
            j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

struct map *map_new(void)
{
    struct map *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->slots = calloc(16, sizeof(*m->slots));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    m->mask = 15;
    if (onr_random((uint8_t *)&m->seed, sizeof(m->seed)) != ONR_OK) {
        map_free(m);
        return NULL;
    }
    return m;
}

void map_free(struct map *m)
{
    if (m == NULL)
        return;
    free(m->slots);
    free(m);
}

void map_free_with_values(struct map *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].key_len != 0)
            free(m->slots[i].value);
    map_free(m);
}

void *map_get(const struct map *m, const void *key, size_t key_len)
{
    struct slot *s;

    if (key_len == 0 || key_len > MAP_KEY_MAX)
        return NULL;
    s = find(m, key, key_len);
    return s ? s->value : NULL;
}

int map_put(struct map *m, const void *key, size_t key_len, void *value, void **old)
{
    struct slot *s;
    size_t i;

    if (old != NULL)
        *old = NULL;
    if (key_len == 0 || key_len > MAP_KEY_MAX || value == NULL)
        return -1;
    s = find(m, key, key_len);
    if (s != NULL) {
        if (old != NULL)
            *old = s->value;
        s->value = value;
        return 0;
    }
    if ((m->count + 1) * 2 > m->mask + 1 && grow(m) != 0)
        return -1;
    i = hash(m, key, key_len) & m->mask;
    while (m->slots[i].key_len != 0)
        i = (i + 1) & m->mask;
    memcpy(m->slots[i].key, key, key_len);
    m->slots[i].key_len = (uint8_t)key_len;
    m->slots[i].value = value;
    m->count++;
    return 0;
}

void *map_remove(struct map *m, const void *key, size_t key_len)
{
    struct slot *s;
    size_t hole;
    size_t i;
    void *value;

    if (key_len == 0 || key_len > MAP_KEY_MAX)
        return NULL;
    s = find(m, key, key_len);
    if (s == NULL)
        return NULL;
    value = s->value;
    hole = (size_t)(s - m->slots);
    s->key_len = 0;
    m->count--;
    /* Shift later members of the probe run back over the hole. */
    for (i = (hole + 1) & m->mask; m->slots[i].key_len != 0; i = (i + 1) & m->mask) {
        size_t home = hash(m, m->slots[i].key, m->slots[i].key_len) & m->mask;

        if (((i - home) & m->mask) >= ((i - hole) & m->mask)) {
            m->slots[hole] = m->slots[i];
            m->slots[i].key_len = 0;
            hole = i;
        }
    }
    return value;
}

size_t map_count(const struct map *m)
{
    return m->count;
}

void map_each(const struct map *m, void (*fn)(const void *, size_t, void *, void *), void *arg)
{
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].key_len != 0)
            fn(m->slots[i].key, m->slots[i].key_len, m->slots[i].value, arg);
}
