/*
 * libonramp-device: a blank device's onboarding journey (proto/SPEC.md,
 * ../DESIGN.md steps 3a and 3b so far), as a persistent state machine.
 *
 * A device lives in its state directory, as onramp-factory minted it
 * (identity.key, identity.pem, sealing.key, manufacturer.pub, voucher.pub,
 * broker-ca.pem, device.conf). Each completed step is written there
 * atomically (temporary file, fsync, rename) before the next one starts,
 * so after a power cut the device resumes at the last completed step.
 *
 *   FACTORY   nothing done yet: connect to a bootstrap broker (anonymous
 *             TLS and a proof of possession), say hello to the
 *             manufacturer with a fresh nonce, wait for the voucher ("pending"
 *             answers make it wait for the pushed voucher, and ask again
 *             after retry-after)
 *   VOUCHED   a voucher verified (manufacturer's voucher key, this device,
 *             the nonce of one of its hellos, not expired) and stored
 *
 * Later steps (profile, attach, enrollment) append states after VOUCHED.
 *
 * Failures are retried with exponential backoff and jitter (1 s doubling to
 * 60 s); after `max_attempts` failed attempts in a row the run ends with
 * the last error. Answers that do not verify are reported and ignored:
 * they never change the state.
 *
 * Threading: one device is driven by one libevent loop; nothing here is
 * thread-safe. mosquitto_lib_init() must have been called.
 */
#ifndef ONRAMP_DEVICE_H
#define ONRAMP_DEVICE_H

#include <stdint.h>

#include "onramp/msg.h"

struct event_base;
struct onr_device;

enum onr_device_state {
    ONR_DEVICE_FACTORY = 0,
    ONR_DEVICE_VOUCHED = 1,
};

/* What the device reports while it runs. Strings are only valid during
 * the call and never hold secrets. */
struct onr_device_callbacks {
    /* a step completed or something worth telling happened ("connected",
     * "hello", "pending", "refused ...", "state") */
    void (*progress)(void *arg, const struct onr_device *dev, const char *event,
                     const char *detail);
    /* the run ended: ONR_OK with the target state reached, or the error
     * that made it give up */
    void (*done)(void *arg, const struct onr_device *dev, int result);
    void *arg;
};

struct onr_device_options {
    enum onr_device_state target; /* run until this state (default: the last) */
    unsigned max_attempts;        /* failed attempts in a row before giving up (20) */
    unsigned answer_timeout;      /* seconds to wait for an answer (15) */
};

/*
 * onr_device_open: the device in `state_dir` (the path is copied), at the
 * state its directory records. `cb` is copied; `opt` may be NULL for the
 * defaults. Returns ONR_OK, ONR_ENOENT (a file missing), ONR_EFORMAT
 * (device.conf or the state file damaged), ONR_EPERM (a key readable by
 * others), ONR_EBADKEY, ONR_ECERT, ONR_ENOMEM.
 */
int onr_device_open(const char *state_dir, const struct onr_device_callbacks *cb,
                    const struct onr_device_options *opt, struct onr_device **out);

/* onr_device_start: run the journey on the caller's loop `base` (borrowed);
 * the done callback tells the end. ONR_OK or ONR_ENOMEM. */
int onr_device_start(struct onr_device *dev, struct event_base *base);

/* onr_device_run: run the journey on the library's own loop until it ends;
 * its result (as given to the done callback). */
int onr_device_run(struct onr_device *dev);

/* onr_device_stop: end a started run now (from a signal handler event,
 * say); the done callback gets ONR_EBUSY. */
void onr_device_stop(struct onr_device *dev);

/* onr_device_close: disconnect and free. Accepts NULL. */
void onr_device_close(struct onr_device *dev);

enum onr_device_state onr_device_state(const struct onr_device *dev);
const char *onr_device_state_name(enum onr_device_state state);
const char *onr_device_id(const struct onr_device *dev);

/* What the stored voucher says (valid from VOUCHED on). */
struct onr_device_voucher {
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char prov[ONR_SERVICE_ID_MAX + 1];
    uint8_t prov_key[65];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint8_t op_key[65];
    uint64_t expires;
};
/* onr_device_voucher: ONR_OK and the voucher, or ONR_ENOENT before it. */
int onr_device_voucher(const struct onr_device *dev, struct onr_device_voucher *out);

#endif /* ONRAMP_DEVICE_H */
