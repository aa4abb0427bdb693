#include "schema.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

/* The character class of a string field (binaries and uints have none). */
static enum onr_text_class text_class(uint8_t kind)
{
    switch (kind) {
    case ONR_FIELD_ID: return ONR_TEXT_ID;
    case ONR_FIELD_DIGITS: return ONR_TEXT_DIGITS;
    case ONR_FIELD_PRINTABLE: return ONR_TEXT_PRINTABLE;
    case ONR_FIELD_TEXT: return ONR_TEXT_UTF8;
    default: return ONR_TEXT_DEVID;
    }
}

static struct onr_bytes *bytes_at(void *body, const struct onr_field *f)
{
    return (struct onr_bytes *)((uint8_t *)body + f->offset);
}

static uint64_t *uint_at(void *body, const struct onr_field *f)
{
    return (uint64_t *)((uint8_t *)body + f->offset);
}

/* Bounds and character class of one value, shared by decode and encode. */
static int check_value(const struct onr_field *f, const void *body)
{
    void *b = (void *)(uintptr_t)body;

    if (f->kind == ONR_FIELD_UINT) {
        uint64_t v = *uint_at(b, f);

        return v < f->min || v > f->max ? ONR_ERANGE : ONR_OK;
    }
    if (bytes_at(b, f)->len < f->min || bytes_at(b, f)->len > f->max)
        return ONR_ELENGTH;
    if (f->kind == ONR_FIELD_BIN)
        return ONR_OK;
    return onr_text_check(text_class(f->kind), *bytes_at(b, f));
}

static const struct onr_field *find_field(const struct onr_field *fields, size_t n,
                                          const msgpack_object_str *key, size_t *index)
{
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(fields[i].key);

        if (klen == key->size && memcmp(fields[i].key, key->ptr, klen) == 0) {
            *index = i;
            return &fields[i];
        }
    }
    return NULL;
}

int onr_schema_decode(const struct onr_field *fields, size_t n, const msgpack_object *map,
                      void *out)
{
    uint32_t seen = 0;

    if (fields == NULL || map == NULL || out == NULL || n > ONR_SCHEMA_MAX_FIELDS)
        return ONR_EINVAL;
    if (map->type != MSGPACK_OBJECT_MAP)
        return ONR_ETYPE;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const struct onr_field *f;
        size_t idx = 0;
        int rc;

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return ONR_ETYPE;
        f = find_field(fields, n, &kv->key.via.str, &idx);
        if (f == NULL)
            return ONR_EUNKNOWNKEY;
        if (seen & (UINT32_C(1) << idx))
            return ONR_EDUPKEY;
        seen |= UINT32_C(1) << idx;

        switch (f->kind) {
        case ONR_FIELD_UINT:
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return ONR_ETYPE;
            *uint_at(out, f) = kv->val.via.u64;
            break;
        case ONR_FIELD_BIN:
            if (kv->val.type != MSGPACK_OBJECT_BIN)
                return ONR_ETYPE;
            *bytes_at(out, f) = (struct onr_bytes){(const uint8_t *)kv->val.via.bin.ptr,
                                                   kv->val.via.bin.size};
            break;
        default:
            if (kv->val.type != MSGPACK_OBJECT_STR)
                return ONR_ETYPE;
            *bytes_at(out, f) = (struct onr_bytes){(const uint8_t *)kv->val.via.str.ptr,
                                                   kv->val.via.str.size};
            break;
        }
        /* An empty value still counts as present: give it a non-NULL ptr. */
        if (f->kind != ONR_FIELD_UINT && bytes_at(out, f)->ptr == NULL)
            bytes_at(out, f)->ptr = (const uint8_t *)"";
        rc = check_value(f, out);
        if (rc != ONR_OK)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (fields[i].required && !(seen & (UINT32_C(1) << i)))
            return ONR_EMISSING;
    }
    return ONR_OK;
}

/* A uint is always there, but an optional one that is 0 is left out. */
static int is_present(const struct onr_field *f, const void *body)
{
    if (f->kind == ONR_FIELD_UINT)
        return f->required || *uint_at((void *)(uintptr_t)body, f) != 0;
    return bytes_at((void *)(uintptr_t)body, f)->ptr != NULL;
}

int onr_schema_encode(const struct onr_field *fields, size_t n, const void *in,
                      struct onr_writer *w)
{
    size_t count = 0;
    int rc;

    if (fields == NULL || in == NULL || w == NULL || n > ONR_SCHEMA_MAX_FIELDS)
        return ONR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!is_present(&fields[i], in)) {
            if (fields[i].required)
                return ONR_EMISSING;
            continue;
        }
        rc = check_value(&fields[i], in);
        if (rc != ONR_OK)
            return rc;
        count++;
    }
    onr_write_map(w, count);
    for (size_t i = 0; i < n; i++) {
        const void *v = (const uint8_t *)in + fields[i].offset;

        if (!is_present(&fields[i], in))
            continue;
        onr_write_cstr(w, fields[i].key);
        if (fields[i].kind == ONR_FIELD_UINT)
            onr_write_uint(w, *(const uint64_t *)v);
        else if (fields[i].kind == ONR_FIELD_BIN)
            onr_write_bin(w, *(const struct onr_bytes *)v);
        else
            onr_write_bytes_str(w, *(const struct onr_bytes *)v);
    }
    return ONR_OK;
}
