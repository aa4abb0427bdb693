#include "onramp/connect.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <string.h>

#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/pop.h"

int onr_connect_client_new(const struct onr_p256_key *key, void *userdata,
                           struct mosquitto **out)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    char id[ONR_DEVID_LEN + 1];
    struct mosquitto *mosq;
    int rc;

    if (key == NULL || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc != ONR_OK)
        return rc;
    mosq = mosquitto_new(id, true, userdata);
    if (mosq == NULL)
        return ONR_ENOMEM;
    /* No Nagle: a device writes whole packets and waits for answers. With
     * Nagle, the CONNECT after the TLS handshake waited ~40 ms for the
     * broker's delayed ACK (the broker sends no session tickets). */
    if (mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(mosq);
        return ONR_EINVAL;
    }
    *out = mosq;
    return ONR_OK;
}

int onr_connect_pop(struct mosquitto *mosq, const struct onr_p256_key *key,
                    const struct onr_bootstrap *b, uint64_t now)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    char id[ONR_DEVID_LEN + 1];
    uint8_t proof[ONR_POP_LEN];
    mosquitto_property *props = NULL;
    int rc;

    if (mosq == NULL || key == NULL || b == NULL || b->host == NULL || b->cafile == NULL ||
        b->broker_name == NULL || b->port <= 0 || b->port > 65535)
        return ONR_EINVAL;
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc == ONR_OK)
        rc = onr_pop_encode(key, (struct onr_bytes){(const uint8_t *)id, strlen(id)},
                            (struct onr_bytes){(const uint8_t *)b->broker_name,
                                               strlen(b->broker_name)},
                            now, proof);
    if (rc != ONR_OK)
        return rc;
    if (mosquitto_tls_set(mosq, b->cafile, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS)
        return ONR_EINVAL;
    if (mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD,
                                      ONR_POP_METHOD) != MOSQ_ERR_SUCCESS ||
        mosquitto_property_add_binary(&props, MQTT_PROP_AUTHENTICATION_DATA, proof,
                                      sizeof(proof)) != MOSQ_ERR_SUCCESS) {
        mosquitto_property_free_all(&props);
        return ONR_ENOMEM;
    }
    rc = mosquitto_connect_bind_v5(mosq, b->host, b->port, b->keepalive > 0 ? b->keepalive : 60,
                                   NULL, props);
    mosquitto_property_free_all(&props);
    return rc == MOSQ_ERR_SUCCESS ? ONR_OK : ONR_EIO;
}
