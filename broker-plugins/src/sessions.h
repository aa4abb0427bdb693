/*
 * The persistent sessions the plugin has vouched for: the client id of
 * each service or monitor admitted with a persistent session, and the
 * certificate it was admitted with. Mosquitto restores such sessions from
 * its own persistence file when it starts and checks READ for every
 * message it queues for them, before their clients reconnect; with this
 * file the plugin can still answer for them (judging each certificate
 * again against the CAs configured at that start).
 *
 * The file has one line per session, fields separated by one space:
 *
 *   <client id> <the certificate, DER in lowercase hex>
 *
 * It is written whole (temporary file, fsync, rename, directory fsync)
 * on every change. Changes happen only when a service is admitted under a
 * new client id or with another certificate than recorded, which is rare:
 * services connect once and stay. A malformed line is skipped and
 * reported, never fatal.
 */
#ifndef ONRAMP_PLUGIN_SESSIONS_H
#define ONRAMP_PLUGIN_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sessions;

/* Sessions recorded at most; more are not recorded (ONR_EEXHAUSTED). */
#define SESSIONS_MAX 1024

/* Called for each line skipped at open: its number and why. */
typedef void (*sessions_skip_cb)(size_t line, const char *why, void *arg);

/*
 * sessions_open: load the file at `path` (copied; a missing file is an
 * empty one, created at the first change). `skipped` may be NULL.
 * ONR_OK with *out set, ONR_EINVAL, ONR_ENOMEM or ONR_EIO.
 */
int sessions_open(const char *path, sessions_skip_cb skipped, void *arg, struct sessions **out);

/* sessions_close: frees. Accepts NULL. */
void sessions_close(struct sessions *s);

/* Decides whether a recorded session is kept: its client id and
 * certificate (both borrowed for the call). */
typedef bool (*sessions_keep_cb)(const char *client_id, const uint8_t *der, size_t der_len,
                                 void *arg);

/*
 * sessions_filter: ask `keep` about every session and forget those it
 * refuses; the file is rewritten if any was. ONR_OK, or ONR_EIO / ONR_ENOMEM
 * when the rewrite failed (memory is filtered all the same).
 */
int sessions_filter(struct sessions *s, sessions_keep_cb keep, void *arg);

/*
 * sessions_put: record that `client_id` (1..SESSIONS_ID_MAX characters of a
 * service client id) holds a persistent session, admitted with certificate
 * `der` (1..ONR_X509_MAX_DER bytes); both copied. Writes the file only if
 * that is news (a new client id or another certificate). Returns 1 when
 * written, 0 when already recorded so, or ONR_EINVAL, ONR_EEXHAUSTED
 * (SESSIONS_MAX reached), ONR_ENOMEM or ONR_EIO (nothing changed).
 */
int sessions_put(struct sessions *s, const char *client_id, const uint8_t *der, size_t der_len);

/* sessions_remove: forget `client_id`'s session (its client now keeps
 * none). 1 when written, 0 when there was none, ONR_ENOMEM or ONR_EIO
 * (nothing changed). */
int sessions_remove(struct sessions *s, const char *client_id);

/* sessions_count: sessions recorded. */
size_t sessions_count(const struct sessions *s);

/* The longest client id recorded (the plugin's table keys). */
#define SESSIONS_ID_MAX 64

#endif /* ONRAMP_PLUGIN_SESSIONS_H */
