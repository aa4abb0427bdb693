#include "onramp/replay.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/hash.h"

#define KEY_LEN 16
#define SALT_LEN 16
#define MAX_CAPACITY (1u << 24)

struct slot {
    uint8_t key[KEY_LEN];
    uint64_t expires;
    int used;
};

/*
 * An open-addressing table (linear probing, at most half full) indexes the
 * entries; a ring of table keys in arrival order decides who is forgotten
 * first.
 */
struct onr_replay {
    uint8_t salt[SALT_LEN];
    struct slot *table;
    size_t mask;          /* table size - 1, a power of two */
    struct slot *ring;    /* capacity entries, oldest at ring_head */
    size_t capacity;
    size_t ring_head;
    size_t count;
};

static size_t bucket(const struct onr_replay *c, const uint8_t key[KEY_LEN])
{
    uint64_t h;

    memcpy(&h, key, sizeof(h)); /* the key is a salted hash: uniform */
    return (size_t)h & c->mask;
}

static struct slot *find(struct onr_replay *c, const uint8_t key[KEY_LEN])
{
    for (size_t i = bucket(c, key);; i = (i + 1) & c->mask) {
        if (!c->table[i].used)
            return NULL;
        if (memcmp(c->table[i].key, key, KEY_LEN) == 0)
            return &c->table[i];
    }
}

/* Remove a slot and shift later members of its probe run back, so lookups
 * never stop early at a hole (no tombstones needed). */
static void table_remove(struct onr_replay *c, struct slot *s)
{
    size_t hole = (size_t)(s - c->table);
    size_t i = hole;

    c->table[hole].used = 0;
    for (;;) {
        size_t home;

        i = (i + 1) & c->mask;
        if (!c->table[i].used)
            return;
        home = bucket(c, c->table[i].key);
        /* Move i into the hole if its home is not cyclically in (hole, i]. */
        if (((i - home) & c->mask) >= ((i - hole) & c->mask)) {
            c->table[hole] = c->table[i];
            c->table[i].used = 0;
            hole = i;
        }
    }
}

static void table_insert(struct onr_replay *c, const uint8_t key[KEY_LEN], uint64_t expires)
{
    size_t i = bucket(c, key);

    while (c->table[i].used)
        i = (i + 1) & c->mask;
    memcpy(c->table[i].key, key, KEY_LEN);
    c->table[i].expires = expires;
    c->table[i].used = 1;
}

int onr_replay_new(size_t capacity, struct onr_replay **out)
{
    struct onr_replay *c = NULL;
    size_t size = 2;
    int rc = ONR_ENOMEM;

    if (out == NULL || capacity == 0 || capacity > MAX_CAPACITY)
        return ONR_EINVAL;
    *out = NULL;
    while (size < capacity * 2)
        size <<= 1;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ONR_ENOMEM;
    c->table = calloc(size, sizeof(*c->table));
    c->ring = calloc(capacity, sizeof(*c->ring));
    if (c->table == NULL || c->ring == NULL)
        goto out;
    rc = onr_random(c->salt, sizeof(c->salt));
    if (rc != ONR_OK)
        goto out;
    c->mask = size - 1;
    c->capacity = capacity;
    *out = c;
    c = NULL;
out:
    onr_replay_free(c);
    return rc;
}

void onr_replay_free(struct onr_replay *cache)
{
    if (cache == NULL)
        return;
    free(cache->table);
    free(cache->ring);
    onr_wipe(cache->salt, sizeof(cache->salt));
    free(cache);
}

/*
 * Forget the oldest entry if it has expired; 1 if the ring moved. An entry
 * renewed in place since it was queued is queued again with its new expiry
 * instead, so every table entry keeps exactly one ring entry.
 */
static int forget_oldest_expired(struct onr_replay *c, uint64_t now)
{
    struct slot oldest = c->ring[c->ring_head];
    struct slot *s;

    if (c->count == 0 || oldest.expires >= now)
        return 0;
    s = find(c, oldest.key);
    c->ring_head = (c->ring_head + 1) % c->capacity;
    if (s != NULL && s->expires >= now) {
        oldest.expires = s->expires;
        c->ring[(c->ring_head + c->count - 1) % c->capacity] = oldest;
        return 1;
    }
    if (s != NULL)
        table_remove(c, s);
    c->count--;
    return 1;
}

int onr_replay_add(struct onr_replay *cache, const struct onr_bytes *parts, size_t n,
                   uint64_t expires, uint64_t now)
{
    struct onr_bytes salted[1 + 8];
    uint8_t digest[ONR_SHA256_LEN];
    struct slot *s;
    size_t tail;
    int rc;

    if (cache == NULL || parts == NULL || n == 0 || n > ONR_ARRAY_LEN(salted) - 1)
        return ONR_EINVAL;
    salted[0] = ONR_BYTES(cache->salt);
    memcpy(&salted[1], parts, n * sizeof(*parts));
    rc = onr_sha256(salted, n + 1, digest);
    if (rc != ONR_OK)
        return rc;

    while (forget_oldest_expired(cache, now))
        ;
    s = find(cache, digest);
    if (s != NULL && s->expires >= now)
        return ONR_EREPLAY;
    if (s != NULL) {
        /* Expired but not yet forgotten (it is not the oldest): renew it in
         * place; forget_oldest_expired requeues its ring entry. */
        s->expires = expires;
        return ONR_OK;
    }
    if (cache->count == cache->capacity)
        return ONR_EREPLAYFULL;
    table_insert(cache, digest, expires);
    tail = (cache->ring_head + cache->count) % cache->capacity;
    memcpy(cache->ring[tail].key, digest, KEY_LEN);
    cache->ring[tail].expires = expires;
    cache->ring[tail].used = 1;
    cache->count++;
    return ONR_OK;
}

size_t onr_replay_count(const struct onr_replay *cache)
{
    return cache == NULL ? 0 : cache->count;
}
