/*
 * libonramp-device: a blank device's journey (proto/SPEC.md, ../DESIGN.md
 * steps 3a to 4), from its first power-on to working service, and its
 * relocation to another operator when it turns up in a country where its
 * owner's policy names one (SPEC section 16), as a persistent state
 * machine.
 *
 * A device lives in its state directory, as onramp-factory minted it
 * (identity.key, identity.pem, sealing.key, manufacturer.pub, voucher.pub,
 * broker-ca.pem, device.conf). Each completed step is written there
 * atomically (temporary file, fsync, rename) before the next one starts,
 * its data first and then the file "journey" (the state's name and a
 * newline), so after a power cut the device resumes at the last completed
 * step. Secrets and the step files are mode 0600, certificates 0644. The
 * files the journey adds:
 *
 *   voucher   the voucher token (SPEC section 6) as the manufacturer signed it
 *   profile   the network profile: the PROFILE_CONTENT body (SPEC section 5,
 *             type 100) as the operator sealed it, msgpack; holds Ki and OPc
 *   sqn       the USIM's sequence numbers (TS 33.102 Annex C): text, 32
 *             lines, line i (from 0) the decimal SEQ, 0 to 2^43 - 1, highest
 *             accepted in IND slot i, each line ending in "\n" and nothing
 *             else in the file. No file means all zero (a new USIM); it is
 *             written before the device answers a challenge. A test may
 *             write it (any mode) to put the USIM ahead of the network:
 *             freshness is per slot, so every line must be ahead.
 *   akma      kid (16 bytes) || K_AF (32 bytes): the attach's AKMA-style key
 *             identifier and the key with the voucher's provider
 *   service.key     the service key (P-256, PEM "EC PRIVATE KEY"), made by
 *             the device for its provider and stored before the first
 *             enroll request; every request of the journey (retries, after
 *             a restart) names it. A new attach removes an older one
 *   service.pem     the service certificate chain (PEM, leaf first, then
 *             the provider CA) the provider issued for service.key
 *   service-ca.pem  the CA of the service broker's TLS certificate (PEM)
 *   endpoint  the service broker, "mqtts://HOST:PORT" and a newline
 *   reported  the nonces of the last 8 telemetries that reported a visited
 *             PLMN, with that PLMN, one "HEX PLMN" line each, oldest first;
 *             written before the telemetry is sent, emptied when a
 *             relocation answering one of them is taken (each answers one)
 *   next/     while relocating (mode 0700): the new operator's voucher,
 *             profile, sqn and akma, as above, kept apart from the
 *             device's own until the relocation's switch moves them up
 *   renew/    while renewing its service certificate (mode 0700): the new
 *             service key (0600, stored before the first renew request),
 *             then the provider's chain, CA and endpoint for it, then
 *             "ready" (the switch is due), until the switch renames them
 *             over service.pem, service-ca.pem, endpoint and service.key
 *   renewed   the serial (hex) of the certificate a renewal replaced,
 *             until the provider confirms it revoked it
 *
 * device.conf may name the network the device is on, `visited_plmn MCCMNC`
 * (5 or 6 digits; a device with a modem asks it instead, and tells the
 * library with onr_device_set_visited_plmn): every hello carries it (SPEC
 * type 1), so that the manufacturer chooses the operator its owner's
 * policy names for that country, and so does every telemetry. A malformed
 * one keeps the device from opening.
 *
 *   FACTORY   nothing done yet: connect to a bootstrap broker (anonymous
 *             TLS and a fresh proof of possession per attempt, bound to
 *             that broker's name; which broker: below), subscribe to
 *             onr/1/d/{dev}/down, say hello to the manufacturer with a
 *             fresh nonce, wait for the voucher ("pending" answers make it
 *             wait for the pushed voucher, and ask again after retry_after)
 *   VOUCHED   a voucher verified (manufacturer's voucher key, this device
 *             and its sealing key, the nonce of one of its hellos of this
 *             run, not expired) and stored. Next: ask the voucher's
 *             operator for a profile (on onr/1/d/{dev}/up/op/{op}, with the
 *             voucher and a fresh nonce); the answer, signed by the
 *             operator's key in the voucher, is sealed to this device's
 *             sealing key for this device, operator and nonce
 *   PROFILED  a profile opened, checked and stored. Next: attach, a UMTS
 *             AKA run (Milenage, TS 33.102) with the operator: the device
 *             names its IMSI, checks the challenge's MAC and sequence
 *             number, stores its new SQN and answers RES (or AUTS when the
 *             SQN is not fresh: the operator resynchronises and challenges
 *             again)
 *   NETWORK_ATTACHED
 *             the operator accepted RES and sent the AKMA-style key
 *             identifier (kid), which the device derived too from CK || IK;
 *             kid and the provider key K_AF are stored. Next: enroll (SPEC
 *             section 14) with the voucher's provider: an enroll request
 *             {kid, CSR for service.key, subject CN = the device id} on
 *             onr/1/d/{dev}/up/prov/{prov}, MAC'ed with K_AF; the answer,
 *             signed by the provider's key in the voucher, must carry a
 *             chain whose leaf is for service.key and this device and which
 *             verifies up to its last certificate, a CA certificate and an
 *             endpoint mqtts://HOST:PORT (HOST a host name or IPv4 address,
 *             PORT 1 to 65535). "pending" answers wait as for the voucher
 *   ENROLLED  the chain, CA and endpoint stored. Next: leave the bootstrap
 *             broker and connect to the endpoint (MQTT v5 over TLS, the
 *             service chain and key as client certificate, service-ca.pem
 *             trusted for the server, the device id as client id, clean
 *             start) and publish, QoS 1, the telemetry of SPEC section 14,
 *             {"dev":"ID","state":"OPERATIONAL"}, to
 *             onr/1/p/{prov}/dev/{dev}/telemetry
 *   OPERATIONAL
 *             the service broker acknowledged that telemetry (PUBACK below
 *             0x80). A device started at OPERATIONAL, to reach OPERATIONAL,
 *             connects to its service broker directly and publishes its
 *             telemetry again: its run ends when that is acknowledged
 *             (other states end a run at once when they are its target),
 *             unless the run stays (options' `stay`): then it stays
 *             connected until stopped, reconnecting when the connection is
 *             lost, and reports its telemetry again whenever its visited
 *             PLMN changes.
 *             Before its telemetry, it subscribes to its provider's
 *             onr/1/p/{prov}/dev/{dev}/down. A telemetry with a visited
 *             PLMN is {"dev":"ID","state":"OPERATIONAL","plmn":"PLMN",
 *             "nonce":"HEX"}, its fresh nonce stored in "reported" first
 *             (SPEC section 14). A relocate there (SPEC type 37) that
 *             passes every check of SPEC section 16 (its provider's
 *             signature, a token from its manufacturer's voucher key for
 *             this device, not expired, for its provider, answering one of
 *             its reported nonces and the PLMN reported with it, for
 *             another operator) is stored (next/voucher, "reported"
 *             emptied, the journey RELOCATING), and the device relocates:
 *   RELOCATING
 *             the new operator's voucher in next/. Next: leave the service
 *             broker for a bootstrap broker and ask the new operator for a
 *             profile with it, as at VOUCHED; the device's own profile,
 *             service key and certificate stay as they are
 *   RELOCATION_PROFILED
 *             the new profile in next/. Next: attach with it, as at
 *             PROFILED (next/sqn its own sequence numbers)
 *   RELOCATED the new attach succeeded: next/akma stored, then this state,
 *             then the switch: next/voucher, profile, sqn and akma renamed
 *             over the device's own (the old ones dropped), the journey
 *             OPERATIONAL, next/ removed; a device cut off meanwhile
 *             finishes the switch when it opens. Then, OPERATIONAL, it
 *             connects to its service broker and reports its telemetry.
 *             A relocation that fails (errors, no answer, no attach) is
 *             retried as every step is; after max_attempts failed
 *             attempts in a row, or at once when its voucher expires
 *             before the new profile is stored, it is abandoned: the
 *             journey OPERATIONAL on the old profile, next/ removed, the
 *             service broker and a telemetry again.
 *
 * Certificate renewal (SPEC section 17): an OPERATIONAL device connected
 * to its service broker renews its certificate once it is within
 * `renew_before` of its notAfter (options; default a third of its
 * lifetime), less a jitter of up to a quarter of that which the
 * certificate's serial fixes: it sends its provider a renew request on
 * onr/1/p/{prov}/dev/{dev}/renew for a new key (renew/service.key),
 * signed with the key in force; the enroll response on .../down is
 * checked as an enrollment's, stored in renew/ and switched in; the device
 * connects again with the new certificate and, after its telemetry, sends
 * renewed (signed with the new key) until the provider answers revoked,
 * naming the certificate replaced. A run that does not stay renews when it
 * connects with a certificate due (before it ends); one that stays, when
 * the certificate comes due. A certificate past its notAfter is not
 * renewed: the journey goes back to NETWORK_ATTACHED (the service files
 * removed) and the device enrolls again, with its last attach's AKMA-style
 * key and a new service key. A power cut anywhere leaves a certificate
 * that works: the old one until the answer is stored whole, then the new
 * one (a switch cut short is finished at open); the provider revokes the
 * old one only after renewed.
 *
 * A factory reset (onr_device_factory_reset) removes every file the
 * journey added and leaves the factory's, so the device starts again at
 * FACTORY (after a provider released it: proto/SPEC.md type 28).
 *
 * Failures (no connection, refused CONNECT, no answer within
 * `answer_timeout`, an error answer, a challenge that is not from our
 * network, a telemetry PUBACK of 0x80 or more) are retried with exponential
 * backoff and jitter (1 s doubling to 60 s, plus up to 50%); after
 * `max_attempts` failed attempts in a row the run ends with the last error.
 * The manufacturer's ENOOPERATOR (the owner's roaming policy names no
 * operator for the country the device reports) is retried the same way
 * but never ends the run: like a pending answer, it waits for the owner
 * to add one (proto/SPEC.md section 15). Each retry sends a new request (new id and nonce; the enroll request's
 * key stays the same).
 *
 * Bootstrap brokers: device.conf lists 1 to 8 (`broker NAME HOST PORT`).
 * A run starts at a random one (the library's DRBG), so that a fleet
 * powered on together spreads over them, and stays with it across steps
 * and reconnects while it works. A failure of the broker's own moves the
 * device to the next one of the list (after the last, the first), after
 * the same backoff: no connection, no CONNACK or SUBACK within
 * `answer_timeout`, the CONNECT or the subscription refused, the
 * connection lost, or a request without an answer within
 * `answer_timeout` (a broker cut off from the services carries none). An
 * error answer, one that does not check and a "pending" one keep it where
 * it is: another broker reaches the same services. A "pending" answer is not a failure: an unclaimed
 * device waits as long as it takes. Answers that do not verify, open or
 * check are reported and ignored: they never change the state.
 *
 * Threading: one device is driven by one libevent loop; nothing here is
 * thread-safe. mosquitto_lib_init() must have been called.
 */
