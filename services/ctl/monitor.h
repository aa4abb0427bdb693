/*
 * onrampctl monitor, the parts that touch neither the network nor the
 * clock: what a message is (its journey step, the device it concerns, the
 * verdict on its authenticator), whether the operator asked to see it, and
 * how it is printed with nothing secret in it. Unit-tested on their own
 * (tests/unit/test_ctl_monitor.c).
 *
 *   describe.c  topic and envelope -> struct ctl_sighting (step, device)
 *   keys.c      the keys a monitor knows -> the verdict on a signature
 *   filter.c    --device, --role, --service, --type
 *   render.c    a sighting as one text or JSON line; escaping
 */
#ifndef ONRAMP_CTL_MONITOR_H
#define ONRAMP_CTL_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/telemetry.h"

/* -- keys.c: what a monitor can check ------------------------------------ */

enum ctl_verdict {
    CTL_VERDICT_NONE = 0,      /* the type has no authenticator */
    CTL_VERDICT_MAC,           /* MAC'ed: needs the device's key, not checked */
    CTL_VERDICT_VERIFIED,      /* a known key of the sender signed it for this topic */
    CTL_VERDICT_BAD_SIGNATURE, /* keys known for the sender, none verifies */
    CTL_VERDICT_UNKNOWN_KEY,   /* no key known for the sender */
};

/* ctl_verdict_name: "none", "mac", "verified", "bad-signature",
 * "unknown-key". Static storage. */
const char *ctl_verdict_name(enum ctl_verdict v);

#define CTL_KEYRING_MAX 64

/* The services' signing keys given with --peer. A sender may have several
 * (a manufacturer's service key and its voucher key). */
struct ctl_keyring {
    size_t n;
    struct ctl_peer {
        enum onr_role role;
        char id[ONR_SERVICE_ID_MAX + 1];
        uint8_t pub[ONR_P256_PUB_LEN];
    } peer[CTL_KEYRING_MAX];
};

/*
 * ctl_role_parse: a role as --peer and --role name it: the topic level
 * ("mfr", "op", "prov", "ctl") or the full name ("manufacturer", "operator",
 * "provider", "control", and "device", "broker" when `services_only` is
 * false). ONR_OK or ONR_EINVAL.
 */
int ctl_role_parse(const char *name, bool services_only, enum onr_role *role);

/*
 * ctl_keyring_add: remember `pub` (copied; checked to be a P-256 point) as
 * a key of service `id` (copied; a service id) in `role`.
 * Returns ONR_OK, ONR_EINVAL (a bad id or role), ONR_EBADKEY or ONR_ESPACE
 * (CTL_KEYRING_MAX keys already).
 */
int ctl_keyring_add(struct ctl_keyring *k, enum onr_role role, const char *id,
                    const uint8_t pub[ONR_P256_PUB_LEN]);

/*
 * ctl_keyring_verdict: the verdict on `env` (decoded, borrowed) as it
 * arrived on `topic`: by its type's authenticator kind; for a signed type,
 * with every key `k` holds for the sender's role and id, and for a
 * device's hello also with the key of the identity certificate it carries
 * if that key's device id is the sender (self-certifying ids). Signatures
 * only: no freshness or replay check (a monitor only observes).
 */
enum ctl_verdict ctl_keyring_verdict(const struct ctl_keyring *k,
                                     const struct onr_envelope *env, struct onr_bytes topic);

/* -- describe.c: what a message is --------------------------------------- */

/*
 * ctl_step_of_type: the journey step of a message type: "1" pairing, "2"
 * registration, "3b" voucher (no_operator too), "3c" network credentials
 * and attach, "4" service enrollment, "5" alignment, "relocation" (a
 * relocation request and a relocate), "release", "control" (the broker
 * plugin's control topic), "status" (onrampctl status), "stats". NULL for an unknown type and for the
 * types whose step depends on where they travel (error, pending, event).
 * Static storage.
 */
const char *ctl_step_of_type(int type);

/* ctl_step_of_event: the step an event's `step` field names ("voucher" ->
 * "3b", "registered" -> "2", "profile" and "attached" -> "3c",
 * "relocating" and "relocated" -> "relocation": journey.h's
 * onr_journey_from_event), or NULL. */
const char *ctl_step_of_event(struct onr_bytes step);

/*
 * ctl_step_of_answer: the step of an error or a pending by the topic it
 * travels on (borrowed, parsed by onr_topic_parse): on onr/1/d/{dev}/down
 * by its sender (a manufacturer "3b", an operator "3c", a provider "4");
 * on onr/1/s/{role}/{svc}/in by the pair of sender and addressee
 * (provider and manufacturer "2", provider to operator "3c", operator to
 * provider "5", provider to control "1"). NULL otherwise. The steps'
 * numbers are onramp/journey.h's.
 */
