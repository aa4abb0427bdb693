/*
 * Progress events (see the callbacks in <onramp/device.h>): details built
 * as key=value pairs, one line whatever the network sent, never a secret.
 * Text from the network goes through onr_text_escape, the one escaping
 * every Onramp component logs untrusted text with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/error.h"
#include "onramp/text.h"

void device_put(struct device_detail *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len >= sizeof(l->text) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < sizeof(l->text) - l->len ? (size_t)n : sizeof(l->text) - 1 - l->len;
}

void device_put_escaped(struct device_detail *l, const char *key, const void *value, size_t n)
{
    char safe[ONR_TEXT_ESCAPE_CAP(160)];

    device_put(l, "%s%s=%s", l->len > 0 ? " " : "", key,
               onr_text_escape(value, n, safe, sizeof(safe)));
}

void device_put_ours(struct device_detail *l, const char *key, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\') {
            device_put_escaped(l, key, text, strlen(text));
            return;
        }
    }
    device_put(l, "%s%s=\"%s\"", l->len > 0 ? " " : "", key, text);
}

void device_put_code(struct device_detail *l, int code)
{
    const char *name = onr_error_name(code);

    if (strcmp(name, "UNKNOWN") == 0)
        device_put(l, "%scode=%d", l->len > 0 ? " " : "", -code);
    else
        device_put(l, "%scode=%s", l->len > 0 ? " " : "", name);
}

void device_report(struct onr_device *d, const char *event, const struct device_detail *l)
{
    if (d->cb.progress != NULL)
        d->cb.progress(d->cb.arg, d, event, l != NULL ? l->text : "");
}

void device_report_code(struct onr_device *d, const char *event, const char *what, int code,
                        const char *why)
{
    struct device_detail l = {"", 0};

    if (what != NULL)
        device_put(&l, "what=%s", what);
    device_put_code(&l, code);
    device_put_ours(&l, "reason", why);
    device_report(d, event, &l);
}