#ifndef ONRAMP_DEVICE_H
#define ONRAMP_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/msg.h"
#include "onramp/policy.h"

struct event_base;
struct onr_device;

/* The steps of the journey, in order; the zero value is a fresh device.
 * After OPERATIONAL, a relocation's, which end OPERATIONAL again (they are
 * no run's target). */
enum onr_device_state {
    ONR_DEVICE_FACTORY = 0,
    ONR_DEVICE_VOUCHED = 1,
    ONR_DEVICE_PROFILED = 2,
    ONR_DEVICE_NETWORK_ATTACHED = 3,
    ONR_DEVICE_ENROLLED = 4,
    ONR_DEVICE_OPERATIONAL = 5,
    ONR_DEVICE_RELOCATING = 6,
    ONR_DEVICE_RELOCATION_PROFILED = 7,
    ONR_DEVICE_RELOCATED = 8,
};

/*
 * What the device reports while it runs. Strings are only valid during the
 * call and never hold secrets. `detail` is "" or space-separated key=value
 * pairs, one line whatever the network sent. A reason= value is either the
 * library's own words in double quotes (reason="no answer from the
 * operator") or, when the text came from the network (the reason of a
 * pending or error answer), that text escaped by onr_text_escape
 * (<onramp/text.h>): no space, quote, '=' or '\' but as \xHH escapes, so
 * it can neither end its field nor forge another. Events and details:
 *
 *   state       ""  at start (the state resumed) and after each step
 *   connecting  broker=NAME host=HOST port=PORT  (a bootstrap broker)
 *   connected   ""  admitted by a bootstrap broker; broker=service: by the
 *               service broker
 *   hello       manufacturer=ID [visited=PLMN]
 *   profile     operator=ID  a profile request sent
 *   attach      operator=ID imsi=DIGITS  an attach request sent (the
 *               profile's challenge was lost or not sent, or a later attach)
 *   challenge   ""  a challenge (the profile's, or an attach request's)
 *               verified, answered with RES (SQN stored)
 *   resync      ""  a challenge's SQN not fresh, answered with AUTS
 *   enroll      provider=ID  an enroll request sent
 *   operating   endpoint=mqtts://HOST:PORT  connecting to the service broker
 *   telemetry   topic=TOPIC [visited=PLMN]  the service broker acknowledged
 *               the telemetry
 *   renew       serial=HEX not_after=UNIXTIME  a renew request sent for the
 *               certificate in force
 *   renewed     serial=HEX not_after=UNIXTIME  the new certificate stored and
 *               in force (the device connects with it)
 *   confirmed   serial=HEX  the provider revoked the certificate replaced
 *   unrenewed   attempts=N code=NAME reason="..." [delay=SECONDS]  a renewal's
 *               message got no answer or an error: no failure of the run
 *               (the certificate in force works); one that stays asks again
 *               after SECONDS (1 minute doubling to an hour, plus jitter),
 *               one that does not ends OPERATIONAL and its next run asks
 *   expired     serial=HEX not_after=UNIXTIME  the certificate expired:
 *               NETWORK_ATTACHED, enrolling again
 *   relocate    operator=ID [reason=WHY] [visited=PLMN]  a relocate taken
 *               and stored: the device relocates to that operator, chosen
 *               for WHY (user, policy, fallback) where it reported PLMN
 *   abandoned   attempts=N code=NAME reason="..."  a relocation given up:
 *               OPERATIONAL on the old profile again
 *   pending     retry_after=SECONDS [reason=ESCAPED]
 *   error       code=NAME reason=ESCAPED  an error answer from the manufacturer,
 *               the operator or the provider (code: the onr_error_name, or
 *               the number if unknown), or at open: file=NAME code=NAME (why
 *               the device cannot start)
 *   refused     what=voucher|profile|challenge|result|enrollment|renewal|
 *               relocate|message code=NAME reason="..."  an answer that does not
 *               verify, open or check, or is not for us; ignored
 *               (what=challenge code=EBADMAC: a challenge not from our
 *               network, answered as a MAC failure and counted as a failed
 *               attempt; what=relocate code=EEXIST: a relocation to the
 *               operator the device has, nothing to do)
 *   retry       attempt=N delay=SECONDS code=NAME reason="..."
 *   failed      attempts=N code=NAME reason="..."  the run gives up
 */
