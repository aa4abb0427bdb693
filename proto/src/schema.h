/*
 * Table-driven msgpack maps (internal): a message body is a map from short
 * string keys to values, described by an array of fields. One decoder and
 * one encoder serve every message, so every body gets the same strictness:
 * exact types, length and value bounds, character classes, no duplicate,
 * missing or unknown keys.
 */
#ifndef ONRAMP_PROTO_SCHEMA_H
#define ONRAMP_PROTO_SCHEMA_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "codec_internal.h"
#include "onramp/bytes.h"

enum onr_field_kind {
    ONR_FIELD_UINT = 1,  /* uint64_t; if optional, absent reads as 0 and 0 is left out */
    ONR_FIELD_BIN,       /* struct onr_bytes */
    ONR_FIELD_ID,        /* struct onr_bytes: [a-z0-9._-], first a-z or 0-9 */
    ONR_FIELD_DIGITS,    /* struct onr_bytes: [0-9] */
    ONR_FIELD_PRINTABLE, /* struct onr_bytes: visible ASCII 0x21..0x7e */
    ONR_FIELD_TEXT,      /* struct onr_bytes: UTF-8, no control characters */
    ONR_FIELD_DEVID,     /* struct onr_bytes: base32 [a-z2-7] (<onramp/devid.h>) */
};

struct onr_field {
    const char *key;
    uint8_t kind;
    uint8_t required;
    uint16_t offset; /* of the uint64_t or struct onr_bytes in the body */
    uint64_t min;    /* bytes for strings and binaries, value for uints */
    uint64_t max;
};

/* At most this many fields per body (a bitmask tracks which were seen). */
#define ONR_SCHEMA_MAX_FIELDS 32

/*
 * onr_schema_decode: fill `out` (a body struct, zeroed first) from `map`.
 * Strings and binaries point into the buffer `map` was unpacked from; an
 * optional uint that is absent stays 0.
 * Returns ONR_OK, ONR_ETYPE (not a map, a non-string key or a value of the
 * wrong type), ONR_EUNKNOWNKEY, ONR_EDUPKEY, ONR_EMISSING, ONR_ELENGTH,
 * ONR_ERANGE or ONR_ECHARSET.
 */
int onr_schema_decode(const struct onr_field *fields, size_t n, const msgpack_object *map,
                      void *out);

/*
 * onr_schema_encode: write `in` (a body struct) as a map. Values are checked
 * against the same bounds as decoding, so Onramp never sends what it would
 * refuse. Absent optional fields (ptr NULL) are left out, and so are
 * optional uints that are 0.
 * Returns ONR_OK, ONR_EMISSING, ONR_ELENGTH, ONR_ERANGE or ONR_ECHARSET
 * (write errors are collected in the writer).
 */
int onr_schema_encode(const struct onr_field *fields, size_t n, const void *in,
                      struct onr_writer *w);

#endif /* ONRAMP_PROTO_SCHEMA_H */
