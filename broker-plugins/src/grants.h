/*
 * Network-access grants: which provider each device may reach, and which
 * operator granted it. Kept in memory and in an append-only journal file
 * so grants survive broker restarts.
 *
 * Journal lines (proto ids, so no spaces inside fields):
 *   grant <device id> <provider id> <operator id>
 *   revoke <device id> <operator id>
 * At open the journal is replayed and rewritten compacted (temp file,
 * fsync, rename). A malformed line is skipped and reported, never fatal:
 * a torn last line after a crash must not stop the broker. Changes are
 * appended at once and made durable by grants_sync(), which the plugin
 * calls before it answers the operators concerned.
 */
#ifndef ONRAMP_PLUGIN_GRANTS_H
#define ONRAMP_PLUGIN_GRANTS_H

#include <stddef.h>

struct grants;

/* Called for each journal line skipped at open: its number and why. */
typedef void (*grants_skip_cb)(size_t line, const char *why, void *arg);

/*
 * grants_open: load (or create) the journal at `path` (copied). `skipped`
 * may be NULL. Returns ONR_OK with *out set, ONR_EINVAL, ONR_ENOMEM or
 * ONR_EIO (unreadable file, or the compacted journal could not be written).
 */
int grants_open(const char *path, grants_skip_cb skipped, void *arg, struct grants **out);

/* grants_close: syncs and frees. Accepts NULL. */
void grants_close(struct grants *g);

/* grants_provider: the provider `dev` may reach, or NULL. The string lives
 * until the next change to that device's grant. */
const char *grants_provider(const struct grants *g, const char *dev);

/*
 * grants_set: grant `dev` access to `prov`, on behalf of `op` (all copied;
 * a device id and two service ids). A later grant replaces an earlier one.
 * Returns ONR_OK, ONR_EINVAL (bad ids), ONR_ENOMEM or ONR_EIO (journal
 * write failed: nothing changed).
 */
int grants_set(struct grants *g, const char *dev, const char *prov, const char *op);

/*
 * grants_revoke: remove the grant of `dev`, if `op` made it.
 * Returns ONR_OK, ONR_ENOENT (no grant), ONR_EDENIED (another operator's),
 * ONR_EINVAL or ONR_EIO.
 */
int grants_revoke(struct grants *g, const char *dev, const char *op);

/* grants_sync: make appended changes durable (fdatasync). ONR_OK or
 * ONR_EIO. Cheap when nothing changed. */
int grants_sync(struct grants *g);

/* grants_count: devices with a grant. */
size_t grants_count(const struct grants *g);

#endif /* ONRAMP_PLUGIN_GRANTS_H */