struct onr_device_callbacks {
    void (*progress)(void *arg, const struct onr_device *dev, const char *event,
                     const char *detail);
    /* the run ended: ONR_OK with the target state reached, ONR_EBUSY when
     * stopped (onr_device_stop), or the error that made it give up */
    void (*done)(void *arg, const struct onr_device *dev, int result);
    void *arg;
};

struct onr_device_options {
    enum onr_device_state target; /* run until this state (FACTORY to OPERATIONAL);
                                     FACTORY (0): OPERATIONAL */
    unsigned max_attempts;        /* failed attempts in a row before giving up; 0: 20 */
    unsigned answer_timeout;      /* seconds to wait for CONNACK + SUBACK and for
                                     an answer to each request; 0: 15 */
    int keep_point_tables;        /* 0 (a device): after each event free the
                                     tables wolfCrypt builds for the P-256 keys
                                     it used (~800 KB each; a device uses each
                                     key a few times); 1: keep them for the
                                     thread (many devices in one process, as
                                     onramp-loadgen runs them, share them) */
    int stay;                     /* 0: a run to OPERATIONAL ends once its
                                     telemetry is acknowledged; 1: it stays
                                     connected to its service broker until
                                     stopped, for its provider's relocate and
                                     to report a new visited PLMN */
    int64_t renew_before;         /* renew the service certificate this many
                                     seconds before its notAfter (less a
                                     jitter of up to a quarter of it); 0: a
                                     third of its lifetime */
};

