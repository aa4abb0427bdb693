/*
 * Inside libonramp-device: the running device, shared by device.c (the
 * loop, the bootstrap connection, the timer), device_answer.c (the
 * dispatch of what the down topic brings), device_request.c (the requests sent and their ring),
 * device_info.c (what the public accessors report),
 * report.c (progress events) and one file per step of the journey
 * (step_voucher.c, step_profile.c, step_attach.c, step_enroll.c, and
 * step_operate.c, the service broker's connection; step_relocate.c, a
 * relocation's start and end: its profile and attach are
 * step_profile.c's and step_attach.c's, on the network device_net
 * names).
 *
 * A step on the bootstrap broker exposes two functions to device.c:
 *   step_<step>_send(d)       send the step's request (connected, or the
 *                             timer's "ask again"); arms the answer timeout
 *   step_<step>_take(d, env)  an envelope from the step's peer, already
 *                             verified (signature, topic, freshness,
 *                             replay), other than pending and error
 * and moves the journey on with device_advance() once the step's data is
 * stored. From ENROLLED on the timer calls step_operate_connect instead,
 * but while relocating (RELOCATING, RELOCATION_PROFILED), when the device
 * is on a bootstrap broker again.
 */
#ifndef ONRAMP_DEVICE_RUN_H
#define ONRAMP_DEVICE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "device_internal.h"
#include "onramp/envelope.h"
#include "onramp/policy.h"

struct event;
struct event_base;
struct mosquitto;
struct mosquitto_message;
struct onr_mqtt_loop;
struct onr_replay;

#define DEVICE_SENT_KEPT 32 /* an answer may come for any recent request */

/* What a message this device sent was; an answer's `re` finds it. */
enum device_sent_kind {
    SENT_NONE = 0, /* an empty slot, or one no answer may name any more */
    SENT_HELLO,
    SENT_PROFILE_REQUEST,
    SENT_ATTACH_REQUEST,
    SENT_RES,          /* an attach response with RES: ck, ik kept for the result */
    SENT_SYNC_FAILURE, /* an attach response with AUTS: a new challenge answers it */
    SENT_MAC_FAILURE,  /* an attach response refusing the challenge */
    SENT_ENROLL_REQUEST,
};

struct device_sent {
    uint8_t id[ONR_MSG_ID_LEN];
    enum device_sent_kind kind;
    uint8_t nonce[ONR_NONCE_LEN]; /* hello, profile request */
    uint8_t ck[ONR_AKA_KEY_LEN];  /* SENT_RES only; wiped when done */
    uint8_t ik[ONR_AKA_KEY_LEN];
    uint64_t sqn;                 /* SENT_RES only: the challenge's SQN */
};

/* What the timer means now (not persisted). */
enum device_phase {
    PHASE_IDLE,       /* not connected; the timer connects */
    PHASE_CONNECTING, /* waiting for CONNACK (and SUBACK); the timer is a failure */
    PHASE_WAITING,    /* a request (or the telemetry) sent; the timer (no
                         answer, no PUBACK) is a failure */
    PHASE_PENDING,    /* told to wait, or backing off connected; the timer asks again */
    PHASE_OPERATING,  /* OPERATIONAL, staying: on the service broker, the telemetry
                         acknowledged; the timer is the certificate's renewal
                         (step_renew.c), else a relocate, a new visited PLMN or a
                         lost connection */
};

/* Where a certificate renewal is (step_renew.c), on this connection. */
enum device_renewal {
    RENEWAL_NONE = 0,
    RENEWAL_REQUESTED,  /* a renew request out: an enroll response awaited */
    RENEWAL_CONFIRMING, /* renewed out: revoked awaited */
};

struct onr_device {
    char dir[DEVICE_PATH_MAX];
    struct onr_device_callbacks cb;
    struct onr_device_options opt;
    struct device_files files;
    struct device_choice broker; /* the bootstrap broker in use */

    struct device_journey journey;             /* state and what each step stored */
    struct device_sent sent[DEVICE_SENT_KEPT]; /* this step's, this run's: a ring */
    size_t n_sent;
    struct onr_replay *replay;

