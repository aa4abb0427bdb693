/*
 * Who a client is. A device proves possession of its identity key in
 * CONNECT (proto/SPEC.md section 10); a service or monitor presents a
 * certificate from the services CA; an operational device presents the
 * certificate its provider's CA issued it (section 14). Nothing else
 * admits anyone: usernames and passwords are never credentials.
 */
#include "plugin.h"

#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "grants.h"
#include "onramp/error.h"
#include "onramp/pop.h"
#include "onramp/text.h"
#include "sessions.h"

/* The counter a failed proof goes to. */
static uint64_t *pop_counter(struct plugin *p, int rc)
{
    switch (rc) {
    case ONR_EBADKEY: return &p->stats.pop_wrong_id;
    case ONR_ESTALE: return &p->stats.pop_stale;
    case ONR_EBADSIG: return &p->stats.pop_bad_sig;
    case ONR_EREPLAY:
    case ONR_EREPLAYFULL: return &p->stats.pop_replayed;
    default: return &p->stats.pop_malformed;
    }
}

static int refuse(struct plugin *p, const struct mosquitto *client, uint64_t *counter,
                  const char *why)
{
    p->stats.refused++;
    counters_deny(p, NULL, client, counter, "connect", NULL, why);
    return MOSQ_ERR_AUTH;
}

/*
 * The oldest proof timestamp admitted now. The replay cache lives in
 * memory: a broker that restarted no longer knows which proofs it
 * admitted, and one from before the restart would still be inside the
 * window. So for one window after its start the plugin refuses proofs
 * made before it started, and in the very second it started (timestamps
 * are whole seconds: the previous run may have admitted a proof of that
 * second); a device makes a fresh one. After that the window alone
 * refuses them. Measured on the monotonic clock, so a wall clock set back
 * after the start cannot stretch this beyond one window.
 */
static uint64_t proofs_not_before(const struct plugin *p)
{
    uint64_t since_start_ns = now_ns() - p->started_ns;

    if (since_start_ns >= (uint64_t)p->cfg.pop_window * 1000000000u)
        return 0;
    return (uint64_t)p->started + 1;
}

int auth_on_ext_start(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_extended_auth *ed = event_data;
    struct plugin *p = userdata;
    const char *client_id = mosquitto_client_id(ed->client);
    const char *broker = p->cfg.broker_name;
    struct identity who;
    int rc;

    (void)event;
    if (ed->auth_method == NULL || strcmp(ed->auth_method, ONR_POP_METHOD) != 0)
        return refuse(p, ed->client, &p->stats.no_credentials, "unknown auth method");
    if (!limits_connect_allowed(p))
        return refuse(p, ed->client, &p->stats.connect_rate, "connection rate");
    if (client_id == NULL || client_id[0] == '\0' || ed->data_in == NULL)
        return refuse(p, ed->client, &p->stats.pop_malformed, "no client id or no proof");
    rc = onr_pop_verify(ed->data_in, ed->data_in_len,
                        (struct onr_bytes){(const uint8_t *)client_id,
                                           strnlen(client_id, ONR_POP_MAX_NAME + 1)},
                        (struct onr_bytes){(const uint8_t *)broker, strlen(broker)},
                        (uint64_t)time(NULL), p->cfg.pop_window, proofs_not_before(p),
                        p->replay, NULL);
    if (rc != ONR_OK)
        return refuse(p, ed->client, pop_counter(p, rc), onr_strerror(rc));
    /* onr_pop_verify checked that the client id is the key's device id */
    memset(&who, 0, sizeof(who));
    who.kind = PRINCIPAL_DEVICE;
    if (strlen(client_id) >= sizeof(who.id))
        return refuse(p, ed->client, &p->stats.pop_wrong_id, "client id too long");
    strcpy(who.id, client_id);
    if (conns_add(p, ed->client, &who) == NULL)
        return refuse(p, ed->client, &p->stats.refused, "out of memory");
    p->stats.connects++;
    return MOSQ_ERR_SUCCESS;
}

/*
 * A service's client id is "{role}.{id}" or "{role}.{id}.{suffix}": it can
 * never be a device id (which has no dot) nor another service's.
 */
