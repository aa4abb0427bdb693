#include "onramp/mqtt_loop.h"

#include <event2/event.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "onramp/error.h"

struct onr_mqtt_loop {
    struct event_base *base;
    struct mosquitto *mosq;
    struct event *read_ev;
    struct event *write_ev;
    struct event *misc_ev;
    onr_mqtt_loop_lost_cb on_lost;
    void *arg;
    int bound;
};

/* The connection is gone: stop watching, then tell the owner (who may free
 * or rebind us from the callback, so nothing touches `loop` after it). */
static void lost(struct onr_mqtt_loop *loop, int reason)
{
    onr_mqtt_loop_lost_cb cb = loop->on_lost;
    void *arg = loop->arg;

    onr_mqtt_loop_unbind(loop);
    if (cb != NULL)
        cb(arg, reason);
}

/*
 * Packets read per readable event at most. libmosquitto reads one packet
 * per call (more only while QoS 1 messages of ours await their PUBACK, and
 * it ignores the count it is given), so what is already waiting is read
 * here, up to this many: the messages of one read are one burst for the
 * services' group commit, at any QoS.
 */
#define READ_BURST 64

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct onr_mqtt_loop *loop = arg;
    int waiting = 0;
    int rc;

    (void)what;
    for (int i = 0; i < READ_BURST; i++) {
        rc = mosquitto_loop_read(loop->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            lost(loop, rc);
            return;
        }
        /* unbound by a callback (the owner dropped the connection): stop */
        if (!loop->bound || ioctl(fd, FIONREAD, &waiting) != 0 || waiting <= 0)
            break;
    }
    onr_mqtt_loop_kick(loop);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct onr_mqtt_loop *loop = arg;
    int rc;

    (void)fd;
    (void)what;
    rc = mosquitto_loop_write(loop->mosq, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        lost(loop, rc);
        return;
    }
    onr_mqtt_loop_kick(loop);
}

static void on_misc(evutil_socket_t fd, short what, void *arg)
{
    struct onr_mqtt_loop *loop = arg;
    int rc;

    (void)fd;
    (void)what;
    rc = mosquitto_loop_misc(loop->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        lost(loop, rc);
        return;
    }
    onr_mqtt_loop_kick(loop);
}

int onr_mqtt_loop_new(struct event_base *base, struct mosquitto *mosq,
                      onr_mqtt_loop_lost_cb on_lost, void *arg, struct onr_mqtt_loop **out)
{
    struct onr_mqtt_loop *loop;

    if (base == NULL || mosq == NULL || out == NULL)
        return ONR_EINVAL;
    loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return ONR_ENOMEM;
    loop->base = base;
    loop->mosq = mosq;
    loop->on_lost = on_lost;
    loop->arg = arg;
    *out = loop;
    return ONR_OK;
}

void onr_mqtt_loop_unbind(struct onr_mqtt_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->read_ev != NULL)
        event_free(loop->read_ev);
    if (loop->write_ev != NULL)
        event_free(loop->write_ev);
    if (loop->misc_ev != NULL)
        event_free(loop->misc_ev);
    loop->read_ev = loop->write_ev = loop->misc_ev = NULL;
    loop->bound = 0;
}

int onr_mqtt_loop_bind(struct onr_mqtt_loop *loop)
{
    const struct timeval tick = {0, 100 * 1000};
    int fd;

    if (loop == NULL)
        return ONR_EINVAL;
    onr_mqtt_loop_unbind(loop);
    fd = mosquitto_socket(loop->mosq);
    if (fd < 0)
        return ONR_EINVAL;
    loop->read_ev = event_new(loop->base, fd, EV_READ | EV_PERSIST, on_read, loop);
    loop->write_ev = event_new(loop->base, fd, EV_WRITE, on_write, loop);
    loop->misc_ev = event_new(loop->base, -1, EV_PERSIST, on_misc, loop);
    if (loop->read_ev == NULL || loop->write_ev == NULL || loop->misc_ev == NULL ||
        event_add(loop->read_ev, NULL) != 0 || event_add(loop->misc_ev, &tick) != 0) {
        onr_mqtt_loop_unbind(loop);
        return ONR_ENOMEM;
    }
    loop->bound = 1;
    onr_mqtt_loop_kick(loop);
    return ONR_OK;
}

void onr_mqtt_loop_kick(struct onr_mqtt_loop *loop)
{
    if (loop == NULL || !loop->bound)
        return;
    if (mosquitto_want_write(loop->mosq) && !event_pending(loop->write_ev, EV_WRITE, NULL))
        event_add(loop->write_ev, NULL);
}

void onr_mqtt_loop_free(struct onr_mqtt_loop *loop)
{
    if (loop == NULL)
        return;
    onr_mqtt_loop_unbind(loop);
    free(loop);
}