const char *ctl_step_of_answer(struct onr_bytes topic, enum onr_role sender);

/*
 * ctl_topic_dev: the device a topic (borrowed) is about: {dev} of
 * onr/1/d/{dev}/up/..., onr/1/d/{dev}/down or onr/1/p/{prov}/dev/{dev}/...
 * (a topic onr_topic_parse accepts), into `dev` (NUL-terminated). Returns
 * true if there is one, else false with `dev` empty.
 */
bool ctl_topic_dev(struct onr_bytes topic, char dev[ONR_DEVID_LEN + 1]);

/*
 * ctl_label_parts: the manufacturer and device a label (untrusted,
 * borrowed) names, if it is a valid label (onr_label_decode), lowercase
 * and NUL-terminated; the claim secret is wiped at once. Returns ONR_OK or
 * the error of onr_label_decode (then both are empty).
 */
int ctl_label_parts(struct onr_bytes label, char mfr[ONR_SERVICE_ID_MAX + 1],
                    char dev[ONR_DEVID_LEN + 1]);

#define CTL_RECENT_MAX 1024

/* The ids of the last CTL_RECENT_MAX messages whose step is known: an
 * error or a pending is in the step of the message its `re` answers. Zero
 * it to start. */
struct ctl_recent {
    size_t next;
    size_t n;
    uint8_t id[CTL_RECENT_MAX][ONR_MSG_ID_LEN];
    const char *step[CTL_RECENT_MAX]; /* static storage */
};

/* ctl_recent_note: remember that message `id` is in `step` (static
 * storage; NULL is not remembered). The oldest entry makes room. */
void ctl_recent_note(struct ctl_recent *r, const uint8_t id[ONR_MSG_ID_LEN],
                     const char *step);

/* ctl_recent_step: the step of the message with id `id`, or NULL if it
 * is not among those remembered (or `id` is not ONR_MSG_ID_LEN bytes). */
const char *ctl_recent_step(const struct ctl_recent *r, struct onr_bytes id);

/* What the monitor says about one message. */
struct ctl_sighting {
    char time[32];               /* receipt time: 2024-05-01T12:00:00.123Z */
    struct onr_bytes topic;      /* borrowed */
    const char *type;            /* a type name, "telemetry", "application"
                                  * or "undecodable"; static storage */
    bool decoded;                /* `env` holds an envelope */
    struct onr_envelope env;     /* borrowed from the payload */
    bool reported;               /* `telemetry` holds a telemetry's fields */
    struct onr_telemetry telemetry;
    bool token_decoded;          /* `token`: the voucher token in the body's
                                  * `voucher` (voucher, profile request,
                                  * relocate), decoded, not verified */
    struct onr_envelope token;   /* borrowed from the payload */
    size_t payload_len;
    char dev[ONR_DEVID_LEN + 1]; /* "" if none */
    const char *step;            /* NULL if none; static storage */
    const char *verdict;         /* a verdict or an error name; static storage */
};

/*
 * ctl_describe: describe `payload` (untrusted, `len` bytes, borrowed: must
 * outlive `s`) received on `topic` (borrowed likewise), at `time` (copied):
 *
 * - on onr/1/p/{prov}/dev/{dev}/down it is an envelope from the provider
 *   (a relocate), as below;
 * - on any other onr/1/p/... it is a device's data, verdict "none", step
 *   "operational": type "telemetry" on onr/1/p/{prov}/dev/{dev}/telemetry,
 *   whose fields are read into `telemetry` (`reported` set) when it is in
 *   one of SPEC section 14's forms (<onramp/telemetry.h>); type
 *   "application" for anything else, never decoded;
 * - else an envelope (onr_envelope_decode): its type and sender, its step
 *   (ctl_step_of_type; for an event, its `step` field; for an error or a
 *   pending, the step of the message it answers if `recent` saw it, else
 *   ctl_step_of_answer), the verdict of ctl_keyring_verdict with `keys`;
 * - what does not decode: type "undecodable", verdict the error's name.
 *
 * dev: the topic's device (ctl_topic_dev), else the body's `dev`, else a
 * pairing label's device. A body's `voucher` field (voucher, profile
 * request, relocate) that decodes as a voucher token (not verified: the
 * monitor holds no voucher key) is kept in `token`, for its operator, PLMN
 * and reason. `recent` (may be NULL) notes the message.
 */
void ctl_describe(const struct ctl_keyring *keys, struct ctl_recent *recent,
                  const char *time, struct onr_bytes topic, const uint8_t *payload,
                  size_t len, struct ctl_sighting *s);

/* -- filter.c: what the operator asked to see ---------------------------- */

#define CTL_FILTER_MAX 16

