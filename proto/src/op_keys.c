#include "onramp/op_keys.h"

#include <string.h>

#include "onramp/error.h"

static const struct onr_op_key *find(const struct onr_op_keys *k, const char *op, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->keys[i].op) == len && memcmp(k->keys[i].op, op, len) == 0)
            return &k->keys[i];
    return NULL;
}

/* onr_op_keys_add for an id of `len` bytes that need not be terminated. */
static int add(struct onr_op_keys *k, const char *op, size_t len, const uint8_t *key)
{
    struct onr_op_key *r;

    if (onr_service_id_check(op, len) != ONR_OK || key[0] != 0x04)
        return ONR_EINVAL;
    if (find(k, op, len) != NULL)
        return ONR_EEXIST;
    if (k->n == ONR_OP_KEYS_MAX)
        return ONR_ECOUNT;
    r = &k->keys[k->n++];
    memset(r, 0, sizeof(*r));
    memcpy(r->op, op, len);
    memcpy(r->key, key, ONR_P256_PUB_LEN);
    return ONR_OK;
}

int onr_op_keys_add(struct onr_op_keys *k, const char *op, const uint8_t key[ONR_P256_PUB_LEN])
{
    if (k == NULL || op == NULL || key == NULL)
        return ONR_EINVAL;
    return add(k, op, strnlen(op, ONR_SERVICE_ID_MAX + 1), key);
}

const uint8_t *onr_op_keys_find(const struct onr_op_keys *k, const char *op)
{
    const struct onr_op_key *r;

    if (k == NULL || op == NULL)
        return NULL;
    r = find(k, op, strnlen(op, ONR_SERVICE_ID_MAX + 1));
    return r != NULL ? r->key : NULL;
}

int onr_op_keys_encode(const struct onr_op_keys *k, uint8_t *out, size_t cap, size_t *len)
{
    size_t at = 0;

    if (k == NULL || out == NULL || len == NULL || k->n == 0 || k->n > ONR_OP_KEYS_MAX)
        return ONR_EINVAL;
    for (size_t i = 0; i < k->n; i++) {
        size_t id_len = strnlen(k->keys[i].op, sizeof(k->keys[i].op));

        if (onr_service_id_check(k->keys[i].op, id_len) != ONR_OK || k->keys[i].key[0] != 0x04)
            return ONR_EINVAL;
        if (cap - at < 1 + id_len + ONR_P256_PUB_LEN)
            return ONR_ESPACE;
        out[at++] = (uint8_t)id_len;
        memcpy(out + at, k->keys[i].op, id_len);
        at += id_len;
        memcpy(out + at, k->keys[i].key, ONR_P256_PUB_LEN);
        at += ONR_P256_PUB_LEN;
    }
    *len = at;
    return ONR_OK;
}

int onr_op_keys_decode(const uint8_t *buf, size_t len, struct onr_op_keys *out)
{
    size_t at = 0;
    int rc = ONR_OK;

    if (out == NULL || (buf == NULL && len > 0))
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return ONR_EFORMAT;
    while (at < len && rc == ONR_OK) {
        size_t id_len = buf[at];

        /* the whole record is there before any of it is read */
        if (id_len == 0 || id_len > ONR_SERVICE_ID_MAX ||
            len - at - 1 < id_len + ONR_P256_PUB_LEN) {
            rc = ONR_EFORMAT;
            break;
        }
        rc = add(out, (const char *)buf + at + 1, id_len, buf + at + 1 + id_len);
        if (rc == ONR_EINVAL)
            rc = ONR_EFORMAT;
        at += 1 + id_len + ONR_P256_PUB_LEN;
    }
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int onr_op_keys_match(const struct onr_op_keys *k, const struct onr_policy *p, const char *op,
                      const uint8_t op_key[ONR_P256_PUB_LEN])
{
    const uint8_t *own;
    size_t named = 0; /* distinct operators of the policy and `op` */

    if (k == NULL || p == NULL || op == NULL || op_key == NULL)
        return ONR_ESCHEMA;
    own = onr_op_keys_find(k, op);
    if (own == NULL || memcmp(own, op_key, ONR_P256_PUB_LEN) != 0)
        return ONR_ESCHEMA;
    /* every operator named has a record ... */
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->entries[i].n_ops; j++)
            if (onr_op_keys_find(k, p->entries[i].ops[j]) == NULL)
                return ONR_ESCHEMA;
    /* ... and there are no more records than operators named */
    for (size_t r = 0; r < k->n; r++) {
        int is_named = strcmp(k->keys[r].op, op) == 0;

        for (size_t i = 0; i < p->n && !is_named; i++)
            for (size_t j = 0; j < p->entries[i].n_ops && !is_named; j++)
                is_named = strcmp(p->entries[i].ops[j], k->keys[r].op) == 0;
        named += is_named;
    }
    return named == k->n ? ONR_OK : ONR_ESCHEMA;
}
