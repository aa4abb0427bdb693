#include "codec_internal.h"

#include <string.h>

#include "onramp/error.h"

const struct onr_codec_limits onr_codec_default_limits = {
    .max_size = ONR_CODEC_MAX_MESSAGE,
    .max_depth = 4,
    .max_nodes = 256,
    .max_entries = 32,
    .max_str = 1024,
    .max_bin = 12 * 1024,
};

/* ---- writer ------------------------------------------------------------ */

static int writer_append(void *data, const char *buf, size_t len)
{
    struct onr_writer *w = data;

    if (w->overflow || len > w->cap - w->len) {
        w->overflow = 1;
        return -1;
    }
    memcpy(w->buf + w->len, buf, len);
    w->len += len;
    return 0;
}

void onr_writer_init(struct onr_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf == NULL ? 0 : cap;
    w->len = 0;
    w->overflow = 0;
    msgpack_packer_init(&w->pk, w, writer_append);
}

int onr_writer_finish(const struct onr_writer *w)
{
    return w->overflow ? ONR_ESPACE : ONR_OK;
}

void onr_write_uint(struct onr_writer *w, uint64_t v)
{
    msgpack_pack_uint64(&w->pk, v);
}

void onr_write_bytes_str(struct onr_writer *w, struct onr_bytes s)
{
    msgpack_pack_str(&w->pk, s.len);
    if (s.len > 0)
        msgpack_pack_str_body(&w->pk, s.ptr, s.len);
}

void onr_write_cstr(struct onr_writer *w, const char *s)
{
    onr_write_bytes_str(w, (struct onr_bytes){(const uint8_t *)s, strlen(s)});
}

void onr_write_bin(struct onr_writer *w, struct onr_bytes b)
{
    msgpack_pack_bin(&w->pk, b.len);
    if (b.len > 0)
        msgpack_pack_bin_body(&w->pk, b.ptr, b.len);
}

void onr_write_array(struct onr_writer *w, size_t n)
{
    msgpack_pack_array(&w->pk, n);
}

void onr_write_map(struct onr_writer *w, size_t n)
{
    msgpack_pack_map(&w->pk, n);
}

void onr_write_nil(struct onr_writer *w)
{
    msgpack_pack_nil(&w->pk);
}

/* ---- bounded walk ------------------------------------------------------ */

/* What one format byte announces. */
enum kind { K_SCALAR, K_STR, K_BIN, K_ARRAY, K_MAP, K_UNSUPPORTED, K_RESERVED };

struct head {
    enum kind kind;
    size_t size_len;  /* bytes of the length/count field after the tag */
    size_t fixed;     /* K_SCALAR: payload bytes; fix* forms: the count */
    int has_fixed;    /* count or length is in the tag itself */
};

static struct head classify(uint8_t tag)
{
    if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2 || tag == 0xc3)
        return (struct head){K_SCALAR, 0, 0, 1};
    if (tag >= 0x80 && tag <= 0x8f)
        return (struct head){K_MAP, 0, tag & 0x0fu, 1};
    if (tag >= 0x90 && tag <= 0x9f)
        return (struct head){K_ARRAY, 0, tag & 0x0fu, 1};
    if (tag >= 0xa0 && tag <= 0xbf)
        return (struct head){K_STR, 0, tag & 0x1fu, 1};
    switch (tag) {
    case 0xc4: return (struct head){K_BIN, 1, 0, 0};
    case 0xc5: return (struct head){K_BIN, 2, 0, 0};
    case 0xc6: return (struct head){K_BIN, 4, 0, 0};
    case 0xcc: case 0xd0: return (struct head){K_SCALAR, 0, 1, 1};
    case 0xcd: case 0xd1: return (struct head){K_SCALAR, 0, 2, 1};
    case 0xce: case 0xd2: return (struct head){K_SCALAR, 0, 4, 1};
    case 0xcf: case 0xd3: return (struct head){K_SCALAR, 0, 8, 1};
    case 0xd9: return (struct head){K_STR, 1, 0, 0};
    case 0xda: return (struct head){K_STR, 2, 0, 0};
    case 0xdb: return (struct head){K_STR, 4, 0, 0};
    case 0xdc: return (struct head){K_ARRAY, 2, 0, 0};
    case 0xdd: return (struct head){K_ARRAY, 4, 0, 0};
    case 0xde: return (struct head){K_MAP, 2, 0, 0};
    case 0xdf: return (struct head){K_MAP, 4, 0, 0};
    case 0xc1: return (struct head){K_RESERVED, 0, 0, 1};
    default:   return (struct head){K_UNSUPPORTED, 0, 0, 1}; /* ext, float */
    }
}

