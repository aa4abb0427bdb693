/*
 * Onramp's MQTT topics (proto/SPEC.md section 2), built and parsed in one
 * place:
 *
 *   onr/1/d/{dev}/up/{role}/{svc}     a device's request to a service
 *                                     (role: mfr, op, prov)
 *   onr/1/d/{dev}/down                everything a service sends a device
 *   onr/1/s/{role}/{svc}/in           service to service (mfr, op, prov, ctl)
 *   onr/1/s/{role}/{svc}/ev           a service's events and counters
 *                                     (mfr, op, prov, and broker: the plugin)
 *   onr/1/p/{prov}/dev/{dev}/{rest}   an operational device's own topics on
 *                                     its provider's service broker; among
 *                                     them .../down, its provider's Onramp
 *                                     messages to it (a relocate)
 *   onr/1/voucher                     never published: what a voucher token
 *                                     is bound to (SPEC section 6)
 *   $CONTROL/onramp/v1[/response]     the broker plugin's control topic
 *
 * Builders take checked ids (a device id: 32 characters of a-z 2-7; a
 * service id: 1 to ONR_SERVICE_ID_MAX characters of a-z 0-9 . _ -, not
 * starting with . _ or -) and write a NUL-terminated topic into the
 * caller's buffer. They return ONR_OK; ONR_EINVAL for a NULL or ill-formed
 * argument or a role the topic does not carry (`out` is then "" if `cap`
 * > 0); ONR_ESPACE if the topic and its NUL do not fit in `cap` bytes
 * (then `out` holds "" too: never a truncated topic). Every topic they
 * build is at most ONR_TOPIC_MAX bytes, so a buffer of ONR_TOPIC_MAX + 1
 * always fits.
 *
 * Filters (what services subscribe to) take an optional shared
 * subscription group: NULL for a plain filter, else a group name with the
 * rules of a service id, giving "$share/{group}/{filter}".
 *
 * onr_topic_parse reads untrusted topic bytes. Nothing here keeps state or
 * allocates; everything is safe to call from any thread.
 */
#ifndef ONRAMP_TOPIC_H
#define ONRAMP_TOPIC_H

#include <stddef.h>

#include "onramp/bytes.h"
#include "onramp/devid.h"
#include "onramp/msg.h"

/* Topics are bounded so the authenticated input is (SPEC section 4). */
#define ONR_TOPIC_MAX 256

#define ONR_TOPIC_VOUCHER "onr/1/voucher"
#define ONR_TOPIC_CONTROL "$CONTROL/onramp/v1"
#define ONR_TOPIC_CONTROL_RESPONSE "$CONTROL/onramp/v1/response"
/* Everything of Onramp's a monitor reads (not $CONTROL). */
#define ONR_TOPIC_FILTER_ALL "onr/1/#"
/* Below it, only operational devices' topics: their provider's
 * application data, and on the `down` and `renew` leaves alone Onramp
 * envelopes. */
#define ONR_TOPIC_OPERATIONAL_ROOT "onr/1/p/"
/* The leaf of an operational device's first message (SPEC section 14). */
#define ONR_TOPIC_TELEMETRY "telemetry"
/* The leaf its provider's Onramp messages reach it on (SPEC section 16):
 * signed envelopes, never application data. */
#define ONR_TOPIC_OPERATIONAL_DOWN "down"
/* The leaf where an operational device sends its provider Onramp envelopes:
 * a renewal's (SPEC section 17). */
#define ONR_TOPIC_RENEW "renew"

enum onr_topic_kind {
    ONR_TOPIC_KIND_UP = 1,           /* onr/1/d/{dev}/up/{role}/{svc} */
    ONR_TOPIC_KIND_DOWN,             /* onr/1/d/{dev}/down */
    ONR_TOPIC_KIND_IN,               /* onr/1/s/{role}/{svc}/in */
    ONR_TOPIC_KIND_EV,               /* onr/1/s/{role}/{svc}/ev */
    ONR_TOPIC_KIND_OPERATIONAL,      /* onr/1/p/{prov}/dev/{dev}/{rest} */
    ONR_TOPIC_KIND_VOUCHER,          /* onr/1/voucher */
    ONR_TOPIC_KIND_CONTROL,          /* $CONTROL/onramp/v1 */
    ONR_TOPIC_KIND_CONTROL_RESPONSE, /* $CONTROL/onramp/v1/response */
};

