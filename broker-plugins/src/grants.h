/*
 * Network-access grants: which provider each device may reach, and which
 * operator granted it; and the operational devices' certificates their
 * providers revoked. Kept in memory and in an append-only journal file
 * so both survive broker restarts.
 *
 * Journal lines (proto ids, so no spaces inside fields):
 *   epoch <32 lowercase hex digits>
 *   grant <device id> <provider id> <operator id>
 *   revoke <device id> <operator id>
 *   revoke-cert <device id> <provider id> <serial> [<not after>]
 * <serial> is the certificate's serial number in lowercase hex, 2 to 40
 * digits, without leading zero bytes (grants_serial_trim); <not after> the
 * certificate's notAfter in decimal seconds since 1970 (absent: not known).
 * A revoke-cert line is never undone, but it outlives its certificate by
 * GRANTS_REVOCATION_GRACE at most: grants_cert_prune drops it then (a
 * certificate past its notAfter is refused by TLS itself), so the journal
 * does not grow for ever. One without <not after> is kept for ever.
 * Journals without revoke-cert lines, or with lines without <not after>
 * (written before either existed), load as they are; a version that does
 * not know a line skips it.
 *
 * The epoch is the journal's identity: 16 random bytes made when the
 * journal is made (a new broker, or one whose journal was lost) and kept
 * in its first line from then on, so a broker restored from its journal
 * keeps it. A journal without one (written before it existed, or whose
 * epoch line was damaged) gets a new one when it is opened. The services
 * compare it with the one they last brought up to date: a new epoch means
 * a broker that may lack grants and revocations in force.
 *
 * At open the journal is replayed and rewritten compacted (temp file,
 * fsync, rename). A malformed line is skipped and reported, never fatal:
 * a torn last line after a crash must not stop the broker. Changes are
 * appended at once and made durable by grants_sync(), which the plugin
 * calls before it answers the operators and providers concerned.
 *
 * A change is applied in memory only once its whole record is written. A
 * write that stops short (disk full) is cut off back to the last whole
 * record and the change refused (ONR_EIO), so the next record never lands
 * on a fragment. A journal that could not be cut back, or whose sync
 * failed, is rewritten whole from memory before it is used again (every
 * request tries that first); until that succeeds every request is refused
 * with ONR_EIO, and the changes made since the last good sync stay in
 * memory, unconfirmed (the services resend them).
 */
#ifndef ONRAMP_PLUGIN_GRANTS_H
#define ONRAMP_PLUGIN_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct grants;

/* Called for each journal line skipped at open: its number and why. */
typedef void (*grants_skip_cb)(size_t line, const char *why, void *arg);

/*
 * grants_open: load (or create) the journal at `path` (copied). `skipped`
 * may be NULL. Returns ONR_OK with *out set, ONR_EINVAL, ONR_ENOMEM,
 * ONR_ERANDOM (no epoch could be made) or ONR_EIO (unreadable file, or the
 * compacted journal could not be written).
 */
int grants_open(const char *path, grants_skip_cb skipped, void *arg, struct grants **out);

/* Bytes of a journal's epoch. */
#define GRANTS_EPOCH_LEN 16

/* grants_epoch: the journal's epoch (GRANTS_EPOCH_LEN bytes, living as long
 * as `g`). grants_epoch_new: whether grants_open made it (the journal had
 * none) rather than read it. */
const uint8_t *grants_epoch(const struct grants *g);
bool grants_epoch_new(const struct grants *g);

/* grants_close: syncs and frees. Accepts NULL. */
void grants_close(struct grants *g);

/* grants_provider: the provider `dev` may reach, or NULL. The string lives
 * until the next change to that device's grant. */
const char *grants_provider(const struct grants *g, const char *dev);

/* grants_operator: the operator holding `dev`'s grant, or NULL. Lives as
 * grants_provider's answer does. */
const char *grants_operator(const struct grants *g, const char *dev);

