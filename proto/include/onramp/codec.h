/*
 * Bounds for decoding untrusted msgpack, and the check that enforces them.
 *
 * msgpack-c allocates count * sizeof(msgpack_object) for an array or map
 * header before reading a single element (msgpack-c issue 1013), so no byte
 * from the network reaches it before onr_codec_check has walked the whole
 * object and found it complete and within these limits. Envelope and body
 * decoding (<onramp/envelope.h>, <onramp/msg.h>) call it for you.
 */
#ifndef ONRAMP_CODEC_H
#define ONRAMP_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The largest encoded message Onramp sends or accepts. */
#define ONR_CODEC_MAX_MESSAGE (16 * 1024)
/* Hard ceiling on depth whatever the limits say (msgpack-c's stack is 32). */
#define ONR_CODEC_DEPTH_CEILING 16

struct onr_codec_limits {
    size_t max_size;     /* whole input, bytes */
    unsigned max_depth;  /* nested arrays/maps; the outermost container is 1 */
    size_t max_nodes;    /* objects of any kind in all */
    size_t max_entries;  /* elements of one array, pairs of one map */
    size_t max_str;      /* bytes of one string */
    size_t max_bin;      /* bytes of one binary */
};

/* The limits every Onramp message must fit (see proto/SPEC.md). */
extern const struct onr_codec_limits onr_codec_default_limits;

/*
 * onr_codec_check: accept `buf` (borrowed) only if it is exactly one
 * complete msgpack object within `limits` (NULL: the defaults) that uses
 * only the types Onramp speaks (nil, bool, integers, str, bin, array, map).
 * Errors, checked in this order for each object:
 *   ONR_ETOOBIG     input longer than max_size
 *   ONR_ETRUNCATED  input ends inside an object
 *   ONR_ECOUNT      more than max_nodes objects, or a container declaring
 *                   more than max_entries entries
 *   ONR_ELENGTH     a str or bin declaring more than max_str / max_bin bytes
 *   ONR_EDEPTH      containers nested deeper than max_depth
 *   ONR_ETYPE       float or ext (never used by Onramp)
 *   ONR_EMALFORMED  the reserved byte 0xc1
 *   ONR_ETRAILING   bytes after the object
 *   ONR_EINVAL      buf NULL
 */
int onr_codec_check(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits);

#endif /* ONRAMP_CODEC_H */
