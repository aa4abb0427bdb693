/*
 * onrampctl exporter (services/ctl/exporter_brokers.c): any payload on any
 * topic its subscription could deliver, recorded, then every broker's
 * counters written as Prometheus metrics.
 *
 * Input: a length byte and that many bytes of topic (made a C string at
 * its first NUL, as libmosquitto hands topics over), then the payload.
 * Checks: a message is taken only from a broker's own counters topic with
 * that broker as sender (the same payload on another broker's topic is
 * refused); the text is always written, and is the
 * exposition format line by line (a strict reader here: HELP and TYPE
 * before a family's samples, names, labels quoted and escaped, numbers);
 * every sample's broker label is a broker that was taken.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter.h"
#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/text.h"
#include "onramp/topic.h"

/* ---- a strict reader of the text format -------------------------------- */

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* A number as the format writes it: an integer, a decimal, an exponent,
 * +Inf, -Inf or NaN. */
static bool number_ok(const char *s, size_t n)
{
    char buf[40];
    char *end = NULL;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 || strcmp(buf, "NaN") == 0)
        return true;
    if (strspn(buf, "0123456789.e+-") != n)
        return false;
    strtod(buf, &end);
    return end == buf + n;
}

/* `{a="x",b="y"}` at *p (before `end`): every label checked; the broker
 * label's value (unescaped; only ids are expected) into `broker`. */
static const char *labels(const char *p, const char *end, char *broker, size_t cap)
{
    broker[0] = '\0';
    p++; /* '{' */
    while (p < end && *p != '}') {
        const char *name = p;
        char value[512];
        size_t v = 0;

        while (p < end && *p != '=')
            p++;
        FUZZ_CHECK(p < end && name_ok(name, (size_t)(p - name)), "label name");
        FUZZ_CHECK(p + 1 < end && p[1] == '"', "label value not quoted");
        p += 2;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                FUZZ_CHECK(p + 1 < end && strchr("\\\"n", p[1]) != NULL, "bad escape");
                p++;
            }
            FUZZ_CHECK(*p != '\n', "raw newline in a label value");
            if (v + 1 < sizeof(value))
                value[v++] = *p;
            p++;
        }
        FUZZ_CHECK(p < end, "label value not closed");
        value[v] = '\0';
        if ((size_t)(p - name) > 7 && strncmp(name, "broker=", 7) == 0)
            snprintf(broker, cap, "%s", value);
        p++; /* '"' */
        if (p < end && *p == ',')
            p++;
    }
    FUZZ_CHECK(p < end, "labels not closed");
    return p + 1;
}

static bool known_broker(const struct ctl_exporter *x, const char *name)
{
    for (size_t i = 0; i < x->n_brokers; i++)
        if (strcmp(x->brokers[i].name, name) == 0)
            return true;
    return false;
}

static void check_text(const struct ctl_exporter *x, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    char family[ONR_METRICS_NAME_MAX + 1] = "";
    bool typed = false;

    FUZZ_CHECK(len > 0 && text[len - 1] == '\n', "text does not end a line");
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *q;
        char broker[64];

        FUZZ_CHECK(eol != NULL, "unterminated line");
        if (strncmp(p, "# HELP ", 7) == 0) {
            q = memchr(p + 7, ' ', (size_t)(eol - p - 7));
            FUZZ_CHECK(q != NULL && name_ok(p + 7, (size_t)(q - p - 7)), "HELP name");
            snprintf(family, sizeof(family), "%.*s", (int)(q - p - 7), p + 7);
            typed = false;
        } else if (strncmp(p, "# TYPE ", 7) == 0) {
            size_t n = strlen(family);

            FUZZ_CHECK(strncmp(p + 7, family, n) == 0 && p[7 + n] == ' ', "TYPE not HELP's");
            q = p + 8 + n;
            FUZZ_CHECK((eol - q == 7 && strncmp(q, "counter", 7) == 0) ||
                           (eol - q == 5 && strncmp(q, "gauge", 5) == 0),
                       "TYPE %.*s", (int)(eol - q), q);
            typed = true;
        } else {
            size_t n = strlen(family);

            FUZZ_CHECK(typed && strncmp(p, family, n) == 0, "sample outside its family");
            q = p + n;
            broker[0] = '\0';
            if (*q == '{')
                q = labels(q, eol, broker, sizeof(broker));
            FUZZ_CHECK(*q == ' ' && number_ok(q + 1, (size_t)(eol - q - 1)), "sample value");
            FUZZ_CHECK(broker[0] == '\0' || known_broker(x, broker), "broker '%s' unknown",
                       broker);
        }
        p = eol + 1;
    }
}

/* ---- the target ---------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ctl_exporter x;
    char topic[256];
    const uint8_t *payload;
    size_t payload_len;
    struct onr_metrics m;
    const char *text;
    size_t len = 0;
    int rc;

    if (size < 1 || (size_t)data[0] > size - 1)
        return 0;
    memcpy(topic, data + 1, data[0]);
    topic[data[0]] = '\0';
    payload = data + 1 + data[0];
    payload_len = size - 1 - data[0];
    memset(&x, 0, sizeof(x));
    rc = ctl_exporter_record(&x, topic, payload, payload_len, 1750000000);
    FUZZ_CHECK((rc == ONR_OK) == (x.n_brokers == 1) && x.received + x.refused == 1,
               "taken %d, brokers %zu", rc, x.n_brokers);
    if (rc == ONR_OK) {
        char other[ONR_TOPIC_MAX + 1];

        /* the broker is the topic's, an id */
        FUZZ_CHECK(strncmp(topic, "onr/1/s/broker/", 15) == 0 &&
                       strncmp(topic + 15, x.brokers[0].name, strlen(x.brokers[0].name)) == 0 &&
                       strcmp(topic + 15 + strlen(x.brokers[0].name), "/ev") == 0,
                   "broker %s from topic %s", x.brokers[0].name, topic);
        FUZZ_CHECK(onr_text_check(ONR_TEXT_ID,
                                  (struct onr_bytes){(const uint8_t *)x.brokers[0].name,
                                                     strlen(x.brokers[0].name)}) == ONR_OK,
                   "broker name");
        /* the same counters on another broker's topic: refused (the sender
         * is not that broker) */
        snprintf(other, sizeof(other), "onr/1/s/broker/x%.30s/ev", x.brokers[0].name);
        FUZZ_CHECK(ctl_exporter_record(&x, other, payload, payload_len, 1750000001) != ONR_OK,
                   "taken from another broker's topic");
    }
    onr_metrics_init(&m);
    FUZZ_CHECK(ctl_exporter_collect(&x, &m) == ONR_OK, "metrics not written");
    text = onr_metrics_text(&m, &len);
    check_text(&x, text, len);
    onr_metrics_cleanup(&m);
    return 0;
}