static uint64_t read_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int onr_codec_walk(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits,
                   size_t *offsets, size_t max_offsets, size_t *n_elements)
{
    const struct onr_codec_limits *lim = limits ? limits : &onr_codec_default_limits;
    /* remaining[d]: objects still to read at depth d; depth 0 is the root. */
    uint64_t remaining[ONR_CODEC_DEPTH_CEILING + 1];
    unsigned max_depth = lim->max_depth;
    unsigned depth = 0;
    size_t nodes = 0;
    size_t pos = 0;

    if (buf == NULL)
        return ONR_EINVAL;
    if (max_depth > ONR_CODEC_DEPTH_CEILING)
        max_depth = ONR_CODEC_DEPTH_CEILING;
    if (n_elements != NULL)
        *n_elements = 0;
    if (len > lim->max_size)
        return ONR_ETOOBIG;
    remaining[0] = 1;

    for (;;) {
        struct head h;
        uint64_t count;

        while (depth > 0 && remaining[depth] == 0)
            depth--;
        if (depth == 0 && remaining[0] == 0)
            break;
        remaining[depth]--;

        /* Elements of the root array: remember where each starts. */
        if (depth == 1 && n_elements != NULL) {
            if (offsets != NULL && *n_elements < max_offsets)
                offsets[*n_elements] = pos;
            (*n_elements)++;
        }
        if (pos >= len)
            return ONR_ETRUNCATED;
        if (++nodes > lim->max_nodes)
            return ONR_ECOUNT;
        h = classify(buf[pos]);
        if (h.kind == K_RESERVED)
            return ONR_EMALFORMED;
        if (h.kind == K_UNSUPPORTED)
            return ONR_ETYPE;
        if (len - pos - 1 < h.size_len)
            return ONR_ETRUNCATED;
        count = h.has_fixed ? h.fixed : read_be(buf + pos + 1, h.size_len);
        pos += 1 + h.size_len;

        switch (h.kind) {
        case K_SCALAR:
            if (len - pos < count)
                return ONR_ETRUNCATED;
            pos += count;
            break;
        case K_STR:
        case K_BIN:
            if (count > (h.kind == K_STR ? lim->max_str : lim->max_bin))
                return ONR_ELENGTH;
            if (len - pos < count)
                return ONR_ETRUNCATED;
            pos += count;
            break;
        case K_ARRAY:
        case K_MAP:
            if (count > lim->max_entries)
                return ONR_ECOUNT;
            if (depth + 1 > max_depth)
                return ONR_EDEPTH;
            if (h.kind == K_MAP)
                count *= 2;
            /* Every element takes at least one byte. */
            if (count > len - pos)
                return ONR_ETRUNCATED;
            if (depth == 0 && n_elements != NULL && h.kind != K_ARRAY)
                n_elements = NULL; /* offsets only describe a root array */
            remaining[++depth] = count;
            break;
        default:
            return ONR_EMALFORMED;
        }
    }
    if (pos != len)
        return ONR_ETRAILING;
    return ONR_OK;
}

int onr_codec_check(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits)
{
    return onr_codec_walk(buf, len, limits, NULL, 0, NULL);
}

int onr_codec_unpack(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits,
                     msgpack_unpacked *out, size_t *offsets, size_t max_offsets,
                     size_t *n_elements)
{
    size_t off = 0;
    int rc;

    rc = onr_codec_walk(buf, len, limits, offsets, max_offsets, n_elements);
    if (rc != ONR_OK)
        return rc;
    msgpack_unpacked_init(out);
    /* The walk proved the object complete and bounded; msgpack-c can only
     * fail here for lack of memory. */
    if (msgpack_unpack_next(out, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        msgpack_unpacked_destroy(out);
        return ONR_ENOMEM;
    }
    return ONR_OK;
}
