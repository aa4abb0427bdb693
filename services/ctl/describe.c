/*
 * What a message is, for a monitor: its type, sender, journey step and the
 * device it concerns (see monitor.h). Topics and payloads are untrusted:
 * every level is compared by length, nothing is assumed NUL-terminated.
 */
#include <stdio.h>
#include <string.h>

#include "monitor.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/journey.h"
#include "onramp/label.h"
#include "onramp/topic.h"

static bool is(struct onr_bytes b, const char *s)
{
    size_t len = strlen(s);

    return b.len == len && (len == 0 || memcmp(b.ptr, s, len) == 0);
}

/* The topic's parts, if it is one of Onramp's (onr_topic_parse). */
static bool parse(struct onr_bytes topic, struct onr_topic *t)
{
    return onr_topic_parse((const char *)topic.ptr, topic.len, t) == ONR_OK;
}

const char *ctl_step_of_type(int type)
{
    enum onr_journey_step step;

    if (onr_journey_of_msg(type, &step) == ONR_OK)
        return onr_journey_spec(step);
    switch (type) {
    case ONR_MSG_RELEASE:
    case ONR_MSG_RELEASED:
        return "release";
    case ONR_MSG_GRANT:
    case ONR_MSG_REVOKE:
    case ONR_MSG_CERT_REVOKE:
    case ONR_MSG_CONTROL_RESULT:
        return "control";
    case ONR_MSG_STATUS_REQUEST:
    case ONR_MSG_STATUS:
        return "status";
    case ONR_MSG_BROKER_STATS:
    case ONR_MSG_SERVICE_STATS:
        return "stats";
    case ONR_MSG_RENEW_REQUEST:
    case ONR_MSG_RENEWED:
        return "renewal";
    default:
        return NULL; /* error, pending, event: by context; unknown types */
    }
}

const char *ctl_step_of_event(struct onr_bytes step)
{
    enum onr_journey_step s;

    if (onr_journey_from_event((const char *)step.ptr, step.len, &s) != ONR_OK)
        return NULL;
    return onr_journey_spec(s);
}

const char *ctl_step_of_answer(struct onr_bytes topic, enum onr_role sender)
{
    static const struct {
        enum onr_role from;
        enum onr_topic_kind on;
        enum onr_role to; /* the addressee's role (IN) */
        enum onr_journey_step step;
    } answers[] = {
        {ONR_ROLE_MANUFACTURER, ONR_TOPIC_KIND_DOWN, 0, ONR_JOURNEY_VOUCHED},
        {ONR_ROLE_OPERATOR, ONR_TOPIC_KIND_DOWN, 0, ONR_JOURNEY_PROFILED}, /* or attach: 3c */
        {ONR_ROLE_PROVIDER, ONR_TOPIC_KIND_DOWN, 0, ONR_JOURNEY_ENROLLED},
        /* registration refused ... */
        {ONR_ROLE_PROVIDER, ONR_TOPIC_KIND_IN, ONR_ROLE_MANUFACTURER, ONR_JOURNEY_REGISTERED},
        {ONR_ROLE_MANUFACTURER, ONR_TOPIC_KIND_IN, ONR_ROLE_PROVIDER, ONR_JOURNEY_REGISTERED},
        /* an application key refused */
        {ONR_ROLE_PROVIDER, ONR_TOPIC_KIND_IN, ONR_ROLE_OPERATOR, ONR_JOURNEY_ATTACHED},
        /* an alignment refused */
        {ONR_ROLE_OPERATOR, ONR_TOPIC_KIND_IN, ONR_ROLE_PROVIDER, ONR_JOURNEY_ALIGNED},
        /* a pairing refused */
        {ONR_ROLE_PROVIDER, ONR_TOPIC_KIND_IN, ONR_ROLE_CONTROL, ONR_JOURNEY_REGISTERING},
    };
    struct onr_topic t;

    if (!parse(topic, &t))
        return NULL;
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        if (answers[i].from == sender && answers[i].on == t.kind &&
            (t.kind != ONR_TOPIC_KIND_IN || answers[i].to == t.role))
            return onr_journey_spec(answers[i].step);
    return NULL;
}

