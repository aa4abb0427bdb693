/* Message bodies inside an envelope (internal to proto). */
#ifndef ONRAMP_PROTO_MSG_INTERNAL_H
#define ONRAMP_PROTO_MSG_INTERNAL_H

#include <msgpack.h>

#include "codec_internal.h"
#include "onramp/msg.h"

/* Write msg's body map; checks as onr_msg_body_encode. */
int onr_msg_body_write(const struct onr_msg *msg, struct onr_writer *w);

/* The field table of `type` (for the SPEC conformance test): ONR_OK or
 * ONR_EMSGTYPE. The table is static. */
struct onr_field;
int onr_msg_fields(int type, const struct onr_field **fields, size_t *n);

/* Read the body map `obj` of `type` into msg (zeroed first). */
int onr_msg_body_read(int type, const msgpack_object *obj, struct onr_msg *msg);

#endif /* ONRAMP_PROTO_MSG_INTERNAL_H */
