/*
 * Progress events (see the callbacks in <onramp/device.h>): details built
 * as key=value pairs, one line whatever the network sent, never a secret.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/error.h"

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

void device_put_quoted(struct device_detail *l, const char *key, const void *value, size_t n)
{
    const unsigned char *s = value;

    device_put(l, "%s%s=\"", l->len > 0 ? " " : "", key);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            device_put(l, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] > 0x7e)
            device_put(l, "\\x%02x", s[i]);
        else
            device_put(l, "%c", s[i]);
    }
    device_put(l, "\"");
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
    device_put_quoted(&l, "reason", why, strlen(why));
    device_report(d, event, &l);
}