/*
 * onr_device_open: the device in `state_dir` (the path is copied), at the
 * state its directory records. `cb` is copied (may be NULL); `opt` may be
 * NULL for the defaults. On failure the progress callback is told which
 * file was refused (an "error" event, file=NAME [key=KEY] code=NAME
 * reason="...": KEY a key of device.conf; its `dev` is the half-open
 * device, to be used for nothing else) and *out is untouched. A RELOCATED
 * device's switch is finished here. Returns ONR_OK, ONR_EINVAL, ONR_ENOENT
 * (a file missing), ONR_EFORMAT (device.conf or the journey damaged, a
 * visited_plmn that is not 5 or 6 digits, or a completed step's file
 * (voucher, profile, sqn, akma, service.key, service.pem, service-ca.pem,
 * endpoint, reported, next/'s) missing, damaged or not matching),
 * ONR_EPERM (a key or profile readable by others), ONR_EBADKEY,
 * ONR_ECERT, ONR_ENOMEM, ONR_EIO.
 */
int onr_device_open(const char *state_dir, const struct onr_device_callbacks *cb,
                    const struct onr_device_options *opt, struct onr_device **out);

/* onr_device_start: run the journey on the caller's loop `base` (borrowed,
 * must outlive the device); the done callback tells the end (at once, from
 * inside this call, when the target is already reached, unless it is
 * OPERATIONAL: see above). Once per device.
 * ONR_OK, ONR_EINVAL (started before) or ONR_ENOMEM. */
