/*
 * Every message body (proto/SPEC.md section 5) and the bounded msgpack
 * walk under it (onr_codec_check).
 *
 * Input: one byte choosing the type (an index into every type the code
 * knows, PROFILE_CONTENT included), then the body's msgpack bytes.
 * Checks: a body that decodes re-encodes to bytes that decode to the same
 * message and encode to the same bytes again (one canonical form), and
 * every field the decoder let through is within the schema's bounds (the
 * encoder checks them again). The codec walk is checked against msgpack-c
 * itself: whatever the walk accepts, msgpack-c unpacks completely into a
 * tree within the limits; what it calls trailing, msgpack-c ends early.
 */
#include <msgpack.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/codec.h"
#include "onramp/error.h"
#include "onramp/msg.h"

#define MAX_TYPES 64

static int types[MAX_TYPES];
static size_t n_types;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int t = 1; t <= 255 && n_types < MAX_TYPES; t++)
        if (onr_msg_type_name(t) != NULL)
            types[n_types++] = t;
    FUZZ_CHECK(n_types > 30, "only %zu types", n_types);
    return 0;
}

struct tally {
    size_t nodes;
    unsigned depth;
};

/* The tree msgpack-c built, against the limits the walk enforced. */
static void check_tree(const msgpack_object *o, const struct onr_codec_limits *lim,
                       unsigned depth, struct tally *t)
{
    t->nodes++;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_BOOLEAN:
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        break;
    case MSGPACK_OBJECT_STR:
        FUZZ_CHECK(o->via.str.size <= lim->max_str, "str of %u", o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        FUZZ_CHECK(o->via.bin.size <= lim->max_bin, "bin of %u", o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        FUZZ_CHECK(depth + 1 <= lim->max_depth, "array at depth %u", depth + 1);
        FUZZ_CHECK(o->via.array.size <= lim->max_entries, "array of %u", o->via.array.size);
        if (depth + 1 > t->depth)
            t->depth = depth + 1;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            check_tree(&o->via.array.ptr[i], lim, depth + 1, t);
        break;
    case MSGPACK_OBJECT_MAP:
        FUZZ_CHECK(depth + 1 <= lim->max_depth, "map at depth %u", depth + 1);
        FUZZ_CHECK(o->via.map.size <= lim->max_entries, "map of %u", o->via.map.size);
        if (depth + 1 > t->depth)
            t->depth = depth + 1;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            check_tree(&o->via.map.ptr[i].key, lim, depth + 1, t);
            check_tree(&o->via.map.ptr[i].val, lim, depth + 1, t);
        }
        break;
    default:
        FUZZ_CHECK(0, "type %d got through the walk", (int)o->type);
    }
}

static void codec_against_msgpack(const uint8_t *data, size_t size)
{
    struct onr_codec_limits lim = onr_codec_default_limits;
    msgpack_unpacked obj;
    size_t off = 0;
    int rc;
    msgpack_unpack_return ur;

    lim.max_depth = 3; /* the walk's depth bookkeeping, not only depth 1 */
    rc = onr_codec_check(data, size, &lim);
    /* msgpack-c only sees what the walk bounded (msgpack-c issue 1013) */
    if (rc != ONR_OK && rc != ONR_ETRAILING)
        return;
    msgpack_unpacked_init(&obj);
    ur = msgpack_unpack_next(&obj, (const char *)data, size, &off);
    FUZZ_CHECK(ur == MSGPACK_UNPACK_SUCCESS || ur == MSGPACK_UNPACK_EXTRA_BYTES,
               "walk said %s, msgpack-c %d", onr_error_name(rc), (int)ur);
    if (rc == ONR_OK) {
        struct tally t = {0, 0};

        FUZZ_CHECK(off == size, "walk took all %zu bytes, msgpack-c %zu", size, off);
        check_tree(&obj.data, &lim, 0, &t);
        FUZZ_CHECK(t.nodes <= lim.max_nodes, "%zu nodes", t.nodes);
    } else {
        FUZZ_CHECK(off < size, "trailing bytes, yet msgpack-c took all %zu", size);
    }
    msgpack_unpacked_destroy(&obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t a[ONR_CODEC_MAX_MESSAGE];
    static uint8_t b[ONR_CODEC_MAX_MESSAGE];
    size_t a_len = 0;
    size_t b_len = 0;
    struct onr_msg msg;
    struct onr_msg back;
    int type;
    int rc;

    if (size < 1)
        return 0;
    type = types[data[0] % n_types];
    data++;
    size--;
    codec_against_msgpack(data, size);

    rc = onr_msg_body_decode(type, data, size, &msg);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "decode returned %d", rc);
        return 0;
    }
    FUZZ_CHECK(onr_codec_check(data, size, NULL) == ONR_OK, "decoded beyond the codec bounds");
    FUZZ_CHECK((int)msg.type == type, "type %d for %d", (int)msg.type, type);
    rc = onr_msg_body_encode(&msg, a, sizeof(a), &a_len);
    FUZZ_CHECK(rc == ONR_OK, "type %d: decoded body does not encode: %s", type,
               onr_error_name(rc));
    FUZZ_CHECK(a_len <= size, "canonical form (%zu) longer than the input (%zu)", a_len, size);
    rc = onr_msg_body_decode(type, a, a_len, &back);
    FUZZ_CHECK(rc == ONR_OK, "type %d: encoded body does not decode: %s", type,
               onr_error_name(rc));
    fuzz_msg_same(&msg, &back, "body round trip");
    rc = onr_msg_body_encode(&back, b, sizeof(b), &b_len);
    FUZZ_CHECK(rc == ONR_OK && a_len == b_len && memcmp(a, b, a_len) == 0,
               "type %d: encoding not stable", type);
    return 0;
}
