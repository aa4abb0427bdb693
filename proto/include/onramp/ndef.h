/*
 * A label on an NFC tag (proto/SPEC.md section 12, "On an NFC tag"): an
 * NDEF message (NFC Forum NDEF 1.0) of one short record of the well-known
 * type Text ("T", RTD Text 1.0), UTF-8, language "en", whose text is the
 * label exactly as printed. A phone reading the tag gets the same text a
 * QR scanner gets from the printed code.
 *
 * The encoder writes that one form. The decoder reads any NDEF message
 * within bounds (untrusted bytes: a tag anyone may have rewritten) and
 * gives back its one Text record.
 */
#ifndef ONRAMP_NDEF_H
#define ONRAMP_NDEF_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

/* The NDEF user memory of the common NFC Forum Type 2 tags: NTAG213 has
 * 144 bytes (pages 4..39), NTAG215 504. */
#define ONR_NDEF_NTAG213 144
#define ONR_NDEF_NTAG215 504

/* The longest text the encoder takes: a short record's payload holds 255
 * bytes, 3 of them the status byte and "en". */
#define ONR_NDEF_TEXT_MAX 252

/* The encoder's output for ONR_NDEF_TEXT_MAX bytes of text. */
#define ONR_NDEF_ENCODED_MAX (4 + 3 + ONR_NDEF_TEXT_MAX)

/* The largest message the decoder reads (more than any Type 2 tag holds
 * that Onramp writes), and the most records it walks. */
#define ONR_NDEF_MAX 1024
#define ONR_NDEF_RECORDS_MAX 16

/*
 * onr_ndef_text_encode: `len` bytes of `text` (borrowed; UTF-8 without
 * control characters) as an NDEF message of one Text record, language
 * "en", into `out` (`cap` bytes); *out_len receives its length (7 +
 * len). Returns ONR_OK, ONR_EINVAL (a NULL pointer), ONR_ELENGTH (empty,
 * or over ONR_NDEF_TEXT_MAX), ONR_ECHARSET or ONR_ESPACE.
 */
int onr_ndef_text_encode(const char *text, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len);

/*
 * onr_ndef_tag_bytes: the bytes an NDEF message of `msg_len` bytes takes
 * in a Type 2 tag's user memory: the NDEF Message TLV (tag 0x03 and a
 * length of 1 byte, or 3 from 255 bytes on) around it and the Terminator
 * TLV (0xfe) after it. A message fits a tag whose user memory is at least
 * this.
 */
size_t onr_ndef_tag_bytes(size_t msg_len);

/* The Text record a message holds. `text` points into the message. */
struct onr_ndef_text {
    struct onr_bytes text; /* UTF-8, checked: no control characters */
    char lang[64];         /* its IANA language code, NUL-terminated */
};

/*
 * onr_ndef_text_decode: the one Text record of the NDEF message `msg`
 * (`len` bytes, untrusted, borrowed: out->text points into it). Every
 * record is walked within `len` before any is used; records of other
 * types (a URI, an Android application record) are passed over. Returns
 * ONR_OK, or:
 *   ONR_EINVAL      a NULL pointer
 *   ONR_ETOOBIG     more than ONR_NDEF_MAX bytes
 *   ONR_ETRUNCATED  empty, or a record runs past the end
 *   ONR_EMALFORMED  a header that breaks NDEF: the first record without MB
 *                   or a later one with it, a chunked record (CF), TNF 6
 *                   (unchanged) or 7 (reserved), an empty record (TNF 0)
 *                   with a type, id or payload, a well-known, media,
 *                   absolute-URI or external record without a type, an
 *                   unknown record (TNF 5) with one; a Text payload whose
 *                   status byte sets its reserved bit or names more
 *                   language than there is payload
 *   ONR_ETRAILING   bytes after the record with ME
 *   ONR_ECOUNT      more than ONR_NDEF_RECORDS_MAX records
 *   ONR_ENOENT      no Text record
 *   ONR_EFORMAT     two Text records or more (which is the label?)
 *   ONR_ECHARSET    UTF-16 text, text that is not UTF-8 without control
 *                   characters, or a language code that is not [A-Za-z-]
 * `out` is zeroed on failure.
 */
int onr_ndef_text_decode(const uint8_t *msg, size_t len, struct onr_ndef_text *out);

#endif /* ONRAMP_NDEF_H */