int onr_device_start(struct onr_device *dev, struct event_base *base);

/* onr_device_run: run the journey on the library's own loop until it ends;
 * its result (as given to the done callback). Instead of onr_device_start. */
int onr_device_run(struct onr_device *dev);

/* onr_device_stop: end a started run now (from a signal event, say); the
 * done callback gets ONR_EBUSY. The state stays what was stored. */
void onr_device_stop(struct onr_device *dev);

/* onr_device_close: disconnect and free. Accepts NULL. */
void onr_device_close(struct onr_device *dev);

/*
 * onr_device_factory_reset: take the device in `state_dir` (borrowed) back
 * to FACTORY, without opening it (a damaged journey is no obstacle; no
 * device may be open on the directory meanwhile). The factory's files
 * stay as they are (identity.key, identity.pem, sealing.key,
 * manufacturer.pub, voucher.pub, broker-ca.pem, device.conf, and the label
 * files label.txt, label.ndef and label.png where the factory left them). Removed, in
 * this order, each removal made durable (the directory fsync'ed) before
 * the next:
 *   1. journey: from then on the device is FACTORY, whatever a power cut
 *      leaves of the rest (the journey writes each step's file again, or
 *      removes it, before relying on it; only a stale sqn is read, and
 *      costs at most one resynchronisation; a second reset finishes the
 *      job). If journey cannot be removed, nothing else is touched.
 *   2. the steps' files from the last step back to the first: a
 *      relocation's next/ and a renewal's renew/ and what is in them,
 *      renewed, reported, endpoint,
 *      service-ca.pem, service.pem, service.key, akma, sqn, profile,
 *      voucher, so what a cut leaves is what an earlier step left.
 *   3. temporaries an interrupted atomic write of one of these left
 *      (NAME.tmp.XXXXXX).
 * Files already absent are fine: resetting a FACTORY device changes
 * nothing. Other files are left alone. After a failure in step 2 or 3 the
 * other removals are still tried. Secrets (profile: Ki and OPc; akma: K_AF;
 * service.key) are unlinked, not overwritten first: on flash storage and
 * journaling or copy-on-write file systems an overwrite does not reach the
 * blocks that held them either; a device that must not leave them behind
 * keeps its state directory on encrypted storage.
 * Returns ONR_OK; ONR_EINVAL (`state_dir` NULL or empty, or not a device's
 * state directory: missing, not a directory, or without device.conf; then
 * nothing is removed); ONR_EIO (a file could not be removed or the
 * directory not synced; after a failure to remove journey nothing was).
 */