static bool take_dev(struct onr_bytes level, char dev[ONR_DEVID_LEN + 1])
{
    if (onr_devid_check((const char *)level.ptr, level.len) != ONR_OK)
        return false;
    memcpy(dev, level.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    return true;
}

bool ctl_topic_dev(struct onr_bytes topic, char dev[ONR_DEVID_LEN + 1])
{
    struct onr_topic t;

    dev[0] = '\0';
    if (!parse(topic, &t) || t.dev[0] == '\0')
        return false;
    memcpy(dev, t.dev, sizeof(t.dev));
    return true;
}

int ctl_label_parts(struct onr_bytes label, char mfr[ONR_SERVICE_ID_MAX + 1],
                    char dev[ONR_DEVID_LEN + 1])
{
    struct onr_label parsed;
    int rc;

    mfr[0] = '\0';
    dev[0] = '\0';
    rc = onr_label_decode((const char *)label.ptr, label.len, &parsed);
    if (rc == ONR_OK) {
        memcpy(mfr, parsed.mfr, sizeof(parsed.mfr));
        memcpy(dev, parsed.dev, sizeof(parsed.dev));
    }
    onr_wipe(&parsed, sizeof(parsed)); /* the claim secret */
    return rc;
}

void ctl_recent_note(struct ctl_recent *r, const uint8_t id[ONR_MSG_ID_LEN], const char *step)
{
    if (r == NULL || step == NULL)
        return;
    memcpy(r->id[r->next], id, ONR_MSG_ID_LEN);
    r->step[r->next] = step;
    r->next = (r->next + 1) % CTL_RECENT_MAX;
    if (r->n < CTL_RECENT_MAX)
        r->n++;
}

const char *ctl_recent_step(const struct ctl_recent *r, struct onr_bytes id)
{
    if (r == NULL || id.ptr == NULL || id.len != ONR_MSG_ID_LEN)
        return NULL;
    /* newest first: an id seen twice (a resend) has the same step anyway */
    for (size_t k = 1; k <= r->n; k++) {
        size_t i = (r->next + CTL_RECENT_MAX - k) % CTL_RECENT_MAX;

        if (memcmp(r->id[i], id.ptr, ONR_MSG_ID_LEN) == 0)
            return r->step[i];
    }
    return NULL;
}

/* The body's field `key` if present. */
static bool body_field(const struct onr_msg *msg, const char *key, struct onr_msg_field *f)
{
    for (size_t i = 0; onr_msg_field_at(msg, i, f) == ONR_OK; i++)
        if (strcmp(f->key, key) == 0)
            return f->present != 0;
    return false;
}

/* The voucher token a body carries in `voucher`, decoded into `token`. */
static bool token_of(const struct onr_msg *msg, struct onr_envelope *token)
{
    struct onr_msg_field f;

    return body_field(msg, "voucher", &f) && f.kind == ONR_VALUE_BYTES &&
           onr_envelope_decode(f.bytes.ptr, f.bytes.len, token) == ONR_OK &&
           token->msg.type == ONR_MSG_VOUCHER_TOKEN;
}

static const char *step_of(const struct onr_envelope *env, struct onr_bytes topic,
                           const struct ctl_recent *recent)
{
    struct onr_msg_field f;
    const char *step;

    switch (env->msg.type) {
    case ONR_MSG_EVENT:
        return ctl_step_of_event(env->msg.body.event.step);
    case ONR_MSG_ERROR:
    case ONR_MSG_PENDING:
        step = body_field(&env->msg, "re", &f) ? ctl_recent_step(recent, f.bytes) : NULL;
        return step != NULL ? step : ctl_step_of_answer(topic, env->sender_role);
    default:
        return ctl_step_of_type((int)env->msg.type);
    }
}

static void dev_of(const struct onr_envelope *env, struct onr_bytes topic,
                   char dev[ONR_DEVID_LEN + 1])
{
    struct onr_msg_field f;
    char mfr[ONR_SERVICE_ID_MAX + 1];

    if (ctl_topic_dev(topic, dev))
        return;
    if (body_field(&env->msg, "dev", &f) && f.kind == ONR_VALUE_TEXT &&
        take_dev(f.bytes, dev))
        return;
    if (env->msg.type == ONR_MSG_PAIRING)
        ctl_label_parts(env->msg.body.pairing.label, mfr, dev);
}

void ctl_describe(const struct ctl_keyring *keys, struct ctl_recent *recent, const char *time,
                  struct onr_bytes topic, const uint8_t *payload, size_t len,
                  struct ctl_sighting *s)
{
    static const char operational[] = ONR_TOPIC_OPERATIONAL_ROOT;
    struct onr_topic t;
    int rc;

    memset(s, 0, sizeof(*s));
    if (time != NULL)
        snprintf(s->time, sizeof(s->time), "%s", time);
    s->topic = topic;
    s->payload_len = len;
    if (topic.len >= sizeof(operational) - 1 &&
        memcmp(topic.ptr, operational, sizeof(operational) - 1) == 0 &&
        !(parse(topic, &t) &&
          (is(t.rest, ONR_TOPIC_OPERATIONAL_DOWN) || is(t.rest, ONR_TOPIC_RENEW)))) {
        /* a device's data on its provider's broker: only the telemetry's
         * form is Onramp's (SPEC section 14), and the envelopes of the down
         * and renew leaves; the rest is not ours */
        s->type = parse(topic, &t) && is(t.rest, ONR_TOPIC_TELEMETRY) ? "telemetry"
                                                                       : "application";
        s->reported = strcmp(s->type, "telemetry") == 0 &&
                      onr_telemetry_decode(payload, len, &s->telemetry) == ONR_OK;
        s->step = onr_journey_name(ONR_JOURNEY_OPERATIONAL);
        s->verdict = ctl_verdict_name(CTL_VERDICT_NONE);
        ctl_topic_dev(topic, s->dev);
        return;
    }
    rc = onr_envelope_decode(payload, len, &s->env);
    if (rc != ONR_OK) {
        s->type = "undecodable";
        s->verdict = onr_error_name(rc);
        ctl_topic_dev(topic, s->dev);
        return;
    }
    s->decoded = true;
    s->type = onr_msg_type_name((int)s->env.msg.type);
    dev_of(&s->env, topic, s->dev);
    s->step = step_of(&s->env, topic, recent);
    s->verdict = ctl_verdict_name(ctl_keyring_verdict(keys, &s->env, topic));
    s->token_decoded = token_of(&s->env.msg, &s->token);
    ctl_recent_note(recent, s->env.id, s->step);
}