    uint8_t csr[DEVICE_CSR_MAX]; /* this run's enroll request's CSR, once made */
    size_t csr_len;

    struct event_base *base;
    int own_base;
    struct mosquitto *mosq;      /* the bootstrap broker's client */
    struct onr_mqtt_loop *loop;
    struct mosquitto *svc_mosq;  /* the service broker's: one per attempt */
    struct onr_mqtt_loop *svc_loop;
    int telemetry_mid;           /* the telemetry's message id, 0 before */
    char visited[ONR_PLMN_MAX + 1]; /* the visited PLMN now, "" if unknown */
    int report_again;            /* it changed while a telemetry was in flight */
    enum device_renewal renewal; /* a renewal's message in flight, if any */
    uint8_t renew_id[ONR_MSG_ID_LEN]; /* its id: the answer's `re` */
    struct onr_p256_key *renew_key; /* renew/service.key, once loaded or made */
    uint8_t renew_csr[DEVICE_CSR_MAX]; /* its request, made once per run */
    size_t renew_csr_len;
    unsigned renew_failures;     /* renewal attempts that failed in a row */
    int64_t renew_retry_at;      /* a staying device asks again then; 0: when due */
    struct event *timer;
    enum device_phase phase;
    unsigned failures; /* failed attempts in a row */
    int last_error;
    int started;
    int running;
};

/* ---- report.c: progress events ----------------------------------------------------- */

/* One progress detail being built: key=value pairs, truncated if need be. */
struct device_detail {
    char text[768];
    size_t len;
};

