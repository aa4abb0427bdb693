/*
 * Connecting a device to a bootstrap broker: anonymous TLS plus a proof of
 * possession of its identity key in the MQTT v5 CONNECT (proto/SPEC.md
 * section 10), through libmosquitto.
 *
 * A proof is single use: every connection attempt needs a new one, so a
 * device reconnects by calling onr_connect_pop again, never with
 * mosquitto_reconnect (which would resend the old proof and be refused).
 */
#ifndef ONRAMP_CONNECT_H
#define ONRAMP_CONNECT_H

#include <stdint.h>

struct mosquitto;
struct onr_p256_key;

/* Where and how to reach one bootstrap broker. All strings borrowed. */
struct onr_bootstrap {
    const char *host;
    int port;
    const char *cafile;      /* PEM: the CA of the broker's TLS certificate */
    const char *broker_name; /* the name proofs are bound to (the plugin's broker_name) */
    int keepalive;           /* seconds; 0 for 60 */
};

/*
 * onr_connect_client_new: a libmosquitto client for the device whose
 * identity key is `key` (borrowed): client id = its device id, MQTT v5,
 * clean start, `userdata` for the callbacks. Free with mosquitto_destroy.
 * Call mosquitto_lib_init() once before. Returns ONR_OK, ONR_EINVAL,
 * ONR_ENOMEM or ONR_ECRYPTO.
 */
int onr_connect_client_new(const struct onr_p256_key *key, void *userdata,
                           struct mosquitto **out);

/*
 * onr_connect_pop: configure TLS for `b` and connect `mosq` (made by
 * onr_connect_client_new for the same key) with a fresh proof made at
 * `now` (seconds since the epoch). The TCP and TLS connection is opened
 * here (blocking); the CONNACK arrives through the client's loop and
 * on_connect callback: 0 admitted, 135 (not authorized) refused.
 * Returns ONR_OK, ONR_EINVAL, ONR_EIO (connection failed), ONR_ENOMEM,
 * ONR_ERANDOM or ONR_ECRYPTO.
 */
int onr_connect_pop(struct mosquitto *mosq, const struct onr_p256_key *key,
                    const struct onr_bootstrap *b, uint64_t now);

#endif /* ONRAMP_CONNECT_H */
