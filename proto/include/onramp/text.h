/*
 * Character classes for text from the network: what may appear in ids,
 * digit strings, endpoints and free text, and the one escaping of untrusted
 * text for logs. Used by the message codec, by the broker plugin for topic
 * levels, and by everything that logs.
 */
#ifndef ONRAMP_TEXT_H
#define ONRAMP_TEXT_H

#include "onramp/bytes.h"

enum onr_text_class {
    ONR_TEXT_ID = 1,    /* [a-z0-9._-], not starting with . _ or - */
    ONR_TEXT_DIGITS,    /* [0-9] */
    ONR_TEXT_PRINTABLE, /* visible ASCII 0x21..0x7e */
    ONR_TEXT_UTF8,      /* UTF-8 without overlongs, surrogates or C0/C1/DEL */
    ONR_TEXT_DEVID,     /* base32 [a-z2-7] */
};

/*
 * onr_text_check: ONR_OK if every byte of `s` (borrowed) belongs to
 * `cls`, ONR_ECHARSET if not, ONR_EINVAL for a NULL pointer with a length
 * or an unknown class. An empty string passes: lengths are the caller's.
 */
int onr_text_check(enum onr_text_class cls, struct onr_bytes s);

/*
 * onr_text_escape: untrusted bytes made safe to log as one key=value
 * field. `data` (borrowed, `len` bytes; need not be NUL-terminated and may
 * hold NUL bytes; NULL is empty) goes into `out` (`cap` bytes, always
 * NUL-terminated when cap > 0): visible ASCII but '=', '"' and '\' as it
 * is; every other byte (space, '=', '"', '\', control characters, DEL,
 * anything not ASCII) as \xHH (lowercase hex). The result has no space,
 * no '=', no quote and no line break, so it can neither end its field nor
 * forge another, and every '\' in it starts an escape. If it does not fit,
 * it is cut after a whole character or escape and ends with the mark
 * "\..." (which no escape can produce); a `cap` under 5 then leaves "".
 * Returns `out` (or "" when `out` is NULL or `cap` is 0), for printf.
 *
 * Every component logs text it did not write itself (topics, client ids,
 * reasons from the network, file names) through this routine.
 */
const char *onr_text_escape(const void *data, size_t len, char *out, size_t cap);

/* The `cap` that holds any escape of `len` bytes whole (4 per byte, and
 * the NUL). */
#define ONR_TEXT_ESCAPE_CAP(len) (4 * (len) + 1)

#endif /* ONRAMP_TEXT_H */
