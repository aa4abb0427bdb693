/*
 * The signed envelope: every Onramp message, and the voucher a device
 * carries from its manufacturer to its operator.
 *
 * An envelope is one msgpack array (proto/SPEC.md, section Envelope):
 *
 *   [ version, type, id (bin 16), timestamp (uint, seconds), sender role,
 *     sender id (str), body (map), authenticator ]
 *
 * The authenticator covers, byte for byte, everything before it, preceded by
 * a context string and the MQTT topic the message is published on:
 *
 *   input = "onramp/1 envelope" || 0x00 || u16be(len(topic)) || topic
 *           || envelope bytes up to the authenticator
 *
 * It is an ECDSA P-256 signature (bin 64, r || s) over SHA-256(input), an
 * HMAC-SHA256 tag (bin 32) over input, or nil, as the message type dictates
 * (<onramp/msg.h>). A signature made for one topic, type, sender or step
 * never verifies for another.
 *
 * Receiving is three steps, in this order:
 *   onr_envelope_decode      structure and body, within bounds (no crypto)
 *   onr_envelope_verify_sig  / onr_envelope_verify_mac, with the key the
 *                            receiver knows for the claimed sender
 *   onr_envelope_accept      freshness window, then the replay cache
 * onr_envelope_verify does the last two for signed messages.
 */
#ifndef ONRAMP_ENVELOPE_H
#define ONRAMP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"
#include "onramp/codec.h"
#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/topic.h"

struct onr_replay;

#define ONR_ENVELOPE_MAX ONR_CODEC_MAX_MESSAGE
#define ONR_ENVELOPE_MAC_LEN 32
#define ONR_ENVELOPE_DEFAULT_WINDOW 300
/* ONR_TOPIC_MAX, the bound on every topic an envelope is bound to, and
 * ONR_TOPIC_VOUCHER, the topic a VOUCHER_TOKEN is bound to, are topic.h's;
 * ONR_VOUCHER_TOKEN_TOPIC is the latter's older name, until the services
 * say ONR_TOPIC_VOUCHER. */
#define ONR_VOUCHER_TOKEN_TOPIC ONR_TOPIC_VOUCHER

/* A decoded envelope. Everything borrowed points into the decoded buffer. */
struct onr_envelope {
    uint64_t version;
    uint8_t id[ONR_MSG_ID_LEN];
    uint64_t timestamp;
    enum onr_role sender_role;
    struct onr_bytes sender;     /* borrowed */
    struct onr_msg msg;          /* type and body, borrowed */
    enum onr_auth_kind auth;
    struct onr_bytes auth_tag;   /* borrowed: signature or MAC, empty for none */
    struct onr_bytes authed;     /* borrowed: the bytes the authenticator covers */
    struct onr_bytes raw;        /* borrowed: the whole envelope as decoded */
};

/* How to authenticate an envelope being encoded. */
struct onr_envelope_signer {
    enum onr_role role;
    struct onr_bytes sender;          /* device id or service id */
    const struct onr_p256_key *key;   /* for ONR_AUTH_SIG types */
    struct onr_bytes mac_key;         /* for ONR_AUTH_MAC types */
};

/*
 * onr_envelope_encode: `msg` in a new envelope for `topic`, authenticated as
 * its type requires, with a fresh random id (copied to `id_out` if not NULL)
 * and timestamp `now`. Output into `out` (caller's buffer of `cap` bytes,
 * ONR_ENVELOPE_MAX is always enough); *out_len receives the length.
 * Returns ONR_OK, ONR_EINVAL (e.g. a missing key for the type),
 * ONR_EMSGTYPE, ONR_ESCHEMA (the role may not send this type), ONR_ESPACE,
 * ONR_ERANDOM, ONR_ECRYPTO, or a body bound violation (see
 * onr_msg_body_encode).
 */
int onr_envelope_encode(const struct onr_msg *msg, const struct onr_envelope_signer *signer,
                        struct onr_bytes topic, uint64_t now, uint8_t *out, size_t cap,
                        size_t *out_len, uint8_t id_out[ONR_MSG_ID_LEN]);

/*
 * onr_envelope_decode: parse untrusted `buf` (borrowed; must outlive `env`).
 * Checks the bounds (onr_codec_check with the default limits), the version,
 * that the type is known, that the sender role may send it and that the
 * authenticator has the type's kind and size, the sender id's syntax, and
 * the body (onr_msg_body_decode). Nothing is verified cryptographically.
 * Returns ONR_OK or ONR_EINVAL, any error of onr_codec_check and
 * onr_msg_body_decode, ONR_ETYPE (not an 8-element array, or an element of
 * the wrong type), ONR_EVERSION, ONR_EMSGTYPE, ONR_ESCHEMA, ONR_EAUTHKIND,
 * ONR_ELENGTH, ONR_ECHARSET. On failure `env` is zeroed.
 */
int onr_envelope_decode(const uint8_t *buf, size_t len, struct onr_envelope *env);

/*
 * onr_envelope_verify_sig: ONR_OK if `env` is a signed type and its
 * signature by `pub` verifies for `topic` (the topic it arrived on).
 * ONR_EAUTHKIND if the type is not signed, ONR_EBADKEY for an invalid key,
 * ONR_EBADSIG otherwise.
 */
int onr_envelope_verify_sig(const struct onr_envelope *env, struct onr_bytes topic,
                            const uint8_t pub[ONR_P256_PUB_LEN]);

/*
 * onr_envelope_verify_mac: ONR_OK if `env` is a MAC'ed type and its tag
 * under `key` verifies for `topic` (compared in constant time).
 * ONR_EAUTHKIND if the type is not MAC'ed, ONR_EBADMAC otherwise.
 */
int onr_envelope_verify_mac(const struct onr_envelope *env, struct onr_bytes topic,
                            struct onr_bytes key);

/*
 * onr_envelope_accept: the freshness and replay checks, after the
 * authenticator has verified. ONR_ESTALE if the timestamp is more than
 * `window` seconds away from `now` in either direction; then, if `replay` is
 * not NULL, records (sender role, sender, id) in it: ONR_EREPLAY if already
 * there, ONR_EREPLAYFULL if the cache cannot take it (see <onramp/replay.h>).
 */
int onr_envelope_accept(const struct onr_envelope *env, uint64_t now, uint32_t window,
                        struct onr_replay *replay);

/*
 * onr_envelope_verify: onr_envelope_verify_sig then onr_envelope_accept: the
 * whole check of a signed message as a service receives it.
 */
int onr_envelope_verify(const struct onr_envelope *env, struct onr_bytes topic,
                        const uint8_t pub[ONR_P256_PUB_LEN], uint64_t now, uint32_t window,
                        struct onr_replay *replay);

#endif /* ONRAMP_ENVELOPE_H */
