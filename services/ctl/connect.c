#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "onramp/error.h"
#include "onramp/topic.h"
#include "onramp/x509.h"

/* The role level in client ids and topics, from the certificate's OU (a
 * role's name); a monitor has no topics of its own. */
static const char *role_of(const char *ou)
{
    if (strcmp(ou, "monitor") == 0)
        return "monitor";
    for (int r = ONR_ROLE_MANUFACTURER; r <= ONR_ROLE_CONTROL; r++)
        if (strcmp(ou, onr_role_name(r)) == 0)
            return onr_topic_role((enum onr_role)r);
    return NULL;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)flags;
    (void)props;
    *(int *)obj = rc;
}

int ctl_client_id(const struct ctl_broker *b, const char *suffix, char *out, size_t cap)
{
    uint8_t buf[2 * ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert;
    struct onr_x509_info info;
    const char *role;
    size_t n = 0;
    int rc;

    rc = onr_x509_load(b->cert, buf, &buf_len, &cert, 1, &n);
    if (rc == ONR_OK)
        rc = onr_x509_parse(cert.ptr, cert.len, &info);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", b->cert, onr_strerror(rc));
        return rc;
    }
    role = role_of(info.org_unit);
    if (role == NULL) {
        fprintf(stderr, "onrampctl: %s: OU '%s' is not manufacturer, operator, provider, "
                        "monitor or control\n", b->cert, info.org_unit);
        return ONR_ECERT;
    }
    if ((size_t)snprintf(out, cap, "%s.%s.%s", role, info.common_name, suffix) >= cap)
        return ONR_ESPACE;
    return ONR_OK;
}

struct mosquitto *ctl_connect(const struct ctl_broker *b, void *userdata)
{
    char client_id[128];
    char suffix[32];
    struct mosquitto *mosq = NULL;
    int connack = -1;
    time_t deadline;
    int rc;

    snprintf(suffix, sizeof(suffix), "ctl%ld", (long)getpid());
    if (ctl_client_id(b, suffix, client_id, sizeof(client_id)) != ONR_OK)
        return NULL;
    mosq = mosquitto_new(client_id, true, &connack);
    if (mosq == NULL) {
        fprintf(stderr, "onrampctl: out of memory\n");
        return NULL;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1); /* no Nagle wait after TLS */
    mosquitto_connect_v5_callback_set(mosq, on_connect);
    rc = mosquitto_tls_set(mosq, b->cafile, NULL, b->cert, b->key, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_bind_v5(mosq, b->host, b->port, 30, NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: cannot connect to %s:%d: %s\n", b->host, b->port,
                mosquitto_strerror(rc));
        mosquitto_destroy(mosq);
        return NULL;
    }
    deadline = time(NULL) + b->timeout;
    while (connack < 0 && time(NULL) < deadline)
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (connack != 0) {
        fprintf(stderr, "onrampctl: %s:%d refused the connection: %s\n", b->host, b->port,
                connack < 0 ? "no answer" : mosquitto_reason_string(connack));
        mosquitto_destroy(mosq);
        return NULL;
    }
    mosquitto_connect_v5_callback_set(mosq, NULL);
    mosquitto_user_data_set(mosq, userdata);
    return mosq;
}

int ctl_identity(const struct ctl_broker *b, char id[33])
{
    uint8_t buf[2 * ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert;
    struct onr_x509_info info;
    size_t n = 0;
    int rc;

    rc = onr_x509_load(b->cert, buf, &buf_len, &cert, 1, &n);
    if (rc == ONR_OK)
        rc = onr_x509_parse(cert.ptr, cert.len, &info);
    if (rc == ONR_OK && strlen(info.common_name) > 32)
        rc = ONR_ECERT;
    if (rc == ONR_OK)
        memcpy(id, info.common_name, strlen(info.common_name) + 1); /* fits: checked above */
    return rc;
}

bool ctl_broker_option(struct ctl_broker *b, int opt, const char *arg)
{
    switch (opt) {
    case 'H': b->host = arg; return true;
    case 'p': b->port = atoi(arg); return true;
    case 'c': b->cafile = arg; return true;
    case 'C': b->cert = arg; return true;
    case 'k': b->key = arg; return true;
    case 't': b->timeout = atoi(arg); return true;
    default: return false;
    }
}

bool ctl_broker_complete(const struct ctl_broker *b)
{
    return b->host != NULL && b->port > 0 && b->port < 65536 && b->cafile != NULL &&
           b->cert != NULL && b->key != NULL && b->timeout > 0;
}

void ctl_disconnect(struct mosquitto *mosq)
{
    if (mosq == NULL)
        return;
    mosquitto_disconnect(mosq);
    mosquitto_loop(mosq, 100, 1);
    mosquitto_destroy(mosq);
}