/*
 * grants_set: grant `dev` access to `prov`, on behalf of `op` (all copied;
 * a device id and two service ids). A later grant by the same operator
 * replaces its earlier one (the provider may change). A grant held by
 * another operator is never replaced: ONR_EHELD, nothing changes (that
 * operator revokes first). Returns ONR_OK, ONR_EHELD, ONR_EINVAL (bad
 * ids), ONR_ENOMEM or ONR_EIO (journal write failed: nothing changed).
 */
int grants_set(struct grants *g, const char *dev, const char *prov, const char *op);

/*
 * grants_revoke: remove the grant of `dev`, if `op` holds it.
 * Returns ONR_OK, ONR_ENOENT (no grant), ONR_EHELD (another operator's:
 * nothing changes), ONR_EINVAL or ONR_EIO.
 */
int grants_revoke(struct grants *g, const char *dev, const char *op);

/* grants_sync: make appended changes durable (fdatasync; after a failed
 * one, the journal rewritten from memory). ONR_OK when every change made
 * so far is durable, else ONR_EIO (or ONR_ENOMEM). Cheap when nothing
 * changed. */
int grants_sync(struct grants *g);

/* grants_count: devices with a grant. */
size_t grants_count(const struct grants *g);

/* Longest certificate serial number (RFC 5280 4.1.2.2), in bytes. */
#define GRANTS_SERIAL_MAX 20

/*
 * grants_serial_trim: `serial` (borrowed, `*len` bytes) without its
 * leading zero bytes, keeping at least one byte; *len is updated. A serial
 * is a positive integer: with or without the zero byte DER adds before a
 * high bit, it names the same certificate.
 */
const uint8_t *grants_serial_trim(const uint8_t *serial, size_t *len);

/* grants_serial_hex: `serial` (at most GRANTS_SERIAL_MAX bytes, more are
 * cut) as lowercase hex, NUL-terminated, into `out`. */
void grants_serial_hex(const uint8_t *serial, size_t len, char out[2 * GRANTS_SERIAL_MAX + 1]);

/*
 * grants_cert_revoke: record that the certificate with serial `serial`
 * (borrowed, 1..GRANTS_SERIAL_MAX bytes after trimming) issued by provider
 * `prov`'s CA, for device `dev` (both copied), valid until `not_after`
 * (seconds since 1970; 0 if not known), is revoked. Revocations are keyed
 * by provider and serial: they never touch another provider's
 * certificates. Recording one again changes nothing and returns ONR_OK,
 * except that a `not_after` learnt for one recorded without it is
 * recorded. Returns ONR_OK, ONR_EINVAL (bad ids or serial), ONR_ENOMEM or
 * ONR_EIO (journal write failed: nothing changed).
 */
int grants_cert_revoke(struct grants *g, const char *prov, const char *dev,
                       const uint8_t *serial, size_t serial_len, uint64_t not_after);

/* How long a revocation outlives its certificate's notAfter: a day, so a
 * broker clock set back a little never brings a revoked certificate
 * back. */
#define GRANTS_REVOCATION_GRACE 86400

/*
 * grants_cert_prune: if at least `at_least` (1 or more) revocations'
 * certificates expired more than GRANTS_REVOCATION_GRACE before `now`
 * (seconds since 1970), drop them all: the journal is rewritten without
 * them (compacted, as at open), then memory forgets them. Fewer are left
 * for a later call, so a busy broker rewrites its journal only when it
 * saves something worth the write. *dropped (may be NULL) gets how many
 * were dropped. ONR_OK, ONR_EINVAL, ONR_ENOMEM or ONR_EIO (nothing
 * dropped: the journal as it was).
 */
int grants_cert_prune(struct grants *g, uint64_t now, size_t at_least, size_t *dropped);

/* grants_cert_revoked: has provider `prov` revoked its certificate with
 * this serial (trimmed before the lookup)? */
bool grants_cert_revoked(const struct grants *g, const char *prov, const uint8_t *serial,
                         size_t serial_len);

/* grants_cert_revocations: certificates revoked. */
size_t grants_cert_revocations(const struct grants *g);

#endif /* ONRAMP_PLUGIN_GRANTS_H */
