#include "onramp/progress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TTY_REDRAW_MS 100
#define DEFAULT_INTERVAL_MS 5000

struct onr_progress {
    FILE *out;
    char what[64];
    uint64_t total;
    uint64_t done;
    int tty;
    unsigned interval_ms;
    onr_progress_clock_cb clock;
    void *clock_arg;
    uint64_t started;
    uint64_t last; /* when the last report was made, or started */
    int reported;  /* anything printed yet */
};

static uint64_t monotonic_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct onr_progress *onr_progress_new(FILE *out, const char *what, uint64_t total,
                                      const struct onr_progress_opts *opts)
{
    struct onr_progress *p;

    if (out == NULL || what == NULL)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->out = out;
    snprintf(p->what, sizeof(p->what), "%s", what);
    p->total = total;
    p->tty = opts != NULL && opts->tty >= 0 ? opts->tty != 0 : isatty(fileno(out));
    p->interval_ms = opts != NULL && opts->interval_ms != 0 ? opts->interval_ms
                                                            : DEFAULT_INTERVAL_MS;
    p->clock = opts != NULL && opts->clock != NULL ? opts->clock : monotonic_ms;
    p->clock_arg = opts != NULL ? opts->clock_arg : NULL;
    p->started = p->clock(p->clock_arg);
    p->last = p->started;
    return p;
}

/* "812/s", "3.5/s": units per second so far. */
static void format_rate(const struct onr_progress *p, uint64_t now, char *buf, size_t cap)
{
    uint64_t elapsed = now - p->started;
    double rate = elapsed == 0 ? 0.0 : (double)p->done * 1000.0 / (double)elapsed;

    if (rate < 10.0)
        snprintf(buf, cap, "%.1f/s", rate);
    else
        snprintf(buf, cap, "%.0f/s", rate);
}

/* "1234/100000 (1%)", or "1234" when the total is unknown. */
static void format_count(const struct onr_progress *p, char *buf, size_t cap)
{
    if (p->total == 0)
        snprintf(buf, cap, "%" PRIu64, p->done);
    else
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu64 " (%" PRIu64 "%%)", p->done, p->total,
                 p->done >= p->total ? 100 : p->done * 100 / p->total);
}

static void report(struct onr_progress *p, uint64_t now)
{
    char count[64];
    char rate[32];

    format_count(p, count, sizeof(count));
    format_rate(p, now, rate, sizeof(rate));
    if (p->tty)
        fprintf(p->out, "\r%s %s %s\x1b[K", p->what, count, rate);
    else
        fprintf(p->out, "%s: %s %s\n", p->what, count, rate);
    fflush(p->out);
    p->reported = 1;
    p->last = now;
}

void onr_progress_add(struct onr_progress *p, uint64_t n)
{
    uint64_t now;

    if (p == NULL)
        return;
    p->done += n;
    now = p->clock(p->clock_arg);
    if (now - p->last >= (p->tty ? TTY_REDRAW_MS : p->interval_ms))
        report(p, now);
}

void onr_progress_free(struct onr_progress *p)
{
    uint64_t now;
    char count[64];
    char rate[32];

    if (p == NULL)
        return;
    now = p->clock(p->clock_arg);
    if (p->reported && p->tty) {
        report(p, now);
        fputc('\n', p->out);
    } else if (p->reported) {
        format_count(p, count, sizeof(count));
        format_rate(p, now, rate, sizeof(rate));
        fprintf(p->out, "%s: %s in %.1f s (%s)\n", p->what, count,
                (double)(now - p->started) / 1000.0, rate);
    }
    fflush(p->out);
    free(p);
}