/* A parsed topic: its parts copied out, NUL-terminated and checked. */
struct onr_topic {
    enum onr_topic_kind kind;
    enum onr_role role;               /* UP, IN, EV: the service's role;
                                       * OPERATIONAL: ONR_ROLE_PROVIDER; else 0 */
    char svc[ONR_SERVICE_ID_MAX + 1]; /* UP, IN, EV: the service's id (the broker's
                                       * name for the plugin's EV); OPERATIONAL: the
                                       * provider; else "" */
    char dev[ONR_DEVID_LEN + 1];      /* UP, DOWN, OPERATIONAL: the device; else "" */
    struct onr_bytes rest;            /* OPERATIONAL: the levels after the device's
                                       * (borrowed from the parsed bytes, no NUL);
                                       * else empty */
};

/*
 * onr_topic_role: the topic level of a service role: "mfr", "op", "prov",
 * "ctl", "broker"; NULL for ONR_ROLE_DEVICE and unknown roles. Static.
 * onr_topic_role_parse: the role whose level is `level` (borrowed, `len`
 * bytes, compared exactly); ONR_OK, or ONR_EINVAL for any other bytes.
 */
const char *onr_topic_role(enum onr_role role);
int onr_topic_role_parse(const char *level, size_t len, enum onr_role *out);

/* onr_topic_up: onr/1/d/{dev}/up/{role}/{svc}; role MANUFACTURER, OPERATOR
 * or PROVIDER. Errors as above. */
int onr_topic_up(const char *dev, enum onr_role role, const char *svc, char *out, size_t cap);

/* onr_topic_down: onr/1/d/{dev}/down. Errors as above. */
int onr_topic_down(const char *dev, char *out, size_t cap);

/* onr_topic_in: onr/1/s/{role}/{svc}/in; role MANUFACTURER, OPERATOR,
 * PROVIDER or CONTROL. Errors as above. */
int onr_topic_in(enum onr_role role, const char *svc, char *out, size_t cap);

/* onr_topic_ev: onr/1/s/{role}/{svc}/ev; role MANUFACTURER, OPERATOR,
 * PROVIDER or BROKER (svc: the broker's name). Errors as above. */
int onr_topic_ev(enum onr_role role, const char *svc, char *out, size_t cap);

/*
 * onr_topic_operational: onr/1/p/{prov}/dev/{dev}/{rest}, e.g. rest
 * ONR_TOPIC_TELEMETRY. `rest` (borrowed, NUL-terminated): one or more
 * levels, none empty, without '+', '#' or control characters, valid UTF-8;
 * ONR_EINVAL otherwise, or if the topic would exceed ONR_TOPIC_MAX.
 * Other errors as above.
 */
int onr_topic_operational(const char *prov, const char *dev, const char *rest, char *out,
                          size_t cap);

/* onr_topic_operational_down: onr/1/p/{prov}/dev/{dev}/down, where a
 * provider's signed messages reach its operational device. Errors as
 * above. */
int onr_topic_operational_down(const char *prov, const char *dev, char *out, size_t cap);

/*
 * Subscription filters; `group` NULL or a shared subscription group
 * (prefix "$share/{group}/"). Errors as above.
 *
 * onr_topic_filter_up: a service's devices' requests,
 *   onr/1/d/+/up/{role}/{svc} (role as for onr_topic_up).
 * onr_topic_filter_in: a service's inbox, onr/1/s/{role}/{svc}/in (role as
 *   for onr_topic_in).
 * onr_topic_filter_ev: events and counters, onr/1/s/{role}/{svc}/ev (role
 *   as for onr_topic_ev); `svc` NULL for every service of the role ("+").
 * onr_topic_filter_operational: a provider's operational devices,
 *   onr/1/p/{prov}/dev/+/{rest}; `rest` as for onr_topic_operational, or
 *   NULL for every topic below a device ("#").
 */
int onr_topic_filter_up(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap);
int onr_topic_filter_in(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap);
int onr_topic_filter_ev(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap);
int onr_topic_filter_operational(const char *group, const char *prov, const char *rest,
                                 char *out, size_t cap);

/*
 * onr_topic_parse: which of the topics above `topic` (borrowed, exactly
 * `len` bytes, untrusted: no byte past `len` is read, and a NUL inside
 * makes it ill-formed) is, and its parts, into `out`. Only the exact forms
 * above are topics: a wildcard, an empty level, a role the topic does not
 * carry, a malformed device or service id, or trailing levels (except an
 * operational device's) are not. Returns ONR_OK; ONR_EINVAL for a NULL
 * `out` (or `topic` with `len` > 0); ONR_ETOOBIG for `len` >
 * ONR_TOPIC_MAX; ONR_EFORMAT for anything else. On failure `out` is
 * zeroed.
 */
int onr_topic_parse(const char *topic, size_t len, struct onr_topic *out);

#endif /* ONRAMP_TOPIC_H */
