/*
 * The msgpack writer and the walk behind onr_codec_check (internal).
 */
#ifndef ONRAMP_PROTO_CODEC_INTERNAL_H
#define ONRAMP_PROTO_CODEC_INTERNAL_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/codec.h"

/*
 * A msgpack-c packer that writes into a caller's fixed buffer. Writes past
 * the end are dropped and remembered; onr_writer_finish reports them.
 */
struct onr_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int overflow;
    msgpack_packer pk;
};

void onr_writer_init(struct onr_writer *w, uint8_t *buf, size_t cap);
/* ONR_OK, or ONR_ESPACE if anything did not fit. */
int onr_writer_finish(const struct onr_writer *w);

void onr_write_uint(struct onr_writer *w, uint64_t v);
void onr_write_bytes_str(struct onr_writer *w, struct onr_bytes s);
void onr_write_cstr(struct onr_writer *w, const char *s);
void onr_write_bin(struct onr_writer *w, struct onr_bytes b);
void onr_write_array(struct onr_writer *w, size_t n);
void onr_write_map(struct onr_writer *w, size_t n);
void onr_write_nil(struct onr_writer *w);

/*
 * onr_codec_walk: onr_codec_check, and if the object is an array, the start
 * offset of each of its first `max_offsets` elements in `offsets` (may be
 * NULL) and their number in *n_elements (may be NULL).
 */
int onr_codec_walk(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits,
                   size_t *offsets, size_t max_offsets, size_t *n_elements);

/*
 * onr_codec_unpack: check `buf` against `limits`, then let msgpack-c build
 * the object tree in `out` (release with msgpack_unpacked_destroy; str/bin
 * objects point into `buf`, which must outlive them). `offsets`,
 * `max_offsets` and `n_elements` as for onr_codec_walk (NULL, 0, NULL when
 * not wanted). Returns what onr_codec_check returns, or ONR_ENOMEM; `out`
 * needs no release on failure.
 */
int onr_codec_unpack(const uint8_t *buf, size_t len, const struct onr_codec_limits *limits,
                     msgpack_unpacked *out, size_t *offsets, size_t max_offsets,
                     size_t *n_elements);

#endif /* ONRAMP_PROTO_CODEC_INTERNAL_H */
