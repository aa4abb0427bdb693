/*
 * Driving a libmosquitto client from a libevent loop, through its socket:
 * never mosquitto_loop_forever or mosquitto_loop_start (no threads). Used by
 * the device library and by the services.
 *
 *   EV_READ (persistent) on mosquitto_socket()  -> mosquitto_loop_read
 *   EV_WRITE, armed only while mosquitto_want_write()  -> mosquitto_loop_write
 *   a 100 ms timer  -> mosquitto_loop_misc (keepalive, retries)
 *
 * Bind after the client has a socket (after mosquitto_connect...), and
 * again after each reconnect. Call onr_mqtt_loop_kick after publishing or
 * subscribing so the write event is armed at once. When the connection is
 * lost the events are removed and `on_lost` is called; reconnecting is the
 * owner's decision (a device needs a fresh proof each time).
 */
#ifndef ONRAMP_MQTT_LOOP_H
#define ONRAMP_MQTT_LOOP_H

struct event_base;
struct mosquitto;
struct onr_mqtt_loop;

/* Called once per lost connection, from the loop; `reason` is the
 * libmosquitto error. The binding is idle afterwards (rebind to reuse). */
typedef void (*onr_mqtt_loop_lost_cb)(void *arg, int reason);

/*
 * onr_mqtt_loop_new: a binding of `mosq` (borrowed; must outlive the
 * binding) to `base` (borrowed). Not yet active: call onr_mqtt_loop_bind.
 * Returns ONR_OK, ONR_EINVAL or ONR_ENOMEM.
 */
int onr_mqtt_loop_new(struct event_base *base, struct mosquitto *mosq,
                      onr_mqtt_loop_lost_cb on_lost, void *arg, struct onr_mqtt_loop **out);

/* onr_mqtt_loop_free: removes the events. Accepts NULL. */
void onr_mqtt_loop_free(struct onr_mqtt_loop *loop);

/*
 * onr_mqtt_loop_bind: watch the client's current socket. Returns ONR_OK,
 * ONR_EINVAL (no socket: not connected) or ONR_ENOMEM.
 */
int onr_mqtt_loop_bind(struct onr_mqtt_loop *loop);

/* onr_mqtt_loop_unbind: stop watching (the client is left as it is). */
void onr_mqtt_loop_unbind(struct onr_mqtt_loop *loop);

/* onr_mqtt_loop_kick: arm the write event if the client has data to send. */
void onr_mqtt_loop_kick(struct onr_mqtt_loop *loop);

#endif /* ONRAMP_MQTT_LOOP_H */
