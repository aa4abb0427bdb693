/*
 * Leveled key=value logging for the services and tools:
 *
 *   2026-11-25T02:55:01.123Z notice manufacturer: voucher dev=rguib... op=op-1
 *
 * One line per event, written with one write() (whole lines stay whole
 * when several processes share a file). The level check comes before any
 * formatting. Secrets never go into a log: ids are fine, keys, claim
 * secrets and Ki are not. Text that came from the network is logged only
 * through onr_text_escape (<onramp/text.h>), which no value can use to end
 * its field or forge another.
 */
#ifndef ONRAMP_SVC_LOG_H
#define ONRAMP_SVC_LOG_H

#include <stddef.h>
#include <stdint.h>

enum onr_log_level {
    ONR_LOG_ERROR = 0,
    ONR_LOG_WARNING,
    ONR_LOG_NOTICE,
    ONR_LOG_INFO,
    ONR_LOG_DEBUG,
};

/* The component name (copied), the most detailed level written, and the
 * file descriptor lines go to (default: 2, stderr). */
void onr_log_init(const char *component, enum onr_log_level level, int fd);
void onr_log_set_level(enum onr_log_level level);

/* onr_log_level_parse: "error", "warning", "notice", "info", "debug".
 * ONR_OK or ONR_EINVAL. */
int onr_log_level_parse(const char *text, enum onr_log_level *out);

/* onr_log_enabled: would a line at `level` be written? */
int onr_log_enabled(enum onr_log_level level);

/* onr_log: one line. `fmt` is the event and its key=value pairs. */
void onr_log(enum onr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* onr_log_hex: bytes as lowercase hex into `out` (cut with "..." if too
 * long). For ids and digests, never for secrets. Returns `out`. */
const char *onr_log_hex(const uint8_t *data, size_t len, char *out, size_t cap);

#endif /* ONRAMP_SVC_LOG_H */
