/*
 * Character classes for text from the network: what may appear in ids,
 * digit strings, endpoints and free text. Used by the message codec and by
 * the broker plugin for topic levels and anything it logs.
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

#endif /* ONRAMP_TEXT_H */
