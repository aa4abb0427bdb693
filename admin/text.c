/* Rendered text: configuration files, scripts, SQL. */
#include "admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void adm_text_add(struct adm_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        size_t room = t->cap - t->len;

        va_start(ap, fmt);
        n = vsnprintf(t->buf == NULL ? NULL : t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        {
            size_t cap = t->cap == 0 ? 4096 : t->cap * 2;
            char *grown;

            while (cap - t->len <= (size_t)n)
                cap *= 2;
            if (cap > ADM_TEXT_MAX) {
                t->failed = 1;
                return;
            }
            grown = realloc(t->buf, cap);
            if (grown == NULL) {
                t->failed = 1;
                return;
            }
            t->buf = grown;
            t->cap = cap;
        }
    }
}

void adm_text_free(struct adm_text *t)
{
    free(t->buf);
    *t = (struct adm_text){0};
}