static bool service_client_id_ok(const char *client_id, const char *role, const char *id)
{
    size_t role_len = strlen(role);
    size_t id_len = strlen(id);
    const char *suffix;

    if (client_id == NULL || strncmp(client_id, role, role_len) != 0 ||
        client_id[role_len] != '.' || strncmp(client_id + role_len + 1, id, id_len) != 0)
        return false;
    suffix = client_id + role_len + 1 + id_len;
    if (*suffix == '\0')
        return true;
    if (*suffix != '.' || suffix[1] == '\0' || strlen(suffix + 1) > ONR_SERVICE_ID_MAX)
        return false;
    return onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)suffix + 1,
                                                         strlen(suffix + 1)}) == ONR_OK;
}

/*
 * A service or monitor admitted: record its persistent session and the
 * certificate it was admitted with, so that after a broker restart the
 * plugin can vouch for the session Mosquitto restores before its client
 * reconnects (sessions.h). Written only when that is news. A client that
 * keeps no session (clean start) is forgotten. A failed write is logged,
 * never a refusal: it costs messages for that session only after a
 * restart, and only until its client reconnects.
 */
static void note_session(struct plugin *p, const struct mosquitto *client, const char *client_id,
                         const uint8_t *der, size_t der_len)
{
    int rc = mosquitto_client_clean_session(client)
                 ? sessions_remove(p->sessions, client_id)
                 : sessions_put(p->sessions, client_id, der, der_len);

    if (rc < 0)
        plugin_log(MOSQ_LOG_WARNING, "onramp: session %s not recorded in %s: %s", client_id,
                   p->cfg.sessions_path, onr_strerror(rc));
}

int auth_on_basic(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_basic_auth *ed = event_data;
    struct plugin *p = userdata;
    const char *client_id = mosquitto_client_id(ed->client);
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = 0;
    struct identity who;
    X509 *cert;
    int rc;

    (void)event;
    cert = mosquitto_client_certificate(ed->client);
    if (cert == NULL)
        return refuse(p, ed->client, &p->stats.no_credentials, "no proof and no certificate");
    rc = cert_der(cert, der, &der_len);
    X509_free(cert);
    if (rc == ONR_OK)
        rc = cert_identify(p, der, der_len, &who);
    if (rc == ONR_ECHAIN)
        return refuse(p, ed->client, &p->stats.bad_cert,
                      "certificate from none of the plugin's CAs");
    if (rc != ONR_OK)
        return refuse(p, ed->client, &p->stats.bad_cert,
                      "certificate names no known role or no valid id");
    if (!limits_connect_allowed(p))
        return refuse(p, ed->client, &p->stats.connect_rate, "connection rate");
    if (who.kind == PRINCIPAL_OPERATIONAL) {
        /* Its device id is its client id: no other id, and no service's. */
        if (client_id == NULL || strcmp(client_id, who.id) != 0)
            return refuse(p, ed->client, &p->stats.bad_cert,
                          "client id is not the certificate's device id");
        if (grants_cert_revoked(p->grants, who.prov, who.serial, who.serial_len))
            return refuse(p, ed->client, &p->stats.bad_cert, "certificate revoked");
    } else if (!service_client_id_ok(client_id, who.role, who.id)) {
        return refuse(p, ed->client, &p->stats.bad_cert, "client id is not {role}.{id}[.x]");
    }
    if (conns_add(p, ed->client, &who) == NULL)
        return refuse(p, ed->client, &p->stats.refused, "out of memory");
    if (!conns_is_device(who.kind))
        note_session(p, ed->client, client_id, der, der_len);
    p->stats.connects++;
    return MOSQ_ERR_SUCCESS;
}

/* sessions_filter's judge: keep a recorded session only if the plugin
 * would admit its certificate under that client id now. */
static bool vouch_again(const char *client_id, const uint8_t *der, size_t der_len, void *arg)
{
    struct plugin *p = arg;
    struct identity who;
    const char *why = NULL;

    if (cert_identify(p, der, der_len, &who) != ONR_OK)
        why = "its certificate does not verify against the CAs configured now";
    else if (conns_is_device(who.kind))
        why = "not a service's certificate";
    else if (!service_client_id_ok(client_id, who.role, who.id))
        why = "client id is not {role}.{id}[.x] of its certificate";
    else if (conns_restore(p, client_id, &who) == NULL)
        why = "out of memory";
    if (why != NULL)
        plugin_log(MOSQ_LOG_NOTICE, "onramp: session %s dropped: %s", client_id, why);
    return why == NULL;
}

int auth_restore_sessions(struct plugin *p)
{
    return sessions_filter(p->sessions, vouch_again, p);
}