void device_put(struct device_detail *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ` key=value` for text from the network (`n` bytes, borrowed): escaped by
 * onr_text_escape, so it can neither end its field nor forge another. */
void device_put_escaped(struct device_detail *l, const char *key, const void *value, size_t n);
/* ` key="text"` for the library's own words (`text` NUL-terminated,
 * borrowed): quoted as they are, being visible ASCII and spaces; anything
 * else in them goes out as device_put_escaped would put it. */
void device_put_ours(struct device_detail *l, const char *key, const char *text);
/* ` code=NAME`, or the number for a code this library does not know. */
void device_put_code(struct device_detail *l, int code);
/* The progress callback with `event` and `l`'s text ("" for NULL). */
void device_report(struct onr_device *d, const char *event, const struct device_detail *l);
/* `event` with [what=WHAT] code=NAME reason="why" */
void device_report_code(struct onr_device *d, const char *event, const char *what, int code,
                        const char *why);

/* ---- device_request.c: what the device sends -------------------------------------- */

/* device_sent_next: the ring slot the next request takes (the oldest one,
 * wiped); device_sent_keep: it was sent, keep it. */
struct device_sent *device_sent_next(struct onr_device *d);
void device_sent_keep(struct onr_device *d);
/* device_sent_find: the message of this step of this run that `re` (an
 * answer's, borrowed) names, or NULL. */
struct device_sent *device_sent_find(struct onr_device *d, struct onr_bytes re);
/* device_attach_superseded: whether `s` is an attach response with RES
 * to a challenge of a lower SQN than another this run answered: its
 * answer, a result or an error, is not the run whose keys the operator
 * keeps (step_attach.c). */
int device_attach_superseded(const struct onr_device *d, const struct device_sent *s);

/*
 * device_publish: `msg` in an envelope from this device on
 * onr/1/d/{dev}/up/{role}/{svc}, signed with the identity key or MAC'ed
 * with K_AF (from NETWORK_ATTACHED on) when its type asks; its id into
 * `id`. ONR_OK, ONR_EINVAL (a role or service id no topic carries), an
 * encoding error, or ONR_EIO when it cannot be queued.
 */
int device_publish(struct onr_device *d, const struct onr_msg *msg, enum onr_role role,
                   const char *svc, uint8_t id[ONR_MSG_ID_LEN]);

/* device_down_topic: onr/1/d/{dev}/down into `out` (`cap` bytes):
 * onr_topic_down's result. */
int device_down_topic(const struct onr_device *d, char *out, size_t cap);

/* ---- device.c: what the steps use ---------------------------------------------------- */

/* The network a bootstrap step works with: the device's own while
 * onboarding, a relocation's (journey.next, files in next/) while
 * relocating (RELOCATING, RELOCATION_PROFILED). Pointers into the device. */
struct device_net {
    enum device_slot slot;
    const struct onr_device_voucher *voucher;
    const uint8_t *token;
    size_t token_len;
    struct device_profile *profile;
    char dir[DEVICE_PATH_MAX + 200]; /* where its files are */
};
void device_net(struct onr_device *d, struct device_net *out);

/* device_on_bootstrap: at `state` the device talks to a bootstrap broker
 * (onboarding up to NETWORK_ATTACHED, and a relocation's profile and
 * attach); else to its service broker. */
int device_on_bootstrap(enum onr_device_state state);

/* device_wait_answer: a request is out; no answer within answer_timeout
 * is a failed attempt. device_wait_connect: a connection is being made; no
 * CONNACK (and SUBACK) within answer_timeout is a failed attempt. */
void device_wait_answer(struct onr_device *d);
void device_wait_connect(struct onr_device *d);
/* device_wait_pending: told to wait (a pending answer): connected still,
 * the step's request asked again after `seconds`, plus jitter. */
void device_wait_pending(struct onr_device *d, uint64_t seconds);

/* device_failed: a failed attempt: the connection is dropped and, after
 * a backoff, made again (or the run gives up after max_attempts).
 * device_failed_connected: the same, staying connected; the timer sends
 * the step's request again. */
void device_failed(struct onr_device *d, int why, const char *what);
void device_failed_connected(struct onr_device *d, int why, const char *what);

/* device_give_up: the run ends with `why` now (a disk problem). */
void device_give_up(struct onr_device *d, int why, const char *what);

/* device_finish: the run ends with `result` (ONR_OK: done). */
void device_finish(struct onr_device *d, int result);

/*
 * device_enter: the state becomes `state` (stored already), the ring is
 * wiped, the failure count reset, the state reported.
 * device_move: the step is done and stored (d->journey holds its data):
 * device_enter, then the run ends at the target (0) or goes on (1: the
 * caller sends what comes next on this connection).
 * device_advance: device_move, then the next step's request.
 * device_reconnect: both connections left, the timer at once: the device
 * connects where its state says (device_on_bootstrap).
 */
void device_enter(struct onr_device *d, enum onr_device_state state);
int device_move(struct onr_device *d, enum onr_device_state state);
void device_advance(struct onr_device *d, enum onr_device_state state);
void device_reconnect(struct onr_device *d);

/* device_release_point_tables: wolfCrypt's P-256 tables freed, unless the
 * options keep them (see onr_device_options). */
void device_release_point_tables(const struct onr_device *d);

/* device_peer_name: who answers at the device's step ("manufacturer",
 * "operator", "provider", "service broker"); static. */
const char *device_peer_name(const struct onr_device *d);

/* device_take_message (device_answer.c): what the bootstrap client's
 * subscription brought (`m`, borrowed, untrusted), if it is on the down
 * topic and the device is at a bootstrap step: decoded, verified as from
 * the step's peer, then pending and error taken here and the rest by the
 * step (step_<step>_take); anything else reported as refused, or, a late
 * answer of an earlier step, ignored. */
void device_take_message(struct onr_device *d, const struct mosquitto_message *m);

/* ---- the steps ----------------------------------------------------------------------- */

void step_voucher_send(struct onr_device *d);
void step_voucher_take(struct onr_device *d, const struct onr_envelope *env);
void step_profile_send(struct onr_device *d);
void step_profile_take(struct onr_device *d, const struct onr_envelope *env);
void step_attach_send(struct onr_device *d);
/* step_attach_answer: the first challenge of a profile (`rand`, `autn`,
 * borrowed: SPEC section 13) answered at PROFILED or RELOCATION_PROFILED
 * as one answering an attach request would be. */
void step_attach_answer(struct onr_device *d, const uint8_t *rand, const uint8_t *autn);
void step_attach_take(struct onr_device *d, const struct onr_envelope *env);
void step_enroll_send(struct onr_device *d);
void step_enroll_take(struct onr_device *d, const struct onr_envelope *env);

/*
 * step_operate_connect (the timer, from ENROLLED on, never inside a
 * libmosquitto callback): says goodbye to the bootstrap broker if still
 * connected, makes a new service broker client (the one before destroyed),
 * connects to the endpoint with the service certificate and publishes the
 * telemetry once admitted; on its PUBACK the journey is OPERATIONAL and
 * the run ends. Failures are failed attempts.
 */
void step_operate_connect(struct onr_device *d);
/* step_operate_drop: the service broker's connection, if any, is left (a
 * DISCONNECT queued, the loop unbound). step_operate_close: and freed. */
void step_operate_drop(struct onr_device *d);
void step_operate_close(struct onr_device *d);
/* step_operate_settle: the run's work on the service broker is done for
 * now: a run that does not stay ends (ONR_OK); one that stays waits there
 * (PHASE_OPERATING, the renewal's timer set) and sends a telemetry whose
 * report came meanwhile. */
void step_operate_settle(struct onr_device *d);
/* step_operate_report: the visited PLMN changed: an OPERATIONAL device on
 * its service broker reports it in a new telemetry now, or after the one
 * in flight; otherwise its next connection does. */
void step_operate_report(struct onr_device *d);

/*
 * step_relocate.c, the relocation's start and end (SPEC section 16):
 * step_relocate_take  a message on the operational down topic `topic`
 *                     (`payload`, `len` bytes, untrusted): a relocate taken
 *                     (device_take_relocate) makes the device RELOCATING
 *                     and sends it to a bootstrap broker; anything else is
 *                     reported and ignored
 * step_relocate_done  the new attach is stored (RELOCATED): the switch
 *                     (device_relocation_commit), the journey read again,
 *                     OPERATIONAL, to the service broker
 * step_relocate_abandon  the relocation failed for good (`why`, `what`):
 *                     OPERATIONAL on the old profile, to the service broker
 * step_relocate_expired  at RELOCATING, a voucher expired can no longer get
 *                     a profile: abandoned, and 1; else 0
 */
void step_relocate_take(struct onr_device *d, const char *topic, const uint8_t *payload,
                        size_t len);
void step_relocate_done(struct onr_device *d);
void step_relocate_abandon(struct onr_device *d, int why, const char *what);
int step_relocate_expired(struct onr_device *d);

/*
 * step_renew.c, certificate renewal (SPEC section 17):
 * step_renew_next      the telemetry acknowledged: a renewal not confirmed
 *                      sends renewed; a certificate due (device_renew_at
 *                      with the options' renew_before) sends a renew
 *                      request; 1 then (an answer awaited, or the attempt
 *                      failed), else 0
 * step_renew_schedule  a staying device's timer set for its certificate's
 *                      renewal
 * step_renew_take      a message on the operational down topic (`payload`,
 *                      `len` bytes, untrusted): 1 if it was a renewal's
 *                      (an enroll response, revoked or error: verified, then
 *                      taken if it answers the message in flight), 0 if
 *                      not (a relocate's)
 * step_renew_expired   before connecting to the service broker: a
 *                      certificate past its notAfter sends the device back
 *                      to NETWORK_ATTACHED and enrollment (1); else 0
 * step_renew_cleanup   the renewal's key and request freed
 */
int step_renew_next(struct onr_device *d);
void step_renew_schedule(struct onr_device *d);
int step_renew_take(struct onr_device *d, const char *topic, const uint8_t *payload,
                    size_t len);
int step_renew_expired(struct onr_device *d);
void step_renew_cleanup(struct onr_device *d);
/* step_renew_failed: the renewal's message got no answer, or an error
 * (`why`, `what`): it is no failure of the run, the certificate in force
 * still works. A staying device asks again later, on the service broker
 * (1 minute doubling to an hour, with jitter); a run that does not stay
 * ends OPERATIONAL (ONR_OK), its next run asks again. */
void step_renew_failed(struct onr_device *d, int why, const char *what);

#endif /* ONRAMP_DEVICE_RUN_H */
