/*
 * What the device sends on the bootstrap broker: the ring of this step's
 * requests (an answer's `re` finds the one it answers) and the envelopes
 * they travel in, signed, MAC'ed or not as their type asks.
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <string.h>
#include <time.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/mqtt_loop.h"
#include "onramp/topic.h"

struct device_sent *device_sent_next(struct onr_device *d)
{
    struct device_sent *s = &d->sent[d->n_sent % DEVICE_SENT_KEPT];

    onr_wipe(s, sizeof(*s));
    return s;
}

void device_sent_keep(struct onr_device *d)
{
    d->n_sent++;
}

struct device_sent *device_sent_find(struct onr_device *d, struct onr_bytes re)
{
    size_t n = d->n_sent < DEVICE_SENT_KEPT ? d->n_sent : DEVICE_SENT_KEPT;

    for (size_t i = 0; i < n; i++)
        if (d->sent[i].kind != SENT_NONE && re.len == ONR_MSG_ID_LEN &&
            memcmp(d->sent[i].id, re.ptr, ONR_MSG_ID_LEN) == 0)
            return &d->sent[i];
    return NULL;
}

int device_down_topic(const struct onr_device *d, char *out, size_t cap)
{
    return onr_topic_down(d->files.trust.dev, out, cap);
}

int device_publish(struct onr_device *d, const struct onr_msg *msg, enum onr_role role,
                   const char *svc, uint8_t id[ONR_MSG_ID_LEN])
{
    const struct device_trust *t = &d->files.trust;
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_DEVICE,
        .sender = {(const uint8_t *)t->dev, ONR_DEVID_LEN},
        .key = d->files.identity, /* used only by the types that are signed */
    };
    uint8_t buf[ONR_ENVELOPE_MAX];
    char topic[ONR_TOPIC_MAX + 1];
    mosquitto_property *props = NULL;
    size_t len = 0;
    int rc;

    /* K_AF, the provider key, for the types MAC'ed with it (enroll request) */
    if (d->journey.state >= ONR_DEVICE_NETWORK_ATTACHED)
        self.mac_key = ONR_BYTES(d->journey.akma.k_af);
    rc = onr_topic_up(t->dev, role, svc, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    rc = onr_envelope_encode(msg, &self, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                             (uint64_t)time(NULL), buf, sizeof(buf), &len, id);
    if (rc != ONR_OK)
        return rc;
    /* The request expires when we stop waiting for its answer: a service
     * that is behind never spends work on a request whose device has given
     * up on it and will ask again (SPEC section 3). */
    if (mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                                     d->opt.answer_timeout) != MOSQ_ERR_SUCCESS)
        return ONR_ENOMEM;
    /* QoS 0 (SPEC section 2): the broker owes us no PUBACK; a request lost
     * with the connection is asked again after the wait, at either QoS. */
    rc = mosquitto_publish_v5(d->mosq, NULL, topic, (int)len, buf, 0, false, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS)
        return ONR_EIO;
    onr_mqtt_loop_kick(d->loop);
    return ONR_OK;
}
