/*
 * Counting and logging refusals, and publishing the counters. The counters
 * are kept in the very struct that is published (proto/SPEC.md type 23).
 */
#include "plugin.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/text.h"

void plugin_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mosquitto_log_printf(level, "%s", line);
}

void counters_deny(struct plugin *p, struct conn *c, const struct mosquitto *client,
                   uint64_t *counter, const char *what, const char *topic, const char *why)
{
    char safe_id[80];
    char safe_topic[200];
    const char *address;
    const char *id;

    (*counter)++;
    if (c != NULL && c->denials_logged++ >= ONR_LOG_BUDGET)
        return;
    if (c == NULL &&
        !bucket_take(&p->refusal_log, ONR_REFUSAL_LOG_RATE, ONR_REFUSAL_LOG_BURST, now_ns())) {
        p->refusals_not_logged++;
        return;
    }
    if (c == NULL && p->refusals_not_logged > 0) {
        plugin_log(MOSQ_LOG_NOTICE, "onramp: %" PRIu64 " refusals counted but not logged "
                                    "(too many per second)", p->refusals_not_logged);
        p->refusals_not_logged = 0;
    }
    /* Client ids and topics come from the client: escaped, so that they
     * can neither end their field nor forge another. */
    id = c != NULL ? c->id : mosquitto_client_id(client);
    onr_text_escape(id, id != NULL ? strlen(id) : 0, safe_id, sizeof(safe_id));
    onr_text_escape(topic, topic != NULL ? strlen(topic) : 0, safe_topic, sizeof(safe_topic));
    address = mosquitto_client_address(client);
    plugin_log(MOSQ_LOG_NOTICE, "onramp: denied %s client=%s address=%s%s%s reason=%s", what,
               safe_id, address != NULL ? address : "?", topic != NULL ? " topic=" : "",
               topic != NULL ? safe_topic : "", why);
    if (c != NULL && c->denials_logged == ONR_LOG_BUDGET)
        plugin_log(MOSQ_LOG_NOTICE, "onramp: client %s: further refusals counted, not logged",
                   safe_id);
}

void counters_publish(struct plugin *p)
{
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len = 0;
    char topic[ONR_TOPIC_MAX + 1];
    struct onr_msg msg = {.type = ONR_MSG_BROKER_STATS};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_BROKER,
        .sender = {(const uint8_t *)p->cfg.broker_name, strlen(p->cfg.broker_name)},
    };
    time_t now = time(NULL);
    int rc;

    p->stats.epoch = (struct onr_bytes){grants_epoch(p->grants), GRANTS_EPOCH_LEN};
    p->stats.uptime = (uint64_t)(now - p->started);
    conns_count(p, &p->stats.devices, &p->stats.services);
    msg.body.broker_stats = p->stats;
    rc = onr_topic_ev(ONR_ROLE_BROKER, p->cfg.broker_name, topic, sizeof(topic));
    if (rc == ONR_OK)
        rc = onr_envelope_encode(&msg, &self,
                                 (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 (uint64_t)now, buf, sizeof(buf), &len, NULL);
    if (rc != ONR_OK) {
        plugin_log(MOSQ_LOG_WARNING, "onramp: counters not published: %s", onr_strerror(rc));
        return;
    }
    /* Retained, so `onrampctl stats` sees the latest at once. */
    mosquitto_broker_publish_copy(NULL, topic, (int)len, buf, 0, true, NULL);
}