int onr_device_factory_reset(const char *state_dir);

enum onr_device_state onr_device_state(const struct onr_device *dev);
/* onr_device_state_name: "FACTORY", "VOUCHED", "PROFILED",
 * "NETWORK_ATTACHED", "ENROLLED", "OPERATIONAL", "RELOCATING",
 * "RELOCATION_PROFILED", "RELOCATED" ("UNKNOWN" otherwise): the state
 * names of <onramp/journey.h>'s steps; static strings. */
const char *onr_device_state_name(enum onr_device_state state);
/* onr_device_state_from_name: the state named `name` (any case);
 * ONR_OK or ONR_EINVAL. */
int onr_device_state_from_name(const char *name, enum onr_device_state *out);
/* onr_device_id: the device id; lives as long as `dev`. */
const char *onr_device_id(const struct onr_device *dev);

/* What the stored voucher says (valid from VOUCHED on). */
struct onr_device_voucher {
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    uint8_t prov_key[65]; /* verifies the provider's messages */
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t op_key[65]; /* verifies the operator's messages */
    uint64_t expires;   /* seconds since the epoch */
    char plmn[ONR_PLMN_MAX + 1]; /* the visited PLMN `op` was chosen for; "" if none */
    enum onr_choice why;         /* why (SPEC section 15); 0 if the voucher says not */
    uint8_t nonce[ONR_NONCE_LEN]; /* the hello's it answers, or a telemetry's */
};
/* onr_device_voucher: ONR_OK and a copy of the voucher in `out`, or
 * ONR_ENOENT before VOUCHED. */
int onr_device_voucher(const struct onr_device *dev, struct onr_device_voucher *out);
/* onr_device_relocation: ONR_OK and a copy of the voucher of the
 * relocation under way in `out` (the operator the device moves to), or
 * ONR_ENOENT when it is not relocating. */
int onr_device_relocation(const struct onr_device *dev, struct onr_device_voucher *out);

/*
 * onr_device_set_visited_plmn: the network the device is on now, MCC ||
 * MNC (`plmn`, borrowed: 5 or 6 digits, NUL-terminated; NULL: none known),
 * as its modem reports it; it replaces device.conf's visited_plmn for as
 * long as `dev` is open (it is not stored). Every hello from then on
 * carries it, and so does every telemetry; an OPERATIONAL device connected
 * to its service broker reports it at once in a new telemetry (or right
 * after the one in flight) when it changed. Call it before or during a run.
 * ONR_OK, or ONR_EINVAL (`dev` NULL or a malformed PLMN: nothing changes).
 */
int onr_device_set_visited_plmn(struct onr_device *dev, const char *plmn);
/* onr_device_visited_plmn: the visited PLMN now, "" if none is known;
 * lives until the next onr_device_set_visited_plmn or the close. */
const char *onr_device_visited_plmn(const struct onr_device *dev);

/* What the stored network profile and attach say (valid from PROFILED on);
 * nothing secret. */
struct onr_device_network {
    char iccid[21]; /* 19..20 digits */
    char imsi[16];  /* 6..15 digits */
    char plmn[7];   /* MCC || MNC */
    char apn[101];
    uint8_t kid[16]; /* the attach's key identifier; zero before NETWORK_ATTACHED */
};
/* onr_device_network: ONR_OK and a copy in `out`, or ONR_ENOENT before
 * PROFILED. */
int onr_device_network(const struct onr_device *dev, struct onr_device_network *out);

/* What the stored enrollment says (valid from ENROLLED on); nothing secret. */
struct onr_device_service {
    char endpoint[257]; /* mqtts://HOST:PORT */
    uint8_t serial[20]; /* the service certificate's serial number */
    size_t serial_len;
    int64_t not_after;  /* its end of validity, seconds since the epoch */
};
/* onr_device_service: ONR_OK and a copy in `out`, or ONR_ENOENT before
 * ENROLLED. */
int onr_device_service(const struct onr_device *dev, struct onr_device_service *out);

#endif /* ONRAMP_DEVICE_H */