/* Each non-empty list must match (OR within a list, AND across them). */
struct ctl_filter {
    const char *dev;                          /* NULL: any; borrowed */
    enum onr_role roles[CTL_FILTER_MAX];
    size_t n_roles;
    const char *services[CTL_FILTER_MAX];     /* sender ids; borrowed */
    size_t n_services;
    const char *types[CTL_FILTER_MAX];        /* type names; borrowed */
    size_t n_types;
};

/*
 * ctl_filter_role / ctl_filter_service / ctl_filter_type: add one value
 * (borrowed: must outlive the filter). A role is a name of
 * ctl_role_parse; a type a message type's name, "telemetry",
 * "application" or "undecodable". ONR_OK, ONR_EINVAL for a name not
 * known, ONR_ESPACE after CTL_FILTER_MAX values.
 */
int ctl_filter_role(struct ctl_filter *f, const char *name);
int ctl_filter_service(struct ctl_filter *f, const char *id);
int ctl_filter_type(struct ctl_filter *f, const char *name);

/* ctl_filter_match: whether `s` passes `f`. A sighting without a sender
 * (application data, undecodable) passes no --role or --service list. */
bool ctl_filter_match(const struct ctl_filter *f, const struct ctl_sighting *s);

/* -- render.c: how it is printed ----------------------------------------- */

/* How a body field is printed: never a secret. */
enum ctl_show {
    CTL_SHOW_VALUE = 1, /* a uint, or a text that is not secret: escaped */
    CTL_SHOW_HEX,       /* a binary identifier (re, nonce, kid, rand, serial, epoch) */
    CTL_SHOW_LENGTH,    /* any other binary: "<bin N>" */
    CTL_SHOW_LABEL,     /* a pairing label: without its claim secret */
};

/* ctl_field_show: how the field `f` (borrowed) is printed. */
enum ctl_show ctl_field_show(const struct onr_msg_field *f);

/* ctl_field_value: the value of the field `f` (borrowed) to `out`, as
 * ctl_field_show says, in text or (`json`) as a JSON value. */
void ctl_field_value(FILE *out, const struct onr_msg_field *f, bool json);

/*
 * ctl_label_masked: a label (untrusted, borrowed) as it may be printed:
 * "ONR1:{mfr}:{dev}:<claim>" if it is a valid label, else "<label N>"
 * (its length). Never any part of the claim secret or the check. `out`
 * receives a NUL-terminated string; 128 bytes always suffice.
 */
void ctl_label_masked(struct onr_bytes label, char *out, size_t cap);

/*
 * ctl_json_string: `s` (borrowed, untrusted: any bytes) as a JSON string
 * with its quotes, ASCII only: quote, backslash and control characters
 * escaped, non-ASCII as \u escapes (surrogate pairs above U+FFFF), each
 * byte that is not part of valid UTF-8 as \ufffd. Always valid JSON.
 */
void ctl_json_string(FILE *out, const uint8_t *s, size_t len);

/*
 * ctl_text_value: `s` (borrowed, untrusted) as one value of a text line,
 * escaped by onr_text_escape (<onramp/text.h>), whole: visible ASCII but
 * '=', '"' and '\\' as it is, every other byte as \xNN, so it can neither
 * end its field nor forge another. An empty value writes nothing.
 */
void ctl_text_value(FILE *out, const uint8_t *s, size_t len);

/*
 * ctl_format_time: `sec`.`msec` since the epoch as ISO 8601 UTC with
 * milliseconds ("2024-05-01T12:00:00.123Z") into `out` (32 bytes).
 */
void ctl_format_time(int64_t sec, unsigned msec, char out[32]);

/*
 * ctl_render_text / ctl_render_json: `s` as one line ending in '\n':
 *
 *   TIME TOPIC type=T sender=ROLE:ID dev=D step=S verdict=V id=HEX k=v...
 *   {"time":..,"topic":..,"type":..,"sender_role":..,"sender":..,"dev":..,
 *    "step":..,"verdict":..,"id":..,"body":{..}}
 *
 * Absent values are "-" in text and null in JSON. Body fields as
 * ctl_field_show says; in text a body key that is also a line key (dev,
 * step, ...) is written "body.KEY". After a `voucher` field whose token
 * decoded come voucher.op, voucher.plmn and voucher.why (those present),
 * keys of their own in JSON too. Application data has the body
 * {"payload": "<bin N>"}, a telemetry in SPEC section 14's form its fields
 * (dev, state, plmn, nonce); an undecodable message none.
 */
void ctl_render_text(FILE *out, const struct ctl_sighting *s);
void ctl_render_json(FILE *out, const struct ctl_sighting *s);

#endif /* ONRAMP_CTL_MONITOR_H */
