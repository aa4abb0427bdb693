#include "onramp/svc_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "onramp/error.h"

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

static char component[32] = "onramp";
static enum onr_log_level threshold = ONR_LOG_NOTICE;
static int log_fd = 2;

void onr_log_init(const char *name, enum onr_log_level level, int fd)
{
    snprintf(component, sizeof(component), "%s", name != NULL ? name : "onramp");
    threshold = level;
    log_fd = fd;
}

void onr_log_set_level(enum onr_log_level level)
{
    threshold = level;
}

int onr_log_level_parse(const char *text, enum onr_log_level *out)
{
    for (size_t i = 0; text != NULL && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum onr_log_level)i;
            return ONR_OK;
        }
    }
    return ONR_EINVAL;
}

int onr_log_enabled(enum onr_log_level level)
{
    return level <= threshold;
}

void onr_log(enum onr_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int m;
    va_list ap;

    if (level > threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    m = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000,
                 level_names[level], component);
    n += m > 0 ? (size_t)m : 0;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : (n + (size_t)m >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)m);
    line[n++] = '\n';
    while (write(log_fd, line, n) < 0 && errno == EINTR)
        ;
}

const char *onr_log_hex(const uint8_t *data, size_t len, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;

    if (out == NULL || cap == 0)
        return "";
    for (size_t i = 0; data != NULL && i < len; i++) {
        if (o + 2 + 4 > cap) {
            if (cap >= 4) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 15];
    }
    out[o] = '\0';
    return out;
}
