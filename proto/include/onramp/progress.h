/*
 * Progress of long work in the tools (onramp-factory mint, onramp-admin):
 * a count and a rate on stderr.
 *
 * On a terminal one line is redrawn in place (carriage return, at most
 * every 100 ms): `minting 1234/100000 (1%) 812/s`. Anywhere else (a log, a
 * pipe) a plain line is printed at most every `interval_ms` (default 5 s),
 * and one at the end: `minting: 100000/100000 in 123.4 s (812/s)`. Nothing
 * is printed for work that ends before its first report is due, except
 * the final line off a terminal.
 *
 * The clock is a hook, so tests can drive it.
 */
#ifndef ONRAMP_PROGRESS_H
#define ONRAMP_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct onr_progress;

/* Milliseconds from any fixed origin that never goes back. */
typedef uint64_t (*onr_progress_clock_cb)(void *arg);

struct onr_progress_opts {
    int tty;                       /* < 0: ask isatty() of the stream */
    unsigned interval_ms;          /* between plain lines; 0: 5000 */
    onr_progress_clock_cb clock;   /* NULL: CLOCK_MONOTONIC */
    void *clock_arg;
};

/*
 * onr_progress_new: progress of `total` units (0 if unknown) of `what`
 * (copied, at most 63 bytes are kept: e.g. "minting") to `out` (borrowed;
 * it must outlive the handle). `opts` may be NULL for the defaults.
 * Returns NULL without memory; every other function accepts NULL and
 * then does nothing, so progress never stops the work it reports.
 */
struct onr_progress *onr_progress_new(FILE *out, const char *what, uint64_t total,
                                      const struct onr_progress_opts *opts);

/* onr_progress_add: `n` more units done; reports if one is due. */
void onr_progress_add(struct onr_progress *p, uint64_t n);

/*
 * onr_progress_free: the final report (ends the terminal line, or prints
 * the final plain line) and free. Accepts NULL.
 */
void onr_progress_free(struct onr_progress *p);

#endif /* ONRAMP_PROGRESS_H */
