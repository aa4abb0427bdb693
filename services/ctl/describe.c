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
#include "onramp/label.h"

/* Enough levels for every Onramp topic; longer topics are not ours. */
#define MAX_LEVELS 8

struct levels {
    size_t n; /* all the topic's levels, possibly more than MAX_LEVELS */
    struct onr_bytes at[MAX_LEVELS];
};

static void split(struct onr_bytes topic, struct levels *l)
{
    size_t start = 0;

    l->n = 0;
    if (topic.ptr == NULL)
        return;
    for (size_t i = 0; i <= topic.len; i++) {
        if (i < topic.len && topic.ptr[i] != '/')
            continue;
        if (l->n < MAX_LEVELS)
            l->at[l->n] = (struct onr_bytes){topic.ptr + start, i - start};
        l->n++;
        start = i + 1;
    }
}

static bool is(struct onr_bytes b, const char *s)
{
    size_t len = strlen(s);

    return b.len == len && (len == 0 || memcmp(b.ptr, s, len) == 0);
}

static bool ends_with(struct onr_bytes b, const char *s)
{
    size_t len = strlen(s);

    return b.len >= len && memcmp(b.ptr + b.len - len, s, len) == 0;
}

/* onr/1/{kind}/... with at least `min` levels. */
static bool under(const struct levels *l, const char *kind, size_t min)
{
    return l->n >= min && l->n >= 3 && is(l->at[0], "onr") && is(l->at[1], "1") &&
           is(l->at[2], kind);
}

const char *ctl_step_of_type(int type)
{
    switch (type) {
    case ONR_MSG_PAIRING:
    case ONR_MSG_PAIRED:
        return "1";
    case ONR_MSG_REGISTRATION:
    case ONR_MSG_REGISTERED:
        return "2";
    case ONR_MSG_HELLO:
    case ONR_MSG_VOUCHER:
    case ONR_MSG_VOUCHER_TOKEN:
        return "3b";
    case ONR_MSG_PROFILE_REQUEST:
    case ONR_MSG_PROFILE:
    case ONR_MSG_ATTACH_REQUEST:
    case ONR_MSG_ATTACH_CHALLENGE:
    case ONR_MSG_ATTACH_RESPONSE:
    case ONR_MSG_ATTACH_RESULT:
    case ONR_MSG_APP_KEY:
    case ONR_MSG_APP_KEY_STORED:
        return "3c";
    case ONR_MSG_ENROLL_REQUEST:
    case ONR_MSG_ENROLL_RESPONSE:
        return "4";
    case ONR_MSG_ALIGNMENT:
    case ONR_MSG_ALIGNED:
        return "5";
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
    default:
        return NULL; /* error, pending, event: by context; unknown types */
    }
}

const char *ctl_step_of_event(struct onr_bytes step)
{
    if (is(step, "voucher"))
        return "3b";
    if (is(step, "registered"))
        return "2";
    if (is(step, "profile") || is(step, "attached"))
        return "3c";
    return NULL;
}

const char *ctl_step_of_answer(struct onr_bytes topic, enum onr_role sender)
{
    static const struct {
        enum onr_role from;
        const char *to; /* the addressee's topic level */
        const char *step;
    } pairs[] = {
        {ONR_ROLE_PROVIDER, "mfr", "2"},  /* registration refused ... */
        {ONR_ROLE_MANUFACTURER, "prov", "2"},
        {ONR_ROLE_PROVIDER, "op", "3c"},  /* an application key refused */
        {ONR_ROLE_OPERATOR, "prov", "5"}, /* an alignment refused */
        {ONR_ROLE_PROVIDER, "ctl", "1"},  /* a pairing refused */
    };
    struct levels l;

    split(topic, &l);
    if (under(&l, "d", 5) && l.n == 5 && is(l.at[4], "down")) {
        switch (sender) {
        case ONR_ROLE_MANUFACTURER: return "3b";
        case ONR_ROLE_OPERATOR: return "3c";
        case ONR_ROLE_PROVIDER: return "4";
        default: return NULL;
        }
    }
    if (under(&l, "s", 6) && l.n == 6 && is(l.at[5], "in")) {
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
            if (pairs[i].from == sender && is(l.at[3], pairs[i].to))
                return pairs[i].step;
    }
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
    struct levels l;

    dev[0] = '\0';
    split(topic, &l);
    if (under(&l, "d", 5))
        return take_dev(l.at[3], dev);
    if (under(&l, "p", 7) && is(l.at[4], "dev"))
        return take_dev(l.at[5], dev);
    return false;
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
    struct levels l;
    int rc;

    memset(s, 0, sizeof(*s));
    if (time != NULL)
        snprintf(s->time, sizeof(s->time), "%s", time);
    s->topic = topic;
    s->payload_len = len;
    split(topic, &l);
    if (under(&l, "p", 4)) {
        /* a device's application data on its provider's broker: not ours */
        s->type = ends_with(topic, "/telemetry") ? "telemetry" : "application";
        s->step = "operational";
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
    ctl_recent_note(recent, s->env.id, s->step);
}
